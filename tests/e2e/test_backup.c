/*
 * test_backup.c — backup and compact beside a server under write load. A client ingests one
 * record per request in a loop and keeps every record_id the server acknowledged, while
 * `chengxin backup` copies the store and `chengxin compact` is attempted (and must refuse: a
 * server writing into files that compact swapped away would lose every later write).
 * Afterwards every acknowledged record is in the live store, and the backup holds every
 * record acknowledged before the backup started.
 */
#include <pthread.h>
#include <stdatomic.h>

#include "e2e.h"

#define BK_MAX 20000        /* records the writer may send (its array) */
#define BK_WRITER_S 20      /* the writer gives up after this long, whatever happens */
#define BK_WAIT_MS 10000    /* any wait of the main thread */

typedef struct bk_writer {
  pthread_t th;
  atomic_int stop;
  atomic_uint acked; /* records 0..acked-1 are acknowledged (one request at a time, in order) */
  int port;
  char error[256];   /* the first failure (the main thread asserts on it) */
} bk_writer;

static void bk_rid(unsigned i, char out[32]) { snprintf(out, 32, "W-%06u", i); }

static int pack_one(msgpack_packer *pk, void *ctx) {
  unsigned i = *(const unsigned *)ctx;
  char code[19], auth[19], rid[32];
  e2e_code("91", 7000 + i % 50, code); /* 50 entities, their summaries grow */
  e2e_code("11", E2E_AUTH_N, auth);
  bk_rid(i, rid);
  PK_S(pk, "records");
  msgpack_pack_array(pk, 1);
  msgpack_pack_map(pk, 6);
  PK_S(pk, "entity_code"); PK_S(pk, code);
  PK_S(pk, "entity_name"); PK_S(pk, "备份负载测试有限公司");
  PK_S(pk, "record_id"); PK_S(pk, rid);
  PK_S(pk, "authority_code"); PK_S(pk, auth);
  PK_S(pk, "category"); PK_S(pk, "penalty");
  PK_S(pk, "decision_date"); PK_S(pk, "2024-06-01");
  return 0;
}

static void *bk_write(void *arg) {
  bk_writer *w = arg;
  cx_client *c = NULL;
  int rc = cx_client_connect("127.0.0.1", w->port, 10000, &c);
  if (rc == 0) rc = cx_client_auth(c, TOK_SUBMITTER, NULL, 0);
  if (rc) {
    snprintf(w->error, sizeof w->error, "connect/auth: %s", cx_strerror(rc));
    if (c) cx_client_close(c);
    return NULL;
  }
  struct timespec t0, now;
  clock_gettime(CLOCK_MONOTONIC, &t0);
  for (unsigned i = 0; i < BK_MAX && !atomic_load(&w->stop); i++) {
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (now.tv_sec - t0.tv_sec > BK_WRITER_S) {
      snprintf(w->error, sizeof w->error, "the writer ran out of time at record %u", i);
      break;
    }
    cx_client_resp r;
    rc = cx_client_call(c, "ingest", 1, pack_one, &i, &r);
    if (rc) {
      snprintf(w->error, sizeof w->error, "ingest %u: %s", i, cx_strerror(rc));
      break;
    }
    if (!r.ok || cx_mpo_int(cx_mpo_get(r.result, "inserted"), -1) != 1) {
      snprintf(w->error, sizeof w->error, "ingest %u refused: %.*s: %.*s", i,
               (int)r.err_code_len, r.err_code, (int)r.err_message_len, r.err_message);
      break;
    }
    atomic_store(&w->acked, i + 1);
  }
  cx_client_close(c);
  return NULL;
}

/* Waits (bounded) until the writer has at least n acknowledged records. */
static void bk_wait_acked(bk_writer *w, unsigned n, const char *what) {
  for (int ms = 0; ms < BK_WAIT_MS; ms++) {
    if (atomic_load(&w->acked) >= n) return;
    if (w->error[0]) break;
    usleep(1000);
  }
  cr_assert_fail("%s: %u records acknowledged, wanted %u (%s)", what, atomic_load(&w->acked), n,
                 w->error);
}

