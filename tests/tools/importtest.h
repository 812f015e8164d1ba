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

#endif
