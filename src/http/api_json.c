/* api_json.c — the bytes of Prometheus's API responses: strings as Go's encoding/json escapes
 * them, timestamps and sample values as Prometheus's own marshalling writes them, and query
 * results in the shapes {"resultType":"vector","result":[{"metric":{...},"value":[t,"v"]}]}
 * (matrix: "values"; scalar and string: [t,"v"]).
 *
 * The core escaper (core/json.c) is not used: Go writes '<', '>' and '&' as \u003c, \u003e,
 * \u0026, newline and tab as \n and \t, leaves DEL alone and escapes U+2028/U+2029, and a client
 * comparing bytes with a real Prometheus sees every difference. Labels are written in byte
 * order of their names whatever order a result holds them in, because Go marshals a label set
 * as a map, and maps are written with sorted keys ("Zed" before "__name__").
 *
 * A day-long range query answers with hundreds of thousands of points, so numbers are written
 * without printf: integers two digits at a time from a table, other values by the engine's
 * shortest-digits formatter (Ryu), each point straight into the response buffer. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "http/api_int.h"
#include "promql/funcs.h"

#define APPEND_LIT(out, lit) vigil_buffer_append((out), (lit), sizeof(lit) - 1)

/* --- strings ----------------------------------------------------------------------------- */

/* Length of the valid UTF-8 sequence at s, or 0: Go's utf8.DecodeRune rules (no overlong
 * forms, no surrogates, nothing above U+10FFFF). */
static size_t utf8_len(const unsigned char *s)
{
    unsigned char c = s[0];
    unsigned char lo = 0x80, hi = 0xBF;
    size_t n;
    if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0)
            lo = 0xA0;
        else if (c == 0xED)
            hi = 0x9F;
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0)
            lo = 0x90;
        else if (c == 0xF4)
            hi = 0x8F;
    } else {
        return 0;
    }
    if (s[1] < lo || s[1] > hi)
        return 0;
    for (size_t i = 2; i < n; i++) {
        if (s[i] < 0x80 || s[i] > 0xBF)
            return 0;
    }
    return n;
}

/* The escape Go's encoder writes for byte c below 0x80, or NULL when c goes out as it is. */
static const char *ascii_escape(unsigned char c, char buf[8])
{
    switch (c) {
    case '"': return "\\\"";
    case '\\': return "\\\\";
    case '\n': return "\\n";
    case '\r': return "\\r";
    case '\t': return "\\t";
    default: break;
    }
    if (c < 0x20 || c == '<' || c == '>' || c == '&') {
        snprintf(buf, 8, "\\u%04x", c);
        return buf;
    }
    return NULL;
}

vigil_status vigil__api_json_string(vigil_buffer *out, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    vigil_status st = APPEND_LIT(out, "\"");
    size_t run = 0, i = 0;
    while (s[i] != '\0' && st == VIGIL_OK) {
        char buf[8];
        const char *esc = NULL;
        size_t step = 1;
        if (s[i] < 0x80) {
            esc = ascii_escape(s[i], buf);
        } else if ((step = utf8_len(s + i)) == 0) {
            esc = "\\ufffd";
            step = 1;
        } else if (step == 3 && s[i] == 0xE2 && s[i + 1] == 0x80 &&
                   (s[i + 2] == 0xA8 || s[i + 2] == 0xA9)) {
            esc = s[i + 2] == 0xA8 ? "\\u2028" : "\\u2029";
        }
        if (esc != NULL) {
            st = vigil_buffer_append(out, s + run, i - run);
            if (st == VIGIL_OK)
                st = vigil_buffer_append(out, esc, strlen(esc));
            run = i + step;
        }
        i += step;
    }
    if (st == VIGIL_OK)
        st = vigil_buffer_append(out, s + run, i - run);
    return st == VIGIL_OK ? APPEND_LIT(out, "\"") : st;
}

vigil_status vigil__api_go_quote(vigil_buffer *out, const char *str)
{
    const unsigned char *s = (const unsigned char *)str;
    vigil_status st = APPEND_LIT(out, "\"");
    for (size_t i = 0; s[i] != '\0' && st == VIGIL_OK;) {
        unsigned char c = s[i];
        char buf[8];
        size_t n = c < 0x80 ? 1 : utf8_len(s + i);
        if (c == '"' || c == '\\') {
            buf[0] = '\\';
            buf[1] = (char)c;
            st = vigil_buffer_append(out, buf, 2);
        } else if (c >= 0x20 && c < 0x7F) {
            st = vigil_buffer_append(out, &s[i], 1);
        } else if (n > 1) {
            st = vigil_buffer_append(out, s + i, n); /* printable for our purposes */
        } else {
            const char *named = c == '\a'   ? "\\a"
                                : c == '\b' ? "\\b"
                                : c == '\f' ? "\\f"
                                : c == '\n' ? "\\n"
                                : c == '\r' ? "\\r"
                                : c == '\t' ? "\\t"
                                : c == '\v' ? "\\v"
                                            : NULL;
            if (named == NULL)
                snprintf(buf, sizeof buf, "\\x%02x", c);
            st = vigil_buffer_append(out, named ? named : buf, 2 + (named == NULL) * 2);
            n = 1;
        }
        i += n;
    }
    return st == VIGIL_OK ? APPEND_LIT(out, "\"") : st;
}

