/*
 * session.c — one query interface for both modes.
 *
 * A query command builds its request as a JSON object in the protocol's shape (docs/protocol.md)
 * and calls cli_sess_call(). Remote mode packs it into msgpack and sends it through net/'s
 * client; local mode runs the same operation on a read-only store with query/ and builds the
 * result in the protocol's shape. Either way the command renders one JSON result, so the two
 * modes print the same thing.
 */
#include <errno.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include "session.h"

#ifdef CX_HAVE_NET
#include "client.h"
#endif

/* ===================================================================== helpers */

/* A JSON string of any bytes: jansson builds none from bytes that are not UTF-8 (the value
 * would vanish from the output), so those are shown escaped (\xNN) instead. */
static json_t *jstrn(const char *p, size_t n) {
  json_t *j = json_stringn(p ? p : "", p ? n : 0);
  if (j) return j;
  char *e = cx_malloc(4 * n + 1);
  if (!e) return NULL;
  cx_text_escape(p, n, CX_TEXT_UTF8, e, 4 * n + 1);
  j = json_string(e);
  free(e);
  return j;
}

static json_t *jstr(cx_str s) { return jstrn(s.p, s.n); }

static json_t *jday(cx_day d) {
  if (d == CX_DAY_NONE || d == CX_DAY_OPEN) return json_null();
  char b[11];
  cx_day_format(d, b);
  return json_string(b);
}

static json_t *jenum(const char *const *names, int n, int v) {
  return json_string(v >= 0 && v < n ? names[v] : "");
}

static int arg_str(json_t *args, const char *key, cx_str *out) {
  json_t *v = json_object_get(args, key);
  if (!json_is_string(v)) return 0;
  *out = (cx_str){json_string_value(v), (uint32_t)json_string_length(v)};
  return 1;
}

static int fail(char *err, size_t cap, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t cap, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, cap, fmt, ap);
  va_end(ap);
  return code;
}

/* ===================================================================== local ops */

static int local_entity(cli_sess *s, json_t *args, json_t **out, char *err, size_t cap) {
  cx_str code = {0};
  arg_str(args, "code", &code);
  cx_entity_status es;
  int rc = cx_query_entity(s->q, s->t, s->role, code, s->as_of, &es);
  if (rc) return fail(err, cap, rc, "%s", cx_strerror(rc));
  int pub = s->role == CX_ROLE_PUBLIC;
  json_t *o = json_object();
  json_object_set_new(o, "code", jstr(es.code));
  json_object_set_new(o, "name", jstr(es.name));
  json_object_set_new(o, "kind", jenum(cx_kind_names, CX_KIND_COUNT, es.kind));
  json_object_set_new(o, "region", json_integer(es.region));
  json_object_set_new(o, "province", jstr(es.province));
  json_object_set_new(o, "city", jstr(es.city));
  json_object_set_new(o, "county", jstr(es.county));
  json_object_set_new(o, "region_until", es.region_until ? json_integer(es.region_until) : json_null());
  json_object_set_new(o, "authority_code", jstr(es.authority_code));
  json_object_set_new(o, "authority_name", jstr(es.authority_name));
  json_t *counts = json_object();
  for (int c = 0; c < CX_CAT_COUNT; c++) {
    if (!(pub ? es.counts[c].visible : es.counts[c].total)) continue;
    json_t *cc = json_object();
    if (!pub) {
      json_object_set_new(cc, "total", json_integer(es.counts[c].total));
      json_object_set_new(cc, "in_force", json_integer(es.counts[c].in_force));
    }
    json_object_set_new(cc, "visible", json_integer(es.counts[c].visible));
    json_object_set_new(counts, cx_category_names[c], cc);
  }
  json_object_set_new(o, "counts", counts);
  static const struct {
    uint32_t bit;
    const char *name;
  } flags[] = {{CX_EF_BLACKLISTED, "blacklisted"},
               {CX_EF_UNDER_MEASURES, "under_measures"},
               {CX_EF_REDLISTED, "redlisted"},
               {CX_EF_OBJECTION, "objection"}};
  json_t *fl = json_array();
  for (size_t i = 0; i < 4; i++)
    if (es.flags & flags[i].bit) json_array_append_new(fl, json_string(flags[i].name));
  json_object_set_new(o, "flags", fl);
  json_object_set_new(o, "last_update", jday(es.last_update));
  json_object_set_new(o, "as_of", jday(s->as_of));
  *out = o;
  return 0;
}

