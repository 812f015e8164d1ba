/*
 * entity.c — the status page of an entity and the paged list of its records.
 */
#include "query_int.h"

/* ===================================================================== entity */

/** 1 when role may see at least one record of s on as_of. */
static int any_visible(const cx_query *q, cx_role role, const cx_summary *s, cx_day as_of) {
  for (uint32_t i = 0; i < s->n_recs; i++) {
    cx_sum_rec r;
    cx_summary_rec(s, i, &r);
    if (cx_query_visible(q, role, s->kind, &r, as_of)) return 1;
  }
  return 0;
}

typedef struct auth_ctx {
  const cx_query *q;
  cx_role role;
  uint8_t kind;
  cx_day as_of;
  int found;
  uint32_t aid;
} auth_ctx;

static int first_visible_auth(void *vctx, const cx_reckey *key, const cx_record *r) {
  (void)key;
  auth_ctx *a = vctx;
  cx_sum_rec sr;
  cx__query_sum_rec_of(r, &sr);
  if (!cx_query_visible(a->q, a->role, a->kind, &sr, a->as_of)) return 0;
  a->found = 1;
  a->aid = r->authority_id;
  return 1;
}

int cx_query_entity(const cx_query *q, cx_txn *t, cx_role role, cx_str code, cx_day as_of,
                    cx_entity_status *out) {
  if (!q || !t || !out || (unsigned)role >= CX_ROLE_COUNT) return CX_EBADREQ;
  int rc = cx_query_check_day(role, as_of);
  if (rc < 0) return rc;
  char norm[CX_CODE_LEN + 1];
  int is_person = 0;
  rc = cx__query_code(code, norm, &is_person);
  if (rc < 0) return rc;
  cx_summary s;
  rc = cx_store_summary_get(t, norm, &s);
  if (rc < 0) return rc;
  return cx__query_entity_of(q, t, role, &s, as_of, out);
}

int cx__query_entity_of(const cx_query *q, cx_txn *t, cx_role role, const cx_summary *sp,
                        cx_day as_of, cx_entity_status *out) {
  const cx_summary s = *sp;
  int rc;
  /* Everything below is computed over the records the role may see, and nothing else: for the
   * public an entity with none is not there at all. */
  int pub = role == CX_ROLE_PUBLIC;
  cx_cat_counts counts[CX_CAT_COUNT];
  memset(counts, 0, sizeof counts);
  uint32_t flags = 0, n_vis = 0;
  cx_day newest = CX_DAY_NONE;
  for (uint32_t i = 0; i < s.n_recs; i++) {
    cx_sum_rec r;
    cx_summary_rec(&s, i, &r);
    if (r.category >= CX_CAT_COUNT || !cx_query_visible(q, role, s.kind, &r, as_of)) continue;
    cx_cat_counts *c = &counts[r.category];
    int inf = cx_query_in_force(&r, as_of);
    n_vis++;
    c->total++;
    c->in_force += (uint32_t)inf;
    c->visible += pub ? 1u : (uint32_t)cx_query_displayable(q, s.kind, &r, as_of);
    if (r.decision_date > newest) newest = r.decision_date;
    if (inf && r.category == CX_CAT_BLACKLIST) flags |= CX_EF_BLACKLISTED;
    if (inf && r.category == CX_CAT_REDLIST) flags |= CX_EF_REDLISTED;
    if (inf && (r.flags & CX_SRF_RESTRICTS)) flags |= CX_EF_UNDER_MEASURES;
    if (r.status == CX_ST_ACTIVE && (r.flags & CX_SRF_OBJECTION)) flags |= CX_EF_OBJECTION;
  }
  if (pub && !n_vis) return CX_ENOTFOUND;
  /* Non-public roles: the check index also holds measures of records whose flag predates the
   * index (stores written before CX_SRF_RESTRICTS); it agrees with the flags of a rebuilt one. */
  cx_summary part;
  for (uint32_t k = 0; !pub && k <= s.n_chunks && !(flags & CX_EF_UNDER_MEASURES); k++) {
    if ((rc = cx_store_summary_chunk(t, &s, k, &part))) return rc;
    for (uint32_t i = 0; i < part.n_hits && !(flags & CX_EF_UNDER_MEASURES); i++) {
      cx_sum_hit h;
      cx_summary_hit(&part, i, &h, NULL, NULL);
      if ((h.measures & q->restrict_any) && cx__in_force(CX_ST_ACTIVE, h.valid_from, h.valid_until, as_of))
        flags |= CX_EF_UNDER_MEASURES;
    }
  }

  /* A civil servant's authority: of the newest record the role sees. The summary keeps that
   * of the newest record of all; when the role does not see that one, walk the records
   * (newest first) to the first it does (civil servants only: rare, and a short walk). */
  cx_str acode = {"", 0}, aname = {"", 0};
  if (s.kind == CX_KIND_CIVIL_SERVANT && s.authority_code.n) {
    cx_sum_rec r0;
    memset(&r0, 0, sizeof r0);
    if (s.n_recs) cx_summary_rec(&s, 0, &r0);
    uint32_t aid = 0;
    int have = 0;
    if (s.n_recs && cx_query_visible(q, role, s.kind, &r0, as_of)) {
      acode = s.authority_code;
      have = cx_store_authority_find(t, acode, &aid) == 0;
    } else {
      auth_ctx ac = {q, role, s.kind, as_of, 0, 0};
      if ((rc = cx_store_records_each(t, s.entity_id, NULL, first_visible_auth, &ac)) < 0) return rc;
      if (ac.found) {
        aid = ac.aid;
        have = 1;
      }
    }
    cx_str c2, n2;
    if (have && cx_store_authority_get(t, aid, &c2, &n2) == 0) {
      acode = c2;
      aname = n2;
    }
  }

  /* Everything is known: fill out (left untouched on every failure above). */
  memcpy(out->counts, counts, sizeof counts);
  out->code = cx__query_visible_code(role, s.code, s.kind, out->code_buf);
  out->stored_code = s.code;
  out->name = s.name;
  out->kind = s.kind;
  out->region = s.region;
  cx__region_show rs;
  cx__query_region_show(q, t, s.region, &rs, out->city_buf, sizeof out->city_buf);
  out->province = rs.province;
  out->city = rs.city;
  out->county = rs.county;
  out->region_until = rs.until;
  out->authority_code = acode;
  out->authority_name = aname;
  out->flags = flags;
  out->last_update = pub || role == CX_ROLE_APPROVAL ? newest : s.last_update;
  return 0;
}

