/* test_batch.c — validation, upserts, status changes, atomicity, idempotent re-import, growth. */
#include "fixture.h"

static char dir[256];
static cx_store *st;
static char A1[19], A2[19];
static void setup(void) {
  cx_test_tmpdir(dir, sizeof dir);
  st = fx_open(dir, 0);
  fx_auth(1, A1);
  fx_auth(2, A2);
}
static void teardown(void) {
  cx_store_close(st);
  cx_test_rmrf(dir);
}
TestSuite(batch, .init = setup, .fini = teardown);

static int expect_put_error(const cx_record *r, int code, const char *field) {
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  const char *why = NULL;
  int rc = cx_batch_put(b, r, &why);
  cr_expect_eq(rc, code, "%s: got %s (%s)", field, cx_strerror(rc), why ? why : "");
  cr_expect(why && strstr(why, field), "why '%s' should name %s", why ? why : "", field);
  cr_assert_eq(cx_batch_size(b), 0);
  cx_batch_abort(b);
  return rc;
}

Test(batch, put_validates_fields) {
  char c[19], p[19];
  fx_uscc(5, c);
  fx_idcard(5, p);
  cx_record r, x;
  fx_record(&r, c, "甲公司", A1, "R1", fx_day(2024, 1, 10));
  x = r; x.entity_code = CX_STR("91350100M000100Y4X"); expect_put_error(&x, CX_EINVALCODE, "entity_code");
  x = r; x.entity_kind = CX_KIND_PERSON; expect_put_error(&x, CX_EINVALCODE, "entity_code");
  x = r; x.entity_code = cx_str_c(p); x.entity_kind = CX_KIND_ENTERPRISE; expect_put_error(&x, CX_EINVALCODE, "entity_code");
  x = r; x.authority_code = CX_STR("123"); expect_put_error(&x, CX_EINVALCODE, "authority_code");
  x = r; x.record_id = CX_STR(""); expect_put_error(&x, CX_EBADREQ, "record_id");
  char big[5000];
  memset(big, 'a', sizeof big);
  x = r; x.record_id = (cx_str){big, 129}; expect_put_error(&x, CX_EBADREQ, "record_id");
  x = r; x.entity_name = CX_STR(""); expect_put_error(&x, CX_EBADREQ, "entity_name");
  x = r; x.content = (cx_str){big, 4097}; expect_put_error(&x, CX_EBADREQ, "content");
  x = r; x.category = CX_CAT_COUNT; expect_put_error(&x, CX_EBADREQ, "category");
  x = r; x.subtype = CX_SUB_WON; expect_put_error(&x, CX_EBADREQ, "subtype");
  x = r; x.severity = 9; expect_put_error(&x, CX_EBADREQ, "severity");
  x = r; x.decision_date = CX_DAY_NONE; expect_put_error(&x, CX_EDATE, "decision_date");
  x = r; x.valid_until = fx_day(2024, 1, 10); expect_put_error(&x, CX_EDATE, "valid_until");
  x = r; x.report_date = fx_day(2024, 1, 9); expect_put_error(&x, CX_EDATE, "report_date");
  x = r; x.amount_fen = -1; expect_put_error(&x, CX_EBADREQ, "amount_fen");
  x = r; x.category = CX_CAT_BLACKLIST; expect_put_error(&x, CX_EBADREQ, "list_type");
  x = r; x.category = CX_CAT_BLACKLIST; x.list_type = CX_STR("tax_a"); expect_put_error(&x, CX_EBADREQ, "list_type");
  x = r; x.category = CX_CAT_BLACKLIST; x.list_type = CX_STR("nope"); expect_put_error(&x, CX_EBADREQ, "list_type");
  x = r; x.measures = CX_STR("no_such_measure"); expect_put_error(&x, CX_EBADREQ, "measures");
  /* a person with an ID number and the kind derived from the code */
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  x = r; x.entity_code = cx_str_c(p);
  fx_put(b, &x);
  cr_assert_eq(cx_batch_commit(b, NULL), 0);
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cx_summary s;
  cr_assert_eq(cx_store_summary_get(t, p, &s), 0);
  cr_assert_eq(s.kind, CX_KIND_PERSON);
  cr_assert_eq(s.region, 110105);
  cx_store_txn_end(t);
}

