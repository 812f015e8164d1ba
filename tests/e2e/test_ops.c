/* End-to-end: every op against the real chengxind over a store written through store.h. */
#include "e2e.h"

TestSuite(ops, .init = e2e_setup, .fini = e2e_teardown, .timeout = 60);

Test(ops, ping_answers_pong) {
  cx_client *c = e2e_connect();
  cx_client_resp r = e2e_call(c, "ping", NULL);
  assert_ok(&r);
  cr_assert_eq(r.id, 1);
  const msgpack_object *pong = cx_mpo_get(r.result, "pong");
  cr_assert(pong && pong->type == MSGPACK_OBJECT_BOOLEAN && pong->via.boolean);
  cx_client_close(c);
}

Test(ops, auth_switches_role_and_bad_token_is_forbidden) {
  cx_client *c = e2e_connect();
  char role[32];
  cr_assert_eq(cx_client_auth(c, TOK_ANALYST, role, sizeof role), 0);
  cr_assert_str_eq(role, "analyst");
  cr_assert_eq(cx_client_auth(c, "nope", role, sizeof role), CX_EFORBIDDEN);
  /* role kept after a failed auth */
  cx_client_resp r = e2e_call(c, "stats", NULL);
  assert_ok(&r);
  cr_assert_eq(cx_client_auth(c, TOK_ADMIN, role, sizeof role), 0);
  cr_assert_str_eq(role, "admin");
  cx_client_close(c);
}

Test(ops, check_gives_deny_review_clear_not_found_invalid) {
  cx_client *c = e2e_connect_as(TOK_APPROVAL);
  char black[19], red[19], rev[19], plain[19], missing[19];
  e2e_code("91", E2E_BLACK, black);
  e2e_code("91", E2E_RED, red);
  e2e_code("91", E2E_REVIEW, rev);
  e2e_code("91", 100, plain);
  e2e_code("91", 777777, missing);
  const char *codes[] = {black, red, rev, plain, missing, "91350100M000100Y4X", "short"};
  check_args a = {codes, 7, "license"};
  cx_client_resp r;
  cr_assert_eq(cx_client_call(c, "check", 3, pack_check, &a, &r), 0);
  assert_ok(&r);
  const msgpack_object *res = cx_mpo_get(r.result, "results");
  cr_assert(res && res->type == MSGPACK_OBJECT_ARRAY && res->via.array.size == 7);
  const msgpack_object *v = res->via.array.ptr;
  /* court_dishonest carries review_license */
  cr_assert(cx_mpo_str_eq(cx_mpo_get(&v[0], "verdict"), "review"));
  const msgpack_object *hits = cx_mpo_get(&v[0], "hits");
  cr_assert(hits && hits->type == MSGPACK_OBJECT_ARRAY && hits->via.array.size >= 1);
  cr_assert(cx_mpo_str_eq(cx_mpo_get(&hits->via.array.ptr[0], "record_id"), "BL-1"));
  cr_assert(cx_mpo_str_eq(cx_mpo_get(&hits->via.array.ptr[0], "list_type"), "court_dishonest"));
  cr_assert(cx_mpo_str_eq(cx_mpo_get(&hits->via.array.ptr[0], "valid_from"), "2024-01-10"));
  /* red list: clear with incentives */
  cr_assert(cx_mpo_str_eq(cx_mpo_get(&v[1], "verdict"), "clear"));
  const msgpack_object *inc = cx_mpo_get(&v[1], "incentives");
  cr_assert(inc && inc->type == MSGPACK_OBJECT_ARRAY && inc->via.array.size >= 1);
  cr_assert(cx_mpo_str_eq(cx_mpo_get(&inc->via.array.ptr[0], "effect"), "incentive"));
  cr_assert(cx_mpo_str_eq(cx_mpo_get(&v[2], "verdict"), "review"));
  cr_assert(cx_mpo_str_eq(cx_mpo_get(&v[3], "verdict"), "clear"));
  cr_assert(cx_mpo_str_eq(cx_mpo_get(&v[4], "verdict"), "not_found"));
  cr_assert(cx_mpo_str_eq(cx_mpo_get(&v[5], "verdict"), "invalid_code"));
  cr_assert(cx_mpo_str_eq(cx_mpo_get(&v[6], "verdict"), "invalid_code"));
  cr_assert(cx_mpo_get(&v[6], "reason") != NULL);

  const char *one[] = {black};
  check_args d = {one, 1, "procurement"};
  cr_assert_eq(cx_client_call(c, "check", 3, pack_check, &d, &r), 0);
  res = cx_mpo_get(r.result, "results");
  cr_assert(cx_mpo_str_eq(cx_mpo_get(&res->via.array.ptr[0], "verdict"), "deny"));
  hits = cx_mpo_get(&res->via.array.ptr[0], "hits");
  cr_assert(cx_mpo_str_eq(cx_mpo_get(&hits->via.array.ptr[0], "effect"), "deny"));
  cr_assert(cx_mpo_str_eq(cx_mpo_get(&hits->via.array.ptr[0], "measure"), "no_procurement"));

  check_args bad = {one, 1, "flying"};
  cr_assert_eq(cx_client_call(c, "check", 3, pack_check, &bad, &r), 0);
  assert_err(&r, "bad_request");
  cx_client_close(c);
}

