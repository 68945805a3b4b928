# GeoIP: persona_geoip2 and $persona_geo_* against MaxMind DBs made here by
# t/data/make-geo-db.pl (its header lists the networks).  realip plays
# visitors from anywhere: the test client is 127.0.0.1, a trusted proxy.
# No visitor id is sent, so Redis is never asked.
#
# TESTs 13-15 have no config: they run against TEST 12's nginx and change
# its database file in between.  Under TEST_NGINX_USE_VALGRIND both
# harnesses stop nginx after every block, so they are skipped there.
use Test::Nginx::Socket 'no_plan';
use File::Temp qw(tempdir);
use File::Copy qw(copy);
use IO::Socket::INET;

$ENV{TEST_NGINX_REDIS_PORT} ||= 6379;

# a free loopback port for the mock upstream of TEST 16
if (!$ENV{TEST_NGINX_GEO_MOCK_PORT}) {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1)
        or die "no free port: $!\n";
    $ENV{TEST_NGINX_GEO_MOCK_PORT} = $s->sockport;
    close $s;
}

my $dir = tempdir('persona-geo.XXXXXX', TMPDIR => 1, CLEANUP => 1);

system($^X, 't/data/make-geo-db.pl', $dir) == 0
    or die "cannot write the GeoIP test databases into $dir\n";

# the auto_reload tests replace these while nginx runs
for my $copy (qw(reload inflight)) {
    copy("$dir/city.mmdb", "$dir/$copy.mmdb")
        or die "cannot copy $dir/city.mmdb: $!\n";
}

$ENV{TEST_NGINX_GEO_DIR} = $dir;

no_long_string();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: every field of an IPv4 city record
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    persona_geoip2 $TEST_NGINX_GEO_DIR/city.mmdb;
--- config
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;

    location = /t {
        persona on;
        add_header X-Geo-Country $persona_geo_country;
        add_header X-Geo-City $persona_geo_city;
        return 200 "$persona_geo_country|$persona_geo_continent|$persona_geo_subdivision|$persona_geo_city|$persona_geo_latitude|$persona_geo_longitude|$persona_geo_time_zone|$persona_status\n";
    }
--- request
GET /t
--- more_headers
X-Forwarded-For: 203.0.113.5
--- response_headers
X-Geo-Country: CN
X-Geo-City: Shenzhen
--- response_body
CN|AS|GD|Shenzhen|22.5431|114.0579|Asia/Shanghai|anonymous
--- no_error_log
[error]
[warn]
[alert]
[emerg]



=== TEST 2: no city, country only, IPv6, IPv4-mapped IPv6, not found
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    persona_geoip2 $TEST_NGINX_GEO_DIR/city.mmdb;
--- config
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;

    location = /t {
        persona on;
        return 200 "$remote_addr=$persona_geo_country|$persona_geo_continent|$persona_geo_subdivision|$persona_geo_city|$persona_geo_latitude|$persona_geo_longitude|$persona_geo_time_zone\n";
    }
--- request eval
[ ("GET /t") x 8 ]
--- more_headers eval
[ map { "X-Forwarded-For: $_" }
  '198.51.100.7', '192.0.2.200', '2001:db8:1::5', '2001:db8:2:ab::1',
  '::ffff:203.0.113.9', '198.18.0.1', '2001:db8:ffff::1', '10.1.2.3' ]
--- response_body eval
[ "198.51.100.7=DE|EU|BE||52.5200|13.4050|Europe/Berlin\n",
  "192.0.2.200=FR|EU|||||\n",
  "2001:db8:1::5=BR|SA|SP|S\xc3\xa3o Paulo|-23.5475|-46.6361|America/Sao_Paulo\n",
  "2001:db8:2:ab::1=GB|EU|ENG|London|51.5085|-0.1257|Europe/London\n",
  "::ffff:203.0.113.9=CN|AS|GD|Shenzhen|22.5431|114.0579|Asia/Shanghai\n",
  "198.18.0.1=||||||\n",
  "2001:db8:ffff::1=||||||\n",
  "10.1.2.3=||||||\n" ]
--- no_error_log
[error]
[warn]
[alert]



=== TEST 3: without X-Forwarded-For the client address itself is looked up
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    persona_geoip2 $TEST_NGINX_GEO_DIR/city.mmdb;
--- config
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;

    location = /t {
        persona on;
        return 200 "$remote_addr=$persona_geo_country|$persona_geo_city\n";
    }
