/*
 * Preview for QA (persona_preview_token): the value of
 * ?persona_preview=SEGMENT[,EXPERIMENT=VARIANT...] checked against a rule
 * set, the token compared in constant time, and signed links.
 *
 * A signed link carries persona_preview_exp=<unix seconds> and
 * persona_preview_sig=<hex HMAC-SHA256>, the key being the token and the
 * message VALUE "|" EXP, where VALUE is the persona_preview argument
 * URL-decoded and EXP the exp argument exactly as sent (decimal digits).
 * A link is good from now until EXP, and EXP may be at most
 * PERSONA_PREVIEW_MAX_AHEAD seconds ahead of the clock that checks it.
 *
 * Test vector (t/unit/test_preview.c): key "s3cret", VALUE "vip", EXP
 * 1900000000: message "vip|1900000000", signature
 * 1191c7120d7df3a570bb837ca12a6b4e1f452965dc4a770c57b0fbe9f2037a83
 * (`printf "vip|1900000000" | openssl dgst -sha256 -hmac s3cret`).
 */

#ifndef PERSONA_PREVIEW_H
#define PERSONA_PREVIEW_H

#include <stdint.h>

#include "persona_rules.h"


#define PERSONA_PREVIEW_SIG_LEN    64             /* hex characters */
#define PERSONA_PREVIEW_MAX_AHEAD  (7 * 86400)    /* seconds */
#define PERSONA_PREVIEW_VALUE_MAX  1024


/* what a preview value asks for */
typedef struct {
    persona_str_t                segment;
    const persona_experience_t  *experience;   /* the segment's, or NULL */
    size_t                       nforced;      /* variants forced */
} persona_preview_t;


/*
 * 1 when a equals b, in a time that depends on neither's content (the
 * two are hashed with SHA-256 first, so not on their lengths either).
 */
int persona_preview_token_eq(const char *a, size_t a_len, const char *b,
    size_t b_len);

/*
 * out := lowercase hex HMAC-SHA256 with key over value "|" exp, and a
 * terminating NUL (PERSONA_PREVIEW_SIG_LEN + 1 bytes).  PERSONA_OK or
 * PERSONA_ERROR.
 */
int persona_preview_sign(const char *key, size_t key_len, const char *value,
    size_t value_len, const char *exp, size_t exp_len, char *out);

/*
 * Checks a signed link at time now: exp (decimal unix seconds) not past
 * and at most PERSONA_PREVIEW_MAX_AHEAD ahead, sig (hex, either case) the
 * signature.  PERSONA_OK, or PERSONA_ERROR with err saying why.
 */
int persona_preview_verify(const char *key, size_t key_len,
    const char *value, size_t value_len, const char *exp, size_t exp_len,
    const char *sig, size_t sig_len, int64_t now, persona_error_t *err);

/*
 * Parses value (URL-decoded) against rules.  The segment must be a named
 * segment of the rules, the default, the name of an experience, or, when
 * the rules have a "from" entry, any valid segment name.  Each
 * EXPERIMENT=VARIANT must name an experiment of the rules that applies to
 * that segment and one of its variants; an experiment named twice is an
 * error.  forced (rules->nexperiments entries) gets the forced variant of
 * each experiment or NULL.  PERSONA_OK, or PERSONA_ERROR with err saying
 * what was unknown; then nothing is forced.
 */
int persona_preview_parse(const persona_rules_t *rules, const char *value,
    size_t value_len, persona_preview_t *out,
    const persona_variant_t **forced, persona_error_t *err);


#endif /* PERSONA_PREVIEW_H */
