/*
 * store_int.h — store/'s private header: the handle, the value codecs and the helpers shared by
 * store.c, batch.c, summary.c, rollup.c, verify.c and keys.c. Nothing outside store/ includes it.
 *
 * ---- Record value (records DB), version 1 -------------------------------------------------
 *   off  size
 *     0    1   version (CX_REC_VERSION)
 *     1    1   category          5  1  status
 *     2    1   subtype           6  1  objection
 *     3    1   domain            7  1  entity_kind
 *     4    1   severity          8  1  on_time (bit 0), report_received (bit 1),
 *                                          delay_provisional (bit 2)
 *     9    4   seq               (all integers little-endian, unaligned: memcpy)
 *    13    4   entity_id
 *    17    4   authority_id
 *    21    4   region
 *    25    4   decision_date
 *    29    4   report_date
 *    33    4   valid_from
 *    37    4   valid_until
 *    41    8   amount_fen (i64)
 *    49    4   report_delay (i32, -1 = not reported)
 *    53    4   display_until (cx_day, CX_DAY_NONE = none)
 *    57        strings, each u16 length + bytes: record_id, authority_code, authority_name,
 *              entity_code, entity_name, list_type, measures, basis, content, extra
 *   Decoding is zero-copy: the cx_str fields of cx_record point into the value.
 *
 * ---- Record value, version 2 (compressed; reczip.c) ---------------------------------------
 *     0    1   version (CX_REC_VERSION_Z)
 *     1    1   dictionary id (1..CX_ZDICT_MAX: meta "zdict/<id>")
 *     2   1-5  L = the version 1 value's length - 1 (ULEB128, <= CX_REC_STR_MAX)
 *     .        a zstd frame of the version 1 value's bytes 1..L (fixed fields and strings),
 *              compressed with the dictionary: magicless, no dictionary id, no content size,
 *              no checksum (the frame header is 1 byte; LMDB pages have no checksum either)
 *   A value is version 2 only when that is shorter than version 1 (else version 1 is stored:
 *   "id 0 = raw"). Decoding decompresses into the caller's cx_recdec, as the version 1 bytes;
 *   the cx_str fields then point into its buffer (valid until that decoder's next decode).
 *   The fixed fields too are compressed (facts and aggregates read the facts DB, which holds
 *   them raw). Meta "zdict_cur" (u32) is the dictionary new values are packed with; absent:
 *   none yet (values stay version 1).
 *
 * ---- Summary value (summary DB, key = 18-byte entity code), version 1 ----------------------
 *   off  size
 *     0    1   version (CX_SUM_VERSION)
 *     1    1   kind (cx_kind)
 *     2    2   n_hits (u16)
 *     4    4   entity_id
 *     8    4   region
 *    12    4   last_update (cx_day)   <- the only byte range not derivable from the records
 *    16    4   n_recs
 *    20    2   name length
 *    22    2   authority_code length (civil servants only, else 0)
 *    24    4   string area length
 *    28        hits: n_hits x cx_sum_hit (32 B, struct image, newest first)
 *              recs: n_recs x cx_sum_rec (20 B, struct image, newest first)
 *              strings: code (18 B), name, authority_code, then per hit record_id and
 *              authority_code (cx_sum_hit.str_off is relative to the start of this area)
 *   Caps: at most CX_SUM_MAX_HITS hits are stored here (the newest), and fewer when the string
 *   area would pass 65535 bytes (str_off is u16). The older hits spill, in order, into chunks
 *   of the summary_x DB and the value is then version 2: the same, with a 32-byte header whose
 *   bytes 28..29 hold n_chunks (u16) and 30..31 are zero. Version 1 = no spill.
 *   Identity (name, kind, civil servant's authority) is
 *   that of the newest record (first in key order). An entity whose records all moved away keeps
 *   its summary with n_recs = 0 and its last identity.
 *
 * ---- Summary spill chunk (summary_x DB, key = code (18 B) + chunk number u16 BE, 1..n_chunks)
 *     0    1   version (CX_SUMX_VERSION)
 *     1    1   0
 *     2    2   n_hits (u16, <= CX_SUM_MAX_HITS)
 *     4    4   string area length (<= 65535)
 *     8        hits: n_hits x cx_sum_hit, continuing the newest-first order; then their strings
 *              (str_off relative to the chunk's string area)
 *   Only entities with more than CX_SUM_MAX_HITS active measure-carrying records have chunks:
 *   check reads them after the summary (one mdb_get each) so a verdict never misses a hit.
 *
 * ---- Facts block (facts DB, key = seq / CX_FACT_BLOCK as u32 BE) ---------------------------
 *     0    1   version (CX_FACT_VERSION); 1..7 zero
 *     8        CX_FACT_BLOCK (255) slots of CX_FACT_IMG (64) bytes: slot i is the record with
 *              seq = block * CX_FACT_BLOCK + i, as the cx_fact struct image (padding zero)
 *              with byte CX_FACT_PRESENT = 1; an all-zero slot has no record.
 *   Written in the batch txn from each record value written (a replacement keeps its seq, so
 *   its slot); rebuilt whole after a calendar change and on the first writable open of a store
 *   that predates the DB. The fast path of cx_store_facts_scan. 255 slots, not 256: a block
 *   is 16,328 bytes and fits 4 overflow pages (16,368 bytes after LMDB's 16-byte page header);
 *   256 slots took 5 (version 1, schema 5: the migration rebuilds the facts).
 *
 * ---- Check log (checks DB, key = receipt seq u64 BE: epoch << 40 | counter; checks.c)
 *   off  size
 *     0    1   version (CX_CHK_VERSION)       1  1  action      2  1  verdict    3  1  kind
 *     4    1   outcome (cx_outcome, 0 = none) 5  1  0
 *     6    2   n_restrict (u16)               8  2  n_advisory (u16)           10  2  0
 *    12    4   region (county code)          16  4  authority_id (first restricting hit; 0)
 *    20    8   time_ms (i64)                 28  8  feedback time_ms (i64, 0 = none)
 *    36    4   day (cx_day: the Beijing day of the check)
 *    40   18   entity code (the stored key)
 *    58        strings, each u16 length + bytes: who, feedback who, note
 *   Written by the server's check-log writer (net/audit.c) in batches; feedback rewrites it.
 *   A value is one entry (byte 0 = CX_CHK_VERSION, key = its receipt) or a block of several
 *   (byte 0 = CX_CHK_BLOCK): one flush's entries in ascending receipts, cut at
 *   CX_CHK_BLK_BYTES, so that the writer makes one put per block and not one per entry:
 *     0  1  CX_CHK_BLOCK    1  1  n (2..255)    2  8  the last entry's receipt (u64 LE)
 *    10     n x {receipt u64 LE, length u16 LE, the entry's bytes as a one-entry value}
 *   key = the first entry's receipt. Blocks never overlap: a receipt at or below a block's
 *   last one goes into that block (a late entry of a slow loop; past 255 entries it splits in
 *   two); entries between two values are packed into blocks of their own there. So a
 *   receipt is found at its own key or in the block of the greatest key below it. Meta
 *   "checks_extra" (u64) counts the entries beyond one per key (count = keys + extra);
 *   stores written before blocks have none of either and read the same.
 * ---- Check rollup (check_rollup DB): key month u16 BE (cx_day_month), action u8, verdict u8,
 *      region u32 BE (county), authority_id u32 BE (12 B) -> 4 x i64 LE: checks, restricted,
 *      approved_after_review, approved (the feedback outcomes given to those checks). Kept
 *      when the log is pruned: what analysts aggregate never scans the log.
 *
 * ---- Rollup key: cube id u8, month u16 BE (cx_day_month), each cube dim u32 BE.
 * ---- Rollup value: cx_rollup_cell's six counters in order (count, amount, reported, on_time,
 *      delay_sum, provisional), each a zigzag LEB128 varint (6..60 B; schema 5 had 6 x i64 LE,
 *      48 B: the migration to schema 6 rebuilds the cells).
 */