static json_t *jcsv(cx_str s) {
  json_t *a = json_array();
  for (uint32_t i = 0, st = 0; i <= s.n; i++)
    if (i == s.n || s.p[i] == ',') {
      if (i > st) json_array_append_new(a, jstrn(s.p + st, i - st));
      st = i + 1;
    }
  return a;
}

typedef struct rec_ctx {
  json_t *arr;
  cx_role role;
} rec_ctx;

static int extra_cb(void *ctx, cx_str name, cx_str value) {
  char key[160];
  snprintf(key, sizeof key, "%.*s", (int)name.n, name.p);
  json_object_set_new(ctx, key, json_stringn(value.p, value.n));
  return 0;
}

static int rec_cb(void *ctx, const cx_record_view *v) {
  rec_ctx *rc = ctx;
  json_t *arr = rc->arr;
  const cx_record *r = v->r;
  json_t *o = json_object();
  json_object_set_new(o, "record_id", jstr(r->record_id));
  json_object_set_new(o, "authority_code", jstr(r->authority_code));
  json_object_set_new(o, "authority_name", jstr(r->authority_name));
  json_object_set_new(o, "entity_code", jstr(r->entity_code));
  json_object_set_new(o, "entity_name", jstr(r->entity_name));
  json_object_set_new(o, "entity_kind", jenum(cx_kind_names, CX_KIND_COUNT, r->entity_kind));
  json_object_set_new(o, "category", jenum(cx_category_names, CX_CAT_COUNT, r->category));
  json_object_set_new(o, "subtype", jenum(cx_subtype_names, CX_SUB_COUNT, r->subtype));
  json_object_set_new(o, "domain", jenum(cx_domain_names, CX_DOM_COUNT, r->domain));
  json_object_set_new(o, "severity", jenum(cx_severity_names, CX_SEV_COUNT, r->severity));
  json_object_set_new(o, "status", jenum(cx_status_names, CX_ST_COUNT, r->status));
  json_object_set_new(o, "objection", json_boolean(r->objection));
  json_object_set_new(o, "decision_date", jday(r->decision_date));
  json_object_set_new(o, "report_date", jday(r->report_date));
  json_object_set_new(o, "valid_from", jday(r->valid_from));
  json_object_set_new(o, "valid_until", jday(r->valid_until));
  json_object_set_new(o, "display_until", jday(r->display_until));
  json_object_set_new(o, "amount_fen", json_integer(r->amount_fen));
  json_object_set_new(o, "list_type", jstr(r->list_type));
  json_object_set_new(o, "measures", jcsv(r->measures));
  json_object_set_new(o, "basis", jstr(r->basis));
  json_object_set_new(o, "content", jstr(r->content));
  json_object_set_new(o, "report_delay", json_integer(r->report_delay));
  json_object_set_new(o, "on_time", json_boolean(r->on_time));
  json_object_set_new(o, "report_received", json_boolean(r->report_received));
  json_object_set_new(o, "in_force", json_boolean(v->in_force));
  json_object_set_new(o, "displayable", json_boolean(v->displayable));
  if (rc->role != CX_ROLE_PUBLIC && r->extra.n) { /* not for the public: may name persons */
    json_t *x = json_object();
    char scratch[CX_MAX_EXTRA];
    cx_extra_each(r->extra, extra_cb, x, scratch, sizeof scratch);
    json_object_set_new(o, "extra", x);
  }
  json_array_append_new(arr, o);
  return 0;
}

