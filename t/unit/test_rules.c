/*
 * Rules loader and evaluation, driven by t/unit/fixtures/rules:
 *   invalid/NAME.json or invalid/NAME.d/  must fail with exactly the
 *                                         text of invalid/NAME.err
 *   valid/NAME.json or valid/NAME.d/      must load; valid/NAME.cases.json
 *                                         lists attributes and the
 *                                         expected segment, segments and
 *                                         experience
 * plus in-memory cases: built-in rules, a fake file system, experiments.
 */

#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <setjmp.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <jansson.h>

#include "persona_rules.h"
#include "rules_test_util.h"


#define FIXTURES  "t/unit/fixtures/rules"


static char  *fixtures_cwd;


static int
enter_fixtures(void **state)
{
    const char  *dir;

    fixtures_cwd = getcwd(NULL, 0);
    dir = getenv("PERSONA_RULES_FIXTURES");

    if (chdir(dir ? dir : FIXTURES) != 0) {
        print_error("cannot enter %s (run from the repository root)\n",
                    dir ? dir : FIXTURES);
        return -1;
    }

    return 0;
}


static int
leave_fixtures(void **state)
{
    int  rc;

    rc = chdir(fixtures_cwd);
    free(fixtures_cwd);

    return rc;
}


static char *
slurp(const char *path, size_t *len)
{
    FILE   *f;
    char   *p;
    long    n;

    f = fopen(path, "rb");
    if (f == NULL) {
        return NULL;
    }

    fseek(f, 0, SEEK_END);
    n = ftell(f);
    fseek(f, 0, SEEK_SET);

    p = malloc((size_t) n + 1);
    if (p && fread(p, 1, (size_t) n, f) != (size_t) n) {
        free(p);
        p = NULL;
    }

    fclose(f);

    if (p) {
        p[n] = '\0';
        *len = (size_t) n;
    }

    return p;
}


static int
name_cmp(const void *a, const void *b)
{
    return strcmp(*(char * const *) a, *(char * const *) b);
}


/* sorted names in dir ending with suffix; free with free_names() */
static char **
list_names(const char *dir, const char *suffix, size_t *n)
{
    DIR            *d;
    char          **names;
    size_t          len, slen;
    struct dirent  *de;

    d = opendir(dir);
    if (d == NULL) {
        return NULL;
    }

    names = malloc(1024 * sizeof(char *));
    *n = 0;
    slen = strlen(suffix);

    while ((de = readdir(d)) != NULL && *n < 1024) {
        len = strlen(de->d_name);

        if (de->d_name[0] != '.' && len > slen
            && strcmp(de->d_name + len - slen, suffix) == 0)
        {
            names[(*n)++] = strdup(de->d_name);
        }
    }

    closedir(d);
    qsort(names, *n, sizeof(char *), name_cmp);

    return names;
}


static void
free_names(char **names, size_t n)
{
    size_t  i;

    for (i = 0; i < n; i++) {
        free(names[i]);
    }

    free(names);
}


