/*
 * search.c — keyword search: entities by exact name, name prefix, code prefix, then any part
 * of the name (the store's keyword index), paged by cursor, bounded per call (query.h).
 *
 * Each entity belongs to one phase only, decided by the entity alone (not by what a page
 * showed): the code phase skips name-prefix matches, the contains phase skips name-prefix and
 * code-prefix matches. So pages need no table of codes seen, and a cursor is just a position.
 */
#include "query_int.h"

const char *const cx_match_names[CX_MATCH_COUNT] = {"exact", "prefix", "code", "contains"};
const char *const cx_entity_flag_names[CX_EF_COUNT] = {"blacklisted", "under_measures", "redlisted",
                                                        "objection"};

enum { PH_NAMES = 1, PH_CODES = 2, PH_CONTAINS = 3, PH_END = 4 };

/*
 * Cursor: lower-case hex of
 *   0  1  version (CURSOR_VERSION)
 *   1  1  phase (PH_*)
 *   2  1  flags: bit 0 a position in the phase (else its start), bit 1 suffix truncated
 *   3  1  suffix length (names phase: 0..CURSOR_SUFFIX)
 *   4 18  code of the last entry visited (names, codes); contains: its entity id (u32 BE)
 *  22  n  names phase: the last entry's normalised name after the query (at most CURSOR_SUFFIX
 *         bytes: a longer one resumes at that prefix and skips to the code)
 *      8  SipHash-2-4 under the store salt of the bytes above and the normalised query
 */
#define CURSOR_VERSION 1u
#define CURSOR_HDR 22u
#define CURSOR_SUFFIX 64u
#define CURSOR_BYTES_MAX (CURSOR_HDR + CURSOR_SUFFIX + 8u)
_Static_assert(2 * CURSOR_BYTES_MAX + 1 <= CX_SEARCH_CURSOR_MAX, "cursor fits");

#define QUERY_MAX 256 /* bytes of a normalised query */

typedef struct pos {
  int phase, has;
  char code[CX_CODE_LEN];
  uint32_t eid;
  unsigned char suffix[CURSOR_SUFFIX];
  uint32_t suffix_n;
  int trunc;
} pos;

typedef struct search_ctx {
  const cx_query *q;
  cx_txn *t;
  cx_role role;
  cx_day today;
  const char *norm;
  uint32_t nn;
  const char *up;
  uint32_t un;
  int code_ok;
  uint32_t limit, n, budget, visits;
  int stop;         /* the page is full (or fn ended it): the cursor is at the last hit */
  int out;          /* the budget is spent: the cursor is at the last entry visited */
  int resuming;     /* skipping up to the cursor's entry (names, codes) */
  pos at;           /* where the next page resumes */
  cx_search_fn fn;
  void *ctx;
  int err;
  char nbuf[QUERY_MAX + 4]; /* a candidate's normalised name */
} search_ctx;

static int starts_with(const char *s, size_t n, const char *p, size_t pn) {
  return n >= pn && memcmp(s, p, pn) == 0;
}

/* Whether the entity with normalised name nm and code belongs to an earlier phase than ph. */
static int earlier_phase(const search_ctx *c, int ph, const char *nm, size_t nmn, cx_str code) {
  if (c->nn && starts_with(nm, nmn, c->norm, c->nn)) return 1; /* exact or prefix */
  if (ph == PH_CONTAINS && c->code_ok && starts_with(code.p, code.n, c->up, c->un)) return 1;
  return 0;
}

