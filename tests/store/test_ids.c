/* test_ids.c — USCC, resident ID numbers, masking, kinds and name normalisation (store/ids.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "store.h"

static const char alpha[] = "0123456789ABCDEFGHJKLMNPQRTUWXY";

/* Deterministic generator (tests must not depend on rand()'s implementation). */
static uint32_t rng_state = 12345;
static uint32_t rnd(void) {
  rng_state = rng_state * 1103515245u + 12345u;
  return rng_state >> 8;
}

static int norm(const char *s, char out[19]) { return cx_uscc_normalize(s, strlen(s), out); }

Test(uscc, worked_example_is_valid) {
  char out[19];
  cr_assert_eq(cx_uscc_check_char("91350100M000100Y4"), '3');
  cr_assert_eq(norm("91350100M000100Y43", out), 0);
  cr_assert_str_eq(out, "91350100M000100Y43");
  cr_assert_eq(cx_uscc_region(out), 350100u);
}

Test(uscc, trims_and_upper_cases) {
  char out[19];
  cr_assert_eq(norm("  91350100m000100y43\t\n", out), 0);
  cr_assert_str_eq(out, "91350100M000100Y43");
}

Test(uscc, distinct_errors_and_out_untouched) {
  char out[19] = "untouched";
  cr_assert_eq(norm("91350100M000100Y4", out), CX_ELENGTH);
  cr_assert_eq(norm("91350100M000100Y433", out), CX_ELENGTH);
  cr_assert_eq(norm("", out), CX_ELENGTH);
  cr_assert_eq(norm("91350100I000100Y43", out), CX_EALPHABET); /* I */
  cr_assert_eq(norm("91350100O000100Y43", out), CX_EALPHABET); /* O */
  cr_assert_eq(norm("91350100Z000100Y43", out), CX_EALPHABET); /* Z */
  cr_assert_eq(norm("91350100S000100Y43", out), CX_EALPHABET); /* S */
  cr_assert_eq(norm("91350100V000100Y43", out), CX_EALPHABET); /* V */
  cr_assert_eq(norm("91350100-000100Y43", out), CX_EALPHABET);
  cr_assert_eq(norm("91350100M000100Y44", out), CX_ECHECKSUM);
  cr_assert_eq(cx_uscc_normalize(NULL, 0, out), CX_ELENGTH);
  cr_assert_str_eq(out, "untouched");
}

Test(uscc, first_character_registration_authority) {
  const char firsts[] = "123456789ANY";
  char code[19], out[19];
  for (size_t i = 0; i < sizeof firsts - 1; i++) {
    memcpy(code, "91350100M000100Y4", 17);
    code[0] = firsts[i];
    code[17] = cx_uscc_check_char(code);
    code[18] = 0;
    cr_assert_eq(norm(code, out), 0, "first char %c", firsts[i]);
  }
  const char bad[] = "0BCDEFGHJKLMPQRTUWX";
  for (size_t i = 0; i < sizeof bad - 1; i++) {
    memcpy(code, "91350100M000100Y4", 17);
    code[0] = bad[i];
    code[17] = cx_uscc_check_char(code);
    code[18] = 0;
    cr_assert_eq(norm(code, out), CX_EALPHABET, "first char %c", bad[i]);
  }
}

static void random_code(char code[19]) {
  static const char firsts[] = "123456789ANY";
  code[0] = firsts[rnd() % 12];
  for (int i = 1; i < 17; i++) code[i] = alpha[rnd() % 31];
  code[17] = cx_uscc_check_char(code);
  code[18] = 0;
}

Test(uscc, generated_codes_pass_and_every_mutation_fails) {
  char code[19], m[19], out[19];
  for (int n = 0; n < 400; n++) {
    random_code(code);
    cr_assert_eq(norm(code, out), 0, "%s", code);
    /* Every single-character substitution (all 30 other symbols at all 18 positions) is
     * rejected: 31 is prime and no weight is 0 mod 31. */
    for (int pos = 0; pos < 18; pos++) {
      for (int k = 0; k < 31; k++) {
        if (alpha[k] == code[pos]) continue;
        memcpy(m, code, 19);
        m[pos] = alpha[k];
        cr_assert_lt(norm(m, out), 0, "%s -> %s", code, m);
      }
    }
    /* Every swap of two adjacent distinct characters is rejected (adjacent weights differ;
     * the check character has weight 1, position 17 has 28). */
    for (int pos = 0; pos < 17; pos++) {
      if (code[pos] == code[pos + 1]) continue;
      memcpy(m, code, 19);
      m[pos] = code[pos + 1];
      m[pos + 1] = code[pos];
      cr_assert_lt(norm(m, out), 0, "%s -> %s", code, m);
    }
  }
}

