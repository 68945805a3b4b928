# persona_metrics: the Prometheus page after a known sequence of requests
# (requests by status, segments, variants, the Redis latency histogram),
# parsed by Prometheus's own parser (scripts/check-metrics.py), the
# handler's headers and methods, Redis failures (errors by kind, the
# breaker), segments a profile names that the rules do not, rules load
# time and reload errors, and a metrics location in a "persona on" server.
#
# Buckets of hero-copy (persona-check rules.json --explain {} --id ID):
# m1 urgency, m2 control.  v1..v3 have gold profiles: segment vip, not in
# the experiment.
use Test::Nginx::Socket 'no_plan';
use IO::Socket::INET;
use File::Temp ();

$ENV{TEST_NGINX_REDIS_PORT} ||= 6379;

# keys of our own: other test files share this Redis
system("printf '%s\\n'"
       . " 'DEL persona:metrics:v1 persona:metrics:v2 persona:metrics:v3"
       . " persona:metrics:c1 persona:metrics:c2'"
       . " 'HSET persona:metrics:v1 tier gold'"
       . " 'HSET persona:metrics:v2 tier gold'"
       . " 'HSET persona:metrics:v3 tier gold'"
       . " 'HSET persona:metrics:c1 segment gold-cdp'"
       . " 'HSET persona:metrics:c2 segment elsewhere'"
       . " | redis-cli -p $ENV{TEST_NGINX_REDIS_PORT} > /dev/null") == 0
    or die "cannot seed Redis on port $ENV{TEST_NGINX_REDIS_PORT}\n";

# free loopback ports: one for the mock, one where nothing listens
for my $name (qw(TEST_NGINX_MOCK_PORT TEST_NGINX_CLOSED_PORT)) {
    next if $ENV{$name};
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1)
        or die "no free port: $!\n";
    $ENV{$name} = $s->sockport;
    close $s;
}

our $Rules = <<'JSON';
{
  "segments": [ { "name": "vip", "when": { "profile.tier": "gold" } },
                { "from": "profile.segment" } ],
  "default": "everyone",
  "experiences": { "gold-cdp": {} },
  "experiments": [
    { "name": "hero-copy", "segments": ["everyone"], "salt": "m1",
      "variants": [ { "name": "control", "weight": 50 },
                    { "name": "urgency", "weight": 50 } ] }
  ]
}
JSON

# 800 segments: more label series than the table holds (768)
our $ManyRules = '{ "segments": [ '
    . join(', ', map { qq'{ "name": "s$_", "when": { "arg.s": "$_" } }' }
                     0 .. 799)
    . ' ], "default": "everyone" }';

# A regex that holds when each "series value" is a whole line of the page
# (in any order).
sub metrics_like {
    my @want = @_;
    my $re = '(?m)\A';
    while (my ($series, $value) = splice @want, 0, 2) {
        $re .= '(?=.*^' . quotemeta($series) . ' ' . $value . '$)';
    }
    return $re;
}

# The page through scripts/check-metrics.py (prometheus_client): "metrics
# ok" and the samples, one a line, or what is wrong.
sub prom {
    my ($body) = @_;
    my $tmp = File::Temp->new;
    print $tmp $body;
    close $tmp;
    my $out = `/usr/bin/python3 scripts/check-metrics.py < $tmp 2>&1`;
    return $out;
}

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
        $block->set_value("user_files", ">>> rules.json\n$Rules");
    }

    if (!defined $block->config) {
        $block->set_value("config", <<'CONF');
    persona_rules ../html/rules.json;
    persona_profile_key persona:metrics:$persona_id;
    location = /t {
        persona on;
        persona_id $arg_id;
        return 200 "$persona_status|$persona_segment|$persona_variants\n";
    }
    location = /metrics {
        persona_metrics;
    }
CONF
    }
});

