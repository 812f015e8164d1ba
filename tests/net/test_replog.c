/* test_replog.c — a write batch through the replicated log's message format (net/replog.c):
 * encoded on the writer, rebuilt on another store, it commits to the same content; a message
 * that is not one is refused, never half applied. No NATS here (tests/e2e/python/
 * test_cluster.py runs the real cluster). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "../store/fixture.h"
#include "net_int.h"

static char dir[256];
static cx_store *a, *b;
static char codes[3][CX_CODE_LEN + 1], auth[CX_CODE_LEN + 1], other[CX_CODE_LEN + 1];

static void setup(void) {
  cx_test_tmpdir(dir, sizeof dir);
  cx_day_set_today(fx_day(2025, 3, 1));
  char p[300];
  snprintf(p, sizeof p, "%s/a", dir);
  a = fx_open(p, 0);
  snprintf(p, sizeof p, "%s/b", dir);
  b = fx_open(p, 0);
  for (unsigned i = 0; i < 3; i++) fx_uscc(700 + i, codes[i]);
  fx_auth(7, auth);
  fx_auth(8, other);
}
static void teardown(void) {
  cx_store_close(a);
  cx_store_close(b);
  cx_day_set_today(0);
  cx_test_rmrf(dir);
}
TestSuite(replog, .init = setup, .fini = teardown);

static void digest(cx_store *s, char hex[2 * CX_DIGEST_LEN + 1]) {
  unsigned char d[CX_DIGEST_LEN];
  cr_assert_eq(cx_store_digest(s, d), 0);
  cx_digest_hex(d, hex);
}

/* A scoped writer's batch: its audit line, three puts (one without a report date, one with
 * extra fields and measures) and a transition. */
static cx_batch *writer_batch(cx_store *s, cx_day day, int64_t ms) {
  cx_batch *bt;
  cr_assert_eq(cx_batch_begin(s, &bt), 0);
  if (day) cr_assert_eq(cx_batch_set_clock(bt, day, ms), 0);
  char sc[1][CX_CODE_LEN + 1];
  memcpy(sc[0], auth, sizeof sc[0]);
  cx_batch_actor ac = {CX_STR("提交单位"), CX_STR("submitter"), CX_STR("127.0.0.1:5000"), 0,
                       (const char(*)[CX_CODE_LEN + 1])sc, 1};
  cr_assert_eq(cx_batch_set_actor(bt, &ac), 0);
  cx_audit_entry e;
  memset(&e, 0, sizeof e);
  e.who = CX_STR("提交单位");
  e.role = CX_STR("submitter");
  e.op = CX_STR("ingest");
  e.detail = CX_STR("records=3");
  cr_assert_eq(cx_batch_audit(bt, &e), 0);
  for (int i = 0; i < 3; i++) {
    char rid[16];
    snprintf(rid, sizeof rid, "R-%d", i);
    cx_record r;
    fx_record(&r, codes[i], "某某公司", auth, rid, fx_day(2024, 1 + i, 3));
    r.amount_fen = 12345 * (i + 1);
    if (i == 1) r.report_date = fx_day(2024, 2, 20);
    if (i == 2) {
      r.content = CX_STR("行政处罚\t内容\n第二行");
      r.extra = CX_STR("来源\t网站\n");
    }
    fx_put(bt, &r);
  }
  const char *why = NULL;
  cr_assert_eq(cx_batch_transition(bt, cx_str_c(auth), CX_STR("R-0"), CX_EV_OBJECTION, 0, CX_STR("异议申请"), &why), 0);
  return bt;
}

Test(replog, a_batch_rebuilt_from_its_message_commits_to_the_same_content) {
  cx_day day = fx_day(2024, 12, 30);
  int64_t ms = 1735500000123;
  cx_batch *w = writer_batch(a, day, ms);
  cx_buf msg;
  cr_assert_eq(cx_buf_init(&msg, 256), 0);
  cr_assert_eq(cx__replog_encode(w, day, ms, "node-a", &msg), 0);
  cx_batch_result ra, rb;
  cr_assert_eq(cx_batch_commit(w, &ra), 0, "%s", ra.error);
  cx_batch *r = NULL;
  cx_replog_msg info;
  char why[256] = "";
  cr_assert_eq(cx__replog_build(b, msg.p, msg.len, &r, &info, why, sizeof why), 0, "%s", why);
  cr_assert_str_eq(info.node, "node-a");
  cr_assert_eq(info.day, day);
  cr_assert_eq(info.ms, ms);
  cr_assert_eq(cx_batch_set_log_seq(r, 1), 0);
  cr_assert_eq(cx_batch_commit(r, &rb), 0, "%s", rb.error);
  cr_assert_eq(ra.inserted, 3);
  cr_assert_eq(rb.inserted, 3);
  cr_assert_eq(rb.transitions, 1);
  char ha[65], hb[65];
  digest(a, ha);
  digest(b, hb);
  cr_assert_str_eq(ha, hb);
  cx_buf_free(&msg);
}

