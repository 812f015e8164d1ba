/* test_checks.c — the check log (store/checks.c): entries by receipt, feedback and the rollup it
 * moves, pruning that keeps the rollup, receipt epochs that never repeat across runs. */
#include "fixture.h"

static char dir[256];
static cx_store *st;
static char E1[19], E2[19];

static void setup(void) {
  cx_test_tmpdir(dir, sizeof dir);
  st = fx_open(dir, 0);
  fx_uscc(1, E1);
  fx_uscc(2, E2);
}
static void teardown(void) {
  cx_store_close(st);
  cx_test_rmrf(dir);
}
TestSuite(checks, .init = setup, .fini = teardown);

/* Verdicts are query/'s (cx_verdict); the store keeps the byte without reading it. */
enum { V_DENY = 0, V_REVIEW = 1, V_CLEAR = 2 };

static cx_check_entry entry(uint64_t receipt, const char *code, const char *who, int64_t time_ms, int verdict) {
  cx_check_entry e;
  memset(&e, 0, sizeof e);
  e.receipt = receipt;
  e.time_ms = time_ms;
  e.day = (cx_day)((time_ms + CX_BEIJING_OFFSET_S * 1000ll) / 86400000);
  e.who = cx_str_c(who);
  e.action = 0;
  e.verdict = (uint8_t)verdict;
  e.kind = 0;
  e.n_restrict = verdict == V_DENY ? 2 : 0;
  e.n_advisory = 1;
  e.region = 350102;
  e.authority_id = verdict == V_DENY ? 7 : 0;
  memcpy(e.code, code, CX_CODE_LEN);
  e.fb_who = e.note = (cx_str){"", 0};
  return e;
}

/* The rollup summed over every cell. */
typedef struct sums { int64_t checks, restricted, after_review, approved; int cells; } sums;
static int add_cell(void *ctx, const cx_check_cell *c) {
  sums *s = ctx;
  s->checks += c->checks;
  s->restricted += c->restricted;
  s->after_review += c->approved_after_review;
  s->approved += c->approved;
  s->cells++;
  return 0;
}
static sums rollup(void) {
  sums s;
  memset(&s, 0, sizeof s);
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cr_assert_eq(cx_store_check_rollup_each(t, 0, 0xFFFF, add_cell, &s), 0);
  cx_store_txn_end(t);
  return s;
}
static uint64_t count(void) {
  cx_txn *t;
  uint64_t n = 0;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cr_assert_eq(cx_store_checks_count(t, &n), 0);
  cx_store_txn_end(t);
  return n;
}

/* 2026-11-03 02:00 UTC, and a day in ms */
#define T0 1793671200000ll
#define DAY_MS 86400000ll

Test(checks, an_appended_entry_reads_back_by_its_receipt_with_every_field) {
  cx_check_entry e[2] = {entry(5, E1, "审批系统", T0, V_DENY), entry(6, E2, "审批系统", T0 + 1, V_CLEAR)};
  cr_assert_eq(cx_store_checks_append(st, e, 2), 0);
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cx_check_entry g;
  cr_assert_eq(cx_store_check_get(t, 5, &g), 0);
  cr_assert_eq(g.receipt, 5);
  cr_assert_eq(g.time_ms, T0);
  cr_assert_eq(g.day, e[0].day);
  cr_assert_eq(g.verdict, V_DENY);
  cr_assert_eq(g.n_restrict, 2);
  cr_assert_eq(g.n_advisory, 1);
  cr_assert_eq(g.region, 350102);
  cr_assert_eq(g.authority_id, 7);
  cr_assert_eq(g.outcome, CX_OUT_NONE);
  cr_assert_eq(memcmp(g.code, E1, CX_CODE_LEN), 0);
  cr_assert(cx_str_eq(g.who, CX_STR("审批系统")));
  cr_assert_eq(g.fb_time_ms, 0);
  cr_assert_eq(cx_store_check_get(t, 7, &g), CX_ENOTFOUND);
  cx_store_txn_end(t);
  cr_assert_eq(count(), 2);
  sums s = rollup();
  cr_assert_eq(s.checks, 2);
  cr_assert_eq(s.restricted + s.after_review + s.approved, 0);
}

