// agg.mjs — DuckDB baseline for chengxin's aggregates, on the same rows (exported by
// `bench_query --export-csv`), answering the same specs as bench_query's agg_covered and
// agg_in_force, whose results (rows and totals) must match. Fixed spec, warm-up, every result
// checked, median/p99 over the iterations; figures reported, never asserted.
//
// With SCORECARDS.json (chengxin's ranking of a province, `bench_query --scorecard-json`), also
// duckdb_scorecard_province: the same indicator counts for every body of the province in SQL,
// scored here with a port of the rubric's curve and score (store/scorecard.c, query/scorecard.c)
// from data/scorecard.tsv, and the ranking checked equal to chengxin's (bodies, order, scores to
// 1e-9, every indicator's counts).
//
// usage: node agg.mjs ROWS.csv QUERY.json OUT.json [BUDGET_MS [SCORECARDS.json [RUBRIC.tsv]]]
import { DuckDBInstance } from '@duckdb/node-api';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';

const [csv, queryJson, out, budgetArg, scorecardJson, rubricArg] = process.argv.slice(2);
if (!csv || !queryJson || !out) {
  console.error('usage: node agg.mjs ROWS.csv QUERY.json OUT.json [BUDGET_MS [SCORECARDS.json [RUBRIC.tsv]]]');
  process.exit(2);
}
const budgetNs = BigInt(Number(budgetArg || 4000)) * 1000000n;
const q = JSON.parse(readFileSync(queryJson, 'utf8'));
const a = q.agg;
const baseline = (op) => (q.ops.find((o) => o.op === op) || {}).median_ns;

const now = () => process.hrtime.bigint();
const pct = (s, p) => s[Math.min(s.length, Math.max(1, Math.ceil(p * s.length))) - 1];

const inst = await DuckDBInstance.create(':memory:');
const con = await inst.connect();
const threads = (await con.runAndReadAll("SELECT current_setting('threads')")).getRows()[0][0];

let t0 = now();
await con.run(`CREATE TABLE rows AS SELECT * FROM read_csv('${csv.replace(/'/g, "''")}', header = true,
  columns = {'city': 'INTEGER', 'month': 'INTEGER', 'decision_date': 'INTEGER', 'reported': 'INTEGER',
             'on_time': 'INTEGER', 'status': 'INTEGER', 'valid_from': 'BIGINT', 'valid_until': 'BIGINT',
             'category': 'INTEGER', 'subtype': 'INTEGER', 'entity_kind': 'INTEGER', 'entity_code': 'VARCHAR',
             'authority_code': 'VARCHAR'})`);
const loadNs = Number(now() - t0);
const nRows = Number((await con.runAndReadAll('SELECT count(*) FROM rows')).getRows()[0][0]);
console.log(`duckdb_load    rows=${nRows} seconds=${(loadNs / 1e9).toFixed(2)} rows_s=${Math.round(nRows / (loadNs / 1e9))} threads=${threads}`);

const specs = [
  {
    op: 'duckdb_agg', baseline: 'agg_covered',
    sql: `SELECT city, month, count(*) AS n, sum(on_time)::DOUBLE / nullif(sum(reported), 0) AS rate
          FROM rows WHERE decision_date BETWEEN ${a.from_day} AND ${a.to_day} GROUP BY city, month`,
    expect: (rows) => rows.length === a.covered_rows &&
      rows.reduce((s, r) => s + Number(r[2]), 0) === a.covered_total,
    note: `agg_covered's spec (count + on-time rate by city x month, ${a.year})`,
  },
  {
    op: 'duckdb_in_force', baseline: 'agg_in_force',
    sql: `SELECT city // 100 AS province, count(*) AS n,
                 sum(CASE WHEN status = 0 AND valid_from <= ${a.as_of_day} AND ${a.as_of_day} < valid_until
                          THEN 1 ELSE 0 END) AS in_force
          FROM rows GROUP BY province`,
    expect: (rows) => rows.length === a.in_force_rows &&
      rows.reduce((s, r) => s + Number(r[1]), 0) === a.in_force_count &&
      rows.reduce((s, r) => s + Number(r[2]), 0) === a.in_force_total,
    note: "agg_in_force's spec (count + in_force by province, all years)",
  },
];

