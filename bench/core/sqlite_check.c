/* sqlite_check.c — SQLite baseline for `check` (see sqlite_check.h). */
#include "sqlite_check.h"

#include <math.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cxb.h"

struct cxb_sqlite {
  sqlite3 *db;
  sqlite3_stmt *entity, *hits, *agg, *scorecards;
};

/* Bumped whenever the tables or indexes change: a kept file (--sqlite-reuse) of another
 * version is rebuilt. */
#define CXB_SQLITE_SCHEMA "cxb-sqlite-2 (scorecards)"


static int exec(sqlite3 *db, const char *sql) {
  char *err = NULL;
  if (sqlite3_exec(db, sql, NULL, NULL, &err) != SQLITE_OK) {
    fprintf(stderr, "bench: sqlite: %s: %s\n", sql, err ? err : "?");
    sqlite3_free(err);
    return -1;
  }
  return 0;
}

typedef struct load_ctx {
  cxb_sqlite *s;
  const cx_catalog *cat;
  sqlite3_stmt *ins_ent, *ins_rec, *ins_meas;
  uint64_t rows, measure_rows;
  int failed;
} load_ctx;

static int load_fn(void *ctx, const cx_reckey *key, const cx_record *r) {
  (void)key;
  load_ctx *L = ctx;
  sqlite3_stmt *e = L->ins_ent, *s = L->ins_rec;
  sqlite3_bind_text(e, 1, r->entity_code.p, (int)r->entity_code.n, SQLITE_STATIC);
  sqlite3_bind_text(e, 2, r->entity_name.p, (int)r->entity_name.n, SQLITE_STATIC);
  sqlite3_bind_int(e, 3, r->entity_kind);
  if (sqlite3_step(e) != SQLITE_DONE) goto fail;
  sqlite3_reset(e);

  /* The record's measures, resolved exactly as the store does: named ones, else the list's
   * defaults. */
  uint64_t mask = 0;
  if (r->list_type.n || r->measures.n) {
    int list = r->list_type.n ? cx_catalog_list(L->cat, r->list_type) : -1;
    cx_str bad;
    if (cx_catalog_measures(L->cat, list < 0 ? -1 : list, r->measures, &mask, &bad) != 0) mask = 0;
  }

  int i = 1;
  sqlite3_bind_text(s, i++, r->entity_code.p, (int)r->entity_code.n, SQLITE_STATIC);
  sqlite3_bind_int(s, i++, r->category);
  sqlite3_bind_int64(s, i++, r->valid_from);
  sqlite3_bind_int64(s, i++, r->valid_until);
  sqlite3_bind_int(s, i++, r->status);
  sqlite3_bind_int64(s, i++, r->decision_date);
  sqlite3_bind_int64(s, i++, r->report_date);
  sqlite3_bind_int(s, i++, r->on_time);
  sqlite3_bind_int64(s, i++, r->region);
  sqlite3_bind_int64(s, i++, r->amount_fen);
  sqlite3_bind_text(s, i++, r->authority_code.p, (int)r->authority_code.n, SQLITE_STATIC);
  sqlite3_bind_text(s, i++, r->record_id.p, (int)r->record_id.n, SQLITE_STATIC);
  sqlite3_bind_text(s, i++, r->list_type.p, (int)r->list_type.n, SQLITE_STATIC);
  sqlite3_bind_int64(s, i++, cx_record_dim(r, CX_DIM_CITY));
  sqlite3_bind_int64(s, i++, cx_record_dim(r, CX_DIM_MONTH));
  sqlite3_bind_int(s, i++, mask != 0);
  sqlite3_bind_int(s, i++, r->subtype);
  sqlite3_bind_int(s, i++, r->entity_kind);
  if (sqlite3_step(s) != SQLITE_DONE) goto fail;
  sqlite3_reset(s);
  sqlite3_int64 id = sqlite3_last_insert_rowid(L->s->db);
  L->rows++;

  for (int m = 0; m < 64; m++) {
    if (!(mask >> m & 1)) continue;
    sqlite3_bind_int64(L->ins_meas, 1, id);
    sqlite3_bind_int(L->ins_meas, 2, m);
    if (sqlite3_step(L->ins_meas) != SQLITE_DONE) goto fail;
    sqlite3_reset(L->ins_meas);
    L->measure_rows++;
  }
  return 0;
fail:
  fprintf(stderr, "bench: sqlite insert: %s\n", sqlite3_errmsg(L->s->db));
  L->failed = 1;
  return -1;
}

