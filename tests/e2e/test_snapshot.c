/* test_snapshot.c — the loop's read snapshot (net/server.c settle_cb, docs/architecture.md
 * "Concurrency"): one per loop iteration, shared by the connections of that iteration. A
 * write runs on the thread pool; the frames a client pipelined after it are answered in the
 * iteration its job's completion reaches the loop, while another client's requests keep the
 * loop's snapshot live. Those frames must read the write (the snapshot ends before each poll:
 * without that, every one of them read a snapshot from before it). One worker loop, so that
 * both connections share it. */
#include "e2e.h"

#include <pthread.h>
#include <stdatomic.h>

static void setup(void) {
  const char *extra[] = {"--threads", "1", NULL};
  e2e_setup_args(extra);
}
TestSuite(snapshot, .init = setup, .fini = e2e_teardown, .timeout = 120);

static atomic_int g_stop;
static atomic_long g_checks;

/* Another client keeping the loop busy: 8 checks in flight at all times. */
static void *checker(void *arg) {
  (void)arg;
  cx_client *c = e2e_connect_as(TOK_APPROVAL);
  char code[19];
  e2e_code("91", 1, code);
  const char *codes[] = {code};
  check_args a = {codes, 1, "procurement"};
  for (int i = 0; i < 8; i++) cx_client_send(c, "check", 3, pack_check, &a, NULL);
  cx_client_flush(c);
  while (!atomic_load(&g_stop)) {
    cx_client_resp r;
    if (cx_client_recv(c, &r) != 0) break;
    atomic_fetch_add(&g_checks, 1);
    cx_client_send(c, "check", 3, pack_check, &a, NULL);
    cx_client_flush(c);
  }
  cx_client_close(c);
  return NULL;
}

typedef struct one_rec { const char *code, *rid; } one_rec;
static int pack_one(msgpack_packer *pk, void *ctx) {
  const one_rec *o = ctx;
  char auth[19];
  e2e_code("11", E2E_AUTH_N, auth);
  PK_S(pk, "records");
  msgpack_pack_array(pk, 1);
  msgpack_pack_map(pk, 7);
  PK_S(pk, "entity_code"); PK_S(pk, o->code);
  PK_S(pk, "entity_name"); PK_S(pk, "快照测试公司");
  PK_S(pk, "record_id"); PK_S(pk, o->rid);
  PK_S(pk, "authority_code"); PK_S(pk, auth);
  PK_S(pk, "category"); PK_S(pk, "blacklist");
  PK_S(pk, "list_type"); PK_S(pk, "procurement_serious");
  PK_S(pk, "decision_date"); PK_S(pk, "2024-06-01");
  return 0;
}
static int pack_code(msgpack_packer *pk, void *ctx) {
  PK_S(pk, "code");
  PK_S(pk, (const char *)ctx);
  return 0;
}

Test(snapshot, a_read_pipelined_after_a_write_reads_it_while_other_clients_keep_the_loop_busy) {
  atomic_store(&g_stop, 0);
  atomic_store(&g_checks, 0);
  pthread_t th;
  cr_assert_eq(pthread_create(&th, NULL, checker, NULL), 0);
  while (atomic_load(&g_checks) < 100) usleep(1000);
  cx_client *c = e2e_connect_as(TOK_SUBMITTER);
  int stale = 0;
  for (int i = 0; i < 60; i++) {
    char code[19], rid[32];
    e2e_code("91", 7000 + (unsigned)i, code);
    snprintf(rid, sizeof rid, "SNAP-%d", i);
    one_rec o = {code, rid};
    cr_assert_eq(cx_client_send(c, "ingest", 1, pack_one, &o, NULL), 0);
    cr_assert_eq(cx_client_send(c, "entity", 1, pack_code, code, NULL), 0);
    cr_assert_eq(cx_client_flush(c), 0);
    cx_client_resp r;
    cr_assert_eq(cx_client_recv(c, &r), 0);
    assert_ok(&r);
    cr_assert_eq(cx_mpo_int(cx_mpo_get(r.result, "inserted"), -1), 1);
    cr_assert_eq(cx_client_recv(c, &r), 0);
    if (r.error) stale++;
  }
  atomic_store(&g_stop, 1);
  pthread_join(th, NULL);
  cx_client_close(c);
  cr_assert(atomic_load(&g_checks) > 100, "the other client was served meanwhile");
  cr_assert_eq(stale, 0, "%d of 60 reads after their own write did not see it", stale);
  e2e_assert_alive();
}
