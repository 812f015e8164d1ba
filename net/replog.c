/*
 * replog.c — the replicated log of write batches (NATS JetStream; docs/scaling.md).
 *
 * With `chengxind --log URLS --stream NAME` a write does not commit on the node that took it.
 *   Write path (a thread-pool thread, cx__replog_commit): the batch the handler built and
 *     validated is encoded as one msgpack message (below) with everything that depends on the
 *     receiving node stamped in: the Beijing day and the time in ms (cx_batch_set_clock), the
 *     writer's actor (token name, role, peer, scope) and its audit entries. It is published to
 *     the stream's subject with a Nats-Msg-Id header, unique per write, and the publish is
 *     retried with the same id until JetStream acknowledges it (stored on a quorum of the R3
 *     stream) or the deadline passes: JetStream's duplicate window turns a retry whose first
 *     attempt did land into an ack of the first one (Duplicate, same sequence). Then the writer
 *     waits until its own store has applied that sequence and answers with that application's
 *     result, so a client reads its own writes on the node it wrote to.
 *   Apply path (one thread per node, apply_main): reads the stream in sequence order from the
 *     sequence after the one in its store (cx_store_log_seq), one js_GetMsg per message, and
 *     applies each in one write txn that also stores the sequence (cx_batch_set_log_seq):
 *     exactly once across crashes. A message every node refuses alike (a transition the state
 *     machine refuses, a record that moved ...) moves the position in a txn of its own and its
 *     refusal is the writer's answer; a failure that is the node's own (disk full, I/O, memory)
 *     is retried, never skipped.
 * Why direct gets, not a consumer: the position lives in the store, so the log needs no
 * consumer state; a get is ordered by construction and is served by whichever NATS server
 * leads the stream now, so a node reads on through the loss of any one NATS server. One round
 * trip per batch is small beside the batch's fsync. A core subscription on the subject wakes
 * the applier when something is published; without it the applier polls every 200 ms.
 *
 * Message (msgpack map, version 1):
 *   v: 1, day: u32 (cx_day), ms: i64, node: str (the writer's node name),
 *   actor: nil | [who, role, client, may_override (bool), scope: nil | [code, ...]],
 *   audit: [[who, role, op, target, detail, client, time_ms], ...],
 *   ops: [["p", record_id, authority_code, authority_name, entity_code, entity_name, list_type,
 *          measures, basis, content, extra, entity_kind, category, subtype, domain, severity,
 *          status, objection, decision_date, report_date, valid_from, valid_until,
 *          display_until, amount_fen] | ["t", authority_code, record_id, event, override,
 *          reason], ...]
 * A data file (load-catalog, load-calendar, load-regions, load-scorecard) is message version 2,
 * so that a node too old to know it refuses it instead of applying an empty batch:
 *   v: 2, day, ms, node (as above), audit: [one entry, as above],
 *   data: [name ("catalog" "calendar" "regions" "regions_history" "scorecard"), bin: the file]
 * applied with cx_store_data_put_at (the file, its audit line and the sequence in one txn).
 * A node's receipt epoch and a feedback are version 3 (docs/scaling.md "Feedback and receipts"):
 *   v: 3, day, ms, node, audit: [at most one entry], kind: "epoch" | "feedback",
 *   epoch: u32 (epoch only), fb: [receipt seq (u64), outcome (u8), who, any_who (bool), note]
 *   (feedback only)
 * An epoch message claims its writer's receipt epoch: the sequence of a message of the epochs'
 * stream (<stream>_EPOCHS, one message per node start: cx__replog_epoch), so no two node starts
 * share one; a claim without "epoch" (the first format) claimed its own sequence's low 24 bits.
 * Every node moves its epoch counter past it alike (cx_store_checks_epoch_at). A feedback is applied by every
 * node (its audit line) and, into its check log, by the node that holds the receipt's entry.
 *
 * Caveats (threads): the NATS connection and the JetStream context are the library's and
 * thread-safe; r->mu guards the applied position, the result ring and the counters.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <msgpack.h>
#include <nats/nats.h>

#include "net_int.h"

#define RING 1024                 /* results of recent sequences, for their writers */
#define PUB_TRY_MS 2000           /* one publish attempt waits this long for its ack */
#define PUB_DEADLINE_MS 20000     /* then retries with the same Nats-Msg-Id until this */
#define APPLY_WAIT_MS 30000       /* a writer waits this long for its own store to apply */
#define POLL_MS 200               /* the applier polls the stream this often when idle */
/* One direct get waits this long for its answer, and a failed one is tried again after
 * GET_RETRY_MS: a get in flight to a NATS server that dies is lost, and with the old 2 s wait
 * and 500 ms pause the writers waiting for that apply answered 2-2.5 s late (seen after a kill
 * -9 in the cluster test: ack in 1 ms, apply in 1998 ms). A get is one round trip. */
#define SLOW_WRITE_MS 1000        /* a write slower than this is logged with where it waited */
#define GET_WAIT_MS 500
#define GET_RETRY_MS 50
#define INFO_EVERY_MS 1000        /* stream info (first, last sequence) refreshed this often */
#define STALE_MS 10000            /* without stream info this long the lag is unknown: not ready */

typedef struct ring_ent {
  uint64_t seq;
  int rc;
  int bad_line;          /* a data file's refused line (load) */
  uint32_t epoch;        /* an epoch message: the epoch taken */
  int fb_applied;        /* a feedback: cx_store_check_feedback_at's *applied */
  cx_check_entry fb_old; /* its entry before (scalar fields) */
  cx_batch_result res;
} ring_ent;

struct cx_replog {
  cx_replog_opts o;
  char urls[1024], stream[128], subject[160], node[96];
  char estream[144], esubject[176]; /* the receipt epochs' stream (cx__replog_epoch) */
  cx_store *st;
  natsConnection *nc;
  jsCtx *js;
  natsSubscription *wake_sub;
  pthread_t th;
  int started;
  pthread_mutex_t mu;
  pthread_cond_t applied_cv; /* applied moved (writers wait on it) */
  pthread_cond_t wake_cv;    /* something was published (the applier waits on it) */
  int stop, wake;
  int stopping;              /* cx__replog_stopping: writers answer now, the applier goes on */
  int writers;               /* writers between publish and answer (close waits for them) */
  uint32_t epoch;            /* this node's receipt epoch (cx__replog_epoch; atomic) */
  uint64_t applied, first, last;
  int64_t last_info_ms;      /* monotonic ms of the last good stream info */
  int64_t next_ms;           /* the stamp of message applied+1, when fetched (0: not yet) */
  int64_t behind_since_ms;   /* wall ms since when applied < last (0: caught up) */
  int gone;                  /* the stream no longer holds the next message */
  char gone_why[256];
  uint64_t published, duplicates, retries, refused, apply_errors, pub_failed;
  uint64_t counter, boot;
  ring_ent ring[RING];
};

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void deadline_ts(struct timespec *ts, int64_t ms) {
  clock_gettime(CLOCK_MONOTONIC, ts);
  ts->tv_sec += ms / 1000;
  ts->tv_nsec += (ms % 1000) * 1000000;
  if (ts->tv_nsec >= 1000000000) {
    ts->tv_sec++;
    ts->tv_nsec -= 1000000000;
  }
}

/* "Timeout", "Not Found (JetStream error 10059)": per thread, valid until its next call. */
static const char *nats_why(natsStatus s, jsErrCode je) {
  static _Thread_local char b[160];
  if (je) snprintf(b, sizeof b, "%s (JetStream error %d)", natsStatus_GetText(s), (int)je);
  else snprintf(b, sizeof b, "%s", natsStatus_GetText(s));
  return b;
}

/* ===================================================================== encoding */

static void pk_s(msgpack_packer *pk, cx_str s) { msgpack_pack_str_with_body(pk, s.n ? s.p : "", s.n); }
static void pk_c(msgpack_packer *pk, const char *s) { msgpack_pack_str_with_body(pk, s, strlen(s)); }
static void pk_b(msgpack_packer *pk, int v) {
  if (v) msgpack_pack_true(pk);
  else msgpack_pack_false(pk);
}

typedef struct enc {
  msgpack_packer *pk;
  uint32_t n_audit, n_ops;
  int has_actor;
  cx_batch_actor actor;
  const cx_audit_entry **aud; /* counted first, packed in the second pass */
} enc;

