/* test_host.c — the host collector. Three layers:
 *   - the /proc parsers driven directly with crafted lines (decimals rounded as Go rounds them,
 *     meminfo keys renamed as node_exporter renames them, device names with ':', mount-point
 *     escapes, 11/15/17-column diskstats, udev serial preference);
 *   - the whole collector on the fixture tree tests/collect/host_data (proc/, rootfs/, udev/),
 *     passed through vigil_host_options, with exact expected lines: node_exporter's names,
 *     labels and units, its default exclusions for mount points, filesystem types, disks and
 *     network devices, the caps and their counts;
 *   - behaviour over time on trees written by the test (CPU counters that go back, the usage
 *     gauge over an interval, missing files), and sanity on the real /proc.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "collect/host_int.h"
#include "vigil/collect.h"
#include "vigil/expo.h"
#include "vigil/metrics.h"
#include "vigil/status.h"
#include "../support/vigil_test.h"

#ifndef VIGIL_TEST_DATA_DIR
#define VIGIL_TEST_DATA_DIR "."
#endif
#define FIXTURE VIGIL_TEST_DATA_DIR "/host_data"

/* --- helpers --------------------------------------------------------------------------------- */

static void fixture_options(vigil_host_options *o)
{
    vigil_host_options_init(o);
    o->proc_path = FIXTURE "/proc";
    o->rootfs_path = FIXTURE "/rootfs";
    o->udev_data_path = FIXTURE "/udev";
}

static vigil_registry *new_registry(void)
{
    vigil_registry *reg;
    assert_int_equal(vigil_registry_new(&reg), VIGIL_OK);
    return reg;
}

static vigil_registry *host_registry(const vigil_host_options *o)
{
    vigil_registry *reg = new_registry();
    vigil_status st = vigil_collect_host_register(reg, o);
    if (st != VIGIL_OK)
        fail_msg("register: %s (%s)", vigil_strerror(st), vigil_errmsg());
    return reg;
}

static void free_host_registry(vigil_registry *reg)
{
    assert_int_equal(vigil_collect_host_unregister(reg, NULL), VIGIL_OK);
    vigil_registry_free(reg);
}

/* Lines of text that start with prefix. */
static int count_prefix(const char *text, const char *prefix)
{
    int n = 0;
    size_t len = strlen(prefix);
    for (const char *p = text; p && *p;) {
        if (strncmp(p, prefix, len) == 0)
            n++;
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return n;
}

/* The value of the series written exactly as series ("name{labels}"), or NaN when absent. */
static double value_of(const char *text, const char *series)
{
    size_t len = strlen(series);
    for (const char *p = text; p && *p;) {
        if (strncmp(p, series, len) == 0 && p[len] == ' ')
            return strtod(p + len + 1, NULL);
        p = strchr(p, '\n');
        if (p)
            p++;
    }
    return NAN;
}

#define ASSERT_NO(text, needle)                                                 \
    do {                                                                        \
        if (strstr((text), (needle)) != NULL)                                   \
            fail_msg("unexpected \"%s\" in the output:\n%s", (needle), (text)); \
    } while (0)

static void write_file(const char *dir, const char *rel, const char *content)
{
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", dir, rel);
    /* "w" truncates in place: the same inode, as a /proc file the collector keeps open. */
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fputs(content, f) >= 0, 1);
    assert_int_equal(fclose(f), 0);
}

static void make_tree(char *dir, size_t cap)
{
    snprintf(dir, cap, "/tmp/vigil_test_host_XXXXXX");
    assert_non_null(mkdtemp(dir));
}

static void remove_tree(const char *dir)
{
    const char *files[] = {"stat",    "meminfo", "loadavg", "diskstats",
                           "net/dev", "mounts",  "1/mounts"};
    char path[1024];
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, files[i]);
        unlink(path);
    }
    snprintf(path, sizeof path, "%s/net", dir);
    rmdir(path);
    snprintf(path, sizeof path, "%s/1", dir);
    if (rmdir(path) != 0)
        unlink(path); /* a symlink (the mount-table test) */
    snprintf(path, sizeof path, "%s/m", dir);
    rmdir(path);
    rmdir(dir);
}

/* --- parsers --------------------------------------------------------------------------------- */

static bool dec(const char *s, double *v)
{
    return vigil__host_parse_decimal(s, s + strlen(s), v);
}

static void test_decimals_are_the_correctly_rounded_double(void **state)
{
    (void)state;
    /* strtod in the C locale rounds correctly, as Go's ParseFloat does. */
    setlocale(LC_NUMERIC, "C");
    const char *fixed[] = {"0.66",    "1.25",     "3.00",     "0.1", "0.01",
                           "123.456", "99999.99", "0.000001", "7",   "18014398509481983",
                           "-2.5",    "1e"};
    for (size_t i = 0; i + 1 < sizeof fixed / sizeof fixed[0]; i++) {
        double v;
        assert_true(dec(fixed[i], &v));
        assert_true(v == strtod(fixed[i], NULL));
    }
    double v;
    assert_false(dec("1e", &v));
    assert_false(dec("", &v));
    assert_false(dec(".", &v));
    assert_false(dec("1.2.3", &v));
    assert_false(dec("1234567890.1234567", &v)); /* 17 digits: refused, not misrounded */
    srand(12345);
    for (int i = 0; i < 200000; i++) {
        char s[40];
        unsigned long long ip = ((unsigned long long)rand() << 16 ^ (unsigned)rand()) % 100000000;
        int frac = rand() % 7;
        unsigned long long fp = (unsigned long long)rand() % 1000000;
        if (frac == 0)
            snprintf(s, sizeof s, "%llu", ip);
        else
            snprintf(s, sizeof s, "%llu.%0*llu", ip, frac, fp % (unsigned long long)pow(10, frac));
        if (!dec(s, &v))
            fail_msg("refused %s", s);
        if (v != strtod(s, NULL))
            fail_msg("%s: %.17g, strtod %.17g", s, v, strtod(s, NULL));
    }
}

static void test_u64_rejects_overflow_and_junk(void **state)
{
    (void)state;
    uint64_t v;
    const char *max = "18446744073709551615", *over = "18446744073709551616";
    assert_true(vigil__host_parse_u64(max, max + strlen(max), &v));
    assert_true(v == UINT64_MAX);
    assert_false(vigil__host_parse_u64(over, over + strlen(over), &v));
    assert_false(vigil__host_parse_u64("12a", "12a" + 3, &v));
    assert_false(vigil__host_parse_u64("", "", &v));
}

