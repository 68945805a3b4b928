# persona_id_cookie: a random id for visitors without one, in a cookie;
# no Redis lookup on that request; $persona_new; the cookie's attributes;
# responses that set it are private.
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_REDIS_PORT} ||= 6379;

system("redis-cli -p $ENV{TEST_NGINX_REDIS_PORT} < t/data/profiles.redis"
       . " > /dev/null") == 0
    or die "cannot load t/data/profiles.redis into Redis on port "
           . "$ENV{TEST_NGINX_REDIS_PORT}\n";

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value("http_config",
            "    persona_redis 127.0.0.1:\$TEST_NGINX_REDIS_PORT timeout=2s;\n");
    }
});

no_long_string();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: a visitor without an id gets one: new, miss, 32 hex digits
--- config
    location = /t {
        persona on;
        persona_id_cookie persona_id;
        return 200 "$persona_new|$persona_status|$persona_segment|$persona_id\n";
    }
--- request
GET /t
--- response_body_like: ^1\|miss\|default\|[0-9a-f]{32}$
--- response_headers_like
Set-Cookie: ^persona_id=[0-9a-f]{32}; Path=/; Max-Age=31536000; SameSite=Lax$
Cache-Control: private
--- no_error_log
[error]
[warn]



=== TEST 2: a visitor with an id keeps it: no cookie, the profile is looked up
--- config
    location = /t {
        persona on;
        persona_id_cookie persona_id;
        return 200 "$persona_new|$persona_status|$persona_segment|$persona_id\n";
    }
--- request
GET /t
--- more_headers
Cookie: persona_id=alice
--- response_body
0|ok|vip|alice
--- response_headers
!Set-Cookie
--- no_error_log
[error]



=== TEST 3: a cookie of another name, read by default; all attributes
--- config
    location = /t {
        persona on;
        persona_id_cookie vid domain=.example.com path=/shop max_age=1h secure httponly samesite=strict;
        return 200 "$persona_new|$persona_status|$persona_id\n";
    }
--- request
GET /t
--- more_headers
Cookie: persona_id=alice; vid=alice
--- response_body
0|ok|alice



=== TEST 4: the attributes as sent
--- config
    location = /t {
        persona on;
        persona_id_cookie vid domain=.example.com path=/shop max_age=1h secure httponly samesite=strict;
        return 200 "$persona_new\n";
    }
--- request
GET /t
--- more_headers
Cookie: persona_id=alice
--- response_body
1
--- response_headers_like
Set-Cookie: ^vid=[0-9a-f]{32}; Domain=.example.com; Path=/shop; Max-Age=3600; Secure; HttpOnly; SameSite=Strict$



=== TEST 5: an invalid id is replaced by a new one
--- config
    location = /t {
        persona on;
        persona_id_cookie persona_id;
        return 200 "$persona_new|$persona_status\n";
    }
--- request
GET /t
--- more_headers
Cookie: persona_id=bad%0Did
--- response_body
1|miss
--- response_headers_like
Set-Cookie: persona_id=[0-9a-f]{32};.*
--- error_log
invalid visitor id



=== TEST 6: no Redis lookup for a new visitor: Redis down is not noticed
--- http_config
    persona_redis unix:/nonexistent-persona-dir/redis.sock timeout=1s;
--- config
    location = /t {
        persona on;
        persona_id_cookie persona_id;
        return 200 "$persona_new|$persona_status\n";
    }
--- request
GET /t
--- response_body
1|miss
--- no_error_log
[error]



=== TEST 7: rules see visitor.new; the cookie goes out with error pages too
--- config
    persona_rules ../html/rules.json;
    location = /t {
        persona on;
        persona_id_cookie persona_id;
        return 404;
    }
    location = /s {
        persona on;
        persona_id_cookie persona_id;
        return 200 "$persona_segment\n";
    }
--- user_files
>>> rules.json
{ "segments": [ { "name": "first-visit", "when": { "visitor.new": true } } ] }
--- request eval
["GET /t", "GET /s"]
--- error_code eval
[404, 200]
--- response_headers_like eval
["Set-Cookie: persona_id=[0-9a-f]{32};.*", "Set-Cookie: persona_id=[0-9a-f]{32};.*"]
--- response_body_like eval
[".*", "^first-visit\$"]
