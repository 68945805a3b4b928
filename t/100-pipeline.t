# Pipelining (issue 10): lookups queued on one connection leave together
# and their replies are matched first in, first out, however the bytes
# are split; a lookup that times out stays queued as a tombstone (its
# reply is dropped, the connection lives on); a Redis that answers half
# the queue and closes fails the rest, nothing else.  Mock Redis servers
# (forked Perl, one process per connection) play each part.
use Test::Nginx::Socket 'no_plan';
use IO::Socket::INET;
use IO::Select;
use Socket qw(IPPROTO_TCP TCP_NODELAY);
use File::Temp qw(tempfile);
use Time::HiRes ();
use POSIX ();

my $owner = $$;
my @mocks;

END { kill 'KILL', @mocks if $$ == $owner && @mocks }

# The complete commands (RESP arrays of bulk strings) at the start of
# $$buf, taken out of it, each as [argv].
sub take_commands {
    my ($buf) = @_;
    my @cmds;
    while ($$buf =~ /\A\*(\d+)\r\n/) {
        my ($argc, $pos) = ($1, length $&);
        my @argv;
        for (1 .. $argc) {
            substr($$buf, $pos) =~ /\A\$(\d+)\r\n/ or return @cmds;
            my $len = $1;
            $pos += length $&;
            return @cmds if $pos + $len + 2 > length $$buf;
            push @argv, substr($$buf, $pos, $len);
            $pos += $len + 2;
        }
        substr($$buf, 0, $pos, '');
        push @cmds, \@argv;
    }
    return @cmds;
}

# reads until $want commands came, or $wait seconds passed, or EOF
sub read_commands {
    my ($c, $buf, $want, $wait) = @_;
    my @cmds;
    my $until = Time::HiRes::time() + $wait;
    my $sel = IO::Select->new($c);
    while (@cmds < $want) {
        my $left = $until - Time::HiRes::time();
        last if $left <= 0;
        $sel->can_read($left) or last;
        sysread($c, my $in, 65536) or last;
        $$buf .= $in;
        push @cmds, take_commands($buf);
    }
    return @cmds;
}

