/* faults.c — the fault knobs' defaults and the random decisions behind them.
 *
 * Faults are injected where a real system gets them, so the code that detects them is the
 * ordinary code path, not a branch that pretends: a corrupted frame really goes over the socket
 * and the peer's checksum catches it; an oversized request really reaches the encoder, which
 * refuses it; a late answer really waits in the server's queue while the client's deadline runs
 * out; an abrupt disconnect really resets the TCP connection. This file only decides when. */
#include "faults.h"

#include <math.h>
#include <stdio.h>

#include "proto.h"

void faults_defaults(demo_faults *f)
{
    f->encode_error_rate = 0.002;
    f->decode_error_rate = 0.002;
    f->slow_rate = 0.02;
    f->slow_delay = 0.8;
    f->drop_heartbeat_rate = 0.02;
    f->disconnect_rate = 0.01;
}

void faults_none(demo_faults *f)
{
    f->encode_error_rate = 0;
    f->decode_error_rate = 0;
    f->slow_rate = 0;
    f->slow_delay = 0;
    f->drop_heartbeat_rate = 0;
    f->disconnect_rate = 0;
}

void faults_describe(const demo_faults *f, char *buf, size_t cap)
{
    if (f->encode_error_rate <= 0 && f->decode_error_rate <= 0 && f->slow_rate <= 0 &&
        f->drop_heartbeat_rate <= 0 && f->disconnect_rate <= 0) {
        snprintf(buf, cap, "none");
        return;
    }
    snprintf(buf, cap,
             "encode errors %g%%, decode errors %g%%, slow answers %g%% (~%g s), dropped "
             "heartbeats %g%%, disconnects %g/s per client",
             f->encode_error_rate * 100, f->decode_error_rate * 100, f->slow_rate * 100,
             f->slow_delay, f->drop_heartbeat_rate * 100, f->disconnect_rate);
}

void rng_seed(demo_rng *r, uint64_t seed)
{
    /* splitmix64 of the seed: xorshift must not start at 0, and nearby seeds (one per client)
     * must not give nearby streams. */
    uint64_t z = seed + 0x9e3779b97f4a7c15ull;
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    r->state = z ? z : 0x2545f4914f6cdd1dull;
}

uint64_t rng_next(demo_rng *r)
{
    uint64_t x = r->state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    r->state = x;
    return x * 0x2545f4914f6cdd1dull;
}

double rng_uniform(demo_rng *r)
{
    return (double)(rng_next(r) >> 11) * 0x1.0p-53;
}

bool rng_chance(demo_rng *r, double p)
{
    return p > 0 && rng_uniform(r) < p;
}

double rng_exponential(demo_rng *r, double mean)
{
    return -mean * log(1.0 - rng_uniform(r));
}

void rng_fill(demo_rng *r, uint8_t *buf, size_t len)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = (uint8_t)(rng_next(r) >> 56);
}

double faults_answer_delay(const demo_faults *f, demo_rng *r)
{
    if (!rng_chance(r, f->slow_rate))
        return 0;
    return f->slow_delay * (0.5 + rng_uniform(r));
}

bool faults_corrupt(const demo_faults *f, demo_rng *r, uint8_t *frame, size_t len)
{
    if (len < PROTO_HEADER_SIZE || !rng_chance(r, f->decode_error_rate))
        return false;
    /* Never the length (bytes 0..3): a bad length loses the stream, which is a different
     * failure than the one this knob is about. */
    size_t at = len > PROTO_HEADER_SIZE
                    ? PROTO_HEADER_SIZE + (size_t)(rng_next(r) % (len - PROTO_HEADER_SIZE))
                    : 8 + (size_t)(rng_next(r) % 4);
    frame[at] ^= (uint8_t)(1u << (rng_next(r) % 8));
    return true;
}
