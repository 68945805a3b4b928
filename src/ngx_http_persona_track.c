/*
 * Frequency caps, tracking and goals: what a request reads with its
 * profile (the cap counters), how it changes the variants (capped
 * visitors see the control), and what it writes after the response, in
 * the log phase, fire-and-forget (persona_track.h builds the commands).
 *
 * Nothing is written for previews, prefetch requests, anonymous visitors,
 * or with "Sec-GPC: 1" under persona_respect_gpc; tracking (profile
 * touches, exposure and conversion events) also skips bots, which are in
 * no experiment and so count no cap either.
 */

#include "ngx_http_persona_module.h"
#include "ngx_http_persona_metrics.h"
#include "persona_track.h"


#define NGX_HTTP_PERSONA_EVENTS         "persona:events"
#define NGX_HTTP_PERSONA_EVENTS_MAXLEN  1000000

/* conversions written for one request, at most */
#define NGX_HTTP_PERSONA_GOALS_MAX      32


struct ngx_http_persona_track_s {
    ngx_str_t                    key;        /* profile key; empty: none */
    ngx_uint_t                   profile_format;
    unsigned                     track:1;    /* persona_track on */
    unsigned                     respect_gpc:1;

    /* the cap counters read with the profile, for these rules */
    persona_rules_t             *cap_rules;
    ngx_uint_t                   ncaps;
    ngx_uint_t                   cap_index[PERSONA_TRACK_CAPS_MAX];
    long long                    count[PERSONA_TRACK_CAPS_MAX];
    persona_track_cmd_t         *cap_cmds;

    /* per experiment of ctx->rules: shown the control for its cap */
    u_char                      *capped;

    /* per goal of ctx->rules: 1 when the request converts */
    u_char                      *goals;
};


static ngx_int_t ngx_http_persona_track_log(ngx_http_request_t *r);
static ngx_uint_t ngx_http_persona_track_prefetch(ngx_http_request_t *r);
static ngx_int_t ngx_http_persona_track_value(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx, ngx_uint_t ns, ngx_str_t *name,
    persona_str_t *value);
static void ngx_http_persona_track_cmd(ngx_http_persona_redis_cmd_t *cmd,
    persona_track_cmd_t *tc);


/* persona_events stream-key [maxlen=N] */
char *
ngx_http_persona_events(ngx_conf_t *cf, ngx_command_t *cmd, void *conf)
{
    ngx_http_persona_main_conf_t *mcf = conf;

    ngx_int_t   n;
    ngx_str_t  *value;

    if (mcf->events.data) {
        return "is duplicate";
    }

    value = cf->args->elts;

    if (value[1].len == 0) {
        ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                           "persona_events: empty stream key");
        return NGX_CONF_ERROR;
    }

    mcf->events = value[1];
    mcf->events_maxlen = NGX_HTTP_PERSONA_EVENTS_MAXLEN;

    if (cf->args->nelts == 3) {
        if (value[2].len <= 7
            || ngx_strncmp(value[2].data, "maxlen=", 7) != 0)
        {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "persona_events: invalid parameter \"%V\", "
                               "expected \"maxlen=N\"", &value[2]);
            return NGX_CONF_ERROR;
        }

        n = ngx_atoi(value[2].data + 7, value[2].len - 7);

        if (n == NGX_ERROR || n < 1) {
            ngx_conf_log_error(NGX_LOG_EMERG, cf, 0,
                               "persona_events: invalid maxlen \"%V\", "
                               "expected a number of at least 1",
                               &value[2]);
            return NGX_CONF_ERROR;
        }

        mcf->events_maxlen = n;
    }

    return NGX_CONF_OK;
}


ngx_int_t
ngx_http_persona_init_track(ngx_conf_t *cf)
{
    ngx_http_handler_pt        *h;
    ngx_http_core_main_conf_t  *cmcf;

    cmcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_core_module);

    h = ngx_array_push(&cmcf->phases[NGX_HTTP_LOG_PHASE].handlers);
    if (h == NULL) {
        return NGX_ERROR;
    }

    *h = ngx_http_persona_track_log;

    return NGX_OK;
}


