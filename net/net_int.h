/*
 * net_int.h — net/'s private header: the bounded msgpack reader, byte buffers, framing,
 * tokens, roles, latency histograms. Included by the net sources and by tests/net/ only.
 *
 * Caveats (threads): every function here is pure or works on caller-owned state; nothing
 * here is shared between threads except cx_tokens (read-only after load).
 */
#ifndef CX_NET_INT_H
#define CX_NET_INT_H

#include <stddef.h>
#include <stdint.h>

#include "store.h"

/* ===================================================================== limits */

#define CX_NET_DEFAULT_PORT 7411
#define CX_NET_MAX_FRAME_DEFAULT (1u << 20)   /* 1 MiB */
#define CX_NET_MAX_CONNS_DEFAULT 10000u
#define CX_NET_IDLE_TIMEOUT_DEFAULT 300u      /* seconds */
#define CX_NET_MAX_CHECK_CODES 1000u
/* Hits listed in one check answer over all its codes (each code lists at most the loop's hit
 * array, 64): 1000 codes with 64 hits each would be a ~15 MB answer. Verdicts are always
 * complete; past the budget a result lists no more hits and counts them in "more". */
#define CX_NET_MAX_CHECK_HITS 8192u
/* aggregate over the wire: groups (query/'s cap is 100,000), answer bytes and run time. The
 * answer of 20,000 groups of 13 dimensions is ~6 MB; a scan of 10M records takes ~0.1-0.3 s,
 * so 10 s is 30x the largest honest request and bounds a pool thread held by a hostile one. */
#define CX_NET_AGG_MAX_GROUPS 20000u
#define CX_NET_AGG_MAX_ANSWER (8u << 20)
#define CX_NET_AGG_TIME_MS 10000u
#define CX_NET_MAX_INGEST_RECORDS 10000u
#define CX_NET_MAX_OUTPUT_DEFAULT (4u << 20)  /* queued output per connection before we stop reading */
#define CX_NET_MAX_OUTPUT_TOTAL_DEFAULT (64u << 20) /* all connections' queued output: past it... */
#define CX_NET_OUTPUT_SQUEEZE (64u << 10)     /* ...each connection may queue only this much, */
#define CX_NET_SQUEEZE_GATE (8u << 10)        /* taking a request only while below this */
#define CX_NET_ERROR_FRAME_MAX 1024u          /* an error frame: code + message (< 512 B) + id */
#define CX_NET_SLICE_FRAMES 64u               /* frames one connection may have handled... */
#define CX_NET_SLICE_US 50u                   /* ...or microseconds: see bench/abuse.sh */
#define CX_NET_FRAME_TIMEOUT_DEFAULT 30u      /* seconds to complete a frame once it began */
#define CX_NET_MAP_MIN (64ull << 30)          /* map size of a server's store (64-bit)... */
#define CX_NET_MAP_DATA_FACTOR 8u             /* ...or this many times the data file */
#define CX_NET_OUT_INITIAL (64u << 10)        /* per-connection output buffer kept between requests */
#define CX_NET_IN_INITIAL (64u << 10)         /* per-connection input buffer kept between requests */
#define CX_NET_MAX_FIELDS 32u                 /* fields of one request map */
#define CX_NET_MAX_DEPTH 32u                  /* nesting of any msgpack value we accept */
#define CX_NET_SLOW_MS_DEFAULT 200u           /* requests slower than this are logged */

/* ===================================================================== bounded msgpack reader */

/*
 * A zero-allocation msgpack reader over (p, n). Every declared length is checked against the
 * bytes left before anything is read, so a 5-byte frame declaring 2^32 elements is an error,
 * never an allocation. Reads never go past end (tested against a PROT_NONE guard page).
 *
 * Errors: CX_EBADFRAME when the bytes are not msgpack (truncated, reserved byte 0xc1, a
 * declared length beyond the end, too deep); CX_EBADREQ when the value has another type than
 * asked (the reader is not advanced then).
 */
typedef struct cx_mp {
  const unsigned char *p, *end;
} cx_mp;

typedef enum cx_mp_type {
  CX_MP_NIL, CX_MP_BOOL, CX_MP_UINT, CX_MP_INT, CX_MP_FLOAT, CX_MP_STR, CX_MP_BIN,
  CX_MP_ARRAY, CX_MP_MAP, CX_MP_EXT
} cx_mp_type;

