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

const cx_record_field_info cx_record_fields[CX_RF_COUNT] = {
#define CX_RF_INFO_(id, nm, kind, req, mx, gen) [CX_RF_##id] = {#nm, CX_FK_##kind, req, gen, mx},
    CX_RECORD_FIELDS(CX_RF_INFO_)
#undef CX_RF_INFO_
};

/* The names' lengths at compile time: every import row looks up each of its ~20 names, and a
 * strlen of every table name per lookup was 6 % of `chengxin import` (perf, issue 20). */
static const uint8_t field_len[CX_RF_COUNT] = {
#define CX_RF_LEN_(id, nm, kind, req, mx, gen) [CX_RF_##id] = sizeof #nm - 1,
    CX_RECORD_FIELDS(CX_RF_LEN_)
#undef CX_RF_LEN_
};

int cx_record_field_parse(cx_str name) {
  for (int i = 0; i < CX_RF_COUNT; i++)
    if (name.n == field_len[i] && memcmp(name.p, cx_record_fields[i].name, name.n) == 0) return i;
  return CX_EBADREQ;
}

/* The short names of this file. */
#define F_COUNT CX_RF_COUNT


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
    int f = cx_record_field_parse(trim(names[i]));
    if (f < 0) continue; /* unknown names are ignored */
    /* the extra fields' string is kept as written: its lines end with LF */
    cx_str v = f == CX_RF_EXTRA ? (values[i].p ? values[i] : (cx_str){"", 0}) : trim(values[i]);
    if (v.n == 0) continue; /* empty = not given */
    val[f] = v;
    have[f] = 1;
  }

  cx_record_defaults(&r);

  /* required fields, in the table's order (one message: the first missing) */
  for (int f = 0; f < F_COUNT; f++)
    if (cx_record_fields[f].required && !have[f]) {
      rc = CX_EBADREQ;
      switch (f) {
#define CX_RF_REQ_(id, nm, kind, rq, mx, gen) \
  case CX_RF_##id: msg = #nm ": required"; break;
        CX_RECORD_FIELDS(CX_RF_REQ_)
#undef CX_RF_REQ_
      }
      goto fail;
    }
  r.entity_code = val[CX_RF_ENTITY_CODE];
  r.entity_name = val[CX_RF_ENTITY_NAME];
  r.record_id = val[CX_RF_RECORD_ID];
  r.authority_code = val[CX_RF_AUTHORITY_CODE];
  if (r.record_id.n > cx_record_fields[CX_RF_RECORD_ID].max) {
    msg = "record_id: longer than 128 bytes";
    goto fail;
  }
  if (have[CX_RF_AUTHORITY_NAME]) r.authority_name = val[CX_RF_AUTHORITY_NAME];
  if (have[CX_RF_LIST_TYPE]) r.list_type = val[CX_RF_LIST_TYPE];
  if (have[CX_RF_MEASURES]) r.measures = val[CX_RF_MEASURES];
  if (have[CX_RF_BASIS]) r.basis = val[CX_RF_BASIS];
  if (have[CX_RF_CONTENT]) r.content = val[CX_RF_CONTENT];
  if (have[CX_RF_EXTRA]) r.extra = val[CX_RF_EXTRA];

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
  ENUM(CX_RF_CATEGORY, cx_category_names, CX_CAT_COUNT, category, "category");
  ENUM(CX_RF_ENTITY_KIND, cx_kind_names, CX_KIND_COUNT, entity_kind, "entity_kind");
  ENUM(CX_RF_SUBTYPE, cx_subtype_names, CX_SUB_COUNT, subtype, "subtype");
  ENUM(CX_RF_DOMAIN, cx_domain_names, CX_DOM_COUNT, domain, "domain");
  ENUM(CX_RF_SEVERITY, cx_severity_names, CX_SEV_COUNT, severity, "severity");
  ENUM(CX_RF_STATUS, cx_status_names, CX_ST_COUNT, status, "status");
#undef ENUM
  if (!cx_subtype_valid(r.category, r.subtype)) {
    msg = "subtype: not allowed for this category";
    goto fail;
  }
  if ((r.category == CX_CAT_BLACKLIST || r.category == CX_CAT_REDLIST) && r.list_type.n == 0) {
    msg = "list_type: required for blacklist and redlist records";
    goto fail;
  }

  if (have[CX_RF_OBJECTION]) {
    cx_str v = val[CX_RF_OBJECTION];
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
  if (parse_date_field(val[CX_RF_DECISION_DATE], &r.decision_date)) {
    msg = "decision_date: not a YYYY-MM-DD date";
    goto fail;
  }
  if (have[CX_RF_REPORT_DATE] && parse_date_field(val[CX_RF_REPORT_DATE], &r.report_date)) {
    msg = "report_date: not a YYYY-MM-DD date";
    goto fail;
  }
  r.valid_from = r.decision_date;
  if (have[CX_RF_VALID_FROM] && parse_date_field(val[CX_RF_VALID_FROM], &r.valid_from)) {
    msg = "valid_from: not a YYYY-MM-DD date";
    goto fail;
  }
  if (have[CX_RF_VALID_UNTIL] && !ieq(val[CX_RF_VALID_UNTIL], "open") &&
      parse_date_field(val[CX_RF_VALID_UNTIL], &r.valid_until)) {
    msg = "valid_until: not a YYYY-MM-DD date (or \"open\")";
    goto fail;
  }
  if (r.valid_until <= r.valid_from) {
    msg = "valid_until: not after valid_from";
    goto fail;
  }
  if (have[CX_RF_DISPLAY_UNTIL] && parse_date_field(val[CX_RF_DISPLAY_UNTIL], &r.display_until)) {
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
    if (have[CX_RF_AMOUNT_FEN]) {
      if (val[CX_RF_AMOUNT_FEN].p[0] == '-') {
        msg = "amount_fen: negative";
        goto fail;
      }
      if (parse_amount(val[CX_RF_AMOUNT_FEN], 0, 1, &a)) {
        msg = "amount_fen: not a non-negative integer";
        goto fail;
      }
      amt = a, given = 1;
    }
    if (have[CX_RF_AMOUNT_YUAN]) {
      if (val[CX_RF_AMOUNT_YUAN].p[0] == '-') {
        msg = "amount_yuan: negative";
        goto fail;
      }
      if (parse_amount(val[CX_RF_AMOUNT_YUAN], 2, 1, &a)) {
        msg = "amount_yuan: not a decimal with at most 2 decimals";
        goto fail;
      }
      if (given && a != amt) {
        msg = "amount_yuan: disagrees with another amount field";
        goto fail;
      }
      amt = a, given = 1;
    }
    if (have[CX_RF_AMOUNT_WAN]) {
      if (val[CX_RF_AMOUNT_WAN].p[0] == '-') {
        msg = "amount_wan: negative";
        goto fail;
      }
      if (parse_amount(val[CX_RF_AMOUNT_WAN], 6, 1, &a)) {
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
