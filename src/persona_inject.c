/*
 * Slot injection state machine: see persona_inject.h for the contract.
 *
 * The scanner sits in TEXT and lets the HTML context tokenizer
 * (persona_html.c) run over the page up to the next "<!" (or "</" while
 * the data layer is wanted) that stands in element text (memchr while in
 * text; a tag, a comment or a script is walked through to its end).
 * From that '<' it follows one candidate
 * (a marker, or "</head" when the data layer is still wanted) byte by
 * byte.  Every byte of a candidate except its first is a pattern byte,
 * a name byte, '-' or the final '>', none of which is '<'; so when a
 * candidate fails, no other candidate can have begun inside it: its
 * bytes go to the tokenizer (they may open a tag or a comment) and
 * scanning resumes at the failing byte.  A whole marker is a whole
 * comment, after which the tokenizer is in text again, so it never
 * sees one.
 *
 * Within a chunk nothing is copied: ordinary bytes pile up in the range
 * [copy, p) and go out as one COPY when a marker completes or the chunk
 * ends.  Only a candidate cut by the end of a chunk is saved in the
 * struct, and it goes out as CARRY if it fails later.
 */

#include <string.h>

#include "persona_inject.h"


enum {
    PERSONA_INJECT_S_TEXT = 0,
    PERSONA_INJECT_S_LT,          /* "<" */
    PERSONA_INJECT_S_PREFIX,      /* in "<!--persona:" or "<!--/persona:" */
    PERSONA_INJECT_S_NAME_START,  /* want the first byte of NAME */
    PERSONA_INJECT_S_NAME,        /* in NAME, last byte not '-' */
    PERSONA_INJECT_S_NAME_DASH,   /* NAME then one '-' */
    PERSONA_INJECT_S_END,         /* NAME then "--", want '>' */
    PERSONA_INJECT_S_HEAD,        /* in "</head" */
    PERSONA_INJECT_S_HEAD_DELIM   /* "</head", want '>', '/' or space */
};


static const char  persona_inject_open[] = "<!--persona:";
static const char  persona_inject_close[] = "<!--/persona:";
static const char  persona_inject_head[] = "</head";

#define PERSONA_INJECT_OPEN_LEN   (sizeof(persona_inject_open) - 1)
#define PERSONA_INJECT_CLOSE_LEN  (sizeof(persona_inject_close) - 1)
#define PERSONA_INJECT_HEAD_LEN   (sizeof(persona_inject_head) - 1)


static int persona_inject_emit(persona_inject_t *st,
    persona_inject_event_e type, const char *data, size_t len);
static int persona_inject_text(persona_inject_t *st,
    persona_inject_event_e type, const char *data, size_t len);
static int persona_inject_end_hold(persona_inject_t *st,
    persona_inject_event_e type);
static int persona_inject_marker(persona_inject_t *st);
static int persona_inject_name_char(unsigned char c);
static void persona_inject_html(persona_inject_t *st, const char *from,
    const char *to);


void
persona_inject_init(persona_inject_t *st, const persona_inject_conf_t *conf)
{
    memset(st, 0, sizeof(persona_inject_t));

    st->conf = *conf;
    st->state = PERSONA_INJECT_S_TEXT;
    st->head_wanted = conf->data_layer ? 1 : 0;

    persona_html_init(&st->html);
}


