/* test_faults.c — store faults: a full reader table, reader slots left by killed processes
 * (and the snapshot they pin), a store of a newer schema, a data file that is not a store, and
 * queries on a read-only file system (a real read-only tmpfs in a private mount namespace) or
 * as a user who cannot write the lock file. Map growth is in test_batch.c.
 *
 * Reader processes are forked children with their own handle (LMDB forbids using an env
 * across fork); each dies with the test process (PR_SET_PDEATHSIG). Children that run checks
 * report through a pipe and an exit status: Criterion's asserts are for the test process. */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <lmdb.h> /* only to put the schema version back in the newer-schema test */
#include <sched.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"

static char dir[256];
static void setup(void) { cx_test_tmpdir(dir, sizeof dir); }
static void teardown(void) { cx_test_rmrf(dir); }
TestSuite(faults, .init = setup, .fini = teardown);

/* ------------------------------------------------------------------ helpers */

static int open_rc(const char *path, int create, int read_only, unsigned max_readers,
                   cx_store **out) {
  cx_store_opts o = {0};
  o.create = create;
  o.read_only = read_only;
  o.max_readers = max_readers;
  o.map_size = 8u << 20;
  return cx_store_open(path, &o, out);
}

static cx_store *open_ok(const char *path, int create, int read_only, unsigned max_readers) {
  cx_store *st = NULL;
  int rc = open_rc(path, create, read_only, max_readers, &st);
  cr_assert_eq(rc, 0, "open %s: %s (%s)", path, cx_strerror(rc), cx_store_errmsg(NULL));
  return st;
}

/* One batch: n entities with one penalty each (record ids F-0 .. F-n-1), amount by round, so a
 * later round replaces every record (and rewrites summaries and rollups). No Criterion assert:
 * also used in forked children. */
static int fill_rc(cx_store *st, int n, int round) {
  char a[19];
  fx_auth(1, a);
  cx_batch *b;
  int rc = cx_batch_begin(st, &b);
  if (rc) return rc;
  for (int e = 0; e < n; e++) {
    char c[19], name[64], rid[32];
    fx_uscc((unsigned)e + 1, c);
    snprintf(name, sizeof name, "故障测试%d有限公司", e);
    snprintf(rid, sizeof rid, "F-%d", e);
    cx_record r;
    cx_day d = 0;
    cx_day_from_ymd(2024, 1 + e % 12, 1 + e % 28, &d);
    fx_record(&r, c, name, a, rid, d);
    r.amount_fen = 100 * (round + 1);
    const char *why = NULL;
    if ((rc = cx_batch_put(b, &r, &why))) {
      cx_batch_abort(b);
      return rc;
    }
  }
  return cx_batch_commit(b, NULL);
}

static void fill(cx_store *st, int n, int round) {
  int rc = fill_rc(st, n, round);
  cr_assert_eq(rc, 0, "commit: %s (%s)", cx_strerror(rc), cx_store_errmsg(st));
}

static cx_store_info info(cx_store *st) {
  cx_store_info in;
  int rc = cx_store_info_get(st, &in);
  cr_assert_eq(rc, 0, "info: %s (%s)", cx_strerror(rc), cx_store_errmsg(st));
  return in;
}

/* Forks a process that opens the store with its own handle, begins a read txn (a snapshot and
 * a reader slot) and holds it until killed. Returns once the txn is live. */
static pid_t reader_child(const char *path) {
  int p[2];
  cr_assert_eq(pipe(p), 0);
  pid_t parent = getpid();
  pid_t pid = fork();
  cr_assert_neq(pid, -1);
  if (pid == 0) {
    close(p[0]);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (getppid() != parent) _exit(2);
    cx_store *s = NULL;
    cx_txn *t = NULL;
    char ok = 'y';
    if (open_rc(path, 0, 1, 0, &s) || cx_store_txn_begin(s, &t)) ok = 'n';
    if (write(p[1], &ok, 1) != 1 || ok != 'y') _exit(1);
    for (;;) pause();
  }
  close(p[1]);
  char c = 0;
  ssize_t k = read(p[0], &c, 1);
  close(p[0]);
  cr_assert(k == 1 && c == 'y', "reader child %d could not begin a read txn", (int)pid);
  return pid;
}

static void kill_child(pid_t pid) {
  cr_assert_eq(kill(pid, SIGKILL), 0);
  int ws = 0;
  cr_assert_eq(waitpid(pid, &ws, 0), pid);
  cr_assert(WIFSIGNALED(ws) && WTERMSIG(ws) == SIGKILL);
}