--- request
GET /t
--- response_body
127.0.0.1=XL|
--- no_error_log
[error]
[alert]



=== TEST 4: a spoofed X-Forwarded-For from an untrusted peer is ignored
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    persona_geoip2 $TEST_NGINX_GEO_DIR/city.mmdb;
--- config
    set_real_ip_from 192.0.2.0/24;
    real_ip_header X-Forwarded-For;

    location = /t {
        persona on;
        return 200 "$remote_addr=$persona_geo_country|$persona_geo_city\n";
    }
--- request
GET /t
--- more_headers
X-Forwarded-For: 203.0.113.5
--- response_body
127.0.0.1=XL|
--- no_error_log
[error]
[alert]



=== TEST 5: source= takes the address from a variable, not the client
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    persona_geoip2 $TEST_NGINX_GEO_DIR/city.mmdb source=$http_x_test_ip;
--- config
    location = /t {
        persona on;
        return 200 "$persona_geo_country|$persona_geo_city|$persona_geo_time_zone\n";
    }
--- request eval
[ ("GET /t") x 6 ]
--- more_headers eval
[ "X-Test-Ip: 203.0.113.77",
  "X-Test-Ip:  2001:db8:1::1 ",
  "X-Test-Ip: ::ffff:198.51.100.1",
  "X-Test-Ip: not-an-address",
  "X-Test-Ip: 203.0.113.7, 198.51.100.1",
  "X-Forwarded-For: 203.0.113.5" ]
--- response_body eval
[ "CN|Shenzhen|Asia/Shanghai\n",
  "BR|S\xc3\xa3o Paulo|America/Sao_Paulo\n",
  "DE||Europe/Berlin\n",
  "||\n",
  "||\n",
  "||\n" ]
--- no_error_log
[error]
[warn]
[alert]



=== TEST 6: a country database: no city or location; IPv6 in an IPv4 DB
(an IPv4-mapped IPv6 address is looked up as IPv4)
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    persona_geoip2 $TEST_NGINX_GEO_DIR/country.mmdb;
--- config
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;

    location = /t {
        persona on;
        return 200 "$persona_geo_country|$persona_geo_continent|$persona_geo_subdivision|$persona_geo_city|$persona_geo_latitude|$persona_geo_longitude|$persona_geo_time_zone\n";
    }
--- request eval
[ ("GET /t") x 4 ]
--- more_headers eval
[ "X-Forwarded-For: 203.0.113.5",
  "X-Forwarded-For: ::ffff:203.0.113.5",
  "X-Forwarded-For: 2001:db8:1::5",
  "X-Forwarded-For: 198.18.0.1" ]
--- response_body eval
[ "CN|AS|||||\n",
  "CN|AS|||||\n",
  "||||||\n",
  "||||||\n" ]
--- no_error_log
[error]
[warn]
[alert]



=== TEST 7: unknown names are empty; "if" in the persona location sees the country
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    persona_geoip2 $TEST_NGINX_GEO_DIR/city.mmdb;
--- config
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;

    location = /t {
        persona on;
        if ($persona_geo_country = CN) {
            return 200 "china [$persona_geo_region][$persona_geo_][$persona_geo_city_name]\n";
        }
        return 200 "elsewhere\n";
    }
--- request eval
[ "GET /t", "GET /t" ]
--- more_headers eval
[ "X-Forwarded-For: 203.0.113.5", "X-Forwarded-For: 198.51.100.7" ]
--- response_body eval
[ "china [][][]\n", "elsewhere\n" ]
--- no_error_log
[error]
[alert]



=== TEST 8: where persona did not run the variables are empty, no lookup
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    persona_geoip2 $TEST_NGINX_GEO_DIR/city.mmdb;
--- config
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;

    set $early "[$persona_geo_country]";

    location = /t {
        return 200 "$early [$persona_geo_country|$persona_geo_city] $persona_status\n";
    }
--- request
GET /t
--- more_headers
X-Forwarded-For: 203.0.113.5
--- response_body
[] [|] off
--- no_error_log
persona geo:
[error]



=== TEST 9: one lookup per request, kept across an internal redirect
(each field is read once, when first asked for)
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    persona_geoip2 $TEST_NGINX_GEO_DIR/city.mmdb;
--- config
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;

    location = /t {
        persona on;
        set $c "$persona_geo_country";
        try_files /no-such-file @geo;
    }

    location @geo {
        return 200 "$c $persona_geo_country $persona_geo_city $persona_geo_country $persona_geo_latitude\n";
    }
