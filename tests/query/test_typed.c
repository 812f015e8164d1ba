/* test_typed.c — persons under typed identifiers (passport, permits) through query/: shown in
 * their textual form, masked like ID numbers, hidden from the public as persons are. */
#include "qtest.h"

static qt_env E;
static char AUTH[19];

static void setup(void) {
  qt_open(&E);
  qt_auth(1, AUTH);
}
static void teardown(void) { qt_close(&E); }
TestSuite(typed, .init = setup, .fini = teardown);

/* A penalty and a blacklist entry on a passport holder (given in the textual form). */
static void fill(void) {
  cx_record r = qt_rec("passport:USA:123456789", "John Smith", CX_KIND_UNSET, AUTH, "TP1", CX_CAT_PENALTY,
                       qt_day("2024-01-05"));
  r.severity = CX_SEV_SERIOUS;
  qt_put1(&E, &r);
}

static int get(const char *code, cx_role role, const char *day, cx_entity_status *st) {
  if (role == CX_ROLE_PUBLIC) cx_day_set_today(qt_day(day));
  return cx_query_entity(E.q, qt_txn(&E), role, cx_str_c(code), qt_day(day), st);
}

Test(typed, entity_is_a_person_shown_in_the_textual_form) {
  fill();
  cx_entity_status st;
  /* Every form finds it: the textual one, in any case, and the key. */
  const char *forms[] = {"passport:USA:123456789", "PASSPORT:usa:1234 56789", "pUSA123456789-----"};
  for (size_t i = 0; i < 3; i++) {
    cr_assert_eq(get(forms[i], CX_ROLE_ANALYST, "2024-02-01", &st), 0, "%s", forms[i]);
    cr_assert(cx_str_eq(st.code, CX_STR("passport:USA:123456789")), "%.*s", (int)st.code.n, st.code.p);
    cr_assert(cx_str_eq(st.stored_code, CX_STR("pUSA123456789-----")));
    cr_assert_eq(st.kind, CX_KIND_PERSON);
    cr_assert_eq(st.region, 0u);
  }
  cr_assert_eq(get("passport:USA:123456780", CX_ROLE_ANALYST, "2024-02-01", &st), CX_ENOTFOUND);
  cr_assert_eq(get("passport:QQQ:123456789", CX_ROLE_ANALYST, "2024-02-01", &st), CX_ECOUNTRY);
}

Test(typed, public_sees_no_penalised_person_and_a_masked_listed_one) {
  fill();
  cx_entity_status st;
  /* The rule that hides persons is the kind's, not the code's: a penalty is never public. */
  cr_assert_eq(get("passport:USA:123456789", CX_ROLE_PUBLIC, "2024-02-01", &st), CX_ENOTFOUND);
  /* A serious-dishonesty list entry is public for persons: then masked, like an ID number. */
  cx_record r = qt_rec("passport:USA:123456789", "John Smith", CX_KIND_PERSON, AUTH, "TB1", CX_CAT_BLACKLIST,
                       qt_day("2024-01-06"));
  r.list_type = CX_STR("court_dishonest");
  r.severity = CX_SEV_SERIOUS;
  qt_put1(&E, &r);
  cr_assert_eq(get("passport:USA:123456789", CX_ROLE_PUBLIC, "2024-02-01", &st), 0);
  cr_assert(cx_str_eq(st.code, CX_STR("passport:USA:******789")), "%.*s", (int)st.code.n, st.code.p);
  cr_assert_eq(st.counts[CX_CAT_PENALTY].visible, 0);
}

typedef struct seen {
  char code[8][CX_CODE_TEXT_MAX];
  int n;
} seen;

static int rec_cb(void *ctx, const cx_record_view *v) {
  seen *s = ctx;
  if (s->n < 8) snprintf(s->code[s->n++], CX_CODE_TEXT_MAX, "%.*s", (int)v->r->entity_code.n, v->r->entity_code.p);
  return 0;
}

static int search_cb(void *ctx, const cx_search_hit *h) {
  seen *s = ctx;
  if (s->n < 8) snprintf(s->code[s->n++], CX_CODE_TEXT_MAX, "%.*s", (int)h->code.n, h->code.p);
  return 0;
}

Test(typed, records_check_and_search_show_the_textual_form) {
  fill();
  cx_records_req rq = {CX_STR("passport:USA:123456789"), -1, {0}, 0, qt_day("2024-02-01"), CX_ROLE_ANALYST};
  char next[CX_CURSOR_MAX];
  seen s = {0};
  cr_assert_eq(cx_query_records(E.q, qt_txn(&E), &rq, rec_cb, &s, next), 0);
  cr_assert_eq(s.n, 1);
  cr_assert_str_eq(s.code[0], "passport:USA:123456789");

  cx_check_result res;
  cx_check_hit hits[8];
  int act = cx_query_action(E.q, CX_STR("procurement"));
  cr_assert_geq(act, 0);
  cr_assert_eq(cx_query_check(E.q, qt_txn(&E), CX_STR("passport:USA:123456789"), act, qt_day("2024-02-01"), &res,
                              hits, 8), 0);
  cr_assert_str_eq(res.code, "pUSA123456789-----"); /* the key, for the door's audit */
  cr_assert_str_eq(res.shown, "passport:USA:123456789");
  cr_assert_eq(res.kind, CX_KIND_PERSON);
  cr_assert_eq(cx_query_check(E.q, qt_txn(&E), CX_STR("tw:12345678"), act, qt_day("2024-02-01"), &res, hits, 8), 0);
  cr_assert_eq(res.verdict, CX_V_NOT_FOUND);
  cr_assert_eq(res.kind, CX_KIND_PERSON); /* still a query about a person */
  cr_assert_str_eq(res.shown, "tw:12345678");
  cr_assert_eq(cx_query_check(E.q, qt_txn(&E), CX_STR("tw:1234567"), act, qt_day("2024-02-01"), &res, hits, 8), 0);
  cr_assert_eq(res.verdict, CX_V_INVALID_CODE);
  cr_assert_eq(res.code_err, CX_ETWPERMIT);
  cr_assert_str_eq(res.shown, "");

  /* A list of names masks persons for every role but admin; the public finds none. */
  seen a = {0}, m = {0}, p = {0};
  cr_assert_eq(cx_query_search(E.q, qt_txn(&E), CX_ROLE_ADMIN, CX_STR("John"), 10, search_cb, &a), 0);
  cr_assert_eq(a.n, 1);
  cr_assert_str_eq(a.code[0], "passport:USA:123456789");
  cr_assert_eq(cx_query_search(E.q, qt_txn(&E), CX_ROLE_ANALYST, CX_STR("John"), 10, search_cb, &m), 0);
  cr_assert_eq(m.n, 1);
  cr_assert_str_eq(m.code[0], "passport:USA:******789");
  cr_assert_eq(cx_query_search(E.q, qt_txn(&E), CX_ROLE_PUBLIC, CX_STR("John"), 10, search_cb, &p), 0);
  cr_assert_eq(p.n, 0);
}
