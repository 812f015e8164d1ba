/*
 * audit.c — the query-audit rings and their flusher thread (see net_int.h "query audit").
 *
 * Ring: a power-of-two array of fixed slots with a head (written by the loop) and a tail
 * (written by the flusher), both only ever increasing. The loop writes slot head % cap, then
 * publishes head with a release store; the flusher reads head with an acquire load, turns
 * slots tail..head-1 into cx_audit_entry values that point into the slots (the loop cannot
 * reuse them until the tail moves), writes them in one txn, and only then publishes the new
 * tail. So a failed write loses nothing: the slots stay queued and the next flush retries.
 *
 * Why a thread of its own rather than a uv_timer + thread-pool job: the pool (4 threads) also
 * runs aggregate, ingest and repair requests; a flush queued behind long aggregates would let
 * the rings fill and turn person checks into `busy` errors. The flusher sleeps on a condition
 * variable (interval or a kick from a half-full ring) and costs nothing when idle.
 */
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "net_int.h"

typedef struct slot {
  int64_t time_ms;
  /* the writer's name as it was when the query ran: a token file reloaded meanwhile (SIGHUP)
   * renumbers the tokens, so no index is kept */
  char who[CX_TOKEN_NAME_MAX + 16];
  uint8_t role, op;
  char code[CX_CODE_LEN];
  char detail[CX_NET_AUDIT_DETAIL];
  char peer[CX_NET_PEER_MAX];
} slot;

/* A check-log entry as queued: cx_check_entry with its who copied. */
typedef struct cslot {
  cx_check_entry e;
  char who[CX_TOKEN_NAME_MAX + 16];
} cslot;

struct cx_audq {
  cx_auditor *a;
  slot *v;
  uint32_t cap; /* power of two */
  _Atomic uint64_t head, tail;
  _Atomic uint64_t queued, rejected;
  _Atomic int kicked; /* a kick is pending (one per half-full crossing) */
  /* the check log's ring, the same discipline (loop writes head, flusher tail) */
  cslot *cv;
  uint32_t ccap;
  _Atomic uint64_t chead, ctail;
  _Atomic uint64_t cqueued, crejected;
};

struct cx_auditor {
  cx_store *st;
  cx_audq *q;
  unsigned nq;
  size_t total;             /* slots over all rings */
  cx_audit_entry *scratch;  /* total entries */
  uint64_t *snap;           /* head snapshot per ring during a flush */
  pthread_t thr;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int running, stop, kick;  /* under mu */
  int failing;              /* a write failed; the next success logs the recovery */
  _Atomic uint64_t written, flushes, errors;
  _Atomic int64_t beat;     /* CLOCK_MONOTONIC ms of the flusher's last round */
  /* the check log */
  size_t ctotal;
  cx_check_entry *cscratch; /* ctotal entries */
  uint64_t *csnap;
  _Atomic uint64_t next_receipt; /* epoch << 40 | counter */
  uint32_t retention_days;  /* 0: keep for ever */
  int64_t last_prune_ms;    /* CLOCK_MONOTONIC ms; 0: not yet */
  _Atomic uint64_t cwritten, pruned, cerrors, cflushes;
  _Atomic int64_t last_cflush_ms; /* unix ms of the last check-log write that wrote entries */
  int checks_off;           /* --no-check-log: cx__audq_check queues nothing, gives no receipt */
  pthread_mutex_t flush_mu; /* one flush at a time: the flusher, stop, a feedback's flush */
};

static int64_t mono_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

const char *cx__audit_who(const cx_tokens *tk, int token, char *buf, size_t cap) {
  if (token < 0 || !tk || (uint32_t)token >= tk->n) return "";
  if (tk->v[token].name[0]) return tk->v[token].name;
  snprintf(buf, cap, "token#%d", token + 1);
  return buf;
}

