/*
 * aggregate.c — group-by aggregates over rollup cubes or over a scan of every record.
 *
 * Both paths feed the same integer accumulators (count, amount, reported, on_time, delay_sum,
 * in_force, repaired, won, lost, kept, broken) into the same open-addressing hash table keyed
 * by the group tuple, and derive the metrics from them in one place, so they give identical
 * results whenever the rollup cells are the sums of the records' contributions.
 *
 * Rates are 0 when their denominator is 0: on_time_rate = on_time / reported, report_delay =
 * delay_sum / reported (mean working days), loss_rate = lost / (won + lost) over lawsuit
 * subtypes, kept_rate = kept / (kept + broken) over commitment subtypes.
 */
#include "query_int.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

typedef struct acc {
  int64_t count, amount, reported, on_time, delay_sum, in_force, repaired, won, lost, kept,
      broken, provisional;
} acc;

typedef struct group {
  uint32_t keys[CX_DIM_COUNT]; /* in spec->group order; only the first n_group are used */
  acc a;
} group;

typedef struct flt {
  uint8_t dim;
  uint8_t use_bits;
  uint64_t bits;
  uint32_t n;
  uint32_t vals[CX_AGG_MAX_FILTER_VALUES]; /* sorted */
} flt;

/* Where a needed dimension comes from on the rollup path. */
enum { SRC_CUBE, SRC_DIV, SRC_YEAR, SRC_QUARTER, SRC_MONTH };
typedef struct src {
  uint8_t kind, idx;
  uint32_t div;
} src;

typedef struct agg {
  const cx_agg_spec *spec;
  uint8_t n_group;
  uint8_t group[CX_DIM_COUNT];
  uint8_t n_flt;
  flt flt[CX_DIM_COUNT];
  uint8_t n_need;                /* dims to compute per record/cell: groups, filters, extras */
  uint8_t need[CX_DIM_COUNT];
  int8_t slot[CX_DIM_COUNT];     /* dim -> index into need[] or -1 */
  src srcs[CX_DIM_COUNT];        /* rollup path: per need[] entry */
  int want_status, want_subtype; /* metrics that need these dims */
  int want_amount, want_report, want_in_force; /* the scan adds only the counters asked for */
  cx_day from, to, as_of;
  const cx_query *q;
  int public_only;               /* count only the records displayable on as_of */
  /* hash table */
  group *g;
  size_t n_g, cap_g;
  uint32_t *idx; /* group index + 1; 0 = empty */
  size_t mask;
  size_t last;   /* group index + 1 of the last lookup (runs of one group are common) */
  uint64_t scanned;
  int err;
  uint32_t max_groups;
  uint64_t deadline_ns;
  const int *cancel;
  uint32_t threads;  /* the scan's threads */
  int plain;         /* one group column (a dim read off the fact), no filter, no date range,
                        not the public: scan_plain */
  uint32_t *direct;  /* one group column: value -> group index + 1 for values < AGG_DIRECT */
  uint64_t blocks;   /* facts blocks visited (the block scan's tick) */
  atomic_int *stop;  /* split scans: set by the part that fails, read by the others */
} agg;

/* The direct map of one-column groups (province, city, category, ...): 64 KiB per part. */
#define AGG_DIRECT 16384u

static uint64_t now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/* Every 4096 records or cells: the client still there, the time budget not spent. */
static int tick_now(agg *a) {
  if (a->stop && atomic_load_explicit(a->stop, memory_order_relaxed)) return a->err = CX_ECANCELED;
  if (a->cancel && __atomic_load_n(a->cancel, __ATOMIC_RELAXED)) return a->err = CX_ECANCELED;
  if (a->deadline_ns && now_ns() > a->deadline_ns) return a->err = CX_ETIMEOUT;
  return 0;
}

static int tick(agg *a) {
  if ((a->scanned & 4095u) != 1) return 0; /* at the first, then every 4096th */
  return tick_now(a);
}

/* ===================================================================== hash table */

static inline uint64_t hash_keys(const uint32_t *k, unsigned n) {
  uint64_t h = 0x243f6a8885a308d3ULL;
  for (unsigned i = 0; i < n; i++) {
    h = (h ^ k[i]) * 0x9e3779b97f4a7c15ULL;
    h ^= h >> 29;
  }
  return h;
}

static int tab_grow(agg *a) {
  size_t ncap = a->mask ? (a->mask + 1) * 2 : 64;
  uint32_t *ni = cx_calloc(ncap, sizeof *ni);
  if (!ni) return CX_ENOMEM;
  for (size_t i = 0; i < a->n_g; i++) {
    size_t j = hash_keys(a->g[i].keys, a->n_group) & (ncap - 1);
    while (ni[j]) j = (j + 1) & (ncap - 1);
    ni[j] = (uint32_t)(i + 1);
  }
  free(a->idx);
  a->idx = ni;
  a->mask = ncap - 1;
  return 0;
}

