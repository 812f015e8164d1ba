/* test_upgrade.c — a store of the previous schema (3: no keyword index, no provisional marks,
 * 40-byte rollup cells; written here in that layout by cx_store_debug_make_schema3) migrates at
 * its first writable open, with nothing lost: the same content digest, a store that verifies,
 * a keyword index that finds the names, the provisional delays marked. A read-only open refuses
 * it and says how to migrate, leaving it untouched. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "fixture.h"
#include "testutil.h"

static char dir[256];

static void setup(void) { cx_test_tmpdir(dir, sizeof dir); }
static void teardown(void) { cx_test_rmrf(dir); }
TestSuite(upgrade, .init = setup, .fini = teardown, .timeout = 60);

static void fill(cx_store *st) {
  char auth[CX_CODE_LEN + 1], code[CX_CODE_LEN + 1], rid[32], name[64];
  fx_auth(1, auth);
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  for (unsigned i = 0; i < 40; i++) {
    fx_uscc(100 + i, code);
    snprintf(rid, sizeof rid, "升级-%u", i);
    snprintf(name, sizeof name, "福州闽江升级测试%02u有限公司", i);
    cx_record r;
    fx_record(&r, code, name, auth, rid, fx_day(2026, 12, 20 + i % 10));
    r.report_date = fx_day(2027, 1, 6); /* spans into 2027: no published notice, provisional */
    if (i % 3 == 0) { /* all within 2026's published notice */
      r.decision_date = fx_day(2026, 6, 1);
      r.report_date = fx_day(2026, 6, 3);
    }
    fx_put(b, &r);
  }
  cr_assert_eq(cx_batch_commit(b, NULL), 0, "%s", cx_store_errmsg(st));
}

static void one_record(cx_store *st, const char *rid, cx_record *out) {
  char auth[CX_CODE_LEN + 1];
  fx_auth(1, auth);
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cx_reckey k;
  cx_record r;
  cr_assert_eq(cx_store_record_get(t, cx_str_c(auth), cx_str_c(rid), &k, &r), 0);
  *out = r;
  out->entity_code = out->entity_name = out->record_id = out->authority_code = (cx_str){"", 0};
  cx_store_txn_end(t);
}

/* Counts the records of cube 1 (authority, category, subtype, severity, kind, status): all
 * enterprises here. */
static int cube1_cb(void *ctx, uint32_t month, const uint32_t *dims, const cx_rollup_cell *c) {
  (void)month;
  struct { uint64_t n; int bad; } *s = ctx;
  s->n += (uint64_t)c->count;
  if (dims[4] != CX_KIND_ENTERPRISE) s->bad++;
  return 0;
}

Test(upgrade, a_schema_3_store_migrates_at_its_first_writable_open) {
  cx_store *st = fx_open(dir, 64u << 20);
  fill(st);
  unsigned char d0[CX_DIGEST_LEN], d1[CX_DIGEST_LEN];
  cr_assert_eq(cx_store_digest(st, d0), 0);
  cx_record before;
  one_record(st, "升级-1", &before);
  cr_assert_eq(before.delay_provisional, 1);
  cr_assert_eq(cx_store_debug_make_schema3(st), 0, "%s", cx_store_errmsg(st));
  cx_store_close(st);

  /* read-only: refused, with the remedy; untouched */
  cx_store_opts ro = {0};
  ro.read_only = 1;
  st = NULL;
  cr_assert_eq(cx_store_open(dir, &ro, &st), CX_EVERSION);
  cr_assert(strstr(cx_store_errmsg(NULL), "chengxin upgrade"), "%s", cx_store_errmsg(NULL));

  /* writable: migrated */
  st = fx_open(dir, 64u << 20);
  cx_store_info in;
  cr_assert_eq(cx_store_info_get(st, &in), 0);
  cr_assert_eq(in.schema_version, CX_SCHEMA_VERSION);
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0, "the migrated store verifies (grams, rollups, facts)");
  cr_assert_eq(cx_store_digest(st, d1), 0);
  cr_assert_eq(memcmp(d0, d1, CX_DIGEST_LEN), 0, "nothing lost: the same content digest");
  cx_record after;
  one_record(st, "升级-1", &after);
  cr_assert_eq(after.delay_provisional, 1, "the provisional delay is marked again");
  one_record(st, "升级-0", &after);
  cr_assert_eq(after.delay_provisional, 0);
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  uint64_t n = 0;
  cr_assert_eq(cx_store_gram_count(t, CX_STR("闽江"), &n), 0);
  cr_assert_eq(n, 40, "the keyword index holds every name");
  cx_store_txn_end(t);
  cx_store_close(st);
  /* and it stays at this schema */
  st = NULL;
  cr_assert_eq(cx_store_open(dir, &ro, &st), 0);
  cx_store_close(st);
}

