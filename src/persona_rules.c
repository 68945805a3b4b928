/*
 * Rules loader and evaluator (see persona_rules.h).
 */

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "persona_rules.h"


#define persona_header_fold(c)                                              \
    ((c) == '_' ? '-' : ((c) >= 'A' && (c) <= 'Z') ? ((c) | 0x20) : (c))


/* a malloc'd chunk arena: everything of a rule set, freed in one call */

typedef struct persona_chunk_s  persona_chunk_t;

struct persona_chunk_s {
    persona_chunk_t  *next;
    size_t            size;
    size_t            used;
};


#define PERSONA_CHUNK_HDR    ((sizeof(persona_chunk_t) + 15) & ~(size_t) 15)
#define PERSONA_CHUNK_SIZE   16384
#define PERSONA_ARENA_LIMIT  ((size_t) 256 * 1024 * 1024)


typedef struct {
    persona_chunk_t  *head;
    size_t            total;
    persona_alloc_t   alloc;
} persona_arena_t;


/* a reference to a segment name, checked once every file is loaded */
typedef struct {
    persona_str_t     name;
    const char       *file;
    unsigned          line;
    unsigned          column;
} persona_ref_t;


typedef struct {
    persona_rules_t           *rs;
    persona_arena_t           *arena;     /* the rule set's */
    persona_arena_t            tmp;       /* freed when loading ends */
    const persona_rules_fs_t  *fs;
    persona_error_t           *err;
    persona_cond_ctx_t         cctx;

    size_t                     nsegments_alloc;
    size_t                     nexperiences_alloc;
    size_t                     nexperiments_alloc;
    size_t                     ngoals_alloc;
    size_t                     nfiles_alloc;
    size_t                     nwarnings_alloc;
    size_t                     nreqh_alloc;

    persona_ref_t             *refs;      /* experiments' segments */
    size_t                     nrefs;
    size_t                     nrefs_alloc;

    unsigned                   has_from;
    const char                *default_file;
    unsigned                   default_line;
    unsigned                   default_column;

    const char                *file;      /* the rules file loading */
    const char                *dir;       /* its directory, "" or ".../" */
    persona_json_t             doc;

    /*
     * The POSIX file system reads only regular files that resolve inside
     * root: the directory of the rules file, or the rules directory, with
     * symlinks resolved ("" for "/"); root_err when it did not resolve.
     */
    persona_rules_fs_t         posix;
    const char                *root;
    const char                *root_err;
} persona_load_t;


static const char  *persona_top_keys[] = {
    "segments", "default", "experiences", "experiments", "goals",
    "description", "$schema", NULL
};

static const char  *persona_goal_keys[] = {
    "name", "when", "description", NULL
};

static const char  *persona_segment_keys[] = {
    "name", "when", "from", "description", NULL
};

static const char  *persona_experience_keys[] = {
    "request_headers", "response_headers", "blocks", "landing", "redirect",
    "description", NULL
};

static const char  *persona_experiment_keys[] = {
    "name", "segments", "salt", "traffic", "variants", "cap", "description",
    NULL
};

static const char  *persona_variant_keys[] = {
    "name", "weight", "request_headers", "response_headers", "blocks",
    "landing", "redirect", "description", NULL
};

static const char  *persona_cap_keys[] = { "max", "per", NULL };

static const char  *persona_file_keys[] = { "file", NULL };


/*
 * Header names rules cannot set, compared case-insensitively with "-" and
 * "_" equal; a trailing "*" matches any rest.  Both kinds: hop-by-hop and
 * framing headers belong to nginx.
 */
static const char  *persona_forbidden_headers[] = {
    "connection", "keep-alive", "transfer-encoding", "upgrade", "te",
    "trailer", "content-length", "content-encoding", "date", "server",
    "location", "host", NULL
};


/*
 * request_headers: every header nginx parses into r->headers_in (nginx and
 * other modules keep their own pointers to them, so replacing the list
 * entry would not replace what they use), the client address headers
 * realip and proxies trust, and the module's preview token.
 */
static const char  *persona_forbidden_request_headers[] = {
    "if-*", "cookie", "user-agent", "referer", "authorization",
    "proxy-authorization", "x-forwarded-for", "x-real-ip", "forwarded",
    "range", "accept-encoding", "via", "content-type", "content-range",
    "expect", "accept", "accept-language", "depth", "destination",
    "overwrite", "x-persona-token", NULL
};


/* response_headers: cookies, redirects and browser security policy */
static const char  *persona_forbidden_response_headers[] = {
    "set-cookie", "refresh", "content-type", "content-security-policy",
    "content-security-policy-report-only", "strict-transport-security",
    "www-authenticate", "proxy-authenticate", "access-control-*", NULL
};


static persona_arena_t *persona_arena_create(void);
static void persona_arena_destroy(persona_arena_t *a);
static void *persona_arena_alloc(void *data, size_t size);
static void *persona_grow(persona_load_t *ld, void *arr, size_t n,
    size_t *nalloc, size_t size);

static int persona_load_init(persona_load_t *ld, persona_rules_t **rules,
    const persona_rules_fs_t *fs, persona_error_t *err);
static void persona_load_done(persona_load_t *ld);
static int persona_load_file(persona_load_t *ld, const char *path,
    const char *text, size_t len);
static int persona_load_segment(persona_load_t *ld, const persona_jnode_t *n);
static int persona_load_default(persona_load_t *ld, const persona_jnode_t *n);
static int persona_load_experience(persona_load_t *ld,
    const persona_jnode_t *m);
static int persona_load_actions(persona_load_t *ld, const persona_jnode_t *n,
    persona_experience_t *e);
static int persona_load_headers(persona_load_t *ld, const persona_jnode_t *n,
    persona_header_t **out, size_t *nout, int request);
static int persona_load_blocks(persona_load_t *ld, const persona_jnode_t *n,
    persona_experience_t *e);
static int persona_load_routes(persona_load_t *ld, const persona_jnode_t *n,
    persona_experience_t *e, int redirect);
static int persona_load_experiment(persona_load_t *ld,
    const persona_jnode_t *n);
static int persona_load_variant(persona_load_t *ld, const persona_jnode_t *n,
    persona_experiment_t *x, size_t i);
static int persona_load_cap(persona_load_t *ld, const persona_jnode_t *n,
    persona_experiment_t *x);
static int persona_load_goal(persona_load_t *ld, const persona_jnode_t *n);
static int persona_load_finish(persona_load_t *ld);
static int persona_load_template(persona_load_t *ld, const persona_jnode_t *s,
    int html, const persona_template_t **out);

static int persona_check_keys(persona_load_t *ld, const persona_jnode_t *obj,
    const char **allowed, const char *what);
static int persona_check_string(persona_load_t *ld, const persona_jnode_t *n,
    const char *what);
