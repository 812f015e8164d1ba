/* `chengxin import` with allocation N failing (CHENGXIN_TEST_FAIL_ALLOC=N), for every N until
 * it succeeds: each run exits 7 saying "not written", or 1 when it could not even open the
 * store (never a crash, never a row counted as
 * rejected for the system's fault; in the ASan build a leak would exit 23), the store stays
 * as it was (the batch is all or nothing) and verifies clean. */
#include "clitest.h"

TestSuite(oom_import, .init = cli_setup, .fini = cli_teardown, .timeout = 300);

Test(oom_import, an_import_fails_cleanly_at_every_allocation_and_lands_once_it_can) {
  char a[19], auth[19];
  uscc("91350100MA0000001", a);
  uscc("11350100003000001", auth);
  char csv[8192];
  size_t o = (size_t)snprintf(csv, sizeof csv,
                              "entity_code,entity_name,record_id,authority_code,category,list_type,decision_date,"
                              "amount_yuan,content\n");
  for (int i = 0; i < 20; i++)
    o += (size_t)snprintf(csv + o, sizeof csv - o, "%s,福州内存导入有限公司,OOM-%d,%s,%s,%s,2024-0%d-1%d,%d,警告\n", a,
                          i, auth, i % 4 ? "penalty" : "blacklist", i % 4 ? "" : "court_dishonest", 1 + i % 9,
                          i % 10, i * 100);
  spit("f.csv", csv);
  cr_assert_eq(cx("init --db st"), 0);
  long n;
  int rc = -1;
  for (n = 1; n < 5000; n++) {
    rc = cx_test_sh("cd '%s' && CHENGXIN_TEST_FAIL_ALLOC=%ld '%s' import --db st f.csv > out 2> err", g_dir, n, g_bin);
    if (rc == 0) break;
    char *err = slurp("err");
    /* 7: rows were read and not written; 1: it failed before reading any (opening the store) */
    cr_assert(rc == 7 || rc == 1, "allocation %ld: exit %d (want 7, or 1 before any row):\n%s", n, rc, err);
    if (rc == 7)
      cr_assert(strstr(err, "not written") && strstr(err, "0 rejected"), "allocation %ld:\n%s", n, err);
    else
      cr_assert(strstr(err, "out of memory") && !strstr(err, "rows read"), "allocation %ld:\n%s", n, err);
    free(err);
    cr_assert_eq(cx("status --db st %s --format json", a), 1, "allocation %ld: the failed import wrote", n);
    cr_assert_eq(cx("verify --db st"), 0, "allocation %ld: %s", n, slurp("err"));
  }
  cr_assert_eq(rc, 0, "the import never succeeded");
  cr_log_info("import: succeeded once allocation %ld was not failed", n);
  cr_assert_gt(n, 5, "the failures were reached");
  cr_assert_eq(cx("records --db st %s --format json --limit 100", a), 0);
  json_t *j = out_json();
  cr_assert_eq(json_array_size(j), 20);
  json_decref(j);
  cr_assert_eq(cx("verify --db st"), 0);
}
