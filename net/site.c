/*
 * site.c — the public credit website (docs/site.md): server-rendered Chinese HTML pages on
 * chengxind's HTTP listener, a printable credit report and its PDF (pdf.c).
 *
 * One path into the data. Every page is built only from the executor's answers to the msgpack
 * requests the API takes — entity, records, search, catalog — run as the public role through
 * the door's run callback (http.c, cx__http_run on the loop's snapshot). Nothing here reads
 * the store, so what the public may see is decided where it is decided for the API (query/'s
 * visibility), and the trust boundary's tests cover the site too.
 *
 *   GET /                          search box
 *   GET /search?q=&cursor=         results (name, code, kind, region, status badges), paging
 *   GET /entity/{code}?tab=&cursor=  基本信息, current status, one tab per record category
 *   GET /report/{code}             printable credit report (信用报告); .pdf: the same as PDF
 *   GET /repair, GET /objection    how to apply for 信用修复 / raise an 异议 (the --site file)
 *   GET /assets/site-<hash>.css    the stylesheet (compiled in; immutable, cached a year)
 *
 * Every value from an answer goes through cx__site_html_escape (element content and quoted
 * attributes), URLs through url_part (percent-encoding). Errors are Chinese pages with the
 * status of the answer's error code (cx_exec_http_status): an unknown entity and one the
 * public may not see are the same 404, an invalid code 400, busy 429.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>

#include "net_int.h"

extern const char cx_data_site[];
extern const size_t cx_data_site_len;

#define SEARCH_LIMIT 20      /* results per search page */
#define RECORDS_LIMIT 10     /* records per tab page */
#define REPORT_MAX 300       /* records listed in one report (the newest of each category) */
#define REPORT_PAGE 100      /* records per request while building a report */
#define QUERY_MAX 200        /* bytes of a search box value */
#define CURSOR_MAX 512
#define MAX_LISTS 128        /* catalogue list types whose names are kept for a page */

struct cx_site {
  cx_site_config cfg;
  char css_path[64]; /* "/assets/site-<16 hex>.css" */
  unsigned char key[32]; /* this process's key of person links (person_token) */
};

typedef struct list_name {
  char code[48];
  char name[128];
} list_name;

struct cx_site_loop {
  const cx_site *s;
  char tok[2 + 2 * (8 + CX_CODE_LEN) + 1]; /* the last person link made (person_token) */
  cx_buf body, req, copy, doc;
  list_name lists[MAX_LISTS];
  uint32_t nlists;
  uint64_t hash; /* report number: FNV-1a over the answers the report is made of */
  int hashing;   /* 1 while a report is built: only then are the answers hashed */
};

/* ===================================================================== labels */

static const char *const cat_labels[][2] = {
    {"license", "行政许可"},     {"penalty", "行政处罚"},       {"gov_dishonesty", "政务失信"},
    {"blacklist", "严重失信主体名单"}, {"redlist", "守信激励"},  {"commitment", "信用承诺"},
    {"lawsuit", "行政诉讼"},     {"complaint", "投诉举报"},     {"evaluation", "信用评价"},
    {"abnormal", "经营异常名录"}, {"compulsion", "行政强制"},   {"confirmation", "行政确认"},
    {"inspection", "行政检查"}};

static const char *lookup(const char *const (*t)[2], size_t n, const char *p, size_t len) {
  for (size_t i = 0; i < n; i++)
    if (strlen(t[i][0]) == len && memcmp(t[i][0], p, len) == 0) return t[i][1];
  return NULL;
}
#define LOOKUP(t, s) lookup(t, sizeof t / sizeof t[0], (s).p, (s).n)

const char *cx__site_category_label(const char *name) { return lookup(cat_labels, sizeof cat_labels / sizeof cat_labels[0], name, strlen(name)); }

static const char *const kind_labels[][2] = {
    {"enterprise", "企业"},       {"government", "机关"},           {"subdistrict", "街道（乡镇）"},
    {"institution", "事业单位"},  {"social_org", "社会组织"},       {"individual_business", "个体工商户"},
    {"civil_servant", "公务员"},  {"person", "自然人"}};
static const char *const sub_labels[][2] = {
    {"judgment", "法院判决"},     {"admin_penalty", "行政处罚"},     {"disciplinary", "纪律处分"},
    {"accountability", "问责处理"}, {"kept", "已践诺"},              {"broken", "未践诺"},
    {"won", "行政机关胜诉"},      {"lost", "行政机关败诉"},          {"coercive_measure", "行政强制措施"},
    {"enforcement", "行政强制执行"}, {"compliant", "未发现违法违规"}, {"violation", "发现违法违规"}};
static const char *const sev_labels[][2] = {{"minor", "轻微"}, {"general", "一般"}, {"serious", "严重"}};
static const char *const dom_labels[][2] = {
    {"procurement", "政府采购"}, {"ppp", "政府和社会资本合作"}, {"bidding", "招标投标"},
    {"investment", "招商引资"},  {"debt", "政府债务"},         {"subdistrict", "街道（乡镇）"}};

/* The status flags of `entity` and `search`: label, badge class, what it means. */
typedef struct flag_row {
  const char *flag, *label, *cls, *what;
} flag_row;
static const flag_row flag_info[] = {
    {"blacklisted", "严重失信主体名单", "b-black", "该主体被列入严重失信主体名单，名单信息在公示期内。"},
    {"under_measures", "失信惩戒措施", "b-measure", "该主体有在公示期内、依法实施失信惩戒措施的记录。"},
    {"redlisted", "守信激励（红名单）", "b-red", "该主体被列入守信激励对象名单（红名单）。"},
    {"objection", "异议处理中", "b-objection", "该主体有记录正在异议处理中。"}};

/* 登记管理部门 (USCC position 1) and 机构类别 (position 2), GB 32100-2015 appendix A. */
static const char *const reg_dept[][2] = {
    {"1", "机构编制"}, {"2", "外交"}, {"3", "司法行政"}, {"4", "文化"}, {"5", "民政"}, {"6", "旅游"},
    {"7", "宗教"},     {"8", "工会"}, {"9", "市场监督管理（工商）"}, {"A", "中央军委改革和编制办公室"},
    {"N", "农业"},     {"Y", "其他"}};
static const char *const reg_type[][2] = {
    {"11", "机关"},     {"12", "事业单位"},   {"13", "中央编办直接管理机构编制的群众团体"}, {"19", "其他"},
    {"51", "社会团体"}, {"52", "民办非企业单位"}, {"53", "基金会"}, {"59", "其他"},
    {"91", "企业"},     {"92", "个体工商户"}, {"93", "农民专业合作社"}};

/* ===================================================================== output helpers */

static void lit(cx_buf *o, const char *s) { cx_buf_append(o, s, strlen(s)); }

/* v in decimal. */
static void num(cx_buf *o, uint64_t v) {
  char b[20];
  size_t i = sizeof b;
  do b[--i] = (char)('0' + v % 10); while ((v /= 10) && i);
  cx_buf_append(o, b + i, sizeof b - i);
}

static void fmt(cx_buf *o, const char *f, ...) __attribute__((format(printf, 2, 3)));
static void fmt(cx_buf *o, const char *f, ...) {
  char b[256];
  va_list ap;
  va_start(ap, f);
  int n = vsnprintf(b, sizeof b, f, ap);
  va_end(ap);
  if (n > 0) cx_buf_append(o, b, (size_t)n < sizeof b ? (size_t)n : sizeof b - 1);
}

/* The length of the UTF-8 sequence at p[0..n) when it is valid (shortest form, no surrogates,
 * at most U+10FFFF), else 0. */
static size_t utf8_len(const unsigned char *p, size_t n) {
  unsigned c = p[0];
  if (c < 0x80) return 1;
  size_t k = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
  if (!k || c > 0xf4 || k > n) return 0;
  for (size_t i = 1; i < k; i++)
    if ((p[i] & 0xc0) != 0x80) return 0;
  if (c == 0xe0 && p[1] < 0xa0) return 0;  /* overlong */
  if (c == 0xed && p[1] >= 0xa0) return 0; /* surrogates */
  if (c == 0xf0 && p[1] < 0x90) return 0;  /* overlong */
  if (c == 0xf4 && p[1] >= 0x90) return 0; /* past U+10FFFF */
  return k;
}

void cx__site_html_escape(cx_buf *o, const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  size_t run = 0, i = 0;
  while (i < n) {
    unsigned c = p[i];
    const char *rep = NULL;
    size_t k = 1;
    switch (c) {
    case '&': rep = "&amp;"; break;
    case '<': rep = "&lt;"; break;
    case '>': rep = "&gt;"; break;
    case '"': rep = "&quot;"; break;
    case '\'': rep = "&#39;"; break;
    default:
      if (c >= 0x80) {
        k = utf8_len(p + i, n - i);
        if (!k) rep = "\xef\xbf\xbd", k = 1;
        else if (c == 0xc2 && p[i + 1] < 0xa0) rep = "\xef\xbf\xbd"; /* C1 controls */
      } else if ((c < 0x20 && c != '\t' && c != '\n') || c == 0x7f) {
        rep = "\xef\xbf\xbd";
      }
    }
    if (rep) {
      cx_buf_append(o, s + run, i - run);
      lit(o, rep);
      run = i + k;
    }
    i += k;
  }
  cx_buf_append(o, s + run, n - run);
}

static void esc(cx_buf *o, cx_str s) { cx__site_html_escape(o, s.p, s.n); }
static void escz(cx_buf *o, const char *s) { cx__site_html_escape(o, s, strlen(s)); }

/* Percent-encodes everything but the unreserved characters: safe in a path segment, a query
 * value and (needing no further escaping) a quoted attribute. */
static void url_part(cx_buf *o, const char *p, size_t n) {
  static const char hex[] = "0123456789ABCDEF";
  char t[192]; /* written out in pieces (an append per byte was 6 % of a search page) */
  size_t k = 0;
  for (size_t i = 0; i < n; i++) {
    unsigned char c = (unsigned char)p[i];
    if (k + 3 > sizeof t) {
      cx_buf_append(o, t, k);
      k = 0;
    }
    if ((c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-' || c == '_' ||
        c == '.' || c == '~') {
      t[k++] = (char)c;
    } else {
      t[k++] = '%';
      t[k++] = hex[c >> 4];
      t[k++] = hex[c & 15];
    }
  }
  if (k) cx_buf_append(o, t, k);
}

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
  const unsigned char *b = p;
  for (size_t i = 0; i < n; i++) h = (h ^ b[i]) * 0x100000001b3ull;
  return h;
}
#define FNV_INIT 0xcbf29ce484222325ull

