/*
 * Rules in nginx: persona_rules / persona_rules_auto_reload, evaluation
 * after the lookup, and the request side of experiences (request headers,
 * landing, redirect).  Response headers are in the header filter.
 *
 * A rule set is loaded at configuration (a bad file fails `nginx -t`, a
 * cold start and `nginx -s reload`, so the old workers keep the last good
 * rules).  With persona_rules_auto_reload each worker checks the files on
 * a timer and swaps in a valid new version; a request keeps the rule set
 * it started with (a reference count), an old set is freed when its last
 * request ends.
 */

#include "ngx_http_persona_module.h"
#include "ngx_http_persona_metrics.h"

#include <sys/stat.h>

#include "persona_experiment.h"


static ngx_http_persona_ruleset_t *ngx_http_persona_ruleset(ngx_conf_t *cf,
    ngx_str_t *path);
static ngx_int_t ngx_http_persona_rules_load(ngx_http_persona_ruleset_t *rs,
    persona_rules_t **rules, persona_error_t *err);
static uint64_t ngx_http_persona_rules_signature(ngx_str_t *path,
    persona_rules_t *rules);
static ngx_http_persona_rules_ref_t *ngx_http_persona_rules_ref(
    persona_rules_t *rules, ngx_log_t *log);
static void ngx_http_persona_rules_unref(ngx_http_persona_rules_ref_t *ref);
static void ngx_http_persona_rules_cleanup(void *data);
static void ngx_http_persona_rules_timer(ngx_event_t *ev);
static void ngx_http_persona_rules_check(ngx_http_persona_ruleset_t *rs,
    ngx_log_t *log);
static ngx_uint_t ngx_http_persona_experience_header(ngx_table_elt_t *h,
    void *data);
static void ngx_http_persona_experiments(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx);
static ngx_int_t ngx_http_persona_set_request_headers(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx);
static ngx_int_t ngx_http_persona_route(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx);
static ngx_int_t ngx_http_persona_target(ngx_http_request_t *r,
    persona_str_t *target, ngx_str_t *uri, ngx_str_t *args);


/* configuration */

char *
ngx_http_persona_rules_directive(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_persona_loc_conf_t *lcf = conf;

    ngx_str_t  *value, path;

    if (lcf->rules != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;
    path = value[1];

    if (ngx_conf_full_name(cf->cycle, &path, 1) != NGX_OK) {
        return NGX_CONF_ERROR;
    }

    lcf->rules = ngx_http_persona_ruleset(cf, &path);
    if (lcf->rules == NULL) {
        return NGX_CONF_ERROR;
    }

    return NGX_CONF_OK;
}


/* persona_rules_auto_reload interval | off */
char *
ngx_http_persona_rules_auto_reload(ngx_conf_t *cf, ngx_command_t *cmd,
    void *conf)
{
    ngx_http_persona_main_conf_t *mcf = conf;

    ngx_str_t   *value;
    ngx_msec_t   interval;

    if (mcf->rules_auto_reload != NGX_CONF_UNSET_MSEC) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (ngx_strcmp(value[1].data, "off") == 0) {
        mcf->rules_auto_reload = 0;
        return NGX_CONF_OK;
    }

    interval = ngx_parse_time(&value[1], 0);

    if (interval == (ngx_msec_t) NGX_ERROR || interval == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "invalid interval \"%V\" in "
                           "\"persona_rules_auto_reload\" (a time or off)",
                           &value[1]);
        return NGX_CONF_ERROR;
    }

    mcf->rules_auto_reload = interval;

    return NGX_CONF_OK;
}


char *
ngx_http_persona_rules_merge(ngx_conf_t *cf, ngx_http_persona_loc_conf_t *prev,
    ngx_http_persona_loc_conf_t *conf)
{
    ngx_str_t                      empty = ngx_null_string;
    ngx_http_persona_main_conf_t  *mcf;

    if (conf->rules != NGX_CONF_UNSET_PTR) {
        return NGX_CONF_OK;
    }

    if (prev->rules != NGX_CONF_UNSET_PTR) {
        conf->rules = prev->rules;
        return NGX_CONF_OK;
    }

    /* no rules file: the built-in [ { "from": "profile.segment" } ] */

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_persona_module);

    if (mcf->builtin == NULL) {
        mcf->builtin = ngx_http_persona_ruleset(cf, &empty);
        if (mcf->builtin == NULL) {
            return NGX_CONF_ERROR;
        }
    }

    conf->rules = mcf->builtin;

    return NGX_CONF_OK;
}


