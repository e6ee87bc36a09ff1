/* cli.h: what the subcommands of the simclr tool share: the command table, and how a failure becomes one line
 * on stderr and an exit code (0 success, 1 failure while working, 2 bad usage). */
#ifndef SC_CLI_H
#define SC_CLI_H

#include "simclr.h"

enum { SC_EXIT_OK = 0, SC_EXIT_FAIL = 1, SC_EXIT_USAGE = 2 };

typedef struct sc_cli_command {
  const char *name;
  const char *summary;
  int (*run)(int argc, char **argv); /* argv[0] is the command name */
} sc_cli_command;

/* Prints "simclr <cmd>: <what>: <sc_last_error()>" and returns SC_EXIT_FAIL (or SC_EXIT_USAGE for SC_EINVAL). */
int sc_cli_fail(const char *cmd, const char *what, sc_status st);
/* Prints "simclr <cmd>: <message>" and "Try 'simclr <cmd> --help'." and returns SC_EXIT_USAGE. */
int sc_cli_usage_error(const char *cmd, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Applies --threads/--isa style settings shared by every command; returns an exit code or -1 to go on. */
int sc_cli_common_init(const char *cmd);

int sc_cmd_info(int argc, char **argv);
int sc_cmd_augment(int argc, char **argv);

#endif
