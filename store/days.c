/*
 * days.c — calendar days as day numbers since 1970-01-01 (proleptic Gregorian); today is the
 * Beijing day (Asia/Shanghai, UTC+8).
 *
 * Conversions use Howard Hinnant's days_from_civil / civil_from_days, exact for every
 * year handled here. Day 0 (1970-01-01) is CX_DAY_NONE, which is why parsed years start at 1971.
 */
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "store.h"

#define CX_DAY_MIN_YEAR 1971
#define CX_DAY_MAX_YEAR 9999

static int is_leap(int y) { return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0; }

static int days_in_month(int y, int m) {
  static const unsigned char dm[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  return m == 2 && is_leap(y) ? 29 : dm[m - 1];
}

/* Days since 1970-01-01 of a valid civil date (may be negative before 1970). */
static long days_from_civil(int y, int m, int d) {
  y -= m <= 2;
  long era = (y >= 0 ? y : y - 399) / 400;
  long yoe = y - era * 400;                                 /* [0, 399] */
  long doy = (153L * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1; /* [0, 365] */
  long doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;          /* [0, 146096] */
  return era * 146097 + doe - 719468;
}

/* Shared with ids.c (birth dates before 1971 are real dates too). */
int cx__day_valid_ymd(int y, int m, int d);
int cx__day_valid_ymd(int y, int m, int d) {
  return y >= 1 && y <= CX_DAY_MAX_YEAR && m >= 1 && m <= 12 && d >= 1 && d <= days_in_month(y, m);
}

int cx_day_from_ymd(int y, int m, int d, cx_day *out) {
  if (y < CX_DAY_MIN_YEAR || !cx__day_valid_ymd(y, m, d)) return CX_EDATE;
  *out = (cx_day)days_from_civil(y, m, d);
  return 0;
}

void cx_day_to_ymd(cx_day day, int *y, int *m, int *d) {
  long z = (long)day + 719468;
  long era = z / 146097;
  long doe = z - era * 146097;
  long yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  long yy = yoe + era * 400;
  long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  long mp = (5 * doy + 2) / 153;
  long dd = doy - (153 * mp + 2) / 5 + 1;
  long mm = mp < 10 ? mp + 3 : mp - 9;
  if (y) *y = (int)(yy + (mm <= 2));
  if (m) *m = (int)mm;
  if (d) *d = (int)dd;
}

static int digits(const char *p, int n, int *v) {
  int x = 0;
  for (int i = 0; i < n; i++) {
    if (p[i] < '0' || p[i] > '9') return 0;
    x = x * 10 + (p[i] - '0');
  }
  *v = x;
  return 1;
}

int cx_day_parse(cx_str s, cx_day *out) {
  /* the last date this thread parsed: a server's requests carry the same as_of over and over
   * (the parse was ~2 % of a check's instructions) */
  static _Thread_local char last[10];
  static _Thread_local cx_day last_day;
  static _Thread_local int have;
  int y, m, d;
  if (s.n != 10 || !s.p) return CX_EDATE;
  if (have && memcmp(s.p, last, 10) == 0) {
    *out = last_day;
    return 0;
  }
  if (s.p[4] != '-' || s.p[7] != '-') return CX_EDATE;
  if (!digits(s.p, 4, &y) || !digits(s.p + 5, 2, &m) || !digits(s.p + 8, 2, &d)) return CX_EDATE;
  int rc = cx_day_from_ymd(y, m, d, out);
  if (!rc) {
    memcpy(last, s.p, 10);
    last_day = *out;
    have = 1;
  }
  return rc;
}

void cx_day_format(cx_day day, char buf[11]) {
  if (day == CX_DAY_NONE) {
    buf[0] = 0;
    return;
  }
  if (day == CX_DAY_OPEN) {
    memcpy(buf, "open", 5);
    return;
  }
  int y, m, d;
  cx_day_to_ymd(day, &y, &m, &d);
  if (y > 9999) { /* not produced by the parser; keep the buffer bounded */
    memcpy(buf, "open", 5);
    return;
  }
  buf[0] = (char)('0' + y / 1000);
  buf[1] = (char)('0' + y / 100 % 10);
  buf[2] = (char)('0' + y / 10 % 10);
  buf[3] = (char)('0' + y % 10);
  buf[4] = '-';
  buf[5] = (char)('0' + m / 10);
  buf[6] = (char)('0' + m % 10);
  buf[7] = '-';
  buf[8] = (char)('0' + d / 10);
  buf[9] = (char)('0' + d % 10);
  buf[10] = 0;
}

/* Set by cx_day_set_today(): 0 = the clock. Relaxed atomics: one word, read on every request. */
static _Atomic cx_day today_override;
/* The offset of "today" from UTC, seconds (cx_day_set_tz). Asia/Shanghai is UTC+8 all year: no
 * daylight saving since 1991. */
static _Atomic int32_t tz_offset = CX_BEIJING_OFFSET_S;

cx_day cx_day_today(void) {
  cx_day o = atomic_load_explicit(&today_override, memory_order_relaxed);
  if (o) return o;
  int64_t t = (int64_t)time(NULL) + atomic_load_explicit(&tz_offset, memory_order_relaxed);
  return t < 0 ? 0 : (cx_day)(t / 86400);
}

int cx_day_set_tz(const char *tz, int32_t *offset_s) {
  if (!tz || !*tz) return CX_EBADREQ;
  int32_t off;
  if (tz[0] == '+' || tz[0] == '-') { /* +HH:MM, +HHMM, +HH */
    const char *p = tz + 1;
    int h = 0, m = 0, n = 0;
    while (*p >= '0' && *p <= '9' && n < 2) h = h * 10 + (*p++ - '0'), n++;
    if (n == 0) return CX_EBADREQ;
    if (*p == ':') p++;
    n = 0;
    while (*p >= '0' && *p <= '9' && n < 2) m = m * 10 + (*p++ - '0'), n++;
    if (*p || (n != 0 && n != 2) || h > 14 || m > 59) return CX_EBADREQ;
    off = (int32_t)(h * 3600 + m * 60) * (tz[0] == '-' ? -1 : 1);
  } else if (strcmp(tz, "UTC") == 0 || strcmp(tz, "Etc/UTC") == 0) {
    off = 0;
  } else if (strcmp(tz, "Asia/Shanghai") == 0 || strcmp(tz, "PRC") == 0) {
    off = CX_BEIJING_OFFSET_S;
  } else { /* another IANA name: its offset now, from the system's zone data */
    char path[256];
    if (strlen(tz) > 128 || strstr(tz, "..")) return CX_EBADREQ;
    snprintf(path, sizeof path, "/usr/share/zoneinfo/%s", tz);
    if (access(path, R_OK) != 0) return CX_EBADREQ;
    const char *old = getenv("TZ");
    char saved[160] = "";
    if (old) snprintf(saved, sizeof saved, "%s", old);
    setenv("TZ", tz, 1);
    tzset();
    time_t now = time(NULL);
    struct tm lt;
    int ok = localtime_r(&now, &lt) != NULL;
    if (old) setenv("TZ", saved, 1);
    else unsetenv("TZ");
    tzset();
    if (!ok) return CX_EBADREQ;
    off = (int32_t)lt.tm_gmtoff;
  }
  atomic_store_explicit(&tz_offset, off, memory_order_relaxed);
  if (offset_s) *offset_s = off;
  return 0;
}

void cx_day_set_today(cx_day d) { atomic_store_explicit(&today_override, d, memory_order_relaxed); }

int cx_day_set_today_env(const char *value) {
  if (!value || !*value) return 0;
  cx_day d;
  if (cx_day_parse(cx_str_c(value), &d)) return CX_EDATE;
  cx_day_set_today(d);
  return 1;
}

cx_day cx_day_add_months(cx_day day, int months) {
  if (day == CX_DAY_NONE || day == CX_DAY_OPEN) return day;
  int y, m, d;
  cx_day_to_ymd(day, &y, &m, &d);
  long mi = (long)y * 12 + (m - 1) + months;
  if (mi < 0) return CX_DAY_NONE;
  int ny = (int)(mi / 12), nm = (int)(mi % 12) + 1;
  if (ny > CX_DAY_MAX_YEAR) return CX_DAY_OPEN;
  int dim = days_in_month(ny, nm);
  if (d > dim) d = dim; /* 2024-01-31 + 1 month = 2024-02-29 */
  long v = days_from_civil(ny, nm, d);
  return v <= 0 ? CX_DAY_NONE : (cx_day)v;
}

/* 1970-01-01 was a Thursday. */
int cx_day_weekday(cx_day day) { return (int)(((uint64_t)day + 3u) % 7u); }

uint32_t cx_day_month(cx_day d) {
  int y, m;
  cx_day_to_ymd(d, &y, &m, NULL);
  return (uint32_t)y * 12u + (uint32_t)(m - 1);
}