/* the rule set of a path, loaded once however often it is named */
static ngx_http_persona_ruleset_t *
ngx_http_persona_ruleset(ngx_conf_t *cf, ngx_str_t *path)
{
    ngx_uint_t                     i;
    persona_rules_t               *rules;
    persona_error_t                err;
    ngx_pool_cleanup_t            *cln;
    ngx_http_persona_ruleset_t    *rs, **rsp;
    ngx_http_persona_main_conf_t  *mcf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_persona_module);

    rsp = mcf->rulesets.elts;

    for (i = 0; i < mcf->rulesets.nelts; i++) {
        if (rsp[i]->path.len == path->len
            && ngx_strncmp(rsp[i]->path.data, path->data, path->len) == 0)
        {
            return rsp[i];
        }
    }

    rs = ngx_pcalloc(cf->pool, sizeof(ngx_http_persona_ruleset_t));
    if (rs == NULL) {
        return NULL;
    }

    rs->path = *path;

    ngx_memzero(&err, sizeof(persona_error_t));

    if (ngx_http_persona_rules_load(rs, &rules, &err) != NGX_OK) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0, "persona_rules: %s",
                           err.msg);

        /* counted by a reload (a cold start has no metrics yet) */
        ngx_http_persona_metrics_rules_reload_error();
        return NULL;
    }

    if (path->len) {
        ngx_http_persona_metrics_rules_loaded(ngx_time());
    }

    for (i = 0; i < rules->nwarnings; i++) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0, "persona_rules: %s",
                           rules->warnings[i]);
    }

    rs->current = ngx_http_persona_rules_ref(rules, cf->log);
    if (rs->current == NULL) {
        persona_rules_free(rules);
        return NULL;
    }

    rs->signature = ngx_http_persona_rules_signature(&rs->path, rules);

    cln = ngx_pool_cleanup_add(cf->pool, 0);
    if (cln == NULL) {
        ngx_http_persona_rules_unref(rs->current);
        return NULL;
    }

    cln->handler = ngx_http_persona_rules_cleanup;
    cln->data = rs;

    rsp = ngx_array_push(&mcf->rulesets);
    if (rsp == NULL) {
        return NULL;
    }

    *rsp = rs;

    return rs;
}


static ngx_int_t
ngx_http_persona_rules_load(ngx_http_persona_ruleset_t *rs,
    persona_rules_t **rules, persona_error_t *err)
{
    int    rc;
    char   path[NGX_MAX_PATH];

    if (rs->path.len == 0) {
        rc = persona_rules_builtin(rules, err);

    } else if (rs->path.len >= NGX_MAX_PATH) {
        persona_error_set(err, "path too long: \"%.*s\"",
                          (int) rs->path.len, rs->path.data);
        return NGX_ERROR;

    } else {
        ngx_memcpy(path, rs->path.data, rs->path.len);
        path[rs->path.len] = '\0';

        rc = persona_rules_load(rules, path, NULL, err);
    }

    return (rc == PERSONA_OK) ? NGX_OK : NGX_ERROR;
}


/*
 * What the files of a rule set look like now: the path itself (a
 * directory changes when a file is renamed into it) and every file read,
 * block files included.
 */
static uint64_t
ngx_http_persona_rules_signature(ngx_str_t *path, persona_rules_t *rules)
{
    char         name[NGX_MAX_PATH];
    size_t       i;
    uint64_t     h;
    struct stat  st;
    const char  *file;

    h = 14695981039346656037ULL;

    if (path->len == 0 || path->len >= NGX_MAX_PATH) {
        return h;
    }

    ngx_memcpy(name, path->data, path->len);
    name[path->len] = '\0';

    for (i = 0; i <= rules->nfiles; i++) {
        file = (i == 0) ? name : rules->files[i - 1];

        if (stat(file, &st) == -1) {
            h = (h ^ 0xdead) * 1099511628211ULL;
            continue;
        }

        h = (h ^ (uint64_t) st.st_mtim.tv_sec) * 1099511628211ULL;
        h = (h ^ (uint64_t) st.st_mtim.tv_nsec) * 1099511628211ULL;
        h = (h ^ (uint64_t) st.st_size) * 1099511628211ULL;
        h = (h ^ (uint64_t) st.st_ino) * 1099511628211ULL;
    }

    return h;
}