Test(batch, caller_strings_may_be_freed_after_put) {
  char c[19];
  fx_uscc(9, c);
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  char *name = strdup("临时名称"), *rid = strdup("RID-9"), *code = strdup(c), *auth = strdup(A1);
  cx_record r;
  fx_record(&r, code, name, auth, rid, fx_day(2024, 1, 10));
  fx_put(b, &r);
  memset(name, 'x', strlen(name));
  memset(rid, 'x', strlen(rid));
  free(name); free(rid); free(code); free(auth);
  cr_assert_eq(cx_batch_commit(b, NULL), 0);
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cx_record got;
  cr_assert_eq(cx_store_record_get(t, cx_str_c(A1), CX_STR("RID-9"), NULL, &got), 0);
  cr_assert(cx_str_eq(got.entity_name, cx_str_c("临时名称")));
  cx_store_txn_end(t);
}

static void load(int n_ent, int per, cx_batch_result *res) {
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  for (int e = 0; e < n_ent; e++) {
    char c[19], name[64], rid[32];
    fx_uscc((unsigned)e + 100, c);
    snprintf(name, sizeof name, "企业%d有限公司", e);
    for (int i = 0; i < per; i++) {
      snprintf(rid, sizeof rid, "R-%d-%d", e, i);
      cx_record r;
      fx_record(&r, c, name, i % 2 ? A1 : A2, rid, fx_day(2020 + i % 5, 1 + i % 12, 1 + e % 28));
      r.amount_fen = 100 * i;
      r.report_date = r.decision_date + (cx_day)(i % 15);
      if (i % 4 == 0) {
        r.category = CX_CAT_BLACKLIST;
        r.list_type = CX_STR("court_dishonest");
      }
      fx_put(b, &r);
    }
  }
  cr_assert_eq(cx_batch_commit(b, res), 0);
}

static int sum_fn(void *ctx, uint32_t month, const uint32_t *dims, const cx_rollup_cell *c) {
  (void)month; (void)dims;
  int64_t *acc = ctx;
  acc[0] += c->count;
  acc[1] += c->amount;
  acc[2] += c->on_time;
  acc[3]++;
  return 0;
}

typedef struct snap {
  cx_store_info info;
  int64_t roll[3][4];
  unsigned char sum[8][4096];
  size_t sumlen[8];
} snap;

static void take(snap *s) {
  memset(s, 0, sizeof *s);
  cr_assert_eq(cx_store_info_get(st, &s->info), 0);
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  for (int c = 0; c < cx_cube_count; c++)
    cr_assert_eq(cx_store_rollup_each(t, c, 0, 0xFFFF, sum_fn, s->roll[c]), 0);
  for (int e = 0; e < 8; e++) {
    char c[19];
    fx_uscc((unsigned)e + 100, c);
    cx_summary sm;
    if (cx_store_summary_get(t, c, &sm)) continue;
    /* the summary's bytes: from hits_ - header to the end of the string area */
    const unsigned char *start = sm.hits_ - 28;
    uint32_t strs;
    memcpy(&strs, start + 24, 4); /* string area length (store_int.h layout) */
    size_t n = (size_t)(sm.strs_ - start) + strs;
    cr_assert_leq(n, sizeof s->sum[e]);
    memcpy(s->sum[e], start, n);
    s->sumlen[e] = n;
  }
  cx_store_txn_end(t);
}

Test(batch, reimporting_the_same_batch_changes_nothing) {
  cx_batch_result r1, r2;
  load(8, 10, &r1);
  cr_assert_eq(r1.inserted, 80);
  snap *a = malloc(sizeof *a), *b = malloc(sizeof *b);
  take(a);
  load(8, 10, &r2);
  cr_assert_eq(r2.inserted, 0);
  cr_assert_eq(r2.replaced, 0);
  cr_assert_eq(r2.unchanged, 80);
  cr_assert_eq(r2.entities_touched, 0);
  take(b);
  cr_assert_eq(a->info.records, b->info.records);
  cr_assert_eq(a->info.entities, b->info.entities);
  cr_assert_eq(a->info.rollup_cells, b->info.rollup_cells);
  cr_assert_eq(memcmp(a->roll, b->roll, sizeof a->roll), 0);
  for (int e = 0; e < 8; e++) {
    cr_assert_gt(a->sumlen[e], 0);
    cr_assert_eq(a->sumlen[e], b->sumlen[e]);
    cr_assert_eq(memcmp(a->sum[e], b->sum[e], a->sumlen[e]), 0);
  }
  cr_assert_eq(a->roll[0][0], 80);
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0);
  free(a);
  free(b);
}

