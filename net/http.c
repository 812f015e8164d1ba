/*
 * http.c — the HTTP/JSON door (h2o's libuv build: HTTP/1.1 and HTTP/2, TLS through OpenSSL,
 * gzip), on chengxind's worker loops. Doors only translate: a route of the op table
 * (exec.h, the `http` column) turns the path, the query string and the JSON body into the
 * same msgpack request the msgpack door reads, cx_exec_run() answers it, and the answer is
 * written back as JSON with the HTTP status of its error code (cx_exec_http_status). Slow ops
 * run on libuv's thread pool as on the msgpack door.
 *
 * Answers: 200 with the result object as the body; an error: its status and
 * {"error": {"code", "message", "details"?}}. Every answer carries X-Request-Id (the
 * client's, when it sent a sane one, else one of ours). A Bearer token the server does not
 * know is 401 (and counted, logged with the peer, like a failed auth); no token is the public
 * role.
 *
 * Besides /v1: GET /healthz (the process answers), /readyz (store open, audit flusher alive),
 * /metrics (Prometheus text, the server's hook), /v1/openapi.json (generated from the op
 * table at start). Every other GET is a page of the public site (site.c), whose data come
 * from cx__http_run with the public role: the same path into the executor as /v1.
 */
#include <arpa/inet.h>
#include <ctype.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <h2o.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <uv.h>

#include "net_int.h"

/* ===================================================================== routes */

#define MAX_SEGS 8
/* Slow ops (aggregate, writes) of one loop's HTTP connections queued on the thread pool at
 * once. The msgpack door allows one per connection (its requests are answered in order); an
 * HTTP/2 connection may send many streams at once, so the HTTP door bounds them per loop
 * instead: past this, `busy` (429). */
#define CX_HTTP_MAX_JOBS 32
#define CX_HTTP2_STREAMS 16 /* concurrent requests of one HTTP/2 connection */
#define MAX_QPARAMS 8
#define FIELD_MAX 32

typedef struct route_seg {
  char text[FIELD_MAX]; /* literal, or the field name */
  int is_field;
} route_seg;

typedef struct route_param {
  char name[FIELD_MAX];  /* in the query string */
  char field[FIELD_MAX]; /* in the request */
  int is_uint;
} route_param;

typedef struct route {
  int op;
  int post;
  uint32_t nseg, nparam;
  route_seg seg[MAX_SEGS];
  route_param param[MAX_QPARAMS];
} route;

struct cx_http {
  cx_http_hooks k;
  h2o_globalconf_t conf;
  h2o_hostconf_t *host;
  SSL_CTX *ssl;
  route routes[CX_OP_COUNT];
  uint32_t nroutes;
  char *openapi;
  size_t openapi_len;
  cx_site *site; /* the public site (site.c) */
};

static void copy_field(char *dst, const char *p, size_t n) {
  if (n >= FIELD_MAX) n = FIELD_MAX - 1;
  memcpy(dst, p, n);
  dst[n] = 0;
}

/* "METHOD /a/{f}/b?x&y:uint&q=prefix" */
static int route_parse(const char *spec, int op, route *r) {
  memset(r, 0, sizeof *r);
  r->op = op;
  if (strncmp(spec, "GET /", 5) == 0) spec += 4;
  else if (strncmp(spec, "POST /", 6) == 0) spec += 5, r->post = 1;
  else return -1;
  const char *q = strchr(spec, '?');
  const char *pend = q ? q : spec + strlen(spec);
  for (const char *p = spec + 1; p < pend;) {
    const char *e = memchr(p, '/', (size_t)(pend - p));
    if (!e) e = pend;
    if (r->nseg == MAX_SEGS) return -1;
    route_seg *s = &r->seg[r->nseg++];
    if (*p == '{' && e[-1] == '}') {
      s->is_field = 1;
      copy_field(s->text, p + 1, (size_t)(e - p - 2));
    } else {
      copy_field(s->text, p, (size_t)(e - p));
    }
    p = e + (e < pend);
  }
  if (q) {
    for (const char *p = q + 1; *p;) {
      const char *e = strchr(p, '&');
      if (!e) e = p + strlen(p);
      if (r->nparam == MAX_QPARAMS) return -1;
      route_param *pa = &r->param[r->nparam++];
      const char *colon = memchr(p, ':', (size_t)(e - p)), *eq = memchr(p, '=', (size_t)(e - p));
      const char *nend = colon ? colon : eq ? eq : e;
      copy_field(pa->name, p, (size_t)(nend - p));
      if (eq) copy_field(pa->field, eq + 1, (size_t)(e - eq - 1));
      else copy_field(pa->field, p, (size_t)(nend - p));
      pa->is_uint = colon && strncmp(colon + 1, "uint", 4) == 0;
      p = *e ? e + 1 : e;
    }
  }
  return 0;
}

/* Percent-decoding of one path segment or query value; 0, or -1 when it is not well formed
 * (a bad escape, a NUL) or does not fit. '+' is a space in the query string only. */
int cx__http_pct_decode(const char *p, size_t n, int plus, char *out, size_t cap, size_t *len) {
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    int c = (unsigned char)p[i];
    if (c == '%') {
      if (i + 2 >= n) return -1;
      if (!isxdigit((unsigned char)p[i + 1]) || !isxdigit((unsigned char)p[i + 2])) return -1;
      char h[3] = {p[i + 1], p[i + 2], 0};
      c = (int)strtol(h, NULL, 16);
      i += 2;
      if (c == 0) return -1;
    } else if (c == '+' && plus) {
      c = ' ';
    }
    if (k + 1 >= cap) return -1;
    out[k++] = (char)c;
  }
  out[k] = 0;
  *len = k;
  return 0;
}

/* ===================================================================== msgpack -> JSON */

static void j_raw(cx_buf *o, const char *s, size_t n) { cx_buf_append(o, s, n); }
static void j_lit(cx_buf *o, const char *s) { cx_buf_append(o, s, strlen(s)); }

static void j_str(cx_buf *o, const char *p, size_t n) {
  /* The common case, keys and codes: printable ASCII that needs no escape, copied at once. */
  size_t plain = 0;
  while (plain < n) {
    unsigned char c = (unsigned char)p[plain];
    if (c < 0x20 || c >= 0x7F || c == '"' || c == '\\') break;
    plain++;
  }
  if (plain == n) {
    if (cx_buf_reserve(o, n + 2)) return;
    char *w = o->p + o->len;
    w[0] = '"';
    memcpy(w + 1, p, n);
    w[n + 1] = '"';
    o->len += n + 2;
    return;
  }
  char tmp[4 * 64 + 1];
  char *esc = NULL;
  if (cx_text_check(p, n, CX_TEXT_UTF8, NULL) != 0) { /* shown escaped, as the CLI does */
    esc = n < 64 ? tmp : cx_malloc(4 * n + 1);
    if (!esc) {
      j_lit(o, "\"\"");
      return;
    }
    n = cx_text_escape(p, n, CX_TEXT_UTF8, esc, 4 * n + 1);
    p = esc;
  }
  j_raw(o, "\"", 1);
  size_t run = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if (c >= 0x20 && c != '"' && c != '\\') continue;
    j_raw(o, p + run, i - run);
    char e[8];
    switch (c) {
    case '"': j_lit(o, "\\\""); break;
    case '\\': j_lit(o, "\\\\"); break;
    case '\n': j_lit(o, "\\n"); break;
    case '\t': j_lit(o, "\\t"); break;
    case '\r': j_lit(o, "\\r"); break;
    default:
      snprintf(e, sizeof e, "\\u%04x", c);
      j_lit(o, e);
    }
    run = i + 1;
  }
  j_raw(o, p + run, n - run);
  j_raw(o, "\"", 1);
  if (esc && esc != tmp) free(esc);
}

static void j_double(cx_buf *o, double d) {
  if (!isfinite(d)) {
    j_lit(o, "null");
    return;
  }
  char b[40];
  snprintf(b, sizeof b, "%.15g", d);
  if (strtod(b, NULL) != d) snprintf(b, sizeof b, "%.17g", d);
  j_lit(o, b);
}