--- request
GET /t
--- more_headers
X-Forwarded-For: 203.0.113.5
--- response_body
CN CN Shenzhen CN 22.5431
--- grep_error_log eval: qr/persona geo: (?:record found|\w+ "[^"]*")/
--- grep_error_log_out
persona geo: record found
persona geo: country "CN"
persona geo: city "Shenzhen"
persona geo: latitude "22.5431"
--- no_error_log
[error]
[alert]



=== TEST 10: nothing asks for geo: no lookup
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    persona_geoip2 $TEST_NGINX_GEO_DIR/city.mmdb;
--- config
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;

    location = /t {
        persona on;
        return 200 "$persona_status\n";
    }
--- request
GET /t
--- more_headers
X-Forwarded-For: 203.0.113.5
--- response_body
anonymous
--- no_error_log
persona geo:
[error]



=== TEST 11: no persona_geoip2: the variables exist and are empty
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
--- config
    location = /t {
        persona on;
        return 200 "[$persona_geo_country|$persona_geo_city]\n";
    }
--- request
GET /t
--- response_body
[|]
--- no_error_log
[error]
[alert]



=== TEST 12: auto_reload: the database as loaded at start
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    persona_geoip2 $TEST_NGINX_GEO_DIR/reload.mmdb auto_reload=100ms;
--- config
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;

    location = /t {
        persona on;
        return 200 "$persona_geo_city\n";
    }
--- request
GET /t
--- more_headers
X-Forwarded-For: 203.0.113.5
--- response_body
Shenzhen
--- no_error_log
[error]
[alert]



=== TEST 13: auto_reload: a corrupt new file is refused once, the old DB serves
(same nginx as TEST 12: this block has no config)
--- skip_eval: 5: $ENV{TEST_NGINX_USE_VALGRIND}
--- init
my $d = $ENV{TEST_NGINX_GEO_DIR};
File::Copy::copy("$d/truncated.mmdb", "$d/reload.tmp") or die "copy: $!";
rename("$d/reload.tmp", "$d/reload.mmdb") or die "rename: $!";
select(undef, undef, undef, 0.6);
--- request
GET /t
--- more_headers
X-Forwarded-For: 203.0.113.5
--- response_body
Shenzhen
--- error_log eval
qr/\[error\] .*persona_geoip2: cannot reload "[^"]*reload\.mmdb": The MaxMind DB file contains invalid metadata, keeping the database loaded before/
--- grep_error_log eval: qr/persona_geoip2: cannot reload(?= )/
--- grep_error_log_out
persona_geoip2: cannot reload
--- no_error_log
[alert]



=== TEST 14: auto_reload: a good new file is swapped in
(same nginx; the log still holds TEST 13's one error, and no other)
--- skip_eval: 5: $ENV{TEST_NGINX_USE_VALGRIND}
--- init
my $d = $ENV{TEST_NGINX_GEO_DIR};
File::Copy::copy("$d/city-v2.mmdb", "$d/reload.tmp") or die "copy: $!";
rename("$d/reload.tmp", "$d/reload.mmdb") or die "rename: $!";
select(undef, undef, undef, 0.6);
--- request
GET /t
--- more_headers
X-Forwarded-For: 203.0.113.5
--- response_body
Guangzhou
--- error_log eval
qr/\[notice\] .*persona_geoip2: reloaded "[^"]*reload\.mmdb" \(Persona-Test-City, built \d+\)/
--- grep_error_log eval: qr/persona_geoip2: cannot reload(?= )/
--- grep_error_log_out
persona_geoip2: cannot reload
--- no_error_log
[alert]



=== TEST 15: auto_reload: the file goes away, the loaded DB stays
(same nginx)
--- skip_eval: 5: $ENV{TEST_NGINX_USE_VALGRIND}
--- init
unlink("$ENV{TEST_NGINX_GEO_DIR}/reload.mmdb") or die "unlink: $!";
select(undef, undef, undef, 0.6);
--- request
GET /t
--- more_headers
X-Forwarded-For: 203.0.113.5
--- response_body
Guangzhou
--- grep_error_log eval: qr/persona_geoip2: stat\(\)(?= "[^"]*reload\.mmdb" failed, keeping the database loaded before \(2: No such file or directory\))/
--- grep_error_log_out
persona_geoip2: stat()
--- no_error_log
[alert]



