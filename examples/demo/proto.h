/* proto.h — the demo's wire protocol: length-prefixed frames with a checksum (docs/demo.md has
 * the byte table). Pure functions over buffers; no sockets, no threads, no vigil. */
#ifndef DEMO_PROTO_H
#define DEMO_PROTO_H

#include <stddef.h>
#include <stdint.h>

#define PROTO_VERSION 1
#define PROTO_HEADER_SIZE 16
/* Largest payload an encoder produces and a decoder accepts. */
#define PROTO_MAX_PAYLOAD 4096
#define PROTO_MAX_FRAME (PROTO_HEADER_SIZE + PROTO_MAX_PAYLOAD)
/* Longest client name in a HELLO (the event bus keeps 47 bytes of a client id). */
#define PROTO_MAX_NAME 40

typedef enum proto_type {
    PROTO_HELLO = 1,     /* client -> server: payload is the client's name */
    PROTO_WELCOME = 2,   /* server -> client: payload is the session name */
    PROTO_PING = 3,      /* client -> server: id is the heartbeat sequence number */
    PROTO_PONG = 4,      /* server -> client: the PING's id */
    PROTO_REQUEST = 5,   /* client -> server: id is the request id, payload the data */
    PROTO_RESPONSE = 6,  /* server -> client: the REQUEST's id, payload the data reversed */
    PROTO_ERROR = 7,     /* server -> client: id of the frame refused (as read), payload why */
    PROTO_BYE = 8,       /* either way, then close: payload is the reason */
    PROTO_TYPE_COUNT = 9 /* one past the last type; index 0 is unused */
} proto_type;

/* "hello", "ping", ... ("unknown" outside the enum): the `type` label of the metrics. */
const char *proto_type_name(unsigned type);

/* A decoded frame; payload points into the buffer it was decoded from. */
typedef struct proto_frame {
    uint8_t type;
    uint32_t id;
    const uint8_t *payload;
    uint32_t len;
} proto_frame;

typedef enum proto_result {
    PROTO_OK = 0,           /* a frame was decoded */
    PROTO_NEED_MORE = 1,    /* the buffer holds only part of a frame */
    PROTO_BAD_CHECKSUM = 2, /* a whole frame whose checksum does not match: skip it */
    PROTO_BAD_FRAME = 3,    /* bad length, version, type or reserved bits: the stream is lost */
} proto_result;

/* Writes one frame into out (cap bytes). Returns the frame's size, or 0 when the payload is
 * larger than PROTO_MAX_PAYLOAD, the type is not a protocol type, or cap is too small. */
size_t proto_encode(unsigned type, uint32_t id, const void *payload, size_t len, uint8_t *out,
                    size_t cap);

/* Decodes the frame at the start of buf (avail bytes). On PROTO_OK and PROTO_BAD_CHECKSUM,
 * *consumed is the frame's size; on PROTO_BAD_CHECKSUM, *out holds the frame as read (its id
 * is a guess, to name in an ERROR); on the errors, *why names what was wrong. */
proto_result proto_decode(const uint8_t *buf, size_t avail, proto_frame *out, size_t *consumed,
                          const char **why);

/* A receive buffer of fixed size (two largest frames) that frames are decoded from. */
typedef struct proto_reader {
    size_t start; /* first byte not yet decoded */
    size_t end;   /* one past the last byte received */
    uint8_t buf[2 * PROTO_MAX_FRAME];
} proto_reader;

/* Empties the reader. */
void proto_reader_init(proto_reader *r);
/* Where the next bytes read from the socket go, and how many fit (never 0: decoded bytes are
 * dropped first, and an undecoded frame is never larger than PROTO_MAX_FRAME). */
uint8_t *proto_reader_space(proto_reader *r, size_t *cap);
/* Records n bytes written at proto_reader_space. */
void proto_reader_filled(proto_reader *r, size_t n);
/* Decodes the next frame. Its payload stays valid until the next proto_reader_space. */
proto_result proto_reader_next(proto_reader *r, proto_frame *out, const char **why);

#endif