Test(batch, a_commit_failing_half_way_leaves_nothing) {
  cx_batch_result r1;
  load(2, 3, &r1);
  snap *a = malloc(sizeof *a), *b = malloc(sizeof *b);
  take(a);
  cx_store_debug_fail_after(st, 10);
  cx_batch *bt;
  cr_assert_eq(cx_batch_begin(st, &bt), 0);
  for (int i = 0; i < 40; i++) {
    char c[19], rid[32];
    fx_uscc((unsigned)i + 100, c);
    snprintf(rid, sizeof rid, "F-%d", i);
    cx_record r;
    fx_record(&r, c, "新公司", A1, rid, fx_day(2024, 2, 2));
    fx_put(bt, &r);
  }
  cr_assert_eq(cx_batch_commit(bt, NULL), CX_EIO);
  take(b);
  cr_assert_eq(a->info.records, b->info.records);
  cr_assert_eq(a->info.entities, b->info.entities);
  cr_assert_eq(memcmp(a->roll, b->roll, sizeof a->roll), 0);
  for (int e = 0; e < 8; e++) cr_assert_eq(a->sumlen[e], b->sumlen[e]);
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0);
  /* the hook fires once: the next commit works */
  load(2, 3, &r1);
  cr_assert_eq(r1.unchanged, 6);
  free(a);
  free(b);
}

Test(batch, replacement_keeps_seq_and_never_moves_to_another_entity) {
  char c1[19], c2[19];
  fx_uscc(1, c1);
  fx_uscc(2, c2);
  cx_batch *b;
  cx_record r;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  fx_record(&r, c1, "一号", A1, "X1", fx_day(2024, 1, 1));
  fx_put(b, &r);
  cr_assert_eq(cx_batch_commit(b, NULL), 0);
  cx_txn *t;
  cx_reckey k1, k2;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cr_assert_eq(cx_store_record_get(t, cx_str_c(A1), CX_STR("X1"), &k1, NULL), 0);
  cx_store_txn_reset(t);

  /* Another entity under the same document number: a revoke plus a new record, not a move. */
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  fx_record(&r, c2, "二号", A1, "X1", fx_day(2024, 6, 1));
  fx_put(b, &r);
  cx_batch_result res;
  cr_assert_eq(cx_batch_commit(b, &res), CX_EBADREQ);
  cr_assert(strstr(res.error, "another entity") != NULL, "%s", res.error);
  cr_assert(strstr(res.error, c2) == NULL, "the message never names an entity code");

  /* The same entity, a corrected decision date: the record moves in the key order only. */
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  fx_record(&r, c1, "一号", A1, "X1", fx_day(2024, 6, 1));
  fx_put(b, &r);
  cr_assert_eq(cx_batch_commit(b, &res), 0);
  cr_assert_eq(res.replaced, 1);
  cr_assert_eq(cx_store_txn_renew(t), 0);
  cx_record got;
  cr_assert_eq(cx_store_record_get(t, cx_str_c(A1), CX_STR("X1"), &k2, &got), 0);
  cr_assert_eq(k2.seq, k1.seq);
  cr_assert_eq(k2.entity_id, k1.entity_id);
  cr_assert_eq(k2.decision_date, fx_day(2024, 6, 1));
  cx_summary s;
  cr_assert_eq(cx_store_summary_get(t, c1, &s), 0);
  cr_assert_eq(s.n_recs, 1);
  cr_assert_eq(cx_store_summary_get(t, c2, &s), CX_ENOTFOUND);
  cx_store_txn_end(t);
  cx_store_info in;
  cr_assert_eq(cx_store_info_get(st, &in), 0);
  cr_assert_eq(in.records, 1);
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0);
}

Test(batch, status_changes) {
  char c1[19];
  fx_uscc(1, c1);
  cx_batch *b;
  cx_record r;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  fx_record(&r, c1, "一号", A1, "B1", fx_day(2024, 1, 1));
  r.category = CX_CAT_BLACKLIST;
  r.list_type = CX_STR("court_dishonest");
  fx_put(b, &r);
  cr_assert_eq(cx_batch_commit(b, NULL), 0);

  const char *why;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  cr_assert_eq(cx_batch_transition(b, cx_str_c(A1), CX_STR("B1"), CX_EV_REPAIR, 0, CX_STR("t"), &why), 0);
  cx_batch_result res;
  cr_assert_eq(cx_batch_commit(b, &res), 0);
  cr_assert_eq(res.status_changes, 1);
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cx_summary s;
  cr_assert_eq(cx_store_summary_get(t, c1, &s), 0);
  cr_assert_eq(s.n_hits, 0); /* repaired: no longer restricts */
  cx_sum_rec sr;
  cx_summary_rec(&s, 0, &sr);
  cr_assert_eq(sr.status, CX_ST_REPAIRED);
  cx_store_txn_end(t);

  /* objection only */
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  cr_assert_eq(cx_batch_transition(b, cx_str_c(A1), CX_STR("B1"), CX_EV_OBJECTION, 0, CX_STR("t"), &why), 0);
  cr_assert_eq(cx_batch_commit(b, &res), 0);
  cr_assert_eq(res.status_changes, 1);

  /* a missing record fails the whole commit */
  char c2[19];
  fx_uscc(2, c2);
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  fx_record(&r, c2, "二号", A1, "B2", fx_day(2024, 1, 1));
  fx_put(b, &r);
  cr_assert_eq(cx_batch_transition(b, cx_str_c(A1), CX_STR("nope"), CX_EV_REVOKE, 0, CX_STR("t"), &why), 0);
  cr_assert_eq(cx_batch_commit(b, &res), CX_ENOTFOUND);
  cr_assert(strstr(cx_store_errmsg(st), "nope") != NULL);
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cr_assert_eq(cx_store_summary_get(t, c2, &s), CX_ENOTFOUND);
  cx_store_txn_end(t);
  /* unknown authority too */
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  cr_assert_eq(cx_batch_transition(b, cx_str_c(A2), CX_STR("B1"), CX_EV_REVOKE, 0, CX_STR("t"), &why), 0);
  cr_assert_eq(cx_batch_commit(b, &res), CX_ENOTFOUND);
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0);
}

