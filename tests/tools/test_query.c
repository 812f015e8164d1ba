/* chengxin query commands: check exit codes, every output format parsed back, CJK alignment,
 * backup, verify catching a corrupted summary, usage errors, local vs remote output. */
#include <math.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "clitest.h"
#include "client.h" /* a receipt: the CLI's check prints none */
#include "exec.h" /* CX_PROTOCOL_VERSION */

TestSuite(query, .init = cli_setup, .fini = cli_teardown, .timeout = 120);

static char A[19], B[19], C[19], D[19], AUTH[19];

/* A: court_dishonest blacklist (deny procurement); B: broken commitment on the
 * commitment_broken list (review license); C: a licence only; D: tax_a red list. */
static void fixture(void) {
  uscc("91350100MA0000001", A);
  uscc("91350102MA0000002", B);
  uscc("91350103MA0000003", C);
  uscc("91350104MA0000004", D);
  uscc("11350100003000001", AUTH);
  char csv[4096];
  snprintf(csv, sizeof csv,
           "entity_code,entity_name,record_id,authority_code,authority_name,category,subtype,list_type,"
           "decision_date,valid_until\n"
           "%s,福州甲科技有限公司,(2024)闽01执1号,%s,福州市中级人民法院,blacklist,,court_dishonest,2024-01-10,\n"
           "%s,福州乙贸易有限公司,承〔2024〕2号,%s,福州市市场监督管理局,commitment,broken,commitment_broken,"
           "2024-02-01,2027-02-01\n"
           "%s,福州丙食品有限公司,许〔2024〕3号,%s,福州市市场监督管理局,license,,,2024-03-01,2029-03-01\n"
           "%s,福州丁建设工程有限公司,荣〔2024〕4号,%s,福州市税务局,redlist,,tax_a,2024-04-01,2027-04-01\n",
           A, AUTH, B, AUTH, C, AUTH, D, AUTH);
  spit("f.csv", csv);
  cr_assert_eq(cx("init --db st"), 0);
  cr_assert_eq(cx("import --db st f.csv"), 0, "%s", slurp("err"));
}

Test(query, check_exit_codes_follow_the_worst_verdict) {
  fixture();
  cr_assert_eq(cx("check --db st --as-of 2025-01-01 --action procurement %s", A), 3);
  cr_assert(out_has("out", "deny") && out_has("out", "限制参加政府采购活动")); /* names in the table */
  cr_assert_eq(cx("check --db st --as-of 2025-01-01 --action license %s", B), 4);
  cr_assert(out_has("out", "review"));
  cr_assert_eq(cx("check --db st --as-of 2025-01-01 --action procurement %s %s", C, D), 0);
  cr_assert_eq(cx("check --db st --as-of 2025-01-01 --action subsidy %s %s %s", C, B, A), 3);
  cr_assert_eq(cx("check --db st --as-of 2025-01-01 --action subsidy %s %s", C, B), 4);
  cr_assert_eq(cx("check --db st --as-of 2023-01-01 --action procurement %s", A), 0, "before the decision");
  /* a file of codes, one verdict per line */
  char list[256];
  snprintf(list, sizeof list, "# codes\n%s\n\n%s\n  %s  \n", C, D, B);
  spit("codes.txt", list);
  cr_assert_eq(cx("check --db st --as-of 2025-01-01 --action license --file codes.txt --format jsonl"), 4);
  char *out = slurp("out");
  int lines = 0;
  for (char *p = out; *p; p++) lines += *p == '\n';
  cr_assert_eq(lines, 3, "one line per code:\n%s", out);
  free(out);
  /* incentives for D when asking about licences */
  cr_assert_eq(cx("check --db st --as-of 2025-01-01 --action license %s --format json", D), 0);
  /* json is the executor's answer: {action, as_of, results: [{code, verdict, hits, incentives}]} */
  json_t *j = out_json();
  json_t *r0 = json_array_get(json_object_get(j, "results"), 0);
  cr_assert_str_eq(json_string_value(json_object_get(r0, "verdict")), "clear");
  int fast = 0;
  size_t k;
  json_t *inc;
  json_array_foreach(json_object_get(r0, "incentives"), k, inc)
    fast |= !strcmp(json_string_value(json_object_get(inc, "measure")), "fast_track");
  cr_assert(fast, "fast_track is among the incentives");
  json_decref(j);
  /* bad and unknown codes are verdicts, not failures */
  char bad[19];
  memcpy(bad, A, 19);
  bad[17] = bad[17] == '0' ? '1' : '0';
  cr_assert_eq(cx("check --db st --action procurement %s", bad), 1);
  cr_assert(out_has("out", "invalid_code"));
  char unk[19];
  uscc("91350105MA0000005", unk);
  cr_assert_eq(cx("check --db st --action procurement %s", unk), 0);
  cr_assert(out_has("out", "not_found"));
  cr_assert_eq(cx("check --db st --action no_such_action %s", A), 2);
}

