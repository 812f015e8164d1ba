/* test_search.c — cx_query_search: name prefixes (CJK, ASCII), code prefixes, any part of a name,
 * ranking, cursor paging, the visit budget, roles, limits. */
#include "qtest.h"

static qt_env E;
static char ENT[19], ENT2[19], ENT3[19], ENT4[19], AUTH[19], PERSON[19], SHOP[19];

static void put(const char *code, const char *name, uint8_t kind, const char *rid, uint8_t cat) {
  cx_record r = qt_rec(code, name, kind, AUTH, rid, cat, qt_day("2024-01-05"));
  if (cat == CX_CAT_BLACKLIST) r.list_type = CX_STR("court_dishonest");
  qt_put1(&E, &r);
}

static void setup(void) {
  qt_open(&E);
  qt_ent(1, 350102, ENT);
  qt_ent(2, 350103, ENT2);
  qt_ent(3, 350203, ENT3);
  qt_ent(4, 350102, ENT4);
  qt_auth(1, AUTH);
  qt_idcard("35010219800101123", PERSON);
  qt_uscc("92350102MA0000001", SHOP);
  put(ENT, "福州某某建设有限公司", CX_KIND_ENTERPRISE, "R1", CX_CAT_PENALTY);
  put(ENT2, "福州某某贸易有限公司", CX_KIND_ENTERPRISE, "R2", CX_CAT_PENALTY);
  put(ENT3, "厦门ABC科技有限公司", CX_KIND_ENTERPRISE, "R3", CX_CAT_LICENSE);
  put(ENT4, "91350102测试商行", CX_KIND_ENTERPRISE, "R4", CX_CAT_LICENSE);
  put(PERSON, "福州张三", CX_KIND_PERSON, "R5", CX_CAT_BLACKLIST);
  put(SHOP, "福州李记小吃店", CX_KIND_INDIVIDUAL_BUSINESS, "R6", CX_CAT_PENALTY);
}
static void teardown(void) { qt_close(&E); }
TestSuite(search, .init = setup, .fini = teardown);

typedef struct hits {
  int n;
  char code[32][19];
  char name[32][96];
  uint8_t kind[32];
} hits;

static int collect(void *ctx, const cx_search_hit *hit) {
  hits *h = ctx;
  cx_str code = hit->code, name = hit->name;
  uint8_t kind = hit->kind;
  cr_assert_lt(h->n, 32);
  cr_assert_eq(code.n, 18);
  memcpy(h->code[h->n], code.p, 18);
  h->code[h->n][18] = 0;
  snprintf(h->name[h->n], sizeof h->name[0], "%.*s", (int)name.n, name.p);
  h->kind[h->n] = kind;
  h->n++;
  return 0;
}

static hits run(cx_role role, const char *prefix, uint32_t limit) {
  hits h;
  memset(&h, 0, sizeof h);
  int rc = cx_query_search(E.q, qt_txn(&E), role, cx_str_c(prefix), limit, collect, &h);
  cr_assert_eq(rc, 0, "search %s rc %d", prefix, rc);
  return h;
}

static int has(const hits *h, const char *code) {
  int n = 0;
  for (int i = 0; i < h->n; i++) n += strcmp(h->code[i], code) == 0;
  return n;
}

Test(search, by_cjk_name_prefix) {
  hits h = run(CX_ROLE_ADMIN, "福州某某", 10);
  cr_assert_eq(h.n, 2);
  cr_assert_eq(has(&h, ENT), 1);
  cr_assert_eq(has(&h, ENT2), 1);
  cr_assert_eq(h.kind[0], CX_KIND_ENTERPRISE);
  cr_assert(strcmp(h.name[0], "福州某某建设有限公司") == 0 || strcmp(h.name[0], "福州某某贸易有限公司") == 0,
            "display name, not the normalised one: %s", h.name[0]);
  h = run(CX_ROLE_ADMIN, "福州", 10);
  cr_assert_eq(h.n, 4, "two companies, a person and a shop");
  h = run(CX_ROLE_ADMIN, "上海", 10);
  cr_assert_eq(h.n, 0);
}

