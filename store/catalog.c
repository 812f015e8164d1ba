/*
 * catalog.c — the punishment-measure catalogue (data/catalog.tsv) and the region-table check.
 *
 * The catalogue is parsed in three passes over the lines so that operators may order the
 * file as they like: actions first, then measures (which name actions), then lists (which name
 * measures), display periods and the public-person rule.
 */
#include "store.h"

/* ===================================================================== line splitting */

#define CAT_MAX_FIELDS 6

typedef struct cat_line {
  cx_str f[CAT_MAX_FIELDS];
  int nf; /* fields found; CAT_MAX_FIELDS + 1 when there were too many */
} cat_line;

static int sp(char c) { return c == ' ' || c == '\r' || c == '\v' || c == '\f'; }

static cx_str trim(cx_str s) {
  while (s.n && (sp(s.p[0]) || s.p[0] == '\t')) s.p++, s.n--;
  while (s.n && (sp(s.p[s.n - 1]) || s.p[s.n - 1] == '\t')) s.n--;
  return s;
}

/* Splits a line on runs of tabs; fields are trimmed of spaces. nf = 0 for blank/comment lines. */
static void split(const char *p, size_t n, cat_line *l) {
  cx_str s = trim((cx_str){p, (uint32_t)n});
  l->nf = 0;
  if (s.n == 0 || s.p[0] == '#') return;
  size_t i = 0;
  while (i < s.n) {
    size_t e = i;
    while (e < s.n && s.p[e] != '\t') e++;
    if (l->nf == CAT_MAX_FIELDS) {
      l->nf = CAT_MAX_FIELDS + 1;
      return;
    }
    l->f[l->nf++] = trim((cx_str){s.p + i, (uint32_t)(e - i)});
    while (e < s.n && s.p[e] == '\t') e++;
    i = e;
  }
}

/* ===================================================================== helpers */

static int code_ok(cx_str s) {
  if (s.n == 0 || s.n >= CX_CODE_NAME_MAX) return 0;
  for (uint32_t i = 0; i < s.n; i++) {
    char c = s.p[i];
    if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
          c == '-' || c == '.'))
      return 0;
  }
  return 1;
}

static int utf8_ok(cx_str s) {
  const unsigned char *p = (const unsigned char *)s.p;
  uint32_t i = 0;
  while (i < s.n) {
    unsigned c = p[i];
    uint32_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (len == 0 || i + len > s.n || (len == 2 && c < 0xC2)) return 0;
    for (uint32_t k = 1; k < len; k++)
      if ((p[i + k] & 0xC0) != 0x80) return 0;
    if (c < 0x20 && c != '\t') return 0;
    i += len;
  }
  return 1;
}

static int name_ok(cx_str s, size_t cap) { return s.n > 0 && s.n < cap && utf8_ok(s); }

static void copy(char *dst, cx_str s) {
  memcpy(dst, s.p, s.n);
  dst[s.n] = 0;
}

static int kw(cx_str s, const char *k) { return cx_str_eq(s, cx_str_c(k)); }

static int parse_u32(cx_str s, uint32_t *out) {
  if (s.n == 0 || s.n > 9) return 0;
  uint32_t v = 0;
  for (uint32_t i = 0; i < s.n; i++) {
    if (s.p[i] < '0' || s.p[i] > '9') return 0;
    v = v * 10 + (uint32_t)(s.p[i] - '0');
  }
  *out = v;
  return 1;
}

/* Calls fn for each comma-separated, trimmed, non-empty item of s; stops at the first error. */
typedef int (*item_fn)(void *ctx, cx_str item);
static int each_item(cx_str s, item_fn fn, void *ctx) {
  uint32_t i = 0;
  while (i <= s.n) {
    uint32_t e = i;
    while (e < s.n && s.p[e] != ',') e++;
    cx_str it = trim((cx_str){s.p + i, e - i});
    if (it.n) {
      int rc = fn(ctx, it);
      if (rc) return rc;
    }
    i = e + 1;
  }
  return 0;
}

typedef struct mask_ctx {
  const cx_catalog *c;
  uint64_t mask;
  cx_str bad;
} mask_ctx;

static int add_action(void *ctx, cx_str it) {
  mask_ctx *m = ctx;
  int a = cx_catalog_action(m->c, it);
  if (a < 0) return a;
  m->mask |= 1ull << a;
  return 0;
}

