/*
 * restore.c — `chengxin restore`: a new store from an export (export.c; issue 16).
 *
 *   chengxin restore --db NEW [--batch K] [--quiet] FILE
 *
 * NEW must not exist, or be an empty directory: restore builds a store, it never merges into
 * one. The store is built in NEW.restore-PID beside it and renamed to NEW only when every
 * line was read without an error, the trailer's counts and digest match what was read, and
 * the built store's cx_store_digest equals the trailer's. Any failure removes the temporary
 * store: NEW is then left as it was (absent, or the empty directory), never half restored.
 *
 * Order of the work, as the lines come: the data files (cx_store_data_put: the catalogue,
 * calendar and region tables records are checked against), the records in restore batches of
 * K (cx_batch_set_restore: the stored state as given), the entities' last_update and the
 * authorities' names (cx_store_restore_*), then the audit log with its original times
 * (cx_store_audit_append). Bad lines are reported as FILE:LINE: reason (the first 20); after
 * the first, nothing more is written, but the rest of the file is still checked.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <jansson.h>
#include <limits.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "export.h"

#define MAX_REPORTED 20

enum { SEC_NONE, SEC_HEADER, SEC_DATA, SEC_RECORD, SEC_ENTITY, SEC_AUTHORITY, SEC_AUDIT, SEC_TRAILER };
static const char *const sec_names[] = {"", "header", "data", "record", "entity", "authority", "event/audit", "trailer"};

typedef struct restorer {
  cx_store *st;
  const char *file;
  uint64_t batch;
  int tty;
  int section;
  long errors;
  long line;
  cx_digest *dg;
  /* records: the open restore batch and the line of each put */
  cx_batch *b;
  long *bline;
  uint32_t bn, bcap;
  /* entities, authorities and audit entries waiting for their write */
  cx_restore_entity *ents;
  cx_restore_authority *auths;
  cx_audit_entry *aud;
  size_t n_buf, cap_buf;
  char **owned; /* copies of the buffered strings */
  size_t n_owned, cap_owned;
  uint64_t last_seq;
  uint64_t n_data, n_rec, n_ent, n_auth, n_ev, n_aud;
  int have_trailer;
  char want_digest[2 * CX_DIGEST_LEN + 1];
  int partial;
  double t0, last;
} restorer;

