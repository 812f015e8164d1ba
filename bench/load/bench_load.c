/*
 * bench_load.c — a libuv load generator for chengxind, and for redis-server as its baseline.
 *
 * C connections, each keeping P requests in flight (P = 1: no pipelining), for a fixed
 * duration after a warm-up. Three protocols:
 *   cx    the chengxin frame protocol (docs/protocol.md): 4-byte big-endian length + one
 *         msgpack map {"id", "op", ...}; requests packed with msgpack-c, responses walked just
 *         enough to match the id (in order, per connection) and read "ok".
 *   resp  RESP2: GET <code> against redis-server holding the same per-entity summary bytes
 *         (loaded by `bench_load --redis-load`: SET code summary, straight from the store).
 *   http  chengxind's HTTP/JSON door (--http): HTTP/1.1 keep-alive, a prebuilt
 *         `POST /v1/check` with Host, Authorization: Bearer, Content-Type: application/json,
 *         Content-Length and the JSON body {"codes": [...], "action", "as_of"?}; plain sockets
 *         on the same libuv loop (no HTTP library). Each response's status line, headers and
 *         Content-Length are parsed; Transfer-Encoding fails the run (the server always sends
 *         Content-Length). Depth P > 1 pipelines HTTP/1.1 requests (answers in order).
 *         With --http-path TEMPLATE: prebuilt GETs of TEMPLATE instead (the public site and the
 *         API's GET routes, e.g. /entity/{code}, /v1/entities/{code}, /search?q={name2}):
 *         {code} is a pool code, {name2} a 2-4 character part of the normalised name of an
 *         entity the public can find (percent-encoded UTF-8). No token (--token is ignored):
 *         every GET is the public role's, the role the expected answers are decided for.
 *         --visible-only drops the codes the public cannot see from the pool (no 404s).
 * Requests cycle through a fixed-seed pool of the store's codes plus a share of unknown codes
 * (valid check characters, absent from the store). Latencies go into a log-linear histogram
 * (1/64 relative precision); throughput counts responses inside the measured window.
 * Every response is checked: cx must answer with the id sent, ok:true (entity and records of an
 * unknown code: ok:false, not_found); redis must return a value for a known code and nil for an
 * unknown one; http must answer 200 with "verdict" in the body (one code per request: the
 * verdict "not_found" exactly for the unknown codes); an http GET must answer 200 when its code
 * is one the public may see (or it has no {code}) and 404 otherwise — unknown codes and
 * entities hidden from the public, decided before the run by cx_query_entity (public role,
 * today) on the store opened read-only — with an HTML page (outside /v1) or a JSON object
 * (/v1) as its body; 200s and 404s are counted apart. Wrong answers make the run fail (exit 1).
 * The JSON output names the door ("msgpack", "http"; "resp" for redis) and, for http, the path.
 *
 * Usage:
 *   bench_load --db DIR --port N [--proto cx|resp|http] [--host H] [--conns C] [--depth P]
 *              [--duration S] [--warmup S] [--op check|entity|records|ping] [--batch K] [--action A]
 *              [--mix check=90,entity=8,records=2]   (op mix by weight, fixed seed)
 *              [--as-of YYYY-MM-DD] [--token T] [--pool N] [--unknown PCT] [--seed S]
 *              [--http-path TEMPLATE [--visible-only]] [--json FILE] [--label L]
 *   bench_load --redis-load --db DIR --port N [--host H]
 *   bench_load --codes-out FILE --db DIR [--pool N] [--unknown PCT] [--seed S]
 *                                    write the request pool's codes, one a line, in the order
 *                                    the connections walk them (`chengxin check --file`)
 *   bench_load --free-port           print a free loopback TCP port
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <msgpack.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <unistd.h>
#include <uv.h>

#include "cxb.h"
#include "query.h"

/* ===================================================================== histogram */

#define H_LINEAR 128
#define H_SUB 64
#define H_BUCKETS (H_LINEAR + 48 * H_SUB)

typedef struct hist {
  uint64_t b[H_BUCKETS];
  uint64_t n, max;
  double sum;
} hist;

static unsigned h_index(uint64_t v) {
  if (v < H_LINEAR) return (unsigned)v;
  unsigned msb = 63u - (unsigned)__builtin_clzll(v);
  unsigned shift = msb - 6;
  unsigned idx = H_LINEAR + (msb - 7) * H_SUB + (unsigned)((v >> shift) - 64);
  return idx < H_BUCKETS ? idx : H_BUCKETS - 1;
}

static uint64_t h_value(unsigned idx) {
  if (idx < H_LINEAR) return idx;
  unsigned e = (idx - H_LINEAR) / H_SUB, m = (idx - H_LINEAR) % H_SUB + 64;
  unsigned shift = e + 1;
  return ((uint64_t)m << shift) + ((1ull << shift) >> 1); /* bucket midpoint */
}

static void h_add(hist *h, uint64_t v) {
  h->b[h_index(v)]++;
  h->n++;
  h->sum += (double)v;
  if (v > h->max) h->max = v;
}

static uint64_t h_pct(const hist *h, double p) {
  if (h->n == 0) return 0;
  uint64_t rank = (uint64_t)(p * (double)h->n + 0.999999);
  if (rank < 1) rank = 1;
  uint64_t acc = 0;
  for (unsigned i = 0; i < H_BUCKETS; i++) {
    acc += h->b[i];
    if (acc >= rank) return h_value(i);
  }
  return h->max;
}

/* ===================================================================== options */

enum { PROTO_CX, PROTO_RESP, PROTO_HTTP };
static const char *const proto_names[] = {"cx", "resp", "http"};
static const char *const door_names[] = {"msgpack", "resp", "http"};
enum { OP_CHECK, OP_ENTITY, OP_RECORDS, OP_PING, OP_COUNT };
static const char *const op_names[OP_COUNT] = {"check", "entity", "records", "ping"};

typedef struct opts {
  const char *db, *host, *json, *label, *action, *as_of, *token, *codes_out;
  const char *http_path;      /* --http-path: GET of this template (http only) */
  int visible_only;           /* --visible-only: with {code}, only codes the public may see */
  int port, proto, op;
  unsigned mix[OP_COUNT];     /* --mix weights; all 0 = only `op` */
  const char *mix_s;
  unsigned conns, depth, batch;
  double duration, warmup;
  size_t pool;
  unsigned unknown_pct;
  uint64_t seed;
} opts;

/* ===================================================================== requests */

/* Pre-encoded requests: one per pool entry, each with the offset of its 4-byte id (cx). */
typedef struct reqpool {
  char *bytes;
  size_t *off, *len;
  uint8_t *known;    /* cx: 1 when ok:true is the right answer (unknown codes get not_found
                      * from entity/records); resp: 1 when a value is (an existing code);
                      * http GET: 1 when 200 is (else 404) */
  size_t n, max_len;
  size_t id_at;      /* offset of the big-endian u32 id inside each cx frame */
} reqpool;

static void pool_add(reqpool *rp, size_t *cap, const void *p, size_t n, int known) {
  static size_t used;
  if (rp->n == 0) used = 0;
  if (used + n > cap[0]) {
    cap[0] = (cap[0] + n) * 2;
    rp->bytes = realloc(rp->bytes, cap[0]);
    if (!rp->bytes) cxb_die("out of memory");
  }
  memcpy(rp->bytes + used, p, n);
  rp->off[rp->n] = used;
  rp->len[rp->n] = n;
  rp->known[rp->n] = (uint8_t)known;
  rp->n++;
  used += n;
  if (n > rp->max_len) rp->max_len = n;
}

static void pk_s(msgpack_packer *pk, const char *s) {
  size_t n = strlen(s);
  msgpack_pack_str(pk, n);
  msgpack_pack_str_body(pk, s, n);
}

