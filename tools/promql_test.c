/* promql_test.c — `vigil promql-test FILE...`: runs PromQL test scripts in Prometheus v2.42.0's
 * format (promql/test.go; the format is described in promql_test_script.c) against vigil's
 * PromQL engine and an in-memory store, and says which evals fail and why:
 *
 *     FILE:LINE: <expr>: <why>        one line per failing eval (or refused load), on stdout
 *     N passed, N failed              always the last line
 *
 * Exit status: 0 when every eval passed, 1 when any failed, 2 on a usage error or a script that
 * cannot be read or is malformed (reported on stderr as FILE:LINE: what is wrong; the other
 * files still run). Evaluation uses the public API only, like every vigil subcommand. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "promql_test.h"
#include "tools.h"

static int usage(FILE *to, const char *problem)
{
    if (problem)
        fprintf(to, "vigil: promql-test: %s\n", problem);
    fputs("usage: vigil promql-test FILE...   run PromQL test scripts (Prometheus's format)\n", to);
    return problem ? EXIT_USAGE : EXIT_SUCCESS;
}

static char *read_file(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    char *text = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (cap - len < 4096) {
            char *grown = realloc(text, cap = cap * 2 + 4096);
            if (!grown) {
                free(text);
                fclose(f);
                errno = ENOMEM;
                return NULL;
            }
            text = grown;
        }
        size_t got = fread(text + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0)
            break;
    }
    bool failed = ferror(f);
    fclose(f);
    if (failed || memchr(text, '\0', len)) {
        free(text);
        errno = failed ? EIO : EINVAL;
        return NULL;
    }
    text[len] = '\0';
    return text;
}

/* Parses and runs one file; false when it cannot be read or is malformed. */
static bool run_file(const char *path, pt_totals *totals)
{
    char *text = read_file(path);
    if (!text) {
        fprintf(stderr, "%s: cannot read: %s\n", path,
                errno == EINVAL ? "not a text file" : strerror(errno));
        return false;
    }
    pt_script script;
    char err[PT_ERR_MAX];
    int line;
    bool ok = pt_script_parse(text, &script, &line, err, sizeof err);
    free(text);
    if (!ok) {
        fprintf(stderr, "%s:%d: %s\n", path, line, err);
        return false;
    }
    pt_script_run(&script, path, stdout, totals);
    pt_script_free(&script);
    return true;
}

int cmd_promql_test(int argc, char **argv)
{
    if (argc < 2)
        return usage(stderr, "no FILE given");
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0)
            return usage(stdout, NULL);
        if (argv[i][0] == '-' && argv[i][1] != '\0') {
            char problem[256];
            snprintf(problem, sizeof problem, "unknown option '%s'", argv[i]);
            return usage(stderr, problem);
        }
    }
    pt_totals totals = {0, 0};
    bool malformed = false;
    for (int i = 1; i < argc; i++)
        malformed |= !run_file(argv[i], &totals);
    printf("%u passed, %u failed\n", totals.passed, totals.failed);
    return malformed ? EXIT_USAGE : totals.failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
