#!/usr/bin/perl
# Writes the GeoIP database of the "geo" case of bench/run.sh, with
# Debian's libmaxmind-db-writer-perl (like t/data/make-geo-db.pl, which
# writes the small test fixtures):
#
#   DIR/geo.mmdb        GeoIP2-City layout (country, continent,
#                       subdivisions, city, location), IPv6 tree with the
#                       IPv4 aliases like GeoLite2; NETWORKS IPv4 networks
#                       (/16../24, mostly /24) plus NETWORKS/4 IPv6 ones
#                       (/32../48) at random places, over ~240 places in
#                       60 countries
#   DIR/geo-addrs.txt   ADDRS client addresses, one a line, each inside
#                       a network of the database (3 in 4 IPv4), for
#                       bench/visitor.lua's X-Forwarded-For
#
# Two networks are fixed, for run.sh's sanity check:
#   203.0.113.0/24   DE Berlin     198.51.100.0/24   CN Shenzhen
#
# Usage: bench/make-geo-db.pl DIR [NETWORKS [ADDRS]]
# (defaults 200000 and 100000). Deterministic: same arguments, same files.
use strict;
use warnings;

use MaxMind::DB::Writer::Tree;

my ($dir, $nets, $naddrs) = @ARGV;
die "usage: $0 DIR [NETWORKS [ADDRS]]\n" unless defined $dir;
$nets   //= 200000;
$naddrs //= 100000;
die "NETWORKS must be >= 1\n" unless $nets =~ /^\d+$/ && $nets >= 1;
die "ADDRS must be >= 1\n"    unless $naddrs =~ /^\d+$/ && $naddrs >= 1;

srand(20261123);

my %types = (
    accuracy_radius    => 'uint16',
    city               => 'map',
    code               => 'utf8_string',
    continent          => 'map',
    country            => 'map',
    geoname_id         => 'uint32',
    iso_code           => 'utf8_string',
    latitude           => 'double',
    location           => 'map',
    longitude          => 'double',
    names              => 'map',
    registered_country => 'map',
    subdivisions       => [ 'array', 'map' ],
    time_zone          => 'utf8_string',
);

my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version               => 6,
    alias_ipv6_to_ipv4       => 1,
    record_size              => 28,
    database_type            => 'Persona-Bench-City',
    languages                => ['en'],
    description              => { en => 'persona benchmark data' },
    remove_reserved_networks => 0,
    map_key_type_callback    => sub { $types{ $_[0] } || 'utf8_string' },
);

# country => [continent, time zone, cities...]; the rules of the bench
# (bench/make-fixtures.pl) look for DE AT CH, SE NO DK FI IS, Shenzhen,
# Guangzhou and some US west coast cities
my %countries = (
    DE => [ EU => 'Europe/Berlin', qw(Berlin Munich Hamburg Cologne) ],
    AT => [ EU => 'Europe/Vienna', qw(Vienna Graz Linz) ],
    CH => [ EU => 'Europe/Zurich', qw(Zurich Geneva Basel) ],
    CN => [ AS => 'Asia/Shanghai', qw(Shenzhen Guangzhou Beijing Shanghai) ],
    US => [ NA => 'America/New_York', 'New York', 'Chicago', 'Seattle',
            'Portland', 'San Francisco', 'Los Angeles' ],
    SE => [ EU => 'Europe/Stockholm', qw(Stockholm Gothenburg) ],
    NO => [ EU => 'Europe/Oslo', qw(Oslo Bergen) ],
    DK => [ EU => 'Europe/Copenhagen', qw(Copenhagen Aarhus) ],
    FI => [ EU => 'Europe/Helsinki', qw(Helsinki Tampere) ],
    FR => [ EU => 'Europe/Paris', qw(Paris Lyon Marseille) ],
    GB => [ EU => 'Europe/London', qw(London Manchester Leeds) ],
    JP => [ AS => 'Asia/Tokyo', qw(Tokyo Osaka) ],
    BR => [ SA => 'America/Sao_Paulo', 'São Paulo', 'Rio de Janeiro' ],
);
# and 47 more countries with made-up city names
my @more = qw(AR AU BE BG CA CL CO CZ EG ES GR HK HU ID IE IL IN IT KE KR
              MA MX MY NG NL NZ PE PH PK PL PT RO RS RU SA SG SK TH TR TW
              UA VN ZA AE EE LT LV);
