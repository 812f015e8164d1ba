/* audit.c — the append-only audit log: value codec, appends inside a write txn, iteration.
 *
 * Keys are seq u64 BE, so byte order is seq order and every append is at the end of the
 * B-tree (MDB_APPEND: no search, pages filled completely). The next seq is the last key + 1,
 * read in the same write txn: LMDB has one writer at a time, so seqs are contiguous and
 * strictly increasing across threads and processes without a counter in meta. There is no
 * call that deletes or rewrites an entry; cx_store_verify checks that seqs run 1..N without a
 * gap and that every value decodes.
 */
#include <stdlib.h>
#include <time.h>

#include "store_int.h"

static const uint32_t lim[6] = {CX_AUDIT_WHO_MAX,    CX_AUDIT_ROLE_MAX,   CX_AUDIT_OP_MAX,
                                CX_AUDIT_TARGET_MAX, CX_AUDIT_DETAIL_MAX, CX_AUDIT_CLIENT_MAX};

int64_t cx_audit_now_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Length of s cut to at most max bytes, not inside a UTF-8 sequence. */
static uint32_t cut(cx_str s, uint32_t max) {
  if (s.n <= max) return s.n;
  uint32_t n = max;
  while (n > 0 && ((unsigned char)s.p[n] & 0xC0) == 0x80) n--;
  return n;
}

static int encode(const cx_audit_entry *e, int64_t now_ms, cx_buf *out) {
  const cx_str *f[6] = {&e->who, &e->role, &e->op, &e->target, &e->detail, &e->client};
  unsigned char hdr[CX_AUDIT_HDR];
  hdr[0] = CX_AUDIT_VERSION;
  cx__wr64(hdr + 1, e->time_ms ? e->time_ms : now_ms);
  out->n = 0;
  if (cx__buf_add(out, hdr, sizeof hdr)) return CX_ENOMEM;
  for (int i = 0; i < 6; i++) {
    /* Escaped, not refused, when a field is not text (a file name, a user name, a store
     * written before strings were checked): the log stays readable by every reader. */
    int kind = i == 4 ? CX_TEXT_FREE : CX_TEXT_NAME;
    char esc[CX_AUDIT_DETAIL_MAX + 1];
    cx_str s = f[i]->p ? *f[i] : (cx_str){"", 0};
    uint32_t n = cut(s, lim[i]);
    if (cx_text_check(s.p, s.n, kind, NULL)) {
      n = (uint32_t)cx_text_escape(s.p, s.n, kind, esc, lim[i] + 1);
      s.p = esc;
    }
    unsigned char lb[2];
    cx__wr16(lb, (uint16_t)n);
    if (cx__buf_add(out, lb, 2) || cx__buf_add(out, s.p, n)) return CX_ENOMEM;
  }
  return 0;
}

int cx__audit_decode(const void *v, size_t n, cx_audit_entry *out) {
  const unsigned char *p = v, *end = p + n;
  if (n < CX_AUDIT_HDR + 12 || p[0] != CX_AUDIT_VERSION) return CX_ECORRUPT;
  cx_audit_entry e;
  e.seq = 0;
  e.time_ms = cx__rd64(p + 1);
  cx_str *f[6] = {&e.who, &e.role, &e.op, &e.target, &e.detail, &e.client};
  p += CX_AUDIT_HDR;
  for (int i = 0; i < 6; i++) {
    if (end - p < 2) return CX_ECORRUPT;
    uint16_t len = cx__rd16(p);
    p += 2;
    if ((size_t)(end - p) < len) return CX_ECORRUPT;
    *f[i] = (cx_str){(const char *)p, len};
    p += len;
  }
  if (p != end) return CX_ECORRUPT;
  *out = e;
  return 0;
}

static uint64_t rd_be64(const unsigned char *p) {
  return (uint64_t)cx__rd_be32(p) << 32 | cx__rd_be32(p + 4);
}
static void be64(unsigned char *p, uint64_t v) {
  cx__be32(p, (uint32_t)(v >> 32));
  cx__be32(p + 4, (uint32_t)v);
}

