/*
 * exec.h — the executor (library cx_exec): one op table and one cx_exec_run() for every door.
 *
 * A door (the msgpack server, the HTTP listener, the CLI's local mode, a fuzz target) decodes a
 * request into a cx_req (cx_exec_decode: a msgpack map {id, op, fields...}, docs/protocol.md
 * §2), fills a cx_exec_ctx (the shared cx_exec_env: store, tokens, limits, hooks; and its own
 * per-call state: read snapshot, role and token, output buffer, audit ring, peer) and calls
 * cx_exec_run(), which checks the role against the op table, runs the op's handler and appends
 * exactly one framed msgpack response (ok or error) to the output buffer. Doors only translate:
 * nothing a door does decides what an op means, who may run it or what a role may see (that is
 * query/'s cx_query_visible and friends).
 *
 * The op table (CX_OP_TABLE below) is the one list of ops: the cx_op enum, the names, the role
 * matrix, which ops run off the event loop, the limits, and the one-line docs come from it; so
 * do the tables of docs/protocol.md §4-5 (a test compares them) and the HTTP routes. How to
 * add an op: docs/hacking.md.
 *
 * Caveats (threads): a cx_exec_env is read-only while requests run (any thread); a cx_exec_ctx
 * belongs to one call at a time. Handlers on the fast path (entity, records, check, search)
 * allocate nothing; aggregate and the writes may (they run on a thread pool in the server).
 */
#ifndef CX_EXEC_H
#define CX_EXEC_H

#include <stddef.h>
#include <stdint.h>

#include <msgpack.h>

#include "query.h"
#include "store.h"
#include "wire.h"

/* ===================================================================== versions */

/*
 * The protocol version, in `ping`, `stats` and `--version` of both binaries. The major number
 * changes when a request or an answer that was valid changes meaning or shape (a field removed
 * or retyped, an op removed); the minor number when something is added (an op, a field of a
 * request or an answer, an error code). Clients ignore fields they do not know. Policy:
 * docs/protocol.md §10.
 */
#define CX_PROTOCOL_MAJOR 1
#define CX_PROTOCOL_MINOR 3
#define CX_PROTOCOL_VERSION "1.3"

/* ===================================================================== the op table */

/* Role sets (bit cx_role). Admin may run every op. */
#define CX_RB(r) (1u << (r))
#define CX_R_ALL ((1u << CX_ROLE_COUNT) - 1u)
#define CX_R_APPROVAL (CX_RB(CX_ROLE_APPROVAL) | CX_RB(CX_ROLE_ADMIN))
#define CX_R_ANALYST (CX_RB(CX_ROLE_ANALYST) | CX_RB(CX_ROLE_ADMIN))
#define CX_R_WRITER (CX_RB(CX_ROLE_SUBMITTER) | CX_RB(CX_ROLE_ADMIN))

/*
 * X(ENUM, name, handler, roles, slow, http, doc)
 *   ENUM     CX_OP_<ENUM>
 *   name     the op's name on the wire
 *   handler  the function in net/ops.c (static int h(cx_exec_ctx *, const cx_req *))
 *   roles    the role set that may run it (CX_R_*)
 *   slow     1: may take long or write; the server runs it on the thread pool, not the loop
 *   http     the op's HTTP route (docs/protocol.md §11): "METHOD /path/{field}?param&..."; a
 *            path {field} and each query parameter become request fields (param:uint an
 *            unsigned integer, param=field a field of another name); a POST body is a JSON
 *            object whose members are the other fields. "": not over HTTP (auth: a Bearer
 *            token on every request instead)
 *   doc      one line, for docs/protocol.md and the OpenAPI document
 * The limits each op honours are in cx_exec_limits.
 */