/* ===================================================================== answers */

/* A map's member key (m at the map), 1 and *out at its value; nil counts as absent. */
static int mp_get(cx_mp m, const char *key, cx_mp *out) {
  uint32_t n;
  if (cx_mp_read_map(&m, &n)) return 0;
  size_t kl = strlen(key);
  for (uint32_t i = 0; i < n; i++) {
    cx_str k;
    if (cx_mp_read_str(&m, &k)) return 0;
    if (k.n == kl && memcmp(k.p, key, kl) == 0) {
      if (cx_mp_peek(&m) == CX_MP_NIL) return 0;
      *out = m;
      return 1;
    }
    if (cx_mp_skip(&m)) return 0;
  }
  return 0;
}

static cx_str mp_s(cx_mp m, const char *key) {
  cx_mp v;
  cx_str s = {"", 0};
  if (mp_get(m, key, &v) && cx_mp_read_str(&v, &s)) s = (cx_str){"", 0};
  return s;
}

static int mp_b(cx_mp m, const char *key) {
  cx_mp v;
  int b = 0;
  if (mp_get(m, key, &v) && cx_mp_read_bool(&v, &b)) b = 0;
  return b;
}

static uint64_t mp_u(cx_mp m, const char *key) {
  cx_mp v;
  uint64_t u = 0;
  if (mp_get(m, key, &v) && cx_mp_read_uint(&v, &u)) u = 0;
  return u;
}

/* A map read once for many lookups (a record of ~28 keys is asked ~15 fields: mp_get would
 * skip over the values before each one, the largest part of an entity page's CPU). */
#define IX_MAX 48
typedef struct mp_index {
  uint32_t n;
  uint32_t next; /* where the next lookup starts: one after the last found (fields are mostly
                  * asked in the order the answer has them, so most lookups compare one key) */
  cx_str k[IX_MAX];
  cx_mp v[IX_MAX];
} mp_index;

/* Indexes the map at *m and moves *m past it (the walk that indexes it reaches its end: no
 * second skip of the whole map). -1 when the map is malformed (*m is then not past it). */
static int ix_build_at(cx_mp *m, mp_index *ix) {
  uint32_t n;
  ix->n = ix->next = 0;
  if (cx_mp_read_map(m, &n)) return -1;
  for (uint32_t i = 0; i < n; i++) {
    cx_str k;
    if (cx_mp_read_str(m, &k)) return -1;
    if (ix->n < IX_MAX) {
      ix->k[ix->n] = k;
      ix->v[ix->n] = *m;
      ix->n++;
    }
    if (cx_mp_skip(m)) return -1;
  }
  return 0;
}

static void ix_build(cx_mp m, mp_index *ix) { (void)ix_build_at(&m, ix); }

/* Not const: a lookup moves the index's hint (ix->next), never its content. */
static int ix_get(mp_index *ix, const char *key, cx_mp *out) {
  size_t kl = strlen(key);
  for (uint32_t j = 0, i = ix->next; j < ix->n; j++, i = i + 1 == ix->n ? 0 : i + 1)
    if (ix->k[i].n == kl && memcmp(ix->k[i].p, key, kl) == 0) {
      ix->next = i + 1 == ix->n ? 0 : i + 1;
      if (cx_mp_peek(&ix->v[i]) == CX_MP_NIL) return 0;
      *out = ix->v[i];
      return 1;
    }
  return 0;
}

static cx_str ix_s(mp_index *ix, const char *key) {
  cx_mp v;
  cx_str s = {"", 0};
  if (ix_get(ix, key, &v) && cx_mp_read_str(&v, &s)) s = (cx_str){"", 0};
  return s;
}

static int ix_b(mp_index *ix, const char *key) {
  cx_mp v;
  int b = 0;
  if (ix_get(ix, key, &v) && cx_mp_read_bool(&v, &b)) b = 0;
  return b;
}

static uint64_t ix_u(mp_index *ix, const char *key) {
  cx_mp v;
  uint64_t u = 0;
  if (ix_get(ix, key, &v) && cx_mp_read_uint(&v, &u)) u = 0;
  return u;
}

/* An answer frame: 0 and *res at the result; else the error code (CX_E*) and msg. */
static int answer(const unsigned char *p, size_t n, cx_mp *res, cx_str *msg) {
  const unsigned char *pl;
  size_t plen, need;
  *msg = (cx_str){"", 0};
  if (cx_frame_parse(p, n, (size_t)-1 >> 1, &pl, &plen, &need) <= 0) return CX_EINTERNAL;
  cx_mp top = cx_mp_make(pl, plen), v;
  if (mp_b(top, "ok")) {
    if (!mp_get(top, "result", res)) return CX_EINTERNAL;
    return 0;
  }
  if (!mp_get(top, "error", &v)) return CX_EINTERNAL;
  *msg = mp_s(v, "message");
  cx_str code = mp_s(v, "code");
  for (int c = -1; c >= CX_ERR_MIN; c--)
    if (cx_str_eq(code, cx_str_c(cx_err_name(c)))) return c;
  return CX_EINTERNAL;
}

/* ===================================================================== requests */

typedef struct page_ctx {
  cx_site_loop *sl;
  cx_site_run_fn run;
  void *ud;
  cx_site_page *out;
  cx_str errmsg;
  char link[2 + 2 * (8 + CX_CODE_LEN) + 1]; /* the entity's code for links (link_code) */
} page_ctx;

static void pk_kv(msgpack_packer *pk, const char *k, const char *v, size_t n) {
  /* "#name": the value is decimal digits sent as an unsigned integer (region, year) */
  int num = k[0] == '#';
  if (num) k++;
  msgpack_pack_str_with_body(pk, k, strlen(k));
  if (!num) {
    msgpack_pack_str_with_body(pk, v, n);
    return;
  }
  uint64_t u = 0;
  for (size_t i = 0; i < n && i < 12; i++) u = u * 10 + (uint64_t)(v[i] - '0');
  msgpack_pack_uint64(pk, u);
}

/* Fields: NULL-terminated (name, value, len) triples in va; a uint "limit" when limit > 0. */
static int call(page_ctx *c, int op, uint32_t limit, cx_mp *res, ...) {
  cx_buf *in = &c->sl->req;
  in->len = 0;
  cx_buf_clear_failure(in);
  msgpack_packer pk;
  msgpack_packer_init(&pk, in, cx_buf_msgpack_write);
  const char *names[8], *vals[8];
  size_t lens[8], nf = 0;
  va_list ap;
  va_start(ap, res);
  for (const char *k; nf < 8 && (k = va_arg(ap, const char *));) {
    names[nf] = k;
    vals[nf] = va_arg(ap, const char *);
    lens[nf] = va_arg(ap, size_t);
    if (vals[nf]) nf++;
  }
  va_end(ap);
  msgpack_pack_map(&pk, 2 + nf + (limit > 0));
  msgpack_pack_str_with_body(&pk, "id", 2);
  msgpack_pack_uint32(&pk, 1);
  pk_kv(&pk, "op", cx_op_names[op], strlen(cx_op_names[op]));
  for (size_t i = 0; i < nf; i++) pk_kv(&pk, names[i], vals[i], lens[i]);
  if (limit) {
    msgpack_pack_str_with_body(&pk, "limit", 5);
    msgpack_pack_uint32(&pk, limit);
  }
  if (in->failed) return CX_ENOMEM;
  const unsigned char *ans;
  size_t alen;
  int rc = c->run(c->ud, op, in->p, in->len, &ans, &alen);
  if (rc) return rc;
  rc = answer(ans, alen, res, &c->errmsg);
  if (!rc && c->sl->hashing) c->sl->hash = fnv(c->sl->hash, ans, alen);
  return rc;
}

/* ===================================================================== page frame */

static void head(page_ctx *c, const char *title) {
  cx_buf *o = &c->sl->body;
  const cx_site_config *cfg = &c->sl->s->cfg;
  lit(o, "<!doctype html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
         "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\"><title>");
  escz(o, title);
  lit(o, " - ");
  escz(o, cfg->site_name);
  lit(o, "</title><link rel=\"icon\" href=\"data:,\"><link rel=\"stylesheet\" href=\"");
  lit(o, c->sl->s->css_path);
  lit(o, "\"></head><body><header class=\"top\"><a class=\"brand\" href=\"/\">");
  escz(o, cfg->site_name);
  lit(o, "</a><nav aria-label=\"主导航\"><a href=\"/\">信用查询</a><a href=\"/repair\">信用修复</a>"
         "<a href=\"/objection\">异议申诉</a></nav></header><main>");
}

static void foot(page_ctx *c) {
  cx_buf *o = &c->sl->body;
  const cx_site_config *cfg = &c->sl->s->cfg;
  lit(o, "</main><footer><p>主办：");
  escz(o, cfg->operator_name);
  if (cfg->phone[0]) lit(o, " · 电话："), escz(o, cfg->phone);
  if (cfg->email[0]) lit(o, " · 邮箱："), escz(o, cfg->email);
  lit(o, "</p><p>本站公示的信用信息来自各部门依法归集的公共信用信息，仅展示依法可以公开且在公示期内的记录。</p>"
         "</footer></body></html>\n");
}

static void search_form(cx_buf *o, cx_str q) {
  lit(o, "<form class=\"search card\" action=\"/search\" method=\"get\" role=\"search\">"
         "<label for=\"q\">主体名称或统一社会信用代码</label><div class=\"row\">"
         "<input id=\"q\" name=\"q\" type=\"search\" maxlength=\"100\" required "
         "placeholder=\"如：福州闽江建设 或 91350100…\" value=\"");
  esc(o, q);
  lit(o, "\"><button type=\"submit\">查询</button></div><p class=\"hint\">输入名称的任一部分（两个字以上）或完整名称，"
         "或18位统一社会信用代码。</p></form>");
}

