/* encode.c — the two text encoders, Prometheus 0.0.4 and OpenMetrics 1.0.0, as one sink.
 *
 * The formats differ in a handful of places (how a counter family is named in TYPE/HELP, which
 * characters HELP escapes, whether _created and UNIT lines appear, "unknown" vs "untyped",
 * the closing "# EOF"), so one writer with a format flag is smaller and harder to let drift than
 * two copies. Each sample reserves its worst-case size once and is written straight into the
 * output buffer: no per-series allocation and no printf on the common path.
 */
#include <string.h>

#include "core/core_int.h"
#include "metrics/sink.h"
#include "vigil/expo.h"

typedef struct encoder {
    vigil_buffer *out;
    vigil_format format;
    const char *family;   /* name of the family in progress */
    size_t family_len;
    vigil_metric_type type;
    bool negative_buckets; /* the histogram in progress has a bucket bound below zero */
    bool skip_count;       /* its _sum was dropped, so its _count must be too */
} encoder;

/* OpenMetrics treats _sum like a counter: it may not be negative or NaN, a histogram with a
 * negative bucket bound may not have one at all, and _count may only appear with _sum. Strict
 * parsers reject the whole exposition otherwise, so in OpenMetrics we drop both _sum and _count
 * in those cases (the +Inf bucket still carries the count); the text format keeps them, as
 * Prometheus's own clients do. _sum is emitted before _count, so the decision is made at _sum. */
static bool skip_sum_count(encoder *e, const vigil__sample *s)
{
    if (e->format != VIGIL_FORMAT_OPENMETRICS ||
        (e->type != VIGIL_HISTOGRAM && e->type != VIGIL_SUMMARY))
        return false;
    switch (s->suffix) {
    case VIGIL__SFX_BUCKET:
        if (s->extra < 0)
            e->negative_buckets = true;
        return false;
    case VIGIL__SFX_SUM:
        e->skip_count = e->negative_buckets || !(s->value >= 0);
        e->negative_buckets = false; /* the next child starts afresh */
        return e->skip_count;
    case VIGIL__SFX_COUNT:
        return e->skip_count;
    default:
        return false;
    }
}

/* The 0.0.4 text format spells OpenMetrics's "unknown" as "untyped". */
static const char *type_word(vigil_metric_type t, vigil_format f)
{
    const char *w = vigil__type_word(t);
    return f != VIGIL_FORMAT_OPENMETRICS && strcmp(w, "unknown") == 0 ? "untyped" : w;
}

/* Writes s escaped; quotes: escape '"' too (label values, OpenMetrics help). */
static char *put_escaped(char *p, const char *s, bool quotes)
{
    for (; *s; s++) {
        char c = *s;
        if (c == '\\') {
            *p++ = '\\';
            *p++ = '\\';
        } else if (c == '\n') {
            *p++ = '\\';
            *p++ = 'n';
        } else if (c == '"' && quotes) {
            *p++ = '\\';
            *p++ = '"';
        } else {
            *p++ = c;
        }
    }
    return p;
}

static char *put_str(char *p, const char *s, size_t n)
{
    memcpy(p, s, n);
    return p + n;
}

/* "# KEYWORD name[suffix] text\n" */
static vigil_status put_comment(encoder *e, const char *keyword, const char *suffix,
                                const char *text, bool escape_quotes)
{
    size_t tl = strlen(text), kl = strlen(keyword), sl = strlen(suffix);
    char *p;
    vigil_status st = vigil__buf_reserve(e->out, 2 + kl + 1 + e->family_len + sl + 1 + 2 * tl + 1,
                                         &p);
    if (st != VIGIL_OK)
        return st;
    char *start = p;
    p = put_str(p, "# ", 2);
    p = put_str(p, keyword, kl);
    *p++ = ' ';
    p = put_str(p, e->family, e->family_len);
    p = put_str(p, suffix, sl);
    *p++ = ' ';
    p = put_escaped(p, text, escape_quotes);
    *p++ = '\n';
    e->out->len += (size_t)(p - start);
    e->out->data[e->out->len] = '\0'; /* the buffer's contract; output may end with a comment */
    return VIGIL_OK;
}

