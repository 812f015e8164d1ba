/*
 * calendar.c — the working-day calendar: weekends, the statutory holidays of the
 * 全国年节及纪念日放假办法 (computed for every year), and the State Council's yearly notices
 * from the operator's file (holidays and 调休 working days, the published years).
 *
 * The parsed calendar is a bit set plus a prefix-count array over 1990..2099, so
 * cx_calendar_workdays() is two array reads; outside that range days count by weekday alone.
 * Lunar dates come from the table of lunar months below, 清明 from the solar-term formula;
 * tests/store/test_calendar.c checks both against astronomy for every year of the range.
 */
#include <stdarg.h>
#include <stdio.h>

#include "store.h"

/* ------------------------------------------------------------------ lunar months */

#define LUNAR_FIRST 1900
#define LUNAR_LAST 2100
#define LUNAR_EPOCH (-25537L) /* 1900-01-31, 正月初一 of lunar 1900, in days since 1970-01-01 */

/*
 * lunar_info[y - 1900]: lunar year y (from its 正月初一). Bits 15..4: months 1..12, set = 30
 * days, clear = 29; bits 3..0: the month a 闰月 follows (0: none); bit 16: the 闰月 has 30 days.
 * This is the table that circulates as `lunarInfo` in Chinese-calendar code (the 1900..2100
 * form of jjonline/calendar.js, itself from the Hong Kong Observatory's tables), a fact table
 * transcribed as data, with two entries corrected: 1996 (0x055c0 -> 0x05ac0: the new moon of
 * 1996-07-16 00:15 Beijing time begins 六月, so 中秋 is 09-27, as the Debian `lunar` program
 * and astronomy agree) and 2060 (0x0a2e0 -> 0x092e0: new moon 2060-04-30 18:10 begins 四月).
 * 2057 keeps the table's 九月初一 on 09-29 (the new moon is within seconds of midnight, closer
 * than astronomy can settle; no holiday depends on it). data/calendar_astro.py checks it
 * against new moons and solar terms computed with PyEphem: the only other differences are in
 * 1914..1933, where the table follows Beijing local time (UTC+7:46) rather than UTC+8.
 */