static void error_page(page_ctx *c, int err, const char *what) {
  cx_buf *o = &c->sl->body;
  o->len = 0;
  cx_buf_clear_failure(o);
  int st = err == CX_ETOOLARGE ? 413 : cx_exec_http_status(err);
  if (!st) st = 500;
  const char *title = st == 404 ? "未找到" : st == 400 ? "请求有误" : st == 429 || st == 503 ? "系统繁忙" : "出错了";
  if (!what)
    what = st == 404   ? "未找到该主体的公示信息。请核对统一社会信用代码，或通过名称查询。"
           : st == 400 ? "请求的参数无效，请检查输入的统一社会信用代码或查询条件。"
           : st == 429 || st == 503 ? "当前访问人数较多，请稍后再试。"
           : st == 413 ? "请求的信息过多，请缩小查询范围。"
                       : "服务器内部错误，请稍后再试。";
  head(c, title);
  lit(o, "<section class=\"card err\"><h1>");
  escz(o, title);
  lit(o, "</h1><p>");
  escz(o, what);
  fmt(o, "</p><p class=\"hint\">状态码 %d</p><p><a href=\"/\">返回首页查询</a></p></section>", st);
  foot(c);
  c->out->status = st;
  c->out->cache = "no-store";
}

/* ===================================================================== query strings */

/* The value of query parameter name (decoded into buf); 1 when present and non-empty, 0 when
 * absent, -1 when malformed or too long. */
static int qparam(const char *q, size_t qn, const char *name, char *buf, size_t cap, cx_str *out) {
  size_t nl = strlen(name);
  for (const char *p = q, *e = q + qn; q && p < e;) {
    const char *amp = memchr(p, '&', (size_t)(e - p));
    if (!amp) amp = e;
    const char *eq = memchr(p, '=', (size_t)(amp - p));
    const char *ke = eq ? eq : amp;
    if ((size_t)(ke - p) == nl && memcmp(p, name, nl) == 0) {
      size_t len;
      const char *v = eq ? eq + 1 : amp;
      if (cx__http_pct_decode(v, (size_t)(amp - v), 1, buf, cap, &len)) return -1;
      while (len && (buf[len - 1] == ' ' || buf[len - 1] == '\t')) len--;
      size_t st = 0;
      while (st < len && (buf[st] == ' ' || buf[st] == '\t')) st++;
      *out = (cx_str){buf + st, (uint32_t)(len - st)};
      return out->n > 0;
    }
    p = amp + 1;
  }
  *out = (cx_str){"", 0};
  return 0;
}

/* ===================================================================== pieces */

#define FLAGS_MAX (sizeof flag_info / sizeof flag_info[0])
#define NO_FLAGS_TEXT "在公示的信息中，该主体未被列入严重失信主体名单，无失信惩戒措施、守信激励或异议处理中的记录。"

/* The rows of flag_info the entity's "flags" array names, in its order (names it does not know
 * are passed over, a name is taken once); returns how many. */
static size_t entity_flags(mp_index *ent, const flag_row *out[FLAGS_MAX]) {
  cx_mp fl;
  uint32_t n = 0;
  size_t got = 0;
  if (!ix_get(ent, "flags", &fl) || cx_mp_read_array(&fl, &n)) return 0;
  for (uint32_t i = 0; i < n && got < FLAGS_MAX; i++) {
    cx_str f;
    if (cx_mp_read_str(&fl, &f)) break;
    for (size_t k = 0; k < FLAGS_MAX; k++) {
      if (!cx_str_eq(f, cx_str_c(flag_info[k].flag))) continue;
      int dup = 0;
      for (size_t j = 0; j < got; j++) dup |= out[j] == &flag_info[k];
      if (!dup) out[got++] = &flag_info[k];
    }
  }
  return got;
}

static void badges(cx_buf *o, mp_index *ent, int empty_badge) {
  const flag_row *rows[FLAGS_MAX];
  size_t n = entity_flags(ent, rows);
  for (size_t i = 0; i < n; i++) fmt(o, "<span class=\"badge %s\">%s</span>", rows[i]->cls, rows[i]->label);
  if (!n && empty_badge) lit(o, "<span class=\"badge b-none\">未见失信标记</span>");
}

static void region_text(cx_buf *o, mp_index *m) {
  cx_str p = ix_s(m, "province"), ci = ix_s(m, "city"), co = ix_s(m, "county");
  esc(o, p);
  if (!cx_str_eq(ci, p)) esc(o, ci);
  if (!cx_str_eq(co, ci)) esc(o, co);
}

static int has_region(mp_index *m) { return ix_s(m, "province").n || ix_s(m, "city").n || ix_s(m, "county").n; }

static void kind_text(cx_buf *o, cx_str kind) {
  const char *l = LOOKUP(kind_labels, kind);
  if (l) lit(o, l);
  else esc(o, kind);
}

/* A record's fields, as (label, value) pairs. */
typedef void (*field_fn)(void *ud, const char *label, const char *v, size_t n);

static void load_lists(page_ctx *c) {
  cx_site_loop *sl = c->sl;
  sl->nlists = 0;
  cx_mp res, ls;
  uint32_t n;
  uint64_t h = sl->hash; /* the catalogue is not part of the report number */
  if (call(c, CX_OP_CATALOG, 0, &res, NULL) || !mp_get(res, "lists", &ls) || cx_mp_read_array(&ls, &n)) {
    sl->hash = h;
    return;
  }
  sl->hash = h;
  for (uint32_t i = 0; i < n && sl->nlists < MAX_LISTS; i++) {
    cx_str code = mp_s(ls, "code"), name = mp_s(ls, "name");
    if (cx_mp_skip(&ls)) break;
    list_name *e = &sl->lists[sl->nlists];
    if (code.n >= sizeof e->code || name.n >= sizeof e->name) continue;
    memcpy(e->code, code.p, code.n), e->code[code.n] = 0;
    memcpy(e->name, name.p, name.n), e->name[name.n] = 0;
    sl->nlists++;
  }
}

static void date_range(char *b, size_t cap, cx_str from, cx_str until) {
  snprintf(b, cap, "%.*s 至 %.*s", (int)from.n, from.p, until.n ? (int)until.n : 6, until.n ? until.p : "长期");
}

static void record_fields(cx_site_loop *sl, mp_index *r, field_fn f, void *ud) {
  char b[160];
  cx_str s;
  const char *l;
  s = ix_s(r, "authority_name");
  if (!s.n) s = ix_s(r, "authority_code");
  f(ud, "机关", s.p, s.n);
  s = ix_s(r, "decision_date");
  f(ud, "决定日期", s.p, s.n);
  s = ix_s(r, "category");
  if ((l = LOOKUP(cat_labels, s))) f(ud, "类别", l, strlen(l));
  s = ix_s(r, "subtype");
  if (s.n && (l = LOOKUP(sub_labels, s))) f(ud, "类型", l, strlen(l));
  s = ix_s(r, "list_type");
  if (s.n) {
    const char *nm = NULL;
    for (uint32_t i = 0; i < sl->nlists; i++)
      if (cx_str_eq(s, cx_str_c(sl->lists[i].code))) nm = sl->lists[i].name;
    if (nm) f(ud, "名单类型", nm, strlen(nm));
    else f(ud, "名单类型", s.p, s.n);
  }
  s = ix_s(r, "basis");
  if (s.n) f(ud, "依据", s.p, s.n);
  s = ix_s(r, "content");
  if (s.n) f(ud, "内容", s.p, s.n);
  uint64_t fen = ix_u(r, "amount_fen");
  if (fen) {
    snprintf(b, sizeof b, "%" PRIu64 ".%02u 元", fen / 100, (unsigned)(fen % 100));
    f(ud, "金额", b, strlen(b));
  }
  s = ix_s(r, "severity");
  /* 失信信息 by the catalogue's rule, as the answer says: the site keeps no list of its own */
  int negative = ix_b(r, "negative");
  if (negative && s.n && (l = LOOKUP(sev_labels, s))) f(ud, "失信程度", l, strlen(l));
  s = ix_s(r, "domain");
  if (s.n && (l = LOOKUP(dom_labels, s))) f(ud, "领域", l, strlen(l));
  date_range(b, sizeof b, ix_s(r, "valid_from"), ix_s(r, "valid_until"));
  f(ud, "有效期", b, strlen(b));
  s = ix_s(r, "display_until");
  if (s.n) f(ud, "公示截止", s.p, s.n);
  if (ix_b(r, "objection")) f(ud, "状态", "异议处理中", strlen("异议处理中"));
}

static void html_field(void *ud, const char *label, const char *v, size_t n) {
  cx_buf *o = ud;
  lit(o, "<dt>");
  lit(o, label); /* our own constant labels */
  lit(o, "</dt><dd>");
  cx__site_html_escape(o, v, n);
  lit(o, "</dd>");
}

/* ===================================================================== pages */

static void page_home(page_ctx *c) {
  cx_buf *o = &c->sl->body;
  head(c, "信用信息查询");
  lit(o, "<h1>信用信息查询</h1>");
  search_form(o, (cx_str){"", 0});
  lit(o, "<section class=\"card prose\"><h2>可查询的信息</h2><p>企业、机关、事业单位、社会组织等主体的"
         "行政许可、行政处罚、严重失信主体名单、守信激励、信用承诺等公共信用信息，以及可打印的信用报告。</p>"
         "<p>对公示信息有异议，或希望申请信用修复，请见<a href=\"/objection\">异议申诉</a>与"
         "<a href=\"/repair\">信用修复</a>。</p><p>各级机关的<a href=\"/scorecards\">政务诚信评价</a>"
         "（本平台公开评价结果时）。</p></section>");
  foot(c);
  c->out->cache = "public, max-age=300";
}

