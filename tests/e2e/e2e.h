/*
 * e2e.h — helpers of the end-to-end tests: a small store written through store.h, the real
 * chengxind started on 127.0.0.1:0 (port parsed from its "listening on" line), request packers.
 * Header-only (static functions) so each test file stays one Criterion executable.
 */
#ifndef CX_E2E_H
#define CX_E2E_H

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "client.h"
#include "store.h"
#include "testutil.h"

/* ===================================================================== codes */

/* A valid USCC: "91" + region 350100 + 9-character organisation code from n + check. */
static inline void e2e_code(const char *prefix2, unsigned n, char out[CX_CODE_LEN + 1]) {
  char c17[18];
  snprintf(c17, sizeof c17, "%.2s350100%08u0", prefix2, n % 100000000u);
  c17[16] = cx_orgcode_check_char(c17 + 8);
  memcpy(out, c17, 17);
  out[17] = cx_uscc_check_char(c17);
  out[18] = 0;
}

/* Fixed test entities (see e2e_make_store). */
#define E2E_N_PLAIN 40        /* entities 100..139: one general penalty each */
#define E2E_BLACK 1u          /* court_dishonest blacklist (deny procurement) */
#define E2E_RED 2u            /* tax_a red list (incentives for license) */
#define E2E_REVIEW 3u         /* penalty_serious list (review license) */
#define E2E_AUTH_N 900u       /* the authority */

static inline cx_day e2e_day(const char *s) {
  cx_day d = 0;
  cr_assert_eq(cx_day_parse(cx_str_c(s), &d), 0, "date %s", s);
  return d;
}

static inline void e2e_put(cx_batch *b, unsigned ent, const char *name, const char *rid, int cat,
                           const char *list, const char *decision, int sev) {
  char code[19], auth[19];
  e2e_code("91", ent, code);
  e2e_code("11", E2E_AUTH_N, auth);
  cx_record r;
  cx_record_defaults(&r);
  r.record_id = cx_str_c(rid);
  r.authority_code = cx_str_c(auth);
  r.authority_name = CX_STR("福州市市场监督管理局");
  r.entity_code = cx_str_c(code);
  r.entity_name = cx_str_c(name);
  r.category = (uint8_t)cat;
  if (list) r.list_type = cx_str_c(list);
  r.decision_date = e2e_day(decision);
  r.report_date = r.decision_date + 2;
  r.valid_from = r.decision_date;
  r.severity = (uint8_t)sev;
  r.amount_fen = 100000;
  r.content = CX_STR("测试记录");
  const char *why = NULL;
  int rc = cx_batch_put(b, &r, &why);
  cr_assert_eq(rc, 0, "batch_put %s: %s (%s)", rid, cx_strerror(rc), why ? why : "");
}

/* Creates the test store in dir/db. */
static inline void e2e_make_store(const char *dir, char *db, size_t cap) {
  snprintf(db, cap, "%s/db", dir);
  cx_store_opts o = {0};
  o.create = 1;
  o.map_size = 64u << 20;
  cx_store *st = NULL;
  int rc = cx_store_open(db, &o, &st);
  cr_assert_eq(rc, 0, "store open: %s", cx_strerror(rc));
  cx_batch *b = NULL;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  e2e_put(b, E2E_BLACK, "黑名单测试有限公司", "BL-1", CX_CAT_BLACKLIST, "court_dishonest", "2024-01-10", CX_SEV_SERIOUS);
  e2e_put(b, E2E_RED, "红名单测试有限公司", "RL-1", CX_CAT_REDLIST, "tax_a", "2024-02-10", CX_SEV_GENERAL);
  e2e_put(b, E2E_REVIEW, "审慎测试有限公司", "RV-1", CX_CAT_PENALTY, "penalty_serious", "2024-03-10", CX_SEV_SERIOUS);
  for (unsigned i = 0; i < E2E_N_PLAIN; i++) {
    char name[64], rid[32];
    snprintf(name, sizeof name, "普通测试%02u有限公司", i);
    snprintf(rid, sizeof rid, "PN-%u", i);
    e2e_put(b, 100 + i, name, rid, CX_CAT_PENALTY, NULL, i % 2 ? "2024-04-15" : "2024-05-20",
            CX_SEV_GENERAL);
  }
  cx_batch_result res;
  rc = cx_batch_commit(b, &res);
  cr_assert_eq(rc, 0, "commit: %s (%s)", cx_strerror(rc), cx_store_errmsg(st));
  cx_store_close(st);
}

