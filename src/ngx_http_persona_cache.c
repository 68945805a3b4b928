/*
 * persona_cache_control: a response whose content depends on the visitor
 * is made private, loses its validators, and a conditional request never
 * gets a 304 for it.
 */

#include "ngx_http_persona_module.h"

#include "persona_output.h"


static ngx_uint_t ngx_http_persona_conditional(ngx_table_elt_t *h,
    void *range);


/*
 * Rewrite phase, once per client request: with persona_cache_control
 * private the page depends on the visitor, so the validators a client
 * (or a shared cache) kept must not earn a 304, neither from nginx's
 * not-modified filter (it decides before our header filter runs) nor
 * from an upstream.  If-Range goes with Range: a range of a page that
 * may differ from the client's copy would corrupt it; the whole page is
 * sent instead.
 */
ngx_int_t
ngx_http_persona_drop_conditionals(ngx_http_request_t *r)
{
    void                         *range;
    ngx_http_persona_loc_conf_t  *lcf;

    lcf = ngx_http_get_module_loc_conf(r, ngx_http_persona_module);

    if (lcf->cache_control != NGX_HTTP_PERSONA_CACHE_PRIVATE) {
        return NGX_OK;
    }

    /* nginx's header parser points at the first of each */

    if (r->headers_in.if_modified_since == NULL
        && r->headers_in.if_none_match == NULL
        && r->headers_in.if_range == NULL)
    {
        return NGX_OK;
    }

    range = r->headers_in.if_range ? (void *) 1 : NULL;

    ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "persona dropping the conditional request headers");

    if (ngx_http_persona_remove_headers_in(r, ngx_http_persona_conditional,
                                           range)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    r->headers_in.if_modified_since = NULL;
    r->headers_in.if_none_match = NULL;
    r->headers_in.if_range = NULL;

    if (range) {
        r->headers_in.range = NULL;
    }

    return NGX_OK;
}


/*
 * If-None-Match, If-Modified-Since, If-Range; and Range when range is not
 * NULL (a request with If-Range)
 */
static ngx_uint_t
ngx_http_persona_conditional(ngx_table_elt_t *h, void *range)
{
    static ngx_str_t  names[] = {
        ngx_string("If-None-Match"),
        ngx_string("If-Modified-Since"),
        ngx_string("If-Range"),
        ngx_string("Range")
    };

    ngx_uint_t  k, n;

    n = range ? 4 : 3;

    for (k = 0; k < n; k++) {
        if (h->key.len == names[k].len
            && ngx_strncasecmp(h->key.data, names[k].data, h->key.len) == 0)
        {
            return 1;
        }
    }

    return 0;
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
