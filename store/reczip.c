/* reczip.c — record values with their strings compressed by a trained zstd dictionary
 * (layout: store_int.h, "Record value, version 2"; docs/data-model.md "Record values").
 *
 * Dictionaries live in the meta DB ("zdict/<id>", the bytes ZDICT_trainFromBuffer made;
 * "zdict_cur", the id new values are packed with). A store has none until a batch writes
 * st->zdict_min values: that batch trains the first one on its own values, in its txn, so the
 * dictionary commits with the first values packed with it (all of it or none of it). Values
 * written before stay version 1, readable as they are.
 *
 * Readers load a dictionary on first use and publish it in st->zd[id] for every thread of the
 * process (one ZSTD_DDict per dictionary, shared: it is read-only). A dictionary trained by
 * the writer's txn is not published before that txn commits: until then it is the writer's
 * own (st->zpend), so no reader can ever hold a dictionary an aborted txn made.
 */
#define ZSTD_STATIC_LINKING_ONLY /* magicless frames: ZSTD_c_format, ZSTD_d_format */
#include <stdio.h>
#include <stdlib.h>
#include <zdict.h>
#include <zstd.h>

#include "store_int.h"

/* Level of the writer's compression: with a dictionary, higher levels gain little on values
 * of a few hundred bytes and cost import time (docs/benchmarks.md "Size"). Batches store
 * literals raw (ZSTD_c_literalCompressionMode off): their Huffman decoding was a third of
 * zstd's time in the records page of an imported store (the page 10 % faster, the records DB
 * 7 MB larger at 1M). Compact compresses them: at level 12 the dictionary's matches leave
 * few literals, and the page reads as fast either way (0.9 MB smaller). */
#define ZLEVEL 3
/* chengxin compact's (cx_store_backup_packed): a store is compacted rarely, read often */
#define ZLEVEL_COMPACT 12
/* Dictionary size and training sample bounds. */
#define ZDICT_BYTES (112u << 10)
#define ZSAMPLES_MAX 20000u
#define ZSAMPLE_BYTES_MAX (8u << 20)

struct cx_zdict {
  uint32_t id;
  ZSTD_DDict *dd;
  ZSTD_CDict *cd;          /* the writer's (cx__zdict_current), NULL until then */
  unsigned char *bytes;
  size_t n;
  MDB_txn *owner;          /* pending: the write txn that trained it */
  cx_zdict *next;          /* st->zpend or st->zretired */
};

static void zdict_free(cx_zdict *z) {
  if (!z) return;
  ZSTD_freeDDict(z->dd);
  ZSTD_freeCDict(z->cd);
  free(z->bytes);
  free(z);
}

static int zdict_new(cx_store *st, uint32_t id, const void *bytes, size_t n, cx_zdict **out) {
  cx_zdict *z = cx_calloc(1, sizeof *z);
  if (!z) return CX_ENOMEM;
  z->id = id;
  z->n = n;
  if (!(z->bytes = cx_malloc(n ? n : 1))) {
    free(z);
    return CX_ENOMEM;
  }
  memcpy(z->bytes, bytes, n);
  if (!(z->dd = ZSTD_createDDict(z->bytes, n))) {
    zdict_free(z);
    cx__store_setmsg(st, "record dictionary %u: not a zstd dictionary", id);
    return CX_ECORRUPT;
  }
  *out = z;
  return 0;
}

static void meta_key(char k[24], uint32_t id) { snprintf(k, 24, "zdict/%u", id); }

/* The writer's pending dictionary id (trained by the open write txn), or NULL. */
static cx_zdict *pending(cx_store *st, uint32_t id) {
  for (cx_zdict *z = st->zpend; z; z = z->next)
    if (z->id == id) return z;
  return NULL;
}

