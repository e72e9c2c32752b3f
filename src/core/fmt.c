/* fmt.c — number formatting for the exposition formats.
 *
 * Values: the exposition parsers read any strtod-compatible float, so we print integers without
 * a fraction (the common case, and the fast one: counters) and other values with enough digits to
 * read back bit-exactly.
 *
 * `le` and `quantile` label values are different: OpenMetrics requires the canonical form, and
 * the reference parser compares against Go's formatting of Python's shortest repr (1.0, 0.005,
 * 1e-05, 1.234567e+06). We reproduce that exactly so both parsers accept our bucket labels.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core_int.h"

size_t vigil__fmt_u64(char *out, uint64_t v)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v != 0);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    out[n] = '\0';
    return n;
}

static size_t fmt_special(char *out, double v)
{
    const char *s = isnan(v) ? "NaN" : (v > 0 ? "+Inf" : "-Inf");
    size_t n = strlen(s);
    memcpy(out, s, n + 1);
    return n;
}

size_t vigil__fmt_double(char *out, double v)
{
    if (!isfinite(v))
        return fmt_special(out, v);
    /* Range first: converting a double beyond int64_t to an integer is undefined. */
    if (fabs(v) < 1e15 && v == (double)(int64_t)v) {
        if (v < 0 || signbit(v)) { /* -0.0 keeps its sign: it reads back bit-exactly */
            out[0] = '-';
            return 1 + vigil__fmt_u64(out + 1, (uint64_t)(-(int64_t)v));
        }
        return vigil__fmt_u64(out, (uint64_t)(int64_t)v);
    }
    int n = snprintf(out, VIGIL__FMT_MAX, "%.15g", v);
    if (strtod(out, NULL) != v)
        n = snprintf(out, VIGIL__FMT_MAX, "%.17g", v);
    return (size_t)n;
}

/* Splits "d.ddde[+-]XX" (or "de[+-]XX") into its digits, without the dot, and the exponent. */
static void split_exp(const char *tmp, char *digits, int *exp10)
{
    const char *e = strchr(tmp, 'e');
    *exp10 = atoi(e + 1);
    size_t n = 0;
    for (const char *p = tmp; p < e; p++) {
        if (*p != '.')
            digits[n++] = *p;
    }
    digits[n] = '\0';
}

/* Adds one unit in the last digit (9.99 -> 1.00 with the exponent raised) and tells whether the
 * result reads back to v. */
static bool next_up_reads_back(char *digits, int *exp10, double v)
{
    size_t n = strlen(digits), i = n;
    while (i > 0 && digits[i - 1] == '9')
        digits[--i] = '0';
    if (i == 0) {
        digits[0] = '1';
        (*exp10)++;
    } else {
        digits[i - 1]++;
    }
    char tmp[48];
    snprintf(tmp, sizeof tmp, "%c.%se%d", digits[0], digits + 1, *exp10);
    return strtod(tmp, NULL) == v;
}

/* Shortest decimal digits that read back to v: digits without a dot into `digits`, the decimal
 * exponent of the first digit into *exp10. v must be finite and positive. At each length the
 * correctly rounded digits are tried first; where v is a power of two the gap to the next double
 * below is half the gap above, so the rounded digits may miss while the next decimal up still
 * reads back. Python's repr (the shortest, then the closest) takes that one, and so do we. */
static void shortest_digits(double v, char *digits, int *exp10)
{
    char tmp[40];
    for (int prec = 0; prec < 17; prec++) {
        snprintf(tmp, sizeof tmp, "%.*e", prec, v);
        split_exp(tmp, digits, exp10);
        if (strtod(tmp, NULL) == v || next_up_reads_back(digits, exp10, v))
            break;
    }
    size_t n = strlen(digits);
    while (n > 1 && digits[n - 1] == '0')
        n--;
    digits[n] = '\0';
}

/* Python's repr() of a finite positive double. */
static size_t python_repr(char *out, double v)
{
    char d[24];
    int e;
    shortest_digits(v, d, &e);
    size_t nd = strlen(d), n = 0;
    if (e >= -4 && e < 16) {
        if (e >= 0) {
            for (int i = 0; i <= e; i++)
                out[n++] = (size_t)i < nd ? d[i] : '0';
            out[n++] = '.';
            if ((size_t)e + 1 < nd) {
                for (size_t i = (size_t)e + 1; i < nd; i++)
                    out[n++] = d[i];
            } else {
                out[n++] = '0';
            }
        } else {
            out[n++] = '0';
            out[n++] = '.';
            for (int i = 0; i < -e - 1; i++)
                out[n++] = '0';
            for (size_t i = 0; i < nd; i++)
                out[n++] = d[i];
        }
        out[n] = '\0';
        return n;
    }
    out[n++] = d[0];
    if (nd > 1) {
        out[n++] = '.';
        for (size_t i = 1; i < nd; i++)
            out[n++] = d[i];
    }
    n += (size_t)sprintf(out + n, "e%c%02d", e < 0 ? '-' : '+', e < 0 ? -e : e);
    return n;
}

size_t vigil__fmt_label_float(char *out, double v)
{
    if (!isfinite(v))
        return fmt_special(out, v);
    if (v == 0) {
        const char *z = signbit(v) ? "-0.0" : "0.0";
        size_t n = strlen(z);
        memcpy(out, z, n + 1); /* not a fixed 5: "0.0" is only 4 bytes with its NUL */
        return n;
    }
    char s[40];
    size_t n;
    if (v < 0) {
        s[0] = '-';
        n = 1 + python_repr(s + 1, -v);
    } else {
        n = python_repr(s, v);
    }
    const char *dot = strchr(s, '.');
    size_t dotpos = dot ? (size_t)(dot - s) : 0;
    if (v > 0 && dot != NULL && dotpos > 6 && strchr(s, 'e') == NULL) {
        /* Go switches to an exponent sooner than Python: 1234567.0 -> 1.234567e+06. */
        char m[40];
        size_t k = 0;
        m[k++] = s[0];
        m[k++] = '.';
        for (size_t i = 1; i < dotpos; i++)
            m[k++] = s[i];
        for (size_t i = dotpos + 1; i < n; i++)
            m[k++] = s[i];
        while (k > 0 && (m[k - 1] == '0' || m[k - 1] == '.'))
            k--;
        m[k] = '\0';
        return (size_t)sprintf(out, "%se+0%zu", m, dotpos - 1);
    }
    memcpy(out, s, n + 1);
    return n;
}