Test(idcard, example_with_x_check) {
  char out[19];
  cr_assert_eq(cx_idcard_check_char("11010519491231002"), 'X');
  cr_assert_eq(cx_idcard_normalize("11010519491231002X", 18, out), 0);
  cr_assert_str_eq(out, "11010519491231002X");
  cr_assert_eq(cx_idcard_normalize(" 11010519491231002x ", 20, out), 0);
  cr_assert_str_eq(out, "11010519491231002X");
}

Test(idcard, errors) {
  char out[19] = "untouched";
  cr_assert_eq(cx_idcard_normalize("1101051949123100", 16, out), CX_ELENGTH);
  cr_assert_eq(cx_idcard_normalize("11010519491231002Y", 18, out), CX_EALPHABET);
  cr_assert_eq(cx_idcard_normalize("1101051949123A002X", 18, out), CX_EALPHABET);
  cr_assert_eq(cx_idcard_normalize("110105194912310021", 18, out), CX_ECHECKSUM);
  /* Impossible birth dates, with a correct check character. */
  const char *bad_dates[] = {"11010519490230001", "11010519491301001", "11010519490000001",
                             "11010520230229001", "11010500001231001", "11010517991231001",
                             "11010581000101001" /* the future */};
  for (size_t i = 0; i < sizeof bad_dates / sizeof *bad_dates; i++) {
    char id[19];
    memcpy(id, bad_dates[i], 17);
    id[17] = cx_idcard_check_char(id);
    id[18] = 0;
    cr_assert_eq(cx_idcard_normalize(id, 18, out), CX_EDATE, "%s", id);
  }
  cr_assert_str_eq(out, "untouched");
  char leap[19] = "11010520240229001";
  leap[17] = cx_idcard_check_char(leap);
  leap[18] = 0;
  cr_assert_eq(cx_idcard_normalize(leap, 18, out), 0);
}

Test(idcard, generated_numbers_and_mutations) {
  char id[19], m[19], out[19];
  for (int n = 0; n < 300; n++) {
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%06u%04u%02u%02u%03u", 110000 + rnd() % 550000, 1930 + rnd() % 90, 1 + rnd() % 12,
             1 + rnd() % 28, rnd() % 1000);
    memcpy(id, tmp, 17);
    id[17] = cx_idcard_check_char(id);
    id[18] = 0;
    cr_assert_eq(cx_idcard_normalize(id, 18, out), 0, "%s", id);
    for (int pos = 0; pos < 18; pos++) {
      for (char c = '0'; c <= '9'; c++) {
        if (c == id[pos]) continue;
        memcpy(m, id, 19);
        m[pos] = c;
        cr_assert_lt(cx_idcard_normalize(m, 18, out), 0, "%s -> %s", id, m);
      }
    }
    for (int pos = 0; pos < 17; pos++) {
      if (id[pos] == id[pos + 1]) continue;
      memcpy(m, id, 19);
      m[pos] = id[pos + 1];
      m[pos + 1] = id[pos];
      cr_assert_lt(cx_idcard_normalize(m, 18, out), 0, "%s -> %s", id, m);
    }
  }
}

Test(code, either_kind) {
  char out[19];
  int person = -1;
  cr_assert_eq(cx_code_normalize("11010519491231002x", 18, out, &person), 0);
  cr_assert_eq(person, 1);
  cr_assert_eq(cx_code_region(out, 1), 110105u);
  cr_assert_eq(cx_kind_from_code(out, 1), CX_KIND_PERSON);
  cr_assert_eq(cx_code_normalize("91350100m000100y43", 18, out, &person), 0);
  cr_assert_eq(person, 0);
  cr_assert_str_eq(out, "91350100M000100Y43");
  cr_assert_eq(cx_code_region(out, 0), 350100u);
  cr_assert_eq(cx_code_normalize("91350100M000100Y44", 18, out, &person), CX_ECHECKSUM);
  cr_assert_eq(cx_code_normalize("123", 3, out, &person), CX_ELENGTH);
  /* 18 digits failing the ID check but passing the USCC check is a USCC. */
  char u[19] = "11350100000010012";
  u[17] = cx_uscc_check_char(u);
  u[18] = 0;
  if (cx_idcard_check_char(u) != u[17]) {
    cr_assert_eq(cx_code_normalize(u, 18, out, &person), 0);
    cr_assert_eq(person, 0);
  }
}

Test(code, kind_from_code) {
  cr_assert_eq(cx_kind_from_code("11350100000000000X", 0), CX_KIND_GOVERNMENT);
  cr_assert_eq(cx_kind_from_code("12350100000000000X", 0), CX_KIND_INSTITUTION);
  cr_assert_eq(cx_kind_from_code("13350100000000000X", 0), CX_KIND_SOCIAL_ORG);
  cr_assert_eq(cx_kind_from_code("51350100000000000X", 0), CX_KIND_SOCIAL_ORG);
  cr_assert_eq(cx_kind_from_code("52350100000000000X", 0), CX_KIND_SOCIAL_ORG);
  cr_assert_eq(cx_kind_from_code("91350100000000000X", 0), CX_KIND_ENTERPRISE);
  cr_assert_eq(cx_kind_from_code("92350100000000000X", 0), CX_KIND_INDIVIDUAL_BUSINESS);
  cr_assert_eq(cx_kind_from_code("93350100000000000X", 0), CX_KIND_ENTERPRISE);
  cr_assert_eq(cx_kind_from_code("Y1350100000000000X", 0), CX_KIND_ENTERPRISE);
}