static int zdict_get(cx_store *st, MDB_txn *txn, int writer, uint32_t id, const cx_zdict **out) {
  if (id == 0 || id > CX_ZDICT_MAX) {
    cx__store_setmsg(st, "record value with dictionary id %u", id);
    return CX_ECORRUPT;
  }
  cx_zdict *z = atomic_load_explicit(&st->zd[id], memory_order_acquire);
  if (!z && writer) z = pending(st, id);
  if (z) {
    *out = z;
    return 0;
  }
  char key[24];
  meta_key(key, id);
  MDB_val k = {strlen(key), key}, v;
  int rc = mdb_get(txn, st->dbi[CX_DBI_META], &k, &v);
  if (rc == MDB_NOTFOUND) {
    cx__store_setmsg(st, "record value packed with dictionary %u, which the store does not have", id);
    return CX_ECORRUPT;
  }
  if (rc) return cx__store_mdb_err(st, rc, "dictionary get");
  if ((rc = zdict_new(st, id, v.mv_data, v.mv_size, &z))) return rc;
  /* committed before this txn began (a pending one was found above): safe to share */
  cx_zdict *expect = NULL;
  if (!atomic_compare_exchange_strong_explicit(&st->zd[id], &expect, z, memory_order_acq_rel,
                                               memory_order_acquire)) {
    zdict_free(z);
    z = expect;
  }
  *out = z;
  return 0;
}

int cx__zdict_get(cx_store *st, MDB_txn *txn, uint32_t id, const cx_zdict **out) {
  return zdict_get(st, txn, 0, id, out);
}

int cx__zdict_current(cx_store *st, MDB_txn *txn, const cx_zdict **out) {
  *out = NULL;
  uint32_t id;
  int rc = cx__meta_get32(st, txn, "zdict_cur", &id);
  if (rc == CX_ENOTFOUND) return 0;
  if (rc) return rc;
  const cx_zdict *cz;
  if ((rc = zdict_get(st, txn, 1, id, &cz))) return rc;
  cx_zdict *z = (cx_zdict *)cz; /* cd is the writer's: only write txns get here */
  if (!z->cd && !(z->cd = ZSTD_createCDict(z->bytes, z->n, ZLEVEL))) return CX_ENOMEM;
  *out = z;
  return 0;
}

/* Trains dictionary bytes on (a sample of) n version 1 values: *dict (cx_malloc'd, *dn bytes)
 * or NULL when the samples teach nothing. */
static int train_bytes(size_t n, const unsigned char *const *vals, const size_t *lens, unsigned char **dict_out,
                       size_t *dn_out) {
  *dict_out = NULL;
  /* every k-th value, up to the bounds: a sample of the whole batch (each without its
   * version byte: what pack compresses) */
  size_t step = n > ZSAMPLES_MAX ? (n + ZSAMPLES_MAX - 1) / ZSAMPLES_MAX : 1, m = 0, total = 0;
  for (size_t i = 0; i < n; i += step)
    if (lens[i] > 1 && total + (lens[i] - 1) <= ZSAMPLE_BYTES_MAX) {
      total += lens[i] - 1;
      m++;
    }
  if (m < 8) return 0; /* too little to learn from */
  /* a tenth of the samples, within [4 KiB, ZDICT_BYTES] */
  size_t cap = total / 10 < 4096 ? 4096 : total / 10 > ZDICT_BYTES ? ZDICT_BYTES : total / 10;
  unsigned char *buf = cx_malloc(total), *dict = cx_malloc(cap);
  size_t *sizes = cx_malloc(m * sizeof *sizes);
  if (!buf || !dict || !sizes) {
    free(buf);
    free(dict);
    free(sizes);
    return CX_ENOMEM;
  }
  size_t off = 0, j = 0, tot = 0;
  for (size_t i = 0; i < n && j < m; i += step)
    if (lens[i] > 1 && tot + (lens[i] - 1) <= ZSAMPLE_BYTES_MAX) {
      size_t l = lens[i] - 1;
      memcpy(buf + off, vals[i] + 1, l);
      off += l;
      tot += l;
      sizes[j++] = l;
    }
  size_t dn = ZDICT_trainFromBuffer(dict, cap, buf, sizes, (unsigned)m);
  free(buf);
  free(sizes);
  if (ZDICT_isError(dn)) { /* nothing to learn: values stay version 1 */
    free(dict);
    return 0;
  }
  *dict_out = dict;
  *dn_out = dn;
  return 0;
}

