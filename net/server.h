/*
 * server.h — the chengxin server (libuv): the msgpack door (frames, docs/protocol.md §1-9) and,
 * with opts.http, the HTTP/JSON door (net/http.c, §11) on the same loops.
 *
 * One acceptor loop (the thread calling cx_server_run) accepts connections on both listening
 * sockets and hands each fd to one of `threads` worker loops (round robin, uv_async_send +
 * uv_tcp_open). Each worker loop owns its connections, one read transaction and one cx_query.
 * The ops of the op table (exec.h CX_OP_TABLE) whose `slow` is 0 run on the loop, answered
 * from per-connection buffers without heap allocation; the slow ones (aggregate and the writes)
 * run on libuv's thread pool so a slow request never delays the other connections of its loop;
 * a msgpack connection waits for its own slow request before the next one (responses stay in
 * request order).
 *
 * The server is transport only: every request runs through the executor (exec.h, cx_exec_run)
 * with the loop's snapshot and the connection's role; what an op does is not decided here.
 *
 * Caveats (threads): cx_server_open / cx_server_run / cx_server_close from one thread;
 * cx_server_stop from any thread, cx_server_stop_signal from a signal handler (both only wake
 * the acceptor loop). The library sets nothing process-wide: the program ignores SIGPIPE (a
 * write to a closed socket must not kill the process), installs its signal handlers and
 * raises RLIMIT_NOFILE (tools/chengxind/main.c does all three).
 */
#ifndef CX_SERVER_H
#define CX_SERVER_H

#include <stddef.h>
#include <stdint.h>

#include "cx_err.h"

typedef struct cx_server_opts {
  const char *db_path;          /* store directory (required; must exist, schema must match) */
  const char *host;             /* listen address, default "127.0.0.1" */
  int port;                     /* default 7411; 0 = ephemeral (see cx_server_port) */
  const char *tokens_path;      /* token file ("token role [name]" lines, mode 0600); NULL = none */
  unsigned threads;             /* worker loops; 0 = number of CPUs (at most 64) */
  unsigned scan_threads;        /* threads one aggregate scan may use, a budget shared by the
                                   scans running at once (cx_query_set_scan_threads; process-
                                   wide); 0 = number of CPUs (at most 16), 1 = never split */
  size_t max_frame;             /* largest request frame payload; default 1 MiB */
  unsigned max_conns;           /* open connections; excess get a `busy` error frame, closed */
  unsigned idle_timeout_s;      /* close connections without a complete request (or a finished
                                   write) this long; 0 = never; default 300 */
  unsigned frame_timeout_s;     /* close a connection whose frame is not complete this long
                                   after its first byte; 0 = never; default 30 */
  unsigned max_conns_per_ip;    /* open connections from one client address; excess get a
                                   `busy` error frame, closed; 0 = no limit (default) */
  size_t max_output;            /* queued output per connection before reading stops; 4 MiB */
  size_t max_output_total;      /* queued output of all connections (split evenly over the
                                   worker loops) past which each connection may queue only
                                   64 KiB before reading stops; default 64 MiB. Bounds the
                                   memory that clients who never read can pin. */
  unsigned slow_ms;             /* log requests slower than this; default 200 */
  /* HTTP/JSON door (docs/protocol.md §11): off unless http is set */
  int http;                     /* 1: also listen for HTTP on http_host:http_port */
  const char *http_host;        /* default: host */
  int http_port;                /* 0 = ephemeral (see cx_server_http_port) */
  const char *tls_cert, *tls_key; /* PEM files: HTTPS (and HTTP/2 by ALPN) on the HTTP port */
  const char *request_log;      /* a file the answered requests are logged to (logfmt, appended);
                                   NULL: none. Never a token, never an entity code */
  double request_log_rate;      /* the share of requests logged, (0, 1]; 0 = 1 */
  const char *site_path;        /* the public site's key = value file (docs/operations.md "The
                                   public site"); NULL = the defaults. Needs http. */
  uint64_t map_size;            /* the store's map size; 0 = the larger of CX_NET_MAP_MIN (64 GiB)
                                   and CX_NET_MAP_DATA_FACTOR x the data file (64-bit builds;
                                   address space, not disk): another process growing the store
                                   within it never makes this server remap */
  unsigned check_retention_days; /* check-log entries older than this are deleted (hourly);
                                   0 = 730 (2 years) */
  int no_check_log;              /* 1: checks are not logged and carry no receipt (benchmarks,
                                   a platform that does not collect feedback); feedback then
                                   finds only receipts of earlier runs */
  /* Replication (docs/scaling.md): with log_urls, writes go through a NATS JetStream stream
   * that every node applies to its own store; NULL: the single-node server. */
  const char *log_urls;         /* "nats://HOST:PORT[,nats://HOST:PORT...]" */
  const char *log_stream;       /* the stream's name (required with log_urls) */
  unsigned log_replicas;        /* replicas of a stream this node creates; 0 = 3 */
  int64_t log_max_msgs;         /* retention (messages) of a stream this node creates; 0 = all */
  uint64_t log_max_lag;         /* /readyz is false beyond this many messages behind; 0 = none */
  const char *log_node;         /* this node's name in message ids; NULL = the host name */
  int log_test_republish;       /* test hook: every publish is sent twice with one Nats-Msg-Id */
  int log_writes_off;           /* --log-writes off: a read-only replica (writes are forbidden) */
} cx_server_opts;

