/*
 * admin.c — store administration: init, info, load-*, verify, backup, compact, debug.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"

int cli_store_open_opts(const char *path, const cx_store_opts *so, cx_store **out) {
  /* cx_store_open creates the directories itself, with the store's modes (0700 / 0750) */
  int e = cx_store_open(path, so, out);
  if (e) {
    if (e == CX_ENOSTORE)
      cli_err("no store there (create one with `chengxin init` or `chengxin gen`)", "%s", path);
    else {
      /* the store's own detail says which schema versions, which process holds the store... */
      const char *detail = cx_store_errmsg(NULL);
      cli_err(detail && *detail ? detail : cx_strerror(e), "cannot open store %s", path);
    }
    return e == CX_EROFS || e == CX_ENOSPACE ? cli_exit_for(e) : CLI_EXIT_FAIL;
  }
  return 0;
}

int cli_store_open(const char *path, int create, int read_only, int bulk, cx_store **out) {
  cx_store_opts so;
  memset(&so, 0, sizeof so);
  so.create = create;
  so.read_only = read_only;
  so.bulk = bulk;
  return cli_store_open_opts(path, &so, out);
}

/* Parses "--db PATH [--format F] [--quiet]" plus positionals; returns -1 after a usage error. */
typedef struct admin_args {
  const char *db;
  cli_fmt fmt;
  int quiet;
  int group_read; /* --group-read: what the command creates is readable by the group */
  int force;      /* backup --force: replace an existing backup */
  int digest;     /* verify --digest (2: --replicated-digest) */
  const char *follows; /* init --follows STREAM */
  int npos;
  char **pos;
} admin_args;

/* creates: the command creates store files, so --group-read is accepted. */
static int admin_parse(const char *cmd, int argc, char **argv, int creates, admin_args *a) {
  static const struct option opts[] = {
      {"db", required_argument, 0, 'd'}, {"format", required_argument, 0, 'f'},
      {"quiet", no_argument, 0, 'q'},    {"group-read", no_argument, 0, 'g'},
      {"force", no_argument, 0, 'F'},    {"digest", no_argument, 0, 'D'},
      {"replicated-digest", no_argument, 0, 'R'}, {"follows", required_argument, 0, 'L'},
      {0, 0, 0, 0},
  };
  memset(a, 0, sizeof *a);
  a->fmt = cli_default_format();
  int c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 'd': a->db = optarg; break;
    case 'f':
      if (cli_fmt_parse(optarg, &a->fmt)) {
        cli_usage("%s: --format: expected table, csv, json, jsonl or xlsx, got '%s'", cmd, optarg);
        return -1;
      }
      if (cli_out_check(cmd, a->fmt, NULL)) return -1; /* xlsx: not to a terminal */
      break;
    case 'q': a->quiet = 1; break;
    case 'F':
      if (strcmp(cmd, "backup") != 0) {
        cli_usage("%s: --force is for backup", cmd);
        return -1;
      }
      a->force = 1;
      break;
    case 'D':
      if (strcmp(cmd, "verify") != 0) {
        cli_usage("%s: --digest is an option of verify", cmd);
        return -1;
      }
      a->digest = 1;
      break;
    case 'L':
      if (strcmp(cmd, "init") != 0) {
        cli_usage("%s: --follows is an option of init", cmd);
        return -1;
      }
      a->follows = optarg;
      break;
    case 'R':
      if (strcmp(cmd, "verify") != 0) {
        cli_usage("%s: --replicated-digest is an option of verify", cmd);
        return -1;
      }
      a->digest = 2;
      break;
    case 'g':
      if (!creates) {
        cli_usage("%s: --group-read is for the commands that create a store or a copy", cmd);
        return -1;
      }
      a->group_read = 1;
      break;
    default: cli_usage("%s: bad option", cmd); return -1;
    }
  }
  if (!a->db) a->db = cli_default_db();
  if (!a->db) {
    cli_usage("%s: --db PATH is required (or CHENGXIN_DB)", cmd);
    return -1;
  }
  a->npos = argc - optind;
  a->pos = argv + optind;
  return 0;
}

