/*
 * test_scope.c — write scopes over the wire: op x role x authority for ingest, repair, revoke,
 * objection and reinstate. public, approval and analyst may write nothing; a submitter token scoped to
 * authority A (token file `authorities=A`) writes A's records and is `forbidden` on authority
 * B's, and a batch mixing A and B rows lands nothing; an unscoped admin writes both; a
 * replacement (same authority + record_id) naming another entity is `bad_request` and moves
 * nothing. Every refusal is checked in the store too: the record keeps its status and
 * objection, a refused ingest leaves no record.
 */
#include "e2e.h"

static char A[19], B[19]; /* the two authorities (government bodies) */

enum { OP_INGEST, OP_REPAIR, OP_REVOKE, OP_OBJECTION, OP_REINSTATE, OP_N };
static const char *const op_names[OP_N] = {"ingest", "repair", "revoke", "objection", "reinstate"};
/* Record prefixes per op, for the status changes: X-<op>-S (the submitter's), X-<op>-M
 * (admin's), X-<op>-R (refused to everyone but admin, never changed). */
static const char *const op_tag[OP_N] = {"ING", "REP", "REV", "OBJ", "REI"};

static const char *auth_of(char which) { return which == 'A' ? A : B; }

/* Entity of a setup record: one entity per record. */
static unsigned ent_no(char which, int op, char who) {
  return 8000 + (which == 'A' ? 0 : 100) + (unsigned)op * 10 + (unsigned)(who == 'S' ? 0 : who == 'M' ? 1 : 2);
}

static void put_rec(cx_batch *b, char which, int op, char who) {
  char code[19], rid[32];
  e2e_code("91", ent_no(which, op, who), code);
  snprintf(rid, sizeof rid, "%c-%s-%c", which, op_tag[op], who);
  cx_record r;
  cx_record_defaults(&r);
  r.record_id = cx_str_c(rid);
  r.authority_code = cx_str_c(auth_of(which));
  r.authority_name = which == 'A' ? CX_STR("福州市市场监督管理局") : CX_STR("福州市税务局");
  r.entity_code = cx_str_c(code);
  r.entity_name = CX_STR("范围测试有限公司");
  r.category = CX_CAT_PENALTY;
  /* long past the minimum display period of a general penalty (3 months): repairable */
  r.decision_date = e2e_day("2024-01-15");
  r.valid_from = r.decision_date;
  r.severity = CX_SEV_GENERAL;
  r.amount_fen = 100000;
  r.content = CX_STR("范围测试");
  const char *why = NULL;
  int rc = cx_batch_put(b, &r, &why);
  cr_assert_eq(rc, 0, "put %s: %s (%s)", rid, cx_strerror(rc), why ? why : "");
}

static void setup(void) {
  memset(&g_srv, 0, sizeof g_srv);
  cx_test_tmpdir(g_srv.dir, sizeof g_srv.dir);
  e2e_make_store(g_srv.dir, g_srv.db, sizeof g_srv.db);
  e2e_code("11", 901, A);
  e2e_code("11", 902, B);
  cx_store_opts o = {0};
  cx_store *st = NULL;
  cr_assert_eq(cx_store_open(g_srv.db, &o, &st), 0);
  cx_batch *b = NULL;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  for (int op = OP_REPAIR; op < OP_N; op++)
    for (int w = 0; w < 2; w++) {
      put_rec(b, w ? 'B' : 'A', op, 'S');
      put_rec(b, w ? 'B' : 'A', op, 'M');
      put_rec(b, w ? 'B' : 'A', op, 'R');
    }
  cx_batch_result res;
  cr_assert_eq(cx_batch_commit(b, &res), 0, "%s", cx_store_errmsg(st));
  cx_store_close(st);
  snprintf(g_srv.log, sizeof g_srv.log, "%s/server.log", g_srv.dir);
  snprintf(g_srv.tokens, sizeof g_srv.tokens, "%s/tokens", g_srv.dir);
  e2e_write_tokens_scoped(g_srv.tokens, 0600, A); /* TOK_SUBMITTER writes for A only */
  const char *args[] = {"--tokens", g_srv.tokens, "--threads", "2", NULL};
  int port = e2e_spawn(&g_srv, args);
  if (port <= 0) e2e_dump_log(g_srv.log);
  cr_assert(port > 0, "server failed to start (%d)", port);
}

