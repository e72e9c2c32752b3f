/* api_series.c — the store's metadata endpoints: /api/v1/series, /api/v1/labels,
 * /api/v1/label/<name>/values and /api/v1/metadata, answered from the store's index without
 * evaluating PromQL.
 *
 * Several match[] selectors give several selections; Prometheus merges them into one list
 * without duplicates, sorted as it sorts label sets (label by label, name then value, a set
 * that is a prefix of another first), and names or values sorted bytewise. Each series is
 * copied out of the store into one flat string ("name\0value\0..." in name order) so that
 * sorting and de-duplicating across selections is a memcmp. A time range that ends before it
 * starts selects nothing (Prometheus answers it with an empty list, not an error). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/api_int.h"

#define APPEND_LIT(out, lit) vigil_buffer_append((out), (lit), sizeof(lit) - 1)

/* --- growable lists ---------------------------------------------------------------------- */

typedef struct blob {
    char *data;
    size_t len;
} blob;

typedef struct blob_list {
    blob *items;
    size_t n;
    size_t cap;
} blob_list;

static void blob_list_free(blob_list *l)
{
    for (size_t i = 0; i < l->n; i++)
        vigil__free(l->items[i].data);
    vigil__free(l->items);
    memset(l, 0, sizeof *l);
}

/* Adds a copy of data[0..len). */
static vigil_status blob_list_add(blob_list *l, const char *data, size_t len)
{
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        blob *grown = vigil__realloc(l->items, cap * sizeof *grown);
        if (grown == NULL)
            return vigil__fail(VIGIL_ENOMEM, "out of memory listing %zu results", l->n);
        l->items = grown;
        l->cap = cap;
    }
    char *copy = vigil__malloc(len + 1);
    if (copy == NULL)
        return vigil__fail(VIGIL_ENOMEM, "out of memory listing %zu results", l->n);
    memcpy(copy, data, len);
    copy[len] = '\0';
    l->items[l->n++] = (blob){copy, len};
    return VIGIL_OK;
}

static int blob_cmp(const void *a, const void *b)
{
    const blob *x = a, *y = b;
    int c = memcmp(x->data, y->data, x->len < y->len ? x->len : y->len);
    if (c != 0)
        return c;
    return (x->len > y->len) - (x->len < y->len);
}

/* Sorts and drops duplicates. */
static void blob_list_normalize(blob_list *l)
{
    if (l->n == 0)
        return;
    qsort(l->items, l->n, sizeof *l->items, blob_cmp);
    size_t out = 1;
    for (size_t i = 1; i < l->n; i++) {
        if (blob_cmp(&l->items[i], &l->items[out - 1]) == 0)
            vigil__free(l->items[i].data);
        else
            l->items[out++] = l->items[i];
    }
    l->n = out;
}

/* ["a","b",...] of a list of strings. */
static vigil_status json_strings(vigil_buffer *out, const blob_list *l)
{
    vigil_status st = APPEND_LIT(out, "[");
    for (size_t i = 0; i < l->n && st == VIGIL_OK; i++) {
        if (i > 0)
            st = APPEND_LIT(out, ",");
        if (st == VIGIL_OK)
            st = vigil__api_json_string(out, l->items[i].data);
    }
    return st == VIGIL_OK ? APPEND_LIT(out, "]") : st;
}

/* --- what the four endpoints share ------------------------------------------------------- */

typedef struct lookup {
    vigil__api_selectors sel;
    vigil_tsdb_querier *q; /* NULL: the range is empty */
} lookup;

static void lookup_free(lookup *lk)
{
    vigil__api_selectors_free(&lk->sel);
    vigil_tsdb_querier_free(lk->q);
}

/* An error while reading the store: Prometheus calls it an execution error. */
static vigil_status send_store_error(const vigil_http_request *req, vigil_http_response *resp,
                                     vigil_status st)
{
    if (st == VIGIL_ENOMEM)
        return st;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", vigil_errmsg()[0] ? vigil_errmsg() : vigil_strerror(st));
    return vigil__api_send_error(req, resp, VIGIL_PROMQL_ERR_EXECUTION, msg);
}

