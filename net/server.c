/*
 * server.c — the acceptor loop, worker loops, connections, slow-request jobs, stats.
 *
 * Threads:
 *   - the acceptor (the caller of cx_server_run): a uv_poll on our own listening socket;
 *     accept4() each connection and hand its fd to a worker loop, round robin, through a
 *     mutex-protected queue + uv_async_send (libuv 1.44 has no UV_TCP_REUSEPORT). Signals too.
 *   - N worker loops: uv_tcp_open the fds and serve them. Each keeps one read txn (renewed
 *     before a batch of requests, reset after) and one cx_query.
 *   - libuv's thread pool: slow requests (aggregate, ingest, repair, revoke, objection), with
 *     read txns from a small shared pool. The connection stops taking requests until its slow
 *     request is answered, which keeps responses in request order.
 *
 * Per connection: an input buffer (frames are decoded in place), an output buffer the
 * responses are packed into, and a second output buffer being written (swapped on each write).
 * All three are kept between requests; growth past their initial size counts as a spill.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <uv.h>

#include "net_int.h"
#include "server.h"

typedef struct cx_loop cx_loop;
typedef struct cx_conn cx_conn;

#define CX_STOP_GRACE_MS 5000 /* after a stop, connections still busy are closed after this */
#define CX_ACCEPT_PER_TICK 128
#define CX_MAX_THREADS 64
#define CX_TXN_POOL 64
#define CX_MAX_AUTH_FAILURES 5 /* per connection: slows token guessing to one connect per 5 tries */

#define STAT_ADD(field, v) __atomic_store_n(&(field), __atomic_load_n(&(field), __ATOMIC_RELAXED) + (v), __ATOMIC_RELAXED)
#define STAT_GET(field) __atomic_load_n(&(field), __ATOMIC_RELAXED)

/* A client's address as the per-address limit counts it: IPv6, IPv4 as v4-mapped. */
typedef struct cx_ipkey {
  unsigned char a[16];
} cx_ipkey;

typedef struct cx_ipent {
  cx_ipkey k;
  uint32_t n;           /* open connections from k */
  struct cx_ipent *next;
} cx_ipent;

/* A connection handed from the acceptor to a worker loop. */
typedef struct cx_pend {
  int fd;
  cx_ipkey ip;
  int http;             /* an HTTP connection (http.c), not a msgpack one */
} cx_pend;

/* Output buffers a loop keeps for its connections' next answers: at most CX_OCACHE_N of
 * CX_OCACHE_SZ bytes (256 KiB a loop), so that answering does not allocate and grow a buffer
 * per read batch (a malloc per answer at depth 1, five reallocs per 16 at depth 16). */
#define CX_OCACHE_N 16u
#define CX_OCACHE_SZ (16u << 10)

struct cx_conn {
  uv_tcp_t tcp;
  uv_timer_t timer;     /* idle: no complete request (nor a finished write) for idle_timeout_s */
  uv_timer_t ftimer;    /* frame: a frame begun and not complete within frame_timeout_s */
  int frame_timing;     /* ftimer is running */
  uint64_t touched;     /* uv_now of the last conn_touch: idle_cb re-arms from it */
  cx_ipkey ip;
  cx_loop *lp;
  cx_conn *prev, *next;
  cx_buf in;            /* received bytes not yet consumed (in_lent: the loop's rbuf, lent) */
  int in_lent;          /* in is a view of lp->rbuf for the duration of one read_cb */
  cx_buf out;           /* responses packed, not yet handed to uv_write */
  cx_buf wout;          /* responses being written */
  uv_write_t wreq;
  int writing, reading, job, closing, close_after_flush, handles;
  struct cx_job *jobp;  /* the pending job (job == 1): told when the connection goes away */
  int eof;              /* the client half-closed: answer what was received, then close */
  int role, token;
  const cx_tokens *tokens; /* the table token indexes (a reload renumbers: loop_remap) */
  int auth_failures;    /* CX_MAX_AUTH_FAILURES wrong tokens close the connection */
  size_t acct;          /* out.len + wout.len as last counted in lp->queued */
  int ready;            /* on lp's ready list: complete frames wait for the connection's turn */
  int squeezed;         /* held by the squeeze gate (conn_cap) as last seen */
  int batch;            /* its last slice ran out with frames left: new input waits for its turn */
  cx_conn *rprev, *rnext;
  int flushq;           /* on lp's flush list: answers queued, written by flush_cb */
  cx_conn *fprev, *fnext;
  char peer[CX_NET_PEER_MAX]; /* client address for the audit log */
};

struct cx_loop {
  cx_server *srv;
  int idx;
  uv_loop_t loop;
  uv_async_t async;
  uv_timer_t stop_timer;
  uv_thread_t thread;
  uv_mutex_t mu;
  cx_pend *pend;        /* connections handed over by the acceptor (under mu) */
  uint32_t npend, cappend;
  int stop_req;         /* under mu */
  int remap_req;        /* under mu: the token table was replaced (reload): remap connections */
  int requery_req;      /* under mu: the data files changed (reload): cx_query_reload */
  const cx_query *q_of; /* the server's context (srv->q) this loop's was last read beside */
  int stopping;
  cx_txn *txn;
  int txn_live;
  cx_query *q;
  cx_check_hit hits[64];
  cx_audq *audq;        /* this loop's query-audit ring */
  cx_http_loop *http;   /* the HTTP door's h2o context on this loop (NULL: no HTTP) */
  cx_conn *conns;
  cx_conn *ready_head, *ready_tail; /* connections with frames waiting for their turn */
  uv_idle_t turn;       /* active while the ready list is not empty (turn_cb) */
  uv_prepare_t settle;  /* before each poll: the iteration's read snapshot ends (settle_cb) */
  cx_conn *flush_head, *flush_tail; /* connections whose answers wait for flush_cb */
  uv_check_t wflush;    /* after each poll: the answers of every connection read are written */
  int polling;          /* between settle_cb and flush_cb: the poll phase (and its write callbacks) */
  cx_buf ans;           /* the answer being built, under its connection's share (conn_share) */
  cx_buf rbuf;          /* the read buffer lent to a connection with no input kept (alloc_cb) */
  char *ocache[CX_OCACHE_N]; /* emptied output buffers of CX_OCACHE_SZ bytes (out_take, out_give) */
  unsigned n_ocache;
  int rbuf_lent;
  /* stats: written by this loop's thread only */
  cx_op_stats ops[CX_OP_SLOTS];
  uint64_t conns_total, conns_current, spills;
  size_t queued;        /* output queued on this loop's connections (conn_account) */
  size_t budget;        /* max_output_total / loops: past it, each connection gets the squeeze cap */
  uint64_t squeezed;    /* times a connection was held to the squeeze cap */
  uint64_t too_large;   /* answers refused for being over their connection's share */
  uint64_t frame_timeouts, idle_timeouts; /* connections closed by either timer */
  double reqlog_acc;    /* sampling of the request log (reqlog) */
};

struct cx_server {
  cx_server_opts o;
  char host[64];
  int port;
  int lfd;
  int hfd, hport;       /* the HTTP listening socket and its port (-1 / 0: none) */
  char hhost[64];
  uv_poll_t hpoll;
  cx_http *http;        /* routes, h2o configuration, OpenAPI (http.c) */
  cx_store *st;
  cx_query *q;          /* shared by jobs (immutable; a reload publishes another, atomically) */
  cx_tokens *tokens;    /* the token table now (env.tokens); a reload publishes another */
  /* Tables and query contexts a reload replaced: requests that began before it may still use
   * them, so they live until the server closes (reloads are rare; each is a few KB). */
  void **retired;
  size_t n_retired;
  uv_async_t reload_async;
  int reload_req;       /* atomic: SIGHUP arrived */
  int requery_req;      /* atomic: a data file was loaded: rebuild the query context */
  unsigned nloops;
  cx_loop *loops;
  uv_loop_t main;
  uv_poll_t poll;
  uv_timer_t accept_pause;  /* out of file descriptors: accepting pauses briefly */
  int emfile_logged;
  uv_async_t stop_async;
  int stop_signal;      /* the signal cx_server_stop_signal was given (atomic), 0: none */
  int async_ready;      /* stop_async may be sent to (atomic) */
  cx_exec_env env;      /* what every request shares (exec.h) */
  int stopping;
  unsigned next_loop;
  uint64_t rejected, started_ns;
  time_t started;
  int nconns;           /* atomic */
  /* Open connections per client address (max_conns_per_ip > 0): the acceptor counts them in,
   * the worker loops out, under ip_mu. A chained hash table; entries live while n > 0. */
  uv_mutex_t ip_mu;
  cx_ipent **ip_tab;
  uint32_t ip_mask;
  uint64_t rejected_ip;
  uv_mutex_t txn_mu;
  cx_txn *txn_pool[CX_TXN_POOL];
  int n_txn_pool;
  cx_auditor *audit;    /* query-audit rings and their flusher (audit.c) */
  int reqlog_fd;        /* --request-log, -1: none */
  uint64_t auth_failed; /* auths with an unknown token (atomic: every loop adds) */
  cx_log_budget auth_log;
  cx_replog *replog;    /* --log: the replicated log (replog.c); NULL: single node */
  uint32_t epoch;       /* this run's receipt epoch (check log) */
  char writes_refused[512]; /* --log-writes off: the answer to a write */
};

typedef struct cx_job {
  uv_work_t work;
  cx_conn *conn;
  cx_server *srv;
  const cx_query *q;    /* the shared query context when it was queued */
  const cx_tokens *tokens;
  int role, token, op, rc;
  uint64_t id, t0;
  unsigned char *payload;
  size_t plen;
  cx_buf out;
  char peer[CX_NET_PEER_MAX];
  int cancel;           /* set (atomically) by the loop when the client goes away */
  int wait_only;        /* a fast op with a min_seq not applied yet: the pool thread waits for
                           it, then the loop runs the op (job_done) with its rings and arrays */
} cx_job;

/* The executor's hooks (cx_exec_env): the `stats` answer and failed auths. */
static void pack_stats(void *ud, msgpack_packer *pk);
/* env.checks_flush: a feedback on a receipt still queued writes the queue first. */
static int checks_flush(void *ud) { return cx__auditor_flush_now(((cx_server *)ud)->audit); }

/* env.commit with --log: a write goes through the replicated log (replog.c). */
static int log_commit(void *ud, cx_batch *b, cx_batch_result *res) {
  return cx__replog_commit(((cx_server *)ud)->replog, b, res);
}

/* A data file changed the store's catalogue or calendar: the loops rebuild their query
 * context (reload_async_cb, on the main loop). Any thread. */
static void data_loaded(void *ud) {
  cx_server *s = ud;
  __atomic_store_n(&s->requery_req, 1, __ATOMIC_SEQ_CST);
  if (__atomic_load_n(&s->async_ready, __ATOMIC_SEQ_CST)) uv_async_send(&s->reload_async);
}

/* env.load: a data file into the store (single node) or through the log (--log). */
static int env_load(void *ud, const char *name, const char *text, size_t n, const cx_audit_entry *ae,
                    int *bad_line, uint64_t *seq, char *err, size_t cap) {
  cx_server *s = ud;
  *seq = 0;
  if (s->replog) return cx__replog_load(s->replog, name, text, n, ae, bad_line, seq, err, cap);
  int rc = cx_store_data_put_audit(s->st, name, text, n, bad_line, ae);
  if (rc) snprintf(err, cap, "%s", cx_store_errmsg(s->st));
  else data_loaded(s);
  return rc;
}

/* env.feedback with --log: what this node can check first (its own receipts), then the log. */
static int env_feedback(void *ud, uint64_t receipt, int outcome, cx_str who, int any_who, cx_str note,
                        const cx_audit_entry *ae, cx_check_entry *old, int *applied, uint64_t *seq, char *issuer,
                        size_t icap, char *err, size_t cap) {
  cx_server *s = ud;
  *applied = 0;
  *seq = 0;
  uint32_t epoch = (uint32_t)(receipt >> 40);
  /* Who issued it: every node knows the node of each epoch taken from the log (its epoch
   * message); one this node has not applied yet is waited for (bounded). An epoch not taken
   * from the log is of the store the nodes were copied from: its entries are on every copy. */
  issuer[0] = 0;
  int known = cx_store_receipt_node(s->st, epoch, issuer, icap) == 0;
  if (!known && epoch != s->epoch && cx__replog_wait(s->replog, epoch, CX_NET_MIN_SEQ_WAIT_MS, NULL) == 0)
    known = cx_store_receipt_node(s->st, epoch, issuer, icap) == 0;
  cx_replog_stats ls;
  cx__replog_stats(s->replog, &ls);
  int own = known ? strcmp(issuer, ls.node) == 0 : 1;
  if (epoch == s->epoch) checks_flush(s); /* a fresh receipt may still be queued */
  cx_txn *t = NULL;
  int rc = cx_store_txn_begin(s->st, &t);
  if (rc) return rc;
  cx_check_entry e;
  rc = cx_store_check_get(t, receipt, &e);
  int found = rc == 0, mine = found && (any_who || cx_str_eq(e.who, who));
  cx_store_txn_end(t);
  if (rc && rc != CX_ENOTFOUND) return rc;
  if (own && !found) return CX_ENOTFOUND;
  if (found && !mine) return CX_EFORBIDDEN;
  return cx__replog_feedback(s->replog, receipt, outcome, who, any_who, note, ae, old, applied, seq, err, cap);
}

/* env.at_seq with --log: min_seq of a read (cross-node read-your-writes). */
static int at_seq(void *ud, uint64_t seq, unsigned wait_ms, uint64_t *applied) {
  return cx__replog_wait(((cx_server *)ud)->replog, seq, wait_ms, applied);
}

static void auth_failed(void *ud, const char *peer) {
  cx_server *s = ud;
  __atomic_add_fetch(&s->auth_failed, 1, __ATOMIC_RELAXED);
  uint64_t more;
  if (!cx__log_budget_take(&s->auth_log, &more)) return;
  if (!peer || !*peer) peer = "?";
  if (more) cx_net_log("auth: unknown token from %s (%llu more not logged)", peer, (unsigned long long)more);
  else cx_net_log("auth: unknown token from %s", peer);
}

void cx_server_opts_default(cx_server_opts *o) {
  memset(o, 0, sizeof *o);
  o->host = "127.0.0.1";
  o->port = CX_NET_DEFAULT_PORT;
  o->max_frame = CX_NET_MAX_FRAME_DEFAULT;
  o->max_conns = CX_NET_MAX_CONNS_DEFAULT;
  o->idle_timeout_s = CX_NET_IDLE_TIMEOUT_DEFAULT;
  o->max_output = CX_NET_MAX_OUTPUT_DEFAULT;
  o->max_output_total = CX_NET_MAX_OUTPUT_TOTAL_DEFAULT;
  o->slow_ms = CX_NET_SLOW_MS_DEFAULT;
  o->frame_timeout_s = CX_NET_FRAME_TIMEOUT_DEFAULT;
}

