/*
 * Prometheus text format helpers: label values escaped as the format
 * wants (and never half an escape when room runs out), histogram buckets
 * with "le" meaning less than or equal.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "persona_prom.h"


static void
check_escape(const char *in, size_t len, const char *want)
{
    char    out[64];
    size_t  n;

    n = persona_prom_escape(out, sizeof(out), in, len);
    assert_int_equal(n, strlen(want));
    assert_memory_equal(out, want, n);
}


static void
test_escape(void **state)
{
    check_escape("vip", 3, "vip");
    check_escape("", 0, "");
    check_escape("a\\b", 3, "a\\\\b");
    check_escape("say \"hi\"", 8, "say \\\"hi\\\"");
    check_escape("two\nlines", 9, "two\\nlines");
    check_escape("\\\"\n", 3, "\\\\\\\"\\n");
    /* other bytes, control ones and UTF-8 included, as they are */
    check_escape("tab\there\r", 9, "tab\there\r");
    check_escape("caf\xc3\xa9", 5, "caf\xc3\xa9");
}


static void
test_escape_nul(void **state)
{
    char    out[16];
    size_t  n;

    n = persona_prom_escape(out, sizeof(out), "nul\0byte", 8);
    assert_int_equal(n, 8);
    assert_memory_equal(out, "nul\0byte", 8);
}


static void
test_escape_room(void **state)
{
    char    out[8];
    size_t  n;

    /* every escape is whole or absent */
    memset(out, 'x', sizeof(out));
    n = persona_prom_escape(out, 3, "ab\"c", 4);
    assert_int_equal(n, 2);
    assert_memory_equal(out, "ab", 2);
    assert_int_equal(out[2], 'x');

    n = persona_prom_escape(out, 4, "ab\"c", 4);
    assert_int_equal(n, 4);
    assert_memory_equal(out, "ab\\\"", 4);

    n = persona_prom_escape(out, 0, "abc", 3);
    assert_int_equal(n, 0);

    /* twice the length always does */
    n = persona_prom_escape(out, 8, "\n\n\n\n", 4);
    assert_int_equal(n, 8);
    assert_memory_equal(out, "\\n\\n\\n\\n", 8);
}


static void
test_bucket(void **state)
{
    static const uint64_t  bounds[] = {
        500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000
    };

    size_t  n = sizeof(bounds) / sizeof(bounds[0]);

    assert_int_equal(persona_prom_bucket(bounds, n, 0), 0);
    assert_int_equal(persona_prom_bucket(bounds, n, 500), 0);
    assert_int_equal(persona_prom_bucket(bounds, n, 501), 1);
    assert_int_equal(persona_prom_bucket(bounds, n, 1000), 1);
    assert_int_equal(persona_prom_bucket(bounds, n, 2499), 2);
    assert_int_equal(persona_prom_bucket(bounds, n, 250000), 8);
    assert_int_equal(persona_prom_bucket(bounds, n, 250001), 9);
    assert_int_equal(persona_prom_bucket(bounds, n, UINT64_MAX), 9);
    assert_int_equal(persona_prom_bucket(bounds, 0, 1), 0);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_escape),
        cmocka_unit_test(test_escape_nul),
        cmocka_unit_test(test_escape_room),
        cmocka_unit_test(test_bucket),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
