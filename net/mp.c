/*
 * mp.c — a bounded, zero-allocation msgpack reader (see net_int.h), and byte buffers.
 *
 * Why not msgpack_unpack_next on requests: msgpack-c 4.0 reserves declared_count *
 * sizeof(msgpack_object) from its zone before it reads the elements, so a 5-byte frame
 * declaring 2^32 elements costs ~100 GB of address space (NOMEM) or a ~1 GB allocation. This
 * reader checks every declared length against the bytes left first and never allocates.
 */
#include <stdlib.h>
#include <string.h>

#include "wire.h"

static inline uint16_t rd16(const unsigned char *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t rd32(const unsigned char *p) {
  return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t rd64(const unsigned char *p) {
  return ((uint64_t)rd32(p) << 32) | rd32(p + 4);
}

int cx_mp_read_nil(cx_mp *r) {
  int t = cx_mp_peek(r);
  if (t < 0) return t;
  if (t != CX_MP_NIL) return CX_EBADREQ;
  r->p++;
  return 0;
}

int cx_mp_read_bool(cx_mp *r, int *out) {
  int t = cx_mp_peek(r);
  if (t < 0) return t;
  if (t != CX_MP_BOOL) return CX_EBADREQ;
  *out = *r->p == 0xc3;
  r->p++;
  return 0;
}

/* Reads any integer into (neg, magnitude as int64 or uint64). */
static int read_integer(cx_mp *r, int *is_neg, uint64_t *u, int64_t *s) {
  int t = cx_mp_peek(r);
  if (t < 0) return t;
  if (t != CX_MP_UINT && t != CX_MP_INT) return CX_EBADREQ;
  const unsigned char *p = r->p;
  size_t left = cx_mp_left(r);
  unsigned c = *p;
  size_t need = 1;
  if (c <= 0x7f) {
    *is_neg = 0; *u = c;
  } else if (c >= 0xe0) {
    *is_neg = 1; *s = (int8_t)c;
  } else {
    switch (c) {
    case 0xcc: case 0xd0: need = 2; break;
    case 0xcd: case 0xd1: need = 3; break;
    case 0xce: case 0xd2: need = 5; break;
    default: need = 9; break;
    }
    if (left < need) return CX_EBADFRAME;
    switch (c) {
    case 0xcc: *is_neg = 0; *u = p[1]; break;
    case 0xcd: *is_neg = 0; *u = rd16(p + 1); break;
    case 0xce: *is_neg = 0; *u = rd32(p + 1); break;
    case 0xcf: *is_neg = 0; *u = rd64(p + 1); break;
    case 0xd0: *s = (int8_t)p[1]; break;
    case 0xd1: *s = (int16_t)rd16(p + 1); break;
    case 0xd2: *s = (int32_t)rd32(p + 1); break;
    default: *s = (int64_t)rd64(p + 1); break;
    }
    if (c >= 0xd0) {
      if (*s >= 0) { *is_neg = 0; *u = (uint64_t)*s; }
      else *is_neg = 1;
    }
  }
  r->p += need;
  return 0;
}

int cx_mp_read_uint(cx_mp *r, uint64_t *out) {
  cx_mp save = *r;
  int neg = 0;
  uint64_t u = 0;
  int64_t s = 0;
  int rc = read_integer(r, &neg, &u, &s);
  if (rc) return rc;
  if (neg) { *r = save; return CX_EBADREQ; }
  *out = u;
  return 0;
}

int cx_mp_read_number(cx_mp *r, double *out) {
  int t = cx_mp_peek(r);
  if (t < 0) return t;
  if (t == CX_MP_FLOAT) {
    const unsigned char *p = r->p;
    size_t need = *p == 0xca ? 5 : 9;
    if (cx_mp_left(r) < need) return CX_EBADFRAME;
    if (*p == 0xca) {
      uint32_t b = rd32(p + 1);
      float f;
      memcpy(&f, &b, 4);
      *out = f;
    } else {
      uint64_t b = rd64(p + 1);
      memcpy(out, &b, 8);
    }
    r->p += need;
    return 0;
  }
  cx_mp save = *r;
  int neg = 0;
  uint64_t u = 0;
  int64_t s = 0;
  int rc = read_integer(r, &neg, &u, &s);
  if (rc) {
    *r = save;
    return rc;
  }
  *out = neg ? (double)s : (double)u;
  return 0;
}

int cx_mp_read_int(cx_mp *r, int64_t *out) {
  cx_mp save = *r;
  int neg = 0;
  uint64_t u = 0;
  int64_t s = 0;
  int rc = read_integer(r, &neg, &u, &s);
  if (rc) return rc;
  if (!neg && u > (uint64_t)INT64_MAX) { *r = save; return CX_EBADREQ; }
  *out = neg ? s : (int64_t)u;
  return 0;
}

/* Length-prefixed body: reads the header of a str/bin/ext/array/map, returns the declared
 * count (bytes for str/bin/ext, elements for array/map) and the header size. */
static int read_len(const cx_mp *r, int *type, uint64_t *count, size_t *hdr) {
  int t = cx_mp_peek(r);
  if (t < 0) return t;
  const unsigned char *p = r->p;
  size_t left = cx_mp_left(r);
  unsigned c = *p;
  *type = t;
  if (c >= 0xa0 && c <= 0xbf) { *count = c & 0x1f; *hdr = 1; return 0; }
  if (c >= 0x90 && c <= 0x9f) { *count = c & 0x0f; *hdr = 1; return 0; }
  if (c >= 0x80 && c <= 0x8f) { *count = c & 0x0f; *hdr = 1; return 0; }
  size_t w;
  switch (c) {
  case 0xc4: case 0xd9: case 0xc7: w = 1; break;
  case 0xc5: case 0xda: case 0xdc: case 0xde: case 0xc8: w = 2; break;
  case 0xc6: case 0xdb: case 0xdd: case 0xdf: case 0xc9: w = 4; break;
  case 0xd4: *count = 1 + 1; *hdr = 1; return 0; /* fixext: type byte + data */
  case 0xd5: *count = 2 + 1; *hdr = 1; return 0;
  case 0xd6: *count = 4 + 1; *hdr = 1; return 0;
  case 0xd7: *count = 8 + 1; *hdr = 1; return 0;
  case 0xd8: *count = 16 + 1; *hdr = 1; return 0;
  default: return CX_EBADREQ; /* not a length-prefixed type */
  }
  if (left < 1 + w) return CX_EBADFRAME;
  *count = w == 1 ? p[1] : w == 2 ? rd16(p + 1) : rd32(p + 1);
  if (t == CX_MP_EXT) *count += 1; /* the ext type byte */
  *hdr = 1 + w;
  return 0;
}

int cx_mp__read_str(cx_mp *r, cx_str *out) {
  int t = cx_mp_peek(r);
  if (t < 0) return t;
  if (t != CX_MP_STR) return CX_EBADREQ;
  uint64_t n;
  size_t hdr;
  int rc = read_len(r, &t, &n, &hdr);
  if (rc) return rc;
  if (n > cx_mp_left(r) - hdr) return CX_EBADFRAME;
  out->p = (const char *)r->p + hdr;
  out->n = (uint32_t)n;
  r->p += hdr + n;
  return 0;
}

static int read_container(cx_mp *r, int want, uint64_t per, uint32_t *n) {
  int t = cx_mp_peek(r);
  if (t < 0) return t;
  if (t != want) return CX_EBADREQ;
  uint64_t cnt;
  size_t hdr;
  int rc = read_len(r, &t, &cnt, &hdr);
  if (rc) return rc;
  /* Each element takes at least one byte: a count beyond the bytes left is a lie. */
  if (cnt * per > cx_mp_left(r) - hdr) return CX_EBADFRAME;
  *n = (uint32_t)cnt;
  r->p += hdr;
  return 0;
}

int cx_mp_read_array(cx_mp *r, uint32_t *n) { return read_container(r, CX_MP_ARRAY, 1, n); }
int cx_mp_read_map(cx_mp *r, uint32_t *n) { return read_container(r, CX_MP_MAP, 2, n); }

static int skip_depth(cx_mp *r, unsigned depth) {
  if (depth > CX_NET_MAX_DEPTH) return CX_EBADFRAME;
  int t = cx_mp_peek(r);
  if (t < 0) return t;
  switch (t) {
  case CX_MP_NIL: case CX_MP_BOOL:
    r->p++;
    return 0;
  case CX_MP_UINT: case CX_MP_INT: {
    int neg;
    uint64_t u;
    int64_t s;
    return read_integer(r, &neg, &u, &s);
  }
  case CX_MP_FLOAT: {
    size_t need = *r->p == 0xca ? 5 : 9;
    if (cx_mp_left(r) < need) return CX_EBADFRAME;
    r->p += need;
    return 0;
  }
  case CX_MP_STR: case CX_MP_BIN: case CX_MP_EXT: {
    uint64_t n;
    size_t hdr;
    int rc = read_len(r, &t, &n, &hdr);
    if (rc) return rc;
    if (n > cx_mp_left(r) - hdr) return CX_EBADFRAME;
    r->p += hdr + n;
    return 0;
  }
  case CX_MP_ARRAY: case CX_MP_MAP: {
    uint32_t n;
    int rc = t == CX_MP_ARRAY ? cx_mp_read_array(r, &n) : cx_mp_read_map(r, &n);
    if (rc) return rc;
    uint64_t items = t == CX_MP_ARRAY ? n : 2ull * n;
    for (uint64_t i = 0; i < items; i++)
      if ((rc = skip_depth(r, depth + 1))) return rc;
    return 0;
  }
  default:
    return CX_EBADFRAME;
  }
}

int cx_mp_skip(cx_mp *r) { return cx_mp_skip_at(r, 0); }

int cx_mp__skip_at(cx_mp *r, unsigned depth) {
  cx_mp save = *r;
  int rc = skip_depth(r, depth);
  if (rc) *r = save;
  return rc;
}

int cx_mp_validate(const void *p, size_t n) {
  cx_mp r = cx_mp_make(p, n);
  int rc = cx_mp_skip(&r);
  if (rc) return CX_EBADFRAME;
  return cx_mp_left(&r) == 0 ? 0 : CX_EBADFRAME;
}

/* ===================================================================== buffers */

int cx_buf_init(cx_buf *b, size_t initial) {
  memset(b, 0, sizeof *b);
  b->initial = initial;
  if (initial) {
    b->p = cx_malloc(initial);
    if (!b->p) return CX_ENOMEM;
    b->cap = initial;
  }
  return 0;
}

void cx_buf_free(cx_buf *b) {
  free(b->p);
  b->p = NULL;
  b->len = b->cap = 0;
}

int cx_buf_reserve(cx_buf *b, size_t n) {
  if (b->over) return CX_ETOOLARGE;
  if (b->failed) return CX_ENOMEM;
  if (b->limit && (b->len > b->limit || n > b->limit - b->len)) {
    b->over = 1;
    return CX_ETOOLARGE;
  }
  if (b->cap - b->len >= n) return 0;
  size_t cap = b->cap ? b->cap : 256;
  while (cap - b->len < n) {
    if (cap > SIZE_MAX / 2) {
      b->failed = 1;
      return CX_ENOMEM;
    }
    cap *= 2;
  }
  char *p = cx_realloc(b->p, cap);
  if (!p) {
    b->failed = 1;
    return CX_ENOMEM;
  }
  if (cap > b->initial && b->cap <= b->initial) b->spills++;
  b->p = p;
  b->cap = cap;
  return 0;
}

int cx_buf_append(cx_buf *b, const void *p, size_t n) {
  int rc = cx_buf_reserve(b, n);
  if (rc) return rc;
  if (n) memcpy(b->p + b->len, p, n);
  b->len += n;
  return 0;
}

void cx_buf_shrink(cx_buf *b) {
  if (b->len || b->cap <= b->initial || !b->initial) return;
  char *p = cx_realloc(b->p, b->initial);
  if (!p) return;
  b->p = p;
  b->cap = b->initial;
}

/* msgpack-c's packer calls this for every value (a few bytes each): the room already there is
 * the usual case, taken without cx_buf_reserve's checks (the same outcome: within the limit,
 * nothing failed or over). */
int cx_buf_msgpack_write(void *data, const char *p, size_t n) {
  cx_buf *b = data;
  if (b->p && !b->over && !b->failed && b->cap - b->len >= n && (!b->limit || (b->len <= b->limit && n <= b->limit - b->len))) {
    memcpy(b->p + b->len, p, n);
    b->len += n;
    return 0;
  }
  return cx_buf_append(b, p, n) ? -1 : 0;
}

/* ===================================================================== frames */

long cx_frame_parse(const void *p, size_t n, size_t max, const unsigned char **payload,
                    size_t *plen, size_t *need) {
  const unsigned char *b = p;
  if (n < CX_FRAME_HDR) {
    *need = CX_FRAME_HDR;
    return CX_EAGAIN;
  }
  uint32_t len = rd32(b);
  if (len == 0) return CX_EBADFRAME;
  if (len > max) return CX_ETOOLARGE;
  size_t total = (size_t)len + CX_FRAME_HDR;
  if (n < total) {
    *need = total;
    return CX_EAGAIN;
  }
  *payload = b + CX_FRAME_HDR;
  *plen = len;
  return (long)total;
}

void cx_frame_header(unsigned char hdr[CX_FRAME_HDR], uint32_t len) {
  hdr[0] = (unsigned char)(len >> 24);
  hdr[1] = (unsigned char)(len >> 16);
  hdr[2] = (unsigned char)(len >> 8);
  hdr[3] = (unsigned char)len;
}
