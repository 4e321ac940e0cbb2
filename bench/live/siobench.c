/*
 * siobench.c - single-threaded epoll Socket.IO v5 / Engine.IO v4 load driver for
 * bench/live_broadcast.py.
 *
 * Adapted from shared/research/realtime/driver/siobench.c (same epoll loop, pacing, /proc
 * sampling and output), for Seminar's `/live` namespace:
 *
 *   - every connection connects to a namespace (`--nsp /live`) with an auth payload
 *     `40/live,{"ticket":"..."}`; the tickets come one per line (the sender's first, then one
 *     per receiver; join tickets are single-use) from a file (`--tickets FILE`) or, with
 *     `--tickets -`, from stdin while connecting: the orchestrator issues them just ahead of
 *     use (they are valid 60 s, and a join storm can take longer than that), reading the
 *     `progress` lines this driver writes to stderr while it connects;
 *   - the sender emits `42/live,<ack id>["chat:send",{"body":"T<µs> P<phase> S<n> ...",
 *     "client_id":"..."}]` at a paced, open-loop rate and counts the acks (`43/live,<id>[...]`,
 *     `"ok":true` or not) and their latency;
 *   - every receiver parses the send timestamp out of the body of the `chat:message` broadcast
 *     and records the one-way delivery latency (CLOCK_MONOTONIC is system-wide); other events
 *     (presence:changed, ...) are read and ignored.
 *
 * No permessage-deflate (Seminar's clients in this bench do not offer it). Loopback only: the
 * host is hard-wired to 127.0.0.1. Output: one JSON object per phase on stdout.
 *
 * Build: gcc -O2 -o siobench siobench.c
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define RBUF (512 * 1024)
#define MAXPORTS 8
#define MAXPIDS 8
#define MAXACKS (1 << 22)

enum { ST_CONNECTING, ST_HTTP, ST_WS_WAIT_OPEN, ST_WS_WAIT_NSP, ST_READY, ST_DEAD };

typedef struct {
    int fd;
    int state;
    int port_idx;
    int is_sender;
    const char *ticket;
    char *buf;
    size_t len;
    char *wbuf; /* pending outbound bytes */
    size_t wlen, wcap;
} conn_t;

static conn_t *conns;
static int nconns;
static int epfd;
static int ports[MAXPORTS], nports = 0;
static int sender_port_idx = 0;
static int pids[MAXPIDS], npids = 0;
static int msg_len = 100;
static const char *path = "/socket.io/?EIO=4&transport=websocket";
static const char *nsp = "/live";
static size_t nsp_len = 5;

/* stats */
static uint32_t *lat; /* merged latency samples, microseconds */
static size_t nlat, caplat;
static uint32_t *latp[MAXPORTS]; /* per-port latency samples */
static size_t nlatp[MAXPORTS], caplatp;
static uint64_t recv_count; /* chat deliveries in the phase */
static uint64_t recv_per_port[MAXPORTS];
static uint64_t last_recv_us, last_rx_us;
static uint64_t ready_count, dead_count, refused_count, pings;
static uint64_t cur_phase_id = 0;
static uint64_t stale_count;
static uint64_t *ack_sent_us; /* by ack id */
static uint32_t *ack_lat;
static size_t nack_lat;
static uint64_t acks_ok, acks_failed;
static uint64_t next_ack_id = 1;
static int refusals_printed = 0;
/* tickets: from a file, or from stdin as they arrive */
static char **tix;
static int ntix, captix;
static conn_t stdin_conn; /* epoll marker for fd 0 */
static char stdin_buf[65536];
static size_t stdin_len;
static int stdin_open = 0;

static void add_ticket(const char *t) {
    if (ntix == captix) {
        captix = captix ? captix * 2 : 1024;
        tix = realloc(tix, captix * sizeof(char *));
    }
    tix[ntix++] = strdup(t);
}