static void bad(restorer *rs, long line, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void bad(restorer *rs, long line, const char *fmt, ...) {
  if (rs->errors++ >= MAX_REPORTED) return;
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  if (rs->tty) fputs("\r\033[K", stderr);
  cli_progress_clear();
  fprintf(stderr, "%s:%ld: %s\n", rs->file, line, msg);
}

static void progress(restorer *rs, int final) {
  if (!rs->tty) return;
  double now = cli_now();
  if (final) {
    fputs("\r\033[K", stderr);
    return;
  }
  if (now - rs->last < 0.2) return;
  rs->last = now;
  double rate = now > rs->t0 ? (double)rs->line / (now - rs->t0) : 0;
  fprintf(stderr, "\r\033[Krestore: %s: %ld lines  %.0f lines/s", rs->file, rs->line, rate);
  cli_progress_on = 1;
}

/* ------------------------------------------------------------------ buffered writes */

static char *own(restorer *rs, const char *p, size_t n) {
  if (rs->n_owned == rs->cap_owned) {
    size_t cap = rs->cap_owned ? rs->cap_owned * 2 : 256;
    char **o = realloc(rs->owned, cap * sizeof *o);
    if (!o) return NULL;
    rs->owned = o;
    rs->cap_owned = cap;
  }
  char *c = malloc(n + 1);
  if (!c) return NULL;
  memcpy(c, p, n);
  c[n] = 0;
  rs->owned[rs->n_owned++] = c;
  return c;
}

static void drop_owned(restorer *rs) {
  for (size_t i = 0; i < rs->n_owned; i++) free(rs->owned[i]);
  rs->n_owned = 0;
}

static int commit_records(restorer *rs) {
  if (!rs->b) return 0;
  cx_batch *b = rs->b;
  rs->b = NULL;
  if (rs->errors) { /* nothing more is written after a bad line */
    cx_batch_abort(b);
    rs->bn = 0;
    return 0;
  }
  cx_batch_result r;
  int e = cx_batch_commit(b, &r);
  if (e) {
    long line = r.bad_put < rs->bn ? rs->bline[r.bad_put] : rs->line;
    bad(rs, line, "%s", r.error[0] ? r.error : cx_strerror(e));
  }
  rs->bn = 0;
  return e;
}

/* Writes what the section being left still holds. */
static void flush(restorer *rs, int section) {
  int e = 0;
  if (section == SEC_RECORD) {
    commit_records(rs);
  } else if (rs->n_buf && !rs->errors) {
    if (section == SEC_ENTITY) e = cx_store_restore_entities(rs->st, rs->ents, rs->n_buf);
    else if (section == SEC_AUTHORITY) e = cx_store_restore_authorities(rs->st, rs->auths, rs->n_buf);
    else if (section == SEC_AUDIT) e = cx_store_audit_append(rs->st, rs->aud, rs->n_buf);
    if (e) bad(rs, rs->line, "%s lines before this one: %s", sec_names[section], cx_store_errmsg(rs->st));
  }
  rs->n_buf = 0;
  drop_owned(rs);
}

static int buf_room(restorer *rs) {
  if (rs->n_buf < rs->cap_buf) return 0;
  size_t cap = rs->cap_buf ? rs->cap_buf * 2 : 1024;
  cx_restore_entity *a = realloc(rs->ents, cap * sizeof *a);
  if (!a) return CX_ENOMEM;
  rs->ents = a;
  cx_restore_authority *b = realloc(rs->auths, cap * sizeof *b);
  if (!b) return CX_ENOMEM;
  rs->auths = b;
  cx_audit_entry *c = realloc(rs->aud, cap * sizeof *c);
  if (!c) return CX_ENOMEM;
  rs->aud = c;
  rs->cap_buf = cap;
  return 0;
}

/* ------------------------------------------------------------------ JSON fields */

static const char *why_; /* the field problem of the line being read */
static char why_buf[160];

static int f_str(json_t *o, const char *k, int required, cx_str *out) {
  json_t *v = json_object_get(o, k);
  if (!v || json_is_null(v)) {
    if (required) {
      snprintf(why_buf, sizeof why_buf, "%s: required", k);
      why_ = why_buf;
      return -1;
    }
    *out = (cx_str){"", 0};
    return 0;
  }
  if (!json_is_string(v)) {
    snprintf(why_buf, sizeof why_buf, "%s: not a string", k);
    why_ = why_buf;
    return -1;
  }
  *out = (cx_str){json_string_value(v), (uint32_t)json_string_length(v)};
  return 0;
}

static int f_int(json_t *o, const char *k, int64_t lo, int64_t hi, int64_t *out) {
  json_t *v = json_object_get(o, k);
  if (!json_is_integer(v) || json_integer_value(v) < lo || json_integer_value(v) > hi) {
    snprintf(why_buf, sizeof why_buf, "%s: not an integer of %lld..%lld", k, (long long)lo, (long long)hi);
    why_ = why_buf;
    return -1;
  }
  *out = json_integer_value(v);
  return 0;
}

static int f_bool(json_t *o, const char *k, uint8_t *out) {
  json_t *v = json_object_get(o, k);
  if (!json_is_boolean(v)) {
    snprintf(why_buf, sizeof why_buf, "%s: not true or false", k);
    why_ = why_buf;
    return -1;
  }
  *out = json_is_true(v);
  return 0;
}

/* A date, null (CX_DAY_NONE, when none_ok) or "open" (when open_ok). */
static int f_day(json_t *o, const char *k, int none_ok, int open_ok, cx_day *out) {
  json_t *v = json_object_get(o, k);
  if ((!v || json_is_null(v)) && none_ok) {
    *out = CX_DAY_NONE;
    return 0;
  }
  const char *s = json_string_value(v);
  if (s && open_ok && strcmp(s, "open") == 0) {
    *out = CX_DAY_OPEN;
    return 0;
  }
  if (!s || cx_day_parse(cx_str_c(s), out)) {
    snprintf(why_buf, sizeof why_buf, "%s: not a YYYY-MM-DD date%s", k, open_ok ? " or \"open\"" : "");
    why_ = why_buf;
    return -1;
  }
  return 0;
}

static int f_enum(json_t *o, const char *k, const char *const *names, int n, int none_ok, uint8_t *out) {
  json_t *v = json_object_get(o, k);
  if ((!v || json_is_null(v)) && none_ok) {
    *out = 0;
    return 0;
  }
  const char *s = json_string_value(v);
  int i = s ? cx_enum_parse(names, n, cx_str_c(s)) : -1;
  if (i < 0) {
    snprintf(why_buf, sizeof why_buf, "%s: not one of its names", k);
    why_ = why_buf;
    return -1;
  }
  *out = (uint8_t)i;
  return 0;
}

/* The record of a "record" line; strings borrow from o. */
static int record_from_json(json_t *o, cx_record *r) {
  cx_record_defaults(r);
  int64_t amount, region, delay;
  if (f_str(o, "authority_code", 1, &r->authority_code) || f_str(o, "record_id", 1, &r->record_id) ||
      f_str(o, "authority_name", 0, &r->authority_name) || f_str(o, "entity_code", 1, &r->entity_code) ||
      f_str(o, "entity_name", 1, &r->entity_name) ||
      f_enum(o, "entity_kind", cx_kind_names, CX_KIND_COUNT, 0, &r->entity_kind) ||
      f_enum(o, "category", cx_category_names, CX_CAT_COUNT, 0, &r->category) ||
      f_enum(o, "subtype", cx_subtype_names, CX_SUB_COUNT, 1, &r->subtype) ||
      f_enum(o, "domain", cx_domain_names, CX_DOM_COUNT, 0, &r->domain) ||
      f_enum(o, "severity", cx_severity_names, CX_SEV_COUNT, 0, &r->severity) ||
      f_enum(o, "status", cx_status_names, CX_ST_COUNT, 0, &r->status) ||
      f_bool(o, "objection", &r->objection) || f_day(o, "decision_date", 0, 0, &r->decision_date) ||
      f_day(o, "report_date", 1, 0, &r->report_date) || f_bool(o, "report_received", &r->report_received) ||
      f_day(o, "valid_from", 0, 0, &r->valid_from) || f_day(o, "valid_until", 0, 1, &r->valid_until) ||
      f_day(o, "display_until", 1, 0, &r->display_until) ||
      f_int(o, "amount_fen", 0, CX_MAX_AMOUNT_FEN, &amount) || f_str(o, "list_type", 0, &r->list_type) ||
      f_str(o, "measures", 0, &r->measures) || f_str(o, "basis", 0, &r->basis) ||
      f_str(o, "content", 0, &r->content) || f_str(o, "extra", 0, &r->extra) ||
      f_int(o, "region", 0, 999999, &region) || f_int(o, "report_delay", -1, INT32_MAX, &delay) ||
      f_bool(o, "on_time", &r->on_time) || f_bool(o, "delay_provisional", &r->delay_provisional))
    return -1;
  r->amount_fen = amount;
  r->region = (uint32_t)region;
  r->report_delay = (int32_t)delay;
  return 0;
}

/* ------------------------------------------------------------------ lines */

static int rank_of(const char *type) {
  static const struct { const char *name; int rank; } t[] = {
      {"header", SEC_HEADER}, {"data", SEC_DATA},           {"record", SEC_RECORD}, {"entity", SEC_ENTITY},
      {"authority", SEC_AUTHORITY}, {"event", SEC_AUDIT}, {"audit", SEC_AUDIT},   {"trailer", SEC_TRAILER},
  };
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++)
    if (strcmp(type, t[i].name) == 0) return t[i].rank;
  return -1;
}

