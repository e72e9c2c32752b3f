/* omparse.c — the OpenMetrics-with-timestamps reader behind the tsdb import (omparse.h says
 * what is accepted and why).
 *
 * Speed comes from three choices. Input is handed over in regions that end with a newline, so
 * every scanning loop stops at '\n' at the latest and none needs a bounds check; the streaming
 * form keeps only an unfinished last line aside (the carry) and completes it from the next
 * chunk. Characters are classified by one 256-entry table. Numbers take Clinger's fast path
 * (at most 19 digits, a mantissa below 2^53 and a power of ten up to 1e22 give the correctly
 * rounded double with one IEEE multiplication or division); anything else goes to strtod_l in
 * the C locale, which glibc rounds correctly, so both paths give strtod's result.
 *
 * Strings passed to callbacks point into the input unless they had escapes: those are
 * unescaped into a scratch buffer sized, at the first escape of a line, for the rest of that
 * line, so later labels of the same line never move earlier ones. */
#include <errno.h>
#include <fcntl.h>
#include <float.h>
#include <locale.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/core_int.h"
#include "tsdb/omparse.h"

#define READ_BLOCK ((size_t)1 << 20)
#define SHOW_MAX 48 /* characters of a bad token quoted in an error message */

/* Character classes. */
enum {
    C_MSTART = 1,  /* [a-zA-Z_:] first character of a metric name */
    C_MNAME = 2,   /* [a-zA-Z0-9_:] */
    C_LSTART = 4,  /* [a-zA-Z_] first character of a label name */
    C_LNAME = 8,   /* [a-zA-Z0-9_] */
    C_VSTOP = 16,  /* ends the fast scan of a label value: " \ \n NUL and bytes >= 0x80 */
    C_TOKEND = 32, /* ends a number token: space, \n */
};

static unsigned char cls[256];
static locale_t c_locale; /* (locale_t)0 if newlocale failed: plain strtod then */
static pthread_once_t init_once = PTHREAD_ONCE_INIT;

static void init_tables(void)
{
    for (int c = 0; c < 256; c++) {
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        bool digit = c >= '0' && c <= '9';
        unsigned char k = 0;
        if (alpha || c == ':')
            k |= C_MSTART | C_MNAME;
        if (digit)
            k |= C_MNAME | C_LNAME;
        if (alpha)
            k |= C_LSTART | C_LNAME;
        if (c == '"' || c == '\\' || c == '\n' || c == 0 || c >= 0x80)
            k |= C_VSTOP;
        if (c == ' ' || c == '\n')
            k |= C_TOKEND;
        cls[c] = k;
    }
    c_locale = newlocale(LC_ALL_MASK, "C", (locale_t)0);
}

#define CLS(ch) cls[(unsigned char)(ch)]

struct vigil__tsdb_om_parser {
    vigil__tsdb_om_handlers h;
    void *user;
    vigil__tsdb_om_stats stats;
    uint64_t line;       /* the line being parsed, 1-based */
    vigil_status failed; /* first failure; later calls return VIGIL_ESTATE */
    bool saw_eof;
    const char *end;        /* end of the region being parsed (just past a '\n') */
    const char *line_start; /* of the line being parsed */
    bool scratch_ready;     /* scratch reserved for the rest of this line */
    char *scratch;
    size_t scratch_cap, scratch_used;
    char *carry; /* an unfinished line awaiting its '\n' */
    size_t carry_len, carry_cap;
    char *numbuf; /* NUL-terminated copy of a number for strtod_l */
    size_t numbuf_cap;
    vigil__tsdb_om_label labels[VIGIL__TSDB_OM_MAX_LABELS];
};

/* --- error messages -------------------------------------------------------------------------- */

/* A bad token as it should appear in a message: quoted, C-escaped, shortened. */
static const char *show(char *buf, size_t cap, const char *s, size_t n)
{
    size_t o = 0;
    buf[o++] = '"';
    for (size_t i = 0; i < n && o + 8 < cap; i++) {
        unsigned char c = (unsigned char)s[i];
        if (i == SHOW_MAX) {
            o += (size_t)snprintf(buf + o, cap - o, "...");
            break;
        }
        if (c == '"' || c == '\\')
            o += (size_t)snprintf(buf + o, cap - o, "\\%c", c);
        else if (c == '\n')
            o += (size_t)snprintf(buf + o, cap - o, "\\n");
        else if (c == '\t')
            o += (size_t)snprintf(buf + o, cap - o, "\\t");
        else if (c == '\r')
            o += (size_t)snprintf(buf + o, cap - o, "\\r");
        else if (c < 0x20 || c == 0x7f)
            o += (size_t)snprintf(buf + o, cap - o, "\\x%02x", c);
        else
            buf[o++] = (char)c;
    }
    buf[o++] = '"';
    buf[o] = '\0';
    return buf;
}

