/*
 * Profile <-> bytes for the shared profile cache (layout in persona_pack.h).
 */

#include <string.h>

#include "persona_pack.h"


static size_t persona_varint_size(size_t v);
static unsigned char *persona_varint_write(unsigned char *p, size_t v);
static int persona_varint_read(const unsigned char **pp,
    const unsigned char *end, size_t *v);
static int persona_pack_str(const unsigned char **pp,
    const unsigned char *end, persona_str_t *s);


size_t
persona_profile_pack_size(const persona_profile_t *p)
{
    size_t                  size, i;
    const persona_field_t  *f;

    size = 1 + persona_varint_size(p->nfields);

    for (i = 0; i < p->nfields; i++) {
        f = &p->fields[i];
        size += persona_varint_size(f->name.len) + f->name.len + 1
                + persona_varint_size(f->value.len) + f->value.len + 1;
    }

    return size;
}


size_t
persona_profile_pack(const persona_profile_t *p, unsigned char *buf,
    size_t size)
{
    size_t                  i;
    unsigned char          *b;
    const persona_field_t  *f;

    if (size < persona_profile_pack_size(p)) {
        return 0;
    }

    b = buf;
    *b++ = PERSONA_PACK_VERSION;
    b = persona_varint_write(b, p->nfields);

    for (i = 0; i < p->nfields; i++) {
        f = &p->fields[i];

        b = persona_varint_write(b, f->name.len);
        if (f->name.len) {
            memcpy(b, f->name.data, f->name.len);
            b += f->name.len;
        }
        *b++ = '\0';

        b = persona_varint_write(b, f->value.len);
        if (f->value.len) {
            memcpy(b, f->value.data, f->value.len);
            b += f->value.len;
        }
        *b++ = '\0';
    }

    return (size_t) (b - buf);
}


int
persona_profile_unpack(persona_profile_t *p, const unsigned char *buf,
    size_t len, persona_alloc_t *a, persona_error_t *err)
{
    size_t                n, i;
    persona_field_t      *fields;
    const unsigned char  *b, *end;

    p->fields = NULL;
    p->nfields = 0;

    b = buf;
    end = buf + len;

    if (len == 0 || *b != PERSONA_PACK_VERSION) {
        persona_error_set(err, "not a packed profile of version %d",
                          PERSONA_PACK_VERSION);
        return PERSONA_ERROR;
    }

    b++;

    if (persona_varint_read(&b, end, &n) != PERSONA_OK) {
        persona_error_set(err, "bad field count at byte 1");
        return PERSONA_ERROR;
    }

    /* every field takes 4 bytes at least */
    if (n > PERSONA_PROFILE_MAX_FIELDS || n > (size_t) (end - b) / 4) {
        persona_error_set(err, "bad field count %zu", n);
        return PERSONA_ERROR;
    }

    fields = NULL;

    if (n) {
        fields = persona_alloc(a, n * sizeof(persona_field_t));
        if (fields == NULL) {
            return PERSONA_NOMEM;
        }
    }

    for (i = 0; i < n; i++) {
        if (persona_pack_str(&b, end, &fields[i].name) != PERSONA_OK
            || persona_pack_str(&b, end, &fields[i].value) != PERSONA_OK)
        {
            persona_error_set(err, "field %zu truncated or unterminated "
                              "at byte %zu", i, (size_t) (b - buf));
            return PERSONA_ERROR;
        }
    }

    if (b != end) {
        persona_error_set(err, "%zu trailing bytes", (size_t) (end - b));
        return PERSONA_ERROR;
    }

    p->fields = fields;
    p->nfields = n;

    return PERSONA_OK;
}


/* a length, then the bytes and their NUL */
static int
persona_pack_str(const unsigned char **pp, const unsigned char *end,
    persona_str_t *s)
{
    size_t                len;
    const unsigned char  *b;

    if (persona_varint_read(pp, end, &len) != PERSONA_OK) {
        return PERSONA_ERROR;
    }

    b = *pp;

    if (len >= (size_t) (end - b) || b[len] != '\0') {
        return PERSONA_ERROR;
    }

    s->data = (const char *) b;
    s->len = len;
    *pp = b + len + 1;

    return PERSONA_OK;
}


static size_t
persona_varint_size(size_t v)
{
    size_t  n;

    for (n = 1; v >= 0x80; n++) {
        v >>= 7;
    }

    return n;
}


static unsigned char *
persona_varint_write(unsigned char *p, size_t v)
{
    while (v >= 0x80) {
        *p++ = (unsigned char) (v | 0x80);
        v >>= 7;
    }

    *p++ = (unsigned char) v;

    return p;
}


/* at most as many bytes as a size_t needs; no overlong zero tails */
static int
persona_varint_read(const unsigned char **pp, const unsigned char *end,
    size_t *v)
{
    size_t                r;
    unsigned              shift;
    const unsigned char  *p;

    r = 0;
    shift = 0;

    for (p = *pp; p < end; p++) {

        if (shift >= sizeof(size_t) * 8
            || (shift && (size_t) (*p & 0x7f) >> (sizeof(size_t) * 8 - shift)))
        {
            return PERSONA_ERROR;
        }

        r |= (size_t) (*p & 0x7f) << shift;

        if (!(*p & 0x80)) {
            if (shift && *p == 0) {
                return PERSONA_ERROR;
            }

            *v = r;
            *pp = p + 1;
            return PERSONA_OK;
        }

        shift += 7;
    }

    return PERSONA_ERROR;
}
