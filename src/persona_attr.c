/*
 * Attribute names, the device classifier and the Accept-Language parser.
 */

#ifndef _GNU_SOURCE
#define _GNU_SOURCE             /* memmem */
#endif

#include <string.h>

#include "persona_attr.h"


#define PERSONA_ATTR_SHOW  48     /* bytes of a bad name quoted in errors */


typedef struct {
    const char  *name;
    unsigned     ns;
} persona_attr_fixed_t;


static const persona_attr_fixed_t  persona_attr_fixed[] = {
    { "request.path",    PERSONA_ATTR_REQUEST_PATH },
    { "request.host",    PERSONA_ATTR_REQUEST_HOST },
    { "request.method",  PERSONA_ATTR_REQUEST_METHOD },
    { "referer.host",    PERSONA_ATTR_REFERER_HOST },
    { "device",          PERSONA_ATTR_DEVICE },
    { "lang",            PERSONA_ATTR_LANG },
    { "time.hour",       PERSONA_ATTR_TIME_HOUR },
    { "time.weekday",    PERSONA_ATTR_TIME_WEEKDAY },
    { "time.date",       PERSONA_ATTR_TIME_DATE },
    { "visitor.known",   PERSONA_ATTR_VISITOR_KNOWN },
    { "visitor.new",     PERSONA_ATTR_VISITOR_NEW },
    { NULL, 0 }
};


static const char  *persona_geo_fields[] = {
    "country", "continent", "city", "subdivision", "latitude", "longitude",
    "time_zone", NULL
};


/* namespaces whose fields are fixed, with what to suggest */
typedef struct {
    const char  *prefix;
    const char  *expected;
} persona_attr_hint_t;


static const persona_attr_hint_t  persona_attr_hints[] = {
    { "request", "request.path, request.host or request.method" },
    { "referer", "referer.host" },
    { "time", "time.hour, time.weekday or time.date" },
    { "visitor", "visitor.known or visitor.new" },
    { "device", "device" },
    { "lang", "lang" },
    { "geo", "geo.country, geo.continent, geo.city, geo.subdivision, "
             "geo.latitude, geo.longitude or geo.time_zone" },
    { NULL, NULL }
};


static int persona_attr_tchar(unsigned char c);
static int persona_attr_name_ok(const char *p, size_t len, int dotted);
static persona_attr_t *persona_attrs_add(persona_attrs_t *t,
    const char *full, size_t len, size_t skip, unsigned ns, unsigned field,
    int lower);


void
persona_attrs_init(persona_attrs_t *t, persona_alloc_t *a)
{
    memset(t, 0, sizeof(persona_attrs_t));
    t->alloc = a;
}


