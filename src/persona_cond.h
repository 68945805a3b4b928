/*
 * Conditions ("when" of a segment), compiled once into a small tree.
 *
 *   { "attr": value }                   equals
 *   { "attr": { "op": value, ... } }    every op must hold
 *   { "a": ..., "b": ... }              every key must hold
 *   { "all": [c, ...] }  { "any": [c, ...] }  { "not": c }
 *
 * Ops: eq ne in nin gt gte lt lte between exists contains prefix suffix
 * regex cidr.  Semantics, for the value v of the attribute:
 *   - a missing attribute matches only ne, nin and "exists": false;
 *   - string operands compare bytes exactly (case-sensitive);
 *   - number operands (eq ne in nin gt gte lt lte between) compare v as
 *     a decimal number; a v that is not a number does not match (ne and
 *     nin: does match);
 *   - boolean operands: true matches "true" or "1", false matches
 *     "false" or "0" (ASCII case-insensitive);
 *   - gt gte lt lte between take numbers; on time.date they also take
 *     "YYYY-MM-DD" dates, compared as dates;
 *   - exists: true matches a present, non-empty value;
 *   - contains prefix suffix: string operand, bytes, case-sensitive;
 *   - regex: PCRE2 pattern (use (?i) for case-insensitive), unanchored,
 *     run with match, depth and heap limits; an error or a limit hit is
 *     "no match";
 *   - cidr: an address or CIDR, or an array of them (IPv4 and IPv6;
 *     IPv4-mapped IPv6 values match IPv4 ranges).
 * Evaluation allocates nothing and parses only the attribute value
 * (numbers, addresses).
 */

#ifndef PERSONA_COND_H
#define PERSONA_COND_H

#include "persona_attr.h"
#include "persona_json.h"


typedef enum {
    PERSONA_COND_ALL = 0,
    PERSONA_COND_ANY,
    PERSONA_COND_NOT,
    PERSONA_OP_EQ,
    PERSONA_OP_NE,
    PERSONA_OP_IN,
    PERSONA_OP_NIN,
    PERSONA_OP_GT,
    PERSONA_OP_GTE,
    PERSONA_OP_LT,
    PERSONA_OP_LTE,
    PERSONA_OP_BETWEEN,
    PERSONA_OP_EXISTS,
    PERSONA_OP_CONTAINS,
    PERSONA_OP_PREFIX,
    PERSONA_OP_SUFFIX,
    PERSONA_OP_REGEX,
    PERSONA_OP_CIDR
} persona_cond_type_e;


#define PERSONA_VAL_STRING  0
#define PERSONA_VAL_NUMBER  1
#define PERSONA_VAL_BOOL    2
#define PERSONA_VAL_DATE    3      /* YYYY-MM-DD kept in num as yyyymmdd */

typedef struct {
    persona_str_t   str;
    double          num;
    unsigned        kind;
} persona_cond_val_t;


typedef struct {
    unsigned char   addr[16];
    unsigned        bits;
    unsigned        v6;
} persona_cidr_t;


typedef struct persona_cond_s  persona_cond_t;

struct persona_cond_s {
    unsigned                type;       /* persona_cond_type_e */
    unsigned                line;       /* where it was written */
    unsigned                column;
    const persona_attr_t   *attr;       /* ops */
    persona_cond_t        **sub;        /* all, any, not */
    size_t                  nsub;
    persona_cond_val_t     *vals;       /* operand(s) */
    size_t                  nvals;
    persona_cidr_t         *cidrs;
    size_t                  ncidrs;
    void                   *re;         /* pcre2_code */
    persona_str_t           operand;    /* operand as JSON, for messages */
};


/* regex limits (PCRE2 match, depth and heap limits; pattern length) */
#define PERSONA_RE_MATCH_LIMIT   100000
#define PERSONA_RE_DEPTH_LIMIT   1000
#define PERSONA_RE_HEAP_LIMIT    1024        /* KiB */
#define PERSONA_RE_MAX_PATTERN   2048
#define PERSONA_COND_MAX_DEPTH   32


typedef struct {
    persona_alloc_t        *alloc;      /* tree, strings, compiled regexes */
    persona_attrs_t        *attrs;
    const persona_json_t   *doc;        /* to place regex errors exactly */
    void                   *pcre2_gctx; /* internal, start with NULL */
    void                   *pcre2_cctx;
} persona_cond_ctx_t;


/*
 * Compiles a condition node.  Everything, PCRE2 code included, comes
 * from ctx->alloc, so the owner of the allocator frees it all at once.
 * On error: PERSONA_ERROR with err->msg (what was expected) and
 * err->line/column of the offending key or value; PERSONA_NOMEM.
 */
int persona_cond_compile(persona_cond_t **cond, const persona_jnode_t *when,
    persona_cond_ctx_t *ctx, persona_error_t *err);


typedef struct {
    persona_lookup_pt       lookup;
    void                   *data;
    /* from persona_cond_scratch_create(): PCRE2 match data and match
     * context with the limits; reusable across evaluations, not shared
     * between threads; NULL: regex conditions are PERSONA_COND_LIMIT */
    void                   *scratch;
} persona_eval_t;


/*
 * 1 when the condition holds, 0 otherwise, PERSONA_COND_LIMIT when a regex
 * could not be decided within PCRE2's limits (match, depth, heap): the
 * condition as a whole then holds for no one, whatever "not" or "any"
 * surround the regex (a long input must not flip "not regex" to true).
 */
#define PERSONA_COND_LIMIT  (-1)

int persona_cond_eval(const persona_cond_t *cond, const persona_eval_t *ev);

/*
 * The same, and when it does not hold *failed is the first condition
 * that failed: the leaf op under "all" / implicit all, or the "any" or
 * "not" node itself; for PERSONA_COND_LIMIT the regex op.
 */
int persona_cond_explain(const persona_cond_t *cond,
    const persona_eval_t *ev, const persona_cond_t **failed);

/* "profile.ltv gte 1000", "any of 3 conditions", ... into buf (NUL) */
size_t persona_cond_describe(const persona_cond_t *cond, char *buf,
    size_t size);

/* regex scratch (malloc'd, NULL when out of memory) and its release */
void *persona_cond_scratch_create(void);
void persona_cond_scratch_free(void *scratch);

/* strict decimal number: [-+]?digits[.digits][e[-+]digits]; 1 if ok */
int persona_number(const char *s, size_t len, double *out);


#endif /* PERSONA_COND_H */
