/* test_calendar.c — the working-day calendar: statutory holidays computed from the
 * 全国年节及纪念日放假办法, the lunar table and 清明 against astronomy, the shipped notices
 * (data/calendar.tsv) against their source, provisional years (store/calendar.c). */
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

static cx_day ymd(int y, int m, int d) {
  cx_day x = 0;
  cr_assert_eq(cx_day_from_ymd(y, m, d, &x), 0, "%d-%d-%d", y, m, d);
  return x;
}

/* Reference: count day by day. */
static int32_t slow_workdays(const cx_calendar *c, cx_day a, cx_day b) {
  int32_t n = 0;
  for (cx_day d = a + 1; d <= b && b > a; d++) n += cx_calendar_is_workday(c, d);
  return n;
}

static int is_statutory(cx_day d) {
  int y, n = 0;
  cx_day s[CX_CAL_STATUTORY_MAX];
  cx_day_to_ymd(d, &y, NULL, NULL);
  cr_assert_eq(cx_calendar_statutory(y, s, &n), 0);
  for (int i = 0; i < n; i++)
    if (s[i] == d) return 1;
  return 0;
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
  cr_assert(!cx_calendar_is_workday(cal, day("2015-09-03")));  /* 抗战胜利70周年, a one-off day */
  cr_assert(cx_calendar_is_workday(cal, day("2015-09-06")));   /* Sunday, its 调休 */
  cr_assert(cx_calendar_is_workday(cal, day("2018-12-29")));   /* Saturday, set by the 2019 notice */
  cr_assert(!cx_calendar_is_workday(cal, day("2008-02-06")));  /* 除夕 under the 2008 edition */
  cr_assert(!cx_calendar_is_workday(cal, day("2007-05-07")));  /* the last 五一 week */
}

/* Working days per year: days - weekend days - statutory holidays (11 days; 13 from 2025, when
 * 除夕 and 2 May were added), since every 调休 weekday off is paid back on a weekend day.
 * 2020 has two fewer: the Spring Festival extension (国办发明电〔2020〕1号) gave 01-31 off and
 * cancelled the 02-01 (Saturday) adjusted working day. 2027 has no notice yet: its 261
 * weekdays less the 7 statutory holidays that fall on weekdays, and no 调休. */
Test(calendar, working_days_per_year) {
  static const struct { int y, n; } want[] = {
      {2020, 249}, {2021, 250}, {2022, 249}, {2023, 249}, {2024, 251}, {2025, 248}, {2026, 248},
      {2027, 254},
  };
  for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
    cx_day a = ymd(want[i].y - 1, 12, 31), b = ymd(want[i].y, 12, 31);
    cr_assert_eq(cx_calendar_workdays(cal, a, b), want[i].n, "%d", want[i].y);
  }
}

/* ------------------------------------------------------------------ statutory holidays */

Test(calendar, statutory_weekdays_of_2027_are_rest_days_without_a_notice) {
  static const char *const off[] = {"2027-01-01", "2027-02-05", "2027-02-08", "2027-04-05",
                                    "2027-06-09", "2027-09-15", "2027-10-01"};
  cr_assert(!cx_calendar_published(cal, 2027));
  for (size_t i = 0; i < sizeof off / sizeof *off; i++) {
    cr_assert_lt(cx_day_weekday(day(off[i])), 5, "%s", off[i]);
    cr_assert(!cx_calendar_is_workday(cal, day(off[i])), "%s", off[i]);
    cr_assert(is_statutory(day(off[i])), "%s", off[i]);
  }
  /* Observed on the day itself: no 补休, no 调休 (02-06 and 02-07 are a weekend). */
  cr_assert(cx_calendar_is_workday(cal, day("2027-02-09")));
  cr_assert(cx_calendar_is_workday(cal, day("2027-10-04")));
  cr_assert(!cx_calendar_is_workday(cal, day("2027-02-06")));
  int n = 0;
  cx_day s[CX_CAL_STATUTORY_MAX];
  cr_assert_eq(cx_calendar_statutory(2027, s, &n), 0);
  cr_assert_eq(n, 13);
}

Test(calendar, a_decision_of_2026_12_30_reported_2027_01_11_is_on_time) {
  /* 12-31, (元旦 off), 01-04 .. 01-08, 01-11: 7 working days; 8 if 元旦 counted. */
  cx_day a = day("2026-12-30"), b = day("2027-01-11");
  cr_assert_eq(cx_calendar_workdays(cal, a, b), 7);
  cr_assert_leq(cx_calendar_workdays(cal, a, b), CX_REPORT_DEADLINE_WORKDAYS);
  cr_assert(cx_calendar_span_provisional(cal, a, b));
}

