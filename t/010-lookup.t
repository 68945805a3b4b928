# Profile lookup: hash and JSON profiles, ids, keys, variables.
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_REDIS_PORT} ||= 6379;
# a unix socket of the same Redis; make test's runner sets it
$ENV{TEST_NGINX_REDIS_SOCKET} ||= '/run/redis/redis-server.sock';

system("redis-cli -p $ENV{TEST_NGINX_REDIS_PORT} < t/data/profiles.redis"
       . " > /dev/null") == 0
    or die "cannot load t/data/profiles.redis into Redis on port "
           . "$ENV{TEST_NGINX_REDIS_PORT}\n";

no_long_string();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: hash profile: segment, status and fields
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    location = /t {
        persona on;
        return 200 "$persona_id|$persona_status|$persona_segment|$persona_segments|$persona_profile_tier|$persona_profile_first_name|$persona_new\n";
    }
--- request
GET /t
--- more_headers
Cookie: persona_id=alice
--- response_body
alice|ok|vip|vip|gold|Alice|0
--- no_error_log
[error]
[warn]
[alert]



=== TEST 2: no profile under the key: miss, default segment
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    location = /t {
        persona on;
        return 200 "$persona_id|$persona_status|$persona_segment|$persona_segments|$persona_profile_tier\n";
    }
--- request
GET /t
--- more_headers
Cookie: persona_id=nobody-here
--- response_body
nobody-here|miss|default||
--- no_error_log
[error]
[alert]



=== TEST 3: a profile without a segment field gets the default segment
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    location = /t {
        persona on;
        return 200 "$persona_status|$persona_segment|$persona_profile_tier\n";
    }
--- request
GET /t
--- more_headers
Cookie: persona_id=silver
--- response_body
ok|default|silver
--- no_error_log
[error]
[alert]



=== TEST 4: no id: anonymous, Redis is not asked
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    location = /t {
        persona on;
        return 200 "[$persona_id]|$persona_status|$persona_segment\n";
    }
--- request
GET /t
--- response_body
[]|anonymous|default
--- no_error_log
persona redis: HGETALL
[error]



=== TEST 5: JSON profile: nested fields are flattened, arrays joined
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    location = /t {
        persona on;
        persona_profile_format json;
        persona_profile_key persona:json:$persona_id;
        return 200 "$persona_status|$persona_segment|$persona_profile_ltv|$persona_profile_address_city|$persona_profile_tags|$persona_profile_first_name|[$persona_profile_address]\n";
    }
--- request
GET /t
--- more_headers
Cookie: persona_id=bob
--- response_body
ok|spender|1200|Paris|a,b|Bob|[]
--- no_error_log
[error]
[warn]



=== TEST 6: JSON profile that is not JSON: invalid status, one warning
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    location = /t {
        persona on;
        persona_profile_format json;
        persona_profile_key persona:json:$persona_id;
        return 200 "$persona_status|$persona_segment\n";
    }
--- request
GET /t
--- more_headers
Cookie: persona_id=bad
--- response_body
invalid|default
--- error_log
persona: unusable profile for visitor "bad": invalid JSON profile
--- no_error_log
[error]
[alert]



=== TEST 7: JSON profile that is an array
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    location = /t {
        persona on;
        persona_profile_format json;
        persona_profile_key persona:json:$persona_id;
        return 200 "$persona_status|$persona_segment\n";
    }
--- request
GET /t
--- more_headers
Cookie: persona_id=arr
--- response_body
invalid|default
--- error_log
JSON profile is not an object



=== TEST 8: wrong type under the key (a string where a hash is expected)
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
Cookie: persona_id=str
--- response_body
invalid|default
--- error_log
WRONGTYPE
--- no_error_log
[error]
[alert]



=== TEST 9: a JSON format reading a hash key: wrong type
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    location = /t {
        persona on;
        persona_profile_format json;
        persona_profile_key persona:json:$persona_id;
        return 200 "$persona_status|$persona_segment\n";
    }
--- request
GET /t
--- more_headers
Cookie: persona_id=alice
--- response_body
invalid|default
--- error_log
WRONGTYPE



=== TEST 10: persona_id: the first non-empty value wins
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    location = /t {
        persona on;
        persona_id $http_x_visitor $arg_vid $cookie_persona_id;
        return 200 "$persona_id|$persona_segment\n";
    }
--- request
GET /t?vid=alice
--- more_headers
Cookie: persona_id=silver
--- response_body
alice|vip
--- no_error_log
[error]