/* Packs one cx request into sb, framed; returns the id offset. */
static size_t cx_pack(const opts *o, int op, msgpack_sbuffer *sb, const char *codes, size_t n_codes) {
  msgpack_packer pk;
  msgpack_sbuffer_clear(sb);
  msgpack_sbuffer_write(sb, "\0\0\0\0", 4);
  msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
  int with_as_of = o->as_of && op != OP_PING;
  uint32_t n = 2;
  if (op == OP_CHECK) n += 2 + (uint32_t)with_as_of;
  else if (op == OP_ENTITY) n += 1 + (uint32_t)with_as_of;
  else if (op == OP_RECORDS) n += 2 + (uint32_t)with_as_of;
  msgpack_pack_map(&pk, n);
  pk_s(&pk, "id");
  size_t id_at = sb->size + 1;          /* after the 0xce marker */
  msgpack_pack_fix_uint32(&pk, 0);
  pk_s(&pk, "op");
  pk_s(&pk, op_names[op]);
  if (op == OP_CHECK) {
    pk_s(&pk, "codes");
    msgpack_pack_array(&pk, n_codes);
    for (size_t i = 0; i < n_codes; i++) {
      msgpack_pack_str(&pk, 18);
      msgpack_pack_str_body(&pk, codes + i * 18, 18);
    }
    pk_s(&pk, "action");
    pk_s(&pk, o->action);
  } else if (op == OP_ENTITY || op == OP_RECORDS) {
    pk_s(&pk, "code");
    msgpack_pack_str(&pk, 18);
    msgpack_pack_str_body(&pk, codes, 18);
    if (op == OP_RECORDS) {
      pk_s(&pk, "limit");
      msgpack_pack_uint32(&pk, 20);
    }
  }
  if (with_as_of) {
    pk_s(&pk, "as_of");
    pk_s(&pk, o->as_of);
  }
  uint32_t len = (uint32_t)(sb->size - 4);
  unsigned char *p = (unsigned char *)sb->data;
  p[0] = (unsigned char)(len >> 24); p[1] = (unsigned char)(len >> 16);
  p[2] = (unsigned char)(len >> 8);  p[3] = (unsigned char)len;
  return id_at;
}

/* Writes one whole HTTP/1.1 check request (headers and JSON body) into out; returns its length. */
static size_t http_pack(const opts *o, const char *codes, size_t n_codes, char *out, size_t cap) {
  char body[64 + 21 * 1000 + 128];
  size_t bn = 0;
  bn += (size_t)snprintf(body + bn, sizeof body - bn, "{\"codes\":[");
  for (size_t i = 0; i < n_codes; i++)
    bn += (size_t)snprintf(body + bn, sizeof body - bn, "%s\"%.18s\"", i ? "," : "", codes + i * 18);
  bn += (size_t)snprintf(body + bn, sizeof body - bn, "],\"action\":\"%s\"", o->action);
  if (o->as_of) bn += (size_t)snprintf(body + bn, sizeof body - bn, ",\"as_of\":\"%s\"", o->as_of);
  bn += (size_t)snprintf(body + bn, sizeof body - bn, "}");
  if (bn >= sizeof body) cxb_die("http request body too long");
  int n = snprintf(out, cap,
                   "POST /v1/check HTTP/1.1\r\nHost: %s:%d\r\n%s%s%sContent-Type: application/json\r\n"
                   "Content-Length: %zu\r\n\r\n%s",
                   o->host, o->port, o->token ? "Authorization: Bearer " : "", o->token ? o->token : "",
                   o->token ? "\r\n" : "", bn, body);
  if (n < 0 || (size_t)n >= cap) cxb_die("http request too long");
  return (size_t)n;
}

/* ---------------------------------------------------------------- GET requests (--http-path) */

#define NAME2_MIN 2
#define NAME2_MAX 4
#define NAME2_BYTES (NAME2_MAX * 4 + 1) /* UTF-8 of 4 characters and a NUL */

/* What the GET templates need from the store, drawn before the run with the same seed. */
typedef struct getdraw {
  uint8_t *visible;             /* per code index: 1 when the public may see the entity */
  char (*names)[NAME2_BYTES];   /* parts of names, one per visible entity in pool order */
  size_t n_names;
} getdraw;

static size_t u8_chars(const char *s, size_t n) {
  size_t c = 0;
  for (size_t i = 0; i < n; i++) c += ((unsigned char)s[i] & 0xC0) != 0x80;
  return c;
}

/* The L characters of s[0..n) from character `at` into out (NUL-terminated); 0 when s has
 * fewer, else their byte length. */
static size_t u8_cut(const char *s, size_t n, size_t at, size_t L, char *out) {
  size_t i = 0, c = 0;
  for (; i < n && c < at; c++)
    for (i++; i < n && ((unsigned char)s[i] & 0xC0) == 0x80; i++) {}
  if (c < at || i >= n) return 0;
  size_t b = i;
  for (c = 0; i < n && c < L; c++)
    for (i++; i < n && ((unsigned char)s[i] & 0xC0) == 0x80; i++) {}
  if (c < L) return 0;
  memcpy(out, s + b, i - b);
  out[i - b] = 0;
  return i - b;
}

static int tmpl_has(const char *t, const char *ph) { return strstr(t, ph) != NULL; }

/* A template is a path with only {code} and {name2} placeholders. */
static int tmpl_valid(const char *t) {
  if (t[0] != '/') return 0;
  for (const char *p = t; *p; p++) {
    if (*p == ' ' || *p == '\r' || *p == '\n') return 0;
    if (*p == '{') {
      if (strncmp(p, "{code}", 6) == 0) p += 5;
      else if (strncmp(p, "{name2}", 7) == 0) p += 6;
      else return 0;
    } else if (*p == '}') {
      return 0;
    }
  }
  return 1;
}

/*
 * Opens the store read-only through its public API (after bench_load's raw LMDB handle is
 * closed: one environment per process at a time) and decides, for every known code, whether
 * the public may see it (cx_query_entity, public role, today: the role and the day the site
 * and the public API answer with). For {name2}, one part of 2-4 characters (length and
 * position from the seed) of the normalised name of each visible entity, in pool order:
 * what a visitor types into the search box.
 */
static void get_draw(const opts *o, const char *codes, size_t n_known, const size_t *order,
                     size_t n_codes, getdraw *gd) {
  memset(gd, 0, sizeof *gd);
  gd->visible = calloc(n_codes, 1);
  if (!gd->visible) cxb_die("out of memory");
  int want_names = tmpl_has(o->http_path, "{name2}");
  if (want_names && !(gd->names = calloc(n_known ? n_known : 1, sizeof *gd->names)))
    cxb_die("out of memory");
  cx_store_opts so = {0};
  so.read_only = 1;
  cx_store *st;
  cx_query *q;
  cx_txn *t;
  int rc = cx_store_open(o->db, &so, &st);
  if (rc) cxb_die("cx_store_open %s: %s", o->db, cx_strerror(rc));
  if ((rc = cx_query_new(st, &q))) cxb_die("cx_query_new: %s", cx_strerror(rc));
  if ((rc = cx_store_txn_begin(st, &t))) cxb_die("txn: %s", cx_strerror(rc));
  cx_day today = cx_day_today();
  cxb_rng r = {o->seed ^ 0x6e616d65u};
  size_t hidden = 0;
  for (size_t i = 0; i < n_codes; i++) {
    size_t k = order[i];
    if (k >= n_known) continue;
    cx_entity_status es;
    rc = cx_query_entity(q, t, CX_ROLE_PUBLIC, (cx_str){codes + k * 18, 18}, today, &es);
    if (rc == CX_ENOTFOUND) { hidden++; continue; }
    if (rc) cxb_die("cx_query_entity %.18s: %s", codes + k * 18, cx_strerror(rc));
    gd->visible[k] = 1;
    if (!want_names) continue;
    char norm[512];
    size_t nn = cx_name_normalize(es.name.p, es.name.n, norm, sizeof norm);
    size_t ch = u8_chars(norm, nn < sizeof norm ? nn : sizeof norm - 1);
    size_t L = NAME2_MIN + (size_t)cxb_rng_below(&r, NAME2_MAX - NAME2_MIN + 1);
    if (ch < L) L = ch;
    if (L < NAME2_MIN) continue;
    size_t at = (size_t)cxb_rng_below(&r, ch - L + 1);
    if (u8_cut(norm, nn, at, L, gd->names[gd->n_names])) gd->n_names++;
  }
  cx_store_txn_end(t);
  cx_query_free(q);
  cx_store_close(st);
  if (want_names && gd->n_names == 0) cxb_die("no entity the public can find: no {name2} to draw");
  fprintf(stderr, "bench: http GET %s: %zu known codes (%zu hidden from the public), %zu unknown%s\n",
          o->http_path, n_known, hidden, n_codes - n_known, want_names ? "" : "; no {name2}");
}

