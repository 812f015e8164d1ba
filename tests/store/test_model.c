/* test_model.c — random inserts, replacements and status changes against an in-memory model:
 * every summary and every rollup cell must equal the test's own naive recomputation. */
#include "fixture.h"

#define N_ENT 50
#define N_AUTH 4
#define MAX_REC 4000

typedef struct mrec {
  int used;
  int ev_batch; /* the batch of the record's last lifecycle event (-1: none) */
  int put_batch; /* the batch of the record's last replacement, and its state before it: */
  uint8_t st_b0, ob_b0; /* the last row of a batch decides, against the stored state */
  int auth, ent;
  char rid[24];
  uint32_t seq;
  cx_day decision, report, vfrom, vuntil;
  cx_day report_eff; /* as stored: the row's, or the receipt day (tests/store/test_lifecycle.c) */
  uint8_t category, subtype, domain, severity, status, objection;
  int64_t amount;
  int list; /* index into lists[] or -1 */
  int explicit_measures;
  int name_variant;
} mrec;

static const char *const lists[] = {"court_dishonest", "tax_major", "tax_a", "gov_dishonest", "penalty_serious"};
static const uint8_t list_cat[] = {CX_CAT_BLACKLIST, CX_CAT_BLACKLIST, CX_CAT_REDLIST, CX_CAT_GOV_DISHONESTY, CX_CAT_PENALTY};

static mrec recs[MAX_REC];
static int n_recs;
static uint32_t next_seq = 1;
static char ent_code[N_ENT][19], auth_code[N_AUTH][19];
static uint64_t rng = 0x9E3779B97F4A7C15ull;
static uint32_t rnd(uint32_t n) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)(rng % n);
}

static char dir[256];
static cx_store *st;
static void setup(void) { cx_test_tmpdir(dir, sizeof dir); }
static void teardown(void) { cx_test_rmrf(dir); }
TestSuite(model, .init = setup, .fini = teardown);

static int is_cs(int e) { return e >= N_ENT - 5; } /* the last five are civil servants */

static void ent_name(const mrec *m, char *out, size_t cap) {
  snprintf(out, cap, "%s%d%s", is_cs(m->ent) ? "公职人员" : "企业", m->ent, m->name_variant ? "（新）" : "");
}

static void randomize(mrec *m) {
  m->ent = (int)rnd(N_ENT);
  m->auth = (int)rnd(N_AUTH);
  m->decision = fx_day(2021, 1, 1) + rnd(1200);
  m->report = rnd(4) ? m->decision + rnd(30) : CX_DAY_NONE;
  m->vfrom = m->decision + rnd(3);
  m->vuntil = rnd(3) ? CX_DAY_OPEN : m->vfrom + 1 + rnd(900);
  m->domain = (uint8_t)rnd(CX_DOM_COUNT);
  m->severity = (uint8_t)rnd(CX_SEV_COUNT);
  m->status = rnd(5) ? CX_ST_ACTIVE : (uint8_t)rnd(CX_ST_COUNT);
  m->objection = rnd(10) == 0;
  m->amount = rnd(3) ? (int64_t)rnd(10000000) : 0;
  m->name_variant = rnd(6) == 0;
  m->explicit_measures = 0;
  m->subtype = CX_SUB_NONE;
  int k = (int)rnd(8);
  if (k < 5) {
    m->list = k;
    m->category = list_cat[k];
    m->explicit_measures = rnd(3) == 0 && m->category == CX_CAT_BLACKLIST;
  } else {
    m->list = -1;
    m->category = k == 5 ? CX_CAT_PENALTY : k == 6 ? CX_CAT_LICENSE : CX_CAT_GOV_DISHONESTY;
  }
  if (m->category == CX_CAT_GOV_DISHONESTY && rnd(2)) m->subtype = CX_SUB_JUDGMENT;
}

