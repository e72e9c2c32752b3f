/* api_query.c — /api/v1/query and /api/v1/query_range: parameters checked in Prometheus 2.42's
 * order with its wording, the query handed to the PromQL engine (vigil/promql.h), the result
 * written as Prometheus writes it.
 *
 * A query runs on the server thread that received it, over the store's concurrent read path,
 * so it never holds up an application thread recording metrics. Its `timeout` parameter can
 * only shorten the API's configured timeout, never extend it: an operator's limit on how long
 * one request may occupy a server thread holds whatever a client asks for. */
#include <stdio.h>
#include <string.h>

#include "http/api_int.h"

#define NS_PER_MS INT64_C(1000000)
#define MAX_POINTS 11000

/* Sends the error of a failed engine call. In an instant query Prometheus reports a query that
 * does not parse as a bad `query` parameter; a range query reports the parser's text alone. */
static vigil_status send_engine_error(const vigil_http_request *req, vigil_http_response *resp,
                                      vigil_status st, const char *param)
{
    char msg[512];
    snprintf(msg, sizeof msg, "%s", vigil_errmsg()[0] ? vigil_errmsg() : vigil_strerror(st));
    vigil_promql_error_type type = vigil_promql_error_type_of(st);
    if (type == VIGIL_PROMQL_ERR_NONE)
        type = VIGIL_PROMQL_ERR_INTERNAL;
    if (type == VIGIL_PROMQL_ERR_BAD_DATA && param != NULL)
        return vigil__api_send_param_error(req, resp, param, msg);
    return vigil__api_send_error(req, resp, type, msg);
}

/* The engine options of one request: the API's, with the request's timeout when it is shorter.
 * *expired is set when the request's timeout is zero or negative: Prometheus then times out
 * before evaluating, where the engine would read 0 as "no limit". */
static void request_options(const vigil_query_api *api, bool has_timeout, int64_t timeout_ns,
                            vigil_promql_options *o, bool *expired)
{
    *o = api->opts;
    *expired = has_timeout && timeout_ns <= 0;
    if (!has_timeout || *expired)
        return;
    int64_t ms = timeout_ns / NS_PER_MS + (timeout_ns % NS_PER_MS != 0);
    if (o->timeout_ms <= 0 || ms < o->timeout_ms)
        o->timeout_ms = ms;
}

/* Reads the optional timeout parameter; false after an error response was sent. */
static bool timeout_param(const vigil_http_request *req, vigil_http_response *resp,
                          const vigil_query_api *api, vigil_promql_options *o, bool *expired,
                          vigil_status *st)
{
    const char *to = vigil__api_arg(req, "timeout");
    int64_t ns = 0;
    bool has = to != NULL && *to != '\0';
    if (has) {
        vigil_buffer msg;
        vigil_buffer_init(&msg, 0);
        if (!vigil__api_duration_param(to, &ns, &msg)) {
            *st = vigil__api_send_param_error(req, resp, "timeout", vigil_buffer_cstr(&msg));
            vigil_buffer_free(&msg);
            return false;
        }
        vigil_buffer_free(&msg);
    }
    request_options(api, has, ns, o, expired);
    return true;
}

static vigil_status send_result(const vigil_http_request *req, vigil_http_response *resp,
                                vigil_promql_result *r)
{
    vigil_buffer body;
    vigil_status st = vigil__api_data_begin(&body);
    if (st == VIGIL_OK)
        st = vigil__api_json_result(&body, r);
    vigil_promql_result_free(r);
    if (st != VIGIL_OK) {
        vigil_buffer_free(&body);
        return st;
    }
    return vigil__api_send_data(req, resp, &body);
}

static vigil_status send_timed_out(const vigil_http_request *req, vigil_http_response *resp)
{
    return vigil__api_send_error(req, resp, VIGIL_PROMQL_ERR_TIMEOUT,
                                 "query timed out in query execution");
}

static vigil_status send_bad_param(const vigil_http_request *req, vigil_http_response *resp,
                                   const char *param, vigil_buffer *msg)
{
    vigil_status st = vigil__api_send_param_error(req, resp, param, vigil_buffer_cstr(msg));
    vigil_buffer_free(msg);
    return st;
}