/*
 * An entity with n records (general penalties still displayed on E2E_TODAY, so the public sees
 * them), each with text_bytes of content and as much basis (each at most 4096, the store's
 * limit): the heavy answers of the abuse tests. A records page of 1000 of them with 4 KiB of
 * each is an ~8.6 MB answer to a 49-byte request.
 */
#define E2E_HEAVY 7u /* entity number of the heavy entity (when a test adds it) */
static inline void e2e_add_heavy_entity(const char *db, unsigned ent, unsigned n, size_t text_bytes) {
  cx_store_opts o = {0};
  cx_store *st = NULL;
  int rc = cx_store_open(db, &o, &st);
  cr_assert_eq(rc, 0, "store open: %s", cx_strerror(rc));
  char *content = malloc(text_bytes + 1);
  cr_assert(content);
  for (size_t i = 0; i < text_bytes; i++) content[i] = (char)('a' + i % 26);
  content[text_bytes] = 0;
  char code[19], auth[19], rid[32];
  e2e_code("91", ent, code);
  e2e_code("11", E2E_AUTH_N, auth);
  cx_batch *b = NULL;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  for (unsigned i = 0; i < n; i++) {
    cx_record r;
    cx_record_defaults(&r);
    snprintf(rid, sizeof rid, "HV-%u-%u", ent, i);
    r.record_id = cx_str_c(rid);
    r.authority_code = cx_str_c(auth);
    r.authority_name = CX_STR("福州市市场监督管理局");
    r.entity_code = cx_str_c(code);
    r.entity_name = CX_STR("重负载测试有限公司");
    r.category = CX_CAT_PENALTY;
    r.decision_date = e2e_day("2024-05-20") + (cx_day)(i % 30);
    r.report_date = r.decision_date + 2;
    r.valid_from = r.decision_date;
    r.severity = CX_SEV_GENERAL;
    r.amount_fen = 100000;
    r.content = cx_str_c(content);
    r.basis = cx_str_c(content);
    const char *why = NULL;
    rc = cx_batch_put(b, &r, &why);
    cr_assert_eq(rc, 0, "batch_put %s: %s (%s)", rid, cx_strerror(rc), why ? why : "");
  }
  cx_batch_result res;
  rc = cx_batch_commit(b, &res);
  cr_assert_eq(rc, 0, "commit: %s (%s)", cx_strerror(rc), cx_store_errmsg(st));
  cx_store_close(st);
  free(content);
}

/* ===================================================================== the server */

typedef struct e2e_server {
  pid_t pid;
  int port;
  char dir[128], db[256], log[300], tokens[300];
} e2e_server;

static e2e_server g_srv;

/* The tokens every test server knows. */
#define TOK_APPROVAL "tok-approval-0123456789"
#define TOK_ANALYST "tok-analyst-0123456789"
#define TOK_SUBMITTER "tok-submitter-0123456789"
#define TOK_ADMIN "tok-admin-0123456789"

/* The token file; the submitter writes for authorities (CODE[,CODE...]). */
static inline void e2e_write_tokens_scoped(const char *path, int mode, const char *authorities) {
  FILE *f = fopen(path, "w");
  cr_assert(f);
  fprintf(f, "# test tokens\n%s approval 审批系统\n%s analyst analysts\n"
             "%s submitter authorities=%s 市场监管局\n%s admin ops\n",
          TOK_APPROVAL, TOK_ANALYST, TOK_SUBMITTER, authorities, TOK_ADMIN);
  fclose(f);
  chmod(path, (mode_t)mode);
}

