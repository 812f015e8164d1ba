/* test_aggregate.c — cx_query_aggregate (rollup path, scan path and a naive model must agree)
 * and dimension parsing/formatting. */
#include <math.h>

#include "qtest.h"

static qt_env E;

/* ===================================================================== random store */

#define NENT 40
#define NAUTH 6
#define NREC 3000

typedef struct mrec {
  int ent, auth;
  uint8_t cat, sub, dom, sev, st, kind;
  cx_day dec, rep, from, until;
  int64_t amount;
  int32_t delay; /* from the store (calendar-dependent) */
  uint8_t on_time;
  char rid[24];
} mrec;

static mrec R[NREC];
static char ECODE[NENT][19];
static uint32_t ECOUNTY[NENT];
static uint8_t EKIND[NENT];
static char ACODE[NAUTH][19];
static uint32_t AID[NAUTH];
static uint64_t rng = 0x1234567887654321ULL;

static uint32_t rnd(uint32_t n) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng % n);
}

static const uint32_t counties[] = {350102, 350103, 350203, 110105};

static void build_store(void) {
  for (int e = 0; e < NENT; e++) {
    ECOUNTY[e] = counties[e % 4];
    if (e % 10 == 9) {
      char body[18];
      snprintf(body, sizeof body, "%06u19800101%03d", ECOUNTY[e], e);
      qt_idcard(body, ECODE[e]);
      EKIND[e] = e % 20 == 9 ? CX_KIND_PERSON : CX_KIND_CIVIL_SERVANT;
    } else {
      qt_ent(e, ECOUNTY[e], ECODE[e]);
      static const uint8_t kinds[] = {CX_KIND_ENTERPRISE, CX_KIND_INSTITUTION, CX_KIND_SOCIAL_ORG,
                                      CX_KIND_INDIVIDUAL_BUSINESS, CX_KIND_GOVERNMENT};
      EKIND[e] = kinds[e % 5];
    }
  }
  for (int a = 0; a < NAUTH; a++) qt_auth(a + 1, ACODE[a]);
  cx_day d0 = qt_day("2023-01-01");
  cx_batch *b = NULL;
  const char *why = NULL;
  for (int i = 0; i < NREC; i++) {
    mrec *m = &R[i];
    m->ent = (int)rnd(NENT);
    m->auth = (int)rnd(NAUTH);
    m->cat = (uint8_t)rnd(CX_CAT_COUNT);
    m->sub = CX_SUB_NONE;
    if (m->cat == CX_CAT_LAWSUIT) m->sub = (uint8_t)(rnd(3) == 0 ? CX_SUB_NONE : CX_SUB_WON + rnd(2));
    if (m->cat == CX_CAT_COMMITMENT) m->sub = (uint8_t)(rnd(3) == 0 ? CX_SUB_NONE : CX_SUB_KEPT + rnd(2));
    if (m->cat == CX_CAT_GOV_DISHONESTY) m->sub = (uint8_t)(CX_SUB_JUDGMENT + rnd(4));
    if (m->cat == CX_CAT_COMPULSION) m->sub = (uint8_t)(rnd(3) == 0 ? CX_SUB_NONE : CX_SUB_COERCIVE_MEASURE + rnd(2));
    if (m->cat == CX_CAT_INSPECTION) m->sub = (uint8_t)(rnd(3) == 0 ? CX_SUB_NONE : CX_SUB_COMPLIANT + rnd(2));
    m->dom = (uint8_t)rnd(CX_DOM_COUNT);
    m->sev = (uint8_t)rnd(CX_SEV_COUNT);
    uint32_t s = rnd(10);
    m->st = s < 7 ? CX_ST_ACTIVE : s < 9 ? CX_ST_REPAIRED : CX_ST_REVOKED;
    m->kind = EKIND[m->ent];
    m->dec = d0 + rnd(730);
    m->rep = rnd(5) == 0 ? CX_DAY_NONE : m->dec + rnd(25);
    m->from = m->dec + rnd(10);
    m->until = rnd(3) == 0 ? CX_DAY_OPEN : m->dec + 30 + rnd(800);
    m->amount = rnd(4) == 0 ? 0 : (int64_t)rnd(1000000);
    snprintf(m->rid, sizeof m->rid, "DOC-%05d", i);
    if (!b) cr_assert_eq(cx_batch_begin(E.st, &b), 0);
    cx_record r = qt_rec(ECODE[m->ent], "随机主体", m->kind, ACODE[m->auth], m->rid, m->cat, m->dec);
    r.subtype = m->sub;
    r.domain = m->dom;
    r.severity = m->sev;
    r.status = m->st;
    r.report_date = m->rep;
    r.valid_from = m->from;
    r.valid_until = m->until;
    r.amount_fen = m->amount;
    if (m->cat == CX_CAT_BLACKLIST) r.list_type = CX_STR("court_dishonest");
    if (m->cat == CX_CAT_REDLIST) r.list_type = CX_STR("model_taxpayer");
    cr_assert_eq(cx_batch_put(b, &r, &why), 0, "put %d: %s", i, why ? why : "");
    if (i % 500 == 499 || i == NREC - 1) {
      cr_assert_eq(cx_batch_commit(b, NULL), 0, "%s", cx_store_errmsg(E.st));
      b = NULL;
    }
  }
  cx_txn *t = qt_txn(&E);
  for (int a = 0; a < NAUTH; a++)
    cr_assert_eq(cx_store_authority_find(t, cx_str_c(ACODE[a]), &AID[a]), 0);
  /* Report delays depend on the store's calendar: read them back once. */
  for (int i = 0; i < NREC; i++) {
    cx_reckey k;
    cx_record r;
    cr_assert_eq(cx_store_record_get(t, cx_str_c(ACODE[R[i].auth]), cx_str_c(R[i].rid), &k, &r), 0);
    R[i].delay = r.report_delay;
    R[i].on_time = r.on_time;
    R[i].rep = r.report_date; /* none given: the receipt day */
    cr_assert_eq(r.authority_id, AID[R[i].auth]);
  }
}