static int pack_many_codes(msgpack_packer *pk, void *ctx) {
  uint32_t n = *(uint32_t *)ctx;
  PK_S(pk, "codes");
  msgpack_pack_array(pk, n);
  for (uint32_t i = 0; i < n; i++) PK_S(pk, "91350100M000100Y43");
  PK_S(pk, "action");
  PK_S(pk, "procurement");
  return 0;
}

Test(ops, check_takes_1000_codes_and_refuses_1001) {
  cx_client *c = e2e_connect_as(TOK_APPROVAL);
  uint32_t n = 1000;
  cx_client_resp r;
  cr_assert_eq(cx_client_call(c, "check", 2, pack_many_codes, &n, &r), 0);
  assert_ok(&r);
  cr_assert_eq(cx_mpo_get(r.result, "results")->via.array.size, 1000);
  n = 1001;
  cr_assert_eq(cx_client_call(c, "check", 2, pack_many_codes, &n, &r), 0);
  assert_err(&r, "too_large");
  cx_client_close(c);
}

static int pack_repeated_black(msgpack_packer *pk, void *ctx) {
  const char *code = ctx;
  PK_S(pk, "codes");
  msgpack_pack_array(pk, 1000);
  for (uint32_t i = 0; i < 1000; i++) PK_S(pk, i % 2 ? code : " 91350100m000100y43 ");
  PK_S(pk, "action");
  PK_S(pk, "procurement");
  return 0;
}

Test(ops, a_check_listing_one_code_1000_times_answers_it_once) {
  /* Before: each copy carried its hits again (a 19 KB request, a 13.9 MB answer built on the
   * loop). Now a repeat says "same_as" the first occurrence, with the same verdict. */
  cx_client *c = e2e_connect_as(TOK_APPROVAL);
  char black[19];
  e2e_code("91", E2E_BLACK, black);
  cx_client_resp r;
  cr_assert_eq(cx_client_call(c, "check", 2, pack_repeated_black, black, &r), 0);
  assert_ok(&r);
  const msgpack_object *res = cx_mpo_get(r.result, "results");
  cr_assert_eq(res->via.array.size, 1000);
  cr_assert(cx_mpo_str_eq(cx_mpo_get(&res->via.array.ptr[1], "verdict"), "deny"));
  cr_assert_eq(cx_mpo_get(&res->via.array.ptr[1], "hits")->via.array.size, 1);
  cr_assert(cx_mpo_get(&res->via.array.ptr[1], "same_as") == NULL);
  for (uint32_t i = 2; i < 1000; i++) {
    const msgpack_object *x = &res->via.array.ptr[i];
    cr_assert_eq(cx_mpo_int(cx_mpo_get(x, "same_as"), -1), i % 2 ? 1 : 0, "result %u", i);
    cr_assert(cx_mpo_str_eq(cx_mpo_get(x, "verdict"), i % 2 ? "deny" : "not_found"));
    cr_assert(cx_mpo_get(x, "hits") == NULL);
  }
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_object(&pk, *r.root);
  cr_assert_lt(sb.size, 64u * 1024u, "answer of %zu bytes", sb.size);
  msgpack_sbuffer_destroy(&sb);
  cx_client_close(c);
}

