/* test_concurrency.c — readers on other threads while batches commit and the map grows. */
#include <pthread.h>
#include <stdatomic.h>
#include <unistd.h>

#include "fixture.h"

static char dir[256];
static cx_store *st;
static atomic_int stop;
static char codes[20][19];
static void setup(void) { cx_test_tmpdir(dir, sizeof dir); }
static void teardown(void) { cx_test_rmrf(dir); }
TestSuite(concurrency, .init = setup, .fini = teardown);

static int count_rec(void *ctx, const cx_reckey *k, const cx_record *r) {
  (void)k;
  cr_assert_eq(r->entity_code.n, CX_CODE_LEN);
  (*(uint32_t *)ctx)++;
  return 0;
}

typedef struct rstat {
  long reads, checked;
} rstat;

static void *reader(void *arg) {
  rstat *rs = arg;
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cx_store_txn_reset(t);
  unsigned i = 0;
  while (!atomic_load(&stop)) {
    cr_assert_eq(cx_store_txn_renew(t), 0);
    for (int k = 0; k < 20; k++) {
      cx_summary s;
      int rc = cx_store_summary_get(t, codes[(i + (unsigned)k) % 20], &s);
      rs->reads++;
      if (rc == CX_ENOTFOUND) continue;
      cr_assert_eq(rc, 0);
      /* one snapshot: the summary agrees with the records */
      uint32_t n = 0;
      cr_assert_eq(cx_store_records_each(t, s.entity_id, NULL, count_rec, &n), 0);
      cr_assert_eq(n, s.n_recs);
      rs->checked++;
    }
    cx_store_txn_reset(t);
    i++;
  }
  cx_store_txn_end(t);
  return NULL;
}

Test(concurrency, readers_stay_consistent_while_batches_commit_and_the_map_grows) {
  st = fx_open(dir, 64u << 10);
  for (int e = 0; e < 20; e++) fx_uscc((unsigned)e + 1, codes[e]);
  char auth[19];
  fx_auth(1, auth);
  pthread_t th[3];
  rstat rs[3];
  memset(rs, 0, sizeof rs);
  for (int i = 0; i < 3; i++) pthread_create(&th[i], NULL, reader, &rs[i]);
  cx_store_info in0;
  cr_assert_eq(cx_store_info_get(st, &in0), 0);
  for (int bi = 0; bi < 30; bi++) {
    cx_batch *b;
    cr_assert_eq(cx_batch_begin(st, &b), 0);
    for (int i = 0; i < 200; i++) {
      char rid[32], name[32];
      snprintf(rid, sizeof rid, "C-%d-%d", bi, i);
      snprintf(name, sizeof name, "并发公司%d", i % 20);
      cx_record r;
      fx_record(&r, codes[i % 20], name, auth, rid, fx_day(2022, 1, 1) + (cx_day)(i + bi));
      r.content = CX_STR("一段较长的处罚内容，用来让数据更快地填满初始的小映射区域。一段较长的处罚内容。");
      fx_put(b, &r);
    }
    int rc = cx_batch_commit(b, NULL);
    cr_assert_eq(rc, 0, "%s: %s", cx_strerror(rc), cx_store_errmsg(st));
  }
  atomic_store(&stop, 1);
  for (int i = 0; i < 3; i++) pthread_join(th[i], NULL);
  cx_store_info in;
  cr_assert_eq(cx_store_info_get(st, &in), 0);
  cr_assert_eq(in.records, 6000);
  cr_assert_gt(in.map_size, in0.map_size);
  long checked = 0;
  for (int i = 0; i < 3; i++) checked += rs[i].checked;
  cr_assert_gt(checked, 0);
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0);
  cx_store_close(st);
}

/* Two threads fail at once on one shared handle, each with its own detail: a message is the
 * thread's own, never the other's (it was one string on the handle, written by both). */
typedef struct msg_ctx {
  const char *rid;
  int wrong;
} msg_ctx;

static void *fail_commit_loop(void *vctx) {
  msg_ctx *c = vctx;
  char a[19];
  fx_auth(1, a);
  for (int i = 0; i < 300; i++) {
    cx_batch *b = NULL;
    const char *why = NULL;
    if (cx_batch_begin(st, &b)) continue;
    cx_batch_transition(b, cx_str_c(a), cx_str_c(c->rid), CX_EV_REVOKE, 0, CX_STR("t"), &why);
    int rc = cx_batch_commit(b, NULL);
    usleep(20); /* the other thread's commit fails meanwhile: it must not overwrite ours */
    if (rc != CX_ENOTFOUND || !strstr(cx_store_errmsg(st), c->rid)) c->wrong++;
  }
  return NULL;
}

Test(concurrency, each_thread_reads_its_own_error_detail_on_a_shared_handle) {
  st = fx_open(dir, 0);
  msg_ctx ca = {"MISSING-AAAA", 0}, cb = {"MISSING-BBBB", 0};
  pthread_t ta, tb;
  pthread_create(&ta, NULL, fail_commit_loop, &ca);
  pthread_create(&tb, NULL, fail_commit_loop, &cb);
  pthread_join(ta, NULL);
  pthread_join(tb, NULL);
  cx_store_close(st);
  cr_assert_eq(ca.wrong + cb.wrong, 0, "%d and %d messages named the other thread's record", ca.wrong, cb.wrong);
}
