# Blocks injected into page slots, the data layer, response headers and
# cache headers: static files (sendfile on and off, tiny output buffers),
# chunked upstreams that send the page in tiny pieces (buffered and not),
# gzip on the way out, compressed upstreams, HEAD, 304, ranges,
# subrequests, landing targets, hostile profile values.
use Test::Nginx::Socket 'no_plan';
use IO::Socket::INET;
use IO::Compress::Gzip qw(gzip $GzipError);

$ENV{TEST_NGINX_REDIS_PORT} ||= 6379;

# a free loopback port for the mock upstream
for my $name (qw(TEST_NGINX_MOCK_PORT)) {
    next if $ENV{$name};
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1)
        or die "no free port: $!\n";
    $ENV{$name} = $s->sockport;
    close $s;
}

system("redis-cli -p $ENV{TEST_NGINX_REDIS_PORT} < t/data/profiles.redis"
       . " > /dev/null") == 0
    or die "cannot load t/data/profiles.redis into Redis on port "
           . "$ENV{TEST_NGINX_REDIS_PORT}\n";

our $Rules = <<'JSON';
{
  "segments": [
    { "name": "vip",     "when": { "profile.tier": "gold" } },
    { "name": "hostile", "when": { "arg.seg": "hostile" } },
    { "name": "headers", "when": { "arg.seg": "headers" } },
    { "name": "bare",    "when": { "arg.seg": "bare" } }
  ],
  "default": "everyone",
  "experiences": {
    "vip": {
      "blocks": {
        "hero":  "<h1>Welcome back, {{profile.first_name|friend}}</h1>",
        "offer": "<b>Free shipping</b>"
      },
      "landing": { "/landing": "/lp/page.html" }
    },
    "everyone": { "blocks": { "hero": "<h1>Welcome</h1>" } },
    "hostile": {
      "blocks": { "hero": "<p>Hi {{profile.first_name}} from {{arg.from|nowhere}}</p>" },
      "response_headers": { "X-Persona-Note": "{{profile.note}}" }
    },
    "headers": {
      "response_headers": {
        "Cache-Control": "public, max-age=600, s-maxage=3600",
        "Link": "</vip.css>; rel=preload; as=style",
        "ETag": "\"seg-etag\"",
        "Last-Modified": "Wed, 01 Jan 2025 00:00:00 GMT",
        "Expires": "",
        "X-Persona-Offer": "vip-{{arg.offer|none}}"
      }
    },
    "bare": { }
  }
}
JSON

# both slot forms, several slots, slots without blocks, and text that
# only looks like a marker
our $Page = <<'HTML';
<html><head><title>Shop</title></head><body>
<!--persona:hero-->
<div><!--persona:offer-->Default offer<!--/persona:offer--></div>
<p><!--persona:missing--></p>
<p><!--persona:nope-->kept default<!--/persona:nope--></p>
<!-- persona:hero --> <!--persona:hero
</body></html>
HTML

our $VipPage = <<'HTML';
<html><head><title>Shop</title></head><body>
<h1>Welcome back, Alice</h1>
<div><b>Free shipping</b></div>
<p></p>
<p>kept default</p>
<!-- persona:hero --> <!--persona:hero
</body></html>
HTML

our $EveryonePage = <<'HTML';
<html><head><title>Shop</title></head><body>
<h1>Welcome</h1>
<div>Default offer</div>
<p></p>
<p>kept default</p>
<!-- persona:hero --> <!--persona:hero
</body></html>
HTML

our $Layer = '<script>window.persona={"segment":"%s","segments":[%s],'
             . '"variants":{}};</script>';

our $VipLayerPage = $VipPage;
$VipLayerPage =~ s{</head>}{sprintf($Layer, 'vip', '"vip"') . '</head>'}e;

our $BarePage = <<'HTML';
<html><head><title>Shop</title></head><body>

