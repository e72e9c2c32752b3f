/* promql_test_number.c — the number and duration syntax of Prometheus's PromQL test scripts.
 *
 * test.go reads a scalar expectation with Go's strconv (ParseInt with base 0, then ParseFloat),
 * and the PromQL parser converts a number in a series description the same way, so a script
 * means what Go's syntax says: "010" is octal 8, "019" falls through to the float 19, "1_000"
 * and "0x1p-2" are numbers, "+Inf" and "nan" are too but "+nan" is not, and "1e400" is an error
 * (out of range) rather than infinity. C's strtod accepts a different language (leading spaces,
 * "nan(...)", hex mantissas without an exponent), so the syntax is checked here first and strtod
 * only converts what Go would accept. Durations follow prometheus/common's ParseDuration. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "promql_test.h"

static int digit_value(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = (char)tolower((unsigned char)c);
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 10;
    return 99;
}

static bool is_digit_of(char c, int base)
{
    return digit_value(c) < base;
}

/* Go's rule for '_' in numeric literals: only between digits, or between a base prefix and a
 * digit. */
static bool underscores_ok(const char *s, size_t len)
{
    size_t i = 0;
    char saw = '^';
    bool hex = false;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        i++;
    if (len - i >= 2 && s[i] == '0' && strchr("bBoOxX", s[i + 1])) {
        hex = s[i + 1] == 'x' || s[i + 1] == 'X';
        i += 2;
        saw = '0';
    }
    for (; i < len; i++) {
        if (isdigit((unsigned char)s[i]) || (hex && isxdigit((unsigned char)s[i]))) {
            saw = '0';
        } else if (s[i] == '_') {
            if (saw != '0')
                return false;
            saw = '_';
        } else {
            if (saw == '_')
                return false;
            saw = '!';
        }
    }
    return saw != '_';
}

/* strconv.ParseInt(s, 0, 64). */
static bool parse_go_int(const char *s, size_t len, double *out)
{
    size_t i = 0;
    bool negative = false, underscores = false;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        negative = s[i++] == '-';
    if (i == len)
        return false;
    int base = 10;
    if (s[i] == '0') {
        char p = i + 1 < len ? (char)tolower((unsigned char)s[i + 1]) : 0;
        if (len - i >= 3 && (p == 'b' || p == 'o' || p == 'x')) {
            base = p == 'b' ? 2 : p == 'o' ? 8 : 16;
            i += 2;
        } else {
            base = 8;
            i += 1;
        }
    }
    uint64_t n = 0;
    for (; i < len; i++) {
        if (s[i] == '_') {
            underscores = true;
            continue;
        }
        if (!is_digit_of(s[i], base))
            return false;
        uint64_t d = (uint64_t)digit_value(s[i]);
        if (n > (UINT64_MAX - d) / (uint64_t)base)
            return false;
        n = n * (uint64_t)base + d;
    }
    if (underscores && !underscores_ok(s, len))
        return false;
    uint64_t limit = negative ? (uint64_t)INT64_MAX + 1 : (uint64_t)INT64_MAX;
    if (n > limit)
        return false;
    *out = negative && n ? -(double)n : (double)n; /* Go's int has no -0 */
    return true;
}

static bool equal_fold(const char *s, size_t len, const char *word)
{
    return strlen(word) == len && strncasecmp(s, word, len) == 0;
}

/* ParseFloat's special words: "inf" and "infinity" with an optional sign, "nan" without. */
static bool parse_go_special(const char *s, size_t len, double *out)
{
    if (equal_fold(s, len, "nan")) {
        *out = NAN;
        return true;
    }
    double sign = 1;
    if (len > 0 && (s[0] == '+' || s[0] == '-')) {
        sign = s[0] == '-' ? -1 : 1;
        s++;
        len--;
    }
    if (equal_fold(s, len, "inf") || equal_fold(s, len, "infinity")) {
        *out = sign * INFINITY;
        return true;
    }
    return false;
}

/* Skips a run of digits of base (and underscores); returns how many digits it saw. */
static size_t skip_digits(const char *s, size_t len, size_t *i, int base)
{
    size_t digits = 0;
    for (; *i < len; (*i)++) {
        if (s[*i] == '_')
            continue;
        if (!is_digit_of(s[*i], base))
            break;
        digits++;
    }
    return digits;
}

