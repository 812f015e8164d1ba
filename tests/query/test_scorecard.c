/* test_scorecard.c — 政务诚信评价: cx_query_scorecard(s) against a naive computation over the
 * records on random stores (as the aggregate test does), rankings, drill-down, roles. */
#include "qtest.h"

static qt_env E;

#define NBODY 12
#define NENT 30
#define NCS 10
#define NREC 2500

typedef struct mrec {
  int subj;          /* 0..NBODY-1 a body, NBODY.. an enterprise, then civil servants */
  int auth;          /* the deciding authority: a body */
  uint8_t cat, sub, st, kind, sev;
  cx_day dec, rep, from, until;
  int32_t delay;
  uint8_t on_time;
  char rid[24];
} mrec;

static mrec R[NREC];
static char CODE[NBODY + NENT + NCS][19];
static uint8_t KIND[NBODY + NENT + NCS];
static uint64_t rng;

static uint32_t rnd(uint32_t n) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng % n);
}

static void build(uint64_t seed) {
  rng = seed;
  for (int b = 0; b < NBODY; b++) { /* bodies: half in 福州 (3501), half in 厦门 (3502) */
    char body[32];
    snprintf(body, sizeof body, "11%06u%08d0", b % 2 ? 350203u : 350102u, 700 + b);
    qt_uscc(body, CODE[b]);
    KIND[b] = b % 3 == 2 ? CX_KIND_SUBDISTRICT : CX_KIND_GOVERNMENT;
  }
  for (int e = 0; e < NENT; e++) {
    qt_ent(e, 350102, CODE[NBODY + e]);
    KIND[NBODY + e] = CX_KIND_ENTERPRISE;
  }
  for (int c = 0; c < NCS; c++) {
    char body[32];
    snprintf(body, sizeof body, "35010219800101%03u", (unsigned)c % 1000u);
    qt_idcard(body, CODE[NBODY + NENT + c]);
    KIND[NBODY + NENT + c] = CX_KIND_CIVIL_SERVANT;
  }
  cx_day d0 = qt_day("2022-10-01");
  cx_batch *b = NULL;
  const char *why = NULL;
  static const uint8_t body_cats[] = {CX_CAT_GOV_DISHONESTY, CX_CAT_LAWSUIT, CX_CAT_COMMITMENT,
                                      CX_CAT_COMPLAINT, CX_CAT_BLACKLIST, CX_CAT_LICENSE};
  for (int i = 0; i < NREC; i++) {
    mrec *m = &R[i];
    uint32_t who = rnd(10);
    m->auth = (int)rnd(NBODY);
    if (who < 4) { /* a body as the subject */
      m->subj = (int)rnd(NBODY);
      m->cat = body_cats[rnd(sizeof body_cats)];
    } else if (who < 8) { /* an enterprise's licence or penalty, decided by a body */
      m->subj = NBODY + (int)rnd(NENT);
      m->cat = rnd(2) ? CX_CAT_LICENSE : CX_CAT_PENALTY;
    } else { /* a civil servant, reported by a body */
      m->subj = NBODY + NENT + (int)rnd(NCS);
      m->cat = rnd(4) ? CX_CAT_GOV_DISHONESTY : CX_CAT_COMMITMENT;
    }
    m->kind = KIND[m->subj];
    m->sub = CX_SUB_NONE;
    if (m->cat == CX_CAT_LAWSUIT) m->sub = (uint8_t)(rnd(4) == 0 ? CX_SUB_NONE : CX_SUB_WON + rnd(2));
    if (m->cat == CX_CAT_COMMITMENT) m->sub = (uint8_t)(rnd(4) == 0 ? CX_SUB_NONE : CX_SUB_KEPT + rnd(2));
    if (m->cat == CX_CAT_GOV_DISHONESTY) m->sub = (uint8_t)(CX_SUB_JUDGMENT + rnd(4));
    uint32_t s = rnd(10);
    m->st = s < 7 ? CX_ST_ACTIVE : s < 9 ? CX_ST_REPAIRED : CX_ST_REVOKED;
    m->dec = d0 + rnd(600);
    m->rep = rnd(5) == 0 ? CX_DAY_NONE : m->dec + rnd(20);
    m->from = m->dec + rnd(5);
    m->until = rnd(3) == 0 ? CX_DAY_OPEN : m->dec + 20 + rnd(500);
    snprintf(m->rid, sizeof m->rid, "SC-%05d", i);
    if (!b) cr_assert_eq(cx_batch_begin(E.st, &b), 0);
    char aname[32];
    snprintf(aname, sizeof aname, "机关%02d", m->auth);
    cx_record r = qt_rec(CODE[m->subj], m->subj < NBODY ? "某机关" : "某主体", m->kind, CODE[m->auth], m->rid,
                         m->cat, m->dec);
    r.authority_name = cx_str_c(aname);
    r.subtype = m->sub;
    r.status = m->st;
    r.report_date = m->rep;
    r.valid_from = m->from;
    r.valid_until = m->until;
    if (m->cat == CX_CAT_BLACKLIST) r.list_type = CX_STR("court_dishonest");
    cr_assert_eq(cx_batch_put(b, &r, &why), 0, "put %d: %s", i, why ? why : "");
    if (i % 500 == 499 || i == NREC - 1) {
      cr_assert_eq(cx_batch_commit(b, NULL), 0, "%s", cx_store_errmsg(E.st));
      b = NULL;
    }
  }
  cx_txn *t = qt_txn(&E);
  for (int i = 0; i < NREC; i++) { /* delays and on-time marks are the store's (its calendar) */
    cx_reckey k;
    cx_record r;
    cr_assert_eq(cx_store_record_get(t, cx_str_c(CODE[R[i].auth]), cx_str_c(R[i].rid), &k, &r), 0);
    R[i].delay = r.report_delay;
    R[i].on_time = r.on_time;
    R[i].rep = r.report_date;
    R[i].sev = r.severity; /* the tier the store derived */
  }
}

