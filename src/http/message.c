/* message.c — the request a handler reads and the response it fills. Both exist only for one
 * handler call on one server thread, so nothing here locks. Headers and query arguments are read
 * straight from libmicrohttpd (no copies); a URL-encoded POST form is decoded once, in place in a
 * single allocation, before the handler runs, so the accessors can stay const and cheap. The
 * response body is a vigil_buffer that the server later hands to libmicrohttpd without copying. */
#include <string.h>
#include <strings.h>

#include "http/http_int.h"

/* --- request --------------------------------------------------------------------------- */

void vigil__http_request_free(struct vigil_http_request *req)
{
    if (req == NULL)
        return;
    vigil_buffer_free(&req->body);
    vigil__free(req->form_storage);
    vigil__free(req->form);
    vigil__free(req);
}

static int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* Decodes s[0..len) in place ('+' is a space, %XX a byte; a malformed escape stays literal) and
 * NUL-terminates it. Decoding never lengthens, so in place is safe. */
static void form_decode(char *s, size_t len)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '+') {
            s[o++] = ' ';
        } else if (c == '%' && i + 2 < len && hexval((unsigned char)s[i + 1]) >= 0 &&
                   hexval((unsigned char)s[i + 2]) >= 0) {
            s[o++] = (char)(hexval((unsigned char)s[i + 1]) * 16 + hexval((unsigned char)s[i + 2]));
            i += 2;
        } else {
            s[o++] = (char)c;
        }
    }
    s[o] = '\0';
}

static bool is_form(const char *content_type)
{
    static const char form[] = "application/x-www-form-urlencoded";
    size_t n = sizeof form - 1;
    if (content_type == NULL || strncasecmp(content_type, form, n) != 0)
        return false;
    char next = content_type[n];
    return next == '\0' || next == ';' || next == ' ' || next == '\t';
}

vigil_status vigil__http_request_parse_form(struct vigil_http_request *req)
{
    if (req->body.len == 0 ||
        !is_form(MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND,
                                             MHD_HTTP_HEADER_CONTENT_TYPE)))
        return VIGIL_OK;
    size_t len = req->body.len;
    size_t pairs = 1;
    for (size_t i = 0; i < len; i++)
        pairs += req->body.data[i] == '&';
    char *store = vigil__malloc(len + 1);
    vigil__http_arg *form = vigil__calloc(pairs, sizeof *form);
    if (store == NULL || form == NULL) {
        vigil__free(store);
        vigil__free(form);
        return vigil__fail(VIGIL_ENOMEM, "out of memory decoding a %zu-byte form body", len);
    }
    memcpy(store, req->body.data, len);
    store[len] = '\0';
    size_t n = 0;
    char *p = store;
    char *end = store + len;
    while (p < end) {
        char *amp = memchr(p, '&', (size_t)(end - p));
        char *stop = amp ? amp : end;
        if (stop > p) { /* empty segments ("a=1&&b=2") carry nothing */
            char *eq = memchr(p, '=', (size_t)(stop - p));
            char *vstart = eq ? eq + 1 : stop;
            form_decode(p, (size_t)((eq ? eq : stop) - p));
            form_decode(vstart, (size_t)(stop - vstart));
            form[n].name = p;
            form[n].value = eq ? vstart : stop; /* "flag" alone: value "" (stop is NUL now) */
            n++;
        }
        p = stop + 1;
    }
    req->form_storage = store;
    req->form = form;
    req->form_len = n;
    return VIGIL_OK;
}

VIGIL_API const char *vigil_http_request_method(const vigil_http_request *req)
{
    return req ? req->method : NULL;
}

VIGIL_API const char *vigil_http_request_path(const vigil_http_request *req)
{
    return req ? req->path : NULL;
}

VIGIL_API const char *vigil_http_request_header(const vigil_http_request *req, const char *name)
{
    if (req == NULL || name == NULL)
        return NULL;
    return MHD_lookup_connection_value(req->conn, MHD_HEADER_KIND, name);
}

