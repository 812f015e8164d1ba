/* test_ids.c — USCC, resident ID numbers, typed identifiers, masking, kinds and name normalisation (store/ids.c). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "store.h"
#include "testutil.h"

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
  /* Its organisation code M000100Y-4: 21*3 + 1*5 + 30*2 = 128 -> 11 - 128 mod 11 = 4. */
  cr_assert_eq(cx_orgcode_check_char("M000100Y"), '4');
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

/* Codes of real organisations, as published (the organisations' own pages and the
 * public sources quoted in docs/data-model.md): enterprises of every era, codes issued after
 * 2015 with generated organisation codes (MA..., MB...), institutions and social
 * organisations registered by the state (region 100000), government bodies, a foundation. */
static const char *const real_codes[] = {
  "9144030071526726XG", "91330100716105852F", "914403001922038216", "91110108551385082Q",
  "914403007703327657", "911101027226555194", "91330100799655058B", "91110105571298269B",
  "91440300MA5H0HLK5U", "91133100MA0D8N1J7G", "91320891MAKML1457M", "91130203MA7EEQ2N0T",
  "91440115MAKBG4HD6A", "91430181MA4Q3REH6K", "92141127MA0KD1Y64A", "12440600MB2C07549J",
  "12310000425022547M", "12100000470095016Q", "12100000425006117P", "11140800558745220K",
  "11410182005291054B", "51310110501144395U", "53100000500019795A",
};

Test(uscc, real_codes_of_every_kind_pass_every_check) {
  char out[19];
  for (size_t i = 0; i < sizeof real_codes / sizeof *real_codes; i++) {
    cr_assert_eq(norm(real_codes[i], out), 0, "%s: %s", real_codes[i], cx_strerror(norm(real_codes[i], out)));
    cr_assert_eq(cx_orgcode_check_char(real_codes[i] + 8), real_codes[i][16], "%s", real_codes[i]);
  }
}

/* A code with positions 1-2, 3-8 and 9-16 as given, and both check characters right. */
static void make(const char *head2, const char *region6, const char *org8, char code[19]) {
  memcpy(code, head2, 2);
  memcpy(code + 2, region6, 6);
  memcpy(code + 8, org8, 8);
  code[16] = cx_orgcode_check_char(code + 8);
  code[17] = cx_uscc_check_char(code);
  code[18] = 0;
}

/* GB 32100-2015 Annex A (with XG1-2016): registration authority -> institution types. */
static const struct { char authority; const char *types; } annex_a[] = {
  {'1', "1239"}, {'2', "19"}, {'3', "123459"}, {'4', "19"}, {'5', "12349"}, {'6', "129"},
  {'7', "129"},  {'8', "19"}, {'9', "123"},    {'A', "19"}, {'N', "1239"},  {'Y', "1"},
};

static const char *annex_types(char a) {
  for (size_t i = 0; i < sizeof annex_a / sizeof *annex_a; i++)
    if (annex_a[i].authority == a) return annex_a[i].types;
  return NULL;
}

Test(uscc, registration_authority_and_type_follow_the_standards_table) {
  char code[19], out[19];
  int accepted = 0;
  for (int a = 0; a < 31; a++) {
    for (int t = 0; t < 31; t++) {
      char head[2] = {alpha[a], alpha[t]};
      make(head, "350100", "M000100Y", code);
      const char *types = annex_types(alpha[a]);
      int ok = types && strchr(types, alpha[t]);
      cr_assert_eq(norm(code, out), ok ? 0 : CX_EREGAUTH, "%s", code);
      accepted += ok;
    }
  }
  cr_assert_eq(accepted, 37); /* the table's 36 pairs, and 5-4 (village and residents' committees) */
  cr_assert_eq(norm("91350100M000100Y43", out), 0);
}

