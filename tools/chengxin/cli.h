/*
 * cli.h — private declarations shared by the files of the `chengxin` command-line tool.
 *
 * The CLI is a thin layer: it parses arguments, calls store/ and query/ (local mode) or net/'s
 * client (remote mode), and prints what comes back through one table printer (out.c), so every
 * command gets the same formats (table, csv, json, jsonl) in both modes.
 *
 * Exit codes: 0 success, 1 failure (or rejected rows), 2 usage error; `check` uses 3 (a deny)
 * and 4 (a review).
 */
#ifndef CX_CLI_H
#define CX_CLI_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "query.h"
#include "store.h"

#define CLI_EXIT_OK 0
#define CLI_EXIT_FAIL 1
#define CLI_EXIT_USAGE 2
#define CLI_EXIT_DENY 3
#define CLI_EXIT_REVIEW 4
#define CLI_EXIT_NO_SPACE 5   /* the disk or the store's map is full: nothing was written */
#define CLI_EXIT_READ_ONLY 6  /* the store (or its file system) is read-only */
#define CLI_EXIT_NOT_WRITTEN 7 /* import: a commit failed for another reason; its rows are not in */
/** The exit status of a failed store or server call: 2 for a bad request, 5 no space,
 *  6 read-only, else 1. */
int cli_exit_for(int rc);

/* ===================================================================== util.c */

/** 1 while a progress line ("\r... rows/s") stands on stderr without its newline; the
 *  progress printers set it. cli_progress_clear() erases the line (a tty only) first, so that
 *  a message gets a line of its own; cli_err and cli_usage call it. */
