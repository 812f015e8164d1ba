/* test_import_speed.c — the fast paths of `chengxin import` (issue 20: the writer thread, load
 * mode, 100000-row batches) write the same store as the path of before (one thread, a durable
 * commit per batch): the same content digest (verify --digest, every batch run at one clock,
 * CHENGXIN_TEST_CLOCK_MS) and the same rows reported by line, into a new store and onto a
 * populated one, with bad rows refused as they are read and a moved record refused at commit
 * (by the writer thread). */
#include "importtest.h"

TestSuite(import_speed, .init = cli_setup, .fini = cli_teardown, .timeout = 300);

#define OLD_PATH "--threads 1 --sync-every 0"

/* Imports file into db with args; exit 1 expected (the bad rows); returns the rejects. */
static char *import(const char *db, const char *args, const char *file) {
  int rc = cx("import --db %s %s %s", db, args, file);
  char *err = slurp("err");
  cr_assert_eq(rc, 1, "import %s %s: exit %d\n%s", args, file, rc, err);
  cr_assert(strstr(err, " 0 not written"), "%s", err);
  free(err);
  return rejects();
}

/* moved: row 1 and its move are in different batches (else the batch keeps the later put) */
static void same_store(const char *args_new, const char *args_old, int moved) {
  setenv("CHENGXIN_TEST_CLOCK_MS", "1740787200000", 1); /* 2025-03-01 00:00 UTC */
  make_csv("a.csv", 11, 3000, 0);
  make_csv("b.csv", 12, 3000, 0);
  cr_assert_eq(cx("init --db old"), 0);
  cr_assert_eq(cx("init --db new"), 0);
  char *r_old = import("old", args_old, "a.csv"), *r_new = import("new", args_new, "a.csv");
  cr_assert_str_eq(r_new, r_old, "the same rows refused by line");
  cr_assert(strstr(r_new, "a.csv:701: ") && strstr(r_new, "decision_date"), "%s", r_new);
  if (moved) cr_assert(strstr(r_new, "a.csv:1402: ") && strstr(r_new, "another entity"), "%s", r_new);
  cr_assert(strstr(r_new, "a.csv:2103: ") && strstr(r_new, "entity_code"), "%s", r_new);
  char d_old[65], d_new[65];
  digest("old", d_old);
  digest("new", d_new);
  cr_assert_str_eq(d_new, d_old, "a new store: the same content");
  free(r_old);
  free(r_new);
  /* onto the populated store: b's records are new ones, except its own bad rows */
  r_old = import("old", args_old, "b.csv");
  r_new = import("new", args_new, "b.csv");
  cr_assert_str_eq(r_new, r_old, "the same rows refused by line");
  digest("old", d_old);
  digest("new", d_new);
  cr_assert_str_eq(d_new, d_old, "a populated store: the same content");
  /* and again: every row a replacement, unchanged */
  free(r_old);
  free(r_new);
  r_old = import("old", args_old, "a.csv");
  r_new = import("new", args_new, "a.csv");
  cr_assert_str_eq(r_new, r_old);
  digest("old", d_old);
  digest("new", d_new);
  cr_assert_str_eq(d_new, d_old, "a re-import: the same content");
  free(r_old);
  free(r_new);
  unsetenv("CHENGXIN_TEST_CLOCK_MS");
}

Test(import_speed, the_writer_thread_and_load_mode_write_what_one_thread_writes) {
  /* batches of 500: six commits per file, all but the last through the writer thread */
  same_store("--batch 500", OLD_PATH " --batch 500", 1);
}

Test(import_speed, load_commits_every_n_rows_write_the_same_store) {
  same_store("--batch 400 --sync-every 1000", OLD_PATH " --batch 400", 1);
}

Test(import_speed, the_default_batch_writes_what_batches_of_100000_wrote) {
  same_store("", OLD_PATH " --batch 100000", 0);
}

Test(import_speed, an_allocation_failing_in_any_batch_stops_the_import_with_its_rows_not_written) {
  make_csv("a.csv", 13, 3000, 0);
  cr_assert_eq(cx("init --db st"), 0);
  cr_assert_eq(cx("import --db st --batch 500 a.csv"), 1, "%s", slurp("err"));
  char *err = slurp("err");
  unsigned long long all[6];
  summary(err, all);
  free(err);
  /* The Nth allocation fails, in whichever thread makes it: reading, a batch's commit on the
   * writer, or the load commit. Each run stops with exit 7, every row read is either written,
   * rejected by its content or counted as not written, and the store verifies. */
  int failed = 0, completed = 0;
  for (long n = 20; n < 400000; n = n * 5 / 4 + 1) {
    cx_test_sh("rm -rf '%s/st2'", g_dir);
    cr_assert_eq(cx("init --db st2"), 0);
    int rc = cx_test_sh("cd '%s' && CHENGXIN_TEST_FAIL_ALLOC=%ld '%s' import --db st2 --batch 500 a.csv > out 2> err",
                        g_dir, n, g_bin);
    err = slurp("err");
    if (!strstr(err, "rows read")) { /* it failed before reading a row (opening the store) */
      cr_assert_eq(rc, 1, "allocation %ld: exit %d\n%s", n, rc, err);
      free(err);
      continue;
    }
    unsigned long long v[6];
    summary(err, v);
    if (rc == 1 && v[5] == 0) { /* past the import's last allocation: it completed */
      cr_assert_eq(v[1], all[1], "%s", err);
      free(err);
      completed = 1;
      break;
    }
    cr_assert_eq(rc, 7, "allocation %ld: exit %d\n%s", n, rc, err);
    failed++;
    cr_assert_eq(v[1] + v[2] + v[3] + v[4] + v[5], v[0], "allocation %ld: every row read is counted once\n%s", n, err);
    cr_assert(v[1] <= all[1], "allocation %ld\n%s", n, err);
    free(err);
    cr_assert_eq(cx("verify --db st2"), 0, "allocation %ld: %s", n, slurp("err"));
  }
  cr_log_info("%d imports stopped by a failed allocation", failed);
  cr_assert_gt(failed, 5, "failures were reached, in several batches");
  cr_assert(completed, "the last runs were past the import's allocations");
}
