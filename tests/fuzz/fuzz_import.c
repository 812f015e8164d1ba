/*
 * libFuzzer target: the import file parsers end to end — CSV (libcsv, UTF-8 or GB18030) and
 * JSON Lines (jansson), with or without the shipped 双公示 column mapping — through the real
 * `chengxin import` command (cli_cmd_import) into a scratch store (tmpfs when /dev/shm exists).
 *
 * Input: byte 0 picks the format (bit 0: JSON Lines), the mapping (bit 1), the encoding (bits
 * 2-3: auto, utf-8, gb18030) and the batch size (bits 4-5: 1, 7, 64, 1000 rows); the rest is
 * the file. Invariants: the command returns 0 (all rows in) or 1 (some rows rejected, each
 * reported with its line), never a usage error, a crash or a sanitizer report; and the store
 * stays consistent: cx_store_verify finds no difference (checked every 64 inputs and at exit).
 */
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "store.h"
#include "fuzz.h"

#ifndef CX_SOURCE_DIR
#error "CX_SOURCE_DIR must name the source tree (for the shipped mapping file)"
#endif

static char g_dir[64], g_store[96], g_in_csv[96], g_in_jsonl[96], g_map[512];
static unsigned long g_runs;

static void verify_store(void) {
  cx_store *st;
  cx_store_opts o = {0};
  o.read_only = 1;
  int rc = cx_store_open(g_store, &o, &st);
  if (rc == CX_ENOSTORE) return; /* nothing imported yet */
  CHECK(rc == 0);
  long diffs = cx_store_verify(st, NULL, NULL);
  cx_store_close(st);
  CHECK(diffs == 0);
}

static void cleanup(void) {
  if (!g_dir[0]) return;
  verify_store();
  fz_rmrf(g_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv) {
  (void)argc, (void)argv;
  fz_tmpdir(g_dir, sizeof g_dir, "import");
  snprintf(g_store, sizeof g_store, "%s/store", g_dir);
  snprintf(g_in_csv, sizeof g_in_csv, "%s/in.csv", g_dir);
  snprintf(g_in_jsonl, sizeof g_in_jsonl, "%s/in.jsonl", g_dir);
  snprintf(g_map, sizeof g_map, "%s/tools/chengxin/mappings/shuanggongshi_penalty.tsv", CX_SOURCE_DIR);
  CHECK(access(g_map, R_OK) == 0);
  atexit(cleanup);
  return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 1) return 0;
  unsigned sel = data[0];
  const char *file = (sel & 1) ? g_in_jsonl : g_in_csv;
  FILE *f = fopen(file, "wb");
  CHECK(f);
  CHECK(fwrite(data + 1, 1, size - 1, f) == size - 1);
  CHECK(fclose(f) == 0);
  static const char *const enc[] = {"auto", "utf-8", "gb18030", "auto"};
  static const char *const batch[] = {"1", "7", "64", "1000"};
  char *argv[16];
  int argc = 0;
  argv[argc++] = "import";
  argv[argc++] = "--db";
  argv[argc++] = g_store;
  argv[argc++] = "--quiet";
  argv[argc++] = "--encoding";
  argv[argc++] = (char *)enc[(sel >> 2) & 3];
  argv[argc++] = "--batch";
  argv[argc++] = (char *)batch[(sel >> 4) & 3];
  if (sel & 2) {
    argv[argc++] = "--mapping";
    argv[argc++] = g_map;
  }
  argv[argc++] = (char *)file;
  argv[argc] = NULL;
  /* the first run creates the store: import needs one */
  if (g_runs == 0) {
    char *init[] = {"init", "--db", g_store, NULL};
    CHECK(cli_cmd_init(3, init) == 0);
  }
  int rc = cli_cmd_import(argc, argv);
  CHECK(rc == CLI_EXIT_OK || rc == CLI_EXIT_FAIL);
  if (++g_runs % 64 == 0) verify_store();
  return 0;
}
