/* promql_test_series.c — series descriptions, the lines under `load` and under `eval`:
 *
 *     http_requests{job="api", instance="0"}  0+10x5 _ _x2 stale 3 -Inf 1-0.5x2
 *
 * A metric (a name, a label set in braces, or both) and whitespace-separated items, read the way
 * Prometheus 2.42's PromQL lexer (series-description mode) and its grammar's series_item rules
 * read them, so that a script means here what it means to Prometheus:
 *   v        one value: a number (Go syntax, no hex), optionally signed; Inf or NaN in any case;
 *            or `stale`, the staleness marker (lower case, unsigned)
 *   vxN      N+1 copies of v (the first is the value at step 0)
 *   v+dxN    N+1 values v, v+d, v+2d, ... built by repeated addition, as Go does (so 0.1
 *   v-dxN    steps accumulate rounding exactly as Prometheus's do)
 *   _        no sample at this step;  _xN  N steps without samples (not N+1)
 * An identifier absorbs letters, digits and '_' as the lexer's does, so `Infx3` and `stalex2`
 * are errors there and here. */
#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "promql_test.h"

/* A series line expanding past this many steps is refused rather than eating the machine. */
#define PT_MAX_VALUES 10000000

/* PromQL keywords the lexer never hands to the grammar's metric_identifier rule. */
static const char *const not_metric_names[] = {
    "bool", "on", "ignoring", "group_left", "group_right", "atan2", "inf", "nan",
};

typedef struct cursor {
    const char *p;
    char *err;
    size_t errlen;
} cursor;

__attribute__((format(printf, 2, 3))) static bool fail(cursor *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(c->err, c->errlen, fmt, ap);
    va_end(ap);
    return false;
}

static bool is_space(char ch)
{
    return ch == ' ' || ch == '\t' || ch == '\r' || ch == '\n';
}

