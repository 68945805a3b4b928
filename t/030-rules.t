# Segment rules through real requests: attributes of every namespace,
# $persona_segments, experiences (request headers, landing, redirect),
# auto-reload.
use Test::Nginx::Socket 'no_plan';
use IO::Socket::INET;

$ENV{TEST_NGINX_REDIS_PORT} ||= 6379;

system("redis-cli -p $ENV{TEST_NGINX_REDIS_PORT} < t/data/profiles.redis"
       . " > /dev/null") == 0
    or die "cannot load t/data/profiles.redis into Redis on port "
           . "$ENV{TEST_NGINX_REDIS_PORT}\n";

# one rules file for most blocks, written by each block's user_files
our $Rules = <<'JSON';
>>> rules.json
{
  "segments": [
    { "name": "vip",       "when": { "profile.tier": "gold" } },
    { "name": "spender",   "when": { "profile.ltv": { "gte": 1000 } } },
    { "name": "tiktok",    "when": { "arg.utm_source": { "in": ["douyin", "tiktok"] } } },
    { "name": "partner",   "when": { "header.x-partner": { "exists": true } } },
    { "name": "beta",      "when": { "cookie.beta": "1" } },
    { "name": "local",     "when": { "var.remote_addr": { "cidr": "10.0.0.0/8" } } },
    { "name": "docs",      "when": { "request.path": { "prefix": "/docs/" } } },
    { "name": "mobile",    "when": { "all": [ { "device": "mobile" }, { "lang": "fr" } ] } },
    { "name": "searcher",  "when": { "referer.host": { "suffix": "google.com" } } },
    { "name": "poster",    "when": { "request.method": "POST" } },
    { "name": "clock",     "when": { "time.hour": { "between": [0, 23] }, "time.weekday": { "exists": true }, "time.date": { "regex": "^20[0-9]{2}-[01][0-9]-[0-3][0-9]$" } } },
    { "name": "newcomer",  "when": { "visitor.known": false } }
  ],
  "default": "everyone",
  "experiences": {
    "vip": {
      "request_headers":  { "X-Offer": "free-shipping", "X-Tier": "{{profile.tier}}" },
      "landing":  { "/": "/lp/vip.html" },
      "redirect": { "/pro": "/vip/promo", "/psale": "https://shop.example.com/vip?from=sale" }
    },
    "tiktok": {
      "request_headers":  { "X-Offer": "tiktok-{{arg.utm_campaign|none}}" }
    }
  }
}
JSON

# For --- init: replaces the rules file by a rename once nginx serves
# (the master has read the first version), then waits for the workers'
# auto-reload timers (longer under valgrind).
sub replace_rules {
    my ($text) = @_;
    my $slow = $ENV{TEST_NGINX_USE_VALGRIND} ? 3 : 0.5;
    for (1 .. 200) {
        last if IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => server_port());
        select undef, undef, undef, 0.1;
    }
    select undef, undef, undef, $slow if $ENV{TEST_NGINX_USE_VALGRIND};
    my $f = "$ENV{TEST_NGINX_SERVER_ROOT}/html/rules.json";
    open my $fh, '>', "$f.new" or die "$f.new: $!";
    print $fh $text;
    close $fh;
    rename "$f.new", $f or die "$f: $!";
    select undef, undef, undef, $slow;
}

no_long_string();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: profile attribute: the first matching segment wins, all are listed
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    persona_rules ../html/rules.json;
    location = /t {
        persona on;
        return 200 "$persona_segment|$persona_segments\n";
    }
--- user_files eval: $main::Rules
--- request
GET /t?utm_source=tiktok
--- more_headers
Cookie: persona_id=alice
--- response_body
vip|vip,spender,tiktok,clock
--- no_error_log
[error]
[warn]



=== TEST 2: no profile: args, headers, cookies, visitor.known
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    persona_rules ../html/rules.json;
    location = /t {
        persona on;
        return 200 "$persona_segment|$persona_segments\n";
    }
--- user_files eval: $main::Rules
--- request
GET /t?utm_source=douyin
--- more_headers
Cookie: persona_id=nobody; beta=1
X-Partner: acme
--- response_body
tiktok|tiktok,partner,beta,clock,newcomer
--- no_error_log
[error]



=== TEST 3: var.*, request.path, device, lang, referer.host, request.method
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    persona_rules ../html/rules.json;
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Real-IP;
    location /docs/ {
        persona on;
        return 200 "$persona_segments\n";
    }
--- user_files eval: $main::Rules
--- request
POST /docs/intro
--- more_headers
X-Real-IP: 10.1.2.3
User-Agent: Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148
Accept-Language: fr-CH, fr;q=0.9, en;q=0.8
Referer: https://www.google.com/search?q=shop
--- response_body
local,docs,mobile,searcher,poster,clock,newcomer
--- no_error_log
[error]



=== TEST 4: no rules file: the profile's segment, default "default"
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    location = /t {
        persona on;
        return 200 "$persona_segment|$persona_segments\n";
    }
--- request
GET /t
--- more_headers
Cookie: persona_id=alice
--- response_body
vip|vip
--- no_error_log
[error]