Test(upgrade, a_schema_2_store_migrates_too) {
  /* schema 3 only added category values: a schema-2 store has its layout */
  cx_store *st = fx_open(dir, 64u << 20);
  fill(st);
  unsigned char d0[CX_DIGEST_LEN], d1[CX_DIGEST_LEN];
  cr_assert_eq(cx_store_digest(st, d0), 0);
  cr_assert_eq(cx_store_debug_make_schema3(st), 0);
  cr_assert_eq(cx_store_debug_set_schema(st, 2), 0);
  cx_store_close(st);
  st = fx_open(dir, 64u << 20);
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0);
  cr_assert_eq(cx_store_digest(st, d1), 0);
  cr_assert_eq(memcmp(d0, d1, CX_DIGEST_LEN), 0);
  cx_store_close(st);
}

Test(upgrade, older_schemas_are_refused_untouched) {
  cx_store *st = fx_open(dir, 64u << 20);
  fill(st);
  cr_assert_eq(cx_store_debug_set_schema(st, 1), 0);
  cx_store_close(st);
  st = NULL;
  cx_store_opts o = {0};
  cr_assert_eq(cx_store_open(dir, &o, &st), CX_EVERSION);
  cr_assert(strstr(cx_store_errmsg(NULL), "re-import"), "%s", cx_store_errmsg(NULL));
}

/* Schema 4 -> 5: the authority cube gained the entity kind; its cells are rebuilt. */
Test(upgrade, a_schema_4_store_rebuilds_its_rollups) {
  cx_store *st = fx_open(dir, 64u << 20);
  fill(st);
  unsigned char d0[CX_DIGEST_LEN], d1[CX_DIGEST_LEN];
  cr_assert_eq(cx_store_digest(st, d0), 0);
  cr_assert_eq(cx_store_debug_make_schema4(st), 0, "%s", cx_store_errmsg(st));
  cx_store_close(st);
  cx_store_opts ro = {0};
  ro.read_only = 1;
  st = NULL;
  cr_assert_eq(cx_store_open(dir, &ro, &st), CX_EVERSION);
  cr_assert(strstr(cx_store_errmsg(NULL), "schema version 4"), "%s", cx_store_errmsg(NULL));
  cr_assert(strstr(cx_store_errmsg(NULL), "chengxin upgrade"), "%s", cx_store_errmsg(NULL));
  st = fx_open(dir, 64u << 20);
  cx_store_info in;
  cr_assert_eq(cx_store_info_get(st, &in), 0);
  cr_assert_eq(in.schema_version, CX_SCHEMA_VERSION);
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0, "the rebuilt rollups verify");
  cr_assert_eq(cx_store_digest(st, d1), 0);
  cr_assert_eq(memcmp(d0, d1, CX_DIGEST_LEN), 0, "nothing lost");
  /* the authority cube is keyed by kind now: its cells name the records' kind */
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  struct { uint64_t n; int bad; } seen = {0, 0};
  cr_assert_eq(cx_store_rollup_each(t, 1, 0, 0xFFFF, cube1_cb, &seen), 0);
  cr_assert_eq(seen.n, 40);
  cr_assert_eq(seen.bad, 0);
  cx_store_txn_end(t);
  cx_store_close(st);
}

