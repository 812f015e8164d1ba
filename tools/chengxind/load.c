/*
 * chengxind-load — a quick pipelined `check` load over the protocol, with net/client.h.
 *
 *   chengxind-load --port P [--host H] [--token T] (--db PATH | --codes FILE)
 *                  [--conns N] [--window W] [--seconds S] [--per-request K]
 *                  [--action A] [--missing PCT]
 *
 * Each connection runs in its own thread and keeps W requests in flight (send W, then one new
 * request per response). Each request checks K codes drawn (seeded) from the store's codes
 * (--db, opened read-only beside the server) or from a file (one code per line); --missing
 * replaces PCT% of them with valid codes that are not in the store. Every response is checked
 * (ok, one result per code, in order). Prints one line: requests/s, codes/s, and client-side
 * round-trip latency p50/p99 (which includes queueing behind the window).
 *
 * A smoke-test tool for the server's owner; bench/ has the measured, baseline-compared figures.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "client.h"
#include "store.h"

static const char *host = "127.0.0.1", *token, *action = "procurement";
static int port, conns = 2, window = 64, seconds = 5, per = 1, missing_pct = 0;
static char (*codes)[CX_CODE_LEN + 1];
static size_t n_codes, cap_codes;

#define LAT_BUCKETS 64 /* 2^i microseconds */

typedef struct worker {
  pthread_t th;
  int idx;
  long requests, errors;
  uint64_t lat[LAT_BUCKETS];
  unsigned seed;
} worker;

