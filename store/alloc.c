/* alloc.c — libc's allocator behind a counter and a failure switch (cx_alloc.h). */
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "cx_alloc.h"

static atomic_long n_calls;     /* every allocation */
static atomic_long fail_at;     /* the n_calls value that fails; 0: none */
static atomic_int fail_persist;
static atomic_long n_failed;

/* 1 when this allocation must fail. One relaxed increment and one load when the hook is off. */
static int must_fail(void) {
  long k = atomic_fetch_add_explicit(&n_calls, 1, memory_order_relaxed) + 1;
  long at = atomic_load_explicit(&fail_at, memory_order_relaxed);
  if (!at || k < at || (k > at && !atomic_load_explicit(&fail_persist, memory_order_relaxed))) return 0;
  atomic_fetch_add_explicit(&n_failed, 1, memory_order_relaxed);
  return 1;
}

void *cx_malloc(size_t n) { return must_fail() ? NULL : malloc(n); }
void *cx_calloc(size_t n, size_t size) { return must_fail() ? NULL : calloc(n, size); }
void *cx_realloc(void *p, size_t n) { return must_fail() ? NULL : realloc(p, n); }
void cx_free(void *p) { free(p); }

char *cx_strdup(const char *s) {
  size_t n = strlen(s) + 1;
  char *p = cx_malloc(n);
  if (p) memcpy(p, s, n);
  return p;
}

void cx_alloc_fail_at(long n, int persist) {
  atomic_store(&n_failed, 0);
  atomic_store(&fail_persist, persist != 0);
  atomic_store(&fail_at, n > 0 ? atomic_load(&n_calls) + n : 0);
}

long cx_alloc_count(void) { return atomic_load(&n_calls); }
long cx_alloc_failures(void) { return atomic_load(&n_failed); }
