/*
 * test_audit.c — the audit log against the real server: non-public queries about persons and
 * civil servants and every write land in the store's audit DB with the token's NAME (never the
 * token); public queries and queries about enterprises do not; query audits are durable within
 * the flush interval and after a graceful stop.
 */
#include "e2e.h"

static char PERSON[19], SERVANT[19], UNKNOWN_ID[19], ENT[19], AUTH[19];

static void id_number(unsigned n, char out[19]) {
  char c17[18];
  snprintf(c17, sizeof c17, "3501021985%02u%02u%03u", 1 + n % 12, 1 + n % 28, n % 1000);
  memcpy(out, c17, 17);
  out[17] = cx_idcard_check_char(c17);
  out[18] = 0;
}

static void put_person(cx_batch *b, const char *code, const char *name, uint8_t kind, const char *rid) {
  cx_record r;
  cx_record_defaults(&r);
  r.record_id = cx_str_c(rid);
  r.authority_code = cx_str_c(AUTH);
  r.authority_name = CX_STR("福州市市场监督管理局");
  r.entity_code = cx_str_c(code);
  r.entity_name = cx_str_c(name);
  r.entity_kind = kind;
  r.category = CX_CAT_PENALTY;
  r.decision_date = e2e_day("2024-06-01");
  r.severity = CX_SEV_GENERAL;
  const char *why = NULL;
  int rc = cx_batch_put(b, &r, &why);
  cr_assert_eq(rc, 0, "put %s: %s (%s)", rid, cx_strerror(rc), why ? why : "");
}

static void setup(void) {
  memset(&g_srv, 0, sizeof g_srv);
  cx_test_tmpdir(g_srv.dir, sizeof g_srv.dir);
  e2e_make_store(g_srv.dir, g_srv.db, sizeof g_srv.db);
  id_number(7, PERSON);
  id_number(8, SERVANT);
  id_number(9, UNKNOWN_ID);
  e2e_code("91", E2E_BLACK, ENT);
  e2e_code("11", E2E_AUTH_N, AUTH);
  cx_store_opts o = {0};
  cx_store *st = NULL;
  cr_assert_eq(cx_store_open(g_srv.db, &o, &st), 0);
  cx_batch *b = NULL;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  put_person(b, PERSON, "张三", CX_KIND_PERSON, "P-1");
  put_person(b, SERVANT, "李四", CX_KIND_CIVIL_SERVANT, "S-1");
  /* a general penalty past its minimum display period (3 months): the submitter may repair it */
  cx_record r;
  cx_record_defaults(&r);
  r.record_id = CX_STR("OLD-1");
  r.authority_code = cx_str_c(AUTH);
  r.authority_name = CX_STR("福州市市场监督管理局");
  r.entity_code = cx_str_c(ENT);
  r.entity_name = CX_STR("黑名单测试有限公司");
  r.category = CX_CAT_PENALTY;
  r.decision_date = e2e_day("2023-03-01");
  r.severity = CX_SEV_GENERAL;
  const char *why = NULL;
  cr_assert_eq(cx_batch_put(b, &r, &why), 0, "%s", why ? why : "");
  cr_assert_eq(cx_batch_commit(b, NULL), 0);
  cx_store_close(st);
  snprintf(g_srv.log, sizeof g_srv.log, "%s/server.log", g_srv.dir);
  snprintf(g_srv.tokens, sizeof g_srv.tokens, "%s/tokens", g_srv.dir);
  e2e_write_tokens(g_srv.tokens, 0600);
  const char *args[] = {"--tokens", g_srv.tokens, "--threads", "2", NULL};
  int port = e2e_spawn(&g_srv, args);
  if (port <= 0) e2e_dump_log(g_srv.log);
  cr_assert(port > 0, "server failed to start (%d)", port);
}
static void teardown(void) { e2e_teardown(); }
TestSuite(audit, .init = setup, .fini = teardown, .timeout = 60);

/* ---- reading the log (a read-only handle beside the server, or after it stopped) ---- */

typedef struct aline {
  uint64_t seq;
  int64_t time_ms;
  char who[64], role[16], op[32], target[200], detail[300], client[80];
} aline;
typedef struct alog {
  aline v[256];
  int n;
} alog;

static void cp(char *dst, size_t cap, cx_str s) { snprintf(dst, cap, "%.*s", (int)s.n, s.p); }