int cli_cmd_init(int argc, char **argv) {
  admin_args a;
  if (admin_parse("init", argc, argv, 1, &a)) return CLI_EXIT_USAGE;
  if (a.npos) return cli_usage("init: unexpected argument '%s'", a.pos[0]);
  cx_store_opts so;
  memset(&so, 0, sizeof so);
  so.create = 1;
  so.group_read = a.group_read;
  cx_store *st;
  if (cli_store_open_opts(a.db, &so, &st)) return CLI_EXIT_FAIL;
  if (a.follows) { /* written by that stream's log only, from the start (docs/scaling.md) */
    int e = cx_store_set_log_stream(st, a.follows);
    if (e) {
      cli_err(e == CX_EEXIST ? cx_store_errmsg(st) : cx_strerror(e), "init: --follows %s", a.follows);
      cx_store_close(st);
      return e == CX_EBADREQ ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
    }
  }
  cx_store_close(st);
  if (!a.quiet) fprintf(stderr, "init: store ready at %s%s%s\n", a.db, a.follows ? ", following stream " : "",
                        a.follows ? a.follows : "");
  return 0;
}

static uint64_t dir_bytes(const char *dir) {
  char p[PATH_MAX + 16];
  struct stat sb;
  uint64_t n = 0;
  if (snprintf(p, sizeof p, "%s/data.mdb", dir) >= (int)sizeof p) return 0;
  if (stat(p, &sb) == 0) n += (uint64_t)sb.st_blocks * 512u;
  return n;
}

/* chengxin upgrade --db PATH: a store of the previous schema migrated in place (store.c,
 * migrate_3_to_4: one write txn, all or nothing); a current store is left as it is. */
int cli_cmd_upgrade(int argc, char **argv) {
  admin_args a;
  if (admin_parse("upgrade", argc, argv, 0, &a)) return CLI_EXIT_USAGE;
  if (a.npos) return cli_usage("upgrade: unexpected argument '%s'", a.pos[0]);
  if (!a.db) return cli_usage("upgrade: give --db PATH");
  cx_store_opts ro = {0};
  ro.read_only = 1;
  cx_store *st = NULL;
  int rc = cx_store_open(a.db, &ro, &st);
  if (rc == 0) {
    cx_store_close(st);
    printf("upgrade: %s is at schema %u already: nothing to do\n", a.db, (unsigned)CX_SCHEMA_VERSION);
    return 0;
  }
  if (rc != CX_EVERSION || !strstr(cx_store_errmsg(NULL), "chengxin upgrade")) {
    cli_err(cx_store_errmsg(NULL)[0] ? cx_store_errmsg(NULL) : cx_strerror(rc), "upgrade: %s", a.db);
    return CLI_EXIT_FAIL;
  }
  if (cli_store_open(a.db, 0, 0, 0, &st)) return CLI_EXIT_FAIL; /* the writable open migrates */
  long d = cx_store_verify(st, NULL, NULL);
  cx_store_close(st);
  if (d != 0) {
    cli_err(d < 0 ? cx_strerror((int)d) : "differences", "upgrade: %s: migrated, but verify does not agree", a.db);
    return CLI_EXIT_FAIL;
  }
  printf("upgrade: %s migrated to schema %u; it verifies\n", a.db, (unsigned)CX_SCHEMA_VERSION);
  return 0;
}