Test(search, by_ascii_prefix_any_case_and_spacing) {
  hits h = run(CX_ROLE_PUBLIC, "厦门abc", 10);
  cr_assert_eq(h.n, 1);
  cr_assert_str_eq(h.code[0], ENT3);
  cr_assert_str_eq(h.name[0], "厦门ABC科技有限公司");
  h = run(CX_ROLE_PUBLIC, " 厦门 A B", 10);
  cr_assert_eq(h.n, 1);
  h = run(CX_ROLE_PUBLIC, "厦门ＡＢＣ", 10); /* full-width */
  cr_assert_eq(h.n, 1);
}

Test(search, by_code_prefix_each_entity_once) {
  char pre[16];
  memcpy(pre, ENT, 7); /* "9135010" */
  pre[7] = 0;
  hits h = run(CX_ROLE_ANALYST, pre, 10);
  cr_assert_eq(has(&h, ENT), 1);
  cr_assert_eq(has(&h, ENT2), 1);
  cr_assert_eq(has(&h, ENT4), 1);
  cr_assert_eq(has(&h, ENT3), 0);
  /* lower case works too */
  char low[19];
  for (int i = 0; i < 19; i++) low[i] = (ENT[i] >= 'A' && ENT[i] <= 'Z') ? (char)(ENT[i] + 32) : ENT[i];
  h = run(CX_ROLE_ANALYST, low, 10);
  cr_assert_eq(h.n, 1);
  cr_assert_str_eq(h.code[0], ENT);
  /* ENT4's name starts with its code: found by name first, and only once. */
  h = run(CX_ROLE_ANALYST, "91350102", 10);
  cr_assert_eq(has(&h, ENT4), 1);
  cr_assert_eq(has(&h, ENT), 1);
  cr_assert_str_eq(h.code[0], ENT4, "name matches come first");
  for (int i = 0; i < h.n; i++)
    for (int j = i + 1; j < h.n; j++) cr_assert_str_neq(h.code[i], h.code[j]);
}

Test(search, limit) {
  hits h = run(CX_ROLE_ADMIN, "福州", 1);
  cr_assert_eq(h.n, 1);
  h = run(CX_ROLE_ADMIN, "9135", 2);
  cr_assert_eq(h.n, 2);
  h = run(CX_ROLE_ADMIN, "9135", 0);
  cr_assert_eq(h.n, 4, "0 = default");
  hits h2;
  cr_assert_eq(cx_query_search(E.q, qt_txn(&E), CX_ROLE_ADMIN, CX_STR("福州"), 101, collect, &h2),
               CX_EBADREQ);
  cr_assert_eq(cx_query_search(E.q, qt_txn(&E), CX_ROLE_ADMIN, CX_STR("  "), 10, collect, &h2),
               CX_EBADREQ);
}

Test(search, public_skips_persons_and_never_sees_id_numbers) {
  hits h = run(CX_ROLE_PUBLIC, "福州", 10);
  cr_assert_eq(has(&h, PERSON), 0);
  cr_assert_eq(h.n, 3, "two companies and the shop");
  cr_assert_eq(has(&h, SHOP), 1);
  /* by ID-number prefix: nothing for the public */
  h = run(CX_ROLE_PUBLIC, "350102198", 10);
  cr_assert_eq(h.n, 0);
  h = run(CX_ROLE_ADMIN, "350102198", 10);
  cr_assert_eq(h.n, 1);
  cr_assert_str_eq(h.code[0], PERSON, "authorised roles see the full number");
  h = run(CX_ROLE_ADMIN, "福州张", 10);
  cr_assert_eq(h.n, 1);
  cr_assert_str_eq(h.code[0], PERSON);
  cr_assert_eq(h.kind[0], CX_KIND_PERSON);
  h = run(CX_ROLE_PUBLIC, "福州张", 10);
  cr_assert_eq(h.n, 0);
}

/* ===================================================================== keyword search */

typedef struct page {
  int n;
  char code[128][19];
  char name[128][96];
  uint8_t match[128], kind[128];
  uint32_t flags[128], region[128];
  char county[128][32];
} page;

static int collect_page(void *ctx, const cx_search_hit *hit) {
  page *p = ctx;
  cr_assert_lt(p->n, 128);
  snprintf(p->code[p->n], 19, "%.*s", (int)hit->code.n, hit->code.p);
  snprintf(p->name[p->n], 96, "%.*s", (int)hit->name.n, hit->name.p);
  snprintf(p->county[p->n], 32, "%.*s", (int)hit->county.n, hit->county.p);
  p->match[p->n] = hit->match;
  p->kind[p->n] = hit->kind;
  p->flags[p->n] = hit->flags;
  p->region[p->n] = hit->region;
  p->n++;
  return 0;
}