static void read_stdin(void) {
    for (;;) {
        ssize_t r = read(0, stdin_buf + stdin_len, sizeof stdin_buf - 1 - stdin_len);
        if (r < 0) return; /* EAGAIN */
        if (r == 0) { stdin_open = 0; epoll_ctl(epfd, EPOLL_CTL_DEL, 0, NULL); return; }
        stdin_len += r;
        size_t off = 0;
        for (;;) {
            char *nl = memchr(stdin_buf + off, '\n', stdin_len - off);
            if (!nl) break;
            *nl = 0;
            if (nl > stdin_buf + off && nl[-1] == '\r') nl[-1] = 0;
            add_ticket(stdin_buf + off);
            off = nl + 1 - stdin_buf;
        }
        memmove(stdin_buf, stdin_buf + off, stdin_len - off);
        stdin_len -= off;
    }
}

static uint64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000ULL + ts.tv_nsec / 1000;
}

static void die(const char *m) {
    perror(m);
    exit(1);
}

static void mark_dead(conn_t *c) {
    if (c->state != ST_DEAD) {
        c->state = ST_DEAD;
        dead_count++;
    }
}

static void ep_mod(conn_t *c, uint32_t ev) {
    struct epoll_event e = {.events = ev, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &e);
}

/* best-effort write; queue the remainder */
static void conn_write(conn_t *c, const char *d, size_t n) {
    if (c->state == ST_DEAD) return;
    if (c->wlen == 0) {
        ssize_t w = send(c->fd, d, n, MSG_NOSIGNAL);
        if (w == (ssize_t)n) return;
        if (w < 0) {
            if (errno != EAGAIN) { mark_dead(c); return; }
            w = 0;
        }
        d += w;
        n -= w;
    }
    if (c->wlen + n > c->wcap) {
        c->wcap = (c->wlen + n) * 2;
        c->wbuf = realloc(c->wbuf, c->wcap);
    }
    memcpy(c->wbuf + c->wlen, d, n);
    c->wlen += n;
    ep_mod(c, EPOLLIN | EPOLLOUT);
}

static void conn_flush(conn_t *c) {
    if (c->wlen == 0) return;
    ssize_t w = send(c->fd, c->wbuf, c->wlen, MSG_NOSIGNAL);
    if (w < 0) {
        if (errno != EAGAIN) mark_dead(c);
        return;
    }
    memmove(c->wbuf, c->wbuf + w, c->wlen - w);
    c->wlen -= w;
    if (c->wlen == 0) ep_mod(c, EPOLLIN);
}

/* send a masked (zero key) text frame */
static void ws_send_text(conn_t *c, const char *p, size_t n) {
    char hdr[14];
    size_t h = 0;
    hdr[h++] = (char)0x81;
    if (n < 126) {
        hdr[h++] = (char)(0x80 | n);
    } else if (n < 65536) {
        hdr[h++] = (char)(0x80 | 126);
        hdr[h++] = (n >> 8) & 0xff;
        hdr[h++] = n & 0xff;
    } else {
        hdr[h++] = (char)(0x80 | 127);
        for (int i = 7; i >= 0; i--) hdr[h++] = (n >> (8 * i)) & 0xff;
    }
    hdr[h++] = 0; hdr[h++] = 0; hdr[h++] = 0; hdr[h++] = 0; /* mask key 0: payload unchanged */
    char tmp[70000];
    if (h + n > sizeof tmp) return;
    memcpy(tmp, hdr, h);
    memcpy(tmp + h, p, n);
    conn_write(c, tmp, h + n);
}

static void start_connect(conn_t *c) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    if (fd < 0) die("socket");
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(ports[c->port_idx])};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr); /* loopback only */
    c->fd = fd;
    c->state = ST_CONNECTING;
    c->len = 0;
    int r = connect(fd, (struct sockaddr *)&a, sizeof a);
    if (r < 0 && errno != EINPROGRESS) die("connect");
    struct epoll_event e = {.events = EPOLLOUT | EPOLLIN, .data.ptr = c};
    epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e);
}