/* Minimal CSV reader for the parse-back test: rows of fields (quotes, doubled quotes). */
static int csv_rows(const char *s, char fields[][32][256], int max_rows) {
  int r = 0, f = 0;
  size_t o = 0;
  int q = 0;
  while (*s && r < max_rows) {
    char c = *s++;
    if (q) {
      if (c == '"' && *s == '"') fields[r][f][o++] = '"', s++;
      else if (c == '"') q = 0;
      else if (o < 255) fields[r][f][o++] = c;
    } else if (c == '"') {
      q = 1;
    } else if (c == ',') {
      fields[r][f][o] = 0;
      f++, o = 0;
    } else if (c == '\n') {
      fields[r][f][o] = 0;
      r++, f = 0, o = 0;
    } else if (o < 255) {
      fields[r][f][o++] = c;
    }
  }
  return r;
}

static char g_rows[64][32][256];

Test(query, every_format_parses_back_to_the_same_rows) {
  cr_assert_eq(cx("gen --db st --entities 300 --records 3000 --seed 3"), 0);
  cr_assert_eq(cx("agg --db st --by category,severity --metrics count,amount,on_time_rate --format json"), 0);
  json_t *j = out_json();
  cr_assert(json_is_array(j) && json_array_size(j) > 5);
  json_int_t total = 0;
  size_t i;
  json_t *r;
  json_array_foreach(j, i, r) total += json_integer_value(json_object_get(r, "count"));
  cr_assert_eq(total, 3000);
  cr_assert_eq(cx("agg --db st --by category,severity --metrics count,amount,on_time_rate --format csv"), 0);
  char *csv = slurp("out");
  int n = csv_rows(csv, g_rows, 64);
  free(csv);
  cr_assert_eq((size_t)n, json_array_size(j) + 1, "csv rows vs json rows");
  cr_assert_str_eq(g_rows[0][0], "category");
  cr_assert_str_eq(g_rows[0][1], "category_name"); /* the names beside the codes */
  cr_assert_str_eq(g_rows[0][5], "amount");
  json_array_foreach(j, i, r) {
    cr_assert_str_eq(g_rows[i + 1][0], json_string_value(json_object_get(r, "category")));
    cr_assert_eq(atoll(g_rows[i + 1][4]), json_integer_value(json_object_get(r, "count")));
    cr_assert_eq(atoll(g_rows[i + 1][5]), json_integer_value(json_object_get(r, "amount")));
    double rate = atof(g_rows[i + 1][6]);
    cr_assert(rate >= 0 && rate <= 1 && fabs(rate - json_real_value(json_object_get(r, "on_time_rate"))) < 1e-9);
  }
  /* jsonl: one object per line, the same objects */
  cr_assert_eq(cx("agg --db st --by category,severity --metrics count,amount,on_time_rate --format jsonl"), 0);
  char *jl = slurp("out");
  char *save = NULL;
  size_t k = 0;
  for (char *line = strtok_r(jl, "\n", &save); line; line = strtok_r(NULL, "\n", &save), k++) {
    json_t *o = json_loads(line, 0, NULL);
    cr_assert(o && json_equal(o, json_array_get(j, k)), "jsonl line %zu differs", k);
    json_decref(o);
  }
  cr_assert_eq(k, json_array_size(j));
  free(jl);
  /* the scan answers like the rollups */
  cr_assert_eq(cx("agg --db st --by category,severity --metrics count,amount,on_time_rate --format json --scan"), 0);
  json_t *js = out_json();
  cr_assert(json_equal(j, js), "scan and rollup disagree");
  json_decref(js);
  json_decref(j);
  /* status: one object with its counts nested */
  cr_assert_eq(cx("search --db st 福建 --limit 1 --format json"), 0);
  j = out_json();
  char code[32];
  snprintf(code, sizeof code, "%s", json_string_value(json_object_get(json_array_get(j, 0), "code")));
  json_decref(j);
  cr_assert_eq(cx("status --db st %s --format json", code), 0);
  j = out_json();
  cr_assert_str_eq(json_string_value(json_object_get(j, "code")), code);
  cr_assert(json_is_array(json_object_get(j, "counts")) && json_array_size(json_object_get(j, "counts")) >= 1);
  json_decref(j);
}

