/* test_modes.c — local safety of the store files (store/store.c): the modes of new stores and
 * backups, existing stores left as they are, and cx_store_holders (who else has it open). */
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "fixture.h"

static char dir[256];
static void setup(void) {
  cx_test_tmpdir(dir, sizeof dir);
  umask(022); /* the usual umask: each test process is forked, so this is its own */
}
static void teardown(void) { cx_test_rmrf(dir); }
TestSuite(modes, .init = setup, .fini = teardown);
TestSuite(holders, .init = setup, .fini = teardown);

/* Permission bits of dir/rel. */
static unsigned mode_of(const char *base, const char *rel) {
  char p[700];
  struct stat sb;
  snprintf(p, sizeof p, "%s%s%s", base, *rel ? "/" : "", rel);
  cr_assert_eq(stat(p, &sb), 0, "stat %s", p);
  return (unsigned)(sb.st_mode & 07777);
}

static cx_store *open_with(const char *path, int create, int read_only, int group_read) {
  cx_store_opts o = {0};
  o.create = create;
  o.read_only = read_only;
  o.group_read = group_read;
  cx_store *st = NULL;
  int rc = cx_store_open(path, &o, &st);
  cr_assert_eq(rc, 0, "open %s: %s (%s)", path, cx_strerror(rc), cx_store_errmsg(NULL));
  return st;
}

/* One record, so that a backup has something to hold. */
static void put_one(cx_store *st) {
  char code[19], auth[19];
  fx_uscc(1, code);
  fx_auth(1, auth);
  cx_record r;
  fx_record(&r, code, "模式测试有限公司", auth, "M-1", fx_day(2024, 3, 1));
  cx_batch *b = NULL;
  cr_assert_eq(cx_batch_begin(st, &b), 0);
  fx_put(b, &r);
  cx_batch_result res;
  cr_assert_eq(cx_batch_commit(b, &res), 0, "%s", cx_store_errmsg(st));
}

Test(modes, a_new_store_and_its_new_parents_are_private_to_the_owner) {
  char path[512];
  snprintf(path, sizeof path, "%s/a/b", dir);
  cx_store *st = open_with(path, 1, 0, 0);
  cx_store_close(st);
  cr_expect_eq(mode_of(dir, "a"), 0700);
  cr_expect_eq(mode_of(path, ""), 0700);
  cr_expect_eq(mode_of(path, "data.mdb"), 0600);
  cr_expect_eq(mode_of(path, "lock.mdb"), 0600);
}

Test(modes, group_read_makes_a_new_store_readable_by_its_group_only) {
  char path[512];
  snprintf(path, sizeof path, "%s/g", dir);
  cx_store *st = open_with(path, 1, 0, 1);
  cx_store_close(st);
  cr_expect_eq(mode_of(path, ""), 0750);
  cr_expect_eq(mode_of(path, "data.mdb"), 0640);
  cr_expect_eq(mode_of(path, "lock.mdb"), 0640);
}

Test(modes, the_umask_still_removes_what_it_removes) {
  umask(077);
  char path[512];
  snprintf(path, sizeof path, "%s/g", dir);
  cx_store *st = open_with(path, 1, 0, 1);
  cx_store_close(st);
  cr_expect_eq(mode_of(path, ""), 0700);
  cr_expect_eq(mode_of(path, "data.mdb"), 0600);
}

Test(modes, an_existing_store_keeps_its_modes_whatever_the_open_asks) {
  char path[512], f[600];
  snprintf(path, sizeof path, "%s/s", dir);
  cx_store_close(open_with(path, 1, 0, 0));
  /* group_read on an existing private store loosens nothing */
  cx_store_close(open_with(path, 1, 0, 1));
  cx_store_close(open_with(path, 0, 1, 1));
  cr_expect_eq(mode_of(path, ""), 0700);
  cr_expect_eq(mode_of(path, "data.mdb"), 0600);
  cr_expect_eq(mode_of(path, "lock.mdb"), 0600);
  /* a store of an older build (0755 / 0644) is not changed behind its operator either */
  cr_assert_eq(chmod(path, 0755), 0);
  snprintf(f, sizeof f, "%s/data.mdb", path);
  cr_assert_eq(chmod(f, 0644), 0);
  cx_store_close(open_with(path, 1, 0, 0));
  cr_expect_eq(mode_of(path, ""), 0755);
  cr_expect_eq(mode_of(path, "data.mdb"), 0644);
  /* an empty directory made by the operator keeps its mode; the files are the store's */
  char pre[512];
  snprintf(pre, sizeof pre, "%s/pre", dir);
  cr_assert_eq(mkdir(pre, 0711), 0);
  cr_assert_eq(chmod(pre, 0711), 0);
  cx_store_close(open_with(pre, 1, 0, 0));
  cr_expect_eq(mode_of(pre, ""), 0711);
  cr_expect_eq(mode_of(pre, "data.mdb"), 0600);
}