int cx__zdict_train(cx_store *st, MDB_txn *txn, size_t n, const unsigned char *const *vals,
                    const size_t *lens, const cx_zdict **out) {
  *out = NULL;
  uint32_t cur = 0;
  int rc = cx__meta_get32(st, txn, "zdict_cur", &cur);
  if (rc && rc != CX_ENOTFOUND) return rc;
  if (cur >= CX_ZDICT_MAX) return 0;
  unsigned char *dict;
  size_t dn = 0;
  if ((rc = train_bytes(n, vals, lens, &dict, &dn)) || !dict) return rc;
  uint32_t id = cur + 1;
  cx_zdict *z;
  rc = zdict_new(st, id, dict, dn, &z);
  free(dict);
  if (rc) return rc;
  char key[24];
  meta_key(key, id);
  MDB_val k = {strlen(key), key}, v = {z->n, z->bytes};
  if ((rc = mdb_put(txn, st->dbi[CX_DBI_META], &k, &v, 0))) {
    zdict_free(z);
    return cx__store_mdb_err(st, rc, "dictionary put");
  }
  if ((rc = cx__meta_put32(st, txn, "zdict_cur", id))) {
    zdict_free(z);
    return rc;
  }
  /* an earlier pending one of the same id (a retried batch) is replaced */
  cx_zdict **pp = &st->zpend;
  while (*pp) {
    if ((*pp)->id == id) {
      cx_zdict *old = *pp;
      *pp = old->next;
      st->wenc.z = st->wdec.z = NULL;
      zdict_free(old);
    } else {
      pp = &(*pp)->next;
    }
  }
  z->owner = txn;
  z->next = st->zpend;
  st->zpend = z;
  return cx__zdict_current(st, txn, out);
}

/* The writer's codecs forget their dictionaries (a pending one may be freed next). */
static void writer_forget(cx_store *st) {
  if (st->wenc.cctx) ZSTD_CCtx_refCDict(st->wenc.cctx, NULL);
  if (st->wdec.dctx) ZSTD_DCtx_refDDict(st->wdec.dctx, NULL);
  st->wenc.z = st->wdec.z = NULL;
}

void cx__zdict_txn_end(cx_store *st, MDB_txn *txn, int top, int committed) {
  if (!st->zpend) return;
  writer_forget(st);
  cx_zdict **pp = &st->zpend;
  while (*pp) {
    cx_zdict *z = *pp;
    int mine = top || z->owner == txn;
    if (!mine) {
      pp = &z->next;
      continue;
    }
    if (!top && committed) { /* a child of the load txn: now the parent's */
      z->owner = st->load_txn;
      pp = &z->next;
      continue;
    }
    *pp = z->next;
    z->next = NULL;
    if (!committed) {
      zdict_free(z);
      continue;
    }
    cx_zdict *expect = NULL;
    if (!atomic_compare_exchange_strong_explicit(&st->zd[z->id], &expect, z, memory_order_acq_rel,
                                                 memory_order_acquire)) {
      /* a reader loaded the committed bytes first: the same dictionary */
      zdict_free(z);
    }
  }
}

void cx__zdict_free_all(cx_store *st) {
  writer_forget(st);
  for (uint32_t i = 0; i <= CX_ZDICT_MAX; i++) {
    zdict_free(atomic_load(&st->zd[i]));
    atomic_store(&st->zd[i], NULL);
  }
  while (st->zpend) {
    cx_zdict *z = st->zpend;
    st->zpend = z->next;
    zdict_free(z);
  }
  cx__recenc_free(&st->wenc);
  cx__recdec_free(&st->wdec);
}

