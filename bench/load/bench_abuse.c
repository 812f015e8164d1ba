/*
 * bench_abuse.c — the abuse mix of issue "Bounded under abuse", as a load to measure others by.
 *
 * Drives, from one thread with poll(2), for --duration seconds:
 *   --nonreaders N  pipeline 200 searches each (~3 KB answers) and never read
 *   --heavy N       pipeline records pages of the heavy entity (limit 400 and 1000: 3.4 MB and
 *                   8.6 MB answers with 8.6 KB records) and never read
 *   --pipeliners N  keep --window records scans of the heavy entity in flight (every record
 *                   read, none answered: a category it has none of), reading the answers
 *   --slow N        send a frame one byte a second; reconnect when the server closes them
 *   --half N        send half a frame, then nothing; reconnect when closed
 * Non-readers and heavy clients that the server closes (idle timeout) reconnect too, so the
 * pressure lasts the whole run. Prints one line of counts (and --json FILE). Never asserts.
 *
 *   bench_abuse --port N --code HEAVY_CODE [--duration S] [--nonreaders N] [--heavy N]
 *               [--pipeliners N] [--window W] [--slow N] [--half N] [--json FILE]
 *   bench_abuse --make-heavy-csv FILE [--records N]   writes one entity's N records (8.6 KB
 *               each, displayable today) as CSV for `chengxin import`; prints its code
 */
/* POLLRDHUP (the build defines _GNU_SOURCE): see that the server closed a connection we never read */
#include <errno.h>
#include <getopt.h>
#include <msgpack.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "cxb.h"

#define AB_MAX_CONNS 4096
#define AB_NONREADER_REQS 200
#define AB_HEAVY_REQS 6

enum { K_NONREADER, K_HEAVY, K_PIPELINER, K_SLOW, K_HALF, K_COUNT };
static const char *const k_names[K_COUNT] = {"nonreaders", "heavy", "pipeliners", "slow", "half"};

typedef struct ab_conn {
  int fd, kind, connecting;
  const unsigned char *tx; /* what to send (shared, per kind) */
  size_t txlen, txoff;
  uint64_t next_ms;        /* slow: the next byte not before */
  unsigned inflight;       /* pipeliners */
  unsigned char *rx;       /* pipeliners: partial answer frame */
  size_t rxlen, rxcap;
} ab_conn;

typedef struct ab_opts {
  int port;
  const char *code, *json;
  double duration;
  unsigned n[K_COUNT], window;
} ab_opts;

static uint64_t now_ms(void) { return cxb_now_ns() / 1000000u; }

static uint64_t g_connects[K_COUNT], g_closed[K_COUNT], g_answers, g_bytes_sent;

/* ---- frames ---- */

typedef struct frames {
  unsigned char *p;
  size_t n, cap;
} frames;

static void fr_add(frames *f, msgpack_sbuffer *sb) {
  if (f->n + sb->size + 4 > f->cap) {
    f->cap = (f->n + sb->size + 4) * 2;
    f->p = realloc(f->p, f->cap);
    if (!f->p) cxb_die("out of memory");
  }
  uint32_t len = (uint32_t)sb->size;
  unsigned char *h = f->p + f->n;
  h[0] = (unsigned char)(len >> 24); h[1] = (unsigned char)(len >> 16);
  h[2] = (unsigned char)(len >> 8);  h[3] = (unsigned char)len;
  memcpy(h + 4, sb->data, sb->size);
  f->n += sb->size + 4;
}

static void pk_s(msgpack_packer *pk, const char *s) {
  msgpack_pack_str(pk, strlen(s));
  msgpack_pack_str_body(pk, s, strlen(s));
}

/* records {code, limit, category?} with id */
static void fr_records(frames *f, const char *code, unsigned limit, int scan, uint32_t id) {
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, scan ? 5 : 4);
  pk_s(&pk, "id"); msgpack_pack_uint32(&pk, id);
  pk_s(&pk, "op"); pk_s(&pk, "records");
  pk_s(&pk, "code"); pk_s(&pk, code);
  pk_s(&pk, "limit"); msgpack_pack_uint32(&pk, limit);
  if (scan) { pk_s(&pk, "category"); pk_s(&pk, "license"); }
  fr_add(f, &sb);
  msgpack_sbuffer_destroy(&sb);
}

