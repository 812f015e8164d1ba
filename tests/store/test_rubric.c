/* test_rubric.c — the scorecard rubric (data/scorecard.tsv): parsing, curves, bands, the data file. */
#include "fixture.h"

static cx_rubric rb;
static int bad;
static const char *why;

static int parse(const char *text) { return cx_rubric_parse(text, strlen(text), &rb, &bad, &why); }

#define MINIMAL "indicator\tcomplaints\t10\t0:100,10:0\nband\t合格\t60\nband\t不合格\t0\n"

Test(rubric, the_shipped_default_parses_and_is_not_published) {
  cr_assert_eq(cx_rubric_parse(cx_data_scorecard, cx_data_scorecard_len, &rb, &bad, &why), 0,
               "line %d: %s", bad, why);
  cr_assert_eq(rb.publish, 0);
  cr_assert(rb.kinds & (1u << CX_KIND_GOVERNMENT));
  cr_assert(rb.kinds & (1u << CX_KIND_SUBDISTRICT));
  cr_assert_eq(rb.n_bands, 4);
  cr_assert_str_eq(rb.bands[0].name, "优秀");
  cr_assert_str_eq(rb.bands[3].name, "不合格");
  for (int i = 0; i < CX_IND_COUNT; i++) cr_assert(rb.ind[i].on, "%s listed", cx_ind_names[i]);
  cr_assert(rb.ind[CX_IND_BLACKLISTED].veto);
  cr_assert_float_eq(rb.ind[CX_IND_BLACKLISTED].veto_cap, 59.0, 1e-9);
  cr_assert_eq(rb.ind[CX_IND_LAWSUIT_LOSS].min_n, 3);
}

Test(rubric, curves_are_linear_between_points_and_flat_outside) {
  cr_assert_eq(parse("indicator\tgov_dishonesty\t25\t0:100,1:60,3:0\n" "band\tA\t0\n"), 0, "%s", why);
  const cx_rubric_ind *i = &rb.ind[CX_IND_GOV_DISHONESTY];
  cr_assert_float_eq(cx_rubric_points(i, -1), 100.0, 1e-9);
  cr_assert_float_eq(cx_rubric_points(i, 0), 100.0, 1e-9);
  cr_assert_float_eq(cx_rubric_points(i, 0.5), 80.0, 1e-9);
  cr_assert_float_eq(cx_rubric_points(i, 2), 30.0, 1e-9);
  cr_assert_float_eq(cx_rubric_points(i, 3), 0.0, 1e-9);
  cr_assert_float_eq(cx_rubric_points(i, 99), 0.0, 1e-9);
}

Test(rubric, bands_sort_by_minimum_and_grade_a_score) {
  cr_assert_eq(parse("indicator\tcomplaints\t1\t0:100\nband\t不合格\t0\nband\t优秀\t90\nband\t合格\t60\n"), 0, "%s", why);
  cr_assert_str_eq(rb.bands[cx_rubric_band(&rb, 95)].name, "优秀");
  cr_assert_str_eq(rb.bands[cx_rubric_band(&rb, 90)].name, "优秀");
  cr_assert_str_eq(rb.bands[cx_rubric_band(&rb, 89.99)].name, "合格");
  cr_assert_str_eq(rb.bands[cx_rubric_band(&rb, 3)].name, "不合格");
}

/* Each bad line is refused with its line number and a message that says what is wrong. */
Test(rubric, bad_lines_name_their_line_and_the_fault) {
  struct { const char *text; int line; const char *msg; } cases[] = {
      {"# c\nindicator\tnope\t1\t0:100\n" MINIMAL, 2, "unknown"},
      {"indicator\tcomplaints\t-1\t0:100\nband\tA\t0\n", 1, "weight"},
      {"indicator\tcomplaints\t1\t0:100,0:50\nband\tA\t0\n", 1, "ascend"},
      {"indicator\tcomplaints\t1\t0:101\nband\tA\t0\n", 1, "0..100"},
      {"indicator\tcomplaints\t1\t0-100\nband\tA\t0\n", 1, "value:points"},
      {"indicator\tcomplaints\t1\t0:100\t3\nband\tA\t0\n", 1, "only rates"},
      {MINIMAL "veto\tlawsuit_loss_rate\t50\n", 4, "count indicator"},
      {MINIMAL "publish\tmaybe\n", 4, "yes or no"},
      {MINIMAL "kinds\tgovernment,person\n", 4, "not scored"},
      {MINIMAL "kinds\tgovernment,bank\n", 4, "unknown entity kind"},
      {MINIMAL "band\t合格\t70\n", 0, NULL}, /* a second grade of another minimum is fine */
      {MINIMAL "band\tX\t60\n", 4, "same minimum"},
      {MINIMAL "frobnicate\t1\n", 4, "unknown line"},
      {"band\tA\t0\n", 0, "no weighted indicator"},
      {"indicator\tcomplaints\t1\t0:100\n", 0, "no band"},
      {"indicator\tcomplaints\t1\t0:100\nband\tA\t10\n", 0, "lowest band"},
      {"indicator\tcomplaints\t1\t0:100\nveto\tblacklisted\t59\nband\tA\t0\n", 0, "does not list"},
  };
  for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
    int rc = parse(cases[k].text);
    if (!cases[k].msg) {
      cr_assert_eq(rc, 0, "case %zu: %s", k, why);
      continue;
    }
    cr_assert_eq(rc, CX_EBADREQ, "case %zu parses", k);
    cr_assert_eq(bad, cases[k].line, "case %zu: line %d, not %d (%s)", k, bad, cases[k].line, why);
    cr_assert(strstr(why, cases[k].msg), "case %zu: '%s' does not say '%s'", k, why, cases[k].msg);
  }
}

/* The data file: a bad rubric is refused and changes nothing; a good one is what the store serves. */
Test(rubric, the_store_serves_the_loaded_rubric_and_refuses_a_bad_one) {
  char dir[256];
  cx_test_tmpdir(dir, sizeof dir);
  cx_store *st = fx_open(dir, 0);
  cx_txn *t;
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cr_assert_eq(cx_store_rubric(t, &rb), 0); /* none loaded: the shipped default */
  cr_assert_eq(rb.publish, 0);
  cx_store_txn_end(t);
  const char *pub = "publish\tyes\n" MINIMAL;
  int line = 0;
  cr_assert_eq(cx_store_data_put(st, "scorecard", pub, strlen(pub), &line), 0);
  const char *badr = "publish\tyes\nindicator\tcomplaints\t1\t0:100\nband\tA\t5\n";
  cr_assert_eq(cx_store_data_put(st, "scorecard", badr, strlen(badr), &line), CX_EBADREQ);
  cr_assert_str_eq(cx_store_errmsg(st), "the lowest band must start at 0");
  cr_assert_eq(cx_store_txn_begin(st, &t), 0);
  cr_assert_eq(cx_store_rubric(t, &rb), 0);
  cr_assert_eq(rb.publish, 1);
  cr_assert(rb.ind[CX_IND_COMPLAINTS].on);
  cr_assert(!rb.ind[CX_IND_GOV_DISHONESTY].on);
  cx_store_txn_end(t);
  cx_store_close(st);
  cx_test_rmrf(dir);
}