int cx__audit_write(cx_store *st, MDB_txn *txn, const cx_audit_entry *e, size_t n, int64_t now_ms,
                    cx_buf *tmp) {
  if (!n) return 0;
  MDB_cursor *cur;
  int rc = mdb_cursor_open(txn, st->dbi[CX_DBI_AUDIT], &cur);
  if (rc) return cx__store_mdb_err(st, rc, "audit cursor");
  MDB_val k, v;
  uint64_t seq = 0;
  rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
  if (rc == 0) {
    if (k.mv_size != 8) {
      mdb_cursor_close(cur);
      cx__store_setmsg(st, "audit: key of bad size");
      return CX_ECORRUPT;
    }
    seq = rd_be64(k.mv_data);
  } else if (rc != MDB_NOTFOUND) {
    mdb_cursor_close(cur);
    return cx__store_mdb_err(st, rc, "audit last");
  }
  int err = 0;
  for (size_t i = 0; i < n && !err; i++) {
    unsigned char kb[8];
    be64(kb, ++seq);
    if ((err = encode(&e[i], now_ms, tmp))) break;
    MDB_val kk = {8, kb}, vv = {tmp->n, tmp->p};
    if ((rc = mdb_cursor_put(cur, &kk, &vv, MDB_APPEND))) err = cx__store_mdb_err(st, rc, "audit put");
  }
  mdb_cursor_close(cur);
  return err;
}

int cx_store_audit_append(cx_store *st, const cx_audit_entry *e, size_t n) {
  if (!n) return 0;
  cx_buf tmp = {0};
  int err;
  int64_t now = cx_audit_now_ms();
  for (;;) {
    MDB_txn *txn;
    if ((err = cx__store_wtxn(st, &txn))) break;
    err = cx__audit_write(st, txn, e, n, now, &tmp);
    if (!err) err = cx__store_wtxn_end(st, txn, 1);
    else cx__store_wtxn_end(st, txn, 0);
    if (err == CX_EMAPFULL) {
      int g = cx__store_grow(st);
      if (!g) continue;
      err = g; /* busy (reads held the old map) or no space */
    }
    break;
  }
  cx__buf_free(&tmp);
  return err;
}

int cx_store_audit_each(cx_txn *t, uint64_t from_seq, int64_t since_ms, int64_t until_ms,
                        cx_audit_fn fn, void *ctx) {
  MDB_cursor *cur;
  int own, rc;
  if ((rc = cx__txn_cursor(t, CX_DBI_AUDIT, &cur, &own))) return rc;
  unsigned char kb[8];
  be64(kb, from_seq ? from_seq : 1);
  MDB_val k = {8, kb}, v;
  int err = 0;
  rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  for (; rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    cx_audit_entry e;
    if (k.mv_size != 8 || cx__audit_decode(v.mv_data, v.mv_size, &e)) {
      err = CX_ECORRUPT;
      break;
    }
    e.seq = rd_be64(k.mv_data);
    if (e.time_ms < since_ms || (until_ms && e.time_ms >= until_ms)) continue;
    int r = fn(ctx, &e);
    if (r) {
      err = r < 0 ? r : 0;
      break;
    }
  }
  if (!err && rc && rc != MDB_NOTFOUND) err = cx__store_mdb_err(t->st, rc, "audit next");
  cx__txn_cursor_done(t, CX_DBI_AUDIT, cur, own);
  return err;
}

int cx_store_audit_last(cx_txn *t, uint64_t *seq) {
  MDB_cursor *cur;
  int own, rc;
  if ((rc = cx__txn_cursor(t, CX_DBI_AUDIT, &cur, &own))) return rc;
  MDB_val k, v;
  rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
  int err = 0;
  if (rc == MDB_NOTFOUND) *seq = 0;
  else if (rc) err = cx__store_mdb_err(t->st, rc, "audit last");
  else if (k.mv_size != 8) err = CX_ECORRUPT;
  else *seq = rd_be64(k.mv_data);
  cx__txn_cursor_done(t, CX_DBI_AUDIT, cur, own);
  return err;
}
