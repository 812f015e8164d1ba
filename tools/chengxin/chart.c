/*
 * chart.c — bounded bar charts of an aggregate: on the terminal (`agg --chart`) and as a PNG
 * through gnuplot (`agg --plot FILE.png`).
 *
 * Both draw the same bars, chosen once (choose()):
 *   - at most `top` bars (default CLI_CHART_TOP): when the answer has more rows, the rows with
 *     the largest first metric, largest first — or, with --order, the first `top` rows in the
 *     answer's order; when every row fits, all of them in the answer's order (a year or month
 *     chart stays chronological);
 *   - the rows left out become one "others" bar for metrics that add up (count, amount,
 *     in_force, on_time, repaired): their sum. A rate or a mean (on_time_rate, loss_rate,
 *     kept_rate, report_delay) cannot be summed from the rows, and the rows do not carry the
 *     denominators, so those charts have no "others" bar and say how many rows they leave out;
 *   - two or more dimensions: a bar per combination, labelled "福州市 / 2025-03" (the answer's
 *     rows as they are; for one dimension's totals, group by that dimension alone);
 *   - every metric of the answer gets a chart of its own over the same rows (a rate beside the
 *     count it is a rate of), each with a header naming the metric, the dimensions and the
 *     selection, and a scale: 0 to a round maximum with ticks; rates on a 0–100% scale.
 *
 * Labels are padded by display width (cli_utf8_width: East Asian wide characters take two
 * columns), so Chinese and ASCII labels line up. Control characters in labels are shown
 * escaped, as in out.c.
 *
 * gnuplot draws horizontal bars (boxxyerror), labels on the y axis, in the pngcairo terminal
 * with "Noto Sans CJK SC" (fonts-noto-cjk), so Chinese labels render as text; when cairo or the
 * font is missing it falls back to the plain png terminal (ASCII only). gnuplot runs with an
 * argv, never a shell; every string in its script is quoted by gp_string().
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "cli.h"

extern char **environ;

#define BAR_COLS 40      /* terminal bar area, in columns */
#define LABEL_COLS 32    /* a longer label is cut (display width) and ends in "..." */
#define PLOT_WIDTH 1000  /* PNG width in pixels */
#define PLOT_ROW_PX 24   /* per bar */
#define PLOT_PANEL_PX 110 /* per chart: title, axis, margins */

/* ---------------------------------------------------------------- choosing the bars */

typedef struct chart_sel {
  const cli_table *t;
  int n_dims;      /* label columns: 0 .. n_dims-1 */
  size_t *rows;    /* the shown rows, in bar order */
  size_t n;        /* bars (without others) */
  size_t n_left;   /* rows not shown */
} chart_sel;

static const char *cellv(const cli_table *t, size_t r, int c) {
  const char *s = t->cells[r * (size_t)t->ncols + (size_t)c];
  return s ? s : "";
}

/* The cell as a number; NAN when empty (no data) or not a number. */
static double num(const cli_table *t, size_t r, int c) {
  const char *s = cellv(t, r, c);
  char *end;
  if (!*s) return NAN;
  double v = strtod(s, &end);
  return *end ? NAN : v;
}

static const cli_table *g_sort_t; /* qsort has no context argument */
static int g_sort_col;

/* Largest first; no data last; ties in the answer's order. */
static int by_value_desc(const void *a, const void *b) {
  size_t ra = *(const size_t *)a, rb = *(const size_t *)b;
  double x = num(g_sort_t, ra, g_sort_col), y = num(g_sort_t, rb, g_sort_col);
  int xn = isnan(x), yn = isnan(y);
  if (xn != yn) return xn - yn;
  if (!xn && x != y) return x < y ? 1 : -1;
  return ra < rb ? -1 : ra > rb;
}

