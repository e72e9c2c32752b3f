/* names.c — Prometheus naming rules, checked once at registration (never on the hot path):
 * metric names [a-zA-Z_:][a-zA-Z0-9_:]*, label names [a-zA-Z_][a-zA-Z0-9_]*, the "__" prefix
 * reserved for Prometheus itself, `le` reserved on histograms and `quantile` on summaries (the
 * exposition adds them). */
#include <string.h>

#include "metrics/metrics_int.h"

static bool valid_chars(const char *s, bool colon_ok)
{
    if (s == NULL || *s == '\0')
        return false;
    for (const char *p = s; *p; p++) {
        char c = *p;
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        bool digit = c >= '0' && c <= '9';
        if (!(alpha || (colon_ok && c == ':') || (digit && p != s)))
            return false;
    }
    return true;
}

vigil_status vigil__check_name(const char *what, const char *name)
{
    if (name == NULL)
        return vigil__fail(VIGIL_EINVAL, "%s: name is NULL", what);
    if (!valid_chars(name, true))
        return vigil__fail(VIGIL_ENAME, "%s \"%.200s\": must match [a-zA-Z_:][a-zA-Z0-9_:]*",
                           what, name);
    if (strncmp(name, "__", 2) == 0)
        return vigil__fail(VIGIL_ERESERVED,
                           "%s \"%.200s\": names starting with \"__\" are reserved", what, name);
    return VIGIL_OK;
}

vigil_status vigil__check_label(const char *name, vigil_metric_type type)
{
    if (name == NULL)
        return vigil__fail(VIGIL_EINVAL, "label name is NULL");
    if (!valid_chars(name, false))
        return vigil__fail(VIGIL_ENAME, "label name \"%.200s\": must match [a-zA-Z_][a-zA-Z0-9_]*",
                           name);
    if (strncmp(name, "__", 2) == 0)
        return vigil__fail(VIGIL_ERESERVED,
                           "label name \"%.200s\": names starting with \"__\" are reserved", name);
    if (type == VIGIL_HISTOGRAM && strcmp(name, "le") == 0)
        return vigil__fail(VIGIL_ERESERVED, "label name \"le\" is reserved on histograms");
    if (type == VIGIL_SUMMARY && strcmp(name, "quantile") == 0)
        return vigil__fail(VIGIL_ERESERVED, "label name \"quantile\" is reserved on summaries");
    return VIGIL_OK;
}

char *vigil__family_name(vigil_metric_type type, const char *name)
{
    char *copy = vigil__strdup(name);
    size_t n = copy ? strlen(copy) : 0;
    if (copy != NULL && type == VIGIL_COUNTER && n > 6 && strcmp(copy + n - 6, "_total") == 0)
        copy[n - 6] = '\0';
    return copy;
}

VIGIL_API vigil_status vigil_check_metric_name(const char *name)
{
    return vigil__check_name("metric name", name);
}

VIGIL_API vigil_status vigil_check_label_name(const char *name)
{
    return vigil__check_label(name, VIGIL_GAUGE);
}