static bool is_alpha(char ch)
{
    return ch == '_' || (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z');
}

static bool is_alnum(char ch)
{
    return is_alpha(ch) || (ch >= '0' && ch <= '9');
}

static void skip_spaces(cursor *c)
{
    while (is_space(*c->p))
        c->p++;
}

/* The offending text for an error message: up to the next whitespace. */
static const char *word_at(const char *p, char *buf, size_t size)
{
    size_t n = 0;
    while (p[n] && !is_space(p[n]) && n + 1 < size)
        n++;
    memcpy(buf, p, n);
    buf[n] = '\0';
    return buf;
}

/* ---- label sets ----------------------------------------------------------------------------- */

static bool add_label(pt_series *s, char *name, char *value)
{
    vigil_label *grown = realloc(s->labels, (s->nlabels + 1) * sizeof *grown);
    if (!grown) {
        free(name);
        free(value);
        return false;
    }
    s->labels = grown;
    s->labels[s->nlabels].name = name;
    s->labels[s->nlabels].value = value;
    s->nlabels++;
    return true;
}

static void append_utf8(char *out, size_t *n, uint32_t cp)
{
    if (cp < 0x80) {
        out[(*n)++] = (char)cp;
    } else if (cp < 0x800) {
        out[(*n)++] = (char)(0xC0 | (cp >> 6));
        out[(*n)++] = (char)(0x80 | (cp & 0x3F));
    } else if (cp < 0x10000) {
        out[(*n)++] = (char)(0xE0 | (cp >> 12));
        out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[(*n)++] = (char)(0x80 | (cp & 0x3F));
    } else {
        out[(*n)++] = (char)(0xF0 | (cp >> 18));
        out[(*n)++] = (char)(0x80 | ((cp >> 12) & 0x3F));
        out[(*n)++] = (char)(0x80 | ((cp >> 6) & 0x3F));
        out[(*n)++] = (char)(0x80 | (cp & 0x3F));
    }
}

/* Reads `digits` hex digits (or 3 octal ones) after an escape letter. */
static bool read_code(cursor *c, int base, int digits, uint32_t *out)
{
    uint32_t v = 0;
    for (int i = 0; i < digits; i++, c->p++) {
        char ch = *c->p;
        int d = isdigit((unsigned char)ch)    ? ch - '0'
                : isxdigit((unsigned char)ch) ? tolower((unsigned char)ch) - 'a' + 10
                                              : 99;
        if (d >= base)
            return fail(c, "invalid escape sequence in string near \"%s\"", c->p);
        v = v * (uint32_t)base + (uint32_t)d;
    }
    *out = v;
    return true;
}

/* One escape after a backslash, as Go's UnquoteChar decodes it inside `quote` quotes. */
static bool read_escape(cursor *c, char quote, char *out, size_t *n)
{
    static const char simple_in[] = "abfnrtv\\", simple_out[] = "\a\b\f\n\r\t\v\\";
    char ch = *c->p++;
    const char *hit = ch ? strchr(simple_in, ch) : NULL;
    uint32_t cp;
    if (hit) {
        out[(*n)++] = simple_out[hit - simple_in];
    } else if (ch == quote) {
        out[(*n)++] = quote;
    } else if (ch >= '0' && ch <= '7') {
        c->p--;
        if (!read_code(c, 8, 3, &cp))
            return false;
        if (cp > 255)
            return fail(c, "octal escape above \\377 in string");
        out[(*n)++] = (char)cp;
    } else if (ch == 'x') {
        if (!read_code(c, 16, 2, &cp))
            return false;
        out[(*n)++] = (char)cp;
    } else if (ch == 'u' || ch == 'U') {
        if (!read_code(c, 16, ch == 'u' ? 4 : 8, &cp))
            return false;
        if (cp > 0x10FFFF || (cp >= 0xD800 && cp < 0xE000))
            return fail(c, "escape is not a valid Unicode code point in string");
        append_utf8(out, n, cp);
    } else {
        return fail(c, "unknown escape sequence \\%c in string", ch);
    }
    return true;
}

/* A quoted string: "..." or '...' with Go's escapes, or `...` raw. */
static bool read_string(cursor *c, char **out)
{
    char quote = *c->p++;
    /* Escapes never produce more bytes than they take, so the rest of the line is enough. */
    char *buf = malloc(strlen(c->p) + 1);
    size_t n = 0;
    if (!buf)
        return fail(c, "out of memory");
    for (;;) {
        char ch = *c->p;
        if (ch == '\0' || (ch == '\n' && quote != '`')) {
            free(buf);
            return fail(c, "unterminated quoted string");
        }
        c->p++;
        if (ch == quote)
            break;
        if (ch == '\\' && quote != '`') {
            if (!read_escape(c, quote, buf, &n)) {
                free(buf);
                return false;
            }
            continue;
        }
        buf[n++] = ch;
    }
    buf[n] = '\0';
    *out = buf;
    return true;
}

static char *copy_span(const char *p, size_t n)
{
    char *s = malloc(n + 1);
    if (s) {
        memcpy(s, p, n);
        s[n] = '\0';
    }
    return s;
}

/* `{` [name = "value" {, name = "value"} [,]] `}`, whitespace allowed between the parts. */
static bool read_label_set(cursor *c, pt_series *s)
{
    char near[40];
    c->p++; /* '{' */
    skip_spaces(c);
    while (*c->p != '}') {
        if (!is_alpha(*c->p))
            return fail(c, "expected a label name or \"}\" in label set at \"%s\"",
                        word_at(c->p, near, sizeof near));
        const char *start = c->p;
        while (is_alnum(*c->p))
            c->p++;
        char *name = copy_span(start, (size_t)(c->p - start)), *value = NULL;
        if (!name)
            return fail(c, "out of memory");
        skip_spaces(c);
        if (*c->p != '=' || c->p[1] == '~') {
            free(name);
            return fail(c, "expected \"=\" after a label name in label set at \"%s\"",
                        word_at(c->p, near, sizeof near));
        }
        c->p++;
        skip_spaces(c);
        if (*c->p != '"' && *c->p != '\'' && *c->p != '`') {
            free(name);
            return fail(c, "expected a quoted label value at \"%s\"",
                        word_at(c->p, near, sizeof near));
        }
        if (!read_string(c, &value)) {
            free(name);
            return false;
        }
        if (!add_label(s, name, value))
            return fail(c, "out of memory");
        skip_spaces(c);
        if (*c->p == ',') {
            c->p++;
            skip_spaces(c);
        } else if (*c->p != '}') {
            return fail(c, "expected \",\" or \"}\" in label set at \"%s\"",
                        word_at(c->p, near, sizeof near));
        }
    }
    c->p++; /* '}' */
    return true;
}

static bool read_metric(cursor *c, pt_series *s)
{
    char near[40];
    char *name = NULL;
    if (is_alpha(*c->p) || *c->p == ':') {
        const char *start = c->p;
        while (is_alnum(*c->p) || *c->p == ':')
            c->p++;
        name = copy_span(start, (size_t)(c->p - start));
        if (!name)
            return fail(c, "out of memory");
        for (size_t i = 0; i < sizeof not_metric_names / sizeof *not_metric_names; i++)
            if (strcasecmp(name, not_metric_names[i]) == 0) {
                fail(c, "\"%s\" is a keyword, not a metric name", name);
                free(name);
                return false;
            }
    }
    bool braces = *c->p == '{';
    if (braces && !read_label_set(c, s)) {
        free(name);
        return false;
    }
    if (!name && !braces)
        return fail(c, "expected a metric name or a label set at \"%s\"",
                    word_at(c->p, near, sizeof near));
    if (name) {
        /* The name given before the braces wins over a __name__ inside them. */
        for (size_t i = 0; i < s->nlabels; i++)
            if (strcmp(s->labels[i].name, "__name__") == 0) {
                free((char *)s->labels[i].value);
                s->labels[i].value = name;
                return true;
            }
        char *key = strdup("__name__");
        if (!key || !add_label(s, key, name))
            return fail(c, "out of memory");
    }
    return true;
}

/* ---- values --------------------------------------------------------------------------------- */

static bool add_values(cursor *c, pt_series *s, double first, double delta, uint64_t count,
                       bool omitted)
{
    if (count > PT_MAX_VALUES - s->nvalues)
        return fail(c, "series expands to more than 10000000 values");
    size_t n = s->nvalues + (size_t)count;
    double *values = realloc(s->values, (n ? n : 1) * sizeof *values);
    if (values)
        s->values = values;
    bool *om = realloc(s->omitted, (n ? n : 1) * sizeof *om);
    if (om)
        s->omitted = om;
    if (!values || !om)
        return fail(c, "out of memory");
    double v = first;
    for (uint64_t i = 0; i < count; i++) {
        s->values[s->nvalues] = omitted ? 0 : v;
        s->omitted[s->nvalues] = omitted;
        s->nvalues++;
        v += delta;
    }
    return true;
}

/* The lexer's number token in a series description: digits, a fraction, an exponent; no hex
 * (`0x3` is 0 repeated). Only `x` may follow it directly. */
static bool read_number_token(cursor *c, const char **start, size_t *len)
{
    char near[40];
    *start = c->p;
    while (isdigit((unsigned char)*c->p))
        c->p++;
    if (*c->p == '.') {
        c->p++;
        while (isdigit((unsigned char)*c->p))
            c->p++;
    }
    if (*c->p == 'e' || *c->p == 'E') {
        c->p++;
        if (*c->p == '+' || *c->p == '-')
            c->p++;
        while (isdigit((unsigned char)*c->p))
            c->p++;
    }
    *len = (size_t)(c->p - *start);
    if (*c->p != 'x' && is_alnum(*c->p))
        return fail(c, "bad number syntax: \"%s\"", word_at(*start, near, sizeof near));
    return true;
}

/* An unsigned number: a number token, or the words Inf and NaN. With allow_stale, also the
 * word `stale`. */
static bool read_unsigned(cursor *c, bool allow_stale, double *out)
{
    char near[40];
    const char *start = c->p;
    size_t len;
    if (isdigit((unsigned char)*c->p) || (*c->p == '.' && isdigit((unsigned char)c->p[1]))) {
        if (!read_number_token(c, &start, &len))
            return false;
    } else if (is_alpha(*c->p)) {
        while (is_alnum(*c->p) || *c->p == ':')
            c->p++;
        len = (size_t)(c->p - start);
        if (allow_stale && len == 5 && memcmp(start, "stale", 5) == 0) {
            *out = vigil_tsdb_stale_nan();
            return true;
        }
        if (!(len == 3 && (strncasecmp(start, "inf", 3) == 0 || strncasecmp(start, "nan", 3) == 0)))
            return fail(c, "unexpected \"%s\" in series values, expected a number or \"stale\"",
                        word_at(start, near, sizeof near));
    } else {
        return fail(c, "unexpected \"%s\" in series values", word_at(start, near, sizeof near));
    }
    if (!pt_parse_number(start, len, out))
        return fail(c, "error parsing number \"%s\"", word_at(start, near, sizeof near));
    return true;
}

static bool read_signed(cursor *c, double *out)
{
    bool negative = *c->p++ == '-';
    if (!read_unsigned(c, false, out))
        return false;
    if (negative)
        *out = -*out;
    return true;
}

/* The repetition count after `x`: a number token that must be a plain decimal integer. */
static bool read_times(cursor *c, uint64_t *out)
{
    char near[40];
    const char *start;
    size_t len;
    c->p++; /* 'x' */
    if (!isdigit((unsigned char)*c->p))
        return fail(c, "expected a repetition count after \"x\" at \"%s\"",
                    word_at(c->p, near, sizeof near));
    if (!read_number_token(c, &start, &len))
        return false;
    uint64_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (!isdigit((unsigned char)start[i]) || n > (UINT64_MAX - 9) / 10)
            return fail(c, "invalid repetition in series values: \"%s\"",
                        word_at(start, near, sizeof near));
        n = n * 10 + (uint64_t)(start[i] - '0');
    }
    *out = n;
    return true;
}

