/*
 * xlsx.c — `--format xlsx`: the CLI's tables as an Excel workbook (libxlsxwriter).
 *
 * Generic over cli_table, like the other formats: one worksheet per table of the document
 * (named by the table: "rows", "records", "results", "audit", ...), so any command that prints
 * through cli_print gets it. A vertical table (one record, e.g. status's entity) becomes two
 * columns, field and value.
 *
 * Cells are typed from the column types, so that a spreadsheet can sum and sort them:
 *   CLI_COL_INT    number, #,##0            CLI_COL_ID    number, 0 (codes, days: no separators)
 *   CLI_COL_NUM    number, #,##0.00         CLI_COL_RATE  number in [0,1], 0.0%
 *   CLI_COL_FEN    number in 元 (fen / 100), #,##0.00; the header says (元), "amount_fen" becomes
 *                  "amount(元)"
 *   CLI_COL_BOOL   boolean                  empty cell    blank (a rate without data is not 0)
 *   CLI_COL_STR    text; but a column whose every non-empty cell is a date (YYYY-MM-DD), a UTC
 *                  time (YYYY-MM-DDTHH:MM:SS[.mmm]Z) or "open" (valid_until) holds Excel dates
 *                  with a yyyy-mm-dd (yyyy-mm-dd hh:mm:ss) format; "open" stays text.
 * The header row is bold, frozen (it stays when scrolling) and has an autofilter. Column widths
 * fit the longest cell by display width (a Chinese character counts two), between 8 and 60.
 *
 * Text cells are written as strings, never as formulas, so the formula neutralisation of CSV
 * (out.c) is not needed: "=1+1" shows as text. libxlsxwriter escapes control characters
 * (_xHHHH_), and out.c's cells are already valid UTF-8 without NUL.
 *
 * libxlsxwriter writes a file by name; cli_xlsx_print() writes one in $TMPDIR and copies it to
 * a stream (standard output that is not a terminal).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xlsxwriter.h>

#include "cli.h"

#define MIN_WIDTH 8
#define MAX_WIDTH 60

typedef struct xfmts {
  lxw_format *header, *integer, *id, *decimal, *percent, *yuan, *date, *datetime;
} xfmts;

enum { DK_NONE, DK_DATE, DK_TIME };

static const char *cellv(const cli_table *t, size_t r, int c) {
  const char *s = t->cells[r * (size_t)t->ncols + (size_t)c];
  return s ? s : "";
}

/* s as a date or time: DK_DATE (YYYY-MM-DD, a real day), DK_TIME (YYYY-MM-DDTHH:MM:SS[.mmm]Z),
 * else DK_NONE. */
static int date_kind(const char *s, lxw_datetime *dt) {
  size_t n = strlen(s);
  if (n < 10 || s[4] != '-' || s[7] != '-') return DK_NONE;
  for (int i = 0; i < 10; i++)
    if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9')) return DK_NONE;
  cx_day d;
  if (cx_day_parse((cx_str){s, 10}, &d)) return DK_NONE;
  memset(dt, 0, sizeof *dt);
  dt->year = atoi(s);
  dt->month = atoi(s + 5);
  dt->day = atoi(s + 8);
  if (n == 10) return DK_DATE;
  int h, mi, sec, ms = 0, used = 0;
  if (sscanf(s + 10, "T%2d:%2d:%2d%n", &h, &mi, &sec, &used) != 3) return DK_NONE;
  const char *p = s + 10 + used;
  if (*p == '.') {
    char *end;
    ms = (int)strtol(p + 1, &end, 10);
    p = end;
  }
  if (strcmp(p, "Z") != 0 || h > 23 || mi > 59 || sec > 60) return DK_NONE;
  dt->hour = (uint8_t)h;
  dt->min = (uint8_t)mi;
  dt->sec = sec + ms / 1000.0;
  return DK_TIME;
}

/* A text column of dates: DK_DATE or DK_TIME when every non-empty cell is one (or "open"). */
static int date_column(const cli_table *t, int c) {
  if (t->types[c] != CLI_COL_STR) return DK_NONE;
  int kind = DK_NONE;
  lxw_datetime dt;
  for (size_t r = 0; r < t->nrows; r++) {
    const char *s = cellv(t, r, c);
    if (!*s || strcmp(s, "open") == 0) continue;
    int k = date_kind(s, &dt);
    if (k == DK_NONE || (kind && k != kind)) return DK_NONE;
    kind = k;
  }
  return kind;
}

