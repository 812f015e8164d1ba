/* test_public_model.c — the public view against a model that holds only the displayable records.
 *
 * Random stores (fixed seeds) of enterprises, other USCC kinds, persons and civil servants with
 * records of every category: given and derived tiers, list types, explicit measures, objections,
 * month-end decisions, replacements, and lifecycle transitions (repair, revoke, reinstate,
 * objection, withdraw) written through cx_batch. Then, for many days D set as today, every
 * public answer must equal what the test's own model answers from the records displayable on D:
 *  - cx_query_entity: counts, flags, last_update, masked code, name, kind, a civil servant's
 *    authority; an entity with nothing displayable is CX_ENOTFOUND like an unknown code;
 *  - cx_query_records: every page of every category filter, newest first, each record once;
 *    hidden and unknown codes CX_ENOTFOUND with any cursor (and the same answer for odd
 *    arguments), a garbage or foreign cursor CX_EBADREQ for a visible entity;
 *  - cx_query_search: name and code prefixes in index order, then names holding the query in
 *    entity-id order; no person ever, limit and a
 *    callback that stops; cx_query_aggregate: rows, suppression, order and limit;
 *  - another as_of: CX_EPUBLICDAY; and for approval and analyst their counts and records;
 *  - the same after the catalogue is replaced (display periods, negative, person_public,
 *    measure effects), and with an entity whose check index spills into chunks.
 * The model is written from the contract in query.h ("displayable to the public") and the
 * catalogue, not from query/: it never calls cx_query_displayable or cx_query_visible.
 *
 * A discrepancy does not stop the run: each is printed (seed, day, code, request) under a tag,
 * and the test fails at the end with the number found (and a count per tag). */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "query.h"
#include "testutil.h"

#define MAX_ENT 112
#define MAX_REC 1400
#define N_AUTH 5
#define MAX_PAGE 1100
#define N_COUNTY 6

static const uint32_t counties[N_COUNTY] = {350102, 350103, 350203, 110105, 110108, 320102};

/* ===================================================================== model state */

typedef struct ment {
  char code[CX_CODE_LEN + 1];
  char shown[CX_CODE_LEN + 1]; /* masked when an ID number */
  char name[160];
  char norm[320];
  size_t norm_n;
  uint8_t kind;
  int is_id;
  uint32_t county;
  int n_recs;
  int order[MAX_REC]; /* record indexes in key order (decision desc, seq asc) */
} ment;

typedef struct mrec {
  int ent, auth;
  char rid[24];
  uint8_t category, subtype, domain, sev_given; /* sev_given: CX_SEV_UNSET = derive */
  int list;                                     /* catalogue list index or -1 */
  const char *measures;                         /* explicit measure codes or "" */
  const char *content;
  int64_t amount;
  cx_day decision, vfrom, vuntil, report;
  uint8_t status, objection; /* the test's own state machine */
  /* read back from the store: */
  int seen;
  uint32_t seq;
  uint8_t tier;
  /* derived once: */
  int negative;
  int restricts;
} mrec;

static ment ents[MAX_ENT];
static int n_ent;
static mrec recs[MAX_REC];
static int n_rec;
static char auths[N_AUTH][CX_CODE_LEN + 1];
static char unknown[16][CX_CODE_LEN + 1];
static int n_unknown;

static char dir[256];
static cx_store *ST;
static cx_query *Q;
static cx_txn *T;
static const cx_catalog *CAT;
static uint64_t restrict_bits; /* measures whose effect is deny or review */

static unsigned SEED;
static cx_day DAY;
static long n_req;     /* requests tried, all seeds */
static long n_bad;     /* discrepancies, this seed */
static long n_bad_all; /* discrepancies, all seeds */
/* What the checks compared (so that a run that compares nothing shows it): */
static long st_vis_ent, st_hidden_ent, st_recs, st_hits, st_rows;
static long st_vis_person, st_flag[4]; /* visible persons; model flags set (bits 1, 2, 4, 8) */

/* Per day: */
static unsigned char disp[MAX_REC], inf[MAX_REC];
static int ent_vis[MAX_ENT]; /* displayable records of the entity on DAY */

/* ===================================================================== rng, reports */

static uint64_t rng;
static uint32_t rnd(uint32_t n) {
  rng ^= rng << 13;
  rng ^= rng >> 7;
  rng ^= rng << 17;
  return n ? (uint32_t)((rng >> 11) % n) : 0;
}

#define MAX_TAGS 48
static struct {
  const char *tag;
  long n;
} tags[MAX_TAGS];
static int n_tags;

static const char *dayfmt(cx_day d) {
  static char buf[4][11];
  static int k;
  k = (k + 1) & 3;
  cx_day_format(d, buf[k]);
  return buf[k];
}

/* The enum name of a return code (cx_err_name gives wire names, several codes share one). */
static const char *rcname(int rc) {
  static char buf[4][48];
  static int k;
#define RC_CASE(e, v, n, m) case e: return #e;
  switch (rc) {
  case 0: return "0";
  CX_ERR_TABLE(RC_CASE)
  default: break;
  }
#undef RC_CASE
  k = (k + 1) & 3;
  snprintf(buf[k], sizeof buf[k], "%d", rc);
  return buf[k];
}

/* One discrepancy: counted under its tag; the first few of each tag are printed. */
__attribute__((format(printf, 2, 3))) static void bad(const char *tag, const char *fmt, ...) {
  n_bad++;
  int i;
  for (i = 0; i < n_tags; i++)
    if (strcmp(tags[i].tag, tag) == 0) break;
  if (i == n_tags && n_tags < MAX_TAGS) tags[n_tags++].tag = tag;
  if (i < MAX_TAGS && ++tags[i].n > 6) return;
  char msg[1024];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(msg, sizeof msg, fmt, ap);
  va_end(ap);
  fprintf(stderr, "public_model [%s] seed %u today %s: %s\n", tag, SEED, dayfmt(DAY), msg);
}

/* ===================================================================== codes and names */

static int kind_is_person(uint8_t k) { return k == CX_KIND_PERSON || k == CX_KIND_CIVIL_SERVANT; }

static void gen_code(uint8_t kind, unsigned n, uint32_t county, char out[CX_CODE_LEN + 1]) {
  char b[32];
  int id = kind_is_person(kind);
  switch (kind) {
  case CX_KIND_ENTERPRISE: snprintf(b, sizeof b, "91%06uMA%06u0", county, n % 1000000u); break;
  case CX_KIND_INDIVIDUAL_BUSINESS:
    snprintf(b, sizeof b, "92%06uMA%06u0", county, n % 1000000u);
    break;
  case CX_KIND_GOVERNMENT:
  case CX_KIND_SUBDISTRICT: snprintf(b, sizeof b, "11%06u%08u0", county, n % 1000000u); break;
  case CX_KIND_INSTITUTION: snprintf(b, sizeof b, "12%06u%08u0", county, n % 1000000u); break;
  case CX_KIND_SOCIAL_ORG: snprintf(b, sizeof b, "51%06u%08u0", county, n % 1000000u); break;
  default: /* person, civil servant: county, birth date 1960..1999, sequence */
    snprintf(b, sizeof b, "%06u%04u%02u%02u%03u", county, 1960 + n % 40, 1 + n % 12,
             1 + (n / 12) % 28, n % 1000u);
    break;
  }
  cr_assert_eq(strlen(b), 17, "code body %s", b);
  if (!id) b[16] = cx_orgcode_check_char(b + 8);
  memcpy(out, b, 17);
  out[17] = id ? cx_idcard_check_char(b) : cx_uscc_check_char(b);
  out[18] = 0;
}

static const char *const place[] = {"福州",    "福州市", "厦门", "北京",
                                    "Fuzhou ", "ＡＢＣ", "张记", "(闽)"};
static const char *const mid[] = {"恒信", "华安", "某某", " 新 ", "（集团）", "Tech", "鼓楼", "ab"};
static const char *const tail[] = {"有限公司", "商行", "科技有限公司", "建设（福建）有限公司",
                                   "服务中心", "局"};
static const char *const surname[] = {"张", "李", "王", "陈", "林"};
static const char *const given[] = {"三", "伟", "芳", "明", "小红"};

static void gen_name(const ment *e, int i, char *out, size_t cap) {
  if (kind_is_person(e->kind)) {
    snprintf(out, cap, "%s%s%s", surname[rnd(5)], given[rnd(5)],
             rnd(2) ? "" : (i % 2 ? "甲" : "乙"));
    return;
  }
  /* i % 7 makes some names normalise alike: the code orders them in the names index */
  snprintf(out, cap, "%s%s%d%s", place[rnd(8)], mid[rnd(8)], i % 7, tail[rnd(6)]);
}

/* The county of a normalised code (store.h: ID positions 1-6, USCC positions 3-8). */
static uint32_t code_county(const char *code, int is_id) {
  uint32_t v = 0;
  for (int i = is_id ? 0 : 2, k = 0; k < 6; i++, k++) v = v * 10 + (uint32_t)(code[i] - '0');
  return v;
}

/* ===================================================================== catalogue model */

static int lists_of(int category, int out[CX_MAX_LISTS]) {
  int n = 0;
  for (uint32_t i = 0; i < CAT->n_lists; i++)
    if (CAT->lists[i].category == category) out[n++] = (int)i;
  return n;
}

/* The header's tier rule (cx_catalog_tier): list rule; else the rule of the list's category;
 * else the highest keyword / fine match; else the category rule; else general. */
static uint8_t model_tier(const mrec *m) {
  int best = -1, by_cat = -1, by_lists = -1;
  for (uint32_t i = 0; i < CAT->n_tier_rules; i++) {
    const cx_tier_rule *t = &CAT->tier_rules[i];
    switch (t->match) {
    case CX_TIER_LIST:
      if (m->list >= 0 && t->list == m->list) return t->tier;
      break;
    case CX_TIER_LISTS:
      if (m->list >= 0 && t->category == CAT->lists[m->list].category) by_lists = t->tier;
      break;
    case CX_TIER_KEYWORD:
      if (t->text[0] && strstr(m->content, t->text) && t->tier > best) best = t->tier;
      break;
    case CX_TIER_FINE:
      if (m->amount > 0 && m->amount >= t->from_fen && (t->to_fen < 0 || m->amount < t->to_fen) &&
          t->tier > best)
        best = t->tier;
      break;
    case CX_TIER_CATEGORY:
      if (t->category == m->category) by_cat = t->tier;
      break;
    }
  }
  if (by_lists >= 0) return (uint8_t)by_lists;
  if (best >= 0) return (uint8_t)best;
  return by_cat >= 0 ? (uint8_t)by_cat : (uint8_t)CX_SEV_GENERAL;
}

/* The record's measure mask: its own codes, or its list type's defaults when it names none. */
static uint64_t model_mask(const mrec *m) {
  if (m->measures[0]) {
    uint64_t mask = 0;
    cx_str badc;
    cr_assert_eq(cx_catalog_measures(CAT, m->list, cx_str_c(m->measures), &mask, &badc), 0);
    return mask;
  }
  return m->list >= 0 ? CAT->lists[m->list].defaults : 0;
}

