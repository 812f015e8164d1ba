/* chengxin agg --chart and --plot (tools/chengxin/chart.c): bounded bars (top N and one
 * "others" bar), a header naming the metric and the dimensions, a scale, rates as percentages,
 * Chinese labels aligned by display width; the PNG gnuplot draws from the same bars. */
#include <math.h>
#include <sys/stat.h>

#include "clitest.h"

TestSuite(chart, .init = cli_setup, .fini = cli_teardown, .timeout = 120);

static void store(void) { cr_assert_eq(cx("gen --db st --entities 600 --records 6000 --seed 11"), 0, "%s", slurp("err")); }

/* Lines of s (a copy; free lines[0]). */
static int lines_of(const char *s, char **lines, int cap) {
  char *c = strdup(s);
  int n = 0;
  for (char *save = NULL, *l = strtok_r(c, "\n", &save); l && n < cap; l = strtok_r(NULL, "\n", &save)) lines[n++] = l;
  if (!n) free(c);
  return n;
}

/* The display column where the bar area of a line starts: the first block or axis character. */
static size_t bar_column(const char *l) {
  static const char *const marks[] = {"█", "▏", "▎", "▍", "▌", "▋", "▊", "▉", "├"};
  const char *first = NULL;
  for (size_t i = 0; i < sizeof marks / sizeof marks[0]; i++) {
    const char *p = strstr(l, marks[i]);
    if (p && (!first || p < first)) first = p;
  }
  return first ? disp_width(l, (size_t)(first - l)) : (size_t)-1;
}

Test(chart, city_by_month_draws_the_top_n_and_one_others_bar_that_sums_the_rest) {
  store();
  cr_assert_eq(cx("agg --db st --by city,month --chart --top 10"), 0, "%s", slurp("err"));
  char *out = slurp("out"), *l[64];
  int n = lines_of(out, l, 64);
  cr_assert_str_eq(l[0], "count by city × month", "%s", out);
  cr_assert(strstr(l[1], "top 10 of ") && strstr(l[1], " rows by count; others: the other "), "%s", l[1]);
  int bars = 0, others = -1;
  for (int i = 2; i < n; i++) {
    if (strstr(l[i], " / ")) bars++;
    if (strncmp(l[i], "others (", 8) == 0) others = i;
  }
  cr_assert_eq(bars, 10, "ten city/month bars:\n%s", out);
  cr_assert_eq(others, 12, "the others bar after them:\n%s", out);
  cr_assert(strstr(l[13], "├") && strstr(l[13], "┤"), "a scale under the bars:\n%s", out);
  cr_assert(l[14][strspn(l[14], " ")] == '0', "the scale starts at 0:\n%s", out);
  /* others = total - the ten bars (from the csv of the same aggregate) */
  long long others_v = 0, total = 0;
  const char *v = strrchr(l[others], ' ');
  for (const char *p = v; *p; p++)
    if (*p >= '0' && *p <= '9') others_v = others_v * 10 + (*p - '0');
  cr_assert_eq(cx("agg --db st --by city,month --format csv --order count --desc"), 0);
  char *csv = slurp("out"), *c[4096];
  int rows = lines_of(csv, c, 4096);
  long long top = 0;
  for (int i = 1; i < rows; i++) {
    long long x = atoll(strrchr(c[i], ',') + 1);
    total += x;
    if (i <= 10) top += x;
  }
  cr_assert_gt(rows - 1, 11, "the store needs more rows than bars");
  cr_assert_eq(others_v, total - top, "others %lld, expected %lld - %lld:\n%s", others_v, total, top, out);
  char want[64], th[32];
  snprintf(th, sizeof th, "%d", rows - 1);
  if (rows - 1 >= 1000) snprintf(th, sizeof th, "%d,%03d", (rows - 1) / 1000, (rows - 1) % 1000);
  snprintf(want, sizeof want, "top 10 of %s rows", th);
  cr_assert(strstr(l[1], want), "%s / %s", l[1], want);
  free(c[0]);
  free(csv);
  /* Chinese labels: every bar and the scale start at the same display column */
  size_t col = bar_column(l[2]);
  for (int i = 2; i <= 13; i++) cr_assert_eq(bar_column(l[i]), col, "line %d misaligned:\n%s", i, out);
  free(l[0]);
  free(out);
}

