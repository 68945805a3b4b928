/*
 * The body filter: fills the page's slots with the experience's blocks
 * and inserts the data layer, streaming.  The header filter
 * (ngx_http_persona_filter.c) decides to inject and calls
 * ngx_http_persona_filter_start().
 *
 * It acts on the main request of a request persona ran for (its context
 * exists), in whatever location answers it: landing targets need no
 * "persona on".  Subrequests pass untouched.
 *
 * persona_inject (src/persona_inject.h) scans each input
 * buffer and reports what to output.  Ordinary text goes out as buffers
 * pointing into the input buffer (no copy); after each input buffer a
 * sync buffer carries its flags and "shadow", so the input buffer is
 * given back to its owner (upstream, copy filter) when everything before
 * it has been sent, and its "recycled" flag makes the write filter send
 * at once (as sub_filter does; without it "output_buffers 1 5" hangs).
 *
 * Text that may be a region's default is held until the region closes
 * (dropped) or something else ends the hold (output).  Held text is
 * copied into chunks of our own memory, so that input buffers are
 * released at once and the upstream keeps reading; the injector bounds a
 * hold to NGX_HTTP_PERSONA_HOLD_MAX bytes.  Chunks, data buffers and
 * their links are reused once sent: memory per request does not grow
 * with the page, only with what is in flight.  Only buffers with data of
 * ours go back to the free list (as sub_filter does): a sync buffer is
 * empty from the start, so "nothing left to send" says nothing about
 * whether a filter after us (gzip) still links it; each is new.
 *
 * The busy list keeps a pointer to its tail and is freed from the head
 * up to the first buffer not yet sent, so each call costs what it sends
 * and frees, not the length of what a slow client has not read yet.
 *
 * r->buffered is left alone: its four bits belong to nginx's filters
 * (the bit sub_filter owns would be set and cleared under its feet), and
 * the filter never needs it: a hold ends at the last buffer at the
 * latest, so nothing of ours is pending when the request finalizes.
 *
 * Anything after the last buffer (the addition filter's own last buffer
 * after add_after_body, sent through the whole chain again) passes
 * through untouched.
 */

#include "ngx_http_persona_module.h"

#include "persona_inject.h"
#include "persona_output.h"


/* the longest region default that is dropped when a block replaces it */
#define NGX_HTTP_PERSONA_HOLD_MAX   16384

/* held text and partial markers are copied into chunks of this size */
#define NGX_HTTP_PERSONA_CHUNK      4096


typedef struct ngx_http_persona_chunk_s  ngx_http_persona_chunk_t;

struct ngx_http_persona_chunk_s {
    u_char                      *start;
    u_char                      *end;
    u_char                      *pos;     /* bytes not yet in a buffer */
    u_char                      *last;    /* end of the bytes written */
    ngx_uint_t                   refs;    /* buffers of it not yet sent */
    ngx_http_persona_chunk_t    *next;
};


struct ngx_http_persona_filter_s {
    persona_inject_t             inject;

    ngx_http_request_t          *request;
    ngx_http_persona_ctx_t      *ctx;
    const persona_experience_t  *xp;
    persona_str_t               *blocks;      /* rendered, data NULL: not
                                                 yet */
    ngx_str_t                    data_layer;

    ngx_chain_t                 *out;
    ngx_chain_t                **last_out;
    ngx_chain_t                 *held;        /* the hold, not yet output */
    ngx_chain_t                **last_held;
    ngx_chain_t                 *busy;
    ngx_chain_t                **last_busy;
    ngx_chain_t                 *free;

    ngx_http_persona_chunk_t    *chunks;      /* all */
    ngx_http_persona_chunk_t    *chunk;       /* being written */

    unsigned                     holding:1;
    unsigned                     data_layer_done:1;
    unsigned                     last:1;      /* last_buf seen */
    unsigned                     failed:1;
};


static ngx_int_t ngx_http_persona_body_filter(ngx_http_request_t *r,
    ngx_chain_t *in);
