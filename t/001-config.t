# Configuration errors: `nginx -t` must fail with a clear message (persona,
# persona_redis, persona_rules, persona_geoip2 and the rest).
#
# Test::Nginx's must_die can only read messages from logs/error.log, but
# nginx writes configuration errors to its compiled-in error log, which is
# stderr on Debian.  So these cases run `nginx -t` themselves, with the
# same TEST_NGINX_BINARY and TEST_NGINX_LOAD_MODULES as the other files.
use strict;
use warnings;
use Test::More;
use File::Copy qw(copy);
use File::Temp qw(tempdir);

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my @modules = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} || '');
my $dir = tempdir(CLEANUP => 1);
mkdir "$dir/$_" for qw(conf logs geo);

# GeoIP databases (good and damaged ones), and one next to nginx.conf for
# a relative path
system($^X, 't/data/make-geo-db.pl', "$dir/geo") == 0
    or die "cannot write the GeoIP test databases into $dir/geo\n";
copy("$dir/geo/country.mmdb", "$dir/conf/country.mmdb")
    or die "cannot copy country.mmdb: $!\n";

sub nginx_t {
    my ($http) = @_;
    my $load = join '', map { "load_module $_;\n" } @modules;
    open my $fh, '>', "$dir/conf/nginx.conf" or die $!;
    print $fh <<"CONF";
$load
error_log logs/error.log;
pid logs/nginx.pid;
events { worker_connections 64; }
http {
    client_body_temp_path $dir/tmp_body;
    proxy_temp_path $dir/tmp_proxy;
    fastcgi_temp_path $dir/tmp_fastcgi;
    uwsgi_temp_path $dir/tmp_uwsgi;
    scgi_temp_path $dir/tmp_scgi;
$http
}
CONF
    close $fh;
    my $out = `$nginx -p $dir/ -c conf/nginx.conf -t 2>&1`;
    return ($? >> 8, $out);
}

# rules files for the persona_rules cases
sub write_file {
    my ($name, $text) = @_;
    open my $fh, '>', "$dir/$name" or die "$dir/$name: $!";
    print $fh $text;
    close $fh;
}

write_file('syntax.json', qq'{\n  "segments": [\n    { "name": "vip" \n  ]\n}\n');
write_file('op.json', qq'{\n  "segments": [\n    { "name": "vip",\n      "when": { "profile.tier": { "equals": "gold" } } }\n  ]\n}\n');
write_file('ns.json', qq'{ "segments": [ { "name": "a", "when": { "cookies.x": "1" } } ] }');
write_file('hop.json', qq'{ "segments": [ { "name": "a", "when": { "arg.a": "1" } } ],\n'
           . qq'  "experiences": { "a": { "response_headers": { "Transfer-Encoding": "x" } } } }');
write_file('regex.json', qq'{ "segments": [ { "name": "a", "when": { "arg.a": { "regex": "(" } } } ] }');
write_file('block.json', qq'{ "segments": [ { "name": "a", "when": { "arg.a": "1" } } ],\n'
           . qq'  "experiences": { "a": { "blocks": { "hero": { "file": "nope.html" } } } } }');
write_file('good.json', qq'{ "segments": [ { "name": "a", "when": { "arg.a": "1" } } ] }');

my $g = "$dir/geo";

# the message for a database that cannot be opened
sub cannot_open {
    my ($file, $reason) = @_;
    return qr/"persona_geoip2": cannot open "\Q$file\E": \Q$reason\E/;
}

