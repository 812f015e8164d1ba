/* test_catalog.c — the measure catalogue parser, lookups and the region-table check. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

static cx_catalog *cat;

static void setup(void) {
  cat = malloc(sizeof *cat);
  cr_assert_not_null(cat);
  int bad = -1;
  cr_assert_eq(cx_catalog_parse(cx_data_catalog, cx_data_catalog_len, cat, &bad), 0, "bad line %d", bad);
}
static void teardown(void) { free(cat); }

TestSuite(catalog, .init = setup, .fini = teardown);

static int A(const char *code) { return cx_catalog_action(cat, cx_str_c(code)); }
static int M(const char *code) { return cx_catalog_measure(cat, cx_str_c(code)); }
static int L(const char *code) { return cx_catalog_list(cat, cx_str_c(code)); }
static uint64_t bit(int i) {
  cr_assert_geq(i, 0);
  return 1ull << i;
}

Test(catalog, shipped_file_has_the_design_actions) {
  const char *actions[] = {"procurement", "bidding", "subsidy", "honour", "appointment",
                           "license",     "bond",    "land",    "tax_incentive"};
  for (size_t i = 0; i < sizeof actions / sizeof *actions; i++) cr_assert_geq(A(actions[i]), 0, "%s", actions[i]);
  cr_assert_eq(A("nope"), CX_ENOTFOUND);
  cr_assert_str_eq(cat->actions[A("procurement")].name, "政府采购");
  cr_assert_geq(cat->n_measures, 15u);
  cr_assert_geq(cat->n_lists, 15u);
}

Test(catalog, shipped_lists_and_measures) {
  int cd = L("court_dishonest");
  cr_assert_geq(cd, 0);
  cr_assert_eq(cat->lists[cd].category, CX_CAT_BLACKLIST);
  cr_assert_str_eq(cat->lists[cd].name, "失信被执行人");
  cr_assert(cat->lists[cd].defaults & bit(M("no_procurement")));
  cr_assert_eq(cat->lists[L("tax_major")].category, CX_CAT_BLACKLIST);
  cr_assert_eq(cat->lists[L("gov_dishonest")].category, CX_CAT_GOV_DISHONESTY);
  cr_assert_eq(cat->lists[L("tax_a")].category, CX_CAT_REDLIST);
  cr_assert_eq(cat->lists[L("credit_model")].category, CX_CAT_REDLIST);
  cr_assert_eq(cat->measures[M("fast_track")].effect, CX_EFFECT_INCENTIVE);
  /* Derived per-action masks. */
  cr_assert(cat->deny[A("procurement")] & bit(M("no_procurement")));
  cr_assert(cat->deny[A("bidding")] & bit(M("no_public_funds")));
  cr_assert(!(cat->deny[A("subsidy")] & bit(M("no_procurement"))));
  cr_assert(cat->review[A("subsidy")] & bit(M("review_subsidy")));
  cr_assert(cat->incentive[A("license")] & bit(M("fast_track")));
  cr_assert(cat->incentive[A("subsidy")] & bit(M("tolerance")));
  for (uint32_t a = 0; a < cat->n_actions; a++) {
    cr_assert_eq(cat->deny[a] & cat->review[a], 0);
    cr_assert_eq(cat->deny[a] & cat->incentive[a], 0);
  }
  /* Every red list gives incentives only; every blacklist denies something. */
  for (uint32_t l = 0; l < cat->n_lists; l++) {
    uint64_t d = cat->lists[l].defaults;
    cr_assert_neq(d, 0, "%s", cat->lists[l].code);
    for (uint32_t k = 0; k < cat->n_measures; k++) {
      if (!(d & (1ull << k))) continue;
      if (cat->lists[l].category == CX_CAT_REDLIST)
        cr_assert_eq(cat->measures[k].effect, CX_EFFECT_INCENTIVE, "%s", cat->lists[l].code);
      else
        cr_assert_neq(cat->measures[k].effect, CX_EFFECT_INCENTIVE, "%s", cat->lists[l].code);
    }
  }
}

Test(catalog, display_periods_are_months_and_person_rule) {
  cr_assert_eq(cat->display[CX_SEV_MINOR].publish, 0);
  cr_assert_eq(cat->display[CX_SEV_MINOR].max_months, 3u);
  cr_assert_eq(cat->display[CX_SEV_GENERAL].publish, 1);
  cr_assert_eq(cat->display[CX_SEV_GENERAL].min_months, 3u);
  cr_assert_eq(cat->display[CX_SEV_GENERAL].max_months, 12u);
  cr_assert_eq(cat->display[CX_SEV_SERIOUS].min_months, 12u);
  cr_assert_eq(cat->display[CX_SEV_SERIOUS].max_months, 36u);
  cr_assert_eq(cat->person_public, 1u << CX_CAT_BLACKLIST);
}

