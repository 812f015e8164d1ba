/* test_packpar.c — a batch's values packed on two threads (store/packpar.c): the stored bytes
 * are the ones one thread packs, value for value, and the store verifies. Real LMDB stores in
 * a temp dir; the helper thread forced on (cx__packpar_min = 1) or off. */
#include <stdint.h>

#include "fixture.h"
#include "store_int.h" /* cx__packpar_min, CX_REC_VERSION_Z */

static char dir[256];
static size_t saved_min;

static void setup(void) {
  cx_test_tmpdir(dir, sizeof dir);
  cx_day_set_today(fx_day(2025, 3, 1));
  saved_min = cx__packpar_min;
}
static void teardown(void) {
  cx__packpar_min = saved_min;
  cx_day_set_today(0);
  cx_test_rmrf(dir);
}
TestSuite(packpar, .init = setup, .fini = teardown);

#define N_RECORDS 3000u

static void rid_of(unsigned i, char *rid, size_t n) { snprintf(rid, n, "闽罚〔2024〕%u号", i); }

/* One batch of N_RECORDS records (content of varying length), packed with the dictionary the
 * batch trains; helper: whether a helper thread packs beside the writer. */
static cx_store *store_with(const char *name, int helper) {
  char p[300], code[CX_CODE_LEN + 1], auth[CX_CODE_LEN + 1], rid[48], content[400];
  snprintf(p, sizeof p, "%s/%s", dir, name);
  cx_store *st = fx_open(p, 0);
  cx_store_debug_zdict_min(st, 100);
  cx__packpar_min = helper ? 1 : SIZE_MAX;
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  for (unsigned i = 0; i < N_RECORDS; i++) {
    fx_uscc(1000 + i % 97, code);
    fx_auth(50 + i % 5, auth);
    rid_of(i, rid, sizeof rid);
    size_t n = 0;
    for (unsigned k = 0; k < 1 + i % 7; k++)
      n += (size_t)snprintf(content + n, sizeof content - n, "当事人销售不合格产品，货值%u元；", i * 13 + k);
    cx_record r;
    fx_record(&r, code, "福州贸易有限公司", auth, rid, fx_day(2020 + (int)(i % 5), 1 + (int)(i % 12), 1 + (int)(i % 28)));
    r.content = cx_str_c(content);
    fx_put(b, &r);
  }
  cx_batch_result res;
  int rc = cx_batch_commit(b, &res);
  cr_assert_eq(rc, 0, "commit: %s (%s)", cx_strerror(rc), res.error);
  cr_assert_eq(res.inserted, N_RECORDS);
  return st;
}

/* The stored bytes of record i (authority 50 + i % 5, its record_id). */
static size_t value_of(cx_store *st, unsigned i, unsigned char *v, size_t cap) {
  char auth[CX_CODE_LEN + 1], rid[48];
  fx_auth(50 + i % 5, auth);
  rid_of(i, rid, sizeof rid);
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cx_reckey k;
  cx_record r;
  int rc = cx_store_record_get(t, cx_str_c(auth), cx_str_c(rid), &k, &r);
  cr_assert_eq(rc, 0, "record %u: %s", i, cx_strerror(rc));
  cx_store_txn_end(t);
  size_t n = 0;
  cr_assert_eq(cx_store_debug_record_value(st, &k, v, cap, &n), 0);
  return n;
}

Test(packpar, two_threads_store_the_bytes_one_thread_packs) {
  cx_store *one = store_with("one", 0), *two = store_with("two", 1);
  unsigned packed = 0;
  for (unsigned i = 0; i < N_RECORDS; i++) {
    unsigned char a[8192], b[8192];
    size_t na = value_of(one, i, a, sizeof a), nb = value_of(two, i, b, sizeof b);
    cr_expect(na == nb && memcmp(a, b, na) == 0, "record %u: %zu bytes on one thread, %zu on two", i, na, nb);
    packed += a[0] == CX_REC_VERSION_Z;
  }
  cr_expect_gt(packed, N_RECORDS * 9 / 10, "the values are packed (%u of %u)", packed, N_RECORDS);
  cr_assert_eq(cx_store_verify(two, NULL, NULL), 0, "%s", cx_store_errmsg(two));
  unsigned char da[CX_DIGEST_LEN], db[CX_DIGEST_LEN];
  cr_assert_eq(cx_store_digest(one, da), 0);
  cr_assert_eq(cx_store_digest(two, db), 0);
  cr_expect_eq(memcmp(da, db, CX_DIGEST_LEN), 0, "same store");
  cx_store_close(one);
  cx_store_close(two);
}

Test(packpar, a_commit_that_fails_in_the_record_puts_writes_nothing) {
  cx_store *st = store_with("a", 1);
  char code[CX_CODE_LEN + 1], auth[CX_CODE_LEN + 1], rid[48];
  cx_store_debug_fail_after(st, 500); /* the helper is still packing when the puts stop */
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  for (unsigned i = 0; i < N_RECORDS; i++) {
    fx_uscc(2000 + i % 31, code);
    fx_auth(60, auth);
    snprintf(rid, sizeof rid, "second-%u", i);
    cx_record r;
    fx_record(&r, code, "厦门贸易有限公司", auth, rid, fx_day(2023, 5, 1 + (int)(i % 28)));
    fx_put(b, &r);
  }
  cx_batch_result res;
  cr_assert_eq(cx_batch_commit(b, &res), CX_EIO);
  cx_store_info in;
  cr_assert_eq(cx_store_info_get(st, &in), 0);
  cr_expect_eq(in.records, (uint64_t)N_RECORDS, "the failed batch wrote nothing");
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0, "%s", cx_store_errmsg(st));
  cx_store_close(st);
}

/* The batch that trains the store's first dictionary fails while the helper packs with it:
 * the abort frees that dictionary, so the helper must be joined first (a use after free that
 * ASan caught in CI, when a growing map made such a commit retry). */
Test(packpar, a_failed_commit_stops_the_helper_before_its_dictionary_goes) {
  /* a race: before the fix, ASan caught the unjoined helper in 6 of 6 runs of these rounds */
  char p[300], code[CX_CODE_LEN + 1], auth[CX_CODE_LEN + 1], rid[48];
  snprintf(p, sizeof p, "%s/fresh", dir);
  cx_store *st = fx_open(p, 0);
  cx_store_debug_zdict_min(st, 100);
  cx__packpar_min = 1;
  for (int round = 0; round < 6; round++) {
    cx_store_debug_fail_after(st, 1); /* the writer stops at once, the helper far from done */
    cx_batch *b;
    cr_assert_eq(cx_batch_begin(st, &b), 0);
    for (unsigned i = 0; i < 8 * N_RECORDS; i++) {
      fx_uscc(3000 + i % 41, code);
      fx_auth(70, auth);
      snprintf(rid, sizeof rid, "first-%u", i);
      cx_record r;
      fx_record(&r, code, "泉州贸易有限公司", auth, rid, fx_day(2022, 7, 1 + (int)(i % 28)));
      r.content = CX_STR("当事人未按规定公示年度报告，责令限期改正并处罚款");
      fx_put(b, &r);
    }
    cx_batch_result res;
    cr_assert_eq(cx_batch_commit(b, &res), CX_EIO);
  }
  cx_store_info in;
  cr_assert_eq(cx_store_info_get(st, &in), 0);
  cr_expect_eq(in.records, 0, "the failed batches wrote nothing");
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0, "%s", cx_store_errmsg(st));
  cx_store_close(st);
}
