/* batch.c — buffered writes: validation at put, one write transaction at commit.
 *
 * Commit, in one txn (retried whole after growing the map on MDB_MAP_FULL):
 *   1. resolve every op (read-only lookups; new authorities and entities get ids), build the new
 *      record values, compare replacements with the stored bytes (identical = unchanged),
 *      accumulate rollup deltas in memory;
 *   2. delete moved record keys, write the records sorted by key (locality), their fact slots
 *      (facts DB), then the refs;
 *   3. apply the rollup deltas (one read-modify-write per touched cell);
 *   4. rebuild the summary of every dirty entity once, from its records;
 *   5. store the counters and commit.
 * The batch's audit entries (cx_batch_audit) are written first, in the same txn: a failure at
 * any later step aborts them with the change they record.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "store_int.h"

/* One slot per (authority, record_id): an optional put, then the events on it in order. */
typedef struct bop {
  uint8_t has_put, is_person;
  uint32_t put_index;        /* has_put: the index of its (last) cx_batch_put */
  int32_t ev_head, ev_tail;  /* events (b->evs), -1: none */
  char code[CX_CODE_LEN + 1], acode[CX_CODE_LEN + 1];
  cx_str rid;                /* in the batch arena */
  cx_record r;               /* has_put: strings in the batch arena */
} bop;

typedef struct bev {
  uint8_t ev, override;
  int32_t next;
  cx_str reason;             /* in the batch arena */
} bev;

struct cx_batch {
  cx_store *st;
  cx_arena arena;
  bop *ops;
  size_t n, cap;
  bev *evs;
  size_t n_evs, cap_evs;
  cx_hmap refs; /* authority code (18) + record_id -> op index */
  /* The last authority code as given and normalised: files repeat one authority for long runs. */
  char last_araw[64];
  uint32_t last_araw_n;
  char last_acode[CX_CODE_LEN + 1];
  cx_audit_entry *aud;   /* audit entries, strings in the arena */
  size_t n_aud, cap_aud;
  /* The actor (cx_batch_set_actor): audit fields of transitions, override right, scope. */
  cx_str who, role, client;
  int may_override, scoped;
  uint32_t n_scope;
  char (*scope)[CX_CODE_LEN + 1];
  uint32_t n_puts;       /* successful cx_batch_put calls */
  int restore;           /* cx_batch_set_restore: puts write the stored state as given */
  cx_batch_refused_fn refused_fn;
  void *refused_ctx;
  /* cx_batch_set_clock: the day and time the batch is applied as (0: the clock at commit) */
  cx_day clock_day;
  int64_t clock_ms;
  uint64_t log_seq;      /* cx_batch_set_log_seq: stored in meta "log_seq" at commit (0: none) */
};

void cx_batch_on_refused(cx_batch *b, cx_batch_refused_fn fn, void *ctx) {
  b->refused_fn = fn;
  b->refused_ctx = ctx;
}

int cx_batch_begin(cx_store *st, cx_batch **out) {
  if (st->read_only) {
    cx__store_setmsg(st, "store opened read-only");
    return CX_EROFS;
  }
  cx_batch *b = cx_calloc(1, sizeof *b);
  if (!b) return CX_ENOMEM;
  b->st = st;
  *out = b;
  return 0;
}

size_t cx_batch_size(const cx_batch *b) { return b->n; }

int cx_batch_set_clock(cx_batch *b, cx_day day, int64_t time_ms) {
  if (b->n || b->n_aud || day == CX_DAY_NONE || day == CX_DAY_OPEN || time_ms <= 0) return CX_EBADREQ;
  b->clock_day = day;
  b->clock_ms = time_ms;
  return 0;
}

int cx_batch_set_log_seq(cx_batch *b, uint64_t seq) {
  if (!seq) return CX_EBADREQ;
  b->log_seq = seq;
  return 0;
}

/* The batch's today: its clock when stamped (a replicated batch), else the Beijing day now. */
static cx_day batch_today(const cx_batch *b) { return b->clock_day ? b->clock_day : cx_day_today(); }
static int64_t batch_now_ms(const cx_batch *b) { return b->clock_ms ? b->clock_ms : cx_audit_now_ms(); }

int cx_batch_each(const cx_batch *b, const cx_batch_visitor *v, void *ctx) {
  int rc;
  if (b->restore) return CX_EBADREQ;
  if (v->actor && (b->who.n || b->role.n || b->client.n || b->scoped || b->may_override)) {
    cx_batch_actor a;
    memset(&a, 0, sizeof a);
    a.who = b->who;
    a.role = b->role;
    a.client = b->client;
    a.may_override = b->may_override;
    if (b->scoped) {
      static const char none[1][CX_CODE_LEN + 1] = {""};
      a.authorities = b->n_scope ? (const char(*)[CX_CODE_LEN + 1])b->scope : none;
      a.n_authorities = b->n_scope;
    }
    if ((rc = v->actor(ctx, &a))) return rc;
  }
  for (size_t i = 0; i < b->n_aud; i++)
    if (v->audit && (rc = v->audit(ctx, &b->aud[i]))) return rc;
  for (size_t i = 0; i < b->n; i++) {
    const bop *op = &b->ops[i];
    if (op->has_put && v->put) {
      /* The record as a source would give it again: the codes as stored (normalised), the
       * receipt day taken back out (the applying batch stamps its own clock's day). */
      cx_record r = op->r;
      r.entity_code = (cx_str){op->code, CX_CODE_LEN};
      r.authority_code = (cx_str){op->acode, CX_CODE_LEN};
      if (r.report_received) {
        r.report_date = CX_DAY_NONE;
        r.report_received = 0;
      }
      if ((rc = v->put(ctx, &r))) return rc;
    }
    for (int32_t e = op->ev_head; e >= 0 && v->transition; e = b->evs[e].next) {
      const bev *ev = &b->evs[e];
      if ((rc = v->transition(ctx, (cx_str){op->acode, CX_CODE_LEN}, op->rid, ev->ev, ev->override, ev->reason)))
        return rc;
    }
  }
  return 0;
}

int cx_batch_set_restore(cx_batch *b) {
  if (b->n || b->n_aud) return CX_EBADREQ;
  b->restore = 1;
  return 0;
}

void cx_batch_abort(cx_batch *b) {
  if (!b) return;
  cx__arena_free(&b->arena);
  cx__hmap_free(&b->refs);
  free(b->ops);
  free(b->evs);
  free(b->aud);
  free(b->scope);
  free(b);
}

static int copy_str(cx_batch *b, cx_str *s) {
  if (!s->n) {
    s->p = "";
    return 0;
  }
  char *p = cx__arena_alloc(&b->arena, s->n);
  if (!p) return CX_ENOMEM;
  memcpy(p, s->p, s->n);
  s->p = p;
  return 0;
}

int cx_batch_audit(cx_batch *b, const cx_audit_entry *e) {
  if (b->n_aud == b->cap_aud) {
    size_t cap = b->cap_aud ? b->cap_aud * 2 : 4;
    cx_audit_entry *p = cx_realloc(b->aud, cap * sizeof *p);
    if (!p) return CX_ENOMEM;
    b->aud = p;
    b->cap_aud = cap;
  }
  cx_audit_entry a = *e;
  cx_str *f[6] = {&a.who, &a.role, &a.op, &a.target, &a.detail, &a.client};
  for (int i = 0; i < 6; i++) {
    if (!f[i]->p) *f[i] = (cx_str){"", 0};
    if (copy_str(b, f[i])) return CX_ENOMEM;
  }
  b->aud[b->n_aud++] = a;
  return 0;
}

