/*
 * Visitor ids and profile decoding (Redis reply / JSON -> fields).
 */

#include <stdio.h>
#include <string.h>

#include <jansson.h>

#include "persona_profile.h"


typedef struct {
    persona_profile_t  *profile;
    persona_alloc_t    *alloc;
    persona_error_t    *err;
    size_t              max;
} persona_flatten_t;


static int persona_profile_from_hash(persona_profile_t *p,
    const redisReply *reply, persona_alloc_t *a, persona_error_t *err);
static int persona_flatten(persona_flatten_t *f, json_t *value,
    const char *prefix, size_t prefix_len, unsigned depth);
static int persona_add_field(persona_flatten_t *f, const char *name,
    size_t name_len, const char *value, size_t value_len);
static int persona_scalar(json_t *v, char *buf, size_t size,
    const char **s, size_t *len);
static int persona_join_array(persona_flatten_t *f, json_t *array,
    persona_str_t *out);
static size_t persona_count_leaves(json_t *value, unsigned depth);


static const unsigned char  persona_id_chars[256] = {
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1,
    ['G'] = 1, ['H'] = 1, ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1,
    ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1, ['Q'] = 1, ['R'] = 1,
    ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1,
    ['g'] = 1, ['h'] = 1, ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1,
    ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1, ['q'] = 1, ['r'] = 1,
    ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1,
    ['6'] = 1, ['7'] = 1, ['8'] = 1, ['9'] = 1,
    ['.'] = 1, ['_'] = 1, [':'] = 1, ['@'] = 1, ['-'] = 1
};


int
persona_id_valid(const char *id, size_t len)
{
    size_t  i;

    if (len == 0 || len > PERSONA_ID_MAX_LEN) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (!persona_id_chars[(unsigned char) id[i]]) {
            return 0;
        }
    }

    return 1;
}


int
persona_profile_decode(persona_profile_t *p, const redisReply *reply,
    persona_profile_format_e format, persona_alloc_t *a, persona_error_t *err)
{
    p->fields = NULL;
    p->nfields = 0;

    switch (reply->type) {

    case REDIS_REPLY_NIL:
        return PERSONA_PROFILE_MISSING;

    case REDIS_REPLY_ERROR:
        persona_error_set(err, "redis error reply \"%.*s\"",
                          (int) (reply->len > 128 ? 128 : reply->len),
                          reply->str);

        /* the key holds another type: the data is unusable, Redis is fine */
        if (reply->len >= 9 && memcmp(reply->str, "WRONGTYPE", 9) == 0) {
            return PERSONA_PROFILE_BAD;
        }

        return PERSONA_PROFILE_REDIS_ERROR;

    case REDIS_REPLY_ARRAY:
        if (format != PERSONA_FORMAT_HASH) {
            break;
        }

        return persona_profile_from_hash(p, reply, a, err);

    case REDIS_REPLY_STRING:
        if (format != PERSONA_FORMAT_JSON) {
            break;
        }

        return persona_profile_from_json(p, reply->str, reply->len, a, err);

    default:
        break;
    }

    persona_error_set(err, "unexpected redis reply type %d for a %s profile",
                      reply->type,
                      format == PERSONA_FORMAT_HASH ? "hash" : "json");

    return PERSONA_PROFILE_BAD;
}


static int
persona_profile_from_hash(persona_profile_t *p, const redisReply *reply,
    persona_alloc_t *a, persona_error_t *err)
{
    size_t            i, n;
    redisReply       *k, *v;
    persona_field_t  *f;

    if (reply->elements == 0) {
        return PERSONA_PROFILE_MISSING;
    }

    if (reply->elements % 2) {
        persona_error_set(err, "odd number of elements (%zu) in a hash reply",
                          reply->elements);
        return PERSONA_PROFILE_BAD;
    }

    n = reply->elements / 2;

    if (n > PERSONA_PROFILE_MAX_FIELDS) {
        persona_error_set(err, "profile has %zu fields, more than %d", n,
                          PERSONA_PROFILE_MAX_FIELDS);
        return PERSONA_PROFILE_BAD;
    }

    f = persona_alloc(a, n * sizeof(persona_field_t));
    if (f == NULL) {
        return PERSONA_NOMEM;
    }

    p->fields = f;
    p->nfields = 0;

    for (i = 0; i < reply->elements; i += 2) {
        k = reply->element[i];
        v = reply->element[i + 1];

        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING) {
            persona_error_set(err, "hash reply element %zu is not a string",
                              k->type != REDIS_REPLY_STRING ? i : i + 1);
            return PERSONA_PROFILE_BAD;
        }

        if (k->len == 0) {
            continue;
        }

        f->name.data = persona_strndup(a, k->str, k->len);
        f->value.data = persona_strndup(a, v->str, v->len);
        if (f->name.data == NULL || f->value.data == NULL) {
            return PERSONA_NOMEM;
        }

        f->name.len = k->len;
        f->value.len = v->len;
        f++;
        p->nfields++;
    }

    return PERSONA_PROFILE_FOUND;
}


