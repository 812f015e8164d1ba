/*
 * import.c — `chengxin import`: CSV and JSON Lines files into a store.
 *
 *   chengxin import --db PATH [--mapping FILE] [--batch K] [--format-in csv|jsonl] FILE...
 *
 * Every row becomes (names, values) -> cx_record_from_fields -> cx_batch_put: the same path
 * as the protocol's ingest. A bad row is reported as "FILE:LINE: reason" and skipped; the
 * rest lands in batches of K rows, one write transaction each.
 *
 * CSV is fed to libcsv one physical line at a time, so each row knows the line it starts on
 * even when a quoted field spans lines. A UTF-8 BOM is skipped; a header that is not UTF-8
 * (GBK exports from Excel) is refused with a hint to convert it.
 *
 * Mapping file (tab-separated, '#' comments):
 *   source column <TAB> canonical field [<TAB> transform]
 *   =constant     <TAB> canonical field
 * Header names are matched after removing blanks and folding full-width brackets, so
 * "罚款金额（万元）" matches "罚款金额(万元)". Several sources may feed one field: the first
 * non-empty wins, or with the `join` transform the values are joined with "；".
 */
#include <csv.h>
#include <errno.h>
#include <getopt.h>
#include <iconv.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "session.h"

#ifdef CX_HAVE_NET
#include "client.h"
#endif

/* ===================================================================== mapping */

enum xf { XF_NONE, XF_DATE, XF_KIND, XF_SEVERITY, XF_BOOL, XF_NUM, XF_JOIN, XF_YUAN, XF_WAN, XF_DATE_END,
          XF_STATE, XF_STATE_OBJECTION, XF_IDTYPE };
/* date_end: an inclusive last day (有效期至) as the exclusive valid_until (the day after);
 * state / state_objection: 当前状态 of the 双公示 standard (0 正常, 1 撤销, 2 异议, 3 其他);
 * idtype: 证件类型 as the name of a typed identifier (id_type_of). */
static const char *const XF_NAMES[] = {"",     "date", "kind",     "severity", "bool",  "num",
                                       "join", "yuan", "wan",      "date_end", "state", "state_objection",
                                       "idtype"};

typedef struct map_ent {
  char *src;   /* normalised source column name, or NULL for a constant */
  char *konst; /* constant value */
  char *field; /* canonical field */
  uint8_t xf;
} map_ent;

typedef struct mapping {
  map_ent *e;
  int n;
} mapping;

/* Header names: drop ASCII blanks, full-width blank, BOM; fold （）to (). */
static void norm_header(const char *s, size_t n, char *out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < n && o + 4 < cap;) {
    const unsigned char *p = (const unsigned char *)s + i;
    if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') {
      i++;
    } else if (n - i >= 3 && p[0] == 0xEF && p[1] == 0xBB && p[2] == 0xBF) {
      i += 3; /* BOM */
    } else if (n - i >= 3 && p[0] == 0xE3 && p[1] == 0x80 && p[2] == 0x80) {
      i += 3; /* U+3000 ideographic space */
    } else if (n - i >= 3 && p[0] == 0xEF && p[1] == 0xBC && (p[2] == 0x88 || p[2] == 0x89)) {
      out[o++] = p[2] == 0x88 ? '(' : ')';
      i += 3;
    } else {
      out[o++] = (char)*p;
      i++;
    }
  }
  out[o] = 0;
}

static void mapping_free(mapping *m) {
  for (int i = 0; i < m->n; i++) {
    free(m->e[i].src);
    free(m->e[i].konst);
    free(m->e[i].field);
  }
  free(m->e);
  memset(m, 0, sizeof *m);
}

/* --mapping NAME: the path as given; else, for a bare name, the installed mappings
 * (EXEDIR/../share/chengxin/mappings/NAME; a build tree has the same layout, see
 * tools/chengxin/CMakeLists.txt). A name that is nowhere keeps the first path's error. */
static int mapping_read(const char *path, char **text, size_t *n) {
  int e = cli_read_file(path, text, n);
  if (e != -ENOENT || strchr(path, '/')) return e;
  char dir[4096], alt[4200];
  if (cli_exe_dir(dir, sizeof dir)) return e;
  snprintf(alt, sizeof alt, "%s/../share/chengxin/mappings/%s", dir, path);
  return cli_read_file(alt, text, n) == 0 ? 0 : e;
}

static int mapping_load(const char *path, mapping *m) {
  char *text;
  size_t n;
  int e = mapping_read(path, &text, &n);
  if (e) {
    cli_err(strerror(-e), "import: mapping %s%s", path,
            e == -ENOENT && !strchr(path, '/') ? " (neither a file here nor an installed mapping)" : "");
    return -1;
  }
  memset(m, 0, sizeof *m);
  int line = 0, rc = 0;
  char *save = NULL;
  for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
    line++;
    size_t ln = strlen(l);
    while (ln && (l[ln - 1] == '\r' || l[ln - 1] == ' ')) l[--ln] = 0;
    if (ln == 0 || l[0] == '#') continue;
    char *f[3] = {0};
    int nf = 0;
    char *p = l;
    while (nf < 3) {
      f[nf++] = p;
      char *tab = strchr(p, '\t');
      if (!tab) break;
      *tab = 0;
      p = tab + 1;
      while (*p == '\t') p++; /* several tabs are one separator (aligned files) */
    }
    if (nf < 2 || !*f[0] || !*f[1]) {
      cli_progress_clear();
      fprintf(stderr, "%s:%d: expected 'source<TAB>field[<TAB>transform]'\n", path, line);
      rc = -1;
      continue;
    }
    uint8_t xf = XF_NONE;
    if (nf == 3 && *f[2]) {
      int k;
      for (k = 1; k < (int)(sizeof XF_NAMES / sizeof XF_NAMES[0]); k++)
        if (strcmp(f[2], XF_NAMES[k]) == 0) break;
      if (k == (int)(sizeof XF_NAMES / sizeof XF_NAMES[0])) {
        cli_progress_clear();
        fprintf(stderr, "%s:%d: unknown transform '%s' (date, kind, severity, bool, num, yuan, wan, join, idtype)\n", path,
                line, f[2]);
        rc = -1;
        continue;
      }
      xf = (uint8_t)k;
    }
    map_ent *ne = cx_realloc(m->e, (size_t)(m->n + 1) * sizeof *ne);
    if (!ne) {
      rc = -1;
      break;
    }
    m->e = ne;
    map_ent *me = &m->e[m->n++];
    memset(me, 0, sizeof *me);
    if (f[0][0] == '=') {
      me->konst = cx_strdup(f[0] + 1);
    } else {
      char buf[512];
      norm_header(f[0], strlen(f[0]), buf, sizeof buf);
      me->src = cx_strdup(buf);
    }
    me->field = cx_strdup(f[1]);
    me->xf = xf;
  }
  free(text);
  if (rc == 0 && m->n == 0) {
    cli_err("no mapping lines", "import: %s", path);
    rc = -1;
  }
  if (rc) mapping_free(m);
  return rc;
}

/* ===================================================================== plan */

#define MAX_TARGETS 64
#define MAX_SRCS 8

typedef struct plan_src {
  int col;           /* column index, or -1 for a constant */
  const char *konst;
  uint8_t xf;
} plan_src;

typedef struct plan_target {
  const char *name;
  uint32_t name_n; /* strlen(name), once per file instead of once per row */
  plan_src src[MAX_SRCS];
  int n, join;
} plan_target;

#define MAX_EXTRAS 64

typedef struct plan {
  plan_target t[MAX_TARGETS];
  int n;
  /* Columns no canonical field takes: kept with the record as named extra fields. */
  int extra_col[MAX_EXTRAS];
  const char *extra_name[MAX_EXTRAS];
  int n_extra;
} plan;

static void plan_extra(plan *p, int col, const char *name) {
  for (int i = 0; i < p->n_extra; i++)
    if (p->extra_col[i] == col) return;
  if (p->n_extra == MAX_EXTRAS) return;
  p->extra_col[p->n_extra] = col;
  p->extra_name[p->n_extra++] = name;
}

static plan_target *plan_get(plan *p, const char *name) {
  for (int i = 0; i < p->n; i++)
    if (strcmp(p->t[i].name, name) == 0) return &p->t[i];
  if (p->n == MAX_TARGETS) return NULL;
  plan_target *t = &p->t[p->n++];
  memset(t, 0, sizeof *t);
  t->name = name;
  t->name_n = (uint32_t)strlen(name);
  return t;
}

static void plan_add(plan *p, const char *target, int col, const char *konst, uint8_t xf) {
  plan_target *t = plan_get(p, target);
  if (!t || t->n == MAX_SRCS) return;
  t->src[t->n++] = (plan_src){col, konst, xf};
  if (xf == XF_JOIN) t->join = 1;
}

/* A canonical column: a field of CX_RECORD_FIELDS (store.h). */
static int is_canon(const char *s) { return cx_record_field_parse(cx_str_c(s)) >= 0; }

/* cols: normalised header names. Returns the number of mapped sources. Every column is
 * either mapped to a canonical field or kept as an extra field (mapping target `extra`, or a
 * column the mapping does not name, which *unknown lists: the caller warns once per file). */
