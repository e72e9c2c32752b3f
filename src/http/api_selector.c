/* api_selector.c — match[] values: series selectors such as `up{job="api"}` or
 * `{__name__=~"http_.*"}`, parsed as Prometheus's ParseMetricSelector does.
 *
 * The PromQL parser (promql/ast.h) does the real work: lexing, string escapes, regex checks, and
 * the error for anything malformed, with its position. What it cannot know is that only a bare
 * selector is allowed here: `up[5m]`, `rate(up[5m])` or `up + 1` are valid PromQL but not valid
 * selectors. Prometheus parses match[] with a grammar that stops after the selector, so its error
 * names the first token past it ("1:3: parse error: unexpected <op:+>"); we find that token in the
 * text after a successful parse and describe it the way Prometheus's parser does, odd wordings
 * included. Finally, as Prometheus requires, every selector needs one matcher that does not match
 * the empty string, or it would select every series in the store. */
#include <stdio.h>
#include <string.h>

#include "http/api_int.h"
#include "promql/arena.h"
#include "promql/ast.h"
#include "tsdb/matcher.h"

#define APPEND_LIT(out, lit) vigil_buffer_append((out), (lit), sizeof(lit) - 1)

/* The parser's refusal of `{}` or `{a=""}` in a query, which as a match[] is a valid selector
 * with its own error. */
#define EMPTY_SELECTOR "vector selector must contain at least one non-empty matcher"

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool ident_start(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
}

static bool ident_char(char c)
{
    return ident_start(c) || (c >= '0' && c <= '9');
}

static size_t skip_space(const char *s, size_t i)
{
    while (is_space(s[i]))
        i++;
    return i;
}

static bool word_is(const char *w, size_t n, const char *lower_word)
{
    if (strlen(lower_word) != n)
        return false;
    for (size_t i = 0; i < n; i++) {
        char c = w[i] >= 'A' && w[i] <= 'Z' ? (char)(w[i] - 'A' + 'a') : w[i];
        if (c != lower_word[i])
            return false;
    }
    return true;
}

static bool word_in(const char *w, size_t n, const char *const *list)
{
    for (; *list; list++) {
        if (word_is(w, n, *list))
            return true;
    }
    return false;
}

/* Index just past the '}' closing the '{' at s[i], skipping quoted strings; strlen(s) when
 * unclosed (the parser accepted the text, so that does not happen). */
static size_t skip_braces(const char *s, size_t i)
{
    for (i++; s[i] && s[i] != '}'; i++) {
        char q = s[i];
        if (q != '"' && q != '\'' && q != '`')
            continue;
        for (i++; s[i] && s[i] != q; i++) {
            if (s[i] == '\\' && q != '`' && s[i + 1])
                i++;
        }
        if (!s[i])
            return i;
    }
    return s[i] ? i + 1 : i;
}

/* Length of a number or duration token at s ("1.5e+3", "0x1f", "5m", "1h30m"). */
static size_t number_len(const char *s)
{
    size_t n = 0;
    bool hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X');
    while (ident_char(s[n]) || s[n] == '.' ||
           (!hex && n > 0 && (s[n - 1] == 'e' || s[n - 1] == 'E') && (s[n] == '+' || s[n] == '-')))
        n++;
    return n;
}

/* Prometheus's duration literal: one or more <digits><unit> with unit ms s m h d w y. */
static bool is_duration(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t d = i;
        while (i < n && s[i] >= '0' && s[i] <= '9')
            i++;
        if (i == d || i == n)
            return false;
        if (i + 1 < n && s[i] == 'm' && s[i + 1] == 's')
            i += 2;
        else if (strchr("smhdwy", s[i]) != NULL)
            i++;
        else
            return false;
    }
    return n > 0;
}

/* `<kind>"<text>"`, the text quoted as Go's %q quotes it. */
static vigil_status append_quoted(vigil_buffer *out, const char *kind, const char *text, size_t n)
{
    vigil_buffer word;
    vigil_buffer_init(&word, 0);
    vigil_status st = vigil_buffer_append(out, kind, strlen(kind));
    if (st == VIGIL_OK)
        st = vigil_buffer_append(&word, text, n);
    if (st == VIGIL_OK)
        st = vigil__api_go_quote(out, vigil_buffer_cstr(&word));
    vigil_buffer_free(&word);
    return st;
}