static bool read_item(cursor *c, pt_series *s)
{
    uint64_t times;
    if (*c->p == '_') {
        c->p++;
        if (*c->p != 'x')
            return add_values(c, s, 0, 0, 1, true);
        return read_times(c, &times) && add_values(c, s, 0, 0, times, true);
    }
    double value, delta = 0;
    if (*c->p == '+' || *c->p == '-') {
        if (!read_signed(c, &value))
            return false;
    } else if (!read_unsigned(c, true, &value)) {
        return false;
    }
    if (*c->p == '+' || *c->p == '-') {
        if (!read_signed(c, &delta))
            return false;
        if (*c->p != 'x')
            return fail(c, "expected \"x\" and a count after an increment");
    }
    if (*c->p != 'x')
        return add_values(c, s, value, 0, 1, false);
    if (!read_times(c, &times))
        return false;
    if (times == UINT64_MAX)
        return fail(c, "repetition count too large");
    return add_values(c, s, value, delta, times + 1, false);
}

static int compare_labels_by_name(const void *a, const void *b)
{
    return strcmp(((const vigil_label *)a)->name, ((const vigil_label *)b)->name);
}

bool pt_series_parse(const char *line, pt_series *out, char *err, size_t errlen)
{
    char near[40];
    cursor c = {line, err, errlen};
    memset(out, 0, sizeof *out);
    bool ok = read_metric(&c, out);
    while (ok && *c.p) {
        if (!is_space(*c.p)) {
            ok = fail(&c, "unexpected \"%s\" in series description",
                      word_at(c.p, near, sizeof near));
            break;
        }
        skip_spaces(&c);
        if (*c.p)
            ok = read_item(&c, out);
    }
    if (ok && out->nlabels > 1) {
        qsort(out->labels, out->nlabels, sizeof *out->labels, compare_labels_by_name);
        for (size_t i = 1; i < out->nlabels; i++)
            if (strcmp(out->labels[i - 1].name, out->labels[i].name) == 0) {
                ok = fail(&c, "label name \"%s\" is not unique", out->labels[i].name);
                break;
            }
    }
    if (!ok)
        pt_series_free(out);
    return ok;
}

