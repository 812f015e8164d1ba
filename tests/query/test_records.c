/* test_records.c — cx_query_records: paging, cursors, filters, roles and masking. */
#include "qtest.h"

static qt_env E;
static char ENT[19], ENT2[19], AUTH[19], PERSON[19];

#define NREC 47
static char rids[NREC + 20][32];

static void setup(void) {
  qt_open(&E);
  qt_ent(1, 350102, ENT);
  qt_ent(2, 350203, ENT2);
  qt_auth(1, AUTH);
  qt_idcard("35010219800101123", PERSON);
}
static void teardown(void) { qt_close(&E); }
TestSuite(records, .init = setup, .fini = teardown);

static uint8_t cat_of(int i) { return (uint8_t)(i % 3 == 0 ? CX_CAT_PENALTY : i % 3 == 1 ? CX_CAT_LICENSE : CX_CAT_COMPLAINT); }

/* NREC records on ENT: several share a decision date; some minor (never public). */
static void fill(void) {
  cx_batch *b;
  const char *why = NULL;
  cr_assert_eq(cx_batch_begin(E.st, &b), 0);
  for (int i = 0; i < NREC; i++) {
    snprintf(rids[i], sizeof rids[i], "REC-%03d", i);
    cx_record r = qt_rec(ENT, "福州某某建设有限公司", CX_KIND_ENTERPRISE, AUTH, rids[i], cat_of(i),
                         qt_day("2024-01-01") + (cx_day)(i / 4) * 7);
    r.severity = i % 5 == 0 ? CX_SEV_MINOR : CX_SEV_GENERAL;
    cr_assert_eq(cx_batch_put(b, &r, &why), 0, "%s", why);
  }
  /* A few on another entity */
  for (int i = 0; i < 5; i++) {
    char rid[32];
    snprintf(rid, sizeof rid, "OTHER-%d", i);
    cx_record r = qt_rec(ENT2, "厦门某某贸易有限公司", CX_KIND_ENTERPRISE, AUTH, rid, CX_CAT_PENALTY,
                         qt_day("2024-01-01") + (cx_day)i);
    cr_assert_eq(cx_batch_put(b, &r, &why), 0, "%s", why);
  }
  cr_assert_eq(cx_batch_commit(b, NULL), 0);
}

typedef struct seen {
  int n;
  int count[NREC + 20];
  cx_day last_date;
  int order_ok;
  int bad_cat;
  int want_cat;
  int masked_ok;
  int in_force, displayable;
} seen;

static int idx_of(cx_str rid) {
  for (int i = 0; i < NREC + 20; i++)
    if (rids[i][0] && cx_str_eq(rid, cx_str_c(rids[i]))) return i;
  return -1;
}

static int collect(void *ctx, const cx_record_view *v) {
  seen *s = ctx;
  int i = idx_of(v->r->record_id);
  cr_assert_geq(i, 0, "unexpected record %.*s", (int)v->r->record_id.n, v->r->record_id.p);
  s->count[i]++;
  s->n++;
  if (s->last_date && v->r->decision_date > s->last_date) s->order_ok = 0;
  s->last_date = v->r->decision_date;
  if (s->want_cat >= 0 && v->r->category != s->want_cat) s->bad_cat = 1;
  s->in_force += v->in_force;
  s->displayable += v->displayable;
  return 0;
}

/** Pages through everything; returns the number of pages. */
static int page_all(cx_role role, int category, uint32_t limit, const char *day, seen *s) {
  memset(s, 0, sizeof *s);
  if (role == CX_ROLE_PUBLIC) cx_day_set_today(qt_day(day)); /* the public sees today only */
  s->order_ok = 1;
  s->want_cat = category;
  char cur[CX_CURSOR_MAX] = "";
  int pages = 0;
  for (;;) {
    cx_records_req req = {cx_str_c(ENT), category, cx_str_c(cur), limit, qt_day(day), role};
    char next[CX_CURSOR_MAX];
    int before = s->n;
    int rc = cx_query_records(E.q, qt_txn(&E), &req, collect, s, next);
    cr_assert_eq(rc, 0, "page %d rc %d", pages, rc);
    pages++;
    cr_assert_leq((uint32_t)(s->n - before), limit);
    if (!next[0]) break;
    cr_assert_eq((uint32_t)(s->n - before), limit, "a page with a next cursor is full");
    cr_assert_lt(strlen(next), CX_CURSOR_MAX);
    for (char *c = next; *c; c++) cr_assert(*c > 32 && *c < 127, "printable cursor");
    strcpy(cur, next);
    cr_assert_lt(pages, 1000);
  }
  return pages;
}

