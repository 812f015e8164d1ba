/* summary.c — the per-entity summary: builder, codec, per-entity rebuild and full rebuild.
 * Value layout in store_int.h. */
#include <stdlib.h>

#include "store_int.h"

_Static_assert(sizeof(cx_sum_hit) == 32, "cx_sum_hit image is 32 bytes");
_Static_assert(sizeof(cx_sum_rec) == 20, "cx_sum_rec image is 20 bytes");


/* Tolerant resolution for summaries: unknown measure codes (a catalogue replaced since the
 * record was written) are skipped rather than failing the rebuild. */
static uint64_t measures_tolerant(const cx_catalog *cat, cx_str codes) {
  uint64_t mask = 0;
  uint32_t i = 0;
  while (i < codes.n) {
    uint32_t j = i;
    while (j < codes.n && codes.p[j] != ',') j++;
    uint32_t a = i, b = j;
    while (a < b && (codes.p[a] == ' ' || codes.p[a] == '\t')) a++;
    while (b > a && (codes.p[b - 1] == ' ' || codes.p[b - 1] == '\t')) b--;
    if (b > a) {
      int m = cx_catalog_measure(cat, (cx_str){codes.p + a, b - a});
      if (m >= 0 && m < 64) mask |= 1ull << m;
    }
    i = j + 1;
  }
  return mask;
}

uint64_t cx__rec_measures(const cx_catalog *cat, const cx_record *r, int *list_idx) {
  int li = -1;
  if (r->list_type.n) {
    li = cx_catalog_list(cat, r->list_type);
    if (li < 0) li = -1;
  }
  if (list_idx) *list_idx = li;
  if (!r->measures.n) return li >= 0 ? cat->lists[li].defaults : 0;
  uint64_t mask = 0;
  cx_str bad;
  if (cx_catalog_measures(cat, li, r->measures, &mask, &bad) == 0) return mask;
  return measures_tolerant(cat, r->measures);
}

/* ------------------------------------------------------------------ builder */

void cx__sumb_reset(cx_sumb *b, const cx_catalog *cat, uint32_t entity_id, const char code[CX_CODE_LEN]) {
  if (b->cat != cat || !b->restrict_any) {
    b->restrict_any = 0;
    for (uint32_t a = 0; a < cat->n_actions && a < CX_MAX_ACTIONS; a++)
      b->restrict_any |= cat->deny[a] | cat->review[a];
  }
  b->cat = cat;
  b->entity_id = entity_id;
  b->hits.n = b->recs.n = b->hstr.n = b->name.n = b->auth.n = b->out.n = 0;
  b->n_hits = b->n_recs = b->n_chunks = 0;
  b->cuts.n = b->xout.n = 0;
  b->have_first = 0;
  b->kind = 0;
  b->region = 0;
  memcpy(b->code, code, CX_CODE_LEN);
}