/* once per client request, before its rules are evaluated */
ngx_int_t
ngx_http_persona_track_start(ngx_http_request_t *r,
    ngx_http_persona_loc_conf_t *lcf, ngx_http_persona_ctx_t *ctx,
    ngx_str_t *key)
{
    ngx_http_persona_track_t  *t;

    if (ctx->track) {
        return NGX_OK;
    }

    t = ngx_pcalloc(r->pool, sizeof(ngx_http_persona_track_t));
    if (t == NULL) {
        return NGX_ERROR;
    }

    t->profile_format = lcf->profile_format;
    t->track = lcf->track ? 1 : 0;
    t->respect_gpc = lcf->respect_gpc ? 1 : 0;

    if (key) {
        t->key = *key;

    } else if (ctx->id.len) {
        /* an id issued now, or Redis skipped: the key for the writes */
        if (ngx_http_complex_value(r, lcf->profile_key, &t->key) != NGX_OK) {
            return NGX_ERROR;
        }
    }

    ctx->track = t;

    return NGX_OK;
}


/*
 * GET <profile key>:cap:<experiment> for every capped experiment of the
 * current rules (the visitor's segment, and so the experiments that
 * apply, are known only once the profile is here), at most max.
 * A profile served from persona_profile_cache is not looked up: the
 * handler then sends these commands alone.
 */
ngx_uint_t
ngx_http_persona_track_cap_reads(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx, ngx_http_persona_redis_cmd_t *cmds,
    ngx_uint_t max)
{
    u_char                    *p;
    size_t                     i, n;
    persona_str_t              key, name;
    persona_rules_t           *rules;
    ngx_http_persona_track_t  *t;

    t = ctx->track;

    if (t == NULL || t->key.len == 0 || ctx->ruleset == NULL) {
        return 0;
    }

    rules = ctx->ruleset->current->rules;

    n = 0;

    for (i = 0; i < rules->nexperiments; i++) {
        if (rules->experiments[i].cap_max) {
            n++;
        }
    }

    if (n == 0) {
        return 0;
    }

    n = ngx_min(n, ngx_min(max, PERSONA_TRACK_CAPS_MAX));

    t->cap_cmds = ngx_palloc(r->pool, n * sizeof(persona_track_cmd_t));
    if (t->cap_cmds == NULL) {
        return 0;
    }

    key.data = (const char *) t->key.data;
    key.len = t->key.len;

    for (i = 0; i < rules->nexperiments && t->ncaps < n; i++) {
        if (rules->experiments[i].cap_max == 0) {
            continue;
        }

        p = ngx_pnalloc(r->pool, key.len + 5
                                 + rules->experiments[i].name.len);
        if (p == NULL) {
            break;
        }

        name.data = (const char *) p;
        name.len = persona_track_cap_key((char *) p, key,
                                         rules->experiments[i].name);

        persona_track_cap_get(&t->cap_cmds[t->ncaps], name);
        ngx_http_persona_track_cmd(&cmds[t->ncaps], &t->cap_cmds[t->ncaps]);

        t->cap_index[t->ncaps] = i;
        t->count[t->ncaps] = -1;
        t->ncaps++;
    }

    t->cap_rules = rules;

    return t->ncaps;
}


void
ngx_http_persona_track_cap_replies(ngx_http_persona_ctx_t *ctx,
    redisReply **replies, ngx_uint_t n)
{
    ngx_uint_t                 i;
    ngx_http_persona_track_t  *t;

    t = ctx->track;

    if (t == NULL) {
        return;
    }

    for (i = 0; i < n && i < t->ncaps; i++) {
        t->count[i] = persona_track_cap_count(replies[i]);
    }
}


ngx_uint_t
ngx_http_persona_track_bot(ngx_http_persona_ctx_t *ctx)
{
    persona_str_t   v;
    persona_attr_t  attr;

    ngx_memzero(&attr, sizeof(persona_attr_t));
    attr.ns = PERSONA_ATTR_DEVICE;

    if (ngx_http_persona_attr_lookup(ctx, &attr, &v) != PERSONA_ATTR_FOUND) {
        return 0;
    }

    return v.len == 3 && ngx_strncmp(v.data, "bot", 3) == 0;
}