Test(records, every_record_exactly_once_for_page_sizes_1_3_20) {
  fill();
  uint32_t sizes[] = {1, 3, 20, 47, 1000};
  for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
    seen s;
    int pages = page_all(CX_ROLE_ADMIN, -1, sizes[k], "2024-06-01", &s);
    cr_assert_eq(s.n, NREC, "size %u: %d records", sizes[k], s.n);
    for (int i = 0; i < NREC; i++) cr_assert_eq(s.count[i], 1, "size %u: %s", sizes[k], rids[i]);
    cr_assert(s.order_ok, "newest first");
    cr_assert_eq(pages, (NREC + (int)sizes[k] - 1) / (int)sizes[k]);
  }
}

Test(records, with_a_category_filter) {
  fill();
  int want = 0;
  for (int i = 0; i < NREC; i++) want += cat_of(i) == CX_CAT_PENALTY;
  uint32_t sizes[] = {1, 3, 20};
  for (size_t k = 0; k < 3; k++) {
    seen s;
    page_all(CX_ROLE_ANALYST, CX_CAT_PENALTY, sizes[k], "2024-06-01", &s);
    cr_assert_eq(s.n, want);
    cr_assert_not(s.bad_cat);
    for (int i = 0; i < NREC; i++) cr_assert_eq(s.count[i], cat_of(i) == CX_CAT_PENALTY);
  }
  seen s;
  page_all(CX_ROLE_ANALYST, CX_CAT_BLACKLIST, 3, "2024-06-01", &s);
  cr_assert_eq(s.n, 0);
}

Test(records, public_sees_only_displayable_records) {
  fill();
  seen s;
  page_all(CX_ROLE_PUBLIC, -1, 3, "2024-06-01", &s);
  /* minor 失信信息 is never shown; licences are public while valid, whatever their tier */
  int want = 0, lic = 0;
  for (int i = 0; i < NREC; i++) want += i % 5 != 0 || cat_of(i) == CX_CAT_LICENSE;
  for (int i = 0; i < NREC; i++) lic += cat_of(i) == CX_CAT_LICENSE;
  cr_assert_eq(s.n, want);
  cr_assert_eq(s.displayable, want);
  for (int i = 0; i < NREC; i++) cr_assert_eq(s.count[i], i % 5 != 0 || cat_of(i) == CX_CAT_LICENSE);
  /* Long after: nothing general is shown any more; the open-ended licences still are. */
  page_all(CX_ROLE_PUBLIC, -1, 3, "2026-06-01", &s);
  cr_assert_eq(s.n, lic);
  page_all(CX_ROLE_SUBMITTER, -1, 3, "2026-06-01", &s);
  cr_assert_eq(s.n, NREC, "other roles still see all");
  cr_assert_eq(s.displayable, lic);
  cr_assert_eq(s.in_force, NREC, "open-ended, active");
}

Test(records, inserts_between_pages_do_not_disturb_paging) {
  fill();
  seen s;
  memset(&s, 0, sizeof s);
  s.order_ok = 1;
  s.want_cat = -1;
  char cur[CX_CURSOR_MAX] = "";
  int pages = 0, extra = 0;
  for (;;) {
    cx_records_req req = {cx_str_c(ENT), -1, cx_str_c(cur), 5, qt_day("2024-06-01"), CX_ROLE_ADMIN};
    char next[CX_CURSOR_MAX];
    cr_assert_eq(cx_query_records(E.q, qt_txn(&E), &req, collect, &s, next), 0);
    pages++;
    if (!next[0]) break;
    strcpy(cur, next);
    /* A newer record (after the current position) lands between pages. */
    snprintf(rids[NREC + extra], sizeof rids[0], "NEW-%d", extra);
    cx_record r = qt_rec(ENT, "福州某某建设有限公司", CX_KIND_ENTERPRISE, AUTH, rids[NREC + extra],
                         CX_CAT_PENALTY, qt_day("2024-05-01") + (cx_day)extra);
    qt_put1(&E, &r);
    extra++;
  }
  for (int i = 0; i < NREC; i++) cr_assert_eq(s.count[i], 1, "%s", rids[i]);
  for (int i = 0; i < extra; i++) cr_assert_eq(s.count[NREC + i], 0, "newer ones do not appear");
}