/* ===================================================================== the model's visibility */

static int m_in_force(const mrec *m, cx_day d) {
  return m->status == CX_ST_ACTIVE && m->vfrom <= d && (m->vuntil == CX_DAY_OPEN || d < m->vuntil);
}

static int m_displayable(const mrec *m, cx_day d) {
  if (m->status != CX_ST_ACTIVE) return 0;
  if (kind_is_person(ents[m->ent].kind) && !((CAT->person_public >> m->category) & 1u)) return 0;
  if (m->negative) {
    if (m->tier >= CX_SEV_COUNT || !CAT->display[m->tier].publish) return 0;
    cx_day end = cx_day_add_months(m->decision, CAT->display[m->tier].max_months);
    /* the end of a listing ends a list entry's display; a penalty's validity does not */
    int listing = m->category == CX_CAT_BLACKLIST || m->category == CX_CAT_ABNORMAL;
    if (listing && m->vuntil != CX_DAY_OPEN && m->vuntil < end) end = m->vuntil;
    return m->decision <= d && d < end;
  }
  return m->vfrom <= d && (m->vuntil == CX_DAY_OPEN || d < m->vuntil);
}

static void model_day(cx_day d) {
  memset(ent_vis, 0, sizeof ent_vis);
  for (int i = 0; i < n_rec; i++) {
    disp[i] = (unsigned char)m_displayable(&recs[i], d);
    inf[i] = (unsigned char)m_in_force(&recs[i], d);
    ent_vis[recs[i].ent] += disp[i];
  }
}

/* ===================================================================== building a store */

static const char *const contents[] = {
    "", "罚款", "警告", "通报批评", "简易程序，警告", "没收违法所得", "暂扣许可证", "降低资质等级",
    "吊销营业执照", "责令停产停业", "责令关闭", "限制从业", "警告并没收违法所得", "罚款并吊销许可证",
    "限制开展生产经营活动", "责令改正"};
static const char *const measure_sets[] = {"no_procurement,review_license", "fast_track",
                                           "review_subsidy", "no_bidding",
                                           "tolerance,honour_priority"};

static cx_day ymd(int y, int m, int d) {
  cx_day out = 0;
  cr_assert_eq(cx_day_from_ymd(y, m, d, &out), 0, "%d-%d-%d", y, m, d);
  return out;
}

static int days_in_month(int y, int m) {
  static const int dm[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0)) return 29;
  return dm[m - 1];
}

static void gen_entities(void) {
  n_ent = 56 + (int)rnd(48);
  for (int i = 0; i < n_ent; i++) {
    ment *e = &ents[i];
    memset(e, 0, sizeof *e);
    uint32_t r = rnd(100);
    e->kind = r < 36   ? CX_KIND_ENTERPRISE
              : r < 44 ? CX_KIND_INDIVIDUAL_BUSINESS
              : r < 49 ? CX_KIND_GOVERNMENT
              : r < 52 ? CX_KIND_INSTITUTION
              : r < 55 ? CX_KIND_SOCIAL_ORG
              : r < 57 ? CX_KIND_SUBDISTRICT
              : r < 80 ? CX_KIND_PERSON
                       : CX_KIND_CIVIL_SERVANT;
    e->is_id = kind_is_person(e->kind);
    e->county = counties[rnd(N_COUNTY)];
    gen_code(e->kind, 100 + (unsigned)i, e->county, e->code);
    cr_assert_eq(code_county(e->code, e->is_id), e->county);
    if (e->is_id)
      cx_idcard_mask(e->code, e->shown);
    else
      memcpy(e->shown, e->code, sizeof e->shown);
    gen_name(e, i, e->name, sizeof e->name);
    e->norm_n = cx_name_normalize(e->name, strlen(e->name), e->norm, sizeof e->norm);
  }
  for (int a = 0; a < N_AUTH; a++) {
    char b[32];
    snprintf(b, sizeof b, "11350100%08u0", 900000u + (unsigned)a);
    b[16] = cx_orgcode_check_char(b + 8);
    memcpy(auths[a], b, 17);
    auths[a][17] = cx_uscc_check_char(b);
    auths[a][18] = 0;
  }
  /* valid codes the store never sees (of every code shape) */
  n_unknown = 0;
  static const uint8_t uk[] = {CX_KIND_ENTERPRISE, CX_KIND_PERSON, CX_KIND_GOVERNMENT,
                               CX_KIND_INDIVIDUAL_BUSINESS};
  for (int i = 0; i < 12; i++)
    gen_code(uk[i % 4], 600 + (unsigned)i * 7, counties[i % N_COUNTY], unknown[n_unknown++]);
}

static void gen_record(mrec *m, int ent) {
  ment *e = &ents[ent];
  m->ent = ent;
  m->auth = (int)rnd(N_AUTH);
  if (kind_is_person(e->kind) && rnd(100) < 45) {
    m->category = CX_CAT_BLACKLIST;
  } else if ((e->kind == CX_KIND_GOVERNMENT || e->kind == CX_KIND_CIVIL_SERVANT) && rnd(3) == 0) {
    m->category = CX_CAT_GOV_DISHONESTY;
  } else {
    static const uint8_t w[CX_CAT_COUNT] = {10, 20, 7, 10, 9, 7, 7, 6, 8, 5, 4, 3, 4}; /* sum 100 */
    uint32_t acc = 0, k = rnd(100);
    m->category = CX_CAT_EVALUATION;
    for (int c = 0; c < CX_CAT_COUNT; c++) {
      acc += w[c];
      if (k < acc) {
        m->category = (uint8_t)c;
        break;
      }
    }
  }
  m->subtype = CX_SUB_NONE;
  if (m->category == CX_CAT_GOV_DISHONESTY)
    m->subtype = (uint8_t)(rnd(2) ? CX_SUB_NONE : CX_SUB_JUDGMENT + rnd(4));
  if (m->category == CX_CAT_COMMITMENT)
    m->subtype = (uint8_t)(rnd(3) == 0 ? CX_SUB_NONE : CX_SUB_KEPT + rnd(2));
  if (m->category == CX_CAT_LAWSUIT)
    m->subtype = (uint8_t)(rnd(3) == 0 ? CX_SUB_NONE : CX_SUB_WON + rnd(2));
  if (m->category == CX_CAT_COMPULSION)
    m->subtype = (uint8_t)(rnd(3) == 0 ? CX_SUB_NONE : CX_SUB_COERCIVE_MEASURE + rnd(2));
  if (m->category == CX_CAT_INSPECTION)
    m->subtype = (uint8_t)(rnd(3) == 0 ? CX_SUB_NONE : CX_SUB_COMPLIANT + rnd(2));
  int ls[CX_MAX_LISTS], nl = lists_of(m->category, ls);
  m->list = -1;
  if (nl && (m->category == CX_CAT_BLACKLIST || m->category == CX_CAT_REDLIST || rnd(3) == 0))
    m->list = ls[rnd((uint32_t)nl)];
  m->measures = rnd(7) == 0 ? measure_sets[rnd(5)] : "";
  m->domain = (uint8_t)rnd(CX_DOM_COUNT);
  m->sev_given = rnd(100) < 45 ? (uint8_t)CX_SEV_UNSET : (uint8_t)rnd(CX_SEV_COUNT);
  m->content = contents[rnd(sizeof contents / sizeof contents[0])];
  /* amounts around the fine rules' edges (1,000 and 1,000,000 yuan) */
  static const int64_t edge[] = {99999, 100000, 99999999, 100000000, 1};
  uint32_t a = rnd(8);
  if (a < 3) m->amount = 0;
  else if (a == 3) m->amount = 1 + rnd(99999);         /* below 1,000 yuan */
  else if (a == 4) m->amount = 100000 + rnd(99900000); /* 1,000 .. 999,999 yuan */
  else if (a == 5) m->amount = 100000000 + (int64_t)rnd(900000000);
  else if (a == 6) m->amount = edge[rnd(5)];
  else m->amount = rnd(5000) * 100;
  /* decisions over 2021..2026, a fifth on a month's last days (month-clamped windows) */
  if (rnd(5) == 0) {
    int y = 2021 + (int)rnd(6), mo = 1 + (int)rnd(12), dm = days_in_month(y, mo);
    m->decision = ymd(y, mo, dm - (int)rnd(3));
  } else {
    m->decision = ymd(2021, 1, 1) + rnd(2191);
  }
  uint32_t vf = rnd(20);
  m->vfrom = vf < 13   ? m->decision
             : vf < 19 ? m->decision + 1 + rnd(40)
                       : m->decision - 1 - rnd(60);
  uint32_t vu = rnd(20);
  if (vu < 9) {
    m->vuntil = CX_DAY_OPEN;
  } else if (vu < 12) { /* exactly a display period: ties with the window's end */
    static const int mo[] = {3, 12, 36, 6, 24, 1};
    m->vuntil = cx_day_add_months(m->decision, mo[rnd(6)]);
    if (m->vuntil <= m->vfrom) m->vuntil = m->vfrom + 1;
  } else {
    m->vuntil = m->vfrom + 1 + rnd(1500);
  }
  m->report = rnd(10) < 6 ? m->decision + rnd(20) : CX_DAY_NONE;
  m->objection = rnd(12) == 0;
  m->status = CX_ST_ACTIVE;
}

static void put_rec(cx_batch *b, const mrec *m) {
  const ment *e = &ents[m->ent];
  cx_record r;
  cx_record_defaults(&r);
  r.record_id = cx_str_c(m->rid);
  r.authority_code = cx_str_c(auths[m->auth]);
  r.authority_name = CX_STR("福州市市场监督管理局");
  r.entity_code = cx_str_c(e->code);
  r.entity_name = cx_str_c(e->name);
  r.entity_kind = e->kind;
  if (m->list >= 0) r.list_type = cx_str_c(CAT->lists[m->list].code);
  r.measures = cx_str_c(m->measures);
  r.content = cx_str_c(m->content);
  r.category = m->category;
  r.subtype = m->subtype;
  r.domain = m->domain;
  r.severity = m->sev_given;
  r.status = CX_ST_ACTIVE; /* a re-sent row keeps the lifecycle state (never `revoked` here) */
  r.objection = m->objection;
  r.decision_date = m->decision;
  r.report_date = m->report;
  r.valid_from = m->vfrom;
  r.valid_until = m->vuntil;
  r.amount_fen = m->amount;
  const char *why = NULL;
  int rc = cx_batch_put(b, &r, &why);
  cr_assert_eq(rc, 0, "seed %u put %s: %s (%s)", SEED, m->rid, cx_strerror(rc), why ? why : "");
}

static cx_batch *batch_begin(void) {
  cx_batch *b;
  cr_assert_eq(cx_batch_begin(ST, &b), 0);
  cx_batch_actor a;
  memset(&a, 0, sizeof a);
  a.who = CX_STR("public-model-test");
  a.role = CX_STR("admin");
  a.may_override = 1;
  cr_assert_eq(cx_batch_set_actor(b, &a), 0);
  return b;
}

