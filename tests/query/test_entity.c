/* test_entity.c — cx_query_entity: identity, regions, counts, flags, roles, masking. */
#include "qtest.h"

static qt_env E;
static char ENT[19], AUTH[19], AUTH2[19], PERSON[19], SERVANT[19];

static void setup(void) {
  qt_open(&E);
  qt_ent(1, 350102, ENT);
  qt_auth(1, AUTH);
  qt_auth(2, AUTH2);
  qt_idcard("35010219800101123", PERSON);
  qt_idcard("11010519700202456", SERVANT);
}
static void teardown(void) { qt_close(&E); }
TestSuite(entity, .init = setup, .fini = teardown);

/* The public sees today only: a public lookup on a day makes that day today. */
static int get(const char *code, cx_role role, const char *day, cx_entity_status *st) {
  if (role == CX_ROLE_PUBLIC) cx_day_set_today(qt_day(day));
  return cx_query_entity(E.q, qt_txn(&E), role, cx_str_c(code), qt_day(day), st);
}

static void fill_enterprise(void) {
  cx_batch *b;
  const char *why = NULL;
  cr_assert_eq(cx_batch_begin(E.st, &b), 0);
  const char *name = "福州某某建设有限公司";
  cx_record r;
  /* penalty, general, visible to the public 2024-01-05 .. +365 */
  r = qt_rec(ENT, name, CX_KIND_ENTERPRISE, AUTH, "P1", CX_CAT_PENALTY, qt_day("2024-01-05"));
  r.valid_until = qt_day("2025-01-05");
  cr_assert_eq(cx_batch_put(b, &r, &why), 0, "%s", why);
  /* minor penalty: never public */
  r = qt_rec(ENT, name, CX_KIND_ENTERPRISE, AUTH, "P2", CX_CAT_PENALTY, qt_day("2024-02-05"));
  r.severity = CX_SEV_MINOR;
  r.valid_until = qt_day("2024-03-05");
  cr_assert_eq(cx_batch_put(b, &r, &why), 0, "%s", why);
  /* blacklist with objection, in force from 2024-03-01 */
  r = qt_rec(ENT, name, CX_KIND_ENTERPRISE, AUTH2, "B1", CX_CAT_BLACKLIST, qt_day("2024-03-01"));
  r.list_type = CX_STR("court_dishonest");
  r.severity = CX_SEV_SERIOUS;
  r.objection = 1;
  cr_assert_eq(cx_batch_put(b, &r, &why), 0, "%s", why);
  /* repaired penalty */
  r = qt_rec(ENT, name, CX_KIND_ENTERPRISE, AUTH, "P3", CX_CAT_PENALTY, qt_day("2024-03-10"));
  r.status = CX_ST_REPAIRED;
  cr_assert_eq(cx_batch_put(b, &r, &why), 0, "%s", why);
  /* licence */
  r = qt_rec(ENT, name, CX_KIND_ENTERPRISE, AUTH, "L1", CX_CAT_LICENSE, qt_day("2023-01-01"));
  cr_assert_eq(cx_batch_put(b, &r, &why), 0, "%s", why);
  cr_assert_eq(cx_batch_commit(b, NULL), 0);
}

