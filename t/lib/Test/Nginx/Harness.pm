package Test::Nginx::Harness;

# Engine of the fallback Test::Nginx::Socket (see Socket.pm): writes the
# server root and nginx.conf for each block, (re)starts nginx, runs the
# block's requests and checks, runs the mock TCP server of tcp_listen, and
# under TEST_NGINX_USE_VALGRIND runs nginx under valgrind.
#
# Behaviour, defaults and the number of assertions each section produces
# follow openresty/test-nginx 0.29 (Test::Nginx::Util + Socket), so that
# "plan tests => repeat_each() * (blocks() * N)" counts the same under both.

use strict;
use warnings;

use File::Path qw(make_path remove_tree);
use File::Spec ();
use File::Temp ();
use IO::Socket::INET ();
use IO::Socket::UNIX ();
use List::Util qw(shuffle min);
use POSIX qw(WNOHANG);
use Scalar::Util qw(looks_like_number);
use Socket qw(SOCK_STREAM);
use Test::More ();
use Time::HiRes qw(sleep);

use Test::Nginx::HttpClient ();

my $HaveLongString = eval { require Test::LongString; 1 };

our $RepeatEach        = 1;
our $Workers           = 1;
our $WorkerConnections = 64;
our $MasterProcess     = $ENV{TEST_NGINX_MASTER_PROCESS} || 'off';
our $LogLevel          = $ENV{TEST_NGINX_LOG_LEVEL} || 'debug';
our $Timeout           = $ENV{TEST_NGINX_TIMEOUT} || 3;
our $Sleep             = $ENV{TEST_NGINX_SLEEP} || 0.015;
our $NoShuffle         = $ENV{TEST_NGINX_NO_SHUFFLE} || 0;
our $CheckAccumErrLog  = $ENV{TEST_NGINX_CHECK_ACCUM_ERR_LOG};
our $LoadModules       = $ENV{TEST_NGINX_LOAD_MODULES};
our $UseValgrind       = $ENV{TEST_NGINX_USE_VALGRIND};
our $NoLongString;
our $NoRootLocation    = 0;
our $ConfigPreamble    = '';
our $ServerAddr        = '127.0.0.1';
our $ServerName        = 'localhost';
our $ServerPort        = $ENV{TEST_NGINX_SERVER_PORT} || $ENV{TEST_NGINX_PORT}
                         || 1984;
our $ClientPort        = $ENV{TEST_NGINX_CLIENT_PORT} || $ServerPort;
our $NginxBinary       = find_nginx($ENV{TEST_NGINX_BINARY} || 'nginx');
our $NginxVersion;
our @EnvToNginx;
our @BlockPreprocessors;
our @CleanupHandlers;

our $ServRoot = File::Spec->rel2abs($ENV{TEST_NGINX_SERVROOT} || 't/servroot');
$ENV{TEST_NGINX_SERVER_ROOT} = $ServRoot;

our $LogDir     = "$ServRoot/logs";
our $ErrLogFile = "$LogDir/error.log";
our $AccLogFile = "$LogDir/access.log";
our $HtmlDir    = "$ServRoot/html";
our $ConfDir    = "$ServRoot/conf";
our $ConfFile   = "$ConfDir/nginx.conf";
our $PidFile    = "$LogDir/nginx.pid";

our $OwnSuppressions = File::Spec->rel2abs(__FILE__);
$OwnSuppressions =~ s{[^/]+$}{valgrind.suppress};

my $ErrLogPos = 0;
my $PrevConfig;
my $ChildPid;              # nginx run in the foreground (valgrind)
my $TcpServerPid;
my $ValgrindFailures = 0;

srand $$;

# Ctrl-C or a kill still stops nginx and the mock server (END blocks do
# not run on a fatal signal).
$SIG{INT} = $SIG{TERM} = sub { exit 130 };


# ---- functions exported through Test::Nginx::Socket ----------------------

sub repeat_each (@) { $RepeatEach = shift if @_; return $RepeatEach }
sub workers (@) { return @_ ? ($Workers = shift) : $Workers }
sub worker_connections (@) {
    return @_ ? ($WorkerConnections = shift) : $WorkerConnections;
}
sub master_on () { $MasterProcess = 'on' }
sub master_off () { $MasterProcess = 'off' }
sub master_process_enabled (@) {
    return $MasterProcess unless @_;
    $MasterProcess = shift() ? 'on' : 'off';
}
sub log_level (@) { return @_ ? ($LogLevel = shift) : $LogLevel }
sub no_long_string () { $NoLongString = 1 }
sub no_shuffle () { $NoShuffle = 1 }
sub no_root_location () { $NoRootLocation = 1 }
sub config_preamble ($) { $ConfigPreamble = shift }
sub check_accum_error_log () { $CheckAccumErrLog = 1 }
sub server_name (@) { return @_ ? ($ServerName = shift) : $ServerName }
sub server_addr (@) { return @_ ? ($ServerAddr = shift) : $ServerAddr }
sub server_port (@) { return @_ ? ($ServerPort = shift) : $ServerPort }
sub server_port_for_client (@) {
    return @_ ? ($ClientPort = shift) : $ClientPort;
}
sub timeout (@) { return @_ ? ($Timeout = shift) : $Timeout }
sub html_dir () { return $HtmlDir }
sub server_root () { return $ServRoot }
sub add_block_preprocessor (&) { unshift @BlockPreprocessors, shift }
sub add_cleanup_handler ($) { unshift @CleanupHandlers, shift }

