/*
 * libFuzzer target: the operator-replaceable data-file parsers (store/catalog.c,
 * store/calendar.c, the regions validator, the scorecard rubric). Byte 0 picks the parser
 * (0xF3: the rubric, else byte 0 % 3); the rest is the file.
 * Invariants: return 0 or CX_EBADREQ; on error bad_line is within 1..lines+1; on success the
 * catalogue's counts are within their CX_MAX_* bounds with NUL-terminated codes that look up to
 * themselves, and the calendar's prefix sums are monotone and agree with is_workday, its
 * statutory holidays are rest days and a span is provisional when one of its days is.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "fuzz.h"

static size_t count_lines(const char *s, size_t n) {
  size_t l = 1;
  for (size_t i = 0; i < n; i++) l += s[i] == '\n';
  return l;
}

static cx_catalog cat;
static cx_calendar cal;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  char *text = malloc(size - 1 ? size - 1 : 1);
  CHECK(text);
  memcpy(text, data + 1, size - 1);
  size_t n = size - 1;
  size_t lines = count_lines(text, n);
  int bad = -7;
  if (data[0] == 0xF3) { /* the scorecard rubric (store/scorecard.c); one selector byte, so that
                            the corpus of the other parsers keeps its meaning */
    cx_rubric rb;
    const char *why = NULL;
    int rc = cx_rubric_parse(text, n, &rb, &bad, &why);
    CHECK(rc == 0 || rc == CX_EBADREQ);
    CHECK(why != NULL);
    if (rc) {
      CHECK(bad >= 0 && (size_t)bad <= lines + 1);
      CHECK(why[0]);
    } else {
      double w = 0;
      CHECK(rb.n_bands >= 1 && rb.n_bands <= CX_RUBRIC_BANDS_MAX);
      CHECK(rb.bands[rb.n_bands - 1].min == 0);
      for (uint32_t b = 1; b < rb.n_bands; b++) CHECK(rb.bands[b - 1].min > rb.bands[b].min);
      for (uint32_t b = 0; b < rb.n_bands; b++) CHECK(memchr(rb.bands[b].name, 0, CX_RUBRIC_BAND_NAME));
      for (int i = 0; i < CX_IND_COUNT; i++) {
        const cx_rubric_ind *ri = &rb.ind[i];
        if (!ri->on) continue;
        w += ri->weight;
        CHECK(ri->weight >= 0 && ri->n_pts >= 1 && ri->n_pts <= CX_RUBRIC_POINTS_MAX);
        for (uint32_t k = 1; k < ri->n_pts; k++) CHECK(ri->x[k - 1] < ri->x[k]);
        for (double v = -5; v <= 50; v += 0.37) {
          double p = cx_rubric_points(ri, v);
          CHECK(p >= 0 && p <= 100);
        }
      }
      CHECK(w > 0);
      for (double sc = 0; sc <= 100; sc += 0.5) CHECK(cx_rubric_band(&rb, sc) < rb.n_bands);
    }
    free(text);
    return 0;
  }
  switch (data[0] % 3) {
  case 0: {
    memset(&cat, 0, sizeof cat);
    int rc = cx_catalog_parse(text, n, &cat, &bad);
    CHECK(rc == 0 || rc == CX_EBADREQ);
    if (rc) {
      CHECK(bad >= 1 && (size_t)bad <= lines + 1);
      break;
    }
    CHECK(cat.n_actions <= CX_MAX_ACTIONS && cat.n_lists <= CX_MAX_LISTS &&
          cat.n_measures <= CX_MAX_MEASURES);
    for (uint32_t i = 0; i < cat.n_actions; i++) {
      CHECK(memchr(cat.actions[i].code, 0, CX_CODE_NAME_MAX));
      CHECK(cx_catalog_action(&cat, cx_str_c(cat.actions[i].code)) == (int)i);
    }
    for (uint32_t i = 0; i < cat.n_lists; i++) {
      CHECK(memchr(cat.lists[i].code, 0, CX_CODE_NAME_MAX));
      CHECK(cat.lists[i].category < CX_CAT_COUNT);
      CHECK(cx_catalog_list(&cat, cx_str_c(cat.lists[i].code)) == (int)i);
      uint64_t mask = 0;
      cx_str badc = {0};
      CHECK(cx_catalog_measures(&cat, (int)i, cx_str_c(""), &mask, &badc) == 0);
    }
    for (uint32_t i = 0; i < cat.n_measures; i++) {
      CHECK(memchr(cat.measures[i].code, 0, CX_CODE_NAME_MAX));
      CHECK(cat.measures[i].effect <= CX_EFFECT_INCENTIVE);
      CHECK(cx_catalog_measure(&cat, cx_str_c(cat.measures[i].code)) == (int)i);
      /* provenance: an edition that exists (or none), bounded strings */
      CHECK(cat.measures[i].edition == CX_EDITION_NONE || cat.measures[i].edition < cat.n_editions);
      CHECK(memchr(cat.measures[i].basis, 0, CX_BASIS_MAX) && memchr(cat.measures[i].item, 0, CX_ITEM_MAX));
      cx_catalog_provenance pv;
      CHECK(cx_catalog_provenance_get(&cat, (int)i, &pv) == 0 && pv.basis && pv.edition_title && pv.item);
      CHECK((cat.measures[i].edition == CX_EDITION_NONE) == (pv.edition_code[0] == 0));
    }
    CHECK(cat.n_editions <= CX_MAX_EDITIONS);
    for (uint32_t i = 0; i < cat.n_editions; i++)
      CHECK(cx_catalog_edition(&cat, cx_str_c(cat.editions[i].code)) == (int)i);
    /* Resolve the input itself as a measure list: must not crash. */
    uint64_t mask = 0;
    cx_str badc = {0};
    int mrc = cx_catalog_measures(&cat, -1, (cx_str){text, (uint32_t)n}, &mask, &badc);
    CHECK(mrc == 0 || mrc == CX_ENOTFOUND || mrc == CX_EBADREQ);
    break;
  }
  case 1: {
    int rc = cx_calendar_parse(text, n, &cal, &bad);
    CHECK(rc == 0 || rc == CX_EBADREQ);
    if (rc) {
      CHECK(bad >= 1 && (size_t)bad <= lines + 1);
      break;
    }
    CHECK(cal.prefix[0] == 0);
    for (uint32_t i = 0; i < CX_CAL_DAYS; i++) {
      int w = cx_calendar_is_workday(&cal, cal.first + i);
      CHECK(cal.prefix[i + 1] == cal.prefix[i] + (w ? 1u : 0u));
    }
    CHECK(cx_calendar_workdays(&cal, cal.first, cal.first + CX_CAL_DAYS - 1) ==
          (int32_t)(cal.prefix[CX_CAL_DAYS] - cal.prefix[1]));
    CHECK(cx_calendar_workdays(&cal, cal.first + 10, cal.first + 3) == 0);
    /* No file makes a statutory holiday a working day. */
    for (int y = CX_CAL_FIRST_YEAR; y <= CX_CAL_LAST_YEAR; y++) {
      cx_day s[CX_CAL_STATUTORY_MAX];
      int k = 0;
      CHECK(cx_calendar_statutory(y, s, &k) == 0 && k >= 7 && k <= CX_CAL_STATUTORY_MAX);
      for (int i = 0; i < k; i++) CHECK(!cx_calendar_is_workday(&cal, s[i]));
    }
    /* A span is provisional exactly when one of its days is. */
    for (uint32_t a = cal.first - 3; a < cal.first + CX_CAL_DAYS; a += 97) {
      int any = 0;
      for (cx_day d = a + 1; d <= a + 40; d++) any |= cx_calendar_provisional(&cal, d);
      CHECK(cx_calendar_span_provisional(&cal, a, a + 40) == any);
    }
    break;
  }
  default: {
    int rc = cx_regions_validate(text, n, &bad);
    CHECK(rc == 0 || rc == CX_EBADREQ);
    if (rc) CHECK(bad >= 1 && (size_t)bad <= lines + 1);
    bad = 0;
    rc = cx_regions_history_validate(text, n, &bad);
    CHECK(rc == 0 || rc == CX_EBADREQ);
    if (rc) CHECK(bad >= 1 && (size_t)bad <= lines + 1);
    (void)cx_regions_is_history(text, n);
    break;
  }
  }
  free(text);
  return 0;
}
