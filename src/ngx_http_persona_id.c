/*
 * persona_id_cookie: a random 128-bit visitor id for visitors without
 * one, sent as a cookie.  On the request that issues it $persona_id is
 * the new id, $persona_new is 1, Redis is not asked (a new id has no
 * profile) and the status is "miss".  The Set-Cookie header is added by
 * the header filter of the main request, so error pages and upstream
 * responses carry it too; subrequests never set it.  Bots and, with
 * persona_respect_gpc on (the default), requests with "Sec-GPC: 1" get
 * no id.
 */

#include "ngx_http_persona_module.h"

#include <sys/random.h>


#define NGX_HTTP_PERSONA_ID_BYTES   16


/* samesite=value (any case) and how the attribute spells it */
static ngx_str_t  ngx_http_persona_samesite[][2] = {
    { ngx_string("lax"), ngx_string("Lax") },
    { ngx_string("strict"), ngx_string("Strict") },
    { ngx_string("none"), ngx_string("None") },
    { ngx_null_string, ngx_null_string }
};

#define NGX_HTTP_PERSONA_SAMESITE_NONE  2


#define NGX_HTTP_PERSONA_SECURE_OFF   0
#define NGX_HTTP_PERSONA_SECURE_ON    1
#define NGX_HTTP_PERSONA_SECURE_AUTO  2

static ngx_conf_enum_t  ngx_http_persona_secure[] = {
    { ngx_string("off"), NGX_HTTP_PERSONA_SECURE_OFF },
    { ngx_string("on"), NGX_HTTP_PERSONA_SECURE_ON },
    { ngx_string("auto"), NGX_HTTP_PERSONA_SECURE_AUTO },
    { ngx_null_string, 0 }
};

static ngx_conf_enum_t  ngx_http_persona_httponly[] = {
    { ngx_string("off"), 0 },
    { ngx_string("on"), 1 },
    { ngx_null_string, 0 }
};


static ngx_int_t ngx_http_persona_id_cookie_enum(ngx_str_t *value,
    size_t skip, ngx_conf_enum_t *e, ngx_uint_t *result);
static ngx_int_t ngx_http_persona_id_cookie_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_persona_id_cookie_attrs(ngx_conf_t *cf,
    ngx_str_t *attrs, ngx_str_t *domain, ngx_str_t *path, time_t max_age,
    ngx_uint_t secure, ngx_uint_t httponly, ngx_uint_t samesite);


/*
 * persona_id_cookie name [domain=D] [path=/] [max_age=1y]
 *     [secure=auto|on|off] [httponly=on|off] [samesite=lax|strict|none]
 *
 * HttpOnly by default: the id is a credential, and scripts get the
 * segment from the data layer.  secure=auto (the default) adds Secure when
 * the request came over TLS to this nginx, the way $scheme is https;
 * X-Forwarded-Proto is not trusted (any client can send it): behind a TLS
 * terminator, say secure=on.  The bare flags "secure" and "httponly" are
 * kept as secure=on and httponly=on.
 */