/* Runs fn(ctx, msgfd) in a forked child; returns its exit status and its message (the pipe). */
typedef void (*child_fn)(void *ctx, int msgfd);
static int run_child(child_fn fn, void *ctx, char *msg, size_t cap) {
  int p[2];
  cr_assert_eq(pipe(p), 0);
  fflush(NULL);
  pid_t pid = fork();
  cr_assert_neq(pid, -1);
  if (pid == 0) {
    close(p[0]);
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    fn(ctx, p[1]);
    _exit(0);
  }
  close(p[1]);
  size_t n = 0;
  ssize_t k;
  while (n + 1 < cap && (k = read(p[0], msg + n, cap - 1 - n)) > 0) n += (size_t)k;
  msg[n] = 0;
  close(p[0]);
  int ws = 0;
  cr_assert_eq(waitpid(pid, &ws, 0), pid);
  cr_assert(WIFEXITED(ws), "child died by signal %d: %s", WIFSIGNALED(ws) ? WTERMSIG(ws) : 0, msg);
  return WEXITSTATUS(ws);
}

/* In a child: writes a message to the pipe and exits with status (1 = failed, 77 = skip). */
static void child_exit(int fd, int status, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void child_exit(int fd, int status, const char *fmt, ...) {
  char b[1024];
  va_list ap;
  va_start(ap, fmt);
  int n = vsnprintf(b, sizeof b, fmt, ap);
  va_end(ap);
  if (n > 0 && write(fd, b, (size_t)n < sizeof b ? (size_t)n : sizeof b - 1) < 0) status = 3;
  _exit(status);
}
#define CHECK(fd, cond, ...) do { if (!(cond)) child_exit(fd, 1, __VA_ARGS__); } while (0)

/* ------------------------------------------------------------------ reader table full */

Test(faults, full_reader_table_gives_ereaders_until_a_slot_frees) {
  cx_store *st = open_ok(dir, 1, 0, 4);
  fill(st, 10, 0);
  cx_store_info in = info(st);
  cr_assert_eq(in.max_readers, 4);
  cr_assert_eq(in.readers_used, 0);

  cx_txn *t[4];
  for (int i = 0; i < 4; i++) cr_assert_eq(cx_store_txn_begin(st, &t[i]), 0);
  for (int i = 0; i < 100; i++) { /* refused cleanly, again and again: no slot or memory kept */
    cx_txn *x = NULL;
    int rc = cx_store_txn_begin(st, &x);
    cr_assert_eq(rc, CX_EREADERS, "got %s", cx_strerror(rc));
    cr_assert_null(x);
  }
  cr_assert(strstr(cx_store_errmsg(st), "reader table full") != NULL, "%s", cx_store_errmsg(st));
  cr_assert(strstr(cx_store_errmsg(st), "4 slots") != NULL, "%s", cx_store_errmsg(st));
  /* the protocol code of CX_EREADERS: the server answers `busy`, not `internal` */
  cr_assert_str_eq(cx_err_name(CX_EREADERS), "busy");
  /* info needs a snapshot too */
  cr_assert_eq(cx_store_info_get(st, &in), CX_EREADERS);

  /* a writer takes no reader slot: batches still commit, the held snapshots keep their view */
  fill(st, 10, 1);
  char code[19];
  fx_uscc(1, code);
  cx_summary s;
  cr_assert_eq(cx_store_summary_get(t[0], code, &s), 0);
  cr_assert_eq(s.n_recs, 1);

  /* a reset txn keeps its slot (MDB_NOTLS): still full */
  cx_store_txn_reset(t[0]);
  cx_txn *x = NULL;
  cr_assert_eq(cx_store_txn_begin(st, &x), CX_EREADERS);
  cr_assert_eq(cx_store_txn_renew(t[0]), 0);

  /* an ended one frees its slot for the next begin */
  cx_store_txn_end(t[3]);
  cr_assert_eq(cx_store_txn_begin(st, &t[3]), 0);
  cr_assert_eq(cx_store_summary_get(t[3], code, &s), 0);
  for (int i = 0; i < 4; i++) cx_store_txn_end(t[i]);
  in = info(st);
  cr_assert_eq(in.readers_used, 0, "slots leaked: %u", in.readers_used);
  for (int i = 0; i < 4; i++) cr_assert_eq(cx_store_txn_begin(st, &t[i]), 0);
  for (int i = 0; i < 4; i++) cx_store_txn_end(t[i]);
  cx_store_close(st);
}

Test(faults, readers_of_other_processes_fill_the_table_and_a_killed_one_frees_its_slot) {
  cx_store *st = open_ok(dir, 1, 0, 4); /* this process: the long-running server */
  fill(st, 10, 0);
  pid_t kid[4];
  for (int i = 0; i < 4; i++) kid[i] = reader_child(dir);
  cx_txn *x = NULL;
  cr_assert_eq(cx_store_txn_begin(st, &x), CX_EREADERS); /* four live readers elsewhere */

  kill_child(kid[0]);
  /* its slot is stale: the begin clears it and retries, no reopen needed */
  int rc = cx_store_txn_begin(st, &x);
  cr_assert_eq(rc, 0, "%s (%s)", cx_strerror(rc), cx_store_errmsg(st));
  cx_store_txn_end(x);

  for (int i = 1; i < 4; i++) kill_child(kid[i]);
  /* three stale slots still count as used: nothing has cleared them yet */
  cr_assert_eq(info(st).readers_used, 3);
  /* a commit clears stale slots before its write txn */
  fill(st, 10, 1);
  cr_assert_eq(info(st).readers_used, 0);
  cx_store_close(st);
}

static void open_close_child(void *ctx, int fd) {
  cx_store *s = NULL;
  int rc = open_rc(ctx, 0, 1, 0, &s);
  CHECK(fd, rc == 0, "open: %s (%s)", cx_strerror(rc), cx_store_errmsg(NULL));
  cx_store_close(s);
}

Test(faults, stale_slot_of_a_killed_reader_counts_until_the_next_open_clears_it) {
  cx_store *st = open_ok(dir, 1, 0, 8);
  fill(st, 10, 0);
  pid_t kid = reader_child(dir);
  cr_assert_eq(info(st).readers_used, 1);
  kill_child(kid);
  cr_assert_eq(info(st).readers_used, 1, "the killed reader's slot stays taken");
  char msg[1024];
  cr_assert_eq(run_child(open_close_child, dir, msg, sizeof msg), 0, "%s", msg);
  cr_assert_eq(info(st).readers_used, 0, "an open in a new process clears it");
  cx_store_close(st);
}

Test(faults, long_running_process_recovers_every_slot_taken_by_killed_readers) {
  cx_store *st = open_ok(dir, 1, 0, 4); /* open before the readers, never reopened */
  fill(st, 10, 0);
  pid_t kid[4];
  for (int i = 0; i < 4; i++) kid[i] = reader_child(dir);
  for (int i = 0; i < 4; i++) kill_child(kid[i]);
  cx_txn *t[4];
  for (int i = 0; i < 4; i++) {
    int rc = cx_store_txn_begin(st, &t[i]);
    cr_assert_eq(rc, 0, "begin %d: %s (%s)", i, cx_strerror(rc), cx_store_errmsg(st));
  }
  char code[19];
  fx_uscc(3, code);
  cx_summary s;
  cr_assert_eq(cx_store_summary_get(t[3], code, &s), 0);
  for (int i = 0; i < 4; i++) cx_store_txn_end(t[i]);
  cr_assert_eq(info(st).readers_used, 0);
  cx_store_close(st);
}

/* A reader's snapshot keeps every page freed after it from reuse, so while a reader holds an
 * old snapshot each commit (copy-on-write) grows the file. A killed reader's slot would do
 * that forever; cleared at the next write txn, the pages become free again. */
Test(faults, killed_readers_snapshot_stops_pinning_pages_at_the_next_commit) {
  cx_store *st = open_ok(dir, 1, 0, 0);
  fill(st, 300, 0);
  pid_t kid = reader_child(dir);
  uint64_t u0 = info(st).map_used;
  for (int r = 1; r <= 12; r++) fill(st, 300, r);
  uint64_t u1 = info(st).map_used;
  kill_child(kid);
  for (int r = 13; r <= 24; r++) fill(st, 300, r);
  uint64_t u2 = info(st).map_used;
  uint64_t page = info(st).page_size;
  cr_log_info("map used: %llu -> %llu with a live old snapshot, -> %llu after its kill",
              (unsigned long long)u0, (unsigned long long)u1, (unsigned long long)u2);
  cr_assert_gt(u1 - u0, 24 * page, "a held snapshot should make commits grow the file");
  cr_assert_lt(u2 - u1, (u1 - u0) / 4, "after the kill, commits should reuse pages: %llu -> %llu",
               (unsigned long long)u1, (unsigned long long)u2);
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0);
  cx_store_close(st);
}

