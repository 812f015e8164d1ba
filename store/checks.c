/*
 * checks.c — the check log and its rollup (layouts in store_int.h; semantics in store.h
 * "check log"). The log is written by one writer (the server's check-log writer, in batches of
 * what its loops queued) and by feedback; reads are point lookups by receipt and walks of the
 * rollup, never of the log (pruning walks its oldest end only).
 */
#include <stdlib.h>

#include <stdio.h>

#include "store_int.h"

const char *const cx_outcome_names[CX_OUT_COUNT] = {"", "restricted", "approved_after_review", "approved"};

static void be64(unsigned char *p, uint64_t v) {
  cx__be32(p, (uint32_t)(v >> 32));
  cx__be32(p + 4, (uint32_t)v);
}

static int encode(const cx_check_entry *e, cx_buf *b) {
  const cx_str *s[3] = {&e->who, &e->fb_who, &e->note};
  size_t n = CX_CHK_HDR;
  for (int i = 0; i < 3; i++) n += 2 + (s[i]->n > 0xFFFF ? 0xFFFF : s[i]->n);
  b->n = 0;
  if (cx__buf_reserve(b, n)) return CX_ENOMEM;
  unsigned char *p = b->p;
  memset(p, 0, CX_CHK_HDR);
  p[0] = CX_CHK_VERSION;
  p[1] = e->action;
  p[2] = e->verdict;
  p[3] = e->kind;
  p[4] = e->outcome;
  cx__wr16(p + 6, e->n_restrict);
  cx__wr16(p + 8, e->n_advisory);
  cx__wr32(p + 12, e->region);
  cx__wr32(p + 16, e->authority_id);
  cx__wr64(p + 20, e->time_ms);
  cx__wr64(p + 28, e->fb_time_ms);
  cx__wr32(p + 36, e->day);
  memcpy(p + 40, e->code, CX_CODE_LEN);
  size_t o = CX_CHK_HDR;
  for (int i = 0; i < 3; i++) {
    uint16_t l = (uint16_t)(s[i]->n > 0xFFFF ? 0xFFFF : s[i]->n);
    cx__wr16(p + o, l);
    if (l) memcpy(p + o + 2, s[i]->p, l);
    o += 2u + l;
  }
  b->n = o;
  return 0;
}

static int decode(const void *v, size_t n, cx_check_entry *e) {
  const unsigned char *p = v, *end = p + n;
  if (n < CX_CHK_HDR || p[0] != CX_CHK_VERSION || p[4] >= CX_OUT_COUNT) return CX_ECORRUPT;
  e->action = p[1];
  e->verdict = p[2];
  e->kind = p[3];
  e->outcome = p[4];
  e->n_restrict = cx__rd16(p + 6);
  e->n_advisory = cx__rd16(p + 8);
  e->region = cx__rd32(p + 12);
  e->authority_id = cx__rd32(p + 16);
  e->time_ms = cx__rd64(p + 20);
  e->fb_time_ms = cx__rd64(p + 28);
  e->day = cx__rd32(p + 36);
  memcpy(e->code, p + 40, CX_CODE_LEN);
  cx_str *s[3] = {&e->who, &e->fb_who, &e->note};
  p += CX_CHK_HDR;
  for (int i = 0; i < 3; i++) {
    if (end - p < 2) return CX_ECORRUPT;
    uint16_t l = cx__rd16(p);
    p += 2;
    if (end - p < l) return CX_ECORRUPT;
    *s[i] = (cx_str){(const char *)p, l};
    p += l;
  }
  return p == end ? 0 : CX_ECORRUPT;
}

static void roll_key(const cx_check_entry *e, unsigned char k[CX_CHKR_KEY]) {
  /* a flush's entries share a few days: the month of the last one is kept (per thread) */
  static _Thread_local cx_day last_day;
  static _Thread_local uint16_t last_month;
  static _Thread_local int have;
  if (!have || e->day != last_day) {
    last_month = (uint16_t)cx_day_month(e->day);
    last_day = e->day;
    have = 1;
  }
  cx__be16(k, last_month);
  k[2] = e->action;
  k[3] = e->verdict;
  cx__be32(k + 4, e->region);
  cx__be32(k + 8, e->authority_id);
}

/* One entry's share of its rollup cell, for append_fn's merge. */
typedef struct roll_delta {
  unsigned char k[CX_CHKR_KEY];
  int64_t d[4];
} roll_delta;
static int roll_delta_cmp(const void *a, const void *b) {
  return memcmp(((const roll_delta *)a)->k, ((const roll_delta *)b)->k, CX_CHKR_KEY);
}

/* Adds each delta of rd (in key order) to its cell: one cursor walks the cells, so that a key on
 * the page it stands on is found there instead of by a descent from the root, and a cell that
 * exists is overwritten where it is (a get and a put per cell were 60 % of a flush). */
