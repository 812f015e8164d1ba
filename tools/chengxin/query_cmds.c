/*
 * query_cmds.c — status, records, check, search, agg: local (--db) or remote (--connect).
 *
 * Each command builds a protocol request (session.c runs it either way) and renders the result
 * into cli_tables, so every format and both modes print the same rows.
 */
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "session.h"

/* ===================================================================== options */

enum { O_DB = 1000, O_CONNECT, O_TOKEN, O_ASOF, O_ROLE, O_FORMAT, O_RAW, O_OUT };

static const struct option COMMON[] = {
    {"db", required_argument, 0, O_DB},       {"connect", required_argument, 0, O_CONNECT},
    {"token-file", required_argument, 0, O_TOKEN}, {"as-of", required_argument, 0, O_ASOF},
    {"role", required_argument, 0, O_ROLE},   {"format", required_argument, 0, O_FORMAT},
    {"raw", no_argument, 0, O_RAW},           {"out", required_argument, 0, O_OUT},
};
#define N_COMMON ((int)(sizeof COMMON / sizeof COMMON[0]))

typedef int (*opt_fn)(void *ctx, int c, const char *arg); /* 0 or CLI_EXIT_USAGE */

/* Parses common and extra options; positionals are left in argv[optind..]. */
static int qparse(cli_sess *s, const char *cmd, int argc, char **argv, const struct option *extra,
                  int n_extra, opt_fn fn, void *ctx) {
  struct option all[64];
  int n = 0;
  for (int i = 0; i < N_COMMON; i++) all[n++] = COMMON[i];
  for (int i = 0; i < n_extra && n < 63; i++) all[n++] = extra[i];
  memset(&all[n], 0, sizeof all[n]);
  memset(s, 0, sizeof *s);
  s->cmd = cmd;
  s->role = CX_ROLE_ADMIN;
  s->as_of = cx_day_today();
  s->fmt = cli_default_format();
  int role_set = 0, raw = 0, c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "", all, NULL)) != -1) {
    switch (c) {
    case O_DB: s->db = optarg; break;
    case O_CONNECT: s->connect = optarg; break;
    case O_TOKEN: s->token_file = optarg; break;
    case O_ASOF:
      if (cx_day_parse(cx_str_c(optarg), &s->as_of))
        return cli_usage("%s: --as-of: expected YYYY-MM-DD, got '%s'", cmd, optarg);
      s->as_of_set = 1;
      break;
    case O_ROLE: {
      int r = cx_enum_parse(cx_role_names, CX_ROLE_COUNT, cx_str_c(optarg));
      if (r < 0) return cli_usage("%s: --role: expected public, approval, analyst, submitter or admin", cmd);
      s->role = (cx_role)r;
      role_set = 1;
      break;
    }
    case O_FORMAT:
      if (cli_fmt_parse(optarg, &s->fmt))
        return cli_usage("%s: --format: expected table, csv, json, jsonl or xlsx, got '%s'", cmd, optarg);
      break;
    case O_RAW: raw = 1; break;
    case O_OUT: s->out = optarg; break;
    case '?': return cli_usage("%s: bad option", cmd);
    default:
      if (!fn || fn(ctx, c, optarg)) return CLI_EXIT_USAGE;
    }
  }
  if (raw && s->fmt == CLI_FMT_CSV) s->fmt = CLI_FMT_CSV_RAW; /* no formula neutralisation */
  if (cli_out_check(cmd, s->fmt, s->out)) return CLI_EXIT_USAGE;
  if (s->db && s->connect) return cli_usage("%s: give either --db or --connect, not both", cmd);
  if (!s->db && !s->connect && !role_set) cli_default_target(&s->db, &s->connect);
  else if (!s->db && !s->connect) s->db = cli_default_db(); /* --role: local mode */
  if (s->connect && role_set)
    return cli_usage("%s: --role is for local mode; with --connect the token decides the role", cmd);
  return 0;
}

/* Prints a failed call and returns the exit status (bad requests are usage errors). */
static int call_failed(const char *cmd, const char *what, int rc, const char *err) {
  cli_err(err && *err ? err : cx_strerror(rc), "%s%s%s", cmd, what ? " " : "", what ? what : "");
  return cli_exit_for(rc);
}

static void print_tables(cli_sess *s, cli_table **t, int n) { cli_emit(s->out, s->fmt, t, n); }