static inline int keys_eq(const uint32_t *x, const uint32_t *y, unsigned n) {
  for (unsigned i = 0; i < n; i++)
    if (x[i] != y[i]) return 0;
  return 1;
}

static group *tab_get(agg *a, const uint32_t *keys) {
  unsigned ng = a->n_group;
  if (a->last && keys_eq(a->g[a->last - 1].keys, keys, ng)) return &a->g[a->last - 1];
  size_t j = hash_keys(keys, ng) & a->mask;
  for (;;) {
    uint32_t e = a->idx[j];
    if (!e) break;
    group *g = &a->g[e - 1];
    if (keys_eq(g->keys, keys, ng)) {
      a->last = e;
      return g;
    }
    j = (j + 1) & a->mask;
  }
  if (a->n_g >= a->max_groups) { /* a bound on memory and on the answer */
    a->err = CX_ETOOLARGE;
    return NULL;
  }
  /* insert: keep the load under 1/2 */
  if ((a->n_g + 1) * 2 > a->mask + 1) {
    if (tab_grow(a) < 0) return NULL;
    j = hash_keys(keys, ng) & a->mask;
    while (a->idx[j]) j = (j + 1) & a->mask;
  }
  if (a->n_g == a->cap_g) {
    size_t nc = a->cap_g ? a->cap_g * 2 : 64;
    group *ng2 = cx_realloc(a->g, nc * sizeof *ng2);
    if (!ng2) return NULL;
    a->g = ng2;
    a->cap_g = nc;
  }
  group *g = &a->g[a->n_g++];
  memset(g, 0, sizeof *g);
  memcpy(g->keys, keys, ng * sizeof(uint32_t));
  a->idx[j] = (uint32_t)a->n_g;
  a->last = a->n_g;
  return g;
}

/* ===================================================================== filters */

static int cmp_u32(const void *x, const void *y) {
  uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;
  return a < b ? -1 : a > b;
}

static inline int flt_match(const flt *f, uint32_t v) {
  if (f->use_bits) return v < 64 && ((f->bits >> v) & 1);
  uint32_t lo = 0, hi = f->n;
  while (lo < hi) {
    uint32_t mid = (lo + hi) / 2;
    if (f->vals[mid] < v) lo = mid + 1;
    else hi = mid;
  }
  return lo < f->n && f->vals[lo] == v;
}

static void add_need(agg *a, uint8_t d) {
  if (a->slot[d] >= 0) return;
  a->slot[d] = (int8_t)a->n_need;
  a->need[a->n_need++] = d;
}

/* ===================================================================== scan path */

/* cx_fact_dim, inlined for the dims read straight off the fact (the scan's inner loop). */
static inline uint32_t fact_dim(const cx_fact *f, uint8_t d) {
  switch (d) {
  case CX_DIM_PROVINCE: return f->region / 10000;
  case CX_DIM_CITY: return f->region / 100;
  case CX_DIM_COUNTY: return f->region;
  case CX_DIM_AUTHORITY: return f->authority_id;
  case CX_DIM_CATEGORY: return f->category;
  case CX_DIM_SUBTYPE: return f->subtype;
  case CX_DIM_DOMAIN: return f->domain;
  case CX_DIM_SEVERITY: return f->severity;
  case CX_DIM_KIND: return f->entity_kind;
  case CX_DIM_STATUS: return f->status;
  default: return cx_fact_dim(f, (cx_dim)d);
  }
}

/* The group of keys k: through the direct map for one column of small values, else the hash. */
static inline group *group_of(agg *a, const uint32_t *k) {
  if (a->direct && k[0] < AGG_DIRECT) {
    uint32_t e = a->direct[k[0]];
    if (e) return &a->g[e - 1];
    group *g = tab_get(a, k);
    if (g) a->direct[k[0]] = (uint32_t)(g - a->g) + 1;
    return g;
  }
  return tab_get(a, k);
}

/* A fact's contribution to its group. Only the counters the metrics read (metric()); the
 * others stay 0. Branches on a->want_* are the same for every fact. A record counts as
 * reported when it has a report date (the rows' provisional count needs it whatever the
 * metrics); negative delays (reported before the decision) add 0 to the delay sum. */