static ngx_int_t ngx_http_persona_feed(ngx_http_persona_filter_t *f,
    ngx_buf_t *in);
static ngx_int_t ngx_http_persona_output(ngx_http_request_t *r,
    ngx_http_persona_filter_t *f);
static void ngx_http_persona_update(ngx_http_persona_filter_t *f);
static int ngx_http_persona_has_block(void *data, const char *name,
    size_t len);
static int ngx_http_persona_event(void *data,
    const persona_inject_event_t *ev);
static persona_str_t *ngx_http_persona_block(ngx_http_persona_filter_t *f,
    const char *name, size_t len);
static ngx_int_t ngx_http_persona_data_layer(ngx_http_persona_filter_t *f);
static ngx_chain_t *ngx_http_persona_link(ngx_http_persona_filter_t *f);
static ngx_int_t ngx_http_persona_store(ngx_http_persona_filter_t *f,
    const char *data, size_t len);
static ngx_int_t ngx_http_persona_seal(ngx_http_persona_filter_t *f);
static void ngx_http_persona_drop(ngx_http_persona_filter_t *f);
static void ngx_http_persona_release(ngx_http_persona_filter_t *f,
    ngx_buf_t *b);


static ngx_http_output_body_filter_pt    ngx_http_next_body_filter;


ngx_int_t
ngx_http_persona_init_body_filter(ngx_conf_t *cf)
{
    ngx_str_t                      name = ngx_string("persona_variants");
    ngx_http_persona_main_conf_t  *mcf;

    mcf = ngx_http_conf_get_module_main_conf(cf, ngx_http_persona_module);

    /*
     * The data layer reads $persona_variants, whoever computes it.  The
     * index belongs to this configuration: a static would outlive a
     * reload that fails after setting it.
     */
    mcf->variants_index = ngx_http_get_variable_index(cf, &name);
    if (mcf->variants_index == NGX_ERROR) {
        return NGX_ERROR;
    }

    ngx_http_next_body_filter = ngx_http_top_body_filter;
    ngx_http_top_body_filter = ngx_http_persona_body_filter;

    return NGX_OK;
}


ngx_int_t
ngx_http_persona_filter_start(ngx_http_request_t *r,
    ngx_http_persona_ctx_t *ctx, ngx_http_persona_loc_conf_t *lcf)
{
    persona_inject_conf_t       conf;
    ngx_http_persona_filter_t  *f;

    f = ngx_pcalloc(r->pool, sizeof(ngx_http_persona_filter_t));
    if (f == NULL) {
        return NGX_ERROR;
    }

    f->request = r;
    f->ctx = ctx;
    f->xp = ctx->experience;
    f->last_out = &f->out;
    f->last_held = &f->held;
    f->last_busy = &f->busy;

    if (f->xp && f->xp->nblocks) {
        f->blocks = ngx_pcalloc(r->pool,
                                f->xp->nblocks * sizeof(persona_str_t));
        if (f->blocks == NULL) {
            return NGX_ERROR;
        }
    }

    ngx_memzero(&conf, sizeof(persona_inject_conf_t));

    conf.has_block = ngx_http_persona_has_block;
    conf.handler = ngx_http_persona_event;
    conf.data = f;
    conf.hold_max = NGX_HTTP_PERSONA_HOLD_MAX;
    conf.data_layer = lcf->data_layer ? 1 : 0;

    persona_inject_init(&f->inject, &conf);

    ctx->filter = f;

    /* file buffers are read for us (sendfile cannot skip the filter) */
    r->filter_need_in_memory = 1;

    ngx_log_debug2(NGX_LOG_DEBUG_HTTP, r->connection->log, 0,
                   "persona inject: %uz blocks, data layer %ui",
                   f->xp ? f->xp->nblocks : 0, (ngx_uint_t) conf.data_layer);

    return NGX_OK;
}