Test(catalog, negative_records_are_the_shipped_categories) {
  cr_assert(cx_catalog_is_negative(cat, CX_CAT_PENALTY, CX_SUB_NONE));
  cr_assert(cx_catalog_is_negative(cat, CX_CAT_BLACKLIST, CX_SUB_NONE));
  cr_assert(cx_catalog_is_negative(cat, CX_CAT_GOV_DISHONESTY, CX_SUB_JUDGMENT));
  cr_assert(cx_catalog_is_negative(cat, CX_CAT_COMMITMENT, CX_SUB_BROKEN));
  cr_assert_not(cx_catalog_is_negative(cat, CX_CAT_COMMITMENT, CX_SUB_KEPT));
  cr_assert(cx_catalog_is_negative(cat, CX_CAT_LAWSUIT, CX_SUB_LOST));
  cr_assert_not(cx_catalog_is_negative(cat, CX_CAT_LAWSUIT, CX_SUB_WON));
  cr_assert_not(cx_catalog_is_negative(cat, CX_CAT_LICENSE, CX_SUB_NONE));
  cr_assert_not(cx_catalog_is_negative(cat, CX_CAT_REDLIST, CX_SUB_NONE));
}

Test(catalog, every_shipped_measure_names_a_basis_and_an_edition) {
  int qd = cx_catalog_edition(cat, CX_STR("qd2024"));
  cr_assert_geq(qd, 0);
  cr_assert_str_eq(cat->editions[qd].title, "全国失信惩戒措施基础清单（2024年版）");
  for (uint32_t k = 0; k < cat->n_measures; k++) {
    cx_catalog_provenance pv;
    cr_assert_eq(cx_catalog_provenance_get(cat, (int)k, &pv), 0);
    cr_assert_neq(pv.basis[0], 0, "%s: no basis", cat->measures[k].code);
    cr_assert_neq(pv.edition_code[0], 0, "%s: no edition", cat->measures[k].code);
    cr_assert_neq(pv.edition_title[0], 0, "%s", cat->measures[k].code);
    cr_assert_lt(cat->measures[k].edition, cat->n_editions);
    /* punishments follow the 清单; incentives are in no national list */
    if (cat->measures[k].effect != CX_EFFECT_INCENTIVE)
      cr_assert_str_eq(pv.edition_code, "qd2024", "%s", cat->measures[k].code);
    else
      cr_assert_str_neq(pv.edition_code, "qd2024", "%s", cat->measures[k].code);
  }
  cx_catalog_provenance pv;
  cr_assert_eq(cx_catalog_provenance_get(cat, M("no_procurement"), &pv), 0);
  cr_assert_not_null(strstr(pv.basis, "政府采购法》第二十二条"));
  cr_assert_str_eq(pv.edition_doc, "", "the 2024 document number is not verified: \"-\"");
  cr_assert_eq(cx_catalog_provenance_get(cat, M("fast_track"), &pv), 0);
  cr_assert_str_eq(pv.edition_doc, "国发〔2016〕33号");
  cr_assert_eq(cx_catalog_provenance_get(cat, -1, &pv), CX_ENOTFOUND);
  cr_assert_eq(cx_catalog_provenance_get(cat, (int)cat->n_measures, &pv), CX_ENOTFOUND);
  cr_assert_eq(cx_catalog_edition(cat, CX_STR("nope")), CX_ENOTFOUND);
}

