/*
 * libFuzzer target: a stored record value (store/keys.c, store/reczip.c) of either version,
 * decoded with a decoder of a real store that has a trained dictionary (id 1), as every read
 * of the records DB does. Any input must be decoded or refused with CX_ECORRUPT, never crash
 * or read out of bounds; a decoded record's strings must lie inside the value or the decoder's
 * buffer; a value that decodes must re-encode to its version 1 bytes. The leading byte
 * of the input picks a shape: raw bytes, or a version 2 header (dictionary 1, the rest's
 * length) before the rest, so that most inputs reach the zstd decoder.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store.h"
#include "store_int.h"
#include "fuzz.h"

static cx_store *st;
static cx_txn *t;

static void setup(void) {
  char dir[512];
  fz_tmpdir(dir, sizeof dir, "recval");
  cx_store_opts o = {0};
  o.create = 1;
  CHECK(cx_store_open(dir, &o, &st) == 0);
  cx_store_debug_zdict_min(st, 100);
  cx_batch *b;
  CHECK(cx_batch_begin(st, &b) == 0);
  char code[19], auth[19], rid[32], name[64], content[128];
  for (unsigned i = 0; i < 300; i++) {
    fz_make_code("91350100", 1000 + i % 37, code);
    fz_make_code("11350100", 7 + i % 3, auth);
    snprintf(rid, sizeof rid, "闽罚〔2024〕%u号", i);
    snprintf(name, sizeof name, "福州第%u贸易有限公司", i % 37);
    snprintf(content, sizeof content, "当事人销售不合格产品，货值%u元", i * 7);
    cx_record r;
    cx_record_defaults(&r);
    r.entity_code = cx_str_c(code);
    r.entity_name = cx_str_c(name);
    r.authority_code = cx_str_c(auth);
    r.authority_name = cx_str_c("市市场监督管理局");
    r.record_id = cx_str_c(rid);
    r.content = cx_str_c(content);
    r.category = CX_CAT_PENALTY;
    r.decision_date = 19000 + i;
    const char *why;
    CHECK(cx_batch_put(b, &r, &why) == 0);
  }
  cx_batch_result res;
  CHECK(cx_batch_commit(b, &res) == 0);
  cx_store_info in;
  CHECK(cx_store_info_get(st, &in) == 0 && in.record_dict == 1);
  CHECK(cx_store_txn_begin(st, &t) == 0);
  /* the store's files may go: the env stays mapped, the dictionary is loaded on first use */
  fz_rmrf(dir);
}

static int inside(cx_str s, const unsigned char *lo, size_t n) {
  return s.n == 0 || ((const unsigned char *)s.p >= lo && (const unsigned char *)s.p + s.n <= lo + n);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (!st) setup();
  if (size < 1) return 0;
  size_t n = size - 1;
  unsigned char *v = malloc(n + 8);
  CHECK(v);
  size_t vn = 0;
  if (data[0] & 1) { /* a version 2 header around the rest */
    v[vn++] = CX_REC_VERSION_Z;
    v[vn++] = 1;
    uint32_t len = 56 + (data[0] >> 1) * 4; /* a plausible version 1 length - 1 */
    do {
      v[vn++] = (unsigned char)((len & 0x7f) | (len > 0x7f ? 0x80 : 0));
      len >>= 7;
    } while (len);
  }
  memcpy(v + vn, data + 1, n);
  vn += n;
  unsigned char *exact = malloc(vn ? vn : 1); /* exact size: reads past the end are caught */
  CHECK(exact);
  memcpy(exact, v, vn);
  free(v);
  cx_recdec local, *d = cx__txn_dec(t, &local);
  cx_record r;
  int rc = cx__rec_decode(d, exact, vn, &r);
  CHECK(rc == 0 || rc == CX_ECORRUPT);
  if (rc == 0) {
    const unsigned char *raw;
    size_t rn;
    CHECK(cx__rec_unpack(d, exact, vn, &raw, &rn) == 0);
    cx_str s[] = {r.record_id, r.authority_code, r.authority_name, r.entity_code, r.entity_name,
                  r.list_type, r.measures, r.basis, r.content, r.extra};
    for (size_t i = 0; i < sizeof s / sizeof s[0]; i++) CHECK(inside(s[i], raw, rn));
    cx_buf b = {0};
    CHECK(cx__rec_encode(&r, &b) == 0);
    /* byte 8's unused bits are not kept */
    CHECK(b.n == rn && memcmp(b.p, raw, 8) == 0 && b.p[8] == (raw[8] & 7) &&
          memcmp(b.p + 9, raw + 9, rn - 9) == 0);
    cx__buf_free(&b);
  }
  cx__txn_dec_done(t, d);
  free(exact);
  return 0;
}
