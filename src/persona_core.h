/*
 * Shared types of the pure core (src/persona_*.c).
 *
 * The core never includes nginx headers, does no I/O, reads no clock,
 * logs nothing and keeps no globals.  Memory comes from a caller's
 * allocator (nginx plugs in ngx_palloc on a request pool, the tests plug
 * in malloc or a failing allocator); errors go into a caller's bounded
 * error struct.
 */

#ifndef PERSONA_CORE_H
#define PERSONA_CORE_H

#include <stddef.h>
#include <stdint.h>


#define PERSONA_OK          0
#define PERSONA_ERROR      -1
#define PERSONA_NOMEM      -2


typedef struct {
    const char  *data;
    size_t       len;
} persona_str_t;


/*
 * Allocation only: memory is released all at once by the owner of the
 * allocator (a pool), so the core never frees what it got from here.
 */
typedef struct {
    void        *(*alloc)(void *data, size_t size);
    void         *data;
} persona_alloc_t;


#define PERSONA_ERRMSG_LEN  256

typedef struct {
    char         msg[PERSONA_ERRMSG_LEN];
    /* position in the source text, 0 when unknown */
    unsigned     line;
    unsigned     column;
} persona_error_t;


void persona_error_set(persona_error_t *err, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

void *persona_alloc(persona_alloc_t *a, size_t size);
char *persona_strndup(persona_alloc_t *a, const char *s, size_t len);

/*
 * 1 when two names give the same nginx variable name suffix
 * ($persona_profile_NAME, $persona_variant_NAME, as $http_NAME): ASCII
 * case-insensitive, with "-" and "." equal to "_".
 */
int persona_var_name_equal(const char *a, size_t alen, const char *b,
    size_t blen);


#endif /* PERSONA_CORE_H */
