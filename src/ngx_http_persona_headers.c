/*
 * Editing response headers by name: every header of a name is removed
 * or replaced, built-in ones too (the headers_out pointers and arrays
 * nginx keeps for some of them).  Used by response_headers
 * (ngx_http_persona_filter.c) and persona_cache_control
 * (ngx_http_persona_cache.c).
 */

#include "ngx_http_persona_module.h"


/* what replacing a header of this name involves besides the list */
typedef enum {
    NGX_HTTP_PERSONA_HDR_PTR = 0,      /* a headers_out pointer */
    NGX_HTTP_PERSONA_HDR_MULTI,        /* Cache-Control, Link */
    NGX_HTTP_PERSONA_HDR_LAST_MODIFIED,
    NGX_HTTP_PERSONA_HDR_ACCEPT_RANGES,
    NGX_HTTP_PERSONA_HDR_CONTENT_TYPE
} ngx_http_persona_hdr_e;


typedef struct {
    ngx_str_t                    name;
    ngx_http_persona_hdr_e       type;
    size_t                       offset;  /* in ngx_http_headers_out_t */
} ngx_http_persona_builtin_t;


static const ngx_http_persona_builtin_t *ngx_http_persona_builtin(
    u_char *name, size_t len);


#define ngx_http_persona_hdr(name, type, field)                              \
    { ngx_string(name), type, offsetof(ngx_http_headers_out_t, field) }

static ngx_http_persona_builtin_t  ngx_http_persona_builtins[] = {
    ngx_http_persona_hdr("Cache-Control", NGX_HTTP_PERSONA_HDR_MULTI,
                         cache_control),
    ngx_http_persona_hdr("Link", NGX_HTTP_PERSONA_HDR_MULTI, link),
    ngx_http_persona_hdr("ETag", NGX_HTTP_PERSONA_HDR_PTR, etag),
    ngx_http_persona_hdr("Expires", NGX_HTTP_PERSONA_HDR_PTR, expires),
    ngx_http_persona_hdr("Last-Modified", NGX_HTTP_PERSONA_HDR_LAST_MODIFIED,
                         last_modified),
    ngx_http_persona_hdr("Accept-Ranges", NGX_HTTP_PERSONA_HDR_ACCEPT_RANGES,
                         accept_ranges),
    ngx_http_persona_hdr("Content-Type", NGX_HTTP_PERSONA_HDR_CONTENT_TYPE,
                         content_type),
    ngx_http_persona_hdr("WWW-Authenticate", NGX_HTTP_PERSONA_HDR_PTR,
                         www_authenticate),
    ngx_http_persona_hdr("Content-Range", NGX_HTTP_PERSONA_HDR_PTR,
                         content_range),
    ngx_http_persona_hdr("Refresh", NGX_HTTP_PERSONA_HDR_PTR, refresh),
    { ngx_null_string, 0, 0 }
};


static const ngx_http_persona_builtin_t *
ngx_http_persona_builtin(u_char *name, size_t len)
{
    ngx_http_persona_builtin_t  *b;

    for (b = ngx_http_persona_builtins; b->name.len; b++) {
        if (b->name.len == len
            && ngx_strncasecmp(b->name.data, name, len) == 0)
        {
            return b;
        }
    }

    return NULL;
}


