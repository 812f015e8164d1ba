/* test_lifecycle.c — the record lifecycle state machine (store/lifecycle.c) and how a batch
 * applies it: re-feeds keep the state, revoked is final, repair waits for the minimum period
 * unless an admin overrides, every transition is audited, writes stay in the actor's scope. */
#include "fixture.h"

static char dir[256];
static cx_store *st;
static char A1[19], A2[19], E1[19];
static void setup(void) {
  cx_test_tmpdir(dir, sizeof dir);
  st = fx_open(dir, 0);
  fx_auth(1, A1);
  fx_auth(2, A2);
  fx_uscc(1, E1);
  /* today: 2024-06-01 */
  cx_day_set_today(fx_day(2024, 6, 1));
}
static void teardown(void) {
  cx_day_set_today(0);
  cx_store_close(st);
  cx_test_rmrf(dir);
}
TestSuite(lifecycle, .init = setup, .fini = teardown);

static const cx_batch_actor ADMIN = {{"ops", 3}, {"admin", 5}, {"", 0}, 1, NULL, 0};

/* A general penalty (3 months minimum) of authority auth, decided on `decision`. */
static cx_record penalty(const char *auth, const char *rid, cx_day decision) {
  cx_record r;
  fx_record(&r, E1, "一号公司", auth, rid, decision);
  r.category = CX_CAT_PENALTY;
  r.severity = CX_SEV_GENERAL;
  return r;
}

static void put1(const cx_record *r, cx_batch_result *res) {
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  fx_put(b, r);
  cr_assert_eq(cx_batch_commit(b, res), 0);
}

/* One event in a batch of its own; returns the commit's code. */
static int event(const cx_batch_actor *a, const char *auth, const char *rid, int ev, int override,
                 cx_batch_result *res) {
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  if (a) cr_assert_eq(cx_batch_set_actor(b, a), 0);
  const char *why = NULL;
  int rc = cx_batch_transition(b, cx_str_c(auth), cx_str_c(rid), ev, override, CX_STR("理由"), &why);
  if (rc) {
    cx_batch_abort(b);
    return rc;
  }
  return cx_batch_commit(b, res);
}

static cx_record get(const char *auth, const char *rid) {
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cx_record r;
  cr_assert_eq(cx_store_record_get(t, cx_str_c(auth), cx_str_c(rid), NULL, &r), 0);
  cx_store_txn_end(t);
  r.record_id = r.authority_code = r.authority_name = r.entity_code = r.entity_name = (cx_str){"", 0};
  r.list_type = r.measures = r.basis = r.content = (cx_str){"", 0};
  return r;
}

/* The audit entries from seq `from` on, as "op|target|detail" lines. */
typedef struct lines {
  int n;
  char v[16][256];
} lines;
static int collect(void *ctx, const cx_audit_entry *e) {
  lines *l = ctx;
  if (l->n < 16)
    snprintf(l->v[l->n++], sizeof l->v[0], "%.*s|%.*s|%.*s|%.*s", (int)e->who.n, e->who.p, (int)e->op.n, e->op.p,
             (int)e->target.n, e->target.p, (int)e->detail.n, e->detail.p);
  return 0;
}
static lines audit_from(uint64_t from) {
  lines l;
  memset(&l, 0, sizeof l);
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cr_assert_eq(cx_store_audit_each(t, from, 0, 0, collect, &l), 0);
  cx_store_txn_end(t);
  return l;
}

