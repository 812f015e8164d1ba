/* test_logseq.c — the replicated log's position (store/logseq.c, cx_batch_set_log_seq) and
 * the batch clock (cx_batch_set_clock): what makes a replicated apply exactly once and the
 * same on every node (docs/scaling.md). */
#include "fixture.h"

static char dir[256];
static cx_store *st;
static char code[CX_CODE_LEN + 1], auth[CX_CODE_LEN + 1];

static void setup(void) {
  cx_test_tmpdir(dir, sizeof dir);
  cx_day_set_today(fx_day(2025, 3, 1));
  st = fx_open(dir, 0);
  fx_uscc(4242, code);
  fx_auth(7, auth);
}
static void teardown(void) {
  if (st) cx_store_close(st);
  st = NULL;
  cx_day_set_today(0);
  cx_test_rmrf(dir);
}
TestSuite(logseq, .init = setup, .fini = teardown);

static int put_one(const char *rid, uint64_t seq) {
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  if (seq) cr_assert_eq(cx_batch_set_log_seq(b, seq), 0);
  cx_record r;
  fx_record(&r, code, "某某公司", auth, rid, fx_day(2024, 5, 6));
  fx_put(b, &r);
  cx_batch_result res;
  return cx_batch_commit(b, &res);
}

static uint64_t records(void) {
  cx_store_info in;
  cr_assert_eq(cx_store_info_get(st, &in), 0);
  return in.records;
}

Test(logseq, a_store_that_never_followed_a_log_is_at_zero) {
  uint64_t s = 99;
  cr_assert_eq(cx_store_log_seq(st, &s), 0);
  cr_assert_eq(s, 0);
}

Test(logseq, the_position_lands_with_its_batch_and_a_message_applies_once) {
  cr_assert_eq(put_one("R-1", 1), 0);
  uint64_t s = 0;
  cr_assert_eq(cx_store_log_seq(st, &s), 0);
  cr_assert_eq(s, 1);
  cr_assert_eq(records(), 1);
  /* the same sequence again (a replay after a crash that did commit): nothing is written */
  cr_assert_eq(put_one("R-2", 1), CX_EEXIST);
  cr_assert_eq(records(), 1);
  cr_assert_eq(put_one("R-2", 2), 0);
  cr_assert_eq(records(), 2);
  cx_store_info in;
  cr_assert_eq(cx_store_info_get(st, &in), 0);
  cr_assert_eq(in.log_seq, 2);
}

Test(logseq, a_failed_commit_leaves_the_position_where_it_was) {
  cr_assert_eq(put_one("R-1", 1), 0);
  cx_store_debug_fail_after(st, 1);
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  cr_assert_eq(cx_batch_set_log_seq(b, 2), 0);
  cx_record r1, r2;
  fx_record(&r1, code, "某某公司", auth, "R-2", fx_day(2024, 5, 6));
  fx_record(&r2, code, "某某公司", auth, "R-3", fx_day(2024, 5, 7));
  fx_put(b, &r1);
  fx_put(b, &r2);
  cx_batch_result res;
  cr_assert_eq(cx_batch_commit(b, &res), CX_EIO);
  uint64_t s = 0;
  cr_assert_eq(cx_store_log_seq(st, &s), 0);
  cr_assert_eq(s, 1);
  cr_assert_eq(records(), 1);
}

Test(logseq, a_refused_message_moves_the_position_alone) {
  cr_assert_eq(cx_store_set_log_seq(st, 0), CX_EBADREQ);
  cr_assert_eq(cx_store_set_log_seq(st, 3), 0);
  cr_assert_eq(cx_store_set_log_seq(st, 3), CX_EEXIST);
  cr_assert_eq(put_one("R-1", 2), CX_EEXIST);
  cr_assert_eq(put_one("R-1", 4), 0);
  uint64_t s = 0;
  cr_assert_eq(cx_store_log_seq(st, &s), 0);
  cr_assert_eq(s, 4);
}

static int audit_time(void *ctx, const cx_audit_entry *e) {
  *(int64_t *)ctx = e->time_ms;
  return 0;
}

Test(logseq, a_stamped_clock_decides_the_receipt_day_last_update_and_audit_time) {
  cx_day day = fx_day(2024, 12, 30);
  int64_t ms = 1735500000123;
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  cr_assert_eq(cx_batch_set_clock(b, day, ms), 0);
  cx_audit_entry e;
  memset(&e, 0, sizeof e);
  e.who = CX_STR("writer");
  e.op = CX_STR("ingest");
  cr_assert_eq(cx_batch_audit(b, &e), 0);
  cr_assert_eq(cx_batch_set_clock(b, day, ms), CX_EBADREQ); /* only before anything is buffered */
  cx_record r;
  fx_record(&r, code, "某某公司", auth, "R-1", fx_day(2024, 5, 6)); /* no report date */
  fx_put(b, &r);
  cx_batch_result res;
  cr_assert_eq(cx_batch_commit(b, &res), 0, "%s", res.error);
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cx_record got;
  cx_reckey k;
  cr_assert_eq(cx_store_record_get(t, cx_str_c(auth), CX_STR("R-1"), &k, &got), 0);
  cr_assert_eq(got.report_date, day); /* not today (2025-03-01) */
  cr_assert_eq(got.report_received, 1);
  cx_summary s;
  cr_assert_eq(cx_store_summary_get(t, code, &s), 0);
  cr_assert_eq(s.last_update, day);
  int64_t at = 0;
  cr_assert_eq(cx_store_audit_each(t, 0, 0, 0, audit_time, &at), 0);
  cr_assert_eq(at, ms);
  cx_store_txn_end(t);
}

