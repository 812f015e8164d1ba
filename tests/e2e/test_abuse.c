/* End-to-end: malformed input, limits and error codes; after each abuse a normal client still
 * gets correct answers. */
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include "e2e.h"
#include "net_int.h"

TestSuite(abuse, .init = e2e_setup, .fini = e2e_teardown, .timeout = 60);

static void raw_send(int fd, const void *p, size_t n) {
  cr_assert_eq(send(fd, p, n, MSG_NOSIGNAL), (ssize_t)n);
}

/* Reads until EOF (or 5 s); returns bytes read into buf. */
static size_t raw_read_all(int fd, unsigned char *buf, size_t cap) {
  size_t n = 0;
  for (;;) {
    struct pollfd p = {.fd = fd, .events = POLLIN};
    if (poll(&p, 1, 5000) <= 0) break;
    ssize_t k = recv(fd, buf + n, cap - n, 0);
    if (k <= 0) break;
    n += (size_t)k;
    if (n == cap) break;
  }
  return n;
}

/* Decodes the first frame of buf as a response and returns its error code name ("" when ok). */
static void first_error(const unsigned char *buf, size_t n, char *code, size_t cap) {
  cr_assert(n >= 4, "no response");
  uint32_t len = (uint32_t)buf[0] << 24 | (uint32_t)buf[1] << 16 | (uint32_t)buf[2] << 8 | buf[3];
  cr_assert(n >= 4 + len);
  msgpack_zone z;
  msgpack_zone_init(&z, 1024);
  msgpack_object o;
  size_t off = 0;
  cr_assert_eq(msgpack_unpack((const char *)buf + 4, len, &off, &z, &o), MSGPACK_UNPACK_SUCCESS);
  cx_mpo_str(cx_mpo_get(cx_mpo_get(&o, "error"), "code"), code, cap);
  msgpack_zone_destroy(&z);
}

Test(abuse, truncated_frame_then_close) {
  int fd = e2e_raw_connect(0);
  raw_send(fd, "\x00\x00\x00\x20\x82\xa2id", 8);
  close(fd);
  fd = e2e_raw_connect(0);
  raw_send(fd, "\x00\x00", 2);
  close(fd);
  e2e_assert_alive();
}

Test(abuse, half_closed_client_gets_every_answer_then_close) {
  static const unsigned char ping[] = {0x00, 0x00, 0x00, 0x0d, 0x82, 0xa2, 'i', 'd', 0x05,
                                       0xa2, 'o', 'p', 0xa4, 'p', 'i', 'n', 'g'};
  int fd = e2e_raw_connect(0);
  for (int i = 0; i < 3; i++) raw_send(fd, ping, sizeof ping);
  raw_send(fd, ping, 6); /* and a truncated one */
  shutdown(fd, SHUT_WR);
  unsigned char buf[4096];
  size_t n = raw_read_all(fd, buf, sizeof buf);
  close(fd);
  int frames = 0;
  for (size_t off = 0; off + 4 <= n; frames++) {
    uint32_t len = (uint32_t)buf[off] << 24 | (uint32_t)buf[off + 1] << 16 | (uint32_t)buf[off + 2] << 8 | buf[off + 3];
    cr_assert_eq(cx_mp_validate(buf + off + 4, len), 0);
    off += 4 + len;
  }
  cr_assert_eq(frames, 3);
  e2e_assert_alive();
}

Test(abuse, oversized_frame_gets_too_large_then_close) {
  int fd = e2e_raw_connect(0);
  raw_send(fd, "\x00\x20\x00\x00", 4); /* 2 MiB > 1 MiB default */
  unsigned char buf[4096];
  size_t n = raw_read_all(fd, buf, sizeof buf);
  char code[32];
  first_error(buf, n, code, sizeof code);
  cr_assert_str_eq(code, "too_large");
  close(fd);
  e2e_assert_alive();
}

