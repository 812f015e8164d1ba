/*
 * client.h — a small blocking C client for the chengxin protocol (docs/protocol.md).
 *
 * Used by the CLI (remote mode), the tests and the bench load generator.
 *
 * Model: one cx_client is one TCP connection. A call is "send a request, receive its
 * response". Requests may be pipelined: send many (cx_client_send*), then receive the
 * responses in the same order (cx_client_recv). The client assigns request ids (1, 2, 3, ...)
 * unless you send prebuilt bytes.
 *
 * Building a request: the client writes the map header and the "id" and "op" entries; your
 * callback packs the remaining n_args key/value pairs with the msgpack_packer it is given:
 *
 *     static int pack_check(msgpack_packer *pk, void *ctx) {
 *       msgpack_pack_str_with_body(pk, "codes", 5);
 *       msgpack_pack_array(pk, 1);
 *       msgpack_pack_str_with_body(pk, "91350100M000100Y43", 18);
 *       msgpack_pack_str_with_body(pk, "action", 6);
 *       msgpack_pack_str_with_body(pk, "procurement", 11);
 *       return 0;
 *     }
 *     cx_client_resp r;
 *     int rc = cx_client_call(c, "check", 2, pack_check, NULL, &r);
 *     if (rc == 0 && r.ok) { const msgpack_object *res = r.result; ... }
 *
 * Responses: cx_client_resp holds pointers into the client's receive buffer and msgpack zone;
 * they are valid until the next cx_client_recv / cx_client_call / cx_client_flush /
 * cx_client_close on this client (cx_client_send alone only buffers and keeps them valid).
 * Incoming frames are validated with a bounded reader before msgpack-c unpacks them (so a
 * hostile server cannot make the client allocate more than ~24x the frame size).
 *
 * Errors (negative CX_E*): CX_ECONN (cannot connect, connection closed or reset),
 * CX_EIO (socket error or timeout), CX_EBADFRAME (the server sent something that is not a
 * frame holding one map), CX_ETOOLARGE (a response frame above the client's limit),
 * CX_ENOMEM. A protocol-level error (ok: false) is NOT a failure of the call: the call returns
 * 0 and r.ok == 0, r.err_code / r.err_message say why (see cx_client_resp_err()).
 *
 * Caveats (threads): a cx_client is used by one thread at a time; use one client per thread.
 * SIGPIPE: sends use MSG_NOSIGNAL, so a closed peer is CX_ECONN, never a signal.
 */
#ifndef CX_CLIENT_H
#define CX_CLIENT_H

#include <msgpack.h>
#include <stddef.h>
#include <stdint.h>

#include "cx_err.h"

typedef struct cx_client cx_client;

/** A decoded response. Every pointer is client-owned: valid until the next recv/call/flush/close. */
typedef struct cx_client_resp {
  const msgpack_object *root;     /* the whole response map */
  uint64_t id;                    /* the response's id (0 when absent) */
  int ok;                         /* 1: result holds the answer; 0: see err_* */
  const msgpack_object *result;   /* "result" (NULL when !ok or absent) */
  const msgpack_object *error;    /* "error" map (NULL when ok) */
  const char *err_code;           /* "bad_request", ... (not NUL-terminated: err_code_len) */
  uint32_t err_code_len;
  const char *err_message;        /* human message (not NUL-terminated: err_message_len) */
  uint32_t err_message_len;
} cx_client_resp;

/**
 * Connects to host:port (numeric IPv4/IPv6 or a name). timeout_ms bounds the connect and every
 * later wait for the socket (0 = no timeout; a timeout is CX_EIO). On success *out is an owned handle (cx_client_close).
 * CX_ECONN when the server cannot be reached; then errno says why (ECONNREFUSED, ETIMEDOUT,
 * ENETUNREACH, ... of the last address tried), or is 0 when the host name does not resolve.
 * (The one place this library leaves a reason in errno: a message needs it, an enum would not
 * carry it.)
 */
int cx_client_connect(const char *host, int port, int timeout_ms, cx_client **out);
/** Closes the connection and frees everything, including any response still held. NULL ok. */
void cx_client_close(cx_client *c);

/** Largest response frame accepted (default 64 MiB). */
void cx_client_set_max_frame(cx_client *c, size_t max);

/** The packing callback: pack exactly n_args key/value pairs. Return 0, or non-zero to abort. */
typedef int (*cx_client_pack_fn)(msgpack_packer *pk, void *ctx);

/**
 * Sends one request {"id": <next id>, "op": op, ...n_args pairs packed by fn} and returns its id
 * through *id (may be NULL). Does not wait for the response. fn may be NULL when n_args == 0.
 * The request is buffered: it goes out on cx_client_flush or on the next recv.
 */
int cx_client_send(cx_client *c, const char *op, uint32_t n_args, cx_client_pack_fn fn, void *ctx,
                   uint64_t *id);
/** Sends prebuilt payload bytes as one frame (the client adds the 4-byte length). */
int cx_client_send_frame(cx_client *c, const void *payload, size_t n);
/** Sends raw bytes exactly as given (no framing): for tests of malformed input. */
int cx_client_send_raw(cx_client *c, const void *p, size_t n);
/** Writes out everything buffered. */
int cx_client_flush(cx_client *c);
/**
 * Receives the next response (flushes pending requests first). Responses arrive in request
 * order. The previous response's memory is released.
 */
int cx_client_recv(cx_client *c, cx_client_resp *r);
/** cx_client_send + cx_client_recv, checking that the ids match (CX_EBADFRAME if not). */
int cx_client_call(cx_client *c, const char *op, uint32_t n_args, cx_client_pack_fn fn, void *ctx,
                   cx_client_resp *r);

/**
 * auth {token}: switches this connection's role. On success writes the role name (NUL-
 * terminated, truncated to cap) into role (may be NULL). CX_EFORBIDDEN for a bad token.
 */
int cx_client_auth(cx_client *c, const char *token, char *role, size_t cap);

/* ---- helpers over msgpack objects (responses) ---- */

/** Value of key in a map object, or NULL (also when obj is not a map). */
const msgpack_object *cx_mpo_get(const msgpack_object *obj, const char *key);
/** 1 when obj is a str equal to s. */
int cx_mpo_str_eq(const msgpack_object *obj, const char *s);
/** Copies a str object into buf (NUL-terminated, truncated); "" when not a str. Returns buf. */
const char *cx_mpo_str(const msgpack_object *obj, char *buf, size_t cap);
/** Integer value of obj (uint or int), or dflt. */
int64_t cx_mpo_int(const msgpack_object *obj, int64_t dflt);
/**
 * Maps an error response to its CX_E* code by name ("forbidden" -> CX_EFORBIDDEN, ...);
 * 0 when r->ok. Unknown names -> CX_EINTERNAL.
 */
int cx_client_resp_err(const cx_client_resp *r);

#endif