static void test_meminfo_keys_become_node_exporter_names(void **state)
{
    (void)state;
    const char *text = "MemTotal:       16303412 kB\n"
                       "Active(anon):    2210556 kB\n"
                       "HugePages_Total:       7\n"
                       "\n"
                       "Odd(a)b(c):            1 kB\n"
                       "NoParen):              2 kB\n"
                       "Bad-Key:               3 kB\n"
                       "MemTotal:              9 kB\n"
                       "Three tokens here and more\n"
                       "NoColon 5 kB\n";
    vigil__host_meminfo_field f[16];
    size_t dropped = 0;
    size_t n = vigil__host_parse_meminfo(text, f, 16, &dropped);
    assert_int_equal(n, 3);
    assert_string_equal(f[0].name, "MemTotal_bytes");
    assert_true(f[0].value == 16303412.0 * 1024);
    assert_string_equal(f[1].name, "Active_anon_bytes");
    assert_true(f[1].value == 2210556.0 * 1024);
    assert_string_equal(f[2].name, "HugePages_Total"); /* no unit: no "_bytes", no scaling */
    assert_true(f[2].value == 7);
    /* Dropped: "Odd(a)b(c)" (the greedy rename gives "Odd_a)b(c"), "NoParen)", "Bad-Key", the
     * second MemTotal, the five-word line and the key without ':'. The empty line is skipped. */
    assert_int_equal(dropped, 6);
    assert_true(isnan(vigil__host_meminfo_get(f, n, "Nope")));
    assert_true(vigil__host_meminfo_get(f, n, "MemTotal_bytes") == 16303412.0 * 1024);
}

static void test_meminfo_cap_counts_the_rest(void **state)
{
    (void)state;
    vigil__host_meminfo_field f[2];
    size_t dropped = 0;
    assert_int_equal(vigil__host_parse_meminfo("A: 1 kB\nB: 2 kB\nC: 3 kB\nD: 4\n", f, 2, &dropped),
                     2);
    assert_int_equal(dropped, 2);
}

static void test_loadavg_parses_three_decimals(void **state)
{
    (void)state;
    double l[3];
    assert_true(vigil__host_parse_loadavg("0.66 1.25 13.07 2/1024 31337\n", l));
    assert_true(l[0] == 0.66 && l[1] == 1.25 && l[2] == 13.07);
    assert_false(vigil__host_parse_loadavg("0.66 x 1\n", l));
    assert_false(vigil__host_parse_loadavg("", l));
}

