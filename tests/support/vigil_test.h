/* vigil_test.h — helpers the cmocka unit tests share: a fresh registry per test, the rendered
 * exposition as a string, and line-level assertions on it. Include after <cmocka.h>. */
#ifndef VIGIL_TEST_H
#define VIGIL_TEST_H

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "vigil/expo.h"
#include "vigil/metrics.h"
#include "vigil/status.h"

/* cmocka setup/teardown: *state is a new registry. */
static inline int setup_registry(void **state)
{
    vigil_registry *reg;
    if (vigil_registry_new(&reg) != VIGIL_OK)
        return -1;
    *state = reg;
    return 0;
}

static inline int teardown_registry(void **state)
{
    vigil_registry_free(*state);
    return 0;
}

/* The exposition of reg in format f; free with free(). Fails the test if rendering fails. */
static inline char *render(vigil_registry *reg, vigil_format f)
{
    vigil_buffer b;
    vigil_buffer_init(&b, 0);
    vigil_status st = vigil_expo_render(reg, f, &b);
    if (st != VIGIL_OK)
        fail_msg("render: %s (%s)", vigil_strerror(st), vigil_errmsg());
    char *s = strdup(vigil_buffer_cstr(&b));
    vigil_buffer_free(&b);
    return s;
}

/* True when text has `line` as a whole line. */
static inline bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++) {
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0'))
            return true;
    }
    return false;
}

/* Fails with the first differing byte when got != want. */
static inline void assert_golden(const char *got, const char *want)
{
    if (strcmp(got, want) == 0)
        return;
    size_t i = 0;
    while (got[i] && got[i] == want[i])
        i++;
    fail_msg("output differs at byte %zu\n--- want ---\n%s\n--- got ---\n%s", i, want, got);
}

static inline bool write_text_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL)
        return false;
    bool ok = fputs(text, f) >= 0;
    return fclose(f) == 0 && ok;
}

/* The real peers: `promtool check metrics` must print no finding on a text exposition, and
 * prometheus_client's strict OpenMetrics parser must accept an OpenMetrics one. Each is skipped
 * with a message when the peer is not installed (make test installs both). Files are written to
 * the test's working directory. */
static inline void assert_promtool_clean(const char *text)
{
    if (system("command -v promtool >/dev/null 2>&1") != 0) {
        print_message("promtool not found (Debian: prometheus): check skipped\n");
        return;
    }
    if (!write_text_file("peer.prom", text))
        fail_msg("cannot write peer.prom");
    int rc = system("promtool check metrics < peer.prom > promtool.out 2>&1");
    FILE *f = fopen("promtool.out", "r");
    char line[512];
    bool findings = false;
    while (f != NULL && fgets(line, sizeof line, f) != NULL) {
        print_message("promtool: %s", line);
        findings = true;
    }
    if (f != NULL)
        fclose(f);
    if (!(WIFEXITED(rc) && WEXITSTATUS(rc) == 0) || findings)
        fail_msg("promtool check metrics: exit %d, findings above", rc);
}

static inline void assert_openmetrics_parses(const char *om)
{
    if (system("/usr/bin/python3 -c 'import prometheus_client.openmetrics.parser' "
               ">/dev/null 2>&1") != 0) {
        print_message("prometheus_client not importable: OpenMetrics parse skipped\n");
        return;
    }
    if (!write_text_file("peer.om", om))
        fail_msg("cannot write peer.om");
    int rc = system("/usr/bin/python3 -c 'from prometheus_client.openmetrics.parser import "
                    "text_string_to_metric_families as p; list(p(open(\"peer.om\").read()))'");
    if (!(WIFEXITED(rc) && WEXITSTATUS(rc) == 0))
        fail_msg("prometheus_client's OpenMetrics parser rejected the exposition");
}

#define ASSERT_LINE(out, line)                                                    \
    do {                                                                          \
        if (!has_line((out), (line)))                                             \
            fail_msg("line not rendered: %s\n--- output ---\n%s", (line), (out)); \
    } while (0)

#endif
