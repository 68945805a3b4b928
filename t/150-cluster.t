# Redis Cluster (issue 11): persona_redis seeds... cluster.  A real cluster
# of 3 masters and 3 replicas (scripts/redis-cluster.sh, ~2 s) starts when
# this file loads and stops at its end.  Covered: lookups of ids on every
# master; a slot moved under nginx (the MOVED path: the lookup follows it,
# the map learns it); a slot being migrated (the ASK path: ASKING, then
# the lookup on the importing node); a replica promoted by CLUSTER
# FAILOVER; cap counters sharing the profile's slot through the hash tag;
# tracking writes landing on the right node; a dead seed (status error,
# the page still served); the topology refresh metric; nginx -t errors;
# under load (4 clients): slot moves and redis-cli --cluster reshard, then
# two failovers, with every response 2xx and every lookup ok; a master
# killed and its replica promoted by the cluster; lookups before any slot
# map (a seed's MOVED teaches the route).
use Test::Nginx::Socket 'no_plan';
use IO::Socket::INET;
use File::Temp ();
use File::Basename ();
use Cwd ();
use Time::HiRes ();
use POSIX ();

my $owner = $$;
my $root = Cwd::abs_path(File::Basename::dirname(__FILE__) . '/..');
our $cdir = File::Temp::tempdir('persona-cluster.XXXXXX', TMPDIR => 1,
                               CLEANUP => 1);

my $ports = `MASTERS=3 REPLICAS=1 "$root/scripts/redis-cluster.sh" start "$cdir" 2>&1`;
die "cannot start a redis cluster: $ports" if $? != 0;
our @Ports = split ' ', (split /\n/, $ports)[-1];

END {
    if ($$ == $owner && $cdir) {
        system("$root/scripts/redis-cluster.sh", 'stop', $cdir);
    }
}

$ENV{TEST_NGINX_CLUSTER_SEED1} = $Ports[0];
$ENV{TEST_NGINX_CLUSTER_SEED2} = $Ports[1];

# RESP to one node (no redirects followed)
sub rreply {
    my ($s) = @_;
    my $line = <$s>;
    die "redis: no reply\n" unless defined $line;
    $line =~ s/\r\n\z//;
    my ($t, $v) = (substr($line, 0, 1), substr($line, 1));
    return $v if $t eq '+' || $t eq ':';
    return "(error) $v" if $t eq '-';
    if ($t eq '$') {
        return undef if $v < 0;
        my $buf = '';
        read($s, $buf, $v + 2) == $v + 2 or die "redis: short read\n";
        return substr($buf, 0, $v);
    }
    if ($t eq '*') {
        return undef if $v < 0;
        return [ map { rreply($s) } 1 .. $v ];
    }
    die "redis: bad reply \"$line\"\n";
}

sub rc {
    my ($port, @args) = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port)
        or die "redis: cannot connect to $port: $!\n";
    print $s '*' . @args . "\r\n"
             . join('', map { '$' . length($_) . "\r\n$_\r\n" } @args);
    my $r = rreply($s);
    close $s;
    return $r;
}

# a node that answers (TEST 14 kills one)
sub live {
    for my $port (@Ports) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $port) or next;
        close $s;
        return $port;
    }
    die "no node answers\n";
}

# the port of the master serving key's slot now
sub owner {
    my ($key) = @_;
    my $slot = rc(live(), 'CLUSTER', 'KEYSLOT', $key);
    for my $range (@{ rc(live(), 'CLUSTER', 'SLOTS') }) {
        return $range->[2][1] if $slot >= $range->[0] && $slot <= $range->[1];
    }
    die "no node serves slot $slot\n";
}

sub slot { rc(live(), 'CLUSTER', 'KEYSLOT', $_[0]) }
sub myid { rc($_[0], 'CLUSTER', 'MYID') }
sub pkey { "persona:{$_[0]}:profile" }

# a master other than $port
sub other_master {
    my ($port) = @_;
    for my $range (@{ rc(live(), 'CLUSTER', 'SLOTS') }) {
        return $range->[2][1] if $range->[2][1] != $port;
    }
    die "one master only\n";
}

# ids whose profile keys live on each master, then spare ones per master
our (%ByMaster, @Ids);
for my $i (0 .. 500) {
    my $id = "u$i";
    my $m = owner(pkey($id));
    push @{ $ByMaster{$m} }, $id;
}
die "not 3 masters\n" unless keys %ByMaster == 3;
our @masters = sort keys %ByMaster;