/* Offers entity s as a hit of kind match. Returns 1 when the page ends (full, fn > 0, error). */
static int offer(search_ctx *c, const cx_summary *s, uint8_t match) {
  if (c->role == CX_ROLE_PUBLIC && cx__query_kind_is_person(s->kind)) return 0;
  cx_entity_status es;
  int rc = cx__query_entity_of(c->q, c->t, c->role, s, c->today, &es);
  if (rc == CX_ENOTFOUND) return 0; /* the public sees none of its records */
  if (rc < 0) {
    c->err = rc;
    return 1;
  }
  char buf[CX_CODE_TEXT_MAX];
  cx_search_hit h;
  memset(&h, 0, sizeof h);
  /* A list of names is not a lookup of one: ID numbers are masked for every role but admin. */
  h.code = cx__query_shown_code(s->code, c->role != CX_ROLE_ADMIN &&
                                             cx__query_code_is_idcard(s->code.p, s->code.n, s->kind),
                                buf);
  h.name = s->name;
  h.kind = s->kind;
  h.stored_code = s->code;
  h.match = match;
  h.region = es.region;
  h.province = es.province;
  h.city = es.city;
  h.county = es.county;
  h.flags = es.flags;
  c->n++;
  rc = c->fn ? c->fn(c->ctx, &h) : 0;
  if (rc < 0) {
    c->err = rc;
    return 1;
  }
  if (rc > 0 || c->n >= c->limit) {
    c->stop = 1;
    return 1;
  }
  return 0;
}

/* One more index entry visited; 1 (and c->out) when the budget is spent before it. */
static int visit(search_ctx *c) {
  if (c->visits >= c->budget) {
    c->out = 1;
    return 1;
  }
  c->visits++;
  return 0;
}

/* ------------------------------------------------------------------ names phase */

static int names_cb(void *vctx, cx_str code, cx_str nm) {
  search_ctx *c = vctx;
  if (code.n != CX_CODE_LEN || nm.n < c->nn) return 0;
  cx_str suffix = {nm.p + c->nn, nm.n - c->nn};
  /* Skipping to the cursor's entry is not counted: a page that spent its budget there would
   * leave the cursor where it was, and the next page would do the same. The skip is over
   * names sharing the query and the cursor's 64 bytes after it (a handful at most). */
  if (c->resuming) {
    pos *a = &c->at;
    if (!a->trunc) { /* we started at the cursor's key itself, or just past it */
      c->resuming = 0;
      if (suffix.n == a->suffix_n && memcmp(suffix.p, a->suffix, a->suffix_n) == 0 &&
          memcmp(code.p, a->code, CX_CODE_LEN) == 0)
        return 0;
    } else if (starts_with(suffix.p, suffix.n, (const char *)a->suffix, a->suffix_n)) {
      /* a long name: entries up to the cursor's code were visited by the previous page */
      if (memcmp(code.p, a->code, CX_CODE_LEN) == 0) c->resuming = 0;
      return 0;
    } else {
      c->resuming = 0;
    }
  }
  if (visit(c)) return 1;
  pos *a = &c->at;
  a->has = 1;
  memcpy(a->code, code.p, CX_CODE_LEN);
  a->trunc = suffix.n > CURSOR_SUFFIX;
  a->suffix_n = a->trunc ? CURSOR_SUFFIX : suffix.n;
  memcpy(a->suffix, suffix.p, a->suffix_n);
  cx_summary s;
  int rc = cx_store_summary_get(c->t, code.p, &s);
  if (rc == CX_ENOTFOUND) return 0;
  if (rc < 0) {
    c->err = rc;
    return 1;
  }
  return offer(c, &s, suffix.n == 0 ? CX_MATCH_EXACT : CX_MATCH_PREFIX);
}

static int run_names(search_ctx *c) {
  unsigned char from[QUERY_MAX + CURSOR_SUFFIX + 1 + CX_CODE_LEN];
  size_t fn_ = 0;
  c->resuming = 0;
  if (c->at.has) {
    memcpy(from, c->norm, c->nn);
    memcpy(from + c->nn, c->at.suffix, c->at.suffix_n);
    fn_ = c->nn + c->at.suffix_n;
    if (!c->at.trunc) {
      from[fn_++] = 0;
      memcpy(from + fn_, c->at.code, CX_CODE_LEN);
      fn_ += CX_CODE_LEN;
    }
    c->resuming = 1;
  }
  return cx_store_names_each_from(c->t, (cx_str){c->norm, c->nn},
                                  (cx_str){(const char *)from, (uint32_t)fn_}, names_cb, c);
}

/* ------------------------------------------------------------------ codes phase */

