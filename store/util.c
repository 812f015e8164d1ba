/* util.c — store/'s small containers: growable buffer, arena, byte-key hash map. */
#include <stdlib.h>

#include "store_int.h"

int cx__buf_reserve(cx_buf *b, size_t extra) {
  if (b->n + extra <= b->cap) return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < b->n + extra) cap *= 2;
  unsigned char *p = cx_realloc(b->p, cap);
  if (!p) return CX_ENOMEM;
  b->p = p;
  b->cap = cap;
  return 0;
}

int cx__buf_add(cx_buf *b, const void *p, size_t n) {
  if (cx__buf_reserve(b, n)) return CX_ENOMEM;
  if (n) memcpy(b->p + b->n, p, n);
  b->n += n;
  return 0;
}

void cx__buf_free(cx_buf *b) {
  free(b->p);
  b->p = NULL;
  b->n = b->cap = 0;
}

struct cx_arena_blk {
  cx_arena_blk *next;
  size_t cap;
  _Alignas(16) unsigned char data[];
};

void *cx__arena_alloc(cx_arena *a, size_t n) {
  n = (n + 15) & ~(size_t)15;
  if (!a->head || a->used + n > a->cap) {
    size_t cap = n > 65536 ? n : 65536;
    cx_arena_blk *b = cx_malloc(sizeof *b + cap);
    if (!b) return NULL;
    b->next = a->head;
    b->cap = cap;
    a->head = b;
    a->used = 0;
    a->cap = cap;
  }
  void *p = a->head->data + a->used;
  a->used += n;
  return p;
}

void cx__arena_free(cx_arena *a) {
  cx_arena_blk *b = a->head;
  while (b) {
    cx_arena_blk *n = b->next;
    free(b);
    b = n;
  }
  a->head = NULL;
  a->used = a->cap = 0;
}

/* Word-at-a-time multiply-xorshift: keys are short (codes, document numbers, rollup keys). */
uint64_t cx__hash(const void *p, size_t n) {
  const unsigned char *s = p;
  uint64_t h = 0x9E3779B97F4A7C15ull ^ (n * 0xC2B2AE3D27D4EB4Full);
  while (n >= 8) {
    uint64_t w;
    memcpy(&w, s, 8);
    h = (h ^ w) * 0xFF51AFD7ED558CCDull;
    h ^= h >> 32;
    s += 8;
    n -= 8;
  }
  if (n) {
    uint64_t w = 0;
    memcpy(&w, s, n);
    h = (h ^ w) * 0xFF51AFD7ED558CCDull;
  }
  h ^= h >> 33;
  h *= 0xC4CEB9FE1A85EC53ull;
  h ^= h >> 29;
  return h ? h : 1; /* 0 marks an empty slot */
}

static int hmap_grow(cx_hmap *m) {
  size_t cap = m->cap ? m->cap * 2 : 64;
  cx_hent *e = cx_calloc(cap, sizeof *e);
  if (!e) return CX_ENOMEM;
  for (size_t i = 0; i < m->cap; i++) {
    if (!m->e[i].h) continue;
    size_t j = m->e[i].h & (cap - 1);
    while (e[j].h) j = (j + 1) & (cap - 1);
    e[j] = m->e[i];
  }
  free(m->e);
  m->e = e;
  m->cap = cap;
  return 0;
}

uint32_t *cx__hmap_get(cx_hmap *m, const void *k, size_t n) {
  if (!m->cap) return NULL;
  uint64_t h = cx__hash(k, n);
  size_t j = h & (m->cap - 1);
  while (m->e[j].h) {
    if (m->e[j].h == h && m->e[j].n == n && memcmp(m->e[j].k, k, n) == 0) return &m->e[j].v;
    j = (j + 1) & (m->cap - 1);
  }
  return NULL;
}

uint32_t *cx__hmap_put(cx_hmap *m, const void *k, size_t n, int *found) {
  if ((m->count + 1) * 4 > m->cap * 3 && hmap_grow(m)) return NULL;
  uint64_t h = cx__hash(k, n);
  size_t j = h & (m->cap - 1);
  while (m->e[j].h) {
    if (m->e[j].h == h && m->e[j].n == n && memcmp(m->e[j].k, k, n) == 0) {
      *found = 1;
      return &m->e[j].v;
    }
    j = (j + 1) & (m->cap - 1);
  }
  unsigned char *kc = cx__arena_alloc(&m->keys, n ? n : 1);
  if (!kc) return NULL;
  memcpy(kc, k, n);
  m->e[j].h = h;
  m->e[j].k = kc;
  m->e[j].n = (uint32_t)n;
  m->e[j].v = 0;
  m->count++;
  *found = 0;
  return &m->e[j].v;
}

void cx__hmap_clear(cx_hmap *m) {
  if (m->cap) memset(m->e, 0, m->cap * sizeof *m->e);
  m->count = 0;
  cx__arena_free(&m->keys);
}

void cx__hmap_free(cx_hmap *m) {
  cx__arena_free(&m->keys);
  free(m->e);
  m->e = NULL;
  m->cap = m->count = 0;
}

/* Radix: the batch sorts 100k-record arrays by short byte keys several times per commit;
 * qsort's merge sort with an indirect compare cost ~15% of a commit's instructions. Passes whose
 * digit is the same in every element (high bytes of ids and dates) are skipped. */
int cx__radix_sort(void *base, size_t n, size_t sz, size_t klen) {
  if (n < 2) return 0;
  unsigned char *a = base, *t = cx_malloc(n * sz);
  if (!t) return CX_ENOMEM;
  unsigned char *src = a, *dst = t;
  size_t cnt[256];
  for (size_t d = klen; d-- > 0;) {
    memset(cnt, 0, sizeof cnt);
    for (size_t i = 0; i < n; i++) cnt[src[i * sz + d]]++;
    if (cnt[src[d]] == n) continue; /* one bucket: nothing moves */
    size_t sum = 0;
    for (int b = 0; b < 256; b++) {
      size_t c = cnt[b];
      cnt[b] = sum;
      sum += c;
    }
    for (size_t i = 0; i < n; i++) memcpy(dst + cnt[src[i * sz + d]]++ * sz, src + i * sz, sz);
    unsigned char *x = src;
    src = dst;
    dst = x;
  }
  if (src != a) memcpy(a, src, n * sz);
  free(t);
  return 0;
}