static void
test_invalid_fixtures(void **state)
{
    int               rc;
    char            **names, path[512], *want, *text;
    size_t            i, n, len, tlen, failures;
    struct stat       st;
    persona_rules_t  *rs;
    persona_error_t   err;

    names = list_names("invalid", ".err", &n);
    assert_non_null(names);
    assert_true(n >= 40);

    failures = 0;

    for (i = 0; i < n; i++) {
        snprintf(path, sizeof(path), "invalid/%s", names[i]);
        want = slurp(path, &len);
        assert_non_null(want);

        while (len && (want[len - 1] == '\n' || want[len - 1] == '\r')) {
            want[--len] = '\0';
        }

        names[i][strlen(names[i]) - 4] = '\0';
        snprintf(path, sizeof(path), "invalid/%s.json", names[i]);

        if (stat(path, &st) != 0) {
            snprintf(path, sizeof(path), "invalid/%s.d", names[i]);
        }

        rc = persona_rules_load(&rs, path, NULL, &err);

        if (rc != PERSONA_ERROR || strcmp(err.msg, want) != 0) {
            print_error("%s:\n  want: %s\n  got:  %s\n", path, want,
                        rc == PERSONA_OK ? "(loaded)" : err.msg);
            failures++;
        }

        if (rc == PERSONA_OK) {
            persona_rules_free(rs);
        }

        /* the same text from memory gives the same error */
        if (strstr(path, ".json") && strstr(want, ".html:") == NULL) {
            text = slurp(path, &tlen);
            assert_non_null(text);

            rc = persona_rules_load_buffer(&rs, path, text, tlen, NULL, &err);

            if (rc != PERSONA_ERROR || strcmp(err.msg, want) != 0) {
                print_error("%s (buffer):\n  want: %s\n  got:  %s\n", path,
                            want, rc == PERSONA_OK ? "(loaded)" : err.msg);
                failures++;
            }

            if (rc == PERSONA_OK) {
                persona_rules_free(rs);
            }

            free(text);
        }

        free(want);
    }

    free_names(names, n);
    assert_int_equal(failures, 0);
}


/* lookup over a JSON object of attribute -> string */
static int
json_lookup(void *data, const persona_attr_t *attr, persona_str_t *value)
{
    json_t  *v;

    v = json_object_getn(data, attr->full.data, attr->full.len);

    if (!json_is_string(v)) {
        return PERSONA_ATTR_NOT_FOUND;
    }

    value->data = json_string_value(v);
    value->len = json_string_length(v);

    return PERSONA_ATTR_FOUND;
}


static size_t
run_cases(const persona_rules_t *rs, const char *cases_path)
{
    size_t             i, k, failures;
    json_t            *cases, *c, *attrs, *want, *seg;
    json_error_t       jerr;
    persona_str_t      matches[64];
    persona_result_t   res;

    cases = json_load_file(cases_path, 0, &jerr);
    if (cases == NULL) {
        print_error("%s: %s\n", cases_path, jerr.text);
        return 1;
    }

    failures = 0;

    json_array_foreach(cases, i, c) {
        attrs = json_object_get(c, "attributes");

        res.matches = matches;
        assert_true(rs->nsegments <= 64);
        persona_rules_eval(rs, json_lookup, attrs, &res);

        want = json_object_get(c, "segment");
        if (want && (res.segment.len != json_string_length(want)
                     || memcmp(res.segment.data, json_string_value(want),
                               res.segment.len) != 0))
        {
            print_error("%s case %zu: segment %.*s, want %s\n", cases_path,
                        i, (int) res.segment.len, res.segment.data,
                        json_string_value(want));
            failures++;
        }

        want = json_object_get(c, "segments");
        if (want) {
            if (json_array_size(want) != res.nmatches) {
                print_error("%s case %zu: %zu segments, want %zu\n",
                            cases_path, i, res.nmatches,
                            json_array_size(want));
                failures++;

            } else {
                json_array_foreach(want, k, seg) {
                    if (res.matches[k].len != json_string_length(seg)
                        || memcmp(res.matches[k].data, json_string_value(seg),
                                  res.matches[k].len) != 0)
                    {
                        print_error("%s case %zu: segments[%zu] %.*s\n",
                                    cases_path, i, k,
                                    (int) res.matches[k].len,
                                    res.matches[k].data);
                        failures++;
                    }
                }
            }
        }

        want = json_object_get(c, "experience");
        if (want) {
            if (json_is_null(want) ? res.experience != NULL
                : (res.experience == NULL
                   || strcmp(res.experience->name.data,
                             json_string_value(want)) != 0))
            {
                print_error("%s case %zu: experience %s\n", cases_path, i,
                            res.experience ? res.experience->name.data
                                           : "(none)");
                failures++;
            }
        }

        /* first-match-only mode agrees */
        res.matches = NULL;
        want = json_object_get(c, "segment");
        persona_rules_eval(rs, json_lookup, attrs, &res);
        if (want && strncmp(res.segment.data, json_string_value(want),
                            res.segment.len) != 0)
        {
            failures++;
        }
    }

    json_decref(cases);

    return failures;
}


