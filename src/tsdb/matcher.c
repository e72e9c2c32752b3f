/* matcher.c — label matchers: equality, literal sets, and regexes run by PCRE2 with Go RE2's
 * meaning.
 *
 * Prometheus compiles `=~ re` as Go's "^(?:re)$"; we hand PCRE2 "\A(?:re)\z" with
 * PCRE2_DOLLAR_ENDONLY, which means the same thing in both engines (the user's own `$` too),
 * and we first walk the pattern once to refuse what RE2 refuses and PCRE2 would accept
 * (backreferences, lookaround, possessive and stacked quantifiers, PCRE-only escapes and group
 * forms): a selector must mean the same thing here and on a real Prometheus, or fail. The walk
 * also rewrites the one escape the two engines read differently (`\v`: a vertical tab in Go, a
 * class of vertical spaces in PCRE2), keeping where each rewrite happened so PCRE2's error
 * offsets still point into the user's pattern.
 *
 * Most selectors never reach the regex engine: `=`/`!=` compare strings, and patterns that are
 * an alternation of literals ("GET|POST", Grafana's multi-value variables) become a sorted set
 * the index can look up directly; ".*" and ".+" are a scan for '\n'.
 *
 * PCRE2 needs a match-data block per concurrent match; each thread keeps one (created on its
 * first regex match, freed by a pthread key destructor when it exits), sized for the whole-match
 * offsets only, which is all a yes/no match needs whatever the pattern. A backtracking run is
 * capped at MATCH_LIMIT steps and then redone with the DFA engine, which cannot blow up. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/core_int.h"
#include "tsdb/matcher.h"

#define PREFIX "\\A(?:"
#define SUFFIX ")\\z"
#define PREFIX_LEN (sizeof PREFIX - 1)
#define SUFFIX_LEN (sizeof SUFFIX - 1)
/* Backtracking steps before the DFA engine takes over: ~10 ms of JIT work, far above what any
 * sane label regex needs on a label-sized value. */
#define MATCH_LIMIT 1000000u
#define DFA_WORKSPACE 4096
/* Go's regexp refuses repeat counts above this. */
#define GO_MAX_REPEAT 1000

typedef enum kind {
    KIND_SET,      /* value is one of set[] */
    KIND_ANY,      /* ".*": any value without '\n' */
    KIND_NONEMPTY, /* ".+": any non-empty value without '\n' */
    KIND_REGEX,
} kind;

struct vigil__tsdb_matcher {
    vigil_match_type type;
    kind kind;
    bool negative; /* != and !~: the result of the positive test is inverted */
    bool matches_empty;
    char *name;
    char *value;
    const char **set; /* KIND_SET: sorted, unique; points into set_buf or at value */
    size_t nset;
    char *set_buf;
    pcre2_code *code; /* KIND_REGEX */
};

/* ---- PCRE2 set-up, once per process --------------------------------------------------------- */

static pthread_once_t pcre_once = PTHREAD_ONCE_INIT;
static pcre2_general_context *gctx;
static pcre2_compile_context *cctx;
static pcre2_match_context *mctx;
static pthread_key_t md_key;
static bool md_key_ok;

static void *pcre_alloc(PCRE2_SIZE n, void *user)
{
    (void)user;
    return vigil__malloc(n);
}

static void pcre_release(void *p, void *user)
{
    (void)user;
    vigil__free(p);
}

static void free_match_data(void *md)
{
    pcre2_match_data_free(md);
}

static void pcre_init(void)
{
    gctx = pcre2_general_context_create(pcre_alloc, pcre_release, NULL);
    cctx = pcre2_compile_context_create(gctx);
    mctx = pcre2_match_context_create(gctx);
    if (cctx != NULL)
        pcre2_set_newline(cctx, PCRE2_NEWLINE_LF); /* what `.` excludes: "\n" only, as in Go */
    if (mctx != NULL)
        pcre2_set_match_limit(mctx, MATCH_LIMIT);
    md_key_ok = pthread_key_create(&md_key, free_match_data) == 0;
}

