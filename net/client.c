/*
 * client.c — the blocking protocol client (client.h).
 */
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "client.h"
#include "wire.h"

struct cx_client {
  int fd;
  int timeout_ms;
  size_t max_frame;
  uint64_t next_id;
  cx_buf out;          /* requests not yet written */
  cx_buf in;           /* bytes received, from in_off on not yet consumed */
  size_t in_off;
  msgpack_zone zone;   /* holds the last response; cleared on the next recv */
  msgpack_object root;
  msgpack_packer pk;
};

static int wait_fd(cx_client *c, short ev) {
  if (c->timeout_ms <= 0) return 0;
  struct pollfd pfd = {.fd = c->fd, .events = ev};
  for (;;) {
    int k = poll(&pfd, 1, c->timeout_ms);
    if (k > 0) return 0;
    if (k == 0) return CX_EIO;
    if (errno != EINTR) return CX_EIO;
  }
}

/* connect() bounded by timeout_ms (0 = the kernel's own timeout); the socket stays blocking. */
static int connect_timeout(int fd, const struct sockaddr *sa, socklen_t sl, int timeout_ms) {
  if (timeout_ms <= 0) return connect(fd, sa, sl);
  int fl = fcntl(fd, F_GETFL);
  if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) return -1;
  int rc = connect(fd, sa, sl);
  if (rc != 0 && errno == EINPROGRESS) {
    struct pollfd pfd = {.fd = fd, .events = POLLOUT};
    int k;
    do k = poll(&pfd, 1, timeout_ms);
    while (k < 0 && errno == EINTR);
    int err = 0;
    socklen_t el = sizeof err;
    if (k == 1 && getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &el) == 0 && err == 0) rc = 0;
    else {
      rc = -1;
      errno = k == 0 ? ETIMEDOUT : err ? err : errno; /* the reason, for the caller's message */
    }
  }
  int saved = errno;
  if (fcntl(fd, F_SETFL, fl) < 0) return -1;
  errno = saved;
  return rc;
}

int cx_client_connect(const char *host, int port, int timeout_ms, cx_client **out) {
  char portstr[16];
  snprintf(portstr, sizeof portstr, "%d", port);
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM};
  struct addrinfo *ai = NULL;
  if (getaddrinfo(host, portstr, &hints, &ai) != 0 || !ai) {
    errno = 0; /* documented: the name does not resolve */
    return CX_ECONN;
  }
  int fd = -1, why = 0;
  for (struct addrinfo *a = ai; a; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      why = errno;
      continue;
    }
    if (connect_timeout(fd, a->ai_addr, a->ai_addrlen, timeout_ms) == 0) break;
    why = errno;
    close(fd);
    fd = -1;
  }
  freeaddrinfo(ai);
  if (fd < 0) {
    errno = why; /* the last address's reason (ECONNREFUSED, ETIMEDOUT, ...) */
    return CX_ECONN;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  cx_client *c = cx_calloc(1, sizeof *c);
  if (!c) {
    close(fd);
    return CX_ENOMEM;
  }
  c->fd = fd;
  c->timeout_ms = timeout_ms;
  c->max_frame = 64u << 20;
  c->next_id = 1;
  if (cx_buf_init(&c->out, 64 << 10) || cx_buf_init(&c->in, 64 << 10) ||
      !msgpack_zone_init(&c->zone, 64 << 10)) {
    cx_buf_free(&c->out);
    cx_buf_free(&c->in);
    free(c);
    close(fd);
    return CX_ENOMEM;
  }
  msgpack_packer_init(&c->pk, &c->out, cx_buf_msgpack_write);
  *out = c;
  return 0;
}

void cx_client_close(cx_client *c) {
  if (!c) return;
  close(c->fd);
  cx_buf_free(&c->out);
  cx_buf_free(&c->in);
  msgpack_zone_destroy(&c->zone);
  free(c);
}

void cx_client_set_max_frame(cx_client *c, size_t max) { c->max_frame = max; }

int cx_client_send_raw(cx_client *c, const void *p, size_t n) {
  return cx_buf_append(&c->out, p, n);
}

int cx_client_send_frame(cx_client *c, const void *payload, size_t n) {
  if (n > UINT32_MAX) return CX_ETOOLARGE;
  unsigned char hdr[CX_FRAME_HDR];
  cx_frame_header(hdr, (uint32_t)n);
  int rc = cx_buf_append(&c->out, hdr, sizeof hdr);
  if (!rc) rc = cx_buf_append(&c->out, payload, n);
  return rc;
}

