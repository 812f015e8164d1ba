/* testutil.h — helpers shared by the Criterion tests. */
#ifndef CX_TESTUTIL_H
#define CX_TESTUTIL_H

#include <stddef.h>

/** Creates a fresh temporary directory; writes its path into buf (>= 64 bytes). */
void cx_test_tmpdir(char *buf, size_t cap);
/** Removes a directory tree (rm -rf). */
void cx_test_rmrf(const char *path);
/** Path of a built binary: $CX_BIN_DIR/name, else name in the running test's own directory
 *  (buf >= 512 bytes). */
const char *cx_test_bin(const char *name, char *buf, size_t cap);
/** The source tree: $CX_SOURCE_DIR, else the one this test was built from. */
const char *cx_test_source_dir(void);
/** Runs a shell command, returns its exit status (-1 when it did not exit normally). */
int cx_test_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/**
 * In the ASan build: 1 when LeakSanitizer finds memory nothing points to any more (it prints
 * the report). Criterion ignores a worker's exit status, so a leak found only at exit would
 * never fail a test: tests that hunt leaks (the out-of-memory suites) call this at their end.
 * 0 in other builds.
 */
int cx_test_leaks(void);

/**
 * Copies the n bytes of s (n <= a page) to the very end of a readable page followed by a
 * PROT_NONE page, and returns the copy: a parser that reads past n faults. One page pair per
 * process, reused by each call.
 */
const char *cx_test_guarded(const char *s, size_t n);

#endif
