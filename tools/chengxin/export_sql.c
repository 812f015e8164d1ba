/*
 * export_sql.c — `chengxin export --sql FILE`: a DuckDB script that loads an export into typed
 * tables (issue 19, "Analysts past one machine"; the recipe is in docs/scaling.md).
 *
 * The export stays the one format (JSON Lines, export.c): DuckDB reads it with read_json and an
 * explicit column list per line type, so no second writer of the records has to be kept equal
 * to the first. What the script adds is the types a JSON file cannot say: dates as DATE (the
 * "open" end of valid_until as NULL), the amount as DECIMAL yuan beside the integer fen, region
 * codes as 6-character VARCHAR (leading zeros kept) with their province and city codes, audit
 * times as TIMESTAMPTZ, and the regions data file as a table of names. Chinese text is UTF-8 in
 * the export and in DuckDB's VARCHAR: nothing is converted.
 *
 * The record columns are the table below, one row per key of cli_export_record_json (export.c):
 * tests/tools/test_export_duckdb.py fails when a key of a record line has no column here.
 */
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "export.h"

/* One column of the records table: the JSON key, the type read_json reads it as, and the
 * select expression (NULL: the key as read). */
typedef struct sql_col {
  const char *key, *read_as, *expr;
} sql_col;

static const sql_col record_cols[] = {
    {"authority_code", "VARCHAR", NULL},
    {"record_id", "VARCHAR", NULL},
    {"authority_name", "VARCHAR", NULL},
    {"entity_code", "VARCHAR", NULL},
    {"entity_name", "VARCHAR", NULL},
    {"entity_kind", "VARCHAR", NULL},
    {"category", "VARCHAR", NULL},
    {"subtype", "VARCHAR", NULL},
    {"domain", "VARCHAR", NULL},
    {"severity", "VARCHAR", NULL},
    {"status", "VARCHAR", NULL},
    {"objection", "BOOLEAN", NULL},
    {"decision_date", "DATE", NULL},
    {"report_date", "DATE", NULL},
    {"report_received", "BOOLEAN", NULL},
    {"valid_from", "DATE", NULL},
    /* "open" (in force until repaired or revoked) becomes NULL */
    {"valid_until", "VARCHAR", "CAST(NULLIF(valid_until, 'open') AS DATE) AS valid_until"},
    {"display_until", "DATE", NULL},
    {"amount_fen", "BIGINT", NULL},
    {"list_type", "VARCHAR", NULL},
    {"measures", "VARCHAR", NULL},
    {"basis", "VARCHAR", NULL},
    {"content", "VARCHAR", NULL},
    {"extra", "VARCHAR", NULL},
    /* the entity's GB/T 2260 county code; 0 (unknown) is '000000' */
    {"region", "INTEGER", "lpad(CAST(region AS VARCHAR), 6, '0') AS region"},
    {"report_delay", "INTEGER", NULL},
    {"on_time", "BOOLEAN", NULL},
    {"delay_provisional", "BOOLEAN", NULL},
};

/* Columns derived from the ones above, appended to the records table. */
static const char *const record_derived[] = {
    "CAST(CAST(amount_fen AS DECIMAL(20, 0)) * 0.01 AS DECIMAL(20, 2)) AS amount_yuan",
    /* the province and city levels as chengxin's agg names them by code (350000, 350100) */
    "lpad(CAST(region // 10000 AS VARCHAR), 2, '0') || '0000' AS province_code",
    "lpad(CAST(region // 100 AS VARCHAR), 4, '0') || '00' AS city_code",
};

/* The audit-line columns (event and audit tables). */
static const sql_col audit_cols[] = {
    {"seq", "UBIGINT", NULL},
    {"time_ms", "BIGINT", NULL},
    {"who", "VARCHAR", NULL},
    {"role", "VARCHAR", NULL},
    {"op", "VARCHAR", NULL},
    {"target", "VARCHAR", NULL},
    {"detail", "VARCHAR", NULL},
    {"client", "VARCHAR", NULL},
};

/* A single-quoted SQL string literal of s. */
static void sql_quote(FILE *f, const char *s) {
  putc('\'', f);
  for (; *s; s++) {
    if (*s == '\'') putc('\'', f);
    putc(*s, f);
  }
  putc('\'', f);
}

/* read_json(path, ..., columns = {type: 'VARCHAR', <cols>}) */
static void read_json(FILE *f, const char *path, const sql_col *cols, size_t n, const char *more) {
  fputs("FROM read_json(", f);
  sql_quote(f, path);
  /* a data line holds a whole data file (the catalogue, the regions: ~100 kB each) */
  fputs(", format = 'newline_delimited', maximum_object_size = 268435456,\n  columns = {type: 'VARCHAR'", f);
  for (size_t i = 0; i < n; i++) fprintf(f, ",%s%s: '%s'", i % 4 == 3 ? "\n    " : " ", cols[i].key, cols[i].read_as);
  if (more) fputs(more, f);
  fputs("})\n", f);
}