static int add_measure(void *ctx, cx_str it) {
  mask_ctx *m = ctx;
  int k = cx_catalog_measure(m->c, it);
  if (k < 0) {
    m->bad = it;
    return k;
  }
  m->mask |= 1ull << k;
  return 0;
}

static int add_category(void *ctx, cx_str it) {
  mask_ctx *m = ctx;
  int k = cx_enum_parse(cx_category_names, CX_CAT_COUNT, it);
  if (k < 0) return k;
  m->mask |= 1ull << k;
  return 0;
}

/* ===================================================================== lookups */

int cx_catalog_action(const cx_catalog *c, cx_str code) {
  for (uint32_t i = 0; i < c->n_actions; i++)
    if (cx_str_eq(code, cx_str_c(c->actions[i].code))) return (int)i;
  return CX_ENOTFOUND;
}

int cx_catalog_list(const cx_catalog *c, cx_str code) {
  for (uint32_t i = 0; i < c->n_lists; i++)
    if (cx_str_eq(code, cx_str_c(c->lists[i].code))) return (int)i;
  return CX_ENOTFOUND;
}

int cx_catalog_measure(const cx_catalog *c, cx_str code) {
  for (uint32_t i = 0; i < c->n_measures; i++)
    if (cx_str_eq(code, cx_str_c(c->measures[i].code))) return (int)i;
  return CX_ENOTFOUND;
}

int cx_catalog_measures(const cx_catalog *c, int list, cx_str codes, uint64_t *mask, cx_str *bad) {
  mask_ctx m = {c, 0, {NULL, 0}};
  int rc = each_item(codes, add_measure, &m);
  if (rc) {
    if (bad) *bad = m.bad;
    return CX_ENOTFOUND;
  }
  if (m.mask == 0 && list >= 0 && (uint32_t)list < c->n_lists) m.mask = c->lists[list].defaults;
  *mask = m.mask;
  return 0;
}

/* ===================================================================== parser */

/* Display periods of 信用修复管理办法 (2026): used when the file has no display line for a tier. */
static void catalog_defaults(cx_catalog *c) {
  memset(c, 0, sizeof *c);
  c->display[CX_SEV_MINOR].publish = 0;
  c->display[CX_SEV_MINOR].min_days = 0;
  c->display[CX_SEV_MINOR].max_days = 90;
  c->display[CX_SEV_GENERAL].publish = 1;
  c->display[CX_SEV_GENERAL].min_days = 90;
  c->display[CX_SEV_GENERAL].max_days = 365;
  c->display[CX_SEV_SERIOUS].publish = 1;
  c->display[CX_SEV_SERIOUS].min_days = 365;
  c->display[CX_SEV_SERIOUS].max_days = 1095;
  c->person_public = 1u << CX_CAT_BLACKLIST;
}