/* ------------------------------------------------------------------ schema, garbage */

static uint64_t file_hash(const char *path, size_t *len) {
  FILE *f = fopen(path, "rb");
  cr_assert(f, "%s: %s", path, strerror(errno));
  uint64_t h = 1469598103934665603ull;
  size_t n = 0;
  int c;
  while ((c = fgetc(f)) != EOF) {
    h = (h ^ (unsigned char)c) * 1099511628211ull;
    n++;
  }
  fclose(f);
  if (len) *len = n;
  return h;
}

/* Writes meta "schema" with LMDB directly: the store API refuses to open such a store. */
static void raw_set_schema(const char *path, uint32_t v) {
  MDB_env *env;
  MDB_txn *txn;
  MDB_dbi dbi;
  cr_assert_eq(mdb_env_create(&env), 0);
  mdb_env_set_maxdbs(env, 16);
  cr_assert_eq(mdb_env_open(env, path, 0, 0644), 0);
  cr_assert_eq(mdb_txn_begin(env, NULL, 0, &txn), 0);
  cr_assert_eq(mdb_dbi_open(txn, "meta", 0, &dbi), 0);
  MDB_val k = {6, "schema"}, d = {4, &v};
  cr_assert_eq(mdb_put(txn, dbi, &k, &d, 0), 0);
  cr_assert_eq(mdb_txn_commit(txn), 0);
  mdb_env_close(env);
}