Test(modes, a_lock_file_made_later_takes_the_permissions_of_the_data_file) {
  char path[512], f[600];
  snprintf(path, sizeof path, "%s/g", dir);
  cx_store_close(open_with(path, 1, 0, 1));
  snprintf(f, sizeof f, "%s/lock.mdb", path);
  cr_assert_eq(unlink(f), 0); /* as after a compact or a restore from a backup */
  cx_store_close(open_with(path, 0, 0, 0));
  cr_expect_eq(mode_of(path, "lock.mdb"), 0640, "the group may still check who has it open");
  cr_assert_eq(unlink(f), 0);
  snprintf(f, sizeof f, "%s/data.mdb", path);
  cr_assert_eq(chmod(f, 0600), 0);
  cx_store_close(open_with(path, 0, 1, 1));
  cr_expect_eq(mode_of(path, "lock.mdb"), 0600);
}

Test(modes, backups_are_private_or_group_readable_and_whole) {
  char path[512], out[512], gout[512];
  snprintf(path, sizeof path, "%s/s", dir);
  snprintf(out, sizeof out, "%s/bk/1", dir);
  snprintf(gout, sizeof gout, "%s/gbk", dir);
  cx_store *st = open_with(path, 1, 0, 0);
  put_one(st);
  cx_store_close(st);
  st = open_with(path, 0, 1, 0);
  cr_assert_eq(cx_store_backup(st, out), 0, "%s", cx_store_errmsg(st));
  cx_store_close(st);
  cr_expect_eq(mode_of(dir, "bk"), 0700);
  cr_expect_eq(mode_of(out, ""), 0700);
  cr_expect_eq(mode_of(out, "data.mdb"), 0600, "not mdb_env_copy's 0644");
  st = open_with(path, 0, 1, 1);
  cr_assert_eq(cx_store_backup(st, gout), 0, "%s", cx_store_errmsg(st));
  /* a second backup into the same directory does not overwrite the first */
  cr_assert_eq(cx_store_backup(st, gout), CX_EEXIST);
  cr_assert(strstr(cx_store_errmsg(st), "data.mdb"), "%s", cx_store_errmsg(st));
  cx_store_close(st);
  cr_expect_eq(mode_of(gout, ""), 0750);
  cr_expect_eq(mode_of(gout, "data.mdb"), 0640);
  /* the copy opens and holds the record */
  st = open_with(gout, 0, 1, 0);
  cx_store_info in;
  cr_assert_eq(cx_store_info_get(st, &in), 0);
  cr_expect_eq(in.records, 1);
  cx_store_close(st);
}

/* ---- holders ---- */

/* A child process that opens the store and keeps it open until told (a byte on `go`). */
static pid_t hold_in_child(const char *path, int *go_w) {
  int ready[2], go[2];
  cr_assert_eq(pipe(ready), 0);
  cr_assert_eq(pipe(go), 0);
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {
    close(ready[0]);
    close(go[1]);
    cx_store_opts o = {0};
    cx_store *st = NULL;
    char c = cx_store_open(path, &o, &st) == 0 ? 'y' : 'n';
    if (write(ready[1], &c, 1) != 1) _exit(2);
    if (read(go[0], &c, 1) < 0) _exit(2); /* EOF or a byte: the parent is done */
    if (st) cx_store_close(st);
    _exit(0);
  }
  close(ready[1]);
  close(go[0]);
  char c = 0;
  cr_assert_eq(read(ready[0], &c, 1), 1);
  close(ready[0]);
  cr_assert_eq(c, 'y', "the child could not open the store");
  *go_w = go[1];
  return pid;
}

Test(holders, name_another_process_with_the_store_open_and_never_the_caller) {
  char path[512];
  snprintf(path, sizeof path, "%s/s", dir);
  long h = 99;
  cr_assert_eq(cx_store_holders(path, &h), 0, "no store, no lock file: nobody");
  cr_assert_eq(h, 0);
  cx_store *st = open_with(path, 1, 0, 0);
  cr_assert_eq(cx_store_holders(path, &h), 0);
  cr_assert_eq(h, 0, "our own handle is not another process");
  cx_store_close(st);
  int go;
  pid_t pid = hold_in_child(path, &go);
  cr_assert_eq(cx_store_holders(path, &h), 0);
  cr_assert_eq(h, (long)pid, "holder %ld, child %ld", h, (long)pid);
  st = open_with(path, 0, 1, 0); /* a read-only handle of ours beside it changes nothing */
  cr_assert_eq(cx_store_holders(path, &h), 0);
  cr_assert_eq(h, (long)pid);
  cx_store_close(st);
  close(go);
  int ws = 0;
  cr_assert_eq(waitpid(pid, &ws, 0), pid);
  cr_assert(WIFEXITED(ws) && WEXITSTATUS(ws) == 0);
  cr_assert_eq(cx_store_holders(path, &h), 0);
  cr_assert_eq(h, 0, "the lock goes with the process");
  /* a killed holder leaves no lock behind either */
  pid = hold_in_child(path, &go);
  kill(pid, SIGKILL);
  waitpid(pid, &ws, 0);
  close(go);
  cr_assert_eq(cx_store_holders(path, &h), 0);
  cr_assert_eq(h, 0);
}
