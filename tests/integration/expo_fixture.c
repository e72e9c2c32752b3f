/* expo_fixture.c — serves a registry described by a case file, for the test
 * integration/python_parsers_read_back_exact_values (python_parsers.py writes the cases and
 * checks what comes back over HTTP).
 *
 *   vigil-integ-expo-fixture CASEFILE
 *
 * builds a fresh registry from CASEFILE, serves it with vigil_http_server on 127.0.0.1 (port 0),
 * prints "URL http://127.0.0.1:PORT/metrics" and serves until its stdin reaches end of file.
 * Every string in the case file is hex-encoded UTF-8 behind an "x" (so "x" alone is the empty
 * string) and every double is the 16 hex digits of its IEEE-754 bits: the file needs no escaping
 * and a value reaches the library exactly as the script chose it. One record per line, fields
 * separated by single spaces:
 *
 *   F TYPE NAME HELP UNIT NLABELS LNAME... NCONST CNAME CVALUE... NBUCKETS BOUNDBITS...
 *       registers a family; TYPE is counter|gauge|histogram; HELP and UNIT may be "-" (none)
 *   S NAME NVALUES VALUE... OP ARGS...
 *       finds or creates the child of family NAME with these label values, then applies OP:
 *         none                  nothing (the child exists with its initial value)
 *         set BITS              vigil_gauge_set
 *         add BITS...           vigil_counter_add, once per argument, in order
 *         addu N...             vigil_counter_add_u64 (decimal), once per argument
 *         obs BITS...           vigil_histogram_observe, once per argument, in order
 *
 * Anything malformed or refused by the library ends the program with status 1 and a message
 * naming the line, before anything is served.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <vigil.h>

#define MAX_TOKENS 4096

typedef struct line_ctx {
    const char *path;
    long lineno;
    char *tok[MAX_TOKENS];
    size_t ntok;
    size_t at;
    char *owned[MAX_TOKENS]; /* decoded strings of this line, freed after it */
    size_t nowned;
} line_ctx;

static _Noreturn void die(const line_ctx *c, const char *what)
{
    if (c != NULL)
        fprintf(stderr, "expo_fixture: %s:%ld: %s\n", c->path, c->lineno, what);
    else
        fprintf(stderr, "expo_fixture: %s\n", what);
    exit(1);
}

static _Noreturn void die_status(const line_ctx *c, const char *call, vigil_status st)
{
    char msg[1024];
    snprintf(msg, sizeof msg, "%s: %s (%s)", call, vigil_strerror(st), vigil_errmsg());
    die(c, msg);
}

static const char *next(line_ctx *c)
{
    if (c->at >= c->ntok)
        die(c, "line ends early");
    return c->tok[c->at++];
}

static int hexval(char ch)
{
    if (ch >= '0' && ch <= '9')
        return ch - '0';
    if (ch >= 'a' && ch <= 'f')
        return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F')
        return ch - 'A' + 10;
    return -1;
}

/* "x" + hex -> a NUL-terminated string owned by the line; "-" -> NULL when allow_none. */
static const char *next_str(line_ctx *c, int allow_none)
{
    const char *t = next(c);
    if (allow_none && strcmp(t, "-") == 0)
        return NULL;
    size_t n = strlen(t);
    if (t[0] != 'x' || (n - 1) % 2 != 0)
        die(c, "malformed string field (want x + hex digits)");
    char *s = malloc((n - 1) / 2 + 1);
    if (s == NULL)
        die(c, "out of memory");
    size_t k = 0;
    for (size_t i = 1; i < n; i += 2) {
        int hi = hexval(t[i]), lo = hexval(t[i + 1]);
        if (hi < 0 || lo < 0)
            die(c, "bad hex digit in string field");
        s[k++] = (char)(hi * 16 + lo);
    }
    s[k] = '\0';
    if (strlen(s) != k)
        die(c, "string field contains NUL");
    if (c->nowned == MAX_TOKENS)
        die(c, "too many fields");
    c->owned[c->nowned++] = s;
    return s;
}

