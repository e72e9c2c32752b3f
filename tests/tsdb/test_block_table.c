/* test_block_table.c — a sealed block's series table (src/tsdb/blocktab.c): a table of many
 * series round-trips (frames, timestamp columns with their counts and ranges, value columns
 * shared by equal series, label sets), costs a few bytes a series before compression, marks
 * the series that share a value column, refuses every truncation, every table that disagrees
 * with the block header and trailing bytes with VIGIL_ECORRUPT, and never reads outside a
 * table of random garbage (the ASan copy checks that part). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "core/core_int.h"
#include "tsdb/blocktab.h"

#define MINT INT64_C(1700000000000)
#define MAXT (MINT + 7200000)
#define SERIES 700
#define FRAME 256 /* series a frame: three frames, the last one short */
#define TARGETS 5

#define CHECK(x)                                                              \
    do {                                                                      \
        vigil_status st_ = (x);                                               \
        if (st_ != VIGIL_OK)                                                  \
            fail_msg("%s: %s (%s)", #x, vigil_strerror(st_), vigil_errmsg()); \
    } while (0)

/* What a block of SERIES series looks like to the table: series i belongs to scrape target
 * i % TARGETS (its timestamp column), and every seventh series repeats its predecessor's
 * values (the frame stored that column once). */
typedef struct fixture {
    vigil__tsdb_symtab *syms;
    vigil__tsdb_labels *labels[SERIES];
    vigil__tsdb_block_series want[SERIES];
    uint32_t counts[TARGETS];
    int64_t first[TARGETS], last[TARGETS];
    vigil_buffer table;
    uint64_t samples;
} fixture;

static void fixture_make(fixture *fx)
{
    memset(fx, 0, sizeof *fx);
    CHECK(vigil__tsdb_symtab_new(0, &fx->syms));
    for (int t = 0; t < TARGETS; t++) {
        fx->counts[t] = 480 - (uint32_t)t * 7;
        fx->first[t] = MINT + t * 3;
        fx->last[t] = fx->first[t] + (int64_t)(fx->counts[t] - 1) * 15000;
    }
    vigil__tsdb_blocktab tab;
    vigil__tsdb_blocktab_init(&tab, MINT, 0);
    for (int t = 0; t < TARGETS; t++)
        CHECK(vigil__tsdb_blocktab_add_ts(&tab, fx->counts[t], fx->first[t], fx->last[t]));
    uint32_t column = 0;
    for (uint32_t i = 0; i < SERIES; i++) {
        char inst[32], idx[32];
        snprintf(inst, sizeof inst, "node-%u", i % TARGETS);
        snprintf(idx, sizeof idx, "%u", i);
        vigil_label l[] = {{"__name__", "table_test"}, {"instance", inst}, {"i", idx}};
        CHECK(vigil__tsdb_labels_build(fx->syms, l, 3, &fx->labels[i]));
        uint32_t slot = i % FRAME, t = i % TARGETS;
        if (slot == 0)
            column = 0;
        bool repeat = slot > 0 && i % 7 == 0;
        uint32_t col = repeat ? column - 1 : column++;
        CHECK(vigil__tsdb_blocktab_add_series(&tab, t, col, fx->labels[i]));
        fx->want[i] = (vigil__tsdb_block_series){0,     i / FRAME,    col,        t, fx->counts[t],
                                                 false, fx->first[t], fx->last[t]};
        fx->samples += fx->counts[t];
        if (slot == FRAME - 1 || i == SERIES - 1)
            CHECK(vigil__tsdb_blocktab_end_frame(&tab));
    }
    vigil_buffer_init(&fx->table, 0);
    CHECK(vigil__tsdb_blocktab_finish(&tab, &fx->table));
    vigil__tsdb_blocktab_free(&tab);
}

static void fixture_free(fixture *fx)
{
    for (int i = 0; i < SERIES; i++)
        vigil__tsdb_labels_free(fx->labels[i]);
    vigil_buffer_free(&fx->table);
    vigil__tsdb_symtab_free(fx->syms);
}

static vigil__tsdb_blocktab_expect expect_of(const fixture *fx)
{
    return (vigil__tsdb_blocktab_expect){MINT, MAXT, fx->samples, SERIES,
                                         (SERIES + FRAME - 1) / FRAME};
}

typedef struct seen {
    const fixture *fx;
    uint32_t calls;
    bool labels_match;
} seen;

static vigil_status check_labels(void *user, uint32_t i, const vigil_label *l, size_t n)
{
    seen *s = user;
    const vigil__tsdb_labels *want = s->fx->labels[i];
    bool same = s->calls == i && n == want->n;
    for (size_t k = 0; same && k < n; k++)
        same = strcmp(l[k].name, want->l[k].name) == 0 && strcmp(l[k].value, want->l[k].value) == 0;
    s->labels_match &= same;
    s->calls++;
    return VIGIL_OK;
}

static vigil_status count_labels(void *user, uint32_t i, const vigil_label *l, size_t n)
{
    (void)i, (void)l, (void)n;
    (*(uint32_t *)user)++;
    return VIGIL_OK;
}

static vigil_status decode(const uint8_t *p, size_t len, const vigil__tsdb_blocktab_expect *x,
                           vigil__tsdb_block_series *e)
{
    uint32_t calls = 0;
    return vigil__tsdb_blocktab_decode(p, len, x, e, count_labels, &calls);
}

static void tables_round_trip(void **state)
{
    (void)state;
    fixture fx;
    fixture_make(&fx);
    vigil__tsdb_block_series got[SERIES];
    vigil__tsdb_blocktab_expect x = expect_of(&fx);
    seen s = {&fx, 0, true};
    CHECK(vigil__tsdb_blocktab_decode((const uint8_t *)fx.table.data, fx.table.len, &x, got,
                                      check_labels, &s));
    assert_int_equal(s.calls, SERIES);
    assert_true(s.labels_match);
    for (int i = 0; i < SERIES; i++) {
        const vigil__tsdb_block_series *a = &got[i], *b = &fx.want[i];
        if (a->frame != b->frame || a->column != b->column || a->ts_column != b->ts_column ||
            a->count != b->count || a->mint != b->mint || a->maxt != b->maxt || a->ref != 0)
            fail_msg("series %d: frame %u column %u ts %u count %u [%lld, %lld], want frame %u "
                     "column %u ts %u count %u [%lld, %lld]",
                     i, a->frame, a->column, a->ts_column, a->count, (long long)a->mint,
                     (long long)a->maxt, b->frame, b->column, b->ts_column, b->count,
                     (long long)b->mint, (long long)b->maxt);
    }
    fixture_free(&fx);
}

static void the_table_costs_few_bytes_a_series_besides_labels(void **state)
{
    (void)state;
    fixture fx;
    fixture_make(&fx);
    size_t labels = 0;
    for (int i = 0; i < SERIES; i++) {
        labels += 1; /* the label count */
        for (uint32_t k = 0; k < fx.labels[i]->n; k++)
            labels += strlen(fx.labels[i]->l[k].name) + strlen(fx.labels[i]->l[k].value) + 2;
    }
    size_t rest = fx.table.len - labels;
    print_message("%zu bytes besides the label sets for %d series\n", rest, SERIES);
    /* two one-byte numbers a series, plus the timestamp columns and frame sizes */
    assert_true(rest <= 2 * SERIES + 16 * TARGETS + 8);
    fixture_free(&fx);
}

static void series_sharing_a_value_column_are_marked(void **state)
{
    (void)state;
    fixture fx;
    fixture_make(&fx);
    vigil__tsdb_block_series got[SERIES];
    vigil__tsdb_blocktab_expect x = expect_of(&fx);
    CHECK(decode((const uint8_t *)fx.table.data, fx.table.len, &x, got));
    CHECK(vigil__tsdb_blocktab_mark_shared(got, SERIES));
    for (uint32_t i = 0; i < SERIES; i++) {
        uint32_t slot = i % FRAME;
        bool repeat = slot > 0 && i % 7 == 0; /* takes its predecessor's column */
        bool repeated = slot + 1 < FRAME && i + 1 < SERIES && (i + 1) % 7 == 0;
        if (got[i].shared != (repeat || repeated))
            fail_msg("series %u: shared %d, want %d", i, got[i].shared, repeat || repeated);
    }
    fixture_free(&fx);
}

static void truncated_tables_and_trailing_bytes_are_refused(void **state)
{
    (void)state;
    fixture fx;
    fixture_make(&fx);
    vigil__tsdb_block_series got[SERIES];
    vigil__tsdb_blocktab_expect x = expect_of(&fx);
    for (size_t len = 0; len < fx.table.len; len++) {
        uint8_t *copy = malloc(len + 1); /* exactly len bytes readable for the ASan copy */
        memcpy(copy, fx.table.data, len);
        if (decode(copy, len, &x, got) != VIGIL_ECORRUPT)
            fail_msg("a table cut to %zu of %zu bytes was not refused", len, fx.table.len);
        free(copy);
    }
    uint8_t *longer = malloc(fx.table.len + 1);
    memcpy(longer, fx.table.data, fx.table.len);
    longer[fx.table.len] = 0;
    assert_int_equal(decode(longer, fx.table.len + 1, &x, got), VIGIL_ECORRUPT);
    assert_non_null(strstr(vigil_errmsg(), "trailing"));
    free(longer);
    fixture_free(&fx);
}

static void tables_disagreeing_with_the_header_are_refused(void **state)
{
    (void)state;
    fixture fx;
    fixture_make(&fx);
    vigil__tsdb_block_series got[SERIES];
    const uint8_t *p = (const uint8_t *)fx.table.data;
    vigil__tsdb_blocktab_expect good = expect_of(&fx), x;
    CHECK(decode(p, fx.table.len, &good, got));

    x = good;
    x.samples++;
    assert_int_equal(decode(p, fx.table.len, &x, got), VIGIL_ECORRUPT);
    x = good;
    x.nframes++; /* frame sizes no longer add up */
    assert_int_equal(decode(p, fx.table.len, &x, got), VIGIL_ECORRUPT);
    x = good;
    x.maxt = fx.last[TARGETS - 1]; /* a timestamp column ends at or after the block's end */
    assert_int_equal(decode(p, fx.table.len, &x, got), VIGIL_ECORRUPT);
    x = good;
    x.nseries = 0;
    assert_int_equal(decode(p, fx.table.len, &x, got), VIGIL_ECORRUPT);
    fixture_free(&fx);
}

static void builders_refuse_columns_out_of_order(void **state)
{
    (void)state;
    vigil__tsdb_symtab *syms;
    CHECK(vigil__tsdb_symtab_new(0, &syms));
    vigil_label l[] = {{"__name__", "x"}};
    vigil__tsdb_labels *ls;
    CHECK(vigil__tsdb_labels_build(syms, l, 1, &ls));
    vigil__tsdb_blocktab tab;
    vigil__tsdb_blocktab_init(&tab, MINT, 0);
    assert_int_equal(vigil__tsdb_blocktab_add_ts(&tab, 3, MINT - 1, MINT + 10), VIGIL_EINVAL);
    assert_int_equal(vigil__tsdb_blocktab_add_ts(&tab, 0, MINT, MINT), VIGIL_EINVAL);
    CHECK(vigil__tsdb_blocktab_add_ts(&tab, 2, MINT, MINT + 10));
    assert_int_equal(vigil__tsdb_blocktab_add_series(&tab, 1, 0, ls), VIGIL_EINVAL); /* no ts 1 */
    assert_int_equal(vigil__tsdb_blocktab_add_series(&tab, 0, 1, ls), VIGIL_EINVAL); /* ahead */
    CHECK(vigil__tsdb_blocktab_add_series(&tab, 0, 0, ls));
    vigil_buffer out;
    vigil_buffer_init(&out, 0);
    assert_int_equal(vigil__tsdb_blocktab_finish(&tab, &out), VIGIL_EINVAL); /* frame open */
    CHECK(vigil__tsdb_blocktab_end_frame(&tab));
    CHECK(vigil__tsdb_blocktab_finish(&tab, &out));
    vigil_buffer_free(&out);
    vigil__tsdb_blocktab_free(&tab);
    vigil__tsdb_labels_free(ls);
    vigil__tsdb_symtab_free(syms);
}

static uint64_t rng_state = 0x2545f4914f6cdd1dULL;

static uint64_t rnd(void)
{
    /* xorshift64*: deterministic, so a failure reproduces */
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dULL;
}

static void garbage_never_reads_out_of_bounds(void **state)
{
    (void)state;
    fixture fx;
    fixture_make(&fx);
    vigil__tsdb_block_series got[SERIES];
    vigil__tsdb_blocktab_expect x = expect_of(&fx);
    size_t refused = 0, rounds = 3000;
    for (size_t r = 0; r < rounds; r++) {
        size_t len = fx.table.len;
        uint8_t *p = malloc(len);
        memcpy(p, fx.table.data, len);
        /* a few bytes changed: near the front, where the numbers are, most of the time */
        for (int k = 0; k < 1 + (int)(rnd() % 4); k++) {
            size_t at = rnd() % 3 ? rnd() % (len < 2200 ? len : 2200) : rnd() % len;
            p[at] = (uint8_t)rnd();
        }
        refused += decode(p, len, &x, got) != VIGIL_OK;
        free(p);
    }
    print_message("%zu of %zu damaged tables refused (the rest decode to other valid tables)\n",
                  refused, rounds);
    assert_true(refused > rounds / 4);
    fixture_free(&fx);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tables_round_trip),
        cmocka_unit_test(the_table_costs_few_bytes_a_series_besides_labels),
        cmocka_unit_test(series_sharing_a_value_column_are_marked),
        cmocka_unit_test(truncated_tables_and_trailing_bytes_are_refused),
        cmocka_unit_test(tables_disagreeing_with_the_header_are_refused),
        cmocka_unit_test(builders_refuse_columns_out_of_order),
        cmocka_unit_test(garbage_never_reads_out_of_bounds),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
