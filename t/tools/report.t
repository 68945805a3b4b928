# persona-report against a generated events stream in the test redis
# (scripts/run-tests.sh starts one; TEST_NGINX_REDIS_PORT): 10,000
# visitors with known conversion rates, read back as rates, lift,
# p-value and confidence interval; the time window; --rules for the
# control; and every attribution model on a hand-built case (the same
# as t/unit/test_report.c, so the credits below are derived there).
use strict;
use warnings;
use Test::More;
use JSON::PP;
use POSIX qw(erfc);

my $report = $ENV{PERSONA_REPORT} || 'build/persona-report';
-x $report or die "$report not built (make tools)\n";

my $port = $ENV{TEST_NGINX_REDIS_PORT} || 6379;
my $redis = "127.0.0.1:$port";

sub resp {
    my @a = @_;
    return "*" . scalar(@a) . "\r\n"
           . join('', map { '$' . length($_) . "\r\n$_\r\n" } @a);
}

# XADD every event with an id of its own ts, in time order
sub load_stream {
    my ($key, @events) = @_;
    @events = sort { $a->{ts} <=> $b->{ts} } @events;
    my ($last, $seq) = (-1, 0);
    my $cmds = resp('DEL', $key);
    for my $e (@events) {
        $seq = $e->{ts} == $last ? $seq + 1 : 0;
        $last = $e->{ts};
        my @f = map { ($_, $e->{$_}) } grep { defined $e->{$_} } sort keys %$e;
        $cmds .= resp('XADD', $key, "$e->{ts}-$seq", @f);
    }
    open my $p, '|-', "redis-cli -p $port --pipe > /dev/null"
        or die "redis-cli: $!";
    print $p $cmds;
    close $p or die "redis-cli --pipe failed\n";
}

sub run {
    my $out = `@_ 2>&1`;
    return ($? >> 8, $out);
}

# ---- 10,000 visitors -------------------------------------------------
# visitor i: hero-copy control when i is even, urgency when odd; k = i/2.
# control buys when k % 100 < 10 (500 of 5000 = 10%), urgency when
# k % 100 < 12 (600 of 5000 = 12%), 30 s after the exposure.  Control
# visitors with k % 100 == 50 also bought 10 s BEFORE their exposure (not
# counted).  Urgency visitors with k % 50 == 0 (100) see a second,
# capped exposure.  "price" (a/b, no variant named control) for i % 4 != 3.
my $T0 = 1764547200000;    # 2025-12-01T00:00:00Z
my @ev;
for my $i (0 .. 9999) {
    my $k = int($i / 2);
    my $arm = $i % 2 ? 'urgency' : 'control';
    my $ts = $T0 + $i * 1000;
    my $vars = "hero-copy=$arm";
    $vars .= ",price=" . ($k % 2 ? 'b' : 'a') if $i % 4 != 3;
    my %base = (id => "visitor-$i", segment => 'everyone',
                segments => 'everyone', path => '/', status => 'ok');
    push @ev, { %base, type => 'exposure', variants => $vars, ts => $ts };
    if ($arm eq 'urgency' && $k % 50 == 0) {
        push @ev, { %base, type => 'exposure', ts => $ts + 5000,
                    variants => "hero-copy=urgency-capped" };
    }
    my $buys = $arm eq 'control' ? $k % 100 < 10 : $k % 100 < 12;
    push @ev, { %base, type => 'conversion', goal => 'purchase',
                variants => $vars, ts => $ts + 30000 } if $buys;
    if ($arm eq 'control' && $k % 100 == 50) {
        push @ev, { %base, type => 'conversion', goal => 'purchase',
                    variants => $vars, ts => $ts - 10000 };
    }
}
# an entry without an id is skipped
push @ev, { type => 'exposure', ts => $T0, variants => 'hero-copy=control' };
load_stream('persona:test:ab', @ev);

my ($rc, $out) = run($report, '--redis', $redis, '--stream',
                     'persona:test:ab', '--json');
is $rc, 0, 'experiments --json: exit 0' or diag $out;
my $j = eval { decode_json($out) } or die "not JSON: $out";

is $j->{visitors}, 10000, '10,000 visitors';
is $j->{skipped}, 1, 'the entry without an id is skipped';
is $j->{exposures}, 10100, 'exposures (100 capped repeats)';
like $j->{test}, qr/two-proportion z-test/, 'says which test';

my ($hero) = grep { $_->{name} eq 'hero-copy' } @{ $j->{experiments} };
my ($price) = grep { $_->{name} eq 'price' } @{ $j->{experiments} };
is $hero->{control}, 'control', 'the variant named control is the control';
my %v = map { $_->{name} => $_ } @{ $hero->{variants} };
is $v{control}{visitors}, 5000, 'control visitors';
is $v{urgency}{visitors}, 5000, 'urgency visitors';
is $v{urgency}{capped}, 100, 'capped visitors counted in their variant';
is $v{control}{capped}, 0, 'no capped control visitors';

