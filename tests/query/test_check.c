/* test_check.c — cx_query_check: verdicts, hits, boundaries, repairs, objections, codes. */
#include "qtest.h"

static qt_env E;
static char ENT[19], ENT2[19], AUTH[19], AUTH2[19];

static void setup(void) {
  qt_open(&E);
  qt_ent(1, 350102, ENT);
  qt_ent(2, 350103, ENT2);
  qt_auth(1, AUTH);
  qt_auth(2, AUTH2);
}
static void teardown(void) { qt_close(&E); }

TestSuite(check, .init = setup, .fini = teardown);

static int act(const char *a) { return cx_query_action(E.q, cx_str_c(a)); }

static cx_check_result run(const char *code, const char *action, const char *day,
                           cx_check_hit *hits, uint32_t cap) {
  cx_check_result res;
  memset(&res, 0xAB, sizeof res);
  int a = act(action);
  cr_assert_geq(a, 0, "action %s", action);
  int rc = cx_query_check(E.q, qt_txn(&E), cx_str_c(code), a, qt_day(day), &res, hits, cap);
  cr_assert_eq(rc, 0, "check rc %d", rc);
  return res;
}

/* A blacklist entry in force over [2024-01-10, 2025-01-10). */
static void put_blacklist(const char *rid, uint8_t status, uint8_t objection) {
  cx_record r = qt_rec(ENT, "福州某某建设有限公司", CX_KIND_ENTERPRISE, AUTH, rid,
                       CX_CAT_BLACKLIST, qt_day("2024-01-05"));
  r.list_type = CX_STR("court_dishonest");
  r.valid_from = qt_day("2024-01-10");
  r.valid_until = qt_day("2025-01-10");
  r.severity = CX_SEV_SERIOUS;
  r.status = status;
  r.objection = objection;
  qt_put1(&E, &r);
}

Test(check, deny_while_in_force_with_the_hit_that_justifies_it) {
  put_blacklist("(2024)闽01执123号", CX_ST_ACTIVE, 0);
  cx_check_hit hits[8];
  cx_check_result res = run(ENT, "procurement", "2024-06-01", hits, 8);
  cr_assert_eq(res.verdict, CX_V_DENY);
  cr_assert_str_eq(res.code, ENT);
  cr_assert_eq(res.n_hits, 1);
  cr_assert_eq(res.n_total, 1);
  cr_assert(cx_str_eq(hits[0].record_id, cx_str_c("(2024)闽01执123号")));
  cr_assert(cx_str_eq(hits[0].authority_code, cx_str_c(AUTH)));
  cr_assert_eq(hits[0].category, CX_CAT_BLACKLIST);
  cr_assert_str_eq(hits[0].list_type, "court_dishonest");
  cr_assert_str_eq(hits[0].measure, "no_procurement");
  cr_assert_str_eq(hits[0].measure_name, "限制参加政府采购");
  cr_assert_eq(hits[0].effect, CX_EFFECT_DENY);
  cr_assert_eq(hits[0].valid_from, qt_day("2024-01-10"));
  cr_assert_eq(hits[0].valid_until, qt_day("2025-01-10"));
  cr_assert_eq(hits[0].objection, 0);
  /* The same record asks only for review of subsidies. */
  res = run(ENT, "subsidy", "2024-06-01", hits, 8);
  cr_assert_eq(res.verdict, CX_V_REVIEW);
  cr_assert_eq(res.n_hits, 1);
  cr_assert_str_eq(hits[0].measure, "review_subsidy");
  cr_assert_eq(hits[0].effect, CX_EFFECT_REVIEW);
  /* ... and has nothing for honours. */
  res = run(ENT, "honour", "2024-06-01", hits, 8);
  cr_assert_eq(res.verdict, CX_V_CLEAR);
  cr_assert_eq(res.n_total, 0);
}