static const uint32_t lunar_info[LUNAR_LAST - LUNAR_FIRST + 1] = {
    0x04bd8, 0x04ae0, 0x0a570, 0x054d5, 0x0d260, 0x0d950, 0x16554, 0x056a0, 0x09ad0, 0x055d2, /* 1900-1909 */
    0x04ae0, 0x0a5b6, 0x0a4d0, 0x0d250, 0x1d255, 0x0b540, 0x0d6a0, 0x0ada2, 0x095b0, 0x14977, /* 1910-1919 */
    0x04970, 0x0a4b0, 0x0b4b5, 0x06a50, 0x06d40, 0x1ab54, 0x02b60, 0x09570, 0x052f2, 0x04970, /* 1920-1929 */
    0x06566, 0x0d4a0, 0x0ea50, 0x06e95, 0x05ad0, 0x02b60, 0x186e3, 0x092e0, 0x1c8d7, 0x0c950, /* 1930-1939 */
    0x0d4a0, 0x1d8a6, 0x0b550, 0x056a0, 0x1a5b4, 0x025d0, 0x092d0, 0x0d2b2, 0x0a950, 0x0b557, /* 1940-1949 */
    0x06ca0, 0x0b550, 0x15355, 0x04da0, 0x0a5b0, 0x14573, 0x052b0, 0x0a9a8, 0x0e950, 0x06aa0, /* 1950-1959 */
    0x0aea6, 0x0ab50, 0x04b60, 0x0aae4, 0x0a570, 0x05260, 0x0f263, 0x0d950, 0x05b57, 0x056a0, /* 1960-1969 */
    0x096d0, 0x04dd5, 0x04ad0, 0x0a4d0, 0x0d4d4, 0x0d250, 0x0d558, 0x0b540, 0x0b6a0, 0x195a6, /* 1970-1979 */
    0x095b0, 0x049b0, 0x0a974, 0x0a4b0, 0x0b27a, 0x06a50, 0x06d40, 0x0af46, 0x0ab60, 0x09570, /* 1980-1989 */
    0x04af5, 0x04970, 0x064b0, 0x074a3, 0x0ea50, 0x06b58, 0x05ac0, 0x0ab60, 0x096d5, 0x092e0, /* 1990-1999 */
    0x0c960, 0x0d954, 0x0d4a0, 0x0da50, 0x07552, 0x056a0, 0x0abb7, 0x025d0, 0x092d0, 0x0cab5, /* 2000-2009 */
    0x0a950, 0x0b4a0, 0x0baa4, 0x0ad50, 0x055d9, 0x04ba0, 0x0a5b0, 0x15176, 0x052b0, 0x0a930, /* 2010-2019 */
    0x07954, 0x06aa0, 0x0ad50, 0x05b52, 0x04b60, 0x0a6e6, 0x0a4e0, 0x0d260, 0x0ea65, 0x0d530, /* 2020-2029 */
    0x05aa0, 0x076a3, 0x096d0, 0x04afb, 0x04ad0, 0x0a4d0, 0x1d0b6, 0x0d250, 0x0d520, 0x0dd45, /* 2030-2039 */
    0x0b5a0, 0x056d0, 0x055b2, 0x049b0, 0x0a577, 0x0a4b0, 0x0aa50, 0x1b255, 0x06d20, 0x0ada0, /* 2040-2049 */
    0x14b63, 0x09370, 0x049f8, 0x04970, 0x064b0, 0x168a6, 0x0ea50, 0x06b20, 0x1a6c4, 0x0aae0, /* 2050-2059 */
    0x092e0, 0x0d2e3, 0x0c960, 0x0d557, 0x0d4a0, 0x0da50, 0x05d55, 0x056a0, 0x0a6d0, 0x055d4, /* 2060-2069 */
    0x052d0, 0x0a9b8, 0x0a950, 0x0b4a0, 0x0b6a6, 0x0ad50, 0x055a0, 0x0aba4, 0x0a5b0, 0x052b0, /* 2070-2079 */
    0x0b273, 0x06930, 0x07337, 0x06aa0, 0x0ad50, 0x14b55, 0x04b60, 0x0a570, 0x054e4, 0x0d160, /* 2080-2089 */
    0x0e968, 0x0d520, 0x0daa0, 0x16aa6, 0x056d0, 0x04ae0, 0x0a9d4, 0x0a2d0, 0x0d150, 0x0f252, /* 2090-2099 */
    0x0d520,                                                                                  /* 2100 */
};

static int lunar_leap_month(int y) { return (int)(lunar_info[y - LUNAR_FIRST] & 0xf); }

static int lunar_leap_days(int y) {
  return lunar_leap_month(y) ? ((lunar_info[y - LUNAR_FIRST] >> 16) & 1 ? 30 : 29) : 0;
}

static int lunar_month_days(int y, int m) { return (lunar_info[y - LUNAR_FIRST] >> (16 - m)) & 1 ? 30 : 29; }

static int lunar_year_days(int y) {
  int n = lunar_leap_days(y);
  for (int m = 1; m <= 12; m++) n += lunar_month_days(y, m);
  return n;
}

/* Days since 1970-01-01 (signed) of 正月初一 of lunar year y (LUNAR_FIRST..LUNAR_LAST). */
static long lunar_year_start(int y) {
  long x = LUNAR_EPOCH;
  for (int k = LUNAR_FIRST; k < y; k++) x += lunar_year_days(k);
  return x;
}

/* Day d of month m (leap: its 闰月) of lunar year y starting on day start; -1 when none. */
static long lunar_day(int y, long start, int m, int d, int leap) {
  int lm = lunar_leap_month(y);
  if (m < 1 || m > 12 || d < 1 || (leap && lm != m)) return -1;
  if (d > (leap ? lunar_leap_days(y) : lunar_month_days(y, m))) return -1;
  long x = start;
  for (int k = 1; k < m; k++) x += lunar_month_days(y, k) + (k == lm ? lunar_leap_days(y) : 0);
  if (leap) x += lunar_month_days(y, m);
  return x + d - 1;
}

