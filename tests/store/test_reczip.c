/* test_reczip.c — compressed record values (store/reczip.c, layout in store_int.h "Record
 * value, version 2") and varint rollup cells: every field round-trips through raw (version 1)
 * and packed (version 2) values, through a dictionary change and a reopen; the digest does not
 * depend on the encoding; a training batch that aborts leaves no dictionary behind; a corrupt
 * value is CX_ECORRUPT with a message, never a crash. Real LMDB stores in a temp dir. */
#include <stdint.h>

#include "fixture.h"
#include "store_int.h" /* CX_REC_VERSION*, cx__cell_encode/decode */

static char dir[256];

static void setup(void) {
  cx_test_tmpdir(dir, sizeof dir);
  cx_day_set_today(fx_day(2025, 3, 1));
}
static void teardown(void) {
  cx_day_set_today(0);
  cx_test_rmrf(dir);
}
TestSuite(reczip, .init = setup, .fini = teardown);

static cx_store *open_at(const char *name) {
  char p[300];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  return fx_open(p, 0);
}

/* Record i's inputs: every string field differs from record to record (some long, some empty). */
typedef struct want {
  char code[CX_CODE_LEN + 1], auth[CX_CODE_LEN + 1], rid[32], name[64], aname[64];
  char basis[160], content[600], extra[96], list[16];
  cx_day decision, report, from, until, display;
  int64_t amount;
  uint8_t category, objection;
} want;

static void want_of(unsigned i, want *w) {
  memset(w, 0, sizeof *w);
  fx_uscc(1000 + i % 37, w->code);
  fx_auth(50 + i % 5, w->auth);
  snprintf(w->rid, sizeof w->rid, "闽罚〔2024〕%u号", i);
  snprintf(w->name, sizeof w->name, "福州第%u贸易有限公司", i % 37);
  snprintf(w->aname, sizeof w->aname, "福州市第%u市场监督管理局", 50 + i % 5);
  snprintf(w->basis, sizeof w->basis, "《中华人民共和国产品质量法》第%u条", 10 + i % 40);
  size_t n = 0;
  for (unsigned k = 0; k < 1 + i % 9; k++)
    n += (size_t)snprintf(w->content + n, sizeof w->content - n, "当事人销售不合格产品，货值%u元；", i * 7 + k);
  if (i % 3 == 0) {
    size_t en = 0;
    char v[32];
    snprintf(v, sizeof v, "value\t%u", i);
    cr_assert_eq(cx_extra_put(w->extra, sizeof w->extra, &en, CX_STR("source_row"), cx_str_c(v)), 0);
  }
  w->decision = fx_day(2020 + (int)(i % 5), 1 + (int)(i % 12), 1 + (int)(i % 28));
  w->report = i % 4 ? w->decision + 3 + (cx_day)(i % 11) : CX_DAY_NONE;
  w->from = w->decision;
  w->until = i % 2 ? CX_DAY_OPEN : w->decision + 400;
  w->display = i % 5 ? CX_DAY_NONE : w->decision + 700;
  w->amount = (int64_t)i * 123457 + 5;
  w->category = CX_CAT_PENALTY;
  w->objection = (uint8_t)(i % 7 == 0);
}

static void record_of(const want *w, cx_record *r) {
  fx_record(r, w->code, w->name, w->auth, w->rid, w->decision);
  r->authority_name = cx_str_c(w->aname);
  r->basis = cx_str_c(w->basis);
  r->content = cx_str_c(w->content);
  r->extra = cx_str_c(w->extra);
  r->report_date = w->report;
  r->valid_from = w->from;
  r->valid_until = w->until;
  r->display_until = w->display;
  r->amount_fen = w->amount;
  r->objection = w->objection;
}

/* Puts records lo..hi-1 in one batch. */
static void put_range(cx_store *st, unsigned lo, unsigned hi) {
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  for (unsigned i = lo; i < hi; i++) {
    want w;
    cx_record r;
    want_of(i, &w);
    record_of(&w, &r);
    fx_put(b, &r);
  }
  cx_batch_result res;
  int rc = cx_batch_commit(b, &res);
  cr_assert_eq(rc, 0, "commit: %s (%s)", cx_strerror(rc), res.error);
}

static int str_is(cx_str s, const char *c) { return s.n == strlen(c) && memcmp(s.p, c, s.n) == 0; }

/* Every field of record i as stored: the inputs, and what the store derives. Returns the
 * stored value's version byte and dictionary id. */
