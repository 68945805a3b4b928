/*
 * Rule and template attributes read from the request: the lookup callback
 * the pure core calls (persona_lookup_pt).  Values are computed on demand
 * and the costly ones (device, lang, time) once per request.
 */

#include "ngx_http_persona_module.h"


static ngx_int_t ngx_http_persona_attr_header(ngx_http_request_t *r,
    const persona_str_t *name, ngx_str_t *value);
static ngx_int_t ngx_http_persona_attr_cookie(ngx_http_request_t *r,
    const persona_str_t *name, ngx_str_t *value);
static ngx_int_t ngx_http_persona_attr_arg(ngx_http_request_t *r,
    const persona_str_t *name, ngx_str_t *value);
static ngx_int_t ngx_http_persona_attr_var(ngx_http_request_t *r,
    const persona_str_t *name, ngx_str_t *value);
static void ngx_http_persona_attr_referer_host(ngx_http_request_t *r,
    ngx_str_t *value);
static void ngx_http_persona_attr_time(ngx_http_persona_ctx_t *ctx);


static const char  *ngx_http_persona_weekdays[] = {
    "sun", "mon", "tue", "wed", "thu", "fri", "sat"
};


int
ngx_http_persona_attr_lookup(void *data, const persona_attr_t *attr,
    persona_str_t *value)
{
    ngx_http_persona_ctx_t *ctx = data;

    ngx_str_t              v;
    ngx_http_request_t    *r;
    const persona_str_t   *p;
    persona_str_t          s;

    r = ctx->request;
    ngx_str_null(&v);

    switch (attr->ns) {

    case PERSONA_ATTR_PROFILE:
        p = persona_profile_get(&ctx->profile, attr->name.data,
                                attr->name.len);
        if (p == NULL) {
            return PERSONA_ATTR_NOT_FOUND;
        }

        *value = *p;
        return PERSONA_ATTR_FOUND;

    case PERSONA_ATTR_GEO:
        if (ngx_http_persona_geo_attr(r, ctx, attr->field, &v) != NGX_OK) {
            return PERSONA_ATTR_NOT_FOUND;
        }

        break;

    case PERSONA_ATTR_ARG:
        if (ngx_http_persona_attr_arg(r, &attr->name, &v) != NGX_OK) {
            return PERSONA_ATTR_NOT_FOUND;
        }

        break;

    case PERSONA_ATTR_HEADER:
        if (ngx_http_persona_attr_header(r, &attr->name, &v) != NGX_OK) {
            return PERSONA_ATTR_NOT_FOUND;
        }

        break;

    case PERSONA_ATTR_COOKIE:
        if (ngx_http_persona_attr_cookie(r, &attr->name, &v) != NGX_OK) {
            return PERSONA_ATTR_NOT_FOUND;
        }

        break;

    case PERSONA_ATTR_VAR:
        if (ngx_http_persona_attr_var(r, &attr->name, &v) != NGX_OK) {
            return PERSONA_ATTR_NOT_FOUND;
        }

        break;

    case PERSONA_ATTR_REQUEST_PATH:
        v = r->uri;
        break;

    case PERSONA_ATTR_REQUEST_HOST:
        v = r->headers_in.server;
        break;

    case PERSONA_ATTR_REQUEST_METHOD:
        v = r->method_name;
        break;

    case PERSONA_ATTR_REFERER_HOST:
        ngx_http_persona_attr_referer_host(r, &v);
        break;

    case PERSONA_ATTR_DEVICE:
        if (!ctx->device_done) {
            ctx->device_done = 1;

            if (r->headers_in.user_agent) {
                v = r->headers_in.user_agent->value;
            }

            s = persona_device_name(persona_device((const char *) v.data,
                                                   v.len));
            ctx->device.data = (u_char *) s.data;
            ctx->device.len = s.len;
        }

        v = ctx->device;
        break;

    case PERSONA_ATTR_LANG:
        if (!ctx->lang_done) {
            ctx->lang_done = 1;

            s.data = "accept-language";
            s.len = sizeof("accept-language") - 1;

            if (ngx_http_persona_attr_header(r, &s, &v) == NGX_OK) {
                ctx->lang.len = persona_lang((const char *) v.data, v.len,
                                             (char *) ctx->lang_buf);
                ctx->lang.data = ctx->lang_buf;
            }
        }

        v = ctx->lang;
        break;

    case PERSONA_ATTR_TIME_HOUR:
        ngx_http_persona_attr_time(ctx);
        v = ctx->time_hour;
        break;

    case PERSONA_ATTR_TIME_WEEKDAY:
        ngx_http_persona_attr_time(ctx);
        v = ctx->time_weekday;
        break;

    case PERSONA_ATTR_TIME_DATE:
        ngx_http_persona_attr_time(ctx);
        v = ctx->time_date;
        break;

    case PERSONA_ATTR_VISITOR_KNOWN:
        if (ctx->status == NGX_HTTP_PERSONA_OK
            || ctx->status == NGX_HTTP_PERSONA_STALE)
        {
            ngx_str_set(&v, "true");

        } else {
            ngx_str_set(&v, "false");
        }

        break;

    case PERSONA_ATTR_VISITOR_NEW:
        if (ctx->new_id) {
            ngx_str_set(&v, "true");

        } else {
            ngx_str_set(&v, "false");
        }

        break;

    default:
        return PERSONA_ATTR_NOT_FOUND;
    }

    value->data = (const char *) v.data;
    value->len = v.len;

    return PERSONA_ATTR_FOUND;
}