int cx__sumb_add(cx_sumb *b, const cx_record *r) {
  if (!b->have_first) {
    b->have_first = 1;
    b->kind = r->entity_kind;
    b->region = r->region;
    if (cx__buf_add(&b->name, r->entity_name.p, r->entity_name.n)) return CX_ENOMEM;
    if (r->entity_kind == CX_KIND_CIVIL_SERVANT &&
        cx__buf_add(&b->auth, r->authority_code.p, r->authority_code.n))
      return CX_ENOMEM;
  }
  cx_sum_rec sr;
  memset(&sr, 0, sizeof sr);
  sr.decision_date = r->decision_date;
  sr.valid_from = r->valid_from;
  sr.valid_until = r->valid_until;
  sr.display_until = r->display_until;
  sr.category = r->category;
  sr.severity = r->severity;
  sr.status = r->status;
  int li;
  uint64_t mask = cx__rec_measures(b->cat, r, &li);
  sr.flags = (uint8_t)((r->objection ? CX_SRF_OBJECTION : 0) | ((mask & b->restrict_any) ? CX_SRF_RESTRICTS : 0) |
                       ((r->subtype & 0x0F) << CX_SRF_SUBTYPE_SHIFT));
  if (cx__buf_add(&b->recs, &sr, sizeof sr)) return CX_ENOMEM;
  b->n_recs++;
  if (r->status != CX_ST_ACTIVE) return 0;
  /* An approval hint (catalogue `advisory`): a second hit, flagged, over the record's display
   * window, holding the record's own measures so that check leaves it out for the actions
   * they restrict. Computed here, at write time, so check of an entity with none pays
   * nothing. */
  cx_day adv_end = 0;
  unsigned adv = cx_catalog_advisory(b->cat, r, &adv_end);
  if (!mask && !adv) return 0;
  /* record_id is at most CX_RECORD_ID_MAX bytes and authority codes 18: anything longer did not
   * come through cx_batch_put. */
  if (r->record_id.n > 255 || r->authority_code.n > 255) return CX_ECORRUPT;
  cx_sum_hit h;
  memset(&h, 0, sizeof h);
  h.valid_from = r->valid_from;
  h.valid_until = r->valid_until;
  h.measures = mask;
  h.seq = r->seq;
  h.authority_id = r->authority_id;
  h.category = r->category;
  h.list_type = li >= 0 ? (uint8_t)li : 0xFF;
  h.flags = r->objection ? CX_SRF_OBJECTION : 0;
  h.severity = r->severity;
  h.str_off = 0; /* set by cx__sumb_finish, which decides the chunk of each hit */
  h.rid_len = (uint8_t)r->record_id.n;
  h.auth_len = (uint8_t)r->authority_code.n;
  if (adv) {
    h.flags |= (uint8_t)(CX_SRF_ADVISORY | (adv << CX_SRF_ADV_SHIFT));
    /* A record without measures: its hit is the hint alone, over its display window. One
     * with measures keeps one hit, over their validity (for a list entry, its listing, which
     * also ends its display): check shows it as a hint for the actions they do not restrict. */
    if (!mask) {
      h.valid_from = r->decision_date;
      h.valid_until = adv_end;
    }
  }
  if (cx__buf_add(&b->hits, &h, sizeof h) ||
      cx__buf_add(&b->hstr, r->record_id.p, r->record_id.n) ||
      cx__buf_add(&b->hstr, r->authority_code.p, r->authority_code.n))
    return CX_ENOMEM;
  b->n_hits++;
  return 0;
}

/* Splits the hits (newest first) into the main value and spill chunks: each part takes at most
 * CX_SUM_MAX_HITS hits and as many as keep its string area within 65535 bytes (str_off is
 * u16). Writes each hit's str_off relative to its part's string area; b->cuts gets one
 * cx_sum_cut per part. */
static int sumb_split(cx_sumb *b, size_t main_base) {
  b->cuts.n = 0;
  uint32_t i = 0;
  size_t soff = 0;
  for (int part = 0; part == 0 || i < b->n_hits; part++) {
    cx_sum_cut c = {.hit = i, .str = (uint32_t)soff, .n_hits = 0, .str_n = 0};
    size_t base = part == 0 ? main_base : 0, used = base;
    while (i < b->n_hits && c.n_hits < CX_SUM_MAX_HITS) {
      unsigned char *hp = b->hits.p + (size_t)i * sizeof(cx_sum_hit);
      cx_sum_hit h;
      memcpy(&h, hp, sizeof h);
      size_t len = (size_t)h.rid_len + h.auth_len;
      if (used + len > 0xFFFF) break;
      h.str_off = (uint16_t)used;
      memcpy(hp, &h, sizeof h);
      used += len;
      soff += len;
      c.n_hits++;
      i++;
    }
    if (part > 0 && c.n_hits == 0) return CX_EINTERNAL; /* a lone hit always fits a chunk */
    c.str_n = (uint32_t)(used - base);
    if (cx__buf_add(&b->cuts, &c, sizeof c)) return CX_ENOMEM;
    if (part >= 0xFFFF) return CX_ETOOLARGE; /* 33 M hits: n_chunks is u16 */
  }
  return 0;
}