/* Writes one GET of the template into out; returns its length. No Authorization header: the
 * expected statuses are the public role's (a token would show /v1 what the public cannot see). */
static size_t http_get_pack(const opts *o, const char *code, const char *name, char *out, size_t cap) {
  static const char hex[] = "0123456789ABCDEF";
  char path[1024];
  size_t pn = 0;
  for (const char *p = o->http_path; *p && pn < sizeof path - 64; p++) {
    if (strncmp(p, "{code}", 6) == 0) {
      memcpy(path + pn, code, 18);
      pn += 18;
      p += 5;
    } else if (strncmp(p, "{name2}", 7) == 0) {
      for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
        if ((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') ||
            *c == '-' || *c == '_' || *c == '.' || *c == '~') {
          path[pn++] = (char)*c;
        } else {
          path[pn++] = '%';
          path[pn++] = hex[*c >> 4];
          path[pn++] = hex[*c & 15];
        }
      }
      p += 6;
    } else {
      path[pn++] = *p;
    }
  }
  if (pn >= sizeof path - 64) cxb_die("http path too long");
  int n = snprintf(out, cap, "GET %.*s HTTP/1.1\r\nHost: %s:%d\r\n\r\n", (int)pn, path, o->host, o->port);
  if (n < 0 || (size_t)n >= cap) cxb_die("http request too long");
  return (size_t)n;
}

static void build_pool(const opts *o, const char *codes, size_t n_known, size_t n_codes,
                       const size_t *order, const getdraw *gd, reqpool *rp) {
  memset(rp, 0, sizeof *rp);
  rp->off = calloc(n_codes, sizeof *rp->off);
  rp->len = calloc(n_codes, sizeof *rp->len);
  rp->known = calloc(n_codes, 1);
  if (!rp->off || !rp->len || !rp->known) cxb_die("out of memory");
  size_t cap = 1 << 20;
  rp->bytes = malloc(cap);
  if (!rp->bytes) cxb_die("out of memory");
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  static char batch[18 * 1000];
  size_t hcap = 1024 + 21 * 1000;  /* headers + one quoted code and a comma per code */
  char *hbuf = malloc(hcap);
  if (!hbuf) cxb_die("out of memory");
  unsigned mix_total = 0;
  for (int m = 0; m < OP_COUNT; m++) mix_total += o->mix[m];
  cxb_rng mr = {o->seed ^ 0x1234567u};
  for (size_t i = 0; i < n_codes; i++) {
    int op = o->op;
    if (mix_total) { /* a fixed-seed op per pool entry, by the --mix weights */
      unsigned x = (unsigned)cxb_rng_below(&mr, mix_total);
      for (op = 0; op < OP_COUNT - 1 && x >= o->mix[op]; op++) x -= o->mix[op];
    }
    size_t k = order[i];
    const char *code = codes + k * 18;
    if (o->proto == PROTO_RESP) {
      char cmd[64];
      int n = snprintf(cmd, sizeof cmd, "*2\r\n$3\r\nGET\r\n$18\r\n%.18s\r\n", code);
      pool_add(rp, &cap, cmd, (size_t)n, k < n_known);
    } else if (o->proto == PROTO_HTTP && o->http_path) {
      /* {code}: 200 when the public may see it, else 404; without {code}: 200 */
      int has_code = tmpl_has(o->http_path, "{code}");
      const char *name = gd->n_names ? gd->names[i % gd->n_names] : "";
      size_t n = http_get_pack(o, code, name, hbuf, hcap);
      pool_add(rp, &cap, hbuf, n, has_code ? gd->visible[k] : 1);
    } else if (o->proto == PROTO_HTTP) {
      size_t nc = o->batch;
      for (size_t b = 0; b < nc; b++) memcpy(batch + b * 18, codes + order[(i + b) % n_codes] * 18, 18);
      size_t n = http_pack(o, batch, nc, hbuf, hcap);
      pool_add(rp, &cap, hbuf, n, k < n_known);
    } else {
      const char *cs = code;
      size_t nc = 1;
      if (o->batch > 1) { /* a batch of consecutive pool codes */
        nc = o->batch;
        for (size_t b = 0; b < nc; b++) memcpy(batch + b * 18, codes + order[(i + b) % n_codes] * 18, 18);
        cs = batch;
      }
      size_t id_at = cx_pack(o, op, &sb, cs, nc);
      if (i > 0 && id_at != rp->id_at) cxb_die("request id offsets differ");
      rp->id_at = id_at;
      pool_add(rp, &cap, sb.data, sb.size, k < n_known || op == OP_CHECK || op == OP_PING);
    }
  }
  msgpack_sbuffer_destroy(&sb);
  free(hbuf);
}

/* ===================================================================== msgpack walking */

/* Bounded reader over a response payload: enough to find "id" and "ok". */
typedef struct mpr { const unsigned char *p, *e; } mpr;

static int rd(mpr *r, size_t n, const unsigned char **out) {
  if ((size_t)(r->e - r->p) < n) return -1;
  *out = r->p;
  r->p += n;
  return 0;
}
static uint64_t be(const unsigned char *p, int n) {
  uint64_t v = 0;
  for (int i = 0; i < n; i++) v = v << 8 | p[i];
  return v;
}

/* Reads one object header: *kind 'u' uint, 'i' int, 's' str (value = len, body follows),
 * 'b' bin, 'a' array (value = count), 'm' map, 't' true, 'f' false, 'n' nil, 'x' other
 * scalar already skipped, 'e' ext (skipped). */
