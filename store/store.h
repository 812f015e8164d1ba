/*
 * store.h — the chengxin record store (LMDB), its identifiers, dates, calendar and catalogue.
 *
 * This is store/'s only public header; nothing outside store/ includes <lmdb.h> or calls mdb_*.
 *
 * Layout (one LMDB environment, a directory; named databases, see docs/data-model.md):
 *   meta         "schema" -> u32 version; "next_seq", "next_eid", "next_aid" -> u32; "salt" -> u64;
 *                "log_seq" -> u64 BE: the last message of the replicated log applied (logseq.c);
 *                "regions_gen" -> u64 BE: bumped by every rewrite of the regions DB
 *   summary      entity code (18 B) -> per-entity summary (identity + check index + record digest)
 *   entities     entity id (u32 BE) -> entity code (18 B) [+ hint (6 B): 'h', kind, public
 *                end (u32 BE): see cx_entity_hint]
 *   records      cx_reckey (eid BE, ~decision_date BE, seq BE: 12 B) -> record value
 *   record_ref   authority id (u32 BE) + record_id bytes -> cx_reckey (12 B)
 *   authorities  'c' + authority code -> id (u32) ; 'i' + id BE -> code NUL name
 *   names        normalised name + 0x00 + entity code -> (empty)
 *   rollup       cube id (u8) + month (u16 BE) + cube dims (u32 BE each) -> cx_rollup_cell
 *   regions      region code (u32 BE) -> UTF-8 name; 'H' + code (u32 BE) -> first year, last
 *                year (u16 BE each), name: the historic table (see cx_store_region_get)
 *   data         "catalog" | "calendar" | "regions" | "regions_history" -> the text file as loaded
 *   audit        seq (u64 BE) -> audit entry (append-only)
 *   summary_x    entity code + chunk (u16 BE) -> check-index hits that spill from the summary
 *   facts        seq / 255 (u32 BE) -> the fixed part of 255 records (ad-hoc aggregate scans)
 *   grams        a bigram of a normalised name (2 characters, UTF-8) -> entity id (u32 BE);
 *                MDB_DUPSORT | MDB_DUPFIXED: one sorted list of 4-byte ids per bigram
 *
 * Caveats (threads): the environment is opened with MDB_NOTLS, so a read transaction (cx_txn)
 * may be used by any one thread at a time, reset and renewed across requests. Writes go
 * through cx_batch; LMDB serialises writers (one at a time across threads and processes) and
 * readers never wait for them. Every pointer a read returns points into the map and is valid
 * until the transaction is reset or ended.
 * Map growth: a commit that fills the map aborts, doubles the map and retries the whole batch.
 * Remapping needs every txn of this process to be reset or ended first: the commit waits up to
 * 5 s for them (new txns wait meanwhile), then fails with CX_EBUSY; a map that cannot grow
 * (address space, memory) fails the commit with CX_ENOSPACE, as a full disk does. Keep read txns short
 * (reset between requests) and never hold a live cx_txn on the thread that commits; a server
 * should open with a map_size that fits its data so growth is rare.
 */
#ifndef CX_STORE_H
#define CX_STORE_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "cx_alloc.h"
#include "cx_err.h"

/* 2: summary flags carry subtype and restricts; tiers. 3: categories abnormal, compulsion,
 * confirmation, inspection and their subtypes (a schema-2 build reads them as corrupt).
 * 4: the keyword index (grams DB); records and facts mark provisional report delays and the
 * rollup cells count them (48 B). A schema-3 store lacks both: re-import (docs/operations.md).
 * 5: the authority cube has the entity kind. 6: record values may be compressed with a
 * dictionary of the store (version 2 values), rollup cells are varints, facts blocks hold 255
 * records and entities values carry the hint (cx_entity_hint); 2-5 migrate in place at a
 * writable open (`chengxin upgrade`: rollup cells, facts and hints rebuilt). */
#define CX_SCHEMA_VERSION 6u
/** The commit of the source tree this build was made from (`git describe --always --dirty`,
 *  e.g. "8beb4ed1a2-dirty"), or "unknown" (cmake/commit.cmake). */
const char *cx_build_commit(void);

/* ===================================================================== strings */

/** A borrowed byte string (not NUL-terminated). */
typedef struct cx_str {
  const char *p;
  uint32_t n;
} cx_str;

#define CX_STR(lit) ((cx_str){(lit), (uint32_t)(sizeof(lit) - 1)})
static inline cx_str cx_str_c(const char *s) { return (cx_str){s, s ? (uint32_t)strlen(s) : 0}; }
static inline int cx_str_eq(cx_str a, cx_str b) { return a.n == b.n && (a.n == 0 || memcmp(a.p, b.p, a.n) == 0); }

/* ===================================================================== text (utf8.c) */
/*
 * What strings may enter the store (docs/data-model.md "Strings"): valid UTF-8 — shortest
 * form, no surrogates, nothing past U+10FFFF — holding no control character (U+0000..U+001F,
 * U+007F..U+009F) except, in free text (content, basis, lifecycle reasons), TAB and LF.
 * cx_batch_put, cx_batch_transition and the data-file parsers refuse anything else; audit
 * entries are escaped instead (an audit line is never the reason a write fails).
 * Everything here is pure and thread-safe; nothing reads past n.
 */

/**
 * Decodes one UTF-8 character at p[0..n) (incremental: call again at p + the returned length).
 * Returns its length (1..4) and *cp; CX_EAGAIN when p[0..n) is a valid but unfinished start of
 * a character (n == 0 too); CX_EBADREQ when the bytes cannot be UTF-8: a continuation or
 * C0/C1/F5..FF lead byte, a bad continuation, an overlong form, a surrogate, past U+10FFFF
 * (refused at the first byte that cannot continue). *cp is set only when a length is returned.
 */
long cx_utf8_decode(const char *p, size_t n, uint32_t *cp);
/** 1 for a control character: U+0000..U+001F, U+007F..U+009F (Unicode category Cc). */
int cx_text_is_control(uint32_t cp);

typedef enum cx_text_kind {
  CX_TEXT_NAME, /* identifiers and names: no control character at all */
  CX_TEXT_FREE, /* free text: TAB and LF allowed, no other control character */
  CX_TEXT_UTF8, /* anything but NUL (what a C string and a JSON string both carry) */
} cx_text_kind;

/** Where a string failed cx_text_check. */
typedef struct cx_text_fault {
  uint32_t at;  /* byte offset (0-based) of the first bad character */
  int32_t cp;   /* the refused control character's code point; -1: not UTF-8 there */
} cx_text_fault;

/**
 * Checks p[0..n) against kind (cx_text_kind). 0, or CX_EBADREQ and *f (f may be NULL) at the
 * first bad character. A character cut by the end of the string is invalid UTF-8.
 */
int cx_text_check(const char *p, size_t n, int kind, cx_text_fault *f);
/**
 * Writes "field: invalid UTF-8 at byte 5" or "field: control character U+0000 at byte 3" into
 * buf (snprintf rules); returns the length snprintf gave.
 */
int cx_text_fault_format(const cx_text_fault *f, const char *field, char *buf, size_t cap);
/**
 * Checks a data file line by line (LF-separated; one CR before the LF allowed): each line is
 * valid UTF-8 with no control character but TAB. 0, or CX_EBADREQ with *bad_line (1-based).
 */
int cx_text_lines_check(const char *text, size_t n, int *bad_line);
/**
 * Copies p[0..n) into out (cap bytes, always NUL-terminated when cap > 0) with what
 * cx_text_check(kind) refuses escaped: a byte that is not UTF-8 as \xNN (lower-case hex), TAB,
 * LF and CR as \t \n \r, other C0 controls and DEL as \xNN, C1 controls as \u0080..\u009f.
 * The result passes cx_text_check(kind). A backslash is kept as is (the escapes are for
 * showing, not a reversible encoding). Stops before a character or an escape that would not
 * fit; returns the length written. 4 * n + 1 bytes always suffice.
 */
size_t cx_text_escape(const char *p, size_t n, int kind, char *out, size_t cap);

/* ===================================================================== enums */
/* Each enum has a wire-name table (DESIGN §5a); *_parse returns 0 and the value, or CX_EBADREQ. */

typedef enum cx_kind {
  CX_KIND_ENTERPRISE, CX_KIND_GOVERNMENT, CX_KIND_SUBDISTRICT, CX_KIND_INSTITUTION,
  CX_KIND_SOCIAL_ORG, CX_KIND_INDIVIDUAL_BUSINESS, CX_KIND_CIVIL_SERVANT, CX_KIND_PERSON,
  CX_KIND_COUNT
} cx_kind;
/** A natural person's kind (person, civil servant): identified by an ID number, shown to the
 *  public only for the categories of the catalogue's person_public. */
static inline int cx_kind_is_person(unsigned kind) {
  return kind == CX_KIND_PERSON || kind == CX_KIND_CIVIL_SERVANT;
}
/** cx_record.entity_kind value meaning "not given: derive from the code" (cx_kind_from_code). */
#define CX_KIND_UNSET 0xFF

/* Record categories; how they cover the kinds of the 全国公共信用信息基础目录（2024年版）:
 * docs/data-model.md. New values go at the end (rollup and fact values are enum indices). */
typedef enum cx_category {
  CX_CAT_LICENSE, CX_CAT_PENALTY, CX_CAT_GOV_DISHONESTY, CX_CAT_BLACKLIST, CX_CAT_REDLIST,
  CX_CAT_COMMITMENT, CX_CAT_LAWSUIT, CX_CAT_COMPLAINT, CX_CAT_EVALUATION,
  CX_CAT_ABNORMAL,     /* 经营（活动）异常名录（状态）: put on, and removed (valid_until) */
  CX_CAT_COMPULSION,   /* 行政强制: coercive measures and enforcement (行政强制法) */
  CX_CAT_CONFIRMATION, /* 行政确认 */
  CX_CAT_INSPECTION,   /* 行政检查: its result is the subtype */
  CX_CAT_COUNT
} cx_category;

/* Subtype: one flat enum; which values a category admits is checked by cx_subtype_valid().
 * At most 16 values: the summary keeps a record's subtype in 4 bits (CX_SRF_SUBTYPE_SHIFT). */
typedef enum cx_subtype {
  CX_SUB_NONE,
  CX_SUB_JUDGMENT, CX_SUB_ADMIN_PENALTY, CX_SUB_DISCIPLINARY, CX_SUB_ACCOUNTABILITY, /* gov_dishonesty */
  CX_SUB_KEPT, CX_SUB_BROKEN,                                                      /* commitment */
  CX_SUB_WON, CX_SUB_LOST,                                                         /* lawsuit */
  CX_SUB_COERCIVE_MEASURE, CX_SUB_ENFORCEMENT, /* compulsion: 行政强制措施 (查封, 扣押, 冻结 ...),
                                                  行政强制执行 (of a decision not complied with) */
  CX_SUB_COMPLIANT, CX_SUB_VIOLATION,          /* inspection: no violation found / found */
  CX_SUB_COUNT
} cx_subtype;

typedef enum cx_domain {
  CX_DOM_PROCUREMENT, CX_DOM_PPP, CX_DOM_BIDDING, CX_DOM_INVESTMENT, CX_DOM_DEBT,
  CX_DOM_SUBDISTRICT, CX_DOM_OTHER,
  CX_DOM_COUNT
} cx_domain;

typedef enum cx_severity { CX_SEV_MINOR, CX_SEV_GENERAL, CX_SEV_SERIOUS, CX_SEV_COUNT } cx_severity;
/** cx_record.severity value meaning "not given: derive the tier" (cx_catalog_tier). */
#define CX_SEV_UNSET 0xFF
typedef enum cx_status { CX_ST_ACTIVE, CX_ST_REPAIRED, CX_ST_REVOKED, CX_ST_COUNT } cx_status;

extern const char *const cx_kind_names[CX_KIND_COUNT];
extern const char *const cx_category_names[CX_CAT_COUNT];
extern const char *const cx_subtype_names[CX_SUB_COUNT]; /* [CX_SUB_NONE] = "" */
extern const char *const cx_domain_names[CX_DOM_COUNT];
extern const char *const cx_severity_names[CX_SEV_COUNT];
extern const char *const cx_status_names[CX_ST_COUNT];

/** Looks s up in a name table of n entries; returns the index or CX_EBADREQ. */
int cx_enum_parse(const char *const *table, int n, cx_str s);
/** 1 when subtype st is allowed for category cat (CX_SUB_NONE is allowed everywhere). */
int cx_subtype_valid(int cat, int st);
_Static_assert(CX_SUB_COUNT <= 16, "the summary keeps a subtype in 4 bits");
_Static_assert(CX_CAT_COUNT <= 32, "catalogue masks are per category bits of a uint32_t");
_Static_assert(CX_CAT_COUNT <= 16 && CX_KIND_COUNT <= 16 && CX_DOM_COUNT <= 16,
               "catalogue labels keep 16 values per enum (CX_LABEL_SLOTS)");

/* ===================================================================== days */

/** Days since 1970-01-01 (UTC). */
typedef uint32_t cx_day;
#define CX_DAY_NONE 0u          /* unset (report date unknown, ...) */
#define CX_DAY_OPEN UINT32_MAX  /* open end: valid_until never reached */

/** Parses "YYYY-MM-DD" (exactly 10 bytes, a real calendar day, years 1971..9999). CX_EDATE. */
int cx_day_parse(cx_str s, cx_day *out);
/** Builds a day from y/m/d; CX_EDATE when not a real day. */
int cx_day_from_ymd(int y, int m, int d, cx_day *out);
void cx_day_to_ymd(cx_day day, int *y, int *m, int *d);
/** Writes "YYYY-MM-DD" + NUL into buf (11 bytes); "" for CX_DAY_NONE, "open" for CX_DAY_OPEN. */
void cx_day_format(cx_day day, char buf[11]);
#define CX_BEIJING_OFFSET_S (8 * 3600)
/**
 * Today: the Beijing day (Asia/Shanghai, UTC+8, no daylight saving), not the UTC day: from
 * 00:00 to 08:00 UTC it is already the next day (another zone: cx_day_set_tz). A day set with
 * cx_day_set_today() wins.
 */
cx_day cx_day_today(void);
/**
 * Process-wide: makes cx_day_today() answer d (0: the clock again). For tests and for demo
 * stores frozen at a day; the tools set it from the CHENGXIN_TODAY environment variable
 * (cx_day_set_today_env) and say so on stderr. Thread-safe (one atomic word).
 */
void cx_day_set_today(cx_day d);
/**
 * Process-wide: the time zone whose day is "today" (default Asia/Shanghai, UTC+8): an offset
 * "+08:00", "-0530", "+8", "UTC", "Asia/Shanghai", or another IANA name from the system's zone
 * data, whose offset is taken once, now (no daylight-saving changes afterwards: China has none).
 * Writes the offset in seconds to *offset_s (may be NULL). CX_EBADREQ for anything else.
 */
