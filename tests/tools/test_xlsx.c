/* chengxin --format xlsx (tools/chengxin/xlsx.c): every table command writes a workbook with
 * typed cells (numbers, Excel dates, percentages, yuan), a bold frozen header and widths that
 * fit Chinese text. The workbook is opened with python3's zipfile (tests/tools/xlsx_dump.py). */
#include <unistd.h>

#include "clitest.h"

TestSuite(xlsx, .init = cli_setup, .fini = cli_teardown, .timeout = 120);

static char A[19], AUTH[19];

/* Dumps FILE.xlsx into $dir/dump (xlsx_dump.py's lines). */
static void dump(const char *xlsx) {
  int rc = cx_test_sh("python3 '%s/tests/tools/xlsx_dump.py' '%s/%s' > '%s/dump' 2> '%s/dump.err'", cx_test_source_dir(),
                      g_dir, xlsx, g_dir, g_dir);
  cr_assert_eq(rc, 0, "%s is not a readable workbook: %s", xlsx, slurp("dump.err"));
}

/* The dump line of a cell ("cell\tSHEET\tREF\t..." without the prefix), or NULL. */
static char *cell_line(const char *sheet, const char *ref) {
  static char line[4096];
  char *d = slurp("dump"), key[128];
  snprintf(key, sizeof key, "cell\t%s\t%s\t", sheet, ref);
  char *p = strstr(d, key);
  if (!p) {
    free(d);
    return NULL;
  }
  p += strlen(key);
  size_t n = strcspn(p, "\n");
  snprintf(line, sizeof line, "%.*s", (int)n, p);
  free(d);
  return line;
}

/* Asserts a cell's type, number format, boldness and value ("TYPE\tFORMAT\tBOLD\tVALUE"). */
#define CELL_IS(sheet, ref, want)                                                                          \
  do {                                                                                                     \
    const char *got_ = cell_line(sheet, ref);                                                              \
    cr_assert(got_, "no cell %s!%s:\n%s", sheet, ref, slurp("dump"));                                      \
    cr_assert_str_eq(got_, want, "%s!%s", sheet, ref);                                                     \
  } while (0)

static void small_store(void) {
  uscc("91350100MA0000001", A);
  uscc("11350100003000001", AUTH);
  char csv[2048];
  snprintf(csv, sizeof csv,
           "entity_code,entity_name,record_id,authority_code,authority_name,category,severity,decision_date,"
           "amount_fen\n"
           "%s,福州市鼓楼区甲乙丙丁建设工程有限公司,=1+1,%s,福州市市场监督管理局,penalty,general,2024-03-05,123456\n",
           A, AUTH);
  spit("f.csv", csv);
  cr_assert_eq(cx("init --db st"), 0);
  cr_assert_eq(cx("import --db st f.csv"), 0, "%s", slurp("err"));
}

