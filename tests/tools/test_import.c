/* `chengxin import`: bad rows reported by line and skipped, good rows land, re-import is a
 * no-op, JSON Lines, the 双公示 mapping with amounts in 万元. */
#include "clitest.h"

TestSuite(import, .init = cli_setup, .fini = cli_teardown, .timeout = 120);

static char A[19], B[19], AUTH[19];

static void codes(void) {
  uscc("91350100MA0000001", A);
  uscc("91350102MA0000002", B);
  uscc("11350100003000001", AUTH);
}

static void write_csv(void) {
  codes();
  char bad[19];
  memcpy(bad, A, 19);
  bad[17] = bad[17] == '0' ? '1' : '0';
  char csv[4096];
  snprintf(csv, sizeof csv,
           "entity_code,entity_name,record_id,authority_code,authority_name,category,decision_date,amount_fen,content\n"
           "%s,福州甲科技有限公司,榕市监罚〔2024〕1号,%s,福州市市场监督管理局,penalty,2024-03-05,500000,罚款\n"
           "%s,福州坏码有限公司,榕市监罚〔2024〕2号,%s,福州市市场监督管理局,penalty,2024-03-05,1,x\n"
           "%s,福州甲科技有限公司,榕市监罚〔2024〕3号,%s,福州市市场监督管理局,penalty,2024-02-30,1,x\n"
           "%s,福州甲科技有限公司,榕市监罚〔2024〕4号,%s,福州市市场监督管理局,penalty,2024-04-01,200000,\"两行\n的内容, 带逗号\"\n"
           "%s,福州甲科技有限公司,榕市监罚〔2024〕5号,%s,福州市市场监督管理局,fine,2024-04-01,1,x\n"
           "%s,福州乙贸易有限公司,榕市监许〔2024〕6号,%s,福州市市场监督管理局,license,2024-05-06,,准予许可\n",
           A, AUTH, bad, AUTH, A, AUTH, A, AUTH, A, AUTH, B, AUTH);
  spit("t.csv", csv);
}

Test(import, bad_rows_are_reported_by_line_and_good_rows_land) {
  write_csv();
  cr_assert_eq(cx("init --db st"), 0);
  cr_assert_eq(cx("import --db st t.csv"), 1, "exit status must be 1 when rows were rejected");
  char *err = slurp("err");
  cr_assert(strstr(err, "t.csv:3: "), "line 3 (bad check character) not reported:\n%s", err);
  cr_assert(strstr(err, "t.csv:4: "), "line 4 (bad date) not reported:\n%s", err);
  cr_assert(strstr(err, "t.csv:7: "), "line 7 (unknown category) not reported:\n%s", err);
  cr_assert(!strstr(err, "t.csv:2:") && !strstr(err, "t.csv:5:") && !strstr(err, "t.csv:6:") &&
                !strstr(err, "t.csv:8:"),
            "a good row was reported:\n%s", err);
  cr_assert(strstr(err, "6 rows read, 3 inserted, 0 replaced, 0 unchanged, 3 rejected"), "summary:\n%s", err);
  free(err);
  cr_assert_eq(cx("records --db st %s --format json", A), 0);
  json_t *j = out_json();
  cr_assert_eq(json_array_size(j), 2);
  /* newest first: the multi-line row */
  cr_assert_str_eq(json_string_value(json_object_get(json_array_get(j, 0), "record_id")), "榕市监罚〔2024〕4号");
  cr_assert_eq(json_integer_value(json_object_get(json_array_get(j, 1), "amount_fen")), 500000);
  json_decref(j);
  cr_assert_eq(cx("status --db st %s --format json", B), 0);
  j = out_json();
  cr_assert_str_eq(json_string_value(json_object_get(j, "name")), "福州乙贸易有限公司");
  json_decref(j);
}

Test(import, reimport_changes_nothing) {
  write_csv();
  cr_assert_eq(cx("init --db st"), 0);
  cr_assert_eq(cx("import --db st t.csv"), 1);
  cr_assert_eq(cx("info --db st --format json"), 0);
  json_t *a = out_json();
  cr_assert_eq(cx("import --db st t.csv"), 1);
  cr_assert(out_has("err", "0 inserted, 0 replaced, 3 unchanged, 3 rejected"));
  cr_assert_eq(cx("info --db st --format json"), 0);
  json_t *b = out_json();
  cr_assert_eq(json_integer_value(json_object_get(a, "records")), 3);
  cr_assert_eq(json_integer_value(json_object_get(b, "records")), 3);
  cr_assert_eq(json_integer_value(json_object_get(a, "entities")), json_integer_value(json_object_get(b, "entities")));
  cr_assert_eq(cx("verify --db st"), 0);
  json_decref(a);
  json_decref(b);
}

