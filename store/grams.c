/*
 * grams.c — the keyword index (grams DB): every character bigram of an entity's normalised
 * name -> the entity id. Kept by cx__summary_rebuild in the batch txn beside the names DB;
 * read by cx_query_search for "contains" matches (docs/data-model.md "Keyword index").
 *
 * Why bigrams of every character, not CJK bigrams plus Latin words: the promise is that any
 * contiguous part of two or more characters of a normalised name finds the entity, and a word
 * index cannot find "tech" in "hitech" nor "35" in "a350". Names are mostly CJK (a bigram is
 * the natural unit there: no word boundaries); the few Latin/digit runs cost one bigram per
 * character like the CJK ones. A query of k >= 2 characters intersects its k-1 bigram lists
 * and the caller checks the candidate's name (a name holding every bigram need not hold them
 * contiguously).
 *
 * Layout: key = the gram's UTF-8 bytes (two characters, 2..8 bytes); data = entity id as u32
 * big-endian (MDB_DUPSORT | MDB_DUPFIXED: each list is a sorted array of 4-byte ids packed in
 * its own sub-tree, ascending id order = memcmp order of the big-endian bytes).
 */
#include <stdlib.h>

#include "store_int.h"

/* ------------------------------------------------------------------ grams of a name */

static int gram_cmp(const void *a, const void *b) {
  const cx_str *x = a, *y = b;
  uint32_t n = x->n < y->n ? x->n : y->n;
  int c = memcmp(x->p, y->p, n);
  if (c) return c;
  return (x->n > y->n) - (x->n < y->n);
}

size_t cx_name_grams(const char *norm, size_t n, cx_str *out, size_t cap) {
  size_t k = 0, prev = 0, i = 0;
  int have_prev = 0;
  while (i < n && k < cap) {
    uint32_t cp;
    long l = cx_utf8_decode(norm + i, n - i, &cp);
    if (l <= 0) break; /* normalised names are valid UTF-8: stop at anything else */
    if (have_prev) out[k++] = (cx_str){norm + prev, (uint32_t)(i + (size_t)l - prev)};
    prev = i;
    have_prev = 1;
    i += (size_t)l;
  }
  if (k > 1) qsort(out, k, sizeof *out, gram_cmp);
  size_t u = 0;
  for (size_t j = 0; j < k; j++)
    if (u == 0 || !cx_str_eq(out[u - 1], out[j])) out[u++] = out[j];
  return u;
}

/* ------------------------------------------------------------------ maintenance */

int cx__grams_update(cx_store *st, MDB_txn *txn, uint32_t eid, const char *old_norm, size_t old_n,
                     const char *new_norm, size_t new_n) {
  /* a bulk load's rebuild: the new entity's grams are put later, in key order (bulk.c) */
  if (!old_norm && new_norm && cx__bulk_grams_collecting(st)) return cx__bulk_grams_add(st, txn, eid, new_norm, new_n);
  /* A name is at most CX_MAX_ENTITY_NAME bytes, so at most that many grams; both sets sorted. */
  cx_str og[CX_NAME_GRAMS_MAX], ng[CX_NAME_GRAMS_MAX];
  size_t on = old_norm ? cx_name_grams(old_norm, old_n, og, CX_NAME_GRAMS_MAX) : 0;
  size_t nn = new_norm ? cx_name_grams(new_norm, new_n, ng, CX_NAME_GRAMS_MAX) : 0;
  unsigned char id[4];
  cx__be32(id, eid);
  size_t i = 0, j = 0;
  int r;
  while (i < on || j < nn) {
    int c = i >= on ? 1 : j >= nn ? -1 : gram_cmp(&og[i], &ng[j]);
    if (c == 0) { /* in both: unchanged */
      i++, j++;
      continue;
    }
    MDB_val v = {4, id};
    if (c < 0) { /* only in the old name */
      MDB_val k = {og[i].n, (void *)og[i].p};
      r = mdb_del(txn, st->dbi[CX_DBI_GRAMS], &k, &v);
      if (r && r != MDB_NOTFOUND) return cx__store_mdb_err(st, r, "grams del");
      i++;
    } else { /* only in the new name */
      MDB_val k = {ng[j].n, (void *)ng[j].p};
      r = mdb_put(txn, st->dbi[CX_DBI_GRAMS], &k, &v, 0);
      if (r) return cx__store_mdb_err(st, r, "grams put");
      j++;
    }
  }
  return 0;
}