static void
test_valid_fixtures(void **state)
{
    int               rc;
    char            **names, path[512], cases[512];
    size_t            i, n, failures, loaded;
    struct stat       st;
    persona_rules_t  *rs;
    persona_error_t   err;

    names = list_names("valid", "", &n);
    assert_non_null(names);

    failures = 0;
    loaded = 0;

    for (i = 0; i < n; i++) {
        if (strstr(names[i], ".cases.json")
            || !(strstr(names[i], ".json") || strstr(names[i], ".d")))
        {
            continue;
        }

        snprintf(path, sizeof(path), "valid/%s", names[i]);
        rc = persona_rules_load(&rs, path, NULL, &err);

        if (rc != PERSONA_OK) {
            print_error("%s: %s\n", path, err.msg);
            failures++;
            continue;
        }

        loaded++;

        snprintf(cases, sizeof(cases), "valid/%.*s.cases.json",
                 (int) (strlen(names[i])
                        - (strstr(names[i], ".json") ? 5 : 0)),
                 names[i]);

        if (stat(cases, &st) == 0) {
            failures += run_cases(rs, cases);
        }

        persona_rules_free(rs);
    }

    free_names(names, n);
    assert_int_equal(failures, 0);
    assert_true(loaded >= 3);
}


static void
test_spec_example(void **state)
{
    char                         buf[512];
    size_t                       n;
    persona_rules_t             *rs;
    persona_error_t              err;
    persona_result_t             res;
    const persona_experience_t  *e;
    const persona_experiment_t  *x;

    assert_int_equal(persona_rules_load(&rs, "valid/spec-example.json", NULL,
                                        &err), PERSONA_OK);

    assert_int_equal(rs->nsegments, 5);
    assert_string_equal(rs->default_segment.data, "everyone");
    assert_int_equal(rs->nexperiences, 2);
    assert_string_equal(rs->experiences[0].name.data, "everyone");
    assert_string_equal(rs->experiences[1].name.data, "vip");
    assert_ptr_equal(rs->segments[0].experience, &rs->experiences[1]);
    assert_null(rs->segments[1].experience);
    assert_ptr_equal(rs->default_experience, &rs->experiences[0]);

    /* files read: the rules and the block file */
    assert_int_equal(rs->nfiles, 2);
    assert_string_equal(rs->files[0], "valid/spec-example.json");
    assert_string_equal(rs->files[1], "valid/blocks/vip-offer.html");

    assert_int_equal(rs->nrequest_header_names, 1);
    assert_string_equal(rs->request_header_names[0].data, "x-offer");

    assert_true(rs->attrs.uses & PERSONA_ATTR_BIT(PERSONA_ATTR_DEVICE));
    assert_true(rs->attrs.uses & PERSONA_ATTR_BIT(PERSONA_ATTR_GEO));
    assert_false(rs->attrs.uses & PERSONA_ATTR_BIT(PERSONA_ATTR_LANG));
    assert_false(rs->attrs.uses & PERSONA_ATTR_BIT(PERSONA_ATTR_TIME_HOUR));

    e = &rs->experiences[1];
    assert_int_equal(e->nrequest_headers, 1);
    assert_string_equal(e->request_headers[0].name.data, "X-Offer");
    assert_int_equal(e->nresponse_headers, 1);
    assert_int_equal(e->nblocks, 2);
    assert_string_equal(e->blocks[1].name.data, "offer");
    assert_int_equal(e->nlanding, 1);
    assert_string_equal(e->landing[0].path.data, "/");
    assert_string_equal(e->landing[0].target.data, "/lp/vip.html");
    assert_int_equal(e->nredirect, 1);
    assert_string_equal(e->redirect[0].target.data, "/vip/promo");
    assert_int_equal(e->line, 11);
    assert_int_equal(e->column, 5);

    n = persona_template_render(e->blocks[0].tpl, PERSONA_ESCAPE_HTML,
                                test_lookup,
                                KV_LIST("profile.first_name", "<Ann>"),
                                buf, sizeof(buf));
    assert_int_equal(n, strlen("<h1>Welcome back, &lt;Ann&gt;</h1>"));
    assert_memory_equal(buf, "<h1>Welcome back, &lt;Ann&gt;</h1>", n);

    n = persona_template_render(e->blocks[1].tpl, PERSONA_ESCAPE_HTML,
                                test_lookup, NULL, buf, sizeof(buf));
    buf[n] = '\0';
    assert_string_equal(buf, "<aside class=\"offer\">\n  <p>Dear customer, "
                        "shipping is on us.</p>\n</aside>\n");

    assert_int_equal(rs->nexperiments, 1);
    x = &rs->experiments[0];
    assert_string_equal(x->name.data, "hero-copy");
    assert_string_equal(x->salt.data, "2026-q4");
    assert_int_equal(x->traffic, 10000);
    assert_int_equal(x->nsegments, 1);
    assert_int_equal(x->nvariants, 2);
    assert_int_equal(x->variants[0].lo, 0);
    assert_int_equal(x->variants[0].hi, 5000);
    assert_int_equal(x->variants[1].lo, 5000);
    assert_int_equal(x->variants[1].hi, 10000);
    assert_int_equal(x->variants[1].overrides.nblocks, 1);
    assert_int_equal(x->cap_max, 3);
    assert_int_equal(x->cap_per, 86400);

    res.matches = NULL;
    persona_rules_eval(rs, test_lookup, KV_LIST("profile.tier", "gold"),
                       &res);
    assert_int_equal(res.matched, 1);
    assert_ptr_equal(res.experience, e);

    assert_ptr_equal(persona_rules_experience(rs, "vip", 3), e);
    assert_null(persona_rules_experience(rs, "vi", 2));
    assert_null(persona_rules_experience(rs, "vipp", 4));

    persona_rules_free(rs);
}