#ifndef CX_STORE_INT_H
#define CX_STORE_INT_H

#include <lmdb.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "store.h"

#define CX_REC_VERSION 1u
#define CX_REC_VERSION_Z 2u
#define CX_REC_STR_MAX (16u << 20)
#define CX_ZDICT_MAX 255u
#define CX_SUM_VERSION 1u
#define CX_REC_HDR 57u
#define CX_RV_SEQ 9u
#define CX_SUM_HDR 28u
#define CX_SUM_VERSION2 2u
#define CX_SUM_HDR2 32u
#define CX_SUMX_VERSION 1u
#define CX_SUMX_HDR 8u
#define CX_SUM_LASTUPD 12u
#define CX_SUM_MAX_HITS 512u
#define CX_FACT_VERSION 2u
#define CX_FACT_HDR 8u
#define CX_FACT_IMG 64u
#define CX_FACT_PRESENT 63u
#define CX_FACT_BLOCK 255u
#define CX_FACT_BLOCK_BYTES (CX_FACT_HDR + CX_FACT_BLOCK * CX_FACT_IMG)
#define CX_ROLLUP_KEY_MAX (1 + 2 + 4 * CX_CUBE_MAX_DIMS)
#define CX_ROLLUP_VAL_MAX 60u
#define CX_CHK_VERSION 1u
#define CX_CHK_HDR 58u
#define CX_CHK_BLOCK 2u        /* a value holding several entries (checks.c) */
#define CX_CHK_BLK_HDR 10u
#define CX_CHK_BLK_BYTES 2000u /* a flush's block stays on its leaf page (LMDB: 2,040 B a node) */
#define CX_CHKR_KEY 12u
#define CX_CHKR_VAL 32u