static int codes_cb(void *vctx, cx_str code, cx_str unused) {
  (void)unused;
  search_ctx *c = vctx;
  if (code.n != CX_CODE_LEN) return 0;
  if (c->resuming) { /* the cursor's own entry: not counted (see names_cb) */
    c->resuming = 0;
    if (memcmp(code.p, c->at.code, CX_CODE_LEN) == 0) return 0;
  }
  if (visit(c)) return 1;
  c->at.has = 1;
  memcpy(c->at.code, code.p, CX_CODE_LEN);
  cx_summary s;
  int rc = cx_store_summary_get(c->t, code.p, &s);
  if (rc == CX_ENOTFOUND) return 0;
  if (rc < 0) {
    c->err = rc;
    return 1;
  }
  size_t nmn = cx_name_normalize(s.name.p, s.name.n, c->nbuf, sizeof c->nbuf);
  if (earlier_phase(c, PH_CODES, c->nbuf, nmn, s.code)) return 0;
  return offer(c, &s, CX_MATCH_CODE);
}

static int run_codes(search_ctx *c) {
  c->resuming = c->at.has;
  cx_str from = c->at.has ? (cx_str){c->at.code, CX_CODE_LEN} : (cx_str){"", 0};
  return cx_store_codes_each_from(c->t, (cx_str){c->up, c->un}, from, codes_cb, c);
}

/* ------------------------------------------------------------------ contains phase */

static int contains_cb(void *vctx, uint32_t eid) {
  search_ctx *c = vctx;
  cx_str code;
  cx_entity_hint hint;
  int rc = cx_store_entity_get(c->t, eid, &code, &hint);
  if (rc == CX_ENOTFOUND) return 0;
  if (rc < 0) {
    c->err = rc;
    return -1;
  }
  /* The public: a person is never a hit (offer), nor an entity none of whose records is
   * displayable today or later (its hint's last day is the display rule's, cx_entity_hint):
   * both are passed over without reading the summary. */
  if (c->role == CX_ROLE_PUBLIC && hint.known &&
      (cx__query_kind_is_person(hint.kind) ||
       (hint.public_end != CX_DAY_OPEN && c->today >= hint.public_end)))
    return 0;
  cx_summary s;
  rc = cx_store_summary_get(c->t, code.p, &s);
  if (rc == CX_ENOTFOUND) return 0;
  if (rc < 0) {
    c->err = rc;
    return -1;
  }
  /* Every bigram of the query is in the name; the query itself need not be (a bigram list
   * does not say where): check. */
  size_t nmn = cx_name_normalize(s.name.p, s.name.n, c->nbuf, sizeof c->nbuf);
  if (!memmem(c->nbuf, nmn, c->norm, c->nn)) return 0;
  if (earlier_phase(c, PH_CONTAINS, c->nbuf, nmn, s.code)) return 0;
  return offer(c, &s, CX_MATCH_CONTAINS) ? (c->err ? -1 : 1) : 0;
}

typedef struct gram_n {
  cx_str g;
  uint64_t n;
} gram_n;

static int run_contains(search_ctx *c) {
  cx_str g[QUERY_MAX];
  size_t ng = cx_name_grams(c->norm, c->nn, g, QUERY_MAX);
  if (ng == 0) return 0; /* one character: no part of a name to look for */
  /* The lists by length, shortest first: the walk follows the first, the others are probed. */
  gram_n by[QUERY_MAX];
  for (size_t i = 0; i < ng; i++) {
    by[i].g = g[i];
    int rc = cx_store_gram_count(c->t, g[i], &by[i].n);
    if (rc < 0) return rc;
    if (by[i].n == 0) return 0; /* a bigram no name has: no name holds the query */
    for (size_t j = i; j > 0 && by[j].n < by[j - 1].n; j--) {
      gram_n tmp = by[j];
      by[j] = by[j - 1];
      by[j - 1] = tmp;
    }
  }
  uint32_t use = ng < CX_GRAMS_AND_MAX ? (uint32_t)ng : CX_GRAMS_AND_MAX;
  cx_str pick[CX_GRAMS_AND_MAX];
  for (uint32_t i = 0; i < use; i++) pick[i] = by[i].g;
  if (c->visits >= c->budget) {
    c->out = 1;
    return 0;
  }
  cx_gram_walk w;
  int rc = cx_store_grams_each(c->t, pick, use, c->at.has ? c->at.eid : 0, c->budget - c->visits, &w,
                               contains_cb, c);
  c->visits += w.visited;
  if (c->err) return c->err;
  if (rc < 0) return rc;
  if (!w.done && !c->stop) c->out = 1;
  if (w.last) {
    c->at.has = 1;
    c->at.eid = w.last;
  }
  return 0;
}

