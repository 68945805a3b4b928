# persona_profile_cache: hits skip Redis, misses are cached for
# negative_ttl, entries expire, a failing Redis gets stale entries served,
# a small zone evicts the least recently used entries, and concurrent
# misses for one key in a worker share one lookup.
#
# Every block stands alone (valgrind mode restarts nginx between blocks).
# A mock Redis (tcp_listen) answers one lookup and no more: a later
# request that still gets the profile got it from the cache, and a later
# lookup fails (the port then accepts but never answers: a timeout).
# Time passes inside a block through /pause, whose limit_req delays the
# second and later requests by about 500 ms each.
use Test::Nginx::Socket 'no_plan';
use IO::Socket::INET;
use POSIX ();

$ENV{TEST_NGINX_REDIS_PORT} ||= 6379;

# a free loopback port for the mock Redis
for my $name (qw(TEST_NGINX_MOCK_PORT)) {
    next if $ENV{$name};
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1)
        or die "no free port: $!\n";
    $ENV{$name} = $s->sockport;
    close $s;
}

# a command to the test Redis (argv, no shell); its output
sub redis {
    open my $fh, '-|', 'redis-cli', '-p', $ENV{TEST_NGINX_REDIS_PORT}, @_
        or die "redis-cli: $!\n";
    local $/;
    my $out = <$fh> // '';
    close $fh or die "redis-cli @_: exit status $?\n";
    return $out;
}

redis('DEL', map { "persona:profile:pc-$_" }
      qw(hit huge), map { "big$_" } 1 .. 30);
redis('HSET', 'persona:profile:pc-hit', 'segment', 'vip', 'tier', 'gold');

# 30 profiles of about 1.5 KB: a 32 KB zone holds some of them
redis('HSET', "persona:profile:pc-big$_", 'segment', "s$_", 'blob', 'x' x 1500)
    for 1 .. 30;
redis('HSET', 'persona:profile:pc-huge', 'segment', 'huge',
      'blob', 'y' x 5000);

# how long the mock Redis holds its answer while the requests pile up
our $Hold = $ENV{TEST_NGINX_USE_VALGRIND} ? 4 : 1;

# A mock Redis for the last test: it never answers; $Hold after a query
# arrives it tells nginx to quit, so that worker_shutdown_timeout ends
# the requests waiting for that lookup.
if (!$ENV{TEST_NGINX_QUIT_PORT}) {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1)
        or die "no free port: $!\n";
    $ENV{TEST_NGINX_QUIT_PORT} = $s->sockport;
    close $s;
}

my $qlistener = IO::Socket::INET->new(Listen => 64, LocalAddr => '127.0.0.1',
                                      LocalPort => $ENV{TEST_NGINX_QUIT_PORT},
                                      ReuseAddr => 1)
    or die "cannot listen on $ENV{TEST_NGINX_QUIT_PORT}: $!\n";
my $owner = $$;
my $qmock = fork // die "fork: $!\n";

if ($qmock == 0) {
    $SIG{CHLD} = 'IGNORE';
    my $servroot = $ENV{TEST_NGINX_SERVROOT} // 't/servroot';
    while (my $c = $qlistener->accept) {
        my $pid = fork;
        if (defined $pid && $pid == 0) {
            close $qlistener;
            my $buf;
            if (sysread($c, $buf, 4096)) {
                select undef, undef, undef, $Hold;
                if (open my $f, '<', "$servroot/logs/nginx.pid") {
                    my $master = <$f>;
                    chomp $master;
                    kill 'QUIT', $master if $master;
                }
            }
            sleep 10;
            POSIX::_exit(0);
        }
        close $c;
    }
    POSIX::_exit(0);
}

close $qlistener;
END { kill 'TERM', $qmock if $$ == $owner && $qmock }

