/*
 * export.c — `chengxin export`: a store's logical content as JSON Lines (issue 16).
 *
 *   chengxin export --db PATH [--out FILE [--sql SCRIPT]] [--since DAY] [--authority CODE]
 *                   [--region CODE]
 *
 * One JSON object per line, each with a "type", in this order (the order of the content
 * digest, store.h "export, restore and the content digest"; the format is in
 * docs/operations.md "Export, restore, move a store"):
 *   header     format, format_version, schema_version, tool_version, exported_at, filters,
 *              partial
 *   data       name, text: each data file (calendar, catalog, regions, regions_history)
 *   record     every stored field of a record, its lifecycle state included; by authority
 *              code, then record_id
 *   entity     code, last_update; by code
 *   authority  code, name; by code
 *   event      an audit entry that is a lifecycle transition of a record (op = the event,
 *   audit      target authority/record_id): the record's history; every other entry is an
 *              "audit" line; both in seq order
 *   trailer    counts per type, partial, digest (of what was written: the source store's
 *              cx_store_digest for a complete export)
 * Everything comes from one read snapshot, streamed: memory does not grow with the records
 * (a partial export keeps a bit per entity and per authority id).
 * With --sql, once the export is complete: a DuckDB script that loads it into typed tables
 * (export_sql.c; docs/scaling.md "Analysts past one machine").
 */
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"
#include "export.h"

/* ------------------------------------------------------------------ JSON helpers */

static void jstr(json_t *o, const char *k, cx_str s) { json_object_set_new(o, k, json_stringn(s.p ? s.p : "", s.n)); }
static void jint(json_t *o, const char *k, int64_t v) { json_object_set_new(o, k, json_integer(v)); }
static void jbool(json_t *o, const char *k, int v) { json_object_set_new(o, k, json_boolean(v)); }
static void jday(json_t *o, const char *k, cx_day d) {
  char b[11];
  if (d == CX_DAY_NONE) {
    json_object_set_new(o, k, json_null());
    return;
  }
  cx_day_format(d, b);
  json_object_set_new(o, k, json_string(b));
}
static void jenum(json_t *o, const char *k, const char *const *names, unsigned n, unsigned v) {
  json_object_set_new(o, k, v < n && names[v][0] ? json_string(names[v]) : json_null());
}

json_t *cli_export_record_json(const cx_record *r) {
  json_t *o = json_object();
  json_object_set_new(o, "type", json_string("record"));
  jstr(o, "authority_code", r->authority_code);
  jstr(o, "record_id", r->record_id);
  jstr(o, "authority_name", r->authority_name);
  jstr(o, "entity_code", r->entity_code);
  jstr(o, "entity_name", r->entity_name);
  jenum(o, "entity_kind", cx_kind_names, CX_KIND_COUNT, r->entity_kind);
  jenum(o, "category", cx_category_names, CX_CAT_COUNT, r->category);
  jenum(o, "subtype", cx_subtype_names, CX_SUB_COUNT, r->subtype);
  jenum(o, "domain", cx_domain_names, CX_DOM_COUNT, r->domain);
  jenum(o, "severity", cx_severity_names, CX_SEV_COUNT, r->severity);
  jenum(o, "status", cx_status_names, CX_ST_COUNT, r->status);
  jbool(o, "objection", r->objection);
  jday(o, "decision_date", r->decision_date);
  jday(o, "report_date", r->report_date);
  jbool(o, "report_received", r->report_received);
  jday(o, "valid_from", r->valid_from);
  jday(o, "valid_until", r->valid_until); /* "open" for an open end */
  jday(o, "display_until", r->display_until);
  jint(o, "amount_fen", r->amount_fen);
  jstr(o, "list_type", r->list_type);
  jstr(o, "measures", r->measures);
  jstr(o, "basis", r->basis);
  jstr(o, "content", r->content);
  jstr(o, "extra", r->extra);
  jint(o, "region", r->region);
  jint(o, "report_delay", r->report_delay);
  jbool(o, "on_time", r->on_time);
  jbool(o, "delay_provisional", r->delay_provisional);
  return o;
}

/* 1 when e is the audit entry of a lifecycle transition: op an event name, target
 * "<18-character authority code>/<record_id>". */
int cli_export_is_event(const cx_audit_entry *e) {
  int ev = cx_enum_parse(cx_event_names, CX_EV_COUNT, e->op);
  return ev >= 0 && e->target.n > CX_CODE_LEN + 1 && e->target.p[CX_CODE_LEN] == '/';
}

/* ------------------------------------------------------------------ export */

typedef struct bits {
  uint64_t *w;
  size_t n; /* words */
} bits;

