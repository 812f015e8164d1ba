/* test_oom_ops.c — every server op, run through the executor (cx_exec_run, as the loops and
 * the pool run it) with allocation N failing, for every N until the op succeeds: each answer
 * is one whole frame (the op's or one `internal` error, never a frame with a hole), nothing
 * leaks (the ASan build's leak check), and the store is unchanged by a failed write. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "net_int.h"
#include "query.h"
#include "testutil.h"

static char dir[256], db[300];
static cx_store *st;
static cx_exec_env env;
static cx_query *q;
static cx_txn *t;
static cx_buf out, details;
static cx_check_hit hits[64];
static char auth[19], ent[19];
static char receipt[CX_RECEIPT_LEN + 1];

static void make_code(const char *prefix8, unsigned n, char o[19]) {
  char c17[18];
  snprintf(c17, sizeof c17, "%.8s%08u0", prefix8, n % 100000000u);
  c17[16] = cx_orgcode_check_char(c17 + 8);
  memcpy(o, c17, 17);
  o[17] = cx_uscc_check_char(c17);
  o[18] = 0;
}

static void setup(void) {
  cx_test_tmpdir(dir, sizeof dir);
  snprintf(db, sizeof db, "%s/db", dir);
  make_code("11350100", 900, auth);
  make_code("91350100", 100, ent);
  cx_store_opts o = {0};
  o.create = 1;
  o.map_size = 16u << 20;
  st = NULL;
  cr_assert_eq(cx_store_open(db, &o, &st), 0);
  cx_batch *b = NULL;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  for (int i = 0; i < 12; i++) {
    char rid[16];
    snprintf(rid, sizeof rid, "R-%d", i);
    cx_record r;
    cx_record_defaults(&r);
    r.record_id = cx_str_c(rid);
    r.authority_code = cx_str_c(auth);
    r.entity_code = cx_str_c(ent);
    r.entity_name = CX_STR("福州内存测试有限公司");
    r.category = i % 2 ? CX_CAT_BLACKLIST : CX_CAT_PENALTY;
    if (i % 2) r.list_type = CX_STR("court_dishonest");
    cx_day_from_ymd(2023, 1 + i, 1, &r.decision_date);
    const char *why = NULL;
    cr_assert_eq(cx_batch_put(b, &r, &why), 0, "%s", why ? why : "");
  }
  cr_assert_eq(cx_batch_commit(b, NULL), 0);
  cx_store_close(st);
  cx_store_opts so = {0};
  so.max_readers = 126;
  cr_assert_eq(cx_store_open(db, &so, &st), 0);
  cx_exec_limits_default(&env.lim);
  env.st = st;
  cr_assert_eq(cx_query_new(st, &q), 0);
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cx_store_txn_reset(t);
  cr_assert_eq(cx_buf_init(&out, 256), 0);
  cr_assert_eq(cx_buf_init(&details, 64), 0);
  cx_day d;
  cx_day_from_ymd(2024, 6, 1, &d);
  cx_day_set_today(d);
  /* one check-log entry for feedback and aggregate {of: checks} */
  cx_check_entry ce;
  memset(&ce, 0, sizeof ce);
  ce.receipt = (1ull << 40) | 1;
  ce.time_ms = cx_audit_now_ms();
  ce.day = d;
  ce.who = CX_STR("gate");
  ce.fb_who = ce.note = CX_STR("");
  ce.region = 350100;
  memcpy(ce.code, ent, CX_CODE_LEN);
  cr_assert_eq(cx_store_checks_append(st, &ce, 1), 0);
  cx_query_receipt_format(q, ce.receipt, receipt);
}

static void teardown(void) {
  cx_alloc_fail_at(0, 0);
  cx_day_set_today(0);
  cx_store_txn_end(t);
  cx_query_free(q);
  cx_store_close(st);
  cx_buf_free(&out);
  cx_buf_free(&details);
  cx_test_rmrf(dir);
}
TestSuite(oom_ops, .init = setup, .fini = teardown, .timeout = 300);

/* One request: packed by fn into a payload, decoded, executed as `role`. Returns the
 * response's error code; asserts that the response is exactly one well-formed frame. */