static int local_records(cli_sess *s, json_t *args, json_t **out, char *err, size_t cap) {
  cx_records_req r;
  memset(&r, 0, sizeof r);
  r.category = -1;
  r.role = s->role;
  r.as_of = s->as_of;
  arg_str(args, "code", &r.code);
  arg_str(args, "cursor", &r.cursor);
  cx_str cat;
  if (arg_str(args, "category", &cat)) {
    r.category = cx_enum_parse(cx_category_names, CX_CAT_COUNT, cat);
    if (r.category < 0) return fail(err, cap, CX_EBADREQ, "unknown category \"%.*s\"", (int)cat.n, cat.p);
  }
  json_int_t limit = json_integer_value(json_object_get(args, "limit"));
  if (limit == 0) limit = 20;
  if (limit < 1 || limit > 1000) return fail(err, cap, CX_EBADREQ, "limit must be 1..1000");
  r.limit = (uint32_t)limit;
  char next[CX_CURSOR_MAX];
  json_t *arr = json_array();
  rec_ctx rctx = {arr, s->role};
  int rc = cx_query_records(s->q, s->t, &r, rec_cb, &rctx, next);
  if (rc) {
    json_decref(arr);
    if (rc == CX_EBADREQ) return fail(err, cap, rc, "bad cursor or request");
    return fail(err, cap, rc, "%s", cx_strerror(rc));
  }
  json_t *o = json_object();
  json_object_set_new(o, "records", arr);
  json_object_set_new(o, "next", next[0] ? json_string(next) : json_null());
  *out = o;
  return 0;
}

#define CHECK_HITS 64

static json_t *jhit(const cx_check_hit *h) {
  json_t *o = json_object();
  json_object_set_new(o, "record_id", jstr(h->record_id));
  json_object_set_new(o, "authority", jstr(h->authority_code));
  json_object_set_new(o, "category", jenum(cx_category_names, CX_CAT_COUNT, h->category));
  json_object_set_new(o, "list_type", json_string(h->list_type ? h->list_type : ""));
  json_object_set_new(o, "measure", json_string(h->measure ? h->measure : ""));
  json_object_set_new(o, "measure_name", json_string(h->measure_name ? h->measure_name : ""));
  json_object_set_new(o, "effect", jenum(cx_effect_names, 3, h->effect));
  json_object_set_new(o, "valid_from", jday(h->valid_from));
  json_object_set_new(o, "valid_until", jday(h->valid_until));
  json_object_set_new(o, "objection", json_boolean(h->objection));
  return o;
}

static int local_check(cli_sess *s, json_t *args, json_t **out, char *err, size_t cap) {
  cx_str action = {0};
  arg_str(args, "action", &action);
  int act = cx_query_action(s->q, action);
  if (act < 0) return fail(err, cap, CX_EBADREQ, "unknown action \"%.*s\"", (int)action.n, action.p);
  json_t *codes = json_object_get(args, "codes");
  json_t *res = json_array();
  cx_check_hit hits[CHECK_HITS];
  size_t i;
  json_t *cv;
  json_array_foreach(codes, i, cv) {
    cx_str code = {json_string_value(cv), (uint32_t)json_string_length(cv)};
    cx_check_result cr;
    int rc = cx_query_check(s->q, s->t, code, act, s->as_of, &cr, hits, CHECK_HITS);
    if (rc) {
      json_decref(res);
      return fail(err, cap, rc, "check failed: %s", cx_strerror(rc));
    }
    json_t *o = json_object();
    json_object_set_new(o, "code", cr.code[0] ? json_string(cr.shown) : jstr((cx_str){code.p, code.n > 64 ? 64 : code.n}));
    json_object_set_new(o, "verdict", jenum(cx_verdict_names, CX_V_COUNT, cr.verdict));
    json_t *h = json_array(), *inc = json_array();
    for (uint32_t k = 0; k < cr.n_hits; k++)
      json_array_append_new(hits[k].effect == CX_EFFECT_INCENTIVE ? inc : h, jhit(&hits[k]));
    json_object_set_new(o, "hits", h);
    json_object_set_new(o, "incentives", inc);
    if (cr.n_total > cr.n_hits) json_object_set_new(o, "more", json_integer(cr.n_total - cr.n_hits));
    if (cr.verdict == CX_V_INVALID_CODE)
      json_object_set_new(o, "reason", json_string(cx_strerror(cr.code_err ? cr.code_err : CX_EINVALCODE)));
    json_array_append_new(res, o);
  }
  json_t *o = json_object();
  json_object_set_new(o, "action", jstr(action));
  json_object_set_new(o, "as_of", jday(s->as_of));
  json_object_set_new(o, "results", res);
  *out = o;
  return 0;
}