/* Cell from a JSON value: strings as is, numbers as text, null as "". */
static void set_json(cli_table *t, int col, json_t *v) {
  if (!v) return;
  switch (json_typeof(v)) {
  case JSON_STRING: cli_table_setn(t, col, json_string_value(v), json_string_length(v)); break;
  case JSON_INTEGER: cli_table_seti(t, col, json_integer_value(v)); break;
  case JSON_REAL: cli_table_setf(t, col, "%.10g", json_real_value(v)); break;
  case JSON_TRUE: cli_table_set(t, col, "true"); break;
  case JSON_FALSE: cli_table_set(t, col, "false"); break;
  case JSON_ARRAY: {
    char buf[1024];
    size_t o = 0, i;
    json_t *x;
    buf[0] = 0;
    json_array_foreach(v, i, x) {
      if (!json_is_string(x)) continue;
      int w = snprintf(buf + o, sizeof buf - o, "%s%s", o ? "," : "", json_string_value(x));
      if (w < 0 || (size_t)w >= sizeof buf - o) break;
      o += (size_t)w;
    }
    cli_table_set(t, col, buf);
    break;
  }
  case JSON_OBJECT: { /* extra fields: "name=value; name=value" */
    char buf[4096];
    size_t o = 0;
    const char *k;
    json_t *x;
    buf[0] = 0;
    json_object_foreach(v, k, x) {
      if (!json_is_string(x)) continue;
      int w = snprintf(buf + o, sizeof buf - o, "%s%s=%s", o ? "; " : "", k, json_string_value(x));
      if (w < 0 || (size_t)w >= sizeof buf - o) break;
      o += (size_t)w;
    }
    cli_table_set(t, col, buf);
    break;
  }
  default: break;
  }
}

/* ===================================================================== status */

int cli_cmd_status(int argc, char **argv) {
  cli_sess s;
  int rc = qparse(&s, "status", argc, argv, NULL, 0, NULL, NULL);
  if (rc) return rc;
  if (argc - optind != 1) return cli_usage("status: expected one CODE");
  const char *code = argv[optind];
  if ((rc = cli_sess_open(&s))) return rc;
  json_t *args = json_object(), *res;
  json_object_set_new(args, "code", json_string(code));
  char err[512];
  int e = cli_sess_call(&s, "entity", args, &res, err, sizeof err);
  json_decref(args);
  if (e) {
    cli_sess_close(&s);
    return call_failed("status", code, e, err);
  }
  cli_table ent, cnt;
  cli_table_init(&ent, "entity", 1);
  static const struct {
    const char *name;
    cli_col_type type;
  } cols[] = {{"code", CLI_COL_STR},          {"name", CLI_COL_STR},          {"kind", CLI_COL_STR},
              {"region", CLI_COL_ID},        {"province", CLI_COL_STR},      {"city", CLI_COL_STR},
              {"county", CLI_COL_STR},        {"region_until", CLI_COL_INT},  {"authority_code", CLI_COL_STR}, {"authority_name", CLI_COL_STR},
              {"flags", CLI_COL_STR},         {"last_update", CLI_COL_STR},   {"as_of", CLI_COL_STR}};
  for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) cli_table_col(&ent, cols[i].name, cols[i].type);
  cli_table_row(&ent);
  for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) set_json(&ent, (int)i, json_object_get(res, cols[i].name));
  cli_table_init(&cnt, "counts", 0);
  cli_table_col(&cnt, "category", CLI_COL_STR);
  cli_table_col(&cnt, "total", CLI_COL_INT);
  cli_table_col(&cnt, "in_force", CLI_COL_INT);
  cli_table_col(&cnt, "visible", CLI_COL_INT);
  /* categories in the canonical order, not the map's */
  json_t *counts = json_object_get(res, "counts");
  for (int c = 0; c < CX_CAT_COUNT; c++) {
    json_t *cc = json_object_get(counts, cx_category_names[c]);
    if (!cc) continue;
    cli_table_row(&cnt);
    cli_table_set(&cnt, 0, cx_category_names[c]);
    set_json(&cnt, 1, json_object_get(cc, "total"));
    set_json(&cnt, 2, json_object_get(cc, "in_force"));
    set_json(&cnt, 3, json_object_get(cc, "visible"));
  }
  cli_table *tabs[2] = {&ent, &cnt};
  print_tables(&s, tabs, 2);
  cli_table_free(&ent);
  cli_table_free(&cnt);
  json_decref(res);
  cli_sess_close(&s);
  return 0;
}

/* ===================================================================== records */

typedef struct rec_opts {
  const char *category, *cursor;
  uint64_t limit;
  int all;
} rec_opts;

static int rec_opt(void *ctx, int c, const char *arg) {
  rec_opts *o = ctx;
  switch (c) {
  case 'c': o->category = arg; return 0;
  case 'u': o->cursor = arg; return 0;
  case 'a': o->all = 1; return 0;
  case 'l':
    if (cli_parse_u64(arg, &o->limit) || o->limit < 1 || o->limit > 1000)
      return cli_usage("records: --limit: expected 1..1000, got '%s'", arg);
    return 0;
  }
  return CLI_EXIT_USAGE;
}

