/*
 * query.h — chengxin query semantics over a store read transaction.
 *
 * query/ is pure: no sockets, no files; it reads the store through store.h only. Every call
 * takes a read transaction the caller owns (cx_txn), a role and an as-of day.
 *
 * Semantics (docs/data-model.md "What each role sees"), decided here once for every door:
 *  - in force on day D: status active and valid_from <= D < valid_until (open end: in force);
 *  - displayable to the public on day D: active; for persons and civil servants a category
 *    of the catalogue's `person_public`; then for 失信信息 (catalogue `negative`): its tier
 *    published and decision_date <= D < end, end = decision_date + the tier's max_months, or
 *    earlier the day after display_until (公示截止期), or for a blacklist entry valid_until
 *    (the end of its listing); for other records: in force on D;
 *  - the public role sees today only (cx_day_today(), the Beijing day): any other as_of is
 *    CX_EPUBLICDAY. Everything it is told (counts, flags, last_update, search results,
 *    aggregates, errors) is computed from its displayable records: an entity with none is
 *    CX_ENOTFOUND, exactly like an unknown code, whatever the other arguments;
 *  - the approval role (sharing with departments) sees active records only: a repaired or
 *    revoked record is no longer shared; analyst, submitter and admin see every record, flagged;
 *  - the public never sees a full resident ID number (cx_idcard_mask); search masks them for
 *    every role but admin.
 *
 * Caveats (threads): a cx_query is immutable after cx_query_new() except cx_query_reload();
 * share one between threads, or give each thread its own. Results point into the txn's map
 * snapshot or into caller buffers: encode them before resetting the txn.
 */
#ifndef CX_QUERY_H
#define CX_QUERY_H

#include "store.h"

typedef enum cx_role {
  CX_ROLE_PUBLIC, CX_ROLE_APPROVAL, CX_ROLE_ANALYST, CX_ROLE_SUBMITTER, CX_ROLE_ADMIN,
  CX_ROLE_COUNT
} cx_role;
extern const char *const cx_role_names[CX_ROLE_COUNT];

typedef struct cx_query cx_query;

/**
 * Creates a query context: copies the store's catalogue (the calendar is not needed: report
 * delays are computed at ingest) and reads the store salt that keys the cursors' MAC.
 * st is borrowed and must outlive q. CX_ENOMEM.
 */
int cx_query_new(cx_store *st, cx_query **out);
void cx_query_free(cx_query *q);
/** Re-reads the catalogue (after cx_store_data_put): the text stored in the environment,
 *  else the handle's copy. */
int cx_query_reload(cx_query *q);
const cx_catalog *cx_query_catalog(const cx_query *q);

/* ===================================================================== visibility */

int cx_query_in_force(const cx_sum_rec *r, cx_day as_of);
/** Displayable to the public role on as_of (see above). kind is the entity's cx_kind;
 *  r->flags carries the subtype (CX_SRF_SUBTYPE_SHIFT). */
int cx_query_displayable(const cx_query *q, uint8_t kind, const cx_sum_rec *r, cx_day as_of);
/** Whether role may see record r of an entity of kind on as_of (public: displayable). */
int cx_query_visible(const cx_query *q, cx_role role, uint8_t kind, const cx_sum_rec *r,
                     cx_day as_of);
/** 0, or CX_EPUBLICDAY when role is public and as_of is not today. Every op checks it. */
int cx_query_check_day(cx_role role, cx_day as_of);

/* ===================================================================== entity */

typedef struct cx_cat_counts {
  uint32_t total, in_force, visible; /* over the records the role may see; visible: the
                                        displayable ones (public: == total) */
} cx_cat_counts;

/* Flags, over the records the role may see: */
#define CX_EF_BLACKLISTED 1u    /* an in-force serious-dishonesty list entry */
#define CX_EF_UNDER_MEASURES 2u /* an in-force deny or review measure */
#define CX_EF_REDLISTED 4u      /* an in-force red-list entry */
#define CX_EF_OBJECTION 8u      /* an active record with an objection pending */