/* start, end and match[] as the series (param_errors) or label endpoints read them, and a
 * querier over the range. Returns false once a response (an error) was sent or *st failed. */
static bool lookup_open(const vigil_http_request *req, vigil_http_response *resp,
                        const vigil_query_api *api, bool param_errors, lookup *lk, vigil_status *st)
{
    memset(lk, 0, sizeof *lk);
    const char **values = NULL;
    size_t n = 0;
    *st = vigil__api_args(req, "match[]", &values, &n);
    if (*st != VIGIL_OK)
        return false;
    vigil_buffer msg;
    vigil_buffer_init(&msg, 0);
    bool ok = false;
    vigil__api_time min = vigil__api_time_min(), max = vigil__api_time_max(), start, end;
    if (param_errors && n == 0) {
        *st = vigil__api_send_error(req, resp, VIGIL_PROMQL_ERR_BAD_DATA,
                                    "no match[] parameter provided");
    } else if (!vigil__api_time_param(req, "start", &min, &start, &msg)) {
        *st = vigil__api_send_param_error(req, resp, "start", vigil_buffer_cstr(&msg));
    } else if (!vigil__api_time_param(req, "end", &max, &end, &msg)) {
        *st = vigil__api_send_param_error(req, resp, "end", vigil_buffer_cstr(&msg));
    } else if ((*st = vigil__api_selectors_parse(values, n, &lk->sel, &msg)) == VIGIL_EINVAL) {
        *st = param_errors
                  ? vigil__api_send_param_error(req, resp, "match[]", vigil_buffer_cstr(&msg))
                  : vigil__api_send_error(req, resp, VIGIL_PROMQL_ERR_BAD_DATA,
                                          vigil_buffer_cstr(&msg));
    } else if (*st == VIGIL_OK) {
        int64_t mint = vigil__api_time_ms(start), maxt = vigil__api_time_ms(end);
        ok = mint > maxt || (*st = vigil_tsdb_querier_new(api->db, mint, maxt, &lk->q)) == VIGIL_OK;
        if (!ok)
            *st = send_store_error(req, resp, *st);
    }
    vigil_buffer_free(&msg);
    vigil__free((void *)values);
    if (!ok)
        lookup_free(lk);
    return ok;
}

static vigil_status send_list(const vigil_http_request *req, vigil_http_response *resp,
                              const blob_list *l)
{
    vigil_buffer body;
    vigil_status st = vigil__api_data_begin(&body);
    if (st == VIGIL_OK)
        st = json_strings(&body, l);
    if (st != VIGIL_OK) {
        vigil_buffer_free(&body);
        return st;
    }
    return vigil__api_send_data(req, resp, &body);
}

/* --- /series ------------------------------------------------------------------------------ */

/* "name\0value\0..." of the current series, names in byte order. */
static vigil_status flatten_series(const vigil_tsdb_series_set *set, vigil_buffer *flat)
{
    const vigil_label *labels;
    size_t n = vigil_tsdb_series_labels(set, &labels);
    flat->len = 0;
    vigil_status st = VIGIL_OK;
    const char *prev = NULL;
    for (size_t k = 0; k < n && st == VIGIL_OK; k++) {
        const vigil_label *next = NULL; /* the smallest name above prev: n is small */
        for (size_t i = 0; i < n; i++) {
            if ((prev == NULL || strcmp(labels[i].name, prev) > 0) &&
                (next == NULL || strcmp(labels[i].name, next->name) < 0))
                next = &labels[i];
        }
        if (next == NULL)
            break;
        st = vigil_buffer_append(flat, next->name, strlen(next->name) + 1);
        if (st == VIGIL_OK)
            st = vigil_buffer_append(flat, next->value, strlen(next->value) + 1);
        prev = next->name;
    }
    return st;
}

