/* test_scorecard.c — `chengxin scorecard` and `load-scorecard` through the binary: a region's
 * ranking, one body's card and its drill-down agree with each other, the rubric is data (a
 * bad file is refused with its line, a replaced one changes the scores), and the public sees
 * scorecards only when the rubric publishes them. */
#include "clitest.h"

TestSuite(scorecard, .init = cli_setup, .fini = cli_teardown, .timeout = 120);

static void store(void) {
  cr_assert_eq(cx("gen --db st --entities 4000 --records 40000 --seed 7 --quiet"), 0, "%s", slurp("err"));
}

static json_t *ranking(const char *extra) {
  cr_assert_eq(cx("scorecard --db st --region 35 --year 2024 --format json %s", extra), 0, "%s", slurp("err"));
  json_t *j = out_json();
  cr_assert(json_is_array(j), "%s", slurp("out"));
  return j;
}

Test(scorecard, a_ranking_and_each_body_s_card_agree) {
  store();
  json_t *rk = ranking("");
  size_t n = json_array_size(rk);
  cr_assert_gt(n, 5, "a province has bodies: %zu", n);
  double last = 101;
  int distinct = 0;
  for (size_t i = 0; i < n; i++) {
    json_t *b = json_array_get(rk, i);
    double s = json_number_value(json_object_get(b, "score"));
    cr_assert_eq(json_integer_value(json_object_get(b, "rank")), (json_int_t)i + 1);
    cr_assert_leq(s, last, "ranked by score");
    if (s != last) distinct++;
    last = s;
    cr_assert(!strncmp(json_string_value(json_object_get(b, "code")), "11", 2), "bodies are 机构编制 codes");
  }
  cr_assert_gt(distinct, 2, "the scores differ: a ranking, not a list");
  /* the first and the last body: the card says the same score, its indicators add up */
  size_t pick[2] = {0, n - 1};
  for (int k = 0; k < 2; k++) {
    json_t *b = json_array_get(rk, pick[k]);
    const char *code = json_string_value(json_object_get(b, "code"));
    cr_assert_eq(cx("scorecard --db st --code %s --year 2024 --format json", code), 0, "%s", slurp("err"));
    json_t *card = out_json(), *sc = card; /* json: the protocol's answer */
    cr_assert_float_eq(json_number_value(json_object_get(sc, "score")), json_number_value(json_object_get(b, "score")),
                       0.006, "%s", slurp("out")); /* the ranking table: two decimals */
    json_decref(card);
    /* csv: one table, the indicators with Chinese names beside the codes */
    cr_assert_eq(cx("scorecard --db st --code %s --year 2024 --format csv", code), 0);
    cr_assert(out_has("out", "indicator,indicator_name,value,numerator,denominator"), "%s", slurp("out"));
    cr_assert(out_has("out", "lawsuit_loss_rate,行政诉讼败诉率,"), "%s", slurp("out"));
    /* table: labels, the grade */
    cr_assert_eq(cx("scorecard --db st --code %s --year 2024", code), 0);
    cr_assert(out_has("out", "双公示按时报送率"), "%s", slurp("out"));
    cr_assert(out_has("out", "grade"), "%s", slurp("out"));
  }
  json_decref(rk);
}