static void
test_builtin(void **state)
{
    persona_rules_t   *rs;
    persona_error_t    err;
    persona_str_t      m[4];
    persona_result_t   res;

    assert_int_equal(persona_rules_builtin(&rs, &err), PERSONA_OK);
    assert_int_equal(rs->nsegments, 1);
    assert_non_null(rs->segments[0].from);
    assert_string_equal(rs->segments[0].from->full.data, "profile.segment");
    assert_int_equal(rs->segments[0].from->ns, PERSONA_ATTR_PROFILE);
    assert_string_equal(rs->default_segment.data, "default");
    assert_int_equal(rs->nexperiences, 0);
    assert_int_equal(rs->nwarnings, 0);
    assert_int_equal(rs->attrs.uses, PERSONA_ATTR_BIT(PERSONA_ATTR_PROFILE));

    res.matches = m;
    persona_rules_eval(rs, test_lookup, KV_LIST("profile.segment", "gold"),
                       &res);
    assert_int_equal(res.matched, 1);
    assert_int_equal(res.segment.len, 4);
    assert_memory_equal(res.segment.data, "gold", 4);
    assert_int_equal(res.nmatches, 1);
    assert_null(res.experience);

    persona_rules_eval(rs, test_lookup, NULL, &res);
    assert_int_equal(res.matched, 0);
    assert_memory_equal(res.segment.data, "default", 7);
    assert_int_equal(res.nmatches, 0);

    /* values that are not segment names are ignored */
    persona_rules_eval(rs, test_lookup,
                       KV_LIST("profile.segment", "a,b\r\nX: y"), &res);
    assert_int_equal(res.matched, 0);

    persona_rules_free(rs);
}