# the last test shuts nginx down gracefully: with a master process only
master_on();
worker_connections(1024);
no_long_string();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: without persona_profile_cache: $persona_cache is off, Redis asked every time
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=2s;
--- config
    location = /t {
        persona on;
        persona_id $arg_id;
        return 200 "$persona_status|$persona_cache\n";
    }
    location = /plain {
        return 200 "$persona_status|$persona_cache\n";
    }
--- request eval
["GET /t?id=pc-hit", "GET /t?id=pc-hit", "GET /t", "GET /plain"]
--- response_body eval
["ok|off\n", "ok|off\n", "anonymous|off\n", "off|off\n"]
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 2: a miss stores the profile, the next requests are hits; anonymous: off
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=2s;
    persona_profile_cache zone=profiles:1m;
--- config
    location = /t {
        persona on;
        persona_id $arg_id;
        return 200 "$persona_status|$persona_cache|$persona_segment|$persona_profile_tier\n";
    }
--- request eval
["GET /t?id=pc-hit", "GET /t?id=pc-hit", "GET /t?id=pc-hit", "GET /t"]
--- response_body eval
["ok|miss|vip|gold\n", "ok|hit|vip|gold\n", "ok|hit|vip|gold\n", "anonymous|off|default|\n"]
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 3: the stored line
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=2s;
    persona_profile_cache zone=profiles:1m ttl=10m;
--- config
    location = /t {
        persona on;
        persona_id $arg_id;
        return 200 "$persona_status|$persona_cache|$persona_segment|$persona_profile_tier\n";
    }
--- request
GET /t?id=pc-hit
--- response_body
ok|miss|vip|gold
--- error_log
persona cache: stored "persona:profile:pc-hit" (
) for 600000ms
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 4: hits never reach Redis: the mock answers one lookup only
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_MOCK_PORT timeout=300ms;
    persona_profile_cache zone=profiles:1m;
--- config
    location = /t {
        persona on;
        persona_id $arg_id;
        return 200 "$persona_status|$persona_cache|$persona_segment|$persona_profile_tier\n";
    }
--- tcp_listen eval: $ENV{TEST_NGINX_MOCK_PORT}
--- tcp_reply eval: "*4\r\n\$7\r\nsegment\r\n\$3\r\nvip\r\n\$4\r\ntier\r\n\$4\r\ngold\r\n"
--- tcp_query eval: "*2\r\n\$7\r\nHGETALL\r\n\$22\r\npersona:profile:pc-one\r\n"
--- request eval
["GET /t?id=pc-one", "GET /t?id=pc-one", "GET /t?id=pc-one"]
--- response_body eval
["ok|miss|vip|gold\n", "ok|hit|vip|gold\n", "ok|hit|vip|gold\n"]
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 5: a miss (no profile) is cached for negative_ttl: status miss, cache hit
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_MOCK_PORT timeout=300ms;
    persona_profile_cache zone=profiles:1m negative_ttl=1h;
--- config
    location = /t {
        persona on;
        persona_id $arg_id;
        return 200 "$persona_status|$persona_cache|$persona_segment|$persona_profile_tier\n";
    }
--- tcp_listen eval: $ENV{TEST_NGINX_MOCK_PORT}
--- tcp_reply eval: "*0\r\n"
--- request eval
["GET /t?id=pc-nobody", "GET /t?id=pc-nobody"]
--- response_body eval
["miss|miss|default|\n", "miss|hit|default|\n"]
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 6: ttl over: Redis is asked again (and fails: no stale)
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_MOCK_PORT timeout=300ms max_fails=0;
    persona_profile_cache zone=profiles:1m ttl=1s stale=0;
    limit_req_zone $server_name zone=pause:32k rate=2r/s;
--- config
    location = /t {
        persona on;
        persona_id $arg_id;
        return 200 "$persona_status|$persona_cache|$persona_segment|$persona_profile_tier\n";
    }
    location = /pause {
        limit_req zone=pause burst=10;    # preaccess: before "return"
        proxy_pass http://127.0.0.1:$server_port/paused;
    }
    location = /paused {
        return 200 "paused\n";
    }