void
ngx_http_persona_track_caps(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx, const persona_variant_t **variants)
{
    u_char                     *p;
    ngx_uint_t                  i, k;
    persona_rules_t            *rules;
    persona_variant_t          *cv;
    persona_experiment_t       *x;
    ngx_http_persona_track_t   *t;

    t = ctx->track;
    rules = ctx->rules->rules;

    if (t == NULL || t->ncaps == 0 || t->cap_rules != rules) {
        /* no counters read (or for other rules): no cap applies */
        return;
    }

    for (k = 0; k < t->ncaps; k++) {
        i = t->cap_index[k];
        x = &rules->experiments[i];

        if (ctx->forced && ctx->forced[i]) {
            /* a variant a preview forces is shown as it is */
            continue;
        }

        if (!persona_track_capped(x, variants[i], t->count[k])) {
            continue;
        }

        if (t->capped == NULL) {
            t->capped = ngx_pcalloc(r->pool, rules->nexperiments);
            if (t->capped == NULL) {
                return;
            }
        }

        cv = ngx_palloc(r->pool, sizeof(persona_variant_t));
        p = ngx_pnalloc(r->pool, variants[i]->name.len
                                 + sizeof("-capped") - 1);
        if (cv == NULL || p == NULL) {
            return;
        }

        /* the bucketed name, marked; the control's experience */
        *cv = *variants[i];
        cv->name.data = (const char *) p;
        p = ngx_cpymem(p, variants[i]->name.data, variants[i]->name.len);
        p = ngx_cpymem(p, "-capped", sizeof("-capped") - 1);
        cv->name.len = p - (u_char *) cv->name.data;
        cv->overrides = x->variants[0].overrides;

        ngx_log_debug4(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "persona: experiment \"%s\" capped after %L "
                       "exposures: %*s", x->name.data, t->count[k],
                       cv->name.len, cv->name.data);

        variants[i] = cv;
        t->capped[i] = 1;
    }
}


void
ngx_http_persona_track_goals(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx)
{
    persona_rules_t           *rules;
    ngx_http_persona_track_t  *t;

    t = ctx->track;
    rules = ctx->rules->rules;

    if (t == NULL || !t->track || rules->ngoals == 0 || ctx->id.len == 0) {
        return;
    }

    t->goals = ngx_palloc(r->pool, rules->ngoals);
    if (t->goals == NULL) {
        return;
    }

    if (persona_rules_goals(rules, ngx_http_persona_attr_lookup, ctx,
                            t->goals)
        == 0)
    {
        t->goals = NULL;
    }
}