static inline __attribute__((always_inline)) void add_fact(const agg *a, group *g, const cx_fact *r) {
  acc *c = &g->a;
  int64_t rep = r->report_date != CX_DAY_NONE;
  c->count++;
  c->reported += rep;
  c->provisional += (int64_t)r->delay_provisional & -rep;
  if (a->want_amount) c->amount += r->amount_fen;
  if (a->want_report) {
    int64_t delay = r->report_delay > 0 ? r->report_delay : 0;
    c->on_time += rep & (r->on_time != 0);
    c->delay_sum += delay & -rep;
  }
  if (a->want_in_force) {
    cx_day d = a->as_of;
    c->in_force += (r->status == CX_ST_ACTIVE) & (r->valid_from <= d) &
                   ((r->valid_until == CX_DAY_OPEN) | (d < r->valid_until)); /* cx__in_force */
  }
  if (a->want_status) c->repaired += r->status == CX_ST_REPAIRED;
  if (a->want_subtype) {
    c->won += r->subtype == CX_SUB_WON;
    c->lost += r->subtype == CX_SUB_LOST;
    c->kept += r->subtype == CX_SUB_KEPT;
    c->broken += r->subtype == CX_SUB_BROKEN;
  }
}

/* One fact. Reads only the fixed record fields (cx_fact): no strings are decoded on this path.
 * The counters are added without branches on the data (status, dates and flags are random
 * from one record to the next); the same sums as a record's rollup delta (store/rollup.c).
 * Inlined into the block loop: no call per fact. */
static inline __attribute__((always_inline)) int scan_one(agg *a, const cx_fact *r) {
  if (a->from && r->decision_date < a->from) return 0;
  if (a->to && r->decision_date > a->to) return 0;
  if (a->public_only) { /* the public counts only what it may see today */
    cx_sum_rec sr = {r->decision_date, r->valid_from, r->valid_until, r->category, r->severity,
                     r->status, (uint8_t)((r->subtype & 0x0F) << CX_SRF_SUBTYPE_SHIFT), r->display_until};
    if (!cx_query_displayable(a->q, r->entity_kind, &sr, a->as_of)) return 0;
  }
  uint32_t v[CX_DIM_COUNT];
  for (unsigned i = 0; i < a->n_need; i++) v[i] = fact_dim(r, a->need[i]);
  for (unsigned i = 0; i < a->n_flt; i++)
    if (!flt_match(&a->flt[i], v[a->slot[a->flt[i].dim]])) return 0;
  uint32_t k[CX_DIM_COUNT];
  for (unsigned i = 0; i < a->n_group; i++) k[i] = v[a->slot[a->group[i]]];
  group *g = group_of(a, k);
  if (!g) {
    if (!a->err) a->err = CX_ENOMEM;
    return a->err;
  }
  add_fact(a, g, r);
  return 0;
}

/* The records walk (stores without the facts DB): one fact per call. */
static int scan_cb(void *vctx, const cx_fact *r) {
  agg *a = vctx;
  a->scanned++;
  if (tick(a)) return a->err;
  return scan_one(a, r);
}

/* The common shape, one group column and nothing else to check (no filter, no date range, not
 * the public): the column's dim is a constant of each copy of this loop, so the key is one
 * load (and a division for province and city), the group one load from the direct map. */
static inline __attribute__((always_inline)) int scan_plain(agg *a, const cx_fact *f, size_t n, uint8_t dim) {
  for (size_t i = 0; i < n; i++) {
    const cx_fact *r = &f[i];
    uint32_t k = fact_dim(r, dim);
    uint32_t e = k < AGG_DIRECT ? a->direct[k] : 0;
    group *g = e ? &a->g[e - 1] : group_of(a, &k);
    if (!g) {
      if (!a->err) a->err = CX_ENOMEM;
      return a->err;
    }
    add_fact(a, g, r);
  }
  return 0;
}

/* The facts DB: one block (up to CX_FACTS_PER_BLOCK facts) per call; the tick every 16 blocks. */
static int scan_block(void *vctx, const cx_fact *f, size_t n) {
  agg *a = vctx;
  if ((a->blocks++ & 15u) == 0 && tick_now(a)) return a->err;
  a->scanned += n;
  if (a->plain) {
    switch (a->group[0]) {
#define PLAIN(d) case d: return scan_plain(a, f, n, d);
      PLAIN(CX_DIM_PROVINCE) PLAIN(CX_DIM_CITY) PLAIN(CX_DIM_COUNTY) PLAIN(CX_DIM_AUTHORITY)
      PLAIN(CX_DIM_CATEGORY) PLAIN(CX_DIM_SUBTYPE) PLAIN(CX_DIM_DOMAIN) PLAIN(CX_DIM_SEVERITY)
      PLAIN(CX_DIM_KIND) PLAIN(CX_DIM_STATUS)
#undef PLAIN
    default: break;
    }
  }
  for (size_t i = 0; i < n; i++)
    if (scan_one(a, &f[i])) return a->err;
  return 0;
}

/* ===================================================================== split scans */