TestSuite(scope, .init = setup, .fini = e2e_teardown);

/* ---- requests ---- */

typedef struct row {
  const char *auth, *rid, *entity;
} row;
typedef struct rows {
  const row *v;
  int n;
} rows;

static int pack_rows(msgpack_packer *pk, void *ctx) {
  const rows *rs = ctx;
  PK_S(pk, "records");
  msgpack_pack_array(pk, (size_t)rs->n);
  for (int i = 0; i < rs->n; i++) {
    msgpack_pack_map(pk, 8);
    PK_S(pk, "entity_code"); PK_S(pk, rs->v[i].entity);
    PK_S(pk, "entity_name"); PK_S(pk, "范围测试新增有限公司");
    PK_S(pk, "record_id"); PK_S(pk, rs->v[i].rid);
    PK_S(pk, "authority_code"); PK_S(pk, rs->v[i].auth);
    PK_S(pk, "category"); PK_S(pk, "penalty");
    PK_S(pk, "severity"); PK_S(pk, "general");
    PK_S(pk, "decision_date"); PK_S(pk, "2024-02-20");
    PK_S(pk, "amount_fen"); msgpack_pack_int64(pk, 20000);
  }
  return 0;
}

static cx_client_resp ingest(cx_client *c, const row *v, int n) {
  rows rs = {v, n};
  cx_client_resp r;
  int rc = cx_client_call(c, "ingest", 1, pack_rows, &rs, &r);
  cr_assert_eq(rc, 0, "ingest: call failed: %s", cx_strerror(rc));
  return r;
}

/* repair / revoke / objection of auth's record rid. */
static cx_client_resp change(cx_client *c, int op, const char *auth, const char *rid) {
  const char *kv[] = {"authority", auth, "record_id", rid, "reason", "范围测试：依申请处理", NULL};
  return e2e_call(c, op_names[op], kv);
}

/* repair {authority: A, record_id: ctx, reason, override: true} */
static int pack_override(msgpack_packer *pk, void *ctx) {
  PK_S(pk, "authority"); PK_S(pk, A);
  PK_S(pk, "record_id"); PK_S(pk, (const char *)ctx);
  PK_S(pk, "reason"); PK_S(pk, "提前修复");
  PK_S(pk, "override"); msgpack_pack_true(pk);
  return 0;
}

/* A new record's id and entity, unique per call. */
static row new_row(char which, char *rid, char *ent) {
  static unsigned n;
  n++;
  snprintf(rid, 32, "%c-NEW-%u", which, n);
  e2e_code("91", 9000 + n, ent);
  return (row){auth_of(which), rid, ent};
}

/* ---- the store's view ---- */

typedef struct rec_state {
  int rc;             /* 0 or CX_ENOTFOUND */
  uint8_t status, objection;
  char entity[19];
} rec_state;

static rec_state state_of(const char *auth, const char *rid) {
  cx_store_opts o = {0};
  o.read_only = 1;
  cx_store *st = NULL;
  int rc = cx_store_open(g_srv.db, &o, &st);
  cr_assert_eq(rc, 0, "open beside the server: %s (%s)", cx_strerror(rc), cx_store_errmsg(NULL));
  cx_txn *t = NULL;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  rec_state s;
  memset(&s, 0, sizeof s);
  cx_record r;
  s.rc = cx_store_record_get(t, cx_str_c(auth), cx_str_c(rid), NULL, &r);
  cr_assert(s.rc == 0 || s.rc == CX_ENOTFOUND, "record_get %s: %s", rid, cx_strerror(s.rc));
  if (s.rc == 0) {
    s.status = r.status;
    s.objection = r.objection;
    snprintf(s.entity, sizeof s.entity, "%.*s", (int)r.entity_code.n, r.entity_code.p);
  }
  cx_store_txn_end(t);
  cx_store_close(st);
  return s;
}

static void assert_untouched(char which, int op, char who, const char *after) {
  char rid[32], code[19];
  snprintf(rid, sizeof rid, "%c-%s-%c", which, op_tag[op], who);
  e2e_code("91", ent_no(which, op, who), code);
  rec_state s = state_of(auth_of(which), rid);
  cr_assert_eq(s.rc, 0, "%s is gone after %s", rid, after);
  cr_assert_eq(s.status, CX_ST_ACTIVE, "%s changed status after %s", rid, after);
  cr_assert_eq(s.objection, 0, "%s has an objection after %s", rid, after);
  cr_assert_str_eq(s.entity, code, "%s moved after %s", rid, after);
}

