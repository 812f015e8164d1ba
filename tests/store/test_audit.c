/* test_audit.c — the append-only audit log: atomic with batches, seqs, filters, limits. */
#include "fixture.h"

static char dir[256];
static cx_store *st;
static char A1[19];
static void setup(void) {
  cx_test_tmpdir(dir, sizeof dir);
  st = fx_open(dir, 0);
  fx_auth(1, A1);
}
static void teardown(void) {
  cx_store_close(st);
  cx_test_rmrf(dir);
}
TestSuite(audit, .init = setup, .fini = teardown);

static cx_audit_entry entry(const char *who, const char *op, const char *target, const char *detail) {
  cx_audit_entry e;
  memset(&e, 0, sizeof e);
  e.who = cx_str_c(who);
  e.role = CX_STR("submitter");
  e.op = cx_str_c(op);
  e.target = cx_str_c(target);
  e.detail = cx_str_c(detail);
  e.client = CX_STR("127.0.0.1:4242");
  return e;
}

typedef struct seen {
  uint64_t seq[64];
  char who[64][64], op[64][32], detail[64][64];
  int64_t time[64];
  int n;
} seen;

static int collect(void *ctx, const cx_audit_entry *e) {
  seen *s = ctx;
  if (s->n >= 64) return 1;
  s->seq[s->n] = e->seq;
  s->time[s->n] = e->time_ms;
  snprintf(s->who[s->n], 64, "%.*s", (int)e->who.n, e->who.p);
  snprintf(s->op[s->n], 32, "%.*s", (int)e->op.n, e->op.p);
  snprintf(s->detail[s->n], 64, "%.*s", (int)e->detail.n, e->detail.p);
  s->n++;
  return 0;
}

static seen read_all(uint64_t from, int64_t since, int64_t until) {
  seen s;
  memset(&s, 0, sizeof s);
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  int rc = cx_store_audit_each(t, from, since, until, collect, &s);
  cr_assert_eq(rc, 0, "audit_each: %s", cx_strerror(rc));
  cx_store_txn_end(t);
  return s;
}

static uint64_t last_seq(void) {
  cx_txn *t;
  uint64_t seq = 99;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cr_assert_eq(cx_store_audit_last(t, &seq), 0);
  cx_store_txn_end(t);
  return seq;
}

static void put_two(cx_batch *b, const char *r1, const char *r2) {
  char c[19];
  fx_uscc(7, c);
  cx_record r;
  fx_record(&r, c, "甲公司", A1, r1, fx_day(2024, 1, 10));
  fx_put(b, &r);
  fx_record(&r, c, "甲公司", A1, r2, fx_day(2024, 1, 11));
  fx_put(b, &r);
}

Test(audit, empty_store_has_an_empty_log) {
  cr_assert_eq(last_seq(), 0);
  cr_assert_eq(read_all(0, 0, 0).n, 0);
}

Test(audit, entries_land_with_their_batch_in_order) {
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  put_two(b, "R1", "R2");
  cx_audit_entry e1 = entry("市场监管局", "ingest", "", "records=2");
  cx_audit_entry e2 = entry("市场监管局", "repair", "X/R1", "理由");
  cr_assert_eq(cx_batch_audit(b, &e1), 0);
  cr_assert_eq(cx_batch_audit(b, &e2), 0);
  /* nothing before the commit */
  cr_assert_eq(last_seq(), 0);
  int64_t t0 = cx_audit_now_ms();
  cr_assert_eq(cx_batch_commit(b, NULL), 0);
  int64_t t1 = cx_audit_now_ms();
  seen s = read_all(0, 0, 0);
  cr_assert_eq(s.n, 2);
  cr_assert_eq(s.seq[0], 1);
  cr_assert_eq(s.seq[1], 2);
  cr_assert_str_eq(s.op[0], "ingest");
  cr_assert_str_eq(s.op[1], "repair");
  cr_assert_str_eq(s.who[0], "市场监管局");
  cr_assert_str_eq(s.detail[1], "理由");
  cr_assert(s.time[0] >= t0 && s.time[0] <= t1, "time %lld not in [%lld, %lld]", (long long)s.time[0],
            (long long)t0, (long long)t1);
  cr_assert_eq(last_seq(), 2);
}