static int choose(const cli_table *t, const cli_chart_opts *o, chart_sel *s) {
  memset(s, 0, sizeof *s);
  s->t = t;
  s->n_dims = o->first_metric;
  size_t top = o->top ? o->top : CLI_CHART_TOP;
  s->rows = cx_malloc((t->nrows ? t->nrows : 1) * sizeof *s->rows);
  if (!s->rows) return -1;
  for (size_t r = 0; r < t->nrows; r++) s->rows[r] = r;
  if (t->nrows > top && !o->keep_order) {
    g_sort_t = t;
    g_sort_col = o->first_metric;
    qsort(s->rows, t->nrows, sizeof *s->rows, by_value_desc);
  }
  s->n = t->nrows > top ? top : t->nrows;
  s->n_left = t->nrows - s->n;
  return 0;
}

static int additive(uint8_t type) { return type == CLI_COL_INT || type == CLI_COL_FEN || type == CLI_COL_ID; }

/* The sum of metric c over the rows left out. */
static double others_sum(const chart_sel *s, int c) {
  double sum = 0;
  for (size_t i = s->n; i < s->n + s->n_left; i++) {
    double v = num(s->t, s->rows[i], c);
    if (!isnan(v)) sum += v;
  }
  return sum;
}

/* A value in the unit the chart shows: yuan for fen, percent for rates. */
static double shown_unit(uint8_t type, double v) {
  if (type == CLI_COL_FEN) return v / 100.0;
  if (type == CLI_COL_RATE) return v * 100.0;
  return v;
}

/* The value as the table format shows it ("12,345", "1,234.50", "87.5%", "n/a"). */
static const char *value_text(uint8_t type, double v, char *buf, size_t cap) {
  char th[32];
  if (isnan(v)) return "n/a";
  switch (type) {
  case CLI_COL_RATE: snprintf(buf, cap, "%.1f%%", v * 100.0); break;
  case CLI_COL_FEN:
  case CLI_COL_NUM: {
    double u = type == CLI_COL_FEN ? v / 100.0 : v;
    long long c = llround(fabs(u) * 100.0);
    cli_thousands(c / 100, th, sizeof th);
    snprintf(buf, cap, "%s%s.%02lld", u < 0 ? "-" : "", th, c % 100);
    break;
  }
  default: snprintf(buf, cap, "%s", cli_thousands((int64_t)llround(v), th, sizeof th)); break;
  }
  return buf;
}

/* "count", "amount (元)", "on_time_rate (%)", "report_delay (working days)" */
static void metric_title(const cli_table *t, int c, char *buf, size_t cap) {
  const char *unit = t->types[c] == CLI_COL_FEN ? " (元)" : t->types[c] == CLI_COL_RATE ? " (%)" : "";
  if (strcmp(t->cols[c], "report_delay") == 0) unit = " (mean working days)";
  snprintf(buf, cap, "%s%s", t->cols[c], unit);
}

/* "count by city × month" */
static void chart_title(const chart_sel *s, int c, char *buf, size_t cap) {
  char m[128];
  metric_title(s->t, c, m, sizeof m);
  size_t o = (size_t)snprintf(buf, cap, "%s", m);
  for (int d = 0; d < s->n_dims && o < cap; d++)
    o += (size_t)snprintf(buf + o, cap - o, "%s%s", d ? " × " : " by ", s->t->cols[d]);
}

/* What the chart shows of the answer: "top 20 of 1,964 rows by count; others: the other
 * 1,944 rows, summed". */
static void chart_note(const chart_sel *s, const cli_chart_opts *o, int c, char *buf, size_t cap) {
  char a[32], b[32];
  cli_thousands((int64_t)s->t->nrows, a, sizeof a);
  cli_thousands((int64_t)s->n_left, b, sizeof b);
  if (!s->n_left) {
    snprintf(buf, cap, "%s row%s", a, s->t->nrows == 1 ? "" : "s");
    return;
  }
  size_t k = (size_t)snprintf(buf, cap, o->keep_order ? "first %zu of %s rows (--order)" : "top %zu of %s rows by %s",
                              s->n, a, s->t->cols[o->first_metric]);
  if (k >= cap) return;
  if (additive(s->t->types[c]))
    snprintf(buf + k, cap - k, "; others: the other %s row%s, summed", b, s->n_left == 1 ? "" : "s");
  else
    snprintf(buf + k, cap - k, "; the other %s row%s not shown (a %s cannot be summed)", b,
             s->n_left == 1 ? " is" : "s are", s->t->types[c] == CLI_COL_RATE ? "rate" : "mean");
}