Test(catalog, the_new_kinds_of_the_directory_follow_the_shipped_rules) {
  /* 经营异常名录: 失信信息 in every subtype; its list types restrict by review only */
  cr_assert(cx_catalog_is_negative(cat, CX_CAT_ABNORMAL, CX_SUB_NONE));
  int ab = L("abnormal_operation");
  cr_assert_geq(ab, 0);
  cr_assert_eq(cat->lists[ab].category, CX_CAT_ABNORMAL);
  cr_assert_geq(L("abnormal_status"), 0);
  cr_assert_geq(L("abnormal_activity"), 0);
  for (uint32_t k = 0; k < cat->n_measures; k++)
    if (cat->lists[ab].defaults >> k & 1) cr_assert_eq(cat->measures[k].effect, CX_EFFECT_REVIEW);
  /* 行政强制: enforcement of a decision not complied with is negative, a coercive measure not */
  cr_assert(cx_catalog_is_negative(cat, CX_CAT_COMPULSION, CX_SUB_ENFORCEMENT));
  cr_assert_not(cx_catalog_is_negative(cat, CX_CAT_COMPULSION, CX_SUB_COERCIVE_MEASURE));
  cr_assert_not(cx_catalog_is_negative(cat, CX_CAT_COMPULSION, CX_SUB_NONE));
  /* 行政检查: only an inspection that found a violation */
  cr_assert(cx_catalog_is_negative(cat, CX_CAT_INSPECTION, CX_SUB_VIOLATION));
  cr_assert_not(cx_catalog_is_negative(cat, CX_CAT_INSPECTION, CX_SUB_COMPLIANT));
  cr_assert_not(cx_catalog_is_negative(cat, CX_CAT_INSPECTION, CX_SUB_NONE));
  /* 行政确认: never */
  cr_assert_not(cx_catalog_is_negative(cat, CX_CAT_CONFIRMATION, CX_SUB_NONE));
  /* persons: still only serious-dishonesty list entries */
  cr_assert_eq(cat->person_public & (1u << CX_CAT_ABNORMAL), 0);
  /* the built-in defaults (a file without a negative line) say the same */
  static cx_catalog d;
  int bad = -1;
  cr_assert_eq(cx_catalog_parse("", 0, &d, &bad), 0);
  for (int c = 0; c < CX_CAT_COUNT; c++)
    cr_assert_eq(d.negative[c], cat->negative[c],
                 "%s", cx_category_names[c]);
  /* names and subtypes */
  cr_assert_eq(cx_enum_parse(cx_category_names, CX_CAT_COUNT, CX_STR("abnormal")), CX_CAT_ABNORMAL);
  cr_assert_eq(cx_enum_parse(cx_category_names, CX_CAT_COUNT, CX_STR("inspection")), CX_CAT_INSPECTION);
  cr_assert_eq(cx_enum_parse(cx_subtype_names, CX_SUB_COUNT, CX_STR("violation")), CX_SUB_VIOLATION);
  cr_assert(cx_subtype_valid(CX_CAT_INSPECTION, CX_SUB_COMPLIANT));
  cr_assert(cx_subtype_valid(CX_CAT_COMPULSION, CX_SUB_ENFORCEMENT));
  cr_assert_not(cx_subtype_valid(CX_CAT_INSPECTION, CX_SUB_ENFORCEMENT));
  cr_assert_not(cx_subtype_valid(CX_CAT_PENALTY, CX_SUB_VIOLATION));
  cr_assert_not(cx_subtype_valid(CX_CAT_ABNORMAL, CX_SUB_COMPLIANT));
  cr_assert_not(cx_subtype_valid(CX_CAT_CONFIRMATION, CX_SUB_KEPT));
}

static uint8_t tier_of(int category, const char *list, const char *content, int64_t fen) {
  cx_record r;
  cx_record_defaults(&r);
  r.category = (uint8_t)category;
  r.list_type = cx_str_c(list);
  r.content = cx_str_c(content);
  r.amount_fen = fen;
  return cx_catalog_tier(cat, &r);
}

Test(catalog, shipped_tier_rules_follow_the_2025_measures) {
  /* 轻微: 警告 or 通报批评 alone, simple procedure, small fines */
  cr_assert_eq(tier_of(CX_CAT_PENALTY, "", "警告", 0), CX_SEV_MINOR);
  cr_assert_eq(tier_of(CX_CAT_PENALTY, "", "通报批评", 0), CX_SEV_MINOR);
  cr_assert_eq(tier_of(CX_CAT_PENALTY, "", "简易程序 罚款", 20000), CX_SEV_MINOR);
  cr_assert_eq(tier_of(CX_CAT_PENALTY, "", "罚款", 50000), CX_SEV_MINOR); /* 500 元 */
  /* 一般: 暂扣, 降低资质等级, 没收, ordinary fines; a warning with a confiscation is general */
  cr_assert_eq(tier_of(CX_CAT_PENALTY, "", "警告;没收违法所得", 0), CX_SEV_GENERAL);
  cr_assert_eq(tier_of(CX_CAT_PENALTY, "", "暂扣许可证件", 0), CX_SEV_GENERAL);
  cr_assert_eq(tier_of(CX_CAT_PENALTY, "", "罚款", 500000), CX_SEV_GENERAL); /* 5,000 元 */
  cr_assert_eq(tier_of(CX_CAT_PENALTY, "", "其他", 0), CX_SEV_GENERAL);     /* nothing matched */
  /* 严重: 吊销, 责令停产停业 ..., very large fines, every serious-dishonesty list entry */
  cr_assert_eq(tier_of(CX_CAT_PENALTY, "", "警告;吊销营业执照", 0), CX_SEV_SERIOUS);
  cr_assert_eq(tier_of(CX_CAT_PENALTY, "", "责令停产停业", 0), CX_SEV_SERIOUS);
  cr_assert_eq(tier_of(CX_CAT_PENALTY, "", "罚款", 100000000), CX_SEV_SERIOUS); /* 1,000,000 元 */
  cr_assert_eq(tier_of(CX_CAT_BLACKLIST, "court_dishonest", "", 0), CX_SEV_SERIOUS);
  /* every serious-dishonesty list entry, whatever its content or amount says */
  cr_assert_eq(tier_of(CX_CAT_BLACKLIST, "court_dishonest", "警告", 50000), CX_SEV_SERIOUS);
  cr_assert_eq(tier_of(CX_CAT_BLACKLIST, "wage_arrears", "没收", 0), CX_SEV_SERIOUS);
  /* an abnormal-operation entry is general (published), listed or not, whatever it says */
  cr_assert_eq(tier_of(CX_CAT_ABNORMAL, "abnormal_operation", "警告", 0), CX_SEV_GENERAL);
  cr_assert_eq(tier_of(CX_CAT_ABNORMAL, "", "未按规定期限公示年度报告", 0), CX_SEV_GENERAL);
}