# Configuration errors: nginx writes them to stderr, where must_die cannot
# look, so `nginx -t` runs here (as in t/001-config.t).
sub nginx_t {
    my ($conf) = @_;
    my $dir = File::Temp->newdir;
    mkdir "$dir/logs";
    my $load = join '', map { "load_module $_;\n" }
                        split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} || '');
    open my $fh, '>', "$dir/nginx.conf" or die $!;
    print $fh "${load}error_log logs/error.log;\npid logs/nginx.pid;\n"
              . "events {}\nhttp {\n$conf\n}\n";
    close $fh;
    my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
    my $out = `$nginx -p $dir/ -c $dir/nginx.conf -t 2>&1`;
    return ($? >> 8, $out);
}

for my $case (
    [ '"persona on" in the metrics location',
      'persona_redis 127.0.0.1:1; server { listen 127.0.0.1:1; '
      . 'location /m { persona on; persona_metrics; } }',
      qr/"persona_metrics" directive cannot be used with "persona on"/ ],
    [ 'persona_metrics with an argument',
      'server { listen 127.0.0.1:1; location /m { persona_metrics on; } }',
      qr/invalid number of arguments in "persona_metrics" directive/ ],
    [ 'persona_metrics twice',
      'server { listen 127.0.0.1:1; '
      . 'location /m { persona_metrics; persona_metrics; } }',
      qr/"persona_metrics" directive is duplicate/ ],
    [ 'persona_metrics in a server block',
      'server { listen 127.0.0.1:1; persona_metrics; }',
      qr/"persona_metrics" directive is not allowed here/ ],
    [ 'persona_metrics alone, no persona_redis: fine',
      'server { listen 127.0.0.1:1; location /m { persona_metrics; } }',
      qr/test is successful/ ],
) {
    my ($what, $conf, $want) = @$case;
    my ($rc, $out) = nginx_t($conf);
    like($out, $want, "nginx -t: $what");
    is($rc != 0, $out !~ /successful/, "nginx -t: $what: exit status");
}

no_long_string();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: 3 vip + 2 miss + 1 anonymous: exact counters
--- request eval
["GET /t?id=v1", "GET /t?id=v2", "GET /t?id=v3", "GET /t?id=m1",
 "GET /t?id=m2", "GET /t", "GET /metrics"]
--- response_body_like eval
["^ok\\|vip\\|\$", "^ok\\|vip\\|\$", "^ok\\|vip\\|\$",
 "^miss\\|everyone\\|hero-copy=urgency\$",
 "^miss\\|everyone\\|hero-copy=control\$",
 "^anonymous\\|everyone\\|\$",
 main::metrics_like(
    'persona_requests_total{status="ok"}' => 3,
    'persona_requests_total{status="miss"}' => 2,
    'persona_requests_total{status="anonymous"}' => 1,
    'persona_requests_total{status="error"}' => 0,
    'persona_requests_total{status="off"}' => 0,
    'persona_requests_total{status="invalid"}' => 0,
    'persona_segment_total{segment="vip"}' => 3,
    'persona_segment_total{segment="everyone"}' => 3,
    'persona_variant_total{experiment="hero-copy",variant="urgency"}' => 1,
    'persona_variant_total{experiment="hero-copy",variant="control"}' => 1,
    'persona_redis_latency_seconds_bucket{le="+Inf"}' => 5,
    'persona_redis_latency_seconds_count' => 5,
    'persona_redis_latency_seconds_sum' => '0\.\d{6}',
    'persona_redis_connects_total' => '[1-5]',
    'persona_redis_connections' => 1,
    'persona_redis_errors_total{kind="timeout"}' => 0,
    'persona_redis_errors_total{kind="connect"}' => 0,
    'persona_redis_errors_total{kind="protocol"}' => 0,
    'persona_breaker_open' => 0,
    'persona_breaker_trips_total' => 0,
    'persona_rules_loaded_timestamp_seconds' => '1\d{9}',
    'persona_rules_reload_errors_total' => 0,
    '# TYPE persona_redis_latency_seconds' => 'histogram',
    '# TYPE persona_requests_total' => 'counter',
    '# TYPE persona_breaker_open' => 'gauge')]
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 2: the page parses with prometheus_client; histogram consistent
--- request eval
["GET /t?id=v1", "GET /t?id=m1", "GET /t?id=v2", "GET /t?id=m2",
 "GET /metrics"]