static int plan_build(plan *p, const mapping *m, char **cols, int ncols, int *unknown, int cap_unknown,
                      int *n_unknown) {
  memset(p, 0, sizeof *p);
  int used = 0;
  *n_unknown = 0;
  if (!m || m->n == 0) {
    for (int c = 0; c < ncols; c++) {
      if (!cols[c][0]) continue;
      if (!is_canon(cols[c])) {
        plan_extra(p, c, cols[c]);
        if (*n_unknown < cap_unknown) unknown[(*n_unknown)++] = c;
        continue;
      }
      plan_add(p, cols[c], c, NULL, XF_NONE);
      used++;
    }
    return used;
  }
  uint8_t taken[512] = {0};
  for (int i = 0; i < m->n; i++) {
    const map_ent *e = &m->e[i];
    if (e->konst) {
      plan_add(p, e->field, -1, e->konst, e->xf);
      continue;
    }
    for (int c = 0; c < ncols; c++)
      if (strcmp(cols[c], e->src) == 0) {
        if (c < 512) taken[c] = 1;
        if (strcmp(e->field, "extra") == 0) plan_extra(p, c, cols[c]);
        else plan_add(p, e->field, c, NULL, e->xf);
        used++;
      }
  }
  for (int c = 0; c < ncols && c < 512; c++) {
    if (taken[c] || !cols[c][0]) continue;
    plan_extra(p, c, cols[c]);
    if (*n_unknown < cap_unknown) unknown[(*n_unknown)++] = c;
  }
  return used;
}

/* ===================================================================== transforms */

/* Date: the first three numbers (or an 8-digit block) as YYYY-MM-DD; unchanged otherwise. */
static size_t xf_date(const char *s, size_t n, char *out) {
  int v[3], k = 0;
  size_t i = 0;
  while (i < n && k < 3) {
    if (s[i] >= '0' && s[i] <= '9') {
      size_t st = i;
      long x = 0;
      while (i < n && s[i] >= '0' && s[i] <= '9' && i - st < 9) x = x * 10 + (s[i++] - '0');
      if (k == 0 && i - st == 8) {
        v[0] = (int)(x / 10000), v[1] = (int)(x / 100 % 100), v[2] = (int)(x % 100);
        k = 3;
        break;
      }
      v[k++] = (int)x;
    } else {
      i++;
    }
  }
  if (k < 3 || v[0] < 1000 || v[0] > 9999 || v[1] > 99 || v[2] > 99) {
    memcpy(out, s, n);
    return n;
  }
  char b[32];
  int w = snprintf(b, sizeof b, "%04d-%02d-%02d", v[0], v[1], v[2]);
  if (w != 10) {
    memcpy(out, s, n);
    return n;
  }
  memcpy(out, b, 10);
  return 10;
}

static int has(const char *s, size_t n, const char *needle) {
  size_t k = strlen(needle);
  for (size_t i = 0; i + k <= n; i++)
    if (memcmp(s + i, needle, k) == 0) return 1;
  return 0;
}

static size_t put(char *out, const char *lit) {
  size_t n = strlen(lit);
  memcpy(out, lit, n);
  return n;
}

/*
 * 证件类型 (a natural person's document type, 双公示 自然人 templates) -> the name of its typed
 * identifier (docs/data-model.md "Typed identifiers"), "id" for a resident ID number (the
 * residence permits of HK, Macao and Taiwan residents carry one), NULL when unknown. The names
 * of the templates' list and their usual short forms; the most specific test first
 * (外国人永久居留身份证 contains 身份证).
 */
static const char *id_type_of(const char *s, size_t n) {
  if (has(s, n, "永久居留")) return "prc";
  if (has(s, n, "护照")) return "passport";
  if (has(s, n, "港澳居民来往内地") || has(s, n, "回乡证") || has(s, n, "港澳通行证")) return "hkmo";
  if (has(s, n, "台湾居民来往大陆") || has(s, n, "台胞证")) return "tw";
  if (has(s, n, "身份证") || has(s, n, "居住证") || has(s, n, "公民身份号码")) return "id";
  return NULL;
}

static size_t xf_apply(uint8_t xf, const char *s, size_t n, char *out) {
  switch (xf) {
  case XF_DATE: return xf_date(s, n, out);
  case XF_DATE_END: {
    size_t k = xf_date(s, n, out);
    cx_day d;
    if (k != 10 || cx_day_parse((cx_str){out, 10}, &d)) return k; /* the parser says why */
    char buf[11];
    cx_day_format(d + 1, buf);
    memcpy(out, buf, 10);
    return 10;
  }
  case XF_STATE:
    if ((n == 1 && (s[0] == '0' || s[0] == '2' || s[0] == '3')) || has(s, n, "正常") || has(s, n, "异议") ||
        has(s, n, "其他"))
      return put(out, "active");
    if ((n == 1 && s[0] == '1') || has(s, n, "撤销") || has(s, n, "撤回")) return put(out, "revoked");
    break;
  case XF_STATE_OBJECTION:
    return put(out, (n == 1 && s[0] == '2') || has(s, n, "异议") ? "true" : "false");
  case XF_KIND:
    if (has(s, n, "个体")) return put(out, "individual_business");
    if (has(s, n, "自然人")) return put(out, "person");
    if (has(s, n, "法人") || has(s, n, "组织")) return 0; /* derive from the code */
    break;
  case XF_IDTYPE: {
    const char *t = id_type_of(s, n);
    if (t) return put(out, t);
    break; /* unknown: kept as given, refused with the row's line (typed_code) */
  }
  case XF_SEVERITY:
    if (has(s, n, "轻微")) return put(out, "minor");
    if (has(s, n, "严重") || has(s, n, "重大")) return put(out, "serious");
    if (has(s, n, "一般") || has(s, n, "较重")) return put(out, "general");
    break;
  case XF_BOOL:
    if (has(s, n, "是") || has(s, n, "有")) return put(out, "true");
    if (has(s, n, "否") || has(s, n, "无")) return put(out, "false");
    break;
  case XF_NUM:  /* a number: thousands separators and blanks dropped, nothing else */
  case XF_YUAN: /* the same, with an optional 元 after it */
  case XF_WAN: {/* the same, with an optional 万元 or 万 after it */
    size_t end = n;
    if (xf == XF_YUAN && end >= 3 && memcmp(s + end - 3, "元", 3) == 0) end -= 3;
    if (xf == XF_WAN && end >= 6 && memcmp(s + end - 6, "万元", 6) == 0) end -= 6;
    else if (xf == XF_WAN && end >= 3 && memcmp(s + end - 3, "万", 3) == 0) end -= 3;
    size_t o = 0;
    for (size_t i = 0; i < end; i++) {
      unsigned char c = (unsigned char)s[i];
      if ((c >= '0' && c <= '9') || c == '.' || c == '-') out[o++] = (char)c;
      else if (c == ',' || c == ' ') continue;
      else if (i + 2 < end && c == 0xEF && (unsigned char)s[i + 1] == 0xBC && (unsigned char)s[i + 2] == 0x8C) i += 2; /* ， */
      else { /* "若干", "3000元" in a 万元 column ...: the field's parser says what is wrong */
        memcpy(out, s, n);
        return n;
      }
    }
    return o;
  }
  default: break;
  }
  memcpy(out, s, n);
  return n;
}

/* ===================================================================== importer */

/* Rows per batch (one write transaction) of a local import without --batch. */
#define IMPORT_BATCH_LOCAL 100000
/* Bytes of the store's map an import keeps mapped: past it, after a batch, the pages go back
 * to the page cache (cx_store_trim_map), so that the import's resident set is its own memory
 * (batches, the txn's dirty pages) plus at most this. */
#define IMPORT_MAP_RSS (128ull << 20)

typedef struct pend {
  uint64_t inserted, replaced, unchanged, kept, provisional;
} pend;

typedef struct importer {
  cx_store *st;
  const mapping *map;
  cx_batch *b;
  uint64_t batch;
  const char *file;
  int quiet, tty;
  int encoding; /* 0 auto (UTF-8, else GB18030 when the header is not UTF-8), 1 UTF-8, 2 GB18030 */
  /* counters */
  uint64_t read, rejected, inserted, replaced, unchanged, kept, in_batch;
  uint64_t provisional; /* written records whose report delay is provisional (calendar) */
  uint64_t not_written; /* good rows of batches whose commit failed (a fault, not their fault) */
  int fault;            /* that failure's code */
  int warned_unknown;   /* JSON Lines: the once-per-file warning about keys no field holds */
  int fatal;
  /* progress */
  double t0, last;
  uint64_t bytes, total_bytes;
  /* row assembly */
  char *arena;
  size_t arena_cap;
  /* remote mode: the pending ingest request, one packed map per row */
  void *client;
  char *rb;
  size_t rb_n, rb_cap;
  size_t *roff;
  long *rline;
  uint32_t rn, rcap;
  /* local mode: the line of each put of the open batch (cx_batch_on_refused reports by index) */
  long *bline;
  uint32_t bn, bcap;
  /* local mode, --threads 2: the writer thread commits a full batch while this thread reads
   * and checks the rows of the next one (at most one batch in flight; see commit_async). */
  int threads;
  struct wjob *job;      /* the batch the writer holds, NULL: none */
  pthread_t writer;
  int writer_up;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  atomic_int job_failed; /* the writer's batch failed: stop reading (checked per row) */
  uint64_t since_load;   /* rows handed to commits since the last load commit */
  uint64_t sync_every;   /* --sync-every: rows per load commit (0: no load mode) */
  struct pend pend;
} importer;

/* A batch handed to the writer thread, with what its results need: the lines of its puts
 * (cx_batch_on_refused reports by put index) and the rows it refused, reported by the
 * reading thread once the commit is done, so that stderr has one writer. */
typedef struct wjob {
  cx_batch *b;
  const char *file;
  long *bline;
  uint32_t bn, bcap;
  uint32_t *refused; /* put indexes, with their whys */
  const char **refused_why;
  uint32_t n_refused, cap_refused;
  int refused_nomem;
  uint64_t n;        /* records in the batch */
  int e, done;       /* the commit's code; done: the writer has finished it */
  int has_batch;     /* b was given (the writer clears b) */
  int load_commit;   /* then cx_store_load_commit, its code in le */
  int quit;          /* then end the writer (after a load commit) */
  int le;
  cx_batch_result r;
} wjob;

/* A fault of the system, not of a row (out of memory, no space ...): the import stops, and
 * every row read and not written counts as "not written". */
static void fault(importer *im, int e) {
  im->fatal = 1;
  if (!im->fault) im->fault = e;
}