/* Row r's label: its dimension cells joined by " / ", control characters escaped. */
static void row_label(const chart_sel *s, size_t r, char *buf, size_t cap) {
  size_t o = 0;
  buf[0] = 0;
  for (int d = 0; d < s->n_dims; d++) {
    const char *v = cellv(s->t, r, d);
    if (d && o + 3 < cap) memcpy(buf + o, " / ", 4), o += 3;
    o += cx_text_escape(v, strlen(v), CX_TEXT_NAME, buf + o, cap - o);
    if (o >= cap) o = cap - 1;
  }
  buf[o] = 0;
}

/* Cuts s (UTF-8) to at most `cols` display columns, ending in "..." when cut. */
static void fit_label(char *s, size_t cols) {
  if (cli_utf8_width(s, strlen(s)) <= cols) return;
  size_t n = 0;
  while (s[n]) {
    size_t k = 1;
    while ((s[n + k] & 0xC0) == 0x80) k++;
    if (cli_utf8_width(s, n + k) + 3 > cols) break;
    n += k;
  }
  memcpy(s + n, "...", 4);
}

/* A round step so that max is covered by 2..5 steps: 1, 2, 2.5 or 5 times a power of ten. */
static double nice_step(double max) {
  double x = max / 4, e = pow(10, floor(log10(x))), f = x / e;
  double nf = f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10;
  return nf * e;
}

/* A tick label: "0", "750", "2,500", "15万", "4.25亿", "50%". */
static void tick_text(uint8_t type, double v, char *buf, size_t cap) {
  char th[32];
  if (type == CLI_COL_RATE) snprintf(buf, cap, "%g%%", v);
  else if (v >= 1e8) snprintf(buf, cap, "%g亿", v / 1e8);
  else if (v >= 1e5 && v / 1e4 == floor(v / 1e4)) snprintf(buf, cap, "%s万", cli_thousands((int64_t)(v / 1e4), th, sizeof th));
  else if (v >= 1e5) snprintf(buf, cap, "%g万", v / 1e4);
  else if (v == floor(v)) snprintf(buf, cap, "%s", cli_thousands((int64_t)v, th, sizeof th));
  else snprintf(buf, cap, "%g", v);
}

static void pad(FILE *f, size_t n) {
  while (n--) fputc(' ', f);
}

static void bar(FILE *f, double v, double max, int *clipped) {
  static const char *const part[8] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};
  int cells = 0;
  if (!isnan(v) && v > 0 && max > 0) {
    if (v > max) {
      for (int i = 0; i < BAR_COLS; i++) fputs("█", f);
      fputs("▶", f);
      *clipped = 1;
      return;
    }
    int eighths = (int)llround(v / max * BAR_COLS * 8);
    for (int i = 0; i < eighths / 8; i++) fputs("█", f);
    fputs(part[eighths % 8], f);
    cells = eighths / 8 + (eighths % 8 ? 1 : 0);
  }
  pad(f, (size_t)(BAR_COLS + 1 - cells));
}

