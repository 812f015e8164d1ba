/*
 * cxb.h — shared helpers of chengxin's benchmarks (bench/ only; not part of the product).
 *
 * Timing (monotonic ns), a seeded RNG, percentiles over recorded samples, peak RSS, an
 * allocation counter (malloc/calloc/realloc interposed in the benchmark executables), a tiny
 * JSON writer, and the one place besides store/ that opens the LMDB environment directly:
 * read-only, to measure the floor (a raw mdb_get of the same summary key `check` reads) and to
 * list the codes of a store. DESIGN keeps mdb_* inside store/; bench/ is the documented
 * exception (docs/benchmarks.md), and only ever opens the env with MDB_RDONLY.
 *
 * Caveats (threads): everything here is single-threaded; the allocation counter is one global
 * counter (relaxed atomics), meaningful only while one thread runs the measured loop.
 */
#ifndef CXB_H
#define CXB_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ------------------------------------------------------------------ time, rng, rusage */

/** CLOCK_MONOTONIC in nanoseconds. */
uint64_t cxb_now_ns(void);

typedef struct cxb_rng { uint64_t s; } cxb_rng;
static inline uint64_t cxb_rng_next(cxb_rng *r) {
  /* splitmix64: fixed seed -> same sequence on every machine */
  uint64_t z = (r->s += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}
static inline uint64_t cxb_rng_below(cxb_rng *r, uint64_t n) { return n ? cxb_rng_next(r) % n : 0; }

/** Peak resident set size of this process in KiB (getrusage ru_maxrss). */
long cxb_peak_rss_kb(void);

/* ------------------------------------------------------------------ allocations */

/** Heap allocations (malloc + calloc + realloc) so far, or -1 when not counted (sanitizer build). */
long long cxb_allocs(void);

/* ------------------------------------------------------------------ statistics */

typedef struct cxb_stats {
  uint64_t n;
  double mean_ns;
  uint64_t min_ns, median_ns, p90_ns, p99_ns, p999_ns, max_ns;
} cxb_stats;

/** Sorts samples[0..n) in place and fills out. */
void cxb_stats_compute(uint64_t *samples, size_t n, cxb_stats *out);

/* ------------------------------------------------------------------ JSON writer */

/** An append-only JSON text in a growing buffer (aborts on OOM: benchmarks only). */
typedef struct cxb_json {
  char *p;
  size_t n, cap;
  int need_comma;
} cxb_json;

void cxb_json_raw(cxb_json *j, const char *s);
void cxb_json_obj_begin(cxb_json *j, const char *key); /* key NULL: value position */
void cxb_json_obj_end(cxb_json *j);
void cxb_json_arr_begin(cxb_json *j, const char *key);
void cxb_json_arr_end(cxb_json *j);
void cxb_json_str(cxb_json *j, const char *key, const char *v);
void cxb_json_int(cxb_json *j, const char *key, long long v);
void cxb_json_num(cxb_json *j, const char *key, double v); /* NaN/inf -> null */
void cxb_json_null(cxb_json *j, const char *key);
/** Writes the text to path ("-" = stdout). 0 or -1. */
int cxb_json_write(const cxb_json *j, const char *path);
void cxb_json_free(cxb_json *j);

/* ------------------------------------------------------------------ raw LMDB (read-only) */

typedef struct cxb_lmdb cxb_lmdb;

/** Opens the store directory path read-only with MDB_NOTLS and its "summary" database. */
int cxb_lmdb_open(const char *path, cxb_lmdb **out);
void cxb_lmdb_close(cxb_lmdb *l);
/** Begins (or renews) the one read txn. 0 or an mdb error. */
int cxb_lmdb_begin(cxb_lmdb *l);
void cxb_lmdb_reset(cxb_lmdb *l);
/** Raw mdb_get of the summary of an 18-byte code: 0 and *val and *n into the map, 1 not found,
 *  negative on error. */
int cxb_lmdb_summary(cxb_lmdb *l, const char code[18], const void **val, size_t *n);
/**
 * Walks the summary database in key order: fn(ctx, code, val, n) for each entity; fn returns
 * nonzero to stop. Opens and closes its own txn snapshot.
 */
typedef int (*cxb_each_fn)(void *ctx, const char code[18], const void *val, size_t n);
int cxb_lmdb_each(cxb_lmdb *l, cxb_each_fn fn, void *ctx);
/** Pages in use by every database (B-tree and overflow pages, free list excluded) times the
 *  page size, and the high-water mark of the map (what the data file needs). 0 or -1. */
int cxb_lmdb_live_bytes(cxb_lmdb *l, uint64_t *live, uint64_t *map_used);
/** Walks every entry of database dbname in key order, touching the first byte of each value:
 *  the floor of a full scan. *entries and a checksum in *sum. 0 or -1. */
int cxb_lmdb_walk(cxb_lmdb *l, const char *dbname, uint64_t *entries, uint64_t *sum);
/** Walks database dbname reading every byte of every value (8 bytes at a time): the memory-
 *  bandwidth floor of scanning it. *entries, *bytes (value bytes) and a checksum. 0 or -1
 *  (also when the database does not exist). */
int cxb_lmdb_read_all(cxb_lmdb *l, const char *dbname, uint64_t *entries, uint64_t *bytes,
                      uint64_t *sum);
/* read_all split over two threads, each with a read txn of its own, at the middle of the key
 * range of a DB keyed by u32 BE (the facts DB): the memory-bandwidth floor of a scan on both
 * cores. The handle's txn must not be live on another thread. */
int cxb_lmdb_read_all_2t(cxb_lmdb *l, const char *dbname, uint64_t *entries, uint64_t *bytes, uint64_t *sum);
/** Number of entries in the summary database. */
size_t cxb_lmdb_count(cxb_lmdb *l);

/**
 * Codes of the store: `n` codes sampled with a fixed seed from the summary database (all of
 * them when n >= entities), in sampled order, plus `n_unknown` valid but absent USCCs.
 * codes is n+n_unknown rows of 18 bytes (malloc'd, caller frees); *n_known gets the number of
 * existing codes placed first. Returns 0 or -1.
 */
int cxb_codes_sample(cxb_lmdb *l, uint64_t seed, size_t n, size_t n_unknown, char **codes,
                     size_t *n_known);

/** A valid (checksummed) USCC from the rng: "91" + region + 9 random + check char. */
void cxb_random_uscc(cxb_rng *r, char out[18]);

/* ------------------------------------------------------------------ misc */

/** Prints "bench: " + message to stderr and exits 2 (a benchmark that fails to run). */
void cxb_die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#endif