static int bits_set(bits *b, uint32_t i) {
  size_t k = i / 64;
  if (k >= b->n) {
    size_t n = b->n ? b->n : 1024;
    while (n <= k) n *= 2;
    uint64_t *w = realloc(b->w, n * sizeof *w);
    if (!w) return CX_ENOMEM;
    memset(w + b->n, 0, (n - b->n) * sizeof *w);
    b->w = w;
    b->n = n;
  }
  b->w[k] |= 1ull << (i % 64);
  return 0;
}
static int bits_has(const bits *b, uint32_t i) { return i / 64 < b->n && (b->w[i / 64] >> (i % 64)) & 1; }

typedef struct exporter {
  cx_txn *t;
  FILE *out;
  cx_digest *dg;
  int partial;
  /* filters */
  cx_day since;
  char authority[CX_CODE_LEN + 1];
  char region[8];
  size_t region_n;
  bits ents, auths; /* partial: entity and authority ids with an exported record */
  /* counts */
  uint64_t n_data, n_rec, n_ent, n_auth, n_ev, n_aud, total;
  int err;
  /* progress */
  int tty;
  double t0, last;
} exporter;

static int emit(exporter *x, json_t *o) {
  char *s = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
  json_decref(o);
  if (!s) return CX_EBADREQ; /* a string jansson refuses (not UTF-8): cannot be exported */
  int bad = fputs(s, x->out) < 0 || putc('\n', x->out) == EOF;
  free(s);
  return bad ? CX_EIO : 0;
}

static void progress(exporter *x, int final) {
  if (!x->tty) return;
  double now = cli_now();
  if (final) {
    fputs("\r\033[K", stderr);
    return;
  }
  if (now - x->last < 0.2) return;
  x->last = now;
  double rate = now > x->t0 ? (double)x->n_rec / (now - x->t0) : 0;
  char eta[32] = "";
  if (x->total && x->n_rec && rate > 0 && x->n_rec < x->total)
    snprintf(eta, sizeof eta, "  ETA %.0fs", (double)(x->total - x->n_rec) / rate);
  fprintf(stderr, "\r\033[Kexport: %llu records  %.0f records/s%s", (unsigned long long)x->n_rec, rate, eta);
  cli_progress_on = 1;
}

/* The record filter: --region (a prefix of the entity's region code), --authority, --since
 * (decided, reported or its entity changed on or after the day; the store keeps no
 * per-record change day: a transition or a re-sent row changes the entity's last_update). */
static int record_passes(exporter *x, const cx_record *r) {
  if (!x->partial) return 1;
  if (x->authority[0] && (r->authority_code.n != CX_CODE_LEN || memcmp(r->authority_code.p, x->authority, CX_CODE_LEN)))
    return 0;
  if (x->region_n) {
    char rg[16];
    snprintf(rg, sizeof rg, "%06u", (unsigned)r->region);
    if (strncmp(rg, x->region, x->region_n) != 0) return 0;
  }
  if (x->since) {
    if (r->decision_date >= x->since) return 1;
    if (r->report_date != CX_DAY_NONE && r->report_date >= x->since) return 1;
    cx_summary s;
    if (r->entity_code.n == CX_CODE_LEN && cx_store_summary_get(x->t, r->entity_code.p, &s) == 0 &&
        s.last_update >= x->since)
      return 1;
    return 0;
  }
  return 1;
}

static int ex_data(void *ctx, cx_str name, cx_str text) {
  exporter *x = ctx;
  json_t *o = json_object();
  json_object_set_new(o, "type", json_string("data"));
  jstr(o, "name", name);
  jstr(o, "text", text);
  cx_digest_data(x->dg, name, text);
  x->n_data++;
  return emit(x, o);
}

static int ex_record(void *ctx, const cx_reckey *k, const cx_record *r) {
  (void)k;
  exporter *x = ctx;
  if (!record_passes(x, r)) return 0;
  int e;
  if (x->partial && ((e = bits_set(&x->ents, r->entity_id)) || (e = bits_set(&x->auths, r->authority_id)))) return e;
  cx_digest_record(x->dg, r);
  x->n_rec++;
  progress(x, 0);
  return emit(x, cli_export_record_json(r));
}

static int ex_auth_records(void *ctx, uint32_t id, cx_str code, cx_str name) {
  (void)name;
  exporter *x = ctx;
  if (x->authority[0] && (code.n != CX_CODE_LEN || memcmp(code.p, x->authority, CX_CODE_LEN))) return 0;
  return cx_store_authority_records_each(x->t, id, ex_record, ctx);
}