int cx_batch_set_actor(cx_batch *b, const cx_batch_actor *a) {
  if (!a) return CX_EBADREQ;
  if (a->authorities && a->n_authorities > CX_MAX_SCOPE) return CX_EBADREQ;
  b->who = a->who;
  b->role = a->role;
  b->client = a->client;
  if (copy_str(b, &b->who) || copy_str(b, &b->role) || copy_str(b, &b->client)) return CX_ENOMEM;
  b->may_override = a->may_override != 0;
  free(b->scope);
  b->scope = NULL;
  b->n_scope = 0;
  b->scoped = a->authorities != NULL;
  if (b->scoped && a->n_authorities) {
    b->scope = cx_malloc((size_t)a->n_authorities * sizeof *b->scope);
    if (!b->scope) return CX_ENOMEM;
    for (uint32_t i = 0; i < a->n_authorities; i++) {
      memcpy(b->scope[i], a->authorities[i], CX_CODE_LEN);
      b->scope[i][CX_CODE_LEN] = 0;
    }
    b->n_scope = a->n_authorities;
  }
  return 0;
}

/* 1 when the actor may write records of authority acode (normalised). */
static int in_scope(const cx_batch *b, const char acode[CX_CODE_LEN]) {
  if (!b->scoped) return 1;
  for (uint32_t i = 0; i < b->n_scope; i++)
    if (memcmp(b->scope[i], acode, CX_CODE_LEN) == 0) return 1;
  return 0;
}

/* Finds or adds the op slot of (acode, rid). */
static bop *op_slot(cx_batch *b, const char acode[CX_CODE_LEN], cx_str rid, int *found) {
  unsigned char key[CX_CODE_LEN + CX_RECORD_ID_MAX];
  memcpy(key, acode, CX_CODE_LEN);
  memcpy(key + CX_CODE_LEN, rid.p, rid.n);
  uint32_t *slot = cx__hmap_put(&b->refs, key, CX_CODE_LEN + (size_t)rid.n, found);
  if (!slot) return NULL;
  if (*found) return &b->ops[*slot];
  if (b->n == b->cap) {
    size_t cap = b->cap ? b->cap * 2 : 256;
    bop *ops = cx_realloc(b->ops, cap * sizeof *ops);
    if (!ops) return NULL; /* the map now holds an index past the end: fixed below */
    b->ops = ops;
    b->cap = cap;
  }
  *slot = (uint32_t)b->n;
  bop *op = &b->ops[b->n++];
  memset(op, 0, sizeof *op);
  op->ev_head = op->ev_tail = -1;
  return op;
}

#define FAIL(code, msg) do { rc = (code); msg_ = (msg); goto fail; } while (0)

/* A put's or transition's message that names a byte. Per thread, not in the batch: callers
 * report *why after aborting the batch (fuzz_exec found that use after free). */
static _Thread_local char text_why[128];

/* 1 when s passes cx_text_check(kind); else text_why names the field and the byte. */
static int text_ok(const char *field, cx_str s, int kind) {
  cx_text_fault f;
  if (!s.n || cx_text_check(s.p, s.n, kind, &f) == 0) return 1;
  cx_text_fault_format(&f, field, text_why, sizeof text_why);
  return 0;
}

