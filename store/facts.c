/* facts.c — the facts DB: every record's fixed-size part, packed in blocks by seq, for ad-hoc
 * aggregate scans (the "compact fact table" of DESIGN §4).
 *
 * A scan of the records DB visits 10M B-tree leaf entries of ~200-500 bytes each, spread over
 * ~5 GB of pages: the cursor walk alone took 0.84-1.07 s at 10M records before any decoding,
 * and the header-only scan 1.15-1.92 s (docs/benchmarks.md). Here the same facts sit 255 to a
 * 16 KiB value (4 pages), 64 bytes each, so a scan reads ~640 MB sequentially with one cursor step per
 * 255 records. Layout in store_int.h. Kept in the batch txn like the summaries and rollups:
 * cx_store_verify compares every slot with its record.
 */
#include <stddef.h>
#include <stdlib.h>

#include "store_int.h"

_Static_assert(sizeof(cx_fact) == CX_FACT_IMG, "cx_fact image is 64 bytes");

/* ------------------------------------------------------------------ images */

/* The image of a record's fact: the cx_fact struct's bytes, with the slot's presence flag in
 * its tail padding (byte CX_FACT_PRESENT). */
static void fact_image(const cx_fact *f, unsigned char img[CX_FACT_IMG]) {
  cx_fact z;
  memset(&z, 0, sizeof z); /* padding bytes zero, so images compare bytewise */
  z.amount_fen = f->amount_fen;
  z.seq = f->seq;
  z.entity_id = f->entity_id;
  z.authority_id = f->authority_id;
  z.region = f->region;
  z.decision_date = f->decision_date;
  z.report_date = f->report_date;
  z.valid_from = f->valid_from;
  z.valid_until = f->valid_until;
  z.report_delay = f->report_delay;
  z.entity_kind = f->entity_kind;
  z.category = f->category;
  z.subtype = f->subtype;
  z.domain = f->domain;
  z.severity = f->severity;
  z.status = f->status;
  z.objection = f->objection;
  z.display_until = f->display_until;
  z.on_time = f->on_time;
  z.delay_provisional = f->delay_provisional;
  memcpy(img, &z, CX_FACT_IMG);
  img[CX_FACT_PRESENT] = 1;
}

int cx__fact_image(const void *recval, size_t n, unsigned char img[CX_FACT_IMG]) {
  cx_fact f;
  int rc = cx__fact_decode(recval, n, &f);
  if (rc) return rc;
  fact_image(&f, img);
  return 0;
}

/* ------------------------------------------------------------------ accumulator */

/* Entries: seq (u32 BE, the sort key) + image. */
#define FACC_ENT (4 + CX_FACT_IMG)

int cx__facc_add(cx_facc *a, const void *recval, size_t n) {
  unsigned char e[FACC_ENT];
  int rc = cx__fact_image(recval, n, e + 4);
  if (rc) return rc;
  cx_fact f;
  memcpy(&f, e + 4, sizeof f);
  cx__be32(e, f.seq);
  return cx__buf_add(&a->ents, e, sizeof e);
}