static const struct {
  const char *name;
  cli_col_type type;
} REC_COLS[] = {
    {"decision_date", CLI_COL_STR}, {"record_id", CLI_COL_STR},      {"category", CLI_COL_STR},
    {"subtype", CLI_COL_STR},       {"severity", CLI_COL_STR},       {"status", CLI_COL_STR},
    {"objection", CLI_COL_BOOL},    {"authority_name", CLI_COL_STR}, {"amount_fen", CLI_COL_FEN},
    {"valid_until", CLI_COL_STR},   {"list_type", CLI_COL_STR},      {"measures", CLI_COL_STR},
    {"report_delay", CLI_COL_ID},  {"in_force", CLI_COL_BOOL},      {"displayable", CLI_COL_BOOL},
};
#define N_REC_COLS ((int)(sizeof REC_COLS / sizeof REC_COLS[0]))

/* csv/json/jsonl: every field of the protocol's record (CX_RECORD_ANSWER, net/exec.h), for
 * scripts. */
static cli_col_type answer_col_type(int f) {
  switch (cx_record_answer_fields[f].type) {
  case CX_AT_BOOL: return CLI_COL_BOOL;
  case CX_AT_FEN: return CLI_COL_FEN;
  case CX_AT_INT: return CLI_COL_ID;
  default: return CLI_COL_STR;
  }
}
#define N_REC_COLS_FULL CX_RA_COUNT

int cli_cmd_records(int argc, char **argv) {
  static const struct option extra[] = {
      {"category", required_argument, 0, 'c'}, {"limit", required_argument, 0, 'l'},
      {"all", no_argument, 0, 'a'},            {"cursor", required_argument, 0, 'u'},
  };
  rec_opts ro = {0};
  cli_sess s;
  int rc = qparse(&s, "records", argc, argv, extra, 4, rec_opt, &ro);
  if (rc) return rc;
  if (argc - optind != 1) return cli_usage("records: expected one CODE");
  const char *code = argv[optind];
  if ((rc = cli_sess_open(&s))) return rc;
  cli_table t;
  cli_table_init(&t, "records", 0);
  int full = s.fmt != CLI_FMT_TABLE, ncols = full ? N_REC_COLS_FULL : N_REC_COLS;
  for (int i = 0; i < ncols; i++)
    cli_table_col(&t, full ? cx_record_answer_fields[i].name : REC_COLS[i].name,
                  full ? answer_col_type(i) : REC_COLS[i].type);
  char cursor[256] = "";
  if (ro.cursor) snprintf(cursor, sizeof cursor, "%s", ro.cursor);
  int status = 0;
  for (;;) {
    json_t *args = json_object(), *res;
    json_object_set_new(args, "code", json_string(code));
    if (ro.category) json_object_set_new(args, "category", json_string(ro.category));
    json_object_set_new(args, "limit", json_integer(ro.limit ? (json_int_t)ro.limit : ro.all ? 1000 : 20));
    if (cursor[0]) json_object_set_new(args, "cursor", json_string(cursor));
    char err[512];
    int e = cli_sess_call(&s, "records", args, &res, err, sizeof err);
    json_decref(args);
    if (e) {
      status = call_failed("records", code, e, err);
      break;
    }
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(res, "records"), i, r) {
      cli_table_row(&t);
      for (int c = 0; c < ncols; c++) {
        const char *name = t.cols[c];
        json_t *v = json_object_get(r, name);
        if (strcmp(name, "report_delay") == 0 && json_integer_value(v) < 0) continue;
        if (strcmp(name, "valid_until") == 0 && json_is_null(v)) {
          cli_table_set(&t, c, "open");
          continue;
        }
        set_json(&t, c, v);
      }
    }
    json_t *next = json_object_get(res, "next");
    if (json_is_string(next)) {
      snprintf(cursor, sizeof cursor, "%s", json_string_value(next));
    } else {
      cursor[0] = 0;
    }
    json_decref(res);
    if (!ro.all || !cursor[0]) break;
  }
  if (status == 0) {
    cli_table *tabs[1] = {&t};
    print_tables(&s, tabs, 1);
    if (cursor[0] && !ro.all) fprintf(stderr, "records: more: --cursor %s (or --all)\n", cursor);
  }
  cli_table_free(&t);
  cli_sess_close(&s);
  return status;
}

/* ===================================================================== check */

typedef struct check_opts {
  const char *action, *file;
} check_opts;

static int check_opt(void *ctx, int c, const char *arg) {
  check_opts *o = ctx;
  if (c == 'a') o->action = arg;
  else if (c == 'f') o->file = arg;
  else return CLI_EXIT_USAGE;
  return 0;
}