/* True when s is a complete decimal or hexadecimal floating-point literal in Go's syntax. */
static bool go_float_syntax(const char *s, size_t len)
{
    size_t i = 0;
    if (i < len && (s[i] == '+' || s[i] == '-'))
        i++;
    int base = 10;
    if (len - i >= 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
        base = 16;
        i += 2;
    }
    size_t digits = skip_digits(s, len, &i, base);
    if (i < len && s[i] == '.') {
        i++;
        digits += skip_digits(s, len, &i, base);
    }
    if (digits == 0)
        return false;
    char e = i < len ? (char)tolower((unsigned char)s[i]) : 0;
    if ((base == 10 && e == 'e') || (base == 16 && e == 'p')) {
        i++;
        if (i < len && (s[i] == '+' || s[i] == '-'))
            i++;
        if (skip_digits(s, len, &i, 10) == 0)
            return false;
    } else if (base == 16) {
        return false; /* a hexadecimal mantissa needs its 'p' exponent */
    }
    return i == len && (memchr(s, '_', len) == NULL || underscores_ok(s, len));
}

/* strconv.ParseFloat(s, 64). */
static bool parse_go_float(const char *s, size_t len, double *out)
{
    if (parse_go_special(s, len, out))
        return true;
    if (!go_float_syntax(s, len))
        return false;
    char buf[128];
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (s[i] == '_')
            continue;
        if (n + 1 >= sizeof buf)
            return false;
        buf[n++] = s[i];
    }
    buf[n] = '\0';
    errno = 0;
    double v = strtod(buf, NULL);
    if (isinf(v))
        return false; /* Go reports overflow as an error, not as infinity */
    *out = v;
    return true;
}

bool pt_parse_number(const char *s, size_t len, double *out)
{
    return parse_go_int(s, len, out) || parse_go_float(s, len, out);
}

bool pt_parse_duration(const char *s, size_t len, int64_t *out_ms)
{
    static const struct {
        const char *unit;
        int64_t ms;
    } units[] = {
        {"y", 365LL * 24 * 3600 * 1000},
        {"w", 7LL * 24 * 3600 * 1000},
        {"d", 24LL * 3600 * 1000},
        {"h", 3600LL * 1000},
        {"m", 60LL * 1000},
        {"s", 1000},
        {"ms", 1},
    };
    const size_t nunits = sizeof units / sizeof units[0];
    if (len == 1 && s[0] == '0') {
        *out_ms = 0;
        return true;
    }
    if (len == 0)
        return false;
    size_t i = 0, next_unit = 0;
    int64_t total = 0;
    while (i < len) {
        int64_t n = 0;
        size_t start = i;
        for (; i < len && isdigit((unsigned char)s[i]); i++) {
            if (n > (INT64_MAX - 9) / 10)
                return false;
            n = n * 10 + (s[i] - '0');
        }
        if (i == start)
            return false;
        /* "ms" before "m": the longest unit that matches here. */
        size_t u = nunits, ulen = 0;
        for (size_t k = next_unit; k < nunits; k++) {
            size_t l = strlen(units[k].unit);
            if (l > ulen && l <= len - i && memcmp(s + i, units[k].unit, l) == 0) {
                u = k;
                ulen = l;
            }
        }
        if (u == nunits)
            return false;
        if (n > (INT64_MAX - total) / units[u].ms)
            return false;
        total += n * units[u].ms;
        i += ulen;
        next_unit = u + 1;
    }
    *out_ms = total;
    return true;
}

void pt_format_value(double v, char *buf, size_t size)
{
    if (isnan(v)) {
        snprintf(buf, size, "NaN");
        return;
    }
    if (isinf(v)) {
        snprintf(buf, size, v > 0 ? "+Inf" : "-Inf");
        return;
    }
    /* The fewest significant digits that read back as v, then plain notation unless the
     * exponent is far out (where "1e+30" reads better than thirty digits). */
    int digits = 1;
    for (; digits < 17; digits++) {
        snprintf(buf, size, "%.*e", digits - 1, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    snprintf(buf, size, "%.*e", digits - 1, v);
    int exponent = atoi(strchr(buf, 'e') + 1);
    if (exponent >= -4 && exponent < 21)
        snprintf(buf, size, "%.*f", digits - 1 - exponent > 0 ? digits - 1 - exponent : 0, v);
}
