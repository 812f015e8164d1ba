/*
 * scorecard.c — the scorecard rubric (data/scorecard.tsv, data file "scorecard"): parsing,
 * curves and grade bands. The scorecard itself (indicators from summaries and rollups) is
 * query/'s (query/scorecard.c); this is the data file the store validates on load.
 */
#include <math.h>
#include <stdlib.h>

#include "store_int.h"

const char *const cx_ind_names[CX_IND_COUNT] = {
    "gov_dishonesty", "unperformed_judgments", "lawsuit_loss_rate", "commitment_kept_rate",
    "on_time_rate",   "complaints",            "staff_discipline",  "blacklisted"};

int cx_ind_is_rate(int ind) {
  return ind == CX_IND_LAWSUIT_LOSS || ind == CX_IND_KEPT_RATE || ind == CX_IND_ON_TIME;
}

/* ------------------------------------------------------------------ lines */

#define RB_FIELDS 6

static int blank(char c) { return c == ' ' || c == '\r' || c == '\t' || c == '\v' || c == '\f'; }

/* Splits a line on runs of tabs, fields trimmed of spaces; nf = 0 for a blank or comment line,
 * RB_FIELDS + 1 for one with too many fields. */
static int split(const char *p, size_t n, cx_str *f) {
  while (n && blank(p[0])) p++, n--;
  while (n && blank(p[n - 1])) n--;
  if (!n || p[0] == '#') return 0;
  int nf = 0;
  size_t i = 0;
  while (i < n) {
    size_t e = i;
    while (e < n && p[e] != '\t') e++;
    if (nf == RB_FIELDS) return RB_FIELDS + 1;
    cx_str s = {p + i, (uint32_t)(e - i)};
    while (s.n && blank(s.p[0])) s.p++, s.n--;
    while (s.n && blank(s.p[s.n - 1])) s.n--;
    f[nf++] = s;
    while (e < n && p[e] == '\t') e++;
    i = e;
  }
  return nf;
}

/* A decimal number (digits, one optional '.', optional leading '-'), at most 32 bytes. */
static int num(cx_str s, double *out) {
  char b[33];
  if (!s.n || s.n > 32) return -1;
  int dot = 0, digits = 0;
  for (uint32_t i = 0; i < s.n; i++) {
    char c = s.p[i];
    if (c == '-' && i == 0) continue;
    if (c == '.' && !dot++) continue;
    if (c < '0' || c > '9') return -1;
    digits++;
  }
  if (!digits) return -1;
  memcpy(b, s.p, s.n);
  b[s.n] = 0;
  *out = strtod(b, NULL);
  return isfinite(*out) ? 0 : -1;
}

static int word(cx_str s, const char *w) { return cx_str_eq(s, cx_str_c(w)); }

static int ind_of(cx_str s) {
  for (int i = 0; i < CX_IND_COUNT; i++)
    if (word(s, cx_ind_names[i])) return i;
  return -1;
}

/* "x:points,x:points,..." into i's curve. */
static int curve(cx_str s, cx_rubric_ind *ind, const char **why) {
  ind->n_pts = 0;
  uint32_t a = 0;
  while (a <= s.n) {
    uint32_t e = a;
    while (e < s.n && s.p[e] != ',') e++;
    cx_str pt = {s.p + a, e - a};
    const char *colon = memchr(pt.p, ':', pt.n);
    double x, y;
    if (!colon || num((cx_str){pt.p, (uint32_t)(colon - pt.p)}, &x) ||
        num((cx_str){colon + 1, (uint32_t)(pt.p + pt.n - colon - 1)}, &y)) {
      *why = "curve: expected value:points pairs separated by commas, e.g. 0:100,1:60,3:0";
      return -1;
    }
    if (y < 0 || y > 100) {
      *why = "curve: points must be 0..100";
      return -1;
    }
    if (ind->n_pts == CX_RUBRIC_POINTS_MAX) {
      *why = "curve: at most 8 points";
      return -1;
    }
    if (ind->n_pts && x <= ind->x[ind->n_pts - 1]) {
      *why = "curve: values must ascend";
      return -1;
    }
    ind->x[ind->n_pts] = x;
    ind->pts[ind->n_pts++] = y;
    a = e + 1;
  }
  return 0;
}