static int search_cb(void *ctx, const cx_search_hit *h) {
  json_t *o = json_object();
  json_object_set_new(o, "code", jstr(h->code));
  json_object_set_new(o, "name", jstr(h->name));
  json_object_set_new(o, "kind", jenum(cx_kind_names, CX_KIND_COUNT, h->kind));
  json_array_append_new(ctx, o);
  return 0;
}

static int local_search(cli_sess *s, json_t *args, json_t **out, char *err, size_t cap) {
  cx_str prefix = {0};
  arg_str(args, "prefix", &prefix);
  json_int_t limit = json_integer_value(json_object_get(args, "limit"));
  if (limit == 0) limit = 20;
  if (limit < 1 || limit > 100) return fail(err, cap, CX_EBADREQ, "limit must be 1..100");
  if (prefix.n == 0) return fail(err, cap, CX_EBADREQ, "empty prefix");
  json_t *arr = json_array();
  int rc = cx_query_search(s->q, s->t, s->role, prefix, (uint32_t)limit, search_cb, arr);
  if (rc) {
    json_decref(arr);
    if (rc == CX_EBADREQ) return fail(err, cap, rc, "prefix is neither a name nor the start of a code");
    return fail(err, cap, rc, "search failed: %s", cx_strerror(rc));
  }
  json_t *o = json_object();
  json_object_set_new(o, "results", arr);
  *out = o;
  return 0;
}

static int metric_is_int(int m) {
  return m == CX_M_COUNT || m == CX_M_AMOUNT || m == CX_M_IN_FORCE || m == CX_M_ON_TIME || m == CX_M_REPAIRED;
}

