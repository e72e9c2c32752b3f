/* test_fuzz_inputs.c — the fuzz targets (fuzz_omparse.c, fuzz_block.c) on a fixed, bounded set of
 * inputs in every ctest run, for the libFuzzer runs nobody does by hand: valid OpenMetrics text
 * and real block files, then thousands of deterministic mutations of them (bytes flipped, set,
 * inserted, removed, the input cut short). The targets abort when the streaming and one-shot
 * parsers disagree; the ASan copy of this test catches any read out of bounds. The valid seeds
 * are checked to be accepted, so the mutations start from inputs that reach deep. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <dirent.h>

#include <cmocka.h>

#define VIGIL_FUZZ_NO_MAIN
#include "fuzz_block.c"
#include "fuzz_omparse.c"

#include "../support/vigil_test.h"

#define ROUNDS 2500

static uint64_t rng_state = 0xd1b54a32d192ed03ULL;

static uint64_t rnd(void)
{
    /* xorshift64*: deterministic, so a failure reproduces */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dULL;
}

/* A mutation of seed[0..len) into out (room for len + 16); returns its length. Offsets are drawn
 * from [0, focus) most of the time, where the numbers that steer a parser sit. */
static size_t mutate(const uint8_t *seed, size_t len, uint8_t *out, size_t focus)
{
    memcpy(out, seed, len);
    int edits = 1 + (int)(rnd() % 4);
    for (int k = 0; k < edits && len > 0; k++) {
        size_t at = rnd() % 4 ? rnd() % (focus < len ? focus : len) : rnd() % len;
        switch (rnd() % 6) {
        case 0: out[at] ^= (uint8_t)(1u << (rnd() % 8)); break;
        case 1: out[at] = (uint8_t)rnd(); break;
        case 2: out[at] = "0 9\n{}\",=#. -+eEnI"[rnd() % 18]; break;
        case 3: /* insert a byte (at most 4 edits: out has room for 16 more) */
            memmove(out + at + 1, out + at, len - at);
            out[at] = (uint8_t)rnd();
            len++;
            break;
        case 4: /* remove a byte */
            memmove(out + at, out + at + 1, len - at - 1);
            len--;
            break;
        default: len = at; /* cut short */
        }
    }
    return len;
}

static const char *const OM_SEEDS[] = {
    "# TYPE http_requests counter\n"
    "# HELP http_requests Requests \\\"served\\\".\\n\n"
    "http_requests_total{code=\"200\",path=\"/a\\\\b\"} 1027 1700000000.001\n"
    "http_requests_total{code=\"500\",path=\"/\"} 3 1700000000.002 # {trace_id=\"ab\"} 1 "
    "1700000000\n"
    "http_requests_total{code=\"200\",path=\"/a\\\\b\"} 1028 1700000015\n"
    "# EOF\n",
    "# TYPE lat histogram\n"
    "# UNIT lat_seconds seconds\n"
    "lat_bucket{le=\"0.1\"} 1 1.5\nlat_bucket{le=\"+Inf\"} 2 1.5\nlat_count 2 1.5\n"
    "lat_sum 0.25 1.5\ntemp{room=\"k\\u00e9\"} -Inf 2\ntemp{room=\"x\"} NaN 3e0\n"
    "up 1 1e9\n# EOF",
};

static vigil_status count_sample(void *user, const vigil__tsdb_om_sample *s)
{
    (void)s;
    (*(int *)user)++;
    return VIGIL_OK;
}

static void the_openmetrics_parser_survives_mutated_text(void **state)
{
    (void)state;
    uint8_t *buf = malloc(8192);
    for (size_t i = 0; i < sizeof OM_SEEDS / sizeof *OM_SEEDS; i++) {
        const char *seed = OM_SEEDS[i];
        size_t len = strlen(seed);
        int samples = 0;
        vigil__tsdb_om_handlers h = {NULL, count_sample};
        if (vigil__tsdb_om_parse(seed, len, &h, &samples, NULL) != VIGIL_OK)
            fail_msg("seed %zu: %s", i, vigil_errmsg());
        assert_true(samples >= 3);
        vigil_fuzz_omparse((const uint8_t *)seed, len);
        for (int r = 0; r < ROUNDS; r++) {
            size_t n = mutate((const uint8_t *)seed, len, buf, len);
            uint8_t *exact = malloc(n + 1); /* exactly n readable bytes for the ASan copy */
            memcpy(exact, buf, n);
            vigil_fuzz_omparse(exact, n);
            free(exact);
        }
    }
    free(buf);
}

