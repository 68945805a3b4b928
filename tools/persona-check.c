/*
 * persona-check: the marketers' tool for rules files, built from the same
 * core as the nginx module (src/persona_*.c), so what it accepts nginx
 * accepts, and what it says a visitor gets is what nginx does.
 *
 * Usage:
 *   persona-check RULES [--explain ATTRS.json] [--test CASES.json ...]
 *                 [--id ID]
 *   persona-check [RULES] --preview-link URL VALUE --token T [--ttl 1d]
 *
 *   RULES               a rules file, or a folder of *.json rules files
 *                       (loaded in name order, like persona_rules)
 *   --explain ATTRS     show which segment a visitor with these attributes
 *                       gets and why: every segment's verdict with the
 *                       first condition that failed, the experience that
 *                       applies and its rendered headers and blocks
 *   --test CASES        run expectation cases; may be repeated
 *   --id ID             visitor id for experiments in --explain (bucketing
 *                       needs an id; test cases carry their own "id");
 *                       alone: the variant of that id in every experiment
 *                       (buckets, holdout, segments; tools/check_id.c)
 *   --preview-link URL VALUE
 *                       print URL with a signed preview link for VALUE
 *                       (SEGMENT[,EXPERIMENT=VARIANT...]), keyed by
 *                       --token T (or $PERSONA_PREVIEW_TOKEN), valid for
 *                       --ttl (default 1d, at most 7d; s, m, h, d); with
 *                       RULES the names in VALUE are checked first
 *                       (tools/check_preview.c)
 *
 * Without --explain, --test or --id the rules are only checked.
 *
 * Output: errors go to stderr as "file:line:column: what was expected",
 * the form editors and CI logs link to; warnings as "warning: ...".
 * --explain and --test write a report to stdout; --test prints one
 * "ok N - name" or "not ok N - name" line per case (TAP), followed by
 * "#   what: expected X, got Y" lines for each difference, and a summary.
 *
 * Exit codes:
 *   0  rules valid (and every test case passed)
 *   1  rules invalid: the error is on stderr
 *   2  usage error, or an ATTRS / CASES file that cannot be read or is
 *      not in the format below (error on stderr, with its position)
 *   3  rules valid, but at least one test case failed
 *
 * ATTRS.json: one object, attribute name -> value, as a rule names them:
 *   {
 *     "profile.tier": "gold",          strings, numbers and true/false;
 *     "profile.ltv": 1250,             numbers and booleans are compared
 *     "arg.utm_source": "tiktok",      as their JSON text, null = absent
 *     "header.User-Agent": "Mozilla/5.0 (iPhone; ...)",
 *     "geo.country": "FR",
 *     "time.hour": 9,
 *     "profile": { "address": { "city": "Lyon" } }
 *   }
 * "profile" may also hold the profile as nested JSON (flattened to
 * profile.address.city, as nginx does with JSON profiles).  Header names
 * match case-insensitively.  When not given: "device" is computed from
 * header.User-Agent and "lang" from header.Accept-Language (as nginx
 * does), "visitor.known" is true when any profile.* value is given,
 * "visitor.new" is false.  time.* are never taken from the clock: give
 * them when rules use them.
 *
 * CASES.json: an array of cases, or { "cases": [ ... ] }; a case:
 *   {
 *     "name": "gold members are vip",     shown in the report
 *     "attributes": { ... },              as in ATTRS.json
 *     "id": "visitor-1",                  optional, for experiments
 *     "expect": {                         every key optional
 *       "segment": "vip",                 $persona_segment
 *       "segments": ["vip", "spender"],   $persona_segments, in order
 *       "experience": "vip",              null: no experience applies
 *       "variants": { "hero-copy": "urgency" },   null: not in it
 *       "request_headers":  { "X-Offer": "free-shipping" },
 *       "response_headers": { "X-Gone": null },
 *       "blocks": { "hero": { "contains": "Welcome back" } },
 *       "landing":  { "/": "/lp/vip.html" },
 *       "redirect": { "/promo": null },
 *       "goals": ["purchase"]             goals converting, in file order
 *     }
 *   }
 * For headers, blocks, landing and redirect a string must equal the
 * rendered value exactly, { "contains": "..." } must occur in it, and
 * null means "not sent" (no such entry, or a header that renders empty).
 * Variants override the experience; when several experiments set the
 * same header, block or path, the first experiment in file order wins.
 */

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "persona_attr.h"
#include "persona_bucket.h"
#include "persona_experiment.h"
#include "persona_json.h"
#include "persona_rules.h"
#include "persona_template.h"

#include "check.h"


#define CHECK_OK        0
#define CHECK_INVALID   1
#define CHECK_USAGE     2
#define CHECK_FAILED    3

#define CHECK_MAX_EXPERIMENTS  64


typedef struct check_chunk_s  check_chunk_t;

struct check_chunk_s {
    check_chunk_t  *next;
    long double     data[];
};


typedef struct {
    persona_str_t   name;
    persona_str_t   value;
} check_kv_t;


typedef struct {
    check_kv_t     *kv;
    size_t          n;
    size_t          nalloc;
    char            lang[PERSONA_LANG_MAX];
} check_attrs_t;


/* the experience a visitor gets: base plus the variants' overrides,
 * merged as nginx merges them (persona_experience_merge) */
typedef struct {
    const persona_experience_t  *base;
    persona_experience_t         merged;
    const persona_experiment_t  *exp[CHECK_MAX_EXPERIMENTS];
    const persona_variant_t     *variant[CHECK_MAX_EXPERIMENTS];
    unsigned                     bucket[CHECK_MAX_EXPERIMENTS];
    size_t                       nexp;
} check_view_t;


typedef struct {
    persona_rules_t    *rules;
    const char         *id;
    check_chunk_t      *chunks;
    persona_alloc_t     alloc;
    unsigned            dry;        /* check the cases file, print nothing */
    unsigned            failures;   /* differences in the current case */
    char                diag[8192]; /* their "#   ..." lines */
    size_t              ndiag;
} check_t;


static void *check_alloc(void *data, size_t size);
static void check_free_all(check_t *ck);
static int check_read(check_t *ck, const char *path, persona_json_t *doc);
static int check_attrs(check_t *ck, const char *file,
    const persona_jnode_t *obj, check_attrs_t *attrs);
