/*
 * persona-check --preview-link URL VALUE --token T [--ttl 1d] [--rules R]:
 * a link a marketer can click to preview a segment and variants
 * (persona_preview_token).  The link is URL with
 *   persona_preview=VALUE&persona_preview_exp=EXP&persona_preview_sig=SIG
 * appended after "?" (or "&" when URL has a query), before any "#...";
 * VALUE is percent-encoded except for letters, digits and "-._~,=:".
 */

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "persona_preview.h"
#include "check.h"


int64_t
check_duration(const char *s)
{
    char     *end;
    long long n;

    if (*s < '0' || *s > '9') {
        return -1;
    }

    n = strtoll(s, &end, 10);

    if (n < 0 || n > 100000000) {
        return -1;
    }

    if (*end == '\0' || strcmp(end, "s") == 0) {
        return n;
    }

    if (strcmp(end, "m") == 0) {
        return n * 60;
    }

    if (strcmp(end, "h") == 0) {
        return n * 3600;
    }

    if (strcmp(end, "d") == 0) {
        return n * 86400;
    }

    return -1;
}


int
check_preview_link(const persona_rules_t *rules, const char *url,
    const char *value, const char *token, int64_t now, int64_t ttl)
{
    int                        rc;
    char                       exp[32];
    char                       sig[PERSONA_PREVIEW_SIG_LEN + 1];
    size_t                     i, len, n;
    const char                *hash;
    persona_error_t            err;
    persona_preview_t          pv;
    const persona_variant_t  **forced;

    static const char  hex[] = "0123456789ABCDEF";

    len = strlen(value);

    if (len == 0 || len > PERSONA_PREVIEW_VALUE_MAX) {
        fprintf(stderr, "persona-check: preview value of %zu bytes "
                "(1 to %d)\n", len, PERSONA_PREVIEW_VALUE_MAX);
        return 1;
    }

    if (*token == '\0') {
        fprintf(stderr, "persona-check: empty --token\n");
        return 1;
    }

    if (ttl <= 0 || ttl > PERSONA_PREVIEW_MAX_AHEAD) {
        fprintf(stderr, "persona-check: --ttl must be more than 0 and at "
                "most 7d (nginx ignores links valid for longer)\n");
        return 1;
    }

    if (rules) {
        forced = calloc(rules->nexperiments + 1, sizeof(void *));
        if (forced == NULL) {
            fprintf(stderr, "persona-check: out of memory\n");
            return 1;
        }

        rc = persona_preview_parse(rules, value, len, &pv, forced, &err);
        free(forced);

        if (rc != PERSONA_OK) {
            fprintf(stderr, "persona-check: preview \"%s\": %s (nginx would "
                    "ignore it)\n", value, err.msg);
            return 1;
        }
    }

    snprintf(exp, sizeof(exp), "%lld", (long long) (now + ttl));

    if (persona_preview_sign(token, strlen(token), value, len, exp,
                             strlen(exp), sig)
        != PERSONA_OK)
    {
        fprintf(stderr, "persona-check: cannot compute HMAC-SHA256\n");
        return 1;
    }

    hash = strchr(url, '#');
    n = hash ? (size_t) (hash - url) : strlen(url);

    printf("%.*s", (int) n, url);

    if (memchr(url, '?', n) == NULL) {
        putchar('?');

    } else if (n && url[n - 1] != '?' && url[n - 1] != '&') {
        putchar('&');
    }

    printf("persona_preview=");

    for (i = 0; i < len; i++) {
        unsigned char c = (unsigned char) value[i];

        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')
            || (c >= '0' && c <= '9') || (c && strchr("-._~,=:", c)))
        {
            putchar(c);

        } else {
            printf("%%%c%c", hex[c >> 4], hex[c & 0xf]);
        }
    }

    printf("&persona_preview_exp=%s&persona_preview_sig=%s%s\n", exp, sig,
           hash ? hash : "");

    return 0;
}
