/* test_calendar.c — the working-day calendar and the shipped holiday file (store/calendar.c). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

static cx_calendar *cal;

static void setup(void) {
  cal = malloc(sizeof *cal);
  cr_assert_not_null(cal);
  int bad = -1;
  cr_assert_eq(cx_calendar_parse(cx_data_calendar, cx_data_calendar_len, cal, &bad), 0, "bad line %d", bad);
}
static void teardown(void) { free(cal); }

static cx_day day(const char *s) {
  cx_day d = 0;
  cr_assert_eq(cx_day_parse(cx_str_c(s), &d), 0, "%s", s);
  return d;
}

/* Reference: count day by day. */
static int32_t slow_workdays(const cx_calendar *c, cx_day a, cx_day b) {
  int32_t n = 0;
  for (cx_day d = a + 1; d <= b && b > a; d++) n += cx_calendar_is_workday(c, d);
  return n;
}

TestSuite(calendar, .init = setup, .fini = teardown);

Test(calendar, spring_festival_2024_with_adjusted_working_days) {
  cr_assert(cx_calendar_is_workday(cal, day("2024-02-04")));  /* Sunday, 调休 */
  cr_assert(cx_calendar_is_workday(cal, day("2024-02-09")));  /* Friday before the break */
  cr_assert(!cx_calendar_is_workday(cal, day("2024-02-10"))); /* Saturday, 春节 */
  cr_assert(!cx_calendar_is_workday(cal, day("2024-02-12"))); /* Monday, 春节 */
  cr_assert(!cx_calendar_is_workday(cal, day("2024-02-16"))); /* Friday, 春节 */
  cr_assert(cx_calendar_is_workday(cal, day("2024-02-18")));  /* Sunday, 调休 */
  cr_assert(!cx_calendar_is_workday(cal, day("2024-02-24"))); /* ordinary Saturday */
  /* Decision on Thursday 02-08: 02-09, 02-18 (Sunday), 02-19 ... */
  cr_assert_eq(cx_calendar_workdays(cal, day("2024-02-08"), day("2024-02-19")), 3);
  /* The 7-working-day deadline of a decision on 2024-02-08 is 2024-02-23. */
  cr_assert_eq(cx_calendar_workdays(cal, day("2024-02-08"), day("2024-02-23")), 7);
  cr_assert_eq(cx_calendar_workdays(cal, day("2024-02-08"), day("2024-02-08")), 0);
  cr_assert_eq(cx_calendar_workdays(cal, day("2024-02-19"), day("2024-02-08")), 0);
}

Test(calendar, other_holidays) {
  cr_assert(!cx_calendar_is_workday(cal, day("2024-10-07")));
  cr_assert(cx_calendar_is_workday(cal, day("2024-10-12")));  /* Saturday, 调休 */
  cr_assert(!cx_calendar_is_workday(cal, day("2025-01-28")));  /* 除夕, new rules */
  cr_assert(cx_calendar_is_workday(cal, day("2025-01-26")));   /* Sunday, 调休 */
  cr_assert(!cx_calendar_is_workday(cal, day("2020-01-31")));  /* 2020 extension */
  cr_assert(!cx_calendar_is_workday(cal, day("2023-01-02")));
  cr_assert(!cx_calendar_is_workday(cal, day("2026-02-23")));
  cr_assert(cx_calendar_is_workday(cal, day("2026-02-28")));
}

/* Working days per year: days - weekend days - statutory holidays (11 days; 13 from 2025, when
 * 除夕 and 5 May were added), since every 调休 weekday off is paid back on a weekend day.
 * 2020 has two fewer: the Spring Festival extension (国办发明电〔2020〕1号) gave 01-31 off and
 * cancelled the 02-01 (Saturday) adjusted working day. */
Test(calendar, working_days_per_year) {
  static const struct { int y, n; } want[] = {
      {2020, 249}, {2021, 250}, {2022, 249}, {2023, 249}, {2024, 251}, {2025, 248}, {2026, 248},
  };
  for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
    cx_day a, b;
    cx_day_from_ymd(want[i].y - 1, 12, 31, &a);
    cx_day_from_ymd(want[i].y, 12, 31, &b);
    cr_assert_eq(cx_calendar_workdays(cal, a, b), want[i].n, "%d", want[i].y);
  }
}

