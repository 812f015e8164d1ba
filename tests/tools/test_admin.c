/* test_admin.c — `chengxin init/gen/backup/compact` and the store's file modes (--group-read);
 * compact refusing, with nothing changed, while another process has the store open. */
#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "clitest.h"

static void setup(void) {
  cli_setup();
  umask(022);
}
TestSuite(admin, .init = setup, .fini = cli_teardown);

static unsigned mode_of(const char *rel) {
  char p[700];
  struct stat sb;
  snprintf(p, sizeof p, "%s/%s", g_dir, rel);
  cr_assert_eq(stat(p, &sb), 0, "stat %s", p);
  return (unsigned)(sb.st_mode & 07777);
}

static struct stat stat_of(const char *rel) {
  char p[700];
  struct stat sb;
  snprintf(p, sizeof p, "%s/%s", g_dir, rel);
  cr_assert_eq(stat(p, &sb), 0, "stat %s", p);
  return sb;
}

/* Entries of g_dir whose name starts with prefix. */
static int entries_with(const char *prefix) {
  DIR *d = opendir(g_dir);
  cr_assert(d);
  int n = 0;
  struct dirent *e;
  while ((e = readdir(d)))
    if (strncmp(e->d_name, prefix, strlen(prefix)) == 0) n++;
  closedir(d);
  return n;
}

Test(admin, init_gen_and_backup_make_private_stores_unless_told_group_read) {
  cr_assert_eq(cx("init --db st --quiet"), 0, "%s", slurp("err"));
  cr_expect_eq(mode_of("st"), 0700);
  cr_expect_eq(mode_of("st/data.mdb"), 0600);
  cr_expect_eq(mode_of("st/lock.mdb"), 0600);
  cr_assert_eq(cx("init --db gst --group-read --quiet"), 0, "%s", slurp("err"));
  cr_expect_eq(mode_of("gst"), 0750);
  cr_expect_eq(mode_of("gst/data.mdb"), 0640);
  cr_expect_eq(mode_of("gst/lock.mdb"), 0640);
  cr_assert_eq(cx("gen --db g/en --entities 20 --records 40 --quiet"), 0, "%s", slurp("err"));
  cr_expect_eq(mode_of("g"), 0700);
  cr_expect_eq(mode_of("g/en"), 0700);
  cr_expect_eq(mode_of("g/en/data.mdb"), 0600);
  cr_assert_eq(cx("gen --db ggen --group-read --entities 20 --records 40 --quiet"), 0);
  cr_expect_eq(mode_of("ggen"), 0750);
  cr_expect_eq(mode_of("ggen/data.mdb"), 0640);
  cr_assert_eq(cx("backup --db g/en bk --quiet"), 0, "%s", slurp("err"));
  cr_expect_eq(mode_of("bk"), 0700);
  cr_expect_eq(mode_of("bk/data.mdb"), 0600);
  cr_assert_eq(cx("backup --db g/en --group-read gbk --quiet"), 0, "%s", slurp("err"));
  cr_expect_eq(mode_of("gbk"), 0750);
  cr_expect_eq(mode_of("gbk/data.mdb"), 0640);
  cr_assert_eq(cx("verify --db gbk --quiet"), 0, "the copy is whole");
  /* a backup never overwrites one */
  cr_assert_eq(cx("backup --db g/en bk"), 1);
  cr_assert(out_has("err", "already exists") || out_has("err", "File exists"), "%s", slurp("err"));
  /* commands that create nothing take no --group-read */
  cr_assert_eq(cx("info --db st --group-read"), 2);
  cr_assert_eq(cx("gen --out x.csv --group-read --entities 2 --records 2"), 2);
}

Test(admin, backup_force_replaces_an_earlier_backup_and_nothing_else) {
  cr_assert_eq(cx("gen --db st --entities 30 --records 90 --quiet"), 0);
  cr_assert_eq(cx("backup --db st bk --quiet"), 0, "%s", slurp("err"));
  struct stat before = stat_of("bk/data.mdb");
  cr_assert_eq(cx("backup --db st bk"), 1);
  cr_assert(out_has("err", "--force"), "the refusal says how: %s", slurp("err"));
  cr_assert_eq(cx("backup --db st bk --force --quiet"), 0, "%s", slurp("err"));
  cr_expect_neq(stat_of("bk/data.mdb").st_ino, before.st_ino, "a new copy");
  cr_assert_eq(cx("verify --db bk --quiet"), 0, "the new copy is whole");
  cr_expect_eq(entries_with("bk.backup-"), 0, "the old copy is gone");
  /* never a directory with other files, never the store itself, never an open store */
  cr_assert_eq(cx_test_sh("mkdir '%s/docs' && touch '%s/docs/notes.txt'", g_dir, g_dir), 0);
  cr_assert_eq(cx("backup --db st docs --force"), 1);
  cr_assert(out_has("err", "other files"), "%s", slurp("err"));
  cr_assert_eq(cx("backup --db st st --force"), 1);
  cr_assert(out_has("err", "the store being copied"), "%s", slurp("err"));
  cr_assert_eq(cx("backup --db st new --force --quiet"), 0, "a new directory needs no --force either");
}

