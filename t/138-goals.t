# Goals (issue 9): "goals": [ { "name", "when" } ] in the rules mark
# conversions.  With persona_track on, a request matching a goal appends a
# "type conversion goal <name>" event (besides its exposure) with the same
# fields; with tracking off, or for the requests tracking skips, nothing.
# Bad goals fail nginx -t with file:line:column.
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

nginx_t_rules(<<'JSON', qr/rules\.json:4:15: goal "purchase" is already defined at .*rules\.json:3:15/, 'a goal defined twice');
{
  "goals": [
    { "name": "purchase", "when": { "request.path": "/thanks" } },
    { "name": "purchase", "when": { "request.path": "/done" } }
  ]
}
JSON

nginx_t_rules(<<'JSON', qr/rules\.json:2:24: expected a goal name of 1 to 64 letters/, 'a goal name with a blank');
{
  "goals": [ { "name": "buy now", "when": { "request.path": "/thanks" } } ]
}
JSON

nginx_t_rules(<<'JSON', qr/rules\.json:2:41: unknown attribute "order.total"/, 'an unknown attribute');
{
  "goals": [ { "name": "buy", "when": { "order.total": { "gt": 1 } } } ]
}
JSON

nginx_t_rules(<<'JSON', qr/rules\.json:2:14: expected "when" with the conditions of goal "buy"/, 'a goal without conditions');
{
  "goals": [ { "name": "buy" } ]
}
JSON

our $Rules = <<'JSON';
{
  "segments": [ { "name": "news", "when": { "arg.utm_source": "news" } } ],
  "default": "everyone",
  "goals": [
    { "name": "purchase", "when": { "request.path": "/checkout/thanks" } },
    { "name": "big-order", "when": { "all": [
        { "request.path": "/checkout/thanks" }, { "arg.total": { "gte": 100 } } ] } },
    { "name": "signup", "when": { "arg.signup": "1" } }
  ]
}
JSON

add_block_preprocessor(sub {
    my $block = shift;

    # a browser: an empty User-Agent is a bot
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
        $text =~ s/^\d+-\d+ //mg;
        $text =~ s/ ts \d{13}\b/ ts <ms>/g;
        $files .= ">>> redis.txt\n$text";
        $block->set_value("request", "GET /redis.txt");
    }

    if (!defined $block->http_config) {
        $block->set_value("http_config", <<'HTTP');
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=2s;
    persona_events persona:t138;
HTTP
    }

    $block->set_value("user_files", $files) if !defined $block->user_files;

    if (!defined $block->config) {
        $block->set_value("config", <<'CONF');
    persona_rules ../html/rules.json;
    location /checkout/ {
        persona on;
        persona_track on;
        persona_id $arg_id;
        return 200 "$persona_segment|$persona_status\n";
    }
    location /off/ {
        persona on;
        persona_id $arg_id;
        return 200 "$persona_segment|$persona_status\n";
    }
    location = /redis.txt {
        default_type text/plain;
    }
CONF
    }
});

no_root_location();
no_long_string();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: a purchase: the exposure and one conversion per matching goal, in file order
--- redis_init
DEL persona:t138 persona:profile:g1
--- request
GET /checkout/thanks?id=g1&total=120&utm_source=news&utm_campaign=q4
--- more_headers
Referer: https://shop.example.com/cart
--- response_body
news|miss
--- wait: 0.2
--- no_error_log
[error]
[alert]
[emerg]



=== TEST 2: read back
--- redis_read
XRANGE persona:t138 - +
--- response_body
type exposure id g1 segment news segments news variants  path /checkout/thanks status miss ts <ms> utm_source news utm_campaign q4 referer_host shop.example.com
type conversion goal purchase id g1 segment news segments news variants  path /checkout/thanks status miss ts <ms> utm_source news utm_campaign q4 referer_host shop.example.com
type conversion goal big-order id g1 segment news segments news variants  path /checkout/thanks status miss ts <ms> utm_source news utm_campaign q4 referer_host shop.example.com



=== TEST 3: a page that converts nothing: the exposure only
--- redis_init
DEL persona:t138
--- request
GET /checkout/cart?id=g1
--- response_body
everyone|ok
--- wait: 0.2
--- no_error_log
[error]



=== TEST 4: read back
--- redis_read
XRANGE persona:t138 - +
--- response_body
type exposure id g1 segment everyone segments  variants  path /checkout/cart status ok ts <ms>



=== TEST 5: tracking off: a matching request (goal signup) writes no conversion
--- redis_init
DEL persona:t138
--- request
GET /off/x?id=g2&signup=1
--- response_body
everyone|miss
--- wait: 0.2
--- no_error_log
[error]



=== TEST 6: nothing written
--- redis_read
EXISTS persona:t138
--- response_body
0



=== TEST 7: a bot converts nothing
--- request
GET /checkout/thanks?id=g3
--- more_headers
User-Agent: Googlebot/2.1 (+http://www.google.com/bot.html)
--- response_body
everyone|miss
--- wait: 0.2



=== TEST 8: an anonymous visitor converts nothing
--- request
GET /checkout/thanks
--- response_body
everyone|anonymous
--- wait: 0.2



=== TEST 9: prefetch converts nothing
--- request
GET /checkout/thanks?id=g3
--- more_headers
Sec-Purpose: prefetch
--- response_body
everyone|miss
--- wait: 0.2



=== TEST 10: Sec-GPC: 1 converts nothing
--- request
GET /checkout/thanks?id=g3
--- more_headers
Sec-GPC: 1
--- response_body
everyone|miss
--- wait: 0.2



=== TEST 11: nothing written
--- redis_read
EXISTS persona:t138
--- response_body
0



=== TEST 12: the default stream when persona_events is not set
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=2s;
--- redis_init
DEL persona:events
--- request
GET /checkout/thanks?id=g4
--- response_body
everyone|miss
--- wait: 0.2
--- no_error_log
[error]



=== TEST 13: read back
--- redis_read
XRANGE persona:events - +
DEL persona:events
--- response_body
type exposure id g4 segment everyone segments  variants  path /checkout/thanks status miss ts <ms>
type conversion goal purchase id g4 segment everyone segments  variants  path /checkout/thanks status miss ts <ms>
1
