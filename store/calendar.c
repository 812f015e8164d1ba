/*
 * calendar.c — the working-day calendar (weekends, public holidays and 调休 working days).
 *
 * The parsed calendar is a bit set plus a prefix-count array over 2000..2059, so
 * cx_calendar_workdays() is two array reads; outside that range days count by weekday alone.
 */
#include "store.h"

static int cal_is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Monday..Friday days in [0, x) counting from 1970-01-01 (a Thursday). */
static int64_t weekdays_before(int64_t x) {
  /* partial[r]: weekdays among the first r days of a week starting on Thursday (Th F Sa Su M Tu W). */
  static const int partial[7] = {0, 1, 2, 2, 2, 3, 4};
  return x / 7 * 5 + partial[x % 7];
}

static int bit_get(const cx_calendar *cal, uint32_t i) { return (cal->work[i >> 3] >> (i & 7)) & 1; }

static void bit_set(cx_calendar *cal, uint32_t i, int on) {
  if (on)
    cal->work[i >> 3] |= (uint8_t)(1u << (i & 7));
  else
    cal->work[i >> 3] &= (uint8_t)~(1u << (i & 7));
}

int cx_calendar_parse(const char *text, size_t n, cx_calendar *out, int *bad_line) {
  cx_day first;
  cx_day_from_ymd(CX_CAL_FIRST_YEAR, 1, 1, &first);
  /* Per-day state while parsing (22 KB on the stack): 0 not listed, 1 holiday, 2 workday. */
  uint8_t state[CX_CAL_DAYS];
  memset(state, 0, sizeof state);

  int line = 0;
  size_t i = 0;
  while (i < n) {
    size_t e = i;
    while (e < n && text[e] != '\n') e++;
    line++;
    const char *p = text + i, *end = text + e;
    i = e + 1;
    /* The names are free text, but the file is stored (data DB), comments too: text only. */
    if (cx_text_lines_check(p, (size_t)(end - p), NULL)) goto bad;
    while (p < end && cal_is_space(*p)) p++;
    if (p == end || *p == '#') continue;
    /* date */
    const char *q = p;
    while (q < end && !cal_is_space(*q)) q++;
    cx_day d;
    if (cx_day_parse((cx_str){p, (uint32_t)(q - p)}, &d) || d < first || d - first >= CX_CAL_DAYS) goto bad;
    p = q;
    while (p < end && cal_is_space(*p)) p++;
    q = p;
    while (q < end && !cal_is_space(*q)) q++;
    uint8_t st;
    if (q - p == 7 && memcmp(p, "holiday", 7) == 0)
      st = 1;
    else if (q - p == 7 && memcmp(p, "workday", 7) == 0)
      st = 2;
    else
      goto bad;
    uint32_t idx = d - first;
    if (state[idx] && state[idx] != st) goto bad; /* contradictory entries */
    state[idx] = st;
    /* The rest of the line is a free-text name. */
    continue;
  bad:
    if (bad_line) *bad_line = line;
    return CX_EBADREQ;
  }

  out->first = first;
  memset(out->work, 0, sizeof out->work);
  uint32_t acc = 0;
  for (uint32_t k = 0; k < CX_CAL_DAYS; k++) {
    int work = state[k] == 2 || (state[k] == 0 && cx_day_weekday(first + k) < 5);
    bit_set(out, k, work);
    out->prefix[k] = acc;
    acc += (uint32_t)work;
  }
  out->prefix[CX_CAL_DAYS] = acc;
  return 0;
}

int cx_calendar_is_workday(const cx_calendar *cal, cx_day d) {
  if (d >= cal->first && d - cal->first < CX_CAL_DAYS) return bit_get(cal, d - cal->first);
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
