/*
 * Rule attributes: "profile.tier", "header.user-agent", "device", ...
 *
 * An attribute name is resolved once, when rules load, into a namespace
 * id and a field name.  At evaluation time values come through one
 * lookup callback the caller provides (the nginx glue reads request data,
 * persona-check reads a JSON file), so nothing is parsed per request.
 *
 * Also here: the two request classifiers the glue runs only when a rule
 * set uses them (see persona_attrs_t.uses): device class from User-Agent
 * and the primary language from Accept-Language.
 */

#ifndef PERSONA_ATTR_H
#define PERSONA_ATTR_H

#include "persona_core.h"


typedef enum {
    PERSONA_ATTR_PROFILE = 0,     /* profile.FIELD, dotted for nested */
    PERSONA_ATTR_GEO,             /* geo.FIELD, see persona_geo_e */
    PERSONA_ATTR_ARG,             /* arg.NAME */
    PERSONA_ATTR_HEADER,          /* header.NAME (name lowercased) */
    PERSONA_ATTR_COOKIE,          /* cookie.NAME */
    PERSONA_ATTR_VAR,             /* var.NAME (name lowercased) */
    PERSONA_ATTR_REQUEST_PATH,
    PERSONA_ATTR_REQUEST_HOST,
    PERSONA_ATTR_REQUEST_METHOD,
    PERSONA_ATTR_REFERER_HOST,
    PERSONA_ATTR_DEVICE,          /* mobile, tablet, desktop, bot */
    PERSONA_ATTR_LANG,            /* primary Accept-Language subtag */
    PERSONA_ATTR_TIME_HOUR,       /* 0..23 */
    PERSONA_ATTR_TIME_WEEKDAY,    /* mon..sun */
    PERSONA_ATTR_TIME_DATE,       /* YYYY-MM-DD */
    PERSONA_ATTR_VISITOR_KNOWN,   /* "true" / "false" */
    PERSONA_ATTR_VISITOR_NEW,     /* "true" / "false" */
    PERSONA_ATTR_NS_COUNT
} persona_attr_ns_e;


/* bit of a namespace in persona_attrs_t.uses */
#define PERSONA_ATTR_BIT(ns)  (1u << (ns))


typedef enum {
    PERSONA_GEO_COUNTRY = 0,
    PERSONA_GEO_CONTINENT,
    PERSONA_GEO_CITY,
    PERSONA_GEO_SUBDIVISION,
    PERSONA_GEO_LATITUDE,
    PERSONA_GEO_LONGITUDE,
    PERSONA_GEO_TIME_ZONE
} persona_geo_e;


typedef struct {
    unsigned        ns;      /* persona_attr_ns_e */
    unsigned        field;   /* persona_geo_e for geo.*, else 0 */
    unsigned        index;   /* dense: 0..nattrs-1 in its table */
    /* profile field, geo field, arg, header, cookie or variable name;
     * empty for the fixed attributes (device, time.hour, ...) */
    persona_str_t   name;
    persona_str_t   full;    /* as written in the rules: "profile.tier" */
} persona_attr_t;


/* lookup callback results */
#define PERSONA_ATTR_NOT_FOUND  0
#define PERSONA_ATTR_FOUND      1

/*
 * Returns PERSONA_ATTR_FOUND and sets *value, or PERSONA_ATTR_NOT_FOUND.
 * The value must stay valid until the evaluation or rendering that asked
 * for it returns.  Conventions for the fixed attributes: booleans are
 * "true"/"false", time.hour is "0".."23", time.weekday "mon".."sun",
 * time.date "YYYY-MM-DD", device one of persona_device_name().
 */
typedef int (*persona_lookup_pt)(void *data, const persona_attr_t *attr,
    persona_str_t *value);


/*
 * Interning table: every distinct attribute of a rule set once, with the
 * set of namespaces used, so the glue computes device or lang, or opens
 * geo, only when some rule uses them.
 */
typedef struct {
    persona_attr_t   **attrs;
    size_t             nattrs;
    size_t             nalloc;
    unsigned           uses;      /* PERSONA_ATTR_BIT(ns) of every attr */
    persona_alloc_t   *alloc;
} persona_attrs_t;


void persona_attrs_init(persona_attrs_t *t, persona_alloc_t *a);

/*
 * Resolves an attribute name; the same name twice gives the same
 * attribute.  Returns NULL with err->msg set (no position) for an unknown
 * namespace or field, or when out of memory.
 */
const persona_attr_t *persona_attr_resolve(persona_attrs_t *t,
    const char *name, size_t len, persona_error_t *err);


/*
 * Device class from a User-Agent, by case-insensitive substrings, first
 * rule that applies wins:
 *   bot     empty UA, or one of: bot crawl spider slurp archiver
 *           facebookexternalhit embedly preview headless lighthouse
 *           pingdom monitor curl/ wget/ python- java/ go-http-client
 *           httpclient okhttp libwww scrapy
 *   tablet  ipad, tablet, kindle, silk/, playbook, or android without
 *           "mobile"
 *   mobile  mobi (Mobile, Mobi), iphone, ipod, android, windows phone,
 *           blackberry, bb10, opera mini, iemobile
 *   desktop everything else (iPadOS 13+ sends a desktop UA: desktop)
 */
typedef enum {
    PERSONA_DEVICE_DESKTOP = 0,
    PERSONA_DEVICE_MOBILE,
    PERSONA_DEVICE_TABLET,
    PERSONA_DEVICE_BOT
} persona_device_e;

persona_device_e persona_device(const char *ua, size_t len);
persona_str_t persona_device_name(persona_device_e device);


/*
 * Primary language from Accept-Language: the primary subtag (the part
 * before "-" or "_"), lowercased, of the tag with the highest q value;
 * the first of equal q values wins.  "*", q=0 and tags whose primary
 * subtag is not 1..8 ASCII letters are skipped.  Writes at most
 * PERSONA_LANG_MAX bytes to buf and returns the length (0: none).
 *   "de-CH,de;q=0.9,en;q=0.8" -> "de"    "en;q=0.5, fr" -> "fr"
 */
#define PERSONA_LANG_MAX  8

size_t persona_lang(const char *al, size_t len, char *buf);


#endif /* PERSONA_ATTR_H */
