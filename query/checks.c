/*
 * checks.c — receipts of check answers and aggregates over the check log's rollup.
 *
 * Receipt: 32 lower-case hex characters, the receipt seq (16) then SipHash-2-4 of it (16)
 * under a key derived from the store salt (not the cursors' key: a cursor's MAC never makes
 * a receipt). Unique because seqs are (store.h "check log"); not guessable from another
 * receipt because the MAC needs the salt, which never leaves the store's files.
 *
 * Aggregates over checks read the check_rollup cells of the months asked (one per month x
 * action x verdict x county x authority seen), never the log: their cost is bounded by those
 * cells, whatever the number of checks.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "query_int.h"

const char *const cx_cdim_names[CX_CD_COUNT] = {"action", "verdict", "province", "city", "county",
                                                "authority", "year", "quarter", "month"};
const char *const cx_cmetric_names[CX_CM_COUNT] = {"checks", "restricted", "approved_after_review",
                                                   "approved", "feedback", "restricted_rate"};

static void receipt_key(const cx_query *q, uint64_t *k0, uint64_t *k1) {
  *k0 = q->k0 ^ 0x7265636569707431ull; /* "receipt1" */
  *k1 = q->k1 ^ 0x636865636b6c6f67ull; /* "checklog" */
}

void cx_query_receipt_format(const cx_query *q, uint64_t seq, char out[CX_RECEIPT_LEN + 1]) {
  uint64_t k0, k1;
  receipt_key(q, &k0, &k1);
  unsigned char b[8];
  for (int i = 0; i < 8; i++) b[i] = (unsigned char)(seq >> (56 - 8 * i));
  uint64_t v[2] = {seq, cx__query_siphash(k0, k1, b, 8)};
  /* every check answer has one: two characters per byte from a table (a nibble per character
   * with its shift computed was 550 instructions a receipt) */
  static const char hex2[513] =
      "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
      "202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f"
      "404142434445464748494a4b4c4d4e4f505152535455565758595a5b5c5d5e5f"
      "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f"
      "808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9f"
      "a0a1a2a3a4a5a6a7a8a9aaabacadaeafb0b1b2b3b4b5b6b7b8b9babbbcbdbebf"
      "c0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedf"
      "e0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff";
  for (int w = 0; w < 2; w++)
    for (int i = 0; i < 8; i++) memcpy(out + 16 * w + 2 * i, hex2 + 2 * ((v[w] >> (56 - 8 * i)) & 0xff), 2);
  out[CX_RECEIPT_LEN] = 0;
}

int cx_query_receipt_parse(const cx_query *q, cx_str s, uint64_t *seq) {
  if (s.n != CX_RECEIPT_LEN) return CX_EBADREQ;
  uint64_t v[2] = {0, 0};
  for (uint32_t i = 0; i < CX_RECEIPT_LEN; i++) {
    char c = s.p[i];
    unsigned d = c >= '0' && c <= '9' ? (unsigned)(c - '0') : c >= 'a' && c <= 'f' ? (unsigned)(c - 'a' + 10) : 99;
    if (d == 99) return CX_EBADREQ;
    v[i / 16] = v[i / 16] << 4 | d;
  }
  char want[CX_RECEIPT_LEN + 1];
  cx_query_receipt_format(q, v[0], want);
  unsigned diff = 0; /* constant time */
  for (uint32_t i = 0; i < CX_RECEIPT_LEN; i++) diff |= (unsigned)(want[i] ^ s.p[i]);
  if (diff) return CX_EBADREQ;
  *seq = v[0];
  return 0;
}

/* ------------------------------------------------------------------ aggregate */

typedef struct crow {
  uint32_t keys[CX_CD_COUNT];
  int64_t c[4]; /* checks, restricted, after review, approved */
} crow;

typedef struct cagg {
  const cx_cagg_spec *sp;
  uint32_t m_from, m_to;
  crow *v;
  size_t n, cap;
  uint64_t scanned;
} cagg;

static uint32_t cell_dim(const cx_check_cell *c, int d) {
  uint32_t y = c->month / 12, m = c->month % 12 + 1;
  switch (d) {
  case CX_CD_ACTION: return c->action;
  case CX_CD_VERDICT: return c->verdict;
  case CX_CD_PROVINCE: return c->region / 10000;
  case CX_CD_CITY: return c->region / 100;
  case CX_CD_COUNTY: return c->region;
  case CX_CD_AUTHORITY: return c->authority_id;
  case CX_CD_YEAR: return y;
  case CX_CD_QUARTER: return y * 10 + (m - 1) / 3 + 1;
  default: return y * 100 + m;
  }
}

