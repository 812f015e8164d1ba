/*
 * main.c — `chengxin`: command dispatch and help.
 *
 *   chengxin <command> [options] [arguments]
 *
 * Each command lives in its own file (gen.c, import.c, admin.c, query_cmds.c) and parses its
 * own options with getopt_long; this file only dispatches and holds the help texts.
 */
#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "exec.h" /* CX_PROTOCOL_VERSION; msgpack.h */

#include <jansson.h>

typedef struct cmd {
  const char *name;
  int (*fn)(int, char **);
  const char *summary;
  const char *help;
} cmd;

#define COMMON_QUERY_OPTS                                                                       \
  "  --db PATH            local store (opened read-only; default $CHENGXIN_DB)\n"              \
  "  --connect HOST[:PORT] remote chengxind server instead of --db (port 7411;\n"              \
  "                       default $CHENGXIN_CONNECT; ~/.config/chengxin/config: man chengxin)\n" \
  "  --token-file FILE    token for --connect (else $CHENGXIN_TOKEN; none = public role)\n"     \
  "  --as-of DATE         evaluate as of this day (YYYY-MM-DD; default today)\n"                \
  "  --role ROLE          local mode: public|approval|analyst|submitter|admin (default admin)\n" \
  "  --format FMT         table (default), csv, json, jsonl or xlsx (a workbook: with --out,\n" \
  "                       or to a standard output that is not a terminal)\n"                  \
  "  --out FILE           write the output to FILE instead of standard output\n"             \
  "  --raw                csv: cells as stored (default: a text cell beginning with = + - @\n" \
  "                       TAB or CR is written '-prefixed and quoted, against formulas)\n" \
  "  --no-header          table and csv: the rows alone (no header, rule or \"(N rows)\")\n"