int cx__auditor_new(cx_store *st, unsigned nq, cx_auditor **out) {
  if (!nq) return CX_EBADREQ;
  cx_auditor *a = cx_calloc(1, sizeof *a);
  if (!a) return CX_ENOMEM;
  a->st = st;
  a->nq = nq;
  uint32_t per = 1024;
  while (per < CX_NET_AUDIT_QUEUE / nq) per <<= 1;
  a->q = cx_calloc(nq, sizeof *a->q);
  a->snap = cx_calloc(nq, sizeof *a->snap);
  if (!a->q || !a->snap) goto fail;
  for (unsigned i = 0; i < nq; i++) {
    a->q[i].a = a;
    a->q[i].cap = per;
    /* calloc: the pages are only touched as slots get used */
    if (!(a->q[i].v = cx_calloc(per, sizeof(slot)))) goto fail;
  }
  a->total = (size_t)per * nq;
  a->scratch = cx_calloc(a->total, sizeof *a->scratch);
  if (!a->scratch) goto fail;
  uint32_t cper = 8192;
  while (cper < CX_NET_CHECKLOG_QUEUE / nq) cper <<= 1;
  for (unsigned i = 0; i < nq; i++) {
    a->q[i].ccap = cper;
    if (!(a->q[i].cv = cx_calloc(cper, sizeof(cslot)))) goto fail;
  }
  a->ctotal = (size_t)cper * nq;
  a->cscratch = cx_calloc(a->ctotal, sizeof *a->cscratch);
  a->csnap = cx_calloc(nq, sizeof *a->csnap);
  if (!a->cscratch || !a->csnap) goto fail;
  a->retention_days = CX_NET_CHECKLOG_RETENTION_DAYS;
  pthread_mutex_init(&a->flush_mu, NULL);
  pthread_mutex_init(&a->mu, NULL);
  pthread_condattr_t ca;
  pthread_condattr_init(&ca);
  pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
  pthread_cond_init(&a->cv, &ca);
  pthread_condattr_destroy(&ca);
  *out = a;
  return 0;
fail:
  for (unsigned i = 0; a->q && i < nq; i++) {
    free(a->q[i].v);
    free(a->q[i].cv);
  }
  free(a->q);
  free(a->snap);
  free(a->scratch);
  free(a->cscratch);
  free(a->csnap);
  free(a);
  return CX_ENOMEM;
}

cx_audq *cx__auditor_queue(cx_auditor *a, unsigned i) { return a && i < a->nq ? &a->q[i] : NULL; }

static void copy_cut(char *dst, size_t cap, const char *src) {
  size_t n = src ? strlen(src) : 0;
  if (n >= cap) {
    n = cap - 1;
    while (n > 0 && ((unsigned char)src[n] & 0xC0) == 0x80) n--; /* not inside a character */
  }
  if (n) memcpy(dst, src, n);
  dst[n] = 0;
}

/* A ring half full: wakes the flusher now rather than at the end of its interval (once). */
static void kick(cx_audq *q) {
  if (atomic_exchange_explicit(&q->kicked, 1, memory_order_relaxed)) return;
  cx_auditor *a = q->a;
  pthread_mutex_lock(&a->mu);
  a->kick = 1;
  pthread_cond_signal(&a->cv);
  pthread_mutex_unlock(&a->mu);
}

int cx__audq_push(cx_audq *q, int64_t time_ms, const char *who, int role, int op,
                  const char code[CX_CODE_LEN], const char *detail, const char *peer) {
  uint64_t h = atomic_load_explicit(&q->head, memory_order_relaxed);
  uint64_t t = atomic_load_explicit(&q->tail, memory_order_acquire);
  if (h - t >= q->cap) {
    atomic_fetch_add_explicit(&q->rejected, 1, memory_order_relaxed);
    return CX_EBUSY;
  }
  slot *s = &q->v[h & (q->cap - 1)];
  s->time_ms = time_ms;
  copy_cut(s->who, sizeof s->who, who);
  s->role = (uint8_t)role;
  s->op = (uint8_t)op;
  memcpy(s->code, code, CX_CODE_LEN);
  copy_cut(s->detail, sizeof s->detail, detail);
  copy_cut(s->peer, sizeof s->peer, peer);
  atomic_store_explicit(&q->head, h + 1, memory_order_release);
  atomic_fetch_add_explicit(&q->queued, 1, memory_order_relaxed);
  if (h + 1 - t >= q->cap / 2) kick(q);
  return 0;
}

void cx__auditor_set_epoch(cx_auditor *a, uint32_t epoch) {
  atomic_store_explicit(&a->next_receipt, (uint64_t)epoch << 40, memory_order_relaxed);
}
void cx__auditor_set_retention(cx_auditor *a, uint32_t days) { a->retention_days = days; }
void cx__auditor_set_checks_off(cx_auditor *a, int off) { a->checks_off = off; }