Test(xlsx, agg_writes_numbers_yuan_and_percentages_under_a_bold_frozen_header) {
  cr_assert_eq(cx("gen --db st --entities 300 --records 3000 --seed 5"), 0);
  const char *q = "agg --db st --by city --metrics count,amount,on_time_rate --order count --desc";
  cr_assert_eq(cx("%s --format xlsx --out a.xlsx", q), 0, "%s", slurp("err"));
  cr_assert_str_eq(slurp("out"), "", "--out: nothing on stdout");
  dump("a.xlsx");
  cr_assert(out_has("dump", "sheet\trows\tfrozen:ySplit=1\n"), "the header row is frozen:\n%s", slurp("dump"));
  CELL_IS("rows", "A1", "s\tGeneral\t1\tcity");
  CELL_IS("rows", "B1", "s\tGeneral\t1\tcity_code"); /* csv/json/xlsx: the code beside the name */
  CELL_IS("rows", "C1", "s\tGeneral\t1\tcount");
  CELL_IS("rows", "D1", "s\tGeneral\t1\tamount(元)");
  CELL_IS("rows", "E1", "s\tGeneral\t1\ton_time_rate");
  /* the same rows as JSON: values equal, cells typed */
  cr_assert_eq(cx("%s --format json", q), 0);
  json_t *j = out_json(), *r0 = json_array_get(j, 0);
  char want[256];
  snprintf(want, sizeof want, "s\tGeneral\t0\t%s", json_string_value(json_object_get(r0, "city")));
  CELL_IS("rows", "A2", want);
  snprintf(want, sizeof want, "n\t#,##0\t0\t%lld", (long long)json_integer_value(json_object_get(r0, "count")));
  CELL_IS("rows", "C2", want);
  const char *c2 = cell_line("rows", "D2");
  cr_assert(c2 && strncmp(c2, "n\t#,##0.00\t0\t", 13) == 0, "amount: a number in yuan, two decimals: %s", c2);
  cr_assert_float_eq(atof(c2 + 13), (double)json_integer_value(json_object_get(r0, "amount")) / 100.0, 0.005);
  const char *d2 = cell_line("rows", "E2");
  cr_assert(d2 && strncmp(d2, "n\t0.0%\t0\t", 9) == 0, "a rate: a number with a percent format: %s", d2);
  cr_assert_float_eq(atof(d2 + 9), json_real_value(json_object_get(r0, "on_time_rate")), 1e-9);
  /* the city column fits its longest name (a Chinese character counts two) */
  size_t longest = 0;
  for (size_t i = 0; i < json_array_size(j); i++) {
    const char *c = json_string_value(json_object_get(json_array_get(j, i), "city"));
    size_t w = disp_width(c, strlen(c));
    if (w > longest) longest = w;
  }
  char *d = slurp("dump"), *col = strstr(d, "col\trows\t1\t");
  cr_assert(col, "%s", d);
  double width = atof(col + strlen("col\trows\t1\t"));
  cr_assert(width >= (double)longest && width <= (double)longest + 4, "width %.1f for %zu columns of text", width, longest);
  free(d);
  json_decref(j);
}

Test(xlsx, records_write_dates_as_dates_amounts_in_yuan_and_text_never_as_a_formula) {
  small_store();
  cr_assert_eq(cx("records --db st %s --format xlsx --out r.xlsx", A), 0, "%s", slurp("err"));
  dump("r.xlsx");
  char *d = slurp("dump");
  cr_assert(strstr(d, "sheet\trecords\tfrozen:ySplit=1\n"), "%s", d);
  cr_assert(!strstr(d, "formula\t"), "no cell is a formula:\n%s", d);
  /* find the columns by their headers */
  char hdr[64];
  const char *refs[] = {"A", "B", "C", "D", "E", "F", "G", "H", "I", "J", "K", "L", "M", "N", "O", "P", "Q", "R", "S",
                        "T", "U", "V", "W", "X", "Y", "Z", "AA", "AB", "AC", "AD"};
  int seen = 0;
  for (size_t i = 0; i < sizeof refs / sizeof refs[0]; i++) {
    snprintf(hdr, sizeof hdr, "%s1", refs[i]);
    const char *h = cell_line("records", hdr);
    if (!h) break;
    h = strrchr(h, '\t') + 1;
    char ref[8], name[64];
    snprintf(ref, sizeof ref, "%s2", refs[i]);
    snprintf(name, sizeof name, "%s", h);
    const char *c = cell_line("records", ref);
    if (!strcmp(name, "decision_date")) {
      cr_assert_str_eq(c, "n\tyyyy-mm-dd\t0\t45356", "2024-03-05 as an Excel date (serial 45356)");
      seen |= 1;
    } else if (!strcmp(name, "amount(元)")) {
      cr_assert_str_eq(c, "n\t#,##0.00\t0\t1234.56", "123456 fen = 1,234.56 元");
      seen |= 2;
    } else if (!strcmp(name, "record_id")) {
      cr_assert_str_eq(c, "s\tGeneral\t0\t=1+1", "text, not a formula");
      seen |= 4;
    } else if (!strcmp(name, "objection")) {
      cr_assert_str_eq(c, "b\tGeneral\t0\t0");
      seen |= 8;
    } else if (!strcmp(name, "valid_until") && c) {
      cr_assert(strncmp(c, "n\tyyyy-mm-dd", 12) == 0 || strncmp(c, "s\tGeneral\t0\topen", 16) == 0, "%s", c);
    } else if (!strcmp(name, "entity_name")) {
      /* 18 Chinese characters: 36 columns, and the column is about that wide */
      char key[64], *col;
      snprintf(key, sizeof key, "col\trecords\t%zu\t", i + 1);
      cr_assert((col = strstr(d, key)), "%s", d);
      double w = atof(col + strlen(key));
      cr_assert(w >= 36 && w <= 40, "entity_name width %.1f", w);
      seen |= 16;
    }
  }
  cr_assert_eq(seen, 31, "columns found: %d\n%s", seen, d);
  free(d);
}