#define CX_OP_TABLE(X)                                                                              \
  X(PING, ping, op_ping, CX_R_ALL, 0, "GET /v1/ping", \
    "liveness: the server's day and protocol version") \
  X(AUTH, auth, op_auth, CX_R_ALL, 0, "", \
    "switch the connection to a token's role") \
  X(ENTITY, entity, op_entity, CX_R_ALL, 0, "GET /v1/entities/{code}?as_of", \
    "an entity's status: names, region, counts, flags") \
  X(RECORDS, records, op_records, CX_R_ALL, 0, "GET /v1/entities/{code}/records?category&cursor&limit:uint&as_of", \
    "an entity's records, paged by cursor") \
  X(CHECK, check, op_check, CX_R_APPROVAL, 0, "POST /v1/check", \
    "linked-punishment check of codes for an action") \
  X(SEARCH, search, op_search, CX_R_ALL, 0, "GET /v1/search?q=prefix&cursor&limit:uint", \
    "entities by name, part of a name or code prefix, paged by cursor") \
  X(AGGREGATE, aggregate, op_aggregate, CX_R_ANALYST, 1, "POST /v1/aggregate", \
    "counts and sums grouped by dimensions") \
  X(STATS, stats, op_stats, CX_R_ANALYST, 0, "GET /v1/stats", \
    "server and store counters") \
  X(INGEST, ingest, op_ingest, CX_R_WRITER, 1, "POST /v1/ingest", \
    "write a batch of records, whole or not at all") \
  X(REPAIR, repair, op_status, CX_R_WRITER, 1, "POST /v1/records/{authority}/{record_id}/repair", \
    "credit repair of a record (信用修复)") \
  X(REVOKE, revoke, op_status, CX_R_WRITER, 1, "POST /v1/records/{authority}/{record_id}/revoke", \
    "revoke a record (撤销)") \
  X(OBJECTION, objection, op_status, CX_R_WRITER, 1, "POST /v1/records/{authority}/{record_id}/objection", \
    "raise or withdraw an objection (异议)") \
  X(REINSTATE, reinstate, op_status, CX_R_WRITER, 1, "POST /v1/records/{authority}/{record_id}/reinstate", \
    "undo a repair or a revocation") \
  X(CATALOG, catalog, op_catalog, CX_R_ALL, 0, "GET /v1/catalog", \
    "the catalogue: actions, list types, measures") \
  X(FEEDBACK, feedback, op_feedback, CX_R_APPROVAL, 1, "POST /v1/feedback", \
    "what an approval system did with a check receipt (联合奖惩 feedback)") \
  X(SCORECARD, scorecard, op_scorecard, CX_R_ALL, 0, "GET /v1/scorecards/{code}?year:uint&from&to&indicator&limit:uint", \
    "a government body's integrity scorecard (政务诚信评价), its change and an indicator's records") \
  X(SCORECARDS, scorecards, op_scorecards, CX_R_ALL, 1, "GET /v1/scorecards?region:uint&year:uint&from&to&kind&level", \
    "the government bodies of a region ranked by their scorecards") \
  X(LOAD, load, op_load, CX_RB(CX_ROLE_ADMIN), 1, "POST /v1/data/{name}", \
    "replace a data file: catalog, calendar, regions or scorecard (through the log when replicated)")

typedef enum cx_op {
#define CX_OP_ENUM_(e, name, h, roles, slow, http, doc) CX_OP_##e,
  CX_OP_TABLE(CX_OP_ENUM_)
#undef CX_OP_ENUM_
  CX_OP_COUNT,
  CX_OP_INVALID = CX_OP_COUNT, /* stats slot for requests whose op could not be read */
  CX_OP_SLOTS
} cx_op;

typedef struct cx_op_info {
  const char *name;
  uint32_t roles; /* bit cx_role */
  int slow;
  const char *http; /* the route ("" none) */
  const char *doc;
} cx_op_info;
extern const cx_op_info cx_ops[CX_OP_COUNT];
extern const char *const cx_op_names[CX_OP_COUNT];

/** Op by name, or CX_EUNKNOWNOP. */
int cx_op_parse(cx_str name);
/** 1 when role (cx_role) may run op. */
int cx_op_allowed(int role, int op);
/** 1 for ops that run off the event loop (the table's `slow`). */
int cx_op_is_slow(int op);
/** 1 for the slow ops that read a snapshot (aggregate, scorecards): a door opens the pool
 *  thread's read txn for them (the writes open their own). */
int cx_op_reads_snapshot(int op);
/** 1 for the ops that write (the slow ops that do not read a snapshot: ingest, the lifecycle
 *  ops, feedback, load). */
int cx_op_writes(int op);

/* ===================================================================== the record answer */