Test(checks, appending_a_receipt_again_neither_rewrites_nor_counts_it_twice) {
  /* the writer retries a batch after a failed commit: what landed must not count twice */
  cx_check_entry e = entry(9, E1, "a", T0, V_DENY);
  cr_assert_eq(cx_store_checks_append(st, &e, 1), 0);
  cr_assert_eq(cx_store_checks_append(st, &e, 1), 0);
  cr_assert_eq(count(), 1);
  cr_assert_eq(rollup().checks, 1);
}

Test(checks, a_later_feedback_replaces_the_earlier_and_moves_the_rollup_count) {
  cx_check_entry e = entry(11, E1, "sysA", T0, V_DENY);
  cr_assert_eq(cx_store_checks_append(st, &e, 1), 0);
  cx_check_entry old;
  cr_assert_eq(cx_store_check_feedback(st, 11, CX_OUT_RESTRICTED, CX_STR("sysA"), 0, CX_STR("不予受理"),
                                       T0 + 1000, NULL, &old), 0);
  cr_assert_eq(old.outcome, CX_OUT_NONE);
  sums s = rollup();
  cr_assert_eq(s.checks, 1);
  cr_assert_eq(s.restricted, 1);
  cr_assert_eq(s.approved, 0);
  cr_assert_eq(cx_store_check_feedback(st, 11, CX_OUT_APPROVED, CX_STR("sysA"), 0, CX_STR(""), T0 + 2000,
                                       NULL, &old), 0);
  cr_assert_eq(old.outcome, CX_OUT_RESTRICTED, "previous: the earlier feedback");
  s = rollup();
  cr_assert_eq(s.checks, 1, "feedback never counts a check");
  cr_assert_eq(s.restricted, 0, "the earlier outcome's count moved");
  cr_assert_eq(s.approved, 1);
  cr_assert_eq(s.cells, 1);
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cx_check_entry g;
  cr_assert_eq(cx_store_check_get(t, 11, &g), 0);
  cr_assert_eq(g.outcome, CX_OUT_APPROVED);
  cr_assert_eq(g.fb_time_ms, T0 + 2000);
  cr_assert(cx_str_eq(g.fb_who, CX_STR("sysA")));
  cr_assert_eq(g.note.n, 0, "the later note replaced the earlier one");
  cr_assert(cx_str_eq(g.who, CX_STR("sysA")));
  cx_store_txn_end(t);
}

Test(checks, feedback_is_refused_for_another_system_unknown_receipts_and_bad_outcomes) {
  cx_check_entry e = entry(21, E1, "sysA", T0, V_REVIEW);
  cr_assert_eq(cx_store_checks_append(st, &e, 1), 0);
  cr_assert_eq(cx_store_check_feedback(st, 21, CX_OUT_APPROVED, CX_STR("sysB"), 0, CX_STR(""), 0, NULL, NULL),
               CX_EFORBIDDEN);
  cr_assert_eq(cx_store_check_feedback(st, 22, CX_OUT_APPROVED, CX_STR("sysA"), 0, CX_STR(""), 0, NULL, NULL),
               CX_ENOTFOUND);
  cr_assert_eq(cx_store_check_feedback(st, 21, CX_OUT_NONE, CX_STR("sysA"), 0, CX_STR(""), 0, NULL, NULL),
               CX_EBADREQ);
  char big[CX_CHECK_NOTE_MAX + 2];
  memset(big, 'x', sizeof big - 1);
  big[sizeof big - 1] = 0;
  cr_assert_eq(cx_store_check_feedback(st, 21, CX_OUT_APPROVED, CX_STR("sysA"), 0, cx_str_c(big), 0, NULL, NULL),
               CX_EBADREQ);
  sums s = rollup();
  cr_assert_eq(s.restricted + s.after_review + s.approved, 0, "a refused feedback counts nothing");
  /* admin (any_who) may report on any receipt */
  cr_assert_eq(cx_store_check_feedback(st, 21, CX_OUT_APPROVED_AFTER_REVIEW, CX_STR("admin"), 1, CX_STR(""), 0,
                                       NULL, NULL), 0);
  cr_assert_eq(rollup().after_review, 1);
}