static void page_search(page_ctx *c, const char *q, size_t qn) {
  cx_buf *o = &c->sl->body;
  char qb[QUERY_MAX + 1], cb[CURSOR_MAX + 1];
  cx_str kw, cur;
  int hq = qparam(q, qn, "q", qb, sizeof qb, &kw), hc = qparam(q, qn, "cursor", cb, sizeof cb, &cur);
  if (hq < 0 || hc < 0) return error_page(c, CX_EBADREQ, "查询词过长或编码有误。");
  if (!hq) {
    head(c, "信用信息查询");
    lit(o, "<h1>信用信息查询</h1>");
    search_form(o, kw);
    lit(o, "<p class=\"empty\">请输入主体名称或统一社会信用代码。</p>");
    foot(c);
    return;
  }
  cx_mp res, list;
  int rc = call(c, CX_OP_SEARCH, SEARCH_LIMIT, &res, "prefix", kw.p, (size_t)kw.n, "cursor",
                hc ? cur.p : NULL, (size_t)cur.n, NULL);
  if (rc == CX_EBADREQ) return error_page(c, rc, "查询词无效：请输入名称（至少一个汉字或字母）或统一社会信用代码。");
  if (rc) return error_page(c, rc, NULL);
  /* The answer is read in one pass: its keys indexed (the results array skipped once, here),
   * then each result indexed where it stands, its walk ending where the next begins. */
  mp_index ixres;
  uint32_t n = 0;
  cx_mp rm = res;
  if (ix_build_at(&rm, &ixres) || !ix_get(&ixres, "results", &list) ||
      cx_mp_read_array(&list, &n))
    return error_page(c, CX_EINTERNAL, NULL);
  head(c, "查询结果");
  lit(o, "<h1>查询结果</h1>");
  search_form(o, kw);
  if (!n) {
    lit(o, "<p class=\"empty\">未找到与“");
    esc(o, kw);
    lit(o, "”相符的主体。请检查名称或代码，或尝试输入名称中的几个字。</p>");
  } else {
    lit(o, "<ul class=\"results\">");
    for (uint32_t i = 0; i < n; i++) {
      mp_index ixi, *it = &ixi;
      if (ix_build_at(&list, it)) break;
      cx_str code = ix_s(it, "code"), name = ix_s(it, "name");
      lit(o, "<li><a class=\"name\" href=\"/entity/");
      url_part(o, code.p, code.n);
      lit(o, "\">");
      esc(o, name);
      lit(o, "</a><p class=\"meta\"><span>统一社会信用代码：");
      esc(o, code);
      lit(o, "</span><span>类型：");
      kind_text(o, ix_s(it, "kind"));
      lit(o, "</span>");
      if (has_region(it)) {
        lit(o, "<span>地区：");
        region_text(o, it);
        lit(o, "</span>");
      }
      lit(o, "</p>");
      cx_mp fl;
      if (ix_get(it, "flags", &fl)) { /* the extended answer: status badges */
        lit(o, "<p>");
        badges(o, it, 1);
        lit(o, "</p>");
      }
      lit(o, "</li>");
    }
    lit(o, "</ul>");
  }
  cx_str next = ix_s(&ixres, "next");
  lit(o, "<nav class=\"pager\" aria-label=\"分页\">");
  if (hc) {
    lit(o, "<a class=\"button alt\" href=\"/search?q=");
    url_part(o, kw.p, kw.n);
    lit(o, "\">第一页</a>");
  }
  if (next.n) {
    lit(o, "<a class=\"button\" rel=\"next\" href=\"/search?q=");
    url_part(o, kw.p, kw.n);
    lit(o, "&amp;cursor=");
    url_part(o, next.p, next.n);
    lit(o, "\">下一页</a>");
  }
  lit(o, "</nav>");
  foot(c);
}

/* The entity part shared by the entity page and the report: fields of 基本信息. */
static void entity_fields(mp_index *ent, field_fn f, void *ud) {
  cx_str code = ix_s(ent, "code"), kind = ix_s(ent, "kind"), s;
  const char *l;
  f(ud, "主体名称", ix_s(ent, "name").p, ix_s(ent, "name").n);
  int org = !cx_str_eq(kind, CX_STR("person")) && !cx_str_eq(kind, CX_STR("civil_servant"));
  f(ud, org ? "统一社会信用代码" : "证件号码", code.p, code.n);
  l = LOOKUP(kind_labels, kind);
  if (l) f(ud, "主体类型", l, strlen(l));
  else f(ud, "主体类型", kind.p, kind.n);
  char reg[256];
  if (has_region(ent)) {
    cx_str p = ix_s(ent, "province"), ci = ix_s(ent, "city"), co = ix_s(ent, "county");
    int n = snprintf(reg, sizeof reg, "%.*s%.*s%.*s", (int)p.n, p.p, cx_str_eq(ci, p) ? 0 : (int)ci.n, ci.p,
                     cx_str_eq(co, ci) ? 0 : (int)co.n, co.p);
    if (n > 0 && (size_t)n < sizeof reg) f(ud, "所属地区", reg, (size_t)n);
  }
  /* the registration fields a USCC carries (GB 32100-2015): 登记管理部门, 机构类别, 组织机构代码 */
  int uscc = org && code.n == CX_CODE_LEN;
  for (uint32_t i = 0; uscc && i < code.n; i++)
    uscc = isdigit((unsigned char)code.p[i]) || (isupper((unsigned char)code.p[i]) && !strchr("IOZSV", code.p[i]));
  if (uscc) {
    if ((l = lookup(reg_dept, sizeof reg_dept / sizeof reg_dept[0], code.p, 1))) f(ud, "登记管理部门", l, strlen(l));
    if ((l = lookup(reg_type, sizeof reg_type / sizeof reg_type[0], code.p, 2))) f(ud, "机构类别", l, strlen(l));
    char oc[16];
    snprintf(oc, sizeof oc, "%.8s-%c", code.p + 8, code.p[16]);
    f(ud, "组织机构代码", oc, strlen(oc));
  }
  s = ix_s(ent, "authority_name");
  if (s.n) f(ud, "所属机关", s.p, s.n);
  s = ix_s(ent, "last_update");
  if (s.n) f(ud, "最近更新", s.p, s.n);
}

/*
 * Person links. The public sees a listed person's ID number masked, and must not find it in
 * full in a page either (in its links, its cache, a proxy's log): the links of such a page name
 * the person by a token, "~" + 52 hex digits: an 8-byte tag (HMAC-SHA256 of the code under this
 * process's key) and the 18-byte code XORed with a keystream derived from the tag under the
 * same key (deterministic: the same person has the same links). Only this process can read
 * them back; after a restart an old link is a 404, like an unknown code.
 */
static void token_stream(const cx_site *s, const unsigned char tag[8], unsigned char ks[32]) {
  unsigned int n = 32;
  unsigned char in[9];
  memcpy(in, tag, 8);
  in[8] = 'k';
  HMAC(EVP_sha256(), s->key, sizeof s->key, in, sizeof in, ks, &n);
}

static void token_tag(const cx_site *s, const char code[CX_CODE_LEN], unsigned char tag[8]) {
  unsigned char h[32];
  unsigned int n = 32;
  HMAC(EVP_sha256(), s->key, sizeof s->key, (const unsigned char *)code, CX_CODE_LEN, h, &n);
  memcpy(tag, h, 8);
}

static cx_str person_token(cx_site_loop *sl, cx_str code) {
  if (code.n != CX_CODE_LEN) return (cx_str){"", 0};
  unsigned char tag[8], ks[32];
  token_tag(sl->s, code.p, tag);
  token_stream(sl->s, tag, ks);
  static const char hx[] = "0123456789abcdef";
  char *t = sl->tok;
  *t++ = '~';
  for (int i = 0; i < 8 + CX_CODE_LEN; i++) {
    unsigned char b = i < 8 ? tag[i] : (unsigned char)((unsigned char)code.p[i - 8] ^ ks[i - 8]);
    *t++ = hx[b >> 4];
    *t++ = hx[b & 15];
  }
  *t = 0;
  return (cx_str){sl->tok, (uint32_t)(t - sl->tok)};
}

/* A token back to the code; 0 when it is not one of this process's. */
static int person_untoken(const cx_site *s, const char *p, size_t n, char code[CX_CODE_LEN + 1]) {
  if (n != 1 + 2 * (8 + CX_CODE_LEN) || p[0] != '~') return 0;
  unsigned char raw[8 + CX_CODE_LEN];
  for (size_t i = 0; i < sizeof raw; i++) {
    int hi = p[1 + 2 * i], lo = p[2 + 2 * i];
    hi = isdigit(hi) ? hi - '0' : (hi >= 'a' && hi <= 'f') ? hi - 'a' + 10 : -1;
    lo = isdigit(lo) ? lo - '0' : (lo >= 'a' && lo <= 'f') ? lo - 'a' + 10 : -1;
    if (hi < 0 || lo < 0) return 0;
    raw[i] = (unsigned char)(hi << 4 | lo);
  }
  unsigned char ks[32], tag[8];
  token_stream(s, raw, ks);
  for (int i = 0; i < CX_CODE_LEN; i++) code[i] = (char)(raw[8 + i] ^ ks[i]);
  code[CX_CODE_LEN] = 0;
  token_tag(s, code, tag);
  return CRYPTO_memcmp(tag, raw, 8) == 0;
}

/* The code for follow-up requests: the answer's (normalised) code, or the one asked for when
 * the answer masks it (a person's ID number is shown masked to the public). */
static cx_str request_code(cx_str answered, cx_str asked) {
  return memchr(answered.p, '*', answered.n) || !answered.n ? asked : answered;
}

/* The code for links: the request code, but for a person, whose number the answer masks, a
 * token (person_token): the number is in no page. */
static cx_str link_code(cx_site_loop *sl, cx_str answered, cx_str asked) {
  if (memchr(answered.p, '*', answered.n) || !answered.n) return person_token(sl, asked);
  return answered;
}

static int valid_tab(cx_str t) {
  for (int i = 0; i < CX_CAT_COUNT; i++)
    if (cx_str_eq(t, cx_str_c(cx_category_names[i]))) return i;
  return -1;
}

/* vis[c]: the records of category c the role may see (the entity answer's counts), read once. */
static void visible_counts(mp_index *ent, uint64_t vis[CX_CAT_COUNT]) {
  memset(vis, 0, CX_CAT_COUNT * sizeof vis[0]);
  cx_mp counts;
  if (!ix_get(ent, "counts", &counts)) return;
  mp_index ixc;
  ix_build(counts, &ixc);
  for (int i = 0; i < CX_CAT_COUNT; i++) {
    cx_mp v;
    if (ix_get(&ixc, cx_category_names[i], &v)) vis[i] = mp_u(v, "visible");
  }
}