Test(replog, the_writers_scope_travels_with_the_message) {
  cx_batch *w = writer_batch(a, fx_day(2024, 12, 30), 1735500000123);
  cx_buf msg;
  cr_assert_eq(cx_buf_init(&msg, 256), 0);
  cr_assert_eq(cx__replog_encode(w, fx_day(2024, 12, 30), 1735500000123, "n", &msg), 0);
  cx_batch_abort(w);
  /* the same message with the scope's authority replaced: the rebuilt batch refuses it */
  char *p = memmem(msg.p, msg.len, auth, CX_CODE_LEN);
  cr_assert(p);
  memcpy(p, other, CX_CODE_LEN);
  cx_batch *r = NULL;
  cx_replog_msg info;
  char why[256] = "";
  cr_assert_eq(cx__replog_build(b, msg.p, msg.len, &r, &info, why, sizeof why), CX_EFORBIDDEN);
  cr_assert(strstr(why, "put 0 refused"), "%s", why);
  cx_buf_free(&msg);
}

Test(replog, bytes_that_are_no_message_are_refused_whole) {
  cx_batch *w = writer_batch(a, fx_day(2024, 12, 30), 1735500000123);
  cx_buf msg;
  cr_assert_eq(cx_buf_init(&msg, 256), 0);
  cr_assert_eq(cx__replog_encode(w, fx_day(2024, 12, 30), 1735500000123, "n", &msg), 0);
  cx_batch_abort(w);
  for (size_t cut = 0; cut < msg.len; cut += 7) {
    cx_batch *r = NULL;
    cx_replog_msg info;
    char why[256];
    cr_assert_neq(cx__replog_build(b, msg.p, cut, &r, &info, why, sizeof why), 0, "cut at %zu", cut);
    cr_assert_null(r);
  }
  cx_store_info in;
  cr_assert_eq(cx_store_info_get(b, &in), 0);
  cr_assert_eq(in.records, 0);
  cx_buf_free(&msg);
}

/* A data file is message version 2: a node whose decoder knows only batches (version 1)
 * refuses it instead of applying an empty batch, and the message holds the file whole. */
Test(replog, a_data_file_message_is_refused_by_the_batch_decoder) {
  cx_buf msg;
  cr_assert_eq(cx_buf_init(&msg, 256), 0);
  cx_audit_entry ae;
  memset(&ae, 0, sizeof ae);
  ae.who = CX_STR("ops");
  ae.op = CX_STR("load-scorecard");
  cr_assert_eq(cx__replog_encode_data("scorecard", cx_data_scorecard, cx_data_scorecard_len, &ae,
                                      fx_day(2024, 12, 30), 1735500000123, "n", &msg), 0);
  cr_assert_gt(msg.len, cx_data_scorecard_len);
  cr_assert_not_null(memmem(msg.p, msg.len, cx_data_scorecard, cx_data_scorecard_len));
  cx_batch *r = NULL;
  cx_replog_msg info;
  char why[256];
  cr_assert_eq(cx__replog_build(b, msg.p, msg.len, &r, &info, why, sizeof why), CX_EBADFRAME);
  cr_assert(strstr(why, "version"), "%s", why);
  cr_assert_null(r);
  cx_buf_free(&msg);
}

/* ------------------------------------------------------------------ v2 and v3 messages */

/* A message of version v written field by field: the header, then what `rest` packs. */
typedef void (*pack_rest)(msgpack_packer *pk, int variant);

static void kv_str(msgpack_packer *pk, const char *k, const char *v) {
  msgpack_pack_str_with_body(pk, k, strlen(k));
  msgpack_pack_str_with_body(pk, v, strlen(v));
}
static void key(msgpack_packer *pk, const char *k) { msgpack_pack_str_with_body(pk, k, strlen(k)); }

/* variant: 0 well formed; 1 day a string; 2 no ms; 3 node not a string; 4 an audit entry of 6
 * fields; 5 two audit entries; then the rest's own variants (10+). */
static void message(cx_buf *out, unsigned v, int variant, unsigned n_rest, pack_rest rest) {
  msgpack_packer pk;
  msgpack_packer_init(&pk, out, cx_buf_msgpack_write);
  msgpack_pack_map(&pk, (variant == 2 ? 4 : 5) + n_rest);
  key(&pk, "v"), msgpack_pack_uint32(&pk, v);
  if (variant == 1) kv_str(&pk, "day", "2025-03-01");
  else key(&pk, "day"), msgpack_pack_uint32(&pk, fx_day(2025, 3, 1));
  if (variant != 2) key(&pk, "ms"), msgpack_pack_int64(&pk, 1740787200000);
  if (variant == 3) key(&pk, "node"), msgpack_pack_uint32(&pk, 7);
  else kv_str(&pk, "node", "n1");
  key(&pk, "audit");
  msgpack_pack_array(&pk, variant == 5 ? 2 : 1);
  for (int i = 0; i < (variant == 5 ? 2 : 1); i++) {
    unsigned nf = variant == 4 ? 6 : 7;
    msgpack_pack_array(&pk, nf);
    for (unsigned f = 0; f < 6; f++) msgpack_pack_str_with_body(&pk, "x", 1);
    if (nf == 7) msgpack_pack_int64(&pk, 1740787200000);
  }
  rest(&pk, variant);
}

