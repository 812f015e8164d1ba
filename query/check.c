/*
 * check.c — the linked-punishment verdict: the hot path.
 *
 * One summary lookup (one B-tree descent), then a walk over the entity's check index (its
 * cx_sum_hit array, typically a handful of entries; an entity with over 512 hits adds one
 * lookup per spill chunk of 512). No heap allocation and no clearing of
 * the caller's hit array: only the entries written are touched.
 */
#include "query_int.h"

static void put_hit(const cx_query *q, const cx_summary *s, uint32_t i, const cx_sum_hit *h,
                    int m, cx_check_hit *out) {
  cx_sum_hit tmp;
  cx_summary_hit(s, i, &tmp, &out->record_id, &out->authority_code);
  out->category = h->category;
  out->list_type = h->list_type < q->cat.n_lists ? q->cat.lists[h->list_type].code : "";
  out->measure = q->cat.measures[m].code;
  out->measure_name = q->cat.measures[m].name;
  out->effect = q->cat.measures[m].effect;
  out->valid_from = h->valid_from;
  out->valid_until = h->valid_until;
  out->objection = (h->flags & CX_SRF_OBJECTION) ? 1 : 0;
  out->severity = h->severity;
  out->authority_id = h->authority_id;
  out->advisory = 0;
}

/* An advisory hit: the record, its tier and display window, no measure. */
static void put_advisory(const cx_summary *s, uint32_t i, const cx_sum_hit *h, cx_check_hit *out) {
  cx_sum_hit tmp;
  cx_summary_hit(s, i, &tmp, &out->record_id, &out->authority_code);
  out->category = h->category;
  out->list_type = "";
  out->measure = out->measure_name = "";
  out->effect = CX_EFFECT_REVIEW; /* not used: advisory != 0 */
  out->valid_from = h->valid_from;
  out->valid_until = h->valid_until;
  out->objection = (h->flags & CX_SRF_OBJECTION) ? 1 : 0;
  out->severity = h->severity;
  out->authority_id = h->authority_id;
  out->advisory = (uint8_t)((h->flags >> CX_SRF_ADV_SHIFT) & (CX_ADV_TIER | CX_ADV_FINE));
}

/* Adds a hit per measure in mask of every hit of s in force on as_of (the summary's hits, then,
 * for entities with over 512, its spill chunks); ORs every in-force hit's measures into
 * *in_force. Advisory hits (CX_SRF_ADVISORY) are not measures: with advisory == 0 they are
 * skipped and *adv counts those that apply (in their window, none of their own measures in
 * mask: the action's restrictions); with advisory != 0 only those are added. */
static int walk_hits(const cx_query *q, cx_txn *t, const cx_summary *s, cx_day as_of, uint64_t mask,
                     cx_check_hit *hits, uint32_t cap, uint32_t *n, uint32_t *total,
                     uint64_t *in_force, int advisory, uint32_t *adv, uint64_t restrict_all) {
  cx_summary part;
  for (uint32_t k = 0; k <= s->n_chunks; k++) {
    int rc = cx_store_summary_chunk(t, s, k, &part);
    if (rc) return rc;
    for (uint32_t i = 0; i < part.n_hits; i++) {
      cx_sum_hit h;
      cx_summary_hit(&part, i, &h, NULL, NULL);
      if (!cx__in_force(CX_ST_ACTIVE, h.valid_from, h.valid_until, as_of)) continue;
      if ((h.flags & CX_SRF_ADVISORY) && !(h.measures & restrict_all)) {
        /* a hint for this action: none of its measures restricts it */
        if (advisory) {
          if (*n < cap) put_advisory(&part, i, &h, &hits[(*n)++]);
          ++*total;
          continue;
        }
        ++*adv;
      }
      if (advisory) continue;
      *in_force |= h.measures;
      for (uint64_t m = h.measures & mask; m; m &= m - 1) {
        if (*n < cap) put_hit(q, &part, i, &h, __builtin_ctzll(m), &hits[(*n)++]);
        ++*total;
      }
    }
  }
  return 0;
}

int cx_query_check(const cx_query *q, cx_txn *t, cx_str code, int action, cx_day as_of,
                   cx_check_result *out, cx_check_hit *hits, uint32_t cap) {
  if (!q || !t || !out || (!hits && cap)) return CX_EBADREQ;
  if (action < 0 || (uint32_t)action >= q->cat.n_actions || action >= CX_MAX_ACTIONS)
    return CX_EBADREQ;
  int is_person = 0;
  int rc = cx__query_code(code, out->code, &is_person);
  out->n_hits = out->n_total = out->n_advisory = 0;
  out->code_err = 0;
  out->region = 0;
  out->kind = CX_KIND_UNSET;
  if (rc < 0) {
    out->verdict = CX_V_INVALID_CODE;
    out->code[0] = 0;
    out->shown[0] = 0;
    out->code_err = rc;
    return 0;
  }
  cx_code_format(out->code, out->shown); /* a copy of 18 bytes, or a typed key's text */
  cx_summary s;
  rc = cx_store_summary_get(t, out->code, &s);
  if (rc == CX_ENOTFOUND) {
    out->verdict = CX_V_NOT_FOUND;
    if (is_person) out->kind = CX_KIND_PERSON;
    return 0;
  }
  if (rc < 0) return rc;
  out->kind = s.kind;
  out->region = s.region;

  const uint64_t deny = q->cat.deny[action], review = q->cat.review[action];
  const uint64_t restrict_mask = deny | review, incentive = q->cat.incentive[action];
  uint32_t n = 0, total = 0;
  uint64_t in_force = 0; /* union of the measures of every hit in force */
  uint32_t adv = 0;      /* advisory hits that apply (counted by the first pass) */
  if ((rc = walk_hits(q, t, &s, as_of, restrict_mask, hits, cap, &n, &total, &in_force, 0, &adv, restrict_mask)))
    return rc;
  const uint64_t seen = in_force & restrict_mask;
  /* Further passes only for an entity that has what they add, so that restrictions come
   * first, then advisory hits, then incentives. An entity without advisory hits pays one flag
   * test per hit. */
  if (adv && (rc = walk_hits(q, t, &s, as_of, restrict_mask, hits, cap, &n, &total, &in_force, 1, &adv, restrict_mask)))
    return rc;
  uint32_t again = 0; /* the incentive pass counts advisory hits again: not used */
  if (in_force & incentive)
    if ((rc = walk_hits(q, t, &s, as_of, incentive, hits, cap, &n, &total, &in_force, 0, &again, restrict_mask)))
      return rc;
  out->verdict = (seen & deny) ? CX_V_DENY : (seen & review) ? CX_V_REVIEW : CX_V_CLEAR;
  out->n_hits = n;
  out->n_total = total;
  out->n_advisory = adv;
  return 0;
}