Test(ops, entity_status_and_errors) {
  cx_client *c = e2e_connect();
  char black[19], missing[19];
  e2e_code("91", E2E_BLACK, black);
  e2e_code("91", 777777, missing);
  const char *kv[] = {"code", black, "as_of", E2E_TODAY, NULL};
  cx_client_resp r = e2e_call(c, "entity", kv);
  assert_ok(&r);
  cr_assert(cx_mpo_str_eq(cx_mpo_get(r.result, "as_of"), E2E_TODAY));
  cr_assert(cx_mpo_str_eq(cx_mpo_get(r.result, "code"), black));
  cr_assert(cx_mpo_str_eq(cx_mpo_get(r.result, "name"), "黑名单测试有限公司"));
  cr_assert(cx_mpo_str_eq(cx_mpo_get(r.result, "kind"), "enterprise"));
  const msgpack_object *fl = cx_mpo_get(r.result, "flags");
  cr_assert(fl && fl->type == MSGPACK_OBJECT_ARRAY);
  /* the public sees today only: another day is a bad request, and says so */
  r = e2e_call(c, "entity", (const char *[]){"code", black, "as_of", "2025-01-01", NULL});
  assert_err(&r, "bad_request");
  cr_assert(e2e_resp_has(&r, "today"));
  const char *kv2[] = {"code", missing, NULL};
  r = e2e_call(c, "entity", kv2);
  assert_err(&r, "not_found");
  const char *kv3[] = {"code", "91350100M000100Y4X", NULL};
  r = e2e_call(c, "entity", kv3);
  assert_err(&r, "invalid_code");
  const char *kv4[] = {"code", black, "as_of", "2025-13-01", NULL};
  r = e2e_call(c, "entity", kv4);
  assert_err(&r, "bad_request");
  r = e2e_call(c, "entity", NULL);
  assert_err(&r, "bad_request");
  cx_client_close(c);
}

static int pack_records(msgpack_packer *pk, void *ctx) {
  const char *const *a = ctx; /* code, cursor (may be NULL) */
  PK_S(pk, "code");
  PK_S(pk, a[0]);
  PK_S(pk, "limit");
  msgpack_pack_uint8(pk, 1);
  PK_S(pk, "as_of");
  PK_S(pk, "2024-06-01");
  PK_S(pk, "cursor");
  if (a[1]) PK_S(pk, a[1]);
  else msgpack_pack_nil(pk);
  return 0;
}

Test(ops, records_pages_with_a_cursor) {
  /* an entity with two records: add one through ingest first */
  cx_client *c = e2e_connect_as(TOK_ADMIN);
  char code[19], auth[19];
  e2e_code("91", 100, code);
  e2e_code("11", E2E_AUTH_N, auth);
  const char *a[2] = {code, NULL};
  cx_client_resp r;
  cr_assert_eq(cx_client_call(c, "records", 4, pack_records, a, &r), 0);
  assert_ok(&r);
  const msgpack_object *recs = cx_mpo_get(r.result, "records");
  cr_assert(recs && recs->type == MSGPACK_OBJECT_ARRAY);
  cr_assert_eq(recs->via.array.size, 1);
  cr_assert(cx_mpo_str_eq(cx_mpo_get(&recs->via.array.ptr[0], "record_id"), "PN-0"));
  cr_assert(cx_mpo_str_eq(cx_mpo_get(&recs->via.array.ptr[0], "authority_code"), auth));
  cr_assert(cx_mpo_str_eq(cx_mpo_get(&recs->via.array.ptr[0], "category"), "penalty"));
  const msgpack_object *next = cx_mpo_get(r.result, "next");
  cr_assert(next && next->type == MSGPACK_OBJECT_NIL, "one record: no next page");
  const char *b[2] = {code, "garbage-cursor"};
  cr_assert_eq(cx_client_call(c, "records", 4, pack_records, b, &r), 0);
  assert_err(&r, "bad_request");
  cx_client_close(c);
}

