/* lex.c — the PromQL lexer and Go's quoting rules.
 *
 * The lexer is a state machine shaped like Prometheus 2.42's: it reads runes (invalid UTF-8
 * reads as U+FFFD, one byte wide, as Go's decoder does), remembers whether it is inside
 * braces or brackets and how deep the parentheses go, and reports the same errors at the same
 * offsets, because those strings reach users verbatim ("1:8: parse error: unclosed left
 * parenthesis"). Where Prometheus's lexer has a quirk that changes what parses (escape errors
 * inside strings are dropped and left to the unquoting step; inside brackets any letter is
 * read as the subquery colon) the quirk is kept, so that vigil accepts exactly what
 * Prometheus accepts. */
#include "lex.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/core_int.h"

#define EOF_RUNE (-1)
#define RUNE_ERROR 0xFFFD

/* ---------------------------------------------------------------- runes */

static bool cont(unsigned char c)
{
    return c >= 0x80 && c <= 0xBF;
}

/* Go's utf8.DecodeRuneInString: the rune and its width; (U+FFFD, 1) for any invalid byte. */
static int32_t decode_rune(const unsigned char *s, size_t n, size_t *width)
{
    unsigned char c = s[0];
    *width = 1;
    if (c < 0x80)
        return c;
    if (c >= 0xC2 && c <= 0xDF && n >= 2 && cont(s[1])) {
        *width = 2;
        return ((int32_t)(c & 0x1F) << 6) | (s[1] & 0x3F);
    }
    if (c >= 0xE0 && c <= 0xEF && n >= 3) {
        unsigned char lo = c == 0xE0 ? 0xA0 : 0x80, hi = c == 0xED ? 0x9F : 0xBF;
        if (s[1] >= lo && s[1] <= hi && cont(s[2])) {
            *width = 3;
            return ((int32_t)(c & 0x0F) << 12) | ((int32_t)(s[1] & 0x3F) << 6) | (s[2] & 0x3F);
        }
    }
    if (c >= 0xF0 && c <= 0xF4 && n >= 4) {
        unsigned char lo = c == 0xF0 ? 0x90 : 0x80, hi = c == 0xF4 ? 0x8F : 0xBF;
        if (s[1] >= lo && s[1] <= hi && cont(s[2]) && cont(s[3])) {
            *width = 4;
            return ((int32_t)(c & 0x07) << 18) | ((int32_t)(s[1] & 0x3F) << 12) |
                   ((int32_t)(s[2] & 0x3F) << 6) | (s[3] & 0x3F);
        }
    }
    return RUNE_ERROR;
}

static int32_t next(pq_lexer *l)
{
    if (l->pos >= l->len) {
        l->width = 0;
        return EOF_RUNE;
    }
    int32_t r = decode_rune((const unsigned char *)l->in + l->pos, l->len - l->pos, &l->width);
    l->pos += l->width;
    return r;
}

static void backup(pq_lexer *l)
{
    l->pos -= l->width;
}

static int32_t peek(pq_lexer *l)
{
    int32_t r = next(l);
    backup(l);
    return r;
}

static bool accept(pq_lexer *l, const char *valid)
{
    int32_t r = next(l);
    if (r > 0 && r < 0x80 && strchr(valid, (int)r) != NULL)
        return true;
    backup(l);
    return false;
}

static void accept_run(pq_lexer *l, const char *valid)
{
    while (accept(l, valid)) {
    }
}

static bool is_space(int32_t r)
{
    return r == ' ' || r == '\t' || r == '\n' || r == '\r';
}
static bool is_alpha(int32_t r)
{
    return r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z');
}
static bool is_digit(int32_t r)
{
    return r >= '0' && r <= '9';
}
static bool is_alnum(int32_t r)
{
    return is_alpha(r) || is_digit(r);
}

/* ---------------------------------------------------------------- quoting */

/* Go's unicode.IsPrint, approximated for the runes a query is likely to hold: everything
 * but the C0/C1 controls, the non-ASCII spaces, the format characters and the private-use
 * and non-character ranges counts as printable. */