/* Limits enforced by cx_batch_put. */
#define CX_MAX_ENTITY_NAME 256u
#define CX_MAX_AUTH_NAME 512u
#define CX_MAX_TEXT 4096u
#define CX_MAX_MEASURES_STR 1024u

enum {
  CX_DBI_META, CX_DBI_SUMMARY, CX_DBI_ENTITIES, CX_DBI_RECORDS, CX_DBI_RECORD_REF,
  CX_DBI_AUTHORITIES, CX_DBI_NAMES, CX_DBI_ROLLUP, CX_DBI_REGIONS, CX_DBI_DATA, CX_DBI_AUDIT,
  CX_DBI_SUMX, CX_DBI_FACTS, CX_DBI_GRAMS, CX_DBI_CHECKS, CX_DBI_CHECKROLL,
  CX_DBI_COUNT
};
/* Cursor slots of a cx_txn: one per DB, and a second one on grams (cx_store_grams_each probes
 * the other lists while the first walks the driver). */
#define CX_CUR_GRAMS_PROBE CX_DBI_COUNT
#define CX_CUR_COUNT (CX_DBI_COUNT + 1)

typedef struct cx_zdict cx_zdict;
/* A record decoder (reczip.c): its zstd context and the buffer decoded strings point into.
 * One thread at a time; st and txn name where dictionaries are looked up. */
typedef struct cx_recdec {
  cx_store *st;
  MDB_txn *txn;
  void *dctx;            /* ZSTD_DCtx, created at the first compressed value */
  const cx_zdict *z;     /* the dictionary dctx refers to */
  unsigned char *out;
  size_t cap;
} cx_recdec;
/* A record encoder: the writer's compression context. */
typedef struct cx_recenc {
  void *cctx;            /* ZSTD_CCtx, created at the first packed value */
  const cx_zdict *z;
  int literals;          /* compress literals too (compact's; batches keep them raw) */
} cx_recenc;

struct cx_store {
  MDB_env *env;
  MDB_dbi dbi[CX_DBI_COUNT];
  int read_only, bulk;
  unsigned dir_mode, file_mode; /* what this handle creates: backups (cx_store_opts.group_read) */
  int has_sumx;             /* the summary_x DB exists (see cx_store_summary_chunk) */
  int has_facts;            /* the facts DB exists and is complete (see facts.c) */
  uint64_t map_size;
  uint64_t salt;
  cx_catalog *catalog;      /* current; replaced by data_put */
  cx_calendar *calendar;
  void **retired;           /* replaced catalogues/calendars, freed at close */
  size_t n_retired;
  unsigned debug_fail_after;
  /* Map growth (mdb_env_set_mapsize) must not run while any txn of this process is live:
   * every txn counts itself in `active`; a grower raises `growing`, waits for active == 0
   * (bounded), remaps, lowers it. Plain atomics rather than a rwlock because a cx_txn may be
   * reset on another thread than the one that renewed it (MDB_NOTLS). */
  atomic_int active;
  atomic_int growing;
  pthread_mutex_t grow_mu;
  /* Load mode (cx_store_load_begin): every write txn is a child of load_txn, the one long
   * txn, begun at the first write and committed by cx_store_load_commit (or before a map
   * growth). Owned by the thread that begins the writes. */
  int load;
  MDB_txn *load_txn;
  uint32_t load_children; /* child txns committed into load_txn */
  uint32_t load_max;      /* 0, or: children per load txn before it is committed (learnt) */
  uint64_t trim_max;      /* cx_store_trim_map's bound, kept by commits (0: none) */
  int load_full;          /* a child failed with MDB_TXN_FULL (see cx__store_mdb_err) */
  /* Record dictionaries (reczip.c): loaded from meta on first use, published once per id
   * (readers of any thread load them with acquire), except those a write txn trained: they
   * are published when it commits (cx__zdict_txn_end), freed when it aborts. */
  _Atomic(cx_zdict *) zd[CX_ZDICT_MAX + 1];
  cx_zdict *zpend;        /* trained by the open write txn (or its load txn): the writer's */
  uint32_t zdict_min;     /* values a batch needs to train the first dictionary */
  uint64_t zdict_tried;   /* records when cx__zdict_train_stored last trained nothing (0: never) */
  cx_recenc wenc;         /* the writer's encoder and decoder: used inside write txns only */
  cx_recdec wdec;
  /* Bulk load (bulk.c, cx_store_bulk_begin): load mode without children, every batch writes
   * into load_txn itself, summaries deferred to the load commit. NULL: none. */
  struct cx_bulk *bulk_load;
};

/* Cursors kept by a read txn, opened on first use and renewed with the txn. */
struct cx_txn {
  cx_store *st;
  MDB_txn *txn;
  int live;
  MDB_cursor *cur[CX_CUR_COUNT];
  unsigned char busy[CX_CUR_COUNT];
  /* record decoders: [0] for walks (busy while one runs), [1] for cx_store_record_get */
  cx_recdec dec[2];
  unsigned char dec_busy;
  /* meta regions_gen of this snapshot, read once (every region shown asks it) */
  uint64_t regions_gen;
  int regions_gen_ok;
};

