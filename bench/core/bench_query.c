/*
 * bench_query.c — in-process benchmark of chengxin's query core over a generated store, with
 * its baselines in the same run and the same harness:
 *
 *   floor_mdb_get   raw mdb_get of the summary key `check` reads (read-only env; the floor),
 *                   measured first and again last (floor_mdb_get_end); ratios use the lower
 *   check           cx_query_check, one code per call (existing codes + a share of unknown ones)
 *   check_plain     cx_query_check over the known codes whose answer has no advisory hit (no
 *                   approval hint): what the hints cost the entities that have none, beside
 *                   check (every code) and floor_mdb_get
 *   check_txn       the same with a txn renew/reset around each call (what a server pays)
 *   exec_check      the same check through the executor (net/exec.h cx_exec): a pre-encoded
 *                   msgpack request of one code decoded, role-checked, run and its framed
 *                   answer packed, in check's long-lived txn (what every door adds to check)
 *   exec_check1000  one cx_exec of 1000 codes per call, the CLI's local mode's request size
 *                   (its note gives the cost per code and the ratio to check)
 *   sqlite_check    SQLite on the same rows, best indexes, prepared statements: the same verdict
 *   entity          cx_query_entity (public status page)
 *   records_page    cx_query_records, first page of 20
 *   search          cx_query_search, 2-character name prefix, limit 10 (then names holding it)
 *   agg_covered     count + on_time_rate by city x month over one year (from a rollup cube)
 *   floor_scan      raw cursor walk of the records database touching each value (the floor
 *                   of a scan; raw env, measured with floor_mdb_get)
 *   floor_facts     raw walk of the facts database reading every byte of it (the memory-
 *                   bandwidth floor of a scan of the facts; raw env)
 *   floor_facts_2t  the same on two threads, half the keys each (the floor of a scan on both
 *                   cores); baseline floor_facts
 *   agg_scan        the same spec with force_scan (facts scanned); baseline floor_facts
 *   agg_in_force    count + in_force by province (needs as-of evaluation: a scan), split over
 *                   the default scan threads (cx_query_set_scan_threads: the CPUs); baseline
 *                   floor_facts
 *   agg_in_force_1t the same in one thread (spec.threads = 1); baseline agg_in_force, so its
 *                   ratio is the split's speed-up; its result must equal agg_in_force's
 *   sqlite_agg      agg_covered's spec in SQLite (GROUP BY over a covering index)
 *   scorecard_one   cx_query_scorecard of one government body (a seeded pool of the store's
 *                   11… bodies of the rubric's kinds), analyst role, one calendar year
 *   scorecard_province  cx_query_scorecards: every body of the province with the most bodies
 *                   (or --province), ranked; same role and year
 *   sqlite_scorecard_province  the same indicators in SQL (GROUP BY over covering indexes),
 *                   scored in C with the rubric's functions; its ranking must equal chengxin's
 *                   (bodies, order, scores to 1e-9, every indicator's counts) or the run fails
 *
 * Each op: an untimed pass over its key pool computes the expected result (and warms the
 * cache); then N timed iterations, each timed alone and its result compared with the expected
 * one. Wrong results make the run fail (exit 1); figures are reported, never asserted.
 *
 * Usage: bench_query --db DIR [--iters N] [--budget-ms MS] [--pool N] [--unknown PCT]
 *                    [--seed S] [--as-of YYYY-MM-DD] [--year YYYY] [--action CODE]
 *                    [--sqlite FILE [--sqlite-reuse] | --no-sqlite] [--ops a,b,...]
 *                    [--province NN] [--scorecard-json FILE] [--json FILE] [--label L]
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cxb.h"
#include "exec.h"
#include "query.h"
#include "sqlite_check.h"

/* ===================================================================== options */

typedef struct opts {
  const char *db, *json, *label, *sqlite_path, *ops, *as_of_s, *action, *export_csv, *scorecard_json;
  uint64_t seed;
  size_t iters, pool;
  unsigned unknown_pct;
  unsigned budget_ms;
  int year;
  int no_sqlite, sqlite_reuse;
  unsigned province;
} opts;

static int op_enabled(const opts *o, const char *name) {
  if (!o->ops) return 1;
  size_t n = strlen(name);
  for (const char *p = o->ops; *p;) {
    const char *e = strchr(p, ',');
    size_t m = e ? (size_t)(e - p) : strlen(p);
    if (m == n && memcmp(p, name, n) == 0) return 1;
    if (!e) break;
    p = e + 1;
  }
  return 0;
}

/* ===================================================================== results */

#define MAX_RESULTS 32

typedef struct op_result {
  char name[32], baseline[32];
  cxb_stats st;
  double ops_s, allocs_per_op;
  long rss_kb;
  size_t errors;
  double ratio;         /* st.median / baseline median; 0 when none */
  char note[160];
} op_result;

static op_result results[MAX_RESULTS];
static int n_results;
static uint64_t timer_overhead_ns;

static op_result *find_result(const char *name) {
  for (int i = 0; i < n_results; i++)
    if (strcmp(results[i].name, name) == 0) return &results[i];
  return NULL;
}

/* ===================================================================== the runner */

/* An op: run key i (0..pool) and return a small digest of its result (compared each time). */
typedef int (*op_fn)(void *ctx, size_t key, uint64_t *digest);

typedef struct op_def {
  const char *name, *baseline;
  op_fn fn;
  void *ctx;
  size_t pool;          /* keys 0..pool-1 */
  size_t iters;         /* timed iterations (capped by the time budget) */
  size_t min_iters;
} op_def;

static uint64_t *samples;
static size_t samples_cap;

static void run_op(const opts *o, const op_def *d) {
  op_result *r = &results[n_results++];
  memset(r, 0, sizeof *r);
  snprintf(r->name, sizeof r->name, "%s", d->name);
  snprintf(r->baseline, sizeof r->baseline, "%s", d->baseline ? d->baseline : "");

  /* Expected results: one untimed pass over the pool (also the warm-up). */
  uint64_t *expect = calloc(d->pool ? d->pool : 1, sizeof *expect);
  if (!expect) cxb_die("out of memory");
  for (size_t k = 0; k < d->pool; k++) {
    int rc = d->fn(d->ctx, k, &expect[k]);
    if (rc != 0) cxb_die("%s: key %zu failed in the warm-up pass (rc %d)", d->name, k, rc);
  }
  /* A second, shorter warm-up that walks keys in the timed order. */
  size_t warm = d->pool < 1000 ? d->pool : 1000;
  for (size_t i = 0; i < warm; i++) {
    uint64_t dg;
    (void)d->fn(d->ctx, i % d->pool, &dg);
  }

  size_t n = d->iters;
  if (n > samples_cap) cxb_die("iterations above the sample buffer");
  uint64_t budget = (uint64_t)o->budget_ms * 1000000ull;
  long long a0 = cxb_allocs();
  uint64_t t_start = cxb_now_ns(), t_end = t_start;
  size_t done = 0;
  for (size_t i = 0; i < n; i++) {
    size_t k = i % d->pool;
    uint64_t dg = 0;
    uint64_t t0 = cxb_now_ns();
    int rc = d->fn(d->ctx, k, &dg);
    uint64_t t1 = cxb_now_ns();
    samples[i] = t1 - t0;
    done = i + 1;
    if (rc != 0 || dg != expect[k]) {
      if (r->errors++ < 5)
        fprintf(stderr, "bench: %s: key %zu: rc %d digest %" PRIu64 " != expected %" PRIu64 "\n",
                d->name, k, rc, dg, expect[k]);
    }
    if (done >= d->min_iters && t1 - t_start > budget) break;
  }
  t_end = cxb_now_ns();
  long long a1 = cxb_allocs();
  free(expect);

  cxb_stats_compute(samples, done, &r->st);
  r->ops_s = (double)done / ((double)(t_end - t_start) / 1e9);
  r->allocs_per_op = (a0 < 0 || a1 < 0) ? -1.0 : (double)(a1 - a0) / (double)done;
  r->rss_kb = cxb_peak_rss_kb();
  if (d->baseline) {
    op_result *b = find_result(d->baseline);
    if (b && b->st.median_ns) r->ratio = (double)r->st.median_ns / (double)b->st.median_ns;
  }
}

static void print_result(const op_result *r) {
  printf("%-17s n=%-8" PRIu64 " median_ns=%-9" PRIu64 " p99_ns=%-9" PRIu64 " p999_ns=%-9" PRIu64
         " ops_s=%-10.0f allocs_op=%-6.2f rss_kb=%-8ld",
         r->name, r->st.n, r->st.median_ns, r->st.p99_ns, r->st.p999_ns, r->ops_s, r->allocs_per_op,
         r->rss_kb);
  if (r->baseline[0] && r->ratio > 0) printf(" ratio=%.2f(vs %s)", r->ratio, r->baseline);
  if (r->errors) printf(" ERRORS=%zu", r->errors);
  if (r->note[0]) printf(" # %s", r->note);
  printf("\n");
  fflush(stdout);
}