extern int cli_progress_on;
void cli_progress_clear(void);
/** Prints "chengxin: <what>: <why>\n" to stderr (printf-style what). */
void cli_err(const char *why, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/** Prints "chengxin: <msg>\n" to stderr and returns CLI_EXIT_USAGE. */
int cli_usage(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/** Display width of a UTF-8 string (East Asian Wide/Fullwidth = 2 columns). */
size_t cli_utf8_width(const char *s, size_t n);
/** Writes v with thousands separators ("1,234,567") into buf; returns buf. */
char *cli_thousands(int64_t v, char *buf, size_t cap);
/** Reads a whole file (or "-" = stdin) into a malloc'd NUL-terminated buffer. 0 or -errno. */
int cli_read_file(const char *path, char **out, size_t *n);
/** The directory of the running executable (from /proc/self/exe, symlinks resolved) into buf;
 *  0 or -1. Installed data lives relative to it (../share/chengxin). */
int cli_exe_dir(char *buf, size_t cap);
/** Parses an unsigned decimal integer option; 0 or -1. */
int cli_parse_u64(const char *s, uint64_t *out);
/** Monotonic seconds. */
double cli_now(void);
/**
 * Attaches the audit line of a local write to batch b (written in the batch's txn): who is
 * "local:<unix user>", role "local". target and detail are printf-free strings (may be NULL).
 * 0 or a negative CX_E* (reported on stderr).
 */
int cli_audit_batch(cx_batch *b, const char *op, const char *target, const char *detail);
/** Fills e with the local who/role and the given op, target and detail (borrowed strings;
 *  who lives in a static buffer). */
void cli_audit_entry(cx_audit_entry *e, const char *op, const char *target, const char *detail);

/* ===================================================================== out.c */

/* CLI_FMT_CSV_RAW: CSV without the formula neutralisation (--raw; out.c says why). */
typedef enum cli_fmt { CLI_FMT_TABLE, CLI_FMT_CSV, CLI_FMT_JSON, CLI_FMT_JSONL, CLI_FMT_XLSX, CLI_FMT_CSV_RAW } cli_fmt;
/** --no-header: tables and CSV print their rows alone (no header, rule or "(N rows)"). */
extern int cli_no_header;
/** table, csv, json, jsonl or xlsx; -1 for anything else. */
int cli_fmt_parse(const char *s, cli_fmt *out);

/* Column types: decide alignment, thousands separators and JSON types. Cells hold the raw
 * machine value as text ("1234", "0.935", "true"); the table format decorates it. */
typedef enum cli_col_type {
  CLI_COL_STR,  /* JSON string; left-aligned */
  CLI_COL_INT,  /* JSON integer; right-aligned with thousands separators */
  CLI_COL_NUM,  /* JSON real; right-aligned, two decimals */
  CLI_COL_RATE, /* JSON real in [0,1]; table shows a percentage */
  CLI_COL_FEN,  /* JSON integer (fen); table shows yuan with two decimals */
  CLI_COL_BOOL, /* JSON true/false; table shows yes/no */
  CLI_COL_ID,   /* JSON integer; right-aligned, no separators (region codes, days) */
} cli_col_type;

#define CLI_MAX_COLS 48

typedef struct cli_table {
  const char *name;              /* key of this table when nested into another's JSON */
  int vertical;                  /* one record: table format prints "field  value" lines */
  int ncols;
  char *cols[CLI_MAX_COLS];
  uint8_t types[CLI_MAX_COLS];
  size_t nrows, cap;
  char **cells;                  /* nrows * ncols, owned */
} cli_table;

void cli_table_init(cli_table *t, const char *name, int vertical);
void cli_table_free(cli_table *t);
void cli_table_col(cli_table *t, const char *name, cli_col_type type);
/** Starts a new row; then cli_table_set() fills cells (unset cells are empty). */
void cli_table_row(cli_table *t);
void cli_table_set(cli_table *t, int col, const char *val);
void cli_table_setn(cli_table *t, int col, const char *val, size_t n);
void cli_table_setf(cli_table *t, int col, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
void cli_table_seti(cli_table *t, int col, int64_t v);
/**
 * Prints a document of one or more tables. JSON: one table -> array (or object if vertical);
 * several -> the first (vertical) table's object with the others nested under their names.
 * JSONL: one line per row (several tables: one line with the nested object).
 */
void cli_print(FILE *f, cli_fmt fmt, cli_table *const *tabs, int n);
/* ===================================================================== xlsx.c, emit.c */

/** The tables as an Excel workbook at path (one worksheet per table; xlsx.c says how cells
 *  are typed). 0, or -1 after a message on stderr (the file is removed). */
int cli_xlsx_write(const char *path, cli_table *const *tabs, int n);
/** The same workbook copied to a stream (through a temporary file). 0 or -1 (said, and
 *  cli_out_fail() called). cli_print(f, CLI_FMT_XLSX, ...) calls it. */
int cli_xlsx_print(FILE *f, cli_table *const *tabs, int n);

/** Usage check of --format/--out before a command runs: xlsx never goes to a terminal.
 *  0 or CLI_EXIT_USAGE (said). */
int cli_out_check(const char *cmd, cli_fmt fmt, const char *out);
/** Prints the tables to out (--out FILE; NULL or "-": standard output) in fmt. 0, or -1 after
 *  a message; then cli_out_failed() is 1 and main() exits 1. */
int cli_emit(const char *out, cli_fmt fmt, cli_table *const *tabs, int n);
/** Marks the output failed (a message is already on stderr). */
void cli_out_fail(void);
/** 1 when some output of this process failed to be written. */
int cli_out_failed(void);

/* ===================================================================== chart.c */

#define CLI_CHART_TOP 20 /* bars of a chart when --top is not given */

/** Which rows of an aggregate's table a chart draws (chart.c's opening comment says how). */
typedef struct cli_chart_opts {
  int first_metric; /* columns before it label the bars (dimensions); it and the rest are metrics */
  size_t top;       /* at most this many bars, the rest in one "others" bar; 0: CLI_CHART_TOP */
  int keep_order;   /* 1 (--order): the first `top` rows as answered; 0: the largest first */
} cli_chart_opts;

/** Horizontal bar charts on the terminal, one per metric column of t, over the same bars:
 *  a header naming the metric and the dimensions, the bars, a scale. */
void cli_print_chart(FILE *f, const cli_table *t, const cli_chart_opts *o);
/** The same charts as a PNG through gnuplot (spawned without a shell). 0, or CLI_EXIT_FAIL
 *  after a message on stderr (gnuplot missing or failing, a temporary file). */
int cli_plot_png(const cli_table *t, const cli_chart_opts *o, const char *png);

/* ===================================================================== config.c */

/** The port of --connect HOST and of chengxind's --listen default. */
#define CLI_DEFAULT_PORT 7411

/** Reads the user's config file (config.c says which and in what order defaults apply).
 *  0, or CLI_EXIT_USAGE after printing FILE:LINE: reason. Called once, before a command. */
int cli_conf_load(void);
/** --db when the command line gave none: $CHENGXIN_DB, else the config's db, else NULL. */
const char *cli_default_db(void);
/** --connect when the command line gave none: $CHENGXIN_CONNECT, else the config's, else NULL. */
const char *cli_default_connect(void);
/** For commands that take --db or --connect: when the command line gave neither, the first
 *  of $CHENGXIN_CONNECT, $CHENGXIN_DB, the config's connect, the config's db. */
void cli_default_target(const char **db, const char **connect);
/** The config's token-file (after --token-file and $CHENGXIN_TOKEN), else NULL. */
const char *cli_default_token_file(void);
/** The config's format, else table. */
cli_fmt cli_default_format(void);

/* ===================================================================== commands */

int cli_cmd_gen(int argc, char **argv);
int cli_cmd_import(int argc, char **argv);
int cli_cmd_init(int argc, char **argv);
int cli_cmd_info(int argc, char **argv);
int cli_cmd_upgrade(int argc, char **argv);
int cli_cmd_load(int argc, char **argv); /* load-catalog | load-calendar | load-regions */
int cli_cmd_load_remote(int argc, char **argv);
int cli_cmd_verify(int argc, char **argv);
int cli_cmd_backup(int argc, char **argv);
int cli_cmd_compact(int argc, char **argv);
int cli_cmd_prune_checks(int argc, char **argv);
int cli_cmd_debug(int argc, char **argv);
int cli_cmd_status(int argc, char **argv);
int cli_cmd_records(int argc, char **argv);
int cli_cmd_check(int argc, char **argv);
int cli_cmd_search(int argc, char **argv);
int cli_cmd_agg(int argc, char **argv);
int cli_cmd_change(int argc, char **argv); /* repair | revoke | objection */
int cli_cmd_stats(int argc, char **argv);
int cli_cmd_feedback(int argc, char **argv);
int cli_cmd_scorecard(int argc, char **argv);
int cli_cmd_audit(int argc, char **argv);
int cli_cmd_export(int argc, char **argv);
int cli_cmd_restore(int argc, char **argv);

/** Prints the help of a command (NULL: the overview) to f. Returns 0 when known. */
int cli_help(FILE *f, const char *cmd);
/** True when argv holds --help / -h. */
int cli_wants_help(int argc, char **argv);

/** Opens a store with a readable error message; 0, CLI_EXIT_READ_ONLY, CLI_EXIT_NO_SPACE or
 *  CLI_EXIT_FAIL. */
int cli_store_open(const char *path, int create, int read_only, int bulk, cx_store **out);
/** cli_store_open with every option (group_read...). */
int cli_store_open_opts(const char *path, const cx_store_opts *so, cx_store **out);

#endif
