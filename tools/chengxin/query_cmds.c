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

enum { O_DB = 1000, O_CONNECT, O_TOKEN, O_ASOF, O_ROLE, O_FORMAT, O_RAW, O_OUT, O_NO_HEADER };

static const struct option COMMON[] = {
    {"db", required_argument, 0, O_DB},       {"connect", required_argument, 0, O_CONNECT},
    {"token-file", required_argument, 0, O_TOKEN}, {"as-of", required_argument, 0, O_ASOF},
    {"role", required_argument, 0, O_ROLE},   {"format", required_argument, 0, O_FORMAT},
    {"raw", no_argument, 0, O_RAW},           {"out", required_argument, 0, O_OUT},
    {"no-header", no_argument, 0, O_NO_HEADER},
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
    case O_NO_HEADER: cli_no_header = 1; break;
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

/* ===================================================================== labels */

/*
 * The Chinese names people see for codes come from the catalogue the executor holds (the
 * `catalog` op: local and remote print the same names). Fetched once per command; a server
 * too old to answer `labels`, or a catalogue without them, leaves the codes.
 */
static json_t *g_catalog;

static json_t *catalog(cli_sess *s) {
  if (g_catalog) return g_catalog;
  json_t *args = json_object(), *res = NULL;
  char err[256];
  if (cli_sess_call(s, "catalog", args, &res, err, sizeof err) == 0) g_catalog = res;
  json_decref(args);
  if (!g_catalog) g_catalog = json_object();
  return g_catalog;
}

static void catalog_free(void) {
  json_decref(g_catalog);
  g_catalog = NULL;
}

/* The name of code of kind: category subtype status severity domain kind (catalog "labels"),
 * list, measure, action (their own "name"); NULL when the catalogue has none. */
static const char *label(cli_sess *s, const char *kind, const char *code) {
  if (!code || !*code) return NULL;
  json_t *c = catalog(s);
  const char *arr = !strcmp(kind, "list") ? "lists" : !strcmp(kind, "measure") ? "measures"
                  : !strcmp(kind, "action") ? "actions" : NULL;
  if (!arr) return json_string_value(json_object_get(json_object_get(json_object_get(c, "labels"), kind), code));
  size_t i;
  json_t *e;
  json_array_foreach(json_object_get(c, arr), i, e) {
    if (json_is_string(json_object_get(e, "code")) && !strcmp(json_string_value(json_object_get(e, "code")), code))
      return json_string_value(json_object_get(e, "name"));
  }
  return NULL;
}

/* A list type's default measures (catalog "lists"), or NULL. */
static json_t *list_defaults(cli_sess *s, const char *list) {
  size_t i;
  json_t *e;
  if (!list || !*list) return NULL;
  json_array_foreach(json_object_get(catalog(s), "lists"), i, e) {
    const char *c = json_string_value(json_object_get(e, "code"));
    if (c && !strcmp(c, list)) return json_object_get(e, "measures");
  }
  return NULL;
}

/* Joins the names (names = 1) or codes of a list of codes of kind. */
static void join_codes(cli_sess *s, const char *kind, json_t *list, int names, const char *sep, char *buf, size_t cap) {
  size_t o = 0, i;
  json_t *x;
  buf[0] = 0;
  json_array_foreach(list, i, x) {
    const char *c = json_string_value(x);
    if (!c) continue;
    const char *n = names ? label(s, kind, c) : NULL;
    int w = snprintf(buf + o, cap - o, "%s%s", o ? sep : "", n ? n : c);
    if (w < 0 || (size_t)w >= cap - o) break;
    o += (size_t)w;
  }
}

/* 1 for the formats people read (table); csv/json/jsonl keep codes and add names beside. */
static int human(const cli_sess *s) { return s->fmt == CLI_FMT_TABLE; }

/* Adds column `name` and, in the machine formats, `name_name` beside it for its names. */
static void col_named(const cli_sess *s, cli_table *t, const char *name) {
  cli_table_col(t, name, CLI_COL_STR);
  if (!human(s)) {
    char n[64];
    snprintf(n, sizeof n, "%s_name", name);
    cli_table_col(t, n, CLI_COL_STR);
  }
}

/* Sets a col_named column from a code: the name for people (the code when none), else the code
 * and the name in the column after it. */
static void set_named(cli_sess *s, cli_table *t, int col, const char *kind, const char *code) {
  const char *n = label(s, kind, code);
  if (human(s)) {
    cli_table_set(t, col, n ? n : code);
  } else {
    cli_table_set(t, col, code);
    cli_table_set(t, col + 1, n ? n : "");
  }
}

/* ===================================================================== status */

typedef struct status_opts {
  int part; /* 0 both (csv: the entity), 1 entity, 2 counts */
} status_opts;

static int status_opt(void *ctx, int c, const char *arg) {
  status_opts *o = ctx;
  if (c != 'p') return CLI_EXIT_USAGE;
  if (!strcmp(arg, "entity")) o->part = 1;
  else if (!strcmp(arg, "counts")) o->part = 2;
  else return cli_usage("status: --part: expected entity or counts, got '%s'", arg);
  return 0;
}

/* status [--part entity|counts] CODE: the entity (vertical) and its counts per category. A CSV
 * stream holds one table: csv prints the entity unless --part counts. */
int cli_cmd_status(int argc, char **argv) {
  static const struct option extra[] = {{"part", required_argument, 0, 'p'}};
  status_opts so = {0};
  cli_sess s;
  int rc = qparse(&s, "status", argc, argv, extra, 1, status_opt, &so);
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
  int at[sizeof cols / sizeof cols[0]];
  for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
    at[i] = ent.ncols;
    if (!strcmp(cols[i].name, "kind")) col_named(&s, &ent, "kind");
    else cli_table_col(&ent, cols[i].name, cols[i].type);
  }
  cli_table_row(&ent);
  for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
    json_t *v = json_object_get(res, cols[i].name);
    if (!strcmp(cols[i].name, "kind")) set_named(&s, &ent, at[i], "kind", json_string_value(v));
    else set_json(&ent, at[i], v);
  }
  cli_table_init(&cnt, "counts", 0);
  col_named(&s, &cnt, "category");
  int c0 = cnt.ncols;
  cli_table_col(&cnt, "total", CLI_COL_INT);
  cli_table_col(&cnt, "in_force", CLI_COL_INT);
  cli_table_col(&cnt, "visible", CLI_COL_INT);
  /* categories in the canonical order, not the map's */
  json_t *counts = json_object_get(res, "counts");
  for (int c = 0; c < CX_CAT_COUNT; c++) {
    json_t *cc = json_object_get(counts, cx_category_names[c]);
    if (!cc) continue;
    cli_table_row(&cnt);
    set_named(&s, &cnt, 0, "category", cx_category_names[c]);
    set_json(&cnt, c0, json_object_get(cc, "total"));
    set_json(&cnt, c0 + 1, json_object_get(cc, "in_force"));
    set_json(&cnt, c0 + 2, json_object_get(cc, "visible"));
  }
  int csv = s.fmt == CLI_FMT_CSV || s.fmt == CLI_FMT_CSV_RAW;
  if (so.part == 0 && csv) so.part = 1;
  cli_table *tabs[2] = {&ent, &cnt};
  if (so.part == 1) print_tables(&s, tabs, 1);
  else if (so.part == 2) print_tables(&s, tabs + 1, 1);
  else print_tables(&s, tabs, 2);
  cli_table_free(&ent);
  cli_table_free(&cnt);
  json_decref(res);
  catalog_free();
  cli_sess_close(&s);
  return 0;
}

