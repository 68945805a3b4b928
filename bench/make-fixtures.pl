#!/usr/bin/perl
# Writes the fixtures of the extra benchmark cases of bench/run.sh into DIR:
#
#   rules/rules50.json    50 segments: profile.* eq/in/gte/between,
#                         arg.utm_source in, header, cookie, device, lang,
#                         regex/prefix on request.path, all/any/not; 43 of
#                         them match no benchmark visitor, one matches ~10%
#                         (ltv >= 4500), five match by profile.segment (one
#                         each), the last one ("crawler", device bot)
#                         matches requests without User-Agent (wrk's with
#                         bench/random-id.lua); response_headers in a few
#                         experiences
#   rules/geo.json        geo.country / geo.city segments, then
#                         profile.segment
#   rules/cap.json        one experiment (control / urgency, 50/50) with a
#   rules/nocap.json      frequency cap, and the same without it
#   rules/inject.json     one segment per profile.segment value, with blocks
#                         for the slots hero, offer and footer in every
#                         experience (and the default's)
#   html/inject-4k/index.html     4096 bytes  } bench/page.html with the 3
#   html/inject-200k/index.html   204800 bytes} slots spread through it
#   expect/inject-4k.html, expect/inject-200k.html
#                         what the injecting location must send to the
#                         visitor given with KEY=VALUE (profile fields)
#
# Usage: bench/make-fixtures.pl DIR PAGE_TEMPLATE [segment=S tier=T
#        first_name=F ltv=L]
# Everything is deterministic: the same arguments give the same bytes.
use strict;
use warnings;

use JSON::PP;

my ($dir, $template, @kv) = @ARGV;
die "usage: $0 DIR PAGE_TEMPLATE [FIELD=VALUE ...]\n"
    unless defined $dir && defined $template;

my %known = map { /^([^=]+)=(.*)$/s ? ($1, $2) : die "bad FIELD=VALUE: $_\n" }
            @kv;

my $json = JSON::PP->new->pretty->canonical;

for my $d ("$dir/rules", "$dir/html/inject-4k", "$dir/html/inject-200k",
           "$dir/expect") {
    system('mkdir', '-p', $d) == 0 or die "mkdir -p $d failed\n";
}

sub write_file {
    my ($file, $data) = @_;
    open my $fh, '>:raw', $file or die "$file: $!\n";
    print $fh $data;
    close $fh or die "$file: $!\n";
}

my @SEGMENTS = qw(vip bargain family tech travel);   # as in bench/run.sh


# ---- rules50.json ----------------------------------------------------------