/* --- numbers ----------------------------------------------------------------------------- */

static const char two_digits[201] = "00010203040506070809101112131415161718192021222324"
                                    "25262728293031323334353637383940414243444546474849"
                                    "50515253545556575859606162636465666768697071727374"
                                    "75767778798081828384858687888990919293949596979899";

/* The decimal digits of u at p, two at a time from the right; returns the end. */
static char *put_uint(char *p, uint64_t u)
{
    static const uint64_t pow10[20] = {
        UINT64_C(1), UINT64_C(10), UINT64_C(100), UINT64_C(1000), UINT64_C(10000),
        UINT64_C(100000), UINT64_C(1000000), UINT64_C(10000000), UINT64_C(100000000),
        UINT64_C(1000000000), UINT64_C(10000000000), UINT64_C(100000000000),
        UINT64_C(1000000000000), UINT64_C(10000000000000), UINT64_C(100000000000000),
        UINT64_C(1000000000000000), UINT64_C(10000000000000000),
        UINT64_C(100000000000000000), UINT64_C(1000000000000000000),
        UINT64_C(10000000000000000000)};
    /* Its length: log10 from the bit length (1233 / 4096 is just above log10(2)), corrected
     * by one comparison. */
    unsigned bits = 64 - (unsigned)__builtin_clzll(u | 1);
    unsigned t = (bits * 1233) >> 12;
    size_t n = (size_t)t - ((u | 1) < pow10[t]) + 1; /* (u | 1: 0 has one digit too) */
    char *end = p + n, *q = end;
    while (u >= 100) {
        unsigned r = (unsigned)(u % 100);
        u /= 100;
        q -= 2;
        memcpy(q, two_digits + 2 * r, 2);
    }
    if (u >= 10) {
        q -= 2;
        memcpy(q, two_digits + 2 * u, 2);
    } else {
        *--q = (char)('0' + u);
    }
    return end;
}

/* Seconds, and ".mmm" when not whole (Prometheus writes all three digits: 1.500, never 1.5);
 * at most 25 bytes. */
static char *put_time(char *p, int64_t ms)
{
    uint64_t t = ms < 0 ? 0 - (uint64_t)ms : (uint64_t)ms;
    if (ms < 0)
        *p++ = '-';
    p = put_uint(p, t / 1000);
    unsigned frac = (unsigned)(t % 1000);
    if (frac != 0) {
        p[0] = '.';
        p[1] = (char)('0' + frac / 100);
        p[2] = (char)('0' + frac / 10 % 10);
        p[3] = (char)('0' + frac % 10);
        p += 4;
    }
    return p;
}

vigil_status vigil__api_json_time(vigil_buffer *out, int64_t ms)
{
    char buf[32];
    return vigil_buffer_append(out, buf, (size_t)(put_time(buf, ms) - buf));
}

/* Go's FormatFloat(v, 'e', -1, 64) from the 'f' form of the same shortest digits:
 * "0.0000001" becomes "1e-07", "1500000000000000000000" becomes "1.5e+21". */