static void send_http_upgrade(conn_t *c) {
    char req[1024];
    int n = snprintf(req, sizeof req,
                     "GET %s HTTP/1.1\r\nHost: 127.0.0.1:%d\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
                     "Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
                     path, ports[c->port_idx]);
    c->state = ST_HTTP;
    conn_write(c, req, n);
}

static void send_nsp_connect(conn_t *c) {
    char m[512];
    int n = snprintf(m, sizeof m, "40%s,{\"ticket\":\"%s\"}", nsp, c->ticket ? c->ticket : "");
    ws_send_text(c, m, n);
}

/* p: the event packet after "42/live," (or "42"), i.e. '["chat:message",{...}]' */
static void on_event(conn_t *c, const char *p, size_t n) {
    if (n < 16 || memcmp(p, "[\"chat:message\"", 15) != 0) return; /* other broadcasts */
    const char *q = memmem(p, n, "\"body\":\"T", 9);
    if (!q) return;
    char *end;
    uint64_t t = strtoull(q + 9, &end, 10);
    if (end[0] != ' ' || end[1] != 'P') return;
    if (strtoull(end + 2, NULL, 10) != cur_phase_id) { stale_count++; return; }
    uint64_t nw = now_us();
    recv_count++;
    recv_per_port[c->port_idx]++;
    last_recv_us = nw;
    int pi = c->port_idx;
    if (nlatp[pi] < caplatp) latp[pi][nlatp[pi]++] = (uint32_t)(nw > t ? nw - t : 0);
}

/* p: the ack packet after "43/live,", i.e. '<id>[{"ok":true,...}]' */
static void on_ack(const char *p, size_t n) {
    char *end;
    uint64_t id = strtoull(p, &end, 10);
    if (end == p) return;
    if (memmem(end, n - (end - p), "\"ok\":true", 9)) acks_ok++;
    else {
        acks_failed++;
        if (acks_failed <= 3) fprintf(stderr, "failed ack: %.*s\n", (int)(n > 300 ? 300 : n), p);
    }
    if (id < MAXACKS && ack_sent_us[id]) {
        uint64_t nw = now_us();
        ack_lat[nack_lat++] = (uint32_t)(nw - ack_sent_us[id]);
        ack_sent_us[id] = 0;
    }
}

/* Socket.IO packet (after the Engine.IO '4'): type digit, then "/live," for our namespace */
static void on_sio(conn_t *c, const char *p, size_t n) {
    char type = p[0];
    const char *rest = p + 1;
    size_t rn = n - 1;
    if (rn >= nsp_len && memcmp(rest, nsp, nsp_len) == 0) {
        rest += nsp_len;
        rn -= nsp_len;
        if (rn && rest[0] == ',') { rest++; rn--; }
    }
    switch (type) {
    case '0': /* namespace connect ack */
        if (c->state == ST_WS_WAIT_NSP) { c->state = ST_READY; ready_count++; }
        break;
    case '4': /* connect_error */
        refused_count++;
        if (refusals_printed++ < 3) fprintf(stderr, "connect refused: %.*s\n", (int)(rn > 300 ? 300 : rn), rest);
        mark_dead(c);
        break;
    case '2':
        on_event(c, rest, rn);
        break;
    case '3':
        if (c->is_sender) on_ack(rest, rn);
        break;
    case '1': /* namespace disconnect */
        mark_dead(c);
        break;
    }
}

static void on_text(conn_t *c, const char *p, size_t n) {
    if (n == 0) return;
    switch (p[0]) {
    case '0': /* EIO open */
        if (c->state == ST_WS_WAIT_OPEN) { c->state = ST_WS_WAIT_NSP; send_nsp_connect(c); }
        break;
    case '2': /* ping */
        pings++;
        ws_send_text(c, "3", 1);
        break;
    case '4':
        if (n >= 2) on_sio(c, p + 1, n - 1);
        break;
    case '1': /* close */
        mark_dead(c);
        break;
    }
}