static void batch_commit(cx_batch *b, const char *what) {
  cx_batch_result res;
  memset(&res, 0, sizeof res);
  int rc = cx_batch_commit(b, &res);
  cr_assert_eq(rc, 0, "seed %u commit %s: %s (%s)", SEED, what, cx_strerror(rc), res.error);
}

/* One random lifecycle event the state machine allows on m (applied to the model); 0 if none. */
static int transition(cx_batch *b, mrec *m) {
  int ev = -1;
  uint32_t k = rnd(100);
  if (m->status == CX_ST_ACTIVE) {
    if (m->negative && k < 45)
      ev = CX_EV_REPAIR;
    else if (k < 65)
      ev = CX_EV_REVOKE;
    else
      ev = m->objection ? CX_EV_OBJECTION_WITHDRAW : CX_EV_OBJECTION;
  } else if (m->status == CX_ST_REPAIRED) {
    if (k < 50)
      ev = CX_EV_REINSTATE;
    else if (k < 70)
      ev = CX_EV_REVOKE;
    else
      ev = m->objection ? CX_EV_OBJECTION_WITHDRAW : CX_EV_OBJECTION;
  } else if (m->objection) {
    ev = CX_EV_OBJECTION_WITHDRAW;
  }
  if (ev < 0) return 0;
  const char *why = NULL;
  int rc = cx_batch_transition(b, cx_str_c(auths[m->auth]), cx_str_c(m->rid), ev,
                               ev == CX_EV_REPAIR, CX_STR("model test"), &why);
  cr_assert_eq(rc, 0, "seed %u transition %s %s: %s (%s)", SEED, cx_event_names[ev], m->rid,
               cx_strerror(rc), why ? why : "");
  switch (ev) {
  case CX_EV_REPAIR: m->status = CX_ST_REPAIRED; break;
  case CX_EV_REVOKE: m->status = CX_ST_REVOKED; break;
  case CX_EV_REINSTATE: m->status = CX_ST_ACTIVE; break;
  case CX_EV_OBJECTION: m->objection = 1; break;
  case CX_EV_OBJECTION_WITHDRAW: m->objection = 0; break;
  }
  return 1;
}

static void derive(mrec *m) {
  m->negative = cx_catalog_is_negative(CAT, m->category, m->subtype);
  m->restricts = (model_mask(m) & restrict_bits) != 0;
}

/* Picks an entity: persons and civil servants get fewer records, a few entities get many. */
static int pick_ent(void) {
  if (rnd(10) == 0) return (int)rnd(6); /* the first six: long histories (paging) */
  return (int)rnd((uint32_t)n_ent);
}

/* big: entity 0 also gets GIANT records that carry deny measures, more than one summary value
 * holds of the check index (CX_SUM_MAX_HITS 512): its older hits spill into chunks. */
#define GIANT 800
static void build_store(int big) {
  int total = 300 + (int)rnd(200);
  int first = total * 6 / 10;
  n_rec = 0;
  cx_batch *b = batch_begin();
  for (; n_rec < first; n_rec++) {
    mrec *m = &recs[n_rec];
    memset(m, 0, sizeof *m);
    gen_record(m, pick_ent());
    snprintf(m->rid, sizeof m->rid, "R%d", n_rec);
    derive(m);
    put_rec(b, m);
  }
  for (int k = 0; big && k < GIANT; k++, n_rec++, total++) {
    mrec *m = &recs[n_rec];
    memset(m, 0, sizeof *m);
    gen_record(m, 0);
    int ls[CX_MAX_LISTS], nl;
    m->category = rnd(10) < 7 ? CX_CAT_BLACKLIST : CX_CAT_PENALTY;
    m->subtype = CX_SUB_NONE;
    nl = lists_of(m->category, ls);
    m->list = ls[rnd((uint32_t)nl)];
    m->measures = "";
    if (rnd(100) < 85) m->vuntil = m->vfrom + 1 + rnd(60); /* mostly short: the old ones decide */
    snprintf(m->rid, sizeof m->rid, "R%d", n_rec);
    derive(m);
    put_rec(b, m);
  }
  batch_commit(b, "first puts");

  b = batch_begin();
  for (int i = 0; i < n_rec; i++)
    if (rnd(4) == 0) transition(b, &recs[i]);
  batch_commit(b, "first transitions");

  /* the rest, and replacements (same authority and record_id, same entity: new content; the
   * lifecycle state is kept) */
  b = batch_begin();
  int n_old = n_rec;
  for (; n_rec < total; n_rec++) {
    mrec *m = &recs[n_rec];
    memset(m, 0, sizeof *m);
    gen_record(m, pick_ent());
    snprintf(m->rid, sizeof m->rid, "R%d", n_rec);
    derive(m);
    put_rec(b, m);
  }
  for (int k = 0; k < n_old / 10; k++) {
    mrec *m = &recs[rnd((uint32_t)n_old)];
    mrec old = *m;
    gen_record(m, old.ent);
    m->auth = old.auth;
    memcpy(m->rid, old.rid, sizeof m->rid);
    uint8_t row_objection = m->objection;
    m->status = old.status;
    m->objection = old.objection;
    derive(m);
    uint8_t keep = m->objection;
    m->objection = row_objection; /* the row says what it says; the store keeps the state */
    put_rec(b, m);
    m->objection = keep;
  }
  batch_commit(b, "second puts and replacements");

  b = batch_begin();
  for (int i = 0; i < n_rec; i++)
    if (rnd(5) == 0) transition(b, &recs[i]);
  batch_commit(b, "second transitions");
}

/* ===================================================================== read back */

static int readback_cb(void *ctx, const cx_reckey *key, const cx_record *r) {
  (void)ctx;
  (void)key;
  int idx = -1;
  if (r->record_id.n > 1 && r->record_id.p[0] == 'R') idx = atoi(r->record_id.p + 1);
  cr_assert(idx >= 0 && idx < n_rec, "unknown record %.*s", (int)r->record_id.n, r->record_id.p);
  mrec *m = &recs[idx];
  const ment *e = &ents[m->ent];
  cr_assert_eq(m->seen, 0, "record %s twice", m->rid);
  m->seen = 1;
  m->seq = r->seq;
  m->tier = r->severity;
  cr_assert(cx_str_eq(r->entity_code, cx_str_c(e->code)), "record %s entity", m->rid);
  cr_assert(cx_str_eq(r->authority_code, cx_str_c(auths[m->auth])), "record %s authority", m->rid);
  if (r->status != m->status || r->objection != m->objection)
    bad("lifecycle", "record %s: stored status %s objection %u, the state machine says %s %u",
        m->rid, cx_status_names[r->status], r->objection, cx_status_names[m->status], m->objection);
  uint8_t want = m->sev_given == CX_SEV_UNSET ? model_tier(m) : m->sev_given;
  if (r->severity != want)
    bad("tier",
        "record %s (%s, list %s, content \"%s\", amount_fen %lld, given %s): stored tier %u, "
        "expected %s",
        m->rid, cx_category_names[m->category], m->list >= 0 ? CAT->lists[m->list].code : "-",
        m->content, (long long)m->amount,
        m->sev_given == CX_SEV_UNSET ? "unset" : cx_severity_names[m->sev_given], r->severity,
        cx_severity_names[want]);
  if (r->region != e->county)
    bad("region", "record %s: region %u, code says %u", m->rid, r->region, e->county);
  if (r->entity_kind != e->kind)
    bad("kind", "record %s: kind %u, written %u", m->rid, r->entity_kind, e->kind);
  if (r->decision_date != m->decision || r->valid_from != m->vfrom || r->valid_until != m->vuntil ||
      r->category != m->category || r->subtype != m->subtype || r->amount_fen != m->amount)
    bad("fields", "record %s: stored fields differ from the last row written", m->rid);
  return 0;
}

static int cmp_key_idx(const void *a, const void *b) {
  const mrec *x = &recs[*(const int *)a], *y = &recs[*(const int *)b];
  if (x->decision != y->decision) return x->decision > y->decision ? -1 : 1;
  return x->seq < y->seq ? -1 : x->seq > y->seq;
}

static void read_back(void) {
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(ST, &t), 0);
  cr_assert_eq(cx_store_records_scan(t, readback_cb, NULL), 0);
  cx_store_txn_end(t);
  for (int i = 0; i < n_rec; i++)
    cr_assert(recs[i].seen, "record %s not in the store", recs[i].rid);
  for (int e = 0; e < n_ent; e++) ents[e].n_recs = 0;
  for (int i = 0; i < n_rec; i++) {
    ment *e = &ents[recs[i].ent];
    e->order[e->n_recs++] = i;
  }
  for (int e = 0; e < n_ent; e++)
    qsort(ents[e].order, (size_t)ents[e].n_recs, sizeof(int), cmp_key_idx);
}

/* ===================================================================== requests */

static cx_txn *txn(void) {
  if (T) {
    cx_store_txn_reset(T);
    cr_assert_eq(cx_store_txn_renew(T), 0);
  } else {
    cr_assert_eq(cx_store_txn_begin(ST, &T), 0);
  }
  return T;
}

static int q_entity(cx_role role, const char *code, cx_day as_of, cx_entity_status *es) {
  n_req++;
  memset(es, 0, sizeof *es);
  return cx_query_entity(Q, T, role, cx_str_c(code), as_of, es);
}

typedef struct page {
  int n;
  int idx[MAX_PAGE];
  unsigned char in_force[MAX_PAGE], displayable[MAX_PAGE];
  int bad_code; /* records whose entity_code is not what the role may see */
} page;

typedef struct page_ctx {
  page *p;
  const char *want_code;
} page_ctx;

static int page_cb(void *vctx, const cx_record_view *v) {
  page_ctx *c = vctx;
  page *p = c->p;
  int idx = -1;
  if (v->r->record_id.n > 1 && v->r->record_id.p[0] == 'R') idx = atoi(v->r->record_id.p + 1);
  if (idx < 0 || idx >= n_rec || !cx_str_eq(v->r->record_id, cx_str_c(recs[idx].rid))) idx = -1;
  if (!cx_str_eq(v->r->entity_code, cx_str_c(c->want_code))) p->bad_code++;
  if (p->n < MAX_PAGE) {
    p->idx[p->n] = idx;
    p->in_force[p->n] = (unsigned char)(v->in_force != 0);
    p->displayable[p->n] = (unsigned char)(v->displayable != 0);
    p->n++;
  }
  return 0;
}

static page SCRATCH; /* records of calls that should fail (or whose records are not checked) */

static int q_records(cx_role role, const char *code, int category, const char *cursor,
                     uint32_t limit, cx_day as_of, page *out, const char *want_code,
                     char next[CX_CURSOR_MAX]) {
  n_req++;
  cx_records_req req;
  memset(&req, 0, sizeof req);
  req.code = cx_str_c(code);
  req.category = category;
  req.cursor = cx_str_c(cursor);
  req.limit = limit;
  req.as_of = as_of;
  req.role = role;
  page_ctx c = {out ? out : &SCRATCH, want_code ? want_code : ""};
  c.p->n = c.p->bad_code = 0;
  next[0] = 0;
  return cx_query_records(Q, T, &req, page_cb, &c, next);
}