# a one-field hash whose segment is the last part of the command's key
# (+OK to AUTH and SELECT, which must come first, in this order)
my $setup_seen = '';
sub profile_for {
    my ($cmd) = @_;
    if ($cmd->[0] =~ /\A(?:AUTH|SELECT)\z/) {
        $setup_seen .= "$cmd->[0] ";
        return "+OK\r\n";
    }
    return "-ERR setup out of order\r\n"
        if $setup_seen ne '' && $setup_seen ne 'AUTH SELECT ';
    my ($id) = ($cmd->[1] // '') =~ /([^:]*)\z/;
    return "*2\r\n\$7\r\nsegment\r\n\$" . length($id) . "\r\n$id\r\n";
}

# A mock Redis on a free loopback port ($ENV{$name}): every connection
# is served by $serve->($socket, $nth) in a process of its own.  Returns the
# file that holds the number of connections accepted.
sub mock_redis {
    my ($name, $serve) = @_;
    my $listener = IO::Socket::INET->new(Listen => 64,
                                         LocalAddr => '127.0.0.1',
                                         LocalPort => 0, ReuseAddr => 1)
        or die "cannot listen: $!\n";
    $ENV{$name} = $listener->sockport;
    my (undef, $accepts) = tempfile('persona-accepts-XXXXXX', TMPDIR => 1,
                                    UNLINK => 1);
    my $pid = fork // die "fork: $!\n";
    if ($pid == 0) {
        $SIG{CHLD} = 'IGNORE';
        local $SIG{PIPE} = 'IGNORE';
        my $n = 0;
        while (my $c = $listener->accept) {
            $n++;
            if (open my $f, '>', $accepts) { print $f "$n\n"; close $f }
            my $child = fork;
            if (defined $child && $child == 0) {
                close $listener;
                $serve->($c, $n);
                POSIX::_exit(0);
            }
            close $c;
        }
        POSIX::_exit(0);
    }
    close $listener;
    push @mocks, $pid;
    return $accepts;
}

sub accepted {
    my ($file) = @_;
    open my $f, '<', $file or return 0;
    my $n = <$f> // 0;
    chomp $n;
    return $n || 0;
}

# waits for 3 commands, then sends the replies 5 bytes at a time: most
# pieces straddle two replies
my $serve_split = sub {
    my ($c) = @_;
    setsockopt($c, IPPROTO_TCP, TCP_NODELAY, 1);
    my $buf = '';
    while (my @cmds = read_commands($c, \$buf, 3, 2)) {
        my $out = join '', map { profile_for($_) } @cmds;
        for (my $i = 0; $i < length $out; $i += 5) {
            syswrite($c, substr($out, $i, 5)) or return;
            Time::HiRes::sleep(0.01);
        }
    }
};
my $split = mock_redis('TEST_NGINX_SPLIT_PORT', $serve_split);
my $split_setup = mock_redis('TEST_NGINX_SETUP_PORT', $serve_split);

# answers the first command after 700 ms, every later one at once
my $stall = mock_redis('TEST_NGINX_STALL_PORT', sub {
    my ($c) = @_;
    my ($buf, $first) = ('', 1);
    while (my @cmds = read_commands($c, \$buf, 1, 30)) {
        for my $cmd (@cmds) {
            Time::HiRes::sleep(0.7) if $first;
            $first = 0;
            syswrite($c, profile_for($cmd)) or return;
        }
    }
});

# waits for 4 commands, answers the first 2 and closes
my $half = mock_redis('TEST_NGINX_HALF_PORT', sub {
    my ($c) = @_;
    my $buf = '';
    my @cmds = read_commands($c, \$buf, 4, 2);
    my $answered = int(@cmds / 2);
    syswrite($c, join '', map { profile_for($_) } @cmds[0 .. $answered - 1])
        if $answered;
    close $c;
});

# the first connection: waits for 3 commands, answers the first with an
# array far over our element budget (nginx must close it); the next
# connections answer every command
my $refuse = mock_redis('TEST_NGINX_REFUSE_PORT', sub {
    my ($c, $nth) = @_;
    my $buf = '';
    if ($nth == 1) {
        read_commands($c, \$buf, 3, 2);
        syswrite($c, "*1500000000\r\n");
        read_commands($c, \$buf, 1000, 3);
        return;
    }
    while (my @cmds = read_commands($c, \$buf, 1, 30)) {
        syswrite($c, join '', map { profile_for($_) } @cmds) or return;
    }
});

no_long_string();
no_shuffle();
run_tests();

is(accepted($split), 1, "the split replies came on one connection");
is(accepted($split_setup), 1, "with AUTH and SELECT too");
is(accepted($stall), 1, "the connection survived the timed-out lookup");
is(accepted($refuse), 2, "a reply over our limits: the others retried on "
                         . "a new connection");

__DATA__

=== TEST 1: three lookups on one connection, replies split across reads at odd places: each request gets its own
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_SPLIT_PORT timeout=3s;
--- config
    location = /t {
        ssi on;
        default_type text/html;
        return 200 '<!--# include virtual="/fan?1" --><!--# include virtual="/fan?2" --><!--# include virtual="/fan?3" -->';
    }
    location = /fan {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/p;
        proxy_set_header Cookie "persona_id=p$args";
    }
    location = /p {
        persona on;
        return 200 "$persona_status|$persona_segment ";
    }
--- request
GET /t
--- response_body eval
"ok|p1 ok|p2 ok|p3 "
--- timeout: 5
--- no_error_log
[error]
[alert]
[crit]



=== TEST 2: a lookup times out in the middle of the queue; its reply is dropped when it comes, later lookups on the connection are answered
The first command is answered after 700 ms (timeout 500 ms): the second
request's command is queued behind the timed-out one on the same
connection (pool=1) and answered right after it ("ok|b", not the
late "a": the tombstone took that reply).  The error log is checked per
request: the first opens the connection and times out, the others reuse
it.
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_STALL_PORT pool=1 timeout=500ms max_fails=0;
--- config
    location = /t {
        persona on;
        persona_id $arg_id;
        return 200 "$persona_status|$persona_segment\n";
    }
--- request eval
["GET /t?id=a", "GET /t?id=b", "GET /t?id=c"]
--- response_body eval
["timeout|default\n", "ok|b\n", "ok|c\n"]
--- grep_error_log eval: qr/persona redis: (new connection|reusing a pooled connection|reply to a dropped lookup)|redis lookup timed out/
--- grep_error_log_out eval
qr/\A(?:persona redis: new connection\nredis lookup timed out\n|persona redis: reusing a pooled connection\n(?:persona redis: reply to a dropped lookup\n)?)\z/
--- no_error_log
did not answer
[alert]
[crit]



=== TEST 3: Redis answers half the queue and closes: those lookups are ok, the others error, the page is served
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_HALF_PORT timeout=3s;
--- config
    location = /t {
        ssi on;
        default_type text/html;
        return 200 '<!--# include virtual="/fan?1" --><!--# include virtual="/fan?2" --><!--# include virtual="/fan?3" --><!--# include virtual="/fan?4" -->';
    }
    location = /fan {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/p;
        proxy_set_header Cookie "persona_id=p$args";
    }
    location = /p {
        persona on;
        return 200 "$persona_status|$persona_segment ";
    }
--- request
GET /t
--- response_body_like eval
qr/\A(?=(?:.*?ok\|p\d ){2})(?=(?:.*?error\|default ){2})(?:ok\|p1|error\|default) (?:ok\|p2|error\|default) (?:ok\|p3|error\|default) (?:ok\|p4|error\|default) \z/
--- error_log
persona: redis closed the connection
--- timeout: 5
--- no_error_log
[alert]
[crit]



=== TEST 4: a reply over our limits in the middle of a queue: that lookup is invalid, the ones behind it retry on a new connection
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REFUSE_PORT timeout=3s max_fails=1;
--- config
    location = /t {
        ssi on;
        default_type text/html;
        return 200 '<!--# include virtual="/fan?1" --><!--# include virtual="/fan?2" --><!--# include virtual="/fan?3" -->';
    }
    location = /fan {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/p;
        proxy_set_header Cookie "persona_id=p$args";
    }
    location = /p {
        persona on;
        return 200 "$persona_status|$persona_segment ";
    }
--- request
GET /t
--- response_body_like eval
qr/\A(?=(?:.*?ok\|p\d ){2})(?:ok\|p1|invalid\|default) (?:ok\|p2|invalid\|default) (?:ok\|p3|invalid\|default) \z/
--- error_log
persona: redis reply of more than 2112 elements (an array of 1500000000 after 0)
persona redis: connection failed, retrying a lookup
--- timeout: 5
--- no_error_log
breaker opened
[error]
[alert]
[crit]



=== TEST 5: AUTH and SELECT first on the new connection, their replies read before the lookups' (split too)
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_SETUP_PORT password=s3cret db=3 timeout=3s;
--- config
    location = /t {
        ssi on;
        default_type text/html;
        return 200 '<!--# include virtual="/fan?1" --><!--# include virtual="/fan?2" --><!--# include virtual="/fan?3" -->';
    }
    location = /fan {
        proxy_pass http://127.0.0.1:$TEST_NGINX_SERVER_PORT/p;
        proxy_set_header Cookie "persona_id=p$args";
    }
    location = /p {
        persona on;
        return 200 "$persona_status|$persona_segment ";
    }
--- request
GET /t
--- response_body eval
"ok|p1 ok|p2 ok|p3 "
--- timeout: 5
--- no_error_log
[error]
[alert]
[crit]