Test(entity, identity_regions_counts_and_flags) {
  fill_enterprise();
  cx_entity_status st;
  cr_assert_eq(get(ENT, CX_ROLE_ANALYST, "2024-04-01", &st), 0);
  cr_assert(cx_str_eq(st.code, cx_str_c(ENT)));
  cr_assert(cx_str_eq(st.name, CX_STR("福州某某建设有限公司")));
  cr_assert_eq(st.kind, CX_KIND_ENTERPRISE);
  cr_assert_eq(st.region, 350102);
  cr_assert(cx_str_eq(st.province, CX_STR("福建省")));
  cr_assert(cx_str_eq(st.city, CX_STR("福州市")));
  cr_assert(cx_str_eq(st.county, CX_STR("鼓楼区")));
  cr_assert_eq(st.region_until, 0, "a current code");
  cr_assert_eq(st.authority_code.n, 0);
  cr_assert_eq(st.counts[CX_CAT_PENALTY].total, 3);
  cr_assert_eq(st.counts[CX_CAT_PENALTY].in_force, 1, "P1 only (P2 expired, P3 repaired)");
  cr_assert_eq(st.counts[CX_CAT_PENALTY].visible, 1, "visible: what the public sees (P1)");
  cr_assert_eq(st.counts[CX_CAT_BLACKLIST].total, 1);
  cr_assert_eq(st.counts[CX_CAT_BLACKLIST].in_force, 1);
  cr_assert_eq(st.counts[CX_CAT_LICENSE].total, 1);
  cr_assert_eq(st.counts[CX_CAT_REDLIST].total, 0);
  cr_assert_eq(st.flags, CX_EF_BLACKLISTED | CX_EF_UNDER_MEASURES | CX_EF_OBJECTION);
  cr_assert_gt(st.last_update, 0);

  cr_assert_eq(get(ENT, CX_ROLE_PUBLIC, "2024-04-01", &st), 0);
  cr_assert_eq(st.counts[CX_CAT_PENALTY].total, 1, "the public is told only of what it sees");
  cr_assert_eq(st.counts[CX_CAT_PENALTY].visible, 1, "minor and repaired are hidden");
  cr_assert_eq(st.counts[CX_CAT_BLACKLIST].visible, 1);
  cr_assert_eq(st.counts[CX_CAT_LICENSE].visible, 1, "a licence is public while valid");
  cr_assert_eq(st.last_update, qt_day("2024-03-01"), "the newest record it sees");
  cr_assert_eq(st.flags, CX_EF_BLACKLISTED | CX_EF_UNDER_MEASURES | CX_EF_OBJECTION);
  cr_assert_eq(get(ENT, CX_ROLE_PUBLIC, "2024-04-02", &st), 0);
  cr_assert_eq(cx_query_entity(E.q, qt_txn(&E), CX_ROLE_PUBLIC, cx_str_c(ENT), qt_day("2024-04-01"), &st),
               CX_EPUBLICDAY, "another day than today");

  /* Approval: the repaired P3 is no longer shared */
  cr_assert_eq(get(ENT, CX_ROLE_APPROVAL, "2024-04-01", &st), 0);
  cr_assert_eq(st.counts[CX_CAT_PENALTY].total, 2);

  /* Before the blacklist entry: no flags but the objection? No: the objection is on an active
   * record whatever the day. */
  cr_assert_eq(get(ENT, CX_ROLE_ADMIN, "2024-02-10", &st), 0);
  cr_assert_eq(st.flags, CX_EF_OBJECTION);
  cr_assert_eq(st.counts[CX_CAT_PENALTY].in_force, 2);
}

Test(entity, redlisted_flag_and_unknown_region) {
  char code[19];
  qt_ent(5, 659999, code); /* a province of no name here, a county of no name anywhere */
  cx_record r = qt_rec(code, "某模范企业", CX_KIND_ENTERPRISE, AUTH, "H1", CX_CAT_REDLIST,
                       qt_day("2024-01-01"));
  r.list_type = CX_STR("model_taxpayer");
  qt_put1(&E, &r);
  cx_entity_status st;
  cr_assert_eq(get(code, CX_ROLE_PUBLIC, "2024-02-01", &st), 0);
  cr_assert_eq(st.flags, CX_EF_REDLISTED, "incentives are not measures against it");
  cr_assert_eq(st.province.n, 0);
  cr_assert_eq(st.county.n, 0);
  cr_assert_eq(st.region_until, 0, "unknown is not historic");
}

/* A code issued in 长乐市 before it became 长乐区 (2017): named by the historic table, and
 * the status page says the code is historic and when it went out of use. */