static void reject(importer *im, long line, const char *why) {
  cli_progress_clear();
  fprintf(stderr, "%s:%ld: %s\n", im->file, line, why);
  im->rejected++;
}

/* A row the commit refused (a record that would move to another entity): its line, the rest
 * of the batch lands. */
static void refused_row(void *ctx, uint32_t put_index, const char *why) {
  importer *im = ctx;
  reject(im, put_index < im->bn ? im->bline[put_index] : 0, why);
}

static int remote_flush(importer *im);
static void remote_add(importer *im, const cx_str *names, const cx_str *vals, size_t n, long line);

/* Test hook (tests/tools/test_import_bulk.c): CHENGXIN_TEST_KILL_AFTER=N, the process kills
 * itself (SIGKILL) once N batches have committed, before any later load commit: a crash in the
 * middle of a load, at a point a test can name. */
static uint64_t g_kill_after, g_committed;

/* A committed batch's results (r, e as cx_batch_commit gave them) into the pending counts. */
static int commit_done(importer *im, const char *file, uint64_t n, int e, const cx_batch_result *r) {
  if (!e && g_kill_after && ++g_committed >= g_kill_after) raise(SIGKILL);
  if (e) {
    cli_err(r->error[0] ? r->error : cx_store_errmsg(im->st), "import: %s: %llu rows not written: %s", file,
            (unsigned long long)n, cx_strerror(e));
    fault(im, e);
    return -1;
  }
  im->pend.inserted += r->inserted;
  im->pend.replaced += r->replaced;
  im->pend.unchanged += r->unchanged;
  im->pend.kept += r->kept;
  im->pend.provisional += r->provisional;
  return 0;
}

/* A load commit's result (cx_store_load_commit): the pending counts become the import's, or,
 * on failure, rows not written. */
static int load_done(importer *im, int e) {
  if (e) {
    cli_err(cx_store_errmsg(im->st), "import: %s: %llu rows not written: %s", im->file,
            (unsigned long long)(im->pend.inserted + im->pend.replaced + im->pend.unchanged), cx_strerror(e));
    fault(im, e);
  } else {
    im->inserted += im->pend.inserted;
    im->replaced += im->pend.replaced;
    im->unchanged += im->pend.unchanged;
    im->kept += im->pend.kept;
    im->provisional += im->pend.provisional;
  }
  memset(&im->pend, 0, sizeof im->pend);
  return e ? -1 : 0;
}

/* The end of a load: its commit, or, when the import stopped on a fault during a bulk load
 * (all or nothing per file), its abort: the rows of its batches are then not written (the code
 * of the fault). Runs on the thread that holds the write txn. */
static int load_finish(importer *im) {
  if (!(im->fatal && cx_store_bulk_active(im->st))) return cx_store_load_commit(im->st);
  cx_store_bulk_abort(im->st);
  const pend *p = &im->pend;
  return p->inserted + p->replaced + p->unchanged ? (im->fault ? im->fault : CX_EIO) : 0;
}

/* The batch's audit entry (one per batch: the import, its file and its size); on failure the
 * batch is aborted. */
static int commit_audit(importer *im) {
  char det[96];
  snprintf(det, sizeof det, "records=%llu", (unsigned long long)cx_batch_size(im->b));
  int e = cli_audit_batch(im->b, "import", im->file, det);
  if (e) {
    cx_batch_abort(im->b);
    im->b = NULL;
    fault(im, e);
  }
  return e;
}

/* ---------------------------------------------------------------- the writer thread */

/*
 * Reading a CSV row, assembling it and cx_batch_put (validation) cost about a third of an
 * import, cx_batch_commit the rest (perf, 1M generated records, issue 20): with two cores the
 * commit of batch k overlaps the reading of batch k+1. Only whole batches cross threads (a
 * cx_batch is used by one thread at a time), so a batch stays one transaction, all or nothing,
 * and the rows and ids land in the same order as with one thread: the store's content is the
 * same (tests/tools/test_import_speed.c compares the digests). Once the writer has started,
 * every write txn and load commit runs on it (LMDB: the thread that holds the writer lock), the
 * reading thread waits for the batch at each file's end. An import of one batch starts no thread.
 */
static void job_refused(void *ctx, uint32_t put_index, const char *why) {
  wjob *j = ctx;
  if (j->n_refused == j->cap_refused) {
    uint32_t cap = j->cap_refused ? j->cap_refused * 2 : 16;
    uint32_t *p = cx_realloc(j->refused, cap * sizeof *p);
    if (p) j->refused = p;
    const char **w = p ? cx_realloc(j->refused_why, cap * sizeof *w) : NULL;
    if (!p || !w) {
      j->refused_nomem = 1; /* reported by the reading thread as rows refused without a line */
      return;
    }
    j->refused_why = w;
    j->cap_refused = cap;
  }
  j->refused[j->n_refused] = put_index;
  j->refused_why[j->n_refused++] = why; /* batch.c's whys are static strings */
}

static void *writer_main(void *arg) {
  importer *im = arg;
  pthread_mutex_lock(&im->mu);
  for (;;) {
    while (!im->job || im->job->done) pthread_cond_wait(&im->cv, &im->mu);
    wjob *j = im->job;
    pthread_mutex_unlock(&im->mu);
    if (j->b) {
      j->e = cx_batch_commit(j->b, &j->r);
      j->b = NULL;
      cx_store_trim_map(im->st, IMPORT_MAP_RSS, NULL);
    }
    if (j->load_commit || j->quit) j->le = load_finish(im);
    pthread_mutex_lock(&im->mu);
    j->done = 1;
    if (j->e || j->le) atomic_store(&im->job_failed, 1);
    pthread_cond_broadcast(&im->cv);
    if (j->quit) break;
  }
  pthread_mutex_unlock(&im->mu);
  return NULL;
}

/* Waits for the writer's batch, if any, and takes its results. -1 when it failed. */
static int job_collect(importer *im) {
  if (!im->job) return 0;
  pthread_mutex_lock(&im->mu);
  while (!im->job->done) pthread_cond_wait(&im->cv, &im->mu);
  wjob *j = im->job;
  im->job = NULL;
  pthread_mutex_unlock(&im->mu);
  int rc = 0;
  if (j->has_batch) {
    for (uint32_t i = 0; i < j->n_refused; i++)
      reject(im, j->refused[i] < j->bn ? j->bline[j->refused[i]] : 0, j->refused_why[i]);
    if (j->refused_nomem && !j->e) /* the counts say how many; the lines are lost */
      reject(im, 0, "entity_code: records of this batch were refused (their lines were not kept: out of memory)");
    rc = commit_done(im, j->file, j->n, j->e, &j->r);
  }
  if (j->load_commit || j->quit)
    if (load_done(im, j->le)) rc = -1;
  free(j->bline);
  free(j->refused);
  free(j->refused_why);
  cx_free(j);
  return rc;
}

static int writer_start(importer *im) {
  if (im->writer_up) return 0;
  if (pthread_mutex_init(&im->mu, NULL)) return -1;
  if (pthread_cond_init(&im->cv, NULL)) {
    pthread_mutex_destroy(&im->mu);
    return -1;
  }
  if (pthread_create(&im->writer, NULL, writer_main, im)) {
    pthread_cond_destroy(&im->cv);
    pthread_mutex_destroy(&im->mu);
    return -1;
  }
  im->writer_up = 1;
  return 0;
}

/* Hands the open batch (audited; may be NULL: a load commit only) to the writer. -1 (nothing
 * handed over) when there is no memory for the job. */
static int job_send(importer *im, int load_commit, int quit) {
  wjob *j = cx_calloc(1, sizeof *j);
  if (!j) return -1;
  j->load_commit = load_commit;
  j->quit = quit;
  j->file = im->file;
  if (im->b) {
    j->b = im->b;
    j->has_batch = 1;
    j->n = cx_batch_size(im->b);
    j->bline = im->bline;
    j->bn = im->bn;
    cx_batch_on_refused(j->b, job_refused, j);
    im->b = NULL;
    im->bline = NULL; /* the next batch grows its own */
    im->bcap = im->bn = 0;
  }
  pthread_mutex_lock(&im->mu);
  im->job = j;
  pthread_cond_broadcast(&im->cv);
  pthread_mutex_unlock(&im->mu);
  return 0;
}

/* Ends the writer thread, with a last load commit; its result is taken. */
static void writer_stop(importer *im) {
  if (!im->writer_up) return;
  job_collect(im);
  if (job_send(im, 1, 1) == 0) {
    job_collect(im);
  } else { /* no memory even for that: the loop still has to end */
    static wjob q;
    memset(&q, 0, sizeof q);
    q.quit = 1;
    pthread_mutex_lock(&im->mu);
    im->job = &q;
    pthread_cond_broadcast(&im->cv);
    while (!q.done) pthread_cond_wait(&im->cv, &im->mu);
    im->job = NULL;
    pthread_mutex_unlock(&im->mu);
    load_done(im, q.le);
  }
  pthread_join(im->writer, NULL);
  pthread_cond_destroy(&im->cv);
  pthread_mutex_destroy(&im->mu);
  im->writer_up = 0;
}

/* --sync-every's default: 0, every batch its own durable txn. Load mode (--sync-every N) wrote
 * a fifth of the bytes at 10M records (24 GB instead of 99 GB) and was faster on a loaded
 * machine (242 s instead of 292 s) but took 40 % more CPU (the child txns' page copies) and
 * held ~1 GiB of dirty pages (issue 20's bound on RSS): docs/benchmarks.md. */
#define IMPORT_LOAD_ROWS 0

/* Commits the open batch. final: the end of a file (the batch and the load so far are made
 * durable before this returns); else, with --threads 2, the batch goes to the writer and this
 * returns at once (its failure is seen by the next commit, or by import_row through job_failed). */
