/*
 * session.c — one query interface for both modes, one implementation of every op.
 *
 * A query command builds its request as a JSON object in the protocol's shape (docs/protocol.md)
 * and calls cli_sess_call(), which packs it into a msgpack request. Remote mode sends it through
 * net/'s client; local mode runs it through the executor (net/exec.h, cx_exec) on the store,
 * exactly as chengxind's loops do. Either way the answer is the same msgpack map, turned into
 * JSON the same way, so for the same role both modes print the same bytes.
 */
#include <errno.h>
#include <stdlib.h>
#include <math.h>
#include <string.h>

#include "session.h"

#include "client.h"
#include "exec.h"

/* ===================================================================== helpers */

/* A JSON string of any bytes: jansson builds none from bytes that are not UTF-8 (the value
 * would vanish from the output), so those are shown escaped (\xNN) instead. */
static json_t *jstrn(const char *p, size_t n) {
  json_t *j = json_stringn(p ? p : "", p ? n : 0);
  if (j) return j;
  char *e = cx_malloc(4 * n + 1);
  if (!e) return NULL;
  cx_text_escape(p, n, CX_TEXT_UTF8, e, 4 * n + 1);
  j = json_string(e);
  free(e);
  return j;
}

static int fail(char *err, size_t cap, int code, const char *fmt, ...) __attribute__((format(printf, 4, 5)));
static int fail(char *err, size_t cap, int code, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(err, cap, fmt, ap);
  va_end(ap);
  return code;
}

/* ===================================================================== JSON <-> msgpack */

static json_t *jday(cx_day d) {
  if (d == CX_DAY_NONE || d == CX_DAY_OPEN) return json_null();
  char b[11];
  cx_day_format(d, b);
  return json_string(b);
}


static int pack_args(msgpack_packer *pk, void *ctx) {
  json_t *args = ctx;
  const char *k;
  json_t *v;
  json_object_foreach(args, k, v) {
    msgpack_pack_str_with_body(pk, k, strlen(k));
    cx_exec_pack_json(pk, v);
  }
  return 0;
}

static json_t *from_mp(const msgpack_object *o) {
  switch (o->type) {
  case MSGPACK_OBJECT_NIL: return json_null();
  case MSGPACK_OBJECT_BOOLEAN: return json_boolean(o->via.boolean);
  case MSGPACK_OBJECT_POSITIVE_INTEGER: return json_integer((json_int_t)o->via.u64);
  case MSGPACK_OBJECT_NEGATIVE_INTEGER: return json_integer((json_int_t)o->via.i64);
  case MSGPACK_OBJECT_FLOAT32:
  case MSGPACK_OBJECT_FLOAT64: return json_real(o->via.f64);
  case MSGPACK_OBJECT_STR: return jstrn(o->via.str.ptr, o->via.str.size);
  case MSGPACK_OBJECT_ARRAY: {
    json_t *a = json_array();
    for (uint32_t i = 0; i < o->via.array.size; i++) json_array_append_new(a, from_mp(&o->via.array.ptr[i]));
    return a;
  }
  case MSGPACK_OBJECT_MAP: {
    json_t *m = json_object();
    for (uint32_t i = 0; i < o->via.map.size; i++) {
      const msgpack_object *k = &o->via.map.ptr[i].key;
      if (k->type != MSGPACK_OBJECT_STR) continue;
      char key[256];
      size_t n = k->via.str.size < sizeof key - 1 ? k->via.str.size : sizeof key - 1;
      memcpy(key, k->via.str.ptr, n);
      key[n] = 0;
      json_object_set_new(m, key, from_mp(&o->via.map.ptr[i].val));
    }
    return m;
  }
  default: return json_null();
  }
}

/* ===================================================================== session */

/* "HOST", "HOST:PORT", "[V6]", "[V6]:PORT" or a bare IPv6 address ("::1": more than one
 * colon, no brackets) into host and port; no port means CLI_DEFAULT_PORT. 0 or -1. */
static int parse_addr(const char *a, char *host, size_t cap, int *port) {
  const char *h = a, *p = NULL;
  size_t hl;
  if (a[0] == '[') {
    const char *rb = strchr(a, ']');
    if (!rb || (rb[1] && rb[1] != ':')) return -1;
    h = a + 1;
    hl = (size_t)(rb - h);
    if (rb[1] == ':') p = rb + 2;
  } else {
    const char *colon = strchr(a, ':');
    if (colon && strchr(colon + 1, ':')) colon = NULL; /* bare IPv6 */
    hl = colon ? (size_t)(colon - a) : strlen(a);
    if (colon) p = colon + 1;
  }
  if (hl == 0 || hl >= cap) return -1;
  memcpy(host, h, hl);
  host[hl] = 0;
  *port = CLI_DEFAULT_PORT;
  if (p) {
    char *e;
    long v = strtol(p, &e, 10);
    if (!*p || *e || v <= 0 || v > 65535) return -1;
    *port = (int)v;
  }
  return 0;
}