typedef struct aud { int n; char op[32], detail[64]; } aud;
static int last_audit(void *ctx, const cx_audit_entry *e) {
  aud *a = ctx;
  a->n++;
  snprintf(a->op, sizeof a->op, "%.*s", (int)e->op.n, e->op.p);
  snprintf(a->detail, sizeof a->detail, "%.*s", (int)e->detail.n, e->detail.p);
  return 0;
}

Test(checks, pruning_deletes_old_entries_oldest_first_and_keeps_the_rollup) {
  cx_check_entry e[4] = {entry(31, E1, "s", T0 - 40 * DAY_MS, V_DENY), entry(32, E2, "s", T0 - 30 * DAY_MS, V_CLEAR),
                         entry(33, E1, "s", T0 - 1, V_DENY), entry(34, E2, "s", T0, V_CLEAR)};
  cr_assert_eq(cx_store_checks_append(st, e, 4), 0);
  cr_assert_eq(cx_store_check_feedback(st, 31, CX_OUT_RESTRICTED, CX_STR("s"), 0, CX_STR(""), 0, NULL, NULL), 0);
  sums before = rollup();
  cx_audit_entry ae;
  memset(&ae, 0, sizeof ae);
  ae.who = CX_STR("local:op");
  ae.role = CX_STR("local");
  ae.op = CX_STR("prune-checks");
  ae.detail = CX_STR("before=2026-11-03");
  uint64_t n = 99;
  cr_assert_eq(cx_store_checks_prune(st, T0, &ae, &n), 0);
  cr_assert_eq(n, 3);
  cr_assert_eq(count(), 1);
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cx_check_entry g;
  cr_assert_eq(cx_store_check_get(t, 31, &g), CX_ENOTFOUND);
  cr_assert_eq(cx_store_check_get(t, 33, &g), CX_ENOTFOUND);
  cr_assert_eq(cx_store_check_get(t, 34, &g), 0, "the entry of the prune's own instant stays");
  aud a = {0};
  cr_assert_eq(cx_store_audit_each(t, 0, 0, 0, last_audit, &a), 0);
  cx_store_txn_end(t);
  cr_assert_eq(a.n, 1, "the prune is audited once");
  cr_assert_str_eq(a.op, "prune-checks");
  cr_assert_str_eq(a.detail, "before=2026-11-03");
  sums after = rollup();
  cr_assert_eq(after.checks, before.checks);
  cr_assert_eq(after.checks, 4);
  cr_assert_eq(after.restricted, 1, "pruned entries' feedback still counts");
  /* feedback on a pruned receipt: not found, the rollup untouched */
  cr_assert_eq(cx_store_check_feedback(st, 31, CX_OUT_APPROVED, CX_STR("s"), 0, CX_STR(""), 0, NULL, NULL),
               CX_ENOTFOUND);
  cr_assert_eq(rollup().approved, 0);
  /* a second prune finds nothing and, without an audit entry, writes none */
  cr_assert_eq(cx_store_checks_prune(st, T0, NULL, &n), 0);
  cr_assert_eq(n, 0);
}

