/* test_parse_fuzz.c — the parser survives broken input: tens of thousands of queries made by
 * mutating valid ones (bytes inserted, deleted, replaced, spans duplicated, tokens spliced
 * from other queries) and by stringing random tokens together. Every one must either parse
 * or fail with a positioned "parse error" message, and whatever parses must print back to
 * PromQL that parses to the same text again. Under the ASan+UBSan twin this also proves no
 * out-of-bounds access, undefined behaviour or leak on any of them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil.h"
#include "promql/ast.h"

static const char *const corpus[] = {
    "sum by (job) (rate(http_requests_total{code=~\"5..\"}[5m]))",
    "histogram_quantile(0.9, sum without (instance) (rate(req_bucket[1h:1m] offset -5m)))",
    "a + on(x, y) group_left(z) b * ignoring(k) c ^ -d ^ 2",
    "topk(3, count_values(\"v\", x) > bool 1) or vector(time())",
    "label_replace(up, 'dst', \"$1\", `src`, \"(.*)\") unless absent(nope{a!=\"\"})",
    "max_over_time(foo[5m] @ 1609746000 offset 1h)[10m:30s] @ end()",
    "-(1 + 2) / .5e3 % 0x1f atan2 Inf == bool NaN",
    "quantile by (le) (0.99, {__name__=~\"job:.*\", env!~'dev|test'})",
    "# comment\nclamp(x, -1, +1) # trailing\n",
    "day_of_week() + round(x, 0.1) - scalar(sum(y)) >= 0",
    "stddev_over_time(rate(x[5m])[1h:]) and on() group",
    "count(foo offset 1d) by (a, sum, by, on)",
};

#define N_CORPUS (sizeof corpus / sizeof corpus[0])

static const char *const tokens[] = {
    "(",           ")",          "{",
    "}",           "[",          "]",
    ",",           ":",          "=",
    "==",          "!=",         "=~",
    "!~",          "<",          ">=",
    "+",           "-",          "*",
    "/",           "%",          "^",
    "@",           "and",        "or",
    "unless",      "atan2",      "bool",
    "on",          "ignoring",   "group_left",
    "group_right", "by",         "without",
    "offset",      "start()",    "end()",
    "sum",         "topk",       "count_values",
    "rate",        "label_join", "time",
    "foo",         "bar:baz",    "le",
    "1",           "0x1f",       ".5",
    "1e3",         "Inf",        "NaN",
    "5m",          "1h30m",      "0s",
    "\"s\"",       "'q'",        "`r`",
    "\"\\x41\"",   "#c\n",       " ",
    "\n",          "\xc3\xa9",   "\xff",
    "$",           "\\",
};

#define N_TOKENS (sizeof tokens / sizeof tokens[0])

static uint64_t rng_state = 0x9E3779B97F4A7C15u;

static uint32_t rnd(uint32_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return (uint32_t)(rng_state % n);
}

typedef struct text {
    char buf[4096];
    size_t len;
} text;

static void put(text *t, const char *s, size_t n)
{
    if (t->len + n >= sizeof t->buf)
        return;
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

static void mutate(text *t)
{
    size_t at = t->len == 0 ? 0 : rnd((uint32_t)t->len);
    switch (rnd(5)) {
    case 0: /* delete a span */
        if (t->len > 0) {
            size_t n = 1 + rnd(4);
            if (at + n > t->len)
                n = t->len - at;
            memmove(t->buf + at, t->buf + at + n, t->len - at - n + 1);
            t->len -= n;
        }
        break;
    case 1: /* replace a byte with any byte but NUL */
        if (t->len > 0)
            t->buf[at] = (char)(1 + rnd(255));
        break;
    case 2: { /* insert a token */
        const char *tok = tokens[rnd(N_TOKENS)];
        size_t n = strlen(tok);
        if (t->len + n < sizeof t->buf) {
            memmove(t->buf + at + n, t->buf + at, t->len - at + 1);
            memcpy(t->buf + at, tok, n);
            t->len += n;
        }
        break;
    }
    case 3: /* duplicate a span */
        if (t->len > 0) {
            size_t n = 1 + rnd(16);
            if (at + n > t->len)
                n = t->len - at;
            char span[32];
            memcpy(span, t->buf + at, n);
            size_t to = rnd((uint32_t)t->len + 1);
            if (t->len + n < sizeof t->buf) {
                memmove(t->buf + to + n, t->buf + to, t->len - to + 1);
                memcpy(t->buf + to, span, n);
                t->len += n;
            }
        }
        break;
    default: /* cut here and continue with the tail of another query */
        t->len = at;
        t->buf[at] = '\0';
        const char *other = corpus[rnd(N_CORPUS)];
        size_t from = rnd((uint32_t)strlen(other));
        put(t, other + from, strlen(other + from));
        break;
    }
}

