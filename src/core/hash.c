/* hash.c — a small, fast non-cryptographic hash (64-bit multiply-mix over 8-byte words, in the
 * spirit of wyhash). Used for label-set and name tables; not exposed to untrusted keys in a way
 * that matters (collisions only cost a compare). */
#include <string.h>

#include "core_int.h"

static inline uint64_t mix(uint64_t a, uint64_t b)
{
    __uint128_t r = (__uint128_t)a * b;
    return (uint64_t)r ^ (uint64_t)(r >> 64);
}

static inline uint64_t read64(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

uint64_t vigil__hash(const void *data, size_t len, uint64_t seed)
{
    const unsigned char *p = data;
    const uint64_t k0 = 0xa0761d6478bd642full, k1 = 0xe7037ed1a0b428dbull;
    uint64_t h = seed ^ mix(seed ^ k0, k1 ^ len);
    while (len >= 8) {
        h = mix(h ^ read64(p), k1);
        p += 8;
        len -= 8;
    }
    uint64_t tail = 0;
    for (size_t i = 0; i < len; i++)
        tail |= (uint64_t)p[i] << (8 * i);
    return mix(h ^ tail ^ k0, k1 ^ (len + 1));
}

uint64_t vigil__hash_str(const char *s, uint64_t seed)
{
    return vigil__hash(s, strlen(s), seed);
}