int cli_cmd_info(int argc, char **argv) {
  admin_args a;
  if (admin_parse("info", argc, argv, 0, &a)) return CLI_EXIT_USAGE;
  if (a.npos) return cli_usage("info: unexpected argument '%s'", a.pos[0]);
  cx_store *st;
  if (cli_store_open(a.db, 0, 1, 0, &st)) return CLI_EXIT_FAIL;
  cx_store_info in;
  int e = cx_store_info_get(st, &in);
  if (e) {
    cli_err(cx_strerror(e), "info: %s", a.db);
    cx_store_close(st);
    return CLI_EXIT_FAIL;
  }
  const cx_catalog *cat = cx_store_catalog(st);
  cli_table t;
  cli_table_init(&t, "info", 1);
  cli_table_col(&t, "path", CLI_COL_STR);
  cli_table_col(&t, "schema_version", CLI_COL_INT);
  cli_table_col(&t, "entities", CLI_COL_INT);
  cli_table_col(&t, "records", CLI_COL_INT);
  cli_table_col(&t, "authorities", CLI_COL_INT);
  cli_table_col(&t, "rollup_cells", CLI_COL_INT);
  cli_table_col(&t, "regions", CLI_COL_INT);
  cli_table_col(&t, "catalog_lists", CLI_COL_INT);
  cli_table_col(&t, "catalog_measures", CLI_COL_INT);
  cli_table_col(&t, "map_size", CLI_COL_INT);
  cli_table_col(&t, "map_used", CLI_COL_INT);
  cli_table_col(&t, "map_use", CLI_COL_RATE);
  cli_table_col(&t, "file_bytes", CLI_COL_INT);
  cli_table_col(&t, "bytes_per_record", CLI_COL_INT);
  cli_table_col(&t, "page_size", CLI_COL_INT);
  cli_table_col(&t, "readers", CLI_COL_STR);
  cli_table_col(&t, "log_seq", CLI_COL_INT); /* the replicated log's last message applied */
  cli_table_col(&t, "log_stream", CLI_COL_STR); /* the stream the store follows ("": none) */
  cli_table_col(&t, "record_dict", CLI_COL_INT); /* the record dictionary new values use (0: none) */
  cli_table_row(&t);
  int c = 0;
  cli_table_set(&t, c++, a.db);
  cli_table_seti(&t, c++, in.schema_version);
  cli_table_seti(&t, c++, (int64_t)in.entities);
  cli_table_seti(&t, c++, (int64_t)in.records);
  cli_table_seti(&t, c++, (int64_t)in.authorities);
  cli_table_seti(&t, c++, (int64_t)in.rollup_cells);
  cli_table_seti(&t, c++, (int64_t)in.regions);
  cli_table_seti(&t, c++, cat ? cat->n_lists : 0);
  cli_table_seti(&t, c++, cat ? cat->n_measures : 0);
  cli_table_seti(&t, c++, (int64_t)in.map_size);
  cli_table_seti(&t, c++, (int64_t)in.map_used);
  cli_table_setf(&t, c++, "%.4f", in.map_size ? (double)in.map_used / (double)in.map_size : 0.0);
  uint64_t fb = dir_bytes(a.db);
  cli_table_seti(&t, c++, (int64_t)fb);
  cli_table_seti(&t, c++, in.records ? (int64_t)(in.map_used / in.records) : 0);
  cli_table_seti(&t, c++, (int64_t)in.page_size);
  cli_table_setf(&t, c++, "%u/%u", in.readers_used, in.max_readers);
  cli_table_seti(&t, c++, (int64_t)in.log_seq);
  char stream[CX_LOG_STREAM_MAX + 1] = "";
  if (cx_store_log_stream(st, stream, sizeof stream) != 0) stream[0] = 0;
  cli_table_set(&t, c++, stream);
  cli_table_seti(&t, c++, (int64_t)in.record_dict);
  cx_store_close(st);
  cli_table *tabs[1] = {&t};
  cli_print(stdout, a.fmt, tabs, 1);
  cli_table_free(&t);
  return 0;
}