/* ------------------------------------------------------------------ codec */

static size_t uleb_put(unsigned char *p, uint32_t v) {
  size_t n = 0;
  do {
    unsigned char b = v & 0x7f;
    v >>= 7;
    p[n++] = (unsigned char)(b | (v ? 0x80 : 0));
  } while (v);
  return n;
}

static int uleb_get(const unsigned char *p, size_t n, size_t *off, uint32_t *v) {
  uint32_t r = 0;
  for (unsigned sh = 0; sh < 35; sh += 7) {
    if (*off >= n) return CX_ECORRUPT;
    unsigned char b = p[(*off)++];
    r |= (uint32_t)(b & 0x7f) << sh;
    if (!(b & 0x80)) {
      *v = r;
      return 0;
    }
  }
  return CX_ECORRUPT;
}

size_t cx__rec_pack_bound(size_t n) {
  size_t z = 2 + 5 + ZSTD_compressBound(n ? n - 1 : 0);
  return z > n ? z : n;
}

int cx__rec_pack(cx_recenc *e, const cx_zdict *z, const void *raw, size_t n, cx_buf *out) {
  out->n = 0;
  const unsigned char *p = raw;
  if (!z || !z->cd || n <= CX_REC_HDR || p[0] != CX_REC_VERSION || n - 1 > CX_REC_STR_MAX)
    return cx__buf_add(out, raw, n) ? CX_ENOMEM : 0;
  if (!e->cctx) {
    ZSTD_CCtx *c = ZSTD_createCCtx();
    if (!c) return CX_ENOMEM;
    if (ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_format, ZSTD_f_zstd1_magicless)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_contentSizeFlag, 0)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 0)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_dictIDFlag, 0)) ||
        ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_literalCompressionMode,
                                            e->literals ? ZSTD_ps_auto : ZSTD_ps_disable))) {
      ZSTD_freeCCtx(c);
      return CX_EINTERNAL;
    }
    e->cctx = c;
    e->z = NULL;
  }
  if (e->z != z) {
    if (ZSTD_isError(ZSTD_CCtx_refCDict(e->cctx, z->cd))) return CX_EINTERNAL;
    e->z = z;
  }
  size_t sn = n - 1, bound = ZSTD_compressBound(sn);
  if (cx__buf_reserve(out, 2 + 5 + bound)) return CX_ENOMEM;
  unsigned char *o = out->p;
  o[0] = CX_REC_VERSION_Z;
  o[1] = (unsigned char)z->id;
  size_t h = 2 + uleb_put(o + 2, (uint32_t)sn);
  size_t c = ZSTD_compress2(e->cctx, o + h, bound, p + 1, sn);
  if (ZSTD_isError(c)) return CX_EINTERNAL;
  if (h + c >= n) { /* no gain: version 1 */
    out->n = 0;
    return cx__buf_add(out, raw, n) ? CX_ENOMEM : 0;
  }
  out->n = h + c;
  return 0;
}

