/* wal.c — the write-ahead log: segment files, record framing, buffered appends, syncs off the
 * append path, and replay that repairs a damaged tail instead of refusing to start.
 *
 * Appends only copy into a fixed user-space buffer under a mutex (the checksum is computed
 * before taking it), so the head's ingestion pays no syscall per record. A segment that fills up
 * is handed to the next sync instead of being fsynced on the spot, and sync itself runs its
 * fdatasync calls on duplicated descriptors after releasing the append lock: a slow disk delays
 * the sync, never the appenders. Every write that fails part-way leaves the file plus the buffer
 * a consistent stream (the unwritten rest stays buffered, or a direct write is cut back), so an
 * I/O error costs the record being appended, not the log after it.
 *
 * Replay maps each segment read-only and checks each record before the callback sees it. The
 * first damage ends the log: since a record carries no sequence number, anything after a gap
 * could not be told apart from garbage, and a contiguous prefix is what the head can rebuild.
 * The repair (truncate, delete later segments, fsync) happens only after the callback has seen
 * every intact record, so a failing callback leaves the directory as it was. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/core_int.h"
#include "tsdb/wal.h"

#define SEGMENT_VERSION 1
#define PENDING_MAX 8              /* filled segments awaiting the next sync */
#define LIST_MAX ((size_t)1 << 20) /* segments one directory may hold */
#define NAME_SIZE 16               /* 8 digits, room for any uint32_t */

static const uint8_t segment_magic[4] = {'V', 'W', 'A', 'L'};

struct vigil__tsdb_wal {
    pthread_mutex_t lock;      /* guards every field below except those marked otherwise */
    pthread_mutex_t sync_lock; /* held through a whole sync: a sync that returns has covered
                                  the segments an earlier, concurrent sync took from pending */
    char *dir;                 /* immutable after open */
    int dir_fd;                /* immutable after open */
    int fd;                    /* current segment; -1 once closed */
    uint32_t segment;
    uint64_t segment_bytes; /* current segment's size, buffered bytes included */
    uint64_t segment_records;
    uint8_t *buf; /* buf_cap bytes, allocated once */
    size_t buf_len;
    size_t buf_cap;
    int pending[PENDING_MAX]; /* filled segments not yet fdatasynced */
    size_t npending;
    bool dirty;              /* bytes reached the kernel since the last sync took its fds */
    bool dir_dirty;          /* a segment was created since then */
    int sync_err;            /* errno of an fdatasync done outside sync, reported by the next */
    uint64_t last_sync_mono; /* when the last sync finished, vigil__mono_ns */
    vigil__tsdb_wal_options opts; /* immutable after open */
    vigil__tsdb_wal_stats stats;
};

/* ---- small helpers ----------------------------------------------------------------------- */

static void put_u32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static uint32_t get_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* zlib's crc32 takes an unsigned int length; record payloads are capped far below that. */
static uint32_t crc_update(uint32_t crc, const void *data, size_t len)
{
    return (uint32_t)crc32(crc, data, (uInt)len);
}

static uint32_t record_crc(uint8_t type, const void *payload, size_t len)
{
    uint32_t crc = crc_update((uint32_t)crc32(0L, Z_NULL, 0), &type, 1);
    return len > 0 ? crc_update(crc, payload, len) : crc;
}

static void segment_name(char out[NAME_SIZE], uint32_t n)
{
    snprintf(out, NAME_SIZE, "%0*" PRIu32, VIGIL__TSDB_WAL_NAME_DIGITS, n);
}

static bool parse_segment_name(const char *s, uint32_t *n)
{
    uint32_t v = 0;
    for (int i = 0; i < VIGIL__TSDB_WAL_NAME_DIGITS; i++) {
        if (s[i] < '0' || s[i] > '9')
            return false;
        v = v * 10 + (uint32_t)(s[i] - '0');
    }
    if (s[VIGIL__TSDB_WAL_NAME_DIGITS] != '\0' || v == 0)
        return false;
    *n = v;
    return true;
}

static void segment_header(uint8_t out[VIGIL__TSDB_WAL_SEGMENT_HEADER])
{
    memcpy(out, segment_magic, 4);
    out[4] = SEGMENT_VERSION;
    out[5] = out[6] = out[7] = 0;
    put_u32(out + 8, crc_update((uint32_t)crc32(0L, Z_NULL, 0), out, 8));
}

/* write() until done; *done gets what was written even on failure. Returns 0 or an errno. */
static int write_all(int fd, const uint8_t *p, size_t len, size_t *done)
{
    size_t off = 0;
    int err = 0;
    while (off < len) {
        ssize_t n = write(fd, p + off, len - off);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            err = errno;
            break;
        }
        off += (size_t)n;
    }
    *done = off;
    return err;
}