static int persona_fail(persona_load_t *ld, const char *file, unsigned line,
    unsigned column, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
static int persona_wrap(persona_load_t *ld, const char *file, int rc);
static void persona_prefix(persona_error_t *err, const char *file,
    unsigned line, unsigned column, const char *msg);
static int persona_warn(persona_load_t *ld, const char *file, unsigned line,
    unsigned column, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;
static int persona_add_file(persona_load_t *ld, const char *path,
    size_t len, const char **copy);
static int persona_name_ok(const char *s, size_t len, const char *extra);
static int persona_header_eq(const char *a, size_t alen, const char *b,
    size_t blen);
static const char *persona_target_unsafe(const char *s, size_t len,
    int redirect);
static const char *persona_header_listed(const char **list,
    const char *name, size_t len);
static int persona_str_eq(persona_str_t a, persona_str_t b);
static int persona_str_cmp(const void *a, const void *b);
static int persona_exp_cmp(const void *a, const void *b);
static int persona_segment_known(persona_load_t *ld, persona_str_t name);

static int persona_posix_read(void *data, const char *path, size_t max,
    persona_alloc_t *a, persona_str_t *content, persona_error_t *err);
static int persona_posix_list(void *data, const char *path,
    persona_alloc_t *a, persona_str_t **names, size_t *n,
    persona_error_t *err);


static int persona_posix_root(persona_load_t *ld, const char *dir,
    size_t len);


/* arena */

static persona_arena_t *
persona_arena_create(void)
{
    persona_arena_t  *a;

    a = malloc(sizeof(persona_arena_t));
    if (a == NULL) {
        return NULL;
    }

    a->head = NULL;
    a->total = 0;
    a->alloc.alloc = persona_arena_alloc;
    a->alloc.data = a;

    return a;
}


static void
persona_arena_destroy(persona_arena_t *a)
{
    persona_chunk_t  *c, *next;

    for (c = a->head; c; c = next) {
        next = c->next;
        free(c);
    }

    a->head = NULL;
    a->total = 0;
}


static void *
persona_arena_alloc(void *data, size_t size)
{
    size_t            n;
    persona_arena_t  *a;
    persona_chunk_t  *c;

    a = data;

    if (size > PERSONA_ARENA_LIMIT) {
        return NULL;
    }

    size = (size + 15) & ~(size_t) 15;
    c = a->head;

    if (c == NULL || c->size - c->used < size) {
        n = (size > PERSONA_CHUNK_SIZE / 4) ? size : PERSONA_CHUNK_SIZE;

        if (a->total + n > PERSONA_ARENA_LIMIT) {
            return NULL;
        }

        c = malloc(PERSONA_CHUNK_HDR + n);
        if (c == NULL) {
            return NULL;
        }

        a->total += n;
        c->size = n;
        c->used = 0;

        if (n == size && a->head) {
            /* a big one: keep bumping in the current chunk */
            c->next = a->head->next;
            a->head->next = c;

        } else {
            c->next = a->head;
            a->head = c;
        }
    }

    c->used += size;

    return (char *) c + PERSONA_CHUNK_HDR + c->used - size;
}


static void *
persona_grow(persona_load_t *ld, void *arr, size_t n, size_t *nalloc,
    size_t size)
{
    void    *p;
    size_t   m;

    if (n < *nalloc) {
        return arr;
    }

    m = *nalloc ? *nalloc * 2 : 8;

    p = persona_arena_alloc(ld->arena, m * size);
    if (p == NULL) {
        return NULL;
    }

    if (n) {
        memcpy(p, arr, n * size);
    }

    *nalloc = m;

    return p;
}


/* loading entry points */

int
persona_rules_load(persona_rules_t **rules, const char *path,
    const persona_rules_fs_t *fs, persona_error_t *err)
{
    int               rc;
    char             *full;
    const char       *p;
    size_t            i, j, n, plen, k;
    persona_str_t    *names, content, tmp;
    persona_load_t    ld;
    persona_error_t   ferr;

    rc = persona_load_init(&ld, rules, fs, err);
    if (rc != PERSONA_OK) {
        return rc;
    }

    fs = ld.fs;
    memset(&ferr, 0, sizeof(persona_error_t));

    rc = fs->list(fs->data, path, &ld.tmp.alloc, &names, &n, &ferr);

    if (rc == PERSONA_RULES_NOT_DIR) {
        memset(&ferr, 0, sizeof(persona_error_t));

        rc = fs->read(fs->data, path, PERSONA_RULES_MAX_FILE, &ld.tmp.alloc,
                      &content, &ferr);
        if (rc != PERSONA_OK) {
            persona_error_set(err, "%s: cannot read rules: %s", path,
                              ferr.msg);
            goto failed;
        }

        /* block files stay inside the rules file's directory */
        p = strrchr(path, '/');

        rc = persona_posix_root(&ld, path, p ? (size_t) (p - path) + 1 : 0);
        if (rc != PERSONA_OK) {
            goto nomem;
        }

        rc = persona_load_file(&ld, path, content.data, content.len);
        if (rc != PERSONA_OK) {
            goto failed;
        }

        goto finish;
    }

    if (rc != PERSONA_OK) {
        persona_error_set(err, "%s: cannot read rules: %s", path, ferr.msg);
        rc = PERSONA_ERROR;
        goto failed;
    }

    /* keep "*.json", skip hidden files (editors' backups), sort */

    k = 0;
    for (i = 0; i < n; i++) {
        if (names[i].len > 5 && names[i].data[0] != '.'
            && memcmp(names[i].data + names[i].len - 5, ".json", 5) == 0)
        {
            names[k++] = names[i];
        }
    }

    n = k;

    if (n == 0) {
        persona_error_set(err, "%s: expected *.json rules files in this "
                          "directory", path);
        rc = PERSONA_ERROR;
        goto failed;
    }

    if (n > PERSONA_RULES_MAX_FILES) {
        persona_error_set(err, "%s: more than %d rules files", path,
                          PERSONA_RULES_MAX_FILES);
        rc = PERSONA_ERROR;
        goto failed;
    }

    /* insertion sort: stable, byte order, few files */
    for (i = 1; i < n; i++) {
        tmp = names[i];

        for (j = i; j > 0 && persona_str_cmp(&names[j - 1], &tmp) > 0; j--) {
            names[j] = names[j - 1];
        }

        names[j] = tmp;
    }

    plen = strlen(path);
    while (plen > 1 && path[plen - 1] == '/') {
        plen--;
    }

    /* every file stays inside the rules directory */
    rc = persona_posix_root(&ld, path, plen);
    if (rc != PERSONA_OK) {
        goto nomem;
    }

    for (i = 0; i < n; i++) {
        full = persona_arena_alloc(&ld.tmp, plen + names[i].len + 2);
        if (full == NULL) {
            rc = PERSONA_NOMEM;
            goto nomem;
        }

        memcpy(full, path, plen);
        full[plen] = '/';
        memcpy(full + plen + 1, names[i].data, names[i].len);
        full[plen + 1 + names[i].len] = '\0';

        memset(&ferr, 0, sizeof(persona_error_t));

        rc = fs->read(fs->data, full, PERSONA_RULES_MAX_FILE, &ld.tmp.alloc,
                      &content, &ferr);
        if (rc != PERSONA_OK) {
            persona_error_set(err, "%s: cannot read rules: %s", full,
                              ferr.msg);
            rc = PERSONA_ERROR;
            goto failed;
        }

        rc = persona_load_file(&ld, full, content.data, content.len);
        if (rc != PERSONA_OK) {
            goto failed;
        }
    }

finish:

    rc = persona_load_finish(&ld);
    if (rc != PERSONA_OK) {
        goto failed;
    }

    persona_load_done(&ld);
    *rules = ld.rs;

    return PERSONA_OK;

nomem:

    persona_error_set(err, "%s: out of memory", path);

failed:

    persona_load_done(&ld);
    persona_rules_free(ld.rs);
    *rules = NULL;

    return rc == PERSONA_NOMEM ? PERSONA_NOMEM : PERSONA_ERROR;
}


int
persona_rules_load_buffer(persona_rules_t **rules, const char *name,
    const char *text, size_t len, const persona_rules_fs_t *fs,
    persona_error_t *err)
{
    int             rc;
    const char     *p;
    persona_load_t  ld;

    rc = persona_load_init(&ld, rules, fs, err);
    if (rc != PERSONA_OK) {
        return rc;
    }

    p = strrchr(name, '/');

    rc = persona_posix_root(&ld, name, p ? (size_t) (p - name) + 1 : 0);

    if (rc == PERSONA_OK) {
        rc = persona_load_file(&ld, name, text, len);
    }

    if (rc == PERSONA_OK) {
        rc = persona_load_finish(&ld);
    }

    persona_load_done(&ld);

    if (rc != PERSONA_OK) {
        persona_rules_free(ld.rs);
        *rules = NULL;
        return rc == PERSONA_NOMEM ? PERSONA_NOMEM : PERSONA_ERROR;
    }

    *rules = ld.rs;

    return PERSONA_OK;
}


int
persona_rules_builtin(persona_rules_t **rules, persona_error_t *err)
{
    static const char  builtin[] =
        "{ \"segments\": [ { \"from\": \"profile.segment\" } ],"
        "  \"default\": \"default\" }";

    return persona_rules_load_buffer(rules, "(built-in rules)", builtin,
                                     sizeof(builtin) - 1, NULL, err);
}


void
persona_rules_free(persona_rules_t *rules)
{
    persona_arena_t  *a;

    if (rules == NULL) {
        return;
    }

    persona_cond_scratch_free(rules->scratch);

    a = rules->arena;
    persona_arena_destroy(a);
    free(a);
}


static int
persona_load_init(persona_load_t *ld, persona_rules_t **rules,
    const persona_rules_fs_t *fs, persona_error_t *err)
{
    persona_arena_t  *a;

    *rules = NULL;
    memset(ld, 0, sizeof(persona_load_t));
    memset(err, 0, sizeof(persona_error_t));

    a = persona_arena_create();
    if (a == NULL) {
        persona_error_set(err, "out of memory");
        return PERSONA_NOMEM;
    }

    ld->rs = persona_arena_alloc(a, sizeof(persona_rules_t));
    if (ld->rs == NULL) {
        free(a);
        persona_error_set(err, "out of memory");
        return PERSONA_NOMEM;
    }

    memset(ld->rs, 0, sizeof(persona_rules_t));
    ld->rs->arena = a;
    ld->arena = a;

    ld->tmp.head = NULL;
    ld->tmp.total = 0;
    ld->tmp.alloc.alloc = persona_arena_alloc;
    ld->tmp.alloc.data = &ld->tmp;

    if (fs == NULL) {
        ld->posix.read = persona_posix_read;
        ld->posix.list = persona_posix_list;
        ld->posix.data = ld;
        fs = &ld->posix;
    }

    ld->fs = fs;
    ld->err = err;

    persona_attrs_init(&ld->rs->attrs, &a->alloc);

    ld->cctx.alloc = &a->alloc;
    ld->cctx.attrs = &ld->rs->attrs;

    return PERSONA_OK;
}


static void
persona_load_done(persona_load_t *ld)
{
    persona_json_close(&ld->doc);
    persona_arena_destroy(&ld->tmp);
}


/* one rules file */

static int
persona_load_file(persona_load_t *ld, const char *path, const char *text,
    size_t len)
{
    int                    rc;
    size_t                 i, dlen;
    const char            *slash;
    char                  *dir;
    const persona_jnode_t *root, *n;

    persona_json_close(&ld->doc);

    rc = persona_add_file(ld, path, strlen(path), &ld->file);
    if (rc != PERSONA_OK) {
        return rc;
    }

    slash = strrchr(ld->file, '/');
    dlen = slash ? (size_t) (slash - ld->file) + 1 : 0;

    dir = persona_arena_alloc(&ld->tmp, dlen + 1);
    if (dir == NULL) {
        return persona_wrap(ld, ld->file, PERSONA_NOMEM);
    }

    memcpy(dir, ld->file, dlen);
    dir[dlen] = '\0';
    ld->dir = dir;

    rc = persona_json_parse(&ld->doc, text, len, &ld->tmp.alloc, ld->err);
    if (rc != PERSONA_OK) {
        return persona_wrap(ld, ld->file, rc);
    }

    ld->cctx.doc = &ld->doc;
    root = ld->doc.root;

    if (!json_is_object(root->value)) {
        return persona_fail(ld, ld->file, root->line, root->column,
                            "expected an object with \"segments\", "
                            "\"default\", \"experiences\" or "
                            "\"experiments\"");
    }

    rc = persona_check_keys(ld, root, persona_top_keys, "the rules");
    if (rc != PERSONA_OK) {
        return rc;
    }

    n = persona_json_get(root, "description");
    if (n && (rc = persona_check_string(ld, n, "a description")) != 0) {
        return rc;
    }

    n = persona_json_get(root, "$schema");
    if (n && (rc = persona_check_string(ld, n, "a schema URL")) != 0) {
        return rc;
    }

    n = persona_json_get(root, "segments");

    if (n) {
        if (!json_is_array(n->value)) {
            return persona_fail(ld, ld->file, n->line, n->column,
                                "expected an array of segments");
        }

        for (i = 0; i < n->nchild; i++) {
            rc = persona_load_segment(ld, &n->child[i]);
            if (rc != PERSONA_OK) {
                return rc;
            }
        }
    }

    n = persona_json_get(root, "default");

    if (n) {
        rc = persona_load_default(ld, n);
        if (rc != PERSONA_OK) {
            return rc;
        }
    }

    n = persona_json_get(root, "experiences");

    if (n) {
        if (!json_is_object(n->value)) {
            return persona_fail(ld, ld->file, n->line, n->column,
                                "expected an object of experiences by "
                                "segment name");
        }

        for (i = 0; i < n->nchild; i++) {
            rc = persona_load_experience(ld, &n->child[i]);
            if (rc != PERSONA_OK) {
                return rc;
            }
        }
    }

    n = persona_json_get(root, "experiments");

    if (n) {
        if (!json_is_array(n->value)) {
            return persona_fail(ld, ld->file, n->line, n->column,
                                "expected an array of experiments");
        }

        for (i = 0; i < n->nchild; i++) {
            rc = persona_load_experiment(ld, &n->child[i]);
            if (rc != PERSONA_OK) {
                return rc;
            }
        }
    }

    n = persona_json_get(root, "goals");

    if (n) {
        if (!json_is_array(n->value)) {
            return persona_fail(ld, ld->file, n->line, n->column,
                                "expected an array of goals");
        }

        for (i = 0; i < n->nchild; i++) {
            rc = persona_load_goal(ld, &n->child[i]);
            if (rc != PERSONA_OK) {
                return rc;
            }
        }
    }

    persona_json_close(&ld->doc);

    return PERSONA_OK;
}


static int
persona_load_segment(persona_load_t *ld, const persona_jnode_t *n)
{
    int                    rc;
    size_t                 i;
    persona_segment_t     *seg;
    persona_cond_t        *cond;
    persona_str_t          name;
    const persona_attr_t  *attr;
    const persona_jnode_t *nm, *when, *from, *d;

    if (!json_is_object(n->value)) {
        return persona_fail(ld, ld->file, n->line, n->column,
                            "expected a segment: { \"name\": ..., "
                            "\"when\": { ... } } or { \"from\": "
                            "\"profile.segment\" }");
    }

    rc = persona_check_keys(ld, n, persona_segment_keys, "a segment");
    if (rc != PERSONA_OK) {
        return rc;
    }

    d = persona_json_get(n, "description");
    if (d && (rc = persona_check_string(ld, d, "a description")) != 0) {
        return rc;
    }

    nm = persona_json_get(n, "name");
    when = persona_json_get(n, "when");
    from = persona_json_get(n, "from");

    name.data = NULL;
    name.len = 0;
    attr = NULL;
    cond = NULL;

    if (from) {
        if (nm || when) {
            d = nm ? nm : when;
            return persona_fail(ld, ld->file, d->key_line, d->key_column,
                                "expected either \"name\" and \"when\", or "
                                "\"from\" alone");
        }

        if (!json_is_string(from->value)) {
            return persona_fail(ld, ld->file, from->line, from->column,
                                "expected an attribute name such as "
                                "\"profile.segment\"");
        }

        attr = persona_attr_resolve(&ld->rs->attrs,
                                    json_string_value(from->value),
                                    json_string_length(from->value),
                                    ld->err);
        if (attr == NULL) {
            persona_json_at(ld->err, from);
            return persona_wrap(ld, ld->file, PERSONA_ERROR);
        }

        ld->has_from = 1;

    } else {
        if (nm == NULL) {
            return persona_fail(ld, ld->file, n->line, n->column,
                                "expected \"name\" and \"when\", or "
                                "\"from\", in a segment");
        }

        if (!json_is_string(nm->value)
            || !persona_segment_name_valid(json_string_value(nm->value),
                                           json_string_length(nm->value)))
        {
            return persona_fail(ld, ld->file, nm->line, nm->column,
                                "expected a segment name of 1 to 64 "
                                "letters, digits, \"_\", \"-\", \".\" or "
                                "\":\"");
        }

        name.data = json_string_value(nm->value);
        name.len = json_string_length(nm->value);

        for (i = 0; i < ld->rs->nsegments; i++) {
            seg = &ld->rs->segments[i];

            if (seg->from == NULL && persona_str_eq(seg->name, name)) {
                return persona_fail(ld, ld->file, nm->line, nm->column,
                                    "segment \"%s\" is already defined at "
                                    "%s:%u:%u", name.data, seg->file,
                                    seg->line, seg->column);
            }
        }

        if (when == NULL) {
            return persona_fail(ld, ld->file, n->line, n->column,
                                "expected \"when\" with the conditions of "
                                "segment \"%s\"", name.data);
        }

        rc = persona_cond_compile(&cond, when, &ld->cctx, ld->err);
        if (rc != PERSONA_OK) {
            return persona_wrap(ld, ld->file, rc);
        }

        name.data = persona_strndup(&ld->arena->alloc, name.data, name.len);
        if (name.data == NULL) {
            return persona_wrap(ld, ld->file, PERSONA_NOMEM);
        }
    }

    ld->rs->segments = persona_grow(ld, ld->rs->segments, ld->rs->nsegments,
                                    &ld->nsegments_alloc,
                                    sizeof(persona_segment_t));
    if (ld->rs->segments == NULL) {
        return persona_wrap(ld, ld->file, PERSONA_NOMEM);
    }

    seg = &ld->rs->segments[ld->rs->nsegments++];
    memset(seg, 0, sizeof(persona_segment_t));

    seg->name = name;
    seg->when = cond;
    seg->from = attr;
    seg->file = ld->file;
    seg->line = nm ? nm->line : n->line;
    seg->column = nm ? nm->column : n->column;

    return PERSONA_OK;
}


static int
persona_load_default(persona_load_t *ld, const persona_jnode_t *n)
{
    persona_str_t  *def;

    def = &ld->rs->default_segment;

    if (!json_is_string(n->value)
        || !persona_segment_name_valid(json_string_value(n->value),
                                       json_string_length(n->value)))
    {
        return persona_fail(ld, ld->file, n->line, n->column,
                            "expected a segment name of 1 to 64 letters, "
                            "digits, \"_\", \"-\", \".\" or \":\"");
    }

    if (ld->default_file) {
        return persona_fail(ld, ld->file, n->key_line, n->key_column,
                            "\"default\" is already set at %s:%u:%u",
                            ld->default_file, ld->default_line,
                            ld->default_column);
    }

    def->len = json_string_length(n->value);
    def->data = persona_strndup(&ld->arena->alloc,
                                json_string_value(n->value), def->len);
    if (def->data == NULL) {
        return persona_wrap(ld, ld->file, PERSONA_NOMEM);
    }

    ld->default_file = ld->file;
    ld->default_line = n->key_line;
    ld->default_column = n->key_column;

    return PERSONA_OK;
}


static int
persona_load_experience(persona_load_t *ld, const persona_jnode_t *m)
{
    int                    rc;
    size_t                 i;
    persona_str_t          name;
    persona_experience_t  *e;

    name = m->key;

    if (!persona_segment_name_valid(name.data, name.len)) {
        return persona_fail(ld, ld->file, m->key_line, m->key_column,
                            "expected a segment name of 1 to 64 letters, "
                            "digits, \"_\", \"-\", \".\" or \":\"");
    }

    for (i = 0; i < ld->rs->nexperiences; i++) {
        e = &ld->rs->experiences[i];

        if (persona_str_eq(e->name, name)) {
            return persona_fail(ld, ld->file, m->key_line, m->key_column,
                                "experience \"%s\" is already defined at "
                                "%s:%u:%u", name.data, e->file, e->line,
                                e->column);
        }
    }

    if (!json_is_object(m->value)) {
        return persona_fail(ld, ld->file, m->line, m->column,
                            "expected an experience: an object with "
                            "\"request_headers\", \"response_headers\", "
                            "\"blocks\", \"landing\" or \"redirect\"");
    }

    rc = persona_check_keys(ld, m, persona_experience_keys, "an experience");
    if (rc != PERSONA_OK) {
        return rc;
    }

    ld->rs->experiences = persona_grow(ld, ld->rs->experiences,
                                       ld->rs->nexperiences,
                                       &ld->nexperiences_alloc,
                                       sizeof(persona_experience_t));
    if (ld->rs->experiences == NULL) {
        return persona_wrap(ld, ld->file, PERSONA_NOMEM);
    }

    e = &ld->rs->experiences[ld->rs->nexperiences];
    memset(e, 0, sizeof(persona_experience_t));

    e->name.data = persona_strndup(&ld->arena->alloc, name.data, name.len);
    e->name.len = name.len;
    e->file = ld->file;
    e->line = m->key_line;
    e->column = m->key_column;

    if (e->name.data == NULL) {
        return persona_wrap(ld, ld->file, PERSONA_NOMEM);
    }

    rc = persona_load_actions(ld, m, e);
    if (rc != PERSONA_OK) {
        return rc;
    }

    ld->rs->nexperiences++;

    return PERSONA_OK;
}


/* request_headers, response_headers, blocks, landing, redirect */
static int
persona_load_actions(persona_load_t *ld, const persona_jnode_t *n,
    persona_experience_t *e)
{
    int                    rc;
    const persona_jnode_t *a;

    a = persona_json_get(n, "description");
    if (a && (rc = persona_check_string(ld, a, "a description")) != 0) {
        return rc;
    }

    a = persona_json_get(n, "request_headers");

    if (a) {
        rc = persona_load_headers(ld, a, &e->request_headers,
                                  &e->nrequest_headers, 1);
        if (rc != PERSONA_OK) {
            return rc;
        }
    }

    a = persona_json_get(n, "response_headers");

    if (a) {
        rc = persona_load_headers(ld, a, &e->response_headers,
                                  &e->nresponse_headers, 0);
        if (rc != PERSONA_OK) {
            return rc;
        }
    }

    a = persona_json_get(n, "blocks");

    if (a) {
        rc = persona_load_blocks(ld, a, e);
        if (rc != PERSONA_OK) {
            return rc;
        }
    }

    a = persona_json_get(n, "landing");

    if (a) {
        rc = persona_load_routes(ld, a, e, 0);
        if (rc != PERSONA_OK) {
            return rc;
        }
    }

    a = persona_json_get(n, "redirect");

    if (a) {
        rc = persona_load_routes(ld, a, e, 1);
        if (rc != PERSONA_OK) {
            return rc;
        }
    }

    return PERSONA_OK;
}


static int
persona_load_headers(persona_load_t *ld, const persona_jnode_t *n,
    persona_header_t **out, size_t *nout, int request)
{
    int                    rc;
    char                  *lower;
    size_t                 i, j, k, len;
    unsigned               line, column;
    persona_str_t         *names;
    persona_header_t      *h;
    const char            *s, *f;
    const persona_jnode_t *m;

    if (!json_is_object(n->value)) {
        return persona_fail(ld, ld->file, n->line, n->column,
                            "expected an object of header names and values "
                            "such as { \"X-Offer\": \"free-shipping\" }");
    }

    if (n->nchild == 0) {
        return PERSONA_OK;
    }

    h = persona_arena_alloc(ld->arena, n->nchild * sizeof(persona_header_t));
    if (h == NULL) {
        return persona_wrap(ld, ld->file, PERSONA_NOMEM);
    }

    *out = h;

    for (i = 0; i < n->nchild; i++) {
        m = &n->child[i];

        if (!persona_name_ok(m->key.data, m->key.len, "!#$%&'*+-.^_`|~")) {
            return persona_fail(ld, ld->file, m->key_line, m->key_column,
                                "expected a header name of letters, digits "
                                "and !#$%%&'*+-.^_`|~");
        }

        f = persona_header_listed(persona_forbidden_headers, m->key.data,
                                  m->key.len);
        if (f != NULL) {
            return persona_fail(ld, ld->file, m->key_line, m->key_column,
                                "header \"%s\" cannot be set by rules: "
                                "hop-by-hop and framing headers belong "
                                "to nginx", m->key.data);
        }

        f = persona_header_listed(request ? persona_forbidden_request_headers
                                          : persona_forbidden_response_headers,
                                  m->key.data, m->key.len);
        if (f != NULL) {
            return persona_fail(ld, ld->file, m->key_line, m->key_column,
                                request
                                ? "header \"%s\" cannot be set in "
                                  "request_headers: nginx reads it from the "
                                  "client before the rules run"
                                : "header \"%s\" cannot be set in "
                                  "response_headers: cookies, redirects and "
                                  "security policies belong to the site",
                                m->key.data);
        }

        for (j = 0; j < i; j++) {
            if (persona_header_eq(h[j].name.data, h[j].name.len,
                                  m->key.data, m->key.len))
            {
                return persona_fail(ld, ld->file, m->key_line, m->key_column,
                                    "header \"%s\" is already set here as "
                                    "\"%s\"", m->key.data, h[j].name.data);
            }
        }

        if (!json_is_string(m->value)) {
            return persona_fail(ld, ld->file, m->line, m->column,
                                "expected a string value for header \"%s\"",
                                m->key.data);
        }

        s = json_string_value(m->value);
        len = json_string_length(m->value);

        for (k = 0; k < len; k++) {
            if ((unsigned char) s[k] < 0x20 || s[k] == 0x7f) {
                persona_json_string_pos(&ld->doc, m, k, &line, &column);
                return persona_fail(ld, ld->file, line, column,
                                    "expected a header value without "
                                    "control characters (line breaks, "
                                    "tabs)");
            }
        }

        h[i].name.data = persona_strndup(&ld->arena->alloc, m->key.data,
                                         m->key.len);
        h[i].name.len = m->key.len;

        if (h[i].name.data == NULL) {
            return persona_wrap(ld, ld->file, PERSONA_NOMEM);
        }

        rc = persona_load_template(ld, m, 0, &h[i].value);
        if (rc != PERSONA_OK) {
            return rc;
        }

        *nout = i + 1;

        if (!request) {
            continue;
        }

        names = ld->rs->request_header_names;

        for (j = 0; j < ld->rs->nrequest_header_names; j++) {
            if (persona_header_eq(names[j].data, names[j].len, m->key.data,
                                  m->key.len))
            {
                break;
            }
        }

        if (j < ld->rs->nrequest_header_names) {
            continue;
        }

        names = persona_grow(ld, names, ld->rs->nrequest_header_names,
                             &ld->nreqh_alloc, sizeof(persona_str_t));
        lower = persona_strndup(&ld->arena->alloc, m->key.data, m->key.len);

        if (names == NULL || lower == NULL) {
            return persona_wrap(ld, ld->file, PERSONA_NOMEM);
        }

        /* lowercase with "_" as "-": how removal compares client names */
        for (k = 0; k < m->key.len; k++) {
            if (lower[k] >= 'A' && lower[k] <= 'Z') {
                lower[k] |= 0x20;

            } else if (lower[k] == '_') {
                lower[k] = '-';
            }
        }

        ld->rs->request_header_names = names;
        names[ld->rs->nrequest_header_names].data = lower;
        names[ld->rs->nrequest_header_names].len = m->key.len;
        ld->rs->nrequest_header_names++;
    }

    return PERSONA_OK;
}


static int
persona_load_blocks(persona_load_t *ld, const persona_jnode_t *n,
    persona_experience_t *e)
{
    int                    rc;
    char                  *path, tmp[PERSONA_ERRMSG_LEN];
    size_t                 i, len, dlen, off;
    persona_str_t          content;
    persona_block_t       *b;
    persona_error_t        ferr;
    persona_template_t    *t;
    const char            *s, *copy;
    const persona_jnode_t *m, *f;

    if (!json_is_object(n->value)) {
        return persona_fail(ld, ld->file, n->line, n->column,
                            "expected an object of blocks by slot name such "
                            "as { \"hero\": \"<h1>Hi</h1>\" }");
    }

    if (n->nchild == 0) {
        return PERSONA_OK;
    }

    b = persona_arena_alloc(ld->arena, n->nchild * sizeof(persona_block_t));
    if (b == NULL) {
        return persona_wrap(ld, ld->file, PERSONA_NOMEM);
    }

    e->blocks = b;

    for (i = 0; i < n->nchild; i++) {
        m = &n->child[i];

        if (m->key.len > PERSONA_RULES_NAME_MAX
            || !persona_name_ok(m->key.data, m->key.len, "_-"))
        {
            return persona_fail(ld, ld->file, m->key_line, m->key_column,
                                "expected a slot name of 1 to 64 letters, "
                                "digits, \"_\" or \"-\"");
        }

        b[i].name.data = persona_strndup(&ld->arena->alloc, m->key.data,
                                         m->key.len);
        b[i].name.len = m->key.len;

        if (b[i].name.data == NULL) {
            return persona_wrap(ld, ld->file, PERSONA_NOMEM);
        }

        if (json_is_string(m->value)) {
            rc = persona_load_template(ld, m, 1, &b[i].tpl);
            if (rc != PERSONA_OK) {
                return rc;
            }

            e->nblocks = i + 1;
            continue;
        }

        if (!json_is_object(m->value)) {
            return persona_fail(ld, ld->file, m->line, m->column,
                                "expected a block: a string of HTML or "
                                "{ \"file\": \"blocks/NAME.html\" }");
        }

        rc = persona_check_keys(ld, m, persona_file_keys, "a block");
        if (rc != PERSONA_OK) {
            return rc;
        }

        f = persona_json_get(m, "file");

        if (f == NULL) {
            return persona_fail(ld, ld->file, m->line, m->column,
                                "expected { \"file\": \"blocks/NAME.html\" }");
        }

        s = json_is_string(f->value) ? json_string_value(f->value) : NULL;
        len = s ? json_string_length(f->value) : 0;

        /* relative, inside the rules' folder: rules must not be a way
         * to publish any file the nginx master can read */
        if (s == NULL || len == 0 || s[0] == '/' || strstr(s, "..")
            || strlen(s) != len)
        {
            return persona_fail(ld, ld->file, f->line, f->column,
                                "expected a file path relative to the rules "
                                "file, without \"..\"");
        }

        dlen = strlen(ld->dir);
        path = persona_arena_alloc(&ld->tmp, dlen + len + 1);
        if (path == NULL) {
            return persona_wrap(ld, ld->file, PERSONA_NOMEM);
        }

        memcpy(path, ld->dir, dlen);
        memcpy(path + dlen, s, len + 1);

        memset(&ferr, 0, sizeof(persona_error_t));

        rc = ld->fs->read(ld->fs->data, path, PERSONA_RULES_MAX_BLOCK,
                          &ld->tmp.alloc, &content, &ferr);
        if (rc != PERSONA_OK) {
            return persona_fail(ld, ld->file, f->line, f->column,
                                "cannot read block file \"%s\": %s", path,
                                ferr.msg);
        }

        rc = persona_add_file(ld, path, dlen + len, &copy);
        if (rc != PERSONA_OK) {
            return rc;
        }

        rc = persona_template_compile_html(&t, content.data, content.len,
                                           &ld->rs->attrs, &ld->arena->alloc,
                                           ld->err, &off);
        if (rc == PERSONA_ERROR) {
            /* the position is in the block file */
            memcpy(tmp, ld->err->msg, sizeof(tmp));
            persona_prefix(ld->err, copy, ld->err->line, ld->err->column,
                           tmp);
            return PERSONA_ERROR;
        }

        if (rc != PERSONA_OK) {
            return persona_wrap(ld, ld->file, rc);
        }

        b[i].tpl = t;
        e->nblocks = i + 1;
    }

    return PERSONA_OK;
}


static int
persona_load_routes(persona_load_t *ld, const persona_jnode_t *n,
    persona_experience_t *e, int redirect)
{
    size_t                 i, k, len;
    persona_route_t       *r;
    const char            *s, *msg;
    const persona_jnode_t *m;

    if (!json_is_object(n->value)) {
        return persona_fail(ld, ld->file, n->line, n->column,
                            "expected an object of paths and targets such "
                            "as { \"/\": \"%s\" }",
                            redirect ? "/vip/promo" : "/lp/vip.html");
    }

    if (n->nchild == 0) {
        return PERSONA_OK;
    }

    r = persona_arena_alloc(ld->arena, n->nchild * sizeof(persona_route_t));
    if (r == NULL) {
        return persona_wrap(ld, ld->file, PERSONA_NOMEM);
    }

    for (i = 0; i < n->nchild; i++) {
        m = &n->child[i];

        s = m->key.data;
        len = m->key.len;

        for (k = 0; k < len; k++) {
            if ((unsigned char) s[k] <= 0x20 || s[k] == 0x7f || s[k] == '?'
                || s[k] == '#')
            {
                break;
            }
        }

        if (len == 0 || s[0] != '/' || k != len) {
            return persona_fail(ld, ld->file, m->key_line, m->key_column,
                                "expected a path such as \"/sale\": "
                                "starting with \"/\", without \"?\", \"#\", "
                                "blanks or control characters");
        }

        for (k = 0; redirect && k < e->nlanding; k++) {
            if (persona_str_eq(e->landing[k].path, m->key)) {
                return persona_fail(ld, ld->file, m->key_line, m->key_column,
                                    "path \"%s\" is already a landing path "
                                    "of this experience", s);
            }
        }

        s = json_is_string(m->value) ? json_string_value(m->value) : NULL;
        len = s ? json_string_length(m->value) : 0;

        for (k = 0; k < len; k++) {
            if ((unsigned char) s[k] <= 0x20 || s[k] == 0x7f) {
                break;
            }
        }

        if (s == NULL || len == 0 || k != len
            || !(s[0] == '/'
                 || (redirect && (strncmp(s, "http://", 7) == 0
                                  || strncmp(s, "https://", 8) == 0))))
        {
            return persona_fail(ld, ld->file, m->line, m->column,
                                redirect
                                ? "expected a target such as \"/vip/promo\" "
                                  "or \"https://shop.example/vip\", without "
                                  "blanks"
                                : "expected a local target such as "
                                  "\"/lp/vip.html\", without blanks");
        }

        msg = persona_target_unsafe(s, len, redirect);
        if (msg != NULL) {
            return persona_fail(ld, ld->file, m->line, m->column,
                                "target \"%s\" %s", s, msg);
        }

        r[i].path.data = persona_strndup(&ld->arena->alloc, m->key.data,
                                         m->key.len);
        r[i].path.len = m->key.len;
        r[i].target.data = persona_strndup(&ld->arena->alloc, s, len);
        r[i].target.len = len;

        if (r[i].path.data == NULL || r[i].target.data == NULL) {
            return persona_wrap(ld, ld->file, PERSONA_NOMEM);
        }
    }

    if (redirect) {
        e->redirect = r;
        e->nredirect = n->nchild;

    } else {
        e->landing = r;
        e->nlanding = n->nchild;
    }

    return PERSONA_OK;
}


static int
persona_load_experiment(persona_load_t *ld, const persona_jnode_t *n)
{
    int                    rc;
    char                   var[PERSONA_RULES_NAME_MAX + 1];
    size_t                 i, k, len;
    double                 traffic;
    uint64_t               total, cum;
    persona_ref_t         *ref;
    persona_experiment_t  *x, *o;
    const char            *s;
    const persona_jnode_t *a, *nm;

    if (!json_is_object(n->value)) {
        return persona_fail(ld, ld->file, n->line, n->column,
                            "expected an experiment: { \"name\": ..., "
                            "\"variants\": [ ... ] }");
    }

    rc = persona_check_keys(ld, n, persona_experiment_keys,
                            "an experiment");
    if (rc != PERSONA_OK) {
        return rc;
    }

    a = persona_json_get(n, "description");
    if (a && (rc = persona_check_string(ld, a, "a description")) != 0) {
        return rc;
    }

    nm = persona_json_get(n, "name");

    if (nm == NULL) {
        return persona_fail(ld, ld->file, n->line, n->column,
                            "expected \"name\" in an experiment");
    }

    s = json_is_string(nm->value) ? json_string_value(nm->value) : NULL;
    len = s ? json_string_length(nm->value) : 0;

    if (s == NULL || len > PERSONA_RULES_NAME_MAX
        || !persona_name_ok(s, len, "_-."))
    {
        return persona_fail(ld, ld->file, nm->line, nm->column,
                            "expected an experiment name of 1 to 64 "
                            "letters, digits, \"_\", \"-\" or \".\"");
    }

    for (i = 0; i < ld->rs->nexperiments; i++) {
        o = &ld->rs->experiments[i];

        if (o->name.len == len && memcmp(o->name.data, s, len) == 0) {
            return persona_fail(ld, ld->file, nm->line, nm->column,
                                "experiment \"%s\" is already defined at "
                                "%s:%u:%u", s, o->file, o->line, o->column);
        }

        if (persona_var_name_equal(o->name.data, o->name.len, s, len)) {
            for (k = 0; k < len; k++) {
                var[k] = (s[k] == '-' || s[k] == '.') ? '_'
                         : (s[k] >= 'A' && s[k] <= 'Z') ? (char) (s[k] | 0x20)
                         : s[k];
            }

            var[len] = '\0';

            return persona_fail(ld, ld->file, nm->line, nm->column,
                                "experiment \"%s\" collides with \"%s\" "
                                "(%s:%u:%u): both would be "
                                "$persona_variant_%s", s, o->name.data,
                                o->file, o->line, o->column, var);
        }
    }

    ld->rs->experiments = persona_grow(ld, ld->rs->experiments,
                                       ld->rs->nexperiments,
                                       &ld->nexperiments_alloc,
                                       sizeof(persona_experiment_t));
    if (ld->rs->experiments == NULL) {
        return persona_wrap(ld, ld->file, PERSONA_NOMEM);
    }

    x = &ld->rs->experiments[ld->rs->nexperiments];
    memset(x, 0, sizeof(persona_experiment_t));

    x->name.data = persona_strndup(&ld->arena->alloc, s, len);
    x->name.len = len;
    x->file = ld->file;
    x->line = nm->line;
    x->column = nm->column;
    x->traffic = PERSONA_BUCKETS;
    x->salt.data = "";

    if (x->name.data == NULL) {
        return persona_wrap(ld, ld->file, PERSONA_NOMEM);
    }

    a = persona_json_get(n, "segments");

    if (a) {
        if (!json_is_array(a->value) || a->nchild == 0) {
            return persona_fail(ld, ld->file, a->line, a->column,
                                "expected a non-empty array of segment "
                                "names");
        }

        x->segments = persona_arena_alloc(ld->arena,
                                          a->nchild * sizeof(persona_str_t));
        if (x->segments == NULL) {
            return persona_wrap(ld, ld->file, PERSONA_NOMEM);
        }

        for (i = 0; i < a->nchild; i++) {
            s = json_is_string(a->child[i].value)
                ? json_string_value(a->child[i].value) : NULL;
            len = s ? json_string_length(a->child[i].value) : 0;

            if (s == NULL || !persona_segment_name_valid(s, len)) {
                return persona_fail(ld, ld->file, a->child[i].line,
                                    a->child[i].column,
                                    "expected a segment name of 1 to 64 "
                                    "letters, digits, \"_\", \"-\", \".\" "
                                    "or \":\"");
            }

            x->segments[i].data = persona_strndup(&ld->arena->alloc, s, len);
            x->segments[i].len = len;

            ld->refs = persona_grow(ld, ld->refs, ld->nrefs,
                                    &ld->nrefs_alloc, sizeof(persona_ref_t));

            if (x->segments[i].data == NULL || ld->refs == NULL) {
                return persona_wrap(ld, ld->file, PERSONA_NOMEM);
            }

            ref = &ld->refs[ld->nrefs++];
            ref->name = x->segments[i];
            ref->file = ld->file;
            ref->line = a->child[i].line;
            ref->column = a->child[i].column;
        }

        x->nsegments = a->nchild;
    }

    a = persona_json_get(n, "salt");

    if (a) {
        if (!json_is_string(a->value) || json_string_length(a->value) > 256) {
            return persona_fail(ld, ld->file, a->line, a->column,
                                "expected a salt string of at most 256 "
                                "bytes");
        }

        x->salt.len = json_string_length(a->value);
        x->salt.data = persona_strndup(&ld->arena->alloc,
                                       json_string_value(a->value),
                                       x->salt.len);
        if (x->salt.data == NULL) {
            return persona_wrap(ld, ld->file, PERSONA_NOMEM);
        }
    }

    a = persona_json_get(n, "traffic");

    if (a) {
        traffic = json_is_number(a->value) ? json_number_value(a->value) : -1;

        if (!(traffic >= 0 && traffic <= 100)) {
            return persona_fail(ld, ld->file, a->line, a->column,
                                "expected a percentage of visitors from 0 "
                                "to 100");
        }

        x->traffic = (unsigned) (traffic * 100 + 0.5);
    }

    a = persona_json_get(n, "variants");

    if (a == NULL || !json_is_array(a->value) || a->nchild == 0) {
        return persona_fail(ld, ld->file, a ? a->line : n->line,
                            a ? a->column : n->column,
                            "expected \"variants\": a non-empty array of "
                            "variants, the first one is the control");
    }

    x->variants = persona_arena_alloc(ld->arena,
                                      a->nchild * sizeof(persona_variant_t));
    if (x->variants == NULL) {
        return persona_wrap(ld, ld->file, PERSONA_NOMEM);
    }

    memset(x->variants, 0, a->nchild * sizeof(persona_variant_t));

    total = 0;

    for (i = 0; i < a->nchild; i++) {
        rc = persona_load_variant(ld, &a->child[i], x, i);
        if (rc != PERSONA_OK) {
            return rc;
        }

        x->nvariants = i + 1;
        total += x->variants[i].weight;
    }

    if (total == 0) {
        return persona_fail(ld, ld->file, a->line, a->column,
                            "expected at least one variant with a weight "
                            "above 0");
    }

    /* contiguous ranges in variant order: changing one weight moves
     * only the visitors at the borders it shifts */
    cum = 0;

    for (k = 0; k < x->nvariants; k++) {
        x->variants[k].lo = (unsigned) (cum * PERSONA_BUCKETS / total);
        cum += x->variants[k].weight;
        x->variants[k].hi = (unsigned) (cum * PERSONA_BUCKETS / total);
    }

    a = persona_json_get(n, "cap");

    if (a) {
        rc = persona_load_cap(ld, a, x);
        if (rc != PERSONA_OK) {
            return rc;
        }
    }

    ld->rs->nexperiments++;

    return PERSONA_OK;
}


static int
persona_load_variant(persona_load_t *ld, const persona_jnode_t *n,
    persona_experiment_t *x, size_t i)
{
    int                    rc;
    size_t                 k, len;
    double                 w;
    const char            *s;
    persona_variant_t     *v;
    const persona_jnode_t *nm, *a;

    if (!json_is_object(n->value)) {
        return persona_fail(ld, ld->file, n->line, n->column,
                            "expected a variant: { \"name\": ..., "
                            "\"weight\": 50 }");
    }

    rc = persona_check_keys(ld, n, persona_variant_keys, "a variant");
    if (rc != PERSONA_OK) {
        return rc;
    }

    nm = persona_json_get(n, "name");
    s = (nm && json_is_string(nm->value)) ? json_string_value(nm->value)
                                          : NULL;
    len = s ? json_string_length(nm->value) : 0;

    if (s == NULL || len > PERSONA_RULES_NAME_MAX
        || !persona_name_ok(s, len, "_-."))
    {
        return persona_fail(ld, ld->file, nm ? nm->line : n->line,
                            nm ? nm->column : n->column,
                            "expected a variant name of 1 to 64 letters, "
                            "digits, \"_\", \"-\" or \".\"");
    }

    for (k = 0; k < i; k++) {
        if (x->variants[k].name.len == len
            && memcmp(x->variants[k].name.data, s, len) == 0)
        {
            return persona_fail(ld, ld->file, nm->line, nm->column,
                                "variant \"%s\" is already defined in this "
                                "experiment", s);
        }
    }

    v = &x->variants[i];
    v->name.data = persona_strndup(&ld->arena->alloc, s, len);
    v->name.len = len;
    v->weight = 1;

    if (v->name.data == NULL) {
        return persona_wrap(ld, ld->file, PERSONA_NOMEM);
    }

    a = persona_json_get(n, "weight");

    if (a) {
        w = json_is_integer(a->value) ? (double) json_integer_value(a->value)
                                      : -1;

        if (w < 0 || w > PERSONA_BUCKETS) {
            return persona_fail(ld, ld->file, a->line, a->column,
                                "expected a weight: a whole number from 0 "
                                "to 10000");
        }

        v->weight = (unsigned) w;
    }

    v->overrides.name = v->name;
    v->overrides.file = ld->file;
    v->overrides.line = n->line;
    v->overrides.column = n->column;

    return persona_load_actions(ld, n, &v->overrides);
}


static int
persona_load_cap(persona_load_t *ld, const persona_jnode_t *n,
    persona_experiment_t *x)
{
    int                    rc;
    size_t                 i, len;
    uint64_t               per;
    const char            *s;
    const persona_jnode_t *max, *p;

    if (!json_is_object(n->value)) {
        return persona_fail(ld, ld->file, n->line, n->column,
                            "expected a cap: { \"max\": 3, \"per\": \"1d\" }");
    }

    rc = persona_check_keys(ld, n, persona_cap_keys, "a cap");
    if (rc != PERSONA_OK) {
        return rc;
    }

    max = persona_json_get(n, "max");
    p = persona_json_get(n, "per");

    if (max == NULL || p == NULL) {
        return persona_fail(ld, ld->file, n->line, n->column,
                            "expected a cap: { \"max\": 3, \"per\": \"1d\" }");
    }

    if (!json_is_integer(max->value) || json_integer_value(max->value) < 1
        || json_integer_value(max->value) > 1000000)
    {
        return persona_fail(ld, ld->file, max->line, max->column,
                            "expected a whole number from 1 to 1000000");
    }

    s = json_is_string(p->value) ? json_string_value(p->value) : "";
    len = json_is_string(p->value) ? json_string_length(p->value) : 0;
    per = 0;

    for (i = 0; i + 1 < len && s[i] >= '0' && s[i] <= '9' && i < 6; i++) {
        per = per * 10 + (uint64_t) (s[i] - '0');
    }

    if (len >= 2 && i == len - 1 && per > 0) {
        switch (s[i]) {
        case 's': break;
        case 'm': per *= 60; break;
        case 'h': per *= 3600; break;
        case 'd': per *= 86400; break;
        case 'w': per *= 7 * 86400; break;
        default: per = 0;
        }

    } else {
        per = 0;
    }

    if (per == 0 || per > 366 * 86400) {
        return persona_fail(ld, ld->file, p->line, p->column,
                            "expected a period such as \"30m\", \"12h\", "
                            "\"1d\" or \"1w\" (at most a year)");
    }

    x->cap_max = (unsigned) json_integer_value(max->value);
    x->cap_per = (unsigned) per;

    return PERSONA_OK;
}


static int
persona_load_goal(persona_load_t *ld, const persona_jnode_t *n)
{
    int                    rc;
    size_t                 i;
    persona_goal_t        *g;
    persona_cond_t        *cond;
    persona_str_t          name;
    const persona_jnode_t *nm, *when, *d;

    if (!json_is_object(n->value)) {
        return persona_fail(ld, ld->file, n->line, n->column,
                            "expected a goal: { \"name\": ..., "
                            "\"when\": { ... } }");
    }

    rc = persona_check_keys(ld, n, persona_goal_keys, "a goal");
    if (rc != PERSONA_OK) {
        return rc;
    }

    d = persona_json_get(n, "description");
    if (d && (rc = persona_check_string(ld, d, "a description")) != 0) {
        return rc;
    }

    nm = persona_json_get(n, "name");
    when = persona_json_get(n, "when");

    if (nm == NULL) {
        return persona_fail(ld, ld->file, n->line, n->column,
                            "expected \"name\" and \"when\" in a goal");
    }

    if (!json_is_string(nm->value)
        || !persona_segment_name_valid(json_string_value(nm->value),
                                       json_string_length(nm->value)))
    {
        return persona_fail(ld, ld->file, nm->line, nm->column,
                            "expected a goal name of 1 to 64 letters, "
                            "digits, \"_\", \"-\", \".\" or \":\"");
    }

    name.data = json_string_value(nm->value);
    name.len = json_string_length(nm->value);

    for (i = 0; i < ld->rs->ngoals; i++) {
        g = &ld->rs->goals[i];

        if (persona_str_eq(g->name, name)) {
            return persona_fail(ld, ld->file, nm->line, nm->column,
                                "goal \"%s\" is already defined at "
                                "%s:%u:%u", name.data, g->file, g->line,
                                g->column);
        }
    }

    if (when == NULL) {
        return persona_fail(ld, ld->file, n->line, n->column,
                            "expected \"when\" with the conditions of "
                            "goal \"%s\"", name.data);
    }

    rc = persona_cond_compile(&cond, when, &ld->cctx, ld->err);
    if (rc != PERSONA_OK) {
        return persona_wrap(ld, ld->file, rc);
    }

    name.data = persona_strndup(&ld->arena->alloc, name.data, name.len);
    if (name.data == NULL) {
        return persona_wrap(ld, ld->file, PERSONA_NOMEM);
    }

    ld->rs->goals = persona_grow(ld, ld->rs->goals, ld->rs->ngoals,
                                 &ld->ngoals_alloc, sizeof(persona_goal_t));
    if (ld->rs->goals == NULL) {
        return persona_wrap(ld, ld->file, PERSONA_NOMEM);
    }

    g = &ld->rs->goals[ld->rs->ngoals++];
    memset(g, 0, sizeof(persona_goal_t));

    g->name = name;
    g->when = cond;
    g->file = ld->file;
    g->line = nm->line;
    g->column = nm->column;

    return PERSONA_OK;
}


static int
persona_load_template(persona_load_t *ld, const persona_jnode_t *s,
    int html, const persona_template_t **out)
{
    int                  rc;
    size_t               off;
    persona_template_t  *t;

    /* a block is HTML: each placeholder is escaped for its context */
    rc = (html ? persona_template_compile_html : persona_template_compile)
             (&t, json_string_value(s->value), json_string_length(s->value),
              &ld->rs->attrs, &ld->arena->alloc, ld->err, &off);
    if (rc == PERSONA_ERROR) {
        persona_json_string_pos(&ld->doc, s, off, &ld->err->line,
                                &ld->err->column);
    }

    if (rc != PERSONA_OK) {
        return persona_wrap(ld, ld->file, rc);
    }

    *out = t;

    return PERSONA_OK;
}


/* cross-file checks, once every file is loaded */

static int
persona_load_finish(persona_load_t *ld)
{
    size_t                 i;
    persona_rules_t       *rs;
    persona_segment_t     *seg;
    persona_experience_t  *e;
    persona_ref_t         *ref;

    rs = ld->rs;

    if (rs->default_segment.data == NULL) {
        rs->default_segment.data = "default";
        rs->default_segment.len = 7;
    }

    for (i = 0; i < rs->nexperiences; i++) {
        e = &rs->experiences[i];

        if (persona_segment_known(ld, e->name)) {
            continue;
        }

        if (!ld->has_from) {
            return persona_fail(ld, e->file, e->line, e->column,
                                "experience \"%s\" names no segment: "
                                "expected a segment name or the default "
                                "\"%s\"", e->name.data,
                                rs->default_segment.data);
        }

        if (persona_warn(ld, e->file, e->line, e->column,
                         "experience \"%s\" names no segment of these rules; "
                         "only a \"from\" entry can produce it",
                         e->name.data) != PERSONA_OK)
        {
            return PERSONA_NOMEM;
        }
    }

    for (i = 0; i < ld->nrefs; i++) {
        ref = &ld->refs[i];

        if (persona_segment_known(ld, ref->name)) {
            continue;
        }

        if (!ld->has_from) {
            return persona_fail(ld, ref->file, ref->line, ref->column,
                                "experiment segment \"%s\" is not defined: "
                                "expected a segment name or the default "
                                "\"%s\"", ref->name.data,
                                rs->default_segment.data);
        }

        if (persona_warn(ld, ref->file, ref->line, ref->column,
                         "experiment segment \"%s\" is not defined in these "
                         "rules; only a \"from\" entry can produce it",
                         ref->name.data) != PERSONA_OK)
        {
            return PERSONA_NOMEM;
        }
    }

    if (rs->nexperiences > 1) {
        qsort(rs->experiences, rs->nexperiences, sizeof(persona_experience_t),
              persona_exp_cmp);
    }

    for (i = 0; i < rs->nsegments; i++) {
        seg = &rs->segments[i];

        if (seg->from == NULL) {
            seg->experience = persona_rules_experience(rs, seg->name.data,
                                                       seg->name.len);
        }
    }

    rs->default_experience = persona_rules_experience(rs,
                                                rs->default_segment.data,
                                                rs->default_segment.len);

    rs->scratch = persona_cond_scratch_create();
    if (rs->scratch == NULL) {
        persona_error_set(ld->err, "out of memory");
        return PERSONA_NOMEM;
    }

    return PERSONA_OK;
}


static int
persona_segment_known(persona_load_t *ld, persona_str_t name)
{
    size_t  i;

    if (persona_str_eq(name, ld->rs->default_segment)) {
        return 1;
    }

    for (i = 0; i < ld->rs->nsegments; i++) {
        if (ld->rs->segments[i].from == NULL
            && persona_str_eq(ld->rs->segments[i].name, name))
        {
            return 1;
        }
    }

    return 0;
}


/* helpers */

static int
persona_check_keys(persona_load_t *ld, const persona_jnode_t *obj,
    const char **allowed, const char *what)
{
    char          expected[200];
    size_t        i, k, len, n;
    const char  **a;

    for (i = 0; i < obj->nchild; i++) {
        for (a = allowed; *a; a++) {
            if (strcmp(*a, obj->child[i].key.data) == 0) {
                break;
            }
        }

        if (*a) {
            continue;
        }

        /* "a", "b" or "c" */
        len = 0;
        expected[0] = '\0';

        for (k = 0; allowed[k]; k++) {
            n = (size_t) snprintf(expected + len, sizeof(expected) - len,
                                  "%s\"%s\"",
                                  k == 0 ? ""
                                  : allowed[k + 1] ? ", " : " or ",
                                  allowed[k]);
            if (n >= sizeof(expected) - len) {
                break;
            }

            len += n;
        }

        return persona_fail(ld, ld->file, obj->child[i].key_line,
                            obj->child[i].key_column,
                            "unknown key \"%.40s\" in %s: expected %s",
                            obj->child[i].key.data, what, expected);
    }

    return PERSONA_OK;
}


static int
persona_check_string(persona_load_t *ld, const persona_jnode_t *n,
    const char *what)
{
    if (json_is_string(n->value)) {
        return PERSONA_OK;
    }

    return persona_fail(ld, ld->file, n->line, n->column,
                        "expected %s: a string", what);
}


static int
persona_fail(persona_load_t *ld, const char *file, unsigned line,
    unsigned column, const char *fmt, ...)
{
    char     msg[PERSONA_ERRMSG_LEN];
    va_list  args;

    va_start(args, fmt);
    vsnprintf(msg, sizeof(msg), fmt, args);
    va_end(args);

    persona_prefix(ld->err, file, line, column, msg);
    ld->err->line = line;
    ld->err->column = column;

    return PERSONA_ERROR;
}


/* "file:line:column: msg" into err->msg, cut to its size */
static void
persona_prefix(persona_error_t *err, const char *file, unsigned line,
    unsigned column, const char *msg)
{
    int  n;

    n = snprintf(err->msg, sizeof(err->msg), "%s:%u:%u: %s", file, line,
                 column, msg);

    if (n < 0) {
        err->msg[0] = '\0';
    }
}


/* prefixes the file to an error a compiler left in ld->err */
static int
persona_wrap(persona_load_t *ld, const char *file, int rc)
{
    char  msg[PERSONA_ERRMSG_LEN];

    if (rc == PERSONA_NOMEM) {
        snprintf(ld->err->msg, sizeof(ld->err->msg), "%s: out of memory",
                 file);
        return PERSONA_NOMEM;
    }

    memcpy(msg, ld->err->msg, sizeof(msg));
    msg[sizeof(msg) - 1] = '\0';

    persona_prefix(ld->err, file, ld->err->line, ld->err->column, msg);

    return PERSONA_ERROR;
}


static int
persona_warn(persona_load_t *ld, const char *file, unsigned line,
    unsigned column, const char *fmt, ...)
{
    int       n;
    char      msg[PERSONA_ERRMSG_LEN], *w;
    va_list   args;
    const char  **warnings;

    va_start(args, fmt);
    vsnprintf(msg, sizeof(msg), fmt, args);
    va_end(args);

    warnings = persona_grow(ld, (void *) ld->rs->warnings,
                            ld->rs->nwarnings, &ld->nwarnings_alloc,
                            sizeof(char *));
    w = persona_arena_alloc(ld->arena, 2 * PERSONA_ERRMSG_LEN);

    if (warnings == NULL || w == NULL) {
        persona_error_set(ld->err, "out of memory");
        return PERSONA_NOMEM;
    }

    n = snprintf(w, 2 * PERSONA_ERRMSG_LEN, "%s:%u:%u: %s", file, line,
                 column, msg);
    (void) n;

    ld->rs->warnings = warnings;
    ld->rs->warnings[ld->rs->nwarnings++] = w;

    return PERSONA_OK;
}


static int
persona_add_file(persona_load_t *ld, const char *path, size_t len,
    const char **copy)
{
    char         *p;
    const char  **files;

    files = persona_grow(ld, (void *) ld->rs->files, ld->rs->nfiles,
                         &ld->nfiles_alloc, sizeof(char *));
    p = persona_strndup(&ld->arena->alloc, path, len);

    if (files == NULL || p == NULL) {
        persona_error_set(ld->err, "%s: out of memory", path);
        return PERSONA_NOMEM;
    }

    ld->rs->files = files;
    ld->rs->files[ld->rs->nfiles++] = p;
    *copy = p;

    return PERSONA_OK;
}


/*
 * Why a landing or redirect target (already starting with "/", "http://"
 * or "https://", without blanks or control bytes) is unsafe, or NULL.
 * Browsers read "//host" and "/\host" as another host, and "\" as "/"
 * anywhere in a URL, so a backslash is refused everywhere; an absolute
 * target names its host (no "https:///host", no "user@" before it).  A
 * landing target is an internal URI mapped to files: no "." or ".."
 * segment and no "#".
 */
static const char *
persona_target_unsafe(const char *s, size_t len, int redirect)
{
    size_t       k, seg;
    const char  *end, *q;

    if (memchr(s, '\\', len) != NULL) {
        return "contains a backslash";
    }

    if (s[0] == '/') {
        if (len > 1 && s[1] == '/') {
            return "starts with \"//\", which browsers read as another "
                   "host: write a full https:// URL for another host";
        }

    } else {
        k = (s[4] == 's') ? 8 : 7;                  /* after "http(s)://" */
        end = s + k;

        while (end < s + len && *end != '/' && *end != '?' && *end != '#') {
            end++;
        }

        if (end == s + k) {
            return "names no host after the scheme";
        }

        if (memchr(s + k, '@', end - (s + k)) != NULL) {
            return "has a user name (\"@\") before the host";
        }
    }

    if (redirect) {
        return NULL;
    }

    if (memchr(s, '#', len) != NULL) {
        return "contains \"#\"";
    }

    q = memchr(s, '?', len);
    end = q ? q : s + len;

    for (seg = 0; s + seg < end; seg = k) {
        /* s[seg] is '/': the segment runs to the next '/' */
        for (k = seg + 1; s + k < end && s[k] != '/'; k++) {
            /* void */
        }

        if ((k - seg == 2 && s[seg + 1] == '.')
            || (k - seg == 3 && s[seg + 1] == '.' && s[seg + 2] == '.'))
        {
            return "has a \".\" or \"..\" segment";
        }
    }

    return NULL;
}


/* header names are equal case-insensitively with "-" and "_" equal */
static int
persona_header_eq(const char *a, size_t alen, const char *b, size_t blen)
{
    size_t  i;

    if (alen != blen) {
        return 0;
    }

    for (i = 0; i < alen; i++) {
        if (persona_header_fold(a[i]) != persona_header_fold(b[i])) {
            return 0;
        }
    }

    return 1;
}


/* the entry of list that matches name ("x-*" matches a prefix), or NULL */
static const char *
persona_header_listed(const char **list, const char *name, size_t len)
{
    size_t  n;

    for ( /* void */ ; *list; list++) {
        n = strlen(*list);

        if ((*list)[n - 1] == '*') {
            if (len >= n - 1 && persona_header_eq(*list, n - 1, name, n - 1))
            {
                return *list;
            }

            continue;
        }

        if (persona_header_eq(*list, n, name, len)) {
            return *list;
        }
    }

    return NULL;
}


/* 1..len of letters, digits and the extra bytes */
static int
persona_name_ok(const char *s, size_t len, const char *extra)
{
    size_t  i;

    if (len == 0) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if ((s[i] >= '0' && s[i] <= '9')
            || ((s[i] | 0x20) >= 'a' && (s[i] | 0x20) <= 'z'))
        {
            continue;
        }

        if (s[i] == '\0' || strchr(extra, s[i]) == NULL) {
            return 0;
        }
    }

    return 1;
}


int
persona_segment_name_valid(const char *name, size_t len)
{
    return len <= PERSONA_RULES_NAME_MAX && persona_name_ok(name, len, "_-.:");
}



static int
persona_str_eq(persona_str_t a, persona_str_t b)
{
    return a.len == b.len && (a.len == 0 || memcmp(a.data, b.data, a.len) == 0);
}


static int
persona_str_cmp(const void *a, const void *b)
{
    int                   rc;
    const persona_str_t  *x, *y;

    x = a;
    y = b;

    rc = memcmp(x->data, y->data, x->len < y->len ? x->len : y->len);

    if (rc != 0) {
        return rc;
    }

    return (x->len > y->len) - (x->len < y->len);
}


static int
persona_exp_cmp(const void *a, const void *b)
{
    return persona_str_cmp(&((const persona_experience_t *) a)->name,
                           &((const persona_experience_t *) b)->name);
}


/* evaluation */

const persona_experience_t *
persona_rules_experience(const persona_rules_t *rules, const char *name,
    size_t len)
{
    int            rc;
    size_t         lo, hi, mid;
    persona_str_t  key;

    key.data = name;
    key.len = len;

    lo = 0;
    hi = rules->nexperiences;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;
        rc = persona_str_cmp(&key, &rules->experiences[mid].name);

        if (rc == 0) {
            return &rules->experiences[mid];
        }

        if (rc < 0) {
            hi = mid;

        } else {
            lo = mid + 1;
        }
    }

    return NULL;
}


