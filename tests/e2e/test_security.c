/* End-to-end security: over the wire, the public role never receives a record that is not
 * displayable nor a full resident ID number, from any op it can call, and every op it cannot
 * call is `forbidden` without leaking them either; tokens appear in no response and no log. */
#include <sys/stat.h>

#include "e2e.h"
#include "net_int.h"

TestSuite(security, .init = e2e_setup, .fini = e2e_teardown, .timeout = 60);

#define AS_OF "2024-07-01"

/* A person (public category: blacklist; hidden: penalty) and a civil servant (hidden
 * disciplinary record), plus an enterprise whose records are hidden for every other reason. */
static char PERSON[19], SERVANT[19], ENT[19];
static const char *const HIDDEN[] = {"P-PEN", "CS-DISC", "E-MINOR", "E-OLD", "E-REPAIRED", "E-REVOKED"};
#define N_HIDDEN (sizeof HIDDEN / sizeof HIDDEN[0])

typedef struct rec {
  const char *code, *name, *kind, *rid, *cat, *subtype, *sev, *decision, *status;
} rec;

static int pack_recs(msgpack_packer *pk, void *ctx) {
  const rec *r = ctx;
  size_t n = 0;
  while (r[n].code) n++;
  char auth[19];
  e2e_code("11", E2E_AUTH_N, auth);
  PK_S(pk, "records");
  msgpack_pack_array(pk, n);
  for (size_t i = 0; i < n; i++) {
    msgpack_pack_map(pk, 11);
    PK_S(pk, "entity_code"); PK_S(pk, r[i].code);
    PK_S(pk, "entity_name"); PK_S(pk, r[i].name);
    PK_S(pk, "entity_kind"); PK_S(pk, r[i].kind);
    PK_S(pk, "record_id"); PK_S(pk, r[i].rid);
    PK_S(pk, "authority_code"); PK_S(pk, auth);
    PK_S(pk, "category"); PK_S(pk, r[i].cat);
    PK_S(pk, "subtype"); PK_S(pk, r[i].subtype);
    PK_S(pk, "severity"); PK_S(pk, r[i].sev);
    PK_S(pk, "decision_date"); PK_S(pk, r[i].decision);
    PK_S(pk, "status"); PK_S(pk, r[i].status);
    PK_S(pk, "list_type"); PK_S(pk, strcmp(r[i].cat, "blacklist") == 0 ? "court_dishonest" : "");
  }
  return 0;
}

static void load(void) {
  char body[18];
  memcpy(body, "11010519491231002", 17);
  memcpy(PERSON, body, 17);
  PERSON[17] = cx_idcard_check_char(body);
  PERSON[18] = 0;
  memcpy(body, "35010219800101003", 17);
  memcpy(SERVANT, body, 17);
  SERVANT[17] = cx_idcard_check_char(body);
  SERVANT[18] = 0;
  e2e_code("91", 500, ENT);
  const rec recs[] = {
      {PERSON, "张三", "person", "P-BL", "blacklist", "", "serious", "2024-06-01", "active"},
      {PERSON, "张三", "person", "P-PEN", "penalty", "", "serious", "2024-06-01", "active"},
      {SERVANT, "李四", "civil_servant", "CS-DISC", "gov_dishonesty", "disciplinary", "serious",
       "2024-06-01", "active"},
      {ENT, "保密测试有限公司", "enterprise", "E-SHOWN", "penalty", "", "general", "2024-05-01", "active"},
      {ENT, "保密测试有限公司", "enterprise", "E-MINOR", "penalty", "", "minor", "2024-06-20", "active"},
      {ENT, "保密测试有限公司", "enterprise", "E-OLD", "penalty", "", "general", "2022-01-10", "active"},
      {ENT, "保密测试有限公司", "enterprise", "E-REPAIRED", "penalty", "", "general", "2024-05-02", "repaired"},
      {ENT, "保密测试有限公司", "enterprise", "E-REVOKED", "penalty", "", "serious", "2024-05-03", "revoked"},
      {NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL},
  };
  cx_client *a = e2e_connect_as(TOK_ADMIN);
  cx_client_resp r;
  cr_assert_eq(cx_client_call(a, "ingest", 1, pack_recs, (void *)recs, &r), 0);
  assert_ok(&r);
  cx_client_close(a);
}