Test(import, jsonl_rows_with_types_and_bad_lines) {
  codes();
  char txt[4096];
  snprintf(txt, sizeof txt,
           "{\"entity_code\":\"%s\",\"entity_name\":\"福州甲科技有限公司\",\"record_id\":\"失〔2024〕1号\","
           "\"authority_code\":\"%s\",\"category\":\"blacklist\",\"list_type\":\"court_dishonest\","
           "\"measures\":[\"no_procurement\",\"no_bidding\"],\"decision_date\":\"2024-01-10\",\"objection\":false,"
           "\"amount_fen\":150000}\n"
           "[1,2,3]\n"
           "{\"entity_code\":\"%s\",\"entity_name\":\"x\",\"record_id\":\"r\",\"authority_code\":\"%s\","
           "\"category\":\"penalty\",\"decision_date\":{\"y\":2024}}\n"
           "\n"
           "{\"entity_code\":\"%s\",\"entity_name\":\"福州乙贸易有限公司\",\"record_id\":\"罚〔2024〕7号\","
           "\"authority_code\":\"%s\",\"category\":\"penalty\",\"amount_yuan\":12.5,\"decision_date\":\"2024-02-01\"}\n",
           A, AUTH, A, AUTH, B, AUTH);
  spit("t.jsonl", txt);
  cr_assert_eq(cx("init --db st"), 0);
  cr_assert_eq(cx("import --db st t.jsonl"), 1);
  char *err = slurp("err");
  cr_assert(strstr(err, "t.jsonl:2: "), "%s", err);
  cr_assert(strstr(err, "t.jsonl:3: "), "%s", err);
  cr_assert(strstr(err, "2 inserted"), "%s", err);
  free(err);
  cr_assert_eq(cx("records --db st %s --format json", A), 0);
  json_t *j = out_json();
  json_t *r = json_array_get(j, 0);
  cr_assert_eq(json_integer_value(json_object_get(r, "amount_fen")), 150000);
  cr_assert_str_eq(json_string_value(json_object_get(r, "measures")), "no_procurement,no_bidding");
  cr_assert_eq(json_object_get(r, "objection"), json_false());
  json_decref(j);
  cr_assert_eq(cx("records --db st %s --format csv", A), 0);
  cr_assert(out_has("out", "\"no_procurement,no_bidding\""));
  cr_assert_eq(cx("records --db st %s --format json", B), 0);
  j = out_json();
  cr_assert_eq(json_integer_value(json_object_get(json_array_get(j, 0), "amount_fen")), 1250);
  json_decref(j);
}

Test(import, shuanggongshi_template_through_the_mapping) {
  codes();
  char id17[] = "35010219800101001", id[19];
  memcpy(id, id17, 17);
  id[17] = cx_idcard_check_char(id17);
  id[18] = 0;
  char csv[4096];
  snprintf(csv, sizeof csv,
           "\xEF\xBB\xBF行政相对人名称,行政相对人类别,统一社会信用代码,证件号码,行政处罚决定书文号,处罚类别,"
           "处罚内容,罚款金额（万元）,处罚决定日期,处罚机关,处罚机关统一社会信用代码,公示截止期\n"
           "福州甲科技有限公司,法人及非法人组织,%s,,榕市监罚〔2024〕11号,罚款,罚款人民币1.5万元,1.5,2024/3/5,"
           "福州市市场监督管理局,%s,2025/3/5\n"
           "张三,自然人,,%s,榕市监罚〔2024〕12号,警告,警告,0,2024年4月8日,福州市市场监督管理局,%s,\n",
           A, AUTH, id, AUTH);
  spit("sgs.csv", csv);
  const char *src = cx_test_source_dir();
  cr_assert_eq(cx("init --db st"), 0);
  cr_assert_eq(cx("import --db st --mapping '%s/tools/chengxin/mappings/shuanggongshi_penalty.tsv' sgs.csv",
                  src),
               0, "%s", slurp("err"));
  cr_assert(out_has("err", "2 inserted"));
  cr_assert_eq(cx("records --db st %s --format json", A), 0);
  json_t *j = out_json();
  json_t *r = json_array_get(j, 0);
  cr_assert_eq(json_integer_value(json_object_get(r, "amount_fen")), 1500000, "1.5 万元 is 1,500,000 fen");
  cr_assert_str_eq(json_string_value(json_object_get(r, "category")), "penalty");
  cr_assert_str_eq(json_string_value(json_object_get(r, "decision_date")), "2024-03-05");
  cr_assert_str_eq(json_string_value(json_object_get(r, "valid_until")), "open", "no 处罚有效期: open");
  cr_assert_str_eq(json_string_value(json_object_get(r, "display_until")), "2025-03-05", "公示截止期 is the display deadline");
  cr_assert_str_eq(json_string_value(json_object_get(r, "content")), "罚款；罚款人民币1.5万元");
  cr_assert_str_eq(json_string_value(json_object_get(r, "authority_name")), "福州市市场监督管理局");
  json_decref(j);
  cr_assert_eq(cx("status --db st %s --format json", id), 0);
  j = out_json();
  cr_assert_str_eq(json_string_value(json_object_get(j, "kind")), "person");
  json_decref(j);
}