/* ===================================================================== per-address limit */

static uint32_t ip_hash(const cx_ipkey *k) {
  uint32_t h = 2166136261u; /* FNV-1a: the table only spreads load, nothing depends on it */
  for (int i = 0; i < 16; i++) h = (h ^ k->a[i]) * 16777619u;
  return h;
}

static void ip_key(const struct sockaddr_storage *ss, cx_ipkey *k) {
  memset(k, 0, sizeof *k);
  if (ss->ss_family == AF_INET) {
    k->a[10] = k->a[11] = 0xff;
    memcpy(k->a + 12, &((const struct sockaddr_in *)ss)->sin_addr, 4);
  } else if (ss->ss_family == AF_INET6) {
    memcpy(k->a, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
  }
}

/* Counts one more connection from k: 0, CX_EBUSY at the limit, CX_ENOMEM. */
static int ip_acquire(cx_server *s, const cx_ipkey *k) {
  if (!s->o.max_conns_per_ip) return 0;
  int rc = 0;
  uv_mutex_lock(&s->ip_mu);
  cx_ipent **slot = &s->ip_tab[ip_hash(k) & s->ip_mask], *e = *slot;
  while (e && memcmp(&e->k, k, sizeof *k)) e = e->next;
  if (!e) {
    e = cx_calloc(1, sizeof *e);
    if (!e) {
      rc = CX_ENOMEM;
    } else {
      e->k = *k;
      e->next = *slot;
      *slot = e;
    }
  }
  if (e && e->n >= s->o.max_conns_per_ip) rc = CX_EBUSY;
  else if (e) e->n++;
  uv_mutex_unlock(&s->ip_mu);
  return rc;
}

static void ip_release(cx_server *s, const cx_ipkey *k) {
  if (!s->o.max_conns_per_ip) return;
  uv_mutex_lock(&s->ip_mu);
  cx_ipent **pp = &s->ip_tab[ip_hash(k) & s->ip_mask];
  while (*pp && memcmp(&(*pp)->k, k, sizeof *k)) pp = &(*pp)->next;
  cx_ipent *e = *pp;
  if (e && --e->n == 0) {
    *pp = e->next;
    free(e);
  }
  uv_mutex_unlock(&s->ip_mu);
}

/* A connection counted by the acceptor is gone (closed, or never served). */
static void slot_release(cx_server *s, const cx_ipkey *k) {
  ip_release(s, k);
  __atomic_sub_fetch(&s->nconns, 1, __ATOMIC_RELAXED);
}

/* ===================================================================== connections */

static void conn_process(cx_conn *c);
static void conn_flush(cx_conn *c);

/* Buffer growth is added to the loop's stats before the response that caused it is sent. */
static void conn_account_spills(cx_conn *c) {
  uint64_t n = c->in.spills + c->out.spills + c->wout.spills;
  if (!n) return;
  STAT_ADD(c->lp->spills, n);
  c->in.spills = c->out.spills = c->wout.spills = 0;
}

/* An empty output buffer without memory takes one from the loop's cache (else allocates
 * CX_OCACHE_SZ); an emptied one goes back to it when it has that size and the cache has room,
 * else it is freed. Either way the connection holds memory only while it holds bytes. */
static void out_take(cx_loop *lp, cx_buf *b, size_t need) {
  if (b->cap || need > CX_OCACHE_SZ) return;
  if (lp->n_ocache) {
    b->p = lp->ocache[--lp->n_ocache];
    b->cap = CX_OCACHE_SZ;
  } else if ((b->p = cx_malloc(CX_OCACHE_SZ)) != NULL) {
    b->cap = CX_OCACHE_SZ;
  }
}

static void out_give(cx_loop *lp, cx_buf *b) {
  if (b->cap == CX_OCACHE_SZ && lp->n_ocache < CX_OCACHE_N) {
    lp->ocache[lp->n_ocache++] = b->p;
    b->p = NULL;
    b->len = b->cap = 0;
    return;
  }
  cx_buf_free(b);
}

static void conn_free(cx_conn *c) {
  conn_account_spills(c);
  cx_buf_free(&c->in);
  cx_buf_free(&c->out);
  cx_buf_free(&c->wout);
  free(c);
}

/*
 * Output accounting: the loop's queued bytes (Q) follow each connection's out + wout (q), the
 * answers included. Two rules keep Q <= budget + (CX_NET_OUTPUT_SQUEEZE + CX_NET_ERROR_FRAME_MAX)
 * x connections on every loop, whatever the clients do (docs/protocol.md §6):
 *   - the gate (conn_cap): a connection takes a request only while q < --max-output, or, once
 *     less than 56 KiB of the budget is left, q < CX_NET_SQUEEZE_GATE (8 KiB);
 *   - the share (conn_share): its answer is built under a limit, the larger of what is left of
 *     the budget and what takes q up to CX_NET_OUTPUT_SQUEEZE, at most --max-output, at least
 *     an error frame. Past it the answer is dropped and the request gets too_large instead.
 * An answer either keeps Q within the budget or keeps q within the squeeze allowance; an error
 * frame only passes the gate. So clients that never read pin the budget plus about 64 KiB each,
 * and one connection at most 2 x --max-output. Answers of up to 56 KiB are never refused (the
 * gate sees to it); larger ones may be while the budget is nearly taken, and one over
 * --max-output always is. Answers are built in the loop's own buffer
 * (lp->ans) and copied to the connection once accepted, so a refused answer never grows the
 * connection's buffers: the memory an answer takes while it is built is one share per loop.
 */
static void conn_account(cx_conn *c) {
  size_t now = c->closing ? 0 : c->out.len + c->wout.len;
  cx_loop *lp = c->lp;
  __atomic_store_n(&lp->queued, lp->queued - c->acct + now, __ATOMIC_RELAXED); /* read by stats */
  c->acct = now;
}

/* Output a connection may have queued and still take a request (and be read). The squeeze
 * begins when less of the budget is left than an answer that must never be refused needs
 * (CX_NET_OUTPUT_SQUEEZE - CX_NET_SQUEEZE_GATE, 56 KiB): the answer then fits what the budget has
 * left, or, the connection being below the gate, its own allowance. */
static size_t conn_cap(const cx_conn *c) {
  const cx_loop *lp = c->lp;
  size_t cap = lp->srv->o.max_output;
  size_t left = lp->queued < lp->budget ? lp->budget - lp->queued : 0;
  if (left < CX_NET_OUTPUT_SQUEEZE - CX_NET_SQUEEZE_GATE && cap > CX_NET_SQUEEZE_GATE) cap = CX_NET_SQUEEZE_GATE;
  return cap;
}

/* The largest answer (one whole frame) the connection may queue now. */
static size_t conn_share(const cx_conn *c) {
  const cx_loop *lp = c->lp;
  size_t q = c->out.len + c->wout.len;
  size_t left = lp->queued < lp->budget ? lp->budget - lp->queued : 0;
  size_t own = q < CX_NET_OUTPUT_SQUEEZE ? CX_NET_OUTPUT_SQUEEZE - q : 0;
  size_t share = left > own ? left : own;
  if (share > lp->srv->o.max_output) share = lp->srv->o.max_output;
  return share > CX_NET_ERROR_FRAME_MAX ? share : CX_NET_ERROR_FRAME_MAX;
}

/* Queues the answer built in a (one whole frame) on c, or instead, when it went over share,
 * the request's own too_large error frame. Leaves a empty, unlimited and back to its initial
 * size. Returns 0, CX_ETOOLARGE or CX_ENOMEM (what the request is counted as in stats). */
static int conn_queue_answer(cx_conn *c, cx_buf *a, uint64_t id, size_t share) {
  int rc = 0;
  if (a->failed) {
    /* Out of memory, not even an error frame fitted (cx_exec_run): the request has no answer,
     * and answers must keep their order: close after what is queued. */
    cx_buf_clear_failure(a);
    c->close_after_flush = 1;
    rc = CX_ENOMEM;
  } else if (a->over || a->len > share) {
    char m[256];
    snprintf(m, sizeof m, "the answer is over the %zu bytes this connection may queue now "
             "(--max-output %zu, less while the server's output budget is taken): ask for less "
             "(a smaller limit, fewer codes) or read the answers sent", share, c->lp->srv->o.max_output);
    cx_exec_error_frame(&c->out, id, CX_ETOOLARGE, m);
    STAT_ADD(c->lp->too_large, 1);
    rc = CX_ETOOLARGE;
  } else if (out_take(c->lp, &c->out, c->out.len + a->len), cx_buf_append(&c->out, a->p, a->len)) {
    cx_buf_clear_failure(&c->out);
    cx_exec_error_frame(&c->out, id, CX_ENOMEM, "out of memory");
    rc = CX_ENOMEM;
  }
  if (c->out.failed) { /* not even the error frame: close after what is queued (in order) */
    cx_buf_clear_failure(&c->out);
    c->close_after_flush = 1;
  }
  a->len = 0;
  a->over = 0;
  a->limit = 0;
  cx_buf_shrink(a);
  return rc;
}

static void conn_closed_cb(uv_handle_t *h) {
  cx_conn *c = h->data;
  if (--c->handles > 0) return;
  if (!c->job) conn_free(c); /* else the job's completion frees it */
}

static void ready_push(cx_conn *c);
static void conn_update_reading(cx_conn *c);
static void ready_remove(cx_conn *c);
static void flush_remove(cx_conn *c);

static void conn_close(cx_conn *c) {
  if (c->closing) return;
  c->closing = 1;
  ready_remove(c);
  flush_remove(c);
  /* A long job (an aggregate scan) stops early: nobody will read its answer. */
  if (c->job && c->jobp) __atomic_store_n(&c->jobp->cancel, 1, __ATOMIC_RELAXED);
  conn_account(c);
  cx_loop *lp = c->lp;
  if (c->prev) c->prev->next = c->next;
  else lp->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  STAT_ADD(lp->conns_current, (uint64_t)-1);
  slot_release(lp->srv, &c->ip);
  uv_close((uv_handle_t *)&c->tcp, conn_closed_cb);
  uv_close((uv_handle_t *)&c->timer, conn_closed_cb);
  uv_close((uv_handle_t *)&c->ftimer, conn_closed_cb);
}

/* During a stop: close a connection once it has nothing left to do. */
static void conn_maybe_finish(cx_conn *c) {
  if (c->closing) return;
  int idle = !c->job && !c->writing && !c->ready && c->out.len == 0;
  if (idle && (c->lp->stopping || c->close_after_flush || c->eof)) conn_close(c);
}

static void conn_touch(cx_conn *c);

/* Idle: no complete request and no finished write for the timeout. Single bytes do not count:
 * a client dripping one byte a second would otherwise hold its slot for ever (seen: 50 of them
 * keeping every slot of --max-conns 50 --idle-timeout 2 through four timeouts). A connection
 * waiting for its own slow request is not idle; one whose client does not read its answers is
 * (its write never finishes). */
static void idle_cb(uv_timer_t *t) {
  cx_conn *c = t->data;
  if (c->job) {
    conn_touch(c);
    return;
  }
  /* Touched since the timer was armed: the deadline moved; re-arm for what is left of it. */
  uint64_t ms = (uint64_t)c->lp->srv->o.idle_timeout_s * 1000, now = uv_now(&c->lp->loop);
  if (now - c->touched < ms) {
    uv_timer_start(&c->timer, idle_cb, ms - (now - c->touched), 0);
    return;
  }
  STAT_ADD(c->lp->idle_timeouts, 1);
  conn_close(c);
}

/* The deadline is touched + the timeout. Restarting the timer at every request cost a removal
 * and an insertion in the loop's timer heap per request; the timer is armed once and, when it
 * fires, re-armed for what is left since the last touch (idle_cb). */
static void conn_touch(cx_conn *c) {
  unsigned s = c->lp->srv->o.idle_timeout_s;
  if (!s || c->closing) return;
  c->touched = uv_now(&c->lp->loop);
  if (!uv_is_active((uv_handle_t *)&c->timer)) uv_timer_start(&c->timer, idle_cb, (uint64_t)s * 1000, 0);
}

/* Frame deadline: a frame begun must be complete within frame_timeout_s of its first byte
 * (slow senders: half a frame then silence, or one byte at a time). It runs only while the
 * connection is being read with part of a frame in its input: a connection we stopped reading
 * (its output, its slow request, its turn) is not the client's delay, and gets a new deadline
 * when reading resumes. */
static void frame_timeout_cb(uv_timer_t *t) {
  cx_conn *c = t->data;
  c->frame_timing = 0;
  STAT_ADD(c->lp->frame_timeouts, 1);
  conn_close(c);
}

static void conn_frame_timer(cx_conn *c) {
  unsigned s = c->lp->srv->o.frame_timeout_s;
  if (!s || c->closing) return;
  int partial = c->reading && c->in.len > 0; /* read input is complete frames only when not reading */
  if (partial && !c->frame_timing) {
    uv_timer_start(&c->ftimer, frame_timeout_cb, (uint64_t)s * 1000, 0);
    c->frame_timing = 1;
  } else if (!partial && c->frame_timing) {
    uv_timer_stop(&c->ftimer);
    c->frame_timing = 0;
  }
}

static void alloc_cb(uv_handle_t *h, size_t hint, uv_buf_t *buf) {
  (void)hint;
  cx_conn *c = h->data;
  cx_loop *lp = c->lp;
  /* A connection that keeps no input reads into the loop's buffer: its complete frames are
   * answered from there in read_cb, and only what is left (part of a frame, frames waiting
   * for their turn) is copied into a buffer of its own (conn_in_return). So a client asking one
   * thing at a time costs no allocation per read. */
  if (c->in.cap == 0 && !lp->rbuf_lent && lp->rbuf.p) {
    lp->rbuf_lent = 1;
    c->in_lent = 1;
    c->in.p = lp->rbuf.p;
    c->in.len = 0;
    c->in.cap = lp->rbuf.cap;
    *buf = uv_buf_init(c->in.p, (unsigned)c->in.cap);
    return;
  }
  /* Room for the rest of the frame being received when we know its size, else 16 KiB; an
   * unallocated buffer (see conn_new) gets at least CX_NET_IN_INITIAL. */
  size_t want = c->in.cap ? 16384 : CX_NET_IN_INITIAL;
  if (c->in.len >= CX_FRAME_HDR) {
    const unsigned char *p = (const unsigned char *)c->in.p;
    size_t total = ((size_t)p[0] << 24 | (size_t)p[1] << 16 | (size_t)p[2] << 8 | p[3]) + CX_FRAME_HDR;
    if (total <= c->lp->srv->o.max_frame + CX_FRAME_HDR && total > c->in.len && total - c->in.len > want)
      want = total - c->in.len;
  }
  if (c->in.cap - c->in.len < 4096 || c->in.cap - c->in.len < want)
    if (cx_buf_reserve(&c->in, want)) {
      *buf = uv_buf_init(NULL, 0);
      return;
    }
  *buf = uv_buf_init(c->in.p + c->in.len, (unsigned)(c->in.cap - c->in.len));
}

/* The end of read_cb with the loop's buffer lent (alloc_cb): what the connection did not take
 * moves into a buffer of its own (dropped when it is closing), and the loop's is free again. */
static void conn_in_return(cx_conn *c) {
  if (!c->in_lent) return;
  cx_loop *lp = c->lp;
  cx_buf view = c->in;
  c->in_lent = 0;
  lp->rbuf_lent = 0;
  c->in.p = NULL;
  c->in.len = c->in.cap = 0;
  if (view.len && !c->closing && cx_buf_append(&c->in, view.p, view.len)) {
    cx_buf_free(&c->in);
    conn_close(c); /* as a read the allocator could not take */
    return;
  }
  conn_frame_timer(c); /* computed while the lent view held the bytes: the same bytes now */
}

static void read_cb(uv_stream_t *s, ssize_t nread, const uv_buf_t *buf) {
  (void)buf;
  cx_conn *c = s->data;
  if (nread == UV_EOF) {
    c->eof = 1;
    conn_process(c); /* answers the complete frames received, then closes when drained */
  } else if (nread < 0) {
    conn_close(c);
  } else if (nread > 0) {
    c->in.len += (size_t)nread;
    if (c->batch) { /* a pipeliner of long work: its new frames wait for its turn */
      ready_push(c);
      conn_update_reading(c);
    } else {
      conn_process(c);
    }
  }
  conn_in_return(c);
}

static void conn_update_reading(cx_conn *c) {
  if (c->closing) return;
  cx_server *srv = c->lp->srv;
  size_t cap = conn_cap(c);
  int want = !c->job && !c->ready && !c->close_after_flush && !c->lp->stopping && !c->eof &&
             c->out.len + c->wout.len < cap;
  /* Counted once each time the squeeze starts holding the connection (reading may have
   * stopped already for another reason, e.g. its turn). */
  int held = cap < srv->o.max_output && c->out.len + c->wout.len >= cap;
  if (held && !c->squeezed) STAT_ADD(c->lp->squeezed, 1);
  c->squeezed = held;
  if (want && !c->reading) {
    if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, read_cb) == 0) c->reading = 1;
  } else if (!want && c->reading) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->reading = 0;
  }
  conn_frame_timer(c);
}