const persona_attr_t *
persona_attr_resolve(persona_attrs_t *t, const char *name, size_t len,
    persona_error_t *err)
{
    size_t                      i, n, plen;
    const char                 *dot, *rest;
    persona_attr_t             *attr;
    const persona_attr_hint_t  *h;

    for (i = 0; i < t->nattrs; i++) {
        if (t->attrs[i]->full.len == len
            && memcmp(t->attrs[i]->full.data, name, len) == 0)
        {
            return t->attrs[i];
        }
    }

    for (i = 0; persona_attr_fixed[i].name; i++) {
        n = strlen(persona_attr_fixed[i].name);

        if (n == len && memcmp(persona_attr_fixed[i].name, name, n) == 0) {
            attr = persona_attrs_add(t, name, len, len,
                                     persona_attr_fixed[i].ns, 0, 0);
            goto done;
        }
    }

    dot = memchr(name, '.', len);
    plen = dot ? (size_t) (dot - name) : len;
    rest = dot ? dot + 1 : name + len;
    n = dot ? len - plen - 1 : 0;

    if (dot && plen == 3 && memcmp(name, "geo", 3) == 0) {
        for (i = 0; persona_geo_fields[i]; i++) {
            if (strlen(persona_geo_fields[i]) == n
                && memcmp(persona_geo_fields[i], rest, n) == 0)
            {
                attr = persona_attrs_add(t, name, len, 4, PERSONA_ATTR_GEO,
                                         (unsigned) i, 0);
                goto done;
            }
        }
    }

    for (h = persona_attr_hints; h->prefix; h++) {
        if (strlen(h->prefix) == plen && memcmp(h->prefix, name, plen) == 0) {
            persona_error_set(err, "unknown attribute \"%.*s\": expected %s",
                              (int) (len > PERSONA_ATTR_SHOW
                                     ? PERSONA_ATTR_SHOW : len),
                              name, h->expected);
            return NULL;
        }
    }

#define PERSONA_NS(str, id, dotted, lower)                                   \
    if (plen == sizeof(str) - 1 && memcmp(name, str, plen) == 0) {           \
        if (dot == NULL || !persona_attr_name_ok(rest, n, dotted)) {         \
            goto bad_field;                                                  \
        }                                                                    \
        attr = persona_attrs_add(t, name, len, plen + 1, id, 0, lower);      \
        goto done;                                                           \
    }

    PERSONA_NS("profile", PERSONA_ATTR_PROFILE, 1, 0)
    PERSONA_NS("arg", PERSONA_ATTR_ARG, 0, 0)
    PERSONA_NS("header", PERSONA_ATTR_HEADER, 2, 1)
    PERSONA_NS("cookie", PERSONA_ATTR_COOKIE, 2, 0)
    PERSONA_NS("var", PERSONA_ATTR_VAR, 3, 1)

#undef PERSONA_NS

    persona_error_set(err, "unknown attribute \"%.*s\": expected profile.*, "
                      "geo.*, arg.*, header.*, cookie.*, var.*, request.*, "
                      "referer.host, device, lang, time.* or visitor.*",
                      (int) (len > PERSONA_ATTR_SHOW ? PERSONA_ATTR_SHOW
                                                     : len), name);
    return NULL;

bad_field:

    persona_error_set(err, "bad attribute \"%.*s\": expected %.*s.NAME with "
                      "%s", (int) (len > PERSONA_ATTR_SHOW ? PERSONA_ATTR_SHOW
                                                          : len), name,
                      (int) plen, name,
                      (plen == 3 && name[0] == 'v')
                          ? "letters, digits and \"_\" in NAME"
                      : (plen == 6)
                          ? "a token in NAME (letters, digits, "
                            "!#$%&'*+-.^_`|~)"
                          : "a NAME without spaces, braces or \"|\"");
    return NULL;

done:

    if (attr == NULL) {
        persona_error_set(err, "out of memory");
        return NULL;
    }

    t->uses |= PERSONA_ATTR_BIT(attr->ns);

    return attr;
}


/*
 * dotted: 0 any visible byte but {}| (args), 1 the same with non-empty
 * dot-separated parts (profile), 2 HTTP token (header, cookie),
 * 3 nginx variable name
 */
