/*
 * libFuzzer target: the string check and the escaper (store/utf8.c). For any bytes:
 * cx_utf8_decode agrees with a reference decoder written from RFC 3629's definition (encode
 * the value back: the same bytes and the shortest form); cx_text_check passes exactly when
 * every character decodes and none is refused; the escape of anything passes the check of its
 * kind, is the input itself when the input passed, and never writes past its buffer (exact-size
 * heap buffers, so ASan sees an overrun).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "fuzz.h"

/* Reference: the length of the shortest encoding of cp, 0 for a surrogate or past U+10FFFF. */
static size_t enc_len(uint32_t cp) {
  if (cp >= 0xD800 && cp <= 0xDFFF) return 0;
  return cp < 0x80 ? 1 : cp < 0x800 ? 2 : cp < 0x10000 ? 3 : cp <= 0x10FFFF ? 4 : 0;
}

static int refused(uint32_t cp, int kind) {
  int ctl = cp < 0x20 || (cp >= 0x7F && cp <= 0x9F);
  if (kind == CX_TEXT_NAME) return ctl;
  if (kind == CX_TEXT_FREE) return ctl && cp != '\t' && cp != '\n';
  return cp == 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  char *in = malloc(size ? size : 1);
  CHECK(in);
  if (size) memcpy(in, data, size);
  /* Decoder against the reference, character by character; the expected check result. */
  int ok[3] = {1, 1, 1};
  size_t first_bad[3] = {size, size, size};
  for (size_t i = 0; i < size;) {
    uint32_t cp = 0;
    long k = cx_utf8_decode(in + i, size - i, &cp);
    if (k > 0) {
      CHECK((size_t)k <= size - i && enc_len(cp) == (size_t)k);
      if ((unsigned char)in[i] < 0x80) CHECK(cp == (unsigned char)in[i]);
      for (long j = 1; j < k; j++) CHECK(((unsigned char)in[i + (size_t)j] & 0xC0) == 0x80);
    } else {
      CHECK(k == CX_EBADREQ || k == CX_EAGAIN);
    }
    for (int kind = 0; kind < 3; kind++)
      if (ok[kind] && (k <= 0 || refused(cp, kind))) ok[kind] = 0, first_bad[kind] = i;
    i += k > 0 ? (size_t)k : 1;
    if (k <= 0) break; /* past the first bad byte the positions are no longer comparable */
  }
  for (int kind = 0; kind < 3; kind++) {
    cx_text_fault f = {0, 0};
    int rc = cx_text_check(in, size, kind, &f);
    CHECK((rc == 0) == ok[kind]);
    if (rc) CHECK(f.at == first_bad[kind]);
    /* The escape, into an exact-size buffer. */
    size_t cap = 4 * size + 1;
    char *out = malloc(cap);
    CHECK(out);
    size_t n = cx_text_escape(in, size, kind, out, cap);
    CHECK(n < cap && out[n] == 0);
    CHECK(cx_text_check(out, n, kind, NULL) == 0);
    if (rc == 0) CHECK(n == size && memcmp(out, in, size) == 0);
    /* A short buffer: a prefix of the full escape, never past cap. */
    size_t small = size / 2 + 1;
    char *o2 = malloc(small);
    CHECK(o2);
    size_t n2 = cx_text_escape(in, size, kind, o2, small);
    CHECK(n2 < small && n2 <= n && memcmp(o2, out, n2) == 0);
    free(o2);
    free(out);
  }
  int bad = 0;
  (void)cx_text_lines_check(in, size, &bad);
  free(in);
  return 0;
}