static void setup(void) {
  qt_open(&E);
  rng = 0x1234567887654321ULL;
}
static void teardown(void) { qt_close(&E); }
TestSuite(aggregate, .init = setup, .fini = teardown, .timeout = 240);

/* ===================================================================== naive model */

static uint32_t mdim(const mrec *m, int d) {
  int y, mo, dd;
  cx_day_to_ymd(m->dec, &y, &mo, &dd);
  uint32_t c = ECOUNTY[m->ent];
  switch (d) {
  case CX_DIM_PROVINCE: return c / 10000;
  case CX_DIM_CITY: return c / 100;
  case CX_DIM_COUNTY: return c;
  case CX_DIM_AUTHORITY: return AID[m->auth];
  case CX_DIM_CATEGORY: return m->cat;
  case CX_DIM_SUBTYPE: return m->sub;
  case CX_DIM_DOMAIN: return m->dom;
  case CX_DIM_SEVERITY: return m->sev;
  case CX_DIM_KIND: return m->kind;
  case CX_DIM_STATUS: return m->st;
  case CX_DIM_YEAR: return (uint32_t)y;
  case CX_DIM_QUARTER: return (uint32_t)(y * 10 + (mo - 1) / 3 + 1);
  default: return (uint32_t)(y * 100 + mo);
  }
}

typedef struct ngroup {
  uint32_t keys[CX_DIM_COUNT];
  int64_t count, amount, reported, on_time, delay, in_force, repaired, won, lost, kept, broken;
} ngroup;

static ngroup G[NREC];
static cx_agg_row NROWS[NREC];

static double nmetric(const ngroup *g, int m) {
  switch (m) {
  case CX_M_COUNT: return (double)g->count;
  case CX_M_AMOUNT: return (double)g->amount;
  case CX_M_IN_FORCE: return (double)g->in_force;
  case CX_M_ON_TIME: return (double)g->on_time;
  /* no data: NAN (null / n/a at the doors), never 0 */
  case CX_M_ON_TIME_RATE: return g->reported ? (double)g->on_time / (double)g->reported : NAN;
  case CX_M_REPORT_DELAY: return g->reported ? (double)g->delay / (double)g->reported : NAN;
  case CX_M_REPAIRED: return (double)g->repaired;
  case CX_M_LOSS_RATE: return g->won + g->lost ? (double)g->lost / (double)(g->won + g->lost) : NAN;
  default: return g->kept + g->broken ? (double)g->kept / (double)(g->kept + g->broken) : NAN;
  }
}

static const cx_agg_spec *SORT_SPEC;
static int ncmp(const void *x, const void *y) {
  const cx_agg_row *a = x, *b = y;
  const cx_agg_spec *s = SORT_SPEC;
  if (s->order >= 0) {
    double va, vb;
    if (s->order < s->n_group) va = a->keys[s->order], vb = b->keys[s->order];
    else va = a->vals[s->order - s->n_group], vb = b->vals[s->order - s->n_group];
    if (isnan(va) != isnan(vb)) return isnan(va) ? 1 : -1; /* no data last, either way */
    if (!isnan(va) && va != vb) return ((va < vb) ? -1 : 1) * (s->desc ? -1 : 1);
  }
  for (int i = 0; i < s->n_group; i++)
    if (a->keys[i] != b->keys[i])
      return ((a->keys[i] < b->keys[i]) ? -1 : 1) * (s->order < 0 && s->desc ? -1 : 1);
  return 0;
}

#define NBUCKET 1021
static int HEAD[NBUCKET], NEXT[NREC];

/* What the public may see of m on day d, written out from the rules of docs/data-model.md
 * for qt_catalog (the default `negative` set; person_public blacklist,gov_dishonesty;
 * display general 12 and serious 36 months, minor never). */
