/* Unit tests of net/'s bounded msgpack reader, framing, request decoding, tokens, histograms.
 * Inputs are placed right before a PROT_NONE page so any over-read crashes the test. */
#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "net_int.h"
#include "testutil.h"

/* ---- guard page ---- */

static unsigned char *g_base;
static size_t g_pages;

/* Copies p[0..n) so that it ends exactly at a PROT_NONE page. */
static const unsigned char *guarded(const void *p, size_t n) {
  size_t pg = (size_t)sysconf(_SC_PAGESIZE);
  if (g_base) munmap(g_base, g_pages * pg);
  g_pages = (n + pg - 1) / pg + 1;
  g_base = mmap(NULL, g_pages * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  cr_assert(g_base != MAP_FAILED);
  cr_assert(mprotect(g_base + (g_pages - 1) * pg, pg, PROT_NONE) == 0);
  unsigned char *dst = g_base + (g_pages - 1) * pg - n;
  if (n) memcpy(dst, p, n);
  return dst;
}

static void fini(void) {
  if (g_base) munmap(g_base, g_pages * (size_t)sysconf(_SC_PAGESIZE));
  g_base = NULL;
}

TestSuite(mp, .fini = fini);
TestSuite(frame, .fini = fini);
TestSuite(req, .fini = fini);
TestSuite(tokens);
TestSuite(hist);

/* ---- a sample message built with msgpack-c ---- */

static void sample(msgpack_sbuffer *sb) {
  msgpack_sbuffer_init(sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, 7);
  msgpack_pack_str_with_body(&pk, "id", 2);
  msgpack_pack_uint64(&pk, 1234567890123ull);
  msgpack_pack_str_with_body(&pk, "op", 2);
  msgpack_pack_str_with_body(&pk, "check", 5);
  msgpack_pack_str_with_body(&pk, "codes", 5);
  msgpack_pack_array(&pk, 3);
  msgpack_pack_str_with_body(&pk, "91350100M000100Y43", 18);
  msgpack_pack_nil(&pk);
  msgpack_pack_int64(&pk, -5);
  msgpack_pack_str_with_body(&pk, "f", 1);
  msgpack_pack_double(&pk, 1.5);
  msgpack_pack_str_with_body(&pk, "b", 1);
  msgpack_pack_bin_with_body(&pk, "\x01\x02\x03", 3);
  msgpack_pack_str_with_body(&pk, "t", 1);
  msgpack_pack_true(&pk);
  msgpack_pack_str_with_body(&pk, "e", 1);
  msgpack_pack_ext_with_body(&pk, "abcd", 4, 7);
}

Test(mp, reads_every_type_of_a_valid_message) {
  msgpack_sbuffer sb;
  sample(&sb);
  const unsigned char *p = guarded(sb.data, sb.size);
  cr_assert_eq(cx_mp_validate(p, sb.size), 0);
  cx_mp r = cx_mp_make(p, sb.size);
  uint32_t n;
  cr_assert_eq(cx_mp_read_map(&r, &n), 0);
  cr_assert_eq(n, 7);
  cx_str s;
  uint64_t u;
  cr_assert_eq(cx_mp_read_str(&r, &s), 0);
  cr_assert(cx_str_eq(s, CX_STR("id")));
  cr_assert_eq(cx_mp_read_str(&r, &s), CX_EBADREQ, "type mismatch does not advance");
  cr_assert_eq(cx_mp_read_uint(&r, &u), 0);
  cr_assert_eq(u, 1234567890123ull);
  cx_mp_read_str(&r, &s);
  cr_assert_eq(cx_mp_read_str(&r, &s), 0);
  cr_assert(cx_str_eq(s, CX_STR("check")));
  cx_mp_read_str(&r, &s);
  cr_assert_eq(cx_mp_read_array(&r, &n), 0);
  cr_assert_eq(n, 3);
  cr_assert_eq(cx_mp_read_str(&r, &s), 0);
  cr_assert_eq(s.n, 18);
  cr_assert_eq(cx_mp_read_nil(&r), 0);
  int64_t i;
  cr_assert_eq(cx_mp_read_uint(&r, &u), CX_EBADREQ, "negative is not a uint");
  cr_assert_eq(cx_mp_read_int(&r, &i), 0);
  cr_assert_eq(i, -5);
  for (int k = 0; k < 4; k++) {
    cr_assert_eq(cx_mp_read_str(&r, &s), 0);
    cr_assert_eq(cx_mp_skip(&r), 0);
  }
  cr_assert_eq(cx_mp_left(&r), 0);
  cr_assert_eq(cx_mp_peek(&r), CX_EBADFRAME);
  msgpack_sbuffer_destroy(&sb);
}

Test(mp, every_truncation_is_an_error_never_an_overread) {
  msgpack_sbuffer sb;
  sample(&sb);
  for (size_t k = 0; k < sb.size; k++) {
    const unsigned char *p = guarded(sb.data, k);
    cr_assert_eq(cx_mp_validate(p, k), CX_EBADFRAME, "prefix %zu", k);
  }
  msgpack_sbuffer_destroy(&sb);
}

Test(mp, huge_declared_counts_are_rejected_before_reading) {
  static const unsigned char arr[] = {0xdd, 0xff, 0xff, 0xff, 0xff};
  static const unsigned char map[] = {0xdf, 0xff, 0xff, 0xff, 0xff, 0xc0};
  static const unsigned char str[] = {0xdb, 0xff, 0xff, 0xff, 0xff, 'a'};
  static const unsigned char bin[] = {0xc6, 0x7f, 0xff, 0xff, 0xff};
  static const unsigned char ext[] = {0xc9, 0x00, 0x00, 0x10, 0x00, 0x01};
  uint32_t n;
  const unsigned char *p = guarded(arr, sizeof arr);
  cx_mp r = cx_mp_make(p, sizeof arr);
  cr_assert_eq(cx_mp_read_array(&r, &n), CX_EBADFRAME);
  cr_assert_eq(cx_mp_validate(p, sizeof arr), CX_EBADFRAME);
  p = guarded(map, sizeof map);
  r = cx_mp_make(p, sizeof map);
  cr_assert_eq(cx_mp_read_map(&r, &n), CX_EBADFRAME);
  p = guarded(str, sizeof str);
  cr_assert_eq(cx_mp_validate(p, sizeof str), CX_EBADFRAME);
  p = guarded(bin, sizeof bin);
  cr_assert_eq(cx_mp_validate(p, sizeof bin), CX_EBADFRAME);
  p = guarded(ext, sizeof ext);
  cr_assert_eq(cx_mp_validate(p, sizeof ext), CX_EBADFRAME);
}

Test(mp, deep_nesting_is_bounded) {
  unsigned char buf[4096];
  memset(buf, 0x91, sizeof buf - 1); /* [[[[...]]]] */
  buf[sizeof buf - 1] = 0xc0;
  const unsigned char *p = guarded(buf, sizeof buf);
  cr_assert_eq(cx_mp_validate(p, sizeof buf), CX_EBADFRAME);
  unsigned char ok[CX_NET_MAX_DEPTH + 1];
  memset(ok, 0x91, sizeof ok - 1);
  ok[sizeof ok - 1] = 0xc0;
  p = guarded(ok, sizeof ok);
  cr_assert_eq(cx_mp_validate(p, sizeof ok), 0);
}

Test(mp, reserved_byte_and_trailing_bytes_are_errors) {
  static const unsigned char c1[] = {0xc1};
  static const unsigned char two[] = {0xc0, 0xc0};
  cr_assert_eq(cx_mp_validate(guarded(c1, 1), 1), CX_EBADFRAME);
  cr_assert_eq(cx_mp_validate(guarded(two, 2), 2), CX_EBADFRAME);
  cr_assert_eq(cx_mp_validate(guarded(two, 0), 0), CX_EBADFRAME);
}

Test(mp, random_garbage_never_overreads) {
  unsigned seed = 12345;
  unsigned char buf[64];
  for (int it = 0; it < 20000; it++) {
    size_t n = (size_t)(rand_r(&seed) % sizeof buf);
    for (size_t k = 0; k < n; k++) {
      int x = rand_r(&seed);
      /* bias toward type bytes with lengths */
      buf[k] = (unsigned char)((x & 0x300) ? (0x80 + (x & 0x7f)) : (x & 0xff));
    }
    const unsigned char *p = guarded(buf, n);
    int rc = cx_mp_validate(p, n);
    cr_assert(rc == 0 || rc == CX_EBADFRAME);
    cx_req rq;
    char msg[256];
    rc = cx_exec_decode(&rq, p, n, msg, sizeof msg);
    cr_assert(rc <= 0);
  }
}

Test(mp, validated_bytes_are_safe_for_msgpack_c) {
  msgpack_sbuffer sb;
  sample(&sb);
  cr_assert_eq(cx_mp_validate(sb.data, sb.size), 0);
  msgpack_zone z;
  msgpack_zone_init(&z, 1024);
  msgpack_object o;
  size_t off = 0;
  cr_assert_eq(msgpack_unpack(sb.data, sb.size, &off, &z, &o), MSGPACK_UNPACK_SUCCESS);
  cr_assert_eq(o.type, MSGPACK_OBJECT_MAP);
  msgpack_zone_destroy(&z);
  msgpack_sbuffer_destroy(&sb);
}

/* ---- frames ---- */

Test(frame, complete_partial_too_large_and_empty) {
  unsigned char f[10] = {0, 0, 0, 6, 0x81, 0xa1, 'a', 0xc0, 0xc0, 0xc0};
  const unsigned char *pl;
  size_t plen, need;
  const unsigned char *p = guarded(f, 10);
  cr_assert_eq(cx_frame_parse(p, 10, 1024, &pl, &plen, &need), 10);
  cr_assert_eq(plen, 6);
  cr_assert_eq(pl, p + 4);
  for (size_t k = 0; k < 10; k++) {
    p = guarded(f, k);
    cr_assert_eq(cx_frame_parse(p, k, 1024, &pl, &plen, &need), CX_EAGAIN);
    cr_assert_eq(need, k < 4 ? 4u : 10u);
  }
  p = guarded(f, 10);
  cr_assert_eq(cx_frame_parse(p, 10, 5, &pl, &plen, &need), CX_ETOOLARGE);
  unsigned char big[4] = {0xff, 0xff, 0xff, 0xff};
  cr_assert_eq(cx_frame_parse(guarded(big, 4), 4, 1 << 20, &pl, &plen, &need), CX_ETOOLARGE);
  unsigned char zero[4] = {0, 0, 0, 0};
  cr_assert_eq(cx_frame_parse(guarded(zero, 4), 4, 1 << 20, &pl, &plen, &need), CX_EBADFRAME);
  unsigned char hdr[4];
  cx_frame_header(hdr, 0x01020304);
  cr_assert_eq(memcmp(hdr, "\x01\x02\x03\x04", 4), 0);
}

/* ---- request decoding ---- */

typedef void (*pack_fn)(msgpack_packer *pk);
static int decode(pack_fn fn, cx_req *rq, char *msg) {
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  fn(&pk);
  const unsigned char *p = guarded(sb.data, sb.size);
  int rc = cx_exec_decode(rq, p, sb.size, msg, 256);
  msgpack_sbuffer_destroy(&sb);
  return rc;
}
#define S(pk, s) msgpack_pack_str_with_body(pk, s, strlen(s))
static void p_ok(msgpack_packer *pk) { msgpack_pack_map(pk, 3); S(pk, "id"); msgpack_pack_uint8(pk, 7); S(pk, "op"); S(pk, "search"); S(pk, "prefix"); S(pk, "abc"); }
static void p_array(msgpack_packer *pk) { msgpack_pack_array(pk, 1); msgpack_pack_nil(pk); }
static void p_noop(msgpack_packer *pk) { msgpack_pack_map(pk, 1); S(pk, "id"); msgpack_pack_uint8(pk, 3); }
static void p_noid(msgpack_packer *pk) { msgpack_pack_map(pk, 1); S(pk, "op"); S(pk, "ping"); }
static void p_badid(msgpack_packer *pk) { msgpack_pack_map(pk, 2); S(pk, "id"); S(pk, "x"); S(pk, "op"); S(pk, "ping"); }
static void p_badop(msgpack_packer *pk) { msgpack_pack_map(pk, 2); S(pk, "id"); msgpack_pack_uint8(pk, 3); S(pk, "op"); msgpack_pack_int8(pk, 1); }
static void p_unknown(msgpack_packer *pk) { msgpack_pack_map(pk, 2); S(pk, "id"); msgpack_pack_uint8(pk, 3); S(pk, "op"); S(pk, "launch"); }
static void p_intkey(msgpack_packer *pk) { msgpack_pack_map(pk, 1); msgpack_pack_uint8(pk, 1); msgpack_pack_uint8(pk, 1); }
static void p_many(msgpack_packer *pk) {
  msgpack_pack_map(pk, 40);
  for (int i = 0; i < 40; i++) { char k[16]; snprintf(k, sizeof k, "k%d", i); S(pk, k); msgpack_pack_nil(pk); }
}

Test(req, decodes_id_op_and_fields_in_place) {
  cx_req rq;
  char msg[256];
  cr_assert_eq(decode(p_ok, &rq, msg), 0);
  cr_assert_eq(rq.id, 7);
  cr_assert_eq(rq.op, CX_OP_SEARCH);
  cx_mp v;
  cr_assert_eq(cx_req_field(&rq, "prefix", &v), 1);
  cx_str s;
  cr_assert_eq(cx_mp_read_str(&v, &s), 0);
  cr_assert(cx_str_eq(s, CX_STR("abc")));
  cr_assert_eq(cx_req_field(&rq, "limit", &v), 0);
}

Test(req, malformed_requests_get_the_right_error) {
  cx_req rq;
  char msg[256];
  cr_assert_eq(decode(p_array, &rq, msg), CX_EBADREQ);
  cr_assert_eq(decode(p_noop, &rq, msg), CX_EBADREQ);
  cr_assert_eq(rq.id, 3, "the id is echoed even when op is missing");
  cr_assert_str_eq(msg, "missing op");
  cr_assert_eq(decode(p_noid, &rq, msg), CX_EBADREQ);
  cr_assert_eq(decode(p_badid, &rq, msg), CX_EBADREQ);
  cr_assert_eq(rq.id, 0);
  cr_assert_eq(decode(p_badop, &rq, msg), CX_EBADREQ);
  cr_assert_eq(decode(p_unknown, &rq, msg), CX_EUNKNOWNOP);
  cr_assert_eq(decode(p_intkey, &rq, msg), CX_EBADREQ);
  cr_assert_eq(decode(p_many, &rq, msg), CX_EBADREQ);
}

/* ---- roles ---- */

Test(req, op_role_table) {
  int pub[] = {CX_OP_PING, CX_OP_AUTH, CX_OP_ENTITY, CX_OP_RECORDS, CX_OP_SEARCH};
  for (int r = 0; r < CX_ROLE_COUNT; r++)
    for (size_t i = 0; i < 5; i++) cr_assert(cx_op_allowed(r, pub[i]));
  cr_assert(!cx_op_allowed(CX_ROLE_PUBLIC, CX_OP_CHECK));
  cr_assert(cx_op_allowed(CX_ROLE_APPROVAL, CX_OP_CHECK));
  cr_assert(!cx_op_allowed(CX_ROLE_APPROVAL, CX_OP_STATS));
  cr_assert(cx_op_allowed(CX_ROLE_ANALYST, CX_OP_AGGREGATE));
  cr_assert(cx_op_allowed(CX_ROLE_ANALYST, CX_OP_STATS));
  cr_assert(!cx_op_allowed(CX_ROLE_ANALYST, CX_OP_INGEST));
  cr_assert(cx_op_allowed(CX_ROLE_SUBMITTER, CX_OP_OBJECTION));
  cr_assert(!cx_op_allowed(CX_ROLE_SUBMITTER, CX_OP_CHECK));
  for (int op = 0; op < CX_OP_COUNT; op++) cr_assert(cx_op_allowed(CX_ROLE_ADMIN, op));
}

/* ---- tokens ---- */

Test(tokens, parses_lines_and_finds_tokens) {
  const char *t = "# comment\n\nsecret-a-0123456789 approval 审批系统\n  tok2-0123456789abcdef\tadmin  ops team \n"
                  "x-0123456789abcdef analyst\n";
  cx_tokens tk;
  int bad = 0;
  cr_assert_eq(cx_tokens_parse(t, strlen(t), &tk, &bad), 0);
  cr_assert_eq(tk.n, 3);
  cr_assert_str_eq(tk.v[0].name, "审批系统");
  cr_assert_str_eq(tk.v[1].name, "ops team");
  cr_assert_eq(tk.v[1].role, 4);
  cr_assert_eq(cx_tokens_find(&tk, CX_STR("tok2-0123456789abcdef")), 1);
  cr_assert_eq(cx_tokens_find(&tk, CX_STR("tok2-0123456789abcde")), CX_ENOTFOUND);
  cr_assert_eq(cx_tokens_find(&tk, CX_STR("tok2-0123456789abcdeff")), CX_ENOTFOUND);
  cr_assert_eq(cx_tokens_find(&tk, CX_STR("")), CX_ENOTFOUND);
  cr_assert_eq(cx_tokens_find(&tk, CX_STR("x-0123456789abcdef")), 2);
  cx_tokens_free(&tk);
  const char *b = "ok-0123456789abcdef admin\nbad-0123456789abcdef superuser\n";
  cr_assert_eq(cx_tokens_parse(b, strlen(b), &tk, &bad), CX_EBADREQ);
  cr_assert_eq(bad, 2);
}

Test(tokens, refuses_a_file_readable_by_others) {
  char dir[128], path[256], why[512];
  cx_test_tmpdir(dir, sizeof dir);
  snprintf(path, sizeof path, "%s/tokens", dir);
  FILE *f = fopen(path, "w");
  fputs("abc-0123456789abcdef admin\n", f);
  fclose(f);
  chmod(path, 0644);
  cx_tokens tk;
  cr_assert_eq(cx_tokens_load(path, &tk, why, sizeof why), CX_EFORBIDDEN);
  cr_assert(strstr(why, "chmod 600") != NULL);
  cr_assert(strstr(why, "abc") == NULL, "the message never holds a token");
  chmod(path, 0600);
  cr_assert_eq(cx_tokens_load(path, &tk, why, sizeof why), 0);
  cr_assert_eq(tk.n, 1);
  cx_tokens_free(&tk);
  char missing[300];
  snprintf(missing, sizeof missing, "%s/none", dir);
  cr_assert_eq(cx_tokens_load(missing, &tk, why, sizeof why), CX_EIO);
  cx_test_rmrf(dir);
}

/* ---- histograms ---- */

Test(hist, buckets_are_monotone_and_bound_their_values) {
  int prev = -1;
  for (uint64_t v = 0; v < 100000; v += 7) {
    int b = cx_hist_bucket(v);
    cr_assert(b >= prev);
    cr_assert(cx_hist_bucket_upper(b) >= v);
    cr_assert(b == 0 || cx_hist_bucket_upper(b - 1) < v);
    prev = b;
  }
  cr_assert_eq(cx_hist_bucket(UINT64_MAX), CX_HIST_BUCKETS - 1);
}

Test(hist, quantiles) {
  static cx_hist h;
  memset(&h, 0, sizeof h);
  cr_assert_eq(cx_hist_quantile(&h, 0.5), 0);
  for (int i = 0; i < 990; i++) cx_hist_add(&h, 1000);
  for (int i = 0; i < 10; i++) cx_hist_add(&h, 1000000);
  uint64_t p50 = cx_hist_quantile(&h, 0.5), p999 = cx_hist_quantile(&h, 0.999);
  cr_assert(p50 >= 1000 && p50 < 1300, "p50 %lu", (unsigned long)p50);
  cr_assert(p999 >= 1000000 && p999 < 1300000);
}

Test(buf, an_append_that_failed_makes_every_later_one_fail_until_cleared) {
  cx_buf b;
  cr_assert_eq(cx_buf_init(&b, 16), 0);
  cr_assert_eq(cx_buf_append(&b, "0123456789", 10), 0);
  cx_alloc_fail_at(1, 0); /* the next allocation: the growth below */
  char big[64];
  memset(big, 'x', sizeof big);
  cr_assert_eq(cx_buf_append(&b, big, sizeof big), CX_ENOMEM);
  cr_assert_eq(b.failed, 1);
  cx_alloc_fail_at(0, 0);
  /* a later, smaller append that would fit must not write: the answer already has a hole */
  cr_assert_eq(cx_buf_append(&b, "ab", 2), CX_ENOMEM);
  cr_assert_eq(b.len, 10, "nothing written after the failure");
  cr_assert_eq(cx_buf_reserve(&b, 1), CX_ENOMEM);
  cx_buf_clear_failure(&b);
  cr_assert_eq(cx_buf_append(&b, big, sizeof big), 0);
  cr_assert_eq(b.len, 10 + sizeof big);
  cx_buf_free(&b);
}

/* ---- the decode's one pass (decode_fast) against the validator ---- */

/* {id: 1, op: "ping", x: [[[...nil]]]}: x nested `levels` arrays deep. */
static size_t nested_request(unsigned char *b, size_t cap, unsigned levels) {
  size_t n = 0;
  static const unsigned char head[] = {0x83, 0xa2, 'i', 'd', 0x01, 0xa2, 'o', 'p', 0xa4, 'p', 'i', 'n', 'g', 0xa1, 'x'};
  memcpy(b, head, sizeof head);
  n = sizeof head;
  for (unsigned i = 0; i < levels && n < cap - 1; i++) b[n++] = 0x91;
  b[n++] = 0xc0;
  return n;
}

Test(req, a_field_nested_past_the_limit_is_a_bad_frame_as_the_validator_says) {
  unsigned char b[128];
  cx_req rq;
  char msg[256];
  /* the map is depth 0, x depth 1: x's innermost nil sits at depth 1 + levels */
  size_t n = nested_request(b, sizeof b, CX_NET_MAX_DEPTH - 1);
  cr_assert_eq(cx_mp_validate(b, n), 0);
  cr_assert_eq(cx_exec_decode(&rq, guarded(b, n), n, msg, sizeof msg), 0, "%s", msg);
  cr_assert_eq(rq.op, CX_OP_PING);
  n = nested_request(b, sizeof b, CX_NET_MAX_DEPTH);
  cr_assert_eq(cx_mp_validate(b, n), CX_EBADFRAME);
  cr_assert_eq(cx_exec_decode(&rq, guarded(b, n), n, msg, sizeof msg), CX_EBADFRAME);
  cr_assert_str_eq(msg, "frame does not hold exactly one well-formed msgpack value");
}

Test(req, the_decode_agrees_with_the_validator_on_mutated_requests) {
  /* a check request, then one byte changed, dropped or added at random: the decode says
   * bad_frame exactly when the validator refuses the bytes, and a well-formed map of string
   * keys decodes to the fields a separate walk finds */
  msgpack_sbuffer sb;
  msgpack_sbuffer_init(&sb);
  msgpack_packer pk;
  msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
  msgpack_pack_map(&pk, 5);
  S(&pk, "id"); msgpack_pack_uint32(&pk, 77);
  S(&pk, "op"); S(&pk, "check");
  S(&pk, "codes"); msgpack_pack_array(&pk, 2); S(&pk, "91350100M000100Y43"); S(&pk, "91350100M000100Y44");
  S(&pk, "action"); S(&pk, "procurement");
  S(&pk, "opts"); msgpack_pack_map(&pk, 1); S(&pk, "k"); msgpack_pack_array(&pk, 2); msgpack_pack_int8(&pk, -3); msgpack_pack_double(&pk, 1.5);
  unsigned seed = 4242;
  unsigned char buf[256];
  unsigned ok = 0, bad = 0, other = 0;
  for (int it = 0; it < 50000; it++) {
    size_t n = sb.size;
    memcpy(buf, sb.data, n);
    int what = rand_r(&seed) % 3, at = rand_r(&seed) % (int)n;
    if (what == 0) buf[at] = (unsigned char)rand_r(&seed);
    else if (what == 1) { memmove(buf + at, buf + at + 1, n - (size_t)at - 1); n--; }
    else { memmove(buf + at + 1, buf + at, n - (size_t)at); buf[at] = (unsigned char)rand_r(&seed); n++; }
    const unsigned char *p = guarded(buf, n);
    cx_req rq;
    char msg[256];
    int rc = cx_exec_decode(&rq, p, n, msg, sizeof msg);
    int v = cx_mp_validate(p, n);
    cr_assert_eq(rc == CX_EBADFRAME, v != 0, "iteration %d: decode %d, validate %d", it, rc, v);
    if (rc == CX_EBADFRAME) { bad++; continue; }
    if (rc) { other++; continue; }
    ok++;
    cx_mp r = cx_mp_make(p, n);
    uint32_t nf;
    cr_assert_eq(cx_mp_read_map(&r, &nf), 0);
    cr_assert_eq(rq.nf, nf);
    for (uint32_t i = 0; i < nf; i++) {
      cx_str k;
      cr_assert_eq(cx_mp_read_str(&r, &k), 0);
      cr_assert(cx_str_eq(k, rq.keys[i]));
      cr_assert_eq(rq.vals[i].p, r.p);
      cr_assert_eq(cx_mp_skip(&r), 0);
      cr_assert_eq(rq.vals[i].end, r.p);
    }
  }
  cr_assert(ok > 100 && bad > 100 && other > 100, "ok %u bad %u other %u", ok, bad, other);
  msgpack_sbuffer_destroy(&sb);
}
