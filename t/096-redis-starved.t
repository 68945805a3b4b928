# A worker out of connections (worker_connections) cannot open one to
# Redis: the lookup fails here, not in Redis, and the breaker does not
# count it (issue 8).  worker_connections is set for the whole file, so
# this has a file of its own: one slot for the listening socket, one for
# the client (and one for the master's channel when the harness runs a
# master process), none left for Redis.
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_REDIS_PORT} ||= 6379;

worker_connections(($ENV{TEST_NGINX_MASTER_PROCESS} // 'off') eq 'on'
                   ? 3 : 2);

no_long_string();
run_tests();

__DATA__

=== TEST 1: no free worker connection for Redis: error, the breaker stays closed
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s max_fails=1 fail_timeout=30s;
--- config
    lingering_close off;
    keepalive_timeout 0;

    location = /t {
        persona on;
        return 200 "$persona_status\n";
    }
--- request eval
["GET /t?1", "GET /t?2", "GET /t?3"]
--- more_headers
Cookie: persona_id=alice
--- response_body eval
["error\n", "error\n", "error\n"]
--- grep_error_log eval: qr/persona: no connection to \S+ could be opened here|breaker opened/
--- grep_error_log_out eval: qr/\Apersona: no connection to \S+ could be opened here\n\z/
--- no_error_log
[crit]
[emerg]
