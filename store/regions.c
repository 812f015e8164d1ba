/*
 * regions.c — the region tables (GB/T 2260 codes): the current table and the historic one,
 * their file formats and validation, loading them into the regions DB, and lookups.
 *
 * Registration codes outlive regions: a USCC keeps the county code of the authority that
 * registered it, an ID number the county of its first issue. So a code the current table no
 * longer has is looked up in the historic table (codes since 1981 with their years of use).
 */
#include <stdarg.h>
#include <stdio.h>

#include "store_int.h"

#define REGION_NAME_MAX 255u /* longest name accepted: the longest real one is 30 bytes */
#define YEAR_MIN 1949
#define YEAR_MAX 2100

/* ------------------------------------------------------------------ lines */

typedef struct line_it {
  const char *p, *end;
  int line; /* 1-based number of the line last returned */
} line_it;

/* Next line that is neither empty nor a comment, without its "\n" or "\r\n"; 0 at the end. */
static int next_line(line_it *it, cx_str *out) {
  while (it->p && it->p < it->end) {
    const char *nl = memchr(it->p, '\n', (size_t)(it->end - it->p));
    const char *le = nl ? nl : it->end;
    cx_str l = {it->p, (uint32_t)(le - it->p)};
    it->p = nl ? nl + 1 : it->end;
    it->line++;
    if (l.n && l.p[l.n - 1] == '\r') l.n--;
    if (l.n == 0 || l.p[0] == '#') continue;
    *out = l;
    return 1;
  }
  return 0;
}

/* Splits at tabs into at most cap fields; returns how many there are (cap + 1: too many). */
static int split_tabs(cx_str l, cx_str *f, int cap) {
  int n = 0;
  const char *p = l.p, *end = l.p + l.n;
  for (;;) {
    const char *t = memchr(p, '\t', (size_t)(end - p));
    const char *fe = t ? t : end;
    if (n == cap) return cap + 1;
    f[n++] = (cx_str){p, (uint32_t)(fe - p)};
    if (!t) return n;
    p = t + 1;
  }
}

static int digits(cx_str s, uint32_t len, uint32_t *v) {
  if (s.n != len) return 0;
  uint32_t x = 0;
  for (uint32_t i = 0; i < len; i++) {
    if (s.p[i] < '0' || s.p[i] > '9') return 0;
    x = x * 10 + (uint32_t)(s.p[i] - '0');
  }
  *v = x;
  return 1;
}

static int name_ok(cx_str s) { return s.n > 0 && s.n <= REGION_NAME_MAX && cx__utf8_ok(s); }

/* Why a line is bad, for the operator who wrote it (the *_why validators): buf may be NULL. */
typedef struct reg_why {
  char *buf;
  size_t cap;
} reg_why;

static int why(reg_why *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int why(reg_why *w, const char *fmt, ...) {
  if (w && w->buf && w->cap) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->buf, w->cap, fmt, ap);
    va_end(ap);
  }
  return 0;
}

/* A field quoted in a message: at most 40 bytes. */
#define SHOWN(s) (int)((s).n > 40 ? 40 : (s).n), (s).p

/* One entry of either table: 2 fields (current) or 4 (historic). 0 when malformed (w says why). */
typedef struct entry {
  uint32_t code, first, last;
  cx_str name;
} entry;

static int parse_entry(cx_str l, int historic, entry *e, reg_why *w) {
  cx_str f[4];
  int nf = split_tabs(l, f, 4);
  if (nf != (historic ? 4 : 2))
    return why(w, "expected %s (%d tab-separated fields, not %s%d)",
               historic ? "code<TAB>name<TAB>first<TAB>last" : "code<TAB>name", historic ? 4 : 2,
               nf > 4 ? "more than " : "", nf > 4 ? 4 : nf);
  if (!digits(f[0], 6, &e->code) || e->code == 0)
    return why(w, "\"%.*s\": not a region code (6 digits, GB/T 2260)", SHOWN(f[0]));
  if (f[1].n == 0) return why(w, "%06u: empty name", e->code);
  if (f[1].n > REGION_NAME_MAX) return why(w, "%06u: name longer than %u bytes", e->code, REGION_NAME_MAX);
  if (!name_ok(f[1])) return why(w, "%06u: name is not text (UTF-8 without control characters)", e->code);
  e->name = f[1];
  e->first = e->last = 0;
  if (historic) {
    if (!digits(f[2], 4, &e->first) || !digits(f[3], 4, &e->last) || e->first < YEAR_MIN || e->last > YEAR_MAX ||
        e->first >= e->last)
      return why(w, "%06u: years \"%.*s\" \"%.*s\": expected first<TAB>last with %d <= first < last <= %d",
                 e->code, SHOWN(f[2]), SHOWN(f[3]), YEAR_MIN, YEAR_MAX);
  }
  return 1;
}

