/* labels.h — series identity for the tsdb: a symbol table that interns every label name and
 * value once, and label sets built on it (sorted arrays of interned pointer pairs).
 *
 *     vigil__tsdb_symtab *syms;
 *     vigil__tsdb_symtab_new(0, &syms);                      // default cap on interned bytes
 *     vigil_label in[] = {{"job", "api"}, {"__name__", "up"}, {"zone", ""}};
 *     vigil__tsdb_labels *ls;
 *     vigil__tsdb_labels_build(syms, in, 3, &ls);            // {__name__="up", job="api"}
 *     uint64_t h = vigil__tsdb_labels_hash(ls);               // same in every process
 *     ...
 *     vigil__tsdb_labels_free(ls);
 *     vigil__tsdb_symtab_free(syms);                          // after every set built on it
 *
 * Rules (Prometheus's): names unique, sorted by byte order; a label with an empty value is the
 * same as no label and is dropped; label names match [a-zA-Z_][a-zA-Z0-9_]*, the value of
 * __name__ matches [a-zA-Z_:][a-zA-Z0-9_:]*, values are valid UTF-8.
 *
 * Interned strings never move and are never freed before the table: a `const char *` taken from
 * it stays valid, without any lock, until vigil__tsdb_symtab_free. The table only grows; an owner
 * that churns through many distinct values rebuilds it (new table, re-intern the live sets). */
#ifndef VIGIL_TSDB_LABELS_H
#define VIGIL_TSDB_LABELS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/buffer.h"
#include "vigil/metrics.h" /* vigil_label: (name, value) pairs as the public API takes them */
#include "vigil/status.h"

/* Longest label name or value accepted, in bytes. */
#define VIGIL__TSDB_LABEL_MAX_LEN ((size_t)65535)
/* Most labels in one set (__name__ included). */
#define VIGIL__TSDB_LABELS_MAX 256
/* Default cap on the bytes a symbol table may intern (strings plus terminators). */
#define VIGIL__TSDB_SYMTAB_DEFAULT_MAX ((size_t)1 << 30)

/* ---- symbol table ----------------------------------------------------------------------------
 * Thread-safety: lookups run concurrently (a read lock); an intern of a new string takes the
 * write lock for the insert only. Every call may be made from any thread. */
typedef struct vigil__tsdb_symtab vigil__tsdb_symtab;

/* max_bytes caps the interned bytes (0: VIGIL__TSDB_SYMTAB_DEFAULT_MAX).
 * Errors: VIGIL_ENOMEM. */
vigil_status vigil__tsdb_symtab_new(size_t max_bytes, vigil__tsdb_symtab **out);
/* Frees the table and every string in it. NULL is a no-op. No other call may run on it. */
void vigil__tsdb_symtab_free(vigil__tsdb_symtab *t);
/* The interned copy of s[0..len) (NUL-terminated), inserting it when new.
 * Errors: VIGIL_ELIMIT (table full, or len above VIGIL__TSDB_LABEL_MAX_LEN), VIGIL_ENOMEM. */
vigil_status vigil__tsdb_symtab_intern(vigil__tsdb_symtab *t, const char *s, size_t len,
                                       const char **out);
/* The interned copy of s[0..len), or NULL when it was never interned. Never allocates. */
const char *vigil__tsdb_symtab_find(vigil__tsdb_symtab *t, const char *s, size_t len);

typedef struct vigil__tsdb_symtab_stats {
    size_t strings; /* distinct strings interned */
    size_t bytes;   /* their bytes, terminators included */
    size_t memory;  /* everything the table holds: string blocks and hash slots */
} vigil__tsdb_symtab_stats;
void vigil__tsdb_symtab_get_stats(vigil__tsdb_symtab *t, vigil__tsdb_symtab_stats *out);

/* ---- label sets ------------------------------------------------------------------------------
 * One allocation per set: a count and the sorted pairs, both strings interned (16 bytes per
 * label plus 8). Immutable once built, so any number of threads may read one. */
typedef struct vigil__tsdb_label {
    const char *name;
    const char *value;
} vigil__tsdb_label;

typedef struct vigil__tsdb_labels {
    uint32_t n;
    vigil__tsdb_label l[]; /* sorted by name, names unique, values never empty */
} vigil__tsdb_labels;

/* Validates n (name, value) pairs in any order, drops the empty-valued ones, sorts them and
 * interns the strings into t. *out is a new set (free with vigil__tsdb_labels_free).
 * Errors, each with a message naming the label: VIGIL_EINVAL (NULL name or value, value not
 * UTF-8), VIGIL_ENAME (name or metric name breaking the rules), VIGIL_ELABELS (a name given
 * twice), VIGIL_ELIMIT (more than VIGIL__TSDB_LABELS_MAX labels, a string too long, table full),
 * VIGIL_ENOMEM. */
vigil_status vigil__tsdb_labels_build(vigil__tsdb_symtab *t, const vigil_label *pairs, size_t n,
                                      vigil__tsdb_labels **out);
/* A copy of ls (same interned pointers). Errors: VIGIL_ENOMEM. */
vigil_status vigil__tsdb_labels_clone(const vigil__tsdb_labels *ls, vigil__tsdb_labels **out);
void vigil__tsdb_labels_free(vigil__tsdb_labels *ls);

/* The value of label `name` in ls, or NULL when ls has no such label. */
const char *vigil__tsdb_labels_get(const vigil__tsdb_labels *ls, const char *name);
/* A 64-bit hash of the strings (not the pointers): the same set hashes the same in every table
 * and every process run, so it may be persisted. */
uint64_t vigil__tsdb_labels_hash(const vigil__tsdb_labels *ls);
/* Prometheus's labels.Compare: pairwise by name, then value (byte order), then the shorter set
 * first. <0, 0 or >0. */
int vigil__tsdb_labels_compare(const vigil__tsdb_labels *a, const vigil__tsdb_labels *b);
/* True when both sets hold the same pairs. Pointer compare first, so sets from one table are
 * compared without touching the strings. */
bool vigil__tsdb_labels_equal(const vigil__tsdb_labels *a, const vigil__tsdb_labels *b);
/* Appends `name{a="b",c="d"}` (values escaped as in the text exposition: \\, \" and \n), the
 * bare name when it is the only label, `{a="b"}` without __name__, `{}` for an empty set.
 * Errors: VIGIL_ELIMIT (out's cap), VIGIL_ENOMEM. */
vigil_status vigil__tsdb_labels_format(const vigil__tsdb_labels *ls, vigil_buffer *out);

/* Name rules, shared with the matcher and anything parsing selectors. */
bool vigil__tsdb_label_name_valid(const char *s, size_t len);
bool vigil__tsdb_metric_name_valid(const char *s, size_t len);

#endif
