/* restore.c — the restore path's writes beside the batch (store.h "export, restore and the
 * content digest"): the values an export carries that no record gives, written as they were.
 * Used only by `chengxin restore`; records go through a restore batch (cx_batch_set_restore),
 * audit entries through cx_store_audit_append with their original times.
 */
#include "store_int.h"

/* Runs one write txn of fn, growing the map and retrying on MDB_MAP_FULL. */
static int in_wtxn(cx_store *st, int (*fn)(cx_store *, MDB_txn *, const void *, size_t),
                   const void *items, size_t n) {
  if (st->read_only) {
    cx__store_setmsg(st, "store opened read-only");
    return CX_EROFS;
  }
  int err;
  for (;;) {
    MDB_txn *txn;
    if ((err = cx__store_wtxn(st, &txn))) return err;
    err = fn(st, txn, items, n);
    if (!err) err = cx__store_wtxn_end(st, txn, 1);
    else cx__store_wtxn_end(st, txn, 0);
    if (err != CX_EMAPFULL) return err;
    if ((err = cx__store_grow(st))) return err;
  }
}

static int entities_txn(cx_store *st, MDB_txn *txn, const void *items, size_t n) {
  const cx_restore_entity *e = items;
  cx_buf b = {0};
  int err = 0;
  for (size_t i = 0; i < n && !err; i++) {
    MDB_val k = {CX_CODE_LEN, (void *)e[i].code}, v;
    int rc = mdb_get(txn, st->dbi[CX_DBI_SUMMARY], &k, &v);
    if (rc == MDB_NOTFOUND) {
      cx__store_setmsg(st, "entity %zu: no record of this entity was restored", i);
      err = CX_ENOTFOUND;
      break;
    }
    if (rc) { err = cx__store_mdb_err(st, rc, "summary get"); break; }
    if (v.mv_size < CX_SUM_HDR) { err = CX_ECORRUPT; break; }
    /* v points into the map: copy before the put */
    b.n = 0;
    if (cx__buf_add(&b, v.mv_data, v.mv_size)) { err = CX_ENOMEM; break; }
    cx__wr32(b.p + CX_SUM_LASTUPD, e[i].last_update);
    MDB_val nv = {b.n, b.p};
    if ((rc = mdb_put(txn, st->dbi[CX_DBI_SUMMARY], &k, &nv, 0))) err = cx__store_mdb_err(st, rc, "summary put");
  }
  cx__buf_free(&b);
  return err;
}

int cx_store_restore_entities(cx_store *st, const cx_restore_entity *e, size_t n) {
  return n ? in_wtxn(st, entities_txn, e, n) : 0;
}

static int authorities_txn(cx_store *st, MDB_txn *txn, const void *items, size_t n) {
  const cx_restore_authority *a = items;
  cx_buf b = {0};
  int err = 0;
  for (size_t i = 0; i < n && !err; i++) {
    uint32_t id;
    if (a[i].name.n > CX_MAX_AUTH_NAME || cx_text_check(a[i].name.p, a[i].name.n, CX_TEXT_NAME, NULL)) {
      cx__store_setmsg(st, "authority %zu: name: not a name of at most 512 bytes", i);
      err = CX_EBADREQ;
      break;
    }
    if ((err = cx__authority_find(st, txn, a[i].code, &id))) {
      if (err == CX_ENOTFOUND) cx__store_setmsg(st, "authority %zu: no record of this authority was restored", i);
      break;
    }
    unsigned char kb[5] = {'i'};
    cx__be32(kb + 1, id);
    b.n = 0;
    if (cx__buf_add(&b, a[i].code.p, a[i].code.n) || cx__buf_add(&b, "", 1) ||
        cx__buf_add(&b, a[i].name.p, a[i].name.n)) {
      err = CX_ENOMEM;
      break;
    }
    MDB_val k = {5, kb}, v = {b.n, b.p};
    int rc = mdb_put(txn, st->dbi[CX_DBI_AUTHORITIES], &k, &v, 0);
    if (rc) err = cx__store_mdb_err(st, rc, "authority put");
  }
  cx__buf_free(&b);
  return err;
}

int cx_store_restore_authorities(cx_store *st, const cx_restore_authority *a, size_t n) {
  return n ? in_wtxn(st, authorities_txn, a, n) : 0;
}