/* the log phase: cap counters, profile touches and events */
static ngx_int_t
ngx_http_persona_track_log(ngx_http_request_t *r)
{
    u_char                        *p;
    size_t                         len;
    ngx_int_t                      rc;
    ngx_str_t                      name;
    ngx_uint_t                     i, k, n, ncmds, bot, track;
    ngx_time_t                    *tp;
    persona_str_t                  key, v[PERSONA_TRACK_UTM];
    persona_rules_t               *rules;
    persona_experiment_t          *x;
    persona_track_cmd_t           *tc;
    persona_track_event_t          ev;
    ngx_http_variable_value_t     *vv;
    ngx_http_persona_ctx_t        *ctx;
    ngx_http_persona_track_t      *t;
    ngx_http_persona_redis_cmd_t  *cmds;
    ngx_http_persona_main_conf_t  *mcf;

    static ngx_str_t  status = ngx_string("persona_status");

    if (r != r->main) {
        return NGX_OK;
    }

    ctx = ngx_http_persona_get_ctx(r);

    if (ctx == NULL || !ctx->done || ctx->track == NULL
        || ctx->rules == NULL)
    {
        return NGX_OK;
    }

    t = ctx->track;

    if (ctx->id.len == 0 || t->key.len == 0
        || ctx->status == NGX_HTTP_PERSONA_PREVIEW)
    {
        return NGX_OK;
    }

    if (ngx_http_persona_track_prefetch(r)) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "persona: prefetch, nothing tracked");
        return NGX_OK;
    }

    if (t->respect_gpc && ngx_http_persona_gpc(r)) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "persona: Sec-GPC: 1, nothing tracked");
        return NGX_OK;
    }

    rules = ctx->rules->rules;
    bot = ngx_http_persona_track_bot(ctx);
    track = t->track && !bot;

    /* how many commands */

    ncmds = 0;

    if (ctx->variants) {
        for (i = 0; i < rules->nexperiments; i++) {
            x = &rules->experiments[i];

            if (x->cap_max && ctx->variants[i]
                && ctx->variants[i] != &x->variants[0]
                && !(t->capped && t->capped[i]))
            {
                ncmds += 2;
            }
        }
    }

    n = 0;

    if (track) {
        ncmds += 6 + 1;

        if (t->goals) {
            for (i = 0; i < rules->ngoals; i++) {
                if (t->goals[i] && n < NGX_HTTP_PERSONA_GOALS_MAX) {
                    n++;
                }
            }

            ncmds += n;
        }
    }

    if (ncmds == 0) {
        return NGX_OK;
    }

    tc = ngx_palloc(r->pool, ncmds * sizeof(persona_track_cmd_t));
    if (tc == NULL) {
        return NGX_OK;
    }

    key.data = (const char *) t->key.data;
    key.len = t->key.len;

    n = 0;

    /* a non-control variant shown: its cap counter */

    if (ctx->variants) {
        for (i = 0; i < rules->nexperiments; i++) {
            x = &rules->experiments[i];

            if (!x->cap_max || ctx->variants[i] == NULL
                || ctx->variants[i] == &x->variants[0]
                || (t->capped && t->capped[i]))
            {
                continue;
            }

            p = ngx_pnalloc(r->pool, key.len + 5 + x->name.len);
            if (p == NULL) {
                return NGX_OK;
            }

            name.data = p;
            name.len = persona_track_cap_key((char *) p, key, x->name);

            n += persona_track_cap_incr(&tc[n],
                                        (persona_str_t) {
                                            (const char *) name.data,
                                            name.len },
                                        x->cap_per);
        }
    }

    if (track) {
        ngx_memzero(&ev, sizeof(persona_track_event_t));

        for (i = 0; i < PERSONA_TRACK_UTM; i++) {
            name.data = (u_char *) persona_track_utm_names[i].data;
            name.len = persona_track_utm_names[i].len;

            if (ngx_http_persona_track_value(r, ctx, PERSONA_ATTR_ARG, &name,
                                             &v[i])
                != NGX_OK)
            {
                return NGX_OK;
            }

            ev.utm[i] = v[i];
        }

        if (t->profile_format == PERSONA_FORMAT_HASH) {
            n += persona_track_profile(&tc[n], key, (uint64_t) ngx_time(),
                                       v[0], v[1], v[2]);

            /* the profile changes: persona_profile_cache reads it anew */
            (void) ngx_http_persona_profile_cache_drop(r, &t->key);
        }

        mcf = ngx_http_get_module_main_conf(r, ngx_http_persona_module);

        if (mcf->events.len) {
            ev.stream.data = (const char *) mcf->events.data;
            ev.stream.len = mcf->events.len;
            ev.maxlen = mcf->events_maxlen;

        } else {
            ev.stream.data = NGX_HTTP_PERSONA_EVENTS;
            ev.stream.len = sizeof(NGX_HTTP_PERSONA_EVENTS) - 1;
            ev.maxlen = NGX_HTTP_PERSONA_EVENTS_MAXLEN;
        }

        if (ngx_http_persona_track_value(r, ctx, PERSONA_ATTR_REFERER_HOST,
                                         NULL, &ev.referer_host)
            != NGX_OK)
        {
            return NGX_OK;
        }

        ev.id.data = (const char *) ctx->id.data;
        ev.id.len = ctx->id.len;
        ev.segment.data = (const char *) ctx->segment.data;
        ev.segment.len = ctx->segment.len;
        ev.segments.data = (const char *) ctx->segments.data;
        ev.segments.len = ctx->segments.len;
        ev.variants.data = (const char *) ctx->variants_text.data;
        ev.variants.len = ctx->variants_text.len;

        /* $request_uri as requested, before any rewrite or landing */
        len = persona_track_path_len((const char *) r->unparsed_uri.data,
                                     r->unparsed_uri.len);
        p = ngx_pnalloc(r->pool, len + 1);
        if (p == NULL) {
            return NGX_OK;
        }

        ev.path.data = (const char *) p;
        ev.path.len = persona_track_clean((char *) p,
                                          (const char *) r->unparsed_uri.data,
                                          len);

        vv = ngx_http_get_variable(r, &status,
                                   ngx_hash_key(status.data, status.len));
        if (vv && !vv->not_found) {
            ev.status.data = (const char *) vv->data;
            ev.status.len = vv->len;
        }

        tp = ngx_timeofday();
        ev.ts = (uint64_t) tp->sec * 1000 + tp->msec;

        ngx_str_set(&name, "exposure");
        ev.type.data = (const char *) name.data;
        ev.type.len = name.len;

        persona_track_xadd(&tc[n++], &ev);

        if (t->goals) {
            ngx_str_set(&name, "conversion");
            ev.type.data = (const char *) name.data;
            ev.type.len = name.len;

            k = 0;

            for (i = 0; i < rules->ngoals && n < ncmds; i++) {
                if (!t->goals[i] || k == NGX_HTTP_PERSONA_GOALS_MAX) {
                    continue;
                }

                k++;

                ev.goal = rules->goals[i].name;
                persona_track_xadd(&tc[n++], &ev);

                name.data = (u_char *) rules->goals[i].name.data;
                name.len = rules->goals[i].name.len;
                ngx_http_persona_metrics_goal(&name);
            }
        }
    }

    if (n == 0) {
        return NGX_OK;
    }

    cmds = ngx_palloc(r->pool, n * sizeof(ngx_http_persona_redis_cmd_t));
    if (cmds == NULL) {
        return NGX_OK;
    }

    for (i = 0; i < n; i++) {
        ngx_http_persona_track_cmd(&cmds[i], &tc[i]);
    }

    mcf = ngx_http_get_module_main_conf(r, ngx_http_persona_module);

    rc = ngx_http_persona_redis_write(mcf->redis, cmds, n,
                                      r->connection->log);

    if (rc != NGX_OK) {
        ngx_log_debug0(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                       "persona: tracking writes dropped");
        ngx_http_persona_metrics_track_dropped();
    }

    return NGX_OK;
}


