# The response filters against nginx's other filters: gzip with a slow
# client and tiny buffers (only the filter's own data buffers are
# recycled), addition (a buffer after the last one), conditional
# requests and ranges for what persona does not personalize, and
# Cache-Control for everything it does (SPEC "Caching").
use Test::Nginx::Socket 'no_plan';
use IO::Socket::INET;

$ENV{TEST_NGINX_REDIS_PORT} ||= 6379;

system("redis-cli -p $ENV{TEST_NGINX_REDIS_PORT} < t/data/profiles.redis"
       . " > /dev/null") == 0
    or die "cannot load t/data/profiles.redis into Redis on port "
           . "$ENV{TEST_NGINX_REDIS_PORT}\n";

our $Rules = <<'JSON';
{
  "segments": [
    { "name": "vip",  "when": { "profile.tier": "gold" } },
    { "name": "reqh", "when": { "arg.seg": "reqh" } },
    { "name": "resh", "when": { "arg.seg": "resh" } }
  ],
  "default": "everyone",
  "experiences": {
    "vip": {
      "blocks": { "hero": "<h1>Welcome back</h1>" },
      "landing": { "/offer": "/data/offer.json" }
    },
    "reqh": { "request_headers": { "X-Offer": "free" } },
    "resh": { "response_headers": { "X-Persona-Offer": "yes" } },
    "everyone": { "blocks": { "hero": "<h1>Welcome</h1>" } }
  }
}
JSON

# a page without markers, hard enough to compress that gzip's 1k buffers
# fill often: numbered lines with a pseudo-random tail
our $Big = '';
{
    my $x = 12345;
    for my $i (1 .. 6000) {
        my $t = '';
        for (1 .. 12) {
            $x = ($x * 1103515245 + 12345) % 2147483648;
            $t .= chr(97 + ($x >> 16) % 26);
        }
        $Big .= sprintf("%06d %s\n", $i, $t);
    }
}

our $Files = ">>> rules.json\n$Rules"
             . ">>> big.html\n$Big"
             . ">>> page.html\n<html><head></head><body>"
             . "<!--persona:hero--></body></html>\n"
             . ">>> img.png 201901010000\nPNGDATA\n"
             . ">>> notes.txt 201901010000\n0123456789\n"
             . ">>> dated.html 201901010000\n<p><!--persona:hero--></p>\n"
             . ">>> data/offer.json 201901010000\n{\"offer\":1}\n";

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value("http_config",
            "    persona_redis 127.0.0.1:\$TEST_NGINX_REDIS_PORT timeout=2s;\n");
    }

    if (!defined $block->user_files) {
        $block->set_value("user_files", $Files);
    }
});

no_long_string();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: gzip, tiny buffers, a slow client: the page comes out in order
--- config
    persona_rules ../html/rules.json;
    location /gz/ {
        persona on;
        default_type text/html;
        alias html/;
        gzip on;
        gzip_min_length 1;
        gzip_buffers 2 1k;
        output_buffers 2 1k;
        limit_rate 100k;
    }
    location = /gunzip {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/gz/big.html;
        proxy_http_version 1.1;
        proxy_set_header Accept-Encoding gzip;
        proxy_set_header Cookie "persona_id=alice";
        gunzip on;
        add_header X-Upstream-Encoding $upstream_http_content_encoding;
    }
--- request
GET /gunzip
--- response_body eval: $main::Big
--- response_headers
X-Upstream-Encoding: gzip
--- timeout: 20
--- no_error_log
[error]
[alert]



=== TEST 2: add_after_body: the addition filter's own last buffer passes through
--- config
    persona_rules ../html/rules.json;
    location /p/ {
        persona on;
        default_type text/html;
        alias html/;
        add_before_body /frag/before.html;
        add_after_body /frag/after.html;
    }
    location /frag/ {
        return 200 "[$uri]";
    }
--- request
GET /p/page.html
--- more_headers
Cookie: persona_id=alice
--- response_body chomp
[/frag/before.html]<html><head></head><body><h1>Welcome back</h1></body></html>
[/frag/after.html]
--- no_error_log
[error]
[alert]



=== TEST 3: add_after_body with the data layer, a proxied page in small pieces
--- config
    persona_rules ../html/rules.json;
    location /p/ {
        persona on;
        persona_data_layer on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/up/;
        proxy_buffering off;
        proxy_buffer_size 1k;
        add_after_body /frag/after.html;
    }
    location /up/ {
        default_type text/html;
        alias html/;
        postpone_output 1;
        output_buffers 1 16;
    }
    location /frag/ {
        return 200 "[$uri]";
    }