typedef struct cx_entity_status {
  cx_str code;                 /* as shown (cx_code_format: a typed identifier's textual form);
                                  masked for the public role when a person's */
  cx_str name;
  uint8_t kind;
  uint32_t region;             /* county code */
  cx_str province, city, county; /* region names ("" when unknown); city as
                                    cx_query_city_name says it ("" for a province's own level) */
  uint16_t region_until;       /* 0: region is a current code; else it is historic, last in use
                                  in this year (a code issued before a redistricting) */
  cx_str authority_code, authority_name; /* civil servants: of the newest record the role sees */
  cx_cat_counts counts[CX_CAT_COUNT];
  uint32_t flags;              /* CX_EF_* */
  cx_day last_update;          /* public and approval: the newest decision_date they may see;
                                  others: the day of the last batch that changed the entity */
  char code_buf[CX_CODE_TEXT_MAX]; /* storage for a masked or textual code */
  char city_buf[96];           /* storage for city when it is not a table's name */
  cx_str stored_code;          /* the stored 18-byte key, for the door's audit entry only */
} cx_entity_status;

/**
 * The status page of code (any case/whitespace; validated). One summary lookup.
 * CX_EINVALCODE (or a finer code error), CX_ENOTFOUND, CX_EPUBLICDAY. The public role gets
 * CX_ENOTFOUND for an entity none of whose records it may see (any kind).
 */
int cx_query_entity(const cx_query *q, cx_txn *t, cx_role role, cx_str code, cx_day as_of,
                    cx_entity_status *out);

/* ===================================================================== records */

#define CX_CURSOR_MAX 48 /* bytes of a cursor string, NUL included */
#define CX_RECORDS_MAX_LIMIT 1000u  /* records on one page */
/* Records one call visits, those it skips included (hidden from the role, other categories):
 * a page ends short, with a next cursor, when the walk reaches it. At ~0.1 µs per skipped
 * record header that bounds a call to about a millisecond of walking. */
#define CX_RECORDS_VISIT_MAX 10000u

typedef struct cx_record_view {
  const cx_record *r;          /* entity_code as shown (a typed identifier's textual form),
                                  masked for the public role when a person */
  int in_force;
  int displayable;
} cx_record_view;

typedef int (*cx_record_view_fn)(void *ctx, const cx_record_view *v);

typedef struct cx_records_req {
  cx_str code;
  int category;                /* -1: all */
  cx_str cursor;               /* empty: first page */
  uint32_t limit;              /* 1..1000 (0 -> 20) */
  cx_day as_of;
  cx_role role;
} cx_records_req;

/**
 * One page of an entity's records, newest first, role-filtered. fn is called for each record
 * on the page (a negative return aborts the page and is returned). next_cursor receives a
 * NUL-terminated opaque cursor ("" when no more): 44 lower-case hex characters holding the
 * entity id, the last record key and the category filter under a SipHash-2-4 MAC keyed by the
 * store salt. A cursor of another entity, another category filter, another store, forged or
 * malformed: CX_EBADREQ. Also CX_EBADREQ: limit > 1000, category outside -1..CX_CAT_COUNT-1.
 * Paging visits each record exactly once; records inserted meanwhile ahead of the cursor
 * (newer) do not appear. Code errors, CX_EPUBLICDAY and CX_ENOTFOUND as cx_query_entity,
 * checked before the cursor: an entity hidden from the role is CX_ENOTFOUND with any cursor.
 * Records are those the role may see (cx_query_visible). A call visits at most
 * CX_RECORDS_VISIT_MAX records: past that the page ends short (possibly empty) with a next
 * cursor; keep paging while next_cursor is not empty.
 */
int cx_query_records(const cx_query *q, cx_txn *t, const cx_records_req *req,
                     cx_record_view_fn fn, void *ctx, char next_cursor[CX_CURSOR_MAX]);

/* ===================================================================== check */

typedef enum cx_verdict {
  CX_V_CLEAR, CX_V_REVIEW, CX_V_DENY, CX_V_NOT_FOUND, CX_V_INVALID_CODE, CX_V_COUNT
} cx_verdict;
extern const char *const cx_verdict_names[CX_V_COUNT];