static int count_actor(void *ctx, const cx_batch_actor *a) {
  enc *e = ctx;
  e->has_actor = 1;
  e->actor = *a;
  return 0;
}
static int count_audit(void *ctx, const cx_audit_entry *a) {
  (void)a;
  ((enc *)ctx)->n_audit++;
  return 0;
}
static int count_put(void *ctx, const cx_record *r) {
  (void)r;
  ((enc *)ctx)->n_ops++;
  return 0;
}
static int count_tr(void *ctx, cx_str a, cx_str rid, int ev, int ov, cx_str reason) {
  (void)a, (void)rid, (void)ev, (void)ov, (void)reason;
  ((enc *)ctx)->n_ops++;
  return 0;
}
static int pack_audit(void *ctx, const cx_audit_entry *a) {
  msgpack_packer *pk = ((enc *)ctx)->pk;
  msgpack_pack_array(pk, 7);
  pk_s(pk, a->who), pk_s(pk, a->role), pk_s(pk, a->op), pk_s(pk, a->target), pk_s(pk, a->detail);
  pk_s(pk, a->client);
  msgpack_pack_int64(pk, a->time_ms);
  return 0;
}
static int pack_put(void *ctx, const cx_record *r) {
  msgpack_packer *pk = ((enc *)ctx)->pk;
  msgpack_pack_array(pk, 24);
  pk_c(pk, "p");
  pk_s(pk, r->record_id), pk_s(pk, r->authority_code), pk_s(pk, r->authority_name);
  pk_s(pk, r->entity_code), pk_s(pk, r->entity_name), pk_s(pk, r->list_type), pk_s(pk, r->measures);
  pk_s(pk, r->basis), pk_s(pk, r->content), pk_s(pk, r->extra);
  const uint8_t u8[] = {r->entity_kind, r->category, r->subtype, r->domain, r->severity, r->status, r->objection};
  for (size_t i = 0; i < sizeof u8; i++) msgpack_pack_uint8(pk, u8[i]);
  const cx_day d[] = {r->decision_date, r->report_date, r->valid_from, r->valid_until, r->display_until};
  for (size_t i = 0; i < sizeof d / sizeof d[0]; i++) msgpack_pack_uint32(pk, d[i]);
  msgpack_pack_int64(pk, r->amount_fen);
  return 0;
}
static int pack_tr(void *ctx, cx_str a, cx_str rid, int ev, int ov, cx_str reason) {
  msgpack_packer *pk = ((enc *)ctx)->pk;
  msgpack_pack_array(pk, 6);
  pk_c(pk, "t");
  pk_s(pk, a), pk_s(pk, rid);
  msgpack_pack_int(pk, ev);
  pk_b(pk, ov);
  pk_s(pk, reason);
  return 0;
}

int cx__replog_encode(const cx_batch *b, cx_day day, int64_t ms, const char *node, cx_buf *out) {
  msgpack_packer pk;
  msgpack_packer_init(&pk, out, cx_buf_msgpack_write);
  enc e;
  memset(&e, 0, sizeof e);
  e.pk = &pk;
  cx_batch_visitor cnt = {count_actor, count_audit, count_put, count_tr};
  int rc = cx_batch_each(b, &cnt, &e);
  if (rc) return rc;
  msgpack_pack_map(&pk, 7);
  pk_c(&pk, "v"), msgpack_pack_uint32(&pk, 1);
  pk_c(&pk, "day"), msgpack_pack_uint32(&pk, day);
  pk_c(&pk, "ms"), msgpack_pack_int64(&pk, ms);
  pk_c(&pk, "node"), pk_c(&pk, node ? node : "");
  pk_c(&pk, "actor");
  if (!e.has_actor) {
    msgpack_pack_nil(&pk);
  } else {
    msgpack_pack_array(&pk, 5);
    pk_s(&pk, e.actor.who), pk_s(&pk, e.actor.role), pk_s(&pk, e.actor.client);
    pk_b(&pk, e.actor.may_override);
    if (!e.actor.authorities) {
      msgpack_pack_nil(&pk);
    } else {
      msgpack_pack_array(&pk, e.actor.n_authorities);
      for (uint32_t i = 0; i < e.actor.n_authorities; i++)
        msgpack_pack_str_with_body(&pk, e.actor.authorities[i], strnlen(e.actor.authorities[i], CX_CODE_LEN));
    }
  }
  pk_c(&pk, "audit"), msgpack_pack_array(&pk, e.n_audit);
  cx_batch_visitor aud = {NULL, pack_audit, NULL, NULL};
  if ((rc = cx_batch_each(b, &aud, &e))) return rc;
  pk_c(&pk, "ops"), msgpack_pack_array(&pk, e.n_ops);
  cx_batch_visitor ops = {NULL, NULL, pack_put, pack_tr};
  if ((rc = cx_batch_each(b, &ops, &e))) return rc;
  return out->failed ? CX_ENOMEM : 0;
}

/* ===================================================================== decoding */

#define BAD(msg) do { snprintf(why, cap, "%s", msg); return CX_EBADFRAME; } while (0)

static int rd_u32(cx_mp *m, uint32_t *v) {
  uint64_t x;
  if (cx_mp_read_uint(m, &x) || x > UINT32_MAX) return -1;
  *v = (uint32_t)x;
  return 0;
}

static int rd_u8(cx_mp *m, uint8_t *v) {
  uint64_t x;
  if (cx_mp_read_uint(m, &x) || x > 255) return -1;
  *v = (uint8_t)x;
  return 0;
}

/* An audit entry as pack_audit writes it: [who, role, op, target, detail, client, time_ms]. */
static int rd_audit(cx_mp *m, cx_audit_entry *e) {
  uint32_t nf;
  memset(e, 0, sizeof *e);
  return cx_mp_read_array(m, &nf) || nf != 7 || cx_mp_read_str(m, &e->who) || cx_mp_read_str(m, &e->role) ||
         cx_mp_read_str(m, &e->op) || cx_mp_read_str(m, &e->target) || cx_mp_read_str(m, &e->detail) ||
         cx_mp_read_str(m, &e->client) || cx_mp_read_int(m, &e->time_ms);
}