static int roll_apply(cx_store *st, MDB_txn *txn, const roll_delta *rd, size_t nd) {
  if (!nd) return 0;
  MDB_cursor *cur;
  int rc = mdb_cursor_open(txn, st->dbi[CX_DBI_CHECKROLL], &cur);
  if (rc) return cx__store_mdb_err(st, rc, "check rollup cursor");
  int err = 0;
  for (size_t i = 0; i < nd && !err; i++) {
    unsigned char vb[CX_CHKR_VAL];
    MDB_val k = {CX_CHKR_KEY, (void *)rd[i].k}, v;
    int64_t c[4] = {0, 0, 0, 0};
    unsigned flag = 0;
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_KEY);
    if (rc == 0 && v.mv_size == CX_CHKR_VAL) {
      for (int j = 0; j < 4; j++) c[j] = cx__rd64((const unsigned char *)v.mv_data + 8 * j);
      flag = MDB_CURRENT;
    } else if (rc == 0) {
      err = CX_ECORRUPT;
      break;
    } else if (rc != MDB_NOTFOUND) {
      err = cx__store_mdb_err(st, rc, "check rollup get");
      break;
    }
    for (int j = 0; j < 4; j++) cx__wr64(vb + 8 * j, c[j] + rd[i].d[j]);
    k = (MDB_val){CX_CHKR_KEY, (void *)rd[i].k};
    v = (MDB_val){CX_CHKR_VAL, vb};
    if ((rc = mdb_cursor_put(cur, &k, &v, flag))) err = cx__store_mdb_err(st, rc, "check rollup put");
  }
  mdb_cursor_close(cur);
  return err;
}

/* Adds d[0..3] (checks, restricted, after review, approved) to e's rollup cell. */
static int roll_add(cx_store *st, MDB_txn *txn, const cx_check_entry *e, const int64_t d[4]) {
  roll_delta one;
  roll_key(e, one.k);
  memcpy(one.d, d, sizeof one.d);
  return roll_apply(st, txn, &one, 1);
}

/* Runs fn(st, txn, ctx) in a write txn, growing the map when it fills. */
static int in_wtxn(cx_store *st, int (*fn)(cx_store *, MDB_txn *, void *), void *ctx) {
  if (!st->dbi[CX_DBI_CHECKS]) return CX_EROFS;
  for (;;) {
    MDB_txn *txn;
    int err = cx__store_wtxn(st, &txn);
    if (err) return err;
    err = fn(st, txn, ctx);
    if (!err) err = cx__store_wtxn_end(st, txn, 1);
    else cx__store_wtxn_end(st, txn, 0);
    if (err == CX_EMAPFULL && !(err = cx__store_grow(st))) continue;
    return err;
  }
}

typedef struct epoch_ctx { uint32_t v; } epoch_ctx;
static int epoch_fn(cx_store *st, MDB_txn *txn, void *ctx) {
  epoch_ctx *c = ctx;
  uint32_t v = 0;
  int rc = cx__meta_get32(st, txn, "check_epoch", &v);
  if (rc && rc != CX_ENOTFOUND) return rc;
  if (v + 1u >= (1u << 24)) return CX_ETOOLARGE; /* 16M server starts */
  c->v = v + 1;
  return cx__meta_put32(st, txn, "check_epoch", c->v);
}
int cx_store_checks_epoch(cx_store *st, uint32_t *epoch) {
  epoch_ctx c = {0};
  int rc = in_wtxn(st, epoch_fn, &c);
  if (!rc) *epoch = c.v;
  return rc;
}

/* ------------------------------------------------------------------ values: one entry or a block */

static uint64_t rd_be64(const unsigned char *p) {
  return (uint64_t)cx__rd_be32(p) << 32 | cx__rd_be32(p + 4);
}

/* The entries of one value (store_int.h "Check log"), in receipt order. */
typedef struct blk_it {
  const unsigned char *p, *end;
  unsigned left;
  int single;            /* a one-entry value: the key is its receipt */
  uint64_t key;
  uint64_t receipt;      /* the current entry's */
  const unsigned char *ev;
  size_t en;
} blk_it;
static int blk_open(blk_it *it, uint64_t key, const MDB_val *v) {
  const unsigned char *p = v->mv_data;
  it->key = key;
  it->end = p + v->mv_size;
  if (v->mv_size && p[0] == CX_CHK_BLOCK) {
    if (v->mv_size < CX_CHK_BLK_HDR || p[1] < 2) return CX_ECORRUPT;
    it->single = 0;
    it->left = p[1];
    it->p = p + CX_CHK_BLK_HDR;
  } else {
    it->single = 1;
    it->left = 1;
    it->p = p;
  }
  return 0;
}
/* The next entry into it->receipt, ev, en: 1, or 0 when none is left. CX_ECORRUPT. */
static int blk_next(blk_it *it) {
  if (!it->left) return it->p == it->end ? 0 : CX_ECORRUPT;
  it->left--;
  if (it->single) {
    it->receipt = it->key;
    it->ev = it->p;
    it->en = (size_t)(it->end - it->p);
    it->p = it->end;
    return 1;
  }
  if (it->end - it->p < 10) return CX_ECORRUPT;
  it->receipt = (uint64_t)cx__rd64(it->p);
  it->en = cx__rd16(it->p + 8);
  it->ev = it->p + 10;
  if ((size_t)(it->end - it->ev) < it->en) return CX_ECORRUPT;
  it->p = it->ev + it->en;
  return 1;
}
/* The last receipt value v (of key key) holds. */
static int value_last(uint64_t key, const MDB_val *v, uint64_t *last) {
  const unsigned char *p = v->mv_data;
  if (v->mv_size && p[0] == CX_CHK_BLOCK) {
    if (v->mv_size < CX_CHK_BLK_HDR) return CX_ECORRUPT;
    *last = (uint64_t)cx__rd64(p + 2);
  } else {
    *last = key;
  }
  return 0;
}

