/* `chengxin gen`: determinism, valid codes, a store that verifies, usage errors. */
#include "clitest.h"

TestSuite(gen, .init = cli_setup, .fini = cli_teardown, .timeout = 120);

Test(gen, same_seed_gives_identical_bytes) {
  cr_assert_eq(cx("gen --entities 500 --records 5000 --seed 42 --out a.csv"), 0);
  cr_assert_eq(cx("gen --entities 500 --records 5000 --seed 42 --out b.csv"), 0);
  cr_assert_eq(cx("gen --entities 500 --records 5000 --seed 43 --out c.csv"), 0);
  cr_assert_eq(cx_test_sh("cmp -s '%s/a.csv' '%s/b.csv'", g_dir, g_dir), 0, "same seed, different bytes");
  cr_assert_neq(cx_test_sh("cmp -s '%s/a.csv' '%s/c.csv'", g_dir, g_dir), 0, "seed has no effect");
  cr_assert_eq(cx("gen --entities 500 --records 5000 --seed 42 --out a.jsonl"), 0);
  cr_assert_eq(cx("gen --entities 500 --records 5000 --seed 42 --format jsonl --out -"), 0);
  cr_assert_eq(cx_test_sh("cmp -s '%s/a.jsonl' '%s/out'", g_dir, g_dir), 0, "--out - differs from a file");
}

Test(gen, csv_has_the_requested_rows_and_valid_codes) {
  cr_assert_eq(cx("gen --entities 300 --records 2000 --seed 7 --out g.csv"), 0);
  char *s = slurp("g.csv");
  int rows = 0, cats[CX_CAT_COUNT] = {0};
  char *save = NULL;
  char *line = strtok_r(s, "\n", &save);
  cr_assert(line && strncmp(line, "entity_code,entity_name,entity_kind,record_id,authority_code", 60) == 0);
  while ((line = strtok_r(NULL, "\n", &save))) {
    /* the first seven columns never hold an ASCII comma or a quote */
    char *f[7];
    char *p = line;
    for (int i = 0; i < 7; i++) {
      f[i] = p;
      p = strchr(p, ',');
      cr_assert(p, "short row %d", rows + 2);
      *p++ = 0;
    }
    char norm[19];
    int person;
    cr_assert_eq(cx_code_normalize(f[0], strlen(f[0]), norm, &person), 0, "bad entity code %s", f[0]);
    cr_assert_eq(cx_uscc_normalize(f[4], strlen(f[4]), norm), 0, "bad authority code %s", f[4]);
    cr_assert(strncmp(f[4], "11", 2) == 0, "authority code %s is not a government body's", f[4]);
    int cat = cx_enum_parse(cx_category_names, CX_CAT_COUNT, cx_str_c(f[6]));
    cr_assert(cat >= 0, "category %s", f[6]);
    cats[cat]++;
    rows++;
  }
  cr_assert_eq(rows, 2000);
  for (int c = 0; c < CX_CAT_COUNT; c++) cr_assert(cats[c] > 0, "no %s records", cx_category_names[c]);
  free(s);
}

Test(gen, into_a_store_then_verify_and_info_agree) {
  cr_assert_eq(cx("gen --db st --entities 500 --records 5000 --seed 1"), 0);
  cr_assert_eq(cx("verify --db st"), 0, "verify found differences");
  cr_assert(out_has("err", "0 differences"));
  cr_assert_eq(cx("info --db st --format json"), 0);
  json_t *j = out_json();
  cr_assert_eq(json_integer_value(json_object_get(j, "entities")), 500);
  cr_assert_eq(json_integer_value(json_object_get(j, "records")), 5000);
  cr_assert_eq(json_integer_value(json_object_get(j, "schema_version")), CX_SCHEMA_VERSION);
  json_decref(j);
}

Test(gen, store_equals_import_of_the_same_csv) {
  cr_assert_eq(cx("gen --db st1 --entities 400 --records 3000 --seed 5"), 0);
  cr_assert_eq(cx("gen --out g.jsonl --entities 400 --records 3000 --seed 5"), 0);
  cr_assert_eq(cx("init --db st2"), 0);
  cr_assert_eq(cx("import --db st2 g.jsonl"), 0, "import of gen's own output rejected rows");
  cr_assert_eq(cx("info --db st1 --format csv"), 0);
  char *a = slurp("out");
  cr_assert_eq(cx("info --db st2 --format csv"), 0);
  char *b = slurp("out");
  /* columns path..rollup_cells: path differs, the counts must not */
  char *ca = strchr(strchr(a, '\n') + 1, ','), *cb = strchr(strchr(b, '\n') + 1, ',');
  cr_assert(ca && cb);
  for (int i = 0; i < 5; i++) {
    char *na = strchr(ca + 1, ','), *nb = strchr(cb + 1, ',');
    cr_assert_eq(na - ca, nb - cb);
    cr_assert_eq(strncmp(ca, cb, (size_t)(na - ca)), 0, "info differs: %s vs %s", a, b);
    ca = na, cb = nb;
  }
  free(a);
  free(b);
}