static int naive_public(const mrec *m, cx_day d) {
  if (m->st != CX_ST_ACTIVE) return 0;
  if ((m->kind == CX_KIND_PERSON || m->kind == CX_KIND_CIVIL_SERVANT) && m->cat != CX_CAT_BLACKLIST &&
      m->cat != CX_CAT_GOV_DISHONESTY)
    return 0;
  int negative = m->cat == CX_CAT_PENALTY || m->cat == CX_CAT_BLACKLIST || m->cat == CX_CAT_GOV_DISHONESTY ||
                 m->cat == CX_CAT_COMPLAINT || m->cat == CX_CAT_EVALUATION ||
                 (m->cat == CX_CAT_COMMITMENT && m->sub == CX_SUB_BROKEN) ||
                 (m->cat == CX_CAT_LAWSUIT && m->sub == CX_SUB_LOST) || m->cat == CX_CAT_ABNORMAL ||
                 (m->cat == CX_CAT_COMPULSION && m->sub == CX_SUB_ENFORCEMENT) ||
                 (m->cat == CX_CAT_INSPECTION && m->sub == CX_SUB_VIOLATION);
  if (!negative) return m->from <= d && (m->until == CX_DAY_OPEN || d < m->until);
  if (m->sev == CX_SEV_MINOR || d < m->dec) return 0;
  int y, mo, dd;
  cx_day_to_ymd(m->dec, &y, &mo, &dd);
  int months = m->sev == CX_SEV_SERIOUS ? 36 : 12;
  int ny = y + (mo - 1 + months) / 12, nm = (mo - 1 + months) % 12 + 1;
  static const int dim[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int last = dim[nm - 1] + (nm == 2 && ((ny % 4 == 0 && ny % 100 != 0) || ny % 400 == 0));
  cx_day end;
  cr_assert_eq(cx_day_from_ymd(ny, nm, dd > last ? last : dd, &end), 0);
  /* a list entry (serious dishonesty, abnormal operation) ends its display with its listing */
  int listing = m->cat == CX_CAT_BLACKLIST || m->cat == CX_CAT_ABNORMAL;
  if (listing && m->until != CX_DAY_OPEN && m->until < end) end = m->until;
  return d < end;
}

static uint32_t naive(const cx_agg_spec *s, cx_role role) {
  int ng = 0;
  for (int i = 0; i < NBUCKET; i++) HEAD[i] = -1;
  cx_day as_of = s->as_of;
  for (int i = 0; i < NREC; i++) {
    const mrec *m = &R[i];
    if (role == CX_ROLE_PUBLIC && !naive_public(m, as_of ? as_of : cx_day_today())) continue;
    if (s->from && m->dec < s->from) continue;
    if (s->to && m->dec > s->to) continue;
    int ok = 1;
    for (int f = 0; f < s->n_filters && ok; f++) {
      uint32_t v = mdim(m, s->filters[f].dim);
      int in = 0;
      for (uint32_t j = 0; j < s->filters[f].n; j++) in |= s->filters[f].vals[j] == v;
      ok = in;
    }
    if (!ok) continue;
    uint32_t k[CX_DIM_COUNT] = {0};
    for (int j = 0; j < s->n_group; j++) k[j] = mdim(m, s->group[j]);
    /* chained buckets by a plain sum of the keys */
    uint32_t h = 0;
    for (int j = 0; j < s->n_group; j++) h = h * 31 + k[j];
    h %= NBUCKET;
    int gi;
    for (gi = HEAD[h]; gi >= 0; gi = NEXT[gi])
      if (memcmp(G[gi].keys, k, sizeof k) == 0) break;
    if (gi < 0) {
      gi = ng++;
      memset(&G[gi], 0, sizeof G[gi]);
      memcpy(G[gi].keys, k, sizeof k);
      NEXT[gi] = HEAD[h];
      HEAD[h] = gi;
    }
    ngroup *g = &G[gi];
    g->count++;
    g->amount += m->amount;
    if (m->rep != CX_DAY_NONE) {
      g->reported++;
      g->on_time += m->on_time;
      g->delay += m->delay > 0 ? m->delay : 0;
    }
    g->in_force += m->st == CX_ST_ACTIVE && m->from <= as_of && (m->until == CX_DAY_OPEN || as_of < m->until);
    g->repaired += m->st == CX_ST_REPAIRED;
    g->won += m->sub == CX_SUB_WON;
    g->lost += m->sub == CX_SUB_LOST;
    g->kept += m->sub == CX_SUB_KEPT;
    g->broken += m->sub == CX_SUB_BROKEN;
  }
  uint32_t n = 0;
  for (int gi = 0; gi < ng; gi++) {
    if (role == CX_ROLE_PUBLIC && G[gi].count < CX_AGG_MIN_PUBLIC_CELL) continue;
    cx_agg_row *r = &NROWS[n++];
    memset(r, 0, sizeof *r);
    memcpy(r->keys, G[gi].keys, sizeof r->keys);
    if (s->n_metrics == 0) r->vals[0] = nmetric(&G[gi], CX_M_COUNT);
    for (int j = 0; j < s->n_metrics; j++) r->vals[j] = nmetric(&G[gi], s->metrics[j]);
  }
  SORT_SPEC = s;
  qsort(NROWS, n, sizeof NROWS[0], ncmp);
  if (s->limit && n > s->limit) n = s->limit;
  return n;
}

static void same(const cx_agg_spec *s, const cx_agg_result *res, uint32_t n, const char *what, int k) {
  cr_assert_eq(res->n_rows, n, "spec %d %s: %u rows, naive %u", k, what, res->n_rows, n);
  unsigned nm = s->n_metrics ? s->n_metrics : 1;
  for (uint32_t i = 0; i < n; i++) {
    for (int j = 0; j < s->n_group; j++)
      cr_assert_eq(res->rows[i].keys[j], NROWS[i].keys[j], "spec %d %s row %u key %d", k, what, i, j);
    for (unsigned j = 0; j < nm; j++)
      cr_assert(res->rows[i].vals[j] == NROWS[i].vals[j] || (isnan(res->rows[i].vals[j]) && isnan(NROWS[i].vals[j])),
                "spec %d %s row %u metric %u: %.17g vs %.17g",
                k, what, i, j, res->rows[i].vals[j], NROWS[i].vals[j]);
  }
}

static cx_day month_start(int y, int m) {
  cx_day d;
  cr_assert_eq(cx_day_from_ymd(y, m, 1, &d), 0);
  return d;
}

static void random_spec(cx_agg_spec *s, int k) {
  memset(s, 0, sizeof *s);
  s->n_group = (uint8_t)rnd(4);
  for (int i = 0; i < s->n_group; i++) {
    uint8_t d;
    int dup;
    do {
      d = (uint8_t)rnd(CX_DIM_COUNT);
      dup = 0;
      for (int j = 0; j < i; j++) dup |= s->group[j] == d;
    } while (dup);
    s->group[i] = d;
  }
  /* Half the specs prefer dimensions the cubes cover, to exercise the rollup path. */
  static const uint8_t covered[] = {CX_DIM_PROVINCE, CX_DIM_CITY, CX_DIM_CATEGORY, CX_DIM_SUBTYPE,
                                    CX_DIM_SEVERITY, CX_DIM_STATUS, CX_DIM_YEAR, CX_DIM_QUARTER,
                                    CX_DIM_MONTH};
  if (k % 2 == 0)
    for (int i = 0; i < s->n_group; i++) {
      uint8_t d;
      int dup;
      do {
        d = covered[rnd(sizeof covered)];
        dup = 0;
        for (int j = 0; j < i; j++) dup |= s->group[j] == d;
      } while (dup);
      s->group[i] = d;
    }
  s->n_filters = (uint8_t)rnd(3);
  for (int f = 0; f < s->n_filters; f++) {
    cx_agg_filter *fl = &s->filters[f];
    fl->dim = k % 2 == 0 ? covered[rnd(sizeof covered)] : (uint8_t)rnd(CX_DIM_COUNT);
    fl->n = 1 + rnd(4);
    for (uint32_t j = 0; j < fl->n; j++) fl->vals[j] = mdim(&R[rnd(NREC)], fl->dim);
    if (rnd(4) == 0) fl->vals[fl->n - 1] = 999999; /* a value nothing has */
  }
  uint32_t dr = rnd(10);
  if (dr < 4) {
    s->from = s->to = CX_DAY_NONE;
  } else if (dr < 7) { /* whole months */
    int y = 2023 + (int)rnd(2), m = 1 + (int)rnd(12);
    s->from = rnd(4) == 0 ? CX_DAY_NONE : month_start(y, m);
    int y2 = y + (int)rnd(2), m2 = 1 + (int)rnd(12);
    if (y2 * 12 + m2 < y * 12 + m) y2 = y, m2 = m;
    s->to = month_start(y2 + (m2 == 12), m2 == 12 ? 1 : m2 + 1) - 1;
    if (rnd(4) == 0) s->to = CX_DAY_NONE;
  } else {
    s->from = qt_day("2023-01-01") + rnd(700);
    s->to = rnd(3) == 0 ? CX_DAY_NONE : s->from + rnd(400);
  }
  s->n_metrics = (uint8_t)rnd(5);
  for (int i = 0; i < s->n_metrics; i++) {
    uint8_t m = (uint8_t)rnd(CX_M_COUNT_);
    if (k % 2 == 0 && m == CX_M_IN_FORCE && rnd(4)) m = CX_M_COUNT;
    s->metrics[i] = m;
  }
  unsigned ncols = s->n_group + (s->n_metrics ? s->n_metrics : 1u);
  s->order = (int)rnd(ncols + 1) - 1;
  s->desc = (int)rnd(2);
  s->limit = rnd(3) == 0 ? 1 + rnd(10) : 0;
  s->as_of = qt_day("2023-06-01") + rnd(900);
}

static void agree(int nspecs) {
  build_store();
  cx_txn *t = qt_txn(&E);
  int from_rollup = 0, nonempty = 0;
  for (int k = 0; k < nspecs; k++) {
    cx_agg_spec s;
    random_spec(&s, k);
    cx_role role = k % 3 == 0 ? CX_ROLE_PUBLIC : CX_ROLE_ANALYST;
    if (role == CX_ROLE_PUBLIC) cx_day_set_today(s.as_of); /* the public sees today only */
    cx_agg_result a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    int rc = cx_query_aggregate(E.q, t, role, &s, &a);
    cr_assert_eq(rc, 0, "spec %d: rc %d", k, rc);
    s.force_scan = 1;
    rc = cx_query_aggregate(E.q, t, role, &s, &b);
    cr_assert_eq(rc, 0, "spec %d scan: rc %d", k, rc);
    cr_assert_eq(b.from_rollup, 0);
    cr_assert_eq(b.scanned, NREC);
    cr_assert_eq(b.threads, 1, "spec %d: a store of %d records scans in one thread", k, NREC);
    uint32_t n = naive(&s, role);
    same(&s, &a, n, a.from_rollup ? "rollup" : "scan", k);
    same(&s, &b, n, "forced scan", k);
    /* split over 2..7 threads (so at other block boundaries each time): the same answer */
    cx_agg_result c;
    memset(&c, 0, sizeof c);
    s.threads = (uint8_t)(2 + k % 6);
    rc = cx_query_aggregate(E.q, t, role, &s, &c);
    cr_assert_eq(rc, 0, "spec %d split scan: rc %d", k, rc);
    cr_assert_eq(c.scanned, NREC);
    cr_assert_eq(c.threads, s.threads, "spec %d: %u threads of %u", k, c.threads, s.threads);
    same(&s, &c, n, "split scan", k);
    cx_agg_result_free(&c);
    from_rollup += a.from_rollup;
    nonempty += n > 0;
    cx_agg_result_free(&a);
    cx_agg_result_free(&b);
  }
  cr_assert_geq(from_rollup, nspecs / 6, "rollup path used %d times", from_rollup);
  cr_assert_geq(nonempty, nspecs / 3, "%d non-empty results", nonempty);
}

Test(aggregate, rollup_scan_and_naive_agree_on_random_specs) { agree(300); }

Test(aggregate, agree_on_another_random_store) {
  rng = 0x9e3779b97f4a7c15ULL;
  agree(200);
}

Test(aggregate, covered_and_uncovered_specs) {
  build_store();
  cx_txn *t = qt_txn(&E);
  cx_agg_spec s;
  memset(&s, 0, sizeof s);
  s.n_group = 2;
  s.group[0] = CX_DIM_CITY;
  s.group[1] = CX_DIM_MONTH;
  s.n_metrics = 2;
  s.metrics[0] = CX_M_COUNT;
  s.metrics[1] = CX_M_ON_TIME_RATE;
  s.order = -1;
  s.from = qt_day("2024-01-01");
  s.to = qt_day("2024-12-31");
  cx_agg_result a;
  cr_assert_eq(cx_query_aggregate(E.q, t, CX_ROLE_ANALYST, &s, &a), 0);
  cr_assert_eq(a.from_rollup, 1, "city x month over a year is covered");
  cr_assert_eq(a.n_rows, naive(&s, CX_ROLE_ANALYST));
  cr_assert_leq(a.n_rows, 3 * 12);
  cx_agg_result_free(&a);
  s.to = qt_day("2024-12-30");
  cr_assert_eq(cx_query_aggregate(E.q, t, CX_ROLE_ANALYST, &s, &a), 0);
  cr_assert_eq(a.from_rollup, 0, "a partial month needs the records");
  cx_agg_result_free(&a);
  s.to = qt_day("2024-12-31");
  s.metrics[1] = CX_M_IN_FORCE;
  s.as_of = qt_day("2024-06-01");
  cr_assert_eq(cx_query_aggregate(E.q, t, CX_ROLE_ANALYST, &s, &a), 0);
  cr_assert_eq(a.from_rollup, 0, "in_force needs the records");
  cx_agg_result_free(&a);
  s.metrics[1] = CX_M_LOSS_RATE;
  s.group[0] = CX_DIM_COUNTY;
  cr_assert_eq(cx_query_aggregate(E.q, t, CX_ROLE_ANALYST, &s, &a), 0);
  cx_agg_result_free(&a);
  s.group[0] = CX_DIM_AUTHORITY;
  cr_assert_eq(cx_query_aggregate(E.q, t, CX_ROLE_ANALYST, &s, &a), 0);
  cr_assert_eq(a.from_rollup, 1, "authority cube");
  cr_assert_eq(a.n_rows, naive(&s, CX_ROLE_ANALYST));
  cx_agg_result_free(&a);
}

Test(aggregate, public_cells_below_the_threshold_are_suppressed) {
  build_store();
  cx_txn *t = qt_txn(&E);
  cx_agg_spec s;
  memset(&s, 0, sizeof s);
  s.n_group = 3;
  s.group[0] = CX_DIM_AUTHORITY;
  s.group[1] = CX_DIM_CATEGORY;
  s.group[2] = CX_DIM_MONTH;
  s.n_metrics = 1;
  s.metrics[0] = CX_M_AMOUNT; /* no count asked: suppression still uses it */
  s.order = -1;
  cx_agg_result a, p;
  cr_assert_eq(cx_query_aggregate(E.q, t, CX_ROLE_ANALYST, &s, &a), 0);
  cr_assert_eq(cx_query_aggregate(E.q, t, CX_ROLE_PUBLIC, &s, &p), 0);
  cr_assert_lt(p.n_rows, a.n_rows, "small cells exist and are dropped");
  cr_assert_gt(p.n_rows, 0);
  uint32_t n = naive(&s, CX_ROLE_PUBLIC);
  same(&s, &p, n, "public", 0);
  cx_agg_result_free(&a);
  cx_agg_result_free(&p);
}

Test(aggregate, totals_order_and_limit) {
  build_store();
  cx_txn *t = qt_txn(&E);
  cx_agg_spec s;
  memset(&s, 0, sizeof s);
  s.order = -1;
  cx_agg_result a;
  cr_assert_eq(cx_query_aggregate(E.q, t, CX_ROLE_ANALYST, &s, &a), 0);
  cr_assert_eq(a.n_rows, 1);
  cr_assert(a.rows[0].vals[0] == NREC, "default metric is count");
  cx_agg_result_free(&a);
  /* top 3 authorities by amount, descending */
  s.n_group = 1;
  s.group[0] = CX_DIM_AUTHORITY;
  s.n_metrics = 1;
  s.metrics[0] = CX_M_AMOUNT;
  s.order = 1;
  s.desc = 1;
  s.limit = 3;
  cr_assert_eq(cx_query_aggregate(E.q, t, CX_ROLE_ANALYST, &s, &a), 0);
  cr_assert_eq(a.n_rows, 3);
  cr_assert_geq(a.rows[0].vals[0], a.rows[1].vals[0]);
  cr_assert_geq(a.rows[1].vals[0], a.rows[2].vals[0]);
  cx_agg_result_free(&a);
}

Test(aggregate, bad_specs) {
  cx_txn *t = qt_txn(&E);
  cx_agg_spec s;
  cx_agg_result a;
  memset(&s, 0, sizeof s);
  s.order = -1;
  s.n_group = 2;
  s.group[0] = s.group[1] = CX_DIM_CITY;
  cr_assert_eq(cx_query_aggregate(E.q, t, CX_ROLE_ANALYST, &s, &a), CX_EBADREQ, "duplicate group");
  s.n_group = 1;
  s.group[0] = CX_DIM_COUNT;
  cr_assert_eq(cx_query_aggregate(E.q, t, CX_ROLE_ANALYST, &s, &a), CX_EBADREQ, "bad dim");
  s.group[0] = CX_DIM_CITY;
  s.n_metrics = 1;
  s.metrics[0] = CX_M_COUNT_;
  cr_assert_eq(cx_query_aggregate(E.q, t, CX_ROLE_ANALYST, &s, &a), CX_EBADREQ, "bad metric");
  s.metrics[0] = CX_M_COUNT;
  s.order = 2;
  cr_assert_eq(cx_query_aggregate(E.q, t, CX_ROLE_ANALYST, &s, &a), CX_EBADREQ, "bad order");
  s.order = -1;
  s.n_filters = 1;
  s.filters[0].dim = CX_DIM_YEAR;
  s.filters[0].n = CX_AGG_MAX_FILTER_VALUES + 1;
  cr_assert_eq(cx_query_aggregate(E.q, t, CX_ROLE_ANALYST, &s, &a), CX_EBADREQ, "too many values");
  s.filters[0].n = 0;
  cr_assert_eq(cx_query_aggregate(E.q, t, CX_ROLE_ANALYST, &s, &a), CX_EBADREQ, "empty set");
  s.n_filters = 0;
  s.from = qt_day("2024-02-01");
  s.to = qt_day("2024-01-01");
  cr_assert_eq(cx_query_aggregate(E.q, t, CX_ROLE_ANALYST, &s, &a), CX_EBADREQ, "from > to");
  s.from = s.to = CX_DAY_NONE;
  cr_assert_eq(cx_query_aggregate(E.q, t, CX_ROLE_ANALYST, &s, &a), 0, "empty store");
  cr_assert_eq(a.n_rows, 0);
  cx_agg_result_free(&a);
}

/* ===================================================================== dims */

static uint32_t parse(cx_dim d, const char *s) {
  uint32_t v = 0;
  int rc = cx_query_dim_parse(E.q, qt_txn(&E), d, cx_str_c(s), &v);
  cr_assert_eq(rc, 0, "parse %s: %d", s, rc);
  return v;
}

static const char *fmt(cx_dim d, uint32_t v) {
  static char buf[256];
  cr_assert_eq(cx_query_dim_format(E.q, qt_txn(&E), d, v, buf, sizeof buf), 0);
  return buf;
}

Test(aggregate, dim_parse_and_format) {
  char auth[19];
  qt_auth(1, auth);
  char ent[19];
  qt_ent(1, 350102, ent);
  cx_record r = qt_rec(ent, "福州某某建设有限公司", CX_KIND_ENTERPRISE, auth, "X1", CX_CAT_PENALTY,
                       qt_day("2024-01-05"));
  qt_put1(&E, &r);
  cr_assert_eq(parse(CX_DIM_PROVINCE, "35"), 35);
  cr_assert_eq(parse(CX_DIM_PROVINCE, "350000"), 35);
  cr_assert_eq(parse(CX_DIM_CITY, "3501"), 3501);
  cr_assert_eq(parse(CX_DIM_CITY, "350100"), 3501);
  cr_assert_eq(parse(CX_DIM_COUNTY, "350102"), 350102);
  cr_assert_str_eq(fmt(CX_DIM_PROVINCE, 35), "福建省");
  cr_assert_str_eq(fmt(CX_DIM_CITY, 3501), "福州市");
  cr_assert_str_eq(fmt(CX_DIM_COUNTY, 350102), "鼓楼区");
  cr_assert_str_eq(fmt(CX_DIM_COUNTY, 990101), "990101", "unknown region: its code");
  cr_assert_eq(parse(CX_DIM_YEAR, "2024"), 2024);
  cr_assert_eq(parse(CX_DIM_QUARTER, "2024Q1"), 20241);
  cr_assert_eq(parse(CX_DIM_MONTH, "2024-03"), 202403);
  cr_assert_str_eq(fmt(CX_DIM_YEAR, 2024), "2024");
  cr_assert_str_eq(fmt(CX_DIM_QUARTER, 20243), "2024Q3");
  cr_assert_str_eq(fmt(CX_DIM_MONTH, 202403), "2024-03");
  cr_assert_eq(parse(CX_DIM_CATEGORY, "penalty"), CX_CAT_PENALTY);
  cr_assert_eq(parse(CX_DIM_SUBTYPE, "lost"), CX_SUB_LOST);
  cr_assert_eq(parse(CX_DIM_DOMAIN, "ppp"), CX_DOM_PPP);
  cr_assert_eq(parse(CX_DIM_SEVERITY, "serious"), CX_SEV_SERIOUS);
  cr_assert_eq(parse(CX_DIM_KIND, "civil_servant"), CX_KIND_CIVIL_SERVANT);
  cr_assert_eq(parse(CX_DIM_STATUS, "repaired"), CX_ST_REPAIRED);
  cr_assert_str_eq(fmt(CX_DIM_CATEGORY, CX_CAT_BLACKLIST), "blacklist");
  cr_assert_str_eq(fmt(CX_DIM_STATUS, CX_ST_REVOKED), "revoked");
  uint32_t aid = parse(CX_DIM_AUTHORITY, auth);
  cx_record got;
  cx_reckey k;
  cr_assert_eq(cx_store_record_get(qt_txn(&E), cx_str_c(auth), CX_STR("X1"), &k, &got), 0);
  cr_assert_eq(aid, got.authority_id);
  char want[128];
  snprintf(want, sizeof want, "福州市市场监督管理局 (%s)", auth);
  cr_assert_str_eq(fmt(CX_DIM_AUTHORITY, aid), want);

  const struct { cx_dim d; const char *s; } bad[] = {
      {CX_DIM_PROVINCE, "3"}, {CX_DIM_PROVINCE, "350100"}, {CX_DIM_CITY, "35"},
      {CX_DIM_CITY, "350102"}, {CX_DIM_COUNTY, "3501"}, {CX_DIM_YEAR, "24"},
      {CX_DIM_QUARTER, "2024Q5"}, {CX_DIM_QUARTER, "2024-1"}, {CX_DIM_MONTH, "2024-13"},
      {CX_DIM_MONTH, "202403"}, {CX_DIM_CATEGORY, "fines"}, {CX_DIM_AUTHORITY, "nobody"},
      {CX_DIM_COUNTY, "35010x"}};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
    uint32_t v;
    cr_assert_eq(cx_query_dim_parse(E.q, qt_txn(&E), bad[i].d, cx_str_c(bad[i].s), &v), CX_EBADREQ,
                 "%s", bad[i].s);
  }
  char tiny[4];
  cr_assert_eq(cx_query_dim_format(E.q, qt_txn(&E), CX_DIM_PROVINCE, 35, tiny, sizeof tiny),
               CX_ETOOLARGE);
}