/* The txn's walk decoder, or *local (initialised here) when a walk of this txn is running. */
cx_recdec *cx__txn_dec(cx_txn *t, cx_recdec *local);
void cx__txn_dec_done(cx_txn *t, cx_recdec *d);

/* A txn's cursor on dbi (reused; a fresh one when already in use by an outer iteration).
 * dbi is a CX_DBI_* or CX_CUR_GRAMS_PROBE (a second cursor on the grams DB). */
int cx__txn_cursor(cx_txn *t, int dbi, MDB_cursor **cur, int *own);
void cx__txn_cursor_done(cx_txn *t, int dbi, MDB_cursor *cur, int own);

/* cx_store_trim_map with the bound it was last given (nothing when none): called inside long
 * commits, whose page reads alone map gigabytes of a large store. */
void cx__store_trim(cx_store *st);

/* ---- bulk load (bulk.c) ---- */
typedef struct cx_bulk cx_bulk;
/* CX_E* of the batch that failed the load (its txn was aborted), 0 while it goes on. */
int cx__bulk_check(cx_store *st);
/* The load commit is ending the load txn: cx__store_wtxn_end ends it for real. */
int cx__bulk_owns_end(const cx_store *st);
/* A batch aborted the load txn: the load fails whole with err (0: CX_EIO). */
void cx__bulk_fail(cx_store *st, int err);
/* The entity code's id, when a batch of the load created it or wrote its records. */
int cx__bulk_ent_find(cx_store *st, const char code[CX_CODE_LEN], uint32_t *eid);
/* The entity's summary is rebuilt by the load commit (as of today, 0: keep the day). */
int cx__bulk_ent_defer(cx_store *st, const char code[CX_CODE_LEN], uint32_t eid, cx_day today);
/* Rebuilds the deferred summaries, syncs, commits the load txn, syncs (cx_store_load_commit). */
int cx__bulk_commit(cx_store *st);
void cx__bulk_free(cx_store *st);
/* In the load commit's rebuild: a new name's grams are collected and put in key order
 * (cx__grams_update hands them over with cx__bulk_grams_add). */
int cx__bulk_grams_collecting(const cx_store *st);
int cx__bulk_grams_add(cx_store *st, MDB_txn *txn, uint32_t eid, const char *norm, size_t n);

/* ---- errors ---- */
int cx__store_mdb_err(cx_store *st, int rc, const char *what);
void cx__store_setmsg(cx_store *st, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* ---- byte helpers ---- */
static inline void cx__be32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24); p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8); p[3] = (unsigned char)v;
}
static inline uint32_t cx__rd_be32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}
static inline void cx__be16(unsigned char *p, uint16_t v) {
  p[0] = (unsigned char)(v >> 8); p[1] = (unsigned char)v;
}
static inline uint16_t cx__rd_be16(const unsigned char *p) { return (uint16_t)(p[0] << 8 | p[1]); }
/* Little-endian (host order on every supported platform: x86-64, aarch64). */
static inline uint32_t cx__rd32(const unsigned char *p) { uint32_t v; memcpy(&v, p, 4); return v; }
static inline uint16_t cx__rd16(const unsigned char *p) { uint16_t v; memcpy(&v, p, 2); return v; }
static inline int64_t cx__rd64(const unsigned char *p) { int64_t v; memcpy(&v, p, 8); return v; }
static inline void cx__wr32(unsigned char *p, uint32_t v) { memcpy(p, &v, 4); }
static inline void cx__wr16(unsigned char *p, uint16_t v) { memcpy(p, &v, 2); }
static inline void cx__wr64(unsigned char *p, int64_t v) { memcpy(p, &v, 8); }

/* ---- growable byte buffer ---- */
typedef struct cx_buf {
  unsigned char *p;
  size_t n, cap;
} cx_buf;
int cx__buf_reserve(cx_buf *b, size_t extra);
int cx__buf_add(cx_buf *b, const void *p, size_t n);
void cx__buf_free(cx_buf *b);

/* ---- arena (copies kept until the batch ends) ---- */
typedef struct cx_arena_blk cx_arena_blk;
typedef struct cx_arena {
  cx_arena_blk *head;
  size_t used, cap;
} cx_arena;
void *cx__arena_alloc(cx_arena *a, size_t n);
void cx__arena_free(cx_arena *a);

