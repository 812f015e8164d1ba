/*
 * scorecard.c — 政务诚信评价: a government body's indicators over a period and their score by
 * the operator's rubric (query.h "scorecards"; docs/data-model.md "Scorecards").
 *
 * Two precomputed sources, no scan of records:
 *   - the body's summary (its records as a subject, one digest each): 政务失信 in force at the
 *     period's end by cause, unperformed judgments, lawsuits and commitments decided in the
 *     period, complaints, a serious-dishonesty list entry — over the records the role may see;
 *   - the authority cube (authority, category, subtype, severity, kind, status by month) for
 *     the body as an authority: 双公示 timeliness of the licences and penalties it decided, and
 *     the 政务失信 records of the civil servants it reported (analyst and admin only).
 */
#include <stdio.h>
#include <stdlib.h>

#include "query_int.h"

int cx_scorecard_year(int year, cx_day *from, cx_day *to) {
  if (year < 1971 || year > 9999) return CX_EBADREQ;
  if (cx_day_from_ymd(year, 1, 1, from) || cx_day_from_ymd(year, 12, 31, to)) return CX_EBADREQ;
  return 0;
}

/* ------------------------------------------------------------------ subject indicators */

static void subject(const cx_query *q, const cx_scorecard_req *rq, const cx_summary *s, cx_scorecard *sc) {
  cx_ind_value *v = sc->ind;
  for (uint32_t i = 0; i < s->n_recs; i++) {
    cx_sum_rec r;
    cx_summary_rec(s, i, &r);
    if (!cx_query_visible(q, rq->role, s->kind, &r, rq->as_of)) continue;
    unsigned sub = r.flags >> CX_SRF_SUBTYPE_SHIFT;
    int in_period = r.decision_date >= rq->from && r.decision_date <= rq->to && r.status != CX_ST_REVOKED;
    int in_force = r.decision_date <= rq->to && cx_query_in_force(&r, rq->to);
    switch (r.category) {
    case CX_CAT_GOV_DISHONESTY:
      if (!in_force) break;
      v[CX_IND_GOV_DISHONESTY].num++;
      if (sub == CX_SUB_JUDGMENT) v[CX_IND_GOV_DISHONESTY].by[0]++, v[CX_IND_UNPERFORMED].num++;
      else if (sub == CX_SUB_ADMIN_PENALTY) v[CX_IND_GOV_DISHONESTY].by[1]++;
      else if (sub == CX_SUB_DISCIPLINARY) v[CX_IND_GOV_DISHONESTY].by[2]++;
      else if (sub == CX_SUB_ACCOUNTABILITY) v[CX_IND_GOV_DISHONESTY].by[3]++;
      break;
    case CX_CAT_LAWSUIT:
      if (!in_period) break;
      if (sub == CX_SUB_WON) v[CX_IND_LAWSUIT_LOSS].by[0]++;
      if (sub == CX_SUB_LOST) v[CX_IND_LAWSUIT_LOSS].by[1]++;
      break;
    case CX_CAT_COMMITMENT:
      if (!in_period) break;
      if (sub == CX_SUB_KEPT) v[CX_IND_KEPT_RATE].by[0]++;
      if (sub == CX_SUB_BROKEN) v[CX_IND_KEPT_RATE].by[1]++;
      break;
    case CX_CAT_COMPLAINT:
      if (in_period) v[CX_IND_COMPLAINTS].num++;
      break;
    case CX_CAT_BLACKLIST:
      if (in_force) v[CX_IND_BLACKLISTED].num = 1;
      break;
    default:
      break;
    }
  }
  v[CX_IND_LAWSUIT_LOSS].num = v[CX_IND_LAWSUIT_LOSS].by[1];
  v[CX_IND_LAWSUIT_LOSS].den = v[CX_IND_LAWSUIT_LOSS].by[0] + v[CX_IND_LAWSUIT_LOSS].by[1];
  v[CX_IND_KEPT_RATE].num = v[CX_IND_KEPT_RATE].by[0];
  v[CX_IND_KEPT_RATE].den = v[CX_IND_KEPT_RATE].by[0] + v[CX_IND_KEPT_RATE].by[1];
}