# ids for: [0..2] one per master, [3] MOVED, [4] ASK, [5] failover,
# [6] caps, [7] tracking; each test's id is in its own slot
@Ids = map { $ByMaster{$_}[0] } @masters;
push @Ids, $ByMaster{ $masters[0] }[1], $ByMaster{ $masters[1] }[1],
           $ByMaster{ $masters[2] }[1], $ByMaster{ $masters[0] }[2],
           $ByMaster{ $masters[1] }[2];

for my $n (0 .. $#Ids) {
    my $key = pkey($Ids[$n]);
    rc(owner($key), 'HSET', $key, 'tier', "gold$n");
}

# for the load tests: 10 ids on each master
our @LoadIds = map { @{ $ByMaster{$_} }[3 .. 12] } @masters;
for my $id (@LoadIds) {
    rc(owner(pkey($id)), 'HSET', pkey($id), 'tier', "t-$id");
}

our $Rules = <<'JSON';
{
  "default": "everyone",
  "experiences": { "everyone": {} },
  "experiments": [
    { "name": "hero", "salt": "s",
      "variants": [
        { "name": "control", "weight": 0 },
        { "name": "urgency", "weight": 100 } ],
      "cap": { "max": 2, "per": "1h" } }
  ]
}
JSON

# moves slot from the master serving it to another one, with its keys
sub move_slot {
    my ($key, $finish) = @_;
    my $slot = slot($key);
    my $from = owner($key);
    my $to = other_master($from);
    rc($to, 'CLUSTER', 'SETSLOT', $slot, 'IMPORTING', myid($from));
    rc($from, 'CLUSTER', 'SETSLOT', $slot, 'MIGRATING', myid($to));
    my $r = rc($from, 'MIGRATE', '127.0.0.1', $to, $key, 0, 5000);
    die "MIGRATE: $r\n" unless $r eq 'OK';
    if ($finish) {
        # the importing node first, then the migrating one, then the rest
        rc($_, 'CLUSTER', 'SETSLOT', $slot, 'NODE', myid($to))
            for $to, $from,
                grep { $_ != $to && $_ != $from && is_master($_) } @Ports;
    }
    return ($slot, $to);
}

# promotes the replica of the master serving key, waits until it serves
sub failover {
    my ($key) = @_;
    my $master = owner($key);
    my $id = myid($master);
    my ($replica) = map { /127\.0\.0\.1:(\d+)/ ? $1 : () }
                    @{ rc($master, 'CLUSTER', 'REPLICAS', $id) };
    die "no replica of $master\n" unless $replica;
    my $r = rc($replica, 'CLUSTER', 'FAILOVER');
    die "CLUSTER FAILOVER: $r\n" unless $r eq 'OK';
    for (1 .. 100) {
        last if rc($replica, 'ROLE')->[0] eq 'master'
                && owner($key) == $replica;
        Time::HiRes::sleep(0.05);
    }
    die "failover did not happen\n" unless owner($key) == $replica;
    return $replica;
}

# waits until nginx (one worker) has loaded a slot map, as
# persona_redis_topology_refreshes_total says
sub wait_map {
    for (1 .. 200) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $ENV{TEST_NGINX_PORT});
        if ($s) {
            print $s "GET /metrics HTTP/1.0\r\nHost: localhost\r\n\r\n";
            local $/;
            my $page = <$s> // '';
            return if $page =~ /^persona_redis_topology_refreshes_total [1-9]/m;
        }
        Time::HiRes::sleep(0.05);
    }
    die "nginx loaded no slot map\n";
}

