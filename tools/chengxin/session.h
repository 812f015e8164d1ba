/*
 * session.h — query commands' access to a store: local (the store through the executor,
 * net/exec.h) or remote (chengxind through net/client.h). Requests and results are JSON values
 * in the protocol's shape (docs/protocol.md); both modes run the same op implementation, so
 * for the same role they print the same bytes.
 */
#ifndef CX_CLI_SESSION_H
#define CX_CLI_SESSION_H

#include <jansson.h>

#include "cli.h"
#include "exec.h"

typedef struct cli_sess {
  const char *cmd;             /* for messages */
  const char *db, *connect, *token_file;
  cx_day as_of;
  int as_of_set;
  cx_role role;                /* local mode (default admin: the user holds the files) */
  int force_scan;              /* aggregate: never use rollups (request field "scan") */
  int write;                   /* local: open the store writable (status changes) */
  cli_fmt fmt;
  const char *out;             /* --out FILE (NULL: standard output) */
  /* local: the executor's context over the store */
  cx_store *st;
  cx_query *q;
  cx_txn *t;
  int txn_live;
  cx_exec_env env;
  const char *who;             /* local:<user>, the writer of status changes */
  uint64_t next_id;
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