Test(faults, store_of_a_newer_schema_is_refused_and_left_untouched) {
  cx_store *st = open_ok(dir, 1, 0, 0);
  fill(st, 20, 0);
  cr_assert_eq(cx_store_debug_set_schema(st, CX_SCHEMA_VERSION + 1), 0);
  cx_store_close(st);
  char file[512], found[64], needs[64];
  snprintf(file, sizeof file, "%s/data.mdb", dir);
  snprintf(found, sizeof found, "schema version %u", CX_SCHEMA_VERSION + 1);
  snprintf(needs, sizeof needs, "needs %u", CX_SCHEMA_VERSION);
  size_t len0, len1;
  uint64_t h0 = file_hash(file, &len0);

  struct { int create, read_only; } modes[] = {{0, 0}, {0, 1}, {1, 0}};
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
    cx_store *x = NULL;
    int rc = open_rc(dir, modes[i].create, modes[i].read_only, 0, &x);
    const char *m = cx_store_errmsg(NULL);
    cr_assert_eq(rc, CX_EVERSION, "mode %zu: %s (%s)", i, cx_strerror(rc), m);
    cr_assert_null(x);
    cr_assert(strstr(m, found) && strstr(m, needs) && strstr(m, "newer"), "message: %s", m);
  }
  cr_assert_eq(file_hash(file, &len1), h0, "a refused open must not write the data file");
  cr_assert_eq(len1, len0);

  raw_set_schema(dir, CX_SCHEMA_VERSION); /* what the newer build's data looks like to us again */
  st = open_ok(dir, 0, 0, 0);
  cr_assert_eq(info(st).records, 20);
  cr_assert_eq(cx_store_verify(st, NULL, NULL), 0);
  cx_store_close(st);
}

/* A store of a layout older than this wave's (schema 1) is not read with this build's
 * decoders: every open mode refuses it, says what to do, and writes nothing. Schemas 2 and 3
 * migrate in place (tests/store/test_upgrade.c, docs/operations.md). */
Test(faults, store_of_an_older_schema_is_refused_with_the_remedy_and_left_untouched) {
  cx_store *st = open_ok(dir, 1, 0, 0);
  fill(st, 20, 0);
  cr_assert_eq(cx_store_debug_set_schema(st, 1), 0);
  cx_store_close(st);
  char file[512], found[64];
  snprintf(file, sizeof file, "%s/data.mdb", dir);
  snprintf(found, sizeof found, "schema version %u, this build needs %u", 1u,
           CX_SCHEMA_VERSION);
  size_t len0, len1;
  uint64_t h0 = file_hash(file, &len0);
  struct { int create, read_only; } modes[] = {{0, 0}, {0, 1}, {1, 0}};
  for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++) {
    cx_store *x = NULL;
    int rc = open_rc(dir, modes[i].create, modes[i].read_only, 0, &x);
    const char *m = cx_store_errmsg(NULL);
    cr_assert_eq(rc, CX_EVERSION, "mode %zu: %s (%s)", i, cx_strerror(rc), m);
    cr_assert_null(x);
    cr_assert(strstr(m, found) && strstr(m, "older") && strstr(m, "re-import"), "message: %s", m);
  }
  cr_assert_eq(file_hash(file, &len1), h0, "a refused open must not write the data file");
  cr_assert_eq(len1, len0);
}

