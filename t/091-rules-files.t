# What `nginx -t` says about the files and names rules use (SPEC "Files",
# "Headers", landing/redirect): symlinks out of the rules directory, FIFOs
# (never a hang), a symlinked release folder (works), the repository's own
# rules/ folder (loads), forbidden header names and open-redirect targets
# (fail with file:line:column).
#
# Like t/001-config.t these cases run `nginx -t` themselves: nginx writes
# configuration errors to its compiled-in error log (stderr on Debian).
use strict;
use warnings;
use Test::More;
use Cwd qw(getcwd);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use POSIX qw(mkfifo);

my $nginx = $ENV{TEST_NGINX_BINARY} || 'nginx';
my @modules = split ' ', ($ENV{TEST_NGINX_LOAD_MODULES} || '');
my $repo = getcwd();            # the suite runs from the repository root
my $dir = tempdir(CLEANUP => 1);
mkdir "$dir/$_" for qw(conf logs);

# `nginx -t` bounded by a timeout: a blocking open must fail the test, not
# hang the suite (exit status 124 = timed out)
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
    my $out = `timeout -k 5 30 $nginx -p $dir/ -c conf/nginx.conf -t 2>&1`;
    return ($? >> 8, $out);
}

sub write_file {
    my ($name, $text) = @_;
    my ($d) = "$dir/$name" =~ m{^(.*)/};
    make_path($d);
    open my $fh, '>', "$dir/$name" or die "$dir/$name: $!";
    print $fh $text;
    close $fh;
}

my $with_block = qq'{ "segments": [ { "name": "a", "when": { "arg.a": "1" } } ],\n'
    . qq'  "experiences": { "a": { "blocks": { "offer": { "file": "blocks/offer.html" } } } } }\n';

# a block file that is a symlink to a system file
write_file('passwd/rules.json', $with_block);
make_path("$dir/passwd/blocks");
symlink '/etc/passwd', "$dir/passwd/blocks/offer.html" or die $!;

# a symlinked blocks directory leading out of the rules directory
write_file('secret/offer.html', "secret\n");
write_file('dirlink/rules.json', $with_block);
symlink '../secret', "$dir/dirlink/blocks" or die $!;

# a FIFO as a block file, and as a rules file of a directory
write_file('fifo/rules.json', $with_block);
make_path("$dir/fifo/blocks");
mkfifo("$dir/fifo/blocks/offer.html", 0644) or die $!;
write_file('fifodir/10-a.json', qq'{ "default": "everyone" }\n');
mkfifo("$dir/fifodir/20-b.json", 0644) or die $!;

# a symlinked release folder: the normal way to publish
write_file('releases/2026-12-01/rules.json', $with_block);
write_file('releases/2026-12-01/blocks/offer.html', "<p>offer</p>\n");
symlink 'releases/2026-12-01', "$dir/current" or die $!;

# forbidden names and targets
write_file('cookie.json', qq'{ "segments": [ { "name": "a", "when": { "arg.a": "1" } } ],\n'
    . qq'  "experiences": { "a": { "response_headers": { "Set-Cookie": "utm={{arg.utm_source}}; Path=/" } } } }\n');
write_file('refresh.json', qq'{ "segments": [ { "name": "a", "when": { "arg.a": "1" } } ],\n'
    . qq'  "experiences": { "a": { "response_headers": { "Refresh": "0; url={{arg.next}}" } } } }\n');
write_file('xff.json', qq'{ "segments": [ { "name": "a", "when": { "arg.a": "1" } } ],\n'
    . qq'  "experiences": { "a": { "request_headers": { "X-Forwarded-For": "1.2.3.4" } } } }\n');
write_file('ua.json', qq'{ "segments": [ { "name": "a", "when": { "arg.a": "1" } } ],\n'
    . qq'  "experiences": { "a": { "request_headers": { "User_Agent": "x" } } } }\n');
write_file('slashes.json', qq'{ "segments": [ { "name": "a", "when": { "arg.a": "1" } } ],\n'
    . qq'  "experiences": { "a": { "redirect": { "/promo": "//evil.example/x" } } } }\n');
write_file('backslash.json', qq'{ "segments": [ { "name": "a", "when": { "arg.a": "1" } } ],\n'
    . qq'  "experiences": { "a": { "redirect": { "/promo": "/\\\\evil.example/x" } } } }\n');

my @cases = (
    [ 'a block file symlinked to /etc/passwd',
      "persona_rules $dir/passwd/rules.json;",
      qr{persona_rules: \Q$dir\E/passwd/rules\.json:2:\d+: cannot read block file "\Q$dir\E/passwd/blocks/offer\.html": resolves to "/etc/passwd", outside the rules directory} ],
    [ 'a blocks directory symlinked out of the rules directory',
      "persona_rules $dir/dirlink/rules.json;",
      qr{dirlink/rules\.json:2:\d+: cannot read block file .*secret/offer\.html", outside the rules directory} ],
    [ 'a FIFO as a block file',
      "persona_rules $dir/fifo/rules.json;",
      qr{fifo/rules\.json:2:\d+: cannot read block file "\Q$dir\E/fifo/blocks/offer\.html": not a regular file \(a FIFO\)} ],
    [ 'a FIFO as a rules file of a directory',
      "persona_rules $dir/fifodir;",
      qr{fifodir/20-b\.json: cannot read rules: not a regular file \(a FIFO\)} ],
    [ 'Set-Cookie in response_headers',
      "persona_rules $dir/cookie.json;",
      qr{cookie\.json:2:\d+: header "Set-Cookie" cannot be set in response_headers} ],
    [ 'Refresh in response_headers',
      "persona_rules $dir/refresh.json;",
      qr{refresh\.json:2:\d+: header "Refresh" cannot be set in response_headers} ],
    [ 'X-Forwarded-For in request_headers',
      "persona_rules $dir/xff.json;",
      qr{xff\.json:2:\d+: header "X-Forwarded-For" cannot be set in request_headers} ],
    [ 'User_Agent (underscore) in request_headers',
      "persona_rules $dir/ua.json;",
      qr{ua\.json:2:\d+: header "User_Agent" cannot be set in request_headers} ],
    [ 'a redirect target starting with //',
      "persona_rules $dir/slashes.json;",
      qr{slashes\.json:2:\d+: target "//evil\.example/x" starts with "//"} ],
    [ 'a redirect target starting with /\\',
      "persona_rules $dir/backslash.json;",
      qr{backslash\.json:2:\d+: target "/\\evil\.example/x" contains a backslash} ],
);

my @good = (
    [ 'a symlinked release folder (rules file)',
      "persona_rules $dir/current/rules.json;" ],
    [ 'a symlinked release folder (directory)',
      "persona_rules $dir/current;" ],
    [ "the repository's own rules/ folder",
      "persona_rules $repo/rules;" ],
    [ "the repository's own rules/ folder, trailing slash",
      "persona_rules $repo/rules/;" ],
);

SKIP: {
    skip 'TEST_NGINX_LOAD_MODULES is not set', 3 * @cases + 2 * @good
        unless @modules;

    for my $case (@cases) {
        my ($name, $http, $want) = @$case;
        my ($rc, $out) = nginx_t($http);
        isnt($rc, 124, "$name: nginx -t does not hang");
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