static void handle_frames(conn_t *c) {
    size_t off = 0;
    while (c->len - off >= 2) {
        unsigned char *b = (unsigned char *)c->buf + off;
        int op = b[0] & 0x0f;
        uint64_t plen = b[1] & 0x7f;
        size_t h = 2;
        if (plen == 126) {
            if (c->len - off < 4) break;
            plen = (b[2] << 8) | b[3];
            h = 4;
        } else if (plen == 127) {
            if (c->len - off < 10) break;
            plen = 0;
            for (int i = 0; i < 8; i++) plen = (plen << 8) | b[2 + i];
            h = 10;
        }
        if (b[1] & 0x80) h += 4; /* server frames are not masked; tolerate */
        if (c->len - off < h + plen) {
            if (h + plen > RBUF) {
                fprintf(stderr, "frame too large %lu\n", (unsigned long)plen);
                mark_dead(c);
                return;
            }
            break;
        }
        char *pl = (char *)b + h;
        if (op == 1 || op == 0) {
            on_text(c, pl, plen);
        } else if (op == 8) {
            mark_dead(c);
        } else if (op == 9) { /* ping -> pong */
            char m[6] = {(char)0x8a, (char)0x80, 0, 0, 0, 0};
            conn_write(c, m, 6);
        }
        off += h + plen;
    }
    if (off) {
        memmove(c->buf, c->buf + off, c->len - off);
        c->len -= off;
    }
}

static void on_readable(conn_t *c) {
    for (;;) {
        if (c->len >= RBUF) { fprintf(stderr, "rbuf full\n"); mark_dead(c); return; }
        ssize_t r = recv(c->fd, c->buf + c->len, RBUF - c->len, 0);
        if (r < 0) {
            if (errno == EAGAIN) return;
            mark_dead(c);
            return;
        }
        if (r == 0) { mark_dead(c); return; }
        last_rx_us = now_us();
        c->len += r;
        if (c->state == ST_HTTP) {
            char *e = memmem(c->buf, c->len, "\r\n\r\n", 4);
            if (!e) continue;
            if (strncmp(c->buf, "HTTP/1.1 101", 12) != 0) {
                fprintf(stderr, "bad upgrade: %.*s\n", (int)(c->len > 200 ? 200 : c->len), c->buf);
                mark_dead(c);
                return;
            }
            size_t hl = e + 4 - c->buf;
            memmove(c->buf, c->buf + hl, c->len - hl);
            c->len -= hl;
            c->state = ST_WS_WAIT_OPEN;
        }
        if (c->state >= ST_WS_WAIT_OPEN && c->state != ST_DEAD) handle_frames(c);
        if (c->state == ST_DEAD) return;
    }
}

static void pump(int timeout_ms) {
    struct epoll_event evs[1024];
    int n = epoll_wait(epfd, evs, 1024, timeout_ms);
    for (int i = 0; i < n; i++) {
        conn_t *c = evs[i].data.ptr;
        if (c == &stdin_conn) { read_stdin(); continue; }
        if (c->state == ST_DEAD) continue;
        if (c->state == ST_CONNECTING && (evs[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) {
            int err = 0;
            socklen_t l = sizeof err;
            getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &l);
            if (err) {
                fprintf(stderr, "connect err %s\n", strerror(err));
                mark_dead(c);
                continue;
            }
            ep_mod(c, EPOLLIN);
            send_http_upgrade(c);
            continue;
        }
        if (evs[i].events & EPOLLOUT) conn_flush(c);
        if (evs[i].events & (EPOLLIN | EPOLLHUP | EPOLLERR)) on_readable(c);
    }
}

/* ---------- process stats ---------- */
static double proc_cpu_s(int pid) {
    char p[64], b[4096];
    snprintf(p, sizeof p, "/proc/%d/stat", pid);
    FILE *f = fopen(p, "r");
    if (!f) return -1;
    size_t n = fread(b, 1, sizeof b - 1, f);
    fclose(f);
    b[n] = 0;
    char *s = strrchr(b, ')');
    if (!s) return -1;
    /* fields after ')' start at field 3; utime=14, stime=15 */
    unsigned long ut = 0, st = 0;
    int field = 2;
    char *tok = strtok(s + 1, " ");
    while (tok) {
        field++;
        if (field == 14) ut = strtoul(tok, NULL, 10);
        if (field == 15) { st = strtoul(tok, NULL, 10); break; }
        tok = strtok(NULL, " ");
    }
    return (double)(ut + st) / sysconf(_SC_CLK_TCK);
}

static long proc_kb(int pid, const char *key) {
    char p[64], line[256];
    snprintf(p, sizeof p, "/proc/%d/status", pid);
    FILE *f = fopen(p, "r");
    if (!f) return -1;
    long v = -1;
    size_t kl = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, kl)) { v = strtol(line + kl + 1, NULL, 10); break; }
    fclose(f);
    return v;
}