/* A value being built: entries added in ascending receipts. */
typedef struct blk_w {
  cx_buf b;
  unsigned n;
  uint64_t first, last;
} blk_w;
static int blk_add(blk_w *w, uint64_t receipt, const unsigned char *ev, size_t en) {
  if (en > 0xFFFF) return CX_ETOOLARGE;
  if (!w->n) {
    w->b.n = 0;
    if (cx__buf_reserve(&w->b, CX_CHK_BLK_HDR)) return CX_ENOMEM;
    memset(w->b.p, 0, CX_CHK_BLK_HDR);
    w->b.n = CX_CHK_BLK_HDR;
    w->first = receipt;
  }
  if (cx__buf_reserve(&w->b, 10 + en)) return CX_ENOMEM;
  unsigned char *p = w->b.p + w->b.n;
  cx__wr64(p, (int64_t)receipt);
  cx__wr16(p + 8, (uint16_t)en);
  memcpy(p + 10, ev, en);
  w->b.n += 10 + en;
  w->n++;
  w->last = receipt;
  return 0;
}
/* What to store: the block, or its one entry as a one-entry value. */
static MDB_val blk_val(blk_w *w) {
  if (w->n == 1) return (MDB_val){w->b.n - CX_CHK_BLK_HDR - 10, w->b.p + CX_CHK_BLK_HDR + 10};
  w->b.p[0] = CX_CHK_BLOCK;
  w->b.p[1] = (unsigned char)w->n;
  cx__wr64(w->b.p + 2, (int64_t)w->last);
  return (MDB_val){w->b.n, w->b.p};
}

/* The value that holds receipt r or would (the greatest key at or below r): *key and *v;
 * CX_ENOTFOUND when every key is above r. */
static int value_at(cx_store *st, MDB_cursor *cur, uint64_t r, uint64_t *key, MDB_val *v) {
  unsigned char kb[8];
  be64(kb, r);
  MDB_val k = {8, kb};
  int rc = mdb_cursor_get(cur, &k, v, MDB_SET_RANGE);
  if (rc == 0 && k.mv_size == 8 && rd_be64(k.mv_data) == r) {
    *key = r;
    return 0;
  }
  if (rc == 0) rc = mdb_cursor_get(cur, &k, v, MDB_PREV);
  else if (rc == MDB_NOTFOUND) rc = mdb_cursor_get(cur, &k, v, MDB_LAST);
  if (rc == MDB_NOTFOUND) return CX_ENOTFOUND;
  if (rc) return cx__store_mdb_err(st, rc, "checks seek");
  if (k.mv_size != 8) return CX_ECORRUPT;
  *key = rd_be64(k.mv_data);
  return 0;
}
/* Receipt r's entry: its bytes *ev, *en inside *v (key *key). CX_ENOTFOUND. */
static int entry_at(cx_store *st, MDB_cursor *cur, uint64_t r, uint64_t *key, MDB_val *v, const unsigned char **ev,
                    size_t *en) {
  int err = value_at(st, cur, r, key, v);
  if (err) return err;
  blk_it it;
  if ((err = blk_open(&it, *key, v))) return err;
  while ((err = blk_next(&it)) == 1) {
    if (it.receipt == r) {
      *ev = it.ev;
      *en = it.en;
      return 0;
    }
    if (it.receipt > r) break;
  }
  return err < 0 ? err : CX_ENOTFOUND;
}
/* Block v (key key) again into w with receipt r's entry set to (ev, en): replaced, or inserted
 * in order. */
static int blk_rebuild(uint64_t key, const MDB_val *v, uint64_t r, const unsigned char *ev, size_t en, blk_w *w) {
  blk_it it;
  int err = blk_open(&it, key, v), done = 0;
  w->n = 0;
  while (!err && (err = blk_next(&it)) == 1) {
    err = 0;
    if (!done && it.receipt >= r) {
      if ((err = blk_add(w, r, ev, en))) break;
      done = 1;
      if (it.receipt == r) continue;
    }
    err = blk_add(w, it.receipt, it.ev, it.en);
  }
  if (err < 0) return err;
  return done ? 0 : blk_add(w, r, ev, en);
}
static int extra_add(cx_store *st, MDB_txn *txn, int64_t d) {
  if (!d) return 0;
  uint64_t x = 0;
  int rc = cx__meta_get64(st, txn, "checks_extra", &x);
  if (rc && rc != CX_ENOTFOUND) return rc;
  if (d < 0 && x < (uint64_t)-d) return CX_ECORRUPT;
  return cx__meta_put64(st, txn, "checks_extra", x + (uint64_t)d);
}

/*
 * A flush brings tens of thousands of entries (a busy server answers ~250k checks/s): one
 * ascending run of receipts per loop's ring, sharing a few thousand rollup cells (month,
 * action, verdict, county, authority). The entries go in receipt order, in runs: one seek
 * (locate) finds the gap a run falls in, and the run is packed there into blocks of up to
 * CX_CHK_BLK_BYTES (one put for ~20 entries; MDB_APPEND at the log's end); an entry inside an
 * existing block (a loop slower than the others) goes into it, and one written by an earlier
 * attempt nowhere. The rollup deltas are summed per cell in a hash table first, so each cell is
 * read and written once, in key order, instead of once per entry.
 */
