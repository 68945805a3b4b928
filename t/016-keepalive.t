# The keepalive pool: many requests, Redis sees one connection.  Redis's
# own counters are read before and after the block.
use Test::Nginx::Socket 'no_plan';

$ENV{TEST_NGINX_REDIS_PORT} ||= 6379;

system("redis-cli -p $ENV{TEST_NGINX_REDIS_PORT} < t/data/profiles.redis"
       . " > /dev/null") == 0
    or die "cannot load t/data/profiles.redis into Redis on port "
           . "$ENV{TEST_NGINX_REDIS_PORT}\n";

sub redis_info {
    my ($field) = @_;
    my $info = `redis-cli -p $ENV{TEST_NGINX_REDIS_PORT} INFO`;
    $info =~ /^\Q$field\E:(\d+)/m or die "no $field in redis INFO\n";
    return $1;
}

my $connections = redis_info('total_connections_received');
my $hgetall = redis_info('total_commands_processed');

no_long_string();
run_tests();

# 40 lookups: the nginx worker opened one connection (the two redis-cli
# INFO calls count one each); Redis ran one command per request.
my $new = redis_info('total_connections_received') - $connections;
ok($new <= 3, "one redis connection for 40 requests (got $new new)");

my $commands = redis_info('total_commands_processed') - $hgetall;
ok($commands <= 40 + 2, "one redis command per request (got $commands)");

__DATA__

=== TEST 1: 40 requests reuse one pooled connection
--- http_config
    persona_redis 127.0.0.1:$TEST_NGINX_REDIS_PORT pool=4 timeout=1s;
--- config
    location = /t {
        persona on;
        return 200 "$persona_segment|$persona_status\n";
    }
--- request eval
[map { "GET /t?n=$_" } 1 .. 40]
--- more_headers
Cookie: persona_id=alice
--- response_body eval
[map { "vip|ok\n" } 1 .. 40]
--- grep_error_log eval: qr/persona redis: (new connection|reusing a pooled connection)/
--- grep_error_log_out eval: qr/\A(persona redis: (new connection|reusing a pooled connection)\n)\z/
--- no_error_log
[error]