static int compare_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
}

/* Lists the segments of an open directory. It reads through a new open file description, not
 * a dup of dir_fd: a dup would share the read position with concurrent listings. */
static vigil_status list_fd(int dir_fd, const char *dir, uint32_t **numbers, size_t *count)
{
    *numbers = NULL;
    *count = 0;
    int fd = openat(dir_fd, ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    DIR *d = fd < 0 ? NULL : fdopendir(fd);
    if (d == NULL) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        return vigil__fail(VIGIL_EIO, "WAL directory %s: cannot list: %s", dir, strerror(err));
    }
    uint32_t *v = NULL;
    size_t n = 0, cap = 0;
    vigil_status st = VIGIL_OK;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        uint32_t num;
        if (!parse_segment_name(e->d_name, &num))
            continue;
        if (n == cap) {
            if (cap == LIST_MAX) {
                st = vigil__fail(VIGIL_ELIMIT, "WAL directory %s: more than %zu segments", dir,
                                 LIST_MAX);
                break;
            }
            size_t ncap = cap == 0 ? 64 : cap * 2;
            uint32_t *nv = vigil__realloc(v, ncap * sizeof *nv);
            if (nv == NULL) {
                st = vigil__fail(VIGIL_ENOMEM, "WAL directory %s: listing segments", dir);
                break;
            }
            v = nv;
            cap = ncap;
        }
        v[n++] = num;
    }
    closedir(d);
    if (st != VIGIL_OK) {
        vigil__free(v);
        return st;
    }
    if (n > 1)
        qsort(v, n, sizeof *v, compare_u32);
    *numbers = v;
    *count = n;
    return VIGIL_OK;
}

/* Opens dir as a directory; *fd is -1 with VIGIL_OK when it does not exist and !create. */
static vigil_status open_dir(const char *dir, bool create, int *fd)
{
    if (create && mkdir(dir, 0755) != 0 && errno != EEXIST)
        return vigil__fail(VIGIL_EIO, "WAL directory %s: cannot create: %s", dir, strerror(errno));
    *fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*fd >= 0)
        return VIGIL_OK;
    if (errno == ENOENT && !create)
        return VIGIL_OK;
    return vigil__fail(VIGIL_EIO, "WAL directory %s: cannot open: %s", dir, strerror(errno));
}

vigil_status vigil__tsdb_wal_list(const char *dir, uint32_t **numbers, size_t *count)
{
    if (dir == NULL || numbers == NULL || count == NULL)
        return vigil__fail(VIGIL_EINVAL, "WAL list: NULL argument");
    *numbers = NULL;
    *count = 0;
    int fd;
    vigil_status st = open_dir(dir, false, &fd);
    if (st != VIGIL_OK || fd < 0)
        return st;
    st = list_fd(fd, dir, numbers, count);
    close(fd);
    return st;
}

/* ---- writing ------------------------------------------------------------------------------- */

void vigil__tsdb_wal_options_init(vigil__tsdb_wal_options *opts)
{
    if (opts == NULL)
        return;
    opts->segment_size = (uint64_t)32 << 20;
    opts->buffer_size = (size_t)256 << 10;
    opts->sync_interval_ms = 1000;
}

static vigil_status check_options(const vigil__tsdb_wal_options *o)
{
    if (o->segment_size < VIGIL__TSDB_WAL_SEGMENT_MIN ||
        o->segment_size > VIGIL__TSDB_WAL_SEGMENT_MAX)
        return vigil__fail(
            VIGIL_EINVAL, "WAL segment_size %" PRIu64 ": must be between %" PRIu64 " and %" PRIu64,
            o->segment_size, VIGIL__TSDB_WAL_SEGMENT_MIN, VIGIL__TSDB_WAL_SEGMENT_MAX);
    if (o->buffer_size < VIGIL__TSDB_WAL_BUFFER_MIN || o->buffer_size > VIGIL__TSDB_WAL_BUFFER_MAX)
        return vigil__fail(VIGIL_EINVAL, "WAL buffer_size %zu: must be between %zu and %zu",
                           o->buffer_size, VIGIL__TSDB_WAL_BUFFER_MIN, VIGIL__TSDB_WAL_BUFFER_MAX);
    return VIGIL_OK;
}

/* Creates segment n with its header written straight to the file, so that a segment which
 * exists is never shorter than its header unless the process died inside this function. */
