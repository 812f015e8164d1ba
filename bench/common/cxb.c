/* cxb.c — timing, statistics, JSON and raw read-only LMDB access for the benchmarks. */
#include "cxb.h"

#include <errno.h>
#include <lmdb.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

uint64_t cxb_now_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

long cxb_peak_rss_kb(void) {
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) != 0) return -1;
  return ru.ru_maxrss;
}

void cxb_die(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fputs("bench: ", stderr);
  vfprintf(stderr, fmt, ap);
  fputc('\n', stderr);
  va_end(ap);
  exit(2);
}

/* ------------------------------------------------------------------ statistics */

static int cmp_u64(const void *a, const void *b) {
  uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
  return x < y ? -1 : x > y;
}

/* Nearest-rank percentile over sorted samples. */
static uint64_t pct(const uint64_t *s, size_t n, double p) {
  if (n == 0) return 0;
  size_t rank = (size_t)ceil(p * (double)n);
  if (rank < 1) rank = 1;
  if (rank > n) rank = n;
  return s[rank - 1];
}

void cxb_stats_compute(uint64_t *samples, size_t n, cxb_stats *out) {
  memset(out, 0, sizeof *out);
  if (n == 0) return;
  qsort(samples, n, sizeof *samples, cmp_u64);
  double sum = 0;
  for (size_t i = 0; i < n; i++) sum += (double)samples[i];
  out->n = n;
  out->mean_ns = sum / (double)n;
  out->min_ns = samples[0];
  out->max_ns = samples[n - 1];
  out->median_ns = pct(samples, n, 0.5);
  out->p90_ns = pct(samples, n, 0.9);
  out->p99_ns = pct(samples, n, 0.99);
  out->p999_ns = pct(samples, n, 0.999);
}

/* ------------------------------------------------------------------ JSON */

static void jput(cxb_json *j, const char *s, size_t n) {
  if (j->n + n + 1 > j->cap) {
    size_t cap = j->cap ? j->cap : 4096;
    while (j->n + n + 1 > cap) cap *= 2;
    char *p = realloc(j->p, cap);
    if (!p) cxb_die("out of memory (json)");
    j->p = p;
    j->cap = cap;
  }
  memcpy(j->p + j->n, s, n);
  j->n += n;
  j->p[j->n] = 0;
}
static void jputs(cxb_json *j, const char *s) { jput(j, s, strlen(s)); }

static void jstring(cxb_json *j, const char *s) {
  jputs(j, "\"");
  for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
    char buf[8];
    if (*p == '"' || *p == '\\') {
      buf[0] = '\\'; buf[1] = (char)*p; jput(j, buf, 2);
    } else if (*p < 0x20) {
      snprintf(buf, sizeof buf, "\\u%04x", *p); jputs(j, buf);
    } else {
      jput(j, (const char *)p, 1);
    }
  }
  jputs(j, "\"");
}

static void jkey(cxb_json *j, const char *key) {
  if (j->need_comma) jputs(j, ",");
  if (key) { jstring(j, key); jputs(j, ":"); }
  j->need_comma = 1;
}

void cxb_json_raw(cxb_json *j, const char *s) { jkey(j, NULL); jputs(j, s); }
void cxb_json_obj_begin(cxb_json *j, const char *key) { jkey(j, key); jputs(j, "{"); j->need_comma = 0; }
void cxb_json_obj_end(cxb_json *j) { jputs(j, "}"); j->need_comma = 1; }
void cxb_json_arr_begin(cxb_json *j, const char *key) { jkey(j, key); jputs(j, "["); j->need_comma = 0; }
void cxb_json_arr_end(cxb_json *j) { jputs(j, "]"); j->need_comma = 1; }
void cxb_json_str(cxb_json *j, const char *key, const char *v) { jkey(j, key); jstring(j, v ? v : ""); }
void cxb_json_int(cxb_json *j, const char *key, long long v) {
  char buf[32];
  snprintf(buf, sizeof buf, "%lld", v);
  jkey(j, key);
  jputs(j, buf);
}
void cxb_json_num(cxb_json *j, const char *key, double v) {
  char buf[64];
  if (isnan(v) || isinf(v)) snprintf(buf, sizeof buf, "null");
  else snprintf(buf, sizeof buf, "%.10g", v);
  jkey(j, key);
  jputs(j, buf);
}
void cxb_json_null(cxb_json *j, const char *key) { jkey(j, key); jputs(j, "null"); }