static vigil_status collect_series(lookup *lk, blob_list *out)
{
    vigil_buffer flat;
    vigil_buffer_init(&flat, 0);
    vigil_status st = VIGIL_OK;
    for (size_t s = 0; s < lk->sel.n && lk->q != NULL && st == VIGIL_OK; s++) {
        vigil_tsdb_series_set *set;
        st = vigil_tsdb_select(lk->q, lk->sel.sets[s].matchers, lk->sel.sets[s].n, &set);
        while (st == VIGIL_OK && vigil_tsdb_series_next(set)) {
            st = flatten_series(set, &flat);
            if (st == VIGIL_OK)
                st = blob_list_add(out, flat.data ? flat.data : "", flat.len);
        }
        if (st == VIGIL_OK)
            st = vigil_tsdb_series_set_status(set);
        vigil_tsdb_series_set_free(set);
    }
    vigil_buffer_free(&flat);
    blob_list_normalize(out);
    return st;
}

static vigil_status json_series_list(vigil_buffer *out, const blob_list *l)
{
    vigil_status st = APPEND_LIT(out, "[");
    for (size_t i = 0; i < l->n && st == VIGIL_OK; i++) {
        st = i > 0 ? APPEND_LIT(out, ",{") : APPEND_LIT(out, "{");
        const char *p = l->items[i].data, *end = p + l->items[i].len;
        for (bool first = true; p < end && st == VIGIL_OK; first = false) {
            const char *value = p + strlen(p) + 1;
            if (!first)
                st = APPEND_LIT(out, ",");
            if (st == VIGIL_OK)
                st = vigil__api_json_string(out, p);
            if (st == VIGIL_OK)
                st = APPEND_LIT(out, ":");
            if (st == VIGIL_OK)
                st = vigil__api_json_string(out, value);
            p = value + strlen(value) + 1;
        }
        if (st == VIGIL_OK)
            st = APPEND_LIT(out, "}");
    }
    return st == VIGIL_OK ? APPEND_LIT(out, "]") : st;
}

vigil_status vigil__api_series(const vigil_http_request *req, vigil_http_response *resp, void *user)
{
    lookup lk;
    vigil_status st;
    if (!lookup_open(req, resp, user, true, &lk, &st))
        return st;
    blob_list found = {0};
    st = collect_series(&lk, &found);
    lookup_free(&lk);
    if (st != VIGIL_OK) {
        blob_list_free(&found);
        return send_store_error(req, resp, st);
    }
    vigil_buffer body;
    st = vigil__api_data_begin(&body);
    if (st == VIGIL_OK)
        st = json_series_list(&body, &found);
    blob_list_free(&found);
    if (st != VIGIL_OK) {
        vigil_buffer_free(&body);
        return st;
    }
    return vigil__api_send_data(req, resp, &body);
}

/* --- /labels and /label/<name>/values ----------------------------------------------------- */

/* Label names (name NULL) or the values of label `name`, of every selection, merged. */
static vigil_status collect_strings(lookup *lk, const char *name, blob_list *out)
{
    size_t sets = lk->sel.n ? lk->sel.n : 1; /* no match[]: one unfiltered pass */
    vigil_status st = VIGIL_OK;
    for (size_t s = 0; s < sets && lk->q != NULL && st == VIGIL_OK; s++) {
        const vigil_matcher *m = lk->sel.n ? lk->sel.sets[s].matchers : NULL;
        size_t nm = lk->sel.n ? lk->sel.sets[s].n : 0;
        const char **strings = NULL;
        size_t n = 0;
        st = name ? vigil_tsdb_label_values(lk->q, name, m, nm, &strings, &n)
                  : vigil_tsdb_label_names(lk->q, m, nm, &strings, &n);
        for (size_t i = 0; i < n && st == VIGIL_OK; i++)
            st = blob_list_add(out, strings[i], strlen(strings[i]));
        vigil_tsdb_strings_free(strings);
    }
    blob_list_normalize(out);
    return st;
}

static vigil_status serve_strings(const vigil_http_request *req, vigil_http_response *resp,
                                  void *user, const char *name)
{
    lookup lk;
    vigil_status st;
    if (!lookup_open(req, resp, user, false, &lk, &st))
        return st;
    blob_list found = {0};
    st = collect_strings(&lk, name, &found);
    lookup_free(&lk);
    if (st == VIGIL_OK)
        st = send_list(req, resp, &found);
    else
        st = send_store_error(req, resp, st);
    blob_list_free(&found);
    return st;
}

