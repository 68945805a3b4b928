# persona_profile_cache: hits skip Redis, misses are cached for
# negative_ttl, entries expire, a failing Redis gets stale entries served,
# a small zone evicts the least recently used entries, and concurrent
# misses for one key in a worker share one lookup.
#
# A block without "--- config" talks to the nginx of the block before it
# (both harnesses), so the cache outlives a block: the first block of a
# pair fills it, its "--- init" code changes Redis, the second one shows
# what nginx serves then.
use Test::Nginx::Socket 'no_plan';
use IO::Socket::INET;

$ENV{TEST_NGINX_REDIS_PORT} ||= 6379;

# free loopback ports: one for the mock Redis, one where nothing listens
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

# HGETALL commands Redis served since the last CONFIG RESETSTAT
sub hgetall_calls {
    my $stats = redis('INFO', 'commandstats');
    return $stats =~ /^cmdstat_hgetall:calls=(\d+)/m ? $1 : 0;
}

sub nap { select undef, undef, undef, shift }

redis('DEL', map { "persona:profile:pc-$_" }
      qw(hit neg calls ttl nf bad co co-calls huge), map { "big$_" } 1 .. 30);

# 30 profiles of about 1.5 KB: a 32 KB zone holds some of them
our $Big = 'x' x 1500;
redis('HSET', "persona:profile:pc-big$_", 'segment', "s$_", 'blob', $Big)
    for 1 .. 30;
redis('HSET', 'persona:profile:pc-huge', 'segment', 'huge',
      'blob', 'y' x 5000);

worker_connections(1024);
no_long_string();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: without persona_profile_cache: $persona_cache is off
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=2s;
--- config
    location = /t {
        persona on;
        persona_id $arg_id;
        return 200 "$persona_status $persona_cache\n";
    }
    location = /plain {
        return 200 "$persona_status $persona_cache\n";
    }
--- init
main::redis('HSET', 'persona:profile:pc-hit', 'segment', 'vip');
--- request eval
["GET /t?id=pc-hit", "GET /t?id=pc-hit", "GET /t", "GET /plain"]
--- response_body eval
["ok off\n", "ok off\n", "anonymous off\n", "off off\n"]
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 2: a first request misses and stores the profile
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=2s;
    persona_profile_cache zone=profiles:1m ttl=1h negative_ttl=1h;
--- config
    location = /t {
        persona on;
        persona_id $arg_id;
        return 200 "$persona_status|$persona_cache|$persona_segment|$persona_profile_tier|$persona_profile_n\n";
    }
--- init
main::redis('HSET', 'persona:profile:pc-hit', 'segment', 'vip', 'tier', 'gold');
--- request
GET /t?id=pc-hit
--- response_body
ok|miss|vip|gold|
--- error_log
persona cache: stored "persona:profile:pc-hit"
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 3: the profile changed in Redis: the cached one is served, Redis not asked
--- init
main::redis('HSET', 'persona:profile:pc-hit', 'segment', 'spender', 'tier', 'silver');
main::redis('CONFIG', 'RESETSTAT');
--- request eval
["GET /t?id=pc-hit", "GET /t?id=pc-hit"]
--- response_body eval
["ok|hit|vip|gold|\n", "ok|hit|vip|gold|\n"]
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 4: Redis saw no HGETALL meanwhile (n); a visitor without profile: a miss, stored; anonymous: off
--- init
main::redis('HSET', 'persona:profile:pc-calls', 'segment', 'vip', 'n', main::hgetall_calls());
--- request eval
["GET /t?id=pc-calls", "GET /t?id=pc-neg", "GET /t"]
--- response_body eval
["ok|miss|vip||0\n", "miss|miss|default||\n", "anonymous|off|default||\n"]
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 5: the profile appears in Redis: the cached miss is served (negative_ttl)
--- init
main::redis('HSET', 'persona:profile:pc-neg', 'segment', 'vip');
--- request
GET /t?id=pc-neg
--- response_body
miss|hit|default||
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 6: ttl and negative_ttl: short ones, filled
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=2s;
    persona_profile_cache zone=profiles:1m ttl=300ms negative_ttl=300ms;