Test(batch, a_tiny_map_grows_during_a_big_batch) {
  cx_store_close(st);
  cx_test_rmrf(dir);
  cx_test_tmpdir(dir, sizeof dir);
  st = fx_open(dir, 64u << 10); /* the embedded data alone does not fit: grows at create */
  cx_batch_result res;
  load(200, 20, &res);
  cr_assert_eq(res.inserted, 4000);
  cx_store_info in;
  cr_assert_eq(cx_store_info_get(st, &in), 0);
  cr_assert_gt(in.map_size, 1u << 20);
  cr_assert_eq(in.map_size & (in.map_size - 1), 0); /* doubled from 64 KiB */
  cr_assert_eq(in.records, 4000);
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0);
}

#include <pthread.h>
#include <unistd.h>

static void *hold_reader(void *arg) {
  cx_txn *t = arg;
  usleep(300 * 1000);
  cx_store_txn_reset(t); /* reset on another thread than the one that began it (MDB_NOTLS) */
  return NULL;
}

Test(batch, growth_waits_for_open_readers) {
  cx_store_close(st);
  cx_test_rmrf(dir);
  cx_test_tmpdir(dir, sizeof dir);
  st = fx_open(dir, 64u << 10);
  cx_store_info in0;
  cr_assert_eq(cx_store_info_get(st, &in0), 0);
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  pthread_t th;
  pthread_create(&th, NULL, hold_reader, t);
  cx_batch_result res;
  load(100, 20, &res); /* needs to grow: waits for the reader's reset */
  pthread_join(th, NULL);
  cr_assert_eq(res.inserted, 2000);
  cx_store_info in;
  cr_assert_eq(cx_store_info_get(st, &in), 0);
  cr_assert_gt(in.map_size, in0.map_size);
  cr_assert_eq(cx_store_txn_renew(t), 0);
  cx_summary s;
  char c[19];
  fx_uscc(100, c);
  cr_assert_eq(cx_store_summary_get(t, c, &s), 0);
  cx_store_txn_end(t);
}

/* Every hit of an entity with n active blacklist records, newest first, across the summary
 * and its spill chunks; the summary itself keeps at most expect_main. */
static void expect_hits(const char c[19], size_t rid_len, int n, uint32_t expect_main,
                        int newest) {
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cx_summary s;
  cr_assert_eq(cx_store_summary_get(t, c, &s), 0);
  cr_assert_leq(s.n_hits, expect_main);
  if (n > (int)expect_main) cr_assert_geq(s.n_hits, expect_main * 9 / 10);
  int seen = 0;
  cx_summary part;
  for (uint32_t k = 0; k <= s.n_chunks; k++) {
    cr_assert_eq(cx_store_summary_chunk(t, &s, k, &part), 0, "part %u", k);
    cr_assert_gt(part.n_hits, 0);
    for (uint32_t i = 0; i < part.n_hits; i++, seen++) { /* newest first, none missing */
      cx_sum_hit h;
      cx_str rid;
      cx_summary_hit(&part, i, &h, &rid, NULL);
      cr_assert_eq(h.valid_from, fx_day(2020, 1, 1) + (cx_day)(newest - seen));
      cr_assert_eq(rid.n, rid_len);
      cr_assert_eq(atoi(rid.p), newest - seen);
    }
  }
  cr_assert_eq(seen, n);
  cr_assert_eq(cx_store_summary_chunk(t, &s, s.n_chunks + 1, &part), CX_EBADREQ);
  cx_store_txn_end(t);
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0);
}