static int check_add(check_t *ck, check_attrs_t *attrs, const char *name,
    size_t nlen, json_t *v);
static int check_flatten(check_t *ck, check_attrs_t *attrs, char *prefix,
    size_t plen, json_t *obj, int depth);
static void check_derive(check_t *ck, check_attrs_t *attrs);
static int check_lookup(void *data, const persona_attr_t *attr,
    persona_str_t *value);
static const persona_str_t *check_get(check_attrs_t *attrs, const char *name);
static void check_view(check_t *ck, const persona_result_t *res,
    const char *id, check_view_t *view);
static int check_explain(check_t *ck, const char *path);
static int check_expect_goals(check_t *ck, const char *file,
    const persona_jnode_t *w, check_attrs_t *attrs);
static void check_explain_goals(check_t *ck, check_attrs_t *attrs);
static int check_bot(check_attrs_t *attrs);
static int check_test(check_t *ck, const char *path);
static int check_case(check_t *ck, const char *file, size_t i,
    const persona_jnode_t *c);
static const persona_header_t *check_header(const check_view_t *view,
    int request, const char *name, size_t len);
static const persona_block_t *check_block(const check_view_t *view,
    const char *name, size_t len);
static const persona_route_t *check_route(const check_view_t *view,
    int redirect, const char *path, size_t len);
static void check_print_view(check_t *ck, const check_view_t *view,
    check_attrs_t *attrs);
static int check_keys(const char *file, const persona_jnode_t *obj,
    const char **allowed, const char *what);
static int check_fail(const char *file, const persona_jnode_t *n, int key,
    const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 4, 5)))
#endif
    ;
static void check_diff(check_t *ck, const char *what, const char *want,
    const char *got, size_t got_len);
static int check_id_ok(const char *id);
static int check_contains(const char *hay, size_t len, const char *needle,
    size_t nlen);
static void usage(void);


int
main(int argc, char **argv)
{
    int               i, rc, status;
    size_t            k, ntests;
    check_t           ck;
    int64_t           ttl;
    const char       *rules_path, *explain, *tests[64];
    const char       *link_url, *link_value, *token;
    persona_error_t   err;

    rules_path = NULL;
    explain = NULL;
    ntests = 0;
    link_url = NULL;
    link_value = NULL;
    token = getenv("PERSONA_PREVIEW_TOKEN");
    ttl = 86400;

    memset(&ck, 0, sizeof(check_t));
    ck.alloc.alloc = check_alloc;
    ck.alloc.data = &ck;

    for (i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--explain") == 0 && i + 1 < argc && !explain) {
            explain = argv[++i];

        } else if (strcmp(argv[i], "--test") == 0 && i + 1 < argc
                   && ntests < 64)
        {
            tests[ntests++] = argv[++i];

        } else if (strcmp(argv[i], "--id") == 0 && i + 1 < argc) {
            ck.id = argv[++i];

        } else if (strcmp(argv[i], "--preview-link") == 0 && i + 2 < argc
                   && link_url == NULL)
        {
            link_url = argv[++i];
            link_value = argv[++i];

        } else if (strcmp(argv[i], "--token") == 0 && i + 1 < argc) {
            token = argv[++i];

        } else if (strcmp(argv[i], "--ttl") == 0 && i + 1 < argc) {
            ttl = check_duration(argv[++i]);

            if (ttl < 0) {
                fprintf(stderr, "persona-check: --ttl \"%s\": expected a "
                        "duration such as 3600, 90m, 12h or 1d\n", argv[i]);
                return CHECK_USAGE;
            }

        } else if (strcmp(argv[i], "--help") == 0
                   || strcmp(argv[i], "-h") == 0)
        {
            usage();
            return CHECK_OK;

        } else if (argv[i][0] != '-' && rules_path == NULL) {
            rules_path = argv[i];

        } else {
            usage();
            return CHECK_USAGE;
        }
    }

    if (link_url && token == NULL) {
        fprintf(stderr, "persona-check: --preview-link needs --token T "
                "(or PERSONA_PREVIEW_TOKEN in the environment)\n");
        return CHECK_USAGE;
    }

    if (link_url && rules_path == NULL) {
        return check_preview_link(NULL, link_url, link_value, token,
                                  (int64_t) time(NULL), ttl)
               ? CHECK_USAGE : CHECK_OK;
    }

    if (rules_path == NULL) {
        usage();
        return CHECK_USAGE;
    }

    if (ck.id && !check_id_ok(ck.id)) {
        fprintf(stderr, "persona-check: --id \"%s\": expected 1 to 128 "
                "bytes of letters, digits and ._:@-\n", ck.id);
        return CHECK_USAGE;
    }

    rc = persona_rules_load(&ck.rules, rules_path, NULL, &err);

    if (rc != PERSONA_OK) {
        fprintf(stderr, "%s\n", err.msg);
        return CHECK_INVALID;
    }

    for (k = 0; k < ck.rules->nwarnings; k++) {
        fprintf(stderr, "warning: %s\n", ck.rules->warnings[k]);
    }

    if (link_url) {
        rc = check_preview_link(ck.rules, link_url, link_value, token,
                                (int64_t) time(NULL), ttl);
        persona_rules_free(ck.rules);
        check_free_all(&ck);

        return rc ? CHECK_USAGE : CHECK_OK;
    }

    if (explain == NULL && ntests == 0) {
        printf("%s: ok: %zu segment%s, %zu experience%s, %zu experiment%s"
               " (%zu file%s)\n", rules_path,
               ck.rules->nsegments, ck.rules->nsegments == 1 ? "" : "s",
               ck.rules->nexperiences,
               ck.rules->nexperiences == 1 ? "" : "s",
               ck.rules->nexperiments,
               ck.rules->nexperiments == 1 ? "" : "s",
               ck.rules->nfiles, ck.rules->nfiles == 1 ? "" : "s");
    }

    status = CHECK_OK;

    if (ck.id && explain == NULL && ntests == 0) {
        check_ids(ck.rules, ck.id);
    }

    if (explain) {
        status = check_explain(&ck, explain);
    }

    for (k = 0; k < ntests && status != CHECK_USAGE; k++) {
        rc = check_test(&ck, tests[k]);

        if (rc > status) {
            status = rc;
        }
    }

    persona_rules_free(ck.rules);
    check_free_all(&ck);

    return status;
}