int
persona_rules_eval(const persona_rules_t *rules, persona_lookup_pt lookup,
    void *data, persona_result_t *res)
{
    int                       rc;
    size_t                    i, j;
    persona_str_t             name;
    persona_eval_t            ev;
    const persona_segment_t  *seg;

    ev.lookup = lookup;
    ev.data = data;
    ev.scratch = rules->scratch;

    res->segment = rules->default_segment;
    res->matched = 0;
    res->experience = NULL;
    res->nmatches = 0;
    res->nlimited = 0;
    res->limited.data = NULL;
    res->limited.len = 0;

    for (i = 0; i < rules->nsegments; i++) {
        seg = &rules->segments[i];

        if (seg->from) {
            name.data = NULL;
            name.len = 0;

            if (lookup(data, seg->from, &name) != PERSONA_ATTR_FOUND
                || name.data == NULL
                || !persona_segment_name_valid(name.data, name.len))
            {
                continue;
            }

        } else {
            rc = persona_cond_eval(seg->when, &ev);

            if (rc == PERSONA_COND_LIMIT) {
                if (res->nlimited++ == 0) {
                    res->limited = seg->name;
                }

                continue;
            }

            if (rc != 1) {
                continue;
            }

            name = seg->name;
        }

        if (!res->matched) {
            res->matched = 1;
            res->segment = name;
            res->experience = seg->from
                              ? persona_rules_experience(rules, name.data,
                                                         name.len)
                              : seg->experience;

            if (res->matches == NULL) {
                return PERSONA_OK;
            }
        }

        for (j = 0; j < res->nmatches; j++) {
            if (persona_str_eq(res->matches[j], name)) {
                break;
            }
        }

        if (j == res->nmatches) {
            res->matches[res->nmatches++] = name;
        }
    }

    if (!res->matched) {
        res->experience = rules->default_experience;
    }

    return PERSONA_OK;
}


