/* cli.h: what the subcommands of the simclr tool share: the command table, and how a failure becomes one line
 * on stderr and an exit code (0 success, 1 failure while working, 2 bad usage). */
#ifndef SC_CLI_H
#define SC_CLI_H

#include <stdint.h>

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

/* Option values (1 on success). */
int sc_parse_i64(const char *s, int64_t lo, int64_t hi, int64_t *out);
int sc_parse_f64(const char *s, double lo, double hi, double *out);
/* "a,b" with lo <= a <= b <= hi */
int sc_parse_pair(const char *s, double lo, double hi, double *a, double *b);
/* --threads: sets the engine's thread count; 1 on success */
int sc_parse_threads(const char *s);

int sc_cmd_info(int argc, char **argv);
int sc_cmd_augment(int argc, char **argv);
int sc_cmd_pretrain(int argc, char **argv);
int sc_cmd_probe(int argc, char **argv);
int sc_cmd_finetune(int argc, char **argv);
int sc_cmd_supervised(int argc, char **argv);
int sc_cmd_demo(int argc, char **argv);
int sc_cmd_embed(int argc, char **argv);
int sc_cmd_predict(int argc, char **argv);
int sc_cmd_knn(int argc, char **argv);
int sc_cmd_bench(int argc, char **argv);

#endif
