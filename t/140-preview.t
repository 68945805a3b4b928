# Preview for QA (persona_preview_token): a segment and variants forced by
# ?persona_preview= with the X-Persona-Token header or a signed link;
# status "preview", Cache-Control: no-store, the profile still rendered;
# wrong tokens, bad or expired signatures and unknown names ignored and
# logged at info.
#
# Ids and their buckets in hero-copy (salt 2026-q4, as in 060): v1
# control, v7 urgency.  alice has a gold profile (segment vip).
use Test::Nginx::Socket 'no_plan';
use Digest::SHA qw(hmac_sha256_hex);

$ENV{TEST_NGINX_REDIS_PORT} ||= 6379;

system("redis-cli -p $ENV{TEST_NGINX_REDIS_PORT} < t/data/profiles.redis"
       . " > /dev/null") == 0
    or die "cannot load t/data/profiles.redis into Redis on port "
           . "$ENV{TEST_NGINX_REDIS_PORT}\n";

our $Token = "qa-token-0123456789abcdef";

# a signed link's arguments: VALUE "|" EXP under HMAC-SHA256 keyed by
# the token
sub signed {
    my ($value, $exp, $key) = @_;
    my $sig = hmac_sha256_hex("$value|$exp", $key // $Token);
    return "persona_preview=$value&persona_preview_exp=$exp"
           . "&persona_preview_sig=$sig";
}

our $Now = time();
our $Good = signed("everyone,hero-copy=urgency", $Now + 3600);
our $Expired = signed("vip", $Now - 10);
our $Ahead = signed("vip", $Now + 8 * 86400);
our $OtherKey = signed("vip", $Now + 3600, "another-token-0123456789");
(our $Upper = signed("vip", $Now + 3600)) =~ s/sig=(\w+)/sig=\U$1/;

# a link as persona-check prints it (make tools)
our $Cmd = "build/persona-check --preview-link '/t?id=v1'"
           . " 'everyone,hero-copy=urgency' --token $Token --ttl 1h";
our $Link = qx{$Cmd};
$? == 0 && $Link =~ m{^/t\?id=v1&persona_preview=}
    or die "build/persona-check --preview-link failed (make tools): $Link\n";
chomp $Link;

our $Rules = <<'JSON';
{
  "segments": [ { "name": "vip", "when": { "profile.tier": "gold" } } ],
  "default": "everyone",
  "experiences": {
    "vip": { "blocks": { "hero": "<h1>VIP {{profile.first_name|friend}}</h1>" } },
    "everyone": { "blocks": { "hero": "<h1>Hello {{profile.first_name|friend}}</h1>" } }
  },
  "experiments": [
    { "name": "hero-copy", "segments": ["everyone"], "salt": "2026-q4",
      "variants": [
        { "name": "control", "weight": 50 },
        { "name": "urgency", "weight": 50,
          "blocks": { "hero": "<h1>Hurry, {{profile.first_name|friend}}</h1>" } } ] },
    { "name": "vip-gift", "segments": ["vip"], "salt": "g",
      "variants": [ { "name": "none", "weight": 100 },
                    { "name": "mug", "weight": 0 } ] }
  ]
}
JSON

our $Page = "<html><head><title>Shop</title></head><body>\n"
            . "<!--persona:hero-->\n</body></html>\n";

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
        $block->set_value("user_files",
                          ">>> rules.json\n$Rules>>> page.html\n$Page");
    }

    if (!defined $block->config) {
        $block->set_value("config", <<'CONF');
    persona_rules ../html/rules.json;
    persona_preview_token "qa-token-0123456789abcdef";
    location = /t {
        persona on;
        persona_id $arg_id;
        return 200 "$persona_status|$persona_segment|$persona_variants\n";
    }
    location = /page.html {
        persona on;
        persona_id $arg_id;
    }
    location = /plain {
        persona on;
        persona_id $arg_id;
        persona_preview_token off-here-too-0123456789;
        return 200 "$persona_status|$persona_segment|$persona_variants\n";
    }
CONF
    }
});

no_long_string();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: no preview argument: served as usual, cacheable as usual
--- request
GET /t?id=v1
--- response_body
miss|everyone|hero-copy=control
--- response_headers
Cache-Control:
--- no_error_log
[error]
[alert]
[emerg]
preview