int cx__audq_checks_on(const cx_audq *q) { return q && !q->a->checks_off; }

int cx__audq_check(cx_audq *q, const cx_check_entry *e, uint64_t *receipt) {
  if (q->a->checks_off) { /* no check log: no entry, no receipt (set before the loops run) */
    *receipt = 0;
    return 0;
  }
  uint64_t h = atomic_load_explicit(&q->chead, memory_order_relaxed);
  uint64_t t = atomic_load_explicit(&q->ctail, memory_order_acquire);
  if (h - t >= q->ccap) {
    atomic_fetch_add_explicit(&q->crejected, 1, memory_order_relaxed);
    return CX_EBUSY;
  }
  cslot *s = &q->cv[h & (q->ccap - 1)];
  /* The ring is 44 MB at one loop: each slot written is cold. Asking for the next slots' lines
   * now lets their fetch overlap the checks in between (the copy below stalled on it). */
  const char *nx = (const char *)&q->cv[(h + 2) & (q->ccap - 1)];
  for (size_t o = 0; o < sizeof(cslot); o += 64) __builtin_prefetch(nx + o, 1, 0);
  s->e = *e;
  /* one counter for every loop: receipts stay unique and in check order (pruning relies on
   * it); a relaxed add costs ~20 ns against the several µs of a check over the wire */
  s->e.receipt = atomic_fetch_add_explicit(&q->a->next_receipt, 1, memory_order_relaxed) + 1;
  size_t n = e->who.n < sizeof s->who - 1 ? e->who.n : sizeof s->who - 1;
  if (n) memcpy(s->who, e->who.p, n);
  s->who[n] = 0;
  s->e.who = (cx_str){NULL, 0};
  s->e.fb_who = s->e.note = (cx_str){"", 0};
  *receipt = s->e.receipt;
  atomic_store_explicit(&q->chead, h + 1, memory_order_release);
  atomic_fetch_add_explicit(&q->cqueued, 1, memory_order_relaxed);
  if (h + 1 - t >= q->ccap / 2) kick(q);
  return 0;
}

/* Writes the queued check-log entries (under flush_mu). */
static int flush_checks(cx_auditor *a) {
  size_t n = 0;
  for (unsigned i = 0; i < a->nq; i++) {
    cx_audq *q = &a->q[i];
    uint64_t h = atomic_load_explicit(&q->chead, memory_order_acquire);
    uint64_t t = atomic_load_explicit(&q->ctail, memory_order_relaxed);
    a->csnap[i] = h;
    for (; t < h; t++) {
      const cslot *s = &q->cv[t & (q->ccap - 1)];
      a->cscratch[n] = s->e;
      a->cscratch[n].who = cx_str_c(s->who);
      n++;
    }
  }
  if (!n) return 0;
  int rc = cx_store_checks_append(a->st, a->cscratch, n);
  if (rc) {
    atomic_fetch_add_explicit(&a->errors, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&a->cerrors, 1, memory_order_relaxed);
    if (!a->failing)
      cx_net_log("audit: cannot write %zu check-log entries: %s (%s); they stay queued and checks "
                 "are refused when the queue fills", n, cx_strerror(rc), cx_store_errmsg(a->st));
    __atomic_store_n(&a->failing, 1, __ATOMIC_RELAXED);
    return rc;
  }
  for (unsigned i = 0; i < a->nq; i++)
    atomic_store_explicit(&a->q[i].ctail, a->csnap[i], memory_order_release);
  atomic_fetch_add_explicit(&a->cwritten, n, memory_order_relaxed);
  atomic_fetch_add_explicit(&a->cflushes, 1, memory_order_relaxed);
  atomic_store_explicit(&a->last_cflush_ms, cx_audit_now_ms(), memory_order_relaxed);
  return 0;
}

int cx__auditor_flush_now(cx_auditor *a) {
  if (!a) return 0;
  pthread_mutex_lock(&a->flush_mu);
  int rc = flush_checks(a);
  pthread_mutex_unlock(&a->flush_mu);
  return rc;
}

