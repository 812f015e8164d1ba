/*
 * catalog.c — the punishment-measure catalogue (data/catalog.tsv) and the region-table check.
 *
 * The catalogue is parsed in four passes over the lines so that operators may order the
 * file as they like: actions and editions first, then measures (which name actions and
 * editions), then lists (which name
 * measures), display periods, 失信信息 categories and the public-person rule; then the tier rules
 * (which name lists).
 */
#include <stdarg.h>
#include <stdio.h>

#include "store.h"

/* ===================================================================== line splitting */

#define CAT_MAX_FIELDS 7

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

/* Names are shown to every role and copied into answers: UTF-8 without a control character
 * (shared with regions.c). */
int cx__utf8_ok(cx_str s) { return cx_text_check(s.p, s.n, CX_TEXT_NAME, NULL) == 0; }

static int name_ok(cx_str s, size_t cap) { return s.n > 0 && s.n < cap && cx__utf8_ok(s); }

static void copy(char *dst, cx_str s) {
  memcpy(dst, s.p, s.n);
  dst[s.n] = 0;
}

static int kw(cx_str s, const char *k) { return cx_str_eq(s, cx_str_c(k)); }

/* Why a line is bad, for the operator who wrote it (cx_catalog_parse_why). */
typedef struct cat_why {
  char *buf;
  size_t cap;
} cat_why;

static int why(cat_why *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int why(cat_why *w, const char *fmt, ...) {
  if (w && w->buf && w->cap) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(w->buf, w->cap, fmt, ap);
    va_end(ap);
  }
  return CX_EBADREQ;
}

/* A field quoted in a message: at most 40 bytes (lines are checked UTF-8 text already). */
#define SHOWN(s) (int)((s).n > 40 ? 40 : (s).n), (s).p
#define CATS                                                                                       \
  "license, penalty, gov_dishonesty, blacklist, redlist, commitment, lawsuit, complaint, "         \
  "evaluation, abnormal, compulsion, confirmation, inspection"

static int bad_code(cat_why *w, const char *what, cx_str s) {
  return why(w, "%s: \"%.*s\" is not a code ([A-Za-z0-9_.-], 1..%d bytes)", what, SHOWN(s), CX_CODE_NAME_MAX - 1);
}
static int bad_name(cat_why *w, const char *what, size_t cap) {
  return why(w, "%s: the name is empty, longer than %zu bytes or holds a control character", what, cap - 1);
}

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
  if (a < 0) {
    m->bad = it;
    return a;
  }
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

int cx_catalog_edition(const cx_catalog *c, cx_str code) {
  for (uint32_t i = 0; i < c->n_editions; i++)
    if (cx_str_eq(code, cx_str_c(c->editions[i].code))) return (int)i;
  return CX_ENOTFOUND;
}

int cx_catalog_provenance_get(const cx_catalog *c, int measure, cx_catalog_provenance *out) {
  if (!c || !out || measure < 0 || (uint32_t)measure >= c->n_measures) return CX_ENOTFOUND;
  const unsigned e = c->measures[measure].edition;
  const int has = e < c->n_editions;
  out->basis = c->measures[measure].basis;
  out->item = c->measures[measure].item;
  out->edition_code = has ? c->editions[e].code : "";
  out->edition_title = has ? c->editions[e].title : "";
  out->edition_doc = has ? c->editions[e].doc : "";
  return 0;
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
  c->display[CX_SEV_MINOR].min_months = 0;
  c->display[CX_SEV_MINOR].max_months = 3;
  c->display[CX_SEV_GENERAL].publish = 1;
  c->display[CX_SEV_GENERAL].min_months = 3;
  c->display[CX_SEV_GENERAL].max_months = 12;
  c->display[CX_SEV_SERIOUS].publish = 1;
  c->display[CX_SEV_SERIOUS].min_months = 12;
  c->display[CX_SEV_SERIOUS].max_months = 36;
  const uint32_t all = UINT32_MAX;
  c->negative[CX_CAT_PENALTY] = all;
  c->negative[CX_CAT_BLACKLIST] = all;
  c->negative[CX_CAT_GOV_DISHONESTY] = all;
  c->negative[CX_CAT_COMPLAINT] = all;
  c->negative[CX_CAT_EVALUATION] = all;
  c->negative[CX_CAT_COMMITMENT] = 1u << CX_SUB_BROKEN;
  c->negative[CX_CAT_LAWSUIT] = 1u << CX_SUB_LOST;
  c->negative[CX_CAT_ABNORMAL] = all;
  c->negative[CX_CAT_COMPULSION] = 1u << CX_SUB_ENFORCEMENT;
  c->negative[CX_CAT_INSPECTION] = 1u << CX_SUB_VIOLATION;
  c->person_public = 1u << CX_CAT_BLACKLIST;
}

