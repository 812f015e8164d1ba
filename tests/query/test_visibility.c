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

Test(visibility, the_sources_display_deadline_ends_display_not_the_penaltys_validity) {
  /* 信用修复管理办法: the minimum period is when repair may be asked for, not a display floor;
   * the source's 公示截止期 (display_until, inclusive) ends display when earlier than the
   * maximum; a penalty's own validity (处罚有效期, valid_until) does not. */
  cx_sum_rec r = rec(CX_CAT_PENALTY, CX_SEV_GENERAL, "2024-01-01", "2024-01-31");
  cx_day d = r.decision_date;
  cr_assert_not(disp(CX_KIND_ENTERPRISE, &r, d - 1), "before the decision");
  cr_assert(disp(CX_KIND_ENTERPRISE, &r, d));
  cr_assert(disp(CX_KIND_ENTERPRISE, &r, qt_day("2024-06-30")), "past its validity, still shown");
  r.display_until = qt_day("2024-03-31");
  cr_assert(disp(CX_KIND_ENTERPRISE, &r, qt_day("2024-03-31")), "its last day of display");
  cr_assert_not(disp(CX_KIND_ENTERPRISE, &r, qt_day("2024-04-01")), "the day after: hidden");
  r.display_until = qt_day("2026-01-01");
  cr_assert_not(disp(CX_KIND_ENTERPRISE, &r, qt_day("2025-01-01")), "never past the tier's maximum");
  /* a list entry ends its display with its listing */
  cx_sum_rec b = rec(CX_CAT_BLACKLIST, CX_SEV_SERIOUS, "2024-01-01", "2024-07-01");
  cr_assert(disp(CX_KIND_ENTERPRISE, &b, qt_day("2024-06-30")));
  cr_assert_not(disp(CX_KIND_ENTERPRISE, &b, qt_day("2024-07-01")), "removed from the list: hidden");
}

Test(visibility, general_is_capped_at_twelve_calendar_months) {
  cx_sum_rec r = rec(CX_CAT_PENALTY, CX_SEV_GENERAL, "2024-01-10", "2027-01-01");
  cr_assert(disp(CX_KIND_ENTERPRISE, &r, qt_day("2025-01-09")));
  cr_assert_not(disp(CX_KIND_ENTERPRISE, &r, qt_day("2025-01-10")), "decision + 12 months");
  r.valid_until = CX_DAY_OPEN;
  cr_assert(disp(CX_KIND_ENTERPRISE, &r, qt_day("2025-01-09")));
  cr_assert_not(disp(CX_KIND_ENTERPRISE, &r, qt_day("2025-01-10")), "an open end stops at the maximum");
  /* months, not 365 days: a leap year's 12 months are 366 days */
  cr_assert(disp(CX_KIND_ENTERPRISE, &r, r.decision_date + 365));
}

Test(visibility, months_are_clamped_at_the_end_of_a_month) {
  cx_sum_rec r = rec(CX_CAT_PENALTY, CX_SEV_SERIOUS, "2024-02-29", NULL);
  cr_assert(disp(CX_KIND_ENTERPRISE, &r, qt_day("2027-02-27")));
  cr_assert_not(disp(CX_KIND_ENTERPRISE, &r, qt_day("2027-02-28")), "2024-02-29 + 36 months");
}

Test(visibility, a_list_entry_follows_its_listing_between_the_bounds) {
  cx_sum_rec r = rec(CX_CAT_BLACKLIST, CX_SEV_GENERAL, "2024-01-01", "2024-07-01");
  cx_day u = r.valid_until;
  cr_assert(disp(CX_KIND_ENTERPRISE, &r, u - 1));
  cr_assert_not(disp(CX_KIND_ENTERPRISE, &r, u));
}

