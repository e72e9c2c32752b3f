/* link.c — how a tracker shows up in a registry. A tracker is a custom collector (its numbers
 * live in the tracker, not in registry families), so the registry cannot reserve its names the
 * way it does for registered families. We check what we can when the tracker is created: every
 * name it will emit is a valid metric name and no registered family has it, and the collector
 * name "<what>:<base>" is unique, which stops two trackers of one kind sharing a base name.
 * A clash that appears later (a family registered afterwards) is caught by the emitter at
 * scrape time and counted in vigil_collector_errors_total.
 */
#include <stdio.h>
#include <string.h>

#include "core/core_int.h"
#include "track/track_int.h"

bool vigil__join(char *buf, size_t n, const char *base, const char *suffix)
{
    int w = snprintf(buf, n, "%s%s", base, suffix);
    return w >= 0 && (size_t)w < n;
}

char *vigil__base_name(const char *base, const char *drop)
{
    size_t len = strlen(base), dl = drop ? strlen(drop) : 0;
    if (dl && len > dl && strcmp(base + len - dl, drop) == 0)
        len -= dl;
    char *s = vigil__malloc(len + 1);
    if (s == NULL)
        return NULL;
    memcpy(s, base, len);
    s[len] = '\0';
    return s;
}

static vigil_status check_name(vigil_registry *reg, const char *name)
{
    vigil_status st = vigil_check_metric_name(name);
    if (st != VIGIL_OK)
        return st;
    if (vigil_registry_find(reg, name) != NULL)
        return vigil__fail(VIGIL_EEXIST, "metric \"%s\" is already registered", name);
    size_t len = strlen(name);
    if (len > 6 && strcmp(name + len - 6, "_total") == 0) {
        char bare[256];
        memcpy(bare, name, len - 6);
        bare[len - 6] = '\0';
        if (vigil_registry_find(reg, bare) != NULL)
            return vigil__fail(VIGIL_EEXIST, "metric \"%s\" is already registered", bare);
    }
    return VIGIL_OK;
}

vigil_status vigil__link_add(vigil__link *l, vigil_registry *reg, const char *what,
                             const char *base, const char *help, const char *const *suffixes,
                             size_t suffix_count, vigil_collect_fn fn, void *user)
{
    memset(l, 0, sizeof *l);
    if (reg == NULL)
        return VIGIL_OK;
    if (base == NULL || *base == '\0')
        return vigil__fail(VIGIL_EINVAL, "a %s tracker exposed in a registry needs a name", what);
    if (strlen(base) > 200)
        return vigil__fail(VIGIL_ENAME, "metric base name \"%.40s...\" is too long", base);
    if (help != NULL && !vigil__utf8_valid(help, strlen(help)))
        return vigil__fail(VIGIL_EINVAL, "help of \"%s\" is not valid UTF-8", base);
    char name[256];
    for (size_t i = 0; i < suffix_count; i++) {
        if (!vigil__join(name, sizeof name, base, suffixes[i]))
            return vigil__fail(VIGIL_ENAME, "metric name \"%s%s\" is too long", base, suffixes[i]);
        vigil_status st = check_name(reg, name);
        if (st != VIGIL_OK)
            return st;
    }
    size_t cn = strlen(what) + 1 + strlen(base) + 1;
    l->collector = vigil__malloc(cn);
    l->base = vigil__strdup(base);
    l->help = help ? vigil__strdup(help) : NULL;
    if (l->collector == NULL || l->base == NULL || (help && l->help == NULL)) {
        vigil__link_remove(l);
        return vigil__fail(VIGIL_ENOMEM, "out of memory exposing \"%s\"", base);
    }
    snprintf(l->collector, cn, "%s:%s", what, base);
    vigil_status st = vigil_registry_add_collector(reg, l->collector, fn, user);
    if (st != VIGIL_OK) {
        vigil__link_remove(l);
        return st;
    }
    l->reg = reg;
    return VIGIL_OK;
}

void vigil__link_remove(vigil__link *l)
{
    if (l->reg != NULL)
        (void)vigil_registry_remove_collector(l->reg, l->collector);
    vigil__free(l->collector);
    vigil__free(l->base);
    vigil__free(l->help);
    memset(l, 0, sizeof *l);
}
