/*
 * End-to-end: another process grows the store while the server serves. Issue "Bounded under
 * abuse" (d): the server mapped the store at about its size, so an import growing it made the
 * server's next transaction remap, and a remap waits for every read transaction of the server
 * and holds every new one: every request stalled behind the longest read in flight. Now the
 * server maps max(64 GiB, 8 x the data file) (net/server.c, server_map_size): growth within it
 * never remaps. The remap that remains (data past the map, here forced with a small --map-size)
 * is bounded by the store's wait for its readers (CX_GROW_WAIT_MS, 5 s, store/store.c); with
 * readers reset after every slice of requests it is in practice one slice.
 *
 * The writer is a forked child using store.h, as `chengxin import` would. The latency bounds
 * are generous: they tell a bounded stall from an unbounded one, not fast from slow.
 */
#include <poll.h>
#include <sys/wait.h>

#include "e2e.h"
#include "net_int.h"

#define GROW_BATCHES 5
#define GROW_PER_BATCH 400     /* records of ~8.6 KB: ~17 MB over the batches */
#define PING_BOUND_MS 7000     /* the store's 5 s wait for readers, plus slack */

static uint64_t now_us(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static void heavy_store(const char *db) { e2e_add_heavy_entity(db, E2E_HEAVY, 500, 4096); }

/* The child: GROW_BATCHES batches of new entities' records into the store; exit 0 or 1. */
static int grow_store(const char *db) {
  cx_store_opts o = {0};
  o.map_size = 4u << 20; /* its own map small: it grows (and remaps itself) as it writes */
  cx_store *st = NULL;
  if (cx_store_open(db, &o, &st)) return 1;
  static char text[4097];
  memset(text, 'x', 4096);
  char auth[19], code[19], rid[32], name[64];
  e2e_code("11", E2E_AUTH_N, auth);
  for (unsigned b = 0; b < GROW_BATCHES; b++) {
    cx_batch *bt = NULL;
    if (cx_batch_begin(st, &bt)) return 1;
    for (unsigned i = 0; i < GROW_PER_BATCH; i++) {
      unsigned ent = 700000 + b * GROW_PER_BATCH + i;
      e2e_code("91", ent, code);
      snprintf(rid, sizeof rid, "GROW-%u", ent);
      snprintf(name, sizeof name, "增长测试%u有限公司", ent);
      cx_record r;
      cx_record_defaults(&r);
      r.record_id = cx_str_c(rid);
      r.authority_code = cx_str_c(auth);
      r.authority_name = CX_STR("福州市市场监督管理局");
      r.entity_code = cx_str_c(code);
      r.entity_name = cx_str_c(name);
      r.category = CX_CAT_PENALTY;
      cx_day_parse(CX_STR("2024-05-20"), &r.decision_date);
      r.report_date = r.decision_date + 2;
      r.valid_from = r.decision_date;
      r.severity = CX_SEV_GENERAL;
      r.content = r.basis = cx_str_c(text);
      const char *why = NULL;
      if (cx_batch_put(bt, &r, &why)) return 1;
    }
    cx_batch_result res;
    if (cx_batch_commit(bt, &res)) return 1;
  }
  cx_store_close(st);
  return 0;
}

static uint64_t store_stat(cx_client *a, const char *key) {
  cx_client_resp r = e2e_call(a, "stats", NULL);
  assert_ok(&r);
  const msgpack_object *v = cx_mpo_get(cx_mpo_get(r.result, "store"), key);
  cr_assert(v && v->type == MSGPACK_OBJECT_POSITIVE_INTEGER, "stats store.%s", key);
  return v->via.u64;
}

/* Grows the store from a child while the test pings; returns the largest ping time (us). */
static uint64_t ping_while_growing(cx_client *probe, unsigned *pings) {
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) _exit(grow_store(g_srv.db));
  uint64_t worst = 0;
  int st = 0;
  *pings = 0;
  for (;;) {
    uint64_t t0 = now_us();
    cx_client_resp r = e2e_call(probe, "ping", NULL);
    assert_ok(&r);
    uint64_t dt = now_us() - t0;
    if (dt > worst) worst = dt;
    (*pings)++;
    if (waitpid(pid, &st, WNOHANG) == pid) break;
    usleep(2000);
  }
  cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the writer process failed");
  return worst;
}

/* ===================================================================== the default map */

