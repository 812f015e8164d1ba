/*
 * emit.c — where a command's tables go: standard output, or --out FILE.
 *
 * Every format can go to a file (--out FILE); xlsx is a binary file, so it goes to a terminal
 * never: `--format xlsx` needs --out FILE.xlsx, or a standard output that is a file or a pipe
 * (`chengxin agg ... --format xlsx > a.xlsx`). A failure to write is reported once, on stderr,
 * and makes the command exit 1 (main.c asks cli_out_failed() after the command, as it asks
 * fflush(stdout)): the commands print their tables last, so nothing else is lost.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static int g_failed;

int cli_out_failed(void) { return g_failed; }

void cli_out_fail(void) { g_failed = 1; }

int cli_out_check(const char *cmd, cli_fmt fmt, const char *out) {
  if (fmt == CLI_FMT_XLSX && !out && isatty(STDOUT_FILENO))
    return cli_usage("%s: --format xlsx writes a binary workbook: give --out FILE.xlsx, or redirect standard output",
                     cmd);
  if (out && !*out) return cli_usage("%s: --out: expected a file name", cmd);
  return 0;
}

int cli_emit(const char *out, cli_fmt fmt, cli_table *const *tabs, int n) {
  int rc = 0;
  if (!out || strcmp(out, "-") == 0) {
    cli_print(stdout, fmt, tabs, n); /* xlsx: cli_xlsx_print, which says when it fails */
  } else if (fmt == CLI_FMT_XLSX) {
    rc = cli_xlsx_write(out, tabs, n);
  } else {
    FILE *f = fopen(out, "w");
    if (!f) {
      cli_err(strerror(errno), "--out %s", out);
      rc = -1;
    } else {
      cli_print(f, fmt, tabs, n);
      if (ferror(f) | fclose(f)) {
        cli_err(strerror(errno ? errno : EIO), "--out %s", out);
        rc = -1;
      }
    }
  }
  if (rc) g_failed = 1;
  return rc;
}
