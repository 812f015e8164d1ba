/* qtest.h — fixtures shared by the query tests: a fresh store with a small fixed catalogue and
 * region table, code makers and a record builder. Header-only (each test is one executable). */
#ifndef CX_QTEST_H
#define CX_QTEST_H

#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "query.h"
#include "testutil.h"

/* A catalogue of our own, so that tests do not depend on data/catalog.tsv. */
static const char qt_catalog[] =
    "action\tprocurement\t政府采购\n"
    "action\tbidding\t招标投标\n"
    "action\tsubsidy\t财政补贴\n"
    "action\thonour\t评优评先\n"
    "measure\tno_procurement\tdeny\tprocurement\t限制参加政府采购\n"
    "measure\tno_bidding\tdeny\tbidding\t限制投标\n"
    "measure\treview_subsidy\treview\tsubsidy\t补贴从严审核\n"
    "measure\treview_procurement\treview\tprocurement,bidding\t采购重点核查\n"
    "measure\tfast_track\tincentive\tsubsidy,procurement\t绿色通道\n"
    "measure\thonour_priority\tincentive\thonour\t评优优先\n"
    "list\tcourt_dishonest\tblacklist\t失信被执行人\tno_procurement,no_bidding,review_subsidy\n"
    "list\tgov_watch\tgov_dishonesty\t政务失信\treview_procurement\n"
    "list\tmodel_taxpayer\tredlist\tA级纳税人\tfast_track,honour_priority\n"
    "display\tminor\t0\t0\t3\n"
    "display\tgeneral\t1\t3\t12\n"
    "display\tserious\t1\t12\t36\n"
    "person_public\tblacklist,gov_dishonesty\n";

static const char qt_regions[] =
    "110000\t北京市\n110100\t市辖区\n110105\t朝阳区\n"
    "350000\t福建省\n350100\t福州市\n350102\t鼓楼区\n350103\t台江区\n"
    "350200\t厦门市\n350203\t思明区\n";

typedef struct qt_env {
  char dir[256];
  cx_store *st;
  cx_query *q;
  cx_txn *t;
} qt_env;

static inline cx_day qt_day(const char *s) {
  cx_day d = 0;
  cr_assert_eq(cx_day_parse(cx_str_c(s), &d), 0, "bad day %s", s);
  return d;
}

/* The day the query tests run on: the public sees only today (cx_day_set_today). */
#define QT_TODAY "2024-06-01"

static inline void qt_open(qt_env *e) {
  memset(e, 0, sizeof *e);
  cx_day t0 = 0;
  cx_day_parse(cx_str_c(QT_TODAY), &t0);
  cx_day_set_today(t0);
  cx_test_tmpdir(e->dir, sizeof e->dir);
  cx_store_opts o = {0};
  o.create = 1;
  o.map_size = 64u << 20;
  cr_assert_eq(cx_store_open(e->dir, &o, &e->st), 0, "open");
  int bad = 0;
  cr_assert_eq(cx_store_data_put(e->st, "catalog", qt_catalog, strlen(qt_catalog), &bad), 0,
               "catalog line %d", bad);
  cr_assert_eq(cx_store_data_put(e->st, "regions", qt_regions, strlen(qt_regions), &bad), 0,
               "regions line %d", bad);
  cr_assert_eq(cx_query_new(e->st, &e->q), 0, "query_new");
  cr_assert_eq(cx_query_reload(e->q), 0);
}

/** Begins (or renews) the read txn after writes. */
static inline cx_txn *qt_txn(qt_env *e) {
  if (e->t) {
    cx_store_txn_reset(e->t);
    cr_assert_eq(cx_store_txn_renew(e->t), 0);
  } else {
    cr_assert_eq(cx_store_txn_begin(e->st, &e->t), 0);
  }
  return e->t;
}

static inline void qt_close(qt_env *e) {
  if (e->t) cx_store_txn_end(e->t);
  if (e->q) cx_query_free(e->q);
  if (e->st) cx_store_close(e->st);
  cx_test_rmrf(e->dir);
  memset(e, 0, sizeof *e);
}

/** A valid USCC from a 17-character body (alphabet 0-9A-Y minus I O Z S V): its position 17
 * is replaced by the organisation code's check digit, position 18 is the check character. */
static inline void qt_uscc(const char *body17, char out[CX_CODE_LEN + 1]) {
  memcpy(out, body17, 17);
  out[16] = cx_orgcode_check_char(out + 8);
  out[17] = cx_uscc_check_char(out);
  out[18] = 0;
}

/** A valid resident ID number from 17 digits. */
static inline void qt_idcard(const char *body17, char out[CX_CODE_LEN + 1]) {
  memcpy(out, body17, 17);
  out[17] = cx_idcard_check_char(body17);
  out[18] = 0;
}

/** Enterprise n in county 350102 / 350103 / 350203 (n < 100000). */
static inline void qt_ent(int n, uint32_t county, char out[CX_CODE_LEN + 1]) {
  char b[32];
  snprintf(b, sizeof b, "91%06uMA%06u0", county % 1000000u, (unsigned)n % 1000000u);
  qt_uscc(b, out);
}

/** Authority n (a government body in 350100). */
static inline void qt_auth(int n, char out[CX_CODE_LEN + 1]) {
  char b[32];
  snprintf(b, sizeof b, "11350100%08u0", (unsigned)n % 100000000u);
  qt_uscc(b, out);
}

/** A record with the usual defaults; strings must stay alive until cx_batch_put returns. */
static inline cx_record qt_rec(const char *code, const char *name, uint8_t kind, const char *auth,
                               const char *rid, uint8_t cat, cx_day decision) {
  cx_record r;
  cx_record_defaults(&r);
  r.entity_code = cx_str_c(code);
  r.entity_name = cx_str_c(name);
  r.entity_kind = kind;
  r.authority_code = cx_str_c(auth);
  r.authority_name = CX_STR("福州市市场监督管理局");
  r.record_id = cx_str_c(rid);
  r.category = cat;
  r.decision_date = decision;
  return r;
}

static inline void qt_put1(qt_env *e, const cx_record *r) {
  cx_batch *b;
  const char *why = NULL;
  cr_assert_eq(cx_batch_begin(e->st, &b), 0);
  int rc = cx_batch_put(b, r, &why);
  cr_assert_eq(rc, 0, "put: %d %s", rc, why ? why : "");
  rc = cx_batch_commit(b, NULL);
  cr_assert_eq(rc, 0, "commit: %d %s", rc, cx_store_errmsg(e->st));
}

#endif