<div>Default offer</div>
<p></p>
<p>kept default</p>
<!-- persona:hero --> <!--persona:hero
</body></html>
HTML
$BarePage =~ s{</head>}{sprintf($Layer, 'bare', '"bare"') . '</head>'}e;

# a region default within the hold bound is dropped; a longer one is
# page content after a single marker
our $DropPage = "<!--persona:offer-->" . ("y" x 10000)
                . "<!--/persona:offer-->end\n";
our $KeepPage = "<!--persona:offer-->" . ("z" x 20000)
                . "<!--/persona:offer-->end\n";

our $Files = ">>> rules.json\n$Rules"
             . ">>> page.html\n$Page"
             . ">>> dated.html 201901010000\n$Page"
             . ">>> drop.html\n$DropPage"
             . ">>> keep.html\n$KeepPage"
             . ">>> ssi.html\n<p><!--persona:hero--></p>\n"
             . "<!--# include virtual=\"/frag.html\" -->\n"
             . ">>> frag.html\n<i><!--persona:hero--></i>\n";

# an HTTP/1.1 response whose chunked body comes in pieces of 1, 2, 3, 5,
# 7, 11 and 13 bytes: markers are cut at every kind of place
sub chunked_reply {
    my ($body, $headers) = @_;
    my @sizes = (1, 2, 3, 5, 7, 11, 13);
    my ($out, $i) = ('', 0);
    while (length $body) {
        my $piece = substr $body, 0, $sizes[$i++ % @sizes], '';
        $out .= sprintf("%x\r\n%s\r\n", length $piece, $piece);
    }
    return "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
           . ($headers // '')
           . "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
           . $out . "0\r\n\r\n";
}

our $ChunkedReply = chunked_reply($Page);

gzip(\$Page => \our $GzPage) or die "gzip: $GzipError\n";

our $GzReply = "HTTP/1.1 200 OK\r\nContent-Type: text/html\r\n"
               . "Content-Encoding: gzip\r\n"
               . "Content-Length: " . length($GzPage) . "\r\n"
               . "Connection: close\r\n\r\n" . $GzPage;

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

=== TEST 1: static file: both slot forms, several slots, missing blocks
--- config
    persona_rules ../html/rules.json;
    location /p/ {
        persona on;
        default_type text/html;
        alias html/;
    }
--- request
GET /p/page.html
--- more_headers
Cookie: persona_id=alice
--- response_body eval: $main::VipPage
--- response_headers
Cache-Control: private
!Content-Length
!ETag
!Last-Modified
!Accept-Ranges
--- no_error_log
[error]
[warn]



=== TEST 2: the default segment's blocks; a region without block keeps its default
--- config
    persona_rules ../html/rules.json;
    location /p/ {
        persona on;
        default_type text/html;
        alias html/;
    }
--- request
GET /p/page.html
--- response_body eval: $main::EveryonePage
--- response_headers
Cache-Control: private
!Content-Length
--- no_error_log
[error]



=== TEST 3: persona off: no change at all
--- config
    persona_rules ../html/rules.json;
    location /p/ {
        default_type text/html;
        alias html/;
    }
--- request
GET /p/page.html
--- more_headers
Cookie: persona_id=alice
--- response_body eval: $main::Page
--- response_headers
!Cache-Control
--- raw_response_headers_like eval
qr/Content-Length: \d+\r\n.*ETag: "[^"]+"\r\n.*Accept-Ranges: bytes\r\n/s
--- no_error_log
[error]



=== TEST 4: persona on, a type not in persona_types: no change at all
--- config
    persona_rules ../html/rules.json;
    location /p/ {
        persona on;
        types { }
        default_type text/plain;
        alias html/;
    }
--- request
GET /p/page.html
--- more_headers
Cookie: persona_id=alice
--- response_body eval: $main::Page
--- response_headers
!Cache-Control
Content-Type: text/plain
--- raw_response_headers_like eval
qr/Content-Length: \d+\r\n.*Last-Modified: .*ETag: "[^"]+"\r\n/s
--- no_error_log
[error]