Test(ops, search_by_name_prefix_and_code_prefix) {
  cx_client *c = e2e_connect();
  const char *kv[] = {"prefix", "普通测试0", NULL};
  cx_client_resp r = e2e_call(c, "search", kv);
  assert_ok(&r);
  const msgpack_object *res = cx_mpo_get(r.result, "results");
  cr_assert(res && res->type == MSGPACK_OBJECT_ARRAY);
  cr_assert_eq(res->via.array.size, 10, "普通测试00..09, got %u", res->via.array.size);
  const char *kv2[] = {"prefix", "91350100", NULL};
  r = e2e_call(c, "search", kv2);
  assert_ok(&r);
  cr_assert_eq(cx_mpo_get(r.result, "results")->via.array.size, 20, "default limit 20");
  const char *kv3[] = {"prefix", "", NULL};
  r = e2e_call(c, "search", kv3);
  assert_err(&r, "bad_request");
  cx_client_close(c);
}

static int pack_agg(msgpack_packer *pk, void *ctx) {
  (void)ctx;
  PK_S(pk, "by");
  msgpack_pack_array(pk, 2);
  PK_S(pk, "category");
  PK_S(pk, "month");
  PK_S(pk, "where");
  msgpack_pack_map(pk, 1);
  PK_S(pk, "category");
  msgpack_pack_array(pk, 1);
  PK_S(pk, "penalty");
  PK_S(pk, "metrics");
  msgpack_pack_array(pk, 2);
  PK_S(pk, "count");
  PK_S(pk, "amount");
  PK_S(pk, "order");
  PK_S(pk, "month");
  return 0;
}

Test(ops, aggregate_groups_and_filters) {
  cx_client *c = e2e_connect_as(TOK_ANALYST);
  cx_client_resp r;
  cr_assert_eq(cx_client_call(c, "aggregate", 4, pack_agg, NULL, &r), 0);
  assert_ok(&r);
  const msgpack_object *cols = cx_mpo_get(r.result, "columns");
  cr_assert_eq(cols->via.array.size, 4);
  const msgpack_object *rows = cx_mpo_get(r.result, "rows");
  cr_assert(rows && rows->type == MSGPACK_OBJECT_ARRAY);
  /* penalties: RV-1 (2024-03), 20 in 2024-04, 20 in 2024-05 */
  cr_assert_eq(rows->via.array.size, 3);
  int64_t total = 0;
  for (uint32_t i = 0; i < rows->via.array.size; i++) {
    const msgpack_object *row = &rows->via.array.ptr[i];
    cr_assert_eq(row->via.array.size, 4);
    cr_assert(cx_mpo_str_eq(&row->via.array.ptr[0], "penalty"));
    total += cx_mpo_int(&row->via.array.ptr[2], -1);
  }
  cr_assert_eq(total, 41);
  const char *kv[] = {"by", "nonsense", NULL};
  r = e2e_call(c, "aggregate", kv);
  assert_err(&r, "bad_request");
  cx_client_close(c);
}

