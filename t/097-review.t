# Review of the Redis hardening and the id cookie (issue 8): defects found
# on loopback, each with its regression test.
use Test::Nginx::Socket 'no_plan';
use IO::Socket::INET;
use POSIX ();

$ENV{TEST_NGINX_REDIS_PORT} ||= 6379;

system("redis-cli -p $ENV{TEST_NGINX_REDIS_PORT} < t/data/profiles.redis"
       . " > /dev/null") == 0
    or die "cannot load t/data/profiles.redis into Redis on port "
           . "$ENV{TEST_NGINX_REDIS_PORT}\n";

# a free loopback port for the slow mock
if (!$ENV{TEST_NGINX_SLOW_PORT}) {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1)
        or die "no free port: $!\n";
    $ENV{TEST_NGINX_SLOW_PORT} = $s->sockport;
    close $s;
}

# The complete commands (RESP arrays of bulk strings) at the start of
# $$buf, taken out of it: a mock Redis answers each command, however many
# one read brings (nginx pipelines them).
sub take_commands {
    my ($buf) = @_;
    my $n = 0;
    while ($$buf =~ /\A\*(\d+)\r\n/) {
        my ($argc, $pos) = ($1, length $&);
        for (1 .. $argc) {
            substr($$buf, $pos) =~ /\A\$(\d+)\r\n/ or return $n;
            $pos += length($&) + $1 + 2;
        }
        return $n if $pos > length $$buf;
        substr($$buf, 0, $pos, '');
        $n++;
    }
    return $n;
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
            my ($buf, $in) = ('', '');
            while (sysread($c, $in, 4096)) {
                $buf .= $in;
                my $n = take_commands(\$buf) or next;
                select(undef, undef, undef, 0.4);
                syswrite($c, "*2\r\n\$7\r\nsegment\r\n\$4\r\nslow\r\n" x $n);
            }
            POSIX::_exit(0);
        }
        close $c;
    }
    POSIX::_exit(0);
}

close $listener;

# A Redis that never answers and, on the first command it reads, asks
# nginx to shut down gracefully (SIGQUIT to the master).
if (!$ENV{TEST_NGINX_QUIT_PORT}) {
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1)
        or die "no free port: $!\n";
    $ENV{TEST_NGINX_QUIT_PORT} = $s->sockport;
    close $s;
}

my $qlistener = IO::Socket::INET->new(Listen => 64, LocalAddr => '127.0.0.1',
                                      LocalPort => $ENV{TEST_NGINX_QUIT_PORT},
                                      ReuseAddr => 1)
    or die "cannot listen on $ENV{TEST_NGINX_QUIT_PORT}: $!\n";
my $qmock = fork // die "fork: $!\n";

if ($qmock == 0) {
    $SIG{CHLD} = 'IGNORE';
    my $servroot = $ENV{TEST_NGINX_SERVROOT} // 't/servroot';
    while (my $c = $qlistener->accept) {
        my $pid = fork;
        if (defined $pid && $pid == 0) {
            close $qlistener;
            my $buf;
            if (sysread($c, $buf, 4096)
                && open my $f, '<', "$servroot/logs/nginx.pid")
            {
                my $master = <$f>;
                chomp $master;
                kill 'QUIT', $master if $master;
            }
            sleep 10;
            POSIX::_exit(0);
        }
        close $c;
    }
    POSIX::_exit(0);
}

close $qlistener;

END {
    if ($$ == $owner) {
        kill 'KILL', $mock if $mock;
        kill 'KILL', $qmock if $qmock;
    }
}

# TEST 7 shuts nginx down gracefully: with a master process only
master_on();
no_long_string();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: concurrent lookups on pool=1 share the connection: none waits for a free one, the breaker stays closed
Redis answers every command 400 ms after the read that brought it.  Before
issue 10 the third of three concurrent lookups waited for the one pooled
connection and timed out there, and that wait must not count toward the
breaker (max_fails=1).  Since pipelining, no lookup waits for a connection:
the three commands share it (in one write or in several), all are
answered, no timeout, no breaker.
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_SLOW_PORT pool=1 timeout=2s max_fails=1 fail_timeout=30s;
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
--- response_body eval
"ok|slow " x 3
--- no_error_log
breaker opened
[error]
[alert]
[crit]
--- timeout: 5