/* Every line of a table has the same display width (CJK characters count 2). */
Test(query, tables_align_cjk_text) {
  cr_assert_eq(cx("gen --db st --entities 300 --records 3000 --seed 9"), 0);
  const char *cmds[] = {"search --db st 福 --limit 30", "agg --db st --by city,category --limit 40",
                        "agg --db st --by authority --order count --desc --limit 20"};
  for (size_t c = 0; c < sizeof cmds / sizeof cmds[0]; c++) {
    cr_assert_eq(cx("%s", cmds[c]), 0, "%s", cmds[c]);
    char *out = slurp("out");
    char *save = NULL;
    size_t w0 = 0;
    int lines = 0, cjk = 0;
    for (char *line = strtok_r(out, "\n", &save); line; line = strtok_r(NULL, "\n", &save), lines++) {
      if (line[0] == '(' && strstr(line, " row")) break; /* the "(N rows)" line after the table */
      size_t w = disp_width(line, strlen(line));
      if (lines == 0) w0 = w;
      cr_assert_eq(w, w0, "%s: line %d has width %zu, the header %zu:\n%s", cmds[c], lines + 1, w, w0, line);
      cjk |= strlen(line) != w;
    }
    cr_assert(lines > 3 && cjk, "%s: expected a table with Chinese text", cmds[c]);
    free(out);
  }
}

Test(query, records_pages_and_all) {
  cr_assert_eq(cx("gen --db st --entities 50 --records 2000 --seed 2"), 0);
  /* the entity with the most records */
  cr_assert_eq(cx("gen --out g.csv --entities 50 --records 2000 --seed 2"), 0);
  cr_assert_eq(cx_test_sh("cut -d, -f1 '%s/g.csv' | sort | uniq -c | sort -rn | head -1 > '%s/top'", g_dir, g_dir), 0);
  char *top = slurp("top");
  long n = 0;
  char code[32];
  cr_assert_eq(sscanf(top, "%ld %31s", &n, code), 2);
  free(top);
  cr_assert(n > 20);
  cr_assert_eq(cx("records --db st %s --format json", code), 0);
  json_t *j = out_json();
  cr_assert_eq(json_array_size(j), 20);
  json_decref(j);
  cr_assert(out_has("err", "--cursor"));
  cr_assert_eq(cx("records --db st %s --all --format json", code), 0);
  j = out_json();
  cr_assert_eq((long)json_array_size(j), n);
  json_decref(j);
}

Test(query, backup_answers_like_the_original) {
  fixture();
  cr_assert_eq(cx("backup --db st bk"), 0);
  cr_assert_eq(cx("status --db st %s --as-of 2025-01-01", A), 0);
  char *a = slurp("out");
  cr_assert_eq(cx("status --db bk %s --as-of 2025-01-01", A), 0);
  char *b = slurp("out");
  cr_assert_str_eq(a, b);
  free(a);
  free(b);
  cr_assert_eq(cx("verify --db bk"), 0);
  cr_assert_eq(cx("compact --db bk"), 0);
  cr_assert_eq(cx("check --db bk --as-of 2025-01-01 --action procurement %s", A), 3);
}

Test(query, verify_catches_a_corrupted_summary) {
  fixture();
  cr_assert_eq(cx("verify --db st"), 0);
  cr_assert_eq(cx("debug corrupt-summary --db st %s", A), 0, "%s", slurp("err"));
  cr_assert_eq(cx("verify --db st"), 1, "verify missed the corruption");
  cr_assert(out_has("out", "difference"));
}

Test(query, usage_errors_and_messages) {
  fixture();
  cr_assert_eq(cx("no-such-command"), 2);
  cr_assert_eq(cx("status --db st"), 2);
  cr_assert_eq(cx("status %s", A), 2);
  cr_assert_eq(cx("status --db st --format xml %s", A), 2);
  cr_assert_eq(cx("status --db st --as-of 2025-13-01 %s", A), 2);
  cr_assert_eq(cx("agg --db st --by nonsense"), 2);
  cr_assert_eq(cx("agg --db st --where category"), 2);
  cr_assert_eq(cx("records --db st --limit 0 %s", A), 2);
  cr_assert_eq(cx("info"), 2);
  cr_assert_eq(cx("help"), 0);
  cr_assert(out_has("out", "commands:"));
  cr_assert_eq(cx("check --help"), 0);
  cr_assert(out_has("out", "usage: chengxin check"));
  char unk[19];
  uscc("91350105MA0000005", unk);
  cr_assert_eq(cx("status --db st %s", unk), 1);
  cr_assert(out_has("err", "chengxin: status "), "%s", slurp("err"));
  cr_assert_eq(cx("info --db does-not-exist"), 1);
  cr_assert(out_has("err", "chengxin: "));
}