char *
ngx_http_persona_id_cookie(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_persona_loc_conf_t *lcf = conf;

    u_char                           c;
    time_t                           max_age;
    ngx_str_t                       *value, domain, path, s;
    ngx_uint_t                       i, k, secure, httponly, samesite;
    ngx_http_persona_id_cookie_t    *idc;

    if (lcf->id_cookie != NGX_CONF_UNSET_PTR) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0 || value[1].len > 64) {
        return "expects a cookie name of 1 to 64 characters";
    }

    for (i = 0; i < value[1].len; i++) {
        c = value[1].data[i];

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
              || (c >= '0' && c <= '9') || c == '_' || c == '-' || c == '.'))
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "invalid cookie name \"%V\": use letters, "
                               "digits, \"_\", \"-\" and \".\"", &value[1]);
            return NGX_CONF_ERROR;
        }
    }

    ngx_str_null(&domain);
    ngx_str_set(&path, "/");
    max_age = 365 * 24 * 60 * 60;
    secure = NGX_HTTP_PERSONA_SECURE_AUTO;
    httponly = 1;
    samesite = 0;

    for (i = 2; i < cf->args->nelts; i++) {

        /* no bytes that would end the attribute or the header */
        for (k = 0; k < value[i].len; k++) {
            if (value[i].data[k] < 0x21 || value[i].data[k] == ';'
                || value[i].data[k] == 0x7f)
            {
                goto invalid;
            }
        }

        if (ngx_strncmp(value[i].data, "domain=", 7) == 0) {
            domain.data = value[i].data + 7;
            domain.len = value[i].len - 7;

        } else if (ngx_strncmp(value[i].data, "path=", 5) == 0) {
            path.data = value[i].data + 5;
            path.len = value[i].len - 5;

            if (path.len == 0 || path.data[0] != '/') {
                goto invalid;
            }

        } else if (ngx_strncmp(value[i].data, "max_age=", 8) == 0) {
            s.data = value[i].data + 8;
            s.len = value[i].len - 8;

            max_age = ngx_parse_time(&s, 1);
            if (max_age == (time_t) NGX_ERROR) {
                goto invalid;
            }

        } else if (ngx_strcmp(value[i].data, "secure") == 0) {
            secure = NGX_HTTP_PERSONA_SECURE_ON;

        } else if (ngx_strncmp(value[i].data, "secure=", 7) == 0) {
            if (ngx_http_persona_id_cookie_enum(&value[i], 7,
                                                ngx_http_persona_secure,
                                                &secure)
                != NGX_OK)
            {
                goto invalid;
            }

        } else if (ngx_strcmp(value[i].data, "httponly") == 0) {
            httponly = 1;

        } else if (ngx_strncmp(value[i].data, "httponly=", 9) == 0) {
            if (ngx_http_persona_id_cookie_enum(&value[i], 9,
                                                ngx_http_persona_httponly,
                                                &httponly)
                != NGX_OK)
            {
                goto invalid;
            }

        } else if (ngx_strncmp(value[i].data, "samesite=", 9) == 0) {
            s.data = value[i].data + 9;
            s.len = value[i].len - 9;

            for (k = 0; ngx_http_persona_samesite[k][0].len; k++) {
                if (s.len == ngx_http_persona_samesite[k][0].len
                    && ngx_strncasecmp(s.data,
                                       ngx_http_persona_samesite[k][0].data,
                                       s.len)
                       == 0)
                {
                    break;
                }
            }

            if (ngx_http_persona_samesite[k][0].len == 0) {
                goto invalid;
            }

            samesite = k;

        } else {
            goto invalid;
        }
    }

    /*
     * Browsers drop a SameSite=None cookie without Secure; with
     * secure=auto behind a TLS terminator nginx would send exactly that.
     */
    if (samesite == NGX_HTTP_PERSONA_SAMESITE_NONE
        && secure != NGX_HTTP_PERSONA_SECURE_ON)
    {
        return "with samesite=none needs secure=on (browsers ignore "
               "the cookie otherwise)";
    }

    idc = ngx_pcalloc(cf->pool, sizeof(ngx_http_persona_id_cookie_t));
    if (idc == NULL) {
        return NGX_CONF_ERROR;
    }

    idc->name = value[1];

    if (ngx_http_persona_id_cookie_attrs(cf, &idc->attrs, &domain, &path,
                                         max_age,
                                         secure == NGX_HTTP_PERSONA_SECURE_ON,
                                         httponly, samesite)
        != NGX_OK)
    {
        return NGX_CONF_ERROR;
    }

    if (secure == NGX_HTTP_PERSONA_SECURE_AUTO) {
        if (ngx_http_persona_id_cookie_attrs(cf, &idc->attrs_ssl, &domain,
                                             &path, max_age, 1, httponly,
                                             samesite)
            != NGX_OK)
        {
            return NGX_CONF_ERROR;
        }

    } else {
        idc->attrs_ssl = idc->attrs;
    }

    lcf->id_cookie = idc;

    return NGX_CONF_OK;

invalid:

    ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                       "invalid parameter \"%V\"", &value[i]);

    return NGX_CONF_ERROR;
}


/* "name=value" with value one of e's names (exact case, as nginx's "on") */
static ngx_int_t
ngx_http_persona_id_cookie_enum(ngx_str_t *value, size_t skip,
    ngx_conf_enum_t *e, ngx_uint_t *result)
{
    for ( /* void */ ; e->name.len; e++) {
        if (value->len - skip == e->name.len
            && ngx_strncmp(value->data + skip, e->name.data, e->name.len)
               == 0)
        {
            *result = e->value;
            return NGX_OK;
        }
    }

    return NGX_ERROR;
}