/* ===================================================================== the ops */

typedef struct bench {
  const opts *o;
  cx_store *st;
  cx_query *q;
  cx_txn *t;
  cxb_lmdb *raw;
  char *codes;          /* pool rows of 18 bytes: known first, then unknown */
  size_t n_known, n_codes;
  size_t *order;        /* check pool: a shuffled mix of known and unknown */
  size_t *plain, n_plain; /* check_plain: the known codes of order without an advisory hit */
  int action;
  cx_day as_of;
  char (*prefixes)[16]; /* search prefixes */
  size_t n_prefixes;
  cx_agg_spec agg_covered, agg_scan, agg_in_force, agg_in_force_1t;
  cxb_sqlite *sq;
  /* scorecards: the rubric (read once), the bodies' pool, the province ranked */
  cx_rubric rubric;
  cx_scorecard_req sreq;
  char *bodies;         /* rows of 18 bytes, shuffled with the seed */
  size_t n_bodies;
  unsigned province;
  uint32_t province_bodies;
  /* totals reported as notes */
  uint64_t verdicts[CX_V_COUNT];
  uint64_t page_records, search_results;
  int agg_from_rollup;
  uint64_t agg_rows, agg_scanned, agg_total, agg_total2;
  uint32_t agg_threads;
  uint64_t scan_entries;
  uint64_t facts_blocks, facts_bytes;
  cx_day agg_from, agg_to;
  /* exec_check: pre-encoded msgpack requests (payloads, no frame header) and the executor */
  char *xreq;
  size_t *xoff, *xlen, n_xreq;
  cx_exec_env xenv;
  cx_buf xout;
  int xlive;
} bench;

static const char *code_at(const bench *b, size_t i) { return b->codes + i * 18; }

static int op_floor(void *ctx, size_t key, uint64_t *dg) {
  bench *b = ctx;
  const void *v;
  size_t n;
  int rc = cxb_lmdb_summary(b->raw, code_at(b, b->order[key]), &v, &n);
  if (rc < 0) return rc;
  /* touch the value like a reader would (first and last byte) */
  *dg = rc == 1 ? 0 : (uint64_t)n * 256u + ((const unsigned char *)v)[0] +
                          ((const unsigned char *)v)[n - 1];
  return 0;
}

static int op_floor_scan(void *ctx, size_t key, uint64_t *dg) {
  (void)key;
  bench *b = ctx;
  uint64_t n, sum;
  if (cxb_lmdb_walk(b->raw, "records", &n, &sum)) return -1;
  *dg = n ^ (sum << 20);
  b->scan_entries = n;
  return 0;
}

static int op_floor_facts_2t(void *ctx, size_t key, uint64_t *dg) {
  (void)key;
  bench *b = ctx;
  uint64_t n, bytes, sum;
  if (cxb_lmdb_read_all_2t(b->raw, "facts", &n, &bytes, &sum)) return -1;
  *dg = n ^ (sum << 20);
  return 0;
}

static int op_floor_facts(void *ctx, size_t key, uint64_t *dg) {
  (void)key;
  bench *b = ctx;
  uint64_t n, bytes, sum;
  if (cxb_lmdb_read_all(b->raw, "facts", &n, &bytes, &sum)) return -1;
  *dg = n ^ (sum << 20);
  b->facts_blocks = n;
  b->facts_bytes = bytes;
  return 0;
}

/* The baseline of the scans: the facts walk (what they read) when it ran, else the records walk. */
static const char *scan_floor(void) { return find_result("floor_facts") ? "floor_facts" : "floor_scan"; }

static cx_check_hit hits[64];

static int op_check(void *ctx, size_t key, uint64_t *dg) {
  bench *b = ctx;
  cx_check_result res;
  int rc = cx_query_check(b->q, b->t, (cx_str){code_at(b, b->order[key]), 18}, b->action, b->as_of,
                          &res, hits, 64);
  if (rc) return rc;
  *dg = (uint64_t)res.verdict * 1000000u + res.n_total;
  return 0;
}

static int op_check_plain(void *ctx, size_t key, uint64_t *dg) {
  bench *b = ctx;
  cx_check_result res;
  int rc = cx_query_check(b->q, b->t, (cx_str){code_at(b, b->plain[key]), 18}, b->action, b->as_of,
                          &res, hits, 64);
  if (rc) return rc;
  *dg = (uint64_t)res.verdict * 1000000u + res.n_total;
  return 0;
}

static int op_check_txn(void *ctx, size_t key, uint64_t *dg) {
  bench *b = ctx;
  int rc = cx_store_txn_renew(b->t);
  if (rc) return rc;
  rc = op_check(ctx, key, dg);
  cx_store_txn_reset(b->t);
  return rc;
}

/* Packs {"id", "op": "check", "codes": [n codes from order[at..]], "action", "as_of"}. */
static void exec_pack(bench *b, msgpack_sbuffer *sb, size_t at, size_t n, const char *as_of) {
  msgpack_packer pk;
  msgpack_sbuffer_clear(sb);
  msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, 5);
  msgpack_pack_str_with_body(&pk, "id", 2);
  msgpack_pack_uint32(&pk, 1);
  msgpack_pack_str_with_body(&pk, "op", 2);
  msgpack_pack_str_with_body(&pk, "check", 5);
  msgpack_pack_str_with_body(&pk, "codes", 5);
  msgpack_pack_array(&pk, (uint32_t)n);
  for (size_t i = 0; i < n; i++) msgpack_pack_str_with_body(&pk, code_at(b, b->order[(at + i) % b->n_codes]), 18);
  msgpack_pack_str_with_body(&pk, "action", 6);
  msgpack_pack_str_with_body(&pk, b->o->action, strlen(b->o->action));
  msgpack_pack_str_with_body(&pk, "as_of", 5);
  msgpack_pack_str_with_body(&pk, as_of, 10);
}

/* Requests of `per` codes each, consecutive in the check pool's order. */
static void exec_setup(bench *b, size_t per, const char *as_of) {
  free(b->xreq);
  free(b->xoff);
  free(b->xlen);
  b->n_xreq = per == 1 ? b->n_codes : (b->n_codes + per - 1) / per;
  b->xoff = calloc(b->n_xreq, sizeof *b->xoff);
  b->xlen = calloc(b->n_xreq, sizeof *b->xlen);
  size_t cap = b->n_xreq * (per * 19 + 96), used = 0;
  b->xreq = malloc(cap);
  if (!b->xoff || !b->xlen || !b->xreq) cxb_die("out of memory");
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  for (size_t k = 0; k < b->n_xreq; k++) {
    exec_pack(b, &sb, k * per, per, as_of);
    if (used + sb.size > cap) cxb_die("exec request pool overflow");
    memcpy(b->xreq + used, sb.data, sb.size);
    b->xoff[k] = used;
    b->xlen[k] = sb.size;
    used += sb.size;
  }
  msgpack_sbuffer_destroy(&sb);
}

static int op_exec_check(void *ctx, size_t key, uint64_t *dg) {
  bench *b = ctx;
  cx_exec_ctx x;
  memset(&x, 0, offsetof(cx_exec_ctx, msg)); /* msg is written only on failure */
  x.env = &b->xenv;
  x.q = b->q;
  x.txn = b->t;
  x.txn_live = &b->xlive;
  x.hits = hits;
  x.hits_cap = 64;
  x.role = CX_ROLE_APPROVAL;
  x.token = -1;
  x.out = &b->xout;
  b->xout.len = 0;
  int rc = cx_exec(&x, b->xreq + b->xoff[key], b->xlen[key]);
  if (rc || b->xout.failed) return rc ? rc : -1;
  /* digest: the answer's length and a word sum over it (verdicts differ in length and bytes) */
  uint64_t h = b->xout.len, w;
  size_t i = 0;
  for (; i + 8 <= b->xout.len; i += 8) {
    memcpy(&w, b->xout.p + i, 8);
    h = h * 31 + w;
  }
  for (; i < b->xout.len; i++) h = h * 31 + (unsigned char)b->xout.p[i];
  *dg = h;
  return 0;
}

static int op_sqlite_check(void *ctx, size_t key, uint64_t *dg) {
  bench *b = ctx;
  int verdict;
  int rc = cxb_sqlite_check(b->sq, code_at(b, b->order[key]), b->action, b->as_of, &verdict);
  if (rc) return rc;
  *dg = (uint64_t)verdict;
  return 0;
}

static int op_entity(void *ctx, size_t key, uint64_t *dg) {
  bench *b = ctx;
  cx_entity_status es;
  int rc = cx_query_entity(b->q, b->t, CX_ROLE_PUBLIC, (cx_str){code_at(b, key), 18}, b->as_of, &es);
  if (rc == CX_ENOTFOUND) { *dg = 1; return 0; } /* a person the public may not see */
  if (rc) return rc;
  uint64_t h = es.flags;
  for (int c = 0; c < CX_CAT_COUNT; c++) h = h * 31 + es.counts[c].total * 7 + es.counts[c].visible;
  *dg = h;
  return 0;
}

