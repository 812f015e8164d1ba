/* test_audit.c — `chengxin audit`: local writes are audited with local:<user>; filters and
 * formats of the reader. */
#include <pwd.h>
#include <unistd.h>

#include "clitest.h"

TestSuite(audit, .init = cli_setup, .fini = cli_teardown, .timeout = 120);

static char A[19], AUTH[19];

static void fixture(void) {
  uscc("91350100MA0000001", A);
  uscc("11350100003000001", AUTH);
  char csv[1024];
  snprintf(csv, sizeof csv,
           "entity_code,entity_name,record_id,authority_code,authority_name,category,list_type,decision_date\n"
           "%s,福州甲科技有限公司,(2024)闽01执1号,%s,福州市中级人民法院,blacklist,court_dishonest,2024-01-10\n"
           "%s,福州甲科技有限公司,罚〔2024〕2号,%s,福州市市场监督管理局,penalty,,2024-02-01\n",
           A, AUTH, A, AUTH);
  spit("f.csv", csv);
  cr_assert_eq(cx("init --db st"), 0);
  cr_assert_eq(cx("import --db st f.csv"), 0, "%s", slurp("err"));
  cr_assert_eq(cx("repair --db st --authority %s --record-id '(2024)闽01执1号' --reason 已履行", AUTH), 0,
               "%s", slurp("err"));
  spit("cal.txt", "2025-01-01 holiday 元旦\n");
  cr_assert_eq(cx("load-calendar --db st cal.txt"), 0, "%s", slurp("err"));
}

static const char *me(void) {
  static char who[96];
  struct passwd *pw = getpwuid(geteuid());
  snprintf(who, sizeof who, "local:%s", pw ? pw->pw_name : "");
  return who;
}

Test(audit, local_writes_are_in_the_log_in_order) {
  fixture();
  cr_assert_eq(cx("audit --db st --format json"), 0, "%s", slurp("err"));
  json_t *j = out_json();
  cr_assert(json_is_array(j));
  cr_assert_eq(json_array_size(j), 3, "%s", slurp("out"));
  static const char *const ops[] = {"import", "repair", "load-calendar"};
  for (size_t i = 0; i < 3; i++) {
    json_t *e = json_array_get(j, i);
    cr_assert_eq(json_integer_value(json_object_get(e, "seq")), (json_int_t)i + 1);
    cr_assert_str_eq(json_string_value(json_object_get(e, "op")), ops[i]);
    cr_assert_str_eq(json_string_value(json_object_get(e, "who")), me());
    cr_assert_str_eq(json_string_value(json_object_get(e, "role")), "local");
  }
  cr_assert_str_eq(json_string_value(json_object_get(json_array_get(j, 0), "detail")), "records=2");
  cr_assert_str_eq(json_string_value(json_object_get(json_array_get(j, 0), "target")), "f.csv");
  char tgt[64];
  snprintf(tgt, sizeof tgt, "%s/(2024)闽01执1号", AUTH);
  cr_assert_str_eq(json_string_value(json_object_get(json_array_get(j, 1), "target")), tgt);
  cr_assert_str_eq(json_string_value(json_object_get(json_array_get(j, 1), "detail")), "active -> repaired: 已履行");
  const char *t = json_string_value(json_object_get(json_array_get(j, 0), "time"));
  cr_assert(t && strlen(t) == 24 && t[10] == 'T' && t[23] == 'Z', "time %s", t ? t : "(null)");
  json_decref(j);
  cr_assert_eq(cx("verify --db st"), 0, "%s", slurp("out"));
}

Test(audit, filters_select_entries) {
  fixture();
  cr_assert_eq(cx("audit --db st --op repair --format csv"), 0);
  char *out = slurp("out");
  cr_assert(strstr(out, "seq,time,who,role,op,target,detail,client\n") == out, "%s", out);
  cr_assert(strstr(out, ",repair,") && !strstr(out, ",import,"), "%s", out);
  free(out);
  cr_assert_eq(cx("audit --db st --from-seq 2 --limit 1 --format jsonl"), 0);
  cr_assert(out_has("out", "\"seq\":2") && !out_has("out", "\"seq\":3"), "%s", slurp("out"));
  cr_assert_eq(cx("audit --db st --who nobody --format jsonl"), 0);
  cr_assert_eq(strlen(slurp("out")), 0);
  /* everything was written today (UTC): a range ending yesterday is empty, one with today not */
  cr_assert_eq(cx("audit --db st --until 2020-01-01 --format jsonl"), 0);
  cr_assert_eq(strlen(slurp("out")), 0, "%s", slurp("out"));
  cr_assert_eq(cx("audit --db st --since 2020-01-01 --format jsonl"), 0);
  cr_assert(out_has("out", "\"seq\":3"));
  cr_assert_eq(cx("audit --db st --since 2020-13-01"), 2);
  cr_assert_eq(cx("audit --db st --since 2021-01-02 --until 2021-01-01"), 2);
  cr_assert_eq(cx("audit --db st --limit 0"), 2);
  cr_assert_eq(cx("audit"), 2);
}

Test(audit, table_format_and_an_empty_log) {
  cr_assert_eq(cx("init --db empty"), 0);
  cr_assert_eq(cx("audit --db empty"), 0, "%s", slurp("err"));
  cr_assert(out_has("out", "seq") && out_has("out", "who"), "%s", slurp("out"));
  fixture();
  cr_assert_eq(cx("audit --db st"), 0);
  cr_assert(out_has("out", "load-calendar") && out_has("out", "已履行"), "%s", slurp("out"));
}

Test(audit, failed_writes_leave_no_entry) {
  fixture();
  cr_assert_eq(cx("repair --db st --authority %s --record-id no-such --reason x", AUTH), 1);
  spit("bad.txt", "nonsense\n");
  cr_assert_eq(cx("load-calendar --db st bad.txt"), 1);
  cr_assert_eq(cx("audit --db st --format jsonl"), 0);
  char *out = slurp("out");
  int lines = 0;
  for (char *p = out; *p; p++) lines += *p == '\n';
  free(out);
  cr_assert_eq(lines, 3);
}