/* One line in pass `pass` (0 actions + syntax, 1 measures, 2 the rest). 0 or CX_EBADREQ. */
static int parse_line(cx_catalog *c, const cat_line *l, int pass) {
  const cx_str *f = l->f;
  if (l->nf == 0) return 0;
  if (l->nf > CAT_MAX_FIELDS) return CX_EBADREQ;
  if (kw(f[0], "action")) {
    if (l->nf != 3) return CX_EBADREQ;
    if (pass != 0) return 0;
    if (!code_ok(f[1]) || !name_ok(f[2], sizeof c->actions[0].name)) return CX_EBADREQ;
    if (cx_catalog_action(c, f[1]) >= 0 || c->n_actions >= CX_MAX_ACTIONS) return CX_EBADREQ;
    copy(c->actions[c->n_actions].code, f[1]);
    copy(c->actions[c->n_actions].name, f[2]);
    c->n_actions++;
  } else if (kw(f[0], "measure")) {
    if (l->nf != 5) return CX_EBADREQ;
    if (pass != 1) return 0;
    int eff = cx_enum_parse(cx_effect_names, 3, f[2]);
    if (!code_ok(f[1]) || eff < 0 || !name_ok(f[4], sizeof c->measures[0].name)) return CX_EBADREQ;
    if (cx_catalog_measure(c, f[1]) >= 0 || c->n_measures >= CX_MAX_MEASURES) return CX_EBADREQ;
    mask_ctx m = {c, 0, {NULL, 0}};
    if (each_item(f[3], add_action, &m) || m.mask == 0) return CX_EBADREQ;
    copy(c->measures[c->n_measures].code, f[1]);
    copy(c->measures[c->n_measures].name, f[4]);
    c->measures[c->n_measures].effect = (uint8_t)eff;
    c->measures[c->n_measures].actions = (uint32_t)m.mask;
    c->n_measures++;
  } else if (kw(f[0], "list")) {
    if (l->nf != 4 && l->nf != 5) return CX_EBADREQ;
    if (pass != 2) return 0;
    int cat = cx_enum_parse(cx_category_names, CX_CAT_COUNT, f[2]);
    if (!code_ok(f[1]) || cat < 0 || !name_ok(f[3], sizeof c->lists[0].name)) return CX_EBADREQ;
    if (cx_catalog_list(c, f[1]) >= 0 || c->n_lists >= CX_MAX_LISTS) return CX_EBADREQ;
    mask_ctx m = {c, 0, {NULL, 0}};
    if (l->nf == 5 && each_item(f[4], add_measure, &m)) return CX_EBADREQ;
    copy(c->lists[c->n_lists].code, f[1]);
    copy(c->lists[c->n_lists].name, f[3]);
    c->lists[c->n_lists].category = (uint8_t)cat;
    c->lists[c->n_lists].defaults = m.mask;
    c->n_lists++;
  } else if (kw(f[0], "display")) {
    if (l->nf != 5) return CX_EBADREQ;
    if (pass != 2) return 0;
    int sev = cx_enum_parse(cx_severity_names, CX_SEV_COUNT, f[1]);
    uint32_t pub, mn, mx;
    if (sev < 0 || !parse_u32(f[2], &pub) || pub > 1 || !parse_u32(f[3], &mn) || !parse_u32(f[4], &mx) ||
        mn > mx)
      return CX_EBADREQ;
    c->display[sev].publish = (uint8_t)pub;
    c->display[sev].min_days = mn;
    c->display[sev].max_days = mx;
  } else if (kw(f[0], "person_public")) {
    if (l->nf != 2) return CX_EBADREQ;
    if (pass != 2) return 0;
    mask_ctx m = {c, 0, {NULL, 0}};
    if (!kw(f[1], "none") && (each_item(f[1], add_category, &m) || m.mask == 0)) return CX_EBADREQ;
    c->person_public = (uint32_t)m.mask; /* "none": no record of a person is public */
  } else {
    return CX_EBADREQ;
  }
  return 0;
}

int cx_catalog_parse(const char *text, size_t n, cx_catalog *out, int *bad_line) {
  if (!text) n = 0;
  catalog_defaults(out);
  for (int pass = 0; pass < 3; pass++) {
    int line = 0;
    size_t i = 0;
    while (i < n) {
      size_t e = i;
      while (e < n && text[e] != '\n') e++;
      line++;
      cat_line l;
      split(text + i, e - i, &l);
      i = e + 1;
      if (parse_line(out, &l, pass)) {
        if (bad_line) *bad_line = line;
        return CX_EBADREQ;
      }
    }
  }
  /* Derived per-action masks. */
  for (uint32_t k = 0; k < out->n_measures; k++) {
    for (uint32_t a = 0; a < out->n_actions; a++) {
      if (!(out->measures[k].actions & (1u << a))) continue;
      uint64_t bit = 1ull << k;
      switch (out->measures[k].effect) {
      case CX_EFFECT_DENY: out->deny[a] |= bit; break;
      case CX_EFFECT_REVIEW: out->review[a] |= bit; break;
      default: out->incentive[a] |= bit; break;
      }
    }
  }
  return 0;
}

/* ===================================================================== regions */

int cx_regions_validate(const char *text, size_t n, int *bad_line) {
  int line = 0;
  size_t i = 0;
  if (!text) n = 0;
  while (i < n) {
    size_t e = i;
    while (e < n && text[e] != '\n') e++;
    line++;
    const char *p = text + i;
    size_t len = e - i;
    i = e + 1;
    if (len && p[len - 1] == '\r') len--;
    if (len == 0 || p[0] == '#') continue;
    int ok = len > 7 && p[6] == '\t';
    for (int k = 0; ok && k < 6; k++) ok = p[k] >= '0' && p[k] <= '9';
    if (ok) {
      cx_str name = {p + 7, (uint32_t)(len - 7)};
      ok = name.n > 0 && memchr(name.p, '\t', name.n) == NULL && utf8_ok(name);
    }
    if (!ok) {
      if (bad_line) *bad_line = line;
      return CX_EBADREQ;
    }
  }
  return 0;
}