typedef struct cx_server cx_server;

/** Fills o with the defaults above (db_path NULL). */
void cx_server_opts_default(cx_server_opts *o);

/**
 * Opens the store, loads the tokens and binds the listening socket (not yet serving).
 * Errors: CX_ENOSTORE / CX_EVERSION (store; with log_urls also a store whose log position
 * the stream no longer holds: it needs a newer backup), CX_ECONN (the log cannot be reached), CX_EIO / CX_EFORBIDDEN (token file unreadable or
 * accessible by group/others), CX_ECONN (address in use or cannot bind), CX_EBADREQ (options).
 * why (cap bytes) receives a one-line explanation in every error case.
 */
int cx_server_open(const cx_server_opts *o, cx_server **out, char *why, size_t cap);
/** The bound port (useful after port 0). */
int cx_server_port(const cx_server *s);
/** The bound HTTP port, 0 without the HTTP door. */
int cx_server_http_port(const cx_server *s);
/**
 * Serves until cx_server_stop() / cx_server_stop_signal(): then stops accepting, finishes in-flight
 * requests (up to a few seconds for clients that do not read), closes connections. Logs
 * "listening on HOST:PORT" on stderr when ready. Returns 0 or a negative CX_E*.
 */
int cx_server_run(cx_server *s);
/** Asks a running server to stop (thread-safe); the log says "stopping (requested)". */
void cx_server_stop(cx_server *s);
/** The same from a signal handler (async-signal-safe): "stopping (SIGTERM)". */
void cx_server_stop_signal(cx_server *s, int signum);
/**
 * Reload (chengxind: SIGHUP; async-signal-safe, any thread): the token file and the data files
 * (catalogue, calendar, as another process's load-* left them in the store) are read again on
 * the acceptor loop, each all or nothing: a file that does not load keeps the old one and the
 * log says why. Connections stay; a connection whose token is gone becomes public, one whose
 * token's role changed has the new role. The log says what changed, never a token.
 */
void cx_server_reload_signal(cx_server *s);
void cx_server_reload(cx_server *s);
/** "libuv X, h2o Y, openssl Z, ..." of the libraries the server links, into buf (--version). */
void cx_server_lib_versions(char *buf, size_t cap);
/** One line on the server's log (stderr, "<UTC time> chengxind: <msg>"); thread-safe. */
void cx_server_log(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/** Closes the listening socket, the store, frees everything. Not while running. */
void cx_server_close(cx_server *s);

#endif
