/*
 * What the injection filter writes besides the blocks: the data layer
 * script and the private form of a Cache-Control value.
 *
 * Data layer: persona_data_layer() builds
 *
 *     <script>window.persona={"segment":"vip","segments":["vip","spender"],
 *     "variants":{"hero-copy":"urgency"}};</script>
 *
 * (one line) from the values of $persona_segment, $persona_segments
 * (comma-separated) and $persona_variants ("exp=variant" pairs,
 * comma-separated).  The JSON comes from jansson; then every '<', '>',
 * '&', U+2028 and U+2029 is written as a \uXXXX escape, so the text can
 * neither end the script element nor open a comment or CDATA section,
 * and stays valid JavaScript in old engines.  Empty list items, and
 * items that are not valid UTF-8 or hold a control byte (0x00-0x1f,
 * 0x7f: a segment may come from a profile), are left out; such a segment
 * is "".
 *
 * Cache-Control: persona_cache_control_private() turns a value (several
 * header lines joined with ", ") into one for a page that depends on
 * the visitor: "private" first, then every directive of the value in
 * order except public, private and s-maxage (any case, with or without
 * an argument).  no-store, no-cache, max-age and the others are kept as
 * written.  Commas inside quoted strings do not split directives.
 */

#ifndef PERSONA_OUTPUT_H
#define PERSONA_OUTPUT_H

#include "persona_core.h"


#define PERSONA_DATA_LAYER_START  "<script>window.persona="
#define PERSONA_DATA_LAYER_END    ";</script>"

/* room persona_cache_control_private() needs for a value of len bytes */
#define PERSONA_CACHE_CONTROL_SIZE(len)  (2 * (len) + 16)


/*
 * The script into memory from a.  Returns PERSONA_OK, PERSONA_NOMEM, or
 * PERSONA_ERROR when jansson fails.
 */
int persona_data_layer(const persona_str_t *segment,
    const persona_str_t *segments, const persona_str_t *variants,
    persona_alloc_t *a, persona_str_t *out);

/*
 * Escapes JSON text for a <script> element: < > & as \u003c \u003e
 * \u0026, U+2028 and U+2029 as \u2028 and \u2029.  With dst NULL only
 * counts; returns the length of the result (at most 6 * len).
 */
size_t persona_json_script_escape(const char *src, size_t len, char *dst);

/*
 * Writes the private form of src/len into dst, which has room for
 * PERSONA_CACHE_CONTROL_SIZE(len) bytes, and returns its length (not
 * NUL-terminated).  An empty src gives "private".
 */
size_t persona_cache_control_private(const char *src, size_t len,
    char *dst);


#endif /* PERSONA_OUTPUT_H */