int cx__facc_apply(cx_facc *a, cx_store *st, MDB_txn *txn) {
  size_t n = a->ents.n / FACC_ENT;
  if (!n) return 0;
  int rc = cx__radix_sort(a->ents.p, n, FACC_ENT, 4);
  if (rc) return rc;
  if (!a->block && !(a->block = cx_malloc(CX_FACT_BLOCK_BYTES))) return CX_ENOMEM;
  size_t i = 0;
  while (i < n) {
    uint32_t blk = cx__rd_be32(a->ents.p + i * FACC_ENT) / CX_FACT_BLOCK;
    unsigned char kb[4];
    cx__be32(kb, blk);
    MDB_val k = {4, kb}, v;
    rc = mdb_get(txn, st->dbi[CX_DBI_FACTS], &k, &v);
    if (rc == 0 && v.mv_size == CX_FACT_BLOCK_BYTES && ((const unsigned char *)v.mv_data)[0] == CX_FACT_VERSION) {
      memcpy(a->block, v.mv_data, CX_FACT_BLOCK_BYTES);
    } else if (rc == 0) {
      cx__store_setmsg(st, "facts block %u: bad size or version", blk);
      return CX_ECORRUPT;
    } else if (rc == MDB_NOTFOUND) {
      memset(a->block, 0, CX_FACT_BLOCK_BYTES);
      a->block[0] = CX_FACT_VERSION;
    } else {
      return cx__store_mdb_err(st, rc, "facts get");
    }
    for (; i < n; i++) {
      const unsigned char *e = a->ents.p + i * FACC_ENT;
      uint32_t seq = cx__rd_be32(e);
      if (seq / CX_FACT_BLOCK != blk) break;
      memcpy(a->block + CX_FACT_HDR + (size_t)(seq % CX_FACT_BLOCK) * CX_FACT_IMG, e + 4, CX_FACT_IMG);
    }
    v = (MDB_val){CX_FACT_BLOCK_BYTES, a->block};
    if ((rc = mdb_put(txn, st->dbi[CX_DBI_FACTS], &k, &v, 0))) return cx__store_mdb_err(st, rc, "facts put");
  }
  a->ents.n = 0;
  return 0;
}

void cx__facc_free(cx_facc *a) {
  cx__buf_free(&a->ents);
  free(a->block);
  a->block = NULL;
}

int cx__facts_rebuild_all(cx_store *st, MDB_txn *txn) {
  int rc = mdb_drop(txn, st->dbi[CX_DBI_FACTS], 0);
  if (rc) return cx__store_mdb_err(st, rc, "facts drop");
  MDB_cursor *cur;
  if ((rc = mdb_cursor_open(txn, st->dbi[CX_DBI_RECORDS], &cur))) return cx__store_mdb_err(st, rc, "cursor");
  cx_facc acc;
  memset(&acc, 0, sizeof acc);
  int err = 0;
  MDB_val k, v;
  /* In slices, so the accumulator stays small on big stores (each block is put once per
   * slice that touches it; records come in key order, so most slices touch most blocks only
   * when the store is small). */
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    const unsigned char *raw;
    size_t rn;
    if ((err = cx__rec_unpack(cx__wdec(st, txn), v.mv_data, v.mv_size, &raw, &rn)) ||
        (err = cx__facc_add(&acc, raw, rn)))
      break;
    if (acc.ents.n >= ((size_t)1 << 26) && (err = cx__facc_apply(&acc, st, txn))) break;
  }
  if (!err && rc != MDB_NOTFOUND) err = cx__store_mdb_err(st, rc, "records scan");
  mdb_cursor_close(cur);
  if (!err) err = cx__facc_apply(&acc, st, txn);
  cx__facc_free(&acc);
  return err;
}

int cx__facts_get(cx_store *st, MDB_txn *txn, uint32_t seq, const unsigned char **img) {
  unsigned char kb[4];
  cx__be32(kb, seq / CX_FACT_BLOCK);
  MDB_val k = {4, kb}, v;
  int rc = mdb_get(txn, st->dbi[CX_DBI_FACTS], &k, &v);
  if (rc == MDB_NOTFOUND) return CX_ENOTFOUND;
  if (rc) return cx__store_mdb_err(st, rc, "facts get");
  const unsigned char *p = v.mv_data;
  if (v.mv_size != CX_FACT_BLOCK_BYTES || p[0] != CX_FACT_VERSION) return CX_ECORRUPT;
  p += CX_FACT_HDR + (size_t)(seq % CX_FACT_BLOCK) * CX_FACT_IMG;
  if (!p[CX_FACT_PRESENT]) return CX_ENOTFOUND;
  *img = p;
  return 0;
}

/* ------------------------------------------------------------------ scan */

/* Stores without the facts DB (opened read-only before a writable open of this build built
 * it): the header-only walk of the records DB. */
