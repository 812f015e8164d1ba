/*
 * sqlite_check.h — the SQLite baseline of bench_query: the same records, loaded from the store
 * through its public scan, with the best indexes we could give it, answering the same `check`
 * (is this entity restricted for action A on day D?) with prepared statements.
 *
 * Schema:
 *   entities(code TEXT PRIMARY KEY, name, kind) WITHOUT ROWID
 *   records(id INTEGER PRIMARY KEY, entity_code, category, valid_from, valid_until, status,
 *           decision_date, ..., subtype, entity_kind) + INDEX (entity_code, category,
 *           valid_from, valid_until) and the aggregates' and scorecards' covering indexes
 *   meta(schema, store, rows): what a kept file (reuse) was built from
 *   record_measures(record, measure) PRIMARY KEY (record, measure) WITHOUT ROWID
 *   measure_actions(action, measure, effect) PRIMARY KEY (action, measure) WITHOUT ROWID
 * Journal off, synchronous off, 1 GiB page cache, mmap; indexes built after the load.
 */
#ifndef CXB_SQLITE_CHECK_H
#define CXB_SQLITE_CHECK_H

#include <stdint.h>

#include "query.h"

typedef struct cxb_sqlite cxb_sqlite;

typedef struct cxb_sqlite_load_stats {
  uint64_t rows, measure_rows, file_bytes;
  double seconds;
  int reused;       /* 1: a kept file was opened, nothing loaded (seconds: the open) */
} cxb_sqlite_load_stats;

typedef struct cxb_sqlite_opts {
  int reuse;         /* keep path when it was built by this schema from the same store */
  const char *store; /* the store's path, recorded in the file */
  uint64_t rows;     /* the store's record count, recorded in the file */
} cxb_sqlite_opts;

/** Creates path and loads every record of the store (txn t) into it, or with o->reuse opens
 *  the copy a previous run left there when it matches (schema, store path, record count).
 *  stats is zeroed by the caller. 0 or -1. */
int cxb_sqlite_load(const char *path, const cxb_sqlite_opts *o, cx_query *q, cx_txn *t,
                    cxb_sqlite **out, cxb_sqlite_load_stats *stats);
/** The verdict (cx_verdict: deny, review, clear or not_found) for an 18-byte code. 0 or -1. */
int cxb_sqlite_check(cxb_sqlite *s, const char code[18], int action, cx_day as_of, int *verdict);
/** count + on-time rate by city x month for decision dates in [from, to]: rows and the total
 *  count (compared with chengxin's agg_covered). 0 or -1. */
int cxb_sqlite_agg(cxb_sqlite *s, cx_day from, cx_day to, uint64_t *rows, uint64_t *total);
/** Every body of province (2 digits) ranked like cx_query_scorecards for an analyst: the
 *  indicator counts in one SQL statement (GROUP BY over the covering indexes), scored in C
 *  with the same rubric functions (cxb_scorecard_score). *out allocated (free()). 0 or -1. */
int cxb_sqlite_scorecards(cxb_sqlite *s, const cx_rubric *rb, const cx_scorecard_req *rq, unsigned province,
                          cx_scorecard **out, uint32_t *n);
/** The period's whole months (the authority indicators' cells): first day of from's month,
 *  last day of to's. 0 or -1. */
int cxb_whole_months(cx_day from, cx_day to, cx_day *m0, cx_day *m1);
/** query/scorecard.c's score for a role shown every indicator: raw, score, vetoes, band. */
void cxb_scorecard_score(const cx_rubric *rb, cx_scorecard *sc);
/** cx_query_scorecards' order: score descending, then code. */
int cxb_scorecard_by_score(const void *a, const void *b);
/** Differences between two rankings: bodies, order, scores (1e-9), bands, vetoes, every
 *  indicator's counts. 0 when equal; verbose prints the first few to stderr. */
uint64_t cxb_scorecards_diff(const cx_scorecard *a, uint32_t na, const cx_scorecard *b, uint32_t nb, int verbose);
void cxb_sqlite_close(cxb_sqlite *s);

#endif