Test(visibility, serious_up_to_thirty_six_months) {
  cx_sum_rec r = rec(CX_CAT_BLACKLIST, CX_SEV_SERIOUS, "2024-01-01", "2024-03-01");
  cx_day d = r.decision_date;
  cr_assert(disp(CX_KIND_ENTERPRISE, &r, qt_day("2024-02-29")));
  cr_assert_not(disp(CX_KIND_ENTERPRISE, &r, qt_day("2024-03-01")), "the end of its listing");
  r.valid_until = CX_DAY_OPEN;
  cr_assert(disp(CX_KIND_ENTERPRISE, &r, qt_day("2026-12-31")));
  cr_assert_not(disp(CX_KIND_ENTERPRISE, &r, qt_day("2027-01-01")), "at most 36 months");
  r.valid_until = d + 500;
  cr_assert(disp(CX_KIND_ENTERPRISE, &r, d + 499));
  cr_assert_not(disp(CX_KIND_ENTERPRISE, &r, d + 500));
}

Test(visibility, licences_and_red_lists_are_public_while_valid) {
  cx_sum_rec lic = rec(CX_CAT_LICENSE, CX_SEV_GENERAL, "2020-01-01", "2030-01-01");
  cr_assert(disp(CX_KIND_ENTERPRISE, &lic, qt_day("2029-12-31")), "no display cap for licences");
  cr_assert_not(disp(CX_KIND_ENTERPRISE, &lic, qt_day("2030-01-01")), "expired");
  lic.valid_from = qt_day("2020-02-01");
  cr_assert_not(disp(CX_KIND_ENTERPRISE, &lic, qt_day("2020-01-15")), "not yet valid");
  cx_sum_rec red = rec(CX_CAT_REDLIST, CX_SEV_MINOR, "2020-01-01", NULL);
  cr_assert(disp(CX_KIND_ENTERPRISE, &red, qt_day("2035-01-01")), "the tier is for 失信信息 only");
  /* a kept commitment is not negative; a broken one is */
  cx_sum_rec kept = rec(CX_CAT_COMMITMENT, CX_SEV_GENERAL, "2020-01-01", NULL);
  kept.flags = (uint8_t)(CX_SUB_KEPT << CX_SRF_SUBTYPE_SHIFT);
  cr_assert(disp(CX_KIND_ENTERPRISE, &kept, qt_day("2030-01-01")));
  kept.flags = (uint8_t)(CX_SUB_BROKEN << CX_SRF_SUBTYPE_SHIFT);
  cr_assert_not(disp(CX_KIND_ENTERPRISE, &kept, qt_day("2030-01-01")));
  cr_assert(disp(CX_KIND_ENTERPRISE, &kept, qt_day("2020-06-01")));
}

Test(visibility, the_public_sees_today_only) {
  cr_assert_eq(cx_query_check_day(CX_ROLE_PUBLIC, cx_day_today()), 0);
  cr_assert_eq(cx_query_check_day(CX_ROLE_PUBLIC, cx_day_today() - 1), CX_EPUBLICDAY);
  cr_assert_eq(cx_query_check_day(CX_ROLE_PUBLIC, cx_day_today() + 1), CX_EPUBLICDAY);
  cr_assert_eq(cx_query_check_day(CX_ROLE_ANALYST, cx_day_today() - 400), 0);
  cr_assert_str_eq(cx_err_name(CX_EPUBLICDAY), "bad_request");
}

Test(visibility, approval_no_longer_receives_repaired_or_revoked_records) {
  cx_sum_rec r = rec(CX_CAT_BLACKLIST, CX_SEV_SERIOUS, "2024-01-01", NULL);
  cx_day d = qt_day("2024-03-01");
  cr_assert(cx_query_visible(E.q, CX_ROLE_APPROVAL, CX_KIND_ENTERPRISE, &r, d));
  r.status = CX_ST_REPAIRED;
  cr_assert_not(cx_query_visible(E.q, CX_ROLE_APPROVAL, CX_KIND_ENTERPRISE, &r, d), "停止共享");
  cr_assert(cx_query_visible(E.q, CX_ROLE_ANALYST, CX_KIND_ENTERPRISE, &r, d), "analysts keep it");
  cr_assert(cx_query_visible(E.q, CX_ROLE_ADMIN, CX_KIND_ENTERPRISE, &r, d));
  r.status = CX_ST_REVOKED;
  cr_assert_not(cx_query_visible(E.q, CX_ROLE_APPROVAL, CX_KIND_ENTERPRISE, &r, d));
  cr_assert_not(cx_query_visible(E.q, CX_ROLE_PUBLIC, CX_KIND_ENTERPRISE, &r, d));
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