/* ===================================================================== records */

typedef struct rec_opts {
  const char *category, *cursor;
  uint64_t limit;
  int all, wide;
} rec_opts;

static int rec_opt(void *ctx, int c, const char *arg) {
  rec_opts *o = ctx;
  switch (c) {
  case 'c': o->category = arg; return 0;
  case 'u': o->cursor = arg; return 0;
  case 'a': o->all = 1; return 0;
  case 'w': o->wide = 1; return 0;
  case 'l':
    if (cli_parse_u64(arg, &o->limit) || o->limit < 1 || o->limit > 1000)
      return cli_usage("records: --limit: expected 1..1000, got '%s'", arg);
    return 0;
  }
  return CLI_EXIT_USAGE;
}

/* The compact table people read by default: date, category, 文号 with its authority, status,
 * amount in 元 (--wide: every field). */
static const char *const REC_COMPACT[] = {"decision_date", "category", "record_id", "authority_code",
                                          "authority_name", "status", "amount_fen"};
#define N_REC_COMPACT ((int)(sizeof REC_COMPACT / sizeof REC_COMPACT[0]))

/* csv/json/jsonl: every field of the protocol's record (CX_RECORD_ANSWER, net/exec.h), for
 * scripts, with the names of coded fields beside them. */
static cli_col_type answer_col_type(int f) {
  switch (cx_record_answer_fields[f].type) {
  case CX_AT_BOOL: return CLI_COL_BOOL;
  case CX_AT_FEN: return CLI_COL_FEN;
  case CX_AT_INT: return CLI_COL_ID;
  default: return CLI_COL_STR;
  }
}

/* The catalogue kind whose names a record field's codes have; NULL: none. */
static const char *field_kind(const char *f) {
  static const char *const map[][2] = {{"category", "category"}, {"subtype", "subtype"},  {"domain", "domain"},
                                       {"severity", "severity"}, {"status", "status"},    {"entity_kind", "kind"},
                                       {"list_type", "list"}};
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (!strcmp(f, map[i][0])) return map[i][1];
  return NULL;
}

typedef struct rec_col {
  const char *field; /* the answer's field */
  const char *kind;  /* names from the catalogue (set_named) */
  int effective;     /* measures: the record's, else its list type's defaults, as check applies them */
  int col;
} rec_col;