static vigil_status create_segment(vigil__tsdb_wal *w, uint32_t n, int *out)
{
    char name[NAME_SIZE];
    segment_name(name, n);
    int fd = openat(w->dir_fd, name, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0)
        return vigil__fail(VIGIL_EIO, "WAL segment %s/%s: cannot create: %s", w->dir, name,
                           strerror(errno));
    uint8_t hdr[VIGIL__TSDB_WAL_SEGMENT_HEADER];
    segment_header(hdr);
    size_t done;
    int err = write_all(fd, hdr, sizeof hdr, &done);
    if (err != 0) {
        close(fd);
        unlinkat(w->dir_fd, name, 0);
        return vigil__fail(VIGIL_EIO, "WAL segment %s/%s: cannot write its header: %s", w->dir,
                           name, strerror(err));
    }
    *out = fd;
    return VIGIL_OK;
}

static vigil_status flush_locked(vigil__tsdb_wal *w)
{
    if (w->buf_len == 0)
        return VIGIL_OK;
    size_t done;
    int err = write_all(w->fd, w->buf, w->buf_len, &done);
    if (done > 0) {
        /* What did not reach the kernel stays buffered, right after what did. */
        memmove(w->buf, w->buf + done, w->buf_len - done);
        w->buf_len -= done;
        w->dirty = true;
    }
    if (err != 0)
        return vigil__fail(VIGIL_EIO, "WAL segment %s/%0*" PRIu32 ": write failed: %s", w->dir,
                           VIGIL__TSDB_WAL_NAME_DIGITS, w->segment, strerror(err));
    return VIGIL_OK;
}

/* Hands a filled segment's descriptor to the next sync. When many pile up without a sync, the
 * oldest is synced here: rare, and bounded work beats an unbounded list of open files. Its
 * failure is a durability problem, so it is reported by the next sync, not by this append. */
static void retire_fd(vigil__tsdb_wal *w, int fd)
{
    if (w->npending == PENDING_MAX) {
        int old = w->pending[0];
        if (fdatasync(old) != 0 && w->sync_err == 0)
            w->sync_err = errno;
        close(old);
        memmove(w->pending, w->pending + 1, (PENDING_MAX - 1) * sizeof w->pending[0]);
        w->npending--;
    }
    w->pending[w->npending++] = fd;
}

static vigil_status next_segment_locked(vigil__tsdb_wal *w)
{
    if (w->segment >= VIGIL__TSDB_WAL_SEGMENT_NUMBER_MAX)
        return vigil__fail(VIGIL_ELIMIT, "WAL directory %s: segment numbers exhausted", w->dir);
    vigil_status st = flush_locked(w);
    if (st != VIGIL_OK)
        return st;
    int fd;
    st = create_segment(w, w->segment + 1, &fd);
    if (st != VIGIL_OK)
        return st;
    /* The dirty flag is not kept per file, so the old segment is always synced once more. */
    retire_fd(w, w->fd);
    w->fd = fd;
    w->segment++;
    w->segment_bytes = VIGIL__TSDB_WAL_SEGMENT_HEADER;
    w->segment_records = 0;
    w->dir_dirty = true;
    w->dirty = true;
    w->stats.segments_created++;
    w->stats.segment = w->segment;
    w->stats.bytes += VIGIL__TSDB_WAL_SEGMENT_HEADER;
    return VIGIL_OK;
}

vigil_status vigil__tsdb_wal_open(const char *dir, const vigil__tsdb_wal_options *opts,
                                  vigil__tsdb_wal **out)
{
    if (out == NULL || dir == NULL)
        return vigil__fail(VIGIL_EINVAL, "WAL open: NULL argument");
    *out = NULL;
    vigil__tsdb_wal_options o;
    vigil__tsdb_wal_options_init(&o);
    if (opts != NULL)
        o = *opts;
    vigil_status st = check_options(&o);
    if (st != VIGIL_OK)
        return st;
    vigil__tsdb_wal *w = vigil__calloc(1, sizeof *w);
    if (w == NULL)
        return vigil__fail(VIGIL_ENOMEM, "WAL open %s", dir);
    w->opts = o;
    w->fd = -1;
    w->dir_fd = -1;
    w->dir = vigil__strdup(dir);
    w->buf = vigil__malloc(o.buffer_size);
    w->buf_cap = o.buffer_size;
    if (w->dir == NULL || w->buf == NULL) {
        st = vigil__fail(VIGIL_ENOMEM, "WAL open %s", dir);
        goto fail;
    }
    st = open_dir(dir, true, &w->dir_fd);
    if (st != VIGIL_OK)
        goto fail;
    uint32_t *nums;
    size_t n;
    st = list_fd(w->dir_fd, dir, &nums, &n);
    if (st != VIGIL_OK)
        goto fail;
    uint32_t last = n > 0 ? nums[n - 1] : 0;
    vigil__free(nums);
    if (last >= VIGIL__TSDB_WAL_SEGMENT_NUMBER_MAX) {
        st = vigil__fail(VIGIL_ELIMIT, "WAL directory %s: segment numbers exhausted", dir);
        goto fail;
    }
    st = create_segment(w, last + 1, &w->fd);
    if (st != VIGIL_OK)
        goto fail;
    w->segment = last + 1;
    w->segment_bytes = VIGIL__TSDB_WAL_SEGMENT_HEADER;
    w->dir_dirty = true;
    w->dirty = true;
    w->last_sync_mono = vigil__mono_ns();
    w->stats.segment = w->segment;
    w->stats.segments_created = 1;
    w->stats.bytes = VIGIL__TSDB_WAL_SEGMENT_HEADER;
    pthread_mutex_init(&w->lock, NULL);
    pthread_mutex_init(&w->sync_lock, NULL);
    *out = w;
    return VIGIL_OK;
fail:
    if (w->dir_fd >= 0)
        close(w->dir_fd);
    vigil__free(w->buf);
    vigil__free(w->dir);
    vigil__free(w);
    return st;
}

