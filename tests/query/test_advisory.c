/* test_advisory.c — approval hints of cx_query_check: 失信信息 that no measure covers, flagged
 * advisory, within their display window, never changing the verdict (catalogue `advisory`). */
#include "qtest.h"

static qt_env E;
static char ENT[19], ENT2[19], AUTH[19];

static void setup(void) {
  qt_open(&E);
  qt_ent(1, 350102, ENT);
  qt_ent(2, 350103, ENT2);
  qt_auth(1, AUTH);
  /* the test catalogue with approval hints: the serious tier, fines from 10万元 */
  char cat[sizeof qt_catalog + 128];
  snprintf(cat, sizeof cat, "%sadvisory\ttier\tserious\nadvisory\tfine\t100000\n", qt_catalog);
  int bad = 0;
  cr_assert_eq(cx_store_data_put(E.st, "catalog", cat, strlen(cat), &bad), 0, "line %d", bad);
  cr_assert_eq(cx_query_reload(E.q), 0);
}
static void teardown(void) { qt_close(&E); }

TestSuite(advisory, .init = setup, .fini = teardown);

static cx_check_result run(const char *code, const char *action, const char *day, cx_check_hit *hits,
                           uint32_t cap) {
  cx_check_result res;
  int a = cx_query_action(E.q, cx_str_c(action));
  cr_assert_geq(a, 0);
  cr_assert_eq(cx_query_check(E.q, qt_txn(&E), cx_str_c(code), a, qt_day(day), &res, hits, cap), 0);
  return res;
}

static void put_penalty(const char *code, const char *rid, const char *day, int64_t fen, uint8_t sev,
                        const char *list) {
  cx_record r = qt_rec(code, "福州某某建设有限公司", CX_KIND_ENTERPRISE, AUTH, rid, CX_CAT_PENALTY,
                       qt_day(day));
  r.amount_fen = fen;
  r.severity = sev;
  if (list) r.list_type = cx_str_c(list);
  qt_put1(&E, &r);
}

Test(advisory, a_large_fine_is_shown_beside_a_clear_verdict) {
  put_penalty(ENT, "闽榕市监罚〔2024〕1号", "2024-03-01", 20000000, CX_SEV_GENERAL, NULL); /* 20万元 */
  put_penalty(ENT, "闽榕市监罚〔2024〕2号", "2024-03-02", 500000, CX_SEV_GENERAL, NULL);   /* 5千元 */
  cx_check_hit hits[8];
  cx_check_result res = run(ENT, "procurement", "2024-06-01", hits, 8);
  cr_assert_eq(res.verdict, CX_V_CLEAR, "an advisory hit never changes the verdict");
  cr_assert_eq(res.n_advisory, 1);
  cr_assert_eq(res.n_hits, 1);
  cr_assert(hits[0].advisory == CX_ADV_FINE);
  cr_assert(cx_str_eq(hits[0].record_id, cx_str_c("闽榕市监罚〔2024〕1号")));
  cr_assert(cx_str_eq(hits[0].authority_code, cx_str_c(AUTH)));
  cr_assert_eq(hits[0].severity, CX_SEV_GENERAL);
  cr_assert_eq(hits[0].valid_from, qt_day("2024-03-01"));
  cr_assert_eq(hits[0].valid_until, qt_day("2025-03-01"), "general tier: shown 12 months");
  /* past the display window: no hint */
  res = run(ENT, "procurement", "2025-03-01", hits, 8);
  cr_assert_eq(res.n_advisory, 0);
  cr_assert_eq(res.n_hits, 0);
}

Test(advisory, a_serious_penalty_is_shown_for_three_years) {
  put_penalty(ENT, "R-serious", "2024-01-15", 0, CX_SEV_SERIOUS, NULL);
  cx_check_hit hits[4];
  cx_check_result res = run(ENT, "honour", "2026-12-31", hits, 4);
  cr_assert_eq(res.verdict, CX_V_CLEAR);
  cr_assert_eq(res.n_hits, 1);
  cr_assert_eq(hits[0].advisory, CX_ADV_TIER);
  cr_assert_eq(hits[0].valid_until, qt_day("2027-01-15"));
  cr_assert_eq(run(ENT, "honour", "2027-01-15", hits, 4).n_hits, 0);
  cr_assert_eq(run(ENT, "honour", "2024-01-14", hits, 4).n_hits, 0, "before the decision");
}