static int get_page(const char *code, int cat, const char *cursor, uint32_t limit, char next[CX_CURSOR_MAX]) {
  seen s;
  memset(&s, 0, sizeof s);
  s.want_cat = -1;
  cx_records_req req = {cx_str_c(code), cat, cx_str_c(cursor), limit, qt_day("2024-06-01"), CX_ROLE_ADMIN};
  return cx_query_records(E.q, qt_txn(&E), &req, collect, &s, next);
}

Test(records, forged_foreign_and_malformed_cursors_are_bad_requests) {
  fill();
  char c1[CX_CURSOR_MAX], c2[CX_CURSOR_MAX], next[CX_CURSOR_MAX];
  cr_assert_eq(get_page(ENT, -1, "", 3, c1), 0);
  cr_assert_neq(c1[0], 0);
  cr_assert_eq(get_page(ENT, -1, c1, 3, c2), 0, "the genuine cursor works");
  /* another entity */
  cr_assert_eq(get_page(ENT2, -1, c1, 3, next), CX_EBADREQ);
  /* a different category filter */
  cr_assert_eq(get_page(ENT, CX_CAT_PENALTY, c1, 3, next), CX_EBADREQ);
  char cp[CX_CURSOR_MAX];
  cr_assert_eq(get_page(ENT, CX_CAT_PENALTY, "", 3, cp), 0);
  cr_assert_eq(get_page(ENT, -1, cp, 3, next), CX_EBADREQ);
  cr_assert_eq(get_page(ENT, CX_CAT_PENALTY, cp, 3, next), 0);
  /* every single-character change */
  size_t n = strlen(c1);
  for (size_t i = 0; i < n; i++) {
    char f[CX_CURSOR_MAX];
    strcpy(f, c1);
    f[i] = f[i] == '0' ? '1' : '0';
    cr_assert_eq(get_page(ENT, -1, f, 3, next), CX_EBADREQ, "flip at %zu", i);
  }
  /* malformed */
  const char *bad[] = {"x", "zz", "0000", "not a cursor at all", "ÿÿÿÿ"};
  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    cr_assert_eq(get_page(ENT, -1, bad[i], 3, next), CX_EBADREQ, "%s", bad[i]);
  char trunc[CX_CURSOR_MAX];
  strcpy(trunc, c1);
  trunc[n - 2] = 0;
  cr_assert_eq(get_page(ENT, -1, trunc, 3, next), CX_EBADREQ);
  char longer[CX_CURSOR_MAX + 8];
  snprintf(longer, sizeof longer, "%s00", c1);
  cr_assert_eq(get_page(ENT, -1, longer, 3, next), CX_EBADREQ);
  /* A cursor from another store (different salt) */
  qt_env other;
  qt_open(&other);
  qt_env save = E;
  E = other;
  fill();
  cr_assert_eq(get_page(ENT, -1, c1, 3, next), CX_EBADREQ, "another store's cursor");
  qt_close(&E);
  E = save;
}

Test(records, limits_and_errors) {
  fill();
  char next[CX_CURSOR_MAX];
  cr_assert_eq(get_page(ENT, -1, "", 1001, next), CX_EBADREQ);
  cr_assert_eq(get_page(ENT, 99, "", 10, next), CX_EBADREQ);
  cr_assert_eq(get_page(ENT, -2, "", 10, next), CX_EBADREQ);
  char unknown[19];
  qt_ent(99, 350102, unknown);
  cr_assert_eq(get_page(unknown, -1, "", 10, next), CX_ENOTFOUND);
  cr_assert_lt(get_page("bogus", -1, "", 10, next), 0);
  /* limit 0 means 20 */
  seen s;
  memset(&s, 0, sizeof s);
  s.want_cat = -1;
  cx_records_req req = {cx_str_c(ENT), -1, CX_STR(""), 0, qt_day("2024-06-01"), CX_ROLE_ADMIN};
  cr_assert_eq(cx_query_records(E.q, qt_txn(&E), &req, collect, &s, next), 0);
  cr_assert_eq(s.n, 20);
  cr_assert_neq(next[0], 0);
}