/* "; Domain=D; Path=P; Max-Age=N; Secure; HttpOnly; SameSite=Lax" */
static ngx_int_t
ngx_http_persona_id_cookie_attrs(ngx_conf_t *cf, ngx_str_t *attrs,
    ngx_str_t *domain, ngx_str_t *path, time_t max_age, ngx_uint_t secure,
    ngx_uint_t httponly, ngx_uint_t samesite)
{
    u_char  *p;

    attrs->data = ngx_pnalloc(cf->pool,
                              sizeof("; Domain=") - 1 + domain->len
                              + sizeof("; Path=") - 1 + path->len
                              + sizeof("; Max-Age=") - 1 + NGX_TIME_T_LEN
                              + sizeof("; Secure; HttpOnly") - 1
                              + sizeof("; SameSite=Strict") - 1);
    if (attrs->data == NULL) {
        return NGX_ERROR;
    }

    p = attrs->data;

    if (domain->len) {
        p = ngx_sprintf(p, "; Domain=%V", domain);
    }

    p = ngx_sprintf(p, "; Path=%V; Max-Age=%T", path, max_age);

    if (secure) {
        p = ngx_cpymem(p, "; Secure", sizeof("; Secure") - 1);
    }

    if (httponly) {
        p = ngx_cpymem(p, "; HttpOnly", sizeof("; HttpOnly") - 1);
    }

    p = ngx_sprintf(p, "; SameSite=%V",
                    &ngx_http_persona_samesite[samesite][1]);

    attrs->len = p - attrs->data;

    return NGX_OK;
}


/*
 * The default persona_id with persona_id_cookie NAME: the value of the
 * cookie NAME.  Not "$cookie_NAME": a variable name ends at "-" or ".",
 * which cookie names may hold ("$cookie_my-id" is $cookie_my followed by
 * "-id", the same id for every visitor); so a variable of our own, named
 * after this directive, reads the cookie.
 */
ngx_array_t *
ngx_http_persona_id_cookie_ids(ngx_conf_t *cf,
    ngx_http_persona_id_cookie_t *idc)
{
    ngx_str_t                          v;
    ngx_array_t                       *ids;
    ngx_http_variable_t               *var;
    ngx_http_complex_value_t          *cv;
    ngx_http_compile_complex_value_t   ccv;

    if (idc->ids) {
        /* locations that inherit the directive share it */
        return idc->ids;
    }

    ids = ngx_array_create(cf->pool, 1, sizeof(ngx_http_complex_value_t));
    if (ids == NULL) {
        return NULL;
    }

    cv = ngx_array_push(ids);
    if (cv == NULL) {
        return NULL;
    }

    v.data = ngx_pnalloc(cf->pool, sizeof("$persona_id_cookie_") - 1
                                   + 2 * sizeof(void *));
    if (v.data == NULL) {
        return NULL;
    }

    v.len = ngx_sprintf(v.data, "$persona_id_cookie_%p", idc) - v.data;

    v.data++;
    v.len--;

    var = ngx_http_add_variable(cf, &v, NGX_HTTP_VAR_NOCACHEABLE);
    if (var == NULL) {
        return NULL;
    }

    var->get_handler = ngx_http_persona_id_cookie_variable;
    var->data = (uintptr_t) idc;

    v.data--;
    v.len++;

    ngx_memzero(&ccv, sizeof(ngx_http_compile_complex_value_t));

    ccv.cf = cf;
    ccv.value = &v;
    ccv.complex_value = cv;

    if (ngx_http_compile_complex_value(&ccv) != NGX_OK) {
        return NULL;
    }

    idc->ids = ids;

    return ids;
}


/* the value of the cookie persona_id_cookie names, as $cookie_NAME gets it */
static ngx_int_t
ngx_http_persona_id_cookie_variable(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t                      value;
    ngx_http_persona_id_cookie_t  *idc;

    idc = (ngx_http_persona_id_cookie_t *) data;

#if (nginx_version >= 1023000)
    if (ngx_http_parse_multi_header_lines(r, r->headers_in.cookie, &idc->name,
                                          &value)
        == NULL)
#else
    if (ngx_http_parse_multi_header_lines(&r->headers_in.cookies, &idc->name,
                                          &value)
        == NGX_DECLINED)
#endif
    {
        v->not_found = 1;
        return NGX_OK;
    }

    v->len = value.len;
    v->valid = 1;
    v->no_cacheable = 0;
    v->not_found = 0;
    v->data = value.data;

    return NGX_OK;
}