=== TEST 5: request headers reach the upstream; clients cannot forge them
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    persona_rules ../html/rules.json;
    location = /t {
        persona on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        return 200 "offer=$http_x_offer tier=$http_x_tier\n";
    }
--- user_files eval: $main::Rules
--- request
GET /t
--- more_headers
Cookie: persona_id=alice
X-Offer: forged
X-Tier: forged
--- response_body
offer=free-shipping tier=gold
--- no_error_log
[error]



=== TEST 6: a forged header is removed even when the segment sets none
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    persona_rules ../html/rules.json;
    location = /t {
        persona on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        return 200 "offer=[$http_x_offer] tier=[$http_x_tier]\n";
    }
--- user_files eval: $main::Rules
--- request
GET /t
--- more_headers
X-Offer: forged
X-Tier: forged
--- response_body
offer=[] tier=[]
--- no_error_log
[error]



=== TEST 7: header templates render args; CR/LF never reach a header
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    persona_rules ../html/rules.json;
    location = /t {
        persona on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        return 200 "offer=$http_x_offer evil=[$http_x_evil]\n";
    }
--- user_files eval: $main::Rules
--- request
GET /t?utm_source=tiktok&utm_campaign=spring%0D%0AX-Evil:%201
--- response_body
offer=tiktok-springX-Evil: 1 evil=[]
--- no_error_log
[error]



=== TEST 8: landing: internal rewrite, query and $request_uri kept, one lookup
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    persona_rules ../html/rules.json;
    location = / {
        persona on;
        return 200 "home\n";
    }
    location = /lp/vip.html {
        return 200 "vip landing $uri?$args from $request_uri ($persona_segment)\n";
    }
--- user_files eval: $main::Rules
--- request
GET /?utm_source=mail
--- more_headers
Cookie: persona_id=alice
--- response_body
vip landing /lp/vip.html?utm_source=mail from /?utm_source=mail (vip)
--- grep_error_log eval: qr/persona redis: HGETALL/
--- grep_error_log_out
persona redis: HGETALL
--- no_error_log
[error]



=== TEST 9: landing applies to GET and HEAD only
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    persona_rules ../html/rules.json;
    location = / {
        persona on;
        return 200 "home\n";
    }
    location = /lp/vip.html {
        return 200 "vip landing\n";
    }
--- user_files eval: $main::Rules
--- request
POST /
--- more_headers
Cookie: persona_id=alice
--- response_body
home
--- no_error_log
[error]



=== TEST 10: other segments do not land
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    persona_rules ../html/rules.json;
    location = / {
        persona on;
        return 200 "home $persona_segment\n";
    }
--- user_files eval: $main::Rules
--- request
GET /
--- more_headers
Cookie: persona_id=silver
--- response_body
home clock
--- no_error_log
[error]



=== TEST 11: redirect: 302, relative target made absolute, query appended
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    persona_rules ../html/rules.json;
    location /p {
        persona on;
        return 200 "page\n";
    }
--- user_files eval: $main::Rules
--- request
GET /pro?x=1
--- more_headers
Cookie: persona_id=alice
--- error_code: 302
--- response_headers_like
Location: http://localhost(:\d+)?/vip/promo\?x=1$
--- no_error_log
[error]



=== TEST 12: redirect to a URL with a query: the request's args follow "&"
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    persona_rules ../html/rules.json;
    location /p {
        persona on;
        return 200 "page\n";
    }
--- user_files eval: $main::Rules
--- request
GET /psale?x=1
--- more_headers
Cookie: persona_id=alice
--- error_code: 302
--- response_headers
Location: https://shop.example.com/vip?from=sale&x=1
--- no_error_log
[error]



=== TEST 13: auto-reload: a valid new version is picked up without a reload
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
    persona_rules_auto_reload 100ms;
--- config
    persona_rules ../html/rules.json;
    location = /t {
        persona on;
        return 200 "$persona_segment\n";
    }
--- user_files eval: $main::Rules
--- request
GET /t
--- more_headers
Cookie: persona_id=alice
--- response_body
vip
--- no_error_log
[error]



=== TEST 14: auto-reload: the file is replaced by a rename, new rules serve
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
    persona_rules_auto_reload 100ms;
--- config
    persona_rules ../html/rules.json;
    location = /t {
        persona on;
        return 200 "$persona_segment\n";
    }
--- user_files eval: $main::Rules
--- init
main::replace_rules('{ "segments": [ { "name": "gold-member", "when": { "profile.tier": "gold" } } ] }');
--- request
GET /t
--- more_headers
Cookie: persona_id=alice
--- response_body
gold-member
--- error_log
rules.json" reloaded
--- no_error_log
[error]



=== TEST 15: auto-reload: a broken version is ignored and logged
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
    persona_rules_auto_reload 100ms;
--- config
    persona_rules ../html/rules.json;
    location = /t {
        persona on;
        return 200 "$persona_segment\n";
    }
--- user_files eval: $main::Rules
--- init
main::replace_rules('{ "segments": [ { "name": "x", "when": { "profile.tier": { "equals": "gold" } } } ] }');
--- request
GET /t
--- more_headers
Cookie: persona_id=alice
--- response_body
vip
--- error_log eval
qr/persona: rules ".*rules.json" changed but are invalid, the last good rules stay: .*rules.json:1:\d+: /