--- config
    location = /t {
        persona on;
        persona_id $arg_id;
        return 200 "$persona_status $persona_cache $persona_segment\n";
    }
--- init
main::redis('HSET', 'persona:profile:pc-ttl', 'segment', 'vip');
--- request eval
["GET /t?id=pc-ttl", "GET /t?id=pc-nf", "GET /t?id=pc-ttl", "GET /t?id=pc-nf"]
--- response_body eval
["ok miss vip\n", "miss miss default\n", "ok hit vip\n", "miss hit default\n"]
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 7: ttl and negative_ttl: expired, Redis is asked again
--- init
main::redis('HSET', 'persona:profile:pc-ttl', 'segment', 'gold');
main::redis('HSET', 'persona:profile:pc-nf', 'segment', 'spender');
main::nap(0.5);
--- request eval
["GET /t?id=pc-ttl", "GET /t?id=pc-nf", "GET /t?id=pc-ttl"]
--- response_body eval
["ok miss gold\n", "ok miss spender\n", "ok hit gold\n"]
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 8: an unusable reply (a string, not a hash) is not cached
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=2s;
    persona_profile_cache zone=profiles:1m ttl=1h negative_ttl=1h;
--- config
    location = /t {
        persona on;
        persona_id $arg_id;
        return 200 "$persona_status $persona_cache $persona_segment\n";
    }
--- init
main::redis('SET', 'persona:profile:pc-bad', 'just a string');
--- request
GET /t?id=pc-bad
--- response_body
invalid miss default
--- error_log
persona: unusable profile for visitor "pc-bad"
--- no_error_log
[error]
[alert]



=== TEST 9: the unusable profile is fixed: read at once
--- init
main::redis('DEL', 'persona:profile:pc-bad');
main::redis('HSET', 'persona:profile:pc-bad', 'segment', 'vip');
--- request
GET /t?id=pc-bad
--- response_body
ok miss vip
--- no_error_log
[error]
[alert]



=== TEST 10: stale: a mock Redis answers once, the entry is stored for 200ms
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_MOCK_PORT timeout=2s max_fails=2 fail_timeout=30s;
    persona_profile_cache zone=profiles:1m ttl=200ms stale=1h;
--- config
    location = /t {
        persona on;
        persona_id $arg_id;
        return 200 "$persona_status $persona_cache $persona_segment\n";
    }
--- tcp_listen eval: $ENV{TEST_NGINX_MOCK_PORT}
--- tcp_query eval: "*2\r\n\$7\r\nHGETALL\r\n\$24\r\npersona:profile:pc-stale\r\n"
--- tcp_reply eval: "*2\r\n\$7\r\nsegment\r\n\$3\r\nvip\r\n"
--- request
GET /t?id=pc-stale
--- response_body
ok miss vip
--- no_error_log
[error]
[alert]



=== TEST 11: stale: past its ttl, Redis gone, then the breaker open: the stale entry is served
--- init
main::nap(0.4);
--- request eval
["GET /t?id=pc-stale", "GET /t?id=pc-stale", "GET /t?id=pc-stale", "GET /t?id=pc-stale"]
--- response_body eval
["stale miss vip\n", "stale miss vip\n", "stale miss vip\n", "stale miss vip\n"]
--- error_log
persona: stale profile served for visitor "pc-stale"
--- no_error_log
[alert]
[crit]



=== TEST 12: the breaker opened meanwhile (logged once); still stale
--- request
GET /t?id=pc-stale
--- response_body
stale miss vip
--- grep_error_log eval: qr/breaker opened/
--- grep_error_log_out
breaker opened
--- no_error_log
[alert]
[crit]



=== TEST 13: stale window over: not served
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_MOCK_PORT timeout=2s max_fails=0;
    persona_profile_cache zone=profiles:1m ttl=100ms stale=200ms;
--- config
    location = /t {
        persona on;
        persona_id $arg_id;
        return 200 "$persona_status $persona_cache $persona_segment\n";
    }
