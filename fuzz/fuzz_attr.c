/*
 * libFuzzer target: the request attributes the core derives from headers
 * (src/persona_attr.c): the device class from a User-Agent and the
 * primary language from Accept-Language.
 *
 * Input: one header value, used as both.
 *
 * Checks, trapping on failure:
 *   - the device is one of the four and has a name; it does not depend
 *     on letter case; an empty User-Agent is a bot;
 *   - the language is 0 to PERSONA_LANG_MAX lowercase ASCII letters found
 *     in the value (any case); it does not depend on letter case.
 */

#define _GNU_SOURCE

#include <ctype.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "persona_attr.h"
#include "fuzz_util.h"


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char              *up, *low, lang[PERSONA_LANG_MAX + 1], other[16];
    size_t             i, n;
    persona_str_t      name;
    persona_device_e   d;

    up = malloc(size + 1);
    low = malloc(size + 1);
    check(up != NULL && low != NULL);

    for (i = 0; i < size; i++) {
        up[i] = (char) toupper(data[i]);
        low[i] = (char) tolower(data[i]);
    }

    up[size] = '\0';
    low[size] = '\0';

    d = persona_device((const char *) data, size);
    check(d <= PERSONA_DEVICE_BOT);
    check(size > 0 || d == PERSONA_DEVICE_BOT);
    check(persona_device(up, size) == d && persona_device(low, size) == d);

    name = persona_device_name(d);
    check(name.data != NULL && name.len > 0);

    n = persona_lang((const char *) data, size, lang);
    check(n <= PERSONA_LANG_MAX);
    lang[n] = '\0';

    for (i = 0; i < n; i++) {
        check(lang[i] >= 'a' && lang[i] <= 'z');
    }

    check(n == 0 || memmem(low, size, lang, n) != NULL);

    check(persona_lang(up, size, other) == n
          && memcmp(other, lang, n) == 0);

    free(up);
    free(low);

    return 0;
}
