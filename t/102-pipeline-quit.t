# Graceful shutdown with tombstones (issue 10): a connection on which no
# lookup waits any more (its lookup timed out, the reply is still due)
# is closed as soon as nginx is told to quit, like an idle one: the old
# worker does not stay for Redis's late reply.
use Test::Nginx::Socket 'no_plan';
use IO::Socket::INET;
use File::Temp qw(tempfile);
use Time::HiRes ();
use POSIX ();

# A Redis that never answers: 600 ms after the first command (the lookup
# timed out at 300 ms) it asks nginx to shut down gracefully (SIGQUIT to
# the master) and writes down how long nginx then took to close the
# connection.
my (undef, $closed) = tempfile('persona-closed-XXXXXX', TMPDIR => 1,
                               UNLINK => 1);
my $listener = IO::Socket::INET->new(Listen => 64, LocalAddr => '127.0.0.1',
                                     LocalPort => 0, ReuseAddr => 1)
    or die "cannot listen: $!\n";
$ENV{TEST_NGINX_QUIT_PORT} = $listener->sockport;
my $owner = $$;
my $mock = fork // die "fork: $!\n";

if ($mock == 0) {
    $SIG{CHLD} = 'IGNORE';
    my $servroot = $ENV{TEST_NGINX_SERVROOT} // 't/servroot';
    while (my $c = $listener->accept) {
        my $pid = fork;
        if (defined $pid && $pid == 0) {
            close $listener;
            sysread($c, my $buf, 4096) or POSIX::_exit(0);
            Time::HiRes::sleep(0.6);
            open my $f, '<', "$servroot/logs/nginx.pid" or POSIX::_exit(0);
            my $master = <$f>;
            chomp $master;
            my $t0 = Time::HiRes::time();
            kill 'QUIT', $master if $master;
            # EOF, or 5 s
            my $rin = '';
            vec($rin, fileno($c), 1) = 1;
            while (select(my $rout = $rin, undef, undef, 5)) {
                sysread($c, $buf, 4096) or last;
            }
            if (open my $out, '>', $closed) {
                printf $out "%.3f\n", Time::HiRes::time() - $t0;
                close $out;
            }
            POSIX::_exit(0);
        }
        close $c;
    }
    POSIX::_exit(0);
}

close $listener;

END { kill 'KILL', $mock if $mock && $$ == $owner }

master_on();
no_long_string();
no_shuffle();
run_tests();

open my $f, '<', $closed or die "the mock did not record the close\n";
my $after = <$f> // 99;
chomp $after;
diag("closed ${after}s after the quit");
ok($after < 0.5,
   "the tombstone's connection closed ${after}s after the quit "
   . "(its stall timer is 1.3 s)");

__DATA__

=== TEST 1: a quit closes a connection that only holds a tombstone at once
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_QUIT_PORT timeout=300ms max_fails=0;
--- config
    location = /t {
        persona on;
        return 200 "$persona_status\n";
    }
--- request
GET /t
--- more_headers
Cookie: persona_id=alice
--- response_body
timeout
--- wait: 1.5
--- no_error_log
open socket
[alert]
[crit]
--- timeout: 3
