/* test_keys.c — record keys sort as (entity asc, decision date desc, seq asc). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"

static uint64_t rng = 88172645463325252ull;
static uint32_t next(void) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return (uint32_t)rng;
}

static int model_cmp(const cx_reckey *a, const cx_reckey *b) {
  if (a->entity_id != b->entity_id) return a->entity_id < b->entity_id ? -1 : 1;
  if (a->decision_date != b->decision_date) return a->decision_date > b->decision_date ? -1 : 1;
  if (a->seq != b->seq) return a->seq < b->seq ? -1 : 1;
  return 0;
}

static int sign(int x) { return (x > 0) - (x < 0); }

Test(keys, encode_decode_round_trips) {
  for (int i = 0; i < 10000; i++) {
    cx_reckey k = {next(), next(), next()}, d;
    if (i % 7 == 0) k.decision_date = 0;
    if (i % 11 == 0) k.entity_id = UINT32_MAX;
    unsigned char b[CX_RECKEY_LEN];
    cx_reckey_encode(&k, b);
    cx_reckey_decode(b, &d);
    cr_assert_eq(d.entity_id, k.entity_id);
    cr_assert_eq(d.decision_date, k.decision_date);
    cr_assert_eq(d.seq, k.seq);
  }
}

Test(keys, byte_order_is_entity_asc_date_desc_seq_asc) {
  for (int i = 0; i < 100000; i++) {
    /* small ranges so that ties on the leading fields are frequent */
    cx_reckey a = {next() % 4, 19000 + next() % 4, next() % 4};
    cx_reckey b = {next() % 4, 19000 + next() % 4, next() % 4};
    if (i % 3 == 0) { a.entity_id = next(); b.entity_id = next(); }
    if (i % 5 == 0) { a.decision_date = next(); b.decision_date = next(); }
    unsigned char ea[CX_RECKEY_LEN], eb[CX_RECKEY_LEN];
    cx_reckey_encode(&a, ea);
    cx_reckey_encode(&b, eb);
    cr_assert_eq(sign(memcmp(ea, eb, CX_RECKEY_LEN)), model_cmp(&a, &b));
  }
}

#include "store_int.h" /* cx__radix_sort: the batch's sort, tested here as a key utility */

Test(keys, radix_sort_orders_by_key_bytes_and_is_stable) {
  enum { N = 5000, SZ = 20, K = 12 };
  static unsigned char a[N][SZ];
  for (int i = 0; i < N; i++) {
    cx_reckey k = {next() % 7, 19000 + next() % 5, next() % 3};
    if (i % 13 == 0) k.entity_id = next();
    cx_reckey_encode(&k, a[i]);
    memcpy(a[i] + K, &i, sizeof i); /* original position, for stability */
  }
  cr_assert_eq(cx__radix_sort(a, N, SZ, K), 0);
  for (int i = 1; i < N; i++) {
    int c = memcmp(a[i - 1], a[i], K);
    cr_assert_leq(c, 0, "order at %d", i);
    if (c == 0) {
      int p, q;
      memcpy(&p, a[i - 1] + K, sizeof p);
      memcpy(&q, a[i] + K, sizeof q);
      cr_assert_lt(p, q, "stability at %d", i);
    }
  }
  cr_assert_eq(cx__radix_sort(a, 1, SZ, K), 0);
  cr_assert_eq(cx__radix_sort(a, 0, SZ, K), 0);
}