static double next_double(line_ctx *c)
{
    const char *t = next(c);
    if (strlen(t) != 16)
        die(c, "a double must be 16 hex digits");
    uint64_t bits = 0;
    for (int i = 0; i < 16; i++) {
        int v = hexval(t[i]);
        if (v < 0)
            die(c, "bad hex digit in double");
        bits = bits << 4 | (uint64_t)v;
    }
    double d;
    memcpy(&d, &bits, sizeof d);
    return d;
}

static unsigned long long next_u64(line_ctx *c)
{
    const char *t = next(c);
    char *end;
    errno = 0;
    unsigned long long v = strtoull(t, &end, 10);
    if (errno != 0 || *end != '\0' || t[0] == '-' || t[0] == '\0')
        die(c, "bad unsigned number");
    return v;
}

static size_t next_count(line_ctx *c, size_t max)
{
    unsigned long long v = next_u64(c);
    if (v > max)
        die(c, "count too large");
    return (size_t)v;
}

static void family_line(line_ctx *c, vigil_registry *reg)
{
    const char *type = next(c);
    vigil_metric_type t;
    if (strcmp(type, "counter") == 0)
        t = VIGIL_COUNTER;
    else if (strcmp(type, "gauge") == 0)
        t = VIGIL_GAUGE;
    else if (strcmp(type, "histogram") == 0)
        t = VIGIL_HISTOGRAM;
    else
        die(c, "unknown family type");

    vigil_metric_opts o;
    vigil_metric_opts_init(&o);
    o.name = next_str(c, 0);
    o.help = next_str(c, 1);
    o.unit = next_str(c, 1);
    const char *names[VIGIL_MAX_LABELS];
    o.label_count = next_count(c, VIGIL_MAX_LABELS);
    for (size_t i = 0; i < o.label_count; i++)
        names[i] = next_str(c, 0);
    o.label_names = names;
    vigil_label consts[VIGIL_MAX_LABELS];
    o.const_label_count = next_count(c, VIGIL_MAX_LABELS);
    for (size_t i = 0; i < o.const_label_count; i++) {
        consts[i].name = next_str(c, 0);
        consts[i].value = next_str(c, 0);
    }
    o.const_labels = consts;
    double bounds[VIGIL_MAX_BUCKETS];
    o.bucket_count = next_count(c, VIGIL_MAX_BUCKETS);
    for (size_t i = 0; i < o.bucket_count; i++)
        bounds[i] = next_double(c);
    o.buckets = o.bucket_count > 0 ? bounds : NULL;

    vigil_family *fam;
    vigil_status st = vigil_family_new(reg, t, &o, &fam);
    if (st != VIGIL_OK)
        die_status(c, "vigil_family_new", st);
}