/* The token file; the submitter writes for the test store's authority (E2E_AUTH_N). */
static inline void e2e_write_tokens(const char *path, int mode) {
  char auth[CX_CODE_LEN + 1];
  e2e_code("11", E2E_AUTH_N, auth);
  e2e_write_tokens_scoped(path, mode, auth);
}

/* The day test servers take for today (CHENGXIN_TODAY): the public sees that day only. A test
 * may set g_e2e_today before it (re)starts a server; NULL: the clock's day. */
#define E2E_TODAY "2024-07-01"
static const char *g_e2e_today = E2E_TODAY;

/* Starts chengxind with extra args; waits for "listening on HOST:PORT" in its log. Returns the
 * port, or -(exit status) - 1000 when it exited first. */
static inline int e2e_spawn(e2e_server *s, const char *const *extra) {
  char bin[512];
  cx_test_bin("chengxind", bin, sizeof bin);
  const char *argv[32];
  int a = 0;
  argv[a++] = bin;
  argv[a++] = "--db";
  argv[a++] = s->db;
  argv[a++] = "--listen";
  argv[a++] = "127.0.0.1:0";
  for (int i = 0; extra && extra[i] && a < 30; i++) argv[a++] = extra[i];
  argv[a] = NULL;
  unlink(s->log);
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {
    int fd = open(s->log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) {
      dup2(fd, 2);
      close(fd);
    }
    int nul = open("/dev/null", O_RDWR);
    if (nul >= 0) {
      dup2(nul, 0);
      dup2(nul, 1);
      close(nul);
    }
    if (g_e2e_today) setenv("CHENGXIN_TODAY", g_e2e_today, 1);
    else unsetenv("CHENGXIN_TODAY");
    execv(bin, (char *const *)argv);
    fprintf(stderr, "e2e: cannot run %s: %s\n", bin, strerror(errno)); /* into the server log */
    _exit(127);
  }
  s->pid = pid;
  for (int i = 0; i < 1000; i++) { /* up to 10 s */
    FILE *f = fopen(s->log, "r");
    if (f) {
      char line[1024];
      while (fgets(line, sizeof line, f)) {
        char *p = strstr(line, "chengxind: listening on ");
        if (p) {
          p = strrchr(p, ':');
          int port = atoi(p + 1);
          fclose(f);
          s->port = port;
          return port;
        }
      }
      fclose(f);
    }
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) {
      s->pid = 0;
      /* what the server said before it went: the reason a start failed, in the test's output */
      FILE *lf = fopen(s->log, "r");
      if (lf) {
        char line[512];
        fprintf(stderr, "e2e: the server exited before it listened; its log:\n");
        while (fgets(line, sizeof line, lf)) fprintf(stderr, "  %s", line);
        fclose(lf);
      }
      return -1000 - (WIFEXITED(st) ? WEXITSTATUS(st) : 128);
    }
    usleep(10000);
  }
  cr_assert_fail("server did not start");
  return -1;
}

/* Stops the server with SIGTERM; returns its exit status (SIGKILL after 10 s: -1). */
static inline int e2e_stop(e2e_server *s) {
  if (s->pid <= 0) return 0;
  kill(s->pid, SIGTERM);
  int st = 0;
  for (int i = 0; i < 1000; i++) {
    if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
      s->pid = 0;
      return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    }
    usleep(10000);
  }
  kill(s->pid, SIGKILL);
  waitpid(s->pid, &st, 0);
  s->pid = 0;
  return -1;
}

/* Under ASan, freed blocks wait in a 256 MiB quarantine: in a test that measures the server's
 * RSS that, not the server, would be most of the figure. 16 MiB keeps the bound about the
 * server's own memory. Call before starting the server (it inherits the environment). */
static inline void e2e_asan_small_quarantine(void) {
#if defined(__SANITIZE_ADDRESS__)
  const char *o = getenv("ASAN_OPTIONS");
  char buf[512];
  if (o && strstr(o, "quarantine_size_mb")) return;
  snprintf(buf, sizeof buf, "%s%squarantine_size_mb=16", o && *o ? o : "", o && *o ? ":" : "");
  setenv("ASAN_OPTIONS", buf, 1);
#endif
}