int cx__sumb_finish(cx_sumb *b, const cx_summary *old, cx_day last_update) {
  uint8_t kind = b->kind;
  uint32_t region = b->region;
  if (!b->have_first && old) {
    kind = old->kind;
    region = old->region;
    b->name.n = b->auth.n = 0;
    if (cx__buf_add(&b->name, old->name.p, old->name.n) ||
        cx__buf_add(&b->auth, old->authority_code.p, old->authority_code.n))
      return CX_ENOMEM;
  }
  size_t ident = CX_CODE_LEN + b->name.n + b->auth.n;
  int r = sumb_split(b, ident);
  if (r) return r;
  cx_sum_cut c0;
  memcpy(&c0, b->cuts.p, sizeof c0);
  b->n_chunks = (uint32_t)(b->cuts.n / sizeof c0) - 1;
  /* Version 1 unless the entity spills: existing values stay byte-identical. */
  size_t hdr = b->n_chunks ? CX_SUM_HDR2 : CX_SUM_HDR;
  size_t strs = ident + c0.str_n;
  size_t hits_n = (size_t)c0.n_hits * sizeof(cx_sum_hit);
  size_t total = hdr + hits_n + b->recs.n + strs;
  b->out.n = 0;
  if (cx__buf_reserve(&b->out, total)) return CX_ENOMEM;
  unsigned char *p = b->out.p;
  p[0] = b->n_chunks ? CX_SUM_VERSION2 : CX_SUM_VERSION;
  p[1] = kind;
  cx__wr16(p + 2, (uint16_t)c0.n_hits);
  cx__wr32(p + 4, b->entity_id);
  cx__wr32(p + 8, region);
  cx__wr32(p + 12, last_update);
  cx__wr32(p + 16, b->n_recs);
  cx__wr16(p + 20, (uint16_t)b->name.n);
  cx__wr16(p + 22, (uint16_t)b->auth.n);
  cx__wr32(p + 24, (uint32_t)strs);
  if (b->n_chunks) {
    cx__wr16(p + 28, (uint16_t)b->n_chunks);
    cx__wr16(p + 30, 0);
  }
  size_t o = hdr;
  if (hits_n) memcpy(p + o, b->hits.p, hits_n);
  o += hits_n;
  if (b->recs.n) memcpy(p + o, b->recs.p, b->recs.n);
  o += b->recs.n;
  memcpy(p + o, b->code, CX_CODE_LEN);
  o += CX_CODE_LEN;
  if (b->name.n) memcpy(p + o, b->name.p, b->name.n);
  o += b->name.n;
  if (b->auth.n) memcpy(p + o, b->auth.p, b->auth.n);
  o += b->auth.n;
  if (c0.str_n) memcpy(p + o, b->hstr.p, c0.str_n);
  o += c0.str_n;
  b->out.n = o;
  return 0;
}

int cx__sumb_chunk(cx_sumb *b, uint32_t k) {
  if (k < 1 || k > b->n_chunks) return CX_EINTERNAL;
  cx_sum_cut c;
  memcpy(&c, b->cuts.p + (size_t)k * sizeof c, sizeof c);
  size_t hits_n = (size_t)c.n_hits * sizeof(cx_sum_hit);
  b->xout.n = 0;
  if (cx__buf_reserve(&b->xout, CX_SUMX_HDR + hits_n + c.str_n)) return CX_ENOMEM;
  unsigned char *p = b->xout.p;
  p[0] = CX_SUMX_VERSION;
  p[1] = 0;
  cx__wr16(p + 2, (uint16_t)c.n_hits);
  cx__wr32(p + 4, c.str_n);
  memcpy(p + CX_SUMX_HDR, b->hits.p + (size_t)c.hit * sizeof(cx_sum_hit), hits_n);
  memcpy(p + CX_SUMX_HDR + hits_n, b->hstr.p + c.str, c.str_n);
  b->xout.n = CX_SUMX_HDR + hits_n + c.str_n;
  return 0;
}

void cx__sumb_free(cx_sumb *b) {
  cx__buf_free(&b->hits);
  cx__buf_free(&b->recs);
  cx__buf_free(&b->hstr);
  cx__buf_free(&b->name);
  cx__buf_free(&b->auth);
  cx__buf_free(&b->out);
  cx__buf_free(&b->cuts);
  cx__buf_free(&b->xout);
}

/* ------------------------------------------------------------------ codec */

