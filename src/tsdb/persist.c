/* persist.c — the data directory: its lock, recovery on open, and checkpoints.
 *
 *   DIR/lock                 flock()ed by the writer; a second writer gets VIGIL_ESTATE
 *   DIR/blocks/MINT-MAXT.vgb sealed blocks (block.c)
 *   DIR/wal/NNNNNNNN         write-ahead log segments (wal.c)
 *   DIR/checkpoint.NNNNNNNN/ the head as of WAL segment N, itself in WAL format
 *
 * A checkpoint is written after a block is sealed: the WAL is cut at segment N, then every
 * series with head samples newer than the block is written into checkpoint.N with those samples
 * (a temporary name, synced, renamed), and only then are older segments and checkpoints removed.
 * Series without such samples are left out (after a flush that is all of them, and their records
 * were most of a checkpoint): the cut starts a new WAL epoch, in which a series writes its
 * record again before its first samples. Reading the head after the cut, not at it, means a
 * sample appended in between lands in both the checkpoint and segment N; replay refuses the
 * second copy as not newer, so that costs nothing and saves holding the append lock while the
 * head is copied.
 *
 * Recovery loads the blocks, replays the newest checkpoint, then the WAL from its segment on.
 * WAL refs are per process run; each run writes a series record before a ref's first samples
 * in each epoch, so replay keeps a map from ref to series and updates it at every series record.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tsdb_int.h"
#include "walrec.h"

#define PATH_CAP 4096

static vigil_status io_fail(const char *what, const char *path)
{
    return vigil__fail(VIGIL_EIO, "%s %s: %s", what, path, strerror(errno));
}

static vigil_status make_dir(const char *path)
{
    if (mkdir(path, 0755) == 0 || errno == EEXIST)
        return VIGIL_OK;
    return io_fail("cannot create directory", path);
}

vigil_status vigil__tsdb_fsync_dir(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY);
    if (fd < 0)
        return io_fail("cannot open directory", path);
    int rc = fsync(fd);
    close(fd);
    return rc == 0 ? VIGIL_OK : io_fail("cannot sync directory", path);
}

void vigil__tsdb_path(const vigil_tsdb *db, char *out, const char *fmt, ...)
{
    int n = snprintf(out, PATH_CAP, "%s/", db->dir);
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(out + n, PATH_CAP - (size_t)n, fmt, ap);
    va_end(ap);
}

vigil_status vigil__tsdb_dir_open(vigil_tsdb *db)
{
    char path[PATH_CAP];
    if (strlen(db->dir) > PATH_CAP - 64)
        return vigil__fail(VIGIL_EINVAL, "data directory name is too long");
    if (!db->opts.read_only) {
        vigil_status st = make_dir(db->dir);
        if (st == VIGIL_OK) {
            vigil__tsdb_path(db, path, "blocks");
            st = make_dir(path);
        }
        if (st)
            return st;
    }
    vigil__tsdb_path(db, path, "lock");
    int fd = open(path, db->opts.read_only ? O_RDONLY : O_RDWR | O_CREAT, 0644);
    if (fd < 0) {
        if (db->opts.read_only && errno == ENOENT) {
            struct stat sb;
            if (stat(db->dir, &sb) != 0 || !S_ISDIR(sb.st_mode))
                return io_fail("no store at", db->dir);
            return VIGIL_OK; /* a directory without a lock file: nothing was ever written */
        }
        return io_fail("cannot open", path);
    }
    if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
        close(fd);
        if (db->opts.read_only) {
            snprintf(db->recovery, sizeof db->recovery,
                     "another process is writing the store: blocks only, WAL not read");
            return VIGIL_OK;
        }
        return vigil__fail(VIGIL_ESTATE, "the store in %s is in use by another process", db->dir);
    }
    db->lock_fd = fd;
    return VIGIL_OK;
}

uint64_t vigil__tsdb_dir_size(const vigil_tsdb *db, const char *sub)
{
    char path[PATH_CAP];
    if (sub)
        vigil__tsdb_path(db, path, "%s", sub);
    else
        snprintf(path, sizeof path, "%s", db->dir);
    DIR *d = opendir(path);
    if (!d)
        return 0;
    uint64_t total = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        struct stat sb;
        if (fstatat(dirfd(d), e->d_name, &sb, 0) != 0)
            continue;
        if (S_ISREG(sb.st_mode)) {
            total += (uint64_t)sb.st_size;
        } else if (S_ISDIR(sb.st_mode) && !sub && strncmp(e->d_name, "checkpoint.", 11) == 0) {
            char inner[PATH_CAP];
            snprintf(inner, sizeof inner, "%s", e->d_name);
            total += vigil__tsdb_dir_size(db, inner);
        }
    }
    closedir(d);
    return total;
}