Test(ops, stats_counts_requests_and_store) {
  cx_client *c = e2e_connect_as(TOK_ANALYST);
  for (int i = 0; i < 5; i++) e2e_call(c, "ping", NULL);
  cx_client_resp r = e2e_call(c, "stats", NULL);
  assert_ok(&r);
  const msgpack_object *ops = cx_mpo_get(r.result, "ops");
  const msgpack_object *ping = cx_mpo_get(ops, "ping");
  cr_assert(ping);
  cr_assert_eq(cx_mpo_int(cx_mpo_get(ping, "requests"), 0), 5);
  cr_assert(cx_mpo_get(ping, "p99_us") != NULL);
  const msgpack_object *conns = cx_mpo_get(r.result, "connections");
  cr_assert(cx_mpo_int(cx_mpo_get(conns, "current"), 0) >= 1);
  const msgpack_object *st = cx_mpo_get(r.result, "store");
  cr_assert_eq(cx_mpo_int(cx_mpo_get(st, "records"), 0), 43);
  cx_client_close(c);
}

typedef struct ingest_args {
  int bad;  /* index of a bad record, -1 none */
  int n;
} ingest_args;

static int pack_ingest(msgpack_packer *pk, void *ctx) {
  const ingest_args *a = ctx;
  char code[19], auth[19];
  e2e_code("11", E2E_AUTH_N, auth);
  PK_S(pk, "records");
  msgpack_pack_array(pk, (size_t)a->n);
  for (int i = 0; i < a->n; i++) {
    char rid[32];
    e2e_code("91", 5000 + (unsigned)i, code);
    snprintf(rid, sizeof rid, "IN-%d", i);
    msgpack_pack_map(pk, 8);
    PK_S(pk, "entity_code"); PK_S(pk, i == a->bad ? "91350100M000100Y4X" : code);
    PK_S(pk, "entity_name"); PK_S(pk, "接口导入测试公司");
    PK_S(pk, "record_id"); PK_S(pk, rid);
    PK_S(pk, "authority_code"); PK_S(pk, auth);
    PK_S(pk, "category"); PK_S(pk, i == a->bad + 1 && a->bad >= 0 ? "bogus" : "blacklist");
    PK_S(pk, "list_type"); PK_S(pk, "procurement_serious");
    PK_S(pk, "decision_date"); PK_S(pk, "2024-06-01");
    PK_S(pk, "amount_fen"); msgpack_pack_int64(pk, 500);
  }
  return 0;
}

Test(ops, ingest_is_all_or_nothing_then_lands) {
  cx_client *c = e2e_connect_as(TOK_SUBMITTER);
  ingest_args bad = {1, 4};
  cx_client_resp r;
  cr_assert_eq(cx_client_call(c, "ingest", 1, pack_ingest, &bad, &r), 0);
  assert_err(&r, "bad_request");
  const msgpack_object *det = cx_mpo_get(r.error, "details");
  cr_assert(det && det->type == MSGPACK_OBJECT_ARRAY);
  cr_assert_eq(det->via.array.size, 2);
  cr_assert_eq(cx_mpo_int(cx_mpo_get(&det->via.array.ptr[0], "index"), -1), 1);
  cr_assert_eq(cx_mpo_int(cx_mpo_get(&det->via.array.ptr[1], "index"), -1), 2);
  /* nothing landed */
  char code0[19];
  e2e_code("91", 5000, code0);
  const char *kv[] = {"code", code0, NULL};
  r = e2e_call(c, "entity", kv);
  assert_err(&r, "not_found");
  ingest_args good = {-1, 4};
  cr_assert_eq(cx_client_call(c, "ingest", 1, pack_ingest, &good, &r), 0);
  assert_ok(&r);
  cr_assert_eq(cx_mpo_int(cx_mpo_get(r.result, "inserted"), -1), 4);
  r = e2e_call(c, "entity", kv);
  assert_ok(&r);
  cx_client_close(c);
  /* an approval client now sees the new blacklist entry */
  cx_client *a = e2e_connect_as(TOK_APPROVAL);
  const char *codes[] = {code0};
  check_args ca = {codes, 1, "procurement"};
  cr_assert_eq(cx_client_call(a, "check", 3, pack_check, &ca, &r), 0);
  assert_ok(&r);
  cr_assert(cx_mpo_str_eq(cx_mpo_get(&cx_mpo_get(r.result, "results")->via.array.ptr[0], "verdict"), "deny"));
  cx_client_close(a);
}