/* Appends s to buf as a list item unless already there. */
static void add_item(char *buf, size_t cap, const char *s, char sep) {
  size_t n = strlen(s), bl = strlen(buf);
  for (const char *p = buf; *p;) {
    const char *e = strchr(p, sep);
    size_t k = e ? (size_t)(e - p) : strlen(p);
    if (k == n && memcmp(p, s, n) == 0) return;
    p += k + (e ? 1 : 0);
  }
  if (bl + n + 2 > cap) return;
  if (bl) buf[bl++] = sep;
  memcpy(buf + bl, s, n + 1);
}

#define CHECK_CHUNK 1000 /* codes per request: the protocol's limit */

static int grow(char ***v, size_t *cap) {
  char **nv = cx_realloc(*v, *cap * 2 * sizeof **v);
  if (!nv) return -1;
  *v = nv;
  *cap *= 2;
  return 0;
}

int cli_cmd_check(int argc, char **argv) {
  static const struct option extra[] = {
      {"action", required_argument, 0, 'a'},
      {"file", required_argument, 0, 'f'},
  };
  check_opts co = {0};
  cli_sess s;
  int rc = qparse(&s, "check", argc, argv, extra, 2, check_opt, &co);
  if (rc) return rc;
  if (!co.action) return cli_usage("check: --action A is required");
  if (!co.file && optind >= argc) return cli_usage("check: give codes or --file F");
  /* codes: arguments, then the file's lines */
  size_t n = 0, cap = 64;
  char **codes = cx_malloc(cap * sizeof *codes);
  char *text = NULL;
  if (!codes) return CLI_EXIT_FAIL;
  for (int i = optind; i < argc; i++) {
    if (n == cap && grow(&codes, &cap)) goto nomem;
    codes[n++] = argv[i];
  }
  if (co.file) {
    size_t tn;
    int e = cli_read_file(co.file, &text, &tn);
    if (e) {
      cli_err(strerror(-e), "check: %s", co.file);
      free(codes);
      return CLI_EXIT_FAIL;
    }
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
      while (*l == ' ' || *l == '\t') l++;
      size_t k = strlen(l);
      while (k && (l[k - 1] == '\r' || l[k - 1] == ' ' || l[k - 1] == '\t')) l[--k] = 0;
      if (!k || *l == '#') continue;
      if (n == cap && grow(&codes, &cap)) goto nomem;
      codes[n++] = l;
    }
  }
  if ((rc = cli_sess_open(&s))) {
    free(codes);
    free(text);
    return rc;
  }
  cli_table t;
  cli_table_init(&t, "results", 0);
  cli_table_col(&t, "code", CLI_COL_STR);
  cli_table_col(&t, "verdict", CLI_COL_STR);
  cli_table_col(&t, "measures", CLI_COL_STR);
  cli_table_col(&t, "records", CLI_COL_STR);
  cli_table_col(&t, "incentives", CLI_COL_STR);
  cli_table_col(&t, "reason", CLI_COL_STR);
  int any_deny = 0, any_review = 0, any_invalid = 0, status = 0;
  for (size_t at = 0; at < n && status == 0; at += CHECK_CHUNK) {
    json_t *args = json_object(), *arr = json_array(), *res;
    for (size_t i = at; i < n && i < at + CHECK_CHUNK; i++) json_array_append_new(arr, json_string(codes[i]));
    json_object_set_new(args, "codes", arr);
    json_object_set_new(args, "action", json_string(co.action));
    char err[512];
    int e = cli_sess_call(&s, "check", args, &res, err, sizeof err);
    json_decref(args);
    if (e) {
      status = call_failed("check", NULL, e, err);
      break;
    }
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(res, "results"), i, r) {
      cli_table_row(&t);
      set_json(&t, 0, json_object_get(r, "code"));
      json_t *v = json_object_get(r, "verdict");
      set_json(&t, 1, v);
      const char *vs = json_string_value(v);
      if (vs && strcmp(vs, "deny") == 0) any_deny = 1;
      if (vs && strcmp(vs, "review") == 0) any_review = 1;
      if (vs && strcmp(vs, "invalid_code") == 0) any_invalid = 1;
      char ms[1024] = "", rs[2048] = "", is[1024] = "";
      size_t k;
      json_t *h;
      json_array_foreach(json_object_get(r, "hits"), k, h) {
        const char *m = json_string_value(json_object_get(h, "measure"));
        const char *rid = json_string_value(json_object_get(h, "record_id"));
        if (m) add_item(ms, sizeof ms, m, ',');
        if (rid) add_item(rs, sizeof rs, rid, ';');
      }
      json_array_foreach(json_object_get(r, "incentives"), k, h) {
        const char *m = json_string_value(json_object_get(h, "measure"));
        if (m) add_item(is, sizeof is, m, ',');
      }
      cli_table_set(&t, 2, ms);
      cli_table_set(&t, 3, rs);
      cli_table_set(&t, 4, is);
      set_json(&t, 5, json_object_get(r, "reason"));
    }
    json_decref(res);
  }
  if (status == 0) {
    cli_table *tabs[1] = {&t};
    print_tables(&s, tabs, 1);
    status = any_deny ? CLI_EXIT_DENY : any_review ? CLI_EXIT_REVIEW : any_invalid ? CLI_EXIT_FAIL : 0;
  }
  cli_table_free(&t);
  cli_sess_close(&s);
  free(codes);
  free(text);
  return status;
