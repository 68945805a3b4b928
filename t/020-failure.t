# Fail open: Redis down, slow, closing, answering garbage or too much
# (too much or unusable: status invalid, since issue 8), rejecting AUTH; the breaker; a client gone mid-lookup.  A mock TCP
# server (tcp_listen) plays the misbehaving Redis; it is a forked Perl
# process, slow to answer on a loaded machine, hence timeout=2s where the
# test is not about timing.
use Test::Nginx::Socket 'no_plan';
use IO::Socket::INET;

$ENV{TEST_NGINX_REDIS_PORT} ||= 6379;

system("redis-cli -p $ENV{TEST_NGINX_REDIS_PORT} < t/data/profiles.redis"
       . " > /dev/null") == 0
    or die "cannot load t/data/profiles.redis into Redis on port "
           . "$ENV{TEST_NGINX_REDIS_PORT}\n";

# free loopback ports: one for the mock, one where nothing listens
for my $name (qw(TEST_NGINX_MOCK_PORT TEST_NGINX_CLOSED_PORT)) {
    next if $ENV{$name};
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1)
        or die "no free port: $!\n";
    $ENV{$name} = $s->sockport;
    close $s;
}

no_long_string();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: the exact command on the wire: HGETALL, argv-encoded
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_MOCK_PORT timeout=2s;
--- config
    location = /t {
        persona on;
        return 200 "$persona_status|$persona_segment\n";
    }
--- tcp_listen eval: $ENV{TEST_NGINX_MOCK_PORT}
--- tcp_query eval: "*2\r\n\$7\r\nHGETALL\r\n\$27\r\npersona:profile:a.b\@c:d-e_f\r\n"
--- tcp_reply eval: "*2\r\n\$7\r\nsegment\r\n\$3\r\nvip\r\n"
--- request
GET /t
--- more_headers
Cookie: persona_id=a.b@c:d-e_f
--- response_body
ok|vip
--- no_error_log
[error]



=== TEST 2: AUTH and SELECT go first, in the same write
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_MOCK_PORT password=s3cret db=2 timeout=2s;
--- config
    location = /t {
        persona on;
        persona_profile_format json;
        return 200 "$persona_status|$persona_segment\n";
    }
--- tcp_listen eval: $ENV{TEST_NGINX_MOCK_PORT}
--- tcp_query eval: "*2\r\n\$4\r\nAUTH\r\n\$6\r\ns3cret\r\n*2\r\n\$6\r\nSELECT\r\n\$1\r\n2\r\n*2\r\n\$3\r\nGET\r\n\$17\r\npersona:profile:x\r\n"
--- tcp_reply eval: "+OK\r\n+OK\r\n\$18\r\n{\"segment\":\"gold\"}\r\n"
--- request
GET /t
--- more_headers
Cookie: persona_id=x
--- response_body
ok|gold
--- no_error_log
[error]



=== TEST 3: AUTH rejected: error, page served
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_MOCK_PORT password=wrong timeout=2s;
--- config
    location = /t {
        persona on;
        return 200 "$persona_status|$persona_segment\n";
    }
--- tcp_listen eval: $ENV{TEST_NGINX_MOCK_PORT}
--- tcp_reply eval: "-WRONGPASS invalid username-password pair\r\n*0\r\n"
--- request
GET /t
--- more_headers
Cookie: persona_id=x
--- response_body
error|default
--- error_log
persona: redis refused the connection setup: "WRONGPASS
--- no_error_log
[alert]
[crit]



=== TEST 4: Redis down (connection refused): error, one line, page served
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_CLOSED_PORT max_fails=0;
--- config
    location = /t {
        persona on;
        return 200 "$persona_status|$persona_segment\n";
    }
--- request
GET /t
--- more_headers
Cookie: persona_id=alice
--- response_body
error|default
--- grep_error_log eval: qr/\[error\].*/
--- grep_error_log_out eval: qr/^[^\n]*persona: [^\n]*Connection refused[^\n]*page served without profile[^\n]*\n$/
--- no_error_log
[alert]
[crit]



=== TEST 5: Redis stalls: timeout within the budget, page served
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_MOCK_PORT timeout=100ms;
--- config
    location = /t {
        persona on;
        return 200 "$persona_status|$persona_segment\n";
    }
--- tcp_listen eval: $ENV{TEST_NGINX_MOCK_PORT}
--- tcp_reply_delay: 1s
--- tcp_reply eval: "*0\r\n"
--- request
GET /t
--- more_headers
Cookie: persona_id=alice
--- response_body
timeout|default
--- error_log
persona: redis lookup timed out, page served without profile
--- timeout: 0.8
--- no_error_log
[alert]
[crit]



=== TEST 6: garbage instead of RESP: error, page served
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_MOCK_PORT timeout=2s;
--- config
    location = /t {
        persona on;
        return 200 "$persona_status|$persona_segment\n";
    }
--- tcp_listen eval: $ENV{TEST_NGINX_MOCK_PORT}
--- tcp_reply eval: "HTTP/1.1 400 Bad Request\r\n\r\n"
--- request
GET /t
--- more_headers
Cookie: persona_id=alice
--- response_body
error|default
--- error_log
persona: bad redis reply: Protocol error
--- no_error_log
[alert]
[crit]