Test(entity, a_historic_region_is_named_and_said_to_be_historic) {
  char code[19];
  qt_ent(6, 350182, code);
  cx_record r = qt_rec(code, "长乐某某纺织有限公司", CX_KIND_ENTERPRISE, AUTH, "P9", CX_CAT_PENALTY,
                       qt_day("2024-01-05"));
  qt_put1(&E, &r);
  cx_entity_status st;
  cr_assert_eq(get(code, CX_ROLE_ANALYST, "2024-02-01", &st), 0);
  cr_assert_eq(st.region, 350182);
  cr_assert(cx_str_eq(st.county, CX_STR("长乐市")));
  cr_assert(cx_str_eq(st.city, CX_STR("福州市")));
  cr_assert_eq(st.region_until, 2017);
}

Test(entity, lookup_errors) {
  fill_enterprise();
  cx_entity_status st;
  char other[19];
  qt_ent(9, 350102, other);
  cr_assert_eq(get(other, CX_ROLE_ADMIN, "2024-04-01", &st), CX_ENOTFOUND);
  cr_assert_lt(get("not a code", CX_ROLE_ADMIN, "2024-04-01", &st), 0);
  char bad[19];
  memcpy(bad, ENT, 19);
  bad[17] = bad[17] == '0' ? '1' : '0';
  cr_assert_eq(get(bad, CX_ROLE_ADMIN, "2024-04-01", &st), CX_ECHECKSUM);
  char lower[19];
  for (int i = 0; i < 19; i++) lower[i] = (ENT[i] >= 'A' && ENT[i] <= 'Z') ? (char)(ENT[i] + 32) : ENT[i];
  cr_assert_eq(get(lower, CX_ROLE_ADMIN, "2024-04-01", &st), 0, "any case");
}

Test(entity, person_is_masked_and_hidden_without_public_records) {
  /* A penalty on a person: not in person_public, so the public may not see the person. */
  cx_record r = qt_rec(PERSON, "张三", CX_KIND_PERSON, AUTH, "PP1", CX_CAT_PENALTY,
                       qt_day("2024-01-05"));
  r.severity = CX_SEV_SERIOUS;
  qt_put1(&E, &r);
  cx_entity_status st;
  cr_assert_eq(get(PERSON, CX_ROLE_PUBLIC, "2024-02-01", &st), CX_ENOTFOUND);
  cr_assert_eq(get(PERSON, CX_ROLE_APPROVAL, "2024-02-01", &st), 0);
  cr_assert(cx_str_eq(st.code, cx_str_c(PERSON)), "authorised roles see the full number");
  /* A blacklist entry is public for persons. */
  r = qt_rec(PERSON, "张三", CX_KIND_PERSON, AUTH, "PB1", CX_CAT_BLACKLIST, qt_day("2024-01-06"));
  r.list_type = CX_STR("court_dishonest");
  r.severity = CX_SEV_SERIOUS;
  qt_put1(&E, &r);
  cr_assert_eq(get(PERSON, CX_ROLE_PUBLIC, "2024-02-01", &st), 0);
  char mask[19];
  cx_idcard_mask(PERSON, mask);
  cr_assert(cx_str_eq(st.code, cx_str_c(mask)), "public sees %.*s", (int)st.code.n, st.code.p);
  cr_assert_neq(memcmp(st.code.p, PERSON, 18), 0);
  cr_assert_eq(st.counts[CX_CAT_PENALTY].visible, 0);
  cr_assert_eq(st.counts[CX_CAT_BLACKLIST].visible, 1);
  cr_assert_eq(st.region, 350102);
}

Test(entity, civil_servant_authority) {
  cx_record r = qt_rec(SERVANT, "李四", CX_KIND_CIVIL_SERVANT, AUTH2, "G1", CX_CAT_GOV_DISHONESTY,
                       qt_day("2024-01-05"));
  r.authority_name = CX_STR("北京市朝阳区人民政府");
  r.subtype = CX_SUB_DISCIPLINARY;
  qt_put1(&E, &r);
  cx_entity_status st;
  cr_assert_eq(get(SERVANT, CX_ROLE_ADMIN, "2024-02-01", &st), 0);
  cr_assert_eq(st.kind, CX_KIND_CIVIL_SERVANT);
  cr_assert(cx_str_eq(st.authority_code, cx_str_c(AUTH2)));
  cr_assert(cx_str_eq(st.authority_name, CX_STR("北京市朝阳区人民政府")));
  cr_assert(cx_str_eq(st.county, CX_STR("朝阳区")));
  cr_assert_eq(get(SERVANT, CX_ROLE_PUBLIC, "2024-02-01", &st), 0, "gov_dishonesty is public: %d",
               get(SERVANT, CX_ROLE_PUBLIC, "2024-02-01", &st));
  cr_assert_eq(st.code.n, 18);
  cr_assert_neq(memcmp(st.code.p, SERVANT, 18), 0, "masked");
}