static void select_list(FILE *f, const sql_col *cols, size_t n) {
  for (size_t i = 0; i < n; i++) fprintf(f, "%s  %s", i ? ",\n" : "", cols[i].expr ? cols[i].expr : cols[i].key);
}

static void audit_table(FILE *f, const char *path, const char *table, const char *type) {
  size_t n = sizeof audit_cols / sizeof *audit_cols;
  fprintf(f, "CREATE OR REPLACE TABLE %s AS SELECT\n", table);
  select_list(f, audit_cols, n);
  fputs(",\n  epoch_ms(time_ms) AS time_utc", f);
  if (strcmp(type, "event") == 0)
    fputs(",\n  split_part(target, '/', 1) AS authority_code,\n"
          "  substr(target, 20) AS record_id", f); /* "<18-character code>/<record_id>" */
  fputs("\n", f);
  read_json(f, path, audit_cols, n, NULL);
  fprintf(f, "WHERE type = '%s'\nORDER BY seq;\n\n", type);
}

int cli_export_sql_write(FILE *f, const char *path) {
  size_t nr = sizeof record_cols / sizeof *record_cols;
  fprintf(f,
          "-- DuckDB script written by chengxin %s (`chengxin export --sql`): loads the export\n"
          "-- %s\n"
          "-- (format %s %d) into typed tables. Run it in the duckdb shell (`.read FILE`,\n"
          "-- `duckdb analysis.duckdb < FILE`) or through any DuckDB client; the recipe and\n"
          "-- example queries: docs/scaling.md \"Analysts past one machine\".\n"
          "--   records      one row per record: codes and enums VARCHAR, dates DATE (valid_until\n"
          "--                NULL = open end), amount_fen BIGINT and amount_yuan DECIMAL(20,2),\n"
          "--                region/province_code/city_code 6-digit VARCHAR codes\n"
          "--   entities     code, last_update;  authorities  code, name\n"
          "--   events       lifecycle transitions (repair, revoke, ...), with authority_code and\n"
          "--                record_id;  audit  every other audit entry;  time_utc TIMESTAMP (UTC)\n"
          "--   regions      code, name: the store's regions data file\n"
          "-- The export is named below by its absolute path: edit it when the file moves.\n\n",
          CX_VERSION, path, CLI_EXPORT_FORMAT, CLI_EXPORT_VERSION);

  fputs("CREATE OR REPLACE TABLE records AS SELECT\n", f);
  select_list(f, record_cols, nr);
  for (size_t i = 0; i < sizeof record_derived / sizeof *record_derived; i++) fprintf(f, ",\n  %s", record_derived[i]);
  fputs("\n", f);
  read_json(f, path, record_cols, nr, NULL);
  fputs("WHERE type = 'record';\n\n", f);

  static const sql_col entity_cols[] = {{"code", "VARCHAR", NULL}, {"last_update", "DATE", NULL}};
  fputs("CREATE OR REPLACE TABLE entities AS SELECT code, last_update\n", f);
  read_json(f, path, entity_cols, 2, NULL);
  fputs("WHERE type = 'entity';\n\n", f);

  static const sql_col auth_cols[] = {{"code", "VARCHAR", NULL}, {"name", "VARCHAR", NULL}};
  fputs("CREATE OR REPLACE TABLE authorities AS SELECT code, name\n", f);
  read_json(f, path, auth_cols, 2, NULL);
  fputs("WHERE type = 'authority';\n\n", f);

  audit_table(f, path, "events", "event");
  audit_table(f, path, "audit", "audit");

  /* the regions data file: "<code>\t<name>" lines, '#' comments */
  static const sql_col data_cols[] = {{"name", "VARCHAR", NULL}, {"text", "VARCHAR", NULL}};
  fputs("CREATE OR REPLACE TABLE regions AS\n"
        "WITH lines AS (SELECT unnest(string_split(text, chr(10))) AS line\n", f);
  read_json(f, path, data_cols, 2, NULL);
  fputs("  WHERE type = 'data' AND name = 'regions')\n"
        "SELECT split_part(line, chr(9), 1) AS code, split_part(line, chr(9), 2) AS name\n"
        "FROM lines WHERE line <> '' AND NOT starts_with(line, '#')\n"
        "ORDER BY code;\n", f);
  return ferror(f) ? CX_EIO : 0;
}
