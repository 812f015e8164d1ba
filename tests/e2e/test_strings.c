/*
 * End-to-end: strings that are not text (invalid UTF-8, control characters, NUL) never enter
 * the store through the wire, and no answer echoes them back raw: every string of every answer
 * below passes the strictest decoder (valid UTF-8, no control character but TAB and LF).
 */
#include "e2e.h"

TestSuite(strings, .init = e2e_setup, .fini = e2e_teardown, .timeout = 60);

/* Every string (keys too) of o is text a strict client decodes and may print. */
static void assert_strict(const msgpack_object *o) {
  switch (o->type) {
  case MSGPACK_OBJECT_STR: {
    cx_text_fault f;
    char shown[1024];
    if (cx_text_check(o->via.str.ptr, o->via.str.size, CX_TEXT_FREE, &f) == 0) break;
    cx_text_escape(o->via.str.ptr, o->via.str.size, CX_TEXT_NAME, shown, sizeof shown);
    cr_assert_fail("answer string \"%s\" is not text at byte %u", shown, f.at);
    break;
  }
  case MSGPACK_OBJECT_ARRAY:
    for (uint32_t i = 0; i < o->via.array.size; i++) assert_strict(&o->via.array.ptr[i]);
    break;
  case MSGPACK_OBJECT_MAP:
    for (uint32_t i = 0; i < o->via.map.size; i++) {
      assert_strict(&o->via.map.ptr[i].key);
      assert_strict(&o->via.map.ptr[i].val);
    }
    break;
  default: break;
  }
}

static char *message(const cx_client_resp *r, char *buf, size_t cap) {
  snprintf(buf, cap, "%.*s", (int)r->err_message_len, r->err_message ? r->err_message : "");
  return buf;
}

/* ---- ingest ---- */

typedef struct one_rec {
  const char *key;     /* the field to set to (val, n) */
  const char *val;
  uint32_t n;
} one_rec;

static int pack_one(msgpack_packer *pk, void *ctx) {
  const one_rec *a = ctx;
  char code[19], auth[19];
  e2e_code("91", 7001, code);
  e2e_code("11", E2E_AUTH_N, auth);
  const char *kv[] = {"entity_code", code, "entity_name", "接口字符串测试公司", "record_id", "STR-1",
                      "authority_code", auth, "category", "penalty", "decision_date", "2024-06-01",
                      "content", "内容", NULL};
  PK_S(pk, "records");
  msgpack_pack_array(pk, 1);
  uint32_t n = 0, extra = 1;
  for (int i = 0; kv[i]; i += 2) n++, extra -= strcmp(kv[i], a->key) == 0;
  msgpack_pack_map(pk, n + extra);
  for (int i = 0; kv[i]; i += 2) {
    if (strcmp(kv[i], a->key) == 0) continue;
    PK_S(pk, kv[i]);
    PK_S(pk, kv[i + 1]);
  }
  msgpack_pack_str_with_body(pk, a->key, strlen(a->key));
  msgpack_pack_str_with_body(pk, a->val, a->n);
  return 0;
}

/* The one detail of a refused one-record ingest. */
static void ingest_refused(cx_client *c, const one_rec *a, const char *says) {
  cx_client_resp r;
  cr_assert_eq(cx_client_call(c, "ingest", 1, pack_one, (void *)a, &r), 0);
  assert_err(&r, "bad_request");
  assert_strict(r.root);
  const msgpack_object *det = cx_mpo_get(r.error, "details");
  cr_assert(det && det->type == MSGPACK_OBJECT_ARRAY && det->via.array.size == 1);
  char m[256];
  cx_mpo_str(cx_mpo_get(&det->via.array.ptr[0], "message"), m, sizeof m);
  cr_assert_str_eq(m, says);
}

