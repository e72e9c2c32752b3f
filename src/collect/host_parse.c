/* host_parse.c — parsers for the /proc files the host collector reads: /proc/stat,
 * /proc/meminfo, /proc/loadavg, /proc/diskstats, /proc/net/dev, the mount table and udev data
 * files. They take text (already read into memory by host.c), allocate nothing and do no I/O,
 * so each can be tested on fixture text and fuzzed. Where node_exporter 1.5 (through the Go
 * procfs package) makes a choice — how a meminfo key becomes a metric name, which mount-point
 * escapes are decoded, how many diskstats columns count — the same choice is made here, and
 * said where it is made. */
#include <math.h>
#include <string.h>

#include "collect/host_int.h"

/* --- numbers --------------------------------------------------------------------------------- */

bool vigil__host_parse_u64(const char *s, const char *end, uint64_t *out)
{
    if (s >= end)
        return false;
    uint64_t v = 0;
    for (; s < end; s++) {
        if (*s < '0' || *s > '9')
            return false;
        unsigned d = (unsigned)(*s - '0');
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool vigil__host_parse_decimal(const char *s, const char *end, double *out)
{
    static const double pow10[] = {1e0, 1e1, 1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                   1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15};
    bool neg = false;
    if (s < end && (*s == '-' || *s == '+')) {
        neg = *s == '-';
        s++;
    }
    const char *dot = memchr(s, '.', (size_t)(end - s));
    if (dot == NULL) {
        uint64_t v;
        if (!vigil__host_parse_u64(s, end, &v))
            return false;
        *out = neg ? -(double)v : (double)v; /* the conversion rounds correctly */
        return true;
    }
    /* N / 10^k with N < 2^53 and 10^k exact: one correctly rounded division. */
    uint64_t n = 0;
    size_t digits = 0, frac = 0;
    for (const char *p = s; p < end; p++) {
        if (p == dot)
            continue;
        if (*p < '0' || *p > '9')
            return false;
        n = n * 10 + (uint64_t)(*p - '0');
        if (++digits > 15)
            return false;
        if (p > dot)
            frac++;
    }
    if (digits == 0 || frac >= sizeof pow10 / sizeof pow10[0])
        return false;
    double v = (double)n / pow10[frac];
    *out = neg ? -v : v;
    return true;
}

/* --- small text helpers ---------------------------------------------------------------------- */

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* The next whitespace-separated token in [*p, end) of a line; false at the end. */
static bool next_token(const char **p, const char *end, const char **tok, const char **tok_end)
{
    const char *s = *p;
    while (s < end && is_space(*s))
        s++;
    if (s >= end)
        return false;
    const char *e = s;
    while (e < end && !is_space(*e))
        e++;
    *tok = s;
    *tok_end = e;
    *p = e;
    return true;
}

static const char *line_end(const char *s)
{
    const char *nl = strchr(s, '\n');
    return nl ? nl : s + strlen(s);
}

static bool starts_with(const char *s, const char *end, const char *prefix)
{
    size_t n = strlen(prefix);
    return (size_t)(end - s) >= n && memcmp(s, prefix, n) == 0;
}

/* --- /proc/stat ------------------------------------------------------------------------------ */

/* "cpu" or "cpuN" followed by up to 10 columns. procfs scans with Sscanf("%s %f %f ..."), so a
 * line with fewer columns (older kernels) leaves the rest at 0; so does this. */
static bool parse_cpu_columns(const char *p, const char *end, uint64_t ticks[VIGIL__CPU_FIELDS])
{
    const char *tok, *tok_end;
    size_t i = 0;
    memset(ticks, 0, VIGIL__CPU_FIELDS * sizeof ticks[0]);
    while (i < VIGIL__CPU_FIELDS && next_token(&p, end, &tok, &tok_end)) {
        if (!vigil__host_parse_u64(tok, tok_end, &ticks[i]))
            return false;
        i++;
    }
    return i > 0;
}

static bool parse_single(const char *p, const char *end, uint64_t *v)
{
    const char *tok, *tok_end;
    return next_token(&p, end, &tok, &tok_end) && vigil__host_parse_u64(tok, tok_end, v);
}

bool vigil__host_parse_stat(const char *text, vigil__host_stat *out, vigil__host_cpu *cpus,
                            size_t cap, size_t *ncpus, size_t *dropped, const char **what)
{
    memset(out, 0, sizeof *out);
    size_t n = 0;
    for (const char *s = text; *s != '\0';) {
        const char *end = line_end(s);
        if (starts_with(s, end, "cpu")) {
            const char *p = s + 3;
            if (p < end && is_space(*p)) {
                if (!parse_cpu_columns(p, end, out->total)) {
                    *what = "malformed cpu line";
                    return false;
                }
                out->has_total = true;
            } else {
                const char *id_end = p;
                while (id_end < end && *id_end >= '0' && *id_end <= '9')
                    id_end++;
                uint64_t id;
                if (!vigil__host_parse_u64(p, id_end, &id) || id > 0xffffffu) {
                    *what = "malformed cpuN line";
                    return false;
                }
                if (n < cap) {
                    cpus[n].id = (unsigned)id;
                    if (!parse_cpu_columns(id_end, end, cpus[n].ticks)) {
                        *what = "malformed cpuN line";
                        return false;
                    }
                    n++;
                } else {
                    ++*dropped;
                }
            }
        } else if (starts_with(s, end, "intr ")) {
            out->has_intr = parse_single(s + 5, end, &out->intr);
        } else if (starts_with(s, end, "ctxt ")) {
            out->has_ctxt = parse_single(s + 5, end, &out->ctxt);
        } else if (starts_with(s, end, "btime ")) {
            out->has_btime = parse_single(s + 6, end, &out->btime);
        } else if (starts_with(s, end, "processes ")) {
            out->has_processes = parse_single(s + 10, end, &out->processes);
        } else if (starts_with(s, end, "procs_running ")) {
            out->has_running = parse_single(s + 14, end, &out->procs_running);
        } else if (starts_with(s, end, "procs_blocked ")) {
            out->has_blocked = parse_single(s + 14, end, &out->procs_blocked);
        }
        s = *end ? end + 1 : end;
    }
    *ncpus = n;
    return true;
}

/* --- /proc/meminfo --------------------------------------------------------------------------- */

/* node_exporter: key = field without ':', then regexp `\((.*)\)` replaced by "_$1" (greedy, so
 * "a(b)c(d)" becomes "a_b)c(d"), then "_bytes" when a unit follows the value. Returns false when
 * the result would not be a valid metric-name part. */
static bool meminfo_name(const char *key, size_t klen, bool bytes, char *out, size_t cap)
{
    const char *lp = memchr(key, '(', klen);
    const char *rp = NULL;
    for (size_t i = klen; lp && i > (size_t)(lp - key); i--) {
        if (key[i - 1] == ')') {
            rp = key + i - 1;
            break;
        }
    }
    size_t o = 0;
    for (size_t i = 0; i < klen; i++) {
        const char *c = key + i;
        char ch;
        if (rp && c == lp)
            ch = '_';
        else if (rp && c == rp)
            continue;
        else
            ch = *c;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_'))
            return false;
        if (o + 1 >= cap)
            return false;
        out[o++] = ch;
    }
    if (o == 0)
        return false;
    if (bytes) {
        if (o + sizeof "_bytes" > cap)
            return false;
        memcpy(out + o, "_bytes", sizeof "_bytes");
    } else {
        out[o] = '\0';
    }
    return true;
}

size_t vigil__host_parse_meminfo(const char *text, vigil__host_meminfo_field *fields, size_t cap,
                                 size_t *dropped)
{
    size_t n = 0;
    for (const char *s = text; *s != '\0';) {
        const char *end = line_end(s);
        const char *p = s, *tok[4], *tok_end[4];
        size_t nt = 0;
        while (nt < 4 && next_token(&p, end, &tok[nt], &tok_end[nt]))
            nt++;
        s = *end ? end + 1 : end;
        if (nt == 0)
            continue; /* empty line: procfs skips these too */
        double v;
        char name[sizeof fields[0].name];
        size_t klen = (size_t)(tok_end[0] - tok[0]); /* with its ':' */
        if (nt < 2 || nt > 3 || klen < 2 || tok[0][klen - 1] != ':' ||
            !vigil__host_parse_decimal(tok[1], tok_end[1], &v) ||
            !meminfo_name(tok[0], klen - 1, nt == 3, name, sizeof name)) {
            ++*dropped;
            continue;
        }
        if (nt == 3)
            v *= 1024; /* node_exporter presumes kB */
        /* A repeated key would be a second family of the same name; the kernel never repeats
         * one, so compare cheap hashes first and names only when they collide. */
        uint64_t hash = 1469598103934665603u; /* FNV-1a */
        for (const char *c = name; *c; c++)
            hash = (hash ^ (unsigned char)*c) * 1099511628211u;
        bool repeat = false;
        for (size_t i = 0; i < n && !repeat; i++)
            repeat = fields[i].hash == hash && strcmp(fields[i].name, name) == 0;
        if (repeat || n >= cap) {
            ++*dropped;
            continue;
        }
        memcpy(fields[n].name, name, sizeof name);
        fields[n].hash = hash;
        fields[n].value = v;
        n++;
    }
    return n;
}

double vigil__host_meminfo_get(const vigil__host_meminfo_field *fields, size_t n, const char *name)
{
    for (size_t i = 0; i < n; i++) {
        if (strcmp(fields[i].name, name) == 0)
            return fields[i].value;
    }
    return NAN;
}

/* --- /proc/loadavg --------------------------------------------------------------------------- */

bool vigil__host_parse_loadavg(const char *text, double load[3])
{
    const char *p = text, *end = line_end(text), *tok, *tok_end;
    for (int i = 0; i < 3; i++) {
        if (!next_token(&p, end, &tok, &tok_end) ||
            !vigil__host_parse_decimal(tok, tok_end, &load[i]))
            return false;
    }
    return true;
}

/* --- /proc/diskstats ------------------------------------------------------------------------- */

bool vigil__host_parse_disk_line(const char *line, size_t len, vigil__host_disk *out)
{
    const char *p = line, *end = line + len, *tok, *tok_end;
    uint64_t major, minor;
    if (!next_token(&p, end, &tok, &tok_end) || !vigil__host_parse_u64(tok, tok_end, &major) ||
        major > 0xffffffffu)
        return false;
    if (!next_token(&p, end, &tok, &tok_end) || !vigil__host_parse_u64(tok, tok_end, &minor) ||
        minor > 0xffffffffu)
        return false;
    if (!next_token(&p, end, &tok, &tok_end) || (size_t)(tok_end - tok) >= sizeof out->name)
        return false;
    out->major = (unsigned)major;
    out->minor = (unsigned)minor;
    memcpy(out->name, tok, (size_t)(tok_end - tok));
    out->name[tok_end - tok] = '\0';
    /* procfs scans at most 20 fields in all; node_exporter exposes the first (fields - 3). */
    unsigned n = 0;
    while (n < VIGIL__DISK_FIELDS && next_token(&p, end, &tok, &tok_end)) {
        if (!vigil__host_parse_u64(tok, tok_end, &out->f[n]))
            return false;
        n++;
    }
    if (n < 11)
        return false;
    for (unsigned i = n; i < VIGIL__DISK_FIELDS; i++)
        out->f[i] = 0;
    out->nfields = n;
    return true;
}

/* --- /proc/net/dev --------------------------------------------------------------------------- */

bool vigil__host_parse_netdev_line(const char *line, size_t len, vigil__host_netdev *out)
{
    const char *end = line + len, *colon = NULL;
    for (const char *c = end; c > line; c--) {
        if (c[-1] == ':') {
            colon = c - 1;
            break;
        }
    }
    if (colon == NULL)
        return false;
    const char *name = line;
    while (name < colon && is_space(*name))
        name++;
    size_t nlen = (size_t)(colon - name);
    if (nlen == 0 || nlen >= sizeof out->name || memchr(name, '|', nlen) != NULL)
        return false;
    const char *p = colon + 1, *tok, *tok_end;
    for (unsigned i = 0; i < VIGIL__NETDEV_FIELDS; i++) {
        if (!next_token(&p, end, &tok, &tok_end) ||
            !vigil__host_parse_u64(tok, tok_end, &out->f[i]))
            return false;
    }
    memcpy(out->name, name, nlen);
    out->name[nlen] = '\0';
    return true;
}

/* --- mount table ----------------------------------------------------------------------------- */

/* In place: "\040" -> ' ', "\011" -> '\t'; everything else unchanged (node_exporter 1.5). */
static void unescape_mountpoint(char *s)
{
    char *w = s;
    for (const char *r = s; *r;) {
        if (r[0] == '\\' && r[1] == '0' &&
            ((r[2] == '4' && r[3] == '0') || (r[2] == '1' && r[3] == '1'))) {
            *w++ = r[2] == '4' ? ' ' : '\t';
            r += 4;
        } else {
            *w++ = *r++;
        }
    }
    *w = '\0';
}

bool vigil__host_parse_mount_line(char *line, vigil__host_mount *out)
{
    char *f[4];
    char *p = line;
    for (int i = 0; i < 4; i++) {
        while (*p && is_space(*p))
            p++;
        if (*p == '\0')
            return false;
        f[i] = p;
        while (*p && !is_space(*p))
            p++;
        if (*p)
            *p++ = '\0';
    }
    unescape_mountpoint(f[1]);
    out->device = f[0];
    out->mountpoint = f[1];
    out->fstype = f[2];
    out->options = f[3];
    return true;
}

bool vigil__host_mount_readonly(const char *options)
{
    for (const char *s = options; *s;) {
        const char *c = strchr(s, ',');
        size_t n = c ? (size_t)(c - s) : strlen(s);
        if (n == 2 && s[0] == 'r' && s[1] == 'o')
            return true;
        s += n;
        if (*s == ',')
            s++;
    }
    return false;
}

/* --- udev data ------------------------------------------------------------------------------- */

void vigil__host_parse_udev(char *text, vigil__host_udev *out)
{
    const char *scsi_serial = "", *short_serial = "";
    out->path = out->wwn = out->model = out->serial = out->revision = "";
    for (char *s = text; *s;) {
        char *end = strchr(s, '\n');
        if (end)
            *end = '\0';
        if (s[0] == 'E' && s[1] == ':') {
            char *kv = s + 2, *eq = strchr(kv, '=');
            if (eq) {
                *eq = '\0';
                const char *v = eq + 1;
                if (strcmp(kv, "ID_PATH") == 0)
                    out->path = v;
                else if (strcmp(kv, "ID_WWN") == 0)
                    out->wwn = v;
                else if (strcmp(kv, "ID_MODEL") == 0)
                    out->model = v;
                else if (strcmp(kv, "SCSI_IDENT_SERIAL") == 0)
                    scsi_serial = v;
                else if (strcmp(kv, "ID_SERIAL_SHORT") == 0)
                    short_serial = v;
                else if (strcmp(kv, "ID_REVISION") == 0)
                    out->revision = v;
            }
        }
        if (end == NULL)
            break;
        s = end + 1;
    }
    out->serial = *scsi_serial ? scsi_serial : short_serial;
}
