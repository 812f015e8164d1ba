/* Unit tests of the token file (net/util.c cx_tokens_parse, cx_tokens_load): roles, names and
 * the authorities= scope of submitter tokens; the error messages never show a token. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "net_int.h"
#include "query.h"
#include "testutil.h"

TestSuite(token_file);

/* A valid USCC of a government body ("11") numbered n. */
static void uscc(unsigned n, char out[CX_CODE_LEN + 1]) {
  char c17[18];
  snprintf(c17, sizeof c17, "11350100%08u0", n % 100000000u);
  c17[16] = cx_orgcode_check_char(c17 + 8);
  memcpy(out, c17, 17);
  out[17] = cx_uscc_check_char(c17);
  out[18] = 0;
}

/* Parses text; returns the code, with the bad line and the reason. */
static int parse(const char *text, cx_tokens *tk, int *bad, char *why, size_t cap) {
  *bad = 0;
  why[0] = 0;
  return cx_tokens_parse_why(text, strlen(text), tk, bad, why, cap);
}

/* text must be refused on line `line`, with a reason containing `says`. */
static void refused(const char *text, int line, const char *says) {
  cx_tokens tk = {(cx_token *)0x1, 12345}; /* must stay untouched */
  int bad;
  char why[256];
  cr_assert_eq(parse(text, &tk, &bad, why, sizeof why), CX_EBADREQ, "accepted: %s", text);
  cr_assert_eq(bad, line, "bad line %d for: %s", bad, text);
  cr_assert(strstr(why, says), "reason \"%s\" lacks \"%s\"", why, says);
  cr_assert(!strstr(why, "sekrit"), "the reason shows the token: %s", why);
  cr_assert(tk.v == (cx_token *)0x1 && tk.n == 12345, "out changed on failure");
  /* the four-argument form agrees */
  cr_assert_eq(cx_tokens_parse(text, strlen(text), &tk, &bad), CX_EBADREQ);
  cr_assert_eq(bad, line);
}

Test(token_file, scopes_a_submitter_to_its_authorities_wherever_the_word_stands) {
  char a[19], b[19], lower[19], text[1024];
  uscc(900, a);
  uscc(901, b);
  for (int i = 0; i < 18; i++) lower[i] = (char)(a[i] >= 'A' && a[i] <= 'Z' ? a[i] + 32 : a[i]);
  lower[18] = 0;
  snprintf(text, sizeof text,
           "sekrit-1-0123456789 submitter authorities=%s,%s 市场 监管局\n"
           "sekrit-2-0123456789 submitter 市场  监管局 authorities=%s\n"
           "sekrit-3-0123456789 submitter 市场 authorities=%s 监管局二\n"
           "sekrit-4-0123456789\tsubmitter\tauthorities=%s\n",
           a, b, b, lower, a);
  cx_tokens tk;
  int bad;
  char why[256];
  cr_assert_eq(parse(text, &tk, &bad, why, sizeof why), 0, "%s (line %d)", why, bad);
  cr_assert_eq(tk.n, 4);
  for (uint32_t i = 0; i < 4; i++) cr_assert_eq(tk.v[i].role, CX_ROLE_SUBMITTER);
  cr_assert_eq(tk.v[0].n_authorities, 2);
  cr_assert_str_eq(tk.v[0].authorities[0], a);
  cr_assert_str_eq(tk.v[0].authorities[1], b);
  cr_assert_str_eq(tk.v[0].name, "市场 监管局");
  cr_assert_eq(tk.v[1].n_authorities, 1);
  cr_assert_str_eq(tk.v[1].authorities[0], b);
  cr_assert_str_eq(tk.v[1].name, "市场  监管局", "inner spacing is kept");
  cr_assert_str_eq(tk.v[2].name, "市场 监管局二", "the word is taken out of the middle");
  cr_assert_str_eq(tk.v[2].authorities[0], a, "codes are normalised (upper case)");
  cr_assert_str_eq(tk.v[3].name, "");
  cr_assert_eq(cx_tokens_find(&tk, CX_STR("sekrit-3-0123456789")), 2);
  cx_tokens_free(&tk);
}