static int rec_layout(const cli_sess *s, int wide, cli_table *t, rec_col *rc) {
  int n = 0;
  int nf = human(s) && !wide ? N_REC_COMPACT : CX_RA_COUNT;
  for (int i = 0; i < nf; i++) {
    int f = i;
    if (human(s) && !wide)
      for (f = 0; f < CX_RA_COUNT && strcmp(cx_record_answer_fields[f].name, REC_COMPACT[i]); f++) {}
    if (f >= CX_RA_COUNT) continue;
    const char *name = cx_record_answer_fields[f].name;
    rec_col *c = &rc[n++];
    memset(c, 0, sizeof *c);
    c->field = name;
    c->col = t->ncols;
    c->kind = field_kind(name);
    if (c->kind) {
      col_named(s, t, name);
    } else if (!strcmp(name, "measures") && human(s)) {
      c->effective = 1;
      cli_table_col(t, "measures", CLI_COL_STR);
    } else if (!strcmp(name, "amount_fen") && human(s)) {
      cli_table_col(t, "amount", CLI_COL_FEN); /* shown in 元: the header says so */
    } else {
      cli_table_col(t, name, answer_col_type(f));
    }
    if (!strcmp(name, "measures") && !human(s)) {
      rec_col *e = &rc[n++];
      memset(e, 0, sizeof *e);
      e->field = name;
      e->effective = 1;
      e->col = t->ncols;
      cli_table_col(t, "effective_measures", CLI_COL_STR);
      cli_table_col(t, "effective_measures_name", CLI_COL_STR);
    }
  }
  return n;
}

static void rec_fill(cli_sess *s, cli_table *t, const rec_col *rc, int n, json_t *r) {
  cli_table_row(t);
  for (int i = 0; i < n; i++) {
    const rec_col *c = &rc[i];
    json_t *v = json_object_get(r, c->field);
    if (c->kind) {
      set_named(s, t, c->col, c->kind, json_string_value(v));
    } else if (c->effective) {
      json_t *m = json_array_size(v) ? v : list_defaults(s, json_string_value(json_object_get(r, "list_type")));
      char buf[2048];
      if (human(s)) {
        join_codes(s, "measure", m, 1, "; ", buf, sizeof buf);
        cli_table_set(t, c->col, buf);
      } else {
        join_codes(s, "measure", m, 0, ",", buf, sizeof buf);
        cli_table_set(t, c->col, buf);
        join_codes(s, "measure", m, 1, ";", buf, sizeof buf);
        cli_table_set(t, c->col + 1, buf);
      }
    } else if (!strcmp(c->field, "report_delay") && json_integer_value(v) < 0) {
      continue;
    } else if (!strcmp(c->field, "valid_until") && json_is_null(v)) {
      cli_table_set(t, c->col, "open");
    } else {
      set_json(t, c->col, v);
    }
  }
}

