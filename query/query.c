/*
 * query.c — the query context, visibility rules, name tables and small shared helpers.
 */
#include "query_int.h"

#include <stdlib.h>

const char *const cx_role_names[CX_ROLE_COUNT] = {"public", "approval", "analyst", "submitter",
                                                  "admin"};
const char *const cx_verdict_names[CX_V_COUNT] = {"clear", "review", "deny", "not_found",
                                                  "invalid_code"};
const char *const cx_metric_names[CX_M_COUNT_] = {
    "count",        "amount",  "in_force",  "on_time",  "on_time_rate",
    "report_delay", "repaired", "loss_rate", "kept_rate"};

/* ===================================================================== SipHash-2-4 */

#define ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND                                                                               \
  do {                                                                                         \
    v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32);                                  \
    v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2;                                                     \
    v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0;                                                     \
    v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32);                                  \
  } while (0)

static uint64_t le64(const unsigned char *p) {
  uint64_t v = 0;
  for (int i = 7; i >= 0; i--) v = (v << 8) | p[i];
  return v;
}

uint64_t cx__query_siphash(uint64_t k0, uint64_t k1, const void *data, size_t n) {
  const unsigned char *p = data;
  uint64_t v0 = 0x736f6d6570736575ULL ^ k0, v1 = 0x646f72616e646f6dULL ^ k1;
  uint64_t v2 = 0x6c7967656e657261ULL ^ k0, v3 = 0x7465646279746573ULL ^ k1;
  size_t full = n & ~(size_t)7;
  for (size_t i = 0; i < full; i += 8) {
    uint64_t m = le64(p + i);
    v3 ^= m;
    SIPROUND;
    SIPROUND;
    v0 ^= m;
  }
  uint64_t b = (uint64_t)n << 56;
  for (size_t i = full; i < n; i++) b |= (uint64_t)p[i] << (8 * (i - full));
  v3 ^= b;
  SIPROUND;
  SIPROUND;
  v0 ^= b;
  v2 ^= 0xff;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  SIPROUND;
  return v0 ^ v1 ^ v2 ^ v3;
}

/* ===================================================================== codes */

int cx__query_code(cx_str code, char out[CX_CODE_LEN + 1], int *is_person) {
  if (!code.p && code.n) return CX_EINVALCODE;
  int rc = cx_code_normalize(code.p ? code.p : "", code.n, out, is_person);
  return rc < 0 ? rc : 0;
}

int cx__query_code_is_idcard(const char *code, uint32_t n, uint8_t kind) {
  /* The entity's kind decides, not the code's shape: the batch stores persons and civil
   * servants under ID numbers only and refuses an ID number for any other kind, and the kind
   * does not depend on today (the birth-date test of cx_code_normalize does). */
  (void)code;
  return n == CX_CODE_LEN && cx__query_kind_is_person(kind);
}

cx_str cx__query_visible_code(cx_role role, cx_str code, uint8_t kind, char buf[CX_CODE_TEXT_MAX]) {
  return cx__query_shown_code(code, role == CX_ROLE_PUBLIC && cx__query_code_is_idcard(code.p, code.n, kind), buf);
}

cx_str cx__query_shown_code(cx_str code, int mask, char buf[CX_CODE_TEXT_MAX]) {
  if (code.n != CX_CODE_LEN || (!mask && !cx_code_typed(code.p))) return code;
  char m[CX_CODE_LEN + 1];
  if (mask) cx_idcard_mask(code.p, m);
  else memcpy(m, code.p, CX_CODE_LEN);
  return (cx_str){buf, (uint32_t)cx_code_format(m, buf)};
}

/* ===================================================================== context */

static void derive(cx_query *q) {
  q->restrict_any = 0;
  for (uint32_t a = 0; a < q->cat.n_actions && a < CX_MAX_ACTIONS; a++)
    q->restrict_any |= q->cat.deny[a] | q->cat.review[a];
}

int cx_query_new(cx_store *st, cx_query **out) {
  if (!st || !out) return CX_EBADREQ;
  cx_store_info info;
  int rc = cx_store_info_get(st, &info);
  if (rc < 0) return rc;
  const cx_catalog *cat = cx_store_catalog(st);
  if (!cat) return CX_EINTERNAL;
  cx_query *q = cx_calloc(1, sizeof *q);
  if (!q) return CX_ENOMEM;
  q->st = st;
  if ((rc = cx__query_regions_init(q))) {
    free(q);
    return rc;
  }
  memcpy(&q->cat, cat, sizeof q->cat);
  /* Two independent-looking halves of the 128-bit SipHash key from the one 64-bit salt. */
  q->k0 = info.salt ^ 0x9e3779b97f4a7c15ULL;
  q->k1 = (info.salt * 0xbf58476d1ce4e5b9ULL) ^ 0x94d049bb133111ebULL;
  derive(q);
  *out = q;
  return 0;
}

void cx_query_free(cx_query *q) {
  cx__query_regions_free(q);
  free(q);
}

int cx_query_reload(cx_query *q) {
  if (!q) return CX_EBADREQ;
  /* Prefer the text stored in the environment (another process may have replaced it); fall
   * back to the handle's copy. */
  cx_catalog *tmp = cx_malloc(sizeof *tmp);
  if (!tmp) return CX_ENOMEM;
  int rc, got = 0;
  cx_txn *t = NULL;
  if (cx_store_txn_begin(q->st, &t) == 0) {
    cx_str text;
    int bad = 0;
    if (cx_store_data_get(t, "catalog", &text) == 0 &&
        cx_catalog_parse(text.p, text.n, tmp, &bad) == 0)
      got = 1;
    cx_store_txn_end(t);
  }
  if (!got) {
    const cx_catalog *cat = cx_store_catalog(q->st);
    if (!cat) {
      rc = CX_EINTERNAL;
      goto fail;
    }
    memcpy(tmp, cat, sizeof *tmp);
  }
  memcpy(&q->cat, tmp, sizeof q->cat);
  derive(q);
  rc = 0;
fail:
  free(tmp);
  return rc;
}

const cx_catalog *cx_query_catalog(const cx_query *q) { return &q->cat; }

int cx_query_action(const cx_query *q, cx_str action) {
  int a = cx_catalog_action(&q->cat, action);
  return a < 0 ? CX_EBADREQ : a;
}

/* ===================================================================== visibility */

int cx_query_in_force(const cx_sum_rec *r, cx_day as_of) {
  return cx__in_force(r->status, r->valid_from, r->valid_until, as_of);
}

int cx_query_displayable(const cx_query *q, uint8_t kind, const cx_sum_rec *r, cx_day as_of) {
  cx_day from, end;
  if (!cx_catalog_public_window(&q->cat, cx__query_kind_is_person(kind), r, &from, &end)) return 0;
  return from <= as_of && (end == CX_DAY_OPEN || as_of < end);
}

int cx_query_visible(const cx_query *q, cx_role role, uint8_t kind, const cx_sum_rec *r,
                     cx_day as_of) {
  switch (role) {
  case CX_ROLE_PUBLIC: return cx_query_displayable(q, kind, r, as_of);
  /* Repair and revocation stop sharing with departments (停止共享): approval sees active only. */
  case CX_ROLE_APPROVAL: return r->status == CX_ST_ACTIVE;
  default: return 1;
  }
}

int cx_query_check_day(cx_role role, cx_day as_of) {
  return role == CX_ROLE_PUBLIC && as_of != cx_day_today() ? CX_EPUBLICDAY : 0;
}
