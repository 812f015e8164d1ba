/* test_export.c — `chengxin export`, `chengxin restore` and `verify --digest`: a generated
 * store with repairs, revokes, objections and audit entries moves through an export with the
 * same content digest; filters make partial exports that restore into stores of the subset;
 * a bad line is refused by its line number and leaves no store; a non-empty target is
 * refused. */
#include <dirent.h>
#include <sys/stat.h>

#include "clitest.h"

TestSuite(export, .init = cli_setup, .fini = cli_teardown, .timeout = 300);

static char A[19], B[19], AUTH[19], AUTH2[19];

static void fixture(void) {
  uscc("91350100MA0000001", A);
  uscc("91350200MA0000002", B);
  uscc("11350100003000001", AUTH);
  uscc("11350200003000002", AUTH2);
  char csv[2048];
  snprintf(csv, sizeof csv,
           "entity_code,entity_name,record_id,authority_code,authority_name,category,list_type,decision_date,content\n"
           "%s,福州甲科技有限公司,(2024)闽01执1号,%s,福州市中级人民法院,blacklist,court_dishonest,2024-01-10,\"多行\n内容\"\n"
           "%s,福州甲科技有限公司,罚〔2024〕2号,%s,福州市中级人民法院,penalty,,2024-02-01,\n"
           "%s,厦门乙贸易有限公司,厦罚〔2024〕3号,%s,厦门市市场监督管理局,penalty,,2024-12-20,\n",
           A, AUTH, A, AUTH, B, AUTH2);
  spit("f.csv", csv);
  cr_assert_eq(cx("gen --db st --entities 300 --records 1500 --seed 3 --quiet"), 0, "%s", slurp("err"));
  cr_assert_eq(cx("import --db st --quiet f.csv"), 0, "%s", slurp("err"));
  cr_assert_eq(cx("repair --db st --authority %s --record-id '(2024)闽01执1号' --reason 已履行", AUTH), 0,
               "%s", slurp("err"));
  cr_assert_eq(cx("objection --db st --authority %s --record-id '罚〔2024〕2号' --reason 有异议", AUTH), 0,
               "%s", slurp("err"));
  cr_assert_eq(cx("revoke --db st --authority %s --record-id '厦罚〔2024〕3号' --reason 撤销", AUTH2), 0,
               "%s", slurp("err"));
}

/* The content digest of a store (verify --digest), into out (65 bytes). */
static void digest(const char *db, char out[65]) {
  cr_assert_eq(cx("verify --db %s --digest --quiet", db), 0, "%s%s", slurp("out"), slurp("err"));
  char *s = slurp("out");
  cr_assert_eq(strlen(s), 65, "one digest line: %s", s);
  memcpy(out, s, 64);
  out[64] = 0;
  free(s);
}

/* The trailer (last line) of an export, parsed. */
static json_t *trailer(const char *file) {
  char *s = slurp(file);
  size_t n = strlen(s);
  cr_assert(n > 1);
  s[n - 1] = 0;
  char *last = strrchr(s, '\n');
  json_t *j = json_loads(last ? last + 1 : s, 0, NULL);
  free(s);
  cr_assert(j, "trailer of %s", file);
  cr_assert_str_eq(json_string_value(json_object_get(j, "type")), "trailer");
  return j;
}

static long count(json_t *tr, const char *type) {
  return (long)json_integer_value(json_object_get(json_object_get(tr, "counts"), type));
}

/* Everything after the first line (the header holds the export time). */
static char *body(const char *file) {
  char *s = slurp(file);
  char *nl = strchr(s, '\n');
  char *b = strdup(nl ? nl + 1 : "");
  free(s);
  return b;
}

static int exists(const char *rel) {
  char p[700];
  struct stat sb;
  snprintf(p, sizeof p, "%s/%s", g_dir, rel);
  return stat(p, &sb) == 0;
}

static int entries_with(const char *prefix) {
  DIR *d = opendir(g_dir);
  cr_assert(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) n++;
  closedir(d);
  return n;
}

/* Writes src with line `ln` (1-based) replaced by `text` (NULL: the line with `from` replaced
 * by `to`, once) into dst. */
static void rewrite(const char *src, const char *dst, int ln, const char *text, const char *from,
                    const char *to) {
  char *s = slurp(src);
  char path[700];
  snprintf(path, sizeof path, "%s/%s", g_dir, dst);
  FILE *f = fopen(path, "wb");
  cr_assert(f);
  int i = 1;
  for (char *p = s; *p; i++) {
    char *nl = strchr(p, '\n');
    size_t n = nl ? (size_t)(nl - p) + 1 : strlen(p);
    if (i != ln) {
      fwrite(p, 1, n, f);
    } else if (text) {
      fputs(text, f);
    } else {
      char *line = strndup(p, n), *at = strstr(line, from);
      cr_assert(at, "line %d has no %s", ln, from);
      fwrite(line, 1, (size_t)(at - line), f);
      fputs(to, f);
      fputs(at + strlen(from), f);
      free(line);
    }
    p += n;
  }
  fclose(f);
  free(s);
}