--- tcp_listen eval: $ENV{TEST_NGINX_MOCK_PORT}
--- tcp_reply eval: "*4\r\n\$7\r\nsegment\r\n\$3\r\nvip\r\n\$4\r\ntier\r\n\$4\r\ngold\r\n"
--- request eval
["GET /t?id=pc-ttl", "GET /t?id=pc-ttl", "GET /pause", "GET /pause", "GET /pause", "GET /pause", "GET /t?id=pc-ttl"]
--- response_body eval
["ok|miss|vip|gold\n", "ok|hit|vip|gold\n", "paused\n", "paused\n", "paused\n", "paused\n", "timeout|miss|default|\n"]
--- no_error_log
[alert]
[crit]
stale profile served



=== TEST 7: negative_ttl over: Redis is asked again
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_MOCK_PORT timeout=300ms max_fails=0;
    persona_profile_cache zone=profiles:1m negative_ttl=1s stale=1h;
    limit_req_zone $server_name zone=pause:32k rate=2r/s;
--- config
    location = /t {
        persona on;
        persona_id $arg_id;
        return 200 "$persona_status|$persona_cache|$persona_segment|$persona_profile_tier\n";
    }
    location = /pause {
        limit_req zone=pause burst=10;    # preaccess: before "return"
        proxy_pass http://127.0.0.1:$server_port/paused;
    }
    location = /paused {
        return 200 "paused\n";
    }
--- tcp_listen eval: $ENV{TEST_NGINX_MOCK_PORT}
--- tcp_reply eval: "*0\r\n"
--- request eval
["GET /t?id=pc-nf", "GET /t?id=pc-nf", "GET /pause", "GET /pause", "GET /pause", "GET /pause", "GET /t?id=pc-nf"]
--- response_body eval
["miss|miss|default|\n", "miss|hit|default|\n", "paused\n", "paused\n", "paused\n", "paused\n", "timeout|miss|default|\n"]
--- no_error_log
[alert]
[crit]
stale profile served



=== TEST 8: stale: past its ttl, Redis failing, then the breaker open: the entry is served as stale
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_MOCK_PORT timeout=300ms max_fails=2 fail_timeout=30s;
    persona_profile_cache zone=profiles:1m ttl=200ms stale=1h;
    limit_req_zone $server_name zone=pause:32k rate=2r/s;
--- config
    location = /t {
        persona on;
        persona_id $arg_id;
        return 200 "$persona_status|$persona_cache|$persona_segment|$persona_profile_tier\n";
    }
    location = /pause {
        limit_req zone=pause burst=10;    # preaccess: before "return"
        proxy_pass http://127.0.0.1:$server_port/paused;
    }
    location = /paused {
        return 200 "paused\n";
    }
--- tcp_listen eval: $ENV{TEST_NGINX_MOCK_PORT}
--- tcp_reply eval: "*4\r\n\$7\r\nsegment\r\n\$3\r\nvip\r\n\$4\r\ntier\r\n\$4\r\ngold\r\n"
--- request eval
["GET /t?id=pc-stale", "GET /pause", "GET /pause",
 "GET /t?id=pc-stale", "GET /t?id=pc-stale", "GET /t?id=pc-stale"]
--- response_body eval
["ok|miss|vip|gold\n", "paused\n", "paused\n",
 "stale|miss|vip|gold\n", "stale|miss|vip|gold\n", "stale|miss|vip|gold\n"]
--- no_error_log
[alert]
[crit]



=== TEST 9: stale window over: not served
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_MOCK_PORT timeout=300ms max_fails=0;
    persona_profile_cache zone=profiles:1m ttl=100ms stale=100ms;
    limit_req_zone $server_name zone=pause:32k rate=2r/s;
--- config
    location = /t {
        persona on;
        persona_id $arg_id;
        return 200 "$persona_status|$persona_cache|$persona_segment|$persona_profile_tier\n";
    }
    location = /pause {
        limit_req zone=pause burst=10;    # preaccess: before "return"
        proxy_pass http://127.0.0.1:$server_port/paused;
    }
    location = /paused {
        return 200 "paused\n";
    }