static void status_section(cx_buf *o, mp_index *ent) {
  lit(o, "<section class=\"card\"><h2>当前状态</h2><p>");
  badges(o, ent, 1);
  lit(o, "</p><ul>");
  const flag_row *rows[FLAGS_MAX];
  size_t n = entity_flags(ent, rows);
  for (size_t i = 0; i < n; i++) fmt(o, "<li>%s</li>", rows[i]->what);
  if (!n) lit(o, "<li>" NO_FLAGS_TEXT "</li>");
  lit(o, "</ul><p class=\"hint\">状态仅依据本站依法公示的记录得出。</p></section>");
}

static void page_entity(page_ctx *c, cx_str code, const char *q, size_t qn) {
  cx_site_loop *sl = c->sl;
  cx_buf *o = &sl->body;
  char tb[64], cb[CURSOR_MAX + 1];
  cx_str tab, cur;
  int ht = qparam(q, qn, "tab", tb, sizeof tb, &tab), hc = qparam(q, qn, "cursor", cb, sizeof cb, &cur);
  if (ht < 0 || hc < 0 || (ht && valid_tab(tab) < 0)) return error_page(c, CX_EBADREQ, "记录类别或分页参数无效。");
  cx_mp ent;
  int rc = call(c, CX_OP_ENTITY, 0, &ent, "code", code.p, (size_t)code.n, NULL);
  if (rc) return error_page(c, rc, NULL);
  /* keep the entity answer: the records call reuses the answer buffer */
  sl->copy.len = 0;
  cx_buf_append(&sl->copy, ent.p, (size_t)(ent.end - ent.p));
  if (sl->copy.failed) return error_page(c, CX_ENOMEM, NULL);
  mp_index ixe, *ie = &ixe;
  ix_build(cx_mp_make(sl->copy.p, sl->copy.len), ie);
  uint64_t vis[CX_CAT_COUNT];
  visible_counts(ie, vis);
  cx_str ecode = request_code(ix_s(ie, "code"), code), name = ix_s(ie, "name");
  cx_str lcode = link_code(c->sl, ix_s(ie, "code"), code);
  snprintf(c->link, sizeof c->link, "%.*s", (int)lcode.n, lcode.p);
  int cat = ht ? valid_tab(tab) : -1;
  if (cat < 0) { /* the first category with records, else the first */
    for (int i = 0; i < CX_CAT_COUNT && cat < 0; i++)
      if (vis[i]) cat = i;
    if (cat < 0) cat = 0;
  }
  const char *cname = cx_category_names[cat];
  if (cat == CX_CAT_BLACKLIST || cat == CX_CAT_REDLIST) load_lists(c);
  cx_mp recs;
  rc = call(c, CX_OP_RECORDS, RECORDS_LIMIT, &recs, "code", ecode.p, (size_t)ecode.n, "category", cname,
            strlen(cname), "cursor", hc ? cur.p : NULL, (size_t)cur.n, NULL);
  if (rc) return error_page(c, rc, rc == CX_EBADREQ ? "分页参数无效，请从第一页开始浏览。" : NULL);
  char title[300];
  snprintf(title, sizeof title, "%.*s", (int)(name.n < 280 ? name.n : 280), name.p);
  head(c, title);
  lit(o, "<section class=\"card\"><h1>");
  esc(o, name);
  lit(o, "</h1>");
  cx_mp fl;
  uint32_t nfl = 0;
  if (ix_get(ie, "flags", &fl) && cx_mp_read_array(&fl, &nfl) == 0 && nfl) {
    lit(o, "<p>");
    badges(o, ie, 0);
    lit(o, "</p>");
  }
  lit(o, "<h2>基本信息</h2><dl class=\"kv\">");
  entity_fields(ie, html_field, o);
  lit(o, "</dl><p class=\"pager noprint\"><a class=\"button\" href=\"/report/");
  url_part(o, lcode.p, lcode.n);
  lit(o, "\">查看信用报告</a><a class=\"button alt\" href=\"/report/");
  url_part(o, lcode.p, lcode.n);
  lit(o, ".pdf\">下载PDF报告</a></p></section>");
  status_section(o, ie);
  lit(o, "<h2 id=\"records\">信用记录</h2><nav aria-label=\"记录类别\"><ul class=\"tabs\">");
  for (int i = 0; i < CX_CAT_COUNT; i++) {
    const char *l = cx__site_category_label(cx_category_names[i]);
    lit(o, "<li><a href=\"/entity/");
    url_part(o, lcode.p, lcode.n);
    /* 13 tabs a page: pieces, not a printf each */
    lit(o, "?tab=");
    lit(o, cx_category_names[i]);
    lit(o, i == cat ? "#records\" aria-current=\"page\">" : "#records\">");
    lit(o, l ? l : cx_category_names[i]);
    lit(o, " <span class=\"n\">(");
    num(o, vis[i]);
    lit(o, ")</span></a></li>");
  }
  lit(o, "</ul></nav><section aria-label=\"");
  lit(o, cx__site_category_label(cname));
  lit(o, "\">");
  /* the answer's keys indexed once, each record where it stands (as page_search) */
  cx_mp list, rm = recs;
  mp_index ixrecs;
  uint32_t n = 0;
  if (!ix_build_at(&rm, &ixrecs) && ix_get(&ixrecs, "records", &list) && cx_mp_read_array(&list, &n) == 0) {
    for (uint32_t i = 0; i < n; i++) {
      mp_index ixr;
      if (ix_build_at(&list, &ixr)) break;
      lit(o, "<article class=\"rec\"><h3>决定书文号：");
      esc(o, ix_s(&ixr, "record_id"));
      lit(o, "</h3><dl class=\"kv\">");
      record_fields(sl, &ixr, html_field, o);
      lit(o, "</dl></article>");
    }
  }
  cx_str next = ix_s(&ixrecs, "next");
  if (!n)
    lit(o, next.n ? "<p class=\"empty\">本页没有记录，请翻到下一页。</p>" : "<p class=\"empty\">暂无公示的此类记录。</p>");
  lit(o, "<nav class=\"pager\" aria-label=\"分页\">");
  if (hc) {
    lit(o, "<a class=\"button alt\" href=\"/entity/");
    url_part(o, lcode.p, lcode.n);
    fmt(o, "?tab=%s#records\">第一页</a>", cname);
  }
  if (next.n) {
    lit(o, "<a class=\"button\" rel=\"next\" href=\"/entity/");
    url_part(o, lcode.p, lcode.n);
    fmt(o, "?tab=%s&amp;cursor=", cname);
    url_part(o, next.p, next.n);
    lit(o, "#records\">下一页</a>");
  }
  lit(o, "</nav></section>");
  foot(c);
  c->out->cache = "no-cache";
}

/* ===================================================================== the report */

static void doc_item(cx_buf *d, int kind, const char *label, const char *text, size_t n) {
  size_t ll = label ? strlen(label) : 0;
  unsigned char h[7] = {(unsigned char)kind, (unsigned char)(ll >> 8), (unsigned char)ll, (unsigned char)(n >> 24),
                        (unsigned char)(n >> 16), (unsigned char)(n >> 8), (unsigned char)n};
  cx_buf_append(d, h, 3);
  cx_buf_append(d, label, ll);
  cx_buf_append(d, h + 3, 4);
  cx_buf_append(d, text, n);
}
static void doc_field(void *ud, const char *label, const char *v, size_t n) {
  doc_item(ud, CX_DOC_FIELD, label, v, n);
}
static void doc_z(cx_buf *d, int kind, const char *label, const char *text) {
  doc_item(d, kind, label, text, strlen(text));
}

