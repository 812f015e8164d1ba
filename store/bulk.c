/* bulk.c — the bulk load (cx_store_bulk_begin): the batches of a large import written into
 * one flat write txn, the summaries built once at its end.
 *
 * Why (issue 20, goal 1): a commit per batch copies and writes every page the batch touched,
 * and the keys of refs, summaries, names, grams and rollups spread over their whole B-trees:
 * at 10M records each 100000-row batch rewrote most of those trees (99 GB written for a
 * 6.8 GB store). Load mode's child txns (store.c) write a page once but copy it in memory for
 * every batch that touches it, and cannot spill. Here every batch runs in the load txn itself,
 * in bulk mode (MDB_WRITEMAP): a page is copied the first time the load touches it and written
 * in place afterwards, LMDB spills dirty pages without a copy (they are the map's own), and the
 * process keeps only what cx_store_trim_map leaves of the map. A batch still reads what the
 * batches before it wrote (refs, records, entities: the same txn), so duplicates, replacements
 * and moves across batches are found as by the row path.
 *
 * Summaries are deferred: a summary is a function of the entity's records (plus last_update,
 * the day of the rebuild), so instead of rebuilding an entity's summary in every batch that
 * touches it (an entity with records in k batches was rebuilt k times, reading all its records
 * each time), the batch records the entity here (code -> id) and the load commit rebuilds each
 * one once, in code order, from its records, with the same cx__summary_rebuild the row path
 * runs. The table also stands in for the summary lookup by which a batch finds an entity
 * created by an earlier batch of the load (batch.c, ent_resolve).
 *
 * Crash safety: nothing reaches the meta page before the load commit. The commit rebuilds the
 * summaries, syncs the map (every page of the load is on disk), commits (the meta page points
 * at them) and syncs again: a crash before leaves the store as it was (for a new store:
 * empty), after, the whole load. A batch that fails aborts the whole load txn: the load commit
 * then returns its code and nothing of the load is written (the import reports every row of it
 * as not written).
 */
#include <stdio.h>
#include <stdlib.h>

#include "store_int.h"

struct cx_bulk {
  cx_hmap ents;    /* entity code (18 bytes) -> entity id: summaries to rebuild at the commit */
  cx_day today;    /* the day of the last batch: the rebuilt summaries' last_update */
  int failed;      /* a batch failed and the load txn was aborted: its code (0: none) */
  int committing;  /* cx__bulk_commit is ending the load txn itself */
};

int cx_store_bulk_begin(cx_store *st) {
  if (st->read_only) {
    cx__store_setmsg(st, "store opened read-only");
    return CX_EROFS;
  }
  if (!st->bulk) {
    cx__store_setmsg(st, "bulk load: the store must be opened in bulk mode (cx_store_opts.bulk: MDB_WRITEMAP)");
    return CX_EBADREQ;
  }
  if (st->bulk_load) return 0;
  if (st->load || st->load_txn) {
    cx__store_setmsg(st, "bulk load: the handle is in load mode already");
    return CX_EBADREQ;
  }
  cx_bulk *b = cx_calloc(1, sizeof *b);
  if (!b) return CX_ENOMEM;
  st->bulk_load = b;
  st->load = 1;
  return 0;
}

int cx_store_bulk_active(const cx_store *st) { return st->bulk_load != NULL; }

void cx__bulk_free(cx_store *st) {
  cx_bulk *b = st->bulk_load;
  if (!b) return;
  cx__hmap_free(&b->ents);
  cx_free(b);
  st->bulk_load = NULL;
}

int cx__bulk_check(cx_store *st) {
  cx_bulk *b = st->bulk_load;
  if (b->failed) {
    cx__store_setmsg(st, "bulk load: an earlier batch failed, nothing of this load is written");
    return b->failed;
  }
  return 0;
}

int cx__bulk_owns_end(const cx_store *st) { return st->bulk_load->committing; }

void cx__bulk_fail(cx_store *st, int err) {
  cx_bulk *b = st->bulk_load;
  if (!b->failed) b->failed = err ? err : CX_EIO;
  cx__hmap_clear(&b->ents);
}