static vigil_status begin(void *ctx, const vigil__family_meta *m)
{
    encoder *e = ctx;
    e->family = m->name;
    e->family_len = strlen(m->name);
    e->type = m->type;
    e->negative_buckets = false;
    bool om = e->format == VIGIL_FORMAT_OPENMETRICS;
    /* In 0.0.4 a counter family is known by its sample name, x_total; OpenMetrics names the
     * family x and its samples x_total. */
    const char *sfx = (!om && m->type == VIGIL_COUNTER) ? "_total" : "";
    vigil_status st = VIGIL_OK;
    if (m->help != NULL && *m->help != '\0')
        st = put_comment(e, "HELP", sfx, m->help, om);
    if (st == VIGIL_OK)
        st = put_comment(e, "TYPE", sfx, type_word(m->type, e->format), false);
    if (st == VIGIL_OK && om && m->unit != NULL)
        st = put_comment(e, "UNIT", "", m->unit, false);
    return st;
}

static vigil_status sample(void *ctx, const vigil__sample *s)
{
    encoder *e = ctx;
    if (s->suffix == VIGIL__SFX_CREATED && e->format != VIGIL_FORMAT_OPENMETRICS)
        return VIGIL_OK;
    if (skip_sum_count(e, s))
        return VIGIL_OK;
    size_t need = e->family_len + 8 + 2 + VIGIL__FMT_MAX * 2 + 8;
    for (size_t i = 0; i < s->nlabels; i++)
        need += strlen(s->names[i]) + 2 * strlen(s->values[i]) + 4;
    if (s->extra_name != NULL)
        need += strlen(s->extra_name) + VIGIL__FMT_MAX + 4;
    char *p;
    vigil_status st = vigil__buf_reserve(e->out, need, &p);
    if (st != VIGIL_OK)
        return st;
    char *start = p;
    p = put_str(p, e->family, e->family_len);
    const char *sfx = vigil__suffix_text(s->suffix);
    p = put_str(p, sfx, strlen(sfx));
    if (s->nlabels > 0 || s->extra_name != NULL) {
        *p++ = '{';
        for (size_t i = 0; i < s->nlabels; i++) {
            if (i > 0)
                *p++ = ',';
            p = put_str(p, s->names[i], strlen(s->names[i]));
            *p++ = '=';
            *p++ = '"';
            p = put_escaped(p, s->values[i], true);
            *p++ = '"';
        }
        if (s->extra_name != NULL) {
            if (s->nlabels > 0)
                *p++ = ',';
            p = put_str(p, s->extra_name, strlen(s->extra_name));
            *p++ = '=';
            *p++ = '"';
            p += vigil__fmt_label_float(p, s->extra);
            *p++ = '"';
        }
        *p++ = '}';
    }
    *p++ = ' ';
    p += s->is_int ? vigil__fmt_u64(p, s->ivalue) : vigil__fmt_double(p, s->value);
    *p++ = '\n';
    e->out->len += (size_t)(p - start);
    e->out->data[e->out->len] = '\0';
    return VIGIL_OK;
}

static vigil_status end(void *ctx)
{
    (void)ctx;
    return VIGIL_OK;
}

static size_t mark(void *ctx)
{
    return ((encoder *)ctx)->out->len;
}

static void rewind_to(void *ctx, size_t m)
{
    encoder *e = ctx;
    if (m <= e->out->len) {
        e->out->len = m;
        if (e->out->data != NULL)
            e->out->data[m] = '\0';
    }
}

VIGIL_API vigil_status vigil_expo_render(vigil_registry *reg, vigil_format format,
                                         vigil_buffer *out)
{
    if (reg == NULL || out == NULL)
        return vigil__fail(VIGIL_EINVAL, "registry or output buffer is NULL");
    if (format != VIGIL_FORMAT_TEXT && format != VIGIL_FORMAT_OPENMETRICS)
        return vigil__fail(VIGIL_EINVAL, "unknown exposition format %d", (int)format);
    encoder e = {.out = out, .format = format};
    vigil__sink sink = {begin, sample, end, mark, rewind_to, &e};
    size_t start = out->len;
    vigil_status st = vigil__registry_collect(reg, &sink);
    if (st == VIGIL_OK && format == VIGIL_FORMAT_OPENMETRICS)
        st = vigil_buffer_append(out, "# EOF\n", 6);
    if (st != VIGIL_OK)
        rewind_to(&e, start);
    return st;
}