static void line_header(restorer *rs, json_t *o, long ln) {
  const char *fmt = json_string_value(json_object_get(o, "format"));
  json_t *v = json_object_get(o, "format_version");
  if (!fmt || strcmp(fmt, CLI_EXPORT_FORMAT) != 0) {
    bad(rs, ln, "header: not a chengxin export (format \"%s\" expected)", CLI_EXPORT_FORMAT);
    return;
  }
  if (!json_is_integer(v) || json_integer_value(v) != CLI_EXPORT_VERSION) {
    bad(rs, ln, "header: format_version %lld; this chengxin reads version %d",
        json_is_integer(v) ? (long long)json_integer_value(v) : -1LL, CLI_EXPORT_VERSION);
    return;
  }
  rs->partial = json_is_true(json_object_get(o, "partial"));
}

static void line_data(restorer *rs, json_t *o, long ln) {
  cx_str name, text;
  if (f_str(o, "name", 1, &name) || f_str(o, "text", 1, &text)) {
    bad(rs, ln, "data: %s", why_);
    return;
  }
  cx_digest_data(rs->dg, name, text);
  rs->n_data++;
  if (rs->errors) return;
  char nm[32];
  snprintf(nm, sizeof nm, "%.*s", (int)(name.n < 31 ? name.n : 31), name.p);
  int bl = 0;
  int e = cx_store_data_put(rs->st, nm, text.p, text.n, &bl);
  if (e && bl > 0) bad(rs, ln, "data %s: line %d of its text is not a valid %s line", nm, bl, nm);
  else if (e) bad(rs, ln, "data %s: %s", nm, cx_store_errmsg(rs->st));
}