static void check_record(cx_store *st, unsigned i, int *version, unsigned *dict) {
  want w;
  want_of(i, &w);
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cx_reckey k;
  cx_record r;
  int rc = cx_store_record_get(t, cx_str_c(w.auth), cx_str_c(w.rid), &k, &r);
  cr_assert_eq(rc, 0, "record %u: %s (%s)", i, cx_strerror(rc), cx_store_errmsg(st));
  cr_expect(str_is(r.record_id, w.rid), "record %u: record_id", i);
  cr_expect(str_is(r.authority_code, w.auth), "record %u: authority_code", i);
  cr_expect(str_is(r.authority_name, w.aname), "record %u: authority_name", i);
  cr_expect(str_is(r.entity_code, w.code), "record %u: entity_code", i);
  cr_expect(str_is(r.entity_name, w.name), "record %u: entity_name", i);
  cr_expect(str_is(r.basis, w.basis), "record %u: basis", i);
  cr_expect(str_is(r.content, w.content), "record %u: content", i);
  cr_expect(str_is(r.extra, w.extra), "record %u: extra", i);
  cr_expect_eq(r.decision_date, w.decision, "record %u", i);
  cr_expect_eq(r.valid_from, w.from, "record %u", i);
  cr_expect_eq(r.valid_until, w.until, "record %u", i);
  cr_expect_eq(r.display_until, w.display, "record %u", i);
  cr_expect_eq(r.amount_fen, w.amount, "record %u", i);
  cr_expect_eq(r.objection, w.objection, "record %u", i);
  cr_expect_eq(r.category, w.category, "record %u", i);
  if (w.report != CX_DAY_NONE) cr_expect_eq(r.report_date, w.report, "record %u", i);
  cr_expect_eq(r.report_received, w.report == CX_DAY_NONE, "record %u", i);
  cr_expect_eq(r.seq, k.seq, "record %u", i);
  cr_expect_eq(r.entity_id, k.entity_id, "record %u", i);
  cr_expect_eq(r.decision_date, k.decision_date, "record %u", i);
  cr_expect_eq(r.region, 350100u, "record %u", i);
  cx_store_txn_end(t);
  unsigned char v[8192];
  size_t n = 0;
  cr_assert_eq(cx_store_debug_record_value(st, &k, v, sizeof v, &n), 0);
  cr_assert_gt(n, 2);
  *version = v[0];
  *dict = cx__rec_dict_id(v, n);
}

static uint32_t record_dict(cx_store *st) {
  cx_store_info in;
  cr_assert_eq(cx_store_info_get(st, &in), 0);
  return in.record_dict;
}

Test(reczip, raw_and_packed_values_round_trip_every_field) {
  cx_store *st = open_at("a");
  cx_store_debug_zdict_min(st, 100);
  put_range(st, 0, 40); /* under the bar: raw */
  cr_assert_eq(record_dict(st), 0, "40 values train nothing");
  put_range(st, 40, 400); /* trains dictionary 1 and is packed with it */
  cr_assert_eq(record_dict(st), 1);
  unsigned packed = 0;
  for (unsigned i = 0; i < 400; i++) {
    int ver;
    unsigned id;
    check_record(st, i, &ver, &id);
    if (i < 40) {
      cr_expect_eq(ver, CX_REC_VERSION, "record %u was written before the dictionary", i);
    } else if (ver == CX_REC_VERSION_Z) {
      cr_expect_eq(id, 1u, "record %u", i);
      packed++;
    }
  }
  cr_expect_gt(packed, 340u, "packed only when shorter: nearly every value is (%u of 360)", packed);
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0);
  cx_store_close(st);
  /* a fresh handle loads the dictionary from the store */
  st = open_at("a");
  for (unsigned i = 0; i < 400; i += 7) {
    int ver;
    unsigned id;
    check_record(st, i, &ver, &id);
  }
  cx_store_close(st);
}

Test(reczip, the_digest_does_not_depend_on_the_encoding) {
  cx_store *a = open_at("a"), *b = open_at("b");
  cx_store_debug_zdict_min(a, 100);
  cx_store_debug_zdict_min(b, UINT32_MAX); /* never trains: every value raw */
  put_range(a, 0, 300);
  put_range(b, 0, 300);
  cr_assert_eq(record_dict(a), 1);
  cr_assert_eq(record_dict(b), 0);
  unsigned char da[CX_DIGEST_LEN], db[CX_DIGEST_LEN];
  cr_assert_eq(cx_store_digest(a, da), 0);
  cr_assert_eq(cx_store_digest(b, db), 0);
  cr_expect_eq(memcmp(da, db, CX_DIGEST_LEN), 0, "same content, same digest");
  cx_store_close(a);
  cx_store_close(b);
}