/* ------------------------------------------------------------------ authority indicators */

typedef struct auth_acc {
  uint64_t reported, on_time, delay_sum, staff;
} auth_acc;

static int auth_cell(void *ctx, uint32_t month, const uint32_t *d, const cx_rollup_cell *c) {
  (void)month;
  auth_acc *a = ctx;
  /* cube 1: authority, category, subtype, severity, kind, status */
  uint32_t cat = d[1], kind = d[4], status = d[5];
  if (cat == CX_CAT_LICENSE || cat == CX_CAT_PENALTY) {
    a->reported += (uint64_t)c->reported;
    a->on_time += (uint64_t)c->on_time;
    a->delay_sum += (uint64_t)c->delay_sum;
  }
  if (cat == CX_CAT_GOV_DISHONESTY && kind == CX_KIND_CIVIL_SERVANT && status != CX_ST_REVOKED)
    a->staff += (uint64_t)c->count;
  return 0;
}

static int authority(cx_txn *t, const cx_scorecard_req *rq, cx_scorecard *sc) {
  cx_ind_value *v = sc->ind;
  uint32_t aid;
  int rc = cx_store_authority_find(t, (cx_str){sc->code, CX_CODE_LEN}, &aid);
  if (rc == CX_ENOTFOUND) return 0; /* it decided nothing, reported no one */
  if (rc) return rc;
  auth_acc a = {0, 0, 0, 0};
  if ((rc = cx_store_rollup_each_dim0(t, 1, cx_day_month(rq->from), cx_day_month(rq->to), aid, auth_cell, &a)))
    return rc;
  v[CX_IND_ON_TIME].num = a.on_time;
  v[CX_IND_ON_TIME].den = a.reported;
  v[CX_IND_ON_TIME].by[0] = a.reported - a.on_time;
  v[CX_IND_ON_TIME].by[1] = a.delay_sum;
  v[CX_IND_STAFF].num = a.staff;
  return 0;
}

/* ------------------------------------------------------------------ score */

void cx_scorecard_score(const cx_rubric *rb, cx_role role, cx_scorecard *sc) {
  int pub = role == CX_ROLE_PUBLIC;
  double wsum = 0, psum = 0;
  for (int i = 0; i < CX_IND_COUNT; i++) {
    cx_ind_value *v = &sc->ind[i];
    const cx_rubric_ind *ri = &rb->ind[i];
    v->shown = ri->on && !(pub && (i == CX_IND_ON_TIME || i == CX_IND_STAFF));
    if (cx_ind_is_rate(i)) {
      v->value = v->den ? (double)v->num / (double)v->den : 0;
      v->rated = v->shown && v->den > 0 && v->den >= ri->min_n;
    } else {
      v->value = (double)v->num;
      v->rated = v->shown;
    }
    v->points = v->rated ? cx_rubric_points(ri, v->value) : 0;
    v->weight = v->rated ? ri->weight : 0;
    wsum += v->weight;
    psum += v->weight * v->points;
  }
  sc->raw = wsum > 0 ? psum / wsum : 100.0;
  sc->score = sc->raw;
  sc->vetoes = 0;
  for (int i = 0; i < CX_IND_COUNT; i++) {
    if (!rb->ind[i].veto || !sc->ind[i].shown || !(sc->ind[i].value > 0)) continue;
    if (sc->score > rb->ind[i].veto_cap) sc->score = rb->ind[i].veto_cap;
    sc->vetoes |= 1u << i;
  }
  sc->band = cx_rubric_band(rb, sc->score);
}

/* ------------------------------------------------------------------ one body */