int cx__grams_has(cx_store *st, MDB_cursor *cur, cx_str gram, uint32_t eid) {
  unsigned char id[4];
  cx__be32(id, eid);
  MDB_val k = {gram.n, (void *)gram.p}, v = {4, id};
  int r = mdb_cursor_get(cur, &k, &v, MDB_GET_BOTH);
  if (r == MDB_NOTFOUND) return 0;
  if (r) return cx__store_mdb_err(st, r, "grams get");
  return 1;
}

/* ------------------------------------------------------------------ reads */

int cx_store_gram_count(cx_txn *t, cx_str gram, uint64_t *n) {
  if (!t->st->dbi[CX_DBI_GRAMS] || gram.n == 0) {
    *n = 0;
    return 0;
  }
  MDB_cursor *cur;
  int own, rc;
  if ((rc = cx__txn_cursor(t, CX_DBI_GRAMS, &cur, &own))) return rc;
  MDB_val k = {gram.n, (void *)gram.p}, v;
  size_t c = 0;
  rc = mdb_cursor_get(cur, &k, &v, MDB_SET);
  if (rc == 0) rc = mdb_cursor_count(cur, &c);
  cx__txn_cursor_done(t, CX_DBI_GRAMS, cur, own);
  if (rc && rc != MDB_NOTFOUND) return cx__store_mdb_err(t->st, rc, "grams count");
  *n = rc ? 0 : c;
  return 0;
}

/*
 * Lists are read a page of ids at a time (MDB_GET_MULTIPLE / MDB_NEXT_MULTIPLE on the
 * DUPFIXED sub-tree: a pointer to the page's packed, ascending ids, no copy) and intersected in
 * memory. The driver (grams[0], the shortest) is walked page by page; each other list keeps a
 * window (the page holding the last id looked for) and is searched within it, so that one
 * B-tree descent (MDB_GET_BOTH_RANGE) serves every driver id up to the window's last. Ids only
 * grow, so a window never moves back. A list read to its end ends the walk: no later id can be
 * in every list. The pages stay valid for the read txn (nothing here writes).
 *
 * LMDB's GET_MULTIPLE returns the whole page that holds the cursor (not from the cursor on):
 * the first id wanted is found in it by binary search.
 */
typedef struct id_win {
  const unsigned char *ids; /* big-endian u32 ids, ascending */
  uint32_t n, i;            /* ids[i..n) not yet passed */
  int end;                  /* the list has nothing at or above what was asked */
} id_win;

static uint32_t win_id(const id_win *w, uint32_t i) { return cx__rd_be32(w->ids + 4 * (size_t)i); }

