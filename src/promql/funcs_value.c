/* funcs_value.c — the functions of one sample value: arithmetic, trigonometry, rounding,
 * clamping and the calendar functions.
 *
 * Prometheus computes these with Go's math and time packages, so where Go's definition differs
 * from C's we follow Go: math.Max/Min propagate NaN (fmax/fmin drop it), Log2 and Log10 are
 * derived from the natural logarithm as Go derives them, and the calendar functions convert the
 * value to whole seconds the way Go's int64() does on amd64 (NaN and out-of-range values become
 * the minimum int64) and then split the instant into a civil date with Go's own arithmetic
 * (wrapping unsigned counts from year -292277022399), so that even `year(vector(NaN))` prints
 * what Prometheus prints. Every date is in UTC. */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/core_int.h" /* before funcs.h: ast.h names struct vigil_buffer */
#include "funcs.h"

/* Go's math.Max: +Inf wins over NaN, NaN over everything else, +0 over -0. */
static double go_max(double x, double y)
{
    if ((isinf(x) && x > 0) || (isinf(y) && y > 0))
        return INFINITY;
    if (isnan(x) || isnan(y))
        return NAN;
    if (x == 0 && x == y)
        return signbit(x) ? y : x;
    return x > y ? x : y;
}

/* Go's math.Min: -Inf wins over NaN, NaN over everything else, -0 over +0. */
static double go_min(double x, double y)
{
    if ((isinf(x) && x < 0) || (isinf(y) && y < 0))
        return -INFINITY;
    if (isnan(x) || isnan(y))
        return NAN;
    if (x == 0 && x == y)
        return signbit(x) ? x : y;
    return x < y ? x : y;
}

/* 1/ln(2) and 1/ln(10) rounded once, as Go's constant arithmetic rounds them. */
#define INV_LN2 1.44269504088896340735992468100189213742664595415298593
#define INV_LN10 0.434294481903251827651128918916605082294397005803666566

/* Go's math.Log as its amd64 assembly computes it: fdlibm's reduction to [sqrt(2)/2, sqrt(2))
 * and its polynomial, evaluated in the same order, so ln, log2 and log10 match Prometheus to
 * the bit where the C library's (more exact) log would differ in the last place. The
 * assembly splits x into fraction and exponent by its bit fields, which misreads subnormal
 * numbers (ln(5e-324) is -709.09 there); that is reproduced as well. */
static double go_log(double x)
{
    static const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10;
    static const double l1 = 6.666666666666735130e-01, l2 = 3.999999999940941908e-01;
    static const double l3 = 2.857142874366239149e-01, l4 = 2.222219843214978396e-01;
    static const double l5 = 1.818357216161805012e-01, l6 = 1.531383769920937332e-01;
    static const double l7 = 1.479819860511658591e-01;
    uint64_t bits;
    memcpy(&bits, &x, sizeof bits);
    if ((bits & ~(UINT64_C(1) << 63)) == 0)
        return -INFINITY;
    if (bits >> 63)
        return NAN; /* negative numbers and NaNs with the sign bit set */
    if (bits >= UINT64_C(0x7FF0000000000000))
        return x; /* +Inf and NaN */

    uint64_t frac_bits = (bits & UINT64_C(0x000FFFFFFFFFFFFF)) | UINT64_C(0x3FE0000000000000);
    double f1;
    memcpy(&f1, &frac_bits, sizeof f1);
    double k = (double)((int)((bits >> 52) & 0x7FF) - 0x3FE);
    if (f1 < M_SQRT1_2) {
        k -= 1;
        f1 *= 2;
    }
    double f = f1 - 1;
    double s = f / (2 + f);
    double s2 = s * s;
    double s4 = s2 * s2;
    double t1 = s2 * (l1 + s4 * (l3 + s4 * (l5 + s4 * l7)));
    double t2 = s4 * (l2 + s4 * (l4 + s4 * l6));
    double r = t1 + t2;
    double hfsq = 0.5 * f * f;
    return k * ln2_hi - ((hfsq - (s * (hfsq + r) + k * ln2_lo)) - f);
}