static ngx_http_persona_rules_ref_t *
ngx_http_persona_rules_ref(persona_rules_t *rules, ngx_log_t *log)
{
    ngx_http_persona_rules_ref_t  *ref;

    ref = ngx_alloc(sizeof(ngx_http_persona_rules_ref_t), log);
    if (ref == NULL) {
        return NULL;
    }

    ref->rules = rules;
    ref->refs = 1;

    return ref;
}


static void
ngx_http_persona_rules_unref(ngx_http_persona_rules_ref_t *ref)
{
    if (--ref->refs == 0) {
        persona_rules_free(ref->rules);
        ngx_free(ref);
    }
}


static void
ngx_http_persona_rules_cleanup(void *data)
{
    ngx_http_persona_ruleset_t *rs = data;

    ngx_http_persona_rules_unref(rs->current);
    rs->current = NULL;
}


/* auto-reload */

ngx_int_t
ngx_http_persona_rules_init_worker(ngx_cycle_t *cycle)
{
    ngx_uint_t                     i;
    ngx_event_t                   *ev;
    ngx_http_persona_ruleset_t   **rsp;
    ngx_http_persona_main_conf_t  *mcf;

    /* init_process also runs in the cache manager and loader */
    if (ngx_process != NGX_PROCESS_WORKER
        && ngx_process != NGX_PROCESS_SINGLE)
    {
        return NGX_OK;
    }

    mcf = ngx_http_cycle_get_module_main_conf(cycle, ngx_http_persona_module);

    if (mcf) {
        /* the series these rules can produce, at 0 */
        rsp = mcf->rulesets.elts;

        for (i = 0; i < mcf->rulesets.nelts; i++) {
            if (rsp[i]->current) {
                ngx_http_persona_metrics_rules(rsp[i]->current->rules);
            }
        }
    }

    if (mcf == NULL
        || mcf->rules_auto_reload == 0
        || mcf->rules_auto_reload == NGX_CONF_UNSET_MSEC  /* default: off */
        || mcf->rulesets.nelts == 0)
    {
        return NGX_OK;
    }

    ev = &mcf->rules_timer;
    ev->handler = ngx_http_persona_rules_timer;
    ev->data = mcf;
    ev->log = cycle->log;

    /* a pending check must not keep an exiting worker alive */
    ev->cancelable = 1;

    ngx_add_timer(ev, mcf->rules_auto_reload);

    return NGX_OK;
}


static void
ngx_http_persona_rules_timer(ngx_event_t *ev)
{
    ngx_uint_t                      i;
    ngx_http_persona_ruleset_t    **rsp;
    ngx_http_persona_main_conf_t   *mcf;

    mcf = ev->data;

    if (ngx_exiting || ngx_terminate || ngx_quit) {
        return;
    }

    rsp = mcf->rulesets.elts;

    for (i = 0; i < mcf->rulesets.nelts; i++) {
        if (rsp[i]->path.len && rsp[i]->current) {
            ngx_http_persona_rules_check(rsp[i], ev->log);
        }
    }

    ngx_add_timer(ev, mcf->rules_auto_reload);
}


static void
ngx_http_persona_rules_check(ngx_http_persona_ruleset_t *rs, ngx_log_t *log)
{
    uint64_t                       sig;
    persona_rules_t               *rules;
    persona_error_t                err;
    ngx_http_persona_rules_ref_t  *ref;

    sig = ngx_http_persona_rules_signature(&rs->path, rs->current->rules);

    if (sig == rs->signature || sig == rs->bad_signature) {
        return;
    }

    ngx_memzero(&err, sizeof(persona_error_t));

    if (ngx_http_persona_rules_load(rs, &rules, &err) != NGX_OK) {
        rs->bad_signature = sig;
        ngx_log_error(NGX_LOG_ERR, log, 0,
                      "persona: rules \"%V\" changed but are invalid, the "
                      "last good rules stay: %s", &rs->path, err.msg);
        ngx_http_persona_metrics_rules_reload_error();
        return;
    }

    ref = ngx_http_persona_rules_ref(rules, log);
    if (ref == NULL) {
        persona_rules_free(rules);
        return;
    }

    ngx_http_persona_rules_unref(rs->current);

    rs->current = ref;
    rs->signature = ngx_http_persona_rules_signature(&rs->path, rules);
    rs->bad_signature = 0;

    ngx_http_persona_metrics_rules_loaded(ngx_time());
    ngx_http_persona_metrics_rules(rules);

    ngx_log_error(NGX_LOG_NOTICE, log, 0,
                  "persona: rules \"%V\" reloaded", &rs->path);
}