int cx__replog_build(cx_store *st, const void *p, size_t n, cx_batch **out, cx_replog_msg *info,
                     char *why, size_t cap) {
  cx_mp m = cx_mp_make(p, n), actor = {0}, audit = {0}, ops = {0};
  uint32_t nk, ver = 0;
  uint64_t day = 0;
  int64_t ms = 0;
  int have = 0;
  memset(info, 0, sizeof *info);
  if (cx_mp_validate(p, n) || cx_mp_read_map(&m, &nk)) BAD("not a msgpack map");
  for (uint32_t i = 0; i < nk; i++) {
    cx_str k;
    if (cx_mp_read_str(&m, &k)) BAD("a key is not a string");
    if (cx_str_eq(k, CX_STR("v"))) {
      if (rd_u32(&m, &ver)) BAD("v: not an unsigned integer");
    } else if (cx_str_eq(k, CX_STR("day"))) {
      if (cx_mp_read_uint(&m, &day)) BAD("day: not an unsigned integer");
    } else if (cx_str_eq(k, CX_STR("ms"))) {
      if (cx_mp_read_int(&m, &ms)) BAD("ms: not an integer");
    } else if (cx_str_eq(k, CX_STR("node"))) {
      cx_str s;
      if (cx_mp_read_str(&m, &s)) BAD("node: not a string");
      snprintf(info->node, sizeof info->node, "%.*s", (int)s.n, s.p);
    } else {
      cx_mp *slot = cx_str_eq(k, CX_STR("actor")) ? &actor : cx_str_eq(k, CX_STR("audit")) ? &audit
                  : cx_str_eq(k, CX_STR("ops")) ? &ops : NULL;
      if (slot) {
        *slot = m;
        have |= slot == &actor ? 1 : slot == &audit ? 2 : 4;
      }
      if (cx_mp_skip(&m)) BAD("a malformed value");
    }
  }
  if (ver != 1) BAD("unknown message version (a newer chengxind wrote it?)");
  if (!day || day >= CX_DAY_OPEN || ms <= 0 || (have & 6) != 6) BAD("day, ms, audit or ops missing");
  info->day = (cx_day)day;
  info->ms = ms;
  cx_batch *b = NULL;
  int rc = cx_batch_begin(st, &b);
  if (rc) {
    snprintf(why, cap, "cannot begin a batch: %s", cx_strerror(rc));
    return rc;
  }
  if ((rc = cx_batch_set_clock(b, info->day, ms))) {
    cx_batch_abort(b);
    BAD("bad day or time");
  }
#undef BAD
#define BAD(msg) do { snprintf(why, cap, "%s", msg); rc = CX_EBADFRAME; goto fail; } while (0)
  if ((have & 1) && cx_mp_peek(&actor) != CX_MP_NIL) {
    uint32_t na, ns;
    cx_batch_actor a;
    memset(&a, 0, sizeof a);
    int ov = 0;
    char scope[CX_MAX_SCOPE][CX_CODE_LEN + 1]; /* cx_batch_set_actor copies it */
    if (cx_mp_read_array(&actor, &na) || na != 5 || cx_mp_read_str(&actor, &a.who) ||
        cx_mp_read_str(&actor, &a.role) || cx_mp_read_str(&actor, &a.client) || cx_mp_read_bool(&actor, &ov))
      BAD("actor: malformed");
    a.may_override = ov;
    if (cx_mp_peek(&actor) == CX_MP_NIL) {
      cx_mp_skip(&actor);
    } else {
      if (cx_mp_read_array(&actor, &ns) || ns > CX_MAX_SCOPE) BAD("actor: malformed scope");
      for (uint32_t i = 0; i < ns; i++) {
        cx_str c;
        if (cx_mp_read_str(&actor, &c) || c.n != CX_CODE_LEN) BAD("actor: malformed scope");
        memcpy(scope[i], c.p, CX_CODE_LEN);
        scope[i][CX_CODE_LEN] = 0;
      }
      a.authorities = (const char(*)[CX_CODE_LEN + 1])scope;
      a.n_authorities = ns;
    }
    if ((rc = cx_batch_set_actor(b, &a))) BAD("actor: refused");
  }
  uint32_t na;
  if (cx_mp_read_array(&audit, &na)) BAD("audit: not an array");
  for (uint32_t i = 0; i < na; i++) {
    cx_audit_entry e;
    if (rd_audit(&audit, &e)) BAD("audit: malformed entry");
    if ((rc = cx_batch_audit(b, &e))) {
      snprintf(why, cap, "audit: %s", cx_strerror(rc));
      goto fail;
    }
  }
  uint32_t no;
  if (cx_mp_read_array(&ops, &no)) BAD("ops: not an array");
  for (uint32_t i = 0; i < no; i++) {
    uint32_t nf;
    cx_str tag;
    const char *w = NULL;
    if (cx_mp_read_array(&ops, &nf) || cx_mp_read_str(&ops, &tag) || tag.n != 1) BAD("ops: malformed op");
    if (tag.p[0] == 'p' && nf == 24) {
      cx_record r;
      cx_record_defaults(&r);
      cx_str *s[] = {&r.record_id, &r.authority_code, &r.authority_name, &r.entity_code, &r.entity_name,
                     &r.list_type, &r.measures, &r.basis, &r.content, &r.extra};
      for (size_t k = 0; k < sizeof s / sizeof s[0]; k++)
        if (cx_mp_read_str(&ops, s[k])) BAD("put: malformed string");
      uint8_t *u[] = {&r.entity_kind, &r.category, &r.subtype, &r.domain, &r.severity, &r.status, &r.objection};
      for (size_t k = 0; k < sizeof u / sizeof u[0]; k++)
        if (rd_u8(&ops, u[k])) BAD("put: malformed enum");
      cx_day *d[] = {&r.decision_date, &r.report_date, &r.valid_from, &r.valid_until, &r.display_until};
      for (size_t k = 0; k < sizeof d / sizeof d[0]; k++)
        if (rd_u32(&ops, d[k])) BAD("put: malformed day");
      if (cx_mp_read_int(&ops, &r.amount_fen)) BAD("put: malformed amount");
      if ((rc = cx_batch_put(b, &r, &w))) {
        snprintf(why, cap, "put %u refused: %s", i, w ? w : cx_strerror(rc));
        goto fail;
      }
    } else if (tag.p[0] == 't' && nf == 6) {
      cx_str a, rid, reason;
      int64_t ev;
      int ov;
      if (cx_mp_read_str(&ops, &a) || cx_mp_read_str(&ops, &rid) || cx_mp_read_int(&ops, &ev) ||
          cx_mp_read_bool(&ops, &ov) || cx_mp_read_str(&ops, &reason) || ev < 0 || ev >= CX_EV_COUNT)
        BAD("transition: malformed");
      if ((rc = cx_batch_transition(b, a, rid, (int)ev, ov, reason, &w))) {
        snprintf(why, cap, "transition %u refused: %s", i, w ? w : cx_strerror(rc));
        goto fail;
      }
    } else {
      BAD("ops: unknown op");
    }
  }
  *out = b;
  return 0;
fail:
  cx_batch_abort(b);
  return rc;
}
#undef BAD

/* ===================================================================== data files (v2) */

static const char *const DATA_NAMES[] = {"catalog", "calendar", "regions", "regions_history", "scorecard"};

int cx__replog_encode_data(const char *name, const char *text, size_t n, const cx_audit_entry *ae,
                           cx_day day, int64_t ms, const char *node, cx_buf *out) {
  msgpack_packer pk;
  msgpack_packer_init(&pk, out, cx_buf_msgpack_write);
  msgpack_pack_map(&pk, 6);
  pk_c(&pk, "v"), msgpack_pack_uint32(&pk, 2);
  pk_c(&pk, "day"), msgpack_pack_uint32(&pk, day);
  pk_c(&pk, "ms"), msgpack_pack_int64(&pk, ms);
  pk_c(&pk, "node"), pk_c(&pk, node ? node : "");
  pk_c(&pk, "audit"), msgpack_pack_array(&pk, ae ? 1 : 0);
  if (ae) {
    cx_audit_entry e = *ae;
    e.time_ms = ms;
    enc en = {.pk = &pk};
    pack_audit(&en, &e);
  }
  pk_c(&pk, "data"), msgpack_pack_array(&pk, 2);
  pk_c(&pk, name);
  msgpack_pack_str_with_body(&pk, text, n);
  return out->failed ? CX_ENOMEM : 0;
}

typedef struct data_msg {
  const char *name; /* one of DATA_NAMES */
  cx_str text;      /* points into the message */
  cx_audit_entry ae;
  int has_ae;
  cx_replog_msg info;
} data_msg;

/* The fields every v2 and v3 message starts with: v, day, ms, node, audit (at most one entry). */
typedef struct msg_hdr {
  uint32_t ver;
  uint64_t day;
  int64_t ms;
  cx_replog_msg *info;
  cx_audit_entry *ae;
  int *has_ae;
} msg_hdr;

/* Reads the value of key k when it is a header field: 1 read, 0 not a header field, 2 "v" is
 * not `want` (another version: not this decoder's message), -1 malformed (*bad says why). */
static int hdr_field(cx_mp *m, cx_str k, uint32_t want, msg_hdr *h, const char **bad) {
  if (cx_str_eq(k, CX_STR("v"))) {
    if (rd_u32(m, &h->ver) || h->ver != want) return 2;
  } else if (cx_str_eq(k, CX_STR("day"))) {
    if (cx_mp_read_uint(m, &h->day)) return *bad = "day: not an unsigned integer", -1;
  } else if (cx_str_eq(k, CX_STR("ms"))) {
    if (cx_mp_read_int(m, &h->ms)) return *bad = "ms: not an integer", -1;
  } else if (cx_str_eq(k, CX_STR("node"))) {
    cx_str s;
    if (cx_mp_read_str(m, &s)) return *bad = "node: not a string", -1;
    snprintf(h->info->node, sizeof h->info->node, "%.*s", (int)s.n, s.p);
  } else if (cx_str_eq(k, CX_STR("audit"))) {
    uint32_t na;
    if (cx_mp_read_array(m, &na) || na > 1) return *bad = "audit: not an array of at most one entry", -1;
    if (na) {
      if (rd_audit(m, h->ae)) return *bad = "audit: malformed entry", -1;
      *h->has_ae = 1;
    }
  } else {
    return 0;
  }
  return 1;
}

/* 1: not a data message (another version); 0: *d filled (pointing into p); CX_EBADFRAME. */
static int data_decode(const void *p, size_t n, data_msg *d, char *why, size_t cap) {
#define DBAD(msg) do { snprintf(why, cap, "data: %s", msg); return CX_EBADFRAME; } while (0)
  cx_mp m = cx_mp_make(p, n);
  uint32_t nk;
  int have = 0;
  memset(d, 0, sizeof *d);
  msg_hdr h = {.info = &d->info, .ae = &d->ae, .has_ae = &d->has_ae};
  if (cx_mp_validate(p, n) || cx_mp_read_map(&m, &nk)) return 1; /* the batch decoder says why */
  for (uint32_t i = 0; i < nk; i++) {
    cx_str k;
    const char *bad = NULL;
    if (cx_mp_read_str(&m, &k)) return 1;
    int hf = hdr_field(&m, k, 2, &h, &bad);
    if (hf == 2) return 1;
    if (hf < 0) DBAD(bad);
    if (hf) continue;
    if (cx_str_eq(k, CX_STR("data"))) {
      uint32_t na;
      cx_str nm;
      if (cx_mp_read_array(&m, &na) || na != 2 || cx_mp_read_str(&m, &nm) || cx_mp_read_str(&m, &d->text))
        DBAD("data: not [name, text]");
      for (size_t j = 0; j < sizeof DATA_NAMES / sizeof DATA_NAMES[0]; j++)
        if (cx_str_eq(nm, cx_str_c(DATA_NAMES[j]))) d->name = DATA_NAMES[j];
      if (!d->name) DBAD("unknown data file");
      have = 1;
    } else if (cx_mp_skip(&m)) {
      DBAD("a malformed value");
    }
  }
  if (h.ver != 2) return 1;
  if (!have || !h.day || h.day >= CX_DAY_OPEN || h.ms <= 0) DBAD("day, ms or data missing");
  d->info.day = (cx_day)h.day;
  d->info.ms = h.ms;
  return 0;
#undef DBAD
}