static ngx_int_t
ngx_http_persona_body_filter(ngx_http_request_t *r, ngx_chain_t *in)
{
    ngx_int_t                   rc;
    ngx_chain_t                *cl;
    ngx_http_persona_ctx_t     *ctx;
    ngx_http_persona_filter_t  *f;

    if (r != r->main) {
        return ngx_http_next_body_filter(r, in);
    }

    /* set by the header filter; r->ctx is not reset once headers are out */
    ctx = ngx_http_get_module_ctx(r, ngx_http_persona_module);

    if (ctx == NULL || ctx->filter == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    f = ctx->filter;

    if (f->failed) {
        return NGX_ERROR;
    }

    if (f->last) {
        /*
         * After the last buffer: the addition filter's own last buffer
         * (ngx_http_send_special(), possibly while our output is still
         * being passed on), or what an upstream sent past the body.
         */
        rc = ngx_http_next_body_filter(r, in);
        ngx_http_persona_update(f);
        return rc;
    }

    if (in == NULL && f->out == NULL && f->busy == NULL) {
        return ngx_http_next_body_filter(r, in);
    }

    for (cl = in; cl; cl = cl->next) {
        if (f->last) {
            /* the rest of the chain, after the last buffer */
            break;
        }

        if (ngx_http_persona_feed(f, cl->buf) != NGX_OK) {
            f->failed = 1;
            return NGX_ERROR;
        }
    }

    if (f->out == NULL && f->busy == NULL) {
        /* all of it is held: it goes out with what comes next */
        return NGX_OK;
    }

    rc = ngx_http_persona_output(r, f);

    if (cl == NULL || rc == NGX_ERROR) {
        return rc;
    }

    return ngx_http_next_body_filter(r, cl);
}


/* one input buffer through the injector */
static ngx_int_t
ngx_http_persona_feed(ngx_http_persona_filter_t *f, ngx_buf_t *in)
{
    int                  rc;
    size_t               size;
    ngx_buf_t           *b;
    ngx_chain_t         *cl;
    ngx_http_request_t  *r;

    r = f->request;

    if (ngx_buf_in_memory(in)) {
        size = in->last - in->pos;

    } else if (ngx_buf_size(in) == 0) {
        size = 0;

    } else {
        ngx_log_error(NGX_LOG_ALERT, r->connection->log, 0,
                      "persona: file buffer not read into memory");
        return NGX_ERROR;
    }

    if (size || in->last_buf) {
        rc = persona_inject_feed(&f->inject, (const char *) in->pos, size,
                                 in->last_buf);

        if (rc != PERSONA_OK) {
            ngx_log_error(NGX_LOG_ERR, r->connection->log, 0,
                          "persona: filling the page's slots failed%s",
                          rc == PERSONA_NOMEM ? " (out of memory)" : "");
            return NGX_ERROR;
        }
    }

    if (size == 0 && !in->flush && !in->last_buf) {
        return NGX_OK;
    }

    /*
     * After what came from this buffer: a sync buffer that gives it back
     * once sent, with its flags.
     */

    cl = ngx_http_persona_link(f);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    b = cl->buf;

    b->sync = 1;
    b->flush = in->flush;
    b->last_buf = in->last_buf;
    b->recycled = in->recycled;
    b->shadow = size ? in : NULL;

    *f->last_out = cl;
    f->last_out = &cl->next;

    if (in->last_buf) {
        f->last = 1;
    }

    return NGX_OK;
}


static ngx_int_t
ngx_http_persona_output(ngx_http_request_t *r, ngx_http_persona_filter_t *f)
{
    ngx_int_t     rc;
    ngx_chain_t  *out, **last_out;

    out = f->out;
    last_out = f->last_out;

    /*
     * The busy list grows at its tail (no walk over what is in flight),
     * before the call: a filter after us may call the chain again.
     */

    if (out) {
        *f->last_busy = out;
        f->last_busy = last_out;

        f->out = NULL;
        f->last_out = &f->out;
    }

    rc = ngx_http_next_body_filter(r, out);

    ngx_http_persona_update(f);

    return rc;
}


/*
 * What was sent, from the head of the busy list: data buffers go back to
 * the free list, input buffers to their owners; a sync buffer is
 * dropped (a filter after us may still link it).
 */
static void
ngx_http_persona_update(ngx_http_persona_filter_t *f)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    while (f->busy) {
        cl = f->busy;
        b = cl->buf;

        if (ngx_buf_size(b) != 0) {
            break;
        }

#if (NGX_HAVE_WRITE_ZEROCOPY)
        if (b->zerocopy_busy) {
            break;
        }
#endif

        f->busy = cl->next;

        if (f->busy == NULL) {
            f->last_busy = &f->busy;
        }

        ngx_http_persona_release(f, b);

        if (ngx_buf_in_memory(b)) {
            cl->next = f->free;
            f->free = cl;
        }
    }
}


