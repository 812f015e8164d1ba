/*
 * dims.c — parsing and formatting of aggregate dimension values.
 *
 * Values use the cx_record_dim() encoding: province 2 digits (35), city 4 (3501), county 6
 * (350102), authority = authority id, year 2024, quarter 20241, month 202403, enums by index.
 */
#include "query_int.h"

#include <stdarg.h>
#include <stdio.h>

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

int cx_query_dim_format(const cx_query *q, cx_txn *t, cx_dim dim, uint32_t val, char *buf,
                        size_t cap) {
  (void)q;
  if (!buf || !cap) return CX_EBADREQ;
  int n;
  const char *const *tab;
  switch (dim) {
  case CX_DIM_PROVINCE: return region(t, val * 10000, val, 2, buf, cap);
  case CX_DIM_CITY: return region(t, val * 100, val, 4, buf, cap);
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