static void data_rest(msgpack_packer *pk, int variant) {
  key(pk, "data");
  msgpack_pack_array(pk, 2);
  kv_str(pk, variant == 10 ? "no-such-file" : "calendar", "2025-01-01\tholiday\n");
}
static void epoch_rest(msgpack_packer *pk, int variant) {
  kv_str(pk, "kind", variant == 10 ? "rumour" : "epoch");
  key(pk, "epoch"), msgpack_pack_uint32(pk, variant == 11 ? 1u << 24 : 5);
}
static void feedback_rest(msgpack_packer *pk, int variant) {
  kv_str(pk, "kind", "feedback");
  key(pk, variant == 10 ? "fbx" : "fb");
  msgpack_pack_array(pk, 5);
  msgpack_pack_uint64(pk, 42);
  msgpack_pack_uint8(pk, variant == 11 ? 200 : 1);
  msgpack_pack_str_with_body(pk, "w", 1);
  msgpack_pack_true(pk);
  msgpack_pack_str_with_body(pk, "", 0);
}

static int classify(unsigned v, int variant, unsigned n_rest, pack_rest rest, char *why, size_t cap) {
  cx_buf m = {0};
  message(&m, v, variant, n_rest, rest);
  cr_assert(!m.failed);
  why[0] = 0;
  int rc = cx__replog_classify(m.p, m.len, why, cap);
  cx_buf_free(&m);
  return rc;
}

Test(replog, data_and_v3_messages_are_told_apart_and_each_malformed_field_named) {
  char why[256];
  /* well formed: each decoder takes its own version, and leaves the other's (and batches) */
  cr_assert_eq(classify(2, 0, 1, data_rest, why, sizeof why), 'd', "%s", why);
  cr_assert_eq(classify(3, 0, 2, epoch_rest, why, sizeof why), 'e', "%s", why);
  cr_assert_eq(classify(3, 0, 2, feedback_rest, why, sizeof why), 'f', "%s", why);
  cr_assert_eq(classify(1, 0, 1, data_rest, why, sizeof why), 'b', "version 1 is the batch decoder's");
  cr_assert_eq(classify(4, 0, 2, epoch_rest, why, sizeof why), 'b', "version 4 is no decoder's here");
  /* the header fields, malformed, in either version */
  static const struct { int variant; const char *says; } hdr[] = {
      {1, "day: not an unsigned integer"}, {2, "missing"}, {3, "node: not a string"},
      {4, "audit: malformed entry"}, {5, "audit: not an array of at most one entry"}};
  for (size_t i = 0; i < sizeof hdr / sizeof hdr[0]; i++) {
    cr_assert_eq(classify(2, hdr[i].variant, 1, data_rest, why, sizeof why), CX_EBADFRAME, "v2 variant %d",
                 hdr[i].variant);
    cr_assert(strstr(why, "data: ") == why && strstr(why, hdr[i].says), "v2 variant %d: %s", hdr[i].variant, why);
    cr_assert_eq(classify(3, hdr[i].variant, 2, feedback_rest, why, sizeof why), CX_EBADFRAME, "v3 variant %d",
                 hdr[i].variant);
    cr_assert(strstr(why, "v3: ") == why && strstr(why, hdr[i].says), "v3 variant %d: %s", hdr[i].variant, why);
  }
  /* each version's own fields */
  cr_assert_eq(classify(2, 10, 1, data_rest, why, sizeof why), CX_EBADFRAME);
  cr_assert(strstr(why, "unknown data file"), "%s", why);
  cr_assert_eq(classify(3, 10, 2, epoch_rest, why, sizeof why), CX_EBADFRAME);
  cr_assert(strstr(why, "unknown kind"), "%s", why);
  cr_assert_eq(classify(3, 11, 2, epoch_rest, why, sizeof why), CX_EBADFRAME);
  cr_assert(strstr(why, "epoch: not an unsigned integer under 2^24"), "%s", why);
  cr_assert_eq(classify(3, 10, 2, feedback_rest, why, sizeof why), CX_EBADFRAME);
  cr_assert(strstr(why, "feedback without fb"), "%s", why);
  cr_assert_eq(classify(3, 11, 2, feedback_rest, why, sizeof why), CX_EBADFRAME);
  cr_assert(strstr(why, "fb: malformed"), "%s", why);
}
