/* test_facts.c — cx_store_facts_scan (the facts DB) gives the fixed fields of every record of
 * cx_store_records_scan, each once, through replacements, moves, status changes,
 * a calendar change and the migration of a store without the DB; cx_fact_dim agrees with
 * cx_record_dim; stop and error returns. */
#include "fixture.h"

static char dir[256];
static cx_store *st;
static void setup(void) {
  cx_test_tmpdir(dir, sizeof dir);
  st = fx_open(dir, 0);
}
static void teardown(void) {
  if (st) cx_store_close(st);
  cx_test_rmrf(dir);
}
TestSuite(facts, .init = setup, .fini = teardown);

#define NREC 200

static void fill(void) {
  char codes[7][19], auths[3][19], rid[32];
  for (unsigned i = 0; i < 7; i++) fx_uscc(100 + i, codes[i]);
  for (unsigned i = 0; i < 3; i++) fx_auth(10 + i, auths[i]);
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  for (unsigned i = 0; i < NREC; i++) {
    cx_record r;
    snprintf(rid, sizeof rid, "F-%u", i);
    fx_record(&r, codes[i % 7], "某公司", auths[i % 3], rid,
              fx_day(2019 + (int)(i % 5), 1 + (int)(i % 12), 1 + (int)(i % 28)));
    r.severity = (uint8_t)(i % CX_SEV_COUNT);
    r.status = (uint8_t)(i % CX_ST_COUNT);
    r.domain = (uint8_t)(i % 3);
    r.amount_fen = (int64_t)i * 1000 + 7;
    r.objection = (uint8_t)(i % 2);
    if (i % 4) r.report_date = r.decision_date + (cx_day)(i % 17);
    if (i % 6 == 0) r.valid_until = r.decision_date + 400;
    r.basis = cx_str_c("《行政处罚法》第二十八条");
    r.content = cx_str_c("未按规定公示年度报告");
    fx_put(b, &r);
  }
  cr_assert_eq(cx_batch_commit(b, NULL), 0);
}

typedef struct recs {
  cx_record r[NREC + 1];
  size_t n;
} recs;

static int rec_fn(void *ctx, const cx_reckey *k, const cx_record *r) {
  (void)k;
  recs *x = ctx;
  if (x->n >= NREC + 1) return CX_EINTERNAL;
  x->r[x->n++] = *r;
  return 0;
}

typedef struct facts {
  const recs *want;
  size_t n, stop_at;
  int bad;
  unsigned char seen[NREC + 1];
} facts;

static int fact_fn(void *ctx, const cx_fact *f) {
  facts *x = ctx;
  if (x->stop_at && x->n == x->stop_at) return 1;
  if (x->n >= x->want->n) {
    x->bad++;
    return CX_EINTERNAL;
  }
  x->n++;
  const cx_record *r = NULL;
  for (size_t i = 0; i < x->want->n; i++)
    if (x->want->r[i].seq == f->seq) { r = &x->want->r[i]; x->seen[i]++; break; }
  if (!r) {
    x->bad++;
    return 0;
  }
  int ok = f->amount_fen == r->amount_fen && f->seq == r->seq && f->entity_id == r->entity_id &&
           f->authority_id == r->authority_id && f->region == r->region &&
           f->decision_date == r->decision_date && f->report_date == r->report_date &&
           f->valid_from == r->valid_from && f->valid_until == r->valid_until &&
           f->report_delay == r->report_delay && f->entity_kind == r->entity_kind &&
           f->category == r->category && f->subtype == r->subtype && f->domain == r->domain &&
           f->severity == r->severity && f->status == r->status &&
           f->objection == r->objection && f->on_time == r->on_time;
  for (int d = 0; d < CX_DIM_COUNT; d++)
    if (cx_fact_dim(f, (cx_dim)d) != cx_record_dim(r, (cx_dim)d)) ok = 0;
  if (!ok) x->bad++;
  return 0;
}

/* Every record's fact exactly once, equal to the record; verify agrees. */
static void expect_facts_match(size_t n_want) {
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  recs *want = calloc(1, sizeof *want);
  cr_assert_not_null(want);
  cr_assert_eq(cx_store_records_scan(t, rec_fn, want), 0);
  cr_assert_eq(want->n, n_want);
  facts *x = calloc(1, sizeof *x);
  x->want = want;
  cr_assert_eq(cx_store_facts_scan(t, fact_fn, x), 0);
  cr_assert_eq(x->n, n_want);
  cr_assert_eq(x->bad, 0);
  for (size_t i = 0; i < n_want; i++) cr_assert_eq(x->seen[i], 1, "record %zu seen %d times", i, x->seen[i]);
  free(x);
  free(want);
  cx_store_txn_end(t);
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0);
}