/* per request */

void
ngx_http_persona_rules_evaluate(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx)
{
    u_char                        *p;
    size_t                         i, len;
    persona_result_t               res;
    ngx_http_persona_rules_ref_t  *ref;

    ref = ctx->ruleset->current;
    ref->refs++;
    ctx->rules = ref;

    ngx_memzero(&res, sizeof(persona_result_t));

    res.matches = ngx_palloc(r->pool, sizeof(persona_str_t)
                                      * (ref->rules->nsegments + 1));
    if (res.matches == NULL
        || persona_rules_eval(ref->rules, ngx_http_persona_attr_lookup, ctx,
                              &res)
           != PERSONA_OK)
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "persona: rules evaluation failed, default segment");

        res.segment = ref->rules->default_segment;
        res.experience = ref->rules->default_experience;
        res.nmatches = 0;
    }

    if (res.nlimited) {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "persona: a regex of segment \"%*s\" exceeded PCRE2's "
                      "match limits, the segment does not match (%uz "
                      "segment%s)", res.limited.len, res.limited.data,
                      res.nlimited, res.nlimited == 1 ? "" : "s");
    }

    ctx->segment.data = (u_char *) res.segment.data;
    ctx->segment.len = res.segment.len;
    ctx->experience = res.experience;

    if (ctx->preview_value.len) {
        /* forced segment and experience; variants below */
        ngx_http_persona_preview_apply(r, ctx);
    }

    if (ref->rules->nexperiments) {
        ngx_http_persona_experiments(r, ctx);
    }

    ngx_http_persona_track_goals(r, ctx);

    len = 0;

    for (i = 0; i < res.nmatches; i++) {
        len += res.matches[i].len + 1;
    }

    if (len == 0) {
        ngx_str_null(&ctx->segments);
        return;
    }

    p = ngx_pnalloc(r->pool, len);
    if (p == NULL) {
        ngx_str_null(&ctx->segments);
        return;
    }

    ctx->segments.data = p;

    for (i = 0; i < res.nmatches; i++) {
        if (i) {
            *p++ = ',';
        }

        p = ngx_cpymem(p, res.matches[i].data, res.matches[i].len);
    }

    ctx->segments.len = p - ctx->segments.data;
}


/*
 * The visitor's variants, $persona_variants, and the experience with the
 * variants' overrides.  Failures leave the visitor out of experiments.
 */