Test(entity, review_only_measures_and_revoked_entries) {
  cx_record r = qt_rec(ENT, "福州某某建设有限公司", CX_KIND_ENTERPRISE, AUTH, "W1",
                       CX_CAT_GOV_DISHONESTY, qt_day("2024-01-05"));
  r.list_type = CX_STR("gov_watch");
  r.valid_until = qt_day("2024-07-01");
  qt_put1(&E, &r);
  r = qt_rec(ENT, "福州某某建设有限公司", CX_KIND_ENTERPRISE, AUTH, "B9", CX_CAT_BLACKLIST,
             qt_day("2024-01-06"));
  r.list_type = CX_STR("court_dishonest");
  r.status = CX_ST_REVOKED;
  r.objection = 1; /* not pending any more: the record is revoked */
  qt_put1(&E, &r);
  cx_entity_status st;
  cr_assert_eq(get(ENT, CX_ROLE_ANALYST, "2024-03-01", &st), 0);
  cr_assert_eq(st.flags, CX_EF_UNDER_MEASURES, "review measures count; revoked entries do not");
  cr_assert_eq(st.counts[CX_CAT_BLACKLIST].total, 1);
  cr_assert_eq(st.counts[CX_CAT_BLACKLIST].in_force, 0);
  cr_assert_eq(get(ENT, CX_ROLE_ANALYST, "2024-07-01", &st), 0);
  cr_assert_eq(st.flags, 0, "valid_until day: no longer under measures");
  cr_assert_eq(get(ENT, CX_ROLE_PUBLIC, "2024-03-01", &st), 0);
  cr_assert_eq(st.counts[CX_CAT_BLACKLIST].visible, 0);
  cr_assert_eq(st.counts[CX_CAT_GOV_DISHONESTY].visible, 1);
}

/* The kinds of the 全国公共信用信息基础目录 added as categories, through a batch and the public
 * view: an abnormal-operation entry is 失信信息 shown until it is removed from the list; an
 * inspection is negative only when it found a violation; a coercive measure and a confirmation
 * are public while in force; enforcement is negative (its minor tier is not published). */
