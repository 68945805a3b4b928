/*
 * Condition compiler and evaluator (see persona_cond.h).
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "persona_cond.h"


typedef struct {
    pcre2_match_data     *md;
    pcre2_match_context  *mctx;
} persona_scratch_t;


typedef struct {
    const char  *name;
    unsigned     type;
} persona_op_name_t;


static const persona_op_name_t  persona_ops[] = {
    { "eq", PERSONA_OP_EQ },
    { "ne", PERSONA_OP_NE },
    { "in", PERSONA_OP_IN },
    { "nin", PERSONA_OP_NIN },
    { "gt", PERSONA_OP_GT },
    { "gte", PERSONA_OP_GTE },
    { "lt", PERSONA_OP_LT },
    { "lte", PERSONA_OP_LTE },
    { "between", PERSONA_OP_BETWEEN },
    { "exists", PERSONA_OP_EXISTS },
    { "contains", PERSONA_OP_CONTAINS },
    { "prefix", PERSONA_OP_PREFIX },
    { "suffix", PERSONA_OP_SUFFIX },
    { "regex", PERSONA_OP_REGEX },
    { "cidr", PERSONA_OP_CIDR },
    { NULL, 0 }
};


static const char  *persona_weekdays[] = {
    "mon", "tue", "wed", "thu", "fri", "sat", "sun", NULL
};

static const char  *persona_devices[] = {
    "mobile", "tablet", "desktop", "bot", NULL
};


static int persona_cond_node(persona_cond_t **cond, const persona_jnode_t *n,
    persona_cond_ctx_t *ctx, unsigned depth, persona_error_t *err);
static int persona_cond_member(persona_cond_t **cond,
    const persona_jnode_t *m, persona_cond_ctx_t *ctx, unsigned depth,
    persona_error_t *err);
static int persona_cond_op(persona_cond_t **cond, const persona_attr_t *attr,
    const char *opname, const persona_jnode_t *key,
    const persona_jnode_t *v, persona_cond_ctx_t *ctx, persona_error_t *err);
static persona_cond_t *persona_cond_new(persona_cond_ctx_t *ctx,
    unsigned type, const persona_jnode_t *at, size_t nsub);
static int persona_cond_scalar(persona_cond_ctx_t *ctx,
    const persona_attr_t *attr, const persona_jnode_t *v,
    persona_cond_val_t *val, persona_error_t *err);
static int persona_cond_bound(const persona_attr_t *attr,
    const persona_jnode_t *v, persona_cond_val_t *val, persona_error_t *err);
static int persona_cond_regex(persona_cond_t *c, const persona_jnode_t *v,
    persona_cond_ctx_t *ctx, persona_error_t *err);
static int persona_cond_cidr(persona_cidr_t *cidr, const persona_jnode_t *v,
    persona_error_t *err);
static int persona_cond_eval_node(const persona_cond_t *c,
    const persona_eval_t *ev, const persona_cond_t **failed);
static int persona_cond_eval_op(const persona_cond_t *c,
    const persona_eval_t *ev);
static int persona_val_eq(const persona_cond_val_t *val, persona_str_t v);
static int persona_date(const char *s, size_t len, double *out);
static int persona_ip(const char *s, size_t len, unsigned char *addr,
    unsigned *v6, int mapped);
static int persona_in_list(const char **list, const char *s, size_t len);
static const char *persona_cond_opname(unsigned type);


int
persona_cond_compile(persona_cond_t **cond, const persona_jnode_t *when,
    persona_cond_ctx_t *ctx, persona_error_t *err)
{
    return persona_cond_node(cond, when, ctx, 0, err);
}


static int
persona_cond_node(persona_cond_t **cond, const persona_jnode_t *n,
    persona_cond_ctx_t *ctx, unsigned depth, persona_error_t *err)
{
    int              rc;
    size_t           i;
    persona_cond_t  *c;

    if (depth >= PERSONA_COND_MAX_DEPTH) {
        persona_error_set(err, "conditions nested too deeply: at most %d "
                          "levels expected", PERSONA_COND_MAX_DEPTH);
        persona_json_at(err, n);
        return PERSONA_ERROR;
    }

    if (!json_is_object(n->value) || n->nchild == 0) {
        persona_error_set(err, "expected a condition: an object such as "
                          "{ \"profile.tier\": \"gold\" }");
        persona_json_at(err, n);
        return PERSONA_ERROR;
    }

    if (n->nchild == 1) {
        return persona_cond_member(cond, &n->child[0], ctx, depth, err);
    }

    c = persona_cond_new(ctx, PERSONA_COND_ALL, n, n->nchild);
    if (c == NULL) {
        return PERSONA_NOMEM;
    }

    for (i = 0; i < n->nchild; i++) {
        rc = persona_cond_member(&c->sub[i], &n->child[i], ctx, depth, err);
        if (rc != PERSONA_OK) {
            return rc;
        }
    }

    *cond = c;

    return PERSONA_OK;
}


static int
persona_cond_member(persona_cond_t **cond, const persona_jnode_t *m,
    persona_cond_ctx_t *ctx, unsigned depth, persona_error_t *err)
{
    int                    rc;
    size_t                 i;
    unsigned               type;
    persona_cond_t        *c;
    const persona_attr_t  *attr;

    if (strcmp(m->key.data, "all") == 0 || strcmp(m->key.data, "any") == 0) {
        type = (m->key.data[1] == 'l') ? PERSONA_COND_ALL : PERSONA_COND_ANY;

        if (!json_is_array(m->value) || m->nchild == 0) {
            persona_error_set(err, "expected a non-empty array of conditions "
                              "after \"%s\"", m->key.data);
            persona_json_at(err, m);
            return PERSONA_ERROR;
        }

        c = persona_cond_new(ctx, type, m, m->nchild);
        if (c == NULL) {
            return PERSONA_NOMEM;
        }

        c->line = m->key_line;
        c->column = m->key_column;

        for (i = 0; i < m->nchild; i++) {
            rc = persona_cond_node(&c->sub[i], &m->child[i], ctx, depth + 1,
                                   err);
            if (rc != PERSONA_OK) {
                return rc;
            }
        }

        *cond = c;
        return PERSONA_OK;
    }

    if (strcmp(m->key.data, "not") == 0) {
        c = persona_cond_new(ctx, PERSONA_COND_NOT, m, 1);
        if (c == NULL) {
            return PERSONA_NOMEM;
        }

        c->line = m->key_line;
        c->column = m->key_column;

        rc = persona_cond_node(&c->sub[0], m, ctx, depth + 1, err);
        if (rc != PERSONA_OK) {
            return rc;
        }

        *cond = c;
        return PERSONA_OK;
    }

    attr = persona_attr_resolve(ctx->attrs, m->key.data, m->key.len, err);
    if (attr == NULL) {
        persona_json_at_key(err, m);
        return PERSONA_ERROR;
    }

    if (json_is_object(m->value)) {
        if (m->nchild == 0) {
            persona_error_set(err, "expected a value or an object of "
                              "operators such as { \"gte\": 10 }");
            persona_json_at(err, m);
            return PERSONA_ERROR;
        }

        if (m->nchild == 1) {
            return persona_cond_op(cond, attr, m->child[0].key.data,
                                   &m->child[0], &m->child[0], ctx, err);
        }

        c = persona_cond_new(ctx, PERSONA_COND_ALL, m, m->nchild);
        if (c == NULL) {
            return PERSONA_NOMEM;
        }

        for (i = 0; i < m->nchild; i++) {
            rc = persona_cond_op(&c->sub[i], attr, m->child[i].key.data,
                                 &m->child[i], &m->child[i], ctx, err);
            if (rc != PERSONA_OK) {
                return rc;
            }
        }

        *cond = c;
        return PERSONA_OK;
    }

    if (json_is_array(m->value)) {
        persona_error_set(err, "expected a value or an object of operators; "
                          "for one of several values write "
                          "{ \"in\": [ ... ] }");
        persona_json_at(err, m);
        return PERSONA_ERROR;
    }

    return persona_cond_op(cond, attr, "eq", m, m, ctx, err);
}


static int
persona_cond_op(persona_cond_t **cond, const persona_attr_t *attr,
    const char *opname, const persona_jnode_t *key, const persona_jnode_t *v,
    persona_cond_ctx_t *ctx, persona_error_t *err)
{
    int                 rc;
    char               *dump;
    size_t              i, n;
    unsigned            type;
    persona_cond_t     *c;
    const persona_op_name_t  *op;

    type = 0;

    for (op = persona_ops; op->name; op++) {
        if (strcmp(op->name, opname) == 0) {
            type = op->type;
            break;
        }
    }

    if (op->name == NULL) {
        persona_error_set(err, "unknown operator \"%.32s\": expected eq, ne, "
                          "in, nin, gt, gte, lt, lte, between, exists, "
                          "contains, prefix, suffix, regex or cidr", opname);
        persona_json_at_key(err, key);
        return PERSONA_ERROR;
    }

    n = 1;

    if (type == PERSONA_OP_IN || type == PERSONA_OP_NIN
        || type == PERSONA_OP_BETWEEN)
    {
        if (!json_is_array(v->value) || v->nchild == 0
            || (type == PERSONA_OP_BETWEEN && v->nchild != 2))
        {
            if (type == PERSONA_OP_BETWEEN) {
                persona_error_set(err, "expected [low, high] after "
                                  "\"between\"");

            } else {
                persona_error_set(err, "expected a non-empty array of values "
                                  "after \"%s\"", opname);
            }

            persona_json_at(err, v);
            return PERSONA_ERROR;
        }

        n = v->nchild;
    }

    c = persona_cond_new(ctx, type, key, 0);
    if (c == NULL) {
        return PERSONA_NOMEM;
    }

    if (key->key_line) {
        c->line = key->key_line;
        c->column = key->key_column;
    }

    c->attr = attr;

    if (type != PERSONA_OP_CIDR) {
        c->vals = persona_alloc(ctx->alloc, n * sizeof(persona_cond_val_t));
        if (c->vals == NULL) {
            return PERSONA_NOMEM;
        }

        memset(c->vals, 0, n * sizeof(persona_cond_val_t));
        c->nvals = n;
    }

    switch (type) {

    case PERSONA_OP_EQ:
    case PERSONA_OP_NE:
        rc = persona_cond_scalar(ctx, attr, v, &c->vals[0], err);
        break;

    case PERSONA_OP_IN:
    case PERSONA_OP_NIN:
        rc = PERSONA_OK;
        for (i = 0; i < n && rc == PERSONA_OK; i++) {
            rc = persona_cond_scalar(ctx, attr, &v->child[i], &c->vals[i],
                                     err);
        }
        break;

    case PERSONA_OP_GT:
    case PERSONA_OP_GTE:
    case PERSONA_OP_LT:
    case PERSONA_OP_LTE:
        rc = persona_cond_bound(attr, v, &c->vals[0], err);
        break;

    case PERSONA_OP_BETWEEN:
        rc = persona_cond_bound(attr, &v->child[0], &c->vals[0], err);
        if (rc == PERSONA_OK) {
            rc = persona_cond_bound(attr, &v->child[1], &c->vals[1], err);
        }

        if (rc == PERSONA_OK && c->vals[0].num > c->vals[1].num) {
            persona_error_set(err, "expected [low, high] with low <= high");
            persona_json_at(err, v);
            rc = PERSONA_ERROR;
        }
        break;

    case PERSONA_OP_EXISTS:
        if (!json_is_boolean(v->value)) {
            persona_error_set(err, "expected true or false after \"exists\"");
            persona_json_at(err, v);
            return PERSONA_ERROR;
        }

        c->vals[0].kind = PERSONA_VAL_BOOL;
        c->vals[0].num = json_is_true(v->value);
        rc = PERSONA_OK;
        break;

    case PERSONA_OP_CONTAINS:
    case PERSONA_OP_PREFIX:
    case PERSONA_OP_SUFFIX:
        if (!json_is_string(v->value) || json_string_length(v->value) == 0) {
            persona_error_set(err, "expected a non-empty string after "
                              "\"%s\"", opname);
            persona_json_at(err, v);
            return PERSONA_ERROR;
        }

        rc = persona_cond_scalar(ctx, NULL, v, &c->vals[0], err);
        break;

    case PERSONA_OP_REGEX:
        rc = persona_cond_regex(c, v, ctx, err);
        break;

    default: /* PERSONA_OP_CIDR */
        n = json_is_array(v->value) ? v->nchild : 1;

        if (n == 0) {
            persona_error_set(err, "expected an address, a CIDR such as "
                              "\"10.0.0.0/8\", or an array of them");
            persona_json_at(err, v);
            return PERSONA_ERROR;
        }

        c->cidrs = persona_alloc(ctx->alloc, n * sizeof(persona_cidr_t));
        if (c->cidrs == NULL) {
            return PERSONA_NOMEM;
        }

        c->ncidrs = n;
        rc = PERSONA_OK;

        for (i = 0; i < n && rc == PERSONA_OK; i++) {
            rc = persona_cond_cidr(&c->cidrs[i],
                                   json_is_array(v->value) ? &v->child[i] : v,
                                   err);
        }
    }

    if (rc != PERSONA_OK) {
        return rc;
    }

    dump = json_dumps(v->value, JSON_ENCODE_ANY | JSON_COMPACT);
    if (dump == NULL) {
        return PERSONA_NOMEM;
    }

    n = strlen(dump);
    if (n > 120) {
        memcpy(dump + 117, "...", 3);
        n = 120;
    }

    c->operand.data = persona_strndup(ctx->alloc, dump, n);
    c->operand.len = n;
    free(dump);

    if (c->operand.data == NULL) {
        return PERSONA_NOMEM;
    }

    *cond = c;

    return PERSONA_OK;
}