/* Both binaries name the release, the protocol and the store schema in one shape
 * (docs/protocol.md §10). */
Test(query, version_names_the_release_the_protocol_and_the_schema) {
  char want[128];
  snprintf(want, sizeof want, "chengxin %s (protocol %s, store schema %u)\n", CX_VERSION,
           CX_PROTOCOL_VERSION, (unsigned)CX_SCHEMA_VERSION);
  cr_assert_eq(cx("--version"), 0);
  char *out = slurp("out");
  cr_assert(strncmp(out, want, strlen(want)) == 0, "%s", out);
  cr_assert(strstr(out, "\nlibraries: lmdb "), "the libraries it runs on: %s", out);
  char commit[80];
  snprintf(commit, sizeof commit, "\ncommit: %s\n", cx_build_commit());
  cr_assert(strstr(out, commit) && strcmp(cx_build_commit(), "") != 0, "the commit it was built from: %s", out);
  free(out);
  char bin[512];
  cx_test_bin("chengxind", bin, sizeof bin);
  if (access(bin, X_OK) != 0) return; /* a build without the server */
  cr_assert_eq(cx_test_sh("'%s' --version > '%s/out' 2>/dev/null", bin, g_dir), 0);
  out = slurp("out");
  snprintf(want, sizeof want, "chengxind %s (protocol %s, store schema %u)\n", CX_VERSION,
           CX_PROTOCOL_VERSION, (unsigned)CX_SCHEMA_VERSION);
  cr_assert(strncmp(out, want, strlen(want)) == 0, "%s", out);
  cr_assert(strstr(out, "libuv ") && strstr(out, "h2o ") && strstr(out, "OpenSSL"), "%s", out);
  cr_assert(strstr(out, commit), "%s", out);
  free(out);
}

/* ---------------------------------------------------------------- remote */

static pid_t start_server(const char *db, int *port) {
  char bin[512], tok[600], log[600];
  cx_test_bin("chengxind", bin, sizeof bin);
  if (access(bin, X_OK) != 0) return -1;
  snprintf(tok, sizeof tok, "%s/tokens", g_dir);
  snprintf(log, sizeof log, "%s/server.log", g_dir);
  spit("tokens", "tok-admin-1-0123456789 admin ops\ntok-approval-1-0123456789 approval gate\n");
  chmod(tok, 0600);
  pid_t pid = fork();
  if (pid == 0) {
    FILE *f = freopen(log, "w", stderr);
    (void)f;
    char dbp[600];
    snprintf(dbp, sizeof dbp, "%s/%s", g_dir, db);
    execl(bin, "chengxind", "--db", dbp, "--listen", "127.0.0.1:0", "--tokens", tok, "--threads", "1", (char *)NULL);
    _exit(127);
  }
  for (int i = 0; i < 200; i++) {
    char *s = slurp("server.log");
    char *p = strstr(s, "listening on 127.0.0.1:");
    if (p) {
      *port = atoi(p + strlen("listening on 127.0.0.1:"));
      free(s);
      return pid;
    }
    free(s);
    usleep(20000);
  }
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);
  return -1;
}