Test(audit, failed_batch_leaves_no_entry) {
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  put_two(b, "R1", "R2");
  cx_audit_entry e = entry("w", "ingest", "", "records=2");
  cr_assert_eq(cx_batch_audit(b, &e), 0);
  cx_store_debug_fail_after(st, 1); /* after the audit entry and one record were written */
  cr_assert_eq(cx_batch_commit(b, NULL), CX_EIO);
  cr_assert_eq(last_seq(), 0);
  /* an aborted batch writes nothing either */
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  cr_assert_eq(cx_batch_audit(b, &e), 0);
  cx_batch_abort(b);
  cr_assert_eq(last_seq(), 0);
  /* a status change of a missing record fails the commit: no audit line for it */
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  const char *why = NULL;
  cr_assert_eq(cx_batch_transition(b, cx_str_c(A1), CX_STR("NOPE"), CX_EV_REPAIR, 0, CX_STR("t"), &why), 0);
  e = entry("w", "repair", "x", "r");
  cr_assert_eq(cx_batch_audit(b, &e), 0);
  cr_assert_eq(cx_batch_commit(b, NULL), CX_ENOTFOUND);
  cr_assert_eq(last_seq(), 0);
  /* the next good batch starts at seq 1 */
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  put_two(b, "R1", "R2");
  e = entry("w", "ingest", "", "records=2");
  cr_assert_eq(cx_batch_audit(b, &e), 0);
  cr_assert_eq(cx_batch_commit(b, NULL), 0);
  cr_assert_eq(last_seq(), 1);
}

Test(audit, seqs_are_contiguous_across_batches_appends_and_data_files) {
  for (int i = 0; i < 3; i++) {
    cx_batch *b;
    cr_assert_eq(cx_batch_begin(st, &b), 0);
    cx_audit_entry e = entry("w", "repair", "t", "audit-only batch");
    cr_assert_eq(cx_batch_audit(b, &e), 0);
    cr_assert_eq(cx_batch_commit(b, NULL), 0);
  }
  cx_audit_entry q[5];
  for (int i = 0; i < 5; i++) {
    q[i] = entry("analysts", "check", "110105198001010011", "action=procurement");
    q[i].time_ms = 1700000000000 + i;
  }
  cr_assert_eq(cx_store_audit_append(st, q, 5), 0);
  cx_audit_entry d = entry("local:ops", "load-calendar", "calendar", "bytes=0");
  int bad = 0;
  cr_assert_eq(cx_store_data_put_audit(st, "calendar", "", 0, &bad, &d), 0);
  /* a rejected data file writes no audit line */
  cr_assert_eq(cx_store_data_put_audit(st, "calendar", "nonsense\n", 9, &bad, &d), CX_EBADREQ);
  seen s = read_all(0, 0, 0);
  cr_assert_eq(s.n, 9);
  for (int i = 0; i < s.n; i++) cr_assert_eq(s.seq[i], (uint64_t)i + 1);
  cr_assert_eq(s.time[3], 1700000000000); /* given times are kept */
  cr_assert_str_eq(s.op[8], "load-calendar");
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0);
}