int cx__rec_unpack(cx_recdec *d, const void *v, size_t n, const unsigned char **raw, size_t *rawn) {
  const unsigned char *p = v;
  if (n >= CX_REC_HDR && p[0] == CX_REC_VERSION) {
    *raw = p;
    *rawn = n;
    return 0;
  }
  cx_store *st = d ? d->st : NULL;
  if (!d || n < 4 || p[0] != CX_REC_VERSION_Z) {
    if (st) cx__store_setmsg(st, "record value of unknown version or size");
    return CX_ECORRUPT;
  }
  size_t off = 2;
  uint32_t sn;
  if (uleb_get(p, n, &off, &sn) || sn < CX_REC_HDR - 1 || sn > CX_REC_STR_MAX) {
    cx__store_setmsg(st, "record value: bad length");
    return CX_ECORRUPT;
  }
  const cx_zdict *z;
  int rc = zdict_get(st, d->txn, d == &st->wdec, p[1], &z);
  if (rc) return rc;
  if (!d->dctx) {
    ZSTD_DCtx *x = ZSTD_createDCtx();
    if (!x) return CX_ENOMEM;
    if (ZSTD_isError(ZSTD_DCtx_setParameter(x, ZSTD_d_format, ZSTD_f_zstd1_magicless))) {
      ZSTD_freeDCtx(x);
      return CX_EINTERNAL;
    }
    d->dctx = x;
    d->z = NULL;
  }
  if (d->z != z) {
    if (ZSTD_isError(ZSTD_DCtx_refDDict(d->dctx, z->dd))) return CX_EINTERNAL;
    d->z = z;
  }
  size_t need = 1 + (size_t)sn;
  if (need > d->cap) {
    size_t cap = d->cap ? d->cap : 1024;
    while (cap < need) cap *= 2;
    unsigned char *b = cx_realloc(d->out, cap);
    if (!b) return CX_ENOMEM;
    d->out = b;
    d->cap = cap;
  }
  size_t got = ZSTD_decompressDCtx(d->dctx, d->out + 1, sn, p + off, n - off);
  if (ZSTD_isError(got) || got != sn) {
    cx__store_setmsg(st, "record value: the compressed bytes do not decode (dictionary %u)", z->id);
    return CX_ECORRUPT;
  }
  d->out[0] = CX_REC_VERSION;
  *raw = d->out;
  *rawn = need;
  return 0;
}

void cx__recdec_init(cx_recdec *d, cx_store *st, MDB_txn *txn) {
  memset(d, 0, sizeof *d);
  d->st = st;
  d->txn = txn;
}

void cx__recdec_free(cx_recdec *d) {
  ZSTD_freeDCtx(d->dctx);
  free(d->out);
  d->dctx = NULL;
  d->out = NULL;
  d->cap = 0;
  d->z = NULL;
}

void cx__recenc_free(cx_recenc *e) {
  ZSTD_freeCCtx(e->cctx);
  e->cctx = NULL;
  e->z = NULL;
}

cx_recdec *cx__wdec(cx_store *st, MDB_txn *txn) {
  st->wdec.st = st;
  st->wdec.txn = txn;
  return &st->wdec;
}

cx_recdec *cx__txn_dec(cx_txn *t, cx_recdec *local) {
  if (!t->dec_busy) {
    t->dec_busy = 1;
    t->dec[0].st = t->st;
    t->dec[0].txn = t->txn;
    return &t->dec[0];
  }
  cx__recdec_init(local, t->st, t->txn);
  return local;
}

void cx__txn_dec_done(cx_txn *t, cx_recdec *d) {
  if (d == &t->dec[0]) t->dec_busy = 0;
  else cx__recdec_free(d);
}

/* ------------------------------------------------------------------ compact's repacker */

/* Training samples from the records DB: every step-th value of txn's snapshot, at most max,
 * unpacked with d into one buffer; vp/len index them for train_bytes or cx__zdict_train. */
typedef struct samples {
  cx_buf vals;
  size_t n, cap, *off, *len;
  const unsigned char **vp;
} samples;

static void samples_free(samples *s) {
  free(s->vp);
  free(s->off);
  free(s->len);
  cx__buf_free(&s->vals);
  memset(s, 0, sizeof *s);
}