typedef struct page_ctx { uint64_t n, h; } page_ctx;
static int page_fn(void *ctx, const cx_record_view *v) {
  page_ctx *p = ctx;
  p->n++;
  p->h = p->h * 31 + v->r->seq + (uint64_t)v->in_force * 2 + (uint64_t)v->displayable;
  return 0;
}

static int op_records(void *ctx, size_t key, uint64_t *dg) {
  bench *b = ctx;
  cx_records_req req = {.code = {code_at(b, key), 18}, .category = -1, .cursor = {"", 0},
                        .limit = 20, .as_of = b->as_of, .role = CX_ROLE_ANALYST};
  char next[CX_CURSOR_MAX];
  page_ctx p = {0, 0};
  int rc = cx_query_records(b->q, b->t, &req, page_fn, &p, next);
  if (rc) return rc;
  b->page_records += p.n;
  *dg = p.h * 64 + p.n;
  return 0;
}

typedef struct search_ctx { uint64_t n, h; } search_ctx;
static int search_fn(void *ctx, const cx_search_hit *h) {
  search_ctx *s = ctx;
  s->n++;
  s->h = s->h * 31 + (h->code.n ? (unsigned char)h->code.p[h->code.n - 1] : 0) + h->kind;
  return 0;
}

static int op_search(void *ctx, size_t key, uint64_t *dg) {
  bench *b = ctx;
  search_ctx s = {0, 0};
  int rc = cx_query_search(b->q, b->t, CX_ROLE_PUBLIC, cx_str_c(b->prefixes[key]), 10, search_fn, &s);
  if (rc) return rc;
  b->search_results += s.n;
  *dg = s.h * 128 + s.n;
  return 0;
}

static uint64_t agg_digest(const cx_agg_result *res, int n_metrics) {
  uint64_t h = res->n_rows;
  for (uint32_t i = 0; i < res->n_rows; i++)
    for (int m = 0; m < n_metrics; m++) h = h * 31 + (uint64_t)(res->rows[i].vals[m] * 1000.0 + 0.5);
  return h;
}

static int run_agg(bench *b, const cx_agg_spec *spec, uint64_t *dg) {
  cx_agg_result res;
  memset(&res, 0, sizeof res);
  int rc = cx_query_aggregate(b->q, b->t, CX_ROLE_ANALYST, spec, &res);
  if (rc) return rc;
  *dg = agg_digest(&res, spec->n_metrics);
  b->agg_from_rollup = res.from_rollup;
  b->agg_rows = res.n_rows;
  b->agg_scanned = res.scanned;
  b->agg_threads = res.threads;
  b->agg_total = b->agg_total2 = 0;
  for (uint32_t i = 0; i < res.n_rows; i++) {
    b->agg_total += (uint64_t)res.rows[i].vals[0];
    if (spec->metrics[1] == CX_M_IN_FORCE) b->agg_total2 += (uint64_t)res.rows[i].vals[1];
  }
  cx_agg_result_free(&res);
  return 0;
}

static int op_agg_covered(void *ctx, size_t key, uint64_t *dg) {
  (void)key;
  bench *b = ctx;
  return run_agg(b, &b->agg_covered, dg);
}
static int op_agg_scan(void *ctx, size_t key, uint64_t *dg) {
  (void)key;
  bench *b = ctx;
  return run_agg(b, &b->agg_scan, dg);
}
static int op_agg_in_force(void *ctx, size_t key, uint64_t *dg) {
  (void)key;
  bench *b = ctx;
  return run_agg(b, &b->agg_in_force, dg);
}

static int op_agg_in_force_1t(void *ctx, size_t key, uint64_t *dg) {
  (void)key;
  bench *b = ctx;
  return run_agg(b, &b->agg_in_force_1t, dg);
}

static int op_sqlite_agg(void *ctx, size_t key, uint64_t *dg) {
  (void)key;
  bench *b = ctx;
  uint64_t rows, total;
  if (cxb_sqlite_agg(b->sq, b->agg_from, b->agg_to, &rows, &total)) return -1;
  *dg = rows * 1000000000ull + total;
  return 0;
}

/* A scorecard's digest: its code, score and every indicator's counts. */
static uint64_t card_digest(uint64_t h, const cx_scorecard *sc) {
  uint64_t w;
  memcpy(&w, &sc->score, sizeof w);
  h = h * 1000003u ^ w;
  for (int i = 0; i < CX_CODE_LEN; i++) h = h * 31 + (unsigned char)sc->code[i];
  for (int i = 0; i < CX_IND_COUNT; i++) h = h * 31 + sc->ind[i].num * 7 + sc->ind[i].den;
  return h;
}

static int op_scorecard_one(void *ctx, size_t key, uint64_t *dg) {
  bench *b = ctx;
  cx_scorecard sc;
  int rc = cx_query_scorecard(b->q, b->t, &b->rubric, &b->sreq, (cx_str){b->bodies + key * 18, 18}, &sc);
  if (rc) return rc;
  *dg = card_digest(sc.band, &sc);
  return 0;
}

static uint64_t ranking_digest(const cx_scorecard *v, uint32_t n) {
  uint64_t h = n;
  for (uint32_t i = 0; i < n; i++) h = card_digest(h, &v[i]);
  return h;
}

static int op_scorecard_province(void *ctx, size_t key, uint64_t *dg) {
  (void)key;
  bench *b = ctx;
  cx_scorecard *v;
  uint32_t n;
  int rc = cx_query_scorecards(b->q, b->t, &b->rubric, &b->sreq, b->province, 0, 0, 0, &v, &n);
  if (rc) return rc;
  *dg = ranking_digest(v, n);
  free(v);
  return 0;
}

static int op_sqlite_scorecard_province(void *ctx, size_t key, uint64_t *dg) {
  (void)key;
  bench *b = ctx;
  cx_scorecard *v;
  uint32_t n;
  if (cxb_sqlite_scorecards(b->sq, &b->rubric, &b->sreq, b->province, &v, &n)) return -1;
  *dg = ranking_digest(v, n);
  free(v);
  return 0;
}

/* ===================================================================== setup helpers */

/* The scorecards' bodies: every 11… code whose summary is of a kind the rubric scores (the
 * registrations cx_query_scorecards walks), counted by province; the pool shuffled with the
 * seed. */
typedef struct bodies_ctx {
  bench *b;
  size_t cap;
  uint32_t per_province[100];
} bodies_ctx;

static int bodies_fn(void *ctx, cx_str code, cx_str unused) {
  (void)unused;
  bodies_ctx *c = ctx;
  bench *b = c->b;
  if (code.n != 18) return 0;
  char k[19];
  memcpy(k, code.p, 18);
  k[18] = 0;
  cx_summary s;
  if (cx_store_summary_get(b->t, k, &s) != 0) return 0;
  if (s.kind >= CX_KIND_COUNT || !(b->rubric.kinds >> s.kind & 1u)) return 0;
  if (b->n_bodies == c->cap) {
    c->cap = c->cap ? 2 * c->cap : 1024;
    b->bodies = realloc(b->bodies, c->cap * 18);
    if (!b->bodies) cxb_die("out of memory");
  }
  memcpy(b->bodies + b->n_bodies++ * 18, k, 18);
  unsigned pv = (unsigned)(k[2] - '0') * 10u + (unsigned)(k[3] - '0');
  if (pv < 100) c->per_province[pv]++;
  return 0;
}

/* 0, or 1 when the store has no body to score (the scorecard ops are then skipped). */
static int scorecard_setup(bench *b, int year) {
  int rc;
  if ((rc = cx_store_rubric(b->t, &b->rubric)) != 0) cxb_die("cx_store_rubric: %s", cx_strerror(rc));
  b->sreq.role = CX_ROLE_ANALYST;
  b->sreq.as_of = b->as_of;
  if (cx_scorecard_year(year, &b->sreq.from, &b->sreq.to)) cxb_die("bad scorecard year %d", year);
  bodies_ctx c;
  memset(&c, 0, sizeof c);
  c.b = b;
  if ((rc = cx_store_codes_each(b->t, (cx_str){"11", 2}, bodies_fn, &c)) < 0)
    cxb_die("codes_each: %s", cx_strerror(rc));
  if (b->n_bodies == 0) return 1;
  cxb_rng r = {b->o->seed ^ 0x9e3779b97f4a7c15ull};
  char tmp[18];
  for (size_t i = b->n_bodies - 1; i > 0; i--) {
    size_t j = (size_t)cxb_rng_below(&r, i + 1);
    memcpy(tmp, b->bodies + i * 18, 18);
    memcpy(b->bodies + i * 18, b->bodies + j * 18, 18);
    memcpy(b->bodies + j * 18, tmp, 18);
  }
  b->province = b->o->province;
  if (!b->province)
    for (unsigned p = 10; p < 100; p++)
      if (c.per_province[p] > c.per_province[b->province]) b->province = p;
  b->province_bodies = c.per_province[b->province];
  return 0;
}