Test(aggregate, groups_time_and_cancellation_are_bounded) {
  build_store();
  cx_txn *t = qt_txn(&E);
  cx_agg_spec s;
  memset(&s, 0, sizeof s);
  s.order = -1;
  s.n_group = 2;
  s.group[0] = CX_DIM_AUTHORITY;
  s.group[1] = CX_DIM_MONTH;
  cx_agg_result a;
  cr_assert_eq(cx_query_aggregate(E.q, t, CX_ROLE_ANALYST, &s, &a), 0);
  uint32_t n = a.n_rows;
  cx_agg_result_free(&a);
  cr_assert_gt(n, 10);
  /* more groups than allowed: too_large, on both paths, nothing left allocated (ASan) */
  s.max_groups = n - 1;
  cr_assert_eq(cx_query_aggregate(E.q, t, CX_ROLE_ANALYST, &s, &a), CX_ETOOLARGE);
  s.force_scan = 1;
  cr_assert_eq(cx_query_aggregate(E.q, t, CX_ROLE_ANALYST, &s, &a), CX_ETOOLARGE);
  s.max_groups = n;
  cr_assert_eq(cx_query_aggregate(E.q, t, CX_ROLE_ANALYST, &s, &a), 0);
  cx_agg_result_free(&a);
  /* a deadline already past: timeout; a client gone: cancelled */
  s.deadline_ns = 1;
  cr_assert_eq(cx_query_aggregate(E.q, t, CX_ROLE_ANALYST, &s, &a), CX_ETIMEOUT);
  s.force_scan = 0;
  cr_assert_eq(cx_query_aggregate(E.q, t, CX_ROLE_ANALYST, &s, &a), CX_ETIMEOUT);
  s.deadline_ns = 0;
  int gone = 1;
  s.cancel = &gone;
  cr_assert_eq(cx_query_aggregate(E.q, t, CX_ROLE_ANALYST, &s, &a), CX_ECANCELED);
  gone = 0;
  cr_assert_eq(cx_query_aggregate(E.q, t, CX_ROLE_ANALYST, &s, &a), 0);
  cx_agg_result_free(&a);
}