int cx_batch_put(cx_batch *b, const cx_record *in, const char **why) {
  const cx_catalog *cat = b->st->catalog;
  int rc;
  const char *msg_ = NULL;
  cx_record r = *in;
  char code[CX_CODE_LEN + 1], acode[CX_CODE_LEN + 1];
  int is_person = 0, crc;
  /* Strings first (docs/data-model.md "Strings"): what is refused here never reaches a
   * reader. The codes need no check: they are stored normalised, from their alphabet. */
  static const struct { const char *name; size_t off; int kind; } strs[] = {
      {"record_id", offsetof(cx_record, record_id), CX_TEXT_NAME},
      {"entity_name", offsetof(cx_record, entity_name), CX_TEXT_NAME},
      {"authority_name", offsetof(cx_record, authority_name), CX_TEXT_NAME},
      {"list_type", offsetof(cx_record, list_type), CX_TEXT_NAME},
      {"measures", offsetof(cx_record, measures), CX_TEXT_NAME},
      {"basis", offsetof(cx_record, basis), CX_TEXT_FREE},
      {"content", offsetof(cx_record, content), CX_TEXT_FREE},
      {"extra", offsetof(cx_record, extra), CX_TEXT_FREE}, /* TAB and LF: its separators */
  };
  for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++)
    if (!text_ok(strs[i].name, *(const cx_str *)((const char *)in + strs[i].off), strs[i].kind))
      FAIL(CX_EBADREQ, text_why);
  if (b->restore && (r.entity_kind == CX_KIND_UNSET || r.severity == CX_SEV_UNSET))
    FAIL(CX_EBADREQ, r.severity == CX_SEV_UNSET ? "severity: required in a restore" : "entity_kind: required in a restore");
  if (r.entity_kind == CX_KIND_UNSET) {
    if ((crc = cx_code_normalize(r.entity_code.p, r.entity_code.n, code, &is_person)))
      FAIL(CX_EINVALCODE, cx_code_why(crc, 0));
    r.entity_kind = cx_kind_from_code(code, is_person);
  }
  if (r.entity_kind >= CX_KIND_COUNT) FAIL(CX_EBADREQ, "entity_kind: out of range");
  int wants_person = r.entity_kind == CX_KIND_CIVIL_SERVANT || r.entity_kind == CX_KIND_PERSON;
  /* The kind says which standard the code follows: an organisation's code is validated as a
   * USCC only (an all-digit USCC may also read as an ID number), a person's as an ID number
   * or a typed identifier (passport, permit, permanent-residence card). */
  crc = wants_person ? cx_person_normalize(r.entity_code.p, r.entity_code.n, code)
                     : cx_uscc_normalize(r.entity_code.p, r.entity_code.n, code);
  if (crc) {
    char other[CX_CODE_LEN + 1];
    int p = 0;
    if (cx_code_normalize(r.entity_code.p, r.entity_code.n, other, &p) == 0 && p != wants_person)
      FAIL(CX_EINVALCODE, wants_person ? "entity_code: this entity_kind needs an ID number or a typed identifier"
                                       : "entity_code: this entity_kind needs a USCC");
    FAIL(CX_EINVALCODE, cx_code_why(crc, 0));
  }
  /* A civil servant is a citizen, identified by a resident ID number. */
  if (r.entity_kind == CX_KIND_CIVIL_SERVANT && cx_code_typed(code))
    FAIL(CX_EINVALCODE, "entity_code: a civil_servant is identified by an ID number");
  is_person = wants_person;
  if (b->last_araw_n && r.authority_code.n == b->last_araw_n &&
      memcmp(r.authority_code.p, b->last_araw, b->last_araw_n) == 0) {
    memcpy(acode, b->last_acode, sizeof acode);
  } else {
    if ((crc = cx_uscc_normalize(r.authority_code.p, r.authority_code.n, acode)))
      FAIL(CX_EINVALCODE, cx_code_why(crc, 1));
    if (r.authority_code.n <= sizeof b->last_araw) {
      memcpy(b->last_araw, r.authority_code.p, r.authority_code.n);
      b->last_araw_n = r.authority_code.n;
      memcpy(b->last_acode, acode, sizeof acode);
    }
  }
  if (!in_scope(b, acode)) FAIL(CX_EFORBIDDEN, "authority_code: not one of this writer's authorities");
  if (!r.record_id.n) FAIL(CX_EBADREQ, "record_id: required");
  if (r.record_id.n > CX_RECORD_ID_MAX) FAIL(CX_EBADREQ, "record_id: longer than 128 bytes");
  if (!r.entity_name.n) FAIL(CX_EBADREQ, "entity_name: required");
  if (r.entity_name.n > CX_MAX_ENTITY_NAME) FAIL(CX_EBADREQ, "entity_name: longer than 256 bytes");
  if (r.authority_name.n > CX_MAX_AUTH_NAME) FAIL(CX_EBADREQ, "authority_name: longer than 512 bytes");
  if (r.content.n > CX_MAX_TEXT) FAIL(CX_EBADREQ, "content: longer than 4096 bytes");
  if (r.basis.n > CX_MAX_TEXT) FAIL(CX_EBADREQ, "basis: longer than 4096 bytes");
  if (r.measures.n > CX_MAX_MEASURES_STR) FAIL(CX_EBADREQ, "measures: longer than 1024 bytes");
  if (r.extra.n > CX_MAX_EXTRA) FAIL(CX_EBADREQ, "extra: longer than 8192 bytes");
  if (r.display_until != CX_DAY_NONE && (r.display_until == CX_DAY_OPEN || r.display_until < r.decision_date))
    FAIL(CX_EDATE, "display_until: before decision_date");
  if (r.list_type.n >= CX_CODE_NAME_MAX) FAIL(CX_EBADREQ, "list_type: unknown list type");
  if (r.category >= CX_CAT_COUNT) FAIL(CX_EBADREQ, "category: out of range");
  if (r.subtype >= CX_SUB_COUNT || !cx_subtype_valid(r.category, r.subtype))
    FAIL(CX_EBADREQ, "subtype: not allowed for this category");
  if (r.domain >= CX_DOM_COUNT) FAIL(CX_EBADREQ, "domain: out of range");
  if (r.severity == CX_SEV_UNSET) r.severity = cx_catalog_tier(cat, &r);
  if (r.severity >= CX_SEV_COUNT) FAIL(CX_EBADREQ, "severity: out of range");
  if (r.status >= CX_ST_COUNT) FAIL(CX_EBADREQ, "status: out of range");
  if (r.objection > 1) FAIL(CX_EBADREQ, "objection: must be 0 or 1");
  if (r.decision_date == CX_DAY_NONE || r.decision_date == CX_DAY_OPEN)
    FAIL(CX_EDATE, "decision_date: required");
  {
    int y, m, d;
    cx_day_to_ymd(r.decision_date, &y, &m, &d);
    if (y < 1971 || y > 5000) FAIL(CX_EDATE, "decision_date: year out of range");
  }
  if (r.valid_from == CX_DAY_NONE) r.valid_from = r.decision_date;
  if (r.valid_from == CX_DAY_OPEN) FAIL(CX_EDATE, "valid_from: not a day");
  if (r.valid_until == CX_DAY_NONE) r.valid_until = CX_DAY_OPEN;
  if (r.valid_until != CX_DAY_OPEN && r.valid_until <= r.valid_from)
    FAIL(CX_EDATE, "valid_until: must be after valid_from");
  if (r.report_date == CX_DAY_OPEN) FAIL(CX_EDATE, "report_date: not a day");
  /* No report date: the platform's receipt day is when it was reported to the platform (a
   * replacement keeps the first receipt day, at commit). Not for a decision after today. */
  if (b->restore) {
    /* As stored: the receipt day and the timeliness the source store computed. */
    if (r.report_received > 1 || r.on_time > 1 || r.delay_provisional > 1)
      FAIL(CX_EBADREQ, "report_received, on_time, delay_provisional: must be 0 or 1");
    if (r.report_received && r.report_date == CX_DAY_NONE)
      FAIL(CX_EDATE, "report_received: needs a report_date");
    if (r.report_date == CX_DAY_NONE ? r.report_delay != -1 : r.report_delay < 0)
      FAIL(CX_EBADREQ, "report_delay: -1 exactly when there is no report_date");
  } else {
    r.report_received = 0;
  }
  if (!b->restore && r.report_date == CX_DAY_NONE) {
    cx_day today = batch_today(b);
    if (today >= r.decision_date) {
      r.report_date = today;
      r.report_received = 1;
    }
  }
  if (r.report_date != CX_DAY_NONE && r.report_date < r.decision_date)
    FAIL(CX_EDATE, "report_date: before decision_date");
  if (r.amount_fen < 0) FAIL(CX_EBADREQ, "amount_fen: negative");
  if (r.amount_fen > CX_MAX_AMOUNT_FEN) FAIL(CX_EBADREQ, "amount_fen: above 10^14 fen (1 trillion yuan)");
  int li = -1;
  if (r.list_type.n) {
    li = cx_catalog_list(cat, r.list_type);
    if (li < 0) FAIL(CX_EBADREQ, "list_type: not in the catalogue");
    if (cat->lists[li].category != r.category)
      FAIL(CX_EBADREQ, "list_type: belongs to another category");
  } else if (r.category == CX_CAT_BLACKLIST || r.category == CX_CAT_REDLIST) {
    FAIL(CX_EBADREQ, "list_type: required for blacklist and redlist records");
  }
  if (r.measures.n) {
    uint64_t mask;
    cx_str bad;
    if (cx_catalog_measures(cat, li, r.measures, &mask, &bad))
      FAIL(CX_EBADREQ, "measures: unknown measure code");
  }

  int found;
  size_t before = b->n;
  bop *op = op_slot(b, acode, r.record_id, &found);
  if (!op || (!found && b->n == before)) FAIL(CX_ENOMEM, "out of memory");
  if (found && b->restore) FAIL(CX_EBADREQ, "record_id: this record of this authority is given twice");
  r.entity_code = (cx_str){NULL, CX_CODE_LEN};
  r.authority_code = (cx_str){NULL, CX_CODE_LEN};
  memcpy(op->code, code, sizeof code);
  memcpy(op->acode, acode, sizeof acode);
  if ((rc = copy_str(b, &r.record_id)) || (rc = copy_str(b, &r.authority_name)) ||
      (rc = copy_str(b, &r.entity_name)) || (rc = copy_str(b, &r.list_type)) ||
      (rc = copy_str(b, &r.measures)) || (rc = copy_str(b, &r.basis)) ||
      (rc = copy_str(b, &r.content)) || (rc = copy_str(b, &r.extra)))
    FAIL(CX_ENOMEM, "out of memory");
  op->has_put = 1;
  op->put_index = b->n_puts++;
  op->is_person = (uint8_t)is_person;
  op->rid = r.record_id;
  op->r = r; /* entity_code / authority_code point at op->code / op->acode at commit */
  if (why) *why = NULL;
  return 0;
fail:
  if (why) *why = msg_;
  return rc;
}

