/* test_grams.c — the keyword index (grams DB): bigrams of names, kept in the batch txn. */
#include "fixture.h"

static char dir[256];
static cx_store *st;
static char A1[19];
static void setup(void) {
  cx_test_tmpdir(dir, sizeof dir);
  st = fx_open(dir, 0);
  fx_auth(1, A1);
}
static void teardown(void) {
  cx_store_close(st);
  cx_test_rmrf(dir);
}
TestSuite(grams, .init = setup, .fini = teardown);

static void put_one(const char *code, const char *name, const char *rid, cx_day d) {
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  cx_record r;
  fx_record(&r, code, name, A1, rid, d);
  fx_put(b, &r);
  cx_batch_result res;
  cr_assert_eq(cx_batch_commit(b, &res), 0, "%s", res.error);
}

static uint64_t count(const char *gram) {
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  uint64_t n = 99;
  cr_assert_eq(cx_store_gram_count(t, cx_str_c(gram), &n), 0);
  cx_store_txn_end(t);
  return n;
}

typedef struct ids { uint32_t n, v[64]; } ids;
static int collect(void *ctx, uint32_t eid) {
  ids *s = ctx;
  if (s->n < 64) s->v[s->n++] = eid;
  return 0;
}
/* Entities whose name holds every bigram of the normalised query q. */
static ids find(const char *q) {
  char norm[256];
  size_t nn = cx_name_normalize(q, strlen(q), norm, sizeof norm);
  cx_str g[CX_GRAMS_AND_MAX];
  size_t ng = cx_name_grams(norm, nn, g, CX_GRAMS_AND_MAX);
  ids out = {0, {0}};
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cx_gram_walk w;
  cr_assert_eq(cx_store_grams_each(t, g, (uint32_t)ng, 0, 1000, &w, collect, &out), 0);
  cr_assert(w.done);
  cx_store_txn_end(t);
  return out;
}

static int cmp_u32(const void *a, const void *b) {
  uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
  return (x > y) - (x < y);
}

static uint32_t eid_of(const char *code) {
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cx_summary s;
  cr_assert_eq(cx_store_summary_get(t, code, &s), 0);
  uint32_t id = s.entity_id;
  cx_store_txn_end(t);
  return id;
}

Test(grams, bigrams_of_a_name_are_distinct_and_sorted) {
  const char *n = "闽江闽江ab";
  cx_str g[16];
  size_t k = cx_name_grams(n, strlen(n), g, 16);
  /* 闽江 江闽 闽江(again) 江a ab: four distinct */
  cr_assert_eq(k, 4);
  for (size_t i = 1; i < k; i++) {
    uint32_t m = g[i - 1].n < g[i].n ? g[i - 1].n : g[i].n;
    int c = memcmp(g[i - 1].p, g[i].p, m);
    cr_assert(c < 0 || (c == 0 && g[i - 1].n < g[i].n));
  }
  cr_assert_eq(cx_name_grams("甲", 3, g, 16), 0);
  cr_assert_eq(cx_name_grams("", 0, g, 16), 0);
}

Test(grams, insert_lists_the_entity_under_each_bigram) {
  char c[19];
  fx_uscc(1, c);
  put_one(c, "福州闽江建设有限公司", "R1", fx_day(2024, 1, 10));
  cr_assert_eq(count("闽江"), 1);
  cr_assert_eq(count("建设"), 1);
  cr_assert_eq(count("公司"), 1);
  cr_assert_eq(count("福建"), 0);
  ids f = find("闽江建设");
  cr_assert_eq(f.n, 1);
  cr_assert_eq(f.v[0], eid_of(c));
  /* a second record with the same name changes nothing */
  put_one(c, "福州闽江建设有限公司", "R2", fx_day(2024, 2, 10));
  cr_assert_eq(count("闽江"), 1);
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0);
}

Test(grams, latin_and_digits_are_bigrams_too_after_normalisation) {
  char c[19];
  fx_uscc(2, c);
  put_one(c, "ＡＢＣ Tech（福州）Co", "R1", fx_day(2024, 1, 10)); /* -> "abctech福州co" */
  cr_assert_eq(count("ec"), 1);
  cr_assert_eq(count("h福"), 1);
  cr_assert_eq(count("AB"), 0); /* grams are normalised: queries must be too */
  cr_assert_eq(find("CTE").n, 1);
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0);
}