Test(calendar, prefix_count_matches_day_by_day) {
  uint32_t s = 7;
  cx_day lo = day("1995-01-01"), span = day("2065-01-01") - lo;
  for (int i = 0; i < 300; i++) {
    s = s * 1103515245u + 12345u;
    cx_day a = lo + (s >> 8) % span;
    s = s * 1103515245u + 12345u;
    cx_day b = a + (s >> 8) % 800;
    cr_assert_eq(cx_calendar_workdays(cal, a, b), slow_workdays(cal, a, b), "%u %u", a, b);
  }
  /* Across both ends of the table. */
  cr_assert_eq(cx_calendar_workdays(cal, day("1999-12-01"), day("2000-01-31")),
               slow_workdays(cal, day("1999-12-01"), day("2000-01-31")));
  cr_assert_eq(cx_calendar_workdays(cal, day("2059-12-01"), day("2060-01-31")),
               slow_workdays(cal, day("2059-12-01"), day("2060-01-31")));
  cr_assert_eq(cx_calendar_workdays(cal, day("2020-01-01"), CX_DAY_OPEN), INT32_MAX);
}

Test(calendar, outside_range_counts_weekdays) {
  cr_assert(cx_calendar_is_workday(cal, day("1990-10-01"))); /* Monday, not in the table */
  cr_assert(!cx_calendar_is_workday(cal, day("2070-10-04"))); /* Saturday */
  cr_assert_eq(cx_calendar_workdays(cal, day("1990-01-05"), day("1990-01-12")), 5);
}

static int parse(const char *text, int *bad) {
  static cx_calendar c;
  *bad = -1;
  return cx_calendar_parse(text, strlen(text), &c, bad);
}

Test(calendar, bad_files_name_the_line) {
  int bad;
  cr_assert_eq(parse("# c\n2024-01-01\tholiday\t元旦\n2024-02-30\tholiday\tx\n", &bad), CX_EBADREQ);
  cr_assert_eq(bad, 3);
  cr_assert_eq(parse("2024-01-01 vacation\n", &bad), CX_EBADREQ);
  cr_assert_eq(bad, 1);
  cr_assert_eq(parse("\n\n2024-01-01\n", &bad), CX_EBADREQ);
  cr_assert_eq(bad, 3);
  cr_assert_eq(parse("1999-12-31 holiday\n", &bad), CX_EBADREQ);
  cr_assert_eq(bad, 1);
  cr_assert_eq(parse("2060-01-01 holiday\n", &bad), CX_EBADREQ);
  cr_assert_eq(parse("2024-01-01 holiday\n2024-01-01 workday\n", &bad), CX_EBADREQ);
  cr_assert_eq(bad, 2);
  cr_assert_eq(parse("2024-01-01 holiday a\n2024-01-01\tholiday\tb\r\n", &bad), 0);
}

Test(calendar, a_holiday_name_with_a_nul_or_invalid_utf8_is_a_bad_line) {
  int bad;
  static cx_calendar c;
  const char nul[] = "2024-01-01\tholiday\t元旦\n2024-02-10\tholiday\t春\0节\n";
  cr_assert_eq(cx_calendar_parse(nul, sizeof nul - 1, &c, &bad), CX_EBADREQ);
  cr_assert_eq(bad, 2);
  cr_assert_eq(parse("# c\n2024-01-01\tholiday\t\xe5\x85\n", &bad), CX_EBADREQ, "a cut character");
  cr_assert_eq(bad, 2);
  cr_assert_eq(parse("2024-01-01\tholiday\t\x1b[31m元旦\n", &bad), CX_EBADREQ);
  cr_assert_eq(bad, 1);
  cr_assert_eq(parse("# \xff comment\n", &bad), CX_EBADREQ, "comments are stored too");
  cr_assert_eq(bad, 1);
}

Test(calendar, empty_file_is_weekends_only) {
  cx_calendar *c = malloc(sizeof *c);
  int bad = -1;
  cr_assert_eq(cx_calendar_parse("", 0, c, &bad), 0);
  cr_assert(cx_calendar_is_workday(c, day("2024-02-12")));
  cr_assert(!cx_calendar_is_workday(c, day("2024-02-04")));
  cr_assert_eq(cx_calendar_workdays(c, day("2024-01-07"), day("2024-01-14")), 5);
  free(c);
}

Test(calendar, mutated_files_fail_cleanly) {
  size_t n = cx_data_calendar_len;
  char *t = malloc(n);
  cx_calendar *c = malloc(sizeof *c);
  uint32_t s = 5;
  static const char junk[] = "\t\n -0129#x\xff";
  for (int iter = 0; iter < 200; iter++) {
    memcpy(t, cx_data_calendar, n);
    for (int k = 0; k < 1 + iter % 4; k++) {
      s = s * 1103515245u + 12345u;
      size_t at = (s >> 8) % n;
      s = s * 1103515245u + 12345u;
      t[at] = junk[(s >> 8) % (sizeof junk - 1)];
    }
    int bad = -1, rc = cx_calendar_parse(t, n, c, &bad);
    cr_assert(rc == 0 || (rc == CX_EBADREQ && bad >= 1));
  }
  free(c);
  free(t);
}