/* name is lowercased by the rules loader */
static ngx_int_t
ngx_http_persona_attr_header(ngx_http_request_t *r, const persona_str_t *name,
    ngx_str_t *value)
{
    ngx_str_t         n;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    n.data = (u_char *) name->data;
    n.len = name->len;
    part = NULL;

    h = ngx_http_persona_header_next(&r->headers_in.headers, &n, &part, &i);
    if (h == NULL) {
        return NGX_DECLINED;
    }

    *value = h->value;

    return NGX_OK;
}


/*
 * Cookies are parsed here rather than through $cookie_NAME: the Cookie
 * header API changed in nginx 1.23, and this needs no allocation.
 */
static ngx_int_t
ngx_http_persona_attr_cookie(ngx_http_request_t *r, const persona_str_t *name,
    ngx_str_t *value)
{
    u_char           *p, *end, *start, *eq;
    ngx_uint_t        i;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    static ngx_str_t  cookie = ngx_string("Cookie");

    part = NULL;

    while ((h = ngx_http_persona_header_next(&r->headers_in.headers, &cookie,
                                             &part, &i))
           != NULL)
    {
        p = h->value.data;
        end = p + h->value.len;

        while (p < end) {
            while (p < end && (*p == ' ' || *p == ';' || *p == '\t')) {
                p++;
            }

            start = p;

            while (p < end && *p != ';') {
                p++;
            }

            eq = ngx_strlchr(start, p, '=');
            if (eq == NULL) {
                continue;
            }

            if ((size_t) (eq - start) == name->len
                && ngx_strncmp(start, name->data, name->len) == 0)
            {
                value->data = eq + 1;
                value->len = p - (eq + 1);

                while (value->len && value->data[value->len - 1] == ' ') {
                    value->len--;
                }

                return NGX_OK;
            }
        }
    }

    return NGX_DECLINED;
}


/* the argument, decoded once: "+" is a space, "%2B" a plus */
static ngx_int_t
ngx_http_persona_attr_arg(ngx_http_request_t *r, const persona_str_t *name,
    ngx_str_t *value)
{
    u_char     *dst, *src;
    ngx_str_t   raw;

    if (ngx_http_arg(r, (u_char *) name->data, name->len, &raw) != NGX_OK) {
        return NGX_DECLINED;
    }

    if (ngx_strlchr(raw.data, raw.data + raw.len, '%') == NULL
        && ngx_strlchr(raw.data, raw.data + raw.len, '+') == NULL)
    {
        *value = raw;
        return NGX_OK;
    }

    dst = ngx_pnalloc(r->pool, raw.len);
    if (dst == NULL) {
        return NGX_ERROR;
    }

    /* "+" is a space before decoding, so "%2B" stays a plus */
    for (src = raw.data; src < raw.data + raw.len; src++) {
        dst[src - raw.data] = (*src == '+') ? ' ' : *src;
    }

    value->data = dst;
    src = dst;

    ngx_unescape_uri(&dst, &src, raw.len, 0);

    value->len = dst - value->data;

    return NGX_OK;
}


/* name is lowercased by the rules loader */
static ngx_int_t
ngx_http_persona_attr_var(ngx_http_request_t *r, const persona_str_t *name,
    ngx_str_t *value)
{
    ngx_str_t                   n;
    ngx_http_variable_value_t  *vv;

    n.data = (u_char *) name->data;
    n.len = name->len;

    vv = ngx_http_get_variable(r, &n, ngx_hash_key(n.data, n.len));

    if (vv == NULL || vv->not_found) {
        return NGX_DECLINED;
    }

    value->data = vv->data;
    value->len = vv->len;

    return NGX_OK;
}


/* "https://user@www.example.com:8443/x" -> "www.example.com" */
static void
ngx_http_persona_attr_referer_host(ngx_http_request_t *r, ngx_str_t *value)
{
    u_char  *p, *end, *host, *at;

    ngx_str_null(value);

    if (r->headers_in.referer == NULL) {
        return;
    }

    p = r->headers_in.referer->value.data;
    end = p + r->headers_in.referer->value.len;

    for ( /* void */ ; p + 3 <= end; p++) {
        if (p[0] == ':' && p[1] == '/' && p[2] == '/') {
            break;
        }
    }

    if (p + 3 > end) {
        return;
    }

    host = p + 3;

    for (p = host; p < end; p++) {
        if (*p == '/' || *p == '?' || *p == '#') {
            break;
        }
    }

    at = ngx_strlchr(host, p, '@');
    if (at) {
        host = at + 1;
    }

    for (p = host; p < end; p++) {
        if (*p == '/' || *p == ':' || *p == '?' || *p == '#') {
            break;
        }
    }

    value->data = host;
    value->len = p - host;
}


/* hour "0".."23", weekday "mon".."sun", date "YYYY-MM-DD": local time */
static void
ngx_http_persona_attr_time(ngx_http_persona_ctx_t *ctx)
{
    u_char    *p;
    ngx_tm_t   tm;

    if (ctx->time_done) {
        return;
    }

    ctx->time_done = 1;

    ngx_localtime(ngx_time(), &tm);

    p = ctx->time_buf;

    ctx->time_hour.data = p;
    p = ngx_sprintf(p, "%d", tm.ngx_tm_hour);
    ctx->time_hour.len = p - ctx->time_hour.data;

    ctx->time_weekday.data = p;
    p = ngx_cpymem(p, ngx_http_persona_weekdays[tm.ngx_tm_wday], 3);
    ctx->time_weekday.len = 3;

    ctx->time_date.data = p;
    p = ngx_sprintf(p, "%4d-%02d-%02d", tm.ngx_tm_year, tm.ngx_tm_mon,
                    tm.ngx_tm_mday);
    ctx->time_date.len = p - ctx->time_date.data;
}