static pcre2_match_data *thread_match_data(void)
{
    pcre2_match_data *md = pthread_getspecific(md_key);
    if (md != NULL)
        return md;
    md = pcre2_match_data_create(1, gctx);
    if (md != NULL && pthread_setspecific(md_key, md) != 0) {
        pcre2_match_data_free(md);
        md = NULL;
    }
    return md;
}

/* ---- the RE2 walk: refuse what Go refuses, rewrite \v ---------------------------------------- */

typedef struct walk {
    const char *re;
    size_t len;
    size_t i;  /* position in re */
    char *out; /* PREFIX + translated body + SUFFIX */
    size_t olen;
    size_t *vpos; /* source offsets of rewritten \v, ascending */
    size_t nv;
    bool repeated; /* the last item was a repetition: another one right after is an error */
    const char *err;
    size_t err_at;
} walk;

static bool fail_at(walk *w, const char *why, size_t at)
{
    w->err = why;
    w->err_at = at;
    return false;
}

static void emit(walk *w, const char *s, size_t n)
{
    memcpy(w->out + w->olen, s, n);
    w->olen += n;
}

static bool is_hex(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool is_octal(char c)
{
    return c >= '0' && c <= '7';
}

static bool is_alnum(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/* Length of a valid \x escape at re[i] ("\x41" or "\x{1F600}"), or 0. */
static size_t hex_escape_len(const walk *w, size_t i)
{
    size_t j = i + 2;
    if (j < w->len && w->re[j] == '{') {
        size_t k = j + 1;
        while (k < w->len && is_hex(w->re[k]))
            k++;
        return k > j + 1 && k < w->len && w->re[k] == '}' ? k + 1 - i : 0;
    }
    return j + 1 < w->len && is_hex(w->re[j]) && is_hex(w->re[j + 1]) ? 4 : 0;
}

/* Length of the escape at re[i] (a backslash) as Go accepts it, 0 when Go refuses it. */
static size_t escape_len(const walk *w, size_t i, bool in_class)
{
    if (i + 1 >= w->len)
        return 0;
    char c = w->re[i + 1];
    if ((unsigned char)c >= 0x80)
        return 0; /* Go: only ASCII punctuation may be escaped */
    if (!is_alnum(c))
        return 2;
    if (c == '0')
        return 2; /* up to two more octal digits follow as ordinary characters of the number */
    if (c >= '1' && c <= '7')
        return i + 2 < w->len && is_octal(w->re[i + 2]) ? 3 : 0; /* a lone digit: backref */
    if (c == 'x')
        return hex_escape_len(w, i);
    const char *ok = in_class ? "afnrtvdDsSwWpP" : "afnrtvdDsSwWpPAzbB";
    return strchr(ok, c) != NULL ? 2 : 0;
}

static bool walk_escape(walk *w, bool in_class)
{
    size_t n = escape_len(w, w->i, in_class);
    if (n == 0) {
        char c = w->i + 1 < w->len ? w->re[w->i + 1] : '\0';
        if (c == '\0')
            return fail_at(w, "trailing backslash at end of expression", w->i);
        if (c >= '1' && c <= '9')
            return fail_at(w, "backreferences are not supported (RE2 syntax)", w->i);
        return fail_at(w, "invalid or unsupported escape sequence (RE2 syntax)", w->i);
    }
    if (w->re[w->i + 1] == 'v') {
        w->vpos[w->nv++] = w->i;
        emit(w, "\\x0b", 4);
    } else {
        emit(w, w->re + w->i, n);
    }
    w->i += n;
    return true;
}

/* \Q...\E: copied verbatim, both engines read it the same way. */
static void walk_quote(walk *w)
{
    const char *end = NULL;
    for (size_t k = w->i + 2; k + 1 < w->len && end == NULL; k++) {
        if (w->re[k] == '\\' && w->re[k + 1] == 'E')
            end = w->re + k + 2;
    }
    size_t stop = end != NULL ? (size_t)(end - w->re) : w->len;
    emit(w, w->re + w->i, stop - w->i);
    w->i = stop;
}

static bool walk_class(walk *w)
{
    size_t start = w->i++;
    if (w->i < w->len && w->re[w->i] == '^')
        w->i++;
    if (w->i < w->len && w->re[w->i] == ']')
        w->i++; /* a ']' first in the class is literal */
    emit(w, w->re + start, w->i - start);
    while (w->i < w->len && w->re[w->i] != ']') {
        if (w->re[w->i] == '\\') {
            if (!walk_escape(w, true))
                return false;
            continue;
        }
        const char *posix = w->re[w->i] == '[' && w->i + 1 < w->len && w->re[w->i + 1] == ':'
                                ? strstr(w->re + w->i + 2, ":]")
                                : NULL;
        size_t n = posix != NULL ? (size_t)(posix + 2 - (w->re + w->i)) : 1;
        emit(w, w->re + w->i, n);
        w->i += n;
    }
    if (w->i >= w->len)
        return fail_at(w, "missing closing ]", start);
    emit(w, "]", 1);
    w->i++;
    return true;
}

/* "(?" forms Go knows: (?:re), (?P<name>re), (?flags) and (?flags:re) with flags from imsU. */
static bool walk_group(walk *w)
{
    size_t start = w->i, k = w->i + 2;
    if (k < w->len && w->re[k] == 'P' && k + 1 < w->len && w->re[k + 1] == '<') {
        size_t j = k + 2;
        while (j < w->len && (is_alnum(w->re[j]) || w->re[j] == '_'))
            j++;
        if (j == k + 2 || j >= w->len || w->re[j] != '>')
            return fail_at(w, "invalid named capture", start);
        k = j + 1;
    } else {
        while (k < w->len && strchr("imsU-", w->re[k]) != NULL && w->re[k] != '\0')
            k++;
        if (k >= w->len || (w->re[k] != ':' && w->re[k] != ')'))
            return fail_at(w,
                           "invalid or unsupported Perl syntax (RE2 has no lookaround, "
                           "atomic groups, recursion or comments)",
                           start);
        k++;
    }
    emit(w, w->re + start, k - start);
    w->i = k;
    return true;
}

/* Length of a counted repetition {n}, {n,} or {n,m} at re[i], 0 when '{' is a literal; sets
 * *too_big when a count is above Go's limit. */
static size_t repeat_len(const walk *w, size_t i, bool *too_big)
{
    size_t j = i + 1;
    unsigned long v = 0;
    size_t digits = 0;
    *too_big = false;
    for (int part = 0; part < 2; part++) {
        for (v = 0, digits = 0; j < w->len && w->re[j] >= '0' && w->re[j] <= '9'; j++, digits++)
            v = v > GO_MAX_REPEAT ? v : v * 10 + (unsigned long)(w->re[j] - '0');
        if (part == 0 && digits == 0)
            return 0;
        *too_big |= v > GO_MAX_REPEAT;
        if (part == 1 || j >= w->len || w->re[j] != ',')
            break;
        j++;
    }
    return j < w->len && w->re[j] == '}' ? j + 1 - i : 0;
}

/* A repetition operator at re[i] (with its optional lazy '?'). Returns false on error. */
static bool walk_repeat(walk *w, size_t n)
{
    if (w->repeated)
        return fail_at(w, "invalid nested repetition operator", w->i);
    if (w->i + n < w->len && w->re[w->i + n] == '?')
        n++;
    emit(w, w->re + w->i, n);
    w->i += n;
    w->repeated = true;
    return true;
}

static bool walk_item(walk *w)
{
    char c = w->re[w->i];
    bool too_big = false;
    size_t rep = c == '{' ? repeat_len(w, w->i, &too_big) : (c == '*' || c == '+' || c == '?');
    if (too_big)
        return fail_at(w, "invalid repeat count (above 1000)", w->i);
    if (rep > 0)
        return walk_repeat(w, rep);
    w->repeated = false;
    if (c == '\\' && w->i + 1 < w->len && w->re[w->i + 1] == 'Q') {
        walk_quote(w);
        return true;
    }
    if (c == '\\')
        return walk_escape(w, false);
    if (c == '[')
        return walk_class(w);
    if (c == '(' && w->i + 1 < w->len && w->re[w->i + 1] == '?')
        return walk_group(w);
    if (c == '(' && w->i + 1 < w->len && w->re[w->i + 1] == '*')
        return fail_at(w, "missing argument to repetition operator", w->i + 1);
    emit(w, &c, 1);
    w->i++;
    return true;
}

/* The offset in the user's pattern of offset o in the wrapped, translated one. */
static size_t source_offset(const walk *w, size_t o)
{
    if (o <= PREFIX_LEN)
        return 0;
    size_t s = o - PREFIX_LEN, shift = 0;
    for (size_t k = 0; k < w->nv; k++) {
        size_t at = w->vpos[k] + shift; /* where this \v's four bytes start in the body */
        if (s < at)
            break;
        if (s < at + 4)
            return w->vpos[k];
        shift += 2;
    }
    s -= shift;
    return s > w->len ? w->len : s;
}

static vigil_status regex_error(const char *re, const char *why, size_t at)
{
    return vigil__fail(VIGIL_EINVAL, "regex \"%.200s\": %s at offset %zu", re, why, at);
}

static vigil_status compile_walked(const walk *w, pcre2_code **out)
{
    int code = 0;
    PCRE2_SIZE off = 0;
    uint32_t opts =
        PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_NO_AUTO_CAPTURE | PCRE2_NEVER_BACKSLASH_C;
    *out = pcre2_compile((PCRE2_SPTR)w->out, w->olen, opts, &code, &off, cctx);
    if (*out == NULL && code == PCRE2_ERROR_HEAP_FAILED)
        return vigil__fail(VIGIL_ENOMEM, "out of memory compiling regex \"%.200s\"", w->re);
    if (*out == NULL) {
        PCRE2_UCHAR msg[160];
        if (pcre2_get_error_message(code, msg, sizeof msg) < 0)
            strcpy((char *)msg, "unknown PCRE2 error");
        return regex_error(w->re, (const char *)msg, source_offset(w, off));
    }
    /* Without JIT support pcre2_match interprets the pattern: slower, same answers. */
    (void)pcre2_jit_compile(*out, PCRE2_JIT_COMPLETE);
    return VIGIL_OK;
}

static vigil_status compile_regex(const char *re, pcre2_code **out)
{
    size_t len = strlen(re);
    walk w = {.re = re, .len = len};
    w.out = vigil__malloc(PREFIX_LEN + 2 * len + SUFFIX_LEN + 1);
    w.vpos = vigil__malloc((len / 2 + 1) * sizeof *w.vpos);
    vigil_status st = VIGIL_OK;
    if (w.out == NULL || w.vpos == NULL)
        st = vigil__fail(VIGIL_ENOMEM, "out of memory compiling a %zu-byte regex", len);
    if (st == VIGIL_OK) {
        emit(&w, PREFIX, PREFIX_LEN);
        while (w.i < w.len && walk_item(&w))
            ;
        emit(&w, SUFFIX, SUFFIX_LEN);
        st = w.err != NULL ? regex_error(re, w.err, w.err_at) : compile_walked(&w, out);
    }
    vigil__free(w.out);
    vigil__free(w.vpos);
    return st;
}

/* ---- literal alternations ------------------------------------------------------------------- */

static bool is_meta(char c)
{
    return strchr("\\.+*?()|[]{}^$", c) != NULL && c != '\0';
}

/* Decodes re[0..len) as lit|lit|... (escaped metacharacters allowed) into buf, one
 * NUL-terminated literal after another; returns how many, or 0 when re is anything else. */
static size_t split_literals(const char *re, size_t len, char *buf)
{
    size_t count = 1, o = 0;
    for (size_t i = 0; i < len; i++) {
        char c = re[i];
        if (c == '|') {
            buf[o++] = '\0';
            count++;
        } else if (c == '\\' && i + 1 < len && is_meta(re[i + 1])) {
            buf[o++] = re[++i];
        } else if (is_meta(c)) {
            return 0;
        } else {
            buf[o++] = c;
        }
    }
    buf[o] = '\0';
    return count;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The literal set of the pattern, if it is one; (a|b) and (?:a|b) are unwrapped first. */
static vigil_status literal_set(vigil__tsdb_matcher *m, bool *is_set)
{
    const char *re = m->value;
    size_t len = strlen(re);
    size_t skip = len >= 2 && re[0] == '(' && re[len - 1] == ')' ? 1 : 0;
    if (skip && len >= 4 && re[1] == '?' && re[2] == ':')
        skip = 3;
    *is_set = false;
    m->set_buf = vigil__malloc(len + 1);
    if (m->set_buf == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory compiling regex \"%.200s\"", re);
    size_t n = split_literals(re + skip, len - skip - (skip ? 1 : 0), m->set_buf);
    if (n == 0)
        return VIGIL_OK;
    m->set = vigil__malloc(n * sizeof *m->set);
    if (m->set == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory compiling regex \"%.200s\"", re);
    const char *p = m->set_buf;
    for (size_t i = 0; i < n; i++, p += strlen(p) + 1)
        m->set[i] = p;
    qsort(m->set, n, sizeof *m->set, cmp_str);
    m->nset = 0;
    for (size_t i = 0; i < n; i++) {
        if (m->nset == 0 || strcmp(m->set[m->nset - 1], m->set[i]) != 0)
            m->set[m->nset++] = m->set[i];
    }
    *is_set = true;
    return VIGIL_OK;
}

/* ---- construction --------------------------------------------------------------------------- */

static bool set_contains(const vigil__tsdb_matcher *m, const char *v)
{
    if (m->nset == 1)
        return strcmp(m->set[0], v) == 0;
    return bsearch(&v, m->set, m->nset, sizeof *m->set, cmp_str) != NULL;
}

static bool no_newline_utf8(const char *v)
{
    size_t len = strlen(v);
    return memchr(v, '\n', len) == NULL && vigil__utf8_valid(v, len);
}

static bool run_regex(const pcre2_code *code, const char *v)
{
    pcre2_match_data *md = thread_match_data();
    if (md == NULL)
        return false; /* out of memory: no match rather than a crash */
    size_t len = strlen(v);
    int rc = pcre2_match(code, (PCRE2_SPTR)v, len, 0, 0, md, mctx);
    if (rc == PCRE2_ERROR_MATCHLIMIT || rc == PCRE2_ERROR_DEPTHLIMIT ||
        rc == PCRE2_ERROR_HEAPLIMIT || rc == PCRE2_ERROR_JIT_STACKLIMIT) {
        int ws[DFA_WORKSPACE];
        rc = pcre2_dfa_match(code, (PCRE2_SPTR)v, len, 0, 0, md, NULL, ws, DFA_WORKSPACE);
    }
    return rc >= 0; /* 0: matched, but the offsets did not fit (we asked for none) */
}

static bool positive(const vigil__tsdb_matcher *m, const char *v)
{
    switch (m->kind) {
    case KIND_SET: return set_contains(m, v);
    case KIND_ANY: return no_newline_utf8(v);
    case KIND_NONEMPTY: return v[0] != '\0' && no_newline_utf8(v);
    case KIND_REGEX: return run_regex(m->code, v);
    }
    return false;
}

static vigil_status prepare_regex(vigil__tsdb_matcher *m)
{
    const char *re = m->value;
    size_t len = strlen(re);
    if (len > VIGIL__TSDB_REGEX_MAX_LEN)
        return vigil__fail(VIGIL_ELIMIT, "regex of %zu bytes: longer than the %zu-byte limit", len,
                           VIGIL__TSDB_REGEX_MAX_LEN);
    if (!vigil__utf8_valid(re, len))
        return vigil__fail(VIGIL_EINVAL, "regex \"%.200s\": not valid UTF-8", re);
    if (strcmp(re, ".*") == 0 || strcmp(re, ".+") == 0) {
        m->kind = re[1] == '*' ? KIND_ANY : KIND_NONEMPTY;
        return VIGIL_OK;
    }
    bool is_set;
    vigil_status st = literal_set(m, &is_set);
    if (st != VIGIL_OK || is_set)
        return st;
    m->kind = KIND_REGEX;
    pthread_once(&pcre_once, pcre_init);
    if (gctx == NULL || cctx == NULL || mctx == NULL || !md_key_ok)
        return vigil__fail(VIGIL_ENOMEM, "cannot set up PCRE2 (out of memory)");
    /* matches_empty is computed by a match on this thread: it must not fail for want of memory. */
    if (thread_match_data() == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory for PCRE2 match data");
    return compile_regex(re, &m->code);
}

/* = and != are the one-element set {value}. */
static vigil_status prepare_equal(vigil__tsdb_matcher *m)
{
    m->kind = KIND_SET;
    m->set = vigil__malloc(sizeof *m->set);
    if (m->set == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory creating a matcher");
    m->set[0] = m->value;
    m->nset = 1;
    return VIGIL_OK;
}

vigil_status vigil__tsdb_matcher_new(vigil_match_type type, const char *name, const char *value,
                                     vigil__tsdb_matcher **out)
{
    *out = NULL;
    if (name == NULL || value == NULL)
        return vigil__fail(VIGIL_EINVAL, "matcher: %s is NULL", name == NULL ? "name" : "value");
    if (type < VIGIL_MATCH_EQUAL || type > VIGIL_MATCH_NOT_REGEX)
        return vigil__fail(VIGIL_EINVAL, "matcher on \"%.200s\": unknown type %d", name, (int)type);
    vigil__tsdb_matcher *m = vigil__calloc(1, sizeof *m);
    if (m == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory creating a matcher");
    m->type = type;
    m->negative = type == VIGIL_MATCH_NOT_EQUAL || type == VIGIL_MATCH_NOT_REGEX;
    m->name = vigil__strdup(name);
    m->value = vigil__strdup(value);
    vigil_status st = VIGIL_OK;
    if (m->name == NULL || m->value == NULL)
        st = vigil__fail(VIGIL_ENOMEM, "out of memory creating a matcher");
    else if (type == VIGIL_MATCH_REGEX || type == VIGIL_MATCH_NOT_REGEX)
        st = prepare_regex(m);
    else
        st = prepare_equal(m);
    if (st != VIGIL_OK) {
        vigil__tsdb_matcher_free(m);
        return st;
    }
    m->matches_empty = positive(m, "") != m->negative;
    *out = m;
    return VIGIL_OK;
}

void vigil__tsdb_matcher_free(vigil__tsdb_matcher *m)
{
    if (m == NULL)
        return;
    pcre2_code_free(m->code);
    vigil__free(m->set);
    vigil__free(m->set_buf);
    vigil__free(m->name);
    vigil__free(m->value);
    vigil__free(m);
}

vigil_match_type vigil__tsdb_matcher_type(const vigil__tsdb_matcher *m)
{
    return m->type;
}

const char *vigil__tsdb_matcher_name(const vigil__tsdb_matcher *m)
{
    return m->name;
}

const char *vigil__tsdb_matcher_value(const vigil__tsdb_matcher *m)
{
    return m->value;
}

bool vigil__tsdb_matcher_matches(const vigil__tsdb_matcher *m, const char *v)
{
    return positive(m, v) != m->negative;
}

bool vigil__tsdb_matcher_matches_empty(const vigil__tsdb_matcher *m)
{
    return m->matches_empty;
}

bool vigil__tsdb_matcher_literals(const vigil__tsdb_matcher *m, const char *const **values,
                                  size_t *n)
{
    if (m->kind != KIND_SET)
        return false;
    *values = m->set;
    *n = m->nset;
    return true;
}