Test(uscc, region_positions_are_digits_of_a_province_or_the_state) {
  char code[19], out[19];
  /* The example: letters in positions 3-8, both checks right. */
  cr_assert_eq(cx_uscc_check_char("93K20400X8N63MPU8"), 'H');
  cr_assert_eq(norm("93K20400X8N63MPU8H", out), CX_EREGION);
  static const char *const provinces[] = {"11", "12", "13", "14", "15", "21", "22", "23", "31",
                                          "32", "33", "34", "35", "36", "37", "41", "42", "43",
                                          "44", "45", "46", "50", "51", "52", "53", "54", "61",
                                          "62", "63", "64", "65", "71", "81", "82"};
  int n_prov = 0;
  for (int p = 0; p < 100; p++) {
    char region[16];
    snprintf(region, sizeof region, "%02d0102", p % 100);
    make("91", region, "M000100Y", code);
    int ok = 0;
    for (size_t i = 0; i < sizeof provinces / sizeof *provinces; i++) ok |= memcmp(provinces[i], region, 2) == 0;
    cr_assert_eq(norm(code, out), ok ? 0 : CX_EREGION, "%s", code);
    n_prov += ok;
  }
  cr_assert_eq(n_prov, 34);
  make("53", "100000", "50001979", code); /* a foundation registered by the state */
  cr_assert_eq(norm(code, out), 0, "%s", code);
  make("91", "100100", "M000100Y", code); /* 10 is the state only as 100000 */
  cr_assert_eq(norm(code, out), CX_EREGION);
  make("91", "35010A", "M000100Y", code);
  cr_assert_eq(norm(code, out), CX_EREGION);
  /* The county part is not looked up: 350199 is no region, but a valid code. */
  make("91", "350199", "M000100Y", code);
  cr_assert_eq(norm(code, out), 0);
}

Test(uscc, organisation_code_check_digit_is_checked) {
  char code[19], out[19];
  /* GB 11714 worked cases: digits, letters (A = 10 .. Z = 35), 'X' for 10 and '0' for 11. */
  cr_assert_eq(cx_orgcode_check_char("71526726"), 'X'); /* 9144030071526726XG */
  cr_assert_eq(cx_orgcode_check_char("19220382"), '1'); /* 914403001922038216 */
  cr_assert_eq(cx_orgcode_check_char("MA5H0HLK"), '5'); /* 91440300MA5H0HLK5U */
  cr_assert_eq(cx_orgcode_check_char("00000000"), '0'); /* sum 0: 11 -> '0' */
  cr_assert_eq(cx_orgcode_check_char("ZZZZZZZZ"), cx_orgcode_check_char("zzzzzzzz"));
  for (size_t i = 0; i < sizeof real_codes / sizeof *real_codes; i++) {
    for (int k = 0; k < 31; k++) {
      if (alpha[k] == real_codes[i][16]) continue;
      memcpy(code, real_codes[i], 19);
      code[16] = alpha[k];
      code[17] = cx_uscc_check_char(code); /* position 18 right: only position 17 is wrong */
      cr_assert_eq(norm(code, out), CX_EORGCODE, "%s", code);
    }
  }
}

/* A random code that passes every check: a row of the table, a province, any 8 characters. */
static void random_code(char code[19]) {
  static const char *const regions[] = {"350100", "110105", "440300", "650102", "100000", "820000"};
  size_t r = rnd() % (sizeof annex_a / sizeof *annex_a);
  const char *types = annex_a[r].types;
  char head[2] = {annex_a[r].authority, types[rnd() % strlen(types)]};
  char org[8];
  for (int i = 0; i < 8; i++) org[i] = alpha[rnd() % 31];
  make(head, regions[rnd() % 6], org, code);
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
  /* First two digits that are no province, with a correct check character. */
  const char *bad_prov[] = {"00", "01", "10", "16", "20", "24", "30", "40", "47", "55", "60",
                            "66", "70", "72", "80", "84", "90", "99"};
  for (size_t i = 0; i < sizeof bad_prov / sizeof *bad_prov; i++) {
    char id[19];
    memcpy(id, "11010519491231002", 17);
    memcpy(id, bad_prov[i], 2);
    id[17] = cx_idcard_check_char(id);
    id[18] = 0;
    /* 9: a permanent-residence number, whose province is in positions 2-3 */
    cr_assert_eq(cx_idcard_normalize(id, 18, out), id[0] == '9' ? CX_EPRCPROV : CX_EPROVINCE, "%s", id);
  }
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
  /* Hong Kong, Macao (also provinces) and Taiwan residents' residence permits; Taiwan (71). */
  const char *permits[] = {"81000019900101001", "82000019900101001", "83000019900101001",
                           "71000019900101001"};
  for (size_t i = 0; i < sizeof permits / sizeof *permits; i++) {
    char id[19];
    memcpy(id, permits[i], 17);
    id[17] = cx_idcard_check_char(id);
    id[18] = 0;
    cr_assert_eq(cx_idcard_normalize(id, 18, out), 0, "%s", id);
  }
  char leap[19] = "11010520240229001";
  leap[17] = cx_idcard_check_char(leap);
  leap[18] = 0;
  cr_assert_eq(cx_idcard_normalize(leap, 18, out), 0);
}