/* Nothing hidden, no full ID number, in r. */
static void assert_clean(const cx_client_resp *r, const char *what) {
  for (size_t i = 0; i < N_HIDDEN; i++)
    cr_assert(!e2e_resp_has(r, HIDDEN[i]), "%s: the public received hidden record %s", what, HIDDEN[i]);
  cr_assert(!e2e_resp_has(r, PERSON), "%s: the public received a full ID number", what);
  cr_assert(!e2e_resp_has(r, SERVANT), "%s: the public received a civil servant's ID number", what);
}

static cx_client_resp call_public(cx_client *p, const char *op, const char *const *kv) {
  cx_client_resp r = e2e_call(p, op, kv);
  char what[96];
  snprintf(what, sizeof what, "%s %s %s", op, kv && kv[1] ? kv[1] : "",
           kv && kv[1] && kv[2] && kv[3] ? kv[3] : "");
  assert_clean(&r, what);
  return r;
}

Test(security, the_public_receives_only_displayable_records_from_every_op) {
  load();
  /* control: an authorised role does see every hidden record */
  cx_client *an = e2e_connect_as(TOK_ANALYST);
  const char *const ents[] = {ENT, PERSON, SERVANT};
  int seen = 0;
  for (int e = 0; e < 3; e++) {
    cx_client_resp r = e2e_call(an, "records", (const char *[]){"code", ents[e], "as_of", AS_OF, NULL});
    assert_ok(&r);
    for (size_t i = 0; i < N_HIDDEN; i++) seen += e2e_resp_has(&r, HIDDEN[i]);
  }
  cr_assert_eq(seen, (int)N_HIDDEN, "the analyst sees all %zu hidden records", N_HIDDEN);
  cx_client_close(an);

  cx_client *p = e2e_connect();
  /* entity and records of the enterprise: only E-SHOWN */
  cx_client_resp r = call_public(p, "entity", (const char *[]){"code", ENT, "as_of", AS_OF, NULL});
  assert_ok(&r);
  r = call_public(p, "records", (const char *[]){"code", ENT, "as_of", AS_OF, NULL});
  assert_ok(&r);
  cr_assert(e2e_resp_has(&r, "E-SHOWN"), "the displayable record is shown");
  for (const char *cat = "penalty"; cat; cat = NULL) {
    r = call_public(p, "records", (const char *[]){"code", ENT, "as_of", AS_OF, "category", cat, NULL});
    assert_ok(&r);
  }
  /* the public sees today only: an as_of in the past (when E-OLD was still shown) is refused */
  r = call_public(p, "records", (const char *[]){"code", ENT, "as_of", "2023-01-09", NULL});
  assert_err(&r, "bad_request");
  r = call_public(p, "entity", (const char *[]){"code", PERSON, "as_of", "2021-06-01", NULL});
  assert_err(&r, "bad_request");
  /* the person: the blacklist entry, under a masked number; not the penalty */
  r = call_public(p, "entity", (const char *[]){"code", PERSON, "as_of", AS_OF, NULL});
  assert_ok(&r);
  char masked[19];
  cx_idcard_mask(PERSON, masked);
  cr_assert(e2e_resp_has(&r, masked), "the public sees the masked number %s", masked);
  r = call_public(p, "records", (const char *[]){"code", PERSON, "as_of", AS_OF, NULL});
  assert_ok(&r);
  cr_assert(e2e_resp_has(&r, "P-BL"));
  /* the civil servant has nothing public: not found, as if absent */
  r = call_public(p, "entity", (const char *[]){"code", SERVANT, "as_of", AS_OF, NULL});
  assert_err(&r, "not_found");
  r = call_public(p, "records", (const char *[]){"code", SERVANT, "as_of", AS_OF, NULL});
  assert_err(&r, "not_found");
  /* search: by name and by code prefix, persons are never listed for the public */
  const char *const prefixes[] = {"张三", "李四", "保密", "110105", "350102", PERSON, SERVANT};
  for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
    r = call_public(p, "search", (const char *[]){"prefix", prefixes[i], NULL});
    assert_ok(&r);
  }
  /* every other op is forbidden, and says nothing either */
  const char *const forbidden[] = {"check", "aggregate", "stats", "ingest", "repair", "revoke", "objection"};
  for (size_t i = 0; i < sizeof forbidden / sizeof forbidden[0]; i++) {
    r = call_public(p, forbidden[i], (const char *[]){"code", PERSON, NULL});
    assert_err(&r, "forbidden");
  }
  cx_client_close(p);
}