/* Called by e2e_setup_args between creating the store and starting the server (a test's own
 * data, e.g. e2e_add_heavy_entity); NULL: nothing. */
static void (*g_e2e_store_hook)(const char *db);

/* Fixture: store + token file + server. */
static inline void e2e_setup_args(const char *const *extra) {
  memset(&g_srv, 0, sizeof g_srv);
  g_e2e_today = E2E_TODAY;
  cx_test_tmpdir(g_srv.dir, sizeof g_srv.dir);
  e2e_make_store(g_srv.dir, g_srv.db, sizeof g_srv.db);
  if (g_e2e_store_hook) g_e2e_store_hook(g_srv.db);
  snprintf(g_srv.log, sizeof g_srv.log, "%s/server.log", g_srv.dir);
  snprintf(g_srv.tokens, sizeof g_srv.tokens, "%s/tokens", g_srv.dir);
  e2e_write_tokens(g_srv.tokens, 0600);
  const char *args[24];
  int a = 0;
  args[a++] = "--tokens";
  args[a++] = g_srv.tokens;
  for (int i = 0; extra && extra[i] && a < 22; i++) args[a++] = extra[i];
  args[a] = NULL;
  int port = e2e_spawn(&g_srv, args);
  cr_assert(port > 0, "server failed to start (%d)", port);
}
static inline void e2e_setup(void) { e2e_setup_args(NULL); }

/* Fixture: a store made by `chengxin gen` (entities, records, seed), the test tokens, and a
 * server whose today is `today` (a day inside the generator's years). */
static inline void e2e_setup_generated(int entities, int records, int seed, const char *today) {
  memset(&g_srv, 0, sizeof g_srv);
  cx_test_tmpdir(g_srv.dir, sizeof g_srv.dir);
  snprintf(g_srv.db, sizeof g_srv.db, "%s/db", g_srv.dir);
  snprintf(g_srv.log, sizeof g_srv.log, "%s/server.log", g_srv.dir);
  snprintf(g_srv.tokens, sizeof g_srv.tokens, "%s/tokens", g_srv.dir);
  char bin[512];
  cx_test_bin("chengxin", bin, sizeof bin);
  cr_assert_eq(cx_test_sh("'%s' gen --db '%s' --entities %d --records %d --seed %d --quiet 2>/dev/null", bin,
                          g_srv.db, entities, records, seed),
               0, "chengxin gen");
  e2e_write_tokens(g_srv.tokens, 0600);
  g_e2e_today = today;
  const char *args[] = {"--tokens", g_srv.tokens, NULL};
  cr_assert_gt(e2e_spawn(&g_srv, args), 0);
}

/* Copies the server log to stderr (diagnosis of a crashed or misbehaving server). */
static inline void e2e_dump_log(const char *path) {
  FILE *f = fopen(path, "r");
  if (!f) return;
  char line[2048];
  fprintf(stderr, "---- %s ----\n", path);
  while (fgets(line, sizeof line, f)) fputs(line, stderr);
  fclose(f);
}

static inline void e2e_teardown(void) {
  int st = e2e_stop(&g_srv);
  if (st != 0 || getenv("CX_E2E_LOG")) e2e_dump_log(g_srv.log);
  cr_expect_eq(st, 0, "server exit status %d", st);
  if (g_srv.dir[0]) cx_test_rmrf(g_srv.dir);
}

/* A raw TCP connection to the test's server (g_srv), for bytes no client would send; rcvbuf > 0
 * sets the socket's receive buffer first (a small one makes the server's output queue show). */
static inline int e2e_raw_connect(int rcvbuf) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  cr_assert(fd >= 0);
  if (rcvbuf > 0) setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)g_srv.port)};
  a.sin_addr.s_addr = htonl(0x7f000001);
  cr_assert_eq(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
  return fd;
}

static inline cx_client *e2e_connect(void) {
  cx_client *c = NULL;
  int rc = cx_client_connect("127.0.0.1", g_srv.port, 10000, &c);
  cr_assert_eq(rc, 0, "connect: %s", cx_strerror(rc));
  return c;
}

