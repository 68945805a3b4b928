/*
 * A decoded profile as a compact run of bytes, and back: what the shared
 * profile cache (persona_profile_cache) stores.
 *
 * Layout, all lengths as unsigned LEB128 varints (7 bits a byte, low
 * bits first, high bit set on every byte but the last):
 *
 *   version   1 byte, PERSONA_PACK_VERSION
 *   nfields   varint
 *   nfields times:
 *     name    varint length, the bytes, a NUL
 *     value   varint length, the bytes, a NUL
 *
 * The NULs let persona_profile_unpack() point the fields straight into
 * the buffer (the profile's strings stay NUL-terminated, as
 * persona_profile_decode() makes them); names and values may hold NULs
 * of their own, the lengths are what counts.  A typical field costs its
 * bytes plus 4.
 */

#ifndef PERSONA_PACK_H
#define PERSONA_PACK_H

#include "persona_core.h"
#include "persona_profile.h"


#define PERSONA_PACK_VERSION  1


/* the bytes persona_profile_pack() writes for p */
size_t persona_profile_pack_size(const persona_profile_t *p);

/*
 * Writes p into buf (of persona_profile_pack_size(p) bytes at least);
 * returns the number of bytes written, 0 when buf is too small.
 */
size_t persona_profile_pack(const persona_profile_t *p, unsigned char *buf,
    size_t size);

/*
 * Reads a packed profile.  The field array comes from the allocator; the
 * names and values point into buf, which must outlive p.  PERSONA_OK,
 * PERSONA_ERROR (not a packed profile of this version, truncated,
 * trailing bytes, more than PERSONA_PROFILE_MAX_FIELDS fields: err says
 * where) or PERSONA_NOMEM.
 */
int persona_profile_unpack(persona_profile_t *p, const unsigned char *buf,
    size_t len, persona_alloc_t *a, persona_error_t *err);


#endif /* PERSONA_PACK_H */