static int pack_override(msgpack_packer *pk, void *ctx) {
  PK_S(pk, "authority"); PK_S(pk, (const char *)ctx);
  PK_S(pk, "record_id"); PK_S(pk, "BL-1");
  PK_S(pk, "reason"); PK_S(pk, "法院裁定撤销执行");
  PK_S(pk, "override"); msgpack_pack_true(pk);
  return 0;
}

Test(ops, repair_lifts_the_measures_and_unknown_record_is_not_found) {
  char auth[19], black[19];
  e2e_code("11", E2E_AUTH_N, auth);
  e2e_code("91", E2E_BLACK, black);
  cx_client *c = e2e_connect_as(TOK_ADMIN);
  const char *kv[] = {"authority", auth, "record_id", "BL-1", "reason", "信用修复申请已通过", NULL};
  cx_client_resp r = e2e_call(c, "objection", kv);
  assert_ok(&r);
  /* inside the serious entry's minimum year (decided 2024-01-10; today 2024-07-01): refused */
  r = e2e_call(c, "repair", kv);
  assert_err(&r, "bad_request");
  cr_assert(e2e_resp_has(&r, "not before 2025-01-10"));
  /* admin may override, with the reason; audited with the transition */
  cr_assert_eq(cx_client_call(c, "repair", 4, pack_override, auth, &r), 0);
  assert_ok(&r);
  cr_assert(cx_mpo_str_eq(cx_mpo_get(r.result, "status"), "repaired"));
  const char *codes[] = {black};
  check_args ca = {codes, 1, "procurement"};
  cr_assert_eq(cx_client_call(c, "check", 3, pack_check, &ca, &r), 0);
  assert_ok(&r);
  cr_assert(cx_mpo_str_eq(cx_mpo_get(&cx_mpo_get(r.result, "results")->via.array.ptr[0], "verdict"), "clear"));
  const char *kv2[] = {"authority", auth, "record_id", "NOPE-1", "reason", "x", NULL};
  r = e2e_call(c, "revoke", kv2);
  assert_err(&r, "not_found");
  const char *kv3[] = {"authority", auth, "record_id", "PN-3", NULL};
  r = e2e_call(c, "revoke", kv3);
  assert_err(&r, "bad_request");
  r = e2e_call(c, "revoke", (const char *[]){"authority", auth, "record_id", "PN-3", "reason", "撤销", NULL});
  assert_ok(&r);
  cx_client_close(c);
  /* no tokens in the server's log; the three changes are in the store's audit log (the
   * entries themselves are tested in test_audit.c) */
  FILE *f = fopen(g_srv.log, "r");
  char line[2048];
  while (fgets(line, sizeof line, f)) cr_assert(strstr(line, "tok-") == NULL, "token in log: %s", line);
  fclose(f);
  cx_store_opts o = {0};
  o.read_only = 1;
  cx_store *st = NULL;
  cr_assert_eq(cx_store_open(g_srv.db, &o, &st), 0);
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  uint64_t last = 0;
  cr_assert_eq(cx_store_audit_last(t, &last), 0);
  cr_assert_eq(last, 3, "%llu audit entries", (unsigned long long)last);
  cx_store_txn_end(t);
  cx_store_close(st);
}