vigil_status vigil__api_query(const vigil_http_request *req, vigil_http_response *resp, void *user)
{
    const vigil_query_api *api = user;
    vigil_buffer msg;
    vigil_buffer_init(&msg, 0);
    vigil__api_time now = vigil__api_time_now(), t;
    if (!vigil__api_time_param(req, "time", &now, &t, &msg))
        return send_bad_param(req, resp, "time", &msg);
    vigil_promql_options o;
    bool expired;
    vigil_status st = VIGIL_OK;
    if (!timeout_param(req, resp, api, &o, &expired, &st))
        return st;
    const char *query = vigil__api_arg(req, "query");
    if (query == NULL)
        query = "";
    if (expired) {
        st = vigil_promql_check(query);
        return st ? send_engine_error(req, resp, st, "query") : send_timed_out(req, resp);
    }
    vigil_promql_result *r = NULL;
    st = vigil_promql_instant(api->db, &o, query, vigil__api_time_engine_ms(t), &r);
    if (st != VIGIL_OK)
        return send_engine_error(req, resp, st, "query");
    return send_result(req, resp, r);
}

/* Prometheus checks a range query's parameters in this order, each with its own wording. */
static bool range_params(const vigil_http_request *req, vigil_http_response *resp,
                         vigil__api_time *start, vigil__api_time *end, int64_t *step_ns,
                         vigil_status *st)
{
    vigil_buffer msg;
    vigil_buffer_init(&msg, 0);
    if (!vigil__api_time_param(req, "start", NULL, start, &msg)) {
        *st = send_bad_param(req, resp, "start", &msg);
        return false;
    }
    if (!vigil__api_time_param(req, "end", NULL, end, &msg)) {
        *st = send_bad_param(req, resp, "end", &msg);
        return false;
    }
    if (vigil__api_time_cmp(*end, *start) < 0) {
        *st = vigil__api_send_param_error(req, resp, "end",
                                          "end timestamp must not be before start time");
        return false;
    }
    const char *step = vigil__api_arg(req, "step");
    if (!vigil__api_duration_param(step ? step : "", step_ns, &msg)) {
        *st = send_bad_param(req, resp, "step", &msg);
        return false;
    }
    if (*step_ns <= 0) {
        *st = vigil__api_send_param_error(req, resp, "step",
                                          "zero or negative query resolution step widths are "
                                          "not accepted. Try a positive integer");
        return false;
    }
    if (vigil__api_time_sub(*end, *start) / *step_ns > MAX_POINTS) {
        *st = vigil__api_send_error(req, resp, VIGIL_PROMQL_ERR_BAD_DATA,
                                    "exceeded maximum resolution of 11,000 points per "
                                    "timeseries. Try decreasing the query resolution "
                                    "(?step=XX)");
        return false;
    }
    return true;
}

/* A step shorter than a millisecond passes Prometheus's checks and then divides by zero inside
 * its engine; a query that is itself wrong is reported first, as Prometheus parses before it
 * evaluates. */
static vigil_status send_sub_ms_step(const vigil_http_request *req, vigil_http_response *resp,
                                     const vigil_query_api *api, const vigil_promql_options *o,
                                     const char *query, int64_t at_ms)
{
    vigil_promql_result *r = NULL;
    vigil_status st = vigil_promql_range(api->db, o, query, at_ms, at_ms, 1, &r);
    vigil_promql_result_free(r);
    if (st != VIGIL_OK && vigil_promql_error_type_of(st) == VIGIL_PROMQL_ERR_BAD_DATA)
        return send_engine_error(req, resp, st, NULL);
    return vigil__api_send_error(req, resp, VIGIL_PROMQL_ERR_EXECUTION,
                                 "unexpected error: runtime error: integer divide by zero");
}

vigil_status vigil__api_query_range(const vigil_http_request *req, vigil_http_response *resp,
                                    void *user)
{
    const vigil_query_api *api = user;
    vigil__api_time start, end;
    int64_t step_ns;
    vigil_status st = VIGIL_OK;
    if (!range_params(req, resp, &start, &end, &step_ns, &st))
        return st;
    vigil_promql_options o;
    bool expired;
    if (!timeout_param(req, resp, api, &o, &expired, &st))
        return st;
    const char *query = vigil__api_arg(req, "query");
    if (query == NULL)
        query = "";
    int64_t start_ms = vigil__api_time_engine_ms(start);
    if (expired) {
        st = vigil_promql_check(query);
        return st ? send_engine_error(req, resp, st, NULL) : send_timed_out(req, resp);
    }
    if (step_ns / NS_PER_MS == 0)
        return send_sub_ms_step(req, resp, api, &o, query, start_ms);
    vigil_promql_result *r = NULL;
    st = vigil_promql_range(api->db, &o, query, start_ms, vigil__api_time_engine_ms(end),
                            step_ns / NS_PER_MS, &r);
    if (st != VIGIL_OK)
        return send_engine_error(req, resp, st, NULL);
    return send_result(req, resp, r);
}
