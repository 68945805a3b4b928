/*
 * Prometheus text format 0.0.4, the parts persona_metrics needs that
 * deserve a test of their own: escaping a label value, and the bucket of
 * a histogram an observation falls in.
 */

#ifndef PERSONA_PROM_H
#define PERSONA_PROM_H

#include <stddef.h>
#include <stdint.h>


/*
 * Writes the label value src[0..len) into dst as the text format wants it
 * between double quotes: backslash as \\, double quote as \", line feed
 * as \n, every other byte as it is.  Writes at most room bytes and never
 * half an escape; returns the number written.  2 * len bytes always do.
 */
size_t persona_prom_escape(char *dst, size_t room, const char *src,
    size_t len);

/*
 * The bucket of value v among the n upper bounds, ascending: the first i
 * with v <= bounds[i] ("le" is "less than or equal"), or n (+Inf).
 */
size_t persona_prom_bucket(const uint64_t *bounds, size_t n, uint64_t v);


#endif /* PERSONA_PROM_H */
