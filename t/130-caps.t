# Frequency caps (issue 9): "cap": { "max", "per" } on an experiment.  The
# counter <profile key>:cap:<experiment> is read with the profile and
# incremented after each response that showed a non-control variant, with
# its expiry set when it is created; at max the visitor sees the control
# and $persona_variant_NAME reads "<variant>-capped".  Prefetch requests,
# previews and Sec-GPC: 1 (persona_respect_gpc on) count nothing; bots are
# in no experiment.  Bad caps fail nginx -t with file:line:column.
use Test::Nginx::Socket 'no_plan';
use IO::Socket::INET;
use File::Temp ();

$ENV{TEST_NGINX_REDIS_PORT} ||= 6379;

# Redis over RESP, for the blocks that read back what nginx wrote: a block
# with "--- redis_init" runs those commands (one a line) before its
# request; a block with "--- redis_read" gets, as its response, what those
# commands return (served from html/redis.txt), after tracking writes
# have had a moment to land.
sub redis_reply {
    my ($s) = @_;
    my $line = <$s>;
    die "redis: no reply\n" unless defined $line;
    $line =~ s/\r\n\z//;
    my ($t, $v) = (substr($line, 0, 1), substr($line, 1));
    return $v if $t eq '+' || $t eq ':';
    return "(error) $v" if $t eq '-';
    if ($t eq '$') {
        return '(nil)' if $v < 0;
        my $buf = '';
        read($s, $buf, $v + 2) == $v + 2 or die "redis: short read\n";
        return substr($buf, 0, $v);
    }
    if ($t eq '*') {
        return '(nil)' if $v < 0;
        return [ map { redis_reply($s) } 1 .. $v ];
    }
    die "redis: bad reply \"$line\"\n";
}

sub redis_cmd {
    my @args = @_;
    my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1',
                                  PeerPort => $ENV{TEST_NGINX_REDIS_PORT})
        or die "redis: cannot connect: $!\n";
    print $s '*' . @args . "\r\n"
             . join('', map { '$' . length($_) . "\r\n$_\r\n" } @args);
    my $r = redis_reply($s);
    close $s;
    return $r;
}

# arrays flattened: one line per element, nested ones joined by spaces
sub redis_text {
    my ($r) = @_;
    return "$r\n" unless ref $r;
    return join '', map {
        ref $_ ? join(' ', map { ref $_ ? join(' ', @$_) : $_ } @$_) . "\n"
               : "$_\n" } @$r;
}

sub redis_lines {
    my ($text) = @_;
    return map { [ split ' ', $_ ] } grep { /\S/ } split /\n/, $text;
}

our $Rules = <<'JSON';
{
  "default": "everyone",
  "experiences": {
    "everyone": { "response_headers": { "X-Hero": "plain" } }
  },
  "experiments": [
    { "name": "hero", "salt": "s",
      "variants": [
        { "name": "control", "weight": 0 },
        { "name": "urgency", "weight": 100,
          "response_headers": { "X-Hero": "urgent" } } ],
      "cap": { "max": 2, "per": "1h" } },
    { "name": "free", "salt": "s",
      "variants": [ { "name": "a", "weight": 0 }, { "name": "b", "weight": 100 } ] }
  ]
}
JSON

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

    if (defined $block->redis_init) {
        redis_cmd(@$_) for redis_lines($block->redis_init);
    }

    my $files = ">>> rules.json\n$Rules";

    if (defined $block->redis_read) {
        select(undef, undef, undef, 0.3);
        my $text = join '', map { redis_text(redis_cmd(@$_)) }
                                redis_lines($block->redis_read);
        $files .= ">>> redis.txt\n$text";
        $block->set_value("request", "GET /redis.txt");
    }

    if (!defined $block->http_config) {
        $block->set_value("http_config",
            "    persona_redis 127.0.0.1:\$TEST_NGINX_REDIS_PORT timeout=2s;\n");
    }

    $block->set_value("user_files", $files) if !defined $block->user_files;

    if (!defined $block->config) {
        $block->set_value("config", <<'CONF');
    persona_rules ../html/rules.json;
    location = /t {
        persona on;
        persona_id $arg_id;
        return 200 "$persona_variants|$persona_variant_hero|$sent_http_x_hero\n";
    }
    location = /redis.txt {
        default_type text/plain;
    }
CONF
    }
});

