/*
 * libFuzzer target: the pure parts of the GeoIP fields (src/persona_geo.c);
 * the MaxMind DB lookups themselves are libmaxminddb's, in the glue.
 *
 * Input: byte 0 is a buffer size for the coordinate, bytes 1-8 a double
 * (any bit pattern: NaN, infinities, subnormals); the whole input is a
 * field name and a text value.
 *
 * Checks, trapping on failure:
 *   - a field name is found only by its exact name, and by its id;
 *   - a coordinate is written only within -180..180, as "[-]D.DDDD" that
 *     reads back within 0.00005 of the value, never "-0.0000", always
 *     NUL-terminated inside the buffer;
 *   - a copied text value is the value without its control bytes.
 */

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "persona_geo.h"
#include "fuzz_util.h"


static void
fuzz_coord(double v, size_t size)
{
    char    *buf, *end;
    size_t   n, i;
    double   back;

    buf = malloc(size ? size : 1);
    check(buf != NULL);

    n = persona_geo_format_coord(v, buf, size);

    if (size == 0) {
        check(n == 0);
        free(buf);
        return;
    }

    check(n < size && buf[n] == '\0' && strlen(buf) == n);

    if (!(v >= -180.0 && v <= 180.0) || n == 0) {
        /* out of range, or too small a buffer */
        check(n == 0 && (!(v >= -180.0 && v <= 180.0)
                         || size < PERSONA_GEO_COORD_LEN));
        free(buf);
        return;
    }

    check(strcmp(buf, "-0.0000") != 0);
    check(n > 5 && buf[n - 5] == '.');

    for (i = 0; i < n; i++) {
        check((buf[i] >= '0' && buf[i] <= '9') || i == n - 5
              || (i == 0 && buf[i] == '-'));
    }

    back = strtod(buf, &end);
    check(end == buf + n && fabs(back - v) <= 0.00005 + 1e-9);

    free(buf);
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char                       *dst;
    size_t                      n, i, k;
    double                      v;
    const persona_geo_field_t  *f;

    f = persona_geo_field((const char *) data, size);

    if (f) {
        check(f->name.len == size && memcmp(f->name.data, data, size) == 0);
        check(persona_geo_field_by_id(f->id) == f);
        check(f->path != NULL && f->path[0] != NULL);
    }

    for (i = 0; i < PERSONA_GEO_NFIELDS + 2; i++) {
        f = persona_geo_field_by_id((unsigned) i);
        check((f != NULL) == (i < PERSONA_GEO_NFIELDS));

        if (f) {
            check(f->id == i);
            check(persona_geo_field(f->name.data, f->name.len) == f);
        }
    }

    if (size >= 9) {
        memcpy(&v, data + 1, sizeof(double));
        fuzz_coord(v, data[0] % (PERSONA_GEO_COORD_LEN + 8));
        fuzz_coord(v, PERSONA_GEO_COORD_LEN);
    }

    dst = malloc(size ? size : 1);
    check(dst != NULL);

    n = persona_geo_copy_text(dst, (const char *) data, size);

    for (i = 0, k = 0; i < size; i++) {
        if (data[i] >= 0x20 && data[i] != 0x7f) {
            check(k < n && dst[k++] == (char) data[i]);
        }
    }

    check(k == n);
    free(dst);

    return 0;
}
