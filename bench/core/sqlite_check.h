/*
 * sqlite_check.h — the SQLite baseline of bench_query: the same records, loaded from the store
 * through its public scan, with the best indexes we could give it, answering the same `check`
 * (is this entity restricted for action A on day D?) with prepared statements.
 *
 * Schema:
 *   entities(code TEXT PRIMARY KEY, name, kind) WITHOUT ROWID
 *   records(id INTEGER PRIMARY KEY, entity_code, category, valid_from, valid_until, status,
 *           decision_date, ...) + INDEX (entity_code, category, valid_from, valid_until)
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
} cxb_sqlite_load_stats;

/** Creates path and loads every record of the store (txn t) into it. 0 or -1. */
int cxb_sqlite_load(const char *path, cx_query *q, cx_txn *t, cxb_sqlite **out,
                    cxb_sqlite_load_stats *stats);
/** The verdict (cx_verdict: deny, review, clear or not_found) for an 18-byte code. 0 or -1. */
int cxb_sqlite_check(cxb_sqlite *s, const char code[18], int action, cx_day as_of, int *verdict);
/** count + on-time rate by city x month for decision dates in [from, to]: rows and the total
 *  count (compared with chengxin's agg_covered). 0 or -1. */
int cxb_sqlite_agg(cxb_sqlite *s, cx_day from, cx_day to, uint64_t *rows, uint64_t *total);
void cxb_sqlite_close(cxb_sqlite *s);

#endif