static int on_cell(void *ctx, const cx_check_cell *c) {
  cagg *a = ctx;
  a->scanned++;
  const cx_cagg_spec *sp = a->sp;
  for (int f = 0; f < sp->n_filters; f++) {
    uint32_t v = cell_dim(c, sp->filters[f].dim), k;
    for (k = 0; k < sp->filters[f].n && sp->filters[f].vals[k] != v; k++) {}
    if (k == sp->filters[f].n) return 0;
  }
  if (a->n == a->cap) {
    size_t nc = a->cap ? a->cap * 2 : 256;
    crow *nv = cx_realloc(a->v, nc * sizeof *nv);
    if (!nv) return CX_ENOMEM;
    a->v = nv;
    a->cap = nc;
  }
  crow *r = &a->v[a->n++];
  memset(r, 0, sizeof *r);
  for (int i = 0; i < sp->n_group; i++) r->keys[i] = cell_dim(c, sp->group[i]);
  r->c[0] = c->checks;
  r->c[1] = c->restricted;
  r->c[2] = c->approved_after_review;
  r->c[3] = c->approved;
  return 0;
}

static int cmp_keys(const void *x, const void *y) {
  const crow *a = x, *b = y;
  for (int i = 0; i < CX_CD_COUNT; i++)
    if (a->keys[i] != b->keys[i]) return a->keys[i] < b->keys[i] ? -1 : 1;
  return 0;
}

int cx_query_check_aggregate(const cx_query *q, cx_txn *t, const cx_cagg_spec *sp, cx_cagg_result *out) {
  if (!q || !t || !sp || !out || sp->n_group > CX_CD_COUNT || sp->n_metrics > CX_CM_COUNT ||
      sp->n_filters > CX_CD_COUNT)
    return CX_EBADREQ;
  for (int i = 0; i < sp->n_group; i++) {
    if (sp->group[i] >= CX_CD_COUNT) return CX_EBADREQ;
    for (int j = 0; j < i; j++)
      if (sp->group[j] == sp->group[i]) return CX_EBADREQ;
  }
  for (int i = 0; i < sp->n_metrics; i++)
    if (sp->metrics[i] >= CX_CM_COUNT) return CX_EBADREQ;
  for (int i = 0; i < sp->n_filters; i++)
    if (sp->filters[i].dim >= CX_CD_COUNT || !sp->filters[i].n || sp->filters[i].n > CX_AGG_MAX_FILTER_VALUES)
      return CX_EBADREQ;
  if (sp->from != CX_DAY_NONE && sp->to != CX_DAY_NONE && sp->from > sp->to) return CX_EBADREQ;
  cagg a = {.sp = sp};
  a.m_from = sp->from == CX_DAY_NONE ? 0 : cx_day_month(sp->from);
  a.m_to = sp->to == CX_DAY_NONE ? 0xFFFF : cx_day_month(sp->to);
  int rc = cx_store_check_rollup_each(t, a.m_from, a.m_to, on_cell, &a);
  if (rc) {
    cx_free(a.v);
    return rc;
  }
  if (a.n > 1) qsort(a.v, a.n, sizeof *a.v, cmp_keys);
  size_t w = 0;
  for (size_t i = 0; i < a.n; i++) {
    if (w && cmp_keys(&a.v[w - 1], &a.v[i]) == 0) {
      for (int k = 0; k < 4; k++) a.v[w - 1].c[k] += a.v[i].c[k];
    } else {
      a.v[w++] = a.v[i];
    }
  }
  uint32_t max = sp->max_groups ? sp->max_groups : CX_AGG_MAX_GROUPS;
  if (w > max) {
    cx_free(a.v);
    return CX_ETOOLARGE;
  }
  cx_cagg_row *rows = w ? cx_calloc(w, sizeof *rows) : NULL;
  if (w && !rows) {
    cx_free(a.v);
    return CX_ENOMEM;
  }
  for (size_t i = 0; i < w; i++) {
    memcpy(rows[i].keys, a.v[i].keys, sizeof rows[i].keys);
    const int64_t *c = a.v[i].c;
    int64_t fb = c[1] + c[2] + c[3];
    for (int m = 0; m < sp->n_metrics; m++) {
      double v;
      switch (sp->metrics[m]) {
      case CX_CM_CHECKS: v = (double)c[0]; break;
      case CX_CM_RESTRICTED: v = (double)c[1]; break;
      case CX_CM_AFTER_REVIEW: v = (double)c[2]; break;
      case CX_CM_APPROVED: v = (double)c[3]; break;
      case CX_CM_FEEDBACK: v = (double)fb; break;
      default: v = fb ? (double)c[1] / (double)fb : NAN; break; /* of the checks given feedback */
      }
      rows[i].vals[m] = v;
    }
  }
  cx_free(a.v);
  out->n_rows = (uint32_t)w;
  out->rows = rows;
  out->scanned = a.scanned;
  return 0;
}

void cx_cagg_result_free(cx_cagg_result *r) {
  if (!r) return;
  cx_free(r->rows);
  r->rows = NULL;
  r->n_rows = 0;
}
