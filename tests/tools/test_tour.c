/* test_tour.c — the README's "Try it" tour works as written on the demo store ./run.sh makes.
 *
 * The block between <!-- tour --> and <!-- /tour --> of README.md is run line by line in a
 * directory holding demo/store, generated as run.sh does (gen --entities 10000 --records
 * 100000 --seed 1, today's day). `b=build-release/bin` becomes the binaries under test. The
 * lines that need ./run.sh's server (--connect, curl) are left to tests/e2e, which runs the
 * same ops through both doors (test_doors.c). */
#include "clitest.h"

static void setup(void) {
  cli_setup();
  unsetenv("CHENGXIN_TODAY"); /* the tour runs on the real day, as run.sh's store is made */
}

TestSuite(tour, .init = setup, .fini = cli_teardown);

Test(tour, every_command_of_the_readme_tour_works_on_the_demo_store, .timeout = 300) {
  char path[1024];
  snprintf(path, sizeof path, "%s/README.md", cx_test_source_dir());
  FILE *f = fopen(path, "r");
  cr_assert(f, "cannot read %s", path);
  cr_assert_eq(cx_test_sh("mkdir -p '%s/demo' && cd '%s' && '%s' gen --db demo/store --entities 10000 "
                          "--records 100000 --seed 1 --quiet", g_dir, g_dir, g_bin), 0);
  char bindir[512];
  snprintf(bindir, sizeof bindir, "%s", g_bin);
  *strrchr(bindir, '/') = 0;
  char line[4096];
  int in = 0, ran = 0, code = 0;
  while (fgets(line, sizeof line, f)) {
    if (strstr(line, "<!-- tour -->")) { in = 1; continue; }
    if (strstr(line, "<!-- /tour -->")) break;
    if (!in || !strncmp(line, "```", 3) || !strncmp(line, "b=", 2)) continue;
    if (strstr(line, "--connect") || !strncmp(line, "curl", 4)) continue;
    line[strcspn(line, "\n")] = 0;
    /* the command without its trailing comment; quotes in the tour are single quotes */
    char *hash = strstr(line, "  #");
    if (hash) *hash = 0;
    char cmd[6144];
    snprintf(cmd, sizeof cmd, "cd '%s' && b='%s' && %s > out 2> err", g_dir, bindir, line);
    int rc = cx_test_sh("%s", cmd);
    char *out = slurp("out"), *err = slurp("err");
    if (strstr(line, " check ")) cr_assert(rc == 0 || rc == 3 || rc == 4, "%s: exit %d\n%s", line, rc, err);
    else cr_assert_eq(rc, 0, "%s: exit %d\n%s", line, rc, err);
    if (strstr(line, "chengxin") && !strstr(line, " import "))
      cr_assert(*out, "%s printed nothing\n%s", line, err);
    cr_assert(!strstr(err, "unknown") && !strstr(err, "not found"), "%s: %s", line, err);
    if (strstr(line, "check ") && strstr(line, "json")) {
      json_t *j = out_json();
      json_t *hit = json_array_get(json_object_get(json_array_get(json_object_get(j, "results"), 0), "hits"), 0);
      cr_assert(json_object_get(hit, "list_type") && json_object_get(hit, "authority"), "%s", out);
      json_decref(j);
    }
    if (strstr(line, " search ")) cr_assert(strstr(out, "91350205MA7416128B"), "%s", out);
    if (strstr(line, "city=厦门市")) cr_assert(strstr(out, "category_name") && strstr(out, "行政许可"), "%s", out);
    free(out);
    free(err);
    ran++;
    code = 1;
  }
  fclose(f);
  cr_assert(code && ran >= 8, "the tour ran %d commands", ran);
}