Test(token_file, other_roles_keep_the_old_format_and_no_scope) {
  const char *t = "# comment\n\nsekrit-a-0123456789 approval 审批系统\n  sekrit-b-0123456789\tadmin  ops team \n"
                  "sekrit-c-0123456789 analyst\nsekrit-d-0123456789 public 门户\n";
  cx_tokens tk;
  int bad;
  char why[256];
  cr_assert_eq(parse(t, &tk, &bad, why, sizeof why), 0, "%s", why);
  cr_assert_eq(tk.n, 4);
  cr_assert_eq(tk.v[1].role, CX_ROLE_ADMIN);
  cr_assert_str_eq(tk.v[1].name, "ops team");
  for (uint32_t i = 0; i < tk.n; i++) cr_assert_eq(tk.v[i].n_authorities, 0);
  cx_tokens_free(&tk);
}

Test(token_file, a_submitter_without_authorities_is_a_bad_line) {
  refused("sekrit-a-0123456789 admin ops\nsekrit-b-0123456789 submitter 市场监管局\n", 2,
          "submitter tokens need authorities=CODE[,CODE");
  refused("sekrit-b-0123456789 submitter\n", 1, "submitter tokens need authorities=");
  /* a word that merely contains the name is not the word */
  char a[19], text[256];
  uscc(900, a);
  snprintf(text, sizeof text, "sekrit-b-0123456789 submitter xauthorities=%s\n", a);
  refused(text, 1, "submitter tokens need authorities=");
}

Test(token_file, authorities_on_any_other_role_is_a_bad_line) {
  const char *roles[] = {"public", "approval", "analyst", "admin"};
  char a[19], text[256];
  uscc(900, a);
  for (int i = 0; i < 4; i++) {
    snprintf(text, sizeof text, "# c\nsekrit-x-0123456789 %s authorities=%s name\n", roles[i], a);
    refused(text, 2, "only for submitter tokens");
  }
}

Test(token_file, bad_lists_are_bad_lines) {
  char a[19], b[19], bad_check[19], text[512];
  uscc(900, a);
  uscc(901, b);
  memcpy(bad_check, a, 19);
  bad_check[17] = bad_check[17] == '0' ? '1' : '0';
  refused("sekrit-x-0123456789 submitter authorities=\n", 1, "empty list");
  snprintf(text, sizeof text, "sekrit-x-0123456789 submitter authorities=%s,\n", a);
  refused(text, 1, "code 2 is empty");
  snprintf(text, sizeof text, "sekrit-x-0123456789 submitter authorities=%s,,%s\n", a, b);
  refused(text, 1, "code 2 is empty");
  snprintf(text, sizeof text, "sekrit-x-0123456789 submitter authorities=%s,%s\n", a, bad_check);
  refused(text, 1, "bad USCC");
  refused(text, 1, bad_check); /* the operator is told which code */
  refused(text, 1, "check character");
  refused("sekrit-x-0123456789 submitter authorities=98765\n", 1, "bad USCC \"98765\" (wrong length)");
  snprintf(text, sizeof text, "sekrit-x-0123456789 submitter authorities=%s,%s,%s\n", a, b, a);
  refused(text, 1, "listed twice");
  snprintf(text, sizeof text, "sekrit-x-0123456789 submitter authorities=%s x authorities=%s\n", a, b);
  refused(text, 1, "given twice");
}