/* machine-wide busy CPU seconds (all cores) from /proc/stat */
static double sys_busy_s(void) {
    FILE *f = fopen("/proc/stat", "r");
    if (!f) return -1;
    unsigned long long v[10] = {0};
    if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6], &v[7]) != 8) {
        fclose(f);
        return -1;
    }
    fclose(f);
    unsigned long long busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    return (double)busy / sysconf(_SC_CLK_TCK);
}

static double self_cpu_s(void) {
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_utime.tv_sec + ru.ru_utime.tv_usec / 1e6 + ru.ru_stime.tv_sec + ru.ru_stime.tv_usec / 1e6;
}

static int cmp_u32(const void *a, const void *b) {
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static double pct(uint32_t *v, size_t n, double p) {
    if (!n) return -1;
    size_t i = (size_t)(p * (n - 1));
    return v[i] / 1000.0; /* ms */
}

static void parse_int_list(const char *s, int *out, int *n, int max) {
    char *d = strdup(s), *tok = strtok(d, ",");
    while (tok && *n < max) { out[(*n)++] = atoi(tok); tok = strtok(NULL, ","); }
    free(d);
}

static void read_ticket_file(const char *fname) {
    FILE *f = fopen(fname, "r");
    if (!f) die("tickets");
    char line[1024];
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\r\n")] = 0;
        add_ticket(line);
    }
    fclose(f);
}

static void sample_rss(long *rss_max) {
    for (int k = 0; k < npids; k++) {
        long v = proc_kb(pids[k], "VmRSS:");
        if (v > rss_max[k]) rss_max[k] = v;
    }
}