Test(admin, compact_is_never_looser_than_the_store_it_replaces) {
  cr_assert_eq(cx("gen --db st --group-read --entities 30 --records 90 --quiet"), 0);
  cr_assert_eq(cx("compact --db st --group-read --quiet"), 0, "%s", slurp("err"));
  cr_expect_eq(mode_of("st"), 0750, "group-readable it was and stays");
  cr_expect_eq(mode_of("st/data.mdb"), 0640);
  cr_assert_eq(cx("compact --db st --quiet"), 0, "%s", slurp("err"));
  cr_expect_eq(mode_of("st"), 0700, "without the flag: owner only");
  cr_expect_eq(mode_of("st/data.mdb"), 0600);
  cr_assert_eq(cx("compact --db st --group-read --quiet"), 0, "%s", slurp("err"));
  cr_expect_eq(mode_of("st"), 0700, "the flag does not loosen a private store");
  cr_expect_eq(mode_of("st/data.mdb"), 0600);
  cr_assert_eq(cx("verify --db st --quiet"), 0);
  cr_assert_eq(cx("info --db st --format json"), 0);
  cr_assert(out_has("out", "\"records\": 90"), "%s", slurp("out"));
  cr_expect_eq(entries_with("st.compact-"), 0, "no copy left behind");
}