Test(token_file, holds_at_most_64_authorities_per_token) {
  static char text[8192];
  char c[19];
  size_t n = (size_t)snprintf(text, sizeof text, "sekrit-x-0123456789 submitter authorities=");
  for (unsigned i = 0; i < CX_TOKEN_MAX_AUTHORITIES; i++) {
    uscc(1000 + i, c);
    n += (size_t)snprintf(text + n, sizeof text - n, "%s%s", i ? "," : "", c);
  }
  size_t full = n;
  snprintf(text + n, sizeof text - n, " 大局\n");
  cx_tokens tk;
  int bad;
  char why[256];
  cr_assert_eq(parse(text, &tk, &bad, why, sizeof why), 0, "%s", why);
  cr_assert_eq(tk.v[0].n_authorities, CX_TOKEN_MAX_AUTHORITIES);
  uscc(1000 + CX_TOKEN_MAX_AUTHORITIES - 1, c);
  cr_assert_str_eq(tk.v[0].authorities[CX_TOKEN_MAX_AUTHORITIES - 1], c);
  cr_assert_str_eq(tk.v[0].name, "大局");
  cx_tokens_free(&tk);
  uscc(5000, c);
  snprintf(text + full, sizeof text - full, ",%s 大局\n", c);
  refused(text, 1, "more than 64 codes");
}

Test(token_file, reasons_never_show_the_token_or_the_role_word) {
  /* words swapped: the "role" is the secret */
  refused("admin sekrit-swapped-0123456789\n", 1, "with role one of");
  /* a token given where a code belongs */
  refused("sekrit-x-0123456789 submitter authorities=sekrit-x-0123456789\n", 1, "code 1 is not a valid USCC");
  char tok[CX_TOKEN_MAX + 8];
  memset(tok, 'k', sizeof tok);
  memcpy(tok, "sekrit", 6);
  snprintf(tok + CX_TOKEN_MAX, 8, " admin\n");
  refused(tok, 1, "token longer than 255 bytes");
}

Test(token_file, a_long_name_is_cut_at_a_character_boundary) {
  char text[512];
  int n = snprintf(text, sizeof text, "sekrit-a-0123456789 analyst ");
  for (int i = 0; i < 30; i++) n += snprintf(text + n, sizeof text - (size_t)n, "监"); /* 90 bytes */
  snprintf(text + n, sizeof text - (size_t)n, "\n");
  cx_tokens tk;
  int bad;
  char why[256];
  cr_assert_eq(parse(text, &tk, &bad, why, sizeof why), 0);
  cr_assert_eq(strlen(tk.v[0].name), 63, "21 whole characters of 3 bytes");
  cx_tokens_free(&tk);
}