/* ===================================================================== epochs, feedback (v3) */

typedef struct v3_msg {
  int kind;         /* 'e' epoch, 'f' feedback */
  uint32_t epoch;   /* an epoch message: the epoch it claims (0: none given, see the applier) */
  uint64_t receipt;
  int outcome, any_who;
  cx_str who, note;
  cx_audit_entry ae;
  int has_ae;
  cx_replog_msg info;
} v3_msg;

static int encode_v3(cx_replog *r, int kind, const v3_msg *f, const cx_audit_entry *ae, cx_buf *out) {
  msgpack_packer pk;
  msgpack_packer_init(&pk, out, cx_buf_msgpack_write);
  int64_t ms = cx_audit_now_ms();
  msgpack_pack_map(&pk, kind == 'f' ? 7 : 7);
  pk_c(&pk, "v"), msgpack_pack_uint32(&pk, 3);
  pk_c(&pk, "day"), msgpack_pack_uint32(&pk, cx_day_today());
  pk_c(&pk, "ms"), msgpack_pack_int64(&pk, ms);
  pk_c(&pk, "node"), pk_c(&pk, r->node);
  pk_c(&pk, "kind"), pk_c(&pk, kind == 'f' ? "feedback" : "epoch");
  pk_c(&pk, "audit"), msgpack_pack_array(&pk, ae ? 1 : 0);
  if (ae) {
    cx_audit_entry e = *ae;
    e.time_ms = ms;
    enc en = {.pk = &pk};
    pack_audit(&en, &e);
  }
  if (kind != 'f') {
    pk_c(&pk, "epoch"), msgpack_pack_uint32(&pk, f ? f->epoch : 0);
  } else {
    pk_c(&pk, "fb"), msgpack_pack_array(&pk, 5);
    msgpack_pack_uint64(&pk, f->receipt);
    msgpack_pack_uint8(&pk, (uint8_t)f->outcome);
    pk_s(&pk, f->who);
    pk_b(&pk, f->any_who);
    pk_s(&pk, f->note);
  }
  return out->failed ? CX_ENOMEM : 0;
}

/* 1: not version 3; 0: *m filled (pointing into p); CX_EBADFRAME with why. */
static int v3_decode(const void *p, size_t n, v3_msg *m3, char *why, size_t cap) {
#define VBAD(msg) do { snprintf(why, cap, "v3: %s", msg); return CX_EBADFRAME; } while (0)
  cx_mp m = cx_mp_make(p, n);
  uint32_t nk;
  int have_fb = 0;
  memset(m3, 0, sizeof *m3);
  msg_hdr h = {.info = &m3->info, .ae = &m3->ae, .has_ae = &m3->has_ae};
  if (cx_mp_validate(p, n) || cx_mp_read_map(&m, &nk)) return 1;
  for (uint32_t i = 0; i < nk; i++) {
    cx_str k;
    const char *bad = NULL;
    if (cx_mp_read_str(&m, &k)) return 1;
    int hf = hdr_field(&m, k, 3, &h, &bad);
    if (hf == 2) return 1;
    if (hf < 0) VBAD(bad);
    if (hf) continue;
    if (cx_str_eq(k, CX_STR("kind"))) {
      cx_str s;
      if (cx_mp_read_str(&m, &s)) VBAD("kind: not a string");
      m3->kind = cx_str_eq(s, CX_STR("epoch")) ? 'e' : cx_str_eq(s, CX_STR("feedback")) ? 'f' : '?';
    } else if (cx_str_eq(k, CX_STR("epoch"))) {
      if (rd_u32(&m, &m3->epoch) || m3->epoch > 0xFFFFFFu) VBAD("epoch: not an unsigned integer under 2^24");
    } else if (cx_str_eq(k, CX_STR("fb"))) {
      uint32_t na;
      uint64_t oc;
      if (cx_mp_read_array(&m, &na) || na != 5 || cx_mp_read_uint(&m, &m3->receipt) || cx_mp_read_uint(&m, &oc) ||
          oc >= CX_OUT_COUNT || cx_mp_read_str(&m, &m3->who) || cx_mp_read_bool(&m, &m3->any_who) ||
          cx_mp_read_str(&m, &m3->note))
        VBAD("fb: malformed");
      m3->outcome = (int)oc;
      have_fb = 1;
    } else if (cx_mp_skip(&m)) {
      VBAD("a malformed value");
    }
  }
  if (h.ver != 3) return 1;
  if (!h.day || h.day >= CX_DAY_OPEN || h.ms <= 0) VBAD("day or ms missing");
  if (m3->kind != 'e' && m3->kind != 'f') VBAD("unknown kind (a newer chengxind wrote it?)");
  if (m3->kind == 'f' && !have_fb) VBAD("feedback without fb");
  m3->info.day = (cx_day)h.day;
  m3->info.ms = h.ms;
  return 0;
#undef VBAD
}

int cx__replog_classify(const void *p, size_t n, char *why, size_t cap) {
  data_msg dm;
  v3_msg m3;
  int rc = v3_decode(p, n, &m3, why, cap);
  if (rc == 0) return m3.kind;
  if (rc == 1 && (rc = data_decode(p, n, &dm, why, cap)) == 0) return 'd';
  return rc == 1 ? 'b' : rc;
}

/* ===================================================================== the applier */

/* A refusal every node makes alike: the request's fault, not this node's. */
static int deterministic(int rc) {
  const char *n = cx_err_name(rc);
  return rc == CX_EBADFRAME || !strcmp(n, "bad_request") || !strcmp(n, "invalid_code") ||
         !strcmp(n, "not_found") || !strcmp(n, "forbidden");
}

static void publish_result(cx_replog *r, uint64_t seq, int rc, int bad_line, const cx_batch_result *res) {
  pthread_mutex_lock(&r->mu);
  ring_ent *e = &r->ring[seq % RING];
  e->seq = seq;
  e->rc = rc;
  e->bad_line = bad_line;
  if (res) e->res = *res;
  else memset(&e->res, 0, sizeof e->res);
  r->applied = seq;
  r->next_ms = 0;
  if (r->last < seq) r->last = seq;
  if (r->applied >= r->last) r->behind_since_ms = 0;
  pthread_cond_broadcast(&r->applied_cv);
  pthread_mutex_unlock(&r->mu);
}

