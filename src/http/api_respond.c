/* api_respond.c — the query API's side of a request: reading arguments the way Go's net/http
 * reads a form, and writing Prometheus's response envelope with its headers.
 *
 * Go merges a POST form body and the URL query into one r.Form with the body's values first,
 * so a parameter given in both is taken from the body; the server's vigil_http_request_arg
 * prefers the URL, hence the lookups here. Like Prometheus, every response is JSON, carries
 * CORS headers when the request has an Origin (Prometheus's default --web.cors.origin is
 * ".*", answered with "*"), and is gzipped when the client accepts gzip. */
#include <string.h>

#include <microhttpd.h>

#include "http/api_int.h"
#include "vigil/expo.h"

#define APPEND_LIT(out, lit) vigil_buffer_append((out), (lit), sizeof(lit) - 1)

/* --- arguments --------------------------------------------------------------------------- */

const char *vigil__api_arg(const vigil_http_request *req, const char *name)
{
    for (size_t i = 0; i < req->form_len; i++) {
        if (strcmp(req->form[i].name, name) == 0)
            return req->form[i].value;
    }
    const char *value = NULL;
    size_t len = 0;
    if (MHD_lookup_connection_value_n(req->conn, MHD_GET_ARGUMENT_KIND, name, strlen(name), &value,
                                      &len) == MHD_YES)
        return value ? value : ""; /* "?time" alone: present and empty */
    return NULL;
}

typedef struct arg_collector {
    const char *name;
    const char **values;
    size_t n;
    size_t cap;
    bool failed;
} arg_collector;

static bool collect(arg_collector *c, const char *value)
{
    if (c->n == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 4;
        const char **grown = vigil__realloc((void *)c->values, cap * sizeof *grown);
        if (grown == NULL) {
            c->failed = true;
            return false;
        }
        c->values = grown;
        c->cap = cap;
    }
    c->values[c->n++] = value ? value : "";
    return true;
}

static enum MHD_Result collect_url_arg(void *cls, enum MHD_ValueKind kind, const char *key,
                                       const char *value)
{
    (void)kind;
    arg_collector *c = cls;
    if (key == NULL || strcmp(key, c->name) != 0)
        return MHD_YES;
    return collect(c, value) ? MHD_YES : MHD_NO;
}

vigil_status vigil__api_args(const vigil_http_request *req, const char *name, const char ***values,
                             size_t *n)
{
    arg_collector c = {name, NULL, 0, 0, false};
    for (size_t i = 0; i < req->form_len && !c.failed; i++) {
        if (strcmp(req->form[i].name, name) == 0)
            (void)collect(&c, req->form[i].value);
    }
    if (!c.failed)
        (void)MHD_get_connection_values(req->conn, MHD_GET_ARGUMENT_KIND, collect_url_arg, &c);
    if (c.failed) {
        vigil__free((void *)c.values);
        return vigil__fail(VIGIL_ENOMEM, "out of memory collecting the %s parameters", name);
    }
    *values = c.values;
    *n = c.n;
    return VIGIL_OK;
}

bool vigil__api_time_param(const vigil_http_request *req, const char *name,
                           const vigil__api_time *dflt, vigil__api_time *out, vigil_buffer *msg)
{
    const char *value = vigil__api_arg(req, name);
    if (value == NULL)
        value = "";
    if (dflt != NULL && *value == '\0') {
        *out = *dflt;
        return true;
    }
    if (vigil__api_parse_time(value, out))
        return true;
    vigil_status st = VIGIL_OK;
    if (dflt != NULL) {
        st = APPEND_LIT(msg, "Invalid time value for '");
        if (st == VIGIL_OK)
            st = vigil_buffer_append(msg, name, strlen(name));
        if (st == VIGIL_OK)
            st = APPEND_LIT(msg, "': ");
    }
    if (st == VIGIL_OK)
        st = APPEND_LIT(msg, "cannot parse ");
    if (st == VIGIL_OK)
        st = vigil__api_go_quote(msg, value);
    if (st == VIGIL_OK)
        (void)APPEND_LIT(msg, " to a valid timestamp");
    return false;
}

bool vigil__api_duration_param(const char *value, int64_t *ns, vigil_buffer *msg)
{
    vigil__api_dur_result r = vigil__api_parse_duration(value, ns);
    if (r == VIGIL__API_DUR_OK)
        return true;
    vigil_status st = APPEND_LIT(msg, "cannot parse ");
    if (st == VIGIL_OK)
        st = vigil__api_go_quote(msg, value);
    if (st == VIGIL_OK)
        st = APPEND_LIT(msg, " to a valid duration");
    if (st == VIGIL_OK && r == VIGIL__API_DUR_OVERFLOW)
        (void)APPEND_LIT(msg, ". It overflows int64");
    return false;
}