/* The decimal digits of v into b (at least 20 bytes); their number. */
static size_t dec_u64(char *b, uint64_t v) {
  char t[20];
  size_t k = 0;
  do {
    t[k++] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  for (size_t i = 0; i < k; i++) b[i] = t[k - 1 - i];
  return k;
}

/* One msgpack value at r as JSON (the executor's answers: string keys, no bin/ext). */
static int j_value(cx_mp *r, cx_buf *o, int depth) {
  if (depth > (int)CX_NET_MAX_DEPTH) return CX_EBADFRAME;
  int t = cx_mp_peek(r);
  char b[32];
  switch (t) {
  case CX_MP_NIL: cx_mp_read_nil(r); j_lit(o, "null"); return 0;
  case CX_MP_BOOL: {
    int v;
    cx_mp_read_bool(r, &v);
    j_lit(o, v ? "true" : "false");
    return 0;
  }
  case CX_MP_UINT: {
    uint64_t v;
    if (cx_mp_read_uint(r, &v)) return CX_EBADFRAME;
    j_raw(o, b, dec_u64(b, v));
    return 0;
  }
  case CX_MP_INT: {
    int64_t v;
    if (cx_mp_read_int(r, &v)) return CX_EBADFRAME;
    size_t k = 0;
    if (v < 0) b[k++] = '-';
    k += dec_u64(b + k, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v);
    j_raw(o, b, k);
    return 0;
  }
  case CX_MP_FLOAT: {
    /* the reader has no float accessor: decode the 5 or 9 bytes here */
    const unsigned char *p = r->p;
    double d = 0;
    if (p[0] == 0xca && cx_mp_left(r) >= 5) {
      uint32_t u = (uint32_t)p[1] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 8 | p[4];
      float f;
      memcpy(&f, &u, 4);
      d = f;
    } else if (p[0] == 0xcb && cx_mp_left(r) >= 9) {
      uint64_t u = 0;
      for (int i = 1; i <= 8; i++) u = u << 8 | p[i];
      memcpy(&d, &u, 8);
    } else {
      return CX_EBADFRAME;
    }
    cx_mp_skip(r);
    j_double(o, d);
    return 0;
  }
  case CX_MP_STR: {
    cx_str s;
    cx_mp_read_str(r, &s);
    j_str(o, s.p, s.n);
    return 0;
  }
  case CX_MP_ARRAY: {
    uint32_t n;
    cx_mp_read_array(r, &n);
    j_raw(o, "[", 1);
    for (uint32_t i = 0; i < n; i++) {
      if (i) j_raw(o, ",", 1);
      int rc = j_value(r, o, depth + 1);
      if (rc) return rc;
    }
    j_raw(o, "]", 1);
    return 0;
  }
  case CX_MP_MAP: {
    uint32_t n;
    cx_mp_read_map(r, &n);
    j_raw(o, "{", 1);
    for (uint32_t i = 0; i < n; i++) {
      if (i) j_raw(o, ",", 1);
      cx_str k;
      if (cx_mp_read_str(r, &k)) return CX_EBADFRAME;
      j_str(o, k.p, k.n);
      j_raw(o, ":", 1);
      int rc = j_value(r, o, depth + 1);
      if (rc) return rc;
    }
    j_raw(o, "}", 1);
    return 0;
  }
  default:
    if (cx_mp_skip(r)) return CX_EBADFRAME;
    j_lit(o, "null");
    return 0;
  }
}

/*
 * The executor's framed answer (frame at p[0..n)) as the HTTP body: the result, or
 * {"error": ...}. Returns the error code the answer carries (0 ok), via *err_code the name.
 */
int cx__http_answer_json(const void *p, size_t n, cx_buf *o, int *err) {
  const unsigned char *pl;
  size_t plen, need;
  if (cx_frame_parse(p, n, (size_t)-1 >> 1, &pl, &plen, &need) <= 0) return CX_EINTERNAL;
  cx_mp r = cx_mp_make(pl, plen);
  uint32_t nf;
  if (cx_mp_read_map(&r, &nf)) return CX_EINTERNAL;
  int ok = 0;
  cx_mp res = {0}, er = {0};
  for (uint32_t i = 0; i < nf; i++) {
    cx_str k;
    if (cx_mp_read_str(&r, &k)) return CX_EINTERNAL;
    if (cx_str_eq(k, CX_STR("ok"))) {
      cx_mp v = r;
      cx_mp_read_bool(&v, &ok);
    } else if (cx_str_eq(k, CX_STR("result"))) {
      res = r;
    } else if (cx_str_eq(k, CX_STR("error"))) {
      er = r;
    }
    if (cx_mp_skip(&r)) return CX_EINTERNAL;
  }
  *err = 0;
  if (ok) {
    if (!res.p) {
      j_lit(o, "null");
      return 0;
    }
    return j_value(&res, o, 0) ? CX_EINTERNAL : 0;
  }
  if (!er.p) return CX_EINTERNAL;
  /* the error code's wire name back to a CX_E* for the status */
  cx_mp e = er;
  uint32_t ne;
  if (cx_mp_read_map(&e, &ne)) return CX_EINTERNAL;
  *err = CX_EINTERNAL;
  for (uint32_t i = 0; i < ne; i++) {
    cx_str k, v;
    if (cx_mp_read_str(&e, &k)) return CX_EINTERNAL;
    if (cx_str_eq(k, CX_STR("code")) && cx_mp_peek(&e) == CX_MP_STR) {
      cx_mp t = e;
      cx_mp_read_str(&t, &v);
      for (int c = -1; c >= CX_ERR_MIN; c--)
        if (cx_str_eq(v, cx_str_c(cx_err_name(c)))) {
          *err = c;
          break;
        }
    }
    if (cx_mp_skip(&e)) return CX_EINTERNAL;
  }
  j_lit(o, "{\"error\":");
  if (j_value(&er, o, 0)) return CX_EINTERNAL;
  j_lit(o, "}");
  return 0;
}

/* ===================================================================== JSON -> msgpack */


/* ===================================================================== per loop */

typedef struct cx_http_conn {
  uv_tcp_t tcp;
  h2o_socket_t *sock;
  cx_http_loop *l;
  unsigned char slot[16];
  struct cx_http_conn *prev, *next;
} cx_http_conn;

struct cx_http_loop {
  h2o_context_t ctx; /* first: req->conn->ctx is the loop */
  h2o_accept_ctx_t actx;
  cx_http *h;
  void *loop_ud;
  int idx;
  const cx_query *q;
  cx_txn *txn;
  int *txn_live;
  cx_check_hit *hits;
  uint32_t hits_cap;
  cx_audq *audq;
  cx_buf ans, json, req;
  uint64_t next_id;
  cx_http_conn *conns;
  cx_site_loop *site;
  int shutdown;
  uint32_t jobs; /* slow requests on the thread pool */
};

typedef struct http_job {
  uv_work_t work;
  cx_http_loop *l;
  h2o_req_t *req;       /* NULL once the client went away (dispose) */
  struct http_job **slot;
  int op, role, token, rc, cancel;
  const cx_tokens *tokens; /* the table token indexes (kept until the server closes) */
  uint64_t t0;
  char peer[CX_NET_PEER_MAX];
  char rid[80];
  cx_buf in, out;
  int wait_only;        /* a fast op waiting for its min_seq: the loop runs it once applied */
  uint64_t min_seq;
} http_job;

static const char *reason(int st) {
  switch (st) {
  case 200: return "OK";
  case 400: return "Bad Request";
  case 401: return "Unauthorized";
  case 403: return "Forbidden";
  case 404: return "Not Found";
  case 405: return "Method Not Allowed";
  case 413: return "Payload Too Large";
  case 429: return "Too Many Requests";
  case 503: return "Service Unavailable";
  default: return "Internal Server Error";
  }
}

static h2o_mime_attributes_t json_attr = {1, H2O_MIME_ATTRIBUTE_PRIORITY_NORMAL};

static void send_body(h2o_req_t *req, int status, const char *ctype, const char *rid, const char *body,
                      size_t n) {
  req->res.status = status;
  req->res.reason = reason(status);
  /* JSON, HTML and text are worth gzip; a PDF is compressed already */
  req->res.mime_attr = strcmp(ctype, "application/pdf") == 0 ? &h2o_mime_attributes_as_is : &json_attr;
  h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CONTENT_TYPE, NULL, ctype, strlen(ctype));
  if (rid && *rid)
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL, rid, strlen(rid));
  if (status == 401)
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_WWW_AUTHENTICATE, NULL, H2O_STRLIT("Bearer"));
  if (status == 429 || status == 503)
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_RETRY_AFTER, NULL, H2O_STRLIT("1"));
  req->res.content_length = n; /* known: no chunked encoding (gzip drops it again) */
  h2o_send_inline(req, body, n);
}