/* Applies message seq (data[0..n)). 0 when the position moved; < 0: retry later. */
static int apply_one(cx_replog *r, uint64_t seq, const char *data, size_t n) {
  cx_batch *b = NULL;
  cx_replog_msg info;
  char why[256];
  cx_batch_result res;
  memset(&res, 0, sizeof res);
  data_msg dm;
  v3_msg m3;
  int bad_line = 0;
  int rc = v3_decode(data, n, &m3, why, sizeof why);
  if (rc == 0) {
    pthread_mutex_lock(&r->mu);
    if (r->applied + 1 == seq) r->next_ms = m3.info.ms;
    pthread_mutex_unlock(&r->mu);
    uint32_t epoch = 0;
    int applied = 0;
    cx_check_entry old;
    memset(&old, 0, sizeof old);
    if (m3.kind == 'e') {
      /* the epoch the message claims (from the epochs' stream); a message that names none (the
       * first format) claimed its own sequence's low 24 bits */
      uint32_t claim = m3.epoch ? m3.epoch : (uint32_t)(seq & 0xFFFFFFu);
      rc = cx_store_checks_epoch_at(r->st, seq, claim, m3.info.node, &epoch); /* the counter moves past it alike */
    } else {
      /* this node's own receipt may still be queued: written first (the check log's writer) */
      if (r->o.flush && (uint32_t)(m3.receipt >> 40) == __atomic_load_n(&r->epoch, __ATOMIC_RELAXED))
        r->o.flush(r->o.ud);
      rc = cx_store_check_feedback_at(r->st, m3.receipt, m3.outcome, m3.who, m3.any_who, m3.note, m3.info.ms,
                                      m3.has_ae ? &m3.ae : NULL, seq, &old, &applied);
      if (!rc && applied < 0)
        cx_net_log("log: feedback of message %" PRIu64 " names a receipt of another approval system: "
                   "its check-log entry is left as it was", seq);
    }
    if (rc == CX_EEXIST) rc = 0;
    if (!rc) {
      res.log_seq = seq;
      pthread_mutex_lock(&r->mu);
      ring_ent *e = &r->ring[seq % RING];
      e->epoch = epoch;
      e->fb_applied = applied;
      e->fb_old = old;
      pthread_mutex_unlock(&r->mu);
      publish_result(r, seq, 0, 0, &res);
      return 0;
    }
    snprintf(why, sizeof why, "%s", cx_store_errmsg(r->st));
    snprintf(res.error, sizeof res.error, "%s", why);
  } else if (rc == 1 && (rc = data_decode(data, n, &dm, why, sizeof why)) == 0) { /* a data file: the file, its audit line and the position in one txn */
    pthread_mutex_lock(&r->mu);
    if (r->applied + 1 == seq) r->next_ms = dm.info.ms;
    pthread_mutex_unlock(&r->mu);
    rc = cx_store_data_put_at(r->st, dm.name, dm.text.p, dm.text.n, &bad_line, dm.has_ae ? &dm.ae : NULL,
                              dm.info.day, dm.info.ms, seq);
    if (rc == CX_EEXIST) rc = 0;
    if (!rc) {
      res.log_seq = seq;
      if (r->o.on_data) r->o.on_data(r->o.ud);
      publish_result(r, seq, 0, 0, &res);
      return 0;
    }
    snprintf(why, sizeof why, "%s", cx_store_errmsg(r->st));
    snprintf(res.error, sizeof res.error, "%s", why);
  } else if (rc == 1 && !(rc = cx__replog_build(r->st, data, n, &b, &info, why, sizeof why))) {
    pthread_mutex_lock(&r->mu);
    if (r->applied + 1 == seq) r->next_ms = info.ms;
    pthread_mutex_unlock(&r->mu);
    if ((rc = cx_batch_set_log_seq(b, seq))) {
      cx_batch_abort(b);
      return rc;
    }
    rc = cx_batch_commit(b, &res);
    if (rc == CX_EEXIST) rc = 0; /* applied already (cannot happen with one applier) */
    if (!rc) {
      res.log_seq = seq;
      publish_result(r, seq, 0, 0, &res);
      return 0;
    }
    snprintf(why, sizeof why, "%s", res.error[0] ? res.error : cx_strerror(rc));
  } else {
    snprintf(res.error, sizeof res.error, "%s", why);
  }
  if (deterministic(rc)) {
    /* Refused by every node alike: move the position alone; the writer gets the refusal. */
    int e = cx_store_set_log_seq(r->st, seq);
    if (e && e != CX_EEXIST) return e;
    pthread_mutex_lock(&r->mu);
    r->refused++;
    pthread_mutex_unlock(&r->mu);
    if (rc == CX_EBADFRAME || (!b && rc != CX_EBADREQ))
      cx_net_log("log: message %" PRIu64 " refused: %s", seq, why);
    res.log_seq = seq;
    publish_result(r, seq, rc, bad_line, &res);
    return 0;
  }
  pthread_mutex_lock(&r->mu);
  r->apply_errors++;
  pthread_mutex_unlock(&r->mu);
  cx_net_log("log: cannot apply message %" PRIu64 " now (%s): retrying", seq, why);
  return rc;
}

/* First and last sequence of the stream. 0 or -1. */
static int stream_info(cx_replog *r, uint64_t *first, uint64_t *last, char *why, size_t cap) {
  jsStreamInfo *si = NULL;
  jsErrCode je = 0;
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = 2000;
  natsStatus s = js_GetStreamInfo(&si, r->js, r->stream, &jo, &je);
  if (s != NATS_OK) {
    if (why) snprintf(why, cap, "%s", nats_why(s, je));
    return je == JSStreamNotFoundErr ? -2 : -1;
  }
  *first = si->State.FirstSeq;
  *last = si->State.LastSeq;
  jsStreamInfo_Destroy(si);
  return 0;
}

static void refresh_info(cx_replog *r) {
  uint64_t f, l;
  if (stream_info(r, &f, &l, NULL, 0)) return;
  pthread_mutex_lock(&r->mu);
  r->first = f;
  if (l > r->last) r->last = l;
  r->last_info_ms = mono_ms();
  if (r->applied < r->last && !r->behind_since_ms) r->behind_since_ms = cx_audit_now_ms();
  pthread_mutex_unlock(&r->mu);
}

static void wake_cb(natsConnection *nc, natsSubscription *sub, natsMsg *msg, void *closure) {
  (void)nc, (void)sub;
  cx_replog *r = closure;
  natsMsg_Destroy(msg);
  pthread_mutex_lock(&r->mu);
  r->wake = 1;
  pthread_cond_signal(&r->wake_cv);
  pthread_mutex_unlock(&r->mu);
}

static void *apply_main(void *arg) {
  cx_replog *r = arg;
  int64_t last_info = 0, missing_since = 0;
  uint64_t missing = 0;
  int missing_told = 0;
  for (;;) {
    pthread_mutex_lock(&r->mu);
    int stop = r->stop;
    uint64_t next = r->applied + 1;
    pthread_mutex_unlock(&r->mu);
    if (stop) break;
    if (mono_ms() - last_info >= INFO_EVERY_MS) {
      refresh_info(r);
      last_info = mono_ms();
    }
    natsMsg *m = NULL;
    jsErrCode je = 0;
    jsOptions jo;
    jsOptions_Init(&jo);
    jo.Wait = GET_WAIT_MS;
    natsStatus s = js_GetMsg(&m, r->js, r->stream, next, &jo, &je);
    if (s == NATS_OK) {
      int rc = apply_one(r, next, natsMsg_GetData(m), (size_t)natsMsg_GetDataLength(m));
      natsMsg_Destroy(m);
      missing_told = 0;
      if (rc) { /* this node's failure: wait, then the same message again */
        pthread_mutex_lock(&r->mu);
        struct timespec ts;
        deadline_ts(&ts, 1000);
        if (!r->stop) pthread_cond_timedwait(&r->wake_cv, &r->mu, &ts);
        pthread_mutex_unlock(&r->mu);
      }
      continue;
    }
    /* Not there (yet), or the log is unreachable: is it gone from the stream? */
    if (je == JSNoMessageFoundErr) {
      refresh_info(r);
      last_info = mono_ms();
      pthread_mutex_lock(&r->mu);
      if (r->first > next && r->last >= r->first && !r->gone) {
        r->gone = 1;
        snprintf(r->gone_why, sizeof r->gone_why,
                 "message %" PRIu64 " is no longer in stream %s (it begins at %" PRIu64 "): this node "
                 "needs a newer backup", next, r->stream, r->first);
        cx_net_log("log: %s", r->gone_why);
      } else if (r->last >= next && r->first <= next && !r->gone) {
        /* Usually a race (published between the get and the info): say so only when it lasts. */
        if (missing != next) missing = next, missing_since = mono_ms();
        else if (mono_ms() - missing_since > 5000 && !missing_told) {
          missing_told = 1;
          cx_net_log("log: message %" PRIu64 " of stream %s cannot be read: waiting", next, r->stream);
        }
      }
      pthread_mutex_unlock(&r->mu);
    }
    pthread_mutex_lock(&r->mu);
    if (!r->wake && !r->stop) {
      struct timespec ts;
      deadline_ts(&ts, s == NATS_OK || je == JSNoMessageFoundErr ? POLL_MS : GET_RETRY_MS);
      pthread_cond_timedwait(&r->wake_cv, &r->mu, &ts);
    }
    r->wake = 0;
    pthread_mutex_unlock(&r->mu);
  }
  return NULL;
}

/* ===================================================================== the writer */

/*
 * Publishes msg (retrying with one Nats-Msg-Id until PUB_DEADLINE_MS) and waits until this
 * node's store has applied it; *e is that application's ring entry (e->seq 0: its result is
 * gone, applied all the same). CX_ETIMEOUT with err: no ack, not applied in time, or the
 * server stops (cx__replog_stopping: answered at once, "shutting down").
 */
