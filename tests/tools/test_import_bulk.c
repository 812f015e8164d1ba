/* test_import_bulk.c — the bulk load of `chengxin import` (store/bulk.c, issue 20 goal 1):
 * into a new store it writes what the row path writes (the same `verify --digest`, every batch
 * at one clock, CHENGXIN_TEST_CLOCK_MS), with the same rows refused by line: bad rows, a
 * record that would move to another entity, corrections and re-sent rows in the same file
 * (in a later batch and in the same batch), a revoke in the feed, a renamed entity, two files
 * in one import; onto a populated store with --builder bulk too. A batch that fails or a crash
 * (SIGKILL) in the middle of the load leaves the store as it was: empty, verifying. */
#include <sys/stat.h>
#include <sys/wait.h>

#include "importtest.h"

TestSuite(import_bulk, .init = cli_setup, .fini = cli_teardown, .timeout = 300);

#define CLOCK "1740787200000" /* 2025-03-01 00:00 UTC */

/* The CSVs: make_csv (importtest.h) with its later changes. */

/* Imports files into db with args (exit 1: the bad rows); returns the rejects, *v the counts. */
static char *import(const char *db, const char *args, const char *files, unsigned long long v[6]) {
  int rc = cx("import --db %s %s %s", db, args, files);
  char *err = slurp("err");
  cr_assert_eq(rc, 1, "import %s %s: exit %d\n%s", args, files, rc, err);
  summary(err, v);
  cr_assert_eq(v[5], 0, "%s", err);
  free(err);
  return rejects();
}

/* An integer of `chengxin info --format json` of db. */
static long long info_int(const char *db, const char *key) {
  cr_assert_eq(cx("info --db %s --format json", db), 0, "%s", slurp("err"));
  char *out = slurp("out");
  json_error_t je;
  json_t *j = json_loads(out, 0, &je);
  cr_assert(j, "%s", out);
  json_t *r = json_object_get(j, key);
  cr_assert(json_is_integer(r), "%s: %s", key, out);
  long long n = json_integer_value(r);
  json_decref(j);
  free(out);
  return n;
}

/* The records of a store. */
static long long records_of(const char *db) { return info_int(db, "records"); }

/* A bulk load leaves data.mdb at its used pages (`info`'s map_used), not at the sparse map it
 * wrote through; the store then takes more writes like any. */
static void file_is_its_pages(const char *db) {
  long long used = info_int(db, "map_used");
  char path[600];
  snprintf(path, sizeof path, "%s/%s/data.mdb", g_dir, db);
  struct stat fs;
  cr_assert_eq(stat(path, &fs), 0);
  cr_assert_eq((long long)fs.st_size, used, "%s: a file of %lld bytes, %lld used", db, (long long)fs.st_size, used);
}

static void same_store(const char *batch, int batched) {
  setenv("CHENGXIN_TEST_CLOCK_MS", CLOCK, 1);
  make_csv("a.csv", 21, 3000, 1);
  make_csv("b.csv", 22, 3000, 1);
  cr_assert_eq(cx("init --db row"), 0);
  cr_assert_eq(cx("init --db blk"), 0);
  char args_row[128], args_blk[128];
  snprintf(args_row, sizeof args_row, "--builder row %s", batch);
  snprintf(args_blk, sizeof args_blk, "%s", batch); /* auto: a new store takes the bulk load */
  unsigned long long vr[6], vb[6];
  char *r_row = import("row", args_row, "a.csv", vr), *r_blk = import("blk", args_blk, "a.csv", vb);
  cr_assert_str_eq(r_blk, r_row, "the same rows refused by line");
  cr_assert(strstr(r_blk, "a.csv:701: ") && strstr(r_blk, "decision_date"), "%s", r_blk);
  cr_assert(strstr(r_blk, "a.csv:2103: ") && strstr(r_blk, "entity_code"), "%s", r_blk);
  for (int i = 0; i < 6; i++) cr_assert_eq(vb[i], vr[i], "count %d: %llu against %llu", i, vb[i], vr[i]);
  cr_assert_eq(vb[4], strstr(r_blk, "another entity") ? 3 : 2, "%s", r_blk);
  if (batched) cr_assert_gt(vb[2], 0, "corrections in later batches replaced records");
  char d_row[65], d_blk[65];
  digest("row", d_row);
  digest("blk", d_blk);
  cr_assert_str_eq(d_blk, d_row, "a new store: the same content");
  free(r_row);
  free(r_blk);
  file_is_its_pages("blk");
  /* onto the populated store: the bulk load asked for, against the row path */
  r_row = import("row", args_row, "b.csv", vr);
  snprintf(args_blk, sizeof args_blk, "--builder bulk %s", batch);
  r_blk = import("blk", args_blk, "b.csv", vb);
  cr_assert_str_eq(r_blk, r_row);
  digest("row", d_row);
  digest("blk", d_blk);
  cr_assert_str_eq(d_blk, d_row, "onto a populated store: the same content");
  file_is_its_pages("blk");
  free(r_row);
  free(r_blk);
  /* two files in one import into a new store: one load per file */
  cr_assert_eq(cx("init --db row2"), 0);
  cr_assert_eq(cx("init --db blk2"), 0);
  snprintf(args_blk, sizeof args_blk, "%s", batch);
  r_row = import("row2", args_row, "b.csv a.csv", vr);
  r_blk = import("blk2", args_blk, "b.csv a.csv", vb);
  cr_assert_str_eq(r_blk, r_row);
  digest("row2", d_row);
  digest("blk2", d_blk);
  cr_assert_str_eq(d_blk, d_row, "two files: the same content");
  free(r_row);
  free(r_blk);
  unsetenv("CHENGXIN_TEST_CLOCK_MS");
}