Test(audit, reading_filters_by_seq_and_time) {
  cx_audit_entry q[10];
  for (int i = 0; i < 10; i++) {
    q[i] = entry("a", "entity", "c", "");
    q[i].time_ms = 1000 + 100 * i;
  }
  q[7].time_ms = 1050; /* a late-flushed query: times need not follow seqs */
  cr_assert_eq(cx_store_audit_append(st, q, 10), 0);
  seen s = read_all(5, 0, 0);
  cr_assert_eq(s.n, 6);
  cr_assert_eq(s.seq[0], 5);
  s = read_all(0, 1200, 1500); /* [1200, 1500): seqs 3, 4, 5 */
  cr_assert_eq(s.n, 3);
  cr_assert_eq(s.seq[0], 3);
  cr_assert_eq(s.seq[2], 5);
  s = read_all(0, 1000, 1100); /* seq 1 and the late seq 8 */
  cr_assert_eq(s.n, 2);
  cr_assert_eq(s.seq[1], 8);
  s = read_all(0, 1850, 0); /* open end */
  cr_assert_eq(s.n, 1);
  cr_assert_eq(s.seq[0], 10);
  s = read_all(11, 0, 0);
  cr_assert_eq(s.n, 0);
}

static int stop_at_two(void *ctx, const cx_audit_entry *e) {
  (void)e;
  return ++*(int *)ctx == 2;
}

Test(audit, iteration_stops_when_asked) {
  cx_audit_entry q[4];
  for (int i = 0; i < 4; i++) q[i] = entry("a", "records", "c", "");
  cr_assert_eq(cx_store_audit_append(st, q, 4), 0);
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  int n = 0;
  cr_assert_eq(cx_store_audit_each(t, 0, 0, 0, stop_at_two, &n), 0);
  cr_assert_eq(n, 2);
  cx_store_txn_end(t);
}

static int detail_len(void *ctx, const cx_audit_entry *e) {
  *(cx_str *)ctx = e->detail;
  return 1;
}

Test(audit, long_strings_are_cut_at_a_character_boundary) {
  char big[3000];
  /* "信" is 3 bytes: 1000 of them; the detail limit (1024) falls inside a character */
  for (int i = 0; i < 1000; i++) memcpy(big + 3 * i, "信", 3);
  cx_audit_entry e = entry("w", "repair", "t", "");
  e.detail = (cx_str){big, 3000};
  cr_assert_eq(cx_store_audit_append(st, &e, 1), 0);
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cx_str d = {0};
  cr_assert_eq(cx_store_audit_each(t, 0, 0, 0, detail_len, &d), 0);
  cr_assert_eq(d.n, 1023u, "cut to %u bytes", d.n); /* 341 whole characters */
  cr_assert_eq(memcmp(d.p, big, d.n), 0);
  cx_store_txn_end(t);
}

static int target_of(void *ctx, const cx_audit_entry *e) {
  snprintf(ctx, 128, "%.*s", (int)e->target.n, e->target.p);
  return 1;
}

Test(audit, a_file_name_with_an_escape_sequence_and_a_bad_byte_is_logged_escaped) {
  cx_audit_entry e = entry("local:\xffroot", "import", "evil\x1b[2K\r.csv", "rows=1\n\tall\x1b");
  cr_assert_eq(cx_store_audit_append(st, &e, 1), 0);
  seen s = read_all(0, 0, 0);
  cr_assert_eq(s.n, 1);
  cr_assert_str_eq(s.who[0], "local:\\xffroot");
  cr_assert_str_eq(s.detail[0], "rows=1\n\tall\\x1b", "free text keeps LF and TAB");
  char target[128];
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cr_assert_eq(cx_store_audit_each(t, 0, 0, 0, target_of, target), 0);
  cx_store_txn_end(t);
  cr_assert_str_eq(target, "evil\\x1b[2K\\r.csv");
}

Test(audit, read_only_handle_cannot_append) {
  cx_store_close(st);
  cx_store_opts o = {0};
  o.read_only = 1;
  cr_assert_eq(cx_store_open(dir, &o, &st), 0);
  cx_audit_entry e = entry("w", "repair", "t", "d");
  cr_assert_eq(cx_store_audit_append(st, &e, 1), CX_EROFS);
}

Test(audit, verify_accepts_a_healthy_log) {
  cx_audit_entry q[3];
  for (int i = 0; i < 3; i++) q[i] = entry("a", "entity", "c", "");
  cr_assert_eq(cx_store_audit_append(st, q, 3), 0);
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0);
}
