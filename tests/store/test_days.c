/* test_days.c — day numbers, parsing and formatting (store/days.c) and the enum tables. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "store.h"

static cx_day day(const char *s) {
  cx_day d = 0;
  cr_assert_eq(cx_day_parse(cx_str_c(s), &d), 0, "%s", s);
  return d;
}

Test(days, known_values) {
  cr_assert_eq(day("1971-01-01"), 365u);
  cr_assert_eq(day("2000-01-01"), 10957u);
  cr_assert_eq(day("2024-02-29"), 19782u);
  cr_assert_eq(day("9999-12-31"), 2932896u);
  cr_assert_eq(cx_day_weekday(day("2024-02-04")), 6); /* Sunday */
  cr_assert_eq(cx_day_weekday(day("2024-02-05")), 0); /* Monday */
  cr_assert_eq(cx_day_weekday(0), 3);                 /* 1970-01-01 was a Thursday */
  cr_assert_eq(cx_day_weekday(CX_DAY_OPEN), (int)(((uint64_t)UINT32_MAX + 3) % 7));
}

Test(days, round_trip_1971_to_2100) {
  cx_day d0 = day("1971-01-01"), prev = d0 - 1;
  char buf[11], want[48];
  for (int y = 1971; y <= 2100; y++)
    for (int m = 1; m <= 12; m++)
      for (int dd = 1; dd <= 31; dd++) {
        cx_day d;
        if (cx_day_from_ymd(y, m, dd, &d)) continue;
        cr_assert_eq(d, prev + 1, "%d-%d-%d", y, m, dd); /* consecutive */
        prev = d;
        int yy, mm, ddd;
        cx_day_to_ymd(d, &yy, &mm, &ddd);
        cr_assert(yy == y && mm == m && ddd == dd);
        cx_day_format(d, buf);
        snprintf(want, sizeof want, "%04d-%02d-%02d", y, m, dd);
        cr_assert_str_eq(buf, want);
        cx_day back;
        cr_assert_eq(cx_day_parse(cx_str_c(buf), &back), 0);
        cr_assert_eq(back, d);
        cr_assert_eq(cx_day_month(d), (uint32_t)(y * 12 + m - 1));
      }
  cr_assert_eq(prev, day("2100-12-31"));
}

Test(days, invalid_dates) {
  const char *bad[] = {"2023-02-29", "2024-02-30", "2024-13-01", "2024-00-10", "2024-01-00", "2024-04-31",
                       "2100-02-29", "1970-12-31", "0000-01-01", "2024-1-01",  "2024-01-1",  "24-01-01",
                       "2024-01-011", "2024/01/01", "2024-01-01 ", " 2024-01-01", "2024-0a-01", "",
                       "20240101"};
  cx_day d = 77;
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    cr_assert_eq(cx_day_parse(cx_str_c(bad[i]), &d), CX_EDATE, "%s", bad[i]);
  cr_assert_eq(d, 77u); /* untouched */
  cr_assert_eq(cx_day_from_ymd(2000, 2, 29, &d), 0);
  cr_assert_eq(cx_day_from_ymd(1900, 1, 1, &d), CX_EDATE);
  cr_assert_eq(cx_day_from_ymd(10000, 1, 1, &d), CX_EDATE);
}

Test(days, format_special_values) {
  char buf[11];
  cx_day_format(CX_DAY_NONE, buf);
  cr_assert_str_eq(buf, "");
  cx_day_format(CX_DAY_OPEN, buf);
  cr_assert_str_eq(buf, "open");
}

Test(days, today_is_plausible) {
  cx_day t = cx_day_today();
  cr_assert_gt(t, day("2024-01-01"));
  cr_assert_lt(t, day("2100-01-01"));
}

