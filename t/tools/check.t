# persona-check --id (the module's bucketing, published vectors of
# src/persona_bucket.h) and --preview-link (signature of
# src/persona_preview.h, placement of the arguments, checks).
use strict;
use warnings;
use Test::More;
use Digest::SHA qw(hmac_sha256_hex);
use File::Temp qw(tempdir);

my $check = $ENV{PERSONA_CHECK} || 'build/persona-check';
-x $check or die "$check not built (make tools)\n";

my $dir = tempdir(CLEANUP => 1);

sub write_file {
    my ($name, $text) = @_;
    open my $fh, '>', "$dir/$name" or die "$dir/$name: $!";
    print $fh $text;
    close $fh;
    return "$dir/$name";
}

sub run {
    my $out = `@_ 2>&1`;
    return ($? >> 8, $out);
}

my $rules = write_file('rules.json', <<'JSON');
{
  "segments": [ { "name": "vip", "when": { "profile.tier": "gold" } } ],
  "default": "everyone",
  "experiments": [
    { "name": "hero-copy", "segments": ["everyone", "vip"], "salt": "2026-q4",
      "traffic": 50,
      "variants": [ { "name": "control", "weight": 50 },
                    { "name": "urgency", "weight": 50 } ],
      "cap": { "max": 3, "per": "1d" } },
    { "name": "all", "salt": "",
      "variants": [ { "name": "a", "weight": 100 } ] }
  ]
}
JSON

# visitor-1: traffic bucket 8830 (holdout at 50%), variant bucket 443
my ($rc, $out) = run($check, $rules, '--id', 'visitor-1');
is $rc, 0, '--id: exit 0';
like $out, qr/^experiment hero-copy: holdout \(traffic bucket 8830 >= 5000; would be bucket 443\)$/m,
    '--id: holdout with both buckets';
like $out, qr/^  traffic 50\.00%, salt "2026-q4", for segments: everyone, vip$/m,
    '--id: traffic, salt and segments';
like $out, qr/^experiment all: a \(bucket \d+ in \[0, 10000\), control\)$/m,
    '--id: an experiment for all segments';
like $out, qr/^  traffic 100\.00%, salt "", for segments: all$/m,
    '--id: "all" segments';

# visitor-2: variant bucket 2027 (control at 50/50) when it enters
($rc, $out) = run($check, $rules, '--id', 'visitor-2');
like $out, qr/^experiment hero-copy: (control \(bucket 2027 in \[0, 5000\), control\)|holdout \(traffic bucket \d+ >= 5000; would be bucket 2027\))$/m,
    '--id: visitor-2 has bucket 2027';

($rc, $out) = run($check, $rules, '--id', 'bad id');
is $rc, 2, '--id: an invalid id is a usage error';

# --preview-link without rules
my $before = time();
($rc, $out) = run($check, '--preview-link', "'https://shop.example/p?a=1#top'",
                  'everyone,hero-copy=urgency', '--token', 's3cret',
                  '--ttl', '2h');
is $rc, 0, '--preview-link: exit 0';
chomp $out;
like $out, qr{^https://shop\.example/p\?a=1&persona_preview=everyone,hero-copy=urgency&persona_preview_exp=(\d+)&persona_preview_sig=([0-9a-f]{64})#top$},
    '--preview-link: arguments after &, before the fragment';
my ($exp, $sig) = $out =~ /exp=(\d+)&persona_preview_sig=(\w+)/;
ok $exp >= $before + 7200 && $exp <= time() + 7200, '--ttl 2h';
is $sig, hmac_sha256_hex("everyone,hero-copy=urgency|$exp", 's3cret'),
    'signature: HMAC-SHA256 of VALUE|EXP keyed by the token';

($rc, $out) = run($check, '--preview-link', 'https://shop.example/', "'a b'",
                  '--token', 'k');
like $out, qr{^https://shop\.example/\?persona_preview=a%20b&}, 'encoded, after ?';

($rc, $out) = run("PERSONA_PREVIEW_TOKEN=k $check", '--preview-link',
                  'https://x/', 'vip');
is $rc, 0, 'token from the environment';

($rc, $out) = run($check, '--preview-link', 'https://x/', 'vip');
is $rc, 2, 'no token: usage error';

($rc, $out) = run($check, '--preview-link', 'https://x/', 'vip', '--token',
                  'k', '--ttl', '8d');
is $rc, 2, 'ttl over 7 days refused';
like $out, qr/at most 7d/, 'ttl message';

# with rules, names are checked
($rc, $out) = run($check, $rules, '--preview-link', 'https://x/',
                  'vip,hero-copy=urgency', '--token', 'k');
is $rc, 0, 'rules: a known preview';
($rc, $out) = run($check, $rules, '--preview-link', 'https://x/',
                  'gold', '--token', 'k');
is $rc, 2, 'rules: an unknown segment';
like $out, qr/unknown segment "gold"/, 'rules: says which';
($rc, $out) = run($check, $rules, '--preview-link', 'https://x/',
                  'vip,hero-copy=scarcity', '--token', 'k');
like $out, qr/unknown variant "scarcity" of experiment "hero-copy"/,
    'rules: an unknown variant';

done_testing();