static persona_cond_t *
persona_cond_new(persona_cond_ctx_t *ctx, unsigned type,
    const persona_jnode_t *at, size_t nsub)
{
    persona_cond_t  *c;

    c = persona_alloc(ctx->alloc, sizeof(persona_cond_t));
    if (c == NULL) {
        return NULL;
    }

    memset(c, 0, sizeof(persona_cond_t));
    c->type = type;
    c->line = at->line;
    c->column = at->column;

    if (nsub) {
        c->sub = persona_alloc(ctx->alloc, nsub * sizeof(persona_cond_t *));
        if (c->sub == NULL) {
            return NULL;
        }

        memset(c->sub, 0, nsub * sizeof(persona_cond_t *));
        c->nsub = nsub;
    }

    return c;
}


/* operand of eq ne in nin (attr != NULL) and contains prefix suffix */
static int
persona_cond_scalar(persona_cond_ctx_t *ctx, const persona_attr_t *attr,
    const persona_jnode_t *v, persona_cond_val_t *val, persona_error_t *err)
{
    char         buf[32];
    size_t       i, len;
    const char  *s, *expected;

    expected = NULL;

    if (json_is_string(v->value)) {
        val->kind = PERSONA_VAL_STRING;
        s = json_string_value(v->value);
        len = json_string_length(v->value);

    } else if (json_is_number(v->value)) {
        val->kind = PERSONA_VAL_NUMBER;
        val->num = json_number_value(v->value);
        len = (size_t) snprintf(buf, sizeof(buf), "%.17g", val->num);
        s = buf;

    } else if (json_is_boolean(v->value)) {
        val->kind = PERSONA_VAL_BOOL;
        val->num = json_is_true(v->value);
        s = json_is_true(v->value) ? "true" : "false";
        len = strlen(s);

    } else {
        persona_error_set(err, "expected a string, a number or true/false");
        persona_json_at(err, v);
        return PERSONA_ERROR;
    }

    /* values that can never match a fixed attribute are mistakes */

    if (attr) {
        switch (attr->ns) {

        case PERSONA_ATTR_DEVICE:
            if (val->kind != PERSONA_VAL_STRING
                || !persona_in_list(persona_devices, s, len))
            {
                expected = "\"mobile\", \"tablet\", \"desktop\" or \"bot\"";
            }
            break;

        case PERSONA_ATTR_TIME_WEEKDAY:
            if (val->kind != PERSONA_VAL_STRING
                || !persona_in_list(persona_weekdays, s, len))
            {
                expected = "\"mon\", \"tue\", \"wed\", \"thu\", \"fri\", "
                           "\"sat\" or \"sun\"";
            }
            break;

        case PERSONA_ATTR_VISITOR_KNOWN:
        case PERSONA_ATTR_VISITOR_NEW:
            if (val->kind != PERSONA_VAL_BOOL) {
                expected = "true or false";
            }
            break;

        case PERSONA_ATTR_TIME_HOUR:
            if (val->kind != PERSONA_VAL_NUMBER || val->num < 0
                || val->num > 23 || val->num != (double) (int) val->num)
            {
                expected = "an hour from 0 to 23";
            }
            break;

        case PERSONA_ATTR_TIME_DATE:
            if (val->kind != PERSONA_VAL_STRING
                || !persona_date(s, len, &val->num))
            {
                expected = "a date \"YYYY-MM-DD\"";
            }
            break;

        case PERSONA_ATTR_LANG:
            for (i = 0; val->kind == PERSONA_VAL_STRING && i < len; i++) {
                if (s[i] < 'a' || s[i] > 'z') {
                    break;
                }
            }

            if (val->kind != PERSONA_VAL_STRING || len == 0 || len > 8
                || i != len)
            {
                expected = "a lowercase language code such as \"de\"";
            }
            break;

        case PERSONA_ATTR_REQUEST_METHOD:
            for (i = 0; val->kind == PERSONA_VAL_STRING && i < len; i++) {
                if (s[i] < 'A' || s[i] > 'Z') {
                    break;
                }
            }

            if (val->kind != PERSONA_VAL_STRING || len == 0 || i != len) {
                expected = "an uppercase method such as \"GET\"";
            }
            break;

        default:
            break;
        }
    }

    if (expected) {
        persona_error_set(err, "expected %s for %s", expected,
                          attr->full.data);
        persona_json_at(err, v);
        return PERSONA_ERROR;
    }

    val->str.data = persona_strndup(ctx->alloc, s, len);
    val->str.len = len;

    return val->str.data ? PERSONA_OK : PERSONA_NOMEM;
}