typedef struct app_ord { uint64_t receipt; size_t i; } app_ord;
static int app_ord_cmp(const void *x, const void *y) {
  uint64_t a = ((const app_ord *)x)->receipt, b = ((const app_ord *)y)->receipt;
  return a < b ? -1 : a > b;
}
typedef struct app_ctx {
  const cx_check_entry *e;
  size_t n;
  cx_buf b;
  blk_w w;          /* the block being filled */
  blk_w late;       /* a block rewritten with a late entry */
  app_ord *ord;     /* NULL: the entries' own order */
  roll_delta *rd;   /* NULL: each entry to its cell alone (the same sums) */
  uint32_t *slot;   /* open addressing over rd: index + 1, 0 = empty */
  size_t nslot;     /* a power of two, at least 2n */
} app_ctx;

/* The block filled so far, written: appended when no key follows its gap (append). */
static int put_block(cx_store *st, MDB_cursor *cur, blk_w *w, int64_t *extra, int append) {
  unsigned char kb[8];
  be64(kb, w->first);
  MDB_val k = {8, kb}, v = blk_val(w);
  int rc = mdb_cursor_put(cur, &k, &v, append ? MDB_APPEND : 0);
  if (rc) return cx__store_mdb_err(st, rc, "checks put");
  *extra += (int64_t)w->n - 1;
  w->n = 0;
  return 0;
}

/* Where receipt r goes: AT_THERE (a value has its key), AT_INSIDE (the block below it spans
 * it: put_late), or AT_GAP between two values, *lo the last receipt below it (0: none) and *hi
 * the first key above it (UINT64_MAX: none, the log's end). One seek per run of a flush's
 * entries: a server's flush is one run at the log's end; the flush of a server that shares
 * the store with a later-started one (a higher epoch) is one run below that one's entries. */
enum { AT_GAP, AT_THERE, AT_INSIDE };
static int locate(cx_store *st, MDB_cursor *cur, uint64_t r, uint64_t *lo, uint64_t *hi, int *where) {
  unsigned char kb[8];
  be64(kb, r);
  MDB_val k = {8, kb}, v;
  *lo = 0;
  *hi = UINT64_MAX;
  int rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  if (rc == 0) {
    if (k.mv_size != 8) return CX_ECORRUPT;
    uint64_t key = rd_be64(k.mv_data);
    if (key == r) {
      *where = AT_THERE;
      return 0;
    }
    *hi = key;
    rc = mdb_cursor_get(cur, &k, &v, MDB_PREV);
  } else if (rc == MDB_NOTFOUND) {
    rc = mdb_cursor_get(cur, &k, &v, MDB_LAST);
  }
  *where = AT_GAP;
  if (rc == MDB_NOTFOUND) return 0;
  if (rc) return cx__store_mdb_err(st, rc, "checks seek");
  if (k.mv_size != 8) return CX_ECORRUPT;
  uint64_t last;
  int err = value_last(rd_be64(k.mv_data), &v, &last);
  if (err) return err;
  if (last >= r) *where = AT_INSIDE;
  else *lo = last;
  return 0;
}
/* A block that a late entry took past 255 entries, written as two: its first 128 entries
 * under its key, the rest under the first of theirs (between the two, so no overlap). */
static int put_split(cx_store *st, MDB_txn *txn, blk_w *w, int64_t *extra) {
  blk_w half[2] = {{{0}, 0, 0, 0}, {{0}, 0, 0, 0}};
  unsigned char *p = w->b.p + CX_CHK_BLK_HDR, *end = w->b.p + w->b.n;
  int err = 0;
  for (unsigned i = 0; p < end && !err; i++) { /* w's entries, as blk_add wrote them */
    size_t en = cx__rd16(p + 8);
    err = blk_add(&half[i >= 128], (uint64_t)cx__rd64(p), p + 10, en);
    p += 10 + en;
  }
  for (int h = 0; h < 2 && !err; h++) {
    unsigned char kb[8];
    be64(kb, half[h].first);
    MDB_val k = {8, kb}, v = blk_val(&half[h]);
    int rc = mdb_put(txn, st->dbi[CX_DBI_CHECKS], &k, &v, 0);
    if (rc) err = cx__store_mdb_err(st, rc, "checks put");
  }
  if (!err) *extra -= 1; /* one more key for the same entries */
  cx__buf_free(&half[0].b);
  cx__buf_free(&half[1].b);
  return err;
}

/* Entry (r, a->b), which the block below it spans (locate: AT_INSIDE): into that block, unless
 * the block has it already (an earlier attempt wrote it: *wrote 0). */
static int put_late(cx_store *st, MDB_txn *txn, MDB_cursor *cur, app_ctx *a, uint64_t r, int *wrote,
                    int64_t *extra) {
  uint64_t key;
  MDB_val v;
  const unsigned char *ev;
  size_t en;
  *wrote = 0;
  int err = entry_at(st, cur, r, &key, &v, &ev, &en); /* leaves key, v at the spanning block */
  if (err != CX_ENOTFOUND) return err;
  if ((err = blk_rebuild(key, &v, r, a->b.p, a->b.n, &a->late))) return err;
  *extra += 1;
  *wrote = 1;
  if (a->late.n > 255) return put_split(st, txn, &a->late, extra);
  unsigned char kb[8];
  be64(kb, key);
  MDB_val k = {8, kb}, nv = blk_val(&a->late);
  int rc = mdb_put(txn, st->dbi[CX_DBI_CHECKS], &k, &nv, 0);
  return rc ? cx__store_mdb_err(st, rc, "checks put") : 0;
}

