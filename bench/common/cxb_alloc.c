/*
 * cxb_alloc.c — counts heap allocations of the benchmark process by interposing malloc,
 * calloc and realloc (glibc's __libc_* do the work). Linked only into bench executables.
 * Under AddressSanitizer the sanitizer owns malloc: counting is off and cxb_allocs() is -1.
 */
#include "cxb.h"

#if defined(__SANITIZE_ADDRESS__)
#define CXB_NO_ALLOC_COUNT 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(memory_sanitizer)
#define CXB_NO_ALLOC_COUNT 1
#endif
#endif

#ifdef CXB_NO_ALLOC_COUNT
long long cxb_allocs(void) { return -1; }
#else
#include <stddef.h>

extern void *__libc_malloc(size_t n);
extern void *__libc_calloc(size_t n, size_t m);
extern void *__libc_realloc(void *p, size_t n);
extern void __libc_free(void *p);

static unsigned long long cxb_alloc_n;

void *malloc(size_t n) {
  __atomic_fetch_add(&cxb_alloc_n, 1, __ATOMIC_RELAXED);
  return __libc_malloc(n);
}
void *calloc(size_t n, size_t m) {
  __atomic_fetch_add(&cxb_alloc_n, 1, __ATOMIC_RELAXED);
  return __libc_calloc(n, m);
}
void *realloc(void *p, size_t n) {
  __atomic_fetch_add(&cxb_alloc_n, 1, __ATOMIC_RELAXED);
  return __libc_realloc(p, n);
}
void free(void *p) { __libc_free(p); }

long long cxb_allocs(void) { return (long long)__atomic_load_n(&cxb_alloc_n, __ATOMIC_RELAXED); }
#endif