static int samples_collect(cx_store *st, MDB_txn *txn, cx_recdec *d, size_t step, size_t max, samples *s) {
  memset(s, 0, sizeof *s);
  MDB_cursor *c;
  int g = mdb_cursor_open(txn, st->dbi[CX_DBI_RECORDS], &c), rc = 0;
  if (g) return cx__store_mdb_err(st, g, "cursor");
  MDB_val k, v;
  size_t i = 0;
  for (g = mdb_cursor_get(c, &k, &v, MDB_FIRST); g == 0 && s->n < max; g = mdb_cursor_get(c, &k, &v, MDB_NEXT)) {
    if (i++ % step) continue;
    const unsigned char *raw;
    size_t rn;
    if ((rc = cx__rec_unpack(d, v.mv_data, v.mv_size, &raw, &rn))) break;
    if (s->n == s->cap) {
      s->cap = s->cap ? 2 * s->cap : 1024;
      size_t *o2 = cx_realloc(s->off, s->cap * sizeof *o2);
      if (o2) s->off = o2;
      size_t *l2 = cx_realloc(s->len, s->cap * sizeof *l2);
      if (l2) s->len = l2;
      if (!o2 || !l2) { rc = CX_ENOMEM; break; }
    }
    s->off[s->n] = s->vals.n;
    s->len[s->n++] = rn;
    if (cx__buf_add(&s->vals, raw, rn)) { rc = CX_ENOMEM; break; }
  }
  mdb_cursor_close(c);
  if (!rc && g && g != MDB_NOTFOUND) rc = cx__store_mdb_err(st, g, "records scan");
  if (!rc && s->n && !(s->vp = cx_malloc(s->n * sizeof *s->vp))) rc = CX_ENOMEM;
  for (size_t j = 0; !rc && j < s->n; j++) s->vp[j] = (const unsigned char *)s->vals.p + s->off[j];
  if (rc) samples_free(s);
  return rc;
}

struct cx_repack {
  cx_store *st;
  cx_recdec dec;   /* bound to the snapshot being copied */
  cx_recenc enc;
  cx_zdict *z;     /* private: its CDict is at ZLEVEL_COMPACT */
  int trained;     /* z is new: the copy's meta gets it (cx__repack_meta) */
  cx_buf out;
};

int cx__repack_begin(cx_store *st, MDB_txn *rt, cx_repack **out) {
  *out = NULL;
  cx_repack *r = cx_calloc(1, sizeof *r);
  if (!r) return CX_ENOMEM;
  r->st = st;
  r->enc.literals = 1; /* read speed: no difference at level 12 (docs/benchmarks.md "Size") */
  cx__recdec_init(&r->dec, st, rt);
  uint32_t cur = 0;
  int rc = cx__meta_get32(st, rt, "zdict_cur", &cur);
  if (rc == 0) { /* the store's dictionary, at a higher level */
    char key[24];
    meta_key(key, cur);
    MDB_val k = {strlen(key), key}, v;
    if ((rc = mdb_get(rt, st->dbi[CX_DBI_META], &k, &v))) rc = cx__store_mdb_err(st, rc, "dictionary get");
    else rc = zdict_new(st, cur, v.mv_data, v.mv_size, &r->z);
  } else if (rc == CX_ENOTFOUND) { /* none yet: one trained on every k-th record */
    rc = 0;
    MDB_stat ms;
    samples sm;
    if ((rc = mdb_stat(rt, st->dbi[CX_DBI_RECORDS], &ms))) rc = cx__store_mdb_err(st, rc, "stat");
    else if (ms.ms_entries >= CX_ZDICT_TRAIN_MIN &&
             !(rc = samples_collect(st, rt, &r->dec, ms.ms_entries / ZSAMPLES_MAX + 1, SIZE_MAX, &sm))) {
      unsigned char *dict = NULL;
      size_t dn = 0;
      if (sm.n) rc = train_bytes(sm.n, sm.vp, sm.len, &dict, &dn);
      if (!rc && dict) {
        rc = zdict_new(st, 1, dict, dn, &r->z);
        r->trained = !rc;
      }
      free(dict);
      samples_free(&sm);
    }
  }
  if (!rc && r->z && !(r->z->cd = ZSTD_createCDict(r->z->bytes, r->z->n, ZLEVEL_COMPACT))) rc = CX_ENOMEM;
  if (rc) {
    cx__repack_end(r);
    return rc;
  }
  *out = r;
  return 0;
}

