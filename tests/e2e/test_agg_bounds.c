/* End-to-end: an aggregate over the wire is bounded in groups and answer bytes (too_large,
 * naming the limit), and one whose client goes away stops; the server answers the others. */
#include "e2e.h"

TestSuite(agg_bounds, .timeout = 120);

static void start(void) { e2e_setup_generated(5000, 40000, 5, "2025-06-01"); }

static int pack_by(msgpack_packer *pk, void *ctx) {
  const char *const *dims = ctx;
  uint32_t n = 0;
  while (dims[n]) n++;
  PK_S(pk, "by");
  msgpack_pack_array(pk, n);
  for (uint32_t i = 0; i < n; i++) PK_S(pk, dims[i]);
  return 0;
}

Test(agg_bounds, an_aggregate_of_too_many_groups_is_too_large_and_names_the_limit) {
  start();
  cx_client *c = e2e_connect_as(TOK_ANALYST);
  /* nearly one group per record: 9 dimensions over 40,000 records */
  const char *all[] = {"county", "authority", "month", "category", "subtype", "domain", "severity", "kind", "status",
                       NULL};
  cx_client_resp r;
  cr_assert_eq(cx_client_call(c, "aggregate", 1, pack_by, (void *)all, &r), 0);
  assert_err(&r, "too_large");
  cr_assert(e2e_resp_has(&r, "20000 groups"), "%.*s", (int)r.err_message_len, r.err_message);
  /* a sensible one still works, on the same connection */
  const char *some[] = {"city", "category", NULL};
  cr_assert_eq(cx_client_call(c, "aggregate", 1, pack_by, (void *)some, &r), 0);
  assert_ok(&r);
  cr_assert_gt(cx_mpo_get(r.result, "rows")->via.array.size, 0);
  cx_client_close(c);
  /* clients that ask for a scan and go away at once: their jobs stop, the server goes on */
  for (int i = 0; i < 20; i++) {
    cx_client *h = e2e_connect_as(TOK_ANALYST);
    const char *scan[] = {"county", "month", NULL};
    uint64_t id;
    cr_assert_eq(cx_client_send(h, "aggregate", 1, pack_by, (void *)scan, &id), 0);
    cr_assert_eq(cx_client_flush(h), 0);
    cx_client_close(h);
  }
  cx_client *p = e2e_connect();
  r = e2e_call(p, "ping", NULL);
  assert_ok(&r);
  cx_client_close(p);
  cr_assert_eq(e2e_stop(&g_srv), 0);
  cx_test_rmrf(g_srv.dir);
}