# $clients loops of lookups of @LoadIds against nginx until $work->()
# returns: { requests, non2xx, notok, bad (the first thing wrong) }
sub under_load {
    my ($work, $clients) = @_;
    my $dir = File::Temp::tempdir(CLEANUP => 1);
    my @kids;
    for my $k (1 .. $clients) {
        my $pid = fork;
        die "fork: $!\n" unless defined $pid;
        if ($pid == 0) {
            my ($n, $non2xx, $notok, $bad) = (0, 0, 0, '');
            my $i = $k;
            until (-e "$dir/stop") {
                my $id = $LoadIds[$i++ % @LoadIds];
                my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                    PeerPort => $ENV{TEST_NGINX_PORT}) or next;
                print $s "GET /t?id=$id HTTP/1.0\r\nHost: localhost\r\n\r\n";
                local $/;
                my $res = <$s> // '';
                $n++;
                if ($res !~ m{\AHTTP/1\.\d 2\d\d }) {
                    $non2xx++;
                    $bad ||= (split /\r\n/, $res)[0] // 'no response';
                } elsif ($res !~ /\r\n\r\nok\|t-\Q$id\E\n\z/) {
                    $notok++;
                    $bad ||= "$id: " . ((split /\r\n\r\n/, $res)[1] // '');
                }
            }
            $bad =~ s/\s+/ /g;
            open my $f, '>', "$dir/$k" or POSIX::_exit(1);
            print $f "$n $non2xx $notok $bad";
            close $f;
            POSIX::_exit(0);
        }
        push @kids, $pid;
    }
    Time::HiRes::sleep(0.2);
    my $ok = eval { $work->(); 1 };
    my $err = $@;
    Time::HiRes::sleep(0.2);
    open my $f, '>', "$dir/stop" or die "$dir/stop: $!\n";
    close $f;
    waitpid $_, 0 for @kids;
    die $err unless $ok;
    my %r = (requests => 0, non2xx => 0, notok => 0, bad => '');
    for my $k (1 .. $clients) {
        open my $f, '<', "$dir/$k" or die "client $k: no results\n";
        my ($n, $x, $y, $bad) = split ' ', scalar(<$f>), 4;
        $r{requests} += $n;
        $r{non2xx} += $x;
        $r{notok} += $y;
        $r{bad} ||= $bad // '';
    }
    return \%r;
}

sub is_master { rc($_[0], 'ROLE')->[0] eq 'master' }

