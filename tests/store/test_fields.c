/* test_fields.c — records from canonical field names (store/fields.c). */
#include <criterion/criterion.h>
#include <string.h>

#include "store.h"

#define MAXF 32

typedef struct row {
  cx_str names[MAXF], values[MAXF];
  size_t n;
} row;

/* A good penalty row; each test changes what it needs. */
static void base(row *r) {
  static const char *kv[][2] = {
      {"entity_code", "91350100M000100Y43"}, {"entity_name", "福州某某科技有限公司"},
      {"record_id", "榕市监罚〔2024〕15号"},    {"authority_code", "11350100003573410W"},
      {"authority_name", "福州市市场监督管理局"}, {"category", "penalty"},
      {"decision_date", "2024-03-15"},
  };
  r->n = 0;
  for (size_t i = 0; i < sizeof kv / sizeof *kv; i++) {
    r->names[r->n] = cx_str_c(kv[i][0]);
    r->values[r->n++] = cx_str_c(kv[i][1]);
  }
}

static void set(row *r, const char *name, const char *value) {
  for (size_t i = 0; i < r->n; i++)
    if (cx_str_eq(r->names[i], cx_str_c(name))) {
      r->values[i] = cx_str_c(value);
      return;
    }
  r->names[r->n] = cx_str_c(name);
  r->values[r->n++] = cx_str_c(value);
}

static void drop(row *r, const char *name) {
  for (size_t i = 0; i < r->n; i++)
    if (cx_str_eq(r->names[i], cx_str_c(name))) {
      r->names[i] = r->names[r->n - 1];
      r->values[i] = r->values[r->n - 1];
      r->n--;
      return;
    }
}

static int conv(row *r, cx_record *out, const char **why) {
  *why = NULL;
  return cx_record_from_fields(r->names, r->values, r->n, out, why);
}

static cx_day day(const char *s) {
  cx_day d = 0;
  cr_assert_eq(cx_day_parse(cx_str_c(s), &d), 0);
  return d;
}

Test(fields, defaults) {
  cx_record r;
  memset(&r, 0xAB, sizeof r);
  cx_record_defaults(&r);
  cr_assert_eq(r.entity_kind, CX_KIND_UNSET);
  cr_assert_eq(r.domain, CX_DOM_OTHER);
  cr_assert_eq(r.severity, CX_SEV_UNSET, "no tier given: the batch derives it");
  cr_assert_eq(r.status, CX_ST_ACTIVE);
  cr_assert_eq(r.subtype, CX_SUB_NONE);
  cr_assert_eq(r.objection, 0);
  cr_assert_eq(r.valid_until, CX_DAY_OPEN);
  cr_assert_eq(r.report_date, CX_DAY_NONE);
  cr_assert_eq(r.amount_fen, 0);
  cr_assert_eq(r.measures.n, 0);
}

Test(fields, good_row_with_defaults) {
  row w;
  cx_record r;
  const char *why;
  base(&w);
  set(&w, "unknown_column", "ignored");
  cr_assert_eq(conv(&w, &r, &why), 0, "%s", why ? why : "");
  cr_assert(cx_str_eq(r.entity_code, CX_STR("91350100M000100Y43")));
  cr_assert(cx_str_eq(r.record_id, cx_str_c("榕市监罚〔2024〕15号")));
  cr_assert_eq(r.category, CX_CAT_PENALTY);
  cr_assert_eq(r.entity_kind, CX_KIND_ENTERPRISE); /* derived from "91" */
  cr_assert_eq(r.decision_date, day("2024-03-15"));
  cr_assert_eq(r.valid_from, day("2024-03-15"));
  cr_assert_eq(r.valid_until, CX_DAY_OPEN);
  cr_assert_eq(r.report_date, CX_DAY_NONE);
  cr_assert_eq(r.domain, CX_DOM_OTHER);
  cr_assert_eq(r.severity, CX_SEV_UNSET, "no tier given: the batch derives it");
  cr_assert_eq(r.status, CX_ST_ACTIVE);
  cr_assert_eq(r.amount_fen, 0);
}

