/* store.c — the environment: open/create, schema check, read transactions, point reads,
 * iterators, info, backup, data files and the test hooks. */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/statvfs.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "store_int.h"

#define CX_DEFAULT_MAP (1ull << 30)
#define CX_DEFAULT_READERS 1024u
#define CX_MAXDBS 24

static const char *const dbi_names[CX_DBI_COUNT] = {
  "meta", "summary", "entities", "records", "record_ref", "authorities", "names", "rollup",
  "regions", "data", "audit", "summary_x", "facts", "grams", "checks", "check_rollup",
};

/* ------------------------------------------------------------------ errors */

/* The detail of the last failure, per thread: worker loops, pool threads and the audit flusher
 * share one handle and fail independently; a message on the handle was written by several of
 * them at once. A failure's detail is read by the thread that got the failure, right after. */
static _Thread_local char tl_errmsg[512];

void cx__store_setmsg(cx_store *st, const char *fmt, ...) {
  (void)st;
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(tl_errmsg, sizeof tl_errmsg, fmt, ap);
  va_end(ap);
}

int cx__store_mdb_err(cx_store *st, int rc, const char *what) {
  switch (rc) {
  case 0: return 0;
  case MDB_NOTFOUND: return CX_ENOTFOUND;
  case MDB_MAP_FULL:
    cx__store_setmsg(st, "%s: %s", what, mdb_strerror(rc));
    return CX_EMAPFULL;
  case MDB_TXN_FULL:
    /* Load mode: the long txn holds as many dirty pages as LMDB keeps (MDB_IDL_UM_MAX, 512
     * MiB of 4 KiB pages) and a child cannot spill its parent's. Like a full map, the batch
     * is retried (cx_batch_commit): cx__store_grow makes the load so far durable, and the
     * retry begins a new long txn. */
    cx__store_setmsg(st, "%s: %s", what, mdb_strerror(rc));
    if (!st->load_txn) return CX_EIO;
    st->load_full = 1;
    return CX_EMAPFULL;
  case MDB_READERS_FULL:
    cx__store_setmsg(st, "%s: %s", what, mdb_strerror(rc));
    return CX_EREADERS;
  case ENOMEM:
    cx__store_setmsg(st, "%s: out of memory", what);
    return CX_ENOMEM;
  case EACCES:
  case EROFS:
    cx__store_setmsg(st, "%s: %s", what, mdb_strerror(rc));
    return CX_EROFS;
  case ENOSPC:
  case EDQUOT:
    cx__store_setmsg(st, "%s: %s (nothing was written)", what, mdb_strerror(rc));
    return CX_ENOSPACE;
  case MDB_CORRUPTED:
  case MDB_PAGE_NOTFOUND:
  case MDB_INVALID:
    cx__store_setmsg(st, "%s: %s", what, mdb_strerror(rc));
    return CX_ECORRUPT;
  default:
    cx__store_setmsg(st, "%s: %s", what, mdb_strerror(rc));
    return CX_EIO;
  }
}


const char *cx_store_errmsg(const cx_store *st) {
  (void)st;
  return tl_errmsg;
}

/* ------------------------------------------------------------------ meta */

int cx__meta_get32(cx_store *st, MDB_txn *txn, const char *name, uint32_t *v) {
  MDB_val k = {strlen(name), (void *)name}, d;
  int rc = mdb_get(txn, st->dbi[CX_DBI_META], &k, &d);
  if (rc) return cx__store_mdb_err(st, rc, name);
  if (d.mv_size != 4) {
    cx__store_setmsg(st, "meta %s: bad size", name);
    return CX_ECORRUPT;
  }
  *v = cx__rd32(d.mv_data);
  return 0;
}

int cx__meta_put32(cx_store *st, MDB_txn *txn, const char *name, uint32_t v) {
  unsigned char b[4];
  cx__wr32(b, v);
  MDB_val k = {strlen(name), (void *)name}, d = {4, b};
  int rc = mdb_put(txn, st->dbi[CX_DBI_META], &k, &d, 0);
  return rc ? cx__store_mdb_err(st, rc, name) : 0;
}

static int meta_get64(cx_store *st, MDB_txn *txn, const char *name, uint64_t *v) {
  MDB_val k = {strlen(name), (void *)name}, d;
  int rc = mdb_get(txn, st->dbi[CX_DBI_META], &k, &d);
  if (rc) return cx__store_mdb_err(st, rc, name);
  if (d.mv_size != 8) return CX_ECORRUPT;
  memcpy(v, d.mv_data, 8);
  return 0;
}

/* ------------------------------------------------------------------ map */

#define CX_GROW_WAIT_MS 5000

void cx__store_enter(cx_store *st) {
  for (;;) {
    while (atomic_load(&st->growing)) {
      struct timespec ts = {0, 100000};
      nanosleep(&ts, NULL);
    }
    atomic_fetch_add(&st->active, 1);
    if (!atomic_load(&st->growing)) return;
    atomic_fetch_sub(&st->active, 1);
  }
}

void cx__store_leave(cx_store *st) { atomic_fetch_sub(&st->active, 1); }

/* Remaps to size (0: adopt the size another process set) once no txn of ours is live. */
static int set_mapsize_quiesced(cx_store *st, uint64_t size) {
  pthread_mutex_lock(&st->grow_mu);
  atomic_store(&st->growing, 1);
  int waited = 0, rc;
  while (atomic_load(&st->active) > 0 && waited < CX_GROW_WAIT_MS * 10) {
    struct timespec ts = {0, 100000};
    nanosleep(&ts, NULL);
    waited++;
  }
  if (atomic_load(&st->active) > 0) {
    atomic_store(&st->growing, 0);
    pthread_mutex_unlock(&st->grow_mu);
    cx__store_setmsg(st, "map full: cannot grow while read transactions stay open; retry");
    return CX_EBUSY;
  }
  rc = mdb_env_set_mapsize(st->env, (size_t)size);
  if (!rc && size) st->map_size = size;
  atomic_store(&st->growing, 0);
  pthread_mutex_unlock(&st->grow_mu);
  return rc ? cx__store_mdb_err(st, rc, "set map size") : 0;
}

/* The long txn of load mode: begun at the first write, like any top-level write txn. */
static int load_txn_open(cx_store *st);

int cx__store_wtxn(cx_store *st, MDB_txn **out) {
  if (st->read_only) {
    cx__store_setmsg(st, "store opened read-only");
    return CX_EROFS;
  }
  if (st->bulk_load) { /* one flat txn: every batch writes into the load txn itself */
    int err = cx__bulk_check(st);
    if (!err && !st->load_txn) err = load_txn_open(st);
    if (!err) *out = st->load_txn;
    return err;
  }
  if (st->load) {
    /* A full long txn costs a batch done twice: once a fill has been seen, the long txn is
     * committed a little before the number of batches that filled it. */
    int err = st->load_txn && st->load_max && st->load_children >= st->load_max ? cx_store_load_commit(st) : 0;
    if (!err && !st->load_txn) err = load_txn_open(st);
    if (err) return err;
    int rc = mdb_txn_begin(st->env, st->load_txn, 0, out);
    return rc ? cx__store_mdb_err(st, rc, "begin write txn") : 0;
  }
  /* A reader process killed inside a txn leaves its slot, and its snapshot pins every page
   * freed after it: the file would grow with each commit until the slot is cleared. Clearing
   * here scans the reader table with one fcntl(F_GETLK) per other process holding a slot:
   * 16 us with 8 processes x 16 slots (1024-slot table), nothing beside a commit's fsync. */
  int dead = 0;
  mdb_reader_check(st->env, &dead);
  cx__store_enter(st);
  int rc = mdb_txn_begin(st->env, NULL, 0, out);
  if (rc == MDB_MAP_RESIZED) { /* another process grew the map */
    cx__store_leave(st);
    int err = set_mapsize_quiesced(st, 0);
    if (err) return err;
    cx__store_enter(st);
    rc = mdb_txn_begin(st->env, NULL, 0, out);
  }
  if (rc) {
    cx__store_leave(st);
    return cx__store_mdb_err(st, rc, "begin write txn");
  }
  return 0;
}

/* A file system full with the write half done makes LMDB report a short write as EIO, not
 * ENOSPC: look at the free space to tell a full disk from a failing one. */
static int full_disk(cx_store *st) {
  const char *path = NULL;
  struct statvfs vs;
  if (mdb_env_get_path(st->env, &path) || !path || statvfs(path, &vs) != 0) return 0;
  uint64_t free_b = (uint64_t)vs.f_bavail * (uint64_t)vs.f_frsize;
  return free_b < ((uint64_t)1 << 20); /* less than 1 MiB left */
}

int cx__store_wtxn_end(cx_store *st, MDB_txn *txn, int commit) {
  if (st->bulk_load && txn == st->load_txn && !cx__bulk_owns_end(st)) {
    if (commit) { /* a batch of the bulk load: the load commit makes it durable */
      st->load_children++;
      return 0;
    }
    cx__bulk_fail(st, 0); /* the load txn holds the batches before: all of it goes */
  }
  int rc = 0;
  if (commit) rc = mdb_txn_commit(txn);
  else mdb_txn_abort(txn);
  if (st->load_txn && txn != st->load_txn) { /* a child: nothing reached the disk */
    if (commit && !rc) st->load_children++;
    cx__zdict_txn_end(st, txn, 0, commit && !rc);
    return rc ? cx__store_mdb_err(st, rc, "commit") : 0;
  }
  cx__zdict_txn_end(st, txn, 1, commit && !rc);
  if (txn == st->load_txn) {
    st->load_txn = NULL;
    st->load_children = 0;
  }
  cx__store_leave(st);
  if (rc == EIO && full_disk(st)) rc = ENOSPC;
  return rc ? cx__store_mdb_err(st, rc, "commit") : 0;
}

static int load_txn_open(cx_store *st) {
  MDB_txn *txn;
  struct cx_bulk *bulk = st->bulk_load;
  st->load = 0; /* a top-level txn */
  st->bulk_load = NULL;
  int err = cx__store_wtxn(st, &txn);
  st->load = 1;
  st->bulk_load = bulk;
  if (!err) st->load_txn = txn;
  return err;
}

int cx_store_load_begin(cx_store *st) {
  if (st->read_only) {
    cx__store_setmsg(st, "store opened read-only");
    return CX_EROFS;
  }
  if (st->bulk) {
    cx__store_setmsg(st, "load mode: not in bulk mode (no nested transactions with MDB_WRITEMAP)");
    return CX_EBADREQ;
  }
  st->load = 1;
  return 0;
}

int cx_store_load_commit(cx_store *st) {
  if (st->bulk_load) return cx__bulk_commit(st);
  if (!st->load_txn) return 0;
  return cx__store_wtxn_end(st, st->load_txn, 1);
}

int cx_store_load_end(cx_store *st) {
  int err = cx_store_load_commit(st);
  st->load = 0;
  cx__bulk_free(st);
  return err;
}

void cx__store_trim(cx_store *st) {
  if (st->trim_max) cx_store_trim_map(st, st->trim_max, NULL);
}