static void send_error(h2o_req_t *req, const char *rid, int status, int err, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));
static void send_error(h2o_req_t *req, const char *rid, int status, int err, const char *fmt, ...) {
  char msg[512];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  cx_buf b;
  if (cx_buf_init(&b, 256)) {
    h2o_send_error_500(req, "Internal Server Error", "out of memory", 0);
    return;
  }
  j_lit(&b, "{\"error\":{\"code\":");
  j_str(&b, cx_err_name(err), strlen(cx_err_name(err)));
  j_lit(&b, ",\"message\":");
  j_str(&b, msg, strlen(msg));
  j_lit(&b, "}}");
  if (b.failed) h2o_send_error_500(req, "Internal Server Error", "out of memory", 0);
  else send_body(req, status ? status : cx_exec_http_status(err), "application/json", rid, b.p, b.len);
  cx_buf_free(&b);
}

static void peer_of(h2o_req_t *req, char *out, size_t cap) {
  struct sockaddr_storage ss;
  out[0] = 0;
  socklen_t sl = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
  if (!sl) return;
  char ip[INET6_ADDRSTRLEN];
  if (ss.ss_family == AF_INET) {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    inet_ntop(AF_INET, &a->sin_addr, ip, sizeof ip);
    snprintf(out, cap, "%s:%u", ip, ntohs(a->sin_port));
  } else if (ss.ss_family == AF_INET6) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    inet_ntop(AF_INET6, &a->sin6_addr, ip, sizeof ip);
    snprintf(out, cap, "[%s]:%u", ip, ntohs(a->sin6_port));
  }
}

/* The client's X-Request-Id when it is short printable ASCII, else ours (loop-counter). */
static void request_id(cx_http_loop *l, h2o_req_t *req, char *out, size_t cap) {
  ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-request-id"), -1);
  if (i >= 0) {
    h2o_iovec_t v = req->headers.entries[i].value;
    int good = v.len > 0 && v.len < cap && v.len <= 64;
    for (size_t k = 0; good && k < v.len; k++) good = v.base[k] > 0x20 && v.base[k] < 0x7f;
    if (good) {
      memcpy(out, v.base, v.len);
      out[v.len] = 0;
      return;
    }
  }
  snprintf(out, cap, "%d-%" PRIu64, l->idx, ++l->next_id);
}

/* Role and token from Authorization: 0; 1 when a token was given and is unknown (401). */
static int bearer(cx_http_loop *l, h2o_req_t *req, int *role, int *token, const cx_tokens **table) {
  *role = CX_ROLE_PUBLIC;
  *token = -1;
  *table = NULL;
  ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_AUTHORIZATION, -1);
  if (i < 0) return 0;
  h2o_iovec_t v = req->headers.entries[i].value;
  if (v.len < 7 || strncasecmp(v.base, "Bearer ", 7) != 0) return 1;
  cx_str tok = {v.base + 7, (uint32_t)(v.len - 7)};
  while (tok.n && tok.p[0] == ' ') tok.p++, tok.n--;
  /* the table of now: a reload (SIGHUP) may publish another; the index is of this one */
  const cx_tokens *tk = __atomic_load_n(&l->h->k.env->tokens, __ATOMIC_ACQUIRE);
  int k = tk ? cx_tokens_find(tk, tok) : CX_ENOTFOUND;
  if (k < 0) return 1;
  *role = tk->v[k].role;
  *token = k;
  *table = tk;
  return 0;
}

/* Matches path (without the query) to a route; fills the path fields. */
typedef struct bound {
  char name[FIELD_MAX];
  char val[1024];
  size_t len;
  int is_uint;
} bound;

static const route *match(cx_http *h, int post, const char *path, size_t n, bound *b, uint32_t *nb,
                          int *method_wrong) {
  const char *segs[MAX_SEGS + 1];
  size_t lens[MAX_SEGS + 1];
  uint32_t ns = 0;
  if (!n || path[0] != '/') return NULL;
  for (size_t i = 1, st = 1; i <= n; i++)
    if (i == n || path[i] == '/') {
      if (ns == MAX_SEGS + 1) return NULL;
      segs[ns] = path + st;
      lens[ns++] = i - st;
      st = i + 1;
    }
  *method_wrong = 0;
  for (uint32_t r = 0; r < h->nroutes; r++) {
    const route *ro = &h->routes[r];
    if (ro->nseg != ns) continue;
    uint32_t k = 0, i;
    for (i = 0; i < ns; i++) {
      if (ro->seg[i].is_field) {
        if (!lens[i]) break;
        bound *x = &b[k];
        copy_field(x->name, ro->seg[i].text, strlen(ro->seg[i].text));
        x->is_uint = 0;
        if (cx__http_pct_decode(segs[i], lens[i], 0, x->val, sizeof x->val, &x->len)) break;
        k++;
      } else if (lens[i] != strlen(ro->seg[i].text) || memcmp(segs[i], ro->seg[i].text, lens[i])) {
        break;
      }
    }
    if (i < ns) continue;
    if (ro->post != post) {
      *method_wrong = 1;
      continue;
    }
    *nb = k;
    return ro;
  }
  return NULL;
}

static void pk_key(msgpack_packer *pk, const char *k) { msgpack_pack_str_with_body(pk, k, strlen(k)); }

static void job_dispose(void *p) {
  http_job **slot = p;
  if (*slot) {
    (*slot)->req = NULL;
    __atomic_store_n(&(*slot)->cancel, 1, __ATOMIC_RELAXED);
  }
}

static void job_work(uv_work_t *w) {
  http_job *j = w->data;
  cx_http *h = j->l->h;
  /* min_seq: wait here (bounded), before any snapshot is taken; the executor then checks */
  if (j->min_seq && h->k.env->at_seq) h->k.env->at_seq(h->k.env->ud, j->min_seq, CX_NET_MIN_SEQ_WAIT_MS, NULL);
  if (j->wait_only) {
    j->rc = 0;
    return;
  }
  cx_exec_ctx x;
  memset(&x, 0, sizeof x);
  cx_buf details;
  cx_buf_init(&details, 0);
  int live = 0, terr = 0;
  cx_txn *t = NULL;
  if (cx_op_reads_snapshot(j->op)) {
    t = h->k.txn_get(h->k.ud, &terr);
    if (!t) {
      cx_exec_error_frame(&j->out, 0, terr, "cannot open a read snapshot");
      j->rc = terr;
      cx_buf_free(&details);
      return;
    }
    live = 1;
  }
  x.env = h->k.env;
  x.q = __atomic_load_n(h->k.pool_q, __ATOMIC_ACQUIRE);
  x.txn = t;
  x.txn_live = &live;
  x.role = j->role;
  x.token = j->token;
  x.tokens = j->tokens;
  x.peer = j->peer;
  x.cancel = &j->cancel;
  x.out = &j->out;
  x.details = &details;
  j->rc = cx_exec(&x, j->in.p, j->in.len);
  if (t) h->k.txn_put(h->k.ud, t, live);
  cx_buf_free(&details);
}

static void respond(cx_http_loop *l, h2o_req_t *req, const char *rid, const cx_buf *ans);

static void job_done(uv_work_t *w, int status) {
  (void)status;
  http_job *j = w->data;
  cx_http_loop *l = j->l;
  if (j->req && j->wait_only) { /* waited for min_seq: the op runs here, on its loop */
    *j->slot = NULL;
    const cx_buf *ans;
    cx__http_run(l, j->op, j->role, j->token, j->tokens, j->peer, j->rid, j->in.p, j->in.len, j->t0, &ans);
    if (!ans)
      send_error(j->req, j->rid, 413, CX_ETOOLARGE, "the answer is larger than %zu bytes: ask for less",
                 l->h->k.max_answer);
    else
      respond(l, j->req, j->rid, ans);
    l->jobs--;
    cx_buf_free(&j->in);
    cx_buf_free(&j->out);
    free(j);
    return; /* counted by cx__http_run */
  }
  if (j->req) {
    *j->slot = NULL;
    respond(l, j->req, j->rid, &j->out);
  }
  if (l->h->k.account)
    l->h->k.account(l->h->k.ud, l->loop_ud, j->op, j->rc, j->t0, j->role, j->tokens, j->token, j->peer, j->rid);
  l->jobs--;
  cx_buf_free(&j->in);
  cx_buf_free(&j->out);
  free(j);
}