static void
usage(void)
{
    fprintf(stderr,
            "usage: persona-check RULES [--explain ATTRS.json] "
            "[--test CASES.json ...] [--id ID]\n"
            "       persona-check [RULES] --preview-link URL VALUE "
            "--token T [--ttl 1d]\n"
            "  checks a rules file or folder; exit 0 valid, 1 invalid,\n"
            "  2 usage or bad ATTRS/CASES file, 3 a test case failed\n");
}


static void *
check_alloc(void *data, size_t size)
{
    check_t        *ck;
    check_chunk_t  *c;

    ck = data;

    c = malloc(sizeof(check_chunk_t) + size);
    if (c == NULL) {
        fprintf(stderr, "persona-check: out of memory\n");
        exit(CHECK_USAGE);
    }

    c->next = ck->chunks;
    ck->chunks = c;

    return c->data;
}


static void
check_free_all(check_t *ck)
{
    check_chunk_t  *c, *next;

    for (c = ck->chunks; c; c = next) {
        next = c->next;
        free(c);
    }

    ck->chunks = NULL;
}


/* reads and parses a JSON file with positions */
static int
check_read(check_t *ck, const char *path, persona_json_t *doc)
{
    FILE             *f;
    char             *buf;
    size_t            len, n;
    persona_error_t   err;

    f = fopen(path, "rb");
    if (f == NULL) {
        fprintf(stderr, "%s: cannot read: %s\n", path, strerror(errno));
        return CHECK_USAGE;
    }

    len = 0;
    buf = check_alloc(ck, 4 * 1024 * 1024 + 1);

    while ((n = fread(buf + len, 1, 4 * 1024 * 1024 - len, f)) > 0) {
        len += n;
    }

    if (ferror(f) || !feof(f)) {
        fprintf(stderr, "%s: cannot read (larger than 4 MiB?)\n", path);
        fclose(f);
        return CHECK_USAGE;
    }

    fclose(f);

    if (persona_json_parse(doc, buf, len, &ck->alloc, &err) != PERSONA_OK) {
        fprintf(stderr, "%s:%u:%u: %s\n", path, err.line, err.column,
                err.msg);
        return CHECK_USAGE;
    }

    return CHECK_OK;
}


/* ATTRS object -> name/value list */
static int
check_attrs(check_t *ck, const char *file, const persona_jnode_t *obj,
    check_attrs_t *attrs)
{
    int                    rc;
    char                   prefix[1024];
    size_t                 i;
    const persona_jnode_t *m;
    persona_attrs_t        probe;
    persona_error_t        err;

    memset(attrs, 0, sizeof(check_attrs_t));

    if (!json_is_object(obj->value)) {
        return check_fail(file, obj, 0, "expected an object of attributes "
                          "such as { \"profile.tier\": \"gold\" }");
    }

    persona_attrs_init(&probe, &ck->alloc);

    for (i = 0; i < obj->nchild; i++) {
        m = &obj->child[i];

        if (strcmp(m->key.data, "profile") == 0 && json_is_object(m->value)) {
            memcpy(prefix, "profile", 7);
            rc = check_flatten(ck, attrs, prefix, 7, m->value, 0);
            if (rc != CHECK_OK) {
                return check_fail(file, m, 0, "expected a profile of at "
                                  "most 8 levels and 1000-byte names");
            }

            continue;
        }

        /* the same names rules use: catches typos in test data */
        if (persona_attr_resolve(&probe, m->key.data, m->key.len, &err)
            == NULL)
        {
            return check_fail(file, m, 1, "%s", err.msg);
        }

        if (json_is_object(m->value) || json_is_array(m->value)) {
            return check_fail(file, m, 0, "expected a string, a number, "
                              "true/false or null");
        }

        if (check_add(ck, attrs, m->key.data, m->key.len, m->value)
            != CHECK_OK)
        {
            return CHECK_USAGE;
        }
    }

    check_derive(ck, attrs);

    return CHECK_OK;
}


static int
check_add(check_t *ck, check_attrs_t *attrs, const char *name, size_t nlen,
    json_t *v)
{
    char         buf[64], *dump;
    size_t       len;
    check_kv_t  *kv;
    const char  *s;

    if (json_is_null(v)) {
        return CHECK_OK;
    }

    if (json_is_string(v)) {
        s = json_string_value(v);
        len = json_string_length(v);

    } else if (json_is_true(v) || json_is_false(v)) {
        s = json_is_true(v) ? "true" : "false";
        len = strlen(s);

    } else if (json_is_integer(v)) {
        len = (size_t) snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT,
                                json_integer_value(v));
        s = buf;

    } else if (json_is_real(v)) {
        dump = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
        if (dump == NULL) {
            return CHECK_USAGE;
        }

        len = strlen(dump) < sizeof(buf) - 1 ? strlen(dump) : sizeof(buf) - 1;
        memcpy(buf, dump, len);
        free(dump);
        s = buf;

    } else {
        return CHECK_OK;
    }

    if (attrs->n == attrs->nalloc) {
        attrs->nalloc = attrs->nalloc ? attrs->nalloc * 2 : 32;
        kv = check_alloc(ck, attrs->nalloc * sizeof(check_kv_t));

        if (attrs->n) {
            memcpy(kv, attrs->kv, attrs->n * sizeof(check_kv_t));
        }

        attrs->kv = kv;
    }

    kv = &attrs->kv[attrs->n++];
    kv->name.data = persona_strndup(&ck->alloc, name, nlen);
    kv->name.len = nlen;
    kv->value.data = persona_strndup(&ck->alloc, s, len);
    kv->value.len = len;

    return CHECK_OK;
}