/* Runs `chengxin ARGS...` with stderr into err (bounded: killed after BK_WAIT_MS); exit status. */
static int bk_cli(const char *err, const char *const *args) {
  char bin[512];
  cx_test_bin("chengxin", bin, sizeof bin);
  const char *argv[16];
  int a = 0;
  argv[a++] = bin;
  for (int i = 0; args[i] && a < 15; i++) argv[a++] = args[i];
  argv[a] = NULL;
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {
    int fd = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) dup2(fd, 2);
    execv(bin, (char *const *)argv);
    _exit(127);
  }
  int st = 0;
  for (int ms = 0; ms < BK_WAIT_MS; ms++) {
    if (waitpid(pid, &st, WNOHANG) == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    usleep(1000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, &st, 0);
  cr_assert_fail("chengxin %s did not finish in %d ms", args[0], BK_WAIT_MS);
  return -1;
}

static char *bk_slurp(const char *path) {
  FILE *f = fopen(path, "rb");
  if (!f) return strdup("");
  static char buf[8192];
  size_t n = fread(buf, 1, sizeof buf - 1, f);
  buf[n] = 0;
  fclose(f);
  return strdup(buf);
}

/* How many of records [from, to) store path holds (a read-only open: beside the server). */
static unsigned bk_count(const char *path, unsigned from, unsigned to, unsigned *first_missing) {
  cx_store_opts o = {0};
  o.read_only = 1;
  cx_store *st = NULL;
  int rc = cx_store_open(path, &o, &st);
  cr_assert_eq(rc, 0, "open %s: %s (%s)", path, cx_strerror(rc), cx_store_errmsg(NULL));
  cx_txn *t = NULL;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  char auth[19];
  e2e_code("11", E2E_AUTH_N, auth);
  unsigned n = 0;
  *first_missing = UINT32_MAX;
  for (unsigned i = from; i < to; i++) {
    char rid[32];
    bk_rid(i, rid);
    cx_record r;
    rc = cx_store_record_get(t, cx_str_c(auth), cx_str_c(rid), NULL, &r);
    if (rc == 0) n++;
    else if (*first_missing == UINT32_MAX) *first_missing = i;
  }
  cx_store_txn_end(t);
  cx_store_close(st);
  return n;
}

TestSuite(backup, .init = e2e_setup, .fini = e2e_teardown, .timeout = 60);

Test(backup, a_backup_under_write_load_holds_every_acknowledged_record_and_compact_refuses) {
  static bk_writer w;
  memset(&w, 0, sizeof w);
  w.port = g_srv.port;
  cr_assert_eq(pthread_create(&w.th, NULL, bk_write, &w), 0);
  bk_wait_acked(&w, 30, "before the backup");

  char bk[300], err[300], want[64];
  snprintf(bk, sizeof bk, "%s/bk", g_srv.dir);
  snprintf(err, sizeof err, "%s/cli.err", g_srv.dir);
  unsigned before = atomic_load(&w.acked); /* acknowledged before the backup started */
  int rc = bk_cli(err, (const char *[]){"backup", "--db", g_srv.db, bk, NULL});
  char *msg = bk_slurp(err);
  cr_assert_eq(rc, 0, "backup beside the writing server: %s", msg);
  free(msg);
  unsigned after_backup = atomic_load(&w.acked);

  /* compact must refuse while the server has the store open, and change nothing */
  struct stat d0, d1;
  cr_assert_eq(stat(g_srv.db, &d0), 0);
  rc = bk_cli(err, (const char *[]){"compact", "--db", g_srv.db, NULL});
  msg = bk_slurp(err);
  cr_assert_eq(rc, 1, "compact beside the writing server: exit %d (%s)", rc, msg);
  snprintf(want, sizeof want, "process %ld has the store open", (long)g_srv.pid);
  cr_assert(strstr(msg, want), "%s", msg);
  free(msg);
  cr_assert_eq(stat(g_srv.db, &d1), 0);
  cr_assert_eq(d0.st_ino, d1.st_ino, "the store directory was not swapped");
  char left[400];
  snprintf(left, sizeof left, "%s.compact-", g_srv.db);
  cr_assert_eq(cx_test_sh("ls -d '%s'* >/dev/null 2>&1", left), 2, "no copy left behind");

  /* the server goes on acknowledging writes */
  unsigned after_compact = atomic_load(&w.acked);
  bk_wait_acked(&w, after_compact + 30, "after the refused compact");
  atomic_store(&w.stop, 1);
  pthread_join(w.th, NULL);
  cr_assert(!w.error[0], "writer: %s", w.error);
  unsigned acked = atomic_load(&w.acked);
  cr_log_info("acknowledged: %u before the backup, %u after it, %u after compact, %u in all",
              before, after_backup, after_compact, acked);

  unsigned miss;
  /* live store, beside the running server */
  unsigned live = bk_count(g_srv.db, 0, acked, &miss);
  cr_assert_eq(live, acked, "live store: %u of %u acknowledged records (first missing W-%06u)",
               live, acked, miss);
  /* the backup: everything acknowledged before it started */
  unsigned in_bk = bk_count(bk, 0, before, &miss);
  cr_assert_eq(in_bk, before, "backup: %u of %u records acknowledged before it (first missing "
               "W-%06u)", in_bk, before, miss);
  /* and it is a whole store: summaries and rollups agree with its records */
  rc = bk_cli(err, (const char *[]){"verify", "--db", bk, "--quiet", NULL});
  cr_assert_eq(rc, 0, "verify of the backup");
  /* the live store too, after the server stopped cleanly */
  cr_assert_eq(e2e_stop(&g_srv), 0);
  cr_assert_eq(bk_count(g_srv.db, 0, acked, &miss), acked);
  rc = bk_cli(err, (const char *[]){"verify", "--db", g_srv.db, "--quiet", NULL});
  cr_assert_eq(rc, 0, "verify of the live store");
}