static void test_disk_lines_keep_11_15_or_17_statistics(void **state)
{
    (void)state;
    vigil__host_disk d;
    const char *l11 = "   8       0 sda 1 2 3 4 5 6 7 8 9 10 11";
    assert_true(vigil__host_parse_disk_line(l11, strlen(l11), &d));
    assert_int_equal(d.major, 8);
    assert_int_equal(d.minor, 0);
    assert_string_equal(d.name, "sda");
    assert_int_equal(d.nfields, 11);
    assert_true(d.f[10] == 11 && d.f[11] == 0);
    const char *l15 = "259 0 nvme0n1 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15";
    assert_true(vigil__host_parse_disk_line(l15, strlen(l15), &d));
    assert_int_equal(d.nfields, 15);
    const char *l20 = "254 0 vda 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20";
    assert_true(vigil__host_parse_disk_line(l20, strlen(l20), &d));
    assert_int_equal(d.nfields, 17); /* node_exporter knows 17; later columns are ignored */
    assert_true(d.f[16] == 17);
    const char *bad[] = {"9 0 md0", "8 0 sda 1 2 3 4 5 6 7 8 9 10",
                         "x 0 sda 1 2 3 4 5 6 7 8 9 10 11", "8 0 sda 1 2 3 4 5 6 7 8 9 10 -1"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false(vigil__host_parse_disk_line(bad[i], strlen(bad[i]), &d));
}

static void test_netdev_lines_split_at_the_last_colon(void **state)
{
    (void)state;
    vigil__host_netdev n;
    const char *l = "ibr10:30:       5       6    0    0    0     0          0         0        7"
                    "       8    0    0    0     0       0          16";
    assert_true(vigil__host_parse_netdev_line(l, strlen(l), &n));
    assert_string_equal(n.name, "ibr10:30");
    assert_true(n.f[0] == 5 && n.f[1] == 6 && n.f[8] == 7 && n.f[9] == 8 && n.f[15] == 16);
    const char *hdr1 =
        "Inter-|   Receive                                                |  Transmit";
    const char *hdr2 = " face |bytes    packets errs drop fifo frame compressed multicast|bytes";
    const char *shortl = " docker0: 1 2 3";
    assert_false(vigil__host_parse_netdev_line(hdr1, strlen(hdr1), &n));
    assert_false(vigil__host_parse_netdev_line(hdr2, strlen(hdr2), &n));
    assert_false(vigil__host_parse_netdev_line(shortl, strlen(shortl), &n));
}

static void test_mount_lines_decode_space_and_tab_only(void **state)
{
    (void)state;
    char line[] = "/dev/sda5 /data\\040disk\\011x\\134y ext4 ro,relatime 0 0";
    vigil__host_mount m;
    assert_true(vigil__host_parse_mount_line(line, &m));
    assert_string_equal(m.device, "/dev/sda5");
    assert_string_equal(m.mountpoint, "/data disk\tx\\134y"); /* as node_exporter 1.5 */
    assert_string_equal(m.fstype, "ext4");
    assert_string_equal(m.options, "ro,relatime");
    char shortl[] = "tmpfs /tmp tmpfs";
    assert_false(vigil__host_parse_mount_line(shortl, &m));
    assert_true(vigil__host_mount_readonly("ro"));
    assert_true(vigil__host_mount_readonly("nosuid,ro,relatime"));
    assert_false(vigil__host_mount_readonly("rw,errors=remount-ro"));
    assert_false(vigil__host_mount_readonly("rox,xro"));
    assert_false(vigil__host_mount_readonly(""));
}

static void test_udev_prefers_scsi_serial(void **state)
{
    (void)state;
    char a[] = "E:ID_SERIAL_SHORT=short\nE:SCSI_IDENT_SERIAL=scsi\nS:x\nE:ID_MODEL=M\n";
    vigil__host_udev u;
    vigil__host_parse_udev(a, &u);
    assert_string_equal(u.serial, "scsi");
    assert_string_equal(u.model, "M");
    assert_string_equal(u.path, "");
    char b[] = "E:ID_SERIAL_SHORT=short\nE:ID_WWN=0x1";
    vigil__host_parse_udev(b, &u);
    assert_string_equal(u.serial, "short");
    assert_string_equal(u.wwn, "0x1");
}

static void test_stat_parses_totals_cpus_and_counters(void **state)
{
    (void)state;
    const char *text = "cpu  10 20 30 40 50 60 70 80 90 100\n"
                       "cpu0 1 2 3 4 5 6 7 8\n"
                       "cpu7 9 9 9 9 9 9 9 9 9 9\n"
                       "intr 5 0 0\nctxt 6\nbtime 7\nprocesses 8\nprocs_running 9\n"
                       "procs_blocked 10\n";
    vigil__host_stat st;
    vigil__host_cpu cpus[1];
    size_t n = 0, dropped = 0;
    const char *what = NULL;
    assert_true(vigil__host_parse_stat(text, &st, cpus, 1, &n, &dropped, &what));
    assert_true(st.has_total && st.total[9] == 100);
    assert_int_equal(n, 1);
    assert_int_equal(dropped, 1);
    assert_int_equal(cpus[0].id, 0);
    assert_true(cpus[0].ticks[7] == 8 && cpus[0].ticks[8] == 0); /* older kernel: no guest */
    assert_true(st.intr == 5 && st.ctxt == 6 && st.btime == 7 && st.processes == 8 &&
                st.procs_running == 9 && st.procs_blocked == 10);
    assert_false(vigil__host_parse_stat("cpuX 1 2\n", &st, cpus, 1, &n, &dropped, &what));
    assert_non_null(what);
}

/* --- the fixture tree ------------------------------------------------------------------------ */

static void test_fixture_cpu_and_stat_families(void **state)
{
    (void)state;
    vigil_host_options o;
    fixture_options(&o);
    vigil_registry *reg = host_registry(&o);
    char *out = render(reg, VIGIL_FORMAT_TEXT);
    ASSERT_LINE(out, "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.");
    ASSERT_LINE(out, "# TYPE node_cpu_seconds_total counter");
    ASSERT_LINE(out, "node_cpu_seconds_total{cpu=\"0\",mode=\"user\"} 6334.65");
    ASSERT_LINE(out, "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 100798.7");
    ASSERT_LINE(out, "node_cpu_seconds_total{cpu=\"3\",mode=\"steal\"} 8.88");
    assert_int_equal(count_prefix(out, "node_cpu_seconds_total{"), 4 * 8);
    ASSERT_LINE(out, "# TYPE node_cpu_guest_seconds_total counter");
    ASSERT_LINE(out, "node_cpu_guest_seconds_total{cpu=\"2\",mode=\"nice\"} 0.07");
    ASSERT_LINE(out, "node_cpu_guest_seconds_total{cpu=\"0\",mode=\"user\"} 1.78");
    assert_int_equal(count_prefix(out, "node_cpu_guest_seconds_total{"), 4 * 2);
    ASSERT_LINE(out, "# HELP node_boot_time_seconds Node boot time, in unixtime.");
    ASSERT_LINE(out, "# TYPE node_boot_time_seconds gauge");
    ASSERT_LINE(out, "node_boot_time_seconds 1700000000");
    ASSERT_LINE(out, "# TYPE node_context_switches_total counter");
    ASSERT_LINE(out, "node_context_switches_total 391476612");
    ASSERT_LINE(out, "# HELP node_intr_total Total number of interrupts serviced.");
    ASSERT_LINE(out, "node_intr_total 198843723");
    ASSERT_LINE(out, "node_forks_total 2431198");
    ASSERT_LINE(out, "node_procs_running 3");
    ASSERT_LINE(out, "node_procs_blocked 1");
    ASSERT_LINE(out, "node_load1 0.66");
    ASSERT_LINE(out, "node_load5 1.25");
    ASSERT_LINE(out, "node_load15 3");
    ASSERT_LINE(out, "# HELP node_load15 15m load average.");
    ASSERT_LINE(out, "vigil_collector_errors_total{collector=\"host\"} 0");
    free(out);
    free_host_registry(reg);
}

static void test_fixture_meminfo_every_field_in_bytes(void **state)
{
    (void)state;
    vigil_host_options o;
    fixture_options(&o);
    vigil_registry *reg = host_registry(&o);
    char *out = render(reg, VIGIL_FORMAT_TEXT);
    ASSERT_LINE(out, "# HELP node_memory_MemTotal_bytes Memory information field MemTotal_bytes.");
    ASSERT_LINE(out, "# TYPE node_memory_MemTotal_bytes gauge");
    ASSERT_LINE(out, "node_memory_MemTotal_bytes 16694693888");
    ASSERT_LINE(out, "node_memory_MemAvailable_bytes 9955340288");
    ASSERT_LINE(out, "node_memory_SwapTotal_bytes 2147479552");
    ASSERT_LINE(out, "node_memory_Active_anon_bytes 2263609344");
    ASSERT_LINE(out, "node_memory_HugePages_Total 0");
    ASSERT_LINE(out, "node_memory_VmallocTotal_bytes 35184372087808");
    ASSERT_LINE(out, "node_memory_NFS_Unstable_bytes 0");
    assert_int_equal(count_prefix(out, "# TYPE node_memory_"), 51);
    ASSERT_NO(out, "Bad");
    ASSERT_LINE(out, "vigil_host_dropped_total{subsystem=\"meminfo\"} 2");
    /* MemTotal - MemAvailable, and its share of MemTotal. */
    ASSERT_LINE(out, "vigil_host_memory_used_bytes 6739353600");
    assert_true(fabs(value_of(out, "vigil_host_memory_used_percent") -
                     100.0 * (16303412.0 - 9722012.0) / 16303412.0) < 1e-9);
    free(out);
    free_host_registry(reg);
}

static void test_fixture_filesystems_follow_node_exporter_exclusions(void **state)
{
    (void)state;
    vigil_host_options o;
    fixture_options(&o);
    vigil_registry *reg = host_registry(&o);
    char *out = render(reg, VIGIL_FORMAT_TEXT);
    /* Kept: /, /var/lib/docker (only what is below it is excluded), /tmp (tmpfs is not an
     * excluded type), /home (once, though mounted twice), "/data disk", /missing. */
    const char *kept[] = {
        "{device=\"/dev/sda2\",fstype=\"ext4\",mountpoint=\"/\"}",
        "{device=\"/dev/sda3\",fstype=\"ext4\",mountpoint=\"/var/lib/docker\"}",
        "{device=\"tmpfs\",fstype=\"tmpfs\",mountpoint=\"/tmp\"}",
        "{device=\"/dev/sda4\",fstype=\"xfs\",mountpoint=\"/home\"}",
        "{device=\"/dev/sda5\",fstype=\"ext4\",mountpoint=\"/data disk\"}",
    };
    const char *dirs[] = {"", "/var/lib/docker", "/tmp", "/home", "/data disk"};
    assert_int_equal(count_prefix(out, "node_filesystem_device_error{"), 6);
    for (size_t i = 0; i < sizeof kept / sizeof kept[0]; i++) {
        char series[256], path[1024];
        struct statfs sf;
        snprintf(path, sizeof path, "%s%s", FIXTURE "/rootfs", dirs[i]);
        assert_int_equal(statfs(path, &sf), 0);
        snprintf(series, sizeof series, "node_filesystem_device_error%s", kept[i]);
        assert_true(value_of(out, series) == 0);
        snprintf(series, sizeof series, "node_filesystem_size_bytes%s", kept[i]);
        assert_true(value_of(out, series) == (double)sf.f_blocks * (double)sf.f_bsize);
        snprintf(series, sizeof series, "node_filesystem_files%s", kept[i]);
        assert_true(value_of(out, series) == (double)sf.f_files);
        snprintf(series, sizeof series, "node_filesystem_readonly%s", kept[i]);
        assert_true(value_of(out, series) == (i == 4 ? 1 : 0));
        snprintf(series, sizeof series, "node_filesystem_avail_bytes%s", kept[i]);
        assert_false(isnan(value_of(out, series)));
        snprintf(series, sizeof series, "node_filesystem_free_bytes%s", kept[i]);
        assert_false(isnan(value_of(out, series)));
        snprintf(series, sizeof series, "node_filesystem_files_free%s", kept[i]);
        assert_false(isnan(value_of(out, series)));
        snprintf(series, sizeof series, "vigil_host_filesystem_used_percent%s", kept[i]);
        double pct = value_of(out, series);
        assert_true(pct >= 0 && pct <= 100);
    }
    /* statfs failed: only device_error, as node_exporter 1.5. */
    ASSERT_LINE(out, "node_filesystem_device_error{device=\"/dev/sda6\",fstype=\"ext4\","
                     "mountpoint=\"/missing\"} 1");
    assert_int_equal(count_prefix(out, "node_filesystem_size_bytes{"), 5);
    ASSERT_NO(out, "mountpoint=\"/missing\"} 2");
    const char *gone[] = {"mountpoint=\"/proc",       "mountpoint=\"/sys",  "mountpoint=\"/run",
                          "mountpoint=\"/dev",        "mountpoint=\"/mnt",  "mountpoint=\"/media",
                          "/var/lib/docker/overlay2", "mountpoint=\"/snap", "/dev/fallback",
                          "mountpoint=\"/bad"};
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++)
        ASSERT_NO(out, gone[i]);
    /* The device that is not UTF-8 is left out and counted. */
    ASSERT_LINE(out, "vigil_host_dropped_total{subsystem=\"filesystem\"} 1");
    ASSERT_LINE(out, "# HELP node_filesystem_avail_bytes Filesystem space available to "
                     "non-root users in bytes.");
    ASSERT_LINE(out, "# TYPE node_filesystem_size_bytes gauge");
    free(out);
    free_host_registry(reg);
}