int cli_cmd_records(int argc, char **argv) {
  static const struct option extra[] = {
      {"category", required_argument, 0, 'c'}, {"limit", required_argument, 0, 'l'},
      {"all", no_argument, 0, 'a'},            {"cursor", required_argument, 0, 'u'},
      {"wide", no_argument, 0, 'w'},
  };
  rec_opts ro = {0};
  cli_sess s;
  int rc = qparse(&s, "records", argc, argv, extra, 5, rec_opt, &ro);
  if (rc) return rc;
  if (argc - optind != 1) return cli_usage("records: expected one CODE");
  const char *code = argv[optind];
  if ((rc = cli_sess_open(&s))) return rc;
  cli_table t;
  cli_table_init(&t, "records", 0);
  rec_col cols[CLI_MAX_COLS];
  int ncols = rec_layout(&s, ro.wide, &t, cols);
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
    json_array_foreach(json_object_get(res, "records"), i, r) rec_fill(&s, &t, cols, ncols, r);
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
  catalog_free();
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
  /* An unknown action: say which there are (the executor's catalogue), before any request. */
  if (!label(&s, "action", co.action) && json_array_size(json_object_get(catalog(&s), "actions"))) {
    char acts[1024];
    size_t i, o = 0;
    json_t *a;
    acts[0] = 0;
    json_array_foreach(json_object_get(catalog(&s), "actions"), i, a) {
      int w = snprintf(acts + o, sizeof acts - o, "%s%s", o ? ", " : "", json_string_value(json_object_get(a, "code")));
      if (w < 0 || (size_t)w >= sizeof acts - o) break;
      o += (size_t)w;
    }
    catalog_free();
    cli_sess_close(&s);
    free(codes);
    free(text);
    return cli_usage("check: unknown action \"%s\": expected one of %s", co.action, acts);
  }
  /* json/jsonl: the executor's answer as it is (every hit with its list type, measure, names,
   * authority and validity); the table and csv flatten it for reading. */
  int raw_json = s.fmt == CLI_FMT_JSON || s.fmt == CLI_FMT_JSONL;
  json_t *all = json_array(), *head = NULL;
  cli_table t;
  cli_table_init(&t, "results", 0);
  cli_table_col(&t, "code", CLI_COL_STR);
  cli_table_col(&t, "verdict", CLI_COL_STR);
  col_named(&s, &t, "measures");
  int cr = t.ncols;
  cli_table_col(&t, "records", CLI_COL_STR);
  col_named(&s, &t, "incentives");
  int cre = t.ncols;
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
      json_array_append(all, r);
      const char *vs = json_string_value(json_object_get(r, "verdict"));
      if (vs && strcmp(vs, "deny") == 0) any_deny = 1;
      if (vs && strcmp(vs, "review") == 0) any_review = 1;
      if (vs && strcmp(vs, "invalid_code") == 0) any_invalid = 1;
      cli_table_row(&t);
      set_json(&t, 0, json_object_get(r, "code"));
      set_json(&t, 1, json_object_get(r, "verdict"));
      json_t *ms = json_array(), *is = json_array();
      char rs[2048] = "", buf[2048];
      size_t k;
      json_t *h;
      json_array_foreach(json_object_get(r, "hits"), k, h) {
        const char *m = json_string_value(json_object_get(h, "measure"));
        const char *rid = json_string_value(json_object_get(h, "record_id"));
        const char *auth = json_string_value(json_object_get(h, "authority"));
        if (m) {
          int seen = 0;
          size_t q;
          json_t *y;
          json_array_foreach(ms, q, y) seen |= !strcmp(json_string_value(y), m);
          if (!seen) json_array_append_new(ms, json_string(m));
        }
        /* a record id means nothing without its authority: 文号 are the authority's own */
        if (rid) {
          snprintf(buf, sizeof buf, "%s/%s", auth ? auth : "", rid);
          add_item(rs, sizeof rs, buf, ';');
        }
      }
      json_array_foreach(json_object_get(r, "incentives"), k, h) {
        const char *m = json_string_value(json_object_get(h, "measure"));
        if (m) json_array_append_new(is, json_string(m));
      }
      char mb[2048], mn[2048];
      join_codes(&s, "measure", ms, 0, ",", mb, sizeof mb);
      join_codes(&s, "measure", ms, 1, "; ", mn, sizeof mn);
      cli_table_set(&t, 2, human(&s) ? mn : mb);
      if (!human(&s)) cli_table_set(&t, 3, mn);
      cli_table_set(&t, cr, rs);
      join_codes(&s, "measure", is, 0, ",", mb, sizeof mb);
      join_codes(&s, "measure", is, 1, "; ", mn, sizeof mn);
      cli_table_set(&t, cr + 1, human(&s) ? mn : mb);
      if (!human(&s)) cli_table_set(&t, cr + 2, mn);
      set_json(&t, cre, json_object_get(r, "reason"));
      json_decref(ms);
      json_decref(is);
    }
    if (!head) head = json_incref(res);
    json_decref(res);
  }
  if (status == 0) {
    if (raw_json) {
      json_t *doc = json_object();
      if (head) json_object_update(doc, head);
      json_object_set(doc, "results", all);
      if (s.fmt == CLI_FMT_JSON) {
        char *txt = json_dumps(doc, JSON_PRESERVE_ORDER | JSON_INDENT(2));
        if (txt) puts(txt);
        free(txt);
      } else {
        size_t i;
        json_t *r;
        json_array_foreach(all, i, r) {
          char *txt = json_dumps(r, JSON_PRESERVE_ORDER | JSON_COMPACT);
          if (txt) puts(txt);
          free(txt);
        }
      }
      json_decref(doc);
    } else {
      cli_table *tabs[1] = {&t};
      print_tables(&s, tabs, 1);
    }
    status = any_deny ? CLI_EXIT_DENY : any_review ? CLI_EXIT_REVIEW : any_invalid ? CLI_EXIT_FAIL : 0;
  }
  json_decref(head);
  json_decref(all);
  cli_table_free(&t);
  catalog_free();
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
  col_named(&s, &t, "kind");
  int cm = t.ncols;
  cli_table_col(&t, "match", CLI_COL_STR);
  cli_table_col(&t, "region", CLI_COL_ID); /* a code: no thousands separators */
  size_t i;
  json_t *r;
  json_array_foreach(json_object_get(res, "results"), i, r) {
    cli_table_row(&t);
    set_json(&t, 0, json_object_get(r, "code"));
    set_json(&t, 1, json_object_get(r, "name"));
    set_named(&s, &t, 2, "kind", json_string_value(json_object_get(r, "kind")));
    set_json(&t, cm, json_object_get(r, "match"));
    set_json(&t, cm + 1, json_object_get(r, "region"));
  }
  cli_table *tabs[1] = {&t};
  print_tables(&s, tabs, 1);
  cli_table_free(&t);
  catalog_free();
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
  int n_group = 0, n_metric_col = 0;
  /* Where each answer column lands; group columns people read by name (category: 行政处罚),
   * csv/json by code with the name beside (category, category_name), regions and authorities
   * by name with their code beside (city, city_code) from the answer's "codes". */
  int at[CX_DIM_COUNT + 16], extra_kind[CX_DIM_COUNT + 16];
  json_array_foreach(cols, i, v) {
    const char *name = json_string_value(v);
    int dm = cx_enum_parse(cx_dim_names, CX_DIM_COUNT, cx_str_c(name));
    if (i >= sizeof at / sizeof at[0]) break;
    at[i] = t.ncols;
    extra_kind[i] = 0;
    if (dm < 0) {
      cli_table_col(&t, name, metric_type(name));
      n_metric_col++;
      continue;
    }
    n_group++;
    cli_table_col(&t, name, CLI_COL_STR);
    if (human(&s)) continue;
    char x[64];
    if (dm == CX_DIM_PROVINCE || dm == CX_DIM_CITY || dm == CX_DIM_COUNTY || dm == CX_DIM_AUTHORITY) {
      snprintf(x, sizeof x, "%s_code", name);
      cli_table_col(&t, x, CLI_COL_STR);
      extra_kind[i] = 1;
    } else if (dm >= CX_DIM_CATEGORY && dm <= CX_DIM_STATUS) {
      snprintf(x, sizeof x, "%s_name", name);
      cli_table_col(&t, x, CLI_COL_STR);
      extra_kind[i] = 2;
    }
  }
  (void)n_metric_col;
  json_t *r;
  json_t *codes = json_object_get(res, "codes");
  json_array_foreach(json_object_get(res, "rows"), i, r) {
    cli_table_row(&t);
    json_t *rc_ = json_array_get(codes, i);
    for (size_t c = 0; c < ncol && c < sizeof at / sizeof at[0]; c++) {
      json_t *cell_v = json_array_get(r, c);
      const char *name = json_string_value(json_array_get(cols, c));
      int dm = cx_enum_parse(cx_dim_names, CX_DIM_COUNT, cx_str_c(name));
      const char *kind = dm == CX_DIM_KIND ? "kind" : dm >= CX_DIM_CATEGORY && dm <= CX_DIM_STATUS ? name : NULL;
      const char *lb = kind ? label(&s, kind, json_string_value(cell_v)) : NULL;
      if (human(&s) && lb) cli_table_set(&t, at[c], lb);
      else set_json(&t, at[c], cell_v);
      if (extra_kind[c] == 1) set_json(&t, at[c] + 1, json_array_get(rc_, c));
      if (extra_kind[c] == 2) cli_table_set(&t, at[c] + 1, lb ? lb : "");
    }
  }
  int metric0 = (int)ncol > n_group ? at[n_group] : -1;
  cli_chart_opts co = {.first_metric = metric0, .top = ao.top, .keep_order = ao.order != NULL};
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
  catalog_free();
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

