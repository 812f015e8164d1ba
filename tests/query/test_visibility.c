/* test_visibility.c — in force and public display periods (cx_query_in_force/displayable). */
#include "qtest.h"

static qt_env E;
static void setup(void) { qt_open(&E); }
static void teardown(void) { qt_close(&E); }
TestSuite(visibility, .init = setup, .fini = teardown);

static cx_sum_rec rec(uint8_t cat, uint8_t sev, const char *decision, const char *until) {
  cx_sum_rec r;
  memset(&r, 0, sizeof r);
  r.category = cat;
  r.severity = sev;
  r.status = CX_ST_ACTIVE;
  r.decision_date = qt_day(decision);
  r.valid_from = r.decision_date;
  r.valid_until = until ? qt_day(until) : CX_DAY_OPEN;
  return r;
}

static int disp(uint8_t kind, const cx_sum_rec *r, cx_day d) {
  return cx_query_displayable(E.q, kind, r, d);
}

Test(visibility, in_force_boundaries) {
  cx_sum_rec r = rec(CX_CAT_PENALTY, CX_SEV_GENERAL, "2024-01-01", "2024-02-01");
  r.valid_from = qt_day("2024-01-10");
  cr_assert_not(cx_query_in_force(&r, qt_day("2024-01-09")), "before valid_from");
  cr_assert(cx_query_in_force(&r, qt_day("2024-01-10")));
  cr_assert(cx_query_in_force(&r, qt_day("2024-01-31")));
  cr_assert_not(cx_query_in_force(&r, qt_day("2024-02-01")), "valid_until itself");
  r.valid_until = CX_DAY_OPEN;
  cr_assert(cx_query_in_force(&r, qt_day("2059-12-31")));
  r.status = CX_ST_REPAIRED;
  cr_assert_not(cx_query_in_force(&r, qt_day("2024-01-20")));
  r.status = CX_ST_REVOKED;
  cr_assert_not(cx_query_in_force(&r, qt_day("2024-01-20")));
}

Test(visibility, minor_is_never_published) {
  cx_sum_rec r = rec(CX_CAT_PENALTY, CX_SEV_MINOR, "2024-01-01", "2024-02-01");
  cr_assert_not(disp(CX_KIND_ENTERPRISE, &r, qt_day("2024-01-01")));
  cr_assert_not(disp(CX_KIND_ENTERPRISE, &r, qt_day("2024-01-15")));
}

Test(visibility, general_short_validity_shows_for_the_minimum_90_days) {
  cx_sum_rec r = rec(CX_CAT_PENALTY, CX_SEV_GENERAL, "2024-01-01", "2024-01-31");
  cx_day d = r.decision_date;
  cr_assert_not(disp(CX_KIND_ENTERPRISE, &r, d - 1), "before the decision");
  cr_assert(disp(CX_KIND_ENTERPRISE, &r, d));
  cr_assert(disp(CX_KIND_ENTERPRISE, &r, d + 89), "decision + 89: still shown");
  cr_assert_not(disp(CX_KIND_ENTERPRISE, &r, d + 90), "decision + 90: hidden");
}

Test(visibility, general_long_validity_is_capped_at_365_days) {
  cx_sum_rec r = rec(CX_CAT_PENALTY, CX_SEV_GENERAL, "2024-01-01", "2027-01-01");
  cx_day d = r.decision_date;
  cr_assert(disp(CX_KIND_ENTERPRISE, &r, d + 364));
  cr_assert_not(disp(CX_KIND_ENTERPRISE, &r, d + 365));
  r.valid_until = CX_DAY_OPEN;
  cr_assert(disp(CX_KIND_ENTERPRISE, &r, d + 364));
  cr_assert_not(disp(CX_KIND_ENTERPRISE, &r, d + 365), "open end clamps to the maximum");
}

Test(visibility, general_follows_validity_between_the_bounds) {
  cx_sum_rec r = rec(CX_CAT_PENALTY, CX_SEV_GENERAL, "2024-01-01", "2024-07-01");
  cx_day d = r.decision_date, u = r.valid_until;
  cr_assert(disp(CX_KIND_ENTERPRISE, &r, u - 1));
  cr_assert_not(disp(CX_KIND_ENTERPRISE, &r, u));
  (void)d;
}

Test(visibility, serious_between_365_and_1095_days) {
  cx_sum_rec r = rec(CX_CAT_PENALTY, CX_SEV_SERIOUS, "2024-01-01", "2024-03-01");
  cx_day d = r.decision_date;
  cr_assert(disp(CX_KIND_ENTERPRISE, &r, d + 364), "short validity: at least 365 days");
  cr_assert_not(disp(CX_KIND_ENTERPRISE, &r, d + 365));
  r.valid_until = CX_DAY_OPEN;
  cr_assert(disp(CX_KIND_ENTERPRISE, &r, d + 1094));
  cr_assert_not(disp(CX_KIND_ENTERPRISE, &r, d + 1095), "at most 1095 days");
  r.valid_until = d + 500;
  cr_assert(disp(CX_KIND_ENTERPRISE, &r, d + 499));
  cr_assert_not(disp(CX_KIND_ENTERPRISE, &r, d + 500));
}

Test(visibility, repaired_and_revoked_are_hidden_from_the_public) {
  cx_sum_rec r = rec(CX_CAT_PENALTY, CX_SEV_SERIOUS, "2024-01-01", NULL);
  cr_assert(disp(CX_KIND_ENTERPRISE, &r, r.decision_date + 10));
  r.status = CX_ST_REPAIRED;
  cr_assert_not(disp(CX_KIND_ENTERPRISE, &r, r.decision_date + 10));
  r.status = CX_ST_REVOKED;
  cr_assert_not(disp(CX_KIND_ENTERPRISE, &r, r.decision_date + 10));
}

Test(visibility, persons_only_for_person_public_categories) {
  cx_sum_rec pen = rec(CX_CAT_PENALTY, CX_SEV_SERIOUS, "2024-01-01", NULL);
  cx_sum_rec bl = rec(CX_CAT_BLACKLIST, CX_SEV_SERIOUS, "2024-01-01", NULL);
  cx_sum_rec gov = rec(CX_CAT_GOV_DISHONESTY, CX_SEV_GENERAL, "2024-01-01", NULL);
  cx_day d = pen.decision_date + 10;
  cr_assert_not(disp(CX_KIND_PERSON, &pen, d));
  cr_assert_not(disp(CX_KIND_CIVIL_SERVANT, &pen, d));
  cr_assert(disp(CX_KIND_PERSON, &bl, d));
  cr_assert(disp(CX_KIND_CIVIL_SERVANT, &gov, d));
  cr_assert(disp(CX_KIND_INDIVIDUAL_BUSINESS, &pen, d), "the rule is for persons only");
}
