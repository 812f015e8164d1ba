#include "testutil.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

void cx_test_tmpdir(char *buf, size_t cap) {
  const char *base = getenv("TMPDIR");
  snprintf(buf, cap, "%s/cxtest.XXXXXX", base && *base ? base : "/tmp");
  if (!mkdtemp(buf)) {
    perror("mkdtemp");
    abort();
  }
}

void cx_test_rmrf(const char *path) {
  if (!path || !*path || strcmp(path, "/") == 0) return;
  cx_test_sh("rm -rf '%s'", path);
}

/* Test executables are built into the same directory as the programs (build/bin), so
 * without CX_BIN_DIR the programs are found beside the running test, whatever the working
 * directory: ./build/bin/tools_test_x from the repository and bin/tools_test_x from build/
 * both work. */
const char *cx_test_bin(const char *name, char *buf, size_t cap) {
  const char *dir = getenv("CX_BIN_DIR");
  char self[4096];
  ssize_t n;
  if (dir && *dir) {
    snprintf(buf, cap, "%s/%s", dir, name);
  } else if ((n = readlink("/proc/self/exe", self, sizeof self - 1)) > 0) {
    self[n] = 0;
    char *slash = strrchr(self, '/');
    if (slash) *slash = 0;
    snprintf(buf, cap, "%s/%s", self, name);
  } else {
    snprintf(buf, cap, "./build/bin/%s", name);
  }
  return buf;
}

const char *cx_test_source_dir(void) {
  const char *src = getenv("CX_SOURCE_DIR");
  return src && *src ? src : CX_TEST_SOURCE_DIR;
}

int cx_test_sh(const char *fmt, ...) {
  char cmd[4096];
  va_list ap;
  va_start(ap, fmt);
  vsnprintf(cmd, sizeof cmd, fmt, ap);
  va_end(ap);
  int st = system(cmd);
  if (st == -1 || !WIFEXITED(st)) return -1;
  return WEXITSTATUS(st);
}

#if defined(__SANITIZE_ADDRESS__)
#include <sanitizer/lsan_interface.h>
int cx_test_leaks(void) { return __lsan_do_recoverable_leak_check() != 0; }
#else
int cx_test_leaks(void) { return 0; }
#endif

const char *cx_test_guarded(const char *s, size_t n) {
  static char *mem;
  long pg = sysconf(_SC_PAGESIZE);
  if (!mem) {
    mem = mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (mem == MAP_FAILED || mprotect(mem + pg, (size_t)pg, PROT_NONE) != 0) {
      perror("cx_test_guarded");
      abort();
    }
  }
  if (n > (size_t)pg) abort();
  char *p = mem + pg - n;
  memcpy(p, s, n);
  return p;
}