typedef struct cx_check_hit {
  cx_str record_id, authority_code;   /* into the map */
  uint8_t category;                   /* cx_category */
  const char *list_type;              /* catalogue code (NUL-terminated, q-owned) */
  const char *measure, *measure_name; /* catalogue code and name */
  uint8_t effect;                     /* cx_effect */
  cx_day valid_from, valid_until;     /* advisory: the record's display window [from, until) */
  uint8_t objection;
  uint8_t severity;                   /* cx_severity (the record's tier) */
  uint32_t authority_id;              /* the store's id of authority_code */
  uint8_t advisory;                   /* 0: a measure; else an approval hint (list_type, measure
                                         "" and effect unused): why, CX_ADV_TIER | CX_ADV_FINE */
} cx_check_hit;

typedef struct cx_check_result {
  uint8_t verdict;                    /* cx_verdict */
  char code[CX_CODE_LEN + 1];         /* normalised code, the key ("" when invalid) */
  char shown[CX_CODE_TEXT_MAX];       /* code as answers show it (cx_code_format; "" when invalid) */
  int code_err;                       /* for invalid_code: the finer error (CX_ECHECKSUM, ...) */
  uint32_t n_hits;                    /* hits written (deny/review first, then incentives) */
  uint32_t n_total;                   /* hits found (> n_hits when cap was too small) */
  uint32_t n_advisory;                /* advisory hits found (counted in n_total) */
  uint32_t region;                    /* the entity's county code (0: not found, invalid) */
  uint8_t kind;                       /* the entity's cx_kind; not_found: CX_KIND_PERSON for an
                                         ID number, else CX_KIND_UNSET; invalid: CX_KIND_UNSET
                                         (the server audits checks about persons by it) */
} cx_check_result;

/** Action index by code; CX_EBADREQ for an unknown action. */
int cx_query_action(const cx_query *q, cx_str action);

/**
 * The linked-punishment verdict for one code and action on as_of, and the hits that justify it
 * (deny/review measures in force), then the approval hints (advisory != 0: in-force 失信信息 the
 * catalogue's `advisory` lines name, within their display window, none of whose own measures
 * restricts this action; they never change the verdict), then the red-list incentives for this
 * action, written into hits[0..cap). One summary lookup; no heap allocation; an entity without
 * advisory hits costs one flag test per hit more than before them. Never fails for a bad or unknown code:
 * that is the verdict. Returns 0, or a negative store error.
 */
int cx_query_check(const cx_query *q, cx_txn *t, cx_str code, int action, cx_day as_of,
                   cx_check_result *out, cx_check_hit *hits, uint32_t cap);

/* ===================================================================== search */

/*
 * Keyword search (docs/protocol.md "search"). A query is a name, any contiguous part of a
 * name, or the start of a code. It is normalised (cx_name_normalize) and answered in phases,
 * each entity in one phase only, in this order:
 *   exact     normalised name == query            } the names index, in (name, code) order
 *   prefix    normalised name starts with query   }   (the exact ones sort first)
 *   code      code starts with the query (upper-cased; only when it is 1..18 letters and
 *             digits), name not a prefix match; in code order
 *   contains  the name holds the query elsewhere (queries of 2 or more characters: the
 *             keyword index's bigram lists intersected, each candidate's name checked); in
 *             entity-id order (the order entities first reached the store: stable)
 * Paged by an opaque cursor; a call visits at most `budget` index entries (names and codes
 * entries, and entries of the shortest bigram list), those it skips included — hidden
 * entities, persons for the public, bigram candidates whose name does not hold the query.
 * Past that the page ends short (possibly empty) with a next cursor: keep paging while it is
 * not empty. Each contains visit costs at most CX_GRAMS_AND_MAX - 1 list probes and, for a
 * candidate in every list, two point reads.
 */
