/*
 * dims.c — parsing and formatting of aggregate dimension values.
 *
 * Values use the cx_record_dim() encoding: province 2 digits (35), city 4 (3501), county 6
 * (350102), authority = authority id, year 2024, quarter 20241, month 202403, enums by index.
 */
#include "query_int.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static int digits(cx_str s, uint32_t *v) {
  if (!s.n || s.n > 9) return CX_EBADREQ;
  uint32_t x = 0;
  for (uint32_t i = 0; i < s.n; i++) {
    if (s.p[i] < '0' || s.p[i] > '9') return CX_EBADREQ;
    x = x * 10 + (uint32_t)(s.p[i] - '0');
  }
  *v = x;
  return 0;
}

static cx_str trim(cx_str s) {
  while (s.n && (s.p[0] == ' ' || s.p[0] == '\t')) s.p++, s.n--;
  while (s.n && (s.p[s.n - 1] == ' ' || s.p[s.n - 1] == '\t')) s.n--;
  return s;
}

static const char *const *enum_table(cx_dim dim, int *n) {
  switch (dim) {
  case CX_DIM_CATEGORY: *n = CX_CAT_COUNT; return cx_category_names;
  case CX_DIM_SUBTYPE: *n = CX_SUB_COUNT; return cx_subtype_names;
  case CX_DIM_DOMAIN: *n = CX_DOM_COUNT; return cx_domain_names;
  case CX_DIM_SEVERITY: *n = CX_SEV_COUNT; return cx_severity_names;
  case CX_DIM_KIND: *n = CX_KIND_COUNT; return cx_kind_names;
  case CX_DIM_STATUS: *n = CX_ST_COUNT; return cx_status_names;
  default: *n = 0; return NULL;
  }
}

int cx_query_dim_parse(const cx_query *q, cx_txn *t, cx_dim dim, cx_str s, uint32_t *val) {
  (void)q;
  if (!val || (!s.p && s.n)) return CX_EBADREQ;
  s = trim(s);
  uint32_t v = 0;
  int n;
  const char *const *tab;
  switch (dim) {
  case CX_DIM_PROVINCE: /* "35" or "350000" */
    if (digits(s, &v) < 0) return CX_EBADREQ;
    if (s.n == 6 && v % 10000 == 0) v /= 10000;
    else if (s.n != 2) return CX_EBADREQ;
    if (v < 10) return CX_EBADREQ;
    break;
  case CX_DIM_CITY: /* "3501" or "350100" */
    if (digits(s, &v) < 0) return CX_EBADREQ;
    if (s.n == 6 && v % 100 == 0) v /= 100;
    else if (s.n != 4) return CX_EBADREQ;
    if (v < 1000) return CX_EBADREQ;
    break;
  case CX_DIM_COUNTY:
    if (s.n != 6 || digits(s, &v) < 0 || v < 100000) return CX_EBADREQ;
    break;
  case CX_DIM_AUTHORITY: {
    if (!t || !s.n) return CX_EBADREQ;
    char up[64];
    if (s.n >= sizeof up) return CX_EBADREQ;
    for (uint32_t i = 0; i < s.n; i++)
      up[i] = (s.p[i] >= 'a' && s.p[i] <= 'z') ? (char)(s.p[i] - 'a' + 'A') : s.p[i];
    int rc = cx_store_authority_find(t, (cx_str){up, s.n}, &v);
    if (rc == CX_ENOTFOUND) return CX_EBADREQ;
    if (rc < 0) return rc;
    break;
  }
  case CX_DIM_CATEGORY: case CX_DIM_SUBTYPE: case CX_DIM_DOMAIN: case CX_DIM_SEVERITY:
  case CX_DIM_KIND: case CX_DIM_STATUS: {
    tab = enum_table(dim, &n);
    if (dim == CX_DIM_SUBTYPE && (s.n == 0 || cx_str_eq(s, CX_STR("none")))) {
      v = CX_SUB_NONE;
      break;
    }
    if (!s.n) return CX_EBADREQ;
    int i = cx_enum_parse(tab, n, s);
    if (i < 0) return CX_EBADREQ;
    v = (uint32_t)i;
    break;
  }
  case CX_DIM_YEAR:
    if (s.n != 4 || digits(s, &v) < 0 || v < 1970) return CX_EBADREQ;
    break;
  case CX_DIM_QUARTER: { /* "2024Q1" */
    uint32_t y;
    if (s.n != 6 || (s.p[4] != 'Q' && s.p[4] != 'q') || digits((cx_str){s.p, 4}, &y) < 0 ||
        y < 1970 || s.p[5] < '1' || s.p[5] > '4')
      return CX_EBADREQ;
    v = y * 10 + (uint32_t)(s.p[5] - '0');
    break;
  }
  case CX_DIM_MONTH: { /* "2024-03" */
    uint32_t y, m;
    if (s.n != 7 || s.p[4] != '-' || digits((cx_str){s.p, 4}, &y) < 0 ||
        digits((cx_str){s.p + 5, 2}, &m) < 0 || y < 1970 || m < 1 || m > 12)
      return CX_EBADREQ;
    v = y * 100 + m;
    break;
  }
  default:
    return CX_EBADREQ;
  }
  *val = v;
  return 0;
}