static void test_fixture_diskstats_and_disk_info(void **state)
{
    (void)state;
    vigil_host_options o;
    fixture_options(&o);
    vigil_registry *reg = host_registry(&o);
    char *out = render(reg, VIGIL_FORMAT_TEXT);
    /* Excluded by default: loop*, ram*, partitions (sda1, vda1, nvme0n1p1); md0 has no stats. */
    assert_int_equal(count_prefix(out, "node_disk_info{"), 6);
    ASSERT_LINE(out, "node_disk_info{device=\"sda\",major=\"8\",minor=\"0\","
                     "model=\"Samsung_SSD_860\",path=\"pci-0000:00:1f.2-ata-1\","
                     "revision=\"RVT04B6Q\",serial=\"S3Z9NB0K123456\","
                     "wwn=\"0x5002538e40a1b2c3\"} 1");
    ASSERT_LINE(out, "node_disk_info{device=\"vda\",major=\"254\",minor=\"0\","
                     "model=\"QEMU_HARDDISK\",path=\"\",revision=\"\",serial=\"QM00001\","
                     "wwn=\"\"} 1");
    ASSERT_LINE(out, "node_disk_info{device=\"zram0\",major=\"253\",minor=\"1\",model=\"\","
                     "path=\"\",revision=\"\",serial=\"\",wwn=\"\"} 1");
    const char *gone[] = {"\"loop0\"", "\"ram0\"",      "\"sda1\"",
                          "\"vda1\"",  "\"nvme0n1p1\"", "\"md0\""};
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++)
        ASSERT_NO(out, gone[i]);
    ASSERT_LINE(out, "# TYPE node_disk_reads_completed_total counter");
    ASSERT_LINE(out, "node_disk_reads_completed_total{device=\"sda\"} 446216");
    ASSERT_LINE(out, "node_disk_read_bytes_total{device=\"sda\"} 4614406144"); /* x 512 */
    ASSERT_LINE(out, "node_disk_written_bytes_total{device=\"nvme0n1\"} 15770755072");
    ASSERT_LINE(out, "node_disk_write_time_seconds_total{device=\"sda\"} 1287.468");
    assert_true(value_of(out, "node_disk_read_time_seconds_total{device=\"vda\"}") ==
                357917.0 * 0.001);
    ASSERT_LINE(out, "node_disk_io_now{device=\"vda\"} 2");
    ASSERT_LINE(out, "# TYPE node_disk_io_now gauge");
    ASSERT_LINE(out, "node_disk_io_time_seconds_total{device=\"sda\"} 496.132");
    ASSERT_LINE(out, "node_disk_io_time_weighted_seconds_total{device=\"sda\"} 1695.724");
    /* Discards from 15 columns on (not sda, an 11-column line), flushes from 17. */
    assert_int_equal(count_prefix(out, "node_disk_discards_completed_total{"), 5);
    ASSERT_NO(out, "node_disk_discards_completed_total{device=\"sda\"}");
    ASSERT_LINE(out, "node_disk_discarded_sectors_total{device=\"vda\"} 2176472");
    assert_int_equal(count_prefix(out, "node_disk_flush_requests_total{"), 4);
    ASSERT_NO(out, "node_disk_flush_requests_total{device=\"nvme0n1\"}");
    ASSERT_LINE(out, "node_disk_flush_requests_total{device=\"vda\"} 1445");
    ASSERT_LINE(out, "node_disk_flush_requests_time_seconds_total{device=\"vda\"} 0.079");
    ASSERT_LINE(out, "# HELP node_disk_writes_merged_total The number of writes merged.");
    free(out);
    free_host_registry(reg);
}