=== TEST 2: persona_id_cookie with "-" in its name: a visitor without it gets an id
The default persona_id was "$cookie_my-id", which nginx reads as $cookie_my
followed by "-id": every visitor without a "my" cookie had the id "-id"
(one shared profile, no cookie issued), and "my=x" chose the id "x-id".
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    persona_id_cookie my-id;

    location = /t {
        persona on;
        return 200 "$persona_status|$persona_id|$persona_new|$persona_segment\n";
    }
    location = /dot {
        persona on;
        persona_id_cookie my.id;
        return 200 "$persona_status|$persona_id|$persona_new|$persona_segment\n";
    }
--- request
GET /t
--- more_headers
User-Agent: Mozilla/5.0
--- response_headers_like
Set-Cookie: ^my-id=[0-9a-f]{32}; Path=/; Max-Age=31536000; HttpOnly; SameSite=Lax$
--- response_body_like
^miss\|[0-9a-f]{32}\|1\|default$
--- no_error_log
[error]
[alert]



=== TEST 3: persona_id_cookie with "-" in its name: the cookie is read back
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    persona_id_cookie my-id;

    location = /t {
        persona on;
        return 200 "$persona_status|$persona_id|$persona_new|$persona_segment\n";
    }
    location = /dot {
        persona on;
        persona_id_cookie my.id;
        return 200 "$persona_status|$persona_id|$persona_new|$persona_segment\n";
    }
--- request
GET /t
--- more_headers
User-Agent: Mozilla/5.0
Cookie: my-id=alice
--- response_headers
!Set-Cookie
--- response_body_like
^ok\|alice\|0\|vip$
--- no_error_log
[error]
[alert]



=== TEST 4: persona_id_cookie with "-" in its name: a cookie named like its first part is not it
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    persona_id_cookie my-id;

    location = /t {
        persona on;
        return 200 "$persona_status|$persona_id|$persona_new|$persona_segment\n";
    }
    location = /dot {
        persona on;
        persona_id_cookie my.id;
        return 200 "$persona_status|$persona_id|$persona_new|$persona_segment\n";
    }
--- request
GET /t
--- more_headers
User-Agent: Mozilla/5.0
Cookie: my=alice
--- response_headers_like
Set-Cookie: ^my-id=[0-9a-f]{32}; .*
--- response_body_like
^miss\|[0-9a-f]{32}\|1\|default$
--- no_error_log
[error]
[alert]



=== TEST 5: persona_id_cookie with "." in its name: issued, and read back among other cookies
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    persona_id_cookie my-id;

    location = /t {
        persona on;
        return 200 "$persona_status|$persona_id|$persona_new|$persona_segment\n";
    }
    location = /dot {
        persona on;
        persona_id_cookie my.id;
        return 200 "$persona_status|$persona_id|$persona_new|$persona_segment\n";
    }
--- request
GET /dot
--- more_headers
User-Agent: Mozilla/5.0
Cookie: a=1; my.id=alice; my=bob
--- response_headers
!Set-Cookie
--- response_body_like
^ok\|alice\|0\|vip$
--- no_error_log
[error]
[alert]



=== TEST 6: persona_id_cookie with "." in its name: a visitor without it gets an id
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=1s;
--- config
    persona_id_cookie my-id;

    location = /t {
        persona on;
        return 200 "$persona_status|$persona_id|$persona_new|$persona_segment\n";
    }
    location = /dot {
        persona on;
        persona_id_cookie my.id;
        return 200 "$persona_status|$persona_id|$persona_new|$persona_segment\n";
    }
--- request
GET /dot
--- more_headers
User-Agent: Mozilla/5.0
--- response_headers_like
Set-Cookie: ^my\.id=[0-9a-f]{32}; .*
--- response_body_like
^miss\|[0-9a-f]{32}\|1\|default$
--- no_error_log
[error]
[alert]



=== TEST 7: worker_shutdown_timeout ends a pending lookup, and the breaker does not count it
Redis never answers (timeout 1s) and nginx is told to quit while the
lookup is pending; at worker_shutdown_timeout nginx closes the client and
marks every connection to close.  The lookup's connection used to ignore
that: the old worker lived on until the lookup's timeout and then opened
the breaker that the new workers share.
--- main_config
    worker_shutdown_timeout 200ms;
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_QUIT_PORT timeout=1s max_fails=1 fail_timeout=30s;
--- config
    location = /t {
        persona on;
        return 200 "$persona_status\n";
    }
--- request
GET /t
--- more_headers
Cookie: persona_id=alice
--- ignore_response
--- wait: 1.5
--- no_error_log
breaker opened
[alert]
[crit]
--- timeout: 3