/* ===================================================================== scorecard */

/* 政务诚信评价 indicators as people read them (the wire names stay in csv/json). */
static const char *const IND_LABELS[][2] = {
    {"gov_dishonesty", "政务失信记录（生效中）"},      {"unperformed_judgments", "未履行人民法院生效判决"},
    {"lawsuit_loss_rate", "行政诉讼败诉率"},           {"commitment_kept_rate", "守信践诺率"},
    {"on_time_rate", "双公示按时报送率"},              {"complaints", "投诉举报"},
    {"staff_discipline", "公务员失信记录（本机关报送）"}, {"blacklisted", "列入严重失信主体名单"},
};
static const char *ind_label(const char *code) {
  for (size_t i = 0; i < sizeof IND_LABELS / sizeof IND_LABELS[0]; i++)
    if (code && !strcmp(code, IND_LABELS[i][0])) return IND_LABELS[i][1];
  return code ? code : "";
}

typedef struct sc_opts {
  const char *code, *region, *year, *from, *to, *kind, *level, *indicator, *plot;
  int chart;
  uint64_t limit, top;
} sc_opts;

static int sc_opt(void *ctx, int c, const char *arg) {
  sc_opts *o = ctx;
  switch (c) {
  case 'C': o->code = arg; return 0;
  case 'R': o->region = arg; return 0;
  case 'y': o->year = arg; return 0;
  case 'f': o->from = arg; return 0;
  case 't': o->to = arg; return 0;
  case 'k': o->kind = arg; return 0;
  case 'L': o->level = arg; return 0;
  case 'i': o->indicator = arg; return 0;
  case 'c': o->chart = 1; return 0;
  case 'p': o->plot = arg; return 0;
  case 'l':
    if (cli_parse_u64(arg, &o->limit) || o->limit < 1 || o->limit > 1000)
      return cli_usage("scorecard: --limit: expected 1..1000, got '%s'", arg);
    return 0;
  case 'n':
    if (cli_parse_u64(arg, &o->top) || o->top < 1 || o->top > 1000)
      return cli_usage("scorecard: --top: expected 1..1000 bars, got '%s'", arg);
    return 0;
  }
  return CLI_EXIT_USAGE;
}

static void sc_period_args(const sc_opts *o, json_t *args) {
  if (o->year) json_object_set_new(args, "year", json_integer(strtoll(o->year, NULL, 10)));
  if (o->from) json_object_set_new(args, "from", json_string(o->from));
  if (o->to) json_object_set_new(args, "to", json_string(o->to));
}