int cli_cmd_load(int argc, char **argv) {
  const char *cmd = argv[0];
  for (int i = 1; i < argc; i++) /* through a server: the `load` op (query_cmds.c) */
    if (!strcmp(argv[i], "--connect") || !strncmp(argv[i], "--connect=", 10)) return cli_cmd_load_remote(argc, argv);
  const char *name = strcmp(cmd, "load-catalog") == 0     ? "catalog"
                     : strcmp(cmd, "load-calendar") == 0  ? "calendar"
                     : strcmp(cmd, "load-scorecard") == 0 ? "scorecard"
                                                          : "regions";
  admin_args a;
  if (admin_parse(cmd, argc, argv, 0, &a)) return CLI_EXIT_USAGE;
  if (a.npos != 1) return cli_usage("%s: expected one FILE", cmd);
  char *text;
  size_t n;
  int e = cli_read_file(a.pos[0], &text, &n);
  if (e) {
    cli_err(strerror(-e), "%s: %s", cmd, a.pos[0]);
    return CLI_EXIT_FAIL;
  }
  cx_store *st;
  if (cli_store_open(a.db, 0, 0, 0, &st)) {
    free(text);
    return CLI_EXIT_FAIL;
  }
  /* load-regions takes either region table: one whose lines carry years is the historic one. */
  if (strcmp(name, "regions") == 0 && cx_regions_is_history(text, n)) name = "regions_history";
  int bad = 0;
  char det[64];
  snprintf(det, sizeof det, "bytes=%zu", n);
  cx_audit_entry ae;
  cli_audit_entry(&ae, cmd, a.pos[0], det);
  e = cx_store_data_put_audit(st, name, text, n, &bad, &ae);
  int rc = 0;
  if (e) {
    if (strcmp(name, "scorecard") == 0) { /* the rubric's parser says what is wrong */
      fprintf(stderr, "%s:%d: %s: %s\n", a.pos[0], bad, cmd, cx_store_errmsg(st));
    } else if (bad > 0) {
      /* what is wrong with the line: the file's parser says (a pure parse of the file) */
      char why[256] = "";
      int bl = 0;
      if (strcmp(name, "catalog") == 0) {
        cx_catalog *scratch = cx_malloc(sizeof *scratch);
        if (scratch) cx_catalog_parse_why(text, n, scratch, &bl, why, sizeof why);
        free(scratch);
      } else if (strcmp(name, "calendar") == 0) {
        cx_calendar *scratch = cx_malloc(sizeof *scratch);
        if (scratch) cx_calendar_parse_why(text, n, scratch, &bl, why, sizeof why);
        free(scratch);
      } else if (strcmp(name, "regions") == 0) {
        cx_regions_validate_why(text, n, &bl, why, sizeof why);
      } else if (strcmp(name, "regions_history") == 0) {
        cx_regions_history_validate_why(text, n, &bl, why, sizeof why);
      }
      if (bl != bad) why[0] = 0; /* the store refused another line: do not guess */
      if (why[0]) fprintf(stderr, "%s:%d: %s: %s\n", a.pos[0], bad, cmd, why);
      else fprintf(stderr, "%s:%d: %s: not a valid %s line\n", a.pos[0], bad, cmd, name);
    } else {
      cli_err(cx_strerror(e), "%s: %s", cmd, a.pos[0]);
    }
    rc = CLI_EXIT_FAIL;
  } else if (!a.quiet) {
    fprintf(stderr, "%s: loaded %s (%zu bytes)\n", cmd, a.pos[0], n);
  }
  cx_store_close(st);
  free(text);
  return rc;
}

static void verify_cb(void *ctx, const char *what) {
  long *n = ctx;
  if (*n < 1000) printf("difference: %s\n", what);
  (*n)++;
}

int cli_cmd_verify(int argc, char **argv) {
  admin_args a;
  if (admin_parse("verify", argc, argv, 0, &a)) return CLI_EXIT_USAGE;
  if (a.npos) return cli_usage("verify: unexpected argument '%s'", a.pos[0]);
  cx_store *st;
  if (cli_store_open(a.db, 0, 1, 0, &st)) return CLI_EXIT_FAIL;
  long seen = 0;
  double t0 = cli_now();
  long d = cx_store_verify(st, a.quiet ? NULL : verify_cb, &seen);
  if (d >= 0 && a.digest) {
    unsigned char dg[CX_DIGEST_LEN];
    char hex[2 * CX_DIGEST_LEN + 1];
    int e = a.digest == 2 ? cx_store_digest_replicated(st, dg) : cx_store_digest(st, dg);
    if (e) {
      cli_err(cx_store_errmsg(st), "verify: digest of %s", a.db);
      cx_store_close(st);
      return CLI_EXIT_FAIL;
    }
    cx_digest_hex(dg, hex);
    printf("%s\n", hex);
  }
  cx_store_close(st);
  if (d < 0) {
    cli_err(cx_strerror((int)d), "verify: %s", a.db);
    return CLI_EXIT_FAIL;
  }
  if (!a.quiet)
    fprintf(stderr, "verify: %ld difference%s (%.2f s)\n", d, d == 1 ? "" : "s", cli_now() - t0);
  return d ? CLI_EXIT_FAIL : 0;
}

/* A read-only open for a copy: its backups get the modes of --group-read. */
static int open_for_copy(const admin_args *a, cx_store **st) {
  cx_store_opts so;
  memset(&so, 0, sizeof so);
  so.read_only = 1;
  so.group_read = a->group_read;
  return cli_store_open_opts(a->db, &so, st);
}

/* What is in dir: -1 when it does not exist (or is no directory), else 0 for empty, 1 for a
 * store's files only (data.mdb, lock.mdb), 2 for anything else. */