static void write_cb(uv_write_t *w, int status) {
  cx_conn *c = w->data;
  c->writing = 0;
  c->wout.len = 0;
  out_give(c->lp, &c->wout); /* see conn_new: buffers hold memory only while they hold bytes */
  conn_account(c);
  if (c->closing) return;
  if (status < 0) {
    conn_close(c);
    return;
  }
  conn_touch(c);
  if (c->out.len) {
    conn_flush(c);
  } else {
    /* Output drained: the frames that waited for room get their turn. Not here: libuv 1.44 runs
     * write callbacks up to 9 times per loop iteration, without polling in between, and a
     * write that completes at once calls back at the next of those rounds, so handling frames
     * here would give this connection 9 slices for the others' one. */
    ready_push(c);
  }
  conn_maybe_finish(c);
}

static void conn_flush(cx_conn *c) {
  if (c->writing || c->closing || c->out.len == 0) return;
  /* A small output (the usual answer) is written at once when the socket has room: no write
   * request, no callback in a later round. What it did not take, and a large output, go through
   * uv_write as before (which also writes at once, but counts the whole output as queued until
   * it is all written: the output budget of heavy answers is measured that way). */
  int n = UV_EAGAIN;
  if (c->out.len <= CX_NET_OUT_INITIAL) {
    uv_buf_t b0 = uv_buf_init(c->out.p, (unsigned)c->out.len);
    n = uv_try_write((uv_stream_t *)&c->tcp, &b0, 1);
  }
  if (n < 0 && n != UV_EAGAIN) {
    conn_close(c);
    return;
  }
  if (n > 0 && (size_t)n == c->out.len) {
    c->out.len = 0;
    out_give(c->lp, &c->out);
    conn_account(c);
    conn_touch(c);
    /* A complete frame that waited for room (write_cb's rule) gets its turn. */
    if (c->in.len >= CX_FRAME_HDR) {
      const unsigned char *h = (const unsigned char *)c->in.p;
      size_t total = ((size_t)h[0] << 24 | (size_t)h[1] << 16 | (size_t)h[2] << 8 | h[3]) + CX_FRAME_HDR;
      if (total <= c->in.len) ready_push(c);
    }
    return;
  }
  if (n > 0) {
    memmove(c->out.p, c->out.p + n, c->out.len - (size_t)n);
    c->out.len -= (size_t)n;
  }
  cx_buf t = c->wout;
  c->wout = c->out;
  c->out = t;
  c->out.len = 0;
  out_give(c->lp, &c->out);
  uv_buf_t b = uv_buf_init(c->wout.p, (unsigned)c->wout.len);
  c->wreq.data = c;
  if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, write_cb) != 0) {
    conn_close(c);
    return;
  }
  c->writing = 1;
}

/* ---- stats of one request (loop thread) ---- */

/*
 * The request log (--request-log): one logfmt line per sampled answer, written with one
 * write() to a file opened O_APPEND (lines of several loops do not interleave). Fields: ts,
 * door, op, role, who (the token's name, never the token), peer, us, outcome (ok or the error
 * code), rid (HTTP). No request field is logged, so no entity code or ID number either.
 */
