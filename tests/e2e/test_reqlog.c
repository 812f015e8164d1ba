/* test_reqlog.c — the request log (--request-log FILE): one logfmt line per answered request of
 * both doors, with the role and the token's name, never the token and never an entity code;
 * --request-log-rate samples a share of them. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "e2e.h"

static char reqlog[400];

static void setup(void) {
  cx_test_tmpdir(reqlog, sizeof reqlog); /* a directory of its own, removed with the test's */
  strncat(reqlog, "/requests.log", sizeof reqlog - strlen(reqlog) - 1);
  const char *extra[] = {"--request-log", reqlog, "--http", "127.0.0.1:0", NULL};
  e2e_setup_args(extra);
}
static void teardown(void) { e2e_teardown(); }
TestSuite(reqlog, .init = setup, .fini = teardown, .timeout = 60);

/* The HTTP port from the server's log ("http listening on 127.0.0.1:PORT"). */
static int http_port(void) {
  FILE *f = fopen(g_srv.log, "r");
  cr_assert(f);
  char line[1024];
  int port = 0;
  while (!port && fgets(line, sizeof line, f)) {
    char *p = strstr(line, "http listening on 127.0.0.1:");
    if (p) port = atoi(p + strlen("http listening on 127.0.0.1:"));
  }
  fclose(f);
  cr_assert_gt(port, 0);
  return port;
}

static char *slurp_log(void) {
  FILE *f = fopen(reqlog, "r");
  cr_assert(f, "the request log exists");
  static char buf[1 << 16];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = 0;
  fclose(f);
  return buf;
}

Test(reqlog, both_doors_log_who_asked_never_the_token_nor_the_code) {
  char code[CX_CODE_LEN + 1];
  e2e_code("91", 100, code);
  cx_client *c = e2e_connect_as(TOK_ANALYST);
  const char *kv[] = {"code", code, NULL};
  cx_client_resp r = e2e_call(c, "entity", kv);
  assert_ok(&r);
  r = e2e_call(c, "check", NULL);
  assert_err(&r, "forbidden");
  cx_client_close(c);
  cr_assert_eq(cx_test_sh("curl -s -o /dev/null -H 'Authorization: Bearer %s' -H 'X-Request-Id: probe-7' "
                          "http://127.0.0.1:%d/v1/ping", TOK_ADMIN, http_port()),
               0);
  usleep(100000);
  const char *t = slurp_log();
  cr_assert(strstr(t, "door=msgpack op=auth role=analyst who=\"analysts\""), "%s", t);
  cr_assert(strstr(t, "door=msgpack op=entity role=analyst who=\"analysts\""), "%s", t);
  cr_assert(strstr(t, "op=check role=analyst who=\"analysts\" ") && strstr(t, "outcome=forbidden"), "%s", t);
  cr_assert(strstr(t, "door=http op=ping role=admin who=\"ops\"") && strstr(t, "rid=probe-7"), "%s", t);
  cr_assert(!strstr(t, TOK_ANALYST) && !strstr(t, TOK_ADMIN), "never a token");
  cr_assert(!strstr(t, code), "never an entity code");
}

Test(reqlog, a_rate_logs_that_share_of_the_requests) {
  cr_assert_eq(e2e_stop(&g_srv), 0);
  remove(reqlog);
  const char *args[] = {"--tokens", g_srv.tokens, "--request-log", reqlog, "--request-log-rate", "0.5",
                        "--threads", "1", NULL};
  cr_assert_gt(e2e_spawn(&g_srv, args), 0);
  cx_client *c = e2e_connect();
  for (int i = 0; i < 40; i++) {
    cx_client_resp r = e2e_call(c, "ping", NULL);
    assert_ok(&r);
  }
  cx_client_close(c);
  usleep(100000);
  const char *t = slurp_log();
  int n = 0;
  for (const char *p = t; (p = strstr(p, "op=ping")); p++) n++;
  cr_assert_eq(n, 20, "one of every two requests: %d lines", n);
}
