/*
 * test_feedback.c — receipts, the check log and 联合奖惩 feedback against a real server: every
 * check result carries a receipt; feedback on it by the system that checked is recorded and
 * audited; forged receipts and other systems are refused; aggregate {of: checks} counts both.
 */
#include "e2e.h"

TestSuite(feedback, .init = e2e_setup, .fini = e2e_teardown, .timeout = 60);

static const msgpack_object *get(const msgpack_object *m, const char *k) {
  if (!m || m->type != MSGPACK_OBJECT_MAP) return NULL;
  for (uint32_t i = 0; i < m->via.map.size; i++) {
    const msgpack_object_kv *kv = &m->via.map.ptr[i];
    if (kv->key.type == MSGPACK_OBJECT_STR && kv->key.via.str.size == strlen(k) &&
        memcmp(kv->key.via.str.ptr, k, kv->key.via.str.size) == 0)
      return &kv->val;
  }
  return NULL;
}

static void str_of(const msgpack_object *o, char *buf, size_t cap) {
  cr_assert(o && o->type == MSGPACK_OBJECT_STR);
  snprintf(buf, cap, "%.*s", (int)o->via.str.size, o->via.str.ptr);
}

/* Checks code for procurement as approval; receipt of result 0 into out. */
static void check_one(cx_client *c, const char *code, char out[64], char verdict[32]) {
  const char *codes[1] = {code};
  check_args a = {codes, 1, "procurement"};
  cx_client_resp r;
  cr_assert_eq(cx_client_call(c, "check", 3, pack_check, &a, &r), 0);
  assert_ok(&r);
  const msgpack_object *res = get(r.result, "results");
  cr_assert(res && res->type == MSGPACK_OBJECT_ARRAY && res->via.array.size == 1);
  const msgpack_object *r0 = &res->via.array.ptr[0];
  str_of(get(r0, "receipt"), out, 64);
  str_of(get(r0, "verdict"), verdict, 32);
  cr_assert(get(r0, "advisory"), "results carry advisory");
}

Test(feedback, a_check_receipt_takes_feedback_once_per_system_and_aggregates) {
  char code[CX_CODE_LEN + 1], rc1[64], rc2[64], v[32];
  e2e_code("91", E2E_BLACK, code);
  cx_client *c = e2e_connect_as(TOK_APPROVAL);
  check_one(c, code, rc1, v);
  cr_assert_str_eq(v, "deny");
  cr_assert_eq(strlen(rc1), 32);
  check_one(c, code, rc2, v);
  cr_assert_str_neq(rc1, rc2, "every check has its own receipt");

  /* feedback right after the check: the queued entry is written first */
  const char *kv[] = {"receipt", rc1, "outcome", "restricted", "note", "不予受理", NULL};
  cx_client_resp r = e2e_call(c, "feedback", kv);
  assert_ok(&r);
  char b[64];
  str_of(get(r.result, "verdict"), b, sizeof b);
  cr_assert_str_eq(b, "deny");
  str_of(get(r.result, "action"), b, sizeof b);
  cr_assert_str_eq(b, "procurement");
  str_of(get(r.result, "previous"), b, sizeof b);
  cr_assert_str_eq(b, "");
  /* forged: one hex digit changed */
  char forged[64];
  snprintf(forged, sizeof forged, "%s", rc1);
  forged[31] = forged[31] == '0' ? '1' : '0';
  const char *kf[] = {"receipt", forged, "outcome", "approved", NULL};
  r = e2e_call(c, "feedback", kf);
  assert_err(&r, "bad_request");
  const char *ko[] = {"receipt", rc2, "outcome", "maybe", NULL};
  r = e2e_call(c, "feedback", ko);
  assert_err(&r, "bad_request");
  cx_client_close(c);

  /* analysts may not report; admin may on any receipt */
  cx_client *an = e2e_connect_as(TOK_ANALYST);
  const char *k2[] = {"receipt", rc2, "outcome", "approved_after_review", NULL};
  r = e2e_call(an, "feedback", k2);
  assert_err(&r, "forbidden");
  cx_client *ad = e2e_connect_as(TOK_ADMIN);
  r = e2e_call(ad, "feedback", k2);
  assert_ok(&r);

  /* the aggregate over checks: 2 checks, 2 with feedback, 1 restricted */
  cx_client_resp ag;
  const char *kag[] = {"of", "checks", NULL};
  ag = e2e_call(an, "aggregate", kag); /* no by: one row of checks */
  assert_ok(&ag);
  const msgpack_object *rows = get(ag.result, "rows");
  cr_assert(rows && rows->via.array.size == 1);
  cr_assert_eq(rows->via.array.ptr[0].via.array.ptr[0].via.i64, 2);
  cx_client_close(an);
  cx_client_close(ad);
}

/* --check-log off (a benchmarking and operations switch): checks answer as before, without a
 * receipt, and nothing is queued or written; stats say the log is off. */
static void setup_off(void) {
  static const char *const extra[] = {"--check-log", "off", NULL};
  e2e_setup_args(extra);
}
TestSuite(feedback_off, .init = setup_off, .fini = e2e_teardown, .timeout = 60);

Test(feedback_off, without_the_check_log_checks_carry_no_receipt_and_nothing_is_logged) {
  char code[CX_CODE_LEN + 1];
  e2e_code("91", E2E_BLACK, code);
  cx_client *c = e2e_connect_as(TOK_APPROVAL);
  const char *codes[1] = {code};
  check_args a = {codes, 1, "procurement"};
  cx_client_resp r;
  cr_assert_eq(cx_client_call(c, "check", 3, pack_check, &a, &r), 0);
  assert_ok(&r);
  const msgpack_object *res = get(r.result, "results");
  cr_assert(res && res->via.array.size == 1);
  char v[32];
  str_of(get(&res->via.array.ptr[0], "verdict"), v, sizeof v);
  cr_assert_str_eq(v, "deny", "the verdict does not depend on the log");
  cr_assert_null(get(&res->via.array.ptr[0], "receipt"));
  cx_client_close(c);
  cx_client *ad = e2e_connect_as(TOK_ADMIN);
  r = e2e_call(ad, "stats", NULL);
  assert_ok(&r);
  const msgpack_object *cl = get(r.result, "check_log");
  cr_assert(cl && cl->type == MSGPACK_OBJECT_MAP);
  const msgpack_object *en = get(cl, "enabled");
  cr_assert(en && en->type == MSGPACK_OBJECT_BOOLEAN && !en->via.boolean);
  cr_assert_eq(cx_mpo_int(get(cl, "queued"), -1), 0);
  cr_assert_eq(cx_mpo_int(get(cl, "written"), -1), 0);
  cx_client_close(ad);
}