// ------------------------------------------------------------------ scorecards
// The rubric (store.h "scorecard rubric"): tab-separated lines, '#' comments.
const IND = ['gov_dishonesty', 'unperformed_judgments', 'lawsuit_loss_rate', 'commitment_kept_rate',
  'on_time_rate', 'complaints', 'staff_discipline', 'blacklisted'];
const RATE = new Set([2, 3, 4]);
function parseRubric(text) {
  const r = { kinds: [], ind: IND.map(() => ({ on: false, weight: 0, x: [], pts: [], minN: 0, veto: false, cap: 0 })), bands: [] };
  for (const line of text.split('\n')) {
    const t = line.trim();
    if (!t || t.startsWith('#')) continue;
    const f = t.split(/\t+/).map((x) => x.trim());
    if (f[0] === 'kinds') r.kinds = f[1].split(',');
    else if (f[0] === 'indicator') {
      const i = r.ind[IND.indexOf(f[1])];
      i.on = true;
      i.weight = Number(f[2]);
      for (const p of f[3].split(',')) { const [x, y] = p.split(':'); i.x.push(Number(x)); i.pts.push(Number(y)); }
      if (f[4] !== undefined) i.minN = Number(f[4]);
    } else if (f[0] === 'veto') { const i = r.ind[IND.indexOf(f[1])]; i.veto = true; i.cap = Number(f[2]); }
    else if (f[0] === 'band') r.bands.push({ name: f[1], min: Number(f[2]) });
  }
  r.bands.sort((a, b) => b.min - a.min);
  return r;
}
// cx_rubric_points: linear between the curve's points, flat outside them
function points(i, v) {
  if (!i.x.length) return 0;
  if (v <= i.x[0]) return i.pts[0];
  for (let k = 1; k < i.x.length; k++)
    if (v <= i.x[k]) { const t = (v - i.x[k - 1]) / (i.x[k] - i.x[k - 1]); return i.pts[k - 1] + t * (i.pts[k] - i.pts[k - 1]); }
  return i.pts[i.x.length - 1];
}
// query/scorecard.c score() for the analyst (every indicator shown)
function score(rb, ind) {
  let wsum = 0, psum = 0;
  const value = ind.map((v, i) => (RATE.has(i) ? (v.den ? v.num / v.den : 0) : v.num));
  for (let i = 0; i < IND.length; i++) {
    const ri = rb.ind[i];
    const rated = RATE.has(i) ? ri.on && ind[i].den > 0 && ind[i].den >= ri.minN : ri.on;
    const w = rated ? ri.weight : 0;
    wsum += w;
    psum += w * (rated ? points(ri, value[i]) : 0);
  }
  let s = wsum > 0 ? psum / wsum : 100.0;
  let vetoes = 0;
  for (let i = 0; i < IND.length; i++) {
    const ri = rb.ind[i];
    if (!ri.veto || !ri.on || !(value[i] > 0)) continue;
    if (s > ri.cap) s = ri.cap;
    vetoes |= 1 << i;
  }
  let band = rb.bands.findIndex((b) => s >= b.min);
  if (band < 0) band = rb.bands.length - 1;
  return { score: s, band, vetoes };
}