my $c = $v{control}{goals}{purchase};
my $u = $v{urgency}{goals}{purchase};
is $c->{converters}, 500, 'control converters (purchases before exposure not counted)';
is $u->{converters}, 600, 'urgency converters';
ok abs($c->{rate} - 0.10) < 1e-6, 'control rate 10%';
ok abs($u->{rate} - 0.12) < 1e-6, 'urgency rate 12%';
ok abs($u->{lift} - 0.20) < 1e-6, 'lift +20%';
ok abs($u->{diff} - 0.02) < 1e-6, 'diff 2 points';

# the z-test computed here independently
my ($p1, $p2, $n) = (0.10, 0.12, 5000);
my $p = (500 + 600) / 10000;
my $z = ($p2 - $p1) / sqrt($p * (1 - $p) * (2 / $n));
my $pv = erfc(abs($z) / sqrt(2));
my $se = sqrt($p1 * (1 - $p1) / $n + $p2 * (1 - $p2) / $n);
ok abs($u->{z} - $z) < 1e-3, "z = $z";
ok abs($u->{p_value} - $pv) < 1e-5, "p-value = $pv";
ok $u->{p_value} > 0.001 && $u->{p_value} < 0.002, 'p-value about 0.0014';
ok abs($u->{ci95}[0] - (0.02 - 1.959964 * $se)) < 1e-5, 'CI low';
ok abs($u->{ci95}[1] - (0.02 + 1.959964 * $se)) < 1e-5, 'CI high';
ok !exists $c->{p_value}, 'no test of control against itself';

is $price->{control}, undef, 'price: no control known';
my %pv = map { $_->{name} => $_ } @{ $price->{variants} };
is $pv{a}{visitors} + $pv{b}{visitors}, 7500, 'price: 7500 visitors';

# --rules: the first variant of the rules is the control
open my $fh, '>', 't/servroot-report-rules.json' or die $!;
print $fh '{ "experiments": [ { "name": "price", "salt": "s", "variants": '
          . '[ { "name": "b", "weight": 50 }, { "name": "a", "weight": 50 } ] } ] }';
close $fh;
($rc, $out) = run($report, '--redis', $redis, '--stream', 'persona:test:ab',
                  '--rules', 't/servroot-report-rules.json', '--json');
unlink 't/servroot-report-rules.json';
$j = decode_json($out);
($price) = grep { $_->{name} eq 'price' } @{ $j->{experiments} };
is $price->{control}, 'b', '--rules: the first variant is the control';

# text output
($rc, $out) = run($report, '--redis', $redis, '--stream', 'persona:test:ab',
                  'experiments');
is $rc, 0, 'text: exit 0';
like $out, qr/^experiment hero-copy \(control: control\)$/m, 'text: experiment';
like $out, qr/^    urgency\s+600\s+12\.00%\s+\+20\.00%\s+\+2\.00 pp\s+\[\+0\.\d\d, \+3\.\d\d\] pp\s+0\.00\d\d$/m,
    'text: the urgency line';
like $out, qr/two-proportion z-test/, 'text: says which test';

# the window: --since a date, --until unix seconds (inclusive):
# exposures of visitors 0..5000
($rc, $out) = run($report, '--redis', $redis, '--stream', 'persona:test:ab',
                  '--since', '2025-12-01', '--until', ($T0 / 1000 + 5000),
                  '--json');
$j = decode_json($out);
is $j->{visitors}, 5001, 'window: visitors 0..5000';
is $j->{since_ms}, $T0, 'window: --since as a date';

($rc, $out) = run($report, '--redis', $redis, '--stream', 'persona:test:ab',
                  '--since', '1d', '--json');
is decode_json($out)->{visitors}, 0, 'window: an age (nothing in the last day)';

($rc, $out) = run($report, '--since', 'yesterday');
is $rc, 2, 'a bad time is a usage error';

($rc, $out) = run($report, '--redis', '127.0.0.1:1');
is $rc, 1, 'Redis down: exit 1';
like $out, qr/cannot connect to 127\.0\.0\.1:1/, 'Redis down: says so';

($rc, $out) = run($report, '--redis', $redis, '--stream', 'persona:test:nope');
is $rc, 0, 'an empty stream';
like $out, qr/no experiments/, 'an empty stream: says so';