static void setup(void) { qt_open(&E); }
static void teardown(void) { qt_close(&E); }
TestSuite(scorecard, .init = setup, .fini = teardown, .timeout = 120);

/* ------------------------------------------------------------------ the naive computation */

typedef struct naive_t {
  uint64_t num[CX_IND_COUNT], den[CX_IND_COUNT], by[CX_IND_COUNT][4];
} naive_t;

static cx_sum_rec sum_of(const mrec *m) {
  cx_sum_rec s;
  memset(&s, 0, sizeof s);
  s.decision_date = m->dec;
  s.valid_from = m->from;
  s.valid_until = m->until;
  s.display_until = CX_DAY_NONE;
  s.category = m->cat;
  s.status = m->st;
  s.severity = m->sev;
  s.flags = (uint8_t)(m->sub << CX_SRF_SUBTYPE_SHIFT);
  return s;
}

static naive_t naive(int body, const cx_scorecard_req *rq) {
  naive_t n;
  memset(&n, 0, sizeof n);
  uint32_t mf = cx_day_month(rq->from), mt = cx_day_month(rq->to);
  for (int i = 0; i < NREC; i++) {
    const mrec *m = &R[i];
    cx_sum_rec s = sum_of(m);
    int in_period = m->dec >= rq->from && m->dec <= rq->to && m->st != CX_ST_REVOKED;
    int in_force = m->dec <= rq->to && m->st == CX_ST_ACTIVE && m->from <= rq->to && rq->to < m->until;
    if (m->subj == body && cx_query_visible(E.q, rq->role, m->kind, &s, rq->as_of)) {
      if (m->cat == CX_CAT_GOV_DISHONESTY && in_force) {
        n.num[CX_IND_GOV_DISHONESTY]++;
        n.by[CX_IND_GOV_DISHONESTY][m->sub - CX_SUB_JUDGMENT]++;
        if (m->sub == CX_SUB_JUDGMENT) n.num[CX_IND_UNPERFORMED]++;
      }
      if (m->cat == CX_CAT_LAWSUIT && in_period && m->sub != CX_SUB_NONE) {
        n.den[CX_IND_LAWSUIT_LOSS]++;
        n.by[CX_IND_LAWSUIT_LOSS][m->sub - CX_SUB_WON]++;
        if (m->sub == CX_SUB_LOST) n.num[CX_IND_LAWSUIT_LOSS]++;
      }
      if (m->cat == CX_CAT_COMMITMENT && in_period && m->sub != CX_SUB_NONE) {
        n.den[CX_IND_KEPT_RATE]++;
        n.by[CX_IND_KEPT_RATE][m->sub - CX_SUB_KEPT]++;
        if (m->sub == CX_SUB_KEPT) n.num[CX_IND_KEPT_RATE]++;
      }
      if (m->cat == CX_CAT_COMPLAINT && in_period) n.num[CX_IND_COMPLAINTS]++;
      if (m->cat == CX_CAT_BLACKLIST && in_force) n.num[CX_IND_BLACKLISTED] = 1;
    }
    uint32_t mo = cx_day_month(m->dec);
    if (m->auth == body && rq->role != CX_ROLE_PUBLIC && mo >= mf && mo <= mt) {
      if ((m->cat == CX_CAT_LICENSE || m->cat == CX_CAT_PENALTY) && m->rep != CX_DAY_NONE) {
        n.den[CX_IND_ON_TIME]++;
        if (m->on_time) n.num[CX_IND_ON_TIME]++;
        else n.by[CX_IND_ON_TIME][0]++;
        if (m->delay > 0) n.by[CX_IND_ON_TIME][1] += (uint64_t)m->delay;
      }
      if (m->kind == CX_KIND_CIVIL_SERVANT && m->cat == CX_CAT_GOV_DISHONESTY && m->st != CX_ST_REVOKED)
        n.num[CX_IND_STAFF]++;
    }
  }
  return n;
}

