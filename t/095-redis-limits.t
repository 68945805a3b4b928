# Redis limits (issue 8): an unusable or oversized reply is status
# "invalid" and never opens the breaker; the reply budget counts elements,
# not bytes; "pool" caps the connections a worker opens, lookups beyond it
# wait for a free one.
use Test::Nginx::Socket 'no_plan';
use IO::Socket::INET;
use File::Temp qw(tempfile);
use POSIX ();

$ENV{TEST_NGINX_REDIS_PORT} ||= 6379;

my $cli = "redis-cli -p $ENV{TEST_NGINX_REDIS_PORT}";

system("$cli < t/data/profiles.redis > /dev/null") == 0
    or die "cannot load t/data/profiles.redis into Redis on port "
           . "$ENV{TEST_NGINX_REDIS_PORT}\n";

# a hash of 1100 fields (over the 1024 a profile may have, and over the
# reply's element budget), one of 1030 (within the budget, over the
# fields), and a JSON profile of 1.2 MB (over the 1 MiB reply cap)
sub redis_pipe {
    my ($cmd, $data) = @_;
    open my $p, '|-', "$cli -x $cmd > /dev/null" or die "redis-cli: $!\n";
    print $p $data;
    close $p or die "redis-cli $cmd failed\n";
}

system("$cli DEL persona:profile:wide persona:profile:wide2 "
       . "persona:json:big > /dev/null") == 0 or die "redis-cli DEL\n";
system("$cli HSET persona:profile:wide "
       . join(' ', map { "f$_ v$_" } 1 .. 1100) . " > /dev/null") == 0
    or die "redis-cli HSET\n";
system("$cli HSET persona:profile:wide2 "
       . join(' ', map { "f$_ v$_" } 1 .. 1030) . " > /dev/null") == 0
    or die "redis-cli HSET\n";
redis_pipe('SET persona:json:big',
           '{"segment":"gold","pad":"' . ('x' x 1200000) . '"}');