static void
ngx_http_persona_experiments(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx)
{
    u_char                       *p;
    size_t                        i, n, nover, len;
    persona_alloc_t               alloc;
    persona_rules_t              *rules;
    persona_experience_t         *xp;
    const persona_variant_t     **v;
    const persona_experience_t  **over;

    rules = ctx->rules->rules;

    if (ngx_http_persona_track_bot(ctx)) {
        /* crawlers see the segment's plain experience */
        return;
    }

    v = ngx_pcalloc(r->pool, rules->nexperiments * sizeof(void *));
    if (v == NULL) {
        return;
    }

    n = persona_experiments_assign(rules, (char *) ctx->segment.data,
                                   ctx->segment.len, (char *) ctx->id.data,
                                   ctx->id.len, v);

    if (ctx->forced) {
        n = ngx_http_persona_preview_variants(ctx, v);
    }

    if (n == 0) {
        return;
    }

    /* a visitor at a cap sees the control */
    ngx_http_persona_track_caps(r, ctx, v);

    over = ngx_palloc(r->pool, n * sizeof(void *));
    if (over == NULL) {
        return;
    }

    len = 0;
    nover = 0;

    for (i = 0; i < rules->nexperiments; i++) {
        if (v[i]) {
            len += rules->experiments[i].name.len + v[i]->name.len + 2;
            over[nover++] = &v[i]->overrides;
        }
    }

    p = ngx_pnalloc(r->pool, len);
    xp = ngx_palloc(r->pool, sizeof(persona_experience_t));

    alloc.alloc = ngx_http_persona_palloc;
    alloc.data = r->pool;

    if (p == NULL
        || xp == NULL
        || persona_experience_merge(ctx->experience, over, nover, &alloc, xp)
           != PERSONA_OK)
    {
        return;
    }

    ctx->variants = v;
    ctx->experience = xp;
    ctx->variants_text.data = p;

    for (i = 0; i < rules->nexperiments; i++) {
        if (v[i] == NULL) {
            continue;
        }

        if (p != ctx->variants_text.data) {
            *p++ = ',';
        }

        p = ngx_cpymem(p, rules->experiments[i].name.data,
                       rules->experiments[i].name.len);
        *p++ = '=';
        p = ngx_cpymem(p, v[i]->name.data, v[i]->name.len);
    }

    ctx->variants_text.len = p - ctx->variants_text.data;
}


void
ngx_http_persona_rules_release(ngx_http_persona_ctx_t *ctx)
{
    if (ctx->rules) {
        ngx_http_persona_rules_unref(ctx->rules);
        ctx->rules = NULL;
    }
}


/*
 * Once per request, in the rewrite phase of the first persona location,
 * after the lookup: request headers, then landing or redirect.
 */