static void vprint(void *ctx, const char *what) {
  (void)ctx;
  fprintf(stderr, "verify: %s\n", what);
}

/* Schema 5 -> 6: the rollup cells are rebuilt as varints and every entities value gains its
 * hint, written from the stored summary; nothing else changes (the digest), and what the
 * migration writes is what a rebuild writes (verify compares both). */
Test(upgrade, a_schema_5_store_rebuilds_its_rollup_cells_and_gains_the_entities_hints) {
  cx_store *st = fx_open(dir, 64u << 20);
  fill(st);
  unsigned char d0[CX_DIGEST_LEN], d1[CX_DIGEST_LEN];
  cr_assert_eq(cx_store_digest(st, d0), 0);
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cx_str code;
  cx_entity_hint h0;
  cr_assert_eq(cx_store_entity_get(t, 1, &code, &h0), 0);
  cr_assert(h0.known, "a batch writes the hint");
  cx_store_txn_end(t);
  cr_assert_eq(cx_store_debug_make_schema5(st), 0, "%s", cx_store_errmsg(st));
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cx_entity_hint h;
  cr_assert_eq(cx_store_entity_get(t, 1, &code, &h), 0);
  cr_assert_not(h.known, "schema 5 has none");
  cr_assert_eq(code.n, CX_CODE_LEN);
  cx_store_txn_end(t);
  cx_store_close(st);
  cx_store_opts ro = {0};
  ro.read_only = 1;
  st = NULL;
  cr_assert_eq(cx_store_open(dir, &ro, &st), CX_EVERSION);
  cr_assert(strstr(cx_store_errmsg(NULL), "schema version 5"), "%s", cx_store_errmsg(NULL));
  cr_assert(strstr(cx_store_errmsg(NULL), "chengxin upgrade"), "%s", cx_store_errmsg(NULL));
  st = fx_open(dir, 64u << 20);
  cr_assert(strstr(cx_store_errmsg(st), "migrated to schema 6"), "%s", cx_store_errmsg(st));
  cr_assert(strstr(cx_store_errmsg(st), "hints of"), "%s", cx_store_errmsg(st));
  cx_store_info in;
  cr_assert_eq(cx_store_info_get(st, &in), 0);
  cr_assert_eq(in.schema_version, CX_SCHEMA_VERSION);
  cr_assert_eq(in.record_dict, 0, "a migration packs nothing");
  cr_assert_eq(cx_store_verify(st, vprint, NULL), 0, "the rebuilt cells and the hints verify");
  cr_assert_eq(cx_store_digest(st, d1), 0);
  cr_assert_eq(memcmp(d0, d1, CX_DIGEST_LEN), 0, "nothing lost");
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  struct { uint64_t n; int bad; } seen = {0, 0};
  cr_assert_eq(cx_store_rollup_each(t, 1, 0, 0xFFFF, cube1_cb, &seen), 0);
  cr_assert_eq(seen.n, 40);
  uint64_t n = 0;
  for (uint32_t eid = 1; cx_store_entity_get(t, eid, &code, &h) == 0; eid++, n++) {
    cr_assert(h.known, "entity %u", eid);
    cx_summary s;
    cr_assert_eq(cx_store_summary_get(t, code.p, &s), 0);
    cx_entity_hint want;
    cx_entity_hint_of(cx_store_catalog(st), &s, &want);
    cr_assert_eq(h.public_end, want.public_end, "entity %u", eid);
    cr_assert_eq(h.kind, s.kind);
  }
  cr_assert_gt(n, 1);
  cx_store_txn_end(t);
  cx_store_close(st);
}