static void write_file(const char *path, const void *p, size_t n) {
  FILE *f = fopen(path, "wb");
  cr_assert(f, "%s: %s", path, strerror(errno));
  cr_assert_eq(fwrite(p, 1, n, f), n);
  fclose(f);
}

static void expect_open_error(const char *path, int read_only, int code, const char *what) {
  cx_store *x = NULL;
  int rc = open_rc(path, 0, read_only, 0, &x);
  cr_assert_eq(rc, code, "%s (read_only %d): got %s (%s)", what, read_only, cx_strerror(rc),
               cx_store_errmsg(NULL));
  cr_assert_null(x);
  cr_assert_gt(strlen(cx_store_errmsg(NULL)), 0);
}

/* Whole-file damage is caught by LMDB's meta page checks. Damage inside B-tree pages is not
 * tested: LMDB has no page checksums and trusts node sizes and page numbers, so noise over one
 * page in five crashed a reader (SIGBUS or SIGSEGV in the child) for 8 seeds out of 40 when we
 * tried. Restore such a store from a backup (docs/operations.md). */
Test(faults, data_file_that_is_not_a_store_is_a_clear_error) {
  char path[512], file[600];
  /* 64 KiB of noise */
  snprintf(path, sizeof path, "%s/noise", dir);
  cr_assert_eq(mkdir(path, 0755), 0);
  snprintf(file, sizeof file, "%s/data.mdb", path);
  static unsigned char noise[65536];
  uint64_t x = 0x9E3779B97F4A7C15ull;
  for (size_t i = 0; i < sizeof noise; i++) {
    x ^= x << 13; x ^= x >> 7; x ^= x << 17;
    noise[i] = (unsigned char)x;
  }
  write_file(file, noise, sizeof noise);
  expect_open_error(path, 0, CX_ECORRUPT, "noise");
  expect_open_error(path, 1, CX_ECORRUPT, "noise");
  cr_assert(strstr(cx_store_errmsg(NULL), "not an LMDB file"), "%s", cx_store_errmsg(NULL));

  /* a text file in its place */
  snprintf(path, sizeof path, "%s/text", dir);
  cr_assert_eq(mkdir(path, 0755), 0);
  snprintf(file, sizeof file, "%s/data.mdb", path);
  const char *text = "entity_code,entity_name\n91350100M000100Y43,甲公司\n";
  write_file(file, text, strlen(text));
  expect_open_error(path, 0, CX_ECORRUPT, "text");
  expect_open_error(path, 1, CX_ECORRUPT, "text");

  /* a real store whose meta pages were wiped (a torn copy): LMDB finds no valid meta */
  snprintf(path, sizeof path, "%s/wiped", dir);
  cx_store *st = open_ok(path, 1, 0, 0);
  fill(st, 20, 0);
  cx_store_close(st);
  snprintf(file, sizeof file, "%s/data.mdb", path);
  FILE *f = fopen(file, "r+b");
  cr_assert(f);
  static unsigned char zero[8192];
  cr_assert_eq(fwrite(zero, 1, sizeof zero, f), sizeof zero);
  fclose(f);
  expect_open_error(path, 1, CX_ECORRUPT, "wiped meta");
  expect_open_error(path, 0, CX_ECORRUPT, "wiped meta");
}

/* ------------------------------------------------------------------ read-only file system */

typedef struct ro_ctx {
  char base[256];
  char bin[512];
} ro_ctx;

