/* test_parse_scripts.c — every query in Prometheus 2.42's own PromQL conformance scripts
 * (the .test files in ../shared/promqltest, beside the source tree) parses: each
 * `eval instant at <t> <expr>` and `eval_ordered ...` line must be accepted; an `eval_fail`
 * line may be rejected by the parser or only later by the evaluator, but must not crash it.
 * Failing lines are listed with their file and line number. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "vigil.h"
#include "promql/ast.h"

#define SCRIPTS_DIR VIGIL_SOURCE_DIR "/../shared/promqltest"

typedef struct tally {
    size_t evals;     /* lines that must parse */
    size_t failed;    /* ... and did not */
    size_t eval_fail; /* eval_fail lines seen */
} tally;

/* The expression of an eval line: what follows "instant at <duration> ". */
static const char *eval_expr(const char *line, bool *must_parse, bool *is_eval)
{
    static const char *const kinds[] = {"eval ", "eval_ordered ", "eval_fail "};
    *is_eval = false;
    for (size_t k = 0; k < 3; k++) {
        size_t n = strlen(kinds[k]);
        if (strncmp(line, kinds[k], n) != 0)
            continue;
        const char *s = line + n;
        if (strncmp(s, "instant at ", 11) != 0)
            return NULL;
        s += 11;
        s += strcspn(s, " "); /* the evaluation time */
        s += strspn(s, " ");
        *is_eval = true;
        *must_parse = k != 2;
        return s;
    }
    return NULL;
}

static void run_script(const char *path, const char *name, tally *t)
{
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    char line[8192];
    for (unsigned lineno = 1; fgets(line, sizeof line, f) != NULL; lineno++) {
        line[strcspn(line, "\r\n")] = '\0';
        bool must_parse, is_eval;
        const char *expr = eval_expr(line, &must_parse, &is_eval);
        if (!is_eval)
            continue;
        pq_arena arena;
        pq_node *root;
        vigil__pq_arena_init(&arena);
        vigil_status st = vigil__pq_parse(expr, &arena, &root);
        if (must_parse) {
            t->evals++;
            if (st != VIGIL_OK) {
                print_error("%s:%u: %s\n    %s\n", name, lineno, expr, vigil_errmsg());
                t->failed++;
            }
        } else {
            t->eval_fail++;
            assert_true(st == VIGIL_OK || st == VIGIL_EINVAL);
        }
        vigil__pq_arena_free(&arena);
    }
    fclose(f);
}

static void every_conformance_query_parses(void **state)
{
    (void)state;
    DIR *d = opendir(SCRIPTS_DIR);
    if (d == NULL) {
        print_message("no conformance scripts at %s\n", SCRIPTS_DIR);
        skip();
    }
    tally t = {0};
    size_t scripts = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        size_t n = strlen(e->d_name);
        if (n < 6 || strcmp(e->d_name + n - 5, ".test") != 0)
            continue;
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", SCRIPTS_DIR, e->d_name);
        run_script(path, e->d_name, &t);
        scripts++;
    }
    closedir(d);
    print_message("%zu scripts: %zu eval lines (%zu rejected), %zu eval_fail lines\n", scripts,
                  t.evals, t.failed, t.eval_fail);
    assert_true(scripts > 0);
    assert_true(t.evals > 0);
    assert_int_equal(t.failed, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_conformance_query_parses),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
