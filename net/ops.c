/*
 * ops.c — the executor (exec.h): request decoding and the op handlers, from a decoded request
 * to one framed response. No door lives here: the server, the HTTP listener and the CLI's
 * local mode all call cx_exec_run().
 *
 * Each handler packs its result into x->pk (a packer over x->out). On error it returns a
 * negative CX_E* with x->msg set; cx_exec_run then drops what the handler packed and writes
 * an error response instead. Handlers never allocate on the entity/check path: strings are
 * read in place from the frame, results are packed straight from the map snapshot.
 */
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <time.h>
#include <stdlib.h>
#include <string.h>

#include "net_int.h"

#define CX_CHECK_HITS 64 /* hits reported per code (the rest are counted in "more") */

/* ===================================================================== decoding */

/* Request bytes shown in a message: at most max of them (cut at a character), what is not
 * text escaped (\xNN, \n), so that an answer stays valid UTF-8 and a log line one line.
 * buf: 4 * max + 1 bytes. */
static const char *shown(cx_str s, uint32_t max, char *buf, size_t cap) {
  uint32_t n = s.n;
  if (n > max) {
    n = max;
    while (n && ((unsigned char)s.p[n] & 0xC0) == 0x80) n--;
  }
  cx_text_escape(s.p, n, CX_TEXT_NAME, buf, cap);
  return buf;
}

/*
 * The accepted values an "unknown X" error lists, so that an HTTP or msgpack client learns
 * them from the error as the CLI's user does. Bounded (a catalogue may hold many actions and a
 * message has 512 bytes): at most VLIST_MAX names and VLIST_BYTES bytes, then "…".
 */
#define VLIST_MAX 40
#define VLIST_BYTES 320

typedef struct vlist {
  char buf[VLIST_BYTES + 8];
  size_t o;
  int n, cut;
} vlist;

static void vlist_add(vlist *l, const char *name) {
  if (!name || !name[0] || l->cut) return;
  size_t k = strlen(name);
  if (l->n == VLIST_MAX || l->o + k + 2 > VLIST_BYTES) {
    memcpy(l->buf + l->o, l->n ? ", \u2026" : "\u2026", l->n ? 5 : 3); /* "…" */
    l->o += l->n ? 5 : 3;
    l->buf[l->o] = 0;
    l->cut = 1;
    return;
  }
  int w = snprintf(l->buf + l->o, sizeof l->buf - l->o, "%s%s", l->n ? ", " : "", name);
  l->o += (size_t)w;
  l->n++;
}

/* names[0..n) ("" entries left out) as "a, b, c". */
static const char *vlist_of(vlist *l, const char *const *names, size_t n) {
  l->o = 0, l->n = 0, l->cut = 0;
  l->buf[0] = 0;
  for (size_t i = 0; i < n; i++) vlist_add(l, names[i]);
  return l->buf;
}

/* The catalogue's action codes. */
static const char *vlist_actions(vlist *l, const cx_catalog *c) {
  l->o = 0, l->n = 0, l->cut = 0;
  l->buf[0] = 0;
  for (uint32_t i = 0; c && i < c->n_actions; i++) vlist_add(l, c->actions[i].code);
  return l->buf;
}

/*
 * One pass over the usual request: a map of at most CX_NET_MAX_FIELDS string keys whose values
 * each pass the checks cx_mp_validate makes of them at depth 1, and nothing after the map. Such
 * bytes are exactly one well-formed value, so the answer is the one the two-pass decode below
 * gives, without walking the frame twice (the validation was a fifth of the decode's cost).
 * Anything else (0 returned) goes through the two passes, which choose the error.
 */
static int decode_fast(cx_req *rq, const void *payload, size_t n, cx_str *op, int *have_op, int *op_bad,
                       int *have_id, int *id_bad) {
  cx_mp r = cx_mp_make(payload, n);
  uint32_t nf;
  if (cx_mp_read_map(&r, &nf) != 0 || nf > CX_NET_MAX_FIELDS) return 0;
  *have_id = *id_bad = *have_op = *op_bad = 0;
  for (uint32_t i = 0; i < nf; i++) {
    cx_str k;
    if (cx_mp_read_str(&r, &k) != 0) return 0;
    rq->keys[i] = k;
    rq->vals[i] = r;
    if (k.n == 2 && k.p[0] == 'i' && k.p[1] == 'd') {
      cx_mp v = r;
      *have_id = 1;
      *id_bad = cx_mp_read_uint(&v, &rq->id) != 0;
    } else if (k.n == 2 && k.p[0] == 'o' && k.p[1] == 'p') {
      cx_mp v = r;
      *have_op = 1;
      *op_bad = cx_mp_read_str(&v, op) != 0;
    }
    if (cx_mp_skip_at(&r, 1) != 0) return 0;
    rq->vals[i].end = r.p;
  }
  if (cx_mp_left(&r) != 0) return 0;
  rq->nf = nf;
  return 1;
}

int cx_exec_decode(cx_req *rq, const void *payload, size_t n, char *msg, size_t cap) {
  rq->id = 0;
  rq->op = CX_OP_INVALID;
  rq->nf = 0;
  rq->payload = payload;
  rq->plen = n;
  int have_id = 0, id_bad = 0;
  cx_str op = {0};
  int have_op = 0, op_bad = 0;
  if (!decode_fast(rq, payload, n, &op, &have_op, &op_bad, &have_id, &id_bad)) {
    rq->id = 0;
    rq->nf = 0;
    if (cx_mp_validate(payload, n) != 0) {
      snprintf(msg, cap, "frame does not hold exactly one well-formed msgpack value");
      return CX_EBADFRAME;
    }
    cx_mp r = cx_mp_make(payload, n);
    uint32_t nf;
    if (cx_mp_read_map(&r, &nf) != 0) {
      snprintf(msg, cap, "request must be a msgpack map");
      return CX_EBADREQ;
    }
    if (nf > CX_NET_MAX_FIELDS) {
      snprintf(msg, cap, "request has %u fields (at most %u)", nf, CX_NET_MAX_FIELDS);
      return CX_EBADREQ;
    }
    for (uint32_t i = 0; i < nf; i++) {
      cx_str k;
      if (cx_mp_read_str(&r, &k) != 0) {
        snprintf(msg, cap, "request keys must be strings");
        return CX_EBADREQ;
      }
      if (cx_mp_skip(&r) != 0) return CX_EBADFRAME; /* validated above: cannot happen */
    }
    /* a well-formed map of string keys is what decode_fast takes: not reached */
    snprintf(msg, cap, "frame does not hold exactly one well-formed msgpack value");
    return CX_EBADFRAME;
  }
  if (!have_id || id_bad) {
    rq->id = 0;
    snprintf(msg, cap, have_id ? "id must be an unsigned integer" : "missing id");
    return CX_EBADREQ;
  }
  if (!have_op || op_bad) {
    snprintf(msg, cap, have_op ? "op must be a string" : "missing op");
    return CX_EBADREQ;
  }
  int o = cx_op_parse(op);
  if (o < 0) {
    char e[4 * 64 + 1];
    vlist l;
    snprintf(msg, cap, "unknown op \"%s\": expected one of %s", shown(op, 64, e, sizeof e),
             vlist_of(&l, cx_op_names, CX_OP_COUNT));
    return CX_EUNKNOWNOP;
  }
  rq->op = o;
  return 0;
}

/* ===================================================================== helpers */