if (scorecardJson) {
  const sc = JSON.parse(readFileSync(scorecardJson, 'utf8'));
  const rubricPath = rubricArg || new URL('../../data/scorecard.tsv', import.meta.url);
  const rb = parseRubric(readFileSync(rubricPath, 'utf8'));
  const e = sc.enums;
  const kindOf = { government: e.government, subdistrict: e.subdistrict, institution: e.institution };
  const kinds = rb.kinds.map((k) => kindOf[k]);
  if (kinds.reduce((m, k) => m | (1 << k), 0) !== sc.kinds) {
    console.error(`scorecards: the rubric's kinds (${rb.kinds}) are not the store's (mask ${sc.kinds})`);
    process.exit(1);
  }
  // cx_query_scorecards' registrations: 11… for government bodies and sub-district offices,
  // 12… for institutions, of the province's two digits
  // p1: the first string after every code of the prefix ("36" for 35, "9:" for 99)
  const p = sc.province, p1 = p[0] + String.fromCharCode(p.charCodeAt(1) + 1);
  const heads = [['11', [e.government, e.subdistrict]], ['12', [e.institution]]]
    .map(([h, ks]) => [h, ks.filter((k) => kinds.includes(k))]).filter(([, ks]) => ks.length);
  const inRange = (col) => heads.map(([h]) => `(${col} >= '${h}${p}' AND ${col} < '${h}${p1}')`).join(' OR ');
  const kindOk = heads.map(([h, ks]) => `(code < '${h}${p1}' AND code >= '${h}${p}' AND kind IN (${ks.join(',')}))`).join(' OR ');
  const T = sc.to_day, F = sc.from_day;
  const inf = `decision_date <= ${T} AND status = ${e.active} AND valid_from <= ${T} AND ${T} < valid_until`;
  const per = `decision_date BETWEEN ${F} AND ${T} AND status != ${e.revoked}`;
  const c = (cond) => `count(*) FILTER (WHERE ${cond})`;
  const sql = `WITH subj AS (
      SELECT entity_code AS code, min(entity_kind) AS kind,
        ${c(`category = ${e.gov_dishonesty} AND ${inf}`)} AS gd,
        ${c(`category = ${e.gov_dishonesty} AND ${inf} AND subtype = ${e.judgment}`)} AS gd_judgment,
        ${c(`category = ${e.gov_dishonesty} AND ${inf} AND subtype = ${e.admin_penalty}`)} AS gd_penalty,
        ${c(`category = ${e.gov_dishonesty} AND ${inf} AND subtype = ${e.disciplinary}`)} AS gd_disciplinary,
        ${c(`category = ${e.gov_dishonesty} AND ${inf} AND subtype = ${e.accountability}`)} AS gd_accountability,
        ${c(`category = ${e.lawsuit} AND ${per} AND subtype = ${e.won}`)} AS won,
        ${c(`category = ${e.lawsuit} AND ${per} AND subtype = ${e.lost}`)} AS lost,
        ${c(`category = ${e.commitment} AND ${per} AND subtype = ${e.kept}`)} AS kept,
        ${c(`category = ${e.commitment} AND ${per} AND subtype = ${e.broken}`)} AS broken,
        ${c(`category = ${e.complaint} AND ${per}`)} AS complaints,
        ${c(`category = ${e.blacklist} AND ${inf}`)} AS listed
      FROM rows WHERE ${inRange('entity_code')} GROUP BY entity_code),
    auth AS (
      SELECT authority_code AS code,
        ${c(`category IN (${e.license}, ${e.penalty}) AND reported = 1`)} AS reported,
        ${c(`category IN (${e.license}, ${e.penalty}) AND reported = 1 AND on_time = 1`)} AS on_time,
        ${c(`category = ${e.gov_dishonesty} AND entity_kind = ${e.civil_servant} AND status != ${e.revoked}`)} AS staff
      FROM rows WHERE (${inRange('authority_code')}) AND decision_date BETWEEN ${sc.month_from_day} AND ${sc.month_to_day}
      GROUP BY authority_code)
    SELECT subj.*, coalesce(auth.reported, 0), coalesce(auth.on_time, 0), coalesce(auth.staff, 0)
    FROM subj LEFT JOIN auth USING (code) WHERE ${kindOk}`;
  const rank = (rows) => {
    const v = rows.map((r) => {
      const n = r.slice(2).map(Number);
      const ind = IND.map(() => ({ num: 0, den: 0 }));
      ind[0].num = n[0];
      ind[1].num = n[1];
      ind[2] = { num: n[6], den: n[5] + n[6] };
      ind[3] = { num: n[7], den: n[7] + n[8] };
      ind[4] = { num: n[12], den: n[11] };
      ind[5].num = n[9];
      ind[6].num = n[13];
      ind[7].num = n[10] > 0 ? 1 : 0;
      return { code: r[0], ind, ...score(rb, ind) };
    });
    v.sort((x, y) => (x.score !== y.score ? y.score - x.score : x.code < y.code ? -1 : x.code > y.code ? 1 : 0));
    return v;
  };
  const same = (v) => {
    let bad = Math.abs(v.length - sc.bodies.length);
    for (let i = 0; i < Math.min(v.length, sc.bodies.length); i++) {
      const x = v[i], y = sc.bodies[i];
      const ok = x.code === y.code && Math.abs(x.score - y.score) <= 1e-9 && x.band === y.band && x.vetoes === y.vetoes &&
        x.ind.every((d, k) => d.num === y.ind[k].num && d.den === y.ind[k].den);
      if (!ok && bad++ < 5) console.error(`duckdb scorecards: rank ${i + 1}: ${x.code} ${x.score} against ${y.code} ${y.score}`);
    }
    return bad === 0;
  };
  specs.push({
    op: 'duckdb_scorecard_province', baseline: 'scorecard_province',
    run: async () => rank((await con.runAndReadAll(sql)).getRows()),
    expect: same,
    note: `province ${p}, ${sc.year}: the indicators in SQL (GROUP BY), scored in JS by data/scorecard.tsv; ${sc.bodies.length} bodies`,
  });
}

