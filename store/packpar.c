/* packpar.c — a batch's record values compressed on two threads (cx__packpar_*).
 *
 * Why (issue 20, goal 1): a batch commit packs every value it writes with the store's
 * dictionary (reczip.c) on the writer thread, the one thread of an import that never waits:
 * 14 % of the writer's samples were zstd in a 1M-record import onto the 10M store (`perf
 * record`), while the reading thread is busy a quarter of the time. The commit starts a
 * helper thread that packs the values from the front, in put order, while the writer puts the
 * batch's facts, refs and rollups; when the writer reaches the records, it takes what is
 * packed and packs the values nobody has claimed yet itself (the two claim values through one
 * counter) instead of waiting, so the commit is never slower than with one thread (but for a
 * value in flight), and on two free cores the packing leaves the writer's path. The bytes are
 * cx__rec_pack's: the store is the same.
 *
 * Each value has its slot in one buffer, sized by cx__rec_pack_bound, so that neither thread
 * moves what the other reads.
 */
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>

#include "store_int.h"

/* Below this many values the thread costs more than it saves (a test hook: store_int.h). */
size_t cx__packpar_min = 2048;

enum { SLOT_FREE, SLOT_DONE, SLOT_FAILED };

struct cx_packpar {
  const cx_zdict *z;
  size_t n;
  const cx_packin *in;
  unsigned char *buf;       /* the slots: value i at off[i], at most off[i + 1] - off[i] bytes */
  size_t *off;              /* n + 1 offsets */
  uint32_t *len;            /* packed length of value i (valid once state[i] is SLOT_DONE) */
  _Atomic unsigned char *state;
  atomic_size_t next;       /* the next value not claimed by either thread */
  atomic_int err;           /* the first failure's code */
  cx_recenc enc;            /* the helper's encoder (a ZSTD_CCtx is one thread's) */
  pthread_t th;
  int th_up;
};

static int pack_one(cx_packpar *pp, cx_recenc *e, size_t j) {
  cx_buf v = {pp->buf + pp->off[j], 0, pp->off[j + 1] - pp->off[j]};
  int err = cx__rec_pack(e, pp->z, pp->in[j].p, pp->in[j].n, &v);
  if (!err && v.p != pp->buf + pp->off[j]) err = CX_EINTERNAL; /* cannot happen: the slot holds the bound */
  if (err) {
    int zero = 0;
    atomic_compare_exchange_strong(&pp->err, &zero, err);
    atomic_store_explicit(&pp->state[j], SLOT_FAILED, memory_order_release);
    return err;
  }
  pp->len[j] = (uint32_t)v.n;
  atomic_store_explicit(&pp->state[j], SLOT_DONE, memory_order_release);
  return 0;
}

static void *helper_main(void *arg) {
  cx_packpar *pp = arg;
  for (;;) {
    if (atomic_load_explicit(&pp->err, memory_order_relaxed)) break;
    size_t j = atomic_fetch_add(&pp->next, 1);
    if (j >= pp->n) break;
    if (pack_one(pp, &pp->enc, j)) break;
  }
  return NULL;
}

int cx__packpar_start(cx_store *st, const cx_zdict *z, size_t n, const cx_packin *in, cx_packpar **out) {
  cx_packpar *pp = cx_calloc(1, sizeof *pp);
  if (!pp) return CX_ENOMEM;
  pp->z = z;
  pp->n = n;
  pp->in = in;
  pp->enc.literals = st->wenc.literals;
  pp->off = cx_malloc((n + 1) * sizeof *pp->off);
  pp->len = cx_malloc((n ? n : 1) * sizeof *pp->len);
  pp->state = cx_calloc(n ? n : 1, sizeof *pp->state);
  if (!pp->off || !pp->len || !pp->state) goto nomem;
  size_t tot = 0;
  for (size_t i = 0; i < n; i++) {
    pp->off[i] = tot;
    tot += cx__rec_pack_bound(in[i].n);
  }
  pp->off[n] = tot;
  if (!(pp->buf = cx_malloc(tot ? tot : 1))) goto nomem;
  atomic_init(&pp->next, 0);
  atomic_init(&pp->err, 0);
  /* No thread (one value after the other on this one) when it does not pay or cannot start. */
  if (z && n >= cx__packpar_min && pthread_create(&pp->th, NULL, helper_main, pp) == 0) pp->th_up = 1;
  *out = pp;
  return 0;
nomem:
  cx__packpar_end(pp);
  return CX_ENOMEM;
}

int cx__packpar_get(cx_store *st, cx_packpar *pp, size_t i, const unsigned char **p, size_t *n) {
  for (;;) {
    unsigned s = atomic_load_explicit(&pp->state[i], memory_order_acquire);
    if (s == SLOT_DONE) {
      *p = pp->buf + pp->off[i];
      *n = pp->len[i];
      return 0;
    }
    int e = atomic_load_explicit(&pp->err, memory_order_relaxed);
    if (s == SLOT_FAILED || e) return e ? e : CX_EINTERNAL;
    size_t j = atomic_fetch_add(&pp->next, 1);
    if (j < pp->n) { /* a value at or after i, not claimed yet: needed soon */
      int err = pack_one(pp, &st->wenc, j);
      if (err) return err;
      continue;
    }
    /* every value is claimed and value i is the helper's, in progress: one value's time */
    sched_yield();
  }
}

void cx__packpar_end(cx_packpar *pp) {
  if (!pp) return;
  if (pp->th_up) {
    int zero = 0; /* a failed commit stops the helper at its next value */
    atomic_compare_exchange_strong(&pp->err, &zero, CX_ECANCELED);
    pthread_join(pp->th, NULL);
  }
  cx__recenc_free(&pp->enc);
  cx_free(pp->buf);
  cx_free(pp->off);
  cx_free(pp->len);
  cx_free((void *)pp->state);
  cx_free(pp);
}