=== TEST 11: an id longer than 128 bytes is anonymous and never sent
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    location = /t {
        persona on;
        persona_id $http_x_visitor;
        return 200 "[$persona_id]|$persona_status\n";
    }
--- request
GET /t
--- more_headers eval
"X-Visitor: " . ("a" x 129)
--- response_body
[]|anonymous
--- error_log
persona: invalid visitor id (129 bytes), treated as anonymous
--- no_error_log
persona redis: HGETALL
[error]



=== TEST 12: ids with bytes outside [A-Za-z0-9._:@-] are anonymous
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    location = /t {
        persona on;
        persona_id $arg_id;
        return 200 "[$persona_id]|$persona_status\n";
    }
--- request eval
["GET /t?id=a%0D%0Ab", "GET /t?id=a*", "GET /t?id=%7Balice%7D", "GET /t?id=a%20b"]
--- response_body eval
["[]|anonymous\n", "[]|anonymous\n", "[]|anonymous\n", "[]|anonymous\n"]
--- no_error_log
persona redis: HGETALL
[error]



=== TEST 13: an id of exactly 128 allowed bytes is looked up
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    location = /t {
        persona on;
        persona_id $http_x_visitor;
        return 200 "$persona_status\n";
    }
--- request
GET /t
--- more_headers eval
"X-Visitor: " . ("a.:@-_Z9" x 16)
--- response_body
miss
--- no_error_log
[error]
[warn]



=== TEST 14: persona_profile_key with a custom layout
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    location = /t {
        persona on;
        persona_profile_key custom:$persona_id;
        return 200 "$persona_segment\n";
    }
--- request
GET /t
--- more_headers
Cookie: persona_id=alice
--- response_body
custom-seg
--- no_error_log
[error]



=== TEST 15: the segment drives if / return in the same location
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    location = /t {
        persona on;
        persona_id $arg_vid;
        if ($persona_segment = vip) {
            return 302 /vip;
        }
        return 200 "not vip\n";
    }
--- request eval
["GET /t?vid=alice", "GET /t?vid=silver"]
--- error_code eval
[302, 200]
--- no_error_log
[error]



=== TEST 16: add_header and proxy_set_header see the segment
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    location = /t {
        persona on;
        add_header X-Persona-Segment $persona_segment;
        proxy_set_header X-Persona-Segment $persona_segment;
        proxy_set_header X-Persona-Tier $persona_profile_tier;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        return 200 "backend saw $http_x_persona_segment/$http_x_persona_tier\n";
    }
--- request
GET /t
--- more_headers
Cookie: persona_id=alice
--- response_headers
X-Persona-Segment: vip
--- response_body
backend saw vip/gold
--- no_error_log
[error]



=== TEST 17: log_format sees the result
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
    log_format persona "persona-log id=$persona_id segment=$persona_segment status=$persona_status";
--- config
    location = /t {
        persona on;
        access_log logs/error.log persona;
        return 200 "ok\n";
    }
--- request
GET /t
--- more_headers
Cookie: persona_id=alice
--- response_body
ok
--- error_log
persona-log id=alice segment=vip status=ok
--- no_error_log
[error]



=== TEST 18: control bytes in profile values never reach headers
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    location = /t {
        persona on;
        add_header X-Note $persona_profile_note;
        add_header X-Segment $persona_segment;
        return 200 "$persona_profile_first_name\n";
    }
--- request
GET /t
--- more_headers
Cookie: persona_id=mallory
--- response_headers
X-Note: line1Set-Cookie: x=1
X-Segment: default
!X-Evil
--- response_body
<script>alert(1)</script>
--- no_error_log
[error]



=== TEST 19: persona off: variables are empty, status off
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    location = /t {
        return 200 "[$persona_id]|$persona_status|[$persona_segment]\n";
    }
--- request
GET /t
--- more_headers
Cookie: persona_id=alice
--- response_body
[]|off|[]
--- no_error_log
persona redis: HGETALL
[error]



=== TEST 20: server-level rewrite directives run first and see status off
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    set $early $persona_status;
    location = /t {
        persona on;
        return 200 "$early|$persona_status\n";
    }
--- request
GET /t
--- more_headers
Cookie: persona_id=alice
--- response_body
off|ok
--- no_error_log
[error]



=== TEST 21: unix socket, db= selects the database
--- http_config
    persona_redis unix:$TEST_NGINX_REDIS_SOCKET db=0 timeout=1s;
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



=== TEST 22: db= another database: the profile is not there
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT db=7 timeout=1s;
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
miss|default
--- no_error_log
[error]