Test(abuse, empty_frame_is_bad_frame_then_close) {
  int fd = e2e_raw_connect(0);
  raw_send(fd, "\x00\x00\x00\x00", 4);
  unsigned char buf[4096];
  size_t n = raw_read_all(fd, buf, sizeof buf);
  char code[32];
  first_error(buf, n, code, sizeof code);
  cr_assert_str_eq(code, "bad_frame");
  close(fd);
  e2e_assert_alive();
}

Test(abuse, array_declaring_0xffffffff_elements_is_bad_frame_and_the_connection_lives) {
  cx_client *c = e2e_connect();
  static const unsigned char arr[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
  cr_assert_eq(cx_client_send_frame(c, arr, sizeof arr), 0);
  cx_client_resp r;
  cr_assert_eq(cx_client_recv(c, &r), 0);
  assert_err(&r, "bad_frame");
  /* same inside a map value */
  static const unsigned char m[] = {0x83, 0xa2, 'i', 'd', 0x01, 0xa2, 'o', 'p', 0xa4, 'p', 'i', 'n', 'g',
                                    0xa1, 'x', 0xdd, 0xff, 0xff, 0xff, 0xff};
  cr_assert_eq(cx_client_send_frame(c, m, sizeof m), 0);
  cr_assert_eq(cx_client_recv(c, &r), 0);
  assert_err(&r, "bad_frame");
  r = e2e_call(c, "ping", NULL);
  assert_ok(&r);
  cx_client_close(c);
  e2e_assert_alive();
}

Test(abuse, malformed_requests_get_error_responses_not_closes) {
  cx_client *c = e2e_connect();
  cx_client_resp r;
  /* not a map */
  cr_assert_eq(cx_client_send_frame(c, "\x93\x01\x02\x03", 4), 0);
  cr_assert_eq(cx_client_recv(c, &r), 0);
  assert_err(&r, "bad_request");
  /* no op; the id is echoed */
  cr_assert_eq(cx_client_send_frame(c, "\x81\xa2id\x2a", 5), 0);
  cr_assert_eq(cx_client_recv(c, &r), 0);
  assert_err(&r, "bad_request");
  cr_assert_eq(r.id, 42);
  /* reserved byte */
  cr_assert_eq(cx_client_send_frame(c, "\xc1", 1), 0);
  cr_assert_eq(cx_client_recv(c, &r), 0);
  assert_err(&r, "bad_frame");
  /* unknown op */
  r = e2e_call(c, "launch_missiles", NULL);
  assert_err(&r, "unknown_op");
  /* wrong field types */
  cx_client *a = e2e_connect_as(TOK_APPROVAL);
  static const unsigned char chk[] = {0x84, 0xa2, 'i', 'd', 0x07, 0xa2, 'o', 'p', 0xa5, 'c', 'h', 'e', 'c', 'k',
                                      0xa5, 'c', 'o', 'd', 'e', 's', 0x05,
                                      0xa6, 'a', 'c', 't', 'i', 'o', 'n', 0xc3};
  cr_assert_eq(cx_client_send_frame(a, chk, sizeof chk), 0);
  cr_assert_eq(cx_client_recv(a, &r), 0);
  assert_err(&r, "bad_request");
  cr_assert_eq(r.id, 7);
  r = e2e_call(c, "entity", (const char *[]){"as_of", "2024-01-01", NULL});
  assert_err(&r, "bad_request");
  r = e2e_call(c, "ping", NULL);
  assert_ok(&r);
  cx_client_close(a);
  cx_client_close(c);
}

Test(abuse, random_garbage_closes_only_that_connection) {
  unsigned seed = 99;
  for (int round = 0; round < 20; round++) {
    int fd = e2e_raw_connect(0);
    unsigned char junk[2048];
    for (size_t i = 0; i < sizeof junk; i++) junk[i] = (unsigned char)rand_r(&seed);
    if (round % 2) junk[0] = 0, junk[1] = 0; /* frames of plausible size, garbage inside */
    send(fd, junk, sizeof junk, MSG_NOSIGNAL);
    shutdown(fd, SHUT_WR);
    unsigned char buf[65536];
    raw_read_all(fd, buf, sizeof buf);
    close(fd);
  }
  /* valid frames with random msgpack-ish payloads */
  cx_client *c = e2e_connect();
  for (int i = 0; i < 200; i++) {
    unsigned char junk[64];
    size_t n = 1 + (size_t)rand_r(&seed) % sizeof junk;
    for (size_t k = 0; k < n; k++) junk[k] = (unsigned char)rand_r(&seed);
    cr_assert_eq(cx_client_send_frame(c, junk, n), 0);
    cx_client_resp r;
    cr_assert_eq(cx_client_recv(c, &r), 0, "frame %d", i);
    cr_assert(!r.ok);
  }
  cx_client_close(c);
  e2e_assert_alive();
}

Test(abuse, a_client_that_never_reads_is_throttled_and_others_are_served) {
  int fd = e2e_raw_connect(0);
  int sz = 4096;
  setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &sz, sizeof sz);
  /* one prebuilt ping frame, repeated */
  static const unsigned char ping[] = {0x00, 0x00, 0x00, 0x0d, 0x82, 0xa2, 'i', 'd', 0x01,
                                       0xa2, 'o', 'p', 0xa4, 'p', 'i', 'n', 'g'};
  unsigned char chunk[sizeof ping * 512];
  for (int i = 0; i < 512; i++) memcpy(chunk + i * sizeof ping, ping, sizeof ping);
  size_t sent = 0;
  for (;;) { /* until the server stops reading us (send blocks for 1 s) */
    struct pollfd p = {.fd = fd, .events = POLLOUT};
    if (poll(&p, 1, 1000) <= 0) break;
    ssize_t k = send(fd, chunk, sizeof chunk, MSG_NOSIGNAL | MSG_DONTWAIT);
    if (k <= 0) break;
    sent += (size_t)k;
    cr_assert(sent < (size_t)512 << 20, "server never pushed back");
  }
  cr_assert(sent > 0);
  e2e_assert_alive();
  close(fd);
  e2e_assert_alive();
}

