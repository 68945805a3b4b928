/*
 * Prometheus text format helpers (persona_prom.h).
 */

#include "persona_prom.h"


size_t
persona_prom_escape(char *dst, size_t room, const char *src, size_t len)
{
    char    c;
    size_t  i, n;

    n = 0;

    for (i = 0; i < len; i++) {
        c = src[i];

        if (c == '\\' || c == '"' || c == '\n') {
            if (room - n < 2) {
                break;
            }

            dst[n++] = '\\';
            dst[n++] = (c == '\n') ? 'n' : c;
            continue;
        }

        if (n == room) {
            break;
        }

        dst[n++] = c;
    }

    return n;
}


size_t
persona_prom_bucket(const uint64_t *bounds, size_t n, uint64_t v)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        if (v <= bounds[i]) {
            break;
        }
    }

    return i;
}