static int commit_batch(importer *im, int final) {
  if (im->client) return remote_flush(im);
  if (job_collect(im)) { /* the batch before failed: this one is not written either */
    if (im->b) cx_batch_abort(im->b);
    im->b = NULL;
    return -1;
  }
  if (im->b && commit_audit(im)) return -1;
  uint64_t n = im->b ? cx_batch_size(im->b) : 0;
  im->since_load += n;
  int load_commit = final || im->since_load >= im->sync_every;
  if (load_commit) im->since_load = 0;
  if (im->threads > 1 && (im->writer_up || !final) && writer_start(im) == 0 &&
      job_send(im, load_commit, 0) == 0)
    return final ? job_collect(im) : 0;
  if (im->writer_up) { /* no memory for a job: the batch cannot be handed over */
    if (im->b) cx_batch_abort(im->b);
    im->b = NULL;
    fault(im, CX_ENOMEM);
    cli_err("out of memory", "import: %s", im->file);
    return -1;
  }
  int rc = 0;
  if (im->b) {
    cx_batch_result r;
    int e = cx_batch_commit(im->b, &r);
    im->b = NULL;
    cx_store_trim_map(im->st, IMPORT_MAP_RSS, NULL);
    rc = commit_done(im, im->file, n, e, &r);
  }
  if (load_commit && load_done(im, load_finish(im))) rc = -1;
  return rc;
}

static int commit(importer *im) { return commit_batch(im, 1); }

static void progress(importer *im, int final) {
  if (!im->tty) return;
  double now = cli_now();
  if (!final && now - im->last < 0.2) return;
  im->last = now;
  double rate = now > im->t0 ? (double)im->read / (now - im->t0) : 0;
  if (final) {
    fputs("\r\033[K", stderr);
    return;
  }
  char eta[32] = "";
  if (im->total_bytes && im->bytes && now > im->t0) {
    double bps = (double)im->bytes / (now - im->t0);
    snprintf(eta, sizeof eta, "  ETA %.0fs", (double)(im->total_bytes - im->bytes) / bps);
  }
  fprintf(stderr, "\r\033[K%s: %llu rows  %.0f rows/s%s", im->file, (unsigned long long)im->read, rate, eta);
  cli_progress_on = 1;
}

static int name_is(cx_str s, const char *lit) { return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0; }

/*
 * The pseudo-fields entity_id_type (证件类型, transform idtype) and entity_id_country (a
 * passport's issuing state, when a column gives it) turn a person's entity_code into its typed
 * form: "passport:CCC:number", "hkmo:number", ... (store.h "Typed identifiers"), which the
 * store validates. They apply to natural persons only (entity_kind person): an organisation's
 * code is its USCC whatever its columns say. Both are removed from names/vals (*nt shrinks);
 * the typed code is written into the arena at *o. An unknown 证件类型 or a passport without
 * its state rejects the row (returns -1).
 */
static int typed_code(importer *im, cx_str *names, cx_str *vals, int *nt, size_t *o, long line) {
  int ti = -1, ci = -1, ki = -1, kc = -1;
  for (int i = 0; i < *nt; i++) {
    if (name_is(names[i], "entity_id_type")) ti = i;
    else if (name_is(names[i], "entity_id_country")) ci = i;
    else if (name_is(names[i], "entity_kind")) ki = i;
    else if (name_is(names[i], "entity_code")) kc = i;
  }
  if (ti < 0 && ci < 0) return 0;
  cx_str type = ti >= 0 ? vals[ti] : (cx_str){"", 0}, country = ci >= 0 ? vals[ci] : (cx_str){"", 0};
  int rc = 0;
  if (type.n && ki >= 0 && name_is(vals[ki], "person") && kc >= 0 && vals[kc].n) {
    cx_str num = vals[kc];
    static const char *const known[] = {"id", "passport", "hkmo", "tw", "prc"};
    int k = -1;
    for (int i = 0; i < 5; i++)
      if (name_is(type, known[i])) k = i;
    if (k < 0) {
      char why[256];
      snprintf(why, sizeof why,
               "证件类型: unknown document type '%.*s' (known: 身份证, 护照, 港澳居民来往内地通行证, "
               "台湾居民来往大陆通行证, 外国人永久居留身份证)",
               (int)(type.n > 60 ? 60 : type.n), type.p);
      reject(im, line, why);
      return -1;
    }
    if (k > 0) { /* typed: "name:" [country ":"] number; the arena has room (need counts 2x) */
      int has_state = memchr(num.p, ':', num.n) != NULL;
      if (k == 1 && !country.n && !has_state) {
        reject(im, line, "证件号码: a passport needs its issuing state: a country column (entity_id_country), "
                         "or the number written as USA:123456789");
        return -1;
      }
      char *w = im->arena + *o;
      size_t len = put(w, known[k]);
      w[len++] = ':';
      if (k == 1 && country.n && !has_state) {
        memcpy(w + len, country.p, country.n > 8 ? 8 : country.n);
        len += country.n > 8 ? 8 : country.n;
        w[len++] = ':';
      }
      memcpy(w + len, num.p, num.n);
      len += num.n;
      vals[kc] = (cx_str){w, (uint32_t)len};
      *o += len;
    }
  }
  /* Drop the pseudo-fields, keeping the order of the rest. */
  int j = 0;
  for (int i = 0; i < *nt; i++) {
    if (i == ti || i == ci) continue;
    names[j] = names[i];
    vals[j++] = vals[i];
  }
  *nt = j;
  return rc;
}

/*
 * Messages about a field name the source's column: cx_record_from_fields and cx_batch_put say
 * "valid_until: not a YYYY-MM-DD date", but the file has 公示截止期 (a mapping renamed it), so
 * the operator reads "公示截止期 (valid_until): not a YYYY-MM-DD date". A message ending with
 * another field ("... not after valid_from") names that one's column too.
 */

/* The columns of canonical field f[0..fn) in this row, as the file names them, into out: the
 * columns whose values made it (used: a bit per source of its plan target), else every column
 * mapped to it ("A or B"). 0 (nothing written) when no column feeds it or the only one is named
 * as the field itself. */
static size_t field_src(const plan *p, const uint8_t *used, const char *const *src, int ncols, const char *f,
                        size_t fn, char *out, size_t cap) {
  const plan_target *pt = NULL;
  int t;
  for (t = 0; t < p->n; t++)
    if (strlen(p->t[t].name) == fn && memcmp(p->t[t].name, f, fn) == 0) {
      pt = &p->t[t];
      break;
    }
  if (!pt || !src) return 0;
  unsigned mask = used ? used[t] : 0;
  const char *sep = mask ? " + " : " or ";
  if (!mask) mask = 0xffu;
  size_t o = 0;
  int k = 0, renamed = 0;
  for (int i = 0; i < pt->n; i++) {
    int c = pt->src[i].col;
    if (!(mask & (1u << i)) || c < 0 || c >= ncols || !src[c] || !src[c][0]) continue;
    int dup = 0; /* one column feeding the field twice (two transforms) is named once */
    for (int j = 0; j < i; j++)
      if ((mask & (1u << j)) && pt->src[j].col == c) dup = 1;
    if (dup) continue;
    if (strlen(src[c]) != fn || memcmp(src[c], f, fn) != 0) renamed = 1;
    int w = snprintf(out + o, cap - o, "%s%s", k++ ? sep : "", src[c]);
    if (w < 0 || (size_t)w >= cap - o) return 0;
    o += (size_t)w;
  }
  return renamed ? o : 0;
}

static int field_char(char c) { return (c >= 'a' && c <= 'z') || c == '_'; }

/* why, with its leading field (and a trailing one) named by their source columns; returns why
 * itself when there is nothing to rename, else buf. */
static const char *why_src(const plan *p, const uint8_t *used, const char *const *src, int ncols, const char *why,
                           char *buf, size_t cap) {
  if (!why) return why;
  size_t fn = 0;
  while (field_char(why[fn])) fn++;
  if (fn == 0 || why[fn] != ':' || why[fn + 1] != ' ') return why;
  char s1[400], s2[400];
  size_t n1 = field_src(p, used, src, ncols, why, fn, s1, sizeof s1);
  const char *rest = why + fn + 2;
  size_t rn = strlen(rest), wn = 0;
  while (wn < rn && field_char(rest[rn - 1 - wn])) wn++;
  size_t n2 = 0;
  if (wn && wn < rn && rest[rn - 1 - wn] == ' ')
    n2 = field_src(p, used, src, ncols, rest + rn - wn, wn, s2, sizeof s2);
  if (!n1 && !n2) return why;
  if (n1) snprintf(buf, cap, "%s (%.*s): ", s1, (int)fn, why);
  else snprintf(buf, cap, "%.*s: ", (int)fn, why);
  size_t o = strlen(buf);
  if (n2) snprintf(buf + o, cap - o, "%.*s%s (%s)", (int)(rn - wn), rest, s2, rest + rn - wn);
  else snprintf(buf + o, cap - o, "%s", rest);
  return buf;
}

/* One row: cols are the values by column index (n of them), src the columns' names as the file
 * has them (NULL: not known). */
