/* eval_label.c — label_replace() and label_join(): new label sets computed once per input
 * series (labels do not change between steps), the values passed through unchanged. Two inputs
 * that end up with the same labels merge into one output series; having a value at the same
 * step is then Prometheus's duplicate-labelset error.
 *
 * label_replace's regular expression must mean what Go's regexp makes of "^(?:re)$": it is
 * first checked by the store's matcher compiler, which refuses what RE2 refuses, then compiled
 * with PCRE2 (with captures, which the matchers never need), and the replacement is expanded
 * with Go's Regexp.Expand rules ($1, ${1}, $name, ${name}, $$; a reference to a group that does
 * not exist or did not take part is empty; a malformed one is kept as text). */
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "core/core_int.h"
#include "eval.h"
#include "tsdb/matcher.h"

static const char *string_arg(const pq_node *node, size_t i)
{
    const pq_node *a = vigil__pq_unparen(node->u.call.args[i]);
    return a->kind == PQ_STRING ? a->u.string : "";
}

/* Prometheus 2.42's label names: [a-zA-Z_][a-zA-Z0-9_]*. */
static bool valid_label_name(const char *s)
{
    if (s[0] == '\0')
        return false;
    for (size_t i = 0; s[i]; i++) {
        char c = s[i];
        bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
        if (!alpha && !(i > 0 && c >= '0' && c <= '9'))
            return false;
    }
    return true;
}

/* ---- the replacement's expansion ------------------------------------------------------------ */

typedef struct expander {
    pcre2_code *code;
    const char *src;
    const PCRE2_SIZE *ov; /* match offsets, 2 per group */
    uint32_t groups;
    vigil_buffer *out;
} expander;

static bool name_char(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
           c == '_' || c >= 0x80;
}

static vigil_status append_group(expander *e, long num)
{
    if (num < 0 || (uint32_t)num >= e->groups)
        return VIGIL_OK;
    PCRE2_SIZE a = e->ov[2 * num], b = e->ov[2 * num + 1];
    if (a == PCRE2_UNSET)
        return VIGIL_OK;
    return vigil_buffer_append(e->out, e->src + a, b - a);
}

static vigil_status append_named(expander *e, const char *name, size_t len)
{
    char buf[256];
    if (len >= sizeof buf)
        return VIGIL_OK;
    memcpy(buf, name, len);
    buf[len] = '\0';
    int num = pcre2_substring_number_from_name(e->code, (PCRE2_SPTR)buf);
    return num > 0 ? append_group(e, num) : VIGIL_OK;
}

/* One reference after a '$' at *p; false when it is malformed (the '$' is then text). */
static bool reference(expander *e, const char **p, vigil_status *st)
{
    const char *s = *p;
    bool brace = *s == '{';
    if (brace)
        s++;
    size_t n = 0;
    while (name_char((unsigned char)s[n]))
        n++;
    if (n == 0 || (brace && s[n] != '}'))
        return false;
    long num = 0;
    for (size_t i = 0; i < n && num >= 0; i++)
        num = (s[i] < '0' || s[i] > '9' || num >= 100000000) ? -1 : num * 10 + (s[i] - '0');
    if (s[0] == '0' && n > 1)
        num = -1;
    *st = num >= 0 ? append_group(e, num) : append_named(e, s, n);
    *p = s + n + brace;
    return true;
}

static vigil_status expand(expander *e, const char *tmpl)
{
    vigil_status st = VIGIL_OK;
    const char *p = tmpl;
    while (st == VIGIL_OK) {
        const char *dollar = strchr(p, '$');
        if (dollar == NULL)
            return vigil_buffer_append(e->out, p, strlen(p));
        st = vigil_buffer_append(e->out, p, (size_t)(dollar - p));
        p = dollar + 1;
        if (st)
            break;
        if (*p == '$') {
            st = vigil_buffer_append(e->out, "$", 1);
            p++;
        } else if (!reference(e, &p, &st)) {
            st = vigil_buffer_append(e->out, "$", 1);
        }
    }
    return st;
}