Test(fields, full_row) {
  row w;
  cx_record r;
  const char *why;
  base(&w);
  set(&w, "entity_code", " 11010519491231002x ");
  set(&w, "entity_kind", "civil_servant");
  set(&w, "category", "gov_dishonesty");
  set(&w, "subtype", "disciplinary");
  set(&w, "list_type", "civil_servant_dishonest");
  set(&w, "measures", "no_honour,no_appointment");
  set(&w, "domain", "subdistrict");
  set(&w, "severity", "serious");
  set(&w, "status", "repaired");
  set(&w, "objection", "Yes");
  set(&w, "report_date", "2024-03-20");
  set(&w, "valid_from", "2024-03-16");
  set(&w, "valid_until", "2027-03-16");
  set(&w, "amount_fen", "123456");
  set(&w, "basis", "《公职人员政务处分法》");
  set(&w, "content", "x");
  cr_assert_eq(conv(&w, &r, &why), 0, "%s", why ? why : "");
  cr_assert(cx_str_eq(r.entity_code, CX_STR("11010519491231002x"))); /* trimmed, not normalised */
  cr_assert_eq(r.entity_kind, CX_KIND_CIVIL_SERVANT);
  cr_assert_eq(r.category, CX_CAT_GOV_DISHONESTY);
  cr_assert_eq(r.subtype, CX_SUB_DISCIPLINARY);
  cr_assert_eq(r.domain, CX_DOM_SUBDISTRICT);
  cr_assert_eq(r.severity, CX_SEV_SERIOUS);
  cr_assert_eq(r.status, CX_ST_REPAIRED);
  cr_assert_eq(r.objection, 1);
  cr_assert_eq(r.report_date, day("2024-03-20"));
  cr_assert_eq(r.valid_from, day("2024-03-16"));
  cr_assert_eq(r.valid_until, day("2027-03-16"));
  cr_assert_eq(r.amount_fen, 123456);
  cr_assert(cx_str_eq(r.measures, CX_STR("no_honour,no_appointment")));
  cr_assert(cx_str_eq(r.list_type, CX_STR("civil_servant_dishonest")));
  set(&w, "valid_until", "open");
  cr_assert_eq(conv(&w, &r, &why), 0);
  cr_assert_eq(r.valid_until, CX_DAY_OPEN);
}

Test(fields, kind_derived_from_code) {
  row w;
  cx_record r;
  const char *why;
  base(&w);
  set(&w, "entity_code", "11010519491231002X");
  cr_assert_eq(conv(&w, &r, &why), 0);
  cr_assert_eq(r.entity_kind, CX_KIND_PERSON);
  set(&w, "entity_code", "11350100003573410W");
  cr_assert_eq(conv(&w, &r, &why), 0);
  cr_assert_eq(r.entity_kind, CX_KIND_GOVERNMENT);
  set(&w, "entity_code", "91350100M000100Y44"); /* bad check: left for the batch */
  cr_assert_eq(conv(&w, &r, &why), 0);
  cr_assert_eq(r.entity_kind, CX_KIND_UNSET);
}

Test(fields, every_missing_required_field) {
  const char *req[] = {"entity_code", "entity_name", "record_id", "authority_code", "category", "decision_date"};
  for (size_t i = 0; i < sizeof req / sizeof *req; i++) {
    row w;
    cx_record r;
    const char *why;
    base(&w);
    drop(&w, req[i]);
    cr_assert_eq(conv(&w, &r, &why), CX_EBADREQ, "%s", req[i]);
    cr_assert_not_null(why);
    cr_assert_eq(strncmp(why, req[i], strlen(req[i])), 0, "%s: %s", req[i], why);
    base(&w);
    set(&w, req[i], "  "); /* blank counts as missing */
    cr_assert_eq(conv(&w, &r, &why), CX_EBADREQ, "%s", req[i]);
    cr_assert_eq(strncmp(why, req[i], strlen(req[i])), 0, "%s: %s", req[i], why);
  }
}

static void expect(const char *name, const char *value, int rc) {
  row w;
  cx_record r;
  const char *why;
  base(&w);
  set(&w, name, value);
  cr_assert_eq(conv(&w, &r, &why), rc, "%s=%s", name, value);
  cr_assert_not_null(why, "%s=%s", name, value);
  cr_assert_eq(strncmp(why, name, strlen(name)), 0, "%s=%s: %s", name, value, why);
}

Test(fields, bad_enums) {
  expect("category", "greylist", CX_EBADREQ);
  expect("category", "Penalty", CX_EBADREQ);
  expect("entity_kind", "company", CX_EBADREQ);
  expect("subtype", "judgement", CX_EBADREQ);
  expect("subtype", "judgment", CX_EBADREQ); /* not for a penalty */
  expect("domain", "health", CX_EBADREQ);
  expect("severity", "grave", CX_EBADREQ);
  expect("status", "deleted", CX_EBADREQ);
  expect("objection", "maybe", CX_EBADREQ);
}

Test(fields, blacklist_and_redlist_need_a_list_type) {
  row w;
  cx_record r;
  const char *why;
  base(&w);
  set(&w, "category", "blacklist");
  cr_assert_eq(conv(&w, &r, &why), CX_EBADREQ);
  cr_assert_str_eq(why, "list_type: required for blacklist and redlist records");
  set(&w, "category", "redlist");
  cr_assert_eq(conv(&w, &r, &why), CX_EBADREQ);
  set(&w, "list_type", "tax_a");
  cr_assert_eq(conv(&w, &r, &why), 0);
  cr_assert_eq(r.category, CX_CAT_REDLIST);
}

