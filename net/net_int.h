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
  uint64_t checks_queued, checks_written, checks_rejected, checks_pending, checks_pruned;
  uint64_t checks_write_errors, checks_flushes;
  int64_t checks_last_flush_ms; /* unix ms of the last write of queued entries (0: none yet) */
  uint32_t checks_retention_days;
  int checks_off;               /* the server runs without a check log (--no-check-log) */
} cx_audit_stats;

/*
 * The check log (store.h "check log") rides on the same rings and flusher: each loop queues
 * one entry per entity a check answered (cx__audq_check: a copy into a preallocated slot, a
 * relaxed atomic add for the receipt; no lock, no allocation, no write txn on the loop), and
 * the flusher appends everything queued in one write txn per round, with the audit entries.
 * A crash loses at most the entries of the last round (CX_NET_AUDIT_FLUSH_MS, 200 ms): their
 * receipts were answered but never stored, and feedback on them is `not_found`. A full ring
 * fails the check with `busy`, like a full audit ring: no receipt is given that would not be
 * kept. The flusher also prunes entries older than the retention, once an hour.
 */
#define CX_NET_CHECKLOG_QUEUE 262144u        /* slots over all loops (each loop: at least 8192) */
#define CX_NET_CHECKLOG_RETENTION_DAYS 730u  /* default retention: 2 years */
#define CX_NET_CHECKLOG_PRUNE_MS 3600000u
/** The receipt epoch (cx_store_checks_epoch), before the loops run. */
void cx__auditor_set_epoch(cx_auditor *a, uint32_t epoch);
/** Retention of the check log in days (0: keep for ever), before the flusher starts. */
void cx__auditor_set_retention(cx_auditor *a, uint32_t days);
/** No check log (before the loops run): checks give no receipt and queue nothing. */
void cx__auditor_set_checks_off(cx_auditor *a, int off);
/** Queues a check-log entry (loop thread of the ring only; e->who copied, cut to the token-name
 *  size) and gives its receipt seq. CX_EBUSY when the ring is full. */
int cx__audq_check(cx_audq *q, const cx_check_entry *e, uint64_t *receipt);
/* Whether q's checks are logged (not --check-log off): a check builds no entry otherwise. */
int cx__audq_checks_on(const cx_audq *q);
/** Writes the queued check-log entries now (any thread; feedback on a fresh receipt). */
int cx__auditor_flush_now(cx_auditor *a);

/** Creates the rings (nq of them) and the flusher's scratch; tokens give the `who` names. */
int cx__auditor_new(cx_store *st, unsigned nq, cx_auditor **out);
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
int cx__audq_push(cx_audq *q, int64_t time_ms, const char *who, int role, int op,
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
  cx_query *const *pool_q;                       /* query context for pool jobs (read it with
                                                    __atomic_load_n: a reload replaces it) */
  cx_txn *(*txn_get)(void *ud, int *err);        /* a read snapshot for a pool job */
  void (*txn_put)(void *ud, cx_txn *t, int live);
  void (*metrics)(void *ud, cx_buf *out);        /* /metrics: Prometheus text */
  int (*ready)(void *ud, char *why, size_t cap); /* /readyz: 1 ready, else 0 and why */
  void (*closed)(void *ud, const unsigned char slot[16]); /* a connection is gone */
  /* per-op stats and the request log: who asked (role, token of table tk, peer), the request id */
  void (*account)(void *ud, void *loop_ud, int op, int rc, uint64_t t0, int role, const cx_tokens *tk,
                  int token, const char *peer, const char *rid);
  /* before each request: the loop's query context catches up with a reload (may be NULL) */
  void (*catch_up)(void *ud, void *loop_ud);
  void *ud;
  size_t max_body;        /* largest request body (the msgpack door's max frame) */
  size_t max_answer;      /* largest answer (the msgpack door's max output) */
  unsigned idle_timeout_s;
  const char *tls_cert, *tls_key; /* both or neither */
  const char *site_path;  /* the public site's config file (site.c); NULL: the defaults */
} cx_http_hooks;

/** Parses the routes of the op table, builds the h2o configuration and the OpenAPI document.
 *  CX_EBADREQ / CX_EIO (TLS files) / CX_ENOMEM with why. */