--- request
GET /p/page.html
--- response_body_like: ^<html><head><script>window.persona=\{"segment":"everyone".*</script></head><body><h1>Welcome</h1></body></html>\n\[/frag/after.html\]$
--- no_error_log
[error]
[alert]



=== TEST 4: sub_filter after persona, both holding text across buffers
--- config
    persona_rules ../html/rules.json;
    location /p/ {
        persona on;
        default_type text/html;
        alias html/;
        output_buffers 1 3;
        sub_filter "<body>" "<body class=x>";
        sub_filter "Welcome back" "Hello again";
    }
--- request
GET /p/page.html
--- more_headers
Cookie: persona_id=alice
--- response_body
<html><head></head><body class=x><h1>Hello again</h1></body></html>
--- no_error_log
[error]
[alert]



=== TEST 5: not personalized (image/png, anonymous visitor): If-Modified-Since gets a 304
--- config
    persona_rules ../html/rules.json;
    location /s/ {
        persona on;
        types { image/png png; text/plain txt; text/html html; }
        alias html/;
    }
--- request
GET /s/img.png
--- more_headers
If-Modified-Since: Tue, 01 Jan 2019 00:00:00 GMT
--- error_code: 304
--- response_body
--- response_headers
Last-Modified: Tue, 01 Jan 2019 00:00:00 GMT
!Cache-Control
--- no_error_log
[error]
[alert]



=== TEST 6: not personalized (text/plain, a known visitor): If-None-Match gets a 304
--- config
    persona_rules ../html/rules.json;
    location /s/ {
        persona on;
        types { image/png png; text/plain txt; text/html html; }
        alias html/;
    }
--- request
GET /s/notes.txt
--- more_headers
Cookie: persona_id=alice
If-None-Match: *
--- error_code: 304
--- response_body
--- raw_response_headers_like: ETag: "
--- no_error_log
[error]
[alert]



=== TEST 7: not personalized: If-Range and Range give a 206
--- config
    persona_rules ../html/rules.json;
    location /s/ {
        persona on;
        types { image/png png; text/plain txt; text/html html; }
        alias html/;
    }
--- request
GET /s/notes.txt
--- more_headers
Cookie: persona_id=alice
Range: bytes=0-3
If-Range: Tue, 01 Jan 2019 00:00:00 GMT
--- error_code: 206
--- response_body chomp
0123
--- no_error_log
[error]
[alert]



=== TEST 8: personalized (text/html): the whole page, no validators, even after If-None-Match
--- config
    persona_rules ../html/rules.json;
    location /s/ {
        persona on;
        types { image/png png; text/plain txt; text/html html; }
        alias html/;
    }
--- request
GET /s/dated.html
--- more_headers
If-None-Match: *
If-Modified-Since: Tue, 01 Jan 2019 00:00:00 GMT
--- error_code: 200
--- response_body
<p><h1>Welcome</h1></p>
--- response_headers
Cache-Control: private
!ETag
!Last-Modified
--- no_error_log
[error]
[alert]



=== TEST 9: a proxied app sees the conditional headers of a path persona leaves alone, and its 304 passes
--- config
    persona_rules ../html/rules.json;
    location /app/ {
        persona on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/;
    }
    location = /backend/echo.txt {
        default_type text/plain;
        return 200 "ims=[$http_if_modified_since] inm=[$http_if_none_match]\n";
    }
    location = /backend/same.txt {
        return 304;
    }
--- request eval
["GET /app/echo.txt", "GET /app/same.txt"]
--- more_headers
If-Modified-Since: Tue, 01 Jan 2019 00:00:00 GMT
If-None-Match: "v1"
--- error_code eval
[200, 304]
--- response_body eval
["ims=[Tue, 01 Jan 2019 00:00:00 GMT] inm=[\"v1\"]\n", ""]
--- no_error_log
[error]
[alert]



=== TEST 10: a landing to a JSON file is private: no max-age of its own, no validators, no 304
--- config
    persona_rules ../html/rules.json;
    location = /offer {
        persona on;
    }
    location /data/ {
        types { application/json json; text/html html; }
        root html;
        expires 1h;
    }
--- request
GET /offer
--- more_headers
Cookie: persona_id=alice
If-Modified-Since: Tue, 01 Jan 2019 00:00:00 GMT
--- error_code: 200
--- response_body
{"offer":1}
--- response_headers
Content-Type: application/json
Cache-Control: private, max-age=3600
!ETag
!Last-Modified
--- no_error_log
[error]
[alert]



=== TEST 11: an experience with only request_headers makes the proxied answer private
--- config
    persona_rules ../html/rules.json;
    location /app/ {
        persona on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/;
    }
    location = /backend/offer {
        default_type application/json;
        add_header Cache-Control "public, max-age=600";
        return 200 "offer=[$http_x_offer]\n";
    }
--- request
GET /app/offer?seg=reqh
--- response_body
offer=[free]
--- response_headers
Cache-Control: private, max-age=600
--- no_error_log
[error]
[alert]



=== TEST 12: the same proxied answer for an experience that does nothing to it stays public
--- config
    persona_rules ../html/rules.json;
    location /app/ {
        persona on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend/;
    }
    location = /backend/offer {
        default_type application/json;
        add_header Cache-Control "public, max-age=600";
        return 200 "offer=[$http_x_offer]\n";
    }
--- request
GET /app/offer
--- response_body
offer=[]
--- response_headers
Cache-Control: public, max-age=600
--- no_error_log
[error]
[alert]



=== TEST 13: response_headers make a PNG private and refuse its 304
--- config
    persona_rules ../html/rules.json;
    location /s/ {
        persona on;
        types { image/png png; text/plain txt; text/html html; }
        alias html/;
    }
--- request
GET /s/img.png?seg=resh
--- more_headers
If-Modified-Since: Tue, 01 Jan 2019 00:00:00 GMT
--- error_code: 200
--- response_body
PNGDATA
--- response_headers
X-Persona-Offer: yes
Cache-Control: private
!Last-Modified
!ETag
--- no_error_log
[error]
[alert]



=== TEST 14: a slow client, tiny buffers, no gzip: the whole page, in order
--- config
    persona_rules ../html/rules.json;
    location /p/ {
        persona on;
        default_type text/html;
        alias html/;
        output_buffers 2 1k;
        sendfile off;
        limit_rate 200k;
    }
--- request
GET /p/big.html
--- more_headers
Cookie: persona_id=alice
--- response_body eval: $main::Big
--- timeout: 20
--- no_error_log
[error]
[alert]