/* Scan threads in use in this process (each running scan counts its threads), against the
 * configured number (cx_query_set_scan_threads): a scan asks for more threads only while
 * cores are free of other scans, so a server running several aggregates at once on its
 * thread pool gives each one thread rather than oversubscribing the cores. */
static atomic_uint scan_busy;
static atomic_uint scan_cfg_threads;   /* 0: the number of online CPUs, at most 16 */
static atomic_ullong scan_cfg_min = CX_AGG_SPLIT_MIN_FACTS;

void cx_query_set_scan_threads(unsigned threads, uint64_t min_facts) {
  atomic_store(&scan_cfg_threads, threads > CX_AGG_MAX_SCAN_THREADS ? CX_AGG_MAX_SCAN_THREADS : threads);
  atomic_store(&scan_cfg_min, min_facts);
}

unsigned cx_query_scan_threads(void) {
  unsigned n = atomic_load(&scan_cfg_threads);
  if (n) return n;
  long c = sysconf(_SC_NPROCESSORS_ONLN);
  return c < 1 ? 1u : c > CX_AGG_MAX_SCAN_THREADS ? CX_AGG_MAX_SCAN_THREADS : (unsigned)c;
}

/* Takes up to want threads (at least 1) of the budget cap. */
static unsigned scan_reserve(unsigned want, unsigned cap) {
  unsigned cur = atomic_load(&scan_busy), g;
  do {
    g = cur + want <= cap ? want : cap > cur + 1 ? cap - cur : 1;
  } while (!atomic_compare_exchange_weak(&scan_busy, &cur, cur + g));
  return g;
}

/* The blocks are handed out in chunks from a shared counter, so a thread that the scheduler
 * holds back (a busy machine) leaves its share to the others instead of making the scan wait
 * for it. Which thread scans which chunk does not change the sums. */
typedef struct chunks {
  uint32_t lo, hi, size, n;
  atomic_uint next;
} chunks;

typedef struct part {
  agg *a;
  cx_txn *t;
  chunks *ch;
  unsigned first; /* the part's own first chunk (every part scans one at least); then the
                     counter's, which starts past them */
  int rc;
  pthread_t th;
} part;

static void *part_main(void *vp) {
  part *p = vp;
  chunks *c = p->ch;
  p->rc = 0;
  for (unsigned i = p->first;; i = atomic_fetch_add(&c->next, 1)) {
    if (i >= c->n) break;
    uint32_t lo = c->lo + i * c->size, hi = c->hi - lo > c->size ? lo + c->size : c->hi;
    if ((p->rc = cx_store_facts_scan_blocks(p->t, lo, hi, scan_block, p->a)) < 0) break;
    if (p->a->err) break;
  }
  if (p->a->err) p->rc = p->a->err;
  if (p->rc < 0) atomic_store(p->a->stop, 1);
  return NULL;
}

static void acc_add(acc *x, const acc *y) {
  x->count += y->count;
  x->amount += y->amount;
  x->reported += y->reported;
  x->on_time += y->on_time;
  x->delay_sum += y->delay_sum;
  x->in_force += y->in_force;
  x->repaired += y->repaired;
  x->won += y->won;
  x->lost += y->lost;
  x->kept += y->kept;
  x->broken += y->broken;
  x->provisional += y->provisional;
}

static void agg_free_tab(agg *a) {
  free(a->g);
  free(a->idx);
  free(a->direct);
}

/* A part's state: the setup of a, an empty table of its own. */
static int agg_clone(const agg *a, agg *o) {
  *o = *a;
  o->g = NULL;
  o->n_g = o->cap_g = 0;
  o->idx = NULL;
  o->mask = 0;
  o->last = 0;
  o->scanned = o->blocks = 0;
  o->err = 0;
  o->direct = NULL;
  if (a->direct && !(o->direct = cx_calloc(AGG_DIRECT, sizeof *o->direct))) return CX_ENOMEM;
  return tab_grow(o);
}

/*
 * The scan of the facts: split into chunks of blocks (key ranges) that nt parts take in turn,
 * part 0 in t on this thread, parts 1.. each in a twin of t (the same snapshot) on a thread of
 * its own; the partial tables are added into a's in part order. Sums of integers: the same answer as one thread,
 * whatever the split. When a twin cannot be had (a write committed since t began, the reader
 * table full), or a thread cannot be started, one thread does it all.
 */