=== TEST 2: the token header forces the segment: status preview, no-store
--- request
GET /t?id=v1&persona_preview=vip
--- more_headers
X-Persona-Token: qa-token-0123456789abcdef
--- response_body
preview|vip|vip-gift=none
--- response_headers
Cache-Control: no-store
--- no_error_log
[error]
[alert]
[emerg]
preview ignored



=== TEST 3: forced variant over the bucketed one (v1 is control)
--- request
GET /t?id=v1&persona_preview=everyone,hero-copy=urgency
--- more_headers
X-Persona-Token: qa-token-0123456789abcdef
--- response_body
preview|everyone|hero-copy=urgency
--- response_headers
Cache-Control: no-store
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 4: a variant of weight 0 can be previewed; URL-encoded value
--- request
GET /t?id=alice&persona_preview=vip%2Cvip-gift%3Dmug
--- more_headers
X-Persona-Token: qa-token-0123456789abcdef
--- response_body
preview|vip|vip-gift=mug
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 5: an anonymous visitor gets the forced variant too
--- request
GET /t?persona_preview=everyone,hero-copy=urgency
--- more_headers
X-Persona-Token: qa-token-0123456789abcdef
--- response_body
preview|everyone|hero-copy=urgency
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 6: wrong token: ignored, logged at info, served normally
--- request
GET /t?id=v1&persona_preview=vip
--- more_headers
X-Persona-Token: qa-token-0123456789abcdeX
--- response_body
miss|everyone|hero-copy=control
--- response_headers
Cache-Control:
--- error_log
[info]
persona: preview ignored: wrong X-Persona-Token
--- no_error_log
[error]
[alert]



=== TEST 7: a token of another length is wrong too
--- request
GET /t?id=v1&persona_preview=vip
--- more_headers
X-Persona-Token: qa
--- response_body
miss|everyone|hero-copy=control
--- error_log
persona: preview ignored: wrong X-Persona-Token
--- no_error_log
[error]



=== TEST 8: no token, no signature: ignored
--- request
GET /t?id=v1&persona_preview=vip
--- response_body
miss|everyone|hero-copy=control
--- error_log
persona: preview ignored: no X-Persona-Token and no signed link
--- no_error_log
[error]



=== TEST 9: unknown segment: ignored
--- request
GET /t?id=v1&persona_preview=platinum
--- more_headers
X-Persona-Token: qa-token-0123456789abcdef
--- response_body
miss|everyone|hero-copy=control
--- response_headers
Cache-Control:
--- error_log
persona: preview ignored: unknown segment "platinum"
--- no_error_log
[error]



=== TEST 10: unknown variant: the whole preview is ignored
--- request
GET /t?id=v1&persona_preview=everyone,hero-copy=scarcity
--- more_headers
X-Persona-Token: qa-token-0123456789abcdef
--- response_body
miss|everyone|hero-copy=control
--- error_log
persona: preview ignored: unknown variant "scarcity" of experiment "hero-copy"
--- no_error_log
[error]



=== TEST 11: unknown experiment: ignored
--- request
GET /t?id=v1&persona_preview=everyone,nope=a
--- more_headers
X-Persona-Token: qa-token-0123456789abcdef
--- response_body
miss|everyone|hero-copy=control
--- error_log
persona: preview ignored: unknown experiment "nope"
--- no_error_log
[error]



=== TEST 12: an experiment not for that segment: ignored
--- request
GET /t?id=v1&persona_preview=vip,hero-copy=urgency
--- more_headers
X-Persona-Token: qa-token-0123456789abcdef
--- response_body
miss|everyone|hero-copy=control
--- error_log
persona: preview ignored: experiment "hero-copy" does not apply to segment "vip"
--- no_error_log
[error]



=== TEST 13: control bytes in an unknown name do not reach the log
--- request
GET /t?id=v1&persona_preview=x%0D%0Ay
--- more_headers
X-Persona-Token: qa-token-0123456789abcdef
--- response_body
miss|everyone|hero-copy=control
--- error_log
persona: preview ignored: unknown segment "x??y"
--- no_error_log
[error]



=== TEST 14: a link printed by persona-check --preview-link
--- request eval
"GET $::Link"
--- response_body
preview|everyone|hero-copy=urgency
--- response_headers
Cache-Control: no-store
--- no_error_log
[error]
preview ignored