static void assert_absent(const char *auth, const char *rid, const char *after) {
  rec_state s = state_of(auth, rid);
  cr_assert_eq(s.rc, CX_ENOTFOUND, "%s landed after %s", rid, after);
}

/* What op did to the record it was given (assert ok first). */
static void assert_applied(int op, const char *auth, const char *rid) {
  rec_state s = state_of(auth, rid);
  cr_assert_eq(s.rc, 0, "%s: %s missing", op_names[op], rid);
  if (op == OP_REPAIR) cr_assert_eq(s.status, CX_ST_REPAIRED, "%s not repaired", rid);
  if (op == OP_REVOKE) cr_assert_eq(s.status, CX_ST_REVOKED, "%s not revoked", rid);
  if (op == OP_OBJECTION) cr_assert_eq(s.objection, 1, "%s has no objection", rid);
  if (op == OP_REINSTATE) cr_assert_eq(s.status, CX_ST_ACTIVE, "%s not reinstated", rid);
}

/* op by c on auth's record rid, which must succeed (reinstate: after a repair by c). */
static void change_ok(cx_client *c, int op, const char *auth, const char *rid) {
  cx_client_resp r;
  if (op == OP_REINSTATE) {
    r = change(c, OP_REPAIR, auth, rid);
    assert_ok(&r);
  }
  r = change(c, op, auth, rid);
  assert_ok(&r);
  assert_applied(op, auth, rid);
}

/* ---- the matrix ---- */

Test(scope, roles_that_do_not_write_are_forbidden_every_write_on_every_authority) {
  const char *const toks[] = {NULL, TOK_APPROVAL, TOK_ANALYST};
  const char *const names[] = {"public", "approval", "analyst"};
  for (int t = 0; t < 3; t++) {
    cx_client *c = e2e_connect_as(toks[t]);
    for (int w = 0; w < 2; w++) {
      char which = w ? 'B' : 'A', rid[32], ent[19], what[96];
      row nr = new_row(which, rid, ent);
      snprintf(what, sizeof what, "%s ingest on %c", names[t], which);
      cx_client_resp r = ingest(c, &nr, 1);
      assert_err(&r, "forbidden");
      assert_absent(nr.auth, nr.rid, what);
      for (int op = OP_REPAIR; op < OP_N; op++) {
        char target[32];
        snprintf(target, sizeof target, "%c-%s-R", which, op_tag[op]);
        snprintf(what, sizeof what, "%s %s on %c", names[t], op_names[op], which);
        r = change(c, op, auth_of(which), target);
        assert_err(&r, "forbidden");
        assert_untouched(which, op, 'R', what);
      }
    }
    cx_client_close(c);
  }
}

Test(scope, a_submitter_writes_its_own_authoritys_records_and_no_others) {
  cx_client *c = e2e_connect_as(TOK_SUBMITTER);
  char rid[32], ent[19];
  /* ingest: A's lands, B's is forbidden and does not */
  row na = new_row('A', rid, ent);
  cx_client_resp r = ingest(c, &na, 1);
  assert_ok(&r);
  cr_assert_eq(cx_mpo_int(cx_mpo_get(r.result, "inserted"), -1), 1);
  cr_assert_eq(state_of(A, na.rid).rc, 0, "A's new record landed");
  char ridb[32], entb[19];
  row nb = new_row('B', ridb, entb);
  r = ingest(c, &nb, 1);
  assert_err(&r, "forbidden");
  assert_absent(B, nb.rid, "submitter(A) ingest of a B record");
  /* repair, revoke, objection, reinstate: ok on A's, forbidden on B's */
  char lower[40]; /* B's code spelt another way (lower case, spaces) */
  snprintf(lower, sizeof lower, " %s ", B);
  for (char *p = lower; *p; p++)
    if (*p >= 'A' && *p <= 'Z') *p = (char)(*p + 32);
  for (int op = OP_REPAIR; op < OP_N; op++) {
    char target[32], what[96];
    snprintf(target, sizeof target, "A-%s-S", op_tag[op]);
    change_ok(c, op, A, target);
    snprintf(target, sizeof target, "B-%s-S", op_tag[op]);
    snprintf(what, sizeof what, "submitter(A) %s of a B record", op_names[op]);
    r = change(c, op, B, target);
    assert_err(&r, "forbidden");
    assert_untouched('B', op, 'S', what);
    r = change(c, op, lower, target);
    assert_err(&r, "forbidden");
    assert_untouched('B', op, 'S', what);
    /* no existence oracle: a B record that does not exist is forbidden too, not not_found */
    r = change(c, op, B, "B-NO-SUCH-RECORD");
    assert_err(&r, "forbidden");
  }
  /* the override of the minimum display period is admin's, not a scoped submitter's */
  cr_assert_eq(cx_client_call(c, "repair", 4, pack_override, (void *)"A-REP-R", &r), 0);
  assert_err(&r, "forbidden");
  assert_untouched('A', OP_REPAIR, 'R', "submitter(A) repair with override");
  cx_client_close(c);
}