/* removes every header of this name from the response */
void
ngx_http_persona_clear_header(ngx_http_request_t *r, u_char *name,
    size_t len)
{
    ngx_str_t                          n;
    ngx_uint_t                         i;
    ngx_list_part_t                   *part;
    ngx_table_elt_t                   *h, **ph;
    const ngx_http_persona_builtin_t  *b;

    n.data = name;
    n.len = len;
    part = NULL;

    while ((h = ngx_http_persona_header_next(&r->headers_out.headers, &n, &part, &i)) != NULL) {
        h->hash = 0;
    }

    b = ngx_http_persona_builtin(name, len);
    if (b == NULL) {
        return;
    }

    switch (b->type) {

    case NGX_HTTP_PERSONA_HDR_MULTI:
#if (nginx_version >= 1023000)
        ph = (ngx_table_elt_t **) ((char *) &r->headers_out + b->offset);
        *ph = NULL;
#else
        ((ngx_array_t *) ((char *) &r->headers_out + b->offset))->nelts = 0;
#endif
        break;

    case NGX_HTTP_PERSONA_HDR_LAST_MODIFIED:
        r->headers_out.last_modified_time = -1;
        r->headers_out.last_modified = NULL;
        break;

    case NGX_HTTP_PERSONA_HDR_ACCEPT_RANGES:
        /* else the range filter adds its own after ours */
        r->allow_ranges = 0;
        r->headers_out.accept_ranges = NULL;
        break;

    case NGX_HTTP_PERSONA_HDR_CONTENT_TYPE:
        r->headers_out.content_type.len = 0;
        r->headers_out.content_type.data = NULL;
        r->headers_out.content_type_len = 0;
        r->headers_out.content_type_lowcase = NULL;
        r->headers_out.content_type_hash = 0;
        r->headers_out.charset.len = 0;
        break;

    default: /* NGX_HTTP_PERSONA_HDR_PTR */
        ph = (ngx_table_elt_t **) ((char *) &r->headers_out + b->offset);
        *ph = NULL;
    }
}


/* replaces every header of this name; an empty value only removes */
ngx_int_t
ngx_http_persona_set_header(ngx_http_request_t *r, u_char *name, size_t len,
    ngx_str_t *value)
{
    u_char                            *p;
    ngx_table_elt_t                   *h, **ph;
    const ngx_http_persona_builtin_t  *b;
#if (nginx_version < 1023000)
    ngx_array_t                       *a;
#endif

    ngx_http_persona_clear_header(r, name, len);

    if (value->len == 0) {
        return NGX_OK;
    }

    b = ngx_http_persona_builtin(name, len);

    if (b && b->type == NGX_HTTP_PERSONA_HDR_CONTENT_TYPE) {
        r->headers_out.content_type = *value;

        p = ngx_strlchr(value->data, value->data + value->len, ';');
        r->headers_out.content_type_len = p ? (size_t) (p - value->data)
                                            : value->len;

        while (r->headers_out.content_type_len
               && value->data[r->headers_out.content_type_len - 1] == ' ')
        {
            r->headers_out.content_type_len--;
        }

        return NGX_OK;
    }

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
    h->key.data = name;
    h->key.len = len;
    h->value = *value;
    h->lowcase_key = NULL;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif

    if (b == NULL) {
        return NGX_OK;
    }

    switch (b->type) {

    case NGX_HTTP_PERSONA_HDR_MULTI:
#if (nginx_version >= 1023000)
        ph = (ngx_table_elt_t **) ((char *) &r->headers_out + b->offset);
        *ph = h;
#else
        a = (ngx_array_t *) ((char *) &r->headers_out + b->offset);

        if (a->elts == NULL
            && ngx_array_init(a, r->pool, 1, sizeof(ngx_table_elt_t *))
               != NGX_OK)
        {
            return NGX_ERROR;
        }

        ph = ngx_array_push(a);
        if (ph == NULL) {
            return NGX_ERROR;
        }

        *ph = h;
#endif
        break;

    case NGX_HTTP_PERSONA_HDR_LAST_MODIFIED:
        /* printed from the list: last_modified_time stays -1 */
        r->headers_out.last_modified = h;
        break;

    case NGX_HTTP_PERSONA_HDR_ACCEPT_RANGES:
        r->headers_out.accept_ranges = h;
        break;

    default: /* NGX_HTTP_PERSONA_HDR_PTR */
        ph = (ngx_table_elt_t **) ((char *) &r->headers_out + b->offset);
        *ph = h;
    }

    return NGX_OK;
}