static inline cx_mp cx_mp_make(const void *p, size_t n) {
  return (cx_mp){(const unsigned char *)p, (const unsigned char *)p + n};
}
static inline size_t cx_mp_left(const cx_mp *r) { return (size_t)(r->end - r->p); }

/** Type of the next value (CX_MP_*), or CX_EBADFRAME at the end / on a reserved byte. */
int cx_mp_peek(const cx_mp *r);
int cx_mp_read_nil(cx_mp *r);
int cx_mp_read_bool(cx_mp *r, int *out);
/** A non-negative integer (positive fixint, uint*, or int* holding a value >= 0). */
int cx_mp_read_uint(cx_mp *r, uint64_t *out);
/** Any integer that fits int64_t. */
int cx_mp_read_int(cx_mp *r, int64_t *out);
/** str (not bin); out borrows from the input. */
int cx_mp_read_str(cx_mp *r, cx_str *out);
/** Array header; *n <= bytes left (each element needs at least one byte). */
int cx_mp_read_array(cx_mp *r, uint32_t *n);
/** Map header; 2 * *n <= bytes left. */
int cx_mp_read_map(cx_mp *r, uint32_t *n);
/** Skips one whole value (nested up to CX_NET_MAX_DEPTH). */
int cx_mp_skip(cx_mp *r);
/**
 * Checks that p[0..n) holds exactly one well-formed msgpack value (nesting bounded, every
 * length within the bytes). 0 or CX_EBADFRAME. Use before handing bytes to msgpack-c.
 */
int cx_mp_validate(const void *p, size_t n);

/* ===================================================================== byte buffers */

/**
 * A growable byte buffer; kept per connection and reused (len reset to 0, memory kept).
 * It fails stickily: after one failed reserve or append every later one fails too (and writes
 * nothing) until cx_buf_clear_failure(), so a response packed with a hole in it is never sent:
 * cx__net_exec sees `failed` and sends one `internal` answer instead.
 */
typedef struct cx_buf {
  char *p;
  size_t len, cap;
  uint64_t spills;   /* times it had to grow past its initial capacity */
  size_t initial;
  int failed;        /* an append failed since the last cx_buf_clear_failure() */
  /* 0: none. Else reserving room past `limit` bytes fails with CX_ETOOLARGE and sets `over`
   * (not `failed`: the answer is too large, the server is not out of memory); every later
   * reserve fails too until the owner clears `over`. The server builds answers under it (the
   * connection's output share, docs/protocol.md §6) and answers too_large when it is set. */
  size_t limit;
  int over;
} cx_buf;

int cx_buf_init(cx_buf *b, size_t initial);
void cx_buf_free(cx_buf *b);
/** Makes room for n more bytes. CX_ENOMEM; CX_ETOOLARGE past b->limit (sets b->over). */
int cx_buf_reserve(cx_buf *b, size_t n);
int cx_buf_append(cx_buf *b, const void *p, size_t n);
/** Releases memory above the initial capacity when the buffer is empty. */
void cx_buf_shrink(cx_buf *b);
/** Forgets a failure (after the caller dropped what the failed appends belonged to). */
static inline void cx_buf_clear_failure(cx_buf *b) { b->failed = 0; }
/** msgpack_packer write callback over a cx_buf (data is the cx_buf *). */
int cx_buf_msgpack_write(void *data, const char *p, size_t n);

/* ===================================================================== frames */

#define CX_FRAME_HDR 4

/**
 * Looks for one frame at p[0..n): 4-byte big-endian length L then L bytes.
 * Returns the frame's total size (4 + L) when complete, CX_EAGAIN when more bytes are needed
 * (*need = total size when known, else 4), CX_ETOOLARGE when L > max, CX_EBADFRAME when L == 0.
 * *payload / *plen are set when complete.
 */
long cx_frame_parse(const void *p, size_t n, size_t max, const unsigned char **payload,
                    size_t *plen, size_t *need);
/** Writes the 4-byte big-endian header for a payload of len bytes. */
void cx_frame_header(unsigned char hdr[CX_FRAME_HDR], uint32_t len);

/* ===================================================================== ops and roles */

