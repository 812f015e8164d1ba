/*
 * libFuzzer target: request execution (net/ops.c) end to end, without sockets. The input is
 * one request payload (a msgpack map, as inside a frame); it is decoded with
 * cx_exec_decode and, when it decodes, run by cx_exec_run as the admin role against a
 * small store (tmpfs when /dev/shm exists) that ingest, repair, revoke and objection may
 * change. Invariants: the response is exactly one well-formed frame holding one valid msgpack
 * value, and no request is answered with an "internal" error (store corruption, I/O, memory).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net_int.h"
#include "query.h"
#include "fuzz.h"

static char g_dir[64];
static cx_store *g_st;
static cx_exec_env g_env;
static cx_query *g_q;
static cx_txn *g_t;
static cx_buf g_out, g_details;
static cx_check_hit g_hits[256];
static int g_verbose, g_skip_amounts;

static void cleanup(void) {
  if (g_t) cx_store_txn_end(g_t);
  if (g_q) cx_query_free(g_q);
  if (g_st) cx_store_close(g_st);
  cx_buf_free(&g_out);
  cx_buf_free(&g_details);
  fz_rmrf(g_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fz_tmpdir(g_dir, sizeof g_dir, "exec");
  atexit(cleanup);
  char db[128];
  snprintf(db, sizeof db, "%s/db", g_dir);
  cx_store_opts o = {0};
  o.create = 1;
  o.map_size = 32u << 20;
  cx_store *st = NULL;
  CHECK(cx_store_open(db, &o, &st) == 0);
  char auth[CX_CODE_LEN + 1];
  fz_make_code("11350100", 900, auth);
  cx_batch *b = NULL;
  CHECK(cx_batch_begin(st, &b) == 0);
  static const int cats[] = {CX_CAT_PENALTY, CX_CAT_LICENSE, CX_CAT_BLACKLIST, CX_CAT_REDLIST,
                             CX_CAT_COMPLAINT};
  static const char *const lists[] = {NULL, NULL, "court_dishonest", "tax_a", NULL};
  for (int i = 0; i < 20; i++) {
    char rid[32], code[CX_CODE_LEN + 1];
    snprintf(rid, sizeof rid, "R-%d", i);
    fz_make_code("91350100", 100 + (unsigned)(i % 4), code);
    cx_record r;
    cx_record_defaults(&r);
    r.record_id = cx_str_c(rid);
    r.authority_code = cx_str_c(auth);
    r.authority_name = CX_STR("福州市市场监督管理局");
    r.entity_code = cx_str_c(code);
    r.entity_name = CX_STR("福州测试有限公司");
    r.category = (uint8_t)cats[i % 5];
    if (lists[i % 5]) r.list_type = cx_str_c(lists[i % 5]);
    CHECK(cx_day_from_ymd(2024, 1 + i % 12, 1 + i, &r.decision_date) == 0);
    r.report_date = r.decision_date + 1;
    r.valid_from = r.decision_date;
    r.severity = (uint8_t)(i % CX_SEV_COUNT);
    r.content = CX_STR("fuzz");
    const char *why = NULL;
    if (cx_batch_put(b, &r, &why) != 0) {
      fprintf(stderr, "fuzz_exec: seed record %d: %s\n", i, why ? why : "?");
      abort();
    }
  }
  CHECK(cx_batch_commit(b, NULL) == 0);
  cx_store_close(st);

  cx_store_opts so = {0};
  so.max_readers = 126;
  CHECK(cx_store_open(db, &so, &g_st) == 0);
  cx_exec_limits_default(&g_env.lim);
  g_env.st = g_st;
  CHECK(cx_query_new(g_st, &g_q) == 0);
  CHECK(cx_store_txn_begin(g_st, &g_t) == 0);
  cx_store_txn_reset(g_t);
  CHECK(cx_buf_init(&g_out, 4096) == 0);
  CHECK(cx_buf_init(&g_details, 1024) == 0);
  g_verbose = getenv("CX_FUZZ_VERBOSE") != NULL;
  g_skip_amounts = getenv("CX_FUZZ_SKIP_AMOUNTS") != NULL;
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* CX_FUZZ_SKIP_AMOUNTS=1 (exploration only, not CI): skip inputs naming an amount field, to
   * fuzz past the known rollup amount overflow (tests/fuzz/regress/fuzz_exec/). */
  if (g_skip_amounts && size >= 6 && memmem(data, size, "amount", 6)) return 0;
  /* Exact-size heap copy: reads past the payload are caught by ASan. */
  unsigned char *p = malloc(size ? size : 1);
  CHECK(p);
  memcpy(p, data, size);
  cx_req rq;
  char msg[256];
  g_out.len = 0;
  if (cx_exec_decode(&rq, p, size, msg, sizeof msg) == 0) {
    int live = 0;
    g_details.len = 0;
    cx_exec_ctx x;
    memset(&x, 0, sizeof x);
    x.env = &g_env;
    x.q = g_q;
    x.txn = g_t;
    x.txn_live = &live;
    x.hits = g_hits;
    x.hits_cap = (uint32_t)(sizeof g_hits / sizeof g_hits[0]);
    x.role = CX_ROLE_ADMIN;
    x.token = -1;
    x.out = &g_out;
    x.details = &g_details;
    int rc = cx_exec_run(&x, &rq);
    if (live) cx_store_txn_reset(g_t);
    if (g_verbose) /* CX_FUZZ_VERBOSE=1: replaying seeds shows what each one reaches */
      fprintf(stderr, "fuzz_exec: op %s -> %s %s\n", rq.op < CX_OP_COUNT ? cx_op_names[rq.op] : "?",
              rc ? cx_err_name(rc) : "ok", x.msg);
    if (rc && strcmp(cx_err_name(rc), "internal") == 0) {
      fprintf(stderr, "fuzz_exec: internal error: %s (%s)\n", cx_strerror(rc), x.msg);
      abort();
    }
    const unsigned char *pl;
    size_t plen, need;
    long got = cx_frame_parse(g_out.p, g_out.len, (size_t)1 << 30, &pl, &plen, &need);
    CHECK(got > 0 && (size_t)got == g_out.len);
    CHECK(cx_mp_validate(pl, plen) == 0);
  }
  free(p);
  return 0;
}
