/*
 * config.c — the CLI's defaults for --db, --connect, --token-file and --format.
 *
 * Order, first wins: the command line; the environment (CHENGXIN_DB, CHENGXIN_CONNECT, and
 * CHENGXIN_TOKEN, read by session.c); the user's file $XDG_CONFIG_HOME/chengxin/config
 * (default ~/.config/chengxin/config; CHENGXIN_CONFIG names another, "" none) with the keys
 * db, connect, token-file and format. A missing file is no error; a bad line stops every
 * command with its line number, so a typo is never silently ignored.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "kvconf.h"

static struct {
  char *text; /* the file, parsed in place: the values point into it (process lifetime) */
  const char *db, *connect, *token_file, *format;
  char path[4096];
} g_conf;

static int conf_entry(const char *k, const char *v, void *ctx, char *why, size_t cap) {
  (void)ctx;
  cli_fmt f;
  if (!strcmp(k, "db")) g_conf.db = v;
  else if (!strcmp(k, "connect")) g_conf.connect = v;
  else if (!strcmp(k, "token-file")) g_conf.token_file = v;
  else if (!strcmp(k, "format")) {
    if (cli_fmt_parse(v, &f) || f == CLI_FMT_XLSX) { /* a workbook is asked for, not a default */
      snprintf(why, cap, "format: expected table, csv, json or jsonl, got \"%s\"", v);
      return -1;
    }
    g_conf.format = v;
  } else {
    snprintf(why, cap, "unknown key \"%s\" (db, connect, token-file, format)", k);
    return -1;
  }
  if (!*v) {
    snprintf(why, cap, "%s: empty value", k);
    return -1;
  }
  return 0;
}

int cli_conf_load(void) {
  const char *p = getenv("CHENGXIN_CONFIG");
  if (p && !*p) return 0;
  if (p) snprintf(g_conf.path, sizeof g_conf.path, "%s", p);
  else if (getenv("XDG_CONFIG_HOME") && *getenv("XDG_CONFIG_HOME"))
    snprintf(g_conf.path, sizeof g_conf.path, "%s/chengxin/config", getenv("XDG_CONFIG_HOME"));
  else if (getenv("HOME") && *getenv("HOME"))
    snprintf(g_conf.path, sizeof g_conf.path, "%s/.config/chengxin/config", getenv("HOME"));
  else
    return 0;
  size_t n;
  int e = cli_read_file(g_conf.path, &g_conf.text, &n);
  if (e == -ENOENT && !p) return 0; /* the default file is optional; a named one is not */
  if (e) {
    cli_err(strerror(-e), "config %s", g_conf.path);
    return CLI_EXIT_USAGE;
  }
  int line = 0;
  char why[256];
  if (cx_kv_parse(g_conf.text, conf_entry, NULL, &line, why, sizeof why)) {
    fprintf(stderr, "chengxin: %s:%d: %s\n", g_conf.path, line, why);
    return CLI_EXIT_USAGE;
  }
  return 0;
}

static const char *env(const char *name) {
  const char *v = getenv(name);
  return v && *v ? v : NULL;
}

const char *cli_default_db(void) { return env("CHENGXIN_DB") ? env("CHENGXIN_DB") : g_conf.db; }

const char *cli_default_connect(void) {
  return env("CHENGXIN_CONNECT") ? env("CHENGXIN_CONNECT") : g_conf.connect;
}

void cli_default_target(const char **db, const char **connect) {
  if (*db || *connect) return; /* the command line decided */
  if (env("CHENGXIN_CONNECT")) *connect = env("CHENGXIN_CONNECT");
  else if (env("CHENGXIN_DB")) *db = env("CHENGXIN_DB");
  else if (g_conf.connect) *connect = g_conf.connect;
  else if (g_conf.db) *db = g_conf.db;
}

const char *cli_default_token_file(void) { return g_conf.token_file; }

cli_fmt cli_default_format(void) {
  cli_fmt f = CLI_FMT_TABLE;
  if (g_conf.format) cli_fmt_parse(g_conf.format, &f);
  return f;
}
