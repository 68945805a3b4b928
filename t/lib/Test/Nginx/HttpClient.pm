package Test::Nginx::HttpClient;

# The HTTP side of the fallback harness: turns the request sections of a
# block into bytes on the wire, sends them, and splits what comes back into
# responses.  Mirrors what the real Test::Nginx::Socket does, including its
# quirks (body trimming when it adds Content-Length, the order of the added
# headers, chunked decoding), because .t files rely on them.

use strict;
use warnings;

use Errno qw(EAGAIN EWOULDBLOCK EINTR);
use IO::Select ();
use IO::Socket::INET ();
use Time::HiRes qw(sleep);

our $Sleep = $ENV{TEST_NGINX_SLEEP} || 0.015;

my $connect_failures = 0;


# Returns a list of requests; each is a list of pieces written one after
# another on one connection (raw_request arrays keep their split points).
sub requests_of_block {
    my ($block, $server_name, $bail) = @_;
    my $name = $block->name;

    my $raw = $block->raw_request;
    if (defined $raw) {
        return ref $raw eq 'ARRAY' ? [@$raw] : [$raw];
    }

    my $request = $block->request;
    if (defined $request && !ref $request) {
        # leading blank lines and "# comment" lines are not part of it
        1 while $request =~ s/^\s*\#[^\n]+\s+|^\s+//gs;
    }

    my $more = $block->more_headers;
    $more = '' unless defined $more;

    my $headers_for = sub {
        my ($i) = @_;
        return $more unless ref $more eq 'ARRAY';
        my $h = $more->[$i];
        $bail->("$name - --- more_headers lacks data for request $i")
            unless defined $h;
        return $h;
    };

    my $pipelined = $block->pipelined_requests;
    if ($pipelined) {
        $bail->("$name - invalid entries in --- pipelined_requests")
            unless ref $pipelined eq 'ARRAY';
        my $all = '';
        for my $i (0 .. $#$pipelined) {
            my $conn = $i == $#$pipelined ? 'close' : 'keep-alive';
            $all .= build_request($name, $headers_for->($i), $conn,
                                  $pipelined->[$i], $server_name, $bail);
        }
        return [$all];
    }

    if (!ref $request) {
        return [build_request($name, $headers_for->(0), 'close', $request,
                              $server_name, $bail)];
    }

    $bail->("$name - --- request must be a string or an array of requests")
        unless ref $request eq 'ARRAY';

    my @list;
    for my $i (0 .. $#$request) {
        my $one = $request->[$i];
        if (ref $one eq 'ARRAY') {
            # A request given as packets: sent as one piece (the fallback
            # does not reproduce per-packet timing).
            $one = join '', map { ref $_ ? $_->{value} : $_ } @$one;
        }
        push @list, [build_request($name, $headers_for->($i), 'close', $one,
                                   $server_name, $bail)];
    }
    return @list;
}


sub build_request {
    my ($name, $more, $conn, $req, $server_name, $bail) = @_;

    $bail->("$name - Request line should be non-empty")
        unless defined $req && length $req;

    my ($line, $body) = split /\n/, $req, 2;
    $body = '' unless defined $body;

    my ($meth, $url, $ver) =
        $line =~ /^\s*(\S+)(?:\s+(\S+))?(?:\s+(\S+))?\s*$/
        or $bail->("$name - Request line is not valid: \"$line\"");
    $url = '/' unless defined $url;
    $ver = 'HTTP/1.1' unless defined $ver;

    my ($hdrs, $chunked) = more_headers($more);

    my $len = '';
    if (!$chunked && $body ne '' && $hdrs !~ /(?:^|\n)Content-Length:/) {
        # the real harness trims the body when it computes the length
        $body =~ s/^\s+|\s+$//gs;
        $len = 'Content-Length: ' . length($body) . "\r\n";
    }

    my $head = '';
    $head .= "Host: $server_name\r\n" if $hdrs !~ /(?:^|\n)Host:/msi;
    $head .= "Connection: $conn\r\n" if $hdrs !~ /(?:^|\n)Connection/msi;

    return "$meth $url $ver\r\n$head$hdrs$len\r\n$body";
}


sub more_headers {
    my ($text) = @_;
    my ($out, $chunked) = ('', 0);

    for my $line (split /\n+/, $text) {
        next if $line =~ /^\s*\#/;
        my ($key, $val) = split /:\s*/, $line, 2;
        $val = '' unless defined $val;
        $chunked = 1 if lc $key eq 'transfer-encoding' && $val eq 'chunked';
        $out .= "$key: $val\r\n";
    }
    return ($out, $chunked);
}


# Sends one request (a list of pieces) and reads until the server closes
# the connection.  Returns the raw bytes and whether we gave up waiting.
# $timeout bounds each wait for the socket, not the whole exchange, as in
# the real harness.
sub send_request {
    my (%a) = @_;
    my ($name, $pieces, $timeout) = @a{qw(name pieces timeout)};

    my $sock = connect_with_retries(%a);
    return ('', 0, 'connect') unless $sock;

    $sock->blocking(0);
    local $SIG{PIPE} = 'IGNORE';

    my @todo = @$pieces;
    my ($buf, $off) = (shift(@todo), 0);
    my $resp = '';
    my $sel = IO::Select->new($sock);

    while (1) {
        my ($r, $w) = IO::Select->select($sel, defined $buf ? $sel : undef,
                                         undef, $timeout);
        if (!$r && !$w) {
            close $sock;
            return ($resp, 1);
        }

        if ($w && @$w && defined $buf) {
            my $n = syswrite $sock, $buf, length($buf) - $off, $off;
            if (defined $n) {
                $off += $n;
            } elsif ($! != EAGAIN && $! != EWOULDBLOCK && $! != EINTR) {
                # the server may answer and close before reading it all
                undef $buf;
                @todo = ();
            }

            if (defined $buf && $off >= length $buf) {
                ($buf, $off) = (shift(@todo), 0);
                if (defined $buf && $a{middle_delay}) {
                    sleep $a{middle_delay};
                } elsif (!defined $buf && defined $a{shutdown}) {
                    shutdown $sock, $a{shutdown} =~ /^\d+$/ ? $a{shutdown} : 1;
                }
            }
        }

        if ($r && @$r) {
            my $n = sysread $sock, my $chunk, 65536;
            if (!defined $n) {
                next if $! == EAGAIN || $! == EWOULDBLOCK || $! == EINTR;
                warn "WARNING: $name - HTTP response read failure: $!\n";
                last;
            }
            last if $n == 0;
            $resp .= $chunk;
        }
    }

    close $sock;
    return ($resp, 0);
}