typedef void (*pack_fn)(msgpack_packer *pk);
static int run(const char *op, pack_fn fn, uint32_t n_args, int role, char *code, size_t cap) {
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, 2 + n_args);
  msgpack_pack_str_with_body(&pk, "id", 2);
  msgpack_pack_uint32(&pk, 7);
  msgpack_pack_str_with_body(&pk, "op", 2);
  msgpack_pack_str_with_body(&pk, op, strlen(op));
  if (fn) fn(&pk);
  cx_req rq;
  char msg[256];
  cr_assert_eq(cx_exec_decode(&rq, sb.data, sb.size, msg, sizeof msg), 0, "%s", msg);
  int live = 0;
  out.len = 0;
  details.len = 0;
  cx_exec_ctx x;
  memset(&x, 0, sizeof x);
  x.env = &env;
  x.q = q;
  x.txn = t;
  x.txn_live = &live;
  x.hits = hits;
  x.hits_cap = 64;
  x.role = role;
  x.token = -1;
  x.out = &out;
  x.details = &details;
  int rc = cx_exec_run(&x, &rq);
  if (live) cx_store_txn_reset(t);
  if (out.failed) { /* no frame at all: the loop closes the connection */
    cr_assert_eq(out.len, 0);
    cx_buf_clear_failure(&out);
  } else {
    const unsigned char *pl;
    size_t plen, need;
    long got = cx_frame_parse(out.p, out.len, (size_t)1 << 30, &pl, &plen, &need);
    cr_assert(got > 0 && (size_t)got == out.len, "%s: not one whole frame", op);
    cr_assert_eq(cx_mp_validate(pl, plen), 0, "%s: a frame with a hole", op);
  }
  if (code) snprintf(code, cap, "%s", rc ? cx_err_name(rc) : "ok");
  msgpack_sbuffer_destroy(&sb);
  return rc;
}

static void p_code(msgpack_packer *pk) {
  msgpack_pack_str_with_body(pk, "code", 4);
  msgpack_pack_str_with_body(pk, ent, 18);
}
static void p_records(msgpack_packer *pk) {
  p_code(pk);
  msgpack_pack_str_with_body(pk, "limit", 5);
  msgpack_pack_uint32(pk, 3);
}
static void p_check(msgpack_packer *pk) {
  msgpack_pack_str_with_body(pk, "codes", 5);
  msgpack_pack_array(pk, 3);
  msgpack_pack_str_with_body(pk, ent, 18);
  msgpack_pack_str_with_body(pk, ent, 18);
  msgpack_pack_str_with_body(pk, "bad", 3);
  msgpack_pack_str_with_body(pk, "action", 6);
  msgpack_pack_str_with_body(pk, "procurement", 11);
}
static void p_search(msgpack_packer *pk) {
  msgpack_pack_str_with_body(pk, "prefix", 6);
  msgpack_pack_str_with_body(pk, "福州", strlen("福州"));
}
static void p_agg(msgpack_packer *pk) {
  msgpack_pack_str_with_body(pk, "by", 2);
  msgpack_pack_array(pk, 2);
  msgpack_pack_str_with_body(pk, "month", 5);
  msgpack_pack_str_with_body(pk, "category", 8);
}
static void p_agg_checks(msgpack_packer *pk) {
  msgpack_pack_str_with_body(pk, "of", 2);
  msgpack_pack_str_with_body(pk, "checks", 6);
  msgpack_pack_str_with_body(pk, "by", 2);
  msgpack_pack_array(pk, 2);
  msgpack_pack_str_with_body(pk, "action", 6);
  msgpack_pack_str_with_body(pk, "city", 4);
}
static void p_feedback(msgpack_packer *pk) {
  msgpack_pack_str_with_body(pk, "receipt", 7);
  msgpack_pack_str_with_body(pk, receipt, CX_RECEIPT_LEN);
  msgpack_pack_str_with_body(pk, "outcome", 7);
  msgpack_pack_str_with_body(pk, "restricted", 10);
  msgpack_pack_str_with_body(pk, "note", 4);
  msgpack_pack_str_with_body(pk, "内存测试", strlen("内存测试"));
}
static void p_load(msgpack_packer *pk) {
  msgpack_pack_str_with_body(pk, "name", 4);
  msgpack_pack_str_with_body(pk, "scorecard", 9);
  msgpack_pack_str_with_body(pk, "text", 4);
  msgpack_pack_str_with_body(pk, cx_data_scorecard, cx_data_scorecard_len);
}
static int ingest_k;
static void p_ingest(msgpack_packer *pk) {
  msgpack_pack_str_with_body(pk, "records", 7);
  msgpack_pack_array(pk, 3);
  for (int i = 0; i < 3; i++) {
    char rid[24];
    int n = snprintf(rid, sizeof rid, "IN-%d-%d", ingest_k, i);
    msgpack_pack_map(pk, 6);
    msgpack_pack_str_with_body(pk, "entity_code", 11);
    msgpack_pack_str_with_body(pk, ent, 18);
    msgpack_pack_str_with_body(pk, "entity_name", 11);
    msgpack_pack_str_with_body(pk, "福州内存测试有限公司", strlen("福州内存测试有限公司"));
    msgpack_pack_str_with_body(pk, "record_id", 9);
    msgpack_pack_str_with_body(pk, rid, (size_t)n);
    msgpack_pack_str_with_body(pk, "authority_code", 14);
    msgpack_pack_str_with_body(pk, auth, 18);
    msgpack_pack_str_with_body(pk, "category", 8);
    msgpack_pack_str_with_body(pk, "penalty", 7);
    msgpack_pack_str_with_body(pk, "decision_date", 13);
    msgpack_pack_str_with_body(pk, "2024-01-02", 10);
  }
}
static const char *status_rid = "R-1";
static void p_status(msgpack_packer *pk) {
  msgpack_pack_str_with_body(pk, "authority", 9);
  msgpack_pack_str_with_body(pk, auth, 18);
  msgpack_pack_str_with_body(pk, "record_id", 9);
  msgpack_pack_str_with_body(pk, status_rid, strlen(status_rid));
  msgpack_pack_str_with_body(pk, "reason", 6);
  msgpack_pack_str_with_body(pk, "内存测试", strlen("内存测试"));
}