=== TEST 5: persona_types adds a type
--- config
    persona_rules ../html/rules.json;
    location /p/ {
        persona on;
        persona_types text/plain;
        types { }
        default_type text/plain;
        alias html/;
    }
--- request
GET /p/page.html
--- more_headers
Cookie: persona_id=alice
--- response_body eval: $main::VipPage
--- response_headers
Cache-Control: private
!Content-Length
--- no_error_log
[error]



=== TEST 6: persona_inject off: body untouched, still private
--- config
    persona_rules ../html/rules.json;
    location /p/ {
        persona on;
        persona_inject off;
        default_type text/html;
        alias html/;
    }
--- request
GET /p/page.html
--- more_headers
Cookie: persona_id=alice
--- response_body eval: $main::Page
--- response_headers
Cache-Control: private
!ETag
!Last-Modified
--- raw_response_headers_like: Content-Length: \d+\r\n
--- no_error_log
[error]



=== TEST 7: an experience without blocks and no data layer: body untouched
--- config
    persona_rules ../html/rules.json;
    location /p/ {
        persona on;
        default_type text/html;
        alias html/;
    }
--- request
GET /p/page.html?seg=bare
--- response_body eval: $main::Page
--- response_headers
Cache-Control: private
--- raw_response_headers_like: Content-Length: \d+\r\n
--- no_error_log
[error]



=== TEST 8: data layer before </head> with the blocks
--- config
    persona_rules ../html/rules.json;
    location /p/ {
        persona on;
        persona_data_layer on;
        default_type text/html;
        alias html/;
    }
--- request
GET /p/page.html
--- more_headers
Cookie: persona_id=alice
--- response_body eval: $main::VipLayerPage
--- no_error_log
[error]



=== TEST 9: data layer without blocks: the filter runs, markers are removed
--- config
    persona_rules ../html/rules.json;
    location /p/ {
        persona on;
        persona_data_layer on;
        default_type text/html;
        alias html/;
    }
--- request
GET /p/page.html?seg=bare
--- response_body eval: $main::BarePage
--- response_headers
!Content-Length
--- no_error_log
[error]



=== TEST 10: static file read in 5-byte buffers (output_buffers 1 5, sendfile off)
--- config
    persona_rules ../html/rules.json;
    location /p/ {
        persona on;
        persona_data_layer on;
        default_type text/html;
        alias html/;
        sendfile off;
        output_buffers 1 5;
    }
--- request
GET /p/page.html
--- more_headers
Cookie: persona_id=alice
--- response_body eval: $main::VipLayerPage
--- no_error_log
[error]



=== TEST 11: sendfile on: file buffers are read, not skipped; postpone_output 1
--- config
    persona_rules ../html/rules.json;
    location /p/ {
        persona on;
        default_type text/html;
        alias html/;
        sendfile on;
        output_buffers 2 7;
        postpone_output 1;
    }
--- request
GET /p/page.html
--- more_headers
Cookie: persona_id=alice
--- response_body eval: $main::VipPage
--- no_error_log
[error]



=== TEST 12: chunked upstream in tiny pieces, buffered
--- config
    persona_rules ../html/rules.json;
    location /up {
        persona on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
        proxy_http_version 1.1;
    }
--- tcp_listen eval: $ENV{TEST_NGINX_MOCK_PORT}
--- tcp_reply eval: $main::ChunkedReply
--- request
GET /up
--- more_headers
Cookie: persona_id=alice
--- response_body eval: $main::VipPage
--- response_headers
Cache-Control: private
--- no_error_log
[error]



=== TEST 13: chunked upstream in tiny pieces, proxy_buffering off, data layer
--- config
    persona_rules ../html/rules.json;
    location /up {
        persona on;
        persona_data_layer on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
        proxy_http_version 1.1;
        proxy_buffering off;
        postpone_output 1;
    }