/* "penalty" (every subtype) or "commitment:broken" (one) into the negative masks. */
static int add_negative(void *ctx, cx_str it) {
  uint32_t *neg = ctx;
  const char *colon = memchr(it.p, ':', it.n);
  cx_str cat = colon ? (cx_str){it.p, (uint32_t)(colon - it.p)} : it;
  int k = cx_enum_parse(cx_category_names, CX_CAT_COUNT, cat);
  if (k < 0) return k;
  if (!colon) {
    neg[k] = UINT32_MAX;
    return 0;
  }
  cx_str sub = {colon + 1, (uint32_t)(it.n - (uint32_t)(colon - it.p) - 1)};
  int st = cx_enum_parse(cx_subtype_names, CX_SUB_COUNT, sub);
  if (st <= CX_SUB_NONE || !cx_subtype_valid(k, st)) return CX_EBADREQ;
  neg[k] |= 1u << st;
  return 0;
}

typedef struct adv_ctx { uint8_t mask; } adv_ctx;
static int add_tier(void *ctx, cx_str it) {
  int t = cx_enum_parse(cx_severity_names, CX_SEV_COUNT, it);
  if (t < 0) return CX_EBADREQ;
  ((adv_ctx *)ctx)->mask |= (uint8_t)(1u << t);
  return 0;
}

/* A non-negative amount of yuan with up to 2 decimals, as fen. */
static int parse_yuan(cx_str s, int64_t *fen) {
  int64_t v = 0;
  uint32_t i = 0, dec = 0;
  int dot = 0;
  if (s.n == 0 || s.n > 16) return 0;
  for (; i < s.n; i++) {
    char ch = s.p[i];
    if (ch == '.' && !dot && i > 0) {
      dot = 1;
      continue;
    }
    if (ch < '0' || ch > '9' || (dot && ++dec > 2)) return 0;
    v = v * 10 + (ch - '0');
  }
  if (dot && dec == 0) return 0;
  for (; dec < 2; dec++) v *= 10;
  *fen = v;
  return 1;
}

