/* logseq.c — the replicated log's position in the store (meta "log_seq").
 *
 * A node that follows a replicated log (chengxind --log, net/replog.c) applies message n of
 * the stream in one batch whose write txn also stores n here (cx_batch_set_log_seq, batch.c),
 * so the store and its position in the log change together: after a crash the node resumes at
 * the message after the stored one and applies every message exactly once. A message whose
 * batch the store refuses (the same refusal on every node: the application is deterministic)
 * still moves the position, in a txn of its own (cx_store_set_log_seq).
 * The value is a u64, big-endian; a store that never followed a log has no key (0).
 *
 * The marker meta "log_stream" (the stream's name, set once: cx_store_set_log_stream, when
 * chengxind starts with --log or by `chengxin init --follows NAME`) says the store follows that
 * stream from the start: a store at position 0 refuses writes that bypass the log too (a node
 * that has applied nothing yet cannot drift before it follows), and a server started against
 * another stream is refused (the store would mix two histories).
 */
#include <stdio.h>

#include "store_int.h"

int cx__meta_get64(cx_store *st, MDB_txn *txn, const char *name, uint64_t *v) {
  MDB_val k = {strlen(name), (void *)name}, d;
  int rc = mdb_get(txn, st->dbi[CX_DBI_META], &k, &d);
  if (rc == MDB_NOTFOUND) return CX_ENOTFOUND;
  if (rc) return cx__store_mdb_err(st, rc, name);
  if (d.mv_size != 8) {
    cx__store_setmsg(st, "meta %s: bad size", name);
    return CX_ECORRUPT;
  }
  const unsigned char *p = d.mv_data;
  uint64_t x = 0;
  for (int i = 0; i < 8; i++) x = x << 8 | p[i];
  *v = x;
  return 0;
}

int cx__meta_put64(cx_store *st, MDB_txn *txn, const char *name, uint64_t v) {
  unsigned char b[8];
  for (int i = 7; i >= 0; i--, v >>= 8) b[i] = (unsigned char)v;
  MDB_val k = {strlen(name), (void *)name}, d = {8, b};
  int rc = mdb_put(txn, st->dbi[CX_DBI_META], &k, &d, 0);
  return rc ? cx__store_mdb_err(st, rc, name) : 0;
}

int cx_store_log_seq(cx_store *st, uint64_t *seq) {
  MDB_txn *txn;
  int rc = cx__store_rtxn(st, &txn);
  if (rc) return rc;
  uint64_t v = 0;
  rc = cx__meta_get64(st, txn, "log_seq", &v);
  cx__store_rtxn_end(st, txn);
  if (rc == CX_ENOTFOUND) v = 0, rc = 0;
  if (!rc) *seq = v;
  return rc;
}

int cx_store_set_log_seq(cx_store *st, uint64_t seq) {
  if (!seq) return CX_EBADREQ;
  for (;;) {
    MDB_txn *txn;
    int rc = cx__store_wtxn(st, &txn);
    if (rc) return rc;
    uint64_t have = 0;
    rc = cx__meta_get64(st, txn, "log_seq", &have);
    if (rc == CX_ENOTFOUND) rc = 0;
    if (!rc && have >= seq) {
      cx__store_setmsg(st, "log sequence %llu is applied already (the store is at %llu)",
                       (unsigned long long)seq, (unsigned long long)have);
      rc = CX_EEXIST;
    }
    if (!rc) rc = cx__meta_put64(st, txn, "log_seq", seq);
    if (rc) {
      cx__store_wtxn_end(st, txn, 0);
      if (rc == CX_EMAPFULL && (rc = cx__store_grow(st)) == 0) continue;
      return rc;
    }
    return cx__store_wtxn_end(st, txn, 1);
  }
}

int cx__store_follows(cx_store *st, MDB_txn *txn) {
  MDB_val k = {10, (void *)"log_stream"}, d;
  return mdb_get(txn, st->dbi[CX_DBI_META], &k, &d) == 0;
}

int cx_store_log_stream(cx_store *st, char *out, size_t cap) {
  MDB_txn *txn;
  int rc = cx__store_rtxn(st, &txn);
  if (rc) return rc;
  MDB_val k = {10, (void *)"log_stream"}, d;
  int m = mdb_get(txn, st->dbi[CX_DBI_META], &k, &d);
  if (m == 0 && cap) snprintf(out, cap, "%.*s", (int)d.mv_size, (const char *)d.mv_data);
  else if (m == MDB_NOTFOUND && cap) out[0] = 0;
  else rc = cx__store_mdb_err(st, m, "log_stream");
  cx__store_rtxn_end(st, txn);
  return rc;
}

int cx_store_set_log_stream(cx_store *st, const char *name) {
  size_t n = name ? strlen(name) : 0;
  if (!n || n > CX_LOG_STREAM_MAX) return CX_EBADREQ;
  for (;;) {
    MDB_txn *txn;
    int rc = cx__store_wtxn(st, &txn);
    if (rc) return rc;
    MDB_val k = {10, (void *)"log_stream"}, d;
    int m = mdb_get(txn, st->dbi[CX_DBI_META], &k, &d);
    if (m == 0) {
      int same = d.mv_size == n && memcmp(d.mv_data, name, n) == 0;
      if (!same)
        cx__store_setmsg(st, "this store follows stream %.*s, not %s", (int)d.mv_size,
                         (const char *)d.mv_data, name);
      cx__store_wtxn_end(st, txn, 0);
      return same ? 0 : CX_EEXIST;
    }
    if (m != MDB_NOTFOUND) {
      rc = cx__store_mdb_err(st, m, "log_stream");
      cx__store_wtxn_end(st, txn, 0);
      return rc;
    }
    d.mv_size = n;
    d.mv_data = (void *)name;
    m = mdb_put(txn, st->dbi[CX_DBI_META], &k, &d, 0);
    if (m) {
      rc = cx__store_mdb_err(st, m, "log_stream");
      cx__store_wtxn_end(st, txn, 0);
      if (rc == CX_EMAPFULL && (rc = cx__store_grow(st)) == 0) continue;
      return rc;
    }
    return cx__store_wtxn_end(st, txn, 1);
  }
}
