/* importtest.h — what the import tests (test_import_bulk.c, test_import_speed.c) share: CSV
 * lines with a field changed, a store's verified content digest, the refused lines and the
 * counts of an import's summary. Header-only, after clitest.h. */
#ifndef CX_IMPORTTEST_H
#define CX_IMPORTTEST_H

#include "clitest.h"

/* Field k (0-based) of line replaced by v; the fields up to k are unquoted (the generator
 * quotes only measures, column 19). Returns a malloc'd line. */
static inline char *with_field(const char *line, int k, const char *v) {
  const char *p = line;
  for (int i = 0; i < k; i++) {
    p = strchr(p, ',');
    cr_assert(p, "field %d of %s", k, line);
    p++;
  }
  const char *e = strchr(p, ',');
  if (!e) e = p + strlen(p);
  size_t n = (size_t)(p - line) + strlen(v) + strlen(e) + 1;
  char *out = malloc(n);
  snprintf(out, n, "%.*s%s%s", (int)(p - line), line, v, e);
  return out;
}

/* The first n fields of line (unquoted ones), as a malloc'd string. */
static inline char *fields_head(const char *line, int n) {
  const char *p = line;
  for (int i = 0; i < n; i++) {
    p = strchr(p, ',');
    cr_assert(p);
    p++;
  }
  return strndup(line, (size_t)(p - line - 1));
}

static inline void put_changed(FILE *f, const char *line, int k, const char *v) {
  char *a = with_field(line, k, v);
  fprintf(f, "%s\n", a);
  free(a);
}

/* The content digest of a store, into out (65 bytes); the store verifies. */
static inline void digest(const char *db, char out[65]) {
  cr_assert_eq(cx("verify --db %s --quiet", db), 0, "%s: %s%s", db, slurp("out"), slurp("err"));
  cr_assert_eq(cx("verify --db %s --digest --quiet", db), 0, "%s%s", slurp("out"), slurp("err"));
  char *s = slurp("out");
  cr_assert_eq(strlen(s), 65, "one digest line: %s", s);
  memcpy(out, s, 64);
  out[64] = 0;
  free(s);
}

/* The "FILE:LINE: why" lines of the last command's stderr, sorted, as one string. */
static inline char *rejects(void) {
  char *err = slurp("err");
  char *lines[64];
  int n = 0;
  for (char *save = NULL, *l = strtok_r(err, "\n", &save); l && n < 64; l = strtok_r(NULL, "\n", &save))
    if (strstr(l, ".csv:")) lines[n++] = l;
  for (int i = 1; i < n; i++)
    for (int j = i; j > 0 && strcmp(lines[j - 1], lines[j]) > 0; j--) {
      char *t = lines[j];
      lines[j] = lines[j - 1];
      lines[j - 1] = t;
    }
  size_t cap = 1;
  for (int i = 0; i < n; i++) cap += strlen(lines[i]) + 1;
  char *out = calloc(1, cap);
  for (int i = 0; i < n; i++) strcat(strcat(out, lines[i]), "\n");
  free(err);
  return out;
}

/* "import: R rows read, I inserted, P replaced, U unchanged, J rejected, N not written" */
static inline void summary(const char *err, unsigned long long v[6]) {
  const char *p = strstr(err, " rows read, ");
  cr_assert(p, "%s", err);
  while (p > err && p[-1] != '\n') p--;
  cr_assert_eq(sscanf(p, "import: %llu rows read, %llu inserted, %llu replaced, %llu unchanged, %llu rejected, %llu not written",
                      &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]),
               6, "%s", p);
}

/*
 * make_csv: the generator's CSV (seed, records rows) into g_dir/name, with, before the
 * generated row i (those from 2500 on only with `more`):
 *   i = 700   a bad date (refused as read, line 701)
 *   i = 1400  row 1 again naming the entity of the last row (refused at commit: a record never
 *             moves; row 1 is in an earlier batch of 500)
 *   i = 2100  a code that is no code (refused as read)
 *   i = 2500  row 10 corrected (another amount): a replacement of a record of an earlier batch
 *   i = 2600  row 2599 corrected: a replacement in the same batch (the later put wins)
 *   i = 2650  row 2000 sent again unchanged: unchanged
 *   i = 2700  row 20 revoked in the feed: a lifecycle transition (and its audit entry)
 *   i = 2800  row 30 with another entity name: the entity's name (and names index) changes
 */
static inline void make_csv(const char *name, int seed, int records, int more) {
  cr_assert_eq(cx("gen --out %s.src --entities %d --records %d --seed %d --quiet", name, records / 10, records, seed),
               0, "%s", slurp("err"));
  char src[256];
  snprintf(src, sizeof src, "%s.src", name);
  char *text = slurp(src);
  char **lines = calloc((size_t)records + 2, sizeof *lines);
  int n = 0;
  for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) lines[n++] = l;
  cr_assert_eq(n, records + 1, "header + one line per record");
  char path[512];
  snprintf(path, sizeof path, "%s/%s", g_dir, name);
  FILE *f = fopen(path, "w");
  cr_assert(f);
  char *last_head = fields_head(lines[n - 1], 3); /* entity_code,entity_name,entity_kind */
  for (int i = 0; i < n; i++) {
    if (i == 700) {
      char *a = with_field(lines[5], 3, "BAD-DATE-1");
      put_changed(f, a, 10, "2024-13-45");
      free(a);
    }
    if (i == 1400) fprintf(f, "%s%s\n", last_head, strchr(strchr(strchr(lines[1], ',') + 1, ',') + 1, ','));
    if (i == 2100) {
      char *a = with_field(lines[6], 0, "123");
      put_changed(f, a, 3, "BAD-CODE-1");
      free(a);
    }
    if (more && i == 2500) put_changed(f, lines[10], 16, "123456");
    if (more && i == 2650) fprintf(f, "%s\n", lines[2000]);
    if (more && i == 2700) put_changed(f, lines[20], 14, "revoked");
    if (more && i == 2800) put_changed(f, lines[30], 1, "改名后的测试企业有限公司");
    fprintf(f, "%s\n", lines[i]);
    if (more && i == 2599) put_changed(f, lines[2599], 16, "777");
  }
  fclose(f);
  free(last_head);
  free(lines);
  free(text);
}

#endif