/* A pool of valid cursors (of visible entities) to hand to other entities. */
typedef struct pooled {
  char cursor[CX_CURSOR_MAX];
  int ent, category;
} pooled;
static pooled pool[64];
static int n_pool;

static void pool_add(const char *cursor, int ent, int category) {
  pooled *p = &pool[n_pool < 64 ? n_pool++ : (int)rnd(64)];
  snprintf(p->cursor, sizeof p->cursor, "%s", cursor);
  p->ent = ent;
  p->category = category;
}

static void garbage_cursor(char out[CX_CURSOR_MAX]) {
  static const char hex[] = "0123456789abcdef";
  switch (rnd(4)) {
  case 0: /* well-formed hex, wrong MAC */
    for (int i = 0; i < 44; i++) out[i] = hex[rnd(16)];
    out[44] = 0;
    break;
  case 1: snprintf(out, CX_CURSOR_MAX, "zz-not-a-cursor"); break;
  case 2: /* a real cursor with one character changed */
    if (n_pool) {
      snprintf(out, CX_CURSOR_MAX, "%s", pool[rnd((uint32_t)n_pool)].cursor);
      size_t n = strlen(out);
      size_t k = rnd((uint32_t)n);
      out[k] = out[k] == '0' ? '1' : '0';
      break;
    }
    /* fall through */
  default:
    for (int i = 0; i < 43; i++) out[i] = hex[rnd(16)];
    out[43] = 0; /* one short */
    break;
  }
}

/* ===================================================================== entity checks */

typedef struct expect_ent {
  cx_cat_counts counts[CX_CAT_COUNT];
  uint32_t flags;
  cx_day last;
  int n;
} expect_ent;

/* role: which records count (public: displayable; approval: active; others: all). */
static void expect_entity(int e, cx_role role, cx_day d, expect_ent *x) {
  memset(x, 0, sizeof *x);
  for (int k = 0; k < ents[e].n_recs; k++) {
    int i = ents[e].order[k];
    const mrec *m = &recs[i];
    int seen = role == CX_ROLE_PUBLIC     ? disp[i]
               : role == CX_ROLE_APPROVAL ? m->status == CX_ST_ACTIVE
                                          : 1;
    if (!seen) continue;
    x->n++;
    cx_cat_counts *c = &x->counts[m->category];
    c->total++;
    c->in_force += inf[i];
    c->visible += disp[i];
    if (inf[i] && m->category == CX_CAT_BLACKLIST) x->flags |= CX_EF_BLACKLISTED;
    if (inf[i] && m->category == CX_CAT_REDLIST) x->flags |= CX_EF_REDLISTED;
    if (inf[i] && m->restricts) x->flags |= CX_EF_UNDER_MEASURES;
    if (m->status == CX_ST_ACTIVE && m->objection) x->flags |= CX_EF_OBJECTION;
    if (m->decision > x->last) x->last = m->decision;
  }
  (void)d;
}

static void describe_counts(const cx_cat_counts *c, char *out, size_t cap) {
  size_t o = 0;
  out[0] = 0;
  for (int k = 0; k < CX_CAT_COUNT && o < cap; k++)
    if (c[k].total || c[k].in_force || c[k].visible)
      o += (size_t)snprintf(out + o, cap - o, " %s=%u/%u/%u", cx_category_names[k], c[k].total,
                            c[k].in_force, c[k].visible);
}

/* The code as a caller may type it: now and then lower case between blanks (query.h: any
 * case and whitespace). */
static const char *as_typed(const char *code) {
  static char buf[32];
  if (rnd(8)) return code;
  size_t o = (size_t)snprintf(buf, sizeof buf, " ");
  for (const char *p = code; *p; p++) buf[o++] = (*p >= 'A' && *p <= 'Z') ? (char)(*p + 32) : *p;
  buf[o++] = '\t';
  buf[o] = 0;
  return buf;
}

/* A civil servant's authority: that of a record the role may see (the newest of them), or
 * none, never that of a newer record hidden from it (query.h: everything the public is told
 * comes from its displayable records; approval no longer receives repaired or revoked ones). */
static void check_authority(int e, cx_role role, const cx_entity_status *es) {
  const ment *en = &ents[e];
  if (en->kind != CX_KIND_CIVIL_SERVANT || !es->authority_code.n) return;
  int newest = -1;
  for (int k = 0; k < en->n_recs && newest < 0; k++) {
    int i = en->order[k];
    if (role == CX_ROLE_PUBLIC ? disp[i] : recs[i].status == CX_ST_ACTIVE) newest = i;
  }
  if (newest < 0) return;
  const char *want = auths[recs[newest].auth];
  if (cx_str_eq(es->authority_code, cx_str_c(want))) return;
  int from = -1;
  for (int k = 0; k < en->n_recs && from < 0; k++)
    if (cx_str_eq(es->authority_code, cx_str_c(auths[recs[en->order[k]].auth])))
      from = en->order[k];
  /* a hidden record decided after today exists only because the test moves today */
  const char *tag = role != CX_ROLE_PUBLIC                          ? "approval-authority"
                    : from >= 0 && recs[from].decision > DAY ? "entity-authority-future"
                                                              : "entity-authority";
  bad(tag,
      "%s: civil servant %s: authority_code %.*s (that of record %s, %s %s, decision %s); the "
      "newest record it may see, %s (decision %s), has %s",
      cx_role_names[role], en->shown, (int)es->authority_code.n, es->authority_code.p,
      from >= 0 ? recs[from].rid : "?", from >= 0 ? cx_status_names[recs[from].status] : "",
      from >= 0 ? cx_category_names[recs[from].category] : "",
      from >= 0 ? dayfmt(recs[from].decision) : "", recs[newest].rid,
      dayfmt(recs[newest].decision), want);
}

static void check_entity_public(int e) {
  const ment *en = &ents[e];
  cx_entity_status es;
  int rc = q_entity(CX_ROLE_PUBLIC, as_typed(en->code), DAY, &es);
  if (!ent_vis[e]) {
    if (rc != CX_ENOTFOUND)
      bad("entity-hidden",
          "entity %s (%s, %d records, none displayable): rc %s, expected CX_ENOTFOUND", en->shown,
          cx_kind_names[en->kind], en->n_recs, rcname(rc));
    return;
  }
  if (rc != 0) {
    bad("entity-visible", "entity %s (%s) with %d displayable records: rc %s", en->shown,
        cx_kind_names[en->kind], ent_vis[e], rcname(rc));
    return;
  }
  expect_ent x;
  expect_entity(e, CX_ROLE_PUBLIC, DAY, &x);
  for (int c = 0; c < CX_CAT_COUNT; c++) x.counts[c].visible = x.counts[c].total;
  st_vis_person += kind_is_person(en->kind);
  for (int b = 0; b < 4; b++) st_flag[b] += (x.flags >> b) & 1u;
  if (memcmp(x.counts, es.counts, sizeof x.counts) != 0) {
    char a[512], b[512];
    describe_counts(es.counts, a, sizeof a);
    describe_counts(x.counts, b, sizeof b);
    bad("entity-counts", "entity %s (%s): counts total/in_force/visible got%s, model%s", en->shown,
        cx_kind_names[en->kind], a, b);
  }
  if (es.flags != x.flags)
    bad("entity-flags",
        "entity %s (%s): flags got 0x%x, model 0x%x (1 black, 2 measures, 4 red, 8 objection)",
        en->shown, cx_kind_names[en->kind], es.flags, x.flags);
  if (es.last_update != x.last)
    bad("entity-last-update",
        "entity %s: last_update got %s, model (newest displayable decision) %s", en->shown,
        dayfmt(es.last_update), dayfmt(x.last));
  if (!cx_str_eq(es.code, cx_str_c(en->shown)))
    bad("entity-code", "entity %s: code shown as %.*s", en->shown, (int)es.code.n, es.code.p);
  if (!cx_str_eq(es.name, cx_str_c(en->name)))
    bad("entity-name", "entity %s: name %.*s, stored %s", en->shown, (int)es.name.n, es.name.p,
        en->name);
  if (es.kind != en->kind)
    bad("entity-kind", "entity %s: kind %u, model %u", en->shown, es.kind, en->kind);
  check_authority(e, CX_ROLE_PUBLIC, &es);
}

static void check_entity_nonpublic(int e, cx_role role, cx_day as_of) {
  const ment *en = &ents[e];
  expect_ent x;
  expect_entity(e, role, as_of, &x);
  cx_entity_status es;
  int rc = q_entity(role, en->code, as_of, &es);
  if (!x.n) { /* approval, every record repaired or revoked: the contract does not say; note only */
    if (rc != 0 && rc != CX_ENOTFOUND)
      bad("nonpublic-entity", "%s entity %s: rc %s", cx_role_names[role], en->shown, rcname(rc));
    return;
  }
  if (rc != 0) {
    bad("nonpublic-entity", "%s entity %s as_of %s: rc %s", cx_role_names[role], en->shown,
        dayfmt(as_of), rcname(rc));
    return;
  }
  if (memcmp(x.counts, es.counts, sizeof x.counts) != 0) {
    char a[512], b[512];
    describe_counts(es.counts, a, sizeof a);
    describe_counts(x.counts, b, sizeof b);
    bad(role == CX_ROLE_APPROVAL ? "approval-counts" : "analyst-counts",
        "entity %s (%s) as_of %s: counts total/in_force/visible got%s, model%s", en->shown,
        cx_kind_names[en->kind], dayfmt(as_of), a, b);
  }
  if (es.flags != x.flags)
    bad("nonpublic-flags", "%s entity %s as_of %s: flags got 0x%x, model 0x%x", cx_role_names[role],
        en->shown, dayfmt(as_of), es.flags, x.flags);
  if (role == CX_ROLE_APPROVAL) check_authority(e, role, &es);
  if (!cx_str_eq(es.code, cx_str_c(en->code)))
    bad("nonpublic-code", "%s entity %s: code %.*s (not the full code)", cx_role_names[role],
        en->shown, (int)es.code.n, es.code.p);
}

/* ===================================================================== records checks */

/* The model's records of entity e for role on as_of (category filter), in key order. */
static int expect_records(int e, cx_role role, int category, int *out) {
  int n = 0;
  for (int k = 0; k < ents[e].n_recs; k++) {
    int i = ents[e].order[k];
    const mrec *m = &recs[i];
    if (category >= 0 && m->category != category) continue;
    int seen = role == CX_ROLE_PUBLIC     ? disp[i]
               : role == CX_ROLE_APPROVAL ? m->status == CX_ST_ACTIVE
                                          : 1;
    if (seen) out[n++] = i;
  }
  return n;
}

static page PG; /* one page (static: large) */