/* The line number of the first line holding needle. */
static int line_of(const char *file, const char *needle) {
  char *s = slurp(file);
  int ln = 1;
  for (char *p = s; *p; ln++) {
    char *nl = strchr(p, '\n');
    if (!nl) break;
    *nl = 0;
    if (strstr(p, needle)) {
      free(s);
      return ln;
    }
    p = nl + 1;
  }
  free(s);
  cr_assert_fail("no line with %s in %s", needle, file);
  return 0;
}

Test(export, restore_of_an_export_has_the_same_digest_and_the_same_export) {
  fixture();
  char d_st[65], d_r[65], d_c[65];
  digest("st", d_st);
  cr_assert_eq(cx("export --db st --out e.jsonl --quiet"), 0, "%s", slurp("err"));
  json_t *tr = trailer("e.jsonl");
  cr_expect_str_eq(json_string_value(json_object_get(tr, "digest")), d_st, "the trailer is the store's digest");
  cr_expect(json_is_false(json_object_get(tr, "partial")));
  cr_expect_eq(count(tr, "record"), 1503);
  cr_expect_eq(count(tr, "event"), 3, "repair, objection, revoke: the records' history");
  cr_expect_eq(count(tr, "data"), 4);
  cr_expect(count(tr, "audit") >= 2, "gen's and import's entries");
  json_decref(tr);

  cr_assert_eq(cx("restore --db r e.jsonl"), 0, "%s", slurp("err"));
  digest("r", d_r);
  cr_expect_str_eq(d_r, d_st);
  cr_assert_eq(cx("verify --db r"), 0, "derived data of the restored store: %s", slurp("out"));
  /* the restored store exports the same lines (its lifecycle states and history included) */
  cr_assert_eq(cx("export --db r --out e2.jsonl --quiet"), 0, "%s", slurp("err"));
  char *b1 = body("e.jsonl"), *b2 = body("e2.jsonl");
  cr_expect(strcmp(b1, b2) == 0, "export of the restored store differs");
  free(b1);
  free(b2);
  cr_assert_eq(cx("records %s --db r --format jsonl", A), 0, "%s", slurp("err"));
  cr_expect(out_has("out", "repaired"), "%s", slurp("out"));

  /* compact and backup keep the digest; a transition changes it */
  cr_assert_eq(cx("compact --db st --quiet"), 0, "%s", slurp("err"));
  digest("st", d_c);
  cr_expect_str_eq(d_c, d_st);
  cr_assert_eq(cx("backup --db st --quiet bk"), 0, "%s", slurp("err"));
  digest("bk", d_c);
  cr_expect_str_eq(d_c, d_st);
  cr_assert_eq(cx("reinstate --db r --authority %s --record-id '(2024)闽01执1号' --reason 新决定", AUTH), 0,
               "%s", slurp("err"));
  digest("r", d_r);
  cr_expect_str_neq(d_r, d_st, "a transition changes the digest");
}

Test(export, filters_make_partial_exports_that_restore_to_stores_of_the_subset) {
  fixture();
  json_t *full;
  cr_assert_eq(cx("export --db st --out e.jsonl --quiet"), 0, "%s", slurp("err"));
  full = trailer("e.jsonl");

  cr_assert_eq(cx("export --db st --authority %s --out a.jsonl --quiet", AUTH2), 0, "%s", slurp("err"));
  json_t *tr = trailer("a.jsonl");
  cr_expect(json_is_true(json_object_get(tr, "partial")));
  cr_expect(count(tr, "record") >= 1 && count(tr, "record") < count(full, "record"));
  cr_expect_eq(count(tr, "authority"), 1);
  cr_expect_eq(count(tr, "event"), 1, "the revoke of its record");
  cr_expect_eq(count(tr, "audit"), 0, "a partial export carries no other audit entry");
  char *s = slurp("a.jsonl");
  char needle[64];
  snprintf(needle, sizeof needle, "\"authority_code\":\"%s\"", AUTH2);
  long recs = 0;
  for (char *p = strstr(s, "\"type\":\"record\""); p; p = strstr(p + 1, "\"type\":\"record\"")) {
    char *nl = strchr(p, '\n');
    cr_expect(nl && memmem(p, (size_t)(nl - p), needle, strlen(needle)), "a record of another authority");
    recs++;
  }
  cr_expect_eq(recs, count(tr, "record"));
  free(s);
  cr_assert_eq(cx("restore --db pa a.jsonl --quiet"), 0, "%s", slurp("err"));
  char d[65];
  digest("pa", d);
  cr_expect_str_eq(d, json_string_value(json_object_get(tr, "digest")));
  json_decref(tr);

  cr_assert_eq(cx("export --db st --region 3502 --out g.jsonl --quiet"), 0, "%s", slurp("err"));
  tr = trailer("g.jsonl");
  cr_expect(count(tr, "record") >= 1 && count(tr, "record") < count(full, "record"));
  s = slurp("g.jsonl");
  cr_expect(!strstr(s, "\"region\":3501"), "a record of region 3501 in a 3502 export");
  free(s);
  cr_assert_eq(cx("restore --db pg g.jsonl --quiet"), 0, "%s", slurp("err"));
  digest("pg", d);
  cr_expect_str_eq(d, json_string_value(json_object_get(tr, "digest")));
  json_decref(tr);

  /* since: the import and transitions of today (2025-03-01) change their entities */
  cr_assert_eq(cx("export --db st --since 2025-02-01 --out s.jsonl --quiet"), 0, "%s", slurp("err"));
  tr = trailer("s.jsonl");
  cr_expect(count(tr, "record") >= 3 && count(tr, "record") <= count(full, "record"));
  cr_expect_eq(count(tr, "event"), 3);
  cr_assert_eq(cx("restore --db ps s.jsonl --quiet"), 0, "%s", slurp("err"));
  json_decref(tr);
  cr_expect_eq(cx("export --db st --since 2025-13-01"), 2, "a bad day is a usage error");
  json_decref(full);
}