static int mp_head(mpr *r, char *kind, uint64_t *val) {
  const unsigned char *q;
  if (rd(r, 1, &q)) return -1;
  unsigned c = q[0];
  int n = 0;
  if (c <= 0x7f) { *kind = 'u'; *val = c; return 0; }
  if (c >= 0xe0) { *kind = 'i'; *val = c; return 0; }
  if ((c & 0xf0) == 0x80) { *kind = 'm'; *val = c & 0x0f; return 0; }
  if ((c & 0xf0) == 0x90) { *kind = 'a'; *val = c & 0x0f; return 0; }
  if ((c & 0xe0) == 0xa0) { *kind = 's'; *val = c & 0x1f; return 0; }
  switch (c) {
  case 0xc0: *kind = 'n'; return 0;
  case 0xc2: *kind = 'f'; return 0;
  case 0xc3: *kind = 't'; return 0;
  case 0xcc: case 0xcd: case 0xce: case 0xcf:
    n = 1 << (c - 0xcc);
    if (rd(r, (size_t)n, &q)) return -1;
    *kind = 'u'; *val = be(q, n); return 0;
  case 0xd0: case 0xd1: case 0xd2: case 0xd3:
    n = 1 << (c - 0xd0);
    if (rd(r, (size_t)n, &q)) return -1;
    *kind = 'i'; *val = be(q, n); return 0;
  case 0xca: *kind = 'x'; return rd(r, 4, &q);
  case 0xcb: *kind = 'x'; return rd(r, 8, &q);
  case 0xd9: case 0xda: case 0xdb:
    n = 1 << (c - 0xd9);
    if (rd(r, (size_t)n, &q)) return -1;
    *kind = 's'; *val = be(q, n); return 0;
  case 0xc4: case 0xc5: case 0xc6:
    n = 1 << (c - 0xc4);
    if (rd(r, (size_t)n, &q)) return -1;
    *kind = 'b'; *val = be(q, n); return 0;
  case 0xdc: case 0xdd:
    n = c == 0xdc ? 2 : 4;
    if (rd(r, (size_t)n, &q)) return -1;
    *kind = 'a'; *val = be(q, n); return 0;
  case 0xde: case 0xdf:
    n = c == 0xde ? 2 : 4;
    if (rd(r, (size_t)n, &q)) return -1;
    *kind = 'm'; *val = be(q, n); return 0;
  case 0xd4: *kind = 'e'; return rd(r, 2, &q);
  case 0xd5: *kind = 'e'; return rd(r, 3, &q);
  case 0xd6: *kind = 'e'; return rd(r, 5, &q);
  case 0xd7: *kind = 'e'; return rd(r, 9, &q);
  case 0xd8: *kind = 'e'; return rd(r, 17, &q);
  case 0xc7: case 0xc8: case 0xc9: {
    n = 1 << (c - 0xc7);
    if (rd(r, (size_t)n, &q)) return -1;
    uint64_t len = be(q, n);
    *kind = 'e';
    return rd(r, (size_t)len + 1, &q);
  }
  default: return -1;
  }
}

static int mp_skip(mpr *r, int depth) {
  char k;
  uint64_t v;
  const unsigned char *q;
  if (depth > 64 || mp_head(r, &k, &v)) return -1;
  if (k == 's' || k == 'b') return rd(r, (size_t)v, &q);
  if (k == 'a') { for (uint64_t i = 0; i < v; i++) if (mp_skip(r, depth + 1)) return -1; }
  if (k == 'm') { for (uint64_t i = 0; i < 2 * v; i++) if (mp_skip(r, depth + 1)) return -1; }
  return 0;
}

/* Finds "id" and "ok" in a response map, and whether its error's code is "busy" (the server
 * shedding load: its check log's queue full, docs/protocol.md). */
static int cx_parse_response(const unsigned char *p, size_t n, uint64_t *id, int *ok, int *busy) {
  mpr r = {p, p + n};
  *busy = 0;
  char k;
  uint64_t v;
  if (mp_head(&r, &k, &v) || k != 'm') return -1;
  int got_id = 0, got_ok = 0;
  for (uint64_t i = 0; i < v; i++) {
    char kk;
    uint64_t kl;
    const unsigned char *ks;
    if (mp_head(&r, &kk, &kl) || kk != 's' || rd(&r, (size_t)kl, &ks)) return -1;
    if (kl == 2 && memcmp(ks, "id", 2) == 0) {
      char vk;
      uint64_t vv;
      if (mp_head(&r, &vk, &vv) || vk != 'u') return -1;
      *id = vv;
      got_id = 1;
    } else if (kl == 2 && memcmp(ks, "ok", 2) == 0) {
      char vk;
      uint64_t vv;
      if (mp_head(&r, &vk, &vv) || (vk != 't' && vk != 'f')) return -1;
      *ok = vk == 't';
      got_ok = 1;
    } else if (kl == 5 && memcmp(ks, "error", 5) == 0) {
      char ek;
      uint64_t en;
      if (mp_head(&r, &ek, &en) || ek != 'm') return -1;
      for (uint64_t j = 0; j < en; j++) {
        char fk, vk;
        uint64_t fl, vl;
        const unsigned char *fs, *vs;
        if (mp_head(&r, &fk, &fl) || fk != 's' || rd(&r, (size_t)fl, &fs)) return -1;
        if (fl == 4 && memcmp(fs, "code", 4) == 0) {
          if (mp_head(&r, &vk, &vl) || vk != 's' || rd(&r, (size_t)vl, &vs)) return -1;
          *busy = vl == 4 && memcmp(vs, "busy", 4) == 0;
        } else if (mp_skip(&r, 0)) {
          return -1;
        }
      }
    } else if (mp_skip(&r, 0)) {
      return -1;
    }
  }
  return got_id && got_ok ? 0 : -1;
}

/* ===================================================================== connections */

typedef struct lg lg;

typedef struct conn {
  uv_tcp_t tcp;
  uv_connect_t creq;
  uv_write_t wreq;
  lg *g;
  unsigned idx;
  uint32_t next_id, expect_id;
  uint64_t *sent_at;     /* ring: send time of in-flight requests, in order */
  uint32_t *sent_key;    /* ring: pool index of in-flight requests */
  unsigned head, inflight;
  size_t pool_pos;
  char *rbuf;
  size_t rlen, rcap;
  char *wbuf[2];
  size_t wlen[2], wcap;
  int wcur, writing, ready, closed;
} conn;

struct lg {
  const opts *o;
  uv_loop_t *loop;
  uv_timer_t timer;
  reqpool rp;
  conn *cs;
  int phase;             /* 0 connecting, 1 warm-up, 2 measuring, 3 done */
  unsigned n_ready;
  uint64_t t_measure0, t_measure1;
  uint64_t done_measured, done_total, errors, bad_answers;
  uint64_t busy_answers, busy_measured; /* "busy" errors: refused, not wrong; out of the rates */
  uint64_t bytes_in;     /* response bytes read during the measured window */
  uint64_t status_200, status_404, status_other; /* http GET, measured window */
  hist h;
  char err[256];
};

static void fail_run(lg *g, const char *fmt, const char *detail) {
  if (!g->err[0]) snprintf(g->err, sizeof g->err, fmt, detail);
  g->phase = 3;
  uv_stop(g->loop);
}

static void on_write(uv_write_t *w, int status);

static void flush(conn *c) {
  if (c->writing || c->closed) return;
  int cur = c->wcur;
  if (c->wlen[cur] == 0) return;
  uv_buf_t b = uv_buf_init(c->wbuf[cur], (unsigned)c->wlen[cur]);
  c->writing = 1;
  c->wcur = cur ^ 1;
  int rc = uv_write(&c->wreq, (uv_stream_t *)&c->tcp, &b, 1, on_write);
  if (rc) fail_run(c->g, "write: %s", uv_strerror(rc));
}

static void on_write(uv_write_t *w, int status) {
  conn *c = w->data;
  c->writing = 0;
  c->wlen[c->wcur ^ 1] = 0;
  if (status) {
    if (c->g->phase < 3) fail_run(c->g, "write: %s", uv_strerror(status));
    return;
  }
  flush(c);
}

static void enqueue(conn *c, uint64_t now) {
  lg *g = c->g;
  size_t k = c->pool_pos;
  c->pool_pos = (c->pool_pos + 1) % g->rp.n;
  size_t len = g->rp.len[k];
  char *dst = c->wbuf[c->wcur] + c->wlen[c->wcur];
  memcpy(dst, g->rp.bytes + g->rp.off[k], len);
  if (g->o->proto == PROTO_CX) {
    uint32_t id = c->next_id;
    unsigned char *q = (unsigned char *)dst + g->rp.id_at;
    q[0] = (unsigned char)(id >> 24); q[1] = (unsigned char)(id >> 16);
    q[2] = (unsigned char)(id >> 8);  q[3] = (unsigned char)id;
  }
  c->next_id++;
  c->wlen[c->wcur] += len;
  unsigned slot = (c->head + c->inflight) % g->o->depth;
  c->sent_at[slot] = now;
  c->sent_key[slot] = (uint32_t)k;
  c->inflight++;
}