/**
 * The executor's framed answer (frame at p[0..n)) as the HTTP body, appended to o: the result
 * as JSON, or nothing for an error answer. Returns 0 or CX_EINTERNAL (not an answer); *err:
 * the error code the answer carries (0 ok).
 */
int cx__http_answer_json(const void *p, size_t n, cx_buf *o, int *err);
int cx__http_new(const cx_http_hooks *k, cx_http **out, char *why, size_t cap);
void cx__http_free(cx_http *h);
/** "h2o X, OpenSSL Y, jansson Z" (for --version). */
void cx__http_lib_versions(char *buf, size_t cap);
/** The OpenAPI 3.1 document (JSON), generated from the op table. */
const char *cx__http_openapi(const cx_http *h, size_t *n);
int cx__http_loop_new(cx_http *h, struct uv_loop_s *loop, void *loop_ud, int idx, cx_http_loop **out);
/** The loop's snapshot, query context, hit array and audit ring (loop-owned). */
void cx__http_loop_bind(cx_http_loop *l, const cx_query *q, cx_txn *txn, int *txn_live,
                        cx_check_hit *hits, uint32_t hits_cap, cx_audq *audq);
/** Serves an accepted socket; slot is handed back through hooks.closed when it is gone. */
int cx__http_accept(cx_http_loop *l, int fd, const unsigned char slot[16]);
/**
 * Runs one msgpack request through cx_exec on the loop (its snapshot, reset afterwards; its hit
 * array and audit ring), as role/token (-1: none), peer for the audit; counts it as op (t0:
 * uv_hrtime() when the request arrived). Returns the answer's error code (0 ok) with *ans the
 * framed answer, borrowed until the next call on the loop; CX_ETOOLARGE and *ans NULL when the
 * answer passed the door's output limit. Loop thread only: the path of every fast op over HTTP
 * and of every page of the public site (site.c).
 */
int cx__http_run(cx_http_loop *l, int op, int role, int token, const cx_tokens *tokens, const char *peer,
                 const char *rid, const void *in, size_t n,
                 uint64_t t0, const cx_buf **ans);
/** Stops taking requests: idle connections close, busy ones after their answer. */
void cx__http_loop_shutdown(cx_http_loop *l);
/** Open connections of the loop. */
int cx__http_loop_conns(const cx_http_loop *l);
/** After the loop stopped running. */
void cx__http_loop_free(cx_http_loop *l);

/* ===================================================================== public site (site.c) */

/*
 * The public credit website (docs/site.md): server-rendered Chinese pages on the HTTP door.
 * One path into the data: every page is built from the answers of the executor to the same
 * msgpack requests the API takes (entity, records, search, catalog), run as the public role
 * through the door's `run` callback (http.c: cx__http_run) — site.c never reads the store.
 * site.c knows no h2o: it turns a GET path and query into a status, headers and a body.
 */
#define CX_SITE_SHORT_MAX 256
#define CX_SITE_TEXT_MAX 4096

/** The operator's texts (chengxind --site FILE, docs/operations.md "The public site"). */
typedef struct cx_site_config {
  char site_name[CX_SITE_SHORT_MAX], operator_name[CX_SITE_SHORT_MAX], phone[CX_SITE_SHORT_MAX],
      email[CX_SITE_SHORT_MAX], address[CX_SITE_SHORT_MAX], hours[CX_SITE_SHORT_MAX];
  char repair_text[CX_SITE_TEXT_MAX], objection_text[CX_SITE_TEXT_MAX]; /* LF: paragraphs */
} cx_site_config;

/** The defaults (a generic operator, the procedures of 信用修复管理办法 in general terms). */
void cx__site_config_default(cx_site_config *c);
/**
 * Parses a site file over the defaults in *c: UTF-8 lines `key = value`, '#' comments and
 * blank lines ignored; keys site_name operator phone email address hours (once each),
 * repair_text objection_text (each line one paragraph; the first replaces the default, later
 * ones append). CX_EBADREQ with *bad_line and why: an unknown key, a line without '=', a
 * value too long, not UTF-8 or with control characters, a single key given twice.
 */
int cx__site_config_parse(const char *text, size_t n, cx_site_config *c, int *bad_line, char *why,
                          size_t cap);