/* One body: its card (a vertical table), its indicators, and with --indicator the records. */
static int sc_one(cli_sess *s, const sc_opts *o) {
  json_t *args = json_object(), *res;
  json_object_set_new(args, "code", json_string(o->code));
  sc_period_args(o, args);
  if (o->indicator) json_object_set_new(args, "indicator", json_string(o->indicator));
  if (o->limit) json_object_set_new(args, "limit", json_integer((json_int_t)o->limit));
  char err[512];
  int e = cli_sess_call(s, "scorecard", args, &res, err, sizeof err);
  json_decref(args);
  if (e) return call_failed("scorecard", o->code, e, err);
  if (s->fmt == CLI_FMT_JSON || s->fmt == CLI_FMT_JSONL) { /* the protocol's answer, as answered */
    char *txt = json_dumps(res, JSON_PRESERVE_ORDER | (s->fmt == CLI_FMT_JSON ? JSON_INDENT(2) : JSON_COMPACT));
    if (txt) puts(txt);
    free(txt);
    json_decref(res);
    return 0;
  }
  json_t *sc = o->indicator ? json_object_get(res, "scorecard") : res;
  cli_table card, ind, recs;
  cli_table_init(&card, "scorecard", human(s));
  const char *cols[] = {"code", "name", "kind", "region", "province", "city", "county", "from", "to"};
  for (size_t i = 0; i < sizeof cols / sizeof cols[0]; i++) {
    if (!strcmp(cols[i], "kind")) col_named(s, &card, "kind");
    else cli_table_col(&card, cols[i], !strcmp(cols[i], "region") ? CLI_COL_ID : CLI_COL_STR);
  }
  int cs = card.ncols;
  cli_table_col(&card, "score", CLI_COL_NUM);
  cli_table_col(&card, "grade", CLI_COL_STR);
  cli_table_col(&card, "vetoes", CLI_COL_STR);
  cli_table_col(&card, "previous_score", CLI_COL_NUM);
  cli_table_col(&card, "previous_grade", CLI_COL_STR);
  cli_table_col(&card, "change", CLI_COL_NUM);
  cli_table_row(&card);
  for (size_t i = 0, c = 0; i < sizeof cols / sizeof cols[0]; i++, c++) {
    if (!strcmp(cols[i], "kind")) {
      set_named(s, &card, (int)c, "kind", json_string_value(json_object_get(sc, "kind")));
      if (!human(s)) c++;
    } else {
      set_json(&card, (int)c, json_object_get(sc, cols[i]));
    }
  }
  set_json(&card, cs, json_object_get(sc, "score"));
  set_json(&card, cs + 1, json_object_get(sc, "grade"));
  char vb[512] = "";
  size_t k;
  json_t *v;
  json_array_foreach(json_object_get(sc, "vetoes"), k, v)
      add_item(vb, sizeof vb, human(s) ? ind_label(json_string_value(v)) : json_string_value(v), human(s) ? '\n' : ';');
  if (vb[0]) cli_table_set(&card, cs + 2, vb);
  json_t *prev = json_object_get(sc, "previous");
  if (json_is_object(prev)) {
    set_json(&card, cs + 3, json_object_get(prev, "score"));
    set_json(&card, cs + 4, json_object_get(prev, "grade"));
    set_json(&card, cs + 5, json_object_get(prev, "change"));
  }
  cli_table_init(&ind, "indicators", 0);
  cli_table_col(&ind, "indicator", CLI_COL_STR);
  if (!human(s)) cli_table_col(&ind, "indicator_name", CLI_COL_STR);
  int ci = ind.ncols;
  cli_table_col(&ind, "value", CLI_COL_NUM);
  cli_table_col(&ind, "numerator", CLI_COL_INT);
  cli_table_col(&ind, "denominator", CLI_COL_INT);
  cli_table_col(&ind, "rated", CLI_COL_BOOL);
  cli_table_col(&ind, "points", CLI_COL_NUM);
  cli_table_col(&ind, "weight", CLI_COL_NUM);
  cli_table_col(&ind, "vetoed", CLI_COL_BOOL);
  cli_table_col(&ind, "details", CLI_COL_STR);
  json_array_foreach(json_object_get(sc, "indicators"), k, v) {
    const char *code = json_string_value(json_object_get(v, "indicator"));
    cli_table_row(&ind);
    cli_table_set(&ind, 0, human(s) ? ind_label(code) : code);
    if (!human(s)) cli_table_set(&ind, 1, ind_label(code));
    json_t *val = json_object_get(v, "value");
    int rate = json_object_get(v, "denominator") != NULL;
    if (rate && human(s) && json_is_number(val)) { /* a rate reads as a percentage */
      char pb[32];
      snprintf(pb, sizeof pb, "%.1f%%", json_number_value(val) * 100);
      cli_table_set(&ind, ci, pb);
    } else if (human(s) && json_is_integer(val)) { /* a count */
      char nb[32];
      snprintf(nb, sizeof nb, "%lld", (long long)json_integer_value(val));
      cli_table_set(&ind, ci, nb);
    } else {
      set_json(&ind, ci, val);
    }
    set_json(&ind, ci + 1, json_object_get(v, "numerator"));
    set_json(&ind, ci + 2, json_object_get(v, "denominator"));
    set_json(&ind, ci + 3, json_object_get(v, "rated"));
    set_json(&ind, ci + 4, json_object_get(v, "points"));
    set_json(&ind, ci + 5, json_object_get(v, "weight"));
    set_json(&ind, ci + 6, json_object_get(v, "vetoed"));
    char db[256] = "";
    const char *key;
    json_t *n;
    json_object_foreach(json_object_get(v, "by"), key, n) {
      char it[96];
      snprintf(it, sizeof it, "%s=%lld", key, (long long)json_integer_value(n));
      add_item(db, sizeof db, it, ' ');
    }
    json_t *md = json_object_get(v, "mean_delay");
    if (json_is_number(md)) {
      char it[64];
      snprintf(it, sizeof it, "mean_delay=%.2f", json_number_value(md));
      add_item(db, sizeof db, it, ' ');
    }
    if (db[0]) cli_table_set(&ind, ci + 7, db);
  }
  int ntabs = 2;
  cli_table *tabs[3] = {&card, &ind, &recs};
  if (o->indicator) {
    cli_table_init(&recs, "records", 0);
    rec_col rcols[CLI_MAX_COLS];
    int nr = rec_layout(s, 0, &recs, rcols);
    json_array_foreach(json_object_get(res, "records"), k, v) rec_fill(s, &recs, rcols, nr, v);
    ntabs = 3;
    if (json_is_true(json_object_get(res, "more")))
      fprintf(stderr, "scorecard: more records behind %s than shown (--limit, at most 1000)\n", o->indicator);
  }
  /* csv: one table per stream, the indicators (the card's fields are in json) */
  if (s->fmt == CLI_FMT_CSV || s->fmt == CLI_FMT_CSV_RAW) print_tables(s, o->indicator ? &tabs[2] : &tabs[1], 1);
  else print_tables(s, tabs, ntabs);
  cli_table_free(&card);
  cli_table_free(&ind);
  if (o->indicator) cli_table_free(&recs);
  json_decref(res);
  return 0;
}

