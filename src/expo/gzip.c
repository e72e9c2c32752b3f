/* gzip.c — gzip (RFC 1952) for scrape responses, with zlib. Expositions compress ~10x, which
 * matters more to a scraper over a network than the CPU it costs here; level 1 keeps that cost
 * small (a large exposition is mostly repeated names). */
#include <zlib.h>

#include "core/core_int.h"
#include "vigil/expo.h"

VIGIL_API vigil_status vigil_expo_gzip(const void *data, size_t len, vigil_buffer *out)
{
    if ((data == NULL && len > 0) || out == NULL)
        return vigil__fail(VIGIL_EINVAL, "gzip input or output is NULL");
    z_stream zs = {0};
    if (deflateInit2(&zs, 1, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
        return vigil__fail(VIGIL_ENOMEM, "zlib could not start a gzip stream");
    size_t start = out->len;
    zs.next_in = (Bytef *)(uintptr_t)data;
    zs.avail_in = (uInt)len;
    vigil_status st = VIGIL_OK;
    int zr;
    do {
        size_t room = deflateBound(&zs, zs.avail_in) + 64;
        char *p;
        st = vigil__buf_reserve(out, room, &p);
        if (st != VIGIL_OK)
            break;
        zs.next_out = (Bytef *)p;
        zs.avail_out = (uInt)room;
        zr = deflate(&zs, Z_FINISH);
        out->len += room - zs.avail_out;
        if (zr == Z_STREAM_ERROR) {
            st = vigil__fail(VIGIL_EIO, "zlib failed: %s", zs.msg ? zs.msg : "stream error");
            break;
        }
    } while (zr != Z_STREAM_END);
    deflateEnd(&zs);
    if (st != VIGIL_OK)
        out->len = start;
    return st;
}
