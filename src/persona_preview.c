/*
 * Preview for QA: see persona_preview.h.
 */

#include <stddef.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/sha.h>

#include "persona_experiment.h"
#include "persona_preview.h"


static int persona_preview_hmac(const char *key, size_t key_len,
    const char *value, size_t value_len, const char *exp, size_t exp_len,
    unsigned char *mac);
static int persona_hex_value(int c);
static const persona_variant_t *persona_preview_variant(
    const persona_experiment_t *x, const char *name, size_t len);
static int persona_preview_segment_known(const persona_rules_t *rules,
    const char *name, size_t len);


int
persona_preview_token_eq(const char *a, size_t a_len, const char *b,
    size_t b_len)
{
    unsigned char  da[SHA256_DIGEST_LENGTH], db[SHA256_DIGEST_LENGTH];

    /* equal digests of unequal inputs would need a SHA-256 collision */

    if (SHA256((const unsigned char *) a, a_len, da) == NULL
        || SHA256((const unsigned char *) b, b_len, db) == NULL)
    {
        return 0;
    }

    return CRYPTO_memcmp(da, db, SHA256_DIGEST_LENGTH) == 0;
}


static int
persona_preview_hmac(const char *key, size_t key_len, const char *value,
    size_t value_len, const char *exp, size_t exp_len, unsigned char *mac)
{
    int            ok;
    size_t         n;
    unsigned int   mac_len;
    unsigned char  msg[PERSONA_PREVIEW_VALUE_MAX + 1 + 32];

    if (value_len > PERSONA_PREVIEW_VALUE_MAX || exp_len > 32) {
        return PERSONA_ERROR;
    }

    n = 0;
    memcpy(msg, value, value_len);
    n += value_len;
    msg[n++] = '|';
    memcpy(msg + n, exp, exp_len);
    n += exp_len;

    mac_len = 0;
    ok = HMAC(EVP_sha256(), key, (int) key_len, msg, n, mac, &mac_len)
         != NULL;

    return (ok && mac_len == 32) ? PERSONA_OK : PERSONA_ERROR;
}


int
persona_preview_sign(const char *key, size_t key_len, const char *value,
    size_t value_len, const char *exp, size_t exp_len, char *out)
{
    size_t         i;
    unsigned char  mac[32];

    static const char  hex[] = "0123456789abcdef";

    if (persona_preview_hmac(key, key_len, value, value_len, exp, exp_len,
                             mac)
        != PERSONA_OK)
    {
        return PERSONA_ERROR;
    }

    for (i = 0; i < 32; i++) {
        out[2 * i] = hex[mac[i] >> 4];
        out[2 * i + 1] = hex[mac[i] & 0xf];
    }

    out[PERSONA_PREVIEW_SIG_LEN] = '\0';

    return PERSONA_OK;
}


static int
persona_hex_value(int c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }

    c |= 0x20;

    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }

    return -1;
}


int
persona_preview_verify(const char *key, size_t key_len, const char *value,
    size_t value_len, const char *exp, size_t exp_len, const char *sig,
    size_t sig_len, int64_t now, persona_error_t *err)
{
    int            hi, lo;
    size_t         i;
    int64_t        t;
    unsigned char  mac[32], got[32];

    if (exp_len == 0 || exp_len > 12) {
        persona_error_set(err, "bad persona_preview_exp");
        return PERSONA_ERROR;
    }

    t = 0;

    for (i = 0; i < exp_len; i++) {
        if (exp[i] < '0' || exp[i] > '9') {
            persona_error_set(err, "bad persona_preview_exp");
            return PERSONA_ERROR;
        }

        t = t * 10 + (exp[i] - '0');
    }

    if (t < now) {
        persona_error_set(err, "link expired");
        return PERSONA_ERROR;
    }

    if (t - now > PERSONA_PREVIEW_MAX_AHEAD) {
        persona_error_set(err, "link expires more than 7 days ahead");
        return PERSONA_ERROR;
    }

    if (sig_len != PERSONA_PREVIEW_SIG_LEN) {
        persona_error_set(err, "bad persona_preview_sig");
        return PERSONA_ERROR;
    }

    for (i = 0; i < 32; i++) {
        hi = persona_hex_value((unsigned char) sig[2 * i]);
        lo = persona_hex_value((unsigned char) sig[2 * i + 1]);

        if (hi < 0 || lo < 0) {
            persona_error_set(err, "bad persona_preview_sig");
            return PERSONA_ERROR;
        }

        got[i] = (unsigned char) (hi << 4 | lo);
    }

    if (persona_preview_hmac(key, key_len, value, value_len, exp, exp_len,
                             mac)
        != PERSONA_OK)
    {
        persona_error_set(err, "signature not computed");
        return PERSONA_ERROR;
    }

    if (CRYPTO_memcmp(mac, got, 32) != 0) {
        persona_error_set(err, "wrong signature");
        return PERSONA_ERROR;
    }

    return PERSONA_OK;
}


