/* promql_test_script.c — a PromQL test script read into commands, line by line, with the rules
 * of Prometheus v2.42.0's promql/test.go:
 *
 *   - every line is trimmed; a line starting with '#' counts as blank. A blank line ends a load
 *     or eval block, so a comment between two series lines ends the block and the next series
 *     line is then an unknown command (as in Prometheus).
 *   - the command is the first word, lower-cased: `clear` (anything after it is ignored),
 *     `load`, or anything starting with `eval`. The patterns after that are case-sensitive:
 *     `load <duration>`, and `eval[_fail|_ordered] instant at <duration> <expr>`, where the
 *     duration ends at the first blank and the expression is the rest of the line.
 *   - under `load`, series descriptions; under `eval`, expected series with one value each, or
 *     one bare number (a scalar), which also ends the block. A label set given twice replaces
 *     its earlier line (test.go keys both by the label set's hash).
 *
 * One difference, on purpose: test.go parses the expression while reading the script, so a
 * query that does not parse stops the whole file. Here parsing is the engine's job and part of
 * what is tested, so the expression is kept as text and a parse error is the eval's failure
 * (or its success under eval_fail). */
#include <ctype.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "promql_test.h"

typedef struct lines {
    char **v; /* trimmed, comments blanked; pointers into one copy of the text */
    size_t n;
    char *text;
} lines;

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

static bool split_lines(const char *text, lines *out)
{
    memset(out, 0, sizeof *out);
    out->text = strdup(text);
    if (!out->text)
        return false;
    size_t cap = 1;
    for (const char *p = text; *p; p++)
        cap += *p == '\n';
    out->v = calloc(cap, sizeof *out->v);
    if (!out->v)
        return false;
    char *p = out->text;
    for (;;) {
        char *end = strchr(p, '\n');
        if (end)
            *end = '\0';
        char *s = p, *e = p + strlen(p);
        while (is_blank(*s))
            s++;
        while (e > s && is_blank(e[-1]))
            *--e = '\0';
        out->v[out->n++] = *s == '#' ? e : s; /* e points at a '\0': an empty line */
        if (!end)
            break;
        p = end + 1;
    }
    return true;
}

typedef struct parser {
    lines lines;
    size_t i; /* current line, 0-based */
    pt_script *script;
    int *err_line;
    char *err;
    size_t errlen;
} parser;

__attribute__((format(printf, 2, 3))) static bool fail(parser *ps, const char *fmt, ...)
{
    va_list ap;
    *ps->err_line = (int)ps->i + 1;
    va_start(ap, fmt);
    vsnprintf(ps->err, ps->errlen, fmt, ap);
    va_end(ap);
    return false;
}

static pt_cmd *new_cmd(parser *ps, pt_cmd_kind kind)
{
    pt_script *s = ps->script;
    pt_cmd *grown = realloc(s->cmds, (s->ncmds + 1) * sizeof *grown);
    if (!grown)
        return NULL;
    s->cmds = grown;
    pt_cmd *c = &s->cmds[s->ncmds++];
    memset(c, 0, sizeof *c);
    c->kind = kind;
    c->line = (int)ps->i + 1;
    return c;
}

/* Adds s to list, replacing an entry with the same label set (which is freed). *pos, when
 * given, receives the index the series ended up at. */
static bool put_series(pt_series **list, size_t *n, pt_series *s, size_t *pos)
{
    for (size_t k = 0; k < *n; k++)
        if (pt_labels_compare((*list)[k].labels, (*list)[k].nlabels, s->labels, s->nlabels) == 0) {
            pt_series_free(&(*list)[k]);
            (*list)[k] = *s;
            if (pos)
                *pos = k;
            return true;
        }
    pt_series *grown = realloc(*list, (*n + 1) * sizeof *grown);
    if (!grown)
        return false;
    *list = grown;
    (*list)[*n] = *s;
    if (pos)
        *pos = *n;
    (*n)++;
    return true;
}

/* The line after the current one, or NULL at a blank line or the end (which end a block). */
static const char *next_block_line(parser *ps)
{
    if (ps->i + 1 >= ps->lines.n || ps->lines.v[ps->i + 1][0] == '\0')
        return NULL;
    return ps->lines.v[++ps->i];
}

static bool parse_load(parser *ps, const char *line)
{
    char err[PT_ERR_MAX];
    const char *p = line + 4;
    if (strncmp(line, "load", 4) != 0 || !is_blank(*p))
        return fail(ps, "invalid load command (load <step:duration>)");
    while (is_blank(*p))
        p++;
    pt_cmd *cmd = new_cmd(ps, PT_CMD_LOAD);
    if (!cmd)
        return fail(ps, "out of memory");
    if (!pt_parse_duration(p, strlen(p), &cmd->step_ms))
        return fail(ps, "invalid step definition \"%s\" in load", p);
    const char *def;
    while ((def = next_block_line(ps)) != NULL) {
        pt_series s;
        if (!pt_series_parse(def, &s, err, sizeof err))
            return fail(ps, "%s", err);
        if (!put_series(&cmd->series, &cmd->nseries, &s, NULL)) {
            pt_series_free(&s);
            return fail(ps, "out of memory");
        }
    }
    return true;
}

static size_t span_blank(const char *p)
{
    size_t n = 0;
    while (is_blank(p[n]))
        n++;
    return n;
}

/* Matches test.go's `^eval(?:_(fail|ordered))?\s+instant\s+(?:at\s+(.+?))?\s+(.+)$`: the
 * duration is the first word after "at", the expression the rest of the line. */