/* Starts chengxind on the store; returns its pid after its "listening on" line. */
static pid_t serve(const char *db) {
  char bin[512], log[600], dbp[600];
  cx_test_bin("chengxind", bin, sizeof bin);
  snprintf(log, sizeof log, "%s/server.log", g_dir);
  snprintf(dbp, sizeof dbp, "%s/%s", g_dir, db);
  pid_t pid = fork();
  cr_assert(pid >= 0);
  if (pid == 0) {
    int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd >= 0) dup2(fd, 2);
    execl(bin, "chengxind", "--db", dbp, "--listen", "127.0.0.1:0", "--threads", "1", (char *)NULL);
    _exit(127);
  }
  for (int i = 0; i < 500; i++) { /* up to 5 s */
    if (out_has("server.log", "listening on 127.0.0.1:")) return pid;
    int st;
    cr_assert_neq(waitpid(pid, &st, WNOHANG), pid, "chengxind exited: %s", slurp("server.log"));
    usleep(10000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  cr_assert_fail("chengxind did not start: %s", slurp("server.log"));
  return -1;
}

static int stop(pid_t pid) {
  kill(pid, SIGTERM);
  for (int i = 0; i < 500; i++) {
    int st;
    if (waitpid(pid, &st, WNOHANG) == pid) return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    usleep(10000);
  }
  kill(pid, SIGKILL);
  waitpid(pid, NULL, 0);
  return -1;
}

Test(admin, compact_refuses_while_a_server_has_the_store_open_and_changes_nothing) {
  cr_assert_eq(cx("gen --db st --entities 30 --records 90 --quiet"), 0);
  pid_t pid = serve("st");
  /* after the start: a server takes its receipt epoch (one write) before it listens */
  struct stat d0 = stat_of("st"), f0 = stat_of("st/data.mdb");
  int rc = cx("compact --db st");
  char *err = slurp("err");
  struct stat d1 = stat_of("st"), f1 = stat_of("st/data.mdb");
  int sst = stop(pid);
  cr_assert_eq(rc, 1, "compact beside a server: exit %d (%s)", rc, err);
  char want[64];
  snprintf(want, sizeof want, "process %ld has the store open", (long)pid);
  cr_assert(strstr(err, want), "%s", err);
  cr_assert(strstr(err, "nothing was changed"), "%s", err);
  free(err);
  cr_assert_eq(sst, 0, "the server kept serving and stopped cleanly");
  cr_expect(d1.st_ino == d0.st_ino && f1.st_ino == f0.st_ino, "the store was not swapped");
  cr_expect(f1.st_mtim.tv_sec == f0.st_mtim.tv_sec && f1.st_mtim.tv_nsec == f0.st_mtim.tv_nsec);
  cr_expect_eq(entries_with("st.compact-"), 0, "no copy left behind");
  /* stopped, the same command compacts */
  cr_assert_eq(cx("compact --db st --quiet"), 0, "%s", slurp("err"));
  struct stat d2 = stat_of("st");
  cr_expect_neq(d2.st_ino, d0.st_ino, "swapped this time");
  cr_assert_eq(cx("verify --db st --quiet"), 0);
}

/* A store held by a process that is not a server (here: this test's own handle) counts too. */
Test(admin, compact_refuses_beside_any_other_process_with_the_store_open) {
  cr_assert_eq(cx("init --db st --quiet"), 0);
  char path[600];
  snprintf(path, sizeof path, "%s/st", g_dir);
  cx_store_opts o = {0};
  cx_store *st = NULL;
  cr_assert_eq(cx_store_open(path, &o, &st), 0);
  int rc = cx("compact --db st");
  cx_store_close(st);
  cr_assert_eq(rc, 1);
  cr_assert(out_has("err", "has the store open"), "%s", slurp("err"));
  cr_expect_eq(entries_with("st.compact-"), 0);
  cr_assert_eq(cx("compact --db st --quiet"), 0, "%s", slurp("err"));
}

/* Data-file errors say what is wrong with the line, as load-catalog does (issue 17, point 7),
 * and a refused file changes nothing. */
Test(admin, load_calendar_and_load_regions_say_what_is_wrong_with_a_line) {
  cr_assert_eq(cx("init --db st"), 0, "%s", slurp("err"));
  static const struct {
    const char *cmd, *text, *want;
  } cases[] = {
      {"load-calendar", "published 2026\n2026-01-01\tholiday\t元旦\n2026-02-30\tholiday\tx\n",
       "cal.tsv:3: load-calendar: 2026-02-30 is not a calendar day"},
      {"load-calendar", "# c\npublished 2026\n2026-10-01\tworkday\tx\n",
       "cal.tsv:3: load-calendar: 2026-10-01: a statutory holiday"},
      {"load-calendar", "published 2026\n2026-05-06\tholyday\tx\n",
       "cal.tsv:2: load-calendar: 2026-05-06: expected holiday or workday, got \"holyday\""},
      {"load-calendar", "published 2026\n2027-05-06\tholiday\tx\n",
       "cal.tsv:2: load-calendar: 2027-05-06: 2027 is not a published year"},
      {"load-calendar", "published 2027 2026\n", "cal.tsv:1: load-calendar: published: expected one or two years"},
      {"load-regions", "110000\t北京市\n350200\t厦门市\n350100\t福州市\n",
       "cal.tsv:3: load-regions: 350100: code not ascending (after 350200)"},
      {"load-regions", "110000\t北京市\n110000\t北京\n", "cal.tsv:2: load-regions: 110000: code repeated"},
      {"load-regions", "110000\t\n", "cal.tsv:1: load-regions: 110000: empty name"},
      {"load-regions", "11000\t北京市\n", "cal.tsv:1: load-regions: \"11000\": not a region code"},
      {"load-regions", "110000\t北京市\t1980\t1990\n110000\t北京\t1985\t1995\n",
       "cal.tsv:2: load-regions: 110000: years 1985..1995 overlap the previous line's 1980..1990"},
      {"load-regions", "110000\t北京市\t1990\t1980\n", "cal.tsv:1: load-regions: 110000: years \"1990\" \"1980\""},
      {"load-regions", "110000\t北京市\t1980\n", "cal.tsv:1: load-regions: expected code<TAB>name<TAB>first<TAB>last (4"},
  };
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    spit("cal.tsv", cases[i].text);
    cr_assert_eq(cx("%s --db st cal.tsv", cases[i].cmd), 1, "case %zu", i);
    char *err = slurp("err");
    cr_assert(strstr(err, cases[i].want), "case %zu: want %s\n got %s", i, cases[i].want, err);
    cr_assert(!strstr(err, "not a valid"), "case %zu says why: %s", i, err);
    free(err);
  }
  /* nothing was replaced: the shipped calendar still publishes 2026 and knows 北京市 */
  cr_assert_eq(cx("info --db st"), 0, "%s", slurp("err"));
}