/* operand of gt gte lt lte between: a number, or a date on time.date */
static int
persona_cond_bound(const persona_attr_t *attr, const persona_jnode_t *v,
    persona_cond_val_t *val, persona_error_t *err)
{
    if (json_is_number(v->value) && attr->ns != PERSONA_ATTR_TIME_DATE) {
        val->kind = PERSONA_VAL_NUMBER;
        val->num = json_number_value(v->value);
        return PERSONA_OK;
    }

    if (attr->ns == PERSONA_ATTR_TIME_DATE && json_is_string(v->value)
        && persona_date(json_string_value(v->value),
                        json_string_length(v->value), &val->num))
    {
        val->kind = PERSONA_VAL_DATE;
        return PERSONA_OK;
    }

    persona_error_set(err, attr->ns == PERSONA_ATTR_TIME_DATE
                      ? "expected a date \"YYYY-MM-DD\""
                      : "expected a number");
    persona_json_at(err, v);

    return PERSONA_ERROR;
}


static void *
persona_re_malloc(PCRE2_SIZE size, void *data)
{
    return persona_alloc(data, size);
}


static void
persona_re_free(void *p, void *data)
{
    /* the allocator's owner releases everything at once */
}


static int
persona_cond_regex(persona_cond_t *c, const persona_jnode_t *v,
    persona_cond_ctx_t *ctx, persona_error_t *err)
{
    int          errcode;
    PCRE2_SIZE   erroff;
    PCRE2_UCHAR  msg[128];

    if (!json_is_string(v->value) || json_string_length(v->value) == 0) {
        persona_error_set(err, "expected a non-empty regular expression "
                          "string after \"regex\"");
        persona_json_at(err, v);
        return PERSONA_ERROR;
    }

    if (ctx->pcre2_gctx == NULL) {
        ctx->pcre2_gctx = pcre2_general_context_create(persona_re_malloc,
                                                       persona_re_free,
                                                       ctx->alloc);
        if (ctx->pcre2_gctx == NULL) {
            return PERSONA_NOMEM;
        }

        ctx->pcre2_cctx = pcre2_compile_context_create(ctx->pcre2_gctx);
        if (ctx->pcre2_cctx == NULL) {
            return PERSONA_NOMEM;
        }

        pcre2_set_max_pattern_length(ctx->pcre2_cctx,
                                     PERSONA_RE_MAX_PATTERN);
    }

    c->re = pcre2_compile((PCRE2_SPTR) json_string_value(v->value),
                          json_string_length(v->value), 0, &errcode, &erroff,
                          ctx->pcre2_cctx);

    if (c->re == NULL) {
        if (errcode == PCRE2_ERROR_NOMEMORY) {
            return PERSONA_NOMEM;
        }

        pcre2_get_error_message(errcode, msg, sizeof(msg));
        persona_error_set(err, "expected a valid regular expression: %s",
                          (char *) msg);

        if (ctx->doc) {
            persona_json_string_pos(ctx->doc, v, erroff, &err->line,
                                    &err->column);

        } else {
            persona_json_at(err, v);
        }

        return PERSONA_ERROR;
    }

    /*
     * Machine code for the pattern where PCRE2 has a JIT (x86-64, ARM...):
     * pcre2_match() then uses it.  Without one, or when it fails, the
     * interpreter matches.
     */
    (void) pcre2_jit_compile(c->re, PCRE2_JIT_COMPLETE);

    return PERSONA_OK;
}


