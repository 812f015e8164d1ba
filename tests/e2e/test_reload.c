/* test_reload.c — SIGHUP reloads the token file and the data files of a running chengxind:
 * connections stay; a removed token's connection becomes public; a role change applies; a bad
 * file keeps the old one and the log says why (never a token); a catalogue another process
 * loaded into the store is what the server answers after the reload; SIGTERM still stops it. */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "e2e.h"

#define TOK_NEW "tok-newcomer-0123456789"

static void setup(void) { e2e_setup(); }
static void teardown(void) { e2e_teardown(); }
TestSuite(reload, .init = setup, .fini = teardown, .timeout = 120);

/* SIGHUP, then wait for the reload's last line (n-th time: count the lines). */
static void hup_and_wait(const char *needle, int nth) {
  cr_assert_eq(kill(g_srv.pid, SIGHUP), 0);
  for (int i = 0; i < 500; i++) {
    FILE *f = fopen(g_srv.log, "r");
    int n = 0;
    char line[1024];
    while (f && fgets(line, sizeof line, f))
      if (strstr(line, needle)) n++;
    if (f) fclose(f);
    if (n >= nth) return;
    usleep(10000);
  }
  e2e_dump_log(g_srv.log);
  cr_assert_fail("no \"%s\" line after SIGHUP", needle);
}

static void write_tokens(const char *body, int mode) {
  FILE *f = fopen(g_srv.tokens, "w");
  cr_assert(f);
  fputs(body, f);
  fclose(f);
  chmod(g_srv.tokens, (mode_t)mode);
}

Test(reload, tokens_change_without_dropping_connections) {
  cx_client *analyst = e2e_connect_as(TOK_ANALYST), *approval = e2e_connect_as(TOK_APPROVAL);
  cx_client_resp r = e2e_call(analyst, "stats", NULL);
  assert_ok(&r);
  /* the analyst token goes, the approval token becomes an analyst's, a new admin token comes */
  write_tokens("# reloaded\n" TOK_APPROVAL " analyst former-approval\n" TOK_NEW " admin newcomer\n", 0600);
  hup_and_wait("reload: data files", 1);
  cr_assert(e2e_log_has(g_srv.log, "reload: tokens: 2 now (1 added, 3 removed, 1 with another role or scope)"));
  /* same connections, no reconnect */
  r = e2e_call(analyst, "stats", NULL);
  assert_err(&r, "forbidden"); /* public now */
  r = e2e_call(analyst, "ping", NULL);
  assert_ok(&r);
  r = e2e_call(approval, "stats", NULL);
  assert_ok(&r); /* its new role */
  cx_client_close(analyst);
  cx_client_close(approval);
  cx_client *c = e2e_connect_as(TOK_NEW);
  r = e2e_call(c, "stats", NULL);
  assert_ok(&r);
  cx_client_close(c);
  c = e2e_connect();
  char role[32];
  cr_assert_neq(cx_client_auth(c, TOK_ANALYST, role, sizeof role), 0, "a removed token no longer authenticates");
  cx_client_close(c);
  /* never a token in the log */
  cr_assert(!e2e_log_has(g_srv.log, TOK_NEW));
  cr_assert(!e2e_log_has(g_srv.log, TOK_APPROVAL));
}

Test(reload, a_bad_token_file_keeps_the_old_tokens) {
  write_tokens("# readable by others: refused\n" TOK_NEW " admin newcomer\n", 0644);
  hup_and_wait("reload: data files", 1);
  cr_assert(e2e_log_has(g_srv.log, "keeping the 4 tokens loaded before"));
  cx_client *c = e2e_connect_as(TOK_ANALYST); /* still known */
  cx_client_resp r = e2e_call(c, "stats", NULL);
  assert_ok(&r);
  cx_client_close(c);
  c = e2e_connect();
  char role[32];
  cr_assert_neq(cx_client_auth(c, TOK_NEW, role, sizeof role), 0);
  cx_client_close(c);
  /* a line that does not parse: the same */
  write_tokens(TOK_NEW " emperor\n", 0600);
  hup_and_wait("reload: data files", 2);
  cr_assert(e2e_log_has(g_srv.log, "line 1"));
  c = e2e_connect_as(TOK_ADMIN);
  r = e2e_call(c, "stats", NULL);
  assert_ok(&r);
  cx_client_close(c);
}

Test(reload, a_catalogue_loaded_by_another_process_is_served_after_the_reload) {
  /* the shipped catalogue plus one action, loaded into the store by the CLI beside the server */
  char bin[512], cat[400];
  cx_test_bin("chengxin", bin, sizeof bin);
  snprintf(cat, sizeof cat, "%s/catalog.tsv", g_srv.dir);
  extern const char cx_data_catalog[];
  extern const size_t cx_data_catalog_len;
  FILE *f = fopen(cat, "w");
  cr_assert(f);
  fwrite(cx_data_catalog, 1, cx_data_catalog_len, f);
  fputs("\naction\treload_probe\t重新加载测试\n", f);
  fclose(f);
  cr_assert_eq(cx_test_sh("'%s' load-catalog --db '%s' '%s' >/dev/null 2>&1", bin, g_srv.db, cat), 0);
  cx_client *c = e2e_connect_as(TOK_APPROVAL);
  cx_client_resp r = e2e_call(c, "catalog", NULL);
  assert_ok(&r);
  cr_assert(!e2e_resp_has(&r, "reload_probe"), "not before the reload");
  hup_and_wait("reload: data files", 1);
  cr_assert(e2e_log_has(g_srv.log, "reload: data files: the catalogue changed"));
  r = e2e_call(c, "catalog", NULL); /* the same connection: its loop's context was reloaded */
  assert_ok(&r);
  cr_assert(e2e_resp_has(&r, "reload_probe"));
  cx_client_close(c);
  /* unchanged on the next reload */
  hup_and_wait("reload: data files", 2);
  cr_assert(e2e_log_has(g_srv.log, "reload: data files unchanged"));
}