Test(check, validity_boundaries) {
  put_blacklist("R1", CX_ST_ACTIVE, 0);
  cx_check_hit hits[4];
  cr_assert_eq(run(ENT, "procurement", "2024-01-09", hits, 4).verdict, CX_V_CLEAR,
               "before valid_from");
  cr_assert_eq(run(ENT, "procurement", "2024-01-05", hits, 4).verdict, CX_V_CLEAR,
               "decided but not yet valid");
  cr_assert_eq(run(ENT, "procurement", "2024-01-10", hits, 4).verdict, CX_V_DENY,
               "valid_from itself");
  cr_assert_eq(run(ENT, "procurement", "2025-01-09", hits, 4).verdict, CX_V_DENY,
               "last day");
  cr_assert_eq(run(ENT, "procurement", "2025-01-10", hits, 4).verdict, CX_V_CLEAR,
               "valid_until itself is not in force");
}

Test(check, open_end_stays_in_force) {
  cx_record r = qt_rec(ENT, "福州某某建设有限公司", CX_KIND_ENTERPRISE, AUTH, "R-open",
                       CX_CAT_BLACKLIST, qt_day("2020-01-05"));
  r.list_type = CX_STR("court_dishonest");
  qt_put1(&E, &r);
  cx_check_hit hits[4];
  cr_assert_eq(run(ENT, "bidding", "2059-12-31", hits, 4).verdict, CX_V_DENY);
  cr_assert_eq(hits[0].valid_until, CX_DAY_OPEN);
  cr_assert_eq(hits[0].valid_from, qt_day("2020-01-05"), "valid_from defaults to decision");
}

Test(check, repaired_record_does_not_restrict) {
  put_blacklist("R1", CX_ST_REPAIRED, 0);
  cx_check_hit hits[4];
  cx_check_result res = run(ENT, "procurement", "2024-06-01", hits, 4);
  cr_assert_eq(res.verdict, CX_V_CLEAR);
  cr_assert_eq(res.n_total, 0);
}

Test(check, revoked_record_does_not_restrict) {
  put_blacklist("R1", CX_ST_REVOKED, 0);
  cx_check_hit hits[4];
  cr_assert_eq(run(ENT, "procurement", "2024-06-01", hits, 4).verdict, CX_V_CLEAR);
}

Test(check, repair_after_the_fact_lifts_the_measure) {
  put_blacklist("R1", CX_ST_ACTIVE, 0);
  cx_check_hit hits[4];
  cr_assert_eq(run(ENT, "procurement", "2024-06-01", hits, 4).verdict, CX_V_DENY);
  cx_batch *b;
  const char *why;
  cx_batch_result res;
  /* 2024-06-01 is inside the serious entry's minimum year: refused, naming the earliest day */
  cr_assert_eq(cx_batch_begin(E.st, &b), 0);
  cr_assert_eq(cx_batch_transition(b, cx_str_c(AUTH), CX_STR("R1"), CX_EV_REPAIR, 0, CX_STR("t"), &why), 0);
  cr_assert_eq(cx_batch_commit(b, &res), CX_EBADREQ);
  cr_assert(strstr(res.error, "not before 2025-01-05") != NULL, "%s", res.error);
  cr_assert_eq(run(ENT, "procurement", "2024-06-01", hits, 4).verdict, CX_V_DENY);
  /* an override needs the right to it ... */
  cr_assert_eq(cx_batch_begin(E.st, &b), 0);
  cr_assert_eq(cx_batch_transition(b, cx_str_c(AUTH), CX_STR("R1"), CX_EV_REPAIR, 1, CX_STR("t"), &why),
               CX_EFORBIDDEN);
  cx_batch_abort(b);
  /* ... which admin has */
  cr_assert_eq(cx_batch_begin(E.st, &b), 0);
  cx_batch_actor admin = {CX_STR("ops"), CX_STR("admin"), CX_STR(""), 1, NULL, 0};
  cr_assert_eq(cx_batch_set_actor(b, &admin), 0);
  cr_assert_eq(cx_batch_transition(b, cx_str_c(AUTH), CX_STR("R1"), CX_EV_REPAIR, 1, CX_STR("court order"), &why), 0);
  cr_assert_eq(cx_batch_commit(b, &res), 0);
  cr_assert_eq(res.transitions, 1);
  cr_assert_eq(run(ENT, "procurement", "2024-06-01", hits, 4).verdict, CX_V_CLEAR);
}