int
persona_inject_feed(persona_inject_t *st, const char *chunk, size_t len,
    int last)
{
    int             rc;
    size_t          n;
    unsigned char   c;
    const char     *p, *end, *copy, *mstart, *lt;

    if (st->done || st->failed) {
        return PERSONA_ERROR;
    }

    if (chunk == NULL) {
        chunk = "";
        len = 0;
    }

    p = chunk;
    end = chunk + len;

    /* start of the ordinary bytes not yet emitted */
    copy = chunk;

    /* start of the candidate in this chunk (saved bytes come before it) */
    mstart = chunk;

    while (p < end) {

        if (st->state == PERSONA_INJECT_S_TEXT) {
            /*
             * The tokenizer reads ordinary tags on and stops at a '<' in
             * text that may begin a candidate: "<!", "</" while the data
             * layer is wanted, or a '<' at the end of the chunk.
             */
            lt = persona_html_scan(&st->html, p, end,
                                   st->head_wanted
                                   ? PERSONA_HTML_STOP_BANG
                                     | PERSONA_HTML_STOP_SLASH
                                   : PERSONA_HTML_STOP_BANG);
            if (lt == end) {
                p = end;
                break;
            }

            mstart = lt;
            p = lt + 1;
            st->state = PERSONA_INJECT_S_LT;
            st->mlen = 1;
            continue;
        }

        c = (unsigned char) *p;

        switch (st->state) {

        case PERSONA_INJECT_S_LT:
            if (c == '!') {
                st->state = PERSONA_INJECT_S_PREFIX;
                st->closing = 0;
                break;
            }

            if (c == '/' && st->head_wanted) {
                st->state = PERSONA_INJECT_S_HEAD;
                break;
            }

            goto fail;

        case PERSONA_INJECT_S_PREFIX:
            if (st->mlen == 4 && c == '/') {
                st->closing = 1;
            }

            if (st->closing) {
                if (c != (unsigned char) persona_inject_close[st->mlen]) {
                    goto fail;
                }

                if (st->mlen + 1 == PERSONA_INJECT_CLOSE_LEN) {
                    st->state = PERSONA_INJECT_S_NAME_START;
                }

            } else {
                if (c != (unsigned char) persona_inject_open[st->mlen]) {
                    goto fail;
                }

                if (st->mlen + 1 == PERSONA_INJECT_OPEN_LEN) {
                    st->state = PERSONA_INJECT_S_NAME_START;
                }
            }

            break;

        case PERSONA_INJECT_S_NAME_START:
            if (!persona_inject_name_char(c)) {
                goto fail;
            }

            st->name[0] = (char) c;
            st->name_len = 1;
            st->state = PERSONA_INJECT_S_NAME;
            break;

        case PERSONA_INJECT_S_NAME:
            if (c == '-') {
                st->state = PERSONA_INJECT_S_NAME_DASH;
                break;
            }

            if (!persona_inject_name_char(c)
                || st->name_len == PERSONA_INJECT_NAME_MAX)
            {
                goto fail;
            }

            st->name[st->name_len++] = (char) c;
            break;

        case PERSONA_INJECT_S_NAME_DASH:
            if (c == '-') {
                st->state = PERSONA_INJECT_S_END;
                break;
            }

            if (!persona_inject_name_char(c)
                || st->name_len + 2 > PERSONA_INJECT_NAME_MAX)
            {
                goto fail;
            }

            st->name[st->name_len++] = '-';
            st->name[st->name_len++] = (char) c;
            st->state = PERSONA_INJECT_S_NAME;
            break;

        case PERSONA_INJECT_S_END:
            if (c != '>') {
                goto fail;
            }

            /* a marker: emit what precedes it, then drop its bytes */

            rc = persona_inject_text(st, PERSONA_INJECT_COPY, copy,
                                     mstart - copy);
            if (rc != PERSONA_OK) {
                return rc;
            }

            st->saved_len = 0;
            st->state = PERSONA_INJECT_S_TEXT;
            p++;
            copy = p;

            rc = persona_inject_marker(st);
            if (rc != PERSONA_OK) {
                return rc;
            }

            continue;

        case PERSONA_INJECT_S_HEAD:
            /* only letters follow "</", and c | 0x20 folds just them */
            if ((c | 0x20) != (unsigned char) persona_inject_head[st->mlen]) {
                goto fail;
            }

            if (st->mlen + 1 == PERSONA_INJECT_HEAD_LEN) {
                st->state = PERSONA_INJECT_S_HEAD_DELIM;
            }

            break;

        case PERSONA_INJECT_S_HEAD_DELIM:
            if (c != '>' && c != '/' && c != ' ' && c != '\t' && c != '\n'
                && c != '\r' && c != '\f')
            {
                goto fail;
            }

            /* the data layer goes before "</head", which stays text
             * (and an end tag for the tokenizer) */

            persona_inject_html(st, mstart, p);

            rc = persona_inject_text(st, PERSONA_INJECT_COPY, copy,
                                     mstart - copy);
            if (rc != PERSONA_OK) {
                return rc;
            }

            if (st->holding) {
                rc = persona_inject_end_hold(st, PERSONA_INJECT_COMMIT);
                if (rc != PERSONA_OK) {
                    return rc;
                }
            }

            st->head_wanted = 0;

            rc = persona_inject_emit(st, PERSONA_INJECT_HEAD_END, NULL, 0);
            if (rc != PERSONA_OK) {
                return rc;
            }

            if (st->saved_len) {
                rc = persona_inject_text(st, PERSONA_INJECT_CARRY, st->saved,
                                         st->saved_len);
                if (rc != PERSONA_OK) {
                    return rc;
                }

                st->saved_len = 0;
            }

            copy = mstart;
            st->state = PERSONA_INJECT_S_TEXT;

            /* the tokenizer reads c next, in the end tag */
            continue;

        default:
            return PERSONA_ERROR;
        }

        st->mlen++;
        p++;
        continue;

    fail:

        /*
         * Not a marker: its bytes are text.  Saved bytes (only when the
         * candidate began in an earlier chunk; then copy == mstart ==
         * chunk) go out now, the ones in this chunk stay in [copy, p).
         * All are fed to the tokenizer; c is scanned again.
         */

        persona_inject_html(st, mstart, p);

        if (st->saved_len) {
            rc = persona_inject_text(st, PERSONA_INJECT_CARRY, st->saved,
                                     st->saved_len);
            if (rc != PERSONA_OK) {
                return rc;
            }

            st->saved_len = 0;
        }

        st->state = PERSONA_INJECT_S_TEXT;
    }

    if (st->state != PERSONA_INJECT_S_TEXT) {

        if (!last) {
            /* keep the candidate for the next chunk */

            rc = persona_inject_text(st, PERSONA_INJECT_COPY, copy,
                                     mstart - copy);
            if (rc != PERSONA_OK) {
                return rc;
            }

            n = end - mstart;

            if (n) {
                memcpy(st->saved + st->saved_len, mstart, n);
                st->saved_len += n;
            }

            return PERSONA_OK;
        }

        /* the body ends inside a candidate: it is text */

        if (st->saved_len) {
            rc = persona_inject_text(st, PERSONA_INJECT_CARRY, st->saved,
                                     st->saved_len);
            if (rc != PERSONA_OK) {
                return rc;
            }

            st->saved_len = 0;
        }

        st->state = PERSONA_INJECT_S_TEXT;
    }

    rc = persona_inject_text(st, PERSONA_INJECT_COPY, copy, end - copy);
    if (rc != PERSONA_OK) {
        return rc;
    }

    if (last) {
        if (st->holding) {
            rc = persona_inject_end_hold(st, PERSONA_INJECT_COMMIT);
            if (rc != PERSONA_OK) {
                return rc;
            }
        }

        st->done = 1;
    }

    return PERSONA_OK;
}