int cx_store_trim_map(cx_store *st, uint64_t max_bytes, int *trimmed) {
  if (trimmed) *trimmed = 0;
  st->trim_max = max_bytes;
  FILE *f = fopen("/proc/self/statm", "r");
  if (!f) return CX_EIO;
  unsigned long size = 0, resident = 0, shared = 0;
  int n = fscanf(f, "%lu %lu %lu", &size, &resident, &shared);
  fclose(f);
  if (n != 3) return CX_EIO;
  uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
  if ((uint64_t)shared * page <= max_bytes) return 0;
  /* LMDB tells the map's address only with MDB_FIXEDMAP (mdb_env_info's me_mapaddr is the
   * meta page's): find the mapping of data.mdb in /proc/self/maps. Counted as a txn meanwhile,
   * so that a map growth (set_mapsize_quiesced) cannot move it. */
  const char *dir = NULL;
  if (mdb_env_get_path(st->env, &dir) || !dir) return 0;
  char want[4200];
  snprintf(want, sizeof want, "%s/data.mdb", dir);
  size_t wn = strlen(want);
  cx__store_enter(st);
  FILE *m = fopen("/proc/self/maps", "r");
  char line[4400];
  while (m && fgets(line, sizeof line, m)) {
    size_t ln = strlen(line);
    while (ln && (line[ln - 1] == '\n' || line[ln - 1] == ' ')) line[--ln] = 0;
    if (ln < wn || strcmp(line + ln - wn, want) != 0) continue;
    unsigned long lo, hi;
    if (sscanf(line, "%lx-%lx", &lo, &hi) == 2 && hi > lo &&
        madvise((void *)lo, hi - lo, MADV_DONTNEED) == 0 && trimmed)
      *trimmed = 1;
  }
  if (m) fclose(m);
  cx__store_leave(st);
  return 0;
}

int cx__store_grow(cx_store *st) {
  if (st->bulk_load) { /* the map cannot grow under the load txn, which holds the whole load */
    st->load_full = 0;
    MDB_envinfo ei;
    mdb_env_info(st->env, &ei);
    cx__bulk_fail(st, CX_ENOSPACE);
    cx__store_setmsg(st, "bulk load: the store's map (%llu MiB) is full: nothing of this load was written",
                     (unsigned long long)(ei.me_mapsize >> 20));
    return CX_ENOSPACE;
  }
  /* The map cannot change under a live txn: make the load so far durable first (the store is
   * complete after every batch), the next write begins a new load txn. */
  if (st->load_full) { /* not the map: the long txn is full (MDB_TXN_FULL) */
    st->load_full = 0;
    if (!st->load_txn || !st->load_children) {
      cx__store_setmsg(st, "one batch dirties more pages than a transaction holds: use smaller batches");
      return CX_EIO;
    }
    uint32_t max = st->load_children - st->load_children / 4;
    if (!st->load_max || max < st->load_max) st->load_max = max ? max : 1;
    return cx_store_load_commit(st);
  }
  if (st->load_txn) {
    int err = cx_store_load_commit(st);
    if (err) return err;
  }
  MDB_envinfo ei;
  mdb_env_info(st->env, &ei);
  uint64_t cur = ei.me_mapsize > st->map_size ? ei.me_mapsize : st->map_size;
  int rc = set_mapsize_quiesced(st, cur * 2);
  if (rc == 0 || rc == CX_EBUSY) return rc;
  /* The map is full and cannot be made larger (address space, memory, disk): out of space. */
  char why[512];
  memcpy(why, cx_store_errmsg(st), sizeof why); /* both 512 bytes, NUL-terminated */
  why[sizeof why - 1] = 0;
  cx__store_setmsg(st, "store map full (%llu MiB) and it cannot grow: %s", (unsigned long long)(cur >> 20), why);
  return CX_ENOSPACE;
}

/* Begins a read txn (cx_txn, info, verify, backup), counted in st->active.
 * Reader table full: slots of processes killed inside a read txn stay taken until someone
 * calls mdb_reader_check (cx_store_open does), so a long-running server would stay refused
 * after its readers' clients died. Clear them and retry once; only live readers refuse. */
static int rtxn_begin(cx_store *st, MDB_txn **txn) {
  cx__store_enter(st);
  int rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, txn);
  if (rc == MDB_MAP_RESIZED) {
    cx__store_leave(st);
    int err = set_mapsize_quiesced(st, 0);
    if (err) return err;
    cx__store_enter(st);
    rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, txn);
  }
  if (rc == MDB_READERS_FULL) {
    int dead = 0;
    if (mdb_reader_check(st->env, &dead) == 0 && dead > 0)
      rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, txn);
  }
  if (rc == MDB_READERS_FULL) {
    cx__store_leave(st);
    MDB_envinfo ei;
    mdb_env_info(st->env, &ei);
    cx__store_setmsg(st, "reader table full: all %u slots are held by live read transactions "
                         "(end idle ones, or open the store with a larger max_readers)",
                     ei.me_maxreaders);
    return CX_EREADERS;
  }
  if (rc) {
    cx__store_leave(st);
    return cx__store_mdb_err(st, rc, "begin read txn");
  }
  return 0;
}

int cx__store_rtxn(cx_store *st, MDB_txn **txn) { return rtxn_begin(st, txn); }
void cx__store_rtxn_end(cx_store *st, MDB_txn *txn) {
  mdb_txn_abort(txn);
  cx__store_leave(st);
}

/* ------------------------------------------------------------------ data files */

static int data_put_raw(cx_store *st, MDB_txn *txn, const char *name, const char *text, size_t n) {
  MDB_val k = {strlen(name), (void *)name}, v = {n, (void *)(n ? text : "")};
  int rc = mdb_put(txn, st->dbi[CX_DBI_DATA], &k, &v, 0);
  return rc ? cx__store_mdb_err(st, rc, "data put") : 0;
}

/* Parses the stored catalogue and calendar into the handle. */
static int load_parsed(cx_store *st, MDB_txn *txn) {
  MDB_val k, v;
  int rc, bad = 0;
  cx_catalog *cat = cx_calloc(1, sizeof *cat);
  cx_calendar *cal = cx_calloc(1, sizeof *cal);
  if (!cat || !cal) { free(cat); free(cal); return CX_ENOMEM; }
  k = (MDB_val){7, "catalog"};
  rc = mdb_get(txn, st->dbi[CX_DBI_DATA], &k, &v);
  if (rc == 0) rc = cx_catalog_parse(v.mv_data, v.mv_size, cat, &bad);
  else rc = cx_catalog_parse("", 0, cat, &bad);
  if (rc) {
    cx__store_setmsg(st, "stored catalogue does not parse (line %d)", bad);
    goto fail;
  }
  k = (MDB_val){8, "calendar"};
  rc = mdb_get(txn, st->dbi[CX_DBI_DATA], &k, &v);
  if (rc == 0) rc = cx_calendar_parse(v.mv_data, v.mv_size, cal, &bad);
  else rc = cx_calendar_parse("", 0, cal, &bad);
  if (rc) {
    cx__store_setmsg(st, "stored calendar does not parse (line %d)", bad);
    goto fail;
  }
  st->catalog = cat;
  st->calendar = cal;
  return 0;
fail:
  free(cat);
  free(cal);
  return CX_ECORRUPT;
}

static int init_store(cx_store *st, MDB_txn *txn) {
  int rc;
  uint64_t salt = 0;
  if (getrandom(&salt, sizeof salt, 0) != (ssize_t)sizeof salt) {
    cx__store_setmsg(st, "getrandom failed");
    return CX_EIO;
  }
  MDB_val k = {4, "salt"}, v = {8, &salt};
  if ((rc = mdb_put(txn, st->dbi[CX_DBI_META], &k, &v, 0))) return cx__store_mdb_err(st, rc, "salt");
  if ((rc = cx__meta_put32(st, txn, "schema", CX_SCHEMA_VERSION)) ||
      (rc = cx__meta_put32(st, txn, "next_seq", 1)) ||
      (rc = cx__meta_put32(st, txn, "next_eid", 1)) ||
      (rc = cx__meta_put32(st, txn, "next_aid", 1)))
    return rc;
  if ((rc = data_put_raw(st, txn, "catalog", cx_data_catalog, cx_data_catalog_len)) ||
      (rc = data_put_raw(st, txn, "calendar", cx_data_calendar, cx_data_calendar_len)) ||
      (rc = data_put_raw(st, txn, "regions", cx_data_regions, cx_data_regions_len)) ||
      (rc = data_put_raw(st, txn, "regions_history", cx_data_regions_history, cx_data_regions_history_len)) ||
      (rc = cx__regions_load(st, txn, cx_data_regions, cx_data_regions_len, cx_data_regions_history,
                             cx_data_regions_history_len)))
    return rc;
  return 0;
}

/* Store directories and files hold every record and the audit log (whose reads of persons it
 * names): owner only, or owner + group with group_read; the umask may remove more. Directories
 * that exist already keep their modes (never loosened, nor tightened behind the operator). */
#define CX_DIR_MODE 0700
#define CX_DIR_MODE_GROUP 0750
#define CX_FILE_MODE 0600
#define CX_FILE_MODE_GROUP 0640

/* mkdir -p with mode for every directory it creates; -1 with errno. */
static int mkdir_p(const char *path, unsigned mode) {
  char buf[4096];
  size_t n = strlen(path);
  if (n == 0 || n >= sizeof buf) {
    errno = ENAMETOOLONG;
    return -1;
  }
  memcpy(buf, path, n + 1);
  for (size_t i = 1; i <= n; i++) {
    if (buf[i] == '/' || buf[i] == 0) {
      char c = buf[i];
      buf[i] = 0;
      if (mkdir(buf, (mode_t)mode) && errno != EEXIST) return -1;
      buf[i] = c;
    }
  }
  return 0;
}

/* ------------------------------------------------------------------ open/close */

/* The facts DB came after the first stores of schema 1: a store with records and no facts is
 * given them by its first writable open (one pass over the records). A read-only open of such
 * a store scans the records instead (has_facts = 0). */
static int facts_migrate(cx_store *st, MDB_txn *txn) {
  MDB_stat fs, rs;
  if (!st->has_facts) return 0;
  int rc = mdb_stat(txn, st->dbi[CX_DBI_FACTS], &fs);
  if (!rc) rc = mdb_stat(txn, st->dbi[CX_DBI_RECORDS], &rs);
  if (rc) return cx__store_mdb_err(st, rc, "stat");
  if (fs.ms_entries || !rs.ms_entries) return 0;
  if (st->read_only) {
    st->has_facts = 0;
    return 0;
  }
  return cx__facts_rebuild_all(st, txn);
}

/* Creates, configures and opens st->env; on failure closes it (st->env = NULL) and returns
 * the LMDB/errno code. */
static int env_open(cx_store *st, const char *path, const cx_store_opts *o, unsigned flags,
                    unsigned mode) {
  int rc = mdb_env_create(&st->env);
  if (rc) {
    st->env = NULL;
    return ENOMEM;
  }
  mdb_env_set_maxdbs(st->env, CX_MAXDBS);
  mdb_env_set_maxreaders(st->env, o->max_readers ? o->max_readers : CX_DEFAULT_READERS);
  mdb_env_set_mapsize(st->env, (size_t)st->map_size);
  if ((rc = mdb_env_open(st->env, path, flags, (mdb_mode_t)mode))) {
    mdb_env_close(st->env);
    st->env = NULL;
  }
  return rc;
}

static int no_locks_cb(const char *msg, void *ctx) {
  if (strncmp(msg, "(no reader locks)", 17) == 0) *(int *)ctx = 1;
  return 0;
}