# free loopback ports for the mocks
for my $name (qw(TEST_NGINX_MOCK_PORT TEST_NGINX_POOL_PORT)) {
    next if $ENV{$name};
    my $s = IO::Socket::INET->new(Listen => 1, LocalAddr => '127.0.0.1',
                                  LocalPort => 0, ReuseAddr => 1)
        or die "no free port: $!\n";
    $ENV{$name} = $s->sockport;
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

# A slow Redis that counts the connections it accepts (in a file): every
# command gets a one-field hash after 300 ms.  One process per connection.
my (undef, $accepts) = tempfile('persona-accepts-XXXXXX', TMPDIR => 1,
                                UNLINK => 1);
my $listener = IO::Socket::INET->new(Listen => 64, LocalAddr => '127.0.0.1',
                                     LocalPort => $ENV{TEST_NGINX_POOL_PORT},
                                     ReuseAddr => 1)
    or die "cannot listen on $ENV{TEST_NGINX_POOL_PORT}: $!\n";
my $owner = $$;
my $mock = fork // die "fork: $!\n";

if ($mock == 0) {
    $SIG{CHLD} = 'IGNORE';
    my $n = 0;
    while (my $c = $listener->accept) {
        $n++;
        if (open my $f, '>', $accepts) { print $f "$n\n"; close $f }
        my $pid = fork;
        if (defined $pid && $pid == 0) {
            close $listener;
            my ($buf, $in) = ('', '');
            while (sysread($c, $in, 4096)) {
                $buf .= $in;
                my $n = take_commands(\$buf) or next;
                select(undef, undef, undef, 0.3);
                syswrite($c, "*2\r\n\$7\r\nsegment\r\n\$4\r\nslow\r\n" x $n);
            }
            POSIX::_exit(0);
        }
        close $c;
    }
    POSIX::_exit(0);
}

close $listener;

END { kill 'KILL', $mock if $mock && $$ == $owner }

sub accepted {
    open my $f, '<', $accepts or return 0;
    my $n = <$f> // 0;
    chomp $n;
    return $n || 0;
}

no_long_string();
no_shuffle();
run_tests();

my $n = accepted();
ok($n >= 1 && $n <= 2,
   "pool=2: the mock Redis accepted at most 2 connections (got $n)");

__DATA__

=== TEST 1: wide and unusable profiles are "invalid" and never open the breaker
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=2s max_fails=2 fail_timeout=30s;
--- config
    location = /t {
        persona on;
        persona_id $arg_id;
        return 200 "$persona_status|$persona_segment\n";
    }
--- request eval
["GET /t?id=wide", "GET /t?id=wide", "GET /t?id=wide", "GET /t?id=wide2",
 "GET /t?id=wide2", "GET /t?id=str", "GET /t?id=str", "GET /t?id=alice"]
--- response_body eval
["invalid|default\n", "invalid|default\n", "invalid|default\n",
 "invalid|default\n", "invalid|default\n", "invalid|default\n",
 "invalid|default\n", "ok|vip\n"]
--- no_error_log
breaker opened
[error]
[alert]



=== TEST 1b: why: a hash over the reply's element budget
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=2s;
--- config
    location = /t {
        persona on;
        return 200 "$persona_status|$persona_segment\n";
    }
--- request
GET /t
--- more_headers
Cookie: persona_id=wide
--- response_body
invalid|default
--- error_log
persona: redis reply of more than 2112 elements (an array of 2200 after 0), page served without profile
--- no_error_log
[error]
[alert]



=== TEST 1c: why: a hash within the budget but over the fields a profile may have
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=2s;
--- config
    location = /t {
        persona on;
        return 200 "$persona_status|$persona_segment\n";
    }
--- request
GET /t
--- more_headers
Cookie: persona_id=wide2
--- response_body
invalid|default
--- error_log
profile has 1030 fields, more than 1024
--- no_error_log
[error]
[alert]



=== TEST 2: JSON profiles over 1 MiB, not JSON, or of another type: "invalid", no breaker
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=2s max_fails=2 fail_timeout=30s;
--- config
    location = /t {
        persona on;
        persona_id $arg_id;
        persona_profile_format json;
        persona_profile_key persona:json:$persona_id;
        return 200 "$persona_status|$persona_segment\n";
    }
--- request eval
["GET /t?id=big", "GET /t?id=big", "GET /t?id=bad", "GET /t?id=alice",
 "GET /t?id=big", "GET /t?id=bob"]
--- response_body eval
["invalid|default\n", "invalid|default\n", "invalid|default\n",
 "invalid|default\n", "invalid|default\n", "ok|spender\n"]
--- no_error_log
breaker opened
[error]
[alert]



=== TEST 2b: why: a JSON profile over 1 MiB
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT timeout=2s;
--- config
    location = /t {
        persona on;
        persona_profile_format json;
        persona_profile_key persona:json:$persona_id;
        return 200 "$persona_status|$persona_segment\n";
    }
--- request
GET /t
--- more_headers
Cookie: persona_id=big
--- response_body
invalid|default
--- error_log
persona: redis reply larger than 1048576 bytes, page served without profile
--- no_error_log
[error]
[alert]



=== TEST 3: nested arrays of small integers: the element budget, not the byte cap, refuses them
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_MOCK_PORT timeout=2s max_fails=1 fail_timeout=30s;
--- config
    location = /t {
        persona on;
        return 200 "$persona_status|$persona_segment\n";
    }
--- tcp_listen eval: $ENV{TEST_NGINX_MOCK_PORT}
--- tcp_reply eval: "*2112\r\n" . ("*2112\r\n" . (":1\r\n" x 2112)) x 100
--- request
GET /t
--- more_headers
Cookie: persona_id=alice
--- response_body
invalid|default
--- error_log
persona: redis reply of more than 2112 elements (an array of 2112 after 2112)
--- no_error_log
breaker opened
[error]
[alert]



=== TEST 4: pool=2 caps the connections: 6 concurrent lookups share 2, all answered
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_POOL_PORT pool=2 timeout=3s;
--- config
    location = /t {
        ssi on;
        default_type text/html;
        return 200 '<!--# include virtual="/fan?1" --><!--# include virtual="/fan?2" --><!--# include virtual="/fan?3" --><!--# include virtual="/fan?4" --><!--# include virtual="/fan?5" --><!--# include virtual="/fan?6" -->';
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
"ok|slow " x 6
--- timeout: 5
--- no_error_log
[error]
[alert]



=== TEST 5: lookups waiting for a connection are answered within their own timeout
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_MOCK_PORT pool=1 timeout=300ms max_fails=0;
--- config
    location = /t {
        ssi on;
        default_type text/html;
        return 200 '<!--# include virtual="/fan?1" --><!--# include virtual="/fan?2" --><!--# include virtual="/fan?3" --><!--# include virtual="/fan?4" -->';
    }
    location = /fan {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/p;
        proxy_set_header Cookie "persona_id=alice";
    }
    location = /p {
        persona on;
        return 200 "$persona_status ";
    }
--- tcp_listen eval: $ENV{TEST_NGINX_MOCK_PORT}
--- tcp_reply_delay: 2s
--- tcp_reply eval: "*0\r\n"
--- request
GET /t
--- response_body eval
"timeout " x 4
--- error_log
persona: redis lookup timed out
--- timeout: 1.5
--- no_error_log
[alert]
[crit]