# closes the slots left open (migrating/importing, as TEST 6 leaves
# one): each goes to the master holding its keys
sub cluster_settle {
    my @m = grep { is_master($_) } @Ports;
    for my $port (@m) {
        my $nodes = rc($port, 'CLUSTER', 'NODES');
        while ($nodes =~ /\[(\d+)-[<>]-/g) {
            my $slot = $1;
            my ($to) = grep {
                rc($_, 'CLUSTER', 'COUNTKEYSINSLOT', $slot) > 0 } @m;
            $to //= $port;
            rc($_, 'CLUSTER', 'SETSLOT', $slot, 'NODE', myid($to)) for @m;
        }
    }
    # until the nodes agree (gossip); $? is not reliable here
    my $out;
    for (1 .. 100) {
        $out = `redis-cli --cluster check 127.0.0.1:$m[0] 2>&1`;
        last if $out =~ /All 16384 slots covered/
                && $out !~ /\[(ERR|WARNING)\]/;
        Time::HiRes::sleep(0.1);
    }
    (my $one = $out) =~ s/\e\[[0-9;]*m//g; $one =~ s/\n/ | /g;
    die "cluster not settled: $one\n"
        if $out !~ /All 16384 slots covered/ || $out =~ /\[(ERR|WARNING)\]/;
}

# a fake seed on a free port: every command it gets (CLUSTER SLOTS too)
# is answered "-MOVED <slot of key> 127.0.0.1:<its master now>"; it lives
# until this file ends
our @Mocks;
END { kill 'KILL', @Mocks if $$ == $owner && @Mocks }

sub moved_seed {
    my ($key) = @_;
    my $l = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Listen => 16, ReuseAddr => 1)
        or die "mock: $!\n";
    my $pid = fork;
    die "fork: $!\n" unless defined $pid;
    if ($pid) {
        push @Mocks, $pid;
        return $l->sockport;
    }
    require IO::Select;
    my $sel = IO::Select->new($l);
    my %buf;
    for (;;) {
        for my $s ($sel->can_read) {
            if ($s == $l) {
                my $c = $l->accept or next;
                $sel->add($c);
                $buf{$c} = '';
                next;
            }
            my $in;
            if (!sysread($s, $in, 65536)) {
                $sel->remove($s);
                delete $buf{$s};
                close $s;
                next;
            }
            $buf{$s} .= $in;
            # complete commands: arrays of bulk strings
            while ($buf{$s} =~ /\A\*(\d+)\r\n/) {
                my ($argc, $pos) = ($1, length $&);
                my $whole = 1;
                for (1 .. $argc) {
                    if (substr($buf{$s}, $pos) !~ /\A\$(\d+)\r\n/) {
                        $whole = 0;
                        last;
                    }
                    $pos += length($&) + $1 + 2;
                }
                last if !$whole || $pos > length $buf{$s};
                substr($buf{$s}, 0, $pos, '');
                my ($slot, $to) = (slot($key), owner($key));
                syswrite($s, "-MOVED $slot 127.0.0.1:$to\r\n");
            }
        }
    }
}

add_block_preprocessor(sub {
    my $block = shift;

    my $ua = "User-Agent: Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0";
    $block->set_value("more_headers", "$ua\n") if !defined $block->more_headers;

    if (!defined $block->http_config) {
        $block->set_value("http_config", <<'CONF');
    persona_redis 127.0.0.1:$TEST_NGINX_CLUSTER_SEED1 127.0.0.1:$TEST_NGINX_CLUSTER_SEED2 cluster timeout=2s;
CONF
    }

    $block->set_value("user_files", ">>> rules.json\n$Rules")
        if !defined $block->user_files;

    if (!defined $block->config) {
        $block->set_value("config", <<'CONF');
    persona_rules ../html/rules.json;
    location = /t {
        persona on;
        persona_id $arg_id;
        persona_profile_key "persona:{$persona_id}:profile";
        return 200 "$persona_status|$persona_profile_tier\n";
    }
    location = /metrics {
        persona_metrics;
    }
CONF
    }
});

# nginx -t on a configuration: its output must match re
sub nginx_t {
    my ($http, $re, $name) = @_;
    my $dir = File::Temp::tempdir(CLEANUP => 1);
    mkdir "$dir/$_" for qw(conf logs);
    my $load = join '', map { "load_module $_;\n" }
                        split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} || '');
    open my $c, '>', "$dir/conf/nginx.conf" or die $!;
    print $c "$load\nerror_log logs/error.log;\npid logs/nginx.pid;\n"
             . "events { worker_connections 64; }\nhttp { $http }\n";
    close $c;
    my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
    my $out = `$nginx -p $dir/ -c conf/nginx.conf -t 2>&1`;
    if ($re) {
        Test::More::isnt($? >> 8, 0, "$name: nginx -t fails");
        Test::More::like($out, $re, "$name: the message");
    } else {
        Test::More::is($? >> 8, 0, "$name: nginx -t passes") or Test::More::diag($out);
    }
}

nginx_t('persona_redis 127.0.0.1:1 127.0.0.1:2;',
        qr/"persona_redis": several addresses \("127\.0\.0\.1:1", "127\.0\.0\.1:2"\) need "cluster"/,
        'several addresses without cluster');
nginx_t('persona_redis 127.0.0.1:1 127.0.0.1:2 cluster db=2;',
        qr/"persona_redis": a Redis Cluster has no database but 0/,
        'cluster with a database');
nginx_t('persona_redis 127.0.0.1:1 cluster;', undef, 'one seed');
nginx_t('persona_redis 127.0.0.1:1 [::1]:2 127.0.0.1:3 cluster password=s pool=4;',
        undef, 'three seeds and options');

no_shuffle();
run_tests();

__DATA__