static int publish_wait(cx_replog *r, const cx_buf *msg, ring_ent *e, char *err, size_t cap, int wait_apply) {
  memset(e, 0, sizeof *e);
  /* A message the NATS servers would refuse is refused here, with why, rather than retried
   * until the deadline as if the log were away (NATS: max_payload, 1 MiB by default). */
  int64_t maxp = natsConnection_GetMaxPayload(r->nc);
  if (maxp > 0 && msg->len > (size_t)maxp) {
    snprintf(err, cap, "this write is a log message of %zu bytes and the log's servers take at most %" PRId64
             " (NATS max_payload): send it in smaller parts, or raise max_payload", msg->len, maxp);
    return CX_ETOOLARGE;
  }
  char id[160];
  pthread_mutex_lock(&r->mu);
  uint64_t k = ++r->counter;
  r->writers++;
  pthread_mutex_unlock(&r->mu);
  snprintf(id, sizeof id, "%s-%" PRIx64 "-%" PRIu64, r->node, r->boot, k);
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MsgId = id;
  po.MaxWait = PUB_TRY_MS;
  po.ExpectStream = r->stream;
  uint64_t seq = 0;
  int64_t t_begin = mono_ms();
  int64_t t_end = t_begin + PUB_DEADLINE_MS;
  const char *last_err = "";
  int attempts = 0, stopping = 0;
  for (;;) {
    jsPubAck *pa = NULL;
    jsErrCode je = 0;
    natsStatus s = js_Publish(&pa, r->js, r->subject, msg->p, (int)msg->len, &po, &je);
    attempts++;
    if (s == NATS_OK) {
      seq = pa->Sequence;
      int dup = pa->Duplicate;
      jsPubAck_Destroy(pa);
      pthread_mutex_lock(&r->mu);
      if (!dup) r->published++;
      else r->duplicates++;
      if (attempts > 1) r->retries += (uint64_t)(attempts - 1);
      if (seq > r->last) r->last = seq;
      pthread_mutex_unlock(&r->mu);
      if (r->o.test_republish && !dup) {
        /* Test hook: the ack of the first publish "was lost"; the retry must be a duplicate. */
        attempts = 1;
        continue;
      }
      break;
    }
    last_err = nats_why(s, je);
    /* Retried whatever the failure (no ack, no responders while the stream elects a leader,
     * JetStream unavailable): the same Nats-Msg-Id makes a retry of a stored message an ack
     * of the first. A server that stops answers at once instead (the write may land). */
    pthread_mutex_lock(&r->mu);
    stopping = r->stop || r->stopping;
    pthread_mutex_unlock(&r->mu);
    if (stopping || mono_ms() >= t_end) break;
    nats_Sleep(100);
  }
  if (!seq) {
    pthread_mutex_lock(&r->mu);
    r->pub_failed++;
    r->writers--;
    pthread_cond_broadcast(&r->applied_cv);
    pthread_mutex_unlock(&r->mu);
    if (stopping) {
      snprintf(err, cap, "this node is shutting down; the write may still be applied (%s): retry it", last_err);
      return CX_ETIMEOUT;
    }
    snprintf(err, cap, "the replicated log did not acknowledge the write (%s); it may still be applied: retry it",
             last_err);
    cx_net_log("log: publish failed after %d attempts: %s", attempts, last_err);
    return CX_ETIMEOUT;
  }
  if (!wait_apply) {
    pthread_mutex_lock(&r->mu);
    r->writers--;
    pthread_cond_broadcast(&r->applied_cv);
    pthread_mutex_unlock(&r->mu);
    e->res.log_seq = seq;
    return 0;
  }
  int64_t t_ack = mono_ms();
  /* Wait for this node's store to apply it: the answer is that application's. */
  pthread_mutex_lock(&r->mu);
  pthread_cond_signal(&r->wake_cv);
  r->wake = 1;
  struct timespec ts;
  deadline_ts(&ts, APPLY_WAIT_MS);
  int w = 0;
  while (r->applied < seq && !r->stop && !r->stopping && w != ETIMEDOUT)
    w = pthread_cond_timedwait(&r->applied_cv, &r->mu, &ts);
  int rc = 0;
  if (r->applied < seq) {
    snprintf(err, cap, "the write is in the log (sequence %" PRIu64 ") but this node has not applied it %s", seq,
             r->stop || r->stopping ? "before shutting down: it is durable; other nodes apply it" : "yet");
    rc = r->stop || r->stopping ? CX_ETIMEOUT : CX_ETIMEOUT;
    e->res.log_seq = seq;
  } else if (r->ring[seq % RING].seq != seq) { /* overwritten: RING newer messages came first */
    e->res.log_seq = seq;
  } else {
    *e = r->ring[seq % RING];
    rc = e->rc;
  }
  r->writers--;
  pthread_cond_broadcast(&r->applied_cv);
  pthread_mutex_unlock(&r->mu);
  int64_t t_done = mono_ms();
  if (t_done - t_begin > SLOW_WRITE_MS) /* where a slow write waited (docs/scaling.md "Failure modes") */
    cx_net_log("log: write of sequence %" PRIu64 " took %" PRId64 " ms: acknowledged after %" PRId64 " ms (%d "
               "attempt%s), applied here %" PRId64 " ms later", seq, t_done - t_begin, t_ack - t_begin, attempts,
               attempts == 1 ? "" : "s", t_done - t_ack);
  return rc;
}

int cx__replog_commit(cx_replog *r, cx_batch *b, cx_batch_result *res) {
  memset(res, 0, sizeof *res);
  res->bad_put = UINT32_MAX;
  cx_buf msg;
  if (cx_buf_init(&msg, 4096)) {
    cx_batch_abort(b);
    return CX_ENOMEM;
  }
  cx_day day = cx_day_today();
  int64_t ms = cx_audit_now_ms();
  int rc = cx__replog_encode(b, day, ms, r->node, &msg);
  cx_batch_abort(b); /* every node, this one too, applies the message instead */
  if (rc) {
    cx_buf_free(&msg);
    snprintf(res->error, sizeof res->error, "cannot encode the batch: %s", cx_strerror(rc));
    return rc;
  }
  ring_ent e;
  char err[sizeof res->error];
  rc = publish_wait(r, &msg, &e, err, sizeof err, 1);
  cx_buf_free(&msg);
  *res = e.res;
  if (e.seq == 0 && !rc) snprintf(res->error, sizeof res->error, "applied (sequence %" PRIu64 "); its result is gone",
                                  res->log_seq);
  if (e.seq == 0 && rc) snprintf(res->error, sizeof res->error, "%s", err);
  if (e.seq == 0) res->bad_put = UINT32_MAX;
  return rc;
}

int cx__replog_load(cx_replog *r, const char *name, const char *text, size_t n, const cx_audit_entry *ae,
                    int *bad_line, uint64_t *seq, char *err, size_t cap) {
  cx_buf msg;
  if (cx_buf_init(&msg, n + 1024)) return CX_ENOMEM;
  int rc = cx__replog_encode_data(name, text, n, ae, cx_day_today(), cx_audit_now_ms(), r->node, &msg);
  if (rc) {
    cx_buf_free(&msg);
    snprintf(err, cap, "cannot encode the data file: %s", cx_strerror(rc));
    return rc;
  }
  ring_ent e;
  char why[256];
  rc = publish_wait(r, &msg, &e, why, sizeof why, 1);
  cx_buf_free(&msg);
  *seq = e.res.log_seq;
  if (e.seq) {
    *bad_line = e.bad_line;
    snprintf(err, cap, "%s", e.res.error);
  } else {
    snprintf(err, cap, "%s", why);
  }
  return rc;
}

/* Creates stream name on subject: R replicas on file storage, messages never deleted one by
 * one (a gap in the sequence is never a deleted message), the 2-minute duplicate window, and
 * with max_msgs > 0 a retention of that many messages. NATS_OK when made; *je says why not
 * (JSStreamNameExistErr: another node made it meanwhile). */
static natsStatus add_stream(cx_replog *r, const char *name, const char *subject, int64_t max_msgs,
                             jsErrCode *je) {
  jsStreamConfig cfg;
  jsStreamConfig_Init(&cfg);
  const char *subj[1] = {subject};
  cfg.Name = name;
  cfg.Subjects = subj;
  cfg.SubjectsLen = 1;
  cfg.Storage = js_FileStorage;
  cfg.Replicas = r->o.replicas;
  cfg.DenyDelete = true;
  if (max_msgs > 0) cfg.MaxMsgs = max_msgs; /* older messages go: new nodes need backups */
  cfg.Duplicates = (int64_t)120 * 1000000000;
  jsStreamInfo *si = NULL;
  *je = 0;
  natsStatus s = js_AddStream(&si, r->js, &cfg, NULL, je);
  if (s == NATS_OK) {
    jsStreamInfo_Destroy(si);
    cx_net_log("log: created stream %s (subject %s, %d replicas)", name, subject, r->o.replicas);
  }
  return s;
}

/* The receipt epochs' stream (<stream>_EPOCHS): found, or created as the batches' stream is,
 * without a retention (nothing of it is ever dropped). */
