/*
 * libFuzzer target: the import row path, cx_record_from_fields (store/fields.c), shared by
 * CSV/JSONL import and the protocol's ingest. The input is split into name/value pairs at
 * '\n' and the first '=' (a name with no '=' gets an empty value); a leading byte picks a
 * prefix of canonical names so most rows reach the deep checks. On success the record must be
 * self-consistent (enum ranges, dates as documented) and cx_batch_put must not crash on it.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "fuzz.h"

#define MAXF 64

static const char *const canon[] = {
    "record_id", "authority_code", "authority_name", "entity_code", "entity_name",
    "entity_kind", "category", "subtype", "domain", "severity", "decision_date", "report_date",
    "valid_from", "valid_until", "status", "objection", "amount_fen", "amount_yuan",
    "amount_wan", "list_type", "measures", "basis", "content"};
#define NCANON (sizeof canon / sizeof canon[0])

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  /* Copy into an exact-size heap buffer so reads past a value's end are caught. */
  char *buf = malloc(size);
  CHECK(buf);
  memcpy(buf, data, size);
  cx_str names[MAXF], values[MAXF];
  size_t n = 0;
  /* Byte 0: how many canonical fields come first with a value taken in order from the lines
   * (bit 7 set), else the lines are name=value pairs. */
  int positional = (buf[0] & 0x80) != 0;
  size_t i = 1;
  while (i <= size && n < MAXF) {
    size_t j = i;
    while (j < size && buf[j] != '\n') j++;
    const char *line = buf + i;
    size_t len = j - i;
    if (positional && n < NCANON) {
      names[n] = cx_str_c(canon[n]);
      values[n] = (cx_str){line, (uint32_t)len};
    } else {
      const char *eq = memchr(line, '=', len);
      size_t nl = eq ? (size_t)(eq - line) : len;
      names[n] = (cx_str){line, (uint32_t)nl};
      values[n] = eq ? (cx_str){eq + 1, (uint32_t)(len - nl - 1)} : (cx_str){line + len, 0};
    }
    n++;
    if (j >= size) break;
    i = j + 1;
  }
  cx_record r;
  memset(&r, 0xA5, sizeof r);
  cx_record before = r;
  const char *why = NULL;
  int rc = cx_record_from_fields(names, values, n, &r, &why);
  if (rc != 0) {
    CHECK(rc == CX_EBADREQ || rc == CX_EDATE);
    CHECK(why && *why);
    CHECK(memcmp(&r, &before, sizeof r) == 0); /* out untouched on error */
  } else {
    CHECK(r.record_id.n > 0 && r.record_id.n <= 128);
    CHECK(r.authority_code.n > 0 && r.entity_code.n > 0 && r.entity_name.n > 0);
    CHECK(r.entity_kind < CX_KIND_COUNT || r.entity_kind == CX_KIND_UNSET);
    CHECK(r.category < CX_CAT_COUNT);
    CHECK(r.subtype < CX_SUB_COUNT && cx_subtype_valid(r.category, r.subtype));
    /* no tier given: CX_SEV_UNSET, which the batch derives (cx_catalog_tier) */
    CHECK(r.domain < CX_DOM_COUNT && (r.severity < CX_SEV_COUNT || r.severity == CX_SEV_UNSET) &&
          r.status < CX_ST_COUNT);
    CHECK(r.display_until == CX_DAY_NONE || r.display_until >= r.decision_date);
    CHECK(r.objection <= 1);
    CHECK(r.amount_fen >= 0);
    CHECK(r.decision_date != CX_DAY_NONE);
    CHECK(r.report_date == CX_DAY_NONE || r.report_date >= r.decision_date);
    CHECK(r.valid_until == CX_DAY_OPEN || r.valid_until > r.valid_from);
    if (r.category == CX_CAT_BLACKLIST || r.category == CX_CAT_REDLIST) CHECK(r.list_type.n > 0);
    /* Borrowed strings point into the values. */
    const cx_str *ss[] = {&r.record_id, &r.authority_code, &r.entity_code, &r.entity_name};
    for (size_t k = 0; k < sizeof ss / sizeof ss[0]; k++)
      CHECK(ss[k]->p >= buf && ss[k]->p + ss[k]->n <= buf + size);
  }
  free(buf);
  return 0;
}