static void respond(cx_http_loop *l, h2o_req_t *req, const char *rid, const cx_buf *ans) {
  l->json.len = 0;
  cx_buf_clear_failure(&l->json);
  int err = 0;
  if (ans->failed || cx__http_answer_json(ans->p, ans->len, &l->json, &err) || l->json.failed) {
    send_error(req, rid, 500, CX_EINTERNAL, "out of memory while building the answer");
    return;
  }
  send_body(req, cx_exec_http_status(err), "application/json", rid, l->json.p, l->json.len);
  if (l->json.cap > CX_NET_OUT_INITIAL) {
    l->json.len = 0;
    cx_buf_shrink(&l->json);
  }
}

/*
 * Runs one msgpack request (payload in[0..n)) through cx_exec on the loop: the loop's read
 * snapshot (reset afterwards: no snapshot is held between requests), hit array and audit ring,
 * the answer in the loop's buffer under the door's output limit, the op counted (t0: when the
 * request arrived). Returns the answer's error code (0 ok) with *ans the framed answer,
 * borrowed until the next call on this loop; CX_ETOOLARGE with *ans NULL when the answer
 * passed the limit. The msgpack door's loop-side path, shared by on_req and the site (site.c).
 */
int cx__http_run(cx_http_loop *l, int op, int role, int token, const cx_tokens *tokens, const char *peer,
                 const char *rid, const void *in, size_t n, uint64_t t0, const cx_buf **ans) {
  cx_http *h = l->h;
  cx_exec_ctx x;
  memset(&x, 0, sizeof x);
  x.env = h->k.env;
  x.q = l->q;
  x.txn = l->txn;
  x.txn_live = l->txn_live;
  x.hits = l->hits;
  x.hits_cap = l->hits_cap;
  x.role = role;
  x.token = token;
  x.tokens = tokens;
  x.audq = l->audq;
  x.peer = peer;
  l->ans.len = 0;
  cx_buf_clear_failure(&l->ans);
  l->ans.limit = h->k.max_answer;
  l->ans.over = 0;
  x.out = &l->ans;
  int rc = cx_exec(&x, in, n);
  if (*l->txn_live) { /* no snapshot is held between requests */
    cx_store_txn_reset(l->txn);
    *l->txn_live = 0;
  }
  *ans = &l->ans;
  if (l->ans.over) {
    l->ans.over = 0;
    *ans = NULL;
    rc = CX_ETOOLARGE;
  }
  if (h->k.account) h->k.account(h->k.ud, l->loop_ud, op, rc, t0, role, tokens, token, peer, rid);
  return rc;
}

/* The site's door to the executor: the public role, nothing else (site.c). */
typedef struct site_call {
  cx_http_loop *l;
  const char *peer;
  uint64_t t0;
  const char *rid;
} site_call;

static int site_run(void *ud, int op, const void *in, size_t n, const unsigned char **ans, size_t *alen) {
  site_call *c = ud;
  const cx_buf *a;
  if (cx__http_run(c->l, op, CX_ROLE_PUBLIC, -1, NULL, c->peer, c->rid, in, n, c->t0, &a) == CX_ETOOLARGE && !a)
    return CX_ETOOLARGE;
  if (a->failed) return CX_ENOMEM;
  *ans = (const unsigned char *)a->p;
  *alen = a->len;
  return 0;
}

static void site_headers(h2o_req_t *req, const char *cache) {
  h2o_mem_pool_t *pool = &req->pool;
  h2o_headers_t *hd = &req->res.headers;
  h2o_add_header(pool, hd, H2O_TOKEN_CACHE_CONTROL, NULL, cache, strlen(cache));
  h2o_add_header_by_str(pool, hd, H2O_STRLIT("x-content-type-options"), 0, NULL, H2O_STRLIT("nosniff"));
  h2o_add_header_by_str(pool, hd, H2O_STRLIT("content-security-policy"), 0, NULL,
                        H2O_STRLIT("default-src 'none'; style-src 'self'; img-src 'self' data:; "
                                   "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"));
  h2o_add_header_by_str(pool, hd, H2O_STRLIT("referrer-policy"), 0, NULL, H2O_STRLIT("same-origin"));
}

/* A report PDF drawn on the thread pool (cairo and pango take tens of milliseconds: on the loop
 * they would stall every connection of it); counted with the slow requests (CX_HTTP_MAX_JOBS). */
typedef struct pdf_job {
  uv_work_t work;
  cx_http_loop *l;
  h2o_req_t *req;       /* NULL once the client went away (dispose) */
  struct pdf_job **slot;
  char *doc;
  size_t n;
  char title[340], day[16], rid[80];
  cx_buf out;
  int rc;
} pdf_job;

static void pdf_dispose(void *p) {
  pdf_job **slot = p;
  if (*slot) (*slot)->req = NULL;
}

static void pdf_work(uv_work_t *w) {
  pdf_job *j = w->data;
  j->rc = cx__site_pdf(j->doc, j->n, j->title, j->day, &j->out);
}

static void site_text(h2o_req_t *req, const char *rid, int status, const char *msg) {
  site_headers(req, "no-store");
  send_body(req, status, "text/plain; charset=utf-8", rid, msg, strlen(msg));
}

static void pdf_done(uv_work_t *w, int status) {
  (void)status;
  pdf_job *j = w->data;
  j->l->jobs--;
  if (j->req) {
    *j->slot = NULL;
    if (j->rc || j->out.failed) {
      site_text(j->req, j->rid, 500, "PDF 生成失败，请使用网页版报告打印。\n");
    } else {
      site_headers(j->req, "no-cache");
      send_body(j->req, 200, "application/pdf", j->rid, j->out.p, j->out.len);
    }
  }
  free(j->doc);
  cx_buf_free(&j->out);
  free(j);
}

static void pdf_queue(cx_http_loop *l, h2o_req_t *req, const char *rid, const cx_site_page *pg) {
  if (l->jobs >= CX_HTTP_MAX_JOBS) {
    site_text(req, rid, 429, "服务繁忙，请稍后再试。\n");
    return;
  }
  pdf_job *j = cx_calloc(1, sizeof *j);
  if (!j || !(j->doc = cx_malloc(pg->pdf_len ? pg->pdf_len : 1)) || cx_buf_init(&j->out, 64 << 10)) {
    if (j) free(j->doc);
    free(j);
    site_text(req, rid, 500, "内存不足。\n");
    return;
  }
  memcpy(j->doc, pg->pdf_doc, pg->pdf_len);
  j->n = pg->pdf_len;
  j->l = l;
  j->req = req;
  snprintf(j->title, sizeof j->title, "%s", pg->pdf_title);
  snprintf(j->day, sizeof j->day, "%s", pg->pdf_day);
  snprintf(j->rid, sizeof j->rid, "%s", rid);
  j->out.limit = l->h->k.max_answer;
  j->slot = h2o_mem_alloc_shared(&req->pool, sizeof *j->slot, pdf_dispose);
  *j->slot = j;
  j->work.data = j;
  l->jobs++;
  if (uv_queue_work(l->ctx.loop, &j->work, pdf_work, pdf_done) != 0) {
    l->jobs--;
    *j->slot = NULL;
    free(j->doc);
    cx_buf_free(&j->out);
    free(j);
    site_text(req, rid, 500, "无法排队生成 PDF。\n");
  }
}

/* A GET outside /v1 and the operations endpoints: a page of the public site. */
static void site_serve(cx_http_loop *l, h2o_req_t *req, const char *path, size_t plen, const char *rid,
                       uint64_t t0) {
  site_call c = {l, NULL, t0, rid};
  char peer[CX_NET_PEER_MAX];
  peer_of(req, peer, sizeof peer);
  c.peer = peer;
  cx_site_page pg;
  const char *q = req->query_at != SIZE_MAX ? req->path.base + req->query_at + 1 : NULL;
  size_t qn = q ? req->path.len - req->query_at - 1 : 0;
  cx__site_render(l->site, site_run, &c, path, plen, q, qn, &pg);
  if (pg.pdf_doc && pg.status == 200) {
    pdf_queue(l, req, rid, &pg);
  } else {
    site_headers(req, pg.cache);
    /* h2o_send_inline copies the body into the request's pool: the loop's buffer may be reused */
    send_body(req, pg.status, pg.ctype, rid, pg.body, pg.len);
  }
  if (l->ans.cap > CX_NET_OUT_INITIAL) {
    l->ans.len = 0;
    cx_buf_shrink(&l->ans);
  }
}