/* A region's bodies, ranked; --chart / --plot draw their scores. */
static int sc_rank(cli_sess *s, const sc_opts *o) {
  json_t *args = json_object(), *res;
  char *end;
  long long reg = strtoll(o->region, &end, 10);
  if (*end || reg <= 0) {
    json_decref(args);
    return cli_usage("scorecard: --region: a province, city or county code such as 35, 3501 or 350102, got '%s'", o->region);
  }
  json_object_set_new(args, "region", json_integer(reg));
  sc_period_args(o, args);
  if (o->kind) json_object_set_new(args, "kind", json_string(o->kind));
  if (o->level) json_object_set_new(args, "level", json_string(o->level));
  char err[512];
  int e = cli_sess_call(s, "scorecards", args, &res, err, sizeof err);
  json_decref(args);
  if (e) return call_failed("scorecard", o->region, e, err);
  cli_table t;
  cli_table_init(&t, "bodies", 0);
  int chart = (o->chart || o->plot) && human(s);
  if (!chart) cli_table_col(&t, "rank", CLI_COL_ID);
  cli_table_col(&t, chart ? "body" : "name", CLI_COL_STR);
  int cc = t.ncols;
  if (!chart) {
    cli_table_col(&t, "code", CLI_COL_STR);
    col_named(s, &t, "kind");
    cc = t.ncols;
  }
  cli_table_col(&t, "score", CLI_COL_NUM);
  if (!chart) {
    cli_table_col(&t, "grade", CLI_COL_STR);
    cli_table_col(&t, "change", CLI_COL_NUM);
    cli_table_col(&t, "vetoes", CLI_COL_STR);
  }
  size_t i;
  json_t *b;
  json_array_foreach(json_object_get(res, "bodies"), i, b) {
    cli_table_row(&t);
    if (chart) {
      set_json(&t, 0, json_object_get(b, "name"));
      set_json(&t, 1, json_object_get(b, "score"));
      continue;
    }
    set_json(&t, 0, json_object_get(b, "rank"));
    set_json(&t, 1, json_object_get(b, "name"));
    set_json(&t, 2, json_object_get(b, "code"));
    set_named(s, &t, 3, "kind", json_string_value(json_object_get(b, "kind")));
    set_json(&t, cc, json_object_get(b, "score"));
    set_json(&t, cc + 1, json_object_get(b, "grade"));
    set_json(&t, cc + 2, json_object_get(b, "change"));
    char vb[256] = "";
    size_t k;
    json_t *v;
    json_array_foreach(json_object_get(b, "vetoes"), k, v)
        add_item(vb, sizeof vb, human(s) ? ind_label(json_string_value(v)) : json_string_value(v), ';');
    if (vb[0]) cli_table_set(&t, cc + 3, vb);
  }
  int status = 0;
  cli_chart_opts co = {.first_metric = 1, .top = o->top, .keep_order = 1};
  if (chart && o->chart) {
    printf("%s %s — %s 至 %s\n", json_string_value(json_object_get(res, "region_name")), "政务诚信评价",
           json_string_value(json_object_get(res, "from")), json_string_value(json_object_get(res, "to")));
    cli_print_chart(stdout, &t, &co);
  } else if (!chart) {
    cli_table *tabs[1] = {&t};
    print_tables(s, tabs, 1);
  }
  if (chart && o->plot) status = cli_plot_png(&t, &co, o->plot);
  cli_table_free(&t);
  json_decref(res);
  return status;
}