/* A record too big for the buffer goes straight to the file; if that write fails part-way, the
 * file is cut back so that it still ends on a record boundary. */
static vigil_status write_direct_locked(vigil__tsdb_wal *w, const uint8_t *hdr,
                                        const uint8_t *payload, size_t len)
{
    vigil_status st = flush_locked(w);
    if (st != VIGIL_OK)
        return st;
    size_t done;
    int err = write_all(w->fd, hdr, VIGIL__TSDB_WAL_RECORD_HEADER, &done);
    if (err == 0)
        err = write_all(w->fd, payload, len, &done);
    w->dirty = true;
    if (err == 0)
        return VIGIL_OK;
    if (ftruncate(w->fd, (off_t)w->segment_bytes) != 0 ||
        lseek(w->fd, (off_t)w->segment_bytes, SEEK_SET) < 0)
        err = errno; /* the next replay will cut the torn record off */
    return vigil__fail(VIGIL_EIO, "WAL segment %s/%0*" PRIu32 ": write failed: %s", w->dir,
                       VIGIL__TSDB_WAL_NAME_DIGITS, w->segment, strerror(err));
}

vigil_status vigil__tsdb_wal_append(vigil__tsdb_wal *w, uint8_t type, const void *payload,
                                    size_t len)
{
    if (w == NULL || (payload == NULL && len > 0))
        return vigil__fail(VIGIL_EINVAL, "WAL append: NULL argument");
    if (type == 0)
        return vigil__fail(VIGIL_EINVAL, "WAL append: record type 0 is reserved");
    if (len > VIGIL__TSDB_WAL_RECORD_MAX)
        return vigil__fail(VIGIL_EINVAL,
                           "WAL append: record of %zu bytes exceeds the %" PRIu32 "-byte limit",
                           len, VIGIL__TSDB_WAL_RECORD_MAX);
    uint8_t hdr[VIGIL__TSDB_WAL_RECORD_HEADER];
    put_u32(hdr, (uint32_t)len);
    hdr[4] = type;
    put_u32(hdr + 5, record_crc(type, payload, len));
    size_t framed = sizeof hdr + len;

    pthread_mutex_lock(&w->lock);
    vigil_status st = VIGIL_OK;
    if (w->fd < 0) {
        st = vigil__fail(VIGIL_ESTATE, "WAL append: the log is closed");
        goto out;
    }
    if (w->segment_records > 0 && w->segment_bytes + framed > w->opts.segment_size) {
        if ((st = next_segment_locked(w)) != VIGIL_OK)
            goto out;
    }
    if (framed > w->buf_cap - w->buf_len && (st = flush_locked(w)) != VIGIL_OK)
        goto out;
    if (framed <= w->buf_cap - w->buf_len) {
        memcpy(w->buf + w->buf_len, hdr, sizeof hdr);
        if (len > 0)
            memcpy(w->buf + w->buf_len + sizeof hdr, payload, len);
        w->buf_len += framed;
    } else if ((st = write_direct_locked(w, hdr, payload, len)) != VIGIL_OK) {
        goto out;
    }
    w->segment_bytes += framed;
    w->segment_records++;
    w->stats.records++;
    w->stats.bytes += framed;
out:
    pthread_mutex_unlock(&w->lock);
    return st;
}

vigil_status vigil__tsdb_wal_flush(vigil__tsdb_wal *w)
{
    if (w == NULL)
        return vigil__fail(VIGIL_EINVAL, "WAL flush: NULL log");
    pthread_mutex_lock(&w->lock);
    vigil_status st = w->fd < 0 ? VIGIL_OK : flush_locked(w);
    pthread_mutex_unlock(&w->lock);
    return st;
}

