/* parse_lit.c — the values of number, duration and string tokens, read exactly as Prometheus
 * 2.42 reads them: numbers with Go's strconv (base prefixes, a leading 0 meaning octal, "Inf"
 * and "NaN", out-of-range literals refused), durations with model.ParseDuration (units in the
 * order y w d h m s ms, each at most once), strings with Prometheus's Go-style unquoting. The
 * messages are Go's, since they reach users inside Prometheus's parse errors. */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "parse_int.h"

/* ---------------------------------------------------------------- numbers */

static int hex_val(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return 99;
}

/* Go's strconv.ParseInt(s, 0, 64) for the unsigned forms the lexer produces. */
static bool parse_go_int(const char *s, size_t n, double *out)
{
    unsigned base = 10;
    size_t i = 0;
    if (n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
        base = 16;
        i = 2;
        if (n == 2)
            return false;
    } else if (n >= 1 && s[0] == '0') {
        base = 8;
        i = 1;
    }
    uint64_t v = 0;
    for (; i < n; i++) {
        int d = hex_val(s[i]);
        if ((unsigned)d >= base)
            return false;
        if (v > (UINT64_C(0x7FFFFFFFFFFFFFFF) - (uint64_t)d) / base)
            return false; /* out of int64's range: Go falls back to ParseFloat */
        v = v * base + (uint64_t)d;
    }
    *out = (double)v;
    return true;
}

/* Decimal forms Go's ParseFloat accepts (the lexer never produces signs or hex floats). */
static bool decimal_syntax(const char *s, size_t n)
{
    size_t i = 0, digits = 0;
    while (i < n && s[i] >= '0' && s[i] <= '9')
        i++, digits++;
    if (i < n && s[i] == '.') {
        i++;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, digits++;
    }
    if (digits == 0)
        return false;
    if (i < n && (s[i] == 'e' || s[i] == 'E')) {
        i++;
        if (i < n && (s[i] == '+' || s[i] == '-'))
            i++;
        size_t exp_digits = 0;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++, exp_digits++;
        if (exp_digits == 0)
            return false;
    }
    return i == n;
}

double vigil__pq_parse_number(pq_parser *p, const pq_token *t)
{
    const char *s = p->in + t->pos;
    size_t n = t->len;
    double v;
    if (parse_go_int(s, n, &v))
        return v;
    if (n == 3 && strncasecmp(s, "inf", 3) == 0)
        return INFINITY;
    if (n == 3 && strncasecmp(s, "nan", 3) == 0)
        return NAN;
    const char *q = vigil__pq_quote(p->arena, s, n, SIZE_MAX);
    if (q == NULL)
        vigil__pq_parse_oom(p);
    bool hex = n >= 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
    if (hex || !decimal_syntax(s, n))
        vigil__pq_parse_fail(
            p, t->pos, "error parsing number: strconv.ParseFloat: parsing %s: invalid syntax", q);
    char *copy = vigil__pq_parse_alloc(p, n + 1);
    memcpy(copy, s, n);
    copy[n] = '\0';
    errno = 0;
    v = strtod(copy, NULL);
    if (errno == ERANGE && isinf(v))
        vigil__pq_parse_fail(
            p, t->pos, "error parsing number: strconv.ParseFloat: parsing %s: value out of range",
            q);
    return v;
}

/* ---------------------------------------------------------------- durations */

static const struct {
    const char *unit;
    int64_t ms;
} duration_units[] = {
    {"y", INT64_C(1000) * 60 * 60 * 24 * 365},
    {"w", INT64_C(1000) * 60 * 60 * 24 * 7},
    {"d", INT64_C(1000) * 60 * 60 * 24},
    {"h", INT64_C(1000) * 60 * 60},
    {"m", INT64_C(1000) * 60},
    {"s", 1000},
    {"ms", 1},
};
#define N_UNITS (sizeof duration_units / sizeof duration_units[0])