static void import_row(importer *im, const plan *p, const cx_str *cols, const char *const *src, int n, long line) {
  if (atomic_load_explicit(&im->job_failed, memory_order_relaxed) && im->job) {
    im->read++;           /* read, and not written */
    commit_batch(im, 1); /* reports the writer's failure, drops the open batch: fatal */
    return;
  }
  im->read++;
  size_t need = 256 + 32; /* a transform at most doubles a value plus a few bytes; joins add 3 */
  for (int t = 0; t < p->n; t++)
    for (int s = 0; s < p->t[t].n; s++) {
      const plan_src *ps = &p->t[t].src[s];
      size_t vn = ps->konst ? strlen(ps->konst) : ps->col < n ? cols[ps->col].n : 0;
      need += vn * 2 + 24;
    }
  for (int x = 0; x < p->n_extra; x++)
    need += strlen(p->extra_name[x]) + 2 + (p->extra_col[x] < n ? cols[p->extra_col[x]].n * 2 : 0);
  for (int c = 0; c < n; c++) need += cols[c].n; /* room for a typed entity_code (typed_code) */
  if (need > im->arena_cap) {
    char *a = cx_realloc(im->arena, need);
    if (!a) {
      cli_err("out of memory", "import: %s:%ld", im->file, line);
      fault(im, CX_ENOMEM);
      return;
    }
    im->arena = a;
    im->arena_cap = need;
  }
  cx_str names[MAX_TARGETS + 1], vals[MAX_TARGETS + 1];
  uint8_t used[MAX_TARGETS]; /* per target, a bit per source whose value made it */
  size_t o = 0;
  for (int t = 0; t < p->n; t++) {
    used[t] = 0;
    const plan_target *pt = &p->t[t];
    size_t start = o;
    for (int s = 0; s < pt->n; s++) {
      const plan_src *ps = &pt->src[s];
      const char *v;
      size_t vn;
      if (ps->konst) {
        v = ps->konst;
        vn = strlen(v);
      } else {
        if (ps->col >= n) continue;
        v = cols[ps->col].p;
        vn = cols[ps->col].n;
      }
      while (vn && (*v == ' ' || *v == '\t')) v++, vn--;
      while (vn && (v[vn - 1] == ' ' || v[vn - 1] == '\t' || v[vn - 1] == '\r')) vn--;
      if (vn == 0) continue;
      if (!pt->join && o > start) break; /* first non-empty wins */
      if (pt->join && o > start) o += put(im->arena + o, "；");
      size_t before = o;
      o += xf_apply(ps->xf, v, vn, im->arena + o);
      if (o > before) used[t] |= (uint8_t)(1u << s);
      if (o == before && !pt->join) continue;
      if (!pt->join) break;
    }
    names[t] = (cx_str){pt->name, pt->name_n};
    vals[t] = (cx_str){im->arena + start, (uint32_t)(o - start)};
  }
  int nt = p->n;
  if (typed_code(im, names, vals, &nt, &o, line) < 0) return;
  int n_fields = nt; /* what a remote ingest sends: the canonical fields, no pseudo-fields */
  if (p->n_extra) { /* the other columns, as named extra fields (empty ones left out) */
    size_t start = o, len = 0;
    for (int x = 0; x < p->n_extra; x++) {
      int c = p->extra_col[x];
      if (c >= n) continue;
      cx_str v = cols[c];
      while (v.n && (*v.p == ' ' || *v.p == '\t')) v.p++, v.n--;
      while (v.n && (v.p[v.n - 1] == ' ' || v.p[v.n - 1] == '\t' || v.p[v.n - 1] == '\r')) v.n--;
      if (!v.n) continue;
      if (cx_extra_put(im->arena + start, im->arena_cap - start, &len, cx_str_c(p->extra_name[x]), v)) {
        reject(im, line, "extra: the extra fields pass 8192 bytes");
        return;
      }
    }
    o += len;
    if (len) {
      names[nt] = CX_STR("extra");
      vals[nt++] = (cx_str){im->arena + start, (uint32_t)len};
    }
  }
  cx_record r;
  const char *why = NULL;
  char wb[1024];
  int e = cx_record_from_fields(names, vals, (size_t)nt, &r, &why);
  if (e) {
    reject(im, line, why ? why_src(p, used, src, n, why, wb, sizeof wb) : cx_strerror(e));
    return;
  }
  if (im->client) {
    remote_add(im, names, vals, (size_t)n_fields, line);
    progress(im, 0);
    return;
  }
  if (!im->b) {
    e = cx_batch_begin(im->st, &im->b);
    if (e) {
      cli_err(cx_strerror(e), "import: batch");
      fault(im, e);
      return;
    }
    /* Test hook (tests/tools/test_import_speed.c): every batch runs at this time (Unix ms),
     * today's day, so that two imports of one file write the same audit entries and so have
     * the same content digest whatever path wrote them. */
    const char *clk = getenv("CHENGXIN_TEST_CLOCK_MS");
    if (clk && *clk && (e = cx_batch_set_clock(im->b, cx_day_today(), atoll(clk)))) {
      cli_err(cx_strerror(e), "import: CHENGXIN_TEST_CLOCK_MS=%s", clk);
      fault(im, e);
      return;
    }
    /* The local operator: unscoped; a feed row that revokes is audited under its name. */
    cx_audit_entry who;
    cli_audit_entry(&who, "import", "", "");
    cx_batch_actor actor = {who.who, who.role, CX_STR(""), 0, NULL, 0};
    if ((e = cx_batch_set_actor(im->b, &actor))) {
      cli_err(cx_strerror(e), "import: batch");
      fault(im, e);
      return;
    }
    cx_batch_on_refused(im->b, refused_row, im);
    im->bn = 0;
  }
  if (im->bn == im->bcap) {
    uint32_t cap = im->bcap ? im->bcap * 2 : 1024;
    long *nb = cx_realloc(im->bline, cap * sizeof *nb);
    if (!nb) {
      cli_err(cx_strerror(CX_ENOMEM), "import: batch");
      fault(im, CX_ENOMEM);
      return;
    }
    im->bline = nb;
    im->bcap = cap;
  }
  e = cx_batch_put(im->b, &r, &why);
  if (e == CX_ENOMEM) { /* not the row's fault: the batch cannot be written */
    cli_err(cx_strerror(e), "import: %s:%ld", im->file, line);
    fault(im, e);
    cx_batch_abort(im->b);
    im->b = NULL;
    return;
  }
  if (e) {
    reject(im, line, why ? why_src(p, used, src, n, why, wb, sizeof wb) : cx_strerror(e));
    return;
  }
  im->bline[im->bn++] = line;
  if (cx_batch_size(im->b) >= im->batch) commit_batch(im, 0);
  progress(im, 0);
}


/* ---------------------------------------------------------------- remote (ingest) */

/* Requests stay well below the server's default 1 MiB frame limit. */
#define REMOTE_MAX_BYTES (768u * 1024u)
#define REMOTE_MAX_RECORDS 10000u

#ifdef CX_HAVE_NET
static int rb_write(void *data, const char *p, size_t n) {
  importer *im = data;
  if (im->rb_n + n > im->rb_cap) {
    size_t cap = (im->rb_n + n) * 2;
    char *nb = cx_realloc(im->rb, cap);
    if (!nb) return -1;
    im->rb = nb;
    im->rb_cap = cap;
  }
  memcpy(im->rb + im->rb_n, p, n);
  im->rb_n += n;
  return 0;
}

typedef struct ingest_req {
  importer *im;
  const uint8_t *skip; /* rows left out (rejected by the server), may be NULL */
  uint32_t n;
} ingest_req;

static int pack_ingest(msgpack_packer *pk, void *ctx) {
  ingest_req *rq = ctx;
  importer *im = rq->im;
  msgpack_pack_str_with_body(pk, "records", 7);
  msgpack_pack_array(pk, rq->n);
  for (uint32_t i = 0; i < im->rn; i++) {
    if (rq->skip && rq->skip[i]) continue;
    size_t end = i + 1 < im->rn ? im->roff[i + 1] : im->rb_n;
    msgpack_pack_str_body(pk, im->rb + im->roff[i], end - im->roff[i]); /* raw packed map */
  }
  return 0;
}
#endif

static void remote_add(importer *im, const cx_str *names, const cx_str *vals, size_t n, long line) {
#ifdef CX_HAVE_NET
  if (im->rn == im->rcap) {
    uint32_t cap = im->rcap ? im->rcap * 2 : 1024;
    size_t *o = cx_realloc(im->roff, cap * sizeof *o);
    long *l = o ? cx_realloc(im->rline, cap * sizeof *l) : NULL;
    if (o) im->roff = o;
    if (!o || !l) {
      cli_err("out of memory", "import: %s:%ld", im->file, line);
      fault(im, CX_ENOMEM);
      return;
    }
    im->rline = l;
    im->rcap = cap;
  }
  size_t start = im->rb_n;
  msgpack_packer pk;
  msgpack_packer_init(&pk, im, rb_write);
  uint32_t k = 0;
  for (size_t i = 0; i < n; i++) k += vals[i].n > 0;
  msgpack_pack_map(&pk, k);
  for (size_t i = 0; i < n; i++) {
    if (!vals[i].n) continue;
    msgpack_pack_str_with_body(&pk, names[i].p, names[i].n);
    msgpack_pack_str_with_body(&pk, vals[i].p, vals[i].n);
  }
  im->roff[im->rn] = start;
  im->rline[im->rn] = line;
  im->rn++;
  if (im->rn >= REMOTE_MAX_RECORDS || im->rn >= im->batch || im->rb_n >= REMOTE_MAX_BYTES) remote_flush(im);
#else
  (void)names, (void)vals, (void)n;
  reject(im, line, "no network client in this build");
#endif
}

/* Sends the pending rows as one ingest. The server takes all or nothing: when it lists bad rows
 * (error.details[].index), those are reported with their lines and the rest is sent again. */
