/* index.h — the tsdb's inverted index: label name -> label value -> postings (the sorted refs of
 * the series carrying that pair), plus the list of every series.
 *
 *     vigil__tsdb_index *ix;
 *     vigil__tsdb_index_new(0, &ix);
 *     vigil__tsdb_index_add(ix, 1, labels_of_series_1);     // refs strictly increasing
 *     ...
 *     vigil__tsdb_postings out;
 *     vigil__tsdb_postings_init(&out, 0);
 *     vigil__tsdb_index_select(ix, matchers, 2, &out);         // {__name__="up",job=~"api|db"}
 *     ...
 *     vigil__tsdb_index_delete(ix, dropped_refs, n, &removed); // retention, batched
 *
 * Selection follows Prometheus's PostingsForMatchers: matchers are ANDed; a matcher that matches
 * "" also selects the series that lack its label (so {a!="x"} keeps series without `a`,
 * {a=""} selects exactly the series without `a`, {a=~".*"} keeps everything whose `a` has no
 * newline); a selector made only of such matchers starts from every series.
 *
 * Ownership: the index borrows the label sets it is given (and through them the interned
 * strings of their symbol table). A set must stay valid until its series is deleted from the
 * index; the symbol table must outlive the index. Strings handed out (label names, values) are
 * those interned pointers: valid, without any lock, as long as the symbol table lives.
 *
 * Thread-safety: every call may be made from any thread. One reader/writer lock guards the
 * index; add and delete take it exclusively, for the time of a few list appends (add) or of the
 * rebuild of the affected lists (delete). Queries share it: regular expressions are run on a
 * copy of the label's values outside the lock, and the lock is held only while the matching
 * lists are combined into the caller's output. */
#ifndef VIGIL_TSDB_INDEX_H
#define VIGIL_TSDB_INDEX_H

#include <stddef.h>
#include <stdint.h>

#include "tsdb/labels.h"
#include "tsdb/matcher.h"
#include "tsdb/postings.h"
#include "vigil/status.h"

/* Default cap on the series an index holds. */
#define VIGIL__TSDB_INDEX_DEFAULT_MAX_SERIES ((size_t)1 << 26)

typedef struct vigil__tsdb_index vigil__tsdb_index;

/* max_series caps the series held and therefore every list (0: the default). Errors:
 * VIGIL_ENOMEM. */
vigil_status vigil__tsdb_index_new(size_t max_series, vigil__tsdb_index **out);
/* Frees the index (not the label sets it borrowed). NULL is a no-op. No other call may run. */
void vigil__tsdb_index_free(vigil__tsdb_index *ix);

/* Indexes series `ref` with label set ls (built by vigil__tsdb_labels_build: sorted, unique,
 * non-empty values). ref must be greater than every ref in the index, deleted ones aside: the
 * caller hands out increasing refs, so every list stays sorted by appending.
 * Errors: VIGIL_EINVAL (ref not increasing, NULL set), VIGIL_ELIMIT (max_series reached),
 * VIGIL_ENOMEM. On error the index is unchanged. */
vigil_status vigil__tsdb_index_add(vigil__tsdb_index *ix, uint32_t ref,
                                   const vigil__tsdb_labels *ls);

/* Removes the series refs[0..n) (any order, duplicates and unknown refs ignored) and every
 * value and name left without series. Each affected list is rebuilt once per call, so dropping
 * many series in one call costs about one pass over the lists they touch. *removed (may be
 * NULL) receives how many series were removed. Errors: VIGIL_ENOMEM (index unchanged). */
vigil_status vigil__tsdb_index_delete(vigil__tsdb_index *ix, const uint32_t *refs, size_t n,
                                      size_t *removed);

/* out = the refs of the series matching every matcher, sorted (previous contents replaced;
 * n == 0 selects every series). Errors: VIGIL_ELIMIT (out's cap), VIGIL_ENOMEM. */
vigil_status vigil__tsdb_index_select(vigil__tsdb_index *ix, const vigil__tsdb_matcher *const *ms,
                                      size_t n, vigil__tsdb_postings *out);

/* The label names (sorted) of the series matching the matchers (every series when n == 0).
 * *names is a NULL-terminated array of *count interned strings, allocated with the vigil
 * allocator: free the array (not the strings) with vigil__free. Errors: VIGIL_ENOMEM. */
vigil_status vigil__tsdb_index_label_names(vigil__tsdb_index *ix,
                                           const vigil__tsdb_matcher *const *ms, size_t n,
                                           const char ***names, size_t *count);
/* The values (sorted) label `name` takes over the series matching the matchers (every series
 * when n == 0). Same ownership as label_names. Errors: VIGIL_EINVAL (NULL name), VIGIL_ENOMEM. */
vigil_status vigil__tsdb_index_label_values(vigil__tsdb_index *ix, const char *name,
                                            const vigil__tsdb_matcher *const *ms, size_t n,
                                            const char ***values, size_t *count);

typedef struct vigil__tsdb_index_stats {
    size_t series;   /* series indexed */
    size_t names;    /* distinct label names */
    size_t pairs;    /* distinct (name, value) pairs, i.e. postings lists */
    size_t postings; /* entries over all lists, the all-series list excluded */
    size_t memory;   /* bytes the index itself holds (not the label sets or strings) */
} vigil__tsdb_index_stats;
void vigil__tsdb_index_get_stats(vigil__tsdb_index *ix, vigil__tsdb_index_stats *out);

#endif
