# persona_profile_cache: `nginx -t` fails on bad parameters with a clear
# message and passes on good ones (the t/001-config.t way: nginx writes
# configuration errors to stderr on Debian, so this file runs `nginx -t`
# itself with TEST_NGINX_BINARY and TEST_NGINX_LOAD_MODULES).
use strict;
use warnings;
use Test::More;
use File::Temp qw(tempdir);

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my @modules = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} || '');
my $dir = tempdir(CLEANUP => 1);
mkdir "$dir/$_" for qw(conf logs);

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
    persona_redis 127.0.0.1:1;
$http
}
CONF
    close $fh;
    my $out = `$nginx -p $dir/ -c conf/nginx.conf -t 2>&1`;
    return ($? >> 8, $out);
}

my $d = 'persona_profile_cache';

my @cases = (
    [ 'no zone', "$d ttl=10s;",
      qr/"persona_profile_cache" needs "zone=name:size"/ ],
    [ 'no arguments', "$d;",
      qr/invalid number of arguments in "persona_profile_cache" directive/ ],
    [ 'zone without a size', "$d zone=profiles;",
      qr/"persona_profile_cache": invalid value "zone=profiles"/ ],
    [ 'zone without a name', "$d zone=:10m;",
      qr/"persona_profile_cache": invalid value "zone=:10m"/ ],
    [ 'zone with a bad size', "$d zone=profiles:lots;",
      qr/"persona_profile_cache": invalid value "zone=profiles:lots"/ ],
    [ 'zone too small', "$d zone=profiles:8k;",
      qr/"persona_profile_cache": zone "profiles" is too small \(\d+ bytes at least\)/ ],
    [ 'ttl not a time', "$d zone=profiles:1m ttl=soon;",
      qr/"persona_profile_cache": invalid value "ttl=soon"/ ],
    [ 'ttl=0', "$d zone=profiles:1m ttl=0;",
      qr/"persona_profile_cache": invalid value "ttl=0"/ ],
    [ 'negative_ttl negative', "$d zone=profiles:1m negative_ttl=-1s;",
      qr/"persona_profile_cache": invalid value "negative_ttl=-1s"/ ],
    [ 'stale empty', "$d zone=profiles:1m stale=;",
      qr/"persona_profile_cache": invalid value "stale="/ ],
    [ 'an unknown parameter', "$d zone=profiles:1m lru=on;",
      qr/"persona_profile_cache": invalid value "lru=on"/ ],
    [ 'twice', "$d zone=a:1m;\n$d zone=b:1m;",
      qr/"persona_profile_cache" directive is duplicate/ ],
    [ 'in a server block',
      "server { listen 127.0.0.1:1; $d zone=a:1m; }",
      qr/"persona_profile_cache" directive is not allowed here/ ],
    [ 'the zone of the breaker', "$d zone=persona:1m;",
      qr/the shared memory zone "persona" is already declared for a different use/ ],
    [ 'a zone of another module',
      "limit_req_zone \$binary_remote_addr zone=shared:1m rate=1r/s;\n"
      . "$d zone=shared:1m;",
      qr/the shared memory zone "shared" is already declared for a different use/ ],
);

my @good = (
    [ 'zone only', "$d zone=profiles:10m;" ],
    [ 'every parameter, ms and zero values',
      "$d zone=profiles:32k ttl=250ms negative_ttl=0 stale=0;" ],
    [ 'every parameter, in another order',
      "$d stale=5m negative_ttl=1s ttl=1h zone=p:1m;\n"
      . 'server { listen 127.0.0.1:1; location / { persona on;'
      . ' return 200 "$persona_cache"; } }' ],
    [ '$persona_cache without the directive',
      'server { listen 127.0.0.1:1; location / {'
      . ' return 200 "$persona_cache"; } }' ],
);

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