/*
 * A new id for this visitor: 32 hex digits from the kernel's random
 * generator (getrandom() does not block once the pool is initialized;
 * with GRND_NONBLOCK it fails instead).  NGX_DECLINED: no randomness.
 */
ngx_int_t
ngx_http_persona_issue_id(ngx_http_request_t *r,
    ngx_http_persona_loc_conf_t *lcf, ngx_http_persona_ctx_t *ctx)
{
    u_char         *p;
    u_char          rnd[NGX_HTTP_PERSONA_ID_BYTES];
    ngx_str_t       ua;
    persona_str_t   s;

    /*
     * No id for bots (device "bot", an empty User-Agent included): a
     * crawler would get a new id, and a profile, on every request.  The
     * device class is kept for the rules.
     */
    if (!ctx->device_done) {
        ctx->device_done = 1;

        ngx_str_null(&ua);

        if (r->headers_in.user_agent) {
            ua = r->headers_in.user_agent->value;
        }

        s = persona_device_name(persona_device((const char *) ua.data,
                                               ua.len));
        ctx->device.data = (u_char *) s.data;
        ctx->device.len = s.len;
    }

    if (ctx->device.len == sizeof("bot") - 1
        && ngx_strncmp(ctx->device.data, "bot", 3) == 0)
    {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "persona: no visitor id for a bot");
        return NGX_DECLINED;
    }

    if (lcf->respect_gpc && ngx_http_persona_gpc(r)) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "persona: no visitor id, Sec-GPC: 1");
        return NGX_DECLINED;
    }

    if (getrandom(rnd, sizeof(rnd), GRND_NONBLOCK) != (ssize_t) sizeof(rnd))
    {
        ngx_log_error(NGX_LOG_ERR, r->connection->log, ngx_errno,
                      "persona: getrandom() failed, no visitor id issued");
        return NGX_DECLINED;
    }

    p = ngx_pnalloc(r->pool, 2 * sizeof(rnd));
    if (p == NULL) {
        return NGX_ERROR;
    }

    ngx_hex_dump(p, rnd, sizeof(rnd));

    ctx->id.data = p;
    ctx->id.len = 2 * sizeof(rnd);
    ctx->new_id = 1;
    ctx->id_cookie = lcf->id_cookie;

    return NGX_OK;
}


/* Global Privacy Control: the request has "Sec-GPC: 1" */
ngx_uint_t
ngx_http_persona_gpc(ngx_http_request_t *r)
{
    ngx_uint_t        i;
    ngx_table_elt_t  *h;
    ngx_list_part_t  *part;

    static ngx_str_t  name = ngx_string("Sec-GPC");

    part = NULL;

    for ( ;; ) {
        h = ngx_http_persona_header_next(&r->headers_in.headers, &name,
                                         &part, &i);
        if (h == NULL) {
            return 0;
        }

        if (h->value.len == 1 && h->value.data[0] == '1') {
            return 1;
        }
    }
}


/* header filter, main request: Set-Cookie for an id issued now */
ngx_int_t
ngx_http_persona_set_id_cookie(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx)
{
    u_char                        *p;
    ngx_str_t                     *attrs;
    ngx_table_elt_t               *h;
    ngx_http_persona_id_cookie_t  *idc;

    idc = ctx->id_cookie;
    attrs = &idc->attrs;

#if (NGX_HTTP_SSL)
    /* secure=auto: Secure when this request came over TLS ($scheme) */
    if (r->connection->ssl) {
        attrs = &idc->attrs_ssl;
    }
#endif

    h = ngx_list_push(&r->headers_out.headers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    p = ngx_pnalloc(r->pool, idc->name.len + 1 + ctx->id.len + attrs->len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    h->hash = 1;
#if (nginx_version >= 1023000)
    h->next = NULL;
#endif
    ngx_str_set(&h->key, "Set-Cookie");
    h->value.data = p;

    p = ngx_cpymem(p, idc->name.data, idc->name.len);
    *p++ = '=';
    p = ngx_cpymem(p, ctx->id.data, ctx->id.len);
    p = ngx_cpymem(p, attrs->data, attrs->len);

    h->value.len = p - h->value.data;

    return NGX_OK;
}