static int append_fn(cx_store *st, MDB_txn *txn, void *ctx) {
  app_ctx *a = ctx;
  MDB_cursor *cur;
  int rc = mdb_cursor_open(txn, st->dbi[CX_DBI_CHECKS], &cur);
  if (rc) return cx__store_mdb_err(st, rc, "checks cursor");
  if (a->slot) memset(a->slot, 0, a->nslot * sizeof *a->slot);
  size_t nd = 0;
  int err = 0;
  int64_t extra = 0;
  /* the gap (lo, hi) the current run of entries fills, and the run's last receipt */
  uint64_t lo = 0, hi = 0, run_last = 0;
  int in_gap = 0;
  a->w.n = 0;
  for (size_t i = 0; i < a->n && !err; i++) {
    const cx_check_entry *e = &a->e[a->ord ? a->ord[i].i : i];
    uint64_t r = e->receipt;
    if ((err = encode(e, &a->b))) break;
    if (!in_gap || r <= run_last || r >= hi) { /* a new run: where does r go? */
      if (a->w.n && (err = put_block(st, cur, &a->w, &extra, hi == UINT64_MAX))) break;
      int where;
      if ((err = locate(st, cur, r, &lo, &hi, &where))) break;
      in_gap = where == AT_GAP;
      run_last = lo;
      if (where == AT_THERE) continue; /* written by an earlier attempt */
      if (where == AT_INSIDE) {
        int wrote;
        if ((err = put_late(st, txn, cur, a, r, &wrote, &extra))) break;
        if (!wrote) continue;
      }
    }
    if (in_gap) {
      if (a->w.n && (a->w.n == 255 || a->w.b.n + 10 + a->b.n > CX_CHK_BLK_BYTES) &&
          (err = put_block(st, cur, &a->w, &extra, hi == UINT64_MAX)))
        break;
      if ((err = blk_add(&a->w, r, a->b.p, a->b.n))) break;
      run_last = r;
    }
    int64_t d[4] = {1, 0, 0, 0};
    if (e->outcome) d[e->outcome] = 1;
    if (!a->rd) {
      err = roll_add(st, txn, e, d);
      continue;
    }
    unsigned char ck[CX_CHKR_KEY];
    roll_key(e, ck);
    uint32_t h = 2166136261u;
    for (unsigned m = 0; m < CX_CHKR_KEY; m++) h = (h ^ ck[m]) * 16777619u;
    size_t j = h & (a->nslot - 1);
    while (a->slot[j] && memcmp(a->rd[a->slot[j] - 1].k, ck, CX_CHKR_KEY) != 0) j = (j + 1) & (a->nslot - 1);
    if (!a->slot[j]) {
      memcpy(a->rd[nd].k, ck, CX_CHKR_KEY);
      memset(a->rd[nd].d, 0, sizeof a->rd[nd].d);
      a->slot[j] = (uint32_t)++nd;
    }
    for (int m = 0; m < 4; m++) a->rd[a->slot[j] - 1].d[m] += d[m];
  }
  if (!err && a->w.n) err = put_block(st, cur, &a->w, &extra, hi == UINT64_MAX);
  mdb_cursor_close(cur);
  if (err) return err;
  if ((err = extra_add(st, txn, extra))) return err;
  if (nd < 64) qsort(a->rd, nd, sizeof *a->rd, roll_delta_cmp);
  else if ((err = cx__radix_sort(a->rd, nd, sizeof *a->rd, CX_CHKR_KEY))) return err;
  return roll_apply(st, txn, a->rd, nd);
}
int cx_store_checks_append(cx_store *st, const cx_check_entry *e, size_t n) {
  if (!n) return 0;
  app_ctx a;
  memset(&a, 0, sizeof a);
  a.e = e;
  a.n = n;
  /* Without memory for the order or the merge, the entries go as they come (the same content). */
  if (n > 1 && n < UINT32_MAX / 4 && (a.ord = cx_malloc(n * sizeof *a.ord))) {
    int sorted = 1;
    for (size_t i = 0; i < n; i++) {
      a.ord[i] = (app_ord){e[i].receipt, i};
      if (i && e[i].receipt < e[i - 1].receipt) sorted = 0;
    }
    if (sorted) {
      free(a.ord);
      a.ord = NULL;
    } else {
      qsort(a.ord, n, sizeof *a.ord, app_ord_cmp);
    }
  }
  for (a.nslot = 16; a.nslot < 2 * n; a.nslot *= 2) {}
  if (n < UINT32_MAX / 4 && (a.rd = cx_malloc(n * sizeof *a.rd)) && !(a.slot = cx_malloc(a.nslot * sizeof *a.slot))) {
    free(a.rd);
    a.rd = NULL;
  }
  int rc = in_wtxn(st, append_fn, &a);
  cx__buf_free(&a.b);
  cx__buf_free(&a.w.b);
  cx__buf_free(&a.late.b);
  free(a.ord);
  free(a.rd);
  free(a.slot);
  return rc;
}

int cx_store_check_get(cx_txn *t, uint64_t receipt, cx_check_entry *out) {
  if (!t->st->dbi[CX_DBI_CHECKS]) return CX_ENOTFOUND;
  MDB_cursor *cur;
  int own, err;
  if ((err = cx__txn_cursor(t, CX_DBI_CHECKS, &cur, &own))) return err;
  uint64_t key;
  MDB_val v;
  const unsigned char *ev;
  size_t en;
  cx_check_entry e;
  err = entry_at(t->st, cur, receipt, &key, &v, &ev, &en);
  if (!err && decode(ev, en, &e)) err = CX_ECORRUPT;
  cx__txn_cursor_done(t, CX_DBI_CHECKS, cur, own);
  if (err) return err;
  e.receipt = receipt;
  *out = e;
  return 0;
}

