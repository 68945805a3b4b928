/*
 * JSON with source positions.
 *
 * jansson parses the rules, but it reports a position only for syntax
 * errors: a parsed json_t does not know where it came from.  Marketers
 * need "file:line:column" for semantic errors too ("unknown operator",
 * "unknown segment"), so after jansson accepted the text a small scanner
 * walks the same bytes and records where every value and every object
 * key starts, and the two trees are joined: each persona_jnode_t holds
 * the jansson value and its position.  Lines and columns count from 1;
 * columns count characters (UTF-8 code points), as jansson's do.
 */

#ifndef PERSONA_JSON_H
#define PERSONA_JSON_H

#include <jansson.h>

#include "persona_core.h"


typedef struct persona_jnode_s  persona_jnode_t;

struct persona_jnode_s {
    json_t            *value;       /* borrowed from the document */
    persona_str_t      key;         /* member name (members only) */
    unsigned           line;        /* where the value starts */
    unsigned           column;
    unsigned           key_line;    /* where the member name starts */
    unsigned           key_column;
    size_t             offset;      /* byte offset of the value */
    persona_jnode_t   *child;       /* members or elements, in order */
    size_t             nchild;
};


typedef struct {
    const char        *text;
    size_t             len;
    json_t            *json;        /* owned, see persona_json_close() */
    persona_jnode_t   *root;
} persona_json_t;


/*
 * Parses text (a leading UTF-8 BOM is skipped; duplicate keys are an
 * error).  The text must outlive the document.  Nodes come from the
 * allocator.  On a syntax error err holds jansson's message and
 * position.
 */
int persona_json_parse(persona_json_t *doc, const char *text, size_t len,
    persona_alloc_t *a, persona_error_t *err);

/* releases the jansson tree (nodes belong to the allocator) */
void persona_json_close(persona_json_t *doc);

/* member of an object node by name, or NULL */
const persona_jnode_t *persona_json_get(const persona_jnode_t *obj,
    const char *key);

/*
 * Position of the character at byte "off" of a string value's decoded
 * text (escapes taken into account), e.g. for a bad "{{" in a template.
 */
void persona_json_string_pos(const persona_json_t *doc,
    const persona_jnode_t *str, size_t off, unsigned *line,
    unsigned *column);

/* position of byte "off" of a plain text (a block file) */
void persona_text_pos(const char *text, size_t len, size_t off,
    unsigned *line, unsigned *column);

/* sets err->line/column to the value's or the member name's position */
void persona_json_at(persona_error_t *err, const persona_jnode_t *n);
void persona_json_at_key(persona_error_t *err, const persona_jnode_t *n);


#endif /* PERSONA_JSON_H */