/* A kept file matches when it was built by this schema from a store of the same path and
 * record count (the bench stores are generated with a fixed seed: same path and count, same
 * rows). */
static int kept_matches(sqlite3 *db, const char *store, uint64_t rows) {
  sqlite3_stmt *st;
  if (sqlite3_prepare_v2(db, "SELECT schema, store, rows FROM meta", -1, &st, NULL) != SQLITE_OK) return 0;
  int ok = sqlite3_step(st) == SQLITE_ROW && sqlite3_column_text(st, 0) && sqlite3_column_text(st, 1) &&
           strcmp((const char *)sqlite3_column_text(st, 0), CXB_SQLITE_SCHEMA) == 0 &&
           strcmp((const char *)sqlite3_column_text(st, 1), store) == 0 &&
           (uint64_t)sqlite3_column_int64(st, 2) == rows;
  sqlite3_finalize(st);
  return ok;
}

static int prepare_queries(cxb_sqlite *s);
static int prepare_scorecards(cxb_sqlite *s);

int cxb_sqlite_load(const char *path, const cxb_sqlite_opts *o, cx_query *q, cx_txn *t,
                    cxb_sqlite **out, cxb_sqlite_load_stats *stats) {
  cxb_sqlite *s = calloc(1, sizeof *s);
  if (!s) return -1;
  load_ctx L;
  memset(&L, 0, sizeof L);
  L.s = s;
  L.cat = cx_query_catalog(q);
  uint64_t t0 = cxb_now_ns();
  const char *pragmas =
      "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-1048576;"
      "PRAGMA temp_store=MEMORY; PRAGMA mmap_size=8589934592; PRAGMA locking_mode=EXCLUSIVE;";
  if (o->reuse && access(path, R_OK) == 0) {
    if (sqlite3_open(path, &s->db) != SQLITE_OK) goto fail;
    if (kept_matches(s->db, o->store, o->rows)) {
      if (exec(s->db, pragmas) || prepare_queries(s)) goto fail;
      stats->reused = 1;
      goto done;
    }
    fprintf(stderr, "bench: sqlite: %s is not a copy of this store (or an older schema): rebuilt\n", path);
    sqlite3_close(s->db);
    s->db = NULL;
  }
  unlink(path);
  if (sqlite3_open(path, &s->db) != SQLITE_OK) goto fail;
  if (exec(s->db, pragmas) ||
      exec(s->db,
           "CREATE TABLE meta(schema TEXT, store TEXT, rows INT);"
           "CREATE TABLE entities(code TEXT PRIMARY KEY, name TEXT, kind INT) WITHOUT ROWID;"
           "CREATE TABLE records(id INTEGER PRIMARY KEY, entity_code TEXT NOT NULL, category INT,"
           " valid_from INT, valid_until INT, status INT, decision_date INT, report_date INT,"
           " on_time INT, region INT, amount_fen INT, authority_code TEXT, record_id TEXT,"
           " list_type TEXT, city INT, month INT, has_measures INT, subtype INT, entity_kind INT);"
           "CREATE TABLE record_measures(record INT, measure INT, PRIMARY KEY(record, measure))"
           " WITHOUT ROWID;"
           "CREATE TABLE measure_actions(action INT, measure INT, effect INT,"
           " PRIMARY KEY(action, measure)) WITHOUT ROWID;"
           "BEGIN;"))
    goto fail;
  if (sqlite3_prepare_v2(s->db, "INSERT OR IGNORE INTO entities VALUES(?,?,?)", -1, &L.ins_ent,
                         NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(s->db,
                         "INSERT INTO records(entity_code, category, valid_from, valid_until,"
                         " status, decision_date, report_date, on_time, region, amount_fen,"
                         " authority_code, record_id, list_type, city, month, has_measures,"
                         " subtype, entity_kind)"
                         " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                         -1, &L.ins_rec, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(s->db, "INSERT OR IGNORE INTO record_measures VALUES(?,?)", -1,
                         &L.ins_meas, NULL) != SQLITE_OK) {
    fprintf(stderr, "bench: sqlite prepare: %s\n", sqlite3_errmsg(s->db));
    goto fail_stmts;
  }
  {
    /* measure -> action -> effect from the catalogue */
    sqlite3_stmt *ma;
    if (sqlite3_prepare_v2(s->db, "INSERT INTO measure_actions VALUES(?,?,?)", -1, &ma, NULL) !=
        SQLITE_OK)
      goto fail_stmts;
    for (uint32_t m = 0; m < L.cat->n_measures; m++)
      for (uint32_t a = 0; a < L.cat->n_actions; a++) {
        if (!(L.cat->measures[m].actions >> a & 1)) continue;
        sqlite3_bind_int(ma, 1, (int)a);
        sqlite3_bind_int(ma, 2, (int)m);
        sqlite3_bind_int(ma, 3, L.cat->measures[m].effect);
        sqlite3_step(ma);
        sqlite3_reset(ma);
      }
    sqlite3_finalize(ma);
  }
  if (cx_store_records_scan(t, load_fn, &L) != 0 || L.failed) goto fail_stmts;
  sqlite3_finalize(L.ins_ent);
  sqlite3_finalize(L.ins_rec);
  sqlite3_finalize(L.ins_meas);
  L.ins_ent = L.ins_rec = L.ins_meas = NULL;
  if (exec(s->db, "COMMIT;"
                  "CREATE INDEX records_check ON records(entity_code, category, valid_from,"
                  " valid_until);"
                  /* partial index: only active records that carry measures (the analogue of
                   * chengxin's per-entity hit list), so an entity with thousands of plain
                   * records costs no more than one with none */
                  "CREATE INDEX records_hits ON records(entity_code, valid_from, valid_until)"
                  " WHERE has_measures = 1 AND status = 0;"
                  /* covering index for the aggregate: a range on the date, nothing else read */
                  "CREATE INDEX records_agg ON records(decision_date, city, month, report_date,"
                  " on_time);"
                  /* scorecards, covering: a body's records as a subject by category (the
                   * indicators read category, subtype, dates and status only), and the records
                   * it decided as an authority by decision date */
                  "CREATE INDEX records_subject ON records(entity_code, category, subtype,"
                  " decision_date, status, valid_from, valid_until);"
                  "CREATE INDEX records_authority ON records(authority_code, decision_date,"
                  " category, entity_kind, status, report_date, on_time);"
                  "ANALYZE;"))
    goto fail;
  {
    sqlite3_stmt *m;
    if (sqlite3_prepare_v2(s->db, "INSERT INTO meta VALUES(?,?,?)", -1, &m, NULL) != SQLITE_OK) goto fail;
    sqlite3_bind_text(m, 1, CXB_SQLITE_SCHEMA, -1, SQLITE_STATIC);
    sqlite3_bind_text(m, 2, o->store, -1, SQLITE_STATIC);
    sqlite3_bind_int64(m, 3, (sqlite3_int64)L.rows);
    int mrc = sqlite3_step(m);
    sqlite3_finalize(m);
    if (mrc != SQLITE_DONE) goto fail;
  }
  if (prepare_queries(s)) goto fail;
done:
  stats->seconds = (double)(cxb_now_ns() - t0) / 1e9;
  stats->rows = L.rows;
  stats->measure_rows = L.measure_rows;
  if (stats->reused) {
    sqlite3_stmt *c;
    if (sqlite3_prepare_v2(s->db, "SELECT (SELECT rows FROM meta), (SELECT count(*) FROM record_measures)", -1, &c, NULL) == SQLITE_OK &&
        sqlite3_step(c) == SQLITE_ROW) {
      stats->rows = (uint64_t)sqlite3_column_int64(c, 0);
      stats->measure_rows = (uint64_t)sqlite3_column_int64(c, 1);
    }
    sqlite3_finalize(c);
  }
  struct stat sb;
  stats->file_bytes = stat(path, &sb) == 0 ? (uint64_t)sb.st_size : 0;
  *out = s;
  return 0;
fail_stmts:
  sqlite3_finalize(L.ins_ent);
  sqlite3_finalize(L.ins_rec);
  sqlite3_finalize(L.ins_meas);
fail:
  if (s->db) fprintf(stderr, "bench: sqlite load: %s\n", sqlite3_errmsg(s->db));
  cxb_sqlite_close(s);
  return -1;
}

static int prepare_queries(cxb_sqlite *s) {
  if (sqlite3_prepare_v2(s->db, "SELECT 1 FROM entities WHERE code = ?1", -1, &s->entity, NULL) !=
          SQLITE_OK ||
      sqlite3_prepare_v2(s->db,
                         "SELECT min(ma.effect) FROM records r"
                         " JOIN record_measures rm ON rm.record = r.id"
                         " JOIN measure_actions ma ON ma.action = ?2 AND ma.measure = rm.measure"
                         " WHERE r.entity_code = ?1 AND r.status = 0 AND r.has_measures = 1"
                         " AND r.valid_from <= ?3 AND r.valid_until > ?3 AND ma.effect <= 1",
                         -1, &s->hits, NULL) != SQLITE_OK ||
      sqlite3_prepare_v2(s->db,
                         "SELECT city, month, count(*), CAST(sum(on_time) AS REAL) /"
                         " nullif(sum(report_date != 0), 0) FROM records"
                         " WHERE decision_date BETWEEN ?1 AND ?2 GROUP BY city, month",
                         -1, &s->agg, NULL) != SQLITE_OK) {
    fprintf(stderr, "bench: sqlite prepare: %s\n", sqlite3_errmsg(s->db));
    return -1;
  }
  return prepare_scorecards(s);
}

int cxb_sqlite_check(cxb_sqlite *s, const char code[18], int action, cx_day as_of, int *verdict) {
  int rc, v;
  sqlite3_bind_text(s->entity, 1, code, 18, SQLITE_STATIC);
  rc = sqlite3_step(s->entity);
  sqlite3_reset(s->entity);
  if (rc == SQLITE_DONE) { *verdict = CX_V_NOT_FOUND; return 0; }
  if (rc != SQLITE_ROW) return -1;
  sqlite3_bind_text(s->hits, 1, code, 18, SQLITE_STATIC);
  sqlite3_bind_int(s->hits, 2, action);
  sqlite3_bind_int64(s->hits, 3, as_of);
  rc = sqlite3_step(s->hits);
  if (rc != SQLITE_ROW) { sqlite3_reset(s->hits); return -1; }
  if (sqlite3_column_type(s->hits, 0) == SQLITE_NULL) v = CX_V_CLEAR;
  else v = sqlite3_column_int(s->hits, 0) == CX_EFFECT_DENY ? CX_V_DENY : CX_V_REVIEW;
  sqlite3_reset(s->hits);
  *verdict = v;
  return 0;
}

int cxb_sqlite_agg(cxb_sqlite *s, cx_day from, cx_day to, uint64_t *rows, uint64_t *total) {
  uint64_t n = 0, t = 0;
  int rc;
  sqlite3_bind_int64(s->agg, 1, from);
  sqlite3_bind_int64(s->agg, 2, to);
  while ((rc = sqlite3_step(s->agg)) == SQLITE_ROW) {
    n++;
    t += (uint64_t)sqlite3_column_int64(s->agg, 2);
    (void)sqlite3_column_double(s->agg, 3);
  }
  sqlite3_reset(s->agg);
  if (rc != SQLITE_DONE) return -1;
  *rows = n;
  *total = t;
  return 0;
}

/* ===================================================================== scorecards */

/*
 * The indicators of query/scorecard.c in SQL, for every body of a code range at once:
 *   subject (the body's own records): 政务失信 in force at the period's end (?4) by cause;
 *     lawsuits won / lost, commitments kept / broken and complaints decided in the period
 *     (?5..?4) and not revoked; a blacklist entry in force at the end;
 *   authority (the records it decided, authority_code = its code) over the period's whole
 *     months (?6..?7): licences and penalties reported and reported on time; 政务失信 records
 *     of civil servants, not revoked.
 * Bodies: entities with a code in [?1, ?2) of a kind in the mask ?3. Two grouped passes joined
 * on the code (a single join of both sides would multiply the rows).
 */
static int prepare_scorecards(cxb_sqlite *s) {
  char inf[160], per[120], sql[4096];
  snprintf(inf, sizeof inf, "r.decision_date <= ?4 AND r.status = %d AND r.valid_from <= ?4 AND ?4 < r.valid_until",
           CX_ST_ACTIVE);
  snprintf(per, sizeof per, "r.decision_date BETWEEN ?5 AND ?4 AND r.status != %d", CX_ST_REVOKED);
  int n = snprintf(
      sql, sizeof sql,
      "WITH subj AS (SELECT e.code AS code, e.kind AS kind,"
      " count(CASE WHEN r.category = %d AND %s THEN 1 END) AS gd,"
      " count(CASE WHEN r.category = %d AND %s AND r.subtype = %d THEN 1 END) AS gd_judgment,"
      " count(CASE WHEN r.category = %d AND %s AND r.subtype = %d THEN 1 END) AS gd_penalty,"
      " count(CASE WHEN r.category = %d AND %s AND r.subtype = %d THEN 1 END) AS gd_disciplinary,"
      " count(CASE WHEN r.category = %d AND %s AND r.subtype = %d THEN 1 END) AS gd_accountability,"
      " count(CASE WHEN r.category = %d AND %s AND r.subtype = %d THEN 1 END) AS won,"
      " count(CASE WHEN r.category = %d AND %s AND r.subtype = %d THEN 1 END) AS lost,"
      " count(CASE WHEN r.category = %d AND %s AND r.subtype = %d THEN 1 END) AS kept,"
      " count(CASE WHEN r.category = %d AND %s AND r.subtype = %d THEN 1 END) AS broken,"
      " count(CASE WHEN r.category = %d AND %s THEN 1 END) AS complaints,"
      " count(CASE WHEN r.category = %d AND %s THEN 1 END) AS listed"
      " FROM entities e LEFT JOIN records r ON r.entity_code = e.code AND r.category IN (%d, %d, %d, %d, %d)"
      " WHERE e.code >= ?1 AND e.code < ?2 AND (?3 >> e.kind) & 1 GROUP BY e.code)"
      " SELECT s.*,"
      " count(CASE WHEN a.category IN (%d, %d) AND a.report_date != %u THEN 1 END),"
      " count(CASE WHEN a.category IN (%d, %d) AND a.report_date != %u AND a.on_time THEN 1 END),"
      " count(CASE WHEN a.category = %d AND a.entity_kind = %d AND a.status != %d THEN 1 END)"
      " FROM subj s LEFT JOIN records a ON a.authority_code = s.code AND a.decision_date BETWEEN ?6 AND ?7"
      " GROUP BY s.code ORDER BY s.code",
      CX_CAT_GOV_DISHONESTY, inf, CX_CAT_GOV_DISHONESTY, inf, CX_SUB_JUDGMENT, CX_CAT_GOV_DISHONESTY, inf,
      CX_SUB_ADMIN_PENALTY, CX_CAT_GOV_DISHONESTY, inf, CX_SUB_DISCIPLINARY, CX_CAT_GOV_DISHONESTY, inf,
      CX_SUB_ACCOUNTABILITY, CX_CAT_LAWSUIT, per, CX_SUB_WON, CX_CAT_LAWSUIT, per, CX_SUB_LOST,
      CX_CAT_COMMITMENT, per, CX_SUB_KEPT, CX_CAT_COMMITMENT, per, CX_SUB_BROKEN, CX_CAT_COMPLAINT, per,
      CX_CAT_BLACKLIST, inf, CX_CAT_GOV_DISHONESTY, CX_CAT_LAWSUIT, CX_CAT_COMMITMENT, CX_CAT_COMPLAINT,
      CX_CAT_BLACKLIST, CX_CAT_LICENSE, CX_CAT_PENALTY, CX_DAY_NONE, CX_CAT_LICENSE, CX_CAT_PENALTY,
      CX_DAY_NONE, CX_CAT_GOV_DISHONESTY, CX_KIND_CIVIL_SERVANT, CX_ST_REVOKED);
  if (n < 0 || (size_t)n >= sizeof sql) return -1;
  if (sqlite3_prepare_v2(s->db, sql, -1, &s->scorecards, NULL) != SQLITE_OK) {
    fprintf(stderr, "bench: sqlite prepare (scorecards): %s\n", sqlite3_errmsg(s->db));
    return -1;
  }
  return 0;
}

/* query/scorecard.c's scoring, for a role that sees every indicator (analyst, admin). */
void cxb_scorecard_score(const cx_rubric *rb, cx_scorecard *sc) { cx_scorecard_score(rb, CX_ROLE_ANALYST, sc); }

int cxb_scorecard_by_score(const void *a, const void *b) {
  const cx_scorecard *x = a, *y = b;
  if (x->score != y->score) return x->score < y->score ? 1 : -1;
  return memcmp(x->code, y->code, CX_CODE_LEN);
}

/* Whole months of [from, to]: the first day of from's month, the last of to's. */
int cxb_whole_months(cx_day from, cx_day to, cx_day *m0, cx_day *m1) {
  int y, m, d;
  cx_day_to_ymd(from, &y, &m, &d);
  if (cx_day_from_ymd(y, m, 1, m0)) return -1;
  cx_day_to_ymd(to, &y, &m, &d);
  if (m == 12) y++, m = 1;
  else m++;
  if (cx_day_from_ymd(y, m, 1, m1)) return -1;
  (*m1)--;
  return 0;
}

int cxb_sqlite_scorecards(cxb_sqlite *s, const cx_rubric *rb, const cx_scorecard_req *rq, unsigned province,
                          cx_scorecard **out, uint32_t *n_out) {
  cx_day m0, m1;
  if (province < 10 || province > 99 || cxb_whole_months(rq->from, rq->to, &m0, &m1)) return -1;
  uint32_t n = 0, cap = 0;
  cx_scorecard *v = NULL;
  sqlite3_stmt *st = s->scorecards;
  /* the same registrations as cx_query_scorecards: 11… 机关 for government bodies and
   * sub-district offices, 12… 事业单位 for institutions */
  for (int h = 0; h < 2; h++) {
    uint32_t kinds = h == 0 ? (1u << CX_KIND_GOVERNMENT | 1u << CX_KIND_SUBDISTRICT) : 1u << CX_KIND_INSTITUTION;
    kinds &= rb->kinds;
    if (!kinds) continue;
    char lo[16], hi[16];
    snprintf(lo, sizeof lo, "1%d%02u", h + 1, province % 100u);
    memcpy(hi, lo, sizeof hi);
    hi[3]++; /* the first string after every code of the prefix: "1136" for 1135…, "119:" for 1199… */
    sqlite3_bind_text(st, 1, lo, -1, SQLITE_TRANSIENT);
    sqlite3_bind_text(st, 2, hi, -1, SQLITE_TRANSIENT);
    sqlite3_bind_int64(st, 3, kinds);
    sqlite3_bind_int64(st, 4, rq->to);
    sqlite3_bind_int64(st, 5, rq->from);
    sqlite3_bind_int64(st, 6, m0);
    sqlite3_bind_int64(st, 7, m1);
    int rc;
    while ((rc = sqlite3_step(st)) == SQLITE_ROW) {
      if (n == cap) {
        cap = cap ? 2 * cap : 256;
        cx_scorecard *nv = realloc(v, (size_t)cap * sizeof *nv);
        if (!nv) {
          sqlite3_reset(st);
          free(v);
          return -1;
        }
        v = nv;
      }
      cx_scorecard *sc = &v[n++];
      memset(sc, 0, sizeof *sc);
      const unsigned char *code = sqlite3_column_text(st, 0);
      if (!code || sqlite3_column_bytes(st, 0) != CX_CODE_LEN) {
        sqlite3_reset(st);
        free(v);
        return -1;
      }
      memcpy(sc->code, code, CX_CODE_LEN);
      sc->kind = (uint8_t)sqlite3_column_int(st, 1);
      cx_ind_value *x = sc->ind;
#define COL(i) ((uint64_t)sqlite3_column_int64(st, (i)))
      x[CX_IND_GOV_DISHONESTY].num = COL(2);
      for (int k = 0; k < 4; k++) x[CX_IND_GOV_DISHONESTY].by[k] = COL(3 + k);
      x[CX_IND_UNPERFORMED].num = COL(3);
      x[CX_IND_LAWSUIT_LOSS].by[0] = COL(7);
      x[CX_IND_LAWSUIT_LOSS].by[1] = COL(8);
      x[CX_IND_LAWSUIT_LOSS].num = COL(8);
      x[CX_IND_LAWSUIT_LOSS].den = COL(7) + COL(8);
      x[CX_IND_KEPT_RATE].by[0] = COL(9);
      x[CX_IND_KEPT_RATE].by[1] = COL(10);
      x[CX_IND_KEPT_RATE].num = COL(9);
      x[CX_IND_KEPT_RATE].den = COL(9) + COL(10);
      x[CX_IND_COMPLAINTS].num = COL(11);
      x[CX_IND_BLACKLISTED].num = COL(12) > 0;
      x[CX_IND_ON_TIME].den = COL(13);
      x[CX_IND_ON_TIME].num = COL(14);
      x[CX_IND_ON_TIME].by[0] = COL(13) - COL(14);
      x[CX_IND_STAFF].num = COL(15);
#undef COL
      cxb_scorecard_score(rb, sc);
    }
    sqlite3_reset(st);
    if (rc != SQLITE_DONE) {
      free(v);
      return -1;
    }
  }
  if (n > 1) qsort(v, n, sizeof *v, cxb_scorecard_by_score);
  *out = v;
  *n_out = n;
  return 0;
}

uint64_t cxb_scorecards_diff(const cx_scorecard *a, uint32_t na, const cx_scorecard *b, uint32_t nb, int verbose) {
  uint64_t bad = na > nb ? na - nb : nb - na;
  if (bad && verbose) fprintf(stderr, "bench: scorecards: %u bodies against %u\n", na, nb);
  uint32_t n = na < nb ? na : nb;
  for (uint32_t i = 0; i < n; i++) {
    const cx_scorecard *x = &a[i], *y = &b[i];
    int same = memcmp(x->code, y->code, CX_CODE_LEN) == 0 && fabs(x->score - y->score) <= 1e-9 &&
               x->band == y->band && x->vetoes == y->vetoes;
    for (int k = 0; k < CX_IND_COUNT && same; k++) {
      same = x->ind[k].num == y->ind[k].num && x->ind[k].den == y->ind[k].den;
      /* the causes and counts behind the rates (on_time's delay sum is not computed here) */
      for (int j = 0; j < 4 && same; j++)
        if (!(k == CX_IND_ON_TIME && j == 1)) same = x->ind[k].by[j] == y->ind[k].by[j];
    }
    if (!same && bad++ < 5 && verbose)
      fprintf(stderr, "bench: scorecards: rank %u: %.18s %.12f against %.18s %.12f\n", i + 1, x->code, x->score,
              y->code, y->score);
  }
  return bad;
}

void cxb_sqlite_close(cxb_sqlite *s) {
  if (!s) return;
  sqlite3_finalize(s->scorecards);
  sqlite3_finalize(s->agg);
  sqlite3_finalize(s->entity);
  sqlite3_finalize(s->hits);
  sqlite3_close(s->db);
  free(s);
}
