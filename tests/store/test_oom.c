/* test_oom.c — out of memory everywhere: open, commit (puts, transitions, audit), data files,
 * verify, backup-free reads and aggregates run with allocation N failing (cx_alloc_fail_at),
 * for every N until the operation succeeds. Each must return a clean error (CX_ENOMEM), leak
 * nothing (the ASan build's leak check) and leave the store as it was. */
#include "fixture.h"
#include "query.h"

static char dir[256];
static void setup(void) { cx_test_tmpdir(dir, sizeof dir); }
static void teardown(void) {
  cx_alloc_fail_at(0, 0);
  cx_test_rmrf(dir);
}
TestSuite(oom, .init = setup, .fini = teardown, .timeout = 300);

/* Every N from 1 until `op` runs without meeting the failure. op returns 0 or an error; a
 * failed allocation must give a clean error, or none when the code can do without it. */
typedef int (*op_fn)(void *ctx);
typedef void (*check_fn)(void *ctx, int rc);
static long every_n(op_fn op, check_fn after_failure, void *ctx, const char *what) {
  for (long n = 1; n < 200000; n++) {
    cx_alloc_fail_at(n, 0);
    int rc = op(ctx);
    long failed = cx_alloc_failures();
    cx_alloc_fail_at(0, 0);
    if (!failed) {
      cr_assert_eq(rc, 0, "%s: no failure injected, yet %s", what, cx_strerror(rc));
      return n;
    }
    if (rc == 0) continue; /* an allocation it could do without (a deferred free done at once) */
    cr_assert(rc == CX_ENOMEM || strcmp(cx_err_name(rc), "internal") == 0, "%s: allocation %ld: %s", what, n,
              cx_strerror(rc));
    if (after_failure) after_failure(ctx, rc);
  }
  cr_assert_fail("%s: never succeeded", what);
  return 0;
}

/* ---- open ---- */

typedef struct open_ctx {
  char path[300];
  int k;
} open_ctx;

static int op_open(void *vctx) {
  open_ctx *c = vctx;
  snprintf(c->path, sizeof c->path, "%s/db%d", dir, c->k++);
  cx_store_opts o = {0};
  o.create = 1;
  o.map_size = 4u << 20;
  cx_store *st = NULL;
  int rc = cx_store_open(c->path, &o, &st);
  if (rc == 0) cx_store_close(st);
  return rc;
}

Test(oom, creating_a_store_fails_cleanly_at_every_allocation) {
  open_ctx c = {"", 0};
  long n = every_n(op_open, NULL, &c, "create");
  cr_log_info("create: %ld allocations", n - 1);
  cr_assert_not(cx_test_leaks(), "memory leaked (LeakSanitizer's report above)");
  /* and opening the last one, existing */
  cx_store_opts o = {0};
  cx_store *st = NULL;
  cr_assert_eq(cx_store_open(c.path, &o, &st), 0);
  cx_store_close(st);
}

/* ---- commit ---- */

typedef struct commit_ctx {
  cx_store *st;
  uint64_t records0, audit0;
  int round;
} commit_ctx;

static int op_commit(void *vctx) {
  commit_ctx *c = vctx;
  char a[19];
  fx_auth(1, a);
  cx_batch *b = NULL;
  int rc = cx_batch_begin(c->st, &b);
  if (rc) return rc;
  cx_batch_actor actor = {CX_STR("oom"), CX_STR("admin"), CX_STR("127.0.0.1:1"), 1, NULL, 0};
  const char *why = NULL;
  if ((rc = cx_batch_set_actor(b, &actor))) goto fail;
  for (int i = 0; i < 40; i++) {
    char code[19], rid[32];
    fx_uscc((unsigned)(i % 7) + 1, code);
    snprintf(rid, sizeof rid, "N-%d", i);
    cx_record r;
    fx_record(&r, code, "内存测试有限公司", a, rid, fx_day(2023, 1 + i % 12, 1 + i % 28));
    r.category = i % 3 ? CX_CAT_PENALTY : CX_CAT_BLACKLIST;
    if (r.category == CX_CAT_BLACKLIST) r.list_type = CX_STR("court_dishonest");
    r.content = CX_STR("警告；罚款");
    r.amount_fen = 100000 * i;
    r.severity = CX_SEV_UNSET;
    if ((rc = cx_batch_put(b, &r, &why))) goto fail;
  }
  /* events on records of the seed batch */
  if ((rc = cx_batch_transition(b, cx_str_c(a), CX_STR("S-1"), CX_EV_REPAIR, 1, CX_STR("修复"), &why)) ||
      (rc = cx_batch_transition(b, cx_str_c(a), CX_STR("S-2"), CX_EV_OBJECTION, 0, CX_STR("异议"), &why)) ||
      (rc = cx_batch_transition(b, cx_str_c(a), CX_STR("S-3"), CX_EV_REVOKE, 0, CX_STR("撤销"), &why)))
    goto fail;
  cx_audit_entry e = {0, 0, CX_STR("oom"), CX_STR("admin"), CX_STR("ingest"), CX_STR(""), CX_STR("records=40"),
                      CX_STR("")};
  if ((rc = cx_batch_audit(b, &e))) goto fail;
  return cx_batch_commit(b, NULL);
fail:
  cx_batch_abort(b);
  return rc;
}