/* Reads the whole file into a static buffer. */
static const char *slurp(const char *path) {
  static char buf[1 << 20];
  FILE *f = fopen(path, "r");
  cr_assert(f, "open %s", path);
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  fclose(f);
  buf[n] = 0;
  return buf;
}

Test(security, tokens_appear_in_no_response_no_log_and_no_stats) {
  const char *const toks[] = {TOK_APPROVAL, TOK_ANALYST, TOK_SUBMITTER, TOK_ADMIN,
                              "tok-wrong-guess-0123456789"};
  /* good and bad logins, on several connections */
  for (size_t i = 0; i < sizeof toks / sizeof toks[0]; i++) {
    cx_client *c = e2e_connect();
    char role[32] = "";
    int rc = cx_client_auth(c, toks[i], role, sizeof role);
    cr_assert_eq(rc, i < 4 ? 0 : CX_EFORBIDDEN, "auth %zu: %s", i, cx_strerror(rc));
    cx_client_close(c);
  }
  cx_client *a = e2e_connect_as(TOK_ADMIN);
  cx_client_resp r = e2e_call(a, "stats", NULL);
  assert_ok(&r);
  for (size_t i = 0; i < sizeof toks / sizeof toks[0]; i++) {
    cr_assert(!e2e_resp_has(&r, toks[i]), "stats holds token %zu", i);
    cr_assert(!e2e_resp_has(&r, toks[i] + 4), "stats holds the secret part of token %zu", i);
  }
  r = e2e_call(a, "auth", (const char *[]){"token", TOK_ANALYST, NULL});
  assert_ok(&r);
  cr_assert(!e2e_resp_has(&r, TOK_ANALYST), "auth echoes the token");
  cx_client_close(a);
  /* the server's log, after a graceful stop (everything flushed) */
  cr_assert_eq(e2e_stop(&g_srv), 0);
  const char *log = slurp(g_srv.log);
  for (size_t i = 0; i < sizeof toks / sizeof toks[0]; i++)
    cr_assert(!strstr(log, toks[i] + 4), "token %zu in the log:\n%s", i, log);
  /* and the token file stays private */
  struct stat sb;
  cr_assert_eq(stat(g_srv.tokens, &sb), 0);
  cr_assert_eq(sb.st_mode & 077, 0, "token file mode %o", sb.st_mode & 0777);
}

/* Restarts the test server with `day` as today. */
static void restart_on(const char *day) {
  cr_assert_eq(e2e_stop(&g_srv), 0);
  g_e2e_today = day;
  const char *args[] = {"--tokens", g_srv.tokens, NULL};
  cr_assert_gt(e2e_spawn(&g_srv, args), 0);
}

Test(security, on_each_day_the_public_sees_that_days_displayable_records_only) {
  load();
  /* E-OLD (general, open-ended, decided 2022-01-10) is shown for 12 calendar months: on
   * 2023-01-09 (day 364) and not from 2023-01-10 on. Before this rule an as_of of that day
   * showed it at any time; now only a server whose today it is does. */
  restart_on("2023-01-09");
  cx_client *p = e2e_connect();
  cx_client_resp r = e2e_call(p, "records", (const char *[]){"code", ENT, NULL});
  assert_ok(&r);
  cr_assert(e2e_resp_has(&r, "E-OLD"), "E-OLD shown on day 364");
  cx_client_close(p);
  const char *const days[] = {"2023-01-10", "2024-05-02", "2024-06-21", "2025-06-30", "2027-01-01"};
  for (size_t d = 0; d < sizeof days / sizeof days[0]; d++) {
    restart_on(days[d]);
    p = e2e_connect();
    r = call_public(p, "records", (const char *[]){"code", ENT, NULL});
    r = call_public(p, "entity", (const char *[]){"code", ENT, NULL});
    r = call_public(p, "entity", (const char *[]){"code", PERSON, NULL});
    r = call_public(p, "search", (const char *[]){"prefix", "保密", NULL});
    cx_client_close(p);
  }
  /* 2021-06-01: before every record: nothing exists for the public */
  restart_on("2021-06-01");
  p = e2e_connect();
  r = call_public(p, "entity", (const char *[]){"code", PERSON, NULL});
  assert_err(&r, "not_found");
  r = call_public(p, "entity", (const char *[]){"code", ENT, NULL});
  assert_err(&r, "not_found");
  cx_client_close(p);
}