=== TEST 15: a valid signed link, without the header
--- request eval
"GET /t?id=v1&$::Good"
--- response_body
preview|everyone|hero-copy=urgency
--- response_headers
Cache-Control: no-store
--- no_error_log
[error]
[alert]
[emerg]
preview ignored



=== TEST 16: the signature in capitals is accepted
--- request eval
"GET /t?id=v1&$::Upper"
--- response_body
preview|vip|vip-gift=none
--- no_error_log
[error]
preview ignored



=== TEST 17: an expired link: ignored
--- request eval
"GET /t?id=v1&$::Expired"
--- response_body
miss|everyone|hero-copy=control
--- error_log
persona: preview ignored: link expired
--- no_error_log
[error]



=== TEST 18: a link valid for more than 7 days: ignored
--- request eval
"GET /t?id=v1&$::Ahead"
--- response_body
miss|everyone|hero-copy=control
--- error_log
persona: preview ignored: link expires more than 7 days ahead
--- no_error_log
[error]



=== TEST 19: signed with another key: ignored
--- request eval
"GET /t?id=v1&$::OtherKey"
--- response_body
miss|everyone|hero-copy=control
--- error_log
persona: preview ignored: wrong signature
--- no_error_log
[error]



=== TEST 20: a signature for another value: ignored
--- request eval
my $l = $::Good;
$l =~ s/persona_preview=[^&]*/persona_preview=vip/;
"GET /t?id=v1&$l"
--- response_body
miss|everyone|hero-copy=control
--- error_log
persona: preview ignored: wrong signature
--- no_error_log
[error]



=== TEST 21: a malformed expiry: ignored
--- request
GET /t?id=v1&persona_preview=vip&persona_preview_exp=1e9&persona_preview_sig=00
--- response_body
miss|everyone|hero-copy=control
--- error_log
persona: preview ignored: bad persona_preview_exp
--- no_error_log
[error]



=== TEST 22: a malformed signature: ignored
--- request eval
"GET /t?id=v1&persona_preview=vip&persona_preview_exp=" . ($::Now + 86400)
. "&persona_preview_sig=" . ("zz" x 32)
--- response_body
miss|everyone|hero-copy=control
--- error_log
persona: preview ignored: bad persona_preview_sig
--- no_error_log
[error]



=== TEST 23: the profile is still looked up: templates render it
--- request
GET /page.html?id=alice&persona_preview=everyone,hero-copy=urgency
--- more_headers
X-Persona-Token: qa-token-0123456789abcdef
--- response_body
<html><head><title>Shop</title></head><body>
<h1>Hurry, Alice</h1>
</body></html>
--- response_headers
Cache-Control: no-store
ETag:
Last-Modified:
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 24: a previewed page is never answered 304
--- request
GET /page.html?id=alice&persona_preview=vip
--- more_headers
X-Persona-Token: qa-token-0123456789abcdef
If-Modified-Since: Thu, 01 Jan 2099 00:00:00 GMT
--- error_code: 200
--- response_body
<html><head><title>Shop</title></head><body>
<h1>VIP Alice</h1>
</body></html>
--- no_error_log
[error]



=== TEST 25: each location's own token
--- request
GET /plain?id=v1&persona_preview=vip
--- more_headers
X-Persona-Token: qa-token-0123456789abcdef
--- response_body
miss|everyone|hero-copy=control
--- error_log
persona: preview ignored: wrong X-Persona-Token
--- no_error_log
[error]



=== TEST 26: no persona_preview_token: the argument is ignored
--- config
    persona_rules ../html/rules.json;
    location = /t {
        persona on;
        persona_id $arg_id;
        return 200 "$persona_status|$persona_segment|$persona_variants\n";
    }
--- request
GET /t?id=v1&persona_preview=vip
--- more_headers
X-Persona-Token: qa-token-0123456789abcdef
--- response_body
miss|everyone|hero-copy=control
--- error_log
persona: preview ignored: no persona_preview_token here
--- no_error_log
[error]



=== TEST 27: Redis down: the preview still applies, the page is served
--- http_config
    persona_redis 127.0.0.1:1 timeout=500ms;
--- request
GET /t?id=v1&persona_preview=vip
--- more_headers
X-Persona-Token: qa-token-0123456789abcdef
--- response_body
preview|vip|vip-gift=none
--- response_headers
Cache-Control: no-store
--- no_error_log
[alert]
[emerg]
