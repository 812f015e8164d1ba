/*
 * wire.h — the protocol's bytes (library cx_wire): a bounded zero-allocation msgpack reader,
 * growable byte buffers and 4-byte length framing (docs/protocol.md §1). Shared by the
 * executor (exec.h), the server (server.h) and the client (client.h); nothing here knows an op.
 *
 * Caveats (threads): every function here is pure or works on caller-owned state.
 */
#ifndef CX_WIRE_H
#define CX_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

#define CX_NET_MAX_FIELDS 32u                 /* fields of one request map */
#define CX_NET_MAX_DEPTH 32u                  /* nesting of any msgpack value we accept */

/* ===================================================================== bounded msgpack reader */

/*
 * A zero-allocation msgpack reader over (p, n). Every declared length is checked against the
 * bytes left before anything is read, so a 5-byte frame declaring 2^32 elements is an error,
 * never an allocation. Reads never go past end (tested against a PROT_NONE guard page).
 *
 * Errors: CX_EBADFRAME when the bytes are not msgpack (truncated, reserved byte 0xc1, a
 * declared length beyond the end, too deep); CX_EBADREQ when the value has another type than
 * asked (the reader is not advanced then).
 */
typedef struct cx_mp {
  const unsigned char *p, *end;
} cx_mp;

typedef enum cx_mp_type {
  CX_MP_NIL, CX_MP_BOOL, CX_MP_UINT, CX_MP_INT, CX_MP_FLOAT, CX_MP_STR, CX_MP_BIN,
  CX_MP_ARRAY, CX_MP_MAP, CX_MP_EXT
} cx_mp_type;

static inline cx_mp cx_mp_make(const void *p, size_t n) {
  return (cx_mp){(const unsigned char *)p, (const unsigned char *)p + n};
}
static inline size_t cx_mp_left(const cx_mp *r) { return (size_t)(r->end - r->p); }

/** Type of the next value (CX_MP_*), or CX_EBADFRAME at the end / on a reserved byte. Inline:
 * every read starts here (5 % of the check path's instructions when it was a call). */
static inline int cx_mp_peek(const cx_mp *r) {
  if (r->p >= r->end) return CX_EBADFRAME;
  unsigned c = *r->p;
  if (c <= 0x7f) return CX_MP_UINT;
  if (c <= 0x8f) return CX_MP_MAP;
  if (c <= 0x9f) return CX_MP_ARRAY;
  if (c <= 0xbf) return CX_MP_STR;
  if (c >= 0xe0) return CX_MP_INT;
  switch (c) {
  case 0xc0: return CX_MP_NIL;
  case 0xc2: case 0xc3: return CX_MP_BOOL;
  case 0xc4: case 0xc5: case 0xc6: return CX_MP_BIN;
  case 0xc7: case 0xc8: case 0xc9: return CX_MP_EXT;
  case 0xca: case 0xcb: return CX_MP_FLOAT;
  case 0xcc: case 0xcd: case 0xce: case 0xcf: return CX_MP_UINT;
  case 0xd0: case 0xd1: case 0xd2: case 0xd3: return CX_MP_INT;
  case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8: return CX_MP_EXT;
  case 0xd9: case 0xda: case 0xdb: return CX_MP_STR;
  case 0xdc: case 0xdd: return CX_MP_ARRAY;
  case 0xde: case 0xdf: return CX_MP_MAP;
  default: return CX_EBADFRAME; /* 0xc1: never used */
  }
}
int cx_mp_read_nil(cx_mp *r);
int cx_mp_read_bool(cx_mp *r, int *out);
/** A non-negative integer (positive fixint, uint*, or int* holding a value >= 0). */
int cx_mp_read_uint(cx_mp *r, uint64_t *out);
/** Any integer that fits int64_t. */
int cx_mp_read_int(cx_mp *r, int64_t *out);
/** Any number: float32, float64 or an integer, as a double. */
int cx_mp_read_number(cx_mp *r, double *out);
/** str (not bin); out borrows from the input. */
int cx_mp__read_str(cx_mp *r, cx_str *out); /* mp.c: every form */
static inline int cx_mp_read_str(cx_mp *r, cx_str *out) {
  /* a fixstr (every key, most values) without a call: requests are mostly these */
  if (r->p < r->end && (*r->p & 0xe0) == 0xa0) {
    size_t n = *r->p & 0x1f;
    if (n < (size_t)(r->end - r->p)) {
      out->p = (const char *)r->p + 1;
      out->n = (uint32_t)n;
      r->p += n + 1;
      return 0;
    }
  }
  return cx_mp__read_str(r, out);
}
/** Array header; *n <= bytes left (each element needs at least one byte). */
int cx_mp_read_array(cx_mp *r, uint32_t *n);
/** Map header; 2 * *n <= bytes left. */
int cx_mp_read_map(cx_mp *r, uint32_t *n);
/** Skips one whole value (nested up to CX_NET_MAX_DEPTH). */
int cx_mp_skip(cx_mp *r);
/** Skips one whole value that sits at nesting depth `depth` of a larger value (a map's value:
 * 1), with the checks cx_mp_validate makes of it there. On error *r is unchanged. */
