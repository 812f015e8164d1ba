/*
 * util.c — the op table's derived arrays, limits, token file, latency histograms, log lines.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "net_int.h"
#include "query.h"

/* ===================================================================== ops and roles */

const cx_op_info cx_ops[CX_OP_COUNT] = {
#define CX_OP_INFO_(e, name, h, roles, slow, http, doc) [CX_OP_##e] = {#name, roles, slow, http, doc},
    CX_OP_TABLE(CX_OP_INFO_)
#undef CX_OP_INFO_
};

const char *const cx_op_names[CX_OP_COUNT] = {
#define CX_OP_NAME_(e, name, h, roles, slow, http, doc) [CX_OP_##e] = #name,
    CX_OP_TABLE(CX_OP_NAME_)
#undef CX_OP_NAME_
};

const cx_answer_field cx_record_answer_fields[CX_RA_COUNT] = {
#define CX_RA_INFO_(id, name, type) [CX_RA_##id] = {#name, CX_AT_##type},
    CX_RECORD_ANSWER(CX_RA_INFO_)
#undef CX_RA_INFO_
};

int cx_op_parse(cx_str name) {
  for (int i = 0; i < CX_OP_COUNT; i++)
    if (cx_str_eq(name, cx_str_c(cx_op_names[i]))) return i;
  return CX_EUNKNOWNOP;
}

int cx_op_allowed(int role, int op) {
  if (role < 0 || role >= CX_ROLE_COUNT || op < 0 || op >= CX_OP_COUNT) return 0;
  return (cx_ops[op].roles >> role) & 1u;
}

int cx_op_is_slow(int op) { return op >= 0 && op < CX_OP_COUNT && cx_ops[op].slow; }

void cx_exec_limits_default(cx_exec_limits *l) {
  l->check_codes = CX_NET_MAX_CHECK_CODES;
  l->check_hits = CX_NET_MAX_CHECK_HITS;
  l->agg_groups = CX_NET_AGG_MAX_GROUPS;
  l->agg_answer = CX_NET_AGG_MAX_ANSWER;
  l->agg_time_ms = CX_NET_AGG_TIME_MS;
  l->ingest_records = CX_NET_MAX_INGEST_RECORDS;
}

int cx_exec_http_status(int err) {
  if (!err) return 200;
  static const struct { const char *name; int status; } map[] = {
      {"bad_frame", 400}, {"bad_request", 400}, {"invalid_code", 400}, {"not_found", 404},
      {"unknown_op", 404}, {"forbidden", 403},  {"too_large", 413},    {"busy", 429},
      {"timeout", 503},   {"read_only", 503},   {"no_space", 503},     {"internal", 500}};
  const char *n = cx_err_name(err);
  for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
    if (strcmp(n, map[i].name) == 0) return map[i].status;
  return 500;
}

/* ===================================================================== tokens */

static int role_parse(cx_str s) {
  static const char *const names[CX_ROLE_COUNT] = {"public", "approval", "analyst", "submitter",
                                                   "admin"};
  for (int i = 0; i < CX_ROLE_COUNT; i++)
    if (cx_str_eq(s, cx_str_c(names[i]))) return i;
  return CX_EBADREQ;
}

static int is_space(char c) { return c == ' ' || c == '\t' || c == '\r'; }

/* Next whitespace-separated word of [*p, end). */
static cx_str next_word(const char **p, const char *end) {
  const char *s = *p;
  while (s < end && is_space(*s)) s++;
  const char *e = s;
  while (e < end && !is_space(*e)) e++;
  *p = e;
  return (cx_str){s, (uint32_t)(e - s)};
}

#define AUTH_WORD "authorities="
#define AUTH_WORD_LEN (sizeof AUTH_WORD - 1)

/* Appends [p, p + n) to the name (and one space first when it is not empty), cut at a UTF-8
 * character boundary so that a long name never ends in half a character. */
static void name_append(char name[CX_TOKEN_NAME_MAX], const char *p, size_t n) {
  size_t have = strlen(name);
  if (n == 0) return;
  if (have) {
    if (have + 1 >= CX_TOKEN_NAME_MAX) return;
    name[have++] = ' ';
  }
  if (have + n >= CX_TOKEN_NAME_MAX) {
    n = CX_TOKEN_NAME_MAX - 1 - have;
    while (n > 0 && ((unsigned char)p[n] & 0xC0) == 0x80) n--;
  }
  memcpy(name + have, p, n);
  name[have + n] = 0;
}