/* Queries through the store API on a store where nothing can be written. */
static void ro_queries(int fd, const char *db) {
  cx_store *st = NULL;
  int rc = open_rc(db, 0, 1, 0, &st);
  CHECK(fd, rc == 0, "%s: read-only open: %s (%s)", db, cx_strerror(rc), cx_store_errmsg(NULL));
  cx_txn *t = NULL;
  CHECK(fd, cx_store_txn_begin(st, &t) == 0, "%s: txn: %s", db, cx_store_errmsg(st));
  char code[19];
  fx_uscc(7, code);
  cx_summary s;
  CHECK(fd, cx_store_summary_get(t, code, &s) == 0 && s.n_recs == 1, "%s: summary", db);
  cx_record r;
  CHECK(fd, cx_store_record_get(t, CX_STR("F"), CX_STR("F-6"), NULL, &r) == CX_ENOTFOUND,
        "%s: record_get of an unknown authority", db);
  cx_store_txn_reset(t);
  CHECK(fd, cx_store_txn_renew(t) == 0, "%s: renew", db);
  CHECK(fd, cx_store_summary_get(t, code, &s) == 0, "%s: summary after renew", db);
  cx_store_txn_end(t);
  cx_store_info in;
  CHECK(fd, cx_store_info_get(st, &in) == 0 && in.records == 20, "%s: info", db);
  CHECK(fd, cx_store_verify(st, NULL, NULL) == 0, "%s: verify", db);
  cx_batch *b = NULL;
  CHECK(fd, cx_batch_begin(st, &b) == CX_EROFS, "%s: batch on a read-only handle", db);
  cx_store_close(st);

  /* writes fail with a clear code and message */
  for (int create = 0; create <= 1; create++) {
    rc = open_rc(db, create, 0, 0, &st);
    CHECK(fd, rc == CX_EROFS, "%s: writable open (create %d): %s (%s)", db, create,
          cx_strerror(rc), cx_store_errmsg(NULL));
    CHECK(fd, strstr(cx_store_errmsg(NULL), "Read-only file system"), "%s: message '%s'", db,
          cx_store_errmsg(NULL));
  }
}

static void ro_child(void *vctx, int fd) {
  ro_ctx *c = vctx;
  /* fork() made us single-threaded: unshare(CLONE_NEWNS) needs that */
  if (unshare(CLONE_NEWNS))
    child_exit(fd, 77, "unshare(CLONE_NEWNS) refused: %s: no read-only mount test", strerror(errno));
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
    child_exit(fd, 77, "mount --make-rprivate /: %s", strerror(errno));
  char mnt[300], db[320], nolock[320], lock[340], probe[320];
  snprintf(mnt, sizeof mnt, "%s/ro", c->base);
  CHECK(fd, mkdir(mnt, 0755) == 0, "mkdir %s: %s", mnt, strerror(errno));
  if (mount("cxtest", mnt, "tmpfs", 0, "size=64m"))
    child_exit(fd, 77, "mount tmpfs on %s: %s", mnt, strerror(errno));

  snprintf(db, sizeof db, "%s/db", mnt);
  snprintf(nolock, sizeof nolock, "%s/nolock", mnt);
  const char *paths[2] = {db, nolock};
  for (int i = 0; i < 2; i++) {
    cx_store *st = NULL;
    int rc = open_rc(paths[i], 1, 0, 0, &st);
    CHECK(fd, rc == 0, "create %s: %s (%s)", paths[i], cx_strerror(rc), cx_store_errmsg(NULL));
    CHECK(fd, (rc = fill_rc(st, 20, 0)) == 0, "fill: %s", cx_strerror(rc));
    cx_store_close(st);
  }
  snprintf(lock, sizeof lock, "%s/lock.mdb", nolock);
  CHECK(fd, unlink(lock) == 0, "unlink %s: %s", lock, strerror(errno));

  if (mount(NULL, mnt, NULL, MS_REMOUNT | MS_RDONLY, NULL))
    child_exit(fd, 1, "remount %s read-only: %s", mnt, strerror(errno));
  snprintf(probe, sizeof probe, "%s/probe", mnt);
  int pfd = open(probe, O_CREAT | O_WRONLY, 0644);
  CHECK(fd, pfd < 0 && errno == EROFS, "the mount is not read-only (open: %s)", strerror(errno));

  ro_queries(fd, db);     /* lock.mdb present but not writable */
  ro_queries(fd, nolock); /* no lock.mdb, and none can be created */
  CHECK(fd, access(lock, F_OK) != 0, "a lock file appeared");

  /* the CLI's read-only query path, same mount */
  char code[19], cmd[2048], out[340];
  fx_uscc(7, code);
  snprintf(out, sizeof out, "%s/cli.out", c->base);
  for (int i = 0; i < 2; i++) {
    snprintf(cmd, sizeof cmd, "'%s' status --db '%s' %s > '%s' 2>&1", c->bin, paths[i], code, out);
    int rc = cx_test_sh("%s", cmd);
    char text[4096] = "";
    FILE *f = fopen(out, "r");
    if (f) {
      size_t n = fread(text, 1, sizeof text - 1, f);
      text[n] = 0;
      fclose(f);
    }
    CHECK(fd, rc == 0 && strstr(text, "故障测试6有限公司"), "chengxin status on %s: exit %d: %s",
          paths[i], rc, text);
  }
  snprintf(cmd, sizeof cmd, "'%s' init --db '%s' > '%s' 2>&1", c->bin, db, out);
  int rc = cx_test_sh("%s", cmd);
  CHECK(fd, rc != 0, "chengxin init on a read-only mount succeeded");
  umount2(mnt, MNT_DETACH);
}