int cxb_json_write(const cxb_json *j, const char *path) {
  FILE *f = strcmp(path, "-") == 0 ? stdout : fopen(path, "w");
  if (!f) return -1;
  int rc = 0;
  if (j->n && fwrite(j->p, 1, j->n, f) != j->n) rc = -1;
  if (fputc('\n', f) == EOF) rc = -1;
  if (f != stdout) { if (fclose(f) != 0) rc = -1; }
  else fflush(f);
  return rc;
}

void cxb_json_free(cxb_json *j) { free(j->p); memset(j, 0, sizeof *j); }

/* ------------------------------------------------------------------ raw LMDB */

struct cxb_lmdb {
  MDB_env *env;
  MDB_dbi summary;
  MDB_txn *txn;
  int live;
};

int cxb_lmdb_open(const char *path, cxb_lmdb **out) {
  cxb_lmdb *l = calloc(1, sizeof *l);
  if (!l) return -1;
  int rc = mdb_env_create(&l->env);
  if (rc) goto fail;
  mdb_env_set_maxdbs(l->env, 32);
  mdb_env_set_maxreaders(l->env, 1024);
  rc = mdb_env_open(l->env, path, MDB_RDONLY | MDB_NOTLS, 0644);
  if (rc) goto fail_env;
  rc = mdb_txn_begin(l->env, NULL, MDB_RDONLY, &l->txn);
  if (rc) goto fail_env;
  rc = mdb_dbi_open(l->txn, "summary", 0, &l->summary);
  if (rc) goto fail_txn;
  /* the dbi handle becomes visible to later txns only once this txn commits */
  rc = mdb_txn_commit(l->txn);
  l->txn = NULL;
  if (rc) goto fail_env;
  rc = mdb_txn_begin(l->env, NULL, MDB_RDONLY, &l->txn);
  if (rc) goto fail_env;
  mdb_txn_reset(l->txn);
  *out = l;
  return 0;
fail_txn:
  mdb_txn_abort(l->txn);
fail_env:
  mdb_env_close(l->env);
fail:
  fprintf(stderr, "bench: lmdb open %s: %s\n", path, mdb_strerror(rc));
  free(l);
  return -1;
}

void cxb_lmdb_close(cxb_lmdb *l) {
  if (!l) return;
  mdb_txn_abort(l->txn);
  mdb_env_close(l->env);
  free(l);
}

int cxb_lmdb_begin(cxb_lmdb *l) {
  if (l->live) return 0;
  int rc = mdb_txn_renew(l->txn);
  if (rc == 0) l->live = 1;
  return rc;
}

void cxb_lmdb_reset(cxb_lmdb *l) {
  if (!l->live) return;
  mdb_txn_reset(l->txn);
  l->live = 0;
}

int cxb_lmdb_summary(cxb_lmdb *l, const char code[18], const void **val, size_t *n) {
  MDB_val k = {18, (void *)code}, v;
  int rc = mdb_get(l->txn, l->summary, &k, &v);
  if (rc == MDB_NOTFOUND) return 1;
  if (rc) return -1;
  *val = v.mv_data;
  *n = v.mv_size;
  return 0;
}

int cxb_lmdb_each(cxb_lmdb *l, cxb_each_fn fn, void *ctx) {
  int was_live = l->live;
  if (cxb_lmdb_begin(l)) return -1;
  MDB_cursor *c;
  int rc = mdb_cursor_open(l->txn, l->summary, &c);
  if (rc) goto out;
  MDB_val k, v;
  for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    if (k.mv_size != 18) continue; /* not a code key */
    if (fn(ctx, k.mv_data, v.mv_data, v.mv_size)) break;
  }
  if (rc == MDB_NOTFOUND) rc = 0;
  mdb_cursor_close(c);
