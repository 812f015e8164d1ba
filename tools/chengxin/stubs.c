#include "cli.h"
int cli_cmd_status(int argc, char **argv) { (void)argc; (void)argv; return 1; }
int cli_cmd_records(int argc, char **argv) { (void)argc; (void)argv; return 1; }
int cli_cmd_check(int argc, char **argv) { (void)argc; (void)argv; return 1; }
int cli_cmd_search(int argc, char **argv) { (void)argc; (void)argv; return 1; }
int cli_cmd_agg(int argc, char **argv) { (void)argc; (void)argv; return 1; }