--- tcp_listen eval: $ENV{TEST_NGINX_MOCK_PORT}
--- tcp_reply eval: "*2\r\n\$7\r\nsegment\r\n\$3\r\nvip\r\n"
--- request
GET /t?id=pc-stale
--- response_body
ok miss vip
--- no_error_log
[error]
[alert]



=== TEST 14: stale window over: Redis down, no profile
--- init
main::nap(0.6);
--- request
GET /t?id=pc-stale
--- response_body
error miss default
--- no_error_log
stale profile served
[alert]
[crit]



=== TEST 15: a cached miss is not served stale
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_MOCK_PORT timeout=2s max_fails=0;
    persona_profile_cache zone=profiles:1m negative_ttl=100ms stale=1h;
--- config
    location = /t {
        persona on;
        persona_id $arg_id;
        return 200 "$persona_status $persona_cache $persona_segment\n";
    }
--- tcp_listen eval: $ENV{TEST_NGINX_MOCK_PORT}
--- tcp_reply eval: "*0\r\n"
--- request
GET /t?id=pc-nobody
--- response_body
miss miss default
--- no_error_log
[error]
[alert]



=== TEST 16: a cached miss is not served stale: Redis down
--- init
main::nap(0.3);
--- request
GET /t?id=pc-nobody
--- response_body
error miss default
--- no_error_log
stale profile served
[alert]
[crit]



=== TEST 17: a 32 KB zone: 30 profiles of 1.5 KB evict the least recently used; a profile over 1/8 of the zone is not cached
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=2s;
    persona_profile_cache zone=tiny:32k ttl=1h;
--- config
    location = /t {
        persona on;
        persona_id $arg_id;
        return 200 "$persona_status $persona_cache $persona_segment\n";
    }
--- request eval
[ (map { "GET /t?id=pc-big$_" } 1 .. 30), "GET /t?id=pc-huge", "GET /t?id=pc-huge" ]
--- response_body eval
[ (map { "ok miss s$_\n" } 1 .. 30), "ok miss huge\n", "ok miss huge\n" ]
--- no_error_log
[error]
[alert]
[crit]



=== TEST 18: the most recent entry is there, the first one was evicted
--- request
GET /t?id=pc-big30
--- response_body
ok hit s30
--- error_log
persona cache: evicted an entry
persona cache: "persona:profile:pc-huge" not cached
--- no_error_log
[error]
[alert]
[crit]



=== TEST 19: the first one was evicted
--- request
GET /t?id=pc-big1
--- response_body
ok miss s1
--- no_error_log
[error]
[alert]
[crit]



=== TEST 20: 20 concurrent misses for one key (mirrors proxied back to nginx, Redis paused): one lookup, 19 wait for it
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=5s;
    persona_profile_cache zone=profiles:1m ttl=1h;
--- config
    location = /t {
        persona on;
        persona_id $arg_id;
        return 200 "$persona_status $persona_cache $persona_segment $persona_profile_n\n";
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
--- init
main::redis('HSET', 'persona:profile:pc-co', 'segment', 'vip');
main::redis('CONFIG', 'RESETSTAT');
main::redis('CLIENT', 'PAUSE', '1000');
--- request
GET /fan
--- response_body
fanned out
--- wait: 1.5
--- grep_error_log eval: qr/persona cache: waiting for the lookup of "persona:profile:pc-co"/
--- grep_error_log_out eval: "persona cache: waiting for the lookup of \"persona:profile:pc-co\"\n" x 19
--- no_error_log
[error]
[alert]
[crit]



=== TEST 21: Redis served one HGETALL for the 20 (n), and each request got the profile
--- init
main::redis('HSET', 'persona:profile:pc-co-calls', 'segment', 'vip', 'n', main::hgetall_calls());
--- request eval
["GET /t?id=pc-co-calls", "GET /t?id=pc-co"]
--- response_body eval
["ok miss vip 1\n", "ok hit vip \n"]
--- access_log
"GET /t?id=pc-co HTTP/1.0" 200
--- no_error_log
[error]
[alert]
[crit]