/* Under the lock: flush, and collect what the fsyncs must cover. */
static vigil_status take_sync_work(vigil__tsdb_wal *w, int *fds, size_t *nfds, bool *dir)
{
    *nfds = 0;
    *dir = false;
    if (w->fd < 0)
        return VIGIL_OK;
    vigil_status st = flush_locked(w);
    if (st != VIGIL_OK)
        return st;
    memcpy(fds, w->pending, w->npending * sizeof *fds);
    *nfds = w->npending;
    w->npending = 0;
    if (w->dirty) {
        int dup = fcntl(w->fd, F_DUPFD_CLOEXEC, 0);
        if (dup < 0 && fdatasync(w->fd) != 0) /* out of descriptors: sync under the lock */
            st = vigil__fail(VIGIL_EIO, "WAL segment %s/%0*" PRIu32 ": fdatasync: %s", w->dir,
                             VIGIL__TSDB_WAL_NAME_DIGITS, w->segment, strerror(errno));
        if (dup >= 0)
            fds[(*nfds)++] = dup;
        w->dirty = false;
    }
    *dir = w->dir_dirty;
    w->dir_dirty = false;
    if (w->sync_err != 0 && st == VIGIL_OK)
        st = vigil__fail(VIGIL_EIO, "WAL directory %s: fdatasync of a filled segment: %s", w->dir,
                         strerror(w->sync_err));
    w->sync_err = 0;
    return st;
}

vigil_status vigil__tsdb_wal_sync(vigil__tsdb_wal *w, uint64_t *took_ns)
{
    if (took_ns != NULL)
        *took_ns = 0;
    if (w == NULL)
        return vigil__fail(VIGIL_EINVAL, "WAL sync: NULL log");
    uint64_t t0 = vigil__mono_ns();
    int fds[PENDING_MAX + 1];
    size_t nfds;
    bool dir;
    pthread_mutex_lock(&w->sync_lock);
    pthread_mutex_lock(&w->lock);
    vigil_status st = take_sync_work(w, fds, &nfds, &dir);
    pthread_mutex_unlock(&w->lock);
    for (size_t i = 0; i < nfds; i++) {
        if (fdatasync(fds[i]) != 0 && st == VIGIL_OK)
            st = vigil__fail(VIGIL_EIO, "WAL directory %s: fdatasync of a segment: %s", w->dir,
                             strerror(errno));
        close(fds[i]);
    }
    if (dir && fsync(w->dir_fd) != 0 && st == VIGIL_OK)
        st = vigil__fail(VIGIL_EIO, "WAL directory %s: fsync: %s", w->dir, strerror(errno));
    uint64_t t1 = vigil__mono_ns();
    pthread_mutex_lock(&w->lock);
    w->last_sync_mono = t1;
    if (st == VIGIL_OK) {
        w->stats.syncs++;
        w->stats.sync_ns_total += t1 - t0;
        w->stats.last_sync_ns = t1 - t0;
    }
    pthread_mutex_unlock(&w->lock);
    pthread_mutex_unlock(&w->sync_lock);
    if (took_ns != NULL)
        *took_ns = t1 - t0;
    return st;
}

bool vigil__tsdb_wal_sync_due(vigil__tsdb_wal *w, uint64_t now_ns)
{
    if (w == NULL)
        return false;
    pthread_mutex_lock(&w->lock);
    bool unsynced = w->buf_len > 0 || w->dirty || w->npending > 0 || w->dir_dirty;
    uint64_t interval = (uint64_t)w->opts.sync_interval_ms * 1000000u;
    bool due = unsynced && now_ns >= w->last_sync_mono && now_ns - w->last_sync_mono >= interval;
    pthread_mutex_unlock(&w->lock);
    return due;
}

vigil_status vigil__tsdb_wal_cut(vigil__tsdb_wal *w, uint32_t *segment)
{
    if (w == NULL)
        return vigil__fail(VIGIL_EINVAL, "WAL cut: NULL log");
    pthread_mutex_lock(&w->lock);
    vigil_status st = w->fd < 0 ? vigil__fail(VIGIL_ESTATE, "WAL cut: the log is closed")
                                : next_segment_locked(w);
    if (segment != NULL)
        *segment = w->segment;
    pthread_mutex_unlock(&w->lock);
    return st;
}

