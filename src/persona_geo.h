/*
 * GeoIP fields: what "geo.FIELD" and $persona_geo_FIELD mean in a MaxMind
 * DB (GeoIP2 / GeoLite2 City or Country layout), and how values are
 * written out.  The nginx glue does the lookups with libmaxminddb.
 *
 *   country      country.iso_code            "CN"
 *   continent    continent.code              "AS"
 *   city         city.names.en               "Shenzhen"
 *   subdivision  subdivisions.0.iso_code     "GD" (the largest one)
 *   latitude     location.latitude           "22.5431" (4 decimals)
 *   longitude    location.longitude          "114.0579"
 *   time_zone    location.time_zone          "Asia/Shanghai"
 *
 * A field the record does not have, or has with another type, is empty.
 * The field ids are persona_geo_e (persona_attr.h), shared with the rules.
 */

#ifndef PERSONA_GEO_H
#define PERSONA_GEO_H

#include "persona_attr.h"


#define PERSONA_GEO_NFIELDS     (PERSONA_GEO_TIME_ZONE + 1)

/* the longest "-180.0000" and its NUL */
#define PERSONA_GEO_COORD_LEN   16


typedef enum {
    PERSONA_GEO_TEXT = 0,           /* utf8_string, copied as text */
    PERSONA_GEO_COORD               /* double or float, 4 decimals */
} persona_geo_type_e;


typedef struct {
    persona_geo_e         id;
    persona_str_t         name;     /* "time_zone" */
    persona_geo_type_e    type;
    const char *const    *path;     /* lookup path, NULL-terminated */
    /* 1: path starts with "location", whose map a reader can look up
     * once for latitude, longitude and time_zone, then use path + 1 */
    int                   in_location;
} persona_geo_field_t;


/* the field with that exact name, or NULL */
const persona_geo_field_t *persona_geo_field(const char *name, size_t len);

/* the field with that id, or NULL when id is out of range */
const persona_geo_field_t *persona_geo_field_by_id(unsigned id);

/*
 * Writes a latitude or longitude as "[-]D.DDDD" into buf (at least
 * PERSONA_GEO_COORD_LEN bytes), NUL-terminated, and returns its length;
 * 0 (buf "") when v is not a number within -180..180.  A value that
 * rounds to zero is written "0.0000", never "-0.0000".
 */
size_t persona_geo_format_coord(double v, char *buf, size_t size);

/*
 * Copies len bytes of src to dst (at least len bytes) leaving out control
 * bytes (0x00-0x1f, 0x7f), so a value is safe in a header or a log line;
 * returns the number of bytes written.
 */
size_t persona_geo_copy_text(char *dst, const char *src, size_t len);


#endif /* PERSONA_GEO_H */