/* "profile": { "a": { "b": 1 } } -> profile.a.b = 1 */
static int
check_flatten(check_t *ck, check_attrs_t *attrs, char *prefix, size_t plen,
    json_t *obj, int depth)
{
    size_t       klen;
    json_t      *v;
    const char  *key;

    if (depth >= 8) {
        return CHECK_USAGE;
    }

    json_object_foreach(obj, key, v) {
        klen = strlen(key);

        if (plen + 1 + klen >= 1024) {
            return CHECK_USAGE;
        }

        prefix[plen] = '.';
        memcpy(prefix + plen + 1, key, klen);

        if (json_is_object(v)) {
            if (check_flatten(ck, attrs, prefix, plen + 1 + klen, v,
                              depth + 1) != CHECK_OK)
            {
                return CHECK_USAGE;
            }

            continue;
        }

        if (json_is_array(v)) {
            continue;
        }

        if (check_add(ck, attrs, prefix, plen + 1 + klen, v) != CHECK_OK) {
            return CHECK_USAGE;
        }
    }

    return CHECK_OK;
}


/* what nginx computes by itself: device, lang, visitor.* */
static void
check_derive(check_t *ck, check_attrs_t *attrs)
{
    size_t                i, n;
    json_t               *v;
    persona_str_t         name;
    const persona_str_t  *ua, *al;

    if (check_get(attrs, "device") == NULL) {
        ua = check_get(attrs, "header.user-agent");

        if (ua) {
            name = persona_device_name(persona_device(ua->data, ua->len));
            v = json_stringn(name.data, name.len);
            check_add(ck, attrs, "device", 6, v);
            json_decref(v);
        }
    }

    if (check_get(attrs, "lang") == NULL) {
        al = check_get(attrs, "header.accept-language");

        if (al) {
            n = persona_lang(al->data, al->len, attrs->lang);

            if (n) {
                v = json_stringn(attrs->lang, n);
                check_add(ck, attrs, "lang", 4, v);
                json_decref(v);
            }
        }
    }

    if (check_get(attrs, "visitor.known") == NULL) {
        for (i = 0; i < attrs->n; i++) {
            if (strncmp(attrs->kv[i].name.data, "profile.", 8) == 0) {
                break;
            }
        }

        check_add(ck, attrs, "visitor.known", 13,
                  i < attrs->n ? json_true() : json_false());
    }

    if (check_get(attrs, "visitor.new") == NULL) {
        check_add(ck, attrs, "visitor.new", 11, json_false());
    }
}


/* header names match case-insensitively, everything else exactly */
static const persona_str_t *
check_get(check_attrs_t *attrs, const char *name)
{
    size_t       i, len;
    int          header;
    check_kv_t  *kv;

    len = strlen(name);
    header = (strncmp(name, "header.", 7) == 0);

    for (i = 0; i < attrs->n; i++) {
        kv = &attrs->kv[i];

        if (kv->name.len != len) {
            continue;
        }

        if (header ? strncasecmp(kv->name.data, name, len) == 0
                   : memcmp(kv->name.data, name, len) == 0)
        {
            return &kv->value;
        }
    }

    return NULL;
}


static int
check_lookup(void *data, const persona_attr_t *attr, persona_str_t *value)
{
    char                  name[1100];
    const persona_str_t  *v;

    if (attr->ns == PERSONA_ATTR_HEADER) {
        if (attr->name.len > 1000) {
            return PERSONA_ATTR_NOT_FOUND;
        }

        memcpy(name, "header.", 7);
        memcpy(name + 7, attr->name.data, attr->name.len);
        name[7 + attr->name.len] = '\0';
        v = check_get(data, name);

    } else {
        v = check_get(data, attr->full.data);
    }

    if (v == NULL) {
        return PERSONA_ATTR_NOT_FOUND;
    }

    *value = *v;

    return PERSONA_ATTR_FOUND;
}


/* experiments of the segment, and the variant when there is an id */
static void
check_view(check_t *ck, const persona_result_t *res, const char *id,
    check_view_t *view)
{
    size_t                        i, nover;
    const persona_variant_t      *v;
    const persona_experiment_t   *x;
    const persona_experience_t   *over[CHECK_MAX_EXPERIMENTS];

    memset(view, 0, sizeof(check_view_t));
    view->base = res->experience;
    nover = 0;

    for (i = 0; i < ck->rules->nexperiments
                && view->nexp < CHECK_MAX_EXPERIMENTS; i++)
    {
        x = &ck->rules->experiments[i];

        if (!persona_experiment_applies(x, res->segment.data,
                                        res->segment.len))
        {
            continue;
        }

        view->exp[view->nexp] = x;
        view->variant[view->nexp] = NULL;

        if (id) {
            v = persona_bucket_variant(x, id, strlen(id),
                                       &view->bucket[view->nexp]);
            view->variant[view->nexp] = v;

            if (v) {
                over[nover++] = &v->overrides;
            }
        }

        view->nexp++;
    }

    /* check_alloc() exits when memory runs out: the merge cannot fail */
    (void) persona_experience_merge(view->base, over, nover, &ck->alloc,
                                    &view->merged);
}


static const persona_header_t *
check_header(const check_view_t *view, int request, const char *name,
    size_t len)
{
    size_t                   k, n;
    const persona_header_t  *h;

    h = request ? view->merged.request_headers
                : view->merged.response_headers;
    n = request ? view->merged.nrequest_headers
                : view->merged.nresponse_headers;

    for (k = 0; k < n; k++) {
        if (h[k].name.len == len
            && strncasecmp(h[k].name.data, name, len) == 0)
        {
            return &h[k];
        }
    }

    return NULL;
}


static const persona_block_t *
check_block(const check_view_t *view, const char *name, size_t len)
{
    size_t                  k;
    const persona_block_t  *b;

    b = view->merged.blocks;

    for (k = 0; k < view->merged.nblocks; k++) {
        if (b[k].name.len == len && memcmp(b[k].name.data, name, len) == 0) {
            return &b[k];
        }
    }

    return NULL;
}


static const persona_route_t *
check_route(const check_view_t *view, int redirect, const char *path,
    size_t len)
{
    size_t                  k, n;
    const persona_route_t  *r;

    r = redirect ? view->merged.redirect : view->merged.landing;
    n = redirect ? view->merged.nredirect : view->merged.nlanding;

    for (k = 0; k < n; k++) {
        if (r[k].path.len == len && memcmp(r[k].path.data, path, len) == 0) {
            return &r[k];
        }
    }

    return NULL;
}


/* --explain */

