/* test_digest.c — cx_store_digest (store/digest.c) and the restore path (store/restore.c,
 * cx_batch_set_restore): the digest is of the logical content, not of pages or ids; a
 * restore batch writes the stored state as given. */
#include "fixture.h"

static char dir[256];
static cx_store *st;

static void setup(void) {
  cx_test_tmpdir(dir, sizeof dir);
  cx_day_set_today(fx_day(2025, 3, 1));
  char p[300];
  snprintf(p, sizeof p, "%s/a", dir);
  st = fx_open(p, 0);
}
static void teardown(void) {
  if (st) cx_store_close(st);
  st = NULL;
  cx_day_set_today(0);
  cx_test_rmrf(dir);
}
TestSuite(digest, .init = setup, .fini = teardown);

static char codes[8][CX_CODE_LEN + 1], auths[2][CX_CODE_LEN + 1];

/* Six records over three entities and two authorities, put in order `order` (0 or 1). */
static void fill(cx_store *s, int order) {
  for (unsigned i = 0; i < 8; i++) fx_uscc(100 + i, codes[i]);
  fx_auth(7, auths[0]);
  fx_auth(8, auths[1]);
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(s, &b), 0);
  for (int k = 0; k < 6; k++) {
    int i = order ? 5 - k : k;
    char rid[16];
    snprintf(rid, sizeof rid, "R-%d", i);
    cx_record r;
    fx_record(&r, codes[i % 3], "某某公司", auths[i % 2], rid, fx_day(2024, 1 + i, 3));
    r.amount_fen = 1000 * i;
    fx_put(b, &r);
  }
  cx_batch_result res;
  cr_assert_eq(cx_batch_commit(b, &res), 0, "%s", res.error);
}

static void digest_of(cx_store *s, unsigned char out[CX_DIGEST_LEN]) {
  int rc = cx_store_digest(s, out);
  cr_assert_eq(rc, 0, "digest: %s (%s)", cx_strerror(rc), cx_store_errmsg(s));
}

static int transition(cx_store *s, int ev, const char *rid) {
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(s, &b), 0);
  const char *why = NULL;
  cr_assert_eq(cx_batch_transition(b, cx_str_c(auths[0]), cx_str_c(rid), ev, 0, CX_STR("test"), &why), 0);
  cx_batch_result res;
  return cx_batch_commit(b, &res);
}

Test(digest, is_the_same_for_the_same_content_put_in_another_order) {
  fill(st, 0);
  char p[300];
  snprintf(p, sizeof p, "%s/b", dir);
  cx_store *other = fx_open(p, 0);
  fill(other, 1);
  unsigned char a[CX_DIGEST_LEN], b[CX_DIGEST_LEN];
  digest_of(st, a);
  digest_of(other, b);
  cr_expect_eq(memcmp(a, b, CX_DIGEST_LEN), 0, "same records, other seqs and ids: same digest");
  cx_store_close(other);
}

Test(digest, is_kept_by_a_backup_and_changed_by_transitions_and_audit_entries) {
  fill(st, 0);
  unsigned char d0[CX_DIGEST_LEN], d1[CX_DIGEST_LEN], d2[CX_DIGEST_LEN], d3[CX_DIGEST_LEN],
      bk[CX_DIGEST_LEN];
  digest_of(st, d0);
  char p[300];
  snprintf(p, sizeof p, "%s/backup", dir);
  cr_assert_eq(cx_store_backup(st, p), 0, "%s", cx_store_errmsg(st));
  cx_store *cp = fx_open(p, 0);
  digest_of(cp, bk);
  cx_store_close(cp);
  cr_expect_eq(memcmp(d0, bk, CX_DIGEST_LEN), 0, "a compacting copy has the same content");

  cr_assert_eq(transition(st, CX_EV_OBJECTION, "R-0"), 0);
  digest_of(st, d1);
  cr_expect_neq(memcmp(d0, d1, CX_DIGEST_LEN), 0, "an objection changes it");
  cr_assert_eq(transition(st, CX_EV_REVOKE, "R-2"), 0);
  digest_of(st, d2);
  cr_expect_neq(memcmp(d1, d2, CX_DIGEST_LEN), 0, "a revoke changes it");
  cx_audit_entry e = {0};
  e.op = CX_STR("records");
  e.who = CX_STR("t");
  cr_assert_eq(cx_store_audit_append(st, &e, 1), 0);
  digest_of(st, d3);
  cr_expect_neq(memcmp(d2, d3, CX_DIGEST_LEN), 0, "an audit entry changes it");
  char hex[2 * CX_DIGEST_LEN + 1];
  cx_digest_hex(d3, hex);
  cr_expect_eq(strlen(hex), 64);
}