Test(check, objection_is_flagged_on_the_hit) {
  put_blacklist("R1", CX_ST_ACTIVE, 1);
  cx_check_hit hits[4];
  cx_check_result res = run(ENT, "procurement", "2024-06-01", hits, 4);
  cr_assert_eq(res.verdict, CX_V_DENY, "an objection does not suspend the measure");
  cr_assert_eq(hits[0].objection, 1);
}

Test(check, deny_beats_review_and_hits_list_every_measure) {
  put_blacklist("R1", CX_ST_ACTIVE, 0);
  cx_record r = qt_rec(ENT, "福州某某建设有限公司", CX_KIND_ENTERPRISE, AUTH2, "W1",
                       CX_CAT_GOV_DISHONESTY, qt_day("2024-02-01"));
  r.list_type = CX_STR("gov_watch");
  qt_put1(&E, &r);
  cx_check_hit hits[8];
  cx_check_result res = run(ENT, "procurement", "2024-06-01", hits, 8);
  cr_assert_eq(res.verdict, CX_V_DENY);
  cr_assert_eq(res.n_hits, 2);
  int deny = 0, review = 0;
  for (uint32_t i = 0; i < res.n_hits; i++) {
    if (hits[i].effect == CX_EFFECT_DENY) {
      deny++;
      cr_assert_str_eq(hits[i].measure, "no_procurement");
    }
    if (hits[i].effect == CX_EFFECT_REVIEW) {
      review++;
      cr_assert_str_eq(hits[i].measure, "review_procurement");
      cr_assert_str_eq(hits[i].list_type, "gov_watch");
      cr_assert(cx_str_eq(hits[i].record_id, CX_STR("W1")));
      cr_assert(cx_str_eq(hits[i].authority_code, cx_str_c(AUTH2)));
    }
  }
  cr_assert_eq(deny, 1);
  cr_assert_eq(review, 1);
  /* Review only once the blacklist entry has expired. */
  res = run(ENT, "procurement", "2025-02-01", hits, 8);
  cr_assert_eq(res.verdict, CX_V_REVIEW);
  cr_assert_eq(res.n_hits, 1);
}

Test(check, record_measures_override_the_list_defaults) {
  cx_record r = qt_rec(ENT, "福州某某建设有限公司", CX_KIND_ENTERPRISE, AUTH, "R2",
                       CX_CAT_BLACKLIST, qt_day("2024-01-05"));
  r.list_type = CX_STR("court_dishonest");
  r.measures = CX_STR("no_bidding");
  qt_put1(&E, &r);
  cx_check_hit hits[4];
  cr_assert_eq(run(ENT, "procurement", "2024-06-01", hits, 4).verdict, CX_V_CLEAR);
  cr_assert_eq(run(ENT, "bidding", "2024-06-01", hits, 4).verdict, CX_V_DENY);
}

Test(check, redlist_gives_incentives_after_restrictions) {
  put_blacklist("R1", CX_ST_ACTIVE, 0);
  cx_record r = qt_rec(ENT, "福州某某建设有限公司", CX_KIND_ENTERPRISE, AUTH2, "H1",
                       CX_CAT_REDLIST, qt_day("2024-03-01"));
  r.list_type = CX_STR("model_taxpayer");
  r.valid_until = qt_day("2025-03-01");
  qt_put1(&E, &r);
  cx_check_hit hits[8];
  cx_check_result res = run(ENT, "subsidy", "2024-06-01", hits, 8);
  cr_assert_eq(res.verdict, CX_V_REVIEW, "incentives do not change the verdict");
  cr_assert_eq(res.n_hits, 2);
  cr_assert_eq(hits[0].effect, CX_EFFECT_REVIEW);
  cr_assert_eq(hits[1].effect, CX_EFFECT_INCENTIVE);
  cr_assert_str_eq(hits[1].measure, "fast_track");
  cr_assert_eq(hits[1].category, CX_CAT_REDLIST);
  /* honour: only the incentive */
  res = run(ENT, "honour", "2024-06-01", hits, 8);
  cr_assert_eq(res.verdict, CX_V_CLEAR);
  cr_assert_eq(res.n_hits, 1);
  cr_assert_str_eq(hits[0].measure, "honour_priority");
  /* Red list expired: nothing */
  res = run(ENT, "honour", "2025-03-01", hits, 8);
  cr_assert_eq(res.n_total, 0);
}

