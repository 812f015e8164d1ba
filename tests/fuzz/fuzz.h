/*
 * fuzz.h — what the libFuzzer targets share: CHECK (abort, naming the failed condition: libFuzzer
 * then keeps the input), a scratch directory for the targets that need a store (under $TMPDIR,
 * else /dev/shm, else /tmp; tests/fuzz/run.sh points TMPDIR at one it removes) and its removal at
 * exit, and valid codes to fill a store with.
 */
#ifndef CX_FUZZ_H
#define CX_FUZZ_H

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"

#define CHECK(c)                                                                  \
  do {                                                                            \
    if (!(c)) {                                                                   \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #c);       \
      abort();                                                                    \
    }                                                                             \
  } while (0)

static int fz__rm_one(const char *p, const struct stat *sb, int flag, struct FTW *f) {
  (void)sb, (void)flag, (void)f;
  return remove(p);
}

/* Removes dir and everything under it (nothing when dir is ""). */
static inline void fz_rmrf(const char *dir) {
  if (dir[0]) nftw(dir, fz__rm_one, 8, FTW_DEPTH | FTW_PHYS);
}

/* A new directory "<tmp>/cxfuzz-TAG.XXXXXX" into dir (cap bytes); aborts when it cannot. */
static inline void fz_tmpdir(char *dir, size_t cap, const char *tag) {
  const char *base = getenv("TMPDIR");
  if (!base || !*base) base = access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  CHECK((size_t)snprintf(dir, cap, "%s/cxfuzz-%s.XXXXXX", base, tag) < cap);
  CHECK(mkdtemp(dir));
}

/* A valid unified social credit code: the 8 characters of prefix8, n as 8 digits, then the
 * organisation code's and the code's check characters. */
static inline void fz_make_code(const char *prefix8, unsigned n, char out[CX_CODE_LEN + 1]) {
  char c17[18];
  snprintf(c17, sizeof c17, "%.8s%08u0", prefix8, n % 100000000u);
  c17[16] = cx_orgcode_check_char(c17 + 8);
  memcpy(out, c17, 17);
  out[17] = cx_uscc_check_char(c17);
  out[18] = 0;
}

#endif
