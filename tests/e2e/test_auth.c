/*
 * End-to-end: the token file is parsed strictly (a BOM, a repeated token or name, a short or
 * non-printable token stop chengxind at start, naming the line and never the token).
 */
#include "e2e.h"

static int log_has(const char *path, const char *needle) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  char line[2048];
  int found = 0;
  while (fgets(line, sizeof line, f))
    if (strstr(line, needle)) found = 1;
  fclose(f);
  return found;
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
  cr_assert(log_has(s0.log, says), "the log lacks \"%s\"", says);
  cr_assert(!log_has(s0.log, "sekrit"), "the log shows a token");
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