/* Record id i padded with 'x' to rid_len bytes. */
static void many_rid(int i, size_t rid_len, char rid[200]) {
  memset(rid, 'x', 200);
  snprintf(rid, 200, "%06d", i);
  rid[6] = 'x';
  rid[rid_len] = 0;
}

/* One batch with event ev on records [from, to) of many_hits. */
static void many_events(size_t rid_len, int from, int to, int ev) {
  cx_batch *b;
  char rid[200];
  const char *why;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  for (int i = from; i < to; i++) {
    many_rid(i, rid_len, rid);
    cr_assert_eq(cx_batch_transition(b, cx_str_c(A1), cx_str_c(rid), ev, 0, CX_STR("t"), &why), 0);
  }
  cr_assert_eq(cx_batch_commit(b, NULL), 0);
}

static void put_blacklist(cx_batch *b, const char c[19], size_t rid_len, int i, int status) {
  char rid[200];
  many_rid(i, rid_len, rid);
  cx_record r;
  fx_record(&r, c, "多记录公司", A1, rid, fx_day(2020, 1, 1) + (cx_day)i);
  r.category = CX_CAT_BLACKLIST;
  r.list_type = CX_STR("court_dishonest");
  r.status = (uint8_t)status;
  fx_put(b, &r);
}

static void many_hits(size_t rid_len, int n, uint32_t expect_main) {
  char c[19];
  fx_uscc(77, c);
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  for (int i = 0; i < n; i++) put_blacklist(b, c, rid_len, i, CX_ST_ACTIVE);
  cr_assert_eq(cx_batch_commit(b, NULL), 0);
  expect_hits(c, rid_len, n, expect_main, n - 1);
  /* Repairing the newest half shrinks the index: chunks past the new end are deleted. */
  many_events(rid_len, n / 2, n, CX_EV_REPAIR);
  expect_hits(c, rid_len, n / 2, expect_main, n / 2 - 1);
  /* A re-feed of the same rows keeps them repaired */
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  for (int i = n / 2; i < n; i++) put_blacklist(b, c, rid_len, i, CX_ST_ACTIVE);
  cx_batch_result res;
  cr_assert_eq(cx_batch_commit(b, &res), 0);
  cr_assert_eq(res.kept, (uint32_t)(n - n / 2));
  expect_hits(c, rid_len, n / 2, expect_main, n / 2 - 1);
  /* and back by a new decision: the chunks come back */
  many_events(rid_len, n / 2, n, CX_EV_REINSTATE);
  expect_hits(c, rid_len, n, expect_main, n - 1);
}

Test(batch, hits_past_512_spill_into_chunks_newest_first) { many_hits(10, 1700, 512); }
Test(batch, hits_spill_when_the_string_area_is_full) { many_hits(128, 1200, 65535 / (128 + 18)); }

/* ---- strings: what may enter the store (store.h "text") ---- */

/* put must refuse r with why exactly `says`, and land nothing. */
static void refused_put(const cx_record *r, const char *says) {
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  const char *why = NULL;
  int rc = cx_batch_put(b, r, &why);
  cr_assert_eq(rc, CX_EBADREQ, "accepted (%s), should say: %s", cx_strerror(rc), says);
  cr_assert(why && strcmp(why, says) == 0, "why '%s', expected '%s'", why ? why : "", says);
  cr_assert_eq(cx_batch_size(b), 0);
  cx_batch_abort(b);
}

Test(batch, a_record_id_R_BAD_nul_hidden_is_refused_naming_the_field_and_the_byte) {
  char c[19];
  fx_uscc(5, c);
  cx_record r;
  fx_record(&r, c, "甲公司", A1, "R1", fx_day(2024, 1, 10));
  r.record_id = (cx_str){"R-BAD\0hidden", 12};
  refused_put(&r, "record_id: control character U+0000 at byte 5");
  r.record_id = (cx_str){"R-BAD\xFFhidden", 12};
  refused_put(&r, "record_id: invalid UTF-8 at byte 5");
}

