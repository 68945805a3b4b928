#!/usr/bin/perl
# Writes the demo's GeoIP database, DIR/geo.mmdb (GeoIP2-City layout, IPv6
# tree with the IPv4 aliases), with Debian's libmaxmind-db-writer-perl.
# Only documentation ranges (RFC 5737, RFC 3849), so no real visitor is
# ever placed anywhere by it:
#
#   203.0.113.0/24    CN AS SH Shanghai   Asia/Shanghai
#   198.51.100.0/24   CN AS GD Guangzhou  Asia/Shanghai
#   192.0.2.0/24      DE EU BE Berlin     Europe/Berlin
#   2001:db8:1::/48   US NA CA San Francisco America/Los_Angeles
#
# The local client (127.0.0.1, ::1) is in none: it has no region.
# Usage: demo/make-geo-db.pl DIR
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

my $tree = MaxMind::DB::Writer::Tree->new(
    ip_version               => 6,
    alias_ipv6_to_ipv4       => 1,
    record_size              => 28,
    database_type            => 'Persona-Demo-City',
    languages                => [ 'en', 'zh-CN' ],
    description              => { en => 'persona demo data (documentation ranges)' },
    # documentation ranges are "reserved": keep them
    remove_reserved_networks => 0,
    map_key_type_callback    => sub { $types{ $_[0] } || 'utf8_string' },
);

sub place {
    my ($id, $cont, $cc, $sub, $city, $zh, $lat, $lon, $tz) = @_;
    return {
        continent          => { code => $cont },
        country            => { iso_code => $cc, names => { en => $cc } },
        registered_country => { iso_code => $cc },
        subdivisions       => [ { iso_code => $sub } ],
        city               => { geoname_id => $id,
                                names => { en => $city,
                                           ($zh ? ('zh-CN' => $zh) : ()) } },
        location           => { latitude => $lat, longitude => $lon,
                                accuracy_radius => 20, time_zone => $tz },
    };
}

$tree->insert_network('203.0.113.0/24',
    place(1796236, 'AS', 'CN', 'SH', 'Shanghai', '上海',
          31.2222, 121.4581, 'Asia/Shanghai'));
$tree->insert_network('198.51.100.0/24',
    place(1809858, 'AS', 'CN', 'GD', 'Guangzhou', '广州',
          23.1167, 113.25, 'Asia/Shanghai'));
$tree->insert_network('192.0.2.0/24',
    place(2950159, 'EU', 'DE', 'BE', 'Berlin', '柏林',
          52.5244, 13.4105, 'Europe/Berlin'));
$tree->insert_network('2001:db8:1::/48',
    place(5391959, 'NA', 'US', 'CA', 'San Francisco', '旧金山',
          37.7749, -122.4194, 'America/Los_Angeles'));

# written next to the target and renamed: a running nginx with
# auto_reload never sees half a file
open my $fh, '>:raw', "$dir/geo.mmdb.tmp" or die "$dir/geo.mmdb.tmp: $!\n";
$tree->write_tree($fh);
close $fh or die "$dir/geo.mmdb.tmp: $!\n";
rename "$dir/geo.mmdb.tmp", "$dir/geo.mmdb" or die "$dir/geo.mmdb: $!\n";