Test(strings, an_ingest_of_record_id_R_BAD_nul_hidden_is_refused_naming_the_field_and_byte) {
  cx_client *c = e2e_connect_as(TOK_SUBMITTER);
  ingest_refused(c, &(one_rec){"record_id", "R-BAD\0hidden", 12}, "record_id: control character U+0000 at byte 5");
  ingest_refused(c, &(one_rec){"entity_name", "甲\xff乙", 7}, "entity_name: invalid UTF-8 at byte 3");
  ingest_refused(c, &(one_rec){"content", "ok\x1b[2K", 6}, "content: control character U+001B at byte 2");
  ingest_refused(c, &(one_rec){"authority_name", "\xed\xa0\x80", 3}, "authority_name: invalid UTF-8 at byte 0");
  /* nothing landed; free text keeps TAB and LF */
  char code[19];
  e2e_code("91", 7001, code);
  cx_client_resp r = e2e_call(c, "entity", (const char *[]){"code", code, NULL});
  assert_err(&r, "not_found");
  one_rec ok = {"content", "第一行\n\t第二行", 20};
  cr_assert_eq(cx_client_call(c, "ingest", 1, pack_one, &ok, &r), 0);
  assert_ok(&r);
  cx_client_close(c);
}

/* ---- what the server echoes from a request ---- */

/* A hand-packed request: {"id", "op", then n_more fields packed by the caller}. */
static msgpack_packer *req_begin(msgpack_sbuffer *sb, msgpack_packer *pk, const char *op, size_t n,
                                 uint32_t n_more) {
  msgpack_sbuffer_init(sb);
  msgpack_packer_init(pk, sb, msgpack_sbuffer_write);
  msgpack_pack_map(pk, 2 + n_more);
  PK_S(pk, "id");
  msgpack_pack_uint32(pk, 5);
  PK_S(pk, "op");
  msgpack_pack_str_with_body(pk, op, n);
  return pk;
}

static cx_client_resp req_end(cx_client *c, msgpack_sbuffer *sb) {
  cr_assert_eq(cx_client_send_frame(c, sb->data, sb->size), 0);
  msgpack_sbuffer_destroy(sb);
  cx_client_resp r;
  cr_assert_eq(cx_client_recv(c, &r), 0);
  return r;
}

#define PK_N(pk, s, n) msgpack_pack_str_with_body(pk, s, n)

Test(strings, an_unknown_op_of_invalid_utf8_and_an_escape_sequence_is_echoed_escaped) {
  cx_client *c = e2e_connect();
  char m[1024];
  msgpack_sbuffer sb;
  msgpack_packer pk;
  req_begin(&sb, &pk, "x\xff\x1b[2K\0y", 8, 0);
  cx_client_resp r = req_end(c, &sb);
  assert_err(&r, "unknown_op");
  assert_strict(r.root);
  cr_assert(strstr(message(&r, m, sizeof m), "unknown op \"x\\xff\\x1b[2K\\x00y\": expected one of ") == m, "%s", m);
  cr_assert(strstr(m, "check"), "the ops are listed: %s", m);
  cx_client_close(c);
}

Test(strings, bad_dates_categories_actions_and_filter_values_are_echoed_escaped) {
  char code[19], m[1024];
  e2e_code("91", E2E_BLACK, code);
  cx_client *c = e2e_connect_as(TOK_ADMIN);
  msgpack_sbuffer sb;
  msgpack_packer pk;
  /* a date */
  req_begin(&sb, &pk, "aggregate", 9, 1);
  PK_S(&pk, "from"); PK_N(&pk, "\x1b]0;pwn\x07", 8);
  cx_client_resp r = req_end(c, &sb);
  assert_err(&r, "bad_request");
  assert_strict(r.root);
  cr_assert(strstr(message(&r, m, sizeof m), "\"\\x1b]0;pwn\\x07\" is not a date"), "%s", m);
  /* a category of records */
  req_begin(&sb, &pk, "records", 7, 2);
  PK_S(&pk, "code"); PK_S(&pk, code);
  PK_S(&pk, "category"); PK_N(&pk, "pen\xc0\x80" "alty\r", 10);
  r = req_end(c, &sb);
  assert_err(&r, "bad_request");
  assert_strict(r.root);
  cr_assert(strstr(message(&r, m, sizeof m), "unknown category \"pen\\xc0\\x80alty\\r\": expected one of license, penalty, ") == m,
            "%s", m);
  /* an action of check */
  req_begin(&sb, &pk, "check", 5, 2);
  PK_S(&pk, "codes"); msgpack_pack_array(&pk, 1); PK_S(&pk, code);
  PK_S(&pk, "action"); PK_N(&pk, "buy\nnow\xfe", 8);
  r = req_end(c, &sb);
  assert_err(&r, "bad_request");
  assert_strict(r.root);
  cr_assert(strstr(message(&r, m, sizeof m), "unknown action \"buy\\nnow\\xfe\": expected one of procurement, ") == m,
            "%s", m);
  /* a filter value of aggregate */
  req_begin(&sb, &pk, "aggregate", 9, 1);
  PK_S(&pk, "where");
  msgpack_pack_map(&pk, 1);
  PK_S(&pk, "category"); PK_N(&pk, "\x1b[31mred\xff", 9);
  r = req_end(c, &sb);
  assert_err(&r, "bad_request");
  assert_strict(r.root);
  cr_assert(strstr(message(&r, m, sizeof m), "\"\\x1b[31mred\\xff\""), "%s", m);
  cx_client_close(c);
}