Test(catalog, display_end_and_repair_day_count_calendar_months) {
  cx_day d, end, from;
  cr_assert_eq(cx_day_parse(CX_STR("2024-01-31"), &d), 0);
  cr_assert_eq(cx_catalog_display_end(cat, CX_SEV_GENERAL, d, CX_DAY_OPEN, &end), 1);
  char buf[11];
  cx_day_format(end, buf);
  cr_assert_str_eq(buf, "2025-01-31");
  from = cx_catalog_repair_from(cat, CX_SEV_GENERAL, d);
  cx_day_format(from, buf);
  cr_assert_str_eq(buf, "2024-04-30"); /* 3 months, clamped to the month's last day */
  cr_assert_eq(cx_catalog_display_end(cat, CX_SEV_SERIOUS, d, d + 10, &end), 1);
  cr_assert_eq(end, d + 10, "the source's own end wins when earlier");
  cr_assert_eq(cx_catalog_display_end(cat, CX_SEV_MINOR, d, CX_DAY_OPEN, &end), 0);
}

Test(catalog, measures_resolve_codes_and_defaults) {
  uint64_t m = 99;
  cx_str bad = {0};
  int cd = L("court_dishonest");
  cr_assert_eq(cx_catalog_measures(cat, cd, CX_STR(" no_bidding , no_land,"), &m, &bad), 0);
  cr_assert_eq(m, bit(M("no_bidding")) | bit(M("no_land")));
  cr_assert_eq(cx_catalog_measures(cat, cd, CX_STR(""), &m, &bad), 0);
  cr_assert_eq(m, cat->lists[cd].defaults);
  cr_assert_eq(cx_catalog_measures(cat, cd, CX_STR("  "), &m, &bad), 0);
  cr_assert_eq(m, cat->lists[cd].defaults);
  cr_assert_eq(cx_catalog_measures(cat, -1, CX_STR(""), &m, &bad), 0);
  cr_assert_eq(m, 0);
  m = 42;
  cr_assert_eq(cx_catalog_measures(cat, cd, CX_STR("no_bidding,nope ,no_land"), &m, &bad), CX_ENOTFOUND);
  cr_assert_eq(m, 42);
  cr_assert(cx_str_eq(bad, CX_STR("nope")));
}

/* ---- bad files ---- */

static char *big;
static int parse(const char *text, int *bad) {
  static cx_catalog c;
  *bad = -1;
  return cx_catalog_parse(text, strlen(text), &c, bad);
}

#define HEAD "# test\naction\tprocurement\t政府采购\naction\tlicense\t行政许可\n"

Test(catalog_parse, minimal_file_and_any_order) {
  static cx_catalog c;
  const char *t = "list\tl1\tblacklist\t名单\tm1\n"
                  "measure\tm1\tdeny\tprocurement\t限制\n" HEAD "display\tminor\t1\t1\t2\n"
                  "person_public\tblacklist, gov_dishonesty\n";
  int bad = -1;
  cr_assert_eq(cx_catalog_parse(t, strlen(t), &c, &bad), 0, "line %d", bad);
  cr_assert_eq(c.n_actions, 2u);
  cr_assert_eq(c.lists[0].defaults, 1u);
  cr_assert_eq(c.deny[0], 1u);
  cr_assert_eq(c.deny[1], 0u);
  cr_assert_eq(c.display[CX_SEV_MINOR].publish, 1);
  cr_assert_eq(c.display[CX_SEV_SERIOUS].max_months, 36u); /* default kept */
  cr_assert_eq(c.person_public, (1u << CX_CAT_BLACKLIST) | (1u << CX_CAT_GOV_DISHONESTY));
  const char *t2 = HEAD "person_public\tnone\n";
  cr_assert_eq(cx_catalog_parse(t2, strlen(t2), &c, &bad), 0);
  cr_assert_eq(c.person_public, 0u);
}