Test(check, cap_limits_what_is_written_not_what_is_counted) {
  put_blacklist("R1", CX_ST_ACTIVE, 0);
  put_blacklist("R2", CX_ST_ACTIVE, 0);
  put_blacklist("R3", CX_ST_ACTIVE, 0);
  cx_check_hit hits[2];
  memset(hits, 0x5A, sizeof hits);
  cx_check_result res = run(ENT, "procurement", "2024-06-01", hits, 1);
  cr_assert_eq(res.verdict, CX_V_DENY);
  cr_assert_eq(res.n_hits, 1);
  cr_assert_eq(res.n_total, 3);
  unsigned char *p = (unsigned char *)&hits[1];
  for (size_t i = 0; i < sizeof hits[1]; i++) cr_assert_eq(p[i], 0x5A, "wrote past cap");
  res = run(ENT, "procurement", "2024-06-01", NULL, 0);
  cr_assert_eq(res.verdict, CX_V_DENY);
  cr_assert_eq(res.n_hits, 0);
  cr_assert_eq(res.n_total, 3);
}

Test(check, batch_of_mixed_codes) {
  put_blacklist("R1", CX_ST_ACTIVE, 0);
  cx_record r = qt_rec(ENT2, "台江某某商贸有限公司", CX_KIND_ENTERPRISE, AUTH, "P1",
                       CX_CAT_PENALTY, qt_day("2024-01-05"));
  qt_put1(&E, &r);
  char lower[40], unknown[19], badsum[19], person[19];
  snprintf(lower, sizeof lower, "  %s ", ENT);
  for (char *c = lower; *c; c++)
    if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
  qt_ent(77, 350102, unknown);
  memcpy(badsum, ENT, 19);
  badsum[17] = badsum[17] == '0' ? '1' : '0';
  qt_idcard("11010519491231002", person);
  const char *codes[] = {ENT, lower, ENT2, unknown, badsum, "12345", "", person, "91350100M000100Y4Z"};
  const uint8_t want[] = {CX_V_DENY, CX_V_DENY, CX_V_CLEAR, CX_V_NOT_FOUND, CX_V_INVALID_CODE,
                          CX_V_INVALID_CODE, CX_V_INVALID_CODE, CX_V_NOT_FOUND,
                          CX_V_INVALID_CODE};
  int a = act("procurement");
  cx_txn *t = qt_txn(&E);
  for (size_t i = 0; i < sizeof codes / sizeof codes[0]; i++) {
    cx_check_result res;
    cx_check_hit hits[4];
    int rc = cx_query_check(E.q, t, cx_str_c(codes[i]), a, qt_day("2024-06-01"), &res, hits, 4);
    cr_assert_eq(rc, 0, "code %zu never fails the call", i);
    cr_assert_eq(res.verdict, want[i], "code %zu (%s): verdict %s", i, codes[i],
                 cx_verdict_names[res.verdict]);
    if (want[i] == CX_V_INVALID_CODE) {
      cr_assert_lt(res.code_err, 0);
      cr_assert_str_eq(res.code, "");
    } else {
      cr_assert_eq(res.code_err, 0);
      cr_assert_eq(strlen(res.code), 18);
    }
  }
  cx_check_result res;
  cx_query_check(E.q, t, cx_str_c(badsum), a, qt_day("2024-06-01"), &res, NULL, 0);
  cr_assert_eq(res.code_err, CX_ECHECKSUM);
  cx_query_check(E.q, t, CX_STR("12345"), a, qt_day("2024-06-01"), &res, NULL, 0);
  cr_assert_eq(res.code_err, CX_ELENGTH);
  cx_query_check(E.q, t, cx_str_c(lower), a, qt_day("2024-06-01"), &res, NULL, 0);
  cr_assert_str_eq(res.code, ENT, "normalised code");
}