static int pack_bad_key(msgpack_packer *pk, void *ctx) {
  (void)ctx;
  PK_S(pk, "records");
  msgpack_pack_array(pk, 1);
  msgpack_pack_map(pk, 1);
  msgpack_pack_str_with_body(pk, "ke\x1b[2Ky\xff", 8);
  msgpack_pack_double(pk, 1.5); /* an unsupported value type: the message names the key */
  return 0;
}

Test(strings, an_ingest_field_name_with_an_escape_sequence_is_echoed_escaped) {
  cx_client *c = e2e_connect_as(TOK_SUBMITTER);
  cx_client_resp r;
  cr_assert_eq(cx_client_call(c, "ingest", 1, pack_bad_key, NULL, &r), 0);
  assert_err(&r, "bad_request");
  assert_strict(r.root);
  const msgpack_object *det = cx_mpo_get(r.error, "details");
  char m[256];
  cx_mpo_str(cx_mpo_get(&det->via.array.ptr[0], "message"), m, sizeof m);
  cr_assert_str_eq(m, "ke\\x1b[2Ky\\xff: unsupported value type");
  cx_client_close(c);
}

Test(strings, an_objection_to_record_id_with_a_nul_names_the_byte_and_echoes_nothing_raw) {
  char auth[19], m[256];
  e2e_code("11", E2E_AUTH_N, auth);
  cx_client *c = e2e_connect_as(TOK_ADMIN);
  msgpack_sbuffer sb;
  msgpack_packer pk;
  req_begin(&sb, &pk, "objection", 9, 3);
  PK_S(&pk, "authority"); PK_S(&pk, auth);
  PK_S(&pk, "record_id"); PK_N(&pk, "BL-1\0hidden", 11);
  PK_S(&pk, "reason"); PK_S(&pk, "异议");
  cx_client_resp r = req_end(c, &sb);
  assert_err(&r, "bad_request");
  assert_strict(r.root);
  cr_assert_str_eq(message(&r, m, sizeof m), "record_id: control character U+0000 at byte 4");
  /* a record that does not exist: its id is echoed escaped */
  req_begin(&sb, &pk, "objection", 9, 3);
  PK_S(&pk, "authority"); PK_S(&pk, auth);
  PK_S(&pk, "record_id"); PK_S(&pk, "NO-SUCH-记录");
  PK_S(&pk, "reason"); PK_S(&pk, "异议");
  r = req_end(c, &sb);
  assert_err(&r, "not_found");
  assert_strict(r.root);
  cr_assert(strstr(message(&r, m, sizeof m), "NO-SUCH-记录"), "%s", m);
  cx_client_close(c);
}

Test(strings, a_check_of_a_code_holding_an_escape_sequence_and_a_bad_byte_echoes_it_escaped) {
  cx_client *c = e2e_connect_as(TOK_APPROVAL);
  msgpack_sbuffer sb;
  msgpack_packer pk;
  req_begin(&sb, &pk, "check", 5, 2);
  PK_S(&pk, "codes"); msgpack_pack_array(&pk, 1); PK_N(&pk, "\x1b[2J9135\xff", 9);
  PK_S(&pk, "action"); PK_S(&pk, "procurement");
  cx_client_resp r = req_end(c, &sb);
  assert_ok(&r);
  assert_strict(r.root);
  char code[64];
  cx_mpo_str(cx_mpo_get(&cx_mpo_get(r.result, "results")->via.array.ptr[0], "code"), code, sizeof code);
  cr_assert_str_eq(code, "\\x1b[2J9135\\xff");
  cx_client_close(c);
}