Test(entity, abnormal_list_compulsion_confirmation_and_inspection_in_the_public_view) {
  cx_batch *b;
  const char *why = NULL;
  const char *name = "福州某某贸易有限公司";
  cr_assert_eq(cx_batch_begin(E.st, &b), 0);
  struct {
    const char *rid;
    uint8_t cat, sub, sev;
    const char *decision, *until;
  } rows[] = {
      {"A1", CX_CAT_ABNORMAL, CX_SUB_NONE, CX_SEV_UNSET, "2024-01-10", "2024-05-01"}, /* removed */
      {"A2", CX_CAT_ABNORMAL, CX_SUB_NONE, CX_SEV_UNSET, "2024-03-01", NULL},         /* listed */
      {"I1", CX_CAT_INSPECTION, CX_SUB_COMPLIANT, CX_SEV_UNSET, "2024-02-01", "2025-02-01"},
      {"I2", CX_CAT_INSPECTION, CX_SUB_VIOLATION, CX_SEV_MINOR, "2024-03-01", NULL},
      {"I3", CX_CAT_INSPECTION, CX_SUB_VIOLATION, CX_SEV_GENERAL, "2024-04-01", NULL},
      {"C1", CX_CAT_COMPULSION, CX_SUB_COERCIVE_MEASURE, CX_SEV_UNSET, "2024-05-20", "2024-06-19"},
      {"C2", CX_CAT_COMPULSION, CX_SUB_COERCIVE_MEASURE, CX_SEV_UNSET, "2024-04-01", "2024-05-01"},
      {"C3", CX_CAT_COMPULSION, CX_SUB_ENFORCEMENT, CX_SEV_MINOR, "2024-04-02", NULL},
      {"F1", CX_CAT_CONFIRMATION, CX_SUB_NONE, CX_SEV_UNSET, "2023-01-01", NULL},
  };
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++) {
    cx_record r = qt_rec(ENT, name, CX_KIND_ENTERPRISE, AUTH, rows[i].rid, rows[i].cat, qt_day(rows[i].decision));
    r.subtype = rows[i].sub;
    r.severity = rows[i].sev;
    if (rows[i].until) r.valid_until = qt_day(rows[i].until);
    cr_assert_eq(cx_batch_put(b, &r, &why), 0, "%s: %s", rows[i].rid, why);
  }
  /* a subtype of another category is refused, naming the field */
  cx_record x = qt_rec(ENT, name, CX_KIND_ENTERPRISE, AUTH, "X1", CX_CAT_COMPULSION, qt_day("2024-04-01"));
  x.subtype = CX_SUB_VIOLATION;
  cr_assert_eq(cx_batch_put(b, &x, &why), CX_EBADREQ);
  cr_assert_not_null(strstr(why, "subtype"), "%s", why);
  x.category = CX_CAT_PENALTY;
  x.subtype = CX_SUB_COMPLIANT;
  cr_assert_eq(cx_batch_put(b, &x, &why), CX_EBADREQ);
  cr_assert_eq(cx_batch_commit(b, NULL), 0);

  cx_entity_status st;
  cr_assert_eq(get(ENT, CX_ROLE_ANALYST, QT_TODAY, &st), 0);
  cr_assert_eq(st.counts[CX_CAT_ABNORMAL].total, 2);
  cr_assert_eq(st.counts[CX_CAT_ABNORMAL].in_force, 1, "A1 was removed from the list");
  cr_assert_eq(st.counts[CX_CAT_INSPECTION].total, 3);
  cr_assert_eq(st.counts[CX_CAT_COMPULSION].total, 3);
  cr_assert_eq(st.counts[CX_CAT_CONFIRMATION].total, 1);
  cr_assert_eq(st.counts[CX_CAT_ABNORMAL].visible, 1, "A2 only");
  cr_assert_eq(st.counts[CX_CAT_INSPECTION].visible, 2, "I1 (no violation, in force) and I3 (general)");
  cr_assert_eq(st.counts[CX_CAT_COMPULSION].visible, 1, "C1 in force; C2 ended; C3 minor");
  cr_assert_eq(st.counts[CX_CAT_CONFIRMATION].visible, 1);

  cr_assert_eq(get(ENT, CX_ROLE_PUBLIC, QT_TODAY, &st), 0);
  cr_assert_eq(st.counts[CX_CAT_ABNORMAL].total, 1);
  cr_assert_eq(st.counts[CX_CAT_INSPECTION].total, 2);
  cr_assert_eq(st.counts[CX_CAT_COMPULSION].total, 1);
  cr_assert_eq(st.counts[CX_CAT_CONFIRMATION].total, 1);
  /* the abnormal entry's tier was derived (general: published); 12 months on it is hidden */
  cr_assert_eq(get(ENT, CX_ROLE_PUBLIC, "2025-03-01", &st), 0);
  cr_assert_eq(st.counts[CX_CAT_ABNORMAL].total, 0, "past the general tier's 12 months");
  cr_assert_eq(st.counts[CX_CAT_CONFIRMATION].total, 1, "a confirmation is public while valid");
}

/* The region names a status shows come, after a context's first statuses, from its table of
 * every region code (query/regions.c): the same names as the regions DB's lookups, for current,
 * city-level, historic and unknown codes; and a rewrite of the region tables is seen by the
 * next status of the same context, before and after its table is rebuilt. */