static void test_fixture_netdev_excludes_lo(void **state)
{
    (void)state;
    vigil_host_options o;
    fixture_options(&o);
    vigil_registry *reg = host_registry(&o);
    char *out = render(reg, VIGIL_FORMAT_TEXT);
    ASSERT_LINE(out, "# HELP node_network_receive_bytes_total Network device statistic "
                     "receive_bytes.");
    ASSERT_LINE(out, "# TYPE node_network_receive_bytes_total counter");
    ASSERT_LINE(out, "node_network_receive_bytes_total{device=\"eth0\"} 1.8446744073709552e+19");
    ASSERT_LINE(out, "node_network_receive_packets_total{device=\"eth0\"} 1281");
    ASSERT_LINE(out, "node_network_receive_errs_total{device=\"eth0\"} 3");
    ASSERT_LINE(out, "node_network_receive_drop_total{device=\"eth0\"} 4");
    ASSERT_LINE(out, "node_network_receive_fifo_total{device=\"eth0\"} 5");
    ASSERT_LINE(out, "node_network_receive_frame_total{device=\"eth0\"} 6");
    ASSERT_LINE(out, "node_network_receive_compressed_total{device=\"eth0\"} 7");
    ASSERT_LINE(out, "node_network_receive_multicast_total{device=\"eth0\"} 8");
    ASSERT_LINE(out, "node_network_transmit_bytes_total{device=\"eth0\"} 63176");
    ASSERT_LINE(out, "node_network_transmit_packets_total{device=\"eth0\"} 786");
    ASSERT_LINE(out, "node_network_transmit_errs_total{device=\"eth0\"} 9");
    ASSERT_LINE(out, "node_network_transmit_drop_total{device=\"eth0\"} 10");
    ASSERT_LINE(out, "node_network_transmit_fifo_total{device=\"eth0\"} 11");
    ASSERT_LINE(out, "node_network_transmit_colls_total{device=\"eth0\"} 12");
    ASSERT_LINE(out, "node_network_transmit_carrier_total{device=\"eth0\"} 13");
    ASSERT_LINE(out, "node_network_transmit_compressed_total{device=\"eth0\"} 14");
    ASSERT_LINE(out, "node_network_transmit_bytes_total{device=\"ibr10:30\"} 7");
    ASSERT_LINE(out, "node_network_receive_bytes_total{device=\"wlan0\"} 100");
    assert_int_equal(count_prefix(out, "node_network_receive_bytes_total{"), 3);
    ASSERT_NO(out, "device=\"lo\"");
    ASSERT_NO(out, "docker0");
    free(out);
    free_host_registry(reg);
}

static void test_fixture_openmetrics_names_counters_without_total(void **state)
{
    (void)state;
    vigil_host_options o;
    fixture_options(&o);
    vigil_registry *reg = host_registry(&o);
    char *out = render(reg, VIGIL_FORMAT_OPENMETRICS);
    ASSERT_LINE(out, "# TYPE node_cpu_seconds counter");
    ASSERT_LINE(out, "node_cpu_seconds_total{cpu=\"0\",mode=\"user\"} 6334.65");
    ASSERT_LINE(out, "# TYPE node_intr counter");
    ASSERT_LINE(out, "# TYPE node_memory_MemTotal_bytes gauge");
    ASSERT_LINE(out, "# EOF");
    free(out);
    free_host_registry(reg);
}

static void test_fixture_scrape_success_per_subsystem(void **state)
{
    (void)state;
    vigil_host_options o;
    fixture_options(&o);
    vigil_registry *reg = host_registry(&o);
    char *out = render(reg, VIGIL_FORMAT_TEXT);
    const char *subs[] = {"cpu", "meminfo", "filesystem", "diskstats", "netdev", "loadavg", "stat"};
    for (size_t i = 0; i < sizeof subs / sizeof subs[0]; i++) {
        char series[128];
        snprintf(series, sizeof series, "node_scrape_collector_success{collector=\"%s\"}", subs[i]);
        assert_true(value_of(out, series) == 1);
        snprintf(series, sizeof series, "node_scrape_collector_duration_seconds{collector=\"%s\"}",
                 subs[i]);
        assert_true(value_of(out, series) >= 0);
    }
    free(out);
    free_host_registry(reg);
}

static void test_caps_leave_items_out_and_count_them(void **state)
{
    (void)state;
    vigil_host_options o;
    fixture_options(&o);
    o.max_cpus = 3;
    o.max_filesystems = 2;
    o.max_disks = 1;
    o.max_net_devices = 1;
    vigil_registry *reg = host_registry(&o);
    char *out = render(reg, VIGIL_FORMAT_TEXT);
    assert_int_equal(count_prefix(out, "node_cpu_seconds_total{"), 3 * 8);
    assert_int_equal(count_prefix(out, "node_filesystem_device_error{"), 2);
    assert_int_equal(count_prefix(out, "node_disk_info{"), 1);
    assert_int_equal(count_prefix(out, "node_network_receive_bytes_total{"), 1);
    free(out);
    out = render(reg, VIGIL_FORMAT_TEXT); /* counted per collection */
    /* Per collection: 1 of 4 CPUs; 6 mount lines after the first two kept (/tmp, /home twice
     * since a line is compared with kept ones only, "/data disk", /missing, the non-UTF-8
     * one); 5 of 6 disks; 2 of 3 network devices. */
    ASSERT_LINE(out, "vigil_host_dropped_total{subsystem=\"cpu\"} 2");
    ASSERT_LINE(out, "vigil_host_dropped_total{subsystem=\"filesystem\"} 12");
    ASSERT_LINE(out, "vigil_host_dropped_total{subsystem=\"diskstats\"} 10");
    ASSERT_LINE(out, "vigil_host_dropped_total{subsystem=\"netdev\"} 4");
    ASSERT_LINE(out, "vigil_collector_errors_total{collector=\"host\"} 0");
    free(out);
    free_host_registry(reg);
}

static void test_subsystems_select_families(void **state)
{
    (void)state;
    vigil_host_options o;
    fixture_options(&o);
    o.subsystems = VIGIL_HOST_LOADAVG;
    vigil_registry *reg = host_registry(&o);
    char *out = render(reg, VIGIL_FORMAT_TEXT);
    ASSERT_LINE(out, "node_load1 0.66");
    ASSERT_LINE(out, "node_scrape_collector_success{collector=\"loadavg\"} 1");
    assert_int_equal(count_prefix(out, "node_scrape_collector_success{"), 1);
    ASSERT_NO(out, "node_cpu");
    ASSERT_NO(out, "node_memory");
    ASSERT_NO(out, "vigil_host_");
    free(out);
    free_host_registry(reg);

    o.subsystems = VIGIL_HOST_USAGE;
    reg = host_registry(&o);
    out = render(reg, VIGIL_FORMAT_TEXT);
    ASSERT_LINE(out, "vigil_host_memory_used_bytes 6739353600");
    assert_int_equal(count_prefix(out, "vigil_host_filesystem_used_bytes{"), 5);
    assert_int_equal(count_prefix(out, "vigil_host_cpu_usage_percent "), 1);
    ASSERT_NO(out, "node_");
    free(out);
    free_host_registry(reg);
}

static void test_patterns_replace_the_defaults(void **state)
{
    (void)state;
    vigil_host_options o;
    fixture_options(&o);
    o.net_devices_exclude = "";          /* exclude none: lo appears */
    o.disk_devices_exclude = "^(sd|vd)"; /* sda, sda1, vda, vda1 go; loop0 and ram0 stay */
    o.mount_points_exclude = "^/home$";
    o.fs_types_exclude = "^(proc|sysfs)$";
    vigil_registry *reg = host_registry(&o);
    char *out = render(reg, VIGIL_FORMAT_TEXT);
    ASSERT_LINE(out, "node_network_receive_bytes_total{device=\"lo\"} 763850375");
    assert_false(isnan(value_of(out, "node_disk_reads_completed_total{device=\"loop0\"}")));
    assert_false(isnan(value_of(out, "node_disk_reads_completed_total{device=\"ram0\"}")));
    ASSERT_NO(out, "device=\"sda\"");
    ASSERT_NO(out, "device=\"vda1\"");
    ASSERT_NO(out, "mountpoint=\"/home\"");
    ASSERT_LINE(out, "node_filesystem_device_error{device=\"tmpfs\",fstype=\"tmpfs\","
                     "mountpoint=\"/run\"} 1"); /* kept now; no such directory in rootfs/ */
    free(out);
    free_host_registry(reg);
}