/* tier <tier> list|keyword|fine|category ... */
static int parse_tier(cx_catalog *c, const cat_line *l, cat_why *w) {
  const cx_str *f = l->f;
  if (l->nf < 4) return why(w, "tier: expected tier<TAB>TIER<TAB>list|lists|keyword|fine|category<TAB>...");
  int tier = cx_enum_parse(cx_severity_names, CX_SEV_COUNT, f[1]);
  if (tier < 0) return why(w, "tier: unknown tier \"%.*s\" (minor, general, serious)", SHOWN(f[1]));
  if (c->n_tier_rules >= CX_MAX_TIER_RULES) return why(w, "tier: more than %d tier rules", CX_MAX_TIER_RULES);
  cx_tier_rule r;
  memset(&r, 0, sizeof r);
  r.tier = (uint8_t)tier;
  if (kw(f[2], "list")) {
    int li = cx_catalog_list(c, f[3]);
    if (l->nf != 4) return why(w, "tier ... list: expected one list code");
    if (li < 0) return why(w, "tier ... list: unknown list type \"%.*s\"", SHOWN(f[3]));
    r.match = CX_TIER_LIST;
    r.list = (uint8_t)li;
  } else if (kw(f[2], "lists")) {
    int cat = cx_enum_parse(cx_category_names, CX_CAT_COUNT, f[3]);
    if (l->nf != 4 || cat < 0) return why(w, "tier ... lists: expected one category (%s)", CATS);
    r.match = CX_TIER_LISTS;
    r.category = (uint8_t)cat;
  } else if (kw(f[2], "keyword")) {
    if (l->nf != 4 || !name_ok(f[3], sizeof r.text))
      return why(w, "tier ... keyword: expected one keyword of 1..%zu bytes", sizeof r.text - 1);
    r.match = CX_TIER_KEYWORD;
    copy(r.text, f[3]);
  } else if (kw(f[2], "fine")) {
    if (l->nf != 5 || !parse_yuan(f[3], &r.from_fen))
      return why(w, "tier ... fine: expected FROM<TAB>TO amounts in 元 (TO may be -)");
    r.to_fen = -1;
    if (!kw(f[4], "-") && (!parse_yuan(f[4], &r.to_fen) || r.to_fen <= r.from_fen))
      return why(w, "tier ... fine: TO must be an amount in 元 above FROM, or -");
    r.match = CX_TIER_FINE;
  } else if (kw(f[2], "category")) {
    int cat = cx_enum_parse(cx_category_names, CX_CAT_COUNT, f[3]);
    if (l->nf != 4 || cat < 0) return why(w, "tier ... category: expected one category (%s)", CATS);
    r.match = CX_TIER_CATEGORY;
    r.category = (uint8_t)cat;
  } else {
    return why(w, "tier: expected list, lists, keyword, fine or category after the tier, got \"%.*s\"", SHOWN(f[2]));
  }
  /* One rule per list, per category and per keyword: a second one is a mistake in the file. */
  for (uint32_t i = 0; i < c->n_tier_rules; i++) {
    const cx_tier_rule *o = &c->tier_rules[i];
    if (o->match != r.match) continue;
    if ((r.match == CX_TIER_LIST && o->list == r.list) ||
        ((r.match == CX_TIER_CATEGORY || r.match == CX_TIER_LISTS) && o->category == r.category) ||
        (r.match == CX_TIER_KEYWORD && strcmp(o->text, r.text) == 0))
      return why(w, "tier: a second rule for the same %s", f[2].p[0] == 'k' ? "keyword" : f[2].p[0] == 'c' ? "category" : "list");
    if (r.match == CX_TIER_FINE && (o->to_fen < 0 || r.from_fen < o->to_fen) &&
        (r.to_fen < 0 || o->from_fen < r.to_fen))
      return why(w, "tier ... fine: the range overlaps an earlier fine rule's");
  }
  c->tier_rules[c->n_tier_rules++] = r;
  return 0;
}

/* ===================================================================== tiers and periods */

static int contains(cx_str hay, const char *needle) {
  size_t n = strlen(needle);
  if (n == 0 || n > hay.n) return 0;
  for (size_t i = 0; i + n <= hay.n; i++)
    if (hay.p[i] == needle[0] && memcmp(hay.p + i, needle, n) == 0) return 1;
  return 0;
}