--- tcp_listen eval: $ENV{TEST_NGINX_MOCK_PORT}
--- tcp_reply eval: "*4\r\n\$7\r\nsegment\r\n\$3\r\nvip\r\n\$4\r\ntier\r\n\$4\r\ngold\r\n"
--- request eval
["GET /t?id=pc-old", "GET /pause", "GET /pause", "GET /t?id=pc-old"]
--- response_body eval
["ok|miss|vip|gold\n", "paused\n", "paused\n", "timeout|miss|default|\n"]
--- no_error_log
[alert]
[crit]
stale profile served



=== TEST 10: an unusable reply is not cached
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_MOCK_PORT timeout=300ms max_fails=0;
    persona_profile_cache zone=profiles:1m negative_ttl=1h stale=1h;
--- config
    location = /t {
        persona on;
        persona_id $arg_id;
        return 200 "$persona_status|$persona_cache|$persona_segment|$persona_profile_tier\n";
    }
--- tcp_listen eval: $ENV{TEST_NGINX_MOCK_PORT}
--- tcp_reply eval: "+OK\r\n"
--- request eval
["GET /t?id=pc-bad", "GET /t?id=pc-bad"]
--- response_body eval
["invalid|miss|default|\n", "timeout|miss|default|\n"]
--- no_error_log
[alert]
[crit]



=== TEST 11: a 32 KB zone: 30 profiles of 1.5 KB evict the least recently used
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=2s;
    persona_profile_cache zone=tiny:32k;
--- config
    location = /t {
        persona on;
        persona_id $arg_id;
        return 200 "$persona_status|$persona_cache|$persona_segment|$persona_profile_tier\n";
    }
--- request eval
[ (map { "GET /t?id=pc-big$_" } 1 .. 30), "GET /t?id=pc-big30", "GET /t?id=pc-big1" ]
--- response_body eval
[ (map { "ok|miss|s$_|\n" } 1 .. 30), "ok|hit|s30|\n", "ok|miss|s1|\n" ]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 12: evictions are logged (debug): 30 profiles fetched at once into a 32 KB zone
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=5s;
    persona_profile_cache zone=tiny:32k;
--- config
    location = /t {
        persona on;
        persona_id $arg_id;
        return 200 "$persona_status|$persona_cache|$persona_segment\n";
    }
    location = /fill {
        mirror /m1;
        mirror /m2;
        mirror /m3;
        mirror /m4;
        mirror /m5;
        mirror /m6;
        mirror /m7;
        mirror /m8;
        mirror /m9;
        mirror /m10;
        mirror /m11;
        mirror /m12;
        mirror /m13;
        mirror /m14;
        mirror /m15;
        mirror /m16;
        mirror /m17;
        mirror /m18;
        mirror /m19;
        mirror /m20;
        mirror /m21;
        mirror /m22;
        mirror /m23;
        mirror /m24;
        mirror /m25;
        mirror /m26;
        mirror /m27;
        mirror /m28;
        mirror /m29;
        mirror /m30;
        proxy_pass http://127.0.0.1:$server_port/ok;
    }
    location ~ ^/m(\d+)$ {
        internal;
        proxy_pass http://127.0.0.1:$server_port/t?id=pc-big$1;
    }
    location = /ok {
        return 200 "filled\n";
    }
--- request
GET /fill
--- response_body
filled
--- timeout: 15
--- wait: 1
--- error_log
persona cache: evicted an entry
--- no_error_log
[error]
[alert]
[crit]



=== TEST 13: a profile bigger than 1/8 of the zone is not cached
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=2s;
    persona_profile_cache zone=tiny:32k;
--- config
    location = /t {
        persona on;
        persona_id $arg_id;
        return 200 "$persona_status|$persona_cache|$persona_segment|$persona_profile_tier\n";
    }
