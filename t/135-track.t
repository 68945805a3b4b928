# Tracking (issue 9): with persona_track on, after the response, hash
# profiles get visits, last_seen and first/last touch UTM fields, and one
# exposure event is appended to the persona_events stream, field by field
# as README "Tracking" lists.  Nothing is written for bots, prefetch
# requests, Sec-GPC: 1 (persona_respect_gpc on) or anonymous visitors;
# new visitors (id issued now) are tracked.  A Redis that is down or
# frozen never affects the page.
use Test::Nginx::Socket 'no_plan';
use IO::Socket::INET;
use File::Temp ();

$ENV{TEST_NGINX_REDIS_PORT} ||= 6379;

# Redis over RESP, for the blocks that read back what nginx wrote: a block
# with "--- redis_init" runs those commands (one a line) before its
# request; a block with "--- redis_read" gets, as its response, what those
# commands return (served from html/redis.txt), after tracking writes
# have had a moment to land.
sub redis_reply {
    my ($s) = @_;
    my $line = <$s>;
    die "redis: no reply\n" unless defined $line;
    $line =~ s/\r\n\z//;
    my ($t, $v) = (substr($line, 0, 1), substr($line, 1));
    return $v if $t eq '+' || $t eq ':';
    return "(error) $v" if $t eq '-';
    if ($t eq '$') {
        return '(nil)' if $v < 0;
        my $buf = '';
        read($s, $buf, $v + 2) == $v + 2 or die "redis: short read\n";
        return substr($buf, 0, $v);
    }
    if ($t eq '*') {
        return '(nil)' if $v < 0;
        return [ map { redis_reply($s) } 1 .. $v ];
    }
    die "redis: bad reply \"$line\"\n";
}

sub redis_cmd {
    my @args = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $ENV{TEST_NGINX_REDIS_PORT})
        or die "redis: cannot connect: $!\n";
    print $s '*' . @args . "\r\n"
             . join('', map { '$' . length($_) . "\r\n$_\r\n" } @args);
    my $r = redis_reply($s);
    close $s;
    return $r;
}

# arrays flattened: one line per element, nested ones joined by spaces
sub redis_text {
    my ($r) = @_;
    return "$r\n" unless ref $r;
    return join '', map {
        ref $_ ? join(' ', map { ref $_ ? join(' ', @$_) : $_ } @$_) . "\n"
               : "$_\n" } @$r;
}

sub redis_lines {
    my ($text) = @_;
    return map { [ split ' ', $_ ] } grep { /\S/ } split /\n/, $text;
}

# A Redis that accepts connections and never answers (the kernel
# completes the handshakes; nothing ever reads).
my $frozen = IO::Socket::INET->new(Listen => 64, LocalAddr => '127.0.0.1',
                                   LocalPort => 0, ReuseAddr => 1)
    or die "cannot listen: $!\n";
$ENV{TEST_NGINX_FROZEN_PORT} = $frozen->sockport;

our $Rules = <<'JSON';
{
  "segments": [
    { "name": "vip", "when": { "profile.tier": "gold" } },
    { "name": "news", "when": { "arg.utm_source": "news" } }
  ],
  "default": "everyone",
  "experiences": {
    "everyone": { "landing": { "/land": "/lp" } }
  },
  "experiments": [
    { "name": "hero", "salt": "s",
      "variants": [ { "name": "control", "weight": 0 },
                    { "name": "urgency", "weight": 100 } ] }
  ]
}
JSON

add_block_preprocessor(sub {
    my $block = shift;

    # a browser: an empty User-Agent is a bot
    my $ua = "User-Agent: Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0";
    my $mh = $block->more_headers;
    if (!defined $mh) {
        $block->set_value("more_headers", "$ua\n");
    } elsif ($mh !~ /^User-Agent:/mi) {
        $block->set_value("more_headers", "$mh\n$ua\n");
    }

    if (defined $block->redis_init) {
        redis_cmd(@$_) for redis_lines($block->redis_init);
    }

    my $files = ">>> rules.json\n$Rules";

    if (defined $block->redis_read) {
        select(undef, undef, undef, 0.3);
        my $text = join '', map { redis_text(redis_cmd(@$_)) }
                                redis_lines($block->redis_read);
        # stream entry ids and times vary
        $text =~ s/^\d+-\d+ //mg;
        $text =~ s/ ts \d{13}\b/ ts <ms>/g;
        $files .= ">>> redis.txt\n$text";
        $block->set_value("request", "GET /redis.txt");
    }

    if (!defined $block->http_config) {
        $block->set_value("http_config", <<'HTTP');
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=2s;
    persona_events persona:t135 maxlen=1000;
HTTP
    }

    $block->set_value("user_files", $files) if !defined $block->user_files;

    if (!defined $block->config) {
        $block->set_value("config", <<'CONF');
    persona_rules ../html/rules.json;
    location / {
        persona on;
        persona_track on;
        persona_id $arg_id;
        return 200 "$persona_segment|$persona_status\n";
    }
    location = /lp {
        return 200 "landed\n";
    }
    location = /anon {
        persona on;
        persona_track on;
        return 200 "$persona_status\n";
    }
    location = /json {
        persona on;
        persona_track on;
        persona_id $arg_id;
        persona_profile_format json;
        persona_profile_key persona:json:$persona_id;
        return 200 "$persona_status\n";
    }
    location = /off {
        persona on;
        persona_id $arg_id;
        return 200 "$persona_status\n";
    }
    location = /redis.txt {
        default_type text/plain;
    }
CONF
    }
});

