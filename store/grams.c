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
 * The driver (grams[0]) is walked with MDB_NEXT_DUP: a step within a leaf page of packed ids.
 * Each id is probed in the other lists with MDB_GET_BOTH on a second cursor (one B-tree
 * descent per list). Callers put the shortest list first, so the walk is as short as the
 * smallest list allows; a leapfrog over several cursors would save little here, because the
 * lists a query's bigrams give are mostly nested (a rare bigram's entities hold the common ones).
 */
int cx_store_grams_each(cx_txn *t, const cx_str *grams, uint32_t n, uint32_t after,
                        uint32_t budget, cx_gram_walk *w, cx_gram_fn fn, void *ctx) {
  if (!grams || n == 0 || n > CX_GRAMS_AND_MAX || !w) return CX_EBADREQ;
  w->visited = 0;
  w->last = after;
  w->done = 0;
  if (!t->st->dbi[CX_DBI_GRAMS]) {
    w->done = 1;
    return 0;
  }
  MDB_cursor *cur, *probe = NULL;
  int own, pown = 0, rc, err = 0;
  if ((rc = cx__txn_cursor(t, CX_DBI_GRAMS, &cur, &own))) return rc;
  if (n > 1 && (rc = cx__txn_cursor(t, CX_CUR_GRAMS_PROBE, &probe, &pown))) {
    cx__txn_cursor_done(t, CX_DBI_GRAMS, cur, own);
    return rc;
  }
  unsigned char id[4];
  MDB_val k = {grams[0].n, (void *)grams[0].p}, v;
  if (after == UINT32_MAX) {
    rc = MDB_NOTFOUND;
  } else {
    cx__be32(id, after + 1u); /* ids begin at 1: after 0 is the start */
    v = (MDB_val){4, id};
    rc = mdb_cursor_get(cur, &k, &v, MDB_GET_BOTH_RANGE);
  }
  while (rc == 0) {
    if (v.mv_size != 4) {
      err = CX_ECORRUPT;
      break;
    }
    if (w->visited >= budget) break; /* not done: w->last is where the next call resumes */
    uint32_t eid = cx__rd_be32(v.mv_data);
    w->visited++;
    w->last = eid;
    int all = 1;
    for (uint32_t g = 1; g < n && all; g++) {
      unsigned char pb[4];
      cx__be32(pb, eid);
      MDB_val pk = {grams[g].n, (void *)grams[g].p}, pv = {4, pb};
      int pr = mdb_cursor_get(probe, &pk, &pv, MDB_GET_BOTH);
      if (pr == MDB_NOTFOUND) all = 0;
      else if (pr) {
        err = cx__store_mdb_err(t->st, pr, "grams probe");
        break;
      }
    }
    if (err) break;
    if (all) {
      int x = fn(ctx, eid);
      if (x < 0) {
        err = x;
        break;
      }
      if (x > 0) break;
    }
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT_DUP);
  }
  if (!err && rc == MDB_NOTFOUND) w->done = 1;
  else if (!err && rc) err = cx__store_mdb_err(t->st, rc, "grams walk");
  if (probe) cx__txn_cursor_done(t, CX_CUR_GRAMS_PROBE, probe, pown);
  cx__txn_cursor_done(t, CX_DBI_GRAMS, cur, own);
  return err;
}
