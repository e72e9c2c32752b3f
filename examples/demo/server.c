/* server.c — the message server: an accepting thread and one thread per connection.
 *
 * A thread per connection keeps each session a straight-line loop (greet, then poll, read,
 * answer) that reads like the protocol in docs/demo.md; the demo's few hundred connections at
 * most make that affordable, and SERVER_MAX_CONNECTIONS bounds it. A session waits in poll()
 * on three things: its socket, the server's stop signal, and the earliest of its deadlines (a
 * late answer falling due, the client's silence running out). Late answers, the slow-response
 * fault, are encoded at once and held in a fixed queue until due, so a slow request does not
 * hold up the heartbeats and requests behind it.
 *
 * Only the accepting thread touches the session table; it reaps finished sessions as it goes,
 * and server_stop joins it before joining the sessions left, so the table needs no lock. */
#include "server.h"

#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "demo.h"

typedef struct late_answer {
    uint64_t due_ns;
    uint8_t *frame; /* encoded, ready to write */
    size_t len;
    uint32_t id;
    unsigned type;
} late_answer;

typedef struct session {
    demo_server *srv;
    pthread_t thread;
    atomic_bool done;
    int fd;
    conn c;
    char name[PROTO_MAX_NAME + 1]; /* "conn-17" until the HELLO names the client */
    demo_rng rng;
    uint64_t last_heard_ns;
    late_answer late[SERVER_MAX_LATE];
    size_t nlate;
    char reason[320]; /* why the session ended, for the disconnect event */
    proto_reader reader;
} session;

struct demo_server {
    demo_server_opts o;
    int listen_fd;
    demo_stop stop;
    atomic_bool accepting;
    bool running; /* the accepting thread was started and not yet joined */
    pthread_t acceptor;
    uint64_t accepted;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    char addr_text[80];
    session *sessions[SERVER_MAX_CONNECTIONS];
};

/* What handling a frame or a wait means for the session. */
typedef enum step {
    STEP_GO = 0,
    STEP_END = 1,
} step;

/* --- sending ----------------------------------------------------------------------------- */

static step end_session(session *s, const char *reason)
{
    snprintf(s->reason, sizeof s->reason, "%s", reason);
    return STEP_END;
}

static step write_frame(session *s, const uint8_t *frame, size_t len, unsigned type, uint32_t id)
{
    char err[256];
    if (conn_write(&s->c, frame, len, err, sizeof err) != 0) {
        instr_error(s->srv->o.instr, ERR_NETWORK, s->name);
        char reason[300];
        snprintf(reason, sizeof reason, "write failed: %s", err);
        return end_session(s, reason);
    }
    instr_message(s->srv->o.instr, ROLE_SERVER, DIR_SENT, type, len, s->name, id);
    return STEP_GO;
}

static step send_frame(session *s, unsigned type, uint32_t id, const void *payload, size_t len)
{
    uint8_t frame[PROTO_MAX_FRAME];
    size_t n = proto_encode(type, id, payload, len, frame, sizeof frame);
    if (n == 0) /* our own frames always fit; a failure here is a bug worth counting */
        instr_error(s->srv->o.instr, ERR_ENCODE, s->name);
    return n == 0 ? STEP_GO : write_frame(s, frame, n, type, id);
}

static step send_text(session *s, unsigned type, uint32_t id, const char *text)
{
    return send_frame(s, type, id, text, strlen(text));
}

/* BYE with a reason, then the end of the session. */
static step say_bye(session *s, const char *reason)
{
    (void)send_text(s, PROTO_BYE, 0, reason);
    return end_session(s, reason);
}

/* --- answering requests ------------------------------------------------------------------ */

/* The answer: the payload reversed, corrupted now and then by the decode fault. */
static size_t encode_answer(session *s, const proto_frame *f, uint8_t *out, size_t cap)
{
    uint8_t data[PROTO_MAX_PAYLOAD];
    for (uint32_t i = 0; i < f->len; i++)
        data[i] = f->payload[f->len - 1 - i];
    size_t n = proto_encode(PROTO_RESPONSE, f->id, data, f->len, out, cap);
    if (n > 0)
        (void)faults_corrupt(s->srv->o.faults, &s->rng, out, n);
    return n;
}