# hand-written segments, as a shop would have them; none matches a
# benchmark profile (tiers bronze..platinum, ltv 0..4999, the five
# segments above) nor a request of bench/random-id.lua or bench/visitor.lua
# (those send no X-Partner, no ab cookies, utm_source google/newsletter)
my @hand = (
    [ 'diamond',        { 'profile.tier' => 'diamond' } ],
    [ 'legacy-tier',    { 'profile.tier' => { in => [qw(iron steel copper)] } } ],
    [ 'whale',          { 'profile.ltv' => { gte => 10000 } } ],
    [ 'ltv-band',       { 'profile.ltv' => { between => [ 6000, 7000 ] } } ],
    [ 'b2b',            { 'profile.segment' => { in => [qw(b2b wholesale reseller)] } } ],
    [ 'tiktok',         { 'arg.utm_source' => { in => [qw(tiktok douyin)] } } ],
    [ 'paid-social',    { 'arg.utm_source' => { in => [qw(instagram facebook pinterest)] },
                          'arg.utm_medium' => { in => [qw(paid_social cpc)] } } ],
    [ 'affiliate',      { 'arg.utm_medium' => 'affiliate' } ],
    [ 'partner',        { 'header.X-Partner' => 'acme' } ],
    [ 'app-webview',    { 'header.X-Requested-With' => 'com.example.shop' } ],
    [ 'ab-b',           { 'cookie.ab_bucket' => 'b' } ],
    [ 'preview',        { 'cookie.persona_preview' => { exists => JSON::PP::true } } ],
    [ 'tablet-gold',    { device => 'tablet', 'profile.tier' => 'diamond' } ],
    [ 'benelux-pt',     { lang => { in => [qw(nl pt)] } } ],
    [ 'checkout',       { 'request.path' => { regex => '^/(checkout|cart)/' } } ],
    [ 'sale-pages',     { 'request.path' => { regex => '(?i)^/sale/.+\.html$' } } ],
    [ 'account',        { 'request.path' => { prefix => '/account/' } } ],
    [ 'mobile-diamond', { all => [ { device => 'mobile' },
                                   { 'profile.tier' => 'diamond' } ] } ],
    [ 'test-ids',       { 'cookie.persona_id' => { prefix => 'test-' } } ],
    [ 'heavy-buyer',    { any => [ { 'profile.ltv' => { gte => 9000 } },
                                   { 'profile.orders' => { gte => 50 } } ] } ],
    [ 'newcomer',       { 'visitor.known' => JSON::PP::false } ],
    [ 'lapsed',         { 'profile.tier' => 'lapsed',
                          not => { 'arg.utm_medium' => 'email' } } ],
    [ 'de-mobile-b2b',  { lang => 'de', device => 'mobile',
                          'profile.segment' => 'b2b' } ],
);

# generated ones, cycling through the attribute kinds, all non-matching
my @kinds = (
    sub { { 'profile.tier' => "tier-$_[0]" } },
    sub { { 'profile.ltv' => { gte => 20000 + 100 * $_[0] } } },
    sub { { 'profile.segment' => { in => [ "s$_[0]a", "s$_[0]b", "s$_[0]c" ] } } },
    sub { { 'arg.utm_source' => { in => [ "src$_[0]", "partner$_[0]" ] } } },
    sub { { "header.X-Campaign-$_[0]" => "c$_[0]" } },
    sub { { "cookie.exp_$_[0]" => 'on' } },
    sub { { device => 'tablet',
            lang => (qw(ja ko it es pl cs sv fi))[ $_[0] % 8 ] } },
    sub { { 'request.path' => { regex => "^/(cat$_[0]|promo$_[0])/.*\\.html\$" } } },
);

my @segments;
push @segments, { name => $_->[0], when => $_->[1] } for @hand;
for (my $i = 0; @segments < 43; $i++) {
    push @segments, { name => "gen-$i", when => $kinds[$i % @kinds]->($i) };
}
# the one that sometimes matches, in the middle
splice @segments, 25, 0,
    { name => 'ltv-high', when => { 'profile.ltv' => { gte => 4500 } } };
# every visitor is in exactly one of these, at the end: the evaluator
# walks all 50 segments (it does anyway: it collects every match)
push @segments, { name => "loyal-$_", when => { 'profile.segment' => $_ } }
    for @SEGMENTS;
# last: a request without User-Agent is a bot to the module, so this
# matches all of random-id.lua's requests; placed after the loyal-*
# segments it does not take their experience away
push @segments, { name => 'crawler', when => { device => 'bot' } };
die "rules50: ", scalar(@segments), " segments\n" unless @segments == 50;

my %xp50 = (
    'ltv-high'   => { response_headers => { 'X-Persona-Offer' => 'high-value' } },
    'tiktok'     => { request_headers  => { 'X-Campaign' => '{{arg.utm_campaign|social}}' },
                      response_headers => { 'X-Persona-Offer' => 'tiktok-15' } },
    'whale'      => { response_headers => { 'X-Persona-Offer' => 'concierge' } },
    'newcomer'   => { response_headers => { 'X-Persona-Offer' => 'welcome-10' } },
    'diamond'    => { response_headers => { 'X-Persona-Tier' => '{{profile.tier}}' } },
);
$xp50{"loyal-$_"} = { response_headers =>
    { 'X-Persona-Offer' => "$_-{{profile.tier}}-{{profile.first_name|friend}}" } }
    for @SEGMENTS;