static void expect_statutory(int year, const char *const *want, int n_want) {
  cx_day s[CX_CAL_STATUTORY_MAX];
  int n = -1;
  cr_assert_eq(cx_calendar_statutory(year, s, &n), 0);
  cr_assert_eq(n, n_want, "%d: %d days", year, n);
  for (int i = 0; i < n; i++) {
    char got[11];
    cx_day_format(s[i], got);
    cr_assert_str_eq(got, want[i], "%d #%d", year, i);
  }
}

/* Each edition of the 放假办法 by its date of force: 1949 (7 days), 国务院令第270号 from
 * 1999-09-18 (10), 第513号 from 2008 (11, with 除夕), 第644号 from 2014 (11, 初三 for 除夕),
 * 第795号 from 2025 (13). */
Test(calendar, statutory_days_follow_the_edition_in_force) {
  static const char *const y1998[] = {"1998-01-01", "1998-01-28", "1998-01-29", "1998-01-30",
                                      "1998-05-01", "1998-10-01", "1998-10-02"};
  /* 1999: 劳动节 still one day (the 1999 edition came in September), 国庆 three. */
  static const char *const y1999[] = {"1999-01-01", "1999-02-16", "1999-02-17", "1999-02-18",
                                      "1999-05-01", "1999-10-01", "1999-10-02", "1999-10-03"};
  static const char *const y2007[] = {"2007-01-01", "2007-02-18", "2007-02-19", "2007-02-20",
                                      "2007-05-01", "2007-05-02", "2007-05-03", "2007-10-01",
                                      "2007-10-02", "2007-10-03"};
  static const char *const y2008[] = {"2008-01-01", "2008-02-06", "2008-02-07", "2008-02-08",
                                      "2008-04-04", "2008-05-01", "2008-06-08", "2008-09-14",
                                      "2008-10-01", "2008-10-02", "2008-10-03"};
  static const char *const y2014[] = {"2014-01-01", "2014-01-31", "2014-02-01", "2014-02-02",
                                      "2014-04-05", "2014-05-01", "2014-06-02", "2014-09-08",
                                      "2014-10-01", "2014-10-02", "2014-10-03"};
  static const char *const y2024[] = {"2024-01-01", "2024-02-10", "2024-02-11", "2024-02-12",
                                      "2024-04-04", "2024-05-01", "2024-06-10", "2024-09-17",
                                      "2024-10-01", "2024-10-02", "2024-10-03"};
  static const char *const y2025[] = {"2025-01-01", "2025-01-28", "2025-01-29", "2025-01-30",
                                      "2025-01-31", "2025-04-04", "2025-05-01", "2025-05-02",
                                      "2025-05-31", "2025-10-01", "2025-10-02", "2025-10-03",
                                      "2025-10-06"};
  /* 2020: 中秋 on 10-01, one day for two holidays. */
  static const char *const y2020[] = {"2020-01-01", "2020-01-25", "2020-01-26", "2020-01-27",
                                      "2020-04-04", "2020-05-01", "2020-06-25", "2020-10-01",
                                      "2020-10-02", "2020-10-03"};
  expect_statutory(1998, y1998, 7);
  expect_statutory(1999, y1999, 8);
  expect_statutory(2007, y2007, 10);
  expect_statutory(2008, y2008, 11);
  expect_statutory(2014, y2014, 11);
  expect_statutory(2020, y2020, 10);
  expect_statutory(2024, y2024, 11);
  expect_statutory(2025, y2025, 13);
  cx_day s[CX_CAL_STATUTORY_MAX] = {0};
  int n = -1;
  cr_assert_eq(cx_calendar_statutory(1970, s, &n), CX_EDATE);
  cr_assert_eq(cx_calendar_statutory(2100, s, &n), CX_EDATE);
  cr_assert_eq(n, -1);
}