/* The header of column c: its name; fen columns are in 元 here ("amount_fen" -> "amount(元)"). */
static void header_text(const cli_table *t, int c, char *buf, size_t cap) {
  const char *name = t->cols[c];
  size_t n = strlen(name);
  if (t->types[c] != CLI_COL_FEN) {
    snprintf(buf, cap, "%s", name);
    return;
  }
  if (n > 4 && strcmp(name + n - 4, "_fen") == 0) n -= 4;
  snprintf(buf, cap, "%.*s(元)", (int)n, name);
}

/* The display width a cell needs (its shown text, roughly: separators and decimals count). */
static size_t cell_width(uint8_t type, int dk, const char *s) {
  size_t n = strlen(s);
  if (!n) return 0;
  switch (type) {
  case CLI_COL_INT: return n + n / 3;
  case CLI_COL_FEN:
  case CLI_COL_NUM: return n + n / 3 + 3;
  case CLI_COL_RATE: return 6;
  case CLI_COL_BOOL: return 5;
  case CLI_COL_ID: return n;
  default: return dk == DK_DATE ? 10 : dk == DK_TIME ? 19 : cli_utf8_width(s, n);
  }
}

static lxw_error write_cell(lxw_worksheet *ws, lxw_row_t row, lxw_col_t col, uint8_t type, int dk, const char *s,
                            const xfmts *f) {
  if (!*s) return LXW_NO_ERROR;
  char *end;
  double v = strtod(s, &end);
  int is_num = *end == 0;
  lxw_datetime dt;
  switch (type) {
  case CLI_COL_INT:
    if (is_num) return worksheet_write_number(ws, row, col, v, f->integer);
    break;
  case CLI_COL_ID:
    if (is_num) return worksheet_write_number(ws, row, col, v, f->id);
    break;
  case CLI_COL_NUM:
    if (is_num) return worksheet_write_number(ws, row, col, v, f->decimal);
    break;
  case CLI_COL_RATE:
    if (is_num) return worksheet_write_number(ws, row, col, v, f->percent);
    break;
  case CLI_COL_FEN:
    if (is_num) return worksheet_write_number(ws, row, col, v / 100.0, f->yuan);
    break;
  case CLI_COL_BOOL:
    return worksheet_write_boolean(ws, row, col, strcmp(s, "true") == 0 || strcmp(s, "1") == 0, NULL);
  default:
    if (dk && date_kind(s, &dt) == dk) return worksheet_write_datetime(ws, row, col, &dt, dk == DK_DATE ? f->date : f->datetime);
    break;
  }
  return worksheet_write_string(ws, row, col, s, NULL);
}

static size_t clamp_width(size_t w) { return w + 2 < MIN_WIDTH ? MIN_WIDTH : w + 2 > MAX_WIDTH ? MAX_WIDTH : w + 2; }

/* A vertical table (one record): rows of field and value, each value typed by its column. */
static lxw_error write_vertical(lxw_worksheet *ws, const cli_table *t, const xfmts *f) {
  char hb[256];
  lxw_error e = worksheet_write_string(ws, 0, 0, "field", f->header);
  if (!e) e = worksheet_write_string(ws, 0, 1, "value", f->header);
  size_t kw = 5, vw = 5;
  for (int c = 0; c < t->ncols && !e && t->nrows; c++) {
    header_text(t, c, hb, sizeof hb);
    int dk = date_column(t, c);
    const char *s = cellv(t, 0, c);
    e = worksheet_write_string(ws, (lxw_row_t)(c + 1), 0, hb, NULL);
    if (!e) e = write_cell(ws, (lxw_row_t)(c + 1), 1, t->types[c], dk, s, f);
    size_t w = cli_utf8_width(hb, strlen(hb)), x = cell_width(t->types[c], dk, s);
    if (w > kw) kw = w;
    if (x > vw) vw = x;
  }
  if (!e) e = worksheet_set_column(ws, 0, 0, (double)clamp_width(kw), NULL);
  if (!e) e = worksheet_set_column(ws, 1, 1, (double)clamp_width(vw), NULL);
  return e;
}