#define ED "edition\tqd\t全国失信惩戒措施基础清单（2024年版）\t发改财金规〔2024〕0号\n"

Test(catalog_parse, measure_provenance_with_an_item_and_an_edition_declared_later) {
  static cx_catalog c;
  const char *t = HEAD "measure\tm1\tdeny\tprocurement\t限制\t《政府采购法》第二十二条\tqd: 一.3 \n"
                       "measure\tm2\treview\tlicense\t审慎\t国办发〔2019〕35号\tqd\n"
                       "edition\tnone_doc\t某省清单\t-\n" ED;
  int bad = -1;
  cr_assert_eq(cx_catalog_parse(t, strlen(t), &c, &bad), 0, "line %d", bad);
  cr_assert_eq(c.n_editions, 2u);
  cx_catalog_provenance pv;
  cr_assert_eq(cx_catalog_provenance_get(&c, 0, &pv), 0);
  cr_assert_str_eq(pv.basis, "《政府采购法》第二十二条");
  cr_assert_str_eq(pv.edition_code, "qd");
  cr_assert_str_eq(pv.edition_title, "全国失信惩戒措施基础清单（2024年版）");
  cr_assert_str_eq(pv.edition_doc, "发改财金规〔2024〕0号");
  cr_assert_str_eq(pv.item, "一.3", "the item is trimmed");
  cr_assert_eq(cx_catalog_provenance_get(&c, 1, &pv), 0);
  cr_assert_str_eq(pv.item, "");
  cr_assert_str_eq(c.editions[cx_catalog_edition(&c, CX_STR("none_doc"))].doc, "", "\"-\" is no number");
}

Test(catalog_parse, an_older_format_measure_line_loads_without_provenance) {
  static cx_catalog c;
  const char *t = HEAD "measure\tm1\tdeny\tprocurement\t限制\n";
  int bad = -1;
  cr_assert_eq(cx_catalog_parse(t, strlen(t), &c, &bad), 0, "line %d", bad);
  cr_assert_eq(c.measures[0].edition, CX_EDITION_NONE);
  cx_catalog_provenance pv;
  cr_assert_eq(cx_catalog_provenance_get(&c, 0, &pv), 0);
  cr_assert_str_eq(pv.basis, "");
  cr_assert_str_eq(pv.edition_code, "");
  cr_assert_str_eq(pv.edition_title, "");
  cr_assert_str_eq(pv.item, "");
  cr_assert_eq(c.deny[0], 1u);
}

Test(catalog_parse, bad_provenance_lines_are_reported) {
  int bad;
  char longb[CX_BASIS_MAX + 64];
  memset(longb, 'x', CX_BASIS_MAX);
  longb[CX_BASIS_MAX] = 0;
  static char t[2048];
  struct { const char *text; int line; } cases[] = {
      {HEAD ED "measure\tm1\tdeny\tlicense\t限制\t《法》\n", 5},          /* basis, no edition */
      {HEAD ED "measure\tm1\tdeny\tlicense\t限制\t《法》\tnope\n", 5},    /* unknown edition */
      {HEAD "measure\tm1\tdeny\tlicense\t限制\t《法》\tqd\n", 4},         /* none declared */
      {HEAD ED "measure\tm1\tdeny\tlicense\t限制\t《法》\tqd:\n", 5},     /* empty item */
      {HEAD ED "measure\tm1\tdeny\tlicense\t限制\t《法》\t:1\n", 5},      /* no code */
      {HEAD ED "measure\tm1\tdeny\tlicense\t限制\t《法》\tqd:123456789012345678901234\n", 5},
      {HEAD ED "measure\tm1\tdeny\tlicense\t限制\t《法》\tqd\tx\n", 5},  /* 8 fields */
      {HEAD ED "measure\tm1\tdeny\tlicense\t限制\t\xff\tqd\n", 5},       /* not UTF-8 */
      {HEAD ED ED, 5},                                                           /* duplicate */
      {HEAD "edition\tqd\t清单\n", 4},                                        /* no number */
      {HEAD "edition\tq d\t清单\t-\n", 4},                                   /* bad code */
      {HEAD "edition\tqd\t\xc2\x85\t-\n", 4},                               /* C1 in title */
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    cr_assert_eq(parse(cases[i].text, &bad), CX_EBADREQ, "case %zu", i);
    cr_assert_eq(bad, cases[i].line, "case %zu: line %d", i, bad);
  }
  snprintf(t, sizeof t, HEAD ED "measure\tm1\tdeny\tlicense\t限制\t%s\tqd\n", longb);
  cr_assert_eq(parse(t, &bad), CX_EBADREQ, "a basis of CX_BASIS_MAX bytes does not fit");
  cr_assert_eq(bad, 5);
  longb[CX_BASIS_MAX - 1] = 0;
  snprintf(t, sizeof t, HEAD ED "measure\tm1\tdeny\tlicense\t限制\t%s\tqd\n", longb);
  cr_assert_eq(parse(t, &bad), 0, "line %d", bad);
  /* at most CX_MAX_EDITIONS */
  size_t o = 0;
  for (int i = 0; i <= CX_MAX_EDITIONS; i++) o += (size_t)snprintf(t + o, sizeof t - o, "edition\te%d\tx\t-\n", i);
  cr_assert_eq(parse(t, &bad), CX_EBADREQ);
  cr_assert_eq(bad, CX_MAX_EDITIONS + 1);
}