static void put_rec(cx_batch *b, const mrec *m) {
  cx_record r;
  char name[64];
  ent_name(m, name, sizeof name);
  fx_record(&r, ent_code[m->ent], name, auth_code[m->auth], m->rid, m->decision);
  if (is_cs(m->ent)) r.entity_kind = CX_KIND_CIVIL_SERVANT;
  r.report_date = m->report;
  r.valid_from = m->vfrom;
  r.valid_until = m->vuntil;
  r.category = m->category;
  r.subtype = m->subtype;
  r.domain = m->domain;
  r.severity = m->severity;
  r.status = m->status;
  r.objection = m->objection;
  r.amount_fen = m->amount;
  if (m->list >= 0) r.list_type = cx_str_c(lists[m->list]);
  if (m->explicit_measures) r.measures = CX_STR("no_procurement,review_license");
  fx_put(b, &r);
}

/* ------------------------------------------------------------------ model rollups */

typedef struct mcell {
  int cube;
  uint32_t month, dims[CX_CUBE_MAX_DIMS];
  cx_rollup_cell c;
  int seen;
} mcell;
static mcell *cells;
static int n_cells;

static uint32_t model_dim(const mrec *m, int dim, uint32_t aid) {
  uint32_t region = is_cs(m->ent) ? 110105 : (m->ent % 3 == 0 ? 350102 : m->ent % 3 == 1 ? 350203 : 110105);
  int y, mo, d;
  cx_day_to_ymd(m->decision, &y, &mo, &d);
  switch (dim) {
  case CX_DIM_PROVINCE: return region / 10000;
  case CX_DIM_CITY: return region / 100;
  case CX_DIM_AUTHORITY: return aid;
  case CX_DIM_CATEGORY: return m->category;
  case CX_DIM_SUBTYPE: return m->subtype;
  case CX_DIM_DOMAIN: return m->domain;
  case CX_DIM_SEVERITY: return m->severity;
  case CX_DIM_KIND: return is_cs(m->ent) ? CX_KIND_CIVIL_SERVANT : CX_KIND_ENTERPRISE;
  case CX_DIM_STATUS: return m->status;
  default: cr_assert_fail("dim %d", dim); return 0;
  }
}

static void model_rollups(cx_txn *t) {
  free(cells);
  cells = calloc((size_t)n_recs * 3 + 1, sizeof *cells);
  n_cells = 0;
  const cx_calendar *cal = cx_store_calendar(st);
  for (int i = 0; i < n_recs; i++) {
    const mrec *m = &recs[i];
    uint32_t aid;
    cr_assert_eq(cx_store_authority_find(t, cx_str_c(auth_code[m->auth]), &aid), 0);
    for (int c = 0; c < cx_cube_count; c++) {
      mcell key;
      memset(&key, 0, sizeof key);
      key.cube = c;
      int y, mo, d;
      cx_day_to_ymd(m->decision, &y, &mo, &d);
      key.month = (uint32_t)(y * 12 + mo - 1);
      for (int k = 0; k < cx_cubes[c].n_dims; k++) key.dims[k] = model_dim(m, cx_cubes[c].dims[k], aid);
      int j;
      for (j = 0; j < n_cells; j++)
        if (cells[j].cube == c && cells[j].month == key.month && !memcmp(cells[j].dims, key.dims, sizeof key.dims)) break;
      if (j == n_cells) cells[n_cells++] = key;
      cells[j].c.count++;
      cells[j].c.amount += m->amount;
      if (m->report_eff != CX_DAY_NONE) {
        int32_t delay = cx_calendar_workdays(cal, m->decision, m->report_eff);
        cells[j].c.reported++;
        cells[j].c.on_time += delay <= CX_REPORT_DEADLINE_WORKDAYS;
        cells[j].c.delay_sum += delay;
      }
    }
  }
}