my %cont = (AR => 'SA', AU => 'OC', CA => 'NA', CL => 'SA', CO => 'SA',
            EG => 'AF', KE => 'AF', MA => 'AF', NG => 'AF', ZA => 'AF',
            MX => 'NA', NZ => 'OC', PE => 'SA');
for my $c (@more) {
    my $ct = $cont{$c} // ($c =~ /^(HK|ID|IL|IN|KR|MY|PH|PK|SA|SG|TH|TW|VN|AE)$/
                           ? 'AS' : 'EU');
    $countries{$c} = [ $ct => 'Etc/UTC', map { "$c City $_" } 1 .. 4 ];
}

my @places;
my $gid = 1;
for my $c (sort keys %countries) {
    my ($ct, $tz, @cities) = @{ $countries{$c} };
    for my $city (@cities) {
        push @places, {
            continent          => { code => $ct },
            country            => { iso_code => $c, names => { en => $c } },
            registered_country => { iso_code => $c },
            subdivisions       => [ { iso_code => sprintf('R%d', $gid % 7) } ],
            city               => { geoname_id => $gid++,
                                    names => { en => $city } },
            location           => { latitude  => -60 + rand(120),
                                    longitude => -180 + rand(360),
                                    accuracy_radius => 20,
                                    time_zone => $tz },
        };
    }
}
my %by_city = map { ($_->{city}{names}{en} => $_) } @places;

sub v4 { join '.', map { ($_[0] >> (24 - 8 * $_)) & 255 } 0 .. 3 }

# IPv4: prefix lengths roughly as in GeoLite2-City (mostly /24)
my @v4;
for (1 .. $nets) {
    my $r = rand;
    my $len = $r < 0.60 ? 24
            : $r < 0.75 ? 22 + int(rand(2))
            : $r < 0.90 ? 20 + int(rand(2))
            :             16 + int(rand(4));
    # 1.0.0.0 .. 223.255.255.255, not 127/8 (the local client)
    my $a;
    do { $a = int(rand(2**32)) } while ($a >> 24) < 1 || ($a >> 24) > 223
                                       || ($a >> 24) == 127;
    $a &= ~((1 << (32 - $len)) - 1) & 0xffffffff;
    push @v4, [ $a, $len ];
    $tree->insert_network(v4($a) . "/$len", $places[ int rand @places ]);
}

# IPv6: /32../48 in 2400::/6 .. 2bff::/16 (clear of 2002::/16, which the
# writer aliases to IPv4)
my @v6;
for (1 .. int($nets / 4) || 1) {
    my $len = 32 + int(rand(17));
    my @g = (0x2400 + int(rand(0x800)), int(rand(0x10000)), int(rand(0x10000)));
    $g[2] &= ~((1 << (48 - $len)) - 1) & 0xffff if $len < 48;
    push @v6, [ @g, $len ];
    $tree->insert_network(sprintf('%x:%x:%x::/%d', @g, $len),
                          $places[ int rand @places ]);
}

$tree->insert_network('203.0.113.0/24', $by_city{Berlin});
$tree->insert_network('198.51.100.0/24', $by_city{Shenzhen});

open my $fh, '>:raw', "$dir/geo.mmdb.tmp" or die "$dir/geo.mmdb.tmp: $!\n";
$tree->write_tree($fh);
close $fh or die "$dir/geo.mmdb.tmp: $!\n";
rename "$dir/geo.mmdb.tmp", "$dir/geo.mmdb" or die "$dir/geo.mmdb: $!\n";

# addresses: a random host of a random network (a later, overlapping
# insert may have given it another record, but it is in the database)
open $fh, '>', "$dir/geo-addrs.txt" or die "$dir/geo-addrs.txt: $!\n";
for (1 .. $naddrs) {
    if (rand() < 0.75) {
        my ($a, $len) = @{ $v4[ int rand @v4 ] };
        print $fh v4($a + int(rand(2 ** (32 - $len)))), "\n";
    } else {
        my ($g0, $g1, $g2, $len) = @{ $v6[ int rand @v6 ] };
        $g2 += int(rand(2 ** (48 - $len))) if $len < 48;
        printf $fh "%x:%x:%x:%x:%x:%x:%x:%x\n", $g0, $g1, $g2,
            map { int rand 0x10000 } 1 .. 5;
    }
}
close $fh or die "$dir/geo-addrs.txt: $!\n";