write_file("$dir/rules/rules50.json", $json->encode({
    description => 'bench/make-fixtures.pl: 50 segments, most never match',
    segments    => \@segments,
    default     => 'everyone',
    experiences => \%xp50,
}));


# ---- geo.json --------------------------------------------------------------

write_file("$dir/rules/geo.json", $json->encode({
    description => 'bench/make-fixtures.pl: geo.country / geo.city',
    segments => [
        { name => 'dach', when => { 'geo.country' => { in => [qw(DE AT CH)] } } },
        { name => 'china-south',
          when => { 'geo.city' => { in => [ 'Shenzhen', 'Guangzhou' ] } } },
        { name => 'nordics',
          when => { 'geo.country' => { in => [qw(SE NO DK FI IS)] } } },
        { name => 'us-west',
          when => { 'geo.country' => 'US',
                    'geo.city' => { in => [ 'Seattle', 'Portland',
                                            'San Francisco', 'Los Angeles' ] } } },
        { from => 'profile.segment' },
    ],
    default => 'everyone',
    experiences => {
        dach    => { response_headers => { 'X-Persona-Offer' => 'dach-{{geo.city|de}}' } },
        nordics => { response_headers => { 'X-Persona-Offer' => 'nordics' } },
    },
}));


# ---- inject.json -----------------------------------------------------------

sub blocks_for {
    my ($seg) = @_;
    return {
        hero   => "<section class=\"persona-hero\"><h2>Welcome back, "
                  . "{{profile.first_name|friend}}</h2><p>Picked for $seg "
                  . "visitors.</p></section>",
        offer  => "<p class=\"offer\">{{profile.first_name|Friend}}, as a "
                  . "{{profile.tier|new}} member you get free shipping this "
                  . "week.</p>",
        footer => "<p class=\"persona-footer\">$seg &middot; points: "
                  . "{{profile.ltv|0}}</p>",
    };
}

my %xpi = map { ($_ => { blocks => blocks_for($_) }) } @SEGMENTS, 'everyone';

write_file("$dir/rules/inject.json", $json->encode({
    description => 'bench/make-fixtures.pl: blocks for hero, offer, footer',
    segments    => [ map { { name => $_, when => { 'profile.segment' => $_ } } }
                         @SEGMENTS ],
    default     => 'everyone',
    experiences => \%xpi,
}));


# ---- cap.json, nocap.json --------------------------------------------------

# one experiment, half of the visitors in each variant; cap.json caps the
# non-control variant (a counter per visitor read with the profile, SET NX
# + INCR after each exposure), nocap.json is the same without the cap. The
# cap is far above what one visitor of a bench run sees, so every exposure
# pays the counting and none is turned into control.
for my $capped (1, 0) {
    my %exp = (
        name     => 'hero',
        salt     => 'bench',
        variants => [
            { name => 'control', weight => 50 },
            { name => 'urgency', weight => 50,
              response_headers => { 'X-Hero' => 'urgency' } },
        ],
    );
    $exp{cap} = { max => 1000, per => '1d' } if $capped;
    write_file("$dir/rules/" . ($capped ? 'cap' : 'nocap') . '.json',
               $json->encode({
        description => 'bench/make-fixtures.pl: one experiment, '
                       . ($capped ? 'capped' : 'no cap'),
        segments    => [ { from => 'profile.segment' } ],
        default     => 'everyone',
        experiences => { everyone => { response_headers =>
                                       { 'X-Hero' => 'plain' } } },
        experiments => [ \%exp ],
    }));
}


# ---- pages -----------------------------------------------------------------

my $page = do {
    open my $fh, '<:raw', $template or die "$template: $!\n";
    local $/;
    <$fh>;
};