static step hold_answer(session *s, const uint8_t *frame, size_t n, uint32_t id, double delay)
{
    if (s->nlate == SERVER_MAX_LATE) {
        instr_error(s->srv->o.instr, ERR_OVERLOAD, s->name);
        return send_text(s, PROTO_ERROR, id, "overloaded: too many late answers");
    }
    uint8_t *copy = malloc(n);
    if (copy == NULL) {
        instr_error(s->srv->o.instr, ERR_OVERLOAD, s->name);
        return send_text(s, PROTO_ERROR, id, "overloaded: out of memory");
    }
    memcpy(copy, frame, n);
    s->late[s->nlate++] = (late_answer){.due_ns = mono_ns() + (uint64_t)(delay * 1e9),
                                        .frame = copy,
                                        .len = n,
                                        .id = id,
                                        .type = PROTO_RESPONSE};
    return STEP_GO;
}

static step answer_request(session *s, const proto_frame *f)
{
    uint8_t frame[PROTO_MAX_FRAME];
    size_t n = encode_answer(s, f, frame, sizeof frame);
    if (n == 0) {
        instr_error(s->srv->o.instr, ERR_ENCODE, s->name);
        return send_text(s, PROTO_ERROR, f->id, "cannot encode the answer");
    }
    double delay = faults_answer_delay(s->srv->o.faults, &s->rng);
    if (delay > 0)
        return hold_answer(s, frame, n, f->id, delay);
    return write_frame(s, frame, n, PROTO_RESPONSE, f->id);
}

static void drop_late(session *s, size_t i)
{
    free(s->late[i].frame);
    s->late[i] = s->late[--s->nlate];
}

static step send_due_answers(session *s, uint64_t now)
{
    for (size_t i = 0; i < s->nlate;) {
        if (s->late[i].due_ns > now) {
            i++;
            continue;
        }
        late_answer a = s->late[i];
        s->late[i] = s->late[--s->nlate];
        step st = write_frame(s, a.frame, a.len, a.type, a.id);
        free(a.frame);
        if (st == STEP_END)
            return st;
    }
    return STEP_GO;
}

static uint64_t next_due(const session *s)
{
    uint64_t due = UINT64_MAX;
    for (size_t i = 0; i < s->nlate; i++)
        if (s->late[i].due_ns < due)
            due = s->late[i].due_ns;
    return due;
}

/* --- receiving --------------------------------------------------------------------------- */

static step on_ping(session *s, const proto_frame *f)
{
    instr_heartbeat_received(s->srv->o.instr, s->name);
    if (rng_chance(&s->rng, s->srv->o.faults->drop_heartbeat_rate))
        return STEP_GO; /* the dropped-heartbeat fault: no PONG */
    return send_frame(s, PROTO_PONG, f->id, NULL, 0);
}

/* "client said bye: <its reason>", keeping only printable ASCII of the peer's text. */
static step on_bye(session *s, const proto_frame *f)
{
    char reason[96] = "client said bye";
    size_t n = strlen(reason);
    if (f->len > 0 && n + 2 < sizeof reason) {
        memcpy(reason + n, ": ", 2);
        n += 2;
    }
    for (uint32_t i = 0; i < f->len && n + 1 < sizeof reason; i++)
        if (f->payload[i] >= 0x20 && f->payload[i] < 0x7f)
            reason[n++] = (char)f->payload[i];
    reason[n] = '\0';
    return end_session(s, reason);
}