# nginx -t on a rules file (configuration errors go to stderr, which
# Test::Nginx's must_die cannot read): its output must match re
sub nginx_t_rules {
    my ($rules, $re, $name) = @_;
    my $dir = File::Temp::tempdir(CLEANUP => 1);
    mkdir "$dir/$_" for qw(conf logs);
    open my $r, '>', "$dir/conf/rules.json" or die $!;
    print $r $rules;
    close $r;
    my $load = join '', map { "load_module $_;\n" }
                        split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} || '');
    open my $c, '>', "$dir/conf/nginx.conf" or die $!;
    print $c "$load\nerror_log logs/error.log;\npid logs/nginx.pid;\n"
             . "events { worker_connections 64; }\n"
             . "http { persona_redis 127.0.0.1:1; persona_rules rules.json; }\n";
    close $c;
    my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
    my $out = `$nginx -p $dir/ -c conf/nginx.conf -t 2>&1`;
    Test::More::isnt($? >> 8, 0, "$name: nginx -t fails");
    Test::More::like($out, $re, "$name: the message");
}

nginx_t_rules(<<'JSON', qr/rules\.json:5:14: expected a cap: \{ "max": 3, "per": "1d" \}/, 'a cap without "per"');
{
  "experiments": [
    { "name": "hero",
      "variants": [ { "name": "a" }, { "name": "b" } ],
      "cap": { "max": 3 } }
  ]
}
JSON

nginx_t_rules(<<'JSON', qr/rules\.json:5:33: expected a period such as "30m", "12h", "1d" or "1w"/, 'a bad period');
{
  "experiments": [
    { "name": "hero",
      "variants": [ { "name": "a" }, { "name": "b" } ],
      "cap": { "max": 3, "per": "forever" } }
  ]
}
JSON

nginx_t_rules(<<'JSON', qr/rules\.json:5:23: expected a whole number from 1 to 1000000/, 'max 0');
{
  "experiments": [
    { "name": "hero",
      "variants": [ { "name": "a" }, { "name": "b" } ],
      "cap": { "max": 0, "per": "1d" } }
  ]
}
JSON

no_long_string();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: first exposure: the variant, and a counter is started
--- redis_init
DEL persona:profile:cap1:cap:hero persona:profile:cap1:cap:free
--- request
GET /t?id=cap1
--- response_headers
X-Hero: urgent
--- response_body
hero=urgency,free=b|urgency|
--- wait: 0.2
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 2: the counter is 1 and expires in the cap's period; an experiment without cap has none
--- redis_read
GET persona:profile:cap1:cap:hero
TTL persona:profile:cap1:cap:hero
EXISTS persona:profile:cap1:cap:free
--- response_body_like
^1\n(3599|3600)\n0$



=== TEST 3: second exposure, still under the cap
--- request
GET /t?id=cap1
--- response_headers
X-Hero: urgent
--- response_body
hero=urgency,free=b|urgency|
--- wait: 0.2
--- no_error_log
[error]



=== TEST 4: at max: the control's experience, the variant name marked -capped
--- request
GET /t?id=cap1
--- response_headers
X-Hero: plain
--- response_body
hero=urgency-capped,free=b|urgency-capped|
--- wait: 0.2
--- no_error_log
[error]



=== TEST 5: a capped view counts nothing more
--- redis_read
GET persona:profile:cap1:cap:hero
--- response_body
2



=== TEST 6: once the counter has expired (deleted here) the variant is back
--- redis_init
DEL persona:profile:cap1:cap:hero
--- request
GET /t?id=cap1
--- response_headers
X-Hero: urgent
--- response_body
hero=urgency,free=b|urgency|
--- wait: 0.2
--- no_error_log
[error]



=== TEST 7: a counter at max from elsewhere caps at once
--- redis_init
SET persona:profile:cap2:cap:hero 5 EX 60
--- request
GET /t?id=cap2
--- response_body
hero=urgency-capped,free=b|urgency-capped|
--- no_error_log
[error]