--- response_body_filters eval
[[], [], [], [], [\&main::prom]]
--- response_body_like eval
["^ok", "^miss", "^ok", "^miss",
 main::metrics_like(
    'persona_requests_total{status="ok"}' => 2,
    'persona_requests_total{status="miss"}' => 2,
    'persona_requests_total{status="preview"}' => 0,
    'persona_segment_total{segment="vip"}' => 2,
    'persona_segment_total{segment="everyone"}' => 2,
    'persona_variant_total{experiment="hero-copy",variant="urgency"}' => 1,
    'persona_redis_latency_seconds_count{}' => 4,
    'persona_redis_latency_seconds_bucket{le="+Inf"}' => 4,
    'persona_redis_connections{}' => 1,
    'persona_breaker_open{}' => 0,
    'persona_cache_total{result="hit"}' => 0,
    'persona_track_dropped_total{}' => 0) . '(?=metrics ok\n)']
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 3: headers: text format 0.0.4, never cached; the rules' series at 0
--- request
GET /metrics
--- response_headers
Content-Type: text/plain; version=0.0.4
Cache-Control: no-store
--- response_body_like eval
main::metrics_like(
    'persona_requests_total{status="ok"}' => 0,
    'persona_segment_total{segment="vip"}' => 0,
    'persona_segment_total{segment="everyone"}' => 0,
    'persona_variant_total{experiment="hero-copy",variant="control"}' => 0,
    'persona_variant_total{experiment="hero-copy",variant="urgency"}' => 0)
. '(?=# HELP persona_requests_total )'
. '(?!.*^persona_segment_total\{segment="\(other\)")(?!.*gold-cdp)'
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 4: HEAD gets the headers only; POST is refused with 405
--- request eval
["HEAD /metrics", "POST /metrics\r\nhello"]
--- error_code eval
[200, 405]
--- response_body eval
["", qr/405 Not Allowed/]
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 5: Redis down: errors by kind, the breaker opens and is seen open
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_CLOSED_PORT max_fails=2 fail_timeout=30s;
--- request eval
["GET /t?id=a", "GET /t?id=b", "GET /t?id=c", "GET /t?id=d",
 "GET /metrics"]
--- response_body_like eval
["^error\\|everyone", "^error\\|everyone", "^breaker\\|everyone",
 "^breaker\\|everyone",
 main::metrics_like(
    'persona_requests_total{status="error"}' => 2,
    'persona_requests_total{status="breaker"}' => 2,
    'persona_requests_total{status="ok"}' => 0,
    'persona_segment_total{segment="everyone"}' => 4,
    'persona_redis_errors_total{kind="connect"}' => 2,
    'persona_redis_errors_total{kind="timeout"}' => 0,
    'persona_redis_errors_total{kind="protocol"}' => 0,
    'persona_redis_latency_seconds_count' => 0,
    'persona_redis_connections' => 0,
    'persona_breaker_open' => 1,
    'persona_breaker_trips_total' => 1)]
--- no_error_log
[alert]
[emerg]



=== TEST 6: Redis stalls: a timeout; Redis answers garbage: a protocol error
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_MOCK_PORT timeout=300ms max_fails=0;
--- tcp_listen eval: $ENV{TEST_NGINX_MOCK_PORT}
--- tcp_reply_delay: 1s
--- tcp_reply eval: "*0\r\n"
--- request eval
["GET /t?id=a", "GET /metrics"]
--- response_body_like eval
["^timeout\\|everyone",
 main::metrics_like(
    'persona_requests_total{status="timeout"}' => 1,
    'persona_redis_errors_total{kind="timeout"}' => 1,
    'persona_redis_errors_total{kind="connect"}' => 0,
    'persona_breaker_open' => 0,
    'persona_breaker_trips_total' => 0)]
