// rounds.mjs — the in-force scan beside DuckDB in alternating rounds, for a shared machine
// whose load moves within seconds: DuckDB loads the rows once; then each round runs CMD (a
// bench_query run of agg_in_force that writes its JSON to the path given as its last
// argument) and then DuckDB's in-force query ITERS times, and takes the ratio of the two
// medians. The rounds' ratios and their median are printed and written to OUT.json; every
// DuckDB answer is checked against chengxin's (rows, counts, in-force totals). Figures are
// reported, never asserted.
//
// usage: node rounds.mjs ROWS.csv OUT.json ROUNDS ITERS -- CMD ARGS...
import { DuckDBInstance } from '@duckdb/node-api';
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const args = process.argv.slice(2);
const dd = args.indexOf('--');
const [csv, out, roundsArg, itersArg] = args.slice(0, dd);
const cmd = args.slice(dd + 1);
if (dd < 0 || !csv || !out || !cmd.length) {
  console.error('usage: node rounds.mjs ROWS.csv OUT.json ROUNDS ITERS -- CMD ARGS...');
  process.exit(2);
}
const rounds = Number(roundsArg || 10), iters = Number(itersArg || 5);
const now = () => process.hrtime.bigint();
const med = (s) => { const v = [...s].sort((x, y) => x - y); return v.length % 2 ? v[(v.length - 1) / 2] : (v[v.length / 2 - 1] + v[v.length / 2]) / 2; };
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

const inst = await DuckDBInstance.create(':memory:');
const con = await inst.connect();
const threads = Number((await con.runAndReadAll("SELECT current_setting('threads')")).getRows()[0][0]);
await con.run(`CREATE TABLE rows AS SELECT * FROM read_csv('${csv.replace(/'/g, "''")}', header = true,
  columns = {'city': 'INTEGER', 'month': 'INTEGER', 'decision_date': 'INTEGER', 'reported': 'INTEGER',
             'on_time': 'INTEGER', 'status': 'INTEGER', 'valid_from': 'BIGINT', 'valid_until': 'BIGINT',
             'category': 'INTEGER', 'subtype': 'INTEGER', 'entity_kind': 'INTEGER', 'entity_code': 'VARCHAR',
             'authority_code': 'VARCHAR'})`);
const dir = mkdtempSync(join(tmpdir(), 'cx_rounds.'));
const res = [];
let errors = 0;
for (let r = 0; r < rounds; r++) {
  const la0 = load();
  const qpath = join(dir, `q-${r}.json`);
  execFileSync(cmd[0], [...cmd.slice(1), qpath], { stdio: ['ignore', 'ignore', 'inherit'] });
  const q = JSON.parse(readFileSync(qpath, 'utf8'));
  const a = q.agg;
  const op = (n) => (q.ops.find((o) => o.op === n) || {}).median_ns;
  const sql = `SELECT city // 100 AS province, count(*) AS n,
                 sum(CASE WHEN status = 0 AND valid_from <= ${a.as_of_day} AND ${a.as_of_day} < valid_until
                          THEN 1 ELSE 0 END) AS in_force
               FROM rows GROUP BY province`;
  const ok = (rows) => rows.length === a.in_force_rows &&
    rows.reduce((s, x) => s + Number(x[1]), 0) === a.in_force_count &&
    rows.reduce((s, x) => s + Number(x[2]), 0) === a.in_force_total;
  if (!ok((await con.runAndReadAll(sql)).getRows())) errors++; // warm-up
  const samples = [];
  for (let i = 0; i < iters; i++) {
    const t = now();
    const rows = (await con.runAndReadAll(sql)).getRows();
    samples.push(Number(now() - t));
    if (!ok(rows)) errors++;
  }
  const x = {
    round: r + 1, load_before: la0, load_after: load(), agg_in_force_ns: op('agg_in_force'),
    agg_in_force_1t_ns: op('agg_in_force_1t') ?? null, floor_facts_ns: op('floor_facts') ?? null,
    floor_facts_2t_ns: op('floor_facts_2t') ?? null, duckdb_in_force_ns: med(samples),
  };
  x.duckdb_over_scan = x.duckdb_in_force_ns / x.agg_in_force_ns;
  res.push(x);
  console.log(`round ${x.round}: agg_in_force ${(x.agg_in_force_ns / 1e6).toFixed(1)} ms` +
    (x.agg_in_force_1t_ns ? `, 1 thread ${(x.agg_in_force_1t_ns / 1e6).toFixed(1)} ms` : '') +
    (x.floor_facts_ns ? `, floor_facts ${(x.floor_facts_ns / 1e6).toFixed(1)} ms` : '') +
    `, duckdb ${(x.duckdb_in_force_ns / 1e6).toFixed(1)} ms: duckdb / chengxin ${x.duckdb_over_scan.toFixed(2)}` +
    ` (load ${x.load_before} -> ${x.load_after})`);
}
rmSync(dir, { recursive: true, force: true });
const m = (k) => { const v = res.map((x) => x[k]).filter((v) => v != null); return v.length ? med(v) : null; };
const summary = {
  bench: 'scan-rounds', threads, rounds, iters, errors, command: cmd.join(' '),
  medians: {
    agg_in_force_ns: m('agg_in_force_ns'), agg_in_force_1t_ns: m('agg_in_force_1t_ns'),
    floor_facts_ns: m('floor_facts_ns'), floor_facts_2t_ns: m('floor_facts_2t_ns'),
    duckdb_in_force_ns: m('duckdb_in_force_ns'), duckdb_over_scan: m('duckdb_over_scan'),
  },
  rounds_detail: res,
};
writeFileSync(out, JSON.stringify(summary) + '\n');
console.log(`median over ${rounds} rounds: duckdb / chengxin ${summary.medians.duckdb_over_scan.toFixed(2)}; ` +
  `agg_in_force ${(summary.medians.agg_in_force_ns / 1e6).toFixed(1)} ms, duckdb ${(summary.medians.duckdb_in_force_ns / 1e6).toFixed(1)} ms (DuckDB ${threads} threads)` +
  (errors ? `; ${errors} DuckDB answers DIFFER from chengxin's` : '; same answers'));
process.exit(errors ? 1 : 0);
