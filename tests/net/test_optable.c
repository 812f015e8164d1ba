/* test_optable.c — the op table (net/exec.h, CX_OP_TABLE) and what is derived from it.
 *
 * op_table: the arrays util.c derives (names, roles, slow) agree with cx_op_parse and
 * cx_op_allowed, admin runs everything, the public exactly the ops docs/protocol.md §4 gives it.
 *
 * protocol_md: the tables of docs/protocol.md §4 (role matrix) and §5 (op summary) are rendered
 * from cx_ops[] and compared with the text between their marker comments
 * (<!-- optable:NAME --> ... <!-- /optable:NAME -->). On a mismatch the test prints the block
 * to paste (docs/hacking.md, "Adding an op"). */
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec.h"
#include "testutil.h"

TestSuite(op_table);
TestSuite(protocol_md);

/* ===================================================================== the table itself */

Test(op_table, every_name_parses_back_to_its_op) {
  for (int op = 0; op < CX_OP_COUNT; op++) {
    cr_assert_str_eq(cx_ops[op].name, cx_op_names[op]);
    cr_assert_eq(cx_op_parse(cx_str_c(cx_ops[op].name)), op, "op %s", cx_ops[op].name);
  }
  cr_assert_eq(cx_op_parse(cx_str_c("nope")), CX_EUNKNOWNOP);
  cr_assert_eq(cx_op_parse(cx_str_c("")), CX_EUNKNOWNOP);
  cr_assert_eq(cx_op_parse(cx_str_c("PING")), CX_EUNKNOWNOP); /* names are exact */
}

Test(op_table, allowed_is_the_roles_column_for_every_role) {
  for (int op = 0; op < CX_OP_COUNT; op++) {
    cr_assert_eq(cx_ops[op].roles & ~CX_R_ALL, 0u, "op %s names a role that does not exist",
                 cx_ops[op].name);
    for (int r = 0; r < CX_ROLE_COUNT; r++)
      cr_assert_eq(cx_op_allowed(r, op), (int)((cx_ops[op].roles >> r) & 1u), "op %s role %s",
                   cx_ops[op].name, cx_role_names[r]);
    cr_assert_eq(cx_op_is_slow(op), cx_ops[op].slow != 0, "op %s", cx_ops[op].name);
  }
  /* out of range: nobody may */
  cr_assert_eq(cx_op_allowed(-1, CX_OP_PING), 0);
  cr_assert_eq(cx_op_allowed(CX_ROLE_COUNT, CX_OP_PING), 0);
  cr_assert_eq(cx_op_allowed(CX_ROLE_ADMIN, CX_OP_COUNT), 0);
  cr_assert_eq(cx_op_allowed(CX_ROLE_ADMIN, -1), 0);
}

Test(op_table, admin_may_run_every_op) {
  for (int op = 0; op < CX_OP_COUNT; op++)
    cr_assert(cx_op_allowed(CX_ROLE_ADMIN, op), "admin may not run %s", cx_ops[op].name);
}

Test(op_table, the_public_runs_exactly_the_lookups) {
  char got[512] = "";
  for (int op = 0; op < CX_OP_COUNT; op++)
    if (cx_op_allowed(CX_ROLE_PUBLIC, op)) {
      if (got[0]) strcat(got, " ");
      strcat(got, cx_ops[op].name);
    }
  /* scorecards: query/ answers the public only when the rubric publishes them */
  cr_assert_str_eq(got, "ping auth entity records search catalog scorecard scorecards");
}

Test(op_table, names_are_unique_and_docs_fit_a_table_cell) {
  for (int op = 0; op < CX_OP_COUNT; op++) {
    for (int k = 0; k < op; k++) cr_assert_str_neq(cx_ops[k].name, cx_ops[op].name);
    cr_assert(cx_ops[op].doc && cx_ops[op].doc[0], "op %s has no doc", cx_ops[op].name);
    cr_assert_null(strpbrk(cx_ops[op].doc, "|\n"), "op %s: its doc breaks a markdown row",
                   cx_ops[op].name);
  }
}

/* ===================================================================== docs/protocol.md */

typedef struct text {
  char *p;
  size_t n, cap;
} text;

static void put(text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text *t, const char *fmt, ...) {
  va_list ap;
  for (;;) {
    va_start(ap, fmt);
    int k = vsnprintf(t->p ? t->p + t->n : NULL, t->p ? t->cap - t->n : 0, fmt, ap);
    va_end(ap);
    cr_assert(k >= 0);
    if (t->p && t->n + (size_t)k < t->cap) {
      t->n += (size_t)k;
      return;
    }
    t->cap = t->cap * 2 + (size_t)k + 256;
    t->p = realloc(t->p, t->cap);
    cr_assert(t->p);
  }
}