nomem:
  cli_err("out of memory", "check");
  free(codes);
  free(text);
  return CLI_EXIT_FAIL;
}

/* ===================================================================== search */

typedef struct search_opts {
  uint64_t limit;
  const char *cursor;
} search_opts;

static int search_opt(void *ctx, int c, const char *arg) {
  search_opts *o = ctx;
  if (c == 'u') {
    o->cursor = arg;
    return 0;
  }
  if (c != 'l') return CLI_EXIT_USAGE;
  if (cli_parse_u64(arg, &o->limit) || o->limit < 1 || o->limit > 100)
    return cli_usage("search: --limit: expected 1..100, got '%s'", arg);
  return 0;
}

/* search [--limit N] [--cursor C] QUERY: one page; the next page's cursor goes to stderr. */
int cli_cmd_search(int argc, char **argv) {
  static const struct option extra[] = {{"limit", required_argument, 0, 'l'},
                                        {"cursor", required_argument, 0, 'u'}};
  search_opts so = {20, NULL};
  cli_sess s;
  int rc = qparse(&s, "search", argc, argv, extra, 2, search_opt, &so);
  if (rc) return rc;
  if (argc - optind != 1 || !*argv[optind]) return cli_usage("search: expected one QUERY");
  if ((rc = cli_sess_open(&s))) return rc;
  json_t *args = json_object(), *res;
  json_object_set_new(args, "prefix", json_string(argv[optind]));
  json_object_set_new(args, "limit", json_integer((json_int_t)so.limit));
  if (so.cursor && *so.cursor) json_object_set_new(args, "cursor", json_string(so.cursor));
  char err[512];
  int e = cli_sess_call(&s, "search", args, &res, err, sizeof err);
  json_decref(args);
  if (e) {
    cli_sess_close(&s);
    return call_failed("search", argv[optind], e, err);
  }
  cli_table t;
  cli_table_init(&t, "results", 0);
  cli_table_col(&t, "code", CLI_COL_STR);
  cli_table_col(&t, "name", CLI_COL_STR);
  cli_table_col(&t, "kind", CLI_COL_STR);
  cli_table_col(&t, "match", CLI_COL_STR);
  cli_table_col(&t, "region", CLI_COL_INT);
  size_t i;
  json_t *r;
  json_array_foreach(json_object_get(res, "results"), i, r) {
    cli_table_row(&t);
    set_json(&t, 0, json_object_get(r, "code"));
    set_json(&t, 1, json_object_get(r, "name"));
    set_json(&t, 2, json_object_get(r, "kind"));
    set_json(&t, 3, json_object_get(r, "match"));
    set_json(&t, 4, json_object_get(r, "region"));
  }
  cli_table *tabs[1] = {&t};
  print_tables(&s, tabs, 1);
  cli_table_free(&t);
  json_t *next = json_object_get(res, "next");
  if (json_is_string(next)) fprintf(stderr, "search: more: --cursor %s\n", json_string_value(next));
  json_decref(res);
  cli_sess_close(&s);
  return 0;
}

/* ===================================================================== agg */

typedef struct agg_opts {
  const char *by, *from, *to, *metrics, *order, *plot, *of;
  const char *where[CX_DIM_COUNT];
  int n_where, desc, chart, scan;
  uint64_t limit, top;
} agg_opts;

static int agg_opt(void *ctx, int c, const char *arg) {
  agg_opts *o = ctx;
  switch (c) {
  case 'b': o->by = arg; return 0;
  case 'w':
    if (o->n_where == CX_DIM_COUNT) return cli_usage("agg: too many --where");
    o->where[o->n_where++] = arg;
    return 0;
  case 'f': o->from = arg; return 0;
  case 't': o->to = arg; return 0;
  case 'm': o->metrics = arg; return 0;
  case 'o': o->order = arg; return 0;
  case 'd': o->desc = 1; return 0;
  case 'c': o->chart = 1; return 0;
  case 'p':
    /* The path goes into a gnuplot script: no control character (a newline would start a
     * command of its own), UTF-8 so that it can be quoted and shown. */
    if (cx_text_check(arg, strlen(arg), CX_TEXT_NAME, NULL))
      return cli_usage("agg: --plot: the file name holds a control character or is not UTF-8");
    o->plot = arg;
    return 0;
  case 's': o->scan = 1; return 0;
  case 'n':
    if (cli_parse_u64(arg, &o->top) || o->top < 1 || o->top > 1000)
      return cli_usage("agg: --top: expected 1..1000 bars, got '%s'", arg);
    return 0;
  case 'O': o->of = arg; return 0; /* records | checks (the check log's rollup) */
  case 'l':
    if (cli_parse_u64(arg, &o->limit)) return cli_usage("agg: --limit: expected a count, got '%s'", arg);
    return 0;
  }
  return CLI_EXIT_USAGE;
}