int cx_day_from_lunar(int y, int m, int d, int leap, cx_day *out) {
  if (y < LUNAR_FIRST || y > LUNAR_LAST) return CX_EDATE;
  long x = lunar_day(y, lunar_year_start(y), m, d, leap);
  if (x < 365) return CX_EDATE; /* no such day, or before 1971-01-01 (as cx_day_from_ymd) */
  *out = (cx_day)x;
  return 0;
}

/*
 * 清明 (the sun at 15°) by the solar-term formula day = [Y·D + C] − [Y/4], Y = year mod 100,
 * D = 0.2422, C = 5.59 (1900s) or 4.81 (2000s), in integers (×10^4) so no rounding can creep
 * in. It agrees with the astronomical term in Beijing time for every year 1900..2099 (the
 * closest calls: 2009 at 23:34 on 04-04, 2071 at 00:10 on 04-05); 2100 would need C again.
 */
int cx_day_qingming(int y, cx_day *out) {
  if (y < 1971 || y > 2099) return CX_EDATE;
  long yy = y % 100, c = y < 2000 ? 55900 : 48100;
  return cx_day_from_ymd(y, 4, (int)((yy * 2422 + c) / 10000 - yy / 4), out);
}

/* ------------------------------------------------------------------ statutory holidays */

/* Editions of the 放假办法, by the first day each was in force. */
enum { ED_1949, ED_1999, ED_2008, ED_2014, ED_2025 };

static int edition(cx_day d) {
  /* Days since 1970-01-01 of 1999-09-18, 2008-01-01, 2014-01-01, 2025-01-01 (checked by
   * tests/store/test_calendar.c, statutory_days_follow_the_edition_in_force). */
  static const cx_day from[] = {10852, 13879, 16071, 20089};
  int e = ED_1949;
  while (e < ED_2025 && d >= from[e]) e++;
  return e;
}

static void add_day(cx_day *out, int *n, cx_day d) {
  int i = *n;
  for (int k = 0; k < *n; k++)
    if (out[k] == d) return; /* two holidays on one day: 中秋 on 10-01 (2020) */
  while (i > 0 && out[i - 1] > d) {
    out[i] = out[i - 1];
    i--;
  }
  out[i] = d;
  (*n)++;
}

int cx_calendar_statutory(int year, cx_day out[CX_CAL_STATUTORY_MAX], int *n) {
  cx_day d[CX_CAL_STATUTORY_MAX], x, qingming;
  int k = 0;
  if (year < 1971 || year > 2099 || cx_day_qingming(year, &qingming)) return CX_EDATE;
  long start = lunar_year_start(year);
  cx_day spring = (cx_day)start, dragon = (cx_day)lunar_day(year, start, 5, 5, 0),
         mid = (cx_day)lunar_day(year, start, 8, 15, 0);
  cx_day_from_ymd(year, 1, 1, &x);
  add_day(d, &k, x); /* 元旦 */
  int e = edition(spring - 1);
  if (e == ED_2008 || e == ED_2025) add_day(d, &k, spring - 1); /* 除夕 */
  add_day(d, &k, spring);
  add_day(d, &k, spring + 1);
  e = edition(spring + 2);
  if (e != ED_2008) add_day(d, &k, spring + 2); /* 初三 */
  if (edition(qingming) >= ED_2008) add_day(d, &k, qingming);
  cx_day_from_ymd(year, 5, 1, &x);
  e = edition(x);
  add_day(d, &k, x); /* 劳动节 */
  if (e == ED_1999 || e == ED_2025) add_day(d, &k, x + 1);
  if (e == ED_1999) add_day(d, &k, x + 2);
  if (edition(dragon) >= ED_2008) add_day(d, &k, dragon); /* 端午 */
  if (edition(mid) >= ED_2008) add_day(d, &k, mid);       /* 中秋 */
  cx_day_from_ymd(year, 10, 1, &x);
  add_day(d, &k, x); /* 国庆 */
  add_day(d, &k, x + 1);
  if (edition(x) >= ED_1999) add_day(d, &k, x + 2);
  memcpy(out, d, (size_t)k * sizeof *d);
  *n = k;
  return 0;
}

/* ------------------------------------------------------------------ bits */

#define BYTES(bits) (((bits) + 7) / 8)

