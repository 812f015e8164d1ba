// agg.mjs — DuckDB baseline for chengxin's aggregates, on the same rows (exported by
// `bench_query --export-csv`), answering the same specs as bench_query's agg_covered and
// agg_in_force, whose results (rows and totals) must match. Fixed spec, warm-up, every result
// checked, median/p99 over the iterations; figures reported, never asserted.
//
// usage: node agg.mjs ROWS.csv QUERY.json OUT.json [BUDGET_MS]
import { DuckDBInstance } from '@duckdb/node-api';
import { readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';

const [csv, queryJson, out, budgetArg] = process.argv.slice(2);
if (!csv || !queryJson || !out) {
  console.error('usage: node agg.mjs ROWS.csv QUERY.json OUT.json [BUDGET_MS]');
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
             'on_time': 'INTEGER', 'status': 'INTEGER', 'valid_from': 'BIGINT', 'valid_until': 'BIGINT'})`);
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

const results = [];
let failed = 0;
for (const s of specs) {
  // warm-up and the expected result
  let rows = (await con.runAndReadAll(s.sql)).getRows();
  const ok = s.expect(rows);
  let errors = ok ? 0 : 1;
  const samples = [];
  const start = now();
  for (let i = 0; i < 200; i++) {
    const t = now();
    rows = (await con.runAndReadAll(s.sql)).getRows();
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
  console.log(`${s.op.padEnd(14)} n=${String(r.n).padEnd(8)} median_ns=${String(med).padEnd(9)} p99_ns=${String(r.p99_ns).padEnd(9)} ops_s=${r.ops_per_s.toFixed(0)} ratio=${r.ratio ? r.ratio.toFixed(2) : '-'}(vs ${s.baseline}) # ${r.note}`);
}
writeFileSync(out, JSON.stringify({
  bench: 'duckdb', version: (await con.runAndReadAll('SELECT version()')).getRows()[0][0], threads: Number(threads),
  load: { rows: nRows, seconds: loadNs / 1e9, rows_per_s: nRows / (loadNs / 1e9) }, cores: os.cpus().length, ops: results,
}) + '\n');
process.exit(failed);