Test(batch, invalid_utf8_and_control_characters_are_refused_in_every_string_field) {
  char c[19];
  fx_uscc(5, c);
  cx_record r, x;
  fx_record(&r, c, "甲公司", A1, "R1", fx_day(2024, 1, 10));
  r.category = CX_CAT_BLACKLIST;
  r.list_type = CX_STR("court_dishonest");
  r.measures = CX_STR("no_procurement");
  r.basis = CX_STR("《条例》");
  r.content = CX_STR("内容");
  struct { const char *field; size_t off; int free_text; } f[] = {
      {"record_id", offsetof(cx_record, record_id), 0},
      {"entity_name", offsetof(cx_record, entity_name), 0},
      {"authority_name", offsetof(cx_record, authority_name), 0},
      {"list_type", offsetof(cx_record, list_type), 0},
      {"measures", offsetof(cx_record, measures), 0},
      {"basis", offsetof(cx_record, basis), 1},
      {"content", offsetof(cx_record, content), 1},
      {"extra", offsetof(cx_record, extra), 1},
  }; /* the codes are stored normalised: their alphabet check refuses all of these */
  static const struct { const char *s; uint32_t n; const char *says; } bad[] = {
      {"ab\xC0\x80", 4, "invalid UTF-8 at byte 2"},         /* overlong NUL */
      {"ab\xED\xA0\x80", 5, "invalid UTF-8 at byte 2"},     /* surrogate */
      {"ab\xF4\x90\x80\x80", 6, "invalid UTF-8 at byte 2"}, /* past U+10FFFF */
      {"ab\x1b[2K", 6, "control character U+001B at byte 2"},
      {"ab\r", 3, "control character U+000D at byte 2"},
      {"ab\x7f", 3, "control character U+007F at byte 2"},
      {"ab\xC2\x9B", 4, "control character U+009B at byte 2"},
  };
  char says[128];
  for (size_t i = 0; i < sizeof f / sizeof *f; i++) {
    for (size_t k = 0; k < sizeof bad / sizeof *bad; k++) {
      x = r;
      *(cx_str *)((char *)&x + f[i].off) = (cx_str){bad[k].s, bad[k].n};
      snprintf(says, sizeof says, "%s: %s", f[i].field, bad[k].says);
      refused_put(&x, says);
    }
    x = r; /* TAB and LF: free text only */
    *(cx_str *)((char *)&x + f[i].off) = CX_STR("ab\tc\nd");
    if (!f[i].free_text) {
      snprintf(says, sizeof says, "%s: control character U+0009 at byte 2", f[i].field);
      refused_put(&x, says);
    } else {
      cx_batch *b;
      cr_assert_eq(cx_batch_begin(st, &b), 0);
      fx_put(b, &x);
      cx_batch_abort(b);
    }
  }
}

Test(batch, a_repair_reason_holding_an_escape_sequence_is_refused) {
  char c[19];
  fx_uscc(5, c);
  cx_batch *b;
  const char *why = NULL;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  cr_assert_eq(cx_batch_transition(b, cx_str_c(A1), CX_STR("R1"), CX_EV_REPAIR, 0,
                                   CX_STR("ok\x1b[2K\rfaked"), &why), CX_EBADREQ);
  cr_assert_str_eq(why, "reason: control character U+001B at byte 2");
  cr_assert_eq(cx_batch_transition(b, cx_str_c(A1), (cx_str){"R-BAD\0x", 7}, CX_EV_REPAIR, 0,
                                   CX_STR("fine"), &why), CX_EBADREQ);
  cr_assert_str_eq(why, "record_id: control character U+0000 at byte 5");
  cx_batch_abort(b); /* callers report why after aborting: it must outlive the batch */
  cr_assert_str_eq(why, "record_id: control character U+0000 at byte 5");
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  cr_assert_eq(cx_batch_transition(b, cx_str_c(A1), CX_STR("R1"), CX_EV_OBJECTION, 0,
                                   CX_STR("第一行\n第二行\t(TAB)"), &why), 0, "%s", why ? why : "");
  cx_batch_abort(b);
}

Test(batch, a_row_without_a_report_date_is_reported_on_its_receipt_day) {
  char c1[19];
  fx_uscc(1, c1);
  cx_day_set_today(fx_day(2024, 3, 12)); /* a Tuesday */
  cx_record r;
  fx_record(&r, c1, "一号", A1, "RR1", fx_day(2024, 3, 1));
  r.report_date = CX_DAY_NONE;
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  fx_put(b, &r);
  cr_assert_eq(cx_batch_commit(b, NULL), 0);
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cx_record got;
  cr_assert_eq(cx_store_record_get(t, cx_str_c(A1), CX_STR("RR1"), NULL, &got), 0);
  cr_assert_eq(got.report_date, fx_day(2024, 3, 12));
  cr_assert_eq(got.report_received, 1);
  cr_assert_eq(got.report_delay, 7, "2024-03-01 (Fri) to 03-12: 7 working days");
  cr_assert_eq(got.on_time, 1);
  cx_store_txn_reset(t);
  /* the same row again, later: the first receipt stays the report */
  cx_day_set_today(fx_day(2024, 5, 20));
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  fx_put(b, &r);
  cx_batch_result res;
  cr_assert_eq(cx_batch_commit(b, &res), 0);
  cr_assert_eq(res.unchanged, 1);
  cr_assert_eq(cx_store_txn_renew(t), 0);
  cr_assert_eq(cx_store_record_get(t, cx_str_c(A1), CX_STR("RR1"), NULL, &got), 0);
  cr_assert_eq(got.report_date, fx_day(2024, 3, 12));
  cx_store_txn_reset(t);
  /* a report date given by the source is the source's, not a receipt */
  r.report_date = fx_day(2024, 3, 4);
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  fx_put(b, &r);
  cr_assert_eq(cx_batch_commit(b, NULL), 0);
  cr_assert_eq(cx_store_txn_renew(t), 0);
  cr_assert_eq(cx_store_record_get(t, cx_str_c(A1), CX_STR("RR1"), NULL, &got), 0);
  cr_assert_eq(got.report_date, fx_day(2024, 3, 4));
  cr_assert_eq(got.report_received, 0);
  cx_store_txn_end(t);
  cx_day_set_today(0);
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0);
}

