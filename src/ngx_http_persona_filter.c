/*
 * The response side of experiences, header filter: response_headers,
 * persona_cache_control (ngx_http_persona_cache.c) and the decision to
 * inject; the body filter that injects is ngx_http_persona_body.c.  It
 * runs after nginx's headers filter, so it sees what "expires" and
 * "add_header" did (see "config").
 *
 * It acts on the main request of a request persona ran for (its
 * context exists), in whatever location answers it: landing targets
 * need no "persona on".  Subrequests pass untouched.
 */

#include "ngx_http_persona_module.h"


static ngx_int_t ngx_http_persona_header_filter(ngx_http_request_t *r);
static ngx_uint_t ngx_http_persona_inject_status(ngx_http_request_t *r);
static ngx_table_elt_t *ngx_http_persona_encoded(ngx_http_request_t *r);
static ngx_int_t ngx_http_persona_response_headers(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx);


static ngx_http_output_header_filter_pt  ngx_http_next_header_filter;


ngx_int_t
ngx_http_persona_init_filters(ngx_conf_t *cf)
{
    ngx_http_next_header_filter = ngx_http_top_header_filter;
    ngx_http_top_header_filter = ngx_http_persona_header_filter;

    return ngx_http_persona_init_body_filter(cf);
}


static ngx_int_t
ngx_http_persona_header_filter(ngx_http_request_t *r)
{
    ngx_uint_t                    typed, inject;
    ngx_table_elt_t              *enc;
    ngx_http_persona_ctx_t       *ctx;
    const persona_experience_t   *xp;
    ngx_http_persona_loc_conf_t  *lcf;

    if (r != r->main) {
        /* subrequests never add or change headers */
        return ngx_http_next_header_filter(r);
    }

    ctx = ngx_http_persona_get_ctx(r);

    if (ctx == NULL || !ctx->done) {
        return ngx_http_next_header_filter(r);
    }

    /* a header filtered again (an error page replacing a response) */
    ctx->filter = NULL;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_persona_module);
    xp = ctx->experience;

    typed = (r->headers_out.content_type.len
             && ngx_http_test_content_type(r, &lcf->types) != NULL);

    if (ctx->new_id && ctx->id_cookie) {
        /* a response with a visitor's id is that visitor's */
        if (ngx_http_persona_set_id_cookie(r, ctx) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (xp && xp->nresponse_headers && ngx_http_persona_add_header_status(r))
    {
        if (ngx_http_persona_response_headers(r, ctx) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    inject = (typed
              && lcf->inject
              && ((xp && xp->nblocks) || lcf->data_layer)
              && ngx_http_persona_inject_status(r));

    if (inject) {
        enc = ngx_http_persona_encoded(r);

        if (enc) {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "persona: response is compressed "
                          "(Content-Encoding: \"%V\"), passed through "
                          "without blocks or data layer; have the upstream "
                          "send identity encoding", &enc->value);
            inject = 0;
        }
    }

    /* the same answer as before the not-modified filter */

    if (lcf->cache_control == NGX_HTTP_PERSONA_CACHE_PRIVATE
        && ngx_http_persona_personalized(r, ctx, lcf))
    {
        if (ngx_http_persona_private(r) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    if (ctx->preview && ngx_http_persona_preview_headers(r) != NGX_OK) {
        return NGX_ERROR;
    }

    if (!inject) {
        return ngx_http_next_header_filter(r);
    }

    /* the body changes: a HEAD response says what a GET would */

    ngx_http_clear_content_length(r);
    ngx_http_clear_accept_ranges(r);

    if (lcf->cache_control != NGX_HTTP_PERSONA_CACHE_PRIVATE) {
        ngx_http_clear_last_modified(r);
        ngx_http_weak_etag(r);
    }

    if (r->header_only || r->method == NGX_HTTP_HEAD) {
        return ngx_http_next_header_filter(r);
    }

    if (ngx_http_persona_filter_start(r, ctx, lcf) != NGX_OK) {
        return NGX_ERROR;
    }

    return ngx_http_next_header_filter(r);
}


/* a response with a whole body */
static ngx_uint_t
ngx_http_persona_inject_status(ngx_http_request_t *r)
{
    ngx_uint_t  status;

    status = r->headers_out.status;

    if (status < NGX_HTTP_OK
        || status == NGX_HTTP_NO_CONTENT
        || status == NGX_HTTP_PARTIAL_CONTENT
        || status == NGX_HTTP_NOT_MODIFIED)
    {
        return 0;
    }

    return r->headers_out.content_length_n != 0;
}


/*
 * The Content-Encoding of the response, or NULL for identity.  The
 * pointer in headers_out is set only when nginx has gzip support: the
 * list is what counts.
 */
static ngx_table_elt_t *
ngx_http_persona_encoded(ngx_http_request_t *r)
{
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    static ngx_str_t  name = ngx_string("Content-Encoding");

    part = NULL;

    while ((h = ngx_http_persona_header_next(&r->headers_out.headers, &name, &part, &i)) != NULL) {

        if (h->value.len == 0
            || (h->value.len == sizeof("identity") - 1
                && ngx_strncasecmp(h->value.data, (u_char *) "identity",
                                   h->value.len)
                   == 0))
        {
            continue;
        }

        return h;
    }

    return NULL;
}


/*
 * response_headers: every header of each name is removed, built-in ones
 * too, then the rendered value is set unless it is empty.
 */
static ngx_int_t
ngx_http_persona_response_headers(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx)
{
    size_t                       i;
    ngx_str_t                    v;
    persona_str_t                value;
    persona_alloc_t              alloc;
    const persona_header_t      *hd;
    const persona_experience_t  *xp;

    xp = ctx->experience;

    alloc.alloc = ngx_http_persona_palloc;
    alloc.data = r->pool;

    for (i = 0; i < xp->nresponse_headers; i++) {
        hd = &xp->response_headers[i];

        if (persona_template_render_alloc(hd->value, PERSONA_ESCAPE_HEADER,
                                          ngx_http_persona_attr_lookup, ctx,
                                          &alloc, &value)
            != PERSONA_OK)
        {
            return NGX_ERROR;
        }

        v.data = (u_char *) value.data;
        v.len = value.len;

        ngx_log_debug3(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "persona response header \"%*s: %V\"",
                       hd->name.len, hd->name.data, &v);

        if (ngx_http_persona_set_header(r, (u_char *) hd->name.data,
                                        hd->name.len, &v)
            != NGX_OK)
        {
            return NGX_ERROR;
        }
    }

    return NGX_OK;
}

