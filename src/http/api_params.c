/* api_params.c — the query API's parameters (times, durations, limits, label names) accepted
 * and converted exactly as Prometheus 2.42 does, Go runtime behaviour included.
 *
 * Prometheus hands a parameter to Go's strconv.ParseFloat first and to time.Parse(RFC3339Nano)
 * or model.ParseDuration second, so what counts as a number is Go's grammar, not C's: "1_000"
 * and "0x1p4" are numbers, "0x10" and " 1" are not. A float time is rounded to the millisecond
 * with math.Round and converted with Go's float-to-int64 conversion, which on amd64 (the
 * platform of every Prometheus we compare with) turns NaN and out-of-range values into
 * math.MinInt64; the seconds then wrap as Go's int64 arithmetic wraps. We do the same, in
 * unsigned arithmetic where C would call a wrap undefined. */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/api_int.h"

#define NS_PER_SEC INT64_C(1000000000)
#define NS_PER_MS INT64_C(1000000)

/* ASCII classes: the C library's depend on the program's locale, Go's grammar does not. */
static bool is_digit(unsigned char c)
{
    return c >= '0' && c <= '9';
}

static unsigned char lower(unsigned char c)
{
    return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

static bool is_xdigit(unsigned char c)
{
    return is_digit(c) || (lower(c) >= 'a' && lower(c) <= 'f');
}

static bool is_alpha(unsigned char c)
{
    return lower(c) >= 'a' && lower(c) <= 'z';
}

/* Go's int64(f) on amd64 (CVTTSD2SQ): truncation, and the "integer indefinite" value
 * math.MinInt64 for NaN and anything outside int64. */
static int64_t go_float_to_int64(double f)
{
    if (!(f >= -9223372036854775808.0 && f < 9223372036854775808.0))
        return INT64_MIN;
    return (int64_t)f;
}

static int64_t wrap_add(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a + (uint64_t)b);
}

static int64_t wrap_mul(int64_t a, int64_t b)
{
    return (int64_t)((uint64_t)a * (uint64_t)b);
}

/* --- Go's strconv.ParseFloat ------------------------------------------------------------ */

static bool prefix_nocase(const char *s, const char *word, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '\0' || lower((unsigned char)s[i]) != word[i])
            return false;
    }
    return true;
}

/* Go's special(): "inf" or "infinity" with an optional sign, or "nan" without one, filling
 * the whole string. */
static bool parse_special(const char *s, double *out)
{
    double sign = 1;
    const char *p = s;
    if (*p == '+' || *p == '-') {
        sign = *p == '-' ? -1 : 1;
        p++;
    } else if (strlen(p) == 3 && prefix_nocase(p, "nan", 3)) {
        *out = NAN;
        return true;
    }
    size_t n = strlen(p);
    if ((n == 3 && prefix_nocase(p, "inf", 3)) || (n == 8 && prefix_nocase(p, "infinity", 8))) {
        *out = sign * INFINITY;
        return true;
    }
    return false;
}

/* Go's underscoreOK: every '_' sits between two digits (a base prefix counts as a digit). */
static bool underscores_ok(const char *s)
{
    char saw = '^';
    size_t i = 0;
    if (*s == '+' || *s == '-')
        s++;
    bool hex = false;
    if (s[0] == '0' && (lower((unsigned char)s[1]) == 'x' || lower((unsigned char)s[1]) == 'b' ||
                        lower((unsigned char)s[1]) == 'o')) {
        i = 2;
        saw = '0';
        hex = lower((unsigned char)s[1]) == 'x';
    }
    for (; s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (is_digit(c) || (hex && is_xdigit(c))) {
            saw = '0';
        } else if (c == '_') {
            if (saw != '0')
                return false;
            saw = '_';
        } else if (saw == '_') {
            return false;
        } else {
            saw = '!';
        }
    }
    return saw != '_';
}

/* Go's readFloat grammar: [sign] (digits [. digits] [e [sign] digits] | 0x hexdigits [. hex]
 * p [sign] digits), '_' allowed among the digits. Returns whether s fits it entirely and
 * whether it used underscores. */