vigil_status vigil__tsdb_wal_remove_before(vigil__tsdb_wal *w, uint32_t segment)
{
    if (w == NULL)
        return vigil__fail(VIGIL_EINVAL, "WAL remove: NULL log");
    pthread_mutex_lock(&w->lock);
    uint32_t current = w->segment;
    pthread_mutex_unlock(&w->lock);
    if (segment > current)
        return vigil__fail(
            VIGIL_EINVAL, "WAL remove: segment %" PRIu32 " is beyond the current one (%" PRIu32 ")",
            segment, current);
    /* Segments below the current one are never written again, so no lock is needed here. */
    uint32_t *nums;
    size_t n;
    vigil_status st = list_fd(w->dir_fd, w->dir, &nums, &n);
    if (st != VIGIL_OK)
        return st;
    bool removed = false;
    for (size_t i = 0; i < n && nums[i] < segment && st == VIGIL_OK; i++) {
        char name[NAME_SIZE];
        segment_name(name, nums[i]);
        if (unlinkat(w->dir_fd, name, 0) != 0 && errno != ENOENT)
            st = vigil__fail(VIGIL_EIO, "WAL segment %s/%s: cannot delete: %s", w->dir, name,
                             strerror(errno));
        removed = true;
    }
    vigil__free(nums);
    if (removed) {
        /* Deletions need not be durable at once: replay skips segments a checkpoint covers. */
        pthread_mutex_lock(&w->lock);
        w->dir_dirty = true;
        pthread_mutex_unlock(&w->lock);
    }
    return st;
}

void vigil__tsdb_wal_get_stats(vigil__tsdb_wal *w, vigil__tsdb_wal_stats *out)
{
    if (w == NULL || out == NULL)
        return;
    pthread_mutex_lock(&w->lock);
    *out = w->stats;
    pthread_mutex_unlock(&w->lock);
}

vigil_status vigil__tsdb_wal_close(vigil__tsdb_wal *w)
{
    if (w == NULL)
        return VIGIL_OK;
    vigil_status st = vigil__tsdb_wal_sync(w, NULL);
    for (size_t i = 0; i < w->npending; i++) /* left only when that sync failed early */
        close(w->pending[i]);
    if (w->fd >= 0)
        close(w->fd);
    close(w->dir_fd);
    pthread_mutex_destroy(&w->lock);
    pthread_mutex_destroy(&w->sync_lock);
    vigil__free(w->buf);
    vigil__free(w->dir);
    vigil__free(w);
    return st;
}

/* ---- replay -------------------------------------------------------------------------------- */

/* Where replay stopped and why. */
typedef struct damage {
    bool found;
    bool drop_segment; /* the header itself is unusable: delete the file */
    uint32_t segment;
    uint64_t offset; /* end of the last intact record */
    uint64_t size;   /* of the damaged segment */
    char why[200];
} damage;

typedef struct replay_ctx {
    const char *dir;
    int dir_fd;
    vigil__tsdb_wal_record_fn fn;
    void *user;
    vigil__tsdb_wal_replay_stats *stats;
    damage dmg;
} replay_ctx;

static bool all_zero(const uint8_t *p, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++)
        if (p[i] != 0)
            return false;
    return true;
}

/* Checks the record at p with `avail` bytes left in the segment; on damage writes why. */
static bool record_ok(const uint8_t *p, uint64_t avail, uint32_t *len, char *why, size_t whylen)
{
    if (avail < VIGIL__TSDB_WAL_RECORD_HEADER || p[4] == 0) {
        if (all_zero(p, avail))
            snprintf(why, whylen, "zero-filled tail of %" PRIu64 " bytes", avail);
        else if (avail < VIGIL__TSDB_WAL_RECORD_HEADER)
            snprintf(why, whylen, "torn record header (%" PRIu64 " of %u bytes)", avail,
                     VIGIL__TSDB_WAL_RECORD_HEADER);
        else
            snprintf(why, whylen, "invalid record type 0");
        return false;
    }
    *len = get_u32(p);
    if (*len > VIGIL__TSDB_WAL_RECORD_MAX) {
        snprintf(why, whylen, "impossible record length %" PRIu32, *len);
        return false;
    }
    if (*len > avail - VIGIL__TSDB_WAL_RECORD_HEADER) {
        snprintf(why, whylen,
                 "torn record (%" PRIu32 " payload bytes declared, %" PRIu64 " present)", *len,
                 avail - VIGIL__TSDB_WAL_RECORD_HEADER);
        return false;
    }
    uint32_t want = get_u32(p + 5);
    uint32_t got = record_crc(p[4], p + VIGIL__TSDB_WAL_RECORD_HEADER, *len);
    if (want != got) {
        snprintf(why, whylen,
                 "checksum mismatch (stored %08" PRIx32 ", computed %08" PRIx32
                 ", type %u, %" PRIu32 " payload bytes)",
                 want, got, p[4], *len);
        return false;
    }
    return true;
}

