/*
 * Redis Cluster key slots and the slot map.
 *
 * A key's slot is CRC16 (XMODEM: polynomial 0x1021, initial value 0, no
 * reflection, no final xor) of the key modulo 16384; when the key holds a
 * hash tag, only the tag is hashed.  The tag is the text between the
 * first "{" and the first "}" after it, when that text is not empty
 * ("{user1000}.following" and "{user1000}.followers" share a slot;
 * "foo{}{bar}" hashes the whole key; "foo{{bar}}zap" hashes "{bar").
 * So persona_profile_key "persona:{$persona_id}:profile" puts a profile,
 * its cap counters ("<profile key>:cap:<experiment>") and nothing else
 * of another visitor in one slot.
 *
 * Test vectors (t/unit/test_slot.c): CRC16("123456789") = 0x31C3, the
 * check value of CRC-16/XMODEM; slots compared with CLUSTER KEYSLOT.
 */

#ifndef PERSONA_SLOT_H
#define PERSONA_SLOT_H

#include <hiredis/hiredis.h>

#include "persona_core.h"


#define PERSONA_SLOTS         16384

/* CLUSTER SLOTS: replicas kept per range beyond the master */
#define PERSONA_SLOT_REPLICAS 4

/* a host name as CLUSTER SLOTS gives it (an address, or a name) */
#define PERSONA_SLOT_HOST_MAX 255


uint16_t persona_crc16(const char *buf, size_t len);

/* the slot of a key, honouring a {hash tag} */
unsigned persona_slot(const char *key, size_t len);


typedef struct {
    persona_str_t       host;
    unsigned            port;
} persona_slot_node_t;


typedef struct {
    unsigned            start;        /* first slot */
    unsigned            end;          /* last slot, inclusive */
    persona_slot_node_t master;
    persona_slot_node_t replicas[PERSONA_SLOT_REPLICAS];
    unsigned            nreplicas;
} persona_slot_range_t;


typedef struct {
    persona_slot_range_t *ranges;     /* sorted by start, not overlapping */
    size_t                nranges;
    size_t                covered;    /* slots with a master */
} persona_slot_map_t;


/*
 * Decodes a CLUSTER SLOTS reply:
 *   *N of *M [start, end, [host, port, id?, ...], [replica...] ...]
 * A host given as "" or "?" (the node's own address unknown to itself)
 * becomes default_host.  Unknown extra elements (node ids, hostnames of
 * Redis 7) are skipped.  PERSONA_OK, PERSONA_NOMEM, or PERSONA_ERROR with
 * err set (wrong types, ranges out of 0..16383 or overlapping, a port out
 * of range).
 */
int persona_slot_map_decode(persona_slot_map_t *map, const redisReply *r,
    const char *default_host, size_t default_host_len, persona_alloc_t *a,
    persona_error_t *err);

/* the range serving slot, or NULL when no node serves it */
const persona_slot_range_t *persona_slot_map_find(
    const persona_slot_map_t *map, unsigned slot);


/*
 * A -MOVED or -ASK error reply: "MOVED 3999 127.0.0.1:6381".  Returns 1
 * for MOVED, 2 for ASK (slot, host and port filled in, host pointing into
 * str), 0 for any other text.  An IPv6 host is the text before the last
 * ":".
 */
#define PERSONA_REDIRECT_MOVED  1
#define PERSONA_REDIRECT_ASK    2

int persona_slot_redirect(const char *str, size_t len, unsigned *slot,
    persona_slot_node_t *node);


#endif /* PERSONA_SLOT_H */
