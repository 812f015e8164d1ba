/* rollup.c — rollup cubes: definitions, per-record dimension values and deltas, the per-batch
 * delta accumulator and the read iterator. Key/value layout in store_int.h. */
#include <stdlib.h>

#include "store_int.h"

/* Counters add modulo 2^64: no signed-overflow UB whatever the input, and a cell stays exact
 * under any order of additions and subtractions as long as its true value fits in an i64
 * (amounts are capped at CX_MAX_AMOUNT_FEN per record, so ~92,000 records at the cap in one
 * cell before a sum could leave that range). */
static inline int64_t wrap_add(int64_t a, int64_t b) { return (int64_t)((uint64_t)a + (uint64_t)b); }

const cx_cube_def cx_cubes[] = {
  {5, {CX_DIM_CITY, CX_DIM_CATEGORY, CX_DIM_SUBTYPE, CX_DIM_SEVERITY, CX_DIM_STATUS}},
  /* kind since schema 5: a body's scorecard counts the records of its civil servants */
  {6, {CX_DIM_AUTHORITY, CX_DIM_CATEGORY, CX_DIM_SUBTYPE, CX_DIM_SEVERITY, CX_DIM_KIND, CX_DIM_STATUS}},
  {7, {CX_DIM_PROVINCE, CX_DIM_CATEGORY, CX_DIM_SUBTYPE, CX_DIM_DOMAIN, CX_DIM_SEVERITY,
       CX_DIM_KIND, CX_DIM_STATUS}},
};
const int cx_cube_count = (int)(sizeof cx_cubes / sizeof cx_cubes[0]);

uint32_t cx_record_dim(const cx_record *r, cx_dim dim) {
  int y, m, d;
  switch (dim) {
  case CX_DIM_PROVINCE: return r->region / 10000;
  case CX_DIM_CITY: return r->region / 100;
  case CX_DIM_COUNTY: return r->region;
  case CX_DIM_AUTHORITY: return r->authority_id;
  case CX_DIM_CATEGORY: return r->category;
  case CX_DIM_SUBTYPE: return r->subtype;
  case CX_DIM_DOMAIN: return r->domain;
  case CX_DIM_SEVERITY: return r->severity;
  case CX_DIM_KIND: return r->entity_kind;
  case CX_DIM_STATUS: return r->status;
  case CX_DIM_YEAR: cx_day_to_ymd(r->decision_date, &y, &m, &d); return (uint32_t)y;
  case CX_DIM_QUARTER:
    cx_day_to_ymd(r->decision_date, &y, &m, &d);
    return (uint32_t)y * 10 + (uint32_t)((m - 1) / 3 + 1);
  case CX_DIM_MONTH: cx_day_to_ymd(r->decision_date, &y, &m, &d); return (uint32_t)(y * 100 + m);
  default: return 0;
  }
}

uint32_t cx_fact_dim(const cx_fact *f, cx_dim dim) {
  int y, m, d;
  switch (dim) {
  case CX_DIM_PROVINCE: return f->region / 10000;
  case CX_DIM_CITY: return f->region / 100;
  case CX_DIM_COUNTY: return f->region;
  case CX_DIM_AUTHORITY: return f->authority_id;
  case CX_DIM_CATEGORY: return f->category;
  case CX_DIM_SUBTYPE: return f->subtype;
  case CX_DIM_DOMAIN: return f->domain;
  case CX_DIM_SEVERITY: return f->severity;
  case CX_DIM_KIND: return f->entity_kind;
  case CX_DIM_STATUS: return f->status;
  case CX_DIM_YEAR: cx_day_to_ymd(f->decision_date, &y, &m, &d); return (uint32_t)y;
  case CX_DIM_QUARTER:
    cx_day_to_ymd(f->decision_date, &y, &m, &d);
    return (uint32_t)y * 10 + (uint32_t)((m - 1) / 3 + 1);
  case CX_DIM_MONTH: cx_day_to_ymd(f->decision_date, &y, &m, &d); return (uint32_t)(y * 100 + m);
  default: return 0;
  }
}

