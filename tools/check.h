/*
 * persona-check's modes beyond checking, --explain and --test (one file
 * each): --id (tools/check_id.c) and --preview-link
 * (tools/check_preview.c).
 */

#ifndef CHECK_H
#define CHECK_H

#include <stdint.h>

#include "persona_rules.h"


/*
 * Prints the variant of visitor id in each experiment of rules, with the
 * function nginx uses (persona_bucket_variant): the buckets, the holdout
 * and the segments the experiment is for.
 */
void check_ids(const persona_rules_t *rules, const char *id);

/*
 * Prints url with a signed preview of value appended, valid for ttl
 * seconds from now.  rules (NULL: not checked) must know the names in
 * value.  Returns 0, or 1 with a message on stderr.
 */
int check_preview_link(const persona_rules_t *rules, const char *url,
    const char *value, const char *token, int64_t now, int64_t ttl);

/* "90s", "15m", "12h", "1d" (a number alone: seconds) -> seconds, or -1 */
int64_t check_duration(const char *s);


#endif /* CHECK_H */