#define CX_SEARCH_MAX_LIMIT 100u
#define CX_SEARCH_DEFAULT_LIMIT 20u
#define CX_SEARCH_VISIT_MAX 4000u
#define CX_SEARCH_CURSOR_MAX 192 /* bytes of a search cursor string, NUL included */

typedef enum cx_match { CX_MATCH_EXACT, CX_MATCH_PREFIX, CX_MATCH_CODE, CX_MATCH_CONTAINS, CX_MATCH_COUNT } cx_match;
extern const char *const cx_match_names[CX_MATCH_COUNT]; /* "exact", "prefix", "code", "contains" */
/* Wire names of the CX_EF_* flags, bit i = 1 << i: "blacklisted", "under_measures", "redlisted",
 * "objection". */
#define CX_EF_COUNT 4
extern const char *const cx_entity_flag_names[CX_EF_COUNT];

typedef struct cx_search_hit {
  cx_str code;        /* as the role may see it: ID numbers and typed identifiers masked for
                         every role but admin; typed ones in their textual form */
  cx_str name;
  uint8_t kind;
  cx_str stored_code; /* the full stored code, for the door's audit entry only: never send it */
  uint8_t match;      /* cx_match */
  uint32_t region;    /* county code; province, city, county: names as cx_query_entity gives */
  cx_str province, city, county;
  uint32_t flags;     /* CX_EF_*, as cx_query_entity computes them for the role, today */
} cx_search_hit;
typedef int (*cx_search_fn)(void *ctx, const cx_search_hit *h);

typedef struct cx_search_req {
  cx_str q;           /* name, part of a name, or code prefix (any case, spacing, width) */
  cx_str cursor;      /* empty: the first page; else a next cursor of the same q */
  uint32_t limit;     /* 1..100 (0 -> 20) */
  cx_role role;
  uint32_t budget;    /* index entries one call may visit: 0 or above CX_SEARCH_VISIT_MAX ->
                         CX_SEARCH_VISIT_MAX (tests give less) */
} cx_search_req;

/**
 * One page of search results (see above), at most limit, each entity at most once across the
 * pages of one query. The public role gets no persons or civil servants and no entity without
 * a record it may see today (cx_query_entity's rule: it is CX_ENOTFOUND there); other roles
 * get every entity, persons with masked ID numbers (admin: in full), and the door audits each
 * person returned (kind person or civil_servant).
 * fn returns 0 to go on, > 0 to end the page (the next cursor resumes after that hit), < 0 to
 * abort (returned). next receives the NUL-terminated next cursor, "" after the last page; a
 * full page may be followed by an empty last one. Cursors are lower-case hex (at most
 * CX_SEARCH_CURSOR_MAX - 1 characters) under a SipHash-2-4 MAC keyed by the store salt and
 * bound to the normalised query: another query's, another store's, forged or malformed ones
 * are CX_EBADREQ. Entities renamed or added between pages may be missed or moved; none is
 * returned twice unless renamed meanwhile. CX_EBADREQ also: limit > 100, a query with
 * nothing to search for.
 */
int cx_query_search_page(const cx_query *q, cx_txn *t, const cx_search_req *req, cx_search_fn fn,
                         void *ctx, char next[CX_SEARCH_CURSOR_MAX]);
/** The first page of q as cx_query_search_page, no cursor out. */
int cx_query_search(const cx_query *q, cx_txn *t, cx_role role, cx_str prefix, uint32_t limit,
                    cx_search_fn fn, void *ctx);

/* ===================================================================== aggregate */

typedef enum cx_metric {
  CX_M_COUNT, CX_M_AMOUNT, CX_M_IN_FORCE, CX_M_ON_TIME, CX_M_ON_TIME_RATE, CX_M_REPORT_DELAY,
  CX_M_REPAIRED, CX_M_LOSS_RATE, CX_M_KEPT_RATE,
  CX_M_COUNT_
} cx_metric;
extern const char *const cx_metric_names[CX_M_COUNT_];

#define CX_AGG_MAX_FILTER_VALUES 64
#define CX_AGG_MIN_PUBLIC_CELL 5 /* cells below this count are suppressed for the public role */

