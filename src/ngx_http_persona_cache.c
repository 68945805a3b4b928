/*
 * persona_cache_control: a response whose content depends on the visitor
 * is made private, loses its validators, and a conditional request never
 * gets a 304 for it (SPEC "Caching").  Everything else keeps nginx's own
 * behaviour: conditional requests, ranges and upstream revalidation.
 *
 * Whether a response depends on the visitor is known only once its
 * headers are: its type is in persona_types, or the experience did
 * something to it (landing, redirect, request headers, response headers,
 * a new id cookie; blocks and the data layer only go into persona_types).
 * nginx's not-modified filter answers 304 before the headers filter
 * (expires, add_header) and before any filter placed after it, so this
 * file is a second module of the same .so, ngx_http_persona_cache_module,
 * whose header filter runs before not_modified (see "config"): for a
 * response that will be personalized it removes If-None-Match and
 * If-Modified-Since from the request.  The validators themselves are
 * dropped by the header filter of ngx_http_persona_module, which runs
 * after the headers filter; without them an If-Range never matches and
 * the range filter sends the whole page.
 *
 * The conditionals reach an upstream as the client sent them: a 304 the
 * upstream answers passes to the client (its own copy stays valid; a
 * personalized page never carried validators to revalidate with).
 */

#include "ngx_http_persona_module.h"

#include "persona_output.h"


static ngx_int_t ngx_http_persona_cache_init(ngx_conf_t *cf);
static ngx_int_t ngx_http_persona_cache_header_filter(ngx_http_request_t *r);


static ngx_http_module_t  ngx_http_persona_cache_module_ctx = {
    NULL,                                  /* preconfiguration */
    ngx_http_persona_cache_init,           /* postconfiguration */

    NULL,                                  /* create main configuration */
    NULL,                                  /* init main configuration */

    NULL,                                  /* create server configuration */
    NULL,                                  /* merge server configuration */

    NULL,                                  /* create location configuration */
    NULL                                   /* merge location configuration */
};


ngx_module_t  ngx_http_persona_cache_module = {
    NGX_MODULE_V1,
    &ngx_http_persona_cache_module_ctx,    /* module context */
    NULL,                                  /* module directives */
    NGX_HTTP_MODULE,                       /* module type */
    NULL,                                  /* init master */
    NULL,                                  /* init module */
    NULL,                                  /* init process */
    NULL,                                  /* init thread */
    NULL,                                  /* exit thread */
    NULL,                                  /* exit process */
    NULL,                                  /* exit master */
    NGX_MODULE_V1_PADDING
};


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;


static ngx_int_t
ngx_http_persona_cache_init(ngx_conf_t *cf)
{
    ngx_http_persona_main_conf_t  *mcf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_persona_module);

    if (!mcf->enabled) {
        return NGX_OK;
    }

    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_persona_cache_header_filter;

    return NGX_OK;
}


/*
 * Before nginx's not-modified filter: no 304 for a response that will be
 * personalized.
 */
static ngx_int_t
ngx_http_persona_cache_header_filter(ngx_http_request_t *r)
{
    ngx_http_persona_ctx_t       *ctx;
    ngx_http_persona_loc_conf_t  *lcf;

    /* what the not-modified filter looks at */

    if (r != r->main
        || r->headers_out.status != NGX_HTTP_OK
        || (r->headers_in.if_none_match == NULL
            && r->headers_in.if_modified_since == NULL))
    {
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_persona_get_ctx(r);

    if (ctx == NULL || !ctx->done) {
        return ngx_http_next_header_filter(r);
    }

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_persona_module);

    if (ctx->preview
        || (lcf->cache_control == NGX_HTTP_PERSONA_CACHE_PRIVATE
            && ngx_http_persona_personalized(r, ctx, lcf)))
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "persona: personalized response, "
                       "no conditional request");

        r->headers_in.if_none_match = NULL;
        r->headers_in.if_modified_since = NULL;
    }

    return ngx_http_next_header_filter(r);
}


/*
 * The response depends on the visitor: its type is in persona_types, or
 * the experience did something to it (SPEC "Caching").  The same answer
 * before the not-modified filter and in the header filter.
 */
ngx_uint_t
ngx_http_persona_personalized(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx, ngx_http_persona_loc_conf_t *lcf)
{
    const persona_experience_t  *xp;

    if (r->headers_out.content_type.len
        && ngx_http_test_content_type(r, &lcf->types) != NULL)
    {
        return 1;
    }

    if ((ctx->new_id && ctx->id_cookie) || ctx->routed) {
        return 1;
    }

    xp = ctx->experience;

    if (xp == NULL) {
        return 0;
    }

    if (xp->nrequest_headers) {
        /* what the upstream answered may depend on them */
        return 1;
    }

    return xp->nresponse_headers && ngx_http_persona_add_header_status(r);
}


/* the statuses add_header uses */
ngx_uint_t
ngx_http_persona_add_header_status(ngx_http_request_t *r)
{
    switch (r->headers_out.status) {

    case NGX_HTTP_OK:
    case NGX_HTTP_CREATED:
    case NGX_HTTP_NO_CONTENT:
    case NGX_HTTP_PARTIAL_CONTENT:
    case NGX_HTTP_MOVED_PERMANENTLY:
    case NGX_HTTP_MOVED_TEMPORARILY:
    case NGX_HTTP_SEE_OTHER:
    case NGX_HTTP_NOT_MODIFIED:
    case NGX_HTTP_TEMPORARY_REDIRECT:
    case NGX_HTTP_PERMANENT_REDIRECT:
        return 1;

    default:
        return 0;
    }
}


/*
 * persona_cache_control private: Cache-Control made private, validators
 * dropped.
 */
ngx_int_t
ngx_http_persona_private(ngx_http_request_t *r)
{
    u_char           *p, *cc;
    size_t            len;
    ngx_str_t         value;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    static ngx_str_t  name = ngx_string("Cache-Control");

    /* every Cache-Control line, joined */

    len = 0;
    part = NULL;

    while ((h = ngx_http_persona_header_next(&r->headers_out.headers, &name, &part, &i)) != NULL) {
        len += h->value.len + 2;
    }

    cc = (u_char *) "";

    if (len) {
        cc = ngx_pnalloc(r->pool, len);
        if (cc == NULL) {
            return NGX_ERROR;
        }

        p = cc;
        part = NULL;

        while ((h = ngx_http_persona_header_next(&r->headers_out.headers, &name, &part, &i))
               != NULL)
        {
            if (p != cc) {
                *p++ = ',';
                *p++ = ' ';
            }

            p = ngx_cpymem(p, h->value.data, h->value.len);
        }

        len = p - cc;
    }

    value.data = ngx_pnalloc(r->pool, PERSONA_CACHE_CONTROL_SIZE(len));
    if (value.data == NULL) {
        return NGX_ERROR;
    }

    value.len = persona_cache_control_private((char *) cc, len,
                                              (char *) value.data);

    if (ngx_http_persona_set_header(r, name.data, name.len, &value)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_persona_clear_header(r, (u_char *) "ETag", sizeof("ETag") - 1);
    ngx_http_persona_clear_header(r, (u_char *) "Last-Modified",
                                  sizeof("Last-Modified") - 1);

    return NGX_OK;
}