=== TEST 1: an id on the first master
--- request eval
"GET /t?id=$::Ids[0]"
--- response_body
ok|gold0
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 2: an id on the second master
--- request eval
"GET /t?id=$::Ids[1]"
--- response_body
ok|gold1
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 3: an id on the third master, with the map loaded
--- init
main::wait_map();
--- request eval
"GET /t?id=$::Ids[2]"
--- response_body
ok|gold2
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 4: no profile on any node: a miss
--- request
GET /t?id=nobody-here
--- response_body
miss|
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 5: MOVED: the slot moved to another master after nginx loaded the map; the lookup follows, the map learns
--- log_level: info
--- init
main::wait_map();
main::move_slot(main::pkey($::Ids[3]), 1);
--- request eval
"GET /t?id=$::Ids[3]"
--- response_body
ok|gold3
--- error_log eval
qr/persona: redis cluster slot \d+ moved to 127\.0\.0\.1:\d+/
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 6: ASK: the slot is being migrated, its key is on the importing node already
--- init
main::wait_map();
main::move_slot(main::pkey($::Ids[4]), 0);
--- request eval
"GET /t?id=$::Ids[4]"
--- response_body
ok|gold4
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 7: a replica promoted (CLUSTER FAILOVER) after nginx loaded the map: the old master redirects, the lookup follows
--- log_level: info
--- init
main::wait_map();
main::failover(main::pkey($::Ids[5]));
--- request eval
"GET /t?id=$::Ids[5]"
--- response_body
ok|gold5
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 8: cap counters share the profile's slot (hash tag) and are read with it
--- init
my $key = main::pkey($::Ids[6]) . ':cap:hero';
main::rc(main::owner($key), 'SET', $key, 5, 'EX', 60);
--- config
    persona_rules ../html/rules.json;
    location = /t {
        persona on;
        persona_id $arg_id;
        persona_profile_key "persona:{$persona_id}:profile";
        return 200 "$persona_status|$persona_profile_tier|$persona_variants\n";
    }
--- request eval
"GET /t?id=$::Ids[6]"
--- response_body
ok|gold6|hero=urgency-capped
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 9: tracking writes (profile, cap counter, event stream in another slot) reach their nodes
--- config
    persona_rules ../html/rules.json;
    location = /t {
        persona on;
        persona_track on;
        persona_id $arg_id;
        persona_profile_key "persona:{$persona_id}:profile";
        return 200 "$persona_status|$persona_variants\n";
    }
    location = /wait {
        return 200 "waited\n";
    }
--- pipelined_requests eval
["GET /t?id=$::Ids[7]", "GET /t?id=$::Ids[7]"]
--- response_body eval
["ok|hero=urgency\n", "ok|hero=urgency\n"]
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 10: what TEST 9 wrote, read from the nodes
--- init
Time::HiRes::sleep(0.2);
my $key = main::pkey($::Ids[7]);
my $visits = main::rc(main::owner($key), 'HGET', $key, 'visits');
my $cap = main::rc(main::owner("$key:cap:hero"), 'GET', "$key:cap:hero");
my $events = main::rc(main::owner('persona:events'), 'XLEN', 'persona:events');
Test::More::is("$visits|$cap", "2|2", "TEST 10: visits and cap counter");
Test::More::cmp_ok($events, '>=', 2, "TEST 10: events");
--- request
GET /metrics
--- response_body_like
persona_redis_topology_refreshes_total [1-9]
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 11: no seed answers: status error, the page is served
--- http_config
    persona_redis 127.0.0.1:1 cluster timeout=300ms max_fails=0;
--- request
GET /t?id=u1
--- response_body
error|
--- no_error_log
[alert]
[emerg]



