/*
 * libFuzzer target for the HTML context tokenizer (src/persona_html.c):
 * its two ways through a page agree.
 *
 * persona_html_scan() reads a page one way for the template compiler
 * (h->names: persona_html_step() a byte at a time, the standard's
 * machine as written) and another way for the injector (the fast scan:
 * a loop a state, the state in the program counter).  The reference here
 * is the first, fed byte by byte; the second is fed the same page in
 * pieces cut by the input, with the stops the injector asks for.
 *
 * Input: 2 header bytes, then the page.
 *   byte 0: bits 0-2 stop flags (PERSONA_HTML_STOP_LT, _BANG, _SLASH;
 *           0 = no stops), bits 3-7 with byte 1 seed the cut points
 *   byte 1: seed, low bits; 0 and 1 feed the page whole, byte by byte
 *
 * Checks, aborting on failure:
 *   - at the end of every piece the fast scan stands where the reference
 *     stands after the same bytes: the same state, raw-text element,
 *     end-tag flag, tag name prefix, end-tag letters matched;
 *   - it stops exactly before the '<' the reference reads in text and
 *     the stop flags ask for (a '<' followed by '!' or '/', or the last
 *     byte of the piece), and nowhere else;
 *   - the context, "stable" and the raw-text element agree everywhere
 *     they are compared.
 *
 * Build and run: scripts/fuzz.sh SECONDS (FUZZ_ONLY=html)
 */

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "persona_html.h"


#define check(e)  do { if (!(e)) { __builtin_trap(); } } while (0)


static void
same(const persona_html_t *a, const persona_html_t *b)
{
    check(a->state == b->state);
    check(a->raw == b->raw);
    check(a->end_tag == b->end_tag);
    check(a->tag_len == b->tag_len);
    check(a->tag_len > PERSONA_HTML_TAG_MAX
          || memcmp(a->tag, b->tag, a->tag_len) == 0);
    check(a->match == b->match);
    check(a->mismatch == b->mismatch);
    check(persona_html_context(a) == persona_html_context(b));
    check(persona_html_stable(a) == persona_html_stable(b));
    check(persona_html_element(a) == persona_html_element(b));
    check(persona_html_in_text(a) == persona_html_in_text(b));
}


/* whether a scan with stop stops before the '<' in[i], read in text */
static int
want_stop(const char *in, size_t i, size_t piece_end, int stop)
{
    if (stop == 0) {
        return 0;
    }

    if ((stop & PERSONA_HTML_STOP_LT) || i + 1 == piece_end) {
        return 1;
    }

    return (in[i + 1] == '!' && (stop & PERSONA_HTML_STOP_BANG))
           || (in[i + 1] == '/' && (stop & PERSONA_HTML_STOP_SLASH));
}


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int              stop;
    size_t           len, i, k, piece_end;
    unsigned         seed;
    const char      *in, *p, *q;
    persona_html_t  *ref, fast, tmp;
    unsigned char   *text;      /* text[i]: the reference reads the '<'
                                   in[i] in text */

    if (size < 2 || size > 65536 + 2) {
        return 0;
    }

    stop = data[0] & 7;
    seed = ((unsigned) (data[0] >> 3) << 8) | data[1];
    in = (const char *) data + 2;
    len = size - 2;

    /* the reference after each prefix: ref[i] after in[0..i) */

    ref = malloc((len + 1) * sizeof(persona_html_t));
    text = malloc(len + 1);
    check(ref != NULL && text != NULL);

    persona_html_init_names(&ref[0]);

    for (i = 0; i < len; i++) {
        /* a '<' read in text, also one read again after "<" */
        tmp = ref[i];
        text[i] = persona_html_scan(&tmp, in + i, in + i + 1,
                                    PERSONA_HTML_STOP_LT) == in + i;
        ref[i + 1] = ref[i];
        (void) persona_html_scan(&ref[i + 1], in + i, in + i + 1, 0);
    }

    /* the fast scan, in pieces */

    persona_html_init(&fast);
    i = 0;

    while (i < len) {
        if (seed == 0) {
            piece_end = len;

        } else if (seed == 1) {
            piece_end = i + 1;

        } else {
            /* 1..64 bytes, from a small LCG */
            seed = seed * 1103515245 + 12345;
            k = 1 + ((seed >> 16) & 63);
            piece_end = (len - i < k) ? len : i + k;

            if (seed == 0 || seed == 1) {
                seed = 2;
            }
        }

        p = in + i;

        for ( ;; ) {
            q = persona_html_scan(&fast, p, in + piece_end, stop);

            /* no '<' to stop at was passed over */
            for (k = (size_t) (p - in); k < (size_t) (q - in); k++) {
                check(!(in[k] == '<' && text[k]
                        && want_stop(in, k, piece_end, stop)));
            }

            if (q == in + piece_end) {
                break;
            }

            /* a stop: in text, before a '<' asked for */

            k = (size_t) (q - in);

            check(*q == '<');
            check(text[k]);
            check(want_stop(in, k, piece_end, stop));

            /* where the reference stands when it stops there */
            tmp = ref[k];
            check(persona_html_scan(&tmp, q, q + 1, PERSONA_HTML_STOP_LT)
                  == q);
            same(&fast, &tmp);

            /* the caller reads the '<' itself */
            (void) persona_html_scan(&fast, q, q + 1, 0);
            same(&fast, &ref[k + 1]);
            p = q + 1;
        }

        i = piece_end;
        same(&fast, &ref[i]);
    }

    same(&fast, &ref[len]);

    free(ref);
    free(text);

    return 0;
}