static void reqlog(cx_loop *lp, const char *door, int op, int rc, uint64_t t0, int role,
                   const cx_tokens *tk, int token, const char *peer, const char *rid) {
  cx_server *s = lp->srv;
  if (s->reqlog_fd < 0) return;
  double rate = s->o.request_log_rate > 0 && s->o.request_log_rate <= 1 ? s->o.request_log_rate : 1;
  lp->reqlog_acc += rate;
  if (lp->reqlog_acc < 1) return;
  lp->reqlog_acc -= 1;
  char who[CX_TOKEN_NAME_MAX * 2 + 8], wb[32];
  const char *w = tk && token >= 0 ? cx__audit_who(tk, token, wb, sizeof wb) : "";
  size_t k = 0;
  for (; *w && k + 2 < sizeof who; w++) { /* quoted: a name may hold blanks */
    if (*w == '"' || *w == '\\') who[k++] = '\\';
    who[k++] = *w;
  }
  who[k] = 0;
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  char line[512];
  int n = snprintf(line, sizeof line,
                   "ts=%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ door=%s op=%s role=%s who=\"%s\" peer=%s us=%llu "
                   "outcome=%s%s%s\n",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                   ts.tv_nsec / 1000000, door, op >= 0 && op < CX_OP_COUNT ? cx_op_names[op] : "invalid",
                   role >= 0 && role < CX_ROLE_COUNT ? cx_role_names[role] : "?", who, peer && *peer ? peer : "-",
                   (unsigned long long)((uv_hrtime() - t0) / 1000), rc ? cx_err_name(rc) : "ok",
                   rid ? " rid=" : "", rid ? rid : "");
  if (n > 0) {
    ssize_t wr = write(s->reqlog_fd, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
    (void)wr;
  }
}

static void account(cx_loop *lp, int op, int rc, uint64_t t0) {
  uint64_t dt = uv_hrtime() - t0;
  cx_op_stats *s = &lp->ops[op];
  STAT_ADD(s->requests, 1);
  if (rc) STAT_ADD(s->errors, 1);
  cx_hist_add(&s->lat, dt);
  if (dt > (uint64_t)lp->srv->o.slow_ms * 1000000u)
    cx_net_log("slow request: op=%s %.1f ms%s", op < CX_OP_COUNT ? cx_op_names[op] : "(invalid)",
               (double)dt / 1e6, rc ? " (error)" : "");
}

/* ---- slow requests on the thread pool ---- */

static cx_txn *pool_txn_get(cx_server *s, int *err) {
  cx_txn *t = NULL;
  uv_mutex_lock(&s->txn_mu);
  if (s->n_txn_pool) t = s->txn_pool[--s->n_txn_pool];
  uv_mutex_unlock(&s->txn_mu);
  if (t) {
    *err = cx_store_txn_renew(t);
    if (*err) {
      cx_store_txn_end(t);
      return NULL;
    }
    return t;
  }
  *err = cx_store_txn_begin(s->st, &t);
  return *err ? NULL : t;
}

static void pool_txn_put(cx_server *s, cx_txn *t, int live) {
  if (live) cx_store_txn_reset(t);
  uv_mutex_lock(&s->txn_mu);
  if (s->n_txn_pool < CX_TXN_POOL) {
    s->txn_pool[s->n_txn_pool++] = t;
    t = NULL;
  }
  uv_mutex_unlock(&s->txn_mu);
  if (t) cx_store_txn_end(t);
}

static void job_work(uv_work_t *w) {
  cx_job *j = w->data;
  cx_req rq;
  char msg[256];
  int rc = cx_exec_decode(&rq, j->payload, j->plen, msg, sizeof msg);
  if (rc) { /* decoded once on the loop already */
    cx_exec_error_frame(&j->out, j->id, rc, msg);
    j->rc = rc;
    return;
  }
  /* min_seq: wait here (bounded), before any snapshot is taken; the executor then checks */
  uint64_t ms = cx_req_min_seq(&rq);
  if (ms && j->srv->env.at_seq) j->srv->env.at_seq(j->srv->env.ud, ms, CX_NET_MIN_SEQ_WAIT_MS, NULL);
  if (j->wait_only) {
    j->rc = 0;
    return;
  }
  cx_buf details;
  cx_buf_init(&details, 0);
  cx_exec_ctx *x = cx_calloc(1, sizeof *x);
  if (!x) {
    cx_exec_error_frame(&j->out, j->id, CX_ENOMEM, "out of memory");
    j->rc = CX_ENOMEM;
    cx_buf_free(&details);
    return;
  }
  int live = 0;
  int terr = 0;
  cx_txn *t = NULL;
  if (cx_op_reads_snapshot(rq.op)) {
    t = pool_txn_get(j->srv, &terr);
    if (!t) {
      char m[96];
      snprintf(m, sizeof m, "cannot open a read snapshot: %s", cx_strerror(terr));
      cx_exec_error_frame(&j->out, j->id, terr, m);
      j->rc = terr;
      free(x);
      cx_buf_free(&details);
      return;
    }
    live = 1;
  }
  x->env = &j->srv->env;
  x->q = j->q;
  x->tokens = j->tokens;
  x->txn = t;
  x->txn_live = &live;
  x->role = j->role;
  x->token = j->token;
  x->peer = j->peer;
  x->cancel = &j->cancel;
  x->out = &j->out;
  x->details = &details;
  j->rc = cx_exec_run(x, &rq);
  if (t) pool_txn_put(j->srv, t, live);
  free(x);
  cx_buf_free(&details);
}

static void run_on_loop(cx_conn *c, const cx_req *rq, uint64_t t0);

static void job_done(uv_work_t *w, int status) {
  (void)status;
  cx_job *j = w->data;
  cx_conn *c = j->conn;
  cx_loop *lp = c->lp;
  c->job = 0;
  c->jobp = NULL;
  if (c->closing) {
    account(lp, j->op, j->rc, j->t0);
    if (c->handles == 0) conn_free(c);
  } else if (j->wait_only) { /* waited for min_seq: the op runs here, on its loop */
    cx_req rq;
    char msg[256];
    int rc = cx_exec_decode(&rq, j->payload, j->plen, msg, sizeof msg);
    if (rc) cx_exec_error_frame(&c->out, rq.id, rc, msg);
    else run_on_loop(c, &rq, j->t0);
    conn_flush(c);
    ready_push(c);
  } else {
    int qrc = conn_queue_answer(c, &j->out, j->id, conn_share(c));
    account(lp, j->op, qrc ? qrc : j->rc, j->t0);
    reqlog(lp, "msgpack", j->op, qrc ? qrc : j->rc, j->t0, j->role, j->tokens, j->token, j->peer, NULL);
    conn_flush(c);
    ready_push(c); /* the frames after the slow request, in the connection's turn */
  }
  cx_buf_free(&j->out);
  free(j->payload);
  free(j);
}

static int start_job(cx_conn *c, const cx_req *rq, uint64_t t0, int wait_only) {
  cx_job *j = cx_calloc(1, sizeof *j);
  if (!j) return CX_ENOMEM;
  j->payload = cx_malloc(rq->plen);
  if (!j->payload || cx_buf_init(&j->out, 256)) {
    free(j->payload);
    free(j);
    return CX_ENOMEM;
  }
  /* The most any answer may be (the share is decided on the loop when it is done). */
  j->out.limit = c->lp->srv->o.max_output;
  memcpy(j->payload, rq->payload, rq->plen);
  j->plen = rq->plen;
  j->conn = c;
  j->srv = c->lp->srv;
  j->role = c->role;
  j->token = c->token;
  j->tokens = c->tokens;
  j->q = __atomic_load_n(&c->lp->srv->q, __ATOMIC_ACQUIRE);
  memcpy(j->peer, c->peer, sizeof j->peer);
  j->op = rq->op;
  j->id = rq->id;
  j->t0 = t0;
  j->wait_only = wait_only;
  j->work.data = j;
  if (uv_queue_work(&c->lp->loop, &j->work, job_work, job_done) != 0) {
    cx_buf_free(&j->out);
    free(j->payload);
    free(j);
    return CX_EINTERNAL;
  }
  c->job = 1;
  c->jobp = j;
  return 0;
}

/* ---- one request on the loop ---- */

static int conn_retoken(cx_conn *c, const cx_tokens *now);
static void loop_catch_up(cx_loop *lp);

static void handle_frame(cx_conn *c, const unsigned char *p, size_t n) {
  cx_loop *lp = c->lp;
  uint64_t t0 = uv_hrtime();
  cx_req rq;
  char msg[256];
  int rc = cx_exec_decode(&rq, p, n, msg, sizeof msg);
  if (rc) {
    cx_exec_error_frame(&c->out, rq.id, rc, msg);
    account(lp, rq.op, rc, t0);
    return;
  }
  loop_catch_up(lp);
  if (c->token >= 0 && c->tokens) { /* a reload since the last request: this table now */
    const cx_tokens *now = __atomic_load_n(&lp->srv->env.tokens, __ATOMIC_ACQUIRE);
    if (c->tokens != now) conn_retoken(c, now);
  }
  int slow = cx_op_is_slow(rq.op), allowed = cx_op_allowed(c->role, rq.op);
  /* a read with a min_seq this node has not applied: it waits on the pool, never here */
  int pending = allowed && !slow && cx_exec_seq_pending(&lp->srv->env, &rq);
  if ((slow && allowed) || pending) {
    if ((rc = start_job(c, &rq, t0, pending)) != 0) {
      cx_exec_error_frame(&c->out, rq.id, rc, "cannot queue the request");
      account(lp, rq.op, rc, t0);
    }
    return;
  }
  run_on_loop(c, &rq, t0);
}

/* A fast op on the connection's loop: its snapshot, hit array and audit ring. */
static void run_on_loop(cx_conn *c, const cx_req *rq, uint64_t t0) {
  cx_loop *lp = c->lp;
  int rc;
  cx_exec_ctx x;
  x.env = &lp->srv->env;
  x.who = NULL;
  x.q = lp->q;
  x.txn = lp->txn;
  x.txn_live = &lp->txn_live;
  x.hits = lp->hits;
  x.hits_cap = (uint32_t)(sizeof lp->hits / sizeof lp->hits[0]);
  x.role = c->role;
  x.token = c->token;
  x.tokens = c->tokens;
  size_t share = conn_share(c);
  lp->ans.limit = share;
  x.out = &lp->ans;
  x.details = NULL;
  x.n_details = 0;
  x.audq = lp->audq;
  x.peer = c->peer;
  x.cancel = NULL;
  rc = cx_exec_run(&x, rq);
  int qrc = conn_queue_answer(c, &lp->ans, rq->id, share);
  if (qrc) rc = qrc;
  c->role = x.role;
  c->token = x.token;
  c->tokens = x.tokens;
  if (rq->op == CX_OP_AUTH && rc == CX_EFORBIDDEN && ++c->auth_failures >= CX_MAX_AUTH_FAILURES)
    c->close_after_flush = 1;
  account(lp, rq->op, rc, t0);
  reqlog(lp, "msgpack", rq->op, rc, t0, c->role, c->tokens, c->token, c->peer, NULL);
}

/* ---- turns: fairness between the connections of a loop ---- */

/*
 * A read may bring hundreds of pipelined frames, and each may be a heavy request. Handling all
 * of them before the loop polls again would make every other connection of the loop wait for
 * the lot (seen: a ping behind 400 records scans). So one call of conn_process handles at most
 * CX_NET_SLICE_FRAMES frames or CX_NET_SLICE_US of them (at least one), then puts the
 * connection on the loop's ready list and stops reading it (its input stays bounded). turn_cb,
 * an idle handle (which also makes the loop's poll not wait), gives the waiting connections a
 * slice each in order, until one slice's time is spent; then the loop polls, so connections
 * with new input are read before the next round. A connection whose last slice ran out is a
 * batch one: new input read for it waits for its turn too, instead of getting a slice in the
 * poll phase. So each loop iteration runs about one slice of batch work, and a client asking
 * one thing at a time waits for about one slice, not one per pipeliner of its loop.
 */
static void turn_cb(uv_idle_t *h);

static void ready_push(cx_conn *c) {
  if (c->ready || c->closing) return;
  cx_loop *lp = c->lp;
  c->ready = 1;
  c->rnext = NULL;
  c->rprev = lp->ready_tail;
  if (lp->ready_tail) lp->ready_tail->rnext = c;
  else lp->ready_head = c;
  lp->ready_tail = c;
  if (!uv_is_active((uv_handle_t *)&lp->turn)) uv_idle_start(&lp->turn, turn_cb);
}

static void ready_remove(cx_conn *c) {
  if (!c->ready) return;
  cx_loop *lp = c->lp;
  if (c->rprev) c->rprev->rnext = c->rnext;
  else lp->ready_head = c->rnext;
  if (c->rnext) c->rnext->rprev = c->rprev;
  else lp->ready_tail = c->rprev;
  c->rprev = c->rnext = NULL;
  c->ready = 0;
}

/*
 * The loop's read snapshot (lp->txn) is taken by the first request of an iteration that needs
 * one and serves every connection of that iteration; it ends here, before the loop polls. No
 * request read by a poll sees a snapshot older than that poll, so a client that sent its
 * request after another's write was answered still reads that write; and no snapshot is held
 * while the loop waits. A job's completion (a write on the pool, a min_seq wait) reaches the
 * loop only through a poll that returned after the job's commit (the pool's async handle), and
 * that poll came after this reset: the op run then, and the frames the client pipelined after
 * the write, read a snapshot that holds it (tests/e2e/test_snapshot.c). (Ending the snapshot
 * after each connection's slice cost a reset and a renew per request at depth 1.)
 */
static void settle_cb(uv_prepare_t *h) {
  cx_loop *lp = h->data;
  lp->polling = 1; /* the poll is next: answers wait for flush_cb (flush_later) */
  if (lp->txn_live) {
    cx_store_txn_reset(lp->txn);
    lp->txn_live = 0;
  }
}

static void turn_cb(uv_idle_t *h) {
  cx_loop *lp = h->data;
  uint64_t t0 = uv_hrtime();
  cx_conn *last = lp->ready_tail; /* one round: a connection put back waits for the next */
  while (lp->ready_head) {
    cx_conn *c = lp->ready_head;
    conn_process(c); /* takes it off the list; puts it back at the end if frames remain */
    if (c == last || uv_hrtime() - t0 >= (uint64_t)CX_NET_SLICE_US * 1000u) break;
  }
  if (!lp->ready_head) uv_idle_stop(h);
}

/*
 * Writes per loop iteration: conn_process queues its answers and puts the connection on the
 * flush list; flush_cb, a check handle (right after the poll phase, whose read callbacks are
 * where conn_process runs), writes each listed connection's output, one write per connection.
 * So the loop reads and answers every connection the poll returned before it writes to any,
 * as redis does (its replies go out in beforeSleep): a write to loopback wakes the client, and
 * interleaving one wake-up per answer with the reads cost a context switch in about every
 * other write at depth 1 (finish_task_switch was a fifth of the server's samples). The output
 * waiting there is counted as queued (conn_account), as before; a connection closed meanwhile
 * leaves the list (conn_close). Answers made outside the poll phase (a turn of the ready list,
 * a job's completion) are written at once, as before: the poll that follows may block, and
 * flush_cb only runs after it.
 */
static void flush_later(cx_conn *c) {
  if (c->flushq || c->closing || c->writing || c->out.len == 0) return;
  cx_loop *lp = c->lp;
  if (!lp->polling) {
    conn_flush(c);
    return;
  }
  c->flushq = 1;
  c->fnext = NULL;
  c->fprev = lp->flush_tail;
  if (lp->flush_tail) lp->flush_tail->fnext = c;
  else lp->flush_head = c;
  lp->flush_tail = c;
}

static void flush_remove(cx_conn *c) {
  if (!c->flushq) return;
  cx_loop *lp = c->lp;
  if (c->fprev) c->fprev->fnext = c->fnext;
  else lp->flush_head = c->fnext;
  if (c->fnext) c->fnext->fprev = c->fprev;
  else lp->flush_tail = c->fprev;
  c->fprev = c->fnext = NULL;
  c->flushq = 0;
}

static void flush_cb(uv_check_t *h) {
  cx_loop *lp = h->data;
  lp->polling = 0;
  while (lp->flush_head) {
    cx_conn *c = lp->flush_head;
    flush_remove(c);
    conn_flush(c);
    conn_update_reading(c);
    conn_maybe_finish(c);
  }
}

/* Takes the complete frames it may (not past a slow request, not past the output cap, not past
 * its slice: then the rest waits for its turn). */
static void conn_process(cx_conn *c) {
  if (c->closing) return;
  ready_remove(c);
  cx_loop *lp = c->lp;
  cx_server *srv = lp->srv;
  size_t off = 0;
  unsigned frames = 0;
  int more = 0;
  uint64_t t0 = uv_hrtime();
  while (!c->job && !c->close_after_flush && c->out.len + c->wout.len < conn_cap(c)) {
    const unsigned char *payload;
    size_t plen, need;
    long got = cx_frame_parse(c->in.p + off, c->in.len - off, srv->o.max_frame, &payload, &plen, &need);
    if (got == CX_EAGAIN) break;
    if (got < 0) {
      char m[128];
      if (got == CX_ETOOLARGE) {
        const unsigned char *h = (const unsigned char *)c->in.p + off;
        snprintf(m, sizeof m, "frame of %u bytes is over the limit of %zu bytes",
                 (unsigned)h[0] << 24 | (unsigned)h[1] << 16 | (unsigned)h[2] << 8 | h[3],
                 srv->o.max_frame);
      } else {
        snprintf(m, sizeof m, "empty frame");
      }
      cx_exec_error_frame(&c->out, 0, (int)got, m);
      account(lp, CX_OP_INVALID, (int)got, uv_hrtime());
      c->close_after_flush = 1;
      off = c->in.len; /* what follows cannot be framed */
      break;
    }
    if (frames &&
        (frames >= CX_NET_SLICE_FRAMES || uv_hrtime() - t0 >= (uint64_t)CX_NET_SLICE_US * 1000u)) {
      more = 1; /* a complete frame, but this connection's slice is spent */
      break;
    }
    handle_frame(c, payload, plen);
    frames++;
    off += (size_t)got;
    conn_account(c);
  }
  conn_account(c);
  c->batch = more;
  if (more) ready_push(c);
  if (off) {
    memmove(c->in.p, c->in.p + off, c->in.len - off);
    c->in.len -= off;
    if (c->in_lent) { /* the loop's buffer: conn_in_return settles it */
    } else if (c->in.len) {
      cx_buf_shrink(&c->in);
    } else {
      cx_buf_free(&c->in);
    }
    if (c->frame_timing) { /* what is left began after the frames taken: its own deadline */
      uv_timer_stop(&c->ftimer);
      c->frame_timing = 0;
    }
  }
  if (frames) conn_touch(c); /* complete requests are what keeps a connection from idling */
  conn_account_spills(c);
  flush_later(c);
  conn_update_reading(c);
  conn_maybe_finish(c);
}

/* "ip:port" or "[ip6]:port" of the client (audit log); "" when unknown. */
static void peer_name(int fd, char *out, size_t cap) {
  struct sockaddr_storage ss;
  socklen_t sl = sizeof ss;
  char ip[INET6_ADDRSTRLEN];
  out[0] = 0;
  if (getpeername(fd, (struct sockaddr *)&ss, &sl) != 0) return;
  if (ss.ss_family == AF_INET) {
    const struct sockaddr_in *a = (const struct sockaddr_in *)&ss;
    if (inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip)) snprintf(out, cap, "%s:%u", ip, ntohs(a->sin_port));
  } else if (ss.ss_family == AF_INET6) {
    const struct sockaddr_in6 *a = (const struct sockaddr_in6 *)&ss;
    if (inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip)) snprintf(out, cap, "[%s]:%u", ip, ntohs(a->sin6_port));
  }
}

static void conn_new(cx_loop *lp, const cx_pend *pd) {
  int fd = pd->fd;
  cx_conn *c = cx_calloc(1, sizeof *c);
  if (!c) goto fail;
  c->ip = pd->ip;
  /* The three buffers take memory only while they hold bytes: allocated by the first read or
   * answer (CX_NET_IN_INITIAL / CX_NET_OUT_INITIAL or what it needs), freed once emptied. Kept
   * between requests, their touched pages stayed with each connection: 200 clients that had
   * each been sent 300 KB held 42 MB after reading it all, against ~0 queued. Freed, the pages
   * go back to the allocator and serve the next connection that needs them. Costs a malloc and
   * a free of each per read and per write (~100 ns, against ~10 us a request). */
  cx_buf_init(&c->in, 0);
  cx_buf_init(&c->out, 0);
  cx_buf_init(&c->wout, 0);
  c->in.initial = CX_NET_IN_INITIAL; /* growth past these counts as a spill, as before */
  c->out.initial = c->wout.initial = CX_NET_OUT_INITIAL;
  c->lp = lp;
  c->role = CX_ROLE_PUBLIC;
  c->token = -1;
  c->tokens = NULL;
  uv_tcp_init(&lp->loop, &c->tcp);
  c->tcp.data = c;
  c->handles = 1;
  if (uv_tcp_open(&c->tcp, fd) != 0) {
    close(fd);
    c->closing = 1;
    uv_close((uv_handle_t *)&c->tcp, conn_closed_cb); /* frees c */
    slot_release(lp->srv, &pd->ip);
    return;
  }
  uv_timer_init(&lp->loop, &c->timer);
  c->timer.data = c;
  uv_timer_init(&lp->loop, &c->ftimer);
  c->ftimer.data = c;
  c->handles = 3;
  peer_name(fd, c->peer, sizeof c->peer);
  uv_tcp_nodelay(&c->tcp, 1);
  c->next = lp->conns;
  if (lp->conns) lp->conns->prev = c;
  lp->conns = c;
  STAT_ADD(lp->conns_current, 1);
  STAT_ADD(lp->conns_total, 1);
  conn_touch(c);
  conn_update_reading(c);
  return;
fail:
  if (c) {
    cx_buf_free(&c->in);
    cx_buf_free(&c->out);
    cx_buf_free(&c->wout);
    free(c);
  }
  close(fd);
  slot_release(lp->srv, &pd->ip);
}

/* ===================================================================== worker loops */

static void stop_timer_cb(uv_timer_t *t) {
  cx_loop *lp = t->data;
  for (cx_conn *c = lp->conns, *n; c; c = n) {
    n = c->next;
    conn_close(c);
  }
}

static void loop_begin_stop(cx_loop *lp) {
  if (lp->stopping) return;
  lp->stopping = 1;
  for (cx_conn *c = lp->conns, *n; c; c = n) {
    n = c->next;
    conn_update_reading(c);
    conn_maybe_finish(c);
  }
  uv_close((uv_handle_t *)&lp->async, NULL);
  if (lp->http) cx__http_loop_shutdown(lp->http);
  /* Connections still busy (a slow job, a client not reading) get a grace period; the timer
   * is unref'd so an idle loop exits at once. */
  uv_timer_start(&lp->stop_timer, stop_timer_cb, CX_STOP_GRACE_MS, 0);
  uv_unref((uv_handle_t *)&lp->stop_timer);
}

/*
 * After a reload (SIGHUP) published another token table: each authenticated connection of
 * the loop keeps its session when its token is still in the file (its index and role are
 * the new table's: roles may have changed), and falls back to the public role when it is not
 * (a removed token ends what it could do at once, without dropping the connection). Loop
 * thread; the old tables stay valid (retired) for requests already on the thread pool.
 */
/* One connection to the token table `now`: 1 kept (same token, maybe another role), 0 dropped
 * (public). Also called before each request (handle_frame), so no request runs with a table
 * older than the last reload, whatever the order of the loop's events. */