Test(faults, queries_work_on_a_read_only_file_system_and_writes_fail_clearly) {
  ro_ctx c;
  snprintf(c.base, sizeof c.base, "%s", dir);
  cx_test_bin("chengxin", c.bin, sizeof c.bin);
  char msg[1024];
  int st = run_child(ro_child, &c, msg, sizeof msg);
  if (st == 77) cr_skip_test("%s", msg);
  cr_assert_eq(st, 0, "%s", msg);
}

/* A batch of n records with 4 KiB contents, record ids starting at first. */
static int fill_big(cx_store *st, int first, int n) {
  char a[19], c[19];
  fx_auth(1, a);
  fx_uscc(9, c);
  static char content[4001];
  memset(content, 'x', 4000);
  cx_batch *b;
  int rc = cx_batch_begin(st, &b);
  if (rc) return rc;
  for (int i = 0; i < n; i++) {
    char rid[32];
    snprintf(rid, sizeof rid, "BIG-%d", first + i);
    cx_record r;
    fx_record(&r, c, "满盘测试有限公司", a, rid, fx_day(2024, 3, 1));
    r.content = cx_str_c(content);
    const char *why = NULL;
    if ((rc = cx_batch_put(b, &r, &why))) {
      cx_batch_abort(b);
      return rc;
    }
  }
  return cx_batch_commit(b, NULL);
}

