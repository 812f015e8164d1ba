/*
 * bench_search.c — keyword search (cx_query_search_page, public role, limit 20) beside SQLite
 * FTS5 with its trigram tokenizer on the same normalised names, in the same run.
 *
 * Queries: for each length L in 2..6 characters, --queries substrings of L characters taken at
 * random positions (fixed seed) from the names of entities the public can find (cx_query_entity
 * answers them): what a visitor of the credit site types.
 *
 *   search_L   chengxin: ranking (exact > prefix > code > contains), visibility, flags and
 *              region names of every hit, first page of 20
 *   fts5_L     SQLite: SELECT rowid FROM names WHERE name MATCH '"q"' LIMIT 20 (trigram: a
 *              phrase of the query's trigrams = substring); no ranking, no visibility. A
 *              trigram index cannot answer a 2-character query (MATCH and, in SQLite 3.40,
 *              LIKE '%q%' too return no row): fts5_2 is instr(name, q) > 0 LIMIT 20, a scan
 *              of the table's names that stops at the 20th hit (reported as is).
 *
 * Each query runs once untimed (expected hit count; warms the cache), then --iters passes over
 * all of them, each call timed alone and its count compared. Figures are reported, never
 * asserted. --size also measures the keyword index's bytes: compacted copies of the store with
 * and without the grams DB (LMDB's own page counts leave the lists' sub-trees out).
 *
 * Usage: bench_search --db DIR [--queries N] [--iters N] [--seed S] [--no-sqlite] [--size]
 *                     [--tmp DIR] [--json FILE]
 */
#include <getopt.h>
#include <inttypes.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cxb.h"
#include "query.h"

#define LMIN 2
#define LMAX 6

typedef struct codes_acc {
  char *p;
  size_t n, cap;
} codes_acc;

static int code_cb(void *ctx, cx_str code, cx_str unused) {
  (void)unused;
  codes_acc *a = ctx;
  if (code.n != CX_CODE_LEN) return 0;
  if (a->n == a->cap) {
    a->cap = a->cap ? a->cap * 2 : 1 << 16;
    a->p = realloc(a->p, a->cap * CX_CODE_LEN);
    if (!a->p) cxb_die("out of memory");
  }
  memcpy(a->p + a->n++ * CX_CODE_LEN, code.p, CX_CODE_LEN);
  return 0;
}

typedef struct count_ctx { uint32_t n; uint64_t h; } count_ctx;
static int count_cb(void *ctx, const cx_search_hit *h) {
  count_ctx *c = ctx;
  c->n++;
  c->h = c->h * 31 + h->code.n + h->match;
  return 0;
}

static uint64_t file_size(const char *p) {
  struct stat s;
  return stat(p, &s) == 0 ? (uint64_t)s.st_size : 0;
}

/* The first L characters of s from character `at`; 0 when s has fewer. */
static size_t cut(const char *s, size_t n, size_t at, size_t L, char *out) {
  size_t i = 0, c = 0, b = 0;
  while (i < n && c < at) {
    i++;
    while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80) i++;
    c++;
  }
  if (c < at || i >= n) return 0;
  b = i;
  c = 0;
  while (i < n && c < L) {
    i++;
    while (i < n && ((unsigned char)s[i] & 0xC0) == 0x80) i++;
    c++;
  }
  if (c < L) return 0;
  memcpy(out, s + b, i - b);
  out[i - b] = 0;
  return i - b;
}
static size_t nchars(const char *s, size_t n) {
  size_t c = 0;
  for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
  return c;
}

static void report(cxb_json *j, const char *name, uint64_t *t, size_t n, uint64_t hits, size_t q) {
  cxb_stats s;
  cxb_stats_compute(t, n, &s);
  printf("%-10s n=%-7" PRIu64 " p50=%7.1f us  p99=%7.1f us  max=%8.1f us  mean=%7.1f us  hits/query=%.1f\n",
         name, s.n, s.median_ns / 1e3, s.p99_ns / 1e3, s.max_ns / 1e3, s.mean_ns / 1e3,
         q ? (double)hits / (double)q : 0.0);
  cxb_json_obj_begin(j, name);
  cxb_json_int(j, "n", (long long)s.n);
  cxb_json_num(j, "p50_us", s.median_ns / 1e3);
  cxb_json_num(j, "p99_us", s.p99_ns / 1e3);
  cxb_json_num(j, "max_us", s.max_ns / 1e3);
  cxb_json_num(j, "mean_us", s.mean_ns / 1e3);
  cxb_json_num(j, "hits_per_query", q ? (double)hits / (double)q : 0.0);
  cxb_json_obj_end(j);
}