static bool parse_eval_header(parser *ps, const char *line, pt_cmd *cmd)
{
    static const char *const invalid = "invalid evaluation command "
                                       "(eval[_fail|_ordered] instant [at <offset:duration>] "
                                       "<query>)";
    const char *p = line + 4;
    if (strncmp(line, "eval", 4) != 0)
        return fail(ps, "%s", invalid);
    cmd->mode = PT_EVAL;
    if (strncmp(p, "_fail", 5) == 0 && is_blank(p[5])) {
        cmd->mode = PT_EVAL_FAIL;
        p += 5;
    } else if (strncmp(p, "_ordered", 8) == 0 && is_blank(p[8])) {
        cmd->mode = PT_EVAL_ORDERED;
        p += 8;
    }
    size_t gap = span_blank(p);
    if (gap == 0 || strncmp(p + gap, "instant", 7) != 0)
        return fail(ps, "%s", invalid);
    p += gap + 7;
    gap = span_blank(p);
    if (gap == 0)
        return fail(ps, "%s", invalid);
    p += gap;
    const char *at = NULL, *expr = NULL;
    size_t at_len = 0;
    if (strncmp(p, "at", 2) == 0 && span_blank(p + 2) > 0) {
        at = p + 2 + span_blank(p + 2);
        while (at[at_len] && !is_blank(at[at_len]))
            at_len++;
        if (at_len > 0 && span_blank(at + at_len) > 0 && at[at_len + span_blank(at + at_len)])
            expr = at + at_len + span_blank(at + at_len);
    }
    if (!expr) {
        /* Without "at <duration>" the pattern still matches when two blanks follow "instant",
         * but with an empty duration, which test.go then refuses. */
        if (gap >= 2 && *p)
            return fail(ps, "invalid step definition \"\": empty duration string");
        return fail(ps, "%s", invalid);
    }
    if (!pt_parse_duration(at, at_len, &cmd->t_ms))
        return fail(ps, "invalid step definition \"%.*s\" in eval", (int)at_len, at);
    cmd->expr = strdup(expr);
    if (!cmd->expr)
        return fail(ps, "out of memory");
    return true;
}

static bool parse_expected(parser *ps, pt_cmd *cmd, const char *def, size_t position)
{
    char err[PT_ERR_MAX];
    pt_series s;
    if (!pt_series_parse(def, &s, err, sizeof err))
        return fail(ps, "%s", err);
    const char *problem = s.nvalues > 1    ? "expecting multiple values in instant evaluation "
                                             "is not allowed"
                          : s.nvalues == 0 ? "an expected series needs its value"
                          : s.omitted[0]   ? "an expected value cannot be \"_\""
                                           : NULL;
    if (problem) {
        pt_series_free(&s);
        return fail(ps, "%s", problem);
    }
    size_t at;
    if (!put_series(&cmd->expected, &cmd->nexpected, &s, &at)) {
        pt_series_free(&s);
        return fail(ps, "out of memory");
    }
    size_t *grown = realloc(cmd->positions, cmd->nexpected * sizeof *grown);
    if (!grown)
        return fail(ps, "out of memory");
    cmd->positions = grown;
    cmd->positions[at] = position; /* a replaced entry takes its later line's place */
    return true;
}

static bool parse_eval(parser *ps, const char *line)
{
    pt_cmd *cmd = new_cmd(ps, PT_CMD_EVAL);
    if (!cmd)
        return fail(ps, "out of memory");
    if (!parse_eval_header(ps, line, cmd))
        return false;
    const char *def;
    for (size_t position = 1; (def = next_block_line(ps)) != NULL; position++) {
        double v;
        if (pt_parse_number(def, strlen(def), &v)) {
            cmd->expects_scalar = true;
            cmd->scalar = v;
            break;
        }
        if (!parse_expected(ps, cmd, def, position))
            return false;
    }
    return true;
}

static bool parse_command(parser *ps)
{
    const char *line = ps->lines.v[ps->i];
    char word[16];
    size_t n = 0;
    while (line[n] && line[n] != ' ' && line[n] != '\t' && n + 1 < sizeof word) {
        word[n] = (char)tolower((unsigned char)line[n]);
        n++;
    }
    word[n] = '\0';
    if (strcmp(word, "clear") == 0 && (line[n] == '\0' || is_blank(line[n])))
        return new_cmd(ps, PT_CMD_CLEAR) ? true : fail(ps, "out of memory");
    if (strcmp(word, "load") == 0 && (line[n] == '\0' || is_blank(line[n])))
        return parse_load(ps, line);
    if (strncmp(word, "eval", 4) == 0)
        return parse_eval(ps, line);
    return fail(ps, "invalid command \"%s\"", line);
}

bool pt_script_parse(const char *text, pt_script *out, int *err_line, char *err, size_t errlen)
{
    memset(out, 0, sizeof *out);
    parser ps = {.script = out, .err_line = err_line, .err = err, .errlen = errlen};
    bool ok = split_lines(text, &ps.lines);
    if (!ok) {
        *err_line = 0;
        snprintf(err, errlen, "out of memory");
    }
    for (ps.i = 0; ok && ps.i < ps.lines.n; ps.i++)
        if (ps.lines.v[ps.i][0] != '\0')
            ok = parse_command(&ps);
    free(ps.lines.v);
    free(ps.lines.text);
    if (!ok)
        pt_script_free(out);
    return ok;
}

void pt_script_free(pt_script *s)
{
    for (size_t i = 0; i < s->ncmds; i++) {
        pt_cmd *c = &s->cmds[i];
        for (size_t k = 0; k < c->nseries; k++)
            pt_series_free(&c->series[k]);
        for (size_t k = 0; k < c->nexpected; k++)
            pt_series_free(&c->expected[k]);
        free(c->series);
        free(c->expected);
        free(c->positions);
        free(c->expr);
    }
    free(s->cmds);
    memset(s, 0, sizeof *s);
}