static void full_child(void *vctx, int fd) {
  ro_ctx *c = vctx;
  if (unshare(CLONE_NEWNS))
    child_exit(fd, 77, "unshare(CLONE_NEWNS) refused: %s: no disk-full test", strerror(errno));
  if (mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
    child_exit(fd, 77, "mount --make-rprivate /: %s", strerror(errno));
  char mnt[300], db[320];
  snprintf(mnt, sizeof mnt, "%s/full", c->base);
  CHECK(fd, mkdir(mnt, 0755) == 0, "mkdir %s: %s", mnt, strerror(errno));
  if (mount("cxtest", mnt, "tmpfs", 0, "size=3m"))
    child_exit(fd, 77, "mount tmpfs on %s: %s", mnt, strerror(errno));
  snprintf(db, sizeof db, "%s/db", mnt);
  cx_store *st = NULL;
  int rc = open_rc(db, 1, 0, 0, &st);
  CHECK(fd, rc == 0, "create %s: %s (%s)", db, cx_strerror(rc), cx_store_errmsg(NULL));
  /* fill until the file system is full: the commit says so, by its own code */
  int written = 0;
  for (int k = 0; k < 100 && rc == 0; k++) {
    rc = fill_big(st, written, 50);
    if (rc == 0) written += 50;
  }
  CHECK(fd, rc == CX_ENOSPACE, "disk full: %s (%s)", cx_strerror(rc), cx_store_errmsg(st));
  CHECK(fd, strcmp(cx_err_name(rc), "no_space") == 0, "wire name %s", cx_err_name(rc));
  CHECK(fd, written > 0, "nothing fitted");
  /* nothing of the failed batch is in; the store is intact and still serves */
  cx_store_info in;
  CHECK(fd, cx_store_info_get(st, &in) == 0 && in.records == (uint64_t)written, "records %llu, written %d",
        (unsigned long long)in.records, written);
  CHECK(fd, cx_store_verify(st, NULL, NULL) == 0, "verify after a full disk");
  cx_store_close(st);
  /* the CLI: an import into the full store exits 5 and says "not written" */
  char csv[400], cmd[2048], out[340], code[19], a[19];
  fx_uscc(11, code);
  fx_auth(1, a);
  snprintf(csv, sizeof csv, "%s/big.csv", c->base);
  FILE *f = fopen(csv, "w");
  CHECK(fd, f != NULL, "csv");
  fprintf(f, "entity_code,entity_name,record_id,authority_code,category,decision_date,content\n");
  for (int i = 0; i < 400; i++) {
    fprintf(f, "%s,满盘导入有限公司,IMP-%d,%s,penalty,2024-03-01,", code, i, a);
    for (int k = 0; k < 3000; k++) fputc('y', f);
    fputc('\n', f);
  }
  fclose(f);
  snprintf(out, sizeof out, "%s/cli.out", c->base);
  snprintf(cmd, sizeof cmd, "'%s' import --db '%s' '%s' > '%s' 2>&1", c->bin, db, csv, out);
  rc = cx_test_sh("%s", cmd);
  char text[8192] = "";
  f = fopen(out, "r");
  if (f) {
    size_t n = fread(text, 1, sizeof text - 1, f);
    text[n] = 0;
    fclose(f);
  }
  CHECK(fd, rc == 5, "import into a full disk: exit %d (want 5): %s", rc, text);
  CHECK(fd, strstr(text, "not written") && strstr(text, "0 rejected"), "import said: %s", text);
  umount2(mnt, MNT_DETACH);
}

Test(faults, a_full_disk_is_no_space_and_the_import_says_not_written) {
  ro_ctx c;
  snprintf(c.base, sizeof c.base, "%s", dir);
  cx_test_bin("chengxin", c.bin, sizeof c.bin);
  char msg[1024];
  int st = run_child(full_child, &c, msg, sizeof msg);
  if (st == 77) cr_skip_test("%s", msg);
  cr_assert_eq(st, 0, "%s", msg);
}

/* A store owned by another user: lock.mdb is not writable (EACCES), so the read-only open
 * goes without a lock table, which is only safe while no other process has the store open. */
typedef struct nobody_ctx {
  const char *db;
  int expect_refusal;
} nobody_ctx;

static void nobody_child(void *vctx, int fd) {
  nobody_ctx *c = vctx;
  CHECK(fd, setgid(65534) == 0 && setuid(65534) == 0, "setuid nobody: %s", strerror(errno));
  cx_store *st = NULL;
  int rc = open_rc(c->db, 0, 1, 0, &st);
  if (c->expect_refusal) {
    CHECK(fd, rc == CX_EROFS, "open beside a writer: %s (%s)", cx_strerror(rc), cx_store_errmsg(NULL));
    CHECK(fd, strstr(cx_store_errmsg(NULL), "has the store open"), "message: %s", cx_store_errmsg(NULL));
    return;
  }
  CHECK(fd, rc == 0, "read-only open as nobody: %s (%s)", cx_strerror(rc), cx_store_errmsg(NULL));
  cx_txn *t = NULL;
  char code[19];
  fx_uscc(2, code);
  cx_summary s;
  CHECK(fd, cx_store_txn_begin(st, &t) == 0 && cx_store_summary_get(t, code, &s) == 0, "read");
  cx_store_txn_end(t);
  cx_store_close(st);
  rc = open_rc(c->db, 0, 0, 0, &st);
  CHECK(fd, rc == CX_EROFS, "writable open as nobody: %s (%s)", cx_strerror(rc), cx_store_errmsg(NULL));
}

Test(faults, read_only_open_without_a_writable_lock_file_refuses_beside_a_writer) {
  char db[512], msg[1024];
  cr_assert_eq(chmod(dir, 0755), 0);
  snprintf(db, sizeof db, "%s/db", dir);
  cx_store *st = open_ok(db, 1, 0, 0);
  fill(st, 20, 0);
  cx_store_close(st);
  if (geteuid() != 0) cr_skip_test("needs root to run a child as another user");
  /* stores are created owner-only (0700/0600): the operator opened this one to other users'
   * reads, so that they may read it but not write its lock.mdb */
  char f[600];
  cr_assert_eq(chmod(db, 0755), 0);
  snprintf(f, sizeof f, "%s/data.mdb", db);
  cr_assert_eq(chmod(f, 0644), 0);
  snprintf(f, sizeof f, "%s/lock.mdb", db);
  cr_assert_eq(chmod(f, 0644), 0);
  nobody_ctx c = {db, 0};
  int rc = run_child(nobody_child, &c, msg, sizeof msg);
  cr_assert_eq(rc, 0, "%s", msg);
  st = open_ok(db, 0, 0, 0); /* a writer has the store open */
  c.expect_refusal = 1;
  rc = run_child(nobody_child, &c, msg, sizeof msg);
  cr_assert_eq(rc, 0, "%s", msg);
  cx_store_close(st);
}