Test(scope, a_batch_mixing_two_authorities_lands_nothing) {
  cx_client *c = e2e_connect_as(TOK_SUBMITTER);
  char r1[32], e1[19], r2[32], e2[19], r3[32], e3[19];
  row v[3] = {new_row('A', r1, e1), new_row('B', r2, e2), new_row('A', r3, e3)};
  cx_client_resp r = ingest(c, v, 3);
  assert_err(&r, "forbidden");
  const msgpack_object *det = cx_mpo_get(r.error, "details");
  cr_assert(det && det->type == MSGPACK_OBJECT_ARRAY && det->via.array.size == 1,
            "the B row alone is named");
  cr_assert_eq(cx_mpo_int(cx_mpo_get(&det->via.array.ptr[0], "index"), -1), 1);
  for (int i = 0; i < 3; i++) assert_absent(v[i].auth, v[i].rid, "a mixed batch");
  /* the A rows alone are fine */
  row only_a[2] = {v[0], v[2]};
  r = ingest(c, only_a, 2);
  assert_ok(&r);
  cr_assert_eq(cx_mpo_int(cx_mpo_get(r.result, "inserted"), -1), 2);
  cx_client_close(c);
}

Test(scope, an_unscoped_admin_writes_for_every_authority) {
  cx_client *c = e2e_connect_as(TOK_ADMIN);
  char r1[32], e1[19], r2[32], e2[19];
  row v[2] = {new_row('A', r1, e1), new_row('B', r2, e2)};
  cx_client_resp r = ingest(c, v, 2);
  assert_ok(&r);
  cr_assert_eq(cx_mpo_int(cx_mpo_get(r.result, "inserted"), -1), 2);
  cr_assert_eq(state_of(A, r1).rc, 0);
  cr_assert_eq(state_of(B, r2).rc, 0);
  for (int w = 0; w < 2; w++) {
    char which = w ? 'B' : 'A';
    for (int op = OP_REPAIR; op < OP_N; op++) {
      char target[32];
      snprintf(target, sizeof target, "%c-%s-M", which, op_tag[op]);
      change_ok(c, op, auth_of(which), target);
    }
  }
  /* revoked is final, for admin too */
  r = change(c, OP_REPAIR, B, "B-REV-M");
  cr_assert(!r.ok, "a revoked record was repaired");
  cr_assert_eq(state_of(B, "B-REV-M").status, CX_ST_REVOKED);
  cx_client_close(c);
}

Test(scope, a_replacement_naming_another_entity_is_refused_and_moves_nothing) {
  const char *const toks[] = {TOK_SUBMITTER, TOK_ADMIN};
  for (int t = 0; t < 2; t++) {
    cx_client *c = e2e_connect_as(toks[t]);
    char other[19], what[64];
    e2e_code("91", 9500 + (unsigned)t, other);
    snprintf(what, sizeof what, "%s re-sending A-REP-R for another entity",
             t ? "admin" : "submitter(A)");
    row v = {A, "A-REP-R", other};
    cx_client_resp r = ingest(c, &v, 1);
    assert_err(&r, "bad_request");
    assert_untouched('A', OP_REPAIR, 'R', what);
    /* the other entity did not come into being either */
    const char *kv[] = {"code", other, NULL};
    r = e2e_call(c, "entity", kv);
    assert_err(&r, "not_found");
    cx_client_close(c);
  }
}