/* The bounds hold on every part of a split scan, and the split answer is the one-thread one. */
Test(aggregate, split_scans_are_bounded_like_one_thread) {
  build_store();
  cx_txn *t = qt_txn(&E);
  cx_agg_spec s;
  memset(&s, 0, sizeof s);
  s.order = -1;
  s.n_group = 2;
  s.group[0] = CX_DIM_AUTHORITY;
  s.group[1] = CX_DIM_MONTH;
  s.force_scan = 1;
  cx_agg_result a;
  cr_assert_eq(cx_query_aggregate(E.q, t, CX_ROLE_ANALYST, &s, &a), 0);
  uint32_t n = a.n_rows;
  cx_agg_result_free(&a);
  for (uint8_t th = 2; th <= 5; th++) {
    s.threads = th;
    s.max_groups = n - 1; /* every part may stay under it: the merge is what exceeds it */
    cr_assert_eq(cx_query_aggregate(E.q, t, CX_ROLE_ANALYST, &s, &a), CX_ETOOLARGE, "%u threads", th);
    s.max_groups = n;
    cr_assert_eq(cx_query_aggregate(E.q, t, CX_ROLE_ANALYST, &s, &a), 0);
    cr_assert_eq(a.n_rows, n);
    cr_assert_eq(a.threads, th);
    cx_agg_result_free(&a);
    s.max_groups = 0;
    s.deadline_ns = 1;
    cr_assert_eq(cx_query_aggregate(E.q, t, CX_ROLE_ANALYST, &s, &a), CX_ETIMEOUT);
    s.deadline_ns = 0;
    int gone = 1;
    s.cancel = &gone;
    cr_assert_eq(cx_query_aggregate(E.q, t, CX_ROLE_ANALYST, &s, &a), CX_ECANCELED);
    s.cancel = NULL;
  }
}