/* ---- label_replace() ------------------------------------------------------------------------ */

typedef struct replacer {
    pcre2_code *code;
    pcre2_match_data *md;
    const char *dst, *repl, *src;
} replacer;

static vigil_status replacer_open(replacer *r, const pq_node *node)
{
    memset(r, 0, sizeof *r);
    r->dst = string_arg(node, 1);
    r->repl = string_arg(node, 2);
    r->src = string_arg(node, 3);
    const char *re = string_arg(node, 4);
    vigil__tsdb_matcher *check;
    if (vigil__tsdb_matcher_new(VIGIL_MATCH_REGEX, "l", re, &check) != VIGIL_OK)
        return vigil__fail(VIGIL_ESTATE, "invalid regular expression in label_replace(): %s", re);
    vigil__tsdb_matcher_free(check);
    if (!valid_label_name(r->dst))
        return vigil__fail(VIGIL_ESTATE, "invalid destination label name in label_replace(): %s",
                           r->dst);
    vigil_buffer pat;
    vigil_buffer_init(&pat, 0);
    vigil_status st = vigil_buffer_append(&pat, "\\A(?:", 5);
    if (!st)
        st = vigil_buffer_append(&pat, re, strlen(re));
    if (!st)
        st = vigil_buffer_append(&pat, ")\\z", 3);
    if (st) {
        vigil_buffer_free(&pat);
        return st;
    }
    pcre2_compile_context *cc = pcre2_compile_context_create(NULL);
    if (cc != NULL)
        pcre2_set_newline(cc, PCRE2_NEWLINE_LF);
    int code = 0;
    PCRE2_SIZE off = 0;
    r->code = pcre2_compile((PCRE2_SPTR)pat.data, pat.len,
                            PCRE2_UTF | PCRE2_DOLLAR_ENDONLY | PCRE2_NEVER_BACKSLASH_C, &code,
                            &off, cc);
    pcre2_compile_context_free(cc);
    vigil_buffer_free(&pat);
    if (r->code == NULL)
        return vigil__fail(VIGIL_ESTATE, "invalid regular expression in label_replace(): %s", re);
    r->md = pcre2_match_data_create_from_pattern(r->code, NULL);
    return r->md ? VIGIL_OK : vigil__pq_nomem("label_replace()'s match data");
}

static void replacer_close(replacer *r)
{
    pcre2_match_data_free(r->md);
    pcre2_code_free(r->code);
}

static vigil_status replace_labels(pq_eval *ev, replacer *r, const pq_lset *in,
                                   const pq_lset **out)
{
    const char *val = vigil__pq_lset_get(in, r->src);
    if (val == NULL)
        val = "";
    int rc = pcre2_match(r->code, (PCRE2_SPTR)val, strlen(val), 0, 0, r->md, NULL);
    if (rc < 0) {
        *out = in; /* no match: the labels stay as they are */
        return VIGIL_OK;
    }
    vigil_buffer res;
    vigil_buffer_init(&res, 0);
    expander e = {r->code, val, pcre2_get_ovector_pointer(r->md),
                  pcre2_get_ovector_count(r->md), &res};
    vigil_status st = expand(&e, r->repl);
    const char *value = "";
    if (!st && res.len > 0 && (value = vigil__pq_strndup(ev->arena, res.data, res.len)) == NULL)
        st = vigil__pq_nomem("a label value");
    vigil_buffer_free(&res);
    if (!st)
        st = vigil__pq_lb_reset(&ev->lb, in);
    if (!st) {
        vigil__pq_lb_del(&ev->lb, r->dst);
        st = vigil__pq_lb_set(&ev->lb, r->dst, value);
    }
    if (!st && (*out = vigil__pq_lb_finish(&ev->lb, ev->arena)) == NULL)
        st = vigil__pq_nomem("a label set");
    return st;
}

/* ---- label_join() --------------------------------------------------------------------------- */

