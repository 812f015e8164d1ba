// export_duckdb.mjs — the DuckDB side of tests/tools/test_export_duckdb.py: runs the script
// `chengxin export --sql` wrote, answers the aggregates the test compares with `chengxin agg`,
// writes the records to Parquet and reads them back, runs the example queries of docs/scaling.md
// "Analysts past one machine", and writes everything as JSON for the test to check.
//
// usage: node export_duckdb.mjs SCRIPT.sql WORKDIR AS_OF OUT.json
import { DuckDBInstance } from '@duckdb/node-api';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

const [script, work, asOf, out] = process.argv.slice(2);
if (!script || !work || !asOf || !out) {
  console.error('usage: node export_duckdb.mjs SCRIPT.sql WORKDIR AS_OF OUT.json');
  process.exit(2);
}
const lit = (s) => `'${s.replace(/'/g, "''")}'`;
const inst = await DuckDBInstance.create(':memory:');
const con = await inst.connect();
const rows = async (sql) => (await con.runAndReadAll(sql)).getRowObjectsJson();
const res = {};

await con.run(readFileSync(script, 'utf8'));
res.version = (await rows('SELECT version() AS v'))[0].v;
res.counts = {};
for (const t of ['records', 'entities', 'authorities', 'events', 'audit', 'regions'])
  res.counts[t] = Number((await rows(`SELECT count(*) AS n FROM ${t}`))[0].n);
res.columns = {};
for (const t of ['records', 'events'])
  res.columns[t] = Object.fromEntries((await rows(`DESCRIBE ${t}`)).map((r) => [r.column_name, r.column_type]));

// the same aggregates as `chengxin agg --by category,province --metrics count,amount,in_force,on_time`
// and `--by city --metrics count,amount` (in force on AS_OF: active, valid_from <= d < valid_until,
// NULL = open end; on_time counts reported records only, as the rollups do)
const d = `DATE ${lit(asOf)}`;
res.by_category_province = await rows(`
  SELECT category, province_code, count(*)::BIGINT AS count, sum(amount_fen)::BIGINT AS amount,
         count(*) FILTER (WHERE status = 'active' AND valid_from <= ${d}
                          AND (valid_until IS NULL OR ${d} < valid_until))::BIGINT AS in_force,
         count(*) FILTER (WHERE report_date IS NOT NULL AND on_time)::BIGINT AS on_time
  FROM records GROUP BY ALL ORDER BY ALL`);
res.by_city = await rows(`
  SELECT city_code, count(*)::BIGINT AS count, sum(amount_fen)::BIGINT AS amount,
         sum(amount_yuan) AS amount_yuan
  FROM records GROUP BY ALL ORDER BY ALL`);

// every record's text, dates and amount as DuckDB holds them (compared with the JSON lines)
res.records = await rows(`
  SELECT authority_code, record_id, authority_name, entity_code, entity_name, content, basis,
         measures, category, status, decision_date::VARCHAR AS decision_date,
         report_date::VARCHAR AS report_date, valid_from::VARCHAR AS valid_from,
         valid_until::VARCHAR AS valid_until, amount_fen, amount_yuan::VARCHAR AS amount_yuan, region
  FROM records ORDER BY authority_code, record_id`);
res.events = await rows(`SELECT seq, op, authority_code, record_id, who FROM events ORDER BY seq`);

// Parquet: write, read back, compare row for row (EXCEPT ALL both ways) and the column types
const pq = path.join(work, 'records.parquet');
await con.run(`COPY records TO ${lit(pq)} (FORMAT PARQUET)`);
const back = `read_parquet(${lit(pq)})`;
res.parquet = {
  rows: Number((await rows(`SELECT count(*) AS n FROM ${back}`))[0].n),
  missing: Number((await rows(`SELECT count(*) AS n FROM (SELECT * FROM records EXCEPT ALL SELECT * FROM ${back})`))[0].n),
  extra: Number((await rows(`SELECT count(*) AS n FROM (SELECT * FROM ${back} EXCEPT ALL SELECT * FROM records)`))[0].n),
  columns: Object.fromEntries((await rows(`DESCRIBE SELECT * FROM ${back}`)).map((r) => [r.column_name, r.column_type])),
};

// the example queries of docs/scaling.md "Analysts past one machine", over the Parquet file
await con.run(`CREATE VIEW r AS SELECT * FROM ${back}`);
const examples = [
  // penalties by province and year, with the province's name
  `SELECT g.name AS province, year(decision_date) AS year, count(*) AS records,
          sum(amount_yuan) AS amount_yuan
   FROM r JOIN regions g ON g.code = r.province_code
   WHERE category = 'penalty' GROUP BY ALL ORDER BY amount_yuan DESC LIMIT 10`,
  // the authorities reporting latest: share of records reported within the deadline
  `SELECT authority_name, count(*) AS reported, avg(report_delay) AS mean_delay_days,
          avg(on_time::INT) AS on_time_rate
   FROM r WHERE report_date IS NOT NULL GROUP BY ALL HAVING count(*) >= 20
   ORDER BY on_time_rate LIMIT 10`,
  // the entities with the most records in force on a day (open ends are NULL), with the amount
  `SELECT entity_code, any_value(entity_name) AS entity_name, count(*) AS in_force,
          sum(amount_yuan) AS amount_yuan
   FROM r WHERE status = 'active' AND valid_from <= ${d} AND (valid_until IS NULL OR ${d} < valid_until)
   GROUP BY entity_code ORDER BY in_force DESC, entity_code LIMIT 10`,
];
res.examples = [];
for (const sql of examples) res.examples.push(await rows(sql));

writeFileSync(out, JSON.stringify(res));
