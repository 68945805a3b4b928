/*
 * Redis Cluster key slots and the slot map: see persona_slot.h.
 */

#include <string.h>

#include "persona_slot.h"


uint16_t
persona_crc16(const char *buf, size_t len)
{
    size_t    i;
    unsigned  bit;
    uint16_t  crc;

    crc = 0;

    for (i = 0; i < len; i++) {
        crc ^= (uint16_t) ((unsigned char) buf[i] << 8);

        for (bit = 0; bit < 8; bit++) {
            crc = (crc & 0x8000) ? (uint16_t) ((crc << 1) ^ 0x1021)
                                 : (uint16_t) (crc << 1);
        }
    }

    return crc;
}


unsigned
persona_slot(const char *key, size_t len)
{
    const char  *open, *close;

    open = memchr(key, '{', len);

    if (open != NULL) {
        close = memchr(open + 1, '}', len - (size_t) (open + 1 - key));

        if (close != NULL && close > open + 1) {
            key = open + 1;
            len = (size_t) (close - key);
        }
    }

    return persona_crc16(key, len) & (PERSONA_SLOTS - 1);
}


static int
persona_slot_integer(const redisReply *r, long long max, unsigned *out)
{
    if (r->type != REDIS_REPLY_INTEGER || r->integer < 0
        || r->integer > max)
    {
        return PERSONA_ERROR;
    }

    *out = (unsigned) r->integer;

    return PERSONA_OK;
}


static int
persona_slot_node(persona_slot_node_t *node, const redisReply *r,
    const char *default_host, size_t default_host_len, persona_alloc_t *a,
    persona_error_t *err)
{
    const redisReply  *host;

    if (r->type != REDIS_REPLY_ARRAY || r->elements < 2) {
        persona_error_set(err, "a node is not an array of host and port");
        return PERSONA_ERROR;
    }

    host = r->element[0];

    if (host->type != REDIS_REPLY_STRING
        || host->len > PERSONA_SLOT_HOST_MAX)
    {
        persona_error_set(err, "a node's host is not a short string");
        return PERSONA_ERROR;
    }

    if (persona_slot_integer(r->element[1], 65535, &node->port) != PERSONA_OK
        || node->port == 0)
    {
        persona_error_set(err, "a node's port is not in 1..65535");
        return PERSONA_ERROR;
    }

    if (host->len == 0 || (host->len == 1 && host->str[0] == '?')) {
        node->host.data = persona_strndup(a, default_host,
                                          default_host_len);
        node->host.len = default_host_len;

    } else {
        if (memchr(host->str, '\0', host->len) != NULL) {
            persona_error_set(err, "a node's host holds a NUL byte");
            return PERSONA_ERROR;
        }

        node->host.data = persona_strndup(a, host->str, host->len);
        node->host.len = host->len;
    }

    return node->host.data ? PERSONA_OK : PERSONA_NOMEM;
}