int cli_sess_open(cli_sess *s) {
  if (s->connect) {
    char host[256], addr[300];
    int port;
    if (parse_addr(s->connect, host, sizeof host, &port)) {
      cli_usage("--connect: expected HOST, HOST:PORT or [IPv6]:PORT, got '%s'", s->connect);
      return CLI_EXIT_USAGE;
    }
    snprintf(addr, sizeof addr, strchr(host, ':') ? "[%s]:%d" : "%s:%d", host, port);
    char token[512] = "";
    if (!s->token_file && !(getenv("CHENGXIN_TOKEN") && *getenv("CHENGXIN_TOKEN")))
      s->token_file = cli_default_token_file();
    if (s->token_file) {
      char *text;
      size_t n;
      int e = cli_read_file(s->token_file, &text, &n);
      if (e) {
        cli_err(strerror(-e), "--token-file %s", s->token_file);
        return CLI_EXIT_FAIL;
      }
      /* the first word of the first line that is not a comment */
      char *save = NULL;
      for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        while (*l == ' ' || *l == '\t') l++;
        if (!*l || *l == '#') continue;
        size_t k = strcspn(l, " \t\r");
        if (k >= sizeof token) k = sizeof token - 1;
        memcpy(token, l, k);
        token[k] = 0;
        break;
      }
      free(text);
      if (!token[0]) {
        cli_err("no token in the file", "--token-file %s", s->token_file);
        return CLI_EXIT_FAIL;
      }
    } else if (getenv("CHENGXIN_TOKEN") && *getenv("CHENGXIN_TOKEN")) {
      snprintf(token, sizeof token, "%s", getenv("CHENGXIN_TOKEN"));
    }
    cx_client *c;
    errno = 0;
    int e = cx_client_connect(host, port, 30000, &c);
    if (e) {
      /* net/client.h: on CX_ECONN errno holds the reason, 0 for a name that does not resolve */
      int why = errno;
      cli_err(e != CX_ECONN ? cx_strerror(e) : why ? strerror(why) : "the host name does not resolve",
              "cannot connect to %s", addr);
      return CLI_EXIT_FAIL;
    }
    if (token[0]) {
      e = cx_client_auth(c, token, NULL, 0);
      if (e) {
        cli_err(e == CX_EFORBIDDEN ? "unknown token" : cx_strerror(e), "auth at %s", addr);
        cx_client_close(c);
        return CLI_EXIT_FAIL;
      }
    }
    s->client = c;
    return 0;
  }
  if (!s->db) {
    cli_usage("%s: give --db PATH or --connect HOST:PORT", s->cmd);
    return CLI_EXIT_USAGE;
  }
  if (cli_store_open(s->db, 0, !s->write, 0, &s->st)) return CLI_EXIT_FAIL;
  /* The executor's context, as chengxind builds it, but: no tokens (the role is --role), no
   * query audit (the user holds the store's files), the writer named local:<user>, and an
   * analyst's run-time budget fit for a terminal rather than a shared server. */
  memset(&s->env, 0, sizeof s->env);
  s->env.st = s->st;
  cx_exec_limits_default(&s->env.lim);
  s->env.lim.agg_groups = 100000;             /* query/'s own cap */
  s->env.lim.agg_answer = (size_t)1 << 30;
  s->env.lim.agg_time_ms = 3600u * 1000u;
  cx_audit_entry who;
  cli_audit_entry(&who, "", "", "");
  s->who = who.who.p;
  /* writes take no read txn; feedback needs the query context (its receipt's key, the
   * catalogue's action names) */
  int e = cx_query_new(s->st, &s->q);
  if (e == 0 && s->write) return 0;
  if (e == 0) e = cx_store_txn_begin(s->st, &s->t);
  if (e) {
    cli_err(cx_strerror(e), "%s: %s", s->cmd, s->db);
    cli_sess_close(s);
    return CLI_EXIT_FAIL;
  }
  s->txn_live = 1;
  return 0;
}

void cli_sess_close(cli_sess *s) {
  if (s->client) cx_client_close(s->client);
  s->client = NULL;
  if (s->t) cx_store_txn_end(s->t);
  if (s->q) cx_query_free(s->q);
  if (s->st) cx_store_close(s->st);
  s->t = NULL;
  s->q = NULL;
  s->st = NULL;
}