static void mark_damage(replay_ctx *c, uint32_t seg, uint64_t off, uint64_t size, bool drop)
{
    c->dmg.found = true;
    c->dmg.segment = seg;
    c->dmg.offset = off;
    c->dmg.size = size;
    c->dmg.drop_segment = drop;
}

/* Returns VIGIL_OK with c->dmg.found when the header is unusable; ECORRUPT for a version this
 * code does not know (intact, so not damage). */
static vigil_status check_header(replay_ctx *c, uint32_t seg, const uint8_t *h, uint64_t size)
{
    uint8_t want[VIGIL__TSDB_WAL_SEGMENT_HEADER];
    segment_header(want);
    if (size < VIGIL__TSDB_WAL_SEGMENT_HEADER) {
        snprintf(c->dmg.why, sizeof c->dmg.why, "torn segment header (%" PRIu64 " of %u bytes)",
                 size, VIGIL__TSDB_WAL_SEGMENT_HEADER);
    } else if (memcmp(h, want, sizeof want) == 0) {
        return VIGIL_OK;
    } else if (all_zero(h, size)) {
        snprintf(c->dmg.why, sizeof c->dmg.why, "zero-filled segment of %" PRIu64 " bytes", size);
    } else if (memcmp(h, segment_magic, 4) == 0 &&
               get_u32(h + 8) == crc_update((uint32_t)crc32(0L, Z_NULL, 0), h, 8)) {
        return vigil__fail(VIGIL_ECORRUPT,
                           "WAL segment %s/%0*" PRIu32 ": format version %u is not supported "
                           "(this build reads version %d); the log was left untouched",
                           c->dir, VIGIL__TSDB_WAL_NAME_DIGITS, seg, h[4], SEGMENT_VERSION);
    } else {
        snprintf(c->dmg.why, sizeof c->dmg.why, "bad segment header");
    }
    mark_damage(c, seg, 0, size, true);
    return VIGIL_OK;
}

static vigil_status replay_records(replay_ctx *c, uint32_t seg, const uint8_t *m, uint64_t size)
{
    uint64_t pos = VIGIL__TSDB_WAL_SEGMENT_HEADER;
    while (pos < size) {
        uint32_t len;
        if (!record_ok(m + pos, size - pos, &len, c->dmg.why, sizeof c->dmg.why)) {
            mark_damage(c, seg, pos, size, false);
            break;
        }
        vigil_status st =
            c->fn(c->user, seg, m[pos + 4], m + pos + VIGIL__TSDB_WAL_RECORD_HEADER, len);
        if (st != VIGIL_OK)
            return st;
        c->stats->records++;
        pos += VIGIL__TSDB_WAL_RECORD_HEADER + (uint64_t)len;
    }
    c->stats->bytes += pos;
    return VIGIL_OK;
}

static vigil_status replay_segment(replay_ctx *c, uint32_t seg)
{
    char name[NAME_SIZE];
    segment_name(name, seg);
    int fd = openat(c->dir_fd, name, O_RDONLY | O_CLOEXEC);
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        int err = errno;
        if (fd >= 0)
            close(fd);
        return vigil__fail(VIGIL_EIO, "WAL segment %s/%s: cannot read: %s", c->dir, name,
                           strerror(err));
    }
    uint64_t size = (uint64_t)sb.st_size;
    c->stats->segments++;
    if (c->stats->first_segment == 0)
        c->stats->first_segment = seg;
    c->stats->last_segment = seg;
    const uint8_t *m = NULL;
    if (size > 0) {
        m = mmap(NULL, (size_t)size, PROT_READ, MAP_PRIVATE, fd, 0);
        if (m == MAP_FAILED) {
            int err = errno;
            close(fd);
            return vigil__fail(VIGIL_EIO, "WAL segment %s/%s: cannot map: %s", c->dir, name,
                               strerror(err));
        }
    }
    close(fd);
    vigil_status st = check_header(c, seg, m, size);
    if (st == VIGIL_OK && !c->dmg.found)
        st = replay_records(c, seg, m, size);
    if (m != NULL)
        munmap((void *)m, (size_t)size);
    return st;
}

/* Cuts the damaged segment back to its last intact record (or deletes it) and deletes every
 * later one, then makes both durable. */