Test(query, remote_mode_prints_what_local_mode_prints) {
  cr_assert_eq(cx("gen --db st --entities 300 --records 3000 --seed 4"), 0);
  fixture(); /* init on an existing store only opens it; A..D join the generated data */
  int port = 0;
  pid_t pid = start_server("st", &port);
  if (pid < 0) cr_skip_test("chengxind is not built");
  const char *cmds[] = {
      "status %s --format json", "records %s --format csv", "check --action procurement %s",
      "search 福州 --limit 5", "agg --by city,category --metrics count,amount,on_time_rate --format json",
  };
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
    char cmd[256];
    snprintf(cmd, sizeof cmd, cmds[i], A);
    int lrc = cx("%s --db st --as-of 2025-01-01", cmd);
    char *l = slurp("out");
    int rrc = cx("%s --connect 127.0.0.1:%d --token-file tokens --as-of 2025-01-01", cmd, port);
    char *r = slurp("out");
    cr_expect_eq(lrc, rrc, "%s: exit %d local, %d remote (%s)", cmd, lrc, rrc, slurp("err"));
    cr_expect_str_eq(l, r, "%s: local and remote differ", cmd);
    free(l);
    free(r);
  }
  /* no token: the public role may not run check */
  cr_expect_eq(cx("check --action procurement %s --connect 127.0.0.1:%d", A, port), 1);
  cr_expect(out_has("err", "chengxin: check"));
  /* status changes and stats through the server */
  cr_expect_eq(cx("repair --authority %s --record-id '(2024)闽01执1号' --reason 已履行 --connect 127.0.0.1:%d "
                  "--token-file tokens", AUTH, port), 0, "%s", slurp("err"));
  cr_expect(out_has("out", "repaired"));
  cr_expect_eq(cx("check --action procurement %s --as-of 2025-01-01 --connect 127.0.0.1:%d --token-file tokens", A,
                  port), 0);
  /* import through ingest: the server rejects the bad code, the line is reported, the rest lands */
  char good[19], bad[19], csv[1024];
  uscc("91350111MA0000011", good);
  memcpy(bad, good, 19);
  bad[17] = bad[17] == '0' ? '1' : '0';
  snprintf(csv, sizeof csv,
           "entity_code,entity_name,record_id,authority_code,category,decision_date\n"
           "%s,福州坏码有限公司,r1,%s,penalty,2024-01-02\n"
           "%s,福州好码有限公司,r2,%s,penalty,2024-12-03\n"
           "%s,福州好码有限公司,r3,%s,penalty,2024-13-03\n",
           bad, AUTH, good, AUTH, good, AUTH);
  spit("r.csv", csv);
  cr_expect_eq(cx("import --connect 127.0.0.1:%d --token-file tokens r.csv", port), 1);
  char *err = slurp("err");
  cr_expect(strstr(err, "r.csv:2: ") && strstr(err, "r.csv:4: ") && !strstr(err, "r.csv:3:"), "%s", err);
  cr_expect(strstr(err, "1 inserted"), "%s", err);
  free(err);
  cr_expect_eq(cx("status %s --connect 127.0.0.1:%d", good, port), 0);
  cr_expect_eq(cx("stats --connect 127.0.0.1:%d --token-file tokens --format json", port), 0);
  json_t *st = out_json();
  cr_expect(json_object_get(st, "ops") != NULL);
  json_decref(st);
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);
}

Test(query, public_role_masks_id_numbers_and_hides_persons) {
  fixture();
  char id17[] = "35010219800101001", id[19];
  memcpy(id, id17, 17);
  id[17] = cx_idcard_check_char(id17);
  id[18] = 0;
  char csv[1024];
  snprintf(csv, sizeof csv,
           "entity_code,entity_name,record_id,authority_code,category,list_type,decision_date\n"
           "%s,张三,(2024)闽01执9号,%s,blacklist,court_dishonest,2024-06-01\n",
           id, AUTH);
  spit("p.csv", csv);
  cr_assert_eq(cx("import --db st p.csv"), 0, "%s", slurp("err"));
  cr_assert_eq(cx("status --db st %s --as-of 2025-01-01 --format json", id), 0);
  json_t *j = out_json();
  cr_assert_str_eq(json_string_value(json_object_get(j, "code")), id);
  json_decref(j);
  cr_assert_eq(cx("status --db st %s --role public --format json", id), 0, "the public sees today (CLI_TODAY)");
  j = out_json();
  cr_assert(strstr(json_string_value(json_object_get(j, "code")), "********"), "not masked: %s",
            json_string_value(json_object_get(j, "code")));
  json_decref(j);
  cr_assert_eq(cx("search --db st 张三 --role public --format json"), 0);
  j = out_json();
  cr_assert_eq(json_array_size(j), 0, "the public role found a person by name");
  json_decref(j);
}

Test(query, load_catalog_reports_the_bad_line) {
  fixture();
  spit("cat.tsv", "# a catalogue\naction\tprocurement\t政府采购\nnonsense line\n");
  cr_assert_eq(cx("load-catalog --db st cat.tsv"), 1);
  cr_assert(out_has("err", "cat.tsv:3:"), "%s", slurp("err"));
  const char *src = cx_test_source_dir();
  cr_assert_eq(cx("load-catalog --db st '%s/data/catalog.tsv'", src), 0, "%s", slurp("err"));
  cr_assert_eq(cx("check --db st --as-of 2025-01-01 --action procurement %s", A), 3);
}