static int remote_flush(importer *im) {
#ifdef CX_HAVE_NET
  if (im->rn == 0) return 0;
  uint8_t *skip = cx_calloc(im->rn, 1);
  uint32_t left = im->rn;
  int rc = -1;
  if (!skip) goto done;
  for (int attempt = 0; attempt < 2 && left; attempt++) {
    ingest_req rq = {im, skip, left};
    cx_client_resp r;
    int e = cx_client_call(im->client, "ingest", 1, pack_ingest, &rq, &r);
    if (e) {
      cli_err(cx_strerror(e), "import: %s: ingest", im->file);
      break;
    }
    if (r.ok) {
      im->inserted += (uint64_t)cx_mpo_int(cx_mpo_get(r.result, "inserted"), 0);
      im->replaced += (uint64_t)cx_mpo_int(cx_mpo_get(r.result, "replaced"), 0);
      im->unchanged += (uint64_t)cx_mpo_int(cx_mpo_get(r.result, "unchanged"), 0);
      im->kept += (uint64_t)cx_mpo_int(cx_mpo_get(r.result, "kept_state"), 0);
      im->provisional += (uint64_t)cx_mpo_int(cx_mpo_get(r.result, "provisional"), 0);
      rc = 0;
      left = 0;
      break;
    }
    const msgpack_object *d = cx_mpo_get(r.error, "details");
    int code = cx_client_resp_err(&r);
    if (strcmp(cx_err_name(code), "bad_request") != 0 && code != CX_EFORBIDDEN) {
      /* the server could not write them (no space, read-only, busy, ...): not the rows' fault */
      cli_err(NULL, "import: %s: %u rows not written: %.*s", im->file, left, (int)r.err_message_len,
              r.err_message ? r.err_message : "");
      fault(im, code);
      left = 0;
      break;
    }
    if (!d || d->type != MSGPACK_OBJECT_ARRAY || d->via.array.size == 0 || attempt == 1) {
      cli_err(NULL, "import: %s: the server refused %u rows: %.*s", im->file, left, (int)r.err_message_len,
              r.err_message ? r.err_message : "");
      break;
    }
    /* map request indexes back to rows (skipped rows are not in the request) */
    for (uint32_t k = 0; k < d->via.array.size; k++) {
      int64_t idx = cx_mpo_int(cx_mpo_get(&d->via.array.ptr[k], "index"), -1);
      char msg[256];
      cx_mpo_str(cx_mpo_get(&d->via.array.ptr[k], "message"), msg, sizeof msg);
      for (uint32_t i = 0, j = 0; i < im->rn && idx >= 0; i++) {
        if (skip[i] == 1) continue; /* not in this request */
        if ((int64_t)j++ == idx) {
          if (!skip[i]) reject(im, im->rline[i], msg);
          skip[i] = 2;
          break;
        }
      }
    }
    for (uint32_t i = 0; i < im->rn; i++)
      if (skip[i] == 2) skip[i] = 1, left--;
  }
done:
  if (rc) { /* every row still pending counts as rejected */
    im->rejected += left;
    im->fatal = 1;
  }
  free(skip);
  im->rn = 0;
  im->rb_n = 0;
  return rc;
#else
  (void)im;
  return -1;
#endif
}

/* ---------------------------------------------------------------- CSV */

typedef struct csv_state {
  importer *im;
  long line, row_start;
  long qline; /* the line a quoted field still open began on (0: none) */
  int header_done, ncols_hdr;
  char **hdr; /* normalised header names (matched against the mapping) */
  char **raw; /* the header names as the file has them, blanks around cut (for messages) */
  plan plan;
  /* fields of the current row */
  char *buf;
  size_t buf_n, buf_cap;
  size_t *off, *len;
  int nf, nf_cap;
  int bad_encoding;
} csv_state;

static int utf8_valid(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s, *e = p + n;
  while (p < e) {
    if (*p < 0x80) {
      p++;
      continue;
    }
    int k = (*p & 0xE0) == 0xC0 ? 1 : (*p & 0xF0) == 0xE0 ? 2 : (*p & 0xF8) == 0xF0 ? 3 : -1;
    if (k < 0 || e - p <= k) return 0;
    for (int i = 1; i <= k; i++)
      if ((p[i] & 0xC0) != 0x80) return 0;
    p += k + 1;
  }
  return 1;
}

static void csv_field_cb(void *data, size_t n, void *ctx) {
  csv_state *cs = ctx;
  if (cs->nf == cs->nf_cap) {
    int cap = cs->nf_cap ? cs->nf_cap * 2 : 64;
    size_t *o2 = cx_realloc(cs->off, (size_t)cap * sizeof *o2);
    if (!o2) goto nomem;
    cs->off = o2;
    size_t *l2 = cx_realloc(cs->len, (size_t)cap * sizeof *l2);
    if (!l2) goto nomem;
    cs->len = l2;
    cs->nf_cap = cap;
  }
  if (cs->buf_n + n + 1 > cs->buf_cap) {
    size_t cap = (cs->buf_n + n + 1) * 2;
    char *b = cx_realloc(cs->buf, cap);
    if (!b) goto nomem;
    cs->buf = b;
    cs->buf_cap = cap;
  }
  if (n) memcpy(cs->buf + cs->buf_n, data, n);
  cs->off[cs->nf] = cs->buf_n;
  cs->len[cs->nf] = n;
  cs->buf_n += n;
  cs->buf[cs->buf_n++] = 0;
  cs->nf++;
  cs->qline = 0;
  return;
nomem:
  if (!cs->im->fatal) cli_err("out of memory", "import: %s", cs->im->file);
  fault(cs->im, CX_ENOMEM);
}

static void csv_row_cb(int term, void *ctx) {
  (void)term;
  csv_state *cs = ctx;
  importer *im = cs->im;
  long line = cs->row_start;
  cs->row_start = cs->line + 1;
  int nf = cs->nf;
  cs->nf = 0;
  cs->buf_n = 0;
  if (im->fatal) return;
  if (!cs->header_done) {
    cs->header_done = 1;
    cs->ncols_hdr = nf;
    cs->hdr = cx_calloc((size_t)nf + 1, sizeof *cs->hdr);
    cs->raw = cs->hdr ? cx_calloc((size_t)nf + 1, sizeof *cs->raw) : NULL;
    if (!cs->raw) {
      cli_err("out of memory", "import: %s", im->file);
      fault(im, CX_ENOMEM);
      return;
    }
    for (int i = 0; i < nf; i++) {
      if (!utf8_valid(cs->buf + cs->off[i], cs->len[i])) cs->bad_encoding = 1;
      char nb[512];
      norm_header(cs->buf + cs->off[i], cs->len[i], nb, sizeof nb);
      const char *rp = cs->buf + cs->off[i];
      size_t rn = cs->len[i];
      while (rn && (*rp == ' ' || *rp == '\t')) rp++, rn--;
      while (rn && (rp[rn - 1] == ' ' || rp[rn - 1] == '\t' || rp[rn - 1] == '\r' || rp[rn - 1] == '\n')) rn--;
      char *raw = cx_malloc(rn + 1);
      if (raw) {
        memcpy(raw, rp, rn);
        raw[rn] = 0;
      }
      cs->raw[i] = raw;
      if (!raw || !(cs->hdr[i] = cx_strdup(nb))) {
        cli_err("out of memory", "import: %s", im->file);
        fault(im, CX_ENOMEM);
        return;
      }
    }
    if (cs->bad_encoding) {
      cli_err("the header is not UTF-8 (GBK exports: --encoding gb18030)", "import: %s", im->file);
      im->fatal = 1;
      return;
    }
    int unknown[64], n_unknown = 0;
    int used = plan_build(&cs->plan, im->map, cs->hdr, nf, unknown, 64, &n_unknown);
    if (n_unknown) { /* once per file: nothing is dropped, but say what no field holds */
      char list[1024];
      size_t lo = 0;
      for (int k = 0; k < n_unknown && lo < sizeof list - 64; k++)
        lo += (size_t)snprintf(list + lo, sizeof list - lo, "%s'%s'", k ? ", " : "", cs->hdr[unknown[k]]);
      cli_progress_clear();
      fprintf(stderr, "%s:%ld: %d column%s %s by the %s: kept with each record as extra fields: %s\n",
              im->file, line, n_unknown, n_unknown > 1 ? "s" : "", n_unknown > 1 ? "are not known" : "is not known",
              im->map ? "mapping" : "canonical fields (use --mapping)", list);
    }
    if (used == 0) {
      cli_err("no column matches a canonical field or the mapping", "import: %s", im->file);
      im->fatal = 1;
    }
    return;
  }
  if (nf == 1 && cs->len[0] == 0) return; /* blank line */
  if (nf > cs->ncols_hdr) {
    for (int i = cs->ncols_hdr; i < nf; i++)
      if (cs->len[i]) {
        char why[96];
        snprintf(why, sizeof why, "%d fields, the header has %d", nf, cs->ncols_hdr);
        im->read++;
        reject(im, line, why);
        return;
      }
    nf = cs->ncols_hdr;
  }
  cx_str cols[512];
  if (nf > 512) nf = 512;
  for (int i = 0; i < nf; i++) cols[i] = (cx_str){cs->buf + cs->off[i], (uint32_t)cs->len[i]};
  import_row(im, &cs->plan, cols, (const char *const *)cs->raw, nf, line);
}

