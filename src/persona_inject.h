/*
 * Slot injection: a resumable state machine over the bytes of an HTML body.
 *
 * The page marks slots with HTML comments of exactly this spelling:
 *
 *     <!--persona:NAME-->                               single marker
 *     <!--persona:NAME-->default<!--/persona:NAME-->    region
 *
 * NAME is 1..64 bytes of words of [A-Za-z0-9_] joined by single '-':
 *
 *     NAME = [A-Za-z0-9_]+ ( "-" [A-Za-z0-9_]+ )*
 *
 * It is case-sensitive; a leading or trailing '-' and "--" are not part of
 * the grammar (the first "--" after the name begins the "-->").  Anything
 * that is not exactly a marker is ordinary bytes and is copied unchanged:
 * "<!-- persona:a-->", "<!--PERSONA:a-->", "<!--persona:a--", a name of 65
 * bytes, "<!--persona:" at the end of the body.  A marker is at most
 * PERSONA_INJECT_MARKER_MAX bytes, so nothing ever swallows the page.
 *
 * What the output holds (SPEC, "Blocks"): every marker is removed.  A
 * single marker whose slot has a block is replaced by the block; without
 * a block it renders nothing.  In a region, a block replaces the default;
 * without a block the default stays.
 *
 * The injector does not know whether an opening marker starts a region
 * until it sees the closing marker.  It never buffers the page: when an
 * opening marker's slot has a block it emits BLOCK, then HOLD, and the
 * text that follows is tentative (the caller keeps it aside) until:
 *
 *   DROP    the closing marker of the same NAME: the held text was the
 *           region's default, discard it;
 *   COMMIT  anything else that ends the hold, and the held text is page
 *           content (the opening marker was a single marker).  That is:
 *           another opening marker (regions do not nest), a closing
 *           marker of another NAME, the data-layer point (</head>), the
 *           held text growing beyond hold_max bytes, or the end of the
 *           body.
 *
 * So held text never contains a marker, and between HOLD and its
 * COMMIT/DROP only COPY and CARRY events come.  A closing marker without
 * a matching open one (stray, or closing a region whose slot has no
 * block) is removed and does nothing else.  An opening marker whose slot
 * has no block emits nothing and holds nothing: what follows is output
 * as it comes, and a later closing marker is simply removed.  Whether a
 * region's default is dropped depends only on its length (<= hold_max),
 * never on how the body was split into chunks.
 *
 * Data layer (when enabled): one HEAD_END event just before the first
 * end tag of head: "</head" (ASCII case-insensitive) followed by '>', '/'
 * or HTML whitespace.  "</header>" does not match.  The tag itself is
 * copied as ordinary bytes after the event.  There is at most one
 * HEAD_END; a body without </head> gets none.
 *
 * Where markers count (SPEC): markers and "</head" are recognised only
 * in element text, as a browser would read the page (persona_html.h):
 * inside a tag or an attribute value, a comment, <script>, <style>,
 * <textarea>, <title> (and the other raw-text elements: xmp, iframe,
 * noembed, noframes, noscript, plaintext) they are ordinary bytes.  A
 * page that reflects input into a script string cannot summon a block
 * there, and a "</head>" inside an inline script is not the end of head.
 * The context is tracked across chunks like the markers are.
 *
 * Memory: persona_inject_t is a fixed-size struct the caller allocates
 * (in a request pool).  The injector allocates nothing, keeps no globals
 * and copies input only for a partial marker cut by a chunk boundary: at
 * most PERSONA_INJECT_MARKER_MAX - 1 bytes, kept in the struct (and the
 * bounded tag and attribute names of the HTML tokenizer).
 *
 * For the nginx body filter, roughly:
 *   - header filter: persona_inject_init() on a struct in the request
 *     ctx, conf.data = ctx;
 *   - body filter, for each input buffer b (file buffers read first):
 *     ctx->in = b; persona_inject_feed(st, b->pos, b->last - b->pos,
 *     b->last_buf || b->last_in_chain);
 *   - COPY: a buffer with pos = data, last = data + len, shadow of b
 *     (and b's memory stays in use until that buffer is sent or, while
 *     holding, dropped); CARRY: a copy of data; BLOCK, HEAD_END: a
 *     memory buffer with the rendered block or data layer;
 *   - each goes to the output chain, or while holding to a pending
 *     chain: HOLD starts one, COMMIT appends it to the output, DROP
 *     discards it.  hold_max bounds the bytes of that chain.
 */

#ifndef PERSONA_INJECT_H
#define PERSONA_INJECT_H

#include <stddef.h>

#include "persona_core.h"
#include "persona_html.h"


#define PERSONA_INJECT_NAME_MAX    64

/* "<!--/persona:" NAME "-->" */
#define PERSONA_INJECT_MARKER_MAX  (13 + PERSONA_INJECT_NAME_MAX + 3)