static int pack_three_more(msgpack_packer *pk, void *ctx) {
  (void)ctx;
  char code[19], auth[19];
  e2e_code("91", 100, code);
  e2e_code("11", E2E_AUTH_N, auth);
  PK_S(pk, "records");
  msgpack_pack_array(pk, 3);
  for (int i = 0; i < 3; i++) {
    char rid[32], day[32];
    snprintf(rid, sizeof rid, "MORE-%d", i);
    snprintf(day, sizeof day, "2023-0%d-01", i + 1);
    msgpack_pack_map(pk, 7);
    PK_S(pk, "entity_code"); PK_S(pk, code);
    PK_S(pk, "entity_name"); PK_S(pk, "普通测试00有限公司");
    PK_S(pk, "record_id"); PK_S(pk, rid);
    PK_S(pk, "authority_code"); PK_S(pk, auth);
    PK_S(pk, "category"); PK_S(pk, "license");
    PK_S(pk, "decision_date"); PK_S(pk, day);
    PK_S(pk, "objection"); msgpack_pack_false(pk);
  }
  return 0;
}

Test(ops, records_page_through_every_record_once) {
  cx_client *c = e2e_connect_as(TOK_ADMIN);
  cx_client_resp r;
  cr_assert_eq(cx_client_call(c, "ingest", 1, pack_three_more, NULL, &r), 0);
  assert_ok(&r);
  char code[19], cursor[64] = "";
  e2e_code("91", 100, code);
  const char *want[] = {"PN-0", "MORE-2", "MORE-1", "MORE-0"};
  for (int page = 0; page < 4; page++) {
    const char *a[2] = {code, page ? cursor : NULL};
    cr_assert_eq(cx_client_call(c, "records", 4, pack_records, a, &r), 0);
    assert_ok(&r);
    const msgpack_object *recs = cx_mpo_get(r.result, "records");
    cr_assert_eq(recs->via.array.size, 1);
    cr_assert(cx_mpo_str_eq(cx_mpo_get(&recs->via.array.ptr[0], "record_id"), want[page]),
              "page %d", page);
    const msgpack_object *next = cx_mpo_get(r.result, "next");
    if (page < 3) {
      cr_assert(next && next->type == MSGPACK_OBJECT_STR, "page %d has a next cursor", page);
      cx_mpo_str(next, cursor, sizeof cursor);
    } else {
      cr_assert(next && next->type == MSGPACK_OBJECT_NIL, "last page");
    }
  }
  cx_client_close(c);
}

static int pack_bad_shapes(msgpack_packer *pk, void *ctx) {
  int which = *(int *)ctx;
  PK_S(pk, "records");
  if (which == 0) {
    PK_S(pk, "not an array");
  } else {
    msgpack_pack_array(pk, 2);
    msgpack_pack_uint8(pk, 7); /* not a map */
    msgpack_pack_map(pk, 1);
    PK_S(pk, "entity_code");
    msgpack_pack_double(pk, 1.5); /* unsupported value type */
  }
  return 0;
}

static int pack_too_many(msgpack_packer *pk, void *ctx) {
  (void)ctx;
  PK_S(pk, "records");
  msgpack_pack_array(pk, 10001);
  for (int i = 0; i < 10001; i++) msgpack_pack_nil(pk);
  return 0;
}

Test(ops, ingest_rejects_bad_shapes_and_too_many_records) {
  cx_client *c = e2e_connect_as(TOK_SUBMITTER);
  cx_client_resp r;
  int which = 0;
  cr_assert_eq(cx_client_call(c, "ingest", 1, pack_bad_shapes, &which, &r), 0);
  assert_err(&r, "bad_request");
  which = 1;
  cr_assert_eq(cx_client_call(c, "ingest", 1, pack_bad_shapes, &which, &r), 0);
  assert_err(&r, "bad_request");
  const msgpack_object *det = cx_mpo_get(r.error, "details");
  cr_assert(det && det->via.array.size == 2);
  cr_assert_eq(cx_mpo_int(cx_mpo_get(&det->via.array.ptr[1], "index"), -1), 1);
  cr_assert_eq(cx_client_call(c, "ingest", 1, pack_too_many, NULL, &r), 0);
  assert_err(&r, "too_large");
  r = e2e_call(c, "ping", NULL);
  assert_ok(&r);
  cx_client_close(c);
}