Test(calendar, may_2_is_a_statutory_holiday_from_2025) {
  cr_assert(!is_statutory(day("2024-05-02")));
  cr_assert(is_statutory(day("2025-05-02")));
  cr_assert(is_statutory(day("2031-05-02")));
  cr_assert(!is_statutory(day("2025-05-03")));
  cx_calendar *c = malloc(sizeof *c);
  int bad = -1;
  cr_assert_eq(cx_calendar_parse("", 0, c, &bad), 0);
  cr_assert(cx_calendar_is_workday(c, day("2019-05-02")));  /* Thursday, statutory then: 05-01 */
  cr_assert(!cx_calendar_is_workday(c, day("2030-05-02"))); /* Thursday, no notice: the law alone */
  cr_assert(!cx_calendar_is_workday(c, day("2030-05-01")));
  cr_assert(cx_calendar_is_workday(c, day("2030-05-03")));
  free(c);
  /* The shipped file agrees where a notice exists: 2025-05-02 and 2026-05-02 are rest days. */
  cr_assert(!cx_calendar_is_workday(cal, day("2025-05-02")));
  cr_assert(!cx_calendar_is_workday(cal, day("2026-05-02")));
}

/* The published years' notices never make a statutory holiday a working day: the parser
 * refuses that, and the shipped file parses; here the computed days are rest days, which
 * checks the lunar table and 清明 against twenty years of notices. */
Test(calendar, statutory_holidays_of_published_years_are_rest_days) {
  for (int y = 2007; y <= 2026; y++) {
    cx_day s[CX_CAL_STATUTORY_MAX];
    int n = 0;
    cr_assert_eq(cx_calendar_statutory(y, s, &n), 0);
    cr_assert_geq(n, 10, "%d", y);
    for (int i = 0; i < n; i++) cr_assert(!cx_calendar_is_workday(cal, s[i]), "%d #%d", y, i);
  }
}

/* ------------------------------------------------------------------ lunar dates, 清明 */

Test(calendar, lunar_festivals_and_qingming_match_known_dates_2020_to_2030) {
  static const struct { const char *spring, *eve, *qingming, *dragon, *mid; } want[] = {
      {"2020-01-25", "2020-01-24", "2020-04-04", "2020-06-25", "2020-10-01"},
      {"2021-02-12", "2021-02-11", "2021-04-04", "2021-06-14", "2021-09-21"},
      {"2022-02-01", "2022-01-31", "2022-04-05", "2022-06-03", "2022-09-10"},
      {"2023-01-22", "2023-01-21", "2023-04-05", "2023-06-22", "2023-09-29"},
      {"2024-02-10", "2024-02-09", "2024-04-04", "2024-06-10", "2024-09-17"},
      {"2025-01-29", "2025-01-28", "2025-04-04", "2025-05-31", "2025-10-06"},
      {"2026-02-17", "2026-02-16", "2026-04-05", "2026-06-19", "2026-09-25"},
      {"2027-02-06", "2027-02-05", "2027-04-05", "2027-06-09", "2027-09-15"},
      {"2028-01-26", "2028-01-25", "2028-04-04", "2028-05-28", "2028-10-03"},
      {"2029-02-13", "2029-02-12", "2029-04-04", "2029-06-16", "2029-09-22"},
      {"2030-02-03", "2030-02-02", "2030-04-05", "2030-06-05", "2030-09-12"},
  };
  for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
    int y = 2020 + (int)i;
    cx_day d;
    cr_assert_eq(cx_day_from_lunar(y, 1, 1, 0, &d), 0);
    cr_assert_eq(d, day(want[i].spring), "%d 春节", y);
    cr_assert_eq(d - 1, day(want[i].eve), "%d 除夕", y);
    cr_assert_eq(cx_day_qingming(y, &d), 0);
    cr_assert_eq(d, day(want[i].qingming), "%d 清明", y);
    cr_assert_eq(cx_day_from_lunar(y, 5, 5, 0, &d), 0);
    cr_assert_eq(d, day(want[i].dragon), "%d 端午", y);
    cr_assert_eq(cx_day_from_lunar(y, 8, 15, 0, &d), 0);
    cr_assert_eq(d, day(want[i].mid), "%d 中秋", y);
  }
}

/*
 * Reference dates for 1990..2099 (MMDD per year; 清明: the day of April), computed from
 * astronomy, not from the lunar table: new moons and solar terms in Beijing time (UTC+8) with
 * PyEphem 4.1.4 (Debian python3-ephem), the month holding the winter solstice being 十一月
 * and the first month of a 13-month year without a major term the 闰月 — printed by
 * data/calendar_astro.py, which also compares the table word by word.
 */