static int ex_entity(void *ctx, cx_str code, cx_str norm) {
  (void)norm;
  exporter *x = ctx;
  cx_summary s;
  int e = code.n == CX_CODE_LEN ? cx_store_summary_get(x->t, code.p, &s) : CX_ECORRUPT;
  if (e) return e;
  if (x->partial && !bits_has(&x->ents, s.entity_id)) return 0;
  json_t *o = json_object();
  json_object_set_new(o, "type", json_string("entity"));
  jstr(o, "code", code);
  jday(o, "last_update", s.last_update);
  cx_digest_entity(x->dg, code, s.last_update);
  x->n_ent++;
  return emit(x, o);
}

static int ex_auth(void *ctx, uint32_t id, cx_str code, cx_str name) {
  exporter *x = ctx;
  if (x->partial && !bits_has(&x->auths, id)) return 0;
  json_t *o = json_object();
  json_object_set_new(o, "type", json_string("authority"));
  jstr(o, "code", code);
  jstr(o, "name", name);
  cx_digest_authority(x->dg, code, name);
  x->n_auth++;
  return emit(x, o);
}

static int ex_audit(void *ctx, const cx_audit_entry *e) {
  exporter *x = ctx;
  int ev = cli_export_is_event(e);
  if (x->partial) {
    /* a partial export carries the history of its records, not the rest of the log */
    if (!ev) return 0;
    cx_reckey k;
    cx_record r;
    cx_str acode = {e->target.p, CX_CODE_LEN}, rid = {e->target.p + CX_CODE_LEN + 1, e->target.n - CX_CODE_LEN - 1};
    if (cx_store_record_get(x->t, acode, rid, &k, &r) != 0 || !bits_has(&x->auths, r.authority_id) ||
        !record_passes(x, &r))
      return 0;
  }
  json_t *o = json_object();
  json_object_set_new(o, "type", json_string(ev ? "event" : "audit"));
  jint(o, "seq", (int64_t)e->seq);
  jint(o, "time_ms", e->time_ms);
  jstr(o, "who", e->who);
  jstr(o, "role", e->role);
  jstr(o, "op", e->op);
  jstr(o, "target", e->target);
  jstr(o, "detail", e->detail);
  jstr(o, "client", e->client);
  cx_digest_audit(x->dg, e);
  if (ev) x->n_ev++;
  else x->n_aud++;
  return emit(x, o);
}

/* --sql: the DuckDB script for the export at outp, which names it by its absolute path. */
static int export_sql(const char *outp, const char *sql_p) {
  char abs[PATH_MAX];
  if (!realpath(outp, abs)) {
    cli_err(strerror(errno), "export: %s", outp);
    return -1;
  }
  FILE *f = fopen(sql_p, "wb");
  if (!f) {
    cli_err(strerror(errno), "export: --sql %s", sql_p);
    return -1;
  }
  int e = cli_export_sql_write(f, abs);
  if (fclose(f) != 0 && !e) e = CX_EIO;
  if (e) {
    cli_err(strerror(errno), "export: --sql %s", sql_p);
    unlink(sql_p);
    return -1;
  }
  return 0;
}