int main(int argc, char **argv) {
  const char *db = NULL, *json = NULL, *tmp = "/tmp";
  size_t nq = 1000;
  int iters = 3, no_sqlite = 0, size = 0;
  uint64_t seed = 15;
  static const struct option lo[] = {{"db", 1, 0, 'd'},     {"queries", 1, 0, 'n'}, {"iters", 1, 0, 'i'},
                                     {"seed", 1, 0, 's'},   {"no-sqlite", 0, 0, 'Q'}, {"size", 0, 0, 'z'},
                                     {"tmp", 1, 0, 't'},    {"json", 1, 0, 'j'},    {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
    switch (c) {
    case 'd': db = optarg; break;
    case 'n': nq = strtoull(optarg, NULL, 10); break;
    case 'i': iters = atoi(optarg); break;
    case 's': seed = strtoull(optarg, NULL, 10); break;
    case 'Q': no_sqlite = 1; break;
    case 'z': size = 1; break;
    case 't': tmp = optarg; break;
    case 'j': json = optarg; break;
    default: cxb_die("usage: bench_search --db DIR [--queries N] [--iters N] [--seed S] [--no-sqlite] [--size] [--tmp DIR] [--json FILE]");
    }
  }
  if (!db || nq == 0 || iters < 1) cxb_die("usage: bench_search --db DIR ...");
  cx_store_opts so = {0};
  so.read_only = 1;
  cx_store *st;
  int rc = cx_store_open(db, &so, &st);
  if (rc) cxb_die("cx_store_open %s: %s", db, cx_strerror(rc));
  cx_query *q;
  if ((rc = cx_query_new(st, &q))) cxb_die("cx_query_new: %s", cx_strerror(rc));
  cx_txn *t;
  if ((rc = cx_store_txn_begin(st, &t))) cxb_die("txn: %s", cx_strerror(rc));
  codes_acc ca = {0};
  if ((rc = cx_store_codes_each(t, (cx_str){"", 0}, code_cb, &ca))) cxb_die("codes: %s", cx_strerror(rc));
  cx_store_info info;
  cx_store_info_get(st, &info);
  printf("store %s: %zu entities, %" PRIu64 " records, %" PRIu64 " (bigram, entity) pairs\n", db, ca.n,
         info.records, info.gram_entries);

  /* Queries from names the public can find. */
  cxb_rng rng = {seed};
  size_t total = nq * (LMAX - LMIN + 1);
  char (*qs)[32] = calloc(total, 32);
  size_t per[LMAX + 1] = {0};
  for (int L = LMIN; L <= LMAX; L++) {
    size_t tries = 0;
    while (per[L] < nq && tries++ < nq * 100) {
      const char *code = ca.p + cxb_rng_below(&rng, ca.n) * CX_CODE_LEN;
      cx_entity_status es;
      if (cx_query_entity(q, t, CX_ROLE_PUBLIC, (cx_str){code, CX_CODE_LEN}, cx_day_today(), &es)) continue;
      char norm[512];
      size_t nn = cx_name_normalize(es.name.p, es.name.n, norm, sizeof norm);
      size_t ch = nchars(norm, nn);
      if (ch < (size_t)L) continue;
      size_t at = cxb_rng_below(&rng, ch - (size_t)L + 1);
      if (!cut(norm, nn, at, (size_t)L, qs[(size_t)(L - LMIN) * nq + per[L]])) continue;
      per[L]++;
    }
    if (per[L] < nq) cxb_die("only %zu queries of %d characters", per[L], L);
  }

  cxb_json j = {0};
  cxb_json_obj_begin(&j, NULL);
  cxb_json_str(&j, "db", db);
  cxb_json_int(&j, "entities", (long long)ca.n);
  cxb_json_int(&j, "records", (long long)info.records);
  cxb_json_int(&j, "gram_entries", (long long)info.gram_entries);
  cxb_json_int(&j, "queries_per_length", (long long)nq);
  cxb_json_int(&j, "iters", iters);
  uint64_t *tm = malloc(sizeof *tm * nq * (size_t)iters);
  uint32_t *want = malloc(sizeof *want * nq);

  /* chengxin */
  for (int L = LMIN; L <= LMAX; L++) {
    char (*ql)[32] = qs + (size_t)(L - LMIN) * nq;
    uint64_t hits = 0;
    for (size_t i = 0; i < nq; i++) {
      count_ctx cc = {0, 0};
      cx_search_req r = {cx_str_c(ql[i]), {"", 0}, 20, CX_ROLE_PUBLIC, 0};
      char next[CX_SEARCH_CURSOR_MAX];
      if ((rc = cx_query_search_page(q, t, &r, count_cb, &cc, next))) cxb_die("search: %s", cx_strerror(rc));
      want[i] = cc.n;
      hits += cc.n;
    }
    size_t k = 0, zero = 0;
    for (int it = 0; it < iters; it++)
      for (size_t i = 0; i < nq; i++) {
        count_ctx cc = {0, 0};
        cx_search_req r = {cx_str_c(ql[i]), {"", 0}, 20, CX_ROLE_PUBLIC, 0};
        char next[CX_SEARCH_CURSOR_MAX];
        uint64_t t0 = cxb_now_ns();
        rc = cx_query_search_page(q, t, &r, count_cb, &cc, next);
        tm[k++] = cxb_now_ns() - t0;
        if (rc || cc.n != want[i]) cxb_die("search \"%s\": %u hits, expected %u", ql[i], cc.n, want[i]);
        zero += cc.n == 0;
      }
    if (zero) fprintf(stderr, "bench: %zu calls of length %d found nothing (budget spent?)\n", zero, L);
    char name[32];
    snprintf(name, sizeof name, "search_%d", L);
    report(&j, name, tm, k, hits, nq);
  }

  /* SQLite FTS5 trigram on the same normalised names */
  if (!no_sqlite) {
    char path[512];
    snprintf(path, sizeof path, "%s/cx_bench_fts5_%d.db", tmp, (int)getpid());
    unlink(path);
    sqlite3 *s;
    if (sqlite3_open(path, &s) != SQLITE_OK) cxb_die("sqlite open %s", path);
    sqlite3_exec(s, "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-1048576;"
                    "PRAGMA mmap_size=4294967296;"
                    "CREATE VIRTUAL TABLE names USING fts5(name, tokenize='trigram');", NULL, NULL, NULL);
    uint64_t t0 = cxb_now_ns();
    sqlite3_exec(s, "BEGIN", NULL, NULL, NULL);
    sqlite3_stmt *ins;
    sqlite3_prepare_v2(s, "INSERT INTO names(rowid, name) VALUES (?, ?)", -1, &ins, NULL);
    for (size_t i = 0; i < ca.n; i++) {
      cx_summary sum;
      if (cx_store_summary_get(t, ca.p + i * CX_CODE_LEN, &sum)) continue;
      char norm[512];
      size_t nn = cx_name_normalize(sum.name.p, sum.name.n, norm, sizeof norm);
      sqlite3_bind_int64(ins, 1, sum.entity_id);
      sqlite3_bind_text(ins, 2, norm, (int)nn, SQLITE_STATIC);
      if (sqlite3_step(ins) != SQLITE_DONE) cxb_die("sqlite insert: %s", sqlite3_errmsg(s));
      sqlite3_reset(ins);
    }
    sqlite3_finalize(ins);
    sqlite3_exec(s, "COMMIT; INSERT INTO names(names) VALUES('optimize');", NULL, NULL, NULL);
    double load_s = (double)(cxb_now_ns() - t0) / 1e9;
    uint64_t fbytes = file_size(path);
    printf("fts5 load: %.1f s, file %" PRIu64 " bytes = %.1f B/entity (names text included)\n", load_s, fbytes,
           (double)fbytes / (double)ca.n);
    cxb_json_obj_begin(&j, "fts5_load");
    cxb_json_num(&j, "seconds", load_s);
    cxb_json_int(&j, "file_bytes", (long long)fbytes);
    cxb_json_num(&j, "bytes_per_entity", (double)fbytes / (double)ca.n);
    cxb_json_obj_end(&j);
    sqlite3_stmt *m, *like;
    if (sqlite3_prepare_v2(s, "SELECT rowid FROM names WHERE name MATCH ? LIMIT 20", -1, &m, NULL) ||
        sqlite3_prepare_v2(s, "SELECT rowid FROM names WHERE instr(name, ?) > 0 LIMIT 20", -1, &like, NULL))
      cxb_die("sqlite prepare: %s", sqlite3_errmsg(s));
    for (int L = LMIN; L <= LMAX; L++) {
      char (*ql)[32] = qs + (size_t)(L - LMIN) * nq;
      sqlite3_stmt *st_ = L < 3 ? like : m;
      uint64_t hits = 0;
      size_t k = 0;
      for (int pass = -1; pass < iters; pass++)
        for (size_t i = 0; i < nq; i++) {
          char arg[80];
          if (L < 3) snprintf(arg, sizeof arg, "%s", ql[i]);
          else snprintf(arg, sizeof arg, "\"%s\"", ql[i]);
          uint64_t a = cxb_now_ns();
          sqlite3_bind_text(st_, 1, arg, -1, SQLITE_STATIC);
          uint32_t n = 0;
          while (sqlite3_step(st_) == SQLITE_ROW) n++;
          sqlite3_reset(st_);
          uint64_t d = cxb_now_ns() - a;
          if (pass < 0) {
            want[i] = n;
            hits += n;
          } else {
            tm[k++] = d;
            if (n != want[i]) cxb_die("fts5 \"%s\": %u rows, expected %u", ql[i], n, want[i]);
          }
        }
      char name[32];
      snprintf(name, sizeof name, "fts5_%d", L);
      report(&j, name, tm, k, hits, nq);
    }
    sqlite3_finalize(m);
    sqlite3_finalize(like);
    sqlite3_close(s);
    unlink(path);
  }
  cx_store_txn_end(t);

  /* The index's bytes: compacted copy with it, then without it. */
  if (size) {
    char a[512], b[512], f[600];
    snprintf(a, sizeof a, "%s/cx_bench_size_a_%d", tmp, (int)getpid());
    snprintf(b, sizeof b, "%s/cx_bench_size_b_%d", tmp, (int)getpid());
    if ((rc = cx_store_backup(st, a))) cxb_die("backup: %s", cx_strerror(rc));
    snprintf(f, sizeof f, "%s/data.mdb", a);
    uint64_t with = file_size(f);
    cx_store *s2;
    cx_store_opts o2 = {0};
    if ((rc = cx_store_open(a, &o2, &s2))) cxb_die("open copy: %s", cx_strerror(rc));
    if ((rc = cx_store_debug_del_gram(s2, (cx_str){"", 0}, 0))) cxb_die("drop grams: %s", cx_strerror(rc));
    if ((rc = cx_store_backup(s2, b))) cxb_die("backup 2: %s", cx_strerror(rc));
    cx_store_close(s2);
    snprintf(f, sizeof f, "%s/data.mdb", b);
    uint64_t without = file_size(f);
    double bpe = (double)(with - without) / (double)ca.n;
    printf("keyword index: %" PRIu64 " bytes (compacted %" PRIu64 " with, %" PRIu64 " without) = %.1f B/entity,"
           " %.1f pairs/entity\n", with - without, with, without, bpe, (double)info.gram_entries / (double)ca.n);
    cxb_json_obj_begin(&j, "index");
    cxb_json_int(&j, "bytes", (long long)(with - without));
    cxb_json_num(&j, "bytes_per_entity", bpe);
    cxb_json_num(&j, "pairs_per_entity", (double)info.gram_entries / (double)ca.n);
    cxb_json_obj_end(&j);
    char cmd[1300];
    snprintf(cmd, sizeof cmd, "rm -rf '%s' '%s'", a, b);
    if (system(cmd) != 0) fprintf(stderr, "bench: could not remove %s, %s\n", a, b);
  }
  cxb_json_obj_end(&j);
  if (json && cxb_json_write(&j, json)) cxb_die("cannot write %s", json);
  cxb_json_free(&j);
  free(tm);
  free(want);
  free(qs);
  free(ca.p);
  cx_query_free(q);
  cx_store_close(st);
  return 0;
}