/* The double whose exponent field is biased_exponent and whose fraction is 0. */
static double power_of_two(int64_t biased_exponent)
{
    uint64_t bits = (uint64_t)biased_exponent << 52;
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

/* Go's math.Exp as its amd64 assembly computes it (after SLEEF): x = k ln2 + r with the
 * product subtracted in two parts, a Taylor series on r/16 squared back up four times, then
 * scaled by 2^k. Go fuses those multiply-adds on processors with AVX2 and FMA and not on
 * others, so Prometheus's last bit depends on the machine; we make the same choice on the
 * machine we run on. */
static double go_exp(double x)
{
    static const double log2e = 1.4426950408889634073599246810018920;
    static const double ln2_hi = 0.69314718055966295651160180568695068359375;
    static const double ln2_lo = 0.28235290563031577122588448175013436025525412068e-12;
    static const double c[7] = {2.4801587301587301587e-5,
                                1.9841269841269841270e-4,
                                1.3888888888888888889e-3,
                                8.3333333333333333333e-3,
                                4.1666666666666666667e-2,
                                1.6666666666666666667e-1,
                                0.5};
    if (isnan(x) || (isinf(x) && x > 0))
        return x;
    if (isinf(x))
        return 0;
    if (x > 7.09782712893384e+02)
        return INFINITY;
    /* CVTSD2SL: round to nearest even; out of range gives the "integer indefinite". */
    double e = x * log2e;
    int32_t k = e > -2147483648.5 && e < 2147483647.5 ? (int32_t)nearbyint(e) : INT32_MIN;
    double kd = (double)k;
    bool fused = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    double r, p;
    if (fused) {
        r = fma(-kd, ln2_lo, fma(-kd, ln2_hi, x)) * 0.0625;
        p = c[0];
        for (int i = 1; i < 7; i++)
            p = fma(p, r, c[i]);
        p = fma(p, r, 1.0);
        r *= p;
        for (int i = 0; i < 3; i++)
            r *= r + 2.0;
        r = fma(r, r + 2.0, 1.0);
    } else {
        r = ((x - kd * ln2_hi) - kd * ln2_lo) * 0.0625;
        p = c[0];
        for (int i = 1; i < 7; i++)
            p = p * r + c[i];
        p = p * r + 1.0;
        r *= p;
        for (int i = 0; i < 4; i++)
            r *= r + 2.0;
        r += 1.0;
    }
    int64_t biased = (int64_t)k + 0x3FF;
    if (biased >= 0x7FF)
        return INFINITY;
    if (biased > 0)
        return r * power_of_two(biased);
    if (biased < -52)
        return 0;
    /* A subnormal result: scale in two steps, the second by 2^-1022. */
    return r * power_of_two(biased + 0x3FE) * power_of_two(1);
}

/* Go's hyperbolic functions: from exp above |x| 0.5 (0.625 for tanh), a rational
 * approximation below (Hart & Cheney's #2029 for sinh, Cephes's for tanh). Go halves exp(x)
 * past 21, so sinh and cosh overflow to Inf from 709.78 on, as they do in Prometheus. */
static double go_sinh(double x)
{
    static const double p0 = -0.6307673640497716991184787251e+6;
    static const double p1 = -0.8991272022039509355398013511e+5;
    static const double p2 = -0.2894211355989563807284660366e+4;
    static const double p3 = -0.2630563213397497062819489000e+2;
    static const double q0 = -0.6307673640497716991212077277e+6;
    static const double q1 = 0.1521517378790019070696485176e+5;
    static const double q2 = -0.173678953558233699533450911e+3;
    bool negative = x < 0;
    double a = negative ? -x : x, r;
    if (a > 21) {
        r = go_exp(a) * 0.5;
    } else if (a > 0.5) {
        double ex = go_exp(a);
        r = (ex - 1 / ex) * 0.5;
    } else {
        double sq = a * a;
        r = (((p3 * sq + p2) * sq + p1) * sq + p0) * a;
        r = r / (((sq + q2) * sq + q1) * sq + q0);
    }
    return negative ? -r : r;
}

static double go_cosh(double x)
{
    x = fabs(x);
    if (x > 21)
        return go_exp(x) * 0.5;
    double ex = go_exp(x);
    return (ex + 1 / ex) * 0.5;
}

static double go_tanh(double x)
{
    static const double p0 = -9.64399179425052238628e-1, p1 = -9.92877231001918586564e1;
    static const double p2 = -1.61468768441708447952e3;
    static const double q0 = 1.12811678491632931402e2, q1 = 2.23548839060100448583e3;
    static const double q2 = 4.84406305325125486048e3;
    static const double max_log = 8.8029691931113054295988e+01; /* ln(2^127) */
    double z = fabs(x);
    if (z > 0.5 * max_log)
        return x < 0 ? -1 : 1;
    if (z >= 0.625) {
        double s = go_exp(2 * z);
        z = 1 - 2 / (s + 1);
        return x < 0 ? -z : z;
    }
    if (x == 0)
        return x;
    double s = x * x;
    return x + x * s * ((p0 * s + p1) * s + p2) / (((s + q0) * s + q1) * s + q2);
}

/* Go's Log2: exact for powers of two, else from the natural logarithm of the fraction. */
static double go_log2(double x)
{
    int exp;
    double frac = frexp(x, &exp);
    if (frac == 0.5)
        return (double)(exp - 1);
    return go_log(frac) * INV_LN2 + (double)exp;
}

static double go_log10(double x)
{
    return go_log(x) * INV_LN10;
}

static double sgn(double v)
{
    if (v < 0)
        return -1;
    if (v > 0)
        return 1;
    return v; /* 0, -0 and NaN are their own sign */
}

/* Ties round up; multiplying by the inverse is Prometheus's choice, kept for its last bits. */
static double round_to(double v, double to_nearest)
{
    double inverse = 1.0 / to_nearest;
    return floor(v * inverse + 0.5) / inverse;
}

/* --- calendar: Go's time package, for UTC ------------------------------------------------- */

#define SECONDS_PER_MINUTE 60
#define SECONDS_PER_HOUR 3600
#define SECONDS_PER_DAY 86400
#define SECONDS_PER_WEEK 604800
#define DAYS_PER_400_YEARS (365 * 400 + 97)
#define DAYS_PER_100_YEARS (365 * 100 + 24)
#define DAYS_PER_4_YEARS (365 * 4 + 1)
/* Go counts from this year (1 mod 400) in unsigned seconds; Unix time 0 is this many seconds
 * after it. Sums wrap modulo 2^64 as Go's int64 arithmetic does. */
#define ABSOLUTE_ZERO_YEAR INT64_C(-292277022399)
#define UNIX_TO_ABSOLUTE UINT64_C(9223372028715321600)

typedef struct civil_date {
    int64_t year;
    int month; /* 1..12 */
    int day;   /* 1..31 */
    int yday;  /* 0..365 */
} civil_date;

/* Go's int64(f) on amd64: truncation, and the "integer indefinite" value for NaN and for
 * anything out of range. */
static int64_t go_int64(double f)
{
    if (!(f >= -9223372036854775808.0 && f < 9223372036854775808.0))
        return INT64_MIN;
    return (int64_t)f;
}

static uint64_t absolute_seconds(double unix_seconds)
{
    return (uint64_t)go_int64(unix_seconds) + UNIX_TO_ABSOLUTE;
}

static bool is_leap(int64_t year)
{
    return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
}

static const int days_before_month[13] = {0,   31,  59,  90,  120, 151, 181,
                                          212, 243, 273, 304, 334, 365};

static civil_date to_civil(uint64_t abs)
{
    uint64_t d = abs / SECONDS_PER_DAY;
    uint64_t n = d / DAYS_PER_400_YEARS;
    uint64_t y = 400 * n;
    d -= DAYS_PER_400_YEARS * n;

    /* The last 100-year (and 1-year) cycle has one day more, which would count as a fourth
     * cycle on its last day: n >> 2 takes it back. */
    n = d / DAYS_PER_100_YEARS;
    n -= n >> 2;
    y += 100 * n;
    d -= DAYS_PER_100_YEARS * n;

    n = d / DAYS_PER_4_YEARS;
    y += 4 * n;
    d -= DAYS_PER_4_YEARS * n;

    n = d / 365;
    n -= n >> 2;
    y += n;
    d -= 365 * n;

    civil_date c;
    c.year = (int64_t)(y + (uint64_t)ABSOLUTE_ZERO_YEAR);
    c.yday = (int)d;

    int day = c.yday;
    if (is_leap(c.year)) {
        if (day == 31 + 29 - 1) {
            c.month = 2;
            c.day = 29;
            return c;
        }
        if (day > 31 + 29 - 1)
            day--; /* after the leap day: count as in a common year */
    }
    /* Guess with 31-day months; the guess is at most one month short. */
    int month = day / 31;
    int end = days_before_month[month + 1];
    int begin;
    if (day >= end) {
        month++;
        begin = end;
    } else {
        begin = days_before_month[month];
    }
    c.month = month + 1;
    c.day = day - begin + 1;
    return c;
}

static int days_in_month(int64_t year, int month)
{
    if (month == 2 && is_leap(year))
        return 29;
    return days_before_month[month] - days_before_month[month - 1];
}

static double calendar(pq_fn_id id, double unix_seconds)
{
    uint64_t abs = absolute_seconds(unix_seconds);
    switch (id) {
    case PQ_FN_MINUTE: return (double)(abs % SECONDS_PER_HOUR / SECONDS_PER_MINUTE);
    case PQ_FN_HOUR: return (double)(abs % SECONDS_PER_DAY / SECONDS_PER_HOUR);
    /* The absolute zero day was a Monday (1). */
    case PQ_FN_DAY_OF_WEEK:
        return (double)((abs + SECONDS_PER_DAY) % SECONDS_PER_WEEK / SECONDS_PER_DAY);
    default: break;
    }
    civil_date c = to_civil(abs);
    switch (id) {
    case PQ_FN_DAY_OF_MONTH: return c.day;
    case PQ_FN_DAY_OF_YEAR: return c.yday + 1;
    case PQ_FN_MONTH: return c.month;
    case PQ_FN_YEAR: return (double)c.year;
    case PQ_FN_DAYS_IN_MONTH: return days_in_month(c.year, c.month);
    default: return NAN;
    }
}

bool vigil__pq_value_fn_drops(pq_fn_id id, const double *args)
{
    return id == PQ_FN_CLAMP && args[1] < args[0];
}

double vigil__pq_value_fn(pq_fn_id id, double x, const double *args)
{
    switch (id) {
    case PQ_FN_ABS: return fabs(x);
    case PQ_FN_CEIL: return ceil(x);
    case PQ_FN_FLOOR: return floor(x);
    case PQ_FN_EXP: return go_exp(x);
    case PQ_FN_LN: return go_log(x);
    case PQ_FN_LOG2: return go_log2(x);
    case PQ_FN_LOG10: return go_log10(x);
    case PQ_FN_SQRT: return sqrt(x);
    case PQ_FN_SGN: return sgn(x);
    case PQ_FN_ACOS: return acos(x);
    case PQ_FN_ACOSH: return acosh(x);
    case PQ_FN_ASIN: return asin(x);
    case PQ_FN_ASINH: return asinh(x);
    case PQ_FN_ATAN: return atan(x);
    case PQ_FN_ATANH: return atanh(x);
    case PQ_FN_COS: return cos(x);
    case PQ_FN_COSH: return go_cosh(x);
    case PQ_FN_SIN: return sin(x);
    case PQ_FN_SINH: return go_sinh(x);
    case PQ_FN_TAN: return tan(x);
    case PQ_FN_TANH: return go_tanh(x);
    case PQ_FN_DEG: return x * 180 / M_PI;
    case PQ_FN_RAD: return x * M_PI / 180;
    case PQ_FN_ROUND: return round_to(x, args != NULL ? args[0] : 1);
    case PQ_FN_CLAMP: return go_max(args[0], go_min(args[1], x));
    case PQ_FN_CLAMP_MIN: return go_max(args[0], x);
    case PQ_FN_CLAMP_MAX: return go_min(args[0], x);
    case PQ_FN_MINUTE:
    case PQ_FN_HOUR:
    case PQ_FN_DAY_OF_WEEK:
    case PQ_FN_DAY_OF_MONTH:
    case PQ_FN_DAY_OF_YEAR:
    case PQ_FN_DAYS_IN_MONTH:
    case PQ_FN_MONTH:
    case PQ_FN_YEAR: return calendar(id, x);
    default: return NAN;
    }
}