typedef struct shown {
  char prov[64], city[96], county[64];
  uint16_t until;
} shown;

static void show(const char *code, shown *out) {
  cx_entity_status st;
  cr_assert_eq(get(code, CX_ROLE_ANALYST, "2024-02-01", &st), 0);
  snprintf(out->prov, sizeof out->prov, "%.*s", (int)st.province.n, st.province.p);
  snprintf(out->city, sizeof out->city, "%.*s", (int)st.city.n, st.city.p);
  snprintf(out->county, sizeof out->county, "%.*s", (int)st.county.n, st.county.p);
  out->until = st.region_until;
}

Test(entity, region_names_from_the_table_equal_the_lookups_and_follow_a_reload) {
  /* current, historic (350182), unknown beside known ones of its city (350199, 350188, 110199)
   * or of no city (659999, 350001: under the province's own code) */
  static const uint32_t counties[] = {350102, 350103, 350203, 110105, 350182, 659999, 350100, 350199,
                                      350188, 110199, 350001};
  enum { NC = sizeof counties / sizeof counties[0] };
  char codes[NC][19];
  for (int i = 0; i < NC; i++) {
    qt_ent(20 + i, counties[i], codes[i]);
    char rid[16];
    snprintf(rid, sizeof rid, "R%d", i);
    cx_record r = qt_rec(codes[i], "某某有限公司", CX_KIND_ENTERPRISE, AUTH, rid, CX_CAT_PENALTY,
                         qt_day("2024-01-05"));
    qt_put1(&E, &r);
  }
  cr_assert_eq(cx_query_debug_regions_cached(E.q, NULL), 0, "nothing built by the fixture");
  shown before[NC], after[NC];
  for (int i = 0; i < NC; i++) show(codes[i], &before[i]); /* the lookups */
  cr_assert_str_eq(before[0].county, "鼓楼区");
  cr_assert_str_eq(before[0].city, "福州市");
  cr_assert_str_eq(before[3].city, "北京市", "a municipality's city level");
  cr_assert_eq(before[4].until, 2017);
  cr_assert_str_eq(before[5].prov, "");
  for (int k = 0; k < 100; k++) show(codes[k % NC], &after[0]);
  uint64_t gen0 = 0;
  cr_assert_gt(cx_query_debug_regions_cached(E.q, &gen0), 5, "the table is built");
  for (int i = 0; i < NC; i++) {
    show(codes[i], &after[i]);
    cr_assert_str_eq(after[i].prov, before[i].prov, "%u", counties[i]);
    cr_assert_str_eq(after[i].city, before[i].city, "%u", counties[i]);
    cr_assert_str_eq(after[i].county, before[i].county, "%u", counties[i]);
    cr_assert_eq(after[i].until, before[i].until, "%u", counties[i]);
  }
  /* a new table text: renamed county and city, a county gone */
  static const char regions2[] = "110000\t北京市\n110100\t市辖区\n110105\t朝阳区\n"
                                 "350000\t福建省\n350100\t榕城市\n350102\t新鼓楼区\n"
                                 "350200\t厦门市\n350203\t思明区\n";
  int bad = 0;
  cr_assert_eq(cx_store_data_put(E.st, "regions", regions2, strlen(regions2), &bad), 0, "line %d", bad);
  for (int round = 0; round < 2; round++) { /* before the rebuild, then from the new table */
    show(codes[0], &after[0]);
    cr_assert_str_eq(after[0].county, "新鼓楼区", "round %d", round);
    cr_assert_str_eq(after[0].city, "榕城市", "round %d", round);
    show(codes[1], &after[1]);
    cr_assert_str_eq(after[1].county, "", "350103 is gone (round %d)", round);
    for (int k = 0; k < 100; k++) show(codes[k % NC], &after[2]);
  }
  uint64_t gen1 = 0;
  cr_assert_gt(cx_query_debug_regions_cached(E.q, &gen1), 5);
  cr_assert_neq(gen1, gen0, "rebuilt at the new generation");
}
