/* sqlite_check.c — SQLite baseline for `check` (see sqlite_check.h). */
#include "sqlite_check.h"

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "cxb.h"

struct cxb_sqlite {
  sqlite3 *db;
  sqlite3_stmt *entity, *hits, *agg;
};

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

int cxb_sqlite_load(const char *path, cx_query *q, cx_txn *t, cxb_sqlite **out,
                    cxb_sqlite_load_stats *stats) {
  cxb_sqlite *s = calloc(1, sizeof *s);
  if (!s) return -1;
  load_ctx L;
  memset(&L, 0, sizeof L);
  L.s = s;
  L.cat = cx_query_catalog(q);
  uint64_t t0 = cxb_now_ns();
  if (sqlite3_open(path, &s->db) != SQLITE_OK) goto fail;
  if (exec(s->db,
           "PRAGMA journal_mode=OFF; PRAGMA synchronous=OFF; PRAGMA cache_size=-1048576;"
           "PRAGMA temp_store=MEMORY; PRAGMA mmap_size=8589934592; PRAGMA locking_mode=EXCLUSIVE;"
           "CREATE TABLE entities(code TEXT PRIMARY KEY, name TEXT, kind INT) WITHOUT ROWID;"
           "CREATE TABLE records(id INTEGER PRIMARY KEY, entity_code TEXT NOT NULL, category INT,"
           " valid_from INT, valid_until INT, status INT, decision_date INT, report_date INT,"
           " on_time INT, region INT, amount_fen INT, authority_code TEXT, record_id TEXT,"
           " list_type TEXT, city INT, month INT, has_measures INT);"
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
                         " authority_code, record_id, list_type, city, month, has_measures)"
                         " VALUES(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
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
                  "ANALYZE;"))
    goto fail;
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
    goto fail;
  }
  stats->seconds = (double)(cxb_now_ns() - t0) / 1e9;
  stats->rows = L.rows;
  stats->measure_rows = L.measure_rows;
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

void cxb_sqlite_close(cxb_sqlite *s) {
  if (!s) return;
  sqlite3_finalize(s->agg);
  sqlite3_finalize(s->entity);
  sqlite3_finalize(s->hits);
  sqlite3_close(s->db);
  free(s);
}