static uint8_t *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    *len = (size_t)ftell(f);
    rewind(f);
    uint8_t *p = malloc(*len + 16);
    assert_int_equal(fread(p, 1, *len, f), *len);
    fclose(f);
    return p;
}

/* A small block file: three targets, counters, gauges and a histogram chain. */
static uint8_t *make_block(size_t *len)
{
    assert_int_equal(system("rm -rf fuzz-seed"), 0);
    vigil_tsdb_options o;
    vigil_tsdb_options_init(&o);
    o.background = false;
    o.data_dir = "fuzz-seed";
    vigil_tsdb *db;
    assert_int_equal(vigil_tsdb_open(&o, &db), VIGIL_OK);
    for (int s = 0; s < 30; s++) {
        char inst[32], le[32], idx[32];
        snprintf(inst, sizeof inst, "node-%d", s % 3);
        snprintf(le, sizeof le, "%d", s / 3);
        snprintf(idx, sizeof idx, "%d", s);
        vigil_label l[] = {{"__name__", s < 12   ? "c_total"
                                        : s < 18 ? "g"
                                                 : "h_bucket"},
                           {"instance", inst},
                           {"le", s < 18 ? "" : le},
                           {"i", s < 18 ? idx : ""}};
        for (int k = 0; k < 40; k++) {
            double v = s < 12 ? k * 3 + s : s < 18 ? (k % 7) * 0.25 : (double)(k * (s / 3));
            assert_int_equal(vigil_tsdb_append(db, l, 4, 1700000000000 + k * 15000 + s % 3, v),
                             VIGIL_OK);
        }
    }
    assert_int_equal(vigil_tsdb_flush(db), VIGIL_OK);
    vigil_tsdb_close(db);
    DIR *d = opendir("fuzz-seed/blocks");
    assert_non_null(d);
    struct dirent *e;
    char path[600] = "";
    while ((e = readdir(d)))
        if (strstr(e->d_name, ".vgb"))
            snprintf(path, sizeof path, "fuzz-seed/blocks/%s", e->d_name);
    closedir(d);
    assert_true(path[0] != '\0');
    return read_file(path, len);
}

static void the_block_reader_survives_mutated_blocks(void **state)
{
    (void)state;
    size_t len;
    uint8_t *seed = make_block(&len);
    /* the seed itself loads (the target fixes checksums, which are right already) */
    vigil_tsdb *db = fuzz_store();
    assert_non_null(db);
    uint8_t *copy = malloc(len);
    memcpy(copy, seed, len);
    vigil__tsdb_block *b;
    if (vigil__tsdb_block_from_image(db, copy, len, NULL, &b) != VIGIL_OK)
        fail_msg("seed block: %s", vigil_errmsg());
    assert_int_equal(vigil__tsdb_block_nseries(b), 30);
    vigil__tsdb_block_unref(b);
    /* focus on the header, the series table and the timestamp frame: what steers the rest */
    size_t focus = 56 + fz_le32(seed + 44) + fz_le32(seed + 52);
    uint8_t *buf = malloc(len + 16);
    for (int r = 0; r < ROUNDS; r++) {
        size_t n = mutate(seed, len, buf, r % 2 ? focus : len);
        uint8_t *exact = malloc(n + 1);
        memcpy(exact, buf, n);
        vigil_fuzz_block(exact, n);
        free(exact);
    }
    free(buf);
    free(seed);
    vigil_fuzz_block_cleanup();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(the_openmetrics_parser_survives_mutated_text),
        cmocka_unit_test(the_block_reader_survives_mutated_blocks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
