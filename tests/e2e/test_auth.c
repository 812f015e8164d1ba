/*
 * End-to-end: the token file is parsed strictly (a BOM, a repeated token or name, a short or
 * non-printable token stop chengxind at start, naming the line and never the token), and
 * failed authentications are counted in stats and logged with the peer, never the token.
 */
#include "e2e.h"

/* ---- a running server ---- */

TestSuite(auth, .init = e2e_setup, .fini = e2e_teardown, .timeout = 60);

#define GUESS "guess-0123456789-not-a-token"

Test(auth, failed_authentications_are_counted_in_stats_and_logged_with_the_peer_never_the_token) {
  cx_client *c = e2e_connect();
  for (int i = 0; i < 3; i++) cr_assert_eq(cx_client_auth(c, GUESS, NULL, 0), CX_EFORBIDDEN);
  cr_assert_eq(cx_client_auth(c, TOK_APPROVAL, NULL, 0), 0, "a right token still works");
  cx_client_close(c);
  cx_client *a = e2e_connect_as(TOK_ANALYST);
  cx_client_resp r = e2e_call(a, "stats", NULL);
  assert_ok(&r);
  const msgpack_object *au = cx_mpo_get(r.result, "auth");
  cr_assert(au, "stats has no auth map");
  cr_assert_eq(cx_mpo_int(cx_mpo_get(au, "failed"), -1), 3);
  cx_client_close(a);
  cr_assert(e2e_log_has(g_srv.log, "auth: unknown token from 127.0.0.1:"), "no log line with the peer");
  cr_assert(!e2e_log_has(g_srv.log, "guess-0123"), "the log shows the token");
}

Test(auth, a_flood_of_wrong_tokens_is_counted_in_full_but_logged_in_bounded_lines) {
  for (int k = 0; k < 12; k++) { /* 60 failures within a second or two */
    cx_client *c = e2e_connect();
    for (int i = 0; i < 5; i++) cr_assert_eq(cx_client_auth(c, GUESS, NULL, 0), CX_EFORBIDDEN);
    cx_client_close(c);
  }
  cx_client *a = e2e_connect_as(TOK_ANALYST);
  cx_client_resp r = e2e_call(a, "stats", NULL);
  assert_ok(&r);
  cr_assert_eq(cx_mpo_int(cx_mpo_get(cx_mpo_get(r.result, "auth"), "failed"), -1), 60);
  cx_client_close(a);
  FILE *f = fopen(g_srv.log, "r");
  cr_assert(f);
  char line[2048];
  int lines = 0;
  while (fgets(line, sizeof line, f)) lines += strstr(line, "auth: unknown token") != NULL;
  fclose(f);
  cr_assert(lines >= 1 && lines < 60, "%d log lines for 60 failures", lines);
}

/* ---- startup (no fixture server) ---- */

static e2e_server s0;

static void setup_dir(void) {
  memset(&s0, 0, sizeof s0);
  cx_test_tmpdir(s0.dir, sizeof s0.dir);
  snprintf(s0.log, sizeof s0.log, "%s/server.log", s0.dir);
  snprintf(s0.tokens, sizeof s0.tokens, "%s/tokens", s0.dir);
  e2e_make_store(s0.dir, s0.db, sizeof s0.db);
}
static void teardown_dir(void) {
  e2e_stop(&s0);
  cx_test_rmrf(s0.dir);
}

TestSuite(token_file_start, .init = setup_dir, .fini = teardown_dir, .timeout = 60);

/* Writes text (n bytes) as the token file, starts chengxind: it must exit 2 saying `says`. */
static void refuses_to_start(const char *text, size_t n, const char *says) {
  FILE *f = fopen(s0.tokens, "w");
  cr_assert(f);
  cr_assert_eq(fwrite(text, 1, n, f), n);
  fclose(f);
  chmod(s0.tokens, 0600);
  int rc = e2e_spawn(&s0, (const char *[]){"--tokens", s0.tokens, NULL});
  if (rc > 0) e2e_stop(&s0);
  cr_assert_eq(rc, -1002, "chengxind started or failed otherwise (%d) with: %s", rc, says); /* 2: a bad file */
  cr_assert(e2e_log_has(s0.log, says), "the log lacks \"%s\"", says);
  cr_assert(!e2e_log_has(s0.log, "sekrit"), "the log shows a token");
}

Test(token_file_start, a_utf8_bom_stops_chengxind_naming_line_1) {
  static const char t[] = "\xef\xbb\xbfsekrit-admin-0123456789 admin ops\n";
  refuses_to_start(t, sizeof t - 1, "line 1: the file starts with a UTF-8 byte order mark");
}

Test(token_file_start, a_token_listed_twice_with_two_roles_stops_chengxind_naming_both_lines) {
  static const char t[] = "sekrit-one-0123456789 approval gate\nsekrit-one-0123456789 admin ops\n";
  refuses_to_start(t, sizeof t - 1, "line 2: the token of line 2 is also on line 1");
}

Test(token_file_start, a_name_listed_twice_stops_chengxind) {
  static const char t[] = "sekrit-one-0123456789 approval gate\nsekrit-two-0123456789 analyst gate\n";
  refuses_to_start(t, sizeof t - 1, "line 2: name \"gate\" is also on line 1");
}

Test(token_file_start, a_5_character_token_stops_chengxind) {
  static const char t[] = "sekrit-one-0123456789 approval gate\nabcde admin ops\n";
  refuses_to_start(t, sizeof t - 1, "line 2: token shorter than 16 bytes");
}

Test(token_file_start, a_token_with_a_no_break_space_stops_chengxind) {
  static const char t[] = "sekrit-one-0123456789\xc2\xa0" "admin ops\n";
  refuses_to_start(t, sizeof t - 1, "line 1: the token holds a byte that is not printable ASCII");
}