Test(idcard, generated_numbers_and_mutations) {
  char id[19], m[19], out[19];
  for (int n = 0; n < 300; n++) {
    char tmp[64];
    static const unsigned prov[] = {11, 13, 22, 35, 44, 46, 50, 54, 65, 81, 83};
    snprintf(tmp, sizeof tmp, "%02u%04u%04u%02u%02u%03u", prov[rnd() % 11], rnd() % 10000, 1930 + rnd() % 90,
             1 + rnd() % 12, 1 + rnd() % 28, rnd() % 1000);
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
  u[16] = cx_orgcode_check_char(u + 8);
  u[17] = cx_uscc_check_char(u);
  u[18] = 0;
  cr_assert_neq(cx_idcard_check_char(u), u[17]);
  cr_assert_eq(cx_code_normalize(u, 18, out, &person), 0);
  cr_assert_eq(person, 0);
}

/* An ID-shaped string fails with the ID number's reason when it looks like one. */
Test(code, either_kind_reports_the_likelier_kinds_reason) {
  char out[19] = "untouched", id[19];
  int person = -1;
  /* A mistyped ID number (one digit changed): its check character. */
  cr_assert_eq(cx_code_normalize("11010519491231012X", 18, out, &person), CX_ECHECKSUM);
  /* Made-up provinces and dates with a check character that agrees: the province, the date. */
  memcpy(id, "70010519491231002", 17);
  id[17] = cx_idcard_check_char(id);
  id[18] = 0;
  cr_assert_eq(cx_code_normalize(id, 18, out, &person), CX_EPROVINCE);
  memcpy(id, "99010519491231002", 17); /* a permanent-residence number's province: 90 */
  id[17] = cx_idcard_check_char(id);
  cr_assert_eq(cx_code_normalize(id, 18, out, &person), CX_EPRCPROV);
  memcpy(id, "00010519491231002", 17);
  id[17] = cx_idcard_check_char(id);
  cr_assert_eq(cx_code_normalize(id, 18, out, &person), CX_EPROVINCE);
  memcpy(id, "11010519491331002", 17);
  id[17] = cx_idcard_check_char(id);
  cr_assert_eq(cx_code_normalize(id, 18, out, &person), CX_EDATE);
  /* A USCC-shaped string: the USCC's reason. */
  cr_assert_eq(cx_code_normalize("93K20400X8N63MPU8H", 18, out, &person), CX_EREGION);
  cr_assert_str_eq(out, "untouched");
  cr_assert_eq(person, -1);
}

/* Before: an 18-digit ID number with one digit mistyped passed as a USCC about once in 31
 * (only the USCC check character stood in the way). Now positions 1-2, 3-8 and the
 * organisation code's check digit stand in the way too. */
Test(code, mistyped_id_numbers_rarely_pass_as_a_uscc) {
  char id[19], m[19], out[19];
  int tried = 0, as_uscc = 0, as_uscc_before = 0;
  rng_state = 777;
  for (int n = 0; n < 2000; n++) {
    static const unsigned prov[] = {11, 13, 32, 35, 41, 44, 51, 53, 61, 65};
    char tmp[32];
    snprintf(tmp, sizeof tmp, "%02u%02u%02u%04u%02u%02u%03u", prov[rnd() % 10], 1 + rnd() % 30, 1 + rnd() % 30,
             1940 + rnd() % 80, 1 + rnd() % 12, 1 + rnd() % 28, rnd() % 1000);
    memcpy(id, tmp, 17);
    id[17] = cx_idcard_check_char(id);
    id[18] = 0;
    for (int pos = 0; pos < 18; pos++) {
      for (char c = '0'; c <= '9'; c++) {
        if (c == id[pos]) continue;
        memcpy(m, id, 19);
        m[pos] = c;
        int person = -1;
        tried++;
        if (cx_code_normalize(m, 18, out, &person) == 0) {
          cr_assert_eq(person, 0, "%s passed as an ID number", m);
          as_uscc++;
        }
        as_uscc_before += cx_uscc_check_char(m) == m[17];
      }
    }
  }
  /* Measured (this seed): 10,467 of 324,199 (1 in 31) before, 215 (1 in 1,508) now. */
  cr_assert_gt(as_uscc_before * 40, tried, "%d of %d", as_uscc_before, tried);
  cr_assert_lt(as_uscc * 1000, tried, "%d of %d mistyped ID numbers passed as a USCC", as_uscc, tried);
}

Test(code, every_reason_names_its_field_and_positions) {
  const int rcs[] = {CX_ELENGTH, CX_EALPHABET, CX_EREGAUTH, CX_EREGION, CX_EORGCODE, CX_ECHECKSUM, CX_EPROVINCE, CX_EDATE};
  const char *pos[] = {"18 characters", "alphabet", "positions 1-2", "positions 3-8", "position 17", "position 18",
                       "positions 1-2 of the ID", "positions 7-14"};
  for (size_t i = 0; i < sizeof rcs / sizeof *rcs; i++) {
    const char *e = cx_code_why(rcs[i], 0), *a = cx_code_why(rcs[i], 1);
    cr_assert(strncmp(e, "entity_code: ", 13) == 0, "%s", e);
    cr_assert(strncmp(a, "authority_code: ", 16) == 0, "%s", a);
    cr_assert_not_null(strstr(e, pos[i]), "%s", e);
    for (size_t k = 0; k < i; k++) cr_assert_str_neq(e, cx_code_why(rcs[k], 0));
  }
  /* The new codes are invalid_code on the wire, each with its own message. */
  const int fresh[] = {CX_EREGAUTH, CX_EREGION, CX_EORGCODE, CX_EPROVINCE};
  for (size_t i = 0; i < 4; i++) {
    cr_assert_str_eq(cx_err_name(fresh[i]), "invalid_code");
    cr_assert_not_null(strstr(cx_strerror(fresh[i]), "position"), "%s", cx_strerror(fresh[i]));
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

Test(guard, code_and_name_parsers_stay_in_bounds) {
  const char *inputs[] = {"91350100M000100Y43", "11010519491231002X", " 9135", "中国\xe4\xb8", "\xf0\x9f", "\xe4",
                          "ＡＢ（", "2024-02-29", "2024-02-2", "passport:USA:123456789", "hkmo:H1234567800",
                          "tw:12345678", "prc:ABC123456789012", "pUSA123456789-----", "passport:US"};
  char out[19], nb[64];
  int person;
  cx_day d;
  for (size_t i = 0; i < sizeof inputs / sizeof *inputs; i++) {
    size_t n = strlen(inputs[i]);
    for (size_t k = 0; k <= n; k++) { /* every prefix, ending exactly at the guard */
      const char *g = cx_test_guarded(inputs[i], k);
      (void)cx_uscc_normalize(g, k, out);
      (void)cx_idcard_normalize(g, k, out);
      (void)cx_code_normalize(g, k, out, &person);
      (void)cx_person_normalize(g, k, out);
      (void)cx_name_normalize(g, k, nb, sizeof nb);
      (void)cx_day_parse((cx_str){g, (uint32_t)k}, &d);
    }
  }
}

/* ---- typed identifiers: persons without a resident ID number ---- */

/* cx_person_normalize and cx_code_normalize agree on a typed identifier; returns the error. */
static int typed(const char *s, char out[19]) {
  char o2[19] = "";
  int person = -1;
  int rc = cx_person_normalize(s, strlen(s), out);
  int rc2 = cx_code_normalize(s, strlen(s), o2, &person);
  cr_assert_eq(rc, rc2, "%s: %d vs %d", s, rc, rc2);
  if (rc == 0) {
    cr_assert_str_eq(out, o2);
    cr_assert_eq(person, 1, "%s", s);
  }
  return rc;
}

static const char *shown(const char code[19], char buf[CX_CODE_TEXT_MAX]) {
  cr_assert_eq(cx_code_format(code, buf), strlen(buf));
  return buf;
}

Test(typed, passport_keeps_the_issuing_state_and_the_number) {
  char out[19], b[CX_CODE_TEXT_MAX];
  cr_assert_eq(typed("passport:USA:123456789", out), 0);
  cr_assert_str_eq(out, "pUSA123456789-----");
  cr_assert_eq(strlen(out), CX_CODE_LEN);
  cr_assert_str_eq(shown(out, b), "passport:USA:123456789");
  /* Case, blanks around and inside the number do not matter. */
  cr_assert_eq(typed("  Passport:gbr:e 1234 5678\t", out), 0);
  cr_assert_str_eq(out, "pGBRE12345678-----");
  cr_assert_eq(typed("PASSPORT:CHN:EA1234567", out), 0);
  cr_assert_eq(typed("passport:UNO:123456", out), 0);     /* ICAO: the United Nations */
  cr_assert_eq(typed("passport:XXA:12345", out), 0);      /* ICAO: stateless */
  cr_assert_eq(typed("passport:FRA:12345678901234", out), 0); /* 14 characters: the most */
  cr_assert_str_eq(out, "pFRA12345678901234");
  cr_assert_eq(cx_code_typed(out), 'p');
  cr_assert_eq(cx_code_region(out, 1), 0u);
  cr_assert_eq(cx_kind_from_code(out, 1), CX_KIND_PERSON);
}

Test(typed, passport_errors_name_what_is_wrong) {
  char out[19] = "untouched";
  cr_assert_eq(typed("passport:QQQ:123456789", out), CX_ECOUNTRY); /* no such state */
  cr_assert_eq(typed("passport:US:123456789", out), CX_ECOUNTRY);
  cr_assert_eq(typed("passport:123456789", out), CX_ECOUNTRY);     /* no state at all */
  cr_assert_eq(typed("passport:U1A:123456789", out), CX_ECOUNTRY);
  cr_assert_eq(typed("passport:USA:1234", out), CX_EPASSPORT);     /* too short */
  cr_assert_eq(typed("passport:USA:123456789012345", out), CX_EPASSPORT); /* 15: too long */
  cr_assert_eq(typed("passport:USA:ABCDEFGH", out), CX_EPASSPORT); /* no digit */
  cr_assert_eq(typed("passport:USA:1234-5678", out), CX_EPASSPORT);
  cr_assert_eq(typed("passport:USA:", out), CX_EPASSPORT);
  cr_assert_eq(typed("passport:USA:1234567890123456789012345678", out), CX_EPASSPORT);
  cr_assert_str_eq(out, "untouched");
}

Test(typed, hkmo_permit_keeps_the_lifelong_number) {
  char out[19], b[CX_CODE_TEXT_MAX];
  cr_assert_eq(typed("hkmo:H12345678", out), 0);
  cr_assert_str_eq(out, "hH12345678--------");
  cr_assert_str_eq(shown(out, b), "hkmo:H12345678");
  cr_assert_eq(typed("HKMO:m87654321", out), 0);
  cr_assert_str_eq(out, "hM87654321--------");
  /* The old 11-character form: 8-digit lifelong number + renewal count. A renewed permit
   * (count 01) is the same person. */
  cr_assert_eq(typed("hkmo:H1234567800", out), 0);
  cr_assert_str_eq(out, "hH12345678--------");
  cr_assert_eq(typed("hkmo:H1234567801", out), 0);
  cr_assert_str_eq(out, "hH12345678--------");
  const char *bad[] = {"hkmo:A12345678", "hkmo:12345678", "hkmo:H1234567", "hkmo:H123456789",
                       "hkmo:H12345678901", "hkmo:H1234567X", "hkmo:"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) cr_assert_eq(typed(bad[i], out), CX_EHKMO, "%s", bad[i]);
}

Test(typed, taiwan_permit_keeps_the_lifelong_number) {
  char out[19], b[CX_CODE_TEXT_MAX];
  cr_assert_eq(typed("tw:12345678", out), 0);
  cr_assert_str_eq(out, "t12345678---------");
  cr_assert_str_eq(shown(out, b), "tw:12345678");
  cr_assert_eq(typed("TW: 1234 5678 03", out), 0); /* old form, issue count 03 */
  cr_assert_str_eq(out, "t12345678---------");
  const char *bad[] = {"tw:1234567", "tw:123456789", "tw:12345678901", "tw:1234567A", "tw:T12345678"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
    cr_assert_eq(typed(bad[i], out), CX_ETWPERMIT, "%s", bad[i]);
}

Test(typed, old_permanent_residence_card_is_a_nationality_and_twelve_digits) {
  char out[19], b[CX_CODE_TEXT_MAX];
  cr_assert_eq(typed("prc:USA310080101011", out), 0);
  cr_assert_str_eq(out, "fUSA310080101011--");
  cr_assert_str_eq(shown(out, b), "prc:USA310080101011");
  cr_assert_eq(typed("prc:usa 3100 8010 1011", out), 0);
  cr_assert_str_eq(out, "fUSA310080101011--");
  cr_assert_eq(typed("prc:QQQ310080101011", out), CX_ECOUNTRY);
  cr_assert_eq(typed("prc:UNO310080101011", out), CX_ECOUNTRY); /* passports' codes only */
  const char *bad[] = {"prc:US3100801010111", "prc:USA31008010101", "prc:USA3100801010111", "prc:USA31008010101X",
                       "prc:1USA10080101011", "prc:"};
  for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) cr_assert_eq(typed(bad[i], out), CX_EPRC, "%s", bad[i]);
}

/* The 2023 card: '9', the accepting province, the ISO 3166 numeric nationality, the birth
 * date, a sequence and the MOD 11-2 check character, as an ID number has them. */
static void prc18(const char *s17, char id[19]) {
  memcpy(id, s17, 17);
  id[17] = cx_idcard_check_char(id);
  id[18] = 0;
}

Test(typed, new_permanent_residence_number_follows_gb11643) {
  char id[19], out[19], b[CX_CODE_TEXT_MAX];
  int person = -1;
  prc18("93184019800101001", id); /* Shanghai (31), USA (840) */
  cr_assert_eq(cx_idcard_normalize(id, 18, out), 0);
  cr_assert_eq(cx_code_normalize(id, 18, out, &person), 0);
  cr_assert_eq(person, 1);
  cr_assert_str_eq(out, id);
  cr_assert_eq(cx_code_typed(out), 0); /* ID-shaped: its own key */
  cr_assert_str_eq(shown(out, b), id);
  cr_assert_eq(cx_code_region(out, 1), 310000u); /* the province */
  /* prc: with the new number gives the same key. */
  char text[32];
  snprintf(text, sizeof text, "prc:%s", id);
  cr_assert_eq(typed(text, out), 0);
  cr_assert_str_eq(out, id);
  /* Its own rules, not a province's: positions 2-3, 4-6, date, check. */
  prc18("90084019800101001", id);
  cr_assert_eq(cx_idcard_normalize(id, 18, out), CX_EPRCPROV);
  prc18("93199919800101001", id); /* 999: no nationality */
  cr_assert_eq(cx_idcard_normalize(id, 18, out), CX_ECOUNTRY);
  snprintf(text, sizeof text, "prc:%s", id);
  cr_assert_eq(typed(text, out), CX_ECOUNTRY);
  prc18("93184019800230001", id);
  cr_assert_eq(cx_idcard_normalize(id, 18, out), CX_EDATE);
  prc18("93184019800101001", id);
  id[17] = id[17] == '0' ? '1' : '0';
  cr_assert_eq(cx_idcard_normalize(id, 18, out), CX_ECHECKSUM);
}

Test(typed, unknown_type_names_are_refused) {
  char out[19] = "untouched";
  cr_assert_eq(typed("visa:123456789", out), CX_EIDTYPE);
  cr_assert_eq(typed(":123456789", out), CX_EIDTYPE);
  cr_assert_eq(typed("passports:USA:123456789", out), CX_EIDTYPE);
  cr_assert_str_eq(out, "untouched");
  cr_assert_str_eq(cx_err_name(CX_EIDTYPE), "invalid_code");
}

Test(typed, the_key_is_accepted_back_and_round_trips) {
  const char *texts[] = {"passport:USA:123456789", "passport:DEU:C01X00T47", "hkmo:M12345678", "tw:87654321",
                         "prc:CAN440012345678"};
  for (size_t i = 0; i < sizeof texts / sizeof *texts; i++) {
    char key[19], again[19], b[CX_CODE_TEXT_MAX];
    int person = -1;
    cr_assert_eq(typed(texts[i], key), 0, "%s", texts[i]);
    cr_assert_str_eq(shown(key, b), texts[i]);
    /* The key itself and the shown form both give the key again. */
    cr_assert_eq(cx_code_normalize(key, CX_CODE_LEN, again, &person), 0, "%s", key);
    cr_assert_str_eq(again, key);
    cr_assert_eq(person, 1);
    cr_assert_eq(typed(b, again), 0);
    cr_assert_str_eq(again, key);
  }
  /* A key that is not canonical is refused like its body would be. */
  char out[19];
  cr_assert_eq(typed("pQQQ123456789-----", out), CX_ECOUNTRY);
  cr_assert_eq(typed("pUSA1234-56789----", out), CX_EPASSPORT);
  cr_assert_eq(typed("h12345678---------", out), CX_EHKMO);
}

Test(typed, never_taken_for_a_uscc_or_an_id_number) {
  /* A lower-case USCC is upper-cased, not read as a key: no type letter begins a USCC. */
  char out[19];
  int person = -1;
  cr_assert_eq(cx_code_normalize("y1350100m000100y43", 18, out, &person), cx_code_normalize("Y1350100M000100Y43", 18, out, &person));
  cr_assert_eq(cx_code_normalize("91350100m000100y43", 18, out, &person), 0);
  cr_assert_eq(person, 0);
  /* A USCC is no person's identifier; a typed one is no organisation's. */
  cr_assert_lt(cx_person_normalize("91350100M000100Y43", 18, out), 0);
  cr_assert_lt(cx_uscc_normalize("pUSA123456789-----", 18, out), 0);
  cr_assert_lt(cx_idcard_normalize("pUSA123456789-----", 18, out), 0);
}

Test(typed, masked_like_an_id_number) {
  char key[19], m[19], b[CX_CODE_TEXT_MAX];
  cr_assert_eq(typed("passport:USA:123456789", key), 0);
  cx_idcard_mask(key, m);
  cr_assert_str_eq(m, "pUSA******789-----");
  cr_assert_str_eq(shown(m, b), "passport:USA:******789");
  cr_assert_eq(typed("hkmo:H12345678", key), 0);
  cx_idcard_mask(key, m);
  cr_assert_str_eq(shown(m, b), "hkmo:H*****678");
  cr_assert_eq(typed("tw:12345678", key), 0);
  cx_idcard_mask(key, m);
  cr_assert_str_eq(shown(m, b), "tw:*****678");
  cr_assert_eq(typed("prc:USA310080101011", key), 0);
  cx_idcard_mask(key, m);
  cr_assert_str_eq(shown(m, b), "prc:USA*********011");
  cr_assert_eq(typed("passport:USA:12345", key), 0); /* short: 2 characters stay */
  cx_idcard_mask(key, m);
  cr_assert_str_eq(shown(m, b), "passport:USA:***45");
  /* A masked key is no identifier. */
  cr_assert_lt(cx_person_normalize(m, 18, key), 0);
  cr_assert_lt(cx_person_normalize(b, strlen(b), key), 0);
}

Test(typed, every_reason_is_its_own) {
  const int rcs[] = {CX_EIDTYPE, CX_ECOUNTRY, CX_EPASSPORT, CX_EHKMO, CX_ETWPERMIT, CX_EPRC, CX_EPRCPROV};
  const char *what[] = {"identifier type", "ISO 3166", "passport", "HK/Macao", "Taiwan", "permanent-residence",
                        "positions 2-3"};
  for (size_t i = 0; i < sizeof rcs / sizeof *rcs; i++) {
    const char *e = cx_code_why(rcs[i], 0);
    cr_assert(strncmp(e, "entity_code: ", 13) == 0, "%s", e);
    cr_assert_not_null(strstr(e, what[i]), "%s", e);
    cr_assert_str_eq(cx_err_name(rcs[i]), "invalid_code");
    for (size_t k = 0; k < i; k++) cr_assert_str_neq(e, cx_code_why(rcs[k], 0));
    cr_assert_str_neq(e, cx_code_why(CX_EINVALCODE, 0));
  }
}
