/* host_fixture.c — serves what a service with vigil's process and host collectors serves, for
 * integration/host_metrics_agree_with_node_exporter and
 * integration/promtool_flags_only_node_exporter_names_in_host_metrics.
 *
 *   vigil-integ-host-fixture
 *
 * builds a registry with vigil_collect_process_register and vigil_collect_host_register(reg,
 * NULL) (the defaults: real /proc, node_exporter 1.5's exclusions), serves it with
 * vigil_http_server_serve_metrics on 127.0.0.1 (port 0), prints
 * "URL http://127.0.0.1:PORT/metrics" and serves until its stdin reaches end of file.
 * Exit status 0, or 1 with a message on stderr.
 */
#include <errno.h>
#include <stdio.h>
#include <unistd.h>

#include <vigil.h>

static int die(const char *call, vigil_status st)
{
    fprintf(stderr, "host_fixture: %s: %s (%s)\n", call, vigil_strerror(st), vigil_errmsg());
    return 1;
}

int main(void)
{
    vigil_registry *reg;
    vigil_status st = vigil_registry_new(&reg);
    if (st != VIGIL_OK)
        return die("vigil_registry_new", st);
    if ((st = vigil_collect_process_register(reg)) != VIGIL_OK)
        return die("vigil_collect_process_register", st);
    if ((st = vigil_collect_host_register(reg, NULL)) != VIGIL_OK)
        return die("vigil_collect_host_register", st);

    vigil_http_options ho;
    vigil_http_options_init(&ho);
    ho.listen = "127.0.0.1:0";
    vigil_http_server *srv;
    if ((st = vigil_http_server_new(&ho, &srv)) != VIGIL_OK)
        return die("vigil_http_server_new", st);
    if ((st = vigil_http_server_serve_metrics(srv, "/metrics", reg)) != VIGIL_OK)
        return die("vigil_http_server_serve_metrics", st);
    if ((st = vigil_http_server_start(srv)) != VIGIL_OK)
        return die("vigil_http_server_start", st);
    printf("URL http://127.0.0.1:%u/metrics\n", vigil_http_server_port(srv));
    fflush(stdout);

    /* Serve until the driver closes our stdin (or dies, which closes it too). */
    char buf[256];
    ssize_t r;
    while ((r = read(STDIN_FILENO, buf, sizeof buf)) != 0) {
        if (r < 0 && errno != EINTR)
            break;
    }
    vigil_http_server_free(srv);
    if ((st = vigil_collect_host_unregister(reg, NULL)) != VIGIL_OK)
        return die("vigil_collect_host_unregister", st);
    vigil_registry_free(reg);
    return 0;
}