# nginx may still be starting (slowly, under valgrind): retry like the real
# harness, with growing waits, before failing.
sub connect_with_retries {
    my (%a) = @_;
    my $tries = $connect_failures ? 20 : 50;

    for my $try (1 .. $tries) {
        my $sock = IO::Socket::INET->new(
            PeerAddr => $a{addr},
            PeerPort => $a{port},
            Proto    => 'tcp',
            Timeout  => $a{timeout},
        );
        return $sock if $sock;

        my $err = $!;
        if ($a{is_gone} && $a{is_gone}->()) {
            $a{fail}->("$a{name} - Can't connect to $a{addr}:$a{port}: "
                       . "$err (nginx is gone)");
            return undef;
        }

        my $wait = ($Sleep + $Sleep * $try) * $try / 2;
        $wait = 1 if $wait > 1;
        warn "$a{name} - Can't connect to $a{addr}:$a{port}: $err\n"
            . "\tRetry connecting after $wait sec\n" if $wait >= 0.6;
        sleep $wait;
    }

    my $msg = "$a{name} - Can't connect to $a{addr}:$a{port}: $! (aborted)";
    if (++$connect_failures >= 3) {
        $a{bail}->($msg);
    }
    $a{fail}->($msg);
    return undef;
}


# Splits raw bytes into one response.  Returns (response, raw header text,
# bytes left over after this response) where response is a hash with
# code, headers (list of [name, value]) and body; undef when chunked data is
# broken (after reporting a failure through $fail).
sub parse_response {
    my ($name, $raw, $head_req, $fail) = @_;

    my $raw_headers = $raw =~ /(.*?\r\n)\r\n/s ? $1 : '';

    my ($status, $rest) = $raw =~ /^(.*?)\n(.*)\z/s ? ($1, $2) : ($raw, '');
    $status =~ s/\r\z//;

    my @headers;
    while (length $rest) {
        if ($rest =~ s/^\r?\n//) {
            last;
        }
        if ($rest =~ s/^([^\s:]+)[ \t]*:[ \t]?([^\n]*?)\r?(?:\n|\z)//) {
            push @headers, [$1, $2];
        } elsif (@headers && $rest =~ s/^[ \t]+([^\n]*?)\r?(?:\n|\z)//) {
            $headers[-1][1] .= " $1";
        } else {
            last;
        }
    }

    my ($code) = $status =~ /^\d{3} / ? ($status =~ /^(\S+)/)
                                      : ($status =~ /^\S+\s+(\S+)/);
    undef $code if defined $code && $code !~ /^\d+$/;

    my $res = { code => $code, headers => \@headers, body => $rest };
    return ($res, $raw_headers) if $code && ($code == 304 || $code == 101);

    my $left;
    my $enc = header($res, 'Transfer-Encoding');
    my $len = header($res, 'Content-Length');

    if (defined $enc && $enc eq 'chunked') {
        my ($body, $decoded) = ($rest, '');
        while (1) {
            if ($body =~ /\G0[ \t]*\r\n\r\n/gc) {
                $left = $1 if $body =~ /\G(.+)/gcs;
                last;
            }
            if ($body =~ /\G[ \t]*([A-Fa-f0-9]+)[ \t]*\r\n/gc) {
                my $size = hex $1;
                if ($body !~ /\G(.{$size})/gcs) {
                    $fail->("$name - invalid chunked data received "
                            . "(not enough octets for the data section)");
                    return;
                }
                $decoded .= $1;
                if ($body !~ /\G\r\n/gc) {
                    $fail->("$name - invalid chunked data received "
                            . "(expected CRLF).");
                    return;
                }
            } elsif ($body =~ /\G(.+)/gcs) {
                $fail->("$name - invalid chunked body received: $1");
                return;
            } else {
                $fail->("$name - no last chunk found - $body");
                return;
            }
        }
        $res->{body} = $decoded;

    } elsif (defined $len && $len =~ /^\d+$/) {
        if (length $rest < $len) {
            warn "WARNING: $name - response body truncated: $len expected, "
                 . "but got " . length($rest) . "\n" unless $head_req;
        } elsif (length $rest > $len) {
            $left = substr $rest, $len;
            $res->{body} = substr $rest, 0, $len;
        }
    }

    return ($res, $raw_headers, $left);
}


# Header lookup as HTTP::Headers does it: case-insensitive, repeated
# headers joined with ", ".
sub header {
    my ($res, $key) = @_;
    return undef unless $res;
    my @v = map { $_->[1] } grep { lc $_->[0] eq lc $key } @{$res->{headers}};
    return @v ? join(', ', @v) : undef;
}

1;