/* Every process with the env open holds a shared fcntl lock on byte 0 of lock.mdb (LMDB's
 * mdb_env_setup_locks), for as long as it has it open; F_GETLK with a write lock names one
 * of them. fcntl locks belong to processes, so F_GETLK never reports the caller's own. */
int cx_store_holders(const char *path, long *holder) {
  char file[4200];
  if (snprintf(file, sizeof file, "%s/lock.mdb", path) >= (int)sizeof file) return CX_EIO;
  int fd = open(file, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    if (errno != ENOENT) return CX_EIO;
    *holder = 0; /* no lock file: nobody has the store open (LMDB creates it at open) */
    return 0;
  }
  struct flock fl = {.l_type = F_WRLCK, .l_whence = SEEK_SET, .l_start = 0, .l_len = 1};
  int rc = fcntl(fd, F_GETLK, &fl);
  close(fd); /* we hold no lock on this file through fd: closing it drops none of ours */
  if (rc != 0) return CX_EIO;
  *holder = fl.l_type == F_UNLCK ? 0 : fl.l_pid > 0 ? (long)fl.l_pid : -1;
  return 0;
}

/* An env without a lock table (MDB_NOLOCK, or LMDB's own fallback on a read-only file
 * system) registers no reader slot: a writer could reuse the pages of our snapshot under us.
 * That is safe only while no other process has the store open (cx_store_holders); a lock
 * file we cannot even read counts as in use. No lock file at all: nobody has it open. */
static int lockless_check(cx_store *st, const char *path) {
  int lockless = 0;
  mdb_reader_list(st->env, no_locks_cb, &lockless);
  if (!lockless) return 0;
  long holder = -1;
  int rc = cx_store_holders(path, &holder);
  if (rc == 0 && holder == 0) return 0;
  if (rc == 0 && holder > 0)
    cx__store_setmsg(st, "%s/lock.mdb is not writable here and process %ld has the store open: "
                         "reading without a reader slot is unsafe beside a writer (query through "
                         "the server, or as the store's owner)", path, holder);
  else
    cx__store_setmsg(st, "%s/lock.mdb is not writable here and cannot be checked for other users "
                         "of the store: reading without a reader slot is unsafe beside a writer",
                     path);
  return CX_EROFS;
}

static int migrate_3_to_4(cx_store *st, MDB_txn *txn);
static int migrate_4_to_5(cx_store *st, MDB_txn *txn);
static int migrate_5_to_6(cx_store *st, MDB_txn *txn);
static int migrate_hints(cx_store *st, MDB_txn *txn);

int cx_store_open(const char *path, const cx_store_opts *opts, cx_store **out) {
  cx_store_opts o = {0};
  if (opts) o = *opts;
  tl_errmsg[0] = 0; /* a message of this open, or the generic one below */
  cx_store *st = cx_calloc(1, sizeof *st);
  if (!st) {
    snprintf(tl_errmsg, sizeof tl_errmsg, "%s: out of memory", path ? path : "");
    return CX_ENOMEM;
  }
  pthread_mutex_init(&st->grow_mu, NULL);
  int rc, err = 0;
  MDB_txn *txn = NULL;
  char file[4200];
  struct stat sb;
  snprintf(file, sizeof file, "%s/data.mdb", path);
  int stat_rc = stat(file, &sb), stat_errno = stat_rc ? errno : 0;
  int exists = stat_rc == 0 && sb.st_size > 0;
  if (stat_errno == EACCES) { /* not "no store": someone else's private store */
    cx__store_setmsg(st, "cannot look into %s: %s (stores are private to their owner unless "
                         "created group-readable)", path, strerror(stat_errno));
    err = CX_EIO;
    goto fail_free;
  }
  if (!exists && (!o.create || o.read_only)) {
    err = CX_ENOSTORE;
    goto fail_free;
  }
  st->dir_mode = o.group_read ? CX_DIR_MODE_GROUP : CX_DIR_MODE;
  st->file_mode = o.group_read ? CX_FILE_MODE_GROUP : CX_FILE_MODE;
  /* Files LMDB creates in an existing store (lock.mdb after a compact or a restore) get the
   * permissions data.mdb has: a group-readable store stays readable by its group. */
  unsigned lmdb_mode = exists ? (unsigned)(sb.st_mode & 0666) : st->file_mode;
  if (!exists && mkdir_p(path, st->dir_mode)) {
    cx__store_setmsg(st, "cannot create %s: %s", path, strerror(errno));
    err = CX_EIO;
    goto fail_free;
  }
  st->read_only = o.read_only;
  st->bulk = o.bulk && !o.read_only;
  st->zdict_min = CX_ZDICT_TRAIN_MIN;
  st->map_size = o.map_size ? o.map_size : CX_DEFAULT_MAP;
  unsigned flags = MDB_NOTLS;
  if (st->read_only) flags |= MDB_RDONLY;
  /* MDB_NORDAHEAD (MADV_RANDOM on the map): a fault in the sparse part of a WRITEMAP file made
   * the kernel read ahead and zero whole folios of pages not yet used, 15 % of a bulk load's
   * CPU (perf, 1M records, issue 20); B-tree pages are found by key, not in file order. */
  if (st->bulk) flags |= MDB_WRITEMAP | MDB_NOSYNC | MDB_NORDAHEAD;
  rc = env_open(st, path, &o, flags, lmdb_mode);
  if (st->read_only && (rc == EACCES || rc == EROFS)) {
    /* lock.mdb cannot be opened for writing (a store owned by another user, or a read-only
     * file system, where LMDB itself already goes on without it): read without a lock.
     * lockless_check() below refuses when another process has the store open. */
    rc = env_open(st, path, &o, flags | MDB_NOLOCK, lmdb_mode);
  }
  if (rc) {
    err = rc == ENOENT ? CX_ENOSTORE : cx__store_mdb_err(st, rc, "open");
    goto fail_free;
  }
  if (st->read_only && (err = lockless_check(st, path))) goto fail_env;
  MDB_envinfo ei;
  mdb_env_info(st->env, &ei);
  if (ei.me_mapsize > st->map_size) st->map_size = ei.me_mapsize;
  int dead = 0;
  mdb_reader_check(st->env, &dead);

retry:
  if ((rc = mdb_txn_begin(st->env, NULL, st->read_only ? MDB_RDONLY : 0, &txn))) {
    err = cx__store_mdb_err(st, rc, "begin");
    goto fail_env;
  }
  st->has_sumx = st->has_facts = 1;
  for (int i = 0; i < CX_DBI_COUNT; i++) {
    unsigned fl = i == CX_DBI_GRAMS ? MDB_DUPSORT | MDB_DUPFIXED : 0;
    rc = mdb_dbi_open(txn, dbi_names[i], fl | (st->read_only ? 0 : MDB_CREATE), &st->dbi[i]);
    /* summary_x came after schema 1's first stores: a read-only open of a store that no
     * writable open of this build has touched yet has none (and so no spilled summaries). */
    if (rc == MDB_NOTFOUND && i == CX_DBI_SUMX) { st->has_sumx = 0; st->dbi[i] = 0; continue; }
    if (rc == MDB_NOTFOUND && i == CX_DBI_FACTS) { st->has_facts = 0; st->dbi[i] = 0; continue; }
    /* grams came with schema 4: an older store has none and is refused by the version check
     * below (CX_EVERSION, not CX_ENOSTORE), whatever the open mode. */
    if (rc == MDB_NOTFOUND && i == CX_DBI_GRAMS) { st->dbi[i] = 0; continue; }
    /* the check log came after schema 4 without changing any other layout: a store no
     * writable open of this build has touched has none (reads see an empty log) */
    if (rc == MDB_NOTFOUND && (i == CX_DBI_CHECKS || i == CX_DBI_CHECKROLL)) { st->dbi[i] = 0; continue; }
    if (rc == MDB_NOTFOUND) { err = CX_ENOSTORE; goto fail_txn; }
    if (rc) { err = cx__store_mdb_err(st, rc, dbi_names[i]); goto fail_txn; }
  }
  uint32_t ver = 0;
  rc = cx__meta_get32(st, txn, "schema", &ver);
  if (rc == CX_ENOTFOUND) {
    if (!o.create || st->read_only) { err = CX_ENOSTORE; goto fail_txn; }
    if ((err = init_store(st, txn)) == CX_EMAPFULL) { /* a tiny initial map */
      mdb_txn_abort(txn);
      txn = NULL;
      if ((err = cx__store_grow(st))) goto fail_env;
      goto retry;
    }
    if (err) goto fail_txn;
    ver = CX_SCHEMA_VERSION;
  } else if (rc) {
    err = rc;
    goto fail_txn;
  }
  /* Schemas 2 to 5 (this wave's earlier stores) migrate in place at the first writable open,
   * in this one txn: all of it or none of it (migrate_3_to_4; schema 3 only added category
   * values, so a schema-2 store has schema 3's layout; migrate_4_to_5; migrate_5_to_6; then
   * migrate_hints for all of them). Older and newer ones are refused. */
  int migrate = ver >= 2 && ver <= 5 && CX_SCHEMA_VERSION == 6 && !st->read_only;
  if (ver != CX_SCHEMA_VERSION && !migrate) {
    cx__store_setmsg(st, "store schema version %u, this build needs %u (%s)", ver,
                     CX_SCHEMA_VERSION,
                     ver > CX_SCHEMA_VERSION
                         ? "written by a newer chengxin: use that build; the store is untouched"
                         : ver >= 2 && ver <= 5 ? "an older store: `chengxin upgrade --db PATH` migrates it (a writable open does)"
                                    : "an older store: re-import its source files into a new store");
    err = CX_EVERSION;
    goto fail_txn;
  }
  if ((err = meta_get64(st, txn, "salt", &st->salt))) goto fail_txn;
  if ((err = load_parsed(st, txn))) goto fail_txn;
  if (migrate) { /* each step writes this build's schema; every older store lacks the hints */
    err = ver == 5 ? migrate_5_to_6(st, txn) : ver == 4 ? migrate_4_to_5(st, txn) : migrate_3_to_4(st, txn);
    if (!err) err = migrate_hints(st, txn);
  }
  if (migrate && err == CX_EMAPFULL) {
    mdb_txn_abort(txn);
    txn = NULL;
    if ((err = cx__store_grow(st))) goto fail_env;
    goto retry;
  }
  if (err) goto fail_txn;
  if ((err = facts_migrate(st, txn)) == CX_EMAPFULL) {
    mdb_txn_abort(txn);
    txn = NULL;
    if ((err = cx__store_grow(st))) goto fail_env;
    goto retry;
  }
  if (err) goto fail_txn;
  /* Commit even a read-only txn: dbi handles opened in an aborted txn are closed. */
  if ((rc = mdb_txn_commit(txn))) {
    txn = NULL;
    err = cx__store_mdb_err(st, rc, "commit");
    goto fail_env;
  }
  *out = st;
  return 0;

fail_txn:
  if (txn) mdb_txn_abort(txn);
fail_env:
  mdb_env_close(st->env);
fail_free:
  /* The handle dies; its message stays this thread's, for cx_store_errmsg(NULL). */
  if (!tl_errmsg[0]) snprintf(tl_errmsg, sizeof tl_errmsg, "%s: %s", path, cx_strerror(err));
  free(st->catalog);
  free(st->calendar);
  pthread_mutex_destroy(&st->grow_mu);
  free(st);
  return err;
}