sub env_to_nginx (@) {
    die "env_to_nginx: no arguments specified\n" unless @_;
    for my $v (@_) {
        die "env_to_nginx: bad argument value: $v\n"
            if $v !~ /^[A-Za-z_]/ || $v =~ /\n/;
        push @EnvToNginx, $v;
    }
}

sub is_str (@) {
    my ($got, $expected, $desc) = @_;
    local $Test::Builder::Level = $Test::Builder::Level + 1;
    return Test::More::like($got, $expected, $desc)
        if ref $expected eq 'Regexp';
    return Test::More::is($got, $expected, $desc)
        if $NoLongString || !$HaveLongString;
    return Test::LongString::is_string($got, $expected, $desc);
}

sub bail_out (@) {
    cleanup();
    Test::More::BAIL_OUT(join '', @_);
}


sub run_tests () {
    $NginxVersion = nginx_version();
    $ENV{TEST_NGINX_SERVER_PORT} = $ServerPort
        unless defined $ENV{TEST_NGINX_SERVER_PORT};

    my @blocks = Test::Base::blocks();
    @blocks = shuffle @blocks unless $NoShuffle;

    for my $block (@blocks) {
        $_->($block) for @BlockPreprocessors;
        $block->set_value(name => "$0 " . $block->name);
        run_test($block);
    }

    cleanup();
}


# ---- one block -------------------------------------------------------------

sub run_test ($) {
    my ($block) = @_;
    return if defined $block->SKIP;

    my $name = $block->name;
    my %rand_ports;
    my $config = expand_env(sec($block, 'config'), $name, \%rand_ports);

    local $LogLevel = $block->log_level || $LogLevel;
    my $must_die = $block->must_die;
    local $UseValgrind = defined $must_die ? undef : $UseValgrind;

    my ($skip_count, $skip_reason) = skip_of_block($block);

    if (!defined $config) {
        # a block without --- config talks to the previous block's nginx
        bail_out("$name - No '--- config' section specified and could not "
                 . "get previous one.") unless defined $PrevConfig;

    } elsif (!defined $skip_reason) {
        $PrevConfig = $config;
        return if !start_nginx($block, $config, \%rand_ports, $must_die);
    }

    if (defined $block->init) {
        eval $block->init;
        bail_out("$name - init failed: $@") if $@;
    }

    $ErrLogPos = 0;
    for my $rep (0 .. $RepeatEach - 1) {
        my $mock = defined $block->tcp_listen ? start_tcp_server($block)
                                              : undef;

        write_user_files($block, \%rand_ports) if $rep > 0;

        SKIP: {
            Test::More::skip("$name - $skip_reason", $skip_count)
                if defined $skip_reason;

            run_requests($block, $rep);
            check_tcp_query($block, $mock) if $mock;
        }

        stop_tcp_server($mock, $name) if $mock;
    }

    if (my $all = $ENV{TEST_NGINX_ERROR_LOG}) {
        # one file with every block's error.log, for CI artifacts
        if (-s $ErrLogFile && open my $out, '>>', $all) {
            open my $in, '<', $ErrLogFile or bail_out("$ErrLogFile: $!");
            print $out "\n=== $name\n", <$in>;
            close $in;
            close $out;
        }
    }

    stop_valgrind_nginx($name) if $UseValgrind;
}


# skip_nginx: "N: <op> x.y.z[: reason]", skip_eval: "N: perl code".
sub skip_of_block {
    my ($block) = @_;
    my $name = $block->name;

    if (defined(my $spec = $block->skip_nginx)) {
        my ($n, $op, @v) = $spec =~ m{^\s*(\d+)\s*:\s*([<>]=?)\s*
                                      (\d+)\.(\d+)\.(\d+)}x
            or bail_out("$name - Invalid --- skip_nginx spec: $spec");
        my ($reason) = $spec =~ m{\d+\.\d+\.\d+\s*:\s*(.*?)\s*$};
        $reason ||= "nginx version $op $v[0].$v[1].$v[2]";
        my $ver = sprintf '%d.%03d%03d', @v;
        return ($n, $reason) if eval "$NginxVersion $op $ver";
    }

    if (defined(my $spec = $block->skip_eval)) {
        my ($n, $code) = $spec =~ /^\s*(\d+)\s*:\s*(.*)/s
            or return;
        my $skip = eval $code;
        bail_out("$name - skip_eval - failed to eval \"$code\": $@") if $@;
        return ($n, 'skip_eval') if $skip;
    }

    return;
}


# ---- nginx lifecycle -------------------------------------------------------

sub find_nginx {
    my ($bin) = @_;
    return $bin if $bin =~ m{/};
    for my $dir (split(/:/, $ENV{PATH} || ''), '/usr/sbin', '/usr/local/sbin')
    {
        next if $dir eq '';
        return "$dir/$bin" if -f "$dir/$bin" && -x _;
    }
    return $bin;
}