/* The answer map of a response payload (local mode) into *result or err. */
static int local_answer(const void *payload, size_t n, json_t **result, char *err, size_t cap) {
  msgpack_unpacked u;
  msgpack_unpacked_init(&u);
  int rc = CX_EINTERNAL;
  if (msgpack_unpack_next(&u, payload, n, NULL) != MSGPACK_UNPACK_SUCCESS) {
    fail(err, cap, rc, "the executor's answer is not msgpack");
    goto out;
  }
  const msgpack_object *ok = cx_mpo_get(&u.data, "ok");
  if (ok && ok->type == MSGPACK_OBJECT_BOOLEAN && ok->via.boolean) {
    const msgpack_object *r = cx_mpo_get(&u.data, "result");
    *result = r ? from_mp(r) : json_null();
    rc = 0;
    goto out;
  }
  /* the same mapping of an error answer as the remote client's (cx_client_resp_err) */
  cx_client_resp resp;
  memset(&resp, 0, sizeof resp);
  resp.root = &u.data;
  resp.error = cx_mpo_get(&u.data, "error");
  const msgpack_object *code = resp.error ? cx_mpo_get(resp.error, "code") : NULL;
  const msgpack_object *msg = resp.error ? cx_mpo_get(resp.error, "message") : NULL;
  if (code && code->type == MSGPACK_OBJECT_STR) {
    resp.err_code = code->via.str.ptr;
    resp.err_code_len = code->via.str.size;
  }
  rc = cx_client_resp_err(&resp);
  if (!rc) rc = CX_EINTERNAL;
  if (msg && msg->type == MSGPACK_OBJECT_STR)
    fail(err, cap, rc, "%.*s", (int)msg->via.str.size, msg->via.str.ptr);
  else
    fail(err, cap, rc, "%s", cx_strerror(rc));
out:
  msgpack_unpacked_destroy(&u);
  return rc;
}

static int local_call(cli_sess *s, const char *op, json_t *args, json_t **result, char *err, size_t cap) {
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, 2 + json_object_size(args));
  msgpack_pack_str_with_body(&pk, "id", 2);
  msgpack_pack_uint64(&pk, ++s->next_id);
  msgpack_pack_str_with_body(&pk, "op", 2);
  msgpack_pack_str_with_body(&pk, op, strlen(op));
  pack_args(&pk, args);
  cx_buf out, details;
  int rc = cx_buf_init(&out, 4096);
  if (rc == 0) rc = cx_buf_init(&details, 0);
  if (rc) {
    msgpack_sbuffer_destroy(&sb);
    return fail(err, cap, rc, "out of memory");
  }
  static cx_check_hit hits[64]; /* one session per process */
  cx_exec_ctx x;
  memset(&x, 0, sizeof x);
  x.env = &s->env;
  x.q = s->q;
  x.txn = s->t;
  x.txn_live = &s->txn_live;
  x.hits = hits;
  x.hits_cap = 64;
  x.role = s->role;
  x.token = -1;
  x.who = s->who;
  x.who_role = "local";
  x.out = &out;
  x.details = &details;
  rc = cx_exec(&x, sb.data, sb.size);
  msgpack_sbuffer_destroy(&sb);
  const unsigned char *pl;
  size_t plen, need;
  if (out.failed || cx_frame_parse(out.p, out.len, (size_t)-1 >> 1, &pl, &plen, &need) <= 0)
    rc = fail(err, cap, CX_ENOMEM, "out of memory while building the answer");
  else
    rc = local_answer(pl, plen, result, err, cap);
  cx_buf_free(&out);
  cx_buf_free(&details);
  return rc;
}

int cli_sess_call(cli_sess *s, const char *op, json_t *args, json_t **result, char *err, size_t cap) {
  *result = NULL;
  if (s->as_of_set) json_object_set_new(args, "as_of", jday(s->as_of));
  if (s->force_scan && strcmp(op, "aggregate") == 0) json_object_set_new(args, "scan", json_true());
  if (!s->client) return local_call(s, op, args, result, err, cap);
  cx_client_resp r;
  int e = cx_client_call(s->client, op, (uint32_t)json_object_size(args), pack_args, args, &r);
  if (e) return fail(err, cap, e, "%s", cx_strerror(e));
  if (!r.ok) {
    int code = cx_client_resp_err(&r);
    return fail(err, cap, code ? code : CX_EINTERNAL, "%.*s", (int)r.err_message_len,
                r.err_message ? r.err_message : "");
  }
  *result = r.result ? from_mp(r.result) : json_null();
  return 0;
}