int cx_day_set_tz(const char *tz, int32_t *offset_s);
/** cx_day_set_today from a "YYYY-MM-DD" string: 1 when set, 0 for NULL or "", CX_EDATE. */
int cx_day_set_today_env(const char *value);
/**
 * day + months calendar months, the day of month clamped to the month's length
 * (2024-01-31 + 1 = 2024-02-29; 2024-02-29 + 12 = 2025-02-28). Display periods and repair
 * minimums are counted this way (信用修复管理办法: months and years, not day counts).
 * CX_DAY_NONE and CX_DAY_OPEN are returned unchanged; past year 9999: CX_DAY_OPEN.
 */
cx_day cx_day_add_months(cx_day day, int months);
/** 0 = Monday .. 6 = Sunday. */
int cx_day_weekday(cx_day day);

/* ===================================================================== identifiers */

#define CX_CODE_LEN 18

/**
 * Validates and normalises a unified social credit code (GB 32100-2015): trims ASCII
 * whitespace, upper-cases, then checks, in this order:
 *   length 18 (CX_ELENGTH); the alphabet 0-9A-Y without I O Z S V (CX_EALPHABET);
 *   positions 1-2, registration authority and institution type, a pair of the standard's
 *   Annex A table (CX_EREGAUTH; see docs/data-model.md for the table);
 *   positions 3-8, the registering authority's region: six digits whose first two are a
 *   provincial-level code (11..65, 71, 81, 82), or 100000 for the state (CX_EREGION; the full
 *   code is not looked up: registration codes outlive regions, see cx_store_region_get);
 *   positions 9-17, the organisation code (GB 11714): position 17 is its check digit over
 *   positions 9-16 (CX_EORGCODE; cx_orgcode_check_char);
 *   position 18, the check character (CX_ECHECKSUM).
 * On success writes the 18 characters and a NUL to out. out is untouched on failure.
 */
int cx_uscc_normalize(const char *s, size_t n, char out[CX_CODE_LEN + 1]);
/** The check character for the first 17 characters of a USCC (which must be in the alphabet). */
char cx_uscc_check_char(const char code17[17]);
/**
 * The GB 11714 check digit of an organisation code's first 8 characters (digits and A-Z,
 * values 0..35): weights 3,7,9,10,5,8,4,2; C9 = 11 - sum mod 11, 10 is 'X' and 11 is '0'.
 * Inside a USCC the organisation code is positions 9-17: code[16] == cx_orgcode_check_char(code + 8).
 */
char cx_orgcode_check_char(const char org8[8]);
/** Region code (GB/T 2260, positions 3-8) of a normalised USCC, as an integer (e.g. 350100). */
uint32_t cx_uscc_region(const char code[CX_CODE_LEN]);

/**
 * Validates and normalises a resident identity number (GB 11643-1999, 18 characters; the last
 * may be 'x' or 'X'): trims, upper-cases, checks the length (CX_ELENGTH), digits (CX_EALPHABET),
 * positions 1-2 a province (11..65, 71, 81, 82, or 83 of Taiwan residents' residence permits;
 * CX_EPROVINCE), positions 7-14 a real birth date, not in the future (CX_EDATE), and the
 * ISO 7064 MOD 11-2 check (CX_ECHECKSUM).
 * A number beginning with 9 is a foreign permanent-residence card of 2023 (外国人永久居留身份证,
 * GB 11643's structure): positions 2-3 the accepting province (CX_EPRCPROV), 4-6 the
 * nationality, an ISO 3166 numeric code (CX_ECOUNTRY), then date and check as above.
 */
int cx_idcard_normalize(const char *s, size_t n, char out[CX_CODE_LEN + 1]);
char cx_idcard_check_char(const char id17[17]);

/*
 * Typed identifiers: persons without a resident ID number, in the same 18-byte key. Byte 0 is
 * a lower-case type letter (no USCC or ID number begins with one), then the normalised document
 * number, then '-' up to 18 bytes (docs/data-model.md "Typed identifiers"):
 *   textual form                 key                  document
 *   passport:USA:123456789       pUSA123456789-----   passport: ISO 3166 alpha-3 (or ICAO
 *                                                     Doc 9303) state + 5..14 letters/digits
 *   hkmo:H12345678               hH12345678--------   港澳居民来往内地通行证: H/M + 8 digits (the
 *                                                     old 10-digit form loses its renewal count)
 *   tw:12345678                  t12345678---------   台湾居民来往大陆通行证: 8 digits (old 10)
 *   prc:ABC123456789012          fABC123456789012--   外国人永久居留身份证, old form: 3 letters +
 *                                                     12 digits; prc: with the 2023 18-character
 *                                                     number gives that number (an ID-shaped key)
 * Users write and read the textual form (type name in any case, blanks inside the number
 * ignored); the key itself is accepted too. Typed persons are of kind person, region 0.
 */
#define CX_CODE_TEXT_MAX 32 /* the longest textual form, "passport:CCC:" + 14, and a NUL */
/**
 * Validates and normalises a person's identifier: an ID number (cx_idcard_normalize) or a
 * typed identifier, textual or key. Errors: the ID number's, or CX_EIDTYPE (unknown type
 * name), CX_ECOUNTRY, CX_EPASSPORT, CX_EHKMO, CX_ETWPERMIT, CX_EPRC, CX_EPRCPROV. out is
 * untouched on failure.
 */
int cx_person_normalize(const char *s, size_t n, char out[CX_CODE_LEN + 1]);
/** The type letter ('p', 'h', 't', 'f') of a normalised typed key, or 0 (a USCC or ID number). */
int cx_code_typed(const char code[CX_CODE_LEN]);
/**
 * Writes the form a normalised code is shown in to out (NUL-terminated) and returns its length:
 * the textual form of a typed key ("passport:USA:123456789"), masked ones included; any other
 * code as its 18 characters. Never fails.
 */
size_t cx_code_format(const char code[CX_CODE_LEN], char out[CX_CODE_TEXT_MAX]);

/**
 * Normalises either kind of code, when the kind is not known: a typed identifier (textual,
 * with a ':', or a key beginning with a type letter) is a person's, validated as such; a
 * string that passes every check of cx_idcard_normalize is an ID number; anything else is
 * validated as a USCC. Sets *is_person. On failure the error is the ID number's when the string is ID-shaped and fails
 * only the check character, or fails the province or birth date with a matching check
 * character; otherwise the USCC's. Where the kind is known (an organisation's record), use
 * the validator of that kind: an all-digit USCC can pass as an ID number (cx_batch_put does).
 */
int cx_code_normalize(const char *s, size_t n, char out[CX_CODE_LEN + 1], int *is_person);
/**
 * "<field>: <reason, with the positions>" (static) for an error rc of the validators above;
 * field "authority_code" when authority is non-zero, else "entity_code".
 */
const char *cx_code_why(int rc, int authority);
/** Region code of a normalised code of either kind (ID: positions 1-6; USCC: 3-8; a
 * permanent-residence number: its province, positions 2-3, as PP0000; typed: 0, unknown). */
uint32_t cx_code_region(const char code[CX_CODE_LEN], int is_person);
/**
 * Default entity kind of a normalised code (used when a record gives no entity_kind):
 * ID number -> person; USCC "11" government, "12" institution, "13" social_org, "5x" social_org,
 * "92" individual_business, anything else enterprise.
 */
uint8_t cx_kind_from_code(const char code[CX_CODE_LEN], int is_person);
/**
 * Masks the middle of an ID number for the public role: "110105********002X"; of a typed key,
 * the document number but its last 3 characters (2 when shorter than 8): "pUSA******789-----",
 * shown (cx_code_format) as "passport:USA:******789".
 */
void cx_idcard_mask(const char code[CX_CODE_LEN], char out[CX_CODE_LEN + 1]);

/**
 * Normalised name for prefix search: UTF-8 in, UTF-8 out; ASCII letters lower-cased,
 * full-width ASCII (U+FF01..U+FF5E) folded to ASCII, whitespace and the brackets ()（）
 * removed. Writes at most cap-1 bytes and a NUL; returns the length (truncated at a character
 * boundary). Invalid UTF-8 bytes are dropped.
 */
size_t cx_name_normalize(const char *s, size_t n, char *out, size_t cap);

/* ===================================================================== calendar */

/**
 * Working-day calendar, 1990-01-01 .. 2099-12-31. A day is a rest day when it is a Saturday or
 * a Sunday, a statutory holiday, or listed as `holiday`; a day listed as `workday` (调休) is a
 * working day; every other day is a working day.
 *
 * Statutory holidays (法定节假日) are computed for every year by the edition of the
 * 全国年节及纪念日放假办法 in force on the day (cx_calendar_statutory):
 *   to 1999-09-17      1949 edition, 7 days: 元旦 01-01; 春节 正月初一..初三; 劳动节 05-01;
 *                      国庆 10-01, 10-02
 *   1999-09-18 ..      国务院令第270号 (in force when published), 10 days: 元旦; 春节 初一..初三;
 *                      劳动节 05-01..03; 国庆 10-01..03 (the week-long breaks came from 调休)
 *   2008-01-01 ..      国务院令第513号, 11 days: 元旦; 春节 除夕, 初一, 初二; 清明; 劳动节 05-01;
 *                      端午 五月初五; 中秋 八月十五; 国庆 10-01..03
 *   2014-01-01 ..      国务院令第644号, 11 days: as 2008, 春节 初一..初三 instead of 除夕..初二
 *   2025-01-01 ..      国务院令第795号, 13 days: 元旦; 春节 除夕..初三; 清明; 劳动节 05-01, 05-02;
 *                      端午; 中秋; 国庆 10-01..03
 * 除夕 is the day before 正月初一 (the 29th or the 30th of 腊月); 清明 is the day of the solar
 * term. A statutory holiday on a weekend stays a rest day; its 补休 and every 调休 come from the
 * State Council's yearly notice (国务院办公厅关于<year>年部分节假日安排的通知), which the file holds.
 *
 * File format (UTF-8 text, one entry per line, '#' comments, fields separated by spaces or tabs):
 *   published 2007 2026         the years whose notice the file holds (first last, or one year;
 *                               several lines add up)
 *   2025-01-01  holiday  元旦     a rest day (the name is free text)
 *   2025-01-26  workday  春节调休上班   a working day
 * A file without a `published` line (the format before it) publishes the years it lists.
 *
 * Provisional: a year without a published notice still has its statutory holidays, observed on
 * the day itself, without 补休 or 调休 — the notice will move days. Every count that touches
 * such a day is provisional (cx_calendar_span_provisional): the days of unpublished years, days
 * outside the range, and 12-25..12-31 of a published year whose next year is not published
 * (a notice may reach back into December: the 2019 notice made Saturday 2018-12-29 a working day).
 *
 * Memory: 166 KB per calendar (a u32 prefix count and a bit per day, a bit per year).
 * Caveats: a parsed calendar is read-only; any number of threads may read it.
 */
#define CX_CAL_FIRST_YEAR 1990
#define CX_CAL_LAST_YEAR 2099
#define CX_CAL_YEARS (CX_CAL_LAST_YEAR - CX_CAL_FIRST_YEAR + 1)
#define CX_CAL_DAYS 40177 /* 1990-01-01 .. 2099-12-31 */
#define CX_CAL_STATUTORY_MAX 13 /* statutory holidays in one year, at most */
#define CX_CAL_LATE_DECEMBER 25 /* from 12-25 a day also waits for the next year's notice */
typedef struct cx_calendar {
  cx_day first;                          /* day number of 1990-01-01 */
  uint8_t work[(CX_CAL_DAYS + 7) / 8];   /* bit set = working day */
  uint8_t published[(CX_CAL_YEARS + 7) / 8]; /* bit y - CX_CAL_FIRST_YEAR: the file holds y's notice */
  uint32_t prefix[CX_CAL_DAYS + 1];      /* prefix[i] = working days in [first, first+i) */
} cx_calendar;

/**
 * Parses a calendar file into out (caller-allocated; untouched on failure). CX_EBADREQ and
 * *bad_line (1-based) for: a bad date or one outside 1990..2099; a kind other than
 * holiday/workday; the same day listed both ways; a statutory holiday listed as workday (the
 * law makes it a rest day); a `published` line that is not one or two years of 1990..2099 in
 * order; when the file has a `published` line, a day outside the published years (other than
 * the last days of December before a published year, which its notice may set); a line that
 * fails cx_text_lines_check (comments too: the file is stored). An empty file gives weekends
 * and statutory holidays, every year provisional. Uses 16 KB of stack.
 */
int cx_calendar_parse(const char *text, size_t n, cx_calendar *out, int *bad_line);
/**
 * cx_calendar_parse, and on failure what is wrong with the line in why (cap bytes, always
 * NUL-terminated; NULL/0: none): "2026-02-30 is not a calendar day", "2026-10-01: a statutory
 * holiday (...) cannot be a workday" ... A quoted token is cut to 40 bytes.
 */
int cx_calendar_parse_why(const char *text, size_t n, cx_calendar *out, int *bad_line, char *why,
                          size_t cap);
int cx_calendar_is_workday(const cx_calendar *cal, cx_day d);
/**
 * Working days in (a, b]: how many working days after day a up to and including day b
 * (0 when b <= a). Days outside the calendar range count by weekday alone.
 */
int32_t cx_calendar_workdays(const cx_calendar *cal, cx_day a, cx_day b);
/** 1 when the file holds the State Council's notice for year (a published year), else 0. */
int cx_calendar_published(const cx_calendar *cal, int year);
/**
 * 1 when day d's status may still change with a notice the file does not hold (see
 * "Provisional" above): d outside 1990..2099, in an unpublished year, or in 12-25..12-31 of a
 * year whose next year is unpublished. 0 otherwise.
 */
int cx_calendar_provisional(const cx_calendar *cal, cx_day d);
/**
 * 1 when cx_calendar_workdays(cal, a, b) is provisional: some day in (a, b] is (0 when
 * b <= a). A report delay or an on-time flag computed over such a span is provisional.
 */
int cx_calendar_span_provisional(const cx_calendar *cal, cx_day a, cx_day b);
/**
 * The statutory holidays of a Gregorian year (1971..2099) by the editions above, ascending,
 * each day once (中秋 fell on 10-01 in 2020: 10 days that year). Writes *n days to out; CX_EDATE
 * for a year outside the range (out untouched). Pure.
 */
int cx_calendar_statutory(int year, cx_day out[CX_CAL_STATUTORY_MAX], int *n);
/**
 * Day d of lunar month m (1..12; leap: the 闰月 that follows month m) of lunar year y (the year
 * whose 正月初一 falls in Gregorian year y), from the table of lunar months in calendar.c
 * (1900..2100). CX_EDATE when y is outside the table, the month has no such day, leap is set
 * and y has no 闰 m, or the day is before 1971. 春节 = cx_day_from_lunar(y, 1, 1, 0).
 */
int cx_day_from_lunar(int y, int m, int d, int leap, cx_day *out);
/** The day of the 清明 solar term of year y (1971..2099: April 4 or 5, Beijing time). CX_EDATE. */
int cx_day_qingming(int y, cx_day *out);

/** Reporting deadline: a record is on time when reported within this many working days. */
#define CX_REPORT_DEADLINE_WORKDAYS 7

/* ===================================================================== catalogue */

