/* The national 双公示 data standard end to end: penalty and licence files in the standard's
 * exact columns, both subject templates (法人及非法人组织, 自然人), UTF-8 and GB18030, good and
 * bad rows. Every column is accounted for (a canonical field or a named extra field, none
 * warned about as unknown), no row is misfiled (no fallback to the legal representative),
 * amounts parse strictly in their declared unit, and 公示截止期 bounds the public display. */
#include "clitest.h"

TestSuite(sgs, .init = cli_setup, .fini = cli_teardown, .timeout = 120);

static char CO[19], CO2[19], AUTH[19], PERSON[19], REP[19];

static void ids(void) {
  uscc("91350100MA0000001", CO);
  uscc("91350102MA0000002", CO2);
  uscc("11350100003000001", AUTH);
  char b[18] = "35010219800101001";
  memcpy(PERSON, b, 17);
  PERSON[17] = cx_idcard_check_char(b);
  PERSON[18] = 0;
  char r[18] = "35010219700101002";
  memcpy(REP, r, 17);
  REP[17] = cx_idcard_check_char(r);
  REP[18] = 0;
}

static const char *map_path(const char *name) {
  static char buf[600];
  const char *src = cx_test_source_dir();
  snprintf(buf, sizeof buf, "%s/tools/chengxin/mappings/%s", src, name);
  return buf;
}

/* The standard's 30 penalty columns, in its order. */
#define PEN_HEADER                                                                                      \
  "行政相对人名称,行政相对人类别,行政相对人代码_1(统一社会信用代码),行政相对人代码_2(工商注册号),"     \
  "行政相对人代码_3(组织机构代码),行政相对人代码_4(税务登记号),行政相对人代码_5(事业单位证书号),"       \
  "行政相对人代码_6(社会组织登记证号),法定代表人,法定代表人证件类型,法定代表人证件号码,证件类型,"      \
  "证件号码,行政处罚决定书文号,违法行为类型,违法事实,处罚依据,处罚类别,处罚内容,罚款金额（万元）,"    \
  "没收违法所得、没收非法财物的金额（万元）,暂扣或吊销证照名称及编号,处罚决定日期,处罚有效期,公示截止期," \
  "处罚机关,处罚机关统一社会信用代码,数据来源单位,数据来源单位统一社会信用代码,备注\n"

static void write_penalties(void) {
  ids();
  char csv[8192];
  snprintf(csv, sizeof csv,
           PEN_HEADER
           /* 2: a company, every column filled */
           "福州甲科技有限公司,法人及非法人组织,%s,350100100012345,MA0000001,91350100MA0000001X,,,王五,身份证,%s,,,"
           "榕市监罚〔2024〕31号,虚假宣传,在网站发布虚假广告,《中华人民共和国广告法》第五十五条,罚款;没收违法所得,"
           "罚款人民币2万元,2,0.35,,2024-03-05,2024-09-05,2024-12-31,福州市市场监督管理局,%s,福州市市场监督管理局,%s,"
           "首次公示\n"
           /* 3: a natural person (the 自然人 template's 证件类型/证件号码) */
           "张三,自然人,,,,,,,,,,身份证,%s,榕市监罚〔2024〕32号,无照经营,无照经营小吃店,《无证无照经营查处办法》第十三条,"
           "警告,警告,0,,,2024-04-08,,,福州市市场监督管理局,%s,福州市市场监督管理局,%s,\n"
           /* 4: a company without its USCC: rejected, never filed under its legal representative */
           "福州乙贸易有限公司,法人及非法人组织,,350100100099999,,,,,李四,身份证,%s,,,榕市监罚〔2024〕33号,"
           "超范围经营,超范围经营,《市场主体登记管理条例》第四十六条,罚款,罚款1万元,1,,,2024-05-06,,,"
           "福州市市场监督管理局,%s,福州市市场监督管理局,%s,\n"
           /* 5: an amount that is no number: rejected, not read as 0 */
           "福州丙食品有限公司,法人及非法人组织,%s,,,,,,,,,,,榕市监罚〔2024〕34号,食品安全,过期食品,"
           "《中华人民共和国食品安全法》第一百二十四条,罚款,罚款若干,若干,,,2024-05-07,,,福州市市场监督管理局,%s,"
           "福州市市场监督管理局,%s,\n",
           CO, REP, AUTH, AUTH, PERSON, AUTH, AUTH, REP, AUTH, AUTH, CO2, AUTH, AUTH);
  spit("pen.csv", csv);
}