static int pack_person(msgpack_packer *pk, void *ctx) {
  const char *cat = ctx;
  char auth[19];
  e2e_code("11", E2E_AUTH_N, auth);
  PK_S(pk, "records");
  msgpack_pack_array(pk, 1);
  msgpack_pack_map(pk, 7);
  PK_S(pk, "entity_code"); PK_S(pk, "11010519491231002X");
  PK_S(pk, "entity_name"); PK_S(pk, "张三");
  PK_S(pk, "record_id"); PK_S(pk, cat);
  PK_S(pk, "authority_code"); PK_S(pk, auth);
  PK_S(pk, "category"); PK_S(pk, cat);
  PK_S(pk, "severity"); PK_S(pk, "serious");
  PK_S(pk, "decision_date"); PK_S(pk, "2024-06-01");
  return 0;
}

Test(ops, the_public_never_receives_a_full_id_number) {
  const char *id = "11010519491231002X";
  cx_client *a = e2e_connect_as(TOK_ADMIN);
  cx_client_resp r;
  cr_assert_eq(cx_client_call(a, "ingest", 1, pack_person, (void *)"penalty", &r), 0);
  assert_ok(&r);
  cr_assert_eq(cx_client_call(a, "ingest", 1, pack_person, (void *)"lawsuit", &r), 0);
  assert_ok(&r);
  r = e2e_call(a, "entity", (const char *[]){"code", id, "as_of", "2024-07-01", NULL});
  assert_ok(&r);
  cr_assert(e2e_resp_has(&r, id), "an authorised role sees the full number");
  cx_client_close(a);
  cx_client *p = e2e_connect();
  r = e2e_call(p, "entity", (const char *[]){"code", id, "as_of", "2024-07-01", NULL});
  cr_assert(!e2e_resp_has(&r, id));
  r = e2e_call(p, "records", (const char *[]){"code", id, "as_of", "2024-07-01", NULL});
  cr_assert(!e2e_resp_has(&r, id));
  r = e2e_call(p, "search", (const char *[]){"prefix", "张三", NULL});
  cr_assert(!e2e_resp_has(&r, id));
  r = e2e_call(p, "search", (const char *[]){"prefix", "110105", NULL});
  cr_assert(!e2e_resp_has(&r, id));
  cx_client_close(p);
}

/* 1000 distinct invalid codes: each answer echoes 60 bytes of its code and a reason, so the
 * answer (~150 KB) outgrows the connection's initial 64 KiB buffer. */
static int pack_1000_black(msgpack_packer *pk, void *ctx) {
  (void)ctx;
  PK_S(pk, "codes");
  msgpack_pack_array(pk, 1000);
  for (int i = 0; i < 1000; i++) {
    char code[80];
    snprintf(code, sizeof code, "not-a-code-%04d-%045d", i, 0);
    PK_S(pk, code);
  }
  PK_S(pk, "action");
  PK_S(pk, "license");
  return 0;
}

Test(ops, stats_count_spills_and_invalid_requests) {
  cx_client *c = e2e_connect_as(TOK_ADMIN);
  cx_client_resp r;
  cr_assert_eq(cx_client_call(c, "check", 2, pack_1000_black, NULL, &r), 0);
  assert_ok(&r);
  cr_assert_eq(cx_client_send_frame(c, "\xc1", 1), 0);
  cr_assert_eq(cx_client_recv(c, &r), 0);
  assert_err(&r, "bad_frame");
  r = e2e_call(c, "stats", NULL);
  assert_ok(&r);
  cr_assert(cx_mpo_int(cx_mpo_get(r.result, "spills"), 0) >= 1);
  const msgpack_object *inv = cx_mpo_get(cx_mpo_get(r.result, "ops"), "invalid");
  cr_assert(inv);
  cr_assert_eq(cx_mpo_int(cx_mpo_get(inv, "errors"), 0), 1);
  cx_client_close(c);
}
