/* export.h — what `chengxin export` (export.c) and `chengxin restore` (restore.c) share: the
 * format's name and version, the record line, what makes an audit entry an "event" line. */
#ifndef CX_CLI_EXPORT_H
#define CX_CLI_EXPORT_H

#include <jansson.h>
#include <stdio.h>

#include "store.h"

#define CLI_EXPORT_FORMAT "chengxin-export"
#define CLI_EXPORT_VERSION 1

/** The "record" line of r (a new JSON object, owned by the caller). */
json_t *cli_export_record_json(const cx_record *r);
/** 1 when e is a lifecycle transition's audit entry (an "event" line). */
int cli_export_is_event(const cx_audit_entry *e);

/**
 * Writes to f a DuckDB script that loads the export at path (named in the script as given) into
 * typed tables: records, entities, authorities, events, audit, regions (export_sql.c).
 * 0, or CX_EIO when f failed.
 */
int cli_export_sql_write(FILE *f, const char *path);

#endif