/* The score the rubric gives naive counts: the weighted mean of the rated indicators' points,
 * capped by the vetoes. */
static double naive_score(const cx_rubric *rb, const naive_t *n, int pub) {
  double w = 0, p = 0, cap = 100;
  for (int i = 0; i < CX_IND_COUNT; i++) {
    const cx_rubric_ind *ri = &rb->ind[i];
    if (!ri->on || (pub && (i == CX_IND_ON_TIME || i == CX_IND_STAFF))) continue;
    double v;
    if (cx_ind_is_rate(i)) {
      if (!n->den[i] || n->den[i] < ri->min_n) continue;
      v = (double)n->num[i] / (double)n->den[i];
    } else {
      v = (double)n->num[i];
      if (ri->veto && v > 0 && ri->veto_cap < cap) cap = ri->veto_cap;
    }
    w += ri->weight;
    p += ri->weight * cx_rubric_points(ri, v);
  }
  double s = w > 0 ? p / w : 100;
  return s < cap ? s : cap;
}

static int drill_count(void *ctx, const cx_record_view *v) {
  (void)v;
  (*(uint32_t *)ctx)++;
  return 0;
}

static uint64_t seen[CX_IND_COUNT]; /* what the comparisons covered: not all zeros */
static uint32_t compared;

static void agree(const cx_rubric *rb, const cx_scorecard_req *rq) {
  cx_txn *t = qt_txn(&E);
  int pub = rq->role == CX_ROLE_PUBLIC;
  for (int b = 0; b < NBODY; b++) {
    cx_scorecard sc;
    int rc = cx_query_scorecard(E.q, t, rb, rq, cx_str_c(CODE[b]), &sc);
    if (pub && rc == CX_ENOTFOUND) continue; /* nothing of it the public may see */
    cr_assert_eq(rc, 0, "body %d: %s", b, cx_strerror(rc));
    naive_t n = naive(b, rq);
    compared++;
    for (int i = 0; i < CX_IND_COUNT; i++) seen[i] += n.num[i] + n.den[i];
    for (int i = 0; i < CX_IND_COUNT; i++) {
      cr_assert_eq(sc.ind[i].num, n.num[i], "body %d %s: num %llu, naive %llu", b, cx_ind_names[i],
                   (unsigned long long)sc.ind[i].num, (unsigned long long)n.num[i]);
      cr_assert_eq(sc.ind[i].den, n.den[i], "body %d %s: den", b, cx_ind_names[i]);
      for (int k = 0; k < 4; k++) cr_assert_eq(sc.ind[i].by[k], n.by[i][k], "body %d %s by[%d]", b, cx_ind_names[i], k);
      if (pub && (i == CX_IND_ON_TIME || i == CX_IND_STAFF)) cr_assert(!sc.ind[i].shown);
    }
    double want = naive_score(rb, &n, pub);
    cr_assert_float_eq(sc.score, want, 1e-9, "body %d: score %f, naive %f", b, sc.score, want);
    cr_assert_eq(sc.band, cx_rubric_band(rb, want));
    /* drill-down: the records behind each indicator are the ones it counts */
    for (int i = 0; i < CX_IND_COUNT; i++) {
      uint32_t got = 0;
      int more = 0;
      rc = cx_query_scorecard_records(E.q, t, rb, rq, cx_str_c(CODE[b]), i, 1000, drill_count, &got, &more);
      if (!sc.ind[i].shown) {
        cr_assert_eq(rc, CX_EFORBIDDEN);
        continue;
      }
      cr_assert_eq(rc, 0, "drill %s", cx_ind_names[i]);
      cr_assert_eq(more, 0);
      uint64_t want_n = cx_ind_is_rate(i) ? (i == CX_IND_ON_TIME ? n.by[i][0] : n.den[i]) : n.num[i];
      if (i == CX_IND_BLACKLISTED) { /* the flag is 1 for any number of entries */
        cr_assert_eq(got > 0, want_n > 0, "body %d drill blacklisted", b);
        continue;
      }
      cr_assert_eq(got, want_n, "body %d drill %s: %u records, counted %llu", b, cx_ind_names[i], got,
                   (unsigned long long)want_n);
    }
  }
}