static int is_api_path(const char *path, size_t n) {
  return (n == 3 && memcmp(path, "/v1", 3) == 0) || (n > 3 && memcmp(path, "/v1/", 4) == 0);
}

static int on_ops_endpoint(cx_http_loop *l, h2o_req_t *req, const char *path, size_t n, const char *rid) {
  cx_http *h = l->h;
#define IS(lit) (n == sizeof(lit) - 1 && memcmp(path, lit, n) == 0)
  if (IS("/healthz")) {
    send_body(req, 200, "application/json", rid, H2O_STRLIT("{\"ok\":true}"));
    return 1;
  }
  if (IS("/readyz")) {
    char why[256] = "";
    int ok = !h->k.ready || h->k.ready(h->k.ud, why, sizeof why);
    l->json.len = 0;
    j_lit(&l->json, ok ? "{\"ready\":true}" : "{\"ready\":false,\"why\":");
    if (!ok) {
      j_str(&l->json, why, strlen(why));
      j_lit(&l->json, "}");
    }
    send_body(req, ok ? 200 : 503, "application/json", rid, l->json.p, l->json.len);
    return 1;
  }
  if (IS("/metrics")) {
    l->json.len = 0;
    if (h->k.metrics) h->k.metrics(h->k.ud, &l->json);
    send_body(req, 200, "text/plain; version=0.0.4; charset=utf-8", rid, l->json.p, l->json.len);
    return 1;
  }
  if (IS("/v1/openapi.json")) {
    send_body(req, 200, "application/json", rid, h->openapi, h->openapi_len);
    return 1;
  }
#undef IS
  return 0;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req) {
  (void)self;
  cx_http_loop *l = (cx_http_loop *)req->conn->ctx;
  cx_http *h = l->h;
  if (h->k.catch_up) h->k.catch_up(h->k.ud, l->loop_ud);
  uint64_t t0 = uv_hrtime();
  char rid[80];
  request_id(l, req, rid, sizeof rid);
  size_t plen = req->query_at != SIZE_MAX ? req->query_at : req->path.len;
  const char *path = req->path.base;
  int post = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("POST"));
  int get = h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET"));
  if (get && on_ops_endpoint(l, req, path, plen, rid)) return 0;
  if (get && !is_api_path(path, plen)) {
    site_serve(l, req, path, plen, rid, t0);
    return 0;
  }
  bound b[MAX_SEGS + MAX_QPARAMS + 1]; /* + min_seq from X-Min-Seq */
  uint32_t nb = 0;
  int wrong = 0;
  const route *ro = (get || post) ? match(h, post, path, plen, b, &nb, &wrong) : NULL;
  if (!ro) {
    if (wrong || (!get && !post)) send_error(req, rid, 405, CX_EBADREQ, "method not allowed here");
    else send_error(req, rid, 404, CX_EUNKNOWNOP, "no such route (see /v1/openapi.json)");
    return 0;
  }
  /* the query string */
  if (req->query_at != SIZE_MAX) {
    const char *q = req->path.base + req->query_at + 1, *qe = req->path.base + req->path.len;
    while (q < qe) {
      const char *e = memchr(q, '&', (size_t)(qe - q));
      if (!e) e = qe;
      const char *eq = memchr(q, '=', (size_t)(e - q));
      const char *ne = eq ? eq : e;
      if (ne > q) {
        const route_param *pa = NULL;
        for (uint32_t i = 0; i < ro->nparam; i++)
          if (strlen(ro->param[i].name) == (size_t)(ne - q) && !memcmp(ro->param[i].name, q, (size_t)(ne - q)))
            pa = &ro->param[i];
        if (!pa) { /* say which the route takes (its few names fit the message) */
          char acc[256] = "";
          size_t ao = 0;
          for (uint32_t i = 0; i < ro->nparam && ao < sizeof acc - 1; i++) {
            int w = snprintf(acc + ao, sizeof acc - ao, "%s%s", i ? ", " : "", ro->param[i].name);
            if (w < 0 || (size_t)w >= sizeof acc - ao) break;
            ao += (size_t)w;
          }
          send_error(req, rid, 400, CX_EBADREQ, "unknown query parameter \"%.*s\" (%s%s)",
                     (int)(ne - q < 32 ? ne - q : 32), q, ro->nparam ? "expected one of " : "this route takes none",
                     acc);
          return 0;
        }
        for (uint32_t i = 0; i < nb; i++)
          if (!strcmp(b[i].name, pa->field)) {
            send_error(req, rid, 400, CX_EBADREQ, "query parameter \"%s\" given twice", pa->name);
            return 0;
          }
        bound *x = &b[nb];
        copy_field(x->name, pa->field, strlen(pa->field));
        x->is_uint = pa->is_uint;
        if (cx__http_pct_decode(eq ? eq + 1 : e, eq ? (size_t)(e - eq - 1) : 0, 1, x->val, sizeof x->val, &x->len)) {
          send_error(req, rid, 400, CX_EBADREQ, "query parameter \"%s\": bad percent-encoding or too long", pa->name);
          return 0;
        }
        if (x->len) nb++; /* an empty value counts as absent */
      }
      q = e + 1;
    }
  }
  /* X-Min-Seq: the request's min_seq (cross-node read-your-writes: docs/protocol.md §11) */
  ssize_t mi = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-min-seq"), -1);
  if (mi >= 0) {
    const h2o_iovec_t *v = &req->headers.entries[mi].value;
    bound *x = &b[nb];
    if (!v->len || v->len >= 21) {
      send_error(req, rid, 400, CX_EBADREQ, "X-Min-Seq must be an unsigned integer (a write's log_seq)");
      return 0;
    }
    copy_field(x->name, "min_seq", 7);
    memcpy(x->val, v->base, v->len);
    x->val[v->len] = 0;
    x->len = v->len;
    x->is_uint = 1;
    nb++;
  }
  int role, token;
  const cx_tokens *tks;
  if (bearer(l, req, &role, &token, &tks)) {
    char peer[CX_NET_PEER_MAX];
    peer_of(req, peer, sizeof peer);
    if (h->k.env->auth_failed) h->k.env->auth_failed(h->k.env->ud, peer);
    send_error(req, rid, 401, CX_EFORBIDDEN, "unknown token (Authorization: Bearer TOKEN)");
    if (h->k.account) h->k.account(h->k.ud, l->loop_ud, CX_OP_AUTH, CX_EFORBIDDEN, t0, CX_ROLE_PUBLIC, NULL, -1, peer, rid);
    return 0;
  }
  /* the body: a JSON object whose members are the op's other fields */
  json_t *body = NULL;
  if (post && req->entity.base && req->entity.len) {
    json_error_t je;
    body = json_loadb(req->entity.base, req->entity.len, JSON_REJECT_DUPLICATES, &je);
    if (!body || !json_is_object(body)) {
      json_decref(body);
      send_error(req, rid, 400, CX_EBADREQ, "the body must be a JSON object%s%s", body ? "" : ": ",
                 body ? "" : je.text);
      return 0;
    }
    for (uint32_t i = 0; i < nb; i++)
      if (json_object_get(body, b[i].name)) {
        json_decref(body);
        send_error(req, rid, 400, CX_EBADREQ, "\"%s\" is given by the path; leave it out of the body", b[i].name);
        return 0;
      }
  }
  size_t nfields = nb + (body ? json_object_size(body) : 0);
  if (nfields + 2 > CX_NET_MAX_FIELDS) {
    json_decref(body);
    send_error(req, rid, 400, CX_EBADREQ, "%zu fields (at most %u)", nfields, CX_NET_MAX_FIELDS - 2);
    return 0;
  }
  /* the msgpack request the other door would have sent */
  cx_buf *in = &l->req;
  in->len = 0;
  cx_buf_clear_failure(in);
  msgpack_packer pk;
  msgpack_packer_init(&pk, in, cx_buf_msgpack_write);
  msgpack_pack_map(&pk, 2 + nfields);
  pk_key(&pk, "id");
  msgpack_pack_uint64(&pk, 1);
  pk_key(&pk, "op");
  pk_key(&pk, cx_op_names[ro->op]);
  for (uint32_t i = 0; i < nb; i++) {
    pk_key(&pk, b[i].name);
    if (b[i].is_uint) {
      char *e;
      unsigned long long v = strtoull(b[i].val, &e, 10);
      if (*e || !isdigit((unsigned char)b[i].val[0])) {
        json_decref(body);
        send_error(req, rid, 400, CX_EBADREQ, "\"%s\" must be an unsigned integer", b[i].name);
        return 0;
      }
      msgpack_pack_uint64(&pk, v);
    } else {
      msgpack_pack_str_with_body(&pk, b[i].val, b[i].len);
    }
  }
  if (body) {
    const char *k;
    json_t *v;
    json_object_foreach(body, k, v) {
      pk_key(&pk, k);
      cx_exec_pack_json(&pk, v);
    }
    json_decref(body);
  }
  if (in->failed) {
    send_error(req, rid, 500, CX_ENOMEM, "out of memory");
    return 0;
  }
  char peer[CX_NET_PEER_MAX];
  peer_of(req, peer, sizeof peer);
  uint64_t min_seq = 0;
  int pending = 0;
  if (mi >= 0 && cx_op_allowed(role, ro->op)) { /* the executor refuses a bad value on the loop */
    char *e;
    unsigned long long v = strtoull(b[nb - 1].val, &e, 10);
    min_seq = *e ? 0 : v;
    pending = min_seq && h->k.env->at_seq && h->k.env->at_seq(h->k.env->ud, min_seq, 0, NULL) != 0;
  }
  if ((cx_op_is_slow(ro->op) && cx_op_allowed(role, ro->op)) || pending) {
    if (l->jobs >= CX_HTTP_MAX_JOBS) {
      send_error(req, rid, 429, CX_EBUSY, "%u slow requests are running on this loop; retry shortly", l->jobs);
      if (h->k.account) h->k.account(h->k.ud, l->loop_ud, ro->op, CX_EBUSY, t0, role, tks, token, peer, rid);
      return 0;
    }
    http_job *j = cx_calloc(1, sizeof *j);
    if (!j || cx_buf_init(&j->in, in->len) || cx_buf_init(&j->out, 256)) {
      if (j) cx_buf_free(&j->in), free(j);
      send_error(req, rid, 500, CX_ENOMEM, "out of memory");
      return 0;
    }
    cx_buf_append(&j->in, in->p, in->len);
    j->out.limit = h->k.max_answer;
    j->l = l;
    j->req = req;
    j->op = ro->op;
    j->role = role;
    j->token = token;
    j->tokens = tks;
    j->t0 = t0;
    j->min_seq = min_seq;
    j->wait_only = pending && !cx_op_is_slow(ro->op);
    snprintf(j->peer, sizeof j->peer, "%s", peer);
    snprintf(j->rid, sizeof j->rid, "%s", rid);
    j->slot = h2o_mem_alloc_shared(&req->pool, sizeof *j->slot, job_dispose);
    *j->slot = j;
    j->work.data = j;
    l->jobs++;
    if (uv_queue_work(l->ctx.loop, &j->work, job_work, job_done) != 0) {
      l->jobs--;
      *j->slot = NULL;
      cx_buf_free(&j->in);
      cx_buf_free(&j->out);
      free(j);
      send_error(req, rid, 500, CX_EINTERNAL, "cannot queue the request");
    }
    return 0;
  }
  const cx_buf *ans;
  cx__http_run(l, ro->op, role, token, tks, peer, rid, in->p, in->len, t0, &ans);
  if (!ans)
    send_error(req, rid, 413, CX_ETOOLARGE, "the answer is larger than %zu bytes: ask for less", h->k.max_answer);
  else
    respond(l, req, rid, ans);
  if (l->ans.cap > CX_NET_OUT_INITIAL) {
    l->ans.len = 0;
    cx_buf_shrink(&l->ans);
  }
  return 0;
}