static void fill(conn *c, uint64_t now) {
  if (c->g->phase >= 3 || !c->ready) return;
  while (c->inflight < c->g->o->depth) enqueue(c, now);
  flush(c);
}

static void on_alloc(uv_handle_t *h, size_t hint, uv_buf_t *b) {
  (void)hint;
  conn *c = h->data;
  if (c->rcap - c->rlen < 65536) {
    size_t cap = c->rcap * 2;
    char *p = realloc(c->rbuf, cap);
    if (!p) { *b = uv_buf_init(NULL, 0); return; }
    c->rbuf = p;
    c->rcap = cap;
  }
  *b = uv_buf_init(c->rbuf + c->rlen, (unsigned)(c->rcap - c->rlen));
}

/* One complete response: match it to the oldest in-flight request. busy: the server refused
 * it as busy (counted apart: not a wrong answer, not in the latencies or the rates). */
static void complete_as(conn *c, uint64_t now, int good, int busy) {
  lg *g = c->g;
  if (c->inflight == 0) { fail_run(g, "%s", "response without a request"); return; }
  uint64_t t0 = c->sent_at[c->head];
  c->head = (c->head + 1) % g->o->depth;
  c->inflight--;
  c->expect_id++;
  g->done_total++;
  if (busy) g->busy_answers++;
  else if (!good) g->bad_answers++;
  if (g->phase == 2) {
    g->done_measured++;
    if (busy) g->busy_measured++;
    else h_add(&g->h, now - t0);
  }
}

static void complete(conn *c, uint64_t now, int good) { complete_as(c, now, good, 0); }

/* Parses as many whole responses as rbuf holds; returns bytes consumed or -1. */
static long parse_cx(conn *c, uint64_t now) {
  size_t pos = 0;
  while (c->rlen - pos >= 4) {
    const unsigned char *p = (const unsigned char *)c->rbuf + pos;
    size_t n = (size_t)be(p, 4);
    if (c->rlen - pos - 4 < n) break;
    uint64_t id = 0;
    int ok = 0, busy = 0;
    if (cx_parse_response(p + 4, n, &id, &ok, &busy)) return -1;
    if (c->ready) {
      if (id != c->expect_id) {
        char why[64];
        snprintf(why, sizeof why, "%" PRIu64 " != %u", id, c->expect_id);
        fail_run(c->g, "response id mismatch: %s", why);
        return -1;
      }
      complete_as(c, now, ok == c->g->rp.known[c->sent_key[c->head]], !ok && busy);
    } else {
      /* the auth response */
      if (!ok) { fail_run(c->g, "%s", "auth refused (check needs an approval token)"); return -1; }
      c->expect_id++;
      c->ready = 1;
    }
    pos += 4 + n;
  }
  return (long)pos;
}

static long parse_resp(conn *c, uint64_t now) {
  size_t pos = 0;
  lg *g = c->g;
  for (;;) {
    const char *p = c->rbuf + pos, *e = c->rbuf + c->rlen;
    if (p >= e) break;
    const char *nl = memchr(p, '\n', (size_t)(e - p));
    if (!nl) break;
    size_t line = (size_t)(nl - p) + 1;
    int good;
    uint32_t key = c->sent_key[c->head];
    int known = g->rp.known[key];
    if (p[0] == '$') {
      long len = strtol(p + 1, NULL, 10);
      if (len < 0) {
        good = !known;
      } else {
        if ((size_t)(e - nl - 1) < (size_t)len + 2) break;
        line += (size_t)len + 2;
        good = known;
      }
    } else if (p[0] == '+' || p[0] == ':') {
      good = 1;
    } else if (p[0] == '-') {
      good = 0;
    } else {
      return -1;
    }
    complete(c, now, good);
    pos += line;
  }
  return (long)pos;
}

/* Case-insensitive match of a header line's name (p points at the line, n its length). */
static int hdr_is(const char *p, size_t n, const char *name) {
  size_t k = strlen(name);
  return n > k && p[k] == ':' && strncasecmp(p, name, k) == 0;
}

/* HTTP/1.1 responses, in order: the status line, the headers up to the blank line, then exactly
 * Content-Length bytes of body. Anything this mode cannot frame (no Content-Length,
 * Transfer-Encoding, a bad status line, a head over 16 KiB) fails the run with its reason. */
#define HTTP_HEAD_MAX 16384
static long parse_http(conn *c, uint64_t now) {
  size_t pos = 0;
  lg *g = c->g;
  while (pos < c->rlen) {
    const char *p = c->rbuf + pos;
    size_t avail = c->rlen - pos;
    const char *eoh = memmem(p, avail < HTTP_HEAD_MAX ? avail : HTTP_HEAD_MAX, "\r\n\r\n", 4);
    if (!eoh) {
      if (avail >= HTTP_HEAD_MAX) { fail_run(g, "%s", "http: response head over 16 KiB"); return -1; }
      break;
    }
    size_t head = (size_t)(eoh - p) + 4;
    if (head < 12 || (memcmp(p, "HTTP/1.1 ", 9) != 0 && memcmp(p, "HTTP/1.0 ", 9) != 0) ||
        p[9] < '1' || p[9] > '5') {
      fail_run(g, "http: bad status line: %.40s", p);
      return -1;
    }
    int status = (p[9] - '0') * 100 + (p[10] - '0') * 10 + (p[11] - '0');
    long long clen = -1;
    int closing = 0;
    const char *l = memchr(p, '\n', head) + 1;
    while (l < eoh + 2) {
      const char *e = memchr(l, '\r', (size_t)(eoh + 2 - l));
      size_t ln = (size_t)(e - l);
      if (hdr_is(l, ln, "content-length")) {
        clen = strtoll(l + 15, NULL, 10);
      } else if (hdr_is(l, ln, "transfer-encoding")) {
        fail_run(g, "http: the server sent Transfer-Encoding (%.40s): this mode reads Content-Length only", l);
        return -1;
      } else if (hdr_is(l, ln, "connection") && memmem(l, ln, "close", 5)) {
        closing = 1;
      }
      l = e + 2;
    }
    if (clen < 0) {
      char why[64];
      snprintf(why, sizeof why, "status %d", status);
      fail_run(g, "http: response without Content-Length (%s)", why);
      return -1;
    }
    if (avail - head < (size_t)clen) break;
    const char *body = p + head;
    int good;
    if (g->o->http_path) {
      /* GET: 200 or 404 as decided before the run; a JSON object from /v1, else a page */
      int want = c->inflight && g->rp.known[c->sent_key[c->head]] ? 200 : 404;
      int json = strncmp(g->o->http_path, "/v1/", 4) == 0;
      size_t tail = clen < 16 ? (size_t)clen : 16; /* a page ends with "</html>\n": look there only */
      good = status == want && clen > 0 &&
             (json ? body[0] == '{' : memmem(body + clen - tail, tail, "</html>", 7) != NULL);
      if (g->phase == 2) {
        if (status == 200) g->status_200++;
        else if (status == 404) g->status_404++;
        else g->status_other++;
      }
    } else {
      good = status == 200 && memmem(body, (size_t)clen, "\"verdict\"", 9) != NULL;
    }
    if (!g->o->http_path && good && g->o->batch == 1 && c->inflight) {
      /* one code per request: not_found exactly for the unknown codes */
      int nf = memmem(body, (size_t)clen, "\"not_found\"", 11) != NULL;
      good = nf == !g->rp.known[c->sent_key[c->head]];
    }
    if (!good && !g->bad_answers) {
      fprintf(stderr, "bench: http: first wrong answer (status %d): %.*s\n", status,
              (int)(clen < 300 ? clen : 300), body);
    }
    complete(c, now, good);
    pos += head + (size_t)clen;
    if (closing && g->phase < 3) {
      char why[64];
      snprintf(why, sizeof why, "status %d", status);
      fail_run(g, "http: the server closed the keep-alive connection (%s)", why);
      return -1;
    }
  }
  return (long)pos;
}