static size_t rollup_key_m(int cube, const cx_record *r, uint32_t month, unsigned char *out) {
  const cx_cube_def *c = &cx_cubes[cube];
  out[0] = (unsigned char)cube;
  cx__be16(out + 1, (uint16_t)month);
  for (int i = 0; i < c->n_dims; i++) cx__be32(out + 3 + 4 * i, cx_record_dim(r, (cx_dim)c->dims[i]));
  return 3 + 4 * (size_t)c->n_dims;
}

size_t cx__rollup_key(int cube, const cx_record *r, unsigned char *out) {
  return rollup_key_m(cube, r, cx_day_month(r->decision_date), out);
}

void cx__rollup_delta(const cx_record *r, cx_rollup_cell *d) {
  d->count = 1;
  d->amount = r->amount_fen;
  d->reported = r->report_date != CX_DAY_NONE;
  d->on_time = r->report_date != CX_DAY_NONE && r->on_time;
  d->delay_sum = r->report_date != CX_DAY_NONE && r->report_delay > 0 ? r->report_delay : 0;
  d->provisional = r->report_date != CX_DAY_NONE && r->delay_provisional;
}

/* Cells: the six counters as zigzag LEB128 varints (schema 6; 48 fixed bytes before). Most
 * are small: a cell is 8 to 15 bytes. */
static size_t zz_put(unsigned char *p, int64_t v) {
  uint64_t u = ((uint64_t)v << 1) ^ (uint64_t)(v >> 63);
  size_t n = 0;
  while (u >= 0x80) {
    p[n++] = (unsigned char)(u | 0x80);
    u >>= 7;
  }
  p[n++] = (unsigned char)u;
  return n;
}

static int zz_get(const unsigned char *p, size_t n, size_t *off, int64_t *v) {
  uint64_t u = 0;
  for (unsigned sh = 0; sh < 64; sh += 7) {
    if (*off >= n) return CX_ECORRUPT;
    unsigned char b = p[(*off)++];
    u |= (uint64_t)(b & 0x7f) << sh;
    if (!(b & 0x80)) {
      *v = (int64_t)(u >> 1) ^ -(int64_t)(u & 1);
      return 0;
    }
  }
  return CX_ECORRUPT;
}

int cx__cell_decode(const void *v, size_t n, cx_rollup_cell *c) {
  const unsigned char *p = v;
  size_t off = 0;
  if (zz_get(p, n, &off, &c->count) || zz_get(p, n, &off, &c->amount) || zz_get(p, n, &off, &c->reported) ||
      zz_get(p, n, &off, &c->on_time) || zz_get(p, n, &off, &c->delay_sum) ||
      zz_get(p, n, &off, &c->provisional) || off != n)
    return CX_ECORRUPT;
  return 0;
}

size_t cx__cell_encode(const cx_rollup_cell *c, unsigned char out[CX_ROLLUP_VAL_MAX]) {
  size_t n = zz_put(out, c->count);
  n += zz_put(out + n, c->amount);
  n += zz_put(out + n, c->reported);
  n += zz_put(out + n, c->on_time);
  n += zz_put(out + n, c->delay_sum);
  n += zz_put(out + n, c->provisional);
  return n;
}

/* ------------------------------------------------------------------ accumulator */