Test(chart, every_metric_gets_a_chart_and_a_rate_is_a_percentage_without_an_others_bar) {
  store();
  cr_assert_eq(cx("agg --db st --by city --metrics count,on_time_rate --chart --top 5"), 0, "%s", slurp("err"));
  char *out = slurp("out");
  const char *rate = strstr(out, "\non_time_rate (%) by city\n");
  cr_assert(rate, "the rate is charted too:\n%s", out);
  cr_assert(strstr(rate, "rows are not shown (a rate cannot be summed)"), "%s", out);
  cr_assert(!strstr(rate, "others ("), "no others bar for a rate:\n%s", out);
  cr_assert(strstr(rate, "100%") && strstr(rate, "25%"), "a percentage scale:\n%s", out);
  cr_assert(strstr(rate, ".") && strstr(rate, "%\n"), "values as percentages:\n%s", out);
  cr_assert(strstr(out, "others ("), "the count chart has its others bar:\n%s", out);
  free(out);
}

Test(chart, rows_that_fit_keep_the_answer_order_and_order_keeps_the_first_n) {
  store();
  cr_assert_eq(cx("agg --db st --by category --chart"), 0, "%s", slurp("err"));
  cr_assert(!out_has("out", "others ("), "%s", slurp("out"));
  cr_assert(out_has("out", " rows\n"), "all rows: the note says how many:\n%s", slurp("out"));
  cr_assert_eq(cx("agg --db st --by city --order city --chart --top 3"), 0, "%s", slurp("err"));
  cr_assert(out_has("out", "first 3 of "), "%s", slurp("out"));
  cr_assert_eq(cx("agg --db st --by city --chart --top 0"), 2, "--top 0 is refused");
}

/* PNG: 8-byte signature, then the IHDR chunk with width and height (big-endian). */
static void png_size(const char *name, unsigned *w, unsigned *h, long *bytes) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", g_dir, name);
  FILE *f = fopen(path, "rb");
  cr_assert(f, "%s was not written: %s", name, slurp("err"));
  unsigned char b[24];
  cr_assert_eq(fread(b, 1, 24, f), 24u);
  cr_assert(memcmp(b, "\x89PNG\r\n\x1a\n", 8) == 0 && memcmp(b + 12, "IHDR", 4) == 0, "not a PNG");
  *w = (unsigned)b[16] << 24 | (unsigned)b[17] << 16 | (unsigned)b[18] << 8 | b[19];
  *h = (unsigned)b[20] << 24 | (unsigned)b[21] << 16 | (unsigned)b[22] << 8 | b[23];
  fseek(f, 0, SEEK_END);
  *bytes = ftell(f);
  fclose(f);
}

Test(chart, plot_writes_a_png_of_the_same_bounded_bars) {
  if (cx_test_sh("command -v gnuplot >/dev/null 2>&1") != 0) {
    cr_skip_test("gnuplot is not installed (scripts/deps.sh installs gnuplot-nox): --plot is not tested");
  }
  store();
  cr_assert_eq(cx("agg --db st --by city --metrics count,on_time_rate --plot 城市.png --top 8 --format csv"), 0, "%s",
               slurp("err"));
  cr_assert(out_has("err", "agg: wrote 城市.png"), "%s", slurp("err"));
  unsigned w, h;
  long bytes;
  png_size("城市.png", &w, &h, &bytes);
  /* two charts (count with 8 bars and others, the rate with 8): 1000 wide, 24 px a bar */
  cr_assert_eq(w, 1000u);
  cr_assert_eq(h, 2u * (110 + 24 * 9), "height %u", h);
  cr_assert_gt(bytes, 20000, "%ld bytes: too small for two charts with labels", bytes);
  cr_assert_lt(bytes, 2000000, "%ld bytes", bytes);
}
