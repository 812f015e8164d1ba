/*
 * net_int.h — net/'s private header: server limits, latency histograms, the query-audit rings,
 * log lines. Included by the net sources and by tests/net/ only. The wire (wire.h) and the
 * executor (exec.h) have public headers of their own.
 *
 * Caveats (threads): every function here is pure or works on caller-owned state, except the
 * audit rings (one producer loop, one flusher) and the log (any thread).
 */
#ifndef CX_NET_INT_H
#define CX_NET_INT_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include "exec.h"
#include "store.h"
#include "wire.h"

/* ===================================================================== server limits */

#define CX_NET_DEFAULT_PORT 7411
#define CX_NET_MAX_FRAME_DEFAULT (1u << 20)   /* 1 MiB */
#define CX_NET_MAX_CONNS_DEFAULT 10000u
#define CX_NET_IDLE_TIMEOUT_DEFAULT 300u      /* seconds */
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
#define CX_NET_SLOW_MS_DEFAULT 200u           /* requests slower than this are logged */

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
/** 1 when the flusher ran within the last 25 flush intervals and its last write worked; else
 *  0 and why (for /readyz). Any thread. */
int cx__auditor_alive(cx_auditor *a, char *why, size_t cap);
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

/* ===================================================================== HTTP door (http.c) */

struct uv_loop_s;
typedef struct cx_http cx_http;           /* shared: h2o configuration, routes, OpenAPI */
typedef struct cx_http_loop cx_http_loop; /* one per worker loop: an h2o context */

/** What the HTTP door needs from the server (all called on a loop thread but txn_*, which
 *  run on pool threads). */
typedef struct cx_http_hooks {
  const cx_exec_env *env;
  const cx_query *pool_q;                        /* query context for pool jobs */
  cx_txn *(*txn_get)(void *ud, int *err);        /* a read snapshot for a pool job */
  void (*txn_put)(void *ud, cx_txn *t, int live);
  void (*metrics)(void *ud, cx_buf *out);        /* /metrics: Prometheus text */
  int (*ready)(void *ud, char *why, size_t cap); /* /readyz: 1 ready, else 0 and why */
  void (*closed)(void *ud, const unsigned char slot[16]); /* a connection is gone */
  void (*account)(void *ud, void *loop_ud, int op, int rc, uint64_t t0); /* per-op stats */
  void *ud;
  size_t max_body;        /* largest request body (the msgpack door's max frame) */
  size_t max_answer;      /* largest answer (the msgpack door's max output) */
  unsigned idle_timeout_s;
  const char *tls_cert, *tls_key; /* both or neither */
} cx_http_hooks;

/** Parses the routes of the op table, builds the h2o configuration and the OpenAPI document.
 *  CX_EBADREQ / CX_EIO (TLS files) / CX_ENOMEM with why. */
int cx__http_new(const cx_http_hooks *k, cx_http **out, char *why, size_t cap);
void cx__http_free(cx_http *h);
/** The OpenAPI 3.1 document (JSON), generated from the op table. */
const char *cx__http_openapi(const cx_http *h, size_t *n);
int cx__http_loop_new(cx_http *h, struct uv_loop_s *loop, void *loop_ud, int idx, cx_http_loop **out);
/** The loop's snapshot, query context, hit array and audit ring (loop-owned). */
void cx__http_loop_bind(cx_http_loop *l, const cx_query *q, cx_txn *txn, int *txn_live,
                        cx_check_hit *hits, uint32_t hits_cap, cx_audq *audq);
/** Serves an accepted socket; slot is handed back through hooks.closed when it is gone. */
int cx__http_accept(cx_http_loop *l, int fd, const unsigned char slot[16]);
/** Stops taking requests: idle connections close, busy ones after their answer. */
void cx__http_loop_shutdown(cx_http_loop *l);
/** Open connections of the loop. */
int cx__http_loop_conns(const cx_http_loop *l);
/** After the loop stopped running. */
void cx__http_loop_free(cx_http_loop *l);

/* ===================================================================== logging */

/** One line on stderr: "2026-01-02T03:04:05.678Z chengxind: <msg>". Thread-safe (one write). */
void cx_net_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
void cx_net_vlog(const char *fmt, va_list ap);

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

#endif