uint8_t cx_catalog_tier(const cx_catalog *c, const cx_record *r) {
  int li = r->list_type.n ? cx_catalog_list(c, r->list_type) : -1;
  int best = -1, by_cat = -1, by_lists = -1;
  for (uint32_t i = 0; i < c->n_tier_rules; i++) {
    const cx_tier_rule *t = &c->tier_rules[i];
    switch (t->match) {
    case CX_TIER_LIST:
      if (li >= 0 && t->list == (uint8_t)li) return t->tier;
      break;
    case CX_TIER_LISTS:
      if (li >= 0 && t->category == c->lists[li].category) by_lists = t->tier;
      break;
    case CX_TIER_KEYWORD:
      if (t->tier > best && contains(r->content, t->text)) best = t->tier;
      break;
    case CX_TIER_FINE:
      if (r->amount_fen > 0 && r->amount_fen >= t->from_fen && (t->to_fen < 0 || r->amount_fen < t->to_fen) &&
          t->tier > best)
        best = t->tier;
      break;
    case CX_TIER_CATEGORY:
      if (t->category == r->category) by_cat = t->tier;
      break;
    }
  }
  if (by_lists >= 0) return (uint8_t)by_lists;
  if (best >= 0) return (uint8_t)best;
  return by_cat >= 0 ? (uint8_t)by_cat : (uint8_t)CX_SEV_GENERAL;
}

int cx_catalog_display_end(const cx_catalog *c, unsigned tier, cx_day decision_date,
                           cx_day valid_until, cx_day *end) {
  if (tier >= CX_SEV_COUNT || !c->display[tier].publish) {
    *end = decision_date;
    return 0;
  }
  cx_day e = cx_day_add_months(decision_date, c->display[tier].max_months);
  if (valid_until != CX_DAY_OPEN && valid_until < e) e = valid_until;
  *end = e;
  return 1;
}

unsigned cx_catalog_advisory(const cx_catalog *c, const cx_record *r, cx_day *end) {
  if (r->status != CX_ST_ACTIVE || r->severity >= CX_SEV_COUNT ||
      !cx_catalog_is_negative(c, r->category, r->subtype))
    return 0;
  unsigned why = 0;
  if (c->advisory_tiers & (1u << r->severity)) why |= CX_ADV_TIER;
  if (c->advisory_fine_fen > 0 && r->amount_fen >= c->advisory_fine_fen) why |= CX_ADV_FINE;
  if (!why) return 0;
  /* The window of cx_query_displayable: an officer is shown what the public may be shown. */
  int listing = r->category == CX_CAT_BLACKLIST || r->category == CX_CAT_ABNORMAL;
  cx_day e;
  if (!cx_catalog_display_end(c, r->severity, r->decision_date, listing ? r->valid_until : CX_DAY_OPEN, &e))
    return 0;
  if (r->display_until != CX_DAY_NONE && r->display_until < e) e = r->display_until + 1;
  if (e <= r->decision_date) return 0;
  *end = e;
  return why;
}

int cx_catalog_public_window(const cx_catalog *c, int person, const cx_sum_rec *r, cx_day *from,
                             cx_day *end) {
  if (r->status != CX_ST_ACTIVE || r->severity >= CX_SEV_COUNT || r->category >= CX_CAT_COUNT)
    return 0;
  if (person && !(c->person_public & (1u << r->category))) return 0;
  unsigned subtype = (unsigned)r->flags >> CX_SRF_SUBTYPE_SHIFT;
  /* Records other than 失信信息 (licences, red lists, kept commitments ...): public while valid. */
  if (!cx_catalog_is_negative(c, r->category, subtype)) {
    *from = r->valid_from;
    *end = r->valid_until;
    return r->valid_until == CX_DAY_OPEN || r->valid_from < r->valid_until;
  }
  /* 失信信息: from the decision to the tier's maximum, or earlier: at the source's display
   * deadline (公示截止期), and for a list entry (serious-dishonesty list, abnormal-operation
   * list) at the end of its listing (移出名单). A penalty's own validity (处罚有效期) does not
   * end the display of the penalty. */
  cx_day e;
  int listing = r->category == CX_CAT_BLACKLIST || r->category == CX_CAT_ABNORMAL;
  if (!cx_catalog_display_end(c, r->severity, r->decision_date, listing ? r->valid_until : CX_DAY_OPEN, &e))
    return 0;
  /* the source's own deadline (公示截止期, inclusive), when it ends display earlier */
  if (r->display_until != CX_DAY_NONE && r->display_until < e) e = r->display_until + 1;
  *from = r->decision_date;
  *end = e;
  return e == CX_DAY_OPEN || r->decision_date < e;
}

