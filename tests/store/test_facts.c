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

/* ---- blocks: the split scans of query/aggregate.c ---- */

#define NBIG 1500 /* 6 blocks, the last one partial */

static void fill_big(void) {
  char codes[5][19], auth[19], rid[32];
  for (unsigned i = 0; i < 5; i++) fx_uscc(200 + i, codes[i]);
  fx_auth(20, auth);
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  for (unsigned i = 0; i < NBIG; i++) {
    cx_record r;
    snprintf(rid, sizeof rid, "B-%u", i);
    fx_record(&r, codes[i % 5], "某公司", auth, rid, fx_day(2020 + (int)(i % 4), 1 + (int)(i % 12), 1));
    r.status = (uint8_t)(i % CX_ST_COUNT);
    r.amount_fen = (int64_t)i;
    fx_put(b, &r);
  }
  cr_assert_eq(cx_batch_commit(b, NULL), 0);
}

typedef struct seqs {
  uint32_t seq[NBIG + 1];
  size_t n, calls;
  int unordered;
} seqs;

static int seq_fn(void *ctx, const cx_fact *f) {
  seqs *x = ctx;
  if (x->n > NBIG) return CX_EINTERNAL;
  if (x->n && f->seq <= x->seq[x->n - 1]) x->unordered++;
  x->seq[x->n++] = f->seq;
  return 0;
}

static int block_fn(void *ctx, const cx_fact *f, size_t n) {
  seqs *x = ctx;
  x->calls++;
  if (n == 0 || n > CX_FACTS_PER_BLOCK) return CX_EINTERNAL;
  for (size_t i = 0; i < n; i++) {
    if (f[i].seq / CX_FACTS_PER_BLOCK != f[0].seq / CX_FACTS_PER_BLOCK) return CX_EINTERNAL; /* one block */
    int rc = seq_fn(ctx, &f[i]);
    if (rc) return rc;
  }
  return 0;
}

Test(facts, every_split_of_the_blocks_visits_each_fact_once) {
  fill_big();
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  seqs *all = calloc(1, sizeof *all), *part = calloc(1, sizeof *part);
  cr_assert(all && part);
  cr_assert_eq(cx_store_facts_scan(t, seq_fn, all), 0);
  cr_assert_eq(all->n, NBIG);
  cr_assert_eq(all->unordered, 0);
  uint32_t lo, hi;
  cr_assert_eq(cx_store_facts_blocks(t, &lo, &hi), 0);
  cr_assert_eq(lo, all->seq[0] / CX_FACTS_PER_BLOCK);
  cr_assert_eq(hi, all->seq[NBIG - 1] / CX_FACTS_PER_BLOCK + 1);
  cr_assert_geq(hi - lo, 5);
  /* two parts at every split point (and past both ends): the concatenation is the whole scan */
  for (uint32_t m = lo; m <= hi + 1; m++) {
    memset(part, 0, sizeof *part);
    cr_assert_eq(cx_store_facts_scan_blocks(t, lo, m, block_fn, part), 0);
    size_t first = part->n;
    cr_assert_eq(cx_store_facts_scan_blocks(t, m, hi, block_fn, part), 0);
    cr_assert_eq(part->n, NBIG, "split at %u: %zu facts", m, part->n);
    cr_assert_eq(part->unordered, 0);
    cr_assert_eq(memcmp(part->seq, all->seq, NBIG * sizeof all->seq[0]), 0, "split at %u", m);
    if (m > lo && m < hi) cr_assert(first > 0 && first < NBIG);
    cr_assert_leq(part->calls, hi - lo);
  }
  /* three parts at every pair of split points */
  for (uint32_t m1 = lo; m1 <= hi; m1++)
    for (uint32_t m2 = m1; m2 <= hi; m2++) {
      memset(part, 0, sizeof *part);
      cr_assert_eq(cx_store_facts_scan_blocks(t, lo, m1, block_fn, part), 0);
      cr_assert_eq(cx_store_facts_scan_blocks(t, m1, m2, block_fn, part), 0);
      cr_assert_eq(cx_store_facts_scan_blocks(t, m2, hi, block_fn, part), 0);
      cr_assert_eq(memcmp(part->seq, all->seq, NBIG * sizeof all->seq[0]), 0, "split at %u, %u", m1, m2);
      cr_assert_eq(part->n, NBIG);
    }
  /* a stop (1) ends the scan with 0; an empty range visits nothing */
  memset(part, 0, sizeof *part);
  cr_assert_eq(cx_store_facts_scan_blocks(t, hi, lo, block_fn, part), 0);
  cr_assert_eq(part->calls, 0);
  free(all);
  free(part);
  cx_store_txn_end(t);
}

static int stop_fn(void *ctx, const cx_fact *f, size_t n) {
  (void)f;
  (void)n;
  return ++*(int *)ctx == 2 ? 1 : 0;
}

Test(facts, block_scan_stops_and_an_empty_store_has_no_blocks) {
  cx_txn *t;
  uint32_t lo = 9, hi = 9;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cr_assert_eq(cx_store_facts_blocks(t, &lo, &hi), 0);
  cr_assert_eq(lo, 0);
  cr_assert_eq(hi, 0);
  cx_store_txn_end(t);
  fill_big();
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cr_assert_eq(cx_store_facts_blocks(t, &lo, &hi), 0);
  int calls = 0;
  cr_assert_eq(cx_store_facts_scan_blocks(t, lo, hi, stop_fn, &calls), 0);
  cr_assert_eq(calls, 2);
  cx_store_txn_end(t);
}

Test(facts, a_twin_reads_the_same_snapshot_or_is_refused) {
  fill_big();
  cx_txn *t, *tw;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cr_assert_eq(cx_store_txn_twin(t, &tw), 0);
  seqs *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
  cr_assert(a && b);
  cr_assert_eq(cx_store_facts_scan(t, seq_fn, a), 0);
  cr_assert_eq(cx_store_facts_scan(tw, seq_fn, b), 0);
  cr_assert_eq(a->n, b->n);
  cr_assert_eq(memcmp(a->seq, b->seq, a->n * sizeof a->seq[0]), 0);
  cx_store_txn_end(tw);
  /* a write commits: t's snapshot is no longer the newest, no twin can be had */
  char code[19], auth[19];
  fx_uscc(300, code);
  fx_auth(21, auth);
  cx_batch *bt;
  cx_record r;
  cr_assert_eq(cx_batch_begin(st, &bt), 0);
  fx_record(&r, code, "某公司", auth, "N-1", fx_day(2024, 1, 1));
  fx_put(bt, &r);
  cr_assert_eq(cx_batch_commit(bt, NULL), 0);
  tw = (cx_txn *)1;
  cr_assert_eq(cx_store_txn_twin(t, &tw), CX_EBUSY);
  cr_assert_null(tw);
  /* renewed, t sees the write and twins again */
  cr_assert_eq(cx_store_txn_renew(t), 0);
  cr_assert_eq(cx_store_txn_twin(t, &tw), 0);
  memset(b, 0, sizeof *b);
  cr_assert_eq(cx_store_facts_scan(tw, seq_fn, b), 0);
  cr_assert_eq(b->n, NBIG + 1);
  cx_store_txn_end(tw);
  cx_store_txn_end(t);
  free(a);
  free(b);
}