size_t
persona_rules_goals(const persona_rules_t *rules, persona_lookup_pt lookup,
    void *data, unsigned char *matched)
{
    size_t          i, n;
    persona_eval_t  ev;

    ev.lookup = lookup;
    ev.data = data;
    ev.scratch = rules->scratch;

    n = 0;

    for (i = 0; i < rules->ngoals; i++) {
        matched[i] = (persona_cond_eval(rules->goals[i].when, &ev) == 1);
        n += matched[i];
    }

    return n;
}


/* the POSIX file system (load time only) */

/*
 * Resolves the directory files must stay in (dir of len bytes, "" is the
 * current one), for the POSIX file system only.  PERSONA_NOMEM only when
 * memory runs out; a directory that does not resolve fails every read.
 */
static int
persona_posix_root(persona_load_t *ld, const char *dir, size_t len)
{
    char    *d, *real;
    size_t   rlen;

    if (ld->fs != &ld->posix) {
        return PERSONA_OK;
    }

    d = persona_arena_alloc(&ld->tmp, len + 2);
    if (d == NULL) {
        persona_error_set(ld->err, "%s: out of memory", dir);
        return PERSONA_NOMEM;
    }

    if (len == 0) {
        d[len++] = '.';

    } else {
        memcpy(d, dir, len);
    }

    d[len] = '\0';

    real = realpath(d, NULL);

    if (real == NULL) {
        ld->root = NULL;
        ld->root_err = persona_strndup(&ld->tmp.alloc, strerror(errno),
                                       strlen(strerror(errno)));
        return PERSONA_OK;
    }

    rlen = strlen(real);
    if (rlen == 1) {
        rlen = 0;                                   /* "/" */
    }

    ld->root = persona_strndup(&ld->tmp.alloc, real, rlen);
    free(real);

    if (ld->root == NULL) {
        persona_error_set(ld->err, "%s: out of memory", dir);
        return PERSONA_NOMEM;
    }

    return PERSONA_OK;
}


