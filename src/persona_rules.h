/*
 * Rule sets: the marketers' JSON files compiled once into an immutable
 * structure, and their evaluation per request.
 *
 * Loading reads one file, or every "*.json" of a directory in lexical
 * (byte) order (names starting with "." are skipped), with jansson, and
 * compiles conditions, templates, block files and experiments.  Files of
 * a directory add up: segments are concatenated in file order, and a
 * segment, experience or experiment name, or "default", defined twice is
 * an error naming both places.  Every error, semantic ones included,
 * reads "file:line:column: what was expected" (err->msg; err->line and
 * err->column are set too).
 *
 * A loaded rule set owns all its memory (one malloc'd arena, a PCRE2
 * scratch) and is released with persona_rules_free(): nginx keeps the old
 * set while a new one loads and frees a set when its last request ends.
 * Evaluation allocates nothing; it uses the set's PCRE2 scratch, so one
 * rule set must not be evaluated by two threads at once (nginx workers
 * are single-threaded).
 *
 * Files are read through persona_rules_fs_t; NULL means the POSIX one
 * below (the only I/O of the core, at load time only).
 */

#ifndef PERSONA_RULES_H
#define PERSONA_RULES_H

#include "persona_attr.h"
#include "persona_cond.h"
#include "persona_template.h"


#define PERSONA_RULES_NOT_DIR      1             /* fs->list(): a file */

#define PERSONA_RULES_MAX_FILE     (4 * 1024 * 1024)
#define PERSONA_RULES_MAX_BLOCK    (1024 * 1024)
#define PERSONA_RULES_MAX_FILES    1000
#define PERSONA_RULES_NAME_MAX     64            /* segment, experiment... */
#define PERSONA_BUCKETS            10000


typedef struct {
    /*
     * Reads the whole file into memory from a.  Returns PERSONA_OK, or
     * PERSONA_ERROR with the reason in err->msg (e.g. "No such file or
     * directory"), also when the file is larger than max.
     */
    int   (*read)(void *data, const char *path, size_t max,
                  persona_alloc_t *a, persona_str_t *content,
                  persona_error_t *err);
    /*
     * Lists a directory: PERSONA_OK with every entry name but "." and
     * "..", PERSONA_RULES_NOT_DIR when path is not a directory,
     * PERSONA_ERROR with the reason in err->msg.
     */
    int   (*list)(void *data, const char *path, persona_alloc_t *a,
                  persona_str_t **names, size_t *n, persona_error_t *err);
    void   *data;
} persona_rules_fs_t;


typedef struct {
    persona_str_t               name;
    const persona_template_t   *value;      /* render PERSONA_ESCAPE_HEADER */
} persona_header_t;


typedef struct {
    persona_str_t               name;       /* slot: <!--persona:NAME--> */
    const persona_template_t   *tpl;        /* render PERSONA_ESCAPE_HTML */
} persona_block_t;


typedef struct {
    persona_str_t               path;       /* exact normalized $uri */
    persona_str_t               target;
} persona_route_t;


/* an experience, or the overrides of a variant (same shape) */
typedef struct {
    persona_str_t               name;
    persona_header_t           *request_headers;
    size_t                      nrequest_headers;
    persona_header_t           *response_headers;
    size_t                      nresponse_headers;
    persona_block_t            *blocks;
    size_t                      nblocks;
    persona_route_t            *landing;
    size_t                      nlanding;
    persona_route_t            *redirect;   /* target: "/path" or URL */
    size_t                      nredirect;
    const char                 *file;       /* where it was defined */
    unsigned                    line;
    unsigned                    column;
} persona_experience_t;


typedef struct {
    persona_str_t               name;       /* empty for a "from" entry */
    const persona_cond_t       *when;       /* NULL for a "from" entry */
    /* "from": the segment named by this attribute's value */
    const persona_attr_t       *from;
    const persona_experience_t *experience; /* named segments; or NULL */
    const char                 *file;
    unsigned                    line;
    unsigned                    column;
} persona_segment_t;


typedef struct {
    persona_str_t               name;
    unsigned                    weight;
    unsigned                    lo;         /* bucket range [lo, hi) */
    unsigned                    hi;
    persona_experience_t        overrides;
} persona_variant_t;