typedef enum cx_op {
  CX_OP_PING, CX_OP_AUTH, CX_OP_ENTITY, CX_OP_RECORDS, CX_OP_CHECK, CX_OP_SEARCH,
  CX_OP_AGGREGATE, CX_OP_STATS, CX_OP_INGEST, CX_OP_REPAIR, CX_OP_REVOKE, CX_OP_OBJECTION,
  CX_OP_REINSTATE,
  CX_OP_COUNT,
  CX_OP_INVALID = CX_OP_COUNT, /* stats slot for requests whose op could not be read */
  CX_OP_SLOTS
} cx_op;
extern const char *const cx_op_names[CX_OP_COUNT];

/** Op by name, or CX_EUNKNOWNOP. */
int cx_op_parse(cx_str name);
/** 1 when role (cx_role) may run op. */
int cx_op_allowed(int role, int op);
/** 1 for ops that run off the event loop (aggregate, ingest, repair, revoke, objection). */
int cx_op_is_slow(int op);

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

/* ===================================================================== latency histograms */

/* Log buckets: 4 per power of two of nanoseconds, up to 2^40 ns (~18 min). */
#define CX_HIST_BUCKETS 160
typedef struct cx_hist {
  uint64_t b[CX_HIST_BUCKETS];
} cx_hist;

int cx_hist_bucket(uint64_t ns);
/** Upper bound (ns) of bucket i. */
uint64_t cx_hist_bucket_upper(int i);
/** Relaxed-atomic increment (one writer per histogram; readers on other threads). */
void cx_hist_add(cx_hist *h, uint64_t ns);
/** acc += h (relaxed atomic loads of h). */
void cx_hist_merge(cx_hist *acc, const cx_hist *h);
/** The q-quantile (0..1) of acc, as a bucket upper bound in ns (0 when empty). */
uint64_t cx_hist_quantile(const cx_hist *acc, double q);

/* ===================================================================== server internals */

#include <msgpack.h>
#include <uv.h>

#include "query.h"
#include "server.h"

typedef struct cx_loop cx_loop;
typedef struct cx_conn cx_conn;

/* ===================================================================== query audit (audit.c) */

/*
 * Non-public queries about persons and civil servants (entity, records, check) are audited,
 * but they are reads: a write txn per query on the loop would cost a disk sync each. So each
 * worker loop pushes a fixed-size slot into its own preallocated ring (single producer: the
 * loop; single consumer: the flusher thread; lock-free, no allocation), and one flusher thread
 * writes everything queued in one txn every CX_NET_AUDIT_FLUSH_MS (sooner when a ring is half
 * full), and a last time after the loops stopped (graceful stop). A full ring fails the query
 * with `busy` ("fail closed"): nothing is answered that could not be audited, and the count
 * shows in stats (audit.rejected). Entries become durable within about one flush interval.
 */
#define CX_NET_AUDIT_FLUSH_MS 200u
#define CX_NET_AUDIT_QUEUE 32768u  /* slots over all loops (each loop: at least 1024) */
#define CX_NET_PEER_MAX 64u        /* "ip:port" / "[ip6]:port" */
#define CX_NET_AUDIT_DETAIL 48u

typedef struct cx_auditor cx_auditor;
typedef struct cx_audq cx_audq;

typedef struct cx_audit_stats {
  uint64_t queued, written, rejected, pending, flushes, errors;
} cx_audit_stats;

/** Creates the rings (nq of them) and the flusher's scratch; tokens give the `who` names. */
int cx__auditor_new(cx_store *st, const cx_tokens *tokens, unsigned nq, cx_auditor **out);
/** Ring i (0..nq-1), for worker loop i. */
cx_audq *cx__auditor_queue(cx_auditor *a, unsigned i);
/** Starts the flusher thread. CX_EINTERNAL. */
int cx__auditor_start(cx_auditor *a);
/** Stops the flusher after a last flush; call once every producer has stopped. */
void cx__auditor_stop(cx_auditor *a);
void cx__auditor_free(cx_auditor *a);
void cx__auditor_stats(cx_auditor *a, cx_audit_stats *out);
/**
 * Queues one query audit (loop thread of the ring only): code is the normalised 18-byte code,
 * detail a short text (cut to CX_NET_AUDIT_DETAIL - 1), peer NUL-terminated or NULL.
 * CX_EBUSY when the ring is full (counted as rejected). No allocation, no lock.
 */