static void print_one(FILE *f, const chart_sel *s, const cli_chart_opts *o, int c) {
  const cli_table *t = s->t;
  uint8_t type = t->types[c];
  int others = s->n_left && additive(type);
  char buf[1024], lab[LABEL_COLS * 4 + 64], vb[64];
  chart_title(s, c, buf, sizeof buf);
  fprintf(f, "%s\n", buf);
  chart_note(s, o, c, buf, sizeof buf);
  fprintf(f, "%s\n", buf);
  /* widths and the scale */
  size_t lw = 0, vw = 3;
  double max = 0, osum = others ? others_sum(s, c) : 0;
  int any_na = 0;
  for (size_t i = 0; i < s->n; i++) {
    row_label(s, s->rows[i], lab, sizeof lab);
    fit_label(lab, LABEL_COLS);
    size_t w = cli_utf8_width(lab, strlen(lab));
    if (w > lw) lw = w;
    double v = num(t, s->rows[i], c);
    any_na |= isnan(v);
    size_t k = strlen(value_text(type, v, vb, sizeof vb));
    if (k > vw) vw = k;
    if (!isnan(v) && shown_unit(type, v) > max) max = shown_unit(type, v);
  }
  char olab[64];
  if (others) {
    char n[32];
    snprintf(olab, sizeof olab, "others (%s rows)", cli_thousands((int64_t)s->n_left, n, sizeof n));
    if (strlen(olab) > lw) lw = strlen(olab);
    size_t k = strlen(value_text(type, osum, vb, sizeof vb));
    if (k > vw) vw = k;
  }
  double step, axis;
  int k;
  if (type == CLI_COL_RATE) {
    step = 25, k = 4;
  } else if (max <= 0) {
    step = 1, k = 4;
  } else {
    step = nice_step(max);
    if (type == CLI_COL_INT && step < 1) step = 1;
    k = (int)ceil(max / step - 1e-9);
    if (k < 1) k = 1;
  }
  axis = step * k;
  /* the bars */
  int clipped = 0;
  for (size_t i = 0; i <= s->n; i++) {
    double v;
    if (i == s->n) {
      if (!others) break;
      snprintf(lab, sizeof lab, "%s", olab);
      v = osum;
    } else {
      row_label(s, s->rows[i], lab, sizeof lab);
      fit_label(lab, LABEL_COLS);
      v = num(t, s->rows[i], c);
    }
    fputs(lab, f);
    pad(f, lw - cli_utf8_width(lab, strlen(lab)) + 2);
    bar(f, isnan(v) ? v : shown_unit(type, v), axis, &clipped);
    const char *vt = value_text(type, v, vb, sizeof vb);
    pad(f, vw - strlen(vt) + 1);
    fprintf(f, "%s\n", vt);
  }
  /* the scale: a rule with a tick per step, then the tick values under their ticks */
  int pos[8];
  for (int i = 0; i <= k; i++) pos[i] = (int)lround((double)i * BAR_COLS / k);
  pad(f, lw + 2);
  for (int col = 0, i = 0; col <= BAR_COLS; col++) {
    if (col == pos[i]) {
      fputs(col == 0 ? "├" : col == BAR_COLS ? "┤" : "┼", f);
      if (i < k) i++;
    } else {
      fputs("─", f);
    }
  }
  fputc('\n', f);
  pad(f, lw + 2);
  int at = 0; /* the column the cursor is at, from the bar area's start */
  for (int i = 0; i <= k; i++) {
    char tb[32];
    tick_text(type, step * i, tb, sizeof tb);
    int w = (int)cli_utf8_width(tb, strlen(tb));
    int start = i == 0 ? 0 : pos[i] - w / 2;
    if (start < at + 1 && i) continue; /* no room: the next tick has its value */
    pad(f, (size_t)(start - at));
    fputs(tb, f);
    at = start + w;
  }
  fputc('\n', f);
  if (clipped) fputs("▶: beyond the scale (the others bar; its value is exact)\n", f);
  if (any_na) fputs("n/a: no data (no record this rate counts)\n", f);
}

void cli_print_chart(FILE *f, const cli_table *t, const cli_chart_opts *o) {
  if (o->first_metric < 0 || o->first_metric >= t->ncols) return;
  chart_sel s;
  if (choose(t, o, &s)) {
    fputs("chengxin: out of memory\n", stderr);
    return;
  }
  if (t->nrows == 0) fputs("(no rows)\n", f);
  for (int c = o->first_metric; c < t->ncols && t->nrows; c++) {
    if (c > o->first_metric) fputc('\n', f);
    print_one(f, &s, o, c);
  }
  free(s.rows);
}

/* ---------------------------------------------------------------- gnuplot */

/* Writes s as a gnuplot string: single quotes take no escapes, '' is a quote. Control
 * characters are shown escaped: a newline would end the command and start another. */
static void gp_string(FILE *f, const char *s) {
  size_t n = strlen(s);
  char *e = cx_malloc(4 * n + 1);
  if (e) cx_text_escape(s, n, CX_TEXT_NAME, e, 4 * n + 1);
  fputc('\'', f);
  for (const char *p = e ? e : ""; *p; p++) {
    if (*p == '\'') fputc('\'', f);
    fputc(*p, f);
  }
  fputc('\'', f);
  free(e);
}