Test(query, load_catalog_takes_an_older_format_file_and_refuses_half_a_provenance) {
  fixture();
  /* the format before provenance: measure lines of five fields */
  spit("old.tsv", "action\tprocurement\t政府采购\n"
                  "measure\tno_procurement\tdeny\tprocurement\t限制参加政府采购活动\n"
                  "list\tcourt_dishonest\tblacklist\t失信被执行人\tno_procurement\n");
  cr_assert_eq(cx("load-catalog --db st old.tsv"), 0, "%s", slurp("err"));
  cr_assert_eq(cx("check --db st --as-of 2025-01-01 --action procurement %s", A), 3);
  /* a basis without an edition, and an edition nobody declared: refused by line */
  spit("half.tsv", "action\tprocurement\t政府采购\n"
                   "measure\tno_procurement\tdeny\tprocurement\t限制\t《政府采购法》第二十二条\n");
  cr_assert_eq(cx("load-catalog --db st half.tsv"), 1);
  cr_assert(out_has("err", "half.tsv:2:"), "%s", slurp("err"));
  spit("undeclared.tsv", "action\tprocurement\t政府采购\n"
                         "measure\tno_procurement\tdeny\tprocurement\t限制\t《政府采购法》\tqd2099\n");
  cr_assert_eq(cx("load-catalog --db st undeclared.tsv"), 1);
  cr_assert(out_has("err", "undeclared.tsv:2:"), "%s", slurp("err"));
  cr_assert_eq(cx("check --db st --as-of 2025-01-01 --action procurement %s", A), 3, "the old one stays");
}

Test(query, repair_lifts_the_measures_and_objection_flags) {
  fixture();
  cr_assert_eq(cx("check --db st --as-of 2025-01-01 --action procurement %s", A), 3);
  cr_assert_eq(cx("objection --db st --authority %s --record-id '(2024)闽01执1号' --reason 异议申请", AUTH), 0,
               "%s", slurp("err"));
  cr_assert_eq(cx("status --db st %s --as-of 2025-01-01 --format json", A), 0);
  cr_assert(out_has("out", "objection"));
  cr_assert_eq(cx("repair --db st --authority %s --record-id '(2024)闽01执1号' --reason 已履行", AUTH), 0,
               "%s", slurp("err"));
  cr_assert(out_has("out", "repaired"));
  cr_assert_eq(cx("audit --db st --op repair --format jsonl"), 0, "%s", slurp("err"));
  cr_assert(out_has("out", "\"detail\":\"active -> repaired: 已履行\""), "%s", slurp("out"));
  cr_assert_eq(cx("check --db st --as-of 2025-01-01 --action procurement %s", A), 0, "repair did not lift the measures");
  cr_assert_eq(cx("repair --db st --authority %s --record-id no-such-record --reason x", AUTH), 1);
  cr_assert(out_has("err", "chengxin: repair no-such-record: "));
  cr_assert_eq(cx("repair --db st --authority %s --record-id x", AUTH), 2, "a reason is required");
  cr_assert_eq(cx("verify --db st"), 0);
}

Test(query, agg_chart_draws_one_bar_per_row) {
  cr_assert_eq(cx("gen --db st --entities 200 --records 2000 --seed 8"), 0);
  cr_assert_eq(cx("agg --db st --by year --chart"), 0);
  char *out = slurp("out");
  cr_assert(strstr(out, "█"), "%s", out);
  int bars = 0;
  for (char *p = out; (p = strstr(p, "\n20")); p++) bars++;
  cr_assert_eq(bars, 6, "2020..2025: one bar each, in order (tests/tools/test_chart.c has the rest):\n%s", out);
  cr_assert(strstr(out, "\n2020 ") < strstr(out, "\n2025 "), "%s", out);
  free(out);
}

Test(query, a_rate_without_data_is_na_in_tables_and_null_in_json) {
  fixture();
  /* other categories have no lawsuits: their loss rate is no data, not 0% */
  cr_assert_eq(cx("agg --db st --by category --metrics count,loss_rate --format json"), 0, "%s", slurp("err"));
  json_t *j = out_json();
  int seen = 0;
  for (size_t i = 0; i < json_array_size(j); i++) {
    json_t *row = json_array_get(j, i);
    if (strcmp(json_string_value(json_object_get(row, "category")), "lawsuit") == 0) continue;
    cr_assert(json_is_null(json_object_get(row, "loss_rate")), "a loss rate without lawsuits must be null");
    seen = 1;
  }
  cr_assert(seen);
  json_decref(j);
  cr_assert_eq(cx("agg --db st --by category --metrics count,loss_rate"), 0);
  cr_assert(out_has("out", "n/a"), "%s", slurp("out"));
  cr_assert(!out_has("out", "0.0%"), "%s", slurp("out"));
}

/* ---------------------------------------------------------------- feedback, agg --of checks */