static void on_read(uv_stream_t *s, ssize_t nread, const uv_buf_t *b) {
  (void)b;
  conn *c = s->data;
  lg *g = c->g;
  if (nread < 0) {
    if (g->phase < 3) fail_run(g, "read: %s", uv_strerror((int)nread));
    return;
  }
  if (nread == 0) return;
  c->rlen += (size_t)nread;
  if (g->phase == 2) g->bytes_in += (uint64_t)nread;
  uint64_t now = cxb_now_ns();
  int was_ready = c->ready;
  long used = g->o->proto == PROTO_CX     ? parse_cx(c, now)
              : g->o->proto == PROTO_HTTP ? parse_http(c, now)
                                          : parse_resp(c, now);
  if (used < 0) {
    if (g->phase < 3) fail_run(g, "%s", "malformed response");
    return;
  }
  memmove(c->rbuf, c->rbuf + used, c->rlen - (size_t)used);
  c->rlen -= (size_t)used;
  if (!was_ready && c->ready) {
    g->n_ready++;
    if (g->n_ready == g->o->conns && g->phase == 0) g->phase = 1;
  }
  fill(c, now);
}

static void on_connect(uv_connect_t *req, int status) {
  conn *c = req->data;
  lg *g = c->g;
  if (status) { fail_run(g, "connect: %s", uv_strerror(status)); return; }
  uv_tcp_nodelay(&c->tcp, 1);
  uv_read_start((uv_stream_t *)&c->tcp, on_alloc, on_read);
  if (g->o->proto == PROTO_CX && g->o->token) {
    msgpack_sbuffer sb;
    msgpack_packer pk;
    msgpack_sbuffer_init(&sb);
    msgpack_sbuffer_write(&sb, "\0\0\0\0", 4);
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    msgpack_pack_map(&pk, 3);
    pk_s(&pk, "id");
    msgpack_pack_fix_uint32(&pk, c->next_id++);
    pk_s(&pk, "op");
    pk_s(&pk, "auth");
    pk_s(&pk, "token");
    pk_s(&pk, g->o->token);
    uint32_t len = (uint32_t)(sb.size - 4);
    unsigned char *p = (unsigned char *)sb.data;
    p[0] = (unsigned char)(len >> 24); p[1] = (unsigned char)(len >> 16);
    p[2] = (unsigned char)(len >> 8);  p[3] = (unsigned char)len;
    memcpy(c->wbuf[c->wcur], sb.data, sb.size);
    c->wlen[c->wcur] = sb.size;
    msgpack_sbuffer_destroy(&sb);
    flush(c);
    return;
  }
  c->ready = 1;
  g->n_ready++;
  if (g->n_ready == g->o->conns && g->phase == 0) g->phase = 1;
  fill(c, cxb_now_ns());
}

/* Phase clock: 10 ms ticks; warm-up, then the measured window. */
static void on_tick(uv_timer_t *t) {
  lg *g = t->data;
  uint64_t now = cxb_now_ns();
  static uint64_t t_phase;
  if (g->phase == 1 && t_phase == 0) t_phase = now;
  if (g->phase == 1 && now - t_phase >= (uint64_t)(g->o->warmup * 1e9)) {
    g->phase = 2;
    g->t_measure0 = now;
  } else if (g->phase == 2 && now - g->t_measure0 >= (uint64_t)(g->o->duration * 1e9)) {
    g->t_measure1 = now;
    g->phase = 3;
    uv_stop(g->loop);
  }
}

static void on_close(uv_handle_t *h) { (void)h; }

/* ===================================================================== redis loading */

static int sock_connect(const char *host, int port) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((uint16_t)port);
  if (inet_pton(AF_INET, host, &a.sin_addr) != 1 || connect(fd, (struct sockaddr *)&a, sizeof a)) {
    close(fd);
    return -1;
  }
  return fd;
}

static int write_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0) { if (errno == EINTR) continue; return -1; }
    p += w;
    n -= (size_t)w;
  }
  return 0;
}

/* Reads n simple replies ("+OK\r\n"); -1 on an error reply. */
static int read_oks(int fd, size_t n) {
  char buf[65536];
  size_t got = 0, partial = 0;
  while (got < n) {
    ssize_t r = read(fd, buf + partial, sizeof buf - partial);
    if (r <= 0) return -1;
    size_t end = partial + (size_t)r, s = 0;
    for (size_t i = 0; i < end; i++)
      if (buf[i] == '\n') {
        if (buf[s] != '+') return -1;
        got++;
        s = i + 1;
      }
    memmove(buf, buf + s, end - s);
    partial = end - s;
  }
  return 0;
}

typedef struct rload {
  int fd;
  char *buf;
  size_t len, cap, pending, total, bytes;
  int failed;
} rload;

static int rload_flush(rload *r) {
  if (r->len && write_all(r->fd, r->buf, r->len)) return -1;
  r->len = 0;
  if (r->pending && read_oks(r->fd, r->pending)) return -1;
  r->pending = 0;
  return 0;
}

static int rload_each(void *ctx, const char code[18], const void *val, size_t n) {
  rload *r = ctx;
  size_t need = n + 96;
  if (r->len + need > r->cap) {
    size_t cap = (r->len + need) * 2;
    char *p = realloc(r->buf, cap);
    if (!p) { r->failed = 1; return 1; }
    r->buf = p;
    r->cap = cap;
  }
  r->len += (size_t)sprintf(r->buf + r->len, "*3\r\n$3\r\nSET\r\n$18\r\n%.18s\r\n$%zu\r\n", code, n);
  memcpy(r->buf + r->len, val, n);
  r->len += n;
  memcpy(r->buf + r->len, "\r\n", 2);
  r->len += 2;
  r->pending++;
  r->total++;
  r->bytes += n;
  if (r->pending >= 1000 && rload_flush(r)) { r->failed = 1; return 1; }
  return 0;
}

static int redis_load(const opts *o) {
  cxb_lmdb *l;
  if (cxb_lmdb_open(o->db, &l)) return 2;
  int fd = sock_connect(o->host, o->port);
  if (fd < 0) { cxb_lmdb_close(l); cxb_die("cannot connect to redis at %s:%d", o->host, o->port); }
  rload r = {.fd = fd};
  uint64_t t0 = cxb_now_ns();
  if (write_all(fd, "*1\r\n$8\r\nFLUSHALL\r\n", 18) || read_oks(fd, 1)) r.failed = 1;
  if (!r.failed && cxb_lmdb_each(l, rload_each, &r)) r.failed = 1;
  if (!r.failed && rload_flush(&r)) r.failed = 1;
  double secs = (double)(cxb_now_ns() - t0) / 1e9;
  close(fd);
  free(r.buf);
  cxb_lmdb_close(l);
  if (r.failed) cxb_die("loading redis failed");
  printf("redis_load keys=%zu value_bytes=%zu avg_value=%.0f seconds=%.2f\n", r.total, r.bytes,
         r.total ? (double)r.bytes / (double)r.total : 0.0, secs);
  return 0;
}

static int free_port(void) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t al = sizeof a;
  if (fd < 0 || bind(fd, (struct sockaddr *)&a, sizeof a) || getsockname(fd, (struct sockaddr *)&a, &al))
    cxb_die("cannot find a free port");
  printf("%d\n", ntohs(a.sin_port));
  close(fd);
  return 0;
}

/* ===================================================================== main */