my @cases = (
    [ 'persona on without persona_redis',
      'server { listen 127.0.0.1:1; location / { persona on; } }',
      qr/"persona on" needs "persona_redis" in the http block/ ],
    [ 'persona_redis without an address',
      'persona_redis timeout=10ms;',
      qr/"persona_redis" needs an address/ ],
    [ 'persona_redis with an unknown parameter',
      'persona_redis 127.0.0.1:6379 timout=10ms;',
      qr/"persona_redis": unknown parameter "timout=10ms"/ ],
    [ 'persona_redis with a bad timeout',
      'persona_redis 127.0.0.1:6379 timeout=soon;',
      qr/"persona_redis": invalid value "timeout=soon"/ ],
    [ 'persona_redis with a zero timeout',
      'persona_redis 127.0.0.1:6379 timeout=0;',
      qr/"persona_redis": invalid value "timeout=0"/ ],
    [ 'persona_redis with a bad db',
      'persona_redis 127.0.0.1:6379 db=x;',
      qr/"persona_redis": invalid value "db=x"/ ],
    [ 'persona_redis with a bad port',
      'persona_redis 127.0.0.1:99999;',
      qr/"persona_redis": invalid port in address "127.0.0.1:99999"/ ],
    [ 'persona_redis with two addresses',
      'persona_redis 127.0.0.1:6379 127.0.0.1:6380;',
      qr/several addresses .* need "cluster"/ ],
    [ 'persona_redis cluster with a database',
      'persona_redis 127.0.0.1:6379 127.0.0.1:6380 cluster db=1;',
      qr/"persona_redis": a Redis Cluster has no database but 0/ ],
    [ 'persona_redis twice',
      "persona_redis 127.0.0.1:6379;\npersona_redis 127.0.0.1:6380;",
      qr/"persona_redis" directive is duplicate/ ],
    [ 'persona_redis in a server block',
      'server { persona_redis 127.0.0.1:6379; }',
      qr/"persona_redis" directive is not allowed here/ ],
    [ 'persona_preview_token empty',
      'persona_preview_token "";',
      qr/"persona_preview_token" directive must not be empty/ ],
    [ 'persona_preview_token twice',
      "persona_preview_token aaaaaaaaaaaaaaaa;\npersona_preview_token bbbbbbbbbbbbbbbb;",
      qr/"persona_preview_token" directive is duplicate/ ],
    [ 'persona_profile_format with a bad value',
      'persona_profile_format xml;',
      qr/invalid value "xml" in .*nginx.conf:\d+/ ],
    [ 'persona_id_cookie with an unknown parameter',
      'persona_id_cookie vid maxage=1d;',
      qr/invalid parameter "maxage=1d" in .*nginx.conf:\d+/ ],
    [ 'persona_id_cookie with a bad cookie name',
      'persona_id_cookie "v;id";',
      qr/invalid cookie name "v;id"/ ],
    [ 'persona_id_cookie samesite=none without secure',
      'persona_id_cookie vid samesite=none;',
      qr/"persona_id_cookie" directive with samesite=none needs secure=on/ ],
    [ 'persona_id_cookie samesite=none with secure=auto',
      'persona_id_cookie vid secure=auto samesite=none;',
      qr/"persona_id_cookie" directive with samesite=none needs secure=on/ ],
    [ 'persona_id_cookie samesite=none with secure=off',
      'persona_id_cookie vid samesite=None secure=off;',
      qr/"persona_id_cookie" directive with samesite=none needs secure=on/ ],
    [ 'persona_id_cookie with a bad secure',
      'persona_id_cookie vid secure=yes;',
      qr/invalid parameter "secure=yes"/ ],
    [ 'persona_id_cookie with a bad httponly',
      'persona_id_cookie vid httponly=auto;',
      qr/invalid parameter "httponly=auto"/ ],
    [ 'persona_id_cookie with a bad samesite',
      'persona_id_cookie vid samesite=loose;',
      qr/invalid parameter "samesite=loose"/ ],
    [ 'persona with a bad flag',
      'persona maybe;',
      qr/invalid value "maybe" in "persona" directive/ ],
    [ 'persona_rules: a JSON syntax error has its position',
      "persona_rules $dir/syntax.json;",
      qr/persona_rules: \Q$dir\E\/syntax\.json:4:3: / ],
    [ 'persona_rules: an unknown operator has its position',
      "persona_rules $dir/op.json;",
      qr/persona_rules: \Q$dir\E\/op\.json:4:\d+: .*equals/ ],
    [ 'persona_rules: an unknown attribute namespace',
      "persona_rules $dir/ns.json;",
      qr/persona_rules: \Q$dir\E\/ns\.json:1:\d+: .*cookies/ ],
    [ 'persona_rules: a hop-by-hop response header',
      "persona_rules $dir/hop.json;",
      qr/persona_rules: \Q$dir\E\/hop\.json:2:\d+: .*Transfer-Encoding/ ],
    [ 'persona_rules: a bad regex',
      "persona_rules $dir/regex.json;",
      qr/persona_rules: \Q$dir\E\/regex\.json:1:\d+: / ],
    [ 'persona_rules: a missing block file',
      "persona_rules $dir/block.json;",
      qr/persona_rules: \Q$dir\E\/block\.json:2:\d+: .*nope\.html/ ],
    [ 'persona_rules: a missing rules file',
      "persona_rules $dir/missing.json;",
      qr/persona_rules: .*missing\.json/ ],
    [ 'persona_rules twice in one block',
      "persona_rules $dir/good.json;\npersona_rules $dir/good.json;",
      qr/"persona_rules" directive is duplicate/ ],
    [ 'persona_rules_auto_reload with a bad interval',
      'persona_rules_auto_reload sometimes;',
      qr/invalid interval "sometimes" in "persona_rules_auto_reload"/ ],
    [ 'persona_id twice in one block',
      "persona_id \$cookie_a;\npersona_id \$cookie_b;",
      qr/"persona_id" directive is duplicate/ ],
    [ 'persona_geoip2: a missing file',
      "persona_geoip2 $g/none.mmdb;",
      qr/\[emerg\] .*${\ cannot_open("$g\/none.mmdb",
          'Error opening the specified MaxMind DB file'
          . ' (2: No such file or directory)')} in \S+nginx\.conf:\d+/ ],
    [ 'persona_geoip2: a file that is not a MaxMind DB',
      "persona_geoip2 $g/garbage.mmdb;",
      cannot_open("$g/garbage.mmdb",
                  'The MaxMind DB file contains invalid metadata in ') ],
    [ 'persona_geoip2: a truncated database',
      "persona_geoip2 $g/truncated.mmdb;",
      cannot_open("$g/truncated.mmdb",
                  'The MaxMind DB file contains invalid metadata in ') ],
    [ 'persona_geoip2: an empty file',
      "persona_geoip2 $g/empty.mmdb;",
      cannot_open("$g/empty.mmdb",
                  'An attempt to read data from the MaxMind DB file failed') ],
    [ 'persona_geoip2: a directory',
      "persona_geoip2 $g;",
      qr/"persona_geoip2": cannot open "\Q$g\E": / ],
    [ 'persona_geoip2: a relative path is relative to the configuration directory',
      'persona_geoip2 geo/city.mmdb;',
      qr/"persona_geoip2": cannot open "\Q$dir\E\/conf\/geo\/city\.mmdb": / ],
    [ 'persona_geoip2: an empty path',
      'persona_geoip2 "";',
      qr/"persona_geoip2" needs the path of a MaxMind DB file/ ],
    [ 'persona_geoip2: an unknown parameter',
      "persona_geoip2 $g/city.mmdb auto_reload=1s reload=1s;",
      qr/"persona_geoip2": unknown parameter "reload=1s"/ ],
    [ 'persona_geoip2: a bad auto_reload interval',
      "persona_geoip2 $g/city.mmdb auto_reload=soon;",
      qr/"persona_geoip2": invalid value "auto_reload=soon"/ ],
    [ 'persona_geoip2: a zero auto_reload interval',
      "persona_geoip2 $g/city.mmdb auto_reload=0;",
      qr/"persona_geoip2": invalid value "auto_reload=0"/ ],
    [ 'persona_geoip2: an empty source',
      "persona_geoip2 $g/city.mmdb source=;",
      qr/"persona_geoip2": invalid value "source="/ ],
    [ 'persona_geoip2: a source with an unknown variable',
      "persona_geoip2 $g/city.mmdb source=\$no_such_variable;",
      qr/unknown "no_such_variable" variable/ ],
    [ 'persona_geoip2: no path',
      'persona_geoip2;',
      qr/invalid number of arguments in "persona_geoip2" directive/ ],
    [ 'persona_geoip2: too many parameters',
      "persona_geoip2 $g/city.mmdb auto_reload=1s source=\$remote_addr x;",
      qr/invalid number of arguments in "persona_geoip2" directive/ ],
    [ 'persona_geoip2: persona_geoip2 twice',
      "persona_geoip2 $g/city.mmdb;\npersona_geoip2 $g/country.mmdb;",
      qr/"persona_geoip2" directive is duplicate/ ],
    [ 'persona_geoip2: persona_geoip2 in a server block',
      "server { listen 127.0.0.1:1; persona_geoip2 $g/city.mmdb; }",
      qr/"persona_geoip2" directive is not allowed here/ ],
);