static int collect(void *ctx, const cx_audit_entry *e) {
  alog *l = ctx;
  if (l->n >= 256) return 1;
  aline *a = &l->v[l->n++];
  a->seq = e->seq;
  a->time_ms = e->time_ms;
  cp(a->who, sizeof a->who, e->who);
  cp(a->role, sizeof a->role, e->role);
  cp(a->op, sizeof a->op, e->op);
  cp(a->target, sizeof a->target, e->target);
  cp(a->detail, sizeof a->detail, e->detail);
  cp(a->client, sizeof a->client, e->client);
  /* never a token, in any field */
  const cx_str *f[6] = {&e->who, &e->role, &e->op, &e->target, &e->detail, &e->client};
  for (int i = 0; i < 6; i++)
    cr_assert(!f[i]->n || !memmem(f[i]->p, f[i]->n, "tok-", 4), "a token in audit entry %llu",
              (unsigned long long)e->seq);
  return 0;
}

static void read_log(alog *l) {
  memset(l, 0, sizeof *l);
  cx_store_opts o = {0};
  o.read_only = 1;
  cx_store *st = NULL;
  cr_assert_eq(cx_store_open(g_srv.db, &o, &st), 0);
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cr_assert_eq(cx_store_audit_each(t, 0, 0, 0, collect, l), 0);
  cx_store_txn_end(t);
  cx_store_close(st);
}

static int count(const alog *l, const char *op, const char *target) {
  int n = 0;
  for (int i = 0; i < l->n; i++)
    if (!strcmp(l->v[i].op, op) && (!target || !strcmp(l->v[i].target, target))) n++;
  return n;
}
static const aline *find(const alog *l, const char *op, const char *target) {
  for (int i = 0; i < l->n; i++)
    if (!strcmp(l->v[i].op, op) && (!target || !strcmp(l->v[i].target, target))) return &l->v[i];
  return NULL;
}

static void entity(cx_client *c, const char *code) {
  const char *kv[] = {"code", code, NULL};
  cx_client_resp r = e2e_call(c, "entity", kv);
  (void)r;
}
static void records(cx_client *c, const char *code) {
  const char *kv[] = {"code", code, NULL};
  cx_client_resp r = e2e_call(c, "records", kv);
  (void)r;
}

Test(audit, person_queries_by_non_public_roles_are_audited_with_the_token_name) {
  cx_client *pub = e2e_connect();
  entity(pub, PERSON);
  records(pub, PERSON);
  cx_client_close(pub);
  cx_client *an = e2e_connect_as(TOK_ANALYST);
  entity(an, PERSON);
  records(an, SERVANT);
  entity(an, ENT);       /* an enterprise: not audited */
  records(an, ENT);
  entity(an, UNKNOWN_ID); /* not found, but an ID number: audited */
  cx_client_close(an);
  cx_client *ap = e2e_connect_as(TOK_APPROVAL);
  const char *codes[] = {PERSON, ENT, SERVANT, UNKNOWN_ID, "12345"};
  check_args a = {codes, 5, "procurement"};
  cx_client_resp r;
  cr_assert_eq(cx_client_call(ap, "check", 3, pack_check, &a, &r), 0);
  assert_ok(&r);
  cx_client_close(ap);

  /* durable within the flush interval plus one commit, while the server runs. The commit's
   * fdatasync was seen taking 2.2 s on this VM while another job wrote to the disk, so the
   * wait is generous (it ends as soon as the entries are there). */
  alog l;
  for (int i = 0; i < 300; i++) {
    read_log(&l);
    if (l.n >= 6) break;
    usleep(50000);
  }
  if (l.n != 6)
    for (int i = 0; i < l.n; i++)
      fprintf(stderr, "%llu %s %s %s %s %s\n", (unsigned long long)l.v[i].seq, l.v[i].who, l.v[i].op,
              l.v[i].target, l.v[i].detail, l.v[i].client);
  cr_assert_eq(l.n, 6, "%d audit entries", l.n);
  const aline *e = find(&l, "entity", PERSON);
  cr_assert(e);
  cr_assert_str_eq(e->who, "analysts");
  cr_assert_str_eq(e->role, "analyst");
  cr_assert(!strncmp(e->client, "127.0.0.1:", 10), "client %s", e->client);
  cr_assert_eq(count(&l, "entity", PERSON), 1); /* the public query was not audited */
  cr_assert_eq(count(&l, "records", SERVANT), 1);
  cr_assert_eq(count(&l, "records", PERSON), 0);
  cr_assert_eq(count(&l, "entity", ENT) + count(&l, "records", ENT) + count(&l, "check", ENT), 0);
  cr_assert_eq(count(&l, "entity", UNKNOWN_ID), 1);
  cr_assert_str_eq(find(&l, "entity", UNKNOWN_ID)->detail, "not_found");
  e = find(&l, "check", PERSON);
  cr_assert(e);
  cr_assert_str_eq(e->who, "审批系统");
  cr_assert_str_eq(e->role, "approval");
  cr_assert_str_eq(e->detail, "action=procurement verdict=clear");
  cr_assert_eq(count(&l, "check", SERVANT), 1);
  cr_assert_eq(count(&l, "check", UNKNOWN_ID), 1);
  cr_assert_str_eq(find(&l, "check", UNKNOWN_ID)->detail, "action=procurement verdict=not_found");
  /* seqs contiguous from 1 */
  for (int i = 0; i < l.n; i++) cr_assert_eq(l.v[i].seq, (uint64_t)i + 1);
}