Test(catalog_parse, bad_lines_are_reported) {
  int bad;
  struct { const char *text; int line; } cases[] = {
      {HEAD "measure\tm1\tdeny\tnope\t限制\n", 4},               /* unknown action */
      {HEAD "measure\tm1\tpunish\tlicense\t限制\n", 4},          /* unknown effect */
      {HEAD "measure\tm1\tdeny\tlicense\n", 4},                  /* missing name */
      {HEAD "list\tl1\tgreylist\t名单\t\n", 4},                  /* unknown category */
      {HEAD "list\tl1\tblacklist\t名单\tnope\n", 4},             /* unknown measure */
      {HEAD "action\tprocurement\t重复\n", 4},                   /* duplicate action */
      {HEAD "measure\tm\tdeny\tlicense\tx\nmeasure\tm\treview\tlicense\ty\n", 5}, /* duplicate */
      {HEAD "list\tl\tredlist\tx\nlist\tl\tredlist\ty\n", 5},    /* duplicate list */
      {HEAD "frobnicate\tx\n", 4},                               /* unknown keyword */
      {HEAD "display\tsevere\t1\t1\t2\n", 4},                    /* unknown severity */
      {HEAD "display\tminor\t2\t1\t2\n", 4},                     /* publish not 0/1 */
      {HEAD "display\tminor\t1\t30\t20\n", 4},                   /* min > max */
      {HEAD "display\tminor\t1\tx\t20\n", 4},
      {HEAD "display\tgeneral\t1\t90\t365\n", 4},               /* days, not months */
      {HEAD "negative\tpenalty,nope\n", 4},                       /* unknown category */
      {HEAD "negative\tcommitment:lost\n", 4},                    /* subtype of another category */
      {HEAD "tier\tserious\tkeyword\n", 4},                      /* no text */
      {HEAD "tier\tserious\tlists\tnope\n", 4},                  /* unknown category */
      {HEAD "tier\tserious\tlist\tnope\n", 4},                   /* unknown list */
      {HEAD "tier\tbad\tkeyword\tx\n", 4},                       /* unknown tier */
      {HEAD "tier\tminor\tfine\t10\t5\n", 4},                    /* empty range */
      {HEAD "tier\tminor\tfine\t0\t10\ntier\tgeneral\tfine\t5\t-\n", 5}, /* overlap */
      {HEAD "tier\tminor\tkeyword\t警告\ntier\tgeneral\tkeyword\t警告\n", 5}, /* twice */
      {HEAD "person_public\tblacklist,nope\n", 4},
      {HEAD "person_public\t,\n", 4},
      {"action\tbad code\tx\n", 1},                              /* space in code */
      {"action\tx\t\n", 1},                                      /* empty name */
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    cr_assert_eq(parse(cases[i].text, &bad), CX_EBADREQ, "case %zu", i);
    cr_assert_eq(bad, cases[i].line, "case %zu: line %d", i, bad);
  }
}