/* Runs `gnuplot SCRIPT` with posix_spawnp and an argv: no shell ever sees the chart's path, its
 * title or its labels. quiet: gnuplot's stderr goes to /dev/null. Returns its exit status, -1
 * when it could not be started or did not exit. */
static int run_gnuplot(const char *script, int quiet) {
  static char prog[] = "gnuplot";
  char *argv[] = {prog, (char *)script, NULL};
  posix_spawn_file_actions_t fa;
  if (posix_spawn_file_actions_init(&fa)) return -1;
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  if (quiet) posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
  pid_t pid;
  int rc = posix_spawnp(&pid, prog, &fa, NULL, argv, environ);
  posix_spawn_file_actions_destroy(&fa);
  if (rc) return -1;
  int st;
  while (waitpid(pid, &st, 0) < 0)
    if (errno != EINTR) return -1;
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* The data file: one block per metric (gnuplot's `index`), one line per bar:
 * "label" value-in-shown-unit "value text" colour. */
static int write_data(FILE *f, const chart_sel *s) {
  char lab[1024], vb[64];
  for (int c = s->n_dims; c < s->t->ncols; c++) {
    uint8_t type = s->t->types[c];
    int others = s->n_left && additive(type);
    if (c > s->n_dims) fputs("\n\n", f);
    for (size_t i = 0; i <= s->n; i++) {
      double v;
      if (i == s->n) {
        if (!others) break;
        char n[32];
        snprintf(lab, sizeof lab, "others (%s rows)", cli_thousands((int64_t)s->n_left, n, sizeof n));
        v = others_sum(s, c);
      } else {
        row_label(s, s->rows[i], lab, sizeof lab);
        fit_label(lab, LABEL_COLS);
        v = num(s->t, s->rows[i], c);
      }
      for (char *p = lab; *p; p++)
        if (*p == '"') *p = '\'';
      fprintf(f, "\"%s\" %.6f \"%s\" %d\n", lab, isnan(v) ? 0.0 : shown_unit(type, v), value_text(type, v, vb, sizeof vb),
              i == s->n ? 0xA0A0A0 : 0x4472C4);
    }
  }
  return ferror(f) ? -1 : 0;
}

/* One script: the CJK-capable cairo terminal, else (cairo or the font missing) plain png. */
static int write_script(const char *path, int cairo, const char *png, const chart_sel *s, const cli_chart_opts *o,
                        const char *dat) {
  FILE *f = fopen(path, "w");
  if (!f) return -1;
  int charts = s->t->ncols - s->n_dims;
  size_t lw = 10;
  char lab[1024], buf[1024];
  for (size_t i = 0; i < s->n; i++) {
    row_label(s, s->rows[i], lab, sizeof lab);
    fit_label(lab, LABEL_COLS);
    size_t w = cli_utf8_width(lab, strlen(lab));
    if (w > lw) lw = w;
  }
  if (s->n_left && lw < 22) lw = 22; /* "others (1,944 rows)" */
  int bars = (int)s->n + (s->n_left ? 1 : 0);
  int height = charts * (PLOT_PANEL_PX + PLOT_ROW_PX * bars);
  if (cairo)
    fprintf(f, "set terminal pngcairo size %d,%d font 'Noto Sans CJK SC,10' noenhanced\n", PLOT_WIDTH, height);
  else
    fprintf(f, "set terminal png size %d,%d noenhanced\n", PLOT_WIDTH, height);
  fputs("set encoding utf8\nset output ", f);
  gp_string(f, png);
  /* horizontal bars: y = the bar's index in its block, first at the top; its label on the y
   * axis (ytic), its value at its end */
  fprintf(f, "\nset style fill solid 0.85 border -1\nset key off\nset grid xtics\n"
             "set lmargin %zu\nset rmargin 4\nset ytics scale 0\n",
          lw + 2);
  if (charts > 1) fprintf(f, "set multiplot layout %d,1\n", charts);
  for (int c = s->n_dims; c < s->t->ncols; c++) {
    uint8_t type = s->t->types[c];
    int nb = (int)s->n + (s->n_left && additive(type) ? 1 : 0);
    /* the title: metric and dimensions, then what is shown (two lines: '...' . "\n" . '...') */
    fputs("set title ", f);
    if (cairo) {
      chart_title(s, c, buf, sizeof buf);
      gp_string(f, buf);
      fputs(" . \"\\n\" . ", f);
      chart_note(s, o, c, buf, sizeof buf);
    } else {
      snprintf(buf, sizeof buf, "%s", s->t->cols[c]);
    }
    gp_string(f, buf);
    fprintf(f, "\nset yrange [%d.5:-0.5]\n", nb > 0 ? nb - 1 : 0);
    /* amounts of a million yuan and more on a 万 (1e4) or 亿 (1e8) yuan axis */
    double max = 0, div = 1;
    for (size_t i = 0; i < s->n; i++) {
      double v = num(s->t, s->rows[i], c);
      if (!isnan(v) && shown_unit(type, v) > max) max = shown_unit(type, v);
    }
    if (nb > (int)s->n && shown_unit(type, others_sum(s, c)) > max) max = shown_unit(type, others_sum(s, c));
    const char *unit = "";
    if (type == CLI_COL_FEN && max >= 1e9) div = 1e8, unit = "亿";
    else if (type == CLI_COL_FEN && max >= 1e6) div = 1e4, unit = "万";
    if (type == CLI_COL_RATE) fputs("set xrange [0:115]\nset xtics 0,25,100\nset format x '%.0f%%'\n", f);
    else fprintf(f, "set xrange [0:*]\nset offsets 0, graph 0.18, 0, 0\nset xtics autofreq\nset format x '%%g%s'\n",
                 cairo ? unit : div > 1e4 ? "e8" : div > 1 ? "e4" : "");
    fputs("plot ", f);
    gp_string(f, dat);
    fprintf(f, " index %d using ($2/%g/2):0:(0):($2/%g):($0-0.38):($0+0.38):4:ytic(1) with boxxyerror lc rgb variable, \\\n  ",
            c - s->n_dims, div, div);
    gp_string(f, dat);
    fprintf(f, " index %d using ($2/%g):0:3 with labels left offset char 0.6,0\n", c - s->n_dims, div);
  }
  if (charts > 1) fputs("unset multiplot\n", f);
  return fclose(f) == 0 ? 0 : -1;
}

int cli_plot_png(const cli_table *t, const cli_chart_opts *o, const char *png) {
  if (o->first_metric < 0 || o->first_metric >= t->ncols) return 0;
  chart_sel s;
  if (choose(t, o, &s)) {
    cli_err("out of memory", "agg: --plot");
    return CLI_EXIT_FAIL;
  }
  char dat[] = "/tmp/chengxin-plot-XXXXXX", gp[] = "/tmp/chengxin-plot-XXXXXX";
  int fd = mkstemp(dat), gfd = fd >= 0 ? mkstemp(gp) : -1;
  if (gfd < 0) {
    cli_err(strerror(errno), "agg: --plot");
    if (fd >= 0) unlink(dat), close(fd);
    free(s.rows);
    return CLI_EXIT_FAIL;
  }
  close(gfd);
  FILE *f = fdopen(fd, "w");
  int st = -1, ok = f && write_data(f, &s) == 0;
  if (!f) close(fd);
  else if (fclose(f) != 0) ok = 0;
  if (ok) {
    if (write_script(gp, 1, png, &s, o, dat) == 0) st = run_gnuplot(gp, 1);
    if (st != 0 && write_script(gp, 0, png, &s, o, dat) == 0) st = run_gnuplot(gp, 0);
  }
  unlink(dat);
  unlink(gp);
  free(s.rows);
  if (st != 0) {
    cli_err("gnuplot failed (is gnuplot installed?)", "agg: --plot %s", png);
    return CLI_EXIT_FAIL;
  }
  fprintf(stderr, "agg: wrote %s\n", png);
  return 0;
}
