/*
 * libFuzzer target: the identifier validators and the name normaliser (store/ids.c).
 * Invariants checked on every input:
 *  - success writes exactly 18 characters + NUL, from the code's alphabet (typed keys aside), and the output
 *    re-normalises to itself (idempotent) with the same result;
 *  - cx_code_normalize agrees with the specific validator it picks (is_person);
 *  - a person's identifier (cx_person_normalize) re-normalises to itself from its key and from
 *    its shown form (cx_code_format); its masked form is no identifier;
 *  - a USCC output's last character is cx_uscc_check_char of its first 17;
 *  - cx_name_normalize never writes past cap, NUL-terminates, returns strlen(out), produces
 *    valid UTF-8 and is idempotent.
 * Build and run: tests/fuzz/run.sh (or see tests/fuzz/CMakeLists.txt).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "fuzz.h"

static void check_code(int rc, const char out[CX_CODE_LEN + 1],
                       int (*fn)(const char *, size_t, char *)) {
  if (rc != 0) return;
  CHECK(strlen(out) == CX_CODE_LEN);
  for (int i = 0; i < CX_CODE_LEN; i++)
    CHECK((out[i] >= '0' && out[i] <= '9') || (out[i] >= 'A' && out[i] <= 'Z'));
  char again[CX_CODE_LEN + 1];
  memset(again, 0x55, sizeof again);
  CHECK(fn(out, CX_CODE_LEN, again) == 0);
  CHECK(memcmp(out, again, CX_CODE_LEN + 1) == 0);
}

static int valid_utf8(const unsigned char *s, size_t n) {
  size_t i = 0;
  while (i < n) {
    unsigned c = s[i];
    size_t len = c < 0x80 ? 1 : (c >> 5) == 6 ? 2 : (c >> 4) == 14 ? 3 : (c >> 3) == 30 ? 4 : 0;
    if (!len || i + len > n) return 0;
    for (size_t k = 1; k < len; k++)
      if ((s[i + k] & 0xC0) != 0x80) return 0;
    i += len;
  }
  return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const char *s = (const char *)data;
  char out[CX_CODE_LEN + 2];
  /* out is untouched on failure: a sentinel must survive. */
  memset(out, 0x7f, sizeof out);
  int rc = cx_uscc_normalize(s, size, out);
  if (rc != 0) CHECK((unsigned char)out[0] == 0x7f);
  check_code(rc, out, cx_uscc_normalize);
  if (rc == 0) {
    CHECK(out[CX_CODE_LEN - 1] == cx_uscc_check_char(out));
    CHECK((unsigned char)out[CX_CODE_LEN + 1] == 0x7f); /* no write past the NUL */
  }
  int uscc_rc = rc;

  memset(out, 0x7f, sizeof out);
  rc = cx_idcard_normalize(s, size, out);
  if (rc != 0) CHECK((unsigned char)out[0] == 0x7f);
  check_code(rc, out, cx_idcard_normalize);
  if (rc == 0) {
    CHECK(out[CX_CODE_LEN - 1] == cx_idcard_check_char(out));
    char masked[CX_CODE_LEN + 1];
    cx_idcard_mask(out, masked);
    CHECK(strlen(masked) == CX_CODE_LEN);
  }
  int id_rc = rc;

  memset(out, 0x7f, sizeof out);
  rc = cx_person_normalize(s, size, out);
  if (rc != 0) CHECK((unsigned char)out[0] == 0x7f);
  if (rc == 0) {
    CHECK(strlen(out) == CX_CODE_LEN);
    char again[CX_CODE_LEN + 1], text[CX_CODE_TEXT_MAX], m[CX_CODE_LEN + 1];
    CHECK(cx_person_normalize(out, CX_CODE_LEN, again) == 0 && memcmp(again, out, CX_CODE_LEN + 1) == 0);
    size_t tn = cx_code_format(out, text); /* the shown form gives the key back */
    CHECK(tn == strlen(text) && tn < CX_CODE_TEXT_MAX);
    CHECK(cx_person_normalize(text, tn, again) == 0 && memcmp(again, out, CX_CODE_LEN + 1) == 0);
    cx_idcard_mask(out, m);
    CHECK(strlen(m) == CX_CODE_LEN && cx_person_normalize(m, CX_CODE_LEN, again) != 0);
    CHECK(cx_code_region(out, 1) <= 999999u);
  }
  int person_rc = rc;

  memset(out, 0x7f, sizeof out);
  int is_person = -1;
  rc = cx_code_normalize(s, size, out, &is_person);
  if (rc == 0) {
    CHECK(is_person == 0 || is_person == 1);
    CHECK(strlen(out) == CX_CODE_LEN);
    /* a person's key is an ID number, a typed identifier, or the 2023 permanent-residence
     * number (18 characters from 9: GB 11643's structure, not a province) */
    if (is_person) CHECK(person_rc == 0 && (id_rc == 0 || cx_code_typed(out) || out[0] == '9'));
    else CHECK(uscc_rc == 0);
    char again[CX_CODE_LEN + 1];
    int p2 = -1;
    CHECK(cx_code_normalize(out, CX_CODE_LEN, again, &p2) == 0);
    CHECK(p2 == is_person && memcmp(again, out, CX_CODE_LEN + 1) == 0);
    (void)cx_code_region(out, is_person);
    CHECK(cx_kind_from_code(out, is_person) < CX_KIND_COUNT);
  } else {
    CHECK(uscc_rc != 0); /* a valid USCC is always accepted by the either-kind validator */
  }

  /* Names: several caps, including tiny ones, on a heap buffer so ASan sees overruns. */
  size_t caps[] = {1, 2, 3, 4, 7, 64, size * 2 + 1};
  for (size_t k = 0; k < sizeof caps / sizeof caps[0]; k++) {
    size_t cap = caps[k];
    char *nb = malloc(cap);
    CHECK(nb);
    size_t n = cx_name_normalize(s, size, nb, cap);
    CHECK(n < cap);
    CHECK(strlen(nb) == n);
    CHECK(valid_utf8((const unsigned char *)nb, n));
    if (k == sizeof caps / sizeof caps[0] - 1) {
      char *n2 = malloc(cap);
      CHECK(n2);
      size_t m = cx_name_normalize(nb, n, n2, cap);
      CHECK(m == n && memcmp(nb, n2, n) == 0);
      free(n2);
    }
    free(nb);
  }
  return 0;
}