static int
check_explain(check_t *ck, const char *path)
{
    int                       rc, ok;
    char                      desc[512];
    size_t                    i;
    check_view_t              view;
    check_attrs_t             attrs;
    persona_str_t            *matches, v;
    persona_eval_t            ev;
    persona_json_t            doc;
    persona_result_t          res;
    const persona_cond_t     *failed;
    const persona_segment_t  *seg;

    rc = check_read(ck, path, &doc);
    if (rc != CHECK_OK) {
        return rc;
    }

    rc = check_attrs(ck, path, doc.root, &attrs);
    persona_json_close(&doc);

    if (rc != CHECK_OK) {
        return rc;
    }

    matches = check_alloc(ck, (ck->rules->nsegments + 1)
                              * sizeof(persona_str_t));
    res.matches = matches;
    persona_rules_eval(ck->rules, check_lookup, &attrs, &res);

    printf("segment: %.*s%s\n", (int) res.segment.len, res.segment.data,
           res.matched ? "" : " (the default: no segment matched)");
    printf("segments:");

    for (i = 0; i < res.nmatches; i++) {
        printf("%s%.*s", i ? "," : " ", (int) res.matches[i].len,
               res.matches[i].data);
    }

    printf("%s\n\nsegments in order:\n", res.nmatches ? "" : " (none)");

    ev.lookup = check_lookup;
    ev.data = &attrs;
    ev.scratch = ck->rules->scratch;

    for (i = 0; i < ck->rules->nsegments; i++) {
        seg = &ck->rules->segments[i];

        if (seg->from) {
            ok = check_lookup(&attrs, seg->from, &v) == PERSONA_ATTR_FOUND;

            printf("  %-20s %s:%u:%u: from %s: ", "(from)", seg->file,
                   seg->line, seg->column, seg->from->full.data);

            if (!ok || v.len == 0) {
                printf("no value\n");

            } else if (!persona_segment_name_valid(v.data, v.len)) {
                printf("\"%.*s\" ignored: not a segment name\n",
                       (int) (v.len > 64 ? 64 : v.len), v.data);

            } else {
                printf("match: %.*s\n", (int) v.len, v.data);
            }

            continue;
        }

        ok = persona_cond_explain(seg->when, &ev, &failed);

        printf("  %-20s %s:%u:%u: %s\n", seg->name.data, seg->file,
               seg->line, seg->column,
               ok == PERSONA_COND_LIMIT
               ? "no match (a regex exceeded PCRE2's limits)"
               : ok ? "match" : "no match");

        if (ok == PERSONA_COND_LIMIT) {
            ok = 0;
        }

        if (!ok && failed) {
            persona_cond_describe(failed, desc, sizeof(desc));
            printf("  %-20s   first failing condition, %s:%u:%u: %s", "",
                   seg->file, failed->line, failed->column, desc);

            if (failed->attr) {
                if (check_lookup(&attrs, failed->attr, &v)
                    == PERSONA_ATTR_FOUND)
                {
                    printf(" (value: \"%.*s\"%s)",
                           (int) (v.len > 60 ? 60 : v.len), v.data,
                           v.len > 60 ? "..." : "");

                } else {
                    printf(" (value: absent)");
                }
            }

            printf("\n");
        }
    }

    check_view(ck, &res, check_bot(&attrs) ? NULL : ck->id, &view);

    printf("\n");
    check_print_view(ck, &view, &attrs);

    check_explain_goals(ck, &attrs);

    return CHECK_OK;
}


/* crawlers are in no experiment, as in nginx */
static int
check_bot(check_attrs_t *attrs)
{
    const persona_str_t  *d;

    d = check_get(attrs, "device");

    return d && d->len == 3 && memcmp(d->data, "bot", 3) == 0;
}


/* which goals the request would convert (written with persona_track on) */
static void
check_explain_goals(check_t *ck, check_attrs_t *attrs)
{
    int                    ok;
    size_t                 i;
    persona_eval_t         ev;
    const persona_goal_t  *g;
    const persona_cond_t  *failed;

    if (ck->rules->ngoals == 0) {
        return;
    }

    ev.lookup = check_lookup;
    ev.data = attrs;
    ev.scratch = ck->rules->scratch;

    printf("\ngoals:\n");

    for (i = 0; i < ck->rules->ngoals; i++) {
        g = &ck->rules->goals[i];

        ok = persona_cond_explain(g->when, &ev, &failed);

        printf("  %-20s %s:%u:%u: %s\n", g->name.data, g->file, g->line,
               g->column,
               ok == PERSONA_COND_LIMIT
               ? "no conversion (a regex exceeded PCRE2's limits)"
               : ok ? "conversion" : "no conversion");
    }
}


static void
check_print_view(check_t *ck, const check_view_t *view, check_attrs_t *attrs)
{
    int                          request;
    char                         hbuf[PERSONA_HEADER_MAX];
    size_t                       i, k, n, len;
    persona_str_t                out;
    const persona_block_t       *b;
    const persona_route_t       *r;
    const persona_header_t      *h;
    const persona_experience_t  *e;
    const persona_experiment_t  *x;

    if (view->base) {
        printf("experience: %s (%s:%u:%u)\n", view->base->name.data,
               view->base->file, view->base->line, view->base->column);

    } else {
        printf("experience: none\n");
    }

    for (i = 0; i < view->nexp; i++) {
        x = view->exp[i];

        if (view->variant[i]) {
            printf("experiment %s: variant %s (bucket %u)", x->name.data,
                   view->variant[i]->name.data, view->bucket[i]);

            if (x->cap_max && view->variant[i] != &x->variants[0]) {
                printf(", shown at most %u times per %u%s, then %s",
                       x->cap_max,
                       x->cap_per % 86400 == 0 ? x->cap_per / 86400
                       : x->cap_per % 3600 == 0 ? x->cap_per / 3600
                       : x->cap_per % 60 == 0 ? x->cap_per / 60
                       : x->cap_per,
                       x->cap_per % 86400 == 0 ? "d"
                       : x->cap_per % 3600 == 0 ? "h"
                       : x->cap_per % 60 == 0 ? "m" : "s",
                       x->variants[0].name.data);
            }

            printf("\n");

        } else if (ck->id && view->exp[i]) {
            printf("experiment %s: not in it (holdout, bucket %u)\n",
                   x->name.data, view->bucket[i]);

        } else {
            printf("experiment %s: applies; give --id to pick a variant\n",
                   x->name.data);
        }
    }

    /* every name once, rendered as nginx would */

    e = &view->merged;

    for (request = 1; request >= 0; request--) {
        h = request ? e->request_headers : e->response_headers;
        n = request ? e->nrequest_headers : e->nresponse_headers;

        for (k = 0; k < n; k++) {
            len = persona_template_render(h[k].value, PERSONA_ESCAPE_HEADER,
                                          check_lookup, attrs, hbuf,
                                          sizeof(hbuf));
            printf("  %s header %s: ", request ? "request" : "response",
                   h[k].name.data);

            if (len == 0) {
                printf("(renders empty: not sent)\n");

            } else {
                printf("%.*s\n", (int) len, hbuf);
            }
        }
    }

    for (k = 0; k < e->nblocks; k++) {
        b = &e->blocks[k];

        persona_template_render_alloc(b->tpl, PERSONA_ESCAPE_HTML,
                                      check_lookup, attrs, &ck->alloc, &out);
        printf("  block %s: %.*s%s", b->name.data, (int) out.len, out.data,
               (out.len && out.data[out.len - 1] == '\n') ? "" : "\n");
    }

    for (k = 0; k < e->nlanding; k++) {
        r = &e->landing[k];
        printf("  landing %s -> %s\n", r->path.data, r->target.data);
    }

    for (k = 0; k < e->nredirect; k++) {
        r = &e->redirect[k];
        printf("  redirect %s -> %s (302)\n", r->path.data, r->target.data);
    }
}