Test(checks, pruning_more_than_one_txn_of_entries_deletes_them_all) {
  enum { N = 10000 + 517 };
  cx_check_entry *e = calloc(N, sizeof *e);
  cr_assert(e);
  for (int i = 0; i < N; i++) e[i] = entry((uint64_t)i + 1, i % 2 ? E1 : E2, "s", T0 - DAY_MS + i, V_CLEAR);
  cr_assert_eq(cx_store_checks_append(st, e, N), 0);
  free(e);
  uint64_t n = 0;
  cr_assert_eq(cx_store_checks_prune(st, T0, NULL, &n), 0);
  cr_assert_eq(n, N);
  cr_assert_eq(count(), 0);
  cr_assert_eq(rollup().checks, N);
}
/* The replicated log's forms (docs/scaling.md "Feedback and receipts"). */
Test(checks, a_feedback_from_the_log_lands_once_with_its_audit_line_on_every_node) {
  cx_check_entry e = entry(21, E1, "sysA", T0, V_DENY);
  cr_assert_eq(cx_store_checks_append(st, &e, 1), 0);
  cx_audit_entry ae;
  memset(&ae, 0, sizeof ae);
  ae.who = CX_STR("sysA");
  ae.op = CX_STR("feedback");
  int applied = 9;
  cx_check_entry old;
  /* a receipt this store does not hold (another node's check): only the audit line and the position */
  cr_assert_eq(cx_store_check_feedback_at(st, 22, CX_OUT_RESTRICTED, CX_STR("sysA"), 0, CX_STR(""), T0 + 5, &ae, 1,
                                          &old, &applied), 0);
  cr_assert_eq(applied, 0);
  uint64_t pos = 0;
  cr_assert_eq(cx_store_log_seq(st, &pos), 0);
  cr_assert_eq(pos, 1);
  /* another system's receipt: left as it was */
  cr_assert_eq(cx_store_check_feedback_at(st, 21, CX_OUT_RESTRICTED, CX_STR("sysB"), 0, CX_STR(""), T0 + 6, &ae, 2,
                                          &old, &applied), 0);
  cr_assert_eq(applied, -1);
  cr_assert_eq(rollup().restricted, 0);
  /* its own: applied, counted; the same message again is refused */
  cr_assert_eq(cx_store_check_feedback_at(st, 21, CX_OUT_RESTRICTED, CX_STR("sysA"), 0, CX_STR("n"), T0 + 7, &ae, 3,
                                          &old, &applied), 0);
  cr_assert_eq(applied, 1);
  cr_assert_eq(old.verdict, V_DENY);
  cr_assert_eq(cx_store_check_feedback_at(st, 21, CX_OUT_APPROVED, CX_STR("sysA"), 0, CX_STR(""), T0 + 8, &ae, 3,
                                          &old, &applied), CX_EEXIST);
  sums s = rollup();
  cr_assert_eq(s.restricted, 1);
  cr_assert_eq(s.approved, 0);
  cx_txn *t;
  uint64_t last = 0;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cr_assert_eq(cx_store_audit_last(t, &last), 0);
  cx_store_txn_end(t);
  cr_assert_eq(last, 3, "one audit line per message, applied or not");
}

Test(checks, an_epoch_message_moves_the_epoch_counter_past_the_epoch_it_claims) {
  uint32_t ep = 0;
  char node[96] = "";
  cr_assert_eq(cx_store_receipt_node(st, 7, node, sizeof node), CX_ENOTFOUND);
  cr_assert_eq(cx_store_checks_epoch_at(st, 7, 7, "node-a", &ep), 0);
  cr_assert_eq(ep, 7);
  cr_assert_eq(cx_store_receipt_node(st, 7, node, sizeof node), 0);
  cr_assert_str_eq(node, "node-a", "every node knows who issues epoch 7's receipts");
  cr_assert_eq(cx_store_checks_epoch_at(st, 7, 7, "node-a", &ep), CX_EEXIST);
  /* a claim is not the message's sequence: past 2^24 messages the epochs go on from their own
   * counter (the epochs' stream), not from the sequence's low bits */
  uint64_t late = (1ull << 24) + 9;
  cr_assert_eq(cx_store_checks_epoch_at(st, late, 8, "node-b", &ep), 0);
  cr_assert_eq(ep, 8);
  cr_assert_eq(cx_store_receipt_node(st, 8, node, sizeof node), 0);
  cr_assert_str_eq(node, "node-b");
  cr_assert_eq(cx_store_receipt_node(st, 9, node, sizeof node), CX_ENOTFOUND, "not the sequence's low bits");
  cr_assert_eq(cx_store_checks_epoch_at(st, late + 1, 0, "node-c", &ep), CX_EBADREQ);
  cr_assert_eq(cx_store_checks_epoch_at(st, late + 1, 1u << 24, "node-c", &ep), CX_EBADREQ);
  cr_assert_eq(cx_store_checks_epoch(st, &ep), 0);
  cr_assert_eq(ep, 9, "a local epoch after the log's is above it");
}


