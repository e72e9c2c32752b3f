/* http_int.h — what the HTTP module's files share: the request and response structs the server
 * fills on its threads (server.c) and the accessors read (message.c), plus form decoding and JSON
 * escaping. libmicrohttpd types appear here and nowhere in the public header. Nothing here is
 * exported from the shared object. */
#ifndef VIGIL_HTTP_INT_H
#define VIGIL_HTTP_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <microhttpd.h>

#include "core/core_int.h"
#include "vigil/http.h"

/* One decoded name=value pair of an application/x-www-form-urlencoded body; both point into
 * vigil_http_request.form_storage. */
typedef struct vigil__http_arg {
    const char *name;
    const char *value;
} vigil__http_arg;

/* One request, from its headers to its completion. Created by the first access-handler call,
 * freed by the request-completed callback; only the MHD thread serving the connection touches
 * it, so nothing here is locked. */
struct vigil_http_request {
    struct MHD_Connection *conn;
    const char *method;            /* MHD's copy, valid until completion */
    const char *path;              /* MHD's copy, query string already removed */
    const struct vigil__http_route *route; /* NULL: unknown path */
    unsigned early_status;         /* error decided from the headers (404, 405, 413), or 0 */
    bool collect_body;             /* POST to a route that allows it */
    bool too_large;                /* the body grew past max_body; the rest is discarded */
    vigil_buffer body;             /* collected POST body, capped at max_body */
    char *form_storage;            /* decoded form body; form[] points into it */
    vigil__http_arg *form;
    size_t form_len;
};

typedef struct vigil__http_header {
    char *name;
    char *value;
} vigil__http_header;

/* What a handler fills. Lives on the serving thread's stack for one handler call. */
struct vigil_http_response {
    unsigned status;
    vigil__http_header *headers;
    size_t header_len;
    size_t header_cap;
    vigil_buffer body;
};

/* A route as the server stores it; read-only while the server runs. */
typedef struct vigil__http_route {
    struct vigil__http_route *next; /* the server's list, for freeing */
    char *path;
    bool prefix;                     /* routes every path under `path` without an exact route */
    bool allow_post;
    vigil_http_handler handler;
    void *user;
} vigil__http_route;

/* --- message.c --- */
void vigil__http_request_free(struct vigil_http_request *req);
/* Decodes req->body into req->form when the request is a URL-encoded form. VIGIL_ENOMEM. */
vigil_status vigil__http_request_parse_form(struct vigil_http_request *req);
void vigil__http_response_init(struct vigil_http_response *resp);
void vigil__http_response_free(struct vigil_http_response *resp);
/* The header's value if the handler set it (case-insensitive), else NULL. */
const char *vigil__http_response_find(const struct vigil_http_response *resp, const char *name);

#endif