=== TEST 16: auto_reload: a request keeps the database it looked up in
The upstream swaps the file in while nginx waits for it: the request read
its country before the swap and reads its city and latitude after it, from
the same (old) record.
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    persona_geoip2 $TEST_NGINX_GEO_DIR/inflight.mmdb auto_reload=100ms;
--- config
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;

    location = /slow {
        persona on;
        set $country $persona_geo_country;
        add_header X-Country $country;
        add_header X-City $persona_geo_city;
        add_header X-Latitude $persona_geo_latitude;
        proxy_pass http://127.0.0.1:$TEST_NGINX_GEO_MOCK_PORT;
        proxy_read_timeout 10s;
    }
--- tcp_listen eval: $ENV{TEST_NGINX_GEO_MOCK_PORT}
--- tcp_reply eval
sub {
    my $d = $ENV{TEST_NGINX_GEO_DIR};
    File::Copy::copy("$d/city-v2.mmdb", "$d/inflight.tmp") or die "copy: $!";
    rename("$d/inflight.tmp", "$d/inflight.mmdb") or die "rename: $!";
    # nginx checks every 100ms and swaps the database meanwhile
    select(undef, undef, undef, 1.5);
    return "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nok\n";
}
--- request
GET /slow
--- more_headers
X-Forwarded-For: 203.0.113.5
--- response_headers
X-Country: CN
X-City: Shenzhen
X-Latitude: 22.5431
--- response_body
ok
--- timeout: 10
--- grep_error_log eval: qr/persona_geoip2: reloaded(?= )|persona geo: \w+ "[^"]*"/
--- grep_error_log_out
persona geo: country "CN"
persona_geoip2: reloaded
persona geo: city "Shenzhen"
persona geo: latitude "22.5431"
--- no_error_log
[error]
[alert]



=== TEST 17: geo.* in rules and templates
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    persona_geoip2 $TEST_NGINX_GEO_DIR/city.mmdb;
--- config
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;
    persona_rules ../html/geo-rules.json;

    location = /t {
        persona on;
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/backend;
    }
    location = /backend {
        return 200 "$http_x_segment|$http_x_city\n";
    }
--- user_files
>>> geo-rules.json
{
  "segments": [
    { "name": "greater-china", "when": { "geo.country": { "in": ["CN", "HK", "TW"] } } },
    { "name": "eu-east", "when": { "geo.continent": "EU", "geo.longitude": { "gt": 10 } } },
    { "name": "south", "when": { "geo.latitude": { "lt": 0 } } }
  ],
  "experiences": {
    "greater-china": { "request_headers": { "X-Segment": "gc", "X-City": "{{geo.city|your city}}" } },
    "eu-east": { "request_headers": { "X-Segment": "eu", "X-City": "{{geo.city|your city}}" } },
    "south": { "request_headers": { "X-Segment": "south", "X-City": "{{geo.city|your city}} ({{geo.time_zone}})" } }
  }
}
--- request eval
["GET /t", "GET /t", "GET /t"]
--- more_headers eval
["X-Forwarded-For: 203.0.113.5", "X-Forwarded-For: 198.51.100.7", "X-Forwarded-For: 2001:db8:1::9"]
--- response_body eval
["gc|Shenzhen\n", "eu|your city\n", "south|S\xc3\xa3o Paulo (America/Sao_Paulo)\n"]
--- no_error_log
[error]



=== TEST 18: a visitor not in the database matches no geo rule
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT;
    persona_geoip2 $TEST_NGINX_GEO_DIR/city.mmdb;
--- config
    set_real_ip_from 127.0.0.1;
    real_ip_header X-Forwarded-For;
    persona_rules ../html/geo-rules.json;

    location = /t {
        persona on;
        return 200 "$persona_segment|$persona_segments\n";
    }
--- user_files
>>> geo-rules.json
{
  "segments": [
    { "name": "greater-china", "when": { "geo.country": { "in": ["CN", "HK", "TW"] } } },
    { "name": "no-country", "when": { "geo.country": { "exists": false } } }
  ]
}
--- request
GET /t
--- more_headers
X-Forwarded-For: 198.18.0.1
--- response_body
no-country|no-country
--- no_error_log
[error]