int cli_cmd_scorecard(int argc, char **argv) {
  static const struct option extra[] = {
      {"code", required_argument, 0, 'C'},   {"region", required_argument, 0, 'R'},
      {"year", required_argument, 0, 'y'},   {"from", required_argument, 0, 'f'},
      {"to", required_argument, 0, 't'},     {"kind", required_argument, 0, 'k'},
      {"indicator", required_argument, 0, 'i'}, {"limit", required_argument, 0, 'l'},
      {"chart", no_argument, 0, 'c'},        {"plot", required_argument, 0, 'p'},
      {"top", required_argument, 0, 'n'},    {"level", required_argument, 0, 'L'},
  };
  sc_opts o;
  memset(&o, 0, sizeof o);
  cli_sess s;
  int rc = qparse(&s, "scorecard", argc, argv, extra, (int)(sizeof extra / sizeof extra[0]), sc_opt, &o);
  if (rc) return rc;
  if (argc - optind == 1 && !o.code && !o.region) o.code = argv[optind++];
  if (argc - optind) return cli_usage("scorecard: unexpected argument '%s'", argv[optind]);
  if (!o.code == !o.region) return cli_usage("scorecard: give --code CODE (one body) or --region CODE (a ranking)");
  if (o.year && (o.from || o.to)) return cli_usage("scorecard: give --year or --from/--to, not both");
  if (o.code && (o.chart || o.plot || o.kind || o.level))
    return cli_usage("scorecard: --chart, --plot, --kind and --level rank a --region");
  if (o.region && (o.indicator || o.limit)) return cli_usage("scorecard: --indicator and --limit drill into one --code");
  if (o.plot && cx_text_check(o.plot, strlen(o.plot), CX_TEXT_NAME, NULL))
    return cli_usage("scorecard: --plot: the file name holds a control character or is not UTF-8");
  if ((rc = cli_sess_open(&s))) return rc;
  rc = o.code ? sc_one(&s, &o) : sc_rank(&s, &o);
  catalog_free();
  cli_sess_close(&s);
  return rc;
}

/* ===================================================================== load-* --connect */

/*
 * chengxin load-catalog|load-calendar|load-regions|load-scorecard --connect HOST:PORT FILE:
 * the file through the server's `load` op (admin token). On a replicated node it goes through
 * the log and the command returns after that node applied it (docs/scaling.md).
 */
int cli_cmd_load_remote(int argc, char **argv) {
  const char *cmd = argv[0];
  const char *name = strcmp(cmd, "load-catalog") == 0 ? "catalog" : strcmp(cmd, "load-calendar") == 0 ? "calendar"
                     : strcmp(cmd, "load-scorecard") == 0 ? "scorecard" : "regions";
  cli_sess s;
  int rc = qparse(&s, cmd, argc, argv, NULL, 0, NULL, NULL);
  if (rc) return rc;
  if (!s.connect) return cli_usage("%s: --connect HOST:PORT is required here", cmd);
  if (argc - optind != 1) return cli_usage("%s: expected one FILE", cmd);
  const char *path = argv[optind];
  char *text;
  size_t n;
  int e = cli_read_file(path, &text, &n);
  if (e) {
    cli_err(strerror(-e), "%s: %s", cmd, path);
    return CLI_EXIT_FAIL;
  }
  s.write = 1;
  if ((rc = cli_sess_open(&s))) {
    free(text);
    return rc;
  }
  json_t *args = json_object(), *res = NULL;
  json_object_set_new(args, "name", json_string(name));
  json_object_set_new(args, "text", json_stringn(text, n));
  free(text);
  char err[512];
  e = json_object_get(args, "text") ? cli_sess_call(&s, "load", args, &res, err, sizeof err) : CX_EBADREQ;
  if (!json_object_get(args, "text")) snprintf(err, sizeof err, "%s: not UTF-8 text", path);
  json_decref(args);
  if (e) {
    cli_sess_close(&s);
    return call_failed(cmd, path, e, err);
  }
  json_t *seq = json_object_get(res, "log_seq");
  fprintf(stderr, "%s: loaded %s (%zu bytes)", cmd, path, n);
  if (json_integer_value(seq) > 0) fprintf(stderr, ", log sequence %" JSON_INTEGER_FORMAT, json_integer_value(seq));
  fprintf(stderr, "\n");
  json_decref(res);
  cli_sess_close(&s);
  return 0;
}