/* One page of q after cursor (NULL: the first); the next cursor into next. */
static page page_of(cx_role role, const char *q, const char *cursor, uint32_t limit, uint32_t budget,
                    char next[CX_SEARCH_CURSOR_MAX]) {
  page p;
  memset(&p, 0, sizeof p);
  cx_search_req r = {cx_str_c(q), cx_str_c(cursor ? cursor : ""), limit, role, budget};
  int rc = cx_query_search_page(E.q, qt_txn(&E), &r, collect_page, &p, next);
  cr_assert_eq(rc, 0, "search %s: rc %d", q, rc);
  return p;
}

static void put_many(int from, int n, const char *fmt, uint8_t cat, const char *day) {
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(E.st, &b), 0);
  for (int i = 0; i < n; i++) {
    char code[19], name[192], rid[32];
    qt_ent(from + i, 350102, code);
    snprintf(name, sizeof name, fmt, i);
    snprintf(rid, sizeof rid, "M%d", from + i);
    cx_record r = qt_rec(code, name, CX_KIND_ENTERPRISE, AUTH, rid, cat, qt_day(day));
    const char *why = NULL;
    cr_assert_eq(cx_batch_put(b, &r, &why), 0, "%s", why ? why : "");
  }
  cr_assert_eq(cx_batch_commit(b, NULL), 0);
}

Test(search, any_part_of_a_name_finds_the_entity) {
  char c[19];
  qt_ent(50, 350102, c);
  put(c, "福州闽江建设有限公司", CX_KIND_ENTERPRISE, "K1", CX_CAT_LICENSE);
  char next[CX_SEARCH_CURSOR_MAX];
  static const char *const parts[] = {"闽江建设", "闽江", "建设有限", "有限公司", "江建", "州闽江建设有限公",
                                      "福州闽江建设有限公司", " 闽 江（建设）"};
  for (size_t i = 0; i < sizeof parts / sizeof parts[0]; i++) {
    page p = page_of(CX_ROLE_PUBLIC, parts[i], NULL, 100, 0, next);
    int found = 0;
    for (int k = 0; k < p.n; k++) found += strcmp(p.code[k], c) == 0;
    cr_assert_eq(found, 1, "\"%s\" finds it once (%d hits)", parts[i], p.n);
  }
  /* bigrams alone are not enough: every bigram of 闽建江设 is absent or out of order */
  page p = page_of(CX_ROLE_PUBLIC, "江建设闽", NULL, 100, 0, next);
  cr_assert_eq(p.n, 0);
  p = page_of(CX_ROLE_PUBLIC, "设有江建", NULL, 100, 0, next); /* every bigram but 有江 is there */
  cr_assert_eq(p.n, 0);
  /* the hit carries the region names and the match kind */
  p = page_of(CX_ROLE_PUBLIC, "闽江建设", NULL, 10, 0, next);
  cr_assert_eq(p.n, 1);
  cr_assert_eq(p.match[0], CX_MATCH_CONTAINS);
  cr_assert_eq(p.region[0], 350102);
  cr_assert_str_eq(p.county[0], "鼓楼区");
  cr_assert_str_eq(next, "", "one page only");
}

