/* test_labels.c — what people and scripts read (issue 17, points 1, 4, 7): Chinese names in
 * tables and beside the codes in csv/json, regions by name, the compact records table, check
 * json as the executor answers it, (N rows), --no-header, one table per CSV stream, messages
 * that say what is accepted, and the bash completion. On the seed-1 demo store (run.sh's). */
#include "clitest.h"

#define DENY "91350205MA7416128B" /* seed 1: a 拖欠农民工工资 blacklist entry, no_procurement */

static void setup(void) {
  cli_setup();
  unsetenv("CHENGXIN_TODAY");
  cr_assert_eq(cx("gen --db s --entities 10000 --records 100000 --seed 1 --quiet"), 0);
}

TestSuite(labels, .init = setup, .fini = cli_teardown, .timeout = 120);

Test(labels, tables_show_chinese_names_and_csv_keeps_codes_beside_them) {
  cr_assert_eq(cx("status --db s " DENY), 0);
  cr_assert(out_has("out", "严重失信主体名单") && out_has("out", "企业"));
  cr_assert(!out_has("out", "blacklist  ") && !out_has("out", "authority_code"), "no line for an absent field");
  cr_assert(out_has("out", "(8 rows)"));
  cr_assert_eq(cx("agg --db s --by category --where city=厦门市 --format csv"), 0);
  cr_assert(out_has("out", "category,category_name,count\n") && out_has("out", "penalty,行政处罚,"));
  cr_assert_eq(cx("agg --db s --by category --where city=厦门市"), 0);
  cr_assert(out_has("out", "行政处罚") && !out_has("out", "penalty"));
}

Test(labels, regions_are_named_as_people_say_them_with_codes_in_csv) {
  cr_assert_eq(cx("agg --db s --by city --format csv"), 0);
  cr_assert(out_has("out", "city,city_code,count\n"));
  cr_assert(out_has("out", "北京市,110100,") && out_has("out", "重庆市,500100,"));
  cr_assert(!out_has("out", "市辖区") && !out_has("out", "\n1101,"));
  cr_assert(out_has("out", "湖北省直辖县级行政区划,429000,"));
  /* names are filters too; a municipality is its city level */
  cr_assert_eq(cx("agg --db s --by city --where city=福州市 --format csv --no-header"), 0);
  cr_assert(out_has("out", "福州市,350100,") && !out_has("out", "city,"));
  cr_assert_eq(cx("agg --db s --by province --where city=北京市 --format csv"), 0);
  cr_assert(out_has("out", "北京市,110000,"));
  cr_assert_eq(cx("agg --db s --by county --where county=福州市鼓楼区 --format csv"), 0);
  cr_assert(out_has("out", "鼓楼区,350102,"));
  cr_assert_eq(cx("agg --db s --by county --where county=鼓楼区"), 2);
  cr_assert(out_has("err", "350102") && out_has("err", "several counties"));
  cr_assert_eq(cx("agg --db s --by city --where city=福州"), 2);
  cr_assert(out_has("err", "city: expected a region code such as 3501 or 350100, or a name such as 福州市"));
}

Test(labels, records_table_is_compact_and_wide_has_every_field) {
  cr_assert_eq(cx("records --db s " DENY " --limit 5"), 0);
  char *o = slurp("out");
  char *nl = strchr(o, '\n');
  *nl = 0;
  cr_assert(strstr(o, "decision_date") && strstr(o, "record_id") && strstr(o, "authority_code") &&
            strstr(o, "amount(元)") && !strstr(o, "amount_fen") && !strstr(o, "displayable"), "%s", o);
  free(o);
  cr_assert(out_has("out", "(5 rows)") && out_has("out", "严重失信主体名单"));
  /* the blacklist entry names no measures: its list type's defaults, as check applies them */
  cr_assert_eq(cx("records --db s " DENY " --all --wide"), 0);
  cr_assert(out_has("out", "限制参加政府采购活动") && out_has("out", "displayable"));
  cr_assert_eq(cx("records --db s " DENY " --all --format csv"), 0);
  cr_assert(out_has("out", ",amount_fen,") && !out_has("out", "(元)") && out_has("out", "effective_measures"));
  cr_assert(out_has("out", "no_procurement"));
}