static int facts_scan(agg *a, cx_txn *t, unsigned want) {
  uint32_t lo, hi;
  int rc = cx_store_facts_blocks(t, &lo, &hi);
  if (rc == CX_ENOTFOUND) return cx_store_facts_scan(t, scan_cb, a); /* no facts DB */
  if (rc < 0) return rc;
  uint64_t nb = (uint64_t)hi - lo;
  /* spec->threads, else the configured number while each thread gets min_facts (counted as
   * the blocks' slots) */
  unsigned nt = want > CX_AGG_MAX_SCAN_THREADS ? CX_AGG_MAX_SCAN_THREADS : want;
  if (!nt) {
    uint64_t min = atomic_load(&scan_cfg_min), slots = nb * CX_FACTS_PER_BLOCK;
    nt = cx_query_scan_threads();
    if (min && slots / min < nt) nt = (unsigned)(slots / min);
  }
  if (nt > nb) nt = (unsigned)nb;
  a->threads = 1;
  if (nt <= 1) { /* counted in the budget too: its core is taken */
    atomic_fetch_add(&scan_busy, 1);
    rc = cx_store_facts_scan_blocks(t, lo, hi, scan_block, a);
    atomic_fetch_sub(&scan_busy, 1);
    return rc;
  }

  unsigned got = scan_reserve(nt, nt > cx_query_scan_threads() ? nt : cx_query_scan_threads());
  part ps[CX_AGG_MAX_SCAN_THREADS];
  agg *as = got > 1 ? cx_calloc(got, sizeof *as) : NULL; /* as[0] unused: part 0 is a */
  atomic_int stop = 0;
  unsigned np = 1, started = 0;
  memset(ps, 0, sizeof ps);
  rc = 0;
  for (unsigned i = 1; as && i < got; i++) {
    if (cx_store_txn_twin(t, &ps[i].t)) break;
    if (agg_clone(a, &as[i])) {
      cx_store_txn_end(ps[i].t);
      agg_free_tab(&as[i]);
      break;
    }
    np++;
  }
  /* ~8 chunks per thread at least, at most 128 blocks (32k facts, ~2 MB) each */
  chunks ch = {lo, hi, 0, 0, 0};
  uint64_t size = nb / ((uint64_t)np * 8);
  ch.size = size < 1 ? 1 : size > 128 ? 128 : (uint32_t)size;
  ch.n = (uint32_t)((nb + ch.size - 1) / ch.size); /* >= np: np <= nb */
  atomic_store(&ch.next, np);
  for (unsigned i = 0; i < np; i++) {
    ps[i].a = i ? &as[i] : a;
    ps[i].a->stop = &stop;
    ps[i].ch = &ch;
    ps[i].first = i;
  }
  ps[0].t = t;
  /* Threads for parts 1..np-1; a part whose thread does not start is done here after part 0. */
  for (unsigned i = 1; i < np; i++)
    if (pthread_create(&ps[i].th, NULL, part_main, &ps[i]) == 0) started |= 1u << i;
  part_main(&ps[0]);
  for (unsigned i = 1; i < np; i++) {
    if (started & (1u << i)) pthread_join(ps[i].th, NULL);
    else part_main(&ps[i]);
  }
  if (ps[0].rc < 0) rc = ps[0].rc;
  a->threads = np;
  for (unsigned i = 1; i < np; i++) {
    cx_store_txn_end(ps[i].t);
    /* the first real error: a part stopped by another reports CX_ECANCELED */
    if (ps[i].rc < 0 && (!rc || rc == CX_ECANCELED)) rc = ps[i].rc;
    for (size_t j = 0; !rc && j < as[i].n_g; j++) {
      group *g = group_of(a, as[i].g[j].keys);
      if (!g) rc = a->err ? a->err : CX_ENOMEM;
      else acc_add(&g->a, &as[i].g[j].a);
    }
    a->scanned += as[i].scanned;
    agg_free_tab(&as[i]);
  }
  free(as);
  a->stop = NULL;
  atomic_fetch_sub(&scan_busy, got);
  a->err = rc < 0 ? rc : 0;
  return rc;
}

/* ===================================================================== rollup path */

/** Plans how each needed dim derives from cube c; 0 when the cube cannot cover. */
static int plan_cube(agg *a, int c, src *out) {
  const cx_cube_def *def = &cx_cubes[c];
  for (unsigned i = 0; i < a->n_need; i++) {
    uint8_t d = a->need[i];
    int found = -1, city = -1, county = -1;
    for (unsigned j = 0; j < def->n_dims; j++) {
      if (def->dims[j] == d) found = (int)j;
      if (def->dims[j] == CX_DIM_CITY) city = (int)j;
      if (def->dims[j] == CX_DIM_COUNTY) county = (int)j;
    }
    if (found >= 0) out[i] = (src){SRC_CUBE, (uint8_t)found, 1};
    else if (d == CX_DIM_YEAR) out[i] = (src){SRC_YEAR, 0, 1};
    else if (d == CX_DIM_QUARTER) out[i] = (src){SRC_QUARTER, 0, 1};
    else if (d == CX_DIM_MONTH) out[i] = (src){SRC_MONTH, 0, 1};
    else if (d == CX_DIM_PROVINCE && city >= 0) out[i] = (src){SRC_DIV, (uint8_t)city, 100};
    else if (d == CX_DIM_PROVINCE && county >= 0) out[i] = (src){SRC_DIV, (uint8_t)county, 10000};
    else if (d == CX_DIM_CITY && county >= 0) out[i] = (src){SRC_DIV, (uint8_t)county, 100};
    else return 0;
  }
  return 1;
}