Test(search, ranks_exact_then_prefix_then_code_then_contains) {
  char a[19], b[19], d[19], e[19];
  qt_ent(61, 350102, a);
  qt_ent(62, 350102, b);
  qt_ent(63, 350102, d);
  qt_ent(64, 350102, e);
  put(d, "福州闽江建设", CX_KIND_ENTERPRISE, "K3", CX_CAT_LICENSE);      /* contains, first in */
  put(b, "闽江建设有限公司", CX_KIND_ENTERPRISE, "K2", CX_CAT_LICENSE);  /* prefix */
  put(a, "闽江建设", CX_KIND_ENTERPRISE, "K1", CX_CAT_LICENSE);          /* exact */
  put(e, "老闽江建设", CX_KIND_ENTERPRISE, "K4", CX_CAT_LICENSE);        /* contains, later */
  char next[CX_SEARCH_CURSOR_MAX];
  page p = page_of(CX_ROLE_PUBLIC, "闽江建设", NULL, 10, 0, next);
  cr_assert_eq(p.n, 4);
  cr_assert_str_eq(p.code[0], a);
  cr_assert_eq(p.match[0], CX_MATCH_EXACT);
  cr_assert_str_eq(p.code[1], b);
  cr_assert_eq(p.match[1], CX_MATCH_PREFIX);
  cr_assert_str_eq(p.code[2], d, "contains: in the order entities reached the store");
  cr_assert_str_eq(p.code[3], e);
  cr_assert_eq(p.match[2], CX_MATCH_CONTAINS);
  /* a code-like query: names first, then codes, then names holding it */
  char f[19];
  qt_ent(65, 350203, f); /* a code outside 350102 */
  put(f, "测试91350102商行", CX_KIND_ENTERPRISE, "K5", CX_CAT_LICENSE);
  p = page_of(CX_ROLE_ANALYST, "91350102", NULL, 100, 0, next);
  cr_assert_eq(p.match[0], CX_MATCH_PREFIX); /* ENT4 "91350102测试商行" */
  cr_assert_str_eq(p.code[0], ENT4);
  cr_assert_eq(p.match[1], CX_MATCH_CODE);
  cr_assert_eq(p.match[p.n - 1], CX_MATCH_CONTAINS);
  cr_assert_str_eq(p.code[p.n - 1], f);
  for (int i = 0; i < p.n; i++)
    for (int j = i + 1; j < p.n; j++) cr_assert_str_neq(p.code[i], p.code[j]);
  /* an entity whose code and name both match is listed once, by code */
  char g[19];
  qt_ent(66, 350102, g);
  put(g, "老91350102号", CX_KIND_ENTERPRISE, "K6", CX_CAT_LICENSE);
  p = page_of(CX_ROLE_ANALYST, "91350102", NULL, 100, 0, next);
  int seen = 0;
  for (int i = 0; i < p.n; i++)
    if (!strcmp(p.code[i], g)) {
      seen++;
      cr_assert_eq(p.match[i], CX_MATCH_CODE);
    }
  cr_assert_eq(seen, 1);
}

/* Pages of q until next is empty: every hit once, none missing, in the one-call order. */
static int all_pages(cx_role role, const char *q, uint32_t limit, uint32_t budget, page *all, int *calls) {
  char cur[CX_SEARCH_CURSOR_MAX] = "", next[CX_SEARCH_CURSOR_MAX];
  memset(all, 0, sizeof *all);
  *calls = 0;
  for (;;) {
    page p = page_of(role, q, cur[0] ? cur : NULL, limit, budget, next);
    (*calls)++;
    cr_assert_leq((uint32_t)p.n, limit);
    for (int i = 0; i < p.n; i++) {
      cr_assert_lt(all->n, 128);
      memcpy(all->code[all->n], p.code[i], 19);
      all->match[all->n++] = p.match[i];
    }
    if (!next[0]) break;
    cr_assert_lt(*calls, 2000, "paging never ends");
    memcpy(cur, next, sizeof cur);
  }
  return all->n;
}

Test(search, cursor_pages_past_100_without_duplicates_or_gaps) {
  put_many(1000, 90, "福州闽江%d号贸易公司", CX_CAT_LICENSE, "2024-01-05");  /* contains */
  put_many(2000, 30, "闽江%d号物流公司", CX_CAT_LICENSE, "2024-01-05");      /* prefix */
  put_many(3000, 2, "闽江", CX_CAT_LICENSE, "2024-01-05");                   /* exact (two) */
  char next[CX_SEARCH_CURSOR_MAX];
  page p = page_of(CX_ROLE_PUBLIC, "闽江", NULL, 100, 0, next);
  cr_assert_eq(p.n, 100);
  cr_assert_neq(next[0], 0, "more after 100");
  page all;
  int calls;
  cr_assert_eq(all_pages(CX_ROLE_PUBLIC, "闽江", 100, 0, &all, &calls), 122);
  cr_assert_eq(calls, 2);
  for (int lim = 1; lim <= 37; lim += 12) {
    page q;
    cr_assert_eq(all_pages(CX_ROLE_PUBLIC, "闽江", (uint32_t)lim, 0, &q, &calls), 122, "limit %d", lim);
    for (int i = 0; i < 122; i++) cr_assert_str_eq(q.code[i], all.code[i], "limit %d, hit %d", lim, i);
  }
  for (int i = 0; i < 122; i++) {
    cr_assert_eq(all.match[i], i < 2 ? CX_MATCH_EXACT : i < 32 ? CX_MATCH_PREFIX : CX_MATCH_CONTAINS);
    for (int j = i + 1; j < 122; j++) cr_assert_str_neq(all.code[i], all.code[j]);
  }
}