typedef struct stats {
    size_t accepted, rejected;
} stats;

/* Parses q; a failure must be a positioned parse error, a success must print to text that
 * parses and prints to itself. */
static void check_one(const char *q, stats *s)
{
    pq_arena arena;
    pq_node *root = NULL;
    vigil__pq_arena_init(&arena);
    vigil_status st = vigil__pq_parse(q, &arena, &root);
    if (st == VIGIL_EINVAL) {
        unsigned line, col;
        int used = 0;
        const char *msg = vigil_errmsg();
        if (sscanf(msg, "%u:%u: parse error: %n", &line, &col, &used) != 2 || used == 0 ||
            line == 0 || col == 0 || msg[used] == '\0')
            fail_msg("query %s failed without a positioned message: %s", q, msg);
        s->rejected++;
        vigil__pq_arena_free(&arena);
        return;
    }
    if (st != VIGIL_OK)
        fail_msg("query %s: unexpected status %s", q, vigil_strerror(st));
    s->accepted++;
    vigil_buffer once, twice;
    vigil_buffer_init(&once, 0);
    vigil_buffer_init(&twice, 0);
    assert_int_equal(vigil__pq_format(root, &once), VIGIL_OK);
    pq_arena again;
    vigil__pq_arena_init(&again);
    if (vigil__pq_parse(once.data, &again, &root) != VIGIL_OK)
        fail_msg("query %s printed as %s, which does not parse: %s", q, once.data, vigil_errmsg());
    assert_int_equal(vigil__pq_format(root, &twice), VIGIL_OK);
    if (strcmp(once.data, twice.data) != 0)
        fail_msg("query %s printed as %s, then as %s", q, once.data, twice.data);
    vigil_buffer_free(&once);
    vigil_buffer_free(&twice);
    vigil__pq_arena_free(&again);
    vigil__pq_arena_free(&arena);
}

static void corpus_queries_parse_and_print_stably(void **state)
{
    (void)state;
    stats s = {0};
    for (size_t i = 0; i < N_CORPUS; i++)
        check_one(corpus[i], &s);
    assert_int_equal(s.accepted, N_CORPUS);
}

static void mutated_queries_parse_or_fail_cleanly(void **state)
{
    (void)state;
    stats s = {0};
    text t;
    for (int round = 0; round < 30000; round++) {
        t.len = 0;
        put(&t, corpus[round % N_CORPUS], strlen(corpus[round % N_CORPUS]));
        int edits = 1 + (int)rnd(6);
        for (int e = 0; e < edits; e++)
            mutate(&t);
        check_one(t.buf, &s);
    }
    print_message("mutations: %zu accepted, %zu rejected\n", s.accepted, s.rejected);
    assert_true(s.rejected > 0);
    assert_true(s.accepted > 0); /* the mutations must not all be fatal, or little is tested */
}

static void random_token_strings_parse_or_fail_cleanly(void **state)
{
    (void)state;
    stats s = {0};
    text t;
    for (int round = 0; round < 20000; round++) {
        t.len = 0;
        t.buf[0] = '\0';
        int n = 1 + (int)rnd(24);
        for (int i = 0; i < n; i++) {
            const char *tok = tokens[rnd(N_TOKENS)];
            put(&t, tok, strlen(tok));
            if (rnd(2))
                put(&t, " ", 1);
        }
        check_one(t.buf, &s);
    }
    print_message("token strings: %zu accepted, %zu rejected\n", s.accepted, s.rejected);
    assert_true(s.rejected > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(corpus_queries_parse_and_print_stably),
        cmocka_unit_test(mutated_queries_parse_or_fail_cleanly),
        cmocka_unit_test(random_token_strings_parse_or_fail_cleanly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