void cx_store_close(cx_store *st) {
  if (!st) return;
  cx__bulk_free(st); /* a bulk load not committed: its txn is aborted below like any */
  if (st->load_txn) cx__store_wtxn_end(st, st->load_txn, 0); /* not made durable: nothing */
  /* A bulk-mode env (MDB_WRITEMAP) grew data.mdb to the whole map, sparse: an import into a
   * new store would leave a file several times its data (2.4 GB for 1M records' 0.6 GB),
   * which is what `ls`, quotas and copying tools see. Cut it to the last used page once the
   * env is closed (nothing maps it then: bulk mode holds the store alone; a later open maps
   * past the end and LMDB writes pages before it reads them). */
  char cut[4200] = "";
  off_t used = 0;
  if (st->bulk) {
    mdb_env_sync(st->env, 1);
    const char *dir = NULL;
    MDB_envinfo ei;
    MDB_stat es;
    if (!mdb_env_get_path(st->env, &dir) && dir && !mdb_env_info(st->env, &ei) && !mdb_env_stat(st->env, &es)) {
      snprintf(cut, sizeof cut, "%s/data.mdb", dir);
      used = (off_t)(ei.me_last_pgno + 1) * (off_t)es.ms_psize;
    }
  }
  mdb_env_close(st->env);
  struct stat fs;
  if (cut[0] && used > 0 && stat(cut, &fs) == 0 && fs.st_size > used && truncate(cut, used) != 0) {
    /* left sparse: it only looks larger */
  }
  cx__zdict_free_all(st);
  for (size_t i = 0; i < st->n_retired; i++) free(st->retired[i]);
  free(st->retired);
  free(st->catalog);
  free(st->calendar);
  pthread_mutex_destroy(&st->grow_mu);
  free(st);
}

const cx_calendar *cx_store_calendar(const cx_store *st) { return st->calendar; }
const cx_catalog *cx_store_catalog(const cx_store *st) { return st->catalog; }

/* ------------------------------------------------------------------ read txns */

int cx_store_txn_begin(cx_store *st, cx_txn **out) {
  cx_txn *t = cx_calloc(1, sizeof *t);
  if (!t) return CX_ENOMEM;
  t->st = st;
  int rc = rtxn_begin(st, &t->txn);
  if (rc) {
    free(t);
    return rc;
  }
  t->live = 1;
  *out = t;
  return 0;
}

void cx_store_txn_reset(cx_txn *t) {
  if (t->live) {
    mdb_txn_reset(t->txn);
    cx__store_leave(t->st);
  }
  t->live = 0;
  t->regions_gen_ok = 0; /* of the snapshot that ends */
}

int cx_store_txn_renew(cx_txn *t) {
  cx_store_txn_reset(t);
  cx__store_enter(t->st);
  int rc = mdb_txn_renew(t->txn);
  if (rc == MDB_MAP_RESIZED) {
    cx__store_leave(t->st);
    int err = set_mapsize_quiesced(t->st, 0);
    if (err) return err;
    cx__store_enter(t->st);
    rc = mdb_txn_renew(t->txn);
  }
  if (rc) {
    cx__store_leave(t->st);
    return cx__store_mdb_err(t->st, rc, "renew read txn");
  }
  t->live = 1;
  for (int i = 0; i < CX_CUR_COUNT; i++)
    if (t->cur[i] && mdb_cursor_renew(t->txn, t->cur[i])) {
      mdb_cursor_close(t->cur[i]);
      t->cur[i] = NULL;
    }
  return 0;
}

void cx_store_txn_end(cx_txn *t) {
  if (!t) return;
  for (int i = 0; i < CX_CUR_COUNT; i++)
    if (t->cur[i]) mdb_cursor_close(t->cur[i]);
  cx__recdec_free(&t->dec[0]);
  cx__recdec_free(&t->dec[1]);
  mdb_txn_abort(t->txn);
  if (t->live) cx__store_leave(t->st);
  free(t);
}

cx_store *cx_store_txn_store(cx_txn *t) { return t->st; }

int cx_store_txn_twin(cx_txn *t, cx_txn **out) {
  cx_store *st = t->st;
  *out = NULL;
  if (!t->live) return CX_EINTERNAL;
  /* Never wait for a remap here: the caller's own txn keeps it from happening, so waiting
   * would only make the grower give up after its timeout. */
  if (atomic_load(&st->growing)) return CX_EBUSY;
  atomic_fetch_add(&st->active, 1);
  if (atomic_load(&st->growing)) {
    cx__store_leave(st);
    return CX_EBUSY;
  }
  MDB_txn *txn;
  int rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &txn);
  if (rc) {
    cx__store_leave(st);
    return rc == MDB_READERS_FULL ? CX_EREADERS : CX_EBUSY;
  }
  if (mdb_txn_id(txn) != mdb_txn_id(t->txn)) { /* a write committed since t began */
    mdb_txn_abort(txn);
    cx__store_leave(st);
    return CX_EBUSY;
  }
  cx_txn *n = cx_calloc(1, sizeof *n);
  if (!n) {
    mdb_txn_abort(txn);
    cx__store_leave(st);
    return CX_ENOMEM;
  }
  n->st = st;
  n->txn = txn;
  n->live = 1;
  *out = n;
  return 0;
}

int cx__txn_cursor(cx_txn *t, int dbi, MDB_cursor **cur, int *own) {
  int rc;
  if (!t->live) return CX_EINTERNAL;
  MDB_dbi d = t->st->dbi[dbi == CX_CUR_GRAMS_PROBE ? CX_DBI_GRAMS : dbi];
  if (!t->busy[dbi]) {
    if (!t->cur[dbi] && (rc = mdb_cursor_open(t->txn, d, &t->cur[dbi])))
      return cx__store_mdb_err(t->st, rc, "cursor");
    t->busy[dbi] = 1;
    *cur = t->cur[dbi];
    *own = 0;
    return 0;
  }
  if ((rc = mdb_cursor_open(t->txn, d, cur))) return cx__store_mdb_err(t->st, rc, "cursor");
  *own = 1;
  return 0;
}

void cx__txn_cursor_done(cx_txn *t, int dbi, MDB_cursor *cur, int own) {
  if (own) mdb_cursor_close(cur);
  else t->busy[dbi] = 0;
}

/* ------------------------------------------------------------------ point reads */

int cx_store_summary_get(cx_txn *t, const char code[CX_CODE_LEN], cx_summary *out) {
  MDB_val k = {CX_CODE_LEN, (void *)code}, v;
  int rc = mdb_get(t->txn, t->st->dbi[CX_DBI_SUMMARY], &k, &v);
  if (rc) return rc == MDB_NOTFOUND ? CX_ENOTFOUND : cx__store_mdb_err(t->st, rc, "summary get");
  return cx_store_summary_decode(v.mv_data, v.mv_size, out);
}

int cx_store_entity_code(cx_txn *t, uint32_t entity_id, cx_str *code) {
  unsigned char kb[4];
  cx__be32(kb, entity_id);
  MDB_val k = {4, kb}, v;
  int rc = mdb_get(t->txn, t->st->dbi[CX_DBI_ENTITIES], &k, &v);
  if (rc) return rc == MDB_NOTFOUND ? CX_ENOTFOUND : cx__store_mdb_err(t->st, rc, "entity get");
  *code = (cx_str){v.mv_data, (uint32_t)(v.mv_size >= CX_CODE_LEN ? CX_CODE_LEN : v.mv_size)};
  return 0;
}

int cx_store_entity_get(cx_txn *t, uint32_t entity_id, cx_str *code, cx_entity_hint *hint) {
  unsigned char kb[4];
  cx__be32(kb, entity_id);
  MDB_val k = {4, kb}, v;
  int rc = mdb_get(t->txn, t->st->dbi[CX_DBI_ENTITIES], &k, &v);
  if (rc) return rc == MDB_NOTFOUND ? CX_ENOTFOUND : cx__store_mdb_err(t->st, rc, "entity get");
  if (cx__entity_value_parse(v.mv_data, v.mv_size, hint)) return CX_ECORRUPT;
  *code = (cx_str){v.mv_data, CX_CODE_LEN};
  return 0;
}

int cx_store_authority_get(cx_txn *t, uint32_t id, cx_str *code, cx_str *name) {
  unsigned char kb[5] = {'i'};
  cx__be32(kb + 1, id);
  MDB_val k = {5, kb}, v;
  int rc = mdb_get(t->txn, t->st->dbi[CX_DBI_AUTHORITIES], &k, &v);
  if (rc) return rc == MDB_NOTFOUND ? CX_ENOTFOUND : cx__store_mdb_err(t->st, rc, "authority get");
  const char *p = v.mv_data, *nul = memchr(p, 0, v.mv_size);
  if (!nul) return CX_ECORRUPT;
  if (code) *code = (cx_str){p, (uint32_t)(nul - p)};
  if (name) *name = (cx_str){nul + 1, (uint32_t)(v.mv_size - (size_t)(nul - p) - 1)};
  return 0;
}

int cx__authority_find(cx_store *st, MDB_txn *txn, cx_str code, uint32_t *id) {
  unsigned char kb[1 + 256];
  if (code.n == 0 || code.n > 255) return CX_ENOTFOUND;
  kb[0] = 'c';
  memcpy(kb + 1, code.p, code.n);
  MDB_val k = {1 + (size_t)code.n, kb}, v;
  int rc = mdb_get(txn, st->dbi[CX_DBI_AUTHORITIES], &k, &v);
  if (rc) return rc == MDB_NOTFOUND ? CX_ENOTFOUND : cx__store_mdb_err(st, rc, "authority find");
  if (v.mv_size != 4) return CX_ECORRUPT;
  *id = cx__rd32(v.mv_data);
  return 0;
}

int cx_store_authority_find(cx_txn *t, cx_str code, uint32_t *id) {
  return cx__authority_find(t->st, t->txn, code, id);
}

int cx_store_data_get(cx_txn *t, const char *name, cx_str *text) {
  MDB_val k = {strlen(name), (void *)name}, v;
  int rc = mdb_get(t->txn, t->st->dbi[CX_DBI_DATA], &k, &v);
  if (rc) return rc == MDB_NOTFOUND ? CX_ENOTFOUND : cx__store_mdb_err(t->st, rc, "data get");
  *text = (cx_str){v.mv_data, (uint32_t)v.mv_size};
  return 0;
}

int cx_store_record_get(cx_txn *t, cx_str authority_code, cx_str record_id, cx_reckey *key,
                        cx_record *out) {
  uint32_t aid;
  int rc = cx__authority_find(t->st, t->txn, authority_code, &aid);
  if (rc) return rc;
  if (record_id.n == 0 || record_id.n > CX_RECORD_ID_MAX) return CX_ENOTFOUND;
  unsigned char kb[4 + CX_RECORD_ID_MAX];
  cx__be32(kb, aid);
  memcpy(kb + 4, record_id.p, record_id.n);
  MDB_val k = {4 + (size_t)record_id.n, kb}, v;
  rc = mdb_get(t->txn, t->st->dbi[CX_DBI_RECORD_REF], &k, &v);
  if (rc) return rc == MDB_NOTFOUND ? CX_ENOTFOUND : cx__store_mdb_err(t->st, rc, "ref get");
  if (v.mv_size != CX_RECKEY_LEN) return CX_ECORRUPT;
  MDB_val rk = {CX_RECKEY_LEN, v.mv_data}, rv;
  rc = mdb_get(t->txn, t->st->dbi[CX_DBI_RECORDS], &rk, &rv);
  if (rc) return rc == MDB_NOTFOUND ? CX_ECORRUPT : cx__store_mdb_err(t->st, rc, "record get");
  cx_record r;
  t->dec[1].st = t->st;
  t->dec[1].txn = t->txn;
  if ((rc = cx__rec_decode(&t->dec[1], rv.mv_data, rv.mv_size, &r))) return rc;
  if (key) cx_reckey_decode(rk.mv_data, key);
  if (out) *out = r;
  return 0;
}