static int fail_fn(void *ctx, const cx_fact *f) {
  (void)f;
  return ++*(int *)ctx == 3 ? CX_ENOMEM : 0;
}

Test(facts, every_record_once_with_its_fields) {
  fill();
  expect_facts_match(NREC);
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  recs *want = calloc(1, sizeof *want);
  cr_assert_not_null(want);
  cr_assert_eq(cx_store_records_scan(t, rec_fn, want), 0);
  /* 1 stops (returned as 0), a negative error is returned */
  facts *y = calloc(1, sizeof *y);
  y->want = want;
  y->stop_at = 5;
  cr_assert_eq(cx_store_facts_scan(t, fact_fn, y), 0);
  cr_assert_eq(y->n, 5);
  cr_assert_eq(y->bad, 0);
  int calls = 0;
  cr_assert_eq(cx_store_facts_scan(t, fail_fn, &calls), CX_ENOMEM);
  cr_assert_eq(calls, 3);
  /* the txn's cursor is usable again after a stopped scan */
  facts *z = calloc(1, sizeof *z);
  z->want = want;
  cr_assert_eq(cx_store_facts_scan(t, fact_fn, z), 0);
  cr_assert_eq(z->n, NREC);
  free(y);
  free(z);
  free(want);
  cx_store_txn_end(t);
}

Test(facts, follow_replacements_and_status_changes) {
  fill();
  char code[19], auth[19], rid[32];
  fx_auth(10, auth);
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  for (unsigned i = 0; i < NREC; i += 3) { /* F-i of authority 10 + i % 3 == 10: i % 3 == 0 */
    cx_record r;
    snprintf(rid, sizeof rid, "F-%u", i);
    /* every other one moves to another decision date (a new records key); records never move
     * to another entity */
    fx_uscc(100 + i % 7, code);
    fx_record(&r, code, "某公司", auth, rid, i % 2 ? fx_day(2024, 3, 1) + (cx_day)i : fx_day(2023, 1, 1));
    r.amount_fen = 123456 + i;
    r.severity = CX_SEV_SERIOUS;
    fx_put(b, &r);
  }
  cr_assert_eq(cx_batch_commit(b, NULL), 0);
  expect_facts_match(NREC);
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  const char *why = NULL;
  cr_assert_eq(cx_batch_transition(b, cx_str_c(auth), CX_STR("F-3"), CX_EV_REPAIR, 0, CX_STR("t"), &why), 0);
  cr_assert_eq(cx_batch_transition(b, cx_str_c(auth), CX_STR("F-3"), CX_EV_OBJECTION, 0, CX_STR("t"), &why), 0);
  cr_assert_eq(cx_batch_commit(b, NULL), 0);
  expect_facts_match(NREC);
  /* a calendar change recomputes every delay: the facts follow */
  const char cal[] = "2019-01-02\tholiday\tx\n2020-01-02\tholiday\tx\n2021-01-04\tholiday\tx\n";
  int bad = 0;
  cr_assert_eq(cx_store_data_put(st, "calendar", cal, strlen(cal), &bad), 0);
  expect_facts_match(NREC);
}

Test(facts, a_store_without_them_is_migrated_at_the_first_writable_open) {
  fill();
  cr_assert_eq(cx_store_debug_drop_facts(st), 0);
  cx_store_close(st);
  /* read-only: nothing written, the scan walks the records */
  cx_store_opts ro = {0};
  ro.read_only = 1;
  cr_assert_eq(cx_store_open(dir, &ro, &st), 0);
  expect_facts_match(NREC);
  cx_store_close(st);
  st = fx_open(dir, 0);
  expect_facts_match(NREC);
  cx_store_close(st);
  cr_assert_eq(cx_store_open(dir, &ro, &st), 0); /* and now read-only reads the facts DB */
  expect_facts_match(NREC);
}

Test(facts, empty_store) {
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  int calls = 0;
  cr_assert_eq(cx_store_facts_scan(t, fail_fn, &calls), 0);
  cr_assert_eq(calls, 0);
  cx_store_txn_end(t);
}