int
persona_profile_from_json(persona_profile_t *p, const char *json, size_t len,
    persona_alloc_t *a, persona_error_t *err)
{
    int                rc;
    size_t             n;
    json_t            *root;
    json_error_t       jerr;
    persona_flatten_t  f;

    p->fields = NULL;
    p->nfields = 0;

    root = json_loadb(json, len, JSON_REJECT_DUPLICATES, &jerr);
    if (root == NULL) {
        persona_error_set(err, "invalid JSON profile at line %d column %d: %s",
                          jerr.line, jerr.column, jerr.text);
        return PERSONA_PROFILE_BAD;
    }

    if (!json_is_object(root)) {
        json_decref(root);
        persona_error_set(err, "JSON profile is not an object");
        return PERSONA_PROFILE_BAD;
    }

    n = persona_count_leaves(root, 0);

    if (n > PERSONA_PROFILE_MAX_FIELDS) {
        json_decref(root);
        persona_error_set(err, "profile has more than %d fields",
                          PERSONA_PROFILE_MAX_FIELDS);
        return PERSONA_PROFILE_BAD;
    }

    if (n == 0) {
        json_decref(root);
        return PERSONA_PROFILE_FOUND;
    }

    p->fields = persona_alloc(a, n * sizeof(persona_field_t));
    if (p->fields == NULL) {
        json_decref(root);
        return PERSONA_NOMEM;
    }

    f.profile = p;
    f.alloc = a;
    f.err = err;
    f.max = n;

    rc = persona_flatten(&f, root, NULL, 0, 0);

    json_decref(root);

    return rc == PERSONA_OK ? PERSONA_PROFILE_FOUND : rc;
}


/* leaves persona_flatten() will add; deeper than allowed counts as many */
static size_t
persona_count_leaves(json_t *value, unsigned depth)
{
    size_t       n;
    json_t      *v;
    const char  *key;

    if (!json_is_object(value)) {
        return json_is_null(value) ? 0 : 1;
    }

    if (depth >= PERSONA_PROFILE_MAX_DEPTH) {
        return PERSONA_PROFILE_MAX_FIELDS + 1;
    }

    n = 0;

    json_object_foreach(value, key, v) {
        n += persona_count_leaves(v, depth + 1);
        if (n > PERSONA_PROFILE_MAX_FIELDS) {
            break;
        }
    }

    return n;
}


static int
persona_flatten(persona_flatten_t *f, json_t *value, const char *prefix,
    size_t prefix_len, unsigned depth)
{
    int             rc;
    char            buf[64], *name;
    size_t          key_len, name_len, len;
    json_t         *v;
    const char     *key, *s;
    persona_str_t   joined;

    json_object_foreach(value, key, v) {
        key_len = strlen(key);

        if (key_len == 0) {
            continue;
        }

        name_len = prefix_len ? prefix_len + 1 + key_len : key_len;
        name = persona_alloc(f->alloc, name_len + 1);
        if (name == NULL) {
            return PERSONA_NOMEM;
        }

        if (prefix_len) {
            memcpy(name, prefix, prefix_len);
            name[prefix_len] = '.';
            memcpy(name + prefix_len + 1, key, key_len);

        } else {
            memcpy(name, key, key_len);
        }

        name[name_len] = '\0';

        if (json_is_object(v)) {
            rc = persona_flatten(f, v, name, name_len, depth + 1);
            if (rc != PERSONA_OK) {
                return rc;
            }

            continue;
        }

        if (json_is_array(v)) {
            rc = persona_join_array(f, v, &joined);
            if (rc != PERSONA_OK) {
                return rc;
            }

            rc = persona_add_field(f, name, name_len, joined.data, joined.len);
            if (rc != PERSONA_OK) {
                return rc;
            }

            continue;
        }

        if (!persona_scalar(v, buf, sizeof(buf), &s, &len)) {
            continue;
        }

        rc = persona_add_field(f, name, name_len, s, len);
        if (rc != PERSONA_OK) {
            return rc;
        }
    }

    return PERSONA_OK;
}