static bool float_syntax(const char *s, bool *underscores)
{
    size_t i = 0;
    *underscores = false;
    if (s[i] == '+' || s[i] == '-')
        i++;
    int base = 10;
    if (s[i] == '0' && lower((unsigned char)s[i + 1]) == 'x' && s[i + 2] != '\0') {
        base = 16;
        i += 2;
    }
    bool sawdot = false, sawdigits = false;
    for (; s[i]; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '_') {
            *underscores = true;
        } else if (c == '.') {
            if (sawdot)
                break;
            sawdot = true;
        } else if (is_digit(c) || (base == 16 && is_xdigit(c))) {
            sawdigits = true;
        } else {
            break;
        }
    }
    if (!sawdigits)
        return false;
    char exp_char = base == 16 ? 'p' : 'e';
    if (lower((unsigned char)s[i]) == exp_char) {
        i++;
        if (s[i] == '+' || s[i] == '-')
            i++;
        bool expdigits = false;
        for (; s[i] == '_' || is_digit((unsigned char)s[i]); i++) {
            if (s[i] == '_')
                *underscores = true;
            else
                expdigits = true;
        }
        if (!expdigits)
            return false;
    } else if (base == 16) {
        return false; /* Go wants the p exponent of a hexadecimal float */
    }
    return s[i] == '\0';
}

bool vigil__api_parse_float(const char *s, double *out)
{
    if (s == NULL || *s == '\0')
        return false;
    if (parse_special(s, out))
        return true;
    bool underscores;
    if (!float_syntax(s, &underscores) || (underscores && !underscores_ok(s)))
        return false;
    char local[128];
    size_t len = strlen(s);
    char *copy = len < sizeof local ? local : vigil__malloc(len + 1);
    if (copy == NULL)
        return false;
    size_t n = 0;
    for (const char *p = s; *p; p++) {
        if (*p != '_')
            copy[n++] = *p;
    }
    copy[n] = '\0';
    double v = strtod(copy, NULL);
    if (copy != local)
        vigil__free(copy);
    if (isinf(v))
        return false; /* Go reports ErrRange for a finite literal beyond the largest double */
    *out = v;
    return true;
}

/* --- times ------------------------------------------------------------------------------ */

/* Go's time.Unix(sec, nsec): nsec folded into [0, 1e9), sec wrapping. */
static vigil__api_time go_unix(int64_t sec, int64_t nsec)
{
    if (nsec < 0 || nsec >= NS_PER_SEC) {
        int64_t n = nsec / NS_PER_SEC;
        sec = wrap_add(sec, n);
        nsec -= n * NS_PER_SEC;
        if (nsec < 0) {
            nsec += NS_PER_SEC;
            sec = wrap_add(sec, -1);
        }
    }
    return (vigil__api_time){sec, (int32_t)nsec};
}

static bool digits(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (!is_digit((unsigned char)s[i]))
            return false;
    }
    return true;
}

static int num2(const char *s)
{
    return (s[0] - '0') * 10 + (s[1] - '0');
}