Test(abuse, every_error_code_reachable) {
  /* bad_frame, bad_request, unknown_op, too_large are above; here: invalid_code, not_found,
   * forbidden, plus internal from a corrupted summary (restart over the corrupted store). */
  cx_client *c = e2e_connect();
  cx_client_resp r = e2e_call(c, "entity", (const char *[]){"code", "91350100M000100Y4X", NULL});
  assert_err(&r, "invalid_code");
  char missing[19];
  e2e_code("91", 424242, missing);
  r = e2e_call(c, "entity", (const char *[]){"code", missing, NULL});
  assert_err(&r, "not_found");
  r = e2e_call(c, "stats", NULL);
  assert_err(&r, "forbidden");
  cx_client_close(c);
  cr_assert_eq(e2e_stop(&g_srv), 0, "graceful stop exits 0");
  cx_store *st = NULL;
  cx_store_opts o = {0};
  cr_assert_eq(cx_store_open(g_srv.db, &o, &st), 0);
  char code[19];
  e2e_code("91", 105, code);
  cr_assert_eq(cx_store_debug_put_summary(st, code, "\x07garbage", 8), 0);
  cx_store_close(st);
  cr_assert(e2e_spawn(&g_srv, (const char *[]){"--tokens", g_srv.tokens, NULL}) > 0);
  c = e2e_connect();
  r = e2e_call(c, "entity", (const char *[]){"code", code, NULL});
  assert_err(&r, "internal");
  cx_client_close(c);
  FILE *f = fopen(g_srv.log, "r");
  char line[2048];
  int logged = 0;
  while (f && fgets(line, sizeof line, f)) logged |= strstr(line, "internal error: op=entity") != NULL;
  if (f) fclose(f);
  cr_assert(logged, "internal errors are logged");
  e2e_assert_alive();
}