static int
ngx_http_persona_has_block(void *data, const char *name, size_t len)
{
    ngx_http_persona_filter_t *f = data;

    size_t  i;

    if (f->xp == NULL) {
        return 0;
    }

    for (i = 0; i < f->xp->nblocks; i++) {
        if (f->xp->blocks[i].name.len == len
            && ngx_memcmp(f->xp->blocks[i].name.data, name, len) == 0)
        {
            return 1;
        }
    }

    return 0;
}


static int
ngx_http_persona_event(void *data, const persona_inject_event_t *ev)
{
    ngx_http_persona_filter_t *f = data;

    ngx_buf_t      *b;
    ngx_chain_t    *cl;
    persona_str_t  *s;

    switch (ev->type) {

    case PERSONA_INJECT_COPY:
        if (f->holding) {
            return ngx_http_persona_store(f, ev->data, ev->len) == NGX_OK
                   ? PERSONA_OK : PERSONA_NOMEM;
        }

        cl = ngx_http_persona_link(f);
        if (cl == NULL) {
            return PERSONA_NOMEM;
        }

        b = cl->buf;

        b->memory = 1;
        b->pos = (u_char *) ev->data;
        b->last = b->pos + ev->len;

        *f->last_out = cl;
        f->last_out = &cl->next;

        return PERSONA_OK;

    case PERSONA_INJECT_CARRY:
        if (ngx_http_persona_store(f, ev->data, ev->len) != NGX_OK) {
            return PERSONA_NOMEM;
        }

        if (!f->holding && ngx_http_persona_seal(f) != NGX_OK) {
            return PERSONA_NOMEM;
        }

        return PERSONA_OK;

    case PERSONA_INJECT_BLOCK:
        s = ngx_http_persona_block(f, ev->data, ev->len);
        if (s == NULL) {
            return PERSONA_NOMEM;
        }

        if (s->len == 0) {
            return PERSONA_OK;
        }

        cl = ngx_http_persona_link(f);
        if (cl == NULL) {
            return PERSONA_NOMEM;
        }

        b = cl->buf;

        b->memory = 1;
        b->pos = (u_char *) s->data;
        b->last = b->pos + s->len;

        *f->last_out = cl;
        f->last_out = &cl->next;

        return PERSONA_OK;

    case PERSONA_INJECT_HOLD:
        f->holding = 1;
        return PERSONA_OK;

    case PERSONA_INJECT_COMMIT:
        if (ngx_http_persona_seal(f) != NGX_OK) {
            return PERSONA_NOMEM;
        }

        f->holding = 0;

        if (f->held) {
            *f->last_out = f->held;
            f->last_out = f->last_held;
            f->held = NULL;
            f->last_held = &f->held;
        }

        return PERSONA_OK;

    case PERSONA_INJECT_DROP:
        ngx_http_persona_drop(f);
        f->holding = 0;
        return PERSONA_OK;

    case PERSONA_INJECT_HEAD_END:
        if (ngx_http_persona_data_layer(f) != NGX_OK) {
            return PERSONA_NOMEM;
        }

        if (f->data_layer.len == 0) {
            return PERSONA_OK;
        }

        cl = ngx_http_persona_link(f);
        if (cl == NULL) {
            return PERSONA_NOMEM;
        }

        b = cl->buf;

        b->memory = 1;
        b->pos = f->data_layer.data;
        b->last = b->pos + f->data_layer.len;

        *f->last_out = cl;
        f->last_out = &cl->next;

        return PERSONA_OK;
    }

    return PERSONA_ERROR;
}


