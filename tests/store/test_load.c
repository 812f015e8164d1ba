/* test_load.c — load mode (cx_store_load_begin: batches as child txns of one long txn) and
 * cx_store_trim_map: batches land whole or not at all, the store is complete after every batch,
 * nothing is durable before a load commit, a map growth commits the load first, and trimming the
 * map changes nothing a reader sees. */
#include "fixture.h"

static char dir[256];
static cx_store *st;
static char A1[19];
static void setup(void) {
  cx_test_tmpdir(dir, sizeof dir);
  st = fx_open(dir, 0);
  fx_auth(1, A1);
}
static void teardown(void) {
  cx_store_close(st);
  cx_test_rmrf(dir);
}
TestSuite(load, .init = setup, .fini = teardown);

/* One batch: n_ent entities from first, per records each (record ids tagged with tag). */
static int batch(unsigned first, int n_ent, int per, const char *tag, cx_batch_result *res) {
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  for (int e = 0; e < n_ent; e++) {
    char c[19], name[64], rid[48];
    fx_uscc(first + (unsigned)e, c);
    snprintf(name, sizeof name, "载入%u有限公司", first + (unsigned)e);
    for (int i = 0; i < per; i++) {
      snprintf(rid, sizeof rid, "%s-%d-%d", tag, e, i);
      cx_record r;
      fx_record(&r, c, name, A1, rid, fx_day(2021 + i % 4, 1 + i % 12, 1 + e % 28));
      r.amount_fen = 100 * i;
      fx_put(b, &r);
    }
  }
  return cx_batch_commit(b, res);
}

static uint64_t records(void) {
  cx_store_info in;
  cr_assert_eq(cx_store_info_get(st, &in), 0);
  return in.records;
}

static void reopen(void) {
  cx_store_close(st);
  st = fx_open(dir, 0);
}

Test(load, batches_land_in_one_long_txn_and_the_store_verifies_after_the_load_commit) {
  cr_assert_eq(cx_store_load_begin(st), 0);
  cx_batch_result r;
  for (int k = 0; k < 4; k++) {
    char tag[16];
    snprintf(tag, sizeof tag, "L%d", k);
    cr_assert_eq(batch(100 + 50 * (unsigned)k, 60, 5, tag, &r), 0); /* entities overlap: rebuilt summaries */
    cr_assert_eq(r.inserted, 300);
  }
  cr_assert_eq(cx_store_load_end(st), 0);
  cr_assert_eq(records(), 1200);
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0);
  reopen(); /* durable */
  cr_assert_eq(records(), 1200);
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0);
}

Test(load, batches_not_load_committed_are_not_durable_and_leave_the_store_as_it_was) {
  cx_batch_result r;
  cr_assert_eq(batch(100, 20, 3, "before", &r), 0);
  cr_assert_eq(cx_store_load_begin(st), 0);
  cr_assert_eq(batch(200, 20, 3, "A", &r), 0);
  cr_assert_eq(batch(300, 20, 3, "B", &r), 0);
  cr_assert_eq(cx_store_load_commit(st), 0); /* A and B durable */
  cr_assert_eq(batch(400, 20, 3, "C", &r), 0);
  reopen(); /* a crash after C: close aborts the load txn */
  cr_assert_eq(records(), 180, "the batches up to the load commit, not C");
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0);
}

Test(load, a_failed_batch_is_undone_alone_and_the_load_goes_on) {
  cr_assert_eq(cx_store_load_begin(st), 0);
  cx_batch_result r;
  cr_assert_eq(batch(100, 20, 3, "A", &r), 0);
  cx_store_debug_fail_after(st, 10);
  cr_assert_eq(batch(200, 20, 3, "F", &r), CX_EIO);
  cr_assert_eq(batch(300, 20, 3, "B", &r), 0);
  cr_assert_eq(cx_store_load_end(st), 0);
  reopen();
  cr_assert_eq(records(), 120, "A and B, nothing of F");
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0);
}

Test(load, a_map_growth_commits_the_load_first) {
  cx_store_close(st);
  cx_test_rmrf(dir);
  cx_test_tmpdir(dir, sizeof dir);
  st = fx_open(dir, 2u << 20);
  cx_store_debug_zdict_min(st, UINT32_MAX); /* raw values, so that 6,000 records fill 2 MiB */
  cx_store_info in0;
  cr_assert_eq(cx_store_info_get(st, &in0), 0);
  cr_assert_eq(cx_store_load_begin(st), 0);
  cx_batch_result r;
  for (int k = 0; k < 6; k++) {
    char tag[16];
    snprintf(tag, sizeof tag, "G%d", k);
    cr_assert_eq(batch(100 + 100 * (unsigned)k, 100, 10, tag, &r), 0, "%s", cx_store_errmsg(st));
  }
  cx_store_info in;
  cr_assert_eq(cx_store_info_get(st, &in), 0);
  cr_assert_gt(in.map_size, in0.map_size, "the map grew");
  cr_assert_eq(cx_store_load_end(st), 0);
  cr_assert_eq(records(), 6000);
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0);
}

Test(load, not_in_bulk_mode) {
  cx_store_close(st);
  cx_store_opts o = {0};
  o.bulk = 1;
  cr_assert_eq(cx_store_open(dir, &o, &st), 0);
  cr_assert_eq(cx_store_load_begin(st), CX_EBADREQ);
}

Test(load, trimming_the_map_drops_its_pages_and_changes_nothing_read) {
  cx_batch_result r;
  cr_assert_eq(batch(100, 200, 10, "T", &r), 0);
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0); /* reads every page: they are mapped */
  int trimmed = -1;
  cr_assert_eq(cx_store_trim_map(st, UINT64_MAX, &trimmed), 0);
  cr_assert_eq(trimmed, 0, "under the bound: nothing to do");
  cr_assert_eq(cx_store_trim_map(st, 0, &trimmed), 0);
  cr_assert_eq(trimmed, 1, "the map was found and dropped");
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0);
  /* the bound is kept by commits (trimmed inside them) */
  cr_assert_eq(batch(400, 200, 10, "U", &r), 0);
  cr_assert_eq(r.inserted, 2000);
  cr_assert_eq(records(), 4000);
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0);
}