int cx__audq_push(cx_audq *q, int64_t time_ms, int token, int role, int op,
                  const char code[CX_CODE_LEN], const char *detail, const char *peer);
/** The `who` of an audit entry: the token's name, "token#N" for a token without one. */
const char *cx__audit_who(const cx_tokens *tk, int token, char *buf, size_t cap);

/** Per-op counters of one loop: written by the loop thread only, read by `stats` anywhere. */
typedef struct cx_op_stats {
  uint64_t requests, errors;
  cx_hist lat;
} cx_op_stats;

/** One request, decoded in place: keys and values point into the frame. */
typedef struct cx_req {
  uint64_t id;
  int op;
  uint32_t nf;
  cx_str keys[CX_NET_MAX_FIELDS];
  cx_mp vals[CX_NET_MAX_FIELDS];
  const unsigned char *payload;
  size_t plen;
} cx_req;

/** Where a request executes: a worker loop (txn reused) or a thread-pool job (own txn). */
typedef struct cx_exec {
  cx_server *srv;
  const cx_query *q;
  cx_txn *txn;
  int *txn_live;              /* 0: txn is reset and must be renewed before use */
  cx_check_hit *hits;         /* check hit array (loop-owned) */
  uint32_t hits_cap;
  int role;                   /* in/out: auth changes it */
  int token;                  /* index in srv->tokens, -1 none */
  cx_loop *lp;                /* NULL in a job */
  char msg[512];              /* error message of the last failed handler */
  msgpack_packer *pk;         /* packer over the response buffer */
  cx_buf *out;                /* the response buffer */
  /* ingest: per-record problems, written into the error's "details" */
  cx_buf *details;
  uint32_t n_details;
  /* audit: the loop's ring for query audits (NULL: queries are not audited, e.g. the fuzz
   * harness) and the client's address (NULL or NUL-terminated) */
  cx_audq *audq;
  const char *peer;
  const int *cancel;          /* a job's: set when its client goes away (NULL on a loop) */
} cx_exec;

/** Decodes the top of a request (map, id, op, field positions). rc < 0 with msg set. */
int cx__net_req_decode(cx_req *rq, const void *payload, size_t n, char *msg, size_t cap);
/** 1 and *v when field name is present. */
int cx__net_req_field(const cx_req *rq, const char *name, cx_mp *v);
/** Runs rq, appending one whole framed response (ok or error) to x->out. Returns the
 *  response's error code (0 = ok). Out of memory while packing: one `internal` answer instead
 *  of the partial one; when not even that fits, no frame and x->out->failed stays set: close
 *  the connection. */
int cx__net_exec(cx_exec *x, const cx_req *rq);
/** Appends one framed error response. */
void cx__net_error_frame(cx_buf *out, uint64_t id, int err, const char *msg);
/** The server's store / stats accessors used by ops. */
cx_store *cx__net_store(cx_server *s);
const cx_tokens *cx__net_tokens(cx_server *s);
/** Packs the `stats` result (merges every loop's counters). */
void cx__net_pack_stats(cx_server *s, msgpack_packer *pk);
/** Limits of the server (max frame, ...). */
const cx_server_opts *cx__net_opts(cx_server *s);

/* ===================================================================== logging */

/** One line on stderr: "2026-01-02T03:04:05.678Z chengxind: <msg>". Thread-safe (one write). */
void cx_net_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/**
 * A log budget for events a client can cause at will (wrong tokens): at most
 * CX_NET_LOG_PER_SECOND lines a second, the rest counted. Zero-filled = ready; any thread.
 */
#define CX_NET_LOG_PER_SECOND 10
typedef struct cx_log_budget {
  int64_t second;      /* the second being counted (atomic) */
  uint32_t used;       /* lines logged in it (atomic) */
  uint64_t dropped;    /* lines not logged since the last one that was (atomic) */
} cx_log_budget;
/** 1 when a line may be logged now, with *more = the lines dropped before it; else 0. */
int cx__log_budget_take(cx_log_budget *b, uint64_t *more);
/** An auth with an unknown token: counted (stats auth.failed) and logged with the peer
 *  address within the server's log budget. Never sees the token. Any loop thread. */
void cx__net_auth_failed(cx_server *s, const char *peer);

#endif