static json_t *records_of(const char *code) {
  cr_assert_eq(cx("records --db st %s --format json --limit 100", code), 0, "%s", slurp("err"));
  return out_json();
}

Test(sgs, a_standard_penalty_file_imports_with_every_column_accounted_for) {
  write_penalties();
  cr_assert_eq(cx("init --db st"), 0);
  cr_assert_eq(cx("import --db st --mapping '%s' pen.csv", map_path("shuanggongshi_penalty.tsv")), 1,
               "two bad rows: exit 1");
  char *err = slurp("err");
  cr_assert(!strstr(err, "not known"), "a standard column is unknown to the mapping:\n%s", err);
  cr_assert(strstr(err, "pen.csv:4: 行政相对人代码_1(统一社会信用代码) or 证件号码 (entity_code): required"),
            "the company without a USCC is rejected, naming the file's columns:\n%s", err);
  cr_assert(strstr(err, "pen.csv:5: 罚款金额（万元） (amount_wan): not a decimal"),
            "若干 is no amount; the column as the file writes it:\n%s", err);
  cr_assert(strstr(err, "2 inserted") && strstr(err, "2 rejected"), "%s", err);
  free(err);
  /* the company's penalty: every field and every other column */
  json_t *j = records_of(CO);
  cr_assert_eq(json_array_size(j), 1);
  json_t *r = json_array_get(j, 0);
  cr_assert_eq(json_integer_value(json_object_get(r, "amount_fen")), 2000000, "2 万元");
  cr_assert_str_eq(json_string_value(json_object_get(r, "valid_until")), "2024-09-06", "处罚有效期 is inclusive");
  cr_assert_str_eq(json_string_value(json_object_get(r, "display_until")), "2024-12-31");
  cr_assert_str_eq(json_string_value(json_object_get(r, "basis")), "《中华人民共和国广告法》第五十五条");
  cr_assert(strstr(json_string_value(json_object_get(r, "content")), "在网站发布虚假广告"));
  const char *extra = json_string_value(json_object_get(r, "extra"));
  cr_assert(extra, "the extra fields are returned");
  const char *want[] = {"行政相对人代码_2(工商注册号)=350100100012345", "行政相对人代码_3(组织机构代码)=MA0000001",
                        "法定代表人=王五", "没收违法所得、没收非法财物的金额(万元)=0.35", "数据来源单位=福州市市场监督管理局",
                        "备注=首次公示"};
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) cr_assert(strstr(extra, want[i]), "%s not in %s", want[i], extra);
  cr_assert(strstr(extra, REP), "the legal representative's number is kept, as an extra field");
  json_decref(j);
  /* the legal representative has no file of their own */
  cr_assert_eq(cx("status --db st %s --format json", REP), 1, "no entity under the representative's number");
  /* the natural person */
  cr_assert_eq(cx("status --db st %s --format json", PERSON), 0);
  j = out_json();
  cr_assert_str_eq(json_string_value(json_object_get(j, "kind")), "person");
  json_decref(j);
  /* the public never sees extra fields (they may name persons) */
  cr_assert_eq(cx_test_sh("cd '%s' && CHENGXIN_TODAY=2024-06-01 '%s' records --db st %s --format json --role public "
                          "> out 2> err", g_dir, g_bin, CO),
               0, "%s", slurp("err"));
  cr_assert(!out_has("out", REP) && !out_has("out", "王五"), "%s", slurp("out"));
}

Test(sgs, the_public_display_ends_at_the_sources_deadline) {
  write_penalties();
  cr_assert_eq(cx("init --db st"), 0);
  cr_assert_eq(cx("import --db st --mapping '%s' pen.csv", map_path("shuanggongshi_penalty.tsv")), 1);
  /* general penalty of 2024-03-05 would show until 2025-03-05; 公示截止期 2024-12-31 ends it
   * (its 处罚有效期, 2024-09-05, does not: the penalty stays public after its effect ended) */
  cr_assert_eq(cx_test_sh("cd '%s' && CHENGXIN_TODAY=2024-12-31 '%s' status --db st %s --role public > out 2> err",
                          g_dir, g_bin, CO),
               0, "shown on its last day: %s", slurp("err"));
  cr_assert_neq(cx_test_sh("cd '%s' && CHENGXIN_TODAY=2025-01-01 '%s' status --db st %s --role public > out 2> err",
                           g_dir, g_bin, CO),
                0, "hidden the day after");
}