/* ===================================================================== OpenAPI */

/*
 * Examples, in the document and replayed by tests/e2e/python/test_http.py against a real server
 * whose today is 2025-06-01 and whose store does not hold 91350100123456788Q (a valid code):
 * each names its request (x-request: method, path, body, the role whose token it carries) and
 * the exact answer.
 */
static const struct {
  int op, status;
  const char *name, *method, *path, *role, *body, *answer;
} examples[] = {
    {CX_OP_PING, 200, "ping", "GET", "/v1/ping", "public", NULL,
     "{\"pong\":true,\"today\":\"2025-06-01\",\"protocol\":\"" CX_PROTOCOL_VERSION "\"}"},
    {CX_OP_CHECK, 200, "not_found_and_invalid", "POST", "/v1/check", "approval",
     "{\"codes\":[\"91350100123456788Q\",\"123\"],\"action\":\"procurement\"}",
     "{\"action\":\"procurement\",\"as_of\":\"2025-06-01\",\"results\":[{\"code\":\"91350100123456788Q\","
     "\"verdict\":\"not_found\",\"hits\":[],\"advisory\":[],\"incentives\":[]},{\"code\":\"123\",\"verdict\":\"invalid_code\","
     "\"hits\":[],\"advisory\":[],\"incentives\":[],\"reason\":\"wrong length\"}]}"},
    {CX_OP_CHECK, 403, "forbidden_for_the_public", "POST", "/v1/check", "public",
     "{\"codes\":[\"91350100123456788Q\"],\"action\":\"procurement\"}",
     "{\"error\":{\"code\":\"forbidden\",\"message\":\"op check is not allowed for role public\"}}"},
    {CX_OP_ENTITY, 400, "invalid_code", "GET", "/v1/entities/123", "public", NULL,
     "{\"error\":{\"code\":\"invalid_code\",\"message\":\"invalid code: wrong length\"}}"},
    {CX_OP_ENTITY, 404, "no_such_entity", "GET", "/v1/entities/91350100123456788Q", "public", NULL,
     "{\"error\":{\"code\":\"not_found\",\"message\":\"no such entity\"}}"},
    {CX_OP_SEARCH, 200, "nothing_found", "GET", "/v1/search?q=%E4%B8%8D%E5%AD%98%E5%9C%A8", "public", NULL,
     "{\"results\":[]}"},
    {CX_OP_SCORECARDS, 403, "not_published", "GET", "/v1/scorecards?region=35&year=2025", "public", NULL,
     "{\"error\":{\"code\":\"forbidden\",\"message\":\"scorecards are not published to the public (the "
     "rubric's publish line)\"}}"},
    {CX_OP_SCORECARD, 404, "no_such_body", "GET", "/v1/scorecards/91350100123456788Q?year=2025", "analyst", NULL,
     "{\"error\":{\"code\":\"not_found\",\"message\":\"no such entity\"}}"},
};

static void add_examples(json_t *opj, int op) {
  for (size_t i = 0; i < sizeof examples / sizeof examples[0]; i++) {
    if (examples[i].op != op) continue;
    char st[8];
    snprintf(st, sizeof st, "%d", examples[i].status);
    json_t *resp = json_object_get(json_object_get(opj, "responses"), st);
    json_t *media = json_object_get(json_object_get(resp, "content"), "application/json");
    if (!media) continue;
    json_t *exs = json_object_get(media, "examples");
    if (!exs) {
      exs = json_object();
      json_object_set_new(media, "examples", exs);
    }
    json_t *req = json_pack("{s:s,s:s,s:s}", "method", examples[i].method, "path", examples[i].path, "role",
                            examples[i].role);
    if (examples[i].body) json_object_set_new(req, "body", json_loads(examples[i].body, 0, NULL));
    json_object_set_new(exs, examples[i].name,
                        json_pack("{s:o,s:o}", "value", json_loads(examples[i].answer, 0, NULL), "x-request", req));
    if (examples[i].body && json_object_get(opj, "requestBody")) {
      json_t *rb = json_object_get(json_object_get(json_object_get(opj, "requestBody"), "content"), "application/json");
      json_t *rex = json_object_get(rb, "examples");
      if (!rex) {
        rex = json_object();
        json_object_set_new(rb, "examples", rex);
      }
      json_object_set_new(rex, examples[i].name, json_pack("{s:o}", "value", json_loads(examples[i].body, 0, NULL)));
    }
  }
}

static json_t *error_schema_ref(void) { return json_pack("{s:s}", "$ref", "#/components/schemas/Error"); }