Test(lifecycle, the_state_machine) {
  uint8_t s, o;
  const char *why;
  cr_assert_eq(cx_lifecycle_next(CX_ST_ACTIVE, 0, CX_EV_REPAIR, &s, &o, &why), 0);
  cr_assert_eq(s, CX_ST_REPAIRED);
  cr_assert_eq(cx_lifecycle_next(CX_ST_REPAIRED, 0, CX_EV_REPAIR, &s, &o, &why), 1, "idempotent");
  cr_assert_eq(cx_lifecycle_next(CX_ST_REPAIRED, 0, CX_EV_REINSTATE, &s, &o, &why), 0);
  cr_assert_eq(s, CX_ST_ACTIVE);
  cr_assert_eq(cx_lifecycle_next(CX_ST_ACTIVE, 0, CX_EV_REINSTATE, &s, &o, &why), CX_EBADREQ);
  cr_assert_eq(cx_lifecycle_next(CX_ST_REPAIRED, 1, CX_EV_REVOKE, &s, &o, &why), 0);
  cr_assert_eq(s, CX_ST_REVOKED);
  cr_assert_eq(o, 1, "the objection is independent of the status");
  for (int ev = 0; ev < CX_EV_COUNT; ev++) {
    int rc = cx_lifecycle_next(CX_ST_REVOKED, 1, ev, &s, &o, &why);
    if (ev == CX_EV_REVOKE) cr_assert_eq(rc, 1);
    else if (ev == CX_EV_OBJECTION_WITHDRAW) cr_assert_eq(rc, 0);
    else cr_assert_eq(rc, CX_EBADREQ, "revoked is final (%s)", cx_event_names[ev]);
  }
  cr_assert_eq(cx_lifecycle_next(CX_ST_ACTIVE, 0, CX_EV_OBJECTION, &s, &o, &why), 0);
  cr_assert_eq(o, 1);
  cr_assert_eq(cx_lifecycle_next(CX_ST_ACTIVE, 1, CX_EV_OBJECTION, &s, &o, &why), 1);
  cr_assert_eq(cx_lifecycle_next(CX_ST_ACTIVE, 1, CX_EV_OBJECTION_WITHDRAW, &s, &o, &why), 0);
  cr_assert_eq(o, 0);
  cr_assert_eq(cx_lifecycle_next(CX_ST_ACTIVE, 0, CX_EV_COUNT, &s, &o, &why), CX_EBADREQ);
}

Test(lifecycle, a_refeed_keeps_repaired_revoked_and_objection) {
  cx_batch_result res;
  cx_record r = penalty(A1, "P1", fx_day(2024, 1, 10));
  put1(&r, &res);
  cr_assert_eq(event(NULL, A1, "P1", CX_EV_REPAIR, 0, &res), 0);
  cr_assert_eq(res.transitions, 1);
  /* the authority's routine feed sends the row again, status active (the default) */
  put1(&r, &res);
  cr_assert_eq(res.kept, 1, "the summary says the row kept its state");
  cr_assert_eq(res.unchanged, 1);
  cr_assert_eq(get(A1, "P1").status, CX_ST_REPAIRED, "a re-feed never undoes a repair");
  /* a corrected row (new content) keeps it too */
  r.amount_fen = 500000;
  put1(&r, &res);
  cr_assert_eq(res.replaced, 1);
  cr_assert_eq(res.kept, 1);
  cr_assert_eq(get(A1, "P1").status, CX_ST_REPAIRED);
  cr_assert_eq(get(A1, "P1").amount_fen, 500000);
  /* objection: kept over a re-feed without one */
  cx_record r2 = penalty(A1, "P2", fx_day(2024, 1, 11));
  put1(&r2, &res);
  cr_assert_eq(event(NULL, A1, "P2", CX_EV_OBJECTION, 0, &res), 0);
  put1(&r2, &res);
  cr_assert_eq(get(A1, "P2").objection, 1);
  /* a feed row that revokes revokes, and revoked is kept by every later re-feed */
  r2.status = CX_ST_REVOKED;
  put1(&r2, &res);
  cr_assert_eq(res.transitions, 1);
  cr_assert_eq(get(A1, "P2").status, CX_ST_REVOKED);
  r2.status = CX_ST_ACTIVE;
  put1(&r2, &res);
  cr_assert_eq(get(A1, "P2").status, CX_ST_REVOKED, "revoked is final");
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0);
}

