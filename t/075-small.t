# Smaller guarantees: $persona_profile_NAME is capped at 4 KiB, never cut
# inside a UTF-8 sequence, so a wide profile field cannot make a header
# an upstream refuses.
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_REDIS_PORT} ||= 6379;

# wide fields, sent through redis-cli -x (the last argument from stdin)
sub redis_set {
    my ($cmd, $key, $field, $value) = @_;
    my @args = ('redis-cli', '-p', $ENV{TEST_NGINX_REDIS_PORT}, '-x', $cmd,
                $key, defined $field ? ($field) : ());
    open(my $fh, '|-', @args) or die "cannot run redis-cli: $!\n";
    print $fh $value;
    close($fh) or die "redis-cli @args[4 .. $#args] failed\n";
}

system("redis-cli -p $ENV{TEST_NGINX_REDIS_PORT} DEL persona:profile:wide"
       . " persona:json:wide > /dev/null") == 0
    or die "cannot reach Redis on port $ENV{TEST_NGINX_REDIS_PORT}\n";

# 200 KB of ASCII; 4095 bytes then 2-byte characters; 4094 then a 4-byte
# one; control bytes first (removed before the cap)
redis_set('HSET', 'persona:profile:wide', 'bio', 'a' x 200_000);
redis_set('HSET', 'persona:profile:wide', 'two',
          'b' x 4095 . "\xc3\xa9" x 100);
redis_set('HSET', 'persona:profile:wide', 'even',
          'c' x 4094 . "\xc3\xa9" x 100);
redis_set('HSET', 'persona:profile:wide', 'four',
          'd' x 4094 . "\xf0\x9f\x98\x80" x 100);
redis_set('HSET', 'persona:profile:wide', 'ctl',
          "\x01\r\n" x 1000 . 'e' x 5000);
redis_set('HSET', 'persona:profile:wide', 'short', "f\r\nX-Evil: 1");
redis_set('SET', 'persona:json:wide', undef,
          '{"bio":"' . 'g' x 100_000 . '"}');

add_block_preprocessor(sub {
    my $block = shift;

    if (!defined $block->http_config) {
        $block->set_value("http_config",
            "    persona_redis 127.0.0.1:\$TEST_NGINX_REDIS_PORT timeout=2s;\n");
    }

    if (!defined $block->request) {
        $block->set_value("request", "GET /t\n");
    }

    if (!defined $block->more_headers) {
        $block->set_value("more_headers", "Cookie: persona_id=wide\n");
    }

    if (!defined $block->no_error_log) {
        $block->set_value("no_error_log", "[error]\n[alert]\n[emerg]\n");
    }
});

no_long_string();
no_shuffle();
run_tests();

__DATA__

=== TEST 1: a 200 KB field is cut to 4 KiB
--- config
    location = /t {
        persona on;
        return 200 "$persona_status|$persona_profile_bio|\n";
    }
--- response_body eval
"ok|" . "a" x 4096 . "|\n"



=== TEST 2: the cut never splits a 2-byte character
--- config
    location = /t {
        persona on;
        return 200 "$persona_profile_two|\n$persona_profile_even|\n";
    }
--- response_body eval
"b" x 4095 . "|\n" . "c" x 4094 . "\xc3\xa9|\n"



=== TEST 3: the cut never splits a 4-byte character
--- config
    location = /t {
        persona on;
        return 200 "$persona_profile_four|\n";
    }
--- response_body eval
"d" x 4094 . "|\n"



=== TEST 4: control bytes are removed first, then the value is capped
--- config
    location = /t {
        persona on;
        return 200 "$persona_profile_ctl|$persona_profile_short|\n";
    }
--- response_body eval
"e" x 4096 . "|fX-Evil: 1|\n"



=== TEST 5: a JSON profile's wide field too
--- config
    location = /t {
        persona on;
        persona_profile_key persona:json:$persona_id;
        persona_profile_format json;
        return 200 "$persona_status|$persona_profile_bio|\n";
    }
--- response_body eval
"ok|" . "g" x 4096 . "|\n"



=== TEST 6: a wide field sent upstream by proxy_set_header is accepted
--- config
    location = /t {
        persona on;
        proxy_set_header X-Bio $persona_profile_bio;
        proxy_pass http://127.0.0.1:$server_port/app;
    }
    location = /app {
        return 200 "$http_x_bio|\n";
    }
--- response_body eval
"a" x 4096 . "|\n"