/* --- responses --------------------------------------------------------------------------- */

static vigil_status add_cors(const vigil_http_request *req, vigil_http_response *resp)
{
    static const char *const headers[][2] = {
        {"Access-Control-Allow-Headers", "Accept, Authorization, Content-Type, Origin"},
        {"Access-Control-Allow-Methods", "GET, POST, OPTIONS"},
        {"Access-Control-Expose-Headers", "Date"},
        {"Vary", "Origin"},
        {"Access-Control-Allow-Origin", "*"},
    };
    if (vigil_http_request_header(req, "Origin") == NULL)
        return VIGIL_OK;
    vigil_status st = VIGIL_OK;
    for (size_t i = 0; i < sizeof headers / sizeof headers[0] && st == VIGIL_OK; i++)
        st = vigil_http_response_header(resp, headers[i][0], headers[i][1]);
    return st;
}

/* Moves body into the response, gzipped when the client accepts it. */
static vigil_status send_json(const vigil_http_request *req, vigil_http_response *resp,
                              unsigned code, vigil_buffer *body)
{
    vigil_http_response_status(resp, code);
    vigil_status st = vigil_http_response_header(resp, "Content-Type", "application/json");
    if (st == VIGIL_OK)
        st = add_cors(req, resp);
    if (st == VIGIL_OK &&
        vigil_expo_accepts_gzip(vigil_http_request_header(req, "Accept-Encoding"))) {
        vigil_buffer gz;
        vigil_buffer_init(&gz, 0);
        st = vigil_expo_gzip(body->data, body->len, &gz);
        if (st == VIGIL_OK)
            st = vigil_http_response_header(resp, "Content-Encoding", "gzip");
        if (st == VIGIL_OK)
            vigil_http_response_take(resp, &gz);
        vigil_buffer_free(&gz);
        vigil_buffer_free(body);
        return st;
    }
    if (st == VIGIL_OK)
        vigil_http_response_take(resp, body);
    vigil_buffer_free(body);
    return st;
}

vigil_status vigil__api_data_begin(vigil_buffer *body)
{
    vigil_buffer_init(body, 0);
    return APPEND_LIT(body, "{\"status\":\"success\",\"data\":");
}

vigil_status vigil__api_send_data(const vigil_http_request *req, vigil_http_response *resp,
                                  vigil_buffer *body)
{
    vigil_status st = APPEND_LIT(body, "}");
    if (st != VIGIL_OK) {
        vigil_buffer_free(body);
        return st;
    }
    return send_json(req, resp, 200, body);
}

vigil_status vigil__api_send_error(const vigil_http_request *req, vigil_http_response *resp,
                                   vigil_promql_error_type type, const char *msg)
{
    const char *name;
    unsigned code;
    switch (type) {
    case VIGIL_PROMQL_ERR_BAD_DATA:
        name = "bad_data";
        code = 400;
        break;
    case VIGIL_PROMQL_ERR_EXECUTION:
        name = "execution";
        code = 422;
        break;
    case VIGIL_PROMQL_ERR_TIMEOUT:
        name = "timeout";
        code = 503;
        break;
    default:
        name = "internal";
        code = 500;
        break;
    }
    vigil_buffer body;
    vigil_buffer_init(&body, 0);
    vigil_status st = APPEND_LIT(&body, "{\"status\":\"error\",\"errorType\":\"");
    if (st == VIGIL_OK)
        st = vigil_buffer_append(&body, name, strlen(name));
    if (st == VIGIL_OK)
        st = APPEND_LIT(&body, "\",\"error\":");
    if (st == VIGIL_OK)
        st = vigil__api_json_string(&body, msg);
    if (st == VIGIL_OK)
        st = APPEND_LIT(&body, "}");
    if (st != VIGIL_OK) {
        vigil_buffer_free(&body);
        return st;
    }
    return send_json(req, resp, code, &body);
}

vigil_status vigil__api_send_param_error(const vigil_http_request *req, vigil_http_response *resp,
                                         const char *param, const char *msg)
{
    vigil_buffer text;
    vigil_buffer_init(&text, 0);
    vigil_status st = APPEND_LIT(&text, "invalid parameter ");
    if (st == VIGIL_OK)
        st = vigil__api_go_quote(&text, param);
    if (st == VIGIL_OK)
        st = APPEND_LIT(&text, ": ");
    if (st == VIGIL_OK)
        st = vigil_buffer_append(&text, msg, strlen(msg));
    if (st == VIGIL_OK)
        st = vigil__api_send_error(req, resp, VIGIL_PROMQL_ERR_BAD_DATA, vigil_buffer_cstr(&text));
    vigil_buffer_free(&text);
    return st;
}
