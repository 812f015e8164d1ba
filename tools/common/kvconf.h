/*
 * kvconf.h — "key = value" configuration files, shared by chengxind (--config) and the CLI
 * (~/.config/chengxin/config).
 *
 * Format: one "key = value" per line; blank lines and lines whose first non-blank character
 * is '#' are skipped; spaces around key and value are trimmed; a value runs to the end of its
 * line (no inline comments, no quotes: a path may hold '#' or spaces). Keys are the long
 * option names without "--" (db, listen, token-file, ...).
 *
 * Caveats: parses in place; the key and value pointers point into text and live as long as
 * it does. Not thread-safe on the same text; no global state.
 */
#ifndef CX_KVCONF_H
#define CX_KVCONF_H

#include <stddef.h>

/** Called once per entry: key and val point into the parsed text. Returns 0 to go on, or
 *  non-zero after writing the reason into why (the parse stops at that line). */
typedef int (*cx_kv_fn)(const char *key, const char *val, void *ctx, char *why, size_t cap);

/**
 * Parses text (NUL-terminated, modified in place) and calls fn for each entry.
 * @param[out] bad_line  the 1-based line that stopped the parse (left untouched on success)
 * @return 0, or -1 with *bad_line set and why filled (a line without '=', an empty key, or
 *         fn's refusal).
 */
int cx_kv_parse(char *text, cx_kv_fn fn, void *ctx, int *bad_line, char *why, size_t cap);

#endif