static int cell_cb(void *vctx, uint32_t month, const uint32_t *dims, const cx_rollup_cell *cell) {
  agg *a = vctx;
  a->scanned++;
  if (tick(a)) return a->err;
  uint32_t v[CX_DIM_COUNT];
  for (unsigned i = 0; i < a->n_need; i++) {
    const src *s = &a->srcs[i];
    switch (s->kind) {
    case SRC_CUBE: v[i] = dims[s->idx]; break;
    case SRC_DIV: v[i] = dims[s->idx] / s->div; break;
    case SRC_YEAR: v[i] = month / 12; break;
    case SRC_QUARTER: v[i] = month / 12 * 10 + (month % 12) / 3 + 1; break;
    default: v[i] = month / 12 * 100 + month % 12 + 1; break;
    }
  }
  for (unsigned i = 0; i < a->n_flt; i++)
    if (!flt_match(&a->flt[i], v[a->slot[a->flt[i].dim]])) return 0;
  uint32_t k[CX_DIM_COUNT];
  for (unsigned i = 0; i < a->n_group; i++) k[i] = v[a->slot[a->group[i]]];
  group *g = tab_get(a, k);
  if (!g) {
    if (!a->err) a->err = CX_ENOMEM;
    return a->err;
  }
  acc *c = &g->a;
  c->count += cell->count;
  c->amount += cell->amount;
  c->reported += cell->reported;
  c->on_time += cell->on_time;
  c->delay_sum += cell->delay_sum;
  c->provisional += cell->provisional;
  if (a->want_status && v[a->slot[CX_DIM_STATUS]] == CX_ST_REPAIRED) c->repaired += cell->count;
  if (a->want_subtype) {
    uint32_t st = v[a->slot[CX_DIM_SUBTYPE]];
    if (st == CX_SUB_WON) c->won += cell->count;
    else if (st == CX_SUB_LOST) c->lost += cell->count;
    else if (st == CX_SUB_KEPT) c->kept += cell->count;
    else if (st == CX_SUB_BROKEN) c->broken += cell->count;
  }
  return 0;
}

/** 1 when day d is the first day of its month. */
static int month_start(cx_day d) {
  int y, m, dd;
  cx_day_to_ymd(d, &y, &m, &dd);
  return dd == 1;
}

/* ===================================================================== results */

static double metric(const acc *c, int m) {
  switch (m) {
  case CX_M_COUNT: return (double)c->count;
  case CX_M_AMOUNT: return (double)c->amount;
  case CX_M_IN_FORCE: return (double)c->in_force;
  case CX_M_ON_TIME: return (double)c->on_time;
  /* A rate or a mean without data is not 0: NAN, which the doors write as null / n/a. */
  case CX_M_ON_TIME_RATE: return c->reported ? (double)c->on_time / (double)c->reported : NAN;
  case CX_M_REPORT_DELAY: return c->reported ? (double)c->delay_sum / (double)c->reported : NAN;
  case CX_M_REPAIRED: return (double)c->repaired;
  case CX_M_LOSS_RATE:
    return c->won + c->lost ? (double)c->lost / (double)(c->won + c->lost) : NAN;
  case CX_M_KEPT_RATE:
    return c->kept + c->broken ? (double)c->kept / (double)(c->kept + c->broken) : NAN;
  default: return 0.0;
  }
}

typedef struct sort_ctx {
  unsigned n_group;
  int col, desc;
} sort_ctx;

static int row_cmp(const void *x, const void *y, void *vctx) {
  const cx_agg_row *a = x, *b = y;
  const sort_ctx *s = vctx;
  int r = 0;
  if (s->col >= 0) {
    if ((unsigned)s->col < s->n_group) {
      uint32_t ka = a->keys[s->col], kb = b->keys[s->col];
      r = ka < kb ? -1 : ka > kb;
    } else {
      double va = a->vals[s->col - (int)s->n_group], vb = b->vals[s->col - (int)s->n_group];
      if (isnan(va) || isnan(vb)) { /* no data sorts last, ascending or descending */
        r = isnan(va) - isnan(vb);
        if (r) return r;
      } else {
        r = va < vb ? -1 : va > vb;
      }
    }
    if (s->desc) r = -r;
    if (r) return r;
  }
  for (unsigned i = 0; i < s->n_group; i++) {
    uint32_t ka = a->keys[i], kb = b->keys[i];
    if (ka != kb) {
      r = ka < kb ? -1 : 1;
      return (s->col < 0 && s->desc) ? -r : r;
    }
  }
  return 0;
}