static uint64_t records_now(void) {
  cx_store_info in;
  cr_assert_eq(cx_store_info_get(st, &in), 0);
  return in.records;
}

/* Every N until the op succeeds; a failed write changes nothing. */
static void every_n(const char *op, pack_fn fn, uint32_t n_args, int role, int writes) {
  char code[32];
  for (long n = 1; n < 100000; n++) {
    uint64_t before = writes ? records_now() : 0;
    cx_alloc_fail_at(n, 0);
    int rc = run(op, fn, n_args, role, code, sizeof code);
    long failed = cx_alloc_failures();
    cx_alloc_fail_at(0, 0);
    if (!failed) {
      cr_assert_eq(rc, 0, "%s: no failure injected, yet %s", op, code);
      cr_log_info("%s: %ld allocations", op, n - 1);
      return;
    }
    if (rc == 0) continue; /* an allocation it could do without */
    cr_assert(strcmp(code, "internal") == 0 || strcmp(code, "busy") == 0, "%s: allocation %ld: %s", op, n, code);
    if (writes) cr_assert_eq(records_now(), before, "%s: a failed write changed the store", op);
  }
  cr_assert_fail("%s: never succeeded", op);
}

Test(oom_ops, every_read_op_answers_whole_at_every_failed_allocation) {
  every_n("ping", NULL, 0, CX_ROLE_PUBLIC, 0);
  every_n("entity", p_code, 1, CX_ROLE_PUBLIC, 0);
  every_n("entity", p_code, 1, CX_ROLE_ADMIN, 0);
  every_n("records", p_records, 2, CX_ROLE_PUBLIC, 0);
  every_n("records", p_records, 2, CX_ROLE_ANALYST, 0);
  every_n("check", p_check, 2, CX_ROLE_APPROVAL, 0);
  every_n("search", p_search, 1, CX_ROLE_ANALYST, 0);
  every_n("aggregate", p_agg, 1, CX_ROLE_ANALYST, 0);
  every_n("aggregate", p_agg_checks, 2, CX_ROLE_ANALYST, 0);
  every_n("stats", NULL, 0, CX_ROLE_ADMIN, 0);
  every_n("catalog", NULL, 0, CX_ROLE_PUBLIC, 0);
  cr_assert_not(cx_test_leaks(), "memory leaked (LeakSanitizer's report above)");
}

Test(oom_ops, every_write_op_lands_whole_or_not_at_all_at_every_failed_allocation) {
  ingest_k = 1;
  every_n("ingest", p_ingest, 1, CX_ROLE_ADMIN, 1);
  status_rid = "R-2";
  every_n("objection", p_status, 3, CX_ROLE_ADMIN, 1);
  status_rid = "R-3";
  every_n("repair", p_status, 3, CX_ROLE_ADMIN, 1);
  every_n("reinstate", p_status, 3, CX_ROLE_ADMIN, 1);
  status_rid = "R-4";
  every_n("revoke", p_status, 3, CX_ROLE_ADMIN, 1);
  every_n("feedback", p_feedback, 3, CX_ROLE_ADMIN, 1);
  every_n("load", p_load, 2, CX_ROLE_ADMIN, 1);
  cx_txn *ft;
  cx_check_entry fe;
  cr_assert_eq(cx_store_txn_begin(st, &ft), 0);
  cr_assert_eq(cx_store_check_get(ft, (1ull << 40) | 1, &fe), 0);
  cr_assert_eq(fe.outcome, CX_OUT_RESTRICTED, "the feedback landed once it succeeded");
  cx_store_txn_end(ft);
  cr_assert_not(cx_test_leaks(), "memory leaked (LeakSanitizer's report above)");
}
