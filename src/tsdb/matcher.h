/* matcher.h — compiled label matchers (`name="v"`, `!=`, `=~`, `!~`) with Prometheus 2.42's
 * semantics:
 *
 * - Regexes are fully anchored: `foo` matches "foo" only, never "foobar" (the pattern is run
 *   as \A(?:re)\z, the same wrapping Prometheus gives Go's regexp, quirks included).
 * - Syntax is Go's RE2 subset: PCRE-only constructs (backreferences, lookaround, atomic groups,
 *   possessive quantifiers, \K, \R, \h, \Z, verbs, recursion, comments) are refused, as Go would.
 *   `.` does not match "\n" unless (?s) is given; `$` is the end of the text, never before a
 *   final newline; \d, \w, \s, \b are ASCII; (?i) folds Unicode; patterns and values are UTF-8.
 * - A label a series lacks has the value "": a matcher that matches "" also selects series
 *   without the label (see vigil__tsdb_matcher_matches_empty).
 *
 * Matching allocates nothing after a thread's first regex match (each thread keeps one PCRE2
 * match-data block), uses PCRE2's JIT when the platform has it, and is bounded: a pattern that
 * makes the backtracking engine exceed its step limit is re-run with PCRE2's DFA engine, so a
 * hostile regex costs time proportional to the value, not exponential in it.
 *
 * Thread-safety: a matcher is immutable after vigil__tsdb_matcher_new; any number of threads
 * may match with it at once. */
#ifndef VIGIL_TSDB_MATCHER_H
#define VIGIL_TSDB_MATCHER_H

#include <stdbool.h>
#include <stddef.h>

#include "vigil/status.h"
#include "vigil/tsdb.h" /* vigil_match_type */

/* Longest regex accepted (Grafana's multi-value variables make long alternations). */
#define VIGIL__TSDB_REGEX_MAX_LEN ((size_t)1 << 20)

typedef struct vigil__tsdb_matcher vigil__tsdb_matcher;

/* Compiles a matcher; name and value are copied.
 * Errors: VIGIL_EINVAL (NULL name or value, unknown type, a bad regex: the message names the
 * pattern, the reason and the offset in the pattern, e.g.
 * `regex "a(b": missing closing parenthesis at offset 3`), VIGIL_ELIMIT (regex too long),
 * VIGIL_ENOMEM. */
vigil_status vigil__tsdb_matcher_new(vigil_match_type type, const char *name, const char *value,
                                     vigil__tsdb_matcher **out);
void vigil__tsdb_matcher_free(vigil__tsdb_matcher *m);

vigil_match_type vigil__tsdb_matcher_type(const vigil__tsdb_matcher *m);
const char *vigil__tsdb_matcher_name(const vigil__tsdb_matcher *m);
const char *vigil__tsdb_matcher_value(const vigil__tsdb_matcher *m);

/* Does the label value v (NUL-terminated; "" for a label the series lacks) satisfy m? A value
 * that is not valid UTF-8 never matches a regex (=~ false, !~ true). */
bool vigil__tsdb_matcher_matches(const vigil__tsdb_matcher *m, const char *v);
/* m matches "" — so it also selects every series without the label. */
bool vigil__tsdb_matcher_matches_empty(const vigil__tsdb_matcher *m);
/* True when the matcher's positive form is membership in a finite set of literal values:
 * `=` and `!=` (the one value), `=~` and `!~` with a pattern like `GET|POST|PUT` (escaped
 * metacharacters allowed, optionally inside one group). Then m matches v exactly when
 * (v is in the set) != (m is a negative matcher). *values is sorted, without duplicates, owned
 * by m. The index looks such matchers up directly instead of testing every value. */
bool vigil__tsdb_matcher_literals(const vigil__tsdb_matcher *m, const char *const **values,
                                  size_t *n);

#endif