static int check_masked(void *ctx, const cx_record_view *v) {
  const char *mask = ctx;
  cr_assert(cx_str_eq(v->r->entity_code, cx_str_c(mask)), "got %.*s", (int)v->r->entity_code.n,
            v->r->entity_code.p);
  return 0;
}

static int check_full(void *ctx, const cx_record_view *v) {
  cr_assert(cx_str_eq(v->r->entity_code, cx_str_c((const char *)ctx)));
  return 0;
}

Test(records, public_gets_masked_id_numbers) {
  cx_record r = qt_rec(PERSON, "张三", CX_KIND_PERSON, AUTH, "PB1", CX_CAT_BLACKLIST, qt_day("2024-01-06"));
  r.list_type = CX_STR("court_dishonest");
  r.severity = CX_SEV_SERIOUS;
  qt_put1(&E, &r);
  r = qt_rec(PERSON, "张三", CX_KIND_PERSON, AUTH, "PP1", CX_CAT_PENALTY, qt_day("2024-01-07"));
  qt_put1(&E, &r);
  char mask[19], next[CX_CURSOR_MAX];
  cx_idcard_mask(PERSON, mask);
  cx_records_req req = {cx_str_c(PERSON), -1, CX_STR(""), 10, qt_day(QT_TODAY), CX_ROLE_PUBLIC};
  seen s;
  memset(&s, 0, sizeof s);
  s.want_cat = -1;
  strcpy(rids[0], "PB1");
  strcpy(rids[1], "PP1");
  cr_assert_eq(cx_query_records(E.q, qt_txn(&E), &req, collect, &s, next), 0);
  cr_assert_eq(s.n, 1, "the penalty of a person is not public");
  cr_assert_eq(s.count[0], 1);
  cr_assert_eq(cx_query_records(E.q, qt_txn(&E), &req, check_masked, mask, next), 0);
  req.role = CX_ROLE_APPROVAL;
  cr_assert_eq(cx_query_records(E.q, qt_txn(&E), &req, check_full, PERSON, next), 0);
  /* A person with only non-public records does not exist for the public. */
  char p2[19];
  qt_idcard("35010219900101123", p2);
  r = qt_rec(p2, "王五", CX_KIND_PERSON, AUTH, "PP2", CX_CAT_PENALTY, qt_day("2024-01-07"));
  qt_put1(&E, &r);
  req.code = cx_str_c(p2);
  req.role = CX_ROLE_PUBLIC;
  cr_assert_eq(cx_query_records(E.q, qt_txn(&E), &req, NULL, NULL, next), CX_ENOTFOUND);
}

Test(records, a_hidden_entity_is_not_found_whatever_the_cursor) {
  fill();
  /* a person with only a (non-public) penalty, and a real cursor of a visible entity */
  char p2[19], next[CX_CURSOR_MAX], cur[CX_CURSOR_MAX];
  qt_idcard("35010219900101123", p2);
  cx_record r = qt_rec(p2, "王五", CX_KIND_PERSON, AUTH, "PP2", CX_CAT_PENALTY, qt_day("2024-01-07"));
  qt_put1(&E, &r);
  cx_records_req req = {cx_str_c(ENT), -1, CX_STR(""), 2, qt_day(QT_TODAY), CX_ROLE_PUBLIC};
  cr_assert_eq(cx_query_records(E.q, qt_txn(&E), &req, NULL, NULL, cur), 0);
  cr_assert_neq(cur[0], 0);
  char unknown[19];
  qt_ent(99, 350102, unknown);
  const char *cursors[] = {"", cur, "garbage", "00"};
  for (size_t i = 0; i < 4; i++) {
    req.cursor = cx_str_c(cursors[i]);
    req.code = cx_str_c(p2);
    cr_assert_eq(cx_query_records(E.q, qt_txn(&E), &req, NULL, NULL, next), CX_ENOTFOUND, "hidden, cursor %zu", i);
    req.code = cx_str_c(unknown);
    cr_assert_eq(cx_query_records(E.q, qt_txn(&E), &req, NULL, NULL, next), CX_ENOTFOUND, "unknown, cursor %zu", i);
  }
  /* a visible entity with a garbage cursor is a bad request, as before */
  req.code = cx_str_c(ENT);
  req.cursor = CX_STR("garbage");
  cr_assert_eq(cx_query_records(E.q, qt_txn(&E), &req, NULL, NULL, next), CX_EBADREQ);
  /* and the public asks about today only */
  req.cursor = CX_STR("");
  req.as_of = qt_day(QT_TODAY) - 1;
  cr_assert_eq(cx_query_records(E.q, qt_txn(&E), &req, NULL, NULL, next), CX_EPUBLICDAY);
}