static int bit(const uint8_t *b, uint32_t i) { return (b[i >> 3] >> (i & 7)) & 1; }
static void bit_on(uint8_t *b, uint32_t i) { b[i >> 3] |= (uint8_t)(1u << (i & 7)); }

/* Monday..Friday days in [0, x) counting from 1970-01-01 (a Thursday). */
static int64_t weekdays_before(int64_t x) {
  /* partial[r]: weekdays among the first r days of a week starting on Thursday (Th F Sa Su M Tu W). */
  static const int partial[7] = {0, 1, 2, 2, 2, 3, 4};
  return x / 7 * 5 + partial[x % 7];
}

/* ------------------------------------------------------------------ the file */

static int cal_is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

static const char *skip_space(const char *p, const char *end) {
  while (p < end && cal_is_space(*p)) p++;
  return p;
}

static const char *token_end(const char *p, const char *end) {
  while (p < end && !cal_is_space(*p)) p++;
  return p;
}

/* A year of the calendar's range, exactly four digits. */
static int parse_year(const char *p, const char *q, int *y) {
  if (q - p != 4) return 0;
  int v = 0;
  for (; p < q; p++) {
    if (*p < '0' || *p > '9') return 0;
    v = v * 10 + (*p - '0');
  }
  if (v < CX_CAL_FIRST_YEAR || v > CX_CAL_LAST_YEAR) return 0;
  *y = v;
  return 1;
}

enum { LINE_EMPTY, LINE_PUBLISHED, LINE_DAY };

typedef struct cal_line {
  int kind;
  int y1, y2;      /* LINE_PUBLISHED: years y1..y2 */
  uint32_t idx;    /* LINE_DAY: day index from 1990-01-01 */
  int year, month; /* LINE_DAY */
  int holiday;     /* LINE_DAY: 1 holiday, 0 workday */
} cal_line;

/* Why a line is bad, for the operator who wrote it (cx_calendar_parse_why): buf may be NULL. */
typedef struct cal_why {
  char *buf;
  size_t cap;
} cal_why;

static int why(cal_why *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int why(cal_why *w, const char *fmt, ...) {
  if (w && w->buf && w->cap) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->buf, w->cap, fmt, ap);
    va_end(ap);
  }
  return -1;
}

/* A token quoted in a message: at most 40 bytes (the line is checked text already). */
#define SHOWN(p, q) (int)((q) - (p) > 40 ? 40 : (q) - (p)), (p)

/* DDDD-DD-DD: the shape of a day, whether or not it is one. */
static int day_shaped(const char *p, const char *q) {
  if (q - p != 10 || p[4] != '-' || p[7] != '-') return 0;
  for (int i = 0; i < 10; i++)
    if (i != 4 && i != 7 && (p[i] < '0' || p[i] > '9')) return 0;
  return 1;
}

/* Parses one line (without its '\n'): 0, or -1 when it is malformed (w says why). */
static int line_parse(const char *p, const char *end, cx_day first, cal_line *l, cal_why *w) {
  l->kind = LINE_EMPTY;
  p = skip_space(p, end);
  if (p == end || *p == '#') return 0;
  const char *q = token_end(p, end);
  if (q - p == 9 && memcmp(p, "published", 9) == 0) {
    static const char usage[] = "published: expected one or two years of 1990..2099 in order";
    p = skip_space(q, end);
    q = token_end(p, end);
    if (!parse_year(p, q, &l->y1)) return why(w, "%s, got \"%.*s\"", usage, SHOWN(p, q));
    l->y2 = l->y1;
    p = skip_space(q, end);
    if (p < end && *p != '#') {
      q = token_end(p, end);
      if (!parse_year(p, q, &l->y2)) return why(w, "%s, got \"%.*s\"", usage, SHOWN(p, q));
      if (l->y2 < l->y1) return why(w, "%s: %d is before %d", usage, l->y2, l->y1);
      p = skip_space(q, end);
    }
    if (p < end && *p != '#') return why(w, "%s (then a # comment), got \"%.*s\"", usage, SHOWN(p, token_end(p, end)));
    l->kind = LINE_PUBLISHED;
    return 0;
  }
  cx_day d;
  if (cx_day_parse((cx_str){p, (uint32_t)(q - p)}, &d)) {
    if (day_shaped(p, q)) return why(w, "%.10s is not a calendar day", p);
    return why(w, "expected YYYY-MM-DD<TAB>holiday|workday<TAB>name or `published`, got \"%.*s\"", SHOWN(p, q));
  }
  if (d < first || d - first >= CX_CAL_DAYS)
    return why(w, "%.10s: outside the calendar's years %d..%d", p, CX_CAL_FIRST_YEAR, CX_CAL_LAST_YEAR);
  const char *dp = p;
  p = skip_space(q, end);
  q = token_end(p, end);
  if (q - p == 7 && memcmp(p, "holiday", 7) == 0)
    l->holiday = 1;
  else if (q - p == 7 && memcmp(p, "workday", 7) == 0)
    l->holiday = 0;
  else
    return why(w, "%.10s: expected holiday or workday, got \"%.*s\"", dp, SHOWN(p, q));
  /* The rest of the line is a free-text name. */
  l->kind = LINE_DAY;
  l->idx = d - first;
  cx_day_to_ymd(d, &l->year, &l->month, NULL);
  return 0;
}