Test(strings, a_lifecycle_op_with_a_tab_before_the_authority_is_refused_not_echoed) {
  char auth[19], tabbed[24], m[256];
  e2e_code("11", E2E_AUTH_N, auth);
  snprintf(tabbed, sizeof tabbed, "\t%s\n", auth);
  cx_client *c = e2e_connect_as(TOK_ADMIN);
  msgpack_sbuffer sb;
  msgpack_packer pk;
  req_begin(&sb, &pk, "objection", 9, 3);
  PK_S(&pk, "authority"); PK_S(&pk, tabbed);
  PK_S(&pk, "record_id"); PK_S(&pk, "BL-1");
  PK_S(&pk, "reason"); PK_S(&pk, "异议");
  cx_client_resp r = req_end(c, &sb);
  assert_err(&r, "bad_request");
  assert_strict(r.root);
  cr_assert_str_eq(message(&r, m, sizeof m), "authority_code: control character U+0009 at byte 0");
  cx_client_close(c);
}

/* Every "unknown" error of the executor lists what is accepted (issue 17, point 7): a client of
 * the wire or of HTTP learns the values from the error, as the CLI's user does. */
Test(strings, unknown_dimensions_actions_and_verdicts_list_the_accepted_values) {
  char m[1024];
  cx_client *c = e2e_connect_as(TOK_ADMIN);
  msgpack_sbuffer sb;
  msgpack_packer pk;
  /* a key of where that is no dimension */
  req_begin(&sb, &pk, "aggregate", 9, 1);
  PK_S(&pk, "where");
  msgpack_pack_map(&pk, 1);
  PK_S(&pk, "colour"); PK_S(&pk, "red");
  cx_client_resp r = req_end(c, &sb);
  assert_err(&r, "bad_request");
  cr_assert(strstr(message(&r, m, sizeof m), "where: key 0 is not a dimension (province, city, county, "), "%s", m);
  cr_assert(strstr(m, "month)"), "every dimension: %s", m);
  /* the same of checks, then an unknown action and an unknown verdict as their values */
  req_begin(&sb, &pk, "aggregate", 9, 2);
  PK_S(&pk, "of"); PK_S(&pk, "checks");
  PK_S(&pk, "where");
  msgpack_pack_map(&pk, 1);
  PK_S(&pk, "colour"); PK_S(&pk, "red");
  r = req_end(c, &sb);
  assert_err(&r, "bad_request");
  cr_assert(strstr(message(&r, m, sizeof m), "where: key 0 is not a dimension of checks (action, verdict, "), "%s", m);
  req_begin(&sb, &pk, "aggregate", 9, 2);
  PK_S(&pk, "of"); PK_S(&pk, "checks");
  PK_S(&pk, "where");
  msgpack_pack_map(&pk, 1);
  PK_S(&pk, "action"); PK_S(&pk, "buy");
  r = req_end(c, &sb);
  assert_err(&r, "bad_request");
  cr_assert(strstr(message(&r, m, sizeof m), "where.action: unknown action \"buy\": expected one of procurement, "),
            "%s", m);
  req_begin(&sb, &pk, "aggregate", 9, 2);
  PK_S(&pk, "of"); PK_S(&pk, "checks");
  PK_S(&pk, "where");
  msgpack_pack_map(&pk, 1);
  PK_S(&pk, "verdict"); PK_S(&pk, "maybe");
  r = req_end(c, &sb);
  assert_err(&r, "bad_request");
  cr_assert(strstr(message(&r, m, sizeof m),
                   "where.verdict: unknown verdict \"maybe\": expected one of clear, review, deny, not_found, invalid_code"),
            "%s", m);
  cx_client_close(c);
}
