/* test_search.c — cx_query_search: name prefixes (CJK, ASCII), code prefixes, roles, limits. */
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