/**
 * The punishment-measure catalogue, display periods and the public-person rule, from one
 * operator-replaceable text file (data/catalog.tsv). Tab-separated lines, '#' comments:
 *
 *   action     <code> <name>                                  e.g. procurement 政府采购
 *   edition    <code> <title> <document number | ->           a list (or document) edition that
 *                                                             measures follow, e.g. the
 *                                                             全国失信惩戒措施基础清单（2024年版）
 *   list       <code> <category> <name> <default measures,>   category: blacklist|redlist|gov_dishonesty|...
 *   measure    <code> <effect> <actions,> <name> <basis> <edition>[:<item>]
 *                                                             effect: deny|review|incentive;
 *                                                             basis: the law, State Council
 *                                                             document or memorandum behind it;
 *                                                             edition: an `edition` code, item:
 *                                                             the item of that edition it follows
 *                                                             (a measure line of the older format,
 *                                                             without basis and edition, still
 *                                                             parses: its provenance is empty)
 *   display    <tier> <publish 0|1> <min_months> <max_months> public display of 失信信息 by tier
 *   negative   <category[:subtype],...>                       which records are 失信信息 (follow
 *                                                             the display periods); the others
 *                                                             are public while in force
 *   tier       <tier> list <list code>                        the tier of a record that gives none
 *   tier       <tier> lists <category>                        (see cx_catalog_tier)
 *   tier       <tier> keyword <text>
 *   tier       <tier> fine <from_yuan> <to_yuan | ->
 *   tier       <tier> category <category>
 *   person_public <categories,>                               categories of civil servants' and
 *                                                             persons' records the public may see
 */
#define CX_MAX_ACTIONS 32
#define CX_MAX_LISTS 64
#define CX_MAX_MEASURES 64
#define CX_MAX_EDITIONS 8
#define CX_CODE_NAME_MAX 48
#define CX_BASIS_MAX 256       /* a measure's legal basis, bytes with the NUL */
#define CX_ITEM_MAX 24         /* the item of its edition, bytes with the NUL */
#define CX_EDITION_TITLE_MAX 128
#define CX_EDITION_DOC_MAX 64
#define CX_EDITION_NONE 0xFF   /* measures[k].edition of a measure that names none */

typedef enum cx_effect { CX_EFFECT_DENY, CX_EFFECT_REVIEW, CX_EFFECT_INCENTIVE } cx_effect;

typedef struct cx_record cx_record;

/** A rule deriving the tier (cx_severity) of a record whose source gives none. */
#define CX_MAX_TIER_RULES 64
#define CX_TIER_TEXT_MAX 64
typedef enum cx_tier_match {
  CX_TIER_LIST, CX_TIER_LISTS, CX_TIER_KEYWORD, CX_TIER_FINE, CX_TIER_CATEGORY
} cx_tier_match;
typedef struct cx_tier_rule {
  uint8_t match;                /* cx_tier_match */
  uint8_t tier;                 /* cx_severity */
  uint8_t category;             /* CX_TIER_CATEGORY, CX_TIER_LISTS */
  uint8_t list;                 /* CX_TIER_LIST: list index */
  int64_t from_fen, to_fen;     /* CX_TIER_FINE: [from, to); to -1 = no upper bound */
  char text[CX_TIER_TEXT_MAX];  /* CX_TIER_KEYWORD: UTF-8, matched as a substring of content */
} cx_tier_rule;
extern const char *const cx_effect_names[3];

/* What a catalogue `label` line names (label<TAB>KIND<TAB>CODE<TAB>NAME): the record enums
 * whose codes people should see in Chinese. */
typedef enum cx_label_kind {
  CX_LABEL_CATEGORY, CX_LABEL_SUBTYPE, CX_LABEL_STATUS, CX_LABEL_SEVERITY, CX_LABEL_DOMAIN,
  CX_LABEL_KIND, CX_LABEL_KINDS
} cx_label_kind;
extern const char *const cx_label_kind_names[CX_LABEL_KINDS]; /* "category" ... "kind" */
#define CX_LABEL_SLOTS 16 /* values per kind (every record enum has fewer) */
#define CX_LABEL_MAX 64   /* bytes of a label, NUL included */

typedef struct cx_catalog {
  uint32_t n_actions, n_lists, n_measures;
  struct { char code[CX_CODE_NAME_MAX]; char name[96]; } actions[CX_MAX_ACTIONS];
  struct {
    char code[CX_CODE_NAME_MAX];
    char name[128];
    uint8_t category;      /* cx_category */
    uint64_t defaults;     /* measure mask used when a record lists no measures */
  } lists[CX_MAX_LISTS];
  struct {
    char code[CX_CODE_NAME_MAX];
    char name[128];
    uint8_t effect;        /* cx_effect */
    uint8_t edition;       /* index into editions[], or CX_EDITION_NONE (older-format line) */
    uint32_t actions;      /* action mask */
    char basis[CX_BASIS_MAX]; /* legal basis; "" for an older-format line */
    char item[CX_ITEM_MAX];   /* item of the edition it follows; "" when not given */
  } measures[CX_MAX_MEASURES];
  /* Provenance: the editions (list or document) that measures follow. */
  uint32_t n_editions;
  struct {
    char code[CX_CODE_NAME_MAX];
    char title[CX_EDITION_TITLE_MAX]; /* e.g. 全国失信惩戒措施基础清单（2024年版） */
    char doc[CX_EDITION_DOC_MAX];     /* its document number; "" when the file says "-" */
  } editions[CX_MAX_EDITIONS];
  /* Derived per action: which measures deny / ask for review / give an incentive. */
  uint64_t deny[CX_MAX_ACTIONS], review[CX_MAX_ACTIONS], incentive[CX_MAX_ACTIONS];
  /* Public display of 失信信息 by tier, in calendar months from the decision date: shown from
   * the decision until + max_months (or the record's own end, when earlier); repair may be
   * asked for from + min_months. publish 0: never shown (轻微, unless a sector decides). */
  struct { uint8_t publish; uint16_t min_months, max_months; } display[CX_SEV_COUNT];
  uint32_t negative[CX_CAT_COUNT]; /* per category: subtype mask of 失信信息 (bit cx_subtype) */
  uint32_t n_tier_rules;
  cx_tier_rule tier_rules[CX_MAX_TIER_RULES];
  uint32_t person_public;  /* category mask */
  /* Approval hints (`advisory` lines; docs/data-model.md "Advisory hits"): an active 失信信息
   * record within its public display window is an advisory hit of `check` when its tier is
   * in advisory_tiers (bit cx_severity) or its amount_fen is at least advisory_fine_fen
   * (0: no fine rule), and none of its own measures restricts the action asked about. */
  uint8_t advisory_tiers;
  int64_t advisory_fine_fen;
  /* Chinese names of the record enums (`label` lines): labels[kind][value], "" when the file
   * names none (a door then shows the code). Indexed by cx_label_kind and the enum's value. */
  char labels[CX_LABEL_KINDS][CX_LABEL_SLOTS][CX_LABEL_MAX];
} cx_catalog;

/* Why a record is an advisory hit (cx_catalog_advisory). */
#define CX_ADV_TIER 1u
#define CX_ADV_FINE 2u
/**
 * Whether an active record is an advisory hit (the catalogue's `advisory` lines): 0 when not,
 * else CX_ADV_TIER and/or CX_ADV_FINE, with *end the end (exclusive) of its public display
 * window, computed as cx_query_displayable does (tier maximum, listing end, 公示截止期). The
 * window starts at decision_date. Pure; no allocation.
 */
unsigned cx_catalog_advisory(const cx_catalog *c, const cx_record *r, cx_day *end);

/** The Chinese name of value v of the enum of `kind` (cx_label_kind) from the catalogue's
 *  `label` lines; "" when it names none or v is out of range. Borrowed from c. */
const char *cx_catalog_label(const cx_catalog *c, int kind, unsigned v);
/** The wire-name table of the enum of `kind` (cx_category_names ...) and its size in *n. */
const char *const *cx_label_table(int kind, int *n);

/** 1 when records of (category, subtype) are 失信信息 (the catalogue's `negative` line). */
static inline int cx_catalog_is_negative(const cx_catalog *c, unsigned category, unsigned subtype) {
  return category < CX_CAT_COUNT && subtype < 32 && ((c->negative[category] >> subtype) & 1u);
}
/**
 * The tier of a record whose source gives none (r->severity == CX_SEV_UNSET), by the
 * catalogue's `tier` rules: the `list` rule of its list type when there is one; else, for a
 * record with a list type, the `lists` rule of the list's category (`tier serious lists
 * blacklist`: every serious-dishonesty list entry); else the highest tier among the keyword
 * rules whose text occurs in r->content and the fine rule whose range holds r->amount_fen
 * (when > 0); else the `category` rule of its category; else general. Pure; no allocation.
 */
uint8_t cx_catalog_tier(const cx_catalog *c, const cx_record *r);
/**
 * Public display window of a 失信信息 record of tier `tier`: [decision_date, *end) with
 * *end = decision_date + max_months, or valid_until when that is earlier (the source's own
 * 公示截止期); returns 0 when the tier is not published (then *end = decision_date).
 */
int cx_catalog_display_end(const cx_catalog *c, unsigned tier, cx_day decision_date,
                           cx_day valid_until, cx_day *end);
/** First day a 失信信息 record of tier `tier` may be repaired: decision_date + min_months. */
cx_day cx_catalog_repair_from(const cx_catalog *c, unsigned tier, cx_day decision_date);

/**
 * Parses a catalogue file into out (caller-allocated). Fields are separated by runs of tabs;
 * lines may come in any order; display tiers not listed keep the 信用修复管理办法 periods
 * (minor 0/0/3, general 1/3/12, serious 1/12/36 months; a period above 120 months is refused,
 * which also catches a file still written in days); `negative` defaults to penalty, blacklist,
 * gov_dishonesty, commitment:broken, lawsuit:lost, complaint, evaluation, abnormal,
 * compulsion:enforcement, inspection:violation; no tier rules by
 * default; person_public defaults to blacklist.
 * A `label` line (label<TAB>KIND<TAB>CODE<TAB>NAME) names a record enum's code in Chinese
 * (cx_catalog_label); a code named twice, an unknown kind or code is refused; a file without
 * labels loads (the doors then show codes).
 * A `measure` line has 5 fields (the older format: no provenance) or 7 (basis and edition); 6
 * is refused, as are an empty basis, an edition code no `edition` line declares and an empty
 * item after the colon.
 * Unknown keywords, actions, measures, categories, effects or severities, duplicate codes,
 * codes not [A-Za-z0-9_.-]{1,47}, names (and bases, titles, items) too long for their field or failing
 * cx_text_check(CX_TEXT_NAME), any line failing cx_text_lines_check, more than the CX_MAX_*
 * counts, wrong field counts: CX_EBADREQ + *bad_line (1-based); out then holds a partial parse
 * (parse into a scratch copy when the live catalogue must survive a bad file).
 */
int cx_catalog_parse(const char *text, size_t n, cx_catalog *out, int *bad_line);
/**
 * cx_catalog_parse, and on failure what is wrong with the line in why (cap bytes; NULL/0:
 * none): "list: unknown measure \"no_x\" (no measure line names it)", "action: expected
 * action<TAB>CODE<TAB>NAME (3 fields, not 2)" ... A quoted field is cut to 40 bytes.
 */
int cx_catalog_parse_why(const char *text, size_t n, cx_catalog *out, int *bad_line, char *why,
                         size_t cap);
/** Index of an action / list / measure / edition by code, or CX_ENOTFOUND. */
int cx_catalog_action(const cx_catalog *c, cx_str code);
int cx_catalog_list(const cx_catalog *c, cx_str code);
int cx_catalog_measure(const cx_catalog *c, cx_str code);
int cx_catalog_edition(const cx_catalog *c, cx_str code);

/** Where a measure comes from. Every pointer is borrowed from the catalogue (NUL-terminated,
 * never NULL, "" when absent) and valid as long as it is. */
typedef struct cx_catalog_provenance {
  const char *basis;         /* the law / State Council document / memorandum */
  const char *edition_code;  /* the `edition` line's code */
  const char *edition_title; /* e.g. 全国失信惩戒措施基础清单（2024年版） */
  const char *edition_doc;   /* its document number ("" when not known) */
  const char *item;          /* the item of that edition the measure follows ("" when not given) */
} cx_catalog_provenance;
/**
 * The provenance of measure `measure` (an index from cx_catalog_measure) into *out. Pure; no
 * allocation. 0; CX_ENOTFOUND for an index out of range (out untouched). A measure from an
 * older-format line has every string empty: callers showing provenance say "not given".
 */
int cx_catalog_provenance_get(const cx_catalog *c, int measure, cx_catalog_provenance *out);
/**
 * Resolves a comma-separated list of measure codes into a mask; empty = the list's defaults
 * (list < 0: no defaults). CX_ENOTFOUND when a code is unknown (*bad points at it).
 */
int cx_catalog_measures(const cx_catalog *c, int list, cx_str codes, uint64_t *mask, cx_str *bad);

/* ===================================================================== regions */

/**
 * Region tables (GB/T 2260 codes; the shipped ones and their source: data/README.md).
 *
 * The current table (data file "regions", data/regions.tsv): one "code<TAB>name" per line,
 * 6-digit codes (provinces end in 0000, prefecture level in 00), ascending: a code out of order
 * or repeated is a bad line, as is a name that is empty, over 255 bytes, or fails
 * cx_text_check(CX_TEXT_NAME); every line, comments too, passes cx_text_lines_check.
 *
 * The historic table (data file "regions_history", data/regions_history.tsv): codes no longer
 * in use, one "code<TAB>name<TAB>first<TAB>last" per line: the code had that name from the
 * table of 31 December of year `first` until it went out of use in year `last`
 * (1949 <= first < last <= 2100). Codes ascending; a code may have several lines (renamed,
 * or dropped and reinstated), in year order and apart (first >= the previous line's last).
 *
 * '#' starts a comment line; empty lines and "\r\n" endings are allowed in both. Each
 * validator returns 0, or CX_EBADREQ with *bad_line (1-based) the first bad line.
 */
int cx_regions_validate(const char *text, size_t n, int *bad_line);
int cx_regions_history_validate(const char *text, size_t n, int *bad_line);
/**
 * The validators above, and on failure what is wrong with the line in why (cap bytes, always
 * NUL-terminated; NULL/0: none): "350199: code not ascending (after 350200)", "expected
 * code<TAB>name (2 tab-separated fields, not 3)" ... A quoted field is cut to 40 bytes.
 */
int cx_regions_validate_why(const char *text, size_t n, int *bad_line, char *why, size_t cap);
int cx_regions_history_validate_why(const char *text, size_t n, int *bad_line, char *why, size_t cap);
/** 1 when the first entry of text has three fields or more: a historic table, not a current one. */
int cx_regions_is_history(const char *text, size_t n);

/* ===================================================================== scorecard rubric */