/* ---- byte-key hash map: key -> u32 ---- */
typedef struct cx_hent {
  uint64_t h;
  const unsigned char *k; /* copy in the map's arena */
  uint32_t n, v;
} cx_hent;
typedef struct cx_hmap {
  cx_hent *e;
  size_t cap, count;
  cx_arena keys;
} cx_hmap;
uint64_t cx__hash(const void *p, size_t n);
/** Finds key; returns a pointer to the value or NULL. */
uint32_t *cx__hmap_get(cx_hmap *m, const void *k, size_t n);
/** Finds or inserts key (copied): *found says which; returns the value slot (NULL: no memory). */
uint32_t *cx__hmap_put(cx_hmap *m, const void *k, size_t n, int *found);
void cx__hmap_free(cx_hmap *m);
/** Stable LSD radix sort of n elements of sz bytes by their first klen bytes (memcmp order). */
int cx__radix_sort(void *base, size_t n, size_t sz, size_t klen);
void cx__hmap_clear(cx_hmap *m);

/* ---- record codec (keys.c, reczip.c) ---- */
/** Encodes r (with seq, entity_id, authority_id, region, report_delay, on_time set) as a
 *  version 1 (raw) value: what is compared, digested and packed. */
int cx__rec_encode(const cx_record *r, cx_buf *out);
/** Decodes a value of either version. d: the decoder whose buffer the strings of a version 2
 *  value point into (NULL: version 1 only, a version 2 value is CX_ECORRUPT). */
int cx__rec_decode(cx_recdec *d, const void *v, size_t n, cx_record *out);
/** The version 1 bytes of a value: v itself, or decompressed into d's buffer. CX_ECORRUPT
 *  (with a message) for a malformed value or an unknown dictionary. */
int cx__rec_unpack(cx_recdec *d, const void *v, size_t n, const unsigned char **raw, size_t *rawn);
/** The stored form of a version 1 value: packed with z (NULL: none) when that is shorter,
 *  else a copy. out must not alias raw. */
int cx__rec_pack(cx_recenc *e, const cx_zdict *z, const void *raw, size_t n, cx_buf *out);
/** Bytes cx__rec_pack may need in an empty out for a raw value of n bytes (it never grows a
 * buffer of this capacity). */
size_t cx__rec_pack_bound(size_t n);
/* packpar.c: a batch's values packed on the writer and one helper thread (same bytes as
 * cx__rec_pack). The inputs (borrowed) must outlive the cx_packpar; a packed value points into
 * it, valid until cx__packpar_end. */
typedef struct cx_packin {
  const unsigned char *p;
  size_t n;
} cx_packin;
typedef struct cx_packpar cx_packpar;
int cx__packpar_start(cx_store *st, const cx_zdict *z, size_t n, const cx_packin *in, cx_packpar **out);
/** Value i packed: waits for it, or packs values not yet claimed meanwhile. Call on the writer
 * thread (it uses st->wenc). */
int cx__packpar_get(cx_store *st, cx_packpar *pp, size_t i, const unsigned char **p, size_t *n);
void cx__packpar_end(cx_packpar *pp); /* joins the helper; NULL: nothing */
extern size_t cx__packpar_min; /* values below which no helper starts (tests set it) */
void cx__recdec_init(cx_recdec *d, cx_store *st, MDB_txn *txn);
void cx__recdec_free(cx_recdec *d);
void cx__recenc_free(cx_recenc *e);
/** The writer's decoder (st->wdec) bound to txn, a write txn of this thread. */
cx_recdec *cx__wdec(cx_store *st, MDB_txn *txn);
/** Dictionary id of a value (0: version 1). */
static inline unsigned cx__rec_dict_id(const void *v, size_t n) {
  const unsigned char *p = v;
  return n > 2 && p[0] == CX_REC_VERSION_Z ? p[1] : 0;
}
/** Dictionary id (a store's, loaded from meta on first use). CX_ECORRUPT when the store has
 *  no such dictionary. */
int cx__zdict_get(cx_store *st, MDB_txn *txn, uint32_t id, const cx_zdict **out);
/** The dictionary new values are packed with (*out NULL: none yet). */
int cx__zdict_current(cx_store *st, MDB_txn *txn, const cx_zdict **out);
/** Trains a dictionary on the string areas of n version 1 values and makes it current, in
 *  txn (id: the current one + 1). *out NULL when the samples teach nothing (too few, too
 *  uniform) or every id is taken: values then stay version 1. */
int cx__zdict_train(cx_store *st, MDB_txn *txn, size_t n, const unsigned char *const *vals,
                    const size_t *lens, const cx_zdict **out);
/**
 * For a store fed in small batches (a server's: each under zdict_min records, so no batch
 * trains the first dictionary) or upgraded with raw records: when the store has none and holds
 * at least zdict_min records with the batch's n, trains one on a sample of the stored records
 * (at least 8 of them). A try that teaches nothing is not repeated by this handle before the
 * store has doubled. *out as cx__zdict_train.
 */