/* --test */

static int
check_test(check_t *ck, const char *path)
{
    int                    rc;
    size_t                 i, failed;
    persona_json_t         doc;
    const persona_jnode_t *cases;

    static const char  *top_keys[] = { "cases", "description", "$schema",
                                       NULL };

    rc = check_read(ck, path, &doc);
    if (rc != CHECK_OK) {
        return rc;
    }

    cases = doc.root;

    if (json_is_object(cases->value)) {
        rc = check_keys(path, cases, top_keys, "a cases file");
        if (rc != CHECK_OK) {
            goto done;
        }

        cases = persona_json_get(doc.root, "cases");
        if (cases == NULL) {
            rc = check_fail(path, doc.root, 0, "expected \"cases\": an array "
                            "of test cases");
            goto done;
        }
    }

    if (!json_is_array(cases->value)) {
        rc = check_fail(path, cases, 0, "expected an array of test cases");
        goto done;
    }

    /* the whole file must be well-formed before anything runs */
    ck->dry = 1;

    for (i = 0; i < cases->nchild; i++) {
        rc = check_case(ck, path, i, &cases->child[i]);

        if (rc == CHECK_USAGE) {
            goto done;
        }
    }

    ck->dry = 0;
    failed = 0;

    printf("# %s\n1..%zu\n", path, cases->nchild);

    for (i = 0; i < cases->nchild; i++) {
        rc = check_case(ck, path, i, &cases->child[i]);

        if (rc == CHECK_USAGE) {
            goto done;
        }

        if (rc != CHECK_OK) {
            failed++;
        }
    }

    printf("# %s: %zu case%s, %zu passed, %zu failed\n", path, cases->nchild,
           cases->nchild == 1 ? "" : "s", cases->nchild - failed, failed);

    rc = failed ? CHECK_FAILED : CHECK_OK;

done:

    ck->dry = 0;
    persona_json_close(&doc);

    return rc;
}


static int
check_expect_value(check_t *ck, const char *file, const char *what,
    const persona_jnode_t *want, const char *got, size_t len, int present)
{
    char                   label[256];
    const char            *s;
    const persona_jnode_t *c;

    static const char  *contains_keys[] = { "contains", NULL };

    snprintf(label, sizeof(label), "%s", what);

    if (json_is_null(want->value)) {
        if (present) {
            check_diff(ck, label, "(none)", got, len);
        }

        return CHECK_OK;
    }

    if (json_is_string(want->value)) {
        s = json_string_value(want->value);

        if (!present || len != json_string_length(want->value)
            || memcmp(s, got, len) != 0)
        {
            check_diff(ck, label, s, present ? got : NULL, len);
        }

        return CHECK_OK;
    }

    if (json_is_object(want->value)) {
        if (check_keys(file, want, contains_keys, "an expectation")
            != CHECK_OK)
        {
            return CHECK_USAGE;
        }

        c = persona_json_get(want, "contains");

        if (c && json_is_string(c->value)) {
            s = json_string_value(c->value);

            if (!present || !check_contains(got, len, s,
                                            json_string_length(c->value)))
            {
                snprintf(label, sizeof(label), "%s (contains)", what);
                check_diff(ck, label, s, present ? got : NULL, len);
            }

            return CHECK_OK;
        }
    }

    return check_fail(file, want, 0, "expected a string, "
                      "{ \"contains\": \"...\" } or null");
}


/* "goals": the names of the goals the request converts, in file order */
static int
check_expect_goals(check_t *ck, const char *file, const persona_jnode_t *w,
    check_attrs_t *attrs)
{
    char            *want, *got;
    size_t           k, n, len;
    unsigned char   *matched;

    if (!json_is_array(w->value)) {
        return check_fail(file, w, 0, "expected an array of goal names");
    }

    n = 1;

    for (k = 0; k < w->nchild; k++) {
        if (!json_is_string(w->child[k].value)) {
            return check_fail(file, &w->child[k], 0, "expected a goal name");
        }

        n += json_string_length(w->child[k].value) + 1;
    }

    want = check_alloc(ck, n);
    want[0] = '\0';

    for (k = 0; k < w->nchild; k++) {
        if (k) {
            strcat(want, ",");
        }

        strcat(want, json_string_value(w->child[k].value));
    }

    matched = check_alloc(ck, ck->rules->ngoals + 1);
    persona_rules_goals(ck->rules, check_lookup, attrs, matched);

    n = 1;

    for (k = 0; k < ck->rules->ngoals; k++) {
        n += ck->rules->goals[k].name.len + 1;
    }

    got = check_alloc(ck, n);
    len = 0;

    for (k = 0; k < ck->rules->ngoals; k++) {
        if (!matched[k]) {
            continue;
        }

        if (len) {
            got[len++] = ',';
        }

        memcpy(got + len, ck->rules->goals[k].name.data,
               ck->rules->goals[k].name.len);
        len += ck->rules->goals[k].name.len;
    }

    got[len] = '\0';

    if (strcmp(want, got) != 0) {
        check_diff(ck, "goals", want, got, len);
    }

    return CHECK_OK;
}


