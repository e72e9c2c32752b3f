/* omparse.h — the tsdb's reader of OpenMetrics 1.0 text with timestamps, the format
 * `promtool tsdb create-blocks-from openmetrics` imports. A streaming, callback-driven parser:
 * it builds nothing, so memory stays bounded by the caps below whatever the input size, and the
 * caller decides what a sample becomes (the importer appends it to the head).
 *
 * What is accepted is what Prometheus 2.42's textparse.OpenMetricsParser plus promtool's
 * backfill accept, with the exceptions listed at the end:
 *
 *   # TYPE <name> <counter|gauge|histogram|gaugehistogram|summary|info|stateset|unknown>
 *   # HELP <name> <text, escapes \\ \" \n>
 *   # UNIT <name> <unit; when not empty the name must end with "_" unit>
 *   <name>[{<label>="<value>"[,...]}] <value> <timestamp>[ # {<labels>} <value>[ <ts>]]
 *   # EOF                                  (required, last; nothing may follow it)
 *
 * Separators are exactly one space; lines end with "\n". Names follow the Prometheus rules
 * ([a-zA-Z_:][a-zA-Z0-9_:]* for metrics, [a-zA-Z_][a-zA-Z0-9_]* for labels). Label values and
 * HELP text must be valid UTF-8; in them `\\`, `\"` and `\n` are unescaped and any other
 * backslash pair is kept as written (as Prometheus and prometheus_client both do).
 *
 * Numbers are Go's strconv.ParseFloat syntax as Prometheus restricts it: decimal with optional
 * sign, fraction and exponent; inf/infinity (with sign) and nan (without), case-insensitive; no
 * hex, no underscores. Conversion is correctly rounded (the same double as strtod). A value that
 * overflows (1e400) is an error, as in Go; underflow gives 0 or a subnormal. Every NaN becomes
 * Prometheus's canonical NaN, bits 0x7ff8000000000001 (value.NormalNaN, also Go's math.NaN()).
 *
 * Timestamps are float seconds, converted exactly as textparse does: t_ms = int64(ts * 1000),
 * i.e. the product rounded to a double, then truncated toward zero (so "1.0019" is 1001 ms and
 * "1.001" is 1000 ms, because 1.001 is stored as 1.000999...).
 *
 * Where this parser is stricter than Prometheus, with the reason:
 *   - a sample without a timestamp is an error: promtool's backfill rejects it too ("expected
 *     timestamp for series got none"), and no default time would be right for an import;
 *   - the same label name twice in one sample is an error (Prometheus's appender refuses it);
 *   - a timestamp whose milliseconds do not fit in int64 is an error (Go would wrap silently);
 *   - NUL bytes are refused everywhere, because label values become C strings in the store.
 * Not checked (no effect on what is stored): the order of metadata and families, suffixes
 * matching the TYPE, histogram bucket consistency, the 128-character exemplar limit.
 * Exemplars are checked for syntax, counted and otherwise skipped. Lines in the Prometheus text
 * format that OpenMetrics does not allow (blank lines, `# free comments`, `untyped`, tabs or
 * several spaces, CRLF, no `# EOF`) fail with a message saying so. Integer millisecond
 * timestamps (Prometheus text style) cannot be told from seconds and are read as seconds.
 *
 * Errors are VIGIL_EINVAL (syntax, values, timestamps), VIGIL_ENAME (a metric or label name),
 * VIGIL_ELABELS (duplicate label name), VIGIL_ELIMIT (a cap below), VIGIL_ENOMEM, VIGIL_EIO (the
 * file functions), or whatever status a callback returned (passed through, message untouched).
 * The parser's own messages start with the 1-based line: `line 12: invalid label name "1a"`.
 *
 * Thread-safety: a parser object is used by one thread at a time; distinct parsers and the
 * one-shot functions are independent. Callbacks run on the calling thread. */
#ifndef VIGIL_TSDB_OMPARSE_H
#define VIGIL_TSDB_OMPARSE_H

#include <stddef.h>
#include <stdint.h>

#include "vigil/status.h"

/* Longest accepted line in bytes, newline excluded: bounds the carry-over buffer of the
 * streaming parser and the scratch buffer for unescaped text. Far above any real series. */
#define VIGIL__TSDB_OM_MAX_LINE ((size_t)1 << 20)
/* Most label pairs in one sample (and in one exemplar). */
#define VIGIL__TSDB_OM_MAX_LABELS 256u
/* The NaN every parsed NaN becomes (Prometheus value.NormalNaN). */
#define VIGIL__TSDB_OM_NAN_BITS UINT64_C(0x7ff8000000000001)

typedef struct vigil__tsdb_om_label {
    const char *name;
    size_t name_len;
    const char *value; /* unescaped */
    size_t value_len;
} vigil__tsdb_om_label;

