/*
 * session.h — query commands' access to a store: local (read-only store + query/) or remote
 * (chengxind through net/client.h). Requests and results are JSON values in the protocol's
 * shape (docs/protocol.md), so both modes print the same output.
 */
#ifndef CX_CLI_SESSION_H
#define CX_CLI_SESSION_H

#include <jansson.h>

#include "cli.h"

typedef struct cli_sess {
  const char *cmd;             /* for messages */
  const char *db, *connect, *token_file;
  cx_day as_of;
  int as_of_set;
  cx_role role;                /* local mode */
  int force_scan;              /* local aggregate: never use rollups */
  int write;                   /* local: open the store writable (status changes) */
  cli_fmt fmt;
  /* local */
  cx_store *st;
  cx_query *q;
  cx_txn *t;
  /* remote */
  void *client;                /* cx_client */
} cli_sess;

/** Opens the store or connects (and authenticates). 0, CLI_EXIT_FAIL or CLI_EXIT_USAGE. */
int cli_sess_open(cli_sess *s);
void cli_sess_close(cli_sess *s);
/**
 * Runs op with args (a JSON object; remote mode adds as_of when given). On success *result is
 * an owned JSON value (json_decref). On failure returns a negative CX_E* and a message in err.
 */
int cli_sess_call(cli_sess *s, const char *op, json_t *args, json_t **result, char *err, size_t cap);

#endif