static json_t *openapi_doc(const cx_http *h) {
  json_t *paths = json_object();
  for (uint32_t r = 0; r < h->nroutes; r++) {
    const route *ro = &h->routes[r];
    char p[512] = "";
    size_t n = 0;
    for (uint32_t i = 0; i < ro->nseg; i++)
      n += (size_t)snprintf(p + n, sizeof p - n, ro->seg[i].is_field ? "/{%s}" : "/%s", ro->seg[i].text);
    json_t *params = json_array();
    for (uint32_t i = 0; i < ro->nseg; i++)
      if (ro->seg[i].is_field)
        json_array_append_new(params, json_pack("{s:s,s:s,s:b,s:{s:s}}", "name", ro->seg[i].text, "in", "path",
                                                "required", 1, "schema", "type", "string"));
    for (uint32_t i = 0; i < ro->nparam; i++)
      json_array_append_new(params, json_pack("{s:s,s:s,s:b,s:{s:s}}", "name", ro->param[i].name, "in", "query",
                                              "required", 0, "schema", "type",
                                              ro->param[i].is_uint ? "integer" : "string"));
    const cx_op_info *oi = &cx_ops[ro->op];
    char roles[128] = "";
    size_t rn = 0;
    for (int k = 0; k < CX_ROLE_COUNT; k++)
      if ((oi->roles >> k) & 1u) rn += (size_t)snprintf(roles + rn, sizeof roles - rn, "%s%s", rn ? ", " : "", cx_role_names[k]);
    char desc[512];
    snprintf(desc, sizeof desc, "The `%s` op of docs/protocol.md §5, over HTTP. Roles: %s.%s", oi->name, roles,
             oi->slow ? " Runs on the server's thread pool." : "");
    json_t *responses = json_object();
    json_object_set_new(responses, "200", json_pack("{s:s,s:{s:{s:{s:s}}}}", "description", "the op's result",
                                                    "content", "application/json", "schema", "type", "object"));
    static const struct { const char *st, *what; } errs[] = {
        {"400", "bad request, invalid code"}, {"401", "unknown token"}, {"403", "not allowed for the role"},
        {"404", "not found"}, {"413", "too large"}, {"429", "busy: retry shortly"},
        {"503", "timeout, read-only or full store"}, {"500", "internal error"}};
    for (size_t k = 0; k < sizeof errs / sizeof errs[0]; k++)
      json_object_set_new(responses, errs[k].st,
                          json_pack("{s:s,s:{s:{s:o}}}", "description", errs[k].what, "content",
                                    "application/json", "schema", error_schema_ref()));
    json_t *opj = json_pack("{s:s,s:s,s:s,s:o,s:o}", "operationId", oi->name, "summary", oi->doc,
                            "description", desc, "parameters", params, "responses", responses);
    if (ro->post)
      json_object_set_new(opj, "requestBody",
                          json_pack("{s:b,s:{s:{s:{s:s}}}}", "required", ro->op != CX_OP_STATS, "content",
                                    "application/json", "schema", "type", "object"));
    if (ro->op == CX_OP_INGEST)
      json_object_set_new(
          json_object_get(json_object_get(json_object_get(opj, "requestBody"), "content"), "application/json"),
          "schema",
          json_pack("{s:s,s:[s],s:{s:{s:s,s:{s:s}}}}", "type", "object", "required", "records", "properties",
                    "records", "type", "array", "items", "$ref", "#/components/schemas/IngestRecord"));
    if (ro->op == CX_OP_RECORDS)
      json_object_set_new(
          json_object_get(json_object_get(json_object_get(responses, "200"), "content"), "application/json"),
          "schema",
          json_pack("{s:s,s:{s:{s:s,s:{s:s}},s:{s:[s,s]}}}", "type", "object", "properties", "records", "type",
                    "array", "items", "$ref", "#/components/schemas/Record", "next", "type", "string", "null"));
    add_examples(opj, ro->op);
    json_t *item = json_object_get(paths, p);
    if (!item) {
      item = json_object();
      json_object_set_new(paths, p, item);
    }
    json_object_set_new(item, ro->post ? "post" : "get", opj);
  }
  static const char *const opspaths[][2] = {{"/healthz", "the process answers"},
                                            {"/readyz", "store open and audit flusher alive (503 when not)"},
                                            {"/metrics", "Prometheus text format"}};
  for (size_t i = 0; i < 3; i++)
    json_object_set_new(paths, opspaths[i][0],
                        json_pack("{s:{s:s,s:s,s:[],s:{s:{s:s}}}}", "get", "operationId", opspaths[i][0] + 1,
                                  "summary", opspaths[i][1], "security", "responses", "200", "description", "ok"));
  /* the record as answered (CX_RECORD_ANSWER) and as given to ingest (CX_RECORD_FIELDS) */
  json_t *rec = json_object(), *recp = json_object();
  static const char *const at[] = {"string", "string", "boolean", "integer", "integer", "array", "object"};
  for (int f = 0; f < CX_RA_COUNT; f++) {
    const cx_answer_field *af = &cx_record_answer_fields[f];
    json_t *t = af->type == CX_AT_DATE ? json_pack("{s:[s,s],s:s}", "type", "string", "null", "format", "date")
                                       : json_pack("{s:s}", "type", at[af->type]);
    if (af->type == CX_AT_LIST) json_object_set_new(t, "items", json_pack("{s:s}", "type", "string"));
    json_object_set_new(recp, af->name, t);
  }
  json_object_set_new(rec, "type", json_string("object"));
  json_object_set_new(rec, "properties", recp);
  json_t *in = json_object(), *inp = json_object(), *req = json_array();
  for (int f = 0; f < CX_RF_COUNT; f++) {
    const cx_record_field_info *fi = &cx_record_fields[f];
    json_t *t = json_pack("{s:s}", "type", fi->kind == CX_FK_BOOL ? "boolean" : "string");
    if (fi->kind == CX_FK_DATE) json_object_set_new(t, "format", json_string("date"));
    if (fi->max) json_object_set_new(t, "maxLength", json_integer(fi->max));
    json_object_set_new(inp, fi->name, t);
    if (fi->required) json_array_append_new(req, json_string(fi->name));
  }
  json_object_set_new(in, "type", json_string("object"));
  json_object_set_new(in, "required", req);
  json_object_set_new(in, "properties", inp);
  json_t *err = json_pack(
      "{s:s,s:[s],s:{s:{s:s,s:[s,s],s:{s:{s:s},s:{s:s},s:{s:s}}}}}", "type", "object", "required", "error",
      "properties", "error", "type", "object", "required", "code", "message", "properties", "code", "type",
      "string", "message", "type", "string", "details", "type", "array");
  json_t *doc = json_pack("{s:s,s:{s:s,s:s,s:s,s:{s:s,s:s}},s:[{s:s}],s:o,s:{s:{s:o},s:{s:{s:s,s:s}}},s:[{s:[]}]}",
                          "openapi", "3.1.0", "info", "title", "chengxin", "version", CX_PROTOCOL_VERSION,
                          "description",
                          "Integrity records of enterprises, government bodies and civil servants: the HTTP/JSON "
                          "door of chengxind (docs/protocol.md §11). Every op of the msgpack protocol, the same "
                          "fields, the same answers.",
                          "license", "name", "see the repository", "identifier", "LicenseRef-chengxin",
                          "servers", "url", "/", "paths", paths, "components", "schemas", "Error", err,
                          "securitySchemes", "bearer", "type", "http", "scheme", "bearer", "security",
                          "bearer");
  json_t *schemas = json_object_get(json_object_get(doc, "components"), "schemas");
  json_object_set_new(schemas, "Record", rec);
  json_object_set_new(schemas, "IngestRecord", in);
  /* the public role needs no token: security is optional ({} alongside bearer) */
  json_array_append_new(json_object_get(doc, "security"), json_object());
  return doc;
}

/* ===================================================================== lifecycle */