static const char spring_1990[] =
    "01270215020401230210013102190207012802160205012402120201012202090129021802070126"
    "02140203012302100131021902080128021602050125021202010122021001290217020601260213"
    "02030123021101310219020801280215020401240212020101220210013002170206012602140202"
    "01230211020102190208012802150204012402120202012102090129021702050126021402030123"
    "02110131021902070127021502050124021202020122020901290217020601260214020301240210"
    "0130021802070127021502050125021202010121";
static const char dragon_1990[] =
    "05280616060506240613060206200609053006180606062506150604062206110531061906080528"
    "06160606062306120602062006090530061806070625061406030622061005310619060905280616"
    "06050624061206010620061005300618060705270614060306220611053106190608052906150604"
    "06230613060106200610053006170606062506140603062206110601061906080528061606040623"
    "06130602062006100530061706060624061406040622061106010619060705270615060506230613"
    "0602062106090529061706060624061406040623";
static const char mid_1990[] =
    "10030922091109300920090909270916100509240912100109210911092809181006092509141003"
    "09220912093009190908092709151004092409131001092109100929091710060925091510030922"
    "09121001091909080927091610040924091310020920091009280917100509250915100409220911"
    "09300919090709260916100509240913100209210909092809171006092509151003092309110929"
    "09190908092609161005092409121001092009100928091710060926091410030922091109290918"
    "0908092709161005092409130930092009090929";
static const char qingming_1990[] =
    "55455545554555455544554455445544554455445544554455444544454445444544454445444544454444444444444444444444444444";

static void expect_mmdd(const char *ref, int i, int y, cx_day got, const char *what) {
  int m = (ref[4 * i] - '0') * 10 + (ref[4 * i + 1] - '0');
  int d = (ref[4 * i + 2] - '0') * 10 + (ref[4 * i + 3] - '0');
  cr_assert_eq(got, ymd(y, m, d), "%d %s: want %02d-%02d", y, what, m, d);
}

Test(calendar, lunar_festivals_and_qingming_match_astronomy_1990_to_2099) {
  cr_assert_eq(strlen(spring_1990), 4 * 110);
  cr_assert_eq(strlen(dragon_1990), 4 * 110);
  cr_assert_eq(strlen(mid_1990), 4 * 110);
  cr_assert_eq(strlen(qingming_1990), 110);
  for (int i = 0; i < 110; i++) {
    int y = 1990 + i;
    cx_day d;
    cr_assert_eq(cx_day_from_lunar(y, 1, 1, 0, &d), 0);
    expect_mmdd(spring_1990, i, y, d, "春节");
    cr_assert_eq(cx_day_from_lunar(y, 5, 5, 0, &d), 0);
    expect_mmdd(dragon_1990, i, y, d, "端午");
    cr_assert_eq(cx_day_from_lunar(y, 8, 15, 0, &d), 0);
    expect_mmdd(mid_1990, i, y, d, "中秋");
    cr_assert_eq(cx_day_qingming(y, &d), 0);
    cr_assert_eq(d, ymd(y, 4, qingming_1990[i] - '0'), "%d 清明", y);
  }
}

Test(calendar, lunar_days_that_do_not_exist_are_refused) {
  cx_day d = 7;
  cr_assert_eq(cx_day_from_lunar(2023, 2, 1, 1, &d), 0); /* 闰二月 2023 */
  cr_assert_eq(d, day("2023-03-22"));
  cr_assert_eq(cx_day_from_lunar(2033, 11, 1, 1, &d), 0); /* 闰十一月 2033 (the 2033 problem) */
  cr_assert_eq(d, day("2033-12-22"));
  cr_assert_eq(cx_day_from_lunar(2100, 12, 1, 0, &d), 0);
  d = 7;
  cr_assert_eq(cx_day_from_lunar(2024, 2, 1, 1, &d), CX_EDATE); /* no 闰月 in 2024 */
  cr_assert_eq(cx_day_from_lunar(2024, 1, 30, 0, &d), CX_EDATE); /* 正月 2024 has 29 days */
  cr_assert_eq(cx_day_from_lunar(2024, 13, 1, 0, &d), CX_EDATE);
  cr_assert_eq(cx_day_from_lunar(2024, 1, 0, 0, &d), CX_EDATE);
  cr_assert_eq(cx_day_from_lunar(2101, 1, 1, 0, &d), CX_EDATE);
  cr_assert_eq(cx_day_from_lunar(1969, 1, 1, 0, &d), CX_EDATE); /* before 1971 */
  cr_assert_eq(cx_day_qingming(2100, &d), CX_EDATE);
  cr_assert_eq(d, 7);
}