Test(digest, of_an_empty_store_depends_only_on_its_data_files) {
  char p[300];
  snprintf(p, sizeof p, "%s/b", dir);
  cx_store *other = fx_open(p, 0);
  unsigned char a[CX_DIGEST_LEN], b[CX_DIGEST_LEN];
  digest_of(st, a);
  digest_of(other, b);
  cr_expect_eq(memcmp(a, b, CX_DIGEST_LEN), 0);
  cr_assert_eq(cx_store_data_put(st, "calendar", "published 2025\n", 15, NULL), 0);
  digest_of(st, a);
  cr_expect_neq(memcmp(a, b, CX_DIGEST_LEN), 0, "another calendar, another digest");
  cx_store_close(other);
}

/* ------------------------------------------------------------------ restore path */

static int rec_cb(void *ctx, const cx_reckey *k, const cx_record *r) {
  (void)k;
  *(cx_record *)ctx = *r;
  return 1;
}

Test(digest, a_restore_batch_keeps_the_stored_state_and_refuses_what_would_change_it) {
  fx_uscc(1, codes[0]);
  fx_auth(1, auths[0]);
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  cr_assert_eq(cx_batch_set_restore(b), 0);
  cx_record r;
  fx_record(&r, codes[0], "甲公司", auths[0], "X-1", fx_day(2024, 1, 2));
  const char *why = NULL;
  cr_expect_eq(cx_batch_put(b, &r, &why), CX_EBADREQ, "no tier given: refused, not derived");
  r.severity = CX_SEV_SERIOUS;
  r.entity_kind = CX_KIND_ENTERPRISE;
  r.status = CX_ST_REPAIRED; /* a state only a transition reaches on ingest of an update */
  r.objection = 1;
  r.report_date = CX_DAY_NONE; /* no receipt day is invented */
  r.report_delay = -1;
  r.on_time = 0;
  fx_put(b, &r);
  cr_expect_eq(cx_batch_put(b, &r, &why), CX_EBADREQ, "given twice");
  cr_expect_eq(cx_batch_transition(b, cx_str_c(auths[0]), CX_STR("X-1"), CX_EV_REVOKE, 0, CX_STR("x"), &why),
               CX_EBADREQ);
  cx_record r2;
  fx_record(&r2, codes[0], "甲公司", auths[0], "X-2", fx_day(2024, 1, 2));
  r2.severity = CX_SEV_GENERAL;
  r2.entity_kind = CX_KIND_ENTERPRISE;
  r2.report_date = fx_day(2024, 2, 1);
  r2.report_received = 1;
  r2.report_delay = 99; /* as the source computed it: kept */
  r2.on_time = 0;
  fx_put(b, &r2);
  cx_batch_result res;
  cr_assert_eq(cx_batch_commit(b, &res), 0, "%s", res.error);
  cr_expect_eq(res.transitions, 0);

  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cx_reckey k;
  cx_record got;
  cr_assert_eq(cx_store_record_get(t, cx_str_c(auths[0]), CX_STR("X-1"), &k, &got), 0);
  cr_expect_eq(got.status, CX_ST_REPAIRED);
  cr_expect_eq(got.objection, 1);
  cr_expect_eq(got.severity, CX_SEV_SERIOUS);
  cr_expect_eq(got.report_date, CX_DAY_NONE);
  cr_expect_eq(got.report_received, 0);
  cr_assert_eq(cx_store_record_get(t, cx_str_c(auths[0]), CX_STR("X-2"), &k, &got), 0);
  cr_expect_eq(got.report_received, 1);
  cr_expect_eq(got.report_delay, 99);
  uint64_t last = 1;
  cr_assert_eq(cx_store_audit_last(t, &last), 0);
  cr_expect_eq(last, 0, "a restore batch audits nothing of its own");
  cx_summary s;
  cr_assert_eq(cx_store_summary_get(t, codes[0], &s), 0);
  cr_expect_eq(s.last_update, fx_day(2025, 3, 1));
  cx_store_txn_end(t);

  /* the same record again, in another batch: already in the store */
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  cr_assert_eq(cx_batch_set_restore(b), 0);
  fx_put(b, &r);
  cr_expect_eq(cx_batch_commit(b, &res), CX_EBADREQ);
  cr_expect_eq(res.bad_put, 0);

  /* entity last_update and authority names as they were */
  cx_restore_entity e;
  memcpy(e.code, codes[0], CX_CODE_LEN);
  e.last_update = fx_day(2024, 6, 1);
  cr_assert_eq(cx_store_restore_entities(st, &e, 1), 0, "%s", cx_store_errmsg(st));
  cx_restore_authority a = {cx_str_c(auths[0]), CX_STR("旧名称")};
  cr_assert_eq(cx_store_restore_authorities(st, &a, 1), 0, "%s", cx_store_errmsg(st));
  fx_uscc(2, codes[1]);
  memcpy(e.code, codes[1], CX_CODE_LEN);
  cr_expect_eq(cx_store_restore_entities(st, &e, 1), CX_ENOTFOUND, "an entity without records");
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cr_assert_eq(cx_store_summary_get(t, codes[0], &s), 0);
  cr_expect_eq(s.last_update, fx_day(2024, 6, 1));
  uint32_t id;
  cr_assert_eq(cx_store_authority_find(t, cx_str_c(auths[0]), &id), 0);
  cx_str name;
  cr_assert_eq(cx_store_authority_get(t, id, NULL, &name), 0);
  cr_expect(cx_str_eq(name, CX_STR("旧名称")));
  cx_record first;
  cr_assert_eq(cx_store_authority_records_each(t, id, rec_cb, &first), 0);
  cr_expect(cx_str_eq(first.record_id, CX_STR("X-1")), "record_id order");
  cx_store_txn_end(t);
  cr_expect_eq(cx_store_verify(st, NULL, NULL), 0, "derived data agree with the restored records");
}