typedef struct cx_site cx_site;           /* shared, read-only while serving */
typedef struct cx_site_loop cx_site_loop; /* one per worker loop: scratch buffers */

/** Loads path (NULL: the defaults). CX_EIO / CX_EBADREQ (naming file and line) / CX_ENOMEM. */
int cx__site_new(const char *path, cx_site **out, char *why, size_t cap);
void cx__site_free(cx_site *s);
int cx__site_loop_new(const cx_site *s, cx_site_loop **out);
void cx__site_loop_free(cx_site_loop *sl);

/**
 * Runs one msgpack request (a payload: the map {id, op, ...}) as the public role; *ans and *alen
 * the framed answer, borrowed until the next call. 0, or CX_ETOOLARGE (the answer passed the
 * door's output limit) / CX_ENOMEM: no answer.
 */
typedef int (*cx_site_run_fn)(void *ud, int op, const void *req, size_t n, const unsigned char **ans,
                              size_t *alen);

/** One page: status, Content-Type, Cache-Control; body borrowed until the next render. */
typedef struct cx_site_page {
  int status;
  const char *ctype;
  const char *cache;
  const char *body;
  size_t len;
  /* A PDF to draw (GET /report/{code}.pdf): tens of milliseconds of cairo and pango, so the
   * door draws it off the loop (cx__site_pdf on the thread pool) instead of sending body.
   * pdf_doc is borrowed until the next render: copy it. NULL: body is the answer. */
  const char *pdf_doc;
  size_t pdf_len;
  char pdf_title[340];
  char pdf_day[16];
} cx_site_page;

/**
 * Renders GET path (without the query; percent-encoded) with query (after '?', NULL: none).
 * Always fills *out (an error page when the path is unknown or an answer is an error).
 */
void cx__site_render(cx_site_loop *sl, cx_site_run_fn run, void *ud, const char *path, size_t plen,
                     const char *query, size_t qlen, cx_site_page *out);

/** Appends p[0..n) HTML-escaped (& < > " ' as entities; bytes that are not UTF-8 and control
 *  characters but TAB and LF as U+FFFD): safe in element content and quoted attributes. */
void cx__site_html_escape(cx_buf *o, const char *p, size_t n);
/** The Chinese label of a category's wire name, NULL when there is none. */
const char *cx__site_category_label(const char *name);

/*
 * The report as a flat list of items (site.c builds it from the answers, pdf.c draws it).
 * Item: 1 byte kind, 2 bytes label length, label, 4 bytes text length, text (big-endian).
 */
enum { CX_DOC_TITLE, CX_DOC_META, CX_DOC_H2, CX_DOC_REC, CX_DOC_FIELD, CX_DOC_NOTE };
/** Draws doc as an A4 PDF (cairo + pango, system CJK fonts) into out. CX_ENOMEM / CX_EINTERNAL. */
int cx__site_pdf(const char *doc, size_t n, const char *title, const char *day, cx_buf *out);

/** Percent-decoding (path segments; '+' is a space when plus): 0, or -1 (bad escape, NUL, too long). */
int cx__http_pct_decode(const char *p, size_t n, int plus, char *out, size_t cap, size_t *len);

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

/* ===================================================================== replicated log (replog.c) */

/* chengxind --log: write batches through NATS JetStream (replog.c's opening comment, and
 * docs/scaling.md). Only cx_server uses it; it is the only file that includes nats.h. */