static int facts_scan_records(cx_txn *t, cx_fact_fn fn, void *ctx) {
  MDB_cursor *cur;
  int own, rc, err = 0;
  if ((rc = cx__txn_cursor(t, CX_DBI_RECORDS, &cur, &own))) return rc;
  MDB_val k, v;
  cx_fact f;
  cx_recdec local, *d = cx__txn_dec(t, &local);
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    const unsigned char *raw;
    size_t rn;
    if ((err = cx__rec_unpack(d, v.mv_data, v.mv_size, &raw, &rn)) || (err = cx__fact_decode(raw, rn, &f))) break;
    int x = fn(ctx, &f);
    if (x < 0) { err = x; break; }
    if (x > 0) break;
  }
  cx__txn_dec_done(t, d);
  if (!err && rc && rc != MDB_NOTFOUND) err = cx__store_mdb_err(t->st, rc, "facts scan");
  cx__txn_cursor_done(t, CX_DBI_RECORDS, cur, own);
  return err;
}

_Static_assert(CX_FACTS_PER_BLOCK == CX_FACT_BLOCK, "store.h's block size is the layout's");

int cx_store_facts_blocks(cx_txn *t, uint32_t *lo, uint32_t *hi) {
  *lo = *hi = 0;
  if (!t->st->has_facts) return CX_ENOTFOUND;
  MDB_cursor *cur;
  int own, rc, err = 0;
  if ((rc = cx__txn_cursor(t, CX_DBI_FACTS, &cur, &own))) return rc;
  MDB_val k, v;
  if ((rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST)) == 0 && k.mv_size == 4) {
    *lo = cx__rd_be32(k.mv_data);
    if ((rc = mdb_cursor_get(cur, &k, &v, MDB_LAST)) == 0 && k.mv_size == 4) *hi = cx__rd_be32(k.mv_data) + 1;
  }
  if (rc == 0 && (k.mv_size != 4 || *hi <= *lo)) err = CX_ECORRUPT;
  else if (rc && rc != MDB_NOTFOUND) err = cx__store_mdb_err(t->st, rc, "facts range");
  if (err) *lo = *hi = 0;
  cx__txn_cursor_done(t, CX_DBI_FACTS, cur, own);
  return err;
}

/* The facts of one block value: f points at the slots themselves when all are used and valid
 * and aligned (the common case: one pass over the block's enum bytes), else at buf, where the
 * used slots are copied. *n = 0 for a block without records. next (or NULL): the block the
 * scan reads after this one. The pass prefetches a page ahead of itself, running into next
 * at its end (a block spans 5 pages, and the hardware prefetchers stop at page boundaries;
 * a page ahead measured a few % less CPU than the whole next block at once, and ~15 % less
 * than none, on the 10M-record store). */
#define PF_AHEAD 64u
static int block_facts(const unsigned char *p, const unsigned char *next, cx_fact *buf, const cx_fact **f,
                       size_t *n) {
  if (p[0] != CX_FACT_VERSION) return CX_ECORRUPT;
  const unsigned char *s = p + CX_FACT_HDR;
  unsigned all = 1, bad = 0;
  for (unsigned i = 0; i < CX_FACT_BLOCK; i++, s += CX_FACT_IMG) {
    /* PF_AHEAD slots (a page) ahead, into the next block at the end of this one */
    unsigned j = i + PF_AHEAD;
    if (j < CX_FACT_BLOCK) __builtin_prefetch(s + (size_t)PF_AHEAD * CX_FACT_IMG, 0, 3);
    else if (next) __builtin_prefetch(next + CX_FACT_HDR + (size_t)(j - CX_FACT_BLOCK) * CX_FACT_IMG, 0, 3);
    all &= s[CX_FACT_PRESENT];
    bad |= (unsigned)(s[offsetof(cx_fact, category)] >= CX_CAT_COUNT) |
           (unsigned)(s[offsetof(cx_fact, severity)] >= CX_SEV_COUNT) |
           (unsigned)(s[offsetof(cx_fact, status)] >= CX_ST_COUNT);
  }
  s = p + CX_FACT_HDR;
  if (all == 1 && !bad && ((uintptr_t)s % _Alignof(cx_fact)) == 0) {
    *f = (const cx_fact *)(const void *)s;
    *n = CX_FACT_BLOCK;
    return 0;
  }
  size_t m = 0;
  for (unsigned i = 0; i < CX_FACT_BLOCK; i++, s += CX_FACT_IMG) {
    if (!s[CX_FACT_PRESENT]) continue;
    if (s[offsetof(cx_fact, category)] >= CX_CAT_COUNT || s[offsetof(cx_fact, severity)] >= CX_SEV_COUNT ||
        s[offsetof(cx_fact, status)] >= CX_ST_COUNT)
      return CX_ECORRUPT;
    memcpy(&buf[m++], s, sizeof *buf);
  }
  *f = buf;
  *n = m;
  return 0;
}