static int
check_case(check_t *ck, const char *file, size_t i, const persona_jnode_t *c)
{
    int                          rc, request;
    char                         label[256], hbuf[PERSONA_HEADER_MAX], *list;
    char                        *want;
    size_t                       k, j, n, len;
    check_view_t                 view;
    check_attrs_t                attrs;
    persona_str_t               *matches, out;
    persona_result_t             res;
    const char                  *name, *id;
    const persona_block_t       *b;
    const persona_route_t       *r;
    const persona_header_t      *h;
    const persona_jnode_t       *nm, *a, *x, *e, *w;

    static const char  *case_keys[] = { "name", "attributes", "id", "expect",
                                        "description", NULL };
    static const char  *expect_keys[] = {
        "segment", "segments", "experience", "variants", "request_headers",
        "response_headers", "blocks", "landing", "redirect", "goals", NULL
    };

    if (!json_is_object(c->value)) {
        return check_fail(file, c, 0, "expected a test case: { \"name\": ..., "
                          "\"attributes\": { ... }, \"expect\": { ... } }");
    }

    rc = check_keys(file, c, case_keys, "a test case");
    if (rc != CHECK_OK) {
        return rc;
    }

    nm = persona_json_get(c, "name");
    name = (nm && json_is_string(nm->value)) ? json_string_value(nm->value)
                                             : "";

    a = persona_json_get(c, "attributes");
    if (a == NULL) {
        return check_fail(file, c, 0, "expected \"attributes\" in a test "
                          "case (use {} for an unknown visitor)");
    }

    rc = check_attrs(ck, file, a, &attrs);
    if (rc != CHECK_OK) {
        return rc;
    }

    id = NULL;
    x = persona_json_get(c, "id");

    if (x) {
        if (!json_is_string(x->value)
            || !check_id_ok(json_string_value(x->value)))
        {
            return check_fail(file, x, 0, "expected a visitor id: 1 to 128 "
                              "bytes of letters, digits and ._:@-");
        }

        id = json_string_value(x->value);
    }

    e = persona_json_get(c, "expect");

    if (e == NULL || !json_is_object(e->value)) {
        return check_fail(file, e ? e : c, 0, "expected \"expect\": an "
                          "object of expectations");
    }

    rc = check_keys(file, e, expect_keys, "\"expect\"");
    if (rc != CHECK_OK) {
        return rc;
    }

    matches = check_alloc(ck, (ck->rules->nsegments + 1)
                              * sizeof(persona_str_t));
    res.matches = matches;
    persona_rules_eval(ck->rules, check_lookup, &attrs, &res);
    check_view(ck, &res, check_bot(&attrs) ? NULL : id, &view);

    /* differences are collected, then printed after the verdict */
    ck->failures = 0;
    ck->ndiag = 0;

    w = persona_json_get(e, "segment");

    if (w) {
        if (!json_is_string(w->value)) {
            return check_fail(file, w, 0, "expected a segment name");
        }

        if (res.segment.len != json_string_length(w->value)
            || memcmp(res.segment.data, json_string_value(w->value),
                      res.segment.len) != 0)
        {
            check_diff(ck, "segment", json_string_value(w->value),
                       res.segment.data, res.segment.len);
        }
    }

    w = persona_json_get(e, "segments");

    if (w) {
        if (!json_is_array(w->value)) {
            return check_fail(file, w, 0, "expected an array of segment "
                              "names");
        }

        for (k = 0; k < w->nchild; k++) {
            if (!json_is_string(w->child[k].value)) {
                return check_fail(file, &w->child[k], 0,
                                  "expected a segment name");
            }
        }

        n = 0;
        for (k = 0; k < res.nmatches; k++) {
            n += res.matches[k].len + 1;
        }

        list = check_alloc(ck, n + 1);
        len = 0;

        for (k = 0; k < res.nmatches; k++) {
            memcpy(list + len, res.matches[k].data, res.matches[k].len);
            len += res.matches[k].len;
            list[len++] = ',';
        }

        len = len ? len - 1 : 0;
        list[len] = '\0';

        rc = (w->nchild != res.nmatches);

        for (k = 0; !rc && k < w->nchild; k++) {
            rc = res.matches[k].len != json_string_length(w->child[k].value)
                 || memcmp(res.matches[k].data,
                           json_string_value(w->child[k].value),
                           res.matches[k].len) != 0;
        }

        if (rc) {
            n = 0;
            for (k = 0; k < w->nchild; k++) {
                n += json_string_length(w->child[k].value) + 1;
            }

            want = check_alloc(ck, n + 1);
            want[0] = '\0';

            for (k = 0; k < w->nchild; k++) {
                if (k) {
                    strcat(want, ",");
                }

                strcat(want, json_string_value(w->child[k].value));
            }

            check_diff(ck, "segments", want, list, len);
        }
    }

    w = persona_json_get(e, "goals");

    if (w) {
        rc = check_expect_goals(ck, file, w, &attrs);
        if (rc != CHECK_OK) {
            return rc;
        }
    }

    w = persona_json_get(e, "experience");

    if (w) {
        if (json_is_null(w->value)) {
            if (res.experience) {
                check_diff(ck, "experience", "(none)",
                           res.experience->name.data,
                           res.experience->name.len);
            }

        } else if (json_is_string(w->value)) {
            if (res.experience == NULL
                || strcmp(res.experience->name.data,
                          json_string_value(w->value)) != 0)
            {
                check_diff(ck, "experience", json_string_value(w->value),
                           res.experience ? res.experience->name.data
                                          : "(none)",
                           res.experience ? res.experience->name.len : 6);
            }

        } else {
            return check_fail(file, w, 0, "expected an experience name or "
                              "null");
        }
    }

    w = persona_json_get(e, "variants");

    if (w) {
        if (!json_is_object(w->value)) {
            return check_fail(file, w, 0, "expected an object of experiment "
                              "-> variant (or null)");
        }

        if (id == NULL) {
            return check_fail(file, w, 1, "expected an \"id\" in the case: "
                              "variants are picked by visitor id");
        }

        for (k = 0; k < w->nchild; k++) {
            for (j = 0; j < view.nexp; j++) {
                if (strcmp(view.exp[j]->name.data, w->child[k].key.data)
                    == 0)
                {
                    break;
                }
            }

            snprintf(label, sizeof(label), "variant of %s",
                     w->child[k].key.data);

            out.data = (j < view.nexp && view.variant[j])
                       ? view.variant[j]->name.data : NULL;
            out.len = out.data ? strlen(out.data) : 0;

            rc = check_expect_value(ck, file, label, &w->child[k], out.data,
                                    out.len, out.data != NULL);
            if (rc != CHECK_OK) {
                return rc;
            }
        }
    }

    for (request = 1; request >= 0; request--) {
        w = persona_json_get(e, request ? "request_headers"
                                        : "response_headers");
        if (w == NULL) {
            continue;
        }

        if (!json_is_object(w->value)) {
            return check_fail(file, w, 0, "expected an object of header "
                              "names and expected values");
        }

        for (k = 0; k < w->nchild; k++) {
            h = check_header(&view, request, w->child[k].key.data,
                             w->child[k].key.len);
            n = h ? persona_template_render(h->value, PERSONA_ESCAPE_HEADER,
                                            check_lookup, &attrs, hbuf,
                                            sizeof(hbuf))
                  : 0;

            snprintf(label, sizeof(label), "%s header %s",
                     request ? "request" : "response", w->child[k].key.data);

            rc = check_expect_value(ck, file, label, &w->child[k], hbuf, n,
                                    n > 0);
            if (rc != CHECK_OK) {
                return rc;
            }
        }
    }

    w = persona_json_get(e, "blocks");

    if (w) {
        if (!json_is_object(w->value)) {
            return check_fail(file, w, 0, "expected an object of slot names "
                              "and expected blocks");
        }

        for (k = 0; k < w->nchild; k++) {
            b = check_block(&view, w->child[k].key.data, w->child[k].key.len);
            out.data = NULL;
            out.len = 0;

            if (b) {
                persona_template_render_alloc(b->tpl, PERSONA_ESCAPE_HTML,
                                              check_lookup, &attrs,
                                              &ck->alloc, &out);
            }

            snprintf(label, sizeof(label), "block %s", w->child[k].key.data);

            rc = check_expect_value(ck, file, label, &w->child[k], out.data,
                                    out.len, b != NULL);
            if (rc != CHECK_OK) {
                return rc;
            }
        }
    }

    for (request = 0; request < 2; request++) {
        w = persona_json_get(e, request ? "redirect" : "landing");
        if (w == NULL) {
            continue;
        }

        if (!json_is_object(w->value)) {
            return check_fail(file, w, 0, "expected an object of paths and "
                              "expected targets");
        }

        for (k = 0; k < w->nchild; k++) {
            r = check_route(&view, request, w->child[k].key.data,
                            w->child[k].key.len);

            snprintf(label, sizeof(label), "%s %s",
                     request ? "redirect" : "landing", w->child[k].key.data);

            rc = check_expect_value(ck, file, label, &w->child[k],
                                    r ? r->target.data : NULL,
                                    r ? r->target.len : 0, r != NULL);
            if (rc != CHECK_OK) {
                return rc;
            }
        }
    }

    if (!ck->dry) {
        printf("%s %zu - %s\n%.*s", ck->failures ? "not ok" : "ok", i + 1,
               name[0] ? name : "(unnamed)", (int) ck->ndiag, ck->diag);
    }

    return ck->failures ? CHECK_FAILED : CHECK_OK;
}