static uint64_t rows_digest(const cx_agg_result *r, unsigned nm) {
  uint64_t h = r->n_rows;
  for (uint32_t i = 0; i < r->n_rows; i++)
    for (unsigned j = 0; j < nm; j++) {
      uint64_t bits;
      memcpy(&bits, &r->rows[i].vals[j], sizeof bits);
      h = (h ^ bits ^ ((uint64_t)r->rows[i].keys[0] << 32)) * 0x100000001b3ULL;
    }
  return h;
}

/* The process-wide knob: threads while each gets min_facts; a txn whose snapshot is no longer
 * the newest cannot be twinned, and its scan runs in one thread on its own snapshot. */
Test(aggregate, the_scan_threads_knob_and_an_old_snapshot) {
  build_store();
  cx_txn *t = qt_txn(&E);
  cx_agg_spec s;
  memset(&s, 0, sizeof s);
  s.order = -1;
  s.n_group = 1;
  s.group[0] = CX_DIM_PROVINCE;
  s.n_metrics = 2;
  s.metrics[0] = CX_M_COUNT;
  s.metrics[1] = CX_M_IN_FORCE;
  s.as_of = qt_day("2024-06-01");
  cx_agg_result a;
  cx_query_set_scan_threads(1, 0);
  cr_assert_eq(cx_query_scan_threads(), 1);
  cr_assert_eq(cx_query_aggregate(E.q, t, CX_ROLE_ANALYST, &s, &a), 0);
  cr_assert_eq(a.threads, 1);
  uint64_t one = rows_digest(&a, 2);
  uint32_t n = naive(&s, CX_ROLE_ANALYST);
  same(&s, &a, n, "one thread", 0);
  cx_agg_result_free(&a);
  cx_query_set_scan_threads(3, 0);
  cr_assert_eq(cx_query_aggregate(E.q, t, CX_ROLE_ANALYST, &s, &a), 0);
  cr_assert_eq(a.threads, 3);
  cr_assert_eq(rows_digest(&a, 2), one);
  cx_agg_result_free(&a);
  cx_query_set_scan_threads(3, NREC); /* 3000 facts (12 blocks of 255 slots): one thread each */
  cr_assert_eq(cx_query_aggregate(E.q, t, CX_ROLE_ANALYST, &s, &a), 0);
  cr_assert_eq(a.threads, 1);
  cx_agg_result_free(&a);
  cx_query_set_scan_threads(3, 1020); /* 3060 slots: 3 threads of 1020 */
  cr_assert_eq(cx_query_aggregate(E.q, t, CX_ROLE_ANALYST, &s, &a), 0);
  cr_assert_eq(a.threads, 3);
  cr_assert_eq(rows_digest(&a, 2), one);
  cx_agg_result_free(&a);
  /* a write commits after t began: t's answer stays the old snapshot's, in one thread */
  char ent[CX_CODE_LEN + 1], auth[CX_CODE_LEN + 1];
  qt_ent(99, 350102, ent);
  qt_auth(9, auth);
  cx_batch *b;
  const char *why = NULL;
  cr_assert_eq(cx_batch_begin(E.st, &b), 0);
  cx_record r = qt_rec(ent, "后来者有限公司", CX_KIND_ENTERPRISE, auth, "LATE-1", CX_CAT_PENALTY,
                       qt_day("2024-01-01"));
  cr_assert_eq(cx_batch_put(b, &r, &why), 0);
  cr_assert_eq(cx_batch_commit(b, NULL), 0);
  s.threads = 2;
  cr_assert_eq(cx_query_aggregate(E.q, t, CX_ROLE_ANALYST, &s, &a), 0);
  cr_assert_eq(a.threads, 1);
  cr_assert_eq(a.scanned, NREC);
  cr_assert_eq(rows_digest(&a, 2), one);
  cx_agg_result_free(&a);
  t = qt_txn(&E); /* renewed: the new record, in two threads */
  cr_assert_eq(cx_query_aggregate(E.q, t, CX_ROLE_ANALYST, &s, &a), 0);
  cr_assert_eq(a.threads, 2);
  cr_assert_eq(a.scanned, NREC + 1);
  cx_agg_result_free(&a);
  cx_query_set_scan_threads(0, CX_AGG_SPLIT_MIN_FACTS);
}