Test(grams, a_newer_record_renaming_the_entity_moves_its_bigrams) {
  char c[19], d[19];
  fx_uscc(3, c);
  fx_uscc(4, d);
  put_one(c, "闽江建设有限公司", "R1", fx_day(2024, 1, 10));
  put_one(d, "闽江物流有限公司", "R2", fx_day(2024, 1, 10));
  cr_assert_eq(count("闽江"), 2);
  put_one(c, "榕城建设有限公司", "R3", fx_day(2024, 6, 1)); /* newer: the new identity */
  cr_assert_eq(count("闽江"), 1);
  cr_assert_eq(count("榕城"), 1);
  cr_assert_eq(count("建设"), 1);
  cr_assert_eq(count("公司"), 2);
  cr_assert_eq(find("闽江建设").n, 0);
  cr_assert_eq(find("榕城建设").n, 1);
  /* an older record does not rename */
  put_one(c, "旧名字公司", "R4", fx_day(2020, 1, 1));
  cr_assert_eq(count("旧名"), 0);
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0);
}

Test(grams, an_aborted_batch_leaves_no_bigram) {
  char c[19];
  fx_uscc(5, c);
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  cx_record r;
  fx_record(&r, c, "闽江建设有限公司", A1, "R1", fx_day(2024, 1, 10));
  fx_put(b, &r);
  cx_batch_abort(b);
  cr_assert_eq(count("闽江"), 0);
  /* a commit that fails half-way leaves none either */
  char c2[19];
  fx_uscc(7, c2);
  cx_record r2;
  fx_record(&r2, c2, "闽江物流有限公司", A1, "R2", fx_day(2024, 1, 10));
  cx_store_debug_fail_after(st, 1);
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  fx_put(b, &r);
  fx_put(b, &r2);
  cx_batch_result res;
  cr_assert_neq(cx_batch_commit(b, &res), 0);
  cx_store_debug_fail_after(st, 0);
  cr_assert_eq(count("闽江"), 0);
  cr_assert_eq(count("公司"), 0);
}

typedef struct vmsg { int grams; } vmsg;
static void on_diff(void *ctx, const char *what) {
  if (strstr(what, "grams")) ((vmsg *)ctx)->grams++;
}

Test(grams, verify_reports_a_missing_bigram) {
  char c[19];
  fx_uscc(6, c);
  put_one(c, "闽江建设有限公司", "R1", fx_day(2024, 1, 10));
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0);
  cr_assert_eq(cx_store_debug_del_gram(st, CX_STR("建设"), eid_of(c)), 0);
  vmsg m = {0};
  long n = cx_store_verify(st, on_diff, &m);
  cr_assert_geq(n, 1);
  cr_assert_geq(m.grams, 1);
}

Test(grams, walks_resume_after_an_id_and_stop_at_the_budget) {
  for (unsigned i = 0; i < 30; i++) {
    char c[19], rid[16];
    fx_uscc(100 + i, c);
    snprintf(rid, sizeof rid, "R%u", i);
    put_one(c, i % 2 ? "甲乙丙公司" : "甲乙公司", rid, fx_day(2024, 1, 10));
  }
  cx_str g[2] = {CX_STR("乙丙"), CX_STR("甲乙")};
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  ids all = {0, {0}};
  cx_gram_walk w;
  cr_assert_eq(cx_store_grams_each(t, g, 2, 0, 1000, &w, collect, &all), 0);
  cr_assert_eq(all.n, 15);
  cr_assert(w.done);
  /* budget 4: four entries read, then resume after the last one: the same ids, in order */
  ids paged = {0, {0}};
  uint32_t after = 0;
  for (int calls = 0; calls < 10; calls++) {
    cr_assert_eq(cx_store_grams_each(t, g, 2, after, 4, &w, collect, &paged), 0);
    cr_assert_leq(w.visited, 4);
    after = w.last;
    if (w.done) break;
  }
  cr_assert(w.done);
  cr_assert_eq(paged.n, all.n);
  cr_assert_eq(memcmp(paged.v, all.v, all.n * sizeof all.v[0]), 0);
  cx_store_txn_end(t);
}

/* ------------------------------------------------------------------ long lists, property */