int cx_client_send(cx_client *c, const char *op, uint32_t n_args, cx_client_pack_fn fn, void *ctx,
                   uint64_t *id) {
  size_t start = c->out.len;
  int rc = cx_buf_reserve(&c->out, CX_FRAME_HDR);
  if (rc) return rc;
  c->out.len += CX_FRAME_HDR;
  uint64_t rid = c->next_id;
  size_t oplen = strlen(op);
  msgpack_pack_map(&c->pk, 2 + n_args);
  msgpack_pack_str_with_body(&c->pk, "id", 2);
  msgpack_pack_uint64(&c->pk, rid);
  msgpack_pack_str_with_body(&c->pk, "op", 2);
  msgpack_pack_str_with_body(&c->pk, op, oplen);
  if (n_args && (!fn || fn(&c->pk, ctx) != 0)) {
    c->out.len = start;
    return CX_EBADREQ;
  }
  size_t len = c->out.len - start - CX_FRAME_HDR;
  if (len > UINT32_MAX) {
    c->out.len = start;
    return CX_ETOOLARGE;
  }
  cx_frame_header((unsigned char *)c->out.p + start, (uint32_t)len);
  c->next_id++;
  if (id) *id = rid;
  return 0;
}

static int in_room(cx_client *c, size_t want);

int cx_client_flush(cx_client *c) {
  size_t off = 0;
  int rc = 0;
  while (off < c->out.len) {
    ssize_t k = send(c->fd, c->out.p + off, c->out.len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (k > 0) {
      off += (size_t)k;
      continue;
    }
    if (k < 0 && errno == EINTR) continue;
    if (k < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      /* Deadlock avoidance for deep pipelines: while the server cannot take more requests,
       * it may be waiting for us to read its responses. Read them into c->in meanwhile. */
      struct pollfd pfd = {.fd = c->fd, .events = POLLOUT | POLLIN};
      int n = poll(&pfd, 1, c->timeout_ms > 0 ? c->timeout_ms : -1);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) { rc = CX_EIO; goto fail; }
      if (pfd.revents & POLLIN) {
        if ((rc = in_room(c, 65536))) goto fail;
        ssize_t m = recv(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len, MSG_DONTWAIT);
        if (m > 0) c->in.len += (size_t)m;
        else if (m == 0) { rc = CX_ECONN; goto fail; }
        else if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) { rc = CX_ECONN; goto fail; }
      } else if (pfd.revents & (POLLERR | POLLHUP)) {
        rc = CX_ECONN;
        goto fail;
      }
      continue;
    }
    rc = CX_ECONN;
    goto fail;
  }
  c->out.len = 0;
  return 0;
fail:
  c->out.len = 0; /* a half-sent request cannot be resumed: drop it */
  return rc;
}

/* Makes room for want more bytes in c->in (compacting first). */
static int in_room(cx_client *c, size_t want) {
  if (c->in_off && c->in_off == c->in.len) c->in_off = c->in.len = 0;
  if (c->in.cap - c->in.len >= want) return 0;
  if (c->in_off) {
    memmove(c->in.p, c->in.p + c->in_off, c->in.len - c->in_off);
    c->in.len -= c->in_off;
    c->in_off = 0;
  }
  return cx_buf_reserve(&c->in, want);
}

/* Reads at least one more byte into c->in. */
static int fill(cx_client *c) {
  int rc = in_room(c, 16384);
  if (rc) return rc;
  for (;;) {
    if ((rc = wait_fd(c, POLLIN))) return rc;
    ssize_t k = recv(c->fd, c->in.p + c->in.len, c->in.cap - c->in.len, 0);
    if (k > 0) {
      c->in.len += (size_t)k;
      return 0;
    }
    if (k == 0) return CX_ECONN;
    if (errno == EINTR) continue;
    return errno == ECONNRESET ? CX_ECONN : CX_EIO;
  }
}