Test(search, a_call_visits_at_most_its_budget_and_paging_goes_on) {
  put_many(1000, 40, "福州闽江%d号贸易公司", CX_CAT_LICENSE, "2024-01-05");
  put_many(2000, 40, "厦门闽江%d号旧公司", CX_CAT_PENALTY, "2019-01-05"); /* hidden: past display */
  put_many(3000, 10, "闽江%d号物流公司", CX_CAT_LICENSE, "2024-01-05");
  page full, small;
  int calls, calls_small;
  cr_assert_eq(all_pages(CX_ROLE_PUBLIC, "闽江", 100, 0, &full, &calls), 50);
  cr_assert_eq(calls, 1);
  /* budget 7: pages end short (some empty, over the hidden run) but paging finds the same */
  cr_assert_eq(all_pages(CX_ROLE_PUBLIC, "闽江", 100, 7, &small, &calls_small), 50);
  cr_assert_geq(calls_small, 90 / 7);
  for (int i = 0; i < 50; i++) cr_assert_str_eq(small.code[i], full.code[i]);
  char next[CX_SEARCH_CURSOR_MAX];
  page p = page_of(CX_ROLE_PUBLIC, "闽江", NULL, 100, 7, next);
  cr_assert_leq(p.n, 7);
  cr_assert_neq(next[0], 0);
  /* others see the hidden ones too; budget 1 still moves on, code pages too */
  cr_assert_eq(all_pages(CX_ROLE_ANALYST, "闽江", 100, 5, &small, &calls), 90);
  cr_assert_eq(all_pages(CX_ROLE_ANALYST, "闽江", 100, 1, &small, &calls), 90);
  cr_assert_eq(all_pages(CX_ROLE_ANALYST, "9135", 100, 1, &full, &calls), 90 + 4);
}

Test(search, the_public_never_finds_a_person_or_an_entity_it_may_not_see) {
  char person[19], hidden[19], black[19];
  qt_idcard("35010219900101123", person);
  qt_ent(70, 350102, hidden);
  qt_ent(71, 350102, black);
  put(person, "福州闽江建设有限公司", CX_KIND_PERSON, "P1", CX_CAT_BLACKLIST); /* named like a company */
  cx_record r = qt_rec(hidden, "福州闽江建设有限公司", CX_KIND_ENTERPRISE, AUTH, "H1", CX_CAT_PENALTY,
                       qt_day("2019-03-01")); /* past its display period */
  qt_put1(&E, &r);
  put(black, "榕城闽江建设有限公司", CX_KIND_ENTERPRISE, "B1", CX_CAT_BLACKLIST);
  static const char *const qs[] = {"闽江建设", "福州闽江建设有限公司", "福州闽江", "江建", "建设有限公司"};
  for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
    page all;
    int calls;
    all_pages(CX_ROLE_PUBLIC, qs[i], 100, 0, &all, &calls);
    for (int k = 0; k < all.n; k++) {
      cr_assert(strncmp(all.code[k], person, 6) != 0 || strcmp(all.code[k] + 14, person + 14) != 0,
                "no person for the public (%s)", qs[i]);
      cr_assert_str_neq(all.code[k], hidden, "no hidden entity (%s)", qs[i]);
    }
  }
  char next[CX_SEARCH_CURSOR_MAX];
  page p = page_of(CX_ROLE_PUBLIC, "闽江建设", NULL, 100, 0, next);
  cr_assert_eq(p.n, 1);
  cr_assert_str_eq(p.code[0], black);
  cr_assert(p.flags[0] & CX_EF_BLACKLISTED, "flags as entity gives them");
  /* the analyst finds all three; the person's ID number masked */
  p = page_of(CX_ROLE_ANALYST, "闽江建设", NULL, 100, 0, next);
  cr_assert_eq(p.n, 3);
  int masked = 0;
  for (int k = 0; k < p.n; k++) masked += p.kind[k] == CX_KIND_PERSON && strchr(p.code[k], '*') != NULL;
  cr_assert_eq(masked, 1);
}

