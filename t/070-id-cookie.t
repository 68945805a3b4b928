# persona_id_cookie: a random id for visitors without one, in a cookie;
# no Redis lookup on that request; $persona_new; the cookie's attributes
# (HttpOnly by default, Secure on https with secure=auto); no cookie for
# bots, nor with Sec-GPC: 1 (persona_respect_gpc); responses that set it
# are private.
use Test::Nginx::Socket 'no_plan';
use File::Temp qw(tempdir);

$ENV{TEST_NGINX_REDIS_PORT} ||= 6379;

# A self-signed certificate for an https server on a unix socket, which
# the test server proxies to (the test client speaks plain HTTP).
my $tls = tempdir('persona-tls-XXXXXX', TMPDIR => 1, CLEANUP => 1);
chmod 0755, $tls;
system("openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1"
       . " -nodes -days 2"
       . " -subj /CN=localhost -keyout $tls/key.pem -out $tls/cert.pem"
       . " > /dev/null 2>&1") == 0
    or die "cannot make a test certificate with openssl\n";
$ENV{TEST_NGINX_PERSONA_TLS} = $tls;

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

    # a browser's User-Agent unless the block says otherwise (no or an
    # empty User-Agent is a bot, and bots get no id)
    my $more = $block->more_headers // '';
    if (!ref $more && $more !~ /^User-Agent:/mi) {
        $block->set_value("more_headers",
            "User-Agent: Mozilla/5.0 (X11; Linux x86_64)\n$more");
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
Set-Cookie: ^persona_id=[0-9a-f]{32}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax$
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



=== TEST 8: bots get no id: a crawler, curl, an empty User-Agent
--- config
    location = /t {
        persona on;
        persona_id_cookie persona_id;
        return 200 "$persona_new|$persona_status|$persona_id|\n";
    }
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
["User-Agent: Mozilla/5.0 (compatible; Googlebot/2.1)",
 "User-Agent: curl/7.88.1",
 "User-Agent: "]
--- response_body eval
["0|anonymous||\n", "0|anonymous||\n", "0|anonymous||\n"]
--- response_headers eval
["!Set-Cookie", "!Set-Cookie", "!Set-Cookie"]
--- no_error_log
[error]



=== TEST 9: a bot with an id is still looked up and personalized
--- config
    location = /t {
        persona on;
        persona_id_cookie persona_id;
        return 200 "$persona_new|$persona_status|$persona_segment\n";
    }
--- request
GET /t
--- more_headers
User-Agent: Googlebot/2.1
Cookie: persona_id=alice
--- response_body
0|ok|vip
--- response_headers
!Set-Cookie
--- no_error_log
[error]



=== TEST 10: secure=on httponly=off; secure=off
--- config
    location = /on {
        persona on;
        persona_id_cookie vid secure=on httponly=off samesite=none;
        return 200 "$persona_new\n";
    }
    location = /off {
        persona on;
        persona_id_cookie vid secure=off httponly=on;
        return 200 "$persona_new\n";
    }
--- request eval
["GET /on", "GET /off"]
--- response_body eval
["1\n", "1\n"]
--- response_headers_like eval
["Set-Cookie: ^vid=[0-9a-f]{32}; Path=/; Max-Age=31536000; Secure; SameSite=None\$",
 "Set-Cookie: ^vid=[0-9a-f]{32}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax\$"]
--- no_error_log
[error]



=== TEST 11: secure=auto adds Secure on https; forged X-Forwarded-Proto does not on http
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=2s;
    server {
        listen unix:$TEST_NGINX_PERSONA_TLS/tls.sock ssl;
        ssl_certificate $TEST_NGINX_PERSONA_TLS/cert.pem;
        ssl_certificate_key $TEST_NGINX_PERSONA_TLS/key.pem;
        location / {
            persona on;
            persona_id_cookie persona_id;
            return 200 "$scheme|$persona_new\n";
        }
    }
--- config
    location = /https {
        proxy_pass https://unix:$TEST_NGINX_PERSONA_TLS/tls.sock:/;
        proxy_ssl_session_reuse off;
    }
    location = /http {
        persona on;
        persona_id_cookie persona_id;
        return 200 "$scheme|$persona_new\n";
    }
--- request eval
["GET /https", "GET /http"]
--- more_headers
X-Forwarded-Proto: https
--- response_body eval
["https|1\n", "http|1\n"]
--- response_headers_like eval
["Set-Cookie: ^persona_id=[0-9a-f]{32}; Path=/; Max-Age=31536000; Secure; HttpOnly; SameSite=Lax\$",
 "Set-Cookie: ^persona_id=[0-9a-f]{32}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax\$"]
--- no_error_log
[error]
[warn]



=== TEST 12: secure=off is never Secure, even on https
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=2s;
    server {
        listen unix:$TEST_NGINX_PERSONA_TLS/tls.sock ssl;
        ssl_certificate $TEST_NGINX_PERSONA_TLS/cert.pem;
        ssl_certificate_key $TEST_NGINX_PERSONA_TLS/key.pem;
        location / {
            persona on;
            persona_id_cookie persona_id secure=off;
            return 200 "$scheme|$persona_new\n";
        }
    }
--- config
    location = /https {
        proxy_pass https://unix:$TEST_NGINX_PERSONA_TLS/tls.sock:/;
        proxy_ssl_session_reuse off;
    }
--- request
GET /https
--- response_body
https|1
--- response_headers_like
Set-Cookie: ^persona_id=[0-9a-f]{32}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax$
--- no_error_log
[error]



=== TEST 13: Sec-GPC: 1 gets no id (persona_respect_gpc on by default)
--- config
    location = /t {
        persona on;
        persona_id_cookie persona_id;
        return 200 "$persona_new|$persona_status|$persona_id|\n";
    }
--- request
GET /t
--- more_headers
User-Agent: Mozilla/5.0
Sec-GPC: 1
--- response_body
0|anonymous||
--- response_headers
!Set-Cookie
--- no_error_log
[error]



=== TEST 14: Sec-GPC: 1 with an id is still personalized
--- config
    location = /t {
        persona on;
        persona_id_cookie persona_id;
        return 200 "$persona_new|$persona_status|$persona_segment\n";
    }
--- request
GET /t
--- more_headers
User-Agent: Mozilla/5.0
Sec-GPC: 1
Cookie: persona_id=alice
--- response_body
0|ok|vip
--- no_error_log
[error]



=== TEST 15: persona_respect_gpc off, or Sec-GPC other than 1: an id is issued
--- config
    location = /off {
        persona on;
        persona_id_cookie persona_id;
        persona_respect_gpc off;
        return 200 "$persona_new\n";
    }
    location = /on {
        persona on;
        persona_id_cookie persona_id;
        return 200 "$persona_new\n";
    }
--- request eval
["GET /off", "GET /on"]
--- more_headers eval
["User-Agent: Mozilla/5.0\nSec-GPC: 1", "User-Agent: Mozilla/5.0\nSec-GPC: 0"]
--- response_body eval
["1\n", "1\n"]
--- response_headers_like eval
["Set-Cookie: persona_id=[0-9a-f]{32};.*", "Set-Cookie: persona_id=[0-9a-f]{32};.*"]
--- no_error_log
[error]