/* 1 when the token's bytes occur in s or s's in the token: such text is never printed. */
static int shows_token(cx_str tok, cx_str s) {
  if (!tok.n || !s.n) return 0;
  return memmem(s.p, s.n, tok.p, tok.n) || memmem(tok.p, tok.n, s.p, s.n);
}

/* Parses the list of "authorities=CODE[,CODE...]" (list: after the '=') into e. */
static int authorities_parse(cx_str list, cx_str tok, cx_token *e, char *why, size_t cap) {
  const char *p = list.p, *end = list.p + list.n;
  if (list.n == 0) {
    snprintf(why, cap, "authorities=: empty list (expected authorities=CODE[,CODE...])");
    return CX_EBADREQ;
  }
  for (uint32_t i = 0;; i++) {
    const char *comma = memchr(p, ',', (size_t)(end - p));
    const char *ce = comma ? comma : end;
    cx_str code = {p, (uint32_t)(ce - p)};
    if (code.n == 0) {
      snprintf(why, cap, "authorities=: code %u is empty (a doubled or trailing comma)", i + 1);
      return CX_EBADREQ;
    }
    if (e->n_authorities == CX_TOKEN_MAX_AUTHORITIES) {
      snprintf(why, cap, "authorities=: more than %u codes", CX_TOKEN_MAX_AUTHORITIES);
      return CX_EBADREQ;
    }
    char *out = e->authorities[e->n_authorities];
    int rc = cx_uscc_normalize(code.p, code.n, out);
    if (rc) {
      if (shows_token(tok, code) || code.n > 64)
        snprintf(why, cap, "authorities=: code %u is not a valid USCC (%s)", i + 1, cx_strerror(rc));
      else
        snprintf(why, cap, "authorities=: bad USCC \"%.*s\" (%s)", (int)code.n, code.p,
                 cx_strerror(rc));
      return CX_EBADREQ;
    }
    for (uint32_t j = 0; j < e->n_authorities; j++)
      if (memcmp(e->authorities[j], out, CX_CODE_LEN) == 0) {
        snprintf(why, cap, "authorities=: %s listed twice", out);
        memset(out, 0, CX_CODE_LEN + 1);
        return CX_EBADREQ;
      }
    e->n_authorities++;
    if (!comma) return 0;
    p = comma + 1;
  }
}

/* Parses one non-comment line (its first word tok already read, q after it) into e. */
static int token_line_parse(cx_str tok, const char *q, const char *le, cx_token *e, char *why,
                            size_t cap) {
  /* A token is what an operator pastes: printable ASCII. A no-break space or an ideographic
   * space glued to it, or a stray byte, would make a token nobody can send. */
  for (uint32_t i = 0; i < tok.n; i++)
    if ((unsigned char)tok.p[i] < 0x21 || (unsigned char)tok.p[i] > 0x7e) {
      snprintf(why, cap, "the token holds a byte that is not printable ASCII (byte %u of the token)", i);
      return CX_EBADREQ;
    }
  cx_str role = next_word(&q, le);
  int r = role_parse(role);
  /* The role word is not printed: a line with its words swapped would show its token. */
  if (r < 0) {
    snprintf(why, cap, "expected \"token role [authorities=CODE[,CODE...]] [name]\" with role "
                       "one of public approval analyst submitter admin");
    return CX_EBADREQ;
  }
  if (tok.n >= CX_TOKEN_MAX) {
    snprintf(why, cap, "token longer than %u bytes", CX_TOKEN_MAX - 1);
    return CX_EBADREQ;
  }
  if (tok.n < CX_TOKEN_MIN) {
    snprintf(why, cap, "token shorter than %u bytes (make one with: head -c 24 /dev/urandom | base64)",
             CX_TOKEN_MIN);
    return CX_EBADREQ;
  }
  memset(e, 0, sizeof *e);
  memcpy(e->token, tok.p, tok.n);
  e->len = tok.n;
  e->role = r;
  /* The name is the rest of the line, its inner spacing kept, less the authorities= word. */
  int seen = 0;
  const char *ns = NULL, *ne = NULL; /* the current run of name words */
  for (;;) {
    cx_str w = next_word(&q, le);
    if (w.n == 0) break;
    if (w.n >= AUTH_WORD_LEN && memcmp(w.p, AUTH_WORD, AUTH_WORD_LEN) == 0) {
      if (seen++) {
        snprintf(why, cap, "authorities= given twice");
        return CX_EBADREQ;
      }
      if (r != CX_ROLE_SUBMITTER) {
        snprintf(why, cap, "authorities= is only for submitter tokens (admin writes for every "
                           "authority; the other roles do not write)");
        return CX_EBADREQ;
      }
      int rc = authorities_parse((cx_str){w.p + AUTH_WORD_LEN, w.n - (uint32_t)AUTH_WORD_LEN},
                                 tok, e, why, cap);
      if (rc) return rc;
      if (ns) name_append(e->name, ns, (size_t)(ne - ns));
      ns = ne = NULL;
      continue;
    }
    if (!ns) ns = w.p;
    ne = w.p + w.n;
  }
  if (ns) name_append(e->name, ns, (size_t)(ne - ns));
  /* The name is the audit log's who: one line of text (a TAB inside it is an oddity too). */
  cx_text_fault f;
  if (cx_text_check(e->name, strlen(e->name), CX_TEXT_NAME, &f)) {
    cx_text_fault_format(&f, "name", why, cap);
    return CX_EBADREQ;
  }
  if (r == CX_ROLE_SUBMITTER && !seen) {
    snprintf(why, cap, "submitter tokens need authorities=CODE[,CODE...] (the authorities "
                       "whose records they write)");
    return CX_EBADREQ;
  }
  return 0;
}

