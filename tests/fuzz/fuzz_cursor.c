/*
 * libFuzzer target: the records cursor decoder, through cx_query_records on a tiny store that
 * LLVMFuzzerInitialize creates once in a temp dir (removed at exit). Input: byte 0 picks the
 * category filter and the role, byte 1 the limit, bit 0x80 of byte 0 replays the genuine cursor
 * of page 1 with the fuzzed filter/limit/role (a cursor of another category must be refused);
 * the rest is the cursor string. The call must return 0, CX_EBADREQ or (public role)
 * CX_ENOTFOUND — never crash — and a returned next_cursor is "" or 44 lower-case hex chars.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"
#include "fuzz.h"

static char g_dir[64];
static cx_store *g_st;
static cx_query *g_q;
static cx_txn *g_t;
static char g_entity[CX_CODE_LEN + 1];
static char g_cursor[CX_CURSOR_MAX];
static int g_cursor_cat;

static void cleanup(void) {
  if (g_t) cx_store_txn_end(g_t);
  if (g_q) cx_query_free(g_q);
  if (g_st) cx_store_close(g_st);
  fz_rmrf(g_dir);
}

static int count_fn(void *ctx, const cx_record_view *v) {
  (void)v;
  ++*(int *)ctx;
  return 0;
}

static int hex44(const char *c) {
  if (!*c) return 1;
  if (strlen(c) != 44) return 0;
  for (int i = 0; i < 44; i++)
    if (!((c[i] >= '0' && c[i] <= '9') || (c[i] >= 'a' && c[i] <= 'f'))) return 0;
  return 1;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fz_tmpdir(g_dir, sizeof g_dir, "cursor");
  atexit(cleanup);
  char db[128];
  snprintf(db, sizeof db, "%s/db", g_dir);
  cx_store_opts o = {0};
  o.create = 1;
  o.map_size = 16u << 20;
  CHECK(cx_store_open(db, &o, &g_st) == 0);
  fz_make_code("91350100", 4242, g_entity);
  char auth[CX_CODE_LEN + 1];
  fz_make_code("11350100", 900, auth);
  cx_batch *b = NULL;
  CHECK(cx_batch_begin(g_st, &b) == 0);
  static const int cats[] = {CX_CAT_PENALTY, CX_CAT_LICENSE, CX_CAT_PENALTY, CX_CAT_COMPLAINT};
  for (int i = 0; i < 12; i++) {
    char rid[32];
    snprintf(rid, sizeof rid, "FUZZ-%d", i);
    cx_record r;
    cx_record_defaults(&r);
    r.record_id = cx_str_c(rid);
    r.authority_code = cx_str_c(auth);
    r.authority_name = CX_STR("福州市市场监督管理局");
    r.entity_code = cx_str_c(g_entity);
    r.entity_name = CX_STR("福州测试有限公司");
    r.category = (uint8_t)cats[i % 4];
    CHECK(cx_day_from_ymd(2024, 1 + i % 12, 1 + i, &r.decision_date) == 0);
    r.report_date = r.decision_date + 1;
    r.valid_from = r.decision_date;
    r.severity = CX_SEV_GENERAL;
    r.content = CX_STR("fuzz");
    const char *why = NULL;
    CHECK(cx_batch_put(b, &r, &why) == 0);
  }
  CHECK(cx_batch_commit(b, NULL) == 0);
  CHECK(cx_query_new(g_st, &g_q) == 0);
  CHECK(cx_store_txn_begin(g_st, &g_t) == 0);
  /* The public sees today only: the harness's day is today. */
  cx_day today;
  CHECK(cx_day_from_ymd(2025, 6, 1, &today) == 0);
  cx_day_set_today(today);
  /* A genuine cursor: page 1 of the penalties, 2 per page. */
  cx_records_req rq = {0};
  rq.code = cx_str_c(g_entity);
  rq.category = g_cursor_cat = CX_CAT_PENALTY;
  rq.limit = 2;
  CHECK(cx_day_from_ymd(2025, 6, 1, &rq.as_of) == 0);
  rq.role = CX_ROLE_ADMIN;
  int n = 0;
  CHECK(cx_query_records(g_q, g_t, &rq, count_fn, &n, g_cursor) == 0);
  CHECK(n == 2 && hex44(g_cursor) && g_cursor[0]);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  cx_records_req rq = {0};
  rq.code = cx_str_c(g_entity);
  rq.category = (int)(data[0] & 0x0f) - 1; /* -1..14: also out of range */
  rq.role = (cx_role)((data[0] >> 4) & 7) % CX_ROLE_COUNT;
  rq.limit = data[1] == 255 ? 1001u : data[1];
  CHECK(cx_day_from_ymd(2025, 6, 1, &rq.as_of) == 0);
  /* Exact-size heap copy: the decoder must respect cursor.n. */
  size_t cn = size - 2;
  char *cur = malloc(cn ? cn : 1);
  CHECK(cur);
  memcpy(cur, data + 2, cn);
  if (data[0] & 0x80) rq.cursor = cx_str_c(g_cursor);
  else rq.cursor = (cx_str){cur, (uint32_t)cn};
  char next[CX_CURSOR_MAX];
  memset(next, 0x7f, sizeof next);
  int n = 0;
  int rc = cx_query_records(g_q, g_t, &rq, count_fn, &n, next);
  CHECK(rc == 0 || rc == CX_EBADREQ || (rc == CX_ENOTFOUND && rq.role == CX_ROLE_PUBLIC));
  if (rc == 0) {
    CHECK(memchr(next, 0, sizeof next) && hex44(next));
    CHECK((uint32_t)n <= (rq.limit ? rq.limit : 20u));
    /* The genuine cursor only pages the filter it was made for. */
    if (data[0] & 0x80) CHECK(rq.category == g_cursor_cat);
    else if (cn > 0) /* a forged cursor accepted: only the genuine one may pass the MAC */
      CHECK(cn == strlen(g_cursor) && memcmp(cur, g_cursor, cn) == 0 &&
            rq.category == g_cursor_cat);
  }
  cx_store_txn_reset(g_t);
  CHECK(cx_store_txn_renew(g_t) == 0);
  free(cur);
  return 0;
}