static int dir_kind(const char *dir) {
  DIR *d = opendir(dir);
  if (!d) return -1;
  int kind = 0;
  struct dirent *e;
  while ((e = readdir(d))) {
    if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, "..")) continue;
    if (!strcmp(e->d_name, "data.mdb") || !strcmp(e->d_name, "lock.mdb")) {
      if (kind == 0) kind = 1;
    } else {
      kind = 2;
    }
  }
  closedir(d);
  return kind;
}

static void remove_copy(const char *dir);
static int same_dir(const char *a, const char *b) {
  struct stat sa, sb;
  return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
}

/* backup into a directory that holds a store already: refused (the copy cannot be written
 * over it: "File exists" said nothing useful) unless --force; then the new backup is written
 * beside it (OUTDIR.backup-PID) and the two directories are exchanged in one rename, so OUTDIR
 * always names one complete backup, and the old one is removed. --force replaces only what
 * looks like a store (data.mdb, lock.mdb), never the store being copied nor one that a
 * process has open. */
int cli_cmd_backup(int argc, char **argv) {
  admin_args a;
  if (admin_parse("backup", argc, argv, 1, &a)) return CLI_EXIT_USAGE;
  if (a.npos != 1) return cli_usage("backup: expected one OUTDIR");
  char out[PATH_MAX + 32], tmp[PATH_MAX + 64];
  size_t n = strlen(a.pos[0]);
  while (n > 1 && a.pos[0][n - 1] == '/') n--;
  snprintf(out, sizeof out, "%.*s", (int)n, a.pos[0]);
  int kind = dir_kind(out);
  if (kind > 0 && !a.force) {
    cli_err(kind == 1 ? "a backup (or store) already exists there: give --force to replace it, "
                        "or another directory"
                      : "it exists and is not empty: give an empty or new directory",
            "backup: %s", out);
    return CLI_EXIT_FAIL;
  }
  if (kind == 2) {
    cli_err("it holds other files than a store's: not replaced, even with --force", "backup: %s", out);
    return CLI_EXIT_FAIL;
  }
  if (kind == 1 && same_dir(out, a.db)) {
    cli_err("that is the store being copied", "backup: %s", out);
    return CLI_EXIT_FAIL;
  }
  long holder = 0;
  if (kind == 1 && (cx_store_holders(out, &holder) != 0 || holder != 0)) {
    cli_err("a process has that store open (a server?): not replaced", "backup: %s", out);
    return CLI_EXIT_FAIL;
  }
  snprintf(tmp, sizeof tmp, "%s.backup-%ld", out, (long)getpid());
  const char *dst = kind == 1 ? tmp : out;
  cx_store *st;
  if (open_for_copy(&a, &st)) return CLI_EXIT_FAIL;
  double t0 = cli_now();
  int e = cx_store_backup(st, dst);
  if (e) cli_err(cx_store_errmsg(st), "backup: %s", dst);
  cx_store_close(st);
  if (e) {
    if (kind == 1 && e != CX_EEXIST) remove_copy(tmp);
    return CLI_EXIT_FAIL;
  }
  if (kind == 1) {
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, out, RENAME_EXCHANGE) != 0) {
      cli_err(strerror(errno), "backup: exchange %s and %s", tmp, out);
      remove_copy(tmp);
      return CLI_EXIT_FAIL;
    }
    remove_copy(tmp); /* the old backup, now at tmp */
  }
  if (!a.quiet)
    fprintf(stderr, "backup: %s -> %s%s (%.2f s)\n", a.db, out, kind == 1 ? " (replaced)" : "",
            cli_now() - t0);
  return 0;
}

/* 0 when no other process has the store at path open; else says so and returns
 * CLI_EXIT_FAIL. A server (or import) left on the old files while compact swaps them would
 * go on writing into a deleted file: every write after the swap would be lost. */
static int compact_refuse_held(const char *path, const char *when) {
  long holder = 0;
  int e = cx_store_holders(path, &holder);
  if (e) {
    cli_err("cannot read its lock.mdb to check for other processes using it", "compact: %s%s",
            path, when);
    return CLI_EXIT_FAIL;
  }
  if (holder == 0) return 0;
  char why[160];
  if (holder > 0)
    snprintf(why, sizeof why, "process %ld has the store open: stop the server (or import) "
                              "first; nothing was changed", holder);
  else
    snprintf(why, sizeof why, "another process has the store open: stop the server (or "
                              "import) first; nothing was changed");
  cli_err(why, "compact: %s%s", path, when);
  return CLI_EXIT_FAIL;
}

