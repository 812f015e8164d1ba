/*
 * query_int.h — private to query/: the query context and helpers shared by its files.
 */
#ifndef CX_QUERY_INT_H
#define CX_QUERY_INT_H

#include "query.h"

typedef struct cx__regtab cx__regtab;

struct cx_query {
  cx_store *st;          /* borrowed; must outlive the query */
  struct cx__regcache *regions; /* regions.c: the names of every region code, derived once */
  cx_catalog cat;        /* copy of the store's catalogue */
  uint64_t restrict_any; /* OR of deny[] | review[] over every action */
  uint64_t k0, k1;       /* SipHash key derived from the store salt (cursors) */
};

/**
 * cx_query_entity after its summary lookup: the status of the entity of summary s as role sees
 * it on as_of (as_of already checked). CX_ENOTFOUND for the public and an entity none of whose
 * records it may see. The one place that decides flags and counts (entity and search).
 */
int cx__query_entity_of(const cx_query *q, cx_txn *t, cx_role role, const cx_summary *s,
                        cx_day as_of, cx_entity_status *out);

/** What a status shows of a region code (regions.c). */
typedef struct cx__region_show {
  cx_str province, city, county; /* "" when unknown; city as cx_query_city_name says it, "" for
                                    a province's own level or a number */
  uint16_t until;                /* cx_region.last_year: 0 for a current code */
} cx__region_show;
/** The region names of code region for a status at txn t's snapshot; city may point into
 *  city_buf (cap bytes), the rest into the map or into q. */
void cx__query_region_show(const cx_query *q, cx_txn *t, uint32_t region, cx__region_show *out,
                           char *city_buf, size_t cap);
int cx__query_regions_init(cx_query *q);
void cx__query_regions_free(cx_query *q);

/** SipHash-2-4 of n bytes under the key (k0, k1). */
uint64_t cx__query_siphash(uint64_t k0, uint64_t k1, const void *p, size_t n);

/**
 * Normalises a request code and tells whether it is a resident ID number.
 * Returns 0 or a code error (CX_EINVALCODE, CX_ELENGTH, ...).
 */
int cx__query_code(cx_str code, char out[CX_CODE_LEN + 1], int *is_person);

/** 1 when a stored (normalised) 18-byte code of an entity of kind `kind` is a resident ID
 *  number: when the kind is person or civil servant (whatever today is). */
int cx__query_code_is_idcard(const char *code, uint32_t n, uint8_t kind);

/**
 * The code as the role may see it: the stored code itself, or for the public role and an ID
 * number its mask written into buf.
 */
/* code as answers show it into buf: masked (cx_idcard_mask) when mask, typed identifiers in
 * their textual form (cx_code_format); otherwise code itself. */
cx_str cx__query_shown_code(cx_str code, int mask, char buf[CX_CODE_TEXT_MAX]);
cx_str cx__query_visible_code(cx_role role, cx_str code, uint8_t kind, char buf[CX_CODE_TEXT_MAX]);

/** 1 for kinds whose records follow the catalogue's person_public rule. */
static inline int cx__query_kind_is_person(uint8_t kind) { return cx_kind_is_person(kind); }

/** The record digest of a full record (for cx_query_displayable on records). */
static inline void cx__query_sum_rec_of(const cx_record *r, cx_sum_rec *out) {
  out->decision_date = r->decision_date;
  out->valid_from = r->valid_from;
  out->valid_until = r->valid_until;
  out->display_until = r->display_until;
  out->category = r->category;
  out->severity = r->severity;
  out->status = r->status;
  out->flags = (uint8_t)((r->objection ? CX_SRF_OBJECTION : 0) | ((r->subtype & 0x0F) << CX_SRF_SUBTYPE_SHIFT));
}

/** In force on day d: active and valid_from <= d < valid_until (CX_DAY_OPEN never ends). */
static inline int cx__in_force(uint8_t status, cx_day from, cx_day until, cx_day d) {
  return status == CX_ST_ACTIVE && from <= d && (until == CX_DAY_OPEN || d < until);
}

#endif