int cx__http_new(const cx_http_hooks *k, cx_http **out, char *why, size_t cap) {
  cx_http *h = cx_calloc(1, sizeof *h);
  if (!h) return CX_ENOMEM;
  h->k = *k;
  if (!h->k.max_answer) h->k.max_answer = CX_NET_MAX_OUTPUT_DEFAULT;
  for (int op = 0; op < CX_OP_COUNT; op++) {
    if (!cx_ops[op].http[0]) continue;
    if (route_parse(cx_ops[op].http, op, &h->routes[h->nroutes])) {
      snprintf(why, cap, "bad route of op %s: %s", cx_ops[op].name, cx_ops[op].http);
      free(h);
      return CX_EINTERNAL;
    }
    h->nroutes++;
  }
  h2o_config_init(&h->conf);
  h->conf.max_request_entity_size = k->max_body ? k->max_body : CX_NET_MAX_FRAME_DEFAULT;
  h->conf.http1.req_timeout = (uint64_t)(k->idle_timeout_s ? k->idle_timeout_s : 300) * 1000;
  h->conf.http2.idle_timeout = h->conf.http1.req_timeout;
  h->conf.http2.graceful_shutdown_timeout = 5000;
  h->conf.http2.max_concurrent_requests_per_connection = CX_HTTP2_STREAMS;
  h->conf.server_name = h2o_iovec_init(H2O_STRLIT("chengxind"));
  h->host = h2o_config_register_host(&h->conf, h2o_iovec_init(H2O_STRLIT("default")), 65535);
  h2o_pathconf_t *pc = h2o_config_register_path(h->host, "/", 0);
  h2o_handler_t *hd = h2o_create_handler(pc, sizeof *hd);
  hd->on_req = on_req;
  h2o_compress_args_t ca;
  memset(&ca, 0, sizeof ca);
  ca.min_size = 1024;
  ca.gzip.quality = 1; /* cheap: the answers are JSON, the point is fewer bytes on slow links */
  ca.brotli.quality = -1;
  h2o_compress_register(pc, &ca);
  if (k->tls_cert || k->tls_key) {
    if (!k->tls_cert || !k->tls_key) {
      snprintf(why, cap, "TLS needs both --tls-cert and --tls-key");
      cx__http_free(h);
      return CX_EBADREQ;
    }
    h->ssl = SSL_CTX_new(TLS_server_method());
    SSL_CTX_set_min_proto_version(h->ssl, TLS1_2_VERSION);
    SSL_CTX_set_options(h->ssl, SSL_OP_NO_COMPRESSION);
    if (SSL_CTX_use_certificate_chain_file(h->ssl, k->tls_cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(h->ssl, k->tls_key, SSL_FILETYPE_PEM) != 1 ||
        SSL_CTX_check_private_key(h->ssl) != 1) {
      char e[256];
      ERR_error_string_n(ERR_get_error(), e, sizeof e);
      snprintf(why, cap, "TLS: cannot load %s / %s: %s", k->tls_cert, k->tls_key, e);
      cx__http_free(h);
      return CX_EIO;
    }
    h2o_ssl_register_alpn_protocols(h->ssl, h2o_http2_alpn_protocols);
  }
  json_t *doc = openapi_doc(h);
  h->openapi = doc ? json_dumps(doc, JSON_INDENT(1) | JSON_PRESERVE_ORDER) : NULL;
  json_decref(doc);
  if (!h->openapi) {
    cx__http_free(h);
    return CX_ENOMEM;
  }
  h->openapi_len = strlen(h->openapi);
  int rc = cx__site_new(k->site_path, &h->site, why, cap);
  if (rc) {
    cx__http_free(h);
    return rc;
  }
  *out = h;
  return 0;
}

void cx__http_free(cx_http *h) {
  if (!h) return;
  if (h->ssl) SSL_CTX_free(h->ssl);
  h2o_config_dispose(&h->conf);
  cx__site_free(h->site);
  free(h->openapi);
  free(h);
}

void cx__http_lib_versions(char *buf, size_t cap) {
  snprintf(buf, cap, "h2o %s, %s, jansson %s", H2O_VERSION, OpenSSL_version(OPENSSL_VERSION), JANSSON_VERSION);
}

const char *cx__http_openapi(const cx_http *h, size_t *n) {
  *n = h->openapi_len;
  return h->openapi;
}

int cx__http_loop_new(cx_http *h, uv_loop_t *loop, void *loop_ud, int idx, cx_http_loop **out) {
  cx_http_loop *l = cx_calloc(1, sizeof *l);
  if (!l) return CX_ENOMEM;
  if (cx_buf_init(&l->ans, CX_NET_OUT_INITIAL) || cx_buf_init(&l->json, CX_NET_OUT_INITIAL) ||
      cx_buf_init(&l->req, 4096) || cx__site_loop_new(h->site, &l->site)) {
    cx_buf_free(&l->ans);
    cx_buf_free(&l->json);
    cx_buf_free(&l->req);
    free(l);
    return CX_ENOMEM;
  }
  h2o_context_init(&l->ctx, loop, &h->conf);
  l->actx.ctx = &l->ctx;
  l->actx.hosts = h->conf.hosts;
  l->actx.ssl_ctx = h->ssl;
  l->h = h;
  l->loop_ud = loop_ud;
  l->idx = idx;
  *out = l;
  return 0;
}

void cx__http_loop_bind(cx_http_loop *l, const cx_query *q, cx_txn *txn, int *txn_live, cx_check_hit *hits,
                        uint32_t hits_cap, cx_audq *audq) {
  l->q = q;
  l->txn = txn;
  l->txn_live = txn_live;
  l->hits = hits;
  l->hits_cap = hits_cap;
  l->audq = audq;
}

static void conn_closed(uv_handle_t *hd) {
  cx_http_conn *c = (cx_http_conn *)hd;
  cx_http_loop *l = c->l;
  if (c->prev) c->prev->next = c->next;
  else l->conns = c->next;
  if (c->next) c->next->prev = c->prev;
  if (l->h->k.closed) l->h->k.closed(l->h->k.ud, c->slot);
  free(c);
}

int cx__http_accept(cx_http_loop *l, int fd, const unsigned char slot[16]) {
  cx_http_conn *c = cx_calloc(1, sizeof *c);
  if (!c) return CX_ENOMEM;
  c->l = l;
  memcpy(c->slot, slot, 16);
  uv_tcp_init(l->ctx.loop, &c->tcp);
  if (uv_tcp_open(&c->tcp, fd) != 0) {
    uv_close((uv_handle_t *)&c->tcp, (uv_close_cb)free);
    return CX_EINTERNAL;
  }
  uv_tcp_nodelay(&c->tcp, 1);
  c->next = l->conns;
  if (l->conns) l->conns->prev = c;
  l->conns = c;
  h2o_socket_t *sock = h2o_uv_socket_create((uv_stream_t *)&c->tcp, conn_closed);
  if (!sock) {
    uv_close((uv_handle_t *)&c->tcp, conn_closed);
    return CX_ENOMEM;
  }
  c->sock = sock;
  if (l->shutdown) { /* accepted while stopping: answer nothing */
    h2o_socket_close(sock);
    return 0;
  }
  h2o_accept(&l->actx, sock);
  return 0;
}

void cx__http_loop_shutdown(cx_http_loop *l) {
  if (l->shutdown) return;
  l->shutdown = 1;
  h2o_context_request_shutdown(&l->ctx);
}

int cx__http_loop_conns(const cx_http_loop *l) {
  int n = 0;
  for (const cx_http_conn *c = l->conns; c; c = c->next) n++;
  return n;
}

/* Every connection is gone, but entries may stay linked (the HTTP/2 graceful-shutdown timer
 * that h2o_context_request_shutdown arms, ...): h2o_context_dispose asserts they are not. */
static void timeout_clear(h2o_timeout_t *t) {
  while (!h2o_linklist_is_empty(&t->_entries)) {
    h2o_timeout_entry_t *e = H2O_STRUCT_FROM_MEMBER(h2o_timeout_entry_t, _link, t->_entries.next);
    h2o_timeout_unlink(e);
  }
}

void cx__http_loop_free(cx_http_loop *l) {
  if (!l) return;
  /* The loop ran out of active handles, but a connection that is not reading (a TLS handshake
   * that failed or stalled, ...) keeps no loop alive and is still open: close what is left
   * through h2o, and let the loop finish those closes, before the context goes. */
  if (l->conns) {
    for (cx_http_conn *c = l->conns; c; c = c->next) h2o_socket_close(c->sock);
    uv_run(l->ctx.loop, UV_RUN_DEFAULT);
  }
  h2o_timeout_t *ts[] = {&l->ctx.zero_timeout, &l->ctx.one_sec_timeout, &l->ctx.hundred_ms_timeout,
                         &l->ctx.handshake_timeout, &l->ctx.http1.req_timeout, &l->ctx.http2.idle_timeout,
                         &l->ctx.http2.graceful_shutdown_timeout, &l->ctx.proxy.io_timeout};
  for (size_t i = 0; i < sizeof ts / sizeof ts[0]; i++) timeout_clear(ts[i]);
  h2o_context_dispose(&l->ctx);
  cx_buf_free(&l->ans);
  cx_buf_free(&l->json);
  cx_buf_free(&l->req);
  cx__site_loop_free(l->site);
  free(l);
}
