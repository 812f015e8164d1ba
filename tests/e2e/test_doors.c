/* test_doors.c — one implementation of every op: for the same role, the CLI's local mode (the
 * store through the executor, net/exec.h) and its remote mode (a real chengxind) print the
 * same bytes, for every query command and every output format, with the same exit status. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "e2e.h"

#define TODAY "2024-09-02"
static char cli[512], tokdir[300];

static void setup(void) {
  e2e_setup_generated(300, 3000, 7, TODAY);
  cx_test_bin("chengxin", cli, sizeof cli);
  snprintf(tokdir, sizeof tokdir, "%s", g_srv.dir);
  /* one token file per role, for --token-file (the first word of the first line) */
  static const struct { const char *role, *tok; } t[] = {
      {"admin", TOK_ADMIN}, {"analyst", TOK_ANALYST}, {"approval", TOK_APPROVAL},
      {"submitter", TOK_SUBMITTER}};
  for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
    char p[400];
    snprintf(p, sizeof p, "%s/tok-%s", tokdir, t[i].role);
    FILE *f = fopen(p, "w");
    cr_assert(f);
    fprintf(f, "%s\n", t[i].tok);
    fclose(f);
    chmod(p, 0600);
  }
}
static void teardown(void) { e2e_teardown(); }
TestSuite(doors, .init = setup, .fini = teardown, .timeout = 300);