/* Builds the report (sl->doc) from the answers: 0 or the error code, with *number, *day. */
static int report_build(page_ctx *c, cx_str code, char number[40], char day[16], char name[300]) {
  cx_site_loop *sl = c->sl;
  cx_buf *d = &sl->doc;
  d->len = 0;
  sl->hashing = 1;
  cx_buf_clear_failure(d);
  sl->hash = FNV_INIT;
  cx_mp ent;
  int rc = call(c, CX_OP_ENTITY, 0, &ent, "code", code.p, (size_t)code.n, NULL);
  if (rc) return rc;
  sl->copy.len = 0;
  cx_buf_clear_failure(&sl->copy);
  cx_buf_append(&sl->copy, ent.p, (size_t)(ent.end - ent.p));
  if (sl->copy.failed) return CX_ENOMEM;
  mp_index ixe, *ie = &ixe;
  ix_build(cx_mp_make(sl->copy.p, sl->copy.len), ie);
  uint64_t vis[CX_CAT_COUNT];
  visible_counts(ie, vis);
  cx_str ecode = request_code(ix_s(ie, "code"), code), as_of = ix_s(ie, "as_of"), nm = ix_s(ie, "name");
  cx_str lcode = link_code(c->sl, ix_s(ie, "code"), code);
  snprintf(c->link, sizeof c->link, "%.*s", (int)lcode.n, lcode.p);
  snprintf(day, 16, "%.*s", (int)(as_of.n < 15 ? as_of.n : 15), as_of.p);
  snprintf(name, 300, "%.*s", (int)(nm.n < 280 ? nm.n : 280), nm.p);
  load_lists(c);
  doc_z(d, CX_DOC_TITLE, NULL, "信用报告");
  doc_item(d, CX_DOC_META, "报告对象", nm.p, nm.n);
  doc_item(d, CX_DOC_META, "信息截至", as_of.p, as_of.n);
  size_t num_at = d->len; /* the number is known at the end: patched there */
  doc_z(d, CX_DOC_META, "报告编号", "CX-00000000-0000000000000000");
  doc_z(d, CX_DOC_META, "出具单位", sl->s->cfg.operator_name);
  doc_z(d, CX_DOC_H2, NULL, "一、基本信息");
  doc_z(d, CX_DOC_REC, NULL, "");
  entity_fields(ie, doc_field, d);
  doc_z(d, CX_DOC_H2, NULL, "二、当前状态");
  const flag_row *rows[FLAGS_MAX];
  size_t nrows = entity_flags(ie, rows);
  for (size_t i = 0; i < nrows; i++) doc_z(d, CX_DOC_FIELD, rows[i]->label, rows[i]->what);
  if (!nrows) doc_z(d, CX_DOC_NOTE, NULL, NO_FLAGS_TEXT);
  doc_z(d, CX_DOC_H2, NULL, "三、信用记录");
  uint32_t listed = 0, more = 0, any = 0;
  for (int cat = 0; cat < CX_CAT_COUNT; cat++) {
    if (!vis[cat]) continue;
    any = 1;
    char h[128];
    snprintf(h, sizeof h, "%s（%" PRIu64 "条）", cx__site_category_label(cx_category_names[cat]), vis[cat]);
    doc_z(d, CX_DOC_NOTE, "category", h);
    char cb[CURSOR_MAX + 1];
    cx_str cur = {NULL, 0};
    for (int page = 0; page < 20; page++) {
      cx_mp recs, list;
      rc = call(c, CX_OP_RECORDS, REPORT_PAGE, &recs, "code", ecode.p, (size_t)ecode.n, "category",
                cx_category_names[cat], strlen(cx_category_names[cat]), "cursor", cur.p, (size_t)cur.n, NULL);
      if (rc) return rc;
      uint32_t n = 0;
      cx_mp rm = recs;
      mp_index ixrecs;
      if (!ix_build_at(&rm, &ixrecs) && ix_get(&ixrecs, "records", &list) && cx_mp_read_array(&list, &n) == 0)
        for (uint32_t i = 0; i < n; i++) {
          mp_index ixr;
          if (ix_build_at(&list, &ixr)) break;
          if (listed >= REPORT_MAX) {
            more++;
            continue;
          }
          cx_str rid = ix_s(&ixr, "record_id");
          doc_item(d, CX_DOC_REC, "决定书文号", rid.p, rid.n);
          record_fields(sl, &ixr, doc_field, d);
          listed++;
        }
      cx_str next = ix_s(&ixrecs, "next");
      if (!next.n || next.n > CURSOR_MAX || listed >= REPORT_MAX) {
        if (next.n) more++; /* at least one more */
        break;
      }
      memcpy(cb, next.p, next.n);
      cur = (cx_str){cb, next.n};
    }
  }
  if (!any) doc_z(d, CX_DOC_NOTE, NULL, "暂无公示的信用记录。");
  if (more) {
    char m[200];
    snprintf(m, sizeof m, "记录较多，本报告列出最新的 %u 条；其余记录请在本网站查询。", listed);
    doc_z(d, CX_DOC_NOTE, NULL, m);
  }
  doc_z(d, CX_DOC_H2, NULL, "说明");
  doc_z(d, CX_DOC_NOTE, NULL,
        "本报告依据报告日依法公示的公共信用信息生成，仅包括在公示期内、可以向社会公开的记录；已信用修复、"
        "已撤销或超过公示期限的信息不再列出。对报告内容有异议的，可按本网站“异议申诉”页面的方式提出。"
        "同一主体在同一日、同一数据状态下生成的报告编号相同，可用于核对报告内容。");
  if (d->failed) return CX_ENOMEM;
  /* CX-<day>-<hash of the code, the day and every answer the report is made of> */
  char dd[9] = "00000000";
  for (size_t i = 0, k = 0; i < as_of.n && k < 8; i++)
    if (isdigit((unsigned char)as_of.p[i])) dd[k++] = as_of.p[i];
  uint64_t hsh = fnv(fnv(sl->hash, ecode.p, ecode.n), as_of.p, as_of.n);
  snprintf(number, 40, "CX-%s-%016" PRIX64, dd, hsh);
  /* patch: the item's text is 28 bytes, as is the number */
  size_t ll = strlen("报告编号");
  memcpy(d->p + num_at + 3 + ll + 4, number, 28);
  return 0;
}

static void page_report(page_ctx *c, cx_str code, int pdf) {
  cx_site_loop *sl = c->sl;
  cx_buf *o = &sl->body;
  char number[40], day[16], name[300];
  int rc = report_build(c, code, number, day, name);
  if (rc) return error_page(c, rc, NULL);
  if (pdf) { /* drawn by the door, off the loop (cx_site_page.pdf_doc) */
    o->len = 0;
    snprintf(c->out->pdf_title, sizeof c->out->pdf_title, "信用报告 %s", name);
    snprintf(c->out->pdf_day, sizeof c->out->pdf_day, "%s", day);
    c->out->pdf_doc = sl->doc.p;
    c->out->pdf_len = sl->doc.len;
    c->out->ctype = "application/pdf";
    c->out->cache = "no-cache";
    return;
  }
  char title[340];
  snprintf(title, sizeof title, "信用报告 %s", name);
  head(c, title);
  lit(o, "<article class=\"report\">");
  int open = 0; /* a <dl> is open */
  for (size_t at = 0; at + 3 <= sl->doc.len;) {
    const unsigned char *p = (const unsigned char *)sl->doc.p + at;
    int kind = p[0];
    size_t ll = (size_t)p[1] << 8 | p[2];
    const char *label = (const char *)p + 3;
    const unsigned char *q = p + 3 + ll;
    size_t tl = (size_t)q[0] << 24 | (size_t)q[1] << 16 | (size_t)q[2] << 8 | q[3];
    const char *text = (const char *)q + 4;
    at += 3 + ll + 4 + tl;
    if (open && kind != CX_DOC_FIELD) lit(o, open == 2 ? "</dl></section>" : "</dl>"), open = 0;
    switch (kind) {
    case CX_DOC_TITLE:
      lit(o, "<div class=\"report-head\"><h1>");
      cx__site_html_escape(o, text, tl);
      lit(o, "</h1><p class=\"noprint\"><a class=\"button\" href=\"/report/");
      url_part(o, c->link, strlen(c->link));
      lit(o, ".pdf\">下载PDF</a> <a class=\"button alt\" href=\"/entity/");
      url_part(o, c->link, strlen(c->link));
      lit(o, "\">返回主体页面</a></p></div><p class=\"hint noprint\">使用浏览器的“打印”功能可打印本报告。</p>");
      break;
    case CX_DOC_META:
      lit(o, "<p class=\"meta\"><span>");
      cx__site_html_escape(o, label, ll);
      lit(o, "：</span><span>");
      cx__site_html_escape(o, text, tl);
      lit(o, "</span></p>");
      break;
    case CX_DOC_H2:
      lit(o, "<h2>");
      cx__site_html_escape(o, text, tl);
      lit(o, "</h2>");
      break;
    case CX_DOC_REC:
      lit(o, "<section class=\"rec\">");
      if (tl) {
        lit(o, "<h3>");
        cx__site_html_escape(o, label, ll);
        lit(o, "：");
        cx__site_html_escape(o, text, tl);
        lit(o, "</h3>");
      }
      lit(o, "<dl class=\"kv\">");
      open = 2;
      break;
    case CX_DOC_FIELD:
      if (!open) lit(o, "<dl class=\"kv\">"), open = 1;
      lit(o, "<dt>");
      cx__site_html_escape(o, label, ll);
      lit(o, "</dt><dd>");
      cx__site_html_escape(o, text, tl);
      lit(o, "</dd>");
      break;
    default:
      lit(o, ll ? "<h3>" : "<p>");
      cx__site_html_escape(o, text, tl);
      lit(o, ll ? "</h3>" : "</p>");
    }
  }
  if (open) lit(o, open == 2 ? "</dl></section>" : "</dl>");
  lit(o, "</article>");
  foot(c);
  c->out->cache = "no-cache";
}

/* ===================================================================== static pages */

static void paragraphs(cx_buf *o, const char *t) {
  for (const char *p = t; *p;) {
    const char *e = strchr(p, '\n');
    size_t n = e ? (size_t)(e - p) : strlen(p);
    if (n) {
      lit(o, "<p>");
      cx__site_html_escape(o, p, n);
      lit(o, "</p>");
    }
    p += n + (e != NULL);
  }
}

static void contacts(page_ctx *c) {
  cx_buf *o = &c->sl->body;
  const cx_site_config *cfg = &c->sl->s->cfg;
  lit(o, "<section class=\"card\"><h2>联系方式</h2><dl class=\"kv contact\">");
  const struct { const char *l, *v; } rows[] = {{"受理单位", cfg->operator_name}, {"电话", cfg->phone},
                                                 {"电子邮箱", cfg->email},         {"地址", cfg->address},
                                                 {"办理时间", cfg->hours}};
  for (size_t i = 0; i < sizeof rows / sizeof rows[0]; i++)
    if (rows[i].v[0]) html_field(o, rows[i].l, rows[i].v, strlen(rows[i].v));
  lit(o, "</dl></section>");
}

/* ===================================================================== scorecards */

/* 政务诚信评价, when the operator's rubric publishes it: a city's or county's bodies ranked,
 * one body's card. The executor decides (forbidden when not published; the public's records
 * only); a province is not ranked here (its thousands of bodies are the thread pool's work,
 * not a page's on the loop): the page asks for a city or a county. */
static const char *const sc_labels[][2] = {
    {"gov_dishonesty", "政务失信记录（生效中）"}, {"unperformed_judgments", "未履行人民法院生效判决"},
    {"lawsuit_loss_rate", "行政诉讼败诉率"},      {"commitment_kept_rate", "守信践诺率"},
    {"on_time_rate", "双公示按时报送率"},         {"complaints", "投诉举报"},
    {"staff_discipline", "公务员失信记录"},       {"blacklisted", "列入严重失信主体名单"},
};
static const char *sc_label(cx_str code) {
  for (size_t i = 0; i < sizeof sc_labels / sizeof sc_labels[0]; i++)
    if (cx_str_eq(code, cx_str_c(sc_labels[i][0]))) return sc_labels[i][1];
  return NULL;
}

static int digits_only(cx_str s) {
  for (uint32_t i = 0; i < s.n; i++)
    if (s.p[i] < '0' || s.p[i] > '9') return 0;
  return s.n > 0;
}

static void sc_form(cx_buf *o, cx_str region, cx_str year) {
  lit(o, "<form class=\"search\" action=\"/scorecards\" method=\"get\" role=\"search\">"
         "<label for=\"r\">地区代码（地级市或区县，如 3501、350102）</label><input id=\"r\" name=\"region\" "
         "inputmode=\"numeric\" maxlength=\"6\" value=\"");
  esc(o, region);
  lit(o, "\"><label for=\"y\">年度</label><input id=\"y\" name=\"year\" inputmode=\"numeric\" maxlength=\"4\" value=\"");
  esc(o, year);
  lit(o, "\"><button type=\"submit\">查看</button></form>");
}

static void fmt_score(cx_buf *o, double v) { fmt(o, "%.1f", v); }

