/*
 * Helpers shared by the pure core.
 */

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "persona_core.h"


void
persona_error_set(persona_error_t *err, const char *fmt, ...)
{
    va_list  args;

    if (err == NULL) {
        return;
    }

    va_start(args, fmt);
    vsnprintf(err->msg, sizeof(err->msg), fmt, args);
    va_end(args);
}


void *
persona_alloc(persona_alloc_t *a, size_t size)
{
    return a->alloc(a->data, size == 0 ? 1 : size);
}


char *
persona_strndup(persona_alloc_t *a, const char *s, size_t len)
{
    char  *p;

    p = persona_alloc(a, len + 1);
    if (p == NULL) {
        return NULL;
    }

    if (len) {
        memcpy(p, s, len);
    }

    p[len] = '\0';

    return p;
}


static unsigned char
persona_var_char(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') {
        return c | 0x20;
    }

    if (c == '-' || c == '.') {
        return '_';
    }

    return c;
}


int
persona_var_name_equal(const char *a, size_t alen, const char *b,
    size_t blen)
{
    size_t  i;

    if (alen != blen) {
        return 0;
    }

    for (i = 0; i < alen; i++) {
        if (persona_var_char(a[i]) != persona_var_char(b[i])) {
            return 0;
        }
    }

    return 1;
}
