/* faults.h — fault injection: which faults the demo injects, how often, and the per-thread
 * random numbers that decide when. Each thread owns its own generator, so deciding costs no
 * lock and a run is repeatable from its seed (timing aside). */
#ifndef DEMO_FAULTS_H
#define DEMO_FAULTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct demo_faults {
    double encode_error_rate;   /* share of requests the client's encoder refuses (oversized) */
    double decode_error_rate;   /* share of requests and responses corrupted on the way out */
    double slow_rate;           /* share of requests the server answers late */
    double slow_delay;          /* mean extra delay of a late answer, seconds (0.5x..1.5x) */
    double drop_heartbeat_rate; /* share of heartbeats the server leaves unanswered */
    double disconnect_rate;     /* abrupt disconnects per client per second */
} demo_faults;

/* The defaults: small enough that most traffic is clean, large enough that every error and
 * timeout counter moves within a minute. */
void faults_defaults(demo_faults *f);
/* Every rate at 0. */
void faults_none(demo_faults *f);
/* One line for the start banner, e.g. "encode 0.2%, decode 0.2%, ...". */
void faults_describe(const demo_faults *f, char *buf, size_t cap);

/* A small, fast generator (xorshift64*), one per thread. */
typedef struct demo_rng {
    uint64_t state;
} demo_rng;

void rng_seed(demo_rng *r, uint64_t seed);
uint64_t rng_next(demo_rng *r);
/* Uniform in [0, 1). */
double rng_uniform(demo_rng *r);
/* True with probability p (never for p <= 0). */
bool rng_chance(demo_rng *r, double p);
/* Exponentially distributed with the given mean: the gap between events of a Poisson process. */
double rng_exponential(demo_rng *r, double mean);
/* Fills buf with random bytes. */
void rng_fill(demo_rng *r, uint8_t *buf, size_t len);

/* The extra delay of this answer in seconds: 0, or (with probability slow_rate) a delay
 * between half and one and a half times slow_delay. */
double faults_answer_delay(const demo_faults *f, demo_rng *r);
/* With probability decode_error_rate, flips one random bit of an encoded frame's payload (or,
 * for an empty payload, of its id) after the checksum was computed, as a bad link would, and
 * returns true. */
bool faults_corrupt(const demo_faults *f, demo_rng *r, uint8_t *frame, size_t len);

#endif