static vigil_status repair(replay_ctx *c, const uint32_t *nums, size_t n)
{
    char name[NAME_SIZE];
    segment_name(name, c->dmg.segment);
    vigil__tsdb_wal_replay_stats *s = c->stats;
    if (c->dmg.drop_segment) {
        if (unlinkat(c->dir_fd, name, 0) != 0 && errno != ENOENT)
            return vigil__fail(VIGIL_EIO, "WAL segment %s/%s: cannot delete damaged file: %s",
                               c->dir, name, strerror(errno));
        s->removed_segments++;
    } else {
        int fd = openat(c->dir_fd, name, O_WRONLY | O_CLOEXEC);
        if (fd < 0 || ftruncate(fd, (off_t)c->dmg.offset) != 0 || fsync(fd) != 0) {
            int err = errno;
            if (fd >= 0)
                close(fd);
            return vigil__fail(VIGIL_EIO, "WAL segment %s/%s: cannot truncate damaged tail: %s",
                               c->dir, name, strerror(err));
        }
        close(fd);
    }
    s->truncated_bytes = c->dmg.size - c->dmg.offset;
    for (size_t i = 0; i < n; i++) {
        if (nums[i] <= c->dmg.segment)
            continue;
        char later[NAME_SIZE];
        segment_name(later, nums[i]);
        struct stat sb;
        if (fstatat(c->dir_fd, later, &sb, 0) == 0)
            s->removed_bytes += (uint64_t)sb.st_size;
        if (unlinkat(c->dir_fd, later, 0) != 0 && errno != ENOENT)
            return vigil__fail(VIGIL_EIO, "WAL segment %s/%s: cannot delete: %s", c->dir, later,
                               strerror(errno));
        s->removed_segments++;
    }
    if (fsync(c->dir_fd) != 0)
        return vigil__fail(VIGIL_EIO, "WAL directory %s: fsync after repair: %s", c->dir,
                           strerror(errno));
    return VIGIL_OK;
}

static void describe(replay_ctx *c)
{
    vigil__tsdb_wal_replay_stats *s = c->stats;
    s->damaged = true;
    s->damaged_segment = c->dmg.segment;
    s->damaged_offset = c->dmg.offset;
    snprintf(s->description, sizeof s->description,
             "segment %0*" PRIu32 " at offset %" PRIu64 ": %s; %s %" PRIu64
             " bytes, deleted %" PRIu32 " segment(s) after it (%" PRIu64 " bytes)",
             VIGIL__TSDB_WAL_NAME_DIGITS, c->dmg.segment, c->dmg.offset, c->dmg.why,
             c->dmg.drop_segment ? "deleted the segment," : "truncated", s->truncated_bytes,
             s->removed_segments - (c->dmg.drop_segment ? 1u : 0u), s->removed_bytes);
}

/* A hole in the numbering ends the log like any other damage: records past it may not follow
 * the ones before it. The "damaged segment" is the last one read, cut at its own end. */
static void mark_gap(replay_ctx *c, uint32_t prev, uint32_t next)
{
    snprintf(c->dmg.why, sizeof c->dmg.why,
             "next segment is %0*" PRIu32 " (segments missing in between)",
             VIGIL__TSDB_WAL_NAME_DIGITS, next);
    c->dmg.found = true;
    c->dmg.segment = prev;
    c->dmg.drop_segment = false;
    char name[NAME_SIZE];
    segment_name(name, prev);
    struct stat sb;
    c->dmg.size = fstatat(c->dir_fd, name, &sb, 0) == 0 ? (uint64_t)sb.st_size : 0;
    c->dmg.offset = c->dmg.size;
}

vigil_status vigil__tsdb_wal_replay(const char *dir, uint32_t first_segment,
                                    vigil__tsdb_wal_record_fn fn, void *user,
                                    vigil__tsdb_wal_replay_stats *stats)
{
    vigil__tsdb_wal_replay_stats local;
    if (stats == NULL)
        stats = &local;
    memset(stats, 0, sizeof *stats);
    if (dir == NULL || fn == NULL)
        return vigil__fail(VIGIL_EINVAL, "WAL replay: NULL argument");
    replay_ctx c = {.dir = dir, .fn = fn, .user = user, .stats = stats};
    vigil_status st = open_dir(dir, false, &c.dir_fd);
    if (st != VIGIL_OK || c.dir_fd < 0)
        return st;
    uint32_t *nums;
    size_t n;
    st = list_fd(c.dir_fd, dir, &nums, &n);
    if (st != VIGIL_OK) {
        close(c.dir_fd);
        return st;
    }
    size_t i = 0;
    while (i < n && nums[i] < first_segment)
        i++;
    for (size_t j = i; j < n && st == VIGIL_OK && !c.dmg.found; j++) {
        if (j > i && nums[j] != nums[j - 1] + 1)
            mark_gap(&c, nums[j - 1], nums[j]);
        else
            st = replay_segment(&c, nums[j]);
    }
    if (st == VIGIL_OK && c.dmg.found) {
        st = repair(&c, nums + i, n - i);
        describe(&c);
    }
    vigil__free(nums);
    close(c.dir_fd);
    return st;
}