static int local_aggregate(cli_sess *s, json_t *args, json_t **out, char *err, size_t cap) {
  cx_agg_spec sp;
  memset(&sp, 0, sizeof sp);
  sp.order = -1;
  sp.as_of = s->as_of;
  size_t i;
  json_t *v;
  json_array_foreach(json_object_get(args, "by"), i, v) {
    int d = cx_enum_parse(cx_dim_names, CX_DIM_COUNT, cx_str_c(json_string_value(v)));
    if (d < 0 || sp.n_group >= CX_DIM_COUNT)
      return fail(err, cap, CX_EBADREQ, "not a dimension: %s (province city county authority category "
                  "subtype domain severity kind status year quarter month)", json_string_value(v));
    sp.group[sp.n_group++] = (uint8_t)d;
  }
  const char *key;
  json_object_foreach(json_object_get(args, "where"), key, v) {
    int d = cx_enum_parse(cx_dim_names, CX_DIM_COUNT, cx_str_c(key));
    if (d < 0 || sp.n_filters >= CX_DIM_COUNT) return fail(err, cap, CX_EBADREQ, "where: not a dimension: %s", key);
    cx_agg_filter *f = &sp.filters[sp.n_filters++];
    f->dim = (uint8_t)d;
    size_t k;
    json_t *x;
    json_array_foreach(v, k, x) {
      if (f->n >= CX_AGG_MAX_FILTER_VALUES) return fail(err, cap, CX_EBADREQ, "where.%s: too many values", key);
      const char *sv = json_string_value(x);
      if (!sv || cx_query_dim_parse(s->q, s->t, (cx_dim)d, cx_str_c(sv), &f->vals[f->n]))
        return fail(err, cap, CX_EBADREQ, "where.%s: bad value \"%s\"", key, sv ? sv : "");
      f->n++;
    }
  }
  cx_str ds;
  if (arg_str(args, "from", &ds) && cx_day_parse(ds, &sp.from))
    return fail(err, cap, CX_EBADREQ, "from: not a YYYY-MM-DD date");
  if (arg_str(args, "to", &ds) && cx_day_parse(ds, &sp.to))
    return fail(err, cap, CX_EBADREQ, "to: not a YYYY-MM-DD date");
  json_array_foreach(json_object_get(args, "metrics"), i, v) {
    int m = cx_enum_parse(cx_metric_names, CX_M_COUNT_, cx_str_c(json_string_value(v)));
    if (m < 0 || sp.n_metrics >= CX_M_COUNT_)
      return fail(err, cap, CX_EBADREQ, "not a metric: %s (count amount in_force on_time on_time_rate "
                  "report_delay repaired loss_rate kept_rate)", json_string_value(v));
    sp.metrics[sp.n_metrics++] = (uint8_t)m;
  }
  if (!sp.n_metrics) sp.metrics[sp.n_metrics++] = CX_M_COUNT;
  cx_str order;
  if (arg_str(args, "order", &order)) {
    for (int k = 0; k < sp.n_group && sp.order < 0; k++)
      if (cx_str_eq(order, cx_str_c(cx_dim_names[sp.group[k]]))) sp.order = k;
    for (int k = 0; k < sp.n_metrics && sp.order < 0; k++)
      if (cx_str_eq(order, cx_str_c(cx_metric_names[sp.metrics[k]]))) sp.order = sp.n_group + k;
    if (sp.order < 0) return fail(err, cap, CX_EBADREQ, "order must name a column of by or metrics");
  }
  sp.desc = json_is_true(json_object_get(args, "desc"));
  sp.limit = (uint32_t)json_integer_value(json_object_get(args, "limit"));
  sp.force_scan = s->force_scan;
  cx_agg_result res;
  memset(&res, 0, sizeof res);
  int rc = cx_query_aggregate(s->q, s->t, s->role, &sp, &res);
  if (rc == CX_EBADREQ) return fail(err, cap, rc, "aggregate request rejected (check dimensions, filters, dates)");
  if (rc) return fail(err, cap, rc, "aggregate failed: %s", cx_strerror(rc));
  json_t *cols = json_array(), *rows = json_array();
  for (int k = 0; k < sp.n_group; k++) json_array_append_new(cols, json_string(cx_dim_names[sp.group[k]]));
  for (int k = 0; k < sp.n_metrics; k++) json_array_append_new(cols, json_string(cx_metric_names[sp.metrics[k]]));
  char buf[256];
  for (uint32_t r = 0; r < res.n_rows; r++) {
    const cx_agg_row *row = &res.rows[r];
    json_t *jr = json_array();
    for (int k = 0; k < sp.n_group; k++) {
      if (cx_query_dim_format(s->q, s->t, (cx_dim)sp.group[k], row->keys[k], buf, sizeof buf) == 0)
        json_array_append_new(jr, jstrn(buf, strlen(buf)));
      else
        json_array_append_new(jr, json_integer(row->keys[k]));
    }
    for (int k = 0; k < sp.n_metrics; k++) {
      if (metric_is_int(sp.metrics[k]))
        json_array_append_new(jr, json_integer((json_int_t)row->vals[k]));
      else
        json_array_append_new(jr, isnan(row->vals[k]) ? json_null() : json_real(row->vals[k]));
    }
    json_array_append_new(rows, jr);
  }
  json_t *o = json_object();
  json_object_set_new(o, "columns", cols);
  json_object_set_new(o, "rows", rows);
  json_object_set_new(o, "from_rollup", json_boolean(res.from_rollup));
  json_object_set_new(o, "scanned", json_integer((json_int_t)res.scanned));
  cx_agg_result_free(&res);
  *out = o;
  return 0;
}