Test(check, unknown_action_is_a_bad_request) {
  cr_assert_eq(cx_query_action(E.q, CX_STR("teleport")), CX_EBADREQ);
  cr_assert_eq(cx_query_action(E.q, CX_STR("")), CX_EBADREQ);
  cr_assert_eq(cx_query_action(E.q, CX_STR("bidding")), 1);
  cx_check_result res;
  cx_txn *t = qt_txn(&E);
  cr_assert_eq(cx_query_check(E.q, t, cx_str_c(ENT), 99, qt_day("2024-06-01"), &res, NULL, 0),
               CX_EBADREQ);
  cr_assert_eq(cx_query_check(E.q, t, cx_str_c(ENT), -1, qt_day("2024-06-01"), &res, NULL, 0),
               CX_EBADREQ);
  cr_assert_eq(cx_query_check(E.q, t, cx_str_c(ENT), 4, qt_day("2024-06-01"), &res, NULL, 0),
               CX_EBADREQ, "index past the catalogue's actions");
}

Test(check, names_tables) {
  cr_assert_str_eq(cx_verdict_names[CX_V_CLEAR], "clear");
  cr_assert_str_eq(cx_verdict_names[CX_V_REVIEW], "review");
  cr_assert_str_eq(cx_verdict_names[CX_V_DENY], "deny");
  cr_assert_str_eq(cx_verdict_names[CX_V_NOT_FOUND], "not_found");
  cr_assert_str_eq(cx_verdict_names[CX_V_INVALID_CODE], "invalid_code");
  cr_assert_str_eq(cx_role_names[CX_ROLE_PUBLIC], "public");
  cr_assert_str_eq(cx_role_names[CX_ROLE_ADMIN], "admin");
  cr_assert_str_eq(cx_metric_names[CX_M_KEPT_RATE], "kept_rate");
  cr_assert_str_eq(cx_metric_names[CX_M_ON_TIME_RATE], "on_time_rate");
}

Test(check, reload_picks_up_a_replaced_catalogue) {
  put_blacklist("R1", CX_ST_ACTIVE, 0);
  cx_check_hit hits[4];
  cr_assert_eq(run(ENT, "procurement", "2024-06-01", hits, 4).verdict, CX_V_DENY);
  /* The operator turns the procurement ban into heightened review. */
  char *cat = strdup(qt_catalog);
  char *p = strstr(cat, "no_procurement\tdeny");
  cr_assert_not_null(p);
  const char *from = "no_procurement\tdeny", *to = "no_procurement\treview";
  size_t n = strlen(cat) + 8;
  char *buf = malloc(n);
  snprintf(buf, n, "%.*s%s%s", (int)(p - cat), cat, to, p + strlen(from));
  int bad = 0;
  cr_assert_eq(cx_store_data_put(E.st, "catalog", buf, strlen(buf), &bad), 0, "line %d", bad);
  cr_assert_eq(cx_query_reload(E.q), 0);
  cx_check_result res = run(ENT, "procurement", "2024-06-01", hits, 4);
  cr_assert_eq(res.verdict, CX_V_REVIEW);
  cr_assert_eq(hits[0].effect, CX_EFFECT_REVIEW);
  cr_assert_eq(cx_query_catalog(E.q)->measures[0].effect, CX_EFFECT_REVIEW);
  free(buf);
  free(cat);
}

/* 1,500 newer measure-carrying records (expired red-list honours) push an old blacklist
 * entry, still in force, far past the summary's 512 hits: check must still find it (it lives
 * in a spill chunk), and list every in-force hit; the entity page flags the measures. */