Test(abuse, five_wrong_tokens_close_the_connection) {
  cx_client *c = e2e_connect();
  for (int i = 0; i < 5; i++) cr_assert_eq(cx_client_auth(c, "guess", NULL, 0), CX_EFORBIDDEN);
  cx_client_resp r;
  cr_assert_eq(cx_client_send(c, "ping", 0, NULL, NULL, NULL), 0);
  int rc = cx_client_recv(c, &r);
  cr_assert(rc == CX_ECONN || rc == CX_EIO, "closed after 5 wrong tokens (%d)", rc);
  cx_client_close(c);
  e2e_assert_alive();
}

/* ---- op x role table ---- */

static const char *const ops[] = {"ping", "auth", "entity", "records", "check", "search",
                                  "aggregate", "stats", "ingest", "repair", "revoke", "objection"};
/* allowed[role][op]: public approval analyst submitter admin */
static const char allowed[5][13] = {
    "111101000000", /* public: ping auth entity records search */
    "111111000000", /* approval: + check */
    "111101110000", /* analyst: + aggregate stats */
    "111101001111", /* submitter: + ingest repair revoke objection */
    "111111111111", /* admin */
};

Test(abuse, op_role_table) {
  const char *toks[5] = {NULL, TOK_APPROVAL, TOK_ANALYST, TOK_SUBMITTER, TOK_ADMIN};
  for (int role = 0; role < 5; role++) {
    cx_client *c = e2e_connect_as(toks[role]);
    for (int op = 0; op < 12; op++) {
      cx_client_resp r = e2e_call(c, ops[op], NULL);
      int forbidden = !r.ok && r.err_code_len == 9 && memcmp(r.err_code, "forbidden", 9) == 0;
      cr_assert_eq(forbidden, allowed[role][op] == '0', "role %d op %s: %.*s", role, ops[op],
                   (int)r.err_code_len, r.ok ? "ok" : r.err_code);
    }
    cx_client_close(c);
  }
}

/* ---- limits that need their own server ---- */

static void setup_small(void) {
  e2e_setup_args((const char *[]){"--max-conns", "3", "--idle-timeout", "1", "--max-frame", "4096", NULL});
}

TestSuite(limits, .init = setup_small, .fini = e2e_teardown, .timeout = 60);

Test(limits, excess_connections_get_busy) {
  cx_client *c[3];
  for (int i = 0; i < 3; i++) {
    c[i] = e2e_connect();
    cx_client_resp r = e2e_call(c[i], "ping", NULL);
    assert_ok(&r);
  }
  cx_client *x = e2e_connect();
  cx_client_resp r;
  cr_assert_eq(cx_client_recv(x, &r), 0);
  assert_err(&r, "busy");
  cr_assert_eq(cx_client_recv(x, &r), CX_ECONN);
  cx_client_close(x);
  cx_client_close(c[0]);
  /* the slot frees once the server has seen the close: retry for up to 10 s */
  int ok = 0;
  for (int i = 0; i < 100 && !ok; i++) {
    cx_client *y = e2e_connect();
    ok = cx_client_call(y, "ping", 0, NULL, NULL, &r) == 0 && r.ok;
    cx_client_close(y);
    if (!ok) usleep(100000);
  }
  cr_assert(ok, "a freed connection slot is reusable");
  cx_client_close(c[1]);
  cx_client_close(c[2]);
}

Test(limits, idle_connections_are_closed) {
  cx_client *c = e2e_connect();
  cx_client_resp r = e2e_call(c, "ping", NULL);
  assert_ok(&r);
  sleep(2);
  cx_client_send(c, "ping", 0, NULL, NULL, NULL);
  int rc = cx_client_recv(c, &r);
  cr_assert(rc == CX_ECONN || rc == CX_EIO, "idle connection still open (%d)", rc);
  cx_client_close(c);
}

Test(limits, max_frame_option_is_honoured) {
  cx_client *c = e2e_connect();
  static unsigned char big[5000];
  memset(big, 0xc0, sizeof big);
  cr_assert_eq(cx_client_send_frame(c, big, sizeof big), 0);
  cx_client_resp r;
  cr_assert_eq(cx_client_recv(c, &r), 0);
  assert_err(&r, "too_large");
  cx_client_close(c);
}