static step on_frame(session *s, const proto_frame *f)
{
    instr_message(s->srv->o.instr, ROLE_SERVER, DIR_RECEIVED, f->type, PROTO_HEADER_SIZE + f->len,
                  s->name, f->id);
    switch (f->type) {
    case PROTO_PING: return on_ping(s, f);
    case PROTO_REQUEST: return answer_request(s, f);
    case PROTO_BYE: return on_bye(s, f);
    default:
        instr_error(s->srv->o.instr, ERR_PROTOCOL, s->name);
        char why[64];
        snprintf(why, sizeof why, "unexpected %s frame", proto_type_name(f->type));
        return send_text(s, PROTO_ERROR, f->id, why);
    }
}

/* Decodes and handles every whole frame received so far. */
static step drain_frames(session *s)
{
    for (;;) {
        proto_frame f;
        const char *why;
        proto_result r = proto_reader_next(&s->reader, &f, &why);
        if (r == PROTO_NEED_MORE)
            return STEP_GO;
        step st;
        if (r == PROTO_OK) {
            st = on_frame(s, &f);
        } else if (r == PROTO_BAD_CHECKSUM) {
            instr_error(s->srv->o.instr, ERR_DECODE, s->name);
            st = send_text(s, PROTO_ERROR, f.id, why);
        } else {
            instr_error(s->srv->o.instr, ERR_PROTOCOL, s->name);
            char reason[96];
            snprintf(reason, sizeof reason, "protocol error: %s", why);
            st = say_bye(s, reason);
        }
        if (st == STEP_END)
            return st;
    }
}

/* Reads what arrived into the reader. */
static step read_more(session *s)
{
    size_t cap;
    uint8_t *at = proto_reader_space(&s->reader, &cap);
    char err[256];
    ssize_t n = conn_read(&s->c, at, cap, err, sizeof err);
    if (n == -2)
        return STEP_GO;
    if (n == 0)
        return end_session(s, "connection closed without bye");
    if (n < 0) {
        instr_error(s->srv->o.instr, ERR_NETWORK, s->name);
        return end_session(s, err);
    }
    proto_reader_filled(&s->reader, (size_t)n);
    s->last_heard_ns = mono_ns();
    return STEP_GO;
}

/* --- a session --------------------------------------------------------------------------- */

static bool good_name(const proto_frame *f)
{
    if (f->len == 0 || f->len > PROTO_MAX_NAME)
        return false;
    for (uint32_t i = 0; i < f->len; i++) {
        uint8_t c = f->payload[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '_' || c == '.'))
            return false;
    }
    return true;
}

/* The first frame must be a HELLO with a usable name, within SERVER_HELLO_TIMEOUT. */
static step await_hello(session *s)
{
    uint64_t deadline = mono_ns() + SERVER_HELLO_TIMEOUT * 1000000000ull;
    for (;;) {
        proto_frame f;
        const char *why;
        proto_result r = proto_reader_next(&s->reader, &f, &why);
        if (r == PROTO_OK) {
            instr_message(s->srv->o.instr, ROLE_SERVER, DIR_RECEIVED, f.type,
                          PROTO_HEADER_SIZE + f.len, s->name, f.id);
            if (f.type == PROTO_HELLO && good_name(&f)) {
                memcpy(s->name, f.payload, f.len);
                s->name[f.len] = '\0';
                return STEP_GO;
            }
        }
        if (r != PROTO_NEED_MORE) {
            instr_error(s->srv->o.instr, r == PROTO_BAD_CHECKSUM ? ERR_DECODE : ERR_PROTOCOL,
                        s->name);
            return say_bye(s, "expected a hello with a name of letters, digits, '-_.'");
        }
        uint64_t now = mono_ns();
        if (now >= deadline) {
            instr_error(s->srv->o.instr, ERR_PROTOCOL, s->name);
            return say_bye(s, "no hello in time");
        }
        conn_wake w = conn_wait(&s->c, s->srv->stop.fd, ms_until(deadline, now, 1000));
        if (w == CONN_WAKE_STOP)
            return say_bye(s, "server shutting down");
        if (w == CONN_WAKE_READABLE && read_more(s) == STEP_END)
            return STEP_END;
    }
}