/*
 * 政务诚信评价: the rubric a government-integrity scorecard is scored by (data/scorecard.tsv,
 * data file "scorecard", replaced with `chengxin load-scorecard`; docs/data-model.md
 * "Scorecards"). Tab-separated lines, '#' comments:
 *
 *   publish    yes|no                               whether the public may see scorecards
 *   kinds      <kind,...>                           the entity kinds scored (government,
 *                                                   subdistrict, institution)
 *   indicator  <indicator> <weight> <curve> [<min cases>]
 *              curve: x:points,... (x ascending, points 0..100; linear between the points,
 *              flat outside them); min cases: a rate with fewer cases (its denominator) is
 *              not rated, and its weight leaves the total
 *   veto       <indicator> <cap>                    一票否决: when the indicator's value is
 *                                                   above 0 the total is at most cap
 *   band       <name> <min score>                   grades, any order; a score takes the
 *                                                   band of the highest min it reaches
 *
 * Indicators (values over the period; counts are of records, rates 0..1):
 */
typedef enum cx_ind {
  CX_IND_GOV_DISHONESTY, /* 政务失信 records in force at the period's end (any cause) */
  CX_IND_UNPERFORMED,    /* of which judgment: 未履行人民法院生效判决 */
  CX_IND_LAWSUIT_LOSS,   /* lost / concluded administrative lawsuits decided in the period */
  CX_IND_KEPT_RATE,      /* kept / judged commitments (守信践诺) decided in the period */
  CX_IND_ON_TIME,        /* 双公示 as an authority: licences and penalties it decided in the
                            period reported within 7 working days / reported */
  CX_IND_COMPLAINTS,     /* complaints (投诉举报) about the body decided in the period */
  CX_IND_STAFF,          /* 政务失信 records of civil servants the body reported, decided in the
                            period (公务员诚信档案; analyst and admin only) */
  CX_IND_BLACKLISTED,    /* 1 when on a serious-dishonesty list at the period's end */
  CX_IND_COUNT
} cx_ind;
extern const char *const cx_ind_names[CX_IND_COUNT];
/** 1 for the indicators that are rates (value = numerator / denominator). */
int cx_ind_is_rate(int ind);

#define CX_RUBRIC_POINTS_MAX 8
#define CX_RUBRIC_BANDS_MAX 8
#define CX_RUBRIC_BAND_NAME 48
typedef struct cx_rubric_ind {
  uint8_t on;      /* an indicator line names it */
  double weight;   /* >= 0 */
  uint32_t n_pts;  /* curve points, x ascending */
  double x[CX_RUBRIC_POINTS_MAX], pts[CX_RUBRIC_POINTS_MAX];
  uint32_t min_n;  /* rates: fewer cases than this = not rated */
  uint8_t veto;    /* a veto line names it */
  double veto_cap;
} cx_rubric_ind;
typedef struct cx_rubric {
  uint8_t publish;
  uint32_t kinds;  /* bit cx_kind */
  cx_rubric_ind ind[CX_IND_COUNT];
  uint32_t n_bands;
  struct {
    double min;
    char name[CX_RUBRIC_BAND_NAME];
  } bands[CX_RUBRIC_BANDS_MAX]; /* min descending */
} cx_rubric;
/**
 * Parses a rubric into out. CX_EBADREQ with *bad_line (1-based) and *why (a static message)
 * for the first bad line; a rubric with no indicator, no band, or whose weights sum to 0 is
 * bad at line 0. Pure.
 */
int cx_rubric_parse(const char *text, size_t n, cx_rubric *out, int *bad_line, const char **why);
/** The points of value v on indicator i's curve (0..100). Pure. */
double cx_rubric_points(const cx_rubric_ind *i, double v);
/** The band (grade) of total score s: its index into bands. Pure. */
uint32_t cx_rubric_band(const cx_rubric *r, double s);

/* Embedded copies of the project's data files (generated at build time from data/). */
extern const char cx_data_regions[], cx_data_regions_history[], cx_data_catalog[], cx_data_calendar[],
    cx_data_scorecard[];
extern const size_t cx_data_regions_len, cx_data_regions_history_len, cx_data_catalog_len,
    cx_data_calendar_len, cx_data_scorecard_len;

/* ===================================================================== records */

#define CX_RECORD_ID_MAX 128u /* bytes of a record_id (the authority's document number) */

/*
 * The fields a source gives a record (CSV and JSON Lines import, the protocol's ingest), one
 * row each: X(ID, name, kind, required, max, gen)
 *   kind      how the value is read: CODE (USCC or ID number), NAME (one line, no control
 *             character), FREE (free text), ENUM (a name of the field's table), DATE
 *             (YYYY-MM-DD), BOOL, AMOUNT (a strict decimal), LIST (comma-separated codes),
 *             EXTRA (named extra fields, cx_extra_put)
 *   required  1: a record without it is refused ("<name>: required")
 *   max       bytes, 0: the store's general limit for its kind
 *   gen       1: a column of the canonical CSV (`chengxin gen --out`, the import's default)
 * cx_record_from_fields reads these names; the importer takes them as canonical columns; the
 * generator writes the gen columns in this order. The protocol's record *answer* (what
 * `records` returns, with the store's derived fields) is CX_RECORD_ANSWER of net/exec.h.
 */
#define CX_RECORD_FIELDS(X)                                   \
  X(ENTITY_CODE, entity_code, CODE, 1, CX_CODE_LEN, 1)        \
  X(ENTITY_NAME, entity_name, NAME, 1, 0, 1)                  \
  X(ENTITY_KIND, entity_kind, ENUM, 0, 0, 1)                  \
  X(RECORD_ID, record_id, NAME, 1, CX_RECORD_ID_MAX, 1)       \
  X(AUTHORITY_CODE, authority_code, CODE, 1, CX_CODE_LEN, 1)  \
  X(AUTHORITY_NAME, authority_name, NAME, 0, 0, 1)            \
  X(CATEGORY, category, ENUM, 1, 0, 1)                        \
  X(SUBTYPE, subtype, ENUM, 0, 0, 1)                          \
  X(DOMAIN, domain, ENUM, 0, 0, 1)                            \
  X(SEVERITY, severity, ENUM, 0, 0, 1)                        \
  X(DECISION_DATE, decision_date, DATE, 1, 0, 1)              \
  X(REPORT_DATE, report_date, DATE, 0, 0, 1)                  \
  X(VALID_FROM, valid_from, DATE, 0, 0, 1)                    \
  X(VALID_UNTIL, valid_until, DATE, 0, 0, 1)                  \
  X(STATUS, status, ENUM, 0, 0, 1)                            \
  X(OBJECTION, objection, BOOL, 0, 0, 1)                      \
  X(AMOUNT_FEN, amount_fen, AMOUNT, 0, 0, 1)                  \
  X(AMOUNT_YUAN, amount_yuan, AMOUNT, 0, 0, 0)                \
  X(AMOUNT_WAN, amount_wan, AMOUNT, 0, 0, 0)                  \
  X(LIST_TYPE, list_type, NAME, 0, 0, 1)                      \
  X(MEASURES, measures, LIST, 0, 0, 1)                        \
  X(BASIS, basis, FREE, 0, 0, 1)                              \
  X(CONTENT, content, FREE, 0, 0, 1)                          \
  X(DISPLAY_UNTIL, display_until, DATE, 0, 0, 0)              \
  X(EXTRA, extra, EXTRA, 0, CX_MAX_EXTRA, 0)

typedef enum cx_record_field {
#define CX_RF_ENUM_(id, name, kind, req, max, gen) CX_RF_##id,
  CX_RECORD_FIELDS(CX_RF_ENUM_)
#undef CX_RF_ENUM_
  CX_RF_COUNT
} cx_record_field;

typedef enum cx_field_kind {
  CX_FK_CODE, CX_FK_NAME, CX_FK_FREE, CX_FK_ENUM, CX_FK_DATE, CX_FK_BOOL, CX_FK_AMOUNT, CX_FK_LIST,
  CX_FK_EXTRA
} cx_field_kind;

typedef struct cx_record_field_info {
  const char *name;
  uint8_t kind;      /* cx_field_kind */
  uint8_t required;
  uint8_t gen;
  uint32_t max;      /* bytes; 0: the kind's general limit */
} cx_record_field_info;
extern const cx_record_field_info cx_record_fields[CX_RF_COUNT];
/** The field of a (trimmed, exact) name, or CX_EBADREQ. */
int cx_record_field_parse(cx_str name);

/**
 * A record. On write the strings are borrowed from the caller for the duration of
 * cx_batch_put(); on read they point into the map (valid until the txn is reset or ended).
 */
typedef struct cx_record {
  cx_str record_id;       /* the authority's document number (required, <= CX_RECORD_ID_MAX B) */
  cx_str authority_code;  /* USCC of the authority (required) */
  cx_str authority_name;
  cx_str entity_code;     /* USCC or resident ID number (required) */
  cx_str entity_name;     /* required */
  cx_str list_type;       /* catalogue list code; blacklist/redlist records need one */
  cx_str measures;        /* comma-separated measure codes; empty = the list's defaults */
  cx_str basis, content;
  cx_str extra;           /* named extra fields of the source (columns no canonical field
                             holds), as cx_extra_put writes them; empty = none */
  uint8_t entity_kind;    /* cx_kind; CX_KIND_UNSET = derive from the code (cx_kind_from_code) */
  uint8_t category;       /* cx_category */
  uint8_t subtype;        /* cx_subtype */
  uint8_t domain;         /* cx_domain, default other */
  uint8_t severity;       /* cx_severity (the display tier); CX_SEV_UNSET = derive it at
                             cx_batch_put by the catalogue's tier rules */
  uint8_t status;         /* cx_status, default active */
  uint8_t objection;      /* 0/1 */
  cx_day decision_date;   /* required */
  cx_day report_date;     /* on write: CX_DAY_NONE = not given (the store records the receipt
                             day, see report_received); on read: CX_DAY_NONE = not known */
  cx_day valid_from;      /* default decision_date */
  cx_day valid_until;     /* CX_DAY_OPEN = open end; exclusive: in force while day < valid_until */
  cx_day display_until;   /* the source's public-display deadline (公示截止期), inclusive: the
                             last day the public may see it (within the tier's limits);
                             CX_DAY_NONE = none given */
  int64_t amount_fen;
  /* Set by the store on read (ignored on write): */
  uint32_t seq, entity_id, authority_id, region;
  int32_t report_delay;   /* working days from decision to report; -1 when not reported */
  uint8_t on_time;        /* reported within CX_REPORT_DEADLINE_WORKDAYS */
  uint8_t report_received;/* 1: the row gave no report date; report_date is the day the
                             platform received it (the Beijing day of its first ingest) */
  uint8_t delay_provisional;/* 1: report_delay and on_time count a year the calendar has no
                             published 调休 notice for (cx_calendar_span_provisional): they
                             may change when the notice is loaded */
} cx_record;

/* Extra fields: "name<TAB>value<LF>" lines, the value with \\, \t, \n and \r escaped. */
#define CX_MAX_EXTRA 8192u
/**
 * Appends one extra field to buf[0..*len) (cap bytes). Name: 1..128 bytes, no TAB, LF or CR.
 * CX_EBADREQ for a bad name, CX_ETOOLARGE when it does not fit; buf is then unchanged.
 */
int cx_extra_put(char *buf, size_t cap, size_t *len, cx_str name, cx_str value);
/**
 * Calls fn(ctx, name, value) for each extra field of extra, the value unescaped into scratch
 * (cap bytes; a longer value is cut). fn returns 0 to go on. CX_ECORRUPT for a malformed string.
 */
typedef int (*cx_extra_fn)(void *ctx, cx_str name, cx_str value);
int cx_extra_each(cx_str extra, cx_extra_fn fn, void *ctx, char *scratch, size_t cap);

/** Largest amount_fen a record may carry: 10^14 fen (1 trillion yuan); larger is a bad row. */
#define CX_MAX_AMOUNT_FEN 100000000000000LL

/** Fields not given by an import row or a request: call before filling a cx_record to write. */
void cx_record_defaults(cx_record *r);

/**
 * Parses one record given as canonical field names (DESIGN §5a) and string values:
 * the shared path of CSV/JSONL import and the protocol's ingest. Unknown names are ignored;
 * values are trimmed of ASCII whitespace and an empty value counts as absent; a repeated name
 * keeps the last value. Missing required fields, unknown enum values, a subtype the category
 * does not admit, a blacklist/redlist record without list_type, a record_id over 128 bytes, a
 * negative or malformed amount: CX_EBADREQ; a bad date, report_date before decision_date or
 * valid_until not after valid_from: CX_EDATE; *why is then a static message that starts with
 * the field name ("decision_date: not a YYYY-MM-DD date"). out is untouched on error.
 * Strings in out borrow from values. The entity code is not validated here (the batch does);
 * when entity_kind is absent it is derived from a valid code (cx_kind_from_code), else left
 * CX_KIND_UNSET. valid_from defaults to decision_date; valid_until accepts "open".
 * Booleans accept true/false/1/0/yes/no (any case); amount_fen is an integer; amount_yuan and
 * amount_wan (万元) are accepted and converted to fen exactly (up to 2 / 6 decimals; several
 * amount fields must agree).
 */
int cx_record_from_fields(const cx_str *names, const cx_str *values, size_t n, cx_record *out,
                          const char **why);

/** Record key: sorts an entity's records newest first. */
typedef struct cx_reckey {
  uint32_t entity_id, decision_date, seq;
} cx_reckey;
#define CX_RECKEY_LEN 12
void cx_reckey_encode(const cx_reckey *k, unsigned char out[CX_RECKEY_LEN]);
void cx_reckey_decode(const unsigned char in[CX_RECKEY_LEN], cx_reckey *k);

/* ===================================================================== summary */

/**
 * The per-entity summary: everything `check` and the status page read, in one value.
 * It holds the entity's identity, a digest of every record (cx_sum_rec, newest first) and the
 * check index: one cx_sum_hit per active record that carries measures (blacklist, red list, or
 * any record with a list type). Rebuilt in the write txn that changes any of its records.
 * The summary value holds the newest hits (at most 512, fewer when their strings pass 64 KiB);
 * an entity with more has n_chunks > 0 and the older hits, in the same newest-first order, in
 * spill chunks read with cx_store_summary_chunk(): nothing is ever dropped from the index.
 * Access the arrays with cx_summary_rec() / cx_summary_hit() (LMDB values are not aligned).
 */
typedef struct cx_sum_rec {
  cx_day decision_date, valid_from, valid_until;
  uint8_t category, severity, status, flags; /* flags: CX_SRF_* */
  cx_day display_until;     /* the source's last day of public display; CX_DAY_NONE: none */
} cx_sum_rec;
#define CX_SRF_OBJECTION 1u
#define CX_SRF_RESTRICTS 2u      /* the record carries a deny or review measure (catalogue) */
#define CX_SRF_SUBTYPE_SHIFT 4   /* flags >> 4 = the record's cx_subtype */
/* Hits only (cx_sum_hit.flags): an advisory hit (cx_catalog_advisory): valid_from..valid_until
 * is the record's display window and measures its own deny/review measures (for which actions
 * it is not advisory); flags >> CX_SRF_ADV_SHIFT & 3: why (CX_ADV_TIER, CX_ADV_FINE). */
#define CX_SRF_ADVISORY 4u
#define CX_SRF_ADV_SHIFT 3