typedef struct fb_ctx {
  uint64_t receipt;
  int outcome, any_who;
  cx_str who, note;
  int64_t now_ms;
  const cx_audit_entry *audit;
  cx_check_entry old;
  cx_buf b, tmp;
  blk_w blk; /* the entry's block, rewritten */
} fb_ctx;
static int fb_fn(cx_store *st, MDB_txn *txn, void *ctx) {
  fb_ctx *f = ctx;
  MDB_cursor *cur;
  int rc = mdb_cursor_open(txn, st->dbi[CX_DBI_CHECKS], &cur);
  if (rc) return cx__store_mdb_err(st, rc, "checks cursor");
  uint64_t key;
  MDB_val v;
  const unsigned char *ev;
  size_t en;
  int err = entry_at(st, cur, f->receipt, &key, &v, &ev, &en);
  mdb_cursor_close(cur);
  if (err) return err;
  cx_check_entry e;
  if (decode(ev, en, &e)) return CX_ECORRUPT;
  e.receipt = f->receipt;
  if (!f->any_who && !cx_str_eq(e.who, f->who)) return CX_EFORBIDDEN;
  f->old = e;
  int64_t d[4] = {0, 0, 0, 0};
  if (e.outcome) d[e.outcome] -= 1;
  d[f->outcome] += 1;
  e.outcome = (uint8_t)f->outcome;
  e.fb_time_ms = f->now_ms;
  e.fb_who = f->who;
  e.note = f->note;
  /* e's strings point into the map: encode (and rebuild its block) before any write */
  if ((err = encode(&e, &f->b))) return err;
  MDB_val nv = {f->b.n, f->b.p};
  if (key != f->receipt || (v.mv_size && *(const unsigned char *)v.mv_data == CX_CHK_BLOCK)) {
    if ((err = blk_rebuild(key, &v, f->receipt, f->b.p, f->b.n, &f->blk))) return err;
    nv = blk_val(&f->blk);
  }
  unsigned char kb[8];
  be64(kb, key);
  MDB_val k = {8, kb};
  if ((rc = mdb_put(txn, st->dbi[CX_DBI_CHECKS], &k, &nv, 0))) return cx__store_mdb_err(st, rc, "checks put");
  if ((err = roll_add(st, txn, &f->old, d))) return err;
  if (f->audit && (err = cx__audit_write(st, txn, f->audit, 1, f->now_ms, &f->tmp))) return err;
  return 0;
}
/* A feedback outside the log: its audit line is replicated content, so a store that follows
 * a log (at any position, or marked) takes feedback from the log only (cx_store_check_feedback_at). */
static int local_fb_fn(cx_store *st, MDB_txn *txn, void *ctx) {
  uint64_t at = 0;
  int rc = cx__meta_get64(st, txn, "log_seq", &at);
  if (rc && rc != CX_ENOTFOUND) return rc;
  if (at || cx__store_follows(st, txn)) {
    cx__store_setmsg(st, "this store follows a replicated log: feedback goes through a node of its cluster");
    return CX_EFORBIDDEN;
  }
  return fb_fn(st, txn, ctx);
}

int cx_store_check_feedback(cx_store *st, uint64_t receipt, int outcome, cx_str who, int any_who,
                            cx_str note, int64_t now_ms, const cx_audit_entry *audit,
                            cx_check_entry *out) {
  if (outcome <= CX_OUT_NONE || outcome >= CX_OUT_COUNT || note.n > CX_CHECK_NOTE_MAX) return CX_EBADREQ;
  fb_ctx f = {.receipt = receipt, .outcome = outcome, .any_who = any_who, .who = who, .note = note,
              .now_ms = now_ms ? now_ms : cx_audit_now_ms(), .audit = audit};
  int rc = in_wtxn(st, local_fb_fn, &f);
  if (!rc && out) {
    *out = f.old;
    out->who = out->fb_who = out->note = (cx_str){"", 0};
  }
  cx__buf_free(&f.b);
  cx__buf_free(&f.tmp);
  cx__buf_free(&f.blk.b);
  return rc;
}