int
persona_inject_name_valid(const char *name, size_t len)
{
    size_t  i;

    if (len == 0 || len > PERSONA_INJECT_NAME_MAX) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        if (name[i] == '-') {
            /* not first, not last, not after another '-' */
            if (i == 0 || i == len - 1 || name[i - 1] == '-') {
                return 0;
            }

            continue;
        }

        if (!persona_inject_name_char((unsigned char) name[i])) {
            return 0;
        }
    }

    return 1;
}


/* a completed marker; its name is in st->name */

static int
persona_inject_marker(persona_inject_t *st)
{
    int  rc;

    if (st->closing) {
        if (!st->holding) {
            return PERSONA_OK;
        }

        if (st->name_len == st->hold_name_len
            && memcmp(st->name, st->hold_name, st->name_len) == 0)
        {
            return persona_inject_end_hold(st, PERSONA_INJECT_DROP);
        }

        return persona_inject_end_hold(st, PERSONA_INJECT_COMMIT);
    }

    if (st->holding) {
        rc = persona_inject_end_hold(st, PERSONA_INJECT_COMMIT);
        if (rc != PERSONA_OK) {
            return rc;
        }
    }

    if (!st->conf.has_block(st->conf.data, st->name, st->name_len)) {
        return PERSONA_OK;
    }

    rc = persona_inject_emit(st, PERSONA_INJECT_BLOCK, st->name,
                             st->name_len);
    if (rc != PERSONA_OK) {
        return rc;
    }

    memcpy(st->hold_name, st->name, st->name_len);
    st->hold_name_len = st->name_len;
    st->holding = 1;
    st->held = 0;

    return persona_inject_emit(st, PERSONA_INJECT_HOLD, st->hold_name,
                               st->hold_name_len);
}


/* COPY or CARRY text, ending a hold first if it would grow too long */

static int
persona_inject_text(persona_inject_t *st, persona_inject_event_e type,
    const char *data, size_t len)
{
    int  rc;

    if (len == 0) {
        return PERSONA_OK;
    }

    if (st->holding) {
        if (len > st->conf.hold_max - st->held) {
            rc = persona_inject_end_hold(st, PERSONA_INJECT_COMMIT);
            if (rc != PERSONA_OK) {
                return rc;
            }

        } else {
            st->held += len;
        }
    }

    return persona_inject_emit(st, type, data, len);
}


static int
persona_inject_end_hold(persona_inject_t *st, persona_inject_event_e type)
{
    st->holding = 0;
    st->held = 0;

    return persona_inject_emit(st, type, st->hold_name, st->hold_name_len);
}


static int
persona_inject_emit(persona_inject_t *st, persona_inject_event_e type,
    const char *data, size_t len)
{
    int                     rc;
    persona_inject_event_t  ev;

    ev.type = type;
    ev.data = data;
    ev.len = len;

    rc = st->conf.handler(st->conf.data, &ev);

    if (rc != PERSONA_OK) {
        st->failed = 1;
        return rc < 0 ? rc : PERSONA_ERROR;
    }

    return PERSONA_OK;
}


static int
persona_inject_name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
           || (c >= '0' && c <= '9') || c == '_';
}


/* a candidate's bytes (saved ones first) to the HTML tokenizer */

static void
persona_inject_html(persona_inject_t *st, const char *from, const char *to)
{
    if (st->saved_len) {
        (void) persona_html_scan(&st->html, st->saved,
                                 st->saved + st->saved_len, 0);
    }

    (void) persona_html_scan(&st->html, from, to, 0);
}