static json_t *split_list(const char *s) {
  json_t *a = json_array();
  while (s && *s) {
    size_t k = strcspn(s, ",");
    if (k) json_array_append_new(a, json_stringn(s, k));
    s += k;
    if (*s == ',') s++;
  }
  return a;
}

static cli_col_type metric_type(const char *m) {
  if (!strcmp(m, "amount")) return CLI_COL_FEN;
  if (!strcmp(m, "count") || !strcmp(m, "in_force") || !strcmp(m, "on_time") || !strcmp(m, "repaired"))
    return CLI_COL_INT;
  if (!strcmp(m, "report_delay")) return CLI_COL_NUM;
  if (strstr(m, "_rate")) return CLI_COL_RATE;
  return CLI_COL_STR;
}

int cli_cmd_agg(int argc, char **argv) {
  static const struct option extra[] = {
      {"by", required_argument, 0, 'b'},   {"where", required_argument, 0, 'w'},
      {"from", required_argument, 0, 'f'}, {"to", required_argument, 0, 't'},
      {"metrics", required_argument, 0, 'm'}, {"order", required_argument, 0, 'o'},
      {"desc", no_argument, 0, 'd'},       {"limit", required_argument, 0, 'l'},
      {"chart", no_argument, 0, 'c'},      {"plot", required_argument, 0, 'p'},
      {"scan", no_argument, 0, 's'},       {"top", required_argument, 0, 'n'},
      {"of", required_argument, 0, 'O'},
  };
  agg_opts ao;
  memset(&ao, 0, sizeof ao);
  cli_sess s;
  int rc = qparse(&s, "agg", argc, argv, extra, (int)(sizeof extra / sizeof extra[0]), agg_opt, &ao);
  if (rc) return rc;
  if (optind < argc) return cli_usage("agg: unexpected argument '%s'", argv[optind]);
  cx_day d;
  if (ao.from && cx_day_parse(cx_str_c(ao.from), &d)) return cli_usage("agg: --from: expected YYYY-MM-DD");
  if (ao.to && cx_day_parse(cx_str_c(ao.to), &d)) return cli_usage("agg: --to: expected YYYY-MM-DD");
  json_t *args = json_object();
  json_object_set_new(args, "by", split_list(ao.by));
  if (ao.n_where) {
    json_t *w = json_object();
    for (int i = 0; i < ao.n_where; i++) {
      const char *eq = strchr(ao.where[i], '=');
      if (!eq || eq == ao.where[i]) {
        json_decref(w);
        json_decref(args);
        return cli_usage("agg: --where: expected DIM=V[,V], got '%s'", ao.where[i]);
      }
      char dim[64];
      snprintf(dim, sizeof dim, "%.*s", (int)(eq - ao.where[i]), ao.where[i]);
      json_t *vals = json_object_get(w, dim);
      json_t *nv = split_list(eq + 1);
      if (vals) json_array_extend(vals, nv), json_decref(nv);
      else json_object_set_new(w, dim, nv);
    }
    json_object_set_new(args, "where", w);
  }
  if (ao.from) json_object_set_new(args, "from", json_string(ao.from));
  if (ao.to) json_object_set_new(args, "to", json_string(ao.to));
  if (ao.metrics) json_object_set_new(args, "metrics", split_list(ao.metrics));
  if (ao.order) json_object_set_new(args, "order", json_string(ao.order));
  if (ao.desc) json_object_set_new(args, "desc", json_true());
  if (ao.limit) json_object_set_new(args, "limit", json_integer((json_int_t)ao.limit));
  if (ao.of) json_object_set_new(args, "of", json_string(ao.of));
  s.force_scan = ao.scan;
  if ((rc = cli_sess_open(&s))) {
    json_decref(args);
    return rc;
  }
  json_t *res;
  char err[512];
  int e = cli_sess_call(&s, "aggregate", args, &res, err, sizeof err);
  json_decref(args);
  if (e) {
    cli_sess_close(&s);
    return call_failed("agg", NULL, e, err);
  }
  cli_table t;
  cli_table_init(&t, "rows", 0);
  json_t *cols = json_object_get(res, "columns");
  size_t i, ncol = json_array_size(cols);
  json_t *v;
  int n_group = 0;
  json_array_foreach(cols, i, v) {
    const char *name = json_string_value(v);
    int is_dim = cx_enum_parse(cx_dim_names, CX_DIM_COUNT, cx_str_c(name)) >= 0;
    if (is_dim) n_group++;
    cli_table_col(&t, name, is_dim ? CLI_COL_STR : metric_type(name));
  }
  json_t *r;
  json_array_foreach(json_object_get(res, "rows"), i, r) {
    cli_table_row(&t);
    for (size_t c = 0; c < ncol; c++) set_json(&t, (int)c, json_array_get(r, c));
  }
  cli_chart_opts co = {.first_metric = n_group, .top = ao.top, .keep_order = ao.order != NULL};
  if (ao.chart && s.fmt == CLI_FMT_TABLE && (int)ncol > n_group) {
    cli_print_chart(stdout, &t, &co);
  } else {
    cli_table *tabs[1] = {&t};
    print_tables(&s, tabs, 1);
  }
  int status = 0;
  if (ao.plot && (int)ncol > n_group) status = cli_plot_png(&t, &co, ao.plot);
  /* A warning, on stderr whatever the format: timeliness figures that will change. */
  json_int_t prov = json_integer_value(json_object_get(res, "provisional"));
  int timely = 0;
  for (size_t c = 0; c < ncol; c++) {
    const char *name = json_string_value(json_array_get(cols, c));
    timely |= name && (!strcmp(name, "on_time") || !strcmp(name, "on_time_rate") || !strcmp(name, "report_delay"));
  }
  if (prov > 0 && timely)
    fprintf(stderr,
            "agg: warning: %lld reported record%s a provisional report delay: %s a year whose 调休 "
            "notice is not in the calendar yet; on_time, on_time_rate and report_delay may change when "
            "it is loaded (chengxin load-calendar)\n",
            (long long)prov, prov == 1 ? " has" : "s have", prov == 1 ? "its span touches" : "their spans touch");
  cli_table_free(&t);
  json_decref(res);
  cli_sess_close(&s);
  return status;
}