void pt_series_free(pt_series *s)
{
    for (size_t i = 0; i < s->nlabels; i++) {
        free((char *)s->labels[i].name);
        free((char *)s->labels[i].value);
    }
    free(s->labels);
    free(s->values);
    free(s->omitted);
    memset(s, 0, sizeof *s);
}

int pt_labels_compare(const vigil_label *a, size_t na, const vigil_label *b, size_t nb)
{
    for (size_t i = 0; i < na && i < nb; i++) {
        int d = strcmp(a[i].name, b[i].name);
        if (d)
            return d;
        d = strcmp(a[i].value, b[i].value);
        if (d)
            return d;
    }
    return na < nb ? -1 : na > nb ? 1 : 0;
}

static void print_quoted(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(f, "\\%c", *s);
        else if (*s == '\n')
            fputs("\\n", f);
        else
            fputc(*s, f);
    }
    fputc('"', f);
}

void pt_labels_print(FILE *f, const vigil_label *labels, size_t n)
{
    size_t name = n;
    for (size_t i = 0; i < n; i++)
        if (strcmp(labels[i].name, "__name__") == 0)
            name = i;
    if (name < n) {
        fputs(labels[name].value, f);
        if (n == 1)
            return;
    }
    fputc('{', f);
    const char *sep = "";
    for (size_t i = 0; i < n; i++) {
        if (i == name)
            continue;
        fprintf(f, "%s%s=", sep, labels[i].name);
        print_quoted(f, labels[i].value);
        sep = ", ";
    }
    fputc('}', f);
}