/* ------------------------------------------------------------------ iterators */

/* Walks records from the cursor's position (rc: result of the positioning get) while the key
 * starts with the entity prefix eb (NULL: to the end), decoding each and calling fn. */
static int records_walk(cx_txn *t, MDB_cursor *cur, int rc, MDB_val *k, MDB_val *v,
                        const unsigned char eb[4], cx_record_fn fn, void *ctx) {
  int err = 0;
  cx_recdec local, *d = cx__txn_dec(t, &local);
  for (; rc == 0; rc = mdb_cursor_get(cur, k, v, MDB_NEXT)) {
    if (k->mv_size != CX_RECKEY_LEN) {
      if (eb) break;
      err = CX_ECORRUPT;
      break;
    }
    if (eb && memcmp(k->mv_data, eb, 4) != 0) break;
    cx_reckey key;
    cx_record r;
    cx_reckey_decode(k->mv_data, &key);
    if ((err = cx__rec_decode(d, v->mv_data, v->mv_size, &r))) break;
    int x = fn(ctx, &key, &r);
    if (x < 0) { err = x; break; }
    if (x > 0) break;
  }
  cx__txn_dec_done(t, d);
  if (!err && rc && rc != MDB_NOTFOUND) err = cx__store_mdb_err(t->st, rc, "records scan");
  return err;
}

int cx_store_records_each(cx_txn *t, uint32_t entity_id, const cx_reckey *after, cx_record_fn fn,
                          void *ctx) {
  MDB_cursor *cur;
  int own, rc, err = 0;
  if ((rc = cx__txn_cursor(t, CX_DBI_RECORDS, &cur, &own))) return rc;
  unsigned char kb[CX_RECKEY_LEN];
  MDB_val k, v;
  if (after) {
    if (after->entity_id != entity_id) { cx__txn_cursor_done(t, CX_DBI_RECORDS, cur, own); return CX_EBADREQ; }
    cx_reckey_encode(after, kb);
    k = (MDB_val){CX_RECKEY_LEN, kb};
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
    if (rc == 0 && k.mv_size == CX_RECKEY_LEN && memcmp(k.mv_data, kb, CX_RECKEY_LEN) == 0)
      rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  } else {
    cx__be32(kb, entity_id);
    k = (MDB_val){4, kb};
    rc = mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE);
  }
  unsigned char eb[4];
  cx__be32(eb, entity_id);
  err = records_walk(t, cur, rc, &k, &v, eb, fn, ctx);
  cx__txn_cursor_done(t, CX_DBI_RECORDS, cur, own);
  return err;
}

int cx_store_records_scan(cx_txn *t, cx_record_fn fn, void *ctx) {
  MDB_cursor *cur;
  int own, rc, err = 0;
  if ((rc = cx__txn_cursor(t, CX_DBI_RECORDS, &cur, &own))) return rc;
  MDB_val k, v;
  rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
  err = records_walk(t, cur, rc, &k, &v, NULL, fn, ctx);
  cx__txn_cursor_done(t, CX_DBI_RECORDS, cur, own);
  return err;
}