Test(import, usage_errors_exit_2) {
  cr_assert_eq(cx("import t.csv"), 2);
  cr_assert_eq(cx("init --db st"), 0);
  cr_assert_eq(cx("import --db st"), 2);
  spit("bad.tsv", "only-one-column\n");
  cr_assert_eq(cx("import --db st --mapping bad.tsv x.csv"), 2);
  cr_assert_eq(cx("import --db st --batch 0 x.csv"), 2);
}

Test(import, gbk_file_is_detected_and_converted) {
  codes();
  char csv[2048];
  snprintf(csv, sizeof csv,
           "行政相对人名称,统一社会信用代码,行政处罚决定书文号,处罚内容,罚款金额(万元),处罚决定日期,处罚机关,"
           "处罚机关统一社会信用代码\n"
           "福州甲科技有限公司,%s,榕市监罚〔2024〕21号,罚款,0.25,2024-06-03,福州市市场监督管理局,%s\n",
           A, AUTH);
  spit("u.csv", csv);
  cr_assert_eq(cx_test_sh("iconv -f UTF-8 -t GBK '%s/u.csv' > '%s/g.csv'", g_dir, g_dir), 0);
  const char *src = cx_test_source_dir();
  char map[512];
  snprintf(map, sizeof map, "%s/tools/chengxin/mappings/shuanggongshi_penalty.tsv", src);
  cr_assert_eq(cx("init --db st"), 0);
  cr_assert_eq(cx("import --db st --encoding utf-8 --mapping '%s' g.csv", map), 1, "a GBK header passed as UTF-8");
  cr_assert_eq(cx("import --db st --mapping '%s' g.csv", map), 0, "%s", slurp("err"));
  cr_assert(out_has("err", "GB18030"));
  cr_assert_eq(cx("records --db st %s --format json", A), 0);
  json_t *j = out_json();
  json_t *r = json_array_get(j, 0);
  cr_assert_str_eq(json_string_value(json_object_get(r, "entity_name")), "福州甲科技有限公司");
  cr_assert_eq(json_integer_value(json_object_get(r, "amount_fen")), 250000);
  json_decref(j);
}