static void test_registration_errors(void **state)
{
    (void)state;
    vigil_registry *reg = new_registry();
    vigil_host_options o;
    fixture_options(&o);
    o.disk_devices_exclude = "(unclosed";
    assert_int_equal(vigil_collect_host_register(reg, &o), VIGIL_EINVAL);
    assert_non_null(strstr(vigil_errmsg(), "disk_devices_exclude"));
    assert_int_equal(vigil_collect_host_register(NULL, NULL), VIGIL_EINVAL);
    fixture_options(&o);
    assert_int_equal(vigil_collect_host_register(reg, &o), VIGIL_OK);
    assert_int_equal(vigil_collect_host_register(reg, &o), VIGIL_EEXIST);
    o.name = "host_fixture_2";
    assert_int_equal(vigil_collect_host_register(reg, &o), VIGIL_OK); /* another name */
    assert_int_equal(vigil_collect_host_unregister(reg, "nope"), VIGIL_ENOTFOUND);
    assert_int_equal(vigil_collect_host_unregister(NULL, NULL), VIGIL_EINVAL);
    /* Both collectors emit node_* names: the second is refused and counted, the first kept. */
    char *out = render(reg, VIGIL_FORMAT_TEXT);
    ASSERT_LINE(out, "vigil_collector_errors_total{collector=\"host\"} 0");
    ASSERT_LINE(out, "vigil_collector_errors_total{collector=\"host_fixture_2\"} 1");
    ASSERT_LINE(out, "node_load1 0.66");
    free(out);
    assert_int_equal(vigil_collect_host_unregister(reg, "host_fixture_2"), VIGIL_OK);
    assert_int_equal(vigil_collect_host_unregister(reg, NULL), VIGIL_OK);
    assert_int_equal(vigil_collect_host_unregister(reg, NULL), VIGIL_ENOTFOUND);
    assert_int_equal(vigil_collect_host_register(reg, &o), VIGIL_OK); /* again after removal */
    assert_int_equal(vigil_collect_host_unregister(reg, "host_fixture_2"), VIGIL_OK);
    vigil_registry_free(reg);
}

/* --- behaviour over time, on trees the test writes ------------------------------------------- */

static const char *stat_text(char *buf, size_t cap, uint64_t user, uint64_t idle, uint64_t iowait)
{
    snprintf(buf, cap,
             "cpu  %llu 0 0 %llu %llu 0 0 0 0 0\ncpu0 %llu 0 0 %llu %llu 0 0 0 0 0\n"
             "ctxt 1\nbtime 2\n",
             (unsigned long long)user, (unsigned long long)idle, (unsigned long long)iowait,
             (unsigned long long)user, (unsigned long long)idle, (unsigned long long)iowait);
    return buf;
}

static void test_cpu_counters_never_go_back_unless_idle_jumps(void **state)
{
    (void)state;
    char dir[64], st[256];
    make_tree(dir, sizeof dir);
    write_file(dir, "stat", stat_text(st, sizeof st, 1000, 50000, 500));
    vigil_host_options o;
    vigil_host_options_init(&o);
    o.proc_path = dir;
    o.subsystems = VIGIL_HOST_CPU;
    vigil_registry *reg = host_registry(&o);
    char *out = render(reg, VIGIL_FORMAT_TEXT);
    ASSERT_LINE(out, "node_cpu_seconds_total{cpu=\"0\",mode=\"iowait\"} 5");
    free(out);
    /* iowait goes back (Linux does that): the exposed counter keeps its value. */
    write_file(dir, "stat", stat_text(st, sizeof st, 1100, 50100, 400));
    out = render(reg, VIGIL_FORMAT_TEXT);
    ASSERT_LINE(out, "node_cpu_seconds_total{cpu=\"0\",mode=\"iowait\"} 5");
    ASSERT_LINE(out, "node_cpu_seconds_total{cpu=\"0\",mode=\"user\"} 11");
    free(out);
    /* idle back by 2.99 s: still a blip, nothing goes back */
    write_file(dir, "stat", stat_text(st, sizeof st, 1200, 49801, 450));
    out = render(reg, VIGIL_FORMAT_TEXT);
    ASSERT_LINE(out, "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 501");
    ASSERT_LINE(out, "node_cpu_seconds_total{cpu=\"0\",mode=\"iowait\"} 5");
    free(out);
    /* idle back by 3 s or more: a hotplug, the CPU's counters start over */
    write_file(dir, "stat", stat_text(st, sizeof st, 10, 100, 1));
    out = render(reg, VIGIL_FORMAT_TEXT);
    ASSERT_LINE(out, "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 1");
    ASSERT_LINE(out, "node_cpu_seconds_total{cpu=\"0\",mode=\"iowait\"} 0.01");
    ASSERT_LINE(out, "node_cpu_seconds_total{cpu=\"0\",mode=\"user\"} 0.1");
    free(out);
    free_host_registry(reg);
    remove_tree(dir);
}

static void test_cpu_usage_percent_covers_the_interval(void **state)
{
    (void)state;
    char dir[64], st[256];
    make_tree(dir, sizeof dir);
    write_file(dir, "stat", stat_text(st, sizeof st, 1000, 9000, 0)); /* 10 % since boot */
    vigil_host_options o;
    vigil_host_options_init(&o);
    o.proc_path = dir;
    o.subsystems = VIGIL_HOST_USAGE;
    vigil_registry *reg = host_registry(&o); /* the interval starts here */
    /* +30 user, +60 idle, +10 iowait: 30 % busy (iowait counts as not busy) */
    write_file(dir, "stat", stat_text(st, sizeof st, 1030, 9060, 10));
    char *out = render(reg, VIGIL_FORMAT_TEXT);
    ASSERT_LINE(out, "vigil_host_cpu_usage_percent 30");
    free(out);
    /* 5 more ticks (< 10 per CPU): too short to measure, the last value stays */
    write_file(dir, "stat", stat_text(st, sizeof st, 1035, 9060, 10));
    out = render(reg, VIGIL_FORMAT_TEXT);
    ASSERT_LINE(out, "vigil_host_cpu_usage_percent 30");
    free(out);
    /* then 100 idle ticks: measured from the previous baseline, 5 busy of 105 */
    write_file(dir, "stat", stat_text(st, sizeof st, 1035, 9160, 10));
    out = render(reg, VIGIL_FORMAT_TEXT);
    assert_true(fabs(value_of(out, "vigil_host_cpu_usage_percent") - 100.0 * 5 / 105) < 1e-9);
    free(out);
    free_host_registry(reg);
    remove_tree(dir);
}