/*
 * One record as `records` answers it (docs/protocol.md §5), in order: X(ID, name, type)
 *   type  STR, DATE (nil when unset or open), BOOL, FEN (integer fen), INT, LIST (an array of
 *         codes), MAP (the source's extra fields; absent for the public and when there are none)
 * The fields a source *gives* are CX_RECORD_FIELDS of store.h; these are what the store keeps,
 * with what it derives (report_received, report_delay, on_time, in_force, displayable, and
 * negative: 失信信息 by the catalogue's `negative` rule, so no door keeps its own list). The
 * CLI's records columns come from this table too.
 */
#define CX_RECORD_ANSWER(X)                                                                         \
  X(RECORD_ID, record_id, STR) X(AUTHORITY_CODE, authority_code, STR)                               \
  X(AUTHORITY_NAME, authority_name, STR) X(ENTITY_CODE, entity_code, STR)                           \
  X(ENTITY_NAME, entity_name, STR) X(ENTITY_KIND, entity_kind, STR) X(CATEGORY, category, STR)      \
  X(SUBTYPE, subtype, STR) X(DOMAIN, domain, STR) X(SEVERITY, severity, STR) X(STATUS, status, STR) \
  X(OBJECTION, objection, BOOL) X(DECISION_DATE, decision_date, DATE)                               \
  X(REPORT_DATE, report_date, DATE) X(REPORT_RECEIVED, report_received, BOOL)                       \
  X(VALID_FROM, valid_from, DATE) X(VALID_UNTIL, valid_until, DATE)                                 \
  X(DISPLAY_UNTIL, display_until, DATE) X(AMOUNT_FEN, amount_fen, FEN) X(LIST_TYPE, list_type, STR) \
  X(MEASURES, measures, LIST) X(BASIS, basis, STR) X(CONTENT, content, STR)                         \
  X(REPORT_DELAY, report_delay, INT) X(ON_TIME, on_time, BOOL) X(IN_FORCE, in_force, BOOL)          \
  X(DISPLAYABLE, displayable, BOOL) X(NEGATIVE, negative, BOOL) X(EXTRA, extra, MAP)

typedef enum cx_answer_type { CX_AT_STR, CX_AT_DATE, CX_AT_BOOL, CX_AT_FEN, CX_AT_INT, CX_AT_LIST, CX_AT_MAP } cx_answer_type;
typedef enum cx_record_answer {
#define CX_RA_ENUM_(id, name, type) CX_RA_##id,
  CX_RECORD_ANSWER(CX_RA_ENUM_)
#undef CX_RA_ENUM_
  CX_RA_COUNT
} cx_record_answer;
typedef struct cx_answer_field {
  const char *name;
  uint8_t type; /* cx_answer_type */
} cx_answer_field;
extern const cx_answer_field cx_record_answer_fields[CX_RA_COUNT];

/* ===================================================================== limits */

/* Compile-time ceilings (arrays are sized by them); cx_exec_limits may only lower them. */
#define CX_NET_MAX_CHECK_CODES 1000u
/* Hits listed in one check answer over all its codes (each code lists at most the loop's hit
 * array, 64): 1000 codes with 64 hits each would be a ~15 MB answer. Verdicts are always
 * complete; past the budget a result lists no more hits and counts them in "more". */
#define CX_NET_MAX_CHECK_HITS 8192u
/* aggregate: groups (query/'s cap is 100,000), answer bytes and run time. The answer of 20,000
 * groups of 13 dimensions is ~6 MB; a scan of 10M records takes ~0.1-0.3 s, so 10 s is 30x the
 * largest honest request and bounds a pool thread held by a hostile one. */
#define CX_NET_AGG_MAX_GROUPS 20000u
#define CX_NET_AGG_MAX_ANSWER (8u << 20)
#define CX_NET_AGG_TIME_MS 10000u
#define CX_NET_MAX_INGEST_RECORDS 10000u

typedef struct cx_exec_limits {
  uint32_t check_codes;     /* codes of one check (<= CX_NET_MAX_CHECK_CODES) */
  uint32_t check_hits;      /* hits listed in one check answer (<= CX_NET_MAX_CHECK_HITS) */
  uint32_t agg_groups;      /* groups of one aggregate */
  size_t agg_answer;        /* bytes of one aggregate answer */
  uint32_t agg_time_ms;     /* run time of one aggregate */
  uint32_t ingest_records;  /* records of one ingest */
} cx_exec_limits;