/* ---- replay --------------------------------------------------------------------------------- */

typedef struct replay_ctx {
    vigil_tsdb *db;
    vigil__tsdb_series **map; /* WAL ref -> series */
    size_t cap;
    vigil__tsdb_walrec_sample *samples;
    size_t nsamples_cap;
    uint64_t skipped;
} replay_ctx;

static vigil_status map_set(replay_ctx *x, uint32_t ref, vigil__tsdb_series *s)
{
    if (ref >= x->cap) {
        size_t cap = x->cap ? x->cap : 1024;
        while (cap <= ref)
            cap *= 2;
        vigil__tsdb_series **m = vigil__realloc(x->map, cap * sizeof *m);
        if (!m)
            return vigil__fail(VIGIL_ENOMEM, "replay map of %zu series", cap);
        memset(m + x->cap, 0, (cap - x->cap) * sizeof *m);
        x->map = m;
        x->cap = cap;
    }
    x->map[ref] = s;
    return VIGIL_OK;
}

static vigil_status replay_series(replay_ctx *x, const uint8_t *p, size_t len)
{
    vigil__tsdb_walrec_series_batch b;
    vigil_status st = vigil__tsdb_walrec_series_decode(p, len, &b);
    if (st)
        return st;
    for (size_t i = 0; st == VIGIL_OK && i < b.n; i++) {
        vigil__tsdb_series *s;
        st = vigil__tsdb_series_from_pairs(x->db, b.series[i].labels, b.series[i].nlabels, false,
                                           &s);
        if (st == VIGIL_OK)
            st = map_set(x, b.series[i].ref, s);
    }
    vigil__tsdb_walrec_series_batch_free(&b);
    return st;
}

static vigil_status replay_samples(replay_ctx *x, const uint8_t *p, size_t len)
{
    size_t n;
    vigil_status st = vigil__tsdb_walrec_samples_count(p, len, &n);
    if (st)
        return st;
    if (n > x->nsamples_cap) {
        vigil__tsdb_walrec_sample *s = vigil__realloc(x->samples, n * sizeof *s);
        if (!s)
            return vigil__fail(VIGIL_ENOMEM, "replay of %zu samples", n);
        x->samples = s;
        x->nsamples_cap = n;
    }
    st = vigil__tsdb_walrec_samples_decode(p, len, x->samples, x->nsamples_cap, &n);
    for (size_t i = 0; st == VIGIL_OK && i < n; i++) {
        const vigil__tsdb_walrec_sample *r = &x->samples[i];
        vigil__tsdb_series *s = r->ref < x->cap ? x->map[r->ref] : NULL;
        if (!s) {
            x->skipped++; /* its series record was in a segment a checkpoint replaced */
            continue;
        }
        vigil_status ast = vigil__tsdb_head_append(x->db, s, r->t, r->v);
        if (ast == VIGIL_EORDER)
            continue; /* already in a block or a checkpoint */
        st = ast;
    }
    return st;
}

static vigil_status on_record(void *user, uint32_t segment, uint8_t type, const uint8_t *p,
                              size_t len)
{
    (void)segment;
    replay_ctx *x = user;
    if (type == VIGIL__TSDB_WALREC_SERIES)
        return replay_series(x, p, len);
    if (type == VIGIL__TSDB_WALREC_SAMPLES)
        return replay_samples(x, p, len);
    return VIGIL_OK; /* a record type from a newer version: skipped */
}

static void note_damage(vigil_tsdb *db, const char *what, const vigil__tsdb_wal_replay_stats *rs)
{
    if (!rs->damaged)
        return;
    atomic_fetch_add(&db->wal_corruptions, 1);
    size_t used = strlen(db->recovery);
    snprintf(db->recovery + used, sizeof db->recovery - used,
             "%s%s: %s (truncated %llu bytes, "
             "removed %u later segments)",
             used ? "; " : "", what, rs->description, (unsigned long long)rs->truncated_bytes,
             rs->removed_segments);
}