static int cube_now;
static int check_cell(void *ctx, uint32_t month, const uint32_t *dims, const cx_rollup_cell *c) {
  int *n = ctx;
  (*n)++;
  uint32_t d[CX_CUBE_MAX_DIMS] = {0};
  memcpy(d, dims, sizeof(uint32_t) * cx_cubes[cube_now].n_dims);
  for (int j = 0; j < n_cells; j++) {
    if (cells[j].cube != cube_now || cells[j].month != month || memcmp(cells[j].dims, d, sizeof d)) continue;
    cr_assert_eq(cells[j].c.count, c->count, "cube %d month %u count", cube_now, month);
    cr_assert_eq(cells[j].c.amount, c->amount);
    cr_assert_eq(cells[j].c.reported, c->reported);
    cr_assert_eq(cells[j].c.on_time, c->on_time);
    cr_assert_eq(cells[j].c.delay_sum, c->delay_sum);
    cells[j].seen++;
    return 0;
  }
  cr_assert_fail("store has a cell the model does not (cube %d month %u count %lld)", cube_now, month,
                 (long long)c->count);
  return 0;
}

/* ------------------------------------------------------------------ model summaries */

static int cmp_newest(const void *a, const void *b) {
  const mrec *x = *(const mrec *const *)a, *y = *(const mrec *const *)b;
  if (x->decision != y->decision) return x->decision > y->decision ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void check_summaries(cx_txn *t) {
  const cx_catalog *cat = cx_store_catalog(st);
  const mrec *mine[MAX_REC];
  for (int e = 0; e < N_ENT; e++) {
    int n = 0;
    for (int i = 0; i < n_recs; i++)
      if (recs[i].ent == e) mine[n++] = &recs[i];
    qsort(mine, (size_t)n, sizeof mine[0], cmp_newest);
    cx_summary s;
    int rc = cx_store_summary_get(t, ent_code[e], &s);
    if (rc == CX_ENOTFOUND) {
      cr_assert_eq(n, 0, "entity %d has %d records but no summary", e, n);
      continue;
    }
    cr_assert_eq(rc, 0);
    cr_assert_eq(s.n_recs, (uint32_t)n, "entity %d", e);
    cr_assert(cx_str_eq(s.code, cx_str_c(ent_code[e])));
    if (n) {
      char name[64];
      ent_name(mine[0], name, sizeof name);
      cr_assert(cx_str_eq(s.name, cx_str_c(name)), "entity %d name", e);
      cr_assert_eq(s.kind, is_cs(e) ? CX_KIND_CIVIL_SERVANT : CX_KIND_ENTERPRISE);
      if (is_cs(e)) cr_assert(cx_str_eq(s.authority_code, cx_str_c(auth_code[mine[0]->auth])));
      else cr_assert_eq(s.authority_code.n, 0);
    }
    uint32_t nh = 0;
    for (int i = 0; i < n; i++) {
      const mrec *m = mine[i];
      cx_sum_rec sr;
      cx_summary_rec(&s, (uint32_t)i, &sr);
      cr_assert_eq(sr.decision_date, m->decision);
      cr_assert_eq(sr.valid_from, m->vfrom);
      cr_assert_eq(sr.valid_until, m->vuntil);
      cr_assert_eq(sr.category, m->category);
      cr_assert_eq(sr.severity, m->severity);
      cr_assert_eq(sr.status, m->status);
      uint64_t mask = 0, restrict_any = 0;
      int li = m->list >= 0 ? cx_catalog_list(cat, cx_str_c(lists[m->list])) : -1;
      if (li >= 0) mask = cat->lists[li].defaults;
      if (li >= 0 && m->explicit_measures)
        cr_assert_eq(cx_catalog_measures(cat, li, CX_STR("no_procurement,review_license"), &mask, NULL), 0);
      for (uint32_t a = 0; a < cat->n_actions; a++) restrict_any |= cat->deny[a] | cat->review[a];
      uint8_t want = (uint8_t)((m->objection ? CX_SRF_OBJECTION : 0) | ((mask & restrict_any) ? CX_SRF_RESTRICTS : 0) |
                               (m->subtype << CX_SRF_SUBTYPE_SHIFT));
      cr_assert_eq(sr.flags, want, "entity %d record %d flags %u want %u list %d expl %d cat %d", e, i, sr.flags, want, m->list, m->explicit_measures, m->category);
      if (m->status != CX_ST_ACTIVE || li < 0) continue;
      if (!mask) continue;
      cx_sum_hit h;
      cx_str rid, ac;
      /* approval hints of records without measures (catalogue `advisory`) are not modelled */
      do {
        cr_assert_lt(nh, s.n_hits, "entity %d: too few hits", e);
        cx_summary_hit(&s, nh++, &h, &rid, &ac);
      } while (!h.measures && (h.flags & CX_SRF_ADVISORY));
      cr_assert_eq(h.measures, mask);
      cr_assert_eq(h.valid_from, m->vfrom);
      cr_assert_eq(h.valid_until, m->vuntil);
      cr_assert_eq(h.seq, m->seq);
      cr_assert_eq(h.category, m->category);
      cr_assert_eq(h.list_type, li);
      cr_assert_eq(h.severity, m->severity);
      cr_assert_eq(h.flags & ~(CX_SRF_ADVISORY | (3u << CX_SRF_ADV_SHIFT)), m->objection ? CX_SRF_OBJECTION : 0);
      cr_assert(cx_str_eq(rid, cx_str_c(m->rid)));
      cr_assert(cx_str_eq(ac, cx_str_c(auth_code[m->auth])));
      uint32_t aid;
      cr_assert_eq(cx_store_authority_find(t, ac, &aid), 0);
      cr_assert_eq(h.authority_id, aid);
    }
    for (; nh < s.n_hits; nh++) { /* only hints may follow the last modelled hit */
      cx_sum_hit h;
      cx_summary_hit(&s, nh, &h, NULL, NULL);
      cr_assert(!h.measures && (h.flags & CX_SRF_ADVISORY), "entity %d: an extra hit", e);
    }
    cr_assert_eq(s.n_hits, nh, "entity %d hits", e);
  }
}

static void check_all(void) {
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  /* A row without a report date gets the receipt day: the store's rule, checked on its own;
   * here it is read back, and a given report date must be the one stored. */
  for (int i = 0; i < n_recs; i++) {
    mrec *m = &recs[i];
    cx_record r;
    cr_assert_eq(cx_store_record_get(t, cx_str_c(auth_code[m->auth]), cx_str_c(m->rid), NULL, &r), 0);
    if (m->report != CX_DAY_NONE) cr_assert(r.report_date == m->report && !r.report_received, "record %d", i);
    else cr_assert(r.report_received || r.report_date != CX_DAY_NONE, "record %d: no report date", i);
    m->report_eff = r.report_date;
  }
  check_summaries(t);
  model_rollups(t);
  int n = 0;
  for (cube_now = 0; cube_now < cx_cube_count; cube_now++)
    cr_assert_eq(cx_store_rollup_each(t, cube_now, 0, 0xFFFF, check_cell, &n), 0);
  cr_assert_eq(n, n_cells);
  for (int j = 0; j < n_cells; j++) cr_assert_eq(cells[j].seen, 1);
  cx_store_txn_end(t);
  long d = cx_store_verify(st, NULL, NULL);
  cr_assert_eq(d, 0, "verify found %ld differences", d);
}

static void run_random(int batches, int ops_per_batch) {
  for (int e = 0; e < N_ENT; e++) {
    if (is_cs(e)) {
      fx_idcard((unsigned)e, ent_code[e]);
    } else {
      char c17[18];
      snprintf(c17, sizeof c17, "91%s%08u0", e % 3 == 0 ? "350102" : e % 3 == 1 ? "350203" : "110105", (unsigned)e % 1000u);
      c17[16] = cx_orgcode_check_char(c17 + 8);
      memcpy(ent_code[e], c17, 17);
      ent_code[e][17] = cx_uscc_check_char(c17);
      ent_code[e][18] = 0;
    }
  }
  for (int a = 0; a < N_AUTH; a++) fx_auth((unsigned)a + 1, auth_code[a]);
  for (int bi = 0; bi < batches; bi++) {
    cx_batch *b;
    cr_assert_eq(cx_batch_begin(st, &b), 0);
    cx_batch_actor actor = {CX_STR("model"), CX_STR("admin"), CX_STR(""), 1, NULL, 0};
    cr_assert_eq(cx_batch_set_actor(b, &actor), 0);
    int first_new = n_recs;
    for (int k = 0; k < ops_per_batch; k++) {
      uint32_t op = rnd(100);
      if (op < 55 || n_recs == 0) {
        if (n_recs == MAX_REC) continue;
        mrec *m = &recs[n_recs++];
        randomize(m);
        snprintf(m->rid, sizeof m->rid, "R%d", n_recs);
        m->seq = next_seq++;
        m->used = 1;
        m->ev_batch = m->put_batch = -1;
        put_rec(b, m);
      } else if (op < 80) { /* replace: new content, same (authority, record_id, entity), same seq */
        int idx = (int)rnd((uint32_t)n_recs);
        mrec *m = &recs[idx];
        /* The store applies a batch's events after its puts of the same record: keep the
         * model's order the same by not mixing the two in one batch. */
        if (m->ev_batch == bi) continue;
        int auth = m->auth, ent = m->ent;
        uint8_t st0 = m->status, ob0 = m->objection;
        char rid[24];
        memcpy(rid, m->rid, sizeof rid);
        uint32_t seq = m->seq;
        randomize(m);
        m->auth = auth;
        m->ent = ent; /* a record never moves to another entity */
        memcpy(m->rid, rid, sizeof rid);
        m->seq = seq;
        put_rec(b, m);
        /* A record already stored keeps its lifecycle state; a row that revokes revokes. One
         * put in this batch still gives the initial state (the last row of the batch wins). */
        if (idx < first_new) {
          if (m->put_batch != bi) {
            m->put_batch = bi;
            m->st_b0 = st0;
            m->ob_b0 = ob0;
          }
          if (m->status != CX_ST_REVOKED || m->st_b0 == CX_ST_REVOKED) m->status = m->st_b0;
          m->objection = m->ob_b0;
        }
      } else if (op < 95) {
        int idx = (int)rnd((uint32_t)n_recs);
        mrec *m = &recs[idx];
        const char *why;
        if (idx >= first_new) continue; /* events on records of earlier batches only */
        /* The state machine, written out independently of store/lifecycle.c. */
        int ev = (int)rnd(CX_EV_COUNT);
        if (m->status == CX_ST_REVOKED && ev != CX_EV_OBJECTION_WITHDRAW) continue; /* final */
        if (ev == CX_EV_REINSTATE && m->status != CX_ST_REPAIRED) continue;      /* refused */
        if (ev == CX_EV_REPAIR && !cx_catalog_is_negative(cx_store_catalog(st), m->category, m->subtype))
          continue; /* only 失信信息 is repaired */
        cr_assert_eq(cx_batch_transition(b, cx_str_c(auth_code[m->auth]), cx_str_c(m->rid), ev,
                                         ev == CX_EV_REPAIR, CX_STR("model"), &why), 0, "%s", why);
        m->ev_batch = bi;
        switch (ev) {
        case CX_EV_REPAIR: m->status = CX_ST_REPAIRED; break;
        case CX_EV_REVOKE: m->status = CX_ST_REVOKED; break;
        case CX_EV_REINSTATE: m->status = CX_ST_ACTIVE; break;
        case CX_EV_OBJECTION: m->objection = 1; break;
        default: m->objection = 0; break;
        }
      } else { /* identical re-put */
        put_rec(b, &recs[rnd((uint32_t)n_recs)]);
      }
    }
    cx_batch_result res;
    int rc = cx_batch_commit(b, &res);
    cr_assert_eq(rc, 0, "commit: %s (%s)", cx_strerror(rc), cx_store_errmsg(st));
    if (bi % 4 == 3 || bi == batches - 1) check_all();
  }
}

Test(model, random_operations_match_a_naive_model) {
  st = fx_open(dir, 0);
  run_random(12, 300);
  cx_store_close(st);
  free(cells);
  cells = NULL;
}

static void print_diff(void *ctx, const char *what) {
  (void)ctx;
  fprintf(stderr, "verify: %s\n", what);
}

/* An entity's hint (what search passes over for the public) is checked against its records:
 * a public end a day early, or another kind, is a difference; the right one is not. */
Test(model, verify_catches_a_wrong_entity_hint) {
  st = fx_open(dir, 0);
  run_random(3, 200);
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cx_str code;
  cx_entity_hint h;
  uint32_t eid = 1;
  /* an entity whose records are displayable at some point: its end can be a day early */
  while (cx_store_entity_get(t, eid, &code, &h) == 0 && (h.public_end == 0 || h.public_end == CX_DAY_OPEN))
    eid++;
  cr_assert_eq(cx_store_entity_get(t, eid, &code, &h), 0, "an entity with an end");
  cx_store_txn_end(t);
  cr_assert(h.known);
  cr_assert_eq(cx_store_verify(st, print_diff, NULL), 0);
  cx_entity_hint bad = h;
  bad.public_end--;
  cr_assert_eq(cx_store_debug_set_hint(st, eid, &bad), 0);
  cr_assert_eq(cx_store_verify(st, print_diff, NULL), 1);
  bad = h;
  bad.kind = (uint8_t)((h.kind + 1) % CX_KIND_COUNT);
  cr_assert_eq(cx_store_debug_set_hint(st, eid, &bad), 0);
  cr_assert_eq(cx_store_verify(st, print_diff, NULL), 1);
  cr_assert_eq(cx_store_debug_set_hint(st, eid, &h), 0);
  cr_assert_eq(cx_store_verify(st, print_diff, NULL), 0);
  cx_store_close(st);
  st = NULL;
  free(cells);
  cells = NULL;
}

Test(model, verify_catches_a_corrupted_summary) {
  st = fx_open(dir, 0);
  run_random(2, 200);
  /* rewrite one summary with a stale copy of another's bytes: decodes, but is wrong */
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cx_summary s;
  int e = 0;
  while (cx_store_summary_get(t, ent_code[e], &s)) e++;
  uint32_t strs;
  memcpy(&strs, s.hits_ - 28 + 24, 4); /* string area length (store_int.h layout) */
  size_t n = (size_t)(s.strs_ - (s.hits_ - 28)) + strs;
  unsigned char *copy = malloc(n);
  memcpy(copy, s.hits_ - 28, n);
  cx_store_txn_end(t);
  copy[16] ^= 1; /* n_recs is wrong: corrupt */
  cr_assert_eq(cx_store_debug_put_summary(st, ent_code[e], copy, n), 0);
  cr_assert_gt(cx_store_verify(st, NULL, NULL), 0);
  copy[16] ^= 1;
  copy[1] ^= 3; /* kind: decodes fine, differs from the records */
  cr_assert_eq(cx_store_debug_put_summary(st, ent_code[e], copy, n), 0);
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 1);
  copy[1] ^= 3;
  cr_assert_eq(cx_store_debug_put_summary(st, ent_code[e], copy, n), 0);
  cr_assert_eq(cx_store_verify(st, print_diff, NULL), 0);
  free(copy);
  cx_store_close(st);
  free(cells);
  cells = NULL;
}