--- request
GET /t?id=pc-huge
--- response_body
ok|miss|huge|
--- error_log
persona cache: "persona:profile:pc-huge" not cached
--- no_error_log
[error]
[alert]
[crit]



=== TEST 14: 20 concurrent misses for one key (mirrors proxied back to nginx): one lookup, 19 requests wait for it
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_MOCK_PORT timeout=10s;
    persona_profile_cache zone=profiles:1m;
--- config
    location = /t {
        persona on;
        persona_id $arg_id;
        return 200 "$persona_status|$persona_cache|$persona_segment|$persona_profile_tier\n";
    }
    location = /fan {
        mirror /m;
        mirror /m;
        mirror /m;
        mirror /m;
        mirror /m;
        mirror /m;
        mirror /m;
        mirror /m;
        mirror /m;
        mirror /m;
        mirror /m;
        mirror /m;
        mirror /m;
        mirror /m;
        mirror /m;
        mirror /m;
        mirror /m;
        mirror /m;
        mirror /m;
        mirror /m;
        proxy_pass http://127.0.0.1:$server_port/ok;
    }
    location = /m {
        internal;
        proxy_pass http://127.0.0.1:$server_port/t?id=pc-co;
    }
    location = /ok {
        return 200 "fanned out\n";
    }
--- tcp_listen eval: $ENV{TEST_NGINX_MOCK_PORT}
--- tcp_reply eval: "*4\r\n\$7\r\nsegment\r\n\$3\r\nvip\r\n\$4\r\ntier\r\n\$4\r\ngold\r\n"
--- tcp_query eval: "*2\r\n\$7\r\nHGETALL\r\n\$21\r\npersona:profile:pc-co\r\n"
--- tcp_reply_delay eval: $main::Hold
--- request
GET /fan
--- response_body
fanned out
--- timeout: 15
--- wait: 1
--- grep_error_log eval: qr/persona cache: waiting for the lookup of "persona:profile:pc-co"|persona cache: stored "persona:profile:pc-co"/
--- grep_error_log_out eval
("persona cache: waiting for the lookup of \"persona:profile:pc-co\"\n" x 19)
. "persona cache: stored \"persona:profile:pc-co\"\n"
--- no_error_log
[error]
[alert]
[crit]



=== TEST 15: requests waiting for a shared lookup are ended by a graceful shutdown: no crash, the old worker exits
The mock never answers and tells nginx to quit; at worker_shutdown_timeout
nginx closes every connection: the waiting requests leave the lookup
(the one that started it first or not: it carries on for the others) or
get its end, in whatever order nginx visits them.
--- main_config
    worker_shutdown_timeout 300ms;
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_QUIT_PORT timeout=30s max_fails=0;
    persona_profile_cache zone=profiles:1m;
--- config
    location = /t {
        persona on;
        persona_id $arg_id;
        return 200 "$persona_status|$persona_cache|$persona_segment|$persona_profile_tier\n";
    }
    location = /fan {
        mirror /m;
        mirror /m;
        mirror /m;
        mirror /m;
        mirror /m;
        mirror /m;
        mirror /m;
        mirror /m;
        mirror /m;
        mirror /m;
        mirror /m;
        mirror /m;
        mirror /m;
        mirror /m;
        mirror /m;
        mirror /m;
        mirror /m;
        mirror /m;
        mirror /m;
        mirror /m;
        proxy_pass http://127.0.0.1:$server_port/ok;
    }
    location = /m {
        internal;
        proxy_pass http://127.0.0.1:$server_port/t?id=pc-quit;
    }
    location = /ok {
        return 200 "fanned out\n";
    }
--- request
GET /fan
--- ignore_response
--- timeout: 15
--- wait eval: $main::Hold + 2
--- error_log
persona cache: waiting for the lookup of "persona:profile:pc-quit"
gracefully shutting down
exit
--- no_error_log
[alert]
[crit]
exited on signal