/* Line iteration: the next line of text from *at as [*p, *end); 0 at the end of the text. */
static int next_line(const char *text, size_t n, size_t *at, const char **p, const char **end) {
  if (*at >= n) return 0;
  size_t e = *at;
  while (e < n && text[e] != '\n') e++;
  *p = text + *at;
  *end = text + e;
  *at = e + 1;
  return 1;
}

static int pub_has(const uint8_t *pub, int y) {
  return y >= CX_CAL_FIRST_YEAR && y <= CX_CAL_LAST_YEAR && bit(pub, (uint32_t)(y - CX_CAL_FIRST_YEAR));
}

int cx_calendar_parse(const char *text, size_t n, cx_calendar *out, int *bad_line) {
  return cx_calendar_parse_why(text, n, out, bad_line, NULL, 0);
}

int cx_calendar_parse_why(const char *text, size_t n, cx_calendar *out, int *bad_line, char *why_buf,
                          size_t cap) {
  cal_why w = {why_buf, cap};
  if (why_buf && cap) why_buf[0] = 0;
  cx_day first;
  cx_day_from_ymd(CX_CAL_FIRST_YEAR, 1, 1, &first);
  /* Per day while parsing (15 KB on the stack): statutory holiday, listed holiday, listed
   * workday; per year: published (by a `published` line), listed (has a day line). */
  uint8_t stat[BYTES(CX_CAL_DAYS)], hol[BYTES(CX_CAL_DAYS)], wrk[BYTES(CX_CAL_DAYS)];
  uint8_t pub[BYTES(CX_CAL_YEARS)], listed[BYTES(CX_CAL_YEARS)];
  memset(stat, 0, sizeof stat);
  memset(hol, 0, sizeof hol);
  memset(wrk, 0, sizeof wrk);
  memset(pub, 0, sizeof pub);
  memset(listed, 0, sizeof listed);
  for (int y = CX_CAL_FIRST_YEAR; y <= CX_CAL_LAST_YEAR; y++) {
    cx_day s[CX_CAL_STATUTORY_MAX];
    int k = 0;
    cx_calendar_statutory(y, s, &k);
    for (int i = 0; i < k; i++) bit_on(stat, s[i] - first);
  }

  /* Pass 1: syntax, contradictions, statutory holidays listed as workday; published years. */
  int line = 0, has_published = 0;
  size_t at = 0;
  const char *p, *end;
  cal_line l;
  while (next_line(text, n, &at, &p, &end)) {
    line++;
    /* The names are free text, but the file is stored (data DB), comments too: text only. */
    if (cx_text_lines_check(p, (size_t)(end - p), NULL)) {
      why(&w, "not text (UTF-8 without control characters but TAB)");
      goto bad;
    }
    if (line_parse(p, end, first, &l, &w)) goto bad;
    if (l.kind == LINE_PUBLISHED) {
      has_published = 1;
      for (int y = l.y1; y <= l.y2; y++) bit_on(pub, (uint32_t)(y - CX_CAL_FIRST_YEAR));
    } else if (l.kind == LINE_DAY) {
      char ds[11];
      cx_day_format(first + l.idx, ds);
      if (bit(l.holiday ? wrk : hol, l.idx)) { /* listed both ways */
        why(&w, "%s: listed both as holiday and as workday", ds);
        goto bad;
      }
      if (!l.holiday && bit(stat, l.idx)) { /* the law makes it a rest day */
        why(&w, "%s: a statutory holiday (全国年节及纪念日放假办法) cannot be a workday", ds);
        goto bad;
      }
      bit_on(l.holiday ? hol : wrk, l.idx);
      bit_on(listed, (uint32_t)(l.year - CX_CAL_FIRST_YEAR));
    }
  }
  /* Pass 2, with a `published` line: every listed day belongs to a published year's notice,
   * or to the last days of December that the next year's notice may set (2018-12-29 in the
   * 2019 notice). A file without one (the older format) publishes the years it lists. */
  if (has_published) {
    line = 0;
    at = 0;
    while (next_line(text, n, &at, &p, &end)) {
      line++;
      line_parse(p, end, first, &l, NULL);
      if (l.kind == LINE_DAY && !pub_has(pub, l.year) && !(l.month == 12 && pub_has(pub, l.year + 1))) {
        char ds[11];
        cx_day_format(first + l.idx, ds);
        why(&w, "%s: %d is not a published year (extend the `published` line)", ds, l.year);
        goto bad;
      }
    }
  } else {
    memcpy(pub, listed, sizeof pub);
  }

  out->first = first;
  memcpy(out->published, pub, sizeof pub);
  memset(out->work, 0, sizeof out->work);
  uint32_t acc = 0;
  for (uint32_t k = 0; k < CX_CAL_DAYS; k++) {
    int rest = cx_day_weekday(first + k) >= 5 || bit(stat, k) || bit(hol, k);
    int work = bit(wrk, k) || !rest;
    if (work) bit_on(out->work, k);
    out->prefix[k] = acc;
    acc += (uint32_t)work;
  }
  out->prefix[CX_CAL_DAYS] = acc;
  return 0;
bad:
  if (bad_line) *bad_line = line;
  return CX_EBADREQ;
}