static int
persona_cond_cidr(persona_cidr_t *cidr, const persona_jnode_t *v,
    persona_error_t *err)
{
    size_t       len, i;
    unsigned     bits, max;
    const char  *s, *slash;

    if (!json_is_string(v->value)) {
        goto bad;
    }

    s = json_string_value(v->value);
    len = json_string_length(v->value);
    slash = memchr(s, '/', len);

    memset(cidr, 0, sizeof(persona_cidr_t));

    if (!persona_ip(s, slash ? (size_t) (slash - s) : len, cidr->addr,
                    &cidr->v6, 0))
    {
        goto bad;
    }

    max = cidr->v6 ? 128 : 32;
    bits = max;

    if (slash) {
        bits = 0;

        if (slash + 1 == s + len || s + len - slash > 4) {
            goto bad;
        }

        for (i = (size_t) (slash - s) + 1; i < len; i++) {
            if (s[i] < '0' || s[i] > '9') {
                goto bad;
            }

            bits = bits * 10 + (unsigned) (s[i] - '0');
        }

        if (bits > max) {
            goto bad;
        }
    }

    /* a v4-mapped v6 range is a v4 range */
    if (cidr->v6 && bits >= 96
        && memcmp(cidr->addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0)
    {
        memmove(cidr->addr, cidr->addr + 12, 4);
        memset(cidr->addr + 4, 0, 12);
        cidr->v6 = 0;
        bits -= 96;
    }

    cidr->bits = bits;

    /* clear the host bits */
    for (i = 0; i < 16; i++) {
        if (i * 8 >= bits) {
            cidr->addr[i] = 0;

        } else if (i * 8 + 8 > bits) {
            cidr->addr[i] &= (unsigned char) (0xff << (8 - (bits - i * 8)));
        }
    }

    return PERSONA_OK;

bad:

    persona_error_set(err, "expected an IPv4 or IPv6 address or CIDR such "
                      "as \"10.0.0.0/8\" or \"2001:db8::/32\"");
    persona_json_at(err, v);

    return PERSONA_ERROR;
}


void *
persona_cond_scratch_create(void)
{
    persona_scratch_t  *s;

    s = malloc(sizeof(persona_scratch_t));
    if (s == NULL) {
        return NULL;
    }

    s->md = pcre2_match_data_create(1, NULL);
    s->mctx = pcre2_match_context_create(NULL);

    if (s->md == NULL || s->mctx == NULL) {
        persona_cond_scratch_free(s);
        return NULL;
    }

    pcre2_set_match_limit(s->mctx, PERSONA_RE_MATCH_LIMIT);
    pcre2_set_depth_limit(s->mctx, PERSONA_RE_DEPTH_LIMIT);
    pcre2_set_heap_limit(s->mctx, PERSONA_RE_HEAP_LIMIT);

    return s;
}


void
persona_cond_scratch_free(void *scratch)
{
    persona_scratch_t  *s;

    s = scratch;

    if (s == NULL) {
        return;
    }

    if (s->md) {
        pcre2_match_data_free(s->md);
    }

    if (s->mctx) {
        pcre2_match_context_free(s->mctx);
    }

    free(s);
}


int
persona_cond_eval(const persona_cond_t *cond, const persona_eval_t *ev)
{
    return persona_cond_eval_node(cond, ev, NULL);
}


int
persona_cond_explain(const persona_cond_t *cond, const persona_eval_t *ev,
    const persona_cond_t **failed)
{
    *failed = NULL;

    return persona_cond_eval_node(cond, ev, failed);
}


static int
persona_cond_eval_node(const persona_cond_t *c, const persona_eval_t *ev,
    const persona_cond_t **failed)
{
    int                    rc;
    size_t                 i;
    const persona_cond_t  *f;

    f = NULL;

    /*
     * Three outcomes: 1, 0, and PERSONA_COND_LIMIT (a regex could not be
     * decided within its limits), which ends the evaluation: it is
     * neither true nor false, so "not" and "any" must not turn it into a
     * match.
     */

    switch (c->type) {

    case PERSONA_COND_ALL:
        for (i = 0; i < c->nsub; i++) {
            rc = persona_cond_eval_node(c->sub[i], ev, failed);
            if (rc != 1) {
                return rc;
            }
        }

        return 1;

    case PERSONA_COND_ANY:
        for (i = 0; i < c->nsub; i++) {
            rc = persona_cond_eval_node(c->sub[i], ev, failed ? &f : NULL);
            if (rc == PERSONA_COND_LIMIT && failed) {
                *failed = f;
            }

            if (rc != 0) {
                return rc;
            }
        }

        break;

    case PERSONA_COND_NOT:
        rc = persona_cond_eval_node(c->sub[0], ev, failed ? &f : NULL);
        if (rc == PERSONA_COND_LIMIT) {
            if (failed) {
                *failed = f;
            }

            return rc;
        }

        if (rc == 0) {
            return 1;
        }

        break;

    default:
        rc = persona_cond_eval_op(c, ev);
        if (rc == 1) {
            return 1;
        }

        if (rc == PERSONA_COND_LIMIT) {
            if (failed) {
                *failed = c;
            }

            return rc;
        }
    }

    if (failed) {
        *failed = c;
    }

    return 0;
}


static int
persona_cond_eval_op(const persona_cond_t *c, const persona_eval_t *ev)
{
    int                 rc;
    size_t              i;
    double              num;
    unsigned            v6, bits, k;
    persona_str_t       v;
    unsigned char       addr[16];
    persona_scratch_t  *scratch;
    const persona_cond_val_t  *val;

    v.data = NULL;
    v.len = 0;

    if (ev->lookup(ev->data, c->attr, &v) != PERSONA_ATTR_FOUND) {
        return c->type == PERSONA_OP_NE || c->type == PERSONA_OP_NIN
               || (c->type == PERSONA_OP_EXISTS && c->vals[0].num == 0);
    }

    if (v.data == NULL) {
        v.data = "";
        v.len = 0;
    }

    val = c->vals;

    switch (c->type) {

    case PERSONA_OP_EQ:
        return persona_val_eq(&val[0], v);

    case PERSONA_OP_NE:
        return !persona_val_eq(&val[0], v);

    case PERSONA_OP_IN:
    case PERSONA_OP_NIN:
        for (i = 0; i < c->nvals; i++) {
            if (persona_val_eq(&val[i], v)) {
                return c->type == PERSONA_OP_IN;
            }
        }

        return c->type == PERSONA_OP_NIN;

    case PERSONA_OP_GT:
    case PERSONA_OP_GTE:
    case PERSONA_OP_LT:
    case PERSONA_OP_LTE:
    case PERSONA_OP_BETWEEN:
        if (val[0].kind == PERSONA_VAL_DATE ? !persona_date(v.data, v.len, &num)
                                            : !persona_number(v.data, v.len,
                                                              &num))
        {
            return 0;
        }

        switch (c->type) {
        case PERSONA_OP_GT:
            return num > val[0].num;
        case PERSONA_OP_GTE:
            return num >= val[0].num;
        case PERSONA_OP_LT:
            return num < val[0].num;
        case PERSONA_OP_LTE:
            return num <= val[0].num;
        default:
            return num >= val[0].num && num <= val[1].num;
        }

    case PERSONA_OP_EXISTS:
        return (v.len > 0) == (val[0].num != 0);

    case PERSONA_OP_CONTAINS:
        for (i = 0; i + val[0].str.len <= v.len; i++) {
            if (memcmp(v.data + i, val[0].str.data, val[0].str.len) == 0) {
                return 1;
            }
        }

        return 0;

    case PERSONA_OP_PREFIX:
        return v.len >= val[0].str.len
               && memcmp(v.data, val[0].str.data, val[0].str.len) == 0;

    case PERSONA_OP_SUFFIX:
        return v.len >= val[0].str.len
               && memcmp(v.data + v.len - val[0].str.len, val[0].str.data,
                         val[0].str.len) == 0;

    case PERSONA_OP_REGEX:
        scratch = ev->scratch;
        if (scratch == NULL) {
            return PERSONA_COND_LIMIT;
        }

        rc = pcre2_match(c->re, (PCRE2_SPTR) v.data, v.len, 0, 0,
                         scratch->md, scratch->mctx);

        /* 0: matched, ovector too small for the captures */
        if (rc >= 0) {
            return 1;
        }

        /* match, depth, heap or JIT stack limit, out of memory: undecided */
        return rc == PCRE2_ERROR_NOMATCH ? 0 : PERSONA_COND_LIMIT;

    case PERSONA_OP_CIDR:
        if (!persona_ip(v.data, v.len, addr, &v6, 1)) {
            return 0;
        }

        for (i = 0; i < c->ncidrs; i++) {
            if (c->cidrs[i].v6 != v6) {
                continue;
            }

            bits = c->cidrs[i].bits;

            for (k = 0; k * 8 + 8 <= bits; k++) {
                if (addr[k] != c->cidrs[i].addr[k]) {
                    break;
                }
            }

            if (k * 8 + 8 <= bits) {
                continue;
            }

            if (bits % 8 == 0
                || (addr[k] & (unsigned char) (0xff << (8 - bits % 8)))
                   == c->cidrs[i].addr[k])
            {
                return 1;
            }
        }

        return 0;
    }

    return 0;
}


static int
persona_val_eq(const persona_cond_val_t *val, persona_str_t v)
{
    double  num;

    switch (val->kind) {

    case PERSONA_VAL_NUMBER:
        return persona_number(v.data, v.len, &num) && num == val->num;

    case PERSONA_VAL_BOOL:
        if (v.len == 1) {
            return v.data[0] == (val->num ? '1' : '0');
        }

        if (val->num) {
            return v.len == 4 && (v.data[0] | 0x20) == 't'
                   && (v.data[1] | 0x20) == 'r' && (v.data[2] | 0x20) == 'u'
                   && (v.data[3] | 0x20) == 'e';
        }

        return v.len == 5 && (v.data[0] | 0x20) == 'f'
               && (v.data[1] | 0x20) == 'a' && (v.data[2] | 0x20) == 'l'
               && (v.data[3] | 0x20) == 's' && (v.data[4] | 0x20) == 'e';

    default:
        return v.len == val->str.len
               && (v.len == 0 || memcmp(v.data, val->str.data, v.len) == 0);
    }
}


int
persona_number(const char *s, size_t len, double *out)
{
    char        buf[64];
    size_t      i, digits;

    if (len == 0 || len >= sizeof(buf)) {
        return 0;
    }

    i = 0;

    if (s[i] == '-' || s[i] == '+') {
        i++;
    }

    for (digits = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
        digits++;
    }

    if (i < len && s[i] == '.') {
        i++;

        for ( /* void */ ; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
            digits++;
        }
    }

    if (digits == 0) {
        return 0;
    }

    if (i < len && (s[i] == 'e' || s[i] == 'E')) {
        i++;

        if (i < len && (s[i] == '-' || s[i] == '+')) {
            i++;
        }

        for (digits = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++) {
            digits++;
        }

        if (digits == 0) {
            return 0;
        }
    }

    if (i != len) {
        return 0;
    }

    memcpy(buf, s, len);
    buf[len] = '\0';
    *out = strtod(buf, NULL);

    return 1;
}


/* "YYYY-MM-DD" -> yyyymmdd */
static int
persona_date(const char *s, size_t len, double *out)
{
    size_t    i;
    unsigned  y, m, d;

    if (len != 10 || s[4] != '-' || s[7] != '-') {
        return 0;
    }

    for (i = 0; i < 10; i++) {
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) {
            return 0;
        }
    }

    y = (unsigned) ((s[0] - '0') * 1000 + (s[1] - '0') * 100
                    + (s[2] - '0') * 10 + (s[3] - '0'));
    m = (unsigned) ((s[5] - '0') * 10 + (s[6] - '0'));
    d = (unsigned) ((s[8] - '0') * 10 + (s[9] - '0'));

    if (m < 1 || m > 12 || d < 1 || d > 31) {
        return 0;
    }

    *out = (double) (y * 10000 + m * 100 + d);

    return 1;
}