static int of_summary(const cx_query *q, cx_txn *t, const cx_rubric *rb, const cx_scorecard_req *rq,
                      const cx_summary *s, cx_scorecard *out) {
  int pub = rq->role == CX_ROLE_PUBLIC;
  memset(out, 0, sizeof *out);
  memcpy(out->code, s->code.p, CX_CODE_LEN);
  out->name = s->name;
  out->kind = s->kind;
  out->region = s->region;
  subject(q, rq, s, out);
  int rc = pub ? 0 : authority(t, rq, out);
  if (rc) return rc;
  cx_scorecard_score(rb, rq->role, out);
  return 0;
}

static int req_ok(const cx_rubric *rb, const cx_scorecard_req *rq) {
  if (!rb || !rq || (unsigned)rq->role >= CX_ROLE_COUNT || rq->from > rq->to) return CX_EBADREQ;
  if (rq->role == CX_ROLE_PUBLIC && !rb->publish) return CX_EFORBIDDEN;
  return cx_query_check_day(rq->role, rq->as_of);
}

int cx_query_scorecard(const cx_query *q, cx_txn *t, const cx_rubric *rb, const cx_scorecard_req *rq,
                       cx_str code, cx_scorecard *out) {
  int rc;
  if ((rc = req_ok(rb, rq))) return rc;
  if (code.n != CX_CODE_LEN) return CX_ENOTFOUND;
  char c[CX_CODE_LEN + 1];
  memcpy(c, code.p, CX_CODE_LEN);
  c[CX_CODE_LEN] = 0;
  cx_summary s;
  if ((rc = cx_store_summary_get(t, c, &s))) return rc;
  if (s.kind >= CX_KIND_COUNT || !(rb->kinds >> s.kind & 1u)) return CX_EBADREQ;
  if (rq->role == CX_ROLE_PUBLIC) { /* a body the public sees none of is not there for it */
    cx_entity_status es;
    if ((rc = cx__query_entity_of(q, t, rq->role, &s, rq->as_of, &es))) return rc;
  }
  return of_summary(q, t, rb, rq, &s, out);
}

/* ------------------------------------------------------------------ a region, ranked */

typedef struct rank_ctx {
  const cx_query *q;
  cx_txn *t;
  const cx_rubric *rb;
  const cx_scorecard_req *rq;
  uint32_t kinds, levels, max, n, cap;
  cx_scorecard *v;
  int err;
} rank_ctx;

static int rank_cb(void *vctx, cx_str code, cx_str unused) {
  (void)unused;
  rank_ctx *c = vctx;
  if (code.n != CX_CODE_LEN) return 0;
  char k[CX_CODE_LEN + 1];
  memcpy(k, code.p, CX_CODE_LEN);
  k[CX_CODE_LEN] = 0;
  cx_summary s;
  int rc = cx_store_summary_get(c->t, k, &s);
  if (rc == CX_ENOTFOUND) return 0;
  if (rc) goto fail;
  if (s.kind >= CX_KIND_COUNT || !(c->kinds >> s.kind & 1u)) return 0;
  if (c->levels && !(c->levels & cx_scorecard_level(s.region))) return 0;
  if (c->rq->role == CX_ROLE_PUBLIC) {
    cx_entity_status es;
    rc = cx__query_entity_of(c->q, c->t, c->rq->role, &s, c->rq->as_of, &es);
    if (rc == CX_ENOTFOUND) return 0;
    if (rc) goto fail;
  }
  if (c->n == c->max) {
    rc = CX_ETOOLARGE;
    goto fail;
  }
  if (c->n == c->cap) {
    uint32_t cap = c->cap ? 2 * c->cap : 64;
    cx_scorecard *v = realloc(c->v, (size_t)cap * sizeof *v);
    if (!v) {
      rc = CX_ENOMEM;
      goto fail;
    }
    c->v = v;
    c->cap = cap;
  }
  if ((rc = of_summary(c->q, c->t, c->rb, c->rq, &s, &c->v[c->n]))) goto fail;
  c->n++;
  return 0;
fail:
  c->err = rc;
  return 1;
}

static int by_score(const void *a, const void *b) {
  const cx_scorecard *x = a, *y = b;
  if (x->score != y->score) return x->score < y->score ? 1 : -1;
  return memcmp(x->code, y->code, CX_CODE_LEN);
}