Test(checks, each_open_takes_a_new_epoch_so_receipts_never_repeat_across_runs) {
  uint32_t e1 = 0, e2 = 0, e3 = 0;
  cr_assert_eq(cx_store_checks_epoch(st, &e1), 0);
  cr_assert_eq(cx_store_checks_epoch(st, &e2), 0);
  cr_assert_gt(e2, e1);
  /* a restart: the epoch is kept in the store, not the process */
  cx_store_close(st);
  st = fx_open(dir, 0);
  cr_assert_eq(cx_store_checks_epoch(st, &e3), 0);
  cr_assert_gt(e3, e2);
  /* the first receipt of each run (counter 1) differs, and the log takes them all */
  cx_check_entry e[3] = {entry(((uint64_t)e1 << 40) | 1, E1, "s", T0, V_CLEAR),
                         entry(((uint64_t)e2 << 40) | 1, E1, "s", T0, V_CLEAR),
                         entry(((uint64_t)e3 << 40) | 1, E1, "s", T0, V_CLEAR)};
  cr_assert_eq(cx_store_checks_append(st, e, 3), 0);
  cr_assert_eq(count(), 3);
}

/* One batch of many entries over few cells (the flusher's case: they are summed per cell before
 * the cells are written) gives each cell the sum of its entries, computed here naively. */