static int
persona_attr_name_ok(const char *p, size_t len, int dotted)
{
    size_t         i;
    unsigned char  c;

    if (len == 0) {
        return 0;
    }

    for (i = 0; i < len; i++) {
        c = (unsigned char) p[i];

        switch (dotted) {

        case 2:
            if (!persona_attr_tchar(c)) {
                return 0;
            }
            break;

        case 3:
            if (!(c == '_' || (c >= '0' && c <= '9')
                  || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')))
            {
                return 0;
            }
            break;

        default:
            if (c <= 0x20 || c == 0x7f || c == '{' || c == '}' || c == '|') {
                return 0;
            }

            if (dotted == 1 && c == '.'
                && (i == 0 || i == len - 1 || p[i + 1] == '.'))
            {
                return 0;
            }
        }
    }

    return 1;
}


static int
persona_attr_tchar(unsigned char c)
{
    if ((c >= '0' && c <= '9') || ((c | 0x20) >= 'a' && (c | 0x20) <= 'z')) {
        return 1;
    }

    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}


static persona_attr_t *
persona_attrs_add(persona_attrs_t *t, const char *full, size_t len,
    size_t skip, unsigned ns, unsigned field, int lower)
{
    size_t           i, nalloc;
    char            *p;
    persona_attr_t  *attr, **attrs;

    if (t->nattrs == t->nalloc) {
        nalloc = t->nalloc ? t->nalloc * 2 : 16;
        attrs = persona_alloc(t->alloc, nalloc * sizeof(persona_attr_t *));
        if (attrs == NULL) {
            return NULL;
        }

        if (t->nattrs) {
            memcpy(attrs, t->attrs, t->nattrs * sizeof(persona_attr_t *));
        }

        t->attrs = attrs;
        t->nalloc = nalloc;
    }

    attr = persona_alloc(t->alloc, sizeof(persona_attr_t));
    p = persona_strndup(t->alloc, full, len);
    if (attr == NULL || p == NULL) {
        return NULL;
    }

    attr->ns = ns;
    attr->field = field;
    attr->index = (unsigned) t->nattrs;
    attr->full.data = p;
    attr->full.len = len;

    if (lower && skip < len) {
        p = persona_strndup(t->alloc, full + skip, len - skip);
        if (p == NULL) {
            return NULL;
        }

        for (i = 0; i < len - skip; i++) {
            if (p[i] >= 'A' && p[i] <= 'Z') {
                p[i] |= 0x20;
            }
        }

        attr->name.data = p;

    } else {
        attr->name.data = attr->full.data + skip;
    }

    attr->name.len = len - skip;

    t->attrs[t->nattrs++] = attr;

    return attr;
}


/*
 * The User-Agent is lowercased once (its first PERSONA_UA_SCAN bytes,
 * where every token below appears in real User-Agents) and searched with
 * memmem, so a browser's User-Agent costs about a microsecond.
 */
#define PERSONA_UA_SCAN  1024
#define PERSONA_UA_TOKEN(s)  { s, sizeof(s) - 1 }

typedef struct {
    const char  *s;
    size_t       len;
} persona_ua_token_t;


static int
persona_ua_has(const char *ua, size_t len, const persona_ua_token_t *t)
{
    for ( /* void */ ; t->s; t++) {
        if (memmem(ua, len, t->s, t->len) != NULL) {
            return 1;
        }
    }

    return 0;
}


persona_device_e
persona_device(const char *ua, size_t len)
{
    size_t  i;
    char    lc[PERSONA_UA_SCAN];

    static const persona_ua_token_t  bots[] = {
        PERSONA_UA_TOKEN("bot"), PERSONA_UA_TOKEN("crawl"),
        PERSONA_UA_TOKEN("spider"), PERSONA_UA_TOKEN("slurp"),
        PERSONA_UA_TOKEN("archiver"),
        PERSONA_UA_TOKEN("facebookexternalhit"),
        PERSONA_UA_TOKEN("embedly"), PERSONA_UA_TOKEN("preview"),
        PERSONA_UA_TOKEN("headless"), PERSONA_UA_TOKEN("lighthouse"),
        PERSONA_UA_TOKEN("pingdom"), PERSONA_UA_TOKEN("monitor"),
        PERSONA_UA_TOKEN("curl/"), PERSONA_UA_TOKEN("wget/"),
        PERSONA_UA_TOKEN("python-"), PERSONA_UA_TOKEN("java/"),
        PERSONA_UA_TOKEN("go-http-client"), PERSONA_UA_TOKEN("httpclient"),
        PERSONA_UA_TOKEN("okhttp"), PERSONA_UA_TOKEN("libwww"),
        PERSONA_UA_TOKEN("scrapy"), { NULL, 0 }
    };

    static const persona_ua_token_t  tablets[] = {
        PERSONA_UA_TOKEN("ipad"), PERSONA_UA_TOKEN("tablet"),
        PERSONA_UA_TOKEN("kindle"), PERSONA_UA_TOKEN("silk/"),
        PERSONA_UA_TOKEN("playbook"), { NULL, 0 }
    };

    static const persona_ua_token_t  mobiles[] = {
        PERSONA_UA_TOKEN("mobi"), PERSONA_UA_TOKEN("iphone"),
        PERSONA_UA_TOKEN("ipod"), PERSONA_UA_TOKEN("android"),
        PERSONA_UA_TOKEN("windows phone"), PERSONA_UA_TOKEN("blackberry"),
        PERSONA_UA_TOKEN("bb10"), PERSONA_UA_TOKEN("opera mini"),
        PERSONA_UA_TOKEN("iemobile"), { NULL, 0 }
    };

    static const persona_ua_token_t  android[] = {
        PERSONA_UA_TOKEN("android"), { NULL, 0 }
    };

    static const persona_ua_token_t  mobile[] = {
        PERSONA_UA_TOKEN("mobile"), { NULL, 0 }
    };

    if (len == 0) {
        return PERSONA_DEVICE_BOT;
    }

    if (len > PERSONA_UA_SCAN) {
        len = PERSONA_UA_SCAN;
    }

    for (i = 0; i < len; i++) {
        lc[i] = (ua[i] >= 'A' && ua[i] <= 'Z') ? (char) (ua[i] | 0x20)
                                               : ua[i];
    }

    if (persona_ua_has(lc, len, bots)) {
        return PERSONA_DEVICE_BOT;
    }

    if (persona_ua_has(lc, len, tablets)) {
        return PERSONA_DEVICE_TABLET;
    }

    if (persona_ua_has(lc, len, android) && !persona_ua_has(lc, len, mobile))
    {
        return PERSONA_DEVICE_TABLET;
    }

    if (persona_ua_has(lc, len, mobiles)) {
        return PERSONA_DEVICE_MOBILE;
    }

    return PERSONA_DEVICE_DESKTOP;
}


persona_str_t
persona_device_name(persona_device_e device)
{
    persona_str_t  s;

    static const char  *names[] = { "desktop", "mobile", "tablet", "bot" };

    if ((unsigned) device > PERSONA_DEVICE_BOT) {
        device = PERSONA_DEVICE_DESKTOP;
    }

    s.data = names[device];
    s.len = strlen(names[device]);

    return s;
}


size_t
persona_lang(const char *al, size_t len, char *buf)
{
    size_t       i, end, tag, taglen, best_len, n;
    unsigned     q, best_q, frac;
    const char  *p;

    best_len = 0;
    best_q = 0;
    i = 0;

    while (i < len) {

        /* one comma-separated item: tag [; param]... */

        end = i;
        while (end < len && al[end] != ',') {
            end++;
        }

        while (i < end && (al[i] == ' ' || al[i] == '\t')) {
            i++;
        }

        tag = i;
        while (i < end && ((al[i] | 0x20) >= 'a' && (al[i] | 0x20) <= 'z')) {
            i++;
        }

        taglen = i - tag;

        /* the primary subtag ends at "-", "_", ";", blank or the item end */
        if (i < end && al[i] != '-' && al[i] != '_' && al[i] != ';'
            && al[i] != ' ' && al[i] != '\t')
        {
            taglen = 0;
        }

        q = 1000;

        for (p = al + i; p < al + end; p++) {
            if (*p != ';') {
                continue;
            }

            p++;
            while (p < al + end && (*p == ' ' || *p == '\t')) {
                p++;
            }

            if (p + 1 < al + end && (p[0] | 0x20) == 'q' && p[1] == '=') {
                p += 2;
                q = 0;

                if (p < al + end && *p == '1') {
                    q = 1000;

                } else if (p < al + end && *p == '0') {
                    p++;

                    if (p < al + end && *p == '.') {
                        p++;
                        for (n = 0, frac = 100; n < 3; n++, frac /= 10) {
                            if (p >= al + end || *p < '0' || *p > '9') {
                                break;
                            }

                            q += (unsigned) (*p - '0') * frac;
                            p++;
                        }
                    }
                }

                break;
            }
        }

        if (taglen >= 1 && taglen <= PERSONA_LANG_MAX && q > best_q) {
            best_q = q;
            best_len = taglen;

            for (n = 0; n < taglen; n++) {
                buf[n] = (char) (al[tag + n] | 0x20);
            }
        }

        i = end + 1;
    }

    return best_len;
}