ngx_int_t
ngx_http_persona_rules_apply(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx)
{
    ctx->applied = 1;

    if (ngx_http_persona_set_request_headers(r, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->experience == NULL
        || !(r->method & (NGX_HTTP_GET|NGX_HTTP_HEAD)))
    {
        return NGX_DECLINED;
    }

    return ngx_http_persona_route(r, ctx);
}


/*
 * A request header of a name some experience sets: names compare
 * case-insensitively with "-" and "_" equal (the loader stores them
 * lowercase with "-"), so "X_Offer" cannot slip past "X-Offer" with
 * underscores_in_headers on.
 */
static ngx_uint_t
ngx_http_persona_experience_header(ngx_table_elt_t *h, void *data)
{
    u_char                  c;
    size_t                  i, k;
    const char             *name;
    const persona_rules_t  *rules = data;

    for (k = 0; k < rules->nrequest_header_names; k++) {
        if (h->key.len != rules->request_header_names[k].len) {
            continue;
        }

        name = rules->request_header_names[k].data;

        for (i = 0; i < h->key.len; i++) {
            c = ngx_tolower(h->key.data[i]);

            if ((c == '_' ? '-' : c) != (u_char) name[i]) {
                break;
            }
        }

        if (i == h->key.len) {
            return 1;
        }
    }

    return 0;
}


/*
 * Clients cannot forge a header that some experience sets: every such
 * name is removed from the request, then the experience's values are
 * added.
 */
static ngx_int_t
ngx_http_persona_set_request_headers(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx)
{
    size_t                   i, n;
    ngx_str_t                lc;
    persona_str_t            value;
    persona_alloc_t          alloc;
    ngx_table_elt_t         *nh;
    persona_rules_t         *rules;
    const persona_header_t  *hd;

    rules = ctx->rules->rules;

    if (rules->nrequest_header_names
        && ngx_http_persona_remove_headers_in(r,
                                   ngx_http_persona_experience_header, rules)
           != NGX_OK)
    {
        return NGX_ERROR;
    }

    if (ctx->experience == NULL) {
        return NGX_OK;
    }

    alloc.alloc = ngx_http_persona_palloc;
    alloc.data = r->pool;

    n = ctx->experience->nrequest_headers;

    for (i = 0; i < n; i++) {
        hd = &ctx->experience->request_headers[i];

        if (persona_template_render_alloc(hd->value, PERSONA_ESCAPE_HEADER,
                                          ngx_http_persona_attr_lookup, ctx,
                                          &alloc, &value)
            != PERSONA_OK)
        {
            return NGX_ERROR;
        }

        if (value.len == 0) {
            continue;
        }

        lc.len = hd->name.len;
        lc.data = ngx_pnalloc(r->pool, lc.len);
        if (lc.data == NULL) {
            return NGX_ERROR;
        }

        nh = ngx_list_push(&r->headers_in.headers);
        if (nh == NULL) {
            return NGX_ERROR;
        }

        nh->key.data = (u_char *) hd->name.data;
        nh->key.len = hd->name.len;
        nh->value.data = (u_char *) value.data;
        nh->value.len = value.len;
        nh->lowcase_key = lc.data;
        nh->hash = ngx_hash_strlow(lc.data, nh->key.data, lc.len);
#if (nginx_version >= 1023000)
        nh->next = NULL;
#endif
    }

    return NGX_OK;
}


/* landing (internal rewrite) or redirect (302) of the exact $uri */
static ngx_int_t
ngx_http_persona_route(ngx_http_request_t *r, ngx_http_persona_ctx_t *ctx)
{
    size_t                       i;
    u_char                      *p, sep;
    ngx_str_t                    uri, args;
    ngx_table_elt_t             *location;
    const persona_route_t       *route;
    const persona_experience_t  *xp;

    xp = ctx->experience;

    for (i = 0; i < xp->nlanding; i++) {
        route = &xp->landing[i];

        if (route->path.len != r->uri.len
            || ngx_strncmp(route->path.data, r->uri.data, r->uri.len) != 0)
        {
            continue;
        }

        if (ngx_http_persona_target(r, (persona_str_t *) &route->target,
                                    &uri, &args)
            != NGX_OK)
        {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "persona landing: \"%V\" -> \"%V\"", &r->uri, &uri);

        /* the response depends on the visitor (persona_cache_control) */
        ctx->routed = 1;

        (void) ngx_http_internal_redirect(r, &uri, &args);
        ngx_http_finalize_request(r, NGX_DONE);

        return NGX_DONE;
    }

    for (i = 0; i < xp->nredirect; i++) {
        route = &xp->redirect[i];

        if (route->path.len != r->uri.len
            || ngx_strncmp(route->path.data, r->uri.data, r->uri.len) != 0)
        {
            continue;
        }

        location = ngx_list_push(&r->headers_out.headers);
        if (location == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        uri.len = route->target.len + 1 + r->args.len;
        uri.data = ngx_pnalloc(r->pool, uri.len);
        if (uri.data == NULL) {
            return NGX_HTTP_INTERNAL_SERVER_ERROR;
        }

        p = ngx_cpymem(uri.data, route->target.data, route->target.len);

        if (r->args.len) {
            sep = ngx_strlchr(uri.data, p, '?') ? '&' : '?';
            *p++ = sep;
            p = ngx_cpymem(p, r->args.data, r->args.len);
        }

        uri.len = p - uri.data;

        ngx_http_clear_location(r);

        location->hash = 1;
        ngx_str_set(&location->key, "Location");
        location->value = uri;
#if (nginx_version >= 1023000)
        location->next = NULL;
#endif
        r->headers_out.location = location;

        ngx_log_debug1(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "persona redirect: \"%V\"", &uri);

        ctx->routed = 1;

        return NGX_HTTP_MOVED_TEMPORARILY;
    }

    return NGX_DECLINED;
}


/* target "/lp/x.html?a=1" + request args "b=2" -> uri, "a=1&b=2" */
static ngx_int_t
ngx_http_persona_target(ngx_http_request_t *r, persona_str_t *target,
    ngx_str_t *uri, ngx_str_t *args)
{
    u_char  *q, *p;

    uri->data = (u_char *) target->data;
    uri->len = target->len;
    *args = r->args;

    q = ngx_strlchr(uri->data, uri->data + uri->len, '?');
    if (q == NULL) {
        return NGX_OK;
    }

    uri->len = q - uri->data;
    q++;

    args->len = (u_char *) target->data + target->len - q;

    if (r->args.len == 0) {
        args->data = q;
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, args->len + 1 + r->args.len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    args->data = p;
    p = ngx_cpymem(p, q, args->len);
    *p++ = '&';
    p = ngx_cpymem(p, r->args.data, r->args.len);
    args->len = p - args->data;

    return NGX_OK;
}