typedef struct chk_args { const char *code; } chk_args;
static int pack_chk(msgpack_packer *pk, void *ctx) {
  const chk_args *a = ctx;
  msgpack_pack_str_with_body(pk, "codes", 5);
  msgpack_pack_array(pk, 1);
  msgpack_pack_str_with_body(pk, a->code, strlen(a->code));
  msgpack_pack_str_with_body(pk, "action", 6);
  msgpack_pack_str_with_body(pk, "procurement", 11);
  return 0;
}
static const msgpack_object *mget(const msgpack_object *m, const char *k) {
  if (!m || m->type != MSGPACK_OBJECT_MAP) return NULL;
  for (uint32_t i = 0; i < m->via.map.size; i++)
    if (cx_mpo_str_eq(&m->via.map.ptr[i].key, k)) return &m->via.map.ptr[i].val;
  return NULL;
}
/* A check of code over the wire as the approval system: its receipt and verdict. */
static void wire_check(int port, const char *code, char receipt[64], char verdict[16]) {
  cx_client *c = NULL;
  cr_assert_eq(cx_client_connect("127.0.0.1", port, 5000, &c), 0);
  char role[32];
  cr_assert_eq(cx_client_auth(c, "tok-approval-1-0123456789", role, sizeof role), 0);
  chk_args a = {code};
  cx_client_resp r;
  cr_assert_eq(cx_client_call(c, "check", 2, pack_chk, &a, &r), 0);
  cr_assert(r.ok);
  const msgpack_object *res = mget(r.result, "results");
  cr_assert(res && res->type == MSGPACK_OBJECT_ARRAY && res->via.array.size == 1);
  const msgpack_object *rc = mget(&res->via.array.ptr[0], "receipt"), *v = mget(&res->via.array.ptr[0], "verdict");
  cr_assert(rc && rc->type == MSGPACK_OBJECT_STR && v && v->type == MSGPACK_OBJECT_STR);
  snprintf(receipt, 64, "%.*s", (int)rc->via.str.size, rc->via.str.ptr);
  snprintf(verdict, 16, "%.*s", (int)v->via.str.size, v->via.str.ptr);
  cx_client_close(c);
}