Test(catalog_parse, limits) {
  big = malloc(64 * 1024);
  int bad;
  size_t o = 0;
  for (int i = 0; i < CX_MAX_ACTIONS; i++) o += (size_t)sprintf(big + o, "action\ta%d\tx\n", i);
  cr_assert_eq(parse(big, &bad), 0);
  sprintf(big + o, "action\tone_more\tx\n");
  cr_assert_eq(parse(big, &bad), CX_EBADREQ);
  cr_assert_eq(bad, CX_MAX_ACTIONS + 1);
  o = (size_t)sprintf(big, "action\ta\tx\n");
  for (int i = 0; i < CX_MAX_MEASURES; i++) o += (size_t)sprintf(big + o, "measure\tm%d\tdeny\ta\tx\n", i);
  cr_assert_eq(parse(big, &bad), 0);
  sprintf(big + o, "measure\tone_more\tdeny\ta\tx\n");
  cr_assert_eq(parse(big, &bad), CX_EBADREQ);
  cr_assert_eq(bad, CX_MAX_MEASURES + 2);
  o = (size_t)sprintf(big, "action\ta\tx\n");
  for (int i = 0; i <= CX_MAX_LISTS; i++) o += (size_t)sprintf(big + o, "list\tl%d\tblacklist\tx\n", i);
  cr_assert_eq(parse(big, &bad), CX_EBADREQ);
  cr_assert_eq(bad, CX_MAX_LISTS + 2);
  /* A code of CX_CODE_NAME_MAX bytes does not fit. */
  o = (size_t)sprintf(big, "action\t");
  memset(big + o, 'a', CX_CODE_NAME_MAX);
  sprintf(big + o + CX_CODE_NAME_MAX, "\tx\n");
  cr_assert_eq(parse(big, &bad), CX_EBADREQ);
  free(big);
}

/* ---- regions ---- */

Test(regions, shipped_table_is_valid_and_real) {
  int bad = -1;
  cr_assert_eq(cx_regions_validate(cx_data_regions, cx_data_regions_len, &bad), 0, "line %d", bad);
  cr_assert_lt(cx_data_regions_len, 200u * 1024);
  cr_assert_not_null(strstr(cx_data_regions, "\n350100\t福州市\n"));
  cr_assert_not_null(strstr(cx_data_regions, "\n110105\t朝阳区\n"));
  cr_assert_not_null(strstr(cx_data_regions, "\n650000\t新疆维吾尔自治区\n"));
}

static int rv(const char *t, int *bad) {
  *bad = -1;
  return cx_regions_validate(t, strlen(t), bad);
}

Test(regions, bad_lines) {
  int bad;
  cr_assert_eq(rv("# c\n\n110000\t北京市\r\n110100\t市辖区\n", &bad), 0);
  cr_assert_eq(rv("110000\t北京市\n11000\t北京\n", &bad), CX_EBADREQ);
  cr_assert_eq(bad, 2);
  cr_assert_eq(rv("110000 北京市\n", &bad), CX_EBADREQ);
  cr_assert_eq(bad, 1);
  cr_assert_eq(rv("110000\t\n", &bad), CX_EBADREQ);
  cr_assert_eq(rv("1100a0\tx\n", &bad), CX_EBADREQ);
  cr_assert_eq(rv("1100000\tx\n", &bad), CX_EBADREQ);
  cr_assert_eq(rv("110000\tx\ty\n", &bad), CX_EBADREQ);
  cr_assert_eq(rv("x\n110000\t\xff\n", &bad), CX_EBADREQ);
  cr_assert_eq(bad, 1);
  cr_assert_eq(rv("110000\t\xff\n", &bad), CX_EBADREQ);
  cr_assert_eq(bad, 1);
}

Test(regions, a_name_with_a_surrogate_overlong_or_delete_character_is_a_bad_line) {
  int bad;
  cr_assert_eq(rv("110000\t北京市\n110100\t\xed\xa0\x80\n", &bad), CX_EBADREQ, "surrogate");
  cr_assert_eq(bad, 2);
  cr_assert_eq(rv("110000\t\xe0\x80\x80\n", &bad), CX_EBADREQ, "overlong");
  cr_assert_eq(rv("110000\tx\x7f\n", &bad), CX_EBADREQ, "DEL");
  cr_assert_eq(rv("110000\t\xc2\x9b" "2J\n", &bad), CX_EBADREQ, "C1 CSI");
}

Test(catalog_parse, a_name_with_an_overlong_form_or_a_control_character_is_a_bad_line) {
  int bad;
  const char *cases[] = {
      HEAD "measure\tm1\tdeny\tlicense\t限\xe0\x80\xaf制\n", /* overlong '/' */
      HEAD "measure\tm1\tdeny\tlicense\t\xed\xbf\xbf\n",      /* surrogate */
      HEAD "list\tl1\tblacklist\t名单\x7f\n",                   /* DEL */
      HEAD "tier\tserious\tkeyword\t\xc2\x85\n",                /* C1 NEL */
      HEAD "# \xc0\xaf comment\n",                              /* comments are stored too */
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    cr_assert_eq(parse(cases[i], &bad), CX_EBADREQ, "case %zu accepted", i);
    cr_assert_eq(bad, 4, "case %zu: line %d", i, bad);
  }
}