/* chengxin's ranking, for the DuckDB baseline to check its own against (bench/duckdb/agg.mjs):
 * the request, the rubric's kinds and every body with its score and indicator counts. */
static void scorecard_json_write(const bench *b, const char *path, int year) {
  cx_scorecard *v;
  uint32_t n;
  int rc = cx_query_scorecards(b->q, b->t, &b->rubric, &b->sreq, b->province, 0, 0, 0, &v, &n);
  if (rc) cxb_die("scorecards: %s", cx_strerror(rc));
  FILE *f = fopen(path, "w");
  if (!f) cxb_die("cannot write %s", path);
  cx_day m0, m1;
  if (cxb_whole_months(b->sreq.from, b->sreq.to, &m0, &m1)) cxb_die("bad period");
  fprintf(f,
          "{\"province\":\"%02u\",\"year\":%d,\"from_day\":%u,\"to_day\":%u,\"month_from_day\":%u,"
          "\"month_to_day\":%u,\"role\":\"analyst\",\"kinds\":%u,",
          b->province, year, b->sreq.from, b->sreq.to, m0, m1, b->rubric.kinds);
  /* the store's enum values, so that the other engine's SQL does not restate them */
  fprintf(f,
          "\"enums\":{\"license\":%d,\"penalty\":%d,\"gov_dishonesty\":%d,\"blacklist\":%d,\"commitment\":%d,"
          "\"lawsuit\":%d,\"complaint\":%d,\"judgment\":%d,\"admin_penalty\":%d,\"disciplinary\":%d,"
          "\"accountability\":%d,\"kept\":%d,\"broken\":%d,\"won\":%d,\"lost\":%d,\"active\":%d,\"revoked\":%d,"
          "\"government\":%d,\"subdistrict\":%d,\"institution\":%d,\"civil_servant\":%d},\"bodies\":[",
          CX_CAT_LICENSE, CX_CAT_PENALTY, CX_CAT_GOV_DISHONESTY, CX_CAT_BLACKLIST, CX_CAT_COMMITMENT, CX_CAT_LAWSUIT,
          CX_CAT_COMPLAINT, CX_SUB_JUDGMENT, CX_SUB_ADMIN_PENALTY, CX_SUB_DISCIPLINARY, CX_SUB_ACCOUNTABILITY,
          CX_SUB_KEPT, CX_SUB_BROKEN, CX_SUB_WON, CX_SUB_LOST, CX_ST_ACTIVE, CX_ST_REVOKED, CX_KIND_GOVERNMENT,
          CX_KIND_SUBDISTRICT, CX_KIND_INSTITUTION, CX_KIND_CIVIL_SERVANT);
  for (uint32_t i = 0; i < n; i++) {
    const cx_scorecard *sc = &v[i];
    fprintf(f, "%s\n{\"code\":\"%.18s\",\"kind\":%u,\"score\":%.17g,\"raw\":%.17g,\"band\":%u,\"vetoes\":%u,\"ind\":[",
            i ? "," : "", sc->code, sc->kind, sc->score, sc->raw, sc->band, sc->vetoes);
    for (int k = 0; k < CX_IND_COUNT; k++)
      fprintf(f, "%s{\"num\":%" PRIu64 ",\"den\":%" PRIu64 "}", k ? "," : "", sc->ind[k].num, sc->ind[k].den);
    fprintf(f, "]}");
  }
  fprintf(f, "]}\n");
  if (fclose(f) != 0) cxb_die("cannot write %s", path);
  free(v);
}


/* The latest decision date among the sampled entities: the default as-of day (+1), so that a
 * generated store answers the same way whatever day the bench runs. */
static cx_day latest_decision(bench *b) {
  cx_day best = CX_DAY_NONE;
  for (size_t i = 0; i < b->n_known; i++) {
    cx_summary s;
    if (cx_store_summary_get(b->t, code_at(b, i), &s) != 0) continue;
    for (uint32_t k = 0; k < s.n_recs; k++) {
      cx_sum_rec r;
      cx_summary_rec(&s, k, &r);
      if (r.decision_date > best && r.decision_date != CX_DAY_OPEN) best = r.decision_date;
    }
  }
  return best;
}

/* First two UTF-8 characters of each sampled entity's normalised name. */
static void make_prefixes(bench *b, size_t n) {
  b->prefixes = calloc(n ? n : 1, sizeof *b->prefixes);
  if (!b->prefixes) cxb_die("out of memory");
  size_t m = 0;
  for (size_t i = 0; i < b->n_known && m < n; i++) {
    cx_summary s;
    if (cx_store_summary_get(b->t, code_at(b, i), &s) != 0) continue;
    char norm[256];
    size_t len = cx_name_normalize(s.name.p, s.name.n, norm, sizeof norm);
    size_t cut = 0;
    for (int chars = 0; cut < len && chars < 2; chars++) {
      cut++;
      while (cut < len && ((unsigned char)norm[cut] & 0xC0) == 0x80) cut++;
    }
    if (cut == 0 || cut >= sizeof b->prefixes[0]) continue;
    memcpy(b->prefixes[m], norm, cut);
    b->prefixes[m][cut] = 0;
    m++;
  }
  b->n_prefixes = m;
}

static void agg_spec_init(cx_agg_spec *s, cx_day as_of) {
  memset(s, 0, sizeof *s);
  s->order = -1;
  s->as_of = as_of;
}

/* ===================================================================== CSV export */

/* The rows the aggregates and the scorecards read, one line per record, for other engines
 * (DuckDB) to load: city,month,decision_date,reported,on_time,status,valid_from,valid_until
 * (days since epoch),category,subtype,entity_kind,entity_code,authority_code. */
typedef struct export_ctx { FILE *f; uint64_t n; } export_ctx;

static int export_fn(void *ctx, const cx_reckey *key, const cx_record *r) {
  (void)key;
  export_ctx *e = ctx;
  fprintf(e->f, "%u,%u,%u,%d,%d,%d,%u,%u,%u,%u,%u,%.*s,%.*s\n", cx_record_dim(r, CX_DIM_CITY),
          cx_record_dim(r, CX_DIM_MONTH), r->decision_date, r->report_date != CX_DAY_NONE, r->on_time, r->status,
          r->valid_from, r->valid_until, r->category, r->subtype, r->entity_kind, (int)r->entity_code.n,
          r->entity_code.p, (int)r->authority_code.n, r->authority_code.p);
  e->n++;
  return 0;
}

static int export_csv(const char *db, const char *path) {
  cx_store *st;
  cx_txn *t;
  cx_store_opts so = {.read_only = 1};
  int rc = cx_store_open(db, &so, &st);
  if (rc) cxb_die("cx_store_open %s: %s", db, cx_strerror(rc));
  if ((rc = cx_store_txn_begin(st, &t)) != 0) cxb_die("txn: %s", cx_strerror(rc));
  export_ctx e = {fopen(path, "w"), 0};
  if (!e.f) cxb_die("cannot write %s", path);
  static char buf[1 << 20];
  setvbuf(e.f, buf, _IOFBF, sizeof buf);
  fprintf(e.f, "city,month,decision_date,reported,on_time,status,valid_from,valid_until,category,subtype,"
               "entity_kind,entity_code,authority_code\n");
  uint64_t t0 = cxb_now_ns();
  rc = cx_store_records_scan(t, export_fn, &e);
  if (fclose(e.f) != 0 || rc) cxb_die("export to %s failed", path);
  printf("export_csv rows=%" PRIu64 " seconds=%.2f file=%s\n", e.n, (double)(cxb_now_ns() - t0) / 1e9, path);
  cx_store_txn_end(t);
  cx_store_close(st);
  return 0;
}

/* ===================================================================== main */

static void usage(void) {
  fprintf(stderr,
          "usage: bench_query --db DIR [--iters N] [--budget-ms MS] [--pool N] [--unknown PCT]\n"
          "                   [--seed S] [--as-of YYYY-MM-DD] [--year YYYY] [--action CODE]\n"
          "                   [--sqlite FILE [--sqlite-reuse] | --no-sqlite] [--ops a,b] [--json FILE]\n"
          "                   [--label L] [--province NN] [--scorecard-json FILE]\n"
          "       bench_query --db DIR --export-csv FILE   (the aggregates' rows, for DuckDB)\n");
  exit(2);
}