vigil_status vigil__api_labels(const vigil_http_request *req, vigil_http_response *resp, void *user)
{
    return serve_strings(req, resp, user, NULL);
}

/* The <name> of a path <anything>/label/<name>/values, copied into name; false when the path
 * has another shape (Prometheus's router then answers 404). */
static bool label_from_path(const char *path, char *name, size_t cap)
{
    static const char suffix[] = "/values";
    static const char segment[] = "/label/";
    size_t len = strlen(path), slen = sizeof suffix - 1, glen = sizeof segment - 1;
    if (len < slen + glen || strcmp(path + len - slen, suffix) != 0)
        return false;
    const char *end = path + len - slen, *begin = end;
    while (begin > path && begin[-1] != '/')
        begin--;
    size_t n = (size_t)(end - begin);
    if (n == 0 || n >= cap || (size_t)(begin - path) < glen ||
        memcmp(begin - glen, segment, glen) != 0)
        return false;
    memcpy(name, begin, n);
    name[n] = '\0';
    return true;
}

/* The server's own 404 body, for a path under the route that is not an endpoint. */
static vigil_status send_not_found(const vigil_http_request *req, vigil_http_response *resp)
{
    vigil_buffer body;
    vigil_buffer_init(&body, 0);
    vigil_status st = APPEND_LIT(&body, "{\"status\":\"error\",\"error\":\"not found\",\"path\":");
    if (st == VIGIL_OK)
        st = vigil__api_json_string(&body, vigil_http_request_path(req));
    if (st == VIGIL_OK)
        st = APPEND_LIT(&body, "}\n");
    if (st == VIGIL_OK)
        st = vigil_http_response_header(resp, "Content-Type", "application/json");
    if (st == VIGIL_OK) {
        vigil_http_response_status(resp, 404);
        vigil_http_response_take(resp, &body);
    }
    vigil_buffer_free(&body);
    return st;
}

vigil_status vigil__api_label_values(const vigil_http_request *req, vigil_http_response *resp,
                                     void *user)
{
    char name[1024];
    if (!label_from_path(vigil_http_request_path(req), name, sizeof name))
        return send_not_found(req, resp);
    if (!vigil__api_label_name_valid(name)) {
        vigil_buffer msg;
        vigil_buffer_init(&msg, 0);
        vigil_status st = APPEND_LIT(&msg, "invalid label name: ");
        if (st == VIGIL_OK)
            st = vigil__api_go_quote(&msg, name);
        if (st == VIGIL_OK)
            st = vigil__api_send_error(req, resp, VIGIL_PROMQL_ERR_BAD_DATA,
                                       vigil_buffer_cstr(&msg));
        vigil_buffer_free(&msg);
        return st;
    }
    return serve_strings(req, resp, user, name);
}

/* --- /metadata --------------------------------------------------------------------------- */

static int metadata_cmp(const void *a, const void *b)
{
    const vigil_tsdb_metadata *x = *(const vigil_tsdb_metadata *const *)a;
    const vigil_tsdb_metadata *y = *(const vigil_tsdb_metadata *const *)b;
    int c = strcmp(x->metric, y->metric);
    return c ? c : (x > y) - (x < y); /* stable: the store's order within one metric */
}

static bool same_metadata(const vigil_tsdb_metadata *x, const vigil_tsdb_metadata *y)
{
    return strcmp(x->type, y->type) == 0 && strcmp(x->help, y->help) == 0 &&
           strcmp(x->unit, y->unit) == 0;
}

/* {"type":"...","help":"...","unit":"..."} */
static vigil_status json_metadata(vigil_buffer *out, const vigil_tsdb_metadata *m)
{
    vigil_status st = APPEND_LIT(out, "{\"type\":");
    if (st == VIGIL_OK)
        st = vigil__api_json_string(out, m->type);
    if (st == VIGIL_OK)
        st = APPEND_LIT(out, ",\"help\":");
    if (st == VIGIL_OK)
        st = vigil__api_json_string(out, m->help);
    if (st == VIGIL_OK)
        st = APPEND_LIT(out, ",\"unit\":");
    if (st == VIGIL_OK)
        st = vigil__api_json_string(out, m->unit);
    return st == VIGIL_OK ? APPEND_LIT(out, "}") : st;
}