/* Validates a whole table: every entry well-formed, codes ascending, and (historic) one code's
 * runs in year order and apart. */
static int validate_entries(const char *text, size_t n, int historic, int *bad_line, reg_why *w);

/* Entries, and every line as text (the file is stored: comments too); the first bad line. */
static int validate(const char *text, size_t n, int historic, int *bad_line, char *why_buf, size_t cap) {
  int b1 = 0, b2 = 0;
  reg_why w = {why_buf, cap};
  if (why_buf && cap) why_buf[0] = 0;
  int r1 = validate_entries(text, n, historic, &b1, &w);
  int r2 = text && cx_text_lines_check(text, n, &b2) ? CX_EBADREQ : 0;
  if (!r1 && !r2) return 0;
  if (bad_line) *bad_line = !r1 ? b2 : !r2 ? b1 : (b1 < b2 ? b1 : b2);
  if (r2 && (!r1 || b2 < b1)) why(&w, "not text (UTF-8 without control characters but TAB)");
  return CX_EBADREQ;
}

static int validate_entries(const char *text, size_t n, int historic, int *bad_line, reg_why *w) {
  line_it it = {text, text ? text + n : NULL, 0};
  cx_str l;
  entry prev = {0, 0, 0, {NULL, 0}}, e;
  while (next_line(&it, &l)) {
    int ok = parse_entry(l, historic, &e, w);
    if (ok && prev.code) {
      if (e.code < prev.code) {
        ok = why(w, "%06u: code not ascending (after %06u)", e.code, prev.code);
      } else if (e.code == prev.code && !historic) {
        ok = why(w, "%06u: code repeated", e.code);
      } else if (e.code == prev.code && e.first < prev.last) {
        ok = why(w, "%06u: years %u..%u overlap the previous line's %u..%u (one code's lines in year order, apart)",
                 e.code, e.first, e.last, prev.first, prev.last);
      }
    }
    if (!ok) {
      if (bad_line) *bad_line = it.line;
      return CX_EBADREQ;
    }
    prev = e;
  }
  return 0;
}

int cx_regions_validate(const char *text, size_t n, int *bad_line) { return validate(text, n, 0, bad_line, NULL, 0); }

int cx_regions_history_validate(const char *text, size_t n, int *bad_line) {
  return validate(text, n, 1, bad_line, NULL, 0);
}

int cx_regions_validate_why(const char *text, size_t n, int *bad_line, char *why_buf, size_t cap) {
  return validate(text, n, 0, bad_line, why_buf, cap);
}

int cx_regions_history_validate_why(const char *text, size_t n, int *bad_line, char *why_buf, size_t cap) {
  return validate(text, n, 1, bad_line, why_buf, cap);
}

int cx_regions_is_history(const char *text, size_t n) {
  line_it it = {text, text ? text + n : NULL, 0};
  cx_str l, f[4];
  return next_line(&it, &l) && split_tabs(l, f, 4) >= 3;
}

/* ------------------------------------------------------------------ loading */

static int load(cx_store *st, MDB_txn *txn, const char *text, size_t n, int historic) {
  line_it it = {text, text ? text + n : NULL, 0};
  cx_str l;
  entry e;
  unsigned char kb[5], vb[4 + REGION_NAME_MAX];
  while (next_line(&it, &l)) {
    if (!parse_entry(l, historic, &e, NULL)) continue; /* validated: cannot happen */
    MDB_val k, v;
    if (historic) {
      /* A code's runs come in year order: the last put, its newest name, stays. */
      kb[0] = CX_REGION_HIST_TAG;
      cx__be32(kb + 1, e.code);
      cx__be16(vb, (uint16_t)e.first);
      cx__be16(vb + 2, (uint16_t)e.last);
      memcpy(vb + 4, e.name.p, e.name.n);
      k = (MDB_val){5, kb};
      v = (MDB_val){4 + (size_t)e.name.n, vb};
    } else {
      cx__be32(kb, e.code);
      k = (MDB_val){4, kb};
      v = (MDB_val){e.name.n, (void *)e.name.p};
    }
    int rc = mdb_put(txn, st->dbi[CX_DBI_REGIONS], &k, &v, 0);
    if (rc) return cx__store_mdb_err(st, rc, historic ? "historic regions put" : "regions put");
  }
  return 0;
}