Test(enums, wire_names) {
  cr_assert_str_eq(cx_kind_names[CX_KIND_INDIVIDUAL_BUSINESS], "individual_business");
  cr_assert_str_eq(cx_category_names[CX_CAT_GOV_DISHONESTY], "gov_dishonesty");
  cr_assert_str_eq(cx_subtype_names[CX_SUB_NONE], "");
  cr_assert_str_eq(cx_subtype_names[CX_SUB_ACCOUNTABILITY], "accountability");
  cr_assert_str_eq(cx_domain_names[CX_DOM_SUBDISTRICT], "subdistrict");
  cr_assert_str_eq(cx_severity_names[CX_SEV_SERIOUS], "serious");
  cr_assert_str_eq(cx_status_names[CX_ST_REPAIRED], "repaired");
  cr_assert_str_eq(cx_effect_names[CX_EFFECT_INCENTIVE], "incentive");
  cr_assert_str_eq(cx_dim_names[CX_DIM_MONTH], "month");
  cr_assert_eq(cx_enum_parse(cx_category_names, CX_CAT_COUNT, CX_STR("redlist")), CX_CAT_REDLIST);
  cr_assert_eq(cx_enum_parse(cx_category_names, CX_CAT_COUNT, CX_STR("Redlist")), CX_EBADREQ);
  cr_assert_eq(cx_enum_parse(cx_category_names, CX_CAT_COUNT, CX_STR("red")), CX_EBADREQ);
  cr_assert_eq(cx_enum_parse(cx_subtype_names, CX_SUB_COUNT, CX_STR("")), CX_SUB_NONE);
  cr_assert_eq(cx_enum_parse(cx_dim_names, CX_DIM_COUNT, CX_STR("quarter")), CX_DIM_QUARTER);
}

Test(enums, subtype_by_category) {
  for (int c = 0; c < CX_CAT_COUNT; c++) cr_assert(cx_subtype_valid(c, CX_SUB_NONE));
  cr_assert(cx_subtype_valid(CX_CAT_GOV_DISHONESTY, CX_SUB_JUDGMENT));
  cr_assert(cx_subtype_valid(CX_CAT_GOV_DISHONESTY, CX_SUB_ACCOUNTABILITY));
  cr_assert(!cx_subtype_valid(CX_CAT_PENALTY, CX_SUB_JUDGMENT));
  cr_assert(cx_subtype_valid(CX_CAT_COMMITMENT, CX_SUB_BROKEN));
  cr_assert(!cx_subtype_valid(CX_CAT_LAWSUIT, CX_SUB_KEPT));
  cr_assert(cx_subtype_valid(CX_CAT_LAWSUIT, CX_SUB_LOST));
  cr_assert(!cx_subtype_valid(CX_CAT_COMMITMENT, CX_SUB_WON));
  cr_assert(!cx_subtype_valid(CX_CAT_LAWSUIT, CX_SUB_COUNT));
}

Test(days, today_is_the_day_of_the_configured_zone) {
  int32_t off = 0;
  cr_assert_eq(cx_day_set_tz("UTC", &off), 0);
  cr_assert_eq(off, 0);
  cx_day utc = cx_day_today();
  cr_assert_eq(cx_day_set_tz("+14:00", &off), 0);
  cr_assert_eq(off, 14 * 3600);
  cx_day east = cx_day_today();
  cr_assert(east == utc || east == utc + 1);
  cr_assert_eq(cx_day_set_tz("-0530", &off), 0);
  cr_assert_eq(off, -(5 * 3600 + 30 * 60));
  cr_assert_eq(cx_day_set_tz("+8", &off), 0);
  cr_assert_eq(off, 8 * 3600);
  if (access("/usr/share/zoneinfo/Asia/Tokyo", R_OK) == 0) {
    cr_assert_eq(cx_day_set_tz("Asia/Tokyo", &off), 0);
    cr_assert_eq(off, 9 * 3600);
  }
  const char *bad[] = {"", "+", "+25", "+08:7", "Mars/Olympus", "../etc/passwd", "+08:00x"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) cr_assert_eq(cx_day_set_tz(bad[i], NULL), CX_EBADREQ, "%s", bad[i]);
  cr_assert_eq(cx_day_set_tz("Asia/Shanghai", &off), 0, "the default");
  cr_assert_eq(off, CX_BEIJING_OFFSET_S);
}