/* Removes a store copy made by compact: its two LMDB files and the directory. */
static void remove_copy(const char *dir) {
  char f[PATH_MAX + 64];
  if (snprintf(f, sizeof f, "%s/data.mdb", dir) < (int)sizeof f) unlink(f);
  if (snprintf(f, sizeof f, "%s/lock.mdb", dir) < (int)sizeof f) unlink(f);
  rmdir(dir);
}

/* The compacted copy is never looser than the store it replaces: mode of the copy (as
 * created, umask applied) & the old mode, owner bits kept. */
static void tighten_to(const char *copy, const char *orig, const char *file) {
  char a[PATH_MAX + 64], b[PATH_MAX + 64];
  struct stat ca, ob;
  snprintf(a, sizeof a, "%s%s", copy, file);
  snprintf(b, sizeof b, "%s%s", orig, file);
  if (stat(a, &ca) != 0 || stat(b, &ob) != 0) return;
  mode_t own = S_ISDIR(ca.st_mode) ? 0700 : 0600;
  mode_t m = (ca.st_mode & ob.st_mode & 0777) | own;
  if (m != (ca.st_mode & 0777)) chmod(a, m);
}

/* compact: refuse while another process has the store open; backup into a sibling directory,
 * check again, then swap the two directories in one atomic renameat2(RENAME_EXCHANGE): at every
 * instant PATH names one complete store (the old one before the exchange, the compacted one
 * after). A process that opened the old store between the last check and the exchange holds
 * its lock.mdb, now at PATH.compact-PID: then the exchange is undone. The old copy is removed
 * last. */
int cli_cmd_compact(int argc, char **argv) {
  admin_args a;
  if (admin_parse("compact", argc, argv, 1, &a)) return CLI_EXIT_USAGE;
  if (a.npos) return cli_usage("compact: unexpected argument '%s'", a.pos[0]);
  char tmp[PATH_MAX + 32], path[PATH_MAX + 32];
  size_t n = strlen(a.db);
  while (n > 1 && a.db[n - 1] == '/') n--;
  snprintf(tmp, sizeof tmp, "%.*s.compact-%ld", (int)n, a.db, (long)getpid());
  snprintf(path, sizeof path, "%.*s", (int)n, a.db);
  if (compact_refuse_held(path, "")) return CLI_EXIT_FAIL;
  uint64_t before = dir_bytes(path);
  cx_store *st;
  if (open_for_copy(&a, &st)) return CLI_EXIT_FAIL;
  int e = cx_store_backup_packed(st, tmp); /* pages filled: a compacted store is a packed one */
  if (e) cli_err(cx_store_errmsg(st), "compact: backup to %s", tmp);
  cx_store_close(st);
  if (e) {
    if (e != CX_EEXIST) rmdir(tmp);
    return CLI_EXIT_FAIL;
  }
  tighten_to(tmp, path, "");
  tighten_to(tmp, path, "/data.mdb");
  /* the backup took a while: a server may have started on the store meanwhile */
  if (compact_refuse_held(path, " (opened during the copy)")) {
    remove_copy(tmp);
    return CLI_EXIT_FAIL;
  }
  if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_EXCHANGE) != 0) {
    cli_err(strerror(errno), "compact: exchange %s and %s", tmp, path);
    remove_copy(tmp);
    return CLI_EXIT_FAIL;
  }
  long holder = 0;
  if (cx_store_holders(tmp, &holder) != 0 || holder != 0) {
    /* someone opened the old store in the instant before the exchange: give it back */
    if (renameat2(AT_FDCWD, tmp, AT_FDCWD, path, RENAME_EXCHANGE) != 0) {
      cli_err(strerror(errno), "compact: a process opened %s during the exchange, and it could "
                               "not be undone: the old store is at %s, stop that process",
              path, tmp);
      return CLI_EXIT_FAIL;
    }
    remove_copy(tmp);
    cli_err("a process opened the store during the exchange; undone, nothing was changed",
            "compact: %s", path);
    return CLI_EXIT_FAIL;
  }
  remove_copy(tmp); /* the old copy, now at tmp */
  if (!a.quiet)
    fprintf(stderr, "compact: %s: %llu -> %llu bytes\n", path, (unsigned long long)before,
            (unsigned long long)dir_bytes(path));
  return 0;
}