typedef struct {
    persona_str_t               name;
    persona_str_t               salt;
    unsigned                    traffic;    /* 0..PERSONA_BUCKETS */
    persona_str_t              *segments;   /* none: every visitor */
    size_t                      nsegments;
    persona_variant_t          *variants;   /* [0] is the control */
    size_t                      nvariants;
    unsigned                    cap_max;    /* 0: no cap */
    unsigned                    cap_per;    /* seconds */
    const char                 *file;
    unsigned                    line;
    unsigned                    column;
} persona_experiment_t;


/* a conversion goal: "goals": [ { "name": ..., "when": { ... } } ] */
typedef struct {
    persona_str_t               name;
    const persona_cond_t       *when;
    const char                 *file;
    unsigned                    line;
    unsigned                    column;
} persona_goal_t;


/* read-only after loading */
typedef struct {
    persona_segment_t          *segments;   /* in file order */
    size_t                      nsegments;
    persona_str_t               default_segment;
    const persona_experience_t *default_experience;
    persona_experience_t       *experiences;    /* sorted by name */
    size_t                      nexperiences;
    persona_experiment_t       *experiments;    /* in file order */
    size_t                      nexperiments;
    persona_goal_t             *goals;          /* in file order */
    size_t                      ngoals;

    /* every attribute used, and PERSONA_ATTR_BIT()s in attrs.uses: the
     * glue computes device / lang or looks up geo only when used */
    persona_attrs_t             attrs;

    /* every name in any request_headers (experiences and variants),
     * lowercased, once: clients' headers of these names are removed */
    persona_str_t              *request_header_names;
    size_t                      nrequest_header_names;

    /* the files read (rules and block files), for change detection */
    const char                **files;
    size_t                      nfiles;

    /* "file:line:column: ..." notes that are not errors */
    const char                **warnings;
    size_t                      nwarnings;

    void                       *scratch;    /* PCRE2, for evaluation */
    void                       *arena;      /* internal */
} persona_rules_t;


/* path: a rules file or a directory of them */
int persona_rules_load(persona_rules_t **rules, const char *path,
    const persona_rules_fs_t *fs, persona_error_t *err);

/*
 * One rules file from memory; "name" is its path for messages and the
 * base of relative block files (read through fs, NULL: POSIX).
 */
int persona_rules_load_buffer(persona_rules_t **rules, const char *name,
    const char *text, size_t len, const persona_rules_fs_t *fs,
    persona_error_t *err);

/* the rules without any rules file: [ { "from": "profile.segment" } ],
 * default "default" */
int persona_rules_builtin(persona_rules_t **rules, persona_error_t *err);

void persona_rules_free(persona_rules_t *rules);


typedef struct {
    /* $persona_segment: the first match, else the default */
    persona_str_t               segment;
    unsigned                    matched;    /* 0: segment is the default */
    /* the experience of that segment, or NULL */
    const persona_experience_t *experience;
    /*
     * $persona_segments: every match once, in file order, default
     * excluded.  The caller points matches at room for rules->nsegments
     * entries before calling, or sets it to NULL to stop at the first
     * match.  Names from "from" entries point into the looked-up values.
     */
    persona_str_t              *matches;
    size_t                      nmatches;
    /*
     * Segments skipped because a regex of theirs hit PCRE2's limits (the
     * caller logs them at warn): how many, and the first one's name.
     */
    size_t                      nlimited;
    persona_str_t               limited;
} persona_result_t;


int persona_rules_eval(const persona_rules_t *rules,
    persona_lookup_pt lookup, void *data, persona_result_t *res);

/*
 * Goals: matched[i] := 1 when rules->goals[i] holds for the request, else
 * 0 (a regex over PCRE2's limits: 0).  matched has room for rules->ngoals.
 * Returns how many matched.
 */
size_t persona_rules_goals(const persona_rules_t *rules,
    persona_lookup_pt lookup, void *data, unsigned char *matched);

/* experience by segment name (binary search), or NULL */
const persona_experience_t *persona_rules_experience(
    const persona_rules_t *rules, const char *name, size_t len);

/*
 * 1 when a "from" value may be used as a segment name: 1 to 64 bytes of
 * letters, digits, "_", "-", "." or ":" (the names rules may define);
 * other values are ignored, so they never reach a header or a log.
 */
int persona_segment_name_valid(const char *name, size_t len);



#endif /* PERSONA_RULES_H */
