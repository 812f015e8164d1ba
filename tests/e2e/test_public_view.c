/* End-to-end, on a generated store: over the wire the public is told of nothing it may not see
 * (no flag without a displayable record behind it, hidden entities indistinguishable from
 * unknown ones, whatever the cursor), and non-public searches mask and audit persons. */
#include "e2e.h"

TestSuite(public_view, .timeout = 120);

#define N_ENT 2000
static char codes[N_ENT + 16][19];
static uint8_t kinds[N_ENT + 16];
static char person_name[96];
static int n_codes;

static int collect(void *ctx, const cx_reckey *k, const cx_record *r) {
  (void)ctx;
  (void)k;
  for (int i = n_codes - 1; i >= 0 && i >= n_codes - 64; i--) /* records of one entity are adjacent */
    if (memcmp(codes[i], r->entity_code.p, 18) == 0) return 0;
  for (int i = 0; i < n_codes; i++)
    if (memcmp(codes[i], r->entity_code.p, 18) == 0) return 0;
  if (n_codes >= N_ENT + 16) return 0;
  memcpy(codes[n_codes], r->entity_code.p, 18);
  codes[n_codes][18] = 0;
  kinds[n_codes] = r->entity_kind;
  if (!person_name[0] && r->entity_kind == CX_KIND_PERSON)
    snprintf(person_name, sizeof person_name, "%.*s", (int)(r->entity_name.n > 6 ? 6 : r->entity_name.n),
             r->entity_name.p);
  n_codes++;
  return 0;
}

static void start(void) {
  /* today inside the generator's years: much is shown, much hidden */
  e2e_setup_generated(N_ENT, 20000, 11, "2025-06-01");
  cx_store_opts o = {0};
  o.read_only = 1;
  cx_store *st = NULL;
  cr_assert_eq(cx_store_open(g_srv.db, &o, &st), 0);
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  n_codes = 0;
  person_name[0] = 0;
  cr_assert_eq(cx_store_records_scan(t, collect, NULL), 0);
  cx_store_txn_end(t);
  cx_store_close(st);
  cr_assert_gt(n_codes, N_ENT / 2);
}

static int has_flag(const msgpack_object *flags, const char *f) {
  for (uint32_t i = 0; flags && i < flags->via.array.size; i++)
    if (cx_mpo_str_eq(&flags->via.array.ptr[i], f)) return 1;
  return 0;
}

static int is_true(const msgpack_object *o) { return o && o->type == MSGPACK_OBJECT_BOOLEAN && o->via.boolean; }

static int pack_records(msgpack_packer *pk, void *ctx) {
  const char *const *a = ctx; /* code, cursor */
  PK_S(pk, "code");
  PK_S(pk, a[0]);
  PK_S(pk, "limit");
  msgpack_pack_uint16(pk, 1000);
  PK_S(pk, "cursor");
  if (a[1]) PK_S(pk, a[1]);
  else msgpack_pack_nil(pk);
  return 0;
}

