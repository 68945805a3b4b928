# Rules safety through real requests (issue 8): the access log sees the
# request's rules, clients cannot forge rule headers with "_" for "-",
# arg.* decoding ("%2B" is a plus), a regex over PCRE2's limits makes its
# segment not match even under "not", and a block file swapped for a
# symlink to /etc/passwd is refused by auto-reload (the last good rules
# keep serving); only worker processes run the auto-reload timer (master
# on, with a cache manager).
use Test::Nginx::Socket 'no_plan';
use IO::Socket::INET;
use POSIX ();

$ENV{TEST_NGINX_REDIS_PORT} ||= 6379;

# For --- init: once nginx serves (the master has read the first version),
# replaces html/NAME by a symlink to TARGET with a rename, then waits for
# the workers' auto-reload timers (longer under valgrind).
sub replace_by_symlink {
    my ($name, $target) = @_;
    my $slow = $ENV{TEST_NGINX_USE_VALGRIND} ? 3 : 0.5;
    for (1 .. 200) {
        last if IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => server_port());
        select undef, undef, undef, 0.1;
    }
    select undef, undef, undef, $slow if $ENV{TEST_NGINX_USE_VALGRIND};
    my $f = "$ENV{TEST_NGINX_SERVER_ROOT}/html/$name";
    unlink "$f.new";
    symlink $target, "$f.new" or die "$f.new: $!";
    rename "$f.new", $f or die "$f: $!";
    select undef, undef, undef, $slow;
}

# For --- init: replaces html/NAME with TEXT by a rename once nginx serves.
sub replace_file {
    my ($name, $text) = @_;
    my $slow = $ENV{TEST_NGINX_USE_VALGRIND} ? 3 : 0.5;
    for (1 .. 200) {
        last if IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => server_port());
        select undef, undef, undef, 0.1;
    }
    select undef, undef, undef, $slow if $ENV{TEST_NGINX_USE_VALGRIND};
    my $f = "$ENV{TEST_NGINX_SERVER_ROOT}/html/$name";
    open my $fh, '>', "$f.new" or die "$f.new: $!";
    print $fh $text;
    close $fh;
    rename "$f.new", $f or die "$f: $!";
    select undef, undef, undef, $slow;
}

# For --- init: a child replaces html/NAME with TEXT while the test's
# request waits for its slow backend (the parent goes on sending it).
sub replace_file_later {
    my ($name, $text, $delay) = @_;
    my $pid = fork;
    die "fork: $!" unless defined $pid;
    return if $pid;
    for (1 .. 200) {
        last if IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                      PeerPort => server_port());
        select undef, undef, undef, 0.1;
    }
    select undef, undef, undef, $delay;
    my $f = "$ENV{TEST_NGINX_SERVER_ROOT}/html/$name";
    if (open my $fh, '>', "$f.new") {
        print $fh $text;
        close $fh;
        rename "$f.new", $f;
    }
    POSIX::_exit(0);
}

# The mock backend of tcp_listen needs a port nobody else uses.
$ENV{TEST_NGINX_MOCK_PORT} ||= do {
    my $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => 0,
                                  Proto => 'tcp', Listen => 1)
        or die "no free port: $!";
    $s->sockport;
};

master_on();
no_long_string();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: the access log sees $persona_segment and $persona_variant_NAME of a looked-up visitor
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
    log_format persona "persona $persona_status|$persona_segment|$persona_variant_price|$persona_variants";
--- config
    persona_rules ../html/rules.json;
    access_log logs/access.log persona;
    location = /t {
        persona on;
        return 200 "$persona_segment|$persona_variant_price\n";
    }
--- user_files
>>> rules.json
{
  "segments": [ { "name": "promo", "when": { "arg.p": "1" } } ],
  "default": "everyone",
  "experiments": [
    { "name": "price", "salt": "s",
      "variants": [ { "name": "a", "weight": 100 } ] }
  ]
}
--- request
GET /t?p=1
--- more_headers
Cookie: persona_id=nobody-090
User-Agent: Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0
--- response_body
promo|a
--- access_log
persona miss|promo|a|price=a
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 2: a client cannot slip X_Offer past a rule's X-Offer (underscores_in_headers on)
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    persona_rules ../html/rules.json;
    underscores_in_headers on;
    location = /t {
        persona on;
        return 200 "$persona_segment|$http_x_offer|$http_x_campaign_id\n";
    }
--- user_files
>>> rules.json
{
  "segments": [ { "name": "promo", "when": { "arg.p": "1" } } ],
  "experiences": {
    "promo": { "request_headers": { "X-Offer": "real" } },
    "default": { "request_headers": { "X_Campaign_Id": "{{arg.c|none}}" } }
  }
}
--- request
GET /t?p=1
--- more_headers
Cookie: persona_id=nobody-090
X_Offer: forged
x_oFFer: forged-too
X-Campaign-Id: forged-three
--- response_body
promo|real|
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 3: arg.* is decoded once: "+" is a space, "%2B" a plus
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    persona_rules ../html/rules.json;
    location = /t {
        persona on;
        return 200 "$persona_segment|$sent_http_x_q\n";
    }