static void commit_unchanged(void *vctx, int rc) {
  (void)rc;
  commit_ctx *c = vctx;
  cx_store_info in;
  cr_assert_eq(cx_store_info_get(c->st, &in), 0);
  cr_assert_eq(in.records, c->records0, "a failed commit wrote records");
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(c->st, &t), 0);
  uint64_t last = 0;
  cr_assert_eq(cx_store_audit_last(t, &last), 0);
  cx_store_txn_end(t);
  cr_assert_eq(last, c->audit0, "a failed commit wrote audit entries");
}

Test(oom, a_commit_lands_whole_or_not_at_all_at_every_allocation) {
  commit_ctx c = {0};
  c.st = fx_open(dir, 0);
  char a[19], code[19];
  fx_auth(1, a);
  fx_uscc(1, code);
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(c.st, &b), 0);
  for (int i = 0; i < 5; i++) {
    char rid[16];
    snprintf(rid, sizeof rid, "S-%d", i);
    cx_record r;
    fx_record(&r, code, "内存测试有限公司", a, rid, fx_day(2022, 1, 1 + i));
    fx_put(b, &r);
  }
  cr_assert_eq(cx_batch_commit(b, NULL), 0);
  cx_store_info in;
  cr_assert_eq(cx_store_info_get(c.st, &in), 0);
  c.records0 = in.records;
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(c.st, &t), 0);
  cr_assert_eq(cx_store_audit_last(t, &c.audit0), 0);
  cx_store_txn_end(t);
  long n = every_n(op_commit, commit_unchanged, &c, "commit");
  cr_log_info("commit: %ld allocations", n - 1);
  cr_assert_eq(cx_store_info_get(c.st, &in), 0);
  cr_assert_eq(in.records, c.records0 + 40);
  cr_assert_eq(cx_store_verify(c.st, NULL, NULL), 0);
  cx_store_close(c.st);
  cr_assert_not(cx_test_leaks(), "memory leaked (LeakSanitizer's report above)");
}

/* ---- data files, verify ---- */

static int op_catalog(void *vctx) {
  cx_store *st = vctx;
  int bad = 0;
  return cx_store_data_put(st, "catalog", cx_data_catalog, cx_data_catalog_len, &bad);
}

static int op_verify(void *vctx) {
  long d = cx_store_verify(vctx, NULL, NULL);
  return d < 0 ? (int)d : d > 0 ? CX_ECORRUPT : 0;
}

Test(oom, loading_a_catalogue_and_verify_fail_cleanly_at_every_allocation) {
  cx_store *st = fx_open(dir, 0);
  char a[19], code[19];
  fx_auth(1, a);
  fx_uscc(1, code);
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  for (int i = 0; i < 30; i++) {
    char rid[16];
    snprintf(rid, sizeof rid, "C-%d", i);
    cx_record r;
    fx_record(&r, code, "内存测试有限公司", a, rid, fx_day(2022, 1, 1 + i % 28));
    if (i % 2) {
      r.category = CX_CAT_BLACKLIST;
      r.list_type = CX_STR("court_dishonest");
    }
    fx_put(b, &r);
  }
  cr_assert_eq(cx_batch_commit(b, NULL), 0);
  every_n(op_catalog, NULL, st, "load catalog");
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0);
  every_n(op_verify, NULL, st, "verify");
  cx_store_close(st);
  cr_assert_not(cx_test_leaks(), "memory leaked (LeakSanitizer's report above)");
}

/* ---- aggregate ---- */

typedef struct agg_ctx {
  cx_query *q;
  cx_txn *t;
  cx_agg_spec spec;
  cx_role role;
} agg_ctx;

static int op_agg(void *vctx) {
  agg_ctx *c = vctx;
  cx_agg_result r;
  memset(&r, 0, sizeof r);
  int rc = cx_query_aggregate(c->q, c->t, c->role, &c->spec, &r);
  if (rc == 0) cx_agg_result_free(&r);
  return rc;
}

Test(oom, aggregates_fail_cleanly_at_every_allocation) {
  cx_store *st = fx_open(dir, 0);
  char a[19];
  fx_auth(1, a);
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  for (int i = 0; i < 400; i++) {
    char rid[16], code[19];
    fx_uscc((unsigned)i % 50 + 1, code);
    snprintf(rid, sizeof rid, "A-%d", i);
    cx_record r;
    fx_record(&r, code, "聚合测试有限公司", a, rid, fx_day(2022 + i % 3, 1 + i % 12, 1 + i % 28));
    r.amount_fen = i;
    fx_put(b, &r);
  }
  cr_assert_eq(cx_batch_commit(b, NULL), 0);
  agg_ctx c;
  memset(&c, 0, sizeof c);
  cr_assert_eq(cx_query_new(st, &c.q), 0);
  cr_assert_eq(cx_store_txn_begin(st, &c.t), 0);
  c.spec.order = -1;
  c.spec.n_group = 2;
  c.spec.group[0] = CX_DIM_COUNTY;
  c.spec.group[1] = CX_DIM_MONTH;
  c.role = CX_ROLE_ANALYST;
  every_n(op_agg, NULL, &c, "aggregate (rollup)");
  c.spec.force_scan = 1;
  every_n(op_agg, NULL, &c, "aggregate (scan)");
  c.role = CX_ROLE_PUBLIC;
  cx_day_set_today(fx_day(2024, 6, 1));
  c.spec.force_scan = 0;
  every_n(op_agg, NULL, &c, "aggregate (public)");
  cx_day_set_today(0);
  cx_store_txn_end(c.t);
  cx_query_free(c.q);
  cx_store_close(st);
  cr_assert_not(cx_test_leaks(), "memory leaked (LeakSanitizer's report above)");
}