/* Deletes check-log entries past the retention, once an hour (flusher thread). */
static void prune_checks(cx_auditor *a) {
  if (!a->retention_days) return;
  int64_t now = mono_ms();
  if (a->last_prune_ms && now - a->last_prune_ms < CX_NET_CHECKLOG_PRUNE_MS) return;
  a->last_prune_ms = now;
  uint64_t n = 0;
  int rc = cx_store_checks_prune(a->st, cx_audit_now_ms() - (int64_t)a->retention_days * 86400000, NULL, &n);
  if (rc) cx_net_log("audit: cannot prune the check log: %s", cx_strerror(rc));
  else if (n) cx_net_log("audit: %" PRIu64 " check-log entries past %u days deleted", n, a->retention_days);
  atomic_fetch_add_explicit(&a->pruned, n, memory_order_relaxed);
}

/* Orders the merged entries of all rings by time (stable: seq order within a ring). */
static int cmp_time(const void *x, const void *y) {
  const cx_audit_entry *a = x, *b = y;
  if (a->time_ms != b->time_ms) return a->time_ms < b->time_ms ? -1 : 1;
  return a->seq < b->seq ? -1 : a->seq > b->seq; /* seq holds the gather order here */
}

/* Writes everything queued now. Returns the error of the write (entries stay queued). */
static int flush(cx_auditor *a, size_t *n_out) {
  size_t n = 0;
  for (unsigned i = 0; i < a->nq; i++) {
    cx_audq *q = &a->q[i];
    uint64_t h = atomic_load_explicit(&q->head, memory_order_acquire);
    uint64_t t = atomic_load_explicit(&q->tail, memory_order_relaxed);
    a->snap[i] = h;
    for (; t < h; t++) {
      const slot *s = &q->v[t & (q->cap - 1)];
      cx_audit_entry *e = &a->scratch[n];
      e->seq = n;
      e->time_ms = s->time_ms;
      e->who = cx_str_c(s->who);
      e->role = cx_str_c(s->role < CX_ROLE_COUNT ? cx_role_names[s->role] : "");
      e->op = cx_str_c(s->op < CX_OP_COUNT ? cx_op_names[s->op] : "");
      e->target = (cx_str){s->code, CX_CODE_LEN};
      e->detail = cx_str_c(s->detail);
      e->client = cx_str_c(s->peer);
      n++;
    }
  }
  *n_out = n;
  int crc = flush_checks(a);
  if (!n) return crc;
  if (n > 1) qsort(a->scratch, n, sizeof *a->scratch, cmp_time);
  int rc = cx_store_audit_append(a->st, a->scratch, n);
  if (rc) {
    atomic_fetch_add_explicit(&a->errors, 1, memory_order_relaxed);
    if (!a->failing)
      cx_net_log("audit: cannot write %zu query audit entries: %s (%s); they stay queued and "
                 "queries are refused when the queue fills", n, cx_strerror(rc), cx_store_errmsg(a->st));
    __atomic_store_n(&a->failing, 1, __ATOMIC_RELAXED);
    return rc;
  }
  if (crc) return crc;
  if (a->failing) cx_net_log("audit: query audit entries are written again");
  __atomic_store_n(&a->failing, 0, __ATOMIC_RELAXED);
  for (unsigned i = 0; i < a->nq; i++) {
    atomic_store_explicit(&a->q[i].tail, a->snap[i], memory_order_release);
    atomic_store_explicit(&a->q[i].kicked, 0, memory_order_relaxed);
  }
  atomic_fetch_add_explicit(&a->written, n, memory_order_relaxed);
  atomic_fetch_add_explicit(&a->flushes, 1, memory_order_relaxed);
  return 0;
}

static void *flusher(void *arg) {
  cx_auditor *a = arg;
  pthread_mutex_lock(&a->mu);
  for (;;) {
    if (!a->stop && !a->kick) {
      struct timespec ts;
      clock_gettime(CLOCK_MONOTONIC, &ts);
      ts.tv_nsec += (long)CX_NET_AUDIT_FLUSH_MS * 1000000L;
      ts.tv_sec += ts.tv_nsec / 1000000000L;
      ts.tv_nsec %= 1000000000L;
      pthread_cond_timedwait(&a->cv, &a->mu, &ts);
    }
    int stop = a->stop;
    a->kick = 0;
    pthread_mutex_unlock(&a->mu);
    atomic_store_explicit(&a->beat, mono_ms(), memory_order_relaxed);
    size_t n;
    pthread_mutex_lock(&a->flush_mu);
    flush(a, &n);
    pthread_mutex_unlock(&a->flush_mu);
    if (!stop) prune_checks(a);
    if (stop) break;
    pthread_mutex_lock(&a->mu);
  }
  return NULL;
}

