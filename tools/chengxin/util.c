/*
 * util.c — errors, UTF-8 display width, number formatting, files.
 */
#include <errno.h>
#include <pwd.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli.h"

int cli_progress_on;

void cli_progress_clear(void) {
  if (cli_progress_on && isatty(2)) fputs("\r\033[K", stderr);
  cli_progress_on = 0;
}

void cli_err(const char *why, const char *fmt, ...) {
  va_list ap;
  cli_progress_clear();
  fputs("chengxin: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  if (why && *why) fprintf(stderr, ": %s", why);
  fputc('\n', stderr);
}

int cli_usage(const char *fmt, ...) {
  va_list ap;
  fputs("chengxin: ", stderr);
  va_start(ap, fmt);
  vfprintf(stderr, fmt, ap);
  va_end(ap);
  fputs(" (see `chengxin help`)\n", stderr);
  return CLI_EXIT_USAGE;
}

/* East Asian Wide (W) and Fullwidth (F) ranges, condensed from Unicode's
 * EastAsianWidth.txt: enough for Chinese text, CJK punctuation and full-width forms. */
static int wide(uint32_t c) {
  static const uint32_t r[][2] = {
      {0x1100, 0x115F}, {0x231A, 0x231B}, {0x2329, 0x232A}, {0x2E80, 0x303E}, {0x3041, 0x33FF},
      {0x3400, 0x4DBF}, {0x4E00, 0x9FFF}, {0xA000, 0xA4CF}, {0xA960, 0xA97F}, {0xAC00, 0xD7A3},
      {0xF900, 0xFAFF}, {0xFE10, 0xFE19}, {0xFE30, 0xFE6F}, {0xFF00, 0xFF60}, {0xFFE0, 0xFFE6},
      {0x1F300, 0x1F64F}, {0x1F900, 0x1F9FF}, {0x20000, 0x2FFFD}, {0x30000, 0x3FFFD},
  };
  for (size_t i = 0; i < sizeof r / sizeof r[0]; i++)
    if (c >= r[i][0] && c <= r[i][1]) return 1;
  return 0;
}

static int zero_width(uint32_t c) {
  return (c >= 0x0300 && c <= 0x036F) || (c >= 0x200B && c <= 0x200F) || c == 0xFEFF ||
         (c >= 0xFE00 && c <= 0xFE0F);
}

size_t cli_utf8_width(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s, *e = p + n;
  size_t w = 0;
  while (p < e) {
    uint32_t c = *p;
    int len = 1;
    if (c >= 0xF0 && e - p >= 4) {
      c = ((c & 7u) << 18) | ((p[1] & 63u) << 12) | ((p[2] & 63u) << 6) | (p[3] & 63u);
      len = 4;
    } else if (c >= 0xE0 && e - p >= 3) {
      c = ((c & 15u) << 12) | ((p[1] & 63u) << 6) | (p[2] & 63u);
      len = 3;
    } else if (c >= 0xC0 && e - p >= 2) {
      c = ((c & 31u) << 6) | (p[1] & 63u);
      len = 2;
    }
    p += len;
    if (c < 0x20 || (c >= 0x7F && c < 0xA0) || zero_width(c)) continue;
    w += wide(c) ? 2 : 1;
  }
  return w;
}

char *cli_thousands(int64_t v, char *buf, size_t cap) {
  char tmp[32];
  uint64_t u = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
  int n = 0, g = 0;
  do {
    if (g == 3) {
      tmp[n++] = ',';
      g = 0;
    }
    tmp[n++] = (char)('0' + u % 10);
    u /= 10;
    g++;
  } while (u);
  if (v < 0) tmp[n++] = '-';
  size_t o = 0;
  while (n > 0 && o + 1 < cap) buf[o++] = tmp[--n];
  if (cap) buf[o] = 0;
  return buf;
}

int cli_read_file(const char *path, char **out, size_t *n) {
  FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
  if (!f) return -errno;
  size_t cap = 1 << 16, len = 0;
  char *buf = cx_malloc(cap);
  if (!buf) goto nomem;
  for (;;) {
    if (len + 1 >= cap) {
      char *nb = cx_realloc(buf, cap * 2);
      if (!nb) goto nomem;
      buf = nb;
      cap *= 2;
    }
    size_t r = fread(buf + len, 1, cap - len - 1, f);
    len += r;
    if (r == 0) break;
  }
  int err = ferror(f) ? -EIO : 0;
  if (f != stdin) fclose(f);
  if (err) {
    free(buf);
    return err;
  }
  buf[len] = 0;
  *out = buf;
  *n = len;
  return 0;
nomem:
  free(buf);
  if (f != stdin) fclose(f);
  return -ENOMEM;
}

int cli_parse_u64(const char *s, uint64_t *out) {
  if (!s || !*s) return -1;
  char *end;
  errno = 0;
  unsigned long long v = strtoull(s, &end, 10);
  if (errno || *end || *s == '-') return -1;
  *out = v;
  return 0;
}

double cli_now(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Local writes are audited like the server's: who is the unix user running the CLI. */
void cli_audit_entry(cx_audit_entry *e, const char *op, const char *target, const char *detail) {
  static char who[96];
  if (!who[0]) {
    struct passwd *pw = getpwuid(geteuid());
    if (pw && pw->pw_name && *pw->pw_name) snprintf(who, sizeof who, "local:%s", pw->pw_name);
    else snprintf(who, sizeof who, "local:uid%u", (unsigned)geteuid());
  }
  memset(e, 0, sizeof *e);
  e->who = cx_str_c(who);
  e->role = CX_STR("local");
  e->op = cx_str_c(op);
  e->target = cx_str_c(target ? target : "");
  e->detail = cx_str_c(detail ? detail : "");
}

int cli_audit_batch(cx_batch *b, const char *op, const char *target, const char *detail) {
  cx_audit_entry e;
  cli_audit_entry(&e, op, target, detail);
  int rc = cx_batch_audit(b, &e);
  if (rc) cli_err(cx_strerror(rc), "%s: cannot record the audit entry", op);
  return rc;
}

int cli_exit_for(int rc) {
  switch (rc) {
  case 0: return CLI_EXIT_OK;
  case CX_ENOSPACE: return CLI_EXIT_NO_SPACE;
  case CX_EROFS: return CLI_EXIT_READ_ONLY;
  default: return strcmp(cx_err_name(rc), "bad_request") == 0 ? CLI_EXIT_USAGE : CLI_EXIT_FAIL;
  }
}

int cli_exe_dir(char *buf, size_t cap) {
  char p[4096];
  ssize_t n = readlink("/proc/self/exe", p, sizeof p - 1);
  if (n <= 0) return -1;
  p[n] = 0;
  char *slash = strrchr(p, '/');
  if (!slash || (size_t)(slash - p) >= cap) return -1;
  *slash = 0;
  snprintf(buf, cap, "%s", p);
  return 0;
}