static int epochs_stream(cx_replog *r, char *err, size_t cap) {
  jsOptions jo;
  jsOptions_Init(&jo);
  jo.Wait = 2000;
  int64_t t_end = mono_ms() + 15000;
  for (;;) {
    jsStreamInfo *si = NULL;
    jsErrCode je = 0;
    natsStatus s = js_GetStreamInfo(&si, r->js, r->estream, &jo, &je);
    if (s == NATS_OK) {
      jsStreamInfo_Destroy(si);
      return 0;
    }
    if (je == JSStreamNotFoundErr) {
      if ((s = add_stream(r, r->estream, r->esubject, 0, &je)) == NATS_OK) return 0;
      if (je == JSStreamNameExistErr) continue; /* another node made it meanwhile */
    }
    if (mono_ms() >= t_end) {
      snprintf(err, cap, "stream %s at %s: %s", r->estream, r->urls, nats_why(s, je));
      return CX_ECONN;
    }
    nats_Sleep(250);
  }
}

/* One message on the epochs' stream (the node's name); *seq: its sequence. Retried with the same
 * Nats-Msg-Id until acknowledged (a retry of a stored one is acknowledged as a duplicate with the
 * first one's sequence), up to the publish deadline. */
static int epoch_publish(cx_replog *r, int attempt, uint64_t *seq, char *err, size_t cap) {
  char id[200];
  snprintf(id, sizeof id, "%s-%" PRIx64 "-epoch-%d", r->node, r->boot, attempt);
  jsPubOptions po;
  jsPubOptions_Init(&po);
  po.MsgId = id;
  po.MaxWait = PUB_TRY_MS;
  po.ExpectStream = r->estream;
  int64_t t_end = mono_ms() + PUB_DEADLINE_MS;
  for (;;) {
    jsPubAck *pa = NULL;
    jsErrCode je = 0;
    natsStatus s = js_Publish(&pa, r->js, r->esubject, r->node, (int)strlen(r->node), &po, &je);
    if (s == NATS_OK) {
      *seq = pa->Sequence;
      jsPubAck_Destroy(pa);
      return 0;
    }
    if (mono_ms() >= t_end) {
      snprintf(err, cap, "no receipt epoch: stream %s did not acknowledge (%s)", r->estream, nats_why(s, je));
      return CX_ETIMEOUT;
    }
    nats_Sleep(100);
  }
}

int cx__replog_epoch(cx_replog *r, uint32_t *epoch, char *err, size_t cap) {
  /* The epoch is the sequence of a message of the epochs' stream, which only node starts write:
   * unique per node start, one more per start (24 bits: 16.7 million node starts), taken without
   * waiting for this node to catch up with the batches. (The batches' own sequence, which the
   * first format used, passes 24 bits after 16.7 million writes.) It must also be above every
   * epoch the store gave before it followed the log (a single node's counter, on every copy of
   * the store the nodes came from): one at or below it is followed by another. Then the epoch is
   * claimed in the batches' stream, so that every node learns which node issues its receipts. */
  uint32_t floor = 0;
  int rc = cx_store_checks_epoch_last(r->st, &floor);
  if (rc) {
    snprintf(err, cap, "cannot read the store's receipt epoch: %s", cx_strerror(rc));
    return rc;
  }
  if ((rc = epochs_stream(r, err, cap))) return rc;
  uint64_t e = 0;
  for (int tries = 0; tries < 4096 && e <= floor; tries++) {
    if ((rc = epoch_publish(r, tries, &e, err, cap))) return rc;
    if (e > 0xFFFFFFu) {
      snprintf(err, cap, "stream %s has given %" PRIu64 " receipt epochs, and receipts keep 24 bits for it: "
               "recreate it above the stores' epochs (docs/scaling.md \"Feedback and receipts\")", r->estream, e);
      return CX_ETOOLARGE;
    }
  }
  if (e <= floor) {
    snprintf(err, cap, "no receipt epoch from the log above the store's %u", (unsigned)floor);
    return CX_EINTERNAL;
  }
  v3_msg claim;
  memset(&claim, 0, sizeof claim);
  claim.epoch = (uint32_t)e;
  cx_buf msg;
  if (cx_buf_init(&msg, 256)) return CX_ENOMEM;
  rc = encode_v3(r, 'e', &claim, NULL, &msg);
  ring_ent re;
  memset(&re, 0, sizeof re);
  if (!rc) rc = publish_wait(r, &msg, &re, err, cap, 0);
  cx_buf_free(&msg);
  if (rc) return rc;
  *epoch = (uint32_t)e;
  __atomic_store_n(&r->epoch, (uint32_t)e, __ATOMIC_RELAXED);
  return 0;
}

int cx__replog_feedback(cx_replog *r, uint64_t receipt, int outcome, cx_str who, int any_who, cx_str note,
                        const cx_audit_entry *ae, cx_check_entry *old, int *applied, uint64_t *seq, char *err,
                        size_t cap) {
  cx_buf msg;
  if (cx_buf_init(&msg, 512 + note.n)) return CX_ENOMEM;
  v3_msg f;
  memset(&f, 0, sizeof f);
  f.receipt = receipt, f.outcome = outcome, f.who = who, f.any_who = any_who, f.note = note;
  int rc = encode_v3(r, 'f', &f, ae, &msg);
  ring_ent e;
  memset(&e, 0, sizeof e);
  if (!rc) rc = publish_wait(r, &msg, &e, err, cap, 1);
  cx_buf_free(&msg);
  *seq = e.res.log_seq;
  *applied = e.seq ? e.fb_applied : 0;
  memset(old, 0, sizeof *old);
  if (e.seq) *old = e.fb_old;
  if (rc && e.seq) snprintf(err, cap, "%s", e.res.error);
  return rc;
}

/* ===================================================================== open, stats, close */

void cx_replog_opts_default(cx_replog_opts *o) {
  memset(o, 0, sizeof *o);
  o->replicas = 3;
}