Test(reczip, a_new_dictionary_keeps_older_values_readable) {
  cx_store *st = open_at("a");
  cx_store_debug_zdict_min(st, 100);
  put_range(st, 0, 300);
  cr_assert_eq(record_dict(st), 1);
  cr_assert_eq(cx_store_debug_zdict_retrain(st), 0, "%s", cx_store_errmsg(st));
  cr_assert_eq(record_dict(st), 2);
  put_range(st, 300, 360); /* small batch: packed with dictionary 2, nothing trained */
  cr_assert_eq(record_dict(st), 2);
  /* a replacement of a dictionary-1 record is written with dictionary 2 */
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  want w;
  cx_record r;
  want_of(5, &w);
  record_of(&w, &r);
  r.amount_fen = w.amount; /* same content: unchanged, not rewritten */
  fx_put(b, &r);
  cx_batch_result res;
  cr_assert_eq(cx_batch_commit(b, &res), 0, "%s", res.error);
  cr_expect_eq(res.unchanged, 1, "a re-sent packed record compares equal to its raw form");
  unsigned by_dict[3] = {0, 0, 0};
  for (unsigned i = 0; i < 360; i++) {
    int ver;
    unsigned id;
    check_record(st, i, &ver, &id);
    cr_assert_leq(id, 2u);
    by_dict[id]++;
    if (i >= 300 && ver == CX_REC_VERSION_Z) cr_expect_eq(id, 2u, "record %u", i);
  }
  cr_expect_gt(by_dict[1], 250u);
  cr_expect_gt(by_dict[2], 50u);
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0);
  cx_store_close(st);
  st = open_at("a");
  for (unsigned i = 0; i < 360; i += 5) {
    int ver;
    unsigned id;
    check_record(st, i, &ver, &id);
  }
  cx_store_close(st);
}

/* A server's store gets small batches: none trains, so the batch that takes the store past the
 * bar trains the first dictionary on the records stored so far and is packed with it. */
Test(reczip, small_batches_train_on_the_stored_records) {
  cx_store *st = open_at("a");
  cx_store_debug_zdict_min(st, 100);
  for (unsigned lo = 0; lo < 90; lo += 30) put_range(st, lo, lo + 30);
  cr_assert_eq(record_dict(st), 0, "90 stored records: under the bar");
  put_range(st, 90, 120); /* 90 stored + 30: past 100 */
  cr_assert_eq(record_dict(st), 1, "%s", cx_store_errmsg(st));
  put_range(st, 120, 150);
  cr_assert_eq(record_dict(st), 1, "one dictionary: no retraining per batch");
  unsigned packed = 0;
  for (unsigned i = 0; i < 150; i++) {
    int ver;
    unsigned id;
    check_record(st, i, &ver, &id);
    if (i < 90) cr_expect_eq(ver, CX_REC_VERSION, "record %u was stored before the dictionary", i);
    else if (ver == CX_REC_VERSION_Z) {
      cr_expect_eq(id, 1u, "record %u", i);
      packed++;
    }
  }
  cr_expect_gt(packed, 50u, "the batches from the one that trained on are packed (%u of 60)", packed);
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0);
  cx_store_close(st);
}

Test(reczip, a_training_batch_that_fails_leaves_no_dictionary) {
  cx_store *st = open_at("a");
  cx_store_debug_zdict_min(st, 100);
  cx_store_debug_fail_after(st, 10);
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  for (unsigned i = 0; i < 200; i++) {
    want w;
    cx_record r;
    want_of(i, &w);
    record_of(&w, &r);
    fx_put(b, &r);
  }
  cx_batch_result res;
  cr_assert_eq(cx_batch_commit(b, &res), CX_EIO);
  cr_assert_eq(record_dict(st), 0);
  /* other content this time: a dictionary of the aborted batch would not decode it */
  put_range(st, 1000, 1200);
  cr_assert_eq(record_dict(st), 1);
  for (unsigned i = 1000; i < 1200; i += 3) {
    int ver;
    unsigned id;
    check_record(st, i, &ver, &id);
  }
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0);
  cx_store_close(st);
  /* what another process sees: the dictionary the store holds decodes every value */
  st = open_at("a");
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0);
  for (unsigned i = 1000; i < 1200; i += 3) {
    int ver;
    unsigned id;
    check_record(st, i, &ver, &id);
  }
  cx_store_close(st);
}