uint32_t cx_scorecard_level(uint32_t region) {
  return region % 10000 == 0 ? CX_LEVEL_PROVINCE : region % 100 == 0 ? CX_LEVEL_CITY : CX_LEVEL_COUNTY;
}

int cx_query_scorecards(const cx_query *q, cx_txn *t, const cx_rubric *rb, const cx_scorecard_req *rq,
                        uint32_t region, uint32_t kinds, uint32_t levels, uint32_t max, cx_scorecard **out,
                        uint32_t *n) {
  int rc;
  *out = NULL;
  *n = 0;
  if ((rc = req_ok(rb, rq))) return rc;
  char digits[8];
  int nd = 0;
  if (region >= 100000 && region <= 999999) nd = snprintf(digits, sizeof digits, "%06u", region);
  else if (region >= 1000 && region <= 9999) nd = snprintf(digits, sizeof digits, "%04u", region);
  else if (region >= 10 && region <= 99) nd = snprintf(digits, sizeof digits, "%02u", region);
  else return CX_EBADREQ;
  /* a province or city code given in six digits (350000, 350100) means the same prefix */
  while (nd > 2 && digits[nd - 1] == '0' && digits[nd - 2] == '0') nd -= 2;
  rank_ctx c = {q, t, rb, rq, kinds ? kinds & rb->kinds : rb->kinds, levels, max ? max : UINT32_MAX, 0, 0, NULL, 0};
  /* 机构编制 registrations: 11 机关 (government bodies, sub-district offices), 12 事业单位 */
  static const char *const heads[2] = {"11", "12"};
  for (int h = 0; h < 2 && !c.err; h++) {
    if (h == 0 && !(c.kinds & (1u << CX_KIND_GOVERNMENT | 1u << CX_KIND_SUBDISTRICT))) continue;
    if (h == 1 && !(c.kinds & (1u << CX_KIND_INSTITUTION))) continue;
    char prefix[10];
    memcpy(prefix, heads[h], 2);
    memcpy(prefix + 2, digits, (size_t)nd);
    rc = cx_store_codes_each(t, (cx_str){prefix, (uint32_t)(2 + nd)}, rank_cb, &c);
    if (rc < 0 && !c.err) c.err = rc;
  }
  if (c.err) {
    free(c.v);
    return c.err;
  }
  if (c.n > 1) qsort(c.v, c.n, sizeof *c.v, by_score);
  *out = c.v;
  *n = c.n;
  return 0;
}

/* ------------------------------------------------------------------ drill-down */

typedef struct drill_ctx {
  const cx_query *q;
  const cx_scorecard_req *rq;
  int ind;
  uint8_t kind;          /* the body's (subject indicators) */
  uint32_t m_from, m_to; /* authority indicators: whole months */
  uint32_t limit, emitted, visits;
  int more;
  cx_record_view_fn fn;
  void *ctx;
} drill_ctx;

/* Whether record r (of an entity of kind) is behind indicator ind: the same rules as subject()
 * and auth_cell(). */