typedef struct cx_sum_hit {
  cx_day valid_from, valid_until;
  uint64_t measures;        /* catalogue measure mask (deny, review and incentive measures) */
  uint32_t seq;
  uint32_t authority_id;
  uint8_t category, list_type, flags, severity; /* flags: CX_SRF_* */
  uint16_t str_off;         /* record_id then authority_code in the string area */
  uint8_t rid_len, auth_len;
} cx_sum_hit;

typedef struct cx_summary {
  uint32_t entity_id;
  uint8_t kind;             /* cx_kind */
  uint32_t region;          /* GB/T 2260 county code from the entity code */
  cx_day last_update;       /* day of the last batch that changed this entity */
  cx_str code, name;
  cx_str authority_code;    /* civil servants: authority of the latest record; else empty */
  uint32_t n_recs, n_hits;  /* n_hits: the hits in this value (see n_chunks) */
  uint32_t n_chunks;        /* spill chunks holding the older hits (cx_store_summary_chunk) */
  /* private: */
  const unsigned char *hits_, *recs_, *strs_;
} cx_summary;

static inline void cx_summary_rec(const cx_summary *s, uint32_t i, cx_sum_rec *out) {
  memcpy(out, s->recs_ + (size_t)i * sizeof(cx_sum_rec), sizeof *out);
}

/**
 * The days on which the public may be shown record r of an entity (person: the entity is a
 * person or a civil servant) under catalogue c: [*from, *end), *end == CX_DAY_OPEN for no end.
 * Returns 0 when there is no such day (not active, a tier that is not published, a category
 * persons are not shown for, an empty window). The one statement of the public's display rule:
 * query/'s cx_query_displayable is "as_of in this window", the entities' hints (below) are its
 * last day. 失信信息 (cx_catalog_is_negative): from the decision to cx_catalog_display_end of its
 * tier (a list entry's own end of listing, the source's 公示截止期 when earlier); anything else
 * (licences, red lists, kept commitments ...): while valid, [valid_from, valid_until).
 */
int cx_catalog_public_window(const cx_catalog *c, int person, const cx_sum_rec *r, cx_day *from,
                             cx_day *end);

/**
 * What a reader of the entities DB learns of an entity beside its code, so that the keyword
 * search can pass over an entity the public cannot see without reading its summary: the kind,
 * and the first day on which none of its records is displayable any more (the largest *end of
 * cx_catalog_public_window over its summary's records; 0: none ever is; CX_DAY_OPEN: no end).
 * Written with the summary (same txn, same catalogue) by every summary rebuild, including the
 * rebuild of every entity when a catalogue is loaded. known = 0 for an entity written before
 * hints came in (an 18-byte value): then nothing may be concluded.
 */
typedef struct cx_entity_hint {
  uint8_t known, kind;
  cx_day public_end;
} cx_entity_hint;
/** The hint of summary s under catalogue c (what the summary rebuild stores). */
void cx_entity_hint_of(const cx_catalog *c, const cx_summary *s, cx_entity_hint *out);
static inline void cx_summary_hit(const cx_summary *s, uint32_t i, cx_sum_hit *out,
                                  cx_str *record_id, cx_str *authority_code) {
  memcpy(out, s->hits_ + (size_t)i * sizeof(cx_sum_hit), sizeof *out);
  if (record_id) *record_id = (cx_str){(const char *)s->strs_ + out->str_off, out->rid_len};
  if (authority_code)
    *authority_code = (cx_str){(const char *)s->strs_ + out->str_off + out->rid_len, out->auth_len};
}

/* ===================================================================== rollups */

/** Aggregate dimensions (DESIGN §5a). Values are u32: see cx_fact_dim(). */
typedef enum cx_dim {
  CX_DIM_PROVINCE, CX_DIM_CITY, CX_DIM_COUNTY, CX_DIM_AUTHORITY, CX_DIM_CATEGORY,
  CX_DIM_SUBTYPE, CX_DIM_DOMAIN, CX_DIM_SEVERITY, CX_DIM_KIND, CX_DIM_STATUS,
  CX_DIM_YEAR, CX_DIM_QUARTER, CX_DIM_MONTH,
  CX_DIM_COUNT
} cx_dim;
extern const char *const cx_dim_names[CX_DIM_COUNT];

/** Counters of one rollup cell (and of one record, as a delta). */
typedef struct cx_rollup_cell {
  int64_t count;     /* records */
  int64_t amount;    /* sum of amount_fen */
  int64_t reported;  /* records with a report date */
  int64_t on_time;   /* reported within the deadline */
  int64_t delay_sum; /* sum of report delays in working days */
  int64_t provisional; /* reported records whose delay is provisional (delay_provisional) */
} cx_rollup_cell;

/**
 * Rollup cubes: each is keyed by decision month plus the dimensions listed (year, quarter and
 * month derive from the month; province from city). A cube covers an aggregate when every
 * grouped and filtered dimension is derivable from its key and the date range is whole months.
 */
#define CX_CUBE_MAX_DIMS 8
typedef struct cx_cube_def {
  uint8_t n_dims;
  uint8_t dims[CX_CUBE_MAX_DIMS]; /* cx_dim, in key order */
} cx_cube_def;
extern const cx_cube_def cx_cubes[];
extern const int cx_cube_count;

/** Month index of a day: year * 12 + (month - 1). */
uint32_t cx_day_month(cx_day d);
/** The value of dimension dim for a record (month: YYYYMM, quarter: YYYYQ, year: YYYY,
 *  province: 2 digits, city: 4, county: 6, authority: authority id, others: enum). */
uint32_t cx_record_dim(const cx_record *r, cx_dim dim);

/* ===================================================================== store */

typedef struct cx_store cx_store;
typedef struct cx_txn cx_txn;

typedef struct cx_store_opts {
  int create;          /* create the directory and an empty store (with the embedded data) */
  int read_only;       /* MDB_RDONLY: queries, backup and verify beside a running server */
  int bulk;            /* MDB_WRITEMAP|MDB_NOSYNC for big imports; synced at cx_store_close() */
  uint64_t map_size;   /* initial map size in bytes; 0 = 1 GiB (grows on demand) */
  unsigned max_readers;/* 0 = 1024; set by the first process to open the store (the size of
                          lock.mdb): later opens get the table as it is */
  int group_read;      /* what this handle creates (a new store's directories and files,
                          backups) is readable by the group: 0750 / 0640 instead of 0700 / 0600 */
} cx_store_opts;

/**
 * Opens (or with create, creates) the store in directory path. Clears stale reader slots.
 * Creates the directories it needs with mode 0700 and data.mdb, lock.mdb with 0600 (0750 /
 * 0640 with group_read; the umask may remove more). Existing directories and files keep their
 * modes; a lock.mdb created in an existing store gets the permissions of its data.mdb.
 * CX_ENOSTORE when there is no store and !create; CX_EVERSION when the schema differs
 * (the message from cx_store_errmsg names both versions; nothing is written); CX_ECORRUPT for
 * a data.mdb that is not an LMDB file; CX_EROFS for a writable open where nothing can be
 * written (read-only file system, no permission); CX_EREADERS when live readers hold every slot.
 *
 * Caveat (read-only file systems): a read_only open whose lock.mdb cannot be opened for writing
 * (EROFS, or EACCES: a store owned by another user) reads without a lock table (MDB_NOLOCK):
 * it takes no reader slot, so a writer could reuse the pages of its snapshot. That is safe only
 * while no other process has the store open, which a read-only file system guarantees for
 * writers on this host. The open checks it (every process with the store open holds a shared
 * fcntl lock on lock.mdb) and fails with CX_EROFS when another process has it open; the caller
 * must make sure no writer opens it while the handle lives (none can on a read-only file
 * system; a read-only bind mount of a directory written through another path is no guarantee).
 * Never open the same store twice in one process (LMDB: closing one handle drops the other's
 * locks, and other processes would then clear its reader slots as stale).
 */
int cx_store_open(const char *path, const cx_store_opts *opts, cx_store **out);
/** Syncs (bulk mode) and closes. No transaction may be live; a load transaction still open
 *  (cx_store_load_begin) is aborted. */
void cx_store_close(cx_store *st);

/**
 * Load mode, for a large import through many batches: every write transaction of this handle
 * (cx_batch_commit, cx_batch_audit ...) becomes a child of one long LMDB transaction, begun at
 * the first write and made durable by cx_store_load_commit. A batch stays all or nothing (its
 * child commits or aborts whole) and, as each batch leaves summaries, rollups, facts and
 * indexes complete, the store is complete after every batch: a crash loses the batches since
 * the last cx_store_load_commit and leaves a store that verifies.
 *
 * Why (issue 20): a commit writes every page its txn touched, and the keys of refs, summaries,
 * names, grams and rollups are spread over their whole B-trees, so a commit per 10000-row batch
 * rewrote most of those trees each time (write volume growing with the store). One long txn
 * writes a page once; a batch's child txn copies a page it touches in memory, not on disk.
 *
 * Not in bulk mode (MDB_WRITEMAP has no nested transactions): CX_EBADREQ. A no-op when already
 * in load mode. Threads: the begin, every write txn and the load commit run on one thread (the
 * long txn holds LMDB's writer lock, which that thread owns); no other write txn may run on
 * this handle meanwhile. Read txns of other threads see the store as of the last load commit.
 * Map growth commits the load txn first (a durable point) and goes on in a new one.
 */
int cx_store_load_begin(cx_store *st);
/**
 * Commits the load txn, if one is open (the writes since the last load commit become durable;
 * load mode stays on: the next write begins a new one). Returns what a commit returns
 * (CX_ENOSPACE, CX_EIO ...); on failure those writes are lost and the store is as of the last
 * load commit.
 */
int cx_store_load_commit(cx_store *st);
/** Leaves load mode: cx_store_load_commit, then write txns are top-level again. */
int cx_store_load_end(cx_store *st);

/**
 * Bulk load (store/bulk.c), for a large import into a new store: load mode in which every
 * batch's write txn is the load txn itself (no child), and the summaries of the entities the
 * batches touch are rebuilt once, at cx_store_load_commit, instead of in every batch. What a
 * batch does (validation, ids, seqs, duplicates and moves across batches, rollups, facts,
 * refs, names, grams) is unchanged, so the store's content is the row path's
 * (tests/tools/test_import_bulk.c: equal `verify --digest`).
 *
 * Why (issue 20): a commit per batch rewrote most pages of the random-key trees each time;
 * load mode's child txns copy them for every batch and cannot spill. One flat txn in bulk
 * mode (MDB_WRITEMAP) copies a page once and then writes it in place; LMDB spills its dirty
 * pages without copying (they are the map's), so the dirty set is bounded by nothing but the
 * map, and cx_store_trim_map keeps the process's share of it small.
 *
 * Atomicity: the load is one transaction. cx_store_load_commit rebuilds the summaries, syncs
 * the map, commits and syncs again: a crash before it leaves the store as it was before the
 * load (a new store: empty), after it the whole load. A batch that fails (CX_ENOMEM, a full
 * map ...) fails the whole load: that batch's commit returns its code, later writes return it
 * too, the load commit returns it once and nothing since the last load commit is written; the
 * next write begins a new load. The map cannot grow under the load txn: open the store with a
 * map_size that holds the load (a full map fails it with CX_ENOSPACE). Summaries get the day of
 * the load's last batch as last_update (the row path: the day of the batch that changed them).
 *
 * Requires a handle opened with cx_store_opts.bulk (CX_EBADREQ otherwise) and not in load mode;
 * a no-op when already bulk loading. MDB_WRITEMAP: no other process should have the store open
 * meanwhile (LMDB: do not mix processes with and without it). Ends with cx_store_load_end (or
 * cx_store_close, which aborts a load not committed). Threads: as load mode (one thread begins
 * the writes and runs the load commit); readers see the store as of the last load commit.
 */
int cx_store_bulk_begin(cx_store *st);
/** Aborts the bulk load's txn, if one is open: nothing since the last load commit is written;
 *  the next write begins a new load. On the thread that began the writes. */
void cx_store_bulk_abort(cx_store *st);
/** 1 while the handle is bulk loading (cx_store_bulk_begin, until cx_store_load_end). */
int cx_store_bulk_active(const cx_store *st);

/**
 * Drops this process's mappings of the store's pages when the process maps more than max_bytes
 * of files (RssFile + RssShmem, /proc/self/statm): madvise(MADV_DONTNEED) on the map. The pages
 * stay in the page cache (a later read faults them back in without I/O) and no data changes,
 * in bulk mode neither (a dirty shared page is handed to the page cache). For a long import:
 * the map's pages it touched would otherwise all count in its resident set (5 GiB of a 10M-
 * record store, issue 20), which the kernel can reclaim but monitoring cannot tell apart.
 * *trimmed (may be NULL) = 1 when it dropped them. Never fails the caller: 0, or CX_EIO when
 * statm cannot be read. The bound is kept: cx_batch_commit checks it every 16384 record writes
 * and between its steps (a commit's page reads alone map gigabytes of a 10M-record store);
 * 0 stops that. Threads: any; a txn, of this thread or another, only faults its pages in again
 * (pointers into the map stay valid: the mapping stays, its pages come back from the page
 * cache). Costs a minor fault per page touched again afterwards.
 */
int cx_store_trim_map(cx_store *st, uint64_t max_bytes, int *trimmed);
/** Detail of the last failure of a store call on the calling thread (a thread-local string,
 *  valid until that thread's next failing store call). st may be NULL (a failed open).
 *  Per thread, not per handle: threads sharing a handle fail independently. */
const char *cx_store_errmsg(const cx_store *st);
/**
 * Re-reads the stored catalogue and calendar into the handle (another process may have
 * replaced them with load-catalog / load-calendar: chengxind's SIGHUP), under the write lock
 * so that no commit sees half of it; the old ones stay valid until the handle closes. *changed:
 * bit 0 the catalogue, bit 1 the calendar differ from what the handle had. CX_ECORRUPT (a
 * stored file that does not parse: the handle keeps the old ones), CX_E* of the txn.
 */
int cx_store_data_reload(cx_store *st, int *changed);
/** "LMDB <version>" of the library the store runs on (for --version). */
const char *cx_store_lib_version(void);
/** The calendar and catalogue the store was opened with (handle-owned, read-only). */
const cx_calendar *cx_store_calendar(const cx_store *st);
const cx_catalog *cx_store_catalog(const cx_store *st);

typedef struct cx_store_info {
  uint32_t schema_version;
  uint64_t entities, records, authorities, rollup_cells;
  uint64_t regions, regions_historic; /* entries of the current and the historic region table */
  uint64_t map_size, map_used, page_size;
  uint32_t max_readers;
  uint32_t readers_used; /* reader slots held now: live and reset txns of every process, and
                            stale slots of killed processes until cleared (0 without locks) */
  uint64_t salt;       /* per-store secret for cursors */
  uint32_t last_commit_s; /* Unix time of the last batch committed (0: none since this field) */
  uint64_t gram_entries;  /* (bigram, entity) pairs of the keyword index */
  uint64_t log_seq;       /* the last replicated-log message applied (0: none; cx_store_log_seq) */
  uint32_t record_dict;   /* the dictionary new record values are packed with (0: none yet;
                             docs/data-model.md "Record values") */
} cx_store_info;
int cx_store_info_get(cx_store *st, cx_store_info *out);