int cx__bulk_ent_find(cx_store *st, const char code[CX_CODE_LEN], uint32_t *eid) {
  uint32_t *v = cx__hmap_get(&st->bulk_load->ents, code, CX_CODE_LEN);
  if (!v) return CX_ENOTFOUND;
  *eid = *v;
  return 0;
}

int cx__bulk_ent_defer(cx_store *st, const char code[CX_CODE_LEN], uint32_t eid, cx_day today) {
  cx_bulk *b = st->bulk_load;
  int found;
  uint32_t *v = cx__hmap_put(&b->ents, code, CX_CODE_LEN, &found);
  if (!v) return CX_ENOMEM;
  *v = eid;
  if (today) b->today = today;
  return 0;
}

/* An entity whose summary the commit rebuilds (sorted by code: the summary DB's order). */
typedef struct bent {
  char code[CX_CODE_LEN];
  uint32_t eid;
} bent;

/* Rebuilds the deferred summaries in code order (the puts land on the summary DB's pages in
 * order; each entity's records are one range of the records DB). */
static int rebuild(cx_store *st, MDB_txn *txn) {
  cx_bulk *b = st->bulk_load;
  size_t n = 0;
  bent *v = cx_malloc((b->ents.count ? b->ents.count : 1) * sizeof *v);
  if (!v) return CX_ENOMEM;
  for (size_t j = 0; j < b->ents.cap; j++) {
    const cx_hent *e = &b->ents.e[j];
    if (!e->k) continue;
    memcpy(v[n].code, e->k, CX_CODE_LEN);
    v[n++].eid = e->v;
  }
  cx_day today = b->today ? b->today : cx_day_today();
  cx__hmap_free(&b->ents); /* its memory back before the rebuild's */
  int err = cx__radix_sort(v, n, sizeof *v, CX_CODE_LEN);
  MDB_cursor *rc = NULL, *sc = NULL;
  cx_sumb sb;
  memset(&sb, 0, sizeof sb);
  int r;
  if (!err && ((r = mdb_cursor_open(txn, st->dbi[CX_DBI_RECORDS], &rc)) ||
               (r = mdb_cursor_open(txn, st->dbi[CX_DBI_SUMMARY], &sc))))
    err = cx__store_mdb_err(st, r, "cursor");
  for (size_t i = 0; !err && i < n; i++) {
    int changed;
    err = cx__summary_rebuild(st, txn, &sb, rc, sc, v[i].eid, v[i].code, today, &changed);
    if ((i & 4095) == 4095) cx__store_trim(st);
  }
  if (sc) mdb_cursor_close(sc);
  if (rc) mdb_cursor_close(rc);
  cx__sumb_free(&sb);
  cx_free(v);
  cx__store_trim(st);
  return err;
}

int cx__bulk_commit(cx_store *st) {
  cx_bulk *b = st->bulk_load;
  if (b->failed) {
    int e = b->failed;
    b->failed = 0; /* the next write begins a new load */
    cx__store_setmsg(st, "bulk load: a batch failed, nothing of this load was written");
    return e;
  }
  if (!st->load_txn) return 0;
  MDB_txn *txn = st->load_txn;
  int err = rebuild(st, txn);
  /* Every page of the load on disk before the meta page points at them. */
  int rc = err ? 0 : mdb_env_sync(st->env, 1);
  if (rc) err = cx__store_mdb_err(st, rc, "sync");
  b->committing = 1;
  int e2 = cx__store_wtxn_end(st, txn, err ? 0 : 1);
  b->committing = 0;
  if (!err && e2) err = e2;
  if (!err && (rc = mdb_env_sync(st->env, 1))) err = cx__store_mdb_err(st, rc, "sync");
  cx__hmap_clear(&b->ents);
  b->today = 0;
  return err;
}

void cx_store_bulk_abort(cx_store *st) {
  cx_bulk *b = st->bulk_load;
  if (!b) return;
  if (st->load_txn) {
    b->committing = 1;
    cx__store_wtxn_end(st, st->load_txn, 0);
    b->committing = 0;
  }
  b->failed = 0;
  b->today = 0;
  cx__hmap_clear(&b->ents);
}