/** The defaults: the CX_NET_* ceilings above. */
void cx_exec_limits_default(cx_exec_limits *l);

/* ===================================================================== tokens */

#define CX_TOKEN_MAX 256
#define CX_TOKEN_MIN 16 /* bytes: shorter tokens are guessable (docs/operations.md "Tokens") */
#define CX_TOKEN_NAME_MAX 64

#define CX_TOKEN_MAX_AUTHORITIES 64 /* == CX_MAX_SCOPE */
typedef struct cx_token {
  char token[CX_TOKEN_MAX];
  uint32_t len;
  int role;
  char name[CX_TOKEN_NAME_MAX];
  /* The authorities a submitter token writes for (normalised USCCs); 0 for other roles. */
  uint32_t n_authorities;
  char authorities[CX_TOKEN_MAX_AUTHORITIES][CX_CODE_LEN + 1];
} cx_token;

typedef struct cx_tokens {
  cx_token *v;
  uint32_t n;
} cx_tokens;

/**
 * Parses a token file: one token per line, '#' comments and blank lines ignored:
 *
 *   token role [authorities=CODE[,CODE...]] [name...]
 *
 * role: public approval analyst submitter admin. name: the rest of the line (its inner spacing
 * kept, cut to CX_TOKEN_NAME_MAX - 1 bytes at a character boundary), less the authorities=
 * word, which may stand anywhere after the role. authorities= lists the authorities whose
 * records a submitter token writes (USCCs, normalised with cx_uscc_normalize into
 * e->authorities); it is required on submitter tokens and refused on every other role (admin
 * writes for all; the others do not write).
 * CX_EBADREQ with *bad_line (1-based) on a bad line: an unknown or missing role, a token of
 * CX_TOKEN_MAX bytes or more or of fewer than CX_TOKEN_MIN, a token byte that is not printable
 * ASCII, a line that is not UTF-8 or holds a control character but TAB (and a final CR), a name
 * with a TAB inside, a submitter without authorities=, authorities= on another role or twice,
 * an empty list or an empty code in it, a code that is not a valid USCC or listed twice, more
 * than CX_TOKEN_MAX_AUTHORITIES codes; a UTF-8 BOM at the start of the file (line 1); a token
 * or a non-empty name already on an earlier line (the later line). CX_ENOMEM. out is untouched
 * on failure.
 */
int cx_tokens_parse(const char *text, size_t n, cx_tokens *out, int *bad_line);
/**
 * cx_tokens_parse, and on failure why (cap bytes; NULL/0: none) says what is wrong with the
 * line ("submitter tokens need authorities=CODE[,CODE...]", "authorities=: bad USCC ...").
 * It never holds the line's token, nor its role word (on a line whose words are swapped, that
 * is the token).
 */
int cx_tokens_parse_why(const char *text, size_t n, cx_tokens *out, int *bad_line, char *why,
                        size_t cap);
/**
 * Loads a token file; refuses a file readable or writable by group or others (mode & 077):
 * CX_EFORBIDDEN. CX_EIO when unreadable; CX_EBADREQ for a bad line. why receives a message
 * naming the file, the line and what is wrong (no token in it).
 */
int cx_tokens_load(const char *path, cx_tokens *out, char *why, size_t cap);
void cx_tokens_free(cx_tokens *t);
/**
 * Finds token: compares against every entry in constant time for a given entry set (no early
 * exit on the first mismatching byte or the first match). Returns the index or CX_ENOTFOUND.
 */
int cx_tokens_find(const cx_tokens *t, cx_str token);

/* ===================================================================== requests */

/** One request, decoded in place: keys and values point into the payload. */
typedef struct cx_req {
  uint64_t id;
  int op;
  uint32_t nf;
  cx_str keys[CX_NET_MAX_FIELDS];
  cx_mp vals[CX_NET_MAX_FIELDS];
  const unsigned char *payload;
  size_t plen;
} cx_req;