/* {"metric":[{...},...],...}: metric names sorted (Go writes a map so), each with its distinct
 * metadata; at most limit names when limit >= 0, only `metric` when it is not empty. */
static vigil_status json_metadata_map(vigil_buffer *out, const vigil_tsdb_metadata **sorted,
                                      size_t n, const char *metric, int64_t limit)
{
    vigil_status st = APPEND_LIT(out, "{");
    int64_t names = 0;
    for (size_t i = 0; i < n && st == VIGIL_OK;) {
        size_t j = i + 1;
        while (j < n && strcmp(sorted[j]->metric, sorted[i]->metric) == 0)
            j++;
        bool wanted = metric[0] == '\0' || strcmp(metric, sorted[i]->metric) == 0;
        if (wanted && limit >= 0 && names >= limit)
            break;
        if (wanted) {
            st = names++ > 0 ? APPEND_LIT(out, ",") : VIGIL_OK;
            if (st == VIGIL_OK)
                st = vigil__api_json_string(out, sorted[i]->metric);
            if (st == VIGIL_OK)
                st = APPEND_LIT(out, ":[");
            for (size_t k = i; k < j && st == VIGIL_OK; k++) {
                bool dup = false;
                for (size_t d = i; d < k && !dup; d++)
                    dup = same_metadata(sorted[d], sorted[k]);
                if (dup)
                    continue;
                if (k > i)
                    st = APPEND_LIT(out, ",");
                if (st == VIGIL_OK)
                    st = json_metadata(out, sorted[k]);
            }
            if (st == VIGIL_OK)
                st = APPEND_LIT(out, "]");
        }
        i = j;
    }
    return st == VIGIL_OK ? APPEND_LIT(out, "}") : st;
}

vigil_status vigil__api_metadata(const vigil_http_request *req, vigil_http_response *resp,
                                 void *user)
{
    const vigil_query_api *api = user;
    const char *limit_text = vigil__api_arg(req, "limit");
    int64_t limit = -1;
    if (limit_text != NULL && *limit_text != '\0' && !vigil__api_parse_int(limit_text, &limit))
        return vigil__api_send_error(req, resp, VIGIL_PROMQL_ERR_BAD_DATA,
                                     "limit must be a number");
    const char *metric = vigil__api_arg(req, "metric");
    vigil_tsdb_querier *q = NULL;
    vigil_status st = vigil_tsdb_querier_new(api->db, INT64_MIN, INT64_MAX, &q);
    const vigil_tsdb_metadata *list = NULL;
    size_t n = 0;
    if (st == VIGIL_OK)
        st = vigil_tsdb_metadata_list(q, &list, &n);
    const vigil_tsdb_metadata **sorted = NULL;
    if (st == VIGIL_OK && n > 0 && (sorted = vigil__malloc(n * sizeof *sorted)) == NULL)
        st = vigil__fail(VIGIL_ENOMEM, "out of memory sorting %zu metadata entries", n);
    vigil_buffer body;
    vigil_buffer_init(&body, 0);
    if (st == VIGIL_OK) {
        for (size_t i = 0; i < n; i++)
            sorted[i] = &list[i];
        if (n > 0)
            qsort((void *)sorted, n, sizeof *sorted, metadata_cmp);
        st = vigil__api_data_begin(&body);
        if (st == VIGIL_OK)
            st = json_metadata_map(&body, sorted, n, metric ? metric : "", limit);
    }
    vigil__free((void *)sorted);
    vigil_tsdb_querier_free(q);
    if (st != VIGIL_OK) {
        vigil_buffer_free(&body);
        return st == VIGIL_ENOMEM ? st : send_store_error(req, resp, st);
    }
    return vigil__api_send_data(req, resp, &body);
}
