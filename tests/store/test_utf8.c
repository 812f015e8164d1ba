/* test_utf8.c — the string check and the escaper (store/utf8.c): every code point round-trips,
 * every malformed form is refused at the right byte, escapes always pass the check, nothing is
 * read past n (guard page). */
#include <criterion/criterion.h>
#include <string.h>

#include "store.h"
#include "testutil.h"

/* Reference encoder (RFC 3629). */
static size_t enc(uint32_t cp, unsigned char *o) {
  if (cp < 0x80) return o[0] = (unsigned char)cp, 1;
  if (cp < 0x800) return o[0] = (unsigned char)(0xC0 | cp >> 6), o[1] = (unsigned char)(0x80 | (cp & 63)), 2;
  if (cp < 0x10000) {
    o[0] = (unsigned char)(0xE0 | cp >> 12);
    o[1] = (unsigned char)(0x80 | ((cp >> 6) & 63));
    o[2] = (unsigned char)(0x80 | (cp & 63));
    return 3;
  }
  o[0] = (unsigned char)(0xF0 | cp >> 18);
  o[1] = (unsigned char)(0x80 | ((cp >> 12) & 63));
  o[2] = (unsigned char)(0x80 | ((cp >> 6) & 63));
  o[3] = (unsigned char)(0x80 | (cp & 63));
  return 4;
}

Test(utf8, every_scalar_value_decodes_and_no_surrogate_does) {
  unsigned char b[4];
  for (uint32_t cp = 0; cp <= 0x10FFFF; cp++) {
    size_t n = enc(cp, b);
    uint32_t got = 0xFFFFFFFF;
    long k = cx_utf8_decode((const char *)b, n, &got);
    if (cp >= 0xD800 && cp <= 0xDFFF) {
      cr_assert_eq(k, CX_EBADREQ, "surrogate U+%04X decoded", cp);
      continue;
    }
    cr_assert_eq(k, (long)n, "U+%04X: %ld", cp, k);
    cr_assert_eq(got, cp);
    for (size_t m = 1; m < n; m++) /* every proper prefix asks for more */
      cr_assert_eq(cx_utf8_decode((const char *)b, m, &got), CX_EAGAIN, "U+%04X cut at %zu", cp, m);
  }
}

Test(utf8, overlongs_surrogates_and_values_past_10ffff_are_refused_at_the_first_bad_byte) {
  static const struct { const char *s; size_t n; uint32_t at; } bad[] = {
      {"\xC0\x80", 2, 0},             /* overlong NUL */
      {"\xC1\xBF", 2, 0},             /* overlong U+007F */
      {"\xE0\x80\x80", 3, 0},         /* overlong 3-byte */
      {"\xE0\x9F\xBF", 3, 0},         /* overlong U+07FF */
      {"\xF0\x8F\xBF\xBF", 4, 0},     /* overlong U+FFFF */
      {"\xED\xA0\x80", 3, 0},         /* U+D800 */
      {"\xED\xBF\xBF", 3, 0},         /* U+DFFF */
      {"\xF4\x90\x80\x80", 4, 0},     /* U+110000 */
      {"\xF5\x80\x80\x80", 4, 0},
      {"\xFF", 1, 0},
      {"\x80", 1, 0},                 /* stray continuation */
      {"ab\xE4\xB8", 4, 2},           /* 中 cut by the end of the string */
      {"ab\xE4\x41\x41", 5, 2},       /* bad continuation */
      {"R-BAD\xFFhidden", 12, 5},
  };
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
    cx_text_fault f = {99, 99};
    cr_assert_eq(cx_text_check(bad[i].s, bad[i].n, CX_TEXT_UTF8, &f), CX_EBADREQ, "case %zu accepted", i);
    cr_assert_eq(f.at, bad[i].at, "case %zu: at %u", i, f.at);
    cr_assert_eq(f.cp, -1);
  }
  char why[96];
  cx_text_fault f;
  cr_assert_eq(cx_text_check("R-BAD\xFFhidden", 12, CX_TEXT_NAME, &f), CX_EBADREQ);
  cx_text_fault_format(&f, "record_id", why, sizeof why);
  cr_assert_str_eq(why, "record_id: invalid UTF-8 at byte 5");
}

