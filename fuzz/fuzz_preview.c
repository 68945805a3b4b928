/*
 * libFuzzer target: preview values and signed links (src/persona_preview.c),
 * the part of persona_preview_token that reads the URL.
 *
 * The input is "value \0 exp \0 sig \0 token", each piece optional.
 * Checks, trapping on failure:
 *   - parsing against a fixed rule set either fails with nothing forced
 *     and an error without control bytes, or gives a segment that is the
 *     value's first item and forced variants that belong to their
 *     experiment and are named in the value;
 *   - verification never accepts a signature it did not compute, and
 *     always accepts the one persona_preview_sign() computes for the same
 *     value, key and a valid expiry;
 *   - the token compare is equality.
 */

#define _GNU_SOURCE             /* memmem */

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "persona_preview.h"
#include "fuzz_util.h"


static const char  rules_json[] =
    "{ \"segments\": [ { \"name\": \"vip\", \"when\": { \"arg.a\": \"1\" } },"
    "                  { \"name\": \"x.y:z\", \"when\": { \"arg.a\": \"2\" } }"
    "  ], \"default\": \"everyone\","
    "  \"experiments\": ["
    "    { \"name\": \"hero\", \"salt\": \"s\", \"segments\": [\"everyone\"],"
    "      \"variants\": [ { \"name\": \"control\", \"weight\": 50 },"
    "                      { \"name\": \"on\", \"weight\": 50 } ] },"
    "    { \"name\": \"p\", \"salt\": \"s\","
    "      \"variants\": [ { \"name\": \"a\", \"weight\": 1 },"
    "                      { \"name\": \"b\", \"weight\": 0 } ] } ] }";


static persona_rules_t  *rules;


int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    int                        rc;
    char                       sig[PERSONA_PREVIEW_SIG_LEN + 1];
    size_t                     i, left;
    const char                *p;
    persona_str_t              value, exp, got, token;
    persona_error_t            err;
    persona_preview_t          pv;
    const persona_variant_t   *forced[2];

    if (rules == NULL) {
        check(persona_rules_load_buffer(&rules, "f.json", rules_json,
                                        sizeof(rules_json) - 1, NULL, &err)
              == PERSONA_OK);
    }

    p = (const char *) data;
    left = size;

    memset(&value, 0, sizeof(value));
    exp = value;
    got = value;
    token = value;

    (void) fuzz_next(&p, &left, '\0', &value);
    (void) fuzz_next(&p, &left, '\0', &exp);
    (void) fuzz_next(&p, &left, '\0', &got);
    (void) fuzz_next(&p, &left, '\0', &token);

    if (value.data == NULL) {
        return 0;
    }

    /* parse */

    err.msg[0] = '\0';
    forced[0] = forced[1] = (void *) 1;

    rc = persona_preview_parse(rules, value.data, value.len, &pv, forced,
                               &err);

    if (rc != PERSONA_OK) {
        check(forced[0] == NULL && forced[1] == NULL);

        for (i = 0; err.msg[i]; i++) {
            check((unsigned char) err.msg[i] >= 0x20
                  && (unsigned char) err.msg[i] != 0x7f);
        }

    } else {
        check(pv.segment.data == value.data);
        check(pv.segment.len == value.len
              || value.data[pv.segment.len] == ',');
        check(persona_segment_name_valid(pv.segment.data, pv.segment.len));

        for (i = 0; i < 2; i++) {
            if (forced[i]) {
                check(forced[i] >= rules->experiments[i].variants
                      && forced[i] < rules->experiments[i].variants
                                     + rules->experiments[i].nvariants);
                check(memmem(value.data, value.len, forced[i]->name.data,
                             forced[i]->name.len) != NULL);
            }
        }
    }

    /* verify what the input brings, then what sign() computes */

    if (token.data == NULL || exp.data == NULL || got.data == NULL) {
        return 0;
    }

    if (persona_preview_verify(token.data, token.len, value.data, value.len,
                               exp.data, exp.len, got.data, got.len,
                               1800000000, &err)
        == PERSONA_OK)
    {
        /* only the right signature, any case, passes */
        check(persona_preview_sign(token.data, token.len, value.data,
                                   value.len, exp.data, exp.len, sig)
              == PERSONA_OK);
        check(got.len == PERSONA_PREVIEW_SIG_LEN
              && strncasecmp(got.data, sig, got.len) == 0);
    }

    if (value.len <= PERSONA_PREVIEW_VALUE_MAX) {
        check(persona_preview_sign(token.data, token.len, value.data,
                                   value.len, "1800000060", 10, sig)
              == PERSONA_OK);
        check(persona_preview_verify(token.data, token.len, value.data,
                                     value.len, "1800000060", 10, sig,
                                     PERSONA_PREVIEW_SIG_LEN, 1800000000,
                                     &err)
              == PERSONA_OK);
    }

    check(persona_preview_token_eq(token.data, token.len, value.data,
                                   value.len)
          == (token.len == value.len
              && memcmp(token.data, value.data, value.len) == 0));

    return 0;
}
