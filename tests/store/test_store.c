/* test_store.c — open/create, schema check, read txns and the point reads. */
#include "fixture.h"

static char dir[256];
static void setup(void) { cx_test_tmpdir(dir, sizeof dir); }
static void teardown(void) { cx_test_rmrf(dir); }
TestSuite(store, .init = setup, .fini = teardown);

Test(store, open_of_a_missing_store_fails_with_enostore) {
  char path[512];
  snprintf(path, sizeof path, "%s/nothing", dir);
  cx_store *st = NULL;
  cr_assert_eq(cx_store_open(path, NULL, &st), CX_ENOSTORE);
  cx_store_opts o = {.read_only = 1};
  cr_assert_eq(cx_store_open(path, &o, &st), CX_ENOSTORE);
}

Test(store, create_then_reopen) {
  char path[512];
  snprintf(path, sizeof path, "%s/a/b", dir);
  cx_store *st = fx_open(path, 0);
  cx_store_info in;
  cr_assert_eq(cx_store_info_get(st, &in), 0);
  cr_assert_eq(in.schema_version, CX_SCHEMA_VERSION);
  cr_assert_eq(in.records, 0);
  cr_assert_gt(in.regions, 0);
  uint64_t salt = in.salt;
  cx_store_close(st);
  cx_store *st2 = NULL;
  cr_assert_eq(cx_store_open(path, NULL, &st2), 0);
  cr_assert_eq(cx_store_info_get(st2, &in), 0);
  cr_assert_eq(in.salt, salt);
  cr_assert_gt(cx_store_catalog(st2)->n_lists, 0);
  cx_store_close(st2);
}

Test(store, schema_mismatch_gives_eversion) {
  cx_store *st = fx_open(dir, 0);
  cr_assert_eq(cx_store_debug_set_schema(st, 99), 0);
  cx_store_close(st);
  cx_store_opts o = {.create = 1};
  cr_assert_eq(cx_store_open(dir, &o, &st), CX_EVERSION);
  cr_assert(strstr(cx_store_errmsg(NULL), "schema version 99") != NULL, "%s", cx_store_errmsg(NULL));
}

Test(store, regions_and_data_files_are_loaded_at_create) {
  cx_store *st = fx_open(dir, 0);
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cx_str name;
  cr_assert_eq(cx_store_region_name(t, 350100, &name), 0);
  cr_assert_gt(name.n, 0);
  cr_assert_eq(cx_store_region_name(t, 999999, &name), CX_ENOTFOUND);
  cx_str text;
  cr_assert_eq(cx_store_data_get(t, "catalog", &text), 0);
  cr_assert_eq(text.n, cx_data_catalog_len);
  cr_assert_eq(cx_store_data_get(t, "nothing", &text), CX_ENOTFOUND);
  cx_store_txn_end(t);
  cx_store_close(st);
}

static int collect_rec(void *ctx, const cx_reckey *k, const cx_record *r) {
  (void)r;
  cx_reckey *out = ctx;
  out[out[0].seq + 1] = *k;
  out[0].seq++;
  return 0;
}

static int count_name(void *ctx, cx_str code, cx_str norm) {
  (void)norm;
  cr_assert_eq(code.n, CX_CODE_LEN);
  (*(int *)ctx)++;
  return 0;
}

