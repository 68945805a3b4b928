# Review of the Redis hardening and the id cookie (issue 8): defects found
# on loopback, each with its regression test.
use Test::Nginx::Socket 'no_plan';
use IO::Socket::INET;
use POSIX ();

$ENV{TEST_NGINX_REDIS_PORT} ||= 6379;

# a free loopback port for the slow mock
if (!$ENV{TEST_NGINX_SLOW_PORT}) {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1)
        or die "no free port: $!\n";
    $ENV{TEST_NGINX_SLOW_PORT} = $s->sockport;
    close $s;
}

# A slow but healthy Redis: every command gets a one-field hash after
# 400 ms, well within the lookups' timeout.  One process per connection.
my $listener = IO::Socket::INET->new(Listen => 64, LocalAddr => '127.0.0.1',
                                     LocalPort => $ENV{TEST_NGINX_SLOW_PORT},
                                     ReuseAddr => 1)
    or die "cannot listen on $ENV{TEST_NGINX_SLOW_PORT}: $!\n";
my $owner = $$;
my $mock = fork // die "fork: $!\n";

if ($mock == 0) {
    $SIG{CHLD} = 'IGNORE';
    while (my $c = $listener->accept) {
        my $pid = fork;
        if (defined $pid && $pid == 0) {
            close $listener;
            my $buf;
            while (sysread($c, $buf, 4096)) {
                select(undef, undef, undef, 0.4);
                syswrite($c, "*2\r\n\$7\r\nsegment\r\n\$4\r\nslow\r\n");
            }
            POSIX::_exit(0);
        }
        close $c;
    }
    POSIX::_exit(0);
}

close $listener;

END { kill 'KILL', $mock if $mock && $$ == $owner }

no_long_string();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: a lookup that spent its time waiting for a pooled connection does not count toward the breaker
Redis answers every command in 400 ms (timeout 1s); with pool=1 the third
of three concurrent lookups gets the connection at 800 ms and times out at
1 s: Redis had it for 200 ms only.  That lookup is "timeout" for its
request, but the breaker (max_fails=1) stays closed: the connection waits
on for the reply and is kept.
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_SLOW_PORT pool=1 timeout=1s max_fails=1 fail_timeout=30s;
--- config
    location = /t {
        ssi on;
        default_type text/html;
        return 200 '<!--# include virtual="/fan?1" --><!--# include virtual="/fan?2" --><!--# include virtual="/fan?3" -->';
    }
    location = /fan {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/p;
        proxy_set_header Cookie "persona_id=alice";
    }
    location = /p {
        persona on;
        return 200 "$persona_status|$persona_segment ";
    }
--- request
GET /t
--- response_body_like eval
qr/\A(?=(?:.*?ok\|slow ){2})(?:(?:ok\|slow|timeout\|default) ){3}\z/
--- error_log
persona: redis lookup timed out (it waited for a free connection first, pool=1)
--- no_error_log
breaker opened
[alert]
[crit]
--- timeout: 5
