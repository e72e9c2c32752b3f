/* promql_test_run.c — a parsed script run against a store: `load` appends its series, `clear`
 * starts over with an empty store, `eval` is checked (promql_test_eval.c) and reported.
 *
 * The store is an in-memory vigil_tsdb without a background thread (nothing is sealed or
 * expired behind the script's back) and without retention, since scripts place samples
 * anywhere from time 0 on. A load's samples sit at step × i milliseconds from time 0, as in
 * test.go. test.go stops a file at its first failure; here every eval is run and every failing
 * one gets its line, so a run shows all that is wrong. A load the store refuses is reported
 * and counted as a failure too (Prometheus's storage would have refused it as well, or the
 * store is wrong), and the evals after it still run. */
#include <stdlib.h>
#include <string.h>

#include "promql_test.h"

static vigil_status open_store(vigil_tsdb **db)
{
    vigil_tsdb_options o;
    vigil_tsdb_options_init(&o);
    o.background = false;
    o.retention_ms = 0;
    return vigil_tsdb_open(&o, db);
}

/* Appends one series' samples; false with the reason in why at the first refusal. */
static bool load_series(vigil_tsdb *db, const pt_series *s, int64_t step_ms, FILE *why)
{
    for (size_t i = 0; i < s->nvalues; i++) {
        if (s->omitted[i])
            continue;
        int64_t t = (int64_t)i * step_ms;
        vigil_status st = vigil_tsdb_append(db, s->labels, s->nlabels, t, s->values[i]);
        if (st) {
            const char *msg = vigil_errmsg();
            pt_labels_print(why, s->labels, s->nlabels);
            fprintf(why, " at %lld ms: %s", (long long)t, msg[0] ? msg : vigil_strerror(st));
            return false;
        }
    }
    return true;
}

static bool run_load(vigil_tsdb *db, const pt_cmd *load, FILE *why)
{
    for (size_t k = 0; k < load->nseries; k++)
        if (!load_series(db, &load->series[k], load->step_ms, why))
            return false;
    return true;
}

/* Runs one load or eval, printing its failure line; returns whether it passed. */
static bool run_checked(vigil_tsdb *db, const pt_cmd *cmd, const char *file, FILE *out)
{
    char *text = NULL;
    size_t len = 0;
    FILE *why = open_memstream(&text, &len);
    if (!why) {
        fprintf(out, "%s:%d: out of memory\n", file, cmd->line);
        return false;
    }
    bool ok = cmd->kind == PT_CMD_LOAD ? run_load(db, cmd, why) : pt_eval_run(db, cmd, why);
    fclose(why);
    if (!ok)
        fprintf(out, "%s:%d: %s: %s\n", file, cmd->line,
                cmd->kind == PT_CMD_LOAD ? "load" : cmd->expr, text);
    free(text);
    return ok;
}

void pt_script_run(const pt_script *script, const char *file, FILE *out, pt_totals *totals)
{
    vigil_tsdb *db = NULL;
    vigil_status st = open_store(&db);
    for (size_t i = 0; i < script->ncmds; i++) {
        const pt_cmd *cmd = &script->cmds[i];
        if (cmd->kind == PT_CMD_CLEAR) {
            vigil_tsdb_close(db);
            db = NULL;
            st = open_store(&db);
            continue;
        }
        if (st) {
            fprintf(out, "%s:%d: cannot open an in-memory store: %s\n", file, cmd->line,
                    vigil_strerror(st));
            totals->failed++;
            continue;
        }
        bool ok = run_checked(db, cmd, file, out);
        if (cmd->kind == PT_CMD_EVAL)
            ok ? totals->passed++ : totals->failed++;
        else if (!ok)
            totals->failed++;
    }
    vigil_tsdb_close(db);
}
