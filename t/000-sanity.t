# Sanity of the test plumbing itself, with stock nginx only (no persona
# directives): runs the same under the CPAN Test::Nginx::Socket and under
# the fallback in t/lib, with or without the module loaded.

use Test::Nginx::Socket;
use IO::Socket::INET ();

# The mock TCP server of tcp_listen needs a port nobody else uses.
$ENV{TEST_NGINX_MOCK_PORT} ||= do {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1)
        or die "no free port: $!";
    $s->sockport;
};
$ENV{TEST_NGINX_SANITY_VALUE} = 'from-env';

repeat_each(2);

# tests per block, in block order
plan tests => repeat_each() * (5 + 4 + 3 + 6 + 3 + 4 + 3 + 5 + 4 + 2 + 2
                               + 1 + 2);

no_long_string();
no_shuffle();

run_tests();

__DATA__

=== TEST 1: response body, headers present and absent
--- config
    location = /t {
        add_header X-Sanity yes;
        return 200 "hello\n";
    }
--- request
GET /t
--- response_headers
X-Sanity: yes
!X-Missing
--- response_body
hello
--- no_error_log
[error]



=== TEST 2: more_headers reach nginx; response_body_like
--- config
    location = /echo {
        return 200 "foo=$http_x_foo\n";
    }
--- more_headers
X-Foo: bar
--- request
GET /echo
--- error_code: 200
--- response_body_like: ^foo=bar$
--- no_error_log
[error]
[alert]



=== TEST 3: user_files under the html dir, $TEST_NGINX_* expanded
--- http_config
    map $uri $sanity_value {
        default "$TEST_NGINX_SANITY_VALUE";
    }
--- config
    location /files/ {
        add_header X-Value $sanity_value;
    }
--- user_files
>>> files/a.txt
hello from a file
--- request
GET /files/a.txt
--- response_headers
X-Value: from-env
--- response_body
hello from a file



=== TEST 4: several requests, one expectation each
--- config
    location = /a {
        return 200 "a\n";
    }
--- request eval
["GET /a", "GET /nothing-here"]
--- error_code eval
[200, 404]
--- response_body eval
["a\n", qr/404 Not Found/]
--- no_error_log
[alert]



=== TEST 5: error_log with a string and a regex
--- config
--- request
GET /missing.html
--- error_code: 404
--- error_log eval
[qr/\[error\] .*open\(\) ".*\/html\/missing\.html" failed/,
 "No such file or directory"]



=== TEST 6: pipelined requests
--- config
    location /p {
        return 200 "$uri\n";
    }
--- pipelined_requests eval
["GET /p1", "GET /p2"]
--- response_body eval
["/p1\n", "/p2\n"]



=== TEST 7: a POST body gets a Content-Length
--- config
    location = /len {
        return 200 "len=$content_length\n";
    }
--- request
POST /len
hello world
--- response_body
len=11
--- response_headers
Content-Type: text/plain



=== TEST 8: mock TCP server behind proxy_pass
--- config
    location = /proxy {
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT/up;
    }
--- tcp_listen eval: $ENV{TEST_NGINX_MOCK_PORT}
--- tcp_query eval
"GET /up HTTP/1.0\r
Host: 127.0.0.1:$ENV{TEST_NGINX_MOCK_PORT}\r
Connection: close\r
\r
"
--- tcp_reply eval
"HTTP/1.0 200 OK\r\nX-Mock: 1\r\n\r\nfrom mock\n"
--- request
GET /proxy
--- response_headers
X-Mock: 1
--- response_body
from mock
--- no_error_log
[error]



=== TEST 9: mock that stalls: nginx times out
--- config
    location = /slow {
        proxy_read_timeout 200ms;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    }
--- tcp_listen eval: $ENV{TEST_NGINX_MOCK_PORT}
--- tcp_reply_delay: 1s
--- tcp_reply eval
"HTTP/1.0 200 OK\r\n\r\ntoo late\n"
--- request
GET /slow
--- error_code: 504
--- response_body_like: 504 Gateway Time-out
--- error_log
upstream timed out
--- log_level: warn
--- no_error_log
[debug]



=== TEST 10: mock that closes without answering
--- config
    location = /closed {
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    }
--- tcp_listen eval: $ENV{TEST_NGINX_MOCK_PORT}
--- tcp_reply:
--- request
GET /closed
--- error_code: 502
--- error_log
upstream prematurely closed connection



=== TEST 11: raw_request is sent as is
--- config
    location = /raw {
        return 200 "$server_protocol\n";
    }
--- raw_request eval
"GET /raw HTTP/1.0\r\nHost: localhost\r\n\r\n"
--- response_body
HTTP/1.0



=== TEST 12: must_die with an unknown directive
--- config
    location = /t {
        no_such_directive_anywhere on;
    }
--- must_die



=== TEST 13: must_die, error checked in error.log (a bind() failure)
--- config
    location = /t {
        return 200;
    }
--- http_config
    server {
        listen unix:/nonexistent-persona-dir/nginx.sock;
    }
--- must_die
--- error_log
bind() to unix:/nonexistent-persona-dir/nginx.sock failed