typedef struct prune_ctx {
  int64_t before;
  uint64_t n;
  int more;
  const cx_audit_entry *audit; /* written with the first txn, then cleared */
  cx_buf tmp;
} prune_ctx;
static int prune_fn(cx_store *st, MDB_txn *txn, void *ctx) {
  prune_ctx *p = ctx;
  MDB_cursor *cur;
  int rc = mdb_cursor_open(txn, st->dbi[CX_DBI_CHECKS], &cur);
  if (rc) return cx__store_mdb_err(st, rc, "checks cursor");
  MDB_val k, v;
  uint32_t done = 0;
  int err = 0;
  p->more = 0;
  /* Keys are receipts: epochs in start order and, within one, a counter taken as the check
   * ran, so the oldest entries come first (up to the few ms two loops may interleave). Entry
   * by entry, as in one-entry values: a block whose front is past the retention is written
   * again from its first entry that is not, at that entry's receipt (the walk ends there). */
  int64_t extra = 0;
  blk_w w = {{0}, 0, 0, 0};
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size != 8) { err = CX_ECORRUPT; break; }
    if (done >= 10000) { p->more = 1; break; }
    blk_it it;
    unsigned n = 0, gone = 0;
    if ((err = blk_open(&it, rd_be64(k.mv_data), &v))) break;
    w.n = 0;
    while ((err = blk_next(&it)) == 1) {
      err = 0;
      n++;
      if (it.en < CX_CHK_HDR) { err = CX_ECORRUPT; break; }
      if (!w.n && cx__rd64(it.ev + 20) < p->before) gone++;
      else if ((err = blk_add(&w, it.receipt, it.ev, it.en))) break;
    }
    if (err) break;
    if (!gone) break;
    /* the rest (copied into w) before the value goes */
    if ((rc = mdb_cursor_del(cur, 0))) { err = cx__store_mdb_err(st, rc, "checks del"); break; }
    done += gone;
    extra -= (int64_t)n - 1;
    if (w.n) {
      unsigned char kb[8];
      be64(kb, w.first);
      MDB_val nk = {8, kb}, nv = blk_val(&w);
      if ((rc = mdb_put(txn, st->dbi[CX_DBI_CHECKS], &nk, &nv, 0))) { err = cx__store_mdb_err(st, rc, "checks put"); break; }
      extra += (int64_t)w.n - 1;
      rc = 0;
      break;
    }
  }
  cx__buf_free(&w.b);
  if (!err && rc && rc != MDB_NOTFOUND) err = cx__store_mdb_err(st, rc, "checks walk");
  mdb_cursor_close(cur);
  if (!err) err = extra_add(st, txn, extra);
  /* the operator's prune is audited with its first deletions: a crash after it leaves the
   * entry and part of the work, which a rerun finishes */
  if (!err && p->audit) err = cx__audit_write(st, txn, p->audit, 1, cx_audit_now_ms(), &p->tmp);
  if (!err) p->n += done;
  return err;
}
int cx_store_checks_prune(cx_store *st, int64_t before_ms, const cx_audit_entry *audit, uint64_t *n) {
  prune_ctx p = {before_ms, 0, 0, audit, {0}};
  int rc;
  if (!st->dbi[CX_DBI_CHECKS]) {
    if (n) *n = 0;
    return audit ? cx_store_audit_append(st, audit, 1) : 0;
  }
  do {
    rc = in_wtxn(st, prune_fn, &p);
    if (!rc) p.audit = NULL;
  } while (!rc && p.more);
  cx__buf_free(&p.tmp);
  if (n) *n = p.n;
  return rc;
}

int cx_store_checks_count(cx_txn *t, uint64_t *n) {
  *n = 0;
  if (!t->st->dbi[CX_DBI_CHECKS]) return 0;
  MDB_stat s;
  int rc = mdb_stat(t->txn, t->st->dbi[CX_DBI_CHECKS], &s);
  if (rc) return cx__store_mdb_err(t->st, rc, "checks stat");
  uint64_t extra = 0; /* the entries beyond one per key (blocks) */
  if ((rc = cx__meta_get64(t->st, t->txn, "checks_extra", &extra)) && rc != CX_ENOTFOUND) return rc;
  *n = s.ms_entries + extra;
  return 0;
}

int cx_store_debug_checks_keys(cx_store *st, uint64_t *keys) {
  *keys = 0;
  if (!st->dbi[CX_DBI_CHECKS]) return 0;
  MDB_txn *txn;
  int err = cx__store_rtxn(st, &txn);
  if (err) return err;
  MDB_stat s;
  int rc = mdb_stat(txn, st->dbi[CX_DBI_CHECKS], &s);
  if (rc) err = cx__store_mdb_err(st, rc, "checks stat");
  else *keys = s.ms_entries;
  cx__store_rtxn_end(st, txn);
  return err;
}

int cx_store_check_rollup_each(cx_txn *t, uint32_t month_from, uint32_t month_to,
                               cx_check_cell_fn fn, void *ctx) {
  if (!t->st->dbi[CX_DBI_CHECKROLL]) return 0;
  MDB_cursor *cur;
  int own, rc;
  if ((rc = cx__txn_cursor(t, CX_DBI_CHECKROLL, &cur, &own))) return rc;
  unsigned char kb[2];
  cx__be16(kb, (uint16_t)(month_from > 0xFFFF ? 0xFFFF : month_from));
  MDB_val k = {2, kb}, v;
  int err = 0;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size != CX_CHKR_KEY || v.mv_size != CX_CHKR_VAL) { err = CX_ECORRUPT; break; }
    const unsigned char *kp = k.mv_data, *vp = v.mv_data;
    cx_check_cell c;
    c.month = cx__rd_be16(kp);
    if (c.month > month_to) break;
    c.action = kp[2];
    c.verdict = kp[3];
    c.region = cx__rd_be32(kp + 4);
    c.authority_id = cx__rd_be32(kp + 8);
    c.checks = cx__rd64(vp);
    c.restricted = cx__rd64(vp + 8);
    c.approved_after_review = cx__rd64(vp + 16);
    c.approved = cx__rd64(vp + 24);
    if ((err = fn(ctx, &c))) break;
  }
  if (!err && rc && rc != MDB_NOTFOUND) err = cx__store_mdb_err(t->st, rc, "check rollup walk");
  cx__txn_cursor_done(t, CX_DBI_CHECKROLL, cur, own);
  return err;
}

/* ------------------------------------------------------------------ through a replicated log */

