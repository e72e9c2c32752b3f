/* proto.c — encoding and decoding of the demo's frames (layout in docs/demo.md).
 *
 * A frame is a 4-byte big-endian length, a 12-byte header and a payload. The length comes
 * first so a reader knows where a frame ends before it can check anything else; that is what
 * lets a frame with a bad checksum be skipped without losing the stream, while a bad length,
 * version or type cannot be skipped (the next frame's start is unknown) and ends the
 * connection. The checksum is zlib's CRC-32 over the header after the length, and the payload:
 * a corrupted byte anywhere but in the length is caught. The reader is a fixed buffer of two
 * largest frames, so a peer can never make it grow. */
#include "proto.h"

#include <string.h>
#include <zlib.h>

static const char *const type_names[PROTO_TYPE_COUNT] = {
    "unknown", "hello", "welcome", "ping", "pong", "request", "response", "error", "bye",
};

const char *proto_type_name(unsigned type)
{
    return type > 0 && type < PROTO_TYPE_COUNT ? type_names[type] : "unknown";
}

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* CRC-32 of header bytes 4..11 and the payload. */
static uint32_t frame_crc(const uint8_t *frame, const uint8_t *payload, size_t len)
{
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, frame + 4, 8);
    if (len > 0)
        crc = crc32(crc, payload, (uInt)len);
    return (uint32_t)crc;
}

size_t proto_encode(unsigned type, uint32_t id, const void *payload, size_t len, uint8_t *out,
                    size_t cap)
{
    if (type == 0 || type >= PROTO_TYPE_COUNT || len > PROTO_MAX_PAYLOAD ||
        cap < PROTO_HEADER_SIZE + len || (len > 0 && payload == NULL))
        return 0;
    put_u32(out, (uint32_t)(PROTO_HEADER_SIZE - 4 + len));
    out[4] = PROTO_VERSION;
    out[5] = (uint8_t)type;
    out[6] = 0;
    out[7] = 0;
    put_u32(out + 8, id);
    if (len > 0)
        memcpy(out + PROTO_HEADER_SIZE, payload, len);
    put_u32(out + 12, frame_crc(out, out + PROTO_HEADER_SIZE, len));
    return PROTO_HEADER_SIZE + len;
}

/* The checks that can be made on the length alone. */
static const char *check_length(uint32_t length)
{
    if (length < PROTO_HEADER_SIZE - 4)
        return "frame length shorter than the header";
    if (length > PROTO_MAX_FRAME - 4)
        return "frame length above the largest frame";
    return NULL;
}

static const char *check_header(const uint8_t *buf)
{
    if (buf[4] != PROTO_VERSION)
        return "unknown protocol version";
    if (buf[5] == 0 || buf[5] >= PROTO_TYPE_COUNT)
        return "unknown frame type";
    if (buf[6] != 0 || buf[7] != 0)
        return "reserved header bits set";
    return NULL;
}

proto_result proto_decode(const uint8_t *buf, size_t avail, proto_frame *out, size_t *consumed,
                          const char **why)
{
    *consumed = 0;
    *why = NULL;
    if (avail < 4)
        return PROTO_NEED_MORE;
    uint32_t length = get_u32(buf);
    if ((*why = check_length(length)) != NULL)
        return PROTO_BAD_FRAME;
    if (avail < 4 + (size_t)length)
        return PROTO_NEED_MORE;
    size_t len = length - (PROTO_HEADER_SIZE - 4);
    *consumed = 4 + (size_t)length;
    out->type = buf[5];
    out->id = get_u32(buf + 8);
    out->payload = buf + PROTO_HEADER_SIZE;
    out->len = (uint32_t)len;
    /* The checksum first: a flipped bit in the type or version is a damaged frame, not a
     * peer speaking another protocol, and damaged frames are skipped. */
    if (get_u32(buf + 12) != frame_crc(buf, buf + PROTO_HEADER_SIZE, len)) {
        *why = "checksum mismatch";
        return PROTO_BAD_CHECKSUM;
    }
    if ((*why = check_header(buf)) != NULL)
        return PROTO_BAD_FRAME;
    return PROTO_OK;
}

void proto_reader_init(proto_reader *r)
{
    r->start = 0;
    r->end = 0;
}

uint8_t *proto_reader_space(proto_reader *r, size_t *cap)
{
    if (r->start > 0) {
        memmove(r->buf, r->buf + r->start, r->end - r->start);
        r->end -= r->start;
        r->start = 0;
    }
    *cap = sizeof r->buf - r->end;
    return r->buf + r->end;
}

void proto_reader_filled(proto_reader *r, size_t n)
{
    r->end += n;
}

proto_result proto_reader_next(proto_reader *r, proto_frame *out, const char **why)
{
    size_t consumed;
    proto_result res = proto_decode(r->buf + r->start, r->end - r->start, out, &consumed, why);
    r->start += consumed;
    return res;
}