static size_t positional_to_exponent(const char *f, char *out)
{
    size_t o = 0;
    if (*f == '-')
        out[o++] = *f++;
    char dig[400] = {0};
    size_t nd = 0, point = strlen(f);
    for (size_t i = 0; f[i]; i++) {
        if (f[i] == '.')
            point = i;
        else
            dig[nd++] = f[i];
    }
    size_t first = 0;
    while (first < nd && dig[first] == '0')
        first++;
    while (nd > first + 1 && dig[nd - 1] == '0')
        nd--;
    long exp = (long)point - (long)first - 1;
    out[o++] = dig[first];
    if (nd > first + 1) {
        out[o++] = '.';
        memcpy(out + o, dig + first + 1, nd - first - 1);
        o += nd - first - 1;
    }
    o += (size_t)sprintf(out + o, "e%c%02ld", exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
    return o;
}

/* Go's strconv.FormatFloat(v, 'f', -1, 64) into f (400 bytes); returns the length. */
static size_t format_positional(char *f, double v)
{
    if (isnan(v)) {
        memcpy(f, "NaN", 4);
        return 3;
    }
    if (isinf(v)) {
        memcpy(f, v > 0 ? "+Inf" : "-Inf", 5);
        return 4;
    }
    if (fabs(v) < 9007199254740992.0 && v == floor(v)) {
        /* Below 2^53 an integer's shortest form is all its digits: the common case of counter
         * values and whole-second timestamps, written without the shortest-digits search. */
        char *p = f;
        if (signbit(v))
            *p++ = '-'; /* -0 too, as Go writes it */
        p = put_uint(p, (uint64_t)fabs(v));
        *p = '\0';
        return (size_t)(p - f);
    }
    return vigil__pq_format_value_label(f, v);
}

/* A quoted sample value (see vigil__api_json_value) at p, which has room for 440 bytes;
 * returns the end. */
static char *put_value(char *p, double v)
{
    double a = fabs(v);
    *p++ = '"';
    if (isfinite(v) && a != 0 && (a < 1e-6 || a >= 1e21)) {
        char f[400];
        format_positional(f, v);
        p += positional_to_exponent(f, p);
    } else {
        p += format_positional(p, v);
    }
    *p++ = '"';
    return p;
}

vigil_status vigil__api_json_value(vigil_buffer *out, double v)
{
    char buf[448];
    return vigil_buffer_append(out, buf, (size_t)(put_value(buf, v) - buf));
}

/* A scalar or string result is marshalled by Go's encoding/json as [float64(t)/1000, "v"], so
 * its timestamp is a shortest float (1700000031.25, not .250) and a scalar's value is plain
 * FormatFloat 'f' (0.0000001, not 1e-07): not the point format of vectors and matrices. */
static vigil_status json_go_pair(vigil_buffer *out, int64_t t_ms, const char *value, size_t n,
                                 bool quote_as_json)
{
    char secs[400];
    size_t sn = format_positional(secs, (double)t_ms / 1000);
    vigil_status st = APPEND_LIT(out, "[");
    if (st == VIGIL_OK)
        st = vigil_buffer_append(out, secs, sn);
    if (st == VIGIL_OK)
        st = APPEND_LIT(out, ",");
    if (st != VIGIL_OK)
        return st;
    if (quote_as_json) {
        st = vigil__api_json_string(out, value);
    } else {
        st = APPEND_LIT(out, "\"");
        if (st == VIGIL_OK)
            st = vigil_buffer_append(out, value, n);
        if (st == VIGIL_OK)
            st = APPEND_LIT(out, "\"");
    }
    return st == VIGIL_OK ? APPEND_LIT(out, "]") : st;
}

/* --- label sets and results -------------------------------------------------------------- */

vigil_status vigil__api_json_labels(vigil_buffer *out, const vigil_label *labels, size_t n)
{
    size_t local[32];
    size_t *order = n <= 32 ? local : vigil__malloc(n * sizeof *order);
    if (order == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory ordering %zu labels", n);
    for (size_t i = 0; i < n; i++) {
        size_t j = i;
        while (j > 0 && strcmp(labels[order[j - 1]].name, labels[i].name) > 0) {
            order[j] = order[j - 1];
            j--;
        }
        order[j] = i;
    }
    vigil_status st = APPEND_LIT(out, "{");
    for (size_t i = 0; i < n && st == VIGIL_OK; i++) {
        if (i > 0)
            st = APPEND_LIT(out, ",");
        if (st == VIGIL_OK)
            st = vigil__api_json_string(out, labels[order[i]].name);
        if (st == VIGIL_OK)
            st = APPEND_LIT(out, ":");
        if (st == VIGIL_OK)
            st = vigil__api_json_string(out, labels[order[i]].value);
    }
    if (order != local)
        vigil__free(order);
    return st == VIGIL_OK ? APPEND_LIT(out, "}") : st;
}

/* The most one point takes: a comma, brackets, quotes, a 25-byte time and a value written
 * positionally before its exponent form replaces it (400 bytes at most). */
#define POINT_MAX 480

/* [t,"v"] (after a comma), written straight into out when it has room for any point, as a
 * day-long range query writes hundreds of thousands of them; otherwise built on the stack and
 * appended, so that the buffer's limit applies to the bytes actually written. */
static vigil_status json_point(vigil_buffer *out, bool comma, int64_t t, double v)
{
    char local[POINT_MAX];
    size_t limit = out->limit ? out->limit : VIGIL_BUFFER_DEFAULT_LIMIT;
    bool direct = out->data != NULL && out->cap - out->len > POINT_MAX &&
                  limit - out->len >= POINT_MAX;
    char *start = direct ? out->data + out->len : local, *p = start;
    if (comma)
        *p++ = ',';
    *p++ = '[';
    p = put_time(p, t);
    *p++ = ',';
    p = put_value(p, v);
    *p++ = ']';
    if (!direct)
        return vigil_buffer_append(out, local, (size_t)(p - local));
    out->len += (size_t)(p - start);
    out->data[out->len] = '\0';
    return VIGIL_OK;
}

/* {"metric":{...},"value":[t,"v"]} or {"metric":{...},"values":[[t,"v"],...]} */
static vigil_status json_series(vigil_buffer *out, const vigil_promql_result *r, size_t i,
                                bool matrix)
{
    const vigil_label *labels;
    size_t nl = vigil_promql_result_labels(r, i, &labels);
    const int64_t *t;
    const double *v;
    size_t np = vigil_promql_result_points(r, i, &t, &v);
    vigil_status st = APPEND_LIT(out, "{\"metric\":");
    if (st == VIGIL_OK)
        st = vigil__api_json_labels(out, labels, nl);
    if (st == VIGIL_OK)
        st = matrix ? APPEND_LIT(out, ",\"values\":[") : APPEND_LIT(out, ",\"value\":");
    for (size_t p = 0; p < np && st == VIGIL_OK && (matrix || p == 0); p++)
        st = json_point(out, p > 0, t[p], v[p]);
    if (st == VIGIL_OK && matrix)
        st = APPEND_LIT(out, "]");
    return st == VIGIL_OK ? APPEND_LIT(out, "}") : st;
}

static vigil_status json_scalar(vigil_buffer *out, const vigil_promql_result *r)
{
    const int64_t *t;
    const double *v;
    if (vigil_promql_result_series(r) == 0 || vigil_promql_result_points(r, 0, &t, &v) == 0)
        return vigil__fail(VIGIL_ESTATE, "scalar query result without a value");
    char f[400];
    size_t n = format_positional(f, v[0]);
    return json_go_pair(out, t[0], f, n, false);
}

static vigil_status json_string_result(vigil_buffer *out, const vigil_promql_result *r)
{
    const char *s = vigil_promql_result_string(r);
    return json_go_pair(out, vigil_promql_result_time(r), s ? s : "", 0, true);
}

/* Grows out once to about what the series will take (some 30 bytes a point), instead of
 * doubling a few megabytes through a dozen copies. Only a hint: nothing fails here. */
static void reserve_for(vigil_buffer *out, const vigil_promql_result *r, size_t n)
{
    size_t bytes = 0;
    for (size_t i = 0; i < n; i++) {
        const int64_t *t;
        const double *v;
        bytes += 160 + 32 * vigil_promql_result_points(r, i, &t, &v);
    }
    size_t limit = out->limit ? out->limit : VIGIL_BUFFER_DEFAULT_LIMIT;
    if (bytes > 4096 && bytes <= limit / 2 && out->len < limit / 2)
        (void)vigil_buffer_reserve(out, bytes);
}

vigil_status vigil__api_json_result(vigil_buffer *out, const vigil_promql_result *r)
{
    vigil_promql_value_type type = vigil_promql_result_type(r);
    static const char *const names[] = {"scalar", "vector", "matrix", "string"};
    if ((unsigned)type > VIGIL_PROMQL_STRING)
        return vigil__fail(VIGIL_ESTATE, "query result of unknown type %d", (int)type);
    vigil_status st = APPEND_LIT(out, "{\"resultType\":\"");
    if (st == VIGIL_OK)
        st = vigil_buffer_append(out, names[type], strlen(names[type]));
    if (st == VIGIL_OK)
        st = APPEND_LIT(out, "\",\"result\":");
    if (st != VIGIL_OK)
        return st;
    if (type == VIGIL_PROMQL_SCALAR)
        st = json_scalar(out, r);
    else if (type == VIGIL_PROMQL_STRING)
        st = json_string_result(out, r);
    else {
        size_t n = vigil_promql_result_series(r);
        reserve_for(out, r, n);
        st = APPEND_LIT(out, "[");
        for (size_t i = 0; i < n && st == VIGIL_OK; i++) {
            if (i > 0)
                st = APPEND_LIT(out, ",");
            if (st == VIGIL_OK)
                st = json_series(out, r, i, type == VIGIL_PROMQL_MATRIX);
        }
        if (st == VIGIL_OK)
            st = APPEND_LIT(out, "]");
    }
    return st == VIGIL_OK ? APPEND_LIT(out, "}") : st;
}