/* What `export` holds but the audit log and the header/trailer (whose import times differ). */
static char *content_of(const char *db) {
  cr_assert_eq(cx("export --db %s --quiet --out %s.exp", db, db), 0);
  char path[64];
  snprintf(path, sizeof path, "%s.exp", db);
  char *all = slurp(path);
  size_t n = strlen(all), k = 0;
  char *keep = malloc(n + 1);
  cr_assert(keep);
  for (char *line = all, *nl; *line; line = nl ? nl + 1 : line + strlen(line)) {
    nl = strchr(line, '\n');
    size_t len = nl ? (size_t)(nl - line) + 1 : strlen(line);
    static const char *const skip[] = {"{\"type\":\"audit\"", "{\"type\":\"header\"", "{\"type\":\"trailer\""};
    int drop = 0;
    for (size_t i = 0; i < sizeof skip / sizeof skip[0]; i++) drop |= !strncmp(line, skip[i], strlen(skip[i]));
    if (drop) continue;
    memcpy(keep + k, line, len);
    k += len;
  }
  keep[k] = 0;
  free(all);
  return keep;
}

/* Into a new store gen writes one bulk load; its content is the row path's record for record. */
Test(gen, a_new_store_holds_what_the_row_path_writes) {
  cr_assert_eq(cx("gen --db st1 --entities 400 --records 3000 --seed 5"), 0);
  cr_assert_eq(cx("gen --out g.jsonl --entities 400 --records 3000 --seed 5"), 0);
  cr_assert_eq(cx("init --db st2"), 0);
  cr_assert_eq(cx("import --builder row --db st2 g.jsonl"), 0);
  char *a = content_of("st1"), *b = content_of("st2");
  cr_assert(strlen(a) > 100000, "export of st1: %zu bytes", strlen(a));
  cr_assert(strcmp(a, b) == 0, "gen --db and import --builder row of its output differ");
  free(a);
  free(b);
  cr_assert_eq(cx("verify --db st1"), 0);
}

/* Into a store that holds records, gen goes batch by batch (no bulk load over existing data):
 * the same seed again finds every record unchanged. */
Test(gen, onto_a_populated_store_it_goes_batch_by_batch) {
  cr_assert_eq(cx("gen --db st --entities 300 --records 2000 --seed 5"), 0);
  cr_assert_eq(cx("gen --db st --entities 300 --records 2000 --seed 5 --batch 100"), 0);
  cr_assert(out_has("err", "(0 inserted, 0 replaced, 2000 unchanged, 0 rejected)"));
  cr_assert_eq(cx("verify --db st"), 0, "verify found differences");
  cr_assert_eq(cx("info --db st --format json"), 0);
  json_t *j = out_json();
  cr_assert_eq(json_integer_value(json_object_get(j, "records")), 2000);
  json_decref(j);
}

Test(gen, usage_errors_exit_2) {
  cr_assert_eq(cx("gen --entities 10 --out x.csv"), 2);
  cr_assert_eq(cx("gen --entities 10 --records 5 --out x.csv"), 2);
  cr_assert_eq(cx("gen --entities 10 --records 50 --out x.csv --db st"), 2);
  cr_assert_eq(cx("gen --entities ten --records 50 --out x.csv"), 2);
  cr_assert_eq(cx("gen --entities 10 --records 50"), 2);
  cr_assert(out_has("err", "chengxin: gen"));
}

Test(gen, a_store_of_a_newer_schema_is_refused_with_both_versions) {
  cr_assert_eq(cx("init --db st"), 0);
  char path[512];
  snprintf(path, sizeof path, "%s/st", g_dir);
  cx_store *st;
  cx_store_opts o = {0};
  cr_assert_eq(cx_store_open(path, &o, &st), 0);
  cr_assert_eq(cx_store_debug_set_schema(st, CX_SCHEMA_VERSION + 1), 0);
  cx_store_close(st);
  cr_assert_eq(cx("info --db st"), 1);
  char want[96];
  snprintf(want, sizeof want, "schema version %u, this build needs %u", CX_SCHEMA_VERSION + 1,
           CX_SCHEMA_VERSION);
  cr_assert(out_has("err", want), "stderr names both versions");
  cr_assert(out_has("err", "newer chengxin"));
}