/* The next block value of the range (cursor moved onto it), or NULL at its end; CX_ECORRUPT
 * or an LMDB error in *err. */
static const unsigned char *next_block(cx_txn *t, MDB_cursor *cur, MDB_cursor_op op, MDB_val *k, uint32_t hi,
                                       int *err) {
  MDB_val v;
  int rc = mdb_cursor_get(cur, k, &v, op);
  if (rc == MDB_NOTFOUND) return NULL;
  if (rc) {
    *err = cx__store_mdb_err(t->st, rc, "facts scan");
    return NULL;
  }
  if (k->mv_size != 4) {
    *err = CX_ECORRUPT;
    return NULL;
  }
  if (cx__rd_be32(k->mv_data) >= hi) return NULL;
  /* The version byte is checked when the block is read (block_facts): reading it here would
   * wait for the block's first line before the previous block's work. */
  if (v.mv_size != CX_FACT_BLOCK_BYTES) {
    *err = CX_ECORRUPT;
    return NULL;
  }
  __builtin_prefetch(v.mv_data, 0, 3);
  return v.mv_data;
}

int cx_store_facts_scan_blocks(cx_txn *t, uint32_t lo, uint32_t hi, cx_facts_fn fn, void *ctx) {
  if (!t->st->has_facts) return CX_ENOTFOUND;
  if (lo >= hi) return 0;
  MDB_cursor *cur;
  int own, rc, err = 0;
  if ((rc = cx__txn_cursor(t, CX_DBI_FACTS, &cur, &own))) return rc;
  unsigned char kb[4];
  cx__be32(kb, lo);
  MDB_val k = {4, kb};
  cx_fact buf[CX_FACT_BLOCK];
  /* One block ahead: the values of a read txn stay mapped until it ends. */
  const unsigned char *p = next_block(t, cur, MDB_SET_RANGE, &k, hi, &err), *np;
  for (; p && !err; p = np) {
    np = next_block(t, cur, MDB_NEXT, &k, hi, &err);
    if (err) break;
    const cx_fact *f;
    size_t n;
    if ((err = block_facts(p, np, buf, &f, &n))) break;
    if (!n) continue;
    int x = fn(ctx, f, n);
    if (x < 0) { err = x; break; }
    if (x > 0) break;
  }
  cx__txn_cursor_done(t, CX_DBI_FACTS, cur, own);
  return err;
}

typedef struct each_ctx {
  cx_fact_fn fn;
  void *ctx;
} each_ctx;

static int each_fact(void *vctx, const cx_fact *f, size_t n) {
  each_ctx *e = vctx;
  for (size_t i = 0; i < n; i++) {
    int x = e->fn(e->ctx, &f[i]);
    if (x) return x;
  }
  return 0;
}

int cx_store_facts_scan(cx_txn *t, cx_fact_fn fn, void *ctx) {
  if (!t->st->has_facts) return facts_scan_records(t, fn, ctx);
  each_ctx e = {fn, ctx};
  return cx_store_facts_scan_blocks(t, 0, UINT32_MAX, each_fact, &e);
}