/* The first index in w at or above id, from w->i on. */
static uint32_t win_lower(const id_win *w, uint32_t id) {
  uint32_t lo = w->i, hi = w->n;
  while (lo < hi) {
    uint32_t mid = lo + (hi - lo) / 2;
    if (win_id(w, mid) < id) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/* Loads into w the page of gram's list holding its first id >= id. 0, or < 0 on error. */
static int win_seek(cx_store *st, MDB_cursor *cur, cx_str gram, uint32_t id, id_win *w) {
  unsigned char b[4];
  cx__be32(b, id);
  MDB_val k = {gram.n, (void *)gram.p}, v = {4, b};
  int r = mdb_cursor_get(cur, &k, &v, MDB_GET_BOTH_RANGE);
  if (r == 0) r = mdb_cursor_get(cur, &k, &v, MDB_GET_MULTIPLE);
  if (r == MDB_NOTFOUND) {
    *w = (id_win){NULL, 0, 0, 1};
    return 0;
  }
  if (r) return cx__store_mdb_err(st, r, "grams seek");
  if (v.mv_size % 4 || v.mv_size == 0) return CX_ECORRUPT;
  *w = (id_win){v.mv_data, (uint32_t)(v.mv_size / 4), 0, 0};
  w->i = win_lower(w, id);
  if (w->i == w->n) w->end = 1; /* GET_BOTH_RANGE found an id >= id: it must be here */
  return w->end ? CX_ECORRUPT : 0;
}

/* Whether id is in the list behind w (moving w forward); -1 when the list has nothing >= id. */
static int win_has(cx_store *st, MDB_cursor *cur, cx_str gram, uint32_t id, id_win *w, int *err) {
  if (w->end) return -1;
  if (w->n == 0 || win_id(w, w->n - 1) < id) { /* past this page: one descent */
    if ((*err = win_seek(st, cur, gram, id, w))) return 0;
    if (w->end) return -1;
  } else {
    w->i = win_lower(w, id);
  }
  return win_id(w, w->i) == id;
}

int cx_store_grams_each(cx_txn *t, const cx_str *grams, uint32_t n, uint32_t after,
                        uint32_t budget, cx_gram_walk *w, cx_gram_fn fn, void *ctx) {
  if (!grams || n == 0 || n > CX_GRAMS_AND_MAX || !w) return CX_EBADREQ;
  w->visited = 0;
  w->last = after;
  w->done = 0;
  if (!t->st->dbi[CX_DBI_GRAMS] || after == UINT32_MAX) {
    w->done = 1;
    return 0;
  }
  cx_store *st = t->st;
  MDB_cursor *cur, *probe = NULL;
  int own, pown = 0, rc, err = 0;
  if ((rc = cx__txn_cursor(t, CX_DBI_GRAMS, &cur, &own))) return rc;
  if (n > 1 && (rc = cx__txn_cursor(t, CX_CUR_GRAMS_PROBE, &probe, &pown))) {
    cx__txn_cursor_done(t, CX_DBI_GRAMS, cur, own);
    return rc;
  }
  id_win others[CX_GRAMS_AND_MAX];
  memset(others, 0, sizeof others);
  id_win d;
  /* ids begin at 1: after 0 is the start */
  if ((err = win_seek(st, cur, grams[0], after + 1u, &d))) goto out;
  int ended = d.end; /* the driver, or another list, has nothing more */
  while (!ended && !err) {
    for (; d.i < d.n; d.i++) {
      if (w->visited >= budget) goto out; /* not done: w->last is where the next call resumes */
      uint32_t eid = win_id(&d, d.i);
      w->visited++;
      w->last = eid;
      int all = 1;
      for (uint32_t g = 1; g < n && all; g++) {
        int h = win_has(st, probe, grams[g], eid, &others[g], &err);
        if (err) goto out;
        if (h < 0) { /* list g ends below eid: nothing further can be in all of them */
          ended = 1;
          all = 0;
        } else if (!h) {
          all = 0;
        }
      }
      if (ended) break;
      if (all) {
        int x = fn(ctx, eid);
        if (x < 0) {
          err = x;
          goto out;
        }
        if (x > 0) { /* stopped by fn: not done */
          d.i++;
          goto out;
        }
      }
    }
    if (ended) break;
    /* the driver's next page; its cursor sits on the last id of the one just read */
    MDB_val k = {grams[0].n, (void *)grams[0].p}, v;
    int r = mdb_cursor_get(cur, &k, &v, MDB_NEXT_MULTIPLE);
    if (r == MDB_NOTFOUND) {
      ended = 1;
    } else if (r) {
      err = cx__store_mdb_err(st, r, "grams walk");
    } else if (v.mv_size % 4 || v.mv_size == 0) {
      err = CX_ECORRUPT;
    } else {
      d = (id_win){v.mv_data, (uint32_t)(v.mv_size / 4), 0, 0};
    }
  }
  if (!err && ended) w->done = 1;
out:
  if (probe) cx__txn_cursor_done(t, CX_CUR_GRAMS_PROBE, probe, pown);
  cx__txn_cursor_done(t, CX_DBI_GRAMS, cur, own);
  return err;
}