out:
  if (!was_live) cxb_lmdb_reset(l);
  return rc ? -1 : 0;
}

size_t cxb_lmdb_count(cxb_lmdb *l) {
  int was_live = l->live;
  MDB_stat st;
  size_t n = 0;
  if (cxb_lmdb_begin(l)) return 0;
  if (mdb_stat(l->txn, l->summary, &st) == 0) n = st.ms_entries;
  if (!was_live) cxb_lmdb_reset(l);
  return n;
}

int cxb_lmdb_live_bytes(cxb_lmdb *l, uint64_t *live, uint64_t *map_used) {
  int was_live = l->live;
  if (cxb_lmdb_begin(l)) return -1;
  MDB_stat st;
  MDB_envinfo ei;
  uint64_t pages = 0;
  MDB_dbi main_dbi;
  int rc = mdb_dbi_open(l->txn, NULL, 0, &main_dbi); /* its keys name the sub-databases */
  if (rc) goto out;
  if ((rc = mdb_stat(l->txn, main_dbi, &st)) != 0) goto out;
  pages += st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
  size_t psize = st.ms_psize;
  MDB_cursor *c;
  if ((rc = mdb_cursor_open(l->txn, main_dbi, &c)) != 0) goto out;
  MDB_val k, v;
  for (int r = mdb_cursor_get(c, &k, &v, MDB_FIRST); r == 0; r = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    char name[256];
    if (k.mv_size == 0 || k.mv_size >= sizeof name) continue;
    memcpy(name, k.mv_data, k.mv_size);
    name[k.mv_size] = 0;
    MDB_dbi dbi;
    if (mdb_dbi_open(l->txn, name, 0, &dbi) != 0) continue;
    if (mdb_stat(l->txn, dbi, &st) == 0)
      pages += st.ms_branch_pages + st.ms_leaf_pages + st.ms_overflow_pages;
  }
  mdb_cursor_close(c);
  if ((rc = mdb_env_info(l->env, &ei)) != 0) goto out;
  *live = pages * psize;
  *map_used = (uint64_t)(ei.me_last_pgno + 1) * psize;
out:
  if (!was_live) cxb_lmdb_reset(l);
  return rc ? -1 : 0;
}

/* Walks dbname in key order. all = 0: touch the first byte of each value (every record
 * visited, one cache line each, nothing decoded; touching the last byte too cost more than
 * store/'s header-only fact scan). all = 1: read every byte, 8 at a time. */
static int walk(cxb_lmdb *l, const char *dbname, int all, uint64_t *entries, uint64_t *bytes,
                uint64_t *sum) {
  int was_live = l->live;
  if (cxb_lmdb_begin(l)) return -1;
  MDB_dbi dbi;
  MDB_cursor *c = NULL;
  uint64_t n = 0, nb = 0, h = 0;
  int rc = mdb_dbi_open(l->txn, dbname, 0, &dbi);
  if (rc == 0) rc = mdb_cursor_open(l->txn, dbi, &c);
  if (rc == 0) {
    MDB_val k, v;
    for (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
      const unsigned char *p = v.mv_data;
      if (!all) {
        h += v.mv_size + (v.mv_size ? (uint64_t)p[0] : 0);
      } else {
        size_t i = 0;
        for (; i + 8 <= v.mv_size; i += 8) {
          uint64_t w;
          memcpy(&w, p + i, 8);
          h += w;
        }
        for (; i < v.mv_size; i++) h += p[i];
      }
      nb += v.mv_size;
      n++;
    }
    if (rc == MDB_NOTFOUND) rc = 0;
    mdb_cursor_close(c);
  }
  if (!was_live) cxb_lmdb_reset(l);
  if (rc) return -1;
  *entries = n;
  if (bytes) *bytes = nb;
  *sum = h;
  return 0;
}

int cxb_lmdb_walk(cxb_lmdb *l, const char *dbname, uint64_t *entries, uint64_t *sum) {
  return walk(l, dbname, 0, entries, NULL, sum);
}

