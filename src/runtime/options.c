/* options.c — runtime options: defaults, and the VIGIL_* environment overrides that let an
 * operator move or reconfigure a deployed program without rebuilding it. Strings parsed out of
 * the environment (global labels, a rebuilt address) live in storage owned by this file for the
 * life of the process, so the options struct never owns memory the caller must free. */
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/core_int.h"
#include "vigil/runtime.h"

VIGIL_API void vigil_options_init(vigil_options *o)
{
    memset(o, 0, sizeof *o);
    o->metrics_enabled = true;
    o->metrics_addr = "127.0.0.1:9090";
    o->metrics_path = "/metrics";
    o->process_metrics = true;
    o->host_metrics = false;
    o->http_threads = 2;
    o->health_enabled = true;
    o->health_path = "/health";
    o->events_path = "/api/v1/events";
    o->scrape_interval_ms = 15000;
    o->history_retention_ms = INT64_C(15) * 24 * 3600 * 1000;
    o->query_api_enabled = true;
    o->query_api_path = "/api/v1";
    o->query_timeout_ms = 30000;
}

/* Environment-derived strings: written under env_lock, kept for the process's life. */
static pthread_mutex_t env_lock = PTHREAD_MUTEX_INITIALIZER;
static char env_addr[256];
static char env_labels_text[1024];
static char env_history_dir[4096];
static vigil_label env_labels[VIGIL_MAX_LABELS];

static vigil_status parse_bool(const char *var, const char *s, bool *out)
{
    if (strcmp(s, "1") == 0 || strcasecmp(s, "true") == 0 || strcasecmp(s, "yes") == 0 ||
        strcasecmp(s, "on") == 0) {
        *out = true;
        return VIGIL_OK;
    }
    if (strcmp(s, "0") == 0 || strcasecmp(s, "false") == 0 || strcasecmp(s, "no") == 0 ||
        strcasecmp(s, "off") == 0) {
        *out = false;
        return VIGIL_OK;
    }
    return vigil__fail(VIGIL_EINVAL, "%s=\"%s\": expected 1/0, true/false, yes/no or on/off",
                       var, s);
}

static vigil_status parse_count(const char *var, const char *s, unsigned long max,
                                unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v == 0 || v > max || *s == '-')
        return vigil__fail(VIGIL_EINVAL, "%s=\"%s\": expected a whole number from 1 to %lu",
                           var, s, max);
    *out = v;
    return VIGIL_OK;
}

/* "k=v,k2=v2" into env_labels (values may not contain ','; names are checked at start). */
static vigil_status parse_labels(const char *s, size_t *count)
{
    if (strlen(s) >= sizeof env_labels_text)
        return vigil__fail(VIGIL_EINVAL, "VIGIL_GLOBAL_LABELS is longer than %zu bytes",
                           sizeof env_labels_text - 1);
    strcpy(env_labels_text, s);
    size_t n = 0;
    for (char *save = NULL, *tok = strtok_r(env_labels_text, ",", &save); tok != NULL;
         tok = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(tok, '=');
        if (eq == NULL || eq == tok)
            return vigil__fail(VIGIL_EINVAL, "VIGIL_GLOBAL_LABELS: \"%s\" is not name=value",
                               tok);
        if (n == VIGIL_MAX_LABELS)
            return vigil__fail(VIGIL_EINVAL, "VIGIL_GLOBAL_LABELS: at most %d labels",
                               VIGIL_MAX_LABELS);
        *eq = '\0';
        env_labels[n++] = (vigil_label){tok, eq + 1};
    }
    *count = n;
    return VIGIL_OK;
}

/* VIGIL_METRICS_PORT replaces the port of the address in effect. */
static vigil_status apply_port(vigil_options *o, const char *port)
{
    unsigned long p;
    if (strcmp(port, "0") == 0)
        p = 0;
    else if (parse_count("VIGIL_METRICS_PORT", port, 65535, &p) != VIGIL_OK)
        return VIGIL_EINVAL;
    const char *addr = o->metrics_addr ? o->metrics_addr : "127.0.0.1:9090";
    const char *colon = strrchr(addr, ':');
    int hostlen = colon ? (int)(colon - addr) : (int)strlen(addr);
    char tmp[sizeof env_addr];
    snprintf(tmp, sizeof tmp, "%.*s:%lu", hostlen, addr, p);
    memcpy(env_addr, tmp, sizeof env_addr);
    o->metrics_addr = env_addr;
    return VIGIL_OK;
}