/* The records behind lawsuit_loss_rate are the concluded lawsuits it counts. */
Test(scorecard, the_drill_down_lists_the_records_an_indicator_counts) {
  store();
  json_t *rk = ranking("");
  int checked = 0;
  for (size_t i = 0; i < json_array_size(rk) && checked < 3; i++) {
    const char *code = json_string_value(json_object_get(json_array_get(rk, i), "code"));
    cr_assert_eq(cx("scorecard --db st --code %s --year 2024 --format json", code), 0);
    json_t *card = out_json(), *sc = card;
    json_int_t den = -1;
    size_t k;
    json_t *v;
    json_array_foreach(json_object_get(sc, "indicators"), k, v)
      if (!strcmp(json_string_value(json_object_get(v, "indicator")), "lawsuit_loss_rate"))
        den = json_integer_value(json_object_get(v, "denominator"));
    json_decref(card);
    if (den <= 0) continue;
    cr_assert_eq(cx("scorecard --db st --code %s --year 2024 --indicator lawsuit_loss_rate --format jsonl", code), 0,
                 "%s", slurp("err"));
    char *o = slurp("out");
    int lawsuits = 0;
    for (char *p = o; (p = strstr(p, "\"category\":\"lawsuit\"")); p++) lawsuits++;
    free(o);
    cr_assert_eq(lawsuits, den, "%s: %d lawsuits listed, the rate counts %lld", code, lawsuits, (long long)den);
    checked++;
  }
  cr_assert_gt(checked, 0, "some body had lawsuits in 2024");
  json_decref(rk);
}

Test(scorecard, the_rubric_is_data_and_the_public_sees_it_only_when_published) {
  store();
  /* the shipped rubric does not publish: the public is refused */
  cr_assert_neq(cx("scorecard --db st --region 35 --year 2024 --role public"), 0);
  cr_assert(out_has("err", "not published"), "%s", slurp("err"));
  /* a bad rubric: refused with its line and what is wrong, nothing changed */
  spit("bad.tsv", "publish\tyes\nindicator\tcomplaints\t10\t0:100,5:120\nband\t合格\t0\n");
  cr_assert_neq(cx("load-scorecard --db st bad.tsv"), 0);
  cr_assert(out_has("err", "bad.tsv:2:"), "%s", slurp("err"));
  cr_assert(out_has("err", "points must be 0..100"), "%s", slurp("err"));
  cr_assert_neq(cx("scorecard --db st --region 35 --year 2024 --role public"), 0, "still not published");
  /* a rubric of complaints alone, published: every score is that curve's */
  spit("mine.tsv", "publish\tyes\nkinds\tgovernment,subdistrict\nindicator\tcomplaints\t1\t0:100,1:0\n"
                   "band\t好\t50\nband\t差\t0\n");
  cr_assert_eq(cx("load-scorecard --db st mine.tsv"), 0, "%s", slurp("err"));
  json_t *rk = ranking("--role analyst");
  for (size_t i = 0; i < json_array_size(rk); i++) {
    double s = json_number_value(json_object_get(json_array_get(rk, i), "score"));
    const char *g = json_string_value(json_object_get(json_array_get(rk, i), "grade"));
    cr_assert(s == 0 || s == 100, "one indicator, two points: %f", s);
    cr_assert_str_eq(g, s == 100 ? "好" : "差");
  }
  json_decref(rk);
  /* published: the public gets a ranking, without the authority indicators */
  cr_assert_eq(cx("scorecard --db st --region 35 --year 2024 --role public --format json"), 0, "%s", slurp("err"));
  json_t *pub = out_json();
  cr_assert(json_is_array(pub));
  json_decref(pub);
  /* the audit log names the rubric's load */
  cr_assert_eq(cx("audit --db st --format csv"), 0);
  cr_assert(out_has("out", "load-scorecard"), "%s", slurp("out"));
}

Test(scorecard, usage_errors_say_what_to_give) {
  store();
  cr_assert_eq(cx("scorecard --db st"), 2);
  cr_assert(out_has("err", "--code CODE"), "%s", slurp("err"));
  cr_assert_eq(cx("scorecard --db st --region 35 --year 2024 --from 2024-01-01"), 2);
  cr_assert_eq(cx("scorecard --db st --region abc"), 2);
  cr_assert_neq(cx("scorecard --db st --region 35 --kind bank"), 0);
  cr_assert(out_has("err", "government, subdistrict, institution"), "%s", slurp("err"));
  cr_assert_neq(cx("scorecard --db st --code 91350100MA2YTEST0X --indicator nope"), 0);
}