/* a file system in memory: { path, content } pairs; "dir/" lists */
static const char  *mem_files[][2] = {
    { "shop/10-a.json",
      "{ \"segments\": [ { \"name\": \"a\", \"when\": { \"arg.a\": \"1\" } } ],"
      "  \"experiences\": { \"a\": { \"blocks\": { \"x\": "
      "{ \"file\": \"blocks/a.html\" } } } } }" },
    { "shop/2-b.json",
      "{ \"segments\": [ { \"name\": \"b\", \"when\": { \"arg.b\": \"1\" } } ],"
      "  \"default\": \"none\" }" },
    { "shop/blocks/a.html", "<b>{{arg.a}}</b>" },
    { NULL, NULL }
};


static int
mem_read(void *data, const char *path, size_t max, persona_alloc_t *a,
    persona_str_t *content, persona_error_t *err)
{
    size_t  i;

    (*(int *) data)++;

    for (i = 0; mem_files[i][0]; i++) {
        if (strcmp(mem_files[i][0], path) == 0) {
            content->len = strlen(mem_files[i][1]);
            content->data = persona_strndup(a, mem_files[i][1],
                                            content->len);
            return content->data ? PERSONA_OK : PERSONA_ERROR;
        }
    }

    persona_error_set(err, "not in memory");

    return PERSONA_ERROR;
}


static int
mem_list(void *data, const char *path, persona_alloc_t *a,
    persona_str_t **names, size_t *n, persona_error_t *err)
{
    static persona_str_t  list[] = {
        { "2-b.json", 8 }, { "blocks", 6 }, { ".#10-a.json", 11 },
        { "10-a.json", 9 }, { "readme.txt", 10 }
    };

    if (strcmp(path, "shop/") == 0 || strcmp(path, "shop") == 0) {
        *names = list;
        *n = sizeof(list) / sizeof(list[0]);
        return PERSONA_OK;
    }

    if (strcmp(path, "missing") == 0) {
        persona_error_set(err, "No such file or directory");
        return PERSONA_ERROR;
    }

    return PERSONA_RULES_NOT_DIR;
}


static void
test_fs_callbacks(void **state)
{
    int                 reads;
    char                buf[64];
    size_t              n;
    persona_rules_t    *rs;
    persona_error_t     err;
    persona_result_t    res;
    persona_rules_fs_t  fs;

    reads = 0;
    fs.read = mem_read;
    fs.list = mem_list;
    fs.data = &reads;

    /* lexical byte order: "10-a.json" before "2-b.json" */
    assert_int_equal(persona_rules_load(&rs, "shop/", &fs, &err), PERSONA_OK);
    assert_int_equal(reads, 3);
    assert_int_equal(rs->nsegments, 2);
    assert_string_equal(rs->segments[0].name.data, "a");
    assert_string_equal(rs->segments[1].name.data, "b");
    assert_string_equal(rs->segments[0].file, "shop/10-a.json");
    assert_string_equal(rs->default_segment.data, "none");
    assert_int_equal(rs->nfiles, 3);
    assert_string_equal(rs->files[1], "shop/blocks/a.html");

    res.matches = NULL;
    persona_rules_eval(rs, test_lookup, KV_LIST("arg.a", "1"), &res);
    assert_non_null(res.experience);
    n = persona_template_render(res.experience->blocks[0].tpl,
                                PERSONA_ESCAPE_HTML, test_lookup,
                                KV_LIST("arg.a", "<1>"), buf, sizeof(buf));
    assert_int_equal(n, 16);
    assert_memory_equal(buf, "<b>&lt;1&gt;</b>", 16);
    persona_rules_free(rs);

    assert_int_equal(persona_rules_load(&rs, "missing", &fs, &err),
                     PERSONA_ERROR);
    assert_string_equal(err.msg, "missing: cannot read rules: No such file "
                        "or directory");

    assert_int_equal(persona_rules_load(&rs, "nofile.json", &fs, &err),
                     PERSONA_ERROR);
    assert_string_equal(err.msg, "nofile.json: cannot read rules: not in "
                        "memory");

    /* load_buffer reads block files relative to the name */
    assert_int_equal(persona_rules_load_buffer(&rs, "shop/10-a.json",
                                               mem_files[0][1],
                                               strlen(mem_files[0][1]), &fs,
                                               &err), PERSONA_OK);
    persona_rules_free(rs);

    assert_int_equal(persona_rules_load_buffer(&rs, "elsewhere/x.json",
                                               mem_files[0][1],
                                               strlen(mem_files[0][1]), &fs,
                                               &err), PERSONA_ERROR);
    assert_string_equal(err.msg, "elsewhere/x.json:1:114: cannot read block "
                        "file \"elsewhere/blocks/a.html\": not in memory");
    assert_int_equal(err.line, 1);
    assert_int_equal(err.column, 114);
}