/* Token entries in order of token bytes (kind 0) or name (kind 1), equal ones by line. */
typedef struct tok_ord {
  const cx_token *e;
  int line;
} tok_ord;
static int key_cmp(int kind, const cx_token *x, const cx_token *y) {
  if (kind) return strcmp(x->name, y->name);
  uint32_t n = x->len < y->len ? x->len : y->len;
  int c = memcmp(x->token, y->token, n);
  return c ? c : (x->len > y->len) - (x->len < y->len);
}
static int ord_cmp(int kind, const void *a, const void *b) {
  const tok_ord *x = a, *y = b;
  int c = key_cmp(kind, x->e, y->e);
  return c ? c : x->line - y->line;
}
static int ord_token(const void *a, const void *b) { return ord_cmp(0, a, b); }
static int ord_name(const void *a, const void *b) { return ord_cmp(1, a, b); }

/*
 * A token listed twice used to be first-wins (the later line's role silently dead), a name
 * listed twice made the audit log's who ambiguous: both are refused on the later line, found
 * by sorting (a file may hold many tokens: no n^2 pass); the earliest such line is reported.
 * Unnamed tokens (who = token#N) may be several. 0, CX_EBADREQ (*bad_line, why), CX_ENOMEM.
 */
static int tokens_unique(const cx_tokens *t, const int *lines, int *bad_line, char *why, size_t cap) {
  if (t->n < 2) return 0;
  tok_ord *o = cx_malloc(t->n * sizeof *o);
  if (!o) return CX_ENOMEM;
  int bad = 0, first = 0, by_name = 0;
  const cx_token *be = NULL;
  for (int kind = 0; kind < 2; kind++) {
    uint32_t m = 0;
    for (uint32_t i = 0; i < t->n; i++)
      if (kind == 0 || t->v[i].name[0]) o[m++] = (tok_ord){&t->v[i], lines[i]};
    qsort(o, m, sizeof *o, kind ? ord_name : ord_token);
    /* In each run of equal keys (sorted by line), the second entry is the first repeat. */
    for (uint32_t i = 1; i < m; i++) {
      if (key_cmp(kind, o[i - 1].e, o[i].e) != 0) continue;
      if (i >= 2 && key_cmp(kind, o[i - 2].e, o[i].e) == 0) continue;
      if (!bad || o[i].line < bad) bad = o[i].line, first = o[i - 1].line, by_name = kind, be = o[i].e;
    }
  }
  free(o);
  if (!bad) return 0;
  cx_str tok = {be->token, be->len}, name = cx_str_c(be->name);
  if (!by_name)
    snprintf(why, cap, "the token of line %d is also on line %d (a token has one role)", bad, first);
  else if (shows_token(tok, name))
    snprintf(why, cap, "the name is also on line %d (each token names its holder once)", first);
  else
    snprintf(why, cap, "name \"%s\" is also on line %d (each token names its holder once)", be->name, first);
  *bad_line = bad;
  return CX_EBADREQ;
}