/* A word: a keyword or operator keeps the case it was written in ("<OFFSET>", "<op:AND>"). */
static vigil_status describe_word(const char *t, vigil_buffer *out)
{
    static const char *const set_ops[] = {"and", "or", "unless", "atan2", NULL};
    static const char *const keywords[] = {
        "by", "without", "on", "ignoring", "bool", "group_left", "group_right", "offset", NULL};
    static const char *const aggregators[] = {
        "sum",    "avg",  "count",   "min",          "max",      "group", "stddev",
        "stdvar", "topk", "bottomk", "count_values", "quantile", NULL};
    static const char *const numbers[] = {"inf", "nan", NULL};
    static const char *const at_words[] = {"start", "end", NULL};
    size_t n = 0;
    while (ident_char(t[n]))
        n++;
    if (memchr(t, ':', n) != NULL)
        return append_quoted(out, "metric identifier ", t, n);
    if (word_in(t, n, numbers))
        return append_quoted(out, "number ", t, n);
    const char *fmt = word_in(t, n, set_ops)       ? "<op:%.*s>"
                      : word_in(t, n, keywords)    ? "<%.*s>"
                      : word_in(t, n, aggregators) ? "<aggr:%.*s>"
                      : word_in(t, n, at_words)    ? "\"%.*s\""
                                                   : NULL;
    if (fmt == NULL)
        return append_quoted(out, "identifier ", t, n);
    char buf[64];
    snprintf(buf, sizeof buf, fmt, (int)n, t);
    return vigil_buffer_append(out, buf, strlen(buf));
}

/* A quoted string from t to its closing quote. */
static vigil_status describe_string(const char *t, vigil_buffer *out)
{
    size_t end = 1;
    for (; t[end] && t[end] != t[0]; end++) {
        if (t[end] == '\\' && t[0] != '`' && t[end + 1])
            end++;
    }
    return append_quoted(out, "string ", t, end + (t[end] != '\0'));
}

/* Punctuation and operators. */
static vigil_status describe_symbol(const char *t, vigil_buffer *out)
{
    static const char *const two_char_ops[] = {"==", "!=", ">=", "<=", NULL};
    char buf[16];
    if (*t == '@') /* sic: Prometheus 2.42 names the @ token this way */
        return APPEND_LIT(out, "\"<Item 57385>\" <op:@>");
    for (const char *const *op = two_char_ops; *op; op++) {
        if (strncmp(t, *op, 2) == 0) {
            snprintf(buf, sizeof buf, "<op:%s>", *op);
            return vigil_buffer_append(out, buf, strlen(buf));
        }
    }
    if (strchr("+-*/%^<>", *t) != NULL)
        snprintf(buf, sizeof buf, "<op:%c>", *t);
    else
        snprintf(buf, sizeof buf, "\"%c\"", *t);
    return vigil_buffer_append(out, buf, strlen(buf));
}

/* Appends how Prometheus's parser names the token at t in "unexpected %s". */
static vigil_status describe_token(const char *t, vigil_buffer *out)
{
    if (*t == '\0')
        return APPEND_LIT(out, "end of input");
    if (ident_start(*t))
        return describe_word(t, out);
    if ((*t >= '0' && *t <= '9') || (*t == '.' && t[1] >= '0' && t[1] <= '9')) {
        size_t n = number_len(t);
        return append_quoted(out, is_duration(t, n) ? "duration " : "number ", t, n);
    }
    if (*t == '"' || *t == '\'' || *t == '`')
        return describe_string(t, out);
    return describe_symbol(t, out);
}

/* Where a bare selector at the start of s ends (after the metric name and the braces), or 0
 * when s does not start with one. */
static size_t selector_end(const char *s)
{
    size_t i = skip_space(s, 0);
    size_t end = 0;
    if (ident_start(s[i])) {
        size_t n = 0;
        while (ident_char(s[i + n]))
            n++;
        if (word_in(s + i, n, (const char *const[]){"inf", "nan", NULL}))
            return 0; /* lexed as numbers */
        end = i + n;
        size_t j = skip_space(s, end);
        if (s[j] == '{')
            end = skip_braces(s, j);
    } else if (s[i] == '{') {
        end = skip_braces(s, i);
    }
    return end;
}

/* "L:C: parse error: unexpected <token>" for the token at byte i, columns counted in bytes
 * as Prometheus counts them. */