/* repair | revoke | reinstate | objection {authority, record_id, reason, withdraw?, override?}:
 * one lifecycle event, decided and audited by the store's state machine in the same txn
 * (who: local:<unix user>; target authority/record_id; detail "old -> new: reason"). The local
 * CLI is the operator: unscoped, and may override the minimum period when asked to. */
static int local_status_change(cli_sess *s, const char *op, json_t *args, json_t **out, char *err, size_t cap) {
  cx_str auth = {0}, rid = {0}, reason = {0};
  arg_str(args, "authority", &auth);
  arg_str(args, "record_id", &rid);
  arg_str(args, "reason", &reason);
  if (!auth.n || !rid.n) return fail(err, cap, CX_EBADREQ, "authority and record_id are required");
  if (!reason.n) return fail(err, cap, CX_EBADREQ, "reason must not be empty");
  int withdraw = json_is_true(json_object_get(args, "withdraw"));
  int override = json_is_true(json_object_get(args, "override"));
  int ev;
  if (strcmp(op, "repair") == 0) ev = CX_EV_REPAIR;
  else if (strcmp(op, "revoke") == 0) ev = CX_EV_REVOKE;
  else if (strcmp(op, "reinstate") == 0) ev = CX_EV_REINSTATE;
  else ev = withdraw ? CX_EV_OBJECTION_WITHDRAW : CX_EV_OBJECTION;
  cx_batch *b;
  int rc = cx_batch_begin(s->st, &b);
  if (rc) return fail(err, cap, rc, "cannot start a batch: %s", cx_strerror(rc));
  cx_audit_entry who;
  cli_audit_entry(&who, op, "", "");
  cx_batch_actor actor = {who.who, who.role, CX_STR(""), 1, NULL, 0};
  const char *why = NULL;
  if ((rc = cx_batch_set_actor(b, &actor)) || (rc = cx_batch_transition(b, auth, rid, ev, override, reason, &why))) {
    cx_batch_abort(b);
    return fail(err, cap, rc, "%s", why ? why : cx_strerror(rc));
  }
  cx_batch_result res;
  rc = cx_batch_commit(b, &res);
  if (rc == CX_ENOTFOUND)
    return fail(err, cap, rc, "no record %.*s from authority %.*s", (int)rid.n, rid.p, (int)auth.n, auth.p);
  if (rc == CX_EBADREQ) return fail(err, cap, rc, "%s", res.error);
  if (rc) return fail(err, cap, rc, "commit failed: %s", cx_strerror(rc));
  json_t *o = json_object();
  json_object_set_new(o, "authority", jstr(auth));
  json_object_set_new(o, "record_id", jstr(rid));
  json_object_set_new(o, "status", json_string(cx_status_names[res.status < CX_ST_COUNT ? res.status : 0]));
  json_object_set_new(o, "objection", json_boolean(res.objection));
  json_object_set_new(o, "changed", json_integer(res.transitions));
  *out = o;
  return 0;
}

/* ===================================================================== remote */

#ifdef CX_HAVE_NET
static void pack_json(msgpack_packer *pk, json_t *j) {
  switch (json_typeof(j)) {
  case JSON_OBJECT: {
    msgpack_pack_map(pk, json_object_size(j));
    const char *k;
    json_t *v;
    json_object_foreach(j, k, v) {
      msgpack_pack_str_with_body(pk, k, strlen(k));
      pack_json(pk, v);
    }
    break;
  }
  case JSON_ARRAY: {
    msgpack_pack_array(pk, json_array_size(j));
    size_t i;
    json_t *v;
    json_array_foreach(j, i, v) pack_json(pk, v);
    break;
  }
  case JSON_STRING: msgpack_pack_str_with_body(pk, json_string_value(j), json_string_length(j)); break;
  case JSON_INTEGER: msgpack_pack_int64(pk, json_integer_value(j)); break;
  case JSON_REAL: msgpack_pack_double(pk, json_real_value(j)); break;
  case JSON_TRUE: msgpack_pack_true(pk); break;
  case JSON_FALSE: msgpack_pack_false(pk); break;
  default: msgpack_pack_nil(pk); break;
  }
}

