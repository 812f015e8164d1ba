/* keys.c — key encodings (big-endian, byte order = numeric order) and the record value codec.
 * Layouts are documented in store_int.h. */
#include "store_int.h"

void cx_reckey_encode(const cx_reckey *k, unsigned char out[CX_RECKEY_LEN]) {
  cx__be32(out, k->entity_id);
  cx__be32(out + 4, ~k->decision_date); /* inverted: an entity's newest record sorts first */
  cx__be32(out + 8, k->seq);
}

void cx_reckey_decode(const unsigned char in[CX_RECKEY_LEN], cx_reckey *k) {
  k->entity_id = cx__rd_be32(in);
  k->decision_date = ~cx__rd_be32(in + 4);
  k->seq = cx__rd_be32(in + 8);
}

/* ------------------------------------------------------------------ record value */

static int put_str(cx_buf *b, cx_str s) {
  if (s.n > 0xFFFF) return CX_ETOOLARGE;
  if (cx__buf_reserve(b, 2 + (size_t)s.n)) return CX_ENOMEM;
  cx__wr16(b->p + b->n, (uint16_t)s.n);
  if (s.n) memcpy(b->p + b->n + 2, s.p, s.n);
  b->n += 2 + (size_t)s.n;
  return 0;
}

int cx__rec_encode(const cx_record *r, cx_buf *out) {
  out->n = 0;
  if (cx__buf_reserve(out, CX_REC_HDR)) return CX_ENOMEM;
  unsigned char *p = out->p;
  p[0] = CX_REC_VERSION;
  p[1] = r->category;
  p[2] = r->subtype;
  p[3] = r->domain;
  p[4] = r->severity;
  p[5] = r->status;
  p[6] = r->objection;
  p[7] = r->entity_kind;
  p[8] = (unsigned char)((r->on_time & 1u) | ((r->report_received & 1u) << 1) |
                         ((r->delay_provisional & 1u) << 2));
  cx__wr32(p + 9, r->seq);
  cx__wr32(p + 13, r->entity_id);
  cx__wr32(p + 17, r->authority_id);
  cx__wr32(p + 21, r->region);
  cx__wr32(p + 25, r->decision_date);
  cx__wr32(p + 29, r->report_date);
  cx__wr32(p + 33, r->valid_from);
  cx__wr32(p + 37, r->valid_until);
  cx__wr64(p + 41, r->amount_fen);
  cx__wr32(p + 49, (uint32_t)r->report_delay);
  cx__wr32(p + 53, r->display_until);
  out->n = CX_REC_HDR;
  int rc;
  if ((rc = put_str(out, r->record_id)) || (rc = put_str(out, r->authority_code)) ||
      (rc = put_str(out, r->authority_name)) || (rc = put_str(out, r->entity_code)) ||
      (rc = put_str(out, r->entity_name)) || (rc = put_str(out, r->list_type)) ||
      (rc = put_str(out, r->measures)) || (rc = put_str(out, r->basis)) ||
      (rc = put_str(out, r->content)) || (rc = put_str(out, r->extra)))
    return rc;
  return 0;
}

static int get_str(const unsigned char *v, size_t n, size_t *off, cx_str *s) {
  if (*off + 2 > n) return CX_ECORRUPT;
  uint16_t l = cx__rd16(v + *off);
  if (*off + 2 + l > n) return CX_ECORRUPT;
  s->p = (const char *)v + *off + 2;
  s->n = l;
  *off += 2 + (size_t)l;
  return 0;
}

static int rec_decode_raw(const void *val, size_t n, cx_record *out) {
  const unsigned char *p = val;
  if (n < CX_REC_HDR || p[0] != CX_REC_VERSION) return CX_ECORRUPT;
  cx_record r;
  r.category = p[1];
  r.subtype = p[2];
  r.domain = p[3];
  r.severity = p[4];
  r.status = p[5];
  r.objection = p[6];
  r.entity_kind = p[7];
  r.on_time = p[8] & 1u;
  r.report_received = (p[8] >> 1) & 1u;
  r.delay_provisional = (p[8] >> 2) & 1u;
  r.seq = cx__rd32(p + 9);
  r.entity_id = cx__rd32(p + 13);
  r.authority_id = cx__rd32(p + 17);
  r.region = cx__rd32(p + 21);
  r.decision_date = cx__rd32(p + 25);
  r.report_date = cx__rd32(p + 29);
  r.valid_from = cx__rd32(p + 33);
  r.valid_until = cx__rd32(p + 37);
  r.amount_fen = cx__rd64(p + 41);
  r.report_delay = (int32_t)cx__rd32(p + 49);
  r.display_until = cx__rd32(p + 53);
  size_t off = CX_REC_HDR;
  if (get_str(p, n, &off, &r.record_id) || get_str(p, n, &off, &r.authority_code) ||
      get_str(p, n, &off, &r.authority_name) || get_str(p, n, &off, &r.entity_code) ||
      get_str(p, n, &off, &r.entity_name) || get_str(p, n, &off, &r.list_type) ||
      get_str(p, n, &off, &r.measures) || get_str(p, n, &off, &r.basis) ||
      get_str(p, n, &off, &r.content) || get_str(p, n, &off, &r.extra) || off != n)
    return CX_ECORRUPT;
  if (r.category >= CX_CAT_COUNT || r.severity >= CX_SEV_COUNT || r.status >= CX_ST_COUNT)
    return CX_ECORRUPT;
  *out = r;
  return 0;
}

int cx__rec_decode(cx_recdec *d, const void *v, size_t n, cx_record *out) {
  if (n && ((const unsigned char *)v)[0] == CX_REC_VERSION) return rec_decode_raw(v, n, out);
  if (!d) return CX_ECORRUPT;
  const unsigned char *raw;
  size_t rn;
  int rc = cx__rec_unpack(d, v, n, &raw, &rn);
  return rc ? rc : rec_decode_raw(raw, rn, out);
}

int cx__rec_timeliness(const cx_calendar *cal, cx_record *r) {
  if (r->report_date == CX_DAY_NONE) {
    r->report_delay = -1;
    r->on_time = 0;
    r->delay_provisional = 0;
    return 0;
  }
  r->report_delay = cx_calendar_workdays(cal, r->decision_date, r->report_date);
  r->on_time = r->report_delay <= CX_REPORT_DEADLINE_WORKDAYS;
  r->delay_provisional = (uint8_t)cx_calendar_span_provisional(cal, r->decision_date, r->report_date);
  return r->delay_provisional;
}