/* Exactly once: message seq of the log lands with its change, or CX_EEXIST. */
static int log_pos(cx_store *st, MDB_txn *txn, uint64_t seq) {
  uint64_t have = 0;
  int rc = cx__meta_get64(st, txn, "log_seq", &have);
  if (rc && rc != CX_ENOTFOUND) return rc;
  if (have >= seq) {
    cx__store_setmsg(st, "log sequence %llu is applied already (the store is at %llu)", (unsigned long long)seq,
                     (unsigned long long)have);
    return CX_EEXIST;
  }
  return cx__meta_put64(st, txn, "log_seq", seq);
}

typedef struct epoch_at_ctx { uint64_t seq; uint32_t v; const char *node; } epoch_at_ctx;
static int epoch_at_fn(cx_store *st, MDB_txn *txn, void *ctx) {
  epoch_at_ctx *c = ctx;
  int rc = log_pos(st, txn, c->seq);
  if (rc) return rc;
  if (c->node && *c->node) { /* which node issues the receipts of this epoch: every node knows */
    char key[32];
    snprintf(key, sizeof key, "epoch_node:%u", (unsigned)c->v);
    MDB_val k = {strlen(key), key}, v = {strnlen(c->node, 95), (void *)c->node};
    if ((rc = mdb_put(txn, st->dbi[CX_DBI_META], &k, &v, 0))) return cx__store_mdb_err(st, rc, "epoch_node");
  }
  /* the epoch the message claims: the counter moves past it (a store that leaves the log later
   * takes epochs above every epoch of the log) */
  uint32_t v = 0, e = c->v;
  if ((rc = cx__meta_get32(st, txn, "check_epoch", &v)) && rc != CX_ENOTFOUND) return rc;
  return e > v ? cx__meta_put32(st, txn, "check_epoch", e) : 0;
}
int cx_store_checks_epoch_last(cx_store *st, uint32_t *epoch) {
  MDB_txn *txn;
  int rc = cx__store_rtxn(st, &txn);
  if (rc) return rc;
  uint32_t v = 0;
  rc = cx__meta_get32(st, txn, "check_epoch", &v);
  cx__store_rtxn_end(st, txn);
  if (rc == CX_ENOTFOUND) v = 0, rc = 0;
  if (!rc) *epoch = v;
  return rc;
}

int cx_store_receipt_node(cx_store *st, uint32_t epoch, char *node, size_t cap) {
  MDB_txn *txn;
  int rc = cx__store_rtxn(st, &txn);
  if (rc) return rc;
  char key[32];
  snprintf(key, sizeof key, "epoch_node:%u", (unsigned)epoch);
  MDB_val k = {strlen(key), key}, v;
  int m = mdb_get(txn, st->dbi[CX_DBI_META], &k, &v);
  if (m == 0 && cap) snprintf(node, cap, "%.*s", (int)v.mv_size, (const char *)v.mv_data);
  rc = m == MDB_NOTFOUND ? CX_ENOTFOUND : m ? cx__store_mdb_err(st, m, "epoch_node") : 0;
  cx__store_rtxn_end(st, txn);
  return rc;
}

int cx_store_checks_epoch_at(cx_store *st, uint64_t log_seq, uint32_t claim, const char *node, uint32_t *epoch) {
  if (!log_seq || !claim || claim > 0xFFFFFFu) return CX_EBADREQ;
  epoch_at_ctx c = {log_seq, claim, node};
  int rc = in_wtxn(st, epoch_at_fn, &c);
  if (!rc) *epoch = c.v;
  return rc;
}

typedef struct fb_at_ctx { fb_ctx f; uint64_t seq; int applied; } fb_at_ctx;
static int fb_at_fn(cx_store *st, MDB_txn *txn, void *ctx) {
  fb_at_ctx *c = ctx;
  fb_ctx *f = &c->f;
  int rc = log_pos(st, txn, c->seq);
  if (rc) return rc;
  /* the audit line first and always: it is replicated content, the same on every node */
  if (f->audit && (rc = cx__audit_write(st, txn, f->audit, 1, f->now_ms, &f->tmp))) return rc;
  const cx_audit_entry *a = f->audit;
  f->audit = NULL;
  rc = fb_fn(st, txn, f);
  f->audit = a;
  c->applied = rc == 0 ? 1 : rc == CX_EFORBIDDEN ? -1 : 0;
  return rc == CX_ENOTFOUND || rc == CX_EFORBIDDEN ? 0 : rc;
}
int cx_store_check_feedback_at(cx_store *st, uint64_t receipt, int outcome, cx_str who, int any_who, cx_str note,
                               int64_t now_ms, const cx_audit_entry *audit, uint64_t log_seq, cx_check_entry *out,
                               int *applied) {
  if (outcome <= CX_OUT_NONE || outcome >= CX_OUT_COUNT || note.n > CX_CHECK_NOTE_MAX || !log_seq || now_ms <= 0)
    return CX_EBADREQ;
  fb_at_ctx c = {.f = {.receipt = receipt, .outcome = outcome, .any_who = any_who, .who = who, .note = note,
                       .now_ms = now_ms, .audit = audit},
                 .seq = log_seq};
  int rc = in_wtxn(st, fb_at_fn, &c);
  if (!rc) {
    *applied = c.applied;
    if (out) {
      *out = c.applied == 1 ? c.f.old : (cx_check_entry){0};
      out->who = out->fb_who = out->note = (cx_str){"", 0};
    }
  }
  cx__buf_free(&c.f.b);
  cx__buf_free(&c.f.tmp);
  cx__buf_free(&c.f.blk.b);
  return rc;
}