Test(token_file, load_says_which_line_and_what_is_wrong_without_the_token) {
  char dir[128], path[256], why[512], a[19];
  cx_test_tmpdir(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/tokens", dir);
  uscc(900, a);
  FILE *f = fopen(path, "w");
  cr_assert(f);
  fprintf(f, "sekrit-ok-0123456789 submitter authorities=%s 市场监管局\n# note\nsekrit-bad-0123456789 submitter 税务局\n", a);
  fclose(f);
  chmod(path, 0600);
  cx_tokens tk;
  cr_assert_eq(cx_tokens_load(path, &tk, why, sizeof why), CX_EBADREQ);
  cr_assert(strstr(why, path), "%s", why);
  cr_assert(strstr(why, "line 3: submitter tokens need authorities=CODE[,CODE...]"), "%s", why);
  cr_assert(!strstr(why, "sekrit"), "%s", why);
  f = fopen(path, "w");
  fprintf(f, "sekrit-ok-0123456789 submitter authorities=%s 市场监管局\n", a);
  fclose(f);
  cr_assert_eq(cx_tokens_load(path, &tk, why, sizeof why), 0, "%s", why);
  cr_assert_eq(tk.n, 1);
  cr_assert_eq(tk.v[0].n_authorities, 1);
  cr_assert_str_eq(tk.v[0].authorities[0], a);
  cr_assert_str_eq(tk.v[0].name, "市场监管局");
  cx_tokens_free(&tk);
  cx_test_rmrf(dir);
}

/* ---- strict parsing: what used to be taken silently ---- */

Test(token_file, a_utf8_bom_before_the_first_token_is_refused_on_line_1) {
  /* it used to become part of the first token, which then never matched */
  refused("\xef\xbb\xbfsekrit-a-0123456789 admin ops\n", 1, "byte order mark");
  refused("\xef\xbb\xbf# tokens\nsekrit-a-0123456789 admin ops\n", 1, "byte order mark");
}

Test(token_file, a_token_listed_twice_with_different_roles_is_refused_naming_both_lines) {
  /* it used to be first-wins: the admin line was silently dead */
  refused("sekrit-a-0123456789 approval gate\n# c\nsekrit-b-0123456789 analyst bi\n"
          "sekrit-a-0123456789 admin ops\n",
          4, "the token of line 4 is also on line 1");
  refused("sekrit-a-0123456789 admin ops\nsekrit-a-0123456789 admin ops\n", 2, "also on line 1");
}

Test(token_file, a_name_listed_twice_is_refused_naming_both_lines) {
  /* the audit log's who would not say which token it was */
  refused("sekrit-a-0123456789 approval 审批系统\nsekrit-b-0123456789 admin ops\n"
          "sekrit-c-0123456789 analyst 审批系统\n",
          3, "name \"审批系统\" is also on line 1");
  /* unnamed tokens are token#N each: several are fine */
  cx_tokens tk;
  int bad;
  char why[256];
  const char *t = "sekrit-a-0123456789 approval\nsekrit-b-0123456789 analyst\n";
  cr_assert_eq(parse(t, &tk, &bad, why, sizeof why), 0, "%s", why);
  cx_tokens_free(&tk);
}

Test(token_file, a_token_with_a_nul_a_no_break_space_or_a_control_byte_is_refused) {
  static const struct { const char *text; size_t n; const char *says; } cases[] = {
      {"sekrit-a-0123" "\0" "456789 admin ops\n", 31, "control character U+0000 at byte 13"},
      {"sekrit-a-0123456789\xc2\xa0" "admin ops\n", 31, "not printable ASCII (byte 19 of the token)"},
      {"sekrit-a-0123456789\xe3\x80\x80" "admin\n", 28, "not printable ASCII (byte 19 of the token)"},
      {"sekrit-a-01234\x1b" "56789 admin ops\n", 31, "control character U+001B at byte 14"},
      {"sekrit-a-0123456789 admin ops\vteam\n", 35, "control character U+000B at byte 29"},
      {"sekrit-a-0123456789 admin op\xffs\n", 31, "invalid UTF-8 at byte 28"},
      {"sekrit-a-0123456789 admin ops\tteam\n", 35, "name: control character U+0009 at byte 3"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
    cx_tokens tk = {(cx_token *)0x1, 12345};
    int bad = 0;
    char why[256] = "";
    cr_assert_eq(cx_tokens_parse_why(cases[i].text, cases[i].n, &tk, &bad, why, sizeof why), CX_EBADREQ,
                 "case %zu accepted", i);
    cr_assert_eq(bad, 1);
    cr_assert(strstr(why, cases[i].says), "case %zu: \"%s\" lacks \"%s\"", i, why, cases[i].says);
    cr_assert(!strstr(why, "sekrit") && !strstr(why, "0123"), "case %zu shows the token: %s", i, why);
  }
  /* CRLF files are fine */
  cx_tokens tk;
  int bad;
  char why[256];
  const char *t = "sekrit-a-0123456789 admin ops\r\nsekrit-b-0123456789\tanalyst\r\n";
  cr_assert_eq(parse(t, &tk, &bad, why, sizeof why), 0, "%s", why);
  cr_assert_str_eq(tk.v[0].name, "ops");
  cx_tokens_free(&tk);
}

Test(token_file, a_5_character_token_is_refused_16_bytes_is_the_minimum) {
  refused("sekrit-a-0123456789 admin ops\nabcde approval gate\n", 2, "shorter than 16 bytes");
  refused("0123456789abcde approval gate\n", 1, "shorter than 16 bytes");
  cx_tokens tk;
  int bad;
  char why[256];
  cr_assert_eq(parse("0123456789abcdef approval gate\n", &tk, &bad, why, sizeof why), 0, "%s", why);
  cx_tokens_free(&tk);
}