static const persona_variant_t *
persona_preview_variant(const persona_experiment_t *x, const char *name,
    size_t len)
{
    size_t  i;

    for (i = 0; i < x->nvariants; i++) {
        if (x->variants[i].name.len == len
            && memcmp(x->variants[i].name.data, name, len) == 0)
        {
            return &x->variants[i];
        }
    }

    return NULL;
}


static int
persona_preview_segment_known(const persona_rules_t *rules,
    const char *name, size_t len)
{
    size_t                    i;
    int                       from;
    const persona_segment_t  *seg;

    if (!persona_segment_name_valid(name, len)) {
        return 0;
    }

    if (rules->default_segment.len == len
        && memcmp(rules->default_segment.data, name, len) == 0)
    {
        return 1;
    }

    if (persona_rules_experience(rules, name, len) != NULL) {
        return 1;
    }

    from = 0;

    for (i = 0; i < rules->nsegments; i++) {
        seg = &rules->segments[i];

        if (seg->from) {
            from = 1;
            continue;
        }

        if (seg->name.len == len && memcmp(seg->name.data, name, len) == 0) {
            return 1;
        }
    }

    /* a "from" entry can produce any segment name */
    return from;
}


int
persona_preview_parse(const persona_rules_t *rules, const char *value,
    size_t value_len, persona_preview_t *out,
    const persona_variant_t **forced, persona_error_t *err)
{
    size_t                       i, n, xlen;
    const char                  *p, *end, *item, *eq;
    const persona_variant_t     *v;
    const persona_experiment_t  *x;

    memset(out, 0, sizeof(persona_preview_t));

    for (i = 0; i < rules->nexperiments; i++) {
        forced[i] = NULL;
    }

    end = value + value_len;
    p = memchr(value, ',', value_len);
    n = p ? (size_t) (p - value) : value_len;

    if (!persona_preview_segment_known(rules, value, n)) {
        persona_error_set(err, "unknown segment \"%.*s\"",
                          (int) (n > 64 ? 64 : n), value);
        goto failed;
    }

    out->segment.data = value;
    out->segment.len = n;

    if (n == rules->default_segment.len
        && memcmp(value, rules->default_segment.data, n) == 0)
    {
        out->experience = rules->default_experience;

    } else {
        out->experience = persona_rules_experience(rules, value, n);
    }

    while (p && p < end) {
        item = p + 1;
        p = memchr(item, ',', end - item);
        n = (p ? p : end) - item;

        eq = memchr(item, '=', n);
        if (eq == NULL) {
            persona_error_set(err, "expected EXPERIMENT=VARIANT, not "
                              "\"%.*s\"", (int) (n > 64 ? 64 : n), item);
            goto failed;
        }

        xlen = eq - item;
        x = NULL;

        for (i = 0; i < rules->nexperiments; i++) {
            if (rules->experiments[i].name.len == xlen
                && memcmp(rules->experiments[i].name.data, item, xlen) == 0)
            {
                x = &rules->experiments[i];
                break;
            }
        }

        if (x == NULL) {
            persona_error_set(err, "unknown experiment \"%.*s\"",
                              (int) (xlen > 64 ? 64 : xlen), item);
            goto failed;
        }

        if (forced[i]) {
            persona_error_set(err, "experiment \"%.*s\" named twice",
                              (int) xlen, item);
            goto failed;
        }

        if (!persona_experiment_applies(x, out->segment.data,
                                        out->segment.len))
        {
            persona_error_set(err, "experiment \"%.*s\" does not apply to "
                              "segment \"%.*s\"", (int) xlen, item,
                              (int) out->segment.len, out->segment.data);
            goto failed;
        }

        v = persona_preview_variant(x, eq + 1, n - xlen - 1);
        if (v == NULL) {
            persona_error_set(err, "unknown variant \"%.*s\" of experiment "
                              "\"%.*s\"",
                              (int) (n - xlen - 1 > 64 ? 64 : n - xlen - 1),
                              eq + 1, (int) xlen, item);
            goto failed;
        }

        forced[i] = v;
        out->nforced++;
    }

    return PERSONA_OK;

failed:

    for (i = 0; i < rules->nexperiments; i++) {
        forced[i] = NULL;
    }

    memset(out, 0, sizeof(persona_preview_t));

    /* the names come from a URL: no control bytes into a log */

    for (i = 0; err->msg[i]; i++) {
        if ((unsigned char) err->msg[i] < 0x20
            || (unsigned char) err->msg[i] >= 0x7f)
        {
            err->msg[i] = '?';
        }
    }

    return PERSONA_ERROR;
}