static void line_record(restorer *rs, json_t *o, long ln) {
  cx_record r;
  if (record_from_json(o, &r)) {
    bad(rs, ln, "record: %s", why_);
    return;
  }
  cx_digest_record(rs->dg, &r);
  rs->n_rec++;
  int e;
  if (!rs->b && ((e = cx_batch_begin(rs->st, &rs->b)) || (e = cx_batch_set_restore(rs->b)))) {
    bad(rs, ln, "record: %s", cx_strerror(e));
    return;
  }
  const char *why = NULL;
  if ((e = cx_batch_put(rs->b, &r, &why))) {
    bad(rs, ln, "record: %s", why ? why : cx_strerror(e));
    return;
  }
  if (rs->bn == rs->bcap) {
    uint32_t cap = rs->bcap ? rs->bcap * 2 : 1024;
    long *p = realloc(rs->bline, cap * sizeof *p);
    if (!p) {
      bad(rs, ln, "out of memory");
      return;
    }
    rs->bline = p;
    rs->bcap = cap;
  }
  rs->bline[rs->bn++] = ln;
  if (cx_batch_size(rs->b) >= rs->batch) commit_records(rs);
}

static void line_entity(restorer *rs, json_t *o, long ln) {
  cx_str code;
  cx_day lu;
  if (f_str(o, "code", 1, &code) || f_day(o, "last_update", 1, 0, &lu)) {
    bad(rs, ln, "entity: %s", why_);
    return;
  }
  char norm[CX_CODE_LEN + 1];
  int person;
  if (cx_code_normalize(code.p, code.n, norm, &person) || memcmp(norm, code.p, code.n) != 0 || code.n != CX_CODE_LEN) {
    bad(rs, ln, "entity: code: not a normalised entity code");
    return;
  }
  cx_digest_entity(rs->dg, code, lu);
  rs->n_ent++;
  if (buf_room(rs)) {
    bad(rs, ln, "out of memory");
    return;
  }
  memcpy(rs->ents[rs->n_buf].code, norm, CX_CODE_LEN);
  rs->ents[rs->n_buf++].last_update = lu;
  if (rs->n_buf >= rs->batch) flush(rs, SEC_ENTITY);
}

static void line_authority(restorer *rs, json_t *o, long ln) {
  cx_str code, name;
  if (f_str(o, "code", 1, &code) || f_str(o, "name", 0, &name)) {
    bad(rs, ln, "authority: %s", why_);
    return;
  }
  cx_digest_authority(rs->dg, code, name);
  rs->n_auth++;
  char *c, *n;
  if (buf_room(rs) || !(c = own(rs, code.p, code.n)) || !(n = own(rs, name.p, name.n))) {
    bad(rs, ln, "out of memory");
    return;
  }
  rs->auths[rs->n_buf++] = (cx_restore_authority){{c, code.n}, {n, name.n}};
  if (rs->n_buf >= rs->batch) flush(rs, SEC_AUTHORITY);
}