static step serve(session *s)
{
    uint64_t idle_ns = (uint64_t)(s->srv->o.heartbeat_interval * SERVER_IDLE_INTERVALS * 1e9);
    for (;;) {
        uint64_t now = mono_ns();
        if (send_due_answers(s, now) == STEP_END)
            return STEP_END;
        if (now - s->last_heard_ns >= idle_ns) {
            instr_heartbeat_timeout(s->srv->o.instr, ROLE_SERVER, s->name);
            return say_bye(s, "heartbeat timeout");
        }
        uint64_t until = next_due(s);
        if (s->last_heard_ns + idle_ns < until)
            until = s->last_heard_ns + idle_ns;
        conn_wake w = conn_wait(&s->c, s->srv->stop.fd, ms_until(until, now, 1000));
        if (w == CONN_WAKE_STOP)
            return say_bye(s, "server shutting down");
        if (w == CONN_WAKE_READABLE && (read_more(s) == STEP_END || drain_frames(s) == STEP_END))
            return STEP_END;
    }
}

static void *session_main(void *arg)
{
    session *s = arg;
    demo_instr *in = s->srv->o.instr;
    demo_tls *tls = s->srv->o.tls;
    char err[256];
    if (conn_open(&s->c, s->fd, tls, true, err, sizeof err) != 0) {
        instr_error(in, ERR_TLS, s->name);
    } else {
        s->last_heard_ns = mono_ns();
        if (await_hello(s) == STEP_GO && send_text(s, PROTO_WELCOME, 0, s->name) == STEP_GO) {
            instr_session_opened(in, s->name);
            if (drain_frames(s) == STEP_GO)
                (void)serve(s);
            instr_session_closed(in, s->name, s->reason);
        }
        conn_close(&s->c, false);
    }
    while (s->nlate > 0)
        drop_late(s, s->nlate - 1);
    atomic_store(&s->done, true);
    return NULL;
}

/* --- accepting --------------------------------------------------------------------------- */

static void reap(demo_server *srv, bool all)
{
    for (size_t i = 0; i < SERVER_MAX_CONNECTIONS; i++) {
        session *s = srv->sessions[i];
        if (s == NULL || !(all || atomic_load(&s->done)))
            continue;
        pthread_join(s->thread, NULL);
        free(s);
        srv->sessions[i] = NULL;
    }
}

static int free_slot(demo_server *srv)
{
    for (int i = 0; i < SERVER_MAX_CONNECTIONS; i++)
        if (srv->sessions[i] == NULL)
            return i;
    return -1;
}

static void start_session(demo_server *srv, int fd)
{
    instr_accepted(srv->o.instr);
    int slot = free_slot(srv);
    session *s = slot < 0 ? NULL : calloc(1, sizeof *s);
    if (s == NULL) {
        instr_error(srv->o.instr, ERR_OVERLOAD, NULL);
        close(fd);
        return;
    }
    s->srv = srv;
    s->fd = fd;
    s->c.fd = -1;
    srv->accepted++;
    snprintf(s->name, sizeof s->name, "conn-%llu", (unsigned long long)srv->accepted);
    rng_seed(&s->rng, srv->o.seed ^ (srv->accepted * 0x9e3779b97f4a7c15ull));
    proto_reader_init(&s->reader);
    atomic_init(&s->done, false);
    if (pthread_create(&s->thread, NULL, session_main, s) != 0) {
        instr_error(srv->o.instr, ERR_OVERLOAD, NULL);
        close(fd);
        free(s);
        return;
    }
    srv->sessions[slot] = s;
}

