/*
 * cx_err.h — chengxin error codes, shared by every module.
 *
 * Every fallible function returns int: 0 on success or a negative CX_E* code.
 * One X-macro table generates the enum, cx_strerror() and cx_err_name(); the
 * protocol's error strings (`bad_request`, `not_found`, ...) are cx_err_name().
 * Library codes (MDB_*, UV_*, errno) are translated at the module boundary.
 */
#ifndef CX_ERR_H
#define CX_ERR_H

/* X(ENUM, value, wire name, message) */
#define CX_ERR_TABLE(X)                                                            \
  X(CX_EBADFRAME,    -1,  "bad_frame",    "malformed frame")                      \
  X(CX_EBADREQ,      -2,  "bad_request",  "bad request")                          \
  X(CX_EUNKNOWNOP,   -3,  "unknown_op",   "unknown operation")                    \
  X(CX_EINVALCODE,   -4,  "invalid_code", "invalid identifier code")              \
  X(CX_ENOTFOUND,    -5,  "not_found",    "not found")                            \
  X(CX_EFORBIDDEN,   -6,  "forbidden",    "operation not allowed for this role")  \
  X(CX_ETOOLARGE,    -7,  "too_large",    "too large")                            \
  X(CX_EBUSY,        -8,  "busy",         "server busy")                          \
  X(CX_EINTERNAL,    -9,  "internal",     "internal error")                       \
  X(CX_ENOMEM,       -10, "internal",     "out of memory")                        \
  X(CX_EIO,          -11, "internal",     "I/O error")                            \
  X(CX_EVERSION,     -12, "internal",     "store schema version mismatch")        \
  X(CX_ECORRUPT,     -13, "internal",     "corrupt value in store")               \
  X(CX_EMAPFULL,     -14, "busy",         "store map full")                       \
  X(CX_EREADERS,     -15, "busy",         "store reader table full")              \
  X(CX_EEXIST,       -16, "bad_request",  "already exists")                       \
  X(CX_ELENGTH,      -17, "invalid_code", "wrong length")                         \
  X(CX_EALPHABET,    -18, "invalid_code", "character outside the code alphabet")  \
  X(CX_ECHECKSUM,    -19, "invalid_code", "bad check character (position 18)")     \
  X(CX_EDATE,        -20, "bad_request",  "bad date")                             \
  X(CX_ENOSTORE,     -21, "internal",     "no store at this path")                \
  X(CX_EROFS,        -22, "read_only",    "store is read-only")                   \
  X(CX_EAGAIN,       -23, "internal",     "need more input")                      \
  X(CX_ECONN,        -24, "internal",     "connection failed")                    \
  X(CX_EPUBLICDAY,   -25, "bad_request",  "the public role sees today only: omit as_of or give today's date (Beijing time)") \
  X(CX_ETIMEOUT,     -26, "timeout",      "the request ran past its time budget")   \
  X(CX_ECANCELED,    -27, "internal",     "the request was cancelled (its client went away)") \
  X(CX_ENOSPACE,     -28, "no_space",     "no space left: the disk or the store's map is full") \
  X(CX_EREGAUTH,     -29, "invalid_code", "positions 1-2 are no registration authority and institution type of GB 32100") \
  X(CX_EREGION,      -30, "invalid_code", "positions 3-8 are not a region code (a province's six digits, or 100000)") \
  X(CX_EORGCODE,     -31, "invalid_code", "position 17 is not the GB 11714 check digit of the organisation code in positions 9-16") \
  X(CX_EPROVINCE,    -32, "invalid_code", "positions 1-2 of the ID number are no province") \
  X(CX_EIDTYPE,      -33, "invalid_code", "unknown identifier type (known: passport:, hkmo:, tw:, prc:)") \
  X(CX_ECOUNTRY,     -34, "invalid_code", "not a country code of ISO 3166 (GB/T 2659)") \
  X(CX_EPASSPORT,    -35, "invalid_code", "a passport number has 5 to 14 letters and digits, at least one a digit") \
  X(CX_EHKMO,        -36, "invalid_code", "an HK/Macao permit number is H or M and 8 digits (10 in the old form)") \
  X(CX_ETWPERMIT,    -37, "invalid_code", "a Taiwan permit number has 8 digits (10 in the old form)") \
  X(CX_EPRC,         -38, "invalid_code", "a permanent-residence card number is 3 letters and 12 digits, or 18 characters beginning with 9") \
  X(CX_EPRCPROV,     -39, "invalid_code", "positions 2-3 of the permanent-residence number are no province")

enum cx_err {
#define CX__ERR_ENUM(e, v, n, m) e = v,
  CX_ERR_TABLE(CX__ERR_ENUM)
#undef CX__ERR_ENUM
  CX_ERR_MIN = -39
};

/** Human message for a CX_E* code (static string; "success" for 0). */
const char *cx_strerror(int err);
/** Wire name for a CX_E* code ("bad_request", ...); "ok" for 0. */
const char *cx_err_name(int err);

#endif