static lxw_error write_table(lxw_worksheet *ws, const cli_table *t, const xfmts *f) {
  char hb[256];
  lxw_error e = LXW_NO_ERROR;
  for (int c = 0; c < t->ncols && !e; c++) {
    header_text(t, c, hb, sizeof hb);
    e = worksheet_write_string(ws, 0, (lxw_col_t)c, hb, f->header);
    int dk = date_column(t, c);
    size_t w = cli_utf8_width(hb, strlen(hb)) + 2; /* the autofilter's button */
    for (size_t r = 0; r < t->nrows && !e; r++) {
      const char *s = cellv(t, r, c);
      e = write_cell(ws, (lxw_row_t)(r + 1), (lxw_col_t)c, t->types[c], dk, s, f);
      size_t x = cell_width(t->types[c], dk, s);
      if (x > w) w = x;
    }
    if (!e) e = worksheet_set_column(ws, (lxw_col_t)c, (lxw_col_t)c, (double)clamp_width(w), NULL);
  }
  if (!e && t->ncols) e = worksheet_autofilter(ws, 0, 0, (lxw_row_t)t->nrows, (lxw_col_t)(t->ncols - 1));
  return e;
}

static lxw_format *num_format(lxw_workbook *wb, const char *code) {
  lxw_format *f = workbook_add_format(wb);
  if (f) format_set_num_format(f, code);
  return f;
}

int cli_xlsx_write(const char *path, cli_table *const *tabs, int n) {
  for (int i = 0; i < n; i++)
    if (tabs[i]->nrows >= LXW_ROW_MAX || tabs[i]->ncols > LXW_COL_MAX) {
      cli_err("more rows than a worksheet holds (1,048,576)", "xlsx %s", path);
      return -1;
    }
  lxw_workbook *wb = workbook_new(path);
  if (!wb) {
    cli_err(strerror(errno ? errno : EIO), "xlsx: cannot create %s", path);
    return -1;
  }
  xfmts f;
  f.header = workbook_add_format(wb);
  if (f.header) {
    format_set_bold(f.header);
    format_set_bottom(f.header, LXW_BORDER_THIN);
    format_set_bg_color(f.header, 0xDDEBF7);
  }
  f.integer = num_format(wb, "#,##0");
  f.id = num_format(wb, "0");
  f.decimal = num_format(wb, "#,##0.00");
  f.percent = num_format(wb, "0.0%");
  f.yuan = num_format(wb, "#,##0.00");
  f.date = num_format(wb, "yyyy-mm-dd");
  f.datetime = num_format(wb, "yyyy-mm-dd hh:mm:ss");
  lxw_error e = LXW_NO_ERROR;
  for (int i = 0; i < n && !e; i++) {
    char name[32];
    snprintf(name, sizeof name, "%s", tabs[i]->name && *tabs[i]->name ? tabs[i]->name : "sheet");
    if (workbook_validate_sheet_name(wb, name) != LXW_NO_ERROR) snprintf(name, sizeof name, "sheet%d", i + 1);
    lxw_worksheet *ws = workbook_add_worksheet(wb, name);
    if (!ws) {
      e = LXW_ERROR_MEMORY_MALLOC_FAILED;
      break;
    }
    worksheet_freeze_panes(ws, 1, 0);
    e = tabs[i]->vertical && tabs[i]->nrows == 1 ? write_vertical(ws, tabs[i], &f) : write_table(ws, tabs[i], &f);
  }
  lxw_error ce = workbook_close(wb); /* writes the file; frees wb either way */
  if (!e) e = ce;
  if (e) {
    cli_err(lxw_strerror(e), "xlsx %s", path);
    unlink(path);
    return -1;
  }
  return 0;
}

int cli_xlsx_print(FILE *out, cli_table *const *tabs, int n) {
  const char *dir = getenv("TMPDIR");
  char path[4096];
  snprintf(path, sizeof path, "%s/chengxin-xlsx-XXXXXX", dir && *dir ? dir : "/tmp");
  int fd = mkstemp(path);
  if (fd < 0) {
    cli_err(strerror(errno), "xlsx: a temporary file in %s", dir && *dir ? dir : "/tmp");
    cli_out_fail();
    return -1;
  }
  close(fd);
  if (cli_xlsx_write(path, tabs, n)) { /* it said why and removed the file */
    cli_out_fail();
    return -1;
  }
  FILE *in = fopen(path, "rb");
  int rc = in ? 0 : -1;
  char buf[65536];
  size_t k;
  while (in && (k = fread(buf, 1, sizeof buf, in)) > 0)
    if (fwrite(buf, 1, k, out) != k) {
      rc = -1;
      break;
    }
  if (in && ferror(in)) rc = -1;
  if (in) fclose(in);
  unlink(path);
  if (rc) {
    cli_err(strerror(errno ? errno : EIO), "xlsx: copying the workbook to the output");
    cli_out_fail();
  }
  return rc;
}
