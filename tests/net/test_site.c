/* Unit tests of net/site.c without a server or a browser: the HTML escape, the --site file,
 * the category labels, and each page's status for each answer the executor may give (through
 * a fake run callback that answers what the test says, as the HTTP door would). */
#include <criterion/criterion.h>
#include <msgpack.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net_int.h"

static char *escaped(const char *s, size_t n) {
  cx_buf b;
  cr_assert(cx_buf_init(&b, 16) == 0);
  cx__site_html_escape(&b, s, n);
  char *out = strndup(b.p ? b.p : "", b.len);
  cx_buf_free(&b);
  return out;
}
#define ESC(s) escaped((s), strlen(s))

Test(site_escape, hostile_markup_becomes_text) {
  struct { const char *in, *out; } cases[] = {
      {"<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"},
      {"\"onmouseover=\"x", "&quot;onmouseover=&quot;x"},
      {"'single'", "&#39;single&#39;"},
      {"a & b &amp; c", "a &amp; b &amp;amp; c"},
      {"福州<b>粗体</b>", "福州&lt;b&gt;粗体&lt;/b&gt;"},
      {"plain 文本", "plain 文本"},
      {"", ""},
      {"tab\tand\nnewline", "tab\tand\nnewline"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    char *got = ESC(cases[i].in);
    cr_expect_str_eq(got, cases[i].out, "case %zu", i);
    free(got);
  }
}

Test(site_escape, bytes_that_are_not_text_become_replacement_characters) {
  const char bad[] = {'a', (char)0xff, 'b', 0x01, 'c', (char)0xc0, (char)0x80, (char)0xed, (char)0xa0,
                      (char)0x80, (char)0xe6, 0x1b, (char)0xc2, (char)0x85};
  char *got = escaped(bad, sizeof bad);
  /* 0xff; 0x01; 0xc0 0x80 (overlong: each byte); a surrogate (each byte); a truncated sequence;
   * ESC; the C1 control U+0085 */
  cr_expect_str_eq(got, "a\xef\xbf\xbd" "b\xef\xbf\xbd" "c\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd"
                        "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd");
  free(got);
  const char nul[] = {'x', 0, 'y'};
  got = escaped(nul, 3);
  cr_expect_str_eq(got, "x\xef\xbf\xbdy");
  free(got);
}

Test(site_escape, no_output_holds_a_markup_character) {
  /* every 2-byte combination of interesting bytes */
  const char set[] = "<>\"'&a\x80\xe4\xff";
  for (size_t i = 0; i < sizeof set - 1; i++)
    for (size_t j = 0; j < sizeof set - 1; j++) {
      char in[2] = {set[i], set[j]};
      char *got = escaped(in, 2);
      cr_expect(!strpbrk(got, "<>\"'"), "%02x %02x -> %s", (unsigned char)in[0], (unsigned char)in[1], got);
      free(got);
    }
}

Test(site_labels, every_category_has_a_chinese_label) {
  for (int c = 0; c < CX_CAT_COUNT; c++)
    cr_expect(cx__site_category_label(cx_category_names[c]) != NULL, "no label for %s", cx_category_names[c]);
  cr_expect_str_eq(cx__site_category_label("penalty"), "行政处罚");
  cr_expect_str_eq(cx__site_category_label("blacklist"), "严重失信主体名单");
  cr_expect_null(cx__site_category_label("nonsense"));
}

Test(site_config, a_file_sets_the_texts_and_contacts) {
  cx_site_config c;
  cx__site_config_default(&c);
  const char *t = "# comment\n\nsite_name = 福州市信用平台\r\noperator=某中心\nphone = 0591-1\n"
                  "repair_text = 第一段\nrepair_text = 第二段\n";
  int line = 0;
  char why[200];
  cr_assert(cx__site_config_parse(t, strlen(t), &c, &line, why, sizeof why) == 0, "%s", why);
  cr_expect_str_eq(c.site_name, "福州市信用平台");
  cr_expect_str_eq(c.operator_name, "某中心");
  cr_expect_str_eq(c.phone, "0591-1");
  cr_expect_str_eq(c.repair_text, "第一段\n第二段");
  cr_expect(strlen(c.objection_text) > 0); /* the default stays */
}

Test(site_config, bad_lines_are_named) {
  struct { const char *text; int line; const char *why; } cases[] = {
      {"site_name = a\nnonsense = b\n", 2, "unknown key"},
      {"phone 123\n", 1, "key = value"},
      {"email = a\nemail = b\n", 2, "twice"},
      {"address = a\x01" "b\n", 1, "control"},
      {"operator = \xff\n", 1, "UTF-8"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    cx_site_config c;
    cx__site_config_default(&c);
    int line = 0;
    char why[200] = "";
    cr_expect(cx__site_config_parse(cases[i].text, strlen(cases[i].text), &c, &line, why, sizeof why) ==
              CX_EBADREQ, "case %zu", i);
    cr_expect(line == cases[i].line, "case %zu: line %d", i, line);
    cr_expect(strstr(why, cases[i].why) != NULL, "case %zu: %s", i, why);
    cr_expect_str_eq(c.site_name, "信用信息公示平台", "case %zu: untouched", i);
  }
}

/* ---- pages over a fake executor ---- */

typedef struct fake {
  int err;           /* answer every request with this error (0: with `entity` below) */
  cx_buf ans;
  int calls, ops[16];
} fake;

static void frame_ok_entity(cx_buf *b, const char *name) {
  b->len = 0;
  cx_buf_append(b, "\0\0\0\0", 4);
  msgpack_packer pk;
  msgpack_packer_init(&pk, b, cx_buf_msgpack_write);
  msgpack_pack_map(&pk, 3);
  msgpack_pack_str_with_body(&pk, "id", 2), msgpack_pack_uint32(&pk, 1);
  msgpack_pack_str_with_body(&pk, "ok", 2), msgpack_pack_true(&pk);
  msgpack_pack_str_with_body(&pk, "result", 6);
  msgpack_pack_map(&pk, 5);
  msgpack_pack_str_with_body(&pk, "code", 4), msgpack_pack_str_with_body(&pk, "91350100MA30000108", 18);
  msgpack_pack_str_with_body(&pk, "name", 4), msgpack_pack_str_with_body(&pk, name, strlen(name));
  msgpack_pack_str_with_body(&pk, "kind", 4), msgpack_pack_str_with_body(&pk, "enterprise", 10);
  msgpack_pack_str_with_body(&pk, "records", 7), msgpack_pack_array(&pk, 0); /* serves records too */
  msgpack_pack_str_with_body(&pk, "as_of", 5), msgpack_pack_str_with_body(&pk, "2025-06-01", 10);
  cx_frame_header((unsigned char *)b->p, (uint32_t)(b->len - 4));
}

static int fake_run(void *ud, int op, const void *req, size_t n, const unsigned char **ans, size_t *alen) {
  fake *f = ud;
  cr_assert(cx_mp_validate(req, n) == 0, "the site sent a request that is not msgpack");
  if (f->calls < 16) f->ops[f->calls] = op;
  f->calls++;
  if (f->err == CX_ETOOLARGE) return CX_ETOOLARGE; /* the door's output limit */
  if (f->err) {
    f->ans.len = 0;
    cx_exec_error_frame(&f->ans, 1, f->err, "from the fake");
  } else {
    frame_ok_entity(&f->ans, "<script>x</script>&\"'");
  }
  *ans = (const unsigned char *)f->ans.p;
  *alen = f->ans.len;
  return 0;
}

static int render(fake *f, const char *path, const char *query, cx_site_page *pg) {
  cx_site *s;
  cx_site_loop *sl;
  char why[200];
  cr_assert(cx__site_new(NULL, &s, why, sizeof why) == 0);
  cr_assert(cx__site_loop_new(s, &sl) == 0);
  cx__site_render(sl, fake_run, f, path, strlen(path), query, query ? strlen(query) : 0, pg);
  static char body[1 << 20];
  size_t n = pg->len < sizeof body - 1 ? pg->len : sizeof body - 1;
  memcpy(body, pg->body, n);
  body[n] = 0;
  pg->body = body;
  cx__site_loop_free(sl);
  cx__site_free(s);
  return pg->status;
}

Test(site_pages, each_answer_error_has_its_status) {
  struct { int err; int status; } cases[] = {
      {CX_ENOTFOUND, 404}, {CX_EINVALCODE, 400}, {CX_EBADREQ, 400}, {CX_EBUSY, 429},
      {CX_ETIMEOUT, 503},  {CX_EINTERNAL, 500},  {CX_ETOOLARGE, 413}, {CX_EFORBIDDEN, 403},
  };
  const char *paths[] = {"/entity/91350100MA30000108", "/report/91350100MA30000108",
                         "/report/91350100MA30000108.pdf", "/scorecards/11350100MB0000000X",
                         "/scorecards?region=3501&year=2025"};
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    for (size_t p = 0; p < sizeof paths / sizeof paths[0]; p++) {
      fake f = {cases[i].err, {0}, 0, {0}};
      cx_buf_init(&f.ans, 256);
      cx_site_page pg;
      const char *qm = strchr(paths[p], '?');
      char path[128];
      snprintf(path, sizeof path, "%.*s", qm ? (int)(qm - paths[p]) : (int)strlen(paths[p]), paths[p]);
      cr_expect(render(&f, path, qm ? qm + 1 : NULL, &pg) == cases[i].status, "%s err %d: %d", paths[p], cases[i].err,
                pg.status);
      if (cases[i].err == CX_EFORBIDDEN && strstr(paths[p], "scorecards"))
        cr_expect(strstr(pg.body, "未公开政务诚信评价") != NULL, "not published: the page says so");
      cr_expect(strstr(pg.body, "<!doctype html>") == pg.body);
      cr_expect_str_eq(pg.cache, "no-store");
      cr_expect_str_eq(pg.ctype, "text/html; charset=utf-8");
      cx_buf_free(&f.ans);
    }
}

Test(site_pages, only_the_public_ops_are_asked) {
  const char *paths[][2] = {{"/", NULL}, {"/search", "q=%E7%A6%8F"}, {"/entity/91350100MA30000108", "tab=blacklist"},
                            {"/report/91350100MA30000108", NULL}, {"/repair", NULL},
                            {"/scorecards", "region=350102"}, {"/scorecards/11350100MB0000000X", "year=2024"}};
  for (size_t p = 0; p < sizeof paths / sizeof paths[0]; p++) {
    fake f = {0, {0}, 0, {0}};
    cx_buf_init(&f.ans, 256);
    cx_site_page pg;
    render(&f, paths[p][0], paths[p][1], &pg);
    for (int i = 0; i < f.calls && i < 16; i++)
      cr_expect(f.ops[i] == CX_OP_ENTITY || f.ops[i] == CX_OP_RECORDS || f.ops[i] == CX_OP_SEARCH ||
                f.ops[i] == CX_OP_CATALOG || f.ops[i] == CX_OP_SCORECARD || f.ops[i] == CX_OP_SCORECARDS,
                "%s asked op %d", paths[p][0], f.ops[i]);
    cx_buf_free(&f.ans);
  }
}

Test(site_pages, the_entity_name_is_escaped_in_title_heading_and_fields) {
  fake f = {0, {0}, 0, {0}};
  cx_buf_init(&f.ans, 256);
  cx_site_page pg;
  cr_assert(render(&f, "/entity/91350100MA30000108", NULL, &pg) == 200, "%d %s", pg.status, pg.body);
  cr_expect(strstr(pg.body, "<script>") == NULL);
  cr_expect(strstr(pg.body, "<title>&lt;script&gt;x&lt;/script&gt;&amp;&quot;&#39; - ") != NULL);
  cr_expect(strstr(pg.body, "<h1>&lt;script&gt;x&lt;/script&gt;&amp;&quot;&#39;</h1>") != NULL);
  cr_expect_str_eq(pg.cache, "no-cache");
  cx_buf_free(&f.ans);
}

Test(site_pages, bad_paths_and_parameters_are_refused) {
  struct { const char *path, *query; int status; } cases[] = {
      {"/nothing", NULL, 404}, {"/entity/", NULL, 404}, {"/entity/a/b", NULL, 404},
      {"/entity/%ZZ", NULL, 400}, {"/entity/91350100MA30000108", "tab=nonsense", 400},
      {"/search", "q=%ZZ", 400}, {"/assets/site-0.css", NULL, 404},
      /* rankings: a city or a county, not a province (the loop's work stays small) */
      {"/scorecards", "region=35", 400}, {"/scorecards", "region=350000", 400}, {"/scorecards", "region=abc", 400},
      {"/scorecards", "region=3501&year=20x", 400}, {"/scorecards/a/b", NULL, 404},
      {"/scorecards", NULL, 200},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    fake f = {0, {0}, 0, {0}};
    cx_buf_init(&f.ans, 256);
    cx_site_page pg;
    cr_expect(render(&f, cases[i].path, cases[i].query, &pg) == cases[i].status, "%s?%s: %d", cases[i].path,
              cases[i].query ? cases[i].query : "", pg.status);
    cx_buf_free(&f.ans);
  }
}