static void
test_posix_dir_errors(void **state)
{
    persona_rules_t  *rs;
    persona_error_t   err;

    assert_int_equal(persona_rules_load(&rs, "does-not-exist", NULL, &err),
                     PERSONA_ERROR);
    assert_string_equal(err.msg, "does-not-exist: cannot read rules: No such "
                        "file or directory");
    assert_null(rs);

    /* a directory without *.json */
    assert_int_equal(persona_rules_load(&rs, "valid/blocks", NULL, &err),
                     PERSONA_ERROR);
    assert_string_equal(err.msg, "valid/blocks: expected *.json rules files "
                        "in this directory");

    /* trailing slashes are fine */
    assert_int_equal(persona_rules_load(&rs, "valid/shop.d/", NULL, &err),
                     PERSONA_OK);
    assert_string_equal(rs->files[0], "valid/shop.d/10-segments.json");
    assert_int_equal(rs->nrequest_header_names, 1);
    assert_string_equal(rs->request_header_names[0].data, "x-campaign");
    persona_rules_free(rs);
}


static void
test_warnings(void **state)
{
    persona_rules_t  *rs;
    persona_error_t   err;

    assert_int_equal(persona_rules_load(&rs, "valid/from-cdp.json", NULL,
                                        &err), PERSONA_OK);
    assert_int_equal(rs->nwarnings, 1);
    assert_string_equal(rs->warnings[0], "valid/from-cdp.json:10:5: "
                        "experience \"gold-cdp\" names no segment of these "
                        "rules; only a \"from\" entry can produce it");
    assert_string_equal(rs->default_segment.data, "default");
    assert_non_null(rs->default_experience);
    persona_rules_free(rs);
}


static void
test_experiments(void **state)
{
    persona_rules_t             *rs;
    persona_error_t              err;
    const persona_experiment_t  *x;
    const char                  *text;

    text = "{ \"experiments\": ["
           " { \"name\": \"three\", \"traffic\": 12.5, \"variants\": ["
           "   { \"name\": \"a\", \"weight\": 1 },"
           "   { \"name\": \"b\", \"weight\": 1 },"
           "   { \"name\": \"c\", \"weight\": 1 } ] },"
           " { \"name\": \"skew\", \"variants\": ["
           "   { \"name\": \"control\", \"weight\": 90 },"
           "   { \"name\": \"off\", \"weight\": 0 },"
           "   { \"name\": \"test\", \"weight\": 10,"
           "     \"request_headers\": { \"X-Exp\": \"t\" } } ],"
           "   \"cap\": { \"max\": 2, \"per\": \"12h\" } },"
           " { \"name\": \"plain\", \"variants\": [ { \"name\": \"only\" } ] }"
           "] }";

    assert_int_equal(persona_rules_load_buffer(&rs, "x.json", text,
                                               strlen(text), NULL, &err),
                     PERSONA_OK);
    assert_int_equal(rs->nexperiments, 3);

    x = &rs->experiments[0];
    assert_int_equal(x->traffic, 1250);
    assert_int_equal(x->nsegments, 0);
    assert_string_equal(x->salt.data, "");
    assert_int_equal(x->variants[0].lo, 0);
    assert_int_equal(x->variants[0].hi, 3333);
    assert_int_equal(x->variants[1].lo, 3333);
    assert_int_equal(x->variants[1].hi, 6666);
    assert_int_equal(x->variants[2].lo, 6666);
    assert_int_equal(x->variants[2].hi, 10000);
    assert_int_equal(x->cap_max, 0);

    x = &rs->experiments[1];
    assert_int_equal(x->variants[0].hi, 9000);
    assert_int_equal(x->variants[1].lo, 9000);
    assert_int_equal(x->variants[1].hi, 9000);
    assert_int_equal(x->variants[2].lo, 9000);
    assert_int_equal(x->variants[2].hi, 10000);
    assert_int_equal(x->cap_max, 2);
    assert_int_equal(x->cap_per, 43200);
    assert_int_equal(rs->nrequest_header_names, 1);

    x = &rs->experiments[2];
    assert_int_equal(x->nvariants, 1);
    assert_int_equal(x->variants[0].weight, 1);
    assert_int_equal(x->variants[0].hi, 10000);

    persona_rules_free(rs);
}