/* The highest N of a complete checkpoint.N directory, 0 when none. */
static uint32_t newest_checkpoint(const vigil_tsdb *db)
{
    DIR *d = opendir(db->dir);
    if (!d)
        return 0;
    uint32_t best = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        unsigned n;
        char rest;
        if (sscanf(e->d_name, "checkpoint.%8u%c", &n, &rest) == 1 && n > best)
            best = n;
    }
    closedir(d);
    return best;
}

/* Removes checkpoint directories other than keep (and any half-written .tmp one). */
static void remove_checkpoints(const vigil_tsdb *db, uint32_t keep)
{
    DIR *d = opendir(db->dir);
    if (!d)
        return;
    struct dirent *e;
    while ((e = readdir(d))) {
        unsigned n;
        if (sscanf(e->d_name, "checkpoint.%8u", &n) != 1)
            continue;
        char expect[64];
        snprintf(expect, sizeof expect, "checkpoint.%08u", keep);
        if (strcmp(e->d_name, expect) == 0)
            continue;
        char path[PATH_CAP];
        vigil__tsdb_path(db, path, "%s", e->d_name);
        DIR *inner = opendir(path);
        if (inner) {
            struct dirent *f;
            while ((f = readdir(inner)))
                if (f->d_name[0] != '.')
                    unlinkat(dirfd(inner), f->d_name, 0);
            closedir(inner);
        }
        rmdir(path);
    }
    closedir(d);
}

static vigil_status replay_dir(vigil_tsdb *db, replay_ctx *x, const char *name, uint32_t first)
{
    char path[PATH_CAP];
    vigil__tsdb_path(db, path, "%s", name);
    vigil__tsdb_wal_replay_stats rs;
    vigil_status st = vigil__tsdb_wal_replay(path, first, on_record, x, &rs);
    if (st == VIGIL_OK)
        note_damage(db, name, &rs);
    return st;
}

static vigil_status replay_all(vigil_tsdb *db)
{
    replay_ctx x = {.db = db};
    uint32_t ckpt = newest_checkpoint(db);
    vigil_status st = VIGIL_OK;
    if (ckpt) {
        char name[64];
        snprintf(name, sizeof name, "checkpoint.%08u", ckpt);
        st = replay_dir(db, &x, name, 0);
        /* a checkpoint's refs and the WAL's are the same run's: keep the map */
    }
    if (st == VIGIL_OK)
        st = replay_dir(db, &x, "wal", ckpt);
    vigil__free(x.map);
    vigil__free(x.samples);
    db->checkpoint_segment = ckpt;
    return st;
}

static int compare_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static vigil_status load_blocks(vigil_tsdb *db)
{
    char path[PATH_CAP];
    vigil__tsdb_path(db, path, "blocks");
    DIR *d = opendir(path);
    if (!d)
        return errno == ENOENT ? VIGIL_OK : io_fail("cannot read", path);
    char **names = NULL;
    size_t n = 0, cap = 0;
    vigil_status st = VIGIL_OK;
    struct dirent *e;
    while (st == VIGIL_OK && (e = readdir(d))) {
        size_t len = strlen(e->d_name);
        if (len < 5 || strcmp(e->d_name + len - 4, ".vgb") != 0) {
            if (strstr(e->d_name, ".tmp") && !db->opts.read_only)
                unlinkat(dirfd(d), e->d_name, 0); /* a crash interrupted it; the WAL has its
                                                     samples */
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 16;
            char **nn = vigil__realloc(names, cap * sizeof *nn);
            if (!nn) {
                st = vigil__fail(VIGIL_ENOMEM, "block list");
                break;
            }
            names = nn;
        }
        if (!(names[n] = vigil__strdup(e->d_name)))
            st = vigil__fail(VIGIL_ENOMEM, "block name");
        else
            n++;
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof *names, compare_names); /* names sort by mint */
    for (size_t i = 0; i < n; i++) {
        if (st == VIGIL_OK) {
            char file[PATH_CAP + 512];
            snprintf(file, sizeof file, "%s/%s", path, names[i]);
            vigil__tsdb_block *b;
            st = vigil__tsdb_block_load(db, file, &b);
            if (st == VIGIL_OK)
                st = vigil__tsdb_publish_block(db, b);
        }
        vigil__free(names[i]);
    }
    vigil__free(names);
    return st;
}