/* "Sec-Purpose: prefetch" or "Purpose: prefetch" */
static ngx_uint_t
ngx_http_persona_track_prefetch(ngx_http_request_t *r)
{
    ngx_uint_t        i, k;
    ngx_table_elt_t  *h;
    ngx_list_part_t  *part;

    static ngx_str_t  names[] = {
        ngx_string("Sec-Purpose"),
        ngx_string("Purpose")
    };

    for (k = 0; k < 2; k++) {
        part = NULL;

        for ( ;; ) {
            h = ngx_http_persona_header_next(&r->headers_in.headers,
                                             &names[k], &part, &i);
            if (h == NULL) {
                break;
            }

            if (persona_track_prefetch((const char *) h->value.data,
                                       h->value.len))
            {
                return 1;
            }
        }
    }

    return 0;
}


/* an argument or the referer host, without control bytes; empty: absent */
static ngx_int_t
ngx_http_persona_track_value(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx, ngx_uint_t ns, ngx_str_t *name,
    persona_str_t *value)
{
    u_char          *p;
    persona_str_t    raw;
    persona_attr_t   attr;

    value->data = NULL;
    value->len = 0;

    ngx_memzero(&attr, sizeof(persona_attr_t));
    attr.ns = ns;

    if (name) {
        attr.name.data = (const char *) name->data;
        attr.name.len = name->len;
    }

    if (ngx_http_persona_attr_lookup(ctx, &attr, &raw) != PERSONA_ATTR_FOUND
        || raw.len == 0)
    {
        return NGX_OK;
    }

    p = ngx_pnalloc(r->pool, raw.len);
    if (p == NULL) {
        return NGX_ERROR;
    }

    value->data = (const char *) p;
    value->len = persona_track_clean((char *) p, raw.data, raw.len);

    return NGX_OK;
}


static void
ngx_http_persona_track_cmd(ngx_http_persona_redis_cmd_t *cmd,
    persona_track_cmd_t *tc)
{
    cmd->argc = tc->argc;
    cmd->argv = tc->argv;
    cmd->argvlen = tc->argvlen;
}