Test(check, an_old_measure_past_the_first_512_hits_still_denies) {
  cx_batch *b;
  const char *why = NULL;
  cr_assert_eq(cx_batch_begin(E.st, &b), 0);
  cx_record r = qt_rec(ENT, "福州某某建设有限公司", CX_KIND_ENTERPRISE, AUTH, "(2015)闽01执1号",
                       CX_CAT_BLACKLIST, qt_day("2015-01-05"));
  r.list_type = CX_STR("court_dishonest");
  r.severity = CX_SEV_SERIOUS; /* open-ended */
  cr_assert_eq(cx_batch_put(b, &r, &why), 0, "%s", why ? why : "");
  char rids[1500][24];
  for (int i = 0; i < 1500; i++) {
    snprintf(rids[i], sizeof rids[i], "RED-%04d", i);
    cx_record h = qt_rec(ENT, "福州某某建设有限公司", CX_KIND_ENTERPRISE, AUTH2, rids[i],
                         CX_CAT_REDLIST, qt_day("2020-01-01") + (cx_day)i);
    h.list_type = CX_STR("model_taxpayer");
    h.valid_until = h.decision_date + 30; /* long expired by 2026 */
    cr_assert_eq(cx_batch_put(b, &h, &why), 0, "%s", why ? why : "");
  }
  cr_assert_eq(cx_batch_commit(b, NULL), 0, "%s", cx_store_errmsg(E.st));

  cx_summary s;
  cr_assert_eq(cx_store_summary_get(qt_txn(&E), ENT, &s), 0);
  cr_assert_eq(s.n_hits, 512);
  cr_assert_eq(s.n_chunks, 2); /* 1,501 hits: 512 + 512 + 477 */

  cx_check_hit hits[8];
  cx_check_result res = run(ENT, "procurement", "2026-06-01", hits, 8);
  cr_assert_eq(res.verdict, CX_V_DENY);
  cr_assert_eq(res.n_total, 1);
  cr_assert(cx_str_eq(hits[0].record_id, cx_str_c("(2015)闽01执1号")));
  cr_assert(cx_str_eq(hits[0].authority_code, cx_str_c(AUTH)));
  cr_assert_str_eq(hits[0].measure, "no_procurement");
  /* while the honours were in force, each gave its fast-track incentive after the denial */
  res = run(ENT, "procurement", "2020-01-20", hits, 8);
  cr_assert_eq(res.verdict, CX_V_DENY);
  cr_assert_eq(res.n_total, 1 + 20); /* the honours decided 2020-01-01 .. 2020-01-20 */
  cr_assert_str_eq(hits[0].measure, "no_procurement"); /* restrictions first */
  cr_assert_str_eq(hits[1].measure, "fast_track");

  cx_entity_status es;
  cr_assert_eq(cx_query_entity(E.q, qt_txn(&E), CX_ROLE_ADMIN, cx_str_c(ENT), qt_day("2026-06-01"), &es), 0);
  cr_assert(es.flags & CX_EF_UNDER_MEASURES);
  cr_assert_eq(cx_store_verify(E.st, NULL, NULL), 0);
}

/* Receipts: the seq in 16 lower-case hex digits, then its MAC's 16; parse takes back exactly
 * what format gave and refuses any change. */
Test(check, a_receipt_is_the_seq_and_its_mac_in_lower_case_hex_and_parses_back) {
  uint64_t seqs[] = {0, 1, 0x0123456789abcdefull, UINT64_MAX};
  for (size_t i = 0; i < sizeof seqs / sizeof seqs[0]; i++) {
    char r[CX_RECEIPT_LEN + 1], want[17];
    cx_query_receipt_format(E.q, seqs[i], r);
    cr_assert_eq(strlen(r), CX_RECEIPT_LEN);
    snprintf(want, sizeof want, "%016llx", (unsigned long long)seqs[i]);
    cr_assert_eq(memcmp(r, want, 16), 0, "%s starts with %s", r, want);
    for (int k = 0; k < CX_RECEIPT_LEN; k++) cr_assert(strchr("0123456789abcdef", r[k]), "%s", r);
    uint64_t back = 12345;
    cr_assert_eq(cx_query_receipt_parse(E.q, cx_str_c(r), &back), 0);
    cr_assert_eq(back, seqs[i]);
    for (int k = 0; k < CX_RECEIPT_LEN; k += 5) {
      char bad[CX_RECEIPT_LEN + 1];
      memcpy(bad, r, sizeof bad);
      bad[k] = bad[k] == '0' ? '1' : '0';
      cr_assert_eq(cx_query_receipt_parse(E.q, cx_str_c(bad), &back), CX_EBADREQ, "changed at %d: %s", k, bad);
    }
  }
  char other[CX_RECEIPT_LEN + 1], one[CX_RECEIPT_LEN + 1];
  cx_query_receipt_format(E.q, 1, one);
  cx_query_receipt_format(E.q, 2, other);
  cr_assert_neq(memcmp(one + 16, other + 16, 16), 0, "MACs differ by seq");
}