static int pack_args(msgpack_packer *pk, void *ctx) {
  json_t *args = ctx;
  const char *k;
  json_t *v;
  json_object_foreach(args, k, v) {
    msgpack_pack_str_with_body(pk, k, strlen(k));
    pack_json(pk, v);
  }
  return 0;
}

static json_t *from_mp(const msgpack_object *o) {
  switch (o->type) {
  case MSGPACK_OBJECT_NIL: return json_null();
  case MSGPACK_OBJECT_BOOLEAN: return json_boolean(o->via.boolean);
  case MSGPACK_OBJECT_POSITIVE_INTEGER: return json_integer((json_int_t)o->via.u64);
  case MSGPACK_OBJECT_NEGATIVE_INTEGER: return json_integer((json_int_t)o->via.i64);
  case MSGPACK_OBJECT_FLOAT32:
  case MSGPACK_OBJECT_FLOAT64: return json_real(o->via.f64);
  case MSGPACK_OBJECT_STR: return jstrn(o->via.str.ptr, o->via.str.size);
  case MSGPACK_OBJECT_ARRAY: {
    json_t *a = json_array();
    for (uint32_t i = 0; i < o->via.array.size; i++) json_array_append_new(a, from_mp(&o->via.array.ptr[i]));
    return a;
  }
  case MSGPACK_OBJECT_MAP: {
    json_t *m = json_object();
    for (uint32_t i = 0; i < o->via.map.size; i++) {
      const msgpack_object *k = &o->via.map.ptr[i].key;
      if (k->type != MSGPACK_OBJECT_STR) continue;
      char key[256];
      size_t n = k->via.str.size < sizeof key - 1 ? k->via.str.size : sizeof key - 1;
      memcpy(key, k->via.str.ptr, n);
      key[n] = 0;
      json_object_set_new(m, key, from_mp(&o->via.map.ptr[i].val));
    }
    return m;
  }
  default: return json_null();
  }
}
#endif

/* ===================================================================== session */