/* ===================================================================== repair, revoke, objection */

typedef struct chg_opts {
  const char *authority, *record_id, *reason;
  int withdraw, override;
} chg_opts;

static int chg_opt(void *ctx, int c, const char *arg) {
  chg_opts *o = ctx;
  switch (c) {
  case 'a': o->authority = arg; return 0;
  case 'r': o->record_id = arg; return 0;
  case 'y': o->reason = arg; return 0;
  case 'w': o->withdraw = 1; return 0;
  case 'o': o->override = 1; return 0;
  }
  return CLI_EXIT_USAGE;
}

/* chengxin repair|revoke|reinstate|objection --authority CODE --record-id ID --reason TEXT
 *          [--withdraw] [--override] */
int cli_cmd_change(int argc, char **argv) {
  static const struct option extra[] = {
      {"authority", required_argument, 0, 'a'}, {"record-id", required_argument, 0, 'r'},
      {"reason", required_argument, 0, 'y'},    {"withdraw", no_argument, 0, 'w'},
      {"override", no_argument, 0, 'o'},
  };
  const char *op = argv[0];
  chg_opts co = {0};
  cli_sess s;
  int rc = qparse(&s, op, argc, argv, extra, 5, chg_opt, &co);
  if (rc) return rc;
  if (optind < argc) return cli_usage("%s: unexpected argument '%s'", op, argv[optind]);
  if (!co.authority || !co.record_id || !co.reason || !*co.reason)
    return cli_usage("%s: --authority, --record-id and a non-empty --reason are required", op);
  if (co.withdraw && strcmp(op, "objection") != 0) return cli_usage("%s: --withdraw is for objection", op);
  if (co.override && strcmp(op, "repair") != 0) return cli_usage("%s: --override is for repair", op);
  char auth[CX_CODE_LEN + 1];
  if (cx_uscc_normalize(co.authority, strlen(co.authority), auth)) {
    cli_err("not a valid unified social credit code", "%s: --authority %s", op, co.authority);
    return CLI_EXIT_USAGE;
  }
  s.write = 1;
  if ((rc = cli_sess_open(&s))) return rc;
  json_t *args = json_object(), *res;
  json_object_set_new(args, "authority", json_string(auth));
  json_object_set_new(args, "record_id", json_string(co.record_id));
  json_object_set_new(args, "reason", json_string(co.reason));
  if (co.withdraw) json_object_set_new(args, "withdraw", json_true());
  if (co.override) json_object_set_new(args, "override", json_true());
  char err[512];
  int e = cli_sess_call(&s, op, args, &res, err, sizeof err);
  json_decref(args);
  if (e) {
    cli_sess_close(&s);
    return call_failed(op, co.record_id, e, err);
  }
  cli_table t;
  cli_table_init(&t, op, 1);
  cli_table_col(&t, "authority", CLI_COL_STR);
  cli_table_col(&t, "record_id", CLI_COL_STR);
  cli_table_col(&t, "status", CLI_COL_STR);
  cli_table_col(&t, "objection", CLI_COL_BOOL);
  cli_table_col(&t, "changed", CLI_COL_INT);
  cli_table_row(&t);
  set_json(&t, 0, json_object_get(res, "authority"));
  set_json(&t, 1, json_object_get(res, "record_id"));
  set_json(&t, 2, json_object_get(res, "status"));
  set_json(&t, 3, json_object_get(res, "objection"));
  set_json(&t, 4, json_object_get(res, "changed"));
  cli_table *tabs[1] = {&t};
  print_tables(&s, tabs, 1);
  cli_table_free(&t);
  json_decref(res);
  cli_sess_close(&s);
  return 0;
}