/* ---- the entity's kind decides which standard its code follows ---- */

/* A government body's all-digit code that also reads as an ID number (province 11, born
 * 1949-12-31, a check character both standards agree on). */
static void both_kinds_code(char out[19]) {
  for (unsigned k = 0; k < 10000; k++) {
    char c[19];
    snprintf(c, sizeof c, "11110119491231%04u", k); /* region 110119, org code 491231.. */
    c[16] = cx_orgcode_check_char(c + 8);
    c[17] = cx_uscc_check_char(c);
    c[18] = 0;
    if (c[16] >= '0' && c[16] <= '9' && cx_idcard_check_char(c) == c[17]) {
      char o[19];
      int person = -1;
      cr_assert_eq(cx_uscc_normalize(c, 18, o), 0, "%s", c);
      cr_assert_eq(cx_code_normalize(c, 18, o, &person), 0, "%s", c);
      cr_assert_eq(person, 1, "%s reads as an ID number", c);
      memcpy(out, c, 19);
      return;
    }
  }
  cr_assert_fail("no code of both kinds");
}

Test(batch, an_organisations_code_is_validated_as_a_uscc_only) {
  char c[19], p[19], u[19];
  both_kinds_code(c);
  fx_idcard(7, p);
  fx_uscc(7, u);
  cx_record r, x;
  fx_record(&r, c, "某某局", A1, "K1", fx_day(2024, 1, 10));
  r.entity_kind = CX_KIND_GOVERNMENT; /* before: refused, the code read as an ID number */
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  fx_put(b, &r);
  cr_assert_eq(cx_batch_commit(b, NULL), 0);
  cx_txn *t;
  cx_summary s;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cr_assert_eq(cx_store_summary_get(t, c, &s), 0);
  cr_assert_eq(s.kind, CX_KIND_GOVERNMENT);
  cr_assert_eq(s.region, 110119u); /* positions 3-8, not 1-6 */
  cx_store_txn_end(t);
  /* Each kind with the other kind's code says so; with a bad code, what is wrong and where. */
  x = r; x.entity_code = cx_str_c(p); x.entity_kind = CX_KIND_ENTERPRISE;
  expect_put_error(&x, CX_EINVALCODE, "entity_code: this entity_kind needs a USCC");
  x = r; x.entity_code = cx_str_c(u); x.entity_kind = CX_KIND_PERSON;
  expect_put_error(&x, CX_EINVALCODE, "entity_code: this entity_kind needs an ID number or a typed identifier");
  x = r; x.entity_code = CX_STR("93K20400X8N63MPU8H"); x.entity_kind = CX_KIND_ENTERPRISE;
  expect_put_error(&x, CX_EINVALCODE, "positions 3-8");
  x = r; x.entity_code = CX_STR("93K20400X8N63MPU8H"); x.entity_kind = CX_KIND_UNSET;
  expect_put_error(&x, CX_EINVALCODE, "positions 3-8");
  char badorg[19];
  memcpy(badorg, u, 19);
  badorg[16] = badorg[16] == '1' ? '2' : '1';
  badorg[17] = cx_uscc_check_char(badorg);
  x = r; x.authority_code = cx_str_c(badorg);
  expect_put_error(&x, CX_EINVALCODE, "authority_code: position 17");
  char id99[19] = "70010519491231002"; /* 9x: a permanent-residence number, checked as one */
  id99[17] = cx_idcard_check_char(id99);
  id99[18] = 0;
  x = r; x.entity_code = cx_str_c(id99); x.entity_kind = CX_KIND_PERSON;
  expect_put_error(&x, CX_EINVALCODE, "entity_code: positions 1-2 of the ID number");
}