Test(public_view, no_public_flag_or_count_without_a_displayable_record_behind_it) {
  start();
  cx_client *p = e2e_connect();
  int shown = 0, hidden = 0, flagged = 0, unbacked = 0, bad_counts = 0;
  char msg_unknown[256] = "", msg[256];
  /* what an unknown code answers */
  char unknown[19];
  e2e_code("91", 999999, unknown);
  cx_client_resp r = e2e_call(p, "entity", (const char *[]){"code", unknown, NULL});
  assert_err(&r, "not_found");
  snprintf(msg_unknown, sizeof msg_unknown, "%.*s", (int)r.err_message_len, r.err_message);
  for (int i = 0; i < n_codes; i++) {
    r = e2e_call(p, "entity", (const char *[]){"code", codes[i], NULL});
    if (!r.ok) {
      assert_err(&r, "not_found");
      snprintf(msg, sizeof msg, "%.*s", (int)r.err_message_len, r.err_message);
      cr_assert_str_eq(msg, msg_unknown, "a hidden entity answers like an unknown one");
      /* and so does records, with no cursor and with a garbage one */
      const char *a[2] = {codes[i], NULL};
      cr_assert_eq(cx_client_call(p, "records", 3, pack_records, a, &r), 0);
      assert_err(&r, "not_found");
      a[1] = "00112233445566778899aabbccddeeff0011223344556677";
      cr_assert_eq(cx_client_call(p, "records", 3, pack_records, a, &r), 0);
      assert_err(&r, "not_found");
      hidden++;
      continue;
    }
    shown++;
    const msgpack_object *flags = cx_mpo_get(r.result, "flags");
    const msgpack_object *counts = cx_mpo_get(r.result, "counts");
    int want_black = has_flag(flags, "blacklisted"), want_red = has_flag(flags, "redlisted");
    int want_obj = has_flag(flags, "objection"), want_meas = has_flag(flags, "under_measures");
    int64_t total = 0;
    for (uint32_t k = 0; counts && k < counts->via.map.size; k++)
      total += cx_mpo_int(cx_mpo_get(&counts->via.map.ptr[k].val, "visible"), 0);
    flagged += flags && flags->via.array.size > 0;
    const char *a[2] = {codes[i], NULL};
    cr_assert_eq(cx_client_call(p, "records", 3, pack_records, a, &r), 0);
    assert_ok(&r);
    const msgpack_object *recs = cx_mpo_get(r.result, "records");
    int black = 0, red = 0, obj = 0, meas = 0;
    for (uint32_t k = 0; recs && k < recs->via.array.size; k++) {
      const msgpack_object *x = &recs->via.array.ptr[k];
      int inf = is_true(cx_mpo_get(x, "in_force"));
      cr_assert(is_true(cx_mpo_get(x, "displayable")));
      cr_assert(cx_mpo_str_eq(cx_mpo_get(x, "status"), "active"));
      black |= inf && cx_mpo_str_eq(cx_mpo_get(x, "category"), "blacklist");
      red |= inf && cx_mpo_str_eq(cx_mpo_get(x, "category"), "redlist");
      obj |= is_true(cx_mpo_get(x, "objection"));
      const msgpack_object *lt = cx_mpo_get(x, "list_type"), *ms = cx_mpo_get(x, "measures");
      meas |= inf && ((lt && lt->type == MSGPACK_OBJECT_STR && lt->via.str.size > 0) ||
                      (ms && ms->type == MSGPACK_OBJECT_ARRAY && ms->via.array.size > 0));
    }
    if ((want_black && !black) || (want_red && !red) || (want_obj && !obj) || (want_meas && !meas)) unbacked++;
    if (!recs || (int64_t)recs->via.array.size != total || total == 0) bad_counts++;
  }
  cx_client_close(p);
  cr_log_info("public view of %d generated entities: %d shown (%d with flags), %d hidden", n_codes, shown,
              flagged, hidden);
  cr_assert_gt(shown, 0);
  cr_assert_gt(hidden, 0);
  cr_assert_gt(flagged, 0);
  cr_assert_eq(unbacked, 0, "%d entities show a public flag with no displayable record behind it", unbacked);
  cr_assert_eq(bad_counts, 0, "%d entities' public counts differ from their public records", bad_counts);
  cr_assert_eq(e2e_stop(&g_srv), 0);
  cx_test_rmrf(g_srv.dir);
}

static int count_search_audits(void *ctx, const cx_audit_entry *e) {
  int *n = ctx;
  if (cx_str_eq(e->op, CX_STR("search"))) n[0]++;
  return 0;
}

Test(public_view, searches_mask_persons_for_every_role_but_admin_and_audit_each) {
  start();
  cr_assert(person_name[0], "the generator made persons");
  const char *toks[] = {NULL, TOK_APPROVAL, TOK_ANALYST, TOK_SUBMITTER, TOK_ADMIN};
  int persons_seen[5] = {0}, full_seen[5] = {0};
  for (int k = 0; k < 5; k++) {
    cx_client *c = e2e_connect_as(toks[k]);
    cx_client_resp r = e2e_call(c, "search", (const char *[]){"prefix", person_name, NULL});
    assert_ok(&r);
    const msgpack_object *res = cx_mpo_get(r.result, "results");
    for (uint32_t i = 0; res && i < res->via.array.size; i++) {
      const msgpack_object *x = &res->via.array.ptr[i];
      if (!cx_mpo_str_eq(cx_mpo_get(x, "kind"), "person")) continue;
      persons_seen[k]++;
      char code[32];
      cx_mpo_str(cx_mpo_get(x, "code"), code, sizeof code);
      full_seen[k] += strchr(code, '*') == NULL;
    }
    cx_client_close(c);
  }
  cr_assert_eq(persons_seen[0], 0, "the public finds no person");
  for (int k = 1; k < 5; k++) cr_assert_gt(persons_seen[k], 0, "role %d finds persons", k);
  for (int k = 1; k < 4; k++) cr_assert_eq(full_seen[k], 0, "role %d gets masked ID numbers", k);
  cr_assert_eq(full_seen[4], persons_seen[4], "admin gets them in full");
  /* every person returned to a non-public role is in the audit log after a graceful stop */
  cr_assert_eq(e2e_stop(&g_srv), 0);
  cx_store_opts o = {0};
  o.read_only = 1;
  cx_store *st = NULL;
  cr_assert_eq(cx_store_open(g_srv.db, &o, &st), 0);
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  int n[1] = {0};
  cr_assert_eq(cx_store_audit_each(t, 0, 0, 0, count_search_audits, n), 0);
  cx_store_txn_end(t);
  cx_store_close(st);
  cr_assert_eq(n[0], persons_seen[1] + persons_seen[2] + persons_seen[3] + persons_seen[4],
               "one audit entry per person found: %d", n[0]);
  cx_test_rmrf(g_srv.dir);
}