static const cmd CMDS[] = {
    {"gen", cli_cmd_gen, "generate a deterministic synthetic data set",
     "usage: chengxin gen --entities N --records M [--seed S] (--db PATH | --out FILE)\n"
     "\n"
     "Generates N entities and M records (M >= N) from seed S (default 1): valid codes, real\n"
     "region codes, every entity kind and category, heavy-tailed records per entity. The same\n"
     "seed gives byte-identical output.\n"
     "  --db PATH        load straight into a store (created if absent; bulk mode)\n"
     "  --out FILE       write CSV, or JSON Lines when FILE ends in .jsonl/.ndjson/.json ('-' = stdout)\n"
     "  --format F       csv or jsonl (overrides the extension)\n"
     "  --batch K        records per commit (default 10000)\n"
     "  --group-read     a new store readable by the group (0750/0640; default 0700/0600)\n"
     "  --quiet          no progress and no summary\n"},
    {"init", cli_cmd_init, "create an empty store",
     "usage: chengxin init --db PATH [--group-read] [--follows STREAM]\n"
     "\n"
     "Creates an empty store with the built-in region table, catalogue and calendar. Its\n"
     "directory is mode 0700 and its files 0600 (--group-read: 0750 and 0640).\n"
     "  --follows STREAM  mark it as a node of that replicated log: it refuses every write\n"
     "                    that does not come through the log, and a chengxind --log with\n"
     "                    another --stream (docs/scaling.md)\n"},
    {"info", cli_cmd_info, "schema version, counts, sizes and map use of a store",
     "usage: chengxin info --db PATH [--format FMT]\n"},
    {"import", cli_cmd_import, "import CSV or JSON Lines files into a store",
     "usage: chengxin import (--db PATH | --connect HOST:PORT [--token-file F]) [--mapping FILE]\n"
     "                       [--batch K] [--format-in csv|jsonl] [--encoding E] [--bulk]\n"
     "                       [--threads 1|2] [--sync-every N] [--builder auto|row|bulk] FILE...\n"
     "\n"
     "Imports records from CSV (header row) or JSON Lines files ('-' = stdin); the format is\n"
     "taken from the extension or the first byte. Columns are canonical field names unless a\n"
     "mapping file says otherwise. Bad rows are reported on stderr as FILE:LINE: reason and\n"
     "skipped; the rest lands in batches of K rows (default 100000; 10000 with --connect), each\n"
     "one durable transaction, all or nothing. With --sync-every N (load mode) the batches are\n"
     "children of one long transaction made durable every N rows, at each file's end and when\n"
     "LMDB's transaction is full (~512 MiB of changed pages): fewer bytes written, more CPU\n"
     "and memory; a crash loses the batches since the last durable point and leaves a store\n"
     "that verifies. --threads 2 (default) commits a batch on a second thread while the next\n"
     "is read and checked (--threads 1: one thread).\n"
     "With --connect the rows go to a chengxind server as ingest requests (a submitter or admin\n"
     "token; at most 10000 rows or 768 KiB per request); rows the server rejects are reported\n"
     "by line like local ones and the rest of their request is sent again.\n"
     "CSV files are UTF-8; a file whose header is not UTF-8 is read as GB18030 (GBK), the usual\n"
     "encoding of Excel exports (--encoding auto|utf-8|gb18030).\n"
     "--bulk syncs once at the end instead of at every batch (faster; a system crash during the\n"
     "import can damage the store: keep a backup).\n"
     "--builder: into a new (empty) store each file is one bulk load (auto, the default): its\n"
     "batches are one transaction in bulk mode, the entities' summaries built once at its end;\n"
     "the same content as the row path (batch by batch, --builder row), and a crash or a failed\n"
     "batch leaves the store as it was (nothing of the file). --builder bulk: also onto a\n"
     "populated store (no other process may have it open). Not with --sync-every N.\n"
     "\n"
     "Mapping file: one line per source column, tab-separated:\n"
     "  source column <TAB> canonical field [<TAB> transform]\n"
     "  =constant     <TAB> canonical field            (a fixed value for every row)\n"
     "Transforms: date (2024/3/5, 2024年3月5日, 20240305 -> 2024-03-05), kind (法人及非法人组织,\n"
     "自然人, 个体工商户 ...), severity (轻微/一般/严重), bool (是/否), join (append to the field\n"
     "with '；' instead of first-non-empty-wins). Several columns may feed one field.\n"
     "\n"
     "Exit status: 0 when every row landed, 1 when any row was rejected, 2 for usage errors.\n"},
    {"load-catalog", cli_cmd_load, "replace the store's measure catalogue",
     "usage: chengxin load-catalog --db PATH FILE | --connect HOST:PORT [--token-file F] FILE\n"},
    {"load-calendar", cli_cmd_load, "replace the store's working-day calendar",
     "usage: chengxin load-calendar --db PATH FILE | --connect HOST:PORT [--token-file F] FILE\n"},
    {"load-scorecard", cli_cmd_load, "replace the store's government-integrity scorecard rubric",
     "usage: chengxin load-scorecard --db PATH FILE | --connect HOST:PORT [--token-file F] FILE   (format: data/scorecard.tsv)\n"},
    {"load-regions", cli_cmd_load, "replace the store's region table, current or historic",
     "usage: chengxin load-regions --db PATH FILE | --connect HOST:PORT [--token-file F] FILE\n"
     "  FILE is data/regions.tsv (code, name) or data/regions_history.tsv (code, name, first\n"
     "  year, last year): a file whose lines carry years replaces the historic table\n"},
    {"upgrade", cli_cmd_upgrade, "migrate a store of the previous schema in place",
     "usage: chengxin upgrade --db PATH\n"
     "\n"
     "A store of schema 2 or 3 (this wave's earlier ones) is migrated in one transaction (the keyword\n"
     "index built, report delays marked, rollups and facts rebuilt), then verified; a store\n"
     "of the current schema is left as it is. Older stores: export from the build that reads\n"
     "them, or re-import (docs/operations.md \"Upgrades\").\n"},
    {"verify", cli_cmd_verify, "recompute summaries and rollups and compare",
     "usage: chengxin verify --db PATH [--digest | --replicated-digest] [--quiet]\n"
     "\n"
     "Prints each difference; exit status 1 when there is any.\n"
     "  --digest         also print the content digest on stdout: a SHA-256 of the logical\n"
     "                   content (data files, records with their lifecycle state, entities'\n"
     "                   last_update, authority names, the audit log), independent of page\n"
     "                   layout and ids: equal after backup, compact and export + restore\n"
     "  --replicated-digest  print the replicated digest instead: the content digest without\n"
     "                   the audit lines a node writes for itself (query audits, prune-checks);\n"
     "                   the nodes of one replicated log at one sequence have the same one\n"},
    {"export", cli_cmd_export, "write a store's content as JSON Lines (for restore)",
     "usage: chengxin export --db PATH [--out FILE [--sql SCRIPT]] [--since DAY]\n"
     "                       [--authority CODE] [--region CODE] [--quiet]\n"
     "\n"
     "Writes everything the store holds, from one read snapshot, beside a running server: a\n"
     "header, the data files, every record with its lifecycle state, entities, authorities,\n"
     "the audit log (lifecycle transitions as \"event\" lines: the records' history) and a\n"
     "trailer with the counts and the content digest. One JSON object per line, streamed.\n"
     "  --out FILE       the export (default stdout); removed again when the export fails\n"
     "  --since DAY      only records decided, reported or whose entity changed since DAY\n"
     "  --authority CODE only this authority's records\n"
     "  --region CODE    only records of entities whose region code starts with CODE\n"
     "  --sql SCRIPT     also write a DuckDB script that loads the export (--out FILE) into\n"
     "                   typed tables (records, entities, authorities, events, audit, regions)\n"
     "                   for SQL and Parquet: docs/scaling.md \"Analysts past one machine\"\n"
     "A filtered export is partial (its header and trailer say so): it holds the matching\n"
     "records, their entities, authorities and lifecycle events, and no other audit entry.\n"},
    {"restore", cli_cmd_restore, "build a new store from an export",
     "usage: chengxin restore --db NEW [--batch K] [--quiet] FILE\n"
     "\n"
     "Builds a store at NEW (which must not exist, or be an empty directory) from an export\n"
     "('-' = stdin): data files, then records with their stored lifecycle state, entities,\n"
     "authorities and the audit log as they were. Bad lines are reported as FILE:LINE: reason.\n"
     "All or nothing: the store is built in NEW.restore-PID and renamed to NEW only when every\n"
     "line was good and its digest equals the export's trailer; otherwise it is removed and NEW\n"
     "is left as it was. Exit status 1 then.\n"},
    {"backup", cli_cmd_backup, "consistent compacting copy of a store",
     "usage: chengxin backup --db PATH [--group-read] [--force] OUTDIR\n"
     "\n"
     "Writes OUTDIR/data.mdb (OUTDIR mode 0700, the file 0600; --group-read: 0750, 0640) from\n"
     "one read snapshot, beside a running server. OUTDIR must be new or empty; when it holds a\n"
     "backup already, --force writes the new one beside it and swaps them in one rename (only\n"
     "a directory with a store's files, that no process has open, is replaced).\n"},
    {"compact", cli_cmd_compact, "rewrite a store compactly (backup + swap)",
     "usage: chengxin compact --db PATH [--group-read]\n"
     "\n"
     "Copies the store compactly into PATH.compact-XXXX, then swaps the directories and removes\n"
     "the old copy. Refuses (exit 1, nothing changed) while another process (a server, an\n"
     "import) has the store open. The copy's modes are 0700/0600 (--group-read: 0750/0640),\n"
     "never looser than the store's.\n"},
    {"prune-checks", cli_cmd_prune_checks, "delete check-log entries (receipts) before a day",
     "usage: chengxin prune-checks --db PATH --before YYYY-MM-DD [--quiet]\n"
     "\n"
     "Deletes the check log's entries of checks made before that day (Beijing time), as a\n"
     "server does by itself past --check-retention-days. The check rollup keeps its counts\n"
     "(agg --of checks is unchanged); feedback on a deleted receipt is not_found. Audited.\n"
     "Safe beside a running server.\n"},
    {"status", cli_cmd_status, "status page of an entity",
     "usage: chengxin status CODE [--part entity|counts] [options]\n"
     "  --part P             entity (its identity) or counts (per category); default both,\n"
     "                       csv the entity (a CSV stream holds one table)\n" COMMON_QUERY_OPTS},
    {"records", cli_cmd_records, "records of an entity, newest first",
     "usage: chengxin records CODE [--category C] [--limit N] [--all] [--wide] [options]\n"
     "  the table: date, category, 文号 (record_id) and its authority, status, amount in 元;\n"
     "  csv/json: every field, codes, with the Chinese names beside (category_name ...)\n"
     "  --wide               every field in the table too\n"
     "  --category C         only this category\n"
     "  --limit N            records per page (default 20, max 1000)\n"
     "  --all                every page\n"
     "  --cursor CUR         continue after this cursor\n" COMMON_QUERY_OPTS},
    {"check", cli_cmd_check, "linked-punishment verdicts for an approval action",
     "usage: chengxin check --action A (CODE... | --file F) [options]\n"
     "\n"
     "One verdict per code and line: clear, review, deny, not_found or invalid_code, with the\n"
     "measures and records (AUTHORITY/record_id) behind it; --format json and jsonl print the\n"
     "server's answer as it is. Exit status: 3 when any deny, else 4 when any review,\n"
     "else 1 when any invalid code, else 0.\n"
     "  --action A           procurement, bidding, subsidy, honour, appointment, license, ...\n"
     "  --file F             codes, one per line ('-' = stdin)\n" COMMON_QUERY_OPTS},
    {"search", cli_cmd_search, "entities by name, part of a name or code prefix",
     "usage: chengxin search QUERY [--limit N] [--cursor C] [options]\n"
     "  one page (match: exact, prefix, code, contains); the next page's --cursor goes to stderr\n"
     COMMON_QUERY_OPTS},
    {"agg", cli_cmd_agg, "aggregates: counts, sums and rates grouped by dimensions",
     "usage: chengxin agg --by DIM[,DIM...] [options]\n"
     "  --by DIMS            province city county authority category subtype domain severity\n"
     "                       kind status year quarter month\n"
     "  --where DIM=V[,V]    filter (repeatable): --where category=penalty --where city=3501;\n"
     "                       regions by name too: --where city=福州市\n"
     "  --from DATE --to DATE  decision-date range (inclusive)\n"
     "  --metrics M,...      count amount in_force on_time on_time_rate report_delay repaired\n"
     "                       loss_rate kept_rate (default count)\n"
     "  --order COL --desc   sort by a column name (dimension or metric)\n"
     "  --limit N            first N rows\n"
     "  --chart              bar charts, one per metric, over the same bars: the --top rows\n"
     "                       with the largest first metric (with --order: the first ones) and\n"
     "                       one \"others\" bar summing the rest (none for rates and means);\n"
     "                       two dimensions: a bar per combination (福州市 / 2025-03)\n"
     "  --top N              bars of --chart and --plot (default 20)\n"
     "  --plot FILE.png      the same charts as a PNG through gnuplot (Chinese labels: Noto Sans CJK)\n"
     "  --scan               never use rollups (for comparison)\n"
     "  --of checks          the check log and its feedback: dims action verdict province city\n"
     "                       county authority year quarter month; metrics checks restricted\n"
     "                       approved_after_review approved feedback restricted_rate\n" COMMON_QUERY_OPTS},
    {"repair", cli_cmd_change, "repair a record (信用修复): public display and measures stop",
     "usage: chengxin repair --authority CODE --record-id ID --reason TEXT [--override] [options]\n"
     "\n"
     "Marks the record repaired: public display ends, the measures lift and approval systems\n"
     "no longer receive it. Not before the end of the record's minimum display period (general:\n"
     "3 months after the decision, serious: 1 year; minor records any time) unless --override\n"
     "(admin or local mode; audited). Local mode (--db) opens the store writable and records the\n"
     "change in the store's audit log (who: local:<unix user>); remote mode needs a submitter\n"
     "token of the record's authority, or admin, and the server records it under the token's\n"
     "name.\n" COMMON_QUERY_OPTS},
    {"revoke", cli_cmd_change, "revoke a record (the decision was withdrawn; final)",
     "usage: chengxin revoke --authority CODE --record-id ID --reason TEXT [options]\n" COMMON_QUERY_OPTS},
    {"reinstate", cli_cmd_change, "make a repaired record active again (a new decision)",
     "usage: chengxin reinstate --authority CODE --record-id ID --reason TEXT [options]\n"
     "\n"
     "A repaired record returns to active only by a new decision of its authority: display and\n"
     "measures apply again. A revoked record cannot be reinstated.\n" COMMON_QUERY_OPTS},
    {"objection", cli_cmd_change, "flag a record as under objection (异议), or --withdraw",
     "usage: chengxin objection --authority CODE --record-id ID --reason TEXT [--withdraw] [options]\n"
     COMMON_QUERY_OPTS},
    {"audit", cli_cmd_audit, "read the store's audit log (writes, queries about persons)",
     "usage: chengxin audit --db PATH [--since DATE] [--until DATE] [--who NAME] [--op OP]\n"
     "                      [--from-seq N] [--limit N] [--format FMT] [--out FILE] [--raw]\n"
     "\n"
     "Prints the append-only audit log in order: seq, time (UTC), who (a token's name, or\n"
     "local:<user> for the CLI; never a token), role, op, target (entity code or\n"
     "authority/record_id), detail (batch size, reason, action and verdict) and client address.\n"
     "Every write is in it, and every query about a person or civil servant by a non-public role\n"
     "on a server (written within about 200 ms of the query). Opens the store read-only, so it\n"
     "runs beside a server.\n"
     "  --since DATE --until DATE  UTC days, both inclusive\n"
     "  --who NAME           only this who (exact)\n"
     "  --op OP              only this op (ingest repair revoke objection entity records check\n"
     "                       import gen load-catalog load-calendar load-regions)\n"
     "  --from-seq N         start at entry N\n"
     "  --limit N            at most N entries\n"
     "  --format FMT         table (default), csv, json, jsonl or xlsx (see `chengxin help status`)\n"
     "  --out FILE           write the output to FILE instead of standard output\n"
     "  --raw                csv: cells as stored (see `chengxin help status`)\n"},
    {"scorecard", cli_cmd_scorecard, "政务诚信评价: a government body's scorecard, or a region's ranking",
     "usage: chengxin scorecard --code CODE [--year YYYY | --from DAY --to DAY] [--indicator I [--limit N]]\n"
     "       chengxin scorecard --region CODE [--year YYYY | --from DAY --to DAY] [--kind K,..] [--level L,..]\n"
     "                          [--chart] [--plot F.png] [--top N]\n"
     "\n"
     "One body (--code): its score by the store's rubric (data/scorecard.tsv, load-scorecard), its\n"
     "grade, the previous period's score and the change, and each indicator's value, cases,\n"
     "points and weight; --indicator names one (gov_dishonesty unperformed_judgments\n"
     "lawsuit_loss_rate commitment_kept_rate on_time_rate complaints staff_discipline\n"
     "blacklisted) and lists the records behind it. The period: --year, or --from/--to (default:\n"
     "the 12 months to today). A region (--region 35, 3501, 350102): its bodies ranked by score;\n"
     "--kind government,subdistrict,institution and --level province,city,county filter (a body's\n"
     "level is its region's); --chart / --plot draw the scores (the\n"
     "--top bodies, default 20). csv prints the indicators (one body) or the ranking; json all.\n"
     COMMON_QUERY_OPTS},
    {"feedback", cli_cmd_feedback, "report what was done with a check receipt (联合奖惩 feedback)",
     "usage: chengxin feedback RECEIPT OUTCOME [--note TEXT] [options]\n"
     "OUTCOME: restricted, approved_after_review or approved. RECEIPT: a check answer's receipt\n"
     "(given by a server: --connect with an approval token; only the token that checked may\n"
     "report on it, admin on any). Aggregate them: chengxin agg --of checks --by action,month\n"
     "--metrics checks,feedback,restricted,restricted_rate.\n" COMMON_QUERY_OPTS},
    {"stats", cli_cmd_stats, "a server's counters and latencies (--connect)",
     "usage: chengxin stats --connect HOST:PORT [--token-file F] [--format FMT]\n"},
    {"debug", cli_cmd_debug, NULL,
     "usage: chengxin debug corrupt-summary --db PATH CODE\n"
     "Test hook: overwrites an entity's stored summary so that verify must catch it.\n"},
};
#define N_CMDS ((int)(sizeof CMDS / sizeof CMDS[0]))

