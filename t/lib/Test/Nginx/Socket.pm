package Test::Nginx::Socket;

# Fallback for the CPAN Test::Nginx::Socket (openresty/test-nginx), used by
# scripts/run-tests.sh when the real one is not installed.  It implements
# the subset of sections, functions and environment variables our t/*.t
# files use, with the same defaults and the same number of assertions per
# section, so a .t file passes (or fails) the same way under both.
#
# Like the real module this is a Test::Base subclass: Test::Base parses the
# blocks and runs the section filters (eval, chomp, ...), and exports plan()
# and blocks().  The engine lives in Test::Nginx::Harness, a plain module:
# "use Test::Base -Base" runs Spiffy's source filter over this file, which
# rewrites every "sub name {" it sees, so no sub is defined here.

use Test::Base -Base;

use Test::Nginx::Harness ();

our $VERSION = '0.29';

our @EXPORT = qw(
    run_tests run_test repeat_each workers master_on master_off
    master_process_enabled worker_connections log_level no_long_string
    no_shuffle no_root_location config_preamble env_to_nginx
    add_block_preprocessor add_cleanup_handler check_accum_error_log
    server_name server_addr server_root html_dir server_port
    server_port_for_client timeout is_str bail_out
);

# Spiffy's import exports what @EXPORT names from this package, and the
# aliases keep the engine's prototypes, so "repeat_each 2;" parses as under
# the real module.
for my $name (@EXPORT) {
    no strict 'refs';
    *{"Test::Nginx::Socket::$name"} = \&{"Test::Nginx::Harness::$name"};
}

1;