static void line_audit(restorer *rs, json_t *o, long ln, int is_event) {
  int64_t seq, t;
  cx_audit_entry e;
  memset(&e, 0, sizeof e);
  if (f_int(o, "seq", 1, INT64_MAX, &seq) || f_int(o, "time_ms", 1, INT64_MAX, &t) ||
      f_str(o, "who", 0, &e.who) || f_str(o, "role", 0, &e.role) || f_str(o, "op", 0, &e.op) ||
      f_str(o, "target", 0, &e.target) || f_str(o, "detail", 0, &e.detail) || f_str(o, "client", 0, &e.client)) {
    bad(rs, ln, "%s: %s", is_event ? "event" : "audit", why_);
    return;
  }
  if ((uint64_t)seq <= rs->last_seq) {
    bad(rs, ln, "%s: seq %lld after %llu: the log is in seq order", is_event ? "event" : "audit",
        (long long)seq, (unsigned long long)rs->last_seq);
    return;
  }
  rs->last_seq = (uint64_t)seq;
  e.time_ms = t;
  if (cli_export_is_event(&e) != is_event) {
    bad(rs, ln, is_event ? "event: not a lifecycle transition's entry (op, target authority/record_id)"
                         : "audit: a lifecycle transition's entry must be an \"event\" line");
    return;
  }
  cx_digest_audit(rs->dg, &e);
  if (is_event) rs->n_ev++;
  else rs->n_aud++;
  if (buf_room(rs)) {
    bad(rs, ln, "out of memory");
    return;
  }
  cx_str *f[6] = {&e.who, &e.role, &e.op, &e.target, &e.detail, &e.client};
  for (int i = 0; i < 6; i++) {
    char *c = own(rs, f[i]->p, f[i]->n);
    if (!c) {
      bad(rs, ln, "out of memory");
      return;
    }
    f[i]->p = c;
  }
  rs->aud[rs->n_buf++] = e;
  if (rs->n_buf >= rs->batch) flush(rs, SEC_AUDIT);
}

static void line_trailer(restorer *rs, json_t *o, long ln) {
  rs->have_trailer = 1;
  json_t *c = json_object_get(o, "counts");
  const struct { const char *k; uint64_t n; } want[] = {
      {"data", rs->n_data}, {"record", rs->n_rec}, {"entity", rs->n_ent},
      {"authority", rs->n_auth}, {"event", rs->n_ev}, {"audit", rs->n_aud},
  };
  for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
    json_t *v = json_object_get(c, want[i].k);
    if (!json_is_integer(v) || (uint64_t)json_integer_value(v) != want[i].n) {
      bad(rs, ln, "trailer: %s lines: the trailer counts %lld, the file has %llu (truncated or altered)",
          want[i].k, json_is_integer(v) ? (long long)json_integer_value(v) : -1LL,
          (unsigned long long)want[i].n);
      return;
    }
  }
  const char *d = json_string_value(json_object_get(o, "digest"));
  unsigned char got[CX_DIGEST_LEN];
  char hex[2 * CX_DIGEST_LEN + 1];
  cx_digest *dg = rs->dg;
  rs->dg = NULL;
  if (cx_digest_final(dg, got)) {
    bad(rs, ln, "trailer: the digest could not be computed");
    return;
  }
  cx_digest_hex(got, hex);
  if (!d || strcmp(d, hex) != 0) {
    bad(rs, ln, "trailer: digest %s, but the lines read digest to %s (altered)", d ? d : "(none)", hex);
    return;
  }
  memcpy(rs->want_digest, hex, sizeof hex);
}

