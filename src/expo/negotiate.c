/* negotiate.c — choosing the exposition format and compression from HTTP headers.
 *
 * Prometheus 2.42 scrapes with
 *   Accept: application/openmetrics-text;version=1.0.0,application/openmetrics-text;
 *           version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,* / *;q=0.1
 * so we parse media ranges with their q values and take the highest-q one we can serve, the
 * first listed on a tie (as client_golang's negotiation does). Anything unrecognised falls back
 * to the 0.0.4 text format, which every scraper reads.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/core_int.h"
#include "vigil/expo.h"

typedef struct media_range {
    char type[64];
    char version[32];
    double q;
} media_range;

static const char *skip_ws(const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

/* Copies [s, e) trimmed into out (truncated to cap). */
static void copy_trimmed(char *out, size_t cap, const char *s, const char *e)
{
    s = skip_ws(s);
    while (e > s && (e[-1] == ' ' || e[-1] == '\t'))
        e--;
    size_t n = (size_t)(e - s) < cap - 1 ? (size_t)(e - s) : cap - 1;
    memcpy(out, s, n);
    out[n] = '\0';
}

/* Parses one element "type/sub;k=v;q=0.5" spanning [s, e). */
static void parse_range(const char *s, const char *e, media_range *r)
{
    const char *semi = memchr(s, ';', (size_t)(e - s));
    copy_trimmed(r->type, sizeof r->type, s, semi ? semi : e);
    r->version[0] = '\0';
    r->q = 1.0;
    while (semi != NULL) {
        const char *ps = semi + 1;
        semi = memchr(ps, ';', (size_t)(e - ps));
        const char *pe = semi ? semi : e;
        const char *eq = memchr(ps, '=', (size_t)(pe - ps));
        if (eq == NULL)
            continue;
        char key[16], val[32];
        copy_trimmed(key, sizeof key, ps, eq);
        copy_trimmed(val, sizeof val, eq + 1, pe);
        if (strcasecmp(key, "q") == 0)
            r->q = strtod(val, NULL);
        else if (strcasecmp(key, "version") == 0)
            memcpy(r->version, val, sizeof r->version);
    }
}

/* The format a range asks for, or -1 when we cannot serve it. */
static int format_of(const media_range *r)
{
    if (strcasecmp(r->type, "application/openmetrics-text") == 0)
        return (r->version[0] == '\0' || strcmp(r->version, "1.0.0") == 0 ||
                strcmp(r->version, "0.0.1") == 0) ? VIGIL_FORMAT_OPENMETRICS : -1;
    if (strcasecmp(r->type, "text/plain") == 0)
        return (r->version[0] == '\0' || strcmp(r->version, "0.0.4") == 0) ? VIGIL_FORMAT_TEXT
                                                                            : -1;
    if (strcmp(r->type, "*/*") == 0 || strcasecmp(r->type, "text/*") == 0 ||
        strcasecmp(r->type, "application/*") == 0)
        return strcasecmp(r->type, "application/*") == 0 ? VIGIL_FORMAT_OPENMETRICS
                                                         : VIGIL_FORMAT_TEXT;
    return -1;
}

VIGIL_API vigil_format vigil_expo_negotiate(const char *accept)
{
    if (accept == NULL)
        return VIGIL_FORMAT_TEXT;
    int best = -1;
    double best_q = 0;
    for (const char *s = accept; *s;) {
        const char *comma = strchr(s, ',');
        const char *e = comma ? comma : s + strlen(s);
        media_range r;
        parse_range(s, e, &r);
        int f = format_of(&r);
        if (f >= 0 && r.q > 0 && r.q > best_q) {
            best = f;
            best_q = r.q;
        }
        s = comma ? comma + 1 : e;
    }
    return best < 0 ? VIGIL_FORMAT_TEXT : (vigil_format)best;
}

VIGIL_API const char *vigil_expo_content_type(vigil_format format)
{
    return format == VIGIL_FORMAT_OPENMETRICS
               ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
               : "text/plain; version=0.0.4; charset=utf-8";
}

VIGIL_API bool vigil_expo_accepts_gzip(const char *accept_encoding)
{
    if (accept_encoding == NULL)
        return false;
    /* An explicit gzip entry decides; "*" only speaks for codings not listed (RFC 9110), so
     * "gzip;q=0, *" refuses gzip. */
    int gzip = -1, star = -1; /* -1: not listed, else whether q > 0 */
    for (const char *s = accept_encoding; *s;) {
        const char *comma = strchr(s, ',');
        const char *e = comma ? comma : s + strlen(s);
        media_range r;
        parse_range(s, e, &r);
        if (strcasecmp(r.type, "gzip") == 0 && gzip < 0)
            gzip = r.q > 0;
        else if (strcmp(r.type, "*") == 0 && star < 0)
            star = r.q > 0;
        s = comma ? comma + 1 : e;
    }
    return gzip >= 0 ? gzip == 1 : star == 1;
}
