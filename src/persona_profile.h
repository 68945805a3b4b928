/*
 * Visitor ids and profiles: what a Redis reply becomes.
 *
 * A profile is a flat list of (name, value) strings.  A Redis hash
 * (HGETALL reply) maps one to one; a JSON document (GET reply) is
 * flattened: nested objects give dotted names ("address.city"), numbers
 * keep their JSON spelling, booleans become "true"/"false", arrays of
 * scalars are joined with ",", null and nested arrays are left out.
 */

#ifndef PERSONA_PROFILE_H
#define PERSONA_PROFILE_H

#include <hiredis/hiredis.h>

#include "persona_core.h"


#define PERSONA_ID_MAX_LEN        128

/* bounds on what a profile may hold; a reply beyond them is an error */
#define PERSONA_PROFILE_MAX_FIELDS   1024
#define PERSONA_PROFILE_MAX_DEPTH    8


typedef enum {
    PERSONA_PROFILE_FOUND = 0,
    PERSONA_PROFILE_MISSING,      /* no such key, or an empty hash */
    PERSONA_PROFILE_BAD,          /* unusable: wrong type (WRONGTYPE too),
                                     bad JSON, over the limits */
    PERSONA_PROFILE_REDIS_ERROR   /* any other error reply (NOAUTH, ...) */
} persona_profile_status_e;


typedef enum {
    PERSONA_FORMAT_HASH = 0,
    PERSONA_FORMAT_JSON
} persona_profile_format_e;


typedef struct {
    persona_str_t   name;
    persona_str_t   value;
} persona_field_t;


typedef struct {
    persona_field_t *fields;
    size_t           nfields;
} persona_profile_t;


/*
 * The most elements one reply may hold, all its arrays together.  hiredis
 * allocates a reply object per element and an array of the announced size
 * before any element arrives, so a reply of 13 bytes ("*1500000000\r\n")
 * would cost gigabytes, and nested arrays of small integers cost about
 * 50 times their size in bytes; a profile needs at most
 * 2 * PERSONA_PROFILE_MAX_FIELDS.
 */
#define PERSONA_REPLY_MAX_ELEMENTS   (2 * PERSONA_PROFILE_MAX_FIELDS + 64)

/*
 * The deepest nesting of arrays in one reply.  A profile is one array;
 * CLUSTER SLOTS (a later client) needs three.  hiredis 0.14 stops at 7
 * itself, 1.x does not stop at all.
 */
#define PERSONA_REPLY_MAX_DEPTH      4


/* why the reader refused a reply */
typedef enum {
    PERSONA_REPLY_FITS = 0,
    PERSONA_REPLY_TOO_MANY,       /* more than PERSONA_REPLY_MAX_ELEMENTS */
    PERSONA_REPLY_TOO_DEEP        /* deeper than PERSONA_REPLY_MAX_DEPTH */
} persona_reply_refusal_e;


/* a reader's function table and budget; lives as long as the reader */
typedef struct {
    redisReplyObjectFunctions   fn;
    redisReplyObjectFunctions  *orig;
    size_t                      elements;  /* announced in this reply */
    size_t                      announced; /* by the refused array */
    persona_reply_refusal_e     refused;
} persona_reader_fn_t;


/*
 * A hiredis reply reader with a budget per reply: it refuses (as out of
 * memory: the reader's error, fns->refused says why) a reply whose arrays
 * announce more than PERSONA_REPLY_MAX_ELEMENTS elements together, or
 * nest deeper than PERSONA_REPLY_MAX_DEPTH, before hiredis allocates
 * them.  The budget starts again with each reply.  fns is the caller's
 * storage for the function table.  Works with hiredis 0.14 and 1.x.
 * Free it with redisReaderFree().
 */
redisReader *persona_reader_create(persona_reader_fn_t *fns);

/* 1 when the id may be used as a visitor id: 1..128 bytes of
 * [A-Za-z0-9._:@-]; anything else is treated as anonymous */
int persona_id_valid(const char *id, size_t len);

/*
 * Decodes the reply to HGETALL (hash) or GET (json) into a profile whose
 * strings are copied with the allocator, so the reply can be freed.
 * On PERSONA_PROFILE_BAD, err says why.  Returns PERSONA_NOMEM (< 0) when
 * the allocator fails.
 */
int persona_profile_decode(persona_profile_t *p, const redisReply *reply,
    persona_profile_format_e format, persona_alloc_t *a,
    persona_error_t *err);

/* JSON text -> profile (what decode does with a GET reply) */
int persona_profile_from_json(persona_profile_t *p, const char *json,
    size_t len, persona_alloc_t *a, persona_error_t *err);

/* exact lookup by field name; NULL when absent */
const persona_str_t *persona_profile_get(const persona_profile_t *p,
    const char *name, size_t len);

/*
 * Lookup the way $persona_profile_NAME does it: ASCII case-insensitive,
 * with '-' and '.' in field names matching '_' in NAME.
 */
const persona_str_t *persona_profile_get_var(const persona_profile_t *p,
    const char *name, size_t len);



#endif /* PERSONA_PROFILE_H */