static int conn_retoken(cx_conn *c, const cx_tokens *now) {
  const cx_token *old = (uint32_t)c->token < c->tokens->n ? &c->tokens->v[c->token] : NULL;
  int k = old && now ? cx_tokens_find(now, (cx_str){old->token, old->len}) : CX_ENOTFOUND;
  if (k >= 0) {
    c->token = k;
    c->role = now->v[k].role;
    c->tokens = now;
    return 1;
  }
  c->token = -1;
  c->role = CX_ROLE_PUBLIC;
  c->tokens = NULL;
  return 0;
}

static void loop_remap(cx_loop *lp) {
  const cx_tokens *now = __atomic_load_n(&lp->srv->env.tokens, __ATOMIC_ACQUIRE);
  unsigned kept = 0, dropped = 0;
  for (cx_conn *c = lp->conns; c; c = c->next) {
    if (c->token < 0 || !c->tokens || c->tokens == now) continue;
    if (conn_retoken(c, now)) kept++;
    else dropped++;
  }
  if (dropped)
    cx_net_log("reload: loop %d: %u connection%s of removed tokens now public, %u kept", lp->idx, dropped,
               dropped == 1 ? "" : "s", kept);
}

/*
 * A reload (or a data file load) publishes another query context (srv->q) and then tells the
 * loops; a request read in the same poll as that message could run before it. Each request
 * first compares srv->q with the one this loop last caught up with and reads the data files
 * again when they differ, so no request runs with a catalogue older than the last reload that
 * logged, whatever the order of the loop's events (as conn_retoken does for tokens).
 */
static void loop_catch_up(cx_loop *lp) {
  const cx_query *now = __atomic_load_n(&lp->srv->q, __ATOMIC_ACQUIRE);
  if (now == lp->q_of) return;
  lp->q_of = now;
  if (cx_query_reload(lp->q) != 0)
    cx_net_log("reload: loop %d: the catalogue could not be read again: keeping the old one", lp->idx);
}

static void http_catch_up(void *ud, void *loop_ud) {
  (void)ud;
  loop_catch_up(loop_ud);
}

static void async_cb(uv_async_t *a) {
  cx_loop *lp = a->data;
  cx_pend fds[256];
  for (;;) {
    uint32_t n = 0;
    int stop, remap, requery;
    uv_mutex_lock(&lp->mu);
    while (n < 256 && lp->npend) fds[n++] = lp->pend[--lp->npend];
    stop = lp->stop_req;
    remap = lp->remap_req;
    requery = lp->requery_req;
    lp->remap_req = lp->requery_req = 0;
    uv_mutex_unlock(&lp->mu);
    if (remap) loop_remap(lp);
    if (requery) loop_catch_up(lp);
    for (uint32_t i = 0; i < n; i++) {
      if (stop) {
        close(fds[i].fd);
        slot_release(lp->srv, &fds[i].ip);
      } else if (fds[i].http) {
        if (!lp->http || cx__http_accept(lp->http, fds[i].fd, fds[i].ip.a) != 0) {
          if (!lp->http) close(fds[i].fd);
          slot_release(lp->srv, &fds[i].ip);
        }
      } else {
        conn_new(lp, &fds[i]);
      }
    }
    if (stop) {
      loop_begin_stop(lp);
      return;
    }
    if (n < 256) return;
  }
}

static void loop_thread(void *arg) {
  cx_loop *lp = arg;
  uv_run(&lp->loop, UV_RUN_DEFAULT);
  /* The HTTP connections are gone too: h2o's context closes its own handles. */
  cx__http_loop_free(lp->http);
  lp->http = NULL;
  /* Stopped: every connection is closed; close the stop timer and drain the close callbacks. */
  if (!uv_is_closing((uv_handle_t *)&lp->stop_timer)) uv_close((uv_handle_t *)&lp->stop_timer, NULL);
  if (!uv_is_closing((uv_handle_t *)&lp->turn)) uv_close((uv_handle_t *)&lp->turn, NULL);
  if (!uv_is_closing((uv_handle_t *)&lp->settle)) uv_close((uv_handle_t *)&lp->settle, NULL);
  if (!uv_is_closing((uv_handle_t *)&lp->wflush)) uv_close((uv_handle_t *)&lp->wflush, NULL);
  uv_run(&lp->loop, UV_RUN_DEFAULT);
}

static void unref_foreign(uv_handle_t *h, void *arg) {
  cx_loop *lp = arg;
  if (h != (uv_handle_t *)&lp->async && h != (uv_handle_t *)&lp->stop_timer && h != (uv_handle_t *)&lp->turn &&
      h != (uv_handle_t *)&lp->settle && h != (uv_handle_t *)&lp->wflush)
    uv_unref(h);
}

static int loop_init(cx_server *s, cx_loop *lp, int idx) {
  lp->srv = s;
  lp->idx = idx;
  lp->budget = s->o.max_output_total / s->nloops;
  if (cx_buf_init(&lp->ans, CX_NET_OUT_INITIAL)) return CX_ENOMEM;
  if (cx_buf_init(&lp->rbuf, CX_NET_IN_INITIAL)) return CX_ENOMEM;
  int rc = uv_loop_init(&lp->loop);
  if (rc) return CX_EINTERNAL;
  uv_mutex_init(&lp->mu);
  uv_async_init(&lp->loop, &lp->async, async_cb);
  lp->async.data = lp;
  uv_timer_init(&lp->loop, &lp->stop_timer);
  lp->stop_timer.data = lp;
  uv_idle_init(&lp->loop, &lp->turn);
  lp->turn.data = lp;
  uv_prepare_init(&lp->loop, &lp->settle);
  lp->settle.data = lp;
  uv_prepare_start(&lp->settle, settle_cb);
  uv_unref((uv_handle_t *)&lp->settle); /* never what keeps the loop running */
  uv_check_init(&lp->loop, &lp->wflush);
  lp->wflush.data = lp;
  uv_check_start(&lp->wflush, flush_cb);
  uv_unref((uv_handle_t *)&lp->wflush);
  if ((rc = cx_store_txn_begin(s->st, &lp->txn))) return rc;
  cx_store_txn_reset(lp->txn);
  lp->q_of = s->q; /* set before the loops start (cx_server_new): what lp->q is read beside */
  if ((rc = cx_query_new(s->st, &lp->q))) return rc;
  lp->audq = cx__auditor_queue(s->audit, (unsigned)idx);
  if (s->http) {
    if ((rc = cx__http_loop_new(s->http, &lp->loop, lp, idx, &lp->http))) return rc;
    cx__http_loop_bind(lp->http, lp->q, lp->txn, &lp->txn_live, lp->hits,
                       (uint32_t)(sizeof lp->hits / sizeof lp->hits[0]), lp->audq);
    /* h2o's context holds an async handle and timers of its own: they must not keep the loop
     * running once every connection is closed (the stop ends the loop by running out of
     * handles), so only ours count. */
    uv_walk(&lp->loop, unref_foreign, lp);
  }
  return 0;
}

static void loop_fini(cx_loop *lp) {
  cx__http_loop_free(lp->http); /* a loop whose thread never ran */
  lp->http = NULL;
  if (lp->txn) cx_store_txn_end(lp->txn);
  if (lp->q) cx_query_free(lp->q);
  /* handles were closed by the stop; if the loop never ran, close them here */
  if (!uv_is_closing((uv_handle_t *)&lp->async)) uv_close((uv_handle_t *)&lp->async, NULL);
  if (!uv_is_closing((uv_handle_t *)&lp->stop_timer)) uv_close((uv_handle_t *)&lp->stop_timer, NULL);
  if (!uv_is_closing((uv_handle_t *)&lp->turn)) uv_close((uv_handle_t *)&lp->turn, NULL);
  if (!uv_is_closing((uv_handle_t *)&lp->settle)) uv_close((uv_handle_t *)&lp->settle, NULL);
  if (!uv_is_closing((uv_handle_t *)&lp->wflush)) uv_close((uv_handle_t *)&lp->wflush, NULL);
  uv_run(&lp->loop, UV_RUN_DEFAULT);
  uv_loop_close(&lp->loop);
  uv_mutex_destroy(&lp->mu);
  free(lp->pend);
  cx_buf_free(&lp->ans);
  cx_buf_free(&lp->rbuf);
  while (lp->n_ocache) free(lp->ocache[--lp->n_ocache]);
}

/* ===================================================================== acceptor */

/* One busy error frame (id 0), then the close: the client learns why. */
static void reject_busy(int fd, const char *why) {
  cx_buf b;
  if (cx_buf_init(&b, 256) == 0) {
    cx_exec_error_frame(&b, 0, CX_EBUSY, why);
    ssize_t k = send(fd, b.p, b.len, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)k;
    cx_buf_free(&b);
  }
  close(fd);
}

static void handoff(cx_server *s, int fd, const cx_ipkey *ip, int http) {
  cx_loop *lp = &s->loops[s->next_loop++ % s->nloops];
  uv_mutex_lock(&lp->mu);
  if (lp->npend == lp->cappend) {
    uint32_t nc = lp->cappend ? lp->cappend * 2 : 64;
    cx_pend *p = cx_realloc(lp->pend, nc * sizeof *p);
    if (!p) {
      uv_mutex_unlock(&lp->mu);
      close(fd);
      slot_release(s, ip);
      return;
    }
    lp->pend = p;
    lp->cappend = nc;
  }
  lp->pend[lp->npend++] = (cx_pend){fd, *ip, http};
  uv_mutex_unlock(&lp->mu);
  uv_async_send(&lp->async);
}

static void accept_cb(uv_poll_t *p, int status, int events);

static void haccept_cb(uv_poll_t *p, int status, int events);

static void accept_resume_cb(uv_timer_t *t) {
  cx_server *s = t->data;
  if (s->stopping) return;
  uv_poll_start(&s->poll, UV_READABLE, accept_cb);
  if (s->http) uv_poll_start(&s->hpoll, UV_READABLE, haccept_cb);
}

/* The refusal an HTTP client understands (the msgpack door sends an error frame). */
static void reject_busy_http(int fd, const char *why) {
  char body[256], b[512];
  int m = snprintf(body, sizeof body, "{\"error\":{\"code\":\"busy\",\"message\":\"%s\"}}", why);
  int n = snprintf(b, sizeof b,
                   "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\nRetry-After: 1\r\n"
                   "Connection: close\r\nContent-Length: %d\r\n\r\n%s", m, body);
  if (m > 0 && (size_t)m < sizeof body && n > 0 && (size_t)n < sizeof b) {
    ssize_t k = send(fd, b, (size_t)n, MSG_NOSIGNAL | MSG_DONTWAIT);
    (void)k;
  }
  close(fd);
}

static void accept_on(cx_server *s, int lfd, int http) {
  for (int i = 0; i < CX_ACCEPT_PER_TICK; i++) {
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    memset(&ss, 0, sizeof ss);
    int fd = accept4(lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR) continue;
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        /* The listening socket stays readable: without a pause this would spin. */
        if (!s->emfile_logged++) cx_net_log("accept failed: %s (pausing accepts)", strerror(errno));
        uv_poll_stop(&s->poll);
        if (s->http) uv_poll_stop(&s->hpoll);
        uv_timer_start(&s->accept_pause, accept_resume_cb, 100, 0);
      } else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != ECONNABORTED) {
        cx_net_log("accept failed: %s", strerror(errno));
      }
      return;
    }
    char m[96];
    if ((unsigned)__atomic_load_n(&s->nconns, __ATOMIC_RELAXED) >= s->o.max_conns) {
      snprintf(m, sizeof m, "too many connections (limit %u)", s->o.max_conns);
      (http ? reject_busy_http : reject_busy)(fd, m);
      STAT_ADD(s->rejected, 1);
      continue;
    }
    cx_ipkey ip;
    ip_key(&ss, &ip);
    int rc = ip_acquire(s, &ip);
    if (rc) {
      snprintf(m, sizeof m, rc == CX_EBUSY ? "too many connections from this address (limit %u)"
                                           : "out of memory (limit %u per address)", s->o.max_conns_per_ip);
      (http ? reject_busy_http : reject_busy)(fd, m);
      STAT_ADD(s->rejected_ip, 1);
      continue;
    }
    __atomic_add_fetch(&s->nconns, 1, __ATOMIC_RELAXED);
    handoff(s, fd, &ip, http);
  }
}

static void accept_cb(uv_poll_t *p, int status, int events) {
  (void)events;
  cx_server *s = p->data;
  if (status < 0 || s->stopping) return;
  accept_on(s, s->lfd, 0);
}

static void haccept_cb(uv_poll_t *p, int status, int events) {
  (void)events;
  cx_server *s = p->data;
  if (status < 0 || s->stopping) return;
  accept_on(s, s->hfd, 1);
}

static void begin_stop(cx_server *s, const char *why) {
  if (s->stopping) return;
  s->stopping = 1;
  cx_net_log("stopping (%s): no new connections, finishing requests in flight", why);
  /* Writers waiting on the log answer now (timeout: the write may land); the applier goes on
   * to a message boundary and stops when the server closes. */
  if (s->replog) cx__replog_stopping(s->replog);
  uv_poll_stop(&s->poll);
  uv_close((uv_handle_t *)&s->poll, NULL);
  if (s->http) {
    uv_poll_stop(&s->hpoll);
    uv_close((uv_handle_t *)&s->hpoll, NULL);
  }
  uv_close((uv_handle_t *)&s->accept_pause, NULL);
  __atomic_store_n(&s->async_ready, 0, __ATOMIC_SEQ_CST);
  uv_close((uv_handle_t *)&s->stop_async, NULL);
  uv_close((uv_handle_t *)&s->reload_async, NULL);
  for (unsigned i = 0; i < s->nloops; i++) {
    cx_loop *lp = &s->loops[i];
    uv_mutex_lock(&lp->mu);
    lp->stop_req = 1;
    uv_mutex_unlock(&lp->mu);
    uv_async_send(&lp->async);
  }
}

static int retire_ptr(cx_server *s, void *p) {
  void **r = cx_realloc(s->retired, (s->n_retired + 1) * sizeof *r);
  if (!r) return CX_ENOMEM;
  s->retired = r;
  s->retired[s->n_retired++] = p;
  return 0;
}

static void loops_tell(cx_server *s, int remap, int requery) {
  for (unsigned i = 0; i < s->nloops && s->loops; i++) {
    cx_loop *lp = &s->loops[i];
    uv_mutex_lock(&lp->mu);
    lp->remap_req |= remap;
    lp->requery_req |= requery;
    uv_mutex_unlock(&lp->mu);
    uv_async_send(&lp->async);
  }
}