int cx__repack_value(cx_repack *r, MDB_val *v) {
  const unsigned char *raw;
  size_t rn;
  int rc = cx__rec_unpack(&r->dec, v->mv_data, v->mv_size, &raw, &rn);
  if (!rc) rc = cx__rec_pack(&r->enc, r->z, raw, rn, &r->out);
  if (rc) return rc;
  *v = (MDB_val){r->out.n, r->out.p};
  return 0;
}

int cx__repack_meta(cx_repack *r, MDB_txn *wt, MDB_dbi meta) {
  if (!r->trained) return 0;
  char key[24];
  meta_key(key, r->z->id);
  unsigned char id[4];
  cx__wr32(id, r->z->id);
  MDB_val k = {strlen(key), key}, v = {r->z->n, r->z->bytes}, ck = {9, (void *)"zdict_cur"}, cv = {4, id};
  int rc = mdb_put(wt, meta, &k, &v, 0);
  if (!rc) rc = mdb_put(wt, meta, &ck, &cv, 0);
  return rc ? cx__store_mdb_err(r->st, rc, "dictionary put") : 0;
}

void cx__repack_end(cx_repack *r) {
  if (!r) return;
  cx__recdec_free(&r->dec);
  cx__recenc_free(&r->enc);
  zdict_free(r->z);
  cx__buf_free(&r->out);
  free(r);
}

/* ------------------------------------------------------------------ test hooks */

void cx_store_debug_zdict_min(cx_store *st, uint32_t n) { st->zdict_min = n; }

int cx_store_debug_zdict_retrain(cx_store *st) {
  MDB_txn *txn;
  int err = cx__store_wtxn(st, &txn);
  if (err) return err;
  samples sm;
  const cx_zdict *z = NULL;
  if (!(err = samples_collect(st, txn, cx__wdec(st, txn), 1, ZSAMPLES_MAX, &sm))) {
    err = cx__zdict_train(st, txn, sm.n, sm.vp, sm.len, &z);
    samples_free(&sm);
  }
  if (!err && !z) err = CX_ENOTFOUND;
  if (err) {
    cx__store_wtxn_end(st, txn, 0);
    return err;
  }
  return cx__store_wtxn_end(st, txn, 1);
}

int cx_store_debug_record_value(cx_store *st, const cx_reckey *key, void *buf, size_t cap, size_t *n) {
  MDB_txn *txn;
  int err = cx__store_rtxn(st, &txn);
  if (err) return err;
  unsigned char kb[CX_RECKEY_LEN];
  cx_reckey_encode(key, kb);
  MDB_val k = {CX_RECKEY_LEN, kb}, v;
  int rc = mdb_get(txn, st->dbi[CX_DBI_RECORDS], &k, &v);
  if (rc) err = rc == MDB_NOTFOUND ? CX_ENOTFOUND : cx__store_mdb_err(st, rc, "record get");
  else {
    *n = v.mv_size;
    memcpy(buf, v.mv_data, v.mv_size < cap ? v.mv_size : cap);
  }
  cx__store_rtxn_end(st, txn);
  return err;
}

int cx_store_debug_put_record(cx_store *st, const cx_reckey *key, const void *val, size_t n) {
  MDB_txn *txn;
  int err = cx__store_wtxn(st, &txn);
  if (err) return err;
  unsigned char kb[CX_RECKEY_LEN];
  cx_reckey_encode(key, kb);
  MDB_val k = {CX_RECKEY_LEN, kb}, v = {n, (void *)val};
  int rc = mdb_put(txn, st->dbi[CX_DBI_RECORDS], &k, &v, 0);
  if (rc) {
    cx__store_wtxn_end(st, txn, 0);
    return cx__store_mdb_err(st, rc, "record put");
  }
  return cx__store_wtxn_end(st, txn, 1);
}