int cx__zdict_train_stored(cx_store *st, MDB_txn *txn, size_t n, const cx_zdict **out);
/** Called by cx__store_wtxn_end after txn ended (top: not a child of the load txn). */
void cx__zdict_txn_end(cx_store *st, MDB_txn *txn, int top, int committed);
/** Frees the store's dictionaries and the writer's codecs (close). */
void cx__zdict_free_all(cx_store *st);
/** chengxin compact's record repacker (cx_store_backup_packed): every value of snapshot rt
 *  unpacked and packed again at a higher level with the store's current dictionary, or with
 *  one trained on a sample of the records when the store has none (and has at least
 *  CX_ZDICT_TRAIN_MIN records; else values are copied). cx__repack_meta adds a trained
 *  dictionary to the copy's meta DB. */
typedef struct cx_repack cx_repack;
int cx__repack_begin(cx_store *st, MDB_txn *rt, cx_repack **out);
/** *v: the value to copy; replaced by the repacked bytes (valid until the next call). */
int cx__repack_value(cx_repack *r, MDB_val *v);
int cx__repack_meta(cx_repack *r, MDB_txn *wt, MDB_dbi meta);
void cx__repack_end(cx_repack *r);
/** Values of one batch that train the store's first dictionary (CX_ZDICT_TRAIN_MIN). */
#define CX_ZDICT_TRAIN_MIN 2000u
/** Decodes the fixed header of a version 1 record value (no strings: cx__rec_unpack a stored
 *  one first); CX_ECORRUPT like cx__rec_decode for a short value, another version or an
 *  out-of-range category/severity/status. */
static inline int cx__fact_decode(const void *v, size_t n, cx_fact *f) {
  const unsigned char *p = v;
  if (n < CX_REC_HDR || p[0] != CX_REC_VERSION) return CX_ECORRUPT;
  f->category = p[1];
  f->subtype = p[2];
  f->domain = p[3];
  f->severity = p[4];
  f->status = p[5];
  f->objection = p[6];
  f->entity_kind = p[7];
  f->on_time = p[8] & 1u;
  f->delay_provisional = (p[8] >> 2) & 1u;
  f->seq = cx__rd32(p + 9);
  f->entity_id = cx__rd32(p + 13);
  f->authority_id = cx__rd32(p + 17);
  f->region = cx__rd32(p + 21);
  f->decision_date = cx__rd32(p + 25);
  f->report_date = cx__rd32(p + 29);
  f->valid_from = cx__rd32(p + 33);
  f->valid_until = cx__rd32(p + 37);
  f->amount_fen = cx__rd64(p + 41);
  f->report_delay = (int32_t)cx__rd32(p + 49);
  f->display_until = cx__rd32(p + 53);
  if (f->category >= CX_CAT_COUNT || f->severity >= CX_SEV_COUNT || f->status >= CX_ST_COUNT)
    return CX_ECORRUPT;
  return 0;
}
/**
 * Sets r->report_delay, r->on_time and r->delay_provisional from the calendar. Returns
 * delay_provisional: 1 when the span touches a year without a published notice
 * (cx_calendar_span_provisional), else 0.
 */
int cx__rec_timeliness(const cx_calendar *cal, cx_record *r);
size_t cx__rollup_key(int cube, const cx_record *r, unsigned char *out);
void cx__rollup_delta(const cx_record *r, cx_rollup_cell *d);
/** A rollup value (zigzag varints): CX_ECORRUPT when malformed. */
int cx__cell_decode(const void *v, size_t n, cx_rollup_cell *c);
/** Encodes c into out; returns its length (6..CX_ROLLUP_VAL_MAX). */
size_t cx__cell_encode(const cx_rollup_cell *c, unsigned char out[CX_ROLLUP_VAL_MAX]);

/* ---- facts (facts.c) ---- */
/** Fact slot updates of one batch: cx__facc_add per record value written, then apply. */
typedef struct cx_facc {
  cx_buf ents;              /* seq BE + image */
  unsigned char *block;     /* scratch block */
} cx_facc;
/** The fact image of a record value (its fixed header). CX_ECORRUPT. */
int cx__fact_image(const void *recval, size_t n, unsigned char img[CX_FACT_IMG]);
int cx__facc_add(cx_facc *a, const void *recval, size_t n);
/** Writes the accumulated slots (one read-modify-write per touched block) and empties a. */
int cx__facc_apply(cx_facc *a, cx_store *st, MDB_txn *txn);
void cx__facc_free(cx_facc *a);
/** Rebuilds the facts DB from the records. */
int cx__facts_rebuild_all(cx_store *st, MDB_txn *txn);
/** The image of seq's slot (points into the map). CX_ENOTFOUND when the slot is empty. */
int cx__facts_get(cx_store *st, MDB_txn *txn, uint32_t seq, const unsigned char **img);

/* ---- rollup accumulator (rollup.c) ---- */
typedef struct cx_racc {
  cx_hmap map;
  cx_rollup_cell *cells;
  unsigned char **kp;   /* key pointers by index */
  unsigned char *kn;    /* key lengths by index */
  size_t n, cap;
} cx_racc;
/** Adds sign * delta of r to every cube cell of r. */
int cx__racc_add(cx_racc *a, const cx_record *r, int sign);
/** Applies the accumulated deltas to the rollup DB (read-modify-write; count 0 deletes). */
int cx__racc_apply(cx_racc *a, cx_store *st, MDB_txn *txn);
void cx__racc_free(cx_racc *a);