/* ------------------------------------------------------------------ the shipped notices */

/* data/calendar.tsv is NateScarlet/holiday-cn at d4e53bf (2026-08-07), 2007.json..2026.json:
 * rest days and working days per year of their date (the notices reach into the December
 * before their year), counted from the source's JSON. */
Test(calendar, shipped_file_counts_match_the_source) {
  static const struct { int y, off, work; } want[] = {
      {2006, 0, 2},  {2007, 26, 7}, {2008, 27, 5}, {2009, 27, 6}, {2010, 29, 8}, {2011, 29, 6},
      {2012, 27, 6}, {2013, 29, 12}, {2014, 22, 5}, {2015, 26, 5}, {2016, 24, 6}, {2017, 24, 5},
      {2018, 25, 7}, {2019, 22, 6}, {2020, 30, 7}, {2021, 31, 7}, {2022, 32, 7}, {2023, 26, 7},
      {2024, 28, 8}, {2025, 28, 5}, {2026, 33, 6},
  };
  int off[CX_CAL_YEARS] = {0}, work[CX_CAL_YEARS] = {0}, published = 0;
  const char *t = cx_data_calendar, *end = t + cx_data_calendar_len;
  while (t < end) {
    const char *e = memchr(t, '\n', (size_t)(end - t));
    if (!e) e = end;
    if (e - t > 18 && t[0] == '2' && t[4] == '-') {
      cx_day d = day((char[11]){t[0], t[1], t[2], t[3], t[4], t[5], t[6], t[7], t[8], t[9], 0});
      int y;
      cx_day_to_ymd(d, &y, NULL, NULL);
      cr_assert(t[10] == '\t' && (memcmp(t + 11, "holiday\t", 8) == 0 || memcmp(t + 11, "workday\t", 8) == 0));
      cr_assert(y >= 2006 && y <= 2026, "%d", y);
      if (t[11] == 'h')
        off[y - CX_CAL_FIRST_YEAR]++;
      else
        work[y - CX_CAL_FIRST_YEAR]++;
    } else if (e - t >= 9 && memcmp(t, "published", 9) == 0) {
      cr_assert_eq(e - t, 19);
      cr_assert_eq(memcmp(t, "published 2007 2026", 19), 0);
      published++;
    }
    t = e + 1;
  }
  cr_assert_eq(published, 1);
  int total_off = 0, total_work = 0;
  for (size_t i = 0; i < sizeof want / sizeof *want; i++) {
    int k = want[i].y - CX_CAL_FIRST_YEAR;
    cr_assert_eq(off[k], want[i].off, "%d holidays", want[i].y);
    cr_assert_eq(work[k], want[i].work, "%d workdays", want[i].y);
    total_off += off[k];
    total_work += work[k];
  }
  cr_assert_eq(total_off, 545);
  cr_assert_eq(total_work, 133);
  for (int y = CX_CAL_FIRST_YEAR; y <= CX_CAL_LAST_YEAR; y++)
    cr_assert_eq(cx_calendar_published(cal, y), y >= 2007 && y <= 2026, "%d", y);
}

/* ------------------------------------------------------------------ provisional */

Test(calendar, a_year_without_a_notice_is_provisional) {
  cr_assert(cx_calendar_provisional(cal, day("2027-01-01")));
  cr_assert(cx_calendar_provisional(cal, day("2027-07-15")));
  cr_assert(cx_calendar_provisional(cal, day("2006-06-01")));
  cr_assert(cx_calendar_provisional(cal, day("1989-12-31"))); /* outside the range */
  cr_assert(cx_calendar_provisional(cal, day("2100-01-01")));
  cr_assert(cx_calendar_provisional(cal, CX_DAY_NONE));
  /* The 2027 notice may still move the last days of 2026 (as 2019's moved 2018-12-29). */
  cr_assert(cx_calendar_provisional(cal, day("2026-12-25")));
  cr_assert(cx_calendar_provisional(cal, day("2026-12-31")));
  cr_assert(cx_calendar_span_provisional(cal, day("2026-12-20"), day("2026-12-28")));
  cr_assert(cx_calendar_span_provisional(cal, day("2026-06-01"), day("2027-01-04")));
  cr_assert(cx_calendar_span_provisional(cal, day("2005-12-30"), day("2007-01-10")));
  cr_assert(cx_calendar_span_provisional(cal, day("2026-06-01"), CX_DAY_OPEN));
  cr_assert(cx_calendar_span_provisional(cal, day("1989-12-30"), day("1990-01-05")));
}