Test(labels, check_json_is_the_executors_answer_and_ids_carry_their_authority) {
  cr_assert_eq(cx("check --db s --action procurement " DENY " --format json"), 3);
  json_t *j = out_json();
  json_t *h = json_array_get(json_object_get(json_array_get(json_object_get(j, "results"), 0), "hits"), 0);
  cr_assert_str_eq(json_string_value(json_object_get(h, "list_type")), "wage_arrears");
  cr_assert_str_eq(json_string_value(json_object_get(h, "measure_name")), "限制参加政府采购活动");
  cr_assert(json_is_string(json_object_get(h, "authority")) && json_object_get(h, "valid_from"));
  cr_assert_str_eq(json_string_value(json_object_get(j, "action")), "procurement");
  json_decref(j);
  cr_assert_eq(cx("check --db s --action procurement " DENY), 3);
  cr_assert(out_has("out", "11350982008025456F/人社失〔2024〕20178号"));
  cr_assert_eq(cx("check --db s --action buy " DENY), 2);
  cr_assert(out_has("err", "unknown action \"buy\": expected one of procurement, bidding"));
}

Test(labels, csv_streams_hold_one_table_and_no_header_drops_it) {
  cr_assert_eq(cx("status --db s " DENY " --format csv"), 0);
  char *o = slurp("out");
  int lines = 0;
  for (char *p = o; *p; p++) lines += *p == '\n';
  cr_assert_eq(lines, 2, "%s", o);
  free(o);
  cr_assert_eq(cx("status --db s " DENY " --format csv --part counts"), 0);
  cr_assert(out_has("out", "category,category_name,total,in_force,visible\n"));
  cr_assert_eq(cx("status --db s " DENY " --part nope"), 2);
  cr_assert(out_has("err", "expected entity or counts"));
  cr_assert_eq(cx("search --db s 信闽建设 --no-header"), 0);
  cr_assert(!out_has("out", "code ") && !out_has("out", "rows)") && out_has("out", DENY));
}

Test(labels, a_bad_catalogue_line_says_what_is_wrong) {
  spit("cat.tsv", "action\tprocurement\t政府采购\nlist\tx\tblacklist\t名单\tno_such\n");
  cr_assert_eq(cx("load-catalog --db s cat.tsv"), 1);
  cr_assert(out_has("err", "cat.tsv:2: load-catalog: list: unknown measure \"no_such\""));
}

Test(labels, bash_completion_loads_and_completes_subcommands) {
  char script[1024];
  snprintf(script, sizeof script, "%s/tools/chengxin/completion/chengxin.bash", cx_test_source_dir());
  cr_assert_eq(cx_test_sh("cd '%s' && bash --norc -c 'source \"%s\" && complete -p chengxin && "
                          "COMP_WORDS=(chengxin rec); COMP_CWORD=1; _chengxin; echo \"${COMPREPLY[*]}\"' > out 2> err",
                          g_dir, script), 0);
  cr_assert(out_has("out", "complete -F _chengxin chengxin"));
  cr_assert(out_has("out", "records"));
  /* every command of `chengxin help` is in the script's list */
  cr_assert_eq(cx("help"), 0);
  char *help = slurp("out"), *sc = NULL;
  FILE *f = fopen(script, "r");
  cr_assert(f);
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  sc = calloc(1, (size_t)n + 1);
  cr_assert_eq(fread(sc, 1, (size_t)n, f), (size_t)n);
  fclose(f);
  for (char *l = strstr(help, "commands:\n"); l && (l = strchr(l, '\n')); l++) {
    if (strncmp(l + 1, "  ", 2) || l[3] == ' ') continue;
    char cmd[32];
    if (sscanf(l + 3, "%31s", cmd) != 1) continue;
    char want[40];
    snprintf(want, sizeof want, " %s ", cmd);
    char *found = strstr(sc, want);
    if (!found) {
      snprintf(want, sizeof want, " %s\n", cmd);
      found = strstr(sc, want);
    }
    cr_assert(found, "%s is not in the completion script", cmd);
  }
  free(help);
  free(sc);
  /* options come from the subcommand's --help */
  char bindir[512];
  snprintf(bindir, sizeof bindir, "%s", g_bin);
  *strrchr(bindir, '/') = 0;
  cr_assert_eq(cx_test_sh("cd '%s' && PATH='%s':\"$PATH\" bash --norc -c 'source \"%s\"; COMP_WORDS=(chengxin records --wi); "
                          "COMP_CWORD=2; _chengxin; echo \"${COMPREPLY[*]}\"' > out 2> err",
                          g_dir, bindir, script), 0);
  cr_assert(out_has("out", "--wide"));
}