/* The licence template's columns. */
#define LIC_HEADER                                                                                  \
  "行政相对人名称,行政相对人类别,行政相对人代码_1(统一社会信用代码),行政相对人代码_2(工商注册号),"  \
  "行政相对人代码_3(组织机构代码),行政相对人代码_4(税务登记号),行政相对人代码_5(事业单位证书号),"    \
  "行政相对人代码_6(社会组织登记证号),法定代表人,法定代表人证件类型,法定代表人证件号码,证件类型,"   \
  "证件号码,行政许可决定文书名称,行政许可决定文书号,许可类别,许可证书名称,许可编号,许可内容,"      \
  "许可决定日期,有效期自,有效期至,许可机关,许可机关统一社会信用代码,当前状态,数据来源单位,"          \
  "数据来源单位统一社会信用代码,备注\n"

Test(sgs, a_standard_licence_file_in_gb18030_imports_with_every_column_accounted_for) {
  ids();
  char csv[4096];
  snprintf(csv, sizeof csv,
           LIC_HEADER
           "福州甲科技有限公司,法人及非法人组织,%s,,,,,,王五,身份证,%s,,,食品经营许可决定书,榕市监许〔2024〕41号,普通,"
           "食品经营许可证,JY13501000012345,预包装食品销售,2024-02-01,2024-02-01,2029-01-31,福州市市场监督管理局,%s,0,"
           "福州市市场监督管理局,%s,\n"
           "张三,自然人,,,,,,,,,,身份证,%s,营业执照,榕市监许〔2024〕42号,登记,营业执照,92350100MA0000009,个体经营,"
           "2024-03-01,2024-03-01,,福州市市场监督管理局,%s,1,福州市市场监督管理局,%s,已撤销\n",
           CO, REP, AUTH, AUTH, PERSON, AUTH, AUTH);
  spit("lic-u.csv", csv);
  cr_assert_eq(cx_test_sh("iconv -f UTF-8 -t GB18030 '%s/lic-u.csv' > '%s/lic.csv'", g_dir, g_dir), 0);
  cr_assert_eq(cx("init --db st"), 0);
  cr_assert_eq(cx("import --db st --mapping '%s' lic.csv", map_path("shuanggongshi_license.tsv")), 0, "%s",
               slurp("err"));
  char *err = slurp("err");
  cr_assert(!strstr(err, "not known"), "a standard column is unknown to the mapping:\n%s", err);
  cr_assert(strstr(err, "2 inserted"), "%s", err);
  free(err);
  json_t *j = records_of(CO);
  json_t *r = json_array_get(j, 0);
  cr_assert_str_eq(json_string_value(json_object_get(r, "category")), "license");
  cr_assert_str_eq(json_string_value(json_object_get(r, "valid_from")), "2024-02-01");
  cr_assert_str_eq(json_string_value(json_object_get(r, "valid_until")), "2029-02-01", "有效期至 is inclusive");
  cr_assert_str_eq(json_string_value(json_object_get(r, "status")), "active");
  cr_assert(strstr(json_string_value(json_object_get(r, "extra")), "许可编号=JY13501000012345"));
  json_decref(j);
  /* 当前状态 1 (撤销): the licence is revoked */
  j = records_of(PERSON);
  cr_assert_str_eq(json_string_value(json_object_get(json_array_get(j, 0), "status")), "revoked");
  json_decref(j);
}

Test(sgs, a_column_the_mapping_does_not_know_is_kept_and_named_once) {
  ids();
  char csv[2048];
  snprintf(csv, sizeof csv,
           "行政相对人名称,统一社会信用代码,行政处罚决定书文号,处罚内容,罚款金额,处罚决定日期,处罚机关统一社会信用代码,"
           "本地字段\n"
           "福州甲科技有限公司,%s,榕市监罚〔2024〕51号,罚款,3000,2024-06-03,%s,甲\n"
           "福州甲科技有限公司,%s,榕市监罚〔2024〕52号,罚款,3000元,2024-06-04,%s,乙\n",
           CO, AUTH, CO, AUTH);
  spit("local.csv", csv);
  cr_assert_eq(cx("init --db st"), 0);
  cr_assert_eq(cx("import --db st --mapping '%s' local.csv", map_path("shuanggongshi_penalty.tsv")), 0, "%s",
               slurp("err"));
  char *err = slurp("err");
  const char *w = strstr(err, "本地字段");
  cr_assert(w && strstr(err, "not known"), "the unknown column is named:\n%s", err);
  cr_assert(!strstr(w + 1, "本地字段"), "once per file:\n%s", err);
  free(err);
  json_t *j = records_of(CO);
  cr_assert_eq(json_array_size(j), 2);
  for (size_t i = 0; i < 2; i++) {
    json_t *r = json_array_get(j, i);
    cr_assert_eq(json_integer_value(json_object_get(r, "amount_fen")), 300000, "罚款金额 without a unit is 元");
    cr_assert(strstr(json_string_value(json_object_get(r, "extra")), "本地字段="));
  }
  json_decref(j);
}