int cx_tokens_parse_why(const char *text, size_t n, cx_tokens *out, int *bad_line, char *why,
                        size_t cap) {
  cx_tokens t = {0};
  uint32_t tcap = 0;
  int *lines = NULL; /* line of each entry */
  const char *p = text, *end = text + n;
  char scratch[8];
  int line = 0, rc = 0, bad = 0;
  if (!why || !cap) {
    why = scratch;
    cap = sizeof scratch;
  }
  /* An editor's BOM used to become part of the first token, which then never matched. */
  if (n >= 3 && memcmp(text, "\xef\xbb\xbf", 3) == 0) {
    snprintf(why, cap, "the file starts with a UTF-8 byte order mark (BOM): save it without one");
    bad = 1;
    rc = CX_EBADREQ;
    goto fail;
  }
  while (p < end) {
    line++;
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    const char *le = nl ? nl : end;
    const char *q = p, *bol = p;
    p = nl ? nl + 1 : end;
    cx_str tok = next_word(&q, le);
    if (tok.n == 0 || tok.p[0] == '#') continue;
    /* The line is text: UTF-8, no control character but TAB (and the CR of a CRLF file).
     * The message gives the byte, never the bytes: they may be the token's. */
    cx_text_fault f;
    size_t len = (size_t)(le - bol);
    if (len && bol[len - 1] == '\r') len--;
    if (cx_text_check(bol, len, CX_TEXT_FREE, &f)) {
      cx_text_fault_format(&f, "the line", why, cap);
      rc = CX_EBADREQ;
      bad = line;
      goto fail;
    }
    if (t.n == tcap) {
      uint32_t nc = tcap ? tcap * 2 : 8;
      cx_token *v = cx_realloc(t.v, nc * sizeof *v);
      int *lv = cx_realloc(lines, nc * sizeof *lv);
      if (v) t.v = v;
      if (lv) lines = lv;
      if (!v || !lv) {
        rc = CX_ENOMEM;
        snprintf(why, cap, "%s", cx_strerror(rc));
        goto fail;
      }
      tcap = nc;
    }
    if ((rc = token_line_parse(tok, q, le, &t.v[t.n], why, cap))) {
      memset(&t.v[t.n], 0, sizeof t.v[t.n]);
      bad = line;
      goto fail;
    }
    lines[t.n++] = line;
  }
  if ((rc = tokens_unique(&t, lines, &bad, why, cap))) {
    if (rc == CX_ENOMEM) snprintf(why, cap, "%s", cx_strerror(rc));
    goto fail;
  }
  free(lines);
  *out = t;
  return 0;
fail:
  if (bad && bad_line) *bad_line = bad;
  free(lines);
  cx_tokens_free(&t);
  return rc;
}

int cx_tokens_parse(const char *text, size_t n, cx_tokens *out, int *bad_line) {
  return cx_tokens_parse_why(text, n, out, bad_line, NULL, 0);
}

int cx_tokens_load(const char *path, cx_tokens *out, char *why, size_t cap) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(why, cap, "cannot open token file %s: %s", path, strerror(errno));
    return CX_EIO;
  }
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
    snprintf(why, cap, "token file %s is not a regular file", path);
    close(fd);
    return CX_EIO;
  }
  if (st.st_mode & 077) {
    snprintf(why, cap, "token file %s is accessible by group or others (mode %03o); chmod 600 it",
             path, (unsigned)(st.st_mode & 0777));
    close(fd);
    return CX_EFORBIDDEN;
  }
  if (st.st_size > (16 << 20)) {
    snprintf(why, cap, "token file %s is too large", path);
    close(fd);
    return CX_EIO;
  }
  size_t n = (size_t)st.st_size;
  char *buf = cx_malloc(n + 1);
  if (!buf) {
    close(fd);
    return CX_ENOMEM;
  }
  size_t got = 0;
  while (got < n) {
    ssize_t k = read(fd, buf + got, n - got);
    if (k < 0 && errno == EINTR) continue;
    if (k <= 0) {
      snprintf(why, cap, "cannot read token file %s: %s", path, k < 0 ? strerror(errno) : "short read");
      free(buf);
      close(fd);
      return CX_EIO;
    }
    got += (size_t)k;
  }
  close(fd);
  int bad = 0;
  char reason[256] = "";
  int rc = cx_tokens_parse_why(buf, n, out, &bad, reason, sizeof reason);
  /* The buffer held secrets: wipe before freeing. */
  memset(buf, 0, n);
  free(buf);
  if (rc == CX_EBADREQ)
    snprintf(why, cap, "token file %s: line %d: %s", path, bad, reason);
  else if (rc)
    snprintf(why, cap, "token file %s: %s", path, cx_strerror(rc));
  return rc;
}

void cx_tokens_free(cx_tokens *t) {
  if (t->v) memset(t->v, 0, t->n * sizeof *t->v);
  free(t->v);
  t->v = NULL;
  t->n = 0;
}

