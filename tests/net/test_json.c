/* test_json.c — the HTTP door's msgpack -> JSON translation of executor answers
 * (cx__http_answer_json): numbers at their limits, every escape, CJK text, text that is not
 * UTF-8, nesting; each answer parsed back with jansson and compared value by value. */
#include <criterion/criterion.h>
#include <inttypes.h>
#include <jansson.h>
#include <msgpack.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net_int.h"

static void pk_str(msgpack_packer *pk, const char *s, size_t n) {
  msgpack_pack_str(pk, n);
  msgpack_pack_str_body(pk, s, n);
}
#define PK_LIT(pk, s) pk_str(pk, s, sizeof(s) - 1)

/* {"ok": true, "result": <what fn packs>} framed, as JSON text (NUL-terminated, malloc'd). */
static char *as_json(void (*fn)(msgpack_packer *)) {
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, 2);
  PK_LIT(&pk, "ok");
  msgpack_pack_true(&pk);
  PK_LIT(&pk, "result");
  fn(&pk);
  unsigned char *frame = malloc(CX_FRAME_HDR + sb.size);
  cx_frame_header(frame, (uint32_t)sb.size);
  memcpy(frame + CX_FRAME_HDR, sb.data, sb.size);
  cx_buf o;
  cr_assert_eq(cx_buf_init(&o, 64), 0);
  int err = -1;
  cr_assert_eq(cx__http_answer_json(frame, CX_FRAME_HDR + sb.size, &o, &err), 0);
  cr_assert_eq(err, 0);
  cr_assert_not(o.failed);
  char *out = malloc(o.len + 1);
  memcpy(out, o.p, o.len);
  out[o.len] = 0;
  cx_buf_free(&o);
  free(frame);
  msgpack_sbuffer_destroy(&sb);
  return out;
}

static const int64_t ints[] = {0, 1, -1, 9, 10, -10, 99, 100, 12345678901234LL, INT64_MAX, INT64_MIN,
                               INT64_MIN + 1, -32, -33, 127, 128, 255, 256, 65535, 65536};
static const uint64_t uints[] = {0, 1, 9, 10, 4294967295ULL, 4294967296ULL, UINT64_MAX,
                                 UINT64_MAX - 1, 10000000000000000000ULL};

static void pack_numbers(msgpack_packer *pk) {
  size_t ni = sizeof ints / sizeof ints[0], nu = sizeof uints / sizeof uints[0];
  msgpack_pack_array(pk, ni + nu);
  for (size_t i = 0; i < ni; i++) msgpack_pack_int64(pk, ints[i]);
  for (size_t i = 0; i < nu; i++) msgpack_pack_uint64(pk, uints[i]);
}

Test(json, integers_at_their_limits_are_exact) {
  char *s = as_json(pack_numbers);
  /* jansson's integers are signed 64-bit: compare the text for the unsigned ones */
  char want[2048];
  size_t k = 0;
  k += (size_t)snprintf(want + k, sizeof want - k, "[");
  size_t ni = sizeof ints / sizeof ints[0], nu = sizeof uints / sizeof uints[0];
  for (size_t i = 0; i < ni; i++) k += (size_t)snprintf(want + k, sizeof want - k, "%s%" PRId64, i ? "," : "", ints[i]);
  for (size_t i = 0; i < nu; i++) k += (size_t)snprintf(want + k, sizeof want - k, ",%" PRIu64, uints[i]);
  snprintf(want + k, sizeof want - k, "]");
  cr_assert_str_eq(s, want);
  free(s);
}

static const char *const texts[] = {
    "",
    "plain ascii",
    "91350100MA2XYZ1234",
    "福州闽江建设有限公司",
    "quote \" backslash \\ slash /",
    "tab\there\nnewline\rreturn",
    "\x01\x1f control",
    "del \x7f char",
    "mixed 信用 \"报告\" \\ end",
};

static void pack_texts(msgpack_packer *pk) {
  size_t n = sizeof texts / sizeof texts[0];
  msgpack_pack_map(pk, n);
  for (size_t i = 0; i < n; i++) {
    char key[32];
    snprintf(key, sizeof key, "k%zu", i);
    pk_str(pk, key, strlen(key));
    pk_str(pk, texts[i], strlen(texts[i]));
  }
}

Test(json, strings_round_trip_through_a_json_parser) {
  char *s = as_json(pack_texts);
  json_error_t e;
  json_t *j = json_loads(s, 0, &e);
  cr_assert(j, "not JSON (%s): %s", e.text, s);
  size_t n = sizeof texts / sizeof texts[0];
  cr_assert_eq(json_object_size(j), n);
  for (size_t i = 0; i < n; i++) {
    char key[32];
    snprintf(key, sizeof key, "k%zu", i);
    json_t *v = json_object_get(j, key);
    cr_assert(json_is_string(v), "%s", key);
    cr_assert_str_eq(json_string_value(v), texts[i], "%s", key);
  }
  json_decref(j);
  cr_assert(strstr(s, "\"k0\":\"\""), "%s", s);
  cr_assert(strstr(s, "\"k2\":\"91350100MA2XYZ1234\""), "%s", s);
  free(s);
}

static void pack_bad_utf8(msgpack_packer *pk) {
  msgpack_pack_array(pk, 2);
  PK_LIT(pk, "bad \xff\xfe bytes");
  PK_LIT(pk, "cut \xe4\xbf");
}

Test(json, text_that_is_not_utf8_is_still_valid_json) {
  char *s = as_json(pack_bad_utf8);
  json_error_t e;
  json_t *j = json_loads(s, 0, &e);
  cr_assert(j, "not JSON (%s): %s", e.text, s);
  cr_assert(json_is_array(j));
  cr_assert_eq(json_array_size(j), 2);
  cr_assert(strncmp(json_string_value(json_array_get(j, 0)), "bad ", 4) == 0);
  json_decref(j);
  free(s);
}

static void pack_nested(msgpack_packer *pk) {
  msgpack_pack_map(pk, 3);
  PK_LIT(pk, "hits");
  msgpack_pack_array(pk, 2);
  for (int i = 0; i < 2; i++) {
    msgpack_pack_map(pk, 3);
    PK_LIT(pk, "name");
    PK_LIT(pk, "某某公司");
    PK_LIT(pk, "n");
    msgpack_pack_int(pk, -i);
    PK_LIT(pk, "flag");
    if (i) msgpack_pack_true(pk);
    else msgpack_pack_nil(pk);
  }
  PK_LIT(pk, "next");
  PK_LIT(pk, "");
  PK_LIT(pk, "rate");
  msgpack_pack_double(pk, 0.25);
}

Test(json, nested_answers) {
  char *s = as_json(pack_nested);
  cr_assert_str_eq(s, "{\"hits\":[{\"name\":\"某某公司\",\"n\":0,\"flag\":null},"
                      "{\"name\":\"某某公司\",\"n\":-1,\"flag\":true}],\"next\":\"\",\"rate\":0.25}");
  free(s);
}