/* model.ParseDuration in nanoseconds' terms: false with *range_err when it overflows. */
static bool parse_model_duration(const char *s, size_t n, int64_t *ms, bool *range_err)
{
    size_t i = 0, next_unit = 0;
    int64_t total_ns = 0;
    *range_err = false;
    if (n == 1 && s[0] == '0') {
        *ms = 0;
        return true;
    }
    if (n == 0)
        return false;
    while (i < n) {
        size_t d0 = i;
        uint64_t v = 0;
        bool big = false;
        while (i < n && s[i] >= '0' && s[i] <= '9') {
            if (v > UINT64_C(1) << 62)
                big = true;
            else
                v = v * 10 + (uint64_t)(s[i] - '0');
            i++;
        }
        if (i == d0)
            return false;
        size_t ulen = (i + 1 < n && s[i] == 'm' && s[i + 1] == 's') ? 2 : 1;
        if (i >= n)
            return false;
        size_t u = next_unit;
        while (u < N_UNITS && !(strlen(duration_units[u].unit) == ulen &&
                                strncmp(duration_units[u].unit, s + i, ulen) == 0))
            u++;
        if (u == N_UNITS)
            return false;
        i += ulen;
        next_unit = u + 1;
        int64_t mult = duration_units[u].ms;
        if (big || v > (uint64_t)(INT64_MAX / mult / 1000000)) {
            *range_err = true;
            continue;
        }
        int64_t add = (int64_t)v * 1000000 * mult;
        if (total_ns > INT64_MAX - add)
            *range_err = true;
        else
            total_ns += add;
    }
    *ms = total_ns / 1000000;
    return true;
}

int64_t vigil__pq_parse_duration(pq_parser *p, const pq_token *t)
{
    const char *s = p->in + t->pos;
    int64_t ms = 0;
    bool range_err;
    if (!parse_model_duration(s, t->len, &ms, &range_err)) {
        const char *q = vigil__pq_quote(p->arena, s, t->len, SIZE_MAX);
        if (q == NULL)
            vigil__pq_parse_oom(p);
        vigil__pq_parse_fail(p, t->pos, "not a valid duration string: %s", q);
    }
    if (range_err)
        vigil__pq_parse_fail(p, t->pos, "duration out of range");
    if (ms == 0)
        vigil__pq_parse_fail(p, t->pos, "duration must be greater than 0");
    return ms;
}

/* ---------------------------------------------------------------- strings */

/* One escape sequence at s (after the backslash); the bytes it stands for go to out. Returns
 * the bytes of input used, 0 when it is not valid. */
static size_t unescape(const char *s, size_t n, char quote, char *out, size_t *out_len)
{
    static const char simple_in[] = "abfnrtv\\";
    static const char simple_out[] = "\a\b\f\n\r\t\v\\";
    if (n == 0)
        return 0;
    const char *hit = strchr(simple_in, s[0]);
    if (hit != NULL && s[0] != '\0') {
        out[0] = simple_out[hit - simple_in];
        *out_len = 1;
        return 1;
    }
    if (s[0] == '\'' || s[0] == '"') {
        if (s[0] != quote)
            return 0;
        out[0] = s[0];
        *out_len = 1;
        return 1;
    }
    if (s[0] >= '0' && s[0] <= '7') {
        if (n < 3)
            return 0;
        unsigned v = 0;
        for (int j = 0; j < 3; j++) {
            if (s[j] < '0' || s[j] > '7')
                return 0;
            v = v << 3 | (unsigned)(s[j] - '0');
        }
        if (v > 255)
            return 0;
        out[0] = (char)v;
        *out_len = 1;
        return 3;
    }
    size_t digits = s[0] == 'x' ? 2 : s[0] == 'u' ? 4 : s[0] == 'U' ? 8 : 0;
    if (digits == 0 || n < 1 + digits)
        return 0;
    uint32_t v = 0;
    for (size_t j = 1; j <= digits; j++) {
        int d = hex_val(s[j]);
        if (d > 15)
            return 0;
        v = v << 4 | (uint32_t)d;
    }
    if (s[0] == 'x') {
        out[0] = (char)v; /* one byte, not necessarily UTF-8, as in Go */
        *out_len = 1;
    } else {
        if (v > 0x10FFFF)
            return 0;
        *out_len = vigil__pq_put_utf8(out, v);
    }
    return 1 + digits;
}

const char *vigil__pq_parse_string(pq_parser *p, const pq_token *t)
{
    const char *s = p->in + t->pos + 1;
    size_t n = t->len - 2;
    char quote = p->in[t->pos];
    char *out = vigil__pq_parse_alloc(p, n + 1);
    size_t o = 0;
    if (quote == '`') {
        memcpy(out, s, n);
        out[n] = '\0';
        return out;
    }
    for (size_t i = 0; i < n;) {
        if (s[i] != '\\') {
            out[o++] = s[i++];
            continue;
        }
        size_t len = 0;
        size_t used = unescape(s + i + 1, n - i - 1, quote, out + o, &len);
        if (used == 0) {
            const char *q = vigil__pq_quote(p->arena, p->in + t->pos, t->len, SIZE_MAX);
            if (q == NULL)
                vigil__pq_parse_oom(p);
            vigil__pq_parse_fail(p, t->pos, "error unquoting string %s: invalid syntax", q);
        }
        i += 1 + used;
        o += len;
    }
    out[o] = '\0';
    return out;
}