/* Nested walks of one txn: the inner one decodes with its own decoder. */
typedef struct nest {
  cx_txn *t;
  unsigned outer, inner;
  int bad;
} nest;
static int inner_fn(void *ctx, const cx_reckey *k, const cx_record *r) {
  nest *x = ctx;
  (void)k;
  x->inner++;
  if (r->entity_code.n != CX_CODE_LEN || r->record_id.n < 10) x->bad = 1;
  return 0;
}
static int outer_fn(void *ctx, const cx_reckey *k, const cx_record *r) {
  nest *x = ctx;
  char rid[64];
  snprintf(rid, sizeof rid, "%.*s", (int)r->record_id.n, r->record_id.p);
  if (x->outer++ < 3 && cx_store_records_each(x->t, k->entity_id, NULL, inner_fn, x) != 0) x->bad = 1;
  /* the outer record's strings survived the inner walk */
  if (!str_is(r->record_id, rid) || strncmp(rid, "闽罚", strlen("闽罚")) != 0) x->bad = 1;
  return 0;
}

Test(reczip, nested_walks_decode_independently) {
  cx_store *st = open_at("a");
  cx_store_debug_zdict_min(st, 100);
  put_range(st, 0, 300);
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  nest x = {t, 0, 0, 0};
  cr_assert_eq(cx_store_records_scan(t, outer_fn, &x), 0);
  cr_expect_eq(x.outer, 300);
  cr_expect_gt(x.inner, 0);
  cr_expect_eq(x.bad, 0);
  cx_store_txn_end(t);
  cx_store_close(st);
}

static int rec_get(cx_store *st, unsigned i, cx_reckey *k) {
  want w;
  want_of(i, &w);
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cx_record r;
  int rc = cx_store_record_get(t, cx_str_c(w.auth), cx_str_c(w.rid), k, &r);
  cx_store_txn_end(t);
  return rc;
}

Test(reczip, a_corrupt_value_is_CX_ECORRUPT_with_a_message) {
  cx_store *st = open_at("a");
  cx_store_debug_zdict_min(st, 100);
  put_range(st, 0, 300);
  cx_reckey k;
  cr_assert_eq(rec_get(st, 100, &k), 0);
  unsigned char v[8192], bad[8192];
  size_t n;
  cr_assert_eq(cx_store_debug_record_value(st, &k, v, sizeof v, &n), 0);
  cr_assert_eq(v[0], CX_REC_VERSION_Z);
  struct {
    const char *what, *msg;
    size_t at, len;
    unsigned char byte;
  } cases[] = {
    {"unknown dictionary", "dictionary 9", 1, 0, 9},
    {"dictionary 0", "dictionary id 0", 1, 0, 0},
    {"frame bytes", "do not decode", 0, 0, 0},
    {"truncated", "", 0, 6, 0},
    {"length too long", "length", 2, 0, 0xff},
    {"unknown version", "version", 0, 0, 7},
  };
  for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
    memcpy(bad, v, n);
    size_t bn = n;
    if (!strcmp(cases[c].what, "frame bytes")) {
      for (size_t j = n / 2; j < n; j++) bad[j] ^= 0x5a;
    } else if (cases[c].len) {
      bn = cases[c].len;
    } else {
      bad[cases[c].at] = cases[c].byte;
      if (cases[c].at == 2) { /* a 5-byte varint beyond CX_REC_STR_MAX */
        bad[2] = bad[3] = bad[4] = bad[5] = 0xff;
        bad[6] = 0x0f;
      }
    }
    cr_assert_eq(cx_store_debug_put_record(st, &k, bad, bn), 0);
    cx_reckey k2;
    int rc = rec_get(st, 100, &k2);
    cr_expect_eq(rc, CX_ECORRUPT, "%s: %s", cases[c].what, cx_strerror(rc));
    if (cases[c].msg[0])
      cr_expect(strstr(cx_store_errmsg(st), cases[c].msg), "%s: message \"%s\"", cases[c].what, cx_store_errmsg(st));
    cr_expect_gt(cx_store_verify(st, NULL, NULL), 0, "%s: verify sees it", cases[c].what);
  }
  /* restored: fine again */
  cr_assert_eq(cx_store_debug_put_record(st, &k, v, n), 0);
  cr_expect_eq(rec_get(st, 100, &k), 0);
  cr_expect_eq(cx_store_verify(st, NULL, NULL), 0);
  cx_store_close(st);
}