/**
 * Consistent (compacting) copy of the store into out_dir/data.mdb, synced before it returns.
 * out_dir and its missing parents are created 0700 (0750 with the handle's group_read),
 * data.mdb 0600 (0640). CX_EEXIST when out_dir already holds a data.mdb; CX_EIO. A failed
 * copy leaves no data.mdb. Runs beside writers (a read snapshot; nobody waits).
 */
int cx_store_backup(cx_store *st, const char *out_dir);
/**
 * cx_store_backup as a logical copy: every DB walked in key order and appended, so that every
 * page of the copy is full (cx_store_backup keeps each page as the B-tree's splits left it:
 * half full after random inserts), and every record value packed again at a higher zstd level
 * (with a dictionary trained here when the store has none and has 2,000 records or more).
 * Same contract and the same content digest; slower (each entry is put, in write txns of
 * 128 MB; ~10 s at 1M records). `chengxin compact` uses it.
 */
int cx_store_backup_packed(cx_store *st, const char *out_dir);

/**
 * Whether a process other than the caller has the store in directory path open: every LMDB
 * open of it holds a shared fcntl lock on lock.mdb while it lives. 0 with *holder = 0 for
 * none, the pid of one holder, or -1 when it is held by a process whose pid we are not told
 * (another pid namespace). CX_EIO when lock.mdb exists but cannot be read (another user's
 * store): the caller must take it as held. The caller's own handles are never seen (fcntl
 * locks belong to the process), nor lockless read-only opens (MDB_NOLOCK, which take none).
 * Anything that replaces a store's files (chengxin compact) checks it first and again right
 * before the swap: a writer left on the old files would write into a deleted file.
 */
int cx_store_holders(const char *path, long *holder);

/* ---- read transactions ---- */

/**
 * Begins a read transaction (allocates once; reuse it with reset/renew). Each live or reset
 * cx_txn holds one slot of the reader table (MDB_NOTLS) until cx_store_txn_end. When the table
 * is full, the slots of dead processes (killed inside a read txn) are cleared and the begin is
 * retried once; CX_EREADERS (cx_store_errmsg says so) when live readers hold every slot.
 * Nothing is held after a failure. Write txns take no reader slot, and each clears stale slots
 * first, so a killed reader's snapshot does not pin freed pages beyond the next commit.
 */
int cx_store_txn_begin(cx_store *st, cx_txn **out);
/** Releases the snapshot but keeps the handle (between requests). */
void cx_store_txn_reset(cx_txn *t);
/** Takes a fresh snapshot on a reset handle. */
int cx_store_txn_renew(cx_txn *t);
void cx_store_txn_end(cx_txn *t);
cx_store *cx_store_txn_store(cx_txn *t);
/**
 * A second read txn on t's snapshot, for another thread (a txn and its cursors serve one thread
 * at a time; a twin lets two threads read the same snapshot at once). LMDB can only begin a txn
 * on the newest snapshot, so this fails with CX_EBUSY when a write committed since t began (or
 * a remap is pending), and CX_EREADERS when the reader table is full: the caller then does the
 * work in t alone. End it with cx_store_txn_end, on any thread, before t.
 */
int cx_store_txn_twin(cx_txn *t, cx_txn **out);

/* ---- reads (all pointers into the map; valid until reset/end) ---- */

/** The summary of a normalised code. CX_ENOTFOUND. One B-tree lookup, no allocation. */
int cx_store_summary_get(cx_txn *t, const char code[CX_CODE_LEN], cx_summary *out);
/**
 * Part k (0..s->n_chunks) of s's check index, as a view: k = 0 is s itself; k >= 1 is spill
 * chunk k, a copy of s whose hits (n_hits, cx_summary_hit) are the chunk's, continuing s's
 * newest-first order. Walk every hit with k = 0..n_chunks. One mdb_get per chunk, no
 * allocation; points into the map like s. CX_EBADREQ for k out of range, CX_ECORRUPT when the
 * chunk is missing or malformed (or the handle was opened read-only before the store had the
 * summary_x DB: reopen).
 */
int cx_store_summary_chunk(cx_txn *t, const cx_summary *s, uint32_t k, cx_summary *out);
/** Decodes a summary value (used by verify and tests). CX_ECORRUPT. */
int cx_store_summary_decode(const void *val, size_t n, cx_summary *out);
/** The code of an entity id. CX_ENOTFOUND. */
int cx_store_entity_code(cx_txn *t, uint32_t entity_id, cx_str *code);
/** The code and the hint (cx_entity_hint) of an entity id, in one lookup. CX_ENOTFOUND. */
int cx_store_entity_get(cx_txn *t, uint32_t entity_id, cx_str *code, cx_entity_hint *hint);

/**
 * Iterates an entity's records newest first, starting strictly after *after (NULL: from the
 * newest). fn returns 0 to go on, 1 to stop (returned as 0), or a negative error (returned).
 */
typedef int (*cx_record_fn)(void *ctx, const cx_reckey *key, const cx_record *r);
int cx_store_records_each(cx_txn *t, uint32_t entity_id, const cx_reckey *after, cx_record_fn fn,
                          void *ctx);
/** Iterates every record of the store in key order (ad-hoc aggregate scans, verify). */
int cx_store_records_scan(cx_txn *t, cx_record_fn fn, void *ctx);

/**
 * The fixed-size part of a record (what aggregates need): the same values as the namesake
 * cx_record fields, without the strings and without the key.
 */
typedef struct cx_fact {
  int64_t amount_fen;
  uint32_t seq, entity_id, authority_id, region;
  cx_day decision_date, report_date, valid_from, valid_until;
  int32_t report_delay;   /* -1 when not reported */
  uint8_t entity_kind, category, subtype, domain, severity, status, objection, on_time;
  cx_day display_until;
  uint8_t delay_provisional; /* as cx_record's */
  uint8_t reserved_[3];   /* zero; with the tail padding it makes the 64-byte slot image */
} cx_fact;
/** fn returns 0 to go on, 1 to stop (returned as 0), or a negative error (returned). */
typedef int (*cx_fact_fn)(void *ctx, const cx_fact *f);
/**
 * Visits the fixed part of every record of the store once, in seq order, from the facts DB
 * (64-byte slots packed 256 to a value): the fast path of ad-hoc aggregate scans. A store
 * opened read-only before any writable open of this build gave it the facts DB is walked in
 * records key order instead (same facts, other order). Enum ranges are checked (CX_ECORRUPT);
 * cx_store_verify compares every slot with its record. No allocation.
 */
int cx_store_facts_scan(cx_txn *t, cx_fact_fn fn, void *ctx);
/**
 * The facts DB in blocks, for scans split over threads. Block b holds the records with
 * seq / CX_FACTS_PER_BLOCK == b. cx_store_facts_blocks gives the block range [*lo, *hi) of the
 * snapshot (0, 0 when it has no fact); CX_ENOTFOUND when the store has no facts DB (see
 * cx_store_facts_scan: such a store is scanned whole, in one thread).
 * cx_store_facts_scan_blocks visits blocks lo <= b < hi in order and calls fn once per block
 * that holds a record, with the block's facts in seq order, enum ranges checked (CX_ECORRUPT):
 * f[0..n) points into the map when every slot is used, else into a copy on the stack (16 KiB).
 * Ranges that partition [lo, hi) visit every fact exactly once. fn returns 0 to go on, 1 to
 * stop (returned as 0), or a negative error (returned). No allocation.
 */
#define CX_FACTS_PER_BLOCK 255u
typedef int (*cx_facts_fn)(void *ctx, const cx_fact *f, size_t n);
int cx_store_facts_blocks(cx_txn *t, uint32_t *lo, uint32_t *hi);
int cx_store_facts_scan_blocks(cx_txn *t, uint32_t lo, uint32_t hi, cx_facts_fn fn, void *ctx);
/** cx_record_dim for a fact (same values). */
uint32_t cx_fact_dim(const cx_fact *f, cx_dim dim);
/** Looks a record up by (authority code, record id). CX_ENOTFOUND. */
int cx_store_record_get(cx_txn *t, cx_str authority_code, cx_str record_id, cx_reckey *key,
                        cx_record *out);

/** Authority code and name of an authority id. CX_ENOTFOUND. */
int cx_store_authority_get(cx_txn *t, uint32_t id, cx_str *code, cx_str *name);
/** Authority id of a code. CX_ENOTFOUND. */
int cx_store_authority_find(cx_txn *t, cx_str code, uint32_t *id);
/** A region of cx_store_region_get. name points into the map (valid until the txn ends). */
typedef struct cx_region {
  cx_str name;
  uint16_t first_year, last_year; /* 0, 0: a current code; else historic: in use from first_year
                                     until last_year (see the historic table above) */
} cx_region;
/**
 * The region of a GB/T 2260 code (province: 350000, city: 350100, county: 350102): from the
 * current table, or, when it has no such code, from the historic one (last_year != 0), under
 * the newest name the code had. CX_ENOTFOUND when neither has it.
 */
int cx_store_region_get(cx_txn *t, uint32_t code, cx_region *out);
/** cx_store_region_get's name alone: a historic code's name is returned like a current one. */
int cx_store_region_name(cx_txn *t, uint32_t code, cx_str *name);
/** fn returns 0 to go on, 1 to stop, or a negative error (returned). r->name points into the map. */
typedef int (*cx_region_fn)(void *ctx, uint32_t code, const cx_region *r);
/**
 * Visits every region of both tables (current codes ascending, then the historic lines) once:
 * where a name is looked up (aggregate's `where city=福州市`; ~6,500 entries, a slow op's
 * cost). CX_ECORRUPT on a malformed entry. No allocation.
 */
int cx_store_regions_each(cx_txn *t, cx_region_fn fn, void *ctx);
/**
 * The generation of the region tables: a number that changes with every rewrite of either
 * table (0: never rewritten since this counter came in). What a reader derives from the tables
 * (query/'s names of a region) is valid while the generation it was derived at is the txn's.
 */
int cx_store_regions_gen(cx_txn *t, uint64_t *gen);

/**
 * Entities whose normalised name starts with prefix (already normalised), in name order.
 * fn(ctx, code, normalised name) returns 0 to go on, 1 to stop.
 */
typedef int (*cx_name_fn)(void *ctx, cx_str code, cx_str norm_name);
int cx_store_names_each(cx_txn *t, cx_str prefix, cx_name_fn fn, void *ctx);
/** Entities whose code starts with prefix (upper-case), in code order; norm_name is empty. */
int cx_store_codes_each(cx_txn *t, cx_str prefix, cx_name_fn fn, void *ctx);
/**
 * The same walks from the first key >= from (a names key: normalised name, 0x00, code; a
 * code), while keys start with prefix: where a paged search resumes. from empty: prefix.
 */
int cx_store_names_each_from(cx_txn *t, cx_str prefix, cx_str from, cx_name_fn fn, void *ctx);
int cx_store_codes_each_from(cx_txn *t, cx_str prefix, cx_str from, cx_name_fn fn, void *ctx);

/*
 * Keyword index (grams DB, store/grams.c): each character bigram of an entity's normalised
 * name (cx_name_normalize) -> its entity id, written in the batch txn that changes the name,
 * like the names DB. Every contiguous part of two or more characters of a name holds one or
 * more of these bigrams; a list of ids per bigram, ascending.
 */
#define CX_GRAMS_AND_MAX 8 /* lists one cx_store_grams_each may intersect */
/**
 * The distinct bigrams of a normalised name norm[0..n): slices of norm (valid while it is),
 * sorted (memcmp order, shorter first), at most cap. A name of c characters has at most c-1.
 * Pure; stops at the first byte that is not UTF-8.
 */
size_t cx_name_grams(const char *norm, size_t n, cx_str *out, size_t cap);
/** Number of entities whose name holds gram (0 when none). */
int cx_store_gram_count(cx_txn *t, cx_str gram, uint64_t *n);
/** Where a cx_store_grams_each walk ended. */
typedef struct cx_gram_walk {
  uint32_t visited; /* entries of grams[0]'s list read */
  uint32_t last;    /* the last id read (after, when none): resume after it */
  int done;         /* 1: the list was read to its end */
} cx_gram_walk;
typedef int (*cx_gram_fn)(void *ctx, uint32_t entity_id);
/**
 * Entity ids found in the list of every gram of grams[0..n) (n 1..CX_GRAMS_AND_MAX), above
 * after (0: all), ascending: fn(ctx, id) returns 0 to go on, > 0 to stop, < 0 to abort
 * (returned). grams[0]'s list is walked (give the shortest first), each id probed in the
 * others. Reads at most budget entries of grams[0]'s list; *w says where the walk ended.
 * CX_EBADREQ for n out of range.
 */
int cx_store_grams_each(cx_txn *t, const cx_str *grams, uint32_t n, uint32_t after,
                        uint32_t budget, cx_gram_walk *w, cx_gram_fn fn, void *ctx);

/**
 * Rollup cells of cube `cube` for months [month_from, month_to] (cx_day_month indices).
 * dims[i] is the value of cx_cubes[cube].dims[i].
 */
typedef int (*cx_rollup_fn)(void *ctx, uint32_t month, const uint32_t *dims,
                            const cx_rollup_cell *cell);
int cx_store_rollup_each(cx_txn *t, int cube, uint32_t month_from, uint32_t month_to,
                         cx_rollup_fn fn, void *ctx);
/** The same for the cells whose first dimension is dim0 only: one seek per month. */
int cx_store_rollup_each_dim0(cx_txn *t, int cube, uint32_t month_from, uint32_t month_to,
                              uint32_t dim0, cx_rollup_fn fn, void *ctx);

/** The stored text of a data file ("catalog", "calendar", "regions", "regions_history"). */
int cx_store_data_get(cx_txn *t, const char *name, cx_str *text);
/** The store's scorecard rubric (the embedded default when none was loaded) parsed into out. */
int cx_store_rubric(cx_txn *t, cx_rubric *out);

/* ---- writes ---- */

typedef struct cx_batch cx_batch;

typedef struct cx_batch_result {
  uint32_t inserted, replaced, unchanged, status_changes, entities_touched;
  uint32_t transitions; /* lifecycle transitions applied (status_changes counts them too) */
  uint32_t kept;        /* rows of existing records whose own status or objection differed
                           from the record's lifecycle state, which was kept */
  uint32_t provisional; /* records written (inserted or replaced) whose report delay and on-time
                           flag are provisional: the span touches a year the calendar has no
                           published notice for (cx_calendar_span_provisional) */
  uint8_t status, objection; /* the state after the batch's last lifecycle event (cx_batch_
                                transition) on a record that it did not also put */
  uint32_t refused;     /* puts skipped at commit (cx_batch_on_refused) */
  uint32_t bad_put;     /* on a failed commit: the index (0-based, in cx_batch_put order) of the
                           put it refused, or UINT32_MAX */
  char error[256];      /* written on failure only: what failed, for the caller's message
                           (never holds an entity code: it may be an ID number) */
  uint64_t log_seq;     /* the replicated log's sequence the commit stored (0: none) */
} cx_batch_result;