static void sample_line(line_ctx *c, vigil_registry *reg)
{
    const char *name = next_str(c, 0);
    vigil_family *fam = vigil_registry_find(reg, name);
    if (fam == NULL)
        die(c, "no such family (an F line must come first)");
    const char *values[VIGIL_MAX_LABELS];
    size_t n = next_count(c, VIGIL_MAX_LABELS);
    for (size_t i = 0; i < n; i++)
        values[i] = next_str(c, 0);
    const char *op = next(c);
    vigil_status st;

    switch (vigil_family_type(fam)) {
    case VIGIL_COUNTER: {
        vigil_counter *ctr;
        if ((st = vigil_family_counter(fam, n, values, &ctr)) != VIGIL_OK)
            die_status(c, "vigil_family_counter", st);
        if (strcmp(op, "add") == 0) {
            while (c->at < c->ntok)
                if ((st = vigil_counter_add(ctr, next_double(c))) != VIGIL_OK)
                    die_status(c, "vigil_counter_add", st);
        } else if (strcmp(op, "addu") == 0) {
            while (c->at < c->ntok)
                vigil_counter_add_u64(ctr, (uint64_t)next_u64(c));
        } else if (strcmp(op, "none") != 0) {
            die(c, "a counter takes none, add or addu");
        }
        break;
    }
    case VIGIL_GAUGE: {
        vigil_gauge *g;
        if ((st = vigil_family_gauge(fam, n, values, &g)) != VIGIL_OK)
            die_status(c, "vigil_family_gauge", st);
        if (strcmp(op, "set") == 0)
            vigil_gauge_set(g, next_double(c));
        else if (strcmp(op, "none") != 0)
            die(c, "a gauge takes none or set");
        break;
    }
    case VIGIL_HISTOGRAM: {
        vigil_histogram *h;
        if ((st = vigil_family_histogram(fam, n, values, &h)) != VIGIL_OK)
            die_status(c, "vigil_family_histogram", st);
        if (strcmp(op, "obs") == 0) {
            while (c->at < c->ntok)
                vigil_histogram_observe(h, next_double(c));
        } else if (strcmp(op, "none") != 0) {
            die(c, "a histogram takes none or obs");
        }
        break;
    }
    default: die(c, "family of an unexpected type");
    }
}

static void load_cases(const char *path, vigil_registry *reg)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "expo_fixture: cannot open %s: %s\n", path, strerror(errno));
        exit(1);
    }
    line_ctx c = {.path = path};
    char *line = NULL;
    size_t cap = 0;
    while (getline(&line, &cap, f) != -1) {
        c.lineno++;
        c.ntok = c.at = c.nowned = 0;
        char *save = NULL;
        for (char *t = strtok_r(line, " \r\n", &save); t != NULL;
             t = strtok_r(NULL, " \r\n", &save)) {
            if (c.ntok == MAX_TOKENS)
                die(&c, "too many fields");
            c.tok[c.ntok++] = t;
        }
        if (c.ntok == 0)
            continue;
        const char *kind = next(&c);
        if (strcmp(kind, "F") == 0)
            family_line(&c, reg);
        else if (strcmp(kind, "S") == 0)
            sample_line(&c, reg);
        else
            die(&c, "a line starts with F or S");
        if (c.at != c.ntok)
            die(&c, "extra fields at the end of the line");
        for (size_t i = 0; i < c.nowned; i++)
            free(c.owned[i]);
    }
    free(line);
    fclose(f);
}

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: %s CASEFILE\n", argv[0]);
        return 2;
    }
    vigil_registry *reg;
    vigil_status st = vigil_registry_new(&reg);
    if (st != VIGIL_OK)
        die_status(NULL, "vigil_registry_new", st);
    load_cases(argv[1], reg);

    vigil_http_options ho;
    vigil_http_options_init(&ho);
    ho.listen = "127.0.0.1:0";
    vigil_http_server *srv;
    if ((st = vigil_http_server_new(&ho, &srv)) != VIGIL_OK)
        die_status(NULL, "vigil_http_server_new", st);
    if ((st = vigil_http_server_serve_metrics(srv, "/metrics", reg)) != VIGIL_OK)
        die_status(NULL, "vigil_http_server_serve_metrics", st);
    if ((st = vigil_http_server_start(srv)) != VIGIL_OK)
        die_status(NULL, "vigil_http_server_start", st);
    unsigned port = vigil_http_server_port(srv);
    if (port == 0)
        die(NULL, "vigil_http_server_port gave 0 after a successful start");
    printf("URL http://127.0.0.1:%u/metrics\n", port);
    fflush(stdout);

    /* Serve until the driver closes our stdin (or dies, which closes it too). */
    char buf[256];
    ssize_t r;
    while ((r = read(STDIN_FILENO, buf, sizeof buf)) != 0) {
        if (r < 0 && errno != EINTR)
            break;
    }
    vigil_http_server_free(srv);
    vigil_registry_free(reg);
    return 0;
}