static cx_rubric default_rubric(int publish) {
  cx_rubric rb;
  int bad;
  const char *why;
  cr_assert_eq(cx_rubric_parse(cx_data_scorecard, cx_data_scorecard_len, &rb, &bad, &why), 0);
  rb.publish = (uint8_t)publish;
  return rb;
}

Test(scorecard, indicators_equal_a_naive_computation_over_the_records) {
  build(0x9E3779B97F4A7C15ULL);
  cx_rubric rb = default_rubric(1);
  cx_scorecard_req rq = {CX_ROLE_ANALYST, 0, 0, cx_day_today()};
  for (int y = 2022; y <= 2024; y++) {
    cr_assert_eq(cx_scorecard_year(y, &rq.from, &rq.to), 0);
    agree(&rb, &rq);
  }
  /* the 12 months to a day (the authority indicators: their whole months) */
  rq.to = qt_day("2024-03-15");
  rq.from = qt_day("2023-03-16");
  agree(&rb, &rq);
  rq.role = CX_ROLE_ADMIN;
  agree(&rb, &rq);
  /* the public: displayable records of today only, no authority indicators */
  for (int i = 0; i < CX_IND_COUNT; i++) cr_assert_gt(seen[i], 0, "%s never non-zero", cx_ind_names[i]);
  rq.role = CX_ROLE_PUBLIC;
  uint32_t before = compared;
  cr_assert_eq(cx_scorecard_year(2024, &rq.from, &rq.to), 0);
  agree(&rb, &rq);
  cr_assert_gt(compared, before, "the public saw some bodies");
}

Test(scorecard, agree_on_another_random_store) {
  build(0x0123456789ABCDEFULL);
  cx_rubric rb = default_rubric(1);
  cx_scorecard_req rq = {CX_ROLE_ANALYST, 0, 0, cx_day_today()};
  cr_assert_eq(cx_scorecard_year(2023, &rq.from, &rq.to), 0);
  agree(&rb, &rq);
}