/* One sample. Strings are not NUL-terminated; they point into the input or into the parser's
 * scratch and are valid during the callback only. Labels are in written order, not sorted. */
typedef struct vigil__tsdb_om_sample {
    const char *name; /* as written, suffix included: foo_total, foo_bucket */
    size_t name_len;
    const vigil__tsdb_om_label *labels;
    size_t nlabels;
    double value;
    int64_t t_ms;
    uint64_t line;
} vigil__tsdb_om_sample;

typedef enum vigil__tsdb_om_meta_kind {
    VIGIL__TSDB_OM_META_TYPE,
    VIGIL__TSDB_OM_META_HELP,
    VIGIL__TSDB_OM_META_UNIT,
} vigil__tsdb_om_meta_kind;

typedef enum vigil__tsdb_om_type {
    VIGIL__TSDB_OM_UNKNOWN,
    VIGIL__TSDB_OM_COUNTER,
    VIGIL__TSDB_OM_GAUGE,
    VIGIL__TSDB_OM_HISTOGRAM,
    VIGIL__TSDB_OM_GAUGEHISTOGRAM,
    VIGIL__TSDB_OM_SUMMARY,
    VIGIL__TSDB_OM_INFO,
    VIGIL__TSDB_OM_STATESET,
} vigil__tsdb_om_type;

/* One `# TYPE`, `# HELP` or `# UNIT` line; same lifetime rules as a sample. */
typedef struct vigil__tsdb_om_meta {
    vigil__tsdb_om_meta_kind kind;
    const char *name; /* the family name */
    size_t name_len;
    const char *text; /* HELP: unescaped text; UNIT: the unit; TYPE: the type word */
    size_t text_len;
    vigil__tsdb_om_type type; /* TYPE only (VIGIL__TSDB_OM_UNKNOWN otherwise) */
    uint64_t line;
} vigil__tsdb_om_meta;

/* Either callback may be NULL. A callback that returns anything but VIGIL_OK stops the parse;
 * that status is returned. */
typedef struct vigil__tsdb_om_handlers {
    vigil_status (*on_meta)(void *user, const vigil__tsdb_om_meta *meta);
    vigil_status (*on_sample)(void *user, const vigil__tsdb_om_sample *sample);
} vigil__tsdb_om_handlers;

typedef struct vigil__tsdb_om_stats {
    uint64_t bytes;     /* input bytes consumed */
    uint64_t lines;     /* lines parsed, # EOF included */
    uint64_t samples;   /* samples passed to on_sample */
    uint64_t meta;      /* TYPE, HELP and UNIT lines */
    uint64_t exemplars; /* exemplars checked and skipped */
    int64_t t_min_ms;   /* smallest and largest sample timestamp; 0 when samples == 0 */
    int64_t t_max_ms;
} vigil__tsdb_om_stats;

/* --- streaming: feed any split of the input, then finish ------------------------------------ */

typedef struct vigil__tsdb_om_parser vigil__tsdb_om_parser;

/* handlers is copied. VIGIL_EINVAL (handlers NULL), VIGIL_ENOMEM. */
vigil_status vigil__tsdb_om_parser_new(const vigil__tsdb_om_handlers *handlers, void *user,
                                       vigil__tsdb_om_parser **out);
/* Parses every complete line of data; an unfinished last line is kept (up to the line cap) and
 * completed by the next feed. After a failure every later call returns VIGIL_ESTATE. */
vigil_status vigil__tsdb_om_parser_feed(vigil__tsdb_om_parser *p, const char *data, size_t len);
/* The end of input: fails unless the input ended with `# EOF` (with or without a newline). */
vigil_status vigil__tsdb_om_parser_finish(vigil__tsdb_om_parser *p);
/* Counters so far; never NULL. */
const vigil__tsdb_om_stats *vigil__tsdb_om_parser_stats(const vigil__tsdb_om_parser *p);
/* NULL is a no-op. */
void vigil__tsdb_om_parser_free(vigil__tsdb_om_parser *p);

/* --- one shot -------------------------------------------------------------------------------- */

/* The whole input in memory (need not be NUL-terminated). stats may be NULL. */
vigil_status vigil__tsdb_om_parse(const char *text, size_t len,
                                  const vigil__tsdb_om_handlers *handlers, void *user,
                                  vigil__tsdb_om_stats *stats);
/* A file: memory-mapped when it is a regular file, read in 1 MiB blocks otherwise (a pipe,
 * /dev/stdin). VIGIL_EIO names the path and the system error. stats may be NULL. */
vigil_status vigil__tsdb_om_parse_file(const char *path, const vigil__tsdb_om_handlers *handlers,
                                       void *user, vigil__tsdb_om_stats *stats);

#endif