/* Pages through every page; compares the concatenation with the model. */
static void check_paging(int e, cx_role role, int category, uint32_t limit, cx_day as_of) {
  const ment *en = &ents[e];
  static int want[MAX_REC], got[MAX_REC];
  static unsigned char got_inf[MAX_REC], got_disp[MAX_REC];
  int nw = expect_records(e, role, category, want), ng = 0;
  const char *want_code = role == CX_ROLE_PUBLIC ? en->shown : en->code;
  char cursor[CX_CURSOR_MAX] = "", next[CX_CURSOR_MAX];
  uint32_t eff = limit ? limit : 20;
  int pages = 0, max_pages = nw / (int)eff + 3;
  for (;;) {
    int rc = q_records(role, en->code, category, cursor, limit, as_of, &PG, want_code, next);
    pages++;
    if (rc != 0) {
      bad("records-rc", "%s records of %s (category %d, limit %u, page %d, as_of %s): rc %s",
          cx_role_names[role], en->shown, category, limit, pages, dayfmt(as_of), rcname(rc));
      return;
    }
    if (PG.bad_code)
      bad("records-code", "%s records of %s: %d records with an entity code other than %s",
          cx_role_names[role], en->shown, PG.bad_code, want_code);
    int remaining = nw - ng;
    int want_n = remaining < (int)eff ? remaining : (int)eff;
    if (PG.n != want_n)
      bad("records-page-size",
          "%s records of %s (category %d, limit %u, page %d): %d records, model %d",
          cx_role_names[role], en->shown, category, limit, pages, PG.n, want_n);
    for (int k = 0; k < PG.n && ng < MAX_REC; k++, ng++) {
      got[ng] = PG.idx[k];
      got_inf[ng] = PG.in_force[k];
      got_disp[ng] = PG.displayable[k];
    }
    if (next[0] && role == CX_ROLE_PUBLIC && rnd(4) == 0) pool_add(next, e, category);
    int more = nw - ng > 0;
    if (!next[0]) {
      if (more)
        bad("records-early-end",
            "%s records of %s (category %d, limit %u): no cursor after %d of %d records",
            cx_role_names[role], en->shown, category, limit, ng, nw);
      break;
    }
    if (!more) {
      /* a cursor after the last record: an empty page would follow */
      bad("records-cursor-at-end",
          "%s records of %s (category %d, limit %u): a next_cursor after all %d records",
          cx_role_names[role], en->shown, category, limit, nw);
    }
    if (pages >= max_pages) {
      bad("records-runaway", "%s records of %s: more than %d pages", cx_role_names[role], en->shown,
          max_pages);
      break;
    }
    memcpy(cursor, next, sizeof cursor);
  }
  st_recs += nw;
  int same = ng == nw;
  for (int k = 0; same && k < ng; k++) same = got[k] == want[k];
  if (!same) {
    char a[600], b[600];
    size_t oa = 0, ob = 0;
    a[0] = b[0] = 0;
    for (int k = 0; k < ng && oa < 500; k++)
      oa += (size_t)snprintf(a + oa, sizeof a - oa, " %s", got[k] >= 0 ? recs[got[k]].rid : "?");
    for (int k = 0; k < nw && ob < 500; k++)
      ob += (size_t)snprintf(b + ob, sizeof b - ob, " %s", recs[want[k]].rid);
    bad(role == CX_ROLE_PUBLIC     ? "records-set"
        : role == CX_ROLE_APPROVAL ? "approval-records"
                                   : "analyst-records",
        "records of %s (category %d, limit %u, as_of %s): got [%s ] model [%s ]", en->shown,
        category, limit, dayfmt(as_of), a, b);
    return;
  }
  for (int k = 0; k < ng; k++) {
    int i = got[k];
    if (got_inf[k] != inf[i])
      bad("records-in-force", "%s record %s of %s as_of %s: in_force %u, model %u",
          cx_role_names[role], recs[i].rid, en->shown, dayfmt(as_of), got_inf[k], inf[i]);
    if (got_disp[k] != disp[i])
      bad("records-displayable", "%s record %s of %s as_of %s: displayable %u, model %u",
          cx_role_names[role], recs[i].rid, en->shown, dayfmt(as_of), got_disp[k], disp[i]);
  }
}

/* Hidden or unknown code: CX_ENOTFOUND with every cursor; the same answer for both even with
 * odd arguments (no existence oracle). */
static void check_records_hidden(const char *code, const char *shown, const char *what) {
  char next[CX_CURSOR_MAX], g[CX_CURSOR_MAX];
  int rc = q_records(CX_ROLE_PUBLIC, code, -1, "", 1 + rnd(7), DAY, NULL, NULL, next);
  if (rc != CX_ENOTFOUND)
    bad("records-hidden", "%s %s, empty cursor: rc %s", what, shown, rcname(rc));
  if (n_pool) {
    const pooled *p = &pool[rnd((uint32_t)n_pool)];
    rc = q_records(CX_ROLE_PUBLIC, code, p->category, p->cursor, 1 + rnd(7), DAY, NULL, NULL, next);
    if (rc != CX_ENOTFOUND)
      bad("records-hidden", "%s %s, a valid cursor of %s: rc %s", what, shown, ents[p->ent].shown,
          rcname(rc));
  }
  garbage_cursor(g);
  rc = q_records(CX_ROLE_PUBLIC, code, (int)rnd(CX_CAT_COUNT + 1) - 1, g, 1 + rnd(7), DAY, NULL,
                 NULL, next);
  if (rc != CX_ENOTFOUND)
    bad("records-hidden", "%s %s, garbage cursor \"%s\": rc %s", what, shown, g, rcname(rc));
  if (next[0]) bad("records-hidden", "%s %s: a next_cursor on an error", what, shown);
  if (rc != 0 && SCRATCH.n)
    bad("records-hidden", "%s %s: records delivered with rc %s", what, shown, rcname(rc));
  /* odd arguments: whatever the answer, the same as for an unknown code */
  static const struct {
    int category;
    uint32_t limit;
  } odd[] = {{42, 5}, {-2, 5}, {-1, 5000}, {3, 0}};
  int k = (int)rnd(4);
  const char *u = unknown[rnd((uint32_t)n_unknown)];
  int rc1 =
      q_records(CX_ROLE_PUBLIC, code, odd[k].category, g, odd[k].limit, DAY, NULL, NULL, next);
  int rc2 = q_records(CX_ROLE_PUBLIC, u, odd[k].category, g, odd[k].limit, DAY, NULL, NULL, next);
  if (rc1 != rc2)
    bad("oracle", "%s %s, category %d limit %u garbage cursor: rc %s, an unknown code: rc %s", what,
        shown, odd[k].category, odd[k].limit, rcname(rc1), rcname(rc2));
}

static void check_records_visible_cursors(int e) {
  const ment *en = &ents[e];
  char next[CX_CURSOR_MAX], g[CX_CURSOR_MAX];
  garbage_cursor(g);
  int rc = q_records(CX_ROLE_PUBLIC, en->code, -1, g, 1 + rnd(7), DAY, NULL, NULL, next);
  if (rc != CX_EBADREQ)
    bad("records-garbage-cursor", "visible %s, garbage cursor \"%s\": rc %s", en->shown, g,
        rcname(rc));
  for (int tries = 0; tries < 4 && n_pool; tries++) {
    const pooled *p = &pool[rnd((uint32_t)n_pool)];
    if (p->ent == e) { /* its own cursor under another category filter */
      int other = p->category == -1 ? (int)rnd(CX_CAT_COUNT) : -1;
      rc = q_records(CX_ROLE_PUBLIC, en->code, other, p->cursor, 3, DAY, NULL, NULL, next);
      if (rc != CX_EBADREQ)
        bad("records-cursor-filter",
            "visible %s, its cursor of category %d under category %d: rc %s", en->shown,
            p->category, other, rcname(rc));
    } else {
      rc = q_records(CX_ROLE_PUBLIC, en->code, p->category, p->cursor, 3, DAY, NULL, NULL, next);
      if (rc != CX_EBADREQ)
        bad("records-cursor-other", "visible %s, a cursor of %s: rc %s", en->shown,
            ents[p->ent].shown, rcname(rc));
    }
    break;
  }
}

/* as_of other than today: CX_EPUBLICDAY for entity, records (any entity, any code). */
static void check_public_day(const char *code, const char *shown) {
  static const int delta[] = {-1, 1, -400, 30};
  cx_day other = DAY + (cx_day)delta[rnd(4)];
  cx_entity_status es;
  int rc = q_entity(CX_ROLE_PUBLIC, code, other, &es);
  if (rc != CX_EPUBLICDAY)
    bad("publicday", "entity %s as_of %s: rc %s", shown, dayfmt(other), rcname(rc));
  char next[CX_CURSOR_MAX];
  rc = q_records(CX_ROLE_PUBLIC, code, -1, "", 5, other, NULL, NULL, next);
  if (rc != CX_EPUBLICDAY)
    bad("publicday", "records %s as_of %s: rc %s", shown, dayfmt(other), rcname(rc));
}

/* ===================================================================== search checks */

typedef struct shits {
  int n;
  int stop_after; /* fn returns 1 after this many hits (0: never) */
  int ent[128];
  int bad_code, bad_stored, bad_name;
  cx_role role;
} shits;

static int find_ent(cx_str code) {
  for (int e = 0; e < n_ent; e++)
    if (cx_str_eq(code, cx_str_c(ents[e].code))) return e;
  return -1;
}

static int search_cb(void *ctx, const cx_search_hit *h) {
  shits *s = ctx;
  int e = find_ent(h->stored_code);
  if (e < 0) {
    s->bad_stored++;
  } else {
    const char *want = s->role == CX_ROLE_ADMIN ? ents[e].code : ents[e].shown;
    if (!cx_str_eq(h->code, cx_str_c(want))) s->bad_code++;
    if (!cx_str_eq(h->name, cx_str_c(ents[e].name)) || h->kind != ents[e].kind) s->bad_name++;
  }
  if (s->n < 128) s->ent[s->n++] = e;
  return s->stop_after && s->n >= s->stop_after;
}

static int cmp_name_idx(const void *a, const void *b) {
  const ment *x = &ents[*(const int *)a], *y = &ents[*(const int *)b];
  size_t n = x->norm_n < y->norm_n ? x->norm_n : y->norm_n;
  int c = memcmp(x->norm, y->norm, n);
  if (c) return c;
  if (x->norm_n != y->norm_n) return x->norm_n < y->norm_n ? -1 : 1;
  return strcmp(x->code, y->code);
}
static int cmp_code_idx(const void *a, const void *b) {
  return strcmp(ents[*(const int *)a].code, ents[*(const int *)b].code);
}

static uint32_t eid_of(int e) {
  cx_summary s;
  return cx_store_summary_get(T, ents[e].code, &s) == 0 ? s.entity_id : UINT32_MAX;
}
static int cmp_eid_idx(const void *a, const void *b) {
  uint32_t x = eid_of(*(const int *)a), y = eid_of(*(const int *)b);
  return (x > y) - (x < y);
}

