/* End-to-end: startup errors, graceful stop, pipelining, many connections. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "e2e.h"

/* ---- startup errors (no fixture server) ---- */

static e2e_server s0;

static void setup_dir(void) {
  memset(&s0, 0, sizeof s0);
  cx_test_tmpdir(s0.dir, sizeof s0.dir);
  snprintf(s0.log, sizeof s0.log, "%s/server.log", s0.dir);
  snprintf(s0.tokens, sizeof s0.tokens, "%s/tokens", s0.dir);
}
static void teardown_dir(void) {
  e2e_stop(&s0);
  cx_test_rmrf(s0.dir);
}

TestSuite(startup, .init = setup_dir, .fini = teardown_dir, .timeout = 60);

Test(startup, missing_store_is_a_clear_error) {
  snprintf(s0.db, sizeof s0.db, "%s/nothing", s0.dir);
  int rc = e2e_spawn(&s0, NULL);
  cr_assert_eq(rc, -1001, "exit status 1 expected, got %d", rc);
  cr_assert(e2e_log_has(s0.log, "no store at"));
}

Test(startup, other_schema_version_is_refused) {
  e2e_make_store(s0.dir, s0.db, sizeof s0.db);
  cx_store *st;
  cx_store_opts o = {0};
  cr_assert_eq(cx_store_open(s0.db, &o, &st), 0);
  cr_assert_eq(cx_store_debug_set_schema(st, 99), 0);
  cx_store_close(st);
  cr_assert_eq(e2e_spawn(&s0, NULL), -1001);
  cr_assert(e2e_log_has(s0.log, "schema version"));
}

Test(startup, token_file_must_be_private_and_readable) {
  e2e_make_store(s0.dir, s0.db, sizeof s0.db);
  e2e_write_tokens(s0.tokens, 0644);
  cr_assert_eq(e2e_spawn(&s0, (const char *[]){"--tokens", s0.tokens, NULL}), -1001);
  cr_assert(e2e_log_has(s0.log, "chmod 600"));
  cr_assert(!e2e_log_has(s0.log, "tok-"), "no token in the log");
  char missing[300];
  snprintf(missing, sizeof missing, "%s/no-such-file", s0.dir);
  cr_assert_eq(e2e_spawn(&s0, (const char *[]){"--tokens", missing, NULL}), -1001);
  cr_assert(e2e_log_has(s0.log, "cannot open token file"));
  e2e_write_tokens(s0.tokens, 0600);
  cr_assert(e2e_spawn(&s0, (const char *[]){"--tokens", s0.tokens, NULL}) > 0);
}

Test(startup, port_taken_is_a_clear_error) {
  e2e_make_store(s0.dir, s0.db, sizeof s0.db);
  int port = e2e_spawn(&s0, NULL);
  cr_assert(port > 0);
  e2e_server s1 = s0;
  snprintf(s1.log, sizeof s1.log, "%s/server2.log", s0.dir);
  char listen[64];
  snprintf(listen, sizeof listen, "127.0.0.1:%d", port);
  cr_assert_eq(e2e_spawn(&s1, (const char *[]){"--listen", listen, NULL}), -1001);
  cr_assert(e2e_log_has(s1.log, "cannot listen"));
  cr_assert(e2e_log_has(s1.log, "in use"));
}

Test(startup, usage_errors_exit_2) {
  e2e_make_store(s0.dir, s0.db, sizeof s0.db);
  cr_assert_eq(e2e_spawn(&s0, (const char *[]){"--threads", "zero", NULL}), -1002);
  cr_assert_eq(e2e_spawn(&s0, (const char *[]){"--bogus", "1", NULL}), -1002);
}