my @good = (
    [ 'persona_geoip2: a city database, every parameter',
      "persona_geoip2 $g/city.mmdb auto_reload=1m source=\$http_x_real_ip;" ],
    [ 'persona_geoip2: a country database, relative path, auto_reload=off',
      'persona_geoip2 country.mmdb auto_reload=off;' ],
    [ 'persona_id_cookie: every parameter, samesite=none with secure=on',
      'persona_id_cookie vid domain=.example.com path=/shop max_age=30d'
      . ' secure=on httponly=off samesite=none;' ],
    [ 'persona_id_cookie: the bare flags secure and httponly',
      'persona_id_cookie vid secure httponly samesite=none;' ],
    [ 'persona_id_cookie: secure=off httponly=on, persona_respect_gpc off',
      "persona_id_cookie vid secure=off httponly=on;\n"
      . 'persona_respect_gpc off;' ],
    [ 'the variables without persona_geoip2',
      "persona_redis 127.0.0.1:1;\n"
      . 'server { listen 127.0.0.1:1; location / { persona on;'
      . ' return 200 "$persona_geo_country $persona_geo_anything"; } }' ],
);

push @good, [ 'every persona directive and parameter at once',
    "persona_redis unix:/nonexistent/redis.sock db=3 password=x"
    . " connect_timeout=20ms timeout=50ms pool=0 max_fails=0"
    . " fail_timeout=1s;\n"
    . "server { listen 127.0.0.1:1; location / { persona on;"
    . " persona_id \$http_x_id \$cookie_id;"
    . " persona_profile_key \"p:{\$persona_id}\";"
    . " persona_profile_format json; } }\n"
    . "persona_rules $dir/good.json;\n"
    . "persona_rules_auto_reload 5s;" ];

SKIP: {
    skip 'TEST_NGINX_LOAD_MODULES is not set', 2 * (@cases + @good)
        unless @modules;

    for my $case (@cases) {
        my ($name, $http, $want) = @$case;
        my ($rc, $out) = nginx_t($http);
        isnt($rc, 0, "$name: nginx -t fails");
        like($out, $want, "$name: message") or diag($out);
    }

    for my $case (@good) {
        my ($name, $http) = @$case;
        my ($rc, $out) = nginx_t($http);
        is($rc, 0, "$name: nginx -t passes") or diag($out);
        like($out, qr/syntax is ok/, "$name: syntax is ok");
    }
}

done_testing();