/**
 * Decodes the top of a request payload (a msgpack map with "id" and "op"; at most
 * CX_NET_MAX_FIELDS fields): rq->op is the op or CX_OP_INVALID, rq->id the id (0 when it could
 * not be read). rc < 0 with msg set: CX_EBADFRAME (not one well-formed msgpack value),
 * CX_EBADREQ, CX_EUNKNOWNOP. The request keeps pointing into payload.
 */
int cx_exec_decode(cx_req *rq, const void *payload, size_t n, char *msg, size_t cap);
/** 1 and *v when field name (n bytes) is present (a nil value counts as absent). */
static inline int cx_req_fieldn(const cx_req *rq, const char *name, size_t n, cx_mp *v) {
  for (uint32_t i = 0; i < rq->nf; i++)
    if (rq->keys[i].n == n && memcmp(rq->keys[i].p, name, n) == 0) {
      /* nil counts as absent: optional fields may be sent as nil */
      if (cx_mp_peek(&rq->vals[i]) == CX_MP_NIL) return 0;
      *v = rq->vals[i];
      return 1;
    }
  return 0;
}
/** 1 and *v when field name is present. A macro and an inline: the length of a literal name is
 * a constant (a strlen per lookup, five lookups a check, showed in the check path). */
#define cx_req_field(rq, name, v) cx_req_fieldn((rq), (name), strlen(name), (v))

/* ===================================================================== context */

typedef struct cx_audq cx_audq; /* a query-audit ring (the server's; net_int.h) */

/** What every call shares: read-only while requests run. */
typedef struct cx_exec_env {
  cx_store *st;               /* the store (writes begin batches on it) */
  /* For auth and the audit `who` of a token; NULL: none. A server replaces it on reload
   * (SIGHUP): read it with cx_exec_tokens(), and let a call that holds a token index use the
   * table that index is of (cx_exec_ctx.tokens). */
  const cx_tokens *tokens;
  cx_exec_limits lim;
  /* `stats`: packs the answer's map (the server's counters and the store's). NULL: a map with
   * the protocol version and the store's counters only (cx_exec_pack_store_stats). */
  void (*pack_stats)(void *ud, msgpack_packer *pk);
  /* An auth with an unknown token (count it, log the peer; never the token). NULL: nothing. */
  void (*auth_failed)(void *ud, const char *peer);
  /* `feedback` on a receipt not in the store yet: write the queued check log now. NULL: none
   * (no check log: the CLI's local mode). */
  int (*checks_flush)(void *ud);
  /* A write's commit (ingest and the lifecycle ops): NULL: cx_batch_commit. A replicated
   * server (chengxind --log) publishes the batch to the log instead and waits until its own
   * store has applied it (net/replog.c); same contract as cx_batch_commit: b is consumed, the
   * result and error are that application's. */
  int (*commit)(void *ud, cx_batch *b, cx_batch_result *res);
  /* `load` of a data file (name as cx_store_data_put; ae its audit entry): NULL:
   * cx_store_data_put_audit. A server loads it and rebuilds its query context; a replicated one
   * publishes it to the log and waits for its own store to apply it. 0 with *seq (the log
   * sequence, 0 without a log), or a CX_E* with *bad_line and err. */
  int (*load)(void *ud, const char *name, const char *text, size_t n, const cx_audit_entry *ae, int *bad_line,
              uint64_t *seq, char *err, size_t cap);
  /* `feedback` on a replicated server: NULL: cx_store_check_feedback. Validates what this node
   * can (its own receipts: the entry, who), publishes the feedback to the log and waits for the
   * local apply (cx_store_check_feedback_at): *applied 1 when this node's check log held the
   * entry (*old: it before), 0 when another node issued the receipt; issuer: the node that
   * issued it ("" when unknown). CX_ENOTFOUND, CX_EFORBIDDEN, CX_ETIMEOUT with err. */
  int (*feedback)(void *ud, uint64_t receipt, int outcome, cx_str who, int any_who, cx_str note,
                  const cx_audit_entry *ae, cx_check_entry *old, int *applied, uint64_t *seq, char *issuer,
                  size_t icap, char *err, size_t cap);
  /* Non-NULL: this server takes no writes (a read-only replica, chengxind --log-writes off):
   * every write op (cx_op_writes) is answered forbidden with this message. */
  const char *writes_refused;
  /* Cross-node read-your-writes (`min_seq`, docs/protocol.md): 0 when this node's store has
   * applied the replicated log up to seq, after waiting up to wait_ms (0: no wait; a door
   * waits on a pool thread, never on a loop); else CX_ETIMEOUT, *applied where it is. NULL: no
   * log (a request with min_seq is bad_request). */
  int (*at_seq)(void *ud, uint64_t seq, unsigned wait_ms, uint64_t *applied);
  void *ud;
} cx_exec_env;