/* Constant time in the contents of both strings for a given entry length. */
static int ct_equal(const cx_token *e, cx_str s) {
  volatile unsigned diff = e->len ^ s.n;
  for (uint32_t i = 0; i < e->len; i++) {
    unsigned char c = s.n ? (unsigned char)s.p[i % s.n] : 0;
    diff |= (unsigned char)e->token[i] ^ c;
  }
  return diff == 0;
}

int cx_tokens_find(const cx_tokens *t, cx_str token) {
  int found = CX_ENOTFOUND;
  if (token.n == 0) return CX_ENOTFOUND;
  for (uint32_t i = 0; i < t->n; i++) {
    int eq = ct_equal(&t->v[i], token);
    /* No early exit: every entry is compared. */
    found = eq && found < 0 ? (int)i : found;
  }
  return found;
}

/* ===================================================================== histograms */

int cx_hist_bucket(uint64_t ns) {
  if (ns < 4) return (int)ns;
  int lg = 63 - __builtin_clzll(ns);        /* >= 2 */
  int sub = (int)((ns >> (lg - 2)) & 3u);   /* next two bits */
  int b = lg * 4 + sub - 4;                 /* lg=2 -> 4..7 */
  return b >= CX_HIST_BUCKETS ? CX_HIST_BUCKETS - 1 : b;
}

uint64_t cx_hist_bucket_upper(int i) {
  if (i < 4) return (uint64_t)i;
  int lg = (i + 4) / 4;
  int sub = (i + 4) % 4;
  /* values in bucket: [(4+sub) << (lg-2), (5+sub) << (lg-2)) */
  return ((uint64_t)(5 + sub) << (lg - 2)) - 1;
}

void cx_hist_add(cx_hist *h, uint64_t ns) {
  uint64_t *b = &h->b[cx_hist_bucket(ns)];
  __atomic_store_n(b, __atomic_load_n(b, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED);
}

void cx_hist_merge(cx_hist *acc, const cx_hist *h) {
  for (int i = 0; i < CX_HIST_BUCKETS; i++) acc->b[i] += __atomic_load_n(&h->b[i], __ATOMIC_RELAXED);
}

uint64_t cx_hist_quantile(const cx_hist *acc, double q) {
  uint64_t total = 0;
  for (int i = 0; i < CX_HIST_BUCKETS; i++) total += acc->b[i];
  if (!total) return 0;
  uint64_t rank = (uint64_t)(q * (double)total);
  if (rank >= total) rank = total - 1;
  uint64_t seen = 0;
  for (int i = 0; i < CX_HIST_BUCKETS; i++) {
    seen += acc->b[i];
    if (seen > rank) return cx_hist_bucket_upper(i);
  }
  return cx_hist_bucket_upper(CX_HIST_BUCKETS - 1);
}

/* ===================================================================== log */

int cx__log_budget_take(cx_log_budget *b, uint64_t *more) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  int64_t now = (int64_t)ts.tv_sec, was = __atomic_load_n(&b->second, __ATOMIC_RELAXED);
  /* A new second resets the count; a race between loops lets a line or two more through. */
  if (was != now && __atomic_compare_exchange_n(&b->second, &was, now, 0, __ATOMIC_RELAXED, __ATOMIC_RELAXED))
    __atomic_store_n(&b->used, 0, __ATOMIC_RELAXED);
  if (__atomic_add_fetch(&b->used, 1, __ATOMIC_RELAXED) > CX_NET_LOG_PER_SECOND) {
    __atomic_add_fetch(&b->dropped, 1, __ATOMIC_RELAXED);
    return 0;
  }
  *more = __atomic_exchange_n(&b->dropped, 0, __ATOMIC_RELAXED);
  return 1;
}

void cx_net_log(const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  cx_net_vlog(fmt, ap);
  va_end(ap);
}

void cx_net_vlog(const char *fmt, va_list ap) {
  char line[1024];
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  struct tm tm;
  gmtime_r(&ts.tv_sec, &tm);
  int n = snprintf(line, sizeof line, "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ chengxind: ",
                   tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec,
                   ts.tv_nsec / 1000000);
  int m = vsnprintf(line + n, sizeof line - (size_t)n - 1, fmt, ap);
  size_t len = (size_t)n + (m < 0 ? 0 : (size_t)m);
  if (len > sizeof line - 2) len = sizeof line - 2;
  line[len++] = '\n';
  ssize_t w = write(2, line, len);
  (void)w;
}