int cx_store_summary_decode(const void *val, size_t n, cx_summary *out) {
  const unsigned char *p = val;
  if (n < CX_SUM_HDR || (p[0] != CX_SUM_VERSION && p[0] != CX_SUM_VERSION2)) return CX_ECORRUPT;
  size_t hdr = CX_SUM_HDR;
  uint32_t n_chunks = 0;
  if (p[0] == CX_SUM_VERSION2) {
    if (n < CX_SUM_HDR2) return CX_ECORRUPT;
    hdr = CX_SUM_HDR2;
    n_chunks = cx__rd16(p + 28);
    if (!n_chunks) return CX_ECORRUPT;
  }
  uint32_t n_hits = cx__rd16(p + 2), n_recs = cx__rd32(p + 16);
  uint32_t name_n = cx__rd16(p + 20), auth_n = cx__rd16(p + 22), strs = cx__rd32(p + 24);
  size_t need = hdr + (size_t)n_hits * sizeof(cx_sum_hit) + (size_t)n_recs * sizeof(cx_sum_rec);
  if (need + strs != n || strs < CX_CODE_LEN + (size_t)name_n + auth_n) return CX_ECORRUPT;
  cx_summary s;
  s.kind = p[1];
  s.entity_id = cx__rd32(p + 4);
  s.region = cx__rd32(p + 8);
  s.last_update = cx__rd32(p + 12);
  s.n_hits = n_hits;
  s.n_recs = n_recs;
  s.n_chunks = n_chunks;
  s.hits_ = p + hdr;
  s.recs_ = s.hits_ + (size_t)n_hits * sizeof(cx_sum_hit);
  s.strs_ = s.recs_ + (size_t)n_recs * sizeof(cx_sum_rec);
  s.code = (cx_str){(const char *)s.strs_, CX_CODE_LEN};
  s.name = (cx_str){(const char *)s.strs_ + CX_CODE_LEN, name_n};
  s.authority_code = (cx_str){(const char *)s.strs_ + CX_CODE_LEN + name_n, auth_n};
  for (uint32_t i = 0; i < n_hits; i++) {
    cx_sum_hit h;
    memcpy(&h, s.hits_ + (size_t)i * sizeof h, sizeof h);
    if ((size_t)h.str_off + h.rid_len + h.auth_len > strs) return CX_ECORRUPT;
  }
  *out = s;
  return 0;
}

/* A spill chunk as a view over s: its hits and string area replace s's. */
static int sumx_decode(const void *val, size_t n, const cx_summary *s, cx_summary *out) {
  const unsigned char *p = val;
  if (n < CX_SUMX_HDR || p[0] != CX_SUMX_VERSION) return CX_ECORRUPT;
  uint32_t n_hits = cx__rd16(p + 2), strs = cx__rd32(p + 4);
  if (n_hits > CX_SUM_MAX_HITS || CX_SUMX_HDR + (size_t)n_hits * sizeof(cx_sum_hit) + strs != n)
    return CX_ECORRUPT;
  cx_summary v = *s;
  v.n_hits = n_hits;
  v.hits_ = p + CX_SUMX_HDR;
  v.strs_ = v.hits_ + (size_t)n_hits * sizeof(cx_sum_hit);
  for (uint32_t i = 0; i < n_hits; i++) {
    cx_sum_hit h;
    memcpy(&h, v.hits_ + (size_t)i * sizeof h, sizeof h);
    if ((size_t)h.str_off + h.rid_len + h.auth_len > strs) return CX_ECORRUPT;
  }
  *out = v;
  return 0;
}

int cx_store_summary_chunk(cx_txn *t, const cx_summary *s, uint32_t k, cx_summary *out) {
  if (k > s->n_chunks) return CX_EBADREQ;
  if (k == 0) {
    *out = *s;
    return 0;
  }
  if (!t->st->has_sumx) return CX_ECORRUPT; /* opened read-only before the DB existed */
  unsigned char kb[CX_CODE_LEN + 2];
  cx__sumx_key(s->code.p, k, kb);
  MDB_val key = {sizeof kb, kb}, v;
  int rc = mdb_get(t->txn, t->st->dbi[CX_DBI_SUMX], &key, &v);
  if (rc == MDB_NOTFOUND) return CX_ECORRUPT;
  if (rc) return cx__store_mdb_err(t->st, rc, "summary chunk get");
  return sumx_decode(v.mv_data, v.mv_size, s, out);
}

/* ------------------------------------------------------------------ rebuild */