// An aggregate whose chengxin op did not run (bench_query --ops without it) has nothing to
// be checked against: skipped, as bench/scorecard.sh runs only the scorecards.
for (let i = specs.length - 1; i >= 0; i--)
  if (!specs[i].run && baseline(specs[i].baseline) === undefined) {
    console.log(`${specs[i].op.padEnd(17)} skipped: ${specs[i].baseline} did not run`);
    specs.splice(i, 1);
  }

const results = [];
let failed = 0;
for (const s of specs) {
  if (!s.run) s.run = async () => (await con.runAndReadAll(s.sql)).getRows();
  // warm-up and the expected result
  let rows = await s.run();
  const ok = s.expect(rows);
  let errors = ok ? 0 : 1;
  const samples = [];
  const start = now();
  for (let i = 0; i < 200; i++) {
    const t = now();
    rows = await s.run();
    const dt = now() - t;
    samples.push(Number(dt));
    if (!s.expect(rows)) errors++;
    if (samples.length >= 3 && now() - start > budgetNs) break;
  }
  const wall = Number(now() - start);
  samples.sort((x, y) => x - y);
  const med = pct(samples, 0.5);
  const b = baseline(s.baseline);
  const r = {
    op: s.op, n: samples.length, median_ns: med, mean_ns: samples.reduce((x, y) => x + y, 0) / samples.length,
    p90_ns: pct(samples, 0.9), p99_ns: pct(samples, 0.99), p999_ns: pct(samples, 0.999),
    max_ns: samples[samples.length - 1], ops_per_s: samples.length / (wall / 1e9), allocs_per_op: null,
    peak_rss_kb: Math.round(process.resourceUsage().maxRSS), baseline: s.baseline,
    ratio: b ? med / b : null, errors,
    note: `${s.note}; DuckDB ${threads} threads; ${ok ? 'same result as chengxin' : 'DIFFERS from chengxin'}`,
  };
  if (errors) failed = 1;
  results.push(r);
  console.log(`${s.op.padEnd(17)} n=${String(r.n).padEnd(8)} median_ns=${String(med).padEnd(9)} p99_ns=${String(r.p99_ns).padEnd(9)} ops_s=${r.ops_per_s.toFixed(0)} ratio=${r.ratio ? r.ratio.toFixed(2) : '-'}(vs ${s.baseline}) # ${r.note}`);
}
writeFileSync(out, JSON.stringify({
  bench: 'duckdb', version: (await con.runAndReadAll('SELECT version()')).getRows()[0][0], threads: Number(threads),
  load: { rows: nRows, seconds: loadNs / 1e9, rows_per_s: nRows / (loadNs / 1e9) }, cores: os.cpus().length, ops: results,
}) + '\n');
process.exit(failed);