int cli_help(FILE *f, const char *name) {
  if (!name) {
    fputs("chengxin — integrity-record store and queries (诚信)\n"
          "\n"
          "usage: chengxin <command> [options]\n"
          "\n"
          "commands:\n",
          f);
    for (int i = 0; i < N_CMDS; i++)
      if (CMDS[i].summary) fprintf(f, "  %-14s %s\n", CMDS[i].name, CMDS[i].summary);
    fputs("\n`chengxin help COMMAND` or `chengxin COMMAND --help` for details; man chengxin.\n"
          "Exit status: 0 ok, 1 failure, 2 usage error; check: 3 deny, 4 review.\n",
          f);
    return 0;
  }
  for (int i = 0; i < N_CMDS; i++)
    if (strcmp(CMDS[i].name, name) == 0) {
      fputs(CMDS[i].help, f);
      return 0;
    }
  return -1;
}

int cli_wants_help(int argc, char **argv) {
  for (int i = 1; i < argc; i++) {
    if (strcmp(argv[i], "--") == 0) break;
    if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) return 1;
  }
  return 0;
}

int main(int argc, char **argv) {
  setlocale(LC_CTYPE, "C.UTF-8");
  /* Test hook (tests/tools/test_oom_import.c): the Nth counted allocation fails. */
  const char *fa = getenv("CHENGXIN_TEST_FAIL_ALLOC");
  if (fa && *fa) cx_alloc_fail_at(atol(fa), 0);
  /* --tz ZONE (or --tz=ZONE) anywhere: whose day is today; taken out before the command. */
  for (int i = 1; i < argc; i++) {
    const char *z = NULL;
    int take = 0;
    if (strcmp(argv[i], "--tz") == 0 && i + 1 < argc) z = argv[i + 1], take = 2;
    else if (strncmp(argv[i], "--tz=", 5) == 0) z = argv[i] + 5, take = 1;
    if (!take) continue;
    if (cx_day_set_tz(z, NULL)) return cli_usage("--tz %s: expected Asia/Shanghai, UTC, +HH:MM or a zone name", z);
    for (int k = i; k + take <= argc; k++) argv[k] = argv[k + take];
    argc -= take;
    i--;
  }
  if (argc < 2) {
    cli_help(stderr, NULL);
    return CLI_EXIT_USAGE;
  }
  const char *today = getenv("CHENGXIN_TODAY");
  int tr = cx_day_set_today_env(today);
  if (tr < 0) return cli_usage("CHENGXIN_TODAY=%s is not a YYYY-MM-DD date", today);
  if (tr > 0)
    fprintf(stderr, "chengxin: CHENGXIN_TODAY is set: today is %s, not the clock's day\n", today);
  const char *name = argv[1];
  if (strcmp(name, "help") == 0 || strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0) {
    if (argc > 2) {
      if (cli_help(stdout, argv[2]) != 0) return cli_usage("unknown command '%s'", argv[2]);
      return 0;
    }
    cli_help(stdout, NULL);
    return 0;
  }
  if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
    /* the same shape as chengxind --version (docs/protocol.md §10) */
    printf("chengxin %s (protocol %s, store schema %u)\nlibraries: %s, msgpack-c %s, jansson %s\ncommit: %s\n",
           CX_VERSION, CX_PROTOCOL_VERSION, (unsigned)CX_SCHEMA_VERSION, cx_store_lib_version(), msgpack_version(),
           JANSSON_VERSION, cx_build_commit());
    return 0;
  }
  for (int i = 0; i < N_CMDS; i++) {
    if (strcmp(CMDS[i].name, name) != 0) continue;
    if (cli_wants_help(argc - 1, argv + 1)) {
      fputs(CMDS[i].help, stdout);
      return 0;
    }
    int crc = cli_conf_load();
    if (crc) return crc;
    int rc = CMDS[i].fn(argc - 1, argv + 1);
    if ((fflush(stdout) != 0 || cli_out_failed()) && rc == 0) rc = CLI_EXIT_FAIL; /* emit.c */
    return rc;
  }
  return cli_usage("unknown command '%s'", name);
}