/* ===================================================================== entry point */

static int setup(agg *a, const cx_agg_spec *spec) {
  memset(a->slot, -1, sizeof a->slot);
  if (spec->n_group > CX_DIM_COUNT || spec->n_filters > CX_DIM_COUNT ||
      spec->n_metrics > CX_M_COUNT_)
    return CX_EBADREQ;
  a->n_group = spec->n_group;
  for (unsigned i = 0; i < spec->n_group; i++) {
    uint8_t d = spec->group[i];
    if (d >= CX_DIM_COUNT) return CX_EBADREQ;
    for (unsigned j = 0; j < i; j++)
      if (spec->group[j] == d) return CX_EBADREQ;
    a->group[i] = d;
    add_need(a, d);
  }
  a->n_flt = spec->n_filters;
  for (unsigned i = 0; i < spec->n_filters; i++) {
    const cx_agg_filter *f = &spec->filters[i];
    flt *o = &a->flt[i];
    if (f->dim >= CX_DIM_COUNT || f->n == 0 || f->n > CX_AGG_MAX_FILTER_VALUES) return CX_EBADREQ;
    o->dim = f->dim;
    o->n = f->n;
    memcpy(o->vals, f->vals, f->n * sizeof(uint32_t));
    qsort(o->vals, o->n, sizeof(uint32_t), cmp_u32);
    o->use_bits = o->vals[o->n - 1] < 64;
    for (unsigned j = 0; o->use_bits && j < o->n; j++) o->bits |= 1ULL << o->vals[j];
    add_need(a, f->dim);
  }
  for (unsigned i = 0; i < spec->n_metrics; i++) {
    if (spec->metrics[i] >= CX_M_COUNT_) return CX_EBADREQ;
    if (spec->metrics[i] == CX_M_REPAIRED) a->want_status = 1;
    if (spec->metrics[i] == CX_M_AMOUNT) a->want_amount = 1;
    if (spec->metrics[i] == CX_M_IN_FORCE) a->want_in_force = 1;
    if (spec->metrics[i] == CX_M_ON_TIME || spec->metrics[i] == CX_M_ON_TIME_RATE ||
        spec->metrics[i] == CX_M_REPORT_DELAY)
      a->want_report = 1;
    if (spec->metrics[i] == CX_M_LOSS_RATE || spec->metrics[i] == CX_M_KEPT_RATE)
      a->want_subtype = 1;
  }
  unsigned ncols = spec->n_group + (spec->n_metrics ? spec->n_metrics : 1u);
  if (spec->order < -1 || spec->order >= (int)ncols) return CX_EBADREQ;
  if (spec->from != CX_DAY_NONE && spec->to != CX_DAY_NONE && spec->from > spec->to)
    return CX_EBADREQ;
  a->from = spec->from;
  a->to = spec->to;
  a->as_of = spec->as_of ? spec->as_of : cx_day_today();
  return 0;
}

/** The smallest cube covering the aggregate, or -1. Fills a->srcs and the extra dims. */
static int pick_cube(agg *a, const cx_agg_spec *spec) {
  for (unsigned i = 0; i < spec->n_metrics; i++)
    if (spec->metrics[i] == CX_M_IN_FORCE) return -1;
  if (spec->from != CX_DAY_NONE && !month_start(spec->from)) return -1;
  if (spec->to != CX_DAY_NONE && !month_start(spec->to + 1)) return -1;
  uint8_t saved = a->n_need;
  if (a->want_status) add_need(a, CX_DIM_STATUS);
  if (a->want_subtype) add_need(a, CX_DIM_SUBTYPE);
  int best = -1;
  src tmp[CX_DIM_COUNT];
  for (int c = 0; c < cx_cube_count; c++) {
    if (!plan_cube(a, c, tmp)) continue;
    if (best < 0 || cx_cubes[c].n_dims < cx_cubes[best].n_dims) {
      best = c;
      memcpy(a->srcs, tmp, sizeof tmp);
    }
  }
  if (best < 0) { /* undo the extras: the scan path computes them from the record itself */
    for (unsigned i = saved; i < a->n_need; i++) a->slot[a->need[i]] = -1;
    a->n_need = saved;
  }
  return best;
}