typedef struct cx_replog cx_replog;
typedef struct cx_replog_opts {
  const char *urls;      /* "nats://h1:4222,nats://h2:4222" */
  const char *stream;    /* the stream's name; its subject is chengxin.<stream>.batches */
  int replicas;          /* of a stream this node creates (default 3) */
  int64_t max_msgs;      /* of a stream this node creates: its retention in messages (0: all) */
  uint64_t max_lag;      /* /readyz is false beyond this many messages behind (0: no limit) */
  const char *node;      /* this node's name in message ids (default: the host name) */
  int test_republish;    /* test hook: publish every message twice with one Nats-Msg-Id */
  void (*on_data)(void *ud); /* a data file was applied (the applier's thread); may be NULL */
  int (*flush)(void *ud);    /* writes the queued check log (before a feedback on own receipt) */
  void *ud;
} cx_replog_opts;
void cx_replog_opts_default(cx_replog_opts *o);
typedef struct cx_replog_stats {
  uint64_t applied, first, last, lag; /* sequences; lag = last - applied */
  double lag_s;          /* seconds since the oldest message not applied yet was written */
  uint64_t published, duplicates, retries, refused, apply_errors, publish_failed;
  int64_t info_age_ms;   /* since the stream last answered */
  int gone, connected;
  char stream[128], node[96];
} cx_replog_stats;
/** What a message says besides its batch. */
typedef struct cx_replog_msg {
  cx_day day;
  int64_t ms;
  char node[96];
} cx_replog_msg;
/**
 * Connects, makes sure of the stream (creating it when absent), checks the store's position
 * against it (CX_EVERSION with why naming the backup needed when the stream no longer holds
 * the next message, or when the store is past its end) and starts the applier.
 */
int cx__replog_open(cx_store *st, const cx_replog_opts *o, cx_replog **out, char *why, size_t cap);
/** The write path: publishes b (always consumed), waits for the ack and the local apply. */
int cx__replog_commit(cx_replog *r, cx_batch *b, cx_batch_result *res);
/** Encodes b as a log message (the header comment of replog.c) into out. */
int cx__replog_encode(const cx_batch *b, cx_day day, int64_t ms, const char *node, cx_buf *out);
/** Decodes a message into a new batch on st (clock and actor set); CX_EBADFRAME with why. */
int cx__replog_build(cx_store *st, const void *p, size_t n, cx_batch **out, cx_replog_msg *info,
                     char *why, size_t cap);
/**
 * A data file through the log (load-*): publishes it (message version 2) with audit entry ae,
 * waits for the ack and the local apply; *seq: its sequence (0 when not acknowledged),
 * *bad_line and err: the refusal every node made alike.
 */
int cx__replog_load(cx_replog *r, const char *name, const char *text, size_t n, const cx_audit_entry *ae,
                    int *bad_line, uint64_t *seq, char *err, size_t cap);
/** Encodes a data file as a log message (version 2) into out. */
int cx__replog_encode_data(const char *name, const char *text, size_t n, const cx_audit_entry *ae,
                           cx_day day, int64_t ms, const char *node, cx_buf *out);
/**
 * What a log message is, as the applier decodes it before applying anything: 'd' a data file
 * (version 2), 'e' an epoch, 'f' a feedback (version 3), 'b' neither (a write batch: its own
 * decoder, cx__replog_build, needs a store); CX_EBADFRAME with why for a message of version 2
 * or 3 that is malformed (the refusal every node makes alike).
 */
int cx__replog_classify(const void *p, size_t n, char *why, size_t cap);
/** This node's receipt epoch, taken through the log (an epoch message; every node counts it). */
int cx__replog_epoch(cx_replog *r, uint32_t *epoch, char *err, size_t cap);
/**
 * A feedback through the log (cx_store_check_feedback_at on every node). *applied, *old: this
 * node's application (1: its check log held the entry; 0: another node's receipt; -1: another
 * system's); *seq: the message's sequence.
 */
int cx__replog_feedback(cx_replog *r, uint64_t receipt, int outcome, cx_str who, int any_who, cx_str note,
                        const cx_audit_entry *ae, cx_check_entry *old, int *applied, uint64_t *seq, char *err,
                        size_t cap);
void cx__replog_stats(cx_replog *r, cx_replog_stats *out);
/** 1 when ready to serve reads (lag within max_lag, the stream answering); else 0 and why. */
int cx__replog_ready(cx_replog *r, char *why, size_t cap);
/** The server stops: writers waiting on the log answer now (CX_ETIMEOUT, "shutting down"; any
 *  thread); the applier goes on until cx__replog_close, which stops it at a message boundary. */
void cx__replog_stopping(cx_replog *r);
/** 0 once this node's store has applied seq (waiting up to wait_ms; any thread), else
 *  CX_ETIMEOUT; *applied (may be NULL): the store's position then. */
int cx__replog_wait(cx_replog *r, uint64_t seq, unsigned wait_ms, uint64_t *applied);
void cx__replog_close(cx_replog *r);

#endif
