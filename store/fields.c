/*
 * fields.c — a record from canonical field names and string values (DESIGN §5a): the shared
 * path of CSV/JSONL import and the protocol's ingest.
 */
#include "store.h"

void cx_record_defaults(cx_record *r) {
  memset(r, 0, sizeof *r);
  r->entity_kind = CX_KIND_UNSET;
  r->category = CX_CAT_PENALTY;
  r->subtype = CX_SUB_NONE;
  r->domain = CX_DOM_OTHER;
  r->severity = CX_SEV_UNSET; /* the batch derives the tier (cx_catalog_tier) */
  r->status = CX_ST_ACTIVE;
  r->objection = 0;
  r->decision_date = CX_DAY_NONE;
  r->report_date = CX_DAY_NONE;
  r->valid_from = CX_DAY_NONE;
  r->valid_until = CX_DAY_OPEN;
  r->amount_fen = 0;
  r->report_delay = -1;
}

enum field {
  F_ENTITY_CODE, F_ENTITY_NAME, F_ENTITY_KIND, F_RECORD_ID, F_AUTHORITY_CODE, F_AUTHORITY_NAME,
  F_CATEGORY, F_SUBTYPE, F_DOMAIN, F_SEVERITY, F_DECISION_DATE, F_REPORT_DATE, F_VALID_FROM,
  F_VALID_UNTIL, F_STATUS, F_OBJECTION, F_AMOUNT_FEN, F_AMOUNT_YUAN, F_AMOUNT_WAN, F_LIST_TYPE,
  F_MEASURES, F_BASIS, F_CONTENT, F_DISPLAY_UNTIL, F_EXTRA,
  F_COUNT
};

static const char *const field_names[F_COUNT] = {
    "entity_code",   "entity_name", "entity_kind",   "record_id",   "authority_code", "authority_name",
    "category",      "subtype",     "domain",        "severity",    "decision_date",  "report_date",
    "valid_from",    "valid_until", "status",        "objection",   "amount_fen",     "amount_yuan",
    "amount_wan",    "list_type",   "measures",      "basis",       "content",
    "display_until", "extra",
};

#define CX_RECORD_ID_MAX 128