int cxb_lmdb_read_all(cxb_lmdb *l, const char *dbname, uint64_t *entries, uint64_t *bytes,
                      uint64_t *sum) {
  return walk(l, dbname, 1, entries, bytes, sum);
}

/* One half of read_all_2t: the keys [lo, hi) of a DB keyed by u32 BE, in a txn of its own. */
typedef struct half {
  MDB_env *env;
  MDB_dbi dbi;
  uint32_t lo, hi;
  uint64_t n, nb, h;
  int rc;
} half;

static void *read_half(void *vh) {
  half *x = vh;
  MDB_txn *txn;
  MDB_dbi dbi;
  MDB_cursor *c = NULL;
  if ((x->rc = mdb_txn_begin(x->env, NULL, MDB_RDONLY, &txn))) return NULL;
  dbi = x->dbi;
  x->rc = mdb_cursor_open(txn, dbi, &c);
  if (x->rc == 0) {
    unsigned char kb[4] = {(unsigned char)(x->lo >> 24), (unsigned char)(x->lo >> 16), (unsigned char)(x->lo >> 8),
                           (unsigned char)x->lo};
    MDB_val k = {4, kb}, v;
    for (x->rc = mdb_cursor_get(c, &k, &v, MDB_SET_RANGE); x->rc == 0; x->rc = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
      const unsigned char *kp = k.mv_data, *p = v.mv_data;
      if (k.mv_size != 4) break;
      uint32_t key = (uint32_t)kp[0] << 24 | (uint32_t)kp[1] << 16 | (uint32_t)kp[2] << 8 | kp[3];
      if (key >= x->hi) break;
      size_t i = 0;
      for (; i + 8 <= v.mv_size; i += 8) {
        uint64_t w;
        memcpy(&w, p + i, 8);
        x->h += w;
      }
      for (; i < v.mv_size; i++) x->h += p[i];
      x->nb += v.mv_size;
      x->n++;
    }
    if (x->rc == MDB_NOTFOUND || x->rc == 0) x->rc = 0;
    mdb_cursor_close(c);
  }
  mdb_txn_abort(txn);
  return NULL;
}

int cxb_lmdb_read_all_2t(cxb_lmdb *l, const char *dbname, uint64_t *entries, uint64_t *bytes, uint64_t *sum) {
  /* the key range, from the handle's own txn */
  /* The handle, opened in a txn of its own that commits: LMDB keeps a handle opened in a read
   * txn only when that txn commits (else its name leaks), and must not open one in two threads
   * at once; the threads get it ready. */
  MDB_txn *ot;
  MDB_dbi dbi;
  if (mdb_txn_begin(l->env, NULL, MDB_RDONLY, &ot)) return -1;
  if (mdb_dbi_open(ot, dbname, 0, &dbi)) {
    mdb_txn_abort(ot);
    return -1;
  }
  if (mdb_txn_commit(ot)) return -1;
  int was_live = l->live;
  if (cxb_lmdb_begin(l)) return -1;
  MDB_cursor *c = NULL;
  MDB_val k, v;
  uint32_t first = 0, last = 0;
  int rc = mdb_cursor_open(l->txn, dbi, &c);
  if (rc == 0 && (rc = mdb_cursor_get(c, &k, &v, MDB_FIRST)) == 0 && k.mv_size == 4) {
    const unsigned char *kp = k.mv_data;
    first = (uint32_t)kp[0] << 24 | (uint32_t)kp[1] << 16 | (uint32_t)kp[2] << 8 | kp[3];
    if ((rc = mdb_cursor_get(c, &k, &v, MDB_LAST)) == 0 && k.mv_size == 4) {
      kp = k.mv_data;
      last = (uint32_t)kp[0] << 24 | (uint32_t)kp[1] << 16 | (uint32_t)kp[2] << 8 | kp[3];
    }
  }
  if (c) mdb_cursor_close(c);
  if (!was_live) cxb_lmdb_reset(l);
  if (rc) return -1;
  uint32_t mid = first + (last - first + 1) / 2;
  half hs[2] = {{l->env, dbi, first, mid, 0, 0, 0, 0}, {l->env, dbi, mid, last + 1, 0, 0, 0, 0}};
  pthread_t th;
  if (pthread_create(&th, NULL, read_half, &hs[1])) return -1;
  read_half(&hs[0]);
  pthread_join(th, NULL);
  if (hs[0].rc || hs[1].rc) return -1;
  *entries = hs[0].n + hs[1].n;
  if (bytes) *bytes = hs[0].nb + hs[1].nb;
  *sum = hs[0].h + hs[1].h;
  return 0;
}