/* ---- record lifecycle ---- */

/**
 * Lifecycle events (docs/data-model.md "Lifecycle"). The status is a state machine:
 *   active --repair--> repaired --reinstate--> active     (reinstate: a new decision of the
 *   active | repaired --revoke--> revoked                  owning authority)
 *   revoked is final: every event on it but objection_withdraw is refused.
 * The objection is an independent flag: objection opens it, objection_withdraw closes it;
 * each opening and closing is a transition with its own audit entry (its history).
 * A re-sent row (cx_batch_put of an existing record) never changes the state: it keeps the
 * record's status and objection (counted in cx_batch_result.kept when the row's own differ),
 * except that a row whose status is `revoked` revokes (the authority withdrew the decision).
 */
typedef enum cx_event {
  CX_EV_REPAIR, CX_EV_REVOKE, CX_EV_REINSTATE, CX_EV_OBJECTION, CX_EV_OBJECTION_WITHDRAW,
  CX_EV_COUNT
} cx_event;
extern const char *const cx_event_names[CX_EV_COUNT]; /* "repair" ... "objection_withdraw" */

/**
 * The state machine itself (pure): the state after event ev on (status, objection).
 * 0 and the new state; 1 when ev changes nothing (repair of a repaired record, ...: the new
 * state is the old one); CX_EBADREQ with *why (static) for a transition that is not allowed.
 */
int cx_lifecycle_next(uint8_t status, uint8_t objection, int ev, uint8_t *nstatus,
                      uint8_t *nobjection, const char **why);

/**
 * Who writes a batch: the one place where write scopes are enforced, for every door.
 * Strings are copied.
 */
typedef struct cx_batch_actor {
  cx_str who, role, client;   /* audit fields of the batch's transitions (see cx_audit_entry) */
  int may_override;           /* may repair before the minimum display period (admin) */
  const char (*authorities)[CX_CODE_LEN + 1]; /* normalised codes it may write; NULL: any */
  uint32_t n_authorities;     /* 0 with authorities != NULL: none */
} cx_batch_actor;
#define CX_MAX_SCOPE 64
/**
 * Sets the batch's actor (before any put or transition). Without one the batch is unscoped
 * and its transitions are audited with empty who/role. CX_EBADREQ for more than CX_MAX_SCOPE
 * authorities.
 */
int cx_batch_set_actor(cx_batch *b, const cx_batch_actor *a);

/** Starts a batch (buffers in memory; nothing is written until commit). */
int cx_batch_begin(cx_store *st, cx_batch **out);
/**
 * Validates r against the codes, the catalogue and the dates, and buffers a copy. Every string
 * is checked first (cx_text_check: content, basis and extra CX_TEXT_FREE, record_id,
 * entity_name, authority_name, list_type and measures CX_TEXT_NAME): *why then says "record_id: invalid
 * UTF-8 at byte 5" from a per-thread buffer (valid until this thread's next cx_batch_put or
 * cx_batch_transition, cx_batch_abort included); other whys are static.
 * Upsert by (authority_code, record_id): a second record with the same key replaces the first.
 * The entity (code, name, kind) is upserted from the record. A record with no tier
 * (severity CX_SEV_UNSET) gets cx_catalog_tier(). On error returns CX_EBADREQ /
 * CX_EINVALCODE / CX_EDATE, or CX_EFORBIDDEN for an authority outside the actor's, with *why
 * naming the problem; the batch stays usable. At commit a replacement keeps the record's
 * lifecycle state (see cx_event) and may not move the record to another entity (CX_EBADREQ:
 * that is a revoke plus a new record).
 */
int cx_batch_put(cx_batch *b, const cx_record *r, const char **why);
/**
 * Buffers a lifecycle event on an existing record (cx_event), with its reason (required,
 * audited). override: repair before the minimum display period (needs an actor with
 * may_override; CX_EFORBIDDEN otherwise). At commit, in the batch's txn, the state machine
 * decides (cx_lifecycle_next); the commit fails with CX_EBADREQ for a transition it refuses,
 * for a repair of a record that is not 失信信息, and for a repair before the record's minimum
 * period (cx_catalog_repair_from; minor records excepted) without override; CX_ENOTFOUND when
 * the record does not exist. Each applied transition writes one audit entry
 * (op = the event name, target "authority/record_id", detail "old -> new: reason").
 * Put-time errors: CX_EINVALCODE, CX_EBADREQ (also for a record_id or a reason that fails
 * cx_text_check: CX_TEXT_NAME, CX_TEXT_FREE; *why as for cx_batch_put), CX_EFORBIDDEN (outside
 * the actor's authorities).
 */
int cx_batch_transition(cx_batch *b, cx_str authority_code, cx_str record_id, int ev,
                        int override, cx_str reason, const char **why);
/** Records in the batch so far. */
size_t cx_batch_size(const cx_batch *b);
/**
 * For imports that keep going past a bad row: a put that only the commit can refuse (a
 * replacement naming another entity) is then skipped instead of failing the whole batch, and
 * reported once the batch has committed: fn(ctx, put index (0-based, in cx_batch_put order;
 * for a key put twice, its last put), why). Without it such a put fails the commit
 * (CX_EBADREQ, res->bad_put), which is what a request that must land whole wants.
 */
typedef void (*cx_batch_refused_fn)(void *ctx, uint32_t put_index, const char *why);
void cx_batch_on_refused(cx_batch *b, cx_batch_refused_fn fn, void *ctx);
/**
 * Writes the whole batch in one write transaction: records, refs, entities, names, summaries of
 * every touched entity, rollups, counters. Grows the map and retries on MDB_MAP_FULL.
 * All or nothing. Frees b in every case. res may be NULL; on failure res->error says why.
 */
int cx_batch_commit(cx_batch *b, cx_batch_result *res);
void cx_batch_abort(cx_batch *b);

/* ---- replication (chengxind --log: docs/scaling.md) ----
 *
 * A replicated node does not commit its writers' batches itself: the server encodes a batch
 * (cx_batch_each), publishes it to the log, and every node, the writer included, rebuilds it
 * from the message (cx_batch_begin, cx_batch_set_clock, then the visitor's calls replayed in
 * order) and commits it with the message's sequence (cx_batch_set_log_seq). For every node to
 * reach the same content (cx_store_digest), everything that depends on the node is stamped
 * into the message: the day and time (cx_batch_set_clock), the actor and the audit entries.
 */

/**
 * Makes the batch run at (day, time_ms) instead of the clock: the receipt day of rows without
 * a report date, the day of the repair-period check and of last_update, the time of its audit
 * entries and of last_commit_s. Before any put or audit entry (CX_EBADREQ otherwise, or for
 * day CX_DAY_NONE / CX_DAY_OPEN, time_ms <= 0).
 */
int cx_batch_set_clock(cx_batch *b, cx_day day, int64_t time_ms);
/**
 * Makes the commit store seq as the store's log position (meta "log_seq") in the batch's own
 * write txn. The commit fails with CX_EEXIST (nothing written) when the store is at seq or
 * past it already: a message is applied once. CX_EBADREQ for seq 0.
 */
int cx_batch_set_log_seq(cx_batch *b, uint64_t seq);
/**
 * What a batch holds, as the calls that would build it again (a replay through cx_batch_put,
 * cx_batch_transition, cx_batch_audit and cx_batch_set_actor gives a batch that commits the
 * same way): the actor first (when one was set), then the audit entries in order, then per
 * record in the order it first appeared, its put (the record as it will be written: codes
 * normalised, derived severity and kind, defaults filled; a receipt day taken back out, so
 * that the replaying batch's clock gives it) and its transitions in order. Every pointer is
 * borrowed from the batch for the call. A callback's non-zero return stops and is returned;
 * CX_EBADREQ for a restore batch. NULL callbacks are skipped.
 */
typedef struct cx_audit_entry cx_audit_entry; /* below, "audit log" */
typedef struct cx_batch_visitor {
  int (*actor)(void *ctx, const cx_batch_actor *a);
  int (*audit)(void *ctx, const cx_audit_entry *e);
  int (*put)(void *ctx, const cx_record *r);
  int (*transition)(void *ctx, cx_str authority_code, cx_str record_id, int ev, int override,
                    cx_str reason);
} cx_batch_visitor;
int cx_batch_each(const cx_batch *b, const cx_batch_visitor *v, void *ctx);
/** The store's log position: the last replicated message applied, 0 when none (a store that
 *  never followed a log, or one that has applied nothing yet). */
int cx_store_log_seq(cx_store *st, uint64_t *seq);
/**
 * Moves the log position to seq in a write txn of its own: for a message whose batch every
 * node refuses alike (a deterministic refusal: bad request, not found), so it is not applied
 * again. CX_EEXIST when the store is at seq or past it; CX_EBADREQ for seq 0.
 */
int cx_store_set_log_seq(cx_store *st, uint64_t seq);
/** The longest stream name cx_store_set_log_stream takes. */
#define CX_LOG_STREAM_MAX 64u
/**
 * Marks the store as following stream name (meta "log_stream"), once: from then on every
 * write that does not carry a log sequence is refused (CX_EFORBIDDEN), at position 0 too.
 * 0 when the store is unmarked (it is marked now) or follows name already; CX_EEXIST (message:
 * cx_store_errmsg, naming the stream it follows) when it follows another stream; CX_EBADREQ
 * for an empty name or one over CX_LOG_STREAM_MAX bytes.
 */
int cx_store_set_log_stream(cx_store *st, const char *name);
/** The stream the store follows into out ("" when unmarked; truncated to cap). */
int cx_store_log_stream(cx_store *st, char *out, size_t cap);

/**
 * Replaces a data file ("catalog", "calendar", "regions", "regions_history") after validating
 * it, and rebuilds what depends on it (summaries for the catalogue, rollups for the calendar,
 * the regions DB from both region tables) in the same txn. CX_EBADREQ + *bad_line.
 */
int cx_store_data_put(cx_store *st, const char *name, const char *text, size_t n, int *bad_line);
/**
 * cx_store_data_put_audit on a given clock and, with log_seq != 0, as message log_seq of the
 * replicated log: the file, its audit entry (time now_ms) and the position land in one txn
 * (CX_EEXIST when the store is at log_seq or past it). today is the day the summaries are
 * rebuilt on. With log_seq 0, a store that follows a log refuses (CX_EFORBIDDEN).
 */
int cx_store_data_put_at(cx_store *st, const char *name, const char *text, size_t n, int *bad_line,
                         const cx_audit_entry *audit, cx_day today, int64_t now_ms, uint64_t log_seq);

/* ---- audit log ---- */

/**
 * One line of the append-only audit log (audit DB, docs/data-model.md): who did what, when.
 * Written by the store in the write txn of the change it records (cx_batch_audit,
 * cx_store_data_put_audit) or in a txn of its own (cx_store_audit_append: queries).
 * Never holds a token: `who` is a token's NAME from the token file, or "local:<user>" for the
 * CLI. Strings longer than the CX_AUDIT_*_MAX below are cut (at a UTF-8 character boundary)
 * rather than refused: an audit line is never the reason a write fails.
 * On write the strings are borrowed for the duration of the call; on read they point into the
 * map (valid until the txn is reset or ended).
 */
typedef struct cx_audit_entry {
  uint64_t seq;     /* read: 1, 2, 3 ... assigned by the store at commit (ignored on write) */
  int64_t time_ms;  /* unix time in ms; 0 on write = the commit's time */
  cx_str who;       /* token name, "local:<user>" */
  cx_str role;      /* role name (public approval analyst submitter admin local) */
  cx_str op;        /* ingest repair revoke objection entity records check import load-catalog ... */
  cx_str target;    /* entity code, or authority code + "/" + record_id; may be empty */
  cx_str detail;    /* short text: batch size, reason, action, category ... */
  cx_str client;    /* peer address of a server request ("127.0.0.1:50012"); may be empty */
} cx_audit_entry;
#define CX_AUDIT_WHO_MAX 128u
#define CX_AUDIT_ROLE_MAX 32u
#define CX_AUDIT_OP_MAX 32u
#define CX_AUDIT_TARGET_MAX 256u
#define CX_AUDIT_DETAIL_MAX 1024u
#define CX_AUDIT_CLIENT_MAX 128u

/**
 * Attaches an audit entry to a batch: it is written in the batch's write txn at commit, after
 * the entries attached before it, so the change and its audit line land together or not at
 * all. Strings are copied. An empty batch with entries commits only them. CX_ENOMEM.
 */
int cx_batch_audit(cx_batch *b, const cx_audit_entry *e);
/**
 * Appends n entries (in order, consecutive seqs) in one write txn of their own: the path of
 * audited reads, which have no write txn to ride on. Grows the map on MDB_MAP_FULL.
 * All or nothing. CX_EROFS on a read-only handle.
 */
int cx_store_audit_append(cx_store *st, const cx_audit_entry *e, size_t n);
/** cx_store_data_put that also writes audit entry e (may be NULL) in the same txn. */
int cx_store_data_put_audit(cx_store *st, const char *name, const char *text, size_t n,
                            int *bad_line, const cx_audit_entry *e);
/**
 * Iterates the audit log in seq order from seq from_seq (0 or 1 = the first), passing only
 * entries with since_ms <= time_ms < until_ms (0, 0 = no time bound; until_ms 0 = open end).
 * Times are those of the events: a query's entry is written up to a flush interval after it,
 * so times are not strictly increasing in seq order and a time filter reads the whole range.
 * fn returns 0 to go on, 1 to stop (returned as 0), or a negative error (returned).
 * CX_ECORRUPT for an entry that does not decode.
 */
typedef int (*cx_audit_fn)(void *ctx, const cx_audit_entry *e);
int cx_store_audit_each(cx_txn *t, uint64_t from_seq, int64_t since_ms, int64_t until_ms,
                        cx_audit_fn fn, void *ctx);
/** The seq of the last audit entry (0 when the log is empty). */
int cx_store_audit_last(cx_txn *t, uint64_t *seq);
/* ===================================================================== check log */

/*
 * The check log (docs/data-model.md "Check log and feedback"): one entry per entity a `check`
 * answered over the server (receipt, who asked, action, verdict, the entity), written by the
 * server's check-log writer in batches; feedback (联合奖惩 反馈) sets an entry's outcome. A
 * rollup keyed by (month, action, verdict, county, authority) counts checks and outcomes, so
 * aggregates over checks read cells, never the log. The receipt seq is epoch << 40 | counter:
 * each server start takes a new epoch (cx_store_checks_epoch), its loops share one counter.
 * Entries older than the retention are deleted (cx_store_checks_prune); the rollup keeps its
 * counts.
 */
typedef enum cx_outcome {
  CX_OUT_NONE, CX_OUT_RESTRICTED, CX_OUT_APPROVED_AFTER_REVIEW, CX_OUT_APPROVED, CX_OUT_COUNT
} cx_outcome;
extern const char *const cx_outcome_names[CX_OUT_COUNT]; /* "", "restricted", ... */
#define CX_CHECK_NOTE_MAX 1024u /* bytes of a feedback note */