static void import_csv(importer *im, FILE *f) {
  struct csv_parser p;
  csv_state cs;
  memset(&cs, 0, sizeof cs);
  cs.im = im;
  cs.row_start = 1;
  if (csv_init(&p, CSV_APPEND_NULL) != 0) {
    cli_err("out of memory", "import");
    fault(im, CX_ENOMEM);
    return;
  }
  char *line = NULL, *conv = NULL;
  size_t cap = 0, conv_cap = 0;
  ssize_t n;
  iconv_t cd = (iconv_t)-1;
  while (!im->fatal && (n = getline(&line, &cap, f)) > 0) {
    cs.line++;
    im->bytes += (uint64_t)n;
    const char *s = line;
    if (cs.line == 1 && n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) s += 3, n -= 3;
    /* Excel exports of Chinese templates are often GBK: read them as GB18030 (a superset) */
    if (cs.line == 1 && (im->encoding == 2 || (im->encoding == 0 && !utf8_valid(s, (size_t)n)))) {
      cd = iconv_open("UTF-8", "GB18030");
      if (cd == (iconv_t)-1) {
        cli_err(strerror(errno), "import: %s: cannot convert from GB18030", im->file);
        im->fatal = 1;
        break;
      }
      if (im->encoding == 0 && !im->quiet)
        fprintf(stderr, "%s: not UTF-8; reading it as GB18030 (--encoding utf-8 to refuse)\n", im->file);
    }
    if (cd != (iconv_t)-1) {
      size_t need = (size_t)n * 2 + 16;
      if (need > conv_cap) {
        char *nc = cx_realloc(conv, need);
        if (!nc) {
          cli_err("out of memory", "import");
          fault(im, CX_ENOMEM);
          break;
        }
        conv = nc;
        conv_cap = need;
      }
      char *in = (char *)s, *out = conv;
      size_t inl = (size_t)n, outl = conv_cap;
      if (iconv(cd, &in, &inl, &out, &outl) == (size_t)-1) {
        cli_progress_clear();
        fprintf(stderr, "%s:%ld: not valid GB18030 text\n", im->file, cs.line);
        im->fatal = 1;
        break;
      }
      s = conv;
      n = (ssize_t)(conv_cap - outl);
    }
    if (csv_parse(&p, s, (size_t)n, csv_field_cb, csv_row_cb, &cs) != (size_t)n) {
      cli_progress_clear();
      fprintf(stderr, "%s:%ld: %s\n", im->file, cs.line, csv_strerror(csv_error(&p)));
      im->fatal = 1;
    }
    if (p.quoted && !cs.qline) cs.qline = cs.line; /* a quoted field is open at the line's end */
  }
  /* A quote that never closes swallows the rest of the file into one field: libcsv would hand
   * that field over as if it were closed (a row missing its later fields: "entity_code:
   * required"). Strict at the end only (strict parsing would refuse a stray quote inside an
   * unquoted field, which this importer keeps as text), so csv_fini says so, and the row is
   * rejected as what it is. The rows before it are kept: a bad row is skipped, as any other. */
  if (!im->fatal) {
    csv_set_opts(&p, CSV_APPEND_NULL | CSV_STRICT | CSV_STRICT_FINI);
    if (csv_fini(&p, csv_field_cb, csv_row_cb, &cs) != 0 && csv_error(&p) == CSV_EPARSE) {
      long from = cs.qline ? cs.qline : cs.row_start;
      cli_progress_clear();
      if (!cs.header_done) {
        fprintf(stderr, "%s:%ld: unclosed quote in the header (the field that starts on line %ld never ends)\n",
                im->file, cs.row_start, from);
        im->fatal = 1;
      } else {
        char why[128];
        snprintf(why, sizeof why, "unclosed quote (the field that starts on line %ld never ends)", from);
        im->read++;
        reject(im, cs.row_start, why);
      }
      cs.nf = 0;
      cs.buf_n = 0;
    }
  }
  if (ferror(f)) {
    cli_err(strerror(errno), "import: %s", im->file);
    im->fatal = 1;
  }
  csv_free(&p);
  free(line);
  free(conv);
  if (cd != (iconv_t)-1) iconv_close(cd);
  for (int i = 0; i < cs.ncols_hdr; i++) {
    free(cs.hdr ? cs.hdr[i] : NULL);
    free(cs.raw ? cs.raw[i] : NULL);
  }
  free(cs.hdr);
  free(cs.raw);
  free(cs.buf);
  free(cs.off);
  free(cs.len);
}

/* ---------------------------------------------------------------- JSON Lines */

static void import_jsonl(importer *im, FILE *f) {
  char *line = NULL;
  size_t cap = 0;
  ssize_t n;
  long ln = 0;
  char *keys[MAX_TARGETS * 2];
  const char *raw[MAX_TARGETS * 2]; /* the keys as the line has them (point into the object) */
  cx_str vals[MAX_TARGETS * 2];
  char *vbuf = NULL;
  size_t vcap = 0;
  while (!im->fatal && (n = getline(&line, &cap, f)) > 0) {
    ln++;
    im->bytes += (uint64_t)n;
    const char *s = line;
    if (ln == 1 && n >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) s += 3, n -= 3;
    size_t k = 0;
    while (k < (size_t)n && (s[k] == ' ' || s[k] == '\t' || s[k] == '\r' || s[k] == '\n')) k++;
    if (k == (size_t)n) continue; /* blank line */
    json_error_t jerr;
    json_t *o = json_loadb(s, (size_t)n, JSON_DECODE_ANY, &jerr);
    if (!o || !json_is_object(o)) {
      im->read++;
      char why[200];
      snprintf(why, sizeof why, "not a JSON object%s%s", o ? "" : ": ", o ? "" : jerr.text);
      reject(im, ln, why);
      json_decref(o);
      continue;
    }
    /* values as text, into one buffer */
    size_t need = (size_t)n * 2 + 64 * (json_object_size(o) + 1);
    if (need > vcap) {
      char *nb = cx_realloc(vbuf, need);
      if (!nb) {
        json_decref(o);
        break;
      }
      vbuf = nb;
      vcap = need;
    }
    int nk = 0, bad = 0;
    size_t vo = 0;
    const char *key;
    json_t *v;
    char why[200] = "";
    json_object_foreach(o, key, v) {
      if (nk == MAX_TARGETS * 2) break;
      size_t start = vo;
      switch (json_typeof(v)) {
      case JSON_STRING:
        memcpy(vbuf + vo, json_string_value(v), json_string_length(v));
        vo += json_string_length(v);
        break;
      case JSON_INTEGER: vo += (size_t)sprintf(vbuf + vo, "%lld", (long long)json_integer_value(v)); break;
      case JSON_REAL: {
        int w = sprintf(vbuf + vo, "%.6f", json_real_value(v));
        while (w > 1 && vbuf[vo + (size_t)w - 1] == '0') w--;
        if (vbuf[vo + (size_t)w - 1] == '.') w--;
        vo += (size_t)w;
        break;
      }
      case JSON_TRUE: vo += put(vbuf + vo, "true"); break;
      case JSON_FALSE: vo += put(vbuf + vo, "false"); break;
      case JSON_NULL: break;
      case JSON_ARRAY: {
        size_t i;
        json_t *x;
        json_array_foreach(v, i, x) {
          if (!json_is_string(x)) {
            snprintf(why, sizeof why, "%s: expected a list of strings", key);
            bad = 1;
            break;
          }
          if (i) vbuf[vo++] = ',';
          memcpy(vbuf + vo, json_string_value(x), json_string_length(x));
          vo += json_string_length(x);
        }
        break;
      }
      default:
        snprintf(why, sizeof why, "%s: nested object", key);
        bad = 1;
        break;
      }
      if (bad) break;
      char nb[512];
      norm_header(key, strlen(key), nb, sizeof nb);
      if (!(keys[nk] = cx_strdup(nb))) {
        cli_err("out of memory", "import: %s", im->file);
        fault(im, CX_ENOMEM);
        bad = 2;
        break;
      }
      raw[nk] = key;
      vals[nk] = (cx_str){vbuf + start, (uint32_t)(vo - start)};
      nk++;
    }
    if (bad == 1) {
      im->read++;
      reject(im, ln, why);
    } else if (!bad) {
      plan p;
      int unknown[64], n_unknown = 0;
      plan_build(&p, im->map, keys, nk, unknown, 64, &n_unknown);
      if (n_unknown && !im->warned_unknown) { /* once per file */
        im->warned_unknown = 1;
        cli_progress_clear();
        fprintf(stderr, "%s:%ld: keys not known by the %s (first: '%s') are kept with each record as extra fields\n",
                im->file, ln, im->map ? "mapping" : "canonical fields", keys[unknown[0]]);
      }
      import_row(im, &p, vals, raw, nk, ln);
    }
    for (int i = 0; i < nk; i++) free(keys[i]);
    json_decref(o);
  }
  if (ferror(f)) {
    cli_err(strerror(errno), "import: %s", im->file);
    im->fatal = 1;
  }
  free(line);
  free(vbuf);
}

/* ===================================================================== command */

static int ends_with(const char *s, const char *suf) {
  size_t n = strlen(s), k = strlen(suf);
  return n >= k && strcmp(s + n - k, suf) == 0;
}

/* --builder: the bulk load for a new store (auto), or always (bulk), or never (row). */
enum { BUILDER_AUTO, BUILDER_ROW, BUILDER_BULK };

/* The map a bulk load opens with: the load is one txn, under which the map cannot grow. The
 * store of the generator's CSV takes 2.3x its bytes (10M records: 7.2 GB of 3.2 GB, the row
 * path with its free pages); a JSON Lines file is larger than its store. Unmapped pages cost
 * nothing (the file is sparse). Input of unknown size (stdin, a pipe): 64 GiB. */
static uint64_t bulk_map_bytes(int nfiles, char **files, uint64_t used, uint64_t cur) {
  uint64_t in = 0;
  for (int i = 0; i < nfiles; i++) {
    struct stat sb;
    if (strcmp(files[i], "-") == 0 || stat(files[i], &sb) != 0 || !S_ISREG(sb.st_mode)) return cur > (64ull << 30) ? cur : 64ull << 30;
    in += (uint64_t)sb.st_size;
  }
  uint64_t want = 2 * used + 4 * in + (1ull << 30);
  return want > cur ? want : cur;
}

/*
 * Reopens the local store *st for a bulk load (store.h, cx_store_bulk_begin): with --builder
 * auto when it holds no record (a new store), always with --builder bulk. The bulk load is one
 * transaction per file in bulk mode (MDB_WRITEMAP), the summaries rebuilt once at its end:
 * issue 20. *st stays as it was when the store is not empty (auto); -1 after an error (*st
 * closed, the error said).
 */
static int bulk_open(const char *db, int builder, int nfiles, char **files, cx_store **st) {
  cx_store_info in;
  if (cx_store_info_get(*st, &in)) return 0; /* the row path says what is wrong */
  if (builder == BUILDER_AUTO && (in.records || in.entities)) return 0;
  cx_store_close(*st);
  *st = NULL;
  cx_store_opts so;
  memset(&so, 0, sizeof so);
  so.bulk = 1;
  so.map_size = bulk_map_bytes(nfiles, files, in.map_used, in.map_size);
  if (cli_store_open_opts(db, &so, st)) return -1;
  int e = cx_store_bulk_begin(*st);
  if (e) {
    cli_err(cx_store_errmsg(*st), "import: bulk load: %s", cx_strerror(e));
    cx_store_close(*st);
    *st = NULL;
    return -1;
  }
  return 0;
}