/* ---- summary builder (summary.c) ---- */
/* One part of an entity's hits: the main value (part 0) or a spill chunk. */
typedef struct cx_sum_cut {
  uint32_t hit, str;        /* first hit index; its offset in hstr */
  uint32_t n_hits, str_n;   /* hits and string bytes of this part */
} cx_sum_cut;
typedef struct cx_sumb {
  const cx_catalog *cat;
  uint64_t restrict_any;     /* deny | review measures of every action (CX_SRF_RESTRICTS) */
  uint32_t entity_id;
  cx_buf hits, recs, hstr;  /* hit images, rec images, per-hit strings */
  uint32_t n_hits, n_recs;   /* n_hits: every hit, main value and chunks */
  uint32_t n_chunks;         /* spill chunks after cx__sumb_finish */
  cx_buf cuts;               /* cx_sum_cut per part, from cx__sumb_finish */
  int have_first;
  uint8_t kind;
  uint32_t region;
  char code[CX_CODE_LEN];
  cx_buf name, auth;        /* identity of the newest record */
  cx_buf out;               /* the summary value */
  cx_buf xout;              /* one spill chunk value (cx__sumb_chunk) */
} cx_sumb;
void cx__sumb_reset(cx_sumb *b, const cx_catalog *cat, uint32_t entity_id, const char code[CX_CODE_LEN]);
/** Adds the next record (records must come newest first, i.e. in key order). */
int cx__sumb_add(cx_sumb *b, const cx_record *r);
/**
 * Builds the value into b->out. When the entity had no records, identity comes from old
 * (may be NULL). last_update is written as given.
 */
int cx__sumb_finish(cx_sumb *b, const cx_summary *old, cx_day last_update);
/** Encodes spill chunk k (1..b->n_chunks) into b->xout, after cx__sumb_finish. */
int cx__sumb_chunk(cx_sumb *b, uint32_t k);
void cx__sumb_free(cx_sumb *b);
/** The summary_x key of chunk k of code (20 bytes). */
static inline void cx__sumx_key(const char code[CX_CODE_LEN], uint32_t k, unsigned char out[CX_CODE_LEN + 2]) {
  memcpy(out, code, CX_CODE_LEN);
  out[CX_CODE_LEN] = (unsigned char)(k >> 8);
  out[CX_CODE_LEN + 1] = (unsigned char)k;
}
/** Rebuilds and writes the summary of one entity from its records; maintains names and grams. */
/* The entities DB's value: the code (18 B), then, once written by a summary rebuild, the hint:
 * 'h', kind, public_end (u32 BE). */
#define CX_ENT_VAL_HINTED (CX_CODE_LEN + 6)
/** Parses an entities value; hint->known = 0 for a code alone. CX_ECORRUPT for any other shape. */
static inline int cx__entity_value_parse(const void *v, size_t n, cx_entity_hint *hint) {
  const unsigned char *p = v;
  if (n == CX_CODE_LEN) {
    *hint = (cx_entity_hint){0, 0, 0};
    return 0;
  }
  if (n != CX_ENT_VAL_HINTED || p[CX_CODE_LEN] != 'h') return CX_ECORRUPT;
  *hint = (cx_entity_hint){1, p[CX_CODE_LEN + 1],
                           (cx_day)p[CX_CODE_LEN + 2] << 24 | (cx_day)p[CX_CODE_LEN + 3] << 16 |
                               (cx_day)p[CX_CODE_LEN + 4] << 8 | p[CX_CODE_LEN + 5]};
  return 0;
}
/** The entities value of code with hint h (CX_ENT_VAL_HINTED bytes). */
static inline void cx__entity_value(const char code[CX_CODE_LEN], const cx_entity_hint *h,
                                    unsigned char out[CX_ENT_VAL_HINTED]) {
  memcpy(out, code, CX_CODE_LEN);
  out[CX_CODE_LEN] = 'h';
  out[CX_CODE_LEN + 1] = h->kind;
  out[CX_CODE_LEN + 2] = (unsigned char)(h->public_end >> 24);
  out[CX_CODE_LEN + 3] = (unsigned char)(h->public_end >> 16);
  out[CX_CODE_LEN + 4] = (unsigned char)(h->public_end >> 8);
  out[CX_CODE_LEN + 5] = (unsigned char)h->public_end;
}

/** Writes every entity's hint from its stored summary (schema 5 -> 6); *n: entities seen. */
int cx__hints_rebuild_all(cx_store *st, MDB_txn *txn, uint64_t *n);
int cx__summary_rebuild(cx_store *st, MDB_txn *txn, cx_sumb *b, MDB_cursor *rc, MDB_cursor *sc,
                        uint32_t eid, const char code[CX_CODE_LEN], cx_day today, int *changed);