int cli_cmd_debug(int argc, char **argv) {
  if (argc < 2) return cli_usage("debug: expected a subcommand (corrupt-summary)");
  if (strcmp(argv[1], "corrupt-summary") != 0) return cli_usage("debug: unknown subcommand '%s'", argv[1]);
  admin_args a;
  if (admin_parse("debug", argc - 1, argv + 1, 0, &a)) return CLI_EXIT_USAGE;
  if (a.npos != 1) return cli_usage("debug corrupt-summary: expected one CODE");
  char code[CX_CODE_LEN + 1];
  int person;
  if (cx_code_normalize(a.pos[0], strlen(a.pos[0]), code, &person)) {
    cli_err("invalid code", "debug: %s", a.pos[0]);
    return CLI_EXIT_FAIL;
  }
  cx_store *st;
  if (cli_store_open(a.db, 0, 0, 0, &st)) return CLI_EXIT_FAIL;
  /* 64 bytes of 0x5A: not a summary any entity could have. */
  unsigned char buf[64];
  memset(buf, 0x5A, sizeof buf);
  int e;
  e = cx_store_debug_put_summary(st, code, buf, sizeof buf);
  cx_store_close(st);
  if (e) {
    cli_err(cx_strerror(e), "debug: corrupt-summary %s", code);
    return CLI_EXIT_FAIL;
  }
  return 0;
}

/*
 * chengxin prune-checks --db PATH --before YYYY-MM-DD [--quiet]
 * Deletes the check log's entries (receipts) of checks made before that Beijing day, as the
 * server's hourly prune does past --check-retention-days: for an operator who must delete
 * sooner (a shorter retention decided later, a store handed over). The check rollup keeps its
 * counts, so `agg --of checks` is unchanged; feedback on a deleted receipt is not_found.
 * Audited (op prune-checks, detail before=DAY) in the first write txn. Safe beside a running
 * server (LMDB's one writer: the server's check-log writes wait for each txn of 10,000).
 */
int cli_cmd_prune_checks(int argc, char **argv) {
  static const struct option opts[] = {
      {"db", required_argument, 0, 'd'}, {"before", required_argument, 0, 'b'},
      {"quiet", no_argument, 0, 'q'},    {0, 0, 0, 0},
  };
  const char *db = NULL, *before = NULL;
  int quiet = 0, c;
  optind = 1;
  while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
    switch (c) {
    case 'd': db = optarg; break;
    case 'b': before = optarg; break;
    case 'q': quiet = 1; break;
    default: return cli_usage("prune-checks: bad option");
    }
  }
  if (optind < argc) return cli_usage("prune-checks: unexpected argument '%s'", argv[optind]);
  if (!db) db = cli_default_db();
  if (!db) return cli_usage("prune-checks: needs --db PATH");
  if (!before) return cli_usage("prune-checks: needs --before YYYY-MM-DD (entries of checks before that day go)");
  cx_day day;
  if (cx_day_parse(cx_str_c(before), &day))
    return cli_usage("prune-checks: --before: expected a date YYYY-MM-DD, got '%s'", before);
  if (day > cx_day_today() + 1)
    return cli_usage("prune-checks: --before %s is after tomorrow: that would delete every receipt "
                     "still being given; give a day up to tomorrow", before);
  cx_store *st;
  if (cli_store_open(db, 0, 0, 0, &st)) return CLI_EXIT_FAIL;
  char det[32];
  snprintf(det, sizeof det, "before=%.10s", before);
  cx_audit_entry ae;
  cli_audit_entry(&ae, "prune-checks", "", det);
  uint64_t n = 0;
  int64_t before_ms = (int64_t)day * 86400000 - (int64_t)CX_BEIJING_OFFSET_S * 1000;
  int e = cx_store_checks_prune(st, before_ms, &ae, &n);
  int rc = 0;
  if (e) {
    cli_err(cx_strerror(e), "prune-checks: %s (%llu entries deleted before the failure)", db,
            (unsigned long long)n);
    rc = cli_exit_for(e);
  } else if (!quiet) {
    fprintf(stderr, "prune-checks: %llu check-log entries before %s deleted\n", (unsigned long long)n, before);
  }
  cx_store_close(st);
  return rc;
}