static void *accept_main(void *arg)
{
    demo_server *srv = arg;
    while (!stop_raised(&srv->stop)) {
        struct pollfd p[2] = {{.fd = srv->listen_fd, .events = POLLIN},
                              {.fd = srv->stop.fd, .events = POLLIN}};
        int rc = poll(p, 2, 1000); /* wakes now and then to reap finished sessions */
        reap(srv, false);
        if (rc <= 0 || (p[1].revents & POLLIN) || !(p[0].revents & POLLIN))
            continue;
        int fd = accept4(srv->listen_fd, NULL, NULL, SOCK_CLOEXEC);
        if (fd >= 0) {
            start_session(srv, fd);
        } else if (errno == EMFILE || errno == ENFILE) {
            instr_error(srv->o.instr, ERR_OVERLOAD, NULL);
            usleep(100000); /* the connection waits in the backlog until a descriptor frees */
        }
    }
    atomic_store(&srv->accepting, false);
    return NULL;
}

/* --- the server -------------------------------------------------------------------------- */

static int listen_on(demo_server *srv, char *err, size_t cap)
{
    if (addr_resolve(srv->o.addr, &srv->addr, &srv->addrlen, err, cap) != 0)
        return -1;
    srv->listen_fd = socket(srv->addr.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (srv->listen_fd < 0 ||
        setsockopt(srv->listen_fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) != 0 ||
        bind(srv->listen_fd, (struct sockaddr *)&srv->addr, srv->addrlen) != 0 ||
        listen(srv->listen_fd, 128) != 0 ||
        getsockname(srv->listen_fd, (struct sockaddr *)&srv->addr, &srv->addrlen) != 0) {
        snprintf(err, cap, "cannot listen on %s: %s", srv->o.addr, strerror(errno));
        return -1;
    }
    return 0;
}

/* Clients dial loopback when the server listens on every interface. */
static void loopback_if_wildcard(struct sockaddr_storage *a)
{
    if (a->ss_family == AF_INET) {
        struct sockaddr_in *v4 = (struct sockaddr_in *)a;
        if (v4->sin_addr.s_addr == htonl(INADDR_ANY))
            v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    } else if (a->ss_family == AF_INET6) {
        struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)a;
        if (memcmp(&v6->sin6_addr, &in6addr_any, sizeof in6addr_any) == 0)
            v6->sin6_addr = in6addr_loopback;
    }
}

int server_start(const demo_server_opts *opts, demo_server **out, char *err, size_t cap)
{
    demo_server *srv = calloc(1, sizeof *srv);
    if (srv == NULL) {
        snprintf(err, cap, "out of memory");
        return -1;
    }
    srv->o = *opts;
    srv->listen_fd = -1;
    atomic_init(&srv->accepting, true);
    if (stop_init(&srv->stop) != 0) {
        snprintf(err, cap, "eventfd: %s", strerror(errno));
    } else if (listen_on(srv, err, cap) == 0) {
        loopback_if_wildcard(&srv->addr);
        addr_format((struct sockaddr *)&srv->addr, srv->addr_text, sizeof srv->addr_text);
        if (pthread_create(&srv->acceptor, NULL, accept_main, srv) == 0) {
            srv->running = true;
            *out = srv;
            return 0;
        }
        snprintf(err, cap, "cannot start the accepting thread");
    }
    atomic_store(&srv->accepting, false);
    server_free(srv);
    return -1;
}

const struct sockaddr *server_address(const demo_server *srv, socklen_t *len)
{
    *len = srv->addrlen;
    return (const struct sockaddr *)&srv->addr;
}

const char *server_address_text(const demo_server *srv)
{
    return srv->addr_text;
}

bool server_accepting(const demo_server *srv)
{
    return atomic_load(&srv->accepting);
}

void server_stop(demo_server *srv)
{
    if (!srv->running)
        return;
    stop_raise(&srv->stop);
    pthread_join(srv->acceptor, NULL);
    srv->running = false;
    close(srv->listen_fd); /* new connections are refused from here on */
    srv->listen_fd = -1;
    reap(srv, true); /* each session saw the stop signal and says BYE */
}

void server_free(demo_server *srv)
{
    if (srv == NULL)
        return;
    server_stop(srv);
    if (srv->listen_fd >= 0)
        close(srv->listen_fd);
    stop_destroy(&srv->stop);
    free(srv);
}