static int put(char *buf, size_t cap, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static int put(char *buf, size_t cap, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(buf, cap, fmt, ap);
  va_end(ap);
  return (n < 0 || (size_t)n >= cap) ? CX_ETOOLARGE : 0;
}

static int region(cx_txn *t, uint32_t full, uint32_t val, int width, char *buf, size_t cap) {
  cx_str name;
  if (t && cx_store_region_name(t, full, &name) == 0 && name.n)
    return put(buf, cap, "%.*s", (int)name.n, name.p);
  return put(buf, cap, "%0*u", width, val);
}

/* The municipalities (直辖市): their prefecture level is the city itself. */
static int municipality(uint32_t province) {
  return province == 11 || province == 12 || province == 31 || province == 50;
}

/* Placeholders of the statistical tables, no city's name: 市辖区, 县, 省直辖县级行政区划 ... */
static int placeholder(cx_str n) {
  return cx_str_eq(n, CX_STR("市辖区")) || cx_str_eq(n, CX_STR("县")) ||
         (n.n >= 18 && memcmp(n.p + n.n - 18, "直辖县级行政区划", 18) == 0) ||
         (n.n >= 12 && memcmp(n.p + n.n - 12, "县级行政区划", 12) == 0);
}

/* City level (4 digits): a municipality's name for its 1101/5001 (never 市辖区), 重庆市（县） for
 * 5002; the province's
 * own level (3500: an entity registered by a provincial body) is "福建省本级", never the
 * province as if it were a city; 4290, counties directly under the province, is
 * "湖北省直辖县级行政区划". */
static int city(cx_txn *t, uint32_t val, char *buf, size_t cap) {
  cx_str name, prov;
  int have_prov = t && cx_store_region_name(t, val / 100 * 10000, &prov) == 0 && prov.n;
  /* 5002 (重庆市's counties, "县" in the statistical tables) apart from 5001, so that two rows
   * of an aggregate never carry the same name */
  if (have_prov && municipality(val / 100) && val % 100 == 1) return put(buf, cap, "%.*s", (int)prov.n, prov.p);
  if (have_prov && municipality(val / 100) && val % 100 != 0)
    return put(buf, cap, "%.*s（县）", (int)prov.n, prov.p);
  if (have_prov && val % 100 == 0) return put(buf, cap, "%.*s本级", (int)prov.n, prov.p);
  if (t && cx_store_region_name(t, val * 100, &name) == 0 && name.n && !placeholder(name))
    return put(buf, cap, "%.*s", (int)name.n, name.p);
  if (have_prov && val % 100 == 90) return put(buf, cap, "%.*s直辖县级行政区划", (int)prov.n, prov.p);
  return put(buf, cap, "%04u", val);
}

int cx_query_city_name(cx_txn *t, uint32_t region, char *buf, size_t cap) {
  if (!buf || !cap) return CX_EBADREQ;
  return city(t, region / 100, buf, cap);
}

int cx_query_dim_code(cx_dim dim, uint32_t val, char *buf, size_t cap) {
  switch (dim) {
  case CX_DIM_PROVINCE: return put(buf, cap, "%06u", val * 10000);
  case CX_DIM_CITY: return put(buf, cap, "%06u", val * 100);
  case CX_DIM_COUNTY: return put(buf, cap, "%06u", val);
  default: return CX_ENOTFOUND;
  }
}

const char *cx_query_dim_expected(cx_dim dim) {
  switch (dim) {
  case CX_DIM_PROVINCE: return "a region code such as 35 or 350000, or a name such as 福建省";
  case CX_DIM_CITY: return "a region code such as 3501 or 350100, or a name such as 福州市";
  case CX_DIM_COUNTY:
    return "a region code such as 350102, or a name such as 鼓楼区 (福州市鼓楼区 when several "
           "counties have it)";
  case CX_DIM_AUTHORITY: return "the unified social credit code of an authority with records in the store";
  case CX_DIM_CATEGORY:
    return "license, penalty, gov_dishonesty, blacklist, redlist, commitment, lawsuit, complaint, "
           "evaluation, abnormal, compulsion, confirmation or inspection";
  case CX_DIM_SUBTYPE:
    return "none, judgment, admin_penalty, disciplinary, accountability, kept, broken, won, lost, "
           "coercive_measure, enforcement, compliant or violation";
  case CX_DIM_DOMAIN: return "procurement, ppp, bidding, investment, debt, subdistrict or other";
  case CX_DIM_SEVERITY: return "minor, general or serious";
  case CX_DIM_KIND:
    return "enterprise, government, subdistrict, institution, social_org, individual_business, "
           "civil_servant or person";
  case CX_DIM_STATUS: return "active, repaired or revoked";
  case CX_DIM_YEAR: return "a year such as 2024";
  case CX_DIM_QUARTER: return "a quarter such as 2024Q1";
  case CX_DIM_MONTH: return "a month such as 2024-03";
  default: return "a value";
  }
}

/* ---------------------------------------------------------------- region names */

typedef struct name_walk {
  cx_txn *t;
  cx_dim dim;
  cx_str name;
  uint32_t *vals;
  uint32_t cap, n, total;
} name_walk;

static void add_val(name_walk *w, uint32_t v) {
  for (uint32_t i = 0; i < w->n; i++)
    if (w->vals[i] == v) return;
  w->total++;
  if (w->n < w->cap) w->vals[w->n++] = v;
}

/* 1 when s is "<the county's city's name><name>" (福州市鼓楼区), the way to tell 鼓楼区 apart. */
static int city_then(name_walk *w, uint32_t code, cx_str name) {
  if (w->name.n <= name.n || memcmp(w->name.p + w->name.n - name.n, name.p, name.n) != 0) return 0;
  char cb[256];
  if (city(w->t, code / 100, cb, sizeof cb)) return 0;
  size_t k = w->name.n - name.n;
  return strlen(cb) == k && memcmp(cb, w->name.p, k) == 0;
}

static int name_cb(void *ctx, uint32_t code, const cx_region *r) {
  name_walk *w = ctx;
  int eq = cx_str_eq(r->name, w->name);
  switch (w->dim) {
  case CX_DIM_PROVINCE:
    if (code % 10000 == 0 && eq) add_val(w, code / 10000);
    break;
  case CX_DIM_CITY:
    /* a city's own entry, or a municipality by its name: every city level code under it that a
     * county of the tables has (1101; 5001 and 5002) */
    if (code % 100 == 0 && code % 10000 != 0 && eq && !placeholder(r->name)) add_val(w, code / 100);
    if (code % 100 != 0 && municipality(code / 10000)) {
      cx_str prov;
      if (cx_store_region_name(w->t, code / 10000 * 10000, &prov) == 0 && cx_str_eq(prov, w->name))
        add_val(w, code / 100);
    }
    break;
  case CX_DIM_COUNTY:
    if (code % 100 != 0 && (eq || city_then(w, code, r->name))) add_val(w, code);
    break;
  default: break;
  }
  return 0;
}

int cx_query_dim_parse_all(const cx_query *q, cx_txn *t, cx_dim dim, cx_str s, uint32_t *vals,
                           uint32_t cap, uint32_t *n) {
  if (!vals || !n || !cap) return CX_EBADREQ;
  s = trim(s);
  int region_dim = dim == CX_DIM_PROVINCE || dim == CX_DIM_CITY || dim == CX_DIM_COUNTY;
  uint32_t v;
  if (!region_dim || !s.n || (s.p[0] >= '0' && s.p[0] <= '9')) {
    int rc = cx_query_dim_parse(q, t, dim, s, &v);
    if (rc) return rc;
    vals[0] = v;
    *n = 1;
    return 0;
  }
  if (!t || cx_text_check(s.p, s.n, CX_TEXT_NAME, NULL)) return CX_EBADREQ;
  name_walk w = {t, dim, s, vals, cap, 0, 0};
  int rc = cx_store_regions_each(t, name_cb, &w);
  if (rc) return rc;
  *n = w.n;
  if (w.total == 0) return CX_EBADREQ;
  /* several counties of one name (鼓楼区: 福州, 南京, 徐州, 开封): which one is meant is not
   * ours to guess */
  if (dim == CX_DIM_COUNTY && w.total > 1) return CX_EEXIST;
  if (w.total > cap) return CX_ETOOLARGE;
  return 0;
}

int cx_query_dim_format(const cx_query *q, cx_txn *t, cx_dim dim, uint32_t val, char *buf,
                        size_t cap) {
  (void)q;
  if (!buf || !cap) return CX_EBADREQ;
  int n;
  const char *const *tab;
  switch (dim) {
  case CX_DIM_PROVINCE: return region(t, val * 10000, val, 2, buf, cap);
  case CX_DIM_CITY: return city(t, val, buf, cap);
  case CX_DIM_COUNTY: return region(t, val, val, 6, buf, cap);
  case CX_DIM_AUTHORITY: {
    cx_str code, name;
    if (!t || cx_store_authority_get(t, val, &code, &name) < 0) return put(buf, cap, "#%u", val);
    if (!name.n) return put(buf, cap, "%.*s", (int)code.n, code.p);
    return put(buf, cap, "%.*s (%.*s)", (int)name.n, name.p, (int)code.n, code.p);
  }
  case CX_DIM_CATEGORY: case CX_DIM_SUBTYPE: case CX_DIM_DOMAIN: case CX_DIM_SEVERITY:
  case CX_DIM_KIND: case CX_DIM_STATUS:
    tab = enum_table(dim, &n);
    if (val >= (uint32_t)n) return put(buf, cap, "%u", val);
    if (dim == CX_DIM_SUBTYPE && val == CX_SUB_NONE) return put(buf, cap, "none");
    return put(buf, cap, "%s", tab[val]);
  case CX_DIM_YEAR: return put(buf, cap, "%04u", val);
  case CX_DIM_QUARTER: return put(buf, cap, "%04uQ%u", val / 10, val % 10);
  case CX_DIM_MONTH: return put(buf, cap, "%04u-%02u", val / 100, val % 100);
  default: return CX_EBADREQ;
  }
}
