# persona_metrics with a master and two workers: the page sums the
# counters of both (each request on its own connection, so either worker
# may take it), and the rules' load time, set while the master read the
# configuration, is there.
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_REDIS_PORT} ||= 6379;

system("printf '%s\\n' 'DEL persona:metrics:w1'"
       . " 'HSET persona:metrics:w1 tier gold'"
       . " | redis-cli -p $ENV{TEST_NGINX_REDIS_PORT} > /dev/null") == 0
    or die "cannot seed Redis on port $ENV{TEST_NGINX_REDIS_PORT}\n";

our $Rules = <<'JSON';
{
  "segments": [ { "name": "vip", "when": { "profile.tier": "gold" } } ],
  "default": "everyone"
}
JSON

master_on();
workers(2);

no_long_string();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: 12 vip + 8 miss over two workers: one sum
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=2s;
--- config
    persona_rules ../html/rules.json;
    persona_profile_key persona:metrics:$persona_id;
    location = /t {
        persona on;
        persona_id $arg_id;
        return 200 "$persona_status|$persona_segment\n";
    }
    location = /metrics {
        persona_metrics;
    }
--- user_files eval: ">>> rules.json\n$main::Rules"
--- request eval
[(map { "GET /t?id=w1" } 1 .. 12), (map { "GET /t?id=n$_" } 1 .. 8),
 "GET /metrics"]
--- response_body_like eval
[(map { "^ok\\|vip\$" } 1 .. 12), (map { "^miss\\|everyone\$" } 1 .. 8),
 '(?m)\A(?=.*^persona_requests_total\{status="ok"\} 12$)'
 . '(?=.*^persona_requests_total\{status="miss"\} 8$)'
 . '(?=.*^persona_segment_total\{segment="vip"\} 12$)'
 . '(?=.*^persona_segment_total\{segment="everyone"\} 8$)'
 . '(?=.*^persona_redis_latency_seconds_count 20$)'
 . '(?=.*^persona_redis_connections [12]$)'
 . '(?=.*^persona_rules_loaded_timestamp_seconds 1\d{9}$)']
--- no_error_log
[error]
[alert]
[emerg]