/* ---- robustness: mutated files never crash and name a line inside the file ---- */

static int lines_in(const char *t, size_t n) {
  int l = 1;
  for (size_t i = 0; i + 1 < n; i++) l += t[i] == '\n';
  return l;
}

Test(catalog_parse, mutated_files_fail_cleanly) {
  size_t n = cx_data_catalog_len;
  char *t = malloc(n);
  cx_catalog *c = malloc(sizeof *c);
  uint32_t s = 99;
  static const char junk[] = "\t\n,#x \xff\xe4";
  for (int iter = 0; iter < 500; iter++) {
    memcpy(t, cx_data_catalog, n);
    for (int k = 0; k < 1 + iter % 5; k++) {
      s = s * 1103515245u + 12345u;
      size_t at = (s >> 8) % n;
      s = s * 1103515245u + 12345u;
      t[at] = junk[(s >> 8) % (sizeof junk - 1)];
    }
    s = s * 1103515245u + 12345u;
    size_t len = iter % 3 ? n : (s >> 8) % n; /* sometimes truncated too */
    int bad = -1, rc = cx_catalog_parse(t, len, c, &bad);
    cr_assert(rc == 0 || rc == CX_EBADREQ);
    if (rc) cr_assert(bad >= 1 && bad <= lines_in(t, len), "bad %d", bad);
    bad = -1;
    rc = cx_regions_validate(t, len, &bad);
    cr_assert(rc == 0 || (rc == CX_EBADREQ && bad >= 1));
  }
  free(c);
  free(t);
}

Test(catalog, shipped_file_names_every_record_enum_in_chinese) {
  for (int k = 0; k < CX_LABEL_KINDS; k++) {
    int n;
    const char *const *tab = cx_label_table(k, &n);
    for (int v = k == CX_LABEL_SUBTYPE ? 1 : 0; v < n; v++)
      cr_assert_neq(cx_catalog_label(cat, k, (unsigned)v)[0], 0, "%s %s has no label", cx_label_kind_names[k], tab[v]);
  }
  cr_assert_str_eq(cx_catalog_label(cat, CX_LABEL_CATEGORY, CX_CAT_PENALTY), "行政处罚");
  cr_assert_str_eq(cx_catalog_label(cat, CX_LABEL_STATUS, CX_ST_REPAIRED), "已信用修复");
  cr_assert_str_eq(cx_catalog_label(cat, CX_LABEL_SUBTYPE, CX_SUB_NONE), "");
  cr_assert_str_eq(cx_catalog_label(cat, CX_LABEL_KIND, 99), "");
}

/* What an operator reads when a line of their file is wrong: the reason, not only the line. */
Test(catalog, a_bad_line_says_what_is_wrong_with_it) {
  static const struct {
    const char *text, *why;
  } cases[] = {
      {"action\tfoo\n", "action: expected action<TAB>CODE<TAB>NAME (3 fields, not 2)"},
      {"label\tcolour\tpenalty\t罚\n", "label: unknown kind \"colour\""},
      {"label\tcategory\tfine\t罚\n", "label: \"fine\" is not a category code"},
      {"label\tcategory\tpenalty\t罚\nlabel\tcategory\tpenalty\t罚\n", "label: category \"penalty\" is named twice"},
      {"list\tx\tpenalty\t名\tno_such\n", "list: unknown measure \"no_such\""},
      {"list\tx\tfines\t名\n", "list: unknown category \"fines\""},
      {"measure\tm\tdeny\tbuy\t名\n", "measure: unknown action \"buy\""},
      {"display\tminor\t1\t0\t400\n", "display: a period above 120 months"},
      {"frobnicate\tx\n", "unknown keyword \"frobnicate\""},
  };
  cx_catalog *c = malloc(sizeof *c);
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char why[256];
    int bad = 0;
    cr_assert_eq(cx_catalog_parse_why(cases[i].text, strlen(cases[i].text), c, &bad, why, sizeof why), CX_EBADREQ,
                 "%s", cases[i].text);
    cr_assert_geq(bad, 1);
    cr_assert(strstr(why, cases[i].why), "%s: got \"%s\"", cases[i].text, why);
  }
  free(c);
}