static void fr_search(frames *f, uint32_t id) {
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, 4);
  pk_s(&pk, "id"); msgpack_pack_uint32(&pk, id);
  pk_s(&pk, "op"); pk_s(&pk, "search");
  pk_s(&pk, "prefix"); pk_s(&pk, "福州");
  pk_s(&pk, "limit"); msgpack_pack_uint32(&pk, 100);
  fr_add(f, &sb);
  msgpack_sbuffer_destroy(&sb);
}

/* ---- connections ---- */

static frames g_tx[K_COUNT];
static frames g_scan; /* one scan request (pipeliners resend it) */

static void ab_open(const ab_opts *o, ab_conn *c, int kind) {
  memset(c, 0, sizeof *c);
  c->kind = kind;
  c->fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (c->fd < 0) cxb_die("socket: %s", strerror(errno));
  if (kind == K_NONREADER || kind == K_HEAVY) {
    int sz = 4096; /* small: the server's queue shows, not the kernel's */
    setsockopt(c->fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
  }
  int one = 1;
  setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)o->port)};
  a.sin_addr.s_addr = htonl(0x7f000001);
  int rc = connect(c->fd, (struct sockaddr *)&a, sizeof a);
  if (rc && errno != EINPROGRESS) cxb_die("connect: %s", strerror(errno));
  c->connecting = 1;
  c->tx = g_tx[kind].p;
  c->txlen = g_tx[kind].n;
  if (kind == K_HALF) c->txlen = 8;
  if (kind == K_SLOW) c->txlen = 17;
  if (kind == K_PIPELINER) c->txlen = 0; /* ab_send starts its frames */
  g_connects[kind]++;
}

static void ab_reopen(const ab_opts *o, ab_conn *c) {
  int kind = c->kind;
  close(c->fd);
  free(c->rx);
  g_closed[kind]++;
  ab_open(o, c, kind);
}

/* Pipeliner: complete answers in rx; returns how many. */
static unsigned take_answers(ab_conn *c) {
  size_t off = 0;
  unsigned k = 0;
  while (c->rxlen - off >= 4) {
    const unsigned char *h = c->rx + off;
    size_t len = (size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3];
    if (c->rxlen - off < 4 + len) break;
    off += 4 + len;
    k++;
  }
  memmove(c->rx, c->rx + off, c->rxlen - off);
  c->rxlen -= off;
  return k;
}

/* Sends what it may: a slow sender one byte a second, a pipeliner new scans up to its window. */
static void ab_send(const ab_opts *o, ab_conn *c, uint64_t now) {
  for (;;) {
    if (c->txoff == c->txlen) {
      if (c->kind != K_PIPELINER || c->inflight >= o->window) return;
      c->tx = g_scan.p;
      c->txlen = g_scan.n;
      c->txoff = 0;
      c->inflight++;
    }
    size_t want = c->txlen - c->txoff;
    if (c->kind == K_SLOW) {
      if (now < c->next_ms) return;
      want = 1;
    }
    ssize_t k = send(c->fd, c->tx + c->txoff, want, MSG_NOSIGNAL);
    if (k <= 0) return;
    c->txoff += (size_t)k;
    g_bytes_sent += (uint64_t)k;
    if (c->kind == K_SLOW) {
      c->next_ms = now + 1000;
      return;
    }
  }
}

/* ---- the heavy entity's CSV ---- */

static int make_heavy_csv(const char *path, unsigned n) {
  cxb_rng r = {20261201};
  char code[19], auth[19];
  cxb_random_uscc(&r, code);
  cxb_random_uscc(&r, auth);
  code[18] = auth[18] = 0;
  FILE *f = fopen(path, "w");
  if (!f) cxb_die("cannot write %s", path);
  time_t t = time(NULL) - 30 * 86400; /* decided a month ago: displayed today */
  struct tm tm;
  gmtime_r(&t, &tm);
  char day[16];
  strftime(day, sizeof day, "%Y-%m-%d", &tm);
  static char text[4097];
  for (int i = 0; i < 4096; i++) text[i] = (char)('a' + i % 26);
  fprintf(f, "entity_code,entity_name,record_id,authority_code,authority_name,category,severity,"
             "decision_date,content,basis\n");
  for (unsigned i = 0; i < n; i++)
    fprintf(f, "%s,重负载测试有限公司,HV-%u,%s,压测局,penalty,general,%s,%s,%s\n", code, i, auth, day, text, text);
  if (fclose(f)) cxb_die("cannot write %s", path);
  printf("%s\n", code);
  return 0;
}