int cx__replog_open(cx_store *st, const cx_replog_opts *o, cx_replog **out, char *why, size_t cap) {
  if (!o->urls || !*o->urls || !o->stream || !*o->stream) {
    snprintf(why, cap, "--log needs --stream NAME too");
    return CX_EBADREQ;
  }
  for (const char *c = o->stream; *c; c++)
    if (!((*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '_' || *c == '-')) {
      snprintf(why, cap, "--stream: letters, digits, '_' and '-' only");
      return CX_EBADREQ;
    }
  if (strlen(o->stream) > CX_LOG_STREAM_MAX) {
    snprintf(why, cap, "--stream: at most %u characters", CX_LOG_STREAM_MAX);
    return CX_EBADREQ;
  }
  if (o->replicas < 1 || o->replicas > 5) {
    snprintf(why, cap, "--log-replicas: 1..5");
    return CX_EBADREQ;
  }
  cx_replog *r = cx_calloc(1, sizeof *r);
  if (!r) return CX_ENOMEM;
  r->o = *o;
  r->st = st;
  snprintf(r->urls, sizeof r->urls, "%s", o->urls);
  snprintf(r->stream, sizeof r->stream, "%s", o->stream);
  snprintf(r->subject, sizeof r->subject, "chengxin.%s.batches", o->stream);
  snprintf(r->estream, sizeof r->estream, "%s_EPOCHS", o->stream);
  snprintf(r->esubject, sizeof r->esubject, "chengxin.%s.epochs", o->stream);
  if (o->node && *o->node) snprintf(r->node, sizeof r->node, "%s", o->node);
  else if (gethostname(r->node, sizeof r->node - 1) != 0 || !r->node[0]) snprintf(r->node, sizeof r->node, "node");
  for (char *c = r->node; *c; c++)
    if (*c == ' ' || *c == '\t') *c = '_';
  r->boot = (uint64_t)cx_audit_now_ms() << 16 ^ (uint64_t)getpid();
  pthread_mutex_init(&r->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&r->applied_cv, &ca);
  pthread_cond_init(&r->wake_cv, &ca);
  pthread_condattr_destroy(&ca);
  int rc = 0;
  natsOptions *no = NULL;
  natsStatus s;
  if ((rc = cx_store_log_seq(st, &r->applied))) {
    snprintf(why, cap, "cannot read the store's log position: %s", cx_strerror(rc));
    goto fail;
  }
  /* The store follows this stream from now on (from the start: at position 0 too, it refuses
   * every write that bypasses the log), and no other. */
  if ((rc = cx_store_set_log_stream(st, r->stream))) {
    char had[CX_LOG_STREAM_MAX + 1] = "";
    cx_store_log_stream(st, had, sizeof had);
    if (rc == CX_EEXIST)
      snprintf(why, cap, "this store follows stream %s, not %s: start it with --stream %s, or give this "
               "stream a store of its own (docs/scaling.md \"A new node\")", had, r->stream, had);
    else
      snprintf(why, cap, "cannot mark the store as following stream %s: %s", r->stream, cx_strerror(rc));
    rc = rc == CX_EEXIST ? CX_EVERSION : rc;
    goto fail;
  }
  /* natsOptions_SetServers, not SetURL: libnats 3.4's SetURL does not connect with a
   * comma-separated list ("No server available" while every server is up). */
  char ubuf[sizeof r->urls];
  const char *servers[16];
  int n_servers = 0;
  snprintf(ubuf, sizeof ubuf, "%s", r->urls);
  for (char *sv, *p = strtok_r(ubuf, ",", &sv); p && n_servers < 16; p = strtok_r(NULL, ",", &sv)) {
    while (*p == ' ') p++;
    if (*p) servers[n_servers++] = p;
  }
  if (!n_servers) {
    snprintf(why, cap, "--log: no server URL");
    rc = CX_EBADREQ;
    goto fail;
  }
  if ((s = natsOptions_Create(&no)) != NATS_OK || (s = natsOptions_SetServers(no, servers, n_servers)) != NATS_OK ||
      (s = natsOptions_SetName(no, "chengxind")) != NATS_OK || (s = natsOptions_SetMaxReconnect(no, -1)) != NATS_OK ||
      (s = natsOptions_SetReconnectWait(no, 250)) != NATS_OK || (s = natsOptions_SetTimeout(no, 2000)) != NATS_OK) {
    snprintf(why, cap, "--log %s: %s", r->urls, natsStatus_GetText(s));
    rc = CX_EBADREQ;
    goto fail;
  }
  if ((s = natsConnection_Connect(&r->nc, no)) != NATS_OK) {
    snprintf(why, cap, "cannot reach the log at %s: %s", r->urls, natsStatus_GetText(s));
    rc = CX_ECONN;
    goto fail;
  }
  if ((s = natsConnection_JetStream(&r->js, r->nc, NULL)) != NATS_OK) {
    snprintf(why, cap, "JetStream: %s", natsStatus_GetText(s));
    rc = CX_ECONN;
    goto fail;
  }
  /* The stream: created when absent (R replicas on file storage; messages are never deleted
   * one by one, so a gap in the sequence is never a deleted batch), else taken as it is. */
  uint64_t first = 0, last = 0;
  char ew[200];
  int64_t t_end = mono_ms() + 15000; /* a cluster electing its JetStream leader answers late */
  for (;;) {
    int e = stream_info(r, &first, &last, ew, sizeof ew);
    if (e == 0) break;
    if (e == -2) {
      jsErrCode je = 0;
      if ((s = add_stream(r, r->stream, r->subject, o->max_msgs, &je)) == NATS_OK) continue;
      if (je == JSStreamNameExistErr) continue; /* another node made it meanwhile */
      snprintf(ew, sizeof ew, "cannot create stream %s: %s", r->stream, nats_why(s, je));
    }
    if (mono_ms() >= t_end) {
      snprintf(why, cap, "stream %s at %s: %s", r->stream, r->urls, ew);
      rc = CX_ECONN;
      goto fail;
    }
    nats_Sleep(250);
  }
  uint64_t next = r->applied + 1;
  if (first > next && last >= first) {
    snprintf(why, cap, "the store is at log sequence %" PRIu64 ", but stream %s now begins at %" PRIu64
             ": the messages between are gone; this node needs a newer backup (one taken at sequence %"
             PRIu64 " or later; docs/scaling.md \"A new node\")", r->applied, r->stream, first, first - 1);
    rc = CX_EVERSION;
    goto fail;
  }
  if (r->applied > last) {
    snprintf(why, cap, "the store is at log sequence %" PRIu64 ", past the end of stream %s (%" PRIu64
             "): it follows another stream, or the stream was recreated; restore a backup of this "
             "stream (docs/scaling.md)", r->applied, r->stream, last);
    rc = CX_EVERSION;
    goto fail;
  }
  r->first = first;
  r->last = last;
  r->last_info_ms = mono_ms();
  if (r->applied < last) r->behind_since_ms = cx_audit_now_ms();
  if ((s = natsConnection_Subscribe(&r->wake_sub, r->nc, r->subject, wake_cb, r)) != NATS_OK) {
    snprintf(why, cap, "cannot subscribe to %s: %s", r->subject, natsStatus_GetText(s));
    rc = CX_ECONN;
    goto fail;
  }
  if (pthread_create(&r->th, NULL, apply_main, r) != 0) {
    snprintf(why, cap, "cannot start the log applier");
    rc = CX_EINTERNAL;
    goto fail;
  }
  r->started = 1;
  natsOptions_Destroy(no);
  cx_net_log("log: following stream %s at %s from sequence %" PRIu64 " (stream %" PRIu64 "..%" PRIu64
             "), node %s", r->stream, r->urls, r->applied, first, last, r->node);
  *out = r;
  return 0;
fail:
  if (no) natsOptions_Destroy(no);
  cx__replog_close(r);
  return rc;
}

void cx__replog_stats(cx_replog *r, cx_replog_stats *o) {
  memset(o, 0, sizeof *o);
  pthread_mutex_lock(&r->mu);
  o->applied = r->applied;
  o->first = r->first;
  o->last = r->last > r->applied ? r->last : r->applied;
  o->lag = o->last - r->applied;
  if (o->lag) {
    int64_t since = r->next_ms ? r->next_ms : r->behind_since_ms;
    int64_t now = cx_audit_now_ms();
    o->lag_s = since && now > since ? (double)(now - since) / 1000.0 : 0;
  }
  o->published = r->published;
  o->duplicates = r->duplicates;
  o->retries = r->retries;
  o->refused = r->refused;
  o->apply_errors = r->apply_errors;
  o->publish_failed = r->pub_failed;
  o->info_age_ms = mono_ms() - r->last_info_ms;
  o->gone = r->gone;
  o->connected = r->nc && natsConnection_Status(r->nc) == NATS_CONN_STATUS_CONNECTED;
  pthread_mutex_unlock(&r->mu);
  snprintf(o->stream, sizeof o->stream, "%s", r->stream);
  snprintf(o->node, sizeof o->node, "%s", r->node);
}

int cx__replog_ready(cx_replog *r, char *why, size_t cap) {
  cx_replog_stats s;
  cx__replog_stats(r, &s);
  if (s.gone) {
    pthread_mutex_lock(&r->mu);
    snprintf(why, cap, "%s", r->gone_why);
    pthread_mutex_unlock(&r->mu);
    return 0;
  }
  if (s.info_age_ms > STALE_MS) {
    snprintf(why, cap, "the log has not answered for %" PRId64 " s: the lag is unknown", s.info_age_ms / 1000);
    return 0;
  }
  if (r->o.max_lag && s.lag > r->o.max_lag) {
    snprintf(why, cap, "%" PRIu64 " messages behind the log (at most %" PRIu64 ")", s.lag, r->o.max_lag);
    return 0;
  }
  return 1;
}

int cx__replog_wait(cx_replog *r, uint64_t seq, unsigned wait_ms, uint64_t *applied) {
  pthread_mutex_lock(&r->mu);
  if (r->applied < seq && wait_ms) {
    struct timespec ts;
    deadline_ts(&ts, wait_ms);
    int w = 0;
    while (r->applied < seq && !r->stop && !r->stopping && w != ETIMEDOUT)
      w = pthread_cond_timedwait(&r->applied_cv, &r->mu, &ts);
  }
  uint64_t at = r->applied;
  pthread_mutex_unlock(&r->mu);
  if (applied) *applied = at;
  return at >= seq ? 0 : CX_ETIMEOUT;
}

void cx__replog_stopping(cx_replog *r) {
  pthread_mutex_lock(&r->mu);
  r->stopping = 1;
  pthread_cond_broadcast(&r->applied_cv);
  pthread_mutex_unlock(&r->mu);
}

void cx__replog_close(cx_replog *r) {
  if (!r) return;
  pthread_mutex_lock(&r->mu);
  r->stop = 1;
  pthread_cond_broadcast(&r->wake_cv);
  pthread_cond_broadcast(&r->applied_cv);
  /* A writer still inside a publish attempt (at most PUB_TRY_MS) leaves at its end. */
  struct timespec ts;
  deadline_ts(&ts, PUB_TRY_MS + 1000);
  int w = 0;
  while (r->writers > 0 && w != ETIMEDOUT) w = pthread_cond_timedwait(&r->applied_cv, &r->mu, &ts);
  pthread_mutex_unlock(&r->mu);
  if (r->started) pthread_join(r->th, NULL);
  if (r->wake_sub) {
    natsSubscription_Unsubscribe(r->wake_sub);
    natsSubscription_Destroy(r->wake_sub);
  }
  if (r->js) jsCtx_Destroy(r->js);
  if (r->nc) {
    natsConnection_Close(r->nc);
    natsConnection_Destroy(r->nc);
  }
  pthread_cond_destroy(&r->applied_cv);
  pthread_cond_destroy(&r->wake_cv);
  pthread_mutex_destroy(&r->mu);
  free(r);
}