/* A report delay that counts a year without a published 调休 notice (the shipped calendar has
 * the State Council's notices to 2026) is provisional: the record says so, the rollup cells and
 * a scan count it, and the aggregate answers how many of its rows' reported records are. */
Test(aggregate, provisional_report_delays_are_counted_by_both_paths) {
  char ent[CX_CODE_LEN + 1], auth[CX_CODE_LEN + 1];
  qt_ent(77, 350102, ent);
  qt_auth(7, auth);
  static const struct { const char *rid, *decision, *report; } rows[] = {
      {"P-1", "2024-03-01", "2024-03-05"},  /* published years: not provisional */
      {"P-2", "2026-12-28", "2027-01-06"},  /* the span reaches 2027 */
      {"P-3", "2027-02-01", "2027-02-10"},  /* all in 2027 */
      {"P-4", "2027-02-01", NULL},          /* not reported: no delay at all */
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    cx_record r = qt_rec(ent, "福州暂定测试有限公司", CX_KIND_ENTERPRISE, auth, rows[i].rid, CX_CAT_PENALTY,
                         qt_day(rows[i].decision));
    if (rows[i].report) r.report_date = qt_day(rows[i].report);
    qt_put1(&E, &r);
  }
  cx_txn *t = qt_txn(&E);
  cx_record rec;
  cx_reckey k;
  cr_assert_eq(cx_store_record_get(t, cx_str_c(auth), CX_STR("P-2"), &k, &rec), 0);
  cr_assert_eq(rec.delay_provisional, 1);
  cr_assert_eq(cx_store_record_get(t, cx_str_c(auth), CX_STR("P-1"), &k, &rec), 0);
  cr_assert_eq(rec.delay_provisional, 0);
  for (int scan = 0; scan < 2; scan++) {
    cx_agg_spec s;
    memset(&s, 0, sizeof s);
    s.n_group = 1;
    s.group[0] = CX_DIM_YEAR;
    s.n_metrics = 2;
    s.metrics[0] = CX_M_COUNT;
    s.metrics[1] = CX_M_ON_TIME_RATE;
    s.order = -1;
    s.force_scan = scan;
    cx_agg_result a;
    cr_assert_eq(cx_query_aggregate(E.q, t, CX_ROLE_ANALYST, &s, &a), 0);
    cr_assert_eq(a.from_rollup, !scan);
    cr_assert_eq(a.provisional, 2, "%s: %llu", scan ? "scan" : "rollup", (unsigned long long)a.provisional);
    for (uint32_t i = 0; i < a.n_rows; i++) {
      uint32_t y = a.rows[i].keys[0];
      cr_assert_eq(a.rows[i].provisional, y == 2024 ? 0u : 1u, "year %u", y);
    }
    cx_agg_result_free(&a);
  }
  cr_assert_eq(cx_store_verify(E.st, NULL, NULL), 0, "the rollup cells' provisional counts verify");
  /* The 2027 notice arrives (here: the shipped calendar, its `published` line extended to
   * 2027): the delays are recomputed and nothing is provisional any more. */
  extern const char cx_data_calendar[];
  extern const size_t cx_data_calendar_len;
  char *cal = malloc(cx_data_calendar_len + 1);
  cr_assert(cal);
  memcpy(cal, cx_data_calendar, cx_data_calendar_len);
  cal[cx_data_calendar_len] = 0;
  char *pub = strstr(cal, "published 2007 2026");
  cr_assert(pub, "the shipped calendar's published line");
  memcpy(pub, "published 2007 2027", 19);
  int bad = 0;
  cr_assert_eq(cx_store_data_put(E.st, "calendar", cal, cx_data_calendar_len, &bad), 0, "line %d", bad);
  free(cal);
  t = qt_txn(&E);
  cr_assert_eq(cx_store_record_get(t, cx_str_c(auth), CX_STR("P-2"), &k, &rec), 0);
  cr_assert_eq(rec.delay_provisional, 0);
  cx_agg_spec s;
  memset(&s, 0, sizeof s);
  s.n_group = 1;
  s.group[0] = CX_DIM_YEAR;
  s.n_metrics = 1;
  s.metrics[0] = CX_M_ON_TIME_RATE;
  s.order = -1;
  cx_agg_result a;
  cr_assert_eq(cx_query_aggregate(E.q, t, CX_ROLE_ANALYST, &s, &a), 0);
  cr_assert_eq(a.provisional, 0);
  cx_agg_result_free(&a);
  cr_assert_eq(cx_store_verify(E.st, NULL, NULL), 0);
}
