/* test_datafiles.c — data_put rebuilds, backup, bulk mode, scans and rollup month ranges. */
#include "fixture.h"

static char dir[256];
static cx_store *st;
static char A1[19], C1[19];
static void setup(void) {
  cx_test_tmpdir(dir, sizeof dir);
  st = fx_open(dir, 0);
  fx_auth(1, A1);
  fx_uscc(1, C1);
}
static void teardown(void) {
  if (st) cx_store_close(st);
  cx_test_rmrf(dir);
}
TestSuite(datafiles, .init = setup, .fini = teardown);

static void put_blacklist(cx_store *s, const char *rid, cx_day d, cx_day report) {
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(s, &b), 0);
  cx_record r;
  fx_record(&r, C1, "甲公司", A1, rid, d);
  r.category = CX_CAT_BLACKLIST;
  r.list_type = CX_STR("court_dishonest");
  r.report_date = report;
  r.amount_fen = 1234;
  fx_put(b, &r);
  cr_assert_eq(cx_batch_commit(b, NULL), 0);
}

static uint64_t hit_mask(void) {
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cx_summary s;
  cr_assert_eq(cx_store_summary_get(t, C1, &s), 0);
  cx_sum_hit h;
  uint64_t m = 0;
  if (s.n_hits) {
    cx_summary_hit(&s, 0, &h, NULL, NULL);
    m = h.measures;
  }
  cx_store_txn_end(t);
  return m;
}

Test(datafiles, catalog_put_rebuilds_summaries) {
  put_blacklist(st, "B1", fx_day(2024, 4, 1), CX_DAY_NONE);
  uint64_t before = hit_mask();
  const cx_catalog *cat = cx_store_catalog(st);
  int li = cx_catalog_list(cat, CX_STR("court_dishonest"));
  cr_assert_eq(before, cat->lists[li].defaults);
  /* the same catalogue with court_dishonest's defaults cut to one measure */
  const char *line = strstr(cx_data_catalog, "list\tcourt_dishonest\t");
  cr_assert_not_null(line);
  const char *tab = line;
  for (int i = 0; i < 4; i++) tab = strchr(tab, '\t') + 1; /* start of the defaults column */
  const char *eol = strchr(tab, '\n');
  size_t n = cx_data_catalog_len;
  char *text = malloc(n + 32);
  size_t pre = (size_t)(tab - cx_data_catalog);
  memcpy(text, cx_data_catalog, pre);
  size_t m = pre + (size_t)sprintf(text + pre, "review_license");
  memcpy(text + m, eol, n - (size_t)(eol - cx_data_catalog));
  m += n - (size_t)(eol - cx_data_catalog);
  int bad = 0;
  cr_assert_eq(cx_store_data_put(st, "catalog", text, m, &bad), 0, "%s", cx_store_errmsg(st));
  cat = cx_store_catalog(st);
  int mi = cx_catalog_measure(cat, CX_STR("review_license"));
  cr_assert_eq(hit_mask(), 1ull << mi);
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0);
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cx_str stored;
  cr_assert_eq(cx_store_data_get(t, "catalog", &stored), 0);
  cr_assert_eq(stored.n, m);
  cx_store_txn_end(t);
  /* survives a reopen */
  cx_store_close(st);
  st = fx_open(dir, 0);
  cr_assert_eq(hit_mask(), 1ull << mi);
  free(text);
  /* a bad file is refused with its line */
  cr_assert_eq(cx_store_data_put(st, "catalog", "list\tx\n", 7, &bad), CX_EBADREQ);
  cr_assert_eq(bad, 1);
  cr_assert_eq(cx_store_data_put(st, "nothing", "", 0, &bad), CX_EBADREQ);
}

static int sum_delay(void *ctx, uint32_t month, const uint32_t *dims, const cx_rollup_cell *c) {
  (void)month; (void)dims;
  int64_t *x = ctx;
  x[0] += c->delay_sum;
  x[1] += c->on_time;
  x[2] += c->count;
  return 0;
}

Test(datafiles, calendar_put_recomputes_delays_and_rollups) {
  /* Mon 2031-03-03 -> Mon 2031-03-10: 5 working days with no holidays in the file */
  put_blacklist(st, "B1", fx_day(2031, 3, 3), fx_day(2031, 3, 10));
  cx_txn *t;
  cx_record r;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cr_assert_eq(cx_store_record_get(t, cx_str_c(A1), CX_STR("B1"), NULL, &r), 0);
  cr_assert_eq(r.report_delay, 5);
  cx_store_txn_end(t);
  const char *cal = "2031-03-04\tholiday\t测试\n2031-03-05\tholiday\t测试\n";
  int bad = 0;
  cr_assert_eq(cx_store_data_put(st, "calendar", cal, strlen(cal), &bad), 0, "%s", cx_store_errmsg(st));
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cr_assert_eq(cx_store_record_get(t, cx_str_c(A1), CX_STR("B1"), NULL, &r), 0);
  cr_assert_eq(r.report_delay, 3);
  int64_t x[3] = {0, 0, 0};
  cr_assert_eq(cx_store_rollup_each(t, 0, 0, 0xFFFF, sum_delay, x), 0);
  cr_assert_eq(x[0], 3);
  cr_assert_eq(x[2], 1);
  cx_store_txn_end(t);
  cr_assert(cx_calendar_is_workday(cx_store_calendar(st), fx_day(2031, 3, 6)));
  cr_assert(!cx_calendar_is_workday(cx_store_calendar(st), fx_day(2031, 3, 4)));
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0);
  cr_assert_eq(cx_store_data_put(st, "calendar", "bad line\n", 9, &bad), CX_EBADREQ);
}