/* SIGHUP: the token file and the data files again, each all or nothing; never a token logged. */
static void reload(cx_server *s) {
  cx_net_log("reload: reading the token file and the data files again");
  if (s->o.tokens_path) {
    cx_tokens *nt = cx_calloc(1, sizeof *nt);
    char why[512] = "";
    int rc = nt ? cx_tokens_load(s->o.tokens_path, nt, why, sizeof why) : CX_ENOMEM;
    if (rc) {
      cx_net_log("reload: tokens: %s; keeping the %u tokens loaded before", why[0] ? why : cx_strerror(rc),
                 s->tokens ? s->tokens->n : 0);
      free(nt);
    } else if (retire_ptr(s, (void *)((uintptr_t)s->tokens | 1u))) {
      cx_net_log("reload: tokens: out of memory; keeping the tokens loaded before");
      cx_tokens_free(nt);
      free(nt);
    } else {
      unsigned added = 0, removed = 0, changed = 0;
      for (uint32_t i = 0; i < nt->n; i++) {
        int k = cx_tokens_find(s->tokens, (cx_str){nt->v[i].token, nt->v[i].len});
        if (k < 0) added++;
        else if (s->tokens->v[k].role != nt->v[i].role ||
                 s->tokens->v[k].n_authorities != nt->v[i].n_authorities ||
                 memcmp(s->tokens->v[k].authorities, nt->v[i].authorities,
                        sizeof nt->v[i].authorities[0] * nt->v[i].n_authorities) != 0)
          changed++;
      }
      for (uint32_t i = 0; i < s->tokens->n; i++)
        if (cx_tokens_find(nt, (cx_str){s->tokens->v[i].token, s->tokens->v[i].len}) < 0) removed++;
      __atomic_store_n(&s->env.tokens, nt, __ATOMIC_RELEASE);
      s->tokens = nt;
      cx_net_log("reload: tokens: %u now (%u added, %u removed, %u with another role or scope)", nt->n, added,
                 removed, changed);
      loops_tell(s, 1, 0);
    }
  }
  int changed = 0;
  int rc = cx_store_data_reload(s->st, &changed);
  if (rc) {
    cx_net_log("reload: data files: %s (%s); keeping those loaded before", cx_strerror(rc), cx_store_errmsg(s->st));
    return;
  }
  if (!changed) {
    cx_net_log("reload: data files unchanged");
    return;
  }
  cx_query *nq = NULL;
  if ((rc = cx_query_new(s->st, &nq)) || retire_ptr(s, s->q)) {
    if (nq) cx_query_free(nq);
    cx_net_log("reload: data files: cannot build the query context again (%s); the loops keep theirs",
               cx_strerror(rc ? rc : CX_ENOMEM));
    return;
  }
  __atomic_store_n(&s->q, nq, __ATOMIC_RELEASE);
  loops_tell(s, 0, 1);
  cx_net_log("reload: data files: %s%s%s changed", changed & 1 ? "the catalogue" : "",
             (changed & 3) == 3 ? " and " : "", changed & 2 ? "the calendar" : "");
}

/* After a load: the store swapped its catalogue and calendar already (cx_store_data_put), so
 * cx_store_data_reload sees no change; the query context is rebuilt from the store's. */
static void requery(cx_server *s) {
  cx_query *nq = NULL;
  int rc;
  if ((rc = cx_query_new(s->st, &nq)) || retire_ptr(s, s->q)) {
    if (nq) cx_query_free(nq);
    cx_net_log("load: cannot build the query context again (%s); the loops keep theirs",
               cx_strerror(rc ? rc : CX_ENOMEM));
    return;
  }
  __atomic_store_n(&s->q, nq, __ATOMIC_RELEASE);
  loops_tell(s, 0, 1);
}

static void reload_async_cb(uv_async_t *a) {
  cx_server *s = a->data;
  if (__atomic_exchange_n(&s->reload_req, 0, __ATOMIC_SEQ_CST) && !s->stopping) reload(s);
  if (__atomic_exchange_n(&s->requery_req, 0, __ATOMIC_SEQ_CST) && !s->stopping) requery(s);
}

void cx_server_reload_signal(cx_server *s) {
  if (!s) return;
  __atomic_store_n(&s->reload_req, 1, __ATOMIC_SEQ_CST);
  if (__atomic_load_n(&s->async_ready, __ATOMIC_SEQ_CST)) uv_async_send(&s->reload_async);
}

void cx_server_reload(cx_server *s) { cx_server_reload_signal(s); }

static void stop_async_cb(uv_async_t *a) {
  cx_server *s = a->data;
  int sig = __atomic_load_n(&s->stop_signal, __ATOMIC_RELAXED);
  char why[24];
  if (sig) snprintf(why, sizeof why, "%s", sig == 2 ? "SIGINT" : sig == 15 ? "SIGTERM" : sig == 1 ? "SIGHUP" : "signal");
  begin_stop(s, sig ? why : "requested");
}

void cx_server_stop(cx_server *s) { uv_async_send(&s->stop_async); }

void cx_server_stop_signal(cx_server *s, int signum) {
  if (!s) return;
  __atomic_store_n(&s->stop_signal, signum, __ATOMIC_SEQ_CST);
  /* Before cx_server_run is ready the flag alone stops it as soon as it is. */
  if (__atomic_load_n(&s->async_ready, __ATOMIC_SEQ_CST))
    uv_async_send(&s->stop_async); /* async-signal-safe (libuv documents it) */
}

/* ===================================================================== the HTTP door's hooks */

static cx_txn *http_txn_get(void *ud, int *err) { return pool_txn_get(ud, err); }
static void http_txn_put(void *ud, cx_txn *t, int live) { pool_txn_put(ud, t, live); }
static void http_closed(void *ud, const unsigned char slot[16]) {
  cx_ipkey k;
  memcpy(k.a, slot, sizeof k.a);
  slot_release(ud, &k);
}
static void http_account(void *ud, void *loop_ud, int op, int rc, uint64_t t0, int role, const cx_tokens *tk,
                         int token, const char *peer, const char *rid) {
  (void)ud;
  account(loop_ud, op, rc, t0);
  reqlog(loop_ud, "http", op, rc, t0, role, tk, token, peer, rid);
}
static int http_ready(void *ud, char *why, size_t cap) {
  cx_server *s = ud;
  if (__atomic_load_n(&s->stopping, __ATOMIC_RELAXED)) {
    snprintf(why, cap, "stopping");
    return 0;
  }
  cx_store_info si;
  if (cx_store_info_get(s->st, &si) != 0) {
    snprintf(why, cap, "the store cannot be read");
    return 0;
  }
  if (s->replog && !cx__replog_ready(s->replog, why, cap)) return 0;
  return cx__auditor_alive(s->audit, why, cap);
}

