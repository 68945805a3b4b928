# Pipelining under load (issue 10): 500 concurrent lookups through a
# worker with pool=2 are all answered on at most 2 connections, and Redis
# reads them in far fewer reads than commands.  A page of 500 SSI
# includes, each proxied back to nginx, makes the concurrent requests
# (a subrequest never looks up).  Redis's own counters are read before
# and after the block.
#
# nginx accepts one connection per pass of its event loop here
# (multi_accept off), so on loopback each lookup would leave alone and be
# answered before the next one comes.  To see the queue a busy worker
# has, a script keeps Redis busy for 1.5 s as the block starts: meanwhile
# the lookups pile up on the (at most 2) connections, and Redis reads them
# in a few reads.  (The client before pipelining sent one lookup per
# connection at a time: as many reads as commands.)
use Test::Nginx::Socket 'no_plan';
use IO::Socket::INET;
use IO::Select;
use Time::HiRes ();

$ENV{TEST_NGINX_REDIS_PORT} ||= 6379;

my $cli = "redis-cli -p $ENV{TEST_NGINX_REDIS_PORT}";

system("$cli < t/data/profiles.redis > /dev/null") == 0
    or die "cannot load t/data/profiles.redis into Redis on port "
           . "$ENV{TEST_NGINX_REDIS_PORT}\n";

sub redis_info {
    my $info = `$cli INFO all`;
    my %v;
    $v{conns} = $info =~ /^total_connections_received:(\d+)/m ? $1 : undef;
    $v{reads} = $info =~ /^total_reads_processed:(\d+)/m ? $1 : undef;
    $v{hgetall} = $info =~ /^cmdstat_hgetall:calls=(\d+)/m ? $1 : 0;
    $v{ping} = $info =~ /^cmdstat_ping:calls=(\d+)/m ? $1 : 0;
    defined $v{conns} && defined $v{reads}
        or die "no total_connections_received or total_reads_processed "
               . "in redis INFO\n";
    return \%v;
}

our $N = 500;

# Waits until Redis runs the busy script: a PING is then not answered
# at once.  Each PING is a connection and a read for Redis's counters.
sub wait_busy {
    for (1 .. 200) {
        my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => $ENV{TEST_NGINX_REDIS_PORT})
            or return;
        syswrite($s, "PING\r\n");
        return unless IO::Select->new($s)->can_read(0.05);
        sysread($s, my $pong, 64);
        close $s;
        Time::HiRes::sleep(0.005);
    }
}

# 500 clients and 500 upstream connections, at once
worker_connections(2048);

my $before = redis_info();

no_long_string();
no_shuffle();
run_tests();

my $after = redis_info();

# the INFO call after the block, the busy script and the PINGs of
# wait_busy() are connections too
my $pings = $after->{ping} - $before->{ping};
my $conns = $after->{conns} - $before->{conns} - 2 - $pings;
ok($conns >= 1 && $conns <= 2,
   "pool=2: nginx opened at most 2 connections to Redis (got $conns)");

my $hgetall = $after->{hgetall} - $before->{hgetall};
ok($hgetall >= $N, "Redis ran the $N lookups (got $hgetall HGETALL)");

# the INFO call after the block, the busy script, the PINGs: one read each
my $reads = $after->{reads} - $before->{reads} - 2 - $pings;
SKIP: {
    # nginx under valgrind is too slow to have its lookups pile up while
    # Redis is busy: the ratio is timing, not correctness
    skip "timing: nginx runs under valgrind", 1
        if $ENV{TEST_NGINX_USE_VALGRIND};
    ok($reads < $hgetall / 10,
       "pipelined: $hgetall commands came in $reads reads");
}
diag("$N lookups: $conns connections, $hgetall commands, $reads reads");

__DATA__

=== TEST 1: 500 concurrent lookups, pool=2: all answered, at most 2 connections
--- init
system(qq{redis-cli -p $ENV{TEST_NGINX_REDIS_PORT} EVAL "local s = redis.call('TIME') local n = 0 while n < 100000000 do local t = redis.call('TIME') n = n + 1 if (t[1] - s[1]) * 1000000 + (t[2] - s[2]) > 1500000 then break end end return n" 0 > /dev/null &});
main::wait_busy();
--- main_config
    worker_rlimit_nofile 8192;
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT pool=2 timeout=10s;
--- config
    location = /fan.html {
        ssi on;
    }
    location = /fan {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/p;
        proxy_set_header Cookie "persona_id=alice";
    }
    location = /p {
        persona on;
        access_log off;
        return 200 "$persona_status|$persona_segment ";
    }
--- user_files eval
">>> fan.html\n"
. CORE::join('', map { "<!--# include virtual=\"/fan?$_\" -->" } 1 .. $main::N)
. "\n"
--- request
GET /fan.html
--- response_body eval
"ok|vip " x $main::N . "\n"
--- grep_error_log eval: qr/persona redis: new connection/
--- grep_error_log_out eval: qr/\A(?:persona redis: new connection\n){1,2}\z/
--- timeout: 20
--- no_error_log
[error]
[alert]
[crit]