--- tcp_listen eval: $ENV{TEST_NGINX_MOCK_PORT}
--- tcp_reply eval: $main::ChunkedReply
--- request
GET /up
--- more_headers
Cookie: persona_id=alice
--- response_body eval: $main::VipLayerPage
--- no_error_log
[error]



=== TEST 14: a compressed upstream body passes through untouched
--- config
    persona_rules ../html/rules.json;
    location /up {
        persona on;
        persona_data_layer on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    }
--- tcp_listen eval: $ENV{TEST_NGINX_MOCK_PORT}
--- tcp_reply eval: $main::GzReply
--- request
GET /up
--- more_headers
Cookie: persona_id=alice
--- response_body eval: $main::GzPage
--- response_headers eval
"Content-Encoding: gzip
Content-Length: " . length($main::GzPage) . "
Cache-Control: private"
--- error_log
persona: response is compressed (Content-Encoding: "gzip"), passed through
--- no_error_log
[error]



=== TEST 15: gzip on the way out: nginx compresses what the filter wrote
--- config
    persona_rules ../html/rules.json;
    location /gz/ {
        persona on;
        default_type text/html;
        alias html/;
        gzip on;
        gzip_min_length 1;
    }
--- request
GET /gz/page.html
--- more_headers
Cookie: persona_id=alice
Accept-Encoding: gzip
--- response_headers
Content-Encoding: gzip
Cache-Control: private
!Content-Length
--- response_body_like: ^\x1f\x8b\x08
--- no_error_log
[error]



=== TEST 16: gzip on the way out, decompressed again: the injected page
--- config
    persona_rules ../html/rules.json;
    location /gz/ {
        persona on;
        default_type text/html;
        alias html/;
        gzip on;
        gzip_min_length 1;
        output_buffers 1 5;
    }
    location = /gunzip {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/gz/page.html;
        proxy_http_version 1.1;
        proxy_set_header Accept-Encoding gzip;
        gunzip on;
        add_header X-Upstream-Encoding $upstream_http_content_encoding;
    }
--- request
GET /gunzip
--- more_headers
Cookie: persona_id=alice
--- response_body eval: $main::VipPage
--- response_headers
X-Upstream-Encoding: gzip
--- no_error_log
[error]



=== TEST 17: hostile profile and arg values arrive as text; headers lose CR/LF
--- config
    persona_rules ../html/rules.json;
    location /p/ {
        persona on;
        default_type text/html;
        alias html/;
    }
--- request
GET /p/page.html?seg=hostile&from=%3Cimg%20src%3Dx%20onerror%3Dalert(1)%3E
--- more_headers
Cookie: persona_id=mallory
--- response_body_like eval
qr{^<html><head><title>Shop</title></head><body>
<p>Hi &lt;script&gt;alert\(1\)&lt;/script&gt; from &lt;img src=x onerror=alert\(1\)&gt;</p>
<div>Default offer</div>
}
--- response_headers
X-Persona-Note: line1Set-Cookie: x=1
--- raw_response_headers_unlike: (?m)^(Set-Cookie|X-Evil)
--- no_error_log
[error]



=== TEST 18: cache headers after expires and add_header
--- config
    persona_rules ../html/rules.json;
    location /p/ {
        persona on;
        default_type text/html;
        alias html/;
        expires 1h;
        add_header Cache-Control "public, s-maxage=600";
    }
--- request
GET /p/page.html
--- more_headers
Cookie: persona_id=alice
--- response_headers
Cache-Control: private, max-age=3600
!ETag
!Last-Modified
--- raw_response_headers_like: Expires: \w
--- raw_response_headers_unlike: (?ims)^Cache-Control:.*^Cache-Control:
--- response_body eval: $main::VipPage
--- no_error_log
[error]



=== TEST 19: a conditional request gets the page, not a 304
--- config
    persona_rules ../html/rules.json;
    location /p/ {
        persona on;
        default_type text/html;
        alias html/;
    }