Test(lifecycle, revoked_cannot_be_repaired_or_reinstated) {
  cx_batch_result res;
  cx_record r = penalty(A1, "P1", fx_day(2024, 1, 10));
  put1(&r, &res);
  cr_assert_eq(event(NULL, A1, "P1", CX_EV_REVOKE, 0, &res), 0);
  cr_assert_eq(event(NULL, A1, "P1", CX_EV_REPAIR, 0, &res), CX_EBADREQ);
  cr_assert(strstr(res.error, "revoked is final"), "%s", res.error);
  cr_assert_eq(event(&ADMIN, A1, "P1", CX_EV_REPAIR, 1, &res), CX_EBADREQ, "not even by admin");
  cr_assert_eq(event(NULL, A1, "P1", CX_EV_REINSTATE, 0, &res), CX_EBADREQ);
  cr_assert_eq(event(NULL, A1, "P1", CX_EV_OBJECTION, 0, &res), CX_EBADREQ);
  cr_assert_eq(get(A1, "P1").status, CX_ST_REVOKED);
}

Test(lifecycle, repair_waits_for_the_minimum_period_unless_admin_overrides) {
  cx_batch_result res;
  /* general, decided 2024-04-10: repair from 2024-07-10; today is 2024-06-01 */
  cx_record r = penalty(A1, "P1", fx_day(2024, 4, 10));
  put1(&r, &res);
  uint64_t before;
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cr_assert_eq(cx_store_audit_last(t, &before), 0);
  cx_store_txn_end(t);
  cr_assert_eq(event(NULL, A1, "P1", CX_EV_REPAIR, 0, &res), CX_EBADREQ);
  cr_assert(strstr(res.error, "not before 2024-07-10"), "the earliest day is named: %s", res.error);
  cr_assert_eq(audit_from(before + 1).n, 0, "a refused transition writes nothing");
  /* override without the right: forbidden at once */
  cr_assert_eq(event(NULL, A1, "P1", CX_EV_REPAIR, 1, &res), CX_EFORBIDDEN);
  /* admin, with a reason: done and audited as an override */
  cr_assert_eq(event(&ADMIN, A1, "P1", CX_EV_REPAIR, 1, &res), 0);
  cr_assert_eq(get(A1, "P1").status, CX_ST_REPAIRED);
  lines l = audit_from(before + 1);
  cr_assert_eq(l.n, 1);
  char want[160];
  snprintf(want, sizeof want, "ops|repair|%s/P1|active -> repaired (override of the minimum period): 理由", A1);
  cr_assert_str_eq(l.v[0], want);
  /* on the first day of repair it needs no override */
  cx_record r2 = penalty(A1, "P2", fx_day(2024, 3, 1));
  put1(&r2, &res);
  cr_assert_eq(event(NULL, A1, "P2", CX_EV_REPAIR, 0, &res), 0, "%s", res.error);
  /* minor records may be repaired at once; licences are not 失信信息 and are not repaired */
  cx_record r3 = penalty(A1, "P3", fx_day(2024, 5, 30));
  r3.severity = CX_SEV_MINOR;
  put1(&r3, &res);
  cr_assert_eq(event(NULL, A1, "P3", CX_EV_REPAIR, 0, &res), 0, "%s", res.error);
  cx_record r4 = penalty(A1, "L1", fx_day(2020, 1, 1));
  r4.category = CX_CAT_LICENSE;
  put1(&r4, &res);
  cr_assert_eq(event(&ADMIN, A1, "L1", CX_EV_REPAIR, 1, &res), CX_EBADREQ);
  cr_assert(strstr(res.error, "negative"), "%s", res.error);
}

