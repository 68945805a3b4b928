# One lookup per client request: internal redirects, named locations,
# subrequests.  (With several requests in one block, Test::Nginx checks
# the error log after each request: grep patterns apply per request.)
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_REDIS_PORT} ||= 6379;

system("redis-cli -p $ENV{TEST_NGINX_REDIS_PORT} < t/data/profiles.redis"
       . " > /dev/null") == 0
    or die "cannot load t/data/profiles.redis into Redis on port "
           . "$ENV{TEST_NGINX_REDIS_PORT}\n";

no_long_string();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: try_files to a named location: one lookup, result kept
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    location /tf {
        persona on;
        try_files /no-such-file @fallback;
    }
    location @fallback {
        persona on;
        return 200 "$persona_segment|$persona_status\n";
    }
--- request
GET /tf
--- more_headers
Cookie: persona_id=alice
--- response_body
vip|ok
--- grep_error_log eval: qr/persona redis: HGETALL/
--- grep_error_log_out
persona redis: HGETALL
--- no_error_log
[error]



=== TEST 2: error_page to a location without persona keeps the result
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    location /ep {
        persona on;
        log_not_found off;
        error_page 404 = /fallback;
    }
    location = /fallback {
        return 200 "$persona_segment|$persona_status|$persona_profile_tier\n";
    }
--- request
GET /ep/missing
--- more_headers
Cookie: persona_id=alice
--- response_body
vip|ok|gold
--- grep_error_log eval: qr/persona redis: HGETALL/
--- grep_error_log_out
persona redis: HGETALL
--- no_error_log
[error]



=== TEST 3: rewrite ... last into another persona location: one lookup
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    location /a {
        persona on;
        rewrite ^ /b last;
    }
    location /b {
        persona on;
        return 200 "$persona_segment\n";
    }
--- request
GET /a
--- more_headers
Cookie: persona_id=alice
--- response_body
vip
--- grep_error_log eval: qr/persona redis: HGETALL/
--- grep_error_log_out
persona redis: HGETALL
--- no_error_log
[error]



=== TEST 4: a subrequest reuses the main request's result
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    location = /members.html {
        persona on;
        auth_request /auth;
        add_header X-Segment $persona_segment;
    }
    location = /auth {
        internal;
        persona on;
        if ($persona_segment != vip) {
            return 403;
        }
        return 204;
    }
--- user_files
>>> members.html
members only
--- request
GET /members.html
--- more_headers
Cookie: persona_id=alice
--- response_headers
X-Segment: vip
--- response_body
members only
--- grep_error_log eval: qr/persona redis: HGETALL/
--- grep_error_log_out
persona redis: HGETALL
--- no_error_log
[error]



=== TEST 5: the subrequest's verdict for a visitor who is not vip
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    location = /members.html {
        persona on;
        auth_request /auth;
    }
    location = /auth {
        internal;
        persona on;
        if ($persona_segment != vip) {
            return 403;
        }
        return 204;
    }
--- user_files
>>> members.html
members only
--- request
GET /members.html
--- more_headers
Cookie: persona_id=silver
--- error_code: 403
--- grep_error_log eval: qr/persona redis: HGETALL/
--- grep_error_log_out
persona redis: HGETALL
--- no_error_log
[error]



=== TEST 6: pool=0 disables keepalive
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT pool=0 timeout=1s;
--- config
    location = /t {
        persona on;
        return 200 "$persona_segment\n";
    }
--- request eval
["GET /t?n=1", "GET /t?n=2"]
--- more_headers
Cookie: persona_id=alice
--- response_body eval
["vip\n", "vip\n"]
--- grep_error_log eval: qr/persona redis: (new connection|reusing a pooled connection)/
--- grep_error_log_out
persona redis: new connection
--- no_error_log
[error]