/*
 * IPv4 or IPv6 text -> 16 bytes (v4 in the first 4); with "mapped" an
 * IPv4-mapped IPv6 address becomes IPv4
 */
static int
persona_ip(const char *s, size_t len, unsigned char *addr, unsigned *v6,
    int mapped)
{
    char  buf[48];

    if (len == 0 || len >= sizeof(buf)) {
        return 0;
    }

    memcpy(buf, s, len);
    buf[len] = '\0';
    memset(addr, 0, 16);

    if (memchr(buf, ':', len) == NULL) {
        *v6 = 0;
        return inet_pton(AF_INET, buf, addr) == 1;
    }

    if (inet_pton(AF_INET6, buf, addr) != 1) {
        return 0;
    }

    *v6 = 1;

    if (mapped
        && memcmp(addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12) == 0)
    {
        memmove(addr, addr + 12, 4);
        memset(addr + 4, 0, 12);
        *v6 = 0;
    }

    return 1;
}


static int
persona_in_list(const char **list, const char *s, size_t len)
{
    for ( /* void */ ; *list; list++) {
        if (strlen(*list) == len && memcmp(*list, s, len) == 0) {
            return 1;
        }
    }

    return 0;
}


static const char *
persona_cond_opname(unsigned type)
{
    const persona_op_name_t  *op;

    for (op = persona_ops; op->name; op++) {
        if (op->type == type) {
            return op->name;
        }
    }

    return "?";
}


size_t
persona_cond_describe(const persona_cond_t *c, char *buf, size_t size)
{
    int     n;
    size_t  len;

    if (size == 0) {
        return 0;
    }

    switch (c->type) {

    case PERSONA_COND_ALL:
    case PERSONA_COND_ANY:
        n = snprintf(buf, size, "%s of %zu conditions",
                     c->type == PERSONA_COND_ALL ? "all" : "any", c->nsub);
        break;

    case PERSONA_COND_NOT:
        n = snprintf(buf, size, "not (");
        len = (n > 0 && (size_t) n < size) ? (size_t) n : 0;

        if (len) {
            len += persona_cond_describe(c->sub[0], buf + len, size - len);
        }

        if (len && len + 1 < size) {
            buf[len++] = ')';
            buf[len] = '\0';
        }

        return len;

    default:
        n = snprintf(buf, size, "%s %s %.*s", c->attr->full.data,
                     persona_cond_opname(c->type), (int) c->operand.len,
                     c->operand.data);
    }

    if (n < 0) {
        buf[0] = '\0';
        return 0;
    }

    return (size_t) n < size ? (size_t) n : size - 1;
}