int cx__name_key(const char *name, size_t n, const char code[CX_CODE_LEN], unsigned char *out,
                 size_t *klen) {
  size_t l = cx_name_normalize(name, n, (char *)out, CX_NAME_KEY_CAP - CX_CODE_LEN - 1);
  out[l] = 0;
  memcpy(out + l + 1, code, CX_CODE_LEN);
  *klen = l + 1 + CX_CODE_LEN;
  return 0;
}

/* Writes spill chunks 1..b->n_chunks where they differ and deletes chunks past them (the entity
 * had old_chunks). Sets *changed when anything was written. Chunks are rare (entities with more
 * than CX_SUM_MAX_HITS active measure-carrying records), so plain gets and puts. */
static int sumx_write(cx_store *st, MDB_txn *txn, cx_sumb *b, const char code[CX_CODE_LEN],
                      uint32_t old_chunks, int *changed) {
  unsigned char kb[CX_CODE_LEN + 2];
  MDB_val key = {sizeof kb, kb}, v;
  int r;
  for (uint32_t k = 1; k <= b->n_chunks; k++) {
    if ((r = cx__sumb_chunk(b, k))) return r;
    cx__sumx_key(code, k, kb);
    r = mdb_get(txn, st->dbi[CX_DBI_SUMX], &key, &v);
    if (r && r != MDB_NOTFOUND) return cx__store_mdb_err(st, r, "summary chunk get");
    if (!r && v.mv_size == b->xout.n && memcmp(v.mv_data, b->xout.p, b->xout.n) == 0) continue;
    MDB_val nv = {b->xout.n, b->xout.p};
    if ((r = mdb_put(txn, st->dbi[CX_DBI_SUMX], &key, &nv, 0)))
      return cx__store_mdb_err(st, r, "summary chunk put");
    *changed = 1;
  }
  for (uint32_t k = b->n_chunks + 1; k <= old_chunks; k++) {
    cx__sumx_key(code, k, kb);
    r = mdb_del(txn, st->dbi[CX_DBI_SUMX], &key, NULL);
    if (r && r != MDB_NOTFOUND) return cx__store_mdb_err(st, r, "summary chunk del");
    *changed = 1;
  }
  return 0;
}

/* Keeps entity eid's hint (its entities value, cx_entity_hint) in step with its summary s under
 * the store's catalogue: written only when it differs. */
static int hint_write(cx_store *st, MDB_txn *txn, uint32_t eid, const char code[CX_CODE_LEN],
                      const cx_summary *s) {
  cx_entity_hint h, cur;
  cx_entity_hint_of(st->catalog, s, &h);
  unsigned char kb[4], vb[CX_ENT_VAL_HINTED];
  cx__be32(kb, eid);
  MDB_val k = {4, kb}, v;
  int r = mdb_get(txn, st->dbi[CX_DBI_ENTITIES], &k, &v);
  if (r && r != MDB_NOTFOUND) return cx__store_mdb_err(st, r, "entity get");
  if (!r && cx__entity_value_parse(v.mv_data, v.mv_size, &cur) == 0 && cur.known &&
      cur.kind == h.kind && cur.public_end == h.public_end && memcmp(v.mv_data, code, CX_CODE_LEN) == 0)
    return 0;
  cx__entity_value(code, &h, vb);
  MDB_val nv = {sizeof vb, vb};
  if ((r = mdb_put(txn, st->dbi[CX_DBI_ENTITIES], &k, &nv, 0))) return cx__store_mdb_err(st, r, "entity put");
  return 0;
}

