/*
 * lifecycle.c — the record lifecycle state machine (store.h "record lifecycle").
 *
 * One table decides every transition, for every door: status active -> repaired -> active
 * (reinstate), active | repaired -> revoked (final); the objection flag opens and closes on its
 * own. cx_batch applies it at commit, against the stored state, in the batch's write txn.
 */
#include "store.h"

const char *const cx_event_names[CX_EV_COUNT] = {"repair", "revoke", "reinstate", "objection",
                                                 "objection_withdraw"};

int cx_lifecycle_next(uint8_t status, uint8_t objection, int ev, uint8_t *nstatus,
                      uint8_t *nobjection, const char **why) {
  uint8_t st = status, ob = objection;
  const char *msg = NULL;
  if (status >= CX_ST_COUNT || objection > 1) {
    msg = "record state out of range";
    goto refuse;
  }
  switch (ev) {
  case CX_EV_REPAIR:
    if (status == CX_ST_REVOKED) { msg = "repair: the record is revoked (revoked is final)"; goto refuse; }
    st = CX_ST_REPAIRED;
    break;
  case CX_EV_REVOKE:
    st = CX_ST_REVOKED;
    break;
  case CX_EV_REINSTATE:
    if (status == CX_ST_REVOKED) { msg = "reinstate: the record is revoked (revoked is final)"; goto refuse; }
    if (status == CX_ST_ACTIVE) { msg = "reinstate: the record is not repaired"; goto refuse; }
    st = CX_ST_ACTIVE;
    break;
  case CX_EV_OBJECTION:
    if (status == CX_ST_REVOKED) { msg = "objection: the record is revoked (revoked is final)"; goto refuse; }
    ob = 1;
    break;
  case CX_EV_OBJECTION_WITHDRAW:
    ob = 0; /* closing an objection is allowed in every state: it only ends a flag */
    break;
  default:
    msg = "unknown lifecycle event";
    goto refuse;
  }
  *nstatus = st;
  *nobjection = ob;
  if (why) *why = NULL;
  return st == status && ob == objection ? 1 : 0;
refuse:
  if (why) *why = msg;
  return CX_EBADREQ;
}