int cx_mp__skip_at(cx_mp *r, unsigned depth); /* mp.c: every form */
static inline int cx_mp_skip_at(cx_mp *r, unsigned depth) {
  /* a fixstr, a positive fixint, nil or a boolean without a call (depth is within the limit
   * for a scalar whenever its container's was) */
  if (r->p < r->end && depth <= CX_NET_MAX_DEPTH) {
    unsigned c = *r->p;
    if ((c & 0xe0) == 0xa0) {
      if ((size_t)(c & 0x1f) < (size_t)(r->end - r->p)) {
        r->p += (c & 0x1f) + 1;
        return 0;
      }
    } else if (c <= 0x7f || c == 0xc0 || c == 0xc2 || c == 0xc3) {
      r->p++;
      return 0;
    }
  }
  return cx_mp__skip_at(r, depth);
}
/**
 * Checks that p[0..n) holds exactly one well-formed msgpack value (nesting bounded, every
 * length within the bytes). 0 or CX_EBADFRAME. Use before handing bytes to msgpack-c.
 */
int cx_mp_validate(const void *p, size_t n);

/* ===================================================================== byte buffers */

/**
 * A growable byte buffer; kept per connection and reused (len reset to 0, memory kept).
 * It fails stickily: after one failed reserve or append every later one fails too (and writes
 * nothing) until cx_buf_clear_failure(), so a response packed with a hole in it is never sent:
 * cx_exec_run sees `failed` and sends one `internal` answer instead.
 */
typedef struct cx_buf {
  char *p;
  size_t len, cap;
  uint64_t spills;   /* times it had to grow past its initial capacity */
  size_t initial;
  int failed;        /* an append failed since the last cx_buf_clear_failure() */
  /* 0: none. Else reserving room past `limit` bytes fails with CX_ETOOLARGE and sets `over`
   * (not `failed`: the answer is too large, the server is not out of memory); every later
   * reserve fails too until the owner clears `over`. The server builds answers under it (the
   * connection's output share, docs/protocol.md §6) and answers too_large when it is set. */
  size_t limit;
  int over;
} cx_buf;

int cx_buf_init(cx_buf *b, size_t initial);
void cx_buf_free(cx_buf *b);
/** Makes room for n more bytes. CX_ENOMEM; CX_ETOOLARGE past b->limit (sets b->over). */
int cx_buf_reserve(cx_buf *b, size_t n);
int cx_buf_append(cx_buf *b, const void *p, size_t n);
/** Releases memory above the initial capacity when the buffer is empty. */
void cx_buf_shrink(cx_buf *b);
/** Forgets a failure (after the caller dropped what the failed appends belonged to). */
static inline void cx_buf_clear_failure(cx_buf *b) { b->failed = 0; }
/** msgpack_packer write callback over a cx_buf (data is the cx_buf *). */
int cx_buf_msgpack_write(void *data, const char *p, size_t n);

/* ===================================================================== frames */

#define CX_FRAME_HDR 4

/**
 * Looks for one frame at p[0..n): 4-byte big-endian length L then L bytes.
 * Returns the frame's total size (4 + L) when complete, CX_EAGAIN when more bytes are needed
 * (*need = total size when known, else 4), CX_ETOOLARGE when L > max, CX_EBADFRAME when L == 0.
 * *payload / *plen are set when complete.
 */
long cx_frame_parse(const void *p, size_t n, size_t max, const unsigned char **payload,
                    size_t *plen, size_t *need);
/** Writes the 4-byte big-endian header for a payload of len bytes. */
void cx_frame_header(unsigned char hdr[CX_FRAME_HDR], uint32_t len);

#endif