Test(search, a_tampered_or_foreign_cursor_is_refused) {
  put_many(1000, 30, "福州闽江%d号贸易公司", CX_CAT_LICENSE, "2024-01-05");
  char next[CX_SEARCH_CURSOR_MAX];
  page p = page_of(CX_ROLE_PUBLIC, "闽江", NULL, 10, 0, next);
  cr_assert_eq(p.n, 10);
  cr_assert_neq(next[0], 0);
  cr_assert_lt(strlen(next), (size_t)CX_SEARCH_CURSOR_MAX);
  page q;
  memset(&q, 0, sizeof q); /* collect_page appends at q.n */
  cx_search_req r = {CX_STR("闽江"), cx_str_c(next), 10, CX_ROLE_PUBLIC, 0};
  char out[CX_SEARCH_CURSOR_MAX];
  cr_assert_eq(cx_query_search_page(E.q, qt_txn(&E), &r, collect_page, &q, out), 0);
  for (size_t i = 0; i < strlen(next); i++) { /* each character changed: refused */
    char bad[CX_SEARCH_CURSOR_MAX];
    memcpy(bad, next, sizeof bad);
    bad[i] = bad[i] == '0' ? '1' : '0';
    r.cursor = cx_str_c(bad);
    memset(&q, 0, sizeof q);
    cr_assert_eq(cx_query_search_page(E.q, qt_txn(&E), &r, collect_page, &q, out), CX_EBADREQ, "at %zu", i);
    cr_assert_eq(q.n, 0);
  }
  r.cursor = cx_str_c(next);
  r.q = CX_STR("闽江贸易"); /* another query's cursor */
  cr_assert_eq(cx_query_search_page(E.q, qt_txn(&E), &r, collect_page, &q, out), CX_EBADREQ);
  r.q = CX_STR(" 闽 江 "); /* the same query once normalised: accepted */
  cr_assert_eq(cx_query_search_page(E.q, qt_txn(&E), &r, collect_page, &q, out), 0);
  static const char *const junk[] = {"", "zz", "0102", "not a cursor at all"};
  for (size_t i = 1; i < sizeof junk / sizeof junk[0]; i++) {
    r.cursor = cx_str_c(junk[i]);
    cr_assert_eq(cx_query_search_page(E.q, qt_txn(&E), &r, collect_page, &q, out), CX_EBADREQ, "%s", junk[i]);
  }
  char longc[600];
  memset(longc, 'a', sizeof longc - 1);
  longc[sizeof longc - 1] = 0;
  r.cursor = cx_str_c(longc);
  cr_assert_eq(cx_query_search_page(E.q, qt_txn(&E), &r, collect_page, &q, out), CX_EBADREQ);
}

Test(search, paging_through_long_names_sharing_a_long_prefix) {
  /* 64+ bytes after the query: the cursor keeps 64 and skips to the code when resuming */
  put_many(1000, 12, "闽江一二三四五六七八九十甲乙丙丁戊己庚辛壬癸子丑寅卯辰巳午%d号公司", CX_CAT_LICENSE,
           "2024-01-05");
  put_many(2000, 3, "闽江短%d", CX_CAT_LICENSE, "2024-01-05");
  page one, all;
  int calls;
  cr_assert_eq(all_pages(CX_ROLE_PUBLIC, "闽江", 100, 0, &all, &calls), 15);
  for (uint32_t lim = 1; lim <= 4; lim++) {
    cr_assert_eq(all_pages(CX_ROLE_PUBLIC, "闽江", lim, 0, &one, &calls), 15, "limit %u", lim);
    for (int i = 0; i < 15; i++) cr_assert_str_eq(one.code[i], all.code[i]);
  }
  cr_assert_eq(all_pages(CX_ROLE_PUBLIC, "闽江", 100, 2, &one, &calls), 15, "budget 2");
  for (int i = 0; i < 15; i++) cr_assert_str_eq(one.code[i], all.code[i]);
}