typedef struct cx_agg_filter {
  uint8_t dim;                 /* cx_dim */
  uint32_t n;
  uint32_t vals[CX_AGG_MAX_FILTER_VALUES];
} cx_agg_filter;

typedef struct cx_agg_spec {
  uint8_t n_group, group[CX_DIM_COUNT];  /* group-by columns, in output order */
  uint8_t n_filters;
  cx_agg_filter filters[CX_DIM_COUNT];
  cx_day from, to;             /* decision-date range, inclusive; CX_DAY_NONE = unbounded */
  uint8_t n_metrics, metrics[CX_M_COUNT_]; /* default: count */
  int order;                   /* column index (group columns then metrics), -1 = group order */
  int desc;
  uint32_t limit;              /* 0 = all */
  cx_day as_of;                /* for in_force */
  int force_scan;              /* tests and benches: never use rollups */
  /* Bounds (0 / NULL: none but the default group cap): */
  uint32_t max_groups;         /* 0 = CX_AGG_MAX_GROUPS; more groups: CX_ETOOLARGE */
  uint64_t deadline_ns;        /* uv_hrtime()/CLOCK_MONOTONIC ns; past it: CX_ETIMEOUT */
  const int *cancel;           /* read atomically; non-zero: CX_ECANCELED (client gone) */
  uint8_t threads;             /* scans: at most this many threads (tests, benches); 0 = as
                                  cx_query_set_scan_threads says */
} cx_agg_spec;
/* Groups an aggregate may build (each ~150 B of memory, ~100 B of answer). */
#define CX_AGG_MAX_GROUPS 100000u

typedef struct cx_agg_row {
  uint32_t keys[CX_DIM_COUNT]; /* keys[i] = value of group[i] (cx_record_dim encoding) */
  double vals[CX_M_COUNT_];    /* vals[i] = value of metrics[i]; rates in [0,1] */
  uint64_t provisional;        /* reported records of the row whose report delay is provisional */
} cx_agg_row;

typedef struct cx_agg_result {
  uint32_t n_rows;
  cx_agg_row *rows;            /* owned: cx_agg_result_free() */
  int from_rollup;             /* 1 when answered from a rollup cube */
  uint64_t scanned;            /* cells or records visited */
  uint32_t threads;            /* threads the scan ran on (1 from a rollup) */
  /* Reported records of the rows answered whose report delay and on-time flag are provisional
   * (cx_record.delay_provisional: they count a year without a published 调休 notice, and
   * on_time, on_time_rate and report_delay may change when it is loaded). */
  uint64_t provisional;
} cx_agg_result;

/** Parses a dimension value ("35", "3501", "2024-03", "2024Q1", "penalty", authority code...). */
int cx_query_dim_parse(const cx_query *q, cx_txn *t, cx_dim dim, cx_str s, uint32_t *val);
/**
 * cx_query_dim_parse, and for the region dimensions a name as well: `福建省`, `福州市` (a
 * municipality's name, 北京市, is its city level too: 1101; 重庆市 5001 and 5002), `鼓楼区` or
 * `福州市鼓楼区`. Names are matched exactly against both region tables. Fills vals (cap
 * entries) and *n. CX_EBADREQ: not a value of dim (cx_query_dim_expected says what is);
 * CX_EEXIST: a county name several counties have (*n of them in vals: give the code or the
 * city's name before it); CX_ETOOLARGE: more than cap values.
 */
int cx_query_dim_parse_all(const cx_query *q, cx_txn *t, cx_dim dim, cx_str s, uint32_t *vals,
                           uint32_t cap, uint32_t *n);
/** What a value of dim looks like, for error messages ("a region code such as 3501 or
 *  350100, or a name such as 福州市"). Static. */
const char *cx_query_dim_expected(cx_dim dim);
/** The 6-digit GB/T 2260 code of a region dimension's value (city 3501 -> "350100");
 *  CX_ENOTFOUND for other dimensions. */
