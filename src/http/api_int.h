/* api_int.h — what the files of the Prometheus query API share (api_*.c): the handle, the
 * parameter grammar of Prometheus 2.42 (api_params.c), its JSON dialect (api_json.c), match[]
 * selectors (api_selector.c), the request/response plumbing (api_respond.c) and the handlers
 * (api_query.c, api_series.c, api_routes.c).
 *
 * Prometheus is written in Go, and clients (Grafana, promtool, scripts written against a real
 * Prometheus) see Go's behaviour at the edges: which strings parse as a float, how a time before
 * 1970 rounds to milliseconds, how a value of 1e-7 or a label holding '<' is written. Each of
 * those is reproduced here on purpose and says so where it is done. */
#ifndef VIGIL_HTTP_API_INT_H
#define VIGIL_HTTP_API_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "http/http_int.h"
#include "vigil/promql.h"
#include "vigil/tsdb.h"

/* Immutable after vigil_query_api_new; shared by every server thread. */
struct vigil_query_api {
    vigil_tsdb *db;            /* not owned */
    vigil_promql_options opts; /* opts.timeout_ms caps every request's timeout (0: no cap) */
};

/* ---- api_params.c: parameters as Go and Prometheus parse them --------------------------- */

/* An instant as Go's time.Time holds it: seconds since the epoch and nanoseconds in
 * [0, 1e9). Arithmetic on sec wraps as Go's int64 does; Prometheus relies on that for absurd
 * inputs and so do we. */
typedef struct vigil__api_time {
    int64_t sec;
    int32_t nsec;
} vigil__api_time;

/* Go's strconv.ParseFloat(s, 64) == nil: decimal or hexadecimal (with a p exponent) floats,
 * '_' between digits, "inf"/"infinity"/"nan" in any case, nothing around it; an overflow is a
 * failure. */
bool vigil__api_parse_float(const char *s, double *out);

/* Prometheus's parseTime: Unix seconds as a float (rounded to the millisecond) or RFC 3339
 * with an optional fraction of up to 9 digits and a Z or ±hh:mm offset. */
bool vigil__api_parse_time(const char *s, vigil__api_time *out);

typedef enum vigil__api_dur_result {
    VIGIL__API_DUR_OK = 0,
    VIGIL__API_DUR_BAD,      /* "cannot parse %q to a valid duration" */
    VIGIL__API_DUR_OVERFLOW, /* "... It overflows int64" (float seconds out of range) */
} vigil__api_dur_result;

/* Prometheus's parseDuration: float seconds, or a Prometheus duration ("1h30m", "500ms", "0").
 * *ns receives Go's time.Duration (nanoseconds). */
vigil__api_dur_result vigil__api_parse_duration(const char *s, int64_t *ns);

/* The wall clock now. */
vigil__api_time vigil__api_time_now(void);
/* timestamp.FromTime: what the store is asked for (series, labels). */
int64_t vigil__api_time_ms(vigil__api_time t);
/* t.UnixNano() / 1e6: what the query engine evaluates at. The two differ only before 1970 and
 * for times Go cannot hold in nanoseconds. */
int64_t vigil__api_time_engine_ms(vigil__api_time t);
/* <0, 0, >0 as a is before, equal to, after b. */
int vigil__api_time_cmp(vigil__api_time a, vigil__api_time b);
/* a.Sub(b) in nanoseconds, saturated as Go's Time.Sub saturates. */
int64_t vigil__api_time_sub(vigil__api_time a, vigil__api_time b);
/* The instants of Prometheus's minTime and maxTime, the defaults of start and end. */
vigil__api_time vigil__api_time_min(void);
vigil__api_time vigil__api_time_max(void);

/* Go's strconv.Atoi == nil (optional sign, decimal digits, within int64). */
bool vigil__api_parse_int(const char *s, int64_t *out);
/* model.LabelNameRE: [a-zA-Z_][a-zA-Z0-9_]*. */
bool vigil__api_label_name_valid(const char *s);

/* ---- api_json.c: Go's encoding/json as Prometheus's API uses it ------------------------- */

/* A quoted JSON string escaped as Go escapes it: \" \\ \n \r \t, other control bytes as
 * \u00XX, '<' '>' '&' and U+2028/U+2029 as \u escapes, invalid UTF-8 as \ufffd. */
vigil_status vigil__api_json_string(vigil_buffer *out, const char *s);
/* A millisecond timestamp as Prometheus writes it: seconds, and ".mmm" when not whole. */
vigil_status vigil__api_json_time(vigil_buffer *out, int64_t ms);
/* A sample value as Prometheus writes it: a quoted Go float, exponent form below 1e-6 and from
 * 1e21 on, "NaN", "+Inf", "-Inf". */