static int behind(const drill_ctx *d, const cx_record *r, uint8_t kind, cx_sum_rec *sr) {
  const cx_scorecard_req *rq = d->rq;
  cx__query_sum_rec_of(r, sr);
  if (!cx_query_visible(d->q, rq->role, kind, sr, rq->as_of)) return 0;
  int in_period = r->decision_date >= rq->from && r->decision_date <= rq->to && r->status != CX_ST_REVOKED;
  int in_force = r->decision_date <= rq->to && cx_query_in_force(sr, rq->to);
  uint32_t m = cx_day_month(r->decision_date);
  switch (d->ind) {
  case CX_IND_GOV_DISHONESTY: return r->category == CX_CAT_GOV_DISHONESTY && in_force;
  case CX_IND_UNPERFORMED: return r->category == CX_CAT_GOV_DISHONESTY && r->subtype == CX_SUB_JUDGMENT && in_force;
  case CX_IND_LAWSUIT_LOSS: return r->category == CX_CAT_LAWSUIT && in_period && (r->subtype == CX_SUB_WON || r->subtype == CX_SUB_LOST);
  case CX_IND_KEPT_RATE: return r->category == CX_CAT_COMMITMENT && in_period && (r->subtype == CX_SUB_KEPT || r->subtype == CX_SUB_BROKEN);
  case CX_IND_COMPLAINTS: return r->category == CX_CAT_COMPLAINT && in_period;
  case CX_IND_BLACKLISTED: return r->category == CX_CAT_BLACKLIST && in_force;
  case CX_IND_ON_TIME: /* the ones reported late: what the rate is short of */
    return (r->category == CX_CAT_LICENSE || r->category == CX_CAT_PENALTY) && m >= d->m_from &&
           m <= d->m_to && r->report_date != CX_DAY_NONE && !r->on_time;
  case CX_IND_STAFF:
    return r->entity_kind == CX_KIND_CIVIL_SERVANT && r->category == CX_CAT_GOV_DISHONESTY &&
           r->status != CX_ST_REVOKED && m >= d->m_from && m <= d->m_to;
  default: return 0;
  }
}

static int drill_cb(void *vctx, const cx_reckey *key, const cx_record *r) {
  (void)key;
  drill_ctx *d = vctx;
  if (d->visits == CX_SCORECARD_VISIT_MAX) {
    d->more = 1;
    return 1;
  }
  d->visits++;
  uint8_t kind = d->ind == CX_IND_ON_TIME || d->ind == CX_IND_STAFF ? r->entity_kind : d->kind;
  cx_sum_rec sr;
  if (!behind(d, r, kind, &sr)) return 0;
  if (d->emitted == d->limit) {
    d->more = 1;
    return 1;
  }
  /* ID numbers: masked for every role but admin, as in any list of entities */
  cx_record shown = *r;
  char buf[CX_CODE_TEXT_MAX];
  shown.entity_code = cx__query_shown_code(
      r->entity_code, d->rq->role != CX_ROLE_ADMIN && cx__query_code_is_idcard(r->entity_code.p, r->entity_code.n, kind),
      buf);
  cx_record_view v = {&shown, cx_query_in_force(&sr, d->rq->as_of), cx_query_displayable(d->q, kind, &sr, d->rq->as_of)};
  int rc = d->fn ? d->fn(d->ctx, &v) : 0;
  if (rc < 0) return rc;
  d->emitted++;
  return 0;
}

int cx_query_scorecard_records(const cx_query *q, cx_txn *t, const cx_rubric *rb, const cx_scorecard_req *rq,
                               cx_str code, int ind, uint32_t limit, cx_record_view_fn fn, void *ctx, int *more) {
  *more = 0;
  if (ind < 0 || ind >= CX_IND_COUNT || limit == 0 || limit > CX_RECORDS_MAX_LIMIT) return CX_EBADREQ;
  cx_scorecard sc;
  int rc = cx_query_scorecard(q, t, rb, rq, code, &sc); /* the same checks, the same body */
  if (rc) return rc;
  if (!sc.ind[ind].shown) return CX_EFORBIDDEN;
  drill_ctx d = {q, rq, ind, sc.kind, cx_day_month(rq->from), cx_day_month(rq->to), limit, 0, 0, 0, fn, ctx};
  if (ind == CX_IND_ON_TIME || ind == CX_IND_STAFF) {
    uint32_t aid;
    rc = cx_store_authority_find(t, (cx_str){sc.code, CX_CODE_LEN}, &aid);
    if (rc == CX_ENOTFOUND) return 0;
    if (!rc) rc = cx_store_authority_records_each(t, aid, drill_cb, &d);
  } else {
    cx_summary s;
    char c[CX_CODE_LEN + 1];
    memcpy(c, sc.code, CX_CODE_LEN + 1);
    if (!(rc = cx_store_summary_get(t, c, &s))) rc = cx_store_records_each(t, s.entity_id, NULL, drill_cb, &d);
  }
  *more = d.more;
  return rc < 0 ? rc : 0;
}