Test(utf8, names_take_no_control_character_and_free_text_takes_tab_and_lf_only) {
  cx_text_fault f;
  char why[96];
  cr_assert_eq(cx_text_check("福州市\t监管局", strlen("福州市\t监管局"), CX_TEXT_FREE, NULL), 0);
  cr_assert_eq(cx_text_check("line 1\nline 2", 13, CX_TEXT_FREE, NULL), 0);
  cr_assert_eq(cx_text_check("a\tb", 3, CX_TEXT_NAME, &f), CX_EBADREQ);
  cr_assert_eq(f.at, 1);
  cr_assert_eq(f.cp, 9);
  cr_assert_eq(cx_text_check("abc\0def", 7, CX_TEXT_FREE, &f), CX_EBADREQ);
  cx_text_fault_format(&f, "content", why, sizeof why);
  cr_assert_str_eq(why, "content: control character U+0000 at byte 3");
  cr_assert_eq(cx_text_check("x\r\n", 3, CX_TEXT_FREE, &f), CX_EBADREQ);
  cr_assert_eq(f.cp, '\r');
  cr_assert_eq(cx_text_check("\x1b[2K", 4, CX_TEXT_FREE, &f), CX_EBADREQ);
  cr_assert_eq(f.cp, 0x1B);
  cr_assert_eq(cx_text_check("a\x7f", 2, CX_TEXT_FREE, &f), CX_EBADREQ);
  cr_assert_eq(f.cp, 0x7F);
  cr_assert_eq(cx_text_check("a\xC2\x9B" "2K", 5, CX_TEXT_NAME, &f), CX_EBADREQ); /* C1 CSI */
  cr_assert_eq(f.at, 1);
  cr_assert_eq(f.cp, 0x9B);
  cr_assert_eq(cx_text_check("a\xC2\xA0" "b", 4, CX_TEXT_NAME, NULL), 0, "U+00A0 is not a control");
  cr_assert_eq(cx_text_check("\x1b\t\xC2\x9B", 4, CX_TEXT_UTF8, NULL), 0, "UTF8 refuses only NUL");
  cr_assert_eq(cx_text_check("", 0, CX_TEXT_NAME, NULL), 0);
}

Test(utf8, escapes_show_controls_and_bad_bytes_and_always_pass_the_check) {
  char out[128];
  cr_assert_eq(cx_text_escape("R-BAD\0hidden", 12, CX_TEXT_NAME, out, sizeof out), 15);
  cr_assert_str_eq(out, "R-BAD\\x00hidden");
  cx_text_escape("\x1b[2Kfake\r\n\tok\xC2\x9B\xFF中", 19, CX_TEXT_NAME, out, sizeof out);
  cr_assert_str_eq(out, "\\x1b[2Kfake\\r\\n\\tok\\u009b\\xff中");
  cx_text_escape("a\tb\nc\x1b", 6, CX_TEXT_FREE, out, sizeof out);
  cr_assert_str_eq(out, "a\tb\nc\\x1b", "free text keeps TAB and LF");
  cx_text_escape("a\x1b\xE4\xB8", 4, CX_TEXT_UTF8, out, sizeof out);
  cr_assert_str_eq(out, "a\x1b\\xe4\\xb8", "UTF8 escapes bad bytes, keeps controls but NUL");
  /* truncation: never half a character nor half an escape */
  cr_assert_eq(cx_text_escape("ab中", 5, CX_TEXT_NAME, out, 5), 2);
  cr_assert_str_eq(out, "ab");
  cr_assert_eq(cx_text_escape("a\x01", 2, CX_TEXT_NAME, out, 5), 1);
  cr_assert_eq(cx_text_escape("abc", 3, CX_TEXT_NAME, out, 1), 0);
  cr_assert_str_eq(out, "");
  /* every 2-byte string, escaped three ways, passes its check; clean strings are unchanged */
  for (unsigned v = 0; v < 65536; v++) {
    char in[2] = {(char)(v >> 8), (char)v};
    for (int kind = CX_TEXT_NAME; kind <= CX_TEXT_UTF8; kind++) {
      size_t n = cx_text_escape(in, 2, kind, out, 4 * 2 + 1);
      cr_assert_eq(cx_text_check(out, n, kind, NULL), 0, "escape of %04x kind %d: %s", v, kind, out);
      if (cx_text_check(in, 2, kind, NULL) == 0) cr_assert(n == 2 && memcmp(out, in, 2) == 0);
    }
  }
}

Test(utf8, data_file_lines_are_checked_one_by_one_crlf_allowed) {
  int bad = 0;
  const char *t = "# ok\r\n2025-01-01\tholiday\t元旦\r\n";
  cr_assert_eq(cx_text_lines_check(t, strlen(t), &bad), 0);
  t = "# ok\nfine\t名\nbad \x01 here\n";
  cr_assert_eq(cx_text_lines_check(t, strlen(t), &bad), CX_EBADREQ);
  cr_assert_eq(bad, 3);
  t = "a\rb\n";
  cr_assert_eq(cx_text_lines_check(t, strlen(t), &bad), CX_EBADREQ, "a CR inside a line");
  cr_assert_eq(bad, 1);
  cr_assert_eq(cx_text_lines_check(NULL, 5, &bad), 0);
}


Test(guard, the_utf8_check_and_escape_stay_in_bounds) {
  const char *inputs[] = {"中国\xe4\xb8", "\xf0\x9f\x98", "\xf0\x9f\x98\x80", "\xe4", "\xc2", "\xed\xa0",
                          "ab\x1b", "\xf4\x8f\xbf", "\r\n\r"};
  char out[64];
  uint32_t cp;
  int bad;
  for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++) {
    size_t n = strlen(inputs[i]);
    for (size_t k = 0; k <= n; k++) { /* every prefix, ending exactly at the guard */
      const char *g = cx_test_guarded(inputs[i], k);
      for (int kind = CX_TEXT_NAME; kind <= CX_TEXT_UTF8; kind++) {
        (void)cx_text_check(g, k, kind, NULL);
        (void)cx_text_escape(g, k, kind, out, sizeof out);
      }
      for (size_t j = 0; j < k; j++) (void)cx_utf8_decode(g + j, k - j, &cp);
      (void)cx_text_lines_check(g, k, &bad);
    }
  }
}