Test(xlsx, search_check_and_audit_write_workbooks_too_and_stdout_only_when_not_a_terminal) {
  small_store();
  cr_assert_eq(cx("search --db st 甲乙丙丁 --format xlsx --out s.xlsx"), 0, "%s", slurp("err"));
  dump("s.xlsx");
  cr_assert(out_has("dump", "frozen:ySplit=1"), "%s", slurp("dump"));
  cr_assert(out_has("dump", "福州市鼓楼区甲乙丙丁建设工程有限公司"), "%s", slurp("dump"));
  int rc = cx("check --db st --action procurement %s --format xlsx --out c.xlsx", A);
  cr_assert(rc == 0 || rc == 3 || rc == 4, "%d %s", rc, slurp("err"));
  dump("c.xlsx");
  CELL_IS("results", "A1", "s\tGeneral\t1\tcode");
  char want[64];
  snprintf(want, sizeof want, "s\tGeneral\t0\t%s", A);
  CELL_IS("results", "A2", want);
  cr_assert_eq(cx("audit --db st --format xlsx --out au.xlsx"), 0, "%s", slurp("err"));
  dump("au.xlsx");
  CELL_IS("audit", "B1", "s\tGeneral\t1\ttime");
  const char *t = cell_line("audit", "B2");
  cr_assert(t && strncmp(t, "n\tyyyy-mm-dd hh:mm:ss\t0\t", 24) == 0, "audit time as an Excel date-time: %s", t);
  t = cell_line("audit", "A2");
  cr_assert(t && strncmp(t, "n\t0\t0\t", 6) == 0, "seq: a number without separators: %s", t);
  /* standard output that is a file: the workbook goes there */
  cr_assert_eq(cx("agg --db st --by category --format xlsx"), 0, "%s", slurp("err"));
  char *o = slurp("out");
  cr_assert(memcmp(o, "PK\x03\x04", 4) == 0, "a zip on stdout");
  free(o);
  cr_assert_eq(cx_test_sh("cp '%s/out' '%s/o.xlsx'", g_dir, g_dir), 0);
  dump("o.xlsx");
  cr_assert(out_has("dump", "cell\trows\tA2\ts\tGeneral\t0\tpenalty"), "%s", slurp("dump"));
  /* a terminal: refused before the query runs (script(1) gives the command a pty) */
  if (cx_test_sh("command -v script >/dev/null 2>&1") != 0) cr_skip_test("no script(1): the terminal refusal is not tested");
  rc = cx_test_sh("cd '%s' && script -qec \"'%s' agg --db st --by category --format xlsx\" /dev/null > tty.out 2>&1",
                  g_dir, g_bin);
  cr_assert_eq(rc, 2, "xlsx to a terminal is a usage error: %s", slurp("tty.out"));
  cr_assert(out_has("tty.out", "give --out FILE.xlsx"), "%s", slurp("tty.out"));
  cr_assert(!out_has("tty.out", "PK"), "%s", slurp("tty.out"));
}

Test(xlsx, a_workbook_that_cannot_be_written_fails_the_command) {
  small_store();
  cr_assert_eq(cx("agg --db st --by category --format xlsx --out no-such-dir/a.xlsx"), 1);
  cr_assert(out_has("err", "no-such-dir/a.xlsx"), "%s", slurp("err"));
  cr_assert_eq(cx("agg --db st --by category --format csv --out no-such-dir/a.csv"), 1);
  cr_assert_eq(cx("agg --db st --by category --format csv --out a.csv"), 0);
  cr_assert(out_has("a.csv", "category,category_name,count\n"), "--out works for every format");
}