static void setup_default(void) {
  g_e2e_store_hook = heavy_store;
  e2e_setup_args((const char *[]){"--threads", "2", NULL});
  g_e2e_store_hook = NULL;
}
TestSuite(remap_default, .init = setup_default, .fini = e2e_teardown, .timeout = 120);

Test(remap_default, another_process_growing_the_store_never_remaps_the_server) {
  cx_client *admin = e2e_connect_as(TOK_ADMIN);
  uint64_t map0 = store_stat(admin, "map_size"), used0 = store_stat(admin, "map_used");
  cr_assert_geq(map0, CX_NET_MAP_MIN, "the server maps %llu bytes, not at least 64 GiB", (unsigned long long)map0);
  unsigned pings = 0;
  uint64_t worst = ping_while_growing(admin, &pings);
  uint64_t map1 = store_stat(admin, "map_size"), used1 = store_stat(admin, "map_used");
  fprintf(stderr, "remap_default: map %llu MiB; data %llu -> %llu MiB by another process; %u pings, the slowest %.1f ms\n",
          (unsigned long long)(map0 >> 20), (unsigned long long)(used0 >> 20), (unsigned long long)(used1 >> 20),
          pings, worst / 1e3);
  cr_assert_gt(used1, used0 + (8u << 20), "the store grew (%llu -> %llu)", (unsigned long long)used0,
               (unsigned long long)used1);
  cr_assert_eq(map1, map0, "the server remapped (%llu -> %llu)", (unsigned long long)map0, (unsigned long long)map1);
  cr_assert_lt(worst, (uint64_t)PING_BOUND_MS * 1000u);
  /* The server reads what the other process wrote. */
  char code[19];
  e2e_code("91", 700000 + GROW_BATCHES * GROW_PER_BATCH - 1, code);
  cx_client_resp r = e2e_call(admin, "entity", (const char *[]){"code", code, NULL});
  assert_ok(&r);
  cx_client_close(admin);
  e2e_assert_alive();
}

/* ===================================================================== the remap that remains */

static void setup_small_map(void) {
  g_e2e_store_hook = heavy_store;
  /* A map no larger than the data (LMDB takes the data size): any growth makes a remap. */
  e2e_setup_args((const char *[]){"--threads", "2", "--map-size", "1048576", NULL});
  g_e2e_store_hook = NULL;
}
TestSuite(remap_small, .init = setup_small_map, .fini = e2e_teardown, .timeout = 120);

Test(remap_small, a_remap_that_remains_stalls_requests_a_bounded_time) {
  cx_client *admin = e2e_connect_as(TOK_ADMIN);
  uint64_t map0 = store_stat(admin, "map_size");
  /* Heavy reads in flight on the loops while the remaps happen. */
  cx_client *reader = e2e_connect();
  char hv[19];
  e2e_code("91", E2E_HEAVY, hv);
  unsigned pings = 0;
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) _exit(grow_store(g_srv.db));
  uint64_t worst = 0;
  int st = 0;
  for (;;) {
    for (int k = 0; k < 8; k++) /* a burst of scans on another connection */
      cx_client_send(reader, "records", 2, pack_kv, (void *)(const char *[]){"code", hv, "category", "license", NULL}, NULL);
    uint64_t t0 = now_us();
    cx_client_resp r = e2e_call(admin, "ping", NULL);
    assert_ok(&r);
    uint64_t dt = now_us() - t0;
    if (dt > worst) worst = dt;
    pings++;
    for (int k = 0; k < 8; k++) {
      cr_assert_eq(cx_client_recv(reader, &r), 0);
      assert_ok(&r);
    }
    if (waitpid(pid, &st, WNOHANG) == pid) break;
    usleep(2000);
  }
  cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "the writer process failed");
  uint64_t map1 = store_stat(admin, "map_size");
  fprintf(stderr, "remap_small: map %llu -> %llu MiB (remapped under readers); %u pings, the slowest %.1f ms\n",
          (unsigned long long)(map0 >> 20), (unsigned long long)(map1 >> 20), pings, worst / 1e3);
  cr_assert_gt(map1, map0, "the server remapped");
  cr_assert_lt(worst, (uint64_t)PING_BOUND_MS * 1000u, "a ping waited %.1f ms", worst / 1e3);
  char code[19];
  e2e_code("91", 700000 + GROW_BATCHES * GROW_PER_BATCH - 1, code);
  cx_client_resp r = e2e_call(admin, "entity", (const char *[]){"code", code, NULL});
  assert_ok(&r);
  cx_client_close(reader);
  cx_client_close(admin);
  e2e_assert_alive();
}