--- request
GET /p/dated.html
--- more_headers
Cookie: persona_id=alice
If-None-Match: *
If-Modified-Since: Tue, 01 Jan 2019 00:00:00 GMT
--- error_code: 200
--- response_body eval: $main::VipPage
--- no_error_log
[error]



=== TEST 20: the same conditional request without persona: 304 (control)
--- config
    location /p/ {
        default_type text/html;
        alias html/;
    }
--- request
GET /p/dated.html
--- more_headers
If-Modified-Since: Tue, 01 Jan 2019 00:00:00 GMT
--- error_code: 304
--- response_body
--- no_error_log
[error]



=== TEST 21: persona_cache_control off: validators weakened, 304 left to nginx
--- config
    persona_rules ../html/rules.json;
    location /p/ {
        persona on;
        persona_cache_control off;
        default_type text/html;
        alias html/;
    }
--- request
GET /p/dated.html
--- more_headers
Cookie: persona_id=alice
If-Modified-Since: Tue, 01 Jan 2019 00:00:00 GMT
--- error_code: 304
--- response_body
--- response_headers
!Cache-Control
--- no_error_log
[error]



=== TEST 22: persona_cache_control off: injected page with a weak ETag
--- config
    persona_rules ../html/rules.json;
    location /p/ {
        persona on;
        persona_cache_control off;
        default_type text/html;
        alias html/;
    }
--- request
GET /p/page.html
--- more_headers
Cookie: persona_id=alice
--- response_body eval: $main::VipPage
--- response_headers
!Cache-Control
!Last-Modified
--- raw_response_headers_like: ETag: W/"
--- no_error_log
[error]



=== TEST 23: conditional headers reach the upstream as sent (the response type is not known yet)
--- config
    persona_rules ../html/rules.json;
    location = /t {
        persona on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/echo;
    }
    location = /echo {
        return 200 "inm=[$http_if_none_match] ims=[$http_if_modified_since] ir=[$http_if_range] range=[$http_range] x=[$http_x_other]\n";
    }
--- request
GET /t
--- more_headers
If-None-Match: "abc"
If-Modified-Since: Tue, 01 Jan 2019 00:00:00 GMT
If-Range: "abc"
Range: bytes=0-3
X-Other: kept
--- response_body
inm=["abc"] ims=[Tue, 01 Jan 2019 00:00:00 GMT] ir=["abc"] range=[bytes=0-3] x=[kept]
--- no_error_log
[error]



=== TEST 24: a Range request for an injected page gets all of it
--- config
    persona_rules ../html/rules.json;
    location /p/ {
        persona on;
        default_type text/html;
        alias html/;
    }
--- request
GET /p/page.html
--- more_headers
Cookie: persona_id=alice
Range: bytes=0-9
--- error_code: 200
--- response_body eval: $main::VipPage
--- response_headers
!Content-Range
!Accept-Ranges
--- no_error_log
[error]



=== TEST 25: If-Range takes Range with it (page not injected: ranges work otherwise)
--- config
    persona_rules ../html/rules.json;
    location /p/ {
        persona on;
        persona_inject off;
        default_type text/html;
        alias html/;
    }
--- request
GET /p/dated.html
--- more_headers
Cookie: persona_id=alice
Range: bytes=0-5
If-Range: Tue, 01 Jan 2019 00:00:00 GMT
--- error_code: 200
--- response_body eval: $main::Page
--- no_error_log
[error]



=== TEST 26: Range without If-Range on a page that is not injected: 206
--- config
    persona_rules ../html/rules.json;
    location /p/ {
        persona on;
        persona_inject off;
        default_type text/html;
        alias html/;
    }
--- request
GET /p/page.html
--- more_headers
Cookie: persona_id=alice
Range: bytes=0-5
--- error_code: 206
--- response_body: <html>
--- response_headers
Cache-Control: private
--- no_error_log
[error]



=== TEST 27: HEAD: the headers of the injected page, no body
--- config
    persona_rules ../html/rules.json;
    location /p/ {
        persona on;
        default_type text/html;
        alias html/;
    }