Test(calendar, a_year_with_a_notice_is_not_provisional) {
  cr_assert(!cx_calendar_provisional(cal, day("2026-06-01")));
  cr_assert(!cx_calendar_provisional(cal, day("2026-12-24")));
  cr_assert(!cx_calendar_provisional(cal, day("2007-01-01")));
  cr_assert(!cx_calendar_provisional(cal, day("2025-12-31"))); /* 2026's notice is in */
  cr_assert(!cx_calendar_span_provisional(cal, day("2026-06-01"), day("2026-06-30")));
  cr_assert(!cx_calendar_span_provisional(cal, day("2025-12-20"), day("2026-01-12")));
  cr_assert(!cx_calendar_span_provisional(cal, day("2006-12-31"), day("2026-12-24")));
  cr_assert(!cx_calendar_span_provisional(cal, day("2026-12-30"), day("2026-12-30"))); /* empty */
  cr_assert(!cx_calendar_span_provisional(cal, day("2027-01-30"), day("2026-12-30")));
  /* A day of (a, b] decides: a itself is not counted. */
  cr_assert(!cx_calendar_span_provisional(cal, day("2006-12-31"), day("2007-01-05")));
}

Test(calendar, provisional_spans_are_the_or_of_their_days) {
  uint32_t s = 11;
  cx_day lo = day("1988-06-01"), span = day("2101-06-01") - lo;
  for (int i = 0; i < 2000; i++) {
    s = s * 1103515245u + 12345u;
    cx_day a = lo + (s >> 8) % span;
    s = s * 1103515245u + 12345u;
    cx_day b = a + (s >> 8) % 60;
    int any = 0;
    for (cx_day d = a + 1; d <= b; d++) any |= cx_calendar_provisional(cal, d);
    cr_assert_eq(cx_calendar_span_provisional(cal, a, b), any, "%u %u", a, b);
  }
}

/* ------------------------------------------------------------------ counting, the range */

Test(calendar, prefix_count_matches_day_by_day) {
  uint32_t s = 7;
  cx_day lo = day("1985-01-01"), span = day("2105-01-01") - lo;
  for (int i = 0; i < 300; i++) {
    s = s * 1103515245u + 12345u;
    cx_day a = lo + (s >> 8) % span;
    s = s * 1103515245u + 12345u;
    cx_day b = a + (s >> 8) % 800;
    cr_assert_eq(cx_calendar_workdays(cal, a, b), slow_workdays(cal, a, b), "%u %u", a, b);
  }
  /* Across both ends of the table. */
  cr_assert_eq(cx_calendar_workdays(cal, day("1989-12-01"), day("1990-01-31")),
               slow_workdays(cal, day("1989-12-01"), day("1990-01-31")));
  cr_assert_eq(cx_calendar_workdays(cal, day("2099-12-01"), day("2100-01-31")),
               slow_workdays(cal, day("2099-12-01"), day("2100-01-31")));
  cr_assert_eq(cx_calendar_workdays(cal, day("2020-01-01"), CX_DAY_OPEN), INT32_MAX);
}

Test(calendar, outside_range_counts_weekdays) {
  cr_assert(cx_calendar_is_workday(cal, day("1989-10-02"))); /* Monday, before the table */
  cr_assert(!cx_calendar_is_workday(cal, day("1990-10-01"))); /* Monday, 国庆 */
  cr_assert(!cx_calendar_is_workday(cal, day("2100-10-02"))); /* Saturday */
  cr_assert(cx_calendar_is_workday(cal, day("2100-10-01")));  /* Friday, after the table */
  cr_assert_eq(cx_calendar_workdays(cal, day("1989-01-06"), day("1989-01-13")), 5);
}