typedef struct cellv { uint32_t month; uint8_t action, verdict; uint32_t region, authority; int64_t v[4]; } cellv;
typedef struct cells { cellv c[512]; int n; } cells;
static cellv *cell_of(cells *s, uint32_t month, uint8_t action, uint8_t verdict, uint32_t region, uint32_t authority) {
  for (int i = 0; i < s->n; i++) {
    cellv *c = &s->c[i];
    if (c->month == month && c->action == action && c->verdict == verdict && c->region == region && c->authority == authority)
      return c;
  }
  cr_assert_lt(s->n, 512);
  cellv *c = &s->c[s->n++];
  memset(c, 0, sizeof *c);
  c->month = month;
  c->action = action;
  c->verdict = verdict;
  c->region = region;
  c->authority = authority;
  return c;
}
static int keep_cell(void *ctx, const cx_check_cell *c) {
  cellv *o = cell_of(ctx, c->month, c->action, c->verdict, c->region, c->authority_id);
  cr_assert_eq(o->v[0], 0, "each cell once");
  o->v[0] = c->checks;
  o->v[1] = c->restricted;
  o->v[2] = c->approved_after_review;
  o->v[3] = c->approved;
  return 0;
}
Test(checks, a_batch_over_shared_cells_sums_each_cell_over_its_entries) {
  enum { N = 3000 };
  cx_check_entry *es = calloc(N, sizeof *es);
  cells *want = calloc(1, sizeof *want), *got = calloc(1, sizeof *got);
  uint64_t rng = 20261201;
  for (int i = 0; i < N; i++) {
    rng = rng * 6364136223846793005ull + 1442695040888963407ull;
    uint32_t r = (uint32_t)(rng >> 33);
    cx_check_entry *e = &es[i];
    /* receipts: two ascending runs that interleave (two loops' rings) */
    uint64_t rc_ = i < N / 2 ? 1000 + 2 * (uint64_t)i : 1001 + 2 * (uint64_t)(i - N / 2);
    if (i >= N - 50) rc_ = 1 + (uint64_t)(i - (N - 50)); /* below every other one */
    *e = entry(rc_, (r & 1) ? E1 : E2, "approval", T0 + (int64_t)(r % 90) * DAY_MS, (int)((r >> 3) % 3));
    e->action = (uint8_t)((r >> 6) % 3);
    e->region = 350100 + (r >> 9) % 7;
    e->outcome = (uint8_t)((r >> 12) % 4);
    cellv *c = cell_of(want, (uint32_t)cx_day_month(e->day), e->action, e->verdict, e->region, e->authority_id);
    c->v[0]++;
    if (e->outcome) c->v[e->outcome]++;
  }
  /* the flusher's order (two runs concatenated); then receipts below every one written; then
   * a run and the whole batch again, every receipt already there (counted once) */
  cr_assert_eq(cx_store_checks_append(st, es, N - 50), 0);
  cr_assert_eq(cx_store_checks_append(st, es + N - 50, 50), 0);
  cr_assert_eq(cx_store_checks_append(st, es, N / 2), 0);
  cr_assert_eq(cx_store_checks_append(st, es, N), 0);
  cr_assert_eq(count(), (uint64_t)N);
  for (int i = 0; i < N; i += 97) {
    cx_txn *g;
    cx_check_entry back;
    cr_assert_eq(cx_store_txn_begin(st, &g), 0);
    cr_assert_eq(cx_store_check_get(g, es[i].receipt, &back), 0);
    cr_assert_eq(back.verdict, es[i].verdict);
    cr_assert_eq(back.region, es[i].region);
    cx_store_txn_end(g);
  }
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cr_assert_eq(cx_store_check_rollup_each(t, 0, 0xFFFF, keep_cell, got), 0);
  cx_store_txn_end(t);
  cr_assert_gt(want->n, 20, "many cells (%d)", want->n);
  cr_assert_lt(want->n, N / 4, "each shared by many entries (%d cells)", want->n);
  cr_assert_eq(got->n, want->n, "cells: %d, expected %d", got->n, want->n);
  for (int i = 0; i < want->n; i++) {
    const cellv *w = &want->c[i];
    cellv *g = cell_of(got, w->month, w->action, w->verdict, w->region, w->authority);
    for (int m = 0; m < 4; m++)
      cr_assert_eq(g->v[m], w->v[m], "cell %d count %d: %lld, expected %lld", i, m, (long long)g->v[m], (long long)w->v[m]);
  }
  cr_assert_eq(got->n, want->n, "no cell the entries do not have");
  free(want);
  free(got);
  free(es);
}

/* ---- blocks: a flush's entries several to a value (store_int.h "Check log") */

static uint64_t keys(void) {
  uint64_t k = 0;
  cr_assert_eq(cx_store_debug_checks_keys(st, &k), 0);
  return k;
}
/* n entries of receipts first, first + step, ...; entity and time from the receipt. */
static void append_run(uint64_t first, uint64_t step, int n, int64_t t0) {
  cx_check_entry *e = calloc((size_t)n, sizeof *e);
  cr_assert(e);
  for (int i = 0; i < n; i++) {
    uint64_t r = first + (uint64_t)i * step;
    e[i] = entry(r, r % 3 ? E1 : E2, r % 2 ? "审批系统甲" : "sysB", t0 + (int64_t)r, r % 5 ? V_CLEAR : V_DENY);
  }
  cr_assert_eq(cx_store_checks_append(st, e, (size_t)n), 0);
  free(e);
}
/* receipt r reads back as append_run wrote it (found), or is not there. */
static void expect_receipt(uint64_t r, int found, int64_t t0) {
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cx_check_entry g;
  int rc = cx_store_check_get(t, r, &g);
  if (!found) {
    cr_expect_eq(rc, CX_ENOTFOUND, "receipt %llu: not appended, yet %s", (unsigned long long)r, cx_strerror(rc));
  } else {
    cr_assert_eq(rc, 0, "receipt %llu: %s", (unsigned long long)r, cx_strerror(rc));
    cr_expect_eq(g.receipt, r);
    cr_expect_eq(g.time_ms, t0 + (int64_t)r, "receipt %llu: its own entry", (unsigned long long)r);
    cr_expect_eq(memcmp(g.code, r % 3 ? E1 : E2, CX_CODE_LEN), 0);
    cr_expect(cx_str_eq(g.who, cx_str_c(r % 2 ? "审批系统甲" : "sysB")));
    cr_expect_eq(g.verdict, r % 5 ? V_CLEAR : V_DENY);
  }
  cx_store_txn_end(t);
}