--- request
HEAD /p/page.html
--- more_headers
Cookie: persona_id=alice
--- response_body
--- response_headers
Cache-Control: private
!Content-Length
!ETag
--- no_error_log
[error]



=== TEST 28: response_headers replace built-in headers (and are made private)
--- config
    persona_rules ../html/rules.json;
    location /p/ {
        persona on;
        default_type text/html;
        alias html/;
        expires 1h;
    }
--- request
GET /p/page.html?seg=headers
--- response_headers
Cache-Control: private, max-age=600
Link: </vip.css>; rel=preload; as=style
Content-Type: text/html
X-Persona-Offer: vip-none
!Expires
!ETag
!Last-Modified
--- raw_response_headers_unlike: (?ims)^(Cache-Control:.*^Cache-Control:|Content-Type:.*^Content-Type:)
--- response_body eval: $main::Page
--- no_error_log
[error]



=== TEST 29: response_headers with persona_cache_control off: exactly as written
--- config
    persona_rules ../html/rules.json;
    location /p/ {
        persona on;
        persona_cache_control off;
        default_type text/html;
        alias html/;
        expires 1h;
        add_header Link "</other.css>; rel=preload";
    }
--- request
GET /p/page.html?seg=headers&offer=x
--- response_headers
Cache-Control: public, max-age=600, s-maxage=3600
Link: </vip.css>; rel=preload; as=style
ETag: "seg-etag"
Last-Modified: Wed, 01 Jan 2025 00:00:00 GMT
X-Persona-Offer: vip-x
!Expires
--- raw_response_headers_unlike: (?ims)^(Cache-Control:.*^Cache-Control:|ETag:.*^ETag:|Last-Modified:.*^Last-Modified:|Link:.*^Link:)
--- no_error_log
[error]



=== TEST 30: response_headers only for the statuses add_header uses
--- config
    persona_rules ../html/rules.json;
    location /p/ {
        persona on;
        default_type text/html;
        alias html/;
        log_not_found off;
    }
--- request
GET /p/nothing-here.html?seg=headers
--- error_code: 404
--- response_headers
!X-Persona-Offer
!Link
Cache-Control: private
--- no_error_log
[error]



=== TEST 31: a region default within the hold bound is dropped (small buffers)
--- config
    persona_rules ../html/rules.json;
    location /p/ {
        persona on;
        default_type text/html;
        alias html/;
        output_buffers 1 1000;
    }
--- request
GET /p/drop.html
--- more_headers
Cookie: persona_id=alice
--- response_body eval: "<b>Free shipping</b>end\n"
--- no_error_log
[error]



=== TEST 32: a region default beyond the hold bound stays, after the block
--- config
    persona_rules ../html/rules.json;
    location /p/ {
        persona on;
        default_type text/html;
        alias html/;
        output_buffers 1 1000;
    }
--- request
GET /p/keep.html
--- more_headers
Cookie: persona_id=alice
--- response_body eval: "<b>Free shipping</b>" . ("z" x 20000) . "end\n"
--- no_error_log
[error]



=== TEST 33: landing target without "persona on" gets the blocks
--- config
    persona_rules ../html/rules.json;
    location = /landing {
        persona on;
    }
    location /lp/ {
        default_type text/html;
        alias html/;
    }
--- request
GET /landing
--- more_headers
Cookie: persona_id=alice
--- response_body eval: $main::VipPage
--- response_headers
Cache-Control: private
--- no_error_log
[error]



=== TEST 34: subrequest output (SSI include) passes untouched
--- config
    persona_rules ../html/rules.json;
    location /ssi/ {
        persona on;
        ssi on;
        default_type text/html;
        alias html/;
    }
--- request
GET /ssi/ssi.html
--- more_headers
Cookie: persona_id=alice
--- response_body eval
"<p><h1>Welcome back, Alice</h1></p>\n<i><!--persona:hero--></i>\n\n"
--- no_error_log
[error]