/* The calendar holds the State Council notices through 2026: a report delay over a span that
 * touches 2027 (or the last week of 2026, which the 2027 notice may reach back into) is a guess,
 * and the batch says how many written records carry one. */
Test(batch, written_records_with_a_provisional_report_delay_are_counted) {
  cx_day_set_today(fx_day(2027, 6, 1));
  char c[19];
  fx_uscc(7, c);
  struct { const char *rid; cx_day dec, rep; int prov; } rows[] = {
      {"P1", fx_day(2025, 3, 3), fx_day(2025, 3, 5), 0},   /* published year */
      {"P2", fx_day(2026, 11, 2), fx_day(2026, 11, 6), 0}, /* published, far from December's end */
      {"P3", fx_day(2026, 12, 28), fx_day(2027, 1, 4), 1}, /* reaches into 2027 */
      {"P4", fx_day(2027, 3, 1), fx_day(2027, 3, 5), 1},   /* wholly 2027 */
      {"P5", fx_day(2026, 12, 21), fx_day(2026, 12, 29), 1}, /* the last week of 2026 */
  };
  size_t n = sizeof rows / sizeof rows[0];
  cx_batch *b;
  cx_batch_result res;
  cx_record recs[5];
  int want = 0;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  for (size_t i = 0; i < n; i++) {
    fx_record(&recs[i], c, "七号公司", A1, rows[i].rid, rows[i].dec);
    recs[i].report_date = rows[i].rep;
    fx_put(b, &recs[i]);
    want += rows[i].prov;
    cr_assert_eq(cx_calendar_span_provisional(cx_store_calendar(st), rows[i].dec, rows[i].rep),
                 rows[i].prov, "%s", rows[i].rid);
  }
  cr_assert_eq(cx_batch_commit(b, &res), 0);
  cr_assert_eq(res.inserted, n);
  cr_assert_eq(res.provisional, (uint32_t)want);
  /* the same rows again change nothing and count nothing */
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  for (size_t i = 0; i < n; i++) fx_put(b, &recs[i]);
  cr_assert_eq(cx_batch_commit(b, &res), 0);
  cr_assert_eq(res.unchanged, n);
  cr_assert_eq(res.provisional, 0);
  /* a corrected P4 (new content) is written, and counted again */
  recs[3].amount_fen = 100000;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  fx_put(b, &recs[3]);
  cr_assert_eq(cx_batch_commit(b, &res), 0);
  cr_assert_eq(res.replaced, 1);
  cr_assert_eq(res.provisional, 1);
  cx_day_set_today(0);
}

Test(batch, a_typed_identifier_lands_on_a_person_without_a_region) {
  cx_record r, x;
  fx_record(&r, "passport:usa:123 456 789", "John Smith", A1, "K-typed-1", fx_day(2024, 1, 10));
  r.entity_kind = CX_KIND_UNSET; /* derived: a typed identifier is a person's */
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  fx_put(b, &r);
  x = r;
  x.entity_code = CX_STR("hkmo:H1234567801"); /* old form: lands on the lifelong number */
  x.entity_kind = CX_KIND_PERSON;
  x.record_id = CX_STR("K-typed-2");
  fx_put(b, &x);
  cr_assert_eq(cx_batch_commit(b, NULL), 0);
  cx_txn *t;
  cx_summary s;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cr_assert_eq(cx_store_summary_get(t, "pUSA123456789-----", &s), 0);
  cr_assert_eq(s.kind, CX_KIND_PERSON);
  cr_assert_eq(s.region, 0u);
  cr_assert_eq(cx_store_summary_get(t, "hH12345678--------", &s), 0);
  cr_assert_eq(s.kind, CX_KIND_PERSON);
  cx_store_txn_end(t);
  /* Each kind its identifiers; each type its own reason. */
  x = r; x.entity_kind = CX_KIND_ENTERPRISE;
  expect_put_error(&x, CX_EINVALCODE, "entity_code: this entity_kind needs a USCC");
  x = r; x.entity_kind = CX_KIND_CIVIL_SERVANT;
  expect_put_error(&x, CX_EINVALCODE, "entity_code: a civil_servant is identified by an ID number");
  x = r; x.entity_code = CX_STR("passport:QQQ:123456789");
  expect_put_error(&x, CX_EINVALCODE, "entity_code: the issuing country");
  x = r; x.entity_code = CX_STR("tw:1234567");
  expect_put_error(&x, CX_EINVALCODE, "entity_code: a Taiwan permit number");
  x = r; x.entity_code = CX_STR("visa:1234567");
  expect_put_error(&x, CX_EINVALCODE, "entity_code: unknown identifier type");
}
