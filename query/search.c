/*
 * search.c — entities by name prefix, then by code prefix.
 */
#include "query_int.h"

#define SEARCH_MAX 100
#define SEARCH_DEFAULT 20
/* Index entries one call may visit (skipped persons and duplicates included): a short public
 * prefix such as a common surname must not walk millions of persons' names. */
#define SEARCH_VISIT_MAX 20000

typedef struct search_ctx {
  const cx_query *q;
  cx_txn *t;
  cx_role role;
  cx_day today;
  uint32_t limit, n;
  char seen[SEARCH_MAX][CX_CODE_LEN];
  cx_search_fn fn;
  void *ctx;
  uint32_t visits;
  int err;
} search_ctx;

static int search_cb(void *vctx, cx_str code, cx_str norm_name) {
  (void)norm_name;
  search_ctx *c = vctx;
  if (++c->visits > SEARCH_VISIT_MAX) {
    c->limit = c->n; /* budget spent: stop both phases with what we have */
    return 1;
  }
  if (code.n != CX_CODE_LEN) return 0;
  for (uint32_t i = 0; i < c->n; i++)
    if (memcmp(c->seen[i], code.p, CX_CODE_LEN) == 0) return 0;
  cx_summary s;
  int rc = cx_store_summary_get(c->t, code.p, &s);
  if (rc == CX_ENOTFOUND) return 0;
  if (rc < 0) {
    c->err = rc;
    return 1;
  }
  if (c->role == CX_ROLE_PUBLIC) {
    /* The public finds no person, and no entity it has no record of today. */
    if (cx__query_kind_is_person(s.kind)) return 0;
    int any = 0;
    for (uint32_t i = 0; i < s.n_recs && !any; i++) {
      cx_sum_rec r;
      cx_summary_rec(&s, i, &r);
      any = cx_query_displayable(c->q, s.kind, &r, c->today);
    }
    if (!any) return 0;
  }
  memcpy(c->seen[c->n++], code.p, CX_CODE_LEN);
  char buf[CX_CODE_TEXT_MAX];
  cx_search_hit h = {s.code, s.name, s.kind, s.code};
  /* A list of names is not a lookup of one: ID numbers are masked for every role but admin. */
  h.code = cx__query_shown_code(s.code, c->role != CX_ROLE_ADMIN && cx__query_code_is_idcard(s.code.p, s.code.n, s.kind),
                                buf);
  rc = c->fn ? c->fn(c->ctx, &h) : 0;
  if (rc < 0) {
    c->err = rc;
    return 1;
  }
  if (rc > 0 || c->n >= c->limit) {
    c->limit = c->n; /* stop both phases */
    return 1;
  }
  return 0;
}

int cx_query_search(const cx_query *q, cx_txn *t, cx_role role, cx_str prefix, uint32_t limit,
                    cx_search_fn fn, void *ctx) {
  if (!q || !t || (unsigned)role >= CX_ROLE_COUNT || limit > SEARCH_MAX) return CX_EBADREQ;
  if (!prefix.p && prefix.n) return CX_EBADREQ;
  char norm[256];
  size_t nn = cx_name_normalize(prefix.p ? prefix.p : "", prefix.n, norm, sizeof norm);

  /* Code prefix: trimmed, upper-cased; only when it looks like the start of a code. */
  char up[CX_CODE_LEN + 1];
  size_t un = 0;
  int code_ok = 1;
  const char *p = prefix.p;
  uint32_t b = 0, e = prefix.n;
  while (b < e && (p[b] == ' ' || p[b] == '\t' || p[b] == '\n' || p[b] == '\r')) b++;
  while (e > b && (p[e - 1] == ' ' || p[e - 1] == '\t' || p[e - 1] == '\n' || p[e - 1] == '\r')) e--;
  if (e - b == 0 || e - b > CX_CODE_LEN) code_ok = 0;
  for (uint32_t i = b; code_ok && i < e; i++) {
    char ch = p[i];
    if (ch >= 'a' && ch <= 'z') ch = (char)(ch - 'a' + 'A');
    if (!((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z'))) code_ok = 0;
    up[un++] = ch;
  }
  if (!nn && !code_ok) return CX_EBADREQ;

  search_ctx *c = &(search_ctx){0};
  c->q = q;
  c->t = t;
  c->role = role;
  c->today = cx_day_today();
  c->limit = limit ? limit : SEARCH_DEFAULT;
  c->fn = fn;
  c->ctx = ctx;
  int rc = 0;
  if (nn) {
    rc = cx_store_names_each(t, (cx_str){norm, (uint32_t)nn}, search_cb, c);
    if (rc < 0) return rc;
    if (c->err) return c->err;
  }
  if (code_ok && c->n < c->limit) {
    rc = cx_store_codes_each(t, (cx_str){up, (uint32_t)un}, search_cb, c);
    if (rc < 0) return rc;
    if (c->err) return c->err;
  }
  return 0;
}