Test(checks, a_flush_is_stored_in_blocks_and_every_receipt_reads_back) {
  append_run(1, 2, 1000, T0); /* odd receipts 1..1999: the even ones fall inside blocks */
  cr_assert_eq(count(), 1000);
  uint64_t k = keys();
  cr_expect(k > 1 && k <= 1000 / 10, "1000 entries in %llu values", (unsigned long long)k);
  for (uint64_t r = 0; r <= 2001; r++) expect_receipt(r, r % 2 == 1 && r <= 1999, T0);
  cr_assert_eq(rollup().checks, 1000);
}

Test(checks, late_entries_land_in_the_block_that_spans_them_or_on_their_own) {
  append_run(1, 2, 300, T0);   /* 1, 3, ..., 599 */
  uint64_t k1 = keys();
  append_run(2, 2, 301, T0);   /* 2, 4, ..., 602: inside those blocks, then past them */
  cr_assert_eq(count(), 601);
  for (uint64_t r = 1; r <= 603; r++) expect_receipt(r, r <= 599 || r == 600 || r == 602, T0);
  /* each late entry went into the block that spans it, or, between two blocks, into a value of
   * its own; 600 and 602 are one new block */
  cr_expect_eq(keys(), k1 + (k1 - 1) + 1, "%llu values from %llu", (unsigned long long)keys(), (unsigned long long)k1);
  /* a retried flush of all of it: nothing written twice, nothing counted twice */
  append_run(1, 1, 603, T0);
  cr_assert_eq(count(), 603);
  cr_assert_eq(rollup().checks, 603);
  /* between two values: its own */
  append_run(10000, 1, 50, T0);
  uint64_t k2 = keys();
  append_run(5000, 1, 1, T0);
  cr_expect_eq(keys(), k2 + 1);
  expect_receipt(5000, 1, T0);
  expect_receipt(4999, 0, T0);
  expect_receipt(5001, 0, T0);
  cr_assert_eq(count(), 603 + 50 + 1);
  cr_assert_eq(rollup().checks, 603 + 50 + 1);
  uint64_t n = 0;
  cr_assert_eq(cx_store_checks_prune(st, T0 + 20000, NULL, &n), 0);
  cr_assert_eq(n, 603 + 50 + 1);
  cr_assert_eq(count(), 0);
  cr_assert_eq(keys(), 0);
}

Test(checks, feedback_inside_a_block_changes_that_entry_only) {
  append_run(1, 1, 200, T0);
  cr_assert_lt(keys(), 200);
  uint64_t targets[3] = {1, 77, 200}; /* a block's first, one inside, the last */
  for (int i = 0; i < 3; i++) {
    uint64_t r = targets[i];
    cr_assert_eq(cx_store_check_feedback(st, r, CX_OUT_APPROVED, cx_str_c(r % 2 ? "审批系统甲" : "sysB"), 0,
                                         CX_STR("已受理"), T0 + 5000, NULL, NULL), 0, "feedback on %llu",
                 (unsigned long long)r);
  }
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  for (uint64_t r = 1; r <= 200; r++) {
    cx_check_entry g;
    cr_assert_eq(cx_store_check_get(t, r, &g), 0);
    int fb = r == 1 || r == 77 || r == 200;
    cr_expect_eq(g.outcome, fb ? CX_OUT_APPROVED : CX_OUT_NONE, "receipt %llu", (unsigned long long)r);
    cr_expect_eq(g.fb_time_ms, fb ? T0 + 5000 : 0);
    cr_expect(cx_str_eq(g.note, fb ? CX_STR("已受理") : CX_STR("")));
    cr_expect_eq(g.time_ms, T0 + (int64_t)r);
  }
  cx_store_txn_end(t);
  cr_assert_eq(count(), 200);
  sums s = rollup();
  cr_assert_eq(s.checks, 200);
  cr_assert_eq(s.approved, 3);
}