typedef enum {
    /*
     * Output data, len bytes.  data points into the chunk given to this
     * persona_inject_feed() call (data - chunk is the offset): the glue
     * emits a buffer with pos = data, last = data + len, shadowing the
     * input buffer, without copying.  Ranges come in input order and
     * never overlap.
     */
    PERSONA_INJECT_COPY = 0,

    /*
     * Output data, len bytes (1..PERSONA_INJECT_MARKER_MAX - 1), which
     * come from earlier chunks: the start of what looked like a marker
     * when a chunk ended and turned out not to be one.  data points into
     * the injector's struct and is valid during the callback only: copy
     * it.  It goes out after the earlier events and before later ones,
     * like COPY.
     */
    PERSONA_INJECT_CARRY,

    /*
     * Insert the block of slot data/len here (the caller's has_block said
     * it has one).  Never emitted while holding.  For an opening marker
     * it is followed at once by HOLD.
     */
    PERSONA_INJECT_BLOCK,

    /*
     * Begin holding: COPY and CARRY text from now on is tentative; keep it
     * aside (in nginx: a pending chain, not yet passed on) until COMMIT
     * or DROP.  data/len name the slot.
     */
    PERSONA_INJECT_HOLD,

    /* the held text is page content: output it, in order, now */
    PERSONA_INJECT_COMMIT,

    /* the held text was a region's default: discard it */
    PERSONA_INJECT_DROP,

    /*
     * Insert the data layer (<script>...</script>) here, before "</head".
     * Only when conf.data_layer is set, at most once, never while
     * holding (a hold ends with COMMIT first).  data is NULL, len 0.
     */
    PERSONA_INJECT_HEAD_END
} persona_inject_event_e;


typedef struct {
    persona_inject_event_e   type;
    /* COPY, CARRY: the bytes; BLOCK, HOLD, COMMIT, DROP: the slot name */
    const char              *data;
    size_t                   len;
} persona_inject_event_t;


/*
 * Asked once for every opening marker recognised: nonzero when the
 * visitor's experience has a block for slot name/len (not NUL-terminated,
 * valid during the call only).
 */
typedef int (*persona_inject_has_block_pt)(void *data, const char *name,
    size_t len);

/*
 * Receives every event, in output order.  Returns PERSONA_OK, or a
 * negative code (PERSONA_NOMEM, PERSONA_ERROR) which stops the feed:
 * persona_inject_feed() returns that code and the injector is unusable
 * from then on.
 */
typedef int (*persona_inject_handler_pt)(void *data,
    const persona_inject_event_t *ev);


typedef struct {
    persona_inject_has_block_pt   has_block;
    persona_inject_handler_pt     handler;
    /* passed to both callbacks */
    void                         *data;
    /*
     * The most held text the caller will keep: a region whose default is
     * longer is taken as a single marker followed by page content
     * (COMMIT as soon as the next byte would pass the bound).  0 means
     * only empty regions can be dropped.
     */
    size_t                        hold_max;
    /* emit HEAD_END before the first </head> */
    unsigned                      data_layer:1;
} persona_inject_conf_t;


/* Everything below conf is private to persona_inject.c. */
typedef struct {
    persona_inject_conf_t   conf;

    size_t                  held;         /* bytes held since HOLD */
    unsigned                state;        /* scanner state */
    unsigned                mlen;         /* bytes of the partial match */
    unsigned                saved_len;
    unsigned                name_len;
    unsigned                hold_name_len;
    unsigned                closing:1;    /* partial is "<!--/persona:" */
    unsigned                holding:1;
    unsigned                head_wanted:1;
    unsigned                done:1;       /* last chunk was fed */
    unsigned                failed:1;     /* the handler failed */

    persona_html_t          html;         /* where the page stands */

    /* bytes of a partial match from earlier chunks */
    char                    saved[PERSONA_INJECT_MARKER_MAX];
    char                    name[PERSONA_INJECT_NAME_MAX];
    char                    hold_name[PERSONA_INJECT_NAME_MAX];
} persona_inject_t;


/* Resets st for a new body; conf is copied. */
void persona_inject_init(persona_inject_t *st,
    const persona_inject_conf_t *conf);

/*
 * Scans chunk[0..len) and emits its events.  chunk may be NULL when len
 * is 0.  last = 1 on the final chunk (it may be empty): a partial marker
 * is then output as text and a hold ends with COMMIT.  COPY events of
 * this call point into chunk only, so the chunk may be released once the
 * caller has dealt with them; nothing of it is referenced later.
 *
 * Returns PERSONA_OK, the handler's error code, or PERSONA_ERROR when fed
 * after the last chunk or after an error.
 */
int persona_inject_feed(persona_inject_t *st, const char *chunk,
    size_t len, int last);

/* 1 when name/len is a valid slot NAME (for the rules loader) */
int persona_inject_name_valid(const char *name, size_t len);


#endif /* PERSONA_INJECT_H */