int cx__racc_add(cx_racc *a, const cx_record *r, int sign) {
  cx_rollup_cell d;
  cx__rollup_delta(r, &d);
  uint32_t month = cx_day_month(r->decision_date);
  for (int c = 0; c < cx_cube_count; c++) {
    unsigned char key[CX_ROLLUP_KEY_MAX];
    size_t n = rollup_key_m(c, r, month, key);
    int found;
    uint32_t *slot = cx__hmap_put(&a->map, key, n, &found);
    if (!slot) return CX_ENOMEM;
    if (!found) {
      if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 256;
        cx_rollup_cell *cells = cx_realloc(a->cells, cap * sizeof *cells);
        if (!cells) return CX_ENOMEM;
        a->cells = cells;
        unsigned char **kp = cx_realloc(a->kp, cap * sizeof *kp);
        if (!kp) return CX_ENOMEM;
        a->kp = kp;
        unsigned char *kn = cx_realloc(a->kn, cap);
        if (!kn) return CX_ENOMEM;
        a->kn = kn;
        a->cap = cap;
      }
      /* The map copied the key into its arena: find that copy for sorting later. */
      cx_hent *e = (cx_hent *)((char *)slot - offsetof(cx_hent, v));
      a->kp[a->n] = (unsigned char *)e->k;
      a->kn[a->n] = (unsigned char)n;
      memset(&a->cells[a->n], 0, sizeof a->cells[0]);
      *slot = (uint32_t)a->n++;
    }
    cx_rollup_cell *cell = &a->cells[*slot];
    cell->count = wrap_add(cell->count, sign * d.count);
    cell->amount = wrap_add(cell->amount, sign * d.amount);
    cell->reported = wrap_add(cell->reported, sign * d.reported);
    cell->on_time = wrap_add(cell->on_time, sign * d.on_time);
    cell->delay_sum = wrap_add(cell->delay_sum, sign * d.delay_sum);
    cell->provisional = wrap_add(cell->provisional, sign * d.provisional);
  }
  return 0;
}

typedef struct rkey {
  unsigned char k[CX_ROLLUP_KEY_MAX]; /* zero-padded: the cube id (first byte) fixes the length */
  uint32_t i;
} rkey;

int cx__racc_apply(cx_racc *a, cx_store *st, MDB_txn *txn) {
  if (!a->n) return 0;
  rkey *ord = cx_calloc(a->n, sizeof *ord);
  if (!ord) return CX_ENOMEM;
  for (size_t i = 0; i < a->n; i++) {
    memcpy(ord[i].k, a->kp[i], a->kn[i]);
    ord[i].i = (uint32_t)i;
  }
  int rs = cx__radix_sort(ord, a->n, sizeof *ord, CX_ROLLUP_KEY_MAX);
  if (rs) {
    free(ord);
    return rs;
  }
  MDB_cursor *cur = NULL;
  int rc = mdb_cursor_open(txn, st->dbi[CX_DBI_ROLLUP], &cur);
  if (rc) {
    free(ord);
    return cx__store_mdb_err(st, rc, "rollup cursor");
  }
  int err = 0;
  for (size_t k = 0; k < a->n; k++) {
    uint32_t i = ord[k].i;
    const cx_rollup_cell *d = &a->cells[i];
    if ((k & 4095) == 4095) cx__store_trim(st);
    if (!d->count && !d->amount && !d->reported && !d->on_time && !d->delay_sum && !d->provisional) continue;
    MDB_val key = {a->kn[i], a->kp[i]}, val;
    cx_rollup_cell c = {0, 0, 0, 0, 0, 0};
    rc = mdb_cursor_get(cur, &key, &val, MDB_SET_KEY);
    int exists = rc == 0;
    if (rc && rc != MDB_NOTFOUND) { err = cx__store_mdb_err(st, rc, "rollup get"); break; }
    if (exists && cx__cell_decode(val.mv_data, val.mv_size, &c)) {
      err = CX_ECORRUPT;
      cx__store_setmsg(st, "malformed rollup cell");
      break;
    }
    c.count = wrap_add(c.count, d->count);
    c.amount = wrap_add(c.amount, d->amount);
    c.reported = wrap_add(c.reported, d->reported);
    c.on_time = wrap_add(c.on_time, d->on_time);
    c.delay_sum = wrap_add(c.delay_sum, d->delay_sum);
    c.provisional = wrap_add(c.provisional, d->provisional);
    if (c.count <= 0) {
      if (exists && (rc = mdb_cursor_del(cur, 0))) { err = cx__store_mdb_err(st, rc, "rollup del"); break; }
    } else {
      unsigned char buf[CX_ROLLUP_VAL_MAX];
      MDB_val v = {cx__cell_encode(&c, buf), buf};
      key = (MDB_val){a->kn[i], a->kp[i]};
      if ((rc = mdb_cursor_put(cur, &key, &v, 0))) { err = cx__store_mdb_err(st, rc, "rollup put"); break; }
    }
  }
  mdb_cursor_close(cur);
  free(ord);
  return err;
}