Test(checks, pruning_keeps_the_rest_of_a_block_whose_front_is_old) {
  append_run(1, 1, 100, T0); /* times T0 + 1 .. T0 + 100 */
  uint64_t n = 0;
  cr_assert_eq(cx_store_checks_prune(st, T0 + 41, NULL, &n), 0);
  cr_assert_eq(n, 40);
  cr_assert_eq(count(), 60);
  for (uint64_t r = 1; r <= 100; r++) expect_receipt(r, r > 40, T0);
  cr_assert_eq(cx_store_checks_prune(st, T0 + 41, NULL, &n), 0);
  cr_assert_eq(n, 0);
  /* the rest still takes feedback and a late entry */
  cr_assert_eq(cx_store_check_feedback(st, 41, CX_OUT_RESTRICTED, CX_STR("审批系统甲"), 0, CX_STR(""), T0, NULL, NULL), 0);
  append_run(50, 1, 1, T0);
  cr_assert_eq(count(), 60);
  cr_assert_eq(rollup().checks, 100);
}

Test(checks, one_entry_values_and_blocks_read_side_by_side) {
  /* a store written before blocks holds one entry per value: a flush of one still is */
  for (uint64_t r = 1; r <= 5; r++) append_run(r, 1, 1, T0);
  cr_assert_eq(keys(), 5);
  append_run(6, 1, 50, T0);
  cr_assert_eq(count(), 55);
  for (uint64_t r = 0; r <= 56; r++) expect_receipt(r, r >= 1 && r <= 55, T0);
  uint64_t n = 0;
  cr_assert_eq(cx_store_checks_prune(st, T0 + 30, NULL, &n), 0);
  cr_assert_eq(n, 29);
  cr_assert_eq(count(), 26);
}

Test(checks, a_block_that_late_entries_fill_past_255_splits_in_two) {
  append_run(1000, 1000, 20, T0); /* one block spanning 1000..20000 */
  cr_assert_eq(keys(), 1);
  append_run(1001, 1, 300, T0);   /* 300 late entries inside it */
  cr_assert_eq(count(), 320);
  cr_assert_gt(keys(), 1, "split");
  for (uint64_t r = 999; r <= 1302; r++) expect_receipt(r, r >= 1000 && r <= 1300, T0);
  for (uint64_t r = 2000; r <= 20000; r += 1000) expect_receipt(r, 1, T0);
  append_run(1001, 1, 300, T0);   /* again: all there already */
  cr_assert_eq(count(), 320);
  cr_assert_eq(rollup().checks, 320);
  uint64_t n = 0;
  cr_assert_eq(cx_store_checks_prune(st, T0 + 30000, NULL, &n), 0);
  cr_assert_eq(n, 320);
  cr_assert_eq(count(), 0);
}

/* Two servers on one store: the one started first has the lower epoch, so each of its flushes
 * lands below the other's entries. Its entries still go in blocks, in one run per flush. */
Test(checks, a_flush_below_a_later_epochs_entries_is_stored_in_blocks) {
  append_run(5000000, 1, 100, T0); /* the later server's */
  uint64_t k0 = keys();
  append_run(1000, 1, 500, T0);    /* the earlier server's flush */
  append_run(1500, 1, 500, T0);    /* and its next */
  cr_assert_eq(count(), 1100);
  uint64_t k = keys() - k0;
  cr_expect(k <= 1000 / 10, "1000 entries below the other epoch in %llu values", (unsigned long long)k);
  for (uint64_t r = 999; r <= 2001; r++) expect_receipt(r, r >= 1000 && r <= 1999, T0);
  for (uint64_t r = 4999999; r <= 5000100; r++) expect_receipt(r, r >= 5000000 && r <= 5000099, T0);
  cr_assert_eq(rollup().checks, 1100);
}