Test(startup, sigterm_stops_gracefully) {
  e2e_make_store(s0.dir, s0.db, sizeof s0.db);
  cr_assert(e2e_spawn(&s0, NULL) > 0);
  g_srv.port = s0.port;
  cx_client *c = e2e_connect();
  cx_client_resp r = e2e_call(c, "ping", NULL);
  assert_ok(&r);
  /* an idle client connected during the stop does not hold it up */
  cr_assert_eq(e2e_stop(&s0), 0);
  cx_client_close(c);
  cr_assert(e2e_log_has(s0.log, "stopping (SIGTERM)"));
  cr_assert(e2e_log_has(s0.log, "chengxind: stopped"));
}

Test(startup, out_of_descriptors_pauses_accepts_and_recovers) {
  e2e_make_store(s0.dir, s0.db, sizeof s0.db);
  struct rlimit rl = {96, 96}; /* this test process (and the server it forks) only */
  cr_assert_eq(setrlimit(RLIMIT_NOFILE, &rl), 0);
  cr_assert(e2e_spawn(&s0, NULL) > 0);
  g_srv.port = s0.port;
  int fds[80];
  for (int i = 0; i < 80; i++) {
    fds[i] = socket(AF_INET, SOCK_STREAM, 0);
    cr_assert(fds[i] >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)s0.port)};
    a.sin_addr.s_addr = htonl(0x7f000001);
    cr_assert_eq(connect(fds[i], (struct sockaddr *)&a, sizeof a), 0); /* the backlog takes them */
  }
  usleep(300000);
  for (int i = 0; i < 80; i++) close(fds[i]);
  int ok = 0;
  for (int i = 0; i < 100 && !ok; i++) {
    cx_client *c = e2e_connect();
    cx_client_resp r;
    ok = cx_client_call(c, "ping", 0, NULL, NULL, &r) == 0 && r.ok;
    cx_client_close(c);
    if (!ok) usleep(100000);
  }
  cr_assert(ok, "accepts again once descriptors are free");
  cr_assert(e2e_log_has(s0.log, "pausing accepts"));
  cr_assert_eq(e2e_stop(&s0), 0);
}

/* ---- load ---- */

TestSuite(load, .init = e2e_setup, .fini = e2e_teardown, .timeout = 60);

static int pack_one_check(msgpack_packer *pk, void *ctx) {
  const char *code = ctx;
  PK_S(pk, "codes");
  msgpack_pack_array(pk, 1);
  PK_S(pk, code);
  PK_S(pk, "action");
  PK_S(pk, "procurement");
  PK_S(pk, "as_of");
  PK_S(pk, "2025-01-01");
  return 0;
}

Test(load, ten_thousand_pipelined_checks_answered_in_order) {
  cx_client *c = e2e_connect_as(TOK_APPROVAL);
  char codes[4][19];
  e2e_code("91", E2E_BLACK, codes[0]);
  e2e_code("91", 100, codes[1]);
  e2e_code("91", 777777, codes[2]);
  snprintf(codes[3], sizeof codes[3], "BAD");
  static const char *const verdicts[4] = {"deny", "clear", "not_found", "invalid_code"};
  uint64_t first = 0;
  for (int i = 0; i < 10000; i++) {
    uint64_t id;
    cr_assert_eq(cx_client_send(c, "check", 3, pack_one_check, codes[i % 4], &id), 0);
    if (i == 0) first = id;
  }
  cr_assert_eq(cx_client_flush(c), 0);
  for (int i = 0; i < 10000; i++) {
    cx_client_resp r;
    cr_assert_eq(cx_client_recv(c, &r), 0, "response %d", i);
    assert_ok(&r);
    cr_assert_eq(r.id, first + (uint64_t)i);
    const msgpack_object *res = cx_mpo_get(r.result, "results");
    cr_assert(cx_mpo_str_eq(cx_mpo_get(&res->via.array.ptr[0], "verdict"), verdicts[i % 4]),
              "response %d", i);
  }
  cx_client_close(c);
}