sub nginx_version {
    my $out = `$NginxBinary -V 2>&1`;
    bail_out("Failed to get the version of nginx ($NginxBinary): "
             . ($out // '')) if !defined $out || $? != 0;
    my @v = $out =~ m{\w+/(\d+)\.(\d+)\.(\d+)}
        or bail_out("Failed to parse the output of \"nginx -V\": $out");
    return sprintf '%d.%03d%03d', @v;
}

# Returns false when the block is over (must_die).
sub start_nginx {
    my ($block, $config, $rand_ports, $must_die) = @_;
    my $name = $block->name;

    stop_nginx($name);
    setup_server_root();
    write_user_files($block, $rand_ports);
    write_config_file($block, $config, $rand_ports);

    my $cmd = "$NginxBinary -p $ServRoot/ -c $ConfFile > /dev/null";

    if ($UseValgrind) {
        start_valgrind_nginx($name, $cmd);
        return 1;
    }

    $ErrLogPos = 0;
    my ($i, $waited) = (0, 0);

    while (1) {
        system $cmd;
        my $status = $?;

        if (defined $must_die) {
            check_must_die($block, $must_die, $status, $i);
            next if ++$i < $RepeatEach;
            return 0;
        }

        last if $status == 0;

        # the port may still be held by the nginx we just stopped
        my $delay = min(0.1 * ++$i, 1);
        sleep $delay;
        $waited += $delay;
        bail_out("$name - Cannot start nginx using command \"$cmd\" "
                 . "(status code $status).") if $waited >= 30;
    }

    sleep $Sleep;
    return 1;
}

sub check_must_die {
    my ($block, $must_die, $status, $i) = @_;
    my $name = $block->name;
    my $exit_code = $status >> 8;

    if ($status == -1) {
        Test::More::fail("$name - failed to execute the nginx command line");
    } elsif ($status & 128) {
        Test::More::fail("$name - nginx core dumped");
    } elsif (looks_like_number($must_die)) {
        Test::More::is($must_die, $exit_code,
                       "$name - die with the expected exit code");
    } else {
        Test::More::isnt($status, 0, "$name - die as expected");
    }

    # With Debian's nginx (error log compiled in as stderr) errors found
    # while parsing nginx.conf go to stderr, not to error.log; errors after
    # that (bind(), module init) land in error.log.
    check_error_log($block, $i);

    if ($status == 0) {
        warn "WARNING: $name - nginx must die but it does not; killing it\n";
        for (1 .. 15) { last if -f $PidFile; sleep $Sleep }
        stop_nginx($name);
    }
}

sub read_pid {
    open my $in, '<', $PidFile or return undef;
    my $pid = <$in>;
    close $in;
    return undef unless defined $pid && $pid =~ /^\s*(\d+)/;
    return $1;
}

sub stop_nginx {
    my ($name) = @_;
    return unless -f $PidFile;
    my $pid = read_pid();
    if ($pid && is_running($pid)) {
        kill_process($pid, $name);
    }
    unlink $PidFile;
}

# A daemonized nginx is not our child: when PID 1 does not reap orphans
# (containers) it stays a zombie, which kill 0 still finds.
sub is_running {
    my ($pid) = @_;
    return 0 unless kill 0, $pid;
    open my $in, '<', "/proc/$pid/stat" or return 1;
    my $stat = <$in> // '';
    close $in;
    return $stat !~ /^\d+ \(.*\) Z/s;
}

# QUIT lets nginx finish in-flight requests (and valgrind report leaks);
# KILL only when it does not go away in time.
sub kill_process {
    my ($pid, $name, $signal, $wait) = @_;
    $wait = $Timeout unless defined $wait;
    kill $signal || 'QUIT', $pid;

    for (my $t = 0; $t < $wait; $t += 0.05) {
        waitpid $pid, WNOHANG;
        return unless is_running($pid);
        sleep 0.05;
    }

    warn "$name - timeout when waiting for the process $pid to exit\n";
    kill 'KILL', (getpgrp($pid) == $pid ? -$pid : $pid);
    waitpid $pid, 0;
}

sub cleanup {
    local $?;
    $_->() for @CleanupHandlers;
    if (defined $TcpServerPid) {
        kill_process($TcpServerPid, 'cleanup', 'TERM');
        undef $TcpServerPid;
    }
    if (defined $ChildPid) {
        kill_process($ChildPid, 'cleanup');
        undef $ChildPid;
    }
}

sub setup_server_root {
    if (-d $ServRoot) {
        # Remove only what we create, so that a mistaken TEST_NGINX_SERVROOT
        # never costs anyone their files.
        remove_tree($ConfDir, $HtmlDir, $LogDir, glob("$ServRoot/*_temp"),
                    glob("$ServRoot/*_cache"));
        rmdir $ServRoot
            or bail_out("Can't remove $ServRoot (not empty?): $!");
    }

    for my $dir ($ServRoot, $LogDir, $HtmlDir, $ConfDir) {
        make_path($dir);
        bail_out("Failed to do mkdir $dir") unless -d $dir;
    }

    write_file("$HtmlDir/index.html", '<html><head><title>It works!</title>'
               . '</head><body>It works!</body></html>');
}

sub write_file {
    my ($path, $data) = @_;
    open my $out, '>', $path or bail_out("Can't open $path for writing: $!");
    binmode $out;
    print $out $data;
    close $out;
}

# --- user_files: either text with ">>> name [touch date]" headers, or an
# array of [name, body, date]; relative names live under the html dir.
sub write_user_files {
    my ($block, $rand_ports) = @_;
    my $name = $block->name;
    my $files = $block->user_files or return;

    if (!ref $files) {
        my @list;
        for my $line (split /^/, $files) {
            if ($line =~ /^>>> (\S+)(?:\s+(.+))?/) {
                push @list, [$1, undef, $2];
            } elsif (@list) {
                $list[-1][1] .= $line;
            }
        }
        $files = \@list;
    } elsif (ref $files ne 'ARRAY') {
        bail_out("$name - wrong value type: " . ref($files)
                 . ", only scalar or ARRAY are accepted");
    }

    for my $file (@$files) {
        my ($fname, $body, $date) = @$file;
        my $path = $fname =~ m{^/} ? $fname : "$HtmlDir/$fname";
        my ($dir) = $path =~ m{(.*)/};
        make_path($dir) if defined $dir && !-d $dir;
        write_file($path, expand_env($body // '', $name, $rand_ports));
        if ($date) {
            system("TZ=GMT touch -t '$date' $path") == 0
                or bail_out("$name - failed to touch $path");
        }
    }
}

# $TEST_NGINX_FOO in config sections comes from %ENV; the block fails loudly
# when it is unset.  $TEST_NGINX_RAND_PORT_N is a free port, the same one
# for every use within a block.
sub expand_env {
    my ($text, $name, $rand_ports) = @_;
    return undef unless defined $text;

    $text =~ s{\$(TEST_NGINX_[_A-Z0-9]+)}{
        my $var = $1;
        if ($var =~ /^TEST_NGINX_RAND_PORT_\d+$/) {
            $rand_ports->{$var} //= free_port($name, $rand_ports);
        } else {
            bail_out("$name - No environment $var defined.")
                unless defined $ENV{$var};
            $ENV{$var};
        }
    }ge;

    return $text;
}

sub free_port {
    my ($name, $taken) = @_;
    my %used = ($ServerPort => 1, map { $_ => 1 } values %$taken);
    for (1 .. 1000) {
        my $port = int(rand 63550) + 1985;
        next if $used{$port};
        my $sock = IO::Socket::INET->new(LocalAddr => $ServerAddr,
                                         LocalPort => $port, Proto => 'tcp');
        next unless $sock;
        close $sock;
        return $port;
    }
    bail_out("$name - Cannot find an available listening port number.");
}

sub write_config_file {
    my ($block, $config, $rand_ports) = @_;
    my $name = $block->name;

    my $http_config = expand_env(sec($block, 'http_config'), $name,
                                 $rand_ports);
    my $main_config = $block->main_config // '';
    $http_config = '' unless defined $http_config;
    $config = '' unless defined $config;

    if ($LoadModules) {
        $main_config .= join ' ', map { "load_module $_;" }
                                  grep { length } split /\s+/, $LoadModules;
    }
    $main_config = expand_env($main_config, $name, $rand_ports);
    my $post_main_config =
        expand_env($block->post_main_config // '', $name, $rand_ports);

    my $server_name = $block->server_name // $ServerName;
    my $env = join '', map { /\s/ ? "env '$_';\n" : "env $_;\n" } @EnvToNginx;

    # Debian's nginx has its temp paths compiled in under /var/lib/nginx;
    # keep them in the server root unless the block sets them itself.
    my $temp = '';
    for my $kind (qw(client_body proxy fastcgi uwsgi scgi)) {
        my $directive = "${kind}_temp_path";
        next if "$http_config\n$config" =~ /\b\Q$directive\E\b/;
        $temp .= "    $directive $ServRoot/${kind}_temp;\n";
    }

    my $root_location = $NoRootLocation ? '' : <<"_EOC_";
        location / {
            root $HtmlDir;
            index index.html index.htm;
        }
_EOC_

    my $worker_user = $ENV{TEST_NGINX_WORKER_USER};
    my $user = $worker_user ? "user $worker_user;\n"
             : $> == 0      ? "user root;\n"
             : '';

    # under valgrind nginx stays in the foreground, a child of ours
    my $daemon = $UseValgrind ? 'off' : 'on';

    write_file($ConfFile, <<"_EOC_");
worker_processes  $Workers;
daemon $daemon;
master_process $MasterProcess;
error_log $ErrLogFile $LogLevel;
pid       $PidFile;
env MOCKEAGAIN_VERBOSE;
env MOCKEAGAIN;
env MOCKEAGAIN_WRITE_TIMEOUT_PATTERN;
env LD_PRELOAD;
env LD_LIBRARY_PATH;
$env
$main_config

http {
    access_log $AccLogFile;

    default_type text/plain;
    keepalive_timeout  68;
$temp
$http_config

    server {
        listen          $ServerPort;
        server_name     '$server_name';

        client_max_body_size 30M;

        # Begin preamble config...
$ConfigPreamble
        # End preamble config...

        # Begin test case config...
$config
        # End test case config.

$root_location    }
}

$post_main_config

events {
    accept_mutex off;

    worker_connections  $WorkerConnections;
}
env ASAN_OPTIONS;
$user
_EOC_
}


# ---- valgrind --------------------------------------------------------------

# Same command line as the real harness (memcheck, full leak check, no
# "possibly lost", valgrind.suppress from the current directory when there
# is one), but the report goes to files so that it can fail the test file.
sub start_valgrind_nginx {
    my ($name, $cmd) = @_;

    my $opts = $UseValgrind =~ /^\d+$/
        ? '--tool=memcheck --leak-check=full --show-possibly-lost=no '
          . '--num-callers=100 --gen-suppressions=all'
        : $UseValgrind;
    if ($UseValgrind =~ /^\d+$/) {
        # nginx's own exit-time allocations would fail every block
        $opts .= " --suppressions=$OwnSuppressions";
        $opts .= ' --suppressions=valgrind.suppress' if -f 'valgrind.suppress';
    }
    $cmd = "valgrind -q $opts --log-file=$LogDir/valgrind.%p.log $cmd";

    warn "$name\n";

    my $pid = fork;
    bail_out("$name - fork() failed: $!") unless defined $pid;
    if ($pid == 0) {
        $SIG{INT} = $SIG{TERM} = 'DEFAULT';
        setpgrp;
        exec "exec $cmd" or POSIX::_exit(127);
    }

    $ChildPid = $pid;
    sleep $Sleep;
}

sub stop_valgrind_nginx {
    my ($name) = @_;
    return unless defined $ChildPid;

    # valgrind checks for leaks after nginx exits: give it time
    kill_process($ChildPid, $name, 'QUIT', 30);
    undef $ChildPid;
    unlink $PidFile;

    for my $log (sort glob "$LogDir/valgrind.*.log") {
        open my $in, '<', $log or next;
        my $report = do { local $/; <$in> };
        close $in;
        next unless $report =~ /\S/;
        $ValgrindFailures++;
        warn "$name - valgrind reported errors ($log):\n$report";
    }
}


# ---- requests and checks ---------------------------------------------------

sub run_requests {
    my ($block, $rep) = @_;
    my $name = $block->name;

    my @reqs = Test::Nginx::HttpClient::requests_of_block($block, $ServerName,
                                                          \&bail_out);
    my $timeout = parse_time(sec($block, 'timeout')) // $Timeout;
    my $pipelined = $block->pipelined_requests;
    my $need_array = $pipelined ? 1 : @reqs > 1;

    for my $i (0 .. $#reqs) {
        my $head_req = join('', @{$reqs[$i]}) =~ /^\s*HEAD\s+/ ? 1 : 0;

        my ($raw, $timed_out, $err) = Test::Nginx::HttpClient::send_request(
            name         => $name,
            pieces       => $reqs[$i],
            timeout      => $timeout,
            addr         => $block->server_addr_for_client // $ServerAddr,
            port         => $ClientPort,
            middle_delay => sec($block, 'raw_request_middle_delay'),
            shutdown     => sec($block, 'shutdown'),
            fail         => \&extra_fail,
            bail         => \&bail_out,
            is_gone      => \&valgrind_nginx_gone,
        );

        if ($timed_out && !defined $block->abort) {
            extra_fail("ERROR: client socket timed out - $name");
        }

        # pipelined responses come back on one connection: split them
        my $n = $pipelined ? @$pipelined : 1;
        my $idx = $i;
        while ($n-- > 0) {
            my ($res, $raw_headers, $left) =
                Test::Nginx::HttpClient::parse_response($name, $raw,
                                                        $head_req,
                                                        \&extra_fail);
            if (!defined $block->ignore_response) {
                check_status($block, $res, $idx, $need_array);
                check_raw_headers($block, $raw_headers, $idx, $need_array);
                check_headers($block, $res, $raw_headers, $idx, $need_array);
                check_body($block, $res, $idx, $rep, $need_array);
            }
            $raw = $left // '';
            $idx++;

            if ($n > 0 || $i < $#reqs) {
                sleep $block->wait if $block->wait;
                check_error_log($block, $rep);
                check_access_log($block, $rep)
                    unless defined $block->ignore_response;
            }
        }
    }

    sleep $block->wait if $block->wait;
    check_error_log($block, $rep);
    check_access_log($block, $rep) unless defined $block->ignore_response;
}

# Test::Base's accessors give an empty list for a missing section in list
# context, which would shift the other arguments of a call.
sub sec {
    my ($block, $section) = @_;
    return scalar $block->$section;
}

sub valgrind_nginx_gone {
    return 0 unless defined $ChildPid;
    my $r = waitpid $ChildPid, WNOHANG;
    return 0 if $r == 0;
    undef $ChildPid;
    return 1;
}

# A failure that the plan does not count: like the real harness, stop
# Test::Builder from also complaining about the count.
sub extra_fail {
    my ($msg) = @_;     # Test::Builder's context code may clobber @_
    Test::More->builder->no_ending(1);
    Test::More::fail($msg);
}

sub parse_time {
    my ($t) = @_;
    return undef unless defined $t;
    return $1 / 1000 if $t =~ /^(.*[^_a-zA-Z])ms$/;
    return $1 if $t =~ /^(.*[^_a-zA-Z])s$/;
    return $t;
}

# With several requests every expectation must be an array, one element per
# request; with one request an array is allowed too.
sub indexed {
    my ($block, $section, $idx, $need_array) = @_;
    my $value = sec($block, $section);
    if ($need_array) {
        return $value->[$idx] if ref $value eq 'ARRAY';
        bail_out($block->name . " - You asked for many requests, the "
                 . "expected results should be arrays as well.");
    }
    return ref $value eq 'ARRAY' ? $value->[0] : $value;
}

sub expand_port {
    my ($s) = @_;
    $s =~ s/\$ServerPortForClient\b/$ClientPort/g;
    $s =~ s/\$ServerPort\b/$ServerPort/g;
    return $s;
}

sub check_status {
    my ($block, $res, $idx, $need_array) = @_;
    my $name = $block->name;
    my $code = ($res && $res->{code}) || '';

    if (defined $block->error_code_like) {
        my $pat = indexed($block, 'error_code_like', $idx, $need_array);
        Test::More::like($code, qr/$pat/sm, "$name - status code ok");
    } else {
        my $want = defined $block->error_code
            ? indexed($block, 'error_code', $idx, $need_array) : 200;
        Test::More::is($code, $want, "$name - status code ok");
    }
}

sub check_raw_headers {
    my ($block, $raw_headers, $idx, $need_array) = @_;
    my $name = $block->name;

    if (defined $block->raw_response_headers_like) {
        my $pat = indexed($block, 'raw_response_headers_like', $idx,
                          $need_array);
        Test::More::like($raw_headers, qr/$pat/s,
                         "$name - raw resp headers like");
    }
    if (defined $block->raw_response_headers_unlike) {
        my $pat = indexed($block, 'raw_response_headers_unlike', $idx,
                          $need_array);
        Test::More::unlike($raw_headers, qr/$pat/s,
                           "$name - raw resp headers unlike");
    }
}

# "Name: value" lines; "!Name" means the header must be absent.  Repeated
# names collapse into one check (the real harness keeps them in a hash).
sub parse_header_lines {
    my ($text) = @_;
    my (@order, %val);
    for my $line (split /\n/, $text // '') {
        $line =~ s/^\s+|\s+$//g;
        my ($key, $v);
        if ($line =~ s/^!\s*//) {
            $key = $line;
        } else {
            ($key, $v) = split /\s*:\s*/, $line, 2;
        }
        push @order, $key unless exists $val{$key};
        $val{$key} = $v;
    }
    return map { [$_, $val{$_}] } @order;
}

sub check_headers {
    my ($block, $res, $raw_headers, $idx, $need_array) = @_;
    my $name = $block->name;

    if (defined $block->response_headers) {
        my $spec = indexed($block, 'response_headers', $idx,
                           $need_array);
        for my $h (parse_header_lines($spec)) {
            my ($key, $want) = @$h;
            if (!defined $want) {
                Test::More::unlike($raw_headers, qr/^\s*\Q$key\E\s*:/ms,
                    "$name - header $key not present in the raw headers");
                next;
            }
            my $got = Test::Nginx::HttpClient::header($res, $key) // '';
            Test::More::is($got, expand_port($want), "$name - header $key ok");
        }

    } elsif (defined $block->response_headers_like) {
        my $spec = indexed($block, 'response_headers_like', $idx,
                           $need_array);
        for my $h (parse_header_lines($spec)) {
            my ($key, $pat) = @$h;
            $pat = '' unless defined $pat;
            my $got = Test::Nginx::HttpClient::header($res, $key) // '';
            Test::More::like($got, qr/^$pat$/, "$name - header $key like ok");
        }
    }
}

sub check_body {
    my ($block, $res, $idx, $rep, $need_array) = @_;
    my $name = $block->name;
    my $body = $res ? $res->{body} : undef;

    $body = filter_body($block, $body, $idx) if defined $body;

    if (defined $block->response_body) {
        my $want = indexed($block, 'response_body', $idx, $need_array);
        $want = expand_port($want) if defined $want && !ref $want;
        my $what = ref $want ? 'like' : 'response is expected';
        is_str($body, $want, "$name - response_body - $what "
                             . "(repeated req $rep, req $idx)");

    } elsif (defined $block->response_body_like
             || defined $block->response_body_unlike)
    {
        my $like = defined $block->response_body_like;
        my $type = $like ? 'like' : 'unlike';
        my $pat = indexed($block, "response_body_$type", $idx, $need_array);
        $pat = expand_port($pat);
        my $summary = $body // '';
        $summary =~ s/^\s+|\s+$//g;
        $summary =~ s/\s+/ /g;
        my $desc = "$name - response_body_$type - response is expected "
                   . "($summary)";
        if ($like) {
            Test::More::like($body, qr/$pat/s, $desc);
        } else {
            Test::More::unlike($body, qr/$pat/s, $desc);
        }
    }
}


# --- response_body_filters: names (uc, lc, ucfirst, lcfirst, length,
# md5_hex, sha1_hex) or code refs, applied in order to the body before
# response_body(_like) compare it; a list of lists gives each request of
# the block its own filters (as in Test::Nginx::Socket).
sub filter_body {
    my ($block, $body, $idx) = @_;
    my $name = $block->name;
    my $filters = $block->response_body_filters;

    return $body unless defined $filters;

    if (!ref $filters) {
        (my $list = $filters) =~ s/^\s+|\s+$//gs;
        $filters = [split /\s+/, $list];
    } elsif (ref $filters ne 'ARRAY') {
        $filters = [$filters];
    }

    if (@$filters && ref $filters->[0] eq 'ARRAY') {
        for my $elem (@$filters) {
            bail_out("$name - the --- response_body_filters two-dimensional "
                     . "array only be like [[uc], [lc]] not [[uc], lc]")
                if ref $elem ne 'ARRAY';
        }
        $filters = $filters->[$idx];
        bail_out("$name - the ---response_body_filters two-dimensional "
                 . "array unmatch the specified request($idx)")
            unless defined $filters;
    }

    for my $f (@$filters) {
        if (ref $f eq 'CODE') {
            $body = $f->($body);
        } elsif (ref $f) {
            bail_out("$name - the --- response_body_filters section only "
                     . "supports subroutine reference values and string "
                     . "values");
        } elsif ($f eq 'md5_hex') {
            require Digest::MD5;
            $body = Digest::MD5::md5_hex($body);
        } elsif ($f eq 'sha1_hex') {
            require Digest::SHA;
            $body = Digest::SHA::sha1_hex($body);
        } elsif ($f eq 'uc') {
            $body = uc $body;
        } elsif ($f eq 'lc') {
            $body = lc $body;
        } elsif ($f eq 'ucfirst') {
            $body = ucfirst $body;
        } elsif ($f eq 'lcfirst') {
            $body = lcfirst $body;
        } elsif ($f eq 'length') {
            $body = length $body;
        } else {
            bail_out("$name - unknown filter, \"$f\", specified in the "
                     . "--- response_body_filters section");
        }
    }

    return $body;
}


# ---- error.log / access.log ------------------------------------------------

# Lines logged since the previous read: each check sees only what the
# current request (or repetition) logged, plus nginx's startup lines for
# the first one.
sub error_log_lines {
    sleep $Sleep * 3;    # lines from the log phase come after the response
    open my $in, '<', $ErrLogFile or return undef;
    seek $in, $ErrLogPos, 0 if !$CheckAccumErrLog && $ErrLogPos > 0;
    my @lines = <$in>;
    $ErrLogPos = tell $in unless $CheckAccumErrLog;
    close $in;
    return \@lines;
}

sub access_log_lines {
    sleep $Sleep * 3;
    open my $in, '<', $AccLogFile or return [];
    my @lines = <$in>;
    close $in;
    return \@lines;
}

sub patterns {
    my ($spec) = @_;
    if (!ref $spec) {
        chomp $spec;
        return [split /\n+/, $spec];
    }
    return ref $spec eq 'Regexp' ? [$spec] : [@$spec];
}

sub line_matches {
    my ($line, $pat) = @_;
    return ref $pat ? $line =~ $pat : index($line, $pat) >= 0;
}

sub show {
    my ($s) = @_;
    chomp $s;
    $s =~ s/"/\\"/g;
    $s =~ s/\r/\\r/g;
    $s =~ s/\n/\\n/g;
    return $s;
}

# One pass per pattern found in some line, one failure per pattern found in
# none.
sub expect_lines {
    my ($name, $what, $pats, $lines, $rep) = @_;
    my @left = @$pats;
    for my $line (@$lines) {
        for my $pat (@left) {
            next unless defined $pat && line_matches($line, $pat);
            Test::More::pass("$name - pattern \"$pat\" matches a line in "
                             . "$what (req $rep)");
            undef $pat;
        }
    }
    for my $pat (grep { defined } @left) {
        Test::More::fail("$name - pattern \"$pat\" should match a line in "
                         . "$what (req $rep)");
    }
}

# One failure per matching line, one pass per pattern that matched nothing.
sub refuse_lines {
    my ($name, $what, $pats, $lines, $rep) = @_;
    my %found;
    for my $i (0 .. $#$lines) {
        my $line = $lines->[$i];
        for my $pat (@$pats) {
            next unless defined $pat && line_matches($line, $pat);
            Test::More->builder->no_ending(1) if $found{$pat}++;
            my $more = join '', @$lines[$i + 1 .. min($i + 9, $#$lines - 1)];
            Test::More::fail("$name - pattern \"" . show($pat) . "\" should "
                             . "not match any line in $what but matches line "
                             . "\"" . show($line) . "\" (req $rep)\n$more");
        }
    }
    for my $pat (@$pats) {
        next if !defined $pat || $found{$pat};
        Test::More::pass("$name - pattern \"" . show($pat) . "\" does not "
                         . "match a line in $what (req $rep)");
    }
}

sub mentions {
    my ($spec, $text) = @_;
    return 0 unless defined $spec;
    return grep { index("$_", $text) >= 0 } ref $spec eq 'ARRAY' ? @$spec
                                                                  : ($spec);
}

sub check_error_log {
    my ($block, $rep) = @_;
    my $name = $block->name;
    my $lines;

    if (defined(my $grep = $block->grep_error_log)) {
        $grep = $grep->[$rep] if ref $grep eq 'ARRAY';
        my $want = $block->grep_error_log_out;
        bail_out("$name - No --- grep_error_log_out defined but "
                 . "--- grep_error_log is defined") unless defined $want;
        $want = $want->[$rep] if ref $want eq 'ARRAY';
        $lines ||= error_log_lines();
        my $got = '';
        for my $line (@{$lines || []}) {
            if (ref $grep ? $line =~ $grep : $line =~ /\Q$grep\E/) {
                $got .= "$&\n" if $& !~ /\n/;
            }
        }
        is_str($got, $want, "$name - grep_error_log_out (req $rep)");
    }

    if (defined $block->error_log) {
        $lines ||= error_log_lines();
        expect_lines($name, 'error.log', patterns(sec($block, 'error_log')),
                     $lines || [], $rep);
    }

    if (defined $block->no_error_log) {
        $lines ||= error_log_lines();
        refuse_lines($name, 'error.log', patterns(sec($block, 'no_error_log')),
                     $lines || [], $rep);
    }

    # Serious lines nobody asked about are shown, not failed.
    $lines ||= error_log_lines();
    for my $level (qw(alert crit emerg)) {
        next if mentions(sec($block, 'error_log'), "[$level")
             || mentions(sec($block, 'no_error_log'), "[$level");
        for my $line (@{$lines || []}) {
            warn "WARNING: $name - " . show($line) . "\n"
                if $line =~ /\[$level\]/;
        }
    }

    for my $line (@{$lines || []}) {
        if ($line =~ /\bAssertion .*?failed\b/) {
            chomp(my $l = $line);
            extra_fail("$name - $l");
        }
    }
}

sub check_access_log {
    my ($block, $rep) = @_;
    my $name = $block->name;
    my $lines;

    if (defined $block->access_log) {
        $lines ||= access_log_lines();
        expect_lines($name, 'access.log', patterns(sec($block, 'access_log')),
                     $lines, $rep);
    }
    if (defined $block->no_access_log) {
        $lines ||= access_log_lines();
        refuse_lines($name, 'access.log',
                     patterns(sec($block, 'no_access_log')), $lines, $rep);
    }
}


# ---- tcp_listen: a one-connection mock TCP server --------------------------

# Accepts one connection, reads the query (tcp_query_len bytes, or the
# length of tcp_query, or a single read), waits tcp_reply_delay, writes
# tcp_reply (a string, an array of strings written one by one, or a sub
# given the query), then closes - or keeps the connection open with
# tcp_no_close.  tcp_shutdown shuts a direction down right after accept.
sub start_tcp_server {
    my ($block) = @_;
    my $name = $block->name;
    my $target = $block->tcp_listen;
    my $reply = $block->tcp_reply;

    bail_out("$name - no --- tcp_reply specified but --- tcp_listen is "
             . "specified")
        if !defined $reply && !defined $block->tcp_shutdown;

    my $want = $block->tcp_query_len;
    my $query_file;
    if (defined $block->tcp_query || defined $want) {
        $want = length $block->tcp_query unless defined $want;
        (undef, $query_file) = File::Temp::tempfile(UNLINK => 1);
    }

    my ($sock, $err);
    for my $try (1 .. 30) {
        if ($target =~ /^\d+$/) {
            $sock = IO::Socket::INET->new(LocalHost => '127.0.0.1',
                                          LocalPort => $target,
                                          Proto => 'tcp', ReuseAddr => 1,
                                          Listen => 5);
        } elsif ($target =~ /\S+\.sock$/) {
            unlink $target if -e $target;
            $sock = IO::Socket::UNIX->new(Local => $target,
                                          Type => SOCK_STREAM, Listen => 5);
        } else {
            bail_out("$name - bad tcp_listen target: $target");
        }
        last if $sock;
        $err = $!;
        last unless $err =~ /address already in use/i;
        warn "WARNING: failed to create the tcp listening socket: $err\n";
        sleep 1;
    }
    bail_out("$name - failed to create the tcp listening socket: $err")
        unless $sock;

    my $pid = fork;
    bail_out("$name - fork() failed: $!") unless defined $pid;

    if ($pid == 0) {
        $SIG{INT} = $SIG{TERM} = 'DEFAULT';
        tcp_server_child($block, $sock, $want, $query_file, $reply);
        POSIX::_exit(0);    # no END blocks, no TAP from the child
    }

    $TcpServerPid = $pid;
    return { pid => $pid, sock => $sock, query_file => $query_file,
             target => $target };
}

sub tcp_server_child {
    my ($block, $sock, $want, $query_file, $reply) = @_;
    local $SIG{PIPE} = 'IGNORE';

    my $client;
    until ($client = $sock->accept) { sleep $Sleep }

    my ($no_read, $no_write);
    if (defined(my $how = $block->tcp_shutdown)) {
        sleep parse_time(sec($block, 'tcp_shutdown_delay'))
            if $block->tcp_shutdown_delay;
        $client->shutdown($how);
        ($how == 0 || $how == 2) ? ($no_read = 1) : ($no_write = 1);
    }

    my $buf = '';
    unless ($no_read) {
        while (1) {
            my $n = sysread $client, my $chunk, 4096;
            last unless $n;     # EOF or error: nothing more will come
            $buf .= $chunk;
            if ($query_file) {
                open my $out, '>', $query_file or die "$query_file: $!";
                binmode $out;
                print $out $buf;
                close $out;
            }
            last if !$want || length $buf >= $want;
        }
    }

    my $delay = parse_time(sec($block, 'tcp_reply_delay'));
    sleep $delay if $delay;

    if (!$no_write && defined $reply) {
        $reply = $reply->($buf) if ref $reply eq 'CODE';
        for my $r (ref $reply eq 'ARRAY' ? @$reply : ($reply)) {
            defined syswrite($client, $r)
                or warn "WARNING: tcp server failed to send reply: $!\n";
        }
    }

    sleep 1 while defined $block->tcp_no_close;

    close $client;
    close $sock;
}

sub check_tcp_query {
    my ($block, $mock) = @_;
    my $name = $block->name;
    my $buf = '';
    if ($mock->{query_file} && open my $in, '<', $mock->{query_file}) {
        binmode $in;
        $buf = do { local $/; <$in> } // '';
        close $in;
    }
    is_str($buf, sec($block, 'tcp_query'), "$name - tcp_query ok")
        if defined $block->tcp_query;
    Test::More::is(length $buf, sec($block, 'tcp_query_len'),
                   "$name - TCP query length ok")
        if defined $block->tcp_query_len;
}

sub stop_tcp_server {
    my ($mock, $name) = @_;
    kill_process($mock->{pid}, $name, 'TERM');
    undef $TcpServerPid;
    close $mock->{sock};
    unlink $mock->{target} if $mock->{target} =~ /\.sock$/;
    unlink $mock->{query_file} if $mock->{query_file};
}


END {
    my $status = $?;
    cleanup();
    {
        local $?;
        stop_nginx('END') unless $ENV{TEST_NGINX_NO_CLEAN};
    }

    if ($ValgrindFailures) {
        Test::More::diag("valgrind reported errors in $ValgrindFailures "
                         . "process(es); see the reports above");
        # Test::Builder's own END (run after this one) keeps a non-zero $?
        $status ||= 1;
    }
    $? = $status;
}

1;
