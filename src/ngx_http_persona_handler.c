/*
 * The rewrite-phase handler: identify the visitor, look the profile up in
 * Redis without blocking, and keep the result for the whole request.
 */

#include "ngx_http_persona_module.h"


static ngx_int_t ngx_http_persona_rewrite_handler(ngx_http_request_t *r);
static ngx_int_t ngx_http_persona_start(ngx_http_request_t *r,
    ngx_http_persona_loc_conf_t *lcf, ngx_http_persona_ctx_t *ctx);
static ngx_int_t ngx_http_persona_get_id(ngx_http_request_t *r,
    ngx_http_persona_loc_conf_t *lcf, ngx_str_t *id);
static void ngx_http_persona_caps_done(void *data,
    ngx_http_persona_status_e status, redisReply **replies, ngx_uint_t n,
    const char *reason);
static void ngx_http_persona_resume(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx);
static void ngx_http_persona_lookup_done(void *data,
    ngx_http_persona_status_e status, redisReply **replies, ngx_uint_t n,
    const char *reason);
static void ngx_http_persona_ctx_cleanup(void *data);
static void ngx_http_persona_detach(void *data);


ngx_int_t
ngx_http_persona_init_handler(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    /*
     * Handlers of a phase run in reverse order of registration: this one,
     * added after the rewrite module's, runs before the location's "if",
     * "set", "rewrite" and "return", which then see the result.
     */
    h = ngx_array_push(&cmcf->phases[NGX_HTTP_REWRITE_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_persona_rewrite_handler;

    return NGX_OK;
}


/*
 * The context survives internal redirects and named locations (which
 * zero r->ctx) because it is found again through the request pool's
 * cleanup list; subrequests share that pool and so the main request's
 * result.
 */
ngx_http_persona_ctx_t *
ngx_http_persona_get_ctx(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t      *cln;
    ngx_http_persona_ctx_t  *ctx;

    ctx = ngx_http_get_module_ctx(r, ngx_http_persona_module);
    if (ctx) {
        return ctx;
    }

    for (cln = r->pool->cleanup; cln; cln = cln->next) {
        if (cln->handler == ngx_http_persona_ctx_cleanup) {
            ctx = cln->data;
            ngx_http_set_ctx(r, ctx, ngx_http_persona_module);
            return ctx;
        }
    }

    return NULL;
}


static ngx_int_t
ngx_http_persona_rewrite_handler(ngx_http_request_t *r)
{
    ngx_pool_cleanup_t           *cln;
    ngx_http_persona_ctx_t       *ctx;
    ngx_http_persona_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_persona_module);

    if (!lcf->enable) {
        return NGX_DECLINED;
    }

    ctx = ngx_http_persona_get_ctx(r);

    if (ctx) {
        /* once per client request; phases re-run while waiting stop here */

        if (ctx->waiting) {
            return NGX_DONE;
        }

        if (!ctx->applied && r == r->main) {
            return ngx_http_persona_rules_apply(r, ctx);
        }

        return NGX_DECLINED;
    }

    if (r != r->main) {
        /* a subrequest never looks up */
        return NGX_DECLINED;
    }

    ctx = ngx_pcalloc(r->pool, sizeof(ngx_http_persona_ctx_t));
    if (ctx == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln = ngx_pool_cleanup_add(r->pool, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    cln->handler = ngx_http_persona_ctx_cleanup;
    cln->data = ctx;

    ngx_http_set_ctx(r, ctx, ngx_http_persona_module);

    ctx->request = r;
    ctx->profile_format = lcf->profile_format;
    ctx->ruleset = lcf->rules;

    if (ngx_http_persona_preview_check(r, lcf, ctx) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    return ngx_http_persona_start(r, lcf, ctx);
}


static ngx_int_t
ngx_http_persona_start(ngx_http_request_t *r, ngx_http_persona_loc_conf_t *lcf,
    ngx_http_persona_ctx_t *ctx)
{
    void                              *data;
    size_t                             argvlen[2];
    ngx_int_t                          rc;
    ngx_str_t                          key;
    ngx_uint_t                         n;
    const char                        *argv[2];
    ngx_http_cleanup_t                *cln;
    ngx_http_persona_redis_op_t       *op;
    ngx_http_persona_main_conf_t      *mcf;
    ngx_http_persona_redis_cmd_t       cmds[1 + NGX_HTTP_PERSONA_CAPS_MAX];
    ngx_http_persona_redis_handler_pt  handler;

    mcf = ngx_http_get_module_main_conf(r, ngx_http_persona_module);

    if (ngx_http_persona_get_id(r, lcf, &ctx->id) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ctx->id.len
        && !persona_id_valid((const char *) ctx->id.data, ctx->id.len))
    {
        ngx_log_error(NGX_LOG_WARN, r->connection->log, 0,
                      "persona: invalid visitor id (%uz bytes), "
                      "treated as anonymous", ctx->id.len);
        ngx_str_null(&ctx->id);
    }

    if (ctx->id.len == 0) {
        ctx->status = NGX_HTTP_PERSONA_ANONYMOUS;

        if (lcf->id_cookie) {
            rc = ngx_http_persona_issue_id(r, lcf, ctx);

            if (rc == NGX_ERROR) {
                return NGX_HTTP_INTERNAL_SERVER_ERROR;
            }

            if (rc == NGX_OK) {
                /* a new id has no profile yet */
                ctx->status = NGX_HTTP_PERSONA_MISS;
            }
        }

        goto done;
    }

    if (ngx_http_complex_value(r, lcf->profile_key, &key) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* caps, tracking and goals keep the key for their writes */
    if (ngx_http_persona_track_start(r, lcf, ctx, &key) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /* persona_profile_cache: a fresh entry, or a lookup under way */
    rc = ngx_http_persona_profile_cache_lookup(r, ctx, &key);

    if (rc == NGX_OK) {
        /* a cached profile: the cap counters alone, if any are needed */
        n = ngx_http_persona_track_cap_reads(r, ctx, cmds,
                                             NGX_HTTP_PERSONA_CAPS_MAX);

        if (n == 0
            || ngx_http_persona_redis_allow(mcf->redis, r->connection->log)
               != NGX_OK)
        {
            goto done;
        }

        handler = ngx_http_persona_caps_done;
        data = ctx;
        goto lookup;
    }

    if (rc == NGX_AGAIN) {
        goto wait;
    }

    if (rc == NGX_ERROR) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    if (ngx_http_persona_redis_allow(mcf->redis, r->connection->log)
        != NGX_OK)
    {
        ctx->status = NGX_HTTP_PERSONA_BREAKER;
        ngx_http_persona_profile_cache_result(r, ctx);
        goto done;
    }

    /* the profile: a hash, or a JSON document */

    argv[0] = (lcf->profile_format == PERSONA_FORMAT_JSON) ? "GET"
                                                            : "HGETALL";
    argvlen[0] = ngx_strlen(argv[0]);
    argv[1] = (const char *) key.data;
    argvlen[1] = key.len;

    cmds[0].argc = 2;
    cmds[0].argv = argv;
    cmds[0].argvlen = argvlen;

    /* the cap counters ride behind the profile read */
    n = 1 + ngx_http_persona_track_cap_reads(r, ctx, &cmds[1],
                                             NGX_HTTP_PERSONA_CAPS_MAX);

    handler = ngx_http_persona_lookup_done;
    data = ctx;

    /* requests missing the same key meanwhile wait for this lookup */
    ngx_http_persona_profile_cache_share(r, ctx, &handler, &data);

lookup:

    cln = ngx_http_cleanup_add(r, 0);
    if (cln == NULL) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    /*
     * a request terminated while waiting detaches from the lookup; the
     * rules are released by the pool cleanup, after the access log
     */
    cln->handler = ngx_http_persona_detach;
    cln->data = ctx;

    op = ngx_http_persona_redis_lookup(mcf->redis, cmds, n,
                                       r->connection->log, handler, data);

    if (ctx->done) {
        /* finished (or failed) before the lookup returned */
        return ngx_http_persona_rules_apply(r, ctx);
    }

    if (op == NULL && handler == ngx_http_persona_caps_done) {
        /* the cached profile serves, with no cap */
        goto done;
    }

    if (op == NULL) {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                      "persona: could not start a redis lookup, "
                      "page served without profile");
        ctx->status = NGX_HTTP_PERSONA_ERROR;
        ngx_http_persona_profile_cache_result(r, ctx);
        goto done;
    }

    ctx->op = op;

wait:

    ctx->waiting = 1;

    r->main->count++;
    r->write_event_handler = ngx_http_request_empty_handler;

    return NGX_DONE;

done:

    if (ngx_http_persona_track_start(r, lcf, ctx, NULL) != NGX_OK) {
        return NGX_HTTP_INTERNAL_SERVER_ERROR;
    }

    ngx_http_persona_rules_evaluate(r, ctx);
    ctx->done = 1;

    return ngx_http_persona_rules_apply(r, ctx);
}


/* the first non-empty value of persona_id */
static ngx_int_t
ngx_http_persona_get_id(ngx_http_request_t *r,
    ngx_http_persona_loc_conf_t *lcf, ngx_str_t *id)
{
    ngx_uint_t                 i;
    ngx_http_complex_value_t  *cv;

    cv = lcf->ids->elts;

    for (i = 0; i < lcf->ids->nelts; i++) {
        if (ngx_http_complex_value(r, &cv[i], id) != NGX_OK) {
            return NGX_ERROR;
        }

        if (id->len) {
            return NGX_OK;
        }
    }

    return NGX_OK;
}


static void
ngx_http_persona_lookup_done(void *data, ngx_http_persona_status_e status,
    redisReply **replies, ngx_uint_t n, const char *reason)
{
    ngx_int_t                rc;
    persona_error_t          err;
    persona_alloc_t          alloc;
    ngx_connection_t        *c;
    ngx_http_request_t      *r;
    ngx_http_persona_ctx_t  *ctx;

    ctx = data;
    r = ctx->request;
    c = r->connection;

    ctx->op = NULL;

    if (replies == NULL) {
        /* a reply over our limits says nothing bad about Redis */
        ctx->status = status;
        ngx_log_error((status == NGX_HTTP_PERSONA_INVALID ? NGX_LOG_WARN
                                                         : NGX_LOG_ERR),
                      c->log, 0,
                      "persona: %s, page served without profile", reason);
        goto done;
    }

    if (n > 1) {
        ngx_http_persona_track_cap_replies(ctx, replies + 1, n - 1);
    }

    alloc.alloc = ngx_http_persona_palloc;
    alloc.data = r->pool;
    err.msg[0] = '\0';

    rc = persona_profile_decode(&ctx->profile, replies[0], ctx->profile_format,
                                &alloc, &err);

    switch (rc) {

    case PERSONA_PROFILE_FOUND:
        ctx->status = NGX_HTTP_PERSONA_OK;
        break;

    case PERSONA_PROFILE_MISSING:
        ctx->status = NGX_HTTP_PERSONA_MISS;
        break;

    case PERSONA_PROFILE_BAD:
        ngx_log_error(NGX_LOG_WARN, c->log, 0,
                      "persona: unusable profile for visitor \"%V\": %s, "
                      "page served without profile", &ctx->id, err.msg);
        ctx->status = NGX_HTTP_PERSONA_INVALID;
        break;

    case PERSONA_PROFILE_REDIS_ERROR:
        ngx_log_error(NGX_LOG_ERR, c->log, 0,
                      "persona: %s, page served without profile", err.msg);
        ctx->status = NGX_HTTP_PERSONA_ERROR;
        break;

    default:
        ngx_log_error(NGX_LOG_ERR, c->log, 0,
                      "persona: out of memory decoding a profile");
        ctx->status = NGX_HTTP_PERSONA_ERROR;
    }

    if (ctx->status != NGX_HTTP_PERSONA_OK) {
        ctx->profile.fields = NULL;
        ctx->profile.nfields = 0;
    }

done:

    /* store what Redis said, or serve a stale profile */
    ngx_http_persona_profile_cache_result(r, ctx);

    ngx_http_persona_resume(r, ctx);
}


/* the cap counters of a visitor whose profile came from the cache */
static void
ngx_http_persona_caps_done(void *data, ngx_http_persona_status_e status,
    redisReply **replies, ngx_uint_t n, const char *reason)
{
    ngx_http_persona_ctx_t  *ctx = data;

    ctx->op = NULL;

    if (replies) {
        ngx_http_persona_track_cap_replies(ctx, replies, n);

    } else {
        ngx_log_error(NGX_LOG_WARN, ctx->request->connection->log, 0,
                      "persona: %s, cap counters not read, no cap applies",
                      reason);
    }

    ngx_http_persona_resume(ctx->request, ctx);
}


/* the rules, and the request goes on if it waited for Redis */
static void
ngx_http_persona_resume(ngx_http_request_t *r, ngx_http_persona_ctx_t *ctx)
{
    ngx_connection_t  *c;

    c = r->connection;

    ngx_http_persona_rules_evaluate(r, ctx);
    ctx->done = 1;

    if (!ctx->waiting) {
        return;
    }

    /* resume the request where it stopped */

    ctx->waiting = 0;
    r->main->count--;
    r->write_event_handler = ngx_http_core_run_phases;

    ngx_http_core_run_phases(r);
    ngx_http_run_posted_requests(c);
}


/*
 * An http cleanup runs before the log phase: it only detaches a pending
 * lookup.  What the log phase reads ($persona_segment, variants: rules
 * memory) is released by the pool cleanup below, which runs after it.
 */
static void
ngx_http_persona_detach(void *data)
{
    ngx_http_persona_ctx_t  *ctx = data;

    if (ctx->op) {
        ngx_http_persona_redis_detach(ctx->op);
        ctx->op = NULL;
    }
}


static void
ngx_http_persona_ctx_cleanup(void *data)
{
    ngx_http_persona_ctx_t  *ctx = data;

    if (ctx->op) {
        ngx_http_persona_redis_detach(ctx->op);
        ctx->op = NULL;
    }

    ngx_http_persona_rules_release(ctx);
}


void *
ngx_http_persona_palloc(void *pool, size_t size)
{
    return ngx_palloc(pool, size);
}



/*
 * Removes the request headers drop() picks by rebuilding the list (nginx
 * has no removal); what pointed into the old parts stays valid.
 */
ngx_int_t
ngx_http_persona_remove_headers_in(ngx_http_request_t *r,
    ngx_http_persona_header_pick_pt drop, void *data)
{
    ngx_uint_t        i;
    ngx_list_t        headers;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h, *nh;

    headers = r->headers_in.headers;

    if (ngx_list_init(&r->headers_in.headers, r->pool, 20,
                      sizeof(ngx_table_elt_t))
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    part = &headers.part;
    h = part->elts;

    for (i = 0; /* void */ ; i++) {

        if (i >= part->nelts) {
            if (part->next == NULL) {
                break;
            }

            part = part->next;
            h = part->elts;
            i = 0;
        }

        if (drop(&h[i], data)) {
            continue;
        }

        nh = ngx_list_push(&r->headers_in.headers);
        if (nh == NULL) {
            return NGX_ERROR;
        }

        *nh = h[i];
    }

    return NGX_OK;
}


/*
 * The next live header of this name (ASCII case-insensitive) in a
 * request's or response's list: *part NULL starts at the first one;
 * *part and *i keep the position.
 */
ngx_table_elt_t *
ngx_http_persona_header_next(ngx_list_t *headers, ngx_str_t *name,
    ngx_list_part_t **part, ngx_uint_t *i)
{
    ngx_table_elt_t  *h;

    if (*part == NULL) {
        *part = &headers->part;
        *i = 0;

    } else {
        (*i)++;
    }

    for ( ;; ) {

        if (*i >= (*part)->nelts) {
            if ((*part)->next == NULL) {
                return NULL;
            }

            *part = (*part)->next;
            *i = 0;
            continue;
        }

        h = &((ngx_table_elt_t *) (*part)->elts)[*i];

        if (h->hash != 0
            && h->key.len == name->len
            && ngx_strncasecmp(h->key.data, name->data, name->len) == 0)
        {
            return h;
        }

        (*i)++;
    }
}