static vigil_status unexpected_at(const char *s, size_t i, vigil_buffer *msg)
{
    unsigned line = 1;
    size_t line_start = 0;
    for (size_t k = 0; k < i; k++) {
        if (s[k] == '\n') {
            line++;
            line_start = k + 1;
        }
    }
    char head[64];
    snprintf(head, sizeof head, "%u:%zu: parse error: unexpected ", line, i - line_start + 1);
    vigil_status st = vigil_buffer_append(msg, head, strlen(head));
    return st == VIGIL_OK ? describe_token(s + i, msg) : st;
}

/* Parses one match[] value into sel. VIGIL_EINVAL with the message in msg when it is not a
 * selector. */
static vigil_status parse_one(const char *text, vigil__api_selector *sel, vigil_buffer *msg)
{
    pq_arena *arena = vigil__malloc(sizeof *arena);
    if (arena == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory parsing match[]");
    vigil__pq_arena_init(arena);
    sel->arena = arena;
    size_t start = skip_space(text, 0);
    if (text[start] == '\0') {
        vigil_status st = unexpected_at(text, start, msg);
        return st == VIGIL_OK ? VIGIL_EINVAL : st;
    }
    pq_node *node = NULL;
    vigil_status st = vigil__pq_parse(text, arena, &node);
    if (st == VIGIL_ENOMEM)
        return st;
    size_t end = selector_end(text);
    size_t rest = end == 0 ? start : skip_space(text, end);
    if (st != VIGIL_OK) {
        const char *why = vigil_errmsg();
        if (end != 0 && text[rest] == '\0' && strstr(why, EMPTY_SELECTOR) != NULL) {
            /* Valid as a selector; refused below, after every match[] has been parsed. */
            sel->only_empty = true;
            return VIGIL_OK;
        }
        st = vigil_buffer_append(msg, why, strlen(why));
        return st == VIGIL_OK ? VIGIL_EINVAL : st;
    }
    if (end == 0 || text[rest] != '\0' || node->kind != PQ_VECTOR_SELECTOR) {
        st = unexpected_at(text, rest, msg);
        return st == VIGIL_OK ? VIGIL_EINVAL : st;
    }
    sel->matchers = node->u.vs.matchers;
    sel->n = node->u.vs.n_matchers;
    return VIGIL_OK;
}

/* Does some matcher of sel exclude the empty value? */
static vigil_status has_non_empty_matcher(const vigil__api_selector *sel, bool *yes,
                                          vigil_buffer *msg)
{
    *yes = false;
    if (sel->only_empty)
        return VIGIL_OK;
    for (size_t i = 0; i < sel->n && !*yes; i++) {
        vigil__tsdb_matcher *m;
        vigil_status st = vigil__tsdb_matcher_new(sel->matchers[i].type, sel->matchers[i].name,
                                                  sel->matchers[i].value, &m);
        if (st == VIGIL_EINVAL) {
            const char *why = vigil_errmsg();
            st = vigil_buffer_append(msg, why, strlen(why));
            return st == VIGIL_OK ? VIGIL_EINVAL : st;
        }
        if (st != VIGIL_OK)
            return st;
        *yes = !vigil__tsdb_matcher_matches_empty(m);
        vigil__tsdb_matcher_free(m);
    }
    return VIGIL_OK;
}

vigil_status vigil__api_selectors_parse(const char *const *values, size_t n,
                                        vigil__api_selectors *out, vigil_buffer *msg)
{
    out->n = 0;
    out->sets = n ? vigil__calloc(n, sizeof *out->sets) : NULL;
    if (n > 0 && out->sets == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory parsing %zu match[] values", n);
    vigil_status st = VIGIL_OK;
    for (size_t i = 0; i < n && st == VIGIL_OK; i++) {
        out->n++;
        st = parse_one(values[i], &out->sets[i], msg);
    }
    for (size_t i = 0; i < n && st == VIGIL_OK; i++) {
        bool ok;
        st = has_non_empty_matcher(&out->sets[i], &ok, msg);
        if (st == VIGIL_OK && !ok) {
            st = APPEND_LIT(msg, "match[] must contain at least one non-empty matcher");
            if (st == VIGIL_OK)
                st = VIGIL_EINVAL;
        }
    }
    if (st != VIGIL_OK)
        vigil__api_selectors_free(out);
    return st;
}

void vigil__api_selectors_free(vigil__api_selectors *s)
{
    for (size_t i = 0; i < s->n; i++) {
        if (s->sets[i].arena != NULL)
            vigil__pq_arena_free(s->sets[i].arena);
        vigil__free(s->sets[i].arena);
    }
    vigil__free(s->sets);
    s->sets = NULL;
    s->n = 0;
}