# nginx -t on an http block (configuration errors go to stderr, which
# Test::Nginx's must_die cannot read)
sub nginx_t_http {
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
    if (defined $re) {
        Test::More::isnt($? >> 8, 0, "$name: nginx -t fails");
        Test::More::like($out, $re, "$name: the message");
    } else {
        Test::More::is($? >> 8, 0, "$name: nginx -t passes") or Test::More::diag($out);
    }
}

nginx_t_http('persona_redis 127.0.0.1:1; persona_events s maxlen=0;',
             qr/persona_events: invalid maxlen "maxlen=0"/, 'maxlen=0');
nginx_t_http('persona_redis 127.0.0.1:1; persona_events s size=10;',
             qr/persona_events: invalid parameter "size=10", expected "maxlen=N"/,
             'an unknown parameter');
nginx_t_http('persona_redis 127.0.0.1:1; persona_events s; persona_events t;',
             qr/"persona_events" directive is duplicate/, 'twice');
nginx_t_http('persona_redis 127.0.0.1:1; server { listen 127.0.0.1:1; persona_events s; }',
             qr/"persona_events" directive is not allowed here/, 'in a server');
nginx_t_http('persona_redis 127.0.0.1:1; persona_events "persona:{ev}" maxlen=5;'
             . ' server { listen 127.0.0.1:1; location / { persona on; persona_track on; } }',
             undef, 'a good configuration');

no_root_location();
no_long_string();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: a first visit from a campaign
--- redis_init
DEL persona:t135 persona:profile:tr1 persona:profile:tr2 persona:profile:tr3
--- request
GET /page?id=tr1&utm_source=news&utm_medium=email&utm_campaign=spring%20sale&utm_term=shoes&utm_content=hero+a
--- more_headers
Referer: https://user@Mail.Example.com:8443/inbox?x=1
--- response_body
news|miss
--- wait: 0.2
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 2: the profile: visits, last_seen, first and last touch, nothing else
--- redis_read
HGETALL persona:profile:tr1
--- response_body_like
^visits
1
last_seen
\d{10}
first_touch_source
news
first_touch_medium
email
first_touch_campaign
spring sale
last_touch_source
news
last_touch_medium
email
last_touch_campaign
spring sale$



=== TEST 3: the exposure event, field by field
--- redis_read
XRANGE persona:t135 - +
--- response_body
type exposure id tr1 segment news segments news variants hero=urgency path /page status miss ts <ms> utm_source news utm_medium email utm_campaign spring sale utm_term shoes utm_content hero a referer_host Mail.Example.com



=== TEST 4: a second visit from another campaign: first touch kept, last touch moved; no medium is written empty
--- request
GET /page?id=tr1&utm_source=ads&utm_campaign=q4
--- response_body
everyone|ok
--- wait: 0.2
--- no_error_log
[error]



=== TEST 5: read back
--- redis_read
HMGET persona:profile:tr1 visits first_touch_source first_touch_medium first_touch_campaign last_touch_source last_touch_medium last_touch_campaign
--- response_body
2
news
email
spring sale
ads

q4



=== TEST 6: a visit without UTM: visits counted, touches unchanged; the event has no utm fields
--- redis_init
DEL persona:t135
--- request
GET /other?id=tr1
--- response_body
everyone|ok
--- wait: 0.2
--- no_error_log
[error]



=== TEST 7: read back
--- redis_read
HMGET persona:profile:tr1 visits last_touch_source
XRANGE persona:t135 - +
--- response_body
3
ads
type exposure id tr1 segment everyone segments  variants hero=urgency path /other status ok ts <ms>



=== TEST 8: the path is the one requested, before landing, without the query
--- redis_init
DEL persona:t135
--- request
GET /land?id=tr2&x=1
--- response_body
landed
--- wait: 0.2
--- no_error_log
[error]