/** Narrows the month range of a rollup read by the filters on year, quarter and month. */
static void month_range(const agg *a, uint32_t *lo, uint32_t *hi) {
  *lo = a->from ? cx_day_month(a->from) : 0;
  *hi = a->to ? cx_day_month(a->to) : 0xffff;
  for (unsigned i = 0; i < a->n_flt; i++) {
    const flt *f = &a->flt[i];
    uint32_t mn = f->vals[0], mx = f->vals[f->n - 1], l, h;
    /* A superset is fine (the filter still applies per cell); never cut a valid month. */
    if (f->dim == CX_DIM_YEAR) l = mn * 12, h = mx * 12 + 11;
    else if (f->dim == CX_DIM_QUARTER) l = mn / 10 * 12, h = mx / 10 * 12 + 11;
    else if (f->dim == CX_DIM_MONTH) l = mn / 100 * 12, h = mx / 100 * 12 + 11;
    else continue;
    if (l > *lo) *lo = l;
    if (h < *hi) *hi = h;
  }
}

int cx_query_aggregate(const cx_query *q, cx_txn *t, cx_role role, const cx_agg_spec *spec,
                       cx_agg_result *out) {
  if (!q || !t || !spec || !out || (unsigned)role >= CX_ROLE_COUNT) return CX_EBADREQ;
  if (role == CX_ROLE_PUBLIC && spec->as_of && spec->as_of != cx_day_today()) return CX_EPUBLICDAY;
  agg *a = cx_calloc(1, sizeof *a);
  if (!a) return CX_ENOMEM;
  cx_agg_row *rows = NULL;
  int rc = setup(a, spec);
  if (rc < 0) goto fail;
  a->spec = spec;
  a->q = q;
  a->max_groups = spec->max_groups ? spec->max_groups : CX_AGG_MAX_GROUPS;
  a->deadline_ns = spec->deadline_ns;
  a->cancel = spec->cancel;
  a->public_only = role == CX_ROLE_PUBLIC;
  if ((rc = tab_grow(a)) < 0) goto fail;
  if (a->n_group == 1 && !(a->direct = cx_calloc(AGG_DIRECT, sizeof *a->direct))) {
    rc = CX_ENOMEM;
    goto fail;
  }
  a->plain = a->direct && a->n_flt == 0 && !a->from && !a->to && !a->public_only &&
             a->group[0] <= CX_DIM_STATUS;

  /* Rollups count every record: the public's view depends on the day, so it always scans. */
  int cube = spec->force_scan || a->public_only ? -1 : pick_cube(a, spec);
  if (cube >= 0) {
    uint32_t lo, hi;
    month_range(a, &lo, &hi);
    rc = lo <= hi ? cx_store_rollup_each(t, cube, lo, hi, cell_cb, a) : 0;
  } else {
    rc = facts_scan(a, t, spec->threads);
  }
  if (a->err) rc = a->err;
  if (rc < 0) goto fail;

  /* Rows: metrics, public suppression, order, limit. */
  uint8_t one = CX_M_COUNT;
  const uint8_t *metrics = spec->n_metrics ? spec->metrics : &one;
  unsigned nm = spec->n_metrics ? spec->n_metrics : 1u;
  size_t n = 0;
  if (a->n_g) {
    rows = cx_malloc(a->n_g * sizeof *rows);
    if (!rows) {
      rc = CX_ENOMEM;
      goto fail;
    }
  }
  for (size_t i = 0; i < a->n_g; i++) {
    const group *g = &a->g[i];
    if (role == CX_ROLE_PUBLIC && g->a.count < CX_AGG_MIN_PUBLIC_CELL) continue;
    if (g->a.count == 0) continue; /* e.g. cells of records deleted meanwhile */
    cx_agg_row *r = &rows[n++];
    memset(r, 0, sizeof *r);
    memcpy(r->keys, g->keys, a->n_group * sizeof(uint32_t));
    for (unsigned m = 0; m < nm; m++) r->vals[m] = metric(&g->a, metrics[m]);
    r->provisional = (uint64_t)(g->a.provisional > 0 ? g->a.provisional : 0);
  }
  sort_ctx sc = {a->n_group, spec->order, spec->desc};
  if (n > 1) qsort_r(rows, n, sizeof *rows, row_cmp, &sc);
  if (spec->limit && n > spec->limit) n = spec->limit;
  if (n == 0) {
    free(rows);
    rows = NULL;
  }
  out->n_rows = (uint32_t)n;
  out->rows = rows;
  out->provisional = 0;
  for (size_t i = 0; i < n; i++) out->provisional += rows[i].provisional;
  out->from_rollup = cube >= 0;
  out->scanned = a->scanned;
  out->threads = a->threads ? a->threads : 1;
  agg_free_tab(a);
  free(a);
  return 0;
fail:
  free(rows);
  agg_free_tab(a);
  free(a);
  return rc;
}

void cx_agg_result_free(cx_agg_result *res) {
  if (!res) return;
  free(res->rows);
  res->rows = NULL;
  res->n_rows = 0;
}