void cx__racc_free(cx_racc *a) {
  cx__hmap_free(&a->map);
  free(a->cells);
  free(a->kp);
  free(a->kn);
  memset(a, 0, sizeof *a);
}

/* ------------------------------------------------------------------ reads */

/* A cell of cube def at key k (its month already read) to fn: fn's return, or CX_ECORRUPT. */
static int emit_cell(const cx_cube_def *def, const unsigned char *k, uint32_t month, const MDB_val *val,
                     cx_rollup_fn fn, void *ctx) {
  cx_rollup_cell c;
  if (cx__cell_decode(val->mv_data, val->mv_size, &c)) return CX_ECORRUPT;
  uint32_t dims[CX_CUBE_MAX_DIMS];
  for (int i = 0; i < def->n_dims; i++) dims[i] = cx__rd_be32(k + 3 + 4 * i);
  return fn(ctx, month, dims, &c);
}

int cx_store_rollup_each(cx_txn *t, int cube, uint32_t month_from, uint32_t month_to,
                         cx_rollup_fn fn, void *ctx) {
  if (cube < 0 || cube >= cx_cube_count) return CX_EBADREQ;
  if (month_from > 0xFFFF) return 0;
  if (month_to > 0xFFFF) month_to = 0xFFFF;
  if (month_from > month_to) return 0;
  MDB_cursor *cur;
  int own, rc;
  if ((rc = cx__txn_cursor(t, CX_DBI_ROLLUP, &cur, &own))) return rc;
  const cx_cube_def *def = &cx_cubes[cube];
  unsigned char kb[3];
  kb[0] = (unsigned char)cube;
  cx__be16(kb + 1, (uint16_t)month_from);
  MDB_val key = {3, kb}, val;
  int err = 0;
  rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
  while (rc == 0) {
    const unsigned char *k = key.mv_data;
    if (key.mv_size != 3 + 4 * (size_t)def->n_dims || k[0] != cube) break;
    uint32_t month = cx__rd_be16(k + 1);
    if (month > month_to) break;
    int r = emit_cell(def, k, month, &val, fn, ctx);
    if (r < 0) { err = r; break; }
    if (r > 0) break;
    rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
  }
  if (!err && rc && rc != MDB_NOTFOUND) err = cx__store_mdb_err(t->st, rc, "rollup scan");
  cx__txn_cursor_done(t, CX_DBI_ROLLUP, cur, own);
  return err;
}

int cx_store_rollup_each_dim0(cx_txn *t, int cube, uint32_t month_from, uint32_t month_to,
                              uint32_t dim0, cx_rollup_fn fn, void *ctx) {
  if (cube < 0 || cube >= cx_cube_count) return CX_EBADREQ;
  if (month_from > 0xFFFF) return 0;
  if (month_to > 0xFFFF) month_to = 0xFFFF;
  MDB_cursor *cur;
  int own, rc;
  if ((rc = cx__txn_cursor(t, CX_DBI_ROLLUP, &cur, &own))) return rc;
  const cx_cube_def *def = &cx_cubes[cube];
  int err = 0;
  for (uint32_t month = month_from; month <= month_to && !err; month++) {
    unsigned char kb[7];
    kb[0] = (unsigned char)cube;
    cx__be16(kb + 1, (uint16_t)month);
    cx__be32(kb + 3, dim0);
    MDB_val key = {7, kb}, val;
    rc = mdb_cursor_get(cur, &key, &val, MDB_SET_RANGE);
    while (rc == 0) {
      const unsigned char *k = key.mv_data;
      if (key.mv_size != 3 + 4 * (size_t)def->n_dims || memcmp(k, kb, 7) != 0) break;
      int r = emit_cell(def, k, month, &val, fn, ctx);
      if (r < 0) { err = r; break; }
      if (r > 0) { month = month_to; break; }
      rc = mdb_cursor_get(cur, &key, &val, MDB_NEXT);
    }
    if (!err && rc && rc != MDB_NOTFOUND) err = cx__store_mdb_err(t->st, rc, "rollup seek");
    if (month == 0xFFFF) break;
  }
  cx__txn_cursor_done(t, CX_DBI_ROLLUP, cur, own);
  return err;
}
