/*
 * GeoIP fields: names, MaxMind DB lookup paths and value formatting.
 */

#include <stdio.h>
#include <string.h>

#include "persona_geo.h"


static const char *const  persona_geo_country_path[] = {
    "country", "iso_code", NULL
};

static const char *const  persona_geo_continent_path[] = {
    "continent", "code", NULL
};

static const char *const  persona_geo_city_path[] = {
    "city", "names", "en", NULL
};

static const char *const  persona_geo_subdivision_path[] = {
    "subdivisions", "0", "iso_code", NULL
};

static const char *const  persona_geo_latitude_path[] = {
    "location", "latitude", NULL
};

static const char *const  persona_geo_longitude_path[] = {
    "location", "longitude", NULL
};

static const char *const  persona_geo_time_zone_path[] = {
    "location", "time_zone", NULL
};


#define persona_geo_name(s)  { s, sizeof(s) - 1 }

/* in persona_geo_e order */
static const persona_geo_field_t  persona_geo_fields[] = {
    { PERSONA_GEO_COUNTRY, persona_geo_name("country"), PERSONA_GEO_TEXT,
      persona_geo_country_path, 0 },
    { PERSONA_GEO_CONTINENT, persona_geo_name("continent"), PERSONA_GEO_TEXT,
      persona_geo_continent_path, 0 },
    { PERSONA_GEO_CITY, persona_geo_name("city"), PERSONA_GEO_TEXT,
      persona_geo_city_path, 0 },
    { PERSONA_GEO_SUBDIVISION, persona_geo_name("subdivision"),
      PERSONA_GEO_TEXT, persona_geo_subdivision_path, 0 },
    { PERSONA_GEO_LATITUDE, persona_geo_name("latitude"), PERSONA_GEO_COORD,
      persona_geo_latitude_path, 1 },
    { PERSONA_GEO_LONGITUDE, persona_geo_name("longitude"), PERSONA_GEO_COORD,
      persona_geo_longitude_path, 1 },
    { PERSONA_GEO_TIME_ZONE, persona_geo_name("time_zone"), PERSONA_GEO_TEXT,
      persona_geo_time_zone_path, 1 }
};


const persona_geo_field_t *
persona_geo_field(const char *name, size_t len)
{
    size_t  i;

    for (i = 0; i < PERSONA_GEO_NFIELDS; i++) {
        if (persona_geo_fields[i].name.len == len
            && memcmp(persona_geo_fields[i].name.data, name, len) == 0)
        {
            return &persona_geo_fields[i];
        }
    }

    return NULL;
}


const persona_geo_field_t *
persona_geo_field_by_id(unsigned id)
{
    if (id >= PERSONA_GEO_NFIELDS) {
        return NULL;
    }

    return &persona_geo_fields[id];
}


size_t
persona_geo_format_coord(double v, char *buf, size_t size)
{
    int  n;

    if (size == 0) {
        return 0;
    }

    buf[0] = '\0';

    /* false for NaN too */
    if (!(v >= -180.0 && v <= 180.0)) {
        return 0;
    }

    n = snprintf(buf, size, "%.4f", v);

    if (n <= 0 || (size_t) n >= size) {
        buf[0] = '\0';
        return 0;
    }

    if (strcmp(buf, "-0.0000") == 0) {
        memmove(buf, buf + 1, (size_t) n);
        n--;
    }

    return (size_t) n;
}


size_t
persona_geo_copy_text(char *dst, const char *src, size_t len)
{
    size_t          i, n;
    unsigned char   c;

    n = 0;

    for (i = 0; i < len; i++) {
        c = (unsigned char) src[i];

        if (c < 0x20 || c == 0x7f) {
            continue;
        }

        dst[n++] = (char) c;
    }

    return n;
}