Test(advisory, a_record_whose_measures_restrict_the_action_is_a_hit_not_a_hint) {
  /* A serious blacklist entry: denies procurement (a hit), says nothing of honours (a hint). */
  cx_record r = qt_rec(ENT, "福州某某建设有限公司", CX_KIND_ENTERPRISE, AUTH, "(2024)闽01执1号",
                       CX_CAT_BLACKLIST, qt_day("2024-01-05"));
  r.list_type = CX_STR("court_dishonest");
  r.severity = CX_SEV_SERIOUS;
  qt_put1(&E, &r);
  cx_check_hit hits[8];
  cx_check_result res = run(ENT, "procurement", "2024-06-01", hits, 8);
  cr_assert_eq(res.verdict, CX_V_DENY);
  cr_assert_eq(res.n_advisory, 0);
  for (uint32_t i = 0; i < res.n_hits; i++) cr_assert_eq(hits[i].advisory, 0);
  res = run(ENT, "honour", "2024-06-01", hits, 8);
  cr_assert_eq(res.verdict, CX_V_CLEAR);
  cr_assert_eq(res.n_advisory, 1);
  cr_assert_eq(hits[0].advisory, CX_ADV_TIER);
}

Test(advisory, restrictions_come_first_then_hints_then_incentives) {
  put_penalty(ENT, "R-fine", "2024-05-01", 10000000, CX_SEV_GENERAL, NULL);
  cx_record r = qt_rec(ENT, "福州某某建设有限公司", CX_KIND_ENTERPRISE, AUTH, "W1", CX_CAT_GOV_DISHONESTY,
                       qt_day("2024-04-01"));
  r.list_type = CX_STR("gov_watch"); /* review_procurement */
  qt_put1(&E, &r);
  cx_record g = qt_rec(ENT, "福州某某建设有限公司", CX_KIND_ENTERPRISE, AUTH, "A1", CX_CAT_REDLIST,
                       qt_day("2024-02-01"));
  g.list_type = CX_STR("model_taxpayer"); /* fast_track for procurement */
  qt_put1(&E, &g);
  cx_check_hit hits[8];
  cx_check_result res = run(ENT, "procurement", "2024-06-01", hits, 8);
  cr_assert_eq(res.verdict, CX_V_REVIEW);
  cr_assert_eq(res.n_hits, 3);
  cr_assert_eq(hits[0].advisory, 0);
  cr_assert_str_eq(hits[0].measure, "review_procurement");
  cr_assert_eq(hits[1].advisory, CX_ADV_FINE);
  cr_assert_eq(hits[2].advisory, 0);
  cr_assert_eq(hits[2].effect, CX_EFFECT_INCENTIVE);
}

Test(advisory, repaired_minor_and_positive_records_give_no_hint) {
  put_penalty(ENT, "R-minor", "2024-05-01", 20000000, CX_SEV_MINOR, NULL); /* tier not published */
  cx_record lic = qt_rec(ENT2, "某公司", CX_KIND_ENTERPRISE, AUTH, "L1", CX_CAT_LICENSE, qt_day("2024-05-01"));
  lic.severity = CX_SEV_SERIOUS;
  lic.amount_fen = 50000000;
  qt_put1(&E, &lic);
  cx_check_hit hits[4];
  cr_assert_eq(run(ENT, "procurement", "2024-06-01", hits, 4).n_hits, 0);
  cr_assert_eq(run(ENT2, "procurement", "2024-06-01", hits, 4).n_hits, 0, "a licence is not 失信信息");
  put_penalty(ENT2, "R-big", "2024-05-01", 20000000, CX_SEV_GENERAL, NULL);
  cr_assert_eq(run(ENT2, "procurement", "2024-06-01", hits, 4).n_advisory, 1);
}

Test(advisory, a_catalogue_without_advisory_lines_gives_none) {
  put_penalty(ENT, "R-serious", "2024-01-15", 20000000, CX_SEV_SERIOUS, NULL);
  int bad = 0;
  cr_assert_eq(cx_store_data_put(E.st, "catalog", qt_catalog, strlen(qt_catalog), &bad), 0);
  cr_assert_eq(cx_query_reload(E.q), 0);
  cx_check_hit hits[4];
  cr_assert_eq(run(ENT, "procurement", "2024-06-01", hits, 4).n_hits, 0,
               "the summaries were rebuilt with the catalogue");
}

Test(advisory, catalogue_lines_are_validated) {
  static const char *badl[] = {"advisory\ttier\tsevere\n", "advisory\tfine\t0\n", "advisory\tfine\tabc\n",
                               "advisory\tamount\t100\n", "advisory\ttier\n"};
  for (size_t i = 0; i < sizeof badl / sizeof *badl; i++) {
    cx_catalog *c = malloc(sizeof *c);
    int bad = 0;
    cr_assert_neq(cx_catalog_parse(badl[i], strlen(badl[i]), c, &bad), 0, "%s", badl[i]);
    cr_assert_eq(bad, 1);
    free(c);
  }
  cx_catalog *c = malloc(sizeof *c);
  const char *ok = "advisory\ttier\tgeneral,serious\nadvisory\tfine\t2000.50\n";
  int bad = 0;
  cr_assert_eq(cx_catalog_parse(ok, strlen(ok), c, &bad), 0);
  cr_assert_eq(c->advisory_tiers, (1u << CX_SEV_GENERAL) | (1u << CX_SEV_SERIOUS));
  cr_assert_eq(c->advisory_fine_fen, 200050);
  free(c);
}
