/*
 * Unit tests: GeoIP field table and value formatting (src/persona_geo.c).
 * The lookups themselves run against generated databases in t/040-geo.t.
 */

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "persona_geo.h"


typedef struct {
    const char  *name;
    unsigned     id;
    unsigned     type;
    const char  *path[4];
} test_field_t;


static const test_field_t  test_fields[] = {
    { "country", PERSONA_GEO_COUNTRY, PERSONA_GEO_TEXT,
      { "country", "iso_code", NULL } },
    { "continent", PERSONA_GEO_CONTINENT, PERSONA_GEO_TEXT,
      { "continent", "code", NULL } },
    { "city", PERSONA_GEO_CITY, PERSONA_GEO_TEXT,
      { "city", "names", "en", NULL } },
    { "subdivision", PERSONA_GEO_SUBDIVISION, PERSONA_GEO_TEXT,
      { "subdivisions", "0", "iso_code", NULL } },
    { "latitude", PERSONA_GEO_LATITUDE, PERSONA_GEO_COORD,
      { "location", "latitude", NULL } },
    { "longitude", PERSONA_GEO_LONGITUDE, PERSONA_GEO_COORD,
      { "location", "longitude", NULL } },
    { "time_zone", PERSONA_GEO_TIME_ZONE, PERSONA_GEO_TEXT,
      { "location", "time_zone", NULL } },
};


static void
test_field_table(void **state)
{
    size_t                      i, k;
    const test_field_t         *t;
    const persona_geo_field_t  *f;

    assert_int_equal(PERSONA_GEO_NFIELDS,
                     sizeof(test_fields) / sizeof(test_fields[0]));

    for (i = 0; i < PERSONA_GEO_NFIELDS; i++) {
        t = &test_fields[i];

        f = persona_geo_field(t->name, strlen(t->name));
        assert_non_null(f);
        assert_int_equal(f->id, t->id);
        assert_int_equal(f->type, t->type);
        assert_int_equal(f->in_location,
                         strcmp(t->path[0], "location") == 0);
        assert_int_equal(f->name.len, strlen(t->name));
        assert_memory_equal(f->name.data, t->name, f->name.len);
        assert_ptr_equal(persona_geo_field_by_id(t->id), f);

        for (k = 0; t->path[k]; k++) {
            assert_non_null(f->path[k]);
            assert_string_equal(f->path[k], t->path[k]);
        }

        assert_null(f->path[k]);
    }

    assert_null(persona_geo_field_by_id(PERSONA_GEO_NFIELDS));
    assert_null(persona_geo_field_by_id((unsigned) -1));
}


static void
test_unknown_names(void **state)
{
    static const char  *bad[] = {
        "", "countr", "countryx", "Country", "COUNTRY", "time-zone",
        "timezone", "region", "city.names.en", NULL
    };

    size_t  i;

    for (i = 0; bad[i]; i++) {
        assert_null(persona_geo_field(bad[i], strlen(bad[i])));
    }

    /* the length counts, not a NUL */
    assert_null(persona_geo_field("country\0", 8));
    assert_non_null(persona_geo_field("countryside", 7));
}


static void *
test_chunk_alloc(void *data, size_t size)
{
    void  **chunks = data;
    size_t  i;

    for (i = 0; i < 64; i++) {
        if (chunks[i] == NULL) {
            chunks[i] = malloc(size);
            return chunks[i];
        }
    }

    return NULL;
}


/* the rules resolve "geo.NAME" to the same ids */
static void
test_same_ids_as_rules(void **state)
{
    char                   name[32];
    void                  *chunks[64];
    size_t                 i, len;
    persona_error_t        err;
    persona_alloc_t        a;
    persona_attrs_t        attrs;
    const persona_attr_t  *attr;

    memset(chunks, 0, sizeof(chunks));
    a.alloc = test_chunk_alloc;
    a.data = chunks;

    persona_attrs_init(&attrs, &a);

    for (i = 0; i < PERSONA_GEO_NFIELDS; i++) {
        len = (size_t) snprintf(name, sizeof(name), "geo.%s",
                                test_fields[i].name);

        attr = persona_attr_resolve(&attrs, name, len, &err);
        assert_non_null(attr);
        assert_int_equal(attr->ns, PERSONA_ATTR_GEO);
        assert_int_equal(attr->field, test_fields[i].id);
        assert_ptr_equal(persona_geo_field(attr->name.data, attr->name.len),
                         persona_geo_field_by_id(attr->field));
    }

    for (i = 0; i < 64; i++) {
        free(chunks[i]);
    }
}