static int prefix_each(cx_txn *t, int dbi, cx_str prefix, cx_str from, int names, cx_name_fn fn,
                       void *ctx) {
  MDB_cursor *cur;
  int own, rc, err = 0;
  if ((rc = cx__txn_cursor(t, dbi, &cur, &own))) return rc;
  cx_str start = from.n ? from : prefix;
  MDB_val k = {start.n, (void *)(start.n ? start.p : "")}, v;
  rc = start.n ? mdb_cursor_get(cur, &k, &v, MDB_SET_RANGE) : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
  while (rc == 0) {
    if (k.mv_size < prefix.n || (prefix.n && memcmp(k.mv_data, prefix.p, prefix.n) != 0)) break;
    cx_str code, norm = {"", 0};
    if (names) {
      if (k.mv_size < CX_CODE_LEN + 1) { err = CX_ECORRUPT; break; }
      code = (cx_str){(const char *)k.mv_data + k.mv_size - CX_CODE_LEN, CX_CODE_LEN};
      norm = (cx_str){k.mv_data, (uint32_t)(k.mv_size - CX_CODE_LEN - 1)};
    } else {
      code = (cx_str){k.mv_data, (uint32_t)k.mv_size};
    }
    int x = fn(ctx, code, norm);
    if (x < 0) { err = x; break; }
    if (x > 0) break;
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  if (!err && rc && rc != MDB_NOTFOUND) err = cx__store_mdb_err(t->st, rc, "prefix scan");
  cx__txn_cursor_done(t, dbi, cur, own);
  return err;
}

int cx_store_names_each(cx_txn *t, cx_str prefix, cx_name_fn fn, void *ctx) {
  return prefix_each(t, CX_DBI_NAMES, prefix, (cx_str){"", 0}, 1, fn, ctx);
}

int cx_store_codes_each(cx_txn *t, cx_str prefix, cx_name_fn fn, void *ctx) {
  return prefix_each(t, CX_DBI_SUMMARY, prefix, (cx_str){"", 0}, 0, fn, ctx);
}

int cx_store_names_each_from(cx_txn *t, cx_str prefix, cx_str from, cx_name_fn fn, void *ctx) {
  return prefix_each(t, CX_DBI_NAMES, prefix, from, 1, fn, ctx);
}

int cx_store_codes_each_from(cx_txn *t, cx_str prefix, cx_str from, cx_name_fn fn, void *ctx) {
  return prefix_each(t, CX_DBI_SUMMARY, prefix, from, 0, fn, ctx);
}

/* ------------------------------------------------------------------ info, backup */

/* mdb_reader_list prints a header, then one line per held slot starting with its pid. */
static int count_slots_cb(const char *msg, void *ctx) {
  while (*msg == ' ') msg++;
  if (*msg >= '0' && *msg <= '9') ++*(uint32_t *)ctx;
  return 0;
}

int cx_store_info_get(cx_store *st, cx_store_info *out) {
  MDB_txn *txn;
  int rc = rtxn_begin(st, &txn);
  if (rc) return rc;
  cx_store_info in;
  memset(&in, 0, sizeof in);
  MDB_stat s;
  in.schema_version = CX_SCHEMA_VERSION;
  if (!mdb_stat(txn, st->dbi[CX_DBI_SUMMARY], &s)) in.entities = s.ms_entries;
  if (!mdb_stat(txn, st->dbi[CX_DBI_RECORDS], &s)) in.records = s.ms_entries;
  if (!mdb_stat(txn, st->dbi[CX_DBI_AUTHORITIES], &s)) in.authorities = s.ms_entries / 2;
  if (!mdb_stat(txn, st->dbi[CX_DBI_ROLLUP], &s)) in.rollup_cells = s.ms_entries;
  /* (The grams DB's own page counts leave out its lists' sub-trees: LMDB counts those in
   * each sub-DB's record. bench/search measures its bytes by compacting with and without it.) */
  if (st->dbi[CX_DBI_GRAMS] && !mdb_stat(txn, st->dbi[CX_DBI_GRAMS], &s)) in.gram_entries = s.ms_entries;
  if (cx__regions_count(st, txn, &in.regions, &in.regions_historic)) in.regions = in.regions_historic = 0;
  { /* read directly: a store without the key is no error worth a message */
    MDB_val k = {13, (void *)"last_commit_s"}, d;
    if (mdb_get(txn, st->dbi[CX_DBI_META], &k, &d) == 0 && d.mv_size == 4) in.last_commit_s = cx__rd32(d.mv_data);
    if (cx__meta_get64(st, txn, "log_seq", &in.log_seq)) in.log_seq = 0;
    if (cx__meta_get32(st, txn, "zdict_cur", &in.record_dict)) in.record_dict = 0;
  }
  MDB_envinfo ei;
  MDB_stat es;
  mdb_env_info(st->env, &ei);
  mdb_env_stat(st->env, &es);
  in.map_size = ei.me_mapsize;
  in.page_size = es.ms_psize;
  in.map_used = (uint64_t)(ei.me_last_pgno + 1) * es.ms_psize;
  in.max_readers = ei.me_maxreaders;
  in.salt = st->salt;
  cx__store_rtxn_end(st, txn);
  /* Held slots, counted after our own txn ended (me_numreaders is only a high-water mark). */
  mdb_reader_list(st->env, count_slots_cb, &in.readers_used);
  *out = in;
  return 0;
}

/* mdb_env_copy2 creates the copy with mode 0666 less the umask (0644, readable by everyone):
 * the copy is written to a file we create with the store's mode instead, then synced (with
 * its directory entry) so that a backup that returned is on disk. */
int cx_store_backup(cx_store *st, const char *out_dir) {
  char file[4200];
  int fd = -1, dfd = -1, rc = 0;
  if (snprintf(file, sizeof file, "%s/data.mdb", out_dir) >= (int)sizeof file) {
    cx__store_setmsg(st, "backup: path too long");
    return CX_EIO;
  }
  if (mkdir_p(out_dir, st->dir_mode)) {
    cx__store_setmsg(st, "cannot create %s: %s", out_dir, strerror(errno));
    return CX_EIO;
  }
  fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, (mode_t)st->file_mode);
  if (fd < 0) {
    cx__store_setmsg(st, "backup: cannot create %s: %s", file, strerror(errno));
    return errno == EEXIST ? CX_EEXIST : CX_EIO;
  }
  cx__store_enter(st); /* the copy runs its own read txn */
  int mrc = mdb_env_copyfd2(st->env, fd, MDB_CP_COMPACT);
  cx__store_leave(st);
  if (mrc) {
    rc = cx__store_mdb_err(st, mrc, "backup");
    goto fail;
  }
  if (fsync(fd) != 0) {
    cx__store_setmsg(st, "backup: sync %s: %s", file, strerror(errno));
    rc = CX_EIO;
    goto fail;
  }
  if (close(fd) != 0) {
    fd = -1;
    cx__store_setmsg(st, "backup: close %s: %s", file, strerror(errno));
    rc = CX_EIO;
    goto fail;
  }
  fd = -1;
  if ((dfd = open(out_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
    fsync(dfd); /* the new entry; best effort (some file systems refuse a directory fsync) */
    close(dfd);
  }
  return 0;
fail:
  if (fd >= 0) close(fd);
  unlink(file); /* a partial copy is no backup */
  return rc;
}

/* A logical copy: each DB of the snapshot walked in key order and appended (MDB_APPEND,
 * MDB_APPENDDUP) into a new environment at out_dir, in write txns of at most PACK_TXN_BYTES,
 * so every page of the copy is full; mdb_env_copy's compaction drops free pages but keeps
 * each page as filled as the B-tree's splits left it (half, after random inserts). Generic:
 * the DBs are those the main DB names, with their flags. Record values are packed again
 * (cx__repack_*: a higher zstd level; a dictionary when the store has none), so that a
 * compacted store is as small as this build makes it. */
#define PACK_TXN_BYTES (128u << 20)

static int pack_db(cx_store *st, MDB_txn *rt, MDB_env *env, const char *name, cx_repack *rp) {
  int recs = !strcmp(name, dbi_names[CX_DBI_RECORDS]), meta = !strcmp(name, dbi_names[CX_DBI_META]);
  MDB_dbi sd, td;
  unsigned fl = 0;
  int rc = mdb_dbi_open(rt, name, 0, &sd);
  if (!rc) rc = mdb_dbi_flags(rt, sd, &fl);
  if (rc) return cx__store_mdb_err(st, rc, name);
  MDB_txn *wt = NULL;
  MDB_cursor *sc = NULL, *tc = NULL;
  if ((rc = mdb_txn_begin(env, NULL, 0, &wt)) || (rc = mdb_dbi_open(wt, name, fl | MDB_CREATE, &td)) ||
      (rc = mdb_cursor_open(wt, td, &tc)) || (rc = mdb_cursor_open(rt, sd, &sc))) {
    if (sc) mdb_cursor_close(sc);
    if (wt) mdb_txn_abort(wt);
    return cx__store_mdb_err(st, rc, "pack");
  }
  unsigned put = fl & MDB_DUPSORT ? MDB_APPENDDUP : MDB_APPEND;
  size_t bytes = 0;
  MDB_val k, v;
  for (rc = mdb_cursor_get(sc, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(sc, &k, &v, MDB_NEXT)) {
    if (recs) { /* record values: packed again, at compact's level */
      int e = cx__repack_value(rp, &v);
      if (e) {
        mdb_cursor_close(sc);
        mdb_cursor_close(tc);
        mdb_txn_abort(wt);
        return e;
      }
    }
    if ((rc = mdb_cursor_put(tc, &k, &v, put))) break;
    bytes += k.mv_size + v.mv_size + 16;
    if (bytes >= PACK_TXN_BYTES) { /* a txn holds only so many dirty pages */
      bytes = 0;
      mdb_cursor_close(tc);
      tc = NULL;
      if ((rc = mdb_txn_commit(wt))) { wt = NULL; break; }
      if ((rc = mdb_txn_begin(env, NULL, 0, &wt))) { wt = NULL; break; }
      if ((rc = mdb_cursor_open(wt, td, &tc))) break;
    }
  }
  mdb_cursor_close(sc);
  if (tc) mdb_cursor_close(tc);
  if (rc == MDB_NOTFOUND && meta) { /* a dictionary compact trained */
    int e = cx__repack_meta(rp, wt, td);
    if (e) {
      mdb_txn_abort(wt);
      return e;
    }
  }
  if (rc == MDB_NOTFOUND) {
    rc = mdb_txn_commit(wt);
    wt = NULL;
  }
  if (wt) mdb_txn_abort(wt);
  return rc ? cx__store_mdb_err(st, rc, "pack") : 0;
}

int cx_store_backup_packed(cx_store *st, const char *out_dir) {
  char file[4200], lock[4200];
  if (snprintf(file, sizeof file, "%s/data.mdb", out_dir) >= (int)sizeof file ||
      snprintf(lock, sizeof lock, "%s/lock.mdb", out_dir) >= (int)sizeof lock) {
    cx__store_setmsg(st, "backup: path too long");
    return CX_EIO;
  }
  if (mkdir_p(out_dir, st->dir_mode)) {
    cx__store_setmsg(st, "cannot create %s: %s", out_dir, strerror(errno));
    return CX_EIO;
  }
  struct stat sb;
  if (stat(file, &sb) == 0) {
    cx__store_setmsg(st, "backup: %s exists", file);
    return CX_EEXIST;
  }
  MDB_envinfo ei;
  mdb_env_info(st->env, &ei);
  MDB_env *env = NULL;
  int rc = mdb_env_create(&env);
  if (!rc) rc = mdb_env_set_maxdbs(env, 64);
  if (!rc) rc = mdb_env_set_mapsize(env, ei.me_mapsize); /* the packed copy is never larger */
  if (!rc) rc = mdb_env_open(env, out_dir, MDB_NOSYNC | MDB_NOLOCK, (mdb_mode_t)st->file_mode);
  if (rc) {
    int err = cx__store_mdb_err(st, rc, "backup open");
    if (env) mdb_env_close(env);
    unlink(file);
    return err;
  }
  int err = 0;
  MDB_txn *rt = NULL;
  char (*names)[64] = NULL;
  size_t n = 0, cap = 0;
  cx__store_enter(st); /* the copy runs its own read txn */
  if ((rc = mdb_txn_begin(st->env, NULL, MDB_RDONLY, &rt))) err = cx__store_mdb_err(st, rc, "backup begin");
  if (!err) { /* the named DBs: the main DB's keys */
    MDB_dbi main;
    MDB_cursor *mc = NULL;
    MDB_val k, v;
    if ((rc = mdb_dbi_open(rt, NULL, 0, &main)) || (rc = mdb_cursor_open(rt, main, &mc))) {
      err = cx__store_mdb_err(st, rc, "backup: main DB");
    } else {
      for (rc = mdb_cursor_get(mc, &k, &v, MDB_FIRST); rc == 0 && !err; rc = mdb_cursor_get(mc, &k, &v, MDB_NEXT)) {
        if (k.mv_size == 0 || k.mv_size >= sizeof names[0]) { err = CX_ECORRUPT; break; }
        if (n == cap) {
          cap = cap ? 2 * cap : 32;
          char (*x)[64] = cx_realloc(names, cap * sizeof *x);
          if (!x) { err = CX_ENOMEM; break; }
          names = x;
        }
        memcpy(names[n], k.mv_data, k.mv_size);
        names[n++][k.mv_size] = 0;
      }
      mdb_cursor_close(mc);
    }
  }
  cx_repack *rp = NULL;
  if (!err) err = cx__repack_begin(st, rt, &rp);
  for (size_t i = 0; !err && i < n; i++) err = pack_db(st, rt, env, names[i], rp);
  cx__repack_end(rp);
  if (rt) mdb_txn_abort(rt);
  cx__store_leave(st);
  free(names);
  if (!err && (rc = mdb_env_sync(env, 1))) err = cx__store_mdb_err(st, rc, "backup sync");
  mdb_env_close(env);
  unlink(lock); /* none with MDB_NOLOCK; a copy never carries one */
  if (err) {
    unlink(file); /* a partial copy is no backup */
    return err;
  }
  int dfd = open(out_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd >= 0) {
    fsync(dfd);
    close(dfd);
  }
  return 0;
}

/* ------------------------------------------------------------------ data files */

static int retire(cx_store *st, void *p) {
  void **r = cx_realloc(st->retired, (st->n_retired + 1) * sizeof *r);
  if (!r) return CX_ENOMEM;
  st->retired = r;
  st->retired[st->n_retired++] = p;
  return 0;
}

static int recompute_timeliness(cx_store *st, MDB_txn *txn, const cx_calendar *cal) {
  MDB_cursor *cur;
  int rc = mdb_cursor_open(txn, st->dbi[CX_DBI_RECORDS], &cur);
  if (rc) return cx__store_mdb_err(st, rc, "cursor");
  cx_buf buf = {0}, zbuf = {0};
  const cx_zdict *z = NULL;
  int err = cx__zdict_current(st, txn, &z);
  MDB_val k, v;
  rc = err ? MDB_NOTFOUND : mdb_cursor_get(cur, &k, &v, MDB_FIRST);
  while (rc == 0) {
    cx_record r;
    if ((err = cx__rec_decode(cx__wdec(st, txn), v.mv_data, v.mv_size, &r))) break;
    int32_t d0 = r.report_delay;
    uint8_t o0 = r.on_time, p0 = r.delay_provisional;
    cx__rec_timeliness(cal, &r);
    if (r.report_delay != d0 || r.on_time != o0 || r.delay_provisional != p0) {
      if ((err = cx__rec_encode(&r, &buf)) || (err = cx__rec_pack(&st->wenc, z, buf.p, buf.n, &zbuf))) break;
      MDB_val nv = {zbuf.n, zbuf.p};
      if ((rc = mdb_cursor_put(cur, &k, &nv, MDB_CURRENT))) { err = cx__store_mdb_err(st, rc, "record put"); break; }
    }
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  if (!err && rc != MDB_NOTFOUND) err = cx__store_mdb_err(st, rc, "records scan");
  mdb_cursor_close(cur);
  cx__buf_free(&buf);
  cx__buf_free(&zbuf);
  return err;
}

int cx__rollup_rebuild_all(cx_store *st, MDB_txn *txn) {
  int rc = mdb_drop(txn, st->dbi[CX_DBI_ROLLUP], 0);
  if (rc) return cx__store_mdb_err(st, rc, "rollup drop");
  MDB_cursor *cur;
  if ((rc = mdb_cursor_open(txn, st->dbi[CX_DBI_RECORDS], &cur))) return cx__store_mdb_err(st, rc, "cursor");
  cx_racc acc;
  memset(&acc, 0, sizeof acc);
  int err = 0;
  MDB_val k, v;
  rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
  while (rc == 0) {
    cx_record r;
    if ((err = cx__rec_decode(cx__wdec(st, txn), v.mv_data, v.mv_size, &r))) break;
    if ((err = cx__racc_add(&acc, &r, 1))) break;
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  if (!err && rc != MDB_NOTFOUND) err = cx__store_mdb_err(st, rc, "records scan");
  mdb_cursor_close(cur);
  if (!err) err = cx__racc_apply(&acc, st, txn);
  cx__racc_free(&acc);
  return err;
}

/*
 * Schema 3 -> 4 (docs/operations.md "Upgrades"): the keyword index is built from the entities'
 * names (as verify recomputes it), every record's report delay is recomputed with the stored
 * calendar (which marks the provisional ones), the rollup cells are rebuilt in their 48-byte
 * form and the facts from the records; then the schema is 4. One write txn, nothing lost:
 * records, lifecycle states, the audit log and the data files are not rewritten.
 */
static int migrate_3_to_4(cx_store *st, MDB_txn *txn) {
  int rc = mdb_drop(txn, st->dbi[CX_DBI_GRAMS], 0);
  if (rc) return cx__store_mdb_err(st, rc, "grams drop");
  MDB_cursor *cur;
  if ((rc = mdb_cursor_open(txn, st->dbi[CX_DBI_SUMMARY], &cur))) return cx__store_mdb_err(st, rc, "cursor");
  int err = 0;
  uint64_t n = 0;
  MDB_val k, v;
  rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST);
  while (rc == 0) {
    cx_summary s;
    if (k.mv_size == CX_CODE_LEN && cx_store_summary_decode(v.mv_data, v.mv_size, &s) == 0) {
      unsigned char nk[CX_NAME_KEY_CAP];
      size_t nk_n;
      cx__name_key(s.name.p, s.name.n, (const char *)k.mv_data, nk, &nk_n);
      if ((err = cx__grams_update(st, txn, s.entity_id, NULL, 0, (const char *)nk, nk_n - CX_CODE_LEN - 1)))
        break;
      n++;
    }
    rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT);
  }
  if (!err && rc != MDB_NOTFOUND) err = cx__store_mdb_err(st, rc, "summary scan");
  mdb_cursor_close(cur);
  if (!err) err = recompute_timeliness(st, txn, st->calendar);
  if (!err) err = cx__rollup_rebuild_all(st, txn);
  if (!err) err = cx__facts_rebuild_all(st, txn);
  /* the rollups were rebuilt with this build's cubes: schema 5's layout already */
  if (!err) err = cx__meta_put32(st, txn, "schema", CX_SCHEMA_VERSION);
  if (!err) cx__store_setmsg(st, "migrated to schema %u (%llu entities indexed)", CX_SCHEMA_VERSION, (unsigned long long)n);
  return err;
}

/*
 * Schema 4 -> 5: the authority cube gained the entity kind (a body's scorecard counts the
 * records of its civil servants), so the rollup cells are rebuilt from the records. One write
 * txn; records, summaries, indexes, the audit log and the data files are not rewritten.
 */
static int migrate_4_to_5(cx_store *st, MDB_txn *txn) {
  int err = cx__rollup_rebuild_all(st, txn);
  if (!err) err = cx__meta_put32(st, txn, "schema", CX_SCHEMA_VERSION);
  if (!err) cx__store_setmsg(st, "migrated to schema %u (rollups rebuilt)", CX_SCHEMA_VERSION);
  return err;
}

/*
 * Schema 5 -> 6: record values may be version 2 (compressed with a dictionary of the store,
 * reczip.c), rollup cells are varints and a facts block holds 255 records (4 pages, not 5).
 * Version 1 record values stay valid as they are: they are not rewritten (later batches pack
 * theirs; the first big one trains the dictionary); the rollup cells and the facts are
 * rebuilt from the records. One write txn; summaries, indexes, the audit log and the data
 * files are not rewritten.
 */
static int migrate_5_to_6(cx_store *st, MDB_txn *txn) {
  int err = cx__rollup_rebuild_all(st, txn);
  if (!err && st->has_facts) err = cx__facts_rebuild_all(st, txn);
  if (!err) err = cx__meta_put32(st, txn, "schema", CX_SCHEMA_VERSION);
  if (!err) cx__store_setmsg(st, "migrated to schema %u (rollups rebuilt)", CX_SCHEMA_VERSION);
  return err;
}

/*
 * After any step to schema 6: the entities DB's values carry the hint (cx_entity_hint) beside
 * the code, so that the keyword search passes over what the public cannot see without reading
 * summaries. Written from the stored summaries, in the step's txn; nothing else is rewritten.
 */
static int migrate_hints(cx_store *st, MDB_txn *txn) {
  uint64_t n = 0;
  char step[256];
  snprintf(step, sizeof step, "%.200s", cx_store_errmsg(st));
  int err = cx__hints_rebuild_all(st, txn, &n);
  if (!err) cx__store_setmsg(st, "%s; hints of %llu entities", step, (unsigned long long)n);
  return err;
}

/* The regions DB is made from both region tables: after one is replaced (text), reload it with
 * the stored other one. That one is copied first: the loads write to the txn. */
static int reload_regions(cx_store *st, MDB_txn *txn, int historic, const char *text, size_t n) {
  const char *other_name = historic ? "regions" : "regions_history";
  MDB_val k = {strlen(other_name), (void *)other_name}, v = {0, NULL};
  int rc = mdb_get(txn, st->dbi[CX_DBI_DATA], &k, &v);
  if (rc && rc != MDB_NOTFOUND) return cx__store_mdb_err(st, rc, "data get");
  size_t on = rc ? 0 : v.mv_size;
  char *other = cx_malloc(on + 1);
  if (!other) return CX_ENOMEM;
  if (on) memcpy(other, v.mv_data, on);
  rc = historic ? cx__regions_load(st, txn, other, on, text, n) : cx__regions_load(st, txn, text, n, other, on);
  cx_free(other);
  return rc;
}

int cx_store_data_put(cx_store *st, const char *name, const char *text, size_t n, int *bad_line) {
  return cx_store_data_put_audit(st, name, text, n, bad_line, NULL);
}

int cx_store_data_put_audit(cx_store *st, const char *name, const char *text, size_t n,
                            int *bad_line, const cx_audit_entry *audit) {
  return cx_store_data_put_at(st, name, text, n, bad_line, audit, cx_day_today(), cx_audit_now_ms(), 0);
}

int cx_store_data_put_at(cx_store *st, const char *name, const char *text, size_t n, int *bad_line,
                         const cx_audit_entry *audit, cx_day today, int64_t now_ms, uint64_t log_seq) {
  int kind = strcmp(name, "catalog") == 0 ? 0 : strcmp(name, "calendar") == 0 ? 1
           : strcmp(name, "regions") == 0 ? 2 : strcmp(name, "regions_history") == 0 ? 3
           : strcmp(name, "scorecard") == 0 ? 4 : -1;
  if (kind < 0) {
    cx__store_setmsg(st, "unknown data file %s", name);
    return CX_EBADREQ;
  }
  int bad = 0, rc;
  cx_catalog *cat = NULL;
  cx_calendar *cal = NULL;
  if (kind == 0) {
    if (!(cat = cx_malloc(sizeof *cat))) return CX_ENOMEM;
    rc = cx_catalog_parse(text, n, cat, &bad);
  } else if (kind == 1) {
    if (!(cal = cx_malloc(sizeof *cal))) return CX_ENOMEM;
    rc = cx_calendar_parse(text, n, cal, &bad);
  } else if (kind == 2) {
    rc = cx_regions_validate(text, n, &bad);
  } else if (kind == 3) {
    rc = cx_regions_history_validate(text, n, &bad);
  } else {
    cx_rubric rb;
    const char *why;
    rc = cx_rubric_parse(text, n, &rb, &bad, &why);
    if (rc) {
      if (bad_line) *bad_line = bad;
      cx__store_setmsg(st, "%s", why);
      return CX_EBADREQ;
    }
  }
  if (rc) {
    if (bad_line) *bad_line = bad;
    cx__store_setmsg(st, "%s: bad line %d", name, bad);
    free(cat);
    free(cal);
    return CX_EBADREQ;
  }
  int err;
  for (;;) {
    MDB_txn *txn;
    if ((err = cx__store_wtxn(st, &txn))) break;
    cx_catalog *old_cat = st->catalog;
    uint64_t log_at = 0; /* a store that follows a replicated log is written by the log only */
    err = cx__meta_get64(st, txn, "log_seq", &log_at);
    if (err == CX_ENOTFOUND) err = 0;
    if (!err && log_seq) { /* message log_seq of the log: exactly once, with its position */
      if (log_at >= log_seq) {
        cx__store_setmsg(st, "log sequence %llu is applied already (the store is at %llu)",
                         (unsigned long long)log_seq, (unsigned long long)log_at);
        err = CX_EEXIST;
      } else {
        err = cx__meta_put64(st, txn, "log_seq", log_seq);
      }
    } else if (!err && (log_at || cx__store_follows(st, txn))) {
      cx__store_setmsg(st, "this store follows a replicated log (at sequence %llu): a data file "
                       "loaded here would make it differ from every other node: load it through "
                       "a node of the log (chengxin load-* --connect)",
                       (unsigned long long)log_at);
      err = CX_EFORBIDDEN;
    }
    if (err) {
      cx__store_wtxn_end(st, txn, 0);
      break;
    }
    if (kind == 0) st->catalog = cat; /* the rebuild reads st->catalog */
    err = data_put_raw(st, txn, name, text, n);
    if (!err && audit) {
      cx_buf ab = {0};
      err = cx__audit_write(st, txn, audit, 1, now_ms, &ab);
      cx__buf_free(&ab);
    }
    if (!err && kind == 0) err = cx__summary_rebuild_all(st, txn, today);
    if (!err && kind == 1) err = recompute_timeliness(st, txn, cal);
    if (!err && kind == 1) err = cx__rollup_rebuild_all(st, txn);
    if (!err && kind == 1) err = cx__facts_rebuild_all(st, txn); /* report_delay, on_time */
    if (!err && (kind == 2 || kind == 3)) err = reload_regions(st, txn, kind == 3, text, n);
    if (!err) err = cx__store_wtxn_end(st, txn, 1);
    else cx__store_wtxn_end(st, txn, 0);
    if (err) st->catalog = old_cat;
    if (err == CX_EMAPFULL) {
      int g = cx__store_grow(st);
      if (!g) continue;
      err = g;
    }
    if (!err && kind == 0) {
      if (retire(st, old_cat)) free(old_cat); /* no memory to defer: free now */
      cat = NULL;
    }
    if (!err && kind == 1) {
      cx_calendar *old = st->calendar;
      st->calendar = cal;
      if (retire(st, old)) free(old);
      cal = NULL;
    }
    break;
  }
  free(cat);
  free(cal);
  return err;
}

const char *cx_store_lib_version(void) {
  static char v[48];
  int a, b, c;
  mdb_version(&a, &b, &c);
  snprintf(v, sizeof v, "lmdb %d.%d.%d", a, b, c);
  return v;
}

int cx_store_data_reload(cx_store *st, int *changed) {
  *changed = 0;
  MDB_txn *txn;
  int err = cx__store_wtxn(st, &txn); /* serialises with commits, which read the two */
  if (err) return err;
  cx_catalog *old_cat = st->catalog;
  cx_calendar *old_cal = st->calendar;
  err = load_parsed(st, txn); /* sets both on success */
  cx__store_wtxn_end(st, txn, 0);
  if (err) {
    st->catalog = old_cat;
    st->calendar = old_cal;
    return err;
  }
  if (memcmp(old_cat, st->catalog, sizeof *old_cat) != 0) *changed |= 1;
  if (memcmp(old_cal, st->calendar, sizeof *old_cal) != 0) *changed |= 2;
  /* readers outside the write lock may still hold the old ones: retire, never free now */
  if (retire(st, old_cat)) free(old_cat);
  if (retire(st, old_cal)) free(old_cal);
  return 0;
}

/* ------------------------------------------------------------------ test hooks */

int cx_store_debug_put_summary(cx_store *st, const char code[CX_CODE_LEN], const void *v, size_t n) {
  MDB_txn *txn;
  int rc = cx__store_wtxn(st, &txn);
  if (rc) return rc;
  MDB_val k = {CX_CODE_LEN, (void *)code}, d = {n, (void *)v};
  if ((rc = mdb_put(txn, st->dbi[CX_DBI_SUMMARY], &k, &d, 0))) {
    cx__store_wtxn_end(st, txn, 0);
    return cx__store_mdb_err(st, rc, "summary put");
  }
  return cx__store_wtxn_end(st, txn, 1);
}

void cx_store_debug_fail_after(cx_store *st, unsigned k) { st->debug_fail_after = k; }

int cx_store_debug_set_schema(cx_store *st, uint32_t v) {
  MDB_txn *txn;
  int rc = cx__store_wtxn(st, &txn);
  if (rc) return rc;
  if ((rc = cx__meta_put32(st, txn, "schema", v))) {
    cx__store_wtxn_end(st, txn, 0);
    return rc;
  }
  return cx__store_wtxn_end(st, txn, 1);
}

/* A cube-1 cell of schema 4: its key without the kind dimension. */
typedef struct old_cell {
  unsigned char k[3 + 4 * 5];
  cx_rollup_cell c;
} old_cell;
static int old_cell_cmp(const void *a, const void *b) { return memcmp(a, b, 3 + 4 * 5); }

/* Entities values as schema 5 and older wrote them: the code alone. */
static int strip_hints(cx_store *st, MDB_txn *txn) {
  MDB_cursor *cur;
  int rc = mdb_cursor_open(txn, st->dbi[CX_DBI_ENTITIES], &cur), err = 0;
  if (rc) return cx__store_mdb_err(st, rc, "cursor");
  MDB_val k, v;
  for (rc = mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0; rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    if (v.mv_size <= CX_CODE_LEN) continue;
    /* copies: the put rewrites the page both point into */
    char code[CX_CODE_LEN];
    unsigned char kb[4];
    if (k.mv_size != 4) continue;
    memcpy(code, v.mv_data, CX_CODE_LEN);
    memcpy(kb, k.mv_data, 4);
    MDB_val nk = {4, kb}, nv = {CX_CODE_LEN, code};
    if ((rc = mdb_cursor_put(cur, &nk, &nv, MDB_CURRENT))) {
      err = cx__store_mdb_err(st, rc, "entity put");
      break;
    }
  }
  if (!err && rc != MDB_NOTFOUND) err = cx__store_mdb_err(st, rc, "entities scan");
  mdb_cursor_close(cur);
  return err;
}

int cx_store_debug_set_hint(cx_store *st, uint32_t eid, const cx_entity_hint *h) {
  MDB_txn *txn;
  int rc = cx__store_wtxn(st, &txn);
  if (rc) return rc;
  unsigned char kb[4], vb[CX_ENT_VAL_HINTED];
  cx__be32(kb, eid);
  MDB_val k = {4, kb}, v;
  if ((rc = mdb_get(txn, st->dbi[CX_DBI_ENTITIES], &k, &v))) {
    cx__store_wtxn_end(st, txn, 0);
    return rc == MDB_NOTFOUND ? CX_ENOTFOUND : cx__store_mdb_err(st, rc, "entity get");
  }
  char code[CX_CODE_LEN];
  memcpy(code, v.mv_data, CX_CODE_LEN);
  cx__entity_value(code, h, vb);
  MDB_val nv = {sizeof vb, vb};
  if ((rc = mdb_put(txn, st->dbi[CX_DBI_ENTITIES], &k, &nv, 0))) {
    cx__store_wtxn_end(st, txn, 0);
    return cx__store_mdb_err(st, rc, "entity put");
  }
  return cx__store_wtxn_end(st, txn, 1);
}

int cx_store_debug_make_schema4(cx_store *st) {
  MDB_txn *txn;
  int rc = cx__store_wtxn(st, &txn);
  if (rc) return rc;
  int err = 0;
  MDB_cursor *cur = NULL;
  old_cell *cells = NULL;
  size_t n = 0, cap = 0;
  if ((rc = mdb_cursor_open(txn, st->dbi[CX_DBI_ROLLUP], &cur))) err = cx__store_mdb_err(st, rc, "cursor");
  MDB_val k, v;
  for (rc = err ? MDB_NOTFOUND : mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    const unsigned char *kb = k.mv_data;
    if (kb[0] != 1 || k.mv_size != 3 + 4 * 6) continue;
    if (n == cap) {
      cap = cap ? 2 * cap : 256;
      old_cell *x = realloc(cells, cap * sizeof *x);
      if (!x) { err = CX_ENOMEM; break; }
      cells = x;
    }
    memcpy(cells[n].k, kb, 3 + 4 * 4);          /* cube, month, authority .. severity */
    memcpy(cells[n].k + 3 + 4 * 4, kb + 3 + 4 * 5, 4); /* status */
    if (cx__cell_decode(v.mv_data, v.mv_size, &cells[n].c)) { err = CX_ECORRUPT; break; }
    n++;
    if ((rc = mdb_cursor_del(cur, 0))) { err = cx__store_mdb_err(st, rc, "rollup del"); break; }
  }
  if (cur) mdb_cursor_close(cur);
  if (!err && n) qsort(cells, n, sizeof *cells, old_cell_cmp);
  for (size_t i = 0; !err && i < n;) {
    cx_rollup_cell sum = cells[i].c;
    size_t j = i + 1;
    for (; j < n && !old_cell_cmp(&cells[j], &cells[i]); j++) {
      sum.count += cells[j].c.count, sum.amount += cells[j].c.amount;
      sum.reported += cells[j].c.reported, sum.on_time += cells[j].c.on_time;
      sum.delay_sum += cells[j].c.delay_sum, sum.provisional += cells[j].c.provisional;
    }
    unsigned char buf[CX_ROLLUP_VAL_MAX];
    MDB_val nk = {sizeof cells[i].k, cells[i].k}, nv = {cx__cell_encode(&sum, buf), buf};
    if ((rc = mdb_put(txn, st->dbi[CX_DBI_ROLLUP], &nk, &nv, 0))) err = cx__store_mdb_err(st, rc, "rollup put");
    i = j;
  }
  free(cells);
  if (!err) err = strip_hints(st, txn);
  if (!err) err = cx__meta_put32(st, txn, "schema", 4);
  if (err) {
    cx__store_wtxn_end(st, txn, 0);
    return err;
  }
  return cx__store_wtxn_end(st, txn, 1);
}

int cx_store_debug_make_schema3(cx_store *st) {
  MDB_txn *txn;
  int rc = cx__store_wtxn(st, &txn);
  if (rc) return rc;
  int err = 0;
  MDB_cursor *cur = NULL;
  cx_buf buf = {0};
  /* no keyword index */
  if ((rc = mdb_drop(txn, st->dbi[CX_DBI_GRAMS], 0))) err = cx__store_mdb_err(st, rc, "grams drop");
  /* records without the provisional mark */
  if (!err && (rc = mdb_cursor_open(txn, st->dbi[CX_DBI_RECORDS], &cur))) err = cx__store_mdb_err(st, rc, "cursor");
  MDB_val k, v;
  for (rc = err ? MDB_NOTFOUND : mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    cx_record r;
    if ((err = cx__rec_decode(cx__wdec(st, txn), v.mv_data, v.mv_size, &r))) break;
    if (!r.delay_provisional) continue;
    r.delay_provisional = 0;
    if ((err = cx__rec_encode(&r, &buf))) break;
    MDB_val nv = {buf.n, buf.p};
    if ((rc = mdb_cursor_put(cur, &k, &nv, MDB_CURRENT))) { err = cx__store_mdb_err(st, rc, "record put"); break; }
  }
  if (cur) mdb_cursor_close(cur);
  cur = NULL;
  /* 40-byte rollup cells (the first five counters) */
  if (!err && (rc = mdb_cursor_open(txn, st->dbi[CX_DBI_ROLLUP], &cur))) err = cx__store_mdb_err(st, rc, "cursor");
  for (rc = err ? MDB_NOTFOUND : mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    cx_rollup_cell c;
    if (cx__cell_decode(v.mv_data, v.mv_size, &c)) { err = CX_ECORRUPT; break; }
    unsigned char cell[40]; /* schema 3's: the first five counters, i64 LE */
    cx__wr64(cell, c.count);
    cx__wr64(cell + 8, c.amount);
    cx__wr64(cell + 16, c.reported);
    cx__wr64(cell + 24, c.on_time);
    cx__wr64(cell + 32, c.delay_sum);
    MDB_val nv = {40, cell};
    if ((rc = mdb_cursor_put(cur, &k, &nv, MDB_CURRENT))) { err = cx__store_mdb_err(st, rc, "rollup put"); break; }
  }
  if (cur) mdb_cursor_close(cur);
  if (!err) err = cx__facts_rebuild_all(st, txn);
  if (!err) err = strip_hints(st, txn);
  if (!err) err = cx__meta_put32(st, txn, "schema", 3);
  cx__buf_free(&buf);
  if (err) {
    cx__store_wtxn_end(st, txn, 0);
    return err;
  }
  return cx__store_wtxn_end(st, txn, 1);
}

int cx_store_debug_make_schema5(cx_store *st) {
  MDB_txn *txn;
  int rc = cx__store_wtxn(st, &txn);
  if (rc) return rc;
  int err = 0;
  MDB_cursor *cur = NULL;
  if ((rc = mdb_cursor_open(txn, st->dbi[CX_DBI_ROLLUP], &cur))) err = cx__store_mdb_err(st, rc, "cursor");
  MDB_val k, v;
  for (rc = err ? MDB_NOTFOUND : mdb_cursor_get(cur, &k, &v, MDB_FIRST); rc == 0;
       rc = mdb_cursor_get(cur, &k, &v, MDB_NEXT)) {
    cx_rollup_cell c;
    if (cx__cell_decode(v.mv_data, v.mv_size, &c)) { err = CX_ECORRUPT; break; }
    unsigned char cell[48]; /* schema 5's: six i64 LE */
    cx__wr64(cell, c.count);
    cx__wr64(cell + 8, c.amount);
    cx__wr64(cell + 16, c.reported);
    cx__wr64(cell + 24, c.on_time);
    cx__wr64(cell + 32, c.delay_sum);
    cx__wr64(cell + 40, c.provisional);
    /* the key copied: a put of another size rewrites the page k points into */
    unsigned char kb[64];
    if (k.mv_size > sizeof kb) { err = CX_ECORRUPT; break; }
    memcpy(kb, k.mv_data, k.mv_size);
    MDB_val nk = {k.mv_size, kb}, nv = {48, cell};
    if ((rc = mdb_cursor_put(cur, &nk, &nv, MDB_CURRENT))) { err = cx__store_mdb_err(st, rc, "rollup put"); break; }
  }
  if (cur) mdb_cursor_close(cur);
  if (!err) err = strip_hints(st, txn);
  if (!err) err = cx__meta_put32(st, txn, "schema", 5);
  if (err) {
    cx__store_wtxn_end(st, txn, 0);
    return err;
  }
  return cx__store_wtxn_end(st, txn, 1);
}

int cx_store_debug_drop_facts(cx_store *st) {
  MDB_txn *txn;
  int rc = cx__store_wtxn(st, &txn);
  if (rc) return rc;
  if ((rc = mdb_drop(txn, st->dbi[CX_DBI_FACTS], 0))) {
    cx__store_wtxn_end(st, txn, 0);
    return cx__store_mdb_err(st, rc, "facts drop");
  }
  return cx__store_wtxn_end(st, txn, 1);
}

int cx_store_debug_del_gram(cx_store *st, cx_str gram, uint32_t entity_id) {
  MDB_txn *txn;
  int rc = cx__store_wtxn(st, &txn);
  if (rc) return rc;
  unsigned char id[4];
  cx__be32(id, entity_id);
  MDB_val k = {gram.n, (void *)gram.p}, v = {4, id};
  rc = gram.n ? mdb_del(txn, st->dbi[CX_DBI_GRAMS], &k, &v) : mdb_drop(txn, st->dbi[CX_DBI_GRAMS], 0);
  if (rc) {
    cx__store_wtxn_end(st, txn, 0);
    return rc == MDB_NOTFOUND ? CX_ENOTFOUND : cx__store_mdb_err(st, rc, "grams del");
  }
  return cx__store_wtxn_end(st, txn, 1);
}