/* 自然人 rows whose 证件类型 is no ID card: the typed identifier of their 证件号码. */
static void write_typed_penalties(void) {
  ids();
  char csv[8192];
  const char *row = "%s,自然人,,,,,,,,,,%s,%s,%s,无照经营,无照经营,《无证无照经营查处办法》第十三条,罚款,罚款,0.2,,,"
                    "2024-04-08,,,福州市市场监督管理局,%s,福州市市场监督管理局,%s,\n";
  size_t o = (size_t)snprintf(csv, sizeof csv, "%s", PEN_HEADER);
  /* 2: a passport, its issuing state written with the number (the standard has no column for it) */
  o += (size_t)snprintf(csv + o, sizeof csv - o, row, "John Smith", "护照", "USA:123456789", "榕罚〔2024〕71号", AUTH, AUTH);
  /* 3: an HK permit in its old 11-character form */
  o += (size_t)snprintf(csv + o, sizeof csv - o, row, "陈大文", "港澳居民来往内地通行证", "H1234567800", "榕罚〔2024〕72号",
                        AUTH, AUTH);
  /* 4: a document type the templates do not have */
  o += (size_t)snprintf(csv + o, sizeof csv - o, row, "王六", "军官证", "12345678", "榕罚〔2024〕73号", AUTH, AUTH);
  /* 5: a passport without its issuing state */
  o += (size_t)snprintf(csv + o, sizeof csv - o, row, "Jane Roe", "护照", "987654321", "榕罚〔2024〕74号", AUTH, AUTH);
  /* 6: an HK permit number of the wrong shape */
  o += (size_t)snprintf(csv + o, sizeof csv - o, row, "李小龙", "港澳居民来往内地通行证", "12345678", "榕罚〔2024〕75号",
                        AUTH, AUTH);
  /* 7: an ID card: the number as it is */
  o += (size_t)snprintf(csv + o, sizeof csv - o, row, "张三", "身份证", PERSON, "榕罚〔2024〕76号", AUTH, AUTH);
  spit("typed.csv", csv);
}

Test(sgs, persons_with_passports_and_permits_land_on_typed_identifiers) {
  write_typed_penalties();
  cr_assert_eq(cx("init --db st"), 0);
  cr_assert_eq(cx("import --db st --mapping '%s' typed.csv", map_path("shuanggongshi_penalty.tsv")), 1,
               "three bad rows: exit 1");
  char *err = slurp("err");
  cr_assert(!strstr(err, "not known"), "%s", err);
  cr_assert(strstr(err, "typed.csv:4: 证件类型: unknown document type '军官证'"), "%s", err);
  cr_assert(strstr(err, "typed.csv:5: 证件号码: a passport needs its issuing state"), "%s", err);
  cr_assert(strstr(err, "typed.csv:6: 证件号码 (entity_code): an HK/Macao permit number"), "%s", err);
  cr_assert(strstr(err, "3 inserted") && strstr(err, "3 rejected"), "%s", err);
  cr_assert(!strstr(err, "typed.csv:2") && !strstr(err, "typed.csv:3") && !strstr(err, "typed.csv:7"), "%s", err);
  free(err);
  /* Each on a person of its own, found by the textual form and shown in it. */
  cr_assert_eq(cx("status --db st passport:USA:123456789 --format json"), 0, "%s", slurp("err"));
  json_t *j = out_json();
  cr_assert_str_eq(json_string_value(json_object_get(j, "code")), "passport:USA:123456789");
  cr_assert_str_eq(json_string_value(json_object_get(j, "kind")), "person");
  cr_assert_str_eq(json_string_value(json_object_get(j, "name")), "John Smith");
  json_decref(j);
  j = records_of("hkmo:H12345678"); /* the lifelong number, without the renewal count */
  cr_assert_eq(json_array_size(j), 1);
  json_t *r = json_array_get(j, 0);
  cr_assert_str_eq(json_string_value(json_object_get(r, "entity_code")), "hkmo:H12345678");
  cr_assert(strstr(json_string_value(json_object_get(r, "extra")), "证件类型=港澳居民来往内地通行证"),
            "the column is kept as an extra field too");
  json_decref(j);
  cr_assert_eq(cx("status --db st %s --format json", PERSON), 0);
  /* A person's penalty is not public: the public finds neither. */
  const char *codes[] = {"passport:USA:123456789", "hkmo:H12345678"};
  for (size_t i = 0; i < 2; i++) {
    cr_assert_neq(cx_test_sh("cd '%s' && CHENGXIN_TODAY=2024-06-01 '%s' status --db st %s --role public --format json "
                             "> out 2> err",
                             g_dir, g_bin, codes[i]),
                  0, "%s is hidden from the public", codes[i]);
    cr_assert(!out_has("out", "123456789") && !out_has("out", "H12345678") && !out_has("out", "John"), "%s",
              slurp("out"));
  }
}