Test(lifecycle, every_transition_writes_one_audit_entry_objection_history_included) {
  cx_batch_result res;
  cx_record r = penalty(A1, "P1", fx_day(2024, 1, 10));
  put1(&r, &res);
  uint64_t before;
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cr_assert_eq(cx_store_audit_last(t, &before), 0);
  cx_store_txn_end(t);
  cr_assert_eq(event(&ADMIN, A1, "P1", CX_EV_OBJECTION, 0, &res), 0);
  cr_assert_eq(event(&ADMIN, A1, "P1", CX_EV_OBJECTION, 0, &res), 0);
  cr_assert_eq(res.transitions, 0, "an open objection opened again changes nothing");
  cr_assert_eq(event(&ADMIN, A1, "P1", CX_EV_OBJECTION_WITHDRAW, 0, &res), 0);
  cr_assert_eq(event(&ADMIN, A1, "P1", CX_EV_REPAIR, 0, &res), 0);
  cr_assert_eq(event(&ADMIN, A1, "P1", CX_EV_REINSTATE, 0, &res), 0);
  cr_assert_eq(res.status, CX_ST_ACTIVE);
  lines l = audit_from(before + 1);
  cr_assert_eq(l.n, 4, "open, close, repair, reinstate");
  cr_assert(strstr(l.v[0], "|objection|") && strstr(l.v[0], "objection closed -> open"), "%s", l.v[0]);
  cr_assert(strstr(l.v[1], "|objection_withdraw|") && strstr(l.v[1], "open -> closed"), "%s", l.v[1]);
  cr_assert(strstr(l.v[2], "|repair|") && strstr(l.v[2], "active -> repaired"), "%s", l.v[2]);
  cr_assert(strstr(l.v[3], "|reinstate|") && strstr(l.v[3], "repaired -> active"), "%s", l.v[3]);
}

Test(lifecycle, writes_stay_inside_the_actors_authorities) {
  cx_batch_result res;
  cx_record r1 = penalty(A1, "P1", fx_day(2024, 1, 10)), r2 = penalty(A2, "P2", fx_day(2024, 1, 10));
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  fx_put(b, &r1);
  fx_put(b, &r2);
  cr_assert_eq(cx_batch_commit(b, &res), 0);
  const char scope[1][CX_CODE_LEN + 1] = {{0}};
  char a1[1][CX_CODE_LEN + 1];
  memcpy(a1[0], A1, sizeof a1[0]);
  cx_batch_actor bureau = {CX_STR("区市场监管局"), CX_STR("submitter"), CX_STR(""), 0,
                           (const char(*)[CX_CODE_LEN + 1])a1, 1};
  /* its own authority: fine; another's: forbidden, for puts and for every event */
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  cr_assert_eq(cx_batch_set_actor(b, &bureau), 0);
  const char *why = NULL;
  cr_assert_eq(cx_batch_put(b, &r1, &why), 0);
  cr_assert_eq(cx_batch_put(b, &r2, &why), CX_EFORBIDDEN);
  cr_assert(why && strstr(why, "authority"), "%s", why ? why : "");
  cr_assert_eq(cx_batch_size(b), 1);
  cx_batch_abort(b);
  for (int ev = 0; ev < CX_EV_COUNT; ev++) {
    cr_assert_eq(event(&bureau, A2, "P2", ev, 0, &res), CX_EFORBIDDEN, "%s", cx_event_names[ev]);
    cr_assert_eq(event(&bureau, A1, "nope", ev, 0, &res), CX_ENOTFOUND, "%s", cx_event_names[ev]);
  }
  cr_assert_eq(event(&bureau, A1, "P1", CX_EV_REVOKE, 0, &res), 0);
  /* an empty scope writes nothing */
  cx_batch_actor none = bureau;
  none.authorities = scope;
  none.n_authorities = 0;
  cr_assert_eq(event(&none, A1, "P1", CX_EV_OBJECTION_WITHDRAW, 0, &res), CX_EFORBIDDEN);
  /* and the lowest-case or spaced spelling of an authority code is the same authority */
  char lower[24];
  snprintf(lower, sizeof lower, " %s ", A1);
  for (char *c = lower; *c; c++)
    if (*c >= 'A' && *c <= 'Z') *c = (char)(*c - 'A' + 'a');
  cr_assert_eq(event(&bureau, lower, "P1", CX_EV_OBJECTION_WITHDRAW, 0, &res), 0);
  cr_assert_eq(get(A2, "P2").status, CX_ST_ACTIVE, "the other authority's record is untouched");
}