static int fail(cx_exec_ctx *x, int err, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int fail(cx_exec_ctx *x, int err, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(x->msg, sizeof x->msg, fmt, ap);
  va_end(ap);
  return err;
}

static int txn(cx_exec_ctx *x, cx_txn **t) {
  if (!x->txn) return fail(x, CX_EINTERNAL, "no read snapshot for this op (cx_op_reads_snapshot)");
  if (!*x->txn_live) {
    int rc = cx_store_txn_renew(x->txn);
    if (rc) return fail(x, rc, "cannot open a read snapshot: %s", cx_strerror(rc));
    *x->txn_live = 1;
  }
  *t = x->txn;
  return 0;
}

/*
 * Direct writes. Every packer of this file writes into a cx_buf through cx_buf_msgpack_write
 * (cx_exec_run, the error frames, the details), so the small values of an answer — keys, short
 * strings, map and array headers, nil and booleans — are written straight into that buffer:
 * through the packer they cost a call through its callback each (with a memcpy call), and a
 * check answer has some 70 of them (the callback was a tenth of the check path's instructions).
 * pk_room gives room for n bytes, or NULL when the buffer cannot take them (over its limit, out
 * of memory: cx_buf_reserve sets the flag, and the answer is dropped as before).
 */
static inline __attribute__((always_inline)) char *pk_room(msgpack_packer *pk, size_t n) {
  cx_buf *b = pk->data;
  if (__builtin_expect(b->p && !b->over && !b->failed && b->cap - b->len >= n &&
                           (!b->limit || (b->len <= b->limit && n <= b->limit - b->len)), 1))
    return b->p + b->len;
  if (cx_buf_reserve(b, n)) return NULL;
  return b->p + b->len;
}
static inline __attribute__((always_inline)) void pk_byte(msgpack_packer *pk, unsigned char v) {
  char *w = pk->callback == cx_buf_msgpack_write ? pk_room(pk, 1) : NULL;
  if (w) {
    *w = (char)v;
    ((cx_buf *)pk->data)->len++;
  } else if (pk->callback != cx_buf_msgpack_write) {
    char c = (char)v;
    pk->callback(pk->data, &c, 1);
  }
}
static inline void pk_nil(msgpack_packer *pk) { pk_byte(pk, 0xc0); }
static inline void pk_bool(msgpack_packer *pk, int v) { pk_byte(pk, v ? 0xc3 : 0xc2); }
static inline void pk_map(msgpack_packer *pk, uint32_t n) {
  if (n <= 15) pk_byte(pk, (unsigned char)(0x80u | n));
  else msgpack_pack_map(pk, n);
}
static inline void pk_arr(msgpack_packer *pk, uint32_t n) {
  if (n <= 15) pk_byte(pk, (unsigned char)(0x90u | n));
  else msgpack_pack_array(pk, n);
}
/* A string of up to 31 bytes (a fixstr: every key and most values of an answer): header and
 * body in one write. */
static inline __attribute__((always_inline)) void pk_strn(msgpack_packer *pk, const char *s, size_t n) {
  if (n <= 31 && pk->callback == cx_buf_msgpack_write) {
    char *w = pk_room(pk, n + 1);
    if (!w) return;
    w[0] = (char)(0xa0u | (unsigned)n);
    memcpy(w + 1, s, n);
    ((cx_buf *)pk->data)->len += n + 1;
    return;
  }
  msgpack_pack_str_with_body(pk, s, n);
}
static void pk_str(msgpack_packer *pk, const char *s) {
  size_t n = s ? strlen(s) : 0;
  pk_strn(pk, s ? s : "", n);
}
static void pk_cx(msgpack_packer *pk, cx_str s) { pk_strn(pk, s.p ? s.p : "", s.n); }
/* A macro, so that the length of a literal key is a constant (a strlen per key showed in the
 * check path's profile). */
#define pk_key(pk, k) pk_strn((pk), (k), strlen(k))
/* Dates: "YYYY-MM-DD"; nil for unset and for an open end. */
static void pk_day(msgpack_packer *pk, cx_day d) {
  if (d == CX_DAY_NONE || d == CX_DAY_OPEN) {
    pk_nil(pk);
    return;
  }
  /* the text of the last days packed by this thread: an answer's as_of and its hits' dates
   * repeat (cx_day_format was 3 % of the check path's instructions) */
  static _Thread_local struct { cx_day d; char b[11]; uint8_t n; } memo[64];
  unsigned k = (unsigned)d & 63u;
  if (memo[k].d != d || !memo[k].n) {
    char b[11];
    cx_day_format(d, b);
    size_t n = strlen(b);
    if (n > 10) n = 10;
    memcpy(memo[k].b, b, n);
    memo[k].n = (uint8_t)n;
    memo[k].d = d;
  }
  pk_strn(pk, memo[k].b, memo[k].n);
}
static void pk_enum(msgpack_packer *pk, const char *const *names, int n, unsigned v) {
  if ((int)v < n && names[v]) pk_str(pk, names[v]);
  else pk_nil(pk);
}

/* Optional string / uint / bool / date fields. Missing: returns 0 and leaves *out alone. */
static inline int f_str(cx_exec_ctx *x, const cx_req *rq, const char *name, int required, cx_str *out) {
  cx_mp v;
  if (!cx_req_field(rq, name, &v))
    return required ? fail(x, CX_EBADREQ, "missing field \"%s\"", name) : 0;
  if (cx_mp_read_str(&v, out)) return fail(x, CX_EBADREQ, "field \"%s\" must be a string", name);
  return 1;
}
static inline int f_uint(cx_exec_ctx *x, const cx_req *rq, const char *name, uint64_t *out) {
  cx_mp v;
  if (!cx_req_field(rq, name, &v)) return 0;
  if (cx_mp_read_uint(&v, out))
    return fail(x, CX_EBADREQ, "field \"%s\" must be an unsigned integer", name);
  return 1;
}
static inline int f_bool(cx_exec_ctx *x, const cx_req *rq, const char *name, int *out) {
  cx_mp v;
  if (!cx_req_field(rq, name, &v)) return 0;
  if (cx_mp_read_bool(&v, out)) return fail(x, CX_EBADREQ, "field \"%s\" must be a boolean", name);
  return 1;
}
static inline int f_day(cx_exec_ctx *x, const cx_req *rq, const char *name, cx_day *out) {
  cx_str s;
  int rc = f_str(x, rq, name, 0, &s);
  if (rc <= 0) return rc;
  char e[4 * 32 + 1];
  if (cx_day_parse(s, out))
    return fail(x, CX_EBADREQ, "field \"%s\": \"%s\" is not a date YYYY-MM-DD", name,
                shown(s, 32, e, sizeof e));
  return 1;
}
static inline int f_as_of(cx_exec_ctx *x, const cx_req *rq, cx_day *out) {
  *out = cx_day_today();
  int rc = f_day(x, rq, "as_of", out);
  return rc < 0 ? rc : 0;
}

/* Code errors never echo the code: it may be a person's ID number. */
static int code_fail(cx_exec_ctx *x, int rc) {
  if (rc == CX_ENOTFOUND) return fail(x, rc, "no such entity");
  /* Dates in these requests are parsed here, so a CX_EDATE from query/ is the birth date of
   * an ID number: the code is invalid. */
  if (strcmp(cx_err_name(rc), "invalid_code") == 0 || rc == CX_EDATE)
    return fail(x, CX_EINVALCODE, "invalid code: %s", cx_strerror(rc));
  return fail(x, rc, "%s", cx_strerror(rc));
}

/* ===================================================================== audit */

/*
 * Every write is audited in its own write txn (cx_batch_audit). Queries about persons and
 * civil servants by a non-public role (entity, records, check) are queued on the loop's ring
 * and written by the flusher (net_int.h "query audit"); a full ring fails the request with
 * `busy` rather than answer without an audit line. Tokens never reach the log: `who` is the
 * token's name.
 */
static int audited_kind(int kind) { return kind == CX_KIND_PERSON || kind == CX_KIND_CIVIL_SERVANT; }

/* The writer's name: the door's (the CLI's "local:<user>"), else the token's. */
static const char *who_of(const cx_exec_ctx *x, char *buf, size_t cap) {
  if (x->who) return x->who;
  return cx__audit_who(cx_exec_tokens(x), x->token, buf, cap);
}

static int audit_query(cx_exec_ctx *x, int op, const char code[CX_CODE_LEN], int kind, const char *detail,
                       int64_t *now) {
  if (!x->audq || x->role == CX_ROLE_PUBLIC || !audited_kind(kind)) return 0;
  if (!*now) *now = cx_audit_now_ms();
  char wb[32];
  if (cx__audq_push(x->audq, *now, who_of(x, wb, sizeof wb), x->role, op, code, detail, x->peer))
    return fail(x, CX_EBUSY, "the audit queue is full: a query about a person cannot be audited "
                "now; retry shortly");
  return 0;
}

/* A lookup that found nothing is still a query about a person when the code is an ID number. */
static int audit_missing(cx_exec_ctx *x, int op, cx_str raw, const char *detail) {
  if (!x->audq || x->role == CX_ROLE_PUBLIC) return 0;
  char norm[CX_CODE_LEN + 1];
  int is_person = 0;
  if (cx_code_normalize(raw.p, raw.n, norm, &is_person) || !is_person) return 0;
  int64_t now = 0;
  return audit_query(x, op, norm, CX_KIND_PERSON, detail, &now);
}


/* Attaches the audit line of a write request to its batch (same txn as the change). */
static int audit_write(cx_exec_ctx *x, cx_batch *b, int op, cx_str target, cx_str detail) {
  char wb[32];
  cx_audit_entry e;
  memset(&e, 0, sizeof e);
  e.who = cx_str_c(who_of(x, wb, sizeof wb));
  e.role = cx_str_c(x->who_role ? x->who_role : x->role >= 0 && x->role < CX_ROLE_COUNT ? cx_role_names[x->role] : "");
  e.op = cx_str_c(cx_op_names[op]);
  e.target = target;
  e.detail = detail;
  e.client = cx_str_c(x->peer ? x->peer : "");
  int rc = cx_batch_audit(b, &e);
  return rc ? fail(x, rc, "cannot record the audit entry: %s", cx_strerror(rc)) : 0;
}

/* Commits a write's batch: through the door's hook when it has one (a replicated server
 * publishes it to the log and answers with its own store's application), else here. */
static int exec_commit(cx_exec_ctx *x, cx_batch *b, cx_batch_result *res) {
  return x->env->commit ? x->env->commit(x->env->ud, b, res) : cx_batch_commit(b, res);
}

/* The batch's actor: the one place write scopes are enforced (cx_batch_set_actor). */
static int set_actor(cx_exec_ctx *x, cx_batch *b) {
  char wb[32];
  const cx_tokens *toks = cx_exec_tokens(x);
  const cx_token *tk = x->token >= 0 && toks && (uint32_t)x->token < toks->n ? &toks->v[x->token] : NULL;
  cx_batch_actor a;
  memset(&a, 0, sizeof a);
  a.who = cx_str_c(who_of(x, wb, sizeof wb));
  a.role = cx_str_c(x->who_role ? x->who_role : x->role >= 0 && x->role < CX_ROLE_COUNT ? cx_role_names[x->role] : "");
  a.client = cx_str_c(x->peer ? x->peer : "");
  a.may_override = x->role == CX_ROLE_ADMIN;
  if (x->role != CX_ROLE_ADMIN) { /* admin is unscoped; a submitter writes for its authorities */
    static const char none[1][CX_CODE_LEN + 1] = {""};
    a.authorities = tk && tk->n_authorities ? (const char(*)[CX_CODE_LEN + 1])tk->authorities : none;
    a.n_authorities = tk ? tk->n_authorities : 0;
  }
  int rc = cx_batch_set_actor(b, &a);
  return rc ? fail(x, rc, "cannot set the batch's writer: %s", cx_strerror(rc)) : 0;
}

/* ===================================================================== ping, auth */

/* ping {} -> {"pong": true, "today": "YYYY-MM-DD", "protocol": "1.2"} */
static int op_ping(cx_exec_ctx *x, const cx_req *rq) {
  (void)rq;
  msgpack_pack_map(x->pk, 3);
  pk_key(x->pk, "pong");
  msgpack_pack_true(x->pk);
  pk_key(x->pk, "today");
  pk_day(x->pk, cx_day_today());
  pk_key(x->pk, "protocol");
  pk_str(x->pk, CX_PROTOCOL_VERSION);
  return 0;
}

/* auth {token} -> {"role": str}. A bad token keeps the current role. */
static int op_auth(cx_exec_ctx *x, const cx_req *rq) {
  cx_str tok;
  int rc = f_str(x, rq, "token", 1, &tok);
  if (rc < 0) return rc;
  const cx_tokens *toks = __atomic_load_n(&x->env->tokens, __ATOMIC_ACQUIRE); /* the current table */
  int i = toks ? cx_tokens_find(toks, tok) : CX_ENOTFOUND;
  if (i < 0) {
    /* stats auth.failed and a log line, never the token */
    if (x->env->auth_failed) x->env->auth_failed(x->env->ud, x->peer);
    return fail(x, CX_EFORBIDDEN, "unknown token");
  }
  x->role = toks->v[i].role;
  x->token = i;
  x->tokens = toks;
  msgpack_pack_map(x->pk, 1);
  pk_key(x->pk, "role");
  pk_str(x->pk, cx_role_names[x->role]);
  return 0;
}

/* ===================================================================== entity */

/* entity {code, as_of?} -> status map (see docs/protocol.md) */
static int op_entity(cx_exec_ctx *x, const cx_req *rq) {
  cx_str code;
  cx_day as_of;
  int rc;
  if ((rc = f_str(x, rq, "code", 1, &code)) < 0 || (rc = f_as_of(x, rq, &as_of)) < 0) return rc;
  cx_txn *t;
  if ((rc = txn(x, &t))) return rc;
  cx_entity_status es;
  rc = cx_query_entity(x->q, t, (cx_role)x->role, code, as_of, &es);
  if (rc) {
    int arc = rc == CX_ENOTFOUND ? audit_missing(x, CX_OP_ENTITY, code, "not_found") : 0;
    return arc ? arc : code_fail(x, rc);
  }
  int64_t now = 0;
  if (es.stored_code.n == CX_CODE_LEN && (rc = audit_query(x, CX_OP_ENTITY, es.stored_code.p, es.kind, "", &now)))
    return rc;
  msgpack_packer *pk = x->pk;
  int pub = x->role == CX_ROLE_PUBLIC;
  uint32_t ncat = 0;
  for (int c = 0; c < CX_CAT_COUNT; c++)
    if (pub ? es.counts[c].visible : es.counts[c].total) ncat++;
  msgpack_pack_map(pk, 14);
  pk_key(pk, "code"); pk_cx(pk, es.code);
  pk_key(pk, "name"); pk_cx(pk, es.name);
  pk_key(pk, "kind"); pk_enum(pk, cx_kind_names, CX_KIND_COUNT, es.kind);
  pk_key(pk, "region"); msgpack_pack_uint32(pk, es.region);
  pk_key(pk, "province"); pk_cx(pk, es.province);
  pk_key(pk, "city"); pk_cx(pk, es.city);
  pk_key(pk, "county"); pk_cx(pk, es.county);
  pk_key(pk, "region_until");
  if (es.region_until) msgpack_pack_uint16(pk, es.region_until);
  else msgpack_pack_nil(pk);
  pk_key(pk, "authority_code"); pk_cx(pk, es.authority_code);
  pk_key(pk, "authority_name"); pk_cx(pk, es.authority_name);
  /* The public role sees only what it may see: counts of displayable records. */
  pk_key(pk, "counts");
  msgpack_pack_map(pk, ncat);
  for (int c = 0; c < CX_CAT_COUNT; c++) {
    if (!(pub ? es.counts[c].visible : es.counts[c].total)) continue;
    pk_str(pk, cx_category_names[c]);
    if (pub) {
      msgpack_pack_map(pk, 1);
    } else {
      msgpack_pack_map(pk, 3);
      pk_key(pk, "total"); msgpack_pack_uint32(pk, es.counts[c].total);
      pk_key(pk, "in_force"); msgpack_pack_uint32(pk, es.counts[c].in_force);
    }
    pk_key(pk, "visible"); msgpack_pack_uint32(pk, es.counts[c].visible);
  }
  static const struct { uint32_t bit; const char *name; } flags[] = {
      {CX_EF_BLACKLISTED, "blacklisted"}, {CX_EF_UNDER_MEASURES, "under_measures"},
      {CX_EF_REDLISTED, "redlisted"}, {CX_EF_OBJECTION, "objection"}};
  uint32_t nfl = 0;
  for (size_t i = 0; i < 4; i++) nfl += (es.flags & flags[i].bit) != 0;
  pk_key(pk, "flags");
  msgpack_pack_array(pk, nfl);
  for (size_t i = 0; i < 4; i++)
    if (es.flags & flags[i].bit) pk_str(pk, flags[i].name);
  pk_key(pk, "last_update"); pk_day(pk, es.last_update);
  pk_key(pk, "as_of"); pk_day(pk, as_of);
  return 0;
}

/* ===================================================================== records */

typedef struct rec_ctx {
  cx_exec_ctx *x;
  uint32_t n;
} rec_ctx;

/* Packs "a,b,c" as ["a","b","c"]. */
static void pk_csv(msgpack_packer *pk, cx_str s) {
  uint32_t n = 0;
  for (uint32_t i = 0, st = 0; i <= s.n; i++)
    if (i == s.n || s.p[i] == ',') {
      if (i > st) n++;
      st = i + 1;
    }
  msgpack_pack_array(pk, n);
  for (uint32_t i = 0, st = 0; i <= s.n; i++)
    if (i == s.n || s.p[i] == ',') {
      if (i > st) msgpack_pack_str_with_body(pk, s.p + st, i - st);
      st = i + 1;
    }
}

static int count_extra(void *ctx, cx_str name, cx_str value) {
  (void)name, (void)value;
  (*(uint32_t *)ctx)++;
  return 0;
}
static int pack_extra(void *ctx, cx_str name, cx_str value) {
  msgpack_packer *pk = ctx;
  pk_cx(pk, name);
  pk_cx(pk, value);
  return 0;
}

static int rec_cb(void *ctx, const cx_record_view *v) {
  rec_ctx *c = ctx;
  msgpack_packer *pk = c->x->pk;
  const cx_record *r = v->r;
  if (c->x->out->over) return CX_ETOOLARGE; /* past the answer's limit: the rest is wasted work */
  c->n++;
  /* Extra fields of the source (legal representatives, other identifiers ...) are not for
   * the public: they may name persons. */
  uint32_t n_extra = 0;
  char scratch[CX_MAX_EXTRA];
  if (c->x->role != CX_ROLE_PUBLIC && r->extra.n &&
      cx_extra_each(r->extra, count_extra, &n_extra, scratch, sizeof scratch) < 0)
    n_extra = 0;
  msgpack_pack_map(pk, CX_RA_COUNT - 1 + (n_extra ? 1 : 0));
  for (int f = 0; f < CX_RA_COUNT; f++) {
    if (f == CX_RA_EXTRA && !n_extra) continue;
    pk_key(pk, cx_record_answer_fields[f].name);
    switch ((cx_record_answer)f) {
    case CX_RA_RECORD_ID: pk_cx(pk, r->record_id); break;
    case CX_RA_AUTHORITY_CODE: pk_cx(pk, r->authority_code); break;
    case CX_RA_AUTHORITY_NAME: pk_cx(pk, r->authority_name); break;
    case CX_RA_ENTITY_CODE: pk_cx(pk, r->entity_code); break;
    case CX_RA_ENTITY_NAME: pk_cx(pk, r->entity_name); break;
    case CX_RA_ENTITY_KIND: pk_enum(pk, cx_kind_names, CX_KIND_COUNT, r->entity_kind); break;
    case CX_RA_CATEGORY: pk_enum(pk, cx_category_names, CX_CAT_COUNT, r->category); break;
    case CX_RA_SUBTYPE: pk_enum(pk, cx_subtype_names, CX_SUB_COUNT, r->subtype); break;
    case CX_RA_DOMAIN: pk_enum(pk, cx_domain_names, CX_DOM_COUNT, r->domain); break;
    case CX_RA_SEVERITY: pk_enum(pk, cx_severity_names, CX_SEV_COUNT, r->severity); break;
    case CX_RA_STATUS: pk_enum(pk, cx_status_names, CX_ST_COUNT, r->status); break;
    case CX_RA_OBJECTION: pk_bool(pk, r->objection); break;
    case CX_RA_DECISION_DATE: pk_day(pk, r->decision_date); break;
    case CX_RA_REPORT_DATE: pk_day(pk, r->report_date); break;
    case CX_RA_REPORT_RECEIVED: pk_bool(pk, r->report_received); break;
    case CX_RA_VALID_FROM: pk_day(pk, r->valid_from); break;
    case CX_RA_VALID_UNTIL: pk_day(pk, r->valid_until); break;
    case CX_RA_DISPLAY_UNTIL: pk_day(pk, r->display_until); break;
    case CX_RA_AMOUNT_FEN: msgpack_pack_int64(pk, r->amount_fen); break;
    case CX_RA_LIST_TYPE: pk_cx(pk, r->list_type); break;
    case CX_RA_MEASURES: pk_csv(pk, r->measures); break;
    case CX_RA_BASIS: pk_cx(pk, r->basis); break;
    case CX_RA_CONTENT: pk_cx(pk, r->content); break;
    case CX_RA_REPORT_DELAY: msgpack_pack_int32(pk, r->report_delay); break;
    case CX_RA_ON_TIME: pk_bool(pk, r->on_time); break;
    case CX_RA_IN_FORCE: pk_bool(pk, v->in_force); break;
    case CX_RA_DISPLAYABLE: pk_bool(pk, v->displayable); break;
    case CX_RA_NEGATIVE:
      pk_bool(pk, cx_catalog_is_negative(cx_query_catalog(c->x->q), r->category, r->subtype));
      break;
    case CX_RA_EXTRA:
      msgpack_pack_map(pk, n_extra);
      cx_extra_each(r->extra, pack_extra, pk, scratch, sizeof scratch);
      break;
    case CX_RA_COUNT: break;
    }
  }
  return 0;
}

/* Writes an array32 header whose count is patched later (msgpack allows a wide header). */
static size_t pk_array_placeholder(cx_exec_ctx *x) {
  size_t at = x->out->len;
  static const unsigned char h[5] = {0xdd, 0, 0, 0, 0};
  cx_buf_append(x->out, h, 5);
  return at;
}
static void pk_array_patch(cx_exec_ctx *x, size_t at, uint32_t n) {
  if (at + 5 > x->out->len) return;
  unsigned char *p = (unsigned char *)x->out->p + at + 1;
  p[0] = (unsigned char)(n >> 24); p[1] = (unsigned char)(n >> 16);
  p[2] = (unsigned char)(n >> 8); p[3] = (unsigned char)n;
}

/* records {code, category?, cursor?, limit?, as_of?} -> {"records": [...], "next": cursor|nil} */
static int op_records(cx_exec_ctx *x, const cx_req *rq) {
  cx_records_req r = {.category = -1, .role = (cx_role)x->role};
  cx_str cat = {0};
  uint64_t limit = 20;
  int rc;
  if ((rc = f_str(x, rq, "code", 1, &r.code)) < 0 || (rc = f_str(x, rq, "cursor", 0, &r.cursor)) < 0 ||
      (rc = f_uint(x, rq, "limit", &limit)) < 0 || (rc = f_as_of(x, rq, &r.as_of)) < 0)
    return rc;
  if ((rc = f_str(x, rq, "category", 0, &cat)) < 0) return rc;
  if (rc == 1) {
    r.category = cx_enum_parse(cx_category_names, CX_CAT_COUNT, cat);
    char e[4 * 32 + 1];
    vlist l;
    if (r.category < 0)
      return fail(x, CX_EBADREQ, "unknown category \"%s\": expected one of %s", shown(cat, 32, e, sizeof e),
                  vlist_of(&l, cx_category_names, CX_CAT_COUNT));
  }
  if (limit < 1 || limit > 1000) return fail(x, CX_EBADREQ, "limit must be 1..1000");
  r.limit = (uint32_t)limit;
  cx_txn *t;
  if ((rc = txn(x, &t))) return rc;
  char next[CX_CURSOR_MAX];
  msgpack_pack_map(x->pk, 2);
  pk_key(x->pk, "records");
  size_t at = pk_array_placeholder(x);
  rec_ctx c = {x, 0};
  rc = cx_query_records(x->q, t, &r, rec_cb, &c, next);
  if (rc) {
    if (rc == CX_EBADREQ) return fail(x, rc, "bad cursor or request");
    int arc = rc == CX_ENOTFOUND ? audit_missing(x, CX_OP_RECORDS, r.code, "not_found") : 0;
    return arc ? arc : code_fail(x, rc);
  }
  if (x->audq && x->role != CX_ROLE_PUBLIC) { /* the entity's kind decides (one more lookup) */
    char norm[CX_CODE_LEN + 1], det[64];
    int is_person;
    cx_summary s;
    if (cx_code_normalize(r.code.p, r.code.n, norm, &is_person) == 0 &&
        cx_store_summary_get(t, norm, &s) == 0) {
      snprintf(det, sizeof det, "%s%s%s", r.category >= 0 ? "category=" : "",
               r.category >= 0 ? cx_category_names[r.category] : "", r.cursor.n ? " next_page" : "");
      int64_t now = 0;
      if ((rc = audit_query(x, CX_OP_RECORDS, norm, s.kind, det, &now))) return rc;
    }
  }
  pk_array_patch(x, at, c.n);
  pk_key(x->pk, "next");
  if (next[0]) pk_str(x->pk, next);
  else msgpack_pack_nil(x->pk);
  return 0;
}

/* ===================================================================== check */

/*
 * A hit is written in one go: its size bounded first (each string at most 5 header bytes), the
 * room taken once (pk_room), then keys (constant, header included) and values stored without
 * a check each: the room check per value was a third of op_check's own instructions.
 */
#define W_KEY(w, k) ((w)[0] = (char)(0xa0u | (sizeof(k) - 1)), memcpy((w) + 1, (k), sizeof(k) - 1), (w) += sizeof(k))
static inline __attribute__((always_inline)) char *w_str(char *w, const char *s, size_t n) {
  if (n <= 31) {
    *w++ = (char)(0xa0u | (unsigned)n);
  } else if (n <= 0xff) {
    *w++ = (char)0xd9;
    *w++ = (char)n;
  } else if (n <= 0xffff) {
    *w++ = (char)0xda;
    *w++ = (char)(n >> 8);
    *w++ = (char)n;
  } else {
    *w++ = (char)0xdb;
    *w++ = (char)(n >> 24);
    *w++ = (char)(n >> 16);
    *w++ = (char)(n >> 8);
    *w++ = (char)n;
  }
  if (n) memcpy(w, s, n);
  return w + n;
}
static inline size_t enum_len(const char *const *names, int n, unsigned v) {
  return (int)v < n && names[v] ? strlen(names[v]) : 0;
}
/* An enum's name, nil when out of range (as pk_enum). */
static inline char *w_enum(char *w, const char *const *names, int n, unsigned v, size_t len) {
  if ((int)v < n && names[v]) return w_str(w, names[v], len);
  *w++ = (char)0xc0;
  return w;
}
/* A date, nil for unset and open (as pk_day). */
static inline char *w_day(char *w, msgpack_packer *pk, cx_day d) {
  if (d == CX_DAY_NONE || d == CX_DAY_OPEN) {
    *w++ = (char)0xc0;
    return w;
  }
  cx_buf *b = pk->data;
  size_t at = (size_t)(w - b->p);
  size_t len0 = b->len;
  b->len = at; /* pk_day writes at the buffer's end: here (room for 11 bytes was taken) */
  pk_day(pk, d);
  w = b->p + b->len;
  b->len = len0;
  return w;
}
/* Bytes of a hit's strings (the rest is bounded by the constant below). */
static inline size_t hit_var(const cx_check_hit *h, size_t *ln) {
  ln[0] = h->record_id.n;
  ln[1] = h->authority_code.n;
  ln[2] = enum_len(cx_category_names, CX_CAT_COUNT, h->category);
  ln[3] = h->list_type ? strlen(h->list_type) : 0;
  ln[4] = h->measure ? strlen(h->measure) : 0;
  ln[5] = h->measure_name ? strlen(h->measure_name) : 0;
  ln[6] = enum_len(cx_effect_names, 3, h->effect);
  return ln[0] + ln[1] + ln[2] + ln[3] + ln[4] + ln[5] + ln[6];
}
/* the map header (1), the keys with their headers (100), 7 string headers (5 each), 2 dates
 * (11 each) and a boolean (1): 159 */
#define HIT_FIXED 160u

static void pk_hit(cx_exec_ctx *x, const cx_check_hit *h) {
  msgpack_packer *pk = x->pk;
  size_t ln[7];
  size_t need = HIT_FIXED + hit_var(h, ln);
  char *w = pk->callback == cx_buf_msgpack_write ? pk_room(pk, need) : NULL;
  if (!w) {
    if (pk->callback == cx_buf_msgpack_write) return; /* the buffer is over or failed: dropped */
    pk_map(pk, 10);
    pk_key(pk, "record_id"); pk_cx(pk, h->record_id);
    pk_key(pk, "authority"); pk_cx(pk, h->authority_code);
    pk_key(pk, "category"); pk_enum(pk, cx_category_names, CX_CAT_COUNT, h->category);
    pk_key(pk, "list_type"); pk_str(pk, h->list_type);
    pk_key(pk, "measure"); pk_str(pk, h->measure);
    pk_key(pk, "measure_name"); pk_str(pk, h->measure_name);
    pk_key(pk, "effect"); pk_enum(pk, cx_effect_names, 3, h->effect);
    pk_key(pk, "valid_from"); pk_day(pk, h->valid_from);
    pk_key(pk, "valid_until"); pk_day(pk, h->valid_until);
    pk_key(pk, "objection"); pk_bool(pk, h->objection);
    return;
  }
  *w++ = (char)0x8a; /* a map of 10 */
  W_KEY(w, "record_id"); w = w_str(w, h->record_id.p, ln[0]);
  W_KEY(w, "authority"); w = w_str(w, h->authority_code.p, ln[1]);
  W_KEY(w, "category"); w = w_enum(w, cx_category_names, CX_CAT_COUNT, h->category, ln[2]);
  W_KEY(w, "list_type"); w = w_str(w, h->list_type, ln[3]);
  W_KEY(w, "measure"); w = w_str(w, h->measure, ln[4]);
  W_KEY(w, "measure_name"); w = w_str(w, h->measure_name, ln[5]);
  W_KEY(w, "effect"); w = w_enum(w, cx_effect_names, 3, h->effect, ln[6]);
  W_KEY(w, "valid_from"); w = w_day(w, pk, h->valid_from);
  W_KEY(w, "valid_until"); w = w_day(w, pk, h->valid_until);
  W_KEY(w, "objection"); *w++ = h->objection ? (char)0xc3 : (char)0xc2;
  ((cx_buf *)pk->data)->len = (size_t)(w - ((cx_buf *)pk->data)->p);
}

/* An approval hint: {record_id, authority, category, severity, decision_date, display_end,
 * reasons: ["tier"|"fine"..], objection, advisory: true}. */
static void pk_advisory(cx_exec_ctx *x, const cx_check_hit *h) {
  msgpack_packer *pk = x->pk;
  pk_map(pk, 9);
  pk_key(pk, "record_id"); pk_cx(pk, h->record_id);
  pk_key(pk, "authority"); pk_cx(pk, h->authority_code);
  pk_key(pk, "category"); pk_enum(pk, cx_category_names, CX_CAT_COUNT, h->category);
  pk_key(pk, "severity"); pk_enum(pk, cx_severity_names, CX_SEV_COUNT, h->severity);
  pk_key(pk, "decision_date"); pk_day(pk, h->valid_from);
  pk_key(pk, "display_end"); pk_day(pk, h->valid_until);
  pk_key(pk, "reasons");
  int tier = (h->advisory & CX_ADV_TIER) != 0, fine = (h->advisory & CX_ADV_FINE) != 0;
  pk_arr(pk, (uint32_t)(tier + fine));
  if (tier) pk_str(pk, "tier");
  if (fine) pk_str(pk, "fine");
  pk_key(pk, "objection"); pk_bool(pk, h->objection);
  pk_key(pk, "advisory"); pk_bool(pk, 1);
}

/* check {codes: [str..1000], action, as_of?}
 *   -> {"results": [{code, verdict, hits, advisory, incentives, receipt}]} */
static int op_check(cx_exec_ctx *x, const cx_req *rq) {
  cx_str action;
  cx_day as_of;
  cx_mp codes;
  int rc;
  if ((rc = f_str(x, rq, "action", 1, &action)) < 0 || (rc = f_as_of(x, rq, &as_of)) < 0) return rc;
  if (!cx_req_field(rq, "codes", &codes)) return fail(x, CX_EBADREQ, "missing field \"codes\"");
  uint32_t n;
  if (cx_mp_read_array(&codes, &n)) return fail(x, CX_EBADREQ, "field \"codes\" must be an array");
  uint32_t max_codes = x->env->lim.check_codes < CX_NET_MAX_CHECK_CODES ? x->env->lim.check_codes
                                                                          : CX_NET_MAX_CHECK_CODES;
  if (n > max_codes)
    return fail(x, CX_ETOOLARGE, "%u codes in one check (at most %u)", n, max_codes);
  int act = cx_query_action(x->q, action);
  char e[4 * 32 + 1];
  vlist l;
  if (act < 0)
    return fail(x, CX_EBADREQ, "unknown action \"%s\": expected one of %s", shown(action, 32, e, sizeof e),
                vlist_actions(&l, cx_query_catalog(x->q)));
  cx_txn *t;
  if ((rc = txn(x, &t))) return rc;
  int64_t now = 0;
  msgpack_packer *pk = x->pk;
  pk_map(pk, 3);
  pk_key(pk, "action"); pk_cx(pk, action);
  pk_key(pk, "as_of"); pk_day(pk, as_of);
  pk_key(pk, "results");
  pk_arr(pk, n);
  /* Each distinct code is answered once: a repeat gets its verdict and "same_as" (the index
   * of its first occurrence), not its hits again. The table of codes seen lives on the stack
   * (no allocation on the check path); one code needs none of it. */
  char seen[CX_NET_MAX_CHECK_CODES][CX_CODE_LEN];
  uint8_t seen_verdict[CX_NET_MAX_CHECK_CODES];
  uint16_t seen_at[CX_NET_MAX_CHECK_CODES];
  char who_buf[32];
  const char *who = x->audq ? cx__audit_who(cx_exec_tokens(x), x->token, who_buf, sizeof who_buf) : "";
  cx_day today = cx_day_today();
  const int log_on = cx__audq_checks_on(x->audq); /* else no entry to build, no receipt */
  uint16_t slot[2048]; /* open addressing over seen[]: index + 1, 0 = empty */
  uint32_t n_seen = 0, hits_left = x->env->lim.check_hits < CX_NET_MAX_CHECK_HITS ? x->env->lim.check_hits : CX_NET_MAX_CHECK_HITS;
  if (n > 1) memset(slot, 0, sizeof slot);
  for (uint32_t i = 0; i < n; i++) {
    cx_str code;
    if (cx_mp_read_str(&codes, &code)) return fail(x, CX_EBADREQ, "codes[%u] must be a string", i);
    cx_check_result res;
    char norm[CX_CODE_LEN + 1];
    int is_person = 0;
    if (n > 1 && cx_code_normalize(code.p, code.n, norm, &is_person) == 0) {
      uint32_t h = 2166136261u;
      for (int k = 0; k < CX_CODE_LEN; k++) h = (h ^ (unsigned char)norm[k]) * 16777619u;
      uint32_t j = h & 2047u;
      while (slot[j] && memcmp(seen[slot[j] - 1], norm, CX_CODE_LEN) != 0) j = (j + 1) & 2047u;
      if (slot[j]) { /* a repeat */
        uint32_t k = slot[j] - 1u;
        pk_map(pk, 3); /* its receipt is that of result same_as */
        char sh[CX_CODE_TEXT_MAX];
        pk_key(pk, "code"); msgpack_pack_str_with_body(pk, sh, cx_code_format(norm, sh));
        pk_key(pk, "verdict"); pk_enum(pk, cx_verdict_names, CX_V_COUNT, seen_verdict[k]);
        pk_key(pk, "same_as"); msgpack_pack_uint32(pk, seen_at[k]);
        continue;
      }
      memcpy(seen[n_seen], norm, CX_CODE_LEN);
      seen_at[n_seen] = (uint16_t)i;
      slot[j] = (uint16_t)(++n_seen);
    }
    rc = cx_query_check(x->q, t, code, act, as_of, &res, x->hits, hits_left < x->hits_cap ? hits_left : x->hits_cap);
    if (rc) return fail(x, rc, "check failed: %s", cx_strerror(rc));
    if (n > 1 && res.code[0] && n_seen && memcmp(seen[n_seen - 1], res.code, CX_CODE_LEN) == 0)
      seen_verdict[n_seen - 1] = res.verdict;
    hits_left -= res.n_hits;
    if (x->audq && audited_kind(res.kind)) { /* persons, civil servants: cheap test first */
      char det[CX_NET_AUDIT_DETAIL];
      snprintf(det, sizeof det, "action=%.*s verdict=%s", (int)(action.n > 24 ? 24 : action.n), action.p,
               cx_verdict_names[res.verdict]);
      if ((rc = audit_query(x, CX_OP_CHECK, res.code, res.kind, det, &now))) return rc;
    }
    uint32_t nd = 0, ni = 0, na = 0;
    for (uint32_t h = 0; h < res.n_hits; h++) {
      if (x->hits[h].advisory) na++;
      else if (x->hits[h].effect == CX_EFFECT_INCENTIVE) ni++;
      else nd++;
    }
    int more = res.n_total > res.n_hits;
    int inval = res.verdict == CX_V_INVALID_CODE;
    /* The check log (a server's: x->audq): one entry per entity answered, its receipt in the
     * answer. Queued on the loop's ring, written by the flusher (net_int.h "check log"). */
    uint64_t receipt = 0;
    if (log_on && !inval) {
      cx_check_entry ce;
      memset(&ce, 0, sizeof ce);
      if (!now) now = cx_audit_now_ms();
      ce.time_ms = now;
      ce.day = today;
      ce.who = cx_str_c(who);
      ce.action = (uint8_t)act;
      ce.verdict = res.verdict;
      ce.kind = res.kind;
      ce.n_restrict = (uint16_t)(nd > 0xFFFF ? 0xFFFF : nd);
      ce.n_advisory = (uint16_t)(res.n_advisory > 0xFFFF ? 0xFFFF : res.n_advisory);
      ce.region = res.region;
      for (uint32_t h = 0; h < res.n_hits && !ce.authority_id; h++)
        if (!x->hits[h].advisory && x->hits[h].effect != CX_EFFECT_INCENTIVE) ce.authority_id = x->hits[h].authority_id;
      memcpy(ce.code, res.code, CX_CODE_LEN);
      if ((rc = cx__audq_check(x->audq, &ce, &receipt)))
        return fail(x, CX_EBUSY, "the check log's queue is full: no receipt can be kept; retry shortly");
    }
    /* the result's head in one room (as pk_hit): map, receipt, code, verdict, "hits" */
    char rb[CX_RECEIPT_LEN + 1], ce[4 * 64 + 1];
    if (receipt) cx_query_receipt_format(x->q, receipt, rb);
    const char *cs = res.code[0] ? res.shown : shown(code, 64, ce, sizeof ce); /* else the client's bytes, escaped */
    size_t csn = strlen(cs), vn = enum_len(cx_verdict_names, CX_V_COUNT, res.verdict);
    /* map 1, receipt 8 + 33, code 5 + 5, verdict 8 + 5, hits 5 + 5 */
    char *w = pk->callback == cx_buf_msgpack_write ? pk_room(pk, 75 + csn + vn) : NULL;
    if (w) {
      *w++ = (char)(0x80u | (unsigned)(5 + more + inval + (receipt != 0)));
      if (receipt) {
        W_KEY(w, "receipt");
        w = w_str(w, rb, CX_RECEIPT_LEN);
      }
      W_KEY(w, "code"); w = w_str(w, cs, csn);
      W_KEY(w, "verdict"); w = w_enum(w, cx_verdict_names, CX_V_COUNT, res.verdict, vn);
      W_KEY(w, "hits");
      if (nd <= 15) {
        *w++ = (char)(0x90u | nd);
        ((cx_buf *)pk->data)->len = (size_t)(w - ((cx_buf *)pk->data)->p);
      } else {
        ((cx_buf *)pk->data)->len = (size_t)(w - ((cx_buf *)pk->data)->p);
        pk_arr(pk, nd);
      }
    } else {
      pk_map(pk, 5 + more + inval + (receipt != 0));
      if (receipt) pk_key(pk, "receipt"), pk_str(pk, rb);
      pk_key(pk, "code"); pk_strn(pk, cs, csn);
      pk_key(pk, "verdict"); pk_enum(pk, cx_verdict_names, CX_V_COUNT, res.verdict);
      pk_key(pk, "hits");
      pk_arr(pk, nd);
    }
    for (uint32_t h = 0; h < res.n_hits; h++)
      if (!x->hits[h].advisory && x->hits[h].effect != CX_EFFECT_INCENTIVE) pk_hit(x, &x->hits[h]);
    pk_key(pk, "advisory");
    pk_arr(pk, na);
    for (uint32_t h = 0; h < res.n_hits; h++)
      if (x->hits[h].advisory) pk_advisory(x, &x->hits[h]);
    pk_key(pk, "incentives");
    pk_arr(pk, ni);
    for (uint32_t h = 0; h < res.n_hits; h++)
      if (!x->hits[h].advisory && x->hits[h].effect == CX_EFFECT_INCENTIVE) pk_hit(x, &x->hits[h]);
    if (more) {
      pk_key(pk, "more");
      msgpack_pack_uint32(pk, res.n_total - res.n_hits);
    }
    if (inval) {
      pk_key(pk, "reason");
      pk_str(pk, cx_strerror(res.code_err ? res.code_err : CX_EINVALCODE));
    }
  }
  return 0;
}

/* ===================================================================== search */

typedef struct search_ctx {
  cx_exec_ctx *x;
  uint32_t n;
  int64_t now;
} search_ctx;

static int search_cb(void *ctx, const cx_search_hit *h) {
  search_ctx *c = ctx;
  msgpack_packer *pk = c->x->pk;
  /* Each person a non-public role finds is a query about that person: audited like entity. */
  if (audited_kind(h->kind) && h->stored_code.n == CX_CODE_LEN) {
    int rc = audit_query(c->x, CX_OP_SEARCH, h->stored_code.p, h->kind, "", &c->now);
    if (rc) return rc;
  }
  c->n++;
  msgpack_pack_map(pk, 9);
  pk_key(pk, "code"); pk_cx(pk, h->code);
  pk_key(pk, "name"); pk_cx(pk, h->name);
  pk_key(pk, "kind"); pk_enum(pk, cx_kind_names, CX_KIND_COUNT, h->kind);
  pk_key(pk, "match"); pk_enum(pk, cx_match_names, CX_MATCH_COUNT, h->match);
  pk_key(pk, "region"); msgpack_pack_uint32(pk, h->region);
  pk_key(pk, "province"); pk_cx(pk, h->province);
  pk_key(pk, "city"); pk_cx(pk, h->city);
  pk_key(pk, "county"); pk_cx(pk, h->county);
  uint32_t nfl = 0;
  for (int i = 0; i < CX_EF_COUNT; i++) nfl += (h->flags >> i) & 1u;
  pk_key(pk, "flags");
  msgpack_pack_array(pk, nfl);
  for (int i = 0; i < CX_EF_COUNT; i++)
    if ((h->flags >> i) & 1u) pk_str(pk, cx_entity_flag_names[i]);
  return 0;
}

/* search {prefix, cursor?, limit?} -> {"results": [{code, name, kind, match, region, province,
 * city, county, flags}], "next": cursor (only when there is a next page)} */
static int op_search(cx_exec_ctx *x, const cx_req *rq) {
  cx_search_req r = {.role = (cx_role)x->role};
  uint64_t limit = CX_SEARCH_DEFAULT_LIMIT;
  int rc;
  if ((rc = f_str(x, rq, "prefix", 1, &r.q)) < 0 || (rc = f_str(x, rq, "cursor", 0, &r.cursor)) < 0 ||
      (rc = f_uint(x, rq, "limit", &limit)) < 0)
    return rc;
  if (limit < 1 || limit > CX_SEARCH_MAX_LIMIT) return fail(x, CX_EBADREQ, "limit must be 1..100");
  if (r.q.n == 0) return fail(x, CX_EBADREQ, "empty prefix");
  r.limit = (uint32_t)limit;
  cx_txn *t;
  if ((rc = txn(x, &t))) return rc;
  /* "next" is there only when there is a next page, known after the search: the map header
   * (a one-byte fixmap) is patched to one entry on the last page. */
  size_t map_at = x->out->len;
  msgpack_pack_map(x->pk, 2);
  pk_key(x->pk, "results");
  size_t at = pk_array_placeholder(x);
  search_ctx c = {x, 0, 0};
  char next[CX_SEARCH_CURSOR_MAX];
  rc = cx_query_search_page(x->q, t, &r, search_cb, &c, next);
  if (rc == CX_EBUSY) return rc; /* audit_query said why */
  if (rc == CX_EBADREQ)
    return fail(x, rc, r.cursor.n ? "bad cursor (not one of this query's)"
                                  : "prefix is neither a name nor the start of a code");
  if (rc) return fail(x, rc, "search failed: %s", cx_strerror(rc));
  pk_array_patch(x, at, c.n);
  if (next[0]) {
    pk_key(x->pk, "next");
    pk_str(x->pk, next);
  } else if (map_at < x->out->len) {
    ((unsigned char *)x->out->p)[map_at] = 0x81;
  }
  return 0;
}

/* ===================================================================== catalog */

static void pk_mask_codes(msgpack_packer *pk, uint64_t mask, uint32_t n, const char *(*code)(const cx_catalog *, uint32_t),
                          const cx_catalog *c) {
  uint32_t k = 0;
  for (uint32_t i = 0; i < n && i < 64; i++) k += (mask >> i) & 1u;
  msgpack_pack_array(pk, k);
  for (uint32_t i = 0; i < n && i < 64; i++)
    if ((mask >> i) & 1u) pk_str(pk, code(c, i));
}
static const char *action_code(const cx_catalog *c, uint32_t i) { return c->actions[i].code; }
static const char *measure_code(const cx_catalog *c, uint32_t i) { return c->measures[i].code; }

/*
 * catalog {} -> {"actions": [{code, name}], "lists": [{code, name, category, measures}],
 *               "measures": [{code, name, effect, actions, basis, edition}], "categories": [names],
 *               "display": [{tier, publish, min_months, max_months}],
 *               "labels": {kind: {code: name}}}
 * The catalogue this server's query context holds (data/catalog.tsv or `load-catalog`), so that
 * integrators need not hard-code action, list and measure codes.
 */
static int op_catalog(cx_exec_ctx *x, const cx_req *rq) {
  (void)rq;
  const cx_catalog *c = cx_query_catalog(x->q);
  msgpack_packer *pk = x->pk;
  msgpack_pack_map(pk, 6);
  pk_key(pk, "actions");
  msgpack_pack_array(pk, c->n_actions);
  for (uint32_t i = 0; i < c->n_actions; i++) {
    msgpack_pack_map(pk, 2);
    pk_key(pk, "code"); pk_str(pk, c->actions[i].code);
    pk_key(pk, "name"); pk_str(pk, c->actions[i].name);
  }
  pk_key(pk, "lists");
  msgpack_pack_array(pk, c->n_lists);
  for (uint32_t i = 0; i < c->n_lists; i++) {
    msgpack_pack_map(pk, 4);
    pk_key(pk, "code"); pk_str(pk, c->lists[i].code);
    pk_key(pk, "name"); pk_str(pk, c->lists[i].name);
    pk_key(pk, "category"); pk_enum(pk, cx_category_names, CX_CAT_COUNT, c->lists[i].category);
    pk_key(pk, "measures"); pk_mask_codes(pk, c->lists[i].defaults, c->n_measures, measure_code, c);
  }
  pk_key(pk, "measures");
  msgpack_pack_array(pk, c->n_measures);
  for (uint32_t i = 0; i < c->n_measures; i++) {
    cx_catalog_provenance pv;
    memset(&pv, 0, sizeof pv);
    int have = cx_catalog_provenance_get(c, (int)i, &pv) == 0;
    msgpack_pack_map(pk, 6);
    pk_key(pk, "code"); pk_str(pk, c->measures[i].code);
    pk_key(pk, "name"); pk_str(pk, c->measures[i].name);
    pk_key(pk, "effect"); pk_enum(pk, cx_effect_names, 3, c->measures[i].effect);
    pk_key(pk, "actions"); pk_mask_codes(pk, c->measures[i].actions, c->n_actions, action_code, c);
    /* where the measure comes from: its legal basis, and the edition (and item) of the
     * 全国失信惩戒措施基础清单 it follows; "" / nil when the catalogue line gives none */
    pk_key(pk, "basis"); pk_str(pk, have ? pv.basis : "");
    pk_key(pk, "edition");
    if (have && pv.edition_code[0]) {
      msgpack_pack_map(pk, 4);
      pk_key(pk, "code"); pk_str(pk, pv.edition_code);
      pk_key(pk, "title"); pk_str(pk, pv.edition_title);
      pk_key(pk, "document"); pk_str(pk, pv.edition_doc);
      pk_key(pk, "item"); pk_str(pk, pv.item);
    } else {
      msgpack_pack_nil(pk);
    }
  }
  pk_key(pk, "categories");
  msgpack_pack_array(pk, CX_CAT_COUNT);
  for (int i = 0; i < CX_CAT_COUNT; i++) pk_str(pk, cx_category_names[i]);
  pk_key(pk, "display");
  msgpack_pack_array(pk, CX_SEV_COUNT);
  for (int i = 0; i < CX_SEV_COUNT; i++) {
    msgpack_pack_map(pk, 4);
    pk_key(pk, "tier"); pk_str(pk, cx_severity_names[i]);
    pk_key(pk, "publish");
    if (c->display[i].publish) msgpack_pack_true(pk); else msgpack_pack_false(pk);
    pk_key(pk, "min_months"); msgpack_pack_uint32(pk, c->display[i].min_months);
    pk_key(pk, "max_months"); msgpack_pack_uint32(pk, c->display[i].max_months);
  }
  /* the Chinese names of the record enums the catalogue's `label` lines give (codes without
   * one are left out: a door shows the code) */
  pk_key(pk, "labels");
  msgpack_pack_map(pk, CX_LABEL_KINDS);
  for (int k = 0; k < CX_LABEL_KINDS; k++) {
    int n;
    const char *const *tab = cx_label_table(k, &n);
    uint32_t named = 0;
    for (int v = 0; v < n; v++) named += cx_catalog_label(c, k, (unsigned)v)[0] != 0;
    pk_key(pk, cx_label_kind_names[k]);
    msgpack_pack_map(pk, named);
    for (int v = 0; v < n; v++) {
      const char *name = cx_catalog_label(c, k, (unsigned)v);
      if (!name[0]) continue;
      pk_key(pk, tab[v]);
      pk_str(pk, name);
    }
  }
  return 0;
}

/* ===================================================================== stats */

static int op_stats(cx_exec_ctx *x, const cx_req *rq) {
  (void)rq;
  if (x->env->pack_stats) x->env->pack_stats(x->env->ud, x->pk);
  else {
    msgpack_pack_map(x->pk, 2);
    pk_key(x->pk, "protocol");
    pk_str(x->pk, CX_PROTOCOL_VERSION);
    pk_key(x->pk, "store");
    cx_exec_pack_store_stats(x->env->st, x->pk);
  }
  return 0;
}

/* ===================================================================== aggregate */

static int dim_by_name(cx_str s) { return cx_enum_parse(cx_dim_names, CX_DIM_COUNT, s); }
static int metric_by_name(cx_str s) { return cx_enum_parse(cx_metric_names, CX_M_COUNT_, s); }

/* A filter or group value: str, or an integer (formatted, then parsed like a string). */
/* One value of where.<dim> into filter f: a code, or for the region dimensions a name, which
 * may stand for several codes (重庆市: 5001, 5002). */
static int read_dim_value(cx_exec_ctx *x, cx_txn *t, int dim, cx_mp *v, cx_agg_filter *f) {
  cx_str s;
  char nb[24];
  int64_t iv;
  if (cx_mp_peek(v) == CX_MP_STR) {
    cx_mp_read_str(v, &s);
  } else if (cx_mp_read_int(v, &iv) == 0) {
    int k = snprintf(nb, sizeof nb, "%" PRId64, iv);
    s = (cx_str){nb, (uint32_t)k};
  } else {
    return fail(x, CX_EBADREQ, "where.%s: values must be strings", cx_dim_names[dim]);
  }
  uint32_t vals[8], n = 0;
  int rc = cx_query_dim_parse_all(x->q, t, (cx_dim)dim, s, vals, 8, &n);
  char e[4 * 48 + 1];
  if (rc == CX_EEXIST) {
    char codes[96] = "";
    for (uint32_t i = 0, o = 0; i < n && o < sizeof codes - 8; i++)
      o += (uint32_t)snprintf(codes + o, sizeof codes - o, "%s%06u", i ? ", " : "", vals[i]);
    return fail(x, CX_EBADREQ, "where.%s: \"%s\" names several counties (%s%s): give the code, or the "
                "city's name before it", cx_dim_names[dim], shown(s, 48, e, sizeof e), codes, n == 8 ? ", ..." : "");
  }
  if (rc == CX_EBADREQ || rc == CX_ETOOLARGE)
    return fail(x, CX_EBADREQ, "where.%s: expected %s, got \"%s\"", cx_dim_names[dim],
                cx_query_dim_expected((cx_dim)dim), shown(s, 48, e, sizeof e));
  if (rc) return fail(x, rc, "where.%s: %s", cx_dim_names[dim], cx_strerror(rc));
  for (uint32_t i = 0; i < n; i++) {
    if (f->n >= CX_AGG_MAX_FILTER_VALUES)
      return fail(x, CX_EBADREQ, "where.%s: 1..%d values", cx_dim_names[dim], CX_AGG_MAX_FILTER_VALUES);
    f->vals[f->n++] = vals[i];
  }
  return 0;
}

static int metric_is_int(int m) {
  return m == CX_M_COUNT || m == CX_M_AMOUNT || m == CX_M_IN_FORCE || m == CX_M_ON_TIME ||
         m == CX_M_REPAIRED;
}

/*
 * aggregate {by: [dim], where: {dim: [values]}, from?, to?, metrics?: [metric], order?: name,
 *            desc?: bool, limit?: uint, as_of?}
 * -> {"columns": [names], "rows": [[values]], "codes": [[group codes]], "from_rollup": bool,
 *     "scanned": uint, "provisional": uint}
 */
static int op_aggregate_checks(cx_exec_ctx *x, const cx_req *rq);
static int op_aggregate(cx_exec_ctx *x, const cx_req *rq) {
  cx_str of;
  int orc = f_str(x, rq, "of", 0, &of);
  if (orc < 0) return orc;
  if (orc == 1 && cx_str_eq(of, CX_STR("checks"))) return op_aggregate_checks(x, rq);
  if (orc == 1 && !cx_str_eq(of, CX_STR("records")))
    return fail(x, CX_EBADREQ, "of must be records or checks");
  cx_agg_spec sp;
  memset(&sp, 0, sizeof sp);
  sp.order = -1;
  int rc;
  cx_mp v;
  cx_txn *t;
  if ((rc = txn(x, &t))) return rc;
  if (cx_req_field(rq, "by", &v)) {
    uint32_t n;
    if (cx_mp_read_array(&v, &n)) return fail(x, CX_EBADREQ, "field \"by\" must be an array of dimensions");
    if (n > CX_DIM_COUNT) return fail(x, CX_EBADREQ, "too many dimensions in \"by\"");
    for (uint32_t i = 0; i < n; i++) {
      cx_str s;
      int d;
      if (cx_mp_read_str(&v, &s) || (d = dim_by_name(s)) < 0)
        return fail(x, CX_EBADREQ, "by[%u]: not a dimension (province city county authority "
                    "category subtype domain severity kind status year quarter month)", i);
      sp.group[sp.n_group++] = (uint8_t)d;
    }
  }
  if (cx_req_field(rq, "where", &v)) {
    uint32_t n;
    if (cx_mp_read_map(&v, &n)) return fail(x, CX_EBADREQ, "field \"where\" must be a map");
    if (n > CX_DIM_COUNT) return fail(x, CX_EBADREQ, "too many filters in \"where\"");
    for (uint32_t i = 0; i < n; i++) {
      cx_str s;
      int d;
      if (cx_mp_read_str(&v, &s) || (d = dim_by_name(s)) < 0) {
        vlist l;
        return fail(x, CX_EBADREQ, "where: key %u is not a dimension (%s)", i, vlist_of(&l, cx_dim_names, CX_DIM_COUNT));
      }
      cx_agg_filter *f = &sp.filters[sp.n_filters++];
      f->dim = (uint8_t)d;
      uint32_t nv = 1;
      int is_arr = cx_mp_peek(&v) == CX_MP_ARRAY;
      if (is_arr) cx_mp_read_array(&v, &nv);
      if (nv == 0 || nv > CX_AGG_MAX_FILTER_VALUES)
        return fail(x, CX_EBADREQ, "where.%s: 1..%d values", cx_dim_names[d], CX_AGG_MAX_FILTER_VALUES);
      for (uint32_t k = 0; k < nv; k++)
        if ((rc = read_dim_value(x, t, d, &v, f))) return rc;
    }
  }
  if ((rc = f_day(x, rq, "from", &sp.from)) < 0 || (rc = f_day(x, rq, "to", &sp.to)) < 0 ||
      (rc = f_as_of(x, rq, &sp.as_of)) < 0)
    return rc;
  if (cx_req_field(rq, "metrics", &v)) {
    uint32_t n;
    if (cx_mp_read_array(&v, &n)) return fail(x, CX_EBADREQ, "field \"metrics\" must be an array");
    if (n > CX_M_COUNT_) return fail(x, CX_EBADREQ, "too many metrics");
    for (uint32_t i = 0; i < n; i++) {
      cx_str s;
      int m;
      if (cx_mp_read_str(&v, &s) || (m = metric_by_name(s)) < 0)
        return fail(x, CX_EBADREQ, "metrics[%u]: not a metric (count amount in_force on_time "
                    "on_time_rate report_delay repaired loss_rate kept_rate)", i);
      sp.metrics[sp.n_metrics++] = (uint8_t)m;
    }
  }
  if (!sp.n_metrics) sp.metrics[sp.n_metrics++] = CX_M_COUNT;
  cx_str order;
  if ((rc = f_str(x, rq, "order", 0, &order)) < 0) return rc;
  if (rc == 1) {
    for (int i = 0; i < sp.n_group && sp.order < 0; i++)
      if (cx_str_eq(order, cx_str_c(cx_dim_names[sp.group[i]]))) sp.order = i;
    for (int i = 0; i < sp.n_metrics && sp.order < 0; i++)
      if (cx_str_eq(order, cx_str_c(cx_metric_names[sp.metrics[i]]))) sp.order = sp.n_group + i;
    if (sp.order < 0) return fail(x, CX_EBADREQ, "order must name a column of by or metrics");
  }
  int desc = 0;
  uint64_t limit = 0;
  if ((rc = f_bool(x, rq, "desc", &desc)) < 0 || (rc = f_uint(x, rq, "limit", &limit)) < 0) return rc;
  sp.desc = desc;
  sp.limit = limit > UINT32_MAX ? UINT32_MAX : (uint32_t)limit;
  int scan = 0;
  if ((rc = f_bool(x, rq, "scan", &scan)) < 0) return rc;
  sp.force_scan = scan;

  sp.max_groups = x->env->lim.agg_groups;
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  sp.deadline_ns = (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec + (uint64_t)x->env->lim.agg_time_ms * 1000000u;
  sp.cancel = x->cancel;
  cx_agg_result res;
  memset(&res, 0, sizeof res);
  rc = cx_query_aggregate(x->q, t, (cx_role)x->role, &sp, &res);
  if (rc == CX_EBADREQ) return fail(x, rc, "aggregate request rejected (check dimensions, filters, dates)");
  if (rc == CX_ETOOLARGE)
    return fail(x, rc, "more than %u groups: group by fewer dimensions or filter", x->env->lim.agg_groups);
  if (rc == CX_ETIMEOUT) return fail(x, rc, "the aggregate ran past its %u s budget: filter more", x->env->lim.agg_time_ms / 1000);
  if (rc) return fail(x, rc, "aggregate failed: %s", cx_strerror(rc));
  size_t start = x->out->len;
  msgpack_packer *pk = x->pk;
  msgpack_pack_map(pk, 6);
  pk_key(pk, "columns");
  msgpack_pack_array(pk, (size_t)sp.n_group + sp.n_metrics);
  for (int i = 0; i < sp.n_group; i++) pk_str(pk, cx_dim_names[sp.group[i]]);
  for (int i = 0; i < sp.n_metrics; i++) pk_str(pk, cx_metric_names[sp.metrics[i]]);
  pk_key(pk, "rows");
  msgpack_pack_array(pk, res.n_rows);
  char buf[256];
  for (uint32_t r = 0; r < res.n_rows; r++) {
    const cx_agg_row *row = &res.rows[r];
    msgpack_pack_array(pk, (size_t)sp.n_group + sp.n_metrics);
    for (int i = 0; i < sp.n_group; i++) {
      if (cx_query_dim_format(x->q, t, (cx_dim)sp.group[i], row->keys[i], buf, sizeof buf) == 0)
        pk_str(pk, buf);
      else
        msgpack_pack_uint32(pk, row->keys[i]);
    }
    for (int i = 0; i < sp.n_metrics; i++) {
      if (metric_is_int(sp.metrics[i])) msgpack_pack_int64(pk, (int64_t)row->vals[i]);
      else if (isnan(row->vals[i])) msgpack_pack_nil(pk); /* no data */
      else msgpack_pack_double(pk, row->vals[i]);
    }
    if (x->out->len - start > x->env->lim.agg_answer) {
      cx_agg_result_free(&res);
      return fail(x, CX_ETOOLARGE, "the answer passes %u MiB: group by fewer dimensions, filter or limit",
                  (unsigned)(x->env->lim.agg_answer >> 20));
    }
  }
  /* the group values' codes, row by row: regions as 6-digit GB/T 2260 codes and authorities as
   * their USCC, where rows hold names that two regions may share; the other dimensions as in
   * rows */
  pk_key(pk, "codes");
  msgpack_pack_array(pk, res.n_rows);
  for (uint32_t r = 0; r < res.n_rows; r++) {
    const cx_agg_row *row = &res.rows[r];
    msgpack_pack_array(pk, sp.n_group);
    for (int i = 0; i < sp.n_group; i++) {
      cx_dim d = (cx_dim)sp.group[i];
      cx_str acode, aname;
      if (cx_query_dim_code(d, row->keys[i], buf, sizeof buf) == 0) pk_str(pk, buf);
      else if (d == CX_DIM_AUTHORITY && cx_store_authority_get(t, row->keys[i], &acode, &aname) == 0) pk_cx(pk, acode);
      else if (cx_query_dim_format(x->q, t, d, row->keys[i], buf, sizeof buf) == 0) pk_str(pk, buf);
      else msgpack_pack_uint32(pk, row->keys[i]);
    }
    if (x->out->len - start > x->env->lim.agg_answer) {
      cx_agg_result_free(&res);
      return fail(x, CX_ETOOLARGE, "the answer passes %u MiB: group by fewer dimensions, filter or limit",
                  (unsigned)(x->env->lim.agg_answer >> 20));
    }
  }
  pk_key(pk, "from_rollup"); if (res.from_rollup) msgpack_pack_true(pk); else msgpack_pack_false(pk);
  pk_key(pk, "scanned"); msgpack_pack_uint64(pk, res.scanned);
  /* reported records of these rows whose delay counts a year without a published notice */
  pk_key(pk, "provisional"); msgpack_pack_uint64(pk, res.provisional);
  cx_agg_result_free(&res);
  return 0;
}

/*
 * aggregate {of: "checks", by?: [dim], where?: {dim: [values]}, from?, to?, metrics?: [metric]}
 *   -> {columns, rows, from_rollup: true, scanned, provisional: 0}
 * Over the check log's rollup (query/checks.c): dims action verdict province city county
 * authority year quarter month; metrics checks restricted approved_after_review approved
 * feedback restricted_rate. Rows in group order; authority "" for checks without a restriction.
 */
static int cdim_value(cx_exec_ctx *x, cx_txn *t, int d, cx_mp *v, uint32_t *val) {
  cx_str sv;
  char nb[24], e[4 * 48 + 1];
  int64_t iv;
  if (cx_mp_peek(v) == CX_MP_STR) cx_mp_read_str(v, &sv);
  else if (cx_mp_read_int(v, &iv) == 0) sv = (cx_str){nb, (uint32_t)snprintf(nb, sizeof nb, "%" PRId64, iv)};
  else return fail(x, CX_EBADREQ, "where.%s: values must be strings", cx_cdim_names[d]);
  int rc = 0;
  static const uint8_t as_dim[CX_CD_COUNT] = {0, 0, CX_DIM_PROVINCE, CX_DIM_CITY, CX_DIM_COUNTY, CX_DIM_AUTHORITY,
                                              CX_DIM_YEAR, CX_DIM_QUARTER, CX_DIM_MONTH};
  if (d == CX_CD_ACTION) {
    int a = cx_query_action(x->q, sv);
    if (a < 0) rc = a; else *val = (uint32_t)a;
  } else if (d == CX_CD_VERDICT) {
    int k = cx_enum_parse(cx_verdict_names, CX_V_COUNT, sv);
    if (k < 0) rc = k; else *val = (uint32_t)k;
  } else {
    rc = cx_query_dim_parse(x->q, t, (cx_dim)as_dim[d], sv, val);
  }
  vlist l;
  if (rc && d == CX_CD_ACTION)
    return fail(x, CX_EBADREQ, "where.%s: unknown action \"%s\": expected one of %s", cx_cdim_names[d],
                shown(sv, 48, e, sizeof e), vlist_actions(&l, cx_query_catalog(x->q)));
  if (rc && d == CX_CD_VERDICT)
    return fail(x, CX_EBADREQ, "where.%s: unknown verdict \"%s\": expected one of %s", cx_cdim_names[d],
                shown(sv, 48, e, sizeof e), vlist_of(&l, cx_verdict_names, CX_V_COUNT));
  if (rc) return fail(x, CX_EBADREQ, "where.%s: bad value \"%s\"", cx_cdim_names[d], shown(sv, 48, e, sizeof e));
  return 0;
}

static int op_aggregate_checks(cx_exec_ctx *x, const cx_req *rq) {
  cx_cagg_spec sp;
  memset(&sp, 0, sizeof sp);
  int rc;
  cx_mp v;
  cx_txn *t;
  if ((rc = txn(x, &t))) return rc;
  if (cx_req_field(rq, "by", &v)) {
    uint32_t n;
    if (cx_mp_read_array(&v, &n) || n > CX_CD_COUNT)
      return fail(x, CX_EBADREQ, "field \"by\" must be an array of at most %d dimensions", CX_CD_COUNT);
    for (uint32_t i = 0; i < n; i++) {
      cx_str sv;
      int d;
      if (cx_mp_read_str(&v, &sv) || (d = cx_enum_parse(cx_cdim_names, CX_CD_COUNT, sv)) < 0)
        return fail(x, CX_EBADREQ, "by[%u]: not a dimension of checks (action verdict province city "
                    "county authority year quarter month)", i);
      sp.group[sp.n_group++] = (uint8_t)d;
    }
  }
  if (cx_req_field(rq, "where", &v)) {
    uint32_t n;
    if (cx_mp_read_map(&v, &n) || n > CX_CD_COUNT) return fail(x, CX_EBADREQ, "field \"where\" must be a map");
    for (uint32_t i = 0; i < n; i++) {
      cx_str sv;
      int d;
      if (cx_mp_read_str(&v, &sv) || (d = cx_enum_parse(cx_cdim_names, CX_CD_COUNT, sv)) < 0) {
        vlist l;
        return fail(x, CX_EBADREQ, "where: key %u is not a dimension of checks (%s)", i,
                    vlist_of(&l, cx_cdim_names, CX_CD_COUNT));
      }
      cx_agg_filter *f = &sp.filters[sp.n_filters++];
      f->dim = (uint8_t)d;
      uint32_t nv = 1;
      if (cx_mp_peek(&v) == CX_MP_ARRAY) cx_mp_read_array(&v, &nv);
      if (nv == 0 || nv > CX_AGG_MAX_FILTER_VALUES)
        return fail(x, CX_EBADREQ, "where.%s: 1..%d values", cx_cdim_names[d], CX_AGG_MAX_FILTER_VALUES);
      for (uint32_t k = 0; k < nv; k++)
        if ((rc = cdim_value(x, t, d, &v, &f->vals[f->n++]))) return rc;
    }
  }
  if ((rc = f_day(x, rq, "from", &sp.from)) < 0 || (rc = f_day(x, rq, "to", &sp.to)) < 0) return rc;
  if (cx_req_field(rq, "metrics", &v)) {
    uint32_t n;
    if (cx_mp_read_array(&v, &n) || n > CX_CM_COUNT) return fail(x, CX_EBADREQ, "field \"metrics\" must be an array");
    for (uint32_t i = 0; i < n; i++) {
      cx_str sv;
      int m;
      if (cx_mp_read_str(&v, &sv) || (m = cx_enum_parse(cx_cmetric_names, CX_CM_COUNT, sv)) < 0)
        return fail(x, CX_EBADREQ, "metrics[%u]: not a metric of checks (checks restricted "
                    "approved_after_review approved feedback restricted_rate)", i);
      sp.metrics[sp.n_metrics++] = (uint8_t)m;
    }
  }
  if (!sp.n_metrics) sp.metrics[sp.n_metrics++] = CX_CM_CHECKS;
  sp.max_groups = x->env->lim.agg_groups;
  cx_cagg_result res;
  memset(&res, 0, sizeof res);
  rc = cx_query_check_aggregate(x->q, t, &sp, &res);
  if (rc == CX_EBADREQ) return fail(x, rc, "aggregate of checks rejected (a dimension twice, from after to)");
  if (rc == CX_ETOOLARGE)
    return fail(x, rc, "more than %u groups: group by fewer dimensions or filter", x->env->lim.agg_groups);
  if (rc) return fail(x, rc, "aggregate failed: %s", cx_strerror(rc));
  size_t start = x->out->len;
  msgpack_packer *pk = x->pk;
  msgpack_pack_map(pk, 5);
  pk_key(pk, "columns");
  msgpack_pack_array(pk, (size_t)sp.n_group + sp.n_metrics);
  for (int i = 0; i < sp.n_group; i++) pk_str(pk, cx_cdim_names[sp.group[i]]);
  for (int i = 0; i < sp.n_metrics; i++) pk_str(pk, cx_cmetric_names[sp.metrics[i]]);
  pk_key(pk, "rows");
  msgpack_pack_array(pk, res.n_rows);
  static const uint8_t as_dim[CX_CD_COUNT] = {0, 0, CX_DIM_PROVINCE, CX_DIM_CITY, CX_DIM_COUNTY, CX_DIM_AUTHORITY,
                                              CX_DIM_YEAR, CX_DIM_QUARTER, CX_DIM_MONTH};
  char buf[256];
  const cx_catalog *cat = cx_query_catalog(x->q);
  for (uint32_t r = 0; r < res.n_rows; r++) {
    const cx_cagg_row *row = &res.rows[r];
    msgpack_pack_array(pk, (size_t)sp.n_group + sp.n_metrics);
    for (int i = 0; i < sp.n_group; i++) {
      uint32_t k = row->keys[i];
      int d = sp.group[i];
      if (d == CX_CD_ACTION) pk_str(pk, k < cat->n_actions ? cat->actions[k].code : "");
      else if (d == CX_CD_VERDICT) pk_enum(pk, cx_verdict_names, CX_V_COUNT, (uint8_t)k);
      else if (d == CX_CD_AUTHORITY && !k) pk_str(pk, "");
      else if (cx_query_dim_format(x->q, t, (cx_dim)as_dim[d], k, buf, sizeof buf) == 0) pk_str(pk, buf);
      else msgpack_pack_uint32(pk, k);
    }
    for (int i = 0; i < sp.n_metrics; i++) {
      if (sp.metrics[i] != CX_CM_RESTRICTED_RATE) msgpack_pack_int64(pk, (int64_t)row->vals[i]);
      else if (isnan(row->vals[i])) msgpack_pack_nil(pk);
      else msgpack_pack_double(pk, row->vals[i]);
    }
    if (x->out->len - start > x->env->lim.agg_answer) {
      cx_cagg_result_free(&res);
      return fail(x, CX_ETOOLARGE, "the answer passes %u MiB: group by fewer dimensions or filter",
                  (unsigned)(x->env->lim.agg_answer >> 20));
    }
  }
  pk_key(pk, "from_rollup"); msgpack_pack_true(pk);
  pk_key(pk, "scanned"); msgpack_pack_uint64(pk, res.scanned);
  pk_key(pk, "provisional"); msgpack_pack_uint64(pk, 0);
  cx_cagg_result_free(&res);
  return 0;
}

/* ===================================================================== feedback */

/*
 * feedback {receipt, outcome: restricted | approved_after_review | approved, note?}
 *   -> {receipt, outcome, action, verdict, checked_at, previous}
 * What an approval system did with a check (联合奖惩 反馈). Only the system that made the check
 * (the same token name) may report on its receipt; admin may on any. A later feedback
 * replaces an earlier one (previous: its outcome, or ""). Audited in the same write txn.
 * Errors: bad_request (receipt malformed or forged, outcome, note), not_found (no such check:
 * never made, pruned, or lost in a crash before it was written), forbidden.
 */
static int op_feedback(cx_exec_ctx *x, const cx_req *rq) {
  cx_str rs, os, note = {"", 0};
  int rc;
  if ((rc = f_str(x, rq, "receipt", 1, &rs)) < 0 || (rc = f_str(x, rq, "outcome", 1, &os)) < 0 ||
      (rc = f_str(x, rq, "note", 0, &note)) < 0)
    return rc;
  uint64_t seq;
  if (cx_query_receipt_parse(x->q, rs, &seq)) return fail(x, CX_EBADREQ, "receipt: not a receipt of this platform");
  int oc = cx_enum_parse(cx_outcome_names, CX_OUT_COUNT, os);
  if (oc <= CX_OUT_NONE)
    return fail(x, CX_EBADREQ, "outcome must be restricted, approved_after_review or approved");
  if (note.n > CX_CHECK_NOTE_MAX) return fail(x, CX_EBADREQ, "note: at most %u bytes", CX_CHECK_NOTE_MAX);
  cx_text_fault tf;
  if ((rc = cx_text_check(note.p, note.n, CX_TEXT_FREE, &tf)))
    return fail(x, CX_EBADREQ, "note: not UTF-8 text");
  char wb[32], det[96];
  const char *who = who_of(x, wb, sizeof wb);
  snprintf(det, sizeof det, "receipt=%.*s outcome=%s", (int)rs.n, rs.p, cx_outcome_names[oc]);
  cx_audit_entry ae;
  memset(&ae, 0, sizeof ae);
  ae.who = cx_str_c(who);
  ae.role = cx_str_c(x->who_role ? x->who_role : x->role >= 0 && x->role < CX_ROLE_COUNT ? cx_role_names[x->role] : "");
  ae.op = CX_STR("feedback");
  ae.detail = cx_str_c(det);
  ae.client = cx_str_c(x->peer ? x->peer : "");
  cx_check_entry old;
  int any = x->role == CX_ROLE_ADMIN, here = 1;
  uint64_t log_seq = 0;
  char err[256] = "", issuer[96] = "";
  if (x->env->feedback) { /* replicated: through the log, to every node */
    rc = x->env->feedback(x->env->ud, seq, oc, cx_str_c(who), any, note, &ae, &old, &here, &log_seq, issuer,
                          sizeof issuer, err, sizeof err);
    if (rc && rc != CX_ENOTFOUND && rc != CX_EFORBIDDEN) return fail(x, rc, "%s", err[0] ? err : cx_strerror(rc));
  } else {
    rc = cx_store_check_feedback(x->env->st, seq, oc, cx_str_c(who), any, note, 0, &ae, &old);
    if (rc == CX_ENOTFOUND && x->env->checks_flush && x->env->checks_flush(x->env->ud) == 0)
      rc = cx_store_check_feedback(x->env->st, seq, oc, cx_str_c(who), any, note, 0, &ae, &old);
  }
  if (rc == CX_ENOTFOUND) return fail(x, rc, "no check with this receipt (never made, or past the retention)");
  if (rc == CX_EFORBIDDEN) return fail(x, rc, "this receipt is of another approval system's check");
  if (rc) return fail(x, rc, "cannot record the feedback: %s", cx_strerror(rc));
  const cx_catalog *cat = cx_query_catalog(x->q);
  msgpack_packer *pk = x->pk;
  if (here != 1) { /* another node's receipt: its check is in that node's check log, not here */
    msgpack_pack_map(pk, 8);
    pk_key(pk, "receipt"); pk_cx(pk, rs);
    pk_key(pk, "outcome"); pk_str(pk, cx_outcome_names[oc]);
    pk_key(pk, "action"); pk_str(pk, "");
    pk_key(pk, "verdict"); pk_str(pk, "");
    pk_key(pk, "checked_at"); pk_str(pk, "");
    pk_key(pk, "previous"); pk_str(pk, "");
    pk_key(pk, "log_seq"); msgpack_pack_uint64(pk, log_seq);
    pk_key(pk, "issued_by"); pk_str(pk, issuer);
    return 0;
  }
  char tb[32];
  time_t ts = (time_t)(old.time_ms / 1000);
  struct tm tmv;
  gmtime_r(&ts, &tmv);
  strftime(tb, sizeof tb, "%Y-%m-%dT%H:%M:%SZ", &tmv);
  msgpack_pack_map(pk, x->env->feedback ? 8 : 6);
  pk_key(pk, "receipt"); pk_cx(pk, rs);
  pk_key(pk, "outcome"); pk_str(pk, cx_outcome_names[oc]);
  pk_key(pk, "action"); pk_str(pk, old.action < cat->n_actions ? cat->actions[old.action].code : "");
  pk_key(pk, "verdict"); pk_enum(pk, cx_verdict_names, CX_V_COUNT, old.verdict);
  pk_key(pk, "checked_at"); pk_str(pk, tb);
  pk_key(pk, "previous"); pk_str(pk, cx_outcome_names[old.outcome < CX_OUT_COUNT ? old.outcome : 0]);
  if (x->env->feedback) {
    pk_key(pk, "log_seq"), msgpack_pack_uint64(pk, log_seq);
    pk_key(pk, "issued_by"), pk_str(pk, issuer);
  }
  return 0;
}

/* ===================================================================== load */

/*
 * load {name: catalog | calendar | regions | scorecard, text} -> {name, bytes, log_seq}
 * Replaces a data file of the store (admin only; the CLI's `load-* --connect`). regions takes
 * either region table (one whose lines carry years is the historic one: name in the answer
 * "regions_history"). On a replicated node the file goes through the log as one message and
 * the answer comes after the local apply (log_seq: its sequence; 0 on a single node).
 * Errors: bad_request (unknown name; a bad line: the message names it), forbidden (a store
 * that follows a log, written around it), timeout (the log did not acknowledge it).
 */
static int op_load(cx_exec_ctx *x, const cx_req *rq) {
  cx_str ns, text;
  int rc;
  if ((rc = f_str(x, rq, "name", 1, &ns)) < 0 || (rc = f_str(x, rq, "text", 1, &text)) < 0) return rc;
  static const char *const names[] = {"catalog", "calendar", "regions", "scorecard"};
  const char *name = NULL;
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (cx_str_eq(ns, cx_str_c(names[i]))) name = names[i];
  if (!name) return fail(x, CX_EBADREQ, "name must be catalog, calendar, regions or scorecard");
  if (!strcmp(name, "regions") && cx_regions_is_history(text.p, text.n)) name = "regions_history";
  char wb[32], det[64], opn[32];
  const char *who = who_of(x, wb, sizeof wb);
  snprintf(det, sizeof det, "bytes=%u", text.n);
  snprintf(opn, sizeof opn, "load-%.*s", (int)ns.n, ns.p);
  cx_audit_entry ae;
  memset(&ae, 0, sizeof ae);
  ae.who = cx_str_c(who);
  ae.role = cx_str_c(x->who_role ? x->who_role : x->role >= 0 && x->role < CX_ROLE_COUNT ? cx_role_names[x->role] : "");
  ae.op = cx_str_c(opn);
  ae.detail = cx_str_c(det);
  ae.client = cx_str_c(x->peer ? x->peer : "");
  int bad = 0;
  uint64_t seq = 0;
  char err[256] = "";
  if (x->env->load) {
    rc = x->env->load(x->env->ud, name, text.p, text.n, &ae, &bad, &seq, err, sizeof err);
  } else {
    rc = cx_store_data_put_audit(x->env->st, name, text.p, text.n, &bad, &ae);
    if (rc) snprintf(err, sizeof err, "%s", cx_store_errmsg(x->env->st));
  }
  if (rc) {
    if (!err[0]) snprintf(err, sizeof err, "%s", cx_strerror(rc));
    if (bad > 0 && !strstr(err, "line")) return fail(x, rc, "%s: line %d: %s", name, bad, err);
    return fail(x, rc, "%s", err);
  }
  msgpack_packer *pk = x->pk;
  msgpack_pack_map(pk, 3);
  pk_key(pk, "name"); pk_str(pk, name);
  pk_key(pk, "bytes"); msgpack_pack_uint32(pk, text.n);
  pk_key(pk, "log_seq"); msgpack_pack_uint64(pk, seq);
  return 0;
}

/* ===================================================================== ingest */

static void detail(cx_exec_ctx *x, uint32_t index, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void detail(cx_exec_ctx *x, uint32_t index, const char *fmt, ...) {
  char m[256];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(m, sizeof m, fmt, ap);
  va_end(ap);
  msgpack_packer dp;
  msgpack_packer_init(&dp, x->details, cx_buf_msgpack_write);
  msgpack_pack_map(&dp, 2);
  pk_key(&dp, "index");
  msgpack_pack_uint32(&dp, index);
  pk_key(&dp, "message");
  pk_str(&dp, m);
  x->n_details++;
}

#define INGEST_MAX_FIELDS 40

/*
 * ingest {records: [{field: value}]} -> {inserted, replaced, unchanged, entities}
 * Values: strings; integers (amount_fen, ...) and booleans (objection) are accepted and turned
 * into their text form; measures may be an array of codes. Any bad record: nothing lands, the
 * error lists every bad record in error.details [{index, message}].
 */
static int op_ingest(cx_exec_ctx *x, const cx_req *rq) {
  cx_mp v;
  if (!cx_req_field(rq, "records", &v)) return fail(x, CX_EBADREQ, "missing field \"records\"");
  uint32_t n;
  if (cx_mp_read_array(&v, &n)) return fail(x, CX_EBADREQ, "field \"records\" must be an array of maps");
  if (n > x->env->lim.ingest_records)
    return fail(x, CX_ETOOLARGE, "%u records in one ingest (at most %u)", n, x->env->lim.ingest_records);
  if (n == 0) return fail(x, CX_EBADREQ, "no records");
  /* Text forms of non-string values: at most the frame's size plus 24 bytes per field, so
   * reserving that once means the borrowed cx_str never move. */
  cx_buf scratch;
  size_t need = rq->plen * 2 + (size_t)INGEST_MAX_FIELDS * 32 + 64;
  if (cx_buf_init(&scratch, need)) return fail(x, CX_ENOMEM, "out of memory");
  cx_batch *b = NULL;
  int rc = cx_batch_begin(x->env->st, &b);
  if (rc) {
    cx_buf_free(&scratch);
    return fail(x, rc, "cannot start a batch: %s", cx_strerror(rc));
  }
  if ((rc = set_actor(x, b))) {
    cx_batch_abort(b);
    cx_buf_free(&scratch);
    return rc;
  }
  cx_str names[INGEST_MAX_FIELDS], vals[INGEST_MAX_FIELDS];
  uint32_t forbidden = 0;
  for (uint32_t i = 0; i < n; i++) {
    uint32_t nf;
    scratch.len = 0;
    if (cx_mp_read_map(&v, &nf)) {
      detail(x, i, "record must be a map");
      cx_mp_skip(&v);
      continue;
    }
    if (nf > INGEST_MAX_FIELDS) {
      detail(x, i, "too many fields (%u, at most %d)", nf, INGEST_MAX_FIELDS);
      for (uint32_t k = 0; k < 2 * nf; k++) cx_mp_skip(&v);
      continue;
    }
    uint32_t m = 0;
    const char *bad = NULL;
    char badbuf[4 * 40 + 64], kb[4 * 40 + 1];
    for (uint32_t k = 0; k < nf; k++) {
      cx_str key, val = {0};
      if (cx_mp_read_str(&v, &key)) {
        bad = "field names must be strings";
        cx_mp_skip(&v);
        cx_mp_skip(&v);
        continue;
      }
      int ty = cx_mp_peek(&v);
      int64_t iv;
      int bv;
      char *w = scratch.p + scratch.len;
      if (ty == CX_MP_NIL) {
        cx_mp_skip(&v);
        continue;
      } else if (ty == CX_MP_STR) {
        cx_mp_read_str(&v, &val);
      } else if ((ty == CX_MP_UINT || ty == CX_MP_INT) && cx_mp_read_int(&v, &iv) == 0) {
        int len = snprintf(w, 24, "%" PRId64, iv);
        val = (cx_str){w, (uint32_t)len};
        scratch.len += (size_t)len;
      } else if (ty == CX_MP_BOOL) {
        cx_mp_read_bool(&v, &bv);
        val = bv ? CX_STR("true") : CX_STR("false");
      } else if (ty == CX_MP_ARRAY) {
        uint32_t na;
        cx_mp_read_array(&v, &na);
        size_t st = scratch.len;
        for (uint32_t a = 0; a < na; a++) {
          cx_str e;
          if (cx_mp_read_str(&v, &e)) {
            cx_mp_skip(&v);
            snprintf(badbuf, sizeof badbuf, "%s: array values must be strings", shown(key, 40, kb, sizeof kb));
            bad = badbuf;
            continue;
          }
          if (a) scratch.p[scratch.len++] = ',';
          memcpy(scratch.p + scratch.len, e.p, e.n);
          scratch.len += e.n;
        }
        val = (cx_str){scratch.p + st, (uint32_t)(scratch.len - st)};
      } else {
        cx_mp_skip(&v);
        snprintf(badbuf, sizeof badbuf, "%s: unsupported value type", shown(key, 40, kb, sizeof kb));
        bad = badbuf;
        continue;
      }
      names[m] = key;
      vals[m] = val;
      m++;
    }
    if (bad) {
      detail(x, i, "%s", bad);
      continue;
    }
    cx_record rec;
    const char *why = NULL;
    rc = cx_record_from_fields(names, vals, m, &rec, &why);
    if (rc) {
      detail(x, i, "%s", why ? why : cx_strerror(rc));
      continue;
    }
    why = NULL;
    rc = cx_batch_put(b, &rec, &why);
    if (rc == CX_ENOMEM || rc == CX_EIO || rc == CX_EINTERNAL) {
      cx_batch_abort(b);
      cx_buf_free(&scratch);
      return fail(x, rc, "ingest failed: %s", cx_strerror(rc));
    }
    if (rc == CX_EFORBIDDEN) forbidden++;
    if (rc) detail(x, i, "%s", why ? why : cx_strerror(rc));
  }
  cx_buf_free(&scratch);
  if (x->n_details) {
    cx_batch_abort(b);
    /* Writing for another authority is a matter of rights, not of a malformed record. */
    return fail(x, forbidden ? CX_EFORBIDDEN : CX_EBADREQ, "%u of %u records rejected%s; nothing was written",
                x->n_details, n, forbidden ? " (records of authorities this token does not write for)" : "");
  }
  char det[32];
  snprintf(det, sizeof det, "records=%u", n);
  if ((rc = audit_write(x, b, CX_OP_INGEST, (cx_str){"", 0}, cx_str_c(det)))) {
    cx_batch_abort(b);
    return rc;
  }
  cx_batch_result res;
  memset(&res, 0, sizeof res);
  rc = exec_commit(x, b, &res);
  if (rc == CX_EBADREQ && res.bad_put < n) {
    detail(x, res.bad_put, "entity_code: %s", "this record_id of this authority belongs to another entity: a record "
           "never moves; revoke it and send a new record");
    return fail(x, rc, "1 of %u records rejected; nothing was written", n);
  }
  if (rc == CX_EBADREQ) return fail(x, rc, "nothing was written: %s", res.error);
  if (rc) return fail(x, rc, "commit failed: %s", res.error[0] ? res.error : cx_strerror(rc));
  msgpack_packer *pk = x->pk;
  msgpack_pack_map(pk, x->env->commit ? 9 : 8);
  if (x->env->commit) pk_key(pk, "log_seq"), msgpack_pack_uint64(pk, res.log_seq); /* replicated: min_seq */
  pk_key(pk, "records"); msgpack_pack_uint32(pk, n);
  pk_key(pk, "inserted"); msgpack_pack_uint32(pk, res.inserted);
  pk_key(pk, "replaced"); msgpack_pack_uint32(pk, res.replaced);
  pk_key(pk, "unchanged"); msgpack_pack_uint32(pk, res.unchanged);
  pk_key(pk, "entities"); msgpack_pack_uint32(pk, res.entities_touched);
  pk_key(pk, "kept_state"); msgpack_pack_uint32(pk, res.kept);
  pk_key(pk, "transitions"); msgpack_pack_uint32(pk, res.transitions);
  pk_key(pk, "provisional"); msgpack_pack_uint32(pk, res.provisional);
  return 0;
}

/* ===================================================================== repair, revoke, objection */

/*
 * repair | revoke | reinstate | objection {authority, record_id, reason, withdraw?: bool,
 *                                         override?: bool}
 * -> {authority, record_id, status, objection}
 * One lifecycle event (store.h cx_event), decided by the store's state machine and audited by
 * it in the same txn: who (the token's name, never the token), the target
 * "authority/record_id", "old -> new: reason". objection with withdraw: true closes an
 * objection. repair with override: true (admin) repairs before the minimum display period.
 */
static int op_status(cx_exec_ctx *x, const cx_req *rq) {
  cx_str auth, rid, reason;
  int rc;
  if ((rc = f_str(x, rq, "authority", 1, &auth)) < 0 || (rc = f_str(x, rq, "record_id", 1, &rid)) < 0 ||
      (rc = f_str(x, rq, "reason", 1, &reason)) < 0)
    return rc;
  if (reason.n == 0) return fail(x, CX_EBADREQ, "reason must not be empty");
  int withdraw = 0, override = 0;
  if ((rc = f_bool(x, rq, "withdraw", &withdraw)) < 0 || (rc = f_bool(x, rq, "override", &override)) < 0)
    return rc;
  int ev;
  switch (rq->op) {
  case CX_OP_REPAIR: ev = CX_EV_REPAIR; break;
  case CX_OP_REVOKE: ev = CX_EV_REVOKE; break;
  case CX_OP_REINSTATE: ev = CX_EV_REINSTATE; break;
  default: ev = withdraw ? CX_EV_OBJECTION_WITHDRAW : CX_EV_OBJECTION; break;
  }
  if (withdraw && rq->op != CX_OP_OBJECTION) return fail(x, CX_EBADREQ, "withdraw is for objection only");
  if (override && rq->op != CX_OP_REPAIR) return fail(x, CX_EBADREQ, "override is for repair only");
  cx_batch *b = NULL;
  rc = cx_batch_begin(x->env->st, &b);
  if (rc) return fail(x, rc, "cannot start a batch: %s", cx_strerror(rc));
  if ((rc = set_actor(x, b))) {
    cx_batch_abort(b);
    return rc;
  }
  const char *why = NULL;
  rc = cx_batch_transition(b, auth, rid, ev, override, reason, &why);
  if (rc) {
    cx_batch_abort(b);
    return fail(x, rc, "%s", why ? why : cx_strerror(rc));
  }
  cx_batch_result res;
  rc = exec_commit(x, b, &res);
  char a1[4 * 24 + 1], a2[4 * 128 + 1];
  if (rc == CX_ENOTFOUND)
    return fail(x, rc, "no record %s from authority %s", shown(rid, 128, a2, sizeof a2),
                shown(auth, 24, a1, sizeof a1));
  if (rc == CX_EBADREQ) return fail(x, rc, "%s", res.error);
  if (rc) return fail(x, rc, "commit failed: %s", res.error[0] ? res.error : cx_strerror(rc));
  /* The state as it is now (an event that changed nothing leaves it as it was). */
  msgpack_packer *pk = x->pk;
  msgpack_pack_map(pk, x->env->commit ? 6 : 5);
  if (x->env->commit) pk_key(pk, "log_seq"), msgpack_pack_uint64(pk, res.log_seq); /* replicated: min_seq */
  pk_key(pk, "authority"); pk_cx(pk, auth);
  pk_key(pk, "record_id"); pk_cx(pk, rid);
  pk_key(pk, "status"); pk_enum(pk, cx_status_names, CX_ST_COUNT, res.status);
  pk_key(pk, "objection");
  if (res.objection) msgpack_pack_true(pk); else msgpack_pack_false(pk);
  pk_key(pk, "changed"); msgpack_pack_uint32(pk, res.transitions);
  return 0;
}

/* ===================================================================== scorecards */

static const char *const by_names[CX_IND_COUNT][4] = {
    [CX_IND_GOV_DISHONESTY] = {"judgment", "admin_penalty", "disciplinary", "accountability"},
    [CX_IND_LAWSUIT_LOSS] = {"won", "lost", NULL, NULL},
    [CX_IND_KEPT_RATE] = {"kept", "broken", NULL, NULL},
    [CX_IND_ON_TIME] = {"late", NULL, NULL, NULL},
};

/* The period of a scorecard request: year, else from/to (to: today by default; from: the day
 * after the same day a year before to), and the period before it (the previous year, or the
 * as long one that ends the day before from). */
static int sc_period(cx_exec_ctx *x, const cx_req *rq, cx_scorecard_req *cur, cx_scorecard_req *prev) {
  uint64_t year = 0;
  int rc, hy, hf, ht;
  if ((hy = f_uint(x, rq, "year", &year)) < 0) return hy;
  cx_day from = 0, to = cx_day_today();
  if ((hf = f_day(x, rq, "from", &from)) < 0 || (ht = f_day(x, rq, "to", &to)) < 0) return -1;
  if (hy) {
    if (hf || ht) return fail(x, CX_EBADREQ, "give year, or from/to, not both");
    if (cx_scorecard_year((int)(year > 9999 ? 0 : year), &cur->from, &cur->to))
      return fail(x, CX_EBADREQ, "year must be 1971..9999");
    if (cx_scorecard_year((int)year - 1, &prev->from, &prev->to)) prev->from = prev->to = 0;
    return 0;
  }
  if (!hf) { /* the 12 months to `to` */
    int y, m, d;
    cx_day_to_ymd(to, &y, &m, &d);
    if (cx_day_from_ymd(y - 1, m, d, &from) && cx_day_from_ymd(y - 1, m, 28, &from))
      return fail(x, CX_EBADREQ, "to is out of range");
    from += 1;
  }
  if (from > to) return fail(x, CX_EBADREQ, "from is after to");
  if (to - from > 366 * 10) return fail(x, CX_EBADREQ, "a period of at most ten years");
  cur->from = from;
  cur->to = to;
  prev->to = from - 1;
  prev->from = prev->to - (to - from);
  (void)rc;
  return 0;
}

static int sc_rubric(cx_exec_ctx *x, cx_txn *t, cx_rubric *rb) {
  int rc = cx_store_rubric(t, rb);
  return rc ? fail(x, rc, "the store's scorecard rubric does not parse: load a valid one (chengxin load-scorecard)") : 0;
}

static void pk_num(msgpack_packer *pk, double v) {
  if (v == (double)(int64_t)v && v >= 0 && v < 1e15) msgpack_pack_uint64(pk, (uint64_t)v);
  else msgpack_pack_double(pk, v);
}

static void pk_vetoes(msgpack_packer *pk, uint32_t vetoes) {
  uint32_t n = 0;
  for (int i = 0; i < CX_IND_COUNT; i++) n += (vetoes >> i) & 1u;
  msgpack_pack_array(pk, n);
  for (int i = 0; i < CX_IND_COUNT; i++)
    if ((vetoes >> i) & 1u) pk_str(pk, cx_ind_names[i]);
}

static void pk_region_names(cx_exec_ctx *x, cx_txn *t, uint32_t region) {
  msgpack_packer *pk = x->pk;
  uint32_t codes[3] = {region / 10000 * 10000, region / 100 * 100, region};
  const char *keys[3] = {"province", "city", "county"};
  for (int i = 0; i < 3; i++) {
    cx_str s = {"", 0};
    if (codes[i] && cx_store_region_name(t, codes[i], &s) < 0) s = (cx_str){"", 0};
    pk_key(pk, keys[i]);
    pk_cx(pk, s);
  }
}

static void pk_scorecard(cx_exec_ctx *x, cx_txn *t, const cx_rubric *rb, const cx_scorecard_req *rq,
                         const cx_scorecard *sc, const cx_scorecard *prev) {
  msgpack_packer *pk = x->pk;
  msgpack_pack_map(pk, 15);
  pk_key(pk, "code"); msgpack_pack_str_with_body(pk, sc->code, CX_CODE_LEN);
  pk_key(pk, "name"); pk_cx(pk, sc->name);
  pk_key(pk, "kind"); pk_enum(pk, cx_kind_names, CX_KIND_COUNT, sc->kind);
  pk_key(pk, "region"); msgpack_pack_uint32(pk, sc->region);
  pk_region_names(x, t, sc->region);
  pk_key(pk, "from"); pk_day(pk, rq->from);
  pk_key(pk, "to"); pk_day(pk, rq->to);
  pk_key(pk, "score"); msgpack_pack_double(pk, sc->score);
  pk_key(pk, "raw"); msgpack_pack_double(pk, sc->raw);
  pk_key(pk, "grade"); pk_str(pk, rb->bands[sc->band].name);
  pk_key(pk, "vetoes"); pk_vetoes(pk, sc->vetoes);
  pk_key(pk, "indicators");
  uint32_t n = 0;
  for (int i = 0; i < CX_IND_COUNT; i++) n += sc->ind[i].shown;
  msgpack_pack_array(pk, n);
  for (int i = 0; i < CX_IND_COUNT; i++) {
    const cx_ind_value *v = &sc->ind[i];
    if (!v->shown) continue;
    int rate = cx_ind_is_rate(i);
    uint32_t nb = 0;
    while (nb < 4 && by_names[i][nb]) nb++;
    msgpack_pack_map(pk, 7 + (rate ? 2 : 0) + (nb ? 1 : 0) + (i == CX_IND_ON_TIME ? 1 : 0));
    pk_key(pk, "indicator"); pk_str(pk, cx_ind_names[i]);
    pk_key(pk, "value");
    if (rate && !v->den) msgpack_pack_nil(pk);
    else pk_num(pk, v->value);
    if (rate) {
      pk_key(pk, "numerator"); msgpack_pack_uint64(pk, v->num);
      pk_key(pk, "denominator"); msgpack_pack_uint64(pk, v->den);
    }
    pk_key(pk, "rated"); pk_bool(pk, v->rated);
    pk_key(pk, "points"); msgpack_pack_double(pk, v->points);
    pk_key(pk, "weight"); pk_num(pk, v->weight);
    pk_key(pk, "veto"); pk_bool(pk, rb->ind[i].veto);
    pk_key(pk, "vetoed"); pk_bool(pk, (sc->vetoes >> i) & 1u);
    if (nb) {
      pk_key(pk, "by");
      msgpack_pack_map(pk, nb);
      for (uint32_t k = 0; k < nb; k++) {
        pk_key(pk, by_names[i][k]);
        msgpack_pack_uint64(pk, v->by[k]);
      }
    }
    if (i == CX_IND_ON_TIME) {
      pk_key(pk, "mean_delay");
      if (v->den) msgpack_pack_double(pk, (double)v->by[1] / (double)v->den);
      else msgpack_pack_nil(pk);
    }
  }
  pk_key(pk, "previous");
  if (prev) {
    msgpack_pack_map(pk, 3);
    pk_key(pk, "score"); msgpack_pack_double(pk, prev->score);
    pk_key(pk, "grade"); pk_str(pk, rb->bands[prev->band].name);
    pk_key(pk, "change"); msgpack_pack_double(pk, sc->score - prev->score);
  } else {
    msgpack_pack_nil(pk);
  }
}

typedef struct drill_ctx {
  cx_exec_ctx *x;
  uint32_t n;
  int64_t now;
  int err;
} drill_ctx;

/* A drill-down record: the records answer, and an audit line when it is a person's. */
static int drill_rec(void *ctx, const cx_record_view *v) {
  drill_ctx *d = ctx;
  if (v->r->entity_kind == CX_KIND_CIVIL_SERVANT || v->r->entity_kind == CX_KIND_PERSON) {
    char norm[CX_CODE_LEN + 1];
    int is_person;
    /* the stored code, not the masked one, names the person in the audit log */
    if (cx_code_normalize(v->r->entity_code.p, v->r->entity_code.n, norm, &is_person) == 0 &&
        (d->err = audit_query(d->x, CX_OP_SCORECARD, norm, v->r->entity_kind, "drill-down", &d->now)))
      return d->err;
  }
  rec_ctx rc = {d->x, 0};
  int r = rec_cb(&rc, v);
  d->n += rc.n;
  return r;
}

/* scorecard {code, year? | from?, to?, indicator?, limit?} -> a body's scorecard (docs/protocol.md) */
static int op_scorecard(cx_exec_ctx *x, const cx_req *rq) {
  cx_str code, ind = {0};
  uint64_t limit = 100;
  int rc;
  cx_scorecard_req cur = {(cx_role)x->role, 0, 0, cx_day_today()}, prev = cur;
  if ((rc = f_str(x, rq, "code", 1, &code)) < 0 || (rc = f_str(x, rq, "indicator", 0, &ind)) < 0 ||
      (rc = f_uint(x, rq, "limit", &limit)) < 0 || (rc = sc_period(x, rq, &cur, &prev)) < 0)
    return rc;
  int want = -1;
  if (ind.n) {
    for (int i = 0; i < CX_IND_COUNT; i++)
      if (cx_str_eq(ind, cx_str_c(cx_ind_names[i]))) want = i;
    if (want < 0)
      return fail(x, CX_EBADREQ, "unknown indicator (gov_dishonesty, unperformed_judgments, lawsuit_loss_rate, "
                  "commitment_kept_rate, on_time_rate, complaints, staff_discipline, blacklisted)");
  }
  if (limit < 1 || limit > 1000) return fail(x, CX_EBADREQ, "limit must be 1..1000");
  char norm[CX_CODE_LEN + 1];
  int is_person = 0;
  if ((rc = cx_code_normalize(code.p, code.n, norm, &is_person))) return code_fail(x, rc);
  if (is_person) return fail(x, CX_EBADREQ, "persons have no scorecard (their body's counts them)");
  cx_txn *t;
  if ((rc = txn(x, &t))) return rc;
  cx_rubric rb;
  if ((rc = sc_rubric(x, t, &rb))) return rc;
  cx_scorecard sc, ps;
  cx_str nc = {norm, CX_CODE_LEN};
  rc = cx_query_scorecard(x->q, t, &rb, &cur, nc, &sc);
  if (rc == CX_EFORBIDDEN) return fail(x, rc, "scorecards are not published to the public (the rubric's publish line)");
  if (rc == CX_EBADREQ) return fail(x, rc, "not a kind the rubric scores (its kinds line)");
  if (rc) return code_fail(x, rc);
  int have_prev = prev.from && prev.to >= prev.from && cx_query_scorecard(x->q, t, &rb, &prev, nc, &ps) == 0;
  msgpack_packer *pk = x->pk;
  if (want < 0) {
    pk_scorecard(x, t, &rb, &cur, &sc, have_prev ? &ps : NULL);
    return 0;
  }
  if (!sc.ind[want].shown) return fail(x, CX_EFORBIDDEN, "the role is not shown this indicator");
  msgpack_pack_map(pk, 3);
  pk_key(pk, "scorecard");
  pk_scorecard(x, t, &rb, &cur, &sc, have_prev ? &ps : NULL);
  pk_key(pk, "records");
  size_t at = pk_array_placeholder(x);
  drill_ctx d = {x, 0, 0, 0};
  int more = 0;
  rc = cx_query_scorecard_records(x->q, t, &rb, &cur, nc, want, (uint32_t)limit, drill_rec, &d, &more);
  if (d.err) return d.err;
  if (rc) return fail(x, rc, "drill-down: %s", cx_strerror(rc));
  pk_array_patch(x, at, d.n);
  pk_key(pk, "more"); pk_bool(pk, more);
  return 0;
}

typedef struct sc_code {
  char code[CX_CODE_LEN];
  double score;
} sc_code;
static int sc_code_cmp(const void *a, const void *b) { return memcmp(a, b, CX_CODE_LEN); }

/* scorecards {region, year? | from?, to?, kind?} -> the bodies of a region, ranked */
static int op_scorecards(cx_exec_ctx *x, const cx_req *rq) {
  uint64_t region = 0;
  cx_str kinds_s = {0}, levels_s = {0};
  int rc;
  cx_scorecard_req cur = {(cx_role)x->role, 0, 0, cx_day_today()}, prev = cur;
  if ((rc = f_uint(x, rq, "region", &region)) < 0 || (rc = f_str(x, rq, "kind", 0, &kinds_s)) < 0 ||
      (rc = f_str(x, rq, "level", 0, &levels_s)) < 0 || (rc = sc_period(x, rq, &cur, &prev)) < 0)
    return rc;
  uint32_t levels = 0;
  for (uint32_t a = 0; levels_s.n && a <= levels_s.n;) {
    uint32_t e = a;
    while (e < levels_s.n && levels_s.p[e] != ',') e++;
    cx_str w = {levels_s.p + a, e - a};
    if (cx_str_eq(w, CX_STR("province"))) levels |= CX_LEVEL_PROVINCE;
    else if (cx_str_eq(w, CX_STR("city"))) levels |= CX_LEVEL_CITY;
    else if (cx_str_eq(w, CX_STR("county"))) levels |= CX_LEVEL_COUNTY;
    else return fail(x, CX_EBADREQ, "level: a comma-separated list of province, city, county");
    a = e + 1;
  }
  if (!region) return fail(x, CX_EBADREQ, "missing field \"region\" (a province, city or county code: 35, 3501, 350102)");
  uint32_t kinds = 0;
  for (uint32_t a = 0; kinds_s.n && a <= kinds_s.n;) {
    uint32_t e = a;
    while (e < kinds_s.n && kinds_s.p[e] != ',') e++;
    int k = cx_enum_parse(cx_kind_names, CX_KIND_COUNT, (cx_str){kinds_s.p + a, e - a});
    if (k < 0) return fail(x, CX_EBADREQ, "kind: a comma-separated list of government, subdistrict, institution");
    kinds |= 1u << k;
    a = e + 1;
  }
  cx_txn *t;
  if ((rc = txn(x, &t))) return rc;
  cx_rubric rb;
  if ((rc = sc_rubric(x, t, &rb))) return rc;
  cx_scorecard *v = NULL, *pv = NULL;
  uint32_t n = 0, pn = 0;
  rc = cx_query_scorecards(x->q, t, &rb, &cur, (uint32_t)(region > UINT32_MAX ? 0 : region), kinds, levels, 100000,
                           &v, &n);
  if (rc == CX_EFORBIDDEN) return fail(x, rc, "scorecards are not published to the public (the rubric's publish line)");
  if (rc == CX_EBADREQ) return fail(x, rc, "region: a province, city or county code (35, 3501, 350102)");
  if (rc) return fail(x, rc, "scorecards: %s", cx_strerror(rc));
  sc_code *pc = NULL;
  if (prev.from && prev.to >= prev.from &&
      cx_query_scorecards(x->q, t, &rb, &prev, (uint32_t)region, kinds, levels, 100000, &pv, &pn) == 0 && pn &&
      (pc = malloc(pn * sizeof *pc))) {
    for (uint32_t i = 0; i < pn; i++) {
      memcpy(pc[i].code, pv[i].code, CX_CODE_LEN);
      pc[i].score = pv[i].score;
    }
    qsort(pc, pn, sizeof *pc, sc_code_cmp);
  }
  free(pv);
  msgpack_packer *pk = x->pk;
  msgpack_pack_map(pk, 6);
  pk_key(pk, "region"); msgpack_pack_uint64(pk, region);
  cx_str rn = {"", 0};
  uint32_t r6 = (uint32_t)(region < 100 ? region * 10000 : region < 10000 ? region * 100 : region);
  if (cx_store_region_name(t, r6, &rn) < 0) rn = (cx_str){"", 0};
  pk_key(pk, "region_name"); pk_cx(pk, rn);
  pk_key(pk, "from"); pk_day(pk, cur.from);
  pk_key(pk, "to"); pk_day(pk, cur.to);
  pk_key(pk, "grades");
  msgpack_pack_array(pk, rb.n_bands);
  for (uint32_t b = 0; b < rb.n_bands; b++) {
    msgpack_pack_map(pk, 2);
    pk_key(pk, "grade"); pk_str(pk, rb.bands[b].name);
    pk_key(pk, "min"); pk_num(pk, rb.bands[b].min);
  }
  pk_key(pk, "bodies");
  msgpack_pack_array(pk, n);
  for (uint32_t i = 0; i < n; i++) {
    const cx_scorecard *s = &v[i];
    const sc_code *p = pc ? bsearch(s->code, pc, pn, sizeof *pc, sc_code_cmp) : NULL;
    msgpack_pack_map(pk, 10);
    pk_key(pk, "rank"); msgpack_pack_uint32(pk, i + 1);
    pk_key(pk, "code"); msgpack_pack_str_with_body(pk, s->code, CX_CODE_LEN);
    pk_key(pk, "name"); pk_cx(pk, s->name);
    pk_key(pk, "kind"); pk_enum(pk, cx_kind_names, CX_KIND_COUNT, s->kind);
    pk_key(pk, "region"); msgpack_pack_uint32(pk, s->region);
    pk_key(pk, "score"); msgpack_pack_double(pk, s->score);
    pk_key(pk, "grade"); pk_str(pk, rb.bands[s->band].name);
    pk_key(pk, "vetoes"); pk_vetoes(pk, s->vetoes);
    pk_key(pk, "previous");
    if (p) msgpack_pack_double(pk, p->score);
    else msgpack_pack_nil(pk);
    pk_key(pk, "change");
    if (p) msgpack_pack_double(pk, s->score - p->score);
    else msgpack_pack_nil(pk);
  }
  free(pc);
  free(v);
  return 0;
}

int cx_op_reads_snapshot(int op) { return op == CX_OP_AGGREGATE || op == CX_OP_SCORECARDS; }
int cx_op_writes(int op) { return op >= 0 && op < CX_OP_COUNT && cx_ops[op].slow && !cx_op_reads_snapshot(op); }

/* ===================================================================== dispatch */

typedef int (*op_fn)(cx_exec_ctx *x, const cx_req *rq);
static const op_fn handlers[CX_OP_COUNT] = {
#define CX_OP_HANDLER_(e, name, h, roles, slow, http, doc) [CX_OP_##e] = h,
    CX_OP_TABLE(CX_OP_HANDLER_)
#undef CX_OP_HANDLER_
};

static size_t frame_begin(cx_buf *out) {
  size_t at = out->len;
  if (cx_buf_reserve(out, CX_FRAME_HDR) == 0) out->len += CX_FRAME_HDR;
  return at;
}
static void frame_end(cx_buf *out, size_t at) {
  if (at + CX_FRAME_HDR > out->len) return;
  cx_frame_header((unsigned char *)out->p + at, (uint32_t)(out->len - at - CX_FRAME_HDR));
}

static void pack_error(msgpack_packer *pk, uint64_t id, int err, const char *msg,
                       const cx_buf *details, uint32_t n_details) {
  msgpack_pack_map(pk, 3);
  pk_key(pk, "id"); msgpack_pack_uint64(pk, id);
  pk_key(pk, "ok"); msgpack_pack_false(pk);
  pk_key(pk, "error");
  msgpack_pack_map(pk, details && n_details ? 3 : 2);
  pk_key(pk, "code"); pk_str(pk, cx_err_name(err));
  pk_key(pk, "message"); pk_str(pk, msg && *msg ? msg : cx_strerror(err));
  if (details && n_details) {
    pk_key(pk, "details");
    msgpack_pack_array(pk, n_details);
    msgpack_pack_str_body(pk, details->p, details->len); /* raw append of packed maps */
  }
}

void cx_exec_error_frame(cx_buf *out, uint64_t id, int err, const char *msg) {
  msgpack_packer pk;
  msgpack_packer_init(&pk, out, cx_buf_msgpack_write);
  size_t at = frame_begin(out);
  pack_error(&pk, id, err, msg, NULL, 0);
  frame_end(out, at);
}

uint64_t cx_req_min_seq(const cx_req *rq) {
  cx_mp v;
  uint64_t seq = 0;
  if (!cx_req_field(rq, "min_seq", &v) || cx_mp_read_uint(&v, &seq)) return 0;
  return seq;
}

int cx_exec_seq_pending(const cx_exec_env *env, const cx_req *rq) {
  uint64_t seq = cx_req_min_seq(rq);
  return seq && env->at_seq && env->at_seq(env->ud, seq, 0, NULL) != 0;
}

/* min_seq: the request is run only on a store that has applied the log up to it (the door
 * waited for it off the loop already; here no wait). 0, or the failure packed. */
static int check_min_seq(cx_exec_ctx *x, const cx_req *rq) {
  cx_mp v;
  if (!cx_req_field(rq, "min_seq", &v)) return 0;
  uint64_t seq = 0, at = 0;
  if (cx_mp_read_uint(&v, &seq)) return fail(x, CX_EBADREQ, "min_seq must be an unsigned integer (a write's log_seq)");
  if (!seq) return 0;
  if (!x->env->at_seq) return fail(x, CX_EBADREQ, "min_seq: this server does not follow a replicated log");
  if (x->env->at_seq(x->env->ud, seq, 0, &at) == 0) return 0;
  return fail(x, CX_ETIMEOUT, "this node has applied the replicated log up to sequence %" PRIu64 ", not yet %" PRIu64
              " (min_seq): retry, or read another node", at, seq);
}

int cx_exec_run(cx_exec_ctx *x, const cx_req *rq) {
  msgpack_packer pk;
  msgpack_packer_init(&pk, x->out, cx_buf_msgpack_write);
  x->pk = &pk;
  x->msg[0] = 0;
  size_t at = frame_begin(x->out);
  int rc;
  if (!cx_op_allowed(x->role, rq->op)) {
    rc = fail(x, CX_EFORBIDDEN, "op %s is not allowed for role %s", cx_op_names[rq->op],
              cx_role_names[x->role]);
  } else if (x->env->writes_refused && cx_op_writes(rq->op)) {
    rc = fail(x, CX_EFORBIDDEN, "%s", x->env->writes_refused);
  } else if ((rc = check_min_seq(x, rq)) != 0) {
    /* packed */
  } else {
    pk_map(&pk, 3);
    pk_key(&pk, "id"); msgpack_pack_uint64(&pk, rq->id);
    pk_key(&pk, "ok"); pk_bool(&pk, 1);
    pk_key(&pk, "result");
    rc = handlers[rq->op](x, rq);
  }
  if (x->out->failed || (x->details && x->details->failed)) {
    /* An append failed somewhere in the answer (out of memory): what was packed has a hole.
     * Drop it and answer with one small error instead. */
    x->out->len = at;
    cx_buf_clear_failure(x->out);
    if (x->details) {
      x->details->len = 0;
      cx_buf_clear_failure(x->details);
    }
    x->n_details = 0;
    frame_begin(x->out); /* the header again, at `at` */
    rc = CX_ENOMEM;
    snprintf(x->msg, sizeof x->msg, "out of memory while building the answer");
  }
  if (rc) {
    /* Internal errors are events worth a log line (never the request's arguments). */
    if (strcmp(cx_err_name(rc), "internal") == 0 && rc != CX_ECANCELED) /* cancelled: nobody asks */
      cx_net_log("internal error: op=%s: %s", cx_op_names[rq->op], x->msg[0] ? x->msg : cx_strerror(rc));
    if (!x->out->failed) {
      x->out->len = at + CX_FRAME_HDR; /* drop the partial result */
      pack_error(&pk, rq->id, rc, x->msg, x->details, x->n_details);
    }
  }
  if (x->out->failed) {
    /* Not even the error fits: no frame for this request. The buffer stays failed, which tells
     * the caller to close the connection (responses must come in request order). */
    x->out->len = at;
  } else {
    frame_end(x->out, at);
  }
  x->pk = NULL;
  return rc;
}

int cx_exec(cx_exec_ctx *x, const void *payload, size_t n) {
  cx_req rq;
  char msg[256];
  int rc = cx_exec_decode(&rq, payload, n, msg, sizeof msg);
  if (rc) {
    cx_exec_error_frame(x->out, rq.id, rc, msg);
    return rc;
  }
  return cx_exec_run(x, &rq);
}

void cx_exec_pack_store_stats(cx_store *st, msgpack_packer *pk) {
  cx_store_info si;
  memset(&si, 0, sizeof si);
  if (!st || cx_store_info_get(st, &si) != 0) {
    msgpack_pack_nil(pk);
    return;
  }
  msgpack_pack_map(pk, 9);
  pk_key(pk, "schema_version"); msgpack_pack_uint32(pk, si.schema_version);
  pk_key(pk, "entities"); msgpack_pack_uint64(pk, si.entities);
  pk_key(pk, "records"); msgpack_pack_uint64(pk, si.records);
  pk_key(pk, "authorities"); msgpack_pack_uint64(pk, si.authorities);
  pk_key(pk, "rollup_cells"); msgpack_pack_uint64(pk, si.rollup_cells);
  pk_key(pk, "map_size"); msgpack_pack_uint64(pk, si.map_size);
  pk_key(pk, "map_used"); msgpack_pack_uint64(pk, si.map_used);
  pk_key(pk, "readers_used"); msgpack_pack_uint32(pk, si.readers_used);
  pk_key(pk, "max_readers"); msgpack_pack_uint32(pk, si.max_readers);
}