Test(datafiles, regions_put_replaces_the_table) {
  const char *reg = "350000\t福建省\n350100\t福州市\n";
  int bad = 0;
  cr_assert_eq(cx_store_data_put(st, "regions", reg, strlen(reg), &bad), 0, "%s", cx_store_errmsg(st));
  cx_store_info in;
  cr_assert_eq(cx_store_info_get(st, &in), 0);
  cr_assert_eq(in.regions, 2);
  cx_txn *t;
  cx_str name;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cr_assert_eq(cx_store_region_name(t, 350100, &name), 0);
  cr_assert_eq(cx_store_region_name(t, 110000, &name), CX_ENOTFOUND);
  cx_store_txn_end(t);
}

static int count_rec(void *ctx, const cx_reckey *k, const cx_record *r) {
  (void)k; (void)r;
  (*(int *)ctx)++;
  return 0;
}

static int months_fn(void *ctx, uint32_t month, const uint32_t *dims, const cx_rollup_cell *c) {
  (void)dims;
  uint32_t *x = ctx;
  if (month < x[0]) x[0] = month;
  if (month > x[1]) x[1] = month;
  x[2] += (uint32_t)c->count;
  return 0;
}

Test(datafiles, backup_opens_and_answers_the_same) {
  for (int i = 0; i < 30; i++) {
    char rid[16];
    snprintf(rid, sizeof rid, "B%d", i);
    put_blacklist(st, rid, fx_day(2020, 1 + i % 12, 1 + i), CX_DAY_NONE);
  }
  char out[512];
  snprintf(out, sizeof out, "%s/backup", dir);
  cr_assert_eq(cx_store_backup(st, out), 0, "%s", cx_store_errmsg(st));
  cx_store_opts o = {.read_only = 1};
  cx_store *bk;
  cr_assert_eq(cx_store_open(out, &o, &bk), 0);
  cx_store_info a, b;
  cr_assert_eq(cx_store_info_get(st, &a), 0);
  cr_assert_eq(cx_store_info_get(bk, &b), 0);
  cr_assert_eq(a.records, b.records);
  cr_assert_eq(a.entities, b.entities);
  cr_assert_eq(a.rollup_cells, b.rollup_cells);
  cr_assert_eq(a.salt, b.salt);
  cx_txn *t1, *t2;
  cr_assert_eq(cx_store_txn_begin(st, &t1), 0);
  cr_assert_eq(cx_store_txn_begin(bk, &t2), 0);
  cx_summary s1, s2;
  cr_assert_eq(cx_store_summary_get(t1, C1, &s1), 0);
  cr_assert_eq(cx_store_summary_get(t2, C1, &s2), 0);
  cr_assert_eq(s1.n_recs, 30);
  cr_assert_eq(s1.n_recs, s2.n_recs);
  cr_assert_eq(memcmp(s1.hits_, s2.hits_, (size_t)(s1.strs_ - s1.hits_)), 0);
  int n1 = 0, n2 = 0;
  cr_assert_eq(cx_store_records_scan(t1, count_rec, &n1), 0);
  cr_assert_eq(cx_store_records_scan(t2, count_rec, &n2), 0);
  cr_assert_eq(n1, 30);
  cr_assert_eq(n2, 30);
  /* months: Jan..Mar 2020 only */
  uint32_t x[3] = {UINT32_MAX, 0, 0};
  uint32_t jan = cx_day_month(fx_day(2020, 1, 1)), mar = cx_day_month(fx_day(2020, 3, 1));
  cr_assert_eq(cx_store_rollup_each(t2, 1, jan, mar, months_fn, x), 0);
  cr_assert_eq(x[0], jan);
  cr_assert_eq(x[1], mar);
  cr_assert_eq(x[2], 9); /* i % 12 in {0,1,2}: i = 0,1,2,12,13,14,24,25,26 */
  cx_store_txn_end(t1);
  cx_store_txn_end(t2);
  cr_assert_eq(cx_store_verify(bk, NULL, NULL), 0);
  cx_store_close(bk);
}

Test(datafiles, bulk_mode_is_synced_at_close) {
  cx_store_close(st);
  cx_store_opts o = {.bulk = 1};
  cr_assert_eq(cx_store_open(dir, &o, &st), 0);
  put_blacklist(st, "B1", fx_day(2024, 4, 1), CX_DAY_NONE);
  cx_store_close(st);
  st = fx_open(dir, 0);
  cx_store_info in;
  cr_assert_eq(cx_store_info_get(st, &in), 0);
  cr_assert_eq(in.records, 1);
}