void cx_entity_hint_of(const cx_catalog *c, const cx_summary *s, cx_entity_hint *out) {
  cx_day last = 0;
  int person = cx_kind_is_person(s->kind);
  for (uint32_t i = 0; i < s->n_recs && last != CX_DAY_OPEN; i++) {
    cx_sum_rec r;
    cx_summary_rec(s, i, &r);
    cx_day from, end;
    if (cx_catalog_public_window(c, person, &r, &from, &end) && end > last) last = end;
  }
  *out = (cx_entity_hint){1, s->kind, last};
}

cx_day cx_catalog_repair_from(const cx_catalog *c, unsigned tier, cx_day decision_date) {
  if (tier >= CX_SEV_COUNT) return decision_date;
  return cx_day_add_months(decision_date, c->display[tier].min_months);
}

/* One line in pass `pass` (0 actions, editions, labels + syntax, 1 measures, 2 lists and the
 * rest, 3 tier rules, which name lists). 0 or CX_EBADREQ with w saying why. */
static int parse_line(cx_catalog *c, const cat_line *l, int pass, cat_why *w) {
  const cx_str *f = l->f;
  if (l->nf == 0) return 0;
  if (l->nf > CAT_MAX_FIELDS) return why(w, "more than %d tab-separated fields", CAT_MAX_FIELDS);
  if (kw(f[0], "action")) {
    if (l->nf != 3) return why(w, "action: expected action<TAB>CODE<TAB>NAME (%d fields, not %d)", 3, l->nf);
    if (pass != 0) return 0;
    if (!code_ok(f[1])) return bad_code(w, "action", f[1]);
    if (!name_ok(f[2], sizeof c->actions[0].name)) return bad_name(w, "action", sizeof c->actions[0].name);
    if (cx_catalog_action(c, f[1]) >= 0) return why(w, "action \"%.*s\" is listed twice", SHOWN(f[1]));
    if (c->n_actions >= CX_MAX_ACTIONS) return why(w, "more than %d actions", CX_MAX_ACTIONS);
    copy(c->actions[c->n_actions].code, f[1]);
    copy(c->actions[c->n_actions].name, f[2]);
    c->n_actions++;
  } else if (kw(f[0], "edition")) {
    if (l->nf != 4) return why(w, "edition: expected edition<TAB>CODE<TAB>TITLE<TAB>DOCUMENT|- (%d fields, not %d)", 4, l->nf);
    if (pass != 0) return 0;
    if (!code_ok(f[1])) return bad_code(w, "edition", f[1]);
    if (!name_ok(f[2], sizeof c->editions[0].title)) return bad_name(w, "edition title", sizeof c->editions[0].title);
    if (!name_ok(f[3], sizeof c->editions[0].doc)) return bad_name(w, "edition document", sizeof c->editions[0].doc);
    if (cx_catalog_edition(c, f[1]) >= 0) return why(w, "edition \"%.*s\" is listed twice", SHOWN(f[1]));
    if (c->n_editions >= CX_MAX_EDITIONS) return why(w, "more than %d editions", CX_MAX_EDITIONS);
    copy(c->editions[c->n_editions].code, f[1]);
    copy(c->editions[c->n_editions].title, f[2]);
    if (!kw(f[3], "-")) copy(c->editions[c->n_editions].doc, f[3]); /* "-": number not known */
    c->n_editions++;
  } else if (kw(f[0], "label")) {
    if (l->nf != 4) return why(w, "label: expected label<TAB>KIND<TAB>CODE<TAB>NAME (%d fields, not %d)", 4, l->nf);
    if (pass != 0) return 0;
    int k = cx_enum_parse(cx_label_kind_names, CX_LABEL_KINDS, f[1]);
    if (k < 0)
      return why(w, "label: unknown kind \"%.*s\" (category, subtype, status, severity, domain, kind)", SHOWN(f[1]));
    int n;
    const char *const *tab = cx_label_table(k, &n);
    int v = cx_enum_parse(tab, n, f[2]);
    if (v < 0 || (k == CX_LABEL_SUBTYPE && v == CX_SUB_NONE))
      return why(w, "label: \"%.*s\" is not a %s code", SHOWN(f[2]), cx_label_kind_names[k]);
    if (!name_ok(f[3], CX_LABEL_MAX)) return bad_name(w, "label", CX_LABEL_MAX);
    if (c->labels[k][v][0]) return why(w, "label: %s \"%.*s\" is named twice", cx_label_kind_names[k], SHOWN(f[2]));
    copy(c->labels[k][v], f[3]);
  } else if (kw(f[0], "measure")) {
    /* 5 fields: the format before provenance (operators' older files keep loading); 7: with
     * basis and edition. 6 is a line that lost a field, not a format. */
    if (l->nf != 5 && l->nf != 7)
      return why(w, "measure: expected measure<TAB>CODE<TAB>EFFECT<TAB>ACTIONS<TAB>NAME[<TAB>BASIS<TAB>EDITION] "
                    "(5 or 7 fields, not %d)", l->nf);
    if (pass != 1) return 0;
    int eff = cx_enum_parse(cx_effect_names, 3, f[2]);
    if (!code_ok(f[1])) return bad_code(w, "measure", f[1]);
    if (eff < 0) return why(w, "measure: unknown effect \"%.*s\" (deny, review, incentive)", SHOWN(f[2]));
    if (!name_ok(f[4], sizeof c->measures[0].name)) return bad_name(w, "measure", sizeof c->measures[0].name);
    if (cx_catalog_measure(c, f[1]) >= 0) return why(w, "measure \"%.*s\" is listed twice", SHOWN(f[1]));
    if (c->n_measures >= CX_MAX_MEASURES) return why(w, "more than %d measures", CX_MAX_MEASURES);
    mask_ctx m = {c, 0, {NULL, 0}};
    if (each_item(f[3], add_action, &m)) return why(w, "measure: unknown action \"%.*s\"", SHOWN(m.bad));
    if (m.mask == 0) return why(w, "measure: no action");
    int ed = CX_EDITION_NONE;
    cx_str item = {NULL, 0};
    if (l->nf == 7) {
      /* <edition>[:<item>]: the code is [A-Za-z0-9_.-], so the first colon ends it */
      const char *colon = memchr(f[6].p, ':', f[6].n);
      cx_str code = colon ? (cx_str){f[6].p, (uint32_t)(colon - f[6].p)} : f[6];
      if (colon) {
        item = trim((cx_str){colon + 1, (uint32_t)(f[6].n - (uint32_t)(colon - f[6].p) - 1)});
        if (!name_ok(item, CX_ITEM_MAX)) return bad_name(w, "measure: item", CX_ITEM_MAX);
      }
      if (!name_ok(f[5], CX_BASIS_MAX)) return bad_name(w, "measure: basis", CX_BASIS_MAX);
      if ((ed = cx_catalog_edition(c, code)) < 0)
        return why(w, "measure: edition \"%.*s\" has no edition line", SHOWN(code));
    }
    /* the slot is filled only once the whole line is known good */
    memset(&c->measures[c->n_measures], 0, sizeof c->measures[0]);
    copy(c->measures[c->n_measures].code, f[1]);
    copy(c->measures[c->n_measures].name, f[4]);
    c->measures[c->n_measures].effect = (uint8_t)eff;
    c->measures[c->n_measures].actions = (uint32_t)m.mask;
    c->measures[c->n_measures].edition = (uint8_t)ed;
    if (l->nf == 7) copy(c->measures[c->n_measures].basis, f[5]);
    if (item.n) copy(c->measures[c->n_measures].item, item);
    c->n_measures++;
  } else if (kw(f[0], "list")) {
    if (l->nf != 4 && l->nf != 5)
      return why(w, "list: expected list<TAB>CODE<TAB>CATEGORY<TAB>NAME[<TAB>MEASURES] (4 or 5 fields, not %d)", l->nf);
    if (pass != 2) return 0;
    int cat = cx_enum_parse(cx_category_names, CX_CAT_COUNT, f[2]);
    if (!code_ok(f[1])) return bad_code(w, "list", f[1]);
    if (cat < 0) return why(w, "list: unknown category \"%.*s\" (%s)", SHOWN(f[2]), CATS);
    if (!name_ok(f[3], sizeof c->lists[0].name)) return bad_name(w, "list", sizeof c->lists[0].name);
    if (cx_catalog_list(c, f[1]) >= 0) return why(w, "list \"%.*s\" is listed twice", SHOWN(f[1]));
    if (c->n_lists >= CX_MAX_LISTS) return why(w, "more than %d list types", CX_MAX_LISTS);
    mask_ctx m = {c, 0, {NULL, 0}};
    if (l->nf == 5 && each_item(f[4], add_measure, &m))
      return why(w, "list: unknown measure \"%.*s\" (no measure line names it)", SHOWN(m.bad));
    copy(c->lists[c->n_lists].code, f[1]);
    copy(c->lists[c->n_lists].name, f[3]);
    c->lists[c->n_lists].category = (uint8_t)cat;
    c->lists[c->n_lists].defaults = m.mask;
    c->n_lists++;
  } else if (kw(f[0], "display")) {
    if (l->nf != 5)
      return why(w, "display: expected display<TAB>TIER<TAB>PUBLISH<TAB>MIN_MONTHS<TAB>MAX_MONTHS (5 fields, not %d)", l->nf);
    if (pass != 2) return 0;
    int sev = cx_enum_parse(cx_severity_names, CX_SEV_COUNT, f[1]);
    uint32_t pub, mn, mx;
    if (sev < 0) return why(w, "display: unknown tier \"%.*s\" (minor, general, serious)", SHOWN(f[1]));
    if (!parse_u32(f[2], &pub) || pub > 1) return why(w, "display: publish must be 0 or 1");
    if (!parse_u32(f[3], &mn) || !parse_u32(f[4], &mx)) return why(w, "display: the periods must be whole months");
    /* Months since the 2025 measures; at most 10 years (a file still in days fails here). */
    if (mn > mx) return why(w, "display: the minimum period is above the maximum");
    if (mx > 120) return why(w, "display: a period above 120 months (is the file still in days?)");
    c->display[sev].publish = (uint8_t)pub;
    c->display[sev].min_months = (uint16_t)mn;
    c->display[sev].max_months = (uint16_t)mx;
  } else if (kw(f[0], "negative")) {
    if (l->nf != 2) return why(w, "negative: expected negative<TAB>CATEGORY[:SUBTYPE],... (2 fields, not %d)", l->nf);
    if (pass != 2) return 0;
    uint32_t neg[CX_CAT_COUNT] = {0};
    if (!kw(f[1], "none") && each_item(f[1], add_negative, neg))
      return why(w, "negative: an item is not a category or category:subtype (%s)", CATS);
    memcpy(c->negative, neg, sizeof neg);
  } else if (kw(f[0], "tier")) {
    if (pass != 3) return l->nf < 4 ? why(w, "tier: expected tier<TAB>TIER<TAB>RULE<TAB>... (at least 4 fields)") : 0;
    return parse_tier(c, l, w);
  } else if (kw(f[0], "advisory")) {
    /* advisory tier <tiers,> | advisory fine <元> */
    if (l->nf != 3) return why(w, "advisory: expected advisory<TAB>tier<TAB>TIERS or advisory<TAB>fine<TAB>YUAN");
    if (pass != 2) return 0;
    if (kw(f[1], "tier")) {
      adv_ctx a = {0};
      if (!kw(f[2], "none") && (each_item(f[2], add_tier, &a) || !a.mask))
        return why(w, "advisory tier: a comma-separated list of minor, general, serious (or none)");
      c->advisory_tiers = a.mask;
    } else if (kw(f[1], "fine")) {
      int64_t fen;
      if (!parse_yuan(f[2], &fen) || fen <= 0) return why(w, "advisory fine: an amount in yuan above 0");
      c->advisory_fine_fen = fen;
    } else {
      return why(w, "advisory: tier or fine");
    }
  } else if (kw(f[0], "person_public")) {
    if (l->nf != 2) return why(w, "person_public: expected person_public<TAB>CATEGORIES (2 fields, not %d)", l->nf);
    if (pass != 2) return 0;
    mask_ctx m = {c, 0, {NULL, 0}};
    if (!kw(f[1], "none") && (each_item(f[1], add_category, &m) || m.mask == 0))
      return why(w, "person_public: expected categories (%s) or none", CATS);
    c->person_public = (uint32_t)m.mask; /* "none": no record of a person is public */
  } else {
    return why(w, "unknown keyword \"%.*s\" (action, edition, label, measure, list, display, negative, tier, "
                  "person_public)", SHOWN(f[0]));
  }
  return 0;
}