Test(audit, writes_are_audited_with_their_change) {
  cx_client *c = e2e_connect_as(TOK_SUBMITTER);
  const char *kv[] = {"authority", AUTH, "record_id", "OLD-1", "reason", "信用修复申请已通过", NULL};
  cx_client_resp r = e2e_call(c, "repair", kv);
  assert_ok(&r);
  const char *kv3[] = {"authority", AUTH, "record_id", "NOPE", "reason", "x", NULL};
  r = e2e_call(c, "revoke", kv3);
  assert_err(&r, "not_found"); /* a failed change leaves no audit line */
  cx_client_close(c);
  c = e2e_connect_as(TOK_ADMIN);
  const char *kv4[] = {"authority", AUTH, "record_id", "PN-2", "reason", "申请人提出异议", NULL};
  r = e2e_call(c, "objection", kv4);
  assert_ok(&r);
  cx_client_close(c);
  alog l;
  read_log(&l); /* writes are durable when answered */
  cr_assert_eq(l.n, 2, "%d entries", l.n);
  char tgt[64];
  snprintf(tgt, sizeof tgt, "%s/OLD-1", AUTH);
  const aline *e = find(&l, "repair", tgt);
  cr_assert(e, "no repair entry");
  cr_assert_str_eq(e->who, "市场监管局");
  cr_assert_str_eq(e->role, "submitter");
  cr_assert_str_eq(e->detail, "active -> repaired: 信用修复申请已通过");
  e = find(&l, "objection", NULL);
  cr_assert(e);
  cr_assert_str_eq(e->who, "ops");
  cr_assert_str_eq(e->role, "admin");
  /* the server's log has no audit lines and no tokens */
  FILE *f = fopen(g_srv.log, "r");
  char line[2048];
  while (fgets(line, sizeof line, f)) cr_assert(strstr(line, "tok-") == NULL, "token in log: %s", line);
  fclose(f);
}

static int pack_ingest(msgpack_packer *pk, void *ctx) {
  (void)ctx;
  PK_S(pk, "records");
  msgpack_pack_array(pk, 2);
  for (int i = 0; i < 2; i++) {
    char rid[32];
    snprintf(rid, sizeof rid, "ING-%d", i);
    msgpack_pack_map(pk, 6);
    PK_S(pk, "entity_code"); PK_S(pk, PERSON);
    PK_S(pk, "entity_name"); PK_S(pk, "张三");
    PK_S(pk, "record_id"); PK_S(pk, rid);
    PK_S(pk, "authority_code"); PK_S(pk, AUTH);
    PK_S(pk, "category"); PK_S(pk, "penalty");
    PK_S(pk, "decision_date"); PK_S(pk, "2024-07-01");
  }
  return 0;
}

Test(audit, ingest_is_audited_and_query_audits_survive_a_graceful_stop) {
  cx_client *c = e2e_connect_as(TOK_SUBMITTER);
  cx_client_resp r;
  cr_assert_eq(cx_client_call(c, "ingest", 1, pack_ingest, NULL, &r), 0);
  assert_ok(&r);
  cx_client_close(c);
  c = e2e_connect_as(TOK_ANALYST);
  for (int i = 0; i < 50; i++) entity(c, PERSON);
  cx_client_close(c);
  /* stop at once: the last query audits are flushed before the process exits */
  cr_assert_eq(e2e_stop(&g_srv), 0);
  alog l;
  read_log(&l);
  cr_assert_eq(count(&l, "ingest", NULL), 1);
  const aline *e = find(&l, "ingest", NULL);
  cr_assert_str_eq(e->who, "市场监管局");
  cr_assert_str_eq(e->detail, "records=2");
  cr_assert_eq(count(&l, "entity", PERSON), 50);
  cr_assert_eq(l.n, 51);
}

Test(audit, stats_count_the_query_audits) {
  cx_client *c = e2e_connect_as(TOK_ADMIN);
  for (int i = 0; i < 3; i++) entity(c, SERVANT);
  cx_client_resp r = e2e_call(c, "stats", NULL);
  assert_ok(&r);
  const msgpack_object *a = cx_mpo_get(r.result, "audit");
  cr_assert(a && a->type == MSGPACK_OBJECT_MAP, "no audit in stats");
  const msgpack_object *q = cx_mpo_get(a, "queued");
  cr_assert(q && q->via.u64 == 3, "queued %llu", q ? (unsigned long long)q->via.u64 : 0ull);
  const msgpack_object *rej = cx_mpo_get(a, "rejected");
  cr_assert(rej && rej->via.u64 == 0);
  cx_client_close(c);
}
