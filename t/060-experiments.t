# Experiments in nginx: deterministic variants per visitor id, the
# holdout, segments an experiment is for, anonymous visitors,
# $persona_variants and $persona_variant_NAME, variant overrides of
# blocks, response headers and landing pages, the data layer.
#
# Ids and their buckets (persona-check rules.json --explain {} --id ID):
# hero-copy: v1 control, v7 urgency, v2 holdout; Price.Test: everyone "a".
# alice has a gold profile: segment vip, not in hero-copy.
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_REDIS_PORT} ||= 6379;

system("redis-cli -p $ENV{TEST_NGINX_REDIS_PORT} < t/data/profiles.redis"
       . " > /dev/null") == 0
    or die "cannot load t/data/profiles.redis into Redis on port "
           . "$ENV{TEST_NGINX_REDIS_PORT}\n";

our $Rules = <<'JSON';
{
  "segments": [ { "name": "vip", "when": { "profile.tier": "gold" } } ],
  "default": "everyone",
  "experiences": {
    "everyone": {
      "response_headers": { "X-Offer": "none" },
      "blocks": { "hero": "<h1>Welcome</h1>" }
    }
  },
  "experiments": [
    { "name": "hero-copy", "segments": ["everyone"], "salt": "2026-q4",
      "traffic": 50,
      "variants": [
        { "name": "control", "weight": 50 },
        { "name": "urgency", "weight": 50,
          "response_headers": { "X-Offer": "urgent" },
          "blocks": { "hero": "<h1>Only {{arg.days|3}} days left</h1>" } } ] },
    { "name": "Price.Test", "salt": "p",
      "variants": [
        { "name": "a", "weight": 100,
          "landing": { "/shop/pricing": "/shop/lp/pricing-a.html" } } ] }
  ]
}
JSON

our $Page = "<html><head><title>Shop</title></head><body>\n"
            . "<!--persona:hero-->\n</body></html>\n";

our $Files = ">>> rules.json\n$Rules"
             . ">>> page.html\n$Page"
             . ">>> lp/pricing-a.html\npricing, variant a\n"
             . ">>> pricing\nplain pricing\n";

add_block_preprocessor(sub {
    my $block = shift;

    # a browser: an empty User-Agent is a bot, in no experiment
    my $ua = "User-Agent: Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0";
    my $mh = $block->more_headers;
    if (!defined $mh) {
        $block->set_value("more_headers", "$ua\n");
    } elsif ($mh !~ /^User-Agent:/mi) {
        $block->set_value("more_headers", "$mh\n$ua\n");
    }

    if (!defined $block->http_config) {
        $block->set_value("http_config",
            "    persona_redis 127.0.0.1:\$TEST_NGINX_REDIS_PORT timeout=2s;\n");
    }

    if (!defined $block->user_files) {
        $block->set_value("user_files", $Files);
    }

    if (!defined $block->config) {
        $block->set_value("config", <<'CONF');
    persona_rules ../html/rules.json;
    location = /t {
        persona on;
        persona_id $arg_id;
        return 200 "$persona_segment|$persona_variants|$persona_variant_hero_copy|$persona_variant_PRICE_TEST|$persona_variant_nope\n";
    }
CONF
    }
});

no_long_string();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: a visitor in a variant: both experiments, names as in $http_NAME
--- request
GET /t?id=v7
--- response_body
everyone|hero-copy=urgency,Price.Test=a|urgency|a|
--- no_error_log
[error]



=== TEST 2: the control group is a variant too
--- request
GET /t?id=v1
--- response_body
everyone|hero-copy=control,Price.Test=a|control|a|
--- no_error_log
[error]



=== TEST 3: the holdout: no variant in that experiment
--- request
GET /t?id=v2
--- response_body
everyone|Price.Test=a||a|
--- no_error_log
[error]



=== TEST 4: an experiment for other segments does not apply (alice is vip)
--- request
GET /t?id=alice
--- response_body
vip|Price.Test=a||a|
--- no_error_log
[error]



=== TEST 5: anonymous visitors are in no experiment
--- request
GET /t
--- response_body
everyone||||
--- no_error_log
[error]



=== TEST 6: the variant decides in "if"
--- config
    persona_rules ../html/rules.json;
    location = /t {
        persona on;
        persona_id $arg_id;
        if ($persona_variant_hero_copy = urgency) {
            return 302 /urgent;
        }
        return 200 "calm\n";
    }
--- request
GET /t?id=v7
--- error_code: 302
--- response_headers_like
Location: .*/urgent$



=== TEST 7: a variant's block and response header replace the segment's
--- config
    persona_rules ../html/rules.json;
    location /p/ {
        persona on;
        persona_id $arg_id;
        default_type text/html;
        alias html/;
    }
--- request
GET /p/page.html?id=v7&days=5
--- response_headers
X-Offer: urgent
Cache-Control: private
--- response_body eval
"<html><head><title>Shop</title></head><body>\n"
. "<h1>Only 5 days left</h1>\n</body></html>\n"
--- no_error_log
[error]



=== TEST 8: control keeps the segment's experience
--- config
    persona_rules ../html/rules.json;
    location /p/ {
        persona on;
        persona_id $arg_id;
        default_type text/html;
        alias html/;
    }
--- request
GET /p/page.html?id=v1&days=5
--- response_headers
X-Offer: none
--- response_body eval
"<html><head><title>Shop</title></head><body>\n"
. "<h1>Welcome</h1>\n</body></html>\n"
--- no_error_log
[error]



=== TEST 9: the data layer lists the variants
--- config
    persona_rules ../html/rules.json;
    location /p/ {
        persona on;
        persona_id $arg_id;
        persona_data_layer on;
        default_type text/html;
        alias html/;
    }
--- request
GET /p/page.html?id=v7
--- response_body eval
"<html><head><title>Shop</title>"
. '<script>window.persona={"segment":"everyone","segments":[],'
. '"variants":{"hero-copy":"urgency","Price.Test":"a"}};</script>'
. "</head><body>\n<h1>Only 3 days left</h1>\n</body></html>\n"
--- no_error_log
[error]



=== TEST 10: a variant's landing page
--- config
    persona_rules ../html/rules.json;
    location /shop/ {
        persona on;
        persona_id $arg_id;
        default_type text/plain;
        alias html/;
    }
--- request
GET /shop/pricing?id=v1
--- response_body
pricing, variant a
--- no_error_log
[error]



=== TEST 11: without an id the landing page of the variant does not apply
--- config
    persona_rules ../html/rules.json;
    location /shop/ {
        persona on;
        persona_id $arg_id;
        default_type text/plain;
        alias html/;
    }
--- request
GET /shop/pricing
--- response_body
plain pricing
--- no_error_log
[error]



=== TEST 12: Redis unreachable: the default segment, variants still by id
--- http_config
    persona_redis unix:/nonexistent-persona-dir/redis.sock timeout=1s;
--- request
GET /t?id=v7
--- response_body
everyone|hero-copy=urgency,Price.Test=a|urgency|a|
--- error_log
page served without profile
--- no_error_log
[alert]
[crit]