/* ---- main ---- */

int main(int argc, char **argv) {
  ab_opts o = {.duration = 10, .window = 16};
  const char *csv = NULL;
  unsigned records = 1000;
  static const struct option lo[] = {
      {"port", 1, 0, 'P'},       {"code", 1, 0, 'c'},      {"duration", 1, 0, 't'},
      {"nonreaders", 1, 0, 'n'}, {"heavy", 1, 0, 'H'},     {"pipeliners", 1, 0, 'p'},
      {"window", 1, 0, 'w'},     {"slow", 1, 0, 's'},      {"half", 1, 0, 'h'},
      {"json", 1, 0, 'j'},       {"make-heavy-csv", 1, 0, 'M'}, {"records", 1, 0, 'r'},
      {0, 0, 0, 0}};
  int ch;
  while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
    switch (ch) {
    case 'P': o.port = atoi(optarg); break;
    case 'c': o.code = optarg; break;
    case 't': o.duration = atof(optarg); break;
    case 'n': o.n[K_NONREADER] = (unsigned)atoi(optarg); break;
    case 'H': o.n[K_HEAVY] = (unsigned)atoi(optarg); break;
    case 'p': o.n[K_PIPELINER] = (unsigned)atoi(optarg); break;
    case 'w': o.window = (unsigned)atoi(optarg); break;
    case 's': o.n[K_SLOW] = (unsigned)atoi(optarg); break;
    case 'h': o.n[K_HALF] = (unsigned)atoi(optarg); break;
    case 'j': o.json = optarg; break;
    case 'M': csv = optarg; break;
    case 'r': records = (unsigned)atoi(optarg); break;
    default:
      fprintf(stderr, "usage: see the comment at the top of bench/load/bench_abuse.c\n");
      return 2;
    }
  }
  if (csv) return make_heavy_csv(csv, records);
  if (o.port <= 0 || !o.code || o.window == 0) cxb_die("--port and --code are required");
  unsigned total = 0;
  for (int k = 0; k < K_COUNT; k++) total += o.n[k];
  if (total > AB_MAX_CONNS) cxb_die("at most %d connections", AB_MAX_CONNS);
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < total + 64) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }
  /* What each kind sends. */
  for (uint32_t i = 0; i < AB_NONREADER_REQS; i++) fr_search(&g_tx[K_NONREADER], i + 1);
  for (uint32_t i = 0; i < AB_HEAVY_REQS; i++) fr_records(&g_tx[K_HEAVY], o.code, i % 2 ? 1000 : 400, 0, i + 1);
  fr_records(&g_scan, o.code, 1000, 1, 1);
  fr_records(&g_tx[K_SLOW], o.code, 20, 0, 1);
  fr_records(&g_tx[K_HALF], o.code, 20, 0, 1);

  ab_conn *cs = calloc(total, sizeof *cs);
  struct pollfd *pf = calloc(total, sizeof *pf);
  unsigned *idx = calloc(total, sizeof *idx);
  if (!cs || !pf || !idx) cxb_die("out of memory");
  unsigned i = 0;
  for (int k = 0; k < K_COUNT; k++)
    for (unsigned j = 0; j < o.n[k]; j++) ab_open(&o, &cs[i++], k);
  uint64_t t0 = now_ms(), end = t0 + (uint64_t)(o.duration * 1000);
  /* The harness must not take the cores it measures: a poll(2) over every connection costs
   * ~20 us, and the pipeliners' answers would make it return thousands of times a second. So
   * only the pipeliners are polled each time; everyone else every 20 ms. */
  uint64_t last_full = 0;
  while (now_ms() < end) {
    uint64_t now = now_ms();
    int full = now - last_full >= 20 || !o.n[K_PIPELINER];
    if (full) last_full = now;
    unsigned np = 0;
    for (i = 0; i < total; i++) {
      ab_conn *c = &cs[i];
      if (!full && c->kind != K_PIPELINER) continue;
      short ev = POLLRDHUP;
      if (c->connecting || c->txoff < c->txlen) ev |= POLLOUT;
      if (c->kind == K_PIPELINER) {
        ev |= POLLIN;
        if (!c->connecting && c->inflight < o.window) ev |= POLLOUT;
      }
      if (c->kind == K_SLOW && !c->connecting && now < c->next_ms) ev &= (short)~POLLOUT;
      pf[np] = (struct pollfd){.fd = c->fd, .events = ev};
      idx[np++] = i;
    }
    int n = poll(pf, np, full && o.n[K_PIPELINER] ? 0 : o.n[K_PIPELINER] ? 10 : 20);
    if (n < 0 && errno != EINTR) cxb_die("poll: %s", strerror(errno));
    now = now_ms();
    for (unsigned j = 0; j < np; j++) {
      ab_conn *c = &cs[idx[j]];
      short re = pf[j].revents;
      if (c->kind != K_PIPELINER && (re & (POLLHUP | POLLERR | POLLRDHUP))) { /* closed by the server */
        ab_reopen(&o, c);
        continue;
      }
      if (c->connecting && (re & (POLLOUT | POLLERR))) {
        int err = 0;
        socklen_t el = sizeof err;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &err, &el);
        if (err) { ab_reopen(&o, c); continue; }
        c->connecting = 0;
      }
      if (c->connecting) continue;
      if (c->kind == K_PIPELINER && (re & (POLLIN | POLLHUP | POLLERR))) {
        for (;;) {
          if (c->rxcap - c->rxlen < 65536) {
            c->rxcap = c->rxcap ? c->rxcap * 2 : 1 << 17;
            c->rx = realloc(c->rx, c->rxcap);
            if (!c->rx) cxb_die("out of memory");
          }
          ssize_t k = recv(c->fd, c->rx + c->rxlen, c->rxcap - c->rxlen, 0);
          if (k > 0) { c->rxlen += (size_t)k; continue; }
          if (k == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) { ab_reopen(&o, c); break; }
          break;
        }
        if (c->fd < 0 || c->connecting) continue;
        unsigned got = take_answers(c);
        g_answers += got;
        c->inflight = c->inflight > got ? c->inflight - got : 0;
      }
      if (!c->connecting && (re & POLLOUT || c->kind == K_SLOW)) ab_send(&o, c, now);
    }
  }
  double secs = (double)(now_ms() - t0) / 1e3;
  printf("abuse seconds=%.1f", secs);
  for (int k = 0; k < K_COUNT; k++)
    printf(" %s=%u connects_%s=%llu closed_by_server_%s=%llu", k_names[k], o.n[k], k_names[k],
           (unsigned long long)g_connects[k], k_names[k], (unsigned long long)g_closed[k]);
  printf(" scans_answered=%llu bytes_sent=%llu\n", (unsigned long long)g_answers, (unsigned long long)g_bytes_sent);
  if (o.json) {
    cxb_json j = {0};
    cxb_json_obj_begin(&j, NULL);
    cxb_json_str(&j, "bench", "abuse");
    cxb_json_num(&j, "seconds", secs);
    for (int k = 0; k < K_COUNT; k++) {
      char key[64];
      cxb_json_int(&j, k_names[k], o.n[k]);
      snprintf(key, sizeof key, "closed_by_server_%s", k_names[k]);
      cxb_json_int(&j, key, (long long)g_closed[k]);
    }
    cxb_json_int(&j, "scans_answered", (long long)g_answers);
    cxb_json_obj_end(&j);
    if (cxb_json_write(&j, o.json)) cxb_die("cannot write %s", o.json);
    cxb_json_free(&j);
  }
  for (i = 0; i < total; i++) {
    close(cs[i].fd);
    free(cs[i].rx);
  }
  free(cs);
  free(pf);
  free(idx);
  return 0;
}