int cx__regions_load(cx_store *st, MDB_txn *txn, const char *cur, size_t cur_n, const char *hist,
                     size_t hist_n) {
  int rc = mdb_drop(txn, st->dbi[CX_DBI_REGIONS], 0);
  if (rc) return cx__store_mdb_err(st, rc, "regions drop");
  if ((rc = load(st, txn, cur, cur_n, 0)) || (rc = load(st, txn, hist, hist_n, 1))) return rc;
  /* a new generation with every rewrite: what a reader derived from the tables is stale */
  uint64_t gen = 0;
  if ((rc = cx__meta_get64(st, txn, "regions_gen", &gen)) && rc != CX_ENOTFOUND) return rc;
  return cx__meta_put64(st, txn, "regions_gen", gen + 1);
}

int cx_store_regions_gen(cx_txn *t, uint64_t *gen) {
  if (t->regions_gen_ok) { /* a snapshot does not change */
    *gen = t->regions_gen;
    return 0;
  }
  int rc = cx__meta_get64(t->st, t->txn, "regions_gen", gen);
  if (rc == CX_ENOTFOUND) *gen = 0, rc = 0;
  if (!rc) {
    t->regions_gen = *gen;
    t->regions_gen_ok = 1;
  }
  return rc;
}

int cx__regions_count(cx_store *st, MDB_txn *txn, uint64_t *current, uint64_t *historic) {
  MDB_cursor *cur;
  int rc = mdb_cursor_open(txn, st->dbi[CX_DBI_REGIONS], &cur);
  if (rc) return cx__store_mdb_err(st, rc, "regions cursor");
  uint64_t c = 0, h = 0;
  MDB_val k, v;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (k.mv_size == 4) c++;
    else h++;
  }
  mdb_cursor_close(cur);
  if (rc != MDB_NOTFOUND) return cx__store_mdb_err(st, rc, "regions count");
  *current = c;
  *historic = h;
  return 0;
}

/* ------------------------------------------------------------------ lookups */

int cx_store_region_get(cx_txn *t, uint32_t code, cx_region *out) {
  unsigned char kb[5];
  cx__be32(kb, code);
  MDB_val k = {4, kb}, v;
  int rc = mdb_get(t->txn, t->st->dbi[CX_DBI_REGIONS], &k, &v);
  if (rc == 0) {
    *out = (cx_region){{v.mv_data, (uint32_t)v.mv_size}, 0, 0};
    return 0;
  }
  if (rc != MDB_NOTFOUND) return cx__store_mdb_err(t->st, rc, "region get");
  kb[0] = CX_REGION_HIST_TAG;
  cx__be32(kb + 1, code);
  k = (MDB_val){5, kb};
  rc = mdb_get(t->txn, t->st->dbi[CX_DBI_REGIONS], &k, &v);
  if (rc) return rc == MDB_NOTFOUND ? CX_ENOTFOUND : cx__store_mdb_err(t->st, rc, "historic region get");
  if (v.mv_size < 5) return CX_ECORRUPT;
  const unsigned char *p = v.mv_data;
  *out = (cx_region){{(const char *)p + 4, (uint32_t)(v.mv_size - 4)}, cx__rd_be16(p), cx__rd_be16(p + 2)};
  return 0;
}

int cx_store_region_name(cx_txn *t, uint32_t code, cx_str *name) {
  cx_region r;
  int rc = cx_store_region_get(t, code, &r);
  if (rc) return rc;
  *name = r.name;
  return 0;
}

int cx_store_regions_each(cx_txn *t, cx_region_fn fn, void *ctx) {
  MDB_cursor *cur;
  int rc = mdb_cursor_open(t->txn, t->st->dbi[CX_DBI_REGIONS], &cur);
  if (rc) return cx__store_mdb_err(t->st, rc, "regions cursor");
  MDB_val k, v;
  int out = 0;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    const unsigned char *kp = k.mv_data, *vp = v.mv_data;
    cx_region r;
    uint32_t code;
    if (k.mv_size == 4) {
      code = cx__rd_be32(kp);
      r = (cx_region){{(const char *)vp, (uint32_t)v.mv_size}, 0, 0};
    } else if (k.mv_size == 5 && v.mv_size >= 5) {
      code = cx__rd_be32(kp + 1);
      r = (cx_region){{(const char *)vp + 4, (uint32_t)(v.mv_size - 4)}, cx__rd_be16(vp), cx__rd_be16(vp + 2)};
    } else {
      out = CX_ECORRUPT;
      break;
    }
    int x = fn(ctx, code, &r);
    if (x) {
      out = x < 0 ? x : 0;
      break;
    }
  }
  mdb_cursor_close(cur);
  if (out == 0 && rc != 0 && rc != MDB_NOTFOUND) return cx__store_mdb_err(t->st, rc, "regions walk");
  return out;
}