/* the block of a slot, rendered on first use (in r->pool), or NULL */
static persona_str_t *
ngx_http_persona_block(ngx_http_persona_filter_t *f, const char *name,
    size_t len)
{
    size_t                  i;
    persona_alloc_t         alloc;
    const persona_block_t  *blk;

    for (i = 0; i < f->xp->nblocks; i++) {
        blk = &f->xp->blocks[i];

        if (blk->name.len == len && ngx_memcmp(blk->name.data, name, len) == 0)
        {
            break;
        }
    }

    if (i == f->xp->nblocks) {
        /* the injector asked has_block first: cannot happen */
        return NULL;
    }

    if (f->blocks[i].data) {
        return &f->blocks[i];
    }

    alloc.alloc = ngx_http_persona_palloc;
    alloc.data = f->request->pool;

    if (persona_template_render_alloc(blk->tpl, PERSONA_ESCAPE_HTML,
                                      ngx_http_persona_attr_lookup, f->ctx,
                                      &alloc, &f->blocks[i])
        != PERSONA_OK)
    {
        return NULL;
    }

    ngx_log_debug3(NGX_LOG_DEBUG_HTTP, f->request->connection->log, 0,
                   "persona block \"%*s\": %uz bytes", len, name,
                   f->blocks[i].len);

    return &f->blocks[i];
}


/* <script>window.persona={...};</script>, built once */
static ngx_int_t
ngx_http_persona_data_layer(ngx_http_persona_filter_t *f)
{
    persona_str_t                  segment, segments, variants, out;
    persona_alloc_t                alloc;
    ngx_http_request_t            *r;
    ngx_http_variable_value_t     *vv;
    ngx_http_persona_main_conf_t  *mcf;

    if (f->data_layer_done) {
        return NGX_OK;
    }

    r = f->request;
    mcf = ngx_http_get_module_main_conf(r, ngx_http_persona_module);

    segment.data = (const char *) f->ctx->segment.data;
    segment.len = f->ctx->segment.len;
    segments.data = (const char *) f->ctx->segments.data;
    segments.len = f->ctx->segments.len;
    variants.data = NULL;
    variants.len = 0;

    vv = ngx_http_get_indexed_variable(r, mcf->variants_index);

    if (vv && !vv->not_found) {
        variants.data = (const char *) vv->data;
        variants.len = vv->len;
    }

    alloc.alloc = ngx_http_persona_palloc;
    alloc.data = r->pool;

    if (persona_data_layer(&segment, &segments, &variants, &alloc, &out)
        != PERSONA_OK)
    {
        return NGX_ERROR;
    }

    f->data_layer.data = (u_char *) out.data;
    f->data_layer.len = out.len;
    f->data_layer_done = 1;

    return NGX_OK;
}


/* a link with a cleared, tagged buffer: from the free list, or new */
static ngx_chain_t *
ngx_http_persona_link(ngx_http_persona_filter_t *f)
{
    ngx_buf_t    *b;
    ngx_chain_t  *cl;

    if (f->free) {
        cl = f->free;
        f->free = cl->next;
        b = cl->buf;
        ngx_memzero(b, sizeof(ngx_buf_t));

    } else {
        b = ngx_calloc_buf(f->request->pool);
        if (b == NULL) {
            return NULL;
        }

        cl = ngx_alloc_chain_link(f->request->pool);
        if (cl == NULL) {
            return NULL;
        }

        cl->buf = b;
    }

    cl->next = NULL;
    b->tag = (ngx_buf_tag_t) &ngx_http_persona_module;

    return cl;
}