int main(int argc, char **argv) {
  opts o = {.seed = 42, .iters = 200000, .pool = 100000, .unknown_pct = 10, .budget_ms = 4000,
            .label = "", .action = "procurement"};
  static const struct option lo[] = {
      {"db", 1, 0, 'd'},      {"iters", 1, 0, 'n'}, {"budget-ms", 1, 0, 'b'}, {"pool", 1, 0, 'p'},
      {"unknown", 1, 0, 'u'}, {"seed", 1, 0, 's'},  {"as-of", 1, 0, 'a'},     {"year", 1, 0, 'y'},
      {"action", 1, 0, 'A'},  {"sqlite", 1, 0, 'q'}, {"no-sqlite", 0, 0, 'Q'}, {"ops", 1, 0, 'o'},
      {"json", 1, 0, 'j'},    {"label", 1, 0, 'l'}, {"help", 0, 0, 'h'},
      {"export-csv", 1, 0, 'E'}, {"sqlite-reuse", 0, 0, 'R'}, {"province", 1, 0, 'P'},
      {"scorecard-json", 1, 0, 'S'}, {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
    switch (c) {
    case 'd': o.db = optarg; break;
    case 'n': o.iters = strtoull(optarg, NULL, 10); break;
    case 'b': o.budget_ms = (unsigned)strtoul(optarg, NULL, 10); break;
    case 'p': o.pool = strtoull(optarg, NULL, 10); break;
    case 'u': o.unknown_pct = (unsigned)strtoul(optarg, NULL, 10); break;
    case 's': o.seed = strtoull(optarg, NULL, 10); break;
    case 'a': o.as_of_s = optarg; break;
    case 'y': o.year = atoi(optarg); break;
    case 'A': o.action = optarg; break;
    case 'q': o.sqlite_path = optarg; break;
    case 'Q': o.no_sqlite = 1; break;
    case 'o': o.ops = optarg; break;
    case 'j': o.json = optarg; break;
    case 'l': o.label = optarg; break;
    case 'E': o.export_csv = optarg; break;
    case 'R': o.sqlite_reuse = 1; break;
    case 'P': o.province = (unsigned)strtoul(optarg, NULL, 10); break;
    case 'S': o.scorecard_json = optarg; break;
    default: usage();
    }
  }
  if (!o.db || o.iters == 0 || o.pool == 0 || o.unknown_pct >= 100 || (o.province && (o.province < 10 || o.province > 99)))
    usage();

  if (o.export_csv) return export_csv(o.db, o.export_csv);

  bench b;
  memset(&b, 0, sizeof b);
  b.o = &o;
  samples_cap = o.iters;
  samples = malloc(samples_cap * sizeof *samples);
  if (!samples) cxb_die("out of memory");

  /* Timer overhead: two back-to-back clock reads. */
  {
    for (size_t i = 0; i < 100000; i++) samples[i % samples_cap] = cxb_now_ns() - cxb_now_ns();
    size_t n = samples_cap < 100000 ? samples_cap : 100000;
    for (size_t i = 0; i < n; i++) {
      uint64_t t0 = cxb_now_ns();
      samples[i] = cxb_now_ns() - t0;
    }
    cxb_stats st;
    cxb_stats_compute(samples, n, &st);
    timer_overhead_ns = st.median_ns;
  }

  /* ---- phase 1: the raw env (read-only): sample the codes, measure the floor, close. ----
   * LMDB forbids opening one env twice in a process at the same time, so the raw env is
   * closed before cx_store_open. */
  if (cxb_lmdb_open(o.db, &b.raw) != 0) cxb_die("cannot open %s read-only", o.db);
  size_t n_entities = cxb_lmdb_count(b.raw);
  uint64_t live_bytes = 0, hw_bytes = 0;
  if (cxb_lmdb_live_bytes(b.raw, &live_bytes, &hw_bytes) != 0) cxb_die("mdb_stat failed");
  if (n_entities == 0) cxb_die("%s: the summary database is empty", o.db);
  size_t n_pool = o.pool < n_entities ? o.pool : n_entities;
  size_t n_unknown = n_pool * o.unknown_pct / (100 - o.unknown_pct);
  if (cxb_codes_sample(b.raw, o.seed, o.pool, n_unknown, &b.codes, &b.n_known) != 0)
    cxb_die("cannot sample codes");
  b.n_codes = b.n_known + n_unknown;
  b.order = malloc(b.n_codes * sizeof *b.order);
  if (!b.order) cxb_die("out of memory");
  {
    /* known codes at their sampled positions; unknown ones spread evenly among them */
    cxb_rng r = {o.seed ^ 0x5bd1e995u};
    for (size_t i = 0; i < b.n_codes; i++) b.order[i] = i;
    for (size_t i = b.n_codes - 1; i > 0; i--) {
      size_t j = (size_t)cxb_rng_below(&r, i + 1);
      size_t t = b.order[i];
      b.order[i] = b.order[j];
      b.order[j] = t;
    }
  }
  printf("# bench_query db=%s entities=%zu pool=%zu known + %zu unknown seed=%" PRIu64
         " timer_overhead_ns=%" PRIu64 "\n",
         o.db, n_entities, b.n_known, n_unknown, o.seed, timer_overhead_ns);

  if (op_enabled(&o, "floor_mdb_get") || op_enabled(&o, "check")) {
    if (cxb_lmdb_begin(b.raw) != 0) cxb_die("raw txn");
    op_def d = {"floor_mdb_get", NULL, op_floor, &b, b.n_codes, o.iters, 1000};
    run_op(&o, &d);
    snprintf(results[n_results - 1].note, sizeof results[0].note, "raw mdb_get of the summary key");
    print_result(&results[n_results - 1]);
    cxb_lmdb_reset(b.raw);
  }
  if (op_enabled(&o, "floor_scan") && (op_enabled(&o, "agg_scan") || o.ops)) {
    if (cxb_lmdb_begin(b.raw) != 0) cxb_die("raw txn");
    size_t it = o.iters < 200 ? o.iters : 200;
    op_def d = {"floor_scan", NULL, op_floor_scan, &b, 1, it, 3};
    run_op(&o, &d);
    snprintf(results[n_results - 1].note, sizeof results[0].note,
             "raw cursor walk of the records database (first byte of each value); %" PRIu64 " entries",
             b.scan_entries);
    print_result(&results[n_results - 1]);
    cxb_lmdb_reset(b.raw);
  }
  if (op_enabled(&o, "floor_facts") && (op_enabled(&o, "agg_scan") || op_enabled(&o, "agg_in_force") || o.ops)) {
    if (cxb_lmdb_begin(b.raw) != 0) cxb_die("raw txn");
    uint64_t n0, by0, s0;
    if (cxb_lmdb_read_all(b.raw, "facts", &n0, &by0, &s0) == 0) { /* stores before the facts DB: skip */
      size_t it = o.iters < 200 ? o.iters : 200;
      op_def d = {"floor_facts", NULL, op_floor_facts, &b, 1, it, 3};
      run_op(&o, &d);
      op_result *r = &results[n_results - 1];
      snprintf(r->note, sizeof r->note,
               "raw walk of the facts database reading every byte: %" PRIu64 " blocks, %.0f MB, %.1f GB/s",
               b.facts_blocks, (double)b.facts_bytes / 1e6,
               r->st.median_ns ? (double)b.facts_bytes / (double)r->st.median_ns : 0.0);
      print_result(r);
      /* the same on both cores (the raw txn reset: each half begins its own) */
      cxb_lmdb_reset(b.raw);
      op_def d2 = {"floor_facts_2t", "floor_facts", op_floor_facts_2t, &b, 1, it, 3};
      run_op(&o, &d2);
      r = &results[n_results - 1];
      snprintf(r->note, sizeof r->note, "floor_facts on two threads, a read txn and half the keys each: %.1f GB/s",
               r->st.median_ns ? (double)b.facts_bytes / (double)r->st.median_ns : 0.0);
      print_result(r);
    }
    cxb_lmdb_reset(b.raw);
  }
  cxb_lmdb_close(b.raw);
  b.raw = NULL;

  /* ---- phase 2: the query core. ---- */
  cx_store_opts so = {.read_only = 1};
  int rc = cx_store_open(o.db, &so, &b.st);
  if (rc) cxb_die("cx_store_open %s: %s", o.db, cx_strerror(rc));
  if ((rc = cx_query_new(b.st, &b.q)) != 0) cxb_die("cx_query_new: %s", cx_strerror(rc));
  if ((rc = cx_store_txn_begin(b.st, &b.t)) != 0) cxb_die("txn: %s", cx_strerror(rc));
  cx_store_info info;
  memset(&info, 0, sizeof info);
  if ((rc = cx_store_info_get(b.st, &info)) != 0) cxb_die("info: %s", cx_strerror(rc));

  b.action = cx_query_action(b.q, cx_str_c(o.action));
  if (b.action < 0) cxb_die("unknown action %s", o.action);
  if (o.as_of_s) {
    if (cx_day_parse(cx_str_c(o.as_of_s), &b.as_of) != 0) cxb_die("bad --as-of %s", o.as_of_s);
  } else {
    b.as_of = latest_decision(&b) + 1;
  }
  /* The public role (entity) sees today only: the bench's day is today for this process. */
  cx_day_set_today(b.as_of);
  char as_of_buf[11];
  cx_day_format(b.as_of, as_of_buf);
  int year = o.year;
  if (!year) {
    int y, m, d;
    cx_day_to_ymd(b.as_of, &y, &m, &d);
    year = y - 1;
  }
  printf("# store live_bytes=%" PRIu64 " high_water=%" PRIu64 "\n", live_bytes, hw_bytes);
  printf("# store records=%" PRIu64 " entities=%" PRIu64 " map_used=%" PRIu64
         " as_of=%s year=%d action=%s\n",
         info.records, info.entities, info.map_used, as_of_buf, year, o.action);

  if (op_enabled(&o, "check")) {
    op_def d = {"check", "floor_mdb_get", op_check, &b, b.n_codes, o.iters, 1000};
    run_op(&o, &d);
    /* verdict mix over the pool, for the note */
    for (size_t k = 0; k < b.n_codes; k++) {
      cx_check_result res;
      if (cx_query_check(b.q, b.t, (cx_str){code_at(&b, b.order[k]), 18}, b.action, b.as_of, &res,
                         hits, 64) == 0)
        b.verdicts[res.verdict]++;
    }
    snprintf(results[n_results - 1].note, sizeof results[0].note,
             "verdicts over the pool: deny=%" PRIu64 " review=%" PRIu64 " clear=%" PRIu64
             " not_found=%" PRIu64,
             b.verdicts[CX_V_DENY], b.verdicts[CX_V_REVIEW], b.verdicts[CX_V_CLEAR],
             b.verdicts[CX_V_NOT_FOUND]);
    print_result(&results[n_results - 1]);
    if (b.verdicts[CX_V_INVALID_CODE]) cxb_die("check: generated codes judged invalid");
    if (b.verdicts[CX_V_NOT_FOUND] != n_unknown)
      cxb_die("check: %" PRIu64 " not_found verdicts, expected %zu", b.verdicts[CX_V_NOT_FOUND],
              n_unknown);
  }
  if (op_enabled(&o, "check_plain")) {
    /* untimed: the known codes of the pool whose answer lists no advisory hit */
    b.plain = malloc(b.n_codes * sizeof *b.plain);
    if (!b.plain) cxb_die("out of memory");
    size_t with_hints = 0;
    for (size_t k = 0; k < b.n_codes; k++) {
      cx_check_result res;
      if (cx_query_check(b.q, b.t, (cx_str){code_at(&b, b.order[k]), 18}, b.action, b.as_of, &res, hits, 64))
        cxb_die("check failed");
      if (res.verdict == CX_V_NOT_FOUND || res.verdict == CX_V_INVALID_CODE) continue;
      if (res.n_advisory) with_hints++;
      else b.plain[b.n_plain++] = b.order[k];
    }
    if (!b.n_plain) cxb_die("check_plain: every known code has an advisory hit");
    op_def d = {"check_plain", "floor_mdb_get", op_check_plain, &b, b.n_plain, o.iters, 1000};
    run_op(&o, &d);
    op_result *r = &results[n_results - 1], *ck = find_result("check");
    int w = snprintf(r->note, sizeof r->note, "%zu known codes without an advisory hit (%zu with one left out)",
                     b.n_plain, with_hints);
    if (ck && ck->st.median_ns && w > 0 && (size_t)w < sizeof r->note)
      snprintf(r->note + w, sizeof r->note - (size_t)w, "; %.2fx check's median",
               (double)r->st.median_ns / (double)ck->st.median_ns);
    print_result(r);
  }
  if (op_enabled(&o, "check_txn")) {
    cx_store_txn_reset(b.t);
    op_def d = {"check_txn", "check", op_check_txn, &b, b.n_codes, o.iters, 1000};
    run_op(&o, &d);
    if ((rc = cx_store_txn_renew(b.t)) != 0) cxb_die("renew: %s", cx_strerror(rc));
    snprintf(results[n_results - 1].note, sizeof results[0].note,
             "txn renew + check + reset per call");
    print_result(&results[n_results - 1]);
  }
  if (op_enabled(&o, "exec_check") || op_enabled(&o, "exec_check1000")) {
    cx_exec_limits_default(&b.xenv.lim);
    b.xenv.st = b.st;
    b.xlive = 1;
    if (cx_buf_init(&b.xout, 1 << 16)) cxb_die("out of memory");
  }
  if (op_enabled(&o, "exec_check")) {
    exec_setup(&b, 1, as_of_buf);
    /* untimed: the executor's verdict is check's, for every code of the pool */
    for (size_t k = 0; k < b.n_codes; k++) {
      uint64_t dg;
      cx_check_result res;
      if (op_exec_check(&b, k, &dg)) cxb_die("exec_check: key %zu failed", k);
      if (cx_query_check(b.q, b.t, (cx_str){code_at(&b, b.order[k]), 18}, b.action, b.as_of, &res, hits, 64))
        cxb_die("check failed");
      char v[24];
      int vn = snprintf(v, sizeof v, "%s", cx_verdict_names[res.verdict]);
      if (!memmem(b.xout.p, b.xout.len, v, (size_t)vn)) cxb_die("exec_check: key %zu: verdict %s not in the answer", k, v);
    }
    op_def d = {"exec_check", "check", op_exec_check, &b, b.n_xreq, o.iters, 1000};
    run_op(&o, &d);
    snprintf(results[n_results - 1].note, sizeof results[0].note,
             "cx_exec of a msgpack check of one code (decode, role, check, pack): %.0f B answers",
             (double)b.xout.len);
    print_result(&results[n_results - 1]);
  }
  if (op_enabled(&o, "exec_check1000")) {
    exec_setup(&b, 1000, as_of_buf);
    size_t it = o.iters / 1000 > 200 ? o.iters / 1000 : 200;
    op_def d = {"exec_check1000", NULL, op_exec_check, &b, b.n_xreq, it, 20};
    run_op(&o, &d);
    op_result *r = &results[n_results - 1], *ck = find_result("check");
    double per = (double)r->st.median_ns / 1000.0;
    if (ck && ck->st.median_ns)
      snprintf(r->note, sizeof r->note,
               "cx_exec of 1000 codes per call: %.0f ns per code, %.2fx check's median; %.0f kB answers",
               per, per / (double)ck->st.median_ns, (double)b.xout.len / 1e3);
    else
      snprintf(r->note, sizeof r->note, "cx_exec of 1000 codes per call: %.0f ns per code", per);
    print_result(r);
  }
  if (b.xreq) {
    free(b.xreq);
    free(b.xoff);
    free(b.xlen);
    cx_buf_free(&b.xout);
  }
  if (op_enabled(&o, "entity")) {
    op_def d = {"entity", "floor_mdb_get", op_entity, &b, b.n_known, o.iters, 1000};
    run_op(&o, &d);
    print_result(&results[n_results - 1]);
  }
  if (op_enabled(&o, "records_page")) {
    op_def d = {"records_page", "floor_mdb_get", op_records, &b, b.n_known, o.iters, 1000};
    b.page_records = 0;
    run_op(&o, &d);
    op_result *r = &results[n_results - 1];
    snprintf(r->note, sizeof r->note, "limit 20, analyst role; %.1f records per page",
             (double)b.page_records / (double)(r->st.n + b.n_known + (b.n_known < 1000 ? b.n_known : 1000)));
    print_result(r);
  }
  if (op_enabled(&o, "search")) {
    make_prefixes(&b, b.n_known < 20000 ? b.n_known : 20000);
    if (b.n_prefixes == 0) cxb_die("search: no entity names to take prefixes from");
    op_def d = {"search", NULL, op_search, &b, b.n_prefixes, o.iters, 1000};
    b.search_results = 0;
    run_op(&o, &d);
    op_result *r = &results[n_results - 1];
    snprintf(r->note, sizeof r->note, "2-character name prefix, limit 10; %.1f results per call",
             (double)b.search_results /
                 (double)(r->st.n + b.n_prefixes + (b.n_prefixes < 1000 ? b.n_prefixes : 1000)));
    print_result(r);
  }

  cx_day y0, y1;
  if (cx_day_from_ymd(year, 1, 1, &y0) || cx_day_from_ymd(year, 12, 31, &y1)) cxb_die("bad year");
  agg_spec_init(&b.agg_covered, b.as_of);
  b.agg_covered.n_group = 2;
  b.agg_covered.group[0] = CX_DIM_CITY;
  b.agg_covered.group[1] = CX_DIM_MONTH;
  b.agg_covered.from = y0;
  b.agg_covered.to = y1;
  b.agg_covered.n_metrics = 2;
  b.agg_covered.metrics[0] = CX_M_COUNT;
  b.agg_covered.metrics[1] = CX_M_ON_TIME_RATE;
  b.agg_scan = b.agg_covered;
  b.agg_scan.force_scan = 1;
  agg_spec_init(&b.agg_in_force, b.as_of);
  b.agg_in_force.n_group = 1;
  b.agg_in_force.group[0] = CX_DIM_PROVINCE;
  b.agg_in_force.n_metrics = 2;
  b.agg_in_force.metrics[0] = CX_M_COUNT;
  b.agg_in_force.metrics[1] = CX_M_IN_FORCE;

  b.agg_from = y0;
  b.agg_to = y1;
  uint64_t covered_digest = 0, scan_digest = 0, covered_rows = 0, covered_total = 0;
  uint64_t inforce_rows = 0, inforce_count = 0, inforce_total = 0;
  if (op_enabled(&o, "agg_covered")) {
    size_t it = o.iters < 2000 ? o.iters : 2000;
    op_def d = {"agg_covered", NULL, op_agg_covered, &b, 1, it, 5};
    run_op(&o, &d);
    (void)run_agg(&b, &b.agg_covered, &covered_digest);
    covered_rows = b.agg_rows;
    covered_total = b.agg_total;
    op_result *r = &results[n_results - 1];
    snprintf(r->note, sizeof r->note, "city x month, %d; %s; %" PRIu64 " rows, %" PRIu64 " visited",
             year, b.agg_from_rollup ? "from rollup" : "NOT from a rollup", b.agg_rows, b.agg_scanned);
    print_result(r);
  }
  if (op_enabled(&o, "agg_scan")) {
    size_t it = o.iters < 200 ? o.iters : 200;
    op_def d = {"agg_scan", scan_floor(), op_agg_scan, &b, 1, it, 3};
    run_op(&o, &d);
    (void)run_agg(&b, &b.agg_scan, &scan_digest);
    op_result *r = &results[n_results - 1];
    snprintf(r->note, sizeof r->note, "same spec, force_scan; %" PRIu64 " records visited; %u threads; %s",
             b.agg_scanned, b.agg_threads,
             covered_digest == 0 ? "not compared"
             : covered_digest == scan_digest ? "same result as rollup" : "DIFFERS from rollup");
    print_result(r);
    if (covered_digest && covered_digest != scan_digest) r->errors++;
  }
  if (op_enabled(&o, "agg_in_force")) {
    size_t it = o.iters < 200 ? o.iters : 200;
    op_def d = {"agg_in_force", scan_floor(), op_agg_in_force, &b, 1, it, 3};
    run_op(&o, &d);
    op_result *r = &results[n_results - 1];
    snprintf(r->note, sizeof r->note, "count + in_force by province, all years; %s; %" PRIu64 " visited; %u threads",
             b.agg_from_rollup ? "from rollup" : "scan", b.agg_scanned, b.agg_threads);
    print_result(r);
    uint64_t dg;
    (void)run_agg(&b, &b.agg_in_force, &dg);
    inforce_rows = b.agg_rows;
    inforce_count = b.agg_total;
    inforce_total = b.agg_total2;
    /* the same scan in one thread: the split's gain, and the same answer */
    b.agg_in_force_1t = b.agg_in_force;
    b.agg_in_force_1t.threads = 1;
    op_def d1 = {"agg_in_force_1t", "agg_in_force", op_agg_in_force_1t, &b, 1, it, 3};
    run_op(&o, &d1);
    r = &results[n_results - 1];
    uint64_t dg1;
    (void)run_agg(&b, &b.agg_in_force_1t, &dg1);
    snprintf(r->note, sizeof r->note, "agg_in_force's spec in one thread (%u); %s", b.agg_threads,
             dg1 == dg ? "same result as agg_in_force" : "DIFFERS from agg_in_force");
    print_result(r);
    if (dg1 != dg) r->errors++;
  }

  /* ---- scorecards (issue 18): one body, a province ranked. ---- */
  int want_sc = op_enabled(&o, "scorecard_one") || op_enabled(&o, "scorecard_province") || o.scorecard_json ||
                (!o.no_sqlite && op_enabled(&o, "sqlite_scorecard_province"));
  uint64_t sc_digest = 0;
  uint32_t sc_n = 0;
  if (want_sc && scorecard_setup(&b, year)) {
    printf("# scorecards: no government body (11… code of the rubric's kinds) in the store: skipped\n");
    want_sc = 0;
    if (o.scorecard_json) cxb_die("--scorecard-json: no body to rank");
  }
  if (want_sc) {
    printf("# scorecards: %zu bodies of the rubric's kinds; province %02u (%s): %u bodies; year %d, analyst\n",
           b.n_bodies, b.province, o.province ? "--province" : "the most bodies", b.province_bodies, year);
    cx_scorecard *v;
    if ((rc = cx_query_scorecards(b.q, b.t, &b.rubric, &b.sreq, b.province, 0, 0, 0, &v, &sc_n)) != 0)
      cxb_die("scorecards: %s", cx_strerror(rc));
    sc_digest = ranking_digest(v, sc_n);
    free(v);
  }
  if (want_sc && op_enabled(&o, "scorecard_one")) {
    size_t pool = b.n_bodies < 10000 ? b.n_bodies : 10000;
    op_def d = {"scorecard_one", NULL, op_scorecard_one, &b, pool, o.iters, 1000};
    run_op(&o, &d);
    snprintf(results[n_results - 1].note, sizeof results[0].note,
             "cx_query_scorecard, analyst, %d; a pool of %zu of the %zu bodies (11…, the rubric's kinds)", year,
             pool, b.n_bodies);
    print_result(&results[n_results - 1]);
  }
  if (want_sc && op_enabled(&o, "scorecard_province")) {
    size_t it = o.iters < 200 ? o.iters : 200;
    op_def d = {"scorecard_province", NULL, op_scorecard_province, &b, 1, it, 5};
    run_op(&o, &d);
    snprintf(results[n_results - 1].note, sizeof results[0].note,
             "cx_query_scorecards, province %02u, analyst, %d: %u bodies ranked", b.province, year, sc_n);
    print_result(&results[n_results - 1]);
  }
  if (o.scorecard_json) scorecard_json_write(&b, o.scorecard_json, year);

  /* ---- phase 3: SQLite on the same rows. ---- */
  cxb_sqlite_load_stats ls;
  memset(&ls, 0, sizeof ls);
  if (!o.no_sqlite && (op_enabled(&o, "sqlite_check") || op_enabled(&o, "sqlite_scorecard_province"))) {
    char tmp[256];
    const char *path = o.sqlite_path;
    if (!path) {
      snprintf(tmp, sizeof tmp, "/tmp/cx_bench_sqlite_%d.db", (int)getpid());
      path = tmp;
    }
    cxb_sqlite_opts sqo = {o.sqlite_path && o.sqlite_reuse, o.db, info.records};
    if (cxb_sqlite_load(path, &sqo, b.q, b.t, &b.sq, &ls) != 0) cxb_die("sqlite load failed");
    printf("%-14s rows=%" PRIu64 " measures=%" PRIu64 " seconds=%.2f rows_s=%.0f file_bytes=%" PRIu64
           " # %s\n",
           "sqlite_load", ls.rows, ls.measure_rows, ls.seconds, (double)ls.rows / ls.seconds, ls.file_bytes,
           ls.reused ? "a kept SQLite copy of the same store reopened (--sqlite-reuse): no load"
                     : "SQLite import of the same records (indexes built after the load)");
  }
  if (b.sq && want_sc && op_enabled(&o, "sqlite_scorecard_province")) {
    /* untimed: the ranking must be chengxin's, body by body */
    cx_scorecard *cv, *sv;
    uint32_t cn, sn;
    if ((rc = cx_query_scorecards(b.q, b.t, &b.rubric, &b.sreq, b.province, 0, 0, 0, &cv, &cn)) != 0)
      cxb_die("scorecards: %s", cx_strerror(rc));
    if (cxb_sqlite_scorecards(b.sq, &b.rubric, &b.sreq, b.province, &sv, &sn)) cxb_die("sqlite scorecards failed");
    uint64_t diff = cxb_scorecards_diff(cv, cn, sv, sn, 1);
    free(cv);
    free(sv);
    size_t it = o.iters < 200 ? o.iters : 200;
    op_def d = {"sqlite_scorecard_province", "scorecard_province", op_sqlite_scorecard_province, &b, 1, it, 3};
    run_op(&o, &d);
    op_result *r = &results[n_results - 1];
    uint64_t dg = 0;
    (void)op_sqlite_scorecard_province(&b, 0, &dg);
    if (dg != sc_digest) diff++;
    snprintf(r->note, sizeof r->note,
             "indicators in SQL (GROUP BY, covering indexes), scored in C, province %02u: %u bodies; %s", b.province,
             sn, diff ? "DIFFERS from chengxin" : "same ranking as chengxin");
    r->errors += diff;
    print_result(r);
  }
  if (b.sq && op_enabled(&o, "sqlite_check")) {
    /* agreement with chengxin's verdicts over the pool */
    uint64_t mismatch = 0;
    for (size_t k = 0; k < b.n_codes; k++) {
      cx_check_result res;
      int v;
      if (cx_query_check(b.q, b.t, (cx_str){code_at(&b, b.order[k]), 18}, b.action, b.as_of, &res,
                         hits, 64) != 0 ||
          cxb_sqlite_check(b.sq, code_at(&b, b.order[k]), b.action, b.as_of, &v) != 0 ||
          v != res.verdict) {
        if (mismatch++ < 5)
          fprintf(stderr, "bench: sqlite verdict differs for %.18s\n", code_at(&b, b.order[k]));
      }
    }
    size_t it = o.iters;
    op_def d = {"sqlite_check", "check", op_sqlite_check, &b, b.n_codes, it, 1000};
    run_op(&o, &d);
    op_result *r = &results[n_results - 1];
    snprintf(r->note, sizeof r->note, "records->measures->actions join, prepared; %" PRIu64
             " verdicts differ from check", mismatch);
    if (mismatch) r->errors += mismatch;
    print_result(r);
    if (op_enabled(&o, "sqlite_agg")) {
      size_t ait = o.iters < 200 ? o.iters : 200;
      op_def da = {"sqlite_agg", "agg_covered", op_sqlite_agg, &b, 1, ait, 3};
      run_op(&o, &da);
      op_result *ra = &results[n_results - 1];
      uint64_t rows = 0, total = 0;
      (void)cxb_sqlite_agg(b.sq, b.agg_from, b.agg_to, &rows, &total);
      int same = rows == covered_rows && total == covered_total;
      snprintf(ra->note, sizeof ra->note,
               "same spec in SQL, covering index on (decision_date, city, month, ...); %" PRIu64
               " rows, %" PRIu64 " records; %s",
               rows, total, covered_rows == 0 ? "not compared" : same ? "same as chengxin" : "DIFFERS from chengxin");
      if (covered_rows && !same) ra->errors++;
      print_result(ra);
    }
  }
  if (b.sq) {
    cxb_sqlite_close(b.sq);
    b.sq = NULL;
    if (!o.sqlite_path) {
      char tmp[256];
      snprintf(tmp, sizeof tmp, "/tmp/cx_bench_sqlite_%d.db", (int)getpid());
      unlink(tmp);
    }
  }

  /* ---- phase 4: the floor again, after the store is closed. The floor is measured before
   * and after everything else (the env cannot be open twice at once) and the ratios use the
   * lower of the two medians: a noisy window can only make the floor look slower, so the lower
   * one is the conservative baseline. ---- */
  cx_store_txn_end(b.t);
  cx_query_free(b.q);
  cx_store_close(b.st);
  b.t = NULL; b.q = NULL; b.st = NULL;
  op_result *floor1 = find_result("floor_mdb_get");
  if (floor1 && n_results < MAX_RESULTS) {
    if (cxb_lmdb_open(o.db, &b.raw) != 0) cxb_die("cannot reopen %s read-only", o.db);
    if (cxb_lmdb_begin(b.raw) != 0) cxb_die("raw txn");
    op_def d = {"floor_mdb_get_end", NULL, op_floor, &b, b.n_codes, o.iters, 1000};
    run_op(&o, &d);
    cxb_lmdb_close(b.raw);
    b.raw = NULL;
    op_result *floor2 = &results[n_results - 1];
    floor1 = find_result("floor_mdb_get");
    uint64_t lo_med = floor2->st.median_ns < floor1->st.median_ns ? floor2->st.median_ns : floor1->st.median_ns;
    snprintf(floor2->note, sizeof floor2->note, "the floor again after every other op; ratios use the lower median (%" PRIu64 " ns)", lo_med);
    print_result(floor2);
    for (int i = 0; i < n_results; i++) {
      op_result *r = &results[i];
      if (strcmp(r->baseline, "floor_mdb_get") == 0 && lo_med) {
        r->ratio = (double)r->st.median_ns / (double)lo_med;
        printf("%-17s ratio=%.2f(vs the lower floor median)\n", r->name, r->ratio);
      }
    }
  }

  /* ---- JSON ---- */
  int failed = 0;
  if (o.json) {
    cxb_json j = {0};
    cxb_json_obj_begin(&j, NULL);
    cxb_json_str(&j, "bench", "query");
    cxb_json_str(&j, "label", o.label);
    cxb_json_str(&j, "db", o.db);
    cxb_json_int(&j, "seed", (long long)o.seed);
    cxb_json_int(&j, "records", (long long)info.records);
    cxb_json_int(&j, "entities", (long long)info.entities);
    cxb_json_int(&j, "map_used", (long long)info.map_used);
    cxb_json_int(&j, "live_bytes", (long long)live_bytes);
    cxb_json_int(&j, "high_water_bytes", (long long)hw_bytes);
    cxb_json_num(&j, "live_bytes_per_record", info.records ? (double)live_bytes / (double)info.records : 0);
    cxb_json_int(&j, "pool_known", (long long)b.n_known);
    cxb_json_int(&j, "pool_unknown", (long long)n_unknown);
    cxb_json_str(&j, "as_of", as_of_buf);
    cxb_json_int(&j, "agg_year", year);
    cxb_json_str(&j, "action", o.action);
    cxb_json_int(&j, "timer_overhead_ns", (long long)timer_overhead_ns);
    cxb_json_obj_begin(&j, "agg");
    cxb_json_int(&j, "year", year);
    cxb_json_int(&j, "from_day", (long long)y0);
    cxb_json_int(&j, "to_day", (long long)y1);
    cxb_json_int(&j, "as_of_day", (long long)b.as_of);
    cxb_json_int(&j, "covered_rows", (long long)covered_rows);
    cxb_json_int(&j, "covered_total", (long long)covered_total);
    cxb_json_int(&j, "in_force_rows", (long long)inforce_rows);
    cxb_json_int(&j, "in_force_count", (long long)inforce_count);
    cxb_json_int(&j, "in_force_total", (long long)inforce_total);
    cxb_json_obj_end(&j);
    if (want_sc) {
      cxb_json_obj_begin(&j, "scorecard");
      cxb_json_int(&j, "year", year);
      cxb_json_int(&j, "from_day", (long long)b.sreq.from);
      cxb_json_int(&j, "to_day", (long long)b.sreq.to);
      cxb_json_str(&j, "role", "analyst");
      cxb_json_int(&j, "bodies", (long long)b.n_bodies);
      cxb_json_int(&j, "province", (long long)b.province);
      cxb_json_int(&j, "province_bodies", (long long)sc_n);
      cxb_json_obj_end(&j);
    }
    if (ls.rows) {
      cxb_json_obj_begin(&j, "sqlite_load");
      cxb_json_int(&j, "rows", (long long)ls.rows);
      cxb_json_int(&j, "measure_rows", (long long)ls.measure_rows);
      cxb_json_num(&j, "seconds", ls.seconds);
      if (ls.reused) cxb_json_null(&j, "rows_per_s"); /* nothing loaded: seconds is the reopen */
      else cxb_json_num(&j, "rows_per_s", (double)ls.rows / ls.seconds);
      cxb_json_int(&j, "reused", ls.reused);
      cxb_json_int(&j, "file_bytes", (long long)ls.file_bytes);
      cxb_json_obj_end(&j);
    }
    cxb_json_arr_begin(&j, "ops");
    for (int i = 0; i < n_results; i++) {
      op_result *r = &results[i];
      cxb_json_obj_begin(&j, NULL);
      cxb_json_str(&j, "op", r->name);
      cxb_json_int(&j, "n", (long long)r->st.n);
      cxb_json_int(&j, "median_ns", (long long)r->st.median_ns);
      cxb_json_num(&j, "mean_ns", r->st.mean_ns);
      cxb_json_int(&j, "p90_ns", (long long)r->st.p90_ns);
      cxb_json_int(&j, "p99_ns", (long long)r->st.p99_ns);
      cxb_json_int(&j, "p999_ns", (long long)r->st.p999_ns);
      cxb_json_int(&j, "max_ns", (long long)r->st.max_ns);
      cxb_json_num(&j, "ops_per_s", r->ops_s);
      if (r->allocs_per_op < 0) cxb_json_null(&j, "allocs_per_op");
      else cxb_json_num(&j, "allocs_per_op", r->allocs_per_op);
      cxb_json_int(&j, "peak_rss_kb", r->rss_kb);
      if (r->baseline[0]) {
        cxb_json_str(&j, "baseline", r->baseline);
        cxb_json_num(&j, "ratio", r->ratio);
      }
      cxb_json_int(&j, "errors", (long long)r->errors);
      cxb_json_str(&j, "note", r->note);
      cxb_json_obj_end(&j);
    }
    cxb_json_arr_end(&j);
    cxb_json_obj_end(&j);
    if (cxb_json_write(&j, o.json) != 0) cxb_die("cannot write %s", o.json);
    cxb_json_free(&j);
  }
  for (int i = 0; i < n_results; i++)
    if (results[i].errors) {
      fprintf(stderr, "bench: %s: %zu wrong results\n", results[i].name, results[i].errors);
      failed = 1;
    }

  free(b.codes);
  free(b.order);
  free(b.prefixes);
  free(b.bodies);
  free(b.plain);
  free(samples);
  return failed;
}