/* one difference, printed after the verdict line of the case */
static void
check_diff(check_t *ck, const char *what, const char *want, const char *got,
    size_t got_len)
{
    int     n;
    size_t  room;

    ck->failures++;

    room = sizeof(ck->diag) - ck->ndiag;

    if (got == NULL) {
        n = snprintf(ck->diag + ck->ndiag, room,
                     "#   %s: expected \"%s\", got (none)\n", what, want);

    } else {
        n = snprintf(ck->diag + ck->ndiag, room,
                     "#   %s: expected \"%s\", got \"%.*s\"\n", what, want,
                     (int) (got_len > 300 ? 300 : got_len), got);
    }

    if (n > 0) {
        ck->ndiag += ((size_t) n < room) ? (size_t) n : room - 1;
    }
}


/* a visitor id as nginx accepts it: 1..128 bytes of [A-Za-z0-9._:@-] */
static int
check_id_ok(const char *id)
{
    size_t  len;

    len = strlen(id);

    return len >= 1 && len <= 128
           && strspn(id, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
                         "0123456789._:@-") == len;
}


static int
check_contains(const char *hay, size_t len, const char *needle, size_t nlen)
{
    size_t  i;

    for (i = 0; i + nlen <= len; i++) {
        if (memcmp(hay + i, needle, nlen) == 0) {
            return 1;
        }
    }

    return 0;
}


static int
check_keys(const char *file, const persona_jnode_t *obj,
    const char **allowed, const char *what)
{
    size_t        i;
    const char  **a;

    for (i = 0; i < obj->nchild; i++) {
        for (a = allowed; *a; a++) {
            if (strcmp(*a, obj->child[i].key.data) == 0) {
                break;
            }
        }

        if (*a == NULL) {
            fprintf(stderr, "%s:%u:%u: unknown key \"%s\" in %s: expected",
                    file, obj->child[i].key_line, obj->child[i].key_column,
                    obj->child[i].key.data, what);

            for (a = allowed; *a; a++) {
                fprintf(stderr, "%s\"%s\"", a == allowed ? " "
                        : a[1] ? ", " : " or ", *a);
            }

            fprintf(stderr, "\n");

            return CHECK_USAGE;
        }
    }

    return CHECK_OK;
}


static int
check_fail(const char *file, const persona_jnode_t *n, int key,
    const char *fmt, ...)
{
    va_list  args;

    fprintf(stderr, "%s:%u:%u: ", file,
            key && n->key_line ? n->key_line : n->line,
            key && n->key_line ? n->key_column : n->column);

    va_start(args, fmt);
    vfprintf(stderr, fmt, args);
    va_end(args);

    fprintf(stderr, "\n");

    return CHECK_USAGE;
}