VIGIL_API const char *vigil_http_request_arg(const vigil_http_request *req, const char *name)
{
    if (req == NULL || name == NULL)
        return NULL;
    const char *value = NULL;
    size_t vlen = 0;
    if (MHD_lookup_connection_value_n(req->conn, MHD_GET_ARGUMENT_KIND, name, strlen(name),
                                      &value, &vlen) == MHD_YES)
        return value ? value : ""; /* "?flag" is present with an empty value */
    for (size_t i = 0; i < req->form_len; i++) {
        if (strcmp(req->form[i].name, name) == 0)
            return req->form[i].value;
    }
    return NULL;
}

VIGIL_API const char *vigil_http_request_body(const vigil_http_request *req, size_t *len)
{
    if (req == NULL) {
        if (len)
            *len = 0;
        return "";
    }
    if (len)
        *len = req->body.len;
    return req->body.data ? req->body.data : "";
}

/* --- response -------------------------------------------------------------------------- */

void vigil__http_response_init(struct vigil_http_response *resp)
{
    memset(resp, 0, sizeof *resp);
    resp->status = MHD_HTTP_OK;
    vigil_buffer_init(&resp->body, 0);
}

void vigil__http_response_free(struct vigil_http_response *resp)
{
    for (size_t i = 0; i < resp->header_len; i++) {
        vigil__free(resp->headers[i].name);
        vigil__free(resp->headers[i].value);
    }
    vigil__free(resp->headers);
    resp->headers = NULL;
    resp->header_len = resp->header_cap = 0;
    vigil_buffer_free(&resp->body);
}

const char *vigil__http_response_find(const struct vigil_http_response *resp, const char *name)
{
    for (size_t i = 0; i < resp->header_len; i++) {
        if (strcasecmp(resp->headers[i].name, name) == 0)
            return resp->headers[i].value;
    }
    return NULL;
}

VIGIL_API void vigil_http_response_status(vigil_http_response *resp, unsigned code)
{
    if (resp)
        resp->status = code;
}

/* RFC 9110 token characters: what a header name may contain. */
static bool is_token(const char *s)
{
    if (*s == '\0')
        return false;
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c <= 0x20 || c >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", c) != NULL)
            return false;
    }
    return true;
}

VIGIL_API vigil_status vigil_http_response_header(vigil_http_response *resp, const char *name,
                                                  const char *value)
{
    if (resp == NULL || name == NULL || value == NULL)
        return vigil__fail(VIGIL_EINVAL, "response header: NULL argument");
    if (!is_token(name))
        return vigil__fail(VIGIL_EINVAL, "response header name \"%.64s\" is not an HTTP token",
                           name);
    if (strpbrk(value, "\r\n") != NULL)
        return vigil__fail(VIGIL_EINVAL, "response header %s: value contains CR or LF", name);
    if (resp->header_len == resp->header_cap) {
        size_t ncap = resp->header_cap ? resp->header_cap * 2 : 8;
        vigil__http_header *nh = vigil__realloc(resp->headers, ncap * sizeof *nh);
        if (nh == NULL)
            return vigil__fail(VIGIL_ENOMEM, "out of memory adding response header %s", name);
        resp->headers = nh;
        resp->header_cap = ncap;
    }
    char *n = vigil__strdup(name);
    char *v = vigil__strdup(value);
    if (n == NULL || v == NULL) {
        vigil__free(n);
        vigil__free(v);
        return vigil__fail(VIGIL_ENOMEM, "out of memory adding response header %s", name);
    }
    resp->headers[resp->header_len].name = n;
    resp->headers[resp->header_len].value = v;
    resp->header_len++;
    return VIGIL_OK;
}

VIGIL_API vigil_status vigil_http_response_append(vigil_http_response *resp, const void *data,
                                                  size_t len)
{
    if (resp == NULL || (data == NULL && len > 0))
        return vigil__fail(VIGIL_EINVAL, "response append: NULL argument");
    return vigil_buffer_append(&resp->body, data, len);
}

VIGIL_API void vigil_http_response_take(vigil_http_response *resp, struct vigil_buffer *buf)
{
    if (resp == NULL || buf == NULL)
        return;
    vigil_buffer_free(&resp->body);
    resp->body = *buf;
    /* The body's cap is the response's, not whatever small cap the source buffer had. */
    resp->body.limit = VIGIL_BUFFER_DEFAULT_LIMIT;
    if (resp->body.len > resp->body.limit)
        resp->body.limit = resp->body.len;
    buf->data = NULL;
    buf->len = buf->cap = 0;
}