int cx_catalog_parse_why(const char *text, size_t n, cx_catalog *out, int *bad_line, char *whybuf,
                         size_t cap) {
  if (!text) n = 0;
  cat_why w = {whybuf, cap};
  if (whybuf && cap) whybuf[0] = 0;
  catalog_defaults(out);
  /* The file itself is stored (data DB), comments included: every line is text. */
  if (cx_text_lines_check(text, n, bad_line)) {
    why(&w, "not UTF-8, or holds a control character");
    return CX_EBADREQ;
  }
  for (int pass = 0; pass < 4; pass++) {
    int line = 0;
    size_t i = 0;
    while (i < n) {
      size_t e = i;
      while (e < n && text[e] != '\n') e++;
      line++;
      cat_line l;
      split(text + i, e - i, &l);
      i = e + 1;
      if (parse_line(out, &l, pass, &w)) {
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

int cx_catalog_parse(const char *text, size_t n, cx_catalog *out, int *bad_line) {
  return cx_catalog_parse_why(text, n, out, bad_line, NULL, 0);
}

/* ===================================================================== labels */

const char *const cx_label_kind_names[CX_LABEL_KINDS] = {"category", "subtype", "status",
                                                         "severity", "domain",  "kind"};

const char *const *cx_label_table(int kind, int *n) {
  switch (kind) {
  case CX_LABEL_CATEGORY: *n = CX_CAT_COUNT; return cx_category_names;
  case CX_LABEL_SUBTYPE: *n = CX_SUB_COUNT; return cx_subtype_names;
  case CX_LABEL_STATUS: *n = CX_ST_COUNT; return cx_status_names;
  case CX_LABEL_SEVERITY: *n = CX_SEV_COUNT; return cx_severity_names;
  case CX_LABEL_DOMAIN: *n = CX_DOM_COUNT; return cx_domain_names;
  case CX_LABEL_KIND: *n = CX_KIND_COUNT; return cx_kind_names;
  default: *n = 0; return NULL;
  }
}

const char *cx_catalog_label(const cx_catalog *c, int kind, unsigned v) {
  if (!c || kind < 0 || kind >= CX_LABEL_KINDS || v >= CX_LABEL_SLOTS) return "";
  return c->labels[kind][v];
}