/* §4: op | public | approval | analyst | submitter | admin, one ✓ per role that may run it. */
static void render_roles(text *t) {
  int w = 11; /* the op column of the hand-written table this replaced */
  for (int op = 0; op < CX_OP_COUNT; op++)
    if ((int)strlen(cx_ops[op].name) > w) w = (int)strlen(cx_ops[op].name);
  put(t, "| %-*s |", w, "op");
  for (int r = 0; r < CX_ROLE_COUNT; r++) put(t, " %s |", cx_role_names[r]);
  put(t, "\n|");
  for (int i = 0; i < w + 2; i++) put(t, "-");
  put(t, "|");
  for (int r = 0; r < CX_ROLE_COUNT; r++) {
    put(t, ":");
    for (size_t i = 0; i < strlen(cx_role_names[r]); i++) put(t, "-");
    put(t, ":|");
  }
  put(t, "\n");
  for (int op = 0; op < CX_OP_COUNT; op++) {
    put(t, "| %-*s |", w, cx_ops[op].name);
    for (int r = 0; r < CX_ROLE_COUNT; r++) put(t, " %s |", cx_op_allowed(r, op) ? "✓" : " ");
    put(t, "\n");
  }
}

/* §5: op | roles | runs on | summary. */
static void render_summary(text *t) {
  put(t, "| op | roles | runs on | summary |\n");
  put(t, "|----|-------|---------|---------|\n");
  for (int op = 0; op < CX_OP_COUNT; op++) {
    put(t, "| `%s` | ", cx_ops[op].name);
    if (cx_ops[op].roles == CX_R_ALL) {
      put(t, "every role");
    } else {
      int first = 1;
      for (int r = 0; r < CX_ROLE_COUNT; r++)
        if (cx_op_allowed(r, op)) put(t, "%s%s", first ? "" : ", ", cx_role_names[r]), first = 0;
    }
    put(t, " | %s | %s |\n", cx_ops[op].slow ? "thread pool" : "event loop", cx_ops[op].doc);
  }
}

static char *read_protocol_md(void) {
  const char *src = cx_test_source_dir();
  char path[1024];
  snprintf(path, sizeof path, "%s/docs/protocol.md", src);
  FILE *f = fopen(path, "rb");
  cr_assert(f, "cannot open %s", path);
  text t = {0};
  char b[8192];
  size_t k;
  while ((k = fread(b, 1, sizeof b, f)) > 0) put(&t, "%.*s", (int)k, b);
  fclose(f);
  return t.p;
}

/* The text between "<!-- optable:NAME -->\n" and "<!-- /optable:NAME -->" (malloc'd). */
static char *block(const char *doc, const char *name) {
  char open[64], close[64];
  snprintf(open, sizeof open, "<!-- optable:%s -->\n", name);
  snprintf(close, sizeof close, "<!-- /optable:%s -->", name);
  const char *a = strstr(doc, open);
  cr_assert(a, "docs/protocol.md has no marker %.*s", (int)strlen(open) - 1, open);
  cr_assert_null(strstr(a + 1, open), "docs/protocol.md has the marker %s twice", name);
  a += strlen(open);
  const char *z = strstr(a, close);
  cr_assert(z, "docs/protocol.md has no closing marker %s", close);
  return strndup(a, (size_t)(z - a));
}

static void compare(const char *which, void (*render)(text *)) {
  char *doc = read_protocol_md();
  char *have = block(doc, which);
  text want = {0};
  render(&want);
  if (strcmp(have, want.p) != 0) {
    /* what a developer pastes between the markers */
    fprintf(stderr,
            "docs/protocol.md: the table between <!-- optable:%s --> and <!-- /optable:%s --> "
            "is not the one net/exec.h's CX_OP_TABLE gives. Replace it with:\n"
            "<!-- optable:%s -->\n%s<!-- /optable:%s -->\n",
            which, which, which, want.p, which);
    cr_assert(0, "docs/protocol.md optable:%s is out of date (the block to paste is on stderr)", which);
  }
  free(want.p);
  free(have);
  free(doc);
}

Test(protocol_md, the_role_matrix_of_section_4_is_the_op_table) { compare("roles", render_roles); }

Test(protocol_md, the_op_summary_of_section_5_is_the_op_table) { compare("ops", render_summary); }

/* Every op has a "### " heading in §5 that names it (one heading may name several). */
Test(protocol_md, every_op_has_a_section) {
  char *doc = read_protocol_md();
  const char *s5 = strstr(doc, "\n## 5. ");
  cr_assert(s5, "docs/protocol.md has no §5");
  const char *s6 = strstr(s5 + 1, "\n## ");
  cr_assert(s6);
  for (int op = 0; op < CX_OP_COUNT; op++) {
    const char *opn = cx_ops[op].name;
    size_t n = strlen(opn);
    int found = 0;
    for (const char *h = strstr(s5, "\n### "); h && h < s6 && !found; h = strstr(h + 1, "\n### ")) {
      const char *eol = strchr(h + 1, '\n');
      for (const char *p = h + 5; p + n <= eol && !found; p++)
        found = memcmp(p, opn, n) == 0 && (p[-1] == ' ' || p[-1] == '/') &&
                (p[n] == ' ' || p[n] == '\n' || p[n] == '/');
    }
    cr_assert(found, "docs/protocol.md §5 has no \"### %s\" section", opn);
  }
  free(doc);
}