int cx_query_dim_code(cx_dim dim, uint32_t val, char *buf, size_t cap);
/**
 * The name of the city level of a 6-digit region as people say it: 福州市; a municipality's
 * name (北京市, never 市辖区); 福建省本级 for a province's own level (350000), never the
 * province as a city; 湖北省直辖县级行政区划 for 4290xx; the 4-digit code when none is known.
 */
int cx_query_city_name(cx_txn *t, uint32_t region, char *buf, size_t cap);
/** Formats a dimension value for output ("福建省", "2024-03", "penalty", authority name...). */
int cx_query_dim_format(const cx_query *q, cx_txn *t, cx_dim dim, uint32_t val, char *buf,
                        size_t cap);

/**
 * Runs an aggregate. From the smallest covering rollup cube when there is one, else by a scan
 * of the records; both give identical results. The public role counts only the records
 * displayable today (always a scan: displayability depends on the day) and gets cells with
 * count < CX_AGG_MIN_PUBLIC_CELL removed (before limit); its as_of must be today
 * (CX_EPUBLICDAY). Allocates the rows (not a hot path).
 *  - no metrics: one metric, count (rows[i].vals[0]); as_of CX_DAY_NONE: today;
 *  - rates and means are NAN when their denominator is 0 (no data, not 0%; sorted last):
 *    on_time_rate = on_time / reported,
 *    report_delay = delay_sum / reported (mean working days, negative delays count 0),
 *    loss_rate = lost / (won + lost), kept_rate = kept / (kept + broken);
 *  - rows are ordered by column `order` (asc, or desc), then by the group keys ascending;
 *    order -1: by the group keys (descending when desc);
 *  - CX_EBADREQ: a dim/metric out of range, a duplicate group dim, a filter with 0 or more
 *    than CX_AGG_MAX_FILTER_VALUES values, order out of range, from > to;
 *  - bounded: more groups than max_groups is CX_ETOOLARGE; past deadline_ns CX_ETIMEOUT;
 *    *cancel set CX_ECANCELED (both checked every 4096 records or cells visited);
 *  - scans of big stores use several threads (cx_query_set_scan_threads).
 */
int cx_query_aggregate(const cx_query *q, cx_txn *t, cx_role role, const cx_agg_spec *spec,
                       cx_agg_result *out);
void cx_agg_result_free(cx_agg_result *res);

/**
 * Scans of the facts split over threads (process-wide, for every cx_query; call it before
 * the first aggregate, e.g. at server start). A scan takes up to `threads` threads (0: the
 * number of online CPUs, at most CX_AGG_MAX_SCAN_THREADS) while each gets at least min_facts
 * facts (0: any size; default CX_AGG_SPLIT_MIN_FACTS): the calling thread scans the first key
 * range of the facts DB in its txn, the others each a range in a twin txn on the same snapshot
 * (cx_store_txn_twin), on threads started for the scan and joined before it returns. Threads
 * are a budget shared by the scans running at once: a scan gets extra threads only while the
 * scans already running hold fewer than `threads`, so concurrent aggregates on a server's
 * thread pool run one thread each rather than oversubscribing the cores. The answer is the
 * one-thread answer whatever the split (integer sums, rows sorted); a scan runs in one thread
 * when no twin can be had (a write committed since the txn began, the reader table full).
 */
#define CX_AGG_MAX_SCAN_THREADS 16u
#define CX_AGG_SPLIT_MIN_FACTS (1u << 19)
void cx_query_set_scan_threads(unsigned threads, uint64_t min_facts);
/** The scan threads in force (the configured number or the CPUs). */
unsigned cx_query_scan_threads(void);

/* ===================================================================== scorecards */

/*
 * 政务诚信评价 (query/scorecard.c; docs/data-model.md "Scorecards"): the indicators of a
 * government body over a period [from, to] and their score by a rubric (store.h "scorecard
 * rubric"). Subject indicators (its 政务失信, judgments, lawsuits, commitments, complaints,
 * lists) come from the body's summary, over the records the role may see; the authority
 * indicators (双公示 timeliness, its civil servants' records) from the authority cube's cells
 * of the period's whole months, for analyst and admin only. The public gets scorecards only
 * when the rubric publishes them (CX_EFORBIDDEN otherwise), computed from its displayable
 * records, without the authority indicators (their weights leave the total).
 */