Test(load, slow_and_fast_requests_pipelined_stay_in_order) {
  cx_client *c = e2e_connect_as(TOK_ADMIN);
  char code[19];
  e2e_code("91", E2E_BLACK, code);
  uint64_t ids[60];
  for (int i = 0; i < 60; i++) {
    const char *op = i % 3 == 0 ? "aggregate" : i % 3 == 1 ? "check" : "ping";
    if (i % 3 == 1)
      cr_assert_eq(cx_client_send(c, op, 3, pack_one_check, code, &ids[i]), 0);
    else
      cr_assert_eq(cx_client_send(c, op, 0, NULL, NULL, &ids[i]), 0);
  }
  for (int i = 0; i < 60; i++) {
    cx_client_resp r;
    cr_assert_eq(cx_client_recv(c, &r), 0);
    assert_ok(&r);
    cr_assert_eq(r.id, ids[i]);
    if (i % 3 == 0) cr_assert(cx_mpo_get(r.result, "rows") != NULL);
    if (i % 3 == 2) cr_assert(cx_mpo_get(r.result, "pong") != NULL);
  }
  cx_client_close(c);
}

Test(load, two_hundred_concurrent_connections) {
  enum { N = 200, PER = 20 };
  static cx_client *cs[N];
  char code[19];
  e2e_code("91", E2E_BLACK, code);
  for (int i = 0; i < N; i++) cs[i] = e2e_connect_as(TOK_APPROVAL);
  for (int k = 0; k < PER; k++)
    for (int i = 0; i < N; i++) cr_assert_eq(cx_client_send(cs[i], "check", 3, pack_one_check, code, NULL), 0);
  for (int i = 0; i < N; i++) cr_assert_eq(cx_client_flush(cs[i]), 0);
  for (int i = 0; i < N; i++) {
    for (int k = 0; k < PER; k++) {
      cx_client_resp r;
      cr_assert_eq(cx_client_recv(cs[i], &r), 0, "conn %d resp %d", i, k);
      assert_ok(&r);
      const msgpack_object *res = cx_mpo_get(r.result, "results");
      cr_assert(cx_mpo_str_eq(cx_mpo_get(&res->via.array.ptr[0], "verdict"), "deny"));
    }
  }
  cx_client *a = e2e_connect_as(TOK_ADMIN);
  cx_client_resp r = e2e_call(a, "stats", NULL);
  assert_ok(&r);
  const msgpack_object *conns = cx_mpo_get(r.result, "connections");
  cr_assert(cx_mpo_int(cx_mpo_get(conns, "current"), 0) >= N + 1);
  cr_assert_eq(cx_mpo_int(cx_mpo_get(cx_mpo_get(cx_mpo_get(r.result, "ops"), "check"), "requests"), 0),
               N * PER);
  cx_client_close(a);
  for (int i = 0; i < N; i++) cx_client_close(cs[i]);
}

Test(load, sigterm_with_a_pipeline_in_flight_answers_in_order_then_closes) {
  cx_client *c = e2e_connect_as(TOK_APPROVAL);
  char code[19];
  e2e_code("91", E2E_BLACK, code);
  uint64_t first = 0;
  for (int i = 0; i < 3000; i++) {
    uint64_t id;
    cr_assert_eq(cx_client_send(c, "check", 3, pack_one_check, code, &id), 0);
    if (!i) first = id;
  }
  cx_client_resp r;
  cr_assert_eq(cx_client_recv(c, &r), 0);
  assert_ok(&r);
  kill(g_srv.pid, SIGTERM);
  int n = 1, rc;
  while ((rc = cx_client_recv(c, &r)) == 0) {
    assert_ok(&r);
    cr_assert_eq(r.id, first + (uint64_t)n, "in order through the stop");
    n++;
  }
  cr_assert(rc == CX_ECONN, "then a clean close (%d) after %d answers", rc, n);
  cx_client_close(c);
  int st = 0;
  cr_assert_eq(waitpid(g_srv.pid, &st, 0), g_srv.pid);
  g_srv.pid = 0;
  cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
}
