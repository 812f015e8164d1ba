/*
 * kvconf.c — "key = value" configuration lines (kvconf.h).
 */
#include "kvconf.h"

#include <stdio.h>
#include <string.h>

static char *trim(char *s) {
  while (*s == ' ' || *s == '\t') s++;
  size_t n = strlen(s);
  while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r')) s[--n] = 0;
  return s;
}

int cx_kv_parse(char *text, cx_kv_fn fn, void *ctx, int *bad_line, char *why, size_t cap) {
  int line = 0;
  char *p = text;
  while (p && *p) {
    line++;
    char *nl = strchr(p, '\n');
    if (nl) *nl = 0;
    char *l = trim(p);
    p = nl ? nl + 1 : NULL;
    if (!*l || *l == '#') continue;
    char *eq = strchr(l, '=');
    if (!eq) {
      snprintf(why, cap, "expected \"key = value\", got \"%.60s\"", l);
      *bad_line = line;
      return -1;
    }
    *eq = 0;
    char *k = trim(l), *v = trim(eq + 1);
    if (!*k) {
      snprintf(why, cap, "no key before '='");
      *bad_line = line;
      return -1;
    }
    if (fn(k, v, ctx, why, cap)) {
      *bad_line = line;
      return -1;
    }
  }
  return 0;
}