typedef struct cx_ind_value {
  uint8_t shown;     /* 0: not for this role (its weight leaves the total) */
  uint8_t rated;     /* 0: shown but not rated: a rate below its minimum of cases */
  double value;      /* a count, or num / den for a rate */
  uint64_t num, den; /* rates; counts: num = value, den = 0 */
  double points;     /* on the rubric's curve, 0..100 */
  double weight;     /* the rubric's weight when rated and shown, else 0 */
  uint64_t by[4];    /* gov_dishonesty: judgment, admin_penalty, disciplinary, accountability;
                        lawsuit_loss_rate: won, lost; commitment_kept_rate: kept, broken;
                        on_time_rate: late, delay_sum (working days) */
} cx_ind_value;

typedef struct cx_scorecard {
  char code[CX_CODE_LEN + 1];
  cx_str name;       /* into the txn's map */
  uint8_t kind;
  uint32_t region;
  cx_ind_value ind[CX_IND_COUNT];
  double raw;        /* weighted mean of the rated indicators' points, 0..100 */
  double score;      /* raw after the vetoes */
  uint32_t band;     /* the grade: an index into the rubric's bands */
  uint32_t vetoes;   /* bit cx_ind: the vetoes that capped the score */
} cx_scorecard;

typedef struct cx_scorecard_req {
  cx_role role;
  cx_day from, to;   /* the period, both inclusive; from <= to */
  cx_day as_of;      /* the day visibility is decided on (the public: today) */
} cx_scorecard_req;

/** The scorecard of the body with code (normalised, as stored). CX_ENOTFOUND (no such entity,
 *  or one the role may not see), CX_EBADREQ (not a kind the rubric scores), CX_EFORBIDDEN
 *  (public, not published). */
int cx_query_scorecard(const cx_query *q, cx_txn *t, const cx_rubric *rb, const cx_scorecard_req *rq,
                       cx_str code, cx_scorecard *out);

/** Every body of region (2, 4 or 6 digits: province, city, county) whose kind is in kinds
 *  (bit cx_kind; 0: the rubric's) and that the rubric scores, ranked by score (then code).
 *  *out is allocated (free()), *n its length; at most max bodies (CX_ETOOLARGE past it). The
 *  bodies are those with a USCC of a 机构编制 registration (11…: 机关, 12…: 事业单位) of the
 *  region: the summary DB in code order, no scan of records. */
int cx_query_scorecards(const cx_query *q, cx_txn *t, const cx_rubric *rb, const cx_scorecard_req *rq,
                        uint32_t region, uint32_t kinds, uint32_t levels, uint32_t max, cx_scorecard **out,
                        uint32_t *n);
/* Levels of a body (bit in `levels`; 0: all), from its region code: a province's own bodies
 * (xx0000), a city's (xxxx00), a county's. */
enum { CX_LEVEL_PROVINCE = 1, CX_LEVEL_CITY = 2, CX_LEVEL_COUNTY = 4 };
/** The level (CX_LEVEL_*) of a body of county code region. */
uint32_t cx_scorecard_level(uint32_t region);

/* Records one drill-down visits (an authority's licences and penalties can be many). */
#define CX_SCORECARD_VISIT_MAX 200000u
/**
 * Drill-down: the records behind indicator ind of the body's scorecard (the same period,
 * role and rules; for on_time_rate the ones reported late), at most limit (1..1000), newest
 * first for subject indicators, by record id for authority ones; *more = 1 when more were
 * left (the limit, or CX_SCORECARD_VISIT_MAX records visited). ID numbers are masked for every
 * role but admin. Errors as cx_query_scorecard; CX_EFORBIDDEN for an indicator the role is
 * not shown.
 */