/* ------------------------------------------------------------------ cursors */

static uint64_t cursor_mac(const search_ctx *c, const unsigned char *b, size_t n) {
  unsigned char buf[CURSOR_BYTES_MAX + QUERY_MAX];
  memcpy(buf, b, n);
  memcpy(buf + n, c->norm, c->nn);
  return cx__query_siphash(c->q->k0, c->q->k1, buf, n + c->nn);
}

static size_t cursor_body(const search_ctx *c, unsigned char *b) {
  const pos *a = &c->at;
  memset(b, 0, CURSOR_HDR);
  b[0] = CURSOR_VERSION;
  b[1] = (unsigned char)a->phase;
  b[2] = (unsigned char)((a->has ? 1 : 0) | (a->trunc ? 2 : 0));
  size_t n = CURSOR_HDR;
  if (a->phase == PH_CONTAINS) {
    b[4] = (unsigned char)(a->eid >> 24);
    b[5] = (unsigned char)(a->eid >> 16);
    b[6] = (unsigned char)(a->eid >> 8);
    b[7] = (unsigned char)a->eid;
  } else if (a->has) {
    memcpy(b + 4, a->code, CX_CODE_LEN);
  }
  if (a->phase == PH_NAMES && a->has) {
    b[3] = (unsigned char)a->suffix_n;
    memcpy(b + n, a->suffix, a->suffix_n);
    n += a->suffix_n;
  }
  return n;
}

static void cursor_encode(const search_ctx *c, char out[CX_SEARCH_CURSOR_MAX]) {
  unsigned char b[CURSOR_BYTES_MAX];
  size_t n = cursor_body(c, b);
  uint64_t mac = cursor_mac(c, b, n);
  for (int i = 0; i < 8; i++) b[n + (size_t)i] = (unsigned char)(mac >> (8 * i));
  n += 8;
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++) {
    out[2 * i] = hex[b[i] >> 4];
    out[2 * i + 1] = hex[b[i] & 15];
  }
  out[2 * n] = 0;
}

static int hexval(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  return -1;
}

/* Parses and authenticates cursor s into c->at. CX_EBADREQ for anything but one of ours. */
static int cursor_decode(search_ctx *c, cx_str s) {
  if (!s.p || s.n % 2 || s.n < 2 * (CURSOR_HDR + 8) || s.n > 2 * CURSOR_BYTES_MAX) return CX_EBADREQ;
  unsigned char b[CURSOR_BYTES_MAX];
  size_t n = s.n / 2;
  for (size_t i = 0; i < n; i++) {
    int hi = hexval(s.p[2 * i]), lo = hexval(s.p[2 * i + 1]);
    if (hi < 0 || lo < 0) return CX_EBADREQ;
    b[i] = (unsigned char)(hi << 4 | lo);
  }
  size_t body = n - 8;
  uint64_t mac = cursor_mac(c, b, body), got = 0;
  for (int i = 7; i >= 0; i--) got = got << 8 | b[body + (size_t)i];
  if (mac != got || b[0] != CURSOR_VERSION) return CX_EBADREQ;
  pos a;
  memset(&a, 0, sizeof a);
  a.phase = b[1];
  a.has = b[2] & 1;
  a.trunc = (b[2] & 2) != 0;
  a.suffix_n = b[3];
  if (a.phase < PH_NAMES || a.phase > PH_END || (b[2] & ~3u) || a.suffix_n > CURSOR_SUFFIX ||
      body != CURSOR_HDR + (a.phase == PH_NAMES ? a.suffix_n : 0))
    return CX_EBADREQ;
  if (a.phase == PH_CONTAINS)
    a.eid = (uint32_t)b[4] << 24 | (uint32_t)b[5] << 16 | (uint32_t)b[6] << 8 | b[7];
  else
    memcpy(a.code, b + 4, CX_CODE_LEN);
  memcpy(a.suffix, b + CURSOR_HDR, a.suffix_n);
  c->at = a;
  return 0;
}

