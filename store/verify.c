/* verify.c — recompute every summary and rollup cell from the records and compare; check the
 * names and keyword (grams) indexes against the summaries' names. */
#include <stdio.h>
#include <stdarg.h>
#include <stdlib.h>

#include "store_int.h"

static void report(long *n, cx_verify_fn fn, void *ctx, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void report(long *n, cx_verify_fn fn, void *ctx, const char *fmt, ...) {
  (*n)++;
  if (!fn) return;
  char buf[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(buf, sizeof buf, fmt, ap);
  va_end(ap);
  fn(ctx, buf);
}

long cx_store_verify(cx_store *st, cx_verify_fn fn, void *ctx) {
  MDB_txn *txn = NULL;
  MDB_cursor *ec = NULL, *rc_ = NULL, *uc = NULL, *gc = NULL;
  cx_racc acc;
  cx_sumb b;
  unsigned char *seen = NULL;
  memset(&acc, 0, sizeof acc);
  memset(&b, 0, sizeof b);
  long diffs = 0;
  int rc, err = 0;
  uint64_t recs_seen = 0, chunks_want = 0, grams_want = 0;
  if ((rc = cx__store_rtxn(st, &txn))) return rc;
  cx_recdec dec;
  cx__recdec_init(&dec, st, txn);
  if ((rc = mdb_cursor_open(txn, st->dbi[CX_DBI_ENTITIES], &ec)) ||
      (rc = mdb_cursor_open(txn, st->dbi[CX_DBI_RECORDS], &rc_)) ||
      (rc = mdb_cursor_open(txn, st->dbi[CX_DBI_ROLLUP], &uc)) ||
      (rc = mdb_cursor_open(txn, st->dbi[CX_DBI_GRAMS], &gc))) {
    err = cx__store_mdb_err(st, rc, "cursor");
    goto out;
  }
  MDB_val k, v;
  rc = mdb_cursor_get(ec, &k, &v, MDB_FIRST);
  for (; rc == 0; rc = mdb_cursor_get(ec, &k, &v, MDB_NEXT)) {
    cx_entity_hint hint;
    if (k.mv_size != 4 || cx__entity_value_parse(v.mv_data, v.mv_size, &hint)) {
      report(&diffs, fn, ctx, "entities: malformed entry");
      continue;
    }
    uint32_t eid = cx__rd_be32(k.mv_data);
    char code[CX_CODE_LEN];
    memcpy(code, v.mv_data, CX_CODE_LEN);
    cx__sumb_reset(&b, st->catalog, eid, code);
    unsigned char kb[4];
    cx__be32(kb, eid);
    MDB_val rk = {4, kb}, rv;
    int r = mdb_cursor_get(rc_, &rk, &rv, MDB_SET_RANGE);
    for (; r == 0; r = mdb_cursor_get(rc_, &rk, &rv, MDB_NEXT)) {
      if (rk.mv_size != CX_RECKEY_LEN || memcmp(rk.mv_data, kb, 4) != 0) break;
      cx_record rec;
      recs_seen++;
      const unsigned char *raw;
      size_t rn;
      if (cx__rec_unpack(&dec, rv.mv_data, rv.mv_size, &raw, &rn) || cx__rec_decode(NULL, raw, rn, &rec)) {
        report(&diffs, fn, ctx, "record of entity %u: corrupt value", eid);
        continue;
      }
      cx_reckey key;
      cx_reckey_decode(rk.mv_data, &key);
      if (rec.entity_id != eid || rec.decision_date != key.decision_date || rec.seq != key.seq ||
          rec.entity_code.n != CX_CODE_LEN || memcmp(rec.entity_code.p, code, CX_CODE_LEN) != 0)
        report(&diffs, fn, ctx, "record %u/%u: key and value disagree", eid, key.seq);
      if ((err = cx__sumb_add(&b, &rec)) || (err = cx__racc_add(&acc, &rec, 1))) goto out;
      if (st->has_facts) { /* the record's fact slot */
        unsigned char want[CX_FACT_IMG];
        const unsigned char *img;
        if ((err = cx__fact_image(raw, rn, want))) goto out;
        int fr = cx__facts_get(st, txn, rec.seq, &img);
        if (fr == CX_ENOTFOUND) report(&diffs, fn, ctx, "facts: no slot for record %u/%u", eid, key.seq);
        else if (fr == CX_ECORRUPT) report(&diffs, fn, ctx, "facts: corrupt block of record %u/%u", eid, key.seq);
        else if (fr) { err = fr; goto out; }
        else if (memcmp(img, want, CX_FACT_IMG) != 0)
          report(&diffs, fn, ctx, "facts: slot of record %u/%u differs from it", eid, key.seq);
      }
    }
    if (r && r != MDB_NOTFOUND) { err = cx__store_mdb_err(st, r, "records scan"); goto out; }
    MDB_val sk = {CX_CODE_LEN, code}, sv;
    r = mdb_get(txn, st->dbi[CX_DBI_SUMMARY], &sk, &sv);
    if (r) {
      report(&diffs, fn, ctx, "summary %.18s: missing", code);
      continue;
    }
    cx_summary old;
    if (cx_store_summary_decode(sv.mv_data, sv.mv_size, &old)) {
      report(&diffs, fn, ctx, "summary %.18s: corrupt", code);
      continue;
    }
    unsigned char nk[CX_NAME_KEY_CAP];
    size_t nk_n;
    cx__name_key(old.name.p, old.name.n, code, nk, &nk_n);
    MDB_val nkv = {nk_n, nk}, nv;
    if (mdb_get(txn, st->dbi[CX_DBI_NAMES], &nkv, &nv))
      report(&diffs, fn, ctx, "names: no entry for %.18s", code);
    { /* keyword index: every bigram of the normalised name lists the entity */
      cx_str g[CX_NAME_GRAMS_MAX];
      size_t ng = cx_name_grams((const char *)nk, nk_n - CX_CODE_LEN - 1, g, CX_NAME_GRAMS_MAX);
      grams_want += ng;
      for (size_t i = 0; i < ng; i++) {
        int h = cx__grams_has(st, gc, g[i], eid);
        if (h < 0) { err = h; goto out; }
        if (!h) report(&diffs, fn, ctx, "grams: entity %u missing from the list of \"%.*s\"", eid, (int)g[i].n, g[i].p);
      }
    }
    if ((err = cx__sumb_finish(&b, &old, old.last_update))) goto out;
    cx_summary want_s;
    if (hint.known && cx_store_summary_decode(b.out.p, b.out.n, &want_s) == 0) {
      /* against the summary its records give (a wrong stored summary is reported below) */
      cx_entity_hint want;
      cx_entity_hint_of(st->catalog, &want_s, &want);
      if (hint.kind != want.kind || hint.public_end != want.public_end)
        report(&diffs, fn, ctx, "entities: the hint of %.18s differs from its records", code);
    }
    if (b.out.n != sv.mv_size || memcmp(b.out.p, sv.mv_data, b.out.n) != 0)
      report(&diffs, fn, ctx, "summary %.18s: differs from its records (%u records, %u hits stored; %u, %u expected)",
             code, old.n_recs, old.n_hits, b.n_recs, b.n_hits);
    /* spill chunks: the ones the records give, and none past them */
    uint32_t n_ck = b.n_chunks > old.n_chunks ? b.n_chunks : old.n_chunks;
    for (uint32_t ck = 1; ck <= n_ck; ck++) {
      unsigned char xk[CX_CODE_LEN + 2];
      cx__sumx_key(code, ck, xk);
      MDB_val xkv = {sizeof xk, xk}, xv;
      int have = st->has_sumx && mdb_get(txn, st->dbi[CX_DBI_SUMX], &xkv, &xv) == 0;
      if (ck > b.n_chunks) {
        if (have) report(&diffs, fn, ctx, "summary %.18s: stray hit chunk %u", code, ck);
        continue;
      }
      if ((err = cx__sumb_chunk(&b, ck))) goto out;
      if (!have)
        report(&diffs, fn, ctx, "summary %.18s: hit chunk %u missing", code, ck);
      else if (xv.mv_size != b.xout.n || memcmp(xv.mv_data, b.xout.p, b.xout.n) != 0)
        report(&diffs, fn, ctx, "summary %.18s: hit chunk %u differs from its records", code, ck);
    }
    chunks_want += b.n_chunks;
  }
  if (rc != MDB_NOTFOUND) { err = cx__store_mdb_err(st, rc, "entities scan"); goto out; }

  MDB_stat s;
  if (!mdb_stat(txn, st->dbi[CX_DBI_RECORDS], &s) && s.ms_entries != recs_seen)
    report(&diffs, fn, ctx, "records: %zu stored, %llu reachable from entities", s.ms_entries,
           (unsigned long long)recs_seen);
  MDB_stat s2;
  if (!mdb_stat(txn, st->dbi[CX_DBI_RECORD_REF], &s2) && s2.ms_entries != s.ms_entries)
    report(&diffs, fn, ctx, "record_ref: %zu refs for %zu records", s2.ms_entries, s.ms_entries);
  if (!mdb_stat(txn, st->dbi[CX_DBI_ENTITIES], &s) && !mdb_stat(txn, st->dbi[CX_DBI_SUMMARY], &s2) &&
      s.ms_entries != s2.ms_entries)
    report(&diffs, fn, ctx, "summary: %zu summaries for %zu entities", s2.ms_entries, s.ms_entries);
  if (!mdb_stat(txn, st->dbi[CX_DBI_NAMES], &s) && s.ms_entries != s2.ms_entries)
    report(&diffs, fn, ctx, "names: %zu entries for %zu summaries", s.ms_entries, s2.ms_entries);
  if (!mdb_stat(txn, st->dbi[CX_DBI_GRAMS], &s) && s.ms_entries != grams_want)
    report(&diffs, fn, ctx, "grams: %zu (bigram, entity) entries, the names give %llu", s.ms_entries,
           (unsigned long long)grams_want);
  if (st->has_sumx && !mdb_stat(txn, st->dbi[CX_DBI_SUMX], &s) && s.ms_entries != chunks_want)
    report(&diffs, fn, ctx, "summary_x: %zu hit chunks stored, %llu expected", s.ms_entries,
           (unsigned long long)chunks_want);

  /* facts: no slot without its record */
  if (st->has_facts) {
    uint64_t present = 0;
    MDB_cursor *fc;
    if ((rc = mdb_cursor_open(txn, st->dbi[CX_DBI_FACTS], &fc))) { err = cx__store_mdb_err(st, rc, "cursor"); goto out; }
    for (rc = mdb_cursor_get(fc, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(fc, &k, &v, MDB_NEXT)) {
      const unsigned char *p = v.mv_data;
      if (v.mv_size != CX_FACT_BLOCK_BYTES || p[0] != CX_FACT_VERSION) continue; /* reported above */
      for (uint32_t i = 0; i < CX_FACT_BLOCK; i++) present += p[CX_FACT_HDR + (size_t)i * CX_FACT_IMG + CX_FACT_PRESENT] != 0;
    }
    mdb_cursor_close(fc);
    if (rc != MDB_NOTFOUND) { err = cx__store_mdb_err(st, rc, "facts scan"); goto out; }
    if (present != recs_seen)
      report(&diffs, fn, ctx, "facts: %llu slots for %llu records", (unsigned long long)present,
             (unsigned long long)recs_seen);
  }

  /* rollups */
  seen = cx_calloc(acc.n ? acc.n : 1, 1);
  if (!seen) { err = CX_ENOMEM; goto out; }
  rc = mdb_cursor_get(uc, &k, &v, MDB_FIRST);
  for (; rc == 0; rc = mdb_cursor_get(uc, &k, &v, MDB_NEXT)) {
    const unsigned char *kp = k.mv_data;
    uint32_t *slot = cx__hmap_get(&acc.map, kp, k.mv_size);
    cx_rollup_cell c, *want = slot ? &acc.cells[*slot] : NULL;
    if (cx__cell_decode(v.mv_data, v.mv_size, &c)) {
      report(&diffs, fn, ctx, "rollup cell: malformed value");
      continue;
    }
    if (slot) seen[*slot] = 1;
    if (!want || want->count != c.count || want->amount != c.amount || want->reported != c.reported ||
        want->on_time != c.on_time || want->delay_sum != c.delay_sum || want->provisional != c.provisional)
      report(&diffs, fn, ctx, "rollup cube %u month %u: stored count %lld, records give %lld", kp[0],
             k.mv_size >= 3 ? cx__rd_be16(kp + 1) : 0, (long long)c.count,
             (long long)(want ? want->count : 0));
  }
  if (rc != MDB_NOTFOUND) { err = cx__store_mdb_err(st, rc, "rollup scan"); goto out; }
  for (size_t i = 0; i < acc.n; i++)
    if (!seen[i] && acc.cells[i].count)
      report(&diffs, fn, ctx, "rollup cube %u month %u: missing cell (%lld records)", acc.kp[i][0],
             cx__rd_be16(acc.kp[i] + 1), (long long)acc.cells[i].count);

  /* audit log: seqs 1..N without a gap, every value decodes (it is append-only) */
  {
    MDB_cursor *ac = NULL;
    if ((rc = mdb_cursor_open(txn, st->dbi[CX_DBI_AUDIT], &ac))) { err = cx__store_mdb_err(st, rc, "cursor"); goto out; }
    uint64_t want_seq = 1;
    rc = mdb_cursor_get(ac, &k, &v, MDB_FIRST);
    for (; rc == 0; rc = mdb_cursor_get(ac, &k, &v, MDB_NEXT), want_seq++) {
      cx_audit_entry ae;
      uint64_t seq = k.mv_size == 8 ? (uint64_t)cx__rd_be32(k.mv_data) << 32 |
                                          cx__rd_be32((const unsigned char *)k.mv_data + 4) : 0;
      if (seq != want_seq) {
        report(&diffs, fn, ctx, "audit: entry %llu found where %llu was expected (gap or bad key)",
               (unsigned long long)seq, (unsigned long long)want_seq);
        want_seq = seq;
      }
      if (cx__audit_decode(v.mv_data, v.mv_size, &ae))
        report(&diffs, fn, ctx, "audit: entry %llu does not decode", (unsigned long long)seq);
    }
    mdb_cursor_close(ac);
    if (rc != MDB_NOTFOUND) { err = cx__store_mdb_err(st, rc, "audit scan"); goto out; }
  }
out:
  free(seen);
  if (gc) mdb_cursor_close(gc);
  if (uc) mdb_cursor_close(uc);
  if (rc_) mdb_cursor_close(rc_);
  if (ec) mdb_cursor_close(ec);
  cx__store_rtxn_end(st, txn);
  cx__recdec_free(&dec);
  cx__racc_free(&acc);
  cx__sumb_free(&b);
  return err ? err : diffs;
}