/* ------------------------------------------------------------------ codes */

static const char uscc_alpha[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";
static const int uscc_w[17] = {1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28};

void cxb_random_uscc(cxb_rng *r, char out[18]) {
  static const char *regions[] = {"110105", "310115", "350100", "350102", "440305", "510107"};
  memcpy(out, "91", 2);
  memcpy(out + 2, regions[cxb_rng_below(r, sizeof regions / sizeof *regions)], 6);
  for (int i = 8; i < 16; i++) out[i] = uscc_alpha[cxb_rng_below(r, 31)];
  /* position 17: the organisation code's GB 11714 check digit (letters count 10..35) */
  static const int org_w[8] = {3, 7, 9, 10, 5, 8, 4, 2};
  int osum = 0;
  for (int i = 0; i < 8; i++) {
    char c = out[8 + i];
    osum += (c <= '9' ? c - '0' : c - 'A' + 10) * org_w[i];
  }
  int ock = 11 - osum % 11;
  out[16] = ock == 10 ? 'X' : ock == 11 ? '0' : (char)('0' + ock);
  int sum = 0;
  for (int i = 0; i < 17; i++) sum += (int)(strchr(uscc_alpha, out[i]) - uscc_alpha) * uscc_w[i];
  out[17] = uscc_alpha[(31 - sum % 31) % 31];
}

typedef struct codes_acc { char *p; size_t n, cap; } codes_acc;

static int acc_code(void *ctx, const char code[18], const void *val, size_t n) {
  (void)val; (void)n;
  codes_acc *a = ctx;
  if (a->n == a->cap) {
    size_t cap = a->cap ? a->cap * 2 : 65536;
    char *p = realloc(a->p, cap * 18);
    if (!p) return 1;
    a->p = p;
    a->cap = cap;
  }
  memcpy(a->p + a->n * 18, code, 18);
  a->n++;
  return 0;
}

int cxb_codes_sample(cxb_lmdb *l, uint64_t seed, size_t n, size_t n_unknown, char **codes,
                     size_t *n_known) {
  codes_acc a = {0};
  if (cxb_lmdb_each(l, acc_code, &a) != 0) { free(a.p); return -1; }
  cxb_rng r = {seed};
  /* partial Fisher-Yates: the first k entries become a seeded sample */
  size_t k = n < a.n ? n : a.n;
  for (size_t i = 0; i < k; i++) {
    size_t j = i + (size_t)cxb_rng_below(&r, a.n - i);
    char tmp[18];
    memcpy(tmp, a.p + i * 18, 18);
    memmove(a.p + i * 18, a.p + j * 18, 18);
    memcpy(a.p + j * 18, tmp, 18);
  }
  char *out = malloc((k + n_unknown) * 18 + 1);
  if (!out) { free(a.p); return -1; }
  memcpy(out, a.p, k * 18);
  free(a.p);
  int was_live = l->live;
  if (cxb_lmdb_begin(l)) { free(out); return -1; }
  for (size_t i = 0; i < n_unknown; i++) {
    char *c = out + (k + i) * 18;
    const void *v;
    size_t vn;
    do cxb_random_uscc(&r, c);
    while (cxb_lmdb_summary(l, c, &v, &vn) == 0);
  }
  if (!was_live) cxb_lmdb_reset(l);
  *codes = out;
  *n_known = k;
  return 0;
}