Test(scorecard, a_region_is_ranked_by_score_then_code) {
  build(0x5555AAAA5555AAAAULL);
  cx_rubric rb = default_rubric(0);
  cx_scorecard_req rq = {CX_ROLE_ANALYST, 0, 0, cx_day_today()};
  cr_assert_eq(cx_scorecard_year(2023, &rq.from, &rq.to), 0);
  cx_txn *t = qt_txn(&E);
  uint32_t regions[] = {35, 3501, 350100, 350102, 3502, 350000};
  uint32_t want_n[] = {NBODY, NBODY / 2, NBODY / 2, NBODY / 2, NBODY / 2, NBODY};
  for (size_t k = 0; k < sizeof regions / sizeof regions[0]; k++) {
    cx_scorecard *v = NULL;
    uint32_t n = 0;
    cr_assert_eq(cx_query_scorecards(E.q, t, &rb, &rq, regions[k], 0, 0, 0, &v, &n), 0);
    cr_assert_eq(n, want_n[k], "region %u: %u bodies", regions[k], n);
    for (uint32_t i = 0; i < n; i++) {
      cx_scorecard one;
      cr_assert_eq(cx_query_scorecard(E.q, t, &rb, &rq, (cx_str){v[i].code, CX_CODE_LEN}, &one), 0);
      cr_assert_float_eq(one.score, v[i].score, 1e-12);
      if (i) cr_assert(v[i - 1].score > v[i].score ||
                           (v[i - 1].score == v[i].score && memcmp(v[i - 1].code, v[i].code, CX_CODE_LEN) < 0));
    }
    free(v);
  }
  /* filtered by kind: sub-district offices only (every third body) */
  cx_scorecard *v = NULL;
  uint32_t n = 0;
  cr_assert_eq(cx_query_scorecards(E.q, t, &rb, &rq, 35, 1u << CX_KIND_SUBDISTRICT, 0, 0, &v, &n), 0);
  cr_assert_eq(n, NBODY / 3);
  for (uint32_t i = 0; i < n; i++) cr_assert_eq(v[i].kind, CX_KIND_SUBDISTRICT);
  free(v);
  /* filtered by level: the bodies of counties (all of them here: 350102, 350203) */
  cr_assert_eq(cx_query_scorecards(E.q, t, &rb, &rq, 35, 0, CX_LEVEL_COUNTY, 0, &v, &n), 0);
  cr_assert_eq(n, NBODY);
  free(v);
  cr_assert_eq(cx_query_scorecards(E.q, t, &rb, &rq, 35, 0, CX_LEVEL_CITY | CX_LEVEL_PROVINCE, 0, &v, &n), 0);
  cr_assert_eq(n, 0);
  free(v);
  cr_assert_eq(cx_scorecard_level(350000), CX_LEVEL_PROVINCE);
  cr_assert_eq(cx_scorecard_level(350100), CX_LEVEL_CITY);
  cr_assert_eq(cx_scorecard_level(350102), CX_LEVEL_COUNTY);
  /* bounded */
  cr_assert_eq(cx_query_scorecards(E.q, t, &rb, &rq, 35, 0, 0, 3, &v, &n), CX_ETOOLARGE);
  cr_assert_eq(cx_query_scorecards(E.q, t, &rb, &rq, 7, 0, 0, 0, &v, &n), CX_EBADREQ);
}

Test(scorecard, the_public_sees_scorecards_only_when_published) {
  build(0x1111222233334444ULL);
  cx_rubric rb = default_rubric(0);
  cx_scorecard_req rq = {CX_ROLE_PUBLIC, 0, 0, cx_day_today()};
  cr_assert_eq(cx_scorecard_year(2024, &rq.from, &rq.to), 0);
  cx_txn *t = qt_txn(&E);
  cx_scorecard sc;
  cr_assert_eq(cx_query_scorecard(E.q, t, &rb, &rq, cx_str_c(CODE[0]), &sc), CX_EFORBIDDEN);
  cx_scorecard *v = NULL;
  uint32_t n = 0;
  cr_assert_eq(cx_query_scorecards(E.q, t, &rb, &rq, 35, 0, 0, 0, &v, &n), CX_EFORBIDDEN);
  /* not a kind the rubric scores: an enterprise */
  rq.role = CX_ROLE_ANALYST;
  cr_assert_eq(cx_query_scorecard(E.q, t, &rb, &rq, cx_str_c(CODE[NBODY]), &sc), CX_EBADREQ);
  /* the public on another day than today: refused like every public query */
  rq.role = CX_ROLE_PUBLIC;
  rb.publish = 1;
  rq.as_of = qt_day("2024-01-01");
  cr_assert_eq(cx_query_scorecard(E.q, t, &rb, &rq, cx_str_c(CODE[0]), &sc), CX_EPUBLICDAY);
}