static void page_scorecards(page_ctx *c, const char *q, size_t qn) {
  cx_buf *o = &c->sl->body;
  char rb[16], yb[8];
  cx_str reg, yr;
  int hr = qparam(q, qn, "region", rb, sizeof rb, &reg), hy = qparam(q, qn, "year", yb, sizeof yb, &yr);
  if (hr < 0 || hy < 0 || (hr && !digits_only(reg)) || (hy && (!digits_only(yr) || yr.n != 4)))
    return error_page(c, CX_EBADREQ, "地区代码应为4位或6位数字，年度应为4位数字。");
  if (!hr) {
    head(c, "政务诚信评价");
    lit(o, "<h1>政务诚信评价</h1>");
    sc_form(o, (cx_str){"", 0}, yr);
    lit(o, "<p class=\"hint\">按本平台的评价标准，依据公示的政务诚信信息对各级政府机关和街道办事处进行评价。</p>");
    foot(c);
    return;
  }
  if (!(reg.n == 4 || reg.n == 6) || (reg.n == 6 && reg.p[2] == '0' && reg.p[3] == '0'))
    return error_page(c, CX_EBADREQ, "请输入地级市（4位，如3501）或区县（6位，如350102）的代码。");
  cx_mp res, list;
  int rc = call(c, CX_OP_SCORECARDS, 0, &res, "#region", reg.p, (size_t)reg.n, "#year", hy ? yr.p : NULL,
                (size_t)yr.n, NULL);
  if (rc == CX_EFORBIDDEN) return error_page(c, rc, "本平台未公开政务诚信评价结果。");
  if (rc) return error_page(c, rc, NULL);
  mp_index ix;
  ix_build(res, &ix);
  cx_str rn = ix_s(&ix, "region_name"), from = ix_s(&ix, "from"), to = ix_s(&ix, "to");
  char title[160];
  snprintf(title, sizeof title, "%.*s政务诚信评价", (int)(rn.n < 120 ? rn.n : 120), rn.p);
  head(c, title);
  lit(o, "<h1>");
  esc(o, rn);
  lit(o, "政务诚信评价</h1>");
  sc_form(o, reg, yr);
  lit(o, "<p class=\"hint\">评价期间：");
  esc(o, from);
  lit(o, " 至 ");
  esc(o, to);
  lit(o, "。仅依据本站依法公示的信息计算。</p>");
  uint32_t n = 0;
  if (!ix_get(&ix, "bodies", &list) || cx_mp_read_array(&list, &n)) return error_page(c, CX_EINTERNAL, NULL);
  if (!n) {
    lit(o, "<p class=\"empty\">该地区暂无可评价的机关。</p>");
  } else {
    lit(o, "<table class=\"rank\"><caption>评价结果</caption><thead><tr><th scope=\"col\">排名</th>"
           "<th scope=\"col\">机关</th><th scope=\"col\">得分</th><th scope=\"col\">等级</th>"
           "<th scope=\"col\">较上期</th></tr></thead><tbody>");
    for (uint32_t i = 0; i < n; i++) {
      mp_index b;
      if (ix_build_at(&list, &b)) break;
      cx_str code = ix_s(&b, "code");
      cx_mp v;
      double sc = 0, ch = 0;
      int has_ch = ix_get(&b, "change", &v) && cx_mp_read_number(&v, &ch) == 0;
      if (ix_get(&b, "score", &v)) cx_mp_read_number(&v, &sc);
      fmt(o, "<tr><td>%" PRIu64 "</td><td><a href=\"/scorecards/", ix_u(&b, "rank"));
      url_part(o, code.p, code.n);
      if (hy) {
        lit(o, "?year=");
        esc(o, yr);
      }
      lit(o, "\">");
      esc(o, ix_s(&b, "name"));
      lit(o, "</a></td><td>");
      fmt_score(o, sc);
      lit(o, "</td><td>");
      esc(o, ix_s(&b, "grade"));
      lit(o, "</td><td>");
      if (has_ch) fmt(o, "%+.1f", ch);
      else lit(o, "—");
      lit(o, "</td></tr>");
    }
    lit(o, "</tbody></table>");
  }
  foot(c);
  c->out->cache = "public, max-age=300";
}

static void page_scorecard(page_ctx *c, cx_str code, const char *q, size_t qn) {
  cx_buf *o = &c->sl->body;
  char yb[8];
  cx_str yr;
  int hy = qparam(q, qn, "year", yb, sizeof yb, &yr);
  if (hy < 0 || (hy && (!digits_only(yr) || yr.n != 4))) return error_page(c, CX_EBADREQ, "年度应为4位数字。");
  cx_mp res, list;
  int rc = call(c, CX_OP_SCORECARD, 0, &res, "code", code.p, (size_t)code.n, "#year", hy ? yr.p : NULL,
                (size_t)yr.n, NULL);
  if (rc == CX_EFORBIDDEN) return error_page(c, rc, "本平台未公开政务诚信评价结果。");
  if (rc) return error_page(c, rc, NULL);
  mp_index ix;
  ix_build(res, &ix);
  cx_str name = ix_s(&ix, "name");
  char title[300];
  snprintf(title, sizeof title, "%.*s政务诚信评价", (int)(name.n < 270 ? name.n : 270), name.p);
  head(c, title);
  lit(o, "<section class=\"card\"><h1>");
  esc(o, name);
  lit(o, "</h1><dl class=\"kv\"><dt>统一社会信用代码</dt><dd>");
  esc(o, ix_s(&ix, "code"));
  lit(o, "</dd><dt>评价期间</dt><dd>");
  esc(o, ix_s(&ix, "from"));
  lit(o, " 至 ");
  esc(o, ix_s(&ix, "to"));
  cx_mp v;
  double sc = 0;
  if (ix_get(&ix, "score", &v)) cx_mp_read_number(&v, &sc);
  lit(o, "</dd><dt>得分</dt><dd>");
  fmt_score(o, sc);
  lit(o, "</dd><dt>等级</dt><dd>");
  esc(o, ix_s(&ix, "grade"));
  lit(o, "</dd>");
  cx_mp prev;
  if (ix_get(&ix, "previous", &prev)) {
    mp_index p;
    ix_build(prev, &p);
    double ps = 0, ch = 0;
    if (ix_get(&p, "score", &v)) cx_mp_read_number(&v, &ps);
    if (ix_get(&p, "change", &v)) cx_mp_read_number(&v, &ch);
    lit(o, "<dt>上期得分</dt><dd>");
    fmt_score(o, ps);
    fmt(o, "（%+.1f）</dd>", ch);
  }
  lit(o, "</dl><p class=\"pager noprint\"><a class=\"button alt\" href=\"/entity/");
  cx_str ec = ix_s(&ix, "code");
  url_part(o, ec.p, ec.n);
  lit(o, "\">查看该机关的公示信息</a></p></section>");
  uint32_t n = 0;
  if (ix_get(&ix, "indicators", &list) && cx_mp_read_array(&list, &n) == 0 && n) {
    lit(o, "<table class=\"rank\"><caption>评价指标</caption><thead><tr><th scope=\"col\">指标</th>"
           "<th scope=\"col\">数值</th><th scope=\"col\">得分</th><th scope=\"col\">权重</th></tr></thead><tbody>");
    for (uint32_t i = 0; i < n; i++) {
      mp_index it;
      if (ix_build_at(&list, &it)) break;
      cx_str ind = ix_s(&it, "indicator");
      const char *l = sc_label(ind);
      lit(o, "<tr><td>");
      if (l) lit(o, l);
      else esc(o, ind);
      lit(o, "</td><td>");
      double val = 0, pts = 0, w = 0;
      cx_mp x;
      int has_val = ix_get(&it, "value", &x) && cx_mp_read_number(&x, &val) == 0;
      int rate = ix_get(&it, "denominator", &x);
      if (!has_val) lit(o, "—");
      else if (rate) fmt(o, "%.1f%%（%" PRIu64 "/%" PRIu64 "）", val * 100, ix_u(&it, "numerator"), ix_u(&it, "denominator"));
      else fmt(o, "%.0f", val);
      lit(o, "</td><td>");
      if (ix_b(&it, "rated")) {
        if (ix_get(&it, "points", &x)) cx_mp_read_number(&x, &pts);
        fmt_score(o, pts);
      } else {
        lit(o, "不计分");
      }
      lit(o, "</td><td>");
      if (ix_get(&it, "weight", &x)) cx_mp_read_number(&x, &w);
      fmt(o, "%.0f", w);
      if (ix_b(&it, "vetoed")) lit(o, "（一票否决）");
      lit(o, "</td></tr>");
    }
    lit(o, "</tbody></table>");
  }
  lit(o, "<p class=\"hint\">仅依据本站依法公示的信息计算；双公示报送及时性等内部指标不对外公开，其权重不计入。</p>");
  foot(c);
  c->out->cache = "public, max-age=300";
}

static void page_text(page_ctx *c, const char *title, const char *text) {
  cx_buf *o = &c->sl->body;
  head(c, title);
  lit(o, "<h1>");
  lit(o, title);
  lit(o, "</h1><section class=\"card prose\">");
  paragraphs(o, text);
  lit(o, "</section>");
  contacts(c);
  foot(c);
  c->out->cache = "public, max-age=300";
}

/* ===================================================================== dispatch */