static int ws(char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f'; }

static cx_str trim(cx_str s) {
  if (!s.p) return (cx_str){"", 0};
  while (s.n && ws(s.p[0])) s.p++, s.n--;
  while (s.n && ws(s.p[s.n - 1])) s.n--;
  return s;
}

static int ieq(cx_str s, const char *lit) {
  size_t n = strlen(lit);
  if (s.n != n) return 0;
  for (size_t i = 0; i < n; i++) {
    char c = s.p[i];
    if (c >= 'A' && c <= 'Z') c = (char)(c - 'A' + 'a');
    if (c != lit[i]) return 0;
  }
  return 1;
}

/* Non-negative decimal with at most `scale` fraction digits, times 10^scale * mul: exact. */
static int parse_amount(cx_str s, int scale, int64_t mul, int64_t *out) {
  uint32_t i = 0;
  int64_t v = 0;
  int frac = -1, nd = 0;
  if (s.n && s.p[0] == '+') i++;
  for (; i < s.n; i++) {
    char c = s.p[i];
    if (c == '.' && frac < 0) {
      frac = 0;
      continue;
    }
    if (c < '0' || c > '9') return CX_EBADREQ;
    if (frac >= 0 && ++frac > scale) {
      if (c != '0') return CX_EBADREQ; /* more precision than a fen */
      continue;
    }
    if (v > (INT64_MAX - 9) / 10) return CX_EBADREQ;
    v = v * 10 + (c - '0');
    nd++;
  }
  if (nd == 0) return CX_EBADREQ;
  for (int k = frac < 0 ? 0 : frac; k < scale; k++) {
    if (v > INT64_MAX / 10) return CX_EBADREQ;
    v *= 10;
  }
  if (v > INT64_MAX / mul) return CX_EBADREQ;
  *out = v * mul;
  return 0;
}

static int parse_date_field(cx_str v, cx_day *out) { return cx_day_parse(v, out); }

int cx_record_from_fields(const cx_str *names, const cx_str *values, size_t n, cx_record *out,
                          const char **why) {
  cx_str val[F_COUNT];
  int have[F_COUNT] = {0};
  const char *msg = NULL;
  int rc = CX_EBADREQ;
  cx_record r;

  for (size_t i = 0; i < n; i++) {
    int f = cx_enum_parse(field_names, F_COUNT, trim(names[i]));
    if (f < 0) continue; /* unknown names are ignored */
    /* the extra fields' string is kept as written: its lines end with LF */
    cx_str v = f == F_EXTRA ? (values[i].p ? values[i] : (cx_str){"", 0}) : trim(values[i]);
    if (v.n == 0) continue; /* empty = not given */
    val[f] = v;
    have[f] = 1;
  }

  cx_record_defaults(&r);

#define REQUIRE(F, field, name)                          \
  do {                                                   \
    if (!have[F]) {                                      \
      msg = name ": required";                           \
      goto fail;                                         \
    }                                                    \
    r.field = val[F];                                    \
  } while (0)
  REQUIRE(F_ENTITY_CODE, entity_code, "entity_code");
  REQUIRE(F_ENTITY_NAME, entity_name, "entity_name");
  REQUIRE(F_RECORD_ID, record_id, "record_id");
  REQUIRE(F_AUTHORITY_CODE, authority_code, "authority_code");
#undef REQUIRE
  if (r.record_id.n > CX_RECORD_ID_MAX) {
    msg = "record_id: longer than 128 bytes";
    goto fail;
  }
  if (have[F_AUTHORITY_NAME]) r.authority_name = val[F_AUTHORITY_NAME];
  if (have[F_LIST_TYPE]) r.list_type = val[F_LIST_TYPE];
  if (have[F_MEASURES]) r.measures = val[F_MEASURES];
  if (have[F_BASIS]) r.basis = val[F_BASIS];
  if (have[F_CONTENT]) r.content = val[F_CONTENT];
  if (have[F_EXTRA]) r.extra = val[F_EXTRA];

#define ENUM(F, table, count, field, name)                    \
  do {                                                        \
    if (have[F]) {                                            \
      int e_ = cx_enum_parse(table, count, val[F]);           \
      if (e_ < 0) {                                           \
        msg = name ": unknown value";                         \
        goto fail;                                            \
      }                                                       \
      r.field = (uint8_t)e_;                                  \
    }                                                         \
  } while (0)
  if (!have[F_CATEGORY]) {
    msg = "category: required";
    goto fail;
  }
  ENUM(F_CATEGORY, cx_category_names, CX_CAT_COUNT, category, "category");
  ENUM(F_ENTITY_KIND, cx_kind_names, CX_KIND_COUNT, entity_kind, "entity_kind");
  ENUM(F_SUBTYPE, cx_subtype_names, CX_SUB_COUNT, subtype, "subtype");
  ENUM(F_DOMAIN, cx_domain_names, CX_DOM_COUNT, domain, "domain");
  ENUM(F_SEVERITY, cx_severity_names, CX_SEV_COUNT, severity, "severity");
  ENUM(F_STATUS, cx_status_names, CX_ST_COUNT, status, "status");
#undef ENUM
  if (!cx_subtype_valid(r.category, r.subtype)) {
    msg = "subtype: not allowed for this category";
    goto fail;
  }
  if ((r.category == CX_CAT_BLACKLIST || r.category == CX_CAT_REDLIST) && r.list_type.n == 0) {
    msg = "list_type: required for blacklist and redlist records";
    goto fail;
  }

  if (have[F_OBJECTION]) {
    cx_str v = val[F_OBJECTION];
    if (ieq(v, "true") || ieq(v, "1") || ieq(v, "yes"))
      r.objection = 1;
    else if (ieq(v, "false") || ieq(v, "0") || ieq(v, "no"))
      r.objection = 0;
    else {
      msg = "objection: not a boolean (true/false/1/0/yes/no)";
      goto fail;
    }
  }

  rc = CX_EDATE;
  if (!have[F_DECISION_DATE]) {
    rc = CX_EBADREQ;
    msg = "decision_date: required";
    goto fail;
  }
  if (parse_date_field(val[F_DECISION_DATE], &r.decision_date)) {
    msg = "decision_date: not a YYYY-MM-DD date";
    goto fail;
  }
  if (have[F_REPORT_DATE] && parse_date_field(val[F_REPORT_DATE], &r.report_date)) {
    msg = "report_date: not a YYYY-MM-DD date";
    goto fail;
  }
  r.valid_from = r.decision_date;
  if (have[F_VALID_FROM] && parse_date_field(val[F_VALID_FROM], &r.valid_from)) {
    msg = "valid_from: not a YYYY-MM-DD date";
    goto fail;
  }
  if (have[F_VALID_UNTIL] && !ieq(val[F_VALID_UNTIL], "open") &&
      parse_date_field(val[F_VALID_UNTIL], &r.valid_until)) {
    msg = "valid_until: not a YYYY-MM-DD date (or \"open\")";
    goto fail;
  }
  if (r.valid_until <= r.valid_from) {
    msg = "valid_until: not after valid_from";
    goto fail;
  }
  if (have[F_DISPLAY_UNTIL] && parse_date_field(val[F_DISPLAY_UNTIL], &r.display_until)) {
    msg = "display_until: not a YYYY-MM-DD date";
    goto fail;
  }
  if (r.display_until != CX_DAY_NONE && r.display_until < r.decision_date) {
    msg = "display_until: before decision_date";
    goto fail;
  }
  if (r.report_date != CX_DAY_NONE && r.report_date < r.decision_date) {
    msg = "report_date: before decision_date";
    goto fail;
  }

  rc = CX_EBADREQ;
  {
    int64_t amt = 0, a;
    int given = 0;
    if (have[F_AMOUNT_FEN]) {
      if (val[F_AMOUNT_FEN].p[0] == '-') {
        msg = "amount_fen: negative";
        goto fail;
      }
      if (parse_amount(val[F_AMOUNT_FEN], 0, 1, &a)) {
        msg = "amount_fen: not a non-negative integer";
        goto fail;
      }
      amt = a, given = 1;
    }
    if (have[F_AMOUNT_YUAN]) {
      if (val[F_AMOUNT_YUAN].p[0] == '-') {
        msg = "amount_yuan: negative";
        goto fail;
      }
      if (parse_amount(val[F_AMOUNT_YUAN], 2, 1, &a)) {
        msg = "amount_yuan: not a decimal with at most 2 decimals";
        goto fail;
      }
      if (given && a != amt) {
        msg = "amount_yuan: disagrees with another amount field";
        goto fail;
      }
      amt = a, given = 1;
    }
    if (have[F_AMOUNT_WAN]) {
      if (val[F_AMOUNT_WAN].p[0] == '-') {
        msg = "amount_wan: negative";
        goto fail;
      }
      if (parse_amount(val[F_AMOUNT_WAN], 6, 1, &a)) {
        msg = "amount_wan: not a decimal with at most 6 decimals";
        goto fail;
      }
      if (given && a != amt) {
        msg = "amount_wan: disagrees with another amount field";
        goto fail;
      }
      amt = a;
    }
    r.amount_fen = amt;
  }

  /* entity_kind not given: derive it from the code when the code is valid; otherwise leave
   * CX_KIND_UNSET and let the batch reject the code. */
  if (r.entity_kind == CX_KIND_UNSET) {
    char code[CX_CODE_LEN + 1];
    int person = 0;
    if (cx_code_normalize(r.entity_code.p, r.entity_code.n, code, &person) == 0)
      r.entity_kind = cx_kind_from_code(code, person);
  }

  *out = r;
  if (why) *why = NULL;
  return 0;

fail:
  if (why) *why = msg;
  return rc;
}

/* ===================================================================== extra fields */

int cx_extra_put(char *buf, size_t cap, size_t *len, cx_str name, cx_str value) {
  if (!name.n || name.n > 128) return CX_EBADREQ;
  for (uint32_t i = 0; i < name.n; i++)
    if (name.p[i] == '\t' || name.p[i] == '\n' || name.p[i] == '\r') return CX_EBADREQ;
  size_t need = (size_t)name.n + 2;
  for (uint32_t i = 0; i < value.n; i++) {
    char c = value.p[i];
    need += c == '\\' || c == '\t' || c == '\n' || c == '\r' ? 2 : 1;
  }
  if (*len + need > cap || *len + need > CX_MAX_EXTRA) return CX_ETOOLARGE;
  char *o = buf + *len;
  memcpy(o, name.p, name.n);
  o += name.n;
  *o++ = '\t';
  for (uint32_t i = 0; i < value.n; i++) {
    char c = value.p[i];
    if (c == '\\' || c == '\t' || c == '\n' || c == '\r') {
      *o++ = '\\';
      *o++ = c == '\t' ? 't' : c == '\n' ? 'n' : c == '\r' ? 'r' : '\\';
    } else {
      *o++ = c;
    }
  }
  *o++ = '\n';
  *len += need;
  return 0;
}

int cx_extra_each(cx_str extra, cx_extra_fn fn, void *ctx, char *scratch, size_t cap) {
  uint32_t i = 0;
  while (i < extra.n) {
    uint32_t ns = i;
    while (i < extra.n && extra.p[i] != '\t' && extra.p[i] != '\n') i++;
    if (i >= extra.n || extra.p[i] != '\t' || i == ns) return CX_ECORRUPT;
    cx_str name = {extra.p + ns, i - ns};
    i++;
    size_t o = 0;
    while (i < extra.n && extra.p[i] != '\n') {
      char c = extra.p[i++];
      if (c == '\\' && i < extra.n) {
        char e = extra.p[i++];
        c = e == 't' ? '\t' : e == 'n' ? '\n' : e == 'r' ? '\r' : e;
      }
      if (o < cap) scratch[o++] = c;
    }
    if (i >= extra.n) return CX_ECORRUPT; /* every field ends with LF */
    i++;
    int rc = fn(ctx, name, (cx_str){scratch, (uint32_t)o});
    if (rc) return rc < 0 ? rc : 0;
  }
  return 0;
}