=== TEST 6b: a 13-byte reply announcing a huge array: refused before hiredis allocates it: invalid
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_MOCK_PORT timeout=2s;
--- config
    location = /t {
        persona on;
        return 200 "$persona_status|$persona_segment\n";
    }
--- tcp_listen eval: $ENV{TEST_NGINX_MOCK_PORT}
--- tcp_reply eval: "*1500000000\r\n"
--- request
GET /t
--- more_headers
Cookie: persona_id=alice
--- response_body
invalid|default
--- error_log
persona: redis reply of more than 2112 elements (an array of 1500000000 after 0)
--- no_error_log
[alert]
[crit]



=== TEST 7: Redis closes without answering
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_MOCK_PORT timeout=2s;
--- config
    location = /t {
        persona on;
        return 200 "$persona_status|$persona_segment\n";
    }
--- tcp_listen eval: $ENV{TEST_NGINX_MOCK_PORT}
--- tcp_reply:
--- request
GET /t
--- more_headers
Cookie: persona_id=alice
--- response_body
error|default
--- error_log
persona: redis closed the connection
--- no_error_log
[alert]
[crit]



=== TEST 8: a reply over 1 MiB is refused: invalid
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_MOCK_PORT timeout=2s;
--- config
    location = /t {
        persona on;
        persona_profile_format json;
        return 200 "$persona_status|$persona_segment\n";
    }
--- tcp_listen eval: $ENV{TEST_NGINX_MOCK_PORT}
--- tcp_reply eval: "\$2000000\r\n" . ("x" x 2000000) . "\r\n"
--- request
GET /t
--- more_headers
Cookie: persona_id=alice
--- response_body
invalid|default
--- error_log
persona: redis reply larger than 1048576 bytes
--- no_error_log
[alert]
[crit]



=== TEST 9: nesting deeper than we accept: invalid
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_MOCK_PORT timeout=2s;
--- config
    location = /t {
        persona on;
        return 200 "$persona_status|$persona_segment\n";
    }
--- tcp_listen eval: $ENV{TEST_NGINX_MOCK_PORT}
--- tcp_reply eval: ("*1\r\n" x 20) . ":1\r\n"
--- request
GET /t
--- more_headers
Cookie: persona_id=alice
--- response_body
invalid|default
--- error_log
persona: redis reply nested deeper than 4 arrays
--- no_error_log
[alert]
[crit]



=== TEST 10: a hash reply with an odd element count: invalid
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_MOCK_PORT timeout=2s;
--- config
    location = /t {
        persona on;
        return 200 "$persona_status|$persona_segment\n";
    }
--- tcp_listen eval: $ENV{TEST_NGINX_MOCK_PORT}
--- tcp_reply eval: "*3\r\n\$7\r\nsegment\r\n\$3\r\nvip\r\n\$1\r\nx\r\n"
--- request
GET /t
--- more_headers
Cookie: persona_id=alice
--- response_body
invalid|default
--- error_log
odd number of elements
--- no_error_log
[alert]
[crit]



=== TEST 11: the breaker opens after max_fails, logged once
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_CLOSED_PORT max_fails=1 fail_timeout=30s;
--- config
    location = /t {
        persona on;
        return 200 "$persona_status\n";
    }
--- request
GET /t
--- more_headers
Cookie: persona_id=alice
--- response_body
error
--- error_log
breaker opened: lookups skipped for 30000ms
--- no_error_log
[alert]
[crit]



=== TEST 12: an open breaker skips Redis, without a line per request
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_CLOSED_PORT max_fails=2 fail_timeout=30s;
--- config
    location = /t {
        persona on;
        return 200 "$persona_status\n";
    }
--- request eval
["GET /t?1", "GET /t?2", "GET /t?3", "GET /t?4"]
--- more_headers
Cookie: persona_id=alice
--- response_body eval
["error\n", "error\n", "breaker\n", "breaker\n"]
--- grep_error_log eval: qr/breaker opened|page served without profile/
--- grep_error_log_out eval: qr/\A((page served without profile|breaker opened)\n){0,2}\z/
--- no_error_log
[alert]
[crit]



=== TEST 13: max_fails=0: no breaker
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_CLOSED_PORT max_fails=0;
--- config
    location = /t {
        persona on;
        return 200 "$persona_status\n";
    }
--- request eval
["GET /t?1", "GET /t?2", "GET /t?3", "GET /t?4"]
--- more_headers
Cookie: persona_id=alice
--- response_body eval
["error\n", "error\n", "error\n", "error\n"]
--- no_error_log
breaker opened



=== TEST 14: the client goes away while the lookup waits
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_MOCK_PORT timeout=300ms;
--- config
    location = /t {
        persona on;
        return 200 "$persona_status\n";
    }
--- tcp_listen eval: $ENV{TEST_NGINX_MOCK_PORT}
--- tcp_reply_delay: 1s
--- tcp_reply eval: "*0\r\n"
--- request
GET /t
--- more_headers
Cookie: persona_id=alice
--- timeout: 0.1
--- abort
--- wait: 0.5
--- ignore_response
--- no_error_log
[alert]
[crit]



=== TEST 15: a real Redis still answers after all that
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    location = /t {
        persona on;
        return 200 "$persona_status|$persona_segment\n";
    }
--- request
GET /t
--- more_headers
Cookie: persona_id=alice
--- response_body
ok|vip
--- no_error_log
[error]
