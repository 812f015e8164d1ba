/*
 * utf8.c — the one check of what strings may enter the store, and the one escaper of strings
 * that are shown (server messages, terminals).
 *
 * cx_utf8_decode is an incremental pure function over (p, n) like the other parsers: it
 * decodes one character, says "need more" when the bytes end inside one that could still be
 * valid, and rejects a bad sequence at its first byte that cannot continue (Unicode's "maximal
 * subpart" rule: E0 80 is refused at the 80, without waiting for a third byte). The ranges are
 * those of RFC 3629 table 4, so overlongs, surrogates and code points past U+10FFFF never
 * decode.
 */
#include <stdio.h>

#include "store.h"

/* Second-byte ranges by lead byte (RFC 3629 §4): the other continuation bytes are 80..BF. */
static int second_ok(unsigned char lead, unsigned char b) {
  switch (lead) {
  case 0xE0: return b >= 0xA0 && b <= 0xBF; /* no overlong 3-byte forms */
  case 0xED: return b >= 0x80 && b <= 0x9F; /* no surrogates U+D800..U+DFFF */
  case 0xF0: return b >= 0x90 && b <= 0xBF; /* no overlong 4-byte forms */
  case 0xF4: return b >= 0x80 && b <= 0x8F; /* nothing past U+10FFFF */
  default: return b >= 0x80 && b <= 0xBF;
  }
}

long cx_utf8_decode(const char *s, size_t n, uint32_t *cp) {
  const unsigned char *p = (const unsigned char *)s;
  if (n == 0) return CX_EAGAIN;
  unsigned char c = p[0];
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  size_t len;
  uint32_t v;
  if (c >= 0xC2 && c <= 0xDF) len = 2, v = c & 0x1Fu;
  else if (c >= 0xE0 && c <= 0xEF) len = 3, v = c & 0x0Fu;
  else if (c >= 0xF0 && c <= 0xF4) len = 4, v = c & 0x07u;
  else return CX_EBADREQ; /* a continuation byte, C0, C1 (overlong 2-byte) or F5..FF */
  for (size_t i = 1; i < len; i++) {
    if (i >= n) return CX_EAGAIN;
    unsigned char b = p[i];
    if (i == 1 ? !second_ok(c, b) : (b & 0xC0) != 0x80) return CX_EBADREQ;
    v = v << 6 | (b & 0x3Fu);
  }
  *cp = v;
  return (long)len;
}

int cx_text_is_control(uint32_t cp) { return cp < 0x20 || (cp >= 0x7F && cp <= 0x9F); }

/* 1 when kind refuses the (valid) code point cp. */
static int refused(uint32_t cp, int kind) {
  switch (kind) {
  case CX_TEXT_NAME: return cx_text_is_control(cp);
  case CX_TEXT_FREE: return cx_text_is_control(cp) && cp != '\t' && cp != '\n';
  default: return cp == 0; /* CX_TEXT_UTF8 */
  }
}

int cx_text_check(const char *p, size_t n, int kind, cx_text_fault *f) {
  size_t i = 0;
  while (i < n) {
    unsigned char c = (unsigned char)p[i];
    if (c >= 0x20 && c < 0x7F) { /* the common case: printable ASCII */
      i++;
      continue;
    }
    uint32_t cp = 0;
    long k = cx_utf8_decode(p + i, n - i, &cp);
    if (k < 0 || refused(cp, kind)) {
      if (f) {
        f->at = (uint32_t)i;
        f->cp = k < 0 ? -1 : (int32_t)cp;
      }
      return CX_EBADREQ;
    }
    i += (size_t)k;
  }
  return 0;
}

int cx_text_fault_format(const cx_text_fault *f, const char *field, char *buf, size_t cap) {
  int k;
  if (f->cp < 0)
    k = snprintf(buf, cap, "%s: invalid UTF-8 at byte %u", field, (unsigned)f->at);
  else
    k = snprintf(buf, cap, "%s: control character U+%04X at byte %u", field, (unsigned)f->cp,
                 (unsigned)f->at);
  return k < 0 ? 0 : k;
}

int cx_text_lines_check(const char *text, size_t n, int *bad_line) {
  int line = 0;
  size_t i = 0;
  if (!text) n = 0;
  while (i < n) {
    size_t e = i;
    while (e < n && text[e] != '\n') e++;
    line++;
    size_t len = e - i;
    if (len && text[i + len - 1] == '\r') len--; /* CRLF files */
    if (cx_text_check(text + i, len, CX_TEXT_FREE, NULL)) {
      if (bad_line) *bad_line = line;
      return CX_EBADREQ;
    }
    i = e + 1;
  }
  return 0;
}

size_t cx_text_escape(const char *p, size_t n, int kind, char *out, size_t cap) {
  static const char hex[] = "0123456789abcdef";
  size_t o = 0, i = 0;
  if (cap == 0) return 0;
  while (i < n) {
    char e[8];
    size_t en, adv;
    uint32_t cp = 0;
    long k = cx_utf8_decode(p + i, n - i, &cp);
    if (k < 0) { /* one byte that is not UTF-8: shown as its value, then go on after it */
      unsigned char b = (unsigned char)p[i];
      e[0] = '\\', e[1] = 'x', e[2] = hex[b >> 4], e[3] = hex[b & 15];
      en = 4, adv = 1;
    } else if (refused(cp, kind)) {
      adv = (size_t)k;
      if (cp == '\t' || cp == '\n' || cp == '\r') {
        e[0] = '\\', e[1] = cp == '\t' ? 't' : cp == '\n' ? 'n' : 'r';
        en = 2;
      } else if (cp < 0x80) {
        e[0] = '\\', e[1] = 'x', e[2] = hex[cp >> 4], e[3] = hex[cp & 15];
        en = 4;
      } else { /* C1 controls: one character of two bytes, shown as its code point */
        e[0] = '\\', e[1] = 'u', e[2] = '0', e[3] = '0', e[4] = hex[(cp >> 4) & 15], e[5] = hex[cp & 15];
        en = 6;
      }
    } else {
      memcpy(e, p + i, (size_t)k);
      en = adv = (size_t)k;
    }
    if (o + en + 1 > cap) break; /* never half a character nor half an escape */
    memcpy(out + o, e, en);
    o += en;
    i += adv;
  }
  out[o] = 0;
  return o;
}