/* ------------------------------------------------------------------ the call */

int cx_query_search_page(const cx_query *q, cx_txn *t, const cx_search_req *req, cx_search_fn fn,
                         void *ctx, char next[CX_SEARCH_CURSOR_MAX]) {
  if (!q || !t || !req || (unsigned)req->role >= CX_ROLE_COUNT || req->limit > CX_SEARCH_MAX_LIMIT)
    return CX_EBADREQ;
  cx_str prefix = req->q;
  if (!prefix.p && prefix.n) return CX_EBADREQ;
  char norm[QUERY_MAX];
  size_t nn = cx_name_normalize(prefix.p ? prefix.p : "", prefix.n, norm, sizeof norm);

  /* Code prefix: trimmed, upper-cased; only when it looks like the start of a code. */
  char up[CX_CODE_LEN + 1];
  size_t un = 0;
  int code_ok = 1;
  const char *p = prefix.p;
  uint32_t b = 0, e = prefix.n;
  while (b < e && (p[b] == ' ' || p[b] == '\t' || p[b] == '\n' || p[b] == '\r')) b++;
  while (e > b && (p[e - 1] == ' ' || p[e - 1] == '\t' || p[e - 1] == '\n' || p[e - 1] == '\r')) e--;
  if (e - b == 0 || e - b > CX_CODE_LEN) code_ok = 0;
  for (uint32_t i = b; code_ok && i < e; i++) {
    char ch = p[i];
    if (ch >= 'a' && ch <= 'z') ch = (char)(ch - 'a' + 'A');
    if (!((ch >= '0' && ch <= '9') || (ch >= 'A' && ch <= 'Z'))) code_ok = 0;
    up[un++] = ch;
  }
  if (!nn && !code_ok) return CX_EBADREQ;

  search_ctx *c = &(search_ctx){0};
  c->q = q;
  c->t = t;
  c->role = req->role;
  c->today = cx_day_today();
  c->norm = norm;
  c->nn = (uint32_t)nn;
  c->up = up;
  c->un = (uint32_t)un;
  c->code_ok = code_ok;
  c->limit = req->limit ? req->limit : CX_SEARCH_DEFAULT_LIMIT;
  c->budget = req->budget && req->budget < CX_SEARCH_VISIT_MAX ? req->budget : CX_SEARCH_VISIT_MAX;
  c->fn = fn;
  c->ctx = ctx;
  c->at.phase = PH_NAMES;
  int rc;
  if (req->cursor.n && (rc = cursor_decode(c, req->cursor)) < 0) return rc;

  while (c->at.phase != PH_END && !c->stop && !c->out) {
    rc = 0;
    if (c->at.phase == PH_NAMES && nn) rc = run_names(c);
    else if (c->at.phase == PH_CODES && code_ok) rc = run_codes(c);
    else if (c->at.phase == PH_CONTAINS && nn) rc = run_contains(c);
    if (c->err) return c->err;
    if (rc < 0) return rc;
    if (c->stop || c->out) break;
    int ph = c->at.phase;
    memset(&c->at, 0, sizeof c->at); /* this phase is done: the next one from its start */
    c->at.phase = ph + 1;
  }
  if (next) {
    if (c->at.phase == PH_END) next[0] = 0;
    else cursor_encode(c, next);
  }
  return 0;
}

int cx_query_search(const cx_query *q, cx_txn *t, cx_role role, cx_str prefix, uint32_t limit,
                    cx_search_fn fn, void *ctx) {
  cx_search_req r = {prefix, {"", 0}, limit, role, 0};
  return cx_query_search_page(q, t, &r, fn, ctx, NULL);
}