/* Errors name the file's columns (issue 17, point 7): the canonical field a mapping renamed a
 * column to is in brackets after it; a field the message compares with is named the same way. */
Test(sgs, errors_about_mapped_fields_name_the_source_columns) {
  ids();
  char csv[8192];
  snprintf(csv, sizeof csv,
           PEN_HEADER
           /* 2: 公示截止期 is no day */
           "福州甲科技有限公司,法人及非法人组织,%s,,,,,,,,,,,榕市监罚〔2024〕61号,虚假宣传,x,y,罚款,罚款,1,,,2024-03-05,,"
           "2024-02-30,福州市市场监督管理局,%s,,,\n"
           /* 3: 处罚有效期 ends before 处罚决定日期 */
           "福州甲科技有限公司,法人及非法人组织,%s,,,,,,,,,,,榕市监罚〔2024〕62号,虚假宣传,x,y,罚款,罚款,1,,,2024-03-05,"
           "2024-01-01,,福州市市场监督管理局,%s,,,\n"
           /* 4: no 处罚决定日期 */
           "福州甲科技有限公司,法人及非法人组织,%s,,,,,,,,,,,榕市监罚〔2024〕63号,虚假宣传,x,y,罚款,罚款,1,,,,,,"
           "福州市市场监督管理局,%s,,,\n"
           /* 5: a good row */
           "福州甲科技有限公司,法人及非法人组织,%s,,,,,,,,,,,榕市监罚〔2024〕64号,虚假宣传,x,y,罚款,罚款,1,,,2024-03-06,,,"
           "福州市市场监督管理局,%s,,,\n",
           CO, AUTH, CO, AUTH, CO, AUTH, CO, AUTH);
  spit("pen.csv", csv);
  cr_assert_eq(cx("init --db st"), 0);
  cr_assert_eq(cx("import --db st --mapping '%s' pen.csv", map_path("shuanggongshi_penalty.tsv")), 1);
  char *err = slurp("err");
  cr_assert(strstr(err, "pen.csv:2: 公示截止期 (display_until): not a YYYY-MM-DD date"), "%s", err);
  cr_assert(strstr(err, "pen.csv:3: 处罚有效期 (valid_until): not after 处罚决定日期 (valid_from)"), "%s", err);
  cr_assert(strstr(err, "pen.csv:4: 处罚决定日期 (decision_date): required"), "%s", err);
  cr_assert(strstr(err, "1 inserted") && strstr(err, "3 rejected"), "%s", err);
  free(err);
  /* the same rows as JSON Lines: the keys as the lines have them */
  snprintf(csv, sizeof csv,
           "{\"统一社会信用代码\":\"%s\",\"行政相对人名称\":\"福州甲科技有限公司\",\"行政处罚决定书文号\":\"J1\","
           "\"处罚决定日期\":\"2024-03-05\",\"公示截止期\":\"2024-02-30\",\"处罚机关统一社会信用代码\":\"%s\"}\n"
           "{\"统一社会信用代码\":\"%s\",\"行政相对人名称\":\"福州甲科技有限公司\",\"行政处罚决定书文号\":\"J2\","
           "\"罚款金额（万元）\":\"若干\",\"处罚决定日期\":\"2024-03-05\",\"处罚机关统一社会信用代码\":\"%s\"}\n",
           CO, AUTH, CO, AUTH);
  spit("pen.jsonl", csv);
  cr_assert_eq(cx("import --db st --mapping '%s' pen.jsonl", map_path("shuanggongshi_penalty.tsv")), 1);
  err = slurp("err");
  cr_assert(strstr(err, "pen.jsonl:1: 公示截止期 (display_until): not a YYYY-MM-DD date"), "%s", err);
  cr_assert(strstr(err, "pen.jsonl:2: 罚款金额（万元） (amount_wan): not a decimal"), "%s", err);
  free(err);
  /* without a mapping, a canonical header is named as it is */
  snprintf(csv, sizeof csv,
           "entity_code,entity_name,record_id,authority_code,category,decision_date\n"
           "%s,福州甲科技有限公司,C1,%s,penalty,2024-02-30\n",
           CO, AUTH);
  spit("c.csv", csv);
  cr_assert_eq(cx("import --db st c.csv"), 1);
  cr_assert(out_has("err", "c.csv:2: decision_date: not a YYYY-MM-DD date"), "%s", slurp("err"));
}

