/*
 * Preview for QA (persona_preview_token): a request with
 * ?persona_preview=SEGMENT[,EXPERIMENT=VARIANT...] and either the header
 * "X-Persona-Token: <token>" or a signed link (persona_preview_exp,
 * persona_preview_sig) gets that segment and those variants.  The
 * profile is still looked up (templates render it); the rules evaluate
 * as usual and the preview then replaces the segment, its experience and
 * the named experiments' variants (experiments not named are bucketed as
 * for any visitor of that segment).  $persona_status is "preview", the
 * response is "Cache-Control: no-store" without validators, and
 * ctx->preview tells tracking and frequency caps to leave the request
 * alone.
 *
 * Anything wrong (no token configured, wrong or missing token or
 * signature, an expired link, an unknown name) is logged at info and the
 * request is served as if it had no preview argument.  The arguments and
 * the header are passed on to an upstream as the client sent them.
 */

#include "ngx_http_persona_module.h"

#include "persona_preview.h"


static char *ngx_http_persona_preview_token_check(ngx_conf_t *cf,
    void *post, void *data);


ngx_conf_post_t  ngx_http_persona_preview_token_post = {
    ngx_http_persona_preview_token_check
};


static char *
ngx_http_persona_preview_token_check(ngx_conf_t *cf, void *post, void *data)
{
    ngx_str_t  *token = data;

    if (token->len == 0) {
        return "must not be empty";
    }

    if (token->len < 16) {
        ngx_conf_log_error(NGX_LOG_WARN, cf, 0,
                           "persona_preview_token is shorter than 16 "
                           "characters: anyone may guess it");
    }

    return NGX_CONF_OK;
}


/*
 * In the rewrite phase, before the lookup: is there a preview the
 * request may have?  Sets ctx->preview_value (URL-decoded) when so.
 * NGX_ERROR only when out of memory.
 */
ngx_int_t
ngx_http_persona_preview_check(ngx_http_request_t *r,
    ngx_http_persona_loc_conf_t *lcf, ngx_http_persona_ctx_t *ctx)
{
    u_char           *dst, *src;
    ngx_str_t         arg, value, exp, sig;
    ngx_uint_t        i;
    persona_error_t   err;
    ngx_list_part_t  *part;
    ngx_table_elt_t  *h;

    static ngx_str_t  header = ngx_string("X-Persona-Token");

    if (r->args.len == 0
        || ngx_http_arg(r, (u_char *) "persona_preview",
                        sizeof("persona_preview") - 1, &arg)
           != NGX_OK)
    {
        return NGX_OK;
    }

    if (lcf->preview_token.len == 0) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "persona: preview ignored: no persona_preview_token "
                      "here");
        return NGX_OK;
    }

    if (arg.len == 0 || arg.len > 3 * PERSONA_PREVIEW_VALUE_MAX) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "persona: preview ignored: value of %uz bytes",
                      arg.len);
        return NGX_OK;
    }

    value.data = ngx_pnalloc(r->pool, arg.len);
    if (value.data == NULL) {
        return NGX_ERROR;
    }

    dst = value.data;
    src = arg.data;
    ngx_unescape_uri(&dst, &src, arg.len, 0);
    value.len = dst - value.data;

    if (value.len == 0 || value.len > PERSONA_PREVIEW_VALUE_MAX) {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "persona: preview ignored: value of %uz bytes",
                      value.len);
        return NGX_OK;
    }

    part = NULL;
    h = ngx_http_persona_header_next(&r->headers_in.headers, &header, &part,
                                     &i);

    if (h) {
        if (!persona_preview_token_eq((char *) h->value.data, h->value.len,
                                      (char *) lcf->preview_token.data,
                                      lcf->preview_token.len))
        {
            ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                          "persona: preview ignored: wrong X-Persona-Token");
            return NGX_OK;
        }

        ctx->preview_value = value;
        return NGX_OK;
    }

    if (ngx_http_arg(r, (u_char *) "persona_preview_exp",
                     sizeof("persona_preview_exp") - 1, &exp)
        != NGX_OK
        || ngx_http_arg(r, (u_char *) "persona_preview_sig",
                        sizeof("persona_preview_sig") - 1, &sig)
           != NGX_OK)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "persona: preview ignored: no X-Persona-Token and "
                      "no signed link");
        return NGX_OK;
    }

    err.msg[0] = '\0';

    if (persona_preview_verify((char *) lcf->preview_token.data,
                               lcf->preview_token.len, (char *) value.data,
                               value.len, (char *) exp.data, exp.len,
                               (char *) sig.data, sig.len,
                               (int64_t) ngx_time(), &err)
        != PERSONA_OK)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "persona: preview ignored: %s", err.msg);
        return NGX_OK;
    }

    ctx->preview_value = value;

    return NGX_OK;
}


/*
 * After the rules evaluated: the forced segment and its experience, and
 * the forced variants kept for ngx_http_persona_preview_variants().
 */
void
ngx_http_persona_preview_apply(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx)
{
    persona_error_t             err;
    persona_rules_t            *rules;
    persona_preview_t           pv;
    const persona_variant_t   **forced;

    rules = ctx->rules->rules;

    forced = ngx_pcalloc(r->pool,
                         (rules->nexperiments + 1) * sizeof(void *));
    if (forced == NULL) {
        return;
    }

    err.msg[0] = '\0';

    if (persona_preview_parse(rules, (char *) ctx->preview_value.data,
                              ctx->preview_value.len, &pv, forced, &err)
        != PERSONA_OK)
    {
        ngx_log_error(NGX_LOG_INFO, r->connection->log, 0,
                      "persona: preview ignored: %s", err.msg);
        return;
    }

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "persona preview: segment \"%V\", %uz variants forced",
                   &ctx->preview_value, pv.nforced);

    ctx->segment.data = (u_char *) pv.segment.data;
    ctx->segment.len = pv.segment.len;
    ctx->experience = pv.experience;
    ctx->forced = forced;
    ctx->preview = 1;
    ctx->status = NGX_HTTP_PERSONA_PREVIEW;
}


/*
 * The forced variants over the bucketed ones v[]; returns how many
 * experiments the visitor is in now.
 */
size_t
ngx_http_persona_preview_variants(ngx_http_persona_ctx_t *ctx,
    const persona_variant_t **v)
{
    size_t  i, n;

    n = 0;

    for (i = 0; i < ctx->rules->rules->nexperiments; i++) {
        if (ctx->forced[i]) {
            v[i] = ctx->forced[i];
        }

        if (v[i]) {
            n++;
        }
    }

    return n;
}


/* Cache-Control: no-store, and no validators */
ngx_int_t
ngx_http_persona_preview_headers(ngx_http_request_t *r)
{
    ngx_str_t  value = ngx_string("no-store");

    if (ngx_http_persona_set_header(r, (u_char *) "Cache-Control",
                                    sizeof("Cache-Control") - 1, &value)
        != NGX_OK)
    {
        return NGX_ERROR;
    }

    ngx_http_persona_clear_header(r, (u_char *) "ETag", sizeof("ETag") - 1);
    ngx_http_persona_clear_header(r, (u_char *) "Last-Modified",
                                  sizeof("Last-Modified") - 1);

    return NGX_OK;
}