Test(export, a_bad_line_is_refused_by_its_number_and_leaves_no_store) {
  fixture();
  cr_assert_eq(cx("export --db st --out e.jsonl --quiet"), 0, "%s", slurp("err"));
  int ln = line_of("e.jsonl", "厦罚〔2024〕3号\",\"authority_name");
  char want[64];

  /* not JSON */
  rewrite("e.jsonl", "bad1.jsonl", ln, "{\"type\":\"record\",\"authority_code\n", NULL, NULL);
  cr_expect_eq(cx("restore --db r bad1.jsonl"), 1);
  snprintf(want, sizeof want, "bad1.jsonl:%d: not a JSON object", ln);
  cr_expect(out_has("err", want), "%s", slurp("err"));
  cr_expect(out_has("err", "was not created"), "%s", slurp("err"));
  cr_expect(!exists("r"), "no store after a failed restore");
  cr_expect_eq(entries_with("r.restore-"), 0, "the temporary store is removed");

  /* a field no store holds */
  rewrite("e.jsonl", "bad2.jsonl", ln, NULL, "\"category\":\"penalty\"", "\"category\":\"nonsense\"");
  cr_expect_eq(cx("restore --db r bad2.jsonl"), 1);
  snprintf(want, sizeof want, "bad2.jsonl:%d: record: category", ln);
  cr_expect(out_has("err", want), "%s", slurp("err"));
  cr_expect(!exists("r"));

  /* a valid line whose state was changed: the trailer's digest catches it */
  rewrite("e.jsonl", "bad3.jsonl", ln, NULL, "\"status\":\"revoked\"", "\"status\":\"active\"");
  cr_expect_eq(cx("restore --db r bad3.jsonl"), 1);
  cr_expect(out_has("err", "trailer: digest"), "%s", slurp("err"));
  cr_expect(!exists("r"));

  /* truncated: no trailer */
  int last = line_of("e.jsonl", "\"type\":\"trailer\"");
  rewrite("e.jsonl", "bad4.jsonl", last, "", NULL, NULL);
  cr_expect_eq(cx("restore --db r bad4.jsonl"), 1);
  cr_expect(out_has("err", "no trailer"), "%s", slurp("err"));
  cr_expect(!exists("r"));
  cr_expect_eq(entries_with("r.restore-"), 0);
}

Test(export, restore_refuses_a_store_that_is_not_empty) {
  fixture();
  char before[65], after[65];
  digest("st", before);
  cr_assert_eq(cx("export --db st --out e.jsonl --quiet"), 0, "%s", slurp("err"));
  cr_expect_eq(cx("restore --db st e.jsonl"), 1);
  cr_expect(out_has("err", "not an empty directory"), "%s", slurp("err"));
  digest("st", after);
  cr_expect_str_eq(after, before, "the store is untouched");
  cr_assert_eq(cx("init --db other --quiet"), 0);
  cr_expect_eq(cx("restore --db other e.jsonl"), 1, "even an empty store: restore never merges");
  /* an empty directory is a fine target */
  char p[700];
  snprintf(p, sizeof p, "%s/empty", g_dir);
  cr_assert_eq(mkdir(p, 0700), 0);
  cr_assert_eq(cx("restore --db empty --quiet e.jsonl"), 0, "%s", slurp("err"));
  digest("empty", after);
  cr_expect_str_eq(after, before);
}