int cli_cmd_export(int argc, char **argv) {
  static const struct option opts[] = {
      {"db", required_argument, 0, 'd'},        {"out", required_argument, 0, 'o'},
      {"since", required_argument, 0, 's'},     {"authority", required_argument, 0, 'a'},
      {"region", required_argument, 0, 'r'},    {"quiet", no_argument, 0, 'q'},
      {"sql", required_argument, 0, 'S'},
      {0, 0, 0, 0},
  };
  const char *db = NULL, *outp = "-", *since_s = NULL, *auth_s = NULL, *region_s = NULL, *sql_p = NULL;
  int quiet = 0, c;
  exporter x;
  memset(&x, 0, sizeof x);
  optind = 1;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 'd': db = optarg; break;
    case 'o': outp = optarg; break;
    case 's':
      since_s = optarg;
      if (cx_day_parse(cx_str_c(optarg), &x.since)) return cli_usage("export: --since: expected YYYY-MM-DD, got '%s'", optarg);
      break;
    case 'a':
      auth_s = optarg;
      if (cx_uscc_normalize(optarg, strlen(optarg), x.authority))
        return cli_usage("export: --authority: %s", cx_code_why(cx_uscc_normalize(optarg, strlen(optarg), x.authority), 1));
      break;
    case 'r': {
      region_s = optarg;
      size_t n = strlen(optarg);
      if (n < 1 || n > 6 || strspn(optarg, "0123456789") != n)
        return cli_usage("export: --region: expected 1 to 6 digits of a region code, got '%s'", optarg);
      memcpy(x.region, optarg, n + 1);
      x.region_n = n;
      break;
    }
    case 'q': quiet = 1; break;
    case 'S': sql_p = optarg; break;
    default: return cli_usage("export: bad option");
    }
  }
  if (!db) return cli_usage("export: --db PATH is required");
  if (optind < argc) return cli_usage("export: unexpected argument '%s'", argv[optind]);
  if (sql_p && strcmp(outp, "-") == 0) return cli_usage("export: --sql needs --out FILE (the script reads that file)");
  x.partial = since_s || auth_s || region_s;
  cx_store *st;
  if (cli_store_open(db, 0, 1, 0, &st)) return CLI_EXIT_FAIL;
  int to_stdout = strcmp(outp, "-") == 0;
  x.out = to_stdout ? stdout : fopen(outp, "wb");
  if (!x.out) {
    cli_err(strerror(errno), "export: %s", outp);
    cx_store_close(st);
    return CLI_EXIT_FAIL;
  }
  cx_store_info info;
  if (cx_store_info_get(st, &info) == 0) x.total = info.records;
  x.tty = !quiet && isatty(2);
  x.t0 = cli_now();
  int e = cx_store_txn_begin(st, &x.t);
  if (!e) e = cx_digest_new(&x.dg);
  if (!e) {
    json_t *h = json_object();
    json_object_set_new(h, "type", json_string("header"));
    json_object_set_new(h, "format", json_string(CLI_EXPORT_FORMAT));
    jint(h, "format_version", CLI_EXPORT_VERSION);
    jint(h, "schema_version", CX_SCHEMA_VERSION);
    json_object_set_new(h, "tool_version", json_string(CX_VERSION));
    char when[32];
    time_t now = time(NULL);
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(when, sizeof when, "%Y-%m-%dT%H:%M:%SZ", &tm);
    json_object_set_new(h, "exported_at", json_string(when));
    json_t *f = json_object();
    json_object_set_new(f, "since", since_s ? json_string(since_s) : json_null());
    json_object_set_new(f, "authority", auth_s ? json_string(x.authority) : json_null());
    json_object_set_new(f, "region", region_s ? json_string(x.region) : json_null());
    json_object_set_new(h, "filters", f);
    jbool(h, "partial", x.partial);
    e = emit(&x, h);
  }
  if (!e) e = cx_store_data_each(x.t, ex_data, &x);
  if (!e) e = cx_store_authorities_each(x.t, ex_auth_records, &x);
  if (!e) e = cx_store_codes_each(x.t, (cx_str){"", 0}, ex_entity, &x);
  if (!e) e = cx_store_authorities_each(x.t, ex_auth, &x);
  if (!e) e = cx_store_audit_each(x.t, 0, 0, 0, ex_audit, &x);
  char hex[2 * CX_DIGEST_LEN + 1] = "";
  if (!e) {
    unsigned char d[CX_DIGEST_LEN];
    e = cx_digest_final(x.dg, d);
    x.dg = NULL;
    if (!e) cx_digest_hex(d, hex);
  }
  if (!e) {
    json_t *tr = json_object();
    json_object_set_new(tr, "type", json_string("trailer"));
    json_t *n = json_object();
    jint(n, "data", (int64_t)x.n_data);
    jint(n, "record", (int64_t)x.n_rec);
    jint(n, "entity", (int64_t)x.n_ent);
    jint(n, "authority", (int64_t)x.n_auth);
    jint(n, "event", (int64_t)x.n_ev);
    jint(n, "audit", (int64_t)x.n_aud);
    json_object_set_new(tr, "counts", n);
    jbool(tr, "partial", x.partial);
    json_object_set_new(tr, "digest", json_string(hex));
    e = emit(&x, tr);
  }
  if (!e && (fflush(x.out) != 0 || ferror(x.out))) e = CX_EIO;
  progress(&x, 1);
  if (x.dg) cx_digest_free(x.dg);
  const char *why = e == CX_EIO ? strerror(errno) : cx_store_errmsg(st);
  if (x.t) cx_store_txn_end(x.t);
  cx_store_close(st);
  if (!to_stdout && fclose(x.out) != 0 && !e) e = CX_EIO;
  free(x.ents.w);
  free(x.auths.w);
  if (e) {
    cli_err(why && *why ? why : cx_strerror(e), "export: %s", to_stdout ? "<stdout>" : outp);
    if (!to_stdout) unlink(outp); /* no half export left behind */
    return CLI_EXIT_FAIL;
  }
  if (sql_p && export_sql(outp, sql_p)) return CLI_EXIT_FAIL;
  if (!quiet)
    fprintf(stderr,
            "export: %s%llu records, %llu entities, %llu authorities, %llu events, %llu other audit "
            "entries, %llu data files in %.2f s; digest %s\n",
            x.partial ? "partial: " : "", (unsigned long long)x.n_rec, (unsigned long long)x.n_ent,
            (unsigned long long)x.n_auth, (unsigned long long)x.n_ev, (unsigned long long)x.n_aud,
            (unsigned long long)x.n_data, cli_now() - x.t0, hex);
  return 0;
}