Test(import, a_reimport_keeps_repairs_and_a_moved_record_is_refused_by_line) {
  write_csv();
  cr_assert_eq(cx("init --db st"), 0);
  cr_assert_eq(cx("import --db st t.csv"), 1);
  /* a repair, then the authority's routine feed sends the same file again */
  cr_assert_eq(cx("repair --db st --authority %s --record-id '榕市监罚〔2024〕1号' --reason 已修复", AUTH), 0,
               "%s", slurp("err"));
  cr_assert_eq(cx("import --db st t.csv"), 1);
  char *err = slurp("err");
  cr_assert(strstr(err, "1 kept their lifecycle state"), "the summary counts the kept state:\n%s", err);
  free(err);
  cr_assert_eq(cx("records --db st %s --format json", A), 0);
  json_t *j = out_json();
  int repaired = 0;
  for (size_t i = 0; i < json_array_size(j); i++)
    repaired += strcmp(json_string_value(json_object_get(json_array_get(j, i), "status")), "repaired") == 0;
  cr_assert_eq(repaired, 1, "the re-import did not undo the repair");
  json_decref(j);
  /* a row that would move 榕市监罚〔2024〕4号 to B: reported by its line, the other row lands */
  char csv[1024];
  snprintf(csv, sizeof csv,
           "entity_code,entity_name,record_id,authority_code,category,decision_date\n"
           "%s,福州乙贸易有限公司,榕市监罚〔2024〕4号,%s,penalty,2024-04-01\n"
           "%s,福州乙贸易有限公司,榕市监罚〔2024〕9号,%s,penalty,2024-04-02\n",
           B, AUTH, B, AUTH);
  spit("m.csv", csv);
  cr_assert_eq(cx("import --db st m.csv"), 1);
  err = slurp("err");
  cr_assert(strstr(err, "m.csv:2: ") && strstr(err, "another entity"), "%s", err);
  cr_assert(strstr(err, "1 inserted") && strstr(err, "1 rejected"), "%s", err);
  free(err);
  cr_assert_eq(cx("records --db st %s --format json", A), 0);
  j = out_json();
  int still = 0;
  for (size_t i = 0; i < json_array_size(j); i++)
    still += strcmp(json_string_value(json_object_get(json_array_get(j, i), "record_id")), "榕市监罚〔2024〕4号") == 0;
  cr_assert_eq(still, 1, "the record stayed with its entity");
  json_decref(j);
  cr_assert_eq(cx("verify --db st"), 0);
}

/* Writes n bytes (NULs included) to the test directory. */
static void spitn(const char *name, const char *p, size_t n) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", g_dir, name);
  FILE *f = fopen(path, "wb");
  cr_assert(f);
  cr_assert_eq(fwrite(p, 1, n, f), n);
  fclose(f);
}

Test(import, rows_with_a_nul_an_escape_sequence_or_invalid_utf8_are_refused_by_line_and_byte) {
  codes();
  char csv[2048];
  int n = snprintf(csv, sizeof csv,
                   "entity_code,entity_name,record_id,authority_code,category,decision_date,content\n"
                   "%s,福州甲科技有限公司,好-1,%s,penalty,2024-03-05,罚款\n"
                   "%s,福州甲科技有限公司,R-BAD@hidden,%s,penalty,2024-03-05,x\n"
                   "%s,福州甲科技有限公司,好-2,%s,penalty,2024-03-05,ok\x1b[2K\n"
                   "%s,甲\xff乙,好-3,%s,penalty,2024-03-05,x\n",
                   A, AUTH, A, AUTH, A, AUTH, A, AUTH);
  char *at = strstr(csv, "R-BAD@");
  at[5] = 0; /* the NUL inside the record id */
  spitn("t.csv", csv, (size_t)n);
  cr_assert_eq(cx("init --db st"), 0);
  cr_assert_eq(cx("import --db st t.csv"), 1);
  char *err = slurp("err");
  cr_assert(strstr(err, "t.csv:3: record_id: control character U+0000 at byte 5"), "%s", err);
  cr_assert(strstr(err, "t.csv:4: content: control character U+001B at byte 2"), "%s", err);
  cr_assert(strstr(err, "t.csv:5: entity_name: invalid UTF-8 at byte 3"), "%s", err);
  cr_assert(!strchr(err, 0x1b), "stderr holds a raw escape");
  free(err);
  cr_assert_eq(cx("records --db st %s --format json", A), 0);
  json_t *j = out_json();
  cr_assert_eq(json_array_size(j), 1, "only the good row landed");
  json_decref(j);
}

/* Report delays over a year the calendar has no notice for are a guess: the import says how
 * many, even with --quiet, and only when there are some. */