static void test_missing_files_fail_their_subsystem_only(void **state)
{
    (void)state;
    char dir[64];
    make_tree(dir, sizeof dir);
    write_file(dir, "loadavg", "0.50 0.25 0.125 1/1 1\n");
    vigil_host_options o;
    vigil_host_options_init(&o);
    o.proc_path = dir;
    vigil_registry *reg = host_registry(&o);
    char *out = render(reg, VIGIL_FORMAT_TEXT);
    ASSERT_LINE(out, "node_load1 0.5");
    ASSERT_LINE(out, "node_load15 0.125");
    ASSERT_LINE(out, "node_scrape_collector_success{collector=\"loadavg\"} 1");
    ASSERT_LINE(out, "node_scrape_collector_success{collector=\"cpu\"} 0");
    ASSERT_LINE(out, "node_scrape_collector_success{collector=\"meminfo\"} 0");
    ASSERT_LINE(out, "node_scrape_collector_success{collector=\"filesystem\"} 0");
    ASSERT_LINE(out, "node_scrape_collector_success{collector=\"diskstats\"} 0");
    ASSERT_LINE(out, "node_scrape_collector_success{collector=\"netdev\"} 0");
    ASSERT_LINE(out, "node_scrape_collector_success{collector=\"stat\"} 0");
    ASSERT_LINE(out, "vigil_collector_errors_total{collector=\"host\"} 0");
    ASSERT_NO(out, "node_cpu");
    free(out);
    /* The files appear later (and /proc/1/mounts stays hidden): picked up, with the fallback. */
    char st[256];
    write_file(dir, "stat", stat_text(st, sizeof st, 100, 100, 0));
    write_file(dir, "mounts", "rootfs / ext4 rw 0 0\n");
    out = render(reg, VIGIL_FORMAT_TEXT);
    ASSERT_LINE(out, "node_scrape_collector_success{collector=\"cpu\"} 1");
    ASSERT_LINE(out, "node_scrape_collector_success{collector=\"filesystem\"} 1");
    ASSERT_LINE(out, "node_filesystem_device_error{device=\"rootfs\",fstype=\"ext4\","
                     "mountpoint=\"/\"} 0");
    free(out);
    free_host_registry(reg);
    remove_tree(dir);
}

static void test_file_over_max_file_bytes_fails_cleanly(void **state)
{
    (void)state;
    vigil_host_options o;
    fixture_options(&o);
    o.max_file_bytes = 256; /* /proc/stat of the fixture is larger */
    vigil_registry *reg = host_registry(&o);
    char *out = render(reg, VIGIL_FORMAT_TEXT);
    ASSERT_LINE(out, "node_scrape_collector_success{collector=\"cpu\"} 0");
    ASSERT_LINE(out, "node_scrape_collector_success{collector=\"loadavg\"} 1");
    free(out);
    free_host_registry(reg);
}

/* The parsed mount table is kept until the kernel reports a change (POLLPRI): a mount and an
 * unmount must each show up on the next scrape. Runs in a child with its own mount namespace
 * (needs CAP_SYS_ADMIN; skipped without it), reading /proc/<child>/mounts through a symlink
 * tree: <tmp>/1 -> /proc/self. */
static int mount_child(const char *dir)
{
    char one[1024], mnt[1024], series[1200];
    snprintf(one, sizeof one, "%s/1", dir);
    snprintf(mnt, sizeof mnt, "%s/m", dir);
    if (unshare(CLONE_NEWNS) != 0 || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) != 0)
        return 77;
    if (symlink("/proc/self", one) != 0 || mkdir(mnt, 0700) != 0)
        return 10;
    vigil_host_options o;
    vigil_host_options_init(&o);
    o.proc_path = dir;
    o.subsystems = VIGIL_HOST_FILESYSTEM;
    vigil_registry *reg;
    if (vigil_registry_new(&reg) != VIGIL_OK || vigil_collect_host_register(reg, &o) != VIGIL_OK)
        return 11;
    snprintf(series, sizeof series,
             "node_filesystem_size_bytes{device=\"vigiltest\",fstype=\"tmpfs\",mountpoint=\"%s\"}",
             mnt);
    int rc = 0;
    for (int step = 0; step < 4 && rc == 0; step++) {
        if (step == 1 && mount("vigiltest", mnt, "tmpfs", 0, "size=1m") != 0)
            rc = 12;
        if (step == 3 && umount(mnt) != 0)
            rc = 13;
        vigil_buffer b;
        vigil_buffer_init(&b, 0);
        if (rc == 0 && vigil_expo_render(reg, VIGIL_FORMAT_TEXT, &b) != VIGIL_OK)
            rc = 14;
        double v = rc == 0 ? value_of(vigil_buffer_cstr(&b), series) : NAN;
        bool mounted = step == 1 || step == 2; /* step 2: unchanged, from the kept table */
        if (rc == 0 && mounted != !isnan(v))
            rc = 20 + step;
        if (rc == 0 && mounted && v != 1024.0 * 1024)
            rc = 30 + step;
        vigil_buffer_free(&b);
    }
    vigil_collect_host_unregister(reg, NULL);
    vigil_registry_free(reg);
    unlink(one);
    rmdir(mnt);
    return rc;
}

static void test_kept_mount_table_follows_mounts_and_unmounts(void **state)
{
    (void)state;
    char dir[64];
    make_tree(dir, sizeof dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0)
        _exit(mount_child(dir));
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    remove_tree(dir);
    assert_true(WIFEXITED(status));
    if (WEXITSTATUS(status) == 77)
        skip(); /* no mount namespace here */
    if (WEXITSTATUS(status) != 0)
        fail_msg("child failed at check %d", WEXITSTATUS(status));
}

/* --- snapshots ------------------------------------------------------------------------------- */

static void test_host_stats_read_from_fixture(void **state)
{
    (void)state;
    vigil_host_stats s;
    assert_int_equal(vigil_host_stats_read(FIXTURE "/proc", &s), VIGIL_OK);
    double total = 2533906.0 + 1204 + 815271 + 40328930 + 12843 + 0 + 21417 + 3550;
    assert_true(fabs(s.cpu_total_seconds - total / 100) < 1e-6);
    assert_true(s.cpu_idle_seconds == 40328930.0 / 100);
    assert_true(s.cpu_iowait_seconds == 12843.0 / 100);
    assert_int_equal(s.cpus, 4);
    assert_true(s.mem_total_bytes == 16303412.0 * 1024);
    assert_true(s.mem_available_bytes == 9722012.0 * 1024);
    assert_true(s.mem_free_bytes == 1013380.0 * 1024);
    assert_true(s.swap_total_bytes == 2097148.0 * 1024);
    assert_true(s.swap_free_bytes == 2042108.0 * 1024);
    assert_true(s.load1 == 0.66 && s.load5 == 1.25 && s.load15 == 3.0);
    assert_true(s.boot_time_seconds == 1700000000.0);

    assert_int_equal(vigil_host_stats_read("/nonexistent/proc", &s), VIGIL_EIO);
    assert_non_null(strstr(vigil_errmsg(), "/nonexistent/proc/stat"));
    assert_true(isnan(s.mem_total_bytes) && isnan(s.load1) && isnan(s.cpu_total_seconds));
    assert_int_equal(vigil_host_stats_read(NULL, NULL), VIGIL_EINVAL);
}