/* ===================================================================== stats */

static void flatten(cli_table *t, const char *prefix, json_t *v) {
  if (json_is_object(v)) {
    const char *k;
    json_t *x;
    json_object_foreach(v, k, x) {
      char key[256];
      snprintf(key, sizeof key, "%s%s%s", prefix, *prefix ? "." : "", k);
      flatten(t, key, x);
    }
    return;
  }
  cli_table_row(t);
  cli_table_set(t, 0, prefix);
  set_json(t, 1, v);
}

/* chengxin stats --connect HOST:PORT: the server's counters and latencies. */
int cli_cmd_stats(int argc, char **argv) {
  cli_sess s;
  int rc = qparse(&s, "stats", argc, argv, NULL, 0, NULL, NULL);
  if (rc) return rc;
  if (!s.connect) return cli_usage("stats: needs --connect HOST:PORT (for a local store: chengxin info)");
  if ((rc = cli_sess_open(&s))) return rc;
  json_t *args = json_object(), *res;
  char err[512];
  int e = cli_sess_call(&s, "stats", args, &res, err, sizeof err);
  json_decref(args);
  if (e) {
    cli_sess_close(&s);
    return call_failed("stats", NULL, e, err);
  }
  if (s.fmt == CLI_FMT_JSON || s.fmt == CLI_FMT_JSONL) {
    char *txt = json_dumps(res, JSON_PRESERVE_ORDER | (s.fmt == CLI_FMT_JSON ? JSON_INDENT(2) : JSON_COMPACT));
    if (txt) puts(txt);
    free(txt);
  } else {
    cli_table t;
    cli_table_init(&t, "stats", 0);
    cli_table_col(&t, "key", CLI_COL_STR);
    cli_table_col(&t, "value", CLI_COL_STR);
    flatten(&t, "", res);
    cli_table *tabs[1] = {&t};
    print_tables(&s, tabs, 1);
    cli_table_free(&t);
  }
  json_decref(res);
  cli_sess_close(&s);
  return 0;
}

/* ===================================================================== feedback */

/* chengxin feedback RECEIPT OUTCOME [--note TEXT]: what the approval system did with a check
 * (restricted | approved_after_review | approved); a write (local mode opens writable). */
static int fb_opt(void *ctx, int c, const char *arg) {
  if (c == 'n') *(const char **)ctx = arg;
  return 0;
}
int cli_cmd_feedback(int argc, char **argv) {
  static const struct option extra[] = {{"note", required_argument, 0, 'n'}};
  const char *note = NULL;
  cli_sess s;
  int rc = qparse(&s, "feedback", argc, argv, extra, 1, fb_opt, &note);
  if (rc) return rc;
  if (argc - optind != 2)
    return cli_usage("feedback: expected RECEIPT OUTCOME (restricted, approved_after_review or approved)");
  s.write = 1;
  if ((rc = cli_sess_open(&s))) return rc;
  json_t *args = json_object(), *res;
  json_object_set_new(args, "receipt", json_string(argv[optind]));
  json_object_set_new(args, "outcome", json_string(argv[optind + 1]));
  if (note) json_object_set_new(args, "note", json_string(note));
  char err[512];
  int e = cli_sess_call(&s, "feedback", args, &res, err, sizeof err);
  json_decref(args);
  if (e) {
    cli_sess_close(&s);
    return call_failed("feedback", NULL, e, err);
  }
  static const char *const cols[] = {"receipt", "outcome", "action", "verdict", "checked_at", "previous"};
  cli_table t;
  cli_table_init(&t, "feedback", 1);
  for (int i = 0; i < 6; i++) cli_table_col(&t, cols[i], CLI_COL_STR);
  cli_table_row(&t);
  for (int i = 0; i < 6; i++) set_json(&t, i, json_object_get(res, cols[i]));
  cli_table *tabs[1] = {&t};
  print_tables(&s, tabs, 1);
  cli_table_free(&t);
  json_decref(res);
  cli_sess_close(&s);
  return 0;
}