# ---- attribution: the hand-built case of t/unit/test_report.c -----------
my $D = 86400000;
my @a = (
    [ 'exposure', 0, 'A', undef, 'google', 'cpc', 'spring' ],
    [ 'exposure', 3 * $D, 'A', undef, 'email', 'newsletter', undef ],
    [ 'exposure', 5 * $D, 'A' ],
    [ 'conversion', 7 * $D, 'A', 'purchase' ],
    [ 'conversion', 1 * $D, 'B', 'purchase' ],
    [ 'exposure', 0, 'C', undef, 'facebook', 'social', 'spring' ],
    [ 'conversion', 1 * $D, 'C', 'purchase' ],
    [ 'exposure', 2 * $D, 'C', undef, 'google', 'cpc' ],
    [ 'conversion', 0, 'D', 'purchase', 'tiktok' ],
    [ 'exposure', 0, 'E', undef, 'google', 'cpc' ],
    [ 'exposure', 1 * $D, 'E', undef, 'bing', 'cpc' ],
    [ 'conversion', 1 * $D, 'E', 'purchase', 'bing', 'cpc' ],
    [ 'conversion', 2 * $D, 'E', 'signup' ],
);
load_stream('persona:test:attr', map {
    my ($type, $ts, $id, $goal, $s, $m, $cmp) = @$_;
    { type => $type, ts => $T0 + $ts, id => $id, goal => $goal,
      utm_source => $s, utm_medium => $m, utm_campaign => $cmp,
      variants => '' }
} @a);

sub credits {
    my ($rc, $out) = run($report, '--redis', $redis, '--stream',
                         'persona:test:attr', 'attribution', '--goal',
                         'purchase', @_, '--json');
    is $rc, 0, "attribution @_: exit 0" or diag $out;
    my $j = decode_json($out);
    is $j->{conversions}, 5, "attribution @_: 5 conversions";
    is $j->{direct}, 1, "attribution @_: 1 direct";
    my $by = $j->{by};
    return { map { $_->{$by} => $_->{credit} } @{ $j->{credits} } };
}

sub near {
    my ($got, $want, $name) = @_;
    my $ok = 1;
    for my $k (sort keys %$want) {
        $ok = 0 unless defined $got->{$k}
                       && abs($got->{$k} - $want->{$k}) < 1e-5;
    }
    $ok = 0 unless keys %$got == keys %$want;
    ok $ok, $name or diag explain $got;
}

near credits('--model', 'first'),
     { google => 2, facebook => 1, tiktok => 1, '(direct)' => 1 },
     'first touch';
near credits('--model', 'last'),
     { email => 1, facebook => 1, tiktok => 1, bing => 1, '(direct)' => 1 },
     'last touch';
near credits('--model', 'linear'),
     { google => 1, email => 0.5, bing => 0.5, facebook => 1, tiktok => 1,
       '(direct)' => 1 },
     'linear';
near credits('--model', 'time-decay', '--half-life', '7d'),
     { google => 0.9015405, email => 0.5737244, bing => 0.5247350,
       facebook => 1, tiktok => 1, '(direct)' => 1 },
     'time-decay, half-life 7 days';
near credits('--model', 'linear', '--by', 'medium'),
     { cpc => 1.5, newsletter => 0.5, social => 1, '(none)' => 1,
       '(direct)' => 1 },
     'linear by medium';
near credits('--model', 'first', '--by', 'campaign'),
     { spring => 2, '(none)' => 2, '(direct)' => 1 },
     'first by campaign';

($rc, $out) = run($report, '--redis', $redis, '--stream', 'persona:test:attr',
                  'attribution', '--goal', 'purchase', '--model', 'first');
like $out, qr/^  google\s+2\.00\s+40\.0%$/m, 'text: google 2 of 5';
like $out, qr/^5 conversions, 1 without a touch \(direct\)$/m, 'text: totals';

# odd bytes in a source: the JSON stays valid (invalid UTF-8 -> U+FFFD)
load_stream('persona:test:odd',
    { type => 'exposure', ts => $T0, id => 'O', utm_source => "a\"b\\\x01\xff\xc3\xa9" },
    { type => 'conversion', ts => $T0 + 1, id => 'O', goal => 'purchase' });
($rc, $out) = run($report, '--redis', $redis, '--stream', 'persona:test:odd',
                  'attribution', '--goal', 'purchase', '--model', 'last',
                  '--json');
$j = eval { decode_json($out) };
ok $j, 'odd bytes: valid JSON' or diag $out;
is $j && $j->{credits}[0]{source}, "a\"b\\\x01\x{fffd}\x{e9}",
    'odd bytes: escaped, invalid UTF-8 replaced';

($rc, $out) = run($report, 'attribution', '--goal', 'purchase');
is $rc, 2, 'attribution without --model: usage error';
($rc, $out) = run($report, 'attribution', '--goal', 'purchase', '--model',
                  'u-shaped');
is $rc, 2, 'an unknown model: usage error';

done_testing();
