/* fixture.h — shared helpers for the store tests (fresh store per test, valid codes). */
#ifndef CX_TEST_STORE_FIXTURE_H
#define CX_TEST_STORE_FIXTURE_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "testutil.h"

/* A valid enterprise USCC from a number: 91 + region 350100 + organisation code (n and its
 * GB 11714 check digit) + check. */
static inline void fx_uscc(unsigned n, char out[CX_CODE_LEN + 1]) {
  char c17[18];
  snprintf(c17, sizeof c17, "91350100%08u0", n % 100000000u);
  c17[16] = cx_orgcode_check_char(c17 + 8);
  memcpy(out, c17, 17);
  out[17] = cx_uscc_check_char(c17);
  out[18] = 0;
}
/* An authority (government body) USCC: 11 + region + number. */
static inline void fx_auth(unsigned n, char out[CX_CODE_LEN + 1]) {
  char c17[18];
  snprintf(c17, sizeof c17, "11350100%08u0", n % 100000000u);
  c17[16] = cx_orgcode_check_char(c17 + 8);
  memcpy(out, c17, 17);
  out[17] = cx_uscc_check_char(c17);
  out[18] = 0;
}
/* A valid ID number: region 110105, born 1980-01-01 + n days (mod), sequence n. */
static inline void fx_idcard(unsigned n, char out[CX_CODE_LEN + 1]) {
  char c17[18];
  snprintf(c17, sizeof c17, "1101051980%02u%02u%03u", 1 + (n / 28) % 12, 1 + n % 28, n % 1000);
  memcpy(out, c17, 17);
  out[17] = cx_idcard_check_char(c17);
  out[18] = 0;
}

static inline cx_day fx_day(int y, int m, int d) {
  cx_day out = 0;
  cr_assert_eq(cx_day_from_ymd(y, m, d, &out), 0);
  return out;
}

/* A penalty record; strings borrowed from the caller's buffers. */
static inline void fx_record(cx_record *r, const char *code, const char *name, const char *auth,
                             const char *rid, cx_day decision) {
  cx_record_defaults(r);
  r->entity_code = cx_str_c(code);
  r->entity_name = cx_str_c(name);
  r->authority_code = cx_str_c(auth);
  r->authority_name = cx_str_c("市市场监督管理局");
  r->record_id = cx_str_c(rid);
  r->category = CX_CAT_PENALTY;
  r->decision_date = decision;
}

static inline cx_store *fx_open(const char *dir, uint64_t map_size) {
  cx_store_opts o = {0};
  o.create = 1;
  o.map_size = map_size;
  cx_store *st = NULL;
  int rc = cx_store_open(dir, &o, &st);
  cr_assert_eq(rc, 0, "open: %s (%s)", cx_strerror(rc), cx_store_errmsg(NULL));
  return st;
}

static inline void fx_put(cx_batch *b, const cx_record *r) {
  const char *why = NULL;
  int rc = cx_batch_put(b, r, &why);
  cr_assert_eq(rc, 0, "put: %s (%s)", cx_strerror(rc), why ? why : "");
}

#endif