void cx__site_render(cx_site_loop *sl, cx_site_run_fn run, void *ud, const char *path, size_t plen,
                     const char *query, size_t qlen, cx_site_page *out) {
  page_ctx c = {sl, run, ud, out, {"", 0}, ""};
  sl->body.len = 0;
  cx_buf_clear_failure(&sl->body);
  sl->hash = FNV_INIT;
  sl->hashing = 0;
  sl->nlists = 0;
  out->status = 200;
  out->ctype = "text/html; charset=utf-8";
  out->cache = "no-cache";
  out->pdf_doc = NULL;
  out->pdf_len = 0;
#define IS(lit) (plen == sizeof(lit) - 1 && memcmp(path, lit, plen) == 0)
#define STARTS(lit) (plen > sizeof(lit) - 1 && memcmp(path, lit, sizeof(lit) - 1) == 0)
  char seg[128];
  size_t sn;
  if (IS("/") || IS("/index.html")) {
    page_home(&c);
  } else if (IS("/search")) {
    page_search(&c, query, qlen);
  } else if (IS("/scorecards")) {
    page_scorecards(&c, query, qlen);
  } else if (STARTS("/scorecards/") && !memchr(path + 12, '/', plen - 12)) {
    if (cx__http_pct_decode(path + 12, plen - 12, 0, seg, sizeof seg, &sn) || !sn) error_page(&c, CX_EINVALCODE, NULL);
    else page_scorecard(&c, (cx_str){seg, (uint32_t)sn}, query, qlen);
  } else if (IS("/repair")) {
    page_text(&c, "信用修复", sl->s->cfg.repair_text);
  } else if (IS("/objection")) {
    page_text(&c, "异议申诉", sl->s->cfg.objection_text);
  } else if (plen == strlen(sl->s->css_path) && memcmp(path, sl->s->css_path, plen) == 0) {
    out->ctype = "text/css; charset=utf-8";
    out->cache = "public, max-age=31536000, immutable";
    out->body = cx_data_site;
    out->len = cx_data_site_len;
    return;
  } else if ((STARTS("/entity/") || STARTS("/report/")) && !memchr(path + 8, '/', plen - 8)) {
    int report = path[1] == 'r', pdf = 0;
    size_t n = plen - 8;
    if (report && n > 4 && memcmp(path + plen - 4, ".pdf", 4) == 0) n -= 4, pdf = 1;
    char pcode[CX_CODE_LEN + 1];
    if (cx__http_pct_decode(path + 8, n, 0, seg, sizeof seg, &sn) || !sn) {
      error_page(&c, CX_EINVALCODE, NULL);
    } else if (seg[0] == '~' && !person_untoken(sl->s, seg, sn, pcode)) {
      error_page(&c, CX_ENOTFOUND, NULL); /* not one of ours (or from before a restart) */
    } else if (seg[0] == '~') {
      memcpy(seg, pcode, sizeof pcode);
      sn = CX_CODE_LEN;
      if (report) page_report(&c, (cx_str){seg, (uint32_t)sn}, pdf);
      else page_entity(&c, (cx_str){seg, (uint32_t)sn}, query, qlen);
    } else if (report)
      page_report(&c, (cx_str){seg, (uint32_t)sn}, pdf);
    else
      page_entity(&c, (cx_str){seg, (uint32_t)sn}, query, qlen);
  } else {
    error_page(&c, CX_ENOTFOUND, "您访问的页面不存在。");
  }
#undef IS
#undef STARTS
  if (sl->body.failed || sl->body.over) {
    sl->body.over = 0;
    error_page(&c, CX_ENOMEM, NULL);
    if (sl->body.failed) { /* not even that: a bare answer */
      out->status = 500;
      out->ctype = "text/plain; charset=utf-8";
      out->body = "internal error\n";
      out->len = strlen(out->body);
      return;
    }
  }
  out->body = sl->body.p;
  out->len = sl->body.len;
}

/* ===================================================================== config */

static const char default_repair[] =
    "信用修复是指失信主体在规定的最短公示期限届满后，纠正失信行为、消除不良影响，按规定申请终止公示相关失信信息，"
    "停止共享和使用并解除相应惩戒措施。\n"
    "申请条件：相关失信信息已达到最短公示期限（轻微失信信息原则上不公示），已履行行政处罚等法定义务，"
    "已纠正失信行为，并按要求作出信用承诺。法律、法规另有规定的，从其规定。\n"
    "申请材料：信用修复申请书、守信承诺书、履行法定义务和纠正失信行为的相关材料。\n"
    "办理程序：向本平台提交申请，平台受理后会同作出决定的部门审核；符合条件的，依规终止公示，"
    "并在平台上更新信息。详细规定以《信用修复管理办法》（国家发展改革委令2025年第36号）为准。";
static const char default_objection[] =
    "信息主体认为本站公示的信用信息存在错误、遗漏，或者侵犯其商业秘密、个人隐私等合法权益的，可以提出异议申请。\n"
    "申请材料：异议申请书（写明异议的信息内容、理由和诉求）、主体身份证明，以及能够证明相关信息有误的证据材料。\n"
    "处理程序：平台收到异议申请后进行核查，需要由作出决定的部门核实的，转交该部门处理；"
    "异议处理期间，相关信息标注为“异议处理中”。处理结果将告知申请人，信息确有错误的予以更正或撤销。";

void cx__site_config_default(cx_site_config *c) {
  memset(c, 0, sizeof *c);
  snprintf(c->site_name, sizeof c->site_name, "信用信息公示平台");
  snprintf(c->operator_name, sizeof c->operator_name, "公共信用信息平台运营单位");
  snprintf(c->repair_text, sizeof c->repair_text, "%s", default_repair);
  snprintf(c->objection_text, sizeof c->objection_text, "%s", default_objection);
}

int cx__site_config_parse(const char *text, size_t n, cx_site_config *c, int *bad_line, char *why, size_t cap) {
  cx_site_config t = *c;
  static const char *const single[] = {"site_name", "operator", "phone", "email", "address", "hours"};
  char *dst[] = {t.site_name, t.operator_name, t.phone, t.email, t.address, t.hours};
  int seen[6] = {0}, rep = 0, obj = 0, line = 0;
  for (size_t at = 0; at < n;) {
    const char *p = text + at, *e = memchr(p, '\n', n - at);
    size_t len = e ? (size_t)(e - p) : n - at;
    at += len + 1;
    line++;
    if (len && p[len - 1] == '\r') len--;
    while (len && (*p == ' ' || *p == '\t')) p++, len--;
    while (len && (p[len - 1] == ' ' || p[len - 1] == '\t')) len--;
    if (!len || *p == '#') continue;
    *bad_line = line;
    const char *eq = memchr(p, '=', len);
    if (!eq) {
      snprintf(why, cap, "line %d: want key = value", line);
      return CX_EBADREQ;
    }
    size_t kl = (size_t)(eq - p);
    while (kl && (p[kl - 1] == ' ' || p[kl - 1] == '\t')) kl--;
    const char *v = eq + 1;
    size_t vl = len - (size_t)(v - p);
    while (vl && (*v == ' ' || *v == '\t')) v++, vl--;
    if (cx_text_check(v, vl, CX_TEXT_NAME, NULL)) {
      snprintf(why, cap, "line %d: the value must be UTF-8 text without control characters", line);
      return CX_EBADREQ;
    }
    int k = -1;
    for (int i = 0; i < 6; i++)
      if (strlen(single[i]) == kl && memcmp(single[i], p, kl) == 0) k = i;
    if (k >= 0) {
      if (seen[k]++) {
        snprintf(why, cap, "line %d: %s given twice", line, single[k]);
        return CX_EBADREQ;
      }
      if (vl >= CX_SITE_SHORT_MAX) {
        snprintf(why, cap, "line %d: %s is longer than %d bytes", line, single[k], CX_SITE_SHORT_MAX - 1);
        return CX_EBADREQ;
      }
      memcpy(dst[k], v, vl);
      dst[k][vl] = 0;
      continue;
    }
    int is_rep = kl == 11 && memcmp(p, "repair_text", 11) == 0;
    int is_obj = kl == 14 && memcmp(p, "objection_text", 14) == 0;
    if (!is_rep && !is_obj) {
      snprintf(why, cap, "line %d: unknown key \"%.*s\" (site_name operator phone email address hours "
               "repair_text objection_text)", line, (int)(kl < 40 ? kl : 40), p);
      return CX_EBADREQ;
    }
    char *d = is_rep ? t.repair_text : t.objection_text;
    int *first = is_rep ? &rep : &obj;
    size_t have = (*first)++ ? strlen(d) : 0;
    if (have + (have > 0) + vl >= CX_SITE_TEXT_MAX) {
      snprintf(why, cap, "line %d: the text is longer than %d bytes", line, CX_SITE_TEXT_MAX - 1);
      return CX_EBADREQ;
    }
    if (have) d[have++] = '\n';
    memcpy(d + have, v, vl);
    d[have + vl] = 0;
  }
  *c = t;
  return 0;
}

int cx__site_new(const char *path, cx_site **out, char *why, size_t cap) {
  cx_site *s = cx_calloc(1, sizeof *s);
  if (!s) return CX_ENOMEM;
  cx__site_config_default(&s->cfg);
  if (RAND_bytes(s->key, sizeof s->key) != 1) {
    snprintf(why, cap, "the site cannot draw its link key (RAND_bytes)");
    free(s);
    return CX_EINTERNAL;
  }
  if (path) {
    FILE *f = fopen(path, "rb");
    if (!f) {
      snprintf(why, cap, "--site %s: cannot open", path);
      free(s);
      return CX_EIO;
    }
    char *buf = cx_malloc(1 << 16);
    size_t n = buf ? fread(buf, 1, 1 << 16, f) : 0;
    int big = buf && n == 1 << 16;
    fclose(f);
    if (!buf || big) {
      if (big) snprintf(why, cap, "--site %s: larger than 64 KiB", path);
      free(buf);
      free(s);
      return buf ? CX_EBADREQ : CX_ENOMEM;
    }
    int line = 0;
    char w[200] = "";
    int rc = cx__site_config_parse(buf, n, &s->cfg, &line, w, sizeof w);
    free(buf);
    if (rc) {
      snprintf(why, cap, "--site %s: %s", path, w);
      free(s);
      return rc;
    }
  }
  snprintf(s->css_path, sizeof s->css_path, "/assets/site-%016" PRIx64 ".css",
           fnv(FNV_INIT, cx_data_site, cx_data_site_len));
  *out = s;
  return 0;
}

void cx__site_free(cx_site *s) { free(s); }

int cx__site_loop_new(const cx_site *s, cx_site_loop **out) {
  cx_site_loop *sl = cx_calloc(1, sizeof *sl);
  if (!sl) return CX_ENOMEM;
  sl->s = s;
  if (cx_buf_init(&sl->body, 64 << 10) || cx_buf_init(&sl->req, 1024) || cx_buf_init(&sl->copy, 4096) ||
      cx_buf_init(&sl->doc, 16 << 10)) {
    cx__site_loop_free(sl);
    return CX_ENOMEM;
  }
  *out = sl;
  return 0;
}

void cx__site_loop_free(cx_site_loop *sl) {
  if (!sl) return;
  cx_buf_free(&sl->body);
  cx_buf_free(&sl->req);
  cx_buf_free(&sl->copy);
  cx_buf_free(&sl->doc);
  free(sl);
}