int cx_batch_transition(cx_batch *b, cx_str authority_code, cx_str record_id, int ev,
                        int override, cx_str reason, const char **why) {
  int rc;
  const char *msg_ = NULL;
  char acode[CX_CODE_LEN + 1];
  if (b->restore) FAIL(CX_EBADREQ, "event: a restore writes the stored state, not transitions");
  /* The code is trimmed by the normaliser, but a door may echo it as given: no control. */
  if (!text_ok("authority_code", authority_code, CX_TEXT_NAME)) FAIL(CX_EBADREQ, text_why);
  int crc = cx_uscc_normalize(authority_code.p, authority_code.n, acode);
  if (crc) FAIL(CX_EINVALCODE, cx_code_why(crc, 1));
  if (!in_scope(b, acode)) FAIL(CX_EFORBIDDEN, "authority: not one of this writer's authorities");
  if (!record_id.n) FAIL(CX_EBADREQ, "record_id: required");
  if (record_id.n > CX_RECORD_ID_MAX) FAIL(CX_EBADREQ, "record_id: longer than 128 bytes");
  if (!text_ok("record_id", record_id, CX_TEXT_NAME) || !text_ok("reason", reason, CX_TEXT_FREE))
    FAIL(CX_EBADREQ, text_why);
  if (ev < 0 || ev >= CX_EV_COUNT) FAIL(CX_EBADREQ, "event: unknown lifecycle event");
  if (!reason.n) FAIL(CX_EBADREQ, "reason: required");
  if (reason.n > CX_AUDIT_DETAIL_MAX) FAIL(CX_EBADREQ, "reason: longer than 1024 bytes");
  if (override && ev != CX_EV_REPAIR) FAIL(CX_EBADREQ, "override: only for repair");
  if (override && !b->may_override) FAIL(CX_EFORBIDDEN, "override: only admin may repair early");
  if (b->n_evs == b->cap_evs) {
    size_t cap = b->cap_evs ? b->cap_evs * 2 : 16;
    bev *p = cx_realloc(b->evs, cap * sizeof *p);
    if (!p) FAIL(CX_ENOMEM, "out of memory");
    b->evs = p;
    b->cap_evs = cap;
  }
  int found;
  size_t before = b->n;
  bop *op = op_slot(b, acode, record_id, &found);
  if (!op || (!found && b->n == before)) FAIL(CX_ENOMEM, "out of memory");
  if (!found) {
    cx_str rid = record_id;
    if (copy_str(b, &rid)) FAIL(CX_ENOMEM, "out of memory");
    memcpy(op->acode, acode, sizeof acode);
    op->rid = rid;
  }
  bev *e = &b->evs[b->n_evs];
  e->ev = (uint8_t)ev;
  e->override = override != 0;
  e->next = -1;
  e->reason = reason;
  if (copy_str(b, &e->reason)) FAIL(CX_ENOMEM, "out of memory");
  int32_t idx = (int32_t)b->n_evs++;
  if (op->ev_tail >= 0) b->evs[op->ev_tail].next = idx;
  else op->ev_head = idx;
  op->ev_tail = idx;
  if (why) *why = NULL;
  return 0;
fail:
  if (why) *why = msg_;
  return rc;
}

/* ------------------------------------------------------------------ commit */

typedef struct wrec {
  unsigned char key[CX_RECKEY_LEN];
  uint32_t vlen;
  size_t voff;
} wrec;


typedef struct went {
  char code[CX_CODE_LEN];
  uint32_t eid;
  uint8_t dirty;
} went;

typedef struct opre {
  uint32_t aid;
  uint8_t found, put_ref;
  unsigned char rk[CX_RECKEY_LEN];  /* the stored ref (found) */
  unsigned char nrk[CX_RECKEY_LEN]; /* the ref to write (put_ref) */
} opre;

typedef struct oord {
  uint32_t aid, i;
  cx_str rid;
} oord;

static int cmp_ord(const void *a, const void *b) {
  const oord *x = a, *y = b;
  if (x->aid != y->aid) return x->aid < y->aid ? -1 : 1;
  uint32_t n = x->rid.n < y->rid.n ? x->rid.n : y->rid.n;
  int c = memcmp(x->rid.p, y->rid.p, n);
  return c ? c : (x->rid.n > y->rid.n) - (x->rid.n < y->rid.n);
}

typedef struct cstate {
  opre *pre;
  oord *ord;
  cx_hmap ents, auths;
  went *ent;
  size_t n_ent, cap_ent;
  wrec *w;
  size_t n_w, cap_w;
  unsigned char (*dels)[CX_RECKEY_LEN];
  size_t n_dels, cap_dels;
  cx_buf vals, tmp, oldv;
  cx_racc acc;
  cx_facc facts;
  cx_sumb sb;
  uint32_t *refused;     /* put indexes skipped at commit (cx_batch_on_refused) */
  size_t n_refused, cap_refused;
  cx_audit_entry *taud; /* audit entries of the transitions, strings in tarena */
  size_t n_taud, cap_taud;
  cx_arena tarena;
  cx_packin *pin;        /* the values of w, for the packing (packpar.c) */
  cx_packpar *pack;
} cstate;

static void cstate_free(cstate *c) {
  cx__packpar_end(c->pack);
  cx_free(c->pin);
  free(c->pre);
  free(c->ord);
  cx__hmap_free(&c->ents);
  cx__hmap_free(&c->auths);
  free(c->ent);
  free(c->w);
  free(c->dels);
  cx__buf_free(&c->vals);
  cx__facc_free(&c->facts);
  cx__buf_free(&c->tmp);
  cx__buf_free(&c->oldv);
  cx__racc_free(&c->acc);
  cx__sumb_free(&c->sb);
  free(c->taud);
  free(c->refused);
  cx__arena_free(&c->tarena);
  memset(c, 0, sizeof *c);
}

#define GROW(arr, n, cap)                                                          \
  do {                                                                            \
    if ((n) == (cap)) {                                                           \
      size_t nc_ = (cap) ? (cap) * 2 : 256;                                       \
      void *np_ = cx_realloc((arr), nc_ * sizeof *(arr));                            \
      if (!np_) return CX_ENOMEM;                                                 \
      (arr) = np_;                                                                \
      (cap) = nc_;                                                                \
    }                                                                             \
  } while (0)

/* Adds an entity (known id) to the batch's table; dirty: mark it for a summary rebuild. */
static int ent_add(cstate *c, const char *code, uint32_t eid, int dirty) {
  int found;
  uint32_t *slot = cx__hmap_put(&c->ents, code, CX_CODE_LEN, &found);
  if (!slot) return CX_ENOMEM;
  if (!found) {
    GROW(c->ent, c->n_ent, c->cap_ent);
    *slot = (uint32_t)c->n_ent;
    went *e = &c->ent[c->n_ent++];
    memcpy(e->code, code, CX_CODE_LEN);
    e->eid = eid;
    e->dirty = 0;
  }
  if (dirty) c->ent[*slot].dirty = 1;
  return 0;
}

static int ent_mark(cstate *c, const char *code, uint32_t eid) { return ent_add(c, code, eid, 1); }

static int add_write(cstate *c, const unsigned char rk[CX_RECKEY_LEN], const cx_buf *val) {
  GROW(c->w, c->n_w, c->cap_w);
  wrec *w = &c->w[c->n_w++];
  memcpy(w->key, rk, CX_RECKEY_LEN);
  w->voff = c->vals.n;
  w->vlen = (uint32_t)val->n;
  return cx__buf_add(&c->vals, val->p, val->n);
}

/* The ref of op i must point at rk (written at the end, in ref key order). */
static int add_ref(cstate *c, size_t i, const unsigned char rk[CX_RECKEY_LEN]) {
  c->pre[i].put_ref = 1;
  memcpy(c->pre[i].nrk, rk, CX_RECKEY_LEN);
  return 0;
}

static int add_del(cstate *c, const unsigned char rk[CX_RECKEY_LEN]) {
  GROW(c->dels, c->n_dels, c->cap_dels);
  memcpy(c->dels[c->n_dels++], rk, CX_RECKEY_LEN);
  return 0;
}



typedef struct counters {
  uint32_t seq, eid, aid;
} counters;