int cx__summary_rebuild(cx_store *st, MDB_txn *txn, cx_sumb *b, MDB_cursor *rc, MDB_cursor *sc,
                        uint32_t eid, const char code[CX_CODE_LEN], cx_day today, int *changed) {
  *changed = 0;
  MDB_val key = {CX_CODE_LEN, (void *)code}, val;
  cx_summary old;
  int have_old = 0, r;
  /* Through a cursor: the put below lands on the page this get found (callers go in code order). */
  r = mdb_cursor_get(sc, &key, &val, MDB_SET_KEY);
  if (r && r != MDB_NOTFOUND) return cx__store_mdb_err(st, r, "summary get");
  if (!r) {
    if ((r = cx_store_summary_decode(val.mv_data, val.mv_size, &old))) {
      cx__store_setmsg(st, "corrupt summary for %.18s", code);
      return r;
    }
    have_old = 1;
  }
  cx__sumb_reset(b, st->catalog, eid, code);
  unsigned char kb[4];
  cx__be32(kb, eid);
  MDB_val rk = {4, kb}, rv;
  r = mdb_cursor_get(rc, &rk, &rv, MDB_SET_RANGE);
  while (r == 0) {
    if (rk.mv_size != CX_RECKEY_LEN || memcmp(rk.mv_data, kb, 4) != 0) break;
    cx_record rec;
    if (cx__rec_decode(cx__wdec(st, txn), rv.mv_data, rv.mv_size, &rec)) {
      cx__store_setmsg(st, "corrupt record of entity %u", eid);
      return CX_ECORRUPT;
    }
    if ((r = cx__sumb_add(b, &rec))) return r;
    r = mdb_cursor_get(rc, &rk, &rv, MDB_NEXT);
  }
  if (r && r != MDB_NOTFOUND) return cx__store_mdb_err(st, r, "records scan");
  /* old's strings point into the map: still valid, nothing was written since the get. */
  if ((r = cx__sumb_finish(b, have_old ? &old : NULL, have_old ? old.last_update : today))) return r;
  uint32_t old_chunks = have_old ? old.n_chunks : 0;
  int same = have_old && val.mv_size == b->out.n && memcmp(val.mv_data, b->out.p, b->out.n) == 0;
  if (same) {
    /* The summary is unchanged, so is the name; old is not read after this write. The hint
     * may not be: a new catalogue moves display windows without changing a summary. */
    if ((r = hint_write(st, txn, eid, code, &old))) return r;
    int chunks_changed = 0;
    if ((r = sumx_write(st, txn, b, code, old_chunks, &chunks_changed))) return r;
    if (!chunks_changed) return 0; /* unchanged: keep last_update */
    cx__wr32(b->out.p + CX_SUM_LASTUPD, today);
    MDB_val nv = {b->out.n, b->out.p};
    key = (MDB_val){CX_CODE_LEN, (void *)code};
    if ((r = mdb_put(txn, st->dbi[CX_DBI_SUMMARY], &key, &nv, 0)))
      return cx__store_mdb_err(st, r, "summary put");
    *changed = 1;
    return 0;
  }
  cx__wr32(b->out.p + CX_SUM_LASTUPD, today);
  /* names index: only when the name changed (the old key is built before the put moves pages) */
  unsigned char oldkey[CX_NAME_KEY_CAP], nk[CX_NAME_KEY_CAP];
  size_t oldkey_n = 0, nk_n = 0;
  cx_summary now;
  if (cx_store_summary_decode(b->out.p, b->out.n, &now)) return CX_EINTERNAL;
  if ((r = hint_write(st, txn, eid, code, &now))) return r;
  int name_changed = !have_old || !cx_str_eq(old.name, now.name);
  if (name_changed) {
    if (have_old) cx__name_key(old.name.p, old.name.n, code, oldkey, &oldkey_n);
    cx__name_key(now.name.p, now.name.n, code, nk, &nk_n);
  }
  MDB_val nv = {b->out.n, b->out.p};
  key = (MDB_val){CX_CODE_LEN, (void *)code};
  if ((r = mdb_cursor_put(sc, &key, &nv, 0))) return cx__store_mdb_err(st, r, "summary put");
  *changed = 1;
  int chunks_changed = 0;
  if ((r = sumx_write(st, txn, b, code, old_chunks, &chunks_changed))) return r;
  if (!name_changed || (have_old && oldkey_n == nk_n && memcmp(oldkey, nk, nk_n) == 0)) return 0;
  MDB_val empty = {0, ""};
  if (have_old) {
    MDB_val ok = {oldkey_n, oldkey};
    r = mdb_del(txn, st->dbi[CX_DBI_NAMES], &ok, NULL);
    if (r && r != MDB_NOTFOUND) return cx__store_mdb_err(st, r, "names del");
  }
  MDB_val k2 = {nk_n, nk};
  if ((r = mdb_put(txn, st->dbi[CX_DBI_NAMES], &k2, &empty, 0)))
    return cx__store_mdb_err(st, r, "names put");
  /* keyword index: from the old normalised name's bigrams to the new one's (both keys begin
   * with their normalised name, NUL-terminated) */
  return cx__grams_update(st, txn, eid, have_old ? (const char *)oldkey : NULL,
                          have_old ? oldkey_n - CX_CODE_LEN - 1 : 0, (const char *)nk,
                          nk_n - CX_CODE_LEN - 1);
}