static void
test_format_coord(void **state)
{
    static const struct {
        double       v;
        const char  *want;
    } cases[] = {
        { 22.5431, "22.5431" },
        { 114.0579, "114.0579" },
        { -23.5475, "-23.5475" },
        { -46.6361, "-46.6361" },
        { 51.5, "51.5000" },
        { 0.0, "0.0000" },
        { -0.0, "0.0000" },
        { -0.00004, "0.0000" },
        { -0.00005, "-0.0001" },
        { 0.00005, "0.0001" },
        { 35.68949999, "35.6895" },
        { 90.0, "90.0000" },
        { -90.0, "-90.0000" },
        { 180.0, "180.0000" },
        { -180.0, "-180.0000" },
    };

    char    buf[PERSONA_GEO_COORD_LEN];
    size_t  i, n;

    for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        memset(buf, 'x', sizeof(buf));
        n = persona_geo_format_coord(cases[i].v, buf, sizeof(buf));
        assert_string_equal(buf, cases[i].want);
        assert_int_equal(n, strlen(cases[i].want));
    }
}


static void
test_format_coord_rejects(void **state)
{
    static const double  bad[] = { 180.00001, -180.5, 1e300, -1e300 };

    char    buf[PERSONA_GEO_COORD_LEN];
    size_t  i;

    for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(buf, 'x', sizeof(buf));
        assert_int_equal(persona_geo_format_coord(bad[i], buf, sizeof(buf)),
                         0);
        assert_string_equal(buf, "");
    }

    /* NaN and infinities */
    assert_int_equal(persona_geo_format_coord(strtod("nan", NULL), buf,
                                              sizeof(buf)), 0);
    assert_string_equal(buf, "");
    assert_int_equal(persona_geo_format_coord(strtod("inf", NULL), buf,
                                              sizeof(buf)), 0);
    assert_int_equal(persona_geo_format_coord(strtod("-inf", NULL), buf,
                                              sizeof(buf)), 0);

    /* too small a buffer: nothing, not a cut number */
    memset(buf, 'x', sizeof(buf));
    assert_int_equal(persona_geo_format_coord(-180.0, buf, 9), 0);
    assert_string_equal(buf, "");
    assert_int_equal(persona_geo_format_coord(-180.0, buf, 10), 9);
    assert_string_equal(buf, "-180.0000");
    assert_int_equal(persona_geo_format_coord(1.0, buf, 0), 0);
}


static void
test_copy_text(void **state)
{
    char    dst[64];
    size_t  n;

    n = persona_geo_copy_text(dst, "Shenzhen", 8);
    assert_int_equal(n, 8);
    assert_memory_equal(dst, "Shenzhen", 8);

    /* UTF-8 is kept as it is */
    n = persona_geo_copy_text(dst, "S\xc3\xa3o Paulo", 10);
    assert_int_equal(n, 10);
    assert_memory_equal(dst, "S\xc3\xa3o Paulo", 10);

    /* control bytes go, NUL included; the length counts, not a NUL */
    n = persona_geo_copy_text(dst, "a\r\nb\0c\x7f\x1f" "d\te", 11);
    assert_int_equal(n, 5);
    assert_memory_equal(dst, "abcde", 5);

    n = persona_geo_copy_text(dst, "\r\n", 2);
    assert_int_equal(n, 0);

    n = persona_geo_copy_text(dst, "", 0);
    assert_int_equal(n, 0);
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_field_table),
        cmocka_unit_test(test_unknown_names),
        cmocka_unit_test(test_same_ids_as_rules),
        cmocka_unit_test(test_format_coord),
        cmocka_unit_test(test_format_coord_rejects),
        cmocka_unit_test(test_copy_text),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
