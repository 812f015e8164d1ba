/*
 * regions.c — the names a status shows for an entity's region (province, city as people say
 * it, county, and whether the code is historic), from a table of every region code derived
 * once per query context instead of four lookups of the regions DB per entity.
 *
 * The table is a cache: each entry is what the lookups below (slow_show) return for the code
 * at the snapshot the table was built from, and it is used only while the store's region
 * generation (cx_store_regions_gen, bumped by every rewrite of the tables) is the one it was
 * built at; otherwise, and for a code no table has, the lookups answer. Built on the
 * REGTAB_AFTER-th status of a context (a one-shot command never pays for it), published
 * atomically; a table replaced by a newer one is kept until the context is freed (a reader
 * may still hold it; rewrites of the region tables are rare).
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "query_int.h"

#define REGTAB_AFTER 64u

typedef struct regent {
  uint32_t code;
  uint16_t until;
  cx_str province, city, county; /* into the table's arena */
} regent;

struct cx__regtab {
  uint64_t gen;
  uint32_t n;
  regent *e;      /* ascending codes */
  char *arena;
  cx__regtab *older; /* retired tables of the same context */
};

static cx_str region_name(cx_txn *t, uint32_t code) {
  cx_str s = {"", 0};
  if (code && cx_store_region_name(t, code, &s) < 0) s = (cx_str){"", 0};
  return s;
}

/* The names through the regions DB (what every table entry caches). city may point into
 * city_buf (cap bytes). */
static void slow_show(cx_txn *t, uint32_t region, cx__region_show *out, char *city_buf, size_t cap) {
  out->province = region_name(t, region / 10000 * 10000);
  /* The city level as people say it (北京市, not 市辖区); a province's own level has none:
   * the province is not a city. */
  out->city = (cx_str){"", 0};
  if (region % 10000 != 0 && region && cx_query_city_name(t, region, city_buf, cap) == 0 &&
      !(city_buf[0] >= '0' && city_buf[0] <= '9'))
    out->city = cx_str_c(city_buf);
  cx_region reg = {{"", 0}, 0, 0};
  if (region && cx_store_region_get(t, region, &reg) < 0) reg = (cx_region){{"", 0}, 0, 0};
  out->county = reg.name;
  out->until = reg.last_year;
}

/* ------------------------------------------------------------------ building */

typedef struct codes {
  uint32_t *v;
  uint32_t n, cap;
  int err;
} codes;

static int collect(void *ctx, uint32_t code, const cx_region *r) {
  (void)r;
  codes *c = ctx;
  if (c->n == c->cap) {
    uint32_t nc = c->cap ? 2 * c->cap : 8192;
    uint32_t *nv = cx_realloc(c->v, (size_t)nc * sizeof *nv);
    if (!nv) return c->err = CX_ENOMEM;
    c->v = nv;
    c->cap = nc;
  }
  c->v[c->n++] = code;
  return 0;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return x < y ? -1 : x > y;
}

static void tab_free(cx__regtab *tb) {
  while (tb) {
    cx__regtab *o = tb->older;
    free(tb->e);
    free(tb->arena);
    free(tb);
    tb = o;
  }
}

/* The table of txn t's snapshot (generation gen), or NULL (no memory, a read error: the
 * lookups keep answering). */
static cx__regtab *tab_build(cx_txn *t, uint64_t gen) {
  codes c = {0};
  if (cx_store_regions_each(t, collect, &c) < 0 || c.err) {
    free(c.v);
    return NULL;
  }
  qsort(c.v, c.n, sizeof *c.v, cmp_u32);
  uint32_t u = 0;
  for (uint32_t i = 0; i < c.n; i++)
    if (c.v[i] && (u == 0 || c.v[u - 1] != c.v[i])) c.v[u++] = c.v[i];
  cx__regtab *tb = cx_calloc(1, sizeof *tb);
  regent *e = cx_calloc(u ? u : 1, sizeof *e);
  size_t cap = (size_t)u * 64 + 64, used = 0;
  char *arena = cx_malloc(cap);
  int ok = tb && e && arena;
  /* the strings are copied after all are sized: the arena never moves under an entry */
  size_t *off = ok ? cx_malloc((size_t)(u ? u : 1) * 3 * sizeof *off) : NULL;
  ok = ok && off;
  char city_buf[96];
  for (uint32_t i = 0; ok && i < u; i++) {
    cx__region_show s;
    slow_show(t, c.v[i], &s, city_buf, sizeof city_buf);
    size_t need = (size_t)s.province.n + s.city.n + s.county.n;
    if (used + need > cap) {
      size_t nc = cap * 2 + need;
      char *na = cx_realloc(arena, nc);
      if (!na) {
        ok = 0;
        break;
      }
      arena = na;
      cap = nc;
    }
    const cx_str parts[3] = {s.province, s.city, s.county};
    for (int k = 0; k < 3; k++) {
      off[3 * (size_t)i + (size_t)k] = used;
      memcpy(arena + used, parts[k].p, parts[k].n);
      used += parts[k].n;
    }
    e[i].code = c.v[i];
    e[i].until = s.until;
    e[i].province.n = s.province.n;
    e[i].city.n = s.city.n;
    e[i].county.n = s.county.n;
  }
  free(c.v);
  if (!ok) {
    free(off);
    free(arena);
    free(e);
    free(tb);
    return NULL;
  }
  for (uint32_t i = 0; i < u; i++) {
    e[i].province.p = arena + off[3 * (size_t)i];
    e[i].city.p = arena + off[3 * (size_t)i + 1];
    e[i].county.p = arena + off[3 * (size_t)i + 2];
  }
  free(off);
  tb->gen = gen;
  tb->n = u;
  tb->e = e;
  tb->arena = arena;
  return tb;
}