int cx__hints_rebuild_all(cx_store *st, MDB_txn *txn, uint64_t *n) {
  MDB_cursor *ec;
  int r = mdb_cursor_open(txn, st->dbi[CX_DBI_ENTITIES], &ec), err = 0;
  if (r) return cx__store_mdb_err(st, r, "cursor");
  *n = 0;
  MDB_val k, v;
  r = mdb_cursor_get(ec, &k, &v, MDB_FIRST);
  while (r == 0) {
    cx_entity_hint h;
    if (k.mv_size != 4 || cx__entity_value_parse(v.mv_data, v.mv_size, &h)) {
      err = CX_ECORRUPT;
      break;
    }
    char code[CX_CODE_LEN];
    memcpy(code, v.mv_data, CX_CODE_LEN);
    uint32_t eid = cx__rd_be32(k.mv_data);
    MDB_val sk = {CX_CODE_LEN, code}, sv;
    cx_summary s;
    if ((r = mdb_get(txn, st->dbi[CX_DBI_SUMMARY], &sk, &sv)) == 0) {
      if (cx_store_summary_decode(sv.mv_data, sv.mv_size, &s)) {
        cx__store_setmsg(st, "corrupt summary for %.18s", code);
        err = CX_ECORRUPT;
        break;
      }
      if ((err = hint_write(st, txn, eid, code, &s))) break;
      ++*n;
    } else if (r != MDB_NOTFOUND) {
      err = cx__store_mdb_err(st, r, "summary get");
      break;
    }
    if (eid == UINT32_MAX) {
      r = MDB_NOTFOUND;
      break;
    }
    unsigned char nb[4]; /* the put may have moved the cursor's page: the next entry by key */
    cx__be32(nb, eid + 1);
    k = (MDB_val){4, nb};
    r = mdb_cursor_get(ec, &k, &v, MDB_SET_RANGE);
  }
  if (!err && r != MDB_NOTFOUND) err = cx__store_mdb_err(st, r, "entities scan");
  mdb_cursor_close(ec);
  return err;
}

int cx__summary_rebuild_all(cx_store *st, MDB_txn *txn, cx_day today) {
  MDB_cursor *ec = NULL, *rc = NULL, *sc = NULL;
  cx_sumb b;
  memset(&b, 0, sizeof b);
  int r, err = 0;
  if ((r = mdb_cursor_open(txn, st->dbi[CX_DBI_ENTITIES], &ec)) ||
      (r = mdb_cursor_open(txn, st->dbi[CX_DBI_RECORDS], &rc)) ||
      (r = mdb_cursor_open(txn, st->dbi[CX_DBI_SUMMARY], &sc))) {
    err = cx__store_mdb_err(st, r, "cursor");
    goto out;
  }
  MDB_val k, v;
  r = mdb_cursor_get(ec, &k, &v, MDB_FIRST);
  while (r == 0) {
    cx_entity_hint h;
    if (k.mv_size != 4 || cx__entity_value_parse(v.mv_data, v.mv_size, &h)) { err = CX_ECORRUPT; goto out; }
    char code[CX_CODE_LEN];
    memcpy(code, v.mv_data, CX_CODE_LEN);
    uint32_t eid = cx__rd_be32(k.mv_data);
    int changed;
    if ((err = cx__summary_rebuild(st, txn, &b, rc, sc, eid, code, today, &changed))) goto out;
    if (eid == UINT32_MAX) break;
    /* the rebuild may have rewritten this entry (its hint): find the next one by key */
    unsigned char nb[4];
    cx__be32(nb, eid + 1);
    k = (MDB_val){4, nb};
    r = mdb_cursor_get(ec, &k, &v, MDB_SET_RANGE);
  }
  if (r != MDB_NOTFOUND) err = cx__store_mdb_err(st, r, "entities scan");
out:
  if (sc) mdb_cursor_close(sc);
  if (rc) mdb_cursor_close(rc);
  if (ec) mdb_cursor_close(ec);
  cx__sumb_free(&b);
  return err;
}