my ($head, $main, $tail) =
    $page =~ m{\A(.*?<main>\n)(.*?)(</main>\n.*)\z}s
    or die "$template: no <main>...</main>\n";
my ($main1, $main2) = $main =~ m{\A(.*?)(  <h2>Why shop with us</h2>.*)\z}s
    or die "$template: no 'Why shop with us' heading\n";
$tail =~ s{(</p>\n)(</footer>)}{$1  <!--persona:footer-->\n$2}
    or die "$template: no </p></footer>\n";

my $hero  = "  <!--persona:hero-->\n";
my $offer = "  <div class=\"offer-box\"><!--persona:offer-->default"
            . "<!--/persona:offer--></div>\n";

sub card {
    my ($n) = @_;
    my $price = sprintf '%d.%02d EUR', 10 + ($n * 37) % 290, ($n * 13) % 100;
    return "    <div class=\"card\">\n"
         . "      <h3>Product $n</h3>\n"
         . "      <p>Item number $n of the catalogue: sturdy, light and"
         . " shipped from our own warehouse.</p>\n"
         . "      <p class=\"price\">$price</p>\n"
         . "    </div>\n";
}

sub make_page {
    my ($size) = @_;
    my $base = $head . $hero . $main1 . $offer . $main2 . $tail;
    my $deficit = $size - length $base;
    die "page template too large for $size bytes\n" if $deficit < 0;

    # fill with product grids, half before the offer, half after it
    my ($before, $after, $n) = ('', '', 1);
    my $grid = sub {
        my ($budget) = @_;
        my $g = "  <h2>More for you</h2>\n  <div class=\"grid\">\n";
        my $end = "  </div>\n";
        return '' if length($g) + length($end) + length(card($n)) > $budget;
        while (length($g) + length($end) + length(card($n)) <= $budget
               && length($g) < 16384) {
            $g .= card($n++);
        }
        return $g . $end;
    };
    while (1) {
        my $left = $deficit - length($before) - length($after);
        my $g = $grid->($left);
        last if $g eq '';
        if (length($before) <= length($after)) {
            $before .= $g;
        } else {
            $after .= $g;
        }
    }
    my $left = $deficit - length($before) - length($after);
    my $pad = $left >= 9 ? '<!--' . (' ' x ($left - 8)) . "-->\n"
                         : "\n" x $left;
    my $out = $head . $hero . $main1 . $before . $offer . $after . $main2
              . $pad . $tail;
    die "page is ", length($out), " bytes, wanted $size\n"
        unless length($out) == $size;
    return $out;
}

sub esc {
    my ($s) = @_;
    $s =~ s/&/&amp;/g;
    $s =~ s/</&lt;/g;
    $s =~ s/>/&gt;/g;
    $s =~ s/"/&quot;/g;
    $s =~ s/'/&#39;/g;
    return $s;
}

# render {{profile.FIELD|fallback}} for the known visitor
sub render {
    my ($t) = @_;
    $t =~ s/\{\{profile\.([a-z_]+)(?:\|([^}]*))?\}\}/
            (defined $known{$1} && $known{$1} ne '') ? esc($known{$1})
                                                     : ($2 \/\/ '')/ge;
    return $t;
}

for my $v ([ '4k', 4096 ], [ '200k', 204800 ]) {
    my $p = make_page($v->[1]);
    write_file("$dir/html/inject-$v->[0]/index.html", $p);

    my $seg = $known{segment} // '';
    $seg = 'everyone' unless grep { $_ eq $seg } @SEGMENTS;
    my $b = blocks_for($seg);
    my $e = $p;
    $e =~ s/<!--persona:hero-->/render($b->{hero})/e or die;
    $e =~ s/<!--persona:offer-->default<!--\/persona:offer-->/render($b->{offer})/e
        or die;
    $e =~ s/<!--persona:footer-->/render($b->{footer})/e or die;
    write_file("$dir/expect/inject-$v->[0].html", $e);
}
