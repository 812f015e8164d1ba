/*
 * audit_cmd.c — `chengxin audit`: reads the store's append-only audit log.
 *
 *   chengxin audit --db PATH [--since DATE] [--until DATE] [--who NAME] [--op OP]
 *                  [--from-seq N] [--limit N] [--format FMT] [--raw]
 *
 * Opens the store read-only (beside a running server) and prints the entries in seq order
 * through the shared table printer (control characters of reasons and file names escaped in
 * the table; CSV cells that look like formulas neutralised unless --raw). Dates are UTC days;
 * --until is inclusive.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"

typedef struct actx {
  cli_table *t;
  cx_str who, op;
  uint64_t limit, n;
} actx;

static void fmt_time(int64_t ms, char out[32]) {
  time_t s = (time_t)(ms / 1000);
  struct tm tm;
  gmtime_r(&s, &tm);
  size_t k = strftime(out, 32, "%Y-%m-%dT%H:%M:%S", &tm);
  snprintf(out + k, 32 - k, ".%03dZ", (int)(ms % 1000));
}

static int row_cb(void *ctx, const cx_audit_entry *e) {
  actx *a = ctx;
  if (a->who.p && !cx_str_eq(a->who, e->who)) return 0;
  if (a->op.p && !cx_str_eq(a->op, e->op)) return 0;
  if (a->limit && a->n >= a->limit) return 1;
  a->n++;
  char tb[32];
  fmt_time(e->time_ms, tb);
  cli_table *t = a->t;
  cli_table_row(t);
  cli_table_setf(t, 0, "%llu", (unsigned long long)e->seq);
  cli_table_set(t, 1, tb);
  cli_table_setn(t, 2, e->who.p, e->who.n);
  cli_table_setn(t, 3, e->role.p, e->role.n);
  cli_table_setn(t, 4, e->op.p, e->op.n);
  cli_table_setn(t, 5, e->target.p, e->target.n);
  cli_table_setn(t, 6, e->detail.p, e->detail.n);
  cli_table_setn(t, 7, e->client.p, e->client.n);
  return 0;
}

static int day_ms(const char *s, int64_t *out) {
  cx_day d;
  if (cx_day_parse(cx_str_c(s), &d)) return -1;
  *out = (int64_t)d * 86400000;
  return 0;
}

int cli_cmd_audit(int argc, char **argv) {
  static const struct option opts[] = {
      {"db", required_argument, 0, 'd'},    {"since", required_argument, 0, 's'},
      {"until", required_argument, 0, 'u'}, {"who", required_argument, 0, 'w'},
      {"op", required_argument, 0, 'o'},    {"from-seq", required_argument, 0, 'F'},
      {"limit", required_argument, 0, 'l'}, {"format", required_argument, 0, 'f'},
      {"raw", no_argument, 0, 'r'},         {"out", required_argument, 0, 'O'},
      {0, 0, 0, 0},
  };
  const char *db = NULL, *out = NULL;
  int64_t since = 0, until = 0;
  uint64_t from = 0, limit = 0;
  cli_fmt fmt = CLI_FMT_TABLE;
  int raw = 0;
  actx a;
  memset(&a, 0, sizeof a);
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 'd': db = optarg; break;
    case 's':
      if (day_ms(optarg, &since)) return cli_usage("audit: --since: expected YYYY-MM-DD, got '%s'", optarg);
      break;
    case 'u':
      if (day_ms(optarg, &until)) return cli_usage("audit: --until: expected YYYY-MM-DD, got '%s'", optarg);
      until += 86400000; /* inclusive: up to the end of that day */
      break;
    case 'w': a.who = cx_str_c(optarg); break;
    case 'o': a.op = cx_str_c(optarg); break;
    case 'F':
      if (cli_parse_u64(optarg, &from)) return cli_usage("audit: --from-seq: expected a number, got '%s'", optarg);
      break;
    case 'l':
      if (cli_parse_u64(optarg, &limit) || !limit)
        return cli_usage("audit: --limit: expected a positive number, got '%s'", optarg);
      break;
    case 'f':
      if (cli_fmt_parse(optarg, &fmt))
        return cli_usage("audit: --format: expected table, csv, json, jsonl or xlsx, got '%s'", optarg);
      break;
    case 'r': raw = 1; break;
    case 'O': out = optarg; break;
    default: return cli_usage("audit: see `chengxin audit --help`");
    }
  }
  if (raw && fmt == CLI_FMT_CSV) fmt = CLI_FMT_CSV_RAW;
  if (cli_out_check("audit", fmt, out)) return CLI_EXIT_USAGE;
  if (optind < argc) return cli_usage("audit: unexpected argument '%s'", argv[optind]);
  if (!db) db = cli_default_db();
  if (!db) return cli_usage("audit: --db PATH is required (or CHENGXIN_DB)");
  if (until && since >= until) return cli_usage("audit: --since must not be after --until");
  cx_store *st;
  if (cli_store_open(db, 0, 1, 0, &st)) return CLI_EXIT_FAIL;
  cx_txn *t;
  int e = cx_store_txn_begin(st, &t);
  if (e) {
    cli_err(cx_strerror(e), "audit: %s", db);
    cx_store_close(st);
    return CLI_EXIT_FAIL;
  }
  cli_table tab;
  cli_table_init(&tab, "audit", 0);
  cli_table_col(&tab, "seq", CLI_COL_ID);
  cli_table_col(&tab, "time", CLI_COL_STR);
  cli_table_col(&tab, "who", CLI_COL_STR);
  cli_table_col(&tab, "role", CLI_COL_STR);
  cli_table_col(&tab, "op", CLI_COL_STR);
  cli_table_col(&tab, "target", CLI_COL_STR);
  cli_table_col(&tab, "detail", CLI_COL_STR);
  cli_table_col(&tab, "client", CLI_COL_STR);
  a.t = &tab;
  a.limit = limit;
  e = cx_store_audit_each(t, from, since, until, row_cb, &a);
  cx_store_txn_end(t);
  int rc = CLI_EXIT_OK;
  if (e) {
    cli_err(cx_strerror(e), "audit: reading the log of %s", db);
    rc = CLI_EXIT_FAIL;
  } else {
    cli_table *tabs[1] = {&tab};
    if (cli_emit(out, fmt, tabs, 1)) rc = CLI_EXIT_FAIL;
  }
  cli_table_free(&tab);
  cx_store_close(st);
  return rc;
}