int cx__auditor_alive(cx_auditor *a, char *why, size_t cap) {
  int64_t age = mono_ms() - atomic_load_explicit(&a->beat, memory_order_relaxed);
  if (age > 25 * (int64_t)CX_NET_AUDIT_FLUSH_MS) {
    snprintf(why, cap, "the audit flusher has not run for %lld ms", (long long)age);
    return 0;
  }
  if (__atomic_load_n(&a->failing, __ATOMIC_RELAXED)) {
    snprintf(why, cap, "the audit flusher cannot write the audit log");
    return 0;
  }
  return 1;
}

int cx__auditor_start(cx_auditor *a) {
  atomic_store_explicit(&a->beat, mono_ms(), memory_order_relaxed);
  if (pthread_create(&a->thr, NULL, flusher, a) != 0) return CX_EINTERNAL;
  a->running = 1;
  return 0;
}

void cx__auditor_stop(cx_auditor *a) {
  if (!a) return;
  if (a->running) {
    pthread_mutex_lock(&a->mu);
    a->stop = 1;
    pthread_cond_signal(&a->cv);
    pthread_mutex_unlock(&a->mu);
    pthread_join(a->thr, NULL);
    a->running = 0;
  }
  /* The flusher's last pass ran after stop; anything left means its write failed: try once
   * more, then say what is lost. */
  size_t n;
  pthread_mutex_lock(&a->flush_mu);
  int rc = flush(a, &n);
  pthread_mutex_unlock(&a->flush_mu);
  if (rc) cx_net_log("audit: %zu query audit entries could not be written at stop: %s", n, cx_strerror(rc));
}

void cx__auditor_free(cx_auditor *a) {
  if (!a) return;
  for (unsigned i = 0; i < a->nq; i++) {
    free(a->q[i].v);
    free(a->q[i].cv);
  }
  free(a->q);
  free(a->snap);
  free(a->scratch);
  free(a->cscratch);
  free(a->csnap);
  pthread_mutex_destroy(&a->flush_mu);
  pthread_mutex_destroy(&a->mu);
  pthread_cond_destroy(&a->cv);
  free(a);
}

void cx__auditor_stats(cx_auditor *a, cx_audit_stats *out) {
  memset(out, 0, sizeof *out);
  if (!a) return;
  for (unsigned i = 0; i < a->nq; i++) {
    cx_audq *q = &a->q[i];
    out->queued += atomic_load_explicit(&q->queued, memory_order_relaxed);
    out->rejected += atomic_load_explicit(&q->rejected, memory_order_relaxed);
    out->pending += atomic_load_explicit(&q->head, memory_order_relaxed) -
                    atomic_load_explicit(&q->tail, memory_order_relaxed);
  }
  for (unsigned i = 0; i < a->nq; i++) {
    cx_audq *q = &a->q[i];
    out->checks_queued += atomic_load_explicit(&q->cqueued, memory_order_relaxed);
    out->checks_rejected += atomic_load_explicit(&q->crejected, memory_order_relaxed);
    out->checks_pending += atomic_load_explicit(&q->chead, memory_order_relaxed) -
                           atomic_load_explicit(&q->ctail, memory_order_relaxed);
  }
  out->checks_written = atomic_load_explicit(&a->cwritten, memory_order_relaxed);
  out->checks_pruned = atomic_load_explicit(&a->pruned, memory_order_relaxed);
  out->checks_write_errors = atomic_load_explicit(&a->cerrors, memory_order_relaxed);
  out->checks_flushes = atomic_load_explicit(&a->cflushes, memory_order_relaxed);
  out->checks_last_flush_ms = atomic_load_explicit(&a->last_cflush_ms, memory_order_relaxed);
  out->checks_retention_days = a->retention_days;
  out->checks_off = a->checks_off;
  out->written = atomic_load_explicit(&a->written, memory_order_relaxed);
  out->flushes = atomic_load_explicit(&a->flushes, memory_order_relaxed);
  out->errors = atomic_load_explicit(&a->errors, memory_order_relaxed);
}
