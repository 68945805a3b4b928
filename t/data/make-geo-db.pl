#!/usr/bin/perl
# Writes the GeoIP test databases into the directory given as argument,
# with Debian's libmaxmind-db-writer-perl (MaxMind::DB::Writer::Tree):
#
#   city.mmdb      GeoIP2-City layout, IPv6 tree with the IPv4 aliases
#   city-v2.mmdb   the same with another city for 203.0.113.0/24
#   country.mmdb   GeoLite2-Country layout, IPv4 only (no city, no location)
#   garbage.mmdb   text, truncated.mmdb half of city.mmdb, empty.mmdb
#
# The networks (documentation, benchmarking and loopback ranges, which
# the writer drops unless remove_reserved_networks => 0):
#   203.0.113.0/24    CN AS GD Shenzhen 22.5431 114.0579 Asia/Shanghai
#   198.51.100.0/24   DE EU BE (no city) 52.5200 13.4050 Europe/Berlin
#   192.0.2.0/24      FR EU: country and continent only
#   2001:db8:1::/48   BR SA SP São Paulo -23.5475 -46.6361 America/Sao_Paulo
#   2001:db8:2::/48   GB EU ENG (first of two) London 51.5085 -0.1257
#   127.0.0.0/8, ::1  XL (a made-up country for the local client)
# Not in any: 198.18.0.0/15, 2001:db8:ffff::/48 and the rest.
use strict;
use warnings;
use utf8;

use MaxMind::DB::Writer::Tree;

my $dir = shift or die "usage: $0 DIR\n";

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

sub tree {
    my (%args) = @_;
    return MaxMind::DB::Writer::Tree->new(
        record_size              => 28,
        languages                => [ 'en', 'zh-CN' ],
        description              => { en => 'persona test data' },
        remove_reserved_networks => 0,
        map_key_type_callback    => sub {
            my $t = $types{ $_[0] };
            return $t if $t;
            # names: { en => ..., "zh-CN" => ... }
            return 'utf8_string';
        },
        %args,
    );
}

sub place {
    my (%p) = @_;
    my %r;
    $r{continent} = { code => $p{continent} } if $p{continent};
    $r{country} = { iso_code => $p{country},
                    names => { en => $p{country_name} || $p{country} } }
        if $p{country};
    $r{registered_country} = { iso_code => $p{country} } if $p{country};
    $r{subdivisions} = [ map { { iso_code => $_ } } @{ $p{subdivisions} } ]
        if $p{subdivisions};
    $r{city} = { geoname_id => 1, names => $p{city} } if $p{city};
    if (defined $p{lat}) {
        $r{location} = { latitude => $p{lat}, longitude => $p{lon},
                         accuracy_radius => 50 };
        $r{location}{time_zone} = $p{tz} if $p{tz};
    }
    return \%r;
}

my %shenzhen = (continent => 'AS', country => 'CN', country_name => 'China',
    subdivisions => ['GD'], city => { en => 'Shenzhen', 'zh-CN' => '深圳' },
    lat => 22.5431, lon => 114.0579, tz => 'Asia/Shanghai');

my %guangzhou = (%shenzhen, city => { en => 'Guangzhou', 'zh-CN' => '广州' },
    lat => 23.1167, lon => 113.25);

my @city = (
    [ '198.51.100.0/24', place(continent => 'EU', country => 'DE',
        subdivisions => ['BE'], lat => 52.52, lon => 13.405,
        tz => 'Europe/Berlin') ],
    [ '192.0.2.0/24', place(continent => 'EU', country => 'FR') ],
    [ '2001:db8:1::/48', place(continent => 'SA', country => 'BR',
        subdivisions => ['SP'], city => { en => 'São Paulo' },
        lat => -23.5475, lon => -46.6361, tz => 'America/Sao_Paulo') ],
    [ '2001:db8:2::/48', place(continent => 'EU', country => 'GB',
        subdivisions => ['ENG', 'WSM'], city => { en => 'London' },
        lat => 51.5085, lon => -0.1257, tz => 'Europe/London') ],
    [ '127.0.0.0/8', place(country => 'XL') ],
    [ '::1/128', place(country => 'XL') ],
);

sub write_tree {
    my ($file, $tree) = @_;
    open my $fh, '>:raw', "$dir/$file.tmp" or die "$dir/$file.tmp: $!\n";
    $tree->write_tree($fh);
    close $fh or die "$dir/$file.tmp: $!\n";
    rename "$dir/$file.tmp", "$dir/$file" or die "$dir/$file: $!\n";
}

for my $v ([ 'city.mmdb', \%shenzhen ], [ 'city-v2.mmdb', \%guangzhou ]) {
    my $tree = tree(ip_version => 6, alias_ipv6_to_ipv4 => 1,
                    database_type => 'Persona-Test-City');
    $tree->insert_network('203.0.113.0/24', place(%{ $v->[1] }));
    $tree->insert_network(@$_) for @city;
    write_tree($v->[0], $tree);
}

my $country = tree(ip_version => 4, database_type => 'Persona-Test-Country');
$country->insert_network('203.0.113.0/24',
                         place(continent => 'AS', country => 'CN'));
$country->insert_network('198.51.100.0/24',
                         place(continent => 'EU', country => 'DE'));
$country->insert_network('127.0.0.0/8', place(country => 'XL'));
write_tree('country.mmdb', $country);

my $good = do {
    open my $fh, '<:raw', "$dir/city.mmdb" or die "$dir/city.mmdb: $!\n";
    local $/;
    <$fh>;
};

my %broken = (
    'garbage.mmdb'   => "this is not a MaxMind DB\n" x 64,
    'truncated.mmdb' => substr($good, 0, int(length($good) / 2)),
    'empty.mmdb'     => '',
);

for my $file (sort keys %broken) {
    open my $fh, '>:raw', "$dir/$file" or die "$dir/$file: $!\n";
    print $fh $broken{$file};
    close $fh or die "$dir/$file: $!\n";
}