static bool rune_printable(int32_t r)
{
    if (r < 0x20 || r == 0x7F || (r >= 0x80 && r <= 0xA0) || r == 0xAD)
        return false;
    if (r == 0x1680 || (r >= 0x2000 && r <= 0x200F) || r == 0x205F || r == 0x3000 ||
        (r >= 0x2028 && r <= 0x202E) || (r >= 0x2060 && r <= 0x206F) || r == 0xFEFF ||
        (r >= 0xFFF9 && r <= 0xFFFB) || r == 0xFFFE || r == 0xFFFF ||
        (r >= 0xE000 && r <= 0xF8FF) || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF))
        return false;
    return true;
}

/* r as UTF-8 (1 to 4 bytes); a surrogate becomes U+FFFD, as Go encodes it. */
size_t vigil__pq_put_utf8(char *out, uint32_t r)
{
    if (r >= 0xD800 && r <= 0xDFFF)
        r = 0xFFFD; /* Go encodes a surrogate as the replacement character */
    if (r < 0x80) {
        out[0] = (char)r;
        return 1;
    }
    if (r < 0x800) {
        out[0] = (char)(0xC0 | (r >> 6));
        out[1] = (char)(0x80 | (r & 0x3F));
        return 2;
    }
    if (r < 0x10000) {
        out[0] = (char)(0xE0 | (r >> 12));
        out[1] = (char)(0x80 | ((r >> 6) & 0x3F));
        out[2] = (char)(0x80 | (r & 0x3F));
        return 3;
    }
    out[0] = (char)(0xF0 | (r >> 18));
    out[1] = (char)(0x80 | ((r >> 12) & 0x3F));
    out[2] = (char)(0x80 | ((r >> 6) & 0x3F));
    out[3] = (char)(0x80 | (r & 0x3F));
    return 4;
}

/* Appends the escaped form of one rune (quote is the enclosing quote character). */
static size_t quote_one(char *out, int32_t r, size_t width, const unsigned char *raw, char quote)
{
    if (r == RUNE_ERROR && width == 1 && raw != NULL) /* an invalid byte, not a real U+FFFD */
        return (size_t)sprintf(out, "\\x%02x", raw[0]);
    if (r == quote || r == '\\')
        return (size_t)sprintf(out, "\\%c", (char)r);
    if (rune_printable(r)) {
        if (r < 0x80) {
            out[0] = (char)r;
            return 1;
        }
        if (raw != NULL) {
            memcpy(out, raw, width);
            return width;
        }
        return vigil__pq_put_utf8(out, (uint32_t)r);
    }
    switch (r) {
    case '\a': return (size_t)sprintf(out, "\\a");
    case '\b': return (size_t)sprintf(out, "\\b");
    case '\f': return (size_t)sprintf(out, "\\f");
    case '\n': return (size_t)sprintf(out, "\\n");
    case '\r': return (size_t)sprintf(out, "\\r");
    case '\t': return (size_t)sprintf(out, "\\t");
    case '\v': return (size_t)sprintf(out, "\\v");
    default: break;
    }
    if (r < 0x80 || (r < 0x100 && raw == NULL && r < ' '))
        return (size_t)sprintf(out, "\\x%02x", (unsigned)r);
    if (r < 0x10000)
        return (size_t)sprintf(out, "\\u%04x", (unsigned)r);
    return (size_t)sprintf(out, "\\U%08x", (unsigned)r);
}

vigil_status vigil__pq_quote_append(vigil_buffer *b, const char *s, size_t n, size_t max_runes)
{
    char tmp[16];
    vigil_status st = vigil_buffer_append(b, "\"", 1);
    size_t i = 0, runes = 0;
    while (st == VIGIL_OK && i < n && runes < max_runes) {
        size_t w;
        int32_t r = decode_rune((const unsigned char *)s + i, n - i, &w);
        size_t k = quote_one(tmp, r, w, (const unsigned char *)s + i, '"');
        st = vigil_buffer_append(b, tmp, k);
        i += w;
        runes++;
    }
    if (st == VIGIL_OK)
        st = vigil_buffer_append(b, "\"", 1);
    return st;
}