/* Replicas compare the replicated digest: a node's own query audits change its content digest
 * (the audit log stays complete) but not the replicated one; a replicated audit line does. */
Test(digest, the_replicated_digest_leaves_out_only_the_audit_lines_a_node_writes_for_itself) {
  fill(st, 0);
  unsigned char c0[CX_DIGEST_LEN], r0[CX_DIGEST_LEN], c1[CX_DIGEST_LEN], r1[CX_DIGEST_LEN];
  cr_assert_eq(cx_store_digest(st, c0), 0);
  cr_assert_eq(cx_store_digest_replicated(st, r0), 0);
  cr_assert_neq(memcmp(c0, r0, CX_DIGEST_LEN), 0, "never equal to a content digest");
  cx_audit_entry e;
  memset(&e, 0, sizeof e);
  e.who = CX_STR("analyst-1");
  e.role = CX_STR("admin");
  e.op = CX_STR("records");
  e.target = CX_STR("11010519491231002X");
  cr_assert_eq(cx_store_audit_append(st, &e, 1), 0);
  e.op = CX_STR("check");
  cr_assert_eq(cx_store_audit_append(st, &e, 1), 0);
  cr_assert_eq(cx_store_digest(st, c1), 0);
  cr_assert_eq(cx_store_digest_replicated(st, r1), 0);
  cr_assert_neq(memcmp(c0, c1, CX_DIGEST_LEN), 0, "the audit log keeps the query audits");
  cr_assert_eq(memcmp(r0, r1, CX_DIGEST_LEN), 0, "the replicated digest does not see them");
  e.op = CX_STR("feedback");
  cr_assert_eq(cx_store_audit_append(st, &e, 1), 0);
  cr_assert_eq(cx_store_digest_replicated(st, r1), 0);
  cr_assert_neq(memcmp(r0, r1, CX_DIGEST_LEN), 0, "a replicated audit line is in it");
}