=== TEST 8: prefetch requests (Sec-Purpose or Purpose) get the variant but count no cap
--- redis_init
DEL persona:profile:cap3:cap:hero
--- pipelined_requests eval
["GET /t?id=cap3", "GET /t?id=cap3", "GET /t?id=cap3"]
--- more_headers
Sec-Purpose: prefetch
--- response_body eval
["hero=urgency,free=b|urgency|\n", "hero=urgency,free=b|urgency|\n", "hero=urgency,free=b|urgency|\n"]
--- wait: 0.2
--- no_error_log
[error]



=== TEST 9: Purpose: prefetch neither
--- request
GET /t?id=cap3
--- more_headers
Purpose: prefetch
--- response_body
hero=urgency,free=b|urgency|
--- wait: 0.2



=== TEST 10: nothing was counted for cap3
--- redis_read
EXISTS persona:profile:cap3:cap:hero
--- response_body
0



=== TEST 11: Sec-GPC: 1 under persona_respect_gpc (on by default) counts no cap
--- request
GET /t?id=cap3
--- more_headers
Sec-GPC: 1
--- response_body
hero=urgency,free=b|urgency|
--- wait: 0.2



=== TEST 12: still nothing counted
--- redis_read
EXISTS persona:profile:cap3:cap:hero
--- response_body
0



=== TEST 13: with persona_respect_gpc off, Sec-GPC: 1 counts
--- config
    persona_rules ../html/rules.json;
    location = /t {
        persona on;
        persona_respect_gpc off;
        persona_id $arg_id;
        return 200 "$persona_variants\n";
    }
--- request
GET /t?id=cap3
--- more_headers
Sec-GPC: 1
--- response_body
hero=urgency,free=b
--- wait: 0.2



=== TEST 14: counted
--- redis_read
GET persona:profile:cap3:cap:hero
--- response_body
1



=== TEST 15: bots are in no experiment and count nothing
--- redis_init
DEL persona:profile:cap4:cap:hero
--- request
GET /t?id=cap4
--- more_headers
User-Agent: Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)
--- response_headers
X-Hero: plain
--- response_body
||
--- wait: 0.2
--- no_error_log
[error]



=== TEST 16: nothing counted for the bot
--- redis_read
EXISTS persona:profile:cap4:cap:hero
--- response_body
0



=== TEST 17: Redis down: the cap is not applied, the page is served
--- http_config
    persona_redis 127.0.0.1:1 timeout=200ms max_fails=0;
--- request
GET /t?id=cap1
--- response_body
hero=urgency,free=b|urgency|
--- wait: 0.2
--- error_log
page served without profile



=== TEST 18: a cap counter that is not a number (or of the wrong type) is ignored
--- redis_init
DEL persona:profile:cap5:cap:hero
HSET persona:profile:cap5:cap:hero x 1
--- request
GET /t?id=cap5
--- response_body
hero=urgency,free=b|urgency|
--- no_error_log
[error]



=== TEST 19: a custom profile key: the counter shares its hash tag
--- config
    persona_rules ../html/rules.json;
    location = /t {
        persona on;
        persona_id $arg_id;
        persona_profile_key "p:{$persona_id}";
        return 200 "$persona_variants\n";
    }
--- redis_init
DEL p:{cap6}:cap:hero
--- request
GET /t?id=cap6
--- response_body
hero=urgency,free=b
--- wait: 0.2



=== TEST 20: counted under the custom key
--- redis_read
GET p:{cap6}:cap:hero
--- response_body
1



=== TEST 21: a profile served from persona_profile_cache still reads its cap counters (alone, in one round trip)
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=2s;
    persona_profile_cache zone=caps130:1m ttl=60s;
--- redis_init
HSET persona:profile:cap7 tier gold
SET persona:profile:cap7:cap:hero 5 EX 60
--- config
    persona_rules ../html/rules.json;
    location = /t {
        persona on;
        persona_id $arg_id;
        return 200 "$persona_cache|$persona_variants\n";
    }
--- pipelined_requests eval
["GET /t?id=cap7", "GET /t?id=cap7"]
--- response_body eval
["miss|hero=urgency-capped,free=b\n", "hit|hero=urgency-capped,free=b\n"]
--- no_error_log
[error]
[alert]
[emerg]