/* A store that follows a log is written by the log only: a batch without a sequence (a CLI
 * import into a node's files, a server started without --log) and a data file are refused,
 * nothing written, so the node cannot drift from the others. */
Test(logseq, a_following_store_refuses_writes_that_bypass_the_log) {
  cr_assert_eq(put_one("R-0", 0), 0, "before any message: a store like any other");
  cr_assert_eq(put_one("R-1", 1), 0);
  cr_assert_eq(records(), 2);
  cr_assert_eq(put_one("R-2", 0), CX_EFORBIDDEN);
  cr_assert(strstr(cx_store_errmsg(st), "replicated log"), "%s", cx_store_errmsg(st));
  cr_assert_eq(records(), 2);
  int bad = 0;
  cr_assert_eq(cx_store_data_put(st, "scorecard", cx_data_scorecard, cx_data_scorecard_len, &bad), CX_EFORBIDDEN);
  cr_assert(strstr(cx_store_errmsg(st), "replicated log"), "%s", cx_store_errmsg(st));
  cr_assert_eq(put_one("R-2", 2), 0, "the log itself still writes");
  cr_assert_eq(records(), 3);
}

/* A data file as message n of the log (cx_store_data_put_at): the file, its audit line on the
 * stamped time and the position land in one txn, once. */
Test(logseq, a_data_file_from_the_log_lands_with_its_position_once) {
  cr_assert_eq(put_one("R-1", 1), 0);
  cx_audit_entry e;
  memset(&e, 0, sizeof e);
  e.who = CX_STR("ops");
  e.op = CX_STR("load-scorecard");
  int64_t ms = 1735500000456;
  int bad = 0;
  cr_assert_eq(cx_store_data_put_at(st, "scorecard", cx_data_scorecard, cx_data_scorecard_len, &bad, &e,
                                    fx_day(2024, 12, 30), ms, 2), 0, "%s", cx_store_errmsg(st));
  uint64_t s = 0;
  cr_assert_eq(cx_store_log_seq(st, &s), 0);
  cr_assert_eq(s, 2);
  cr_assert_eq(cx_store_data_put_at(st, "scorecard", cx_data_scorecard, cx_data_scorecard_len, &bad, &e,
                                    fx_day(2024, 12, 30), ms, 2), CX_EEXIST, "applied already");
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  int64_t at = 0;
  cr_assert_eq(cx_store_audit_each(t, 0, 0, 0, audit_time, &at), 0);
  cr_assert_eq(at, ms, "the last audit line is the load's, on the stamped time");
  cx_store_txn_end(t);
  /* a bad file is refused and leaves the position (the applier moves it alone) */
  cr_assert_eq(cx_store_data_put_at(st, "calendar", "x\ty\n", 4, &bad, NULL, fx_day(2024, 12, 30), ms, 3),
               CX_EBADREQ);
  cr_assert_eq(cx_store_log_seq(st, &s), 0);
  cr_assert_eq(s, 2);
}

/* A store marked as following a stream is protected from the start: at position 0 it refuses
 * what bypasses the log, and it follows that stream only. */
Test(logseq, a_store_marked_as_following_a_stream_refuses_local_writes_at_position_zero) {
  char name[80] = "x";
  cr_assert_eq(cx_store_log_stream(st, name, sizeof name), 0);
  cr_assert_str_eq(name, "", "unmarked");
  cr_assert_eq(cx_store_set_log_stream(st, ""), CX_EBADREQ);
  cr_assert_eq(cx_store_set_log_stream(st, "CX"), 0);
  cr_assert_eq(cx_store_set_log_stream(st, "CX"), 0, "the same stream again");
  cr_assert_eq(cx_store_set_log_stream(st, "OTHER"), CX_EEXIST);
  cr_assert(strstr(cx_store_errmsg(st), "follows stream CX"), "%s", cx_store_errmsg(st));
  cr_assert_eq(cx_store_log_stream(st, name, sizeof name), 0);
  cr_assert_str_eq(name, "CX");
  uint64_t s = 9;
  cr_assert_eq(cx_store_log_seq(st, &s), 0);
  cr_assert_eq(s, 0);
  cr_assert_eq(put_one("R-0", 0), CX_EFORBIDDEN, "position 0, marked: refused");
  int bad = 0;
  cr_assert_eq(cx_store_data_put(st, "scorecard", cx_data_scorecard, cx_data_scorecard_len, &bad), CX_EFORBIDDEN);
  cr_assert_eq(cx_store_check_feedback(st, 1, CX_OUT_RESTRICTED, CX_STR("a"), 1, CX_STR(""), 0, NULL, NULL),
               CX_EFORBIDDEN);
  cr_assert_eq(records(), 0);
  cr_assert_eq(put_one("R-1", 1), 0, "the log writes");
  cr_assert_eq(records(), 1);
}