static int search_eligible(int e, cx_role role) {
  if (!ents[e].n_recs) return 0;
  if (role != CX_ROLE_PUBLIC) return 1;
  return !kind_is_person(ents[e].kind) && ent_vis[e] > 0;
}

/* The model's answer; returns -1 when the prefix has nothing to search for (CX_EBADREQ). */
static int expect_search(const char *prefix, cx_role role, uint32_t limit, int *out) {
  char np[512];
  size_t nn = cx_name_normalize(prefix, strlen(prefix), np, sizeof np);
  char up[CX_CODE_LEN + 1];
  size_t b = 0, e = strlen(prefix), un = 0;
  while (b < e && (prefix[b] == ' ' || prefix[b] == '\t' || prefix[b] == '\n' || prefix[b] == '\r'))
    b++;
  while (e > b && (prefix[e - 1] == ' ' || prefix[e - 1] == '\t' || prefix[e - 1] == '\n' ||
                   prefix[e - 1] == '\r'))
    e--;
  int code_ok = e > b && e - b <= CX_CODE_LEN;
  for (size_t i = b; code_ok && i < e; i++) {
    char ch = prefix[i];
    if (ch >= 'a' && ch <= 'z') ch = (char)(ch - 'a' + 'A');
    if (!((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z')))
      code_ok = 0;
    else
      up[un++] = ch;
  }
  if (!nn && !code_ok) return -1;
  uint32_t lim = limit ? limit : 20;
  int n = 0, cand[MAX_ENT], nc = 0;
  if (nn) {
    for (int k = 0; k < n_ent; k++)
      if (ents[k].norm_n >= nn && memcmp(ents[k].norm, np, nn) == 0 && search_eligible(k, role))
        cand[nc++] = k;
    qsort(cand, (size_t)nc, sizeof cand[0], cmp_name_idx);
    for (int k = 0; k < nc && (uint32_t)n < lim; k++) out[n++] = cand[k];
  }
  if (code_ok) {
    nc = 0;
    for (int k = 0; k < n_ent; k++)
      if (memcmp(ents[k].code, up, un) == 0 && search_eligible(k, role)) cand[nc++] = k;
    qsort(cand, (size_t)nc, sizeof cand[0], cmp_code_idx);
    for (int k = 0; k < nc && (uint32_t)n < lim; k++) {
      int dup = 0;
      for (int j = 0; j < n; j++) dup |= out[j] == cand[k];
      if (!dup) out[n++] = cand[k];
    }
  }
  /* Then names holding the query elsewhere (2 characters or more), in entity-id order: the
   * order in which the entities reached the store (read back, as the records' seqs are). */
  size_t chars = 0;
  for (size_t i = 0; i < nn; i++) chars += ((unsigned char)np[i] & 0xC0) != 0x80;
  if (chars >= 2) {
    nc = 0;
    for (int k = 0; k < n_ent; k++) {
      if (!memmem(ents[k].norm, ents[k].norm_n, np, nn) || !search_eligible(k, role)) continue;
      if (ents[k].norm_n >= nn && memcmp(ents[k].norm, np, nn) == 0) continue; /* a prefix */
      if (code_ok && memcmp(ents[k].code, up, un) == 0) continue;            /* a code */
      cand[nc++] = k;
    }
    qsort(cand, (size_t)nc, sizeof cand[0], cmp_eid_idx);
    for (int k = 0; k < nc && (uint32_t)n < lim; k++) out[n++] = cand[k];
  }
  return n;
}

/* A query: the first characters of a name (as written, not normalised), a part of a name
 * from its second character on (found by the keyword index only), or the start of a code. */
static void gen_prefix(char *out, size_t cap) {
  int e = (int)rnd((uint32_t)n_ent);
  uint32_t k = rnd(10);
  if (k >= 4 && k < 6) {
    const char *s = ents[e].name;
    size_t n = strlen(s), at = 0, cut;
    uint32_t skip = 1 + rnd(4), chars = 2 + rnd(4), c = 0;
    for (c = 0; at < n && c < skip; c++) { /* whole UTF-8 characters */
      at++;
      while (at < n && ((unsigned char)s[at] & 0xC0) == 0x80) at++;
    }
    for (cut = at, c = 0; cut < n && c < chars; c++) {
      cut++;
      while (cut < n && ((unsigned char)s[cut] & 0xC0) == 0x80) cut++;
    }
    snprintf(out, cap, "%.*s", (int)(cut - at), s + at);
    if (cut - at < 2 || strchr(out, ' ') || strchr(out, '(')) snprintf(out, cap, "有限");
  } else if (k < 6) {
    const char *s = ents[e].name;
    size_t n = strlen(s), cut = 0;
    uint32_t chars = 1 + rnd(6), c = 0;
    while (cut < n && c < chars) { /* whole UTF-8 characters */
      cut++;
      while (cut < n && ((unsigned char)s[cut] & 0xC0) == 0x80) cut++;
      c++;
    }
    snprintf(out, cap, "%s%.*s", rnd(8) == 0 ? " " : "", (int)cut, s);
    if (!strcmp(out, " ") || !strcmp(out, "(") || !strcmp(out, " (")) snprintf(out, cap, "福州");
  } else {
    uint32_t len = 2 + rnd(17);
    snprintf(out, cap, "%.*s", (int)len, ents[e].code);
    if (rnd(3) == 0)
      for (char *p = out; *p; p++)
        if (*p >= 'A' && *p <= 'Z') *p = (char)(*p - 'A' + 'a');
  }
}

static void check_search(const char *prefix, cx_role role, uint32_t limit) {
  static int want[128];
  int nw = expect_search(prefix, role, limit, want);
  shits s;
  memset(&s, 0, sizeof s);
  s.role = role;
  if (rnd(8) == 0) { /* the callback stops the search: exactly the first hits */
    s.stop_after = 1 + (int)rnd(3);
    if (nw > s.stop_after) nw = s.stop_after;
  }
  n_req++;
  int rc = cx_query_search(Q, T, role, cx_str_c(prefix), limit, search_cb, &s);
  if (nw < 0) {
    if (rc != CX_EBADREQ)
      bad("search-rc", "%s search \"%s\": rc %s, expected CX_EBADREQ", cx_role_names[role], prefix,
          rcname(rc));
    return;
  }
  if (rc != 0) {
    bad("search-rc", "%s search \"%s\" limit %u: rc %s", cx_role_names[role], prefix, limit,
        rcname(rc));
    return;
  }
  const char *tag = role == CX_ROLE_PUBLIC ? "search" : "search-nonpublic";
  st_hits += nw;
  for (int k = 0; k < s.n; k++)
    if (s.ent[k] >= 0 && role == CX_ROLE_PUBLIC && kind_is_person(ents[s.ent[k]].kind))
      bad("search-person", "public search \"%s\": person %s returned", prefix,
          ents[s.ent[k]].shown);
  if (s.bad_stored)
    bad(tag, "%s search \"%s\": %d hits whose stored_code is no entity", cx_role_names[role],
        prefix, s.bad_stored);
  if (s.bad_code)
    bad("search-code", "%s search \"%s\": %d hits with a code other than the role may see",
        cx_role_names[role], prefix, s.bad_code);
  if (s.bad_name)
    bad(tag, "%s search \"%s\": %d hits with another name or kind", cx_role_names[role], prefix,
        s.bad_name);
  int same = s.n == nw;
  for (int k = 0; same && k < nw; k++) same = s.ent[k] == want[k];
  if (same) return;
  /* same set, other order? */
  int set_same = s.n == nw;
  for (int k = 0; set_same && k < nw; k++) {
    int f = 0;
    for (int j = 0; j < s.n; j++) f |= s.ent[j] == want[k];
    set_same = f;
  }
  char a[900], b[900];
  size_t oa = 0, ob = 0;
  a[0] = b[0] = 0;
  for (int k = 0; k < s.n && oa < 800; k++)
    oa += (size_t)snprintf(a + oa, sizeof a - oa, " %s(%s)",
                           s.ent[k] >= 0 ? ents[s.ent[k]].shown : "?",
                           s.ent[k] >= 0 ? ents[s.ent[k]].name : "?");
  for (int k = 0; k < nw && ob < 800; k++)
    ob +=
        (size_t)snprintf(b + ob, sizeof b - ob, " %s(%s)", ents[want[k]].shown, ents[want[k]].name);
  bad(set_same ? "search-order" : tag,
      "%s search \"%s\" limit %u (fn stops after %d): got [%s ] model [%s ]", cx_role_names[role],
      prefix, limit, s.stop_after, a, b);
}

/* ===================================================================== aggregate checks */

static const uint8_t agg_dims[] = {CX_DIM_CATEGORY, CX_DIM_KIND, CX_DIM_SEVERITY,
                                   CX_DIM_COUNTY,   CX_DIM_YEAR, CX_DIM_STATUS};

static uint32_t m_dim(const mrec *m, int dim) {
  int y, mo, d;
  switch (dim) {
  case CX_DIM_CATEGORY: return m->category;
  case CX_DIM_KIND: return ents[m->ent].kind;
  case CX_DIM_SEVERITY: return m->tier;
  case CX_DIM_COUNTY: return ents[m->ent].county;
  case CX_DIM_YEAR: cx_day_to_ymd(m->decision, &y, &mo, &d); return (uint32_t)y;
  case CX_DIM_STATUS: return m->status;
  default: cr_assert_fail("dim %d", dim); return 0;
  }
}

typedef struct mrow {
  uint32_t keys[CX_DIM_COUNT];
  int64_t count, amount, in_force;
} mrow;

static int n_group_cmp;
static int cmp_row_keys(const uint32_t *a, const uint32_t *b) {
  for (int i = 0; i < n_group_cmp; i++)
    if (a[i] != b[i]) return a[i] < b[i] ? -1 : 1;
  return 0;
}
static int row_mode; /* 0: keys asc; 1: keys desc; 2: count desc, then keys asc */
static int cmp_mrow(const void *a, const void *b) {
  const mrow *x = a, *y = b;
  if (row_mode == 2 && x->count != y->count) return x->count > y->count ? -1 : 1;
  int c = cmp_row_keys(x->keys, y->keys);
  return row_mode == 1 ? -c : c;
}

static void random_spec(cx_agg_spec *s) {
  memset(s, 0, sizeof *s);
  s->order = -1;
  s->as_of = DAY;
  s->from = s->to = CX_DAY_NONE;
  s->n_group = (uint8_t)(1 + rnd(2));
  for (int i = 0; i < s->n_group; i++) {
    uint8_t d;
    int dup;
    do {
      d = agg_dims[rnd(sizeof agg_dims)];
      dup = 0;
      for (int j = 0; j < i; j++) dup |= s->group[j] == d;
    } while (dup);
    s->group[i] = d;
  }
  s->n_filters = (uint8_t)(rnd(3) == 0 ? 0 : rnd(3));
  for (int i = 0; i < s->n_filters; i++) {
    uint8_t d;
    int dup;
    do {
      d = agg_dims[rnd(sizeof agg_dims)];
      dup = 0;
      for (int j = 0; j < i; j++) dup |= s->filters[j].dim == d;
    } while (dup);
    cx_agg_filter *f = &s->filters[i];
    f->dim = d;
    f->n = 0;
    int nv = 1 + (int)rnd(3);
    for (int k = 0; k < nv; k++) {
      uint32_t v;
      switch (d) {
      case CX_DIM_CATEGORY: v = rnd(CX_CAT_COUNT); break;
      case CX_DIM_KIND: v = rnd(CX_KIND_COUNT); break;
      case CX_DIM_SEVERITY: v = rnd(CX_SEV_COUNT); break;
      case CX_DIM_COUNTY: v = counties[rnd(N_COUNTY)]; break;
      case CX_DIM_YEAR: v = 2021 + rnd(6); break;
      default: v = rnd(5) == 0 ? rnd(CX_ST_COUNT) : CX_ST_ACTIVE; break;
      }
      int seen = 0;
      for (uint32_t j = 0; j < f->n; j++) seen |= f->vals[j] == v;
      if (!seen) f->vals[f->n++] = v;
    }
  }
  if (rnd(3) == 0) {
    s->from = ymd(2021, 1, 1) + rnd(1800);
    s->to = s->from + rnd(900);
    if (rnd(4) == 0) s->from = CX_DAY_NONE;
  }
  if (rnd(2)) { /* repaired: always 0 for the public, which sees active records only */
    s->n_metrics = 4;
    s->metrics[0] = CX_M_COUNT;
    s->metrics[1] = CX_M_AMOUNT;
    s->metrics[2] = CX_M_IN_FORCE;
    s->metrics[3] = CX_M_REPAIRED;
  }
  uint32_t mode = rnd(6); /* 0-3: by the group keys; 4: desc; 5: by count desc, then the keys */
  if (mode == 4) s->desc = 1;
  if (mode == 5) {
    s->order = s->n_group; /* the first metric column: count */
    s->desc = 1;
  }
  if (rnd(3) == 0) s->limit = 1 + rnd(4); /* after the small cells are removed */
}

static void describe_spec(const cx_agg_spec *s, char *out, size_t cap) {
  size_t o = (size_t)snprintf(out, cap, "group");
  for (int i = 0; i < s->n_group; i++)
    o += (size_t)snprintf(out + o, cap - o, " %s", cx_dim_names[s->group[i]]);
  for (int i = 0; i < s->n_filters; i++) {
    o += (size_t)snprintf(out + o, cap - o, "; %s in", cx_dim_names[s->filters[i].dim]);
    for (uint32_t k = 0; k < s->filters[i].n; k++)
      o += (size_t)snprintf(out + o, cap - o, " %u", s->filters[i].vals[k]);
  }
  if (s->from || s->to)
    o += (size_t)snprintf(out + o, cap - o, "; decisions %s..%s", dayfmt(s->from), dayfmt(s->to));
  snprintf(out + o, cap - o, "; metrics %s; order %d%s; limit %u",
           s->n_metrics ? "count,amount,in_force,repaired" : "default", s->order,
           s->desc ? " desc" : "", s->limit);
}

static void check_aggregate(void) {
  cx_agg_spec s;
  random_spec(&s);
  static mrow rows[MAX_REC];
  int nr = 0;
  for (int i = 0; i < n_rec; i++) {
    if (!disp[i]) continue;
    const mrec *m = &recs[i];
    if (s.from != CX_DAY_NONE && m->decision < s.from) continue;
    if (s.to != CX_DAY_NONE && m->decision > s.to) continue;
    int ok = 1;
    for (int f = 0; ok && f < s.n_filters; f++) {
      uint32_t v = m_dim(m, s.filters[f].dim);
      int in = 0;
      for (uint32_t k = 0; k < s.filters[f].n; k++) in |= s.filters[f].vals[k] == v;
      ok = in;
    }
    if (!ok) continue;
    uint32_t keys[CX_DIM_COUNT] = {0};
    for (int g = 0; g < s.n_group; g++) keys[g] = m_dim(m, s.group[g]);
    int j;
    n_group_cmp = s.n_group;
    for (j = 0; j < nr; j++)
      if (!cmp_row_keys(rows[j].keys, keys)) break;
    if (j == nr) {
      memset(&rows[nr], 0, sizeof rows[nr]);
      memcpy(rows[nr].keys, keys, sizeof keys);
      nr++;
    }
    rows[j].count++;
    rows[j].amount += m->amount;
    rows[j].in_force += inf[i];
  }
  int kept = 0;
  for (int j = 0; j < nr; j++)
    if (rows[j].count >= CX_AGG_MIN_PUBLIC_CELL) rows[kept++] = rows[j];
  nr = kept;
  n_group_cmp = s.n_group;
  row_mode = s.order >= 0 ? 2 : s.desc ? 1 : 0;
  qsort(rows, (size_t)nr, sizeof rows[0], cmp_mrow);
  if (s.limit && (uint32_t)nr > s.limit) nr = (int)s.limit;
  st_rows += nr;

  int none_asof = rnd(10) == 0;
  if (none_asof) s.as_of = CX_DAY_NONE; /* query.h: as_of CX_DAY_NONE is today */
  cx_agg_result res;
  memset(&res, 0, sizeof res);
  n_req++;
  int rc = cx_query_aggregate(Q, T, CX_ROLE_PUBLIC, &s, &res);
  char desc[512];
  describe_spec(&s, desc, sizeof desc);
  if (rc != 0) {
    bad(none_asof ? "agg-asof-none" : "agg-rc", "public aggregate (%s, as_of %s): rc %s", desc,
        none_asof ? "none" : "today", rcname(rc));
    return;
  }
  /* rows in the model's order, each equal */
  int same = (int)res.n_rows == nr;
  for (int j = 0; same && j < nr; j++) {
    const cx_agg_row *r = &res.rows[j];
    same = !cmp_row_keys(r->keys, rows[j].keys) && r->vals[0] == (double)rows[j].count;
    if (same && s.n_metrics)
      same = r->vals[1] == (double)rows[j].amount && r->vals[2] == (double)rows[j].in_force &&
             r->vals[3] == 0.0;
  }
  if (!same) {
    char ga[900], gb[900];
    size_t oa = 0, ob = 0;
    ga[0] = gb[0] = 0;
    for (uint32_t j = 0; j < res.n_rows && oa < 800; j++) {
      oa += (size_t)snprintf(ga + oa, sizeof ga - oa, " (");
      for (int g = 0; g < s.n_group; g++)
        oa += (size_t)snprintf(ga + oa, sizeof ga - oa, "%s%u", g ? "," : "", res.rows[j].keys[g]);
      oa += (size_t)snprintf(ga + oa, sizeof ga - oa, ": %.0f", res.rows[j].vals[0]);
      if (s.n_metrics)
        oa += (size_t)snprintf(ga + oa, sizeof ga - oa, " %.0f %.0f %.0f", res.rows[j].vals[1],
                               res.rows[j].vals[2], res.rows[j].vals[3]);
      oa += (size_t)snprintf(ga + oa, sizeof ga - oa, ")");
    }
    for (int j = 0; j < nr && ob < 800; j++) {
      ob += (size_t)snprintf(gb + ob, sizeof gb - ob, " (");
      for (int g = 0; g < s.n_group; g++)
        ob += (size_t)snprintf(gb + ob, sizeof gb - ob, "%s%u", g ? "," : "", rows[j].keys[g]);
      ob += (size_t)snprintf(gb + ob, sizeof gb - ob, ": %lld", (long long)rows[j].count);
      if (s.n_metrics)
        ob += (size_t)snprintf(gb + ob, sizeof gb - ob, " %lld %lld 0", (long long)rows[j].amount,
                               (long long)rows[j].in_force);
      ob += (size_t)snprintf(gb + ob, sizeof gb - ob, ")");
    }
    bad("agg-rows", "public aggregate (%s): got [%s ] model [%s ]", desc, ga, gb);
  }
  cx_agg_result_free(&res);

  /* another as_of: CX_EPUBLICDAY */
  s.as_of = DAY + (rnd(2) ? 1 : (cx_day)-1);
  memset(&res, 0, sizeof res);
  n_req++;
  rc = cx_query_aggregate(Q, T, CX_ROLE_PUBLIC, &s, &res);
  if (rc != CX_EPUBLICDAY)
    bad("publicday", "aggregate as_of %s: rc %s", dayfmt(s.as_of), rcname(rc));
  if (rc == 0) cx_agg_result_free(&res);
}

/* ===================================================================== days */

static int cmp_day(const void *a, const void *b) {
  cx_day x = *(const cx_day *)a, y = *(const cx_day *)b;
  return x < y ? -1 : x > y;
}

/* Days around every window's edges, month ends and random days; n_days of them, sorted. */
static int pick_days(cx_day *out, int n_days) {
  static cx_day cand[MAX_REC * 10 + 200];
  int nc = 0;
  for (int i = 0; i < n_rec; i++) {
    const mrec *m = &recs[i];
    cand[nc++] = m->decision - 1;
    cand[nc++] = m->decision;
    if (m->vuntil != CX_DAY_OPEN) {
      cand[nc++] = m->vuntil - 1;
      cand[nc++] = m->vuntil;
    }
    if (m->vfrom != m->decision) cand[nc++] = m->vfrom;
    if (m->negative && m->tier < CX_SEV_COUNT) {
      cx_day end = cx_day_add_months(m->decision, CAT->display[m->tier].max_months);
      cand[nc++] = end - 1;
      cand[nc++] = end;
    }
  }
  for (int y = 2021; y <= 2029; y++)
    for (int mo = 1; mo <= 12; mo += 1 + (int)rnd(3)) cand[nc++] = ymd(y, mo, days_in_month(y, mo));
  int n = 0;
  out[n++] = ymd(2020, 12, 31); /* before every decision */
  out[n++] = ymd(2031, 6, 1);   /* after every window but the open-ended ones */
  for (int k = 0; k < 8; k++) out[n++] = ymd(2021, 1, 1) + rnd(3000);
  while (n < n_days) out[n++] = cand[rnd((uint32_t)nc)];
  qsort(out, (size_t)n, sizeof out[0], cmp_day);
  int u = 0;
  for (int k = 0; k < n; k++)
    if (!u || out[u - 1] != out[k]) out[u++] = out[k];
  return u;
}

/* ===================================================================== one day */

static void run_day(cx_day d, int nonpublic) {
  DAY = d;
  cx_day_set_today(d);
  txn();
  model_day(d);
  for (int e = 0; e < n_ent; e++) {
    const ment *en = &ents[e];
    if (!en->n_recs) { /* never written: an unknown code */
      cx_entity_status es;
      int rc = q_entity(CX_ROLE_PUBLIC, en->code, d, &es);
      if (rc != CX_ENOTFOUND)
        bad("entity-unknown", "entity %s never written: rc %s", en->shown, rcname(rc));
      continue;
    }
    check_entity_public(e);
    if (ent_vis[e])
      st_vis_ent++;
    else
      st_hidden_ent++;
    if (ent_vis[e]) {
      int cat = rnd(3) ? -1 : (int)rnd(CX_CAT_COUNT);
      check_paging(e, CX_ROLE_PUBLIC, cat, 1 + rnd(7), d);
      if (rnd(3) == 0)
        check_paging(e, CX_ROLE_PUBLIC, rnd(2) ? -1 : (int)rnd(CX_CAT_COUNT),
                     rnd(5) == 0 ? 0 : 1 + rnd(7), d);
      if (rnd(3) == 0) check_records_visible_cursors(e);
    } else {
      check_records_hidden(en->code, en->shown, "hidden");
    }
    if (rnd(6) == 0) check_public_day(en->code, en->shown);
    if (nonpublic) {
      cx_day as_of = rnd(2) ? d : d + rnd(400) - 200; /* other roles may ask about any day */
      if (as_of != d) model_day(as_of);
      check_entity_nonpublic(e, CX_ROLE_APPROVAL, as_of);
      check_entity_nonpublic(e, CX_ROLE_ANALYST, as_of);
      int na = 0;
      for (int k = 0; k < en->n_recs; k++) na += recs[en->order[k]].status == CX_ST_ACTIVE;
      if (na) check_paging(e, CX_ROLE_APPROVAL, -1, 1 + rnd(7), as_of);
      check_paging(e, CX_ROLE_ANALYST, rnd(3) ? -1 : (int)rnd(CX_CAT_COUNT), 1 + rnd(7), as_of);
      if (as_of != d) model_day(d);
    }
  }
  for (int u = 0; u < n_unknown; u++) {
    cx_entity_status es;
    int rc = q_entity(CX_ROLE_PUBLIC, unknown[u], d, &es);
    if (rc != CX_ENOTFOUND) bad("entity-unknown", "unknown %s: rc %s", unknown[u], rcname(rc));
    if (rnd(3) == 0) check_records_hidden(unknown[u], unknown[u], "unknown");
    if (rnd(6) == 0) check_public_day(unknown[u], unknown[u]);
  }
  for (int k = 0; k < 14; k++) {
    char prefix[160];
    gen_prefix(prefix, sizeof prefix);
    static const uint32_t lims[] = {0, 1, 2, 3, 5, 10, 100};
    check_search(prefix, CX_ROLE_PUBLIC, lims[rnd(7)]);
    if (nonpublic && k < 4) {
      check_search(prefix, CX_ROLE_ANALYST, 100);
      check_search(prefix, CX_ROLE_ADMIN, lims[rnd(7)]);
    }
  }
  for (int k = 0; k < 4; k++) check_aggregate();
}

/* ===================================================================== a new catalogue */

/* The embedded catalogue with other display rules: minor published, general for 6 months,
 * complaints and inspections no longer 失信信息 but every compulsion record, and only judgments
 * of gov_dishonesty, persons' gov_dishonesty and
 * red lists public, review_subsidy an incentive, focus_supervision restricting nothing. The
 * tier rules stay: tiers are derived once, at ingest, and stored. */
static const char *const cat_edits[][2] = {
    {"display\tminor\t0\t0\t3\n", "display\tminor\t1\t0\t3\n"},
    {"display\tgeneral\t1\t3\t12\n", "display\tgeneral\t1\t3\t6\n"},
    {"negative\tpenalty,blacklist,gov_dishonesty,commitment:broken,lawsuit:lost,complaint,evaluation,"
     "abnormal,compulsion:enforcement,inspection:violation\n",
     "negative\tpenalty,blacklist,gov_dishonesty:judgment,commitment:broken,lawsuit:lost,evaluation,"
     "abnormal,compulsion\n"},
    {"person_public\tblacklist\n", "person_public\tblacklist,gov_dishonesty,redlist\n"},
    {"measure\treview_subsidy\treview\t", "measure\treview_subsidy\tincentive\t"},
    {"重点关注对象名单\treview_procurement,review_subsidy,review_license\n", "重点关注对象名单\tfast_track\n"},
};
static cx_catalog cat2;

static void replace_catalog(void) {
  size_t n = cx_data_catalog_len, cap = n + 1024;
  char *text = malloc(cap), *tmp = malloc(cap);
  cr_assert(text && tmp);
  memcpy(text, cx_data_catalog, n);
  text[n] = 0;
  for (size_t i = 0; i < sizeof cat_edits / sizeof cat_edits[0]; i++) {
    char *at = strstr(text, cat_edits[i][0]);
    cr_assert(at, "catalogue line not found: %s", cat_edits[i][0]);
    size_t pre = (size_t)(at - text), ol = strlen(cat_edits[i][0]);
    snprintf(tmp, cap, "%.*s%s%s", (int)pre, text, cat_edits[i][1], at + ol);
    memcpy(text, tmp, strlen(tmp) + 1);
  }
  n = strlen(text);
  int bad_line = 0;
  cr_assert_eq(cx_catalog_parse(text, n, &cat2, &bad_line), 0, "variant line %d", bad_line);
  if (T) { /* no live txn on the thread that commits */
    cx_store_txn_end(T);
    T = NULL;
  }
  cr_assert_eq(cx_store_data_put(ST, "catalog", text, n, &bad_line), 0, "line %d", bad_line);
  cr_assert_eq(cx_query_reload(Q), 0);
  free(text);
  free(tmp);
  CAT = &cat2; /* the model's own parse of the text it loaded */
  restrict_bits = 0;
  for (uint32_t i = 0; i < CAT->n_measures; i++)
    if (CAT->measures[i].effect == CX_EFFECT_DENY || CAT->measures[i].effect == CX_EFFECT_REVIEW)
      restrict_bits |= 1ull << i;
  for (int i = 0; i < n_rec; i++) derive(&recs[i]);
  /* stored tiers do not move with the catalogue */
  for (int i = 0; i < n_rec; i++) recs[i].seen = 0;
  read_back();
}

/* ===================================================================== the test */

static void run_seed(unsigned seed, int n_days, int big, int recatalog) {
  SEED = seed;
  n_bad = 0;
  rng = 0x9E3779B97F4A7C15ull ^ ((uint64_t)seed * 0xD1B54A32D192ED03ull);
  rnd(2);
  cx_test_tmpdir(dir, sizeof dir);
  cx_store_opts o = {0};
  o.create = 1;
  o.map_size = 64u << 20;
  int rc = cx_store_open(dir, &o, &ST);
  cr_assert_eq(rc, 0, "open: %s (%s)", cx_strerror(rc), cx_store_errmsg(NULL));
  CAT = cx_store_catalog(ST);
  restrict_bits = 0;
  for (uint32_t i = 0; i < CAT->n_measures; i++)
    if (CAT->measures[i].effect == CX_EFFECT_DENY || CAT->measures[i].effect == CX_EFFECT_REVIEW)
      restrict_bits |= 1ull << i;
  n_pool = 0;
  DAY = ymd(2027, 1, 15);
  cx_day_set_today(DAY); /* the build's today: after every decision */
  gen_entities();
  if (big) {
    ents[0].kind = CX_KIND_ENTERPRISE;
    ents[0].is_id = 0;
    gen_code(ents[0].kind, 100, ents[0].county, ents[0].code);
    memcpy(ents[0].shown, ents[0].code, sizeof ents[0].shown);
    gen_name(&ents[0], 0, ents[0].name, sizeof ents[0].name);
    ents[0].norm_n =
        cx_name_normalize(ents[0].name, strlen(ents[0].name), ents[0].norm, sizeof ents[0].norm);
  }
  build_store(big);
  read_back();
  if (big) { /* the giant's check index spills: the test reaches hits beyond the summary value */
    cx_txn *t;
    cx_summary sum;
    cr_assert_eq(cx_store_txn_begin(ST, &t), 0);
    cr_assert_eq(cx_store_summary_get(t, ents[0].code, &sum), 0);
    int want_hits = 0;
    for (int k = 0; k < ents[0].n_recs; k++) {
      const mrec *m = &recs[ents[0].order[k]];
      want_hits += m->status == CX_ST_ACTIVE && model_mask(m) != 0;
    }
    cr_assert_gt(sum.n_chunks, 0, "seed %u: entity 0 has %u hits (model %d) and no spill chunk",
                 seed, sum.n_hits, want_hits);
    cx_store_txn_end(t);
  }
  cr_assert_eq(cx_query_new(ST, &Q), 0);
  static cx_day days[400];
  int nd = pick_days(days, n_days);
  for (int k = 0; k < nd; k++) run_day(days[k], k % 4 == 1);
  if (recatalog) { /* the same records under a replaced catalogue */
    replace_catalog();
    int nd2 = pick_days(days, n_days / 3);
    for (int k = 0; k < nd2; k++) run_day(days[k], k % 4 == 1);
    nd += nd2;
  }
  cx_store_txn_end(T);
  T = NULL;
  cx_query_free(Q);
  Q = NULL;
  cx_store_close(ST);
  ST = NULL;
  cx_day_set_today(0);
  cx_test_rmrf(dir);
  int n_vis = 0, n_person = 0;
  for (int e = 0; e < n_ent; e++) n_person += kind_is_person(ents[e].kind) && ents[e].n_recs;
  for (int i = 0; i < n_rec; i++) n_vis += recs[i].status == CX_ST_ACTIVE;
  fprintf(stderr,
          "public_model: seed %u: %d entities (%d persons), %d records (%d active), %d days, %ld "
          "discrepancies\n",
          seed, n_ent, n_person, n_rec, n_vis, nd, n_bad);
  n_bad_all += n_bad;
}

TestSuite(public_model);

Test(public_model, every_public_answer_equals_the_model_of_displayable_records, .timeout = 300) {
  static const unsigned seeds[] = {1, 7, 42, 1234, 20260401, 99, 31337, 777};
  struct timespec t0, t1;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  /* 160 days a seed; every fourth seed with a giant entity, every second with a new catalogue */
  for (size_t i = 0; i < sizeof seeds / sizeof seeds[0]; i++)
    run_seed(seeds[i], 160, i % 4 == 3, i % 2 == 0);
  clock_gettime(CLOCK_MONOTONIC, &t1);
  double s = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
  fprintf(stderr,
          "public_model: compared %ld visible and %ld hidden entity-days, %ld records, %ld search "
          "hits, "
          "%ld aggregate rows\n",
          st_vis_ent, st_hidden_ent, st_recs, st_hits, st_rows);
  fprintf(stderr,
          "public_model: visible person-days %ld; flags set: blacklisted %ld, under_measures %ld, "
          "redlisted %ld, objection %ld\n",
          st_vis_person, st_flag[0], st_flag[1], st_flag[2], st_flag[3]);
  fprintf(stderr, "public_model: %ld requests over %zu seeds in %.1f s, %ld discrepancies\n", n_req,
          sizeof seeds / sizeof seeds[0], s, n_bad_all);
  for (int i = 0; i < n_tags; i++)
    fprintf(stderr, "public_model:   %-24s %ld\n", tags[i].tag, tags[i].n);
  cr_assert_eq(n_bad_all, 0,
               "%ld discrepancies between the public answers and the model (see stderr)",
               n_bad_all);
}
