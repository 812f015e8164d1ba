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

/* A keyword-index entry of the rebuild: the gram zero-padded (a gram is two characters of a
 * normalised name, at most 8 bytes of UTF-8 and no NUL, so the padding keeps LMDB's key order:
 * a shorter prefix first), then the entity id big-endian: memcmp order is the grams DB's. */
#define BULK_GRAM_KEY 12
typedef struct bgram {
  unsigned char k[BULK_GRAM_KEY];
  unsigned char id[4];
} bgram;
/* Grams put per sorted pass: 2M entries, 32 MiB (a 10M-record store has ~15M grams). */
#define BULK_GRAMS_CHUNK ((size_t)2 << 20)

struct cx_bulk {
  cx_hmap ents;    /* entity code (18 bytes) -> entity id: summaries to rebuild at the commit */
  bgram *g;        /* the rebuild's grams not yet put (collecting) */
  size_t ng;
  int collecting;  /* in the rebuild: new names' grams go to g, put in key order per chunk */
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
  cx_free(b->g);
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

int cx__bulk_grams_collecting(const cx_store *st) { return st->bulk_load && st->bulk_load->collecting; }

/* Puts the collected grams in key order: the cursor goes through the grams DB once per chunk
 * instead of once per gram (7 % of a 1M-record bulk load's CPU went to the rebuild's random
 * gram puts, perf). */
static int grams_flush(cx_store *st, MDB_txn *txn) {
  cx_bulk *b = st->bulk_load;
  if (!b->ng) return 0;
  int err = cx__radix_sort(b->g, b->ng, sizeof *b->g, sizeof *b->g);
  if (err) return err;
  MDB_cursor *cur;
  int r = mdb_cursor_open(txn, st->dbi[CX_DBI_GRAMS], &cur);
  if (r) return cx__store_mdb_err(st, r, "cursor");
  for (size_t i = 0; i < b->ng; i++) {
    MDB_val k = {strnlen((const char *)b->g[i].k, BULK_GRAM_KEY), b->g[i].k}, v = {4, b->g[i].id};
    if ((r = mdb_cursor_put(cur, &k, &v, 0))) {
      err = cx__store_mdb_err(st, r, "grams put");
      break;
    }
    if ((i & 16383) == 16383) cx__store_trim(st);
  }
  mdb_cursor_close(cur);
  b->ng = 0;
  return err;
}

int cx__bulk_grams_add(cx_store *st, MDB_txn *txn, uint32_t eid, const char *norm, size_t n) {
  cx_bulk *b = st->bulk_load;
  cx_str g[CX_NAME_GRAMS_MAX];
  size_t k = cx_name_grams(norm, n, g, CX_NAME_GRAMS_MAX);
  if (!b->g && !(b->g = cx_malloc(BULK_GRAMS_CHUNK * sizeof *b->g))) return CX_ENOMEM;
  for (size_t i = 0; i < k; i++) {
    if (g[i].n > BULK_GRAM_KEY || memchr(g[i].p, 0, g[i].n)) { /* cannot be padded: put now */
      unsigned char id[4];
      cx__be32(id, eid);
      MDB_val kv = {g[i].n, (void *)g[i].p}, v = {4, id};
      int r = mdb_put(txn, st->dbi[CX_DBI_GRAMS], &kv, &v, 0);
      if (r) return cx__store_mdb_err(st, r, "grams put");
      continue;
    }
    if (b->ng == BULK_GRAMS_CHUNK) {
      int err = grams_flush(st, txn);
      if (err) return err;
    }
    bgram *e = &b->g[b->ng++];
    memset(e->k, 0, sizeof e->k);
    memcpy(e->k, g[i].p, g[i].n);
    cx__be32(e->id, eid);
  }
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
  b->collecting = 1;
  for (size_t i = 0; !err && i < n; i++) {
    int changed;
    err = cx__summary_rebuild(st, txn, &sb, rc, sc, v[i].eid, v[i].code, today, &changed);
    if ((i & 4095) == 4095) cx__store_trim(st);
  }
  b->collecting = 0;
  if (!err) err = grams_flush(st, txn);
  b->ng = 0;
  cx_free(b->g);
  b->g = NULL;
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