Test(records, approval_no_longer_receives_a_repaired_record) {
  fill();
  cx_batch *b;
  const char *why;
  cr_assert_eq(cx_batch_begin(E.st, &b), 0);
  cx_batch_actor admin = {CX_STR("ops"), CX_STR("admin"), CX_STR(""), 1, NULL, 0};
  cr_assert_eq(cx_batch_set_actor(b, &admin), 0);
  cr_assert_eq(cx_batch_transition(b, cx_str_c(AUTH), cx_str_c(rids[3]), CX_EV_REPAIR, 1, CX_STR("t"), &why), 0);
  cr_assert_eq(cx_batch_commit(b, NULL), 0);
  seen s;
  page_all(CX_ROLE_APPROVAL, -1, 7, "2024-06-01", &s);
  cr_assert_eq(s.n, NREC - 1);
  cr_assert_eq(s.count[3], 0, "停止共享: repaired records are not shared");
  page_all(CX_ROLE_ANALYST, -1, 7, "2024-06-01", &s);
  cr_assert_eq(s.n, NREC);
  cr_assert_eq(s.count[3], 1, "the platform's analysts keep it");
}

Test(records, a_walk_over_many_hidden_records_ends_short_with_a_cursor) {
  /* 25,000 minor penalties (never public) over 5 older general ones: the public's walk is
   * bounded per call and the pages, short, still lead to every visible record once. */
  cx_batch *b;
  const char *why = NULL;
  cr_assert_eq(cx_batch_begin(E.st, &b), 0);
  for (int i = 0; i < 25005; i++) {
    char rid[32];
    snprintf(rid, sizeof rid, "H-%05d", i);
    if (i >= 25000) snprintf(rids[i - 25000], sizeof rids[0], "%s", rid);
    cx_record r = qt_rec(ENT, "福州某某建设有限公司", CX_KIND_ENTERPRISE, AUTH, rid, CX_CAT_PENALTY,
                         qt_day(i < 25000 ? "2024-05-01" : "2024-02-01"));
    r.severity = i < 25000 ? CX_SEV_MINOR : CX_SEV_GENERAL;
    cr_assert_eq(cx_batch_put(b, &r, &why), 0, "%s", why);
  }
  cr_assert_eq(cx_batch_commit(b, NULL), 0);
  seen s;
  memset(&s, 0, sizeof s);
  s.want_cat = -1;
  char cur[CX_CURSOR_MAX] = "", next[CX_CURSOR_MAX];
  int calls = 0, short_pages = 0;
  for (;;) {
    cx_records_req req = {cx_str_c(ENT), -1, cx_str_c(cur), 20, qt_day(QT_TODAY), CX_ROLE_PUBLIC};
    int before = s.n;
    cr_assert_eq(cx_query_records(E.q, qt_txn(&E), &req, collect, &s, next), 0);
    calls++;
    if (next[0] && s.n - before < 20) short_pages++;
    if (!next[0]) break;
    strcpy(cur, next);
    cr_assert_lt(calls, 10, "the walk makes progress");
  }
  cr_assert_eq(s.n, 5);
  for (int i = 0; i < 5; i++) cr_assert_eq(s.count[i], 1, "%s", rids[i]);
  cr_assert_geq(short_pages, 2, "25,000 hidden records take at least 3 bounded walks");
  cr_assert_eq(calls, 3);
}