static void usage(void) {
  fprintf(stderr,
          "usage: bench_load --db DIR --port N [--proto cx|resp|http] [--host H] [--conns C] [--depth P]\n"
          "                  [--duration S] [--warmup S] [--op check|entity|records|ping] [--batch K]\n"
          "                  [--mix check=90,entity=8,records=2]\n"
          "                  [--action A] [--as-of D] [--token T] [--pool N] [--unknown PCT]\n"
          "                  [--seed S] [--http-path TEMPLATE [--visible-only]] [--json FILE] [--label L]\n"
          "                  (TEMPLATE: a GET path with {code} and/or {name2}, e.g. /entity/{code};\n"
          "                   --visible-only: only codes the public may see, every answer a 200)\n"
          "       bench_load --redis-load --db DIR --port N [--host H]\n"
          "       bench_load --codes-out FILE --db DIR [--pool N] [--unknown PCT] [--seed S]\n"
          "       bench_load --free-port\n");
  exit(2);
}

int main(int argc, char **argv) {
  opts o = {.host = "127.0.0.1", .label = "", .action = "procurement", .proto = PROTO_CX,
            .op = OP_CHECK, .conns = 50, .depth = 1, .batch = 1, .duration = 10, .warmup = 2,
            .pool = 100000, .unknown_pct = 10, .seed = 42};
  int redis = 0;
  static const struct option lo[] = {
      {"db", 1, 0, 'd'},       {"port", 1, 0, 'P'},     {"proto", 1, 0, 'r'},   {"host", 1, 0, 'H'},
      {"conns", 1, 0, 'c'},    {"depth", 1, 0, 'D'},    {"duration", 1, 0, 't'}, {"warmup", 1, 0, 'w'},
      {"op", 1, 0, 'o'},       {"batch", 1, 0, 'B'},    {"action", 1, 0, 'A'},  {"as-of", 1, 0, 'a'},
      {"token", 1, 0, 'T'},    {"pool", 1, 0, 'p'},     {"unknown", 1, 0, 'u'}, {"seed", 1, 0, 's'},
      {"json", 1, 0, 'j'},     {"label", 1, 0, 'l'},    {"redis-load", 0, 0, 'R'},
      {"mix", 1, 0, 'M'},      {"codes-out", 1, 0, 'C'},  {"http-path", 1, 0, 'g'},
      {"visible-only", 0, 0, 'V'},
      {"free-port", 0, 0, 'F'}, {"help", 0, 0, 'h'},    {0, 0, 0, 0}};
  int c;
  while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
    switch (c) {
    case 'd': o.db = optarg; break;
    case 'P': o.port = atoi(optarg); break;
    case 'r':
      if (strcmp(optarg, "cx") == 0) o.proto = PROTO_CX;
      else if (strcmp(optarg, "resp") == 0) o.proto = PROTO_RESP;
      else if (strcmp(optarg, "http") == 0) o.proto = PROTO_HTTP;
      else usage();
      break;
    case 'H': o.host = optarg; break;
    case 'c': o.conns = (unsigned)atoi(optarg); break;
    case 'D': o.depth = (unsigned)atoi(optarg); break;
    case 't': o.duration = atof(optarg); break;
    case 'w': o.warmup = atof(optarg); break;
    case 'o':
      if (strcmp(optarg, "check") == 0) o.op = OP_CHECK;
      else if (strcmp(optarg, "entity") == 0) o.op = OP_ENTITY;
      else if (strcmp(optarg, "records") == 0) o.op = OP_RECORDS;
      else if (strcmp(optarg, "ping") == 0) o.op = OP_PING;
      else usage();
      break;
    case 'M': {
      o.mix_s = optarg;
      char *save = NULL, *dup = strdup(optarg);
      for (char *t = strtok_r(dup, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(t, '=');
        int m;
        if (!eq) usage();
        *eq = 0;
        for (m = 0; m < OP_COUNT && strcmp(t, op_names[m]) != 0; m++) {}
        if (m == OP_COUNT) usage();
        o.mix[m] = (unsigned)atoi(eq + 1);
      }
      free(dup);
      break;
    }
    case 'B': o.batch = (unsigned)atoi(optarg); break;
    case 'A': o.action = optarg; break;
    case 'a': o.as_of = optarg; break;
    case 'T': o.token = optarg; break;
    case 'p': o.pool = strtoull(optarg, NULL, 10); break;
    case 'u': o.unknown_pct = (unsigned)atoi(optarg); break;
    case 's': o.seed = strtoull(optarg, NULL, 10); break;
    case 'j': o.json = optarg; break;
    case 'l': o.label = optarg; break;
    case 'R': redis = 1; break;
    case 'C': o.codes_out = optarg; break;
    case 'g': o.http_path = optarg; break;
    case 'V': o.visible_only = 1; break;
    case 'F': return free_port();
    default: usage();
    }
  }
  if (!o.db || (o.port <= 0 && !o.codes_out)) usage();
  if (redis) return redis_load(&o);
  if (o.conns == 0 || o.depth == 0 || o.batch == 0 || o.batch > 1000 || o.duration <= 0 ||
      o.unknown_pct >= 100 || o.pool == 0)
    usage();
  if (o.proto == PROTO_HTTP && (o.op != OP_CHECK || o.mix_s)) {
    fprintf(stderr,
            "bench_load: --proto http runs POST /v1/check or --http-path GETs (no --op, no --mix)\n");
    return 2;
  }
  if (o.visible_only && !o.http_path) usage();
  if (o.http_path && (o.proto != PROTO_HTTP || o.batch != 1 || !tmpl_valid(o.http_path))) {
    fprintf(stderr, "bench_load: --http-path needs --proto http, no --batch, and a path whose only "
                    "placeholders are {code} and {name2}\n");
    return 2;
  }

  /* The request pool: the same fixed-seed sample bench_query uses. */
  cxb_lmdb *l;
  if (cxb_lmdb_open(o.db, &l)) cxb_die("cannot open %s read-only", o.db);
  size_t n_entities = cxb_lmdb_count(l);
  size_t n_pool = o.pool < n_entities ? o.pool : n_entities;
  size_t n_unknown = n_pool * o.unknown_pct / (100 - o.unknown_pct), n_known;
  char *codes;
  if (cxb_codes_sample(l, o.seed, o.pool, n_unknown, &codes, &n_known)) cxb_die("cannot sample codes");
  cxb_lmdb_close(l);
  size_t n_codes = n_known + n_unknown;
  size_t *order = malloc(n_codes * sizeof *order);
  if (!order) cxb_die("out of memory");
  cxb_rng r = {o.seed ^ 0x5bd1e995u};
  for (size_t i = 0; i < n_codes; i++) order[i] = i;
  for (size_t i = n_codes - 1; i > 0; i--) {
    size_t j = (size_t)cxb_rng_below(&r, i + 1), t = order[i];
    order[i] = order[j];
    order[j] = t;
  }

  if (o.codes_out) {
    FILE *f = fopen(o.codes_out, "w");
    if (!f) cxb_die("cannot write %s", o.codes_out);
    for (size_t i = 0; i < n_codes; i++) fprintf(f, "%.18s\n", codes + order[i] * 18);
    if (fclose(f)) cxb_die("cannot write %s", o.codes_out);
    printf("codes_out=%s known=%zu unknown=%zu\n", o.codes_out, n_known, n_unknown);
    free(codes);
    free(order);
    return 0;
  }

  static lg g;
  g.o = &o;
  getdraw gd = {0};
  if (o.http_path && o.token) fprintf(stderr, "bench: --http-path: no token sent (the public role's GETs)\n");
  if (o.http_path) get_draw(&o, codes, n_known, order, n_codes, &gd);
  if (o.http_path && o.visible_only) { /* the pool keeps its order, less the 404s */
    size_t m = 0;
    for (size_t i = 0; i < n_codes; i++)
      if (order[i] < n_known && gd.visible[order[i]]) order[m++] = order[i];
    if (m == 0) cxb_die("--visible-only: no code the public may see");
    n_codes = m;
  }
  build_pool(&o, codes, n_known, n_codes, order, &gd, &g.rp);
  free(gd.visible);
  free(gd.names);
  free(codes);
  free(order);

  g.loop = uv_default_loop();
  g.cs = calloc(o.conns, sizeof *g.cs);
  if (!g.cs) cxb_die("out of memory");
  struct sockaddr_in addr;
  if (uv_ip4_addr(o.host, o.port, &addr)) cxb_die("bad host %s", o.host);
  for (unsigned i = 0; i < o.conns; i++) {
    conn *cn = &g.cs[i];
    cn->g = &g;
    cn->idx = i;
    cn->next_id = 1;
    cn->expect_id = 1;
    cn->pool_pos = (g.rp.n / o.conns) * i; /* spread the connections over the pool */
    cn->sent_at = calloc(o.depth, sizeof *cn->sent_at);
    cn->sent_key = calloc(o.depth, sizeof *cn->sent_key);
    cn->rcap = 1 << 17;
    cn->rbuf = malloc(cn->rcap);
    cn->wcap = (size_t)o.depth * g.rp.max_len + 4096;
    cn->wbuf[0] = malloc(cn->wcap);
    cn->wbuf[1] = malloc(cn->wcap);
    if (!cn->sent_at || !cn->sent_key || !cn->rbuf || !cn->wbuf[0] || !cn->wbuf[1])
      cxb_die("out of memory");
    uv_tcp_init(g.loop, &cn->tcp);
    cn->tcp.data = cn;
    cn->creq.data = cn;
    cn->wreq.data = cn;
    int rc = uv_tcp_connect(&cn->creq, &cn->tcp, (const struct sockaddr *)&addr, on_connect);
    if (rc) cxb_die("connect: %s", uv_strerror(rc));
  }
  uv_timer_init(g.loop, &g.timer);
  g.timer.data = &g;
  uv_timer_start(&g.timer, on_tick, 10, 10);
  uint64_t t_start = cxb_now_ns();
  uv_run(g.loop, UV_RUN_DEFAULT);
  if (!g.t_measure1) g.t_measure1 = cxb_now_ns();
  for (unsigned i = 0; i < o.conns; i++) {
    g.cs[i].closed = 1;
    if (!uv_is_closing((uv_handle_t *)&g.cs[i].tcp)) uv_close((uv_handle_t *)&g.cs[i].tcp, on_close);
  }
  uv_close((uv_handle_t *)&g.timer, on_close);
  uv_run(g.loop, UV_RUN_DEFAULT);
  uv_loop_close(g.loop);
  (void)t_start;

  const char *proto = proto_names[o.proto], *door = door_names[o.proto];
  const char *opn = o.proto == PROTO_RESP || o.http_path ? "get" : o.mix_s ? o.mix_s : op_names[o.op];
  const char *path = o.http_path ? o.http_path : o.proto == PROTO_HTTP ? "/v1/check" : NULL;
  int failed = 0;
  if (g.err[0]) {
    fprintf(stderr, "bench: load %s: %s\n", proto, g.err);
    failed = 2;
  }
  double secs = g.t_measure0 ? (double)(g.t_measure1 - g.t_measure0) / 1e9 : 0;
  double rps = secs > 0 ? (double)(g.done_measured - g.busy_measured) / secs : 0; /* answered, not refused */
  printf("load proto=%s door=%s op=%s conns=%u depth=%u batch=%u req_s=%.0f codes_s=%.0f p50_us=%.1f "
         "p99_us=%.1f p999_us=%.1f max_us=%.1f n=%" PRIu64 " bad=%" PRIu64 " busy=%" PRIu64 " resp_bytes=%.0f%s%s\n",
         proto, door, opn, o.conns, o.depth, o.batch, rps, rps * o.batch, h_pct(&g.h, 0.5) / 1e3,
         h_pct(&g.h, 0.99) / 1e3, h_pct(&g.h, 0.999) / 1e3, g.h.max / 1e3, g.done_measured,
         g.bad_answers, g.busy_measured, g.done_measured ? (double)g.bytes_in / (double)g.done_measured : 0.0,
         o.label[0] ? " label=" : "", o.label);
  if (o.http_path)
    printf("load path=%s status_200=%" PRIu64 " status_404=%" PRIu64 " status_other=%" PRIu64 "%s%s\n",
           path, g.status_200, g.status_404, g.status_other, o.label[0] ? " label=" : "", o.label);
  if (g.bad_answers) {
    fprintf(stderr, "bench: load %s: %" PRIu64 " wrong answers\n", proto, g.bad_answers);
    if (!failed) failed = 1;
  }
  if (o.json) {
    cxb_json j = {0};
    cxb_json_obj_begin(&j, NULL);
    cxb_json_str(&j, "bench", "load");
    cxb_json_str(&j, "label", o.label);
    cxb_json_str(&j, "proto", proto);
    cxb_json_str(&j, "door", door);
    cxb_json_str(&j, "op", opn);
    if (path) cxb_json_str(&j, "path", path);
    else cxb_json_null(&j, "path");
    if (o.http_path) cxb_json_int(&j, "visible_only", o.visible_only);
    cxb_json_int(&j, "conns", o.conns);
    cxb_json_int(&j, "depth", o.depth);
    cxb_json_int(&j, "batch", o.batch);
    cxb_json_num(&j, "seconds", secs);
    cxb_json_int(&j, "responses", (long long)g.done_measured);
    cxb_json_int(&j, "responses_total", (long long)g.done_total); /* warm-up included */
    cxb_json_num(&j, "req_per_s", rps);
    cxb_json_num(&j, "codes_per_s", rps * o.batch);
    cxb_json_num(&j, "mean_ns", g.h.n ? g.h.sum / (double)g.h.n : 0);
    cxb_json_int(&j, "p50_ns", (long long)h_pct(&g.h, 0.5));
    cxb_json_int(&j, "p90_ns", (long long)h_pct(&g.h, 0.9));
    cxb_json_int(&j, "p99_ns", (long long)h_pct(&g.h, 0.99));
    cxb_json_int(&j, "p999_ns", (long long)h_pct(&g.h, 0.999));
    cxb_json_int(&j, "max_ns", (long long)g.h.max);
    cxb_json_int(&j, "bad_answers", (long long)g.bad_answers);
    /* refused as busy in the measured window: out of req_per_s and the latencies */
    cxb_json_int(&j, "busy_answers", (long long)g.busy_measured);
    cxb_json_num(&j, "response_bytes_avg", g.done_measured ? (double)g.bytes_in / (double)g.done_measured : 0);
    if (o.http_path) { /* answers by status in the measured window (all of them were right) */
      cxb_json_int(&j, "status_200", (long long)g.status_200);
      cxb_json_int(&j, "status_404", (long long)g.status_404);
      cxb_json_int(&j, "status_other", (long long)g.status_other);
    }
    cxb_json_str(&j, "error", g.err);
    cxb_json_obj_end(&j);
    if (cxb_json_write(&j, o.json)) cxb_die("cannot write %s", o.json);
    cxb_json_free(&j);
  }
  for (unsigned i = 0; i < o.conns; i++) {
    conn *cn = &g.cs[i];
    free(cn->sent_at);
    free(cn->sent_key);
    free(cn->rbuf);
    free(cn->wbuf[0]);
    free(cn->wbuf[1]);
  }
  free(g.cs);
  free(g.rp.bytes);
  free(g.rp.off);
  free(g.rp.len);
  free(g.rp.known);
  return failed;
}