/* Prometheus text format 0.0.4 (checked by promtool in tests/e2e/test_http.c). */
static void m_printf(cx_buf *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void m_printf(cx_buf *o, const char *fmt, ...) {
  char line[512];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(line, sizeof line, fmt, ap);
  va_end(ap);
  if (n > 0) cx_buf_append(o, line, (size_t)n < sizeof line ? (size_t)n : sizeof line - 1);
}
static void m_head(cx_buf *o, const char *name, const char *type, const char *help) {
  m_printf(o, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}
static void m_one(cx_buf *o, const char *name, const char *type, const char *help, double v) {
  m_head(o, name, type, help);
  m_printf(o, "%s %.17g\n", name, v);
}

/* The replicated log's gauges and counters (--log only). */
static void log_metrics(cx_server *s, cx_buf *o) {
  cx_replog_stats ls;
  cx__replog_stats(s->replog, &ls);
  m_one(o, "chengxin_log_applied_sequence", "gauge", "The last log message this node's store applied.",
        (double)ls.applied);
  m_one(o, "chengxin_log_last_sequence", "gauge", "The stream's last sequence as this node last saw it.",
        (double)ls.last);
  m_one(o, "chengxin_log_first_sequence", "gauge", "The stream's first sequence (retention drops older).",
        (double)ls.first);
  m_one(o, "chengxin_log_lag_messages", "gauge", "Messages of the stream this node has not applied yet.",
        (double)ls.lag);
  m_one(o, "chengxin_log_lag_seconds", "gauge",
        "Seconds since the oldest message this node has not applied was written (0: caught up).", ls.lag_s);
  m_one(o, "chengxin_log_published_total", "counter", "Write batches this node published.", (double)ls.published);
  m_one(o, "chengxin_log_duplicates_total", "counter",
        "Publishes JetStream acknowledged as duplicates of an earlier one (retries).", (double)ls.duplicates);
  m_one(o, "chengxin_log_publish_retries_total", "counter", "Publish attempts repeated (no ack in time).",
        (double)ls.retries);
  m_one(o, "chengxin_log_publish_failed_total", "counter", "Writes answered without an ack of the log.",
        (double)ls.publish_failed);
  m_one(o, "chengxin_log_refused_total", "counter", "Log messages every node refuses alike (their writer was told).",
        (double)ls.refused);
  m_one(o, "chengxin_log_apply_errors_total", "counter", "Failed applications of this node, retried.",
        (double)ls.apply_errors);
  m_one(o, "chengxin_log_connected", "gauge", "1 while connected to a NATS server.", (double)ls.connected);
  m_one(o, "chengxin_log_writes_accepted", "gauge", "1 when this node accepts writes (0: --log-writes off).",
        s->env.writes_refused ? 0.0 : 1.0);
  m_one(o, "chengxin_log_receipt_epoch", "gauge", "The receipt epoch this node took from the log at start.",
        (double)s->epoch);
}

static void http_metrics(void *ud, cx_buf *o) {
  cx_server *s = ud;
  uint64_t cur = 0, total = 0, queued = 0, squeezed = 0, too_large = 0, ftos = 0, itos = 0;
  for (unsigned i = 0; i < s->nloops && s->loops; i++) {
    queued += __atomic_load_n(&s->loops[i].queued, __ATOMIC_RELAXED);
    squeezed += STAT_GET(s->loops[i].squeezed);
    too_large += STAT_GET(s->loops[i].too_large);
    ftos += STAT_GET(s->loops[i].frame_timeouts);
    itos += STAT_GET(s->loops[i].idle_timeouts);
    cur += STAT_GET(s->loops[i].conns_current);
    total += STAT_GET(s->loops[i].conns_total);
  }
  m_head(o, "chengxin_build_info", "gauge", "Version of the server and of its protocol.");
  m_printf(o, "chengxin_build_info{version=\"%s\",protocol=\"%s\",schema=\"%u\",commit=\"%s\"} 1\n", CX_VERSION,
           CX_PROTOCOL_VERSION, (unsigned)CX_SCHEMA_VERSION, cx_build_commit());
  m_one(o, "chengxin_uptime_seconds", "gauge", "Seconds since the server started.",
        (double)(uv_hrtime() - s->started_ns) / 1e9);
  /* per op, both doors: requests, errors and the latency histogram */
  static const double le[] = {10e-6, 25e-6, 50e-6, 100e-6, 250e-6, 500e-6, 1e-3, 2.5e-3, 5e-3,
                              10e-3, 25e-3, 50e-3, 100e-3, 250e-3, 500e-3, 1, 2.5, 5, 10};
  m_head(o, "chengxin_requests_total", "counter", "Requests answered, by op (msgpack and HTTP doors).");
  cx_hist h;
  for (int op = 0; op < CX_OP_SLOTS; op++) {
    uint64_t r = 0;
    for (unsigned i = 0; i < s->nloops && s->loops; i++) r += STAT_GET(s->loops[i].ops[op].requests);
    m_printf(o, "chengxin_requests_total{op=\"%s\"} %" PRIu64 "\n", op < CX_OP_COUNT ? cx_op_names[op] : "invalid", r);
  }
  m_head(o, "chengxin_request_errors_total", "counter", "Requests answered with an error, by op.");
  for (int op = 0; op < CX_OP_SLOTS; op++) {
    uint64_t e = 0;
    for (unsigned i = 0; i < s->nloops && s->loops; i++) e += STAT_GET(s->loops[i].ops[op].errors);
    m_printf(o, "chengxin_request_errors_total{op=\"%s\"} %" PRIu64 "\n", op < CX_OP_COUNT ? cx_op_names[op] : "invalid", e);
  }
  m_head(o, "chengxin_request_duration_seconds", "histogram",
         "Time from a request's arrival to its answer, by op (bucket bounds within 19% of the server's log "
         "buckets; the sum is taken at bucket upper bounds).");
  for (int op = 0; op < CX_OP_SLOTS; op++) {
    memset(&h, 0, sizeof h);
    for (unsigned i = 0; i < s->nloops && s->loops; i++) cx_hist_merge(&h, &s->loops[i].ops[op].lat);
    const char *name = op < CX_OP_COUNT ? cx_op_names[op] : "invalid";
    uint64_t n = 0;
    double sum = 0;
    size_t k = 0;
    for (int b = 0; b < CX_HIST_BUCKETS; b++) {
      double ub = (double)cx_hist_bucket_upper(b) / 1e9;
      while (k < sizeof le / sizeof le[0] && ub > le[k]) {
        m_printf(o, "chengxin_request_duration_seconds_bucket{op=\"%s\",le=\"%g\"} %" PRIu64 "\n", name, le[k], n);
        k++;
      }
      n += h.b[b];
      sum += (double)h.b[b] * ub;
    }
    for (; k < sizeof le / sizeof le[0]; k++)
      m_printf(o, "chengxin_request_duration_seconds_bucket{op=\"%s\",le=\"%g\"} %" PRIu64 "\n", name, le[k], n);
    m_printf(o, "chengxin_request_duration_seconds_bucket{op=\"%s\",le=\"+Inf\"} %" PRIu64 "\n", name, n);
    m_printf(o, "chengxin_request_duration_seconds_sum{op=\"%s\"} %.9g\n", name, sum);
    m_printf(o, "chengxin_request_duration_seconds_count{op=\"%s\"} %" PRIu64 "\n", name, n);
  }
  m_one(o, "chengxin_connections", "gauge", "Open connections, both doors.",
        (double)__atomic_load_n(&s->nconns, __ATOMIC_RELAXED));
  m_one(o, "chengxin_msgpack_connections", "gauge", "Open msgpack connections.", (double)cur);
  m_one(o, "chengxin_msgpack_connections_total", "counter", "msgpack connections accepted.", (double)total);
  m_one(o, "chengxin_connections_rejected_total", "counter", "Connections refused at the connection limit.",
        (double)__atomic_load_n(&s->rejected, __ATOMIC_RELAXED));
  m_one(o, "chengxin_connections_rejected_per_ip_total", "counter",
        "Connections refused at the per-address limit.", (double)__atomic_load_n(&s->rejected_ip, __ATOMIC_RELAXED));
  m_one(o, "chengxin_output_queued_bytes", "gauge", "Answers queued for msgpack clients, not yet written.",
        (double)queued);
  m_one(o, "chengxin_output_squeezed_total", "counter", "Times a connection was held to the squeeze cap.",
        (double)squeezed);
  m_one(o, "chengxin_answers_too_large_total", "counter", "Answers refused for their connection's share.",
        (double)too_large);
  m_one(o, "chengxin_frame_timeouts_total", "counter", "Connections closed for an unfinished frame.", (double)ftos);
  m_one(o, "chengxin_idle_timeouts_total", "counter", "Connections closed for idleness.", (double)itos);
  m_one(o, "chengxin_auth_failed_total", "counter", "Authentications with an unknown token (auth op, Bearer).",
        (double)__atomic_load_n(&s->auth_failed, __ATOMIC_RELAXED));
  cx_audit_stats as;
  cx__auditor_stats(s->audit, &as);
  m_one(o, "chengxin_audit_queue_pending", "gauge", "Query audits queued, not yet written.", (double)as.pending);
  m_one(o, "chengxin_audit_written_total", "counter", "Query audits written.", (double)as.written);
  m_one(o, "chengxin_audit_rejected_total", "counter", "Queries refused because the audit queue was full.",
        (double)as.rejected);
  m_one(o, "chengxin_audit_write_errors_total", "counter", "Failed audit flushes.", (double)as.errors);
  m_one(o, "chengxin_check_log_enabled", "gauge", "1 when checks are logged and carry receipts.",
        as.checks_off ? 0.0 : 1.0);
  m_one(o, "chengxin_check_log_queued_total", "counter", "Check-log entries queued (one per entity checked).",
        (double)as.checks_queued);
  m_one(o, "chengxin_check_log_written_total", "counter", "Check-log entries written to the store.",
        (double)as.checks_written);
  m_one(o, "chengxin_check_log_pending", "gauge", "Check-log entries queued, not yet written.",
        (double)as.checks_pending);
  m_one(o, "chengxin_check_log_rejected_total", "counter",
        "Checks refused (busy) because the check log's queue was full.", (double)as.checks_rejected);
  m_one(o, "chengxin_check_log_write_errors_total", "counter", "Failed check-log writes (entries stay queued).",
        (double)as.checks_write_errors);
  m_one(o, "chengxin_check_log_pruned_total", "counter", "Check-log entries deleted past the retention.",
        (double)as.checks_pruned);
  m_one(o, "chengxin_check_log_last_flush_timestamp_seconds", "gauge",
        "Unix time of the last check-log write (0: none since the start).",
        (double)as.checks_last_flush_ms / 1000.0);
  cx_store_info si;
  memset(&si, 0, sizeof si);
  if (cx_store_info_get(s->st, &si) == 0) {
    m_one(o, "chengxin_store_entities", "gauge", "Entities in the store.", (double)si.entities);
    m_one(o, "chengxin_store_records", "gauge", "Records in the store.", (double)si.records);
    m_one(o, "chengxin_store_map_size_bytes", "gauge", "The store's map size.", (double)si.map_size);
    m_one(o, "chengxin_store_map_used_bytes", "gauge", "Bytes of the map in use (the data file's size).",
          (double)si.map_used);
    m_one(o, "chengxin_store_readers_used", "gauge", "Reader slots held.", (double)si.readers_used);
    m_one(o, "chengxin_store_last_commit_timestamp_seconds", "gauge",
          "Unix time of the last batch committed to the store (0: none recorded).", (double)si.last_commit_s);
  }
  if (s->replog) log_metrics(s, o);
}

/* ===================================================================== open / run / close */

static int bind_on(const char *host, int port, int *lfd, int *bound, char *why, size_t cap) {
  struct sockaddr_storage ss;
  socklen_t sl;
  memset(&ss, 0, sizeof ss);
  struct sockaddr_in *a4 = (struct sockaddr_in *)&ss;
  struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&ss;
  if (inet_pton(AF_INET, host, &a4->sin_addr) == 1) {
    a4->sin_family = AF_INET;
    a4->sin_port = htons((uint16_t)port);
    sl = sizeof *a4;
  } else if (inet_pton(AF_INET6, host, &a6->sin6_addr) == 1) {
    a6->sin6_family = AF_INET6;
    a6->sin6_port = htons((uint16_t)port);
    sl = sizeof *a6;
  } else {
    /* A name ("localhost"): its first address. */
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *ai = NULL;
    if (getaddrinfo(host, NULL, &hints, &ai) != 0 || !ai || ai->ai_addrlen > sizeof ss) {
      if (ai) freeaddrinfo(ai);
      snprintf(why, cap, "cannot resolve listen address \"%s\"", host);
      return CX_EBADREQ;
    }
    memcpy(&ss, ai->ai_addr, ai->ai_addrlen);
    sl = ai->ai_addrlen;
    freeaddrinfo(ai);
    if (ss.ss_family == AF_INET) a4->sin_port = htons((uint16_t)port);
    else a6->sin6_port = htons((uint16_t)port);
  }
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    snprintf(why, cap, "socket: %s", strerror(errno));
    return CX_ECONN;
  }
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  if (bind(fd, (struct sockaddr *)&ss, sl) != 0) {
    snprintf(why, cap, "cannot listen on %s:%d: %s", host, port, strerror(errno));
    close(fd);
    return CX_ECONN;
  }
  if (listen(fd, 1024) != 0) {
    snprintf(why, cap, "cannot listen on %s:%d: %s", host, port, strerror(errno));
    close(fd);
    return CX_ECONN;
  }
  sl = sizeof ss;
  getsockname(fd, (struct sockaddr *)&ss, &sl);
  *bound = ntohs(ss.ss_family == AF_INET ? a4->sin_port : a6->sin6_port);
  *lfd = fd;
  return 0;
}

/*
 * The map size a server opens its store with. LMDB maps the whole map size, so when another
 * process (an import, `chengxin gen`) grows the data past our map, our next transaction gets
 * MDB_MAP_RESIZED and the store must remap, which waits until no read transaction of ours is
 * live and holds every new one meanwhile: every request of the server stalls behind the longest
 * read in flight (store.h: up to 5 s). A map far larger than the data makes that never happen in
 * practice. It costs address space only: without MDB_WRITEMAP the file is not extended and
 * untouched pages take no memory; 64-bit Linux gives a process 128 TiB. So: the larger of
 * CX_NET_MAP_MIN (64 GiB) and CX_NET_MAP_DATA_FACTOR (8) x the data file now, 1 MiB aligned.
 * 32-bit builds keep the store's default (1 GiB), their address space being 3 GiB.
 */
static uint64_t server_map_size(const char *db) {
  if (sizeof(size_t) < 8) return 0;
  char p[4096];
  struct stat sb;
  uint64_t data = 0;
  if ((size_t)snprintf(p, sizeof p, "%s/data.mdb", db) < sizeof p && stat(p, &sb) == 0)
    data = (uint64_t)sb.st_size;
  uint64_t m = data > CX_NET_MAP_MIN / CX_NET_MAP_DATA_FACTOR ? data * CX_NET_MAP_DATA_FACTOR : CX_NET_MAP_MIN;
  return (m + (1u << 20) - 1) & ~(uint64_t)((1u << 20) - 1);
}

int cx_server_open(const cx_server_opts *o, cx_server **out, char *why, size_t cap) {
  why[0] = 0;
  if (!o->db_path || !*o->db_path) {
    snprintf(why, cap, "no store given (--db PATH)");
    return CX_EBADREQ;
  }
  if (o->max_frame < 64 || o->max_frame > (1u << 30) || o->max_conns < 1 || o->port < 0 || o->port > 65535) {
    snprintf(why, cap, "bad limits (max frame 64 B..1 GiB, max connections >= 1, port 0..65535)");
    return CX_EBADREQ;
  }
  cx_server *s = cx_calloc(1, sizeof *s);
  if (!s) return CX_ENOMEM;
  s->o = *o;
  s->lfd = -1;
  s->hfd = -1;
  s->reqlog_fd = -1;
  snprintf(s->host, sizeof s->host, "%s", o->host ? o->host : "127.0.0.1");
  s->o.host = s->host;
  if (!s->o.max_output) s->o.max_output = CX_NET_MAX_OUTPUT_DEFAULT;
  if (!s->o.max_output_total) s->o.max_output_total = CX_NET_MAX_OUTPUT_TOTAL_DEFAULT;
  unsigned n = o->threads;
  if (!n) {
    long k = sysconf(_SC_NPROCESSORS_ONLN);
    n = k > 0 ? (unsigned)k : 1;
  }
  if (n > CX_MAX_THREADS) n = CX_MAX_THREADS;
  s->nloops = n;
  /* Aggregate scans on the thread pool: split over up to scan_threads threads while no other
   * scan holds them (query.h), a second thread only for stores of 2 x 512k facts and more. */
  cx_query_set_scan_threads(o->scan_threads, CX_AGG_SPLIT_MIN_FACTS);
  uv_mutex_init(&s->txn_mu);
  uv_mutex_init(&s->ip_mu);
  int rc;
  if (o->max_conns_per_ip) { /* about one bucket per connection, at most 65536 */
    uint32_t nb = 256;
    while (nb < o->max_conns && nb < 65536) nb *= 2;
    s->ip_tab = cx_calloc(nb, sizeof *s->ip_tab);
    if (!s->ip_tab) {
      snprintf(why, cap, "out of memory");
      rc = CX_ENOMEM;
      goto fail;
    }
    s->ip_mask = nb - 1;
  }
  if (!(s->tokens = cx_calloc(1, sizeof *s->tokens))) {
    snprintf(why, cap, "out of memory");
    rc = CX_ENOMEM;
    goto fail;
  }
  if (o->tokens_path && (rc = cx_tokens_load(o->tokens_path, s->tokens, why, cap))) goto fail;
  cx_store_opts so = {0};
  so.max_readers = 1024;
  so.map_size = o->map_size ? o->map_size : server_map_size(o->db_path);
  rc = cx_store_open(o->db_path, &so, &s->st);
  if (rc) {
    if (rc == CX_ENOSTORE)
      snprintf(why, cap, "no store at %s (create one with `chengxin init`)", o->db_path);
    else if (rc == CX_EVERSION)
      snprintf(why, cap, "store %s has another schema version (this server reads version %u)",
               o->db_path, CX_SCHEMA_VERSION);
    else
      snprintf(why, cap, "cannot open store %s: %s", o->db_path, cx_strerror(rc));
    s->st = NULL;
    goto fail;
  }
  if ((rc = cx_query_new(s->st, &s->q))) {
    snprintf(why, cap, "cannot load the catalogue: %s", cx_strerror(rc));
    goto fail;
  }
  s->env.st = s->st;
  s->env.tokens = s->tokens;
  cx_exec_limits_default(&s->env.lim);
  s->env.pack_stats = pack_stats;
  s->env.auth_failed = auth_failed;
  s->env.ud = s;
  s->env.load = env_load;
  if ((rc = cx__auditor_new(s->st, s->nloops, &s->audit))) {
    snprintf(why, cap, "cannot allocate the audit queues: %s", cx_strerror(rc));
    goto fail;
  }
  {
    /* receipts of this run: a new epoch, so that they never repeat one of an earlier run */
    uint32_t epoch = 0; /* a replicated node takes it from the log below */
    if (!(o->log_urls || o->log_stream) && (rc = cx_store_checks_epoch(s->st, &epoch))) {
      snprintf(why, cap, "cannot take a receipt epoch for the check log: %s", cx_strerror(rc));
      goto fail;
    }
    cx__auditor_set_epoch(s->audit, epoch);
    cx__auditor_set_retention(s->audit, o->check_retention_days ? o->check_retention_days
                                                                : CX_NET_CHECKLOG_RETENTION_DAYS);
    cx__auditor_set_checks_off(s->audit, o->no_check_log);
    s->env.checks_flush = checks_flush;
  }
  if (o->log_writes_off && !(o->log_urls || o->log_stream)) {
    snprintf(why, cap, "--log-writes off is for a node of a replicated log (--log, --stream)");
    rc = CX_EBADREQ;
    goto fail;
  }
  if (!(o->log_urls || o->log_stream)) {
    char follows[CX_LOG_STREAM_MAX + 1] = "";
    if (cx_store_log_stream(s->st, follows, sizeof follows) == 0 && follows[0])
      cx_net_log("this store follows the replicated stream %s: it refuses writes that do not come "
                 "through it (start chengxind with --log ... --stream %s)", follows, follows);
  }
  if (o->log_urls || o->log_stream) {
    cx_replog_opts lo;
    cx_replog_opts_default(&lo);
    lo.urls = o->log_urls;
    lo.stream = o->log_stream;
    if (o->log_replicas) lo.replicas = (int)o->log_replicas;
    lo.max_lag = o->log_max_lag;
    lo.max_msgs = o->log_max_msgs;
    lo.node = o->log_node;
    lo.test_republish = o->log_test_republish;
    lo.on_data = data_loaded;
    lo.ud = s;
    lo.flush = checks_flush;
    if ((rc = cx__replog_open(s->st, &lo, &s->replog, why, cap))) goto fail;
    s->env.commit = log_commit;
    s->env.feedback = env_feedback;
    s->env.at_seq = at_seq;
    uint32_t epoch = 0; /* receipts unique across the cluster's nodes (replog.c) */
    char ew[256] = "";
    if ((rc = cx__replog_epoch(s->replog, &epoch, ew, sizeof ew))) {
      snprintf(why, cap, "cannot take a receipt epoch from the log: %s", ew[0] ? ew : cx_strerror(rc));
      goto fail;
    }
    s->epoch = epoch;
    cx__auditor_set_epoch(s->audit, epoch);
    if (o->log_writes_off) {
      cx_replog_stats ls;
      cx__replog_stats(s->replog, &ls);
      snprintf(s->writes_refused, sizeof s->writes_refused,
               "node %s is a read-only replica of stream %s (chengxind --log-writes off): send writes to a "
               "node that takes them", ls.node, ls.stream);
      s->env.writes_refused = s->writes_refused;
    }
  }
  if (o->request_log) {
    s->reqlog_fd = open(o->request_log, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0640);
    if (s->reqlog_fd < 0) {
      snprintf(why, cap, "--request-log %s: %s", o->request_log, strerror(errno));
      rc = CX_EIO;
      goto fail;
    }
  }
  if ((rc = bind_on(s->host, s->o.port, &s->lfd, &s->port, why, cap))) goto fail;
  if (o->http) {
    snprintf(s->hhost, sizeof s->hhost, "%s", o->http_host ? o->http_host : s->host);
    s->o.http_host = s->hhost;
    if ((rc = bind_on(s->hhost, o->http_port, &s->hfd, &s->hport, why, cap))) goto fail;
    cx_http_hooks k;
    memset(&k, 0, sizeof k);
    k.env = &s->env;
    k.pool_q = &s->q;
    k.txn_get = http_txn_get;
    k.txn_put = http_txn_put;
    k.metrics = http_metrics;
    k.ready = http_ready;
    k.closed = http_closed;
    k.account = http_account;
    k.catch_up = http_catch_up;
    k.ud = s;
    k.max_body = s->o.max_frame;
    k.max_answer = s->o.max_output;
    k.idle_timeout_s = s->o.idle_timeout_s;
    k.tls_cert = o->tls_cert;
    k.tls_key = o->tls_key;
    k.site_path = o->site_path;
    if ((rc = cx__http_new(&k, &s->http, why, cap))) goto fail;
  } else if (o->site_path) {
    snprintf(why, cap, "--site configures the public site of the HTTP door: give --http HOST:PORT too");
    rc = CX_EBADREQ;
    goto fail;
  } else if (o->tls_cert || o->tls_key) {
    snprintf(why, cap, "--tls-cert and --tls-key are for the HTTP door (--http HOST:PORT); the msgpack "
             "port is plain TCP: terminate TLS in front of it (docs/operations.md)");
    rc = CX_EBADREQ;
    goto fail;
  }
  *out = s;
  return 0;
fail:
  cx_server_close(s);
  return rc;
}

int cx_server_port(const cx_server *s) { return s->port; }

void cx_server_lib_versions(char *buf, size_t cap) {
  char h[160];
  cx__http_lib_versions(h, sizeof h);
  snprintf(buf, cap, "%s, libuv %s, msgpack-c %s, %s", cx_store_lib_version(), uv_version_string(),
           msgpack_version(), h);
}
int cx_server_http_port(const cx_server *s) { return s->http ? s->hport : 0; }

void cx_server_log(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  cx_net_vlog(fmt, ap);
  va_end(ap);
}

int cx_server_run(cx_server *s) {
  int rc = 0;
  s->loops = cx_calloc(s->nloops, sizeof *s->loops);
  if (!s->loops) return CX_ENOMEM;
  unsigned inited = 0, started = 0;
  for (; inited < s->nloops; inited++)
    if ((rc = loop_init(s, &s->loops[inited], (int)inited))) {
      cx_net_log("cannot start worker loop: %s", cx_strerror(rc));
      inited++;
      goto out;
    }
  if ((rc = cx__auditor_start(s->audit))) {
    cx_net_log("cannot start the audit flusher");
    goto out;
  }
  uv_loop_init(&s->main);
  uv_poll_init(&s->main, &s->poll, s->lfd);
  s->poll.data = s;
  uv_timer_init(&s->main, &s->accept_pause);
  s->accept_pause.data = s;
  uv_async_init(&s->main, &s->stop_async, stop_async_cb);
  s->stop_async.data = s;
  uv_async_init(&s->main, &s->reload_async, reload_async_cb);
  s->reload_async.data = s;
  __atomic_store_n(&s->async_ready, 1, __ATOMIC_SEQ_CST);
  for (; started < s->nloops; started++)
    if (uv_thread_create(&s->loops[started].thread, loop_thread, &s->loops[started]) != 0) {
      rc = CX_EINTERNAL;
      break;
    }
  s->started = time(NULL);
  s->started_ns = uv_hrtime();
  uv_poll_start(&s->poll, UV_READABLE, accept_cb);
  if (s->http) {
    uv_poll_init(&s->main, &s->hpoll, s->hfd);
    s->hpoll.data = s;
    uv_poll_start(&s->hpoll, UV_READABLE, haccept_cb);
    int h6 = strchr(s->hhost, ':') != NULL;
    cx_net_log("http listening on %s%s%s:%d (%s)", h6 ? "[" : "", s->hhost, h6 ? "]" : "", s->hport,
               s->o.tls_cert ? "HTTPS, HTTP/1.1 and HTTP/2" : "HTTP/1.1");
  }
  /* "listening on HOST:PORT" is parsed by tests and scripts; IPv6 hosts in brackets. */
  int v6 = strchr(s->host, ':') != NULL;
  cx_net_log("listening on %s%s%s:%d (%u worker loops, store %s)", v6 ? "[" : "", s->host,
             v6 ? "]" : "", s->port, s->nloops, s->o.db_path);
  if (rc) begin_stop(s, "thread start failed");
  else if (__atomic_load_n(&s->stop_signal, __ATOMIC_SEQ_CST)) stop_async_cb(&s->stop_async);
  uv_run(&s->main, UV_RUN_DEFAULT);
  for (unsigned i = 0; i < started; i++) uv_thread_join(&s->loops[i].thread);
  /* Threads never started: their loops still need their handles closed (loop_fini). */
  uv_run(&s->main, UV_RUN_DEFAULT);
  uv_loop_close(&s->main);
out:
  /* Every loop has stopped queueing: the last query audits are written before "stopped". */
  cx__auditor_stop(s->audit);
  for (unsigned i = 0; i < inited; i++) loop_fini(&s->loops[i]);
  free(s->loops);
  s->loops = NULL;
  cx_net_log("stopped");
  return rc;
}

void cx_server_close(cx_server *s) {
  if (!s) return;
  cx__replog_close(s->replog); /* its applier commits to the store: stop it first */
  if (s->lfd >= 0) close(s->lfd);
  if (s->hfd >= 0) close(s->hfd);
  if (s->reqlog_fd >= 0) close(s->reqlog_fd);
  cx__http_free(s->http);
  for (int i = 0; i < s->n_txn_pool; i++) cx_store_txn_end(s->txn_pool[i]);
  s->n_txn_pool = 0;
  cx__auditor_free(s->audit);
  if (s->q) cx_query_free(s->q);
  for (size_t i = 0; i < s->n_retired; i++) {
    /* tagged: bit 0 set = a token table, clear = a query context */
    uintptr_t p = (uintptr_t)s->retired[i];
    if (p & 1u) {
      cx_tokens *t = (cx_tokens *)(p & ~(uintptr_t)1);
      cx_tokens_free(t);
      free(t);
    } else {
      cx_query_free((cx_query *)p);
    }
  }
  free(s->retired);
  if (s->st) cx_store_close(s->st);
  if (s->tokens) {
    cx_tokens_free(s->tokens);
    free(s->tokens);
  }
  uv_mutex_destroy(&s->txn_mu);
  for (uint32_t i = 0; s->ip_tab && i <= s->ip_mask; i++)
    for (cx_ipent *e = s->ip_tab[i], *nx; e; e = nx) {
      nx = e->next;
      free(e);
    }
  free(s->ip_tab);
  uv_mutex_destroy(&s->ip_mu);
  free(s);
}

/* ===================================================================== stats */

static void pk_key(msgpack_packer *pk, const char *k) { msgpack_pack_str_with_body(pk, k, strlen(k)); }

/* stats.check_log: the check log's queue and writer (net_int.h "check log"). */
static void pack_check_log_stats(msgpack_packer *pk, const cx_audit_stats *as) {
  pk_key(pk, "check_log");
  msgpack_pack_map(pk, 10);
  pk_key(pk, "enabled"); as->checks_off ? msgpack_pack_false(pk) : msgpack_pack_true(pk);
  pk_key(pk, "queued"); msgpack_pack_uint64(pk, as->checks_queued);
  pk_key(pk, "written"); msgpack_pack_uint64(pk, as->checks_written);
  pk_key(pk, "pending"); msgpack_pack_uint64(pk, as->checks_pending);
  pk_key(pk, "rejected"); msgpack_pack_uint64(pk, as->checks_rejected);
  pk_key(pk, "flushes"); msgpack_pack_uint64(pk, as->checks_flushes);
  pk_key(pk, "write_errors"); msgpack_pack_uint64(pk, as->checks_write_errors);
  pk_key(pk, "pruned"); msgpack_pack_uint64(pk, as->checks_pruned);
  pk_key(pk, "retention_days"); msgpack_pack_uint32(pk, as->checks_retention_days);
  pk_key(pk, "last_flush_ms"); msgpack_pack_int64(pk, as->checks_last_flush_ms);
}

/* stats.log (--log only): where this node is in the replicated log. */
static void pack_log_stats(cx_server *s, msgpack_packer *pk) {
  cx_replog_stats ls;
  cx__replog_stats(s->replog, &ls);
  pk_key(pk, "log");
  msgpack_pack_map(pk, 16);
  pk_key(pk, "stream"); msgpack_pack_str_with_body(pk, ls.stream, strlen(ls.stream));
  pk_key(pk, "writes"); if (s->env.writes_refused) msgpack_pack_false(pk); else msgpack_pack_true(pk);
  pk_key(pk, "receipt_epoch"); msgpack_pack_uint32(pk, s->epoch);
  pk_key(pk, "node"); msgpack_pack_str_with_body(pk, ls.node, strlen(ls.node));
  pk_key(pk, "applied"); msgpack_pack_uint64(pk, ls.applied);
  pk_key(pk, "first"); msgpack_pack_uint64(pk, ls.first);
  pk_key(pk, "last"); msgpack_pack_uint64(pk, ls.last);
  pk_key(pk, "lag"); msgpack_pack_uint64(pk, ls.lag);
  pk_key(pk, "lag_s"); msgpack_pack_double(pk, ls.lag_s);
  pk_key(pk, "published"); msgpack_pack_uint64(pk, ls.published);
  pk_key(pk, "duplicates"); msgpack_pack_uint64(pk, ls.duplicates);
  pk_key(pk, "retries"); msgpack_pack_uint64(pk, ls.retries);
  pk_key(pk, "publish_failed"); msgpack_pack_uint64(pk, ls.publish_failed);
  pk_key(pk, "refused"); msgpack_pack_uint64(pk, ls.refused);
  pk_key(pk, "apply_errors"); msgpack_pack_uint64(pk, ls.apply_errors);
  pk_key(pk, "connected"); if (ls.connected) msgpack_pack_true(pk); else msgpack_pack_false(pk);
}

static void pack_stats(void *ud, msgpack_packer *pk) {
  cx_server *s = ud;
  uint64_t cur = 0, total = 0, spills = 0, queued = 0, squeezed = 0, too_large = 0, ftos = 0, itos = 0;
  for (unsigned i = 0; i < s->nloops && s->loops; i++) {
    queued += __atomic_load_n(&s->loops[i].queued, __ATOMIC_RELAXED);
    squeezed += STAT_GET(s->loops[i].squeezed);
    too_large += STAT_GET(s->loops[i].too_large);
    ftos += STAT_GET(s->loops[i].frame_timeouts);
    itos += STAT_GET(s->loops[i].idle_timeouts);
    cur += STAT_GET(s->loops[i].conns_current);
    total += STAT_GET(s->loops[i].conns_total);
    spills += STAT_GET(s->loops[i].spills);
  }
  msgpack_pack_map(pk, s->replog ? 11 : 10);
  if (s->replog) pack_log_stats(s, pk);
  pk_key(pk, "protocol");
  msgpack_pack_str_with_body(pk, CX_PROTOCOL_VERSION, strlen(CX_PROTOCOL_VERSION));
  pk_key(pk, "auth");
  msgpack_pack_map(pk, 1);
  pk_key(pk, "failed"); msgpack_pack_uint64(pk, __atomic_load_n(&s->auth_failed, __ATOMIC_RELAXED));
  pk_key(pk, "audit");
  cx_audit_stats as;
  cx__auditor_stats(s->audit, &as);
  msgpack_pack_map(pk, 6);
  pk_key(pk, "queued"); msgpack_pack_uint64(pk, as.queued);
  pk_key(pk, "written"); msgpack_pack_uint64(pk, as.written);
  pk_key(pk, "pending"); msgpack_pack_uint64(pk, as.pending);
  pk_key(pk, "rejected"); msgpack_pack_uint64(pk, as.rejected);
  pk_key(pk, "flushes"); msgpack_pack_uint64(pk, as.flushes);
  pk_key(pk, "write_errors"); msgpack_pack_uint64(pk, as.errors);
  pack_check_log_stats(pk, &as);
  pk_key(pk, "uptime_s");
  msgpack_pack_uint64(pk, (uv_hrtime() - s->started_ns) / 1000000000u);
  pk_key(pk, "threads");
  msgpack_pack_uint32(pk, s->nloops);
  pk_key(pk, "connections");
  msgpack_pack_map(pk, 11);
  pk_key(pk, "current"); msgpack_pack_uint64(pk, cur);
  pk_key(pk, "output_queued"); msgpack_pack_uint64(pk, queued);
  pk_key(pk, "squeezed"); msgpack_pack_uint64(pk, squeezed);
  pk_key(pk, "too_large_answers"); msgpack_pack_uint64(pk, too_large);
  pk_key(pk, "total"); msgpack_pack_uint64(pk, total);
  pk_key(pk, "rejected"); msgpack_pack_uint64(pk, __atomic_load_n(&s->rejected, __ATOMIC_RELAXED));
  pk_key(pk, "max"); msgpack_pack_uint32(pk, s->o.max_conns);
  pk_key(pk, "rejected_per_ip"); msgpack_pack_uint64(pk, __atomic_load_n(&s->rejected_ip, __ATOMIC_RELAXED));
  pk_key(pk, "max_per_ip"); msgpack_pack_uint32(pk, s->o.max_conns_per_ip);
  pk_key(pk, "frame_timeouts"); msgpack_pack_uint64(pk, ftos);
  pk_key(pk, "idle_timeouts"); msgpack_pack_uint64(pk, itos);
  pk_key(pk, "spills");
  msgpack_pack_uint64(pk, spills);
  /* Per op, merged over the loops. The histograms are big: merge one op at a time. */
  pk_key(pk, "ops");
  uint32_t nops = 0;
  for (int op = 0; op < CX_OP_SLOTS; op++) {
    uint64_t r = 0;
    for (unsigned i = 0; i < s->nloops && s->loops; i++) r += STAT_GET(s->loops[i].ops[op].requests);
    if (r) nops++;
  }
  msgpack_pack_map(pk, nops);
  cx_hist h;
  for (int op = 0; op < CX_OP_SLOTS; op++) {
    uint64_t r = 0, e = 0;
    memset(&h, 0, sizeof h);
    for (unsigned i = 0; i < s->nloops && s->loops; i++) {
      r += STAT_GET(s->loops[i].ops[op].requests);
      e += STAT_GET(s->loops[i].ops[op].errors);
      cx_hist_merge(&h, &s->loops[i].ops[op].lat);
    }
    if (!r) continue;
    const char *name = op < CX_OP_COUNT ? cx_op_names[op] : "invalid";
    pk_key(pk, name);
    msgpack_pack_map(pk, 5);
    pk_key(pk, "requests"); msgpack_pack_uint64(pk, r);
    pk_key(pk, "errors"); msgpack_pack_uint64(pk, e);
    pk_key(pk, "p50_us"); msgpack_pack_double(pk, (double)cx_hist_quantile(&h, 0.50) / 1000.0);
    pk_key(pk, "p99_us"); msgpack_pack_double(pk, (double)cx_hist_quantile(&h, 0.99) / 1000.0);
    pk_key(pk, "p999_us"); msgpack_pack_double(pk, (double)cx_hist_quantile(&h, 0.999) / 1000.0);
  }
  pk_key(pk, "store");
  cx_exec_pack_store_stats(s->st, pk);
}
