/*
 * out.c — one printer for every command: aligned tables (CJK-aware), CSV, JSON, JSON Lines.
 *
 * Cells hold raw machine values as text; the table format decorates them (thousands separators,
 * percentages, yuan) and pads by display width, so a line of Chinese names lines up with a line
 * of ASCII. CSV and JSON print the raw values, so what a script parses is exact.
 *
 * What comes from a store or a server is not trusted to be harmless where it lands:
 *   - a cell is always UTF-8 without NUL (cli_table_setn escapes a stray byte or a NUL as \xNN:
 *     a C string would hide what follows a NUL, JSON cannot carry the stray byte);
 *   - the table, vertical and chart formats escape control characters (\x1b, \n, \r, \t), so
 *     a value can neither move the terminal's cursor nor break a line of the table;
 *   - CSV neutralises cells that a spreadsheet would run as a formula (OWASP "CSV injection"):
 *     a text cell beginning with = + - @ TAB or CR gets a leading ' and is quoted. Numeric
 *     columns holding a number (-5) are left alone: a number is not a formula, and a script
 *     summing the column must still see -5. CLI_FMT_CSV_RAW (--raw) writes values as they are.
 */
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

int cli_no_header;

int cli_fmt_parse(const char *s, cli_fmt *out) { /* CLI_FMT_CSV_RAW comes from --raw only */
  static const char *const names[] = {"table", "csv", "json", "jsonl", "xlsx"};
  for (int i = 0; i < 5; i++)
    if (strcmp(s, names[i]) == 0) {
      *out = (cli_fmt)i;
      return 0;
    }
  return -1;
}

static void oom(void) {
  fputs("chengxin: out of memory\n", stderr);
  exit(CLI_EXIT_FAIL);
}

static void *xmalloc(size_t n) {
  void *p = cx_malloc(n ? n : 1);
  if (!p) oom();
  return p;
}

static char *xstrndup(const char *s, size_t n) {
  char *p = xmalloc(n + 1);
  memcpy(p, s, n);
  p[n] = 0;
  return p;
}

void cli_table_init(cli_table *t, const char *name, int vertical) {
  memset(t, 0, sizeof *t);
  t->name = name;
  t->vertical = vertical;
}

void cli_table_free(cli_table *t) {
  for (size_t i = 0; i < t->nrows * (size_t)t->ncols; i++) free(t->cells[i]);
  free(t->cells);
  for (int i = 0; i < t->ncols; i++) free(t->cols[i]);
  memset(t, 0, sizeof *t);
}

void cli_table_col(cli_table *t, const char *name, cli_col_type type) {
  if (t->ncols >= CLI_MAX_COLS || t->nrows) return;
  t->cols[t->ncols] = xstrndup(name, strlen(name));
  t->types[t->ncols++] = (uint8_t)type;
}

void cli_table_row(cli_table *t) {
  if (t->nrows == t->cap) {
    size_t cap = t->cap ? t->cap * 2 : 16;
    char **c = cx_realloc(t->cells, cap * (size_t)t->ncols * sizeof *c);
    if (!c) oom();
    t->cells = c;
    t->cap = cap;
  }
  memset(t->cells + t->nrows * (size_t)t->ncols, 0, (size_t)t->ncols * sizeof(char *));
  t->nrows++;
}

void cli_table_setn(cli_table *t, int col, const char *val, size_t n) {
  if (!t->nrows || col < 0 || col >= t->ncols) return;
  char **c = &t->cells[(t->nrows - 1) * (size_t)t->ncols + (size_t)col];
  free(*c);
  if (!val) n = 0;
  if (n && cx_text_check(val, n, CX_TEXT_UTF8, NULL)) {
    *c = xmalloc(4 * n + 1);
    cx_text_escape(val, n, CX_TEXT_UTF8, *c, 4 * n + 1);
    return;
  }
  *c = xstrndup(val ? val : "", n);
}