static inline cx_client *e2e_connect_as(const char *token) {
  cx_client *c = e2e_connect();
  if (token) cr_assert_eq(cx_client_auth(c, token, NULL, 0), 0);
  return c;
}

/* ===================================================================== packers */

#define PK_S(pk, s) msgpack_pack_str_with_body(pk, s, strlen(s))

/* Generic key/value packer: kv = {"k1", "v1", "k2", "v2", ..., NULL} all strings. */
static inline int pack_kv(msgpack_packer *pk, void *ctx) {
  const char *const *kv = ctx;
  for (int i = 0; kv[i]; i += 2) {
    PK_S(pk, kv[i]);
    PK_S(pk, kv[i + 1]);
  }
  return 0;
}
static inline uint32_t kv_n(const char *const *kv) {
  uint32_t n = 0;
  while (kv[n]) n++;
  return n / 2;
}
/* Call with string args; returns the response (client-owned). */
static inline cx_client_resp e2e_call(cx_client *c, const char *op, const char *const *kv) {
  cx_client_resp r;
  int rc = cx_client_call(c, op, kv ? kv_n(kv) : 0, kv ? pack_kv : NULL, (void *)kv, &r);
  cr_assert_eq(rc, 0, "%s: call failed: %s", op, cx_strerror(rc));
  return r;
}

typedef struct check_args {
  const char *const *codes;
  uint32_t n;
  const char *action;
} check_args;
static inline int pack_check(msgpack_packer *pk, void *ctx) {
  const check_args *a = ctx;
  PK_S(pk, "codes");
  msgpack_pack_array(pk, a->n);
  for (uint32_t i = 0; i < a->n; i++) PK_S(pk, a->codes[i]);
  PK_S(pk, "action");
  PK_S(pk, a->action);
  PK_S(pk, "as_of");
  PK_S(pk, "2025-01-01");
  return 0;
}

static inline void assert_err(const cx_client_resp *r, const char *code) {
  char b[64];
  cr_assert(!r->ok, "expected error %s, got ok", code);
  snprintf(b, sizeof b, "%.*s", (int)r->err_code_len, r->err_code);
  cr_assert_str_eq(b, code, "expected %s, got %s (%.*s)", code, b, (int)r->err_message_len,
                   r->err_message);
}

static inline void assert_ok(const cx_client_resp *r) {
  cr_assert(r->ok, "expected ok, got %.*s: %.*s", (int)r->err_code_len, r->err_code,
            (int)r->err_message_len, r->err_message);
}

/* 1 when a line of the file at path (a server's log) contains needle. */
static inline int e2e_log_has(const char *path, const char *needle) {
  FILE *f = fopen(path, "r");
  if (!f) return 0;
  char line[2048];
  int found = 0;
  while (!found && fgets(line, sizeof line, f)) found = strstr(line, needle) != NULL;
  fclose(f);
  return found;
}

/* The response, re-packed, contains the bytes of s (leak checks: "never in any answer"). */
static inline int e2e_resp_has(const cx_client_resp *r, const char *s) {
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_object(&pk, *r->root);
  int found = memmem(sb.data, sb.size, s, strlen(s)) != NULL;
  msgpack_sbuffer_destroy(&sb);
  return found;
}

/* A ping round trip works (after abuse). */
static inline void e2e_assert_alive(void) {
  cx_client *c = e2e_connect_as(TOK_APPROVAL);
  cx_client_resp r = e2e_call(c, "ping", NULL);
  assert_ok(&r);
  char code[19];
  e2e_code("91", E2E_BLACK, code);
  const char *codes[] = {code};
  check_args a = {codes, 1, "procurement"};
  cr_assert_eq(cx_client_call(c, "check", 3, pack_check, &a, &r), 0);
  assert_ok(&r);
  const msgpack_object *res = cx_mpo_get(r.result, "results");
  cr_assert(res && res->type == MSGPACK_OBJECT_ARRAY && res->via.array.size == 1);
  cr_assert(cx_mpo_str_eq(cx_mpo_get(&res->via.array.ptr[0], "verdict"), "deny"));
  cx_client_close(c);
}

#endif