/*
 * Copies text into the chunks: held text (sealed into buffers of the
 * hold when a chunk fills, and at COMMIT), or a CARRY outside a hold
 * (sealed into an output buffer at once by the caller).
 */
static ngx_int_t
ngx_http_persona_store(ngx_http_persona_filter_t *f, const char *data,
    size_t len)
{
    size_t                     n;
    ngx_http_persona_chunk_t  *c;

    while (len) {
        c = f->chunk;

        if (c && c->refs == 0 && c->pos == c->last) {
            /* all of it was sent: start over */
            c->pos = c->start;
            c->last = c->start;
        }

        if (c == NULL || c->last == c->end) {

            if (c && ngx_http_persona_seal(f) != NGX_OK) {
                return NGX_ERROR;
            }

            /* a chunk whose buffers were all sent, or a new one */

            for (c = f->chunks; c; c = c->next) {
                if (c->refs == 0 && c != f->chunk) {
                    break;
                }
            }

            if (c == NULL) {
                c = ngx_palloc(f->request->pool,
                               sizeof(ngx_http_persona_chunk_t));
                if (c == NULL) {
                    return NGX_ERROR;
                }

                c->start = ngx_palloc(f->request->pool,
                                      NGX_HTTP_PERSONA_CHUNK);
                if (c->start == NULL) {
                    return NGX_ERROR;
                }

                c->end = c->start + NGX_HTTP_PERSONA_CHUNK;
                c->refs = 0;
                c->next = f->chunks;
                f->chunks = c;

                ngx_log_debug1(NGX_LOG_DEBUG_HTTP,
                               f->request->connection->log, 0,
                               "persona new chunk %p", c);
            }

            c->pos = c->start;
            c->last = c->start;
            f->chunk = c;
        }

        n = ngx_min(len, (size_t) (c->end - c->last));

        c->last = ngx_cpymem(c->last, data, n);
        data += n;
        len -= n;
    }

    return NGX_OK;
}


/* the bytes of the chunk not yet in a buffer become one: held or out */
static ngx_int_t
ngx_http_persona_seal(ngx_http_persona_filter_t *f)
{
    ngx_buf_t                 *b;
    ngx_chain_t               *cl;
    ngx_http_persona_chunk_t  *c;

    c = f->chunk;

    if (c == NULL || c->pos == c->last) {
        return NGX_OK;
    }

    cl = ngx_http_persona_link(f);
    if (cl == NULL) {
        return NGX_ERROR;
    }

    b = cl->buf;

    b->memory = 1;
    b->pos = c->pos;
    b->last = c->last;

    /* marks a buffer of a chunk: ngx_http_persona_release() */
    b->start = c->start;
    b->end = c->end;

    c->refs++;
    c->pos = c->last;

    if (f->holding) {
        *f->last_held = cl;
        f->last_held = &cl->next;

    } else {
        *f->last_out = cl;
        f->last_out = &cl->next;
    }

    return NGX_OK;
}


/* a region's default is discarded: nothing of it was output */
static void
ngx_http_persona_drop(ngx_http_persona_filter_t *f)
{
    ngx_chain_t  *cl, *next;

    for (cl = f->held; cl; cl = next) {
        next = cl->next;

        ngx_http_persona_release(f, cl->buf);

        cl->next = f->free;
        f->free = cl;
    }

    f->held = NULL;
    f->last_held = &f->held;

    if (f->chunk) {
        f->chunk->last = f->chunk->pos;
    }
}


/* a buffer of ours is done with: give back what it held on to */
static void
ngx_http_persona_release(ngx_http_persona_filter_t *f, ngx_buf_t *b)
{
    ngx_http_persona_chunk_t  *c;

    if (b->shadow) {
        /* the input buffer is free for its owner */
        b->shadow->pos = b->shadow->last;
        b->shadow = NULL;
    }

    if (b->start == NULL) {
        return;
    }

    for (c = f->chunks; c; c = c->next) {
        if (c->start == b->start) {
            c->refs--;
            break;
        }
    }

    b->start = NULL;
}