int cli_cmd_import(int argc, char **argv) {
  static const struct option opts[] = {
      {"db", required_argument, 0, 'd'},        {"mapping", required_argument, 0, 'm'},
      {"batch", required_argument, 0, 'b'},     {"format-in", required_argument, 0, 'f'},
      {"quiet", no_argument, 0, 'q'},           {"bulk", no_argument, 0, 'B'},
      {"connect", required_argument, 0, 'C'},   {"token-file", required_argument, 0, 'T'},
      {"encoding", required_argument, 0, 'E'},  {"threads", required_argument, 0, 't'},
      {"sync-every", required_argument, 0, 'S'}, {"builder", required_argument, 0, 'U'},
      {0, 0, 0, 0},
  };
  const char *db = NULL, *mapf = NULL, *fin = NULL, *connect = NULL, *token_file = NULL;
  uint64_t batch = 0, threads = 2, sync_every = IMPORT_LOAD_ROWS;
  int quiet = 0, bulk = 0, encoding = 0, c, sync_given = 0;
  int builder = BUILDER_AUTO;
  optind = 1;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 'B': bulk = 1; break;
    case 'C': connect = optarg; break;
    case 'E':
      if (!strcasecmp(optarg, "utf-8") || !strcasecmp(optarg, "utf8")) encoding = 1;
      else if (!strcasecmp(optarg, "gb18030") || !strcasecmp(optarg, "gbk") || !strcasecmp(optarg, "gb2312")) encoding = 2;
      else if (!strcasecmp(optarg, "auto")) encoding = 0;
      else return cli_usage("import: --encoding: expected auto, utf-8 or gb18030, got '%s'", optarg);
      break;
    case 'T': token_file = optarg; break;
    case 'd': db = optarg; break;
    case 'm': mapf = optarg; break;
    case 'b':
      if (cli_parse_u64(optarg, &batch) || batch == 0 || batch > 1000000)
        return cli_usage("import: --batch: expected 1..1000000, got '%s'", optarg);
      break;
    case 'f':
      if (strcmp(optarg, "csv") && strcmp(optarg, "jsonl"))
        return cli_usage("import: --format-in: expected csv or jsonl, got '%s'", optarg);
      fin = optarg;
      break;
    case 'q': quiet = 1; break;
    case 'U':
      if (!strcmp(optarg, "auto")) builder = BUILDER_AUTO;
      else if (!strcmp(optarg, "row")) builder = BUILDER_ROW;
      else if (!strcmp(optarg, "bulk")) builder = BUILDER_BULK;
      else return cli_usage("import: --builder: expected auto, row or bulk, got '%s'", optarg);
      break;
    case 'S':
      sync_given = 1;
      if (cli_parse_u64(optarg, &sync_every))
        return cli_usage("import: --sync-every: expected a number of rows (0: every batch), got '%s'", optarg);
      break;
    case 't':
      if (cli_parse_u64(optarg, &threads) || threads < 1 || threads > 2)
        return cli_usage("import: --threads: expected 1 or 2, got '%s'", optarg);
      break;
    default: return cli_usage("import: bad option");
    }
  }
  if (db && connect) return cli_usage("import: give --db PATH or --connect HOST:PORT, not both");
  cli_default_target(&db, &connect);
  if (!db && !connect) return cli_usage("import: give --db PATH or --connect HOST:PORT");
  if (optind >= argc) return cli_usage("import: no input FILE");
  const char *kill_after = getenv("CHENGXIN_TEST_KILL_AFTER");
  g_kill_after = kill_after ? strtoull(kill_after, NULL, 10) : 0;
  if (builder == BUILDER_BULK && connect) return cli_usage("import: --builder bulk writes a local store, not --connect");
  if (builder == BUILDER_BULK && sync_given && sync_every)
    return cli_usage("import: --builder bulk is one transaction per file: no --sync-every");
  mapping m;
  memset(&m, 0, sizeof m);
  if (mapf && mapping_load(mapf, &m)) return CLI_EXIT_USAGE;
  cx_store *st = NULL;
  cli_sess sess;
  memset(&sess, 0, sizeof sess);
  if (connect) {
    sess.cmd = "import";
    sess.connect = connect;
    sess.token_file = token_file;
    int e = cli_sess_open(&sess);
    if (e) {
      mapping_free(&m);
      return e;
    }
  } else if (cli_store_open(db, 0, 0, bulk, &st)) {
    mapping_free(&m);
    return CLI_EXIT_FAIL;
  } else if (builder != BUILDER_ROW && !(sync_given && sync_every) &&
             bulk_open(db, builder, argc - optind, argv + optind, &st)) {
    mapping_free(&m);
    return CLI_EXIT_FAIL;
  }
  importer im;
  memset(&im, 0, sizeof im);
  im.st = st;
  im.client = sess.client;
  im.encoding = encoding;
  im.map = mapf ? &m : NULL;
  /* Locally a batch of 10000 rows cost a commit (and its fsyncs) per 10000 rows, and every
   * commit rewrites the pages its records' refs, summaries and grams land on (random keys):
   * 100000 rows per commit halved the time of a 1M-record import (issue 20). A remote import
   * is capped by the request size anyway (REMOTE_MAX_RECORDS). */
  im.batch = batch ? batch : connect ? 10000 : IMPORT_BATCH_LOCAL;
  im.threads = (int)threads;
  /* Load mode, --sync-every N (one long txn, a child per batch, durable every N rows and at
   * each file's end; store.h): not with --bulk, whose MDB_WRITEMAP has no nested txns. */
  im.sync_every = st && cx_store_bulk_active(st) ? UINT64_MAX : sync_every; /* bulk: at each file's end */
  if (st && !bulk && !cx_store_bulk_active(st) && sync_every && cx_store_load_begin(st)) {
    cli_err(cx_store_errmsg(st), "import: load mode");
    cx_store_close(st);
    mapping_free(&m);
    return CLI_EXIT_FAIL;
  }
  im.quiet = quiet;
  im.tty = !quiet && isatty(2);
  im.t0 = cli_now();
  for (int i = optind; i < argc && !im.fatal; i++) {
    const char *path = argv[i];
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
    if (!f) {
      cli_err(strerror(errno), "import: %s", path);
      im.fatal = 1;
      break;
    }
    im.file = strcmp(path, "-") == 0 ? "<stdin>" : path;
    im.warned_unknown = 0;
    struct stat sb;
    im.total_bytes = fstat(fileno(f), &sb) == 0 && S_ISREG(sb.st_mode) ? (uint64_t)sb.st_size : 0;
    im.bytes = 0;
    int jsonl;
    if (fin) {
      jsonl = strcmp(fin, "jsonl") == 0;
    } else if (ends_with(path, ".jsonl") || ends_with(path, ".ndjson") || ends_with(path, ".json")) {
      jsonl = 1;
    } else if (ends_with(path, ".csv") || ends_with(path, ".txt")) {
      jsonl = 0;
    } else { /* sniff the first non-blank byte */
      int ch;
      while ((ch = getc(f)) == ' ' || ch == '\n' || ch == '\r' || ch == '\t' || ch == 0xEF || ch == 0xBB || ch == 0xBF) {
      }
      jsonl = ch == '{';
      if (ch != EOF) ungetc(ch, f);
    }
    if (jsonl)
      import_jsonl(&im, f);
    else
      import_csv(&im, f);
    if (f != stdin) fclose(f);
    if (!im.fatal) commit(&im); /* files do not share a batch: errors stay per file */
  }
  if (im.b) cx_batch_abort(im.b); /* a fatal error: the open batch is not written */
  im.b = NULL;
  if (im.writer_up) writer_stop(&im); /* the writer's batch and the last load commit */
  else if (st) load_done(&im, load_finish(&im));
  progress(&im, 1);
  double secs = cli_now() - im.t0;
  if (im.fault) { /* rows read and neither written nor rejected: not written */
    uint64_t done = im.inserted + im.replaced + im.unchanged + im.rejected;
    im.not_written = im.read > done ? im.read - done : 0;
  }
  if (!quiet || im.rejected || im.not_written)
    fprintf(stderr,
            "import: %llu rows read, %llu inserted, %llu replaced, %llu unchanged, %llu rejected, "
            "%llu not written in %.2f s (%.0f rows/s); %llu kept their lifecycle state (repaired, "
            "revoked or objection)\n",
            (unsigned long long)im.read, (unsigned long long)im.inserted,
            (unsigned long long)im.replaced, (unsigned long long)im.unchanged,
            (unsigned long long)im.rejected, (unsigned long long)im.not_written, secs,
            secs > 0 ? (double)im.read / secs : 0.0, (unsigned long long)im.kept);
  if (im.provisional) /* a warning, even with --quiet: these figures will change */
    fprintf(stderr,
            "import: warning: %llu written record%s a provisional report delay: %s a year whose "
            "State Council holiday notice the calendar does not hold, so its working days are "
            "weekdays less the statutory holidays, without the notice's swaps; load the notice with "
            "`chengxin load-calendar` and the delays are recomputed\n",
            (unsigned long long)im.provisional, im.provisional == 1 ? " has" : "s have",
            im.provisional == 1 ? "its span touches" : "their spans touch");
  if (st) cx_store_close(st);
  cli_sess_close(&sess);
  free(im.arena);
  free(im.rb);
  free(im.roff);
  free(im.rline);
  free(im.bline);
  mapping_free(&m);
  /* A fault (nothing written) says what it was; rows rejected by their content exit 1. */
  if (im.fault) {
    int x = cli_exit_for(im.fault);
    return x == CLI_EXIT_NO_SPACE || x == CLI_EXIT_READ_ONLY ? x : CLI_EXIT_NOT_WRITTEN;
  }
  return im.fatal || im.rejected ? CLI_EXIT_FAIL : 0;
}