int cx_rubric_parse(const char *text, size_t n, cx_rubric *out, int *bad_line, const char **why) {
  cx_rubric r;
  memset(&r, 0, sizeof r);
  int seen_publish = 0, seen_kinds = 0;
  *bad_line = 0;
  *why = "";
  size_t at = 0;
  int line = 0;
#define BAD(msg)      \
  do {                \
    *bad_line = line; \
    *why = (msg);     \
    return CX_EBADREQ; \
  } while (0)
  while (at < n) {
    const char *nl = memchr(text + at, '\n', n - at);
    size_t len = nl ? (size_t)(nl - (text + at)) : n - at;
    line++;
    const char *lp = text + at;
    cx_str f[RB_FIELDS];
    int nf = split(lp, len, f);
    at += len + (nl ? 1 : 0);
    if (!nf) continue;
    if (nf > RB_FIELDS) BAD("too many fields");
    /* TAB separates; a CR before the LF is allowed; no other control character */
    if (cx_text_check(lp, len && lp[len - 1] == '\r' ? len - 1 : len, CX_TEXT_FREE, NULL))
      BAD("not UTF-8, or a control character");
    if (word(f[0], "publish")) {
      if (nf != 2 || !(word(f[1], "yes") || word(f[1], "no"))) BAD("publish: expected yes or no");
      if (seen_publish++) BAD("publish: given twice");
      r.publish = word(f[1], "yes");
    } else if (word(f[0], "kinds")) {
      if (nf != 2) BAD("kinds: expected one comma-separated list of entity kinds");
      if (seen_kinds++) BAD("kinds: given twice");
      uint32_t a = 0;
      while (a <= f[1].n) {
        uint32_t e = a;
        while (e < f[1].n && f[1].p[e] != ',') e++;
        int k = cx_enum_parse(cx_kind_names, CX_KIND_COUNT, (cx_str){f[1].p + a, e - a});
        if (k < 0) BAD("kinds: unknown entity kind (government, subdistrict, institution, ...)");
        if (k == CX_KIND_PERSON || k == CX_KIND_CIVIL_SERVANT)
          BAD("kinds: persons and civil servants are not scored (civil servants count for their body)");
        r.kinds |= 1u << k;
        a = e + 1;
      }
    } else if (word(f[0], "indicator")) {
      if (nf < 4 || nf > 5) BAD("indicator: expected name, weight, curve and, for a rate, the minimum cases");
      int i = ind_of(f[1]);
      if (i < 0)
        BAD("indicator: unknown (gov_dishonesty, unperformed_judgments, lawsuit_loss_rate, "
            "commitment_kept_rate, on_time_rate, complaints, staff_discipline, blacklisted)");
      cx_rubric_ind *ind = &r.ind[i];
      if (ind->on) BAD("indicator: given twice");
      if (num(f[2], &ind->weight) || ind->weight < 0 || ind->weight > 1000)
        BAD("indicator: weight must be a number 0..1000");
      const char *w = NULL;
      if (curve(f[3], ind, &w)) BAD(w);
      if (nf == 5) {
        double m;
        if (!cx_ind_is_rate(i)) BAD("indicator: only rates take a minimum of cases");
        if (num(f[4], &m) || m < 0 || m > 1e9 || m != (double)(uint32_t)m) BAD("indicator: minimum cases must be a whole number");
        ind->min_n = (uint32_t)m;
      }
      ind->on = 1;
    } else if (word(f[0], "veto")) {
      if (nf != 3) BAD("veto: expected an indicator and the highest score it allows");
      int i = ind_of(f[1]);
      if (i < 0 || cx_ind_is_rate(i)) BAD("veto: a count indicator (e.g. blacklisted, unperformed_judgments)");
      if (r.ind[i].veto) BAD("veto: given twice");
      if (num(f[2], &r.ind[i].veto_cap) || r.ind[i].veto_cap < 0 || r.ind[i].veto_cap > 100)
        BAD("veto: the cap must be a score 0..100");
      r.ind[i].veto = 1;
    } else if (word(f[0], "band")) {
      if (nf != 3) BAD("band: expected a grade name and its minimum score");
      if (r.n_bands == CX_RUBRIC_BANDS_MAX) BAD("band: at most 8 grades");
      if (!f[1].n || f[1].n >= CX_RUBRIC_BAND_NAME) BAD("band: a name of 1..47 bytes");
      double m;
      if (num(f[2], &m) || m < 0 || m > 100) BAD("band: the minimum must be a score 0..100");
      for (uint32_t b = 0; b < r.n_bands; b++)
        if (r.bands[b].min == m) BAD("band: two grades with the same minimum");
      uint32_t b = r.n_bands++;
      while (b > 0 && r.bands[b - 1].min < m) { /* keep min descending */
        r.bands[b] = r.bands[b - 1];
        b--;
      }
      r.bands[b].min = m;
      memcpy(r.bands[b].name, f[1].p, f[1].n);
      r.bands[b].name[f[1].n] = 0;
    } else {
      BAD("unknown line (publish, kinds, indicator, veto, band)");
    }
  }
  line = 0;
  double wsum = 0;
  for (int i = 0; i < CX_IND_COUNT; i++) {
    if (r.ind[i].veto && !r.ind[i].on) BAD("veto of an indicator the rubric does not list");
    if (r.ind[i].on) wsum += r.ind[i].weight;
  }
  if (wsum <= 0) BAD("no weighted indicator");
  if (!r.n_bands) BAD("no band (grade)");
  if (r.bands[r.n_bands - 1].min != 0) BAD("the lowest band must start at 0");
  if (!seen_kinds) r.kinds = 1u << CX_KIND_GOVERNMENT | 1u << CX_KIND_SUBDISTRICT;
#undef BAD
  *out = r;
  return 0;
}

double cx_rubric_points(const cx_rubric_ind *i, double v) {
  if (!i->n_pts) return 0;
  if (v <= i->x[0]) return i->pts[0];
  for (uint32_t k = 1; k < i->n_pts; k++)
    if (v <= i->x[k]) {
      double t = (v - i->x[k - 1]) / (i->x[k] - i->x[k - 1]);
      return i->pts[k - 1] + t * (i->pts[k] - i->pts[k - 1]);
    }
  return i->pts[i->n_pts - 1];
}

uint32_t cx_rubric_band(const cx_rubric *r, double s) {
  for (uint32_t b = 0; b < r->n_bands; b++)
    if (s >= r->bands[b].min) return b;
  return r->n_bands ? r->n_bands - 1 : 0;
}

int cx_store_rubric(cx_txn *t, cx_rubric *out) {
  cx_str text;
  int rc = cx_store_data_get(t, "scorecard", &text);
  if (rc == CX_ENOTFOUND) text = (cx_str){cx_data_scorecard, (uint32_t)cx_data_scorecard_len};
  else if (rc) return rc;
  int bad;
  const char *why;
  if (cx_rubric_parse(text.p, text.n, out, &bad, &why)) {
    cx__store_setmsg(t->st, "stored scorecard rubric does not parse (line %d: %s)", bad, why);
    return CX_ECORRUPT;
  }
  return 0;
}