Test(store, batch_then_reads) {
  cx_store *st = fx_open(dir, 0);
  char c1[19], c2[19], a1[19];
  fx_uscc(1, c1);
  fx_uscc(2, c2);
  fx_auth(7, a1);
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  cx_record r;
  fx_record(&r, c1, "福州甲公司", a1, "闽罚〔2024〕1号", fx_day(2024, 3, 1));
  r.report_date = fx_day(2024, 3, 5);
  r.amount_fen = 500000;
  fx_put(b, &r);
  fx_record(&r, c1, "福州甲公司", a1, "闽罚〔2024〕2号", fx_day(2024, 5, 1));
  fx_put(b, &r);
  fx_record(&r, c2, "福州乙公司", a1, "失信-1", fx_day(2023, 1, 10));
  r.category = CX_CAT_BLACKLIST;
  r.list_type = CX_STR("court_dishonest");
  fx_put(b, &r);
  cr_assert_eq(cx_batch_size(b), 3);
  cx_batch_result res;
  cr_assert_eq(cx_batch_commit(b, &res), 0);
  cr_assert_eq(res.inserted, 3);
  cr_assert_eq(res.entities_touched, 2);

  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cx_summary s;
  cr_assert_eq(cx_store_summary_get(t, c1, &s), 0);
  cr_assert_eq(s.n_recs, 2);
  cr_assert_eq(s.n_hits, 0);
  cr_assert(cx_str_eq(s.name, cx_str_c("福州甲公司")));
  cr_assert(cx_str_eq(s.code, cx_str_c(c1)));
  cr_assert_eq(s.kind, CX_KIND_ENTERPRISE);
  cr_assert_eq(s.region, 350100);
  cr_assert_eq(s.last_update, cx_day_today());
  cx_sum_rec sr;
  cx_summary_rec(&s, 0, &sr);
  cr_assert_eq(sr.decision_date, fx_day(2024, 5, 1)); /* newest first */
  cx_summary_rec(&s, 1, &sr);
  cr_assert_eq(sr.decision_date, fx_day(2024, 3, 1));

  cx_reckey keys[8];
  memset(keys, 0, sizeof keys);
  cr_assert_eq(cx_store_records_each(t, s.entity_id, NULL, collect_rec, keys), 0);
  cr_assert_eq(keys[0].seq, 2);
  cr_assert_eq(keys[1].decision_date, fx_day(2024, 5, 1));
  cr_assert_eq(keys[2].decision_date, fx_day(2024, 3, 1));
  cx_reckey after = keys[1];
  memset(keys, 0, sizeof keys);
  cr_assert_eq(cx_store_records_each(t, s.entity_id, &after, collect_rec, keys), 0);
  cr_assert_eq(keys[0].seq, 1);
  cr_assert_eq(keys[1].decision_date, fx_day(2024, 3, 1));

  cx_summary s2;
  cr_assert_eq(cx_store_summary_get(t, c2, &s2), 0);
  cr_assert_eq(s2.n_hits, 1);
  cx_sum_hit h;
  cx_str rid, ac;
  cx_summary_hit(&s2, 0, &h, &rid, &ac);
  cr_assert(cx_str_eq(rid, cx_str_c("失信-1")));
  cr_assert(cx_str_eq(ac, cx_str_c(a1)));
  cr_assert_neq(h.measures, 0);
  cr_assert_eq(h.list_type, cx_catalog_list(cx_store_catalog(st), CX_STR("court_dishonest")));
  cr_assert_eq(h.valid_until, CX_DAY_OPEN);

  cx_reckey k;
  cx_record got;
  cr_assert_eq(cx_store_record_get(t, cx_str_c(a1), cx_str_c("闽罚〔2024〕1号"), &k, &got), 0);
  cr_assert_eq(got.amount_fen, 500000);
  cr_assert_eq(got.report_delay, 2); /* Fri 2024-03-01 -> Tue 03-05 */
  cr_assert_eq(got.on_time, 1);
  cr_assert_eq(got.region, 350100);
  cr_assert(cx_str_eq(got.entity_name, cx_str_c("福州甲公司")));
  cr_assert(cx_str_eq(got.authority_name, cx_str_c("市市场监督管理局")));
  cr_assert_eq(cx_store_record_get(t, cx_str_c(a1), cx_str_c("none"), &k, &got), CX_ENOTFOUND);

  uint32_t aid;
  cr_assert_eq(cx_store_authority_find(t, cx_str_c(a1), &aid), 0);
  cr_assert_eq(aid, got.authority_id);
  cx_str code, name;
  cr_assert_eq(cx_store_authority_get(t, aid, &code, &name), 0);
  cr_assert(cx_str_eq(code, cx_str_c(a1)));
  cr_assert(cx_str_eq(name, cx_str_c("市市场监督管理局")));
  cr_assert_eq(cx_store_entity_code(t, s.entity_id, &code), 0);
  cr_assert(cx_str_eq(code, cx_str_c(c1)));
  cr_assert_eq(cx_store_entity_code(t, 9999, &code), CX_ENOTFOUND);

  char norm[64];
  size_t nn = cx_name_normalize("福州", strlen("福州"), norm, sizeof norm);
  int count = 0;
  cr_assert_eq(cx_store_names_each(t, (cx_str){norm, (uint32_t)nn}, count_name, &count), 0);
  cr_assert_eq(count, 2);
  count = 0;
  cr_assert_eq(cx_store_codes_each(t, (cx_str){c2, 17}, count_name, &count), 0);
  cr_assert_eq(count, 1);
  count = 0;
  cr_assert_eq(cx_store_codes_each(t, CX_STR("9135"), count_name, &count), 0);
  cr_assert_eq(count, 2);

  /* reset/renew keeps the handle and its cursors usable */
  cx_store_txn_reset(t);
  cr_assert_eq(cx_store_txn_renew(t), 0);
  memset(keys, 0, sizeof keys);
  cr_assert_eq(cx_store_records_each(t, s.entity_id, NULL, collect_rec, keys), 0);
  cr_assert_eq(keys[0].seq, 2);
  cx_store_txn_end(t);

  cx_store_info in;
  cr_assert_eq(cx_store_info_get(st, &in), 0);
  cr_assert_eq(in.records, 3);
  cr_assert_eq(in.entities, 2);
  cr_assert_eq(in.authorities, 1);
  cr_assert_gt(in.rollup_cells, 0);
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0);
  cx_store_close(st);
}

Test(store, read_only_open_reads) {
  cx_store *st = fx_open(dir, 0);
  cx_store_close(st);
  cx_store_opts o = {.read_only = 1};
  cr_assert_eq(cx_store_open(dir, &o, &st), 0);
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(st, &b), CX_EROFS);
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cx_str name;
  cr_assert_eq(cx_store_region_name(t, 350000, &name), 0);
  cx_store_txn_end(t);
  cx_store_close(st);
}