/* ------------------------------------------------------------------ queries */

int cx_calendar_is_workday(const cx_calendar *cal, cx_day d) {
  if (d >= cal->first && d - cal->first < CX_CAL_DAYS) return bit(cal->work, d - cal->first);
  return cx_day_weekday(d) < 5;
}

/* Working days in [cal->first, x) (negative for x before the range). */
static int64_t cum(const cx_calendar *cal, int64_t x) {
  int64_t f = cal->first, l = (int64_t)cal->first + CX_CAL_DAYS;
  if (x <= f) return weekdays_before(x) - weekdays_before(f);
  if (x <= l) return cal->prefix[x - f];
  return (int64_t)cal->prefix[CX_CAL_DAYS] + weekdays_before(x) - weekdays_before(l);
}

int32_t cx_calendar_workdays(const cx_calendar *cal, cx_day a, cx_day b) {
  if (b <= a) return 0;
  int64_t r = cum(cal, (int64_t)b + 1) - cum(cal, (int64_t)a + 1);
  return r > INT32_MAX ? INT32_MAX : (int32_t)r;
}

int cx_calendar_published(const cx_calendar *cal, int year) { return pub_has(cal->published, year); }

int cx_calendar_span_provisional(const cx_calendar *cal, cx_day a, cx_day b) {
  if (b <= a) return 0;
  if (a + 1 < cal->first || b - cal->first >= CX_CAL_DAYS) return 1; /* outside the range */
  int ya, yb, mb, db;
  cx_day_to_ymd(a + 1, &ya, NULL, NULL);
  cx_day_to_ymd(b, &yb, &mb, &db);
  for (int y = ya; y <= yb; y++)
    if (!pub_has(cal->published, y)) return 1;
  /* Every year is published, so only yb's last days can wait for a notice (yb + 1's). */
  return mb == 12 && db >= CX_CAL_LATE_DECEMBER && !pub_has(cal->published, yb + 1);
}

int cx_calendar_provisional(const cx_calendar *cal, cx_day d) {
  return d == 0 || cx_calendar_span_provisional(cal, d - 1, d);
}