Test(import, a_provisional_report_delay_is_warned_about) {
  codes();
  char csv[1024];
  snprintf(csv, sizeof csv,
           "entity_code,entity_name,record_id,authority_code,category,decision_date,report_date\n"
           "%s,福州甲科技有限公司,R1,%s,penalty,2025-03-03,2025-03-05\n"
           "%s,福州甲科技有限公司,R2,%s,penalty,2027-03-01,2027-03-05\n"
           "%s,福州甲科技有限公司,R3,%s,penalty,2026-12-28,2027-01-04\n",
           A, AUTH, A, AUTH, A, AUTH);
  spit("p.csv", csv);
  cr_assert_eq(cx("init --db st"), 0);
  cr_assert_eq(cx_test_sh("cd '%s' && CHENGXIN_TODAY=2027-06-01 '%s' import --quiet --db st p.csv > out 2> err",
                          g_dir, g_bin), 0, "%s", slurp("err"));
  char *err = slurp("err");
  cr_assert(strstr(err, "warning: 2 written records have a provisional report delay") &&
                strstr(err, "load-calendar"),
            "%s", err);
  free(err);
  /* the same file again writes nothing, so warns about nothing */
  cr_assert_eq(cx_test_sh("cd '%s' && CHENGXIN_TODAY=2027-06-01 '%s' import --quiet --db st p.csv > out 2> err",
                          g_dir, g_bin), 0);
  err = slurp("err");
  cr_assert(!strstr(err, "provisional"), "%s", err);
  free(err);
}

/* The directory's kinds added as categories import by their canonical names, with their
 * subtypes; a subtype of another category is a bad row; `status` lists them. */
Test(import, abnormal_compulsion_confirmation_and_inspection_rows_import_with_their_subtypes) {
  codes();
  char csv[4096];
  snprintf(csv, sizeof csv,
           "entity_code,entity_name,record_id,authority_code,authority_name,category,subtype,list_type,decision_date,valid_until,content\n"
           "%s,福州甲科技有限公司,榕市监异〔2024〕1号,%s,福州市市场监督管理局,abnormal,,abnormal_operation,2024-03-05,,未按规定期限公示年度报告\n"
           "%s,福州甲科技有限公司,榕市监强〔2024〕2号,%s,福州市市场监督管理局,compulsion,coercive_measure,,2024-03-06,2024-04-05,查封\n"
           "%s,福州甲科技有限公司,榕市监强〔2024〕3号,%s,福州市市场监督管理局,compulsion,enforcement,,2024-03-07,,加处罚款\n"
           "%s,福州甲科技有限公司,榕市监确〔2024〕4号,%s,福州市市场监督管理局,confirmation,,,2024-03-08,,确认\n"
           "%s,福州甲科技有限公司,榕市监检〔2024〕5号,%s,福州市市场监督管理局,inspection,compliant,,2024-03-09,,未发现问题\n"
           "%s,福州甲科技有限公司,榕市监检〔2024〕6号,%s,福州市市场监督管理局,inspection,violation,,2024-03-10,,发现问题\n"
           "%s,福州甲科技有限公司,榕市监检〔2024〕7号,%s,福州市市场监督管理局,inspection,enforcement,,2024-03-11,,x\n",
           A, AUTH, A, AUTH, A, AUTH, A, AUTH, A, AUTH, A, AUTH, A, AUTH);
  spit("k.csv", csv);
  cr_assert_eq(cx("init --db st"), 0);
  cr_assert_eq(cx("import --db st k.csv"), 1);
  char *err = slurp("err");
  cr_assert(strstr(err, "k.csv:8: ") && strstr(err, "subtype"), "line 8 (subtype of another category):\n%s", err);
  cr_assert(strstr(err, "7 rows read, 6 inserted"), "summary:\n%s", err);
  free(err);
  cr_assert_eq(cx("records --db st %s --format json", A), 0);
  json_t *j = out_json();
  cr_assert_eq(json_array_size(j), 6);
  int seen_violation = 0, seen_abnormal = 0;
  for (size_t i = 0; i < json_array_size(j); i++) {
    json_t *r = json_array_get(j, i);
    const char *c = json_string_value(json_object_get(r, "category"));
    const char *s = json_string_value(json_object_get(r, "subtype"));
    if (strcmp(c, "inspection") == 0 && s && strcmp(s, "violation") == 0) seen_violation = 1;
    if (strcmp(c, "abnormal") == 0) {
      seen_abnormal = 1;
      cr_assert_str_eq(json_string_value(json_object_get(r, "list_type")), "abnormal_operation");
    }
  }
  cr_assert(seen_violation && seen_abnormal);
  json_decref(j);
  cr_assert_eq(cx("status --db st %s", A), 0);
  char *out = slurp("out");
  cr_assert(strstr(out, "经营异常名录") && strstr(out, "行政强制") && strstr(out, "行政确认") &&
                strstr(out, "行政检查"),
            "status table:\n%s", out);
  free(out);
}