typedef struct big_ids { uint32_t n, v[4096]; int stop_at; } big_ids;
static int collect_big(void *ctx, uint32_t eid) {
  big_ids *s = ctx;
  cr_assert_lt(s->n, 4096u);
  s->v[s->n++] = eid;
  return s->stop_at && s->n % (uint32_t)s->stop_at == 0; /* fn stops the walk now and then */
}

/* Lists of thousands of ids span many LMDB pages (a page holds ~1,000 ids): the page-at-a-time
 * intersection, its windows and its resumes must agree with a plain scan of the names, for
 * any budget and any stop by fn. Names of 4-9 characters over a 3-character alphabet make
 * every bigram's list long and the intersections varied. */
Test(grams, long_lists_intersect_like_a_scan_of_the_names, .timeout = 120) {
  enum { N = 6000 };
  static const char *alpha[3] = {"甲", "乙", "丙"};
  static char names[N][40];
  static uint32_t eids[N];
  uint64_t seed = 12345;
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  for (unsigned i = 0; i < N; i++) {
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    unsigned len = 4 + (unsigned)(seed >> 60) % 6;
    names[i][0] = 0;
    for (unsigned k = 0; k < len; k++) {
      seed = seed * 6364136223846793005ull + 1442695040888963407ull;
      strcat(names[i], alpha[(seed >> 33) % 3]);
    }
    char c[19], rid[16];
    fx_uscc(1000 + i, c);
    snprintf(rid, sizeof rid, "R%u", i);
    cx_record r;
    fx_record(&r, c, names[i], A1, rid, fx_day(2024, 1, 10));
    fx_put(b, &r);
  }
  cx_batch_result res;
  cr_assert_eq(cx_batch_commit(b, &res), 0, "%s", res.error);
  for (unsigned i = 0; i < N; i++) {
    char c[19];
    fx_uscc(1000 + i, c);
    eids[i] = eid_of(c);
  }
  /* several pages per list: the test is about them */
  cr_assert_gt(count("甲乙"), 2000);
  uint64_t total = 0;
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  for (int qi = 0; qi < 60; qi++) {
    char q[40] = "";
    seed = seed * 6364136223846793005ull + 1442695040888963407ull;
    unsigned len = 2 + (unsigned)(seed >> 61) % 4; /* 2..5 characters */
    for (unsigned k = 0; k < len; k++) {
      seed = seed * 6364136223846793005ull + 1442695040888963407ull;
      strcat(q, alpha[(seed >> 33) % 3]);
    }
    cx_str g[CX_GRAMS_AND_MAX];
    size_t ng = cx_name_grams(q, strlen(q), g, CX_GRAMS_AND_MAX);
    /* the expected ids: every name holding each bigram (not necessarily the query), ascending */
    static big_ids want;
    want.n = 0;
    for (unsigned i = 0; i < N; i++) {
      int all = 1;
      for (size_t k = 0; k < ng && all; k++) {
        char gb[16];
        memcpy(gb, g[k].p, g[k].n);
        gb[g[k].n] = 0;
        all = strstr(names[i], gb) != NULL;
      }
      if (all) want.v[want.n++] = eids[i];
    }
    qsort(want.v, want.n, sizeof want.v[0], cmp_u32);
    /* the walk in pieces: budgets from 1 to the whole, fn stopping every few hits */
    static big_ids got;
    got.n = 0;
    got.stop_at = qi % 3 ? 0 : 7;
    uint32_t budget = qi % 4 == 0 ? 5000 : 1u + (uint32_t)(seed >> 40) % 1500;
    uint32_t after = 0;
    cx_gram_walk w;
    for (int calls = 0; calls < 20000; calls++) {
      cr_assert_eq(cx_store_grams_each(t, g, (uint32_t)ng, after, budget, &w, collect_big, &got), 0);
      cr_assert_leq(w.visited, budget);
      cr_assert_geq(w.last, after);
      after = w.last;
      if (w.done) break;
    }
    cr_assert(w.done, "query %s did not finish", q);
    cr_assert_eq(got.n, want.n, "query %s: %u ids, a scan finds %u", q, got.n, want.n);
    cr_assert_eq(memcmp(got.v, want.v, want.n * sizeof want.v[0]), 0, "query %s: other ids", q);
    total += want.n;
  }
  cx_store_txn_end(t);
  cr_assert_gt(total, 60 * 500, "the queries find thousands of ids (%llu)", (unsigned long long)total);
}