static int
goal_lookup(void *data, const persona_attr_t *attr, persona_str_t *value)
{
    value->data = data;
    value->len = strlen(data);

    return PERSONA_ATTR_FOUND;
}


static void
test_goals(void **state)
{
    unsigned char     m[3];
    persona_error_t   err;
    persona_rules_t  *rs;

    const char *text =
        "{ \"goals\": ["
        " { \"name\": \"purchase\","
        "   \"when\": { \"request.path\": \"/thanks\" } },"
        " { \"name\": \"lead\", \"description\": \"forms\","
        "   \"when\": { \"request.path\": { \"prefix\": \"/th\" } } },"
        " { \"name\": \"other\", \"when\": { \"request.path\": \"/x\" } }"
        "] }";

    assert_int_equal(persona_rules_load_buffer(&rs, "x.json", text,
                                               strlen(text), NULL, &err),
                     PERSONA_OK);
    assert_int_equal(rs->ngoals, 3);
    assert_string_equal(rs->goals[1].name.data, "lead");
    assert_int_equal(rs->goals[1].line, 1);

    assert_int_equal(persona_rules_goals(rs, goal_lookup, "/thanks", m), 2);
    assert_int_equal(m[0], 1);
    assert_int_equal(m[1], 1);
    assert_int_equal(m[2], 0);

    assert_int_equal(persona_rules_goals(rs, goal_lookup, "/", m), 0);

    persona_rules_free(rs);
}


static void
test_var_names(void **state)
{
    assert_true(persona_var_name_equal("hero-copy", 9, "HERO_COPY", 9));
    assert_true(persona_var_name_equal("a.b", 3, "a-b", 3));
    assert_false(persona_var_name_equal("ab", 2, "abc", 3));
    assert_false(persona_var_name_equal("a_b", 3, "a_c", 3));

    assert_true(persona_segment_name_valid("cn-mobile", 9));
    assert_true(persona_segment_name_valid("crm:gold.1_x", 12));
    assert_false(persona_segment_name_valid("", 0));
    assert_false(persona_segment_name_valid("a b", 3));
    assert_false(persona_segment_name_valid("a,b", 3));
    assert_false(persona_segment_name_valid("a\0b", 3));
    assert_false(persona_segment_name_valid(
        "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
        65));
}


int
main(void)
{
    const struct CMUnitTest  tests[] = {
        cmocka_unit_test(test_invalid_fixtures),
        cmocka_unit_test(test_valid_fixtures),
        cmocka_unit_test(test_spec_example),
        cmocka_unit_test(test_builtin),
        cmocka_unit_test(test_fs_callbacks),
        cmocka_unit_test(test_posix_dir_errors),
        cmocka_unit_test(test_warnings),
        cmocka_unit_test(test_experiments),
        cmocka_unit_test(test_goals),
        cmocka_unit_test(test_var_names),
    };

    return cmocka_run_group_tests(tests, enter_fixtures, leave_fixtures);
}