Test(fields, bad_dates) {
  expect("decision_date", "2024-02-30", CX_EDATE);
  expect("decision_date", "2024/03/15", CX_EDATE);
  expect("report_date", "yesterday", CX_EDATE);
  expect("report_date", "2024-03-14", CX_EDATE); /* before the decision */
  expect("valid_from", "2024-13-01", CX_EDATE);
  expect("valid_until", "2024-03-15", CX_EDATE); /* not after valid_from */
  expect("valid_until", "never", CX_EDATE);
  row w;
  cx_record r;
  const char *why;
  base(&w);
  set(&w, "decision_date", "2024-02-30");
  cr_assert_eq(conv(&w, &r, &why), CX_EDATE);
  cr_assert_str_eq(why, "decision_date: not a YYYY-MM-DD date");
}

static int64_t amount(const char *name, const char *value) {
  row w;
  cx_record r;
  const char *why;
  base(&w);
  set(&w, name, value);
  cr_assert_eq(conv(&w, &r, &why), 0, "%s=%s: %s", name, value, why ? why : "");
  return r.amount_fen;
}

Test(fields, amounts_convert_exactly) {
  cr_assert_eq(amount("amount_fen", "0"), 0);
  cr_assert_eq(amount("amount_fen", "9007199254740993"), 9007199254740993LL);
  cr_assert_eq(amount("amount_yuan", "12.34"), 1234);
  cr_assert_eq(amount("amount_yuan", "12.3"), 1230);
  cr_assert_eq(amount("amount_yuan", "12"), 1200);
  cr_assert_eq(amount("amount_yuan", "0.01"), 1);
  cr_assert_eq(amount("amount_yuan", ".5"), 50);
  cr_assert_eq(amount("amount_yuan", "7."), 700);
  cr_assert_eq(amount("amount_yuan", "1.230"), 123); /* trailing zeros beyond a fen are fine */
  cr_assert_eq(amount("amount_wan", "1.5"), 1500000);
  cr_assert_eq(amount("amount_wan", "0.000001"), 1);
  cr_assert_eq(amount("amount_wan", "3"), 3000000);
  cr_assert_eq(amount("amount_wan", "0.1"), 100000); /* 0.1 is not exact in binary: no floats */
  cr_assert_eq(amount("amount_wan", "12345.678901"), 12345678901LL);
}

Test(fields, bad_amounts) {
  expect("amount_wan", "0.0000001", CX_EBADREQ);
  expect("amount_yuan", "0.001", CX_EBADREQ);
  expect("amount_fen", "-1", CX_EBADREQ);
  expect("amount_yuan", "-0.01", CX_EBADREQ);
  expect("amount_wan", "-2", CX_EBADREQ);
  expect("amount_fen", "1.5", CX_EBADREQ);
  expect("amount_fen", "12a", CX_EBADREQ);
  expect("amount_yuan", "1,000", CX_EBADREQ);
  expect("amount_yuan", ".", CX_EBADREQ);
  expect("amount_yuan", "1.2.3", CX_EBADREQ);
  expect("amount_fen", "99999999999999999999", CX_EBADREQ);
  expect("amount_wan", "99999999999999", CX_EBADREQ); /* overflows int64 fen */
  row w;
  cx_record r;
  const char *why;
  base(&w);
  set(&w, "amount_fen", "150");
  set(&w, "amount_yuan", "1.50");
  cr_assert_eq(conv(&w, &r, &why), 0); /* agreeing amounts are fine */
  cr_assert_eq(r.amount_fen, 150);
  set(&w, "amount_yuan", "1.51");
  cr_assert_eq(conv(&w, &r, &why), CX_EBADREQ);
}

Test(fields, booleans_and_long_record_id) {
  const char *yes[] = {"true", "TRUE", "1", "yes"}, *no[] = {"false", "0", "No"};
  row w;
  cx_record r;
  const char *why;
  for (size_t i = 0; i < 4; i++) {
    base(&w);
    set(&w, "objection", yes[i]);
    cr_assert_eq(conv(&w, &r, &why), 0);
    cr_assert_eq(r.objection, 1);
  }
  for (size_t i = 0; i < 3; i++) {
    base(&w);
    set(&w, "objection", no[i]);
    cr_assert_eq(conv(&w, &r, &why), 0);
    cr_assert_eq(r.objection, 0);
  }
  char id[200];
  memset(id, 'x', 129);
  id[129] = 0;
  expect("record_id", id, CX_EBADREQ);
  id[128] = 0;
  base(&w);
  set(&w, "record_id", id);
  cr_assert_eq(conv(&w, &r, &why), 0);
}

Test(fields, out_untouched_on_error) {
  row w;
  cx_record r;
  const char *why;
  memset(&r, 0x5A, sizeof r);
  base(&w);
  set(&w, "severity", "bad");
  cr_assert_eq(conv(&w, &r, &why), CX_EBADREQ);
  cr_assert_eq(r.severity, 0x5A);
  cr_assert_eq(r.entity_kind, 0x5A);
}