typedef struct cx_check_entry {
  uint64_t receipt;           /* the receipt's seq (epoch << 40 | counter) */
  int64_t time_ms;            /* unix ms of the check */
  cx_day day;                 /* the Beijing day of the check (its month is the rollup's) */
  cx_str who;                 /* the approval token's name (never the token) */
  uint8_t action, verdict, kind, outcome; /* catalogue action index, cx_verdict, cx_kind, cx_outcome */
  uint16_t n_restrict, n_advisory;
  uint32_t region;            /* the entity's county code (0 unknown) */
  uint32_t authority_id;      /* authority of the first restricting hit (0: none) */
  char code[CX_CODE_LEN];     /* the stored code */
  int64_t fb_time_ms;         /* feedback: unix ms (0: none), who, note */
  cx_str fb_who, note;
} cx_check_entry;

/** Takes a new receipt epoch (meta "check_epoch" + 1, in its own write txn) into *epoch. */
int cx_store_checks_epoch(cx_store *st, uint32_t *epoch);
/** Appends n entries (their receipts unique) and counts them in the rollup, in one write txn. */
int cx_store_checks_append(cx_store *st, const cx_check_entry *e, size_t n);
/** The entry of receipt seq (strings point into the map). CX_ENOTFOUND (never written,
 *  pruned, or not flushed yet). */
int cx_store_check_get(cx_txn *t, uint64_t receipt, cx_check_entry *out);
/**
 * Sets the feedback of receipt's entry (a later feedback replaces an earlier one: the rollup
 * moves its count) and writes audit (may be NULL) in the same write txn. who: who reports
 * (must be the entry's who unless any_who). *out (may be NULL) receives the entry as it was
 * before, its strings copied nowhere: valid only for its scalar fields. CX_ENOTFOUND,
 * CX_EFORBIDDEN (another system's receipt), CX_EBADREQ (outcome, note over
 * CX_CHECK_NOTE_MAX).
 */
int cx_store_check_feedback(cx_store *st, uint64_t receipt, int outcome, cx_str who, int any_who,
                            cx_str note, int64_t now_ms, const cx_audit_entry *audit,
                            cx_check_entry *out);
/**
 * The replicated log's forms (net/replog.c, docs/scaling.md "Feedback and receipts"): each in
 * one write txn that also stores log_seq as the store's position (CX_EEXIST when the store is
 * at log_seq or past it).
 * cx_store_checks_epoch_at: the epoch message log_seq of node, claiming receipt epoch claim
 *   (1..2^24-1; *epoch = claim): meta "check_epoch" moves up to it and "epoch_node:<epoch>"
 *   names node, alike on every node (cx_store_receipt_node). CX_EBADREQ for claim 0 or past 24
 *   bits.
 * cx_store_check_feedback_at: writes audit (always: it is replicated content) and, when this
 *   store's check log holds receipt's entry, sets its feedback as cx_store_check_feedback does:
 *   *applied 1; 0 when the entry is not here (another node's check); -1 when it is another
 *   system's receipt (who differs and not any_who: the entry is left as it was). *out: the
 *   entry before (scalar fields; zero unless *applied is 1).
 */
int cx_store_checks_epoch_at(cx_store *st, uint64_t log_seq, uint32_t claim, const char *node, uint32_t *epoch);
/** The highest receipt epoch the store has given or seen (meta "check_epoch"; 0: none). */
int cx_store_checks_epoch_last(cx_store *st, uint32_t *epoch);
/** The node that issues the receipts of epoch (one taken from the log) into node; CX_ENOTFOUND
 *  for an epoch taken outside a log (a single node's). */
int cx_store_receipt_node(cx_store *st, uint32_t epoch, char *node, size_t cap);
int cx_store_check_feedback_at(cx_store *st, uint64_t receipt, int outcome, cx_str who, int any_who, cx_str note,
                               int64_t now_ms, const cx_audit_entry *audit, uint64_t log_seq, cx_check_entry *out,
                               int *applied);
/**
 * Deletes the entries checked before before_ms (unix ms), oldest first, in write txns of at
 * most 10,000 deletions; *n (may be NULL): how many. The rollup keeps its counts. audit (may
 * be NULL; the server's hourly prune passes none) is written in the first txn. A failure
 * leaves what earlier txns deleted deleted (*n counts them).
 */
int cx_store_checks_prune(cx_store *st, int64_t before_ms, const cx_audit_entry *audit, uint64_t *n);
/** Entries in the log now. */
int cx_store_checks_count(cx_txn *t, uint64_t *n);

typedef struct cx_check_cell {
  uint32_t month;             /* cx_day_month */
  uint8_t action, verdict;
  uint32_t region, authority_id;
  int64_t checks, restricted, approved_after_review, approved;
} cx_check_cell;
typedef int (*cx_check_cell_fn)(void *ctx, const cx_check_cell *c);
/** Calls fn for each rollup cell of months [month_from, month_to] (key order); a non-zero
 *  return stops and is returned. */
int cx_store_check_rollup_each(cx_txn *t, uint32_t month_from, uint32_t month_to,
                               cx_check_cell_fn fn, void *ctx);

/** The current unix time in milliseconds (the clock audit entries use). */
int64_t cx_audit_now_ms(void);

/* ---- export, restore and the content digest (digest.c, restore.c) ---- */
/*
 * `chengxin export` writes a store's logical content as JSON Lines and `chengxin restore`
 * builds a new store from it (docs/operations.md "Export, restore, move a store"). What is
 * logical content, and so in an export and in the digest: the data files; every record with
 * every stored field, its lifecycle state (status, objection) included; each entity's
 * last_update (the one summary field no record gives); each authority's name as the
 * authorities DB keeps it; the audit log, which is also where the store keeps a record's
 * lifecycle history (one entry per transition: op = the event, target "authority/record_id").
 * Not in it: what the store derives from that (summaries, names, grams, rollups, facts,
 * refs, the regions DB), the store-assigned ids (seq, entity and authority ids: a restore
 * assigns its own), the cursor salt (a restored store has a new one: cursors of the old store
 * do not work on it) and page layout.
 *
 * Caveats: the digest walks run in one read txn (a snapshot; writers do not wait). The
 * restore writes below are for an empty store being built by `chengxin restore` only.
 */
#define CX_DIGEST_LEN 32

/**
 * SHA-256 (OpenSSL libcrypto) of the logical content, fed in canonical order (digest.c says
 * the serialisation): data files by name, records by (authority code, record_id), entities by
 * code, authorities by code, audit entries by seq. Two stores with the same content have the
 * same digest whatever their history of pages, compactions and ids; a transition, a new audit
 * entry or a changed data file changes it. Reads the whole store (O(records)).
 */
int cx_store_digest(cx_store *st, unsigned char out[CX_DIGEST_LEN]);
/** cx_store_digest in the caller's read txn (the snapshot an export writes from). */
int cx_store_digest_txn(cx_txn *t, unsigned char out[CX_DIGEST_LEN]);
/**
 * The replicated digest: cx_store_digest's walk without the audit lines a node writes for
 * itself (cx_audit_is_node_local: query audits of persons, check-log pruning), which are not in
 * the replicated log. Nodes of one log at the same sequence have the same replicated digest
 * (docs/scaling.md); it never equals a content digest. The audit log itself keeps every line.
 */
int cx_store_digest_replicated(cx_store *st, unsigned char out[CX_DIGEST_LEN]);
/** 1 for the audit ops a node writes for itself: entity, records, check, search, prune-checks. */
int cx_audit_is_node_local(cx_str op);
/** Lower-case hex of a digest, NUL-terminated. */
void cx_digest_hex(const unsigned char dg[CX_DIGEST_LEN], char out[2 * CX_DIGEST_LEN + 1]);

/*
 * The digest accumulator cx_store_digest uses, for what is not in a store: an export digests
 * the lines it writes, a restore the lines it reads, with the same functions in the same
 * order (the sections in the order above; a partial export's subset in the same order), so
 * the trailer of a complete export equals the source store's digest and a restored store's
 * digest equals its export's trailer. Strings are borrowed for the call.
 */
typedef struct cx_digest cx_digest;
/** New accumulator (owned; free with cx_digest_final or cx_digest_free). CX_ENOMEM. */
int cx_digest_new(cx_digest **out);
void cx_digest_data(cx_digest *d, cx_str name, cx_str text);
/** Every field of r but seq, entity_id and authority_id (store-assigned). */
void cx_digest_record(cx_digest *d, const cx_record *r);
void cx_digest_entity(cx_digest *d, cx_str code, cx_day last_update);
void cx_digest_authority(cx_digest *d, cx_str code, cx_str name);
/** Every field of e but seq (its position in the log). */
void cx_digest_audit(cx_digest *d, const cx_audit_entry *e);
/** Writes the digest and frees d. CX_EINTERNAL when libcrypto failed along the way. */
int cx_digest_final(cx_digest *d, unsigned char out[CX_DIGEST_LEN]);
void cx_digest_free(cx_digest *d);

/** Data files in name order: fn(ctx, name, text) (pointers into the map) returns 0 to go on,
 *  1 to stop, < 0 to abort (returned). */
typedef int (*cx_data_fn)(void *ctx, cx_str name, cx_str text);
int cx_store_data_each(cx_txn *t, cx_data_fn fn, void *ctx);
/** Authorities in code order: fn(ctx, id, code, name) (into the map), return values as above. */
typedef int (*cx_authority_fn)(void *ctx, uint32_t id, cx_str code, cx_str name);
int cx_store_authorities_each(cx_txn *t, cx_authority_fn fn, void *ctx);
/** The records of authority id in record_id order (byte order), through the refs. */
int cx_store_authority_records_each(cx_txn *t, uint32_t authority_id, cx_record_fn fn, void *ctx);

/*
 * The restore path: writes a record with its stored state and history as they were, where
 * the ingest rules would change them. Only `chengxin restore` calls it, on a store it has just
 * created; nothing else may (a restore batch bypasses the lifecycle state machine).
 *
 * cx_batch_set_restore(b), before any put, makes b a restore batch. Its cx_batch_put checks
 * everything an ingest put checks (codes, strings, enums, dates, catalogue) but then keeps,
 * instead of deriving: status and objection (no lifecycle transition, no kept-state rule),
 * severity and entity_kind (both required: no tier derivation), report_date with
 * report_received (no receipt day: a row without a report date stays without one), and
 * report_delay, on_time, delay_provisional as given (checked for range: report_delay -1
 * exactly without a report date). A record given twice (in the batch: at the put; already in
 * the store: the commit fails with res->bad_put) is CX_EBADREQ; cx_batch_transition is
 * CX_EBADREQ. The batch writes no audit entry of its own.
 * The history (the audit log) goes back with cx_store_audit_append, each entry with its
 * original time_ms (non-zero: kept as given).
 */
int cx_batch_set_restore(cx_batch *b);
typedef struct cx_restore_entity {
  char code[CX_CODE_LEN];    /* normalised */
  cx_day last_update;
} cx_restore_entity;
/**
 * Sets the last_update of n restored entities (after their records: the summaries exist),
 * in one write txn. CX_ENOTFOUND (nothing written; cx_store_errmsg names the index) for an
 * entity without a record.
 */
int cx_store_restore_entities(cx_store *st, const cx_restore_entity *e, size_t n);
typedef struct cx_restore_authority {
  cx_str code, name;         /* borrowed for the call */
} cx_restore_authority;
/**
 * Sets the names of n restored authorities (the authorities DB keeps one name per authority:
 * the last one written, which a restore's batches would otherwise decide), in one write txn.
 * CX_ENOTFOUND for an authority without a record, CX_EBADREQ for a name that is not a name
 * (CX_TEXT_NAME, at most 512 bytes); nothing is written then.
 */
int cx_store_restore_authorities(cx_store *st, const cx_restore_authority *a, size_t n);

/* ---- verify ---- */

/**
 * Recomputes every summary and every rollup cell from the records and compares them with what
 * is stored. fn (may be NULL) is called with a description of each difference.
 * Returns the number of differences (>= 0) or a negative error.
 */
typedef void (*cx_verify_fn)(void *ctx, const char *what);
long cx_store_verify(cx_store *st, cx_verify_fn fn, void *ctx);

/* ---- test hooks ---- */

/** Test-only: overwrites the stored summary value of code with raw bytes (to corrupt it). */
int cx_store_debug_put_summary(cx_store *st, const char code[CX_CODE_LEN], const void *v, size_t n);
/** Test-only: fail the next batch commit after k record writes (0 = off) with CX_EIO. */
void cx_store_debug_fail_after(cx_store *st, unsigned k);
/** Test-only: writes schema version v into meta (the next open sees it). */
int cx_store_debug_set_schema(cx_store *st, uint32_t v);
/**
 * Test-only: rewrites the store in schema 3's layout (no keyword index, records without the
 * provisional mark, 40-byte rollup cells, schema 3 in meta), as the previous release wrote it,
 * to test the migration. The handle must be closed after it.
 */
int cx_store_debug_make_schema3(cx_store *st);
/** Test hook: rewrites the store as schema 4 wrote it (the authority cube without kind). */
int cx_store_debug_make_schema4(cx_store *st);
/** Test hook: stores hint h for entity eid (h->known is not stored: any written hint is). */
int cx_store_debug_set_hint(cx_store *st, uint32_t eid, const cx_entity_hint *h);
/** Test-only: the number of values a batch needs to train the store's first record
 *  dictionary (default CX_ZDICT_TRAIN_MIN in store_int.h: 2000). */
void cx_store_debug_zdict_min(cx_store *st, uint32_t n);
/**
 * Test-only: trains a new record dictionary on (up to 20,000 of) the store's records and makes
 * it the one new values are packed with; values already written keep theirs. CX_ENOTFOUND
 * when the records teach nothing.
 */
int cx_store_debug_zdict_retrain(cx_store *st);
/** Test-only: the stored bytes of record k (copied into buf, at most cap; *n: the length).
 *  CX_ENOTFOUND. */
int cx_store_debug_record_value(cx_store *st, const cx_reckey *k, void *buf, size_t cap, size_t *n);
/** Test-only: the check log's keys (a block of entries is one: cx_store_checks_count gives
 *  the entries). */
int cx_store_debug_checks_keys(cx_store *st, uint64_t *keys);
/** Test-only: overwrites the stored bytes of record k (to corrupt it). */
int cx_store_debug_put_record(cx_store *st, const cx_reckey *k, const void *v, size_t n);
/** Test hook: rewrites the store as schema 5 wrote it: rollup cells of six i64 (48 bytes),
 *  entities values without hints, schema 5 (its record values must all be version 1, as a
 *  schema-5 build wrote them: stores under CX_ZDICT_TRAIN_MIN records in a batch). */
int cx_store_debug_make_schema5(cx_store *st);
/** Test-only: empties the facts DB, as in a store written before it existed. */
int cx_store_debug_drop_facts(cx_store *st);
/** Test and bench only: deletes (gram, entity_id) from the keyword index, or with gram.n == 0
 *  empties it (bench/search measures the index's bytes by compacting with and without it). */
int cx_store_debug_del_gram(cx_store *st, cx_str gram, uint32_t entity_id);

#endif