static vigil_status apply_env(vigil_options *o)
{
    const char *v;
    unsigned long n;
    vigil_status st = VIGIL_OK;
    if (st == VIGIL_OK && (v = getenv("VIGIL_METRICS_ENABLED")) != NULL)
        st = parse_bool("VIGIL_METRICS_ENABLED", v, &o->metrics_enabled);
    if (st == VIGIL_OK && (v = getenv("VIGIL_METRICS_ADDR")) != NULL) {
        if (*v == '\0' || strlen(v) >= sizeof env_addr)
            return vigil__fail(VIGIL_EINVAL, "VIGIL_METRICS_ADDR=\"%s\": expected HOST:PORT", v);
        memcpy(env_addr, v, strlen(v) + 1);
        o->metrics_addr = env_addr;
    }
    if (st == VIGIL_OK && (v = getenv("VIGIL_METRICS_PORT")) != NULL)
        st = apply_port(o, v);
    if (st == VIGIL_OK && (v = getenv("VIGIL_METRICS_PATH")) != NULL) {
        if (v[0] != '/')
            return vigil__fail(VIGIL_EINVAL, "VIGIL_METRICS_PATH=\"%s\": must start with /", v);
        o->metrics_path = v;
    }
    if (st == VIGIL_OK && (v = getenv("VIGIL_PROCESS_METRICS")) != NULL)
        st = parse_bool("VIGIL_PROCESS_METRICS", v, &o->process_metrics);
    if (st == VIGIL_OK && (v = getenv("VIGIL_HOST_METRICS")) != NULL)
        st = parse_bool("VIGIL_HOST_METRICS", v, &o->host_metrics);
    if (st == VIGIL_OK && (v = getenv("VIGIL_GLOBAL_LABELS")) != NULL) {
        size_t count = 0;
        st = parse_labels(v, &count);
        if (st == VIGIL_OK) {
            o->global_labels = env_labels;
            o->global_label_count = count;
        }
    }
    if (st == VIGIL_OK && (v = getenv("VIGIL_MAX_CHILDREN")) != NULL &&
        (st = parse_count("VIGIL_MAX_CHILDREN", v, 100000000, &n)) == VIGIL_OK)
        o->max_children = n;
    if (st == VIGIL_OK && (v = getenv("VIGIL_HEALTH_ENABLED")) != NULL)
        st = parse_bool("VIGIL_HEALTH_ENABLED", v, &o->health_enabled);
    if (st == VIGIL_OK && (v = getenv("VIGIL_HEALTH_PATH")) != NULL) {
        size_t n = strlen(v);
        if (n < 2 || v[0] != '/' || v[n - 1] == '/')
            return vigil__fail(VIGIL_EINVAL, "VIGIL_HEALTH_PATH=\"%s\": must start with / and "
                               "not end with /", v);
        o->health_path = v;
    }
    if (st == VIGIL_OK && (v = getenv("VIGIL_HISTORY_ENABLED")) != NULL)
        st = parse_bool("VIGIL_HISTORY_ENABLED", v, &o->history_enabled);
    if (st == VIGIL_OK && (v = getenv("VIGIL_HISTORY_DIR")) != NULL) {
        if (strlen(v) >= sizeof env_history_dir)
            return vigil__fail(VIGIL_EINVAL, "VIGIL_HISTORY_DIR is longer than %zu bytes",
                               sizeof env_history_dir - 1);
        snprintf(env_history_dir, sizeof env_history_dir, "%s", v);
        o->history_dir = env_history_dir[0] ? env_history_dir : NULL;
    }
    if (st == VIGIL_OK && (v = getenv("VIGIL_SCRAPE_INTERVAL_MS")) != NULL &&
        (st = parse_count("VIGIL_SCRAPE_INTERVAL_MS", v, 86400000, &n)) == VIGIL_OK)
        o->scrape_interval_ms = (unsigned)n;
    if (st == VIGIL_OK && (v = getenv("VIGIL_HISTORY_RETENTION_HOURS")) != NULL &&
        (st = parse_count("VIGIL_HISTORY_RETENTION_HOURS", v, 24 * 365 * 100, &n)) == VIGIL_OK)
        o->history_retention_ms = (int64_t)n * 3600 * 1000;
    if (st == VIGIL_OK && (v = getenv("VIGIL_QUERY_API_ENABLED")) != NULL)
        st = parse_bool("VIGIL_QUERY_API_ENABLED", v, &o->query_api_enabled);
    if (st == VIGIL_OK && (v = getenv("VIGIL_QUERY_API_PATH")) != NULL) {
        size_t n = strlen(v);
        if (n < 2 || v[0] != '/' || v[n - 1] == '/')
            return vigil__fail(VIGIL_EINVAL, "VIGIL_QUERY_API_PATH=\"%s\": must start with / "
                               "and not end with /", v);
        o->query_api_path = v;
    }
    if (st == VIGIL_OK && (v = getenv("VIGIL_QUERY_TIMEOUT_MS")) != NULL &&
        (st = parse_count("VIGIL_QUERY_TIMEOUT_MS", v, 3600000, &n)) == VIGIL_OK)
        o->query_timeout_ms = (unsigned)n;
    if (st == VIGIL_OK && (v = getenv("VIGIL_HTTP_THREADS")) != NULL &&
        (st = parse_count("VIGIL_HTTP_THREADS", v, 64, &n)) == VIGIL_OK)
        o->http_threads = (unsigned)n;
    return st;
}

VIGIL_API vigil_status vigil_options_from_env(vigil_options *o)
{
    if (o == NULL)
        return vigil__fail(VIGIL_EINVAL, "options are NULL");
    pthread_mutex_lock(&env_lock);
    vigil_status st = apply_env(o);
    pthread_mutex_unlock(&env_lock);
    return st;
}