/* Authority id of acode; creates it (for puts) with name. */
static int auth_resolve(cx_store *st, MDB_txn *txn, cstate *c, counters *ctr, const char *acode,
                        cx_str name, int create, uint32_t *aid) {
  uint32_t *v = cx__hmap_get(&c->auths, acode, CX_CODE_LEN);
  if (v) {
    *aid = *v;
    return 0;
  }
  int rc = cx__authority_find(st, txn, (cx_str){acode, CX_CODE_LEN}, aid);
  if (rc == CX_ENOTFOUND && !create) return rc;
  if (rc && rc != CX_ENOTFOUND) return rc;
  int write_name = 0;
  if (rc == CX_ENOTFOUND) {
    *aid = ctr->aid++;
    unsigned char kb[1 + CX_CODE_LEN], vb[4];
    kb[0] = 'c';
    memcpy(kb + 1, acode, CX_CODE_LEN);
    cx__wr32(vb, *aid);
    MDB_val k = {sizeof kb, kb}, d = {4, vb};
    if ((rc = mdb_put(txn, st->dbi[CX_DBI_AUTHORITIES], &k, &d, 0))) return cx__store_mdb_err(st, rc, "authority put");
    write_name = 1;
  } else if (create && name.n) {
    unsigned char kb[5] = {'i'};
    cx__be32(kb + 1, *aid);
    MDB_val k = {5, kb}, d;
    rc = mdb_get(txn, st->dbi[CX_DBI_AUTHORITIES], &k, &d);
    if (rc && rc != MDB_NOTFOUND) return cx__store_mdb_err(st, rc, "authority get");
    if (rc || d.mv_size != CX_CODE_LEN + 1 + (size_t)name.n ||
        memcmp((const char *)d.mv_data + CX_CODE_LEN + 1, name.p, name.n) != 0)
      write_name = 1;
  }
  if (write_name) {
    unsigned char kb[5] = {'i'};
    cx__be32(kb + 1, *aid);
    c->tmp.n = 0;
    if (cx__buf_add(&c->tmp, acode, CX_CODE_LEN) || cx__buf_add(&c->tmp, "", 1) ||
        cx__buf_add(&c->tmp, name.p, name.n))
      return CX_ENOMEM;
    MDB_val k = {5, kb}, d = {c->tmp.n, c->tmp.p};
    if ((rc = mdb_put(txn, st->dbi[CX_DBI_AUTHORITIES], &k, &d, 0))) return cx__store_mdb_err(st, rc, "authority put");
  }
  int found;
  uint32_t *slot = cx__hmap_put(&c->auths, acode, CX_CODE_LEN, &found);
  if (!slot) return CX_ENOMEM;
  *slot = *aid;
  return 0;
}

/* Entity id of code, creating the entity when new. */
static int ent_resolve(cx_store *st, MDB_txn *txn, cstate *c, counters *ctr, const char *code,
                       uint32_t *eid) {
  uint32_t *v = cx__hmap_get(&c->ents, code, CX_CODE_LEN);
  if (v) {
    *eid = c->ent[*v].eid;
    return 0;
  }
  /* A bulk load defers summaries: an entity of an earlier batch of the load has none yet. */
  if (st->bulk_load && cx__bulk_ent_find(st, code, eid) == 0) return ent_add(c, code, *eid, 0);
  MDB_val k = {CX_CODE_LEN, (void *)code}, d;
  int rc = mdb_get(txn, st->dbi[CX_DBI_SUMMARY], &k, &d);
  if (rc == 0) {
    if (d.mv_size < CX_SUM_HDR) return CX_ECORRUPT;
    *eid = cx__rd32((const unsigned char *)d.mv_data + 4);
  } else if (rc == MDB_NOTFOUND) {
    *eid = ctr->eid++;
    unsigned char kb[4];
    cx__be32(kb, *eid);
    MDB_val ek = {4, kb}, ev = {CX_CODE_LEN, (void *)code};
    if ((rc = mdb_put(txn, st->dbi[CX_DBI_ENTITIES], &ek, &ev, 0))) return cx__store_mdb_err(st, rc, "entity put");
    if (st->bulk_load && (rc = cx__bulk_ent_defer(st, code, *eid, 0))) return rc;
  } else {
    return cx__store_mdb_err(st, rc, "summary get");
  }
  return ent_add(c, code, *eid, 0);
}

#define MOVE_WHY "a record never moves; revoke it and send a new record"

