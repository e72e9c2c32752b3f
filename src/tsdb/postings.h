/* postings.h — sorted lists of series refs (uint32, strictly increasing) and the set algebra the
 * index answers selectors with: intersection of many lists, k-way union, difference.
 *
 * Inputs are read-only views (vigil__tsdb_plist), so the index can combine its own lists in
 * place under its read lock; results go into a growable vigil__tsdb_postings whose cap stops a
 * runaway query with VIGIL_ELIMIT. An output never aliases an input.
 *
 * Thread-safety: none inside; a list belongs to one thread at a time, views may be shared by
 * readers as long as nobody writes the viewed array. */
#ifndef VIGIL_TSDB_POSTINGS_H
#define VIGIL_TSDB_POSTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "vigil/status.h"

/* Default cap on one list: far beyond the store's series cap, small enough to stop a runaway. */
#define VIGIL__TSDB_POSTINGS_DEFAULT_MAX ((size_t)1 << 28)

/* A read-only view of a sorted list. */
typedef struct vigil__tsdb_plist {
    const uint32_t *refs;
    size_t len;
} vigil__tsdb_plist;

/* A growable sorted list; the caller owns the struct. */
typedef struct vigil__tsdb_postings {
    uint32_t *refs;
    size_t len;
    size_t cap; /* allocated entries */
    size_t max; /* the list never holds more; 0 at init means VIGIL__TSDB_POSTINGS_DEFAULT_MAX */
} vigil__tsdb_postings;

/* Empties *p and sets its cap on entries. */
void vigil__tsdb_postings_init(vigil__tsdb_postings *p, size_t max);
/* Releases the entries; *p may be reused after init. NULL is a no-op. */
void vigil__tsdb_postings_free(vigil__tsdb_postings *p);
/* The list as a view. */
vigil__tsdb_plist vigil__tsdb_postings_view(const vigil__tsdb_postings *p);
/* Makes room for `extra` more entries. Errors: VIGIL_ELIMIT, VIGIL_ENOMEM (list unchanged). */
vigil_status vigil__tsdb_postings_reserve(vigil__tsdb_postings *p, size_t extra);
/* Appends ref, which must be greater than the last entry.
 * Errors: VIGIL_EINVAL (not increasing), VIGIL_ELIMIT, VIGIL_ENOMEM. */
vigil_status vigil__tsdb_postings_append(vigil__tsdb_postings *p, uint32_t ref);
/* Replaces *p's contents with a copy of src. Errors: VIGIL_ELIMIT, VIGIL_ENOMEM. */
vigil_status vigil__tsdb_postings_assign(vigil__tsdb_postings *p, vigil__tsdb_plist src);

/* True when ref is in the list (binary search). */
bool vigil__tsdb_plist_contains(vigil__tsdb_plist l, uint32_t ref);
/* True when the view is strictly increasing (for assertions and tests). */
bool vigil__tsdb_plist_is_sorted(vigil__tsdb_plist l);

/* out = lists[0] ∩ ... ∩ lists[n-1]; n == 0 gives the empty list. Smallest list first, each next
 * one merged linearly or, when much longer than the running result, galloped through.
 * Errors: VIGIL_ELIMIT, VIGIL_ENOMEM. */
vigil_status vigil__tsdb_postings_intersect(const vigil__tsdb_plist *lists, size_t n,
                                            vigil__tsdb_postings *out);
/* out = lists[0] ∪ ... ∪ lists[n-1], each ref once (a heap merge of the n lists).
 * Errors: VIGIL_ELIMIT, VIGIL_ENOMEM. */
vigil_status vigil__tsdb_postings_union(const vigil__tsdb_plist *lists, size_t n,
                                        vigil__tsdb_postings *out);
/* out = a \ b. Errors: VIGIL_ELIMIT, VIGIL_ENOMEM. */
vigil_status vigil__tsdb_postings_subtract(vigil__tsdb_plist a, vigil__tsdb_plist b,
                                           vigil__tsdb_postings *out);
/* Removes from refs[0..len), in place, every ref in del; returns the new length. Never fails
 * (the index uses it on its own compact lists while deleting series). */
size_t vigil__tsdb_refs_remove(uint32_t *refs, size_t len, vigil__tsdb_plist del);

#endif