/* ===================================================================== cursors */

/*
 * Cursor: 22 bytes, lower-case hex (44 characters + NUL):
 *   version (1) | entity id (4, BE) | last key's ~date (4, BE) | seq (4, BE) | category + 1 (1)
 *   | SipHash-2-4 (8) of the first 14 bytes under the store salt.
 * The MAC binds the cursor to the store, the entity and the category filter: anything else
 * (another entity's cursor, a changed filter, a flipped bit) is CX_EBADREQ.
 */
#define CURSOR_VERSION 1u
#define CURSOR_BODY 14
#define CURSOR_BYTES 22

static void put32(unsigned char *p, uint32_t v) {
  p[0] = (unsigned char)(v >> 24);
  p[1] = (unsigned char)(v >> 16);
  p[2] = (unsigned char)(v >> 8);
  p[3] = (unsigned char)v;
}
static uint32_t get32(const unsigned char *p) {
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void cursor_encode(const cx_query *q, const cx_reckey *k, int category,
                          char out[CX_CURSOR_MAX]) {
  unsigned char b[CURSOR_BYTES];
  b[0] = CURSOR_VERSION;
  put32(b + 1, k->entity_id);
  put32(b + 5, k->decision_date);
  put32(b + 9, k->seq);
  b[13] = (unsigned char)(category + 1);
  uint64_t mac = cx__query_siphash(q->k0, q->k1, b, CURSOR_BODY);
  for (int i = 0; i < 8; i++) b[CURSOR_BODY + i] = (unsigned char)(mac >> (8 * i));
  static const char hex[] = "0123456789abcdef";
  for (int i = 0; i < CURSOR_BYTES; i++) {
    out[2 * i] = hex[b[i] >> 4];
    out[2 * i + 1] = hex[b[i] & 15];
  }
  out[2 * CURSOR_BYTES] = 0;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

static int cursor_decode(const cx_query *q, cx_str s, uint32_t entity_id, int category,
                         cx_reckey *k) {
  if (s.n != 2 * CURSOR_BYTES || !s.p) return CX_EBADREQ;
  unsigned char b[CURSOR_BYTES];
  for (int i = 0; i < CURSOR_BYTES; i++) {
    int hi = hexval(s.p[2 * i]), lo = hexval(s.p[2 * i + 1]);
    if (hi < 0 || lo < 0) return CX_EBADREQ;
    b[i] = (unsigned char)(hi << 4 | lo);
  }
  uint64_t mac = cx__query_siphash(q->k0, q->k1, b, CURSOR_BODY), got = 0;
  for (int i = 7; i >= 0; i--) got = got << 8 | b[CURSOR_BODY + i];
  if (mac != got || b[0] != CURSOR_VERSION) return CX_EBADREQ;
  if (get32(b + 1) != entity_id || b[13] != (unsigned char)(category + 1)) return CX_EBADREQ;
  k->entity_id = entity_id;
  k->decision_date = get32(b + 5);
  k->seq = get32(b + 9);
  return 0;
}

/* ===================================================================== records */

typedef struct page_ctx {
  const cx_query *q;
  const cx_records_req *req;
  uint8_t kind;
  uint32_t limit, emitted, visits;
  int more, have_last;
  cx_reckey last;              /* the last record visited: the next page starts after it */
  cx_record_view_fn fn;
  void *ctx;
} page_ctx;

static int page_cb(void *vctx, const cx_reckey *key, const cx_record *r) {
  page_ctx *p = vctx;
  const cx_records_req *req = p->req;
  /* The walk's budget: records skipped (hidden from the role, other categories) count too,
   * so an entity with 60,000 records the public cannot see costs one bounded walk per call;
   * the page ends short, with a cursor after the last record visited. */
  if (p->visits == CX_RECORDS_VISIT_MAX && p->have_last) {
    p->more = 1;
    return 1;
  }
  p->visits++;
  if (req->category >= 0 && r->category != (uint8_t)req->category) goto skip;
  cx_sum_rec sr;
  cx__query_sum_rec_of(r, &sr);
  if (!cx_query_visible(p->q, req->role, p->kind, &sr, req->as_of)) goto skip;
  int disp = cx_query_displayable(p->q, p->kind, &sr, req->as_of);
  if (p->emitted == p->limit) { /* one more visible record: there is a next page */
    p->more = 1;
    return 1;
  }
  cx_record masked;
  char buf[CX_CODE_TEXT_MAX];
  cx_record_view v = {r, cx_query_in_force(&sr, req->as_of), disp};
  if ((req->role == CX_ROLE_PUBLIC && cx__query_code_is_idcard(r->entity_code.p, r->entity_code.n, p->kind)) ||
      (r->entity_code.n == CX_CODE_LEN && cx_code_typed(r->entity_code.p))) {
    masked = *r;
    masked.entity_code = cx__query_visible_code(req->role, r->entity_code, p->kind, buf);
    v.r = &masked;
  }
  int rc = p->fn ? p->fn(p->ctx, &v) : 0;
  if (rc < 0) return rc;
  p->emitted++;
skip:
  p->last = *key;
  p->have_last = 1;
  return 0;
}

int cx_query_records(const cx_query *q, cx_txn *t, const cx_records_req *req,
                     cx_record_view_fn fn, void *ctx, char next_cursor[CX_CURSOR_MAX]) {
  if (!q || !t || !req || !next_cursor) return CX_EBADREQ;
  if ((unsigned)req->role >= CX_ROLE_COUNT || req->category < -1 || req->category >= CX_CAT_COUNT ||
      req->limit > CX_RECORDS_MAX_LIMIT)
    return CX_EBADREQ;
  int rc = cx_query_check_day(req->role, req->as_of);
  if (rc < 0) return rc;
  char norm[CX_CODE_LEN + 1];
  int is_person = 0;
  rc = cx__query_code(req->code, norm, &is_person);
  if (rc < 0) return rc;
  cx_summary s;
  rc = cx_store_summary_get(t, norm, &s);
  if (rc < 0) return rc;
  /* Same rule as the status page, and before the cursor is looked at: an entity the public may
   * not see does not exist for it, whatever the cursor (no existence oracle). */
  if (req->role == CX_ROLE_PUBLIC && !any_visible(q, req->role, &s, req->as_of)) return CX_ENOTFOUND;
  cx_reckey after;
  int have_after = 0;
  if (req->cursor.n) {
    rc = cursor_decode(q, req->cursor, s.entity_id, req->category, &after);
    if (rc < 0) return rc;
    have_after = 1;
  }

  page_ctx p = {q, req, s.kind, req->limit ? req->limit : 20, 0, 0, 0, 0, {0, 0, 0}, fn, ctx};
  rc = cx_store_records_each(t, s.entity_id, have_after ? &after : NULL, page_cb, &p);
  if (rc < 0) return rc;
  if (p.more)
    cursor_encode(q, &p.last, req->category, next_cursor);
  else
    next_cursor[0] = 0;
  return 0;
}