Test(query, feedback_over_the_wire_and_agg_of_checks_count_what_approval_systems_did) {
  fixture();
  int port = 0;
  pid_t pid = start_server("st", &port);
  if (pid < 0) cr_skip_test("chengxind is not built");
  spit("tapp", "tok-approval-1-0123456789\n");
  chmod(g_dir, 0700);
  char path[600];
  snprintf(path, sizeof path, "%s/tapp", g_dir);
  chmod(path, 0600);
  char r1[64], r2[64], v[16];
  wire_check(port, A, r1, v);
  cr_assert_str_eq(v, "deny");
  wire_check(port, C, r2, v);
  cr_assert_str_eq(v, "clear");

  /* the approval system reports; right after the check (the entry may still be queued) */
  cr_assert_eq(cx("feedback %s restricted --note 不予受理 --connect 127.0.0.1:%d --token-file tapp --format csv", r1,
                  port), 0, "%s", slurp("err"));
  char want[256];
  snprintf(want, sizeof want, "receipt,outcome,action,verdict,checked_at,previous\n%s,restricted,procurement,deny,", r1);
  char *out = slurp("out");
  cr_expect(strncmp(out, want, strlen(want)) == 0, "%s", out);
  cr_expect(strstr(out, "Z,\n") != NULL, "no previous feedback: %s", out);
  free(out);
  /* a later report replaces it and names the earlier one */
  cr_assert_eq(cx("feedback %s approved_after_review --connect 127.0.0.1:%d --token-file tapp --format csv", r1, port),
               0, "%s", slurp("err"));
  cr_expect(out_has("out", ",approved_after_review,procurement,deny,") && out_has("out", "Z,restricted\n"),
            "%s", slurp("out"));
  cr_assert_eq(cx("feedback %s approved --connect 127.0.0.1:%d --token-file tapp", r2, port), 0, "%s", slurp("err"));
  /* local mode (the store's user: any receipt, as local:<user>) replaces it beside the server */
  cr_assert_eq(cx("feedback %s restricted --db st --format csv", r2), 0, "%s", slurp("err"));
  cr_expect(out_has("out", ",restricted,procurement,clear,") && out_has("out", "Z,approved\n"), "%s", slurp("out"));
  cr_assert_eq(cx("feedback %s approved --db st", r2), 0, "%s", slurp("err"));
  /* refused: an unknown outcome and a forged receipt (bad_request: exit 2), the public role */
  cr_expect_eq(cx("feedback %s maybe --connect 127.0.0.1:%d --token-file tapp", r1, port), 2);
  cr_expect(out_has("err", "outcome must be restricted, approved_after_review or approved"), "%s", slurp("err"));
  char forged[64];
  snprintf(forged, sizeof forged, "%s", r1);
  forged[31] = forged[31] == '0' ? '1' : '0';
  cr_expect_eq(cx("feedback %s restricted --connect 127.0.0.1:%d --token-file tapp", forged, port), 2);
  cr_expect(out_has("err", "not a receipt of this platform"), "%s", slurp("err"));
  cr_expect_eq(cx("feedback %s restricted --connect 127.0.0.1:%d", r1, port), 1, "the public may not report");
  cr_expect_eq(cx("feedback %s restricted", r1), 2, "feedback needs --db or --connect");
  cr_expect_eq(cx("feedback %s", r1), 2);

  /* analysts' view (admin's token): the rollup, the same over the wire and in local mode */
  const char *agg = "agg --of checks --by action,verdict --metrics checks,feedback,restricted,approved_after_review,"
                    "approved,restricted_rate --format csv";
  cr_assert_eq(cx("%s --connect 127.0.0.1:%d --token-file tokens", agg, port), 0, "%s", slurp("err"));
  char *remote = slurp("out");
  cr_expect_str_eq(remote,
                   "action,verdict,checks,feedback,restricted,approved_after_review,approved,restricted_rate\n"
                   "procurement,clear,1,1,0,0,1,0\n"
                   "procurement,deny,1,1,0,1,0,0\n");
  cr_assert_eq(cx("%s --db st", agg), 0, "%s", slurp("err"));
  char *local = slurp("out");
  cr_expect_str_eq(local, remote, "local mode reads the same rollup");
  free(local);
  free(remote);
  cr_assert_eq(cx("agg --of checks --connect 127.0.0.1:%d --token-file tokens", port), 0, "%s", slurp("err"));
  cr_expect(out_has("out", "checks") && out_has("out", "2"), "%s", slurp("out"));
  cr_expect_eq(cx("agg --of checks --by category --db st"), 2, "category is not a dimension of checks");
  cr_expect(out_has("err", "not a dimension of checks"), "%s", slurp("err"));
  cr_expect_eq(cx("agg --of nothing --db st"), 2);
  cr_expect(out_has("err", "of must be records or checks"), "%s", slurp("err"));

  /* the server counts its check log */
  cr_assert_eq(cx("stats --connect 127.0.0.1:%d --token-file tokens --format json", port), 0);
  json_t *st = out_json();
  json_t *cl = json_object_get(st, "check_log");
  cr_assert(cl, "stats has check_log");
  cr_expect(json_is_true(json_object_get(cl, "enabled")));
  cr_expect_eq(json_integer_value(json_object_get(cl, "queued")), 2);
  cr_expect_eq(json_integer_value(json_object_get(cl, "written")), 2);
  cr_expect_eq(json_integer_value(json_object_get(cl, "retention_days")), 730);
  cr_expect_gt(json_integer_value(json_object_get(cl, "last_flush_ms")), 0);
  json_decref(st);

  /* an operator prunes the log: the receipts go, the rollup stays, the prune is audited. Entries
   * carry the clock's time (CHENGXIN_TODAY moves only their day), so the prune runs on the
   * clock's day too, up to tomorrow's start in Beijing. */
  time_t tom = time(NULL) + CX_BEIJING_OFFSET_S + 86400;
  struct tm tmv;
  gmtime_r(&tom, &tmv);
  char day[16], after[16];
  strftime(day, sizeof day, "%Y-%m-%d", &tmv);
  tom += 86400;
  gmtime_r(&tom, &tmv);
  strftime(after, sizeof after, "%Y-%m-%d", &tmv);
  unsetenv("CHENGXIN_TODAY");
  cr_expect_eq(cx("prune-checks --db st --before %s", after), 2, "after tomorrow is refused");
  cr_assert_eq(cx("prune-checks --db st --before %s", day), 0, "%s", slurp("err"));
  setenv("CHENGXIN_TODAY", CLI_TODAY, 1);
  snprintf(want, sizeof want, "2 check-log entries before %s deleted", day);
  cr_expect(out_has("err", want), "%s", slurp("err"));
  cr_expect_eq(cx("feedback %s restricted --connect 127.0.0.1:%d --token-file tapp", r2, port), 1);
  cr_expect(out_has("err", "no check with this receipt"), "%s", slurp("err"));
  cr_assert_eq(cx("agg --of checks --db st --format csv"), 0);
  cr_expect(out_has("out", "checks\n2\n"), "%s", slurp("out"));
  cr_assert_eq(cx("audit --db st --format csv"), 0);
  snprintf(want, sizeof want, "before=%s", day);
  cr_expect(out_has("out", "prune-checks") && out_has("out", want), "%s", slurp("out"));
  cr_expect_eq(cx("prune-checks --db st --before 2025-02-30"), 2);
  cr_expect_eq(cx("prune-checks --db st"), 2);
  kill(pid, SIGTERM);
  waitpid(pid, NULL, 0);
}