vigil_status vigil__tsdb_recover(vigil_tsdb *db)
{
    vigil_status st = load_blocks(db);
    bool can_write_dir = db->lock_fd >= 0;
    if (st == VIGIL_OK && can_write_dir)
        st = replay_all(db);
    if (st || db->opts.read_only)
        return st;
    remove_checkpoints(db, db->checkpoint_segment);
    char path[PATH_CAP];
    vigil__tsdb_path(db, path, "wal");
    vigil__tsdb_wal_options wo;
    vigil__tsdb_wal_options_init(&wo);
    wo.sync_interval_ms = db->opts.wal_sync_interval_ms;
    /* The run continues in a new segment; its series (all in epoch 0) write their records there
     * before their first samples, so the run's records replay without what came before. */
    return vigil__tsdb_wal_open(path, &wo, &db->wal);
}

/* ---- checkpoints ---------------------------------------------------------------------------- */

static vigil_status write_series_and_samples(vigil_tsdb *db, vigil__tsdb_wal *w, int64_t from)
{
    vigil_buffer buf;
    vigil_buffer_init(&buf, (size_t)64 << 20);
    int64_t *t = NULL;
    double *v = NULL;
    size_t cap = 0;
    vigil__tsdb_walrec_sample *rec = NULL;
    size_t rec_cap = 0;
    vigil_status st = VIGIL_OK;
    uint32_t end = atomic_load(&db->next_ref);
    for (uint32_t ref = 0; st == VIGIL_OK && ref < end; ref++) {
        vigil__tsdb_series *s = vigil__tsdb_series_get(db, ref);
        size_t n = 0;
        if (s)
            st = vigil__tsdb_head_read(s, from, INT64_MAX, &t, &v, &n, &cap);
        if (st || n == 0)
            continue; /* without samples here it logs itself again when it gets some */
        st = vigil__tsdb_series_record(&buf, s);
        if (st == VIGIL_OK)
            st = vigil__tsdb_wal_append(w, VIGIL__TSDB_WALREC_SERIES, buf.data, buf.len);
        if (st)
            continue;
        if (n > rec_cap) {
            vigil__tsdb_walrec_sample *r = vigil__realloc(rec, n * sizeof *r);
            if (!r) {
                st = vigil__fail(VIGIL_ENOMEM, "checkpoint samples");
                break;
            }
            rec = r;
            rec_cap = n;
        }
        for (size_t i = 0; i < n; i++)
            rec[i] = (vigil__tsdb_walrec_sample){t[i], v[i], s->ref};
        buf.len = 0;
        st = vigil__tsdb_walrec_samples_encode(&buf, rec, n);
        if (st == VIGIL_OK)
            st = vigil__tsdb_wal_append(w, VIGIL__TSDB_WALREC_SAMPLES, buf.data, buf.len);
    }
    vigil__free(t);
    vigil__free(v);
    vigil__free(rec);
    vigil_buffer_free(&buf);
    return st;
}

vigil_status vigil__tsdb_checkpoint(vigil_tsdb *db, int64_t from)
{
    if (!db->wal)
        return VIGIL_OK;
    uint32_t seg;
    /* The cut and the new epoch together, under the append lock: every sample logged in segment
     * seg or later comes after its series' record there (or in this checkpoint). */
    pthread_mutex_lock(&db->append_mu);
    vigil_status st = vigil__tsdb_wal_cut(db->wal, &seg);
    if (st == VIGIL_OK)
        db->wal_epoch++;
    pthread_mutex_unlock(&db->append_mu);
    if (st)
        return st;
    char tmp[PATH_CAP], final[PATH_CAP];
    vigil__tsdb_path(db, tmp, "checkpoint.%08u.tmp", seg);
    vigil__tsdb_path(db, final, "checkpoint.%08u", seg);
    vigil__tsdb_wal *w;
    st = vigil__tsdb_wal_open(tmp, NULL, &w);
    if (st)
        return st;
    st = write_series_and_samples(db, w, from);
    vigil_status cst = vigil__tsdb_wal_close(w); /* flushes and syncs */
    if (!st)
        st = cst;
    if (st == VIGIL_OK && rename(tmp, final) != 0)
        st = io_fail("cannot rename checkpoint", tmp);
    if (st == VIGIL_OK)
        st = vigil__tsdb_fsync_dir(db->dir);
    if (st)
        return st;
    remove_checkpoints(db, seg);
    db->checkpoint_segment = seg;
    return vigil__tsdb_wal_remove_before(db->wal, seg);
}