static bool leap(int64_t y)
{
    return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int days_in(int month, int64_t year)
{
    static const int days[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    return month == 2 && leap(year) ? 29 : days[month - 1];
}

/* Days from 1970-01-01 to y-m-d in the proleptic Gregorian calendar. */
static int64_t days_from_civil(int64_t y, int m, int d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* time.Parse(time.RFC3339Nano, s) as Go 1.19 parses it: a one-digit hour is taken, a fraction
 * may follow the seconds with '.' or ',' (at most 9 digits), the zone is "Z" or ±hh:mm, and
 * "T" and "Z" are upper case. */
static bool parse_rfc3339(const char *s, vigil__api_time *out)
{
    size_t len = strlen(s);
    if (len < 10 || !digits(s, 4) || s[4] != '-' || !digits(s + 5, 2) || s[7] != '-' ||
        !digits(s + 8, 2))
        return false;
    int64_t year = atoi(s);
    int month = num2(s + 5), day = num2(s + 8);
    const char *p = s + 10;
    if (*p++ != 'T' || !is_digit((unsigned char)p[0]))
        return false;
    int hour = p[0] - '0';
    p++;
    if (is_digit((unsigned char)p[0]))
        hour = hour * 10 + (*p++ - '0');
    if (p[0] != ':' || !digits(p + 1, 2) || p[3] != ':' || !digits(p + 4, 2))
        return false;
    int min = num2(p + 1), sec = num2(p + 4);
    p += 6;
    int64_t nsec = 0;
    if ((p[0] == '.' || p[0] == ',') && is_digit((unsigned char)p[1])) {
        int n = 0;
        for (p++; n < 9 && is_digit((unsigned char)*p); p++, n++)
            nsec = nsec * 10 + (*p - '0');
        for (; n < 9; n++)
            nsec *= 10;
    }
    int64_t offset = 0;
    if (p[0] == 'Z') {
        p++;
    } else {
        if (strlen(p) < 6 || p[3] != ':' || (p[0] != '+' && p[0] != '-') || !digits(p + 1, 2) ||
            !digits(p + 4, 2))
            return false;
        offset = (int64_t)(num2(p + 1) * 60 + num2(p + 4)) * 60;
        if (p[0] == '-')
            offset = -offset;
        p += 6;
    }
    if (*p != '\0' || month < 1 || month > 12 || hour > 23 || min > 59 || sec > 59 || day < 1 ||
        day > days_in(month, year))
        return false;
    int64_t secs = days_from_civil(year, month, day) * 86400 + hour * 3600 + min * 60 + sec;
    *out = (vigil__api_time){secs - offset, (int32_t)nsec};
    return true;
}

/* Prometheus's minTime and maxTime, as it prints them: it accepts these two strings, which
 * Go's parser cannot read (their years have more than 4 digits), as the two limits. */
#define MIN_TIME_SEC INT64_C(-9223309901257974)
#define MAX_TIME_SEC INT64_C(9223309901257974)
#define MIN_TIME_TEXT "-292273086-05-16T16:47:06Z"
#define MAX_TIME_TEXT "292277025-08-18T07:12:54.999999999Z"

vigil__api_time vigil__api_time_min(void)
{
    return (vigil__api_time){MIN_TIME_SEC, 0};
}

vigil__api_time vigil__api_time_max(void)
{
    return (vigil__api_time){MAX_TIME_SEC, 999999999};
}

bool vigil__api_parse_time(const char *s, vigil__api_time *out)
{
    double f;
    if (vigil__api_parse_float(s, &f)) {
        double whole;
        double frac = modf(f, &whole);
        if (isinf(f))
            frac = NAN; /* Go's math.Modf computes Inf - Inf where C's modf returns 0 */
        frac = round(frac * 1000) / 1000;
        *out = go_unix(go_float_to_int64(whole), go_float_to_int64(frac * 1e9));
        return true;
    }
    if (parse_rfc3339(s, out))
        return true;
    if (strcmp(s, MIN_TIME_TEXT) == 0) {
        *out = vigil__api_time_min();
        return true;
    }
    if (strcmp(s, MAX_TIME_TEXT) == 0) {
        *out = vigil__api_time_max();
        return true;
    }
    return false;
}

vigil__api_time vigil__api_time_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (vigil__api_time){(int64_t)ts.tv_sec, (int32_t)ts.tv_nsec};
}

int64_t vigil__api_time_ms(vigil__api_time t)
{
    return wrap_add(wrap_mul(t.sec, 1000), t.nsec / NS_PER_MS);
}

int64_t vigil__api_time_engine_ms(vigil__api_time t)
{
    return wrap_add(wrap_mul(t.sec, NS_PER_SEC), t.nsec) / NS_PER_MS;
}

int vigil__api_time_cmp(vigil__api_time a, vigil__api_time b)
{
    if (a.sec != b.sec)
        return a.sec < b.sec ? -1 : 1;
    return (a.nsec > b.nsec) - (a.nsec < b.nsec);
}

int64_t vigil__api_time_sub(vigil__api_time a, vigil__api_time b)
{
    __int128 d = ((__int128)a.sec - b.sec) * NS_PER_SEC + (a.nsec - b.nsec);
    if (d > INT64_MAX)
        return INT64_MAX;
    if (d < INT64_MIN)
        return INT64_MIN;
    return (int64_t)d;
}

/* --- durations -------------------------------------------------------------------------- */

/* One "<digits><unit>" group of model.ParseDuration: the value in ns added to *dur, with the
 * library's two overflow checks. */
static bool add_unit(int64_t n, int64_t mult_ms, int64_t *dur)
{
    if (n > INT64_MAX / mult_ms / NS_PER_MS)
        return false;
    *dur = wrap_add(*dur, wrap_mul(n * NS_PER_MS, mult_ms));
    return *dur >= 0;
}

/* model.ParseDuration (prometheus/common 0.39): "0", or units y w d h m s ms each at most once
 * and in that order, each with decimal digits. */
static bool parse_prom_duration(const char *s, int64_t *ns)
{
    static const struct {
        const char *unit;
        int64_t mult_ms;
    } units[] = {
        {"y", INT64_C(31536000000)},
        {"w", INT64_C(604800000)},
        {"d", INT64_C(86400000)},
        {"h", INT64_C(3600000)},
        {"m", INT64_C(60000)},
        {"s", INT64_C(1000)},
        {"ms", 1},
    };
    if (strcmp(s, "0") == 0) {
        *ns = 0;
        return true;
    }
    if (*s == '\0')
        return false;
    int64_t dur = 0;
    size_t next = 0; /* units before this one are no longer allowed */
    const char *p = s;
    while (*p) {
        const char *q = p;
        int64_t n = 0;
        bool big = false;
        for (; is_digit((unsigned char)*q); q++) {
            if (n > (INT64_MAX - 9) / 10)
                big = true; /* Atoi saturates; the range check below then fails */
            else
                n = n * 10 + (*q - '0');
        }
        if (q == p)
            return false;
        size_t u = next;
        /* "ms" before "m": the regex backtracks to it when "m" would leave an "s" behind. */
        while (u < sizeof units / sizeof units[0]) {
            size_t ul = strlen(units[u].unit);
            bool is_m_of_ms = strcmp(units[u].unit, "m") == 0 && q[1] == 's';
            if (strncmp(q, units[u].unit, ul) == 0 && !is_m_of_ms)
                break;
            u++;
        }
        if (u == sizeof units / sizeof units[0])
            return false;
        if (big || !add_unit(n, units[u].mult_ms, &dur))
            return false;
        p = q + strlen(units[u].unit);
        next = u + 1;
    }
    *ns = dur;
    return true;
}

vigil__api_dur_result vigil__api_parse_duration(const char *s, int64_t *ns)
{
    double d;
    if (vigil__api_parse_float(s, &d)) {
        double t = d * 1e9;
        if (t > 9223372036854775807.0 || t < -9223372036854775808.0)
            return VIGIL__API_DUR_OVERFLOW;
        *ns = go_float_to_int64(t);
        return VIGIL__API_DUR_OK;
    }
    return parse_prom_duration(s, ns) ? VIGIL__API_DUR_OK : VIGIL__API_DUR_BAD;
}

/* --- small grammars --------------------------------------------------------------------- */

bool vigil__api_parse_int(const char *s, int64_t *out)
{
    const char *p = s;
    bool neg = false;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    if (*p == '\0')
        return false;
    uint64_t v = 0;
    for (; *p; p++) {
        if (!is_digit((unsigned char)*p))
            return false;
        uint64_t digit = (uint64_t)(*p - '0');
        if (v > (UINT64_MAX - digit) / 10)
            return false;
        v = v * 10 + digit;
        if (v > (uint64_t)INT64_MAX + neg)
            return false;
    }
    *out = neg ? (int64_t)(0 - v) : (int64_t)v;
    return true;
}

bool vigil__api_label_name_valid(const char *s)
{
    if (!(is_alpha((unsigned char)*s) || *s == '_'))
        return false;
    for (s++; *s; s++) {
        if (!(is_alpha((unsigned char)*s) || is_digit((unsigned char)*s) || *s == '_'))
            return false;
    }
    return true;
}