/* A commit failure's reason, for both the caller (res->error) and cx_store_errmsg(). */
static void why_fail(cx_store *st, cx_batch_result *res, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void why_fail(cx_store *st, cx_batch_result *res, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(res->error, sizeof res->error, fmt, ap);
  va_end(ap);
  cx__store_setmsg(st, "%s", res->error);
}

static const char *tier_name(unsigned t) { return t < CX_SEV_COUNT ? cx_severity_names[t] : "?"; }

/* Applies one event to *nr (the record as it will be written), through the state machine;
 * audits an applied transition. *applied = 1 when the state changed. */
static int apply_event(cx_batch *b, cstate *c, cx_batch_result *res, const bop *op, cx_record *nr,
                       int ev, int override, cx_str reason, cx_day today, int *applied) {
  cx_store *st = b->st;
  const char *why = NULL;
  uint8_t ns, no;
  *applied = 0;
  int rc = cx_lifecycle_next(nr->status, nr->objection, ev, &ns, &no, &why);
  if (rc < 0) {
    why_fail(st, res, "%s: authority %s, record_id %.*s", why, op->acode, (int)op->rid.n, op->rid.p);
    return rc;
  }
  if (rc == 1) return 0;
  if (ev == CX_EV_REPAIR) {
    const cx_catalog *cat = st->catalog;
    if (!cx_catalog_is_negative(cat, nr->category, nr->subtype)) {
      why_fail(st, res, "repair: only 失信信息 (negative records) are repaired; %s records are not "
               "(authority %s, record_id %.*s)", cx_category_names[nr->category], op->acode,
               (int)op->rid.n, op->rid.p);
      return CX_EBADREQ;
    }
    cx_day from = cx_catalog_repair_from(cat, nr->severity, nr->decision_date);
    if (nr->severity != CX_SEV_MINOR && today < from && !override) {
      char d[11];
      cx_day_format(from, d);
      why_fail(st, res, "repair: not before %s, the end of the minimum display period of a %s "
               "record (authority %s, record_id %.*s)", d, tier_name(nr->severity), op->acode,
               (int)op->rid.n, op->rid.p);
      return CX_EBADREQ;
    }
  }
  /* One audit entry per transition: who, the event, the record, old -> new and the reason. */
  if (c->n_taud == c->cap_taud) {
    size_t cap = c->cap_taud ? c->cap_taud * 2 : 16;
    cx_audit_entry *p = cx_realloc(c->taud, cap * sizeof *p);
    if (!p) return CX_ENOMEM;
    c->taud = p;
    c->cap_taud = cap;
  }
  char *tgt = cx__arena_alloc(&c->tarena, CX_CODE_LEN + 1 + op->rid.n);
  size_t dcap = 96 + (size_t)reason.n;
  char *det = cx__arena_alloc(&c->tarena, dcap);
  if (!tgt || !det) return CX_ENOMEM;
  memcpy(tgt, op->acode, CX_CODE_LEN);
  tgt[CX_CODE_LEN] = '/';
  memcpy(tgt + CX_CODE_LEN + 1, op->rid.p, op->rid.n);
  const char *os = nr->status < CX_ST_COUNT ? cx_status_names[nr->status] : "?";
  int dn;
  if (ev == CX_EV_OBJECTION || ev == CX_EV_OBJECTION_WITHDRAW)
    dn = snprintf(det, dcap, "objection %s -> %s: %.*s", nr->objection ? "open" : "closed",
                  no ? "open" : "closed", (int)reason.n, reason.p);
  else
    dn = snprintf(det, dcap, "%s -> %s%s: %.*s", os, cx_status_names[ns],
                  override && today < cx_catalog_repair_from(st->catalog, nr->severity, nr->decision_date)
                      ? " (override of the minimum period)" : "",
                  (int)reason.n, reason.p);
  if (dn < 0) dn = 0;
  if ((size_t)dn >= dcap) dn = (int)dcap - 1;
  cx_audit_entry *a = &c->taud[c->n_taud++];
  memset(a, 0, sizeof *a);
  a->who = b->who;
  a->role = b->role;
  a->op = cx_str_c(cx_event_names[ev]);
  a->target = (cx_str){tgt, (uint32_t)(CX_CODE_LEN + 1 + op->rid.n)};
  a->detail = (cx_str){det, (uint32_t)dn};
  a->client = b->client;
  nr->status = ns;
  nr->objection = no;
  res->transitions++;
  *applied = 1;
  return 0;
}

/* Applies the op's events in order, then the revoke a feed row implies (revoked is final, so
 * it comes last whatever the order of the row and the events in the batch). */
static int apply_events(cx_batch *b, cstate *c, cx_batch_result *res, const bop *op, cx_record *nr,
                        int feed_revoke, cx_day today, int *n_applied) {
  int err, a;
  *n_applied = 0;
  for (int32_t i = op->ev_head; i >= 0; i = b->evs[i].next) {
    const bev *e = &b->evs[i];
    if ((err = apply_event(b, c, res, op, nr, e->ev, e->override, e->reason, today, &a))) return err;
    *n_applied += a;
  }
  if (feed_revoke) {
    if ((err = apply_event(b, c, res, op, nr, CX_EV_REVOKE, 0, CX_STR("revoked in the authority's feed"), today, &a)))
      return err;
    *n_applied += a;
  }
  return 0;
}

/* Trains the store's first record dictionary on the batch's values (version 1 in c->vals). */
static int zdict_train(cx_store *st, MDB_txn *txn, cstate *c, const cx_zdict **z) {
  const unsigned char **v = cx_malloc(c->n_w * sizeof *v);
  size_t *n = cx_malloc(c->n_w * sizeof *n);
  int err = v && n ? 0 : CX_ENOMEM;
  for (size_t i = 0; !err && i < c->n_w; i++) {
    v[i] = c->vals.p + c->w[i].voff;
    n[i] = c->w[i].vlen;
  }
  if (!err) err = cx__zdict_train(st, txn, c->n_w, v, n, z);
  free(v);
  free(n);
  return err;
}

static int commit_once(cx_batch *b, cx_batch_result *res, cstate *c) {
  cx_store *st = b->st;
  MDB_txn *txn = NULL;
  MDB_cursor *cur = NULL, *scur = NULL;
  int rc, err;
  counters ctr;
  cx_day today = batch_today(b);
  int64_t now_ms = batch_now_ms(b);
  memset(res, 0, sizeof *res);
  res->bad_put = UINT32_MAX;
  if ((err = cx__store_wtxn(st, &txn))) return err;
  if (b->log_seq) { /* exactly once: a sequence at or below the stored one is applied already */
    uint64_t have = 0;
    if ((err = cx__meta_get64(st, txn, "log_seq", &have)) && err != CX_ENOTFOUND) goto fail;
    if (have >= b->log_seq) {
      why_fail(st, res, "log sequence %llu is applied already (the store is at %llu)",
               (unsigned long long)b->log_seq, (unsigned long long)have);
      err = CX_EEXIST;
      goto fail;
    }
    if ((err = cx__meta_put64(st, txn, "log_seq", b->log_seq))) goto fail;
  } else if (!b->restore) { /* a store that follows a log is written by the log only */
    uint64_t have = 0;
    if ((err = cx__meta_get64(st, txn, "log_seq", &have)) && err != CX_ENOTFOUND) goto fail;
    if (have || cx__store_follows(st, txn)) { /* position 0 too, once marked (logseq.c) */
      why_fail(st, res, "this store follows a replicated log (at sequence %llu): write through a node "
               "of its cluster (chengxind --log), not to its files; a local write would make it differ "
               "from every other node", (unsigned long long)have);
      err = CX_EFORBIDDEN;
      goto fail;
    }
  }
  if ((err = cx__meta_get32(st, txn, "next_seq", &ctr.seq)) ||
      (err = cx__meta_get32(st, txn, "next_eid", &ctr.eid)) ||
      (err = cx__meta_get32(st, txn, "next_aid", &ctr.aid)))
    goto fail;
  if ((err = cx__audit_write(st, txn, b->aud, b->n_aud, now_ms, &c->tmp))) goto fail;

  /* 0. authorities, then the refs looked up in key order through one cursor (page locality) */
  c->pre = cx_malloc((b->n ? b->n : 1) * sizeof *c->pre);
  c->ord = cx_malloc((b->n ? b->n : 1) * sizeof *c->ord);
  if (!c->pre || !c->ord) { err = CX_ENOMEM; goto fail; }
  for (size_t i = 0; i < b->n; i++) {
    bop *op = &b->ops[i];
    err = auth_resolve(st, txn, c, &ctr, op->acode, op->has_put ? op->r.authority_name : (cx_str){"", 0},
                       op->has_put, &c->pre[i].aid);
    if (err == CX_ENOTFOUND) {
      why_fail(st, res, "record not found: authority %s, record_id %.*s", op->acode, (int)op->rid.n, op->rid.p);
      goto fail;
    }
    if (err) goto fail;
    c->pre[i].found = c->pre[i].put_ref = 0;
    c->ord[i].aid = c->pre[i].aid;
    c->ord[i].rid = op->rid;
    c->ord[i].i = (uint32_t)i;
  }
  if (b->n) qsort(c->ord, b->n, sizeof c->ord[0], cmp_ord);
  if ((rc = mdb_cursor_open(txn, st->dbi[CX_DBI_RECORD_REF], &cur))) { err = cx__store_mdb_err(st, rc, "cursor"); goto fail; }
  for (size_t j = 0; j < b->n; j++) {
    unsigned char refk[4 + CX_RECORD_ID_MAX];
    cx__be32(refk, c->ord[j].aid);
    memcpy(refk + 4, c->ord[j].rid.p, c->ord[j].rid.n);
    MDB_val k = {4 + (size_t)c->ord[j].rid.n, refk}, d;
    rc = mdb_cursor_get(cur, &k, &d, MDB_SET_KEY);
    if (rc == MDB_NOTFOUND) continue;
    if (rc) { err = cx__store_mdb_err(st, rc, "ref get"); goto fail; }
    if (d.mv_size != CX_RECKEY_LEN) { err = CX_ECORRUPT; cx__store_setmsg(st, "record ref of bad size"); goto fail; }
    c->pre[c->ord[j].i].found = 1;
    memcpy(c->pre[c->ord[j].i].rk, d.mv_data, CX_RECKEY_LEN);
    if ((j & 4095) == 4095) cx__store_trim(st); /* the cursor's pages are found again after it */
  }
  mdb_cursor_close(cur);
  cur = NULL;

  /* 1. resolve, in op order (new records get their seq in put order) */
  for (size_t i = 0; i < b->n; i++) {
    bop *op = &b->ops[i];
    if ((i & 4095) == 4095) cx__store_trim(st);
    uint32_t aid = c->pre[i].aid;
    MDB_val d = {CX_RECKEY_LEN, c->pre[i].rk};
    int have_old = c->pre[i].found;
    unsigned char oldk[CX_RECKEY_LEN];
    cx_record old;
    MDB_val ov = {0, NULL};
    const unsigned char *oraw = NULL; /* old's version 1 bytes (the map or the writer's decoder) */
    size_t orawn = 0;
    if (have_old) {
      if (d.mv_size != CX_RECKEY_LEN) { err = CX_ECORRUPT; goto fail; }
      memcpy(oldk, d.mv_data, CX_RECKEY_LEN);
      MDB_val rk = {CX_RECKEY_LEN, oldk};
      rc = mdb_get(txn, st->dbi[CX_DBI_RECORDS], &rk, &ov);
      if (rc) {
        err = rc == MDB_NOTFOUND ? CX_ECORRUPT : cx__store_mdb_err(st, rc, "record get");
        cx__store_setmsg(st, "dangling record ref");
        goto fail;
      }
      if ((err = cx__rec_unpack(cx__wdec(st, txn), ov.mv_data, ov.mv_size, &oraw, &orawn)) ||
          (err = cx__rec_decode(NULL, oraw, orawn, &old)))
        goto fail;
    }
    if (!op->has_put) {
      if (!have_old) {
        why_fail(st, res, "record not found: authority %s, record_id %.*s", op->acode, (int)op->rid.n, op->rid.p);
        err = CX_ENOTFOUND;
        goto fail;
      }
      cx_record nr = old;
      int applied;
      if ((err = apply_events(b, c, res, op, &nr, 0, today, &applied))) goto fail;
      res->status = nr.status;
      res->objection = nr.objection;
      if (!applied) {
        res->unchanged++;
        continue;
      }
      /* old's strings point into the map: use them before any write below. */
      if ((err = cx__racc_add(&c->acc, &old, -1)) || (err = cx__racc_add(&c->acc, &nr, 1)) ||
          (err = cx__rec_encode(&nr, &c->tmp)) || (err = add_write(c, oldk, &c->tmp)) ||
          (err = ent_mark(c, old.entity_code.p, old.entity_id)))
        goto fail;
      res->status_changes += (uint32_t)applied;
      continue;
    }
    /* A put */
    cx_record nr = op->r;
    nr.entity_code = (cx_str){op->code, CX_CODE_LEN};
    nr.authority_code = (cx_str){op->acode, CX_CODE_LEN};
    nr.authority_id = aid;
    nr.region = cx_code_region(op->code, op->is_person);
    int prov = b->restore ? nr.delay_provisional : cx__rec_timeliness(st->calendar, &nr);
    int applied = 0;
    if (have_old && b->restore) {
      why_fail(st, res, "record_id %.*s of authority %s: already in the store (given twice)",
               (int)op->rid.n, op->rid.p, op->acode);
      res->bad_put = op->put_index;
      err = CX_EBADREQ;
      goto fail;
    }
    if (have_old) {
      /* A replacement never moves a record: that is a revoke plus a new record. */
      if (old.entity_code.n != CX_CODE_LEN || memcmp(old.entity_code.p, op->code, CX_CODE_LEN) != 0) {
        if (b->refused_fn) { /* skipped; reported once the batch has committed */
          if (c->n_refused == c->cap_refused) { /* not GROW: its return would skip the abort */
            size_t cap = c->cap_refused ? c->cap_refused * 2 : 16;
            uint32_t *p = cx_realloc(c->refused, cap * sizeof *p);
            if (!p) { err = CX_ENOMEM; goto fail; }
            c->refused = p;
            c->cap_refused = cap;
          }
          c->refused[c->n_refused++] = op->put_index;
          continue;
        }
        why_fail(st, res, "record_id %.*s of authority %s belongs to another entity: %s", (int)op->rid.n,
                 op->rid.p, op->acode, MOVE_WHY);
        res->bad_put = op->put_index;
        err = CX_EBADREQ;
        goto fail;
      }
      /* A row without a report date was received again: the first receipt is the report. */
      if (nr.report_received && old.report_date != CX_DAY_NONE) {
        nr.report_date = old.report_date;
        nr.report_received = old.report_received;
        prov = cx__rec_timeliness(st->calendar, &nr);
      }
      /* The lifecycle state is the store's: a re-sent row keeps it, unless it revokes. */
      int feed_revoke = nr.status == CX_ST_REVOKED && old.status != CX_ST_REVOKED;
      if (!feed_revoke && (nr.status != old.status || nr.objection != old.objection)) res->kept++;
      nr.status = old.status;
      nr.objection = old.objection;
      if ((err = apply_events(b, c, res, op, &nr, feed_revoke, today, &applied))) goto fail;
      res->status_changes += (uint32_t)applied;
      nr.seq = old.seq;
      /* The entity lookup may write (a new entity), which invalidates pointers into the map:
       * copy the old value first. */
      uint32_t old_eid = old.entity_id;
      char old_code[CX_CODE_LEN];
      memcpy(old_code, old.entity_code.p, CX_CODE_LEN);
      c->oldv.n = 0;
      if (cx__buf_add(&c->oldv, oraw, orawn)) { err = CX_ENOMEM; goto fail; }
      if ((err = ent_resolve(st, txn, c, &ctr, op->code, &nr.entity_id))) goto fail;
      if ((err = cx__rec_encode(&nr, &c->tmp))) goto fail;
      if (c->tmp.n == c->oldv.n && memcmp(c->tmp.p, c->oldv.p, c->oldv.n) == 0) {
        res->unchanged++;
        continue;
      }
      cx_record oldr;
      if ((err = cx__rec_decode(NULL, c->oldv.p, c->oldv.n, &oldr)) || (err = cx__racc_add(&c->acc, &oldr, -1)) ||
          (err = cx__racc_add(&c->acc, &nr, 1))) {
        goto fail;
      }
      cx_reckey nk = {nr.entity_id, nr.decision_date, nr.seq};
      unsigned char nkb[CX_RECKEY_LEN];
      cx_reckey_encode(&nk, nkb);
      if ((err = add_write(c, nkb, &c->tmp)) || (err = ent_mark(c, old_code, old_eid)) ||
          (err = ent_mark(c, op->code, nr.entity_id)))
        goto fail;
      if (memcmp(nkb, oldk, CX_RECKEY_LEN) != 0) {
        if ((err = add_del(c, oldk)) || (err = add_ref(c, i, nkb))) goto fail;
      }
      res->replaced++;
      res->provisional += (uint32_t)prov;
    } else {
      if ((err = apply_events(b, c, res, op, &nr, 0, today, &applied))) goto fail;
      res->status_changes += (uint32_t)applied;
      if ((err = ent_resolve(st, txn, c, &ctr, op->code, &nr.entity_id))) goto fail;
      nr.seq = ctr.seq++;
      cx_reckey nk = {nr.entity_id, nr.decision_date, nr.seq};
      unsigned char nkb[CX_RECKEY_LEN];
      cx_reckey_encode(&nk, nkb);
      if ((err = cx__rec_encode(&nr, &c->tmp)) || (err = add_write(c, nkb, &c->tmp)) ||
          (err = add_ref(c, i, nkb)) || (err = cx__racc_add(&c->acc, &nr, 1)) ||
          (err = ent_mark(c, op->code, nr.entity_id)))
        goto fail;
      res->inserted++;
      res->provisional += (uint32_t)prov;
    }
  }

  /* 1b. the transitions' audit entries, after the batch's own */
  if ((err = cx__audit_write(st, txn, c->taud, c->n_taud, now_ms, &c->tmp))) goto fail;

  /* 2. records and refs */
  if ((err = cx__radix_sort(c->dels, c->n_dels, sizeof c->dels[0], CX_RECKEY_LEN))) goto fail;
  for (size_t i = 0; i < c->n_dels; i++) {
    MDB_val k = {CX_RECKEY_LEN, c->dels[i]};
    if ((rc = mdb_del(txn, st->dbi[CX_DBI_RECORDS], &k, NULL)) && rc != MDB_NOTFOUND) {
      err = cx__store_mdb_err(st, rc, "record del");
      goto fail;
    }
  }
  if ((err = cx__radix_sort(c->w, c->n_w, sizeof c->w[0], CX_RECKEY_LEN))) goto fail;
  /* the values are version 1 so far: packed with the store's dictionary, trained on this
   * batch's values when the store has none yet and the batch is big enough (reczip.c) */
  const cx_zdict *z = NULL;
  if ((err = cx__zdict_current(st, txn, &z))) goto fail;
  if (!z && c->n_w >= st->zdict_min && (err = zdict_train(st, txn, c, &z))) goto fail;
  /* small batches (a server's): the first dictionary from the records stored so far */
  if (!z && c->n_w && c->n_w < st->zdict_min && (err = cx__zdict_train_stored(st, txn, c->n_w, &z))) goto fail;
  /* The values are packed on a helper thread (packpar.c: zstd was 14 % of the writer's
   * time onto the 10M store) while this one writes the facts, refs and rollups; the records
   * go in last, before the summaries that read them. The order of the puts within the txn
   * changes no content. */
  if (!(c->pin = cx_malloc((c->n_w ? c->n_w : 1) * sizeof *c->pin))) { err = CX_ENOMEM; goto fail; }
  for (size_t i = 0; i < c->n_w; i++) c->pin[i] = (cx_packin){c->vals.p + c->w[i].voff, c->w[i].vlen};
  if ((err = cx__packpar_start(st, z, c->n_w, c->pin, &c->pack))) goto fail;
  /* facts: every value of the batch, at its seq's slot (a move keeps the seq) */
  for (size_t i = 0; i < c->n_w; i++)
    if ((err = cx__facc_add(&c->facts, c->vals.p + c->w[i].voff, c->w[i].vlen))) goto fail;
  if ((err = cx__facc_apply(&c->facts, st, txn))) goto fail;
  cx__store_trim(st);
  /* refs: c->ord is in ref key order already */
  if ((rc = mdb_cursor_open(txn, st->dbi[CX_DBI_RECORD_REF], &cur))) { err = cx__store_mdb_err(st, rc, "cursor"); goto fail; }
  for (size_t j = 0; j < b->n; j++) {
    const opre *pr = &c->pre[c->ord[j].i];
    if (!pr->put_ref) continue;
    unsigned char refk[4 + CX_RECORD_ID_MAX];
    cx__be32(refk, c->ord[j].aid);
    memcpy(refk + 4, c->ord[j].rid.p, c->ord[j].rid.n);
    MDB_val k = {4 + (size_t)c->ord[j].rid.n, refk}, d = {CX_RECKEY_LEN, (void *)pr->nrk};
    if ((rc = mdb_cursor_put(cur, &k, &d, 0))) { err = cx__store_mdb_err(st, rc, "ref put"); goto fail; }
    if ((j & 4095) == 4095) cx__store_trim(st);
  }
  mdb_cursor_close(cur);
  cur = NULL;
  cx__store_trim(st);

  /* 3. rollups */
  if ((err = cx__racc_apply(&c->acc, st, txn))) goto fail;
  cx__store_trim(st);

  /* 3b. the records, packed */
  if ((rc = mdb_cursor_open(txn, st->dbi[CX_DBI_RECORDS], &cur))) { err = cx__store_mdb_err(st, rc, "cursor"); goto fail; }
  for (size_t i = 0; i < c->n_w; i++) {
    if (st->debug_fail_after && i >= st->debug_fail_after) {
      st->debug_fail_after = 0;
      cx__store_setmsg(st, "debug: commit failed after %zu record writes", i);
      err = CX_EIO;
      goto fail;
    }
    const unsigned char *pv;
    size_t pn;
    if ((err = cx__packpar_get(st, c->pack, i, &pv, &pn))) goto fail;
    MDB_val k = {CX_RECKEY_LEN, c->w[i].key}, d = {pn, (void *)pv};
    if ((rc = mdb_cursor_put(cur, &k, &d, 0))) { err = cx__store_mdb_err(st, rc, "record put"); goto fail; }
    if ((i & 4095) == 4095) cx__store_trim(st);
  }
  mdb_cursor_close(cur);
  cur = NULL;
  cx__packpar_end(c->pack);
  c->pack = NULL;
  cx__store_trim(st);

  /* 4. summaries, in code order (summary DB locality) */
  /* the ents map is not used after this */
  if ((err = cx__radix_sort(c->ent, c->n_ent, sizeof c->ent[0], CX_CODE_LEN))) goto fail;
  if ((rc = mdb_cursor_open(txn, st->dbi[CX_DBI_RECORDS], &cur)) ||
      (rc = mdb_cursor_open(txn, st->dbi[CX_DBI_SUMMARY], &scur))) {
    err = cx__store_mdb_err(st, rc, "cursor");
    goto fail;
  }
  for (size_t i = 0; i < c->n_ent; i++) {
    if (!c->ent[i].dirty) continue;
    if (st->bulk_load) { /* rebuilt once, by the load commit (bulk.c) */
      if ((err = cx__bulk_ent_defer(st, c->ent[i].code, c->ent[i].eid, today))) goto fail;
      continue;
    }
    int changed;
    if ((err = cx__summary_rebuild(st, txn, &c->sb, cur, scur, c->ent[i].eid, c->ent[i].code, today, &changed)))
      goto fail;
    if (changed) res->entities_touched++;
    if ((i & 4095) == 4095) cx__store_trim(st);
  }
  mdb_cursor_close(cur);
  mdb_cursor_close(scur);
  cur = scur = NULL;

  /* 5. counters */
  if ((err = cx__meta_put32(st, txn, "next_seq", ctr.seq)) || (err = cx__meta_put32(st, txn, "next_eid", ctr.eid)) ||
      (err = cx__meta_put32(st, txn, "next_aid", ctr.aid)) ||
      (err = cx__meta_put32(st, txn, "last_commit_s", (uint32_t)(now_ms / 1000))))
    goto fail;
  if ((err = cx__store_wtxn_end(st, txn, 1)) == 0) res->log_seq = b->log_seq;
  return err;
fail:
  if (cur) mdb_cursor_close(cur);
  if (scur) mdb_cursor_close(scur);
  /* the helper may still be packing with a dictionary this txn's abort frees */
  cx__packpar_end(c->pack);
  c->pack = NULL;
  if (txn) cx__store_wtxn_end(st, txn, 0);
  return err;
}

int cx_batch_commit(cx_batch *b, cx_batch_result *res) {
  cx_batch_result r;
  int err;
  struct { uint32_t *refused; size_t n_refused; } refused = {NULL, 0};
  for (;;) {
    cstate c;
    memset(&c, 0, sizeof c);
    err = commit_once(b, &r, &c);
    free(refused.refused); /* keep the last attempt's list (a retry after growth redoes it) */
    refused.refused = c.refused;
    refused.n_refused = c.n_refused;
    c.refused = NULL;
    cstate_free(&c);
    if (err != CX_EMAPFULL) break;
    int g = cx__store_grow(b->st);
    if (g) { /* busy (reads held the old map) or no space: say which */
      err = g;
      break;
    }
  }
  if (!err && b->refused_fn)
    for (size_t i = 0; i < refused.n_refused; i++)
      b->refused_fn(b->refused_ctx, refused.refused[i],
                    "entity_code: this record_id of this authority belongs to another entity: " MOVE_WHY);
  free(refused.refused);
  if (res) {
    if (!err) {
      *res = r;
      res->refused = (uint32_t)refused.n_refused;
    } else {
      uint32_t bad = r.bad_put;
      memset(res, 0, sizeof *res);
      res->bad_put = bad;
      if (r.error[0]) memcpy(res->error, r.error, sizeof res->error);
      else snprintf(res->error, sizeof res->error, "%s", cx_store_errmsg(b->st));
    }
  }
  cx_batch_abort(b);
  return err;
}