int main(int argc, char **argv) {
    int C = 100;
    double rates[32];
    int nrates = 0;
    double duration = 5.0;
    double drain_timeout = 15.0;
    double min_ok = 0.9;
    double settle_max = 60.0;
    int connect_conc = 64;
    int keep_going = 0;
    const char *label = "";
    const char *tickets_file = NULL;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "-c")) C = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--ports")) parse_int_list(argv[++i], ports, &nports, MAXPORTS);
        else if (!strcmp(argv[i], "--sender-port-idx")) sender_port_idx = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--pids")) parse_int_list(argv[++i], pids, &npids, MAXPIDS);
        else if (!strcmp(argv[i], "--rates")) {
            char *d = strdup(argv[++i]), *tok = strtok(d, ",");
            while (tok && nrates < 32) { rates[nrates++] = atof(tok); tok = strtok(NULL, ","); }
        } else if (!strcmp(argv[i], "--duration")) duration = atof(argv[++i]);
        else if (!strcmp(argv[i], "--drain")) drain_timeout = atof(argv[++i]);
        else if (!strcmp(argv[i], "--min-ok")) min_ok = atof(argv[++i]);
        else if (!strcmp(argv[i], "--settle-max")) settle_max = atof(argv[++i]);
        else if (!strcmp(argv[i], "--connect-conc")) connect_conc = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--keep-going")) keep_going = 1;
        else if (!strcmp(argv[i], "--msg-len")) msg_len = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--label")) label = argv[++i];
        else if (!strcmp(argv[i], "--path")) path = argv[++i];
        else if (!strcmp(argv[i], "--nsp")) { nsp = argv[++i]; nsp_len = strlen(nsp); }
        else if (!strcmp(argv[i], "--tickets")) tickets_file = argv[++i];
        else { fprintf(stderr, "unknown arg %s\n", argv[i]); return 2; }
    }
    if (!nports) { ports[0] = 8000; nports = 1; }
    epfd = epoll_create1(0);
    if (tickets_file && !strcmp(tickets_file, "-")) {
        stdin_open = 1;
        fcntl(0, F_SETFL, fcntl(0, F_GETFL) | O_NONBLOCK);
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = &stdin_conn};
        epoll_ctl(epfd, EPOLL_CTL_ADD, 0, &e);
    } else if (tickets_file) {
        read_ticket_file(tickets_file);
        if (ntix < C + 1) { fprintf(stderr, "need %d tickets, got %d\n", C + 1, ntix); return 2; }
    } else {
        for (int i = 0; i < C + 1; i++) add_ticket("");
    }
    if (C < 1) { fprintf(stderr, "-c must be at least 1\n"); return 2; }
    nconns = C + 1;
    conns = calloc((size_t)nconns, sizeof(conn_t));
    /* the sender connects first (tickets[0]), so that it is in the room before the receivers */
    for (int i = 0; i < nconns; i++) {
        conns[i].buf = malloc(RBUF);
        conns[i].is_sender = i == 0;
        conns[i].port_idx = i == 0 ? sender_port_idx : (i - 1) % nports;
        conns[i].fd = -1;
    }
    caplat = 16000000;
    lat = malloc(caplat * sizeof(uint32_t));
    caplatp = caplat / nports;
    for (int p = 0; p < nports; p++) latp[p] = malloc(caplatp * sizeof(uint32_t));
    ack_sent_us = calloc(MAXACKS, sizeof(uint64_t));
    ack_lat = malloc(MAXACKS * sizeof(uint32_t));

    /* ---- connect phase ---- */
    uint64_t t0 = now_us();
    uint64_t last_progress_us = 0;
    int started = 0;
    double srv_cpu0[MAXPIDS];
    for (int k = 0; k < npids; k++) srv_cpu0[k] = proc_cpu_s(pids[k]);
    while (ready_count + dead_count < (uint64_t)nconns) {
        while (started < nconns && started < ntix && (started - (int)ready_count - (int)dead_count) < connect_conc) {
            conns[started].ticket = tix[started];
            start_connect(&conns[started++]);
            if (started == 1) { /* the sender alone first */
                while (ready_count + dead_count < 1 && now_us() - t0 < 30000000ULL) pump(20);
            }
        }
        pump(50);
        if (now_us() - last_progress_us > 250000) {
            last_progress_us = now_us();
            fprintf(stderr, "progress started=%d ready=%lu dead=%lu tickets=%d\n", started,
                    (unsigned long)ready_count, (unsigned long)dead_count, ntix);
        }
        if (now_us() - t0 > 180000000ULL) { fprintf(stderr, "connect timeout\n"); break; }
    }
    uint64_t t1 = now_us();
    /* settle: wait for the server to finish what the connects started (participant:joined
     * broadcasts to the room: O(C^2) deliveries), i.e. 0.5 s without a byte received */
    uint64_t ts = now_us();
    while (now_us() - ts < 1000000 || (now_us() - last_rx_us < 500000 && now_us() - ts < settle_max * 1e6)) pump(50);
    uint64_t t2 = now_us();
    printf("{\"label\":\"%s\",\"phase\":\"connect\",\"clients\":%d,\"ready\":%lu,\"dead\":%lu,\"refused\":%lu,"
           "\"connect_s\":%.3f,\"conn_per_s\":%.1f,\"settle_s\":%.3f",
           label, C, (unsigned long)ready_count, (unsigned long)dead_count, (unsigned long)refused_count,
           (t1 - t0) / 1e6, ready_count / ((t1 - t0) / 1e6), (t2 - t1) / 1e6);
    for (int k = 0; k < npids; k++)
        printf(",\"srv%d_cpu_s\":%.2f,\"srv%d_rss_mb\":%.1f", k, proc_cpu_s(pids[k]) - srv_cpu0[k], k,
               proc_kb(pids[k], "VmRSS:") / 1024.0);
    printf("}\n");
    fflush(stdout);
    conn_t *snd = &conns[0];
    if (snd->state != ST_READY) { fprintf(stderr, "sender not ready\n"); return 1; }
    uint64_t receivers_ready = 0;
    for (int i = 1; i < nconns; i++) receivers_ready += conns[i].state == ST_READY;

    char *msgtxt = malloc(msg_len + 1);
    for (int i = 0; i < msg_len; i++) msgtxt[i] = 'a' + (i % 26);
    msgtxt[msg_len] = 0;
    char *pkt = malloc(msg_len + 256);
    unsigned long run_id = (unsigned long)(now_us() % 1000000007ULL);

    int retried = 0;
    for (int r = 0; r < nrates; r++) {
        double rate = rates[r];
        uint64_t M = (uint64_t)(rate * duration + 0.5);
        if (M < 1) M = 1;
        cur_phase_id++; /* a retry gets a new id: client_id must differ (idempotent sends) */
        recv_count = 0; nlat = 0; last_recv_us = 0; stale_count = 0; nack_lat = 0;
        acks_ok = 0; acks_failed = 0;
        memset(nlatp, 0, sizeof nlatp);
        memset(recv_per_port, 0, sizeof recv_per_port);
        uint64_t dead0 = dead_count;
        double scpu0[MAXPIDS];
        for (int k = 0; k < npids; k++) scpu0[k] = proc_cpu_s(pids[k]);
        double dcpu0 = self_cpu_s();
        double sys0 = sys_busy_s();
        long rss_max[MAXPIDS] = {0};
        uint64_t start = now_us();
        uint64_t sent = 0;
        uint64_t interval_ns = (uint64_t)(1e9 / rate);
        uint64_t last_sample = start;
        while (sent < M) {
            uint64_t nw = now_us();
            uint64_t due = ((nw - start) * 1000ULL) / interval_ns + 1;
            if (due > M) due = M;
            while (sent < due) {
                uint64_t id = next_ack_id++;
                uint64_t t = now_us();
                int n = snprintf(pkt, msg_len + 256,
                                 "42%s,%lu[\"chat:send\",{\"body\":\"T%lu P%lu S%lu %s\",\"client_id\":\"r%lup%lus%lu\"}]",
                                 nsp, (unsigned long)id, (unsigned long)t, (unsigned long)cur_phase_id,
                                 (unsigned long)sent, msgtxt, run_id, (unsigned long)cur_phase_id, (unsigned long)sent);
                if (id < MAXACKS) ack_sent_us[id] = t;
                ws_send_text(snd, pkt, n);
                sent++;
            }
            uint64_t next_due_us = start + ((sent) * interval_ns) / 1000ULL;
            nw = now_us();
            int to = next_due_us > nw ? (int)((next_due_us - nw) / 1000) : 0;
            pump(to);
            if (nw - last_sample > 250000) { sample_rss(rss_max); last_sample = nw; }
        }
        uint64_t send_end = now_us();
        uint64_t expected = M * receivers_ready;
        uint64_t last_progress = now_us(), last_cnt = recv_count;
        int drained = 1;
        while (recv_count < expected || acks_ok + acks_failed < M) {
            pump(20);
            uint64_t nw = now_us();
            if (recv_count != last_cnt) { last_cnt = recv_count; last_progress = nw; }
            if (nw - last_progress > 3000000 || nw - send_end > (uint64_t)(drain_timeout * 1e6)) {
                drained = recv_count >= expected;
                break;
            }
            if (nw - last_sample > 250000) { sample_rss(rss_max); last_sample = nw; }
        }
        uint64_t end = last_recv_us ? last_recv_us : now_us();
        double wall = (end - start) / 1e6;
        double send_wall = (send_end - start) / 1e6;
        double dcpu = self_cpu_s() - dcpu0;
        double sysb = sys_busy_s() - sys0;
        double srvsum = 0;
        for (int k = 0; k < npids; k++) srvsum += proc_cpu_s(pids[k]) - scpu0[k];
        for (int p = 0; p < nports; p++) {
            memcpy(lat + nlat, latp[p], nlatp[p] * sizeof(uint32_t));
            nlat += nlatp[p];
        }
        qsort(lat, nlat, sizeof(uint32_t), cmp_u32);
        qsort(ack_lat, nack_lat, sizeof(uint32_t), cmp_u32);
        double delivered_rate = recv_count / wall;
        double offered_deliv = rate * receivers_ready;
        printf("{\"label\":\"%s\",\"phase\":\"load\",\"clients\":%d,\"rate_msgs\":%.1f,\"msgs\":%lu,\"offered_deliv_s\":%.0f,"
               "\"expected\":%lu,\"received\":%lu,\"loss_frac\":%.5f,\"drained\":%d,\"wall_s\":%.3f,\"send_wall_s\":%.3f,"
               "\"delivered_per_s\":%.0f,\"p50_ms\":%.2f,\"p90_ms\":%.2f,\"p99_ms\":%.2f,\"max_ms\":%.2f,"
               "\"acks_ok\":%lu,\"acks_failed\":%lu,\"ack_p50_ms\":%.2f,\"ack_p99_ms\":%.2f,"
               "\"driver_cpu_pct\":%.1f,\"foreign_cpu_pct\":%.1f,\"dead\":%lu,\"stale\":%lu,\"srv_cpu_s\":%.3f",
               label, C, rate, (unsigned long)M, offered_deliv, (unsigned long)expected, (unsigned long)recv_count,
               expected ? 1.0 - (double)recv_count / expected : 0, drained, wall, send_wall, delivered_rate,
               pct(lat, nlat, 0.5), pct(lat, nlat, 0.9), pct(lat, nlat, 0.99), nlat ? lat[nlat - 1] / 1000.0 : -1,
               (unsigned long)acks_ok, (unsigned long)acks_failed, pct(ack_lat, nack_lat, 0.5), pct(ack_lat, nack_lat, 0.99),
               100.0 * dcpu / wall, 100.0 * (sysb - dcpu - srvsum) / wall, (unsigned long)(dead_count - dead0),
               (unsigned long)stale_count, srvsum);
        for (int p = 0; p < nports && nports > 1; p++) {
            qsort(latp[p], nlatp[p], sizeof(uint32_t), cmp_u32);
            printf(",\"recv_port%d\":%lu,\"port%d_p50_ms\":%.2f,\"port%d_p99_ms\":%.2f", p, (unsigned long)recv_per_port[p],
                   p, pct(latp[p], nlatp[p], 0.5), p, pct(latp[p], nlatp[p], 0.99));
        }
        sample_rss(rss_max);
        for (int k = 0; k < npids; k++)
            printf(",\"srv%d_cpu_pct\":%.1f,\"srv%d_rss_mb\":%.1f", k, 100.0 * (proc_cpu_s(pids[k]) - scpu0[k]) / wall, k,
                   rss_max[k] / 1024.0);
        printf("}\n");
        fflush(stdout);
        int ok = drained && recv_count >= expected * 0.999 && delivered_rate >= min_ok * offered_deliv && acks_failed == 0;
        if (!ok && !keep_going) {
            /* shared VM: retry a failed phase once (after a pause) if the server caught up */
            if (drained && !retried) {
                fprintf(stderr, "phase rate=%.1f not sustained; retrying once\n", rate);
                retried = 1;
                r--;
                uint64_t tp2 = now_us();
                while (now_us() - tp2 < 3000000) pump(50);
                continue;
            }
            fprintf(stderr, "phase rate=%.1f not sustained; stopping escalation\n", rate);
            break;
        }
        retried = 0;
        if (r + 1 == nrates) break;
        /* pause between phases */
        uint64_t tp = now_us();
        while (now_us() - tp < 1500000) pump(50);
    }
    for (int i = 0; i < nconns; i++)
        if (conns[i].fd >= 0) close(conns[i].fd);
    return 0;
}