Test(reczip, rollup_cells_round_trip_as_varints) {
  int64_t vals[] = {0, 1, -1, 63, 64, -64, -65, 127, 128, 300, 1LL << 40, -(1LL << 40), INT64_MAX, INT64_MIN};
  size_t nv = sizeof vals / sizeof vals[0];
  for (size_t i = 0; i < nv; i++) {
    cx_rollup_cell c = {vals[i], vals[(i + 1) % nv], vals[(i + 2) % nv], vals[(i + 3) % nv],
                        vals[(i + 4) % nv], vals[(i + 5) % nv]}, d;
    unsigned char buf[CX_ROLLUP_VAL_MAX];
    size_t n = cx__cell_encode(&c, buf);
    cr_assert(n >= 6 && n <= CX_ROLLUP_VAL_MAX);
    cr_assert_eq(cx__cell_decode(buf, n, &d), 0);
    cr_expect_eq(memcmp(&c, &d, sizeof c), 0, "cell %zu", i);
    cr_expect_eq(cx__cell_decode(buf, n - 1, &d), CX_ECORRUPT, "short cell %zu", i);
    buf[n] = 0;
    cr_expect_eq(cx__cell_decode(buf, n + 1, &d), CX_ECORRUPT, "long cell %zu", i);
  }
  cx_rollup_cell small = {3, 120000, 2, 1, 9, 0};
  unsigned char buf[CX_ROLLUP_VAL_MAX];
  cr_expect_leq(cx__cell_encode(&small, buf), 10u, "a typical cell is a few bytes");
}

/* A packed copy (chengxin compact): full pages, record values packed again; a store without a
 * dictionary gets one trained on its records. */
static void packed_copy_of(cx_store *st, unsigned lo, unsigned hi, uint32_t dict_want) {
  unsigned char d0[CX_DIGEST_LEN], d1[CX_DIGEST_LEN];
  cr_assert_eq(cx_store_digest(st, d0), 0);
  char out[300];
  snprintf(out, sizeof out, "%s/copy", dir);
  int rc = cx_store_backup_packed(st, out);
  cr_assert_eq(rc, 0, "%s (%s)", cx_strerror(rc), cx_store_errmsg(st));
  cr_expect_eq(cx_store_backup_packed(st, out), CX_EEXIST);
  cx_store *cp = open_at("copy");
  cr_assert_eq(record_dict(cp), dict_want);
  cr_assert_eq(cx_store_verify(cp, NULL, NULL), 0);
  cr_assert_eq(cx_store_digest(cp, d1), 0);
  cr_expect_eq(memcmp(d0, d1, CX_DIGEST_LEN), 0, "the copy holds the same content");
  unsigned packed = 0;
  for (unsigned i = lo; i < hi; i++) {
    int ver;
    unsigned id;
    check_record(cp, i, &ver, &id);
    packed += ver == CX_REC_VERSION_Z;
    if (ver == CX_REC_VERSION_Z) cr_expect_eq(id, dict_want, "record %u", i);
  }
  cr_expect_gt(packed, (hi - lo) * 9 / 10, "%u of %u packed", packed, hi - lo);
  /* and the copy takes writes, packed with its dictionary */
  put_range(cp, hi, hi + 20);
  int ver;
  unsigned id;
  check_record(cp, hi + 3, &ver, &id);
  cr_expect_eq(id, dict_want);
  cx_store_close(cp);
}

Test(reczip, a_packed_copy_trains_a_dictionary_for_a_store_without_one) {
  cx_store *st = open_at("a");
  cx_store_debug_zdict_min(st, UINT32_MAX);
  for (unsigned lo = 0; lo < 2400; lo += 600) put_range(st, lo, lo + 600);
  cr_assert_eq(record_dict(st), 0);
  packed_copy_of(st, 0, 2400, 1);
  cx_store_close(st);
}

Test(reczip, a_packed_copy_keeps_the_stores_dictionary) {
  cx_store *st = open_at("a");
  cx_store_debug_zdict_min(st, 100);
  put_range(st, 0, 300);
  cr_assert_eq(cx_store_debug_zdict_retrain(st), 0);
  put_range(st, 300, 400);
  cr_assert_eq(record_dict(st), 2);
  packed_copy_of(st, 0, 400, 2);
  cx_store_close(st);
}
