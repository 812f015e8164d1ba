/* logseq.c — the replicated log's position in the store (meta "log_seq").
 *
 * A node that follows a replicated log (chengxind --log, net/replog.c) applies message n of
 * the stream in one batch whose write txn also stores n here (cx_batch_set_log_seq, batch.c),
 * so the store and its position in the log change together: after a crash the node resumes at
 * the message after the stored one and applies every message exactly once. A message whose
 * batch the store refuses (the same refusal on every node: the application is deterministic)
 * still moves the position, in a txn of its own (cx_store_set_log_seq).
 * The value is a u64, big-endian; a store that never followed a log has no key (0).
 */
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