const char *vigil__pq_quote(pq_arena *a, const char *s, size_t n, size_t max_runes)
{
    vigil_buffer b;
    vigil_buffer_init(&b, 0);
    const char *out = NULL;
    if (vigil__pq_quote_append(&b, s, n, max_runes) == VIGIL_OK)
        out = vigil__pq_strndup(a, b.data, b.len);
    vigil_buffer_free(&b);
    return out;
}

void vigil__pq_quote_rune(char *out, int32_t r)
{
    if (r < 0 || r > 0x10FFFF || (r >= 0xD800 && r <= 0xDFFF))
        r = RUNE_ERROR;
    out[0] = '\'';
    size_t k = quote_one(out + 1, r, 0, NULL, '\'');
    out[1 + k] = '\'';
    out[2 + k] = '\0';
}

char *vigil__pq_sprintf(pq_arena *a, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    char *out = vigil__pq_alloc(a, (size_t)n + 1);
    if (out == NULL)
        return NULL;
    va_start(ap, fmt);
    vsnprintf(out, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return out;
}

/* ---------------------------------------------------------------- tokens */

bool vigil__pq_tok_is_operator(pq_tok t)
{
    return t > PQ_TOK_OPERATORS_START_ && t < PQ_TOK_OPERATORS_END_;
}
bool vigil__pq_tok_is_aggregator(pq_tok t)
{
    return t > PQ_TOK_AGGREGATORS_START_ && t < PQ_TOK_AGGREGATORS_END_;
}
bool vigil__pq_tok_is_keyword(pq_tok t)
{
    return t > PQ_TOK_KEYWORDS_START_ && t < PQ_TOK_KEYWORDS_END_;
}

static const struct {
    const char *word;
    pq_tok tok;
} keywords[] = {
    {"and", PQ_TOK_LAND},
    {"or", PQ_TOK_LOR},
    {"unless", PQ_TOK_LUNLESS},
    {"atan2", PQ_TOK_ATAN2},
    {"sum", PQ_TOK_SUM},
    {"avg", PQ_TOK_AVG},
    {"count", PQ_TOK_COUNT},
    {"min", PQ_TOK_MIN},
    {"max", PQ_TOK_MAX},
    {"group", PQ_TOK_GROUP},
    {"stddev", PQ_TOK_STDDEV},
    {"stdvar", PQ_TOK_STDVAR},
    {"topk", PQ_TOK_TOPK},
    {"bottomk", PQ_TOK_BOTTOMK},
    {"count_values", PQ_TOK_COUNT_VALUES},
    {"quantile", PQ_TOK_QUANTILE},
    {"offset", PQ_TOK_OFFSET},
    {"by", PQ_TOK_BY},
    {"without", PQ_TOK_WITHOUT},
    {"on", PQ_TOK_ON},
    {"ignoring", PQ_TOK_IGNORING},
    {"group_left", PQ_TOK_GROUP_LEFT},
    {"group_right", PQ_TOK_GROUP_RIGHT},
    {"bool", PQ_TOK_BOOL},
    {"start", PQ_TOK_START},
    {"end", PQ_TOK_END},
    {"inf", PQ_TOK_NUMBER},
    {"nan", PQ_TOK_NUMBER},
};

/* Keywords match in any case ("SUM", "Inf"), as Prometheus lower-cases before looking up. */
static bool keyword(const char *s, size_t n, pq_tok *out)
{
    for (size_t i = 0; i < sizeof keywords / sizeof keywords[0]; i++) {
        const char *w = keywords[i].word;
        if (strlen(w) == n && strncasecmp(w, s, n) == 0) {
            *out = keywords[i].tok;
            return true;
        }
    }
    return false;
}

/* Punctuation and operators have a fixed spelling Prometheus prints instead of the text. */
static bool has_type_string(pq_tok t)
{
    return (t >= PQ_TOK_LEFT_PAREN && t <= PQ_TOK_COLON) || vigil__pq_tok_is_operator(t) ||
           vigil__pq_tok_is_aggregator(t) || vigil__pq_tok_is_keyword(t) || t == PQ_TOK_START ||
           t == PQ_TOK_END;
}

const char *vigil__pq_tok_desc(pq_arena *a, const char *query, const pq_token *t)
{
    const char *text = query + t->pos;
    int n = (int)t->len;
    switch (t->type) {
    case PQ_TOK_EOF: return "end of input";
    case PQ_TOK_ERROR: return t->msg;
    default: break;
    }
    if (has_type_string(t->type)) {
        if (vigil__pq_tok_is_keyword(t->type))
            return vigil__pq_sprintf(a, "<%.*s>", n, text);
        if (vigil__pq_tok_is_operator(t->type))
            return vigil__pq_sprintf(a, "<op:%.*s>", n, text);
        if (vigil__pq_tok_is_aggregator(t->type))
            return vigil__pq_sprintf(a, "<aggr:%.*s>", n, text);
        return vigil__pq_quote(a, text, t->len, t->len > 10 ? 10 : SIZE_MAX);
    }
    const char *kind = "";
    switch (t->type) {
    case PQ_TOK_IDENTIFIER: kind = "identifier"; break;
    case PQ_TOK_METRIC_IDENTIFIER: kind = "metric identifier"; break;
    case PQ_TOK_STRING: kind = "string"; break;
    case PQ_TOK_NUMBER: kind = "number"; break;
    case PQ_TOK_DURATION: kind = "duration"; break;
    case PQ_TOK_COMMENT: kind = "comment"; break;
    default: break;
    }
    bool cut = t->len > 10 && t->type != PQ_TOK_IDENTIFIER && t->type != PQ_TOK_METRIC_IDENTIFIER;
    const char *q = vigil__pq_quote(a, text, t->len, cut ? 10 : SIZE_MAX);
    if (q == NULL)
        return NULL;
    return vigil__pq_sprintf(a, "%s %s%s", kind, q, cut ? "..." : "");
}

/* ---------------------------------------------------------------- scanning */

static bool emit(pq_lexer *l, pq_token *t, pq_tok type)
{
    t->type = type;
    t->pos = (uint32_t)l->start;
    t->len = (uint32_t)(l->pos - l->start);
    t->msg = NULL;
    l->start = l->pos;
    return true;
}

static bool errorf(pq_lexer *l, pq_token *t, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

static bool errorf(pq_lexer *l, pq_token *t, const char *fmt, ...)
{
    char small[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(small, sizeof small, fmt, ap);
    va_end(ap);
    char *msg = n < 0 ? NULL : vigil__pq_alloc(l->arena, (size_t)n + 1);
    if (msg != NULL) {
        va_start(ap, fmt);
        vsnprintf(msg, (size_t)n + 1, fmt, ap);
        va_end(ap);
    }
    t->type = PQ_TOK_ERROR;
    t->pos = (uint32_t)l->start;
    t->len = 0;
    t->msg = msg != NULL ? msg : "out of memory";
    l->state = PQ_LEX_DONE;
    return true;
}

/* The text scanned so far, Go-quoted, for "bad number or duration syntax: %q". */
static const char *scanned(pq_lexer *l)
{
    const char *q = vigil__pq_quote(l->arena, l->in + l->start, l->pos - l->start, SIZE_MAX);
    return q != NULL ? q : "\"\"";
}

static bool lex_comment(pq_lexer *l, pq_token *t)
{
    l->pos++; /* '#' */
    for (int32_t r = next(l); r != '\n' && r != '\r' && r != EOF_RUNE; r = next(l)) {
    }
    backup(l);
    return emit(l, t, PQ_TOK_COMMENT);
}

static void skip_spaces(pq_lexer *l)
{
    while (is_space(peek(l)))
        next(l);
    l->start = l->pos;
}

/* A number as far as the lexer is concerned; false when a letter follows (maybe a duration). */
static bool scan_number(pq_lexer *l)
{
    const char *digits = "0123456789";
    if (accept(l, "0") && accept(l, "xX"))
        digits = "0123456789abcdefABCDEF";
    accept_run(l, digits);
    if (accept(l, "."))
        accept_run(l, digits);
    if (accept(l, "eE")) {
        accept(l, "+-");
        accept_run(l, "0123456789");
    }
    return !is_alnum(peek(l));
}

/* The rest of a duration after its first number: units and more numbers. Bad orders such as
 * "1m1h" pass here and fail when the duration is parsed, as in Prometheus. */
static bool accept_remaining_duration(pq_lexer *l)
{
    if (!accept(l, "smhdwy"))
        return false;
    accept(l, "s");
    while (accept(l, "0123456789")) {
        accept_run(l, "0123456789");
        if (!accept(l, "smhdw"))
            return false;
        accept(l, "s");
    }
    return !is_alnum(next(l));
}

static bool lex_number_or_duration(pq_lexer *l, pq_token *t)
{
    if (scan_number(l))
        return emit(l, t, PQ_TOK_NUMBER);
    if (accept_remaining_duration(l)) {
        backup(l);
        return emit(l, t, PQ_TOK_DURATION);
    }
    return errorf(l, t, "bad number or duration syntax: %s", scanned(l));
}

static bool lex_duration(pq_lexer *l, pq_token *t)
{
    l->state = PQ_LEX_STATEMENTS;
    if (scan_number(l))
        return errorf(l, t, "missing unit character in duration");
    if (!accept_remaining_duration(l))
        return errorf(l, t, "bad duration syntax: %s", scanned(l));
    backup(l);
    return emit(l, t, PQ_TOK_DURATION);
}

static int digit_val(int32_t r)
{
    if (r >= '0' && r <= '9')
        return r - '0';
    if (r >= 'a' && r <= 'f')
        return r - 'a' + 10;
    if (r >= 'A' && r <= 'F')
        return r - 'A' + 10;
    return 16;
}

/* Consumes an escape sequence after a backslash. Prometheus's lexer reports bad escapes, but
 * the report is overwritten by the string token that follows, so the only lasting effect is
 * how far it reads (it may swallow the closing quote: "\x" is unterminated). The unquoting
 * step rejects the bad escape afterwards. */
static void skip_escape(pq_lexer *l)
{
    int n;
    int base;
    int32_t ch = next(l);
    switch (ch) {
    case 'a':
    case 'b':
    case 'f':
    case 'n':
    case 'r':
    case 't':
    case 'v':
    case '\\': return;
    case '0':
    case '1':
    case '2':
    case '3':
    case '4':
    case '5':
    case '6':
    case '7':
        n = 3;
        base = 8;
        break;
    case 'x':
        ch = next(l);
        n = 2;
        base = 16;
        break;
    case 'u':
        ch = next(l);
        n = 4;
        base = 16;
        break;
    case 'U':
        ch = next(l);
        n = 8;
        base = 16;
        break;
    default: return; /* the quote itself, end of input, or an unknown escape */
    }
    while (n > 0) {
        if (digit_val(ch) >= base)
            return;
        n--;
        if (n > 0)
            ch = next(l);
    }
}

static bool lex_string(pq_lexer *l, pq_token *t)
{
    for (;;) {
        int32_t r = next(l);
        if (r == '\\')
            skip_escape(l);
        else if (r == RUNE_ERROR)
            return errorf(l, t, "invalid UTF-8 rune");
        else if (r == EOF_RUNE || r == '\n')
            return errorf(l, t, "unterminated quoted string");
        else if (r == l->string_open)
            return emit(l, t, PQ_TOK_STRING);
    }
}

static bool lex_raw_string(pq_lexer *l, pq_token *t)
{
    for (;;) {
        int32_t r = next(l);
        if (r == RUNE_ERROR)
            return errorf(l, t, "invalid UTF-8 rune");
        if (r == EOF_RUNE)
            return errorf(l, t, "unterminated raw string");
        if (r == l->string_open)
            return emit(l, t, PQ_TOK_STRING);
    }
}

static bool lex_keyword_or_identifier(pq_lexer *l, pq_token *t)
{
    for (;;) {
        int32_t r = next(l);
        if (!is_alnum(r) && r != ':')
            break;
    }
    backup(l);
    const char *word = l->in + l->start;
    size_t n = l->pos - l->start;
    pq_tok kw;
    if (keyword(word, n, &kw))
        return emit(l, t, kw);
    return emit(l, t, memchr(word, ':', n) != NULL ? PQ_TOK_METRIC_IDENTIFIER : PQ_TOK_IDENTIFIER);
}

static bool lex_inside_braces(pq_lexer *l, pq_token *t)
{
    char q[16];
    if (l->pos < l->len && l->in[l->pos] == '#')
        return lex_comment(l, t);
    int32_t r = next(l);
    if (r == EOF_RUNE)
        return errorf(l, t, "unexpected end of input inside braces");
    if (is_space(r)) {
        skip_spaces(l);
        return false;
    }
    if (is_alpha(r)) {
        while (is_alnum(next(l))) {
        }
        backup(l);
        return emit(l, t, PQ_TOK_IDENTIFIER);
    }
    switch (r) {
    case ',': return emit(l, t, PQ_TOK_COMMA);
    case '"':
    case '\'': l->string_open = r; return lex_string(l, t);
    case '`': l->string_open = r; return lex_raw_string(l, t);
    case '=':
        if (next(l) == '~')
            return emit(l, t, PQ_TOK_EQL_REGEX);
        backup(l);
        return emit(l, t, PQ_TOK_EQL);
    case '!': {
        int32_t nr = next(l);
        if (nr == '~')
            return emit(l, t, PQ_TOK_NEQ_REGEX);
        if (nr == '=')
            return emit(l, t, PQ_TOK_NEQ);
        vigil__pq_quote_rune(q, nr);
        return errorf(l, t, "unexpected character after '!' inside braces: %s", q);
    }
    case '{': vigil__pq_quote_rune(q, r); return errorf(l, t, "unexpected left brace %s", q);
    case '}':
        l->brace_open = false;
        l->state = PQ_LEX_STATEMENTS;
        return emit(l, t, PQ_TOK_RIGHT_BRACE);
    default:
        vigil__pq_quote_rune(q, r);
        return errorf(l, t, "unexpected character inside braces: %s", q);
    }
}

static bool lex_at_eof(pq_lexer *l, pq_token *t)
{
    if (l->paren_depth != 0)
        return errorf(l, t, "unclosed left parenthesis");
    if (l->bracket_open)
        return errorf(l, t, "unclosed left bracket");
    l->state = PQ_LEX_DONE;
    return emit(l, t, PQ_TOK_EOF);
}

/* Two-character operators and the characters that may only start one. */
static bool lex_operator(pq_lexer *l, pq_token *t, int32_t r)
{
    char q[16];
    switch (r) {
    case '=': {
        int32_t n = peek(l);
        if (n == '=') {
            next(l);
            return emit(l, t, PQ_TOK_EQLC);
        }
        if (n == '~') {
            vigil__pq_quote_rune(q, n);
            return errorf(l, t, "unexpected character after '=': %s", q);
        }
        return emit(l, t, PQ_TOK_EQL);
    }
    case '!': {
        int32_t n = next(l);
        if (n == '=')
            return emit(l, t, PQ_TOK_NEQ);
        vigil__pq_quote_rune(q, n);
        return errorf(l, t, "unexpected character after '!': %s", q);
    }
    case '<':
        if (peek(l) == '=') {
            next(l);
            return emit(l, t, PQ_TOK_LTE);
        }
        return emit(l, t, PQ_TOK_LSS);
    default: /* '>' */
        if (peek(l) == '=') {
            next(l);
            return emit(l, t, PQ_TOK_GTE);
        }
        return emit(l, t, PQ_TOK_GTR);
    }
}

static bool lex_statements(pq_lexer *l, pq_token *t)
{
    char q[16];
    if (l->brace_open) {
        l->state = PQ_LEX_BRACES;
        return false;
    }
    if (l->pos < l->len && l->in[l->pos] == '#')
        return lex_comment(l, t);
    int32_t r = next(l);
    if (r == EOF_RUNE)
        return lex_at_eof(l, t);
    if (is_space(r)) {
        skip_spaces(l);
        return false;
    }
    if (is_digit(r) || (r == '.' && is_digit(peek(l)))) {
        backup(l);
        return lex_number_or_duration(l, t);
    }
    if (is_alpha(r) || r == ':') {
        if (!l->bracket_open) {
            backup(l);
            return lex_keyword_or_identifier(l, t);
        }
        /* Inside brackets Prometheus takes any letter for the subquery's colon. */
        if (l->got_colon) {
            vigil__pq_quote_rune(q, r);
            return errorf(l, t, "unexpected colon %s", q);
        }
        l->got_colon = true;
        return emit(l, t, PQ_TOK_COLON);
    }
    switch (r) {
    case ',': return emit(l, t, PQ_TOK_COMMA);
    case '*': return emit(l, t, PQ_TOK_MUL);
    case '/': return emit(l, t, PQ_TOK_DIV);
    case '%': return emit(l, t, PQ_TOK_MOD);
    case '+': return emit(l, t, PQ_TOK_ADD);
    case '-': return emit(l, t, PQ_TOK_SUB);
    case '^': return emit(l, t, PQ_TOK_POW);
    case '@': return emit(l, t, PQ_TOK_AT);
    case '=':
    case '!':
    case '<':
    case '>': return lex_operator(l, t, r);
    case '"':
    case '\'': l->string_open = r; return lex_string(l, t);
    case '`': l->string_open = r; return lex_raw_string(l, t);
    case '(': l->paren_depth++; return emit(l, t, PQ_TOK_LEFT_PAREN);
    case ')':
        emit(l, t, PQ_TOK_RIGHT_PAREN);
        if (--l->paren_depth < 0) {
            vigil__pq_quote_rune(q, r);
            return errorf(l, t, "unexpected right parenthesis %s", q);
        }
        return true;
    case '{':
        l->brace_open = true;
        l->state = PQ_LEX_BRACES;
        return emit(l, t, PQ_TOK_LEFT_BRACE);
    case '[':
        if (l->bracket_open) {
            vigil__pq_quote_rune(q, r);
            return errorf(l, t, "unexpected left bracket %s", q);
        }
        l->got_colon = false;
        emit(l, t, PQ_TOK_LEFT_BRACKET);
        skip_spaces(l);
        l->bracket_open = true;
        l->state = PQ_LEX_DURATION;
        return true;
    case ']':
        if (!l->bracket_open) {
            vigil__pq_quote_rune(q, r);
            return errorf(l, t, "unexpected right bracket %s", q);
        }
        l->bracket_open = false;
        return emit(l, t, PQ_TOK_RIGHT_BRACKET);
    default: vigil__pq_quote_rune(q, r); return errorf(l, t, "unexpected character: %s", q);
    }
}

void vigil__pq_lexer_init(pq_lexer *l, const char *in, size_t len, pq_arena *arena)
{
    memset(l, 0, sizeof *l);
    l->in = in;
    l->len = len;
    l->arena = arena;
    l->state = PQ_LEX_STATEMENTS;
}

void vigil__pq_lex(pq_lexer *l, pq_token *t)
{
    for (;;) {
        bool got;
        switch (l->state) {
        case PQ_LEX_BRACES: got = lex_inside_braces(l, t); break;
        case PQ_LEX_DURATION: got = lex_duration(l, t); break;
        case PQ_LEX_DONE:
            t->type = PQ_TOK_EOF;
            t->pos = (uint32_t)l->len;
            t->len = 0;
            t->msg = NULL;
            return;
        default: got = lex_statements(l, t); break;
        }
        if (got)
            return;
    }
}