void cli_table_set(cli_table *t, int col, const char *val) {
  cli_table_setn(t, col, val, val ? strlen(val) : 0);
}

void cli_table_setf(cli_table *t, int col, const char *fmt, ...) {
  char buf[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  cli_table_set(t, col, buf);
}

void cli_table_seti(cli_table *t, int col, int64_t v) { cli_table_setf(t, col, "%lld", (long long)v); }

static const char *cell(const cli_table *t, size_t r, int c) {
  const char *s = t->cells[r * (size_t)t->ncols + (size_t)c];
  return s ? s : "";
}

/* ---------------------------------------------------------------- table */

/* The decorated text of a cell for the table format. */
static const char *pretty(const cli_table *t, size_t r, int c, char *buf, size_t cap) {
  const char *s = cell(t, r, c);
  if (!*s) return t->types[c] == CLI_COL_RATE || t->types[c] == CLI_COL_NUM ? "n/a" : s; /* no data */
  switch (t->types[c]) {
  case CLI_COL_INT: {
    char *end;
    long long v = strtoll(s, &end, 10);
    return *end ? s : cli_thousands(v, buf, cap);
  }
  case CLI_COL_NUM: {
    char *end;
    double v = strtod(s, &end);
    if (*end) return s;
    double ip = floor(fabs(v) + 0.005);
    char th[32];
    cli_thousands((int64_t)ip, th, sizeof th);
    int frac = (int)llround((fabs(v) + 0.005 - ip) * 100.0 - 0.5);
    if (frac < 0) frac = 0;
    if (frac > 99) frac = 99;
    snprintf(buf, cap, "%s%s.%02d", v < 0 ? "-" : "", th, frac);
    return buf;
  }
  case CLI_COL_RATE: {
    char *end;
    double v = strtod(s, &end);
    if (*end) return s;
    snprintf(buf, cap, "%.1f%%", v * 100.0);
    return buf;
  }
  case CLI_COL_FEN: {
    char *end;
    long long v = strtoll(s, &end, 10);
    if (*end) return s;
    long long a = v < 0 ? -v : v;
    char th[32];
    cli_thousands(a / 100, th, sizeof th);
    snprintf(buf, cap, "%s%s.%02lld", v < 0 ? "-" : "", th, a % 100);
    return buf;
  }
  case CLI_COL_BOOL: return strcmp(s, "true") == 0 || strcmp(s, "1") == 0 ? "yes" : "no";
  default: return s;
  }
}

/* s as a terminal may print it: control characters escaped. Returns s itself when it holds
 * none, else an escaped copy in *tmp (free it). */
static const char *shown(const char *s, char **tmp) {
  size_t n = strlen(s);
  *tmp = NULL;
  if (cx_text_check(s, n, CX_TEXT_NAME, NULL) == 0) return s;
  *tmp = xmalloc(4 * n + 1);
  cx_text_escape(s, n, CX_TEXT_NAME, *tmp, 4 * n + 1);
  return *tmp;
}

static int right_aligned(uint8_t type) { return type != CLI_COL_STR && type != CLI_COL_BOOL; }

static void pad(FILE *f, size_t n) {
  while (n--) fputc(' ', f);
}

/* Column names come from the server too (aggregate): shown like cells. */
static const char *header(const cli_table *t, int c, char *buf, size_t cap) {
  char *tmp;
  const char *h = shown(t->cols[c], &tmp);
  snprintf(buf, cap, "%s%s", h, t->types[c] == CLI_COL_FEN ? "(元)" : "");
  free(tmp);
  return buf;
}

/* A cell as the table formats print it: decorated, then shown. */
static const char *pretty_shown(const cli_table *t, size_t r, int c, char *buf, size_t cap, char **tmp) {
  return shown(pretty(t, r, c, buf, cap), tmp);
}

static void print_vertical(FILE *f, const cli_table *t) {
  char buf[128], hb[256], *tmp;
  size_t kw = 0;
  for (int c = 0; c < t->ncols; c++) {
    const char *h = header(t, c, hb, sizeof hb);
    size_t w = cli_utf8_width(h, strlen(h));
    if (w > kw) kw = w;
  }
  for (size_t r = 0; r < t->nrows; r++) {
    if (r) fputc('\n', f);
    for (int c = 0; c < t->ncols; c++) {
      if (!*cell(t, r, c)) continue; /* an absent field gets no line (json keeps its null) */
      const char *h = header(t, c, hb, sizeof hb);
      fputs(h, f);
      pad(f, kw - cli_utf8_width(h, strlen(h)) + 2);
      fputs(pretty_shown(t, r, c, buf, sizeof buf, &tmp), f);
      free(tmp);
      fputc('\n', f);
    }
  }
}

static void print_table(FILE *f, const cli_table *t) {
  if (t->vertical) {
    print_vertical(f, t);
    return;
  }
  size_t w[CLI_MAX_COLS];
  char buf[128], hb[256], *tmp;
  for (int c = 0; c < t->ncols; c++) {
    const char *h = header(t, c, hb, sizeof hb);
    w[c] = cli_utf8_width(h, strlen(h));
    for (size_t r = 0; r < t->nrows; r++) {
      const char *s = pretty_shown(t, r, c, buf, sizeof buf, &tmp);
      size_t x = cli_utf8_width(s, strlen(s));
      free(tmp);
      if (x > w[c]) w[c] = x;
    }
  }
  /* Header, rule, rows, "(N rows)". Every cell is padded to its column's width, the last one
   * too, so every line of a table has the same display width. --no-header: the rows alone. */
  for (int c = 0; c < t->ncols && !cli_no_header; c++) {
    const char *h = header(t, c, hb, sizeof hb);
    size_t x = cli_utf8_width(h, strlen(h));
    if (c) fputs("  ", f);
    if (right_aligned(t->types[c])) pad(f, w[c] - x);
    fputs(h, f);
    if (!right_aligned(t->types[c])) pad(f, w[c] - x);
  }
  if (!cli_no_header) {
    fputc('\n', f);
    for (int c = 0; c < t->ncols; c++) {
      if (c) fputs("  ", f);
      for (size_t i = 0; i < w[c]; i++) fputc('-', f);
    }
    fputc('\n', f);
  }
  for (size_t r = 0; r < t->nrows; r++) {
    for (int c = 0; c < t->ncols; c++) {
      const char *s = pretty_shown(t, r, c, buf, sizeof buf, &tmp);
      size_t x = cli_utf8_width(s, strlen(s));
      if (c) fputs("  ", f);
      if (right_aligned(t->types[c])) pad(f, w[c] - x);
      fputs(s, f);
      if (!right_aligned(t->types[c])) pad(f, w[c] - x);
      free(tmp);
    }
    fputc('\n', f);
  }
  if (!cli_no_header) fprintf(f, "(%zu row%s)\n", t->nrows, t->nrows == 1 ? "" : "s");
}

/* ---------------------------------------------------------------- csv */

/* 1 when a spreadsheet would take cell s of a column of type `type` for a formula. A numeric
 * column's cell that is wholly a number (-5, -0.25) is a number; anything else is text. */
static int formula_like(const char *s, uint8_t type) {
  if (!*s || !strchr("=+-@\t\r", *s)) return 0;
  if (type == CLI_COL_STR) return 1;
  char *end;
  (void)strtod(s, &end);
  return end == s || *end != 0;
}

static void csv_field(FILE *f, const char *s, int neutralise) {
  if (!neutralise && !strpbrk(s, ",\"\r\n")) {
    fputs(s, f);
    return;
  }
  fputc('"', f);
  if (neutralise) fputc('\'', f);
  for (; *s; s++) {
    if (*s == '"') fputc('"', f);
    fputc(*s, f);
  }
  fputc('"', f);
}

static void print_csv(FILE *f, const cli_table *t, int raw) {
  for (int c = 0; c < t->ncols && !cli_no_header; c++) {
    if (c) fputc(',', f);
    csv_field(f, t->cols[c], !raw && formula_like(t->cols[c], CLI_COL_STR));
  }
  if (!cli_no_header) fputc('\n', f);
  for (size_t r = 0; r < t->nrows; r++) {
    for (int c = 0; c < t->ncols; c++) {
      const char *s = cell(t, r, c);
      if (c) fputc(',', f);
      csv_field(f, s, !raw && formula_like(s, t->types[c]));
    }
    fputc('\n', f);
  }
}

/* ---------------------------------------------------------------- json */

static json_t *json_cell(const cli_table *t, size_t r, int c) {
  const char *s = cell(t, r, c);
  char *end;
  switch (t->types[c]) {
  case CLI_COL_INT:
  case CLI_COL_ID:
  case CLI_COL_FEN: {
    if (!*s) return json_null();
    long long v = strtoll(s, &end, 10);
    return *end ? json_string(s) : json_integer(v);
  }
  case CLI_COL_NUM:
  case CLI_COL_RATE: {
    if (!*s) return json_null();
    double v = strtod(s, &end);
    return *end ? json_string(s) : json_real(v);
  }
  case CLI_COL_BOOL:
    if (!*s) return json_null();
    return json_boolean(strcmp(s, "true") == 0 || strcmp(s, "1") == 0);
  default: return json_string(s);
  }
}

static json_t *json_row(const cli_table *t, size_t r) {
  json_t *o = json_object();
  for (int c = 0; c < t->ncols; c++) json_object_set_new(o, t->cols[c], json_cell(t, r, c));
  return o;
}

static json_t *json_table(const cli_table *t) {
  if (t->vertical) return t->nrows ? json_row(t, 0) : json_object();
  json_t *a = json_array();
  for (size_t r = 0; r < t->nrows; r++) json_array_append_new(a, json_row(t, r));
  return a;
}

static json_t *json_doc(cli_table *const *tabs, int n) {
  if (n == 1) return json_table(tabs[0]);
  json_t *o = tabs[0]->vertical ? json_table(tabs[0]) : json_object();
  if (!tabs[0]->vertical) json_object_set_new(o, tabs[0]->name, json_table(tabs[0]));
  for (int i = 1; i < n; i++) json_object_set_new(o, tabs[i]->name, json_table(tabs[i]));
  return o;
}

static void dump(FILE *f, json_t *j, size_t flags) {
  char *s = json_dumps(j, flags | JSON_PRESERVE_ORDER | JSON_REAL_PRECISION(10));
  if (s) {
    fputs(s, f);
    fputc('\n', f);
    free(s);
  }
  json_decref(j);
}

void cli_print(FILE *f, cli_fmt fmt, cli_table *const *tabs, int n) {
  switch (fmt) {
  case CLI_FMT_TABLE:
    for (int i = 0; i < n; i++) {
      if (i) fputc('\n', f);
      print_table(f, tabs[i]);
    }
    break;
  case CLI_FMT_CSV:
  case CLI_FMT_CSV_RAW:
    for (int i = 0; i < n; i++) {
      if (i) fputc('\n', f);
      print_csv(f, tabs[i], fmt == CLI_FMT_CSV_RAW);
    }
    break;
  case CLI_FMT_JSON: dump(f, json_doc(tabs, n), JSON_INDENT(2)); break;
  case CLI_FMT_JSONL:
    if (n == 1 && !tabs[0]->vertical) {
      for (size_t r = 0; r < tabs[0]->nrows; r++) dump(f, json_row(tabs[0], r), JSON_COMPACT);
    } else {
      dump(f, json_doc(tabs, n), JSON_COMPACT);
    }
    break;
  case CLI_FMT_XLSX: cli_xlsx_print(f, tabs, n); break; /* xlsx.c */
  }
}