static vigil_status join_check(const pq_node *node)
{
    for (size_t i = 3; i < node->u.call.n_args; i++) {
        const char *src = string_arg(node, i);
        if (!valid_label_name(src))
            return vigil__fail(VIGIL_ESTATE, "invalid source label name in label_join(): %s", src);
    }
    const char *dst = string_arg(node, 1);
    if (!valid_label_name(dst))
        return vigil__fail(VIGIL_ESTATE, "invalid destination label name in label_join(): %s",
                           dst);
    return VIGIL_OK;
}

static vigil_status join_labels(pq_eval *ev, const pq_node *node, const pq_lset *in,
                                const pq_lset **out)
{
    const char *sep = string_arg(node, 2);
    vigil_buffer res;
    vigil_buffer_init(&res, 0);
    vigil_status st = VIGIL_OK;
    for (size_t i = 3; !st && i < node->u.call.n_args; i++) {
        const char *v = vigil__pq_lset_get(in, string_arg(node, i));
        if (i > 3)
            st = vigil_buffer_append(&res, sep, strlen(sep));
        if (!st && v != NULL)
            st = vigil_buffer_append(&res, v, strlen(v));
    }
    const char *value = "";
    if (!st && res.len > 0 && (value = vigil__pq_strndup(ev->arena, res.data, res.len)) == NULL)
        st = vigil__pq_nomem("a label value");
    vigil_buffer_free(&res);
    if (!st)
        st = vigil__pq_lb_reset(&ev->lb, in);
    if (!st)
        st = vigil__pq_lb_set(&ev->lb, string_arg(node, 1), value);
    if (!st && (*out = vigil__pq_lb_finish(&ev->lb, ev->arena)) == NULL)
        st = vigil__pq_nomem("a label set");
    return st;
}

/* ---- both ----------------------------------------------------------------------------------- */

static vigil_status relabel(pq_eval *ev, const pq_node *node, replacer *r, pq_value *in,
                            pq_value *v)
{
    pq_merge m;
    vigil__pq_merge_init(&m, ev, v);
    uint32_t *idx = vigil__malloc((in->ns + 1) * sizeof *idx);
    vigil_status st = idx ? VIGIL_OK : vigil__pq_nomem("label function outputs");
    for (size_t i = 0; !st && i < in->ns; i++) {
        const pq_lset *ls;
        st = r ? replace_labels(ev, r, in->s[i].ls, &ls) : join_labels(ev, node, in->s[i].ls, &ls);
        if (!st)
            st = vigil__pq_merge_key(&m, ls, in->s[i].lo, in->s[i].n, &idx[i]);
    }
    if (!st)
        st = vigil__pq_merge_alloc(&m);
    for (size_t i = 0; !st && i < in->ns; i++) {
        const pq_series *s = &in->s[i];
        for (size_t k = 0; !st && k < s->n; k++)
            if (s->ok == NULL || pq_bit(s->ok, k))
                st = vigil__pq_merge_put(&m, idx[i], s->lo + k, s->v[k]);
    }
    if (!st)
        st = vigil__pq_merge_finish(&m);
    vigil__pq_merge_free(&m);
    vigil__free(idx);
    return st;
}

vigil_status vigil__pq_eval_label_fn(pq_eval *ev, const pq_node *node, const pq_frame *f,
                                     pq_value **out)
{
    bool replace = node->u.call.fn->id == PQ_FN_LABEL_REPLACE;
    replacer r;
    memset(&r, 0, sizeof r);
    vigil_status st = replace ? replacer_open(&r, node) : join_check(node);
    pq_value *in = NULL, *v = NULL;
    if (!st)
        st = vigil__pq_eval(ev, node->u.call.args[0], f, &in);
    if (!st)
        st = vigil__pq_value_new(ev, PQ_VAL_VECTOR, &v);
    if (!st)
        st = relabel(ev, node, replace ? &r : NULL, in, v);
    replacer_close(&r);
    vigil__pq_value_free(ev, in);
    if (st) {
        vigil__pq_value_free(ev, v);
        return st;
    }
    *out = v;
    return VIGIL_OK;
}