--- user_files
>>> rules.json
{
  "segments": [ { "name": "plus", "when": { "arg.q": "a+b c%" } } ],
  "default": "other"
}
--- request
GET /t?q=a%2Bb+c%25
--- more_headers
Cookie: persona_id=nobody-090
--- response_body
plus|
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 4: a regex over PCRE2's limits: its segment does not match, even under "not" (warn)
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    persona_rules ../html/rules.json;
    location = /t {
        persona on;
        return 200 "$persona_segment|$persona_segments\n";
    }
--- user_files
>>> rules.json
{
  "segments": [
    { "name": "human", "when": { "not": { "arg.ua": { "regex": "^(a+)+$" } } } },
    { "name": "any", "when": { "arg.ua": { "exists": true } } }
  ],
  "default": "everyone"
}
--- request
GET /t?ua=aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab
--- more_headers
Cookie: persona_id=nobody-090
--- response_body
any|any
--- error_log
a regex of segment "human" exceeded PCRE2's match limits, the segment does not match
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 5: the same regex on a short value is decided
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    persona_rules ../html/rules.json;
    location = /t {
        persona on;
        return 200 "$persona_segment|$persona_segments\n";
    }
--- user_files
>>> rules.json
{
  "segments": [
    { "name": "human", "when": { "not": { "arg.ua": { "regex": "^(a+)+$" } } } },
    { "name": "any", "when": { "arg.ua": { "exists": true } } }
  ],
  "default": "everyone"
}
--- request
GET /t?ua=aab
--- more_headers
Cookie: persona_id=nobody-090
--- response_body
human|human,any
--- no_error_log
[warn]
[error]
[alert]
[emerg]



=== TEST 6: auto-reload refuses a block file swapped for a symlink to /etc/passwd
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
    persona_rules_auto_reload 100ms;
--- config
    persona_rules ../html/rules.json;
    location = /index.html {
        persona on;
    }
--- user_files
>>> rules.json
{
  "segments": [ { "name": "promo", "when": { "arg.p": "1" } } ],
  "experiences": {
    "promo": { "blocks": { "offer": { "file": "blocks/offer.html" } } }
  }
}
>>> blocks/offer.html
<b>old offer</b>
>>> index.html
<html><body><!--persona:offer--></body></html>
--- init
main::replace_by_symlink('blocks/offer.html', '/etc/passwd');
--- request
GET /index.html?p=1
--- more_headers
Cookie: persona_id=nobody-090
--- response_body_like
^<html><body><b>old offer</b>\n?</body></html>\n?$
--- error_log eval
qr{persona: rules ".*rules\.json" changed but are invalid, the last good rules stay: .*blocks/offer\.html": resolves to "/etc/passwd", outside the rules directory}
--- no_error_log
root:
[alert]
[emerg]



=== TEST 7: auto-reload runs in the worker only, not in the cache manager
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
    persona_rules_auto_reload 100ms;
    proxy_cache_path persona_090_cache levels=1 keys_zone=persona_090:1m;
--- config
    persona_rules ../html/rules.json;
    location = /t {
        persona on;
        return 200 "$persona_segment\n";
    }
--- user_files
>>> rules.json
{ "default": "old" }
--- init
main::replace_file('rules.json', '{ "default": "new" }');
--- request
GET /t
--- more_headers
Cookie: persona_id=nobody-090
--- response_body
new
--- grep_error_log eval
qr/(?<=rules\.json" )reloaded/
--- grep_error_log_out
reloaded
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 8: rules swapped while a request waits: its access log line still reads its own rules
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
    persona_rules_auto_reload 100ms;
    log_format persona "persona $persona_segment|$persona_variant_price";
--- config
    persona_rules ../html/rules.json;
    access_log logs/access.log persona;
    location = /t {
        persona on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_MOCK_PORT;
    }
--- user_files
>>> rules.json
{
  "default": "old-rules-segment",
  "experiments": [
    { "name": "price", "salt": "s",
      "variants": [ { "name": "old-variant", "weight": 100 } ] }
  ]
}
--- init
main::replace_file_later('rules.json', '{ "default": "new-rules-segment" }',
                        $ENV{TEST_NGINX_USE_VALGRIND} ? 1.5 : 0.3);
--- tcp_listen eval: $ENV{TEST_NGINX_MOCK_PORT}
--- tcp_reply_delay: 3s
--- timeout: 15
--- tcp_reply eval
"HTTP/1.0 200 OK\r\n\r\nslow\n"
--- request
GET /t
--- more_headers
Cookie: persona_id=nobody-090
User-Agent: Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0
--- response_body
slow
--- access_log
persona old-rules-segment|old-variant
--- error_log eval
qr/persona: rules ".*rules\.json" reloaded/
--- no_error_log
[error]
[alert]
[emerg]