static void test_fs_usage_read_matches_statfs(void **state)
{
    (void)state;
    vigil_host_fs_usage u;
    struct statfs sf;
    assert_int_equal(vigil_host_fs_usage_read(FIXTURE, &u), VIGIL_OK);
    assert_int_equal(statfs(FIXTURE, &sf), 0);
    assert_true(u.size_bytes == (double)sf.f_blocks * (double)sf.f_bsize);
    assert_true(u.files == (double)sf.f_files);
    assert_true(u.used_bytes == u.size_bytes - u.free_bytes);
    assert_true(u.used_percent >= 0 && u.used_percent <= 100);
    assert_int_equal(vigil_host_fs_usage_read("/nonexistent/dir", &u), VIGIL_EIO);
    assert_non_null(strstr(vigil_errmsg(), "/nonexistent/dir"));
}

/* --- the real /proc -------------------------------------------------------------------------- */

static void test_real_proc_values_are_sane(void **state)
{
    (void)state;
    vigil_registry *reg = host_registry(NULL);
    char *out = render(reg, VIGIL_FORMAT_TEXT);
    free(out);
    usleep(200000); /* an interval for the usage gauge */
    out = render(reg, VIGIL_FORMAT_TEXT);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    assert_true(count_prefix(out, "node_cpu_seconds_total{") >= 8);
    assert_true(count_prefix(out, "node_cpu_seconds_total{") <= 8 * (ncpu > 0 ? ncpu : 1024));
    double idle0 = value_of(out, "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"}");
    assert_true(idle0 >= 0);
    double total = value_of(out, "node_memory_MemTotal_bytes");
    double avail = value_of(out, "node_memory_MemAvailable_bytes");
    double freeb = value_of(out, "node_memory_MemFree_bytes");
    assert_true(total > 64.0 * 1024 * 1024);
    assert_true(avail > 0 && avail <= total);
    assert_true(freeb > 0 && freeb <= total);
    assert_true(fabs(value_of(out, "vigil_host_memory_used_bytes") - (total - avail)) <
                total * 0.1);
    double boot = value_of(out, "node_boot_time_seconds");
    assert_true(boot > 946684800.0 && boot < (double)time(NULL));
    assert_true(value_of(out, "node_context_switches_total") > 0);
    assert_true(value_of(out, "node_intr_total") >= 0);
    assert_true(value_of(out, "node_load1") >= 0);
    double usage = value_of(out, "vigil_host_cpu_usage_percent");
    assert_true(usage >= 0 && usage <= 100);
    assert_true(value_of(out, "node_scrape_collector_success{collector=\"cpu\"}") == 1);
    assert_true(value_of(out, "node_scrape_collector_success{collector=\"meminfo\"}") == 1);
    assert_true(value_of(out, "node_scrape_collector_success{collector=\"loadavg\"}") == 1);
    assert_true(value_of(out, "node_scrape_collector_success{collector=\"stat\"}") == 1);
    ASSERT_LINE(out, "vigil_collector_errors_total{collector=\"host\"} 0");
    /* Every filesystem that could be measured: avail <= free <= size. */
    for (const char *p = strstr(out, "\nnode_filesystem_size_bytes{"); p;
         p = strstr(p + 1, "\nnode_filesystem_size_bytes{")) {
        const char *lab = strchr(p, '{'), *end = strchr(lab, '}');
        char series[1024];
        double size = strtod(end + 2, NULL);
        snprintf(series, sizeof series, "node_filesystem_free_bytes%.*s", (int)(end - lab + 1),
                 lab);
        double fr = value_of(out, series);
        snprintf(series, sizeof series, "node_filesystem_avail_bytes%.*s", (int)(end - lab + 1),
                 lab);
        double av = value_of(out, series);
        assert_true(size >= fr && fr >= av && av >= 0);
    }
    vigil_host_stats s;
    assert_int_equal(vigil_host_stats_read(NULL, &s), VIGIL_OK);
    assert_true(s.cpus >= 1 && s.mem_total_bytes == total);
    free(out);
    free_host_registry(reg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decimals_are_the_correctly_rounded_double),
        cmocka_unit_test(test_u64_rejects_overflow_and_junk),
        cmocka_unit_test(test_meminfo_keys_become_node_exporter_names),
        cmocka_unit_test(test_meminfo_cap_counts_the_rest),
        cmocka_unit_test(test_loadavg_parses_three_decimals),
        cmocka_unit_test(test_disk_lines_keep_11_15_or_17_statistics),
        cmocka_unit_test(test_netdev_lines_split_at_the_last_colon),
        cmocka_unit_test(test_mount_lines_decode_space_and_tab_only),
        cmocka_unit_test(test_udev_prefers_scsi_serial),
        cmocka_unit_test(test_stat_parses_totals_cpus_and_counters),
        cmocka_unit_test(test_fixture_cpu_and_stat_families),
        cmocka_unit_test(test_fixture_meminfo_every_field_in_bytes),
        cmocka_unit_test(test_fixture_filesystems_follow_node_exporter_exclusions),
        cmocka_unit_test(test_fixture_diskstats_and_disk_info),
        cmocka_unit_test(test_fixture_netdev_excludes_lo),
        cmocka_unit_test(test_fixture_openmetrics_names_counters_without_total),
        cmocka_unit_test(test_fixture_scrape_success_per_subsystem),
        cmocka_unit_test(test_caps_leave_items_out_and_count_them),
        cmocka_unit_test(test_subsystems_select_families),
        cmocka_unit_test(test_patterns_replace_the_defaults),
        cmocka_unit_test(test_registration_errors),
        cmocka_unit_test(test_cpu_counters_never_go_back_unless_idle_jumps),
        cmocka_unit_test(test_cpu_usage_percent_covers_the_interval),
        cmocka_unit_test(test_missing_files_fail_their_subsystem_only),
        cmocka_unit_test(test_file_over_max_file_bytes_fails_cleanly),
        cmocka_unit_test(test_kept_mount_table_follows_mounts_and_unmounts),
        cmocka_unit_test(test_host_stats_read_from_fixture),
        cmocka_unit_test(test_fs_usage_read_matches_statfs),
        cmocka_unit_test(test_real_proc_values_are_sane),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