/* Why a token that looks fine to a human is wrong, when the reason is invisible. */
static const char *hint(const char *s, size_t n)
{
    if (memchr(s, '\r', n) != NULL)
        return " (a carriage return: CRLF line ends are not OpenMetrics)";
    if (memchr(s, '\t', n) != NULL)
        return " (a tab: OpenMetrics separates fields by exactly one space)";
    if (memchr(s, '\0', n) != NULL)
        return " (a NUL byte)";
    return "";
}

/* End of the whitespace-delimited token at s (stays inside the line). */
static const char *token_end(const char *s)
{
    while (!(CLS(*s) & C_TOKEND))
        s++;
    return s;
}

/* Records the failure with the line number; returns NULL for the parsing functions. */
static const char *fail(vigil__tsdb_om_parser *p, vigil_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static const char *fail(vigil__tsdb_om_parser *p, vigil_status st, const char *fmt, ...)
{
    char msg[400];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    p->failed = vigil__fail(st, "line %llu: %s", (unsigned long long)p->line, msg);
    return NULL;
}

static const char *fail_long_line(vigil__tsdb_om_parser *p)
{
    return fail(p, VIGIL_ELIMIT, "line longer than %zu bytes", VIGIL__TSDB_OM_MAX_LINE);
}

/* --- buffers --------------------------------------------------------------------------------- */

/* Grows *buf to hold need bytes (need <= VIGIL__TSDB_OM_MAX_LINE + 1, checked by callers). */
static bool grow(vigil__tsdb_om_parser *p, char **buf, size_t *cap, size_t need)
{
    if (need <= *cap)
        return true;
    size_t ncap = *cap ? *cap : 256;
    while (ncap < need)
        ncap *= 2;
    if (ncap > VIGIL__TSDB_OM_MAX_LINE + 1)
        ncap = VIGIL__TSDB_OM_MAX_LINE + 1;
    char *nb = vigil__realloc(*buf, ncap);
    if (nb == NULL) {
        fail(p, VIGIL_ENOMEM, "no memory for a %zu-byte buffer", ncap);
        return false;
    }
    *buf = nb;
    *cap = ncap;
    return true;
}

/* Makes room in scratch for everything the rest of the current line could unescape into. Done
 * once per line, before anything of the line is in scratch, so growing moves nothing in use. */
static bool scratch_reserve(vigil__tsdb_om_parser *p, const char *from)
{
    if (p->scratch_ready)
        return true;
    const char *nl = memchr(from, '\n', (size_t)(p->end - from));
    if ((size_t)(nl - p->line_start) > VIGIL__TSDB_OM_MAX_LINE) {
        fail_long_line(p);
        return false;
    }
    if (!grow(p, &p->scratch, &p->scratch_cap, (size_t)(nl - from) + 1))
        return false;
    p->scratch_used = 0;
    p->scratch_ready = true;
    return true;
}

/* Unescapes raw[0..n) (\\, \", \n; other pairs kept) into scratch. */
static const char *unescape(vigil__tsdb_om_parser *p, const char *raw, size_t n, size_t *out_len)
{
    char *o = p->scratch + p->scratch_used;
    char *start = o;
    for (size_t i = 0; i < n; i++) {
        char c = raw[i];
        if (c == '\\' && i + 1 < n) {
            char e = raw[++i];
            if (e == 'n')
                *o++ = '\n';
            else if (e == '\\' || e == '"')
                *o++ = e;
            else {
                *o++ = '\\';
                *o++ = e;
            }
        } else {
            *o++ = c;
        }
    }
    *out_len = (size_t)(o - start);
    p->scratch_used += *out_len;
    return start;
}

/* --- numbers --------------------------------------------------------------------------------- */

static const double pow10_exact[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                     1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                     1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};

typedef enum num_result { NUM_OK, NUM_SYNTAX, NUM_RANGE, NUM_FAILED } num_result;

/* Case-insensitive length of the common prefix of s and word (stops at '\n' in s). */
static size_t ci_prefix(const char *s, const char *word)
{
    size_t n = 0;
    while (word[n] != '\0' && (s[n] | 0x20) == word[n])
        n++;
    return n;
}

/* inf / infinity (signed) and nan (unsigned), as Go's strconv accepts them. */
static num_result read_special(const char *s, bool neg, bool had_sign, const char **end,
                               double *out)
{
    size_t n = ci_prefix(s, "infinity");
    if (n >= 3) { /* "inf" and "infinity"; a longer prefix of "infinity" fails the token check */
        *end = s + (n == 8 ? 8 : 3);
        *out = neg ? -HUGE_VAL : HUGE_VAL;
        return NUM_OK;
    }
    if (!had_sign && ci_prefix(s, "nan") == 3) {
        uint64_t bits = VIGIL__TSDB_OM_NAN_BITS;
        memcpy(out, &bits, sizeof *out);
        *end = s + 3;
        return NUM_OK;
    }
    return NUM_SYNTAX;
}

/* strtod_l on a NUL-terminated copy of tok[0..n), whose syntax is already checked. */
static num_result read_slow(vigil__tsdb_om_parser *p, const char *tok, size_t n, double *out)
{
    if ((size_t)(tok + n - p->line_start) > VIGIL__TSDB_OM_MAX_LINE) {
        fail_long_line(p);
        return NUM_FAILED;
    }
    if (!grow(p, &p->numbuf, &p->numbuf_cap, n + 1))
        return NUM_FAILED;
    memcpy(p->numbuf, tok, n);
    p->numbuf[n] = '\0';
    char *e;
    double v = c_locale ? strtod_l(p->numbuf, &e, c_locale) : strtod(p->numbuf, &e);
    if (e != p->numbuf + n)
        return NUM_SYNTAX;
    if (isinf(v))
        return NUM_RANGE; /* overflow: Go's ParseFloat reports ErrRange, Prometheus refuses */
    *out = v;
    return NUM_OK;
}

/* A number as Go's strconv.ParseFloat reads it (minus hex and underscores, which Prometheus
 * refuses), correctly rounded. *end is where the number's syntax stops; the caller checks that
 * the token ends there. */
static num_result read_number(vigil__tsdb_om_parser *p, const char *s, const char **end,
                              double *out)
{
    const char *tok = s;
    bool neg = *s == '-', had_sign = *s == '-' || *s == '+';
    s += had_sign;
    unsigned char c0 = (unsigned char)(*s | 0x20);
    if (c0 == 'i' || c0 == 'n')
        return read_special(s, neg, had_sign, end, out);

    uint64_t mant = 0;
    int nd = 0, exp10 = 0;
    bool digits = false, dropped = false;
    for (; *s >= '0' && *s <= '9'; s++) {
        digits = true;
        if (nd < 19) {
            mant = mant * 10 + (uint64_t)(*s - '0');
            nd += mant != 0;
        } else {
            exp10++;
            dropped |= *s != '0';
        }
    }
    if (*s == '.') {
        for (s++; *s >= '0' && *s <= '9'; s++) {
            digits = true;
            if (nd < 19) {
                mant = mant * 10 + (uint64_t)(*s - '0');
                nd += mant != 0;
                exp10--;
            } else {
                dropped |= *s != '0';
            }
        }
    }
    if (!digits)
        return NUM_SYNTAX;
    if ((*s | 0x20) == 'e') {
        s++;
        bool eneg = *s == '-';
        s += *s == '-' || *s == '+';
        if (!(*s >= '0' && *s <= '9'))
            return NUM_SYNTAX;
        int e = 0;
        for (; *s >= '0' && *s <= '9'; s++)
            if (e < 100000)
                e = e * 10 + (*s - '0');
        exp10 += eneg ? -e : e;
    }
    *end = s;
    if (mant == 0 && !dropped) {
        *out = neg ? -0.0 : 0.0;
        return NUM_OK;
    }
#if FLT_EVAL_METHOD == 0
    if (!dropped && mant <= (UINT64_C(1) << 53) && exp10 >= -22 && exp10 <= 22) {
        double v = (double)mant;
        v = exp10 < 0 ? v / pow10_exact[-exp10] : v * pow10_exact[exp10];
        *out = neg ? -v : v;
        return NUM_OK;
    }
#endif
    return read_slow(p, tok, (size_t)(s - tok), out);
}

/* A number token (value or timestamp) at s, which must end in a space or the newline. Returns
 * the position after the number, or NULL after recording an error. */
static const char *number_token(vigil__tsdb_om_parser *p, const char *s, const char *what,
                                double *out)
{
    const char *e = s;
    num_result r = read_number(p, s, &e, out);
    if (r == NUM_OK && (CLS(*e) & C_TOKEND))
        return e;
    if (r == NUM_FAILED)
        return NULL;
    char b[SHOW_MAX * 4 + 16];
    const char *te = token_end(s);
    size_t n = (size_t)(te - s);
    if (n == 0)
        return fail(p, VIGIL_EINVAL, "missing %s (found %s where it should start)", what,
                    *s == ' ' ? "a second space" : "the end of the line");
    if (r == NUM_RANGE)
        return fail(p, VIGIL_EINVAL, "%s %s out of range", what, show(b, sizeof b, s, n));
    return fail(p, VIGIL_EINVAL, "invalid %s %s%s", what, show(b, sizeof b, s, n), hint(s, n));
}

/* Prometheus 2.42, model/textparse/openmetricsparse.go: the timestamp token goes through
 * parseFloat (strconv.ParseFloat) and then `p.ts = int64(ts * 1000)` — the product rounded to a
 * double, truncated toward zero. promtool 2.42 stores 1767225600.1239 as 1767225600123 and 1.001
 * as 1000 (checked with `promtool tsdb create-blocks-from openmetrics` + `tsdb dump`; the test
 * agrees_with_promtool_on_values_and_timestamps repeats it). Products outside int64 are refused
 * here; Go would convert them to an undefined value (promtool then spins over a huge range). */
static bool timestamp_ms(vigil__tsdb_om_parser *p, const char *tok, double ts, int64_t *out)
{
    char b[SHOW_MAX * 4 + 16];
    if (!isfinite(ts)) {
        fail(p, VIGIL_EINVAL, "timestamp %s is not a finite number",
             show(b, sizeof b, tok, (size_t)(token_end(tok) - tok)));
        return false;
    }
    volatile double ms = ts * 1000.0; /* volatile: rounded to double even with excess precision */
    if (!(ms >= -9223372036854775808.0 && ms < 9223372036854775808.0)) {
        fail(p, VIGIL_EINVAL, "timestamp %s out of range (milliseconds do not fit in int64)",
             show(b, sizeof b, tok, (size_t)(token_end(tok) - tok)));
        return false;
    }
    *out = (int64_t)ms;
    return true;
}

/* --- labels ---------------------------------------------------------------------------------- */

static const char *bad_label_name(vigil__tsdb_om_parser *p, const char *s)
{
    char b[SHOW_MAX * 4 + 16];
    const char *e = s;
    while (*e != '=' && *e != ',' && *e != '}' && *e != ' ' && *e != '\n')
        e++;
    if (e == s)
        return fail(p, VIGIL_ENAME, "expected a label name, found %s", show(b, sizeof b, s, 1));
    return fail(p, VIGIL_ENAME, "invalid label name %s", show(b, sizeof b, s, (size_t)(e - s)));
}

/* The value's raw end, given the first stop character; validates escapes, NUL and UTF-8. */
static const char *label_value_slow(vigil__tsdb_om_parser *p, const char *v, const char *s,
                                    const char *lname, size_t lname_len, bool *escaped)
{
    char b[SHOW_MAX * 4 + 16];
    bool high = false;
    *escaped = false;
    for (;;) {
        unsigned char c = (unsigned char)*s;
        if (c == '"')
            break;
        if (c == '\n' || (c == '\\' && s[1] == '\n'))
            return fail(p, VIGIL_EINVAL, "unterminated value of label %s (no closing quote)",
                        show(b, sizeof b, lname, lname_len));
        if (c == 0 || (c == '\\' && s[1] == '\0'))
            return fail(p, VIGIL_EINVAL, "value of label %s contains a NUL byte",
                        show(b, sizeof b, lname, lname_len));
        if (c == '\\') {
            *escaped = true;
            s += 2;
            continue;
        }
        high |= c >= 0x80;
        s++;
    }
    if (high && !vigil__utf8_valid(v, (size_t)(s - v)))
        return fail(p, VIGIL_EINVAL, "value of label %s is not valid UTF-8",
                    show(b, sizeof b, lname, lname_len));
    return s;
}

static bool label_store(vigil__tsdb_om_parser *p, size_t n, const char *name, size_t name_len,
                        const char *value, size_t value_len)
{
    char b[SHOW_MAX * 4 + 16];
    if (n == VIGIL__TSDB_OM_MAX_LABELS) {
        fail(p, VIGIL_ELIMIT, "more than %u labels", VIGIL__TSDB_OM_MAX_LABELS);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const vigil__tsdb_om_label *l = &p->labels[i];
        if (l->name_len == name_len && l->name[0] == name[0] &&
            memcmp(l->name, name, name_len) == 0) {
            fail(p, VIGIL_ELABELS, "duplicate label name %s", show(b, sizeof b, name, name_len));
            return false;
        }
    }
    p->labels[n] = (vigil__tsdb_om_label){name, name_len, value, value_len};
    return true;
}

/* `name="value",...}` after the '{'. With store, labels go to p->labels (unescaped, duplicates
 * refused); without (exemplars), they are only checked. Returns the position after '}'. */
static const char *parse_labels(vigil__tsdb_om_parser *p, const char *s, size_t *count, bool store)
{
    char b[SHOW_MAX * 4 + 16];
    size_t n = 0;
    if (*s == '}') {
        *count = 0;
        return s + 1;
    }
    for (;;) {
        const char *ln = s;
        if (!(CLS(*s) & C_LSTART))
            return bad_label_name(p, s);
        for (s++; CLS(*s) & C_LNAME; s++)
            ;
        size_t ln_len = (size_t)(s - ln);
        if (*s != '=') {
            if (*s != ',' && *s != '}' && *s != ' ' && *s != '\n')
                return bad_label_name(p, ln);
            return fail(p, VIGIL_EINVAL, "expected '=' after label name %s",
                        show(b, sizeof b, ln, ln_len));
        }
        if (*++s != '"')
            return fail(p, VIGIL_EINVAL, "value of label %s must be in double quotes",
                        show(b, sizeof b, ln, ln_len));
        const char *v = ++s;
        while (!(CLS(*s) & C_VSTOP))
            s++;
        const char *val = v;
        size_t val_len;
        if (*s != '"') {
            bool escaped;
            if ((s = label_value_slow(p, v, s, ln, ln_len, &escaped)) == NULL)
                return NULL;
            if (escaped && store) {
                if (!scratch_reserve(p, v))
                    return NULL;
                val = unescape(p, v, (size_t)(s - v), &val_len);
            } else {
                val_len = (size_t)(s - v);
            }
        } else {
            val_len = (size_t)(s - v);
        }
        s++; /* the closing quote */
        if (store && !label_store(p, n, ln, ln_len, val, val_len))
            return NULL;
        n++;
        if (*s == ',') {
            if (*++s == '}')
                return fail(p, VIGIL_EINVAL, "trailing comma before '}'");
            continue;
        }
        if (*s == '}') {
            *count = n;
            return s + 1;
        }
        char c[16];
        return fail(p, VIGIL_EINVAL, "expected ',' or '}' after the value of label %s, found %s%s",
                    show(b, sizeof b, ln, ln_len), show(c, sizeof c, s, 1),
                    *s == ' ' ? " (no spaces inside braces)" : "");
    }
}

/* --- samples --------------------------------------------------------------------------------- */

/* ` # {labels} value[ timestamp]` after a sample's timestamp: checked, counted, skipped. */
static const char *skip_exemplar(vigil__tsdb_om_parser *p, const char *s)
{
    double v;
    size_t n;
    if (!(s[0] == '#' && s[1] == ' ' && s[2] == '{'))
        return fail(p, VIGIL_EINVAL,
                    "unexpected text after the timestamp (only an exemplar "
                    "\" # {labels} value [timestamp]\" may follow)%s",
                    hint(s, (size_t)(token_end(s) - s)));
    if ((s = parse_labels(p, s + 3, &n, false)) == NULL)
        return NULL;
    if (*s != ' ')
        return fail(p, VIGIL_EINVAL, "expected a space and a value after the exemplar's labels");
    if ((s = number_token(p, s + 1, "exemplar value", &v)) == NULL)
        return NULL;
    if (*s == ' ') {
        const char *tok = s + 1;
        if ((s = number_token(p, tok, "exemplar timestamp", &v)) == NULL)
            return NULL;
        if (!isfinite(v))
            return fail(p, VIGIL_EINVAL, "exemplar timestamp is not a finite number");
        if (*s != '\n')
            return fail(p, VIGIL_EINVAL, "unexpected text after the exemplar's timestamp");
    }
    p->stats.exemplars++;
    return s;
}

/* What is wrong when a metric name is not followed by '{' or ' '. */
static const char *bad_after_name(vigil__tsdb_om_parser *p, const char *name, const char *s)
{
    char b[SHOW_MAX * 4 + 16];
    if (*s == '\n')
        return fail(p, VIGIL_EINVAL, "missing value and timestamp after %s",
                    show(b, sizeof b, name, (size_t)(s - name)));
    if (*s == '\t' || *s == '\r')
        return fail(p, VIGIL_EINVAL, "unexpected character after metric name%s", hint(s, 1));
    const char *e = s;
    while (*e != ' ' && *e != '{' && *e != '\n')
        e++;
    return fail(p, VIGIL_ENAME, "invalid metric name %s",
                show(b, sizeof b, name, (size_t)(e - name)));
}

static void note_time(vigil__tsdb_om_parser *p, int64_t t)
{
    if (p->stats.samples == 0 || t < p->stats.t_min_ms)
        p->stats.t_min_ms = t;
    if (p->stats.samples == 0 || t > p->stats.t_max_ms)
        p->stats.t_max_ms = t;
}

static const char *parse_sample(vigil__tsdb_om_parser *p, const char *s)
{
    const char *name = s;
    for (s++; CLS(*s) & C_MNAME; s++)
        ;
    size_t name_len = (size_t)(s - name);
    size_t nlabels = 0;
    if (*s == '{' && (s = parse_labels(p, s + 1, &nlabels, true)) == NULL)
        return NULL;
    if (*s != ' ')
        return bad_after_name(p, name, s);
    double value, ts;
    if ((s = number_token(p, s + 1, "value", &value)) == NULL)
        return NULL;
    if (*s == '\n' || (s[1] == '#' && s[2] == ' '))
        return fail(p, VIGIL_EINVAL,
                    "sample has no timestamp (an import needs one; promtool "
                    "refuses such samples too)");
    const char *tok = s + 1;
    if ((s = number_token(p, tok, "timestamp", &ts)) == NULL)
        return NULL;
    vigil__tsdb_om_sample smp = {name, name_len, p->labels, nlabels, value, 0, p->line};
    if (!timestamp_ms(p, tok, ts, &smp.t_ms))
        return NULL;
    if (*s == ' ' && (s = skip_exemplar(p, s + 1)) == NULL)
        return NULL;
    if ((size_t)(s - p->line_start) > VIGIL__TSDB_OM_MAX_LINE)
        return fail_long_line(p);
    if (p->h.on_sample != NULL) {
        vigil_status st = p->h.on_sample(p->user, &smp);
        if (st != VIGIL_OK) {
            p->failed = st;
            return NULL;
        }
    }
    note_time(p, smp.t_ms);
    p->stats.samples++;
    return s + 1;
}

/* --- metadata -------------------------------------------------------------------------------- */

static const char *const type_names[] = {
    [VIGIL__TSDB_OM_UNKNOWN] = "unknown",
    [VIGIL__TSDB_OM_COUNTER] = "counter",
    [VIGIL__TSDB_OM_GAUGE] = "gauge",
    [VIGIL__TSDB_OM_HISTOGRAM] = "histogram",
    [VIGIL__TSDB_OM_GAUGEHISTOGRAM] = "gaugehistogram",
    [VIGIL__TSDB_OM_SUMMARY] = "summary",
    [VIGIL__TSDB_OM_INFO] = "info",
    [VIGIL__TSDB_OM_STATESET] = "stateset",
};

/* True when s starts with lit (compared byte by byte, so never past the line's '\n'). */
static bool starts(const char *s, const char *lit)
{
    while (*lit != '\0' && *s == *lit)
        s++, lit++;
    return *lit == '\0';
}

static bool meta_type(vigil__tsdb_om_parser *p, vigil__tsdb_om_meta *m)
{
    char b[SHOW_MAX * 4 + 16];
    for (size_t i = 0; i < sizeof type_names / sizeof type_names[0]; i++) {
        if (strlen(type_names[i]) == m->text_len &&
            memcmp(type_names[i], m->text, m->text_len) == 0) {
            m->type = (vigil__tsdb_om_type)i;
            return true;
        }
    }
    bool untyped = m->text_len == 7 && memcmp(m->text, "untyped", 7) == 0;
    fail(p, VIGIL_EINVAL, "invalid metric type %s%s", show(b, sizeof b, m->text, m->text_len),
         untyped ? " (Prometheus text format; OpenMetrics calls it \"unknown\")"
                 : hint(m->text, m->text_len));
    return false;
}

static bool meta_help(vigil__tsdb_om_parser *p, vigil__tsdb_om_meta *m)
{
    const char *t = m->text;
    size_t n = m->text_len;
    bool escaped = memchr(t, '\\', n) != NULL, high = false;
    for (size_t i = 0; i < n; i++) {
        if (t[i] == '\0') {
            fail(p, VIGIL_EINVAL, "HELP text contains a NUL byte");
            return false;
        }
        high |= (unsigned char)t[i] >= 0x80;
    }
    if (high && !vigil__utf8_valid(t, n)) {
        fail(p, VIGIL_EINVAL, "HELP text is not valid UTF-8");
        return false;
    }
    if (escaped) {
        if (!scratch_reserve(p, t))
            return false;
        m->text = unescape(p, t, n, &m->text_len);
    }
    return true;
}

static bool meta_unit(vigil__tsdb_om_parser *p, const vigil__tsdb_om_meta *m)
{
    char b[SHOW_MAX * 4 + 16], c[SHOW_MAX * 4 + 16];
    size_t u = m->text_len, n = m->name_len;
    if (u == 0 || (n > u && m->name[n - u - 1] == '_' && memcmp(m->name + n - u, m->text, u) == 0))
        return true;
    fail(p, VIGIL_EINVAL, "unit %s is not a suffix of metric %s (the name must end in _unit)",
         show(b, sizeof b, m->text, u), show(c, sizeof c, m->name, n));
    return false;
}

/* A line starting with '#': # TYPE, # HELP, # UNIT or # EOF. */
static const char *parse_comment(vigil__tsdb_om_parser *p, const char *s)
{
    char b[SHOW_MAX * 4 + 16];
    if (starts(s, "# EOF")) {
        if (s[5] != '\n')
            return fail(p, VIGIL_EINVAL, "unexpected text after # EOF");
        p->saw_eof = true;
        return s + 6;
    }
    vigil__tsdb_om_meta m = {.line = p->line, .type = VIGIL__TSDB_OM_UNKNOWN};
    if (starts(s, "# TYPE "))
        m.kind = VIGIL__TSDB_OM_META_TYPE;
    else if (starts(s, "# HELP "))
        m.kind = VIGIL__TSDB_OM_META_HELP;
    else if (starts(s, "# UNIT "))
        m.kind = VIGIL__TSDB_OM_META_UNIT;
    else
        return fail(p, VIGIL_EINVAL,
                    "comment lines are not OpenMetrics (a line starting with "
                    "# must be # TYPE, # HELP, # UNIT or # EOF)");
    const char *kw = s + 2;
    s += 7;
    m.name = s;
    if (CLS(*s) & C_MSTART)
        for (s++; CLS(*s) & C_MNAME; s++)
            ;
    m.name_len = (size_t)(s - m.name);
    if (*s != ' ' || m.name_len == 0) {
        const char *e = token_end(m.name);
        if (e == m.name)
            return fail(p, VIGIL_ENAME,
                        "missing metric name after # %.4s (one space, then the "
                        "name)",
                        kw);
        if (m.name_len > 0 && *s == '\n')
            return fail(p, VIGIL_EINVAL, "# %.4s %s: expected a space and text after the name", kw,
                        show(b, sizeof b, m.name, m.name_len));
        return fail(p, VIGIL_ENAME, "invalid metric name %s after # %.4s",
                    show(b, sizeof b, m.name, (size_t)(e - m.name)), kw);
    }
    m.text = ++s;
    s = memchr(s, '\n', (size_t)(p->end - s));
    m.text_len = (size_t)(s - m.text);
    if ((size_t)(s - p->line_start) > VIGIL__TSDB_OM_MAX_LINE)
        return fail_long_line(p);
    bool ok = m.kind == VIGIL__TSDB_OM_META_TYPE   ? meta_type(p, &m)
              : m.kind == VIGIL__TSDB_OM_META_HELP ? meta_help(p, &m)
                                                   : meta_unit(p, &m);
    if (!ok)
        return NULL;
    if (p->h.on_meta != NULL) {
        vigil_status st = p->h.on_meta(p->user, &m);
        if (st != VIGIL_OK) {
            p->failed = st;
            return NULL;
        }
    }
    p->stats.meta++;
    return s + 1;
}

/* --- lines and regions ----------------------------------------------------------------------- */

static const char *bad_line_start(vigil__tsdb_om_parser *p, const char *s)
{
    char b[SHOW_MAX * 4 + 16];
    if (*s == '\n')
        return fail(p, VIGIL_EINVAL, "empty line (OpenMetrics allows none)");
    if (*s == ' ' || *s == '\t' || *s == '\r')
        return fail(p, VIGIL_EINVAL, "line starts with whitespace%s", hint(s, 1));
    if (*s == '{')
        return fail(p, VIGIL_EINVAL,
                    "line starts with '{' (quoted metric names are not "
                    "supported; start with the metric name)");
    const char *e = s;
    while (*e != ' ' && *e != '{' && *e != '\n')
        e++;
    return fail(p, VIGIL_ENAME, "invalid metric name %s", show(b, sizeof b, s, (size_t)(e - s)));
}

/* Parses the lines of [s, end); end[-1] is '\n'. */
static vigil_status parse_region(vigil__tsdb_om_parser *p, const char *s, const char *end)
{
    p->end = end;
    while (s < end) {
        p->line++;
        if (p->saw_eof) {
            fail(p, VIGIL_EINVAL, "data after # EOF");
            return p->failed;
        }
        p->line_start = s;
        p->scratch_ready = false;
        unsigned char c = (unsigned char)*s;
        if (CLS(c) & C_MSTART)
            s = parse_sample(p, s);
        else if (c == '#')
            s = parse_comment(p, s);
        else
            s = bad_line_start(p, s);
        if (s == NULL)
            return p->failed;
        p->stats.lines++;
    }
    return VIGIL_OK;
}

/* --- public entry points --------------------------------------------------------------------- */

static void parser_init(vigil__tsdb_om_parser *p, const vigil__tsdb_om_handlers *h, void *user)
{
    pthread_once(&init_once, init_tables);
    memset(p, 0, offsetof(vigil__tsdb_om_parser, labels));
    p->h = *h;
    p->user = user;
}

static void parser_release(vigil__tsdb_om_parser *p)
{
    vigil__free(p->scratch);
    vigil__free(p->carry);
    vigil__free(p->numbuf);
}

vigil_status vigil__tsdb_om_parser_new(const vigil__tsdb_om_handlers *handlers, void *user,
                                       vigil__tsdb_om_parser **out)
{
    if (out == NULL || handlers == NULL)
        return vigil__fail(VIGIL_EINVAL, "OpenMetrics parser: handlers and out must not be NULL");
    vigil__tsdb_om_parser *p = vigil__malloc(sizeof *p);
    if (p == NULL)
        return vigil__fail(VIGIL_ENOMEM, "OpenMetrics parser: no memory");
    parser_init(p, handlers, user);
    *out = p;
    return VIGIL_OK;
}

static vigil_status stopped(const vigil__tsdb_om_parser *p)
{
    return vigil__fail(VIGIL_ESTATE, "OpenMetrics parser stopped at line %llu by an earlier error",
                       (unsigned long long)p->line);
}

/* Appends data to the carry, or fails when the unfinished line would pass the line cap. */
static vigil_status carry_add(vigil__tsdb_om_parser *p, const char *data, size_t len)
{
    if (p->carry_len + len > VIGIL__TSDB_OM_MAX_LINE + 1) {
        p->line++;
        fail_long_line(p);
        return p->failed;
    }
    if (!grow(p, &p->carry, &p->carry_cap, p->carry_len + len))
        return p->failed;
    memcpy(p->carry + p->carry_len, data, len);
    p->carry_len += len;
    return VIGIL_OK;
}

vigil_status vigil__tsdb_om_parser_feed(vigil__tsdb_om_parser *p, const char *data, size_t len)
{
    if (p->failed != VIGIL_OK)
        return stopped(p);
    p->stats.bytes += len;
    vigil_status st;
    if (p->carry_len > 0 && len > 0) {
        const char *nl = memchr(data, '\n', len);
        size_t take = nl != NULL ? (size_t)(nl - data) + 1 : len;
        if ((st = carry_add(p, data, take)) != VIGIL_OK)
            return st;
        data += take;
        len -= take;
        if (nl == NULL)
            return VIGIL_OK;
        st = parse_region(p, p->carry, p->carry + p->carry_len);
        p->carry_len = 0;
        if (st != VIGIL_OK)
            return st;
    }
    const char *last = len > 0 ? memrchr(data, '\n', len) : NULL;
    if (last != NULL) {
        if ((st = parse_region(p, data, last + 1)) != VIGIL_OK)
            return st;
        len -= (size_t)(last + 1 - data);
        data = last + 1;
    }
    if (len > 0 && p->saw_eof) {
        p->line++;
        fail(p, VIGIL_EINVAL, "data after # EOF");
        return p->failed;
    }
    return len > 0 ? carry_add(p, data, len) : VIGIL_OK;
}

vigil_status vigil__tsdb_om_parser_finish(vigil__tsdb_om_parser *p)
{
    if (p->failed != VIGIL_OK)
        return stopped(p);
    if (p->carry_len > 0) {
        /* An unfinished last line: only "# EOF" may end the input without a newline. */
        p->line++;
        if (p->carry_len == 5 && memcmp(p->carry, "# EOF", 5) == 0) {
            p->saw_eof = true;
            p->stats.lines++;
            p->carry_len = 0;
        } else {
            fail(p, VIGIL_EINVAL, "input ends without # EOF (and its last line has no newline)");
            return p->failed;
        }
    }
    if (!p->saw_eof) {
        p->line++;
        fail(p, VIGIL_EINVAL,
             "input ends without # EOF (OpenMetrics requires it as the last "
             "line)");
        return p->failed;
    }
    return VIGIL_OK;
}

const vigil__tsdb_om_stats *vigil__tsdb_om_parser_stats(const vigil__tsdb_om_parser *p)
{
    return &p->stats;
}

void vigil__tsdb_om_parser_free(vigil__tsdb_om_parser *p)
{
    if (p == NULL)
        return;
    parser_release(p);
    vigil__free(p);
}

vigil_status vigil__tsdb_om_parse(const char *text, size_t len,
                                  const vigil__tsdb_om_handlers *handlers, void *user,
                                  vigil__tsdb_om_stats *stats)
{
    vigil__tsdb_om_parser *p;
    vigil_status st = vigil__tsdb_om_parser_new(handlers, user, &p);
    if (st != VIGIL_OK)
        return st;
    if (text == NULL && len > 0)
        st = vigil__fail(VIGIL_EINVAL, "OpenMetrics parser: text is NULL");
    if (st == VIGIL_OK)
        st = vigil__tsdb_om_parser_feed(p, text, len);
    if (st == VIGIL_OK)
        st = vigil__tsdb_om_parser_finish(p);
    if (stats != NULL)
        *stats = p->stats;
    vigil__tsdb_om_parser_free(p);
    return st;
}

/* Pipes and other unmappable inputs: feed 1 MiB blocks. */
static vigil_status parse_fd_blocks(int fd, const char *path, vigil__tsdb_om_parser *p)
{
    char *buf = vigil__malloc(READ_BLOCK);
    if (buf == NULL)
        return vigil__fail(VIGIL_ENOMEM, "OpenMetrics parser: no memory for a read buffer");
    vigil_status st = VIGIL_OK;
    for (;;) {
        ssize_t n = read(fd, buf, READ_BLOCK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            st = vigil__fail(VIGIL_EIO, "read %s: %s", path, strerror(errno));
            break;
        }
        if (n == 0) {
            st = vigil__tsdb_om_parser_finish(p);
            break;
        }
        if ((st = vigil__tsdb_om_parser_feed(p, buf, (size_t)n)) != VIGIL_OK)
            break;
    }
    vigil__free(buf);
    return st;
}

static vigil_status parse_fd(int fd, const char *path, vigil__tsdb_om_parser *p)
{
    struct stat sb;
    if (fstat(fd, &sb) != 0)
        return vigil__fail(VIGIL_EIO, "stat %s: %s", path, strerror(errno));
    if (!S_ISREG(sb.st_mode) || sb.st_size == 0 ||
        (unsigned long long)sb.st_size != (size_t)sb.st_size)
        return parse_fd_blocks(fd, path, p);
    size_t size = (size_t)sb.st_size;
    void *map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED)
        return parse_fd_blocks(fd, path, p);
    (void)madvise(map, size, MADV_SEQUENTIAL);
    vigil_status st = vigil__tsdb_om_parser_feed(p, map, size);
    if (st == VIGIL_OK)
        st = vigil__tsdb_om_parser_finish(p);
    munmap(map, size);
    return st;
}

vigil_status vigil__tsdb_om_parse_file(const char *path, const vigil__tsdb_om_handlers *handlers,
                                       void *user, vigil__tsdb_om_stats *stats)
{
    if (path == NULL)
        return vigil__fail(VIGIL_EINVAL, "OpenMetrics parser: path is NULL");
    vigil__tsdb_om_parser *p;
    vigil_status st = vigil__tsdb_om_parser_new(handlers, user, &p);
    if (st != VIGIL_OK)
        return st;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        st = vigil__fail(VIGIL_EIO, "open %s: %s", path, strerror(errno));
    } else {
        st = parse_fd(fd, path, p);
        close(fd);
    }
    if (stats != NULL)
        *stats = p->stats;
    vigil__tsdb_om_parser_free(p);
    return st;
}
