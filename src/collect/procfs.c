/* procfs.c — small, bounded readers for /proc files. Collectors run on every scrape, possibly
 * from several threads at once, so these readers use open/read into caller-provided fixed-size
 * buffers (no stdio, no allocation, no shared state) and never truncate silently: a file that
 * does not fit is an error. Files with unbounded lines (/proc/stat's "intr") are streamed
 * through a small chunk buffer and only the wanted line is kept. Failures are described in a
 * vigil__procfs_error so the caller decides which one becomes the thread's error message. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#include "collect/collect_int.h"
#include "core/core_int.h"

static bool set_errno_failure(vigil__procfs_error *e, const char *path, int errnum)
{
    e->path = path;
    e->errnum = errnum != 0 ? errnum : EIO;
    e->what = NULL;
    return false;
}

static bool set_content_failure(vigil__procfs_error *e, const char *path, const char *what)
{
    e->path = path;
    e->errnum = 0;
    e->what = what;
    return false;
}

vigil_status vigil__procfs_fail(const vigil__procfs_error *e)
{
    char tmp[128];
    const char *why = e->what;
    if (e->errnum != 0) {
        /* GNU strerror_r (_GNU_SOURCE): returns a pointer, possibly to a static string. */
        why = strerror_r(e->errnum, tmp, sizeof tmp);
    }
    return vigil__fail(VIGIL_EIO, "%s: %s", e->path ? e->path : "(unknown file)",
                       why ? why : "read failed");
}

static int open_ro(const char *path)
{
    int fd;
    do {
        fd = open(path, O_RDONLY | O_CLOEXEC);
    } while (fd < 0 && errno == EINTR);
    return fd;
}

/* One read(2), retried on EINTR. Returns the byte count, 0 at EOF, -1 with errno set. */
static ssize_t read_some(int fd, char *buf, size_t len)
{
    ssize_t n;
    do {
        n = read(fd, buf, len);
    } while (n < 0 && errno == EINTR);
    return n;
}

bool vigil__procfs_read(const char *path, char *buf, size_t cap, size_t *len,
                        vigil__procfs_error *e)
{
    if (cap < 2)
        return set_content_failure(e, path, "read buffer too small");
    int fd = open_ro(path);
    if (fd < 0)
        return set_errno_failure(e, path, errno);

    size_t used = 0;
    for (;;) {
        /* Ask for every byte left: filling the buffer means content plus NUL cannot fit. */
        ssize_t n = read_some(fd, buf + used, cap - used);
        if (n < 0) {
            int err = errno;
            close(fd);
            return set_errno_failure(e, path, err);
        }
        if (n == 0)
            break;
        used += (size_t)n;
        if (used >= cap) {
            close(fd);
            return set_content_failure(e, path, "larger than the read buffer");
        }
    }
    close(fd);
    buf[used] = '\0';
    if (len)
        *len = used;
    return true;
}

bool vigil__procfs_find_key(const char *path, const char *key, char *val, size_t cap,
                            vigil__procfs_error *e)
{
    enum { MATCH, SKIP, COPY } mode = MATCH;
    size_t matched = 0, vlen = 0;
    char chunk[4096];

    if (key == NULL || key[0] == '\0' || cap == 0)
        return set_content_failure(e, path, "bad key lookup");
    int fd = open_ro(path);
    if (fd < 0)
        return set_errno_failure(e, path, errno);

    for (;;) {
        ssize_t n = read_some(fd, chunk, sizeof chunk);
        if (n < 0) {
            int err = errno;
            close(fd);
            return set_errno_failure(e, path, err);
        }
        if (n == 0)
            break;
        for (ssize_t i = 0; i < n; i++) {
            char c = chunk[i];
            switch (mode) {
            case MATCH:
                if (c == key[matched]) {
                    if (key[++matched] == '\0')
                        mode = COPY;
                } else if (c == '\n') {
                    matched = 0;
                } else {
                    mode = SKIP;
                }
                break;
            case SKIP:
                if (c == '\n') {
                    mode = MATCH;
                    matched = 0;
                }
                break;
            case COPY:
                if (c == '\n')
                    goto found;
                if (vlen + 1 >= cap) {
                    close(fd);
                    return set_content_failure(e, path, "line longer than the value buffer");
                }
                val[vlen++] = c;
                break;
            }
        }
    }
    if (mode != COPY) {
        close(fd);
        return set_content_failure(e, path, "key not found");
    }
found:
    close(fd);
    val[vlen] = '\0';
    return true;
}

bool vigil__procfs_count_dir(const char *path, long *count, vigil__procfs_error *e)
{
    DIR *dir = opendir(path);
    if (dir == NULL)
        return set_errno_failure(e, path, errno);
    long n = 0;
    for (;;) {
        errno = 0;
        struct dirent *de = readdir(dir);
        if (de == NULL) {
            if (errno != 0) {
                int err = errno;
                closedir(dir);
                return set_errno_failure(e, path, err);
            }
            break;
        }
        const char *name = de->d_name;
        if (name[0] == '.' && (name[1] == '\0' || (name[1] == '.' && name[2] == '\0')))
            continue;
        n++;
    }
    closedir(dir);
    *count = n;
    return true;
}