int cx_client_recv(cx_client *c, cx_client_resp *r) {
  int rc = cx_client_flush(c);
  if (rc) return rc;
  msgpack_zone_clear(&c->zone);
  const unsigned char *payload = NULL;
  size_t plen = 0, need = 0;
  long got;
  for (;;) {
    got = cx_frame_parse(c->in.p + c->in_off, c->in.len - c->in_off, c->max_frame, &payload,
                         &plen, &need);
    if (got > 0) break;
    if (got != CX_EAGAIN) return (int)got;
    if ((rc = in_room(c, need - (c->in.len - c->in_off)))) return rc;
    if ((rc = fill(c))) return rc;
  }
  c->in_off += (size_t)got;
  if (cx_mp_validate(payload, plen) != 0) return CX_EBADFRAME;
  size_t off = 0;
  msgpack_unpack_return ur =
      msgpack_unpack((const char *)payload, plen, &off, &c->zone, &c->root);
  if (ur != MSGPACK_UNPACK_SUCCESS || c->root.type != MSGPACK_OBJECT_MAP) return CX_EBADFRAME;
  memset(r, 0, sizeof *r);
  r->root = &c->root;
  r->id = (uint64_t)cx_mpo_int(cx_mpo_get(&c->root, "id"), 0);
  const msgpack_object *ok = cx_mpo_get(&c->root, "ok");
  r->ok = ok && ok->type == MSGPACK_OBJECT_BOOLEAN && ok->via.boolean;
  if (r->ok) {
    r->result = cx_mpo_get(&c->root, "result");
  } else {
    r->error = cx_mpo_get(&c->root, "error");
    const msgpack_object *code = cx_mpo_get(r->error, "code");
    const msgpack_object *msg = cx_mpo_get(r->error, "message");
    if (code && code->type == MSGPACK_OBJECT_STR) {
      r->err_code = code->via.str.ptr;
      r->err_code_len = code->via.str.size;
    } else {
      r->err_code = "internal";
      r->err_code_len = 8;
    }
    if (msg && msg->type == MSGPACK_OBJECT_STR) {
      r->err_message = msg->via.str.ptr;
      r->err_message_len = msg->via.str.size;
    } else {
      r->err_message = "";
    }
  }
  return 0;
}

int cx_client_call(cx_client *c, const char *op, uint32_t n_args, cx_client_pack_fn fn, void *ctx,
                   cx_client_resp *r) {
  uint64_t id = 0;
  int rc = cx_client_send(c, op, n_args, fn, ctx, &id);
  if (rc) return rc;
  rc = cx_client_recv(c, r);
  if (rc) return rc;
  if (r->id != id) return CX_EBADFRAME;
  return 0;
}

static int pack_token(msgpack_packer *pk, void *ctx) {
  const char *t = ctx;
  msgpack_pack_str_with_body(pk, "token", 5);
  msgpack_pack_str_with_body(pk, t, strlen(t));
  return 0;
}

int cx_client_auth(cx_client *c, const char *token, char *role, size_t cap) {
  cx_client_resp r;
  int rc = cx_client_call(c, "auth", 1, pack_token, (void *)token, &r);
  if (rc) return rc;
  if (!r.ok) return cx_client_resp_err(&r);
  if (role && cap) cx_mpo_str(cx_mpo_get(r.result, "role"), role, cap);
  return 0;
}

/* ===================================================================== helpers */

const msgpack_object *cx_mpo_get(const msgpack_object *obj, const char *key) {
  if (!obj || obj->type != MSGPACK_OBJECT_MAP) return NULL;
  size_t kl = strlen(key);
  for (uint32_t i = 0; i < obj->via.map.size; i++) {
    const msgpack_object *k = &obj->via.map.ptr[i].key;
    if (k->type == MSGPACK_OBJECT_STR && k->via.str.size == kl &&
        memcmp(k->via.str.ptr, key, kl) == 0)
      return &obj->via.map.ptr[i].val;
  }
  return NULL;
}

int cx_mpo_str_eq(const msgpack_object *obj, const char *s) {
  if (!obj || obj->type != MSGPACK_OBJECT_STR) return 0;
  size_t n = strlen(s);
  return obj->via.str.size == n && memcmp(obj->via.str.ptr, s, n) == 0;
}

const char *cx_mpo_str(const msgpack_object *obj, char *buf, size_t cap) {
  if (!cap) return buf;
  buf[0] = 0;
  if (!obj || obj->type != MSGPACK_OBJECT_STR) return buf;
  size_t n = obj->via.str.size;
  if (n >= cap) n = cap - 1;
  memcpy(buf, obj->via.str.ptr, n);
  buf[n] = 0;
  return buf;
}

int64_t cx_mpo_int(const msgpack_object *obj, int64_t dflt) {
  if (!obj) return dflt;
  if (obj->type == MSGPACK_OBJECT_POSITIVE_INTEGER) return (int64_t)obj->via.u64;
  if (obj->type == MSGPACK_OBJECT_NEGATIVE_INTEGER) return obj->via.i64;
  return dflt;
}

int cx_client_resp_err(const cx_client_resp *r) {
  if (r->ok) return 0;
  /* The first code of the error table with this wire name (store/cx_err.h). */
  for (int c = -1; c >= CX_ERR_MIN; c--) {
    const char *name = cx_err_name(c);
    size_t n = strlen(name);
    if (r->err_code_len == n && memcmp(r->err_code, name, n) == 0) return c;
  }
  return CX_EINTERNAL;
}