static double now_s(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static int add_code(const char *c) {
  if (n_codes == cap_codes) {
    size_t nc = cap_codes ? cap_codes * 2 : 4096;
    void *p = cx_realloc(codes, nc * sizeof *codes);
    if (!p) return -1;
    codes = p;
    cap_codes = nc;
  }
  memcpy(codes[n_codes], c, CX_CODE_LEN);
  codes[n_codes][CX_CODE_LEN] = 0;
  n_codes++;
  return 0;
}

static int code_cb(void *ctx, cx_str code, cx_str name) {
  (void)ctx;
  (void)name;
  if (code.n == CX_CODE_LEN) add_code(code.p);
  return n_codes >= 1000000 ? 1 : 0;
}

typedef struct pack_ctx {
  worker *w;
} pack_ctx;

static int pack_check(msgpack_packer *pk, void *ctx) {
  worker *w = ctx;
  msgpack_pack_str_with_body(pk, "codes", 5);
  msgpack_pack_array(pk, (size_t)per);
  for (int i = 0; i < per; i++) {
    unsigned r = (unsigned)rand_r(&w->seed);
    if (missing_pct && (int)(r % 100) < missing_pct) {
      char c17[18], code[19];
      /* region 659999 (a province, no county): valid, and never generated */
      snprintf(c17, sizeof c17, "91659999%08u0", r % 100000000u);
      c17[16] = cx_orgcode_check_char(c17 + 8);
      memcpy(code, c17, 17);
      code[17] = cx_uscc_check_char(c17);
      msgpack_pack_str_with_body(pk, code, CX_CODE_LEN);
    } else {
      msgpack_pack_str_with_body(pk, codes[(size_t)rand_r(&w->seed) % n_codes], CX_CODE_LEN);
    }
  }
  msgpack_pack_str_with_body(pk, "action", 6);
  msgpack_pack_str_with_body(pk, action, strlen(action));
  return 0;
}

static void *run(void *arg) {
  worker *w = arg;
  cx_client *c;
  if (cx_client_connect(host, port, 10000, &c)) {
    fprintf(stderr, "chengxind-load: cannot connect to %s:%d\n", host, port);
    exit(1);
  }
  if (token && cx_client_auth(c, token, NULL, 0)) {
    fprintf(stderr, "chengxind-load: auth refused\n");
    exit(1);
  }
  double *sent = cx_calloc((size_t)window, sizeof *sent);
  double end = now_s() + seconds;
  int head = 0, tail = 0, inflight = 0;
  for (; inflight < window; inflight++) {
    sent[head] = now_s();
    head = (head + 1) % window;
    cx_client_send(c, "check", 2, pack_check, w, NULL);
  }
  while (inflight) {
    cx_client_resp r;
    int rc = cx_client_recv(c, &r);
    if (rc) {
      fprintf(stderr, "chengxind-load: receive failed: %s\n", cx_strerror(rc));
      exit(1);
    }
    double t = now_s();
    uint64_t us = (uint64_t)((t - sent[tail]) * 1e6);
    tail = (tail + 1) % window;
    inflight--;
    int b = 0;
    while (b < LAT_BUCKETS - 1 && (1ull << b) < us) b++;
    w->lat[b]++;
    const msgpack_object *res = r.ok ? cx_mpo_get(r.result, "results") : NULL;
    if (!res || res->type != MSGPACK_OBJECT_ARRAY || res->via.array.size != (uint32_t)per) w->errors++;
    w->requests++;
    if (t < end) {
      sent[head] = t;
      head = (head + 1) % window;
      cx_client_send(c, "check", 2, pack_check, w, NULL);
      inflight++;
    }
  }
  free(sent);
  cx_client_close(c);
  return NULL;
}

static void usage(void) {
  fprintf(stderr, "usage: chengxind-load --port P [--host H] [--token T] (--db PATH | --codes FILE)\n"
                  "       [--conns N] [--window W] [--seconds S] [--per-request K] [--action A] [--missing PCT]\n");
  exit(2);
}

int main(int argc, char **argv) {
  const char *db = NULL, *file = NULL;
  for (int i = 1; i < argc; i++) {
    const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
    if (!v) usage();
    i++;
    if (!strcmp(a, "--host")) host = v;
    else if (!strcmp(a, "--port")) port = atoi(v);
    else if (!strcmp(a, "--token")) token = v;
    else if (!strcmp(a, "--db")) db = v;
    else if (!strcmp(a, "--codes")) file = v;
    else if (!strcmp(a, "--conns")) conns = atoi(v);
    else if (!strcmp(a, "--window")) window = atoi(v);
    else if (!strcmp(a, "--seconds")) seconds = atoi(v);
    else if (!strcmp(a, "--per-request")) per = atoi(v);
    else if (!strcmp(a, "--action")) action = v;
    else if (!strcmp(a, "--missing")) missing_pct = atoi(v);
    else usage();
  }
  if (port <= 0 || conns < 1 || conns > 1024 || window < 1 || seconds < 1 || per < 1 || per > 1000 ||
      (!db && !file))
    usage();
  if (db) {
    cx_store_opts o = {0};
    o.read_only = 1;
    cx_store *st;
    cx_txn *t;
    if (cx_store_open(db, &o, &st) || cx_store_txn_begin(st, &t)) {
      fprintf(stderr, "chengxind-load: cannot read the store %s\n", db);
      return 1;
    }
    cx_store_codes_each(t, (cx_str){"", 0}, code_cb, NULL);
    cx_store_txn_end(t);
    cx_store_close(st);
  } else {
    FILE *f = fopen(file, "r");
    char line[256];
    if (!f) {
      perror(file);
      return 1;
    }
    while (fgets(line, sizeof line, f))
      if (strlen(line) >= CX_CODE_LEN) add_code(line);
    fclose(f);
  }
  if (!n_codes) {
    fprintf(stderr, "chengxind-load: no codes\n");
    return 1;
  }
  worker *ws = cx_calloc((size_t)conns, sizeof *ws);
  double t0 = now_s();
  for (int i = 0; i < conns; i++) {
    ws[i].idx = i;
    ws[i].seed = 12345u + (unsigned)i;
    pthread_create(&ws[i].th, NULL, run, &ws[i]);
  }
  long req = 0, err = 0;
  uint64_t lat[LAT_BUCKETS] = {0}, tot = 0;
  for (int i = 0; i < conns; i++) {
    pthread_join(ws[i].th, NULL);
    req += ws[i].requests;
    err += ws[i].errors;
    for (int b = 0; b < LAT_BUCKETS; b++) lat[b] += ws[i].lat[b], tot += ws[i].lat[b];
  }
  double dt = now_s() - t0;
  uint64_t p50 = 0, p99 = 0, seen = 0;
  for (int b = 0; b < LAT_BUCKETS; b++) {
    seen += lat[b];
    if (!p50 && seen * 2 >= tot) p50 = 1ull << b;
    if (!p99 && seen * 100 >= tot * 99) p99 = 1ull << b;
  }
  printf("check over %s:%d: %d conns x window %d, %d codes/request, %zu distinct codes: "
         "%.0f requests/s, %.0f codes/s, round trip p50 <= %llu us, p99 <= %llu us, %ld bad responses\n",
         host, port, conns, window, per, n_codes, (double)req / dt, (double)req * per / dt,
         (unsigned long long)p50, (unsigned long long)p99, err);
  free(ws);
  free(codes);
  return err ? 1 : 0;
}