/*
 * A regular file only, checked before it is opened (opening a FIFO or a
 * device may block or act), opened without blocking and checked again.
 * Once a root is set, the file must resolve inside it: neither a symlink
 * nor ".." may publish a file from elsewhere.
 */
static int
persona_posix_read(void *data, const char *path, size_t max,
    persona_alloc_t *a, persona_str_t *content, persona_error_t *err)
{
    int              fd;
    char            *p, *real;
    size_t           size, got, rlen;
    ssize_t          n;
    struct stat      st, fst;
    persona_load_t  *ld = data;

    real = NULL;

    if (stat(path, &st) == -1) {
        persona_error_set(err, "%s", strerror(errno));
        return PERSONA_ERROR;
    }

    if (!S_ISREG(st.st_mode)) {
        persona_error_set(err, "not a regular file (%s)",
                          S_ISDIR(st.st_mode) ? "a directory"
                          : S_ISFIFO(st.st_mode) ? "a FIFO"
                          : S_ISSOCK(st.st_mode) ? "a socket"
                          : "a device");
        return PERSONA_ERROR;
    }

    if (ld->root_err) {
        persona_error_set(err, "cannot resolve the rules directory: %s",
                          ld->root_err);
        return PERSONA_ERROR;
    }

    if (ld->root) {
        real = realpath(path, NULL);
        if (real == NULL) {
            persona_error_set(err, "%s", strerror(errno));
            return PERSONA_ERROR;
        }

        rlen = strlen(ld->root);

        if (strncmp(real, ld->root, rlen) != 0 || real[rlen] != '/') {
            persona_error_set(err, "resolves to \"%s\", outside the rules "
                              "directory \"%s\"", real,
                              rlen ? ld->root : "/");
            free(real);
            return PERSONA_ERROR;
        }
    }

    /* the resolved path, not following a symlink swapped in since */
    fd = open(real ? real : path,
              O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY
              | (real ? O_NOFOLLOW : 0));
    free(real);

    if (fd == -1) {
        persona_error_set(err, "%s", strerror(errno));
        return PERSONA_ERROR;
    }

    if (fstat(fd, &fst) == -1) {
        persona_error_set(err, "%s", strerror(errno));
        goto failed;
    }

    if (!S_ISREG(fst.st_mode)
        || fst.st_dev != st.st_dev || fst.st_ino != st.st_ino)
    {
        persona_error_set(err, "changed while it was read");
        goto failed;
    }

    if ((uint64_t) fst.st_size > max) {
        persona_error_set(err, "larger than %zu bytes", max);
        goto failed;
    }

    size = (size_t) fst.st_size;

    p = persona_alloc(a, size + 1);
    if (p == NULL) {
        persona_error_set(err, "out of memory");
        goto failed;
    }

    for (got = 0; got < size; got += (size_t) n) {
        n = read(fd, p + got, size - got);

        if (n == -1 && errno == EINTR) {
            n = 0;
            continue;
        }

        if (n == -1) {
            persona_error_set(err, "%s", strerror(errno));
            goto failed;
        }

        if (n == 0) {
            break;
        }
    }

    close(fd);

    p[got] = '\0';
    content->data = p;
    content->len = got;

    return PERSONA_OK;

failed:

    close(fd);

    return PERSONA_ERROR;
}