int
persona_slot_map_decode(persona_slot_map_t *map, const redisReply *r,
    const char *default_host, size_t default_host_len, persona_alloc_t *a,
    persona_error_t *err)
{
    int                    rc;
    size_t                 i, j, k;
    const redisReply      *e;
    persona_slot_range_t  *range, tmp;

    map->ranges = NULL;
    map->nranges = 0;
    map->covered = 0;

    if (r->type != REDIS_REPLY_ARRAY) {
        persona_error_set(err, "CLUSTER SLOTS reply is not an array");
        return PERSONA_ERROR;
    }

    if (r->elements > PERSONA_SLOTS) {
        persona_error_set(err, "CLUSTER SLOTS reply has %zu ranges",
                          r->elements);
        return PERSONA_ERROR;
    }

    if (r->elements) {
        map->ranges = persona_alloc(a, r->elements * sizeof(*range));
        if (map->ranges == NULL) {
            return PERSONA_NOMEM;
        }
    }

    for (i = 0; i < r->elements; i++) {
        e = r->element[i];
        range = &map->ranges[i];
        memset(range, 0, sizeof(*range));

        if (e->type != REDIS_REPLY_ARRAY || e->elements < 3) {
            persona_error_set(err, "range %zu is not [start, end, master]",
                              i);
            return PERSONA_ERROR;
        }

        if (persona_slot_integer(e->element[0], PERSONA_SLOTS - 1,
                                 &range->start) != PERSONA_OK
            || persona_slot_integer(e->element[1], PERSONA_SLOTS - 1,
                                    &range->end) != PERSONA_OK
            || range->end < range->start)
        {
            persona_error_set(err, "range %zu has slots outside 0..16383",
                              i);
            return PERSONA_ERROR;
        }

        rc = persona_slot_node(&range->master, e->element[2], default_host,
                               default_host_len, a, err);
        if (rc != PERSONA_OK) {
            return rc;
        }

        for (j = 3; j < e->elements
                    && range->nreplicas < PERSONA_SLOT_REPLICAS; j++)
        {
            rc = persona_slot_node(&range->replicas[range->nreplicas],
                                   e->element[j], default_host,
                                   default_host_len, a, err);
            if (rc != PERSONA_OK) {
                return rc;
            }

            range->nreplicas++;
        }

        /* insertion sort by start: a reply lists few ranges */
        for (k = i; k > 0 && map->ranges[k - 1].start > range->start; k--) {
            tmp = map->ranges[k - 1];
            map->ranges[k - 1] = map->ranges[k];
            map->ranges[k] = tmp;
            range = &map->ranges[k - 1];
        }

        map->nranges++;
    }

    for (i = 0; i < map->nranges; i++) {
        if (i > 0 && map->ranges[i].start <= map->ranges[i - 1].end) {
            persona_error_set(err, "ranges %u-%u and %u-%u overlap",
                              map->ranges[i - 1].start,
                              map->ranges[i - 1].end, map->ranges[i].start,
                              map->ranges[i].end);
            return PERSONA_ERROR;
        }

        map->covered += map->ranges[i].end - map->ranges[i].start + 1;
    }

    return PERSONA_OK;
}


const persona_slot_range_t *
persona_slot_map_find(const persona_slot_map_t *map, unsigned slot)
{
    size_t  lo, hi, mid;

    lo = 0;
    hi = map->nranges;

    while (lo < hi) {
        mid = lo + (hi - lo) / 2;

        if (map->ranges[mid].end < slot) {
            lo = mid + 1;

        } else if (map->ranges[mid].start > slot) {
            hi = mid;

        } else {
            return &map->ranges[mid];
        }
    }

    return NULL;
}


int
persona_slot_redirect(const char *str, size_t len, unsigned *slot,
    persona_slot_node_t *node)
{
    int          kind;
    size_t       n;
    unsigned     port, value;
    const char  *p, *end, *colon;

    end = str + len;

    if (len > 6 && memcmp(str, "MOVED ", 6) == 0) {
        kind = PERSONA_REDIRECT_MOVED;
        p = str + 6;

    } else if (len > 4 && memcmp(str, "ASK ", 4) == 0) {
        kind = PERSONA_REDIRECT_ASK;
        p = str + 4;

    } else {
        return 0;
    }

    value = 0;

    for (n = 0; p < end && *p >= '0' && *p <= '9'; p++, n++) {
        value = value * 10 + (unsigned) (*p - '0');

        if (value >= PERSONA_SLOTS) {
            return 0;
        }
    }

    if (n == 0 || p == end || *p != ' ') {
        return 0;
    }

    p++;

    colon = NULL;

    for (n = 0; p + n < end; n++) {
        if (p[n] == ':') {
            colon = p + n;
        }
    }

    if (colon == NULL || colon == p || colon + 1 == end) {
        return 0;
    }

    port = 0;

    for (n = 1; colon + n < end; n++) {
        if (colon[n] < '0' || colon[n] > '9') {
            return 0;
        }

        port = port * 10 + (unsigned) (colon[n] - '0');

        if (port > 65535) {
            return 0;
        }
    }

    if (port == 0) {
        return 0;
    }

    *slot = value;
    node->host.data = p;
    node->host.len = (size_t) (colon - p);
    node->port = port;

    return kind;
}