static void one_line(restorer *rs, const char *s, size_t n, long ln) {
  json_error_t jerr;
  json_t *o = json_loadb(s, n, 0, &jerr);
  if (!o || !json_is_object(o)) {
    bad(rs, ln, "not a JSON object%s%s", o ? "" : ": ", o ? "" : jerr.text);
    json_decref(o);
    return;
  }
  const char *type = json_string_value(json_object_get(o, "type"));
  int rank = type ? rank_of(type) : -1;
  if (rank < 0) {
    bad(rs, ln, "unknown line type%s%s", type ? " " : "", type ? type : " (no \"type\")");
  } else if (rs->section == SEC_NONE && rank != SEC_HEADER) {
    bad(rs, ln, "the first line must be the export's header");
    rs->section = SEC_HEADER;
  } else if (rs->section == SEC_TRAILER) {
    bad(rs, ln, "a line after the trailer");
  } else if (rank < rs->section || (rank == SEC_HEADER && rs->section == SEC_HEADER)) {
    bad(rs, ln, "a %s line after %s lines: the order is header, data, record, entity, authority, "
                "event/audit, trailer", type, sec_names[rs->section]);
  } else {
    if (rank != rs->section) {
      flush(rs, rs->section);
      rs->section = rank;
    }
    switch (rank) {
    case SEC_HEADER: line_header(rs, o, ln); break;
    case SEC_DATA: line_data(rs, o, ln); break;
    case SEC_RECORD: line_record(rs, o, ln); break;
    case SEC_ENTITY: line_entity(rs, o, ln); break;
    case SEC_AUTHORITY: line_authority(rs, o, ln); break;
    case SEC_AUDIT: line_audit(rs, o, ln, strcmp(type, "event") == 0); break;
    case SEC_TRAILER: line_trailer(rs, o, ln); break;
    }
  }
  json_decref(o);
}

/* ------------------------------------------------------------------ the command */

/* 0: path is absent (*exists = 0) or an empty directory (*exists = 1); -1: it is not. */
static int target_free(const char *path, int *exists) {
  struct stat sb;
  *exists = 0;
  if (stat(path, &sb) != 0) return errno == ENOENT ? 0 : -1;
  *exists = 1;
  if (!S_ISDIR(sb.st_mode)) return -1;
  DIR *d = opendir(path);
  if (!d) return -1;
  struct dirent *e;
  int n = 0;
  while ((e = readdir(d)))
    if (strcmp(e->d_name, ".") && strcmp(e->d_name, "..")) n++;
  closedir(d);
  return n ? -1 : 0;
}

static void remove_store(const char *dir) {
  char f[PATH_MAX + 64];
  snprintf(f, sizeof f, "%s/data.mdb", dir);
  unlink(f);
  snprintf(f, sizeof f, "%s/lock.mdb", dir);
  unlink(f);
  rmdir(dir);
}