/* a scalar's text; 0 for null and containers */
static int
persona_scalar(json_t *v, char *buf, size_t size, const char **s, size_t *len)
{
    int  n;

    switch (json_typeof(v)) {

    case JSON_STRING:
        *s = json_string_value(v);
        *len = json_string_length(v);
        return 1;

    case JSON_INTEGER:
        n = snprintf(buf, size, "%" JSON_INTEGER_FORMAT,
                     json_integer_value(v));
        break;

    case JSON_REAL:
        n = snprintf(buf, size, "%.15g", json_real_value(v));
        break;

    case JSON_TRUE:
        *s = "true";
        *len = 4;
        return 1;

    case JSON_FALSE:
        *s = "false";
        *len = 5;
        return 1;

    default:
        return 0;
    }

    *s = buf;
    *len = (n < 0) ? 0 : ((size_t) n >= size ? size - 1 : (size_t) n);

    return 1;
}


static int
persona_join_array(persona_flatten_t *f, json_t *array, persona_str_t *out)
{
    char        buf[64], *p;
    size_t      i, total, len;
    json_t     *v;
    const char *s;

    total = 0;

    json_array_foreach(array, i, v) {
        if (persona_scalar(v, buf, sizeof(buf), &s, &len)) {
            total += len + 1;
        }
    }

    p = persona_alloc(f->alloc, total + 1);
    if (p == NULL) {
        return PERSONA_NOMEM;
    }

    out->data = p;

    json_array_foreach(array, i, v) {
        if (!persona_scalar(v, buf, sizeof(buf), &s, &len)) {
            continue;
        }

        if (p != out->data) {
            *p++ = ',';
        }

        memcpy(p, s, len);
        p += len;
    }

    *p = '\0';
    out->len = p - out->data;

    return PERSONA_OK;
}


static int
persona_add_field(persona_flatten_t *f, const char *name, size_t name_len,
    const char *value, size_t value_len)
{
    persona_field_t  *field;

    if (f->profile->nfields >= f->max) {
        persona_error_set(f->err, "profile field count changed while "
                          "flattening");
        return PERSONA_ERROR;
    }

    field = &f->profile->fields[f->profile->nfields];

    field->value.data = persona_strndup(f->alloc, value, value_len);
    if (field->value.data == NULL) {
        return PERSONA_NOMEM;
    }

    field->name.data = name;
    field->name.len = name_len;
    field->value.len = value_len;
    f->profile->nfields++;

    return PERSONA_OK;
}


const persona_str_t *
persona_profile_get(const persona_profile_t *p, const char *name, size_t len)
{
    size_t  i;

    for (i = 0; i < p->nfields; i++) {
        if (p->fields[i].name.len == len
            && memcmp(p->fields[i].name.data, name, len) == 0)
        {
            return &p->fields[i].value;
        }
    }

    return NULL;
}



const persona_str_t *
persona_profile_get_var(const persona_profile_t *p, const char *name,
    size_t len)
{
    size_t  i;

    for (i = 0; i < p->nfields; i++) {
        if (persona_var_name_equal(p->fields[i].name.data,
                                   p->fields[i].name.len, name, len))
        {
            return &p->fields[i].value;
        }
    }

    return NULL;
}


#if (HIREDIS_MAJOR >= 1)
typedef size_t  persona_reply_elements_t;
#else
typedef int     persona_reply_elements_t;
#endif


static void *
persona_reply_create_array(const redisReadTask *task,
    persona_reply_elements_t elements)
{
    size_t                n, depth;
    persona_reader_fn_t  *fns;
    const redisReadTask  *t;

    fns = task->privdata;

    if (task->parent == NULL) {
        /* the outermost array of a new reply: a new budget */
        fns->elements = 0;
    }

    n = (size_t) elements;
    depth = 0;

    for (t = task; t != NULL; t = t->parent) {
        depth++;
    }

    if (depth > PERSONA_REPLY_MAX_DEPTH) {
        fns->refused = PERSONA_REPLY_TOO_DEEP;
        fns->announced = n;
        return NULL;
    }

    if (n > PERSONA_REPLY_MAX_ELEMENTS - fns->elements) {
        fns->refused = PERSONA_REPLY_TOO_MANY;
        fns->announced = n;
        return NULL;
    }

    fns->elements += n;

    return fns->orig->createArray(task, elements);
}


redisReader *
persona_reader_create(persona_reader_fn_t *fns)
{
    redisReader  *r;

    r = redisReaderCreate();
    if (r == NULL) {
        return NULL;
    }

    fns->orig = r->fn;
    fns->fn = *r->fn;
    fns->elements = 0;
    fns->announced = 0;
    fns->refused = PERSONA_REPLY_FITS;
    fns->fn.createArray = persona_reply_create_array;

    r->fn = &fns->fn;
    r->privdata = fns;

    return r;
}
