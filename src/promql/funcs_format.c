/* funcs_format.c — a sample value written as a label value, exactly as Prometheus writes it
 * (count_values): Go's strconv.FormatFloat(v, 'f', -1, 64). That is the shortest decimal
 * that reads back to the same double — the closest to it when several are that short — laid
 * out in positional notation whatever the magnitude: 1e21 is "1000000000000000000000",
 * 5e-324 is "0.000…005", and NaN, +Inf, -Inf and -0 are "NaN", "+Inf", "-Inf", "-0".
 *
 * The digits come from the C library's correctly rounded "%.*e" of the shortest length at
 * which strtod gives the value back. A correctly rounded candidate is the closest of its length, so
 * it is in the round-trip interval whenever any candidate of that length is — except at a
 * power of two, where the interval below the value is half as wide as the one above; there
 * the next candidate up is tried too. Slow next to Ryu, but count_values is not a hot path. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/core_int.h" /* before funcs.h: ast.h names struct vigil_buffer */
#include "funcs.h"

/* A decimal d1 d2 ... dn x 10^(point - n), d1 not zero. */
typedef struct decimal {
    char digits[24];
    size_t n;
    int point; /* digits before the decimal point; may be <= 0 or > n */
} decimal;

/* Reads the mantissa digits and exponent of "%.*e" output (positive values). */
static void parse_scientific(const char *s, decimal *d)
{
    d->n = 0;
    for (; *s != 'e'; s++)
        if (*s != '.')
            d->digits[d->n++] = *s;
    d->point = atoi(s + 1) + 1;
}

static decimal trimmed(decimal d)
{
    while (d.n > 1 && d.digits[d.n - 1] == '0')
        d.n--;
    return d;
}

static bool reads_back(const decimal *d, double v)
{
    char buf[48];
    snprintf(buf, sizeof buf, "%.*se%d", (int)d->n, d->digits, d->point - (int)d->n);
    return strtod(buf, NULL) == v;
}

/* The decimal one unit of the last digit above d. */
static decimal next_up(const decimal *d)
{
    decimal up = *d;
    size_t i = up.n;
    while (i > 0 && up.digits[i - 1] == '9')
        i--;
    if (i == 0) {
        /* 99..9 becomes 1 followed by zeros, one place further left. */
        up.digits[0] = '1';
        up.n = 1;
        up.point++;
        return up;
    }
    up.digits[i - 1]++;
    up.n = i; /* the nines that carried are now trailing zeros */
    return up;
}

static bool is_power_of_two(double v)
{
    int exp;
    return frexp(v, &exp) == 0.5;
}

/* The correctly rounded decimal of the given length if it reads back, else at a power of two
 * the next one up if that does; false when neither does. */
static bool round_trip_candidate(double v, int digits, decimal *out)
{
    char buf[48];
    snprintf(buf, sizeof buf, "%.*e", digits - 1, v);
    parse_scientific(buf, out);
    if (reads_back(out, v))
        return true;
    if (is_power_of_two(v) && strtod(buf, NULL) < v) {
        decimal up = next_up(out);
        if (reads_back(&up, v)) {
            *out = up;
            return true;
        }
    }
    return false;
}

/* Whether some decimal of a length reads back only grows with the length (a longer nearest
 * decimal is no farther away), so the shortest length is found by bisection; 17 always
 * suffices. */
static decimal shortest(double v)
{
    int lo = 1, hi = 17;
    decimal d;
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (round_trip_candidate(v, mid, &d))
            hi = mid;
        else
            lo = mid + 1;
    }
    round_trip_candidate(v, lo, &d);
    return trimmed(d);
}

static size_t put(char *out, size_t at, char c, size_t count)
{
    memset(out + at, c, count);
    return at + count;
}

/* Most sample values are integers or have a few decimals (counters, two-decimal gauges):
 * v = m / 10^k for a small k. While v * 10^k stays below 2^50, the doubles near it are less
 * than 1/4 apart after scaling, so at most one integer m can read back at each k and rounding
 * the scaled product finds it; the smallest k that reads back is then Go's shortest form.
 * This costs a few multiplications instead of the search below (~50 ns against ~3 us), which
 * matters when the query API writes a million points. Writes the digits of positive v. */
static bool few_decimals(char *out, double v, size_t *len)
{
    static const double pow10[] = {1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9};
    for (int k = 0; k < (int)(sizeof pow10 / sizeof pow10[0]); k++) {
        double scaled = v * pow10[k];
        if (scaled >= 1125899906842624.0) /* 2^50 */
            return false;
        double m = nearbyint(scaled);
        if (m / pow10[k] != v)
            continue;
        char digits[24];
        size_t n = 0;
        for (uint64_t u = (uint64_t)m; u != 0 || n == 0; u /= 10)
            digits[n++] = (char)('0' + u % 10);
        while (n <= (size_t)k) /* 0.05 = 5 / 10^2: pad to "005" */
            digits[n++] = '0';
        size_t at = 0;
        for (size_t i = n; i > 0; i--) {
            if (k > 0 && i == (size_t)k)
                out[at++] = '.';
            out[at++] = digits[i - 1];
        }
        out[at] = '\0';
        *len = at;
        return true;
    }
    return false;
}

size_t vigil__pq_format_value_label(char *out, double v)
{
    const char *special = NULL;
    if (isnan(v))
        special = "NaN";
    else if (isinf(v))
        special = v > 0 ? "+Inf" : "-Inf";
    else if (v == 0)
        special = signbit(v) ? "-0" : "0";
    if (special != NULL) {
        size_t len = strlen(special);
        memcpy(out, special, len + 1);
        return len;
    }

    size_t at = 0;
    if (v < 0) {
        out[at++] = '-';
        v = -v;
    }
    size_t fast_len;
    if (few_decimals(out + at, v, &fast_len))
        return at + fast_len;
    decimal d = shortest(v);
    if (d.point <= 0) {
        at = put(out, at, '0', 1);
        at = put(out, at, '.', 1);
        at = put(out, at, '0', (size_t)-d.point);
        memcpy(out + at, d.digits, d.n);
        at += d.n;
    } else if ((size_t)d.point >= d.n) {
        memcpy(out + at, d.digits, d.n);
        at += d.n;
        at = put(out, at, '0', (size_t)d.point - d.n);
    } else {
        memcpy(out + at, d.digits, (size_t)d.point);
        at += (size_t)d.point;
        out[at++] = '.';
        memcpy(out + at, d.digits + d.point, d.n - (size_t)d.point);
        at += d.n - (size_t)d.point;
    }
    out[at] = '\0';
    return at;
}
