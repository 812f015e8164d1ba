/*
 * enums.c — wire-name tables of the record enums (DESIGN §5a) and their parser.
 *
 * The tables are indexed by the enum values of store.h; their order must match.
 */
#include "store.h"

const char *const cx_kind_names[CX_KIND_COUNT] = {
    "enterprise",          "government",    "subdistrict", "institution", "social_org",
    "individual_business", "civil_servant", "person",
};

const char *const cx_category_names[CX_CAT_COUNT] = {
    "license",    "penalty", "gov_dishonesty", "blacklist",  "redlist",
    "commitment", "lawsuit", "complaint",      "evaluation", "abnormal",
    "compulsion", "confirmation", "inspection",
};

const char *const cx_subtype_names[CX_SUB_COUNT] = {
    "",     "judgment", "admin_penalty",    "disciplinary", "accountability", "kept", "broken",
    "won",  "lost",     "coercive_measure", "enforcement",  "compliant",      "violation",
};

const char *const cx_domain_names[CX_DOM_COUNT] = {
    "procurement", "ppp", "bidding", "investment", "debt", "subdistrict", "other",
};

const char *const cx_severity_names[CX_SEV_COUNT] = {"minor", "general", "serious"};
const char *const cx_status_names[CX_ST_COUNT] = {"active", "repaired", "revoked"};
const char *const cx_effect_names[3] = {"deny", "review", "incentive"};

const char *const cx_dim_names[CX_DIM_COUNT] = {
    "province", "city",     "county", "authority", "category", "subtype", "domain",
    "severity", "kind",     "status", "year",      "quarter",  "month",
};

int cx_enum_parse(const char *const *table, int n, cx_str s) {
  if (!table || (s.n && !s.p)) return CX_EBADREQ;
  for (int i = 0; i < n; i++) {
    const char *t = table[i];
    size_t tn = strlen(t);
    if (tn == s.n && (tn == 0 || memcmp(t, s.p, tn) == 0)) return i;
  }
  return CX_EBADREQ;
}

int cx_subtype_valid(int cat, int st) {
  if (st == CX_SUB_NONE) return cat >= 0 && cat < CX_CAT_COUNT;
  switch (st) {
  case CX_SUB_JUDGMENT:
  case CX_SUB_ADMIN_PENALTY:
  case CX_SUB_DISCIPLINARY:
  case CX_SUB_ACCOUNTABILITY: return cat == CX_CAT_GOV_DISHONESTY;
  case CX_SUB_KEPT:
  case CX_SUB_BROKEN: return cat == CX_CAT_COMMITMENT;
  case CX_SUB_WON:
  case CX_SUB_LOST: return cat == CX_CAT_LAWSUIT;
  case CX_SUB_COERCIVE_MEASURE:
  case CX_SUB_ENFORCEMENT: return cat == CX_CAT_COMPULSION;
  case CX_SUB_COMPLIANT:
  case CX_SUB_VIOLATION: return cat == CX_CAT_INSPECTION;
  default: return 0;
  }
}