=== TEST 12: under load (4 clients): the slots of 10 load ids moved one by one (ASK while migrating, MOVED after), then redis-cli --cluster reshard of 300 slots: every response 2xx, every lookup ok
--- init
main::wait_map();
main::cluster_settle();
my $r = main::under_load(sub {
    for my $id (@main::LoadIds[0 .. 9]) {
        main::move_slot(main::pkey($id), 1);
        Time::HiRes::sleep(0.02);
    }
    my @m = grep { main::is_master($_) } @main::Ports;
    my ($from, $to) = @m[0, 1];
    my $out = `redis-cli --cluster reshard 127.0.0.1:$from --cluster-from @{[main::myid($from)]} --cluster-to @{[main::myid($to)]} --cluster-slots 300 --cluster-yes 2>&1`;
    die "reshard failed: $out\n"
        if $out =~ /\[ERR\]/ || $out !~ /Moving slot/;
}, 4);
Test::More::cmp_ok($r->{requests}, '>', 50, "TEST 12: requests made ($r->{requests})");
Test::More::is($r->{non2xx}, 0, "TEST 12: no non-2xx");
Test::More::is($r->{notok}, 0, "TEST 12: every lookup ok") or Test::More::diag("first bad: $r->{bad}");
--- request
GET /metrics
--- response_body_like
(?s)persona_redis_topology_refreshes_total ([2-9]|\d\d)\n.*persona_redis_node_lookups_total\{node="127\.0\.0\.1:\d+"\} [1-9]\d*\n.*persona_redis_redirects_total\{node="127\.0\.0\.1:\d+",kind="(moved|ask)"\} [1-9]
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 13: under load: a replica promoted (CLUSTER FAILOVER) for two masters in turn: every response 2xx, every lookup ok
--- init
main::wait_map();
my $r = main::under_load(sub {
    main::failover(main::pkey($main::LoadIds[10]));
    main::failover(main::pkey($main::LoadIds[25]));
}, 4);
Test::More::cmp_ok($r->{requests}, '>', 50, "TEST 13: requests made ($r->{requests})");
Test::More::is($r->{non2xx}, 0, "TEST 13: no non-2xx");
Test::More::is($r->{notok}, 0, "TEST 13: every lookup ok") or Test::More::diag("first bad: $r->{bad}");
--- request
GET /metrics
--- response_body_like
persona_redis_topology_refreshes_total ([2-9]|\d\d)
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 14: a master killed, its replica promoted by the cluster: the first lookup sent to the dead node fails open (status error) and gets the map refreshed; the next ones are served by the new master
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_CLUSTER_SEED1 127.0.0.1:$TEST_NGINX_CLUSTER_SEED2 cluster timeout=2s max_fails=0;
--- init
main::wait_map();
my $key = main::pkey($main::LoadIds[5]);
my $master = main::owner($key);
my $id = main::myid($master);
my $replica;
for (1 .. 100) {
    ($replica) = map { /127\.0\.0\.1:(\d+)/ ? $1 : () }
                 @{ main::rc($master, 'CLUSTER', 'REPLICAS', $id) };
    last if $replica;
    Time::HiRes::sleep(0.05);
}
die "no replica of $master\n" unless $replica;
open my $p, '<', "$main::cdir/$master/redis.pid" or die "pid of $master: $!\n";
kill 'TERM', scalar(<$p>) + 0;
for (1 .. 200) {
    last if main::rc($replica, 'ROLE')->[0] eq 'master';
    Time::HiRes::sleep(0.05);
}
die "no promotion\n" unless main::rc($replica, 'ROLE')->[0] eq 'master';
# until every live node knows (gossip)
my $slot = main::slot($key);
my @live = grep { $_ != $master } @main::Ports;
for (1 .. 100) {
    last unless grep {
        my $p = $_;
        !grep { $slot >= $_->[0] && $slot <= $_->[1] && $_->[2][1] == $replica }
              @{ main::rc($p, 'CLUSTER', 'SLOTS') } } @live;
    Time::HiRes::sleep(0.05);
}
# lookups to the dead node fail open (refused) and refresh the map, until
# a map names the new master (the nodes learn the promotion by gossip)
my ($served, $ok, @seen) = (0, 0);
for (1 .. 100) {
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $ENV{TEST_NGINX_PORT}) or die;
    print $s "GET /t?id=$main::LoadIds[5] HTTP/1.0\r\nHost: localhost\r\n\r\n";
    local $/;
    my $res = <$s> // '';
    $served++ if $res =~ m{\AHTTP/1\.1 200 .*\r\n\r\n(ok|error)\|}s;
    push @seen, (split /\r\n\r\n/, $res)[1] // $res;
    $ok++, last if $res =~ m{\r\n\r\nok\|};
    Time::HiRes::sleep(0.05);
}
Test::More::ok($ok && $served == @seen, "TEST 14: served all along, ok again")
    or Test::More::diag("responses: @seen");
--- request eval
"GET /t?id=$::LoadIds[5]"
--- response_body eval
"ok|t-$::LoadIds[5]\n"
--- no_error_log
[alert]
[emerg]



=== TEST 15: before any slot map: lookups go to a seed, whose MOVED teaches the route (the seed here answers every command, CLUSTER SLOTS too, with a MOVED)
--- http_config eval
my $port = main::moved_seed(main::pkey($::Ids[0]));
"    persona_redis 127.0.0.1:$port cluster timeout=2s;\n"
--- log_level: info
--- init
Time::HiRes::sleep(0.2);
--- request eval
"GET /t?id=$::Ids[0]"
--- response_body
ok|gold0
--- error_log eval
[qr/persona: redis 127\.0\.0\.1:\d+ refused CLUSTER SLOTS: "MOVED/,
 qr/persona: redis cluster slot \d+ moved to 127\.0\.0\.1:\d+/]
--- no_error_log
[error]
[alert]
[emerg]
