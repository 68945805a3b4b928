/*
 * $persona_* variables.  All are non-cacheable: their values appear when
 * the lookup finishes, after nginx may already have asked for them (in a
 * server-level "if", say).
 */

#include "ngx_http_persona_module.h"


static ngx_int_t ngx_http_persona_variable_str(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_persona_variable_new(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_persona_variable_status(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_persona_variable_variants(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_persona_variable_variant(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static ngx_int_t ngx_http_persona_variable_profile(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data);
static size_t ngx_http_persona_utf8_cap(u_char *p, size_t len, size_t max);
static void ngx_http_persona_variable_set(ngx_http_variable_value_t *v,
    u_char *data, size_t len);


#define NGX_HTTP_PERSONA_VAR_FLAGS  NGX_HTTP_VAR_NOCACHEABLE

/* $persona_profile_NAME values are cut to 4 KiB (SPEC "Variables") */
#define NGX_HTTP_PERSONA_PROFILE_VAR_MAX  4096

static ngx_http_variable_t  ngx_http_persona_vars[] = {

    { ngx_string("persona_id"), NULL, ngx_http_persona_variable_str,
      offsetof(ngx_http_persona_ctx_t, id), NGX_HTTP_PERSONA_VAR_FLAGS, 0 },

    { ngx_string("persona_new"), NULL, ngx_http_persona_variable_new,
      0, NGX_HTTP_PERSONA_VAR_FLAGS, 0 },

    { ngx_string("persona_status"), NULL, ngx_http_persona_variable_status,
      0, NGX_HTTP_PERSONA_VAR_FLAGS, 0 },

    { ngx_string("persona_segment"), NULL, ngx_http_persona_variable_str,
      offsetof(ngx_http_persona_ctx_t, segment),
      NGX_HTTP_PERSONA_VAR_FLAGS, 0 },

    { ngx_string("persona_segments"), NULL, ngx_http_persona_variable_str,
      offsetof(ngx_http_persona_ctx_t, segments),
      NGX_HTTP_PERSONA_VAR_FLAGS, 0 },

    { ngx_string("persona_variants"), NULL,
      ngx_http_persona_variable_variants, 0, NGX_HTTP_PERSONA_VAR_FLAGS, 0 },

    { ngx_string("persona_variant_"), NULL, ngx_http_persona_variable_variant,
      0, NGX_HTTP_PERSONA_VAR_FLAGS|NGX_HTTP_VAR_PREFIX, 0 },

    { ngx_string("persona_profile_"), NULL, ngx_http_persona_variable_profile,
      0, NGX_HTTP_PERSONA_VAR_FLAGS|NGX_HTTP_VAR_PREFIX, 0 },

    /* ngx_http_persona_profile_cache.c */
    { ngx_string("persona_cache"), NULL,
      ngx_http_persona_profile_cache_variable, 0,
      NGX_HTTP_PERSONA_VAR_FLAGS, 0 },

    /* ngx_http_persona_geo.c */
    { ngx_string("persona_geo_"), NULL, ngx_http_persona_geo_variable,
      0, NGX_HTTP_PERSONA_VAR_FLAGS|NGX_HTTP_VAR_PREFIX, 0 },

      ngx_http_null_variable
};


static ngx_str_t  ngx_http_persona_status_names[] = {
    ngx_string("off"),
    ngx_string("ok"),
    ngx_string("miss"),
    ngx_string("anonymous"),
    ngx_string("error"),
    ngx_string("timeout"),
    ngx_string("breaker"),
    ngx_string("stale"),
    ngx_string("preview"),
    ngx_string("invalid")
};


ngx_int_t
ngx_http_persona_add_variables(ngx_conf_t *cf)
{
    ngx_http_variable_t  *var, *v;

    for (v = ngx_http_persona_vars; v->name.len; v++) {
        var = ngx_http_add_variable(cf, &v->name, v->flags);
        if (var == NULL) {
            return NGX_ERROR;
        }

        var->get_handler = v->get_handler;
        var->data = v->data;
    }

    return NGX_OK;
}


/*
 * The request's context, or NULL: the variables are then empty.  While
 * the lookup runs only $persona_id is set (the profile key uses it).
 */
static ngx_http_persona_ctx_t *
ngx_http_persona_variable_ctx(ngx_http_request_t *r)
{
    return ngx_http_persona_get_ctx(r);
}


static ngx_int_t
ngx_http_persona_variable_str(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t               *s;
    ngx_http_persona_ctx_t  *ctx;

    ctx = ngx_http_persona_variable_ctx(r);

    if (ctx == NULL) {
        ngx_http_persona_variable_set(v, NULL, 0);
        return NGX_OK;
    }

    s = (ngx_str_t *) ((char *) ctx + data);
    ngx_http_persona_variable_set(v, s->data, s->len);

    return NGX_OK;
}


static ngx_int_t
ngx_http_persona_variable_new(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_persona_ctx_t  *ctx;

    ctx = ngx_http_persona_variable_ctx(r);

    if (ctx == NULL) {
        ngx_http_persona_variable_set(v, NULL, 0);

    } else {
        ngx_http_persona_variable_set(v, (u_char *) (ctx->new_id ? "1" : "0"),
                                      1);
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_persona_variable_status(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_str_t               *s;
    ngx_http_persona_ctx_t  *ctx;

    ctx = ngx_http_persona_variable_ctx(r);

    s = &ngx_http_persona_status_names[ctx ? ctx->status
                                           : NGX_HTTP_PERSONA_OFF];
    ngx_http_persona_variable_set(v, s->data, s->len);

    return NGX_OK;
}


/* $persona_variants: "exp=variant" pairs of the visitor's experiments */
static ngx_int_t
ngx_http_persona_variable_variants(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    ngx_http_persona_ctx_t  *ctx;

    ctx = ngx_http_persona_variable_ctx(r);

    if (ctx == NULL) {
        ngx_http_persona_variable_set(v, NULL, 0);
        return NGX_OK;
    }

    ngx_http_persona_variable_set(v, ctx->variants_text.data,
                                  ctx->variants_text.len);

    return NGX_OK;
}


/*
 * $persona_variant_NAME: the visitor's variant in experiment NAME (named
 * the way $persona_profile_NAME is), empty when the visitor is not in
 * it; not found for an experiment the request's rules do not have.
 */
static ngx_int_t
ngx_http_persona_variable_variant(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    size_t                   i, len;
    ngx_str_t               *name;
    persona_rules_t         *rules;
    const persona_str_t     *xn;
    ngx_http_persona_ctx_t  *ctx;

    name = (ngx_str_t *) data;
    len = sizeof("persona_variant_") - 1;

    ctx = ngx_http_persona_variable_ctx(r);

    if (ctx == NULL || ctx->rules == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    rules = ctx->rules->rules;

    for (i = 0; i < rules->nexperiments; i++) {
        xn = &rules->experiments[i].name;

        if (!persona_var_name_equal(xn->data, xn->len,
                                    (char *) name->data + len,
                                    name->len - len))
        {
            continue;
        }

        if (ctx->variants == NULL || ctx->variants[i] == NULL) {
            ngx_http_persona_variable_set(v, NULL, 0);

        } else {
            ngx_http_persona_variable_set(v,
                                (u_char *) ctx->variants[i]->name.data,
                                ctx->variants[i]->name.len);
        }

        return NGX_OK;
    }

    v->not_found = 1;

    return NGX_OK;
}


/*
 * $persona_profile_NAME: a top-level profile field, NAME matched the way
 * $http_NAME matches headers.  Control bytes are removed, so a field is
 * safe in add_header, proxy_set_header and log lines, and the value is
 * capped at NGX_HTTP_PERSONA_PROFILE_VAR_MAX bytes, never inside a UTF-8
 * sequence, so one wide field cannot make an upstream refuse the request
 * headers or fill a log line.
 */
static ngx_int_t
ngx_http_persona_variable_profile(ngx_http_request_t *r,
    ngx_http_variable_value_t *v, uintptr_t data)
{
    u_char                  *p, *d;
    size_t                   i, n, len;
    ngx_str_t               *name;
    const persona_str_t     *value;
    ngx_http_persona_ctx_t  *ctx;

    name = (ngx_str_t *) data;
    len = sizeof("persona_profile_") - 1;

    ctx = ngx_http_persona_variable_ctx(r);

    value = ctx ? persona_profile_get_var(&ctx->profile,
                                          (char *) name->data + len,
                                          name->len - len)
                : NULL;

    if (value == NULL) {
        v->not_found = 1;
        return NGX_OK;
    }

    p = (u_char *) value->data;
    n = value->len;

    for (i = 0; i < n && i <= NGX_HTTP_PERSONA_PROFILE_VAR_MAX; i++) {
        if (p[i] < 0x20 || p[i] == 0x7f) {
            break;
        }
    }

    if (i == n || i > NGX_HTTP_PERSONA_PROFILE_VAR_MAX) {
        /* no control bytes in what is kept: the field itself */
        len = ngx_http_persona_utf8_cap(p, ngx_min(n, i),
                                        NGX_HTTP_PERSONA_PROFILE_VAR_MAX);
        ngx_http_persona_variable_set(v, p, len);
        return NGX_OK;
    }

    /* one byte more than the cap tells where the cap can cut */
    d = ngx_pnalloc(r->pool, ngx_min(n, NGX_HTTP_PERSONA_PROFILE_VAR_MAX + 1));
    if (d == NULL) {
        return NGX_ERROR;
    }

    ngx_memcpy(d, p, i);
    len = i;

    for ( /* void */ ;
         i < n && len <= NGX_HTTP_PERSONA_PROFILE_VAR_MAX;
         i++)
    {
        if (p[i] >= 0x20 && p[i] != 0x7f) {
            d[len++] = p[i];
        }
    }

    len = ngx_http_persona_utf8_cap(d, len, NGX_HTTP_PERSONA_PROFILE_VAR_MAX);

    ngx_http_persona_variable_set(v, d, len);

    return NGX_OK;
}


/*
 * The length of p[0..len) cut to at most max bytes, backing off to the
 * start of a UTF-8 sequence the cut would split (at most 3 bytes: an
 * invalid run of continuation bytes is cut where the back-off ends).
 */
static size_t
ngx_http_persona_utf8_cap(u_char *p, size_t len, size_t max)
{
    size_t  k;

    if (len <= max) {
        return len;
    }

    for (k = 0; k < 3 && max > 0 && (p[max] & 0xc0) == 0x80; k++) {
        max--;
    }

    return max;
}


static void
ngx_http_persona_variable_set(ngx_http_variable_value_t *v, u_char *data,
    size_t len)
{
    v->data = data;
    v->len = len;
    v->valid = 1;
    v->no_cacheable = 1;
    v->not_found = 0;
}