int cli_cmd_restore(int argc, char **argv) {
  static const struct option opts[] = {
      {"db", required_argument, 0, 'd'}, {"batch", required_argument, 0, 'b'},
      {"quiet", no_argument, 0, 'q'},    {0, 0, 0, 0},
  };
  const char *db = NULL;
  uint64_t batch = 10000;
  int quiet = 0, c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 'd': db = optarg; break;
    case 'b':
      if (cli_parse_u64(optarg, &batch) || batch == 0 || batch > 1000000)
        return cli_usage("restore: --batch: expected 1..1000000, got '%s'", optarg);
      break;
    case 'q': quiet = 1; break;
    default: return cli_usage("restore: bad option");
    }
  }
  if (!db) return cli_usage("restore: --db NEW is required");
  if (argc - optind != 1) return cli_usage("restore: expected one FILE (an export; '-' = stdin)");
  const char *path = argv[optind];
  char target[PATH_MAX], tmp[PATH_MAX + 32];
  size_t tn = strlen(db);
  while (tn > 1 && db[tn - 1] == '/') tn--;
  if (tn >= sizeof target) return cli_usage("restore: --db: path too long");
  snprintf(target, sizeof target, "%.*s", (int)tn, db);
  int exists;
  if (target_free(target, &exists)) {
    cli_err("it exists and is not an empty directory: restore builds a new store, it never "
            "writes into one; nothing was changed", "restore: %s", target);
    return CLI_EXIT_FAIL;
  }
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  if (!f) {
    cli_err(strerror(errno), "restore: %s", path);
    return CLI_EXIT_FAIL;
  }
  snprintf(tmp, sizeof tmp, "%s.restore-%ld", target, (long)getpid());
  cx_store_opts so;
  memset(&so, 0, sizeof so);
  so.create = 1;
  so.bulk = 1; /* synced once, at close, before the rename */
  cx_store *st;
  if (cli_store_open_opts(tmp, &so, &st)) {
    if (f != stdin) fclose(f);
    remove_store(tmp);
    return CLI_EXIT_FAIL;
  }
  restorer rs;
  memset(&rs, 0, sizeof rs);
  rs.st = st;
  rs.file = f == stdin ? "<stdin>" : path;
  rs.batch = batch;
  rs.tty = !quiet && isatty(2);
  rs.t0 = cli_now();
  int e = cx_digest_new(&rs.dg);
  if (e) {
    cli_err(cx_strerror(e), "restore");
    rs.errors++;
  }
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  while (!e && (n = getline(&line, &cap, f)) > 0) {
    rs.line++;
    size_t k = 0;
    while (k < (size_t)n && (line[k] == ' ' || line[k] == '\t' || line[k] == '\r' || line[k] == '\n')) k++;
    if (k == (size_t)n) continue;
    one_line(&rs, line, (size_t)n, rs.line);
    progress(&rs, 0);
    if (rs.errors > MAX_REPORTED) {
      cli_progress_clear();
      fprintf(stderr, "%s: more than %d bad lines; stopped reading\n", rs.file, MAX_REPORTED);
      break;
    }
  }
  if (ferror(f)) bad(&rs, rs.line, "read error: %s", strerror(errno));
  free(line);
  if (f != stdin) fclose(f);
  flush(&rs, rs.section);
  if (rs.b) cx_batch_abort(rs.b);
  if (!rs.have_trailer && rs.errors <= MAX_REPORTED)
    bad(&rs, rs.line, "no trailer line: the export is truncated");
  /* the store built must hold what the export says it holds */
  char hex[2 * CX_DIGEST_LEN + 1] = "";
  if (!rs.errors) {
    unsigned char d[CX_DIGEST_LEN];
    int de = cx_store_digest(st, d);
    if (de) bad(&rs, rs.line, "digest of the restored store: %s", cx_store_errmsg(st));
    else {
      cx_digest_hex(d, hex);
      if (strcmp(hex, rs.want_digest) != 0)
        bad(&rs, rs.line, "the restored store's digest %s differs from the export's %s", hex, rs.want_digest);
    }
  }
  progress(&rs, 1);
  if (rs.dg) cx_digest_free(rs.dg);
  drop_owned(&rs);
  free(rs.owned);
  free(rs.bline);
  free(rs.ents);
  free(rs.auths);
  free(rs.aud);
  cx_store_close(st);
  if (!rs.errors && exists && rmdir(target) != 0) {
    cli_err(strerror(errno), "restore: %s", target);
    rs.errors++;
  }
  if (!rs.errors && rename(tmp, target) != 0) {
    cli_err(strerror(errno), "restore: rename %s to %s", tmp, target);
    if (exists) mkdir(target, 0700);
    rs.errors++;
  }
  if (rs.errors) {
    remove_store(tmp);
    cli_progress_clear();
    fprintf(stderr, "restore: %ld bad line%s; nothing restored: %s %s\n", rs.errors, rs.errors == 1 ? "" : "s",
            target, exists ? "is still the empty directory it was" : "was not created");
    return CLI_EXIT_FAIL;
  }
  if (!quiet)
    fprintf(stderr,
            "restore: %s%llu records, %llu entities, %llu authorities, %llu events, %llu other audit "
            "entries, %llu data files into %s in %.2f s; digest %s\n",
            rs.partial ? "partial export: " : "", (unsigned long long)rs.n_rec,
            (unsigned long long)rs.n_ent, (unsigned long long)rs.n_auth, (unsigned long long)rs.n_ev,
            (unsigned long long)rs.n_aud, (unsigned long long)rs.n_data, target, cli_now() - rs.t0, hex);
  return 0;
}