=== TEST 9: read back
--- redis_read
XRANGE persona:t135 - +
--- response_body
type exposure id tr2 segment everyone segments  variants hero=urgency path /land status miss ts <ms>



=== TEST 10: a new visitor (id issued now) is tracked, first touch included
--- config
    persona_rules ../html/rules.json;
    location / {
        persona on;
        persona_track on;
        persona_id_cookie vid;
        return 200 "$persona_new|$persona_status\n";
    }
--- redis_init
DEL persona:t135
--- request
GET /welcome?utm_source=news
--- response_body
1|miss
--- wait: 0.2
--- no_error_log
[error]



=== TEST 11: read back: the event, and the new profile
--- redis_read
XRANGE persona:t135 - +
--- response_body_like
^type exposure id [0-9a-f]{32} segment news segments news variants hero=urgency path /welcome status miss ts <ms> utm_source news$



=== TEST 12: bots: nothing
--- redis_init
DEL persona:t135 persona:profile:tr3
--- request
GET /p?id=tr3
--- more_headers
User-Agent: Googlebot/2.1 (+http://www.google.com/bot.html)
--- response_body
everyone|miss
--- wait: 0.2
--- no_error_log
[error]



=== TEST 13: prefetch (Sec-Purpose): nothing
--- request
GET /p?id=tr3
--- more_headers
Sec-Purpose: prefetch
--- response_body
everyone|miss
--- wait: 0.2



=== TEST 14: prefetch (Purpose): nothing
--- request
GET /p?id=tr3
--- more_headers
Purpose: prefetch
--- response_body
everyone|miss
--- wait: 0.2



=== TEST 15: Sec-GPC: 1 under persona_respect_gpc on: nothing
--- request
GET /p?id=tr3
--- more_headers
Sec-GPC: 1
--- response_body
everyone|miss
--- wait: 0.2



=== TEST 16: anonymous visitors and persona_track off: nothing
--- pipelined_requests eval
["GET /anon", "GET /off?id=tr3"]
--- response_body eval
["anonymous\n", "miss\n"]
--- wait: 0.2
--- no_error_log
[error]



=== TEST 17: nothing was written
--- redis_read
EXISTS persona:t135 persona:profile:tr3
--- response_body
0



=== TEST 18: JSON profiles get the event only
--- redis_init
DEL persona:t135
SET persona:json:tr4 {"segment":"vip"}
--- request
GET /json?id=tr4
--- response_body
ok
--- wait: 0.2
--- no_error_log
[error]



=== TEST 19: read back
--- redis_read
GET persona:json:tr4
XLEN persona:t135
--- response_body
{"segment":"vip"}
1



=== TEST 20: MAXLEN: the stream is trimmed (approximately; exact with one entry per node)
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=2s;
    persona_events persona:t135:small maxlen=2;
--- redis_init
DEL persona:t135:small
HSET persona:profile:tr5 tier silver
CONFIG SET stream-node-max-entries 1
--- pipelined_requests eval
["GET /a?id=tr5", "GET /b?id=tr5", "GET /c?id=tr5", "GET /d?id=tr5"]
--- response_body eval
["everyone|ok\n", "everyone|ok\n", "everyone|ok\n", "everyone|ok\n"]
--- wait: 0.3
--- no_error_log
[error]



=== TEST 21: read back
--- redis_read
XLEN persona:t135:small
CONFIG SET stream-node-max-entries 100
--- response_body
2
OK



=== TEST 22: Redis down with tracking on: the page is served, nothing but the lookup's error
--- http_config
    persona_redis 127.0.0.1:1 timeout=200ms max_fails=0;
--- request
GET /page?id=tr6&utm_source=news
--- response_body
news|error
--- wait: 0.2
--- error_log
page served without profile
--- no_error_log
[alert]
[emerg]
[crit]



=== TEST 23: Redis frozen with tracking on: the page within the lookup's timeout
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_FROZEN_PORT timeout=200ms max_fails=0;
--- request
GET /page?id=tr7&utm_source=news
--- response_body
news|timeout
--- timeout: 2
--- wait: 0.5
--- error_log
redis lookup timed out, page served without profile
--- no_error_log
[alert]
[emerg]
[crit]



=== TEST 24: Redis frozen, one connection only: writes pending never hold the next lookups
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_FROZEN_PORT timeout=200ms max_fails=0 pool=1;
--- pipelined_requests eval
["GET /page?id=tr7", "GET /page?id=tr7", "GET /page?id=tr7", "GET /page?id=tr7"]
--- response_body eval
["everyone|timeout\n", "everyone|timeout\n", "everyone|timeout\n", "everyone|timeout\n"]
--- timeout: 3
