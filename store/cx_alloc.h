/*
 * cx_alloc.h — the allocator every module of chengxin allocates through.
 *
 * cx_malloc and friends are libc's, behind one counter and one switch, so that tests can count
 * allocations and fail the Nth one (tests/store/test_oom.c runs open, commit, aggregate, import
 * and every server op with allocation N failing, for every N until the operation succeeds:
 * each must fail cleanly, leak nothing and leave the store consistent). Memory from them is
 * released with free() or cx_free() alike. Memory a library allocates itself (LMDB, libuv,
 * jansson) is not counted.
 *
 * Caveats (threads): the counter and the switch are process-wide atomics; a test that fails
 * allocations must not run other threads that allocate meanwhile (or must accept that they
 * may be the ones that fail).
 */
#ifndef CX_ALLOC_H
#define CX_ALLOC_H

#include <stddef.h>

void *cx_malloc(size_t n);
void *cx_calloc(size_t n, size_t size);
void *cx_realloc(void *p, size_t n);
char *cx_strdup(const char *s);
void cx_free(void *p);

/**
 * Test hook: the allocation `n` calls from now (1 = the next) fails, and with persist every
 * one after it too; n = 0 turns failing off. Returns nothing; see cx_alloc_failures().
 */
void cx_alloc_fail_at(long n, int persist);
/** Allocations made since the process started (successful and failed). */
long cx_alloc_count(void);
/** Allocations failed by the hook since the last cx_alloc_fail_at(). */
long cx_alloc_failures(void);

#endif