/* Runs the CLI; its stdout into *out (malloc'd), its exit status returned. */
static int run(const char *args, char **out) {
  char cmd[4096];
  snprintf(cmd, sizeof cmd, "CHENGXIN_TODAY=%s '%s' %s 2>/dev/null", TODAY, cli, args);
  FILE *p = popen(cmd, "r");
  cr_assert(p);
  size_t cap = 1 << 16, n = 0;
  char *b = malloc(cap);
  size_t k;
  while ((k = fread(b + n, 1, cap - n - 1, p)) > 0) {
    n += k;
    if (cap - n < 1024) b = realloc(b, cap *= 2);
  }
  b[n] = 0;
  *out = b;
  int st = pclose(p);
  return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Removes every "receipt" member from JSON text s (pretty or one line): a server's check
 * answer carries a receipt per check, the local mode none (it keeps no check log), and two
 * receipts are never the same; all else must be byte for byte. */
static void strip_receipts(char *s) {
  char *k;
  while ((k = strstr(s, "\"receipt\":"))) {
    char *e = k + strlen("\"receipt\":");
    while (*e == ' ') e++;
    if (*e == '"') {
      e++;
      while (*e && *e != '"') e++;
      if (*e) e++;
    }
    char *b = k;
    if (*e == ',') { /* a member before others: take its comma and the indent of the next */
      e++;
      while (*e == '\n' || *e == ' ') e++;
      while (b > s && b[-1] == ' ') b--;
      if (b > s && b[-1] == '\n') { /* pretty: the next member keeps its own indent */
        char *n = e;
        while (n > k && n[-1] == ' ') n--;
        e = n;
      }
    } else { /* the last member: the comma before it goes */
      while (b > s && (b[-1] == ' ' || b[-1] == '\n')) b--;
      if (b > s && b[-1] == ',') b--;
    }
    memmove(b, e, strlen(e) + 1);
  }
}

/* The command in both modes, for one role, in every format: same bytes, same status. */
static void same(const char *role, const char *cmd, int *printed) {
  static const char *const fmts[] = {"table", "csv", "json", "jsonl"};
  for (size_t f = 0; f < 4; f++) {
    char a[2048], b[2048];
    snprintf(a, sizeof a, "%s --db '%s' --role %s --format %s", cmd, g_srv.db, role, fmts[f]);
    char tok[512] = "";
    if (strcmp(role, "public") != 0) snprintf(tok, sizeof tok, "--token-file '%s/tok-%s'", tokdir, role);
    snprintf(b, sizeof b, "%s --connect 127.0.0.1:%d %s --format %s", cmd, g_srv.port, tok, fmts[f]);
    char *la, *rb;
    int sa = run(a, &la), sb = run(b, &rb);
    strip_receipts(rb);
    cr_expect_eq(sa, sb, "%s as %s (%s): exit %d locally, %d remotely", cmd, role, fmts[f], sa, sb);
    cr_expect_str_eq(la, rb, "%s as %s (%s): local and remote output differ", cmd, role, fmts[f]);
    if (*la) (*printed)++;
    free(la);
    free(rb);
  }
}

/* A few entity codes of the generated store, from a local search. */
static int codes(const char *prefix, char out[][CX_CODE_LEN + 1], int max) {
  char a[1024], *o;
  snprintf(a, sizeof a, "search --db '%s' --format csv %s", g_srv.db, prefix);
  cr_assert_eq(run(a, &o), 0);
  int n = 0;
  for (char *l = strchr(o, '\n'); l && n < max; l = strchr(l + 1, '\n'))
    if (strlen(l + 1) > CX_CODE_LEN && l[1 + CX_CODE_LEN] == ',') {
      memcpy(out[n], l + 1, CX_CODE_LEN);
      out[n++][CX_CODE_LEN] = 0;
    }
  free(o);
  return n;
}

Test(doors, every_query_command_prints_the_same_bytes_locally_and_remotely) {
  char ent[4][CX_CODE_LEN + 1], gov[2][CX_CODE_LEN + 1];
  cr_assert_eq(codes("91", ent, 4), 4);
  cr_assert_eq(codes("11", gov, 2), 2);
  int printed = 0;
  static const char *const roles[] = {"admin", "analyst", "approval", "submitter", "public"};
  for (size_t r = 0; r < sizeof roles / sizeof roles[0]; r++) {
    const char *role = roles[r];
    char c[1024];
    for (int i = 0; i < 2; i++) {
      snprintf(c, sizeof c, "status %s", ent[i]);
      same(role, c, &printed);
      snprintf(c, sizeof c, "records %s", ent[i]);
      same(role, c, &printed);
    }
    snprintf(c, sizeof c, "records --all %s", gov[0]);
    same(role, c, &printed);
    snprintf(c, sizeof c, "check --action procurement %s %s %s %s 91350100MA00000000", ent[0], ent[1],
             ent[2], ent[3]);
    same(role, c, &printed);
    same(role, "search 福州", &printed);
    same(role, "search 9135", &printed);
    same(role, "agg --by province,category --metrics count,amount,on_time_rate", &printed);
    same(role, "agg --by year --where category=penalty --order count --desc --limit 3", &printed);
    same(role, "agg --by city --scan", &printed);
    same(role, "status 000000000000000000", &printed); /* an error, the same way */
  }
  cr_assert_gt(printed, 100, "the commands printed almost nothing (%d outputs)", printed);
}

Test(doors, agg_of_checks_prints_the_same_bytes_locally_and_remotely) {
  /* checks over the wire fill the check log's rollup; once written (the flusher's 200 ms), both
   * modes read the same cells, and each role gets the same answer or the same refusal */
  char ent[4][CX_CODE_LEN + 1];
  cr_assert_eq(codes("91", ent, 4), 4);
  char a[2048], *o;
  snprintf(a, sizeof a, "check --action bidding %s %s %s %s --connect 127.0.0.1:%d --token-file '%s/tok-approval'",
           ent[0], ent[1], ent[2], ent[3], g_srv.port, tokdir);
  run(a, &o);
  free(o);
  snprintf(a, sizeof a, "stats --connect 127.0.0.1:%d --token-file '%s/tok-admin' --format csv", g_srv.port, tokdir);
  for (int i = 0; i < 100; i++) {
    cr_assert_eq(run(a, &o), 0);
    int done = strstr(o, "check_log.written,4\n") != NULL;
    free(o);
    if (done) break;
    usleep(50000);
  }
  int printed = 0;
  static const char *const roles[] = {"admin", "analyst", "approval", "submitter", "public"};
  for (size_t r = 0; r < sizeof roles / sizeof roles[0]; r++) {
    same(roles[r], "agg --of checks --by action,verdict --metrics checks,feedback,restricted_rate", &printed);
    same(roles[r], "agg --of checks --by city --where action=bidding", &printed);
  }
  cr_assert_geq(printed, 16, "agg --of checks printed too little (%d outputs)", printed);
}

Test(doors, a_status_change_runs_through_the_executor_in_both_modes) {
  /* an enterprise's first record: an objection raised remotely as admin, withdrawn locally;
   * the audit log names both writers */
  char ent[1][CX_CODE_LEN + 1];
  cr_assert_eq(codes("91", ent, 1), 1);
  char a[1024], *o;
  snprintf(a, sizeof a, "records --db '%s' --format csv %s", g_srv.db, ent[0]);
  cr_assert_eq(run(a, &o), 0);
  /* header: find the authority_code and record_id columns */
  char *nl = strchr(o, '\n');
  cr_assert(nl);
  *nl = 0;
  int ia = -1, ir = -1, col = 0;
  for (char *s = o, *e; s; s = e ? e + 1 : NULL, col++) {
    e = strchr(s, ',');
    size_t n = e ? (size_t)(e - s) : strlen(s);
    if (n == 14 && !strncmp(s, "authority_code", 14)) ia = col;
    if (n == 9 && !strncmp(s, "record_id", 9)) ir = col;
  }
  cr_assert(ia >= 0 && ir >= 0, "records csv has authority_code and record_id");
  char auth[64] = "", rid[160] = "";
  col = 0;
  char *line = nl + 1;
  char *end = strchr(line, '\n');
  if (end) *end = 0;
  for (char *s = line, *e; s; s = e ? e + 1 : NULL, col++) {
    e = strchr(s, ',');
    size_t n = e ? (size_t)(e - s) : strlen(s);
    if (col == ia && n < sizeof auth) memcpy(auth, s, n), auth[n] = 0;
    if (col == ir && n < sizeof rid) memcpy(rid, s, n), rid[n] = 0;
  }
  free(o);
  cr_assert(auth[0] && rid[0]);
  char *r1, *r2;
  snprintf(a, sizeof a, "objection --connect 127.0.0.1:%d --token-file '%s/tok-admin' --format json --reason 'door test' --authority '%s' --record-id '%s'",
           g_srv.port, tokdir, auth, rid);
  cr_assert_eq(run(a, &r1), 0, "remote objection");
  cr_assert(strstr(r1, "\"objection\": true"), "%s", r1);
  snprintf(a, sizeof a, "objection --withdraw --db '%s' --format json --reason 'door test' --authority '%s' --record-id '%s'", g_srv.db, auth, rid);
  cr_assert_eq(run(a, &r2), 0, "local withdrawal");
  cr_assert(strstr(r2, "\"objection\": false"), "%s", r2);
  free(r1);
  free(r2);
  snprintf(a, sizeof a, "audit --db '%s' --format csv", g_srv.db);
  cr_assert_eq(run(a, &o), 0);
  cr_assert(strstr(o, ",admin,"), "the remote writer is audited with its role: %s", o);
  cr_assert(strstr(o, "local:"), "the local writer is audited as local:<user>");
  free(o);
}