--- no_error_log
[alert]
[emerg]



=== TEST 7: a reply that is not RESP: a protocol error
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_MOCK_PORT timeout=2s max_fails=0;
--- tcp_listen eval: $ENV{TEST_NGINX_MOCK_PORT}
--- tcp_reply eval: "%garbage\r\n"
--- request eval
["GET /t?id=a", "GET /metrics"]
--- response_body_like eval
["^error\\|everyone",
 main::metrics_like(
    'persona_requests_total{status="error"}' => 1,
    'persona_redis_errors_total{kind="protocol"}' => 1,
    'persona_redis_errors_total{kind="connect"}' => 0,
    'persona_redis_errors_total{kind="timeout"}' => 0)]
--- no_error_log
[alert]
[emerg]



=== TEST 8: a segment from the profile counts by name only if the rules name it
--- request eval
["GET /t?id=c1", "GET /t?id=c2", "GET /t?id=c2", "GET /metrics"]
--- response_body_like eval
["^ok\\|gold-cdp\\|", "^ok\\|elsewhere\\|", "^ok\\|elsewhere\\|",
 main::metrics_like(
    'persona_segment_total{segment="gold-cdp"}' => 1,
    'persona_segment_total{segment="(other)"}' => 2,
    'persona_requests_total{status="ok"}' => 3)
 . '(?!.*elsewhere)']
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 9: a broken rules version at auto-reload is counted, the old one serves
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=2s;
    persona_rules_auto_reload 100ms;
--- init
main::replace_rules('{ "segments": [ { "name": "x", "when": { "profile.tier": { "equals": "gold" } } } ] }');
--- request eval
["GET /t?id=v1", "GET /metrics"]
--- response_body_like eval
["^ok\\|vip\\|",
 main::metrics_like(
    'persona_rules_reload_errors_total' => 1,
    'persona_rules_loaded_timestamp_seconds' => '1\d{9}',
    'persona_segment_total{segment="vip"}' => 1)]
--- no_error_log
[alert]
[emerg]



=== TEST 10: in a "persona on" server the metrics location does no lookup
--- config
    persona on;
    persona_id $arg_id;
    persona_profile_key persona:metrics:$persona_id;
    location = /t {
        return 200 "$persona_status\n";
    }
    location = /metrics {
        persona_metrics;
        add_header X-Status $persona_status;
    }
--- request eval
["GET /t?id=v1", "GET /metrics?id=v1", "GET /metrics?id=v2"]
--- response_headers eval
["", "X-Status: off", "X-Status: off"]
--- response_body_like eval
["^ok\$",
 main::metrics_like('persona_requests_total{status="ok"}' => 1,
                    'persona_segment_total{segment="default"}' => 1,
                    'persona_redis_latency_seconds_count' => 1),
 main::metrics_like('persona_requests_total{status="ok"}' => 1,
                    'persona_requests_total{status="off"}' => 0,
                    'persona_redis_latency_seconds_count' => 1)]
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 11: a full table of label series: the counts it drops are counted
--- user_files eval: ">>> rules.json\n$main::ManyRules"
--- request eval
["GET /t?s=5", "GET /t?s=799", "GET /t?s=798", "GET /metrics"]
--- response_body_like eval
["^anonymous\\|s5\\|\$", "^anonymous\\|s799\\|\$", "^anonymous\\|s798\\|\$",
 main::metrics_like(
    'persona_segment_total{segment="s5"}' => 1,
    'persona_segment_total{segment="s767"}' => 0,
    'persona_metrics_series_dropped_total' => 2,
    'persona_requests_total{status="anonymous"}' => 3)
 . '(?!.*segment="s799")(?!.*segment="everyone")']
--- no_error_log
[error]
[alert]
[emerg]