vigil_status vigil__api_json_value(vigil_buffer *out, double v);
/* {"name":"value",...} with names in byte order, as Go writes a map. */
vigil_status vigil__api_json_labels(vigil_buffer *out, const vigil_label *labels, size_t n);
/* {"resultType":"...","result":...} of a query result. A scalar or string result is written
 * [seconds,"v"] as Go's encoding/json writes a float pair, with the value of a scalar in
 * positional notation; vectors and matrices use the point format above. */
vigil_status vigil__api_json_result(vigil_buffer *out, const vigil_promql_result *r);
/* Go's strconv.Quote, for parameter values inside error messages. */
vigil_status vigil__api_go_quote(vigil_buffer *out, const char *s);

/* ---- api_selector.c: match[] ------------------------------------------------------------- */

/* The matcher sets of every match[] value, parsed as Prometheus's ParseMetricSelector does. */
typedef struct vigil__api_selectors {
    struct vigil__api_selector *sets;
    size_t n;
} vigil__api_selectors;

typedef struct vigil__api_selector {
    vigil_matcher *matchers;
    size_t n;
    void *arena;     /* owns the matchers' strings */
    bool only_empty; /* every matcher matches "" (the PromQL parser refuses such a selector
                           in a query, so matchers is NULL) */
} vigil__api_selector;

/* Parses each of values[0..n). On a malformed selector or one whose every matcher matches the
 * empty string, returns VIGIL_EINVAL with Prometheus's message in *msg (without the
 * `invalid parameter` prefix, which depends on the endpoint). VIGIL_ENOMEM otherwise. */
vigil_status vigil__api_selectors_parse(const char *const *values, size_t n,
                                        vigil__api_selectors *out, vigil_buffer *msg);
void vigil__api_selectors_free(vigil__api_selectors *s);

/* ---- api_respond.c: request arguments and responses ------------------------------------- */

/* Go's r.FormValue: the first value in the form body, else in the URL; NULL when absent. */
const char *vigil__api_arg(const vigil_http_request *req, const char *name);
/* Every value of name, form body first then URL (Go's r.Form[name]). *values is allocated with
 * vigil__malloc (NULL when there are none) and the strings belong to the request. */
vigil_status vigil__api_args(const vigil_http_request *req, const char *name, const char ***values,
                             size_t *n);

/* Reads the time parameter `name` into *out. When it is absent or empty, dflt (if not NULL)
 * is taken, as Prometheus's parseTimeParam does, and a malformed value is reported as
 * "Invalid time value for '<name>': cannot parse ..."; with dflt NULL the value is required
 * and reported as parseTime does. On failure msg holds the text that follows
 * `invalid parameter "<name>": `. */
bool vigil__api_time_param(const vigil_http_request *req, const char *name,
                           const vigil__api_time *dflt, vigil__api_time *out, vigil_buffer *msg);
/* Parses a duration parameter's value; on failure msg holds Prometheus's text
 * (`cannot parse "x" to a valid duration`). */
bool vigil__api_duration_param(const char *value, int64_t *ns, vigil_buffer *msg);

/* Starts a success response: body is initialised and holds {"status":"success","data": —
 * append the data, then send it with vigil__api_send_data. */
vigil_status vigil__api_data_begin(vigil_buffer *body);
/* Closes and sends what vigil__api_data_begin started (body's bytes are taken). */
vigil_status vigil__api_send_data(const vigil_http_request *req, vigil_http_response *resp,
                                  vigil_buffer *body);
/* Sends {"status":"error","errorType":"...","error":"<msg>"} with the HTTP code Prometheus
 * gives the type (400, 422, 503, 500). */
vigil_status vigil__api_send_error(const vigil_http_request *req, vigil_http_response *resp,
                                   vigil_promql_error_type type, const char *msg);
/* vigil__api_send_error of `invalid parameter "<param>": <msg>`. */
vigil_status vigil__api_send_param_error(const vigil_http_request *req, vigil_http_response *resp,
                                         const char *param, const char *msg);

/* ---- handlers (api_query.c, api_series.c) ----------------------------------------------- */

vigil_status vigil__api_query(const vigil_http_request *req, vigil_http_response *resp, void *api);
vigil_status vigil__api_query_range(const vigil_http_request *req, vigil_http_response *resp,
                                    void *api);
vigil_status vigil__api_series(const vigil_http_request *req, vigil_http_response *resp, void *api);
vigil_status vigil__api_labels(const vigil_http_request *req, vigil_http_response *resp, void *api);
/* Serves <anything>/label/<name>/values; another path under the route gets a JSON 404. */
vigil_status vigil__api_label_values(const vigil_http_request *req, vigil_http_response *resp,
                                     void *api);
vigil_status vigil__api_metadata(const vigil_http_request *req, vigil_http_response *resp,
                                 void *api);

#endif