int cx_query_scorecard_records(const cx_query *q, cx_txn *t, const cx_rubric *rb, const cx_scorecard_req *rq,
                               cx_str code, int ind, uint32_t limit, cx_record_view_fn fn, void *ctx, int *more);

/** Scores the indicator counts (num, den) of sc by rb for role: shown, rated, value, points,
 *  weight of each indicator, raw, score, vetoes, band. Pure (the baselines in bench/ score
 *  their own counts with it). */
void cx_scorecard_score(const cx_rubric *rb, cx_role role, cx_scorecard *sc);

/** The period of a calendar year (Jan 1 .. Dec 31). CX_EBADREQ out of 1971..9999. */
int cx_scorecard_year(int year, cx_day *from, cx_day *to);
/* ===================================================================== receipts and checks */

/* A check answer's receipt: CX_RECEIPT_LEN lower-case hex characters (query/checks.c). */
#define CX_RECEIPT_LEN 32
/** The receipt of check-log seq (store.h "check log"). Pure; no allocation. */
void cx_query_receipt_format(const cx_query *q, uint64_t seq, char out[CX_RECEIPT_LEN + 1]);
/** The seq of a receipt; CX_EBADREQ for one of another store, forged or malformed. */
int cx_query_receipt_parse(const cx_query *q, cx_str s, uint64_t *seq);

/* Aggregates over checks and their feedback (the check_rollup cells; docs/protocol.md
 * "aggregate" with of = "checks"). Dimensions and metrics: */
typedef enum cx_cdim {
  CX_CD_ACTION, CX_CD_VERDICT, CX_CD_PROVINCE, CX_CD_CITY, CX_CD_COUNTY, CX_CD_AUTHORITY,
  CX_CD_YEAR, CX_CD_QUARTER, CX_CD_MONTH, CX_CD_COUNT
} cx_cdim;
extern const char *const cx_cdim_names[CX_CD_COUNT];
typedef enum cx_cmetric {
  CX_CM_CHECKS, CX_CM_RESTRICTED, CX_CM_AFTER_REVIEW, CX_CM_APPROVED, CX_CM_FEEDBACK,
  CX_CM_RESTRICTED_RATE, CX_CM_COUNT
} cx_cmetric;
extern const char *const cx_cmetric_names[CX_CM_COUNT];

typedef struct cx_cagg_spec {
  uint8_t n_group, group[CX_CD_COUNT];     /* cx_cdim, in output order */
  uint8_t n_metrics, metrics[CX_CM_COUNT]; /* cx_cmetric */
  uint8_t n_filters;
  cx_agg_filter filters[CX_CD_COUNT];      /* dim: a cx_cdim; values as cell keys: action index,
                                              cx_verdict, region codes, authority id, YYYY,
                                              YYYYQ, YYYYMM */
  cx_day from, to;                         /* days of the checks, by whole months; NONE: open */
  uint32_t max_groups;                     /* 0: CX_AGG_MAX_GROUPS; more: CX_ETOOLARGE */
} cx_cagg_spec;
typedef struct cx_cagg_row {
  uint32_t keys[CX_CD_COUNT];
  double vals[CX_CM_COUNT];  /* restricted_rate: restricted / feedback (NAN without feedback) */
} cx_cagg_row;
typedef struct cx_cagg_result {
  uint32_t n_rows;
  cx_cagg_row *rows;         /* owned: cx_cagg_result_free; in group-key order */
  uint64_t scanned;          /* rollup cells visited */
} cx_cagg_result;
/** Runs an aggregate over checks (analyst and admin: the op table decides). CX_EBADREQ,
 *  CX_ETOOLARGE, CX_ENOMEM. Allocates the rows. */
int cx_query_check_aggregate(const cx_query *q, cx_txn *t, const cx_cagg_spec *sp, cx_cagg_result *out);
void cx_cagg_result_free(cx_cagg_result *r);

/** Test-only: the region codes of q's table of region names (0: none built yet), and the
 *  region generation it was built at (see cx_store_regions_gen). */
uint32_t cx_query_debug_regions_cached(const cx_query *q, uint64_t *gen);

#endif