/* ------------------------------------------------------------------ the context's table */

struct cx__regcache {
  _Atomic(cx__regtab *) tab;
  atomic_uint misses;
  pthread_mutex_t mu; /* building and retiring */
  cx__regtab *retired;
};

int cx__query_regions_init(cx_query *q) {
  q->regions = cx_calloc(1, sizeof *q->regions);
  if (!q->regions) return CX_ENOMEM;
  atomic_init(&q->regions->tab, NULL);
  atomic_init(&q->regions->misses, 0);
  if (pthread_mutex_init(&q->regions->mu, NULL)) {
    free(q->regions);
    q->regions = NULL;
    return CX_ENOMEM;
  }
  return 0;
}

void cx__query_regions_free(cx_query *q) {
  if (!q || !q->regions) return;
  tab_free(atomic_load(&q->regions->tab));
  tab_free(q->regions->retired);
  pthread_mutex_destroy(&q->regions->mu);
  free(q->regions);
  q->regions = NULL;
}

/* The table valid for t (its generation), building one when due; NULL: use the lookups. */
static const cx__regtab *tab_for(const cx_query *q, cx_txn *t) {
  struct cx__regcache *rc = q->regions;
  if (!rc) return NULL;
  uint64_t gen;
  if (cx_store_regions_gen(t, &gen) < 0) return NULL;
  cx__regtab *tb = atomic_load_explicit(&rc->tab, memory_order_acquire);
  if (tb && tb->gen == gen) return tb;
  if (atomic_fetch_add_explicit(&rc->misses, 1, memory_order_relaxed) + 1 < REGTAB_AFTER) return NULL;
  pthread_mutex_lock(&rc->mu);
  tb = atomic_load_explicit(&rc->tab, memory_order_acquire);
  if (!tb || tb->gen != gen) {
    cx__regtab *nt = tab_build(t, gen);
    if (nt) {
      if (tb) { /* a reader may still hold it */
        tb->older = rc->retired;
        rc->retired = tb;
      }
      atomic_store_explicit(&rc->tab, nt, memory_order_release);
      tb = nt;
    }
    atomic_store_explicit(&rc->misses, 0, memory_order_relaxed);
  }
  pthread_mutex_unlock(&rc->mu);
  return tb && tb->gen == gen ? tb : NULL;
}

void cx__query_region_show(const cx_query *q, cx_txn *t, uint32_t region, cx__region_show *out,
                           char *city_buf, size_t cap) {
  const cx__regtab *tb = region ? tab_for(q, t) : NULL;
  if (tb) {
    uint32_t lo = 0, hi = tb->n;
    while (lo < hi) {
      uint32_t mid = lo + (hi - lo) / 2;
      if (tb->e[mid].code < region) lo = mid + 1;
      else hi = mid;
    }
    if (lo < tb->n && tb->e[lo].code == region) {
      const regent *e = &tb->e[lo];
      out->province = e->province;
      out->city = e->city;
      out->county = e->county;
      out->until = e->until;
      return;
    }
    /* A code the regions DB does not have (an entity's made-up or mistyped county): slow_show
     * would name no county, and its province and city by the code's prefixes, as it named
     * them for any code of the DB with the same prefixes; such a code sorts beside it. */
    const regent *nb[2] = {lo > 0 ? &tb->e[lo - 1] : NULL, lo < tb->n ? &tb->e[lo] : NULL};
    for (int i = 0; i < 2; i++) {
      const regent *e = nb[i];
      if (!e || e->code / 100 != region / 100 || (e->code % 10000 != 0) != (region % 10000 != 0)) continue;
      out->province = e->province;
      out->city = e->city;
      out->county = (cx_str){"", 0};
      out->until = 0;
      return;
    }
  }
  slow_show(t, region, out, city_buf, cap);
}

uint32_t cx_query_debug_regions_cached(const cx_query *q, uint64_t *gen) {
  const cx__regtab *tb = q && q->regions ? atomic_load(&q->regions->tab) : NULL;
  if (gen) *gen = tb ? tb->gen : 0;
  return tb ? tb->n : 0;
}