/** How long a door waits for min_seq (on a pool thread) before the request is answered. */
#define CX_NET_MIN_SEQ_WAIT_MS 5000u
/** The request's min_seq (0: none, or not an unsigned integer: cx_exec_run says so). */
uint64_t cx_req_min_seq(const cx_req *rq);
/** 1 when rq carries a min_seq this node has not applied yet (a door then waits off the loop). */
int cx_exec_seq_pending(const cx_exec_env *env, const cx_req *rq);

/** One call's state. Zero it, then set env, q, out and the fields that apply. */
typedef struct cx_exec_ctx {
  const cx_exec_env *env;
  const cx_query *q;
  cx_txn *txn;                /* a read snapshot for the read ops; NULL for write-only doors */
  int *txn_live;              /* 0: txn is reset and must be renewed before use */
  cx_check_hit *hits;         /* check hit array (caller-owned: no allocation per check) */
  uint32_t hits_cap;
  int role;                   /* in/out: auth changes it */
  int token;                  /* index in the token table (tokens, else env->tokens), -1 none */
  const cx_tokens *tokens;    /* the table token indexes; NULL: env->tokens now */
  const char *who;            /* the writer's name when there is no token (the CLI's
                                 "local:<user>"); NULL: the token's name */
  const char *who_role;       /* the writer's role in the audit log; NULL: the role's name */
  msgpack_packer *pk;         /* set by cx_exec_run: the packer over the response */
  cx_buf *out;                /* the response buffer: one frame is appended */
  /* ingest: per-record problems, written into the error's "details" (NULL: none kept) */
  cx_buf *details;
  uint32_t n_details;
  /* audit: the ring for query audits of persons (NULL: queries are not audited, as in the
   * CLI's local mode, whose user holds the store's files) and the client's address */
  cx_audq *audq;
  const char *peer;
  const int *cancel;          /* set when the client went away (NULL: never) */
  char msg[512];              /* error message of the last failed handler */
} cx_exec_ctx;

/** The table x's token index refers to (x->tokens, else env->tokens read atomically). */
static inline const cx_tokens *cx_exec_tokens(const cx_exec_ctx *x) {
  return x->tokens ? x->tokens : __atomic_load_n(&x->env->tokens, __ATOMIC_ACQUIRE);
}

/**
 * Runs rq, appending one whole framed response (4-byte length + msgpack map; ok or error) to
 * x->out. Returns the response's error code (0 = ok). Out of memory while packing: one
 * `internal` answer instead of the partial one; when not even that fits, no frame and
 * x->out->failed stays set: the door must drop the connection.
 */
int cx_exec_run(cx_exec_ctx *x, const cx_req *rq);
/** cx_exec_decode and cx_exec_run: a decode error is answered with an error frame too. */
int cx_exec(cx_exec_ctx *x, const void *payload, size_t n);
/** Appends one framed error response. */
void cx_exec_error_frame(cx_buf *out, uint64_t id, int err, const char *msg);
/**
 * The HTTP status of an error code (0: 200), by its wire name, for every door that speaks
 * HTTP: bad_frame bad_request invalid_code 400; not_found unknown_op 404; forbidden 403;
 * too_large 413; busy 429; timeout read_only no_space 503; internal 500. (401 is the HTTP
 * door's own: a Bearer token it does not know.)
 */
int cx_exec_http_status(int err);
/* ---- door helpers ---- */
struct json_t;
/** Packs a JSON value (jansson) as msgpack: objects as maps, integers as int64, reals as
 *  doubles, null as nil. The HTTP door's bodies and the CLI's requests go through it. */
void cx_exec_pack_json(msgpack_packer *pk, const struct json_t *j);
/** Packs the store part of `stats` ({"schema_version", "entities", ...}) or nil. */
void cx_exec_pack_store_stats(cx_store *st, msgpack_packer *pk);

#endif