/* A quote that never closes is reported as what it is, with the line its field starts on; the
 * rows before it land (a bad row is skipped, as any other), the file exits 1. */
Test(sgs, an_unclosed_quote_at_the_end_of_a_file_is_reported_as_such) {
  ids();
  char csv[8192];
  snprintf(csv, sizeof csv,
           PEN_HEADER
           "福州甲科技有限公司,法人及非法人组织,%s,,,,,,,,,,,榕市监罚〔2024〕71号,虚假宣传,x,y,罚款,罚款,1,,,2024-03-05,,,"
           "福州市市场监督管理局,%s,,,\n"
           "福州甲科技有限公司,法人及非法人组织,%s,,,,,,,,,,,榕市监罚〔2024〕72号,虚假宣传,\"违法事实\n跨行\",y,罚款,罚款,1,,,"
           "2024-03-06,,,福州市市场监督管理局,%s,,,\n"
           "福州甲科技有限公司,法人及非法人组织,%s,,,,,,,,,,,榕市监罚〔2024〕73号,虚假宣传,\"在网站发布,y,罚款,罚款,1,,,"
           "2024-03-07,,,福州市市场监督管理局,%s,,,\n"
           "福州甲科技有限公司,法人及非法人组织,%s,,,,,,,,,,,榕市监罚〔2024〕74号,虚假宣传,x,y,罚款,罚款,1,,,2024-03-08,,,"
           "福州市市场监督管理局,%s,,,\n",
           CO, AUTH, CO, AUTH, CO, AUTH, CO, AUTH);
  spit("pen.csv", csv);
  cr_assert_eq(cx("init --db st"), 0);
  cr_assert_eq(cx("import --db st --mapping '%s' pen.csv", map_path("shuanggongshi_penalty.tsv")), 1);
  char *err = slurp("err");
  cr_assert(strstr(err, "pen.csv:5: unclosed quote (the field that starts on line 5 never ends)"), "%s", err);
  cr_assert(!strstr(err, "required"), "no field is blamed:\n%s", err);
  cr_assert(strstr(err, "3 rows read, 2 inserted") && strstr(err, "1 rejected"), "%s", err);
  free(err);
  json_t *j = records_of(CO);
  cr_assert_eq(json_array_size(j), 2, "the rows before it land, the multi-line field included");
  json_decref(j);
  /* the field may start on a later line than its row (a closed multi-line field before it) */
  snprintf(csv, sizeof csv,
           "entity_code,entity_name,record_id,authority_code,category,decision_date,content\n"
           "%s,\"福州甲\n科技有限公司\",Q1,%s,penalty,2024-03-05,\"never\nends\n",
           CO, AUTH);
  spit("q.csv", csv);
  cr_assert_eq(cx("import --db st q.csv"), 1);
  cr_assert(out_has("err", "q.csv:2: unclosed quote (the field that starts on line 3 never ends)"), "%s", slurp("err"));
  /* in the header, nothing is read */
  spit("h.csv", "entity_code,\"entity_name\n");
  cr_assert_eq(cx("import --db st h.csv"), 1);
  cr_assert(out_has("err", "h.csv:1: unclosed quote in the header"), "%s", slurp("err"));
}