static int
persona_posix_list(void *data, const char *path, persona_alloc_t *a,
    persona_str_t **names, size_t *n, persona_error_t *err)
{
    DIR             *dir;
    char            *p;
    size_t           nalloc, len;
    struct stat      st;
    persona_str_t   *list, *bigger;
    struct dirent   *de;

    if (stat(path, &st) == -1) {
        persona_error_set(err, "%s", strerror(errno));
        return PERSONA_ERROR;
    }

    if (!S_ISDIR(st.st_mode)) {
        return PERSONA_RULES_NOT_DIR;
    }

    dir = opendir(path);
    if (dir == NULL) {
        persona_error_set(err, "%s", strerror(errno));
        return PERSONA_ERROR;
    }

    list = NULL;
    nalloc = 0;
    *n = 0;

    while ((de = readdir(dir)) != NULL) {
        if (strcmp(de->d_name, ".") == 0 || strcmp(de->d_name, "..") == 0) {
            continue;
        }

        if (*n == nalloc) {
            nalloc = nalloc ? nalloc * 2 : 16;
            bigger = persona_alloc(a, nalloc * sizeof(persona_str_t));
            if (bigger == NULL) {
                goto nomem;
            }

            if (*n) {
                memcpy(bigger, list, *n * sizeof(persona_str_t));
            }

            list = bigger;
        }

        len = strlen(de->d_name);
        p = persona_strndup(a, de->d_name, len);
        if (p == NULL) {
            goto nomem;
        }

        list[*n].data = p;
        list[*n].len = len;
        (*n)++;
    }

    closedir(dir);
    *names = list;

    return PERSONA_OK;

nomem:

    closedir(dir);
    persona_error_set(err, "out of memory");

    return PERSONA_ERROR;
}