int cli_sess_open(cli_sess *s) {
  if (s->connect) {
#ifdef CX_HAVE_NET
    char host[256];
    const char *colon = strrchr(s->connect, ':');
    if (!colon || colon == s->connect || (size_t)(colon - s->connect) >= sizeof host) {
      cli_usage("--connect: expected HOST:PORT, got '%s'", s->connect);
      return CLI_EXIT_USAGE;
    }
    memcpy(host, s->connect, (size_t)(colon - s->connect));
    host[colon - s->connect] = 0;
    if (host[0] == '[' && host[strlen(host) - 1] == ']') { /* [::1]:7411 */
      memmove(host, host + 1, strlen(host));
      host[strlen(host) - 1] = 0;
    }
    int port = atoi(colon + 1);
    if (port <= 0 || port > 65535) {
      cli_usage("--connect: bad port in '%s'", s->connect);
      return CLI_EXIT_USAGE;
    }
    char token[512] = "";
    if (s->token_file) {
      char *text;
      size_t n;
      int e = cli_read_file(s->token_file, &text, &n);
      if (e) {
        cli_err(strerror(-e), "--token-file %s", s->token_file);
        return CLI_EXIT_FAIL;
      }
      /* the first word of the first line that is not a comment */
      char *save = NULL;
      for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        while (*l == ' ' || *l == '\t') l++;
        if (!*l || *l == '#') continue;
        size_t k = strcspn(l, " \t\r");
        if (k >= sizeof token) k = sizeof token - 1;
        memcpy(token, l, k);
        token[k] = 0;
        break;
      }
      free(text);
      if (!token[0]) {
        cli_err("no token in the file", "--token-file %s", s->token_file);
        return CLI_EXIT_FAIL;
      }
    } else if (getenv("CHENGXIN_TOKEN") && *getenv("CHENGXIN_TOKEN")) {
      snprintf(token, sizeof token, "%s", getenv("CHENGXIN_TOKEN"));
    }
    cx_client *c;
    int e = cx_client_connect(host, port, 30000, &c);
    if (e) {
      cli_err(cx_strerror(e), "cannot connect to %s", s->connect);
      return CLI_EXIT_FAIL;
    }
    if (token[0]) {
      e = cx_client_auth(c, token, NULL, 0);
      if (e) {
        cli_err(e == CX_EFORBIDDEN ? "unknown token" : cx_strerror(e), "auth at %s", s->connect);
        cx_client_close(c);
        return CLI_EXIT_FAIL;
      }
    }
    s->client = c;
    return 0;
#else
    cli_err("this build has no network client (net/ was not built)", "--connect");
    return CLI_EXIT_FAIL;
#endif
  }
  if (!s->db) {
    cli_usage("%s: give --db PATH or --connect HOST:PORT", s->cmd);
    return CLI_EXIT_USAGE;
  }
  if (cli_store_open(s->db, 0, !s->write, 0, &s->st)) return CLI_EXIT_FAIL;
  if (s->write) return 0; /* status changes need no query context nor read txn */
  int e = cx_query_new(s->st, &s->q);
  if (e == 0) e = cx_store_txn_begin(s->st, &s->t);
  if (e) {
    cli_err(cx_strerror(e), "%s: %s", s->cmd, s->db);
    cli_sess_close(s);
    return CLI_EXIT_FAIL;
  }
  return 0;
}

void cli_sess_close(cli_sess *s) {
#ifdef CX_HAVE_NET
  if (s->client) cx_client_close(s->client);
#endif
  s->client = NULL;
  if (s->t) cx_store_txn_end(s->t);
  if (s->q) cx_query_free(s->q);
  if (s->st) cx_store_close(s->st);
  s->t = NULL;
  s->q = NULL;
  s->st = NULL;
}

int cli_sess_call(cli_sess *s, const char *op, json_t *args, json_t **result, char *err, size_t cap) {
  *result = NULL;
  if (s->client) {
#ifdef CX_HAVE_NET
    if (s->as_of_set) json_object_set_new(args, "as_of", jday(s->as_of));
    cx_client_resp r;
    int e = cx_client_call(s->client, op, (uint32_t)json_object_size(args), pack_args, args, &r);
    if (e) return fail(err, cap, e, "%s", cx_strerror(e));
    if (!r.ok) {
      int code = cx_client_resp_err(&r);
      return fail(err, cap, code ? code : CX_EINTERNAL, "%.*s", (int)r.err_message_len,
                  r.err_message ? r.err_message : "");
    }
    *result = r.result ? from_mp(r.result) : json_null();
    return 0;
#endif
  }
  if (strcmp(op, "entity") == 0) return local_entity(s, args, result, err, cap);
  if (strcmp(op, "records") == 0) return local_records(s, args, result, err, cap);
  if (strcmp(op, "check") == 0) return local_check(s, args, result, err, cap);
  if (strcmp(op, "search") == 0) return local_search(s, args, result, err, cap);
  if (strcmp(op, "aggregate") == 0) return local_aggregate(s, args, result, err, cap);
  if (strcmp(op, "repair") == 0 || strcmp(op, "revoke") == 0 || strcmp(op, "objection") == 0 ||
      strcmp(op, "reinstate") == 0)
    return local_status_change(s, op, args, result, err, cap);
  return fail(err, cap, CX_EUNKNOWNOP, "unknown operation %s", op);
}