Test(idcard, mask_keeps_first_six_and_last_four) {
  char out[19];
  cx_idcard_mask("11010519491231002X", out);
  cr_assert_str_eq(out, "110105********002X");
}

static const char *nn(const char *s, size_t cap, char *buf) {
  cx_name_normalize(s, strlen(s), buf, cap);
  return buf;
}

Test(names, folds_case_width_spaces_and_brackets) {
  char b[128];
  cr_assert_str_eq(nn("Fuzhou ABC 科技有限公司", sizeof b, b), "fuzhouabc科技有限公司");
  cr_assert_str_eq(nn("福州（鼓楼）科技(集团)有限公司", sizeof b, b), "福州鼓楼科技集团有限公司");
  cr_assert_str_eq(nn("ＡＢＣ１２３ｘｙｚ", sizeof b, b), "abc123xyz");
  cr_assert_str_eq(nn("中国\xe3\x80\x80银行 \t\n", sizeof b, b), "中国银行"); /* U+3000 */
  cr_assert_str_eq(nn("（ＡＢ）", sizeof b, b), "ab");
  cr_assert_str_eq(nn("", sizeof b, b), "");
}

Test(names, drops_invalid_utf8) {
  char b[64];
  cr_assert_str_eq(nn("a\xff" "b", sizeof b, b), "ab");
  cr_assert_str_eq(nn("a\xc0\xaf" "b", sizeof b, b), "ab");       /* overlong '/' */
  cr_assert_str_eq(nn("a\xed\xa0\x80" "b", sizeof b, b), "ab");   /* surrogate */
  cr_assert_str_eq(nn("ab\xe4\xb8", sizeof b, b), "ab");           /* cut character */
  cr_assert_str_eq(nn("\xe4\xb8\xad\x80", sizeof b, b), "中");     /* stray continuation */
}

Test(names, truncates_at_a_character_boundary) {
  char b[16];
  memset(b, 'Z', sizeof b);
  cr_assert_eq(cx_name_normalize("中国银行", strlen("中国银行"), b, 8), 6);
  cr_assert_str_eq(b, "中国");
  cr_assert_eq(b[8], 'Z'); /* nothing written past cap */
  cr_assert_eq(cx_name_normalize("中国银行", strlen("中国银行"), b, 7), 6);
  cr_assert_eq(cx_name_normalize("中国银行", strlen("中国银行"), b, 6), 3);
  cr_assert_str_eq(b, "中");
  cr_assert_eq(cx_name_normalize("中国银行", strlen("中国银行"), b, 3), 0);
  cr_assert_str_eq(b, "");
  cr_assert_eq(cx_name_normalize("ab", 2, b, 1), 0);
  cr_assert_str_eq(b, "");
  cr_assert_eq(cx_name_normalize("ab", 2, b, 0), 0);
  cr_assert_eq(cx_name_normalize("AbC", 3, b, 3), 2);
  cr_assert_str_eq(b, "ab");
}

/* ---- guard page: the parsers never read past n ---- */
/* Copies s to the very end of a readable page followed by a PROT_NONE page. */
static const char *guarded(const char *s, size_t n) {
  static char *mem;
  long pg = sysconf(_SC_PAGESIZE);
  if (!mem) {
    mem = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    cr_assert_neq(mem, MAP_FAILED);
    cr_assert_eq(mprotect(mem + pg, (size_t)pg, PROT_NONE), 0);
  }
  char *p = mem + pg - n;
  memcpy(p, s, n);
  return p;
}

Test(guard, code_and_name_parsers_stay_in_bounds) {
  const char *inputs[] = {"91350100M000100Y43", "11010519491231002X", " 9135", "中国\xe4\xb8", "\xf0\x9f", "\xe4",
                          "ＡＢ（", "2024-02-29", "2024-02-2"};
  char out[19], nb[64];
  int person;
  cx_day d;
  for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++) {
    size_t n = strlen(inputs[i]);
    for (size_t k = 0; k <= n; k++) { /* every prefix, ending exactly at the guard */
      const char *g = guarded(inputs[i], k);
      (void)cx_uscc_normalize(g, k, out);
      (void)cx_idcard_normalize(g, k, out);
      (void)cx_code_normalize(g, k, out, &person);
      (void)cx_name_normalize(g, k, nb, sizeof nb);
      (void)cx_day_parse((cx_str){g, (uint32_t)k}, &d);
    }
  }
}