Test(import_bulk, a_bulk_load_in_batches_of_500_writes_what_the_row_path_writes) { same_store("--batch 500", 1); }

Test(import_bulk, a_bulk_load_in_one_batch_writes_what_the_row_path_writes) { same_store("", 0); }

Test(import_bulk, a_bulk_load_on_one_thread_writes_what_the_row_path_writes) { same_store("--batch 700 --threads 1", 1); }

Test(import_bulk, a_crash_in_the_middle_of_a_bulk_load_leaves_the_store_empty) {
  setenv("CHENGXIN_TEST_CLOCK_MS", CLOCK, 1);
  make_csv("a.csv", 23, 3000, 1);
  cr_assert_eq(cx("init --db ref"), 0);
  unsigned long long v[6];
  free(import("ref", "--builder row --batch 500", "a.csv", v));
  char d_ref[65];
  digest("ref", d_ref);
  /* 3001 good rows and 2 refused as read: 7 batches of 500 or fewer */
  for (int k = 1; k <= 7; k += 3) {
    cx_test_sh("rm -rf '%s/st'", g_dir);
    cr_assert_eq(cx("init --db st"), 0);
    int rc = cx_test_sh("cd '%s' && CHENGXIN_TEST_KILL_AFTER=%d '%s' import --db st --batch 500 a.csv > out 2> err",
                        g_dir, k, g_bin);
    cr_assert(rc != 0 && rc != 1, "killed after batch %d: exit %d\n%s", k, rc, slurp("err"));
    cr_assert_eq(cx("verify --db st"), 0, "after a kill at batch %d: %s", k, slurp("err"));
    if (k == 7) { /* the last batch and the load commit are one step: the whole load is there */
      char d[65];
      digest("st", d);
      cr_assert_str_eq(d, d_ref, "killed after the load commit");
      continue;
    }
    cr_assert_eq(records_of("st"), 0, "nothing of the load was written (killed after batch %d)", k);
    /* and the store takes the import again, whole */
    free(import("st", "--batch 500", "a.csv", v));
    char d[65];
    digest("st", d);
    cr_assert_str_eq(d, d_ref, "after a kill at batch %d and a new import", k);
  }
  unsetenv("CHENGXIN_TEST_CLOCK_MS");
}

Test(import_bulk, an_allocation_failing_in_a_bulk_load_writes_nothing_and_says_so) {
  make_csv("a.csv", 24, 3000, 1);
  int failed = 0, completed = 0;
  for (long n = 20; n < 400000; n = n * 3 / 2 + 1) {
    cx_test_sh("rm -rf '%s/st'", g_dir);
    cr_assert_eq(cx("init --db st"), 0);
    int rc = cx_test_sh("cd '%s' && CHENGXIN_TEST_FAIL_ALLOC=%ld '%s' import --db st --batch 500 a.csv > out 2> err",
                        g_dir, n, g_bin);
    char *err = slurp("err");
    if (!strstr(err, "rows read")) { /* it failed before reading a row (opening the store) */
      cr_assert_eq(rc, 1, "allocation %ld: exit %d\n%s", n, rc, err);
      free(err);
      continue;
    }
    unsigned long long v[6];
    summary(err, v);
    if (rc == 1 && v[5] == 0) { /* past the import's last allocation: it completed */
      cr_assert_gt(v[1], 2900, "%s", err);
      free(err);
      completed = 1;
      break;
    }
    cr_assert_eq(rc, 7, "allocation %ld: exit %d\n%s", n, rc, err);
    cr_assert_eq(v[1] + v[2] + v[3], 0, "allocation %ld: nothing written\n%s", n, err);
    cr_assert_eq(v[4] + v[5], v[0], "allocation %ld: every row read is rejected or not written\n%s", n, err);
    free(err);
    cr_assert_eq(cx("verify --db st"), 0, "allocation %ld: %s", n, slurp("err"));
    cr_assert_eq(records_of("st"), 0, "allocation %ld", n);
    failed++;
  }
  cr_assert_gt(failed, 5, "failures were reached, in several batches and the load commit");
  cr_assert(completed, "the last runs were past the import's allocations");
}

Test(import_bulk, builder_options_are_checked) {
  cr_assert_eq(cx("init --db st"), 0);
  spit("x.csv", "entity_code\n");
  cr_assert_eq(cx("import --db st --builder fast x.csv"), 2, "%s", slurp("err"));
  cr_assert(strstr(slurp("err"), "--builder"));
  cr_assert_eq(cx("import --db st --builder bulk --sync-every 1000 x.csv"), 2, "%s", slurp("err"));
}