/** The names DB key of an entity: normalised name, 0x00, code. out holds CX_NAME_KEY_CAP bytes. */
#define CX_NAME_KEY_CAP 1024
int cx__name_key(const char *name, size_t n, const char code[CX_CODE_LEN], unsigned char *out,
                 size_t *klen);
/* ---- keyword index (grams.c) ---- */
/* Grams of one name: at most one per character of a CX_MAX_ENTITY_NAME-byte name. */
#define CX_NAME_GRAMS_MAX CX_MAX_ENTITY_NAME
/**
 * Moves entity eid's grams from those of the old normalised name to those of the new one
 * (either may be NULL: none): deletes the grams only the old has, puts those only the new has.
 */
int cx__grams_update(cx_store *st, MDB_txn *txn, uint32_t eid, const char *old_norm, size_t old_n,
                     const char *new_norm, size_t new_n);
/** 1 when (gram, eid) is in the grams DB, 0 when not, or a negative error (cur: on grams). */
int cx__grams_has(cx_store *st, MDB_cursor *cur, cx_str gram, uint32_t eid);

/** Measure mask of a record for the check index (0 when none resolve). */
uint64_t cx__rec_measures(const cx_catalog *cat, const cx_record *r, int *list_idx);

/* ---- store.c helpers ---- */
int cx__authority_find(cx_store *st, MDB_txn *txn, cx_str code, uint32_t *id);
int cx__meta_get32(cx_store *st, MDB_txn *txn, const char *name, uint32_t *v);
int cx__meta_put32(cx_store *st, MDB_txn *txn, const char *name, uint32_t v);
/** u64 meta values, big-endian (logseq.c); get: CX_ENOTFOUND when the key is absent. */
int cx__meta_get64(cx_store *st, MDB_txn *txn, const char *name, uint64_t *v);
int cx__meta_put64(cx_store *st, MDB_txn *txn, const char *name, uint64_t v);
/** 1 when the store is marked as following a replicated log (meta "log_stream"), else 0. */
int cx__store_follows(cx_store *st, MDB_txn *txn);
/** Begins a write txn, handling MDB_MAP_RESIZED; pair with cx__store_wtxn_end. */
int cx__store_wtxn(cx_store *st, MDB_txn **out);
/** Commits (commit != 0) or aborts a txn from cx__store_wtxn. Returns the commit's error. */
int cx__store_wtxn_end(cx_store *st, MDB_txn *txn, int commit);
/** Enter/leave the set of live txns (see cx_store.active). */
void cx__store_enter(cx_store *st);
void cx__store_leave(cx_store *st);
/** A read txn of the store's own (counted in active). */
int cx__store_rtxn(cx_store *st, MDB_txn **txn);
void cx__store_rtxn_end(cx_store *st, MDB_txn *txn);
/** Doubles the map (after a MDB_MAP_FULL abort; waits for this process's txns to end). */
int cx__store_grow(cx_store *st);
/** Rebuilds every rollup cell from the records (after a calendar change). */
int cx__rollup_rebuild_all(cx_store *st, MDB_txn *txn);
/** Rebuilds every summary from the records (after a catalogue change). */
int cx__summary_rebuild_all(cx_store *st, MDB_txn *txn, cx_day today);

/* ---- regions (regions.c) ----
 * regions DB: current entries key code (u32 BE, 4 B) -> name; historic entries key 'H' + code
 * (u32 BE, 5 B: all after the current ones) -> first year (u16 BE), last year (u16 BE), name. */
#define CX_REGION_HIST_TAG 'H'
/** Empties the regions DB and loads both tables (validated texts; either may be empty). */
int cx__regions_load(cx_store *st, MDB_txn *txn, const char *cur, size_t cur_n, const char *hist,
                     size_t hist_n);
/** Entries of the regions DB: current and historic. */
int cx__regions_count(cx_store *st, MDB_txn *txn, uint64_t *current, uint64_t *historic);
/** Well-formed UTF-8, no control characters but tab (catalog.c). */
int cx__utf8_ok(cx_str s);

/* ---- audit log (audit.c) ----
 * Audit value, version 1 (key: seq u64 BE, 1, 2, 3 ...; append-only):
 *   0  1  version (CX_AUDIT_VERSION)
 *   1  8  time_ms (i64, little-endian)
 *   9     strings, each u16 length + bytes: who, role, op, target, detail, client */
#define CX_AUDIT_VERSION 1u
#define CX_AUDIT_HDR 9u
/** Appends n entries in txn after the last seq; time_ms 0 is replaced by now_ms. tmp: scratch. */
int cx__audit_write(cx_store *st, MDB_txn *txn, const cx_audit_entry *e, size_t n, int64_t now_ms,
                    cx_buf *tmp);
int cx__audit_decode(const void *v, size_t n, cx_audit_entry *out);

#endif