/* ------------------------------------------------------------------ the file format */

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
  cr_assert_eq(parse("1989-12-31 holiday\n", &bad), CX_EBADREQ);
  cr_assert_eq(bad, 1);
  cr_assert_eq(parse("2100-01-01 holiday\n", &bad), CX_EBADREQ);
  cr_assert_eq(parse("2024-01-01 holiday\n2024-01-01 workday\n", &bad), CX_EBADREQ);
  cr_assert_eq(bad, 2);
  cr_assert_eq(parse("2024-01-01 holiday a\n2024-01-01\tholiday\tb\r\n", &bad), 0);
  /* A statutory holiday cannot be made a working day (the law makes it a rest day). */
  cr_assert_eq(parse("2027-02-06 holiday\n2027-02-08 workday 春节\n", &bad), CX_EBADREQ);
  cr_assert_eq(bad, 2);
  cr_assert_eq(parse("2024-05-02 workday\n", &bad), 0); /* not statutory before 2025 */
  cr_assert_eq(parse("2025-05-02 workday\n", &bad), CX_EBADREQ);
  /* published lines */
  cr_assert_eq(parse("published 2007 2026\npublished 2030\n# x\npublished 2028 2027\n", &bad), CX_EBADREQ);
  cr_assert_eq(bad, 4);
  cr_assert_eq(parse("published\n", &bad), CX_EBADREQ);
  cr_assert_eq(bad, 1);
  cr_assert_eq(parse("published 1989 2026\n", &bad), CX_EBADREQ);
  cr_assert_eq(parse("published 2007 2100\n", &bad), CX_EBADREQ);
  cr_assert_eq(parse("published 07 26\n", &bad), CX_EBADREQ);
  cr_assert_eq(parse("published 2007 2026 2027\n", &bad), CX_EBADREQ);
  cr_assert_eq(parse("published 2007 2026 # to the 2026 notice\n", &bad), 0);
  cr_assert_eq(parse("  published\t2030\r\n", &bad), 0);
  /* With a published line, a day outside the published years is refused, except the last
   * days of December before one (2006-12-30 belongs to the 2007 notice). */
  cr_assert_eq(parse("published 2007 2026\n2006-12-30 workday\n2026-10-08 holiday\n", &bad), 0);
  cr_assert_eq(parse("published 2007 2026\n2026-10-08 holiday\n\n2027-01-04 holiday\n", &bad), CX_EBADREQ);
  cr_assert_eq(bad, 4);
  cr_assert_eq(parse("2027-01-04 holiday\npublished 2007 2026\n", &bad), CX_EBADREQ);
  cr_assert_eq(bad, 1);
  cr_assert_eq(parse("published 2007 2026\n2006-11-30 workday\n", &bad), CX_EBADREQ);
  cr_assert_eq(bad, 2);
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

Test(calendar, empty_file_has_weekends_and_statutory_holidays) {
  cx_calendar *c = malloc(sizeof *c);
  int bad = -1;
  cr_assert_eq(cx_calendar_parse("", 0, c, &bad), 0);
  cr_assert(!cx_calendar_is_workday(c, day("2024-02-12")));  /* 初三, Monday */
  cr_assert(cx_calendar_is_workday(c, day("2024-02-13")));   /* no 调休 without a notice */
  cr_assert(!cx_calendar_is_workday(c, day("2024-02-04")));  /* Sunday: no notice makes it work */
  cr_assert_eq(cx_calendar_workdays(c, day("2024-01-07"), day("2024-01-14")), 5);
  for (int y = CX_CAL_FIRST_YEAR; y <= CX_CAL_LAST_YEAR; y++) cr_assert(!cx_calendar_published(c, y));
  cr_assert(cx_calendar_provisional(c, day("2024-06-03")));
  free(c);
}

Test(calendar, a_file_without_a_published_line_publishes_the_years_it_lists) {
  cx_calendar *c = malloc(sizeof *c);
  const char *text = "2031-03-04\tholiday\t测试\n2031-03-05 holiday\n";
  int bad = -1;
  cr_assert_eq(cx_calendar_parse(text, strlen(text), c, &bad), 0);
  cr_assert(cx_calendar_published(c, 2031));
  cr_assert(!cx_calendar_published(c, 2030));
  cr_assert(!cx_calendar_published(c, 2032));
  cr_assert(!cx_calendar_provisional(c, day("2031-03-04")));
  cr_assert(cx_calendar_provisional(c, day("2031-12-30"))); /* 2032 unpublished */
  cr_assert(cx_calendar_provisional(c, day("2030-03-04")));
  cr_assert(!cx_calendar_is_workday(c, day("2031-03-04")));
  cr_assert(!cx_calendar_is_workday(c, day("2031-10-01"))); /* statutory, not listed */
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
