/* clitest.h — helpers for the tests of the `chengxin` binary (header-only: each test file is its
 * own executable). Every test gets a fresh temp directory; commands run through the shell with
 * stdout and stderr captured into files in it. */
#ifndef CX_CLITEST_H
#define CX_CLITEST_H

#include <criterion/criterion.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "testutil.h"

static char g_dir[256];
static char g_bin[512];

/* The day the CLI tests run on (CHENGXIN_TODAY, inherited by chengxin and chengxind): the
 * public role sees that day only. */
#define CLI_TODAY "2025-03-01"

static inline void cli_setup(void) {
  cx_test_tmpdir(g_dir, sizeof g_dir);
  cx_test_bin("chengxin", g_bin, sizeof g_bin);
  setenv("CHENGXIN_TODAY", CLI_TODAY, 1);
}

static inline void cli_teardown(void) { cx_test_rmrf(g_dir); }

/* Runs `chengxin ARGS` (printf-style) with stdout in $dir/out and stderr in $dir/err. */
static inline int cx(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static inline int cx(const char *fmt, ...) {
  char args[3072];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(args, sizeof args, fmt, ap);
  va_end(ap);
  return cx_test_sh("cd '%s' && '%s' %s > '%s/out' 2> '%s/err'", g_dir, g_bin, args, g_dir, g_dir);
}

/* Whole file as a malloc'd string ("" when missing). */
static inline char *slurp(const char *name) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", g_dir, name);
  FILE *f = fopen(path, "rb");
  if (!f) return strdup("");
  fseek(f, 0, SEEK_END);
  long n = ftell(f);
  fseek(f, 0, SEEK_SET);
  char *b = malloc((size_t)n + 1);
  size_t r = fread(b, 1, (size_t)n, f);
  b[r] = 0;
  fclose(f);
  return b;
}

static inline void spit(const char *name, const char *text) {
  char path[512];
  snprintf(path, sizeof path, "%s/%s", g_dir, name);
  FILE *f = fopen(path, "wb");
  cr_assert(f, "cannot write %s", path);
  fputs(text, f);
  fclose(f);
}

static inline int out_has(const char *file, const char *needle) {
  char *s = slurp(file);
  int r = strstr(s, needle) != NULL;
  free(s);
  return r;
}

/* A valid USCC from a 17-character head ("91350100MA0000001"): position 17 becomes the
 * organisation code's check digit, position 18 the check character. */
static inline void uscc(const char *head17, char out[19]) {
  memcpy(out, head17, 17);
  out[16] = cx_orgcode_check_char(out + 8);
  out[17] = cx_uscc_check_char(out);
  out[18] = 0;
}

/* stdout parsed as JSON (asserts it parses). */
static inline json_t *out_json(void) {
  char *s = slurp("out");
  json_error_t e;
  json_t *j = json_loads(s, 0, &e);
  cr_assert(j, "stdout is not JSON: %s\n%s", e.text, s);
  free(s);
  return j;
}

/* Display width of UTF-8 text: CJK and full-width forms count 2 (test-side reference). */
static inline size_t disp_width(const char *s, size_t n) {
  size_t w = 0;
  for (size_t i = 0; i < n;) {
    unsigned char c = (unsigned char)s[i];
    if (c < 0x80) {
      w++;
      i++;
    } else if ((c & 0xE0) == 0xC0) {
      w++;
      i += 2;
    } else if ((c & 0xF0) == 0xE0) {
      unsigned cp = ((c & 15u) << 12) | (((unsigned char)s[i + 1] & 63u) << 6) | ((unsigned char)s[i + 2] & 63u);
      w += (cp >= 0x2E80 && cp <= 0xA4CF) || (cp >= 0xAC00 && cp <= 0xD7A3) || (cp >= 0xF900 && cp <= 0xFAFF) ||
                   (cp >= 0xFF00 && cp <= 0xFF60) || (cp >= 0xFFE0 && cp <= 0xFFE6) || (cp >= 0xFE30 && cp <= 0xFE4F)
               ? 2
               : 1;
      i += 3;
    } else {
      w += 2;
      i += 4;
    }
  }
  return w;
}

#endif
