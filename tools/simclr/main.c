/* main.c: the simclr command-line tool: finds the subcommand and runs it. Each subcommand lives in its own file
 * (cmd_<name>.c), parses its options with getopt_long, prints results on stdout and logs on stderr. */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"

static const sc_cli_command commands[] = {
    {"info", "show the CPU features, the kernels chosen and the thread count", sc_cmd_info},
    {"augment", "write a PNG grid of images and their two SimCLR views", sc_cmd_augment},
    {"pretrain", "SimCLR pretraining with checkpoints, metrics, kNN monitor and loss plot", sc_cmd_pretrain},
    {"probe", "linear evaluation: logistic regression on frozen features", sc_cmd_probe},
    {"finetune", "fine-tune a pretrained encoder with a new classifier on labelled images", sc_cmd_finetune},
    {"supervised", "train the same network from scratch on the labelled images (the baseline)", sc_cmd_supervised},
    {"demo", "Fashion-MNIST: pretraining, 1% linear probe and the two baselines, end to end", sc_cmd_demo},
    {"embed", "write one embedding per image (.npy) with a trained encoder", sc_cmd_embed},
    {"predict", "classify images with a checkpoint that has a classifier (top-k classes)", sc_cmd_predict},
    {"knn", "find an image's nearest neighbours in embedding space (PNG grid)", sc_cmd_knn},
    {"bench", "throughput of one configuration (train, infer, loss, loader, probe), with a step profile", sc_cmd_bench},
};
enum { NCOMMANDS = sizeof commands / sizeof commands[0] };

static void usage(FILE *f) {
  fprintf(f, "Usage: simclr <command> [options]\n\nSimCLR pretraining, evaluation and inference on CPUs.\n\n"
             "Commands:\n");
  for (int i = 0; i < NCOMMANDS; i++) fprintf(f, "  %-12s %s\n", commands[i].name, commands[i].summary);
  fprintf(f, "\nRun 'simclr <command> --help' for a command's options.\n"
             "Environment: SIMCLR_THREADS (default: all cores), SIMCLR_MAX_ISA=scalar|avx2|avx512|neon (cap on the "
             "kernels chosen).\n");
}

int sc_cli_fail(const char *cmd, const char *what, sc_status st) {
  const char *msg = sc_last_error();
  fprintf(stderr, "simclr %s: %s: %s\n", cmd, what, msg && *msg ? msg : sc_status_name(st));
  return st == SC_EINVAL ? SC_EXIT_USAGE : SC_EXIT_FAIL;
}

int sc_cli_usage_error(const char *cmd, const char *fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  fprintf(stderr, "simclr %s: ", cmd);
  vfprintf(stderr, fmt, ap);
  fprintf(stderr, "\nTry 'simclr %s --help'.\n", cmd);
  va_end(ap);
  return SC_EXIT_USAGE;
}

int sc_cli_common_init(const char *cmd) {
  sc_status st = sc_init();
  if (st != SC_OK) return sc_cli_fail(cmd, "environment", st);
  return -1;
}

int main(int argc, char **argv) {
  if (argc < 2) {
    usage(stderr);
    return SC_EXIT_USAGE;
  }
  if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
    usage(stdout);
    return SC_EXIT_OK;
  }
  if (!strcmp(argv[1], "--version")) {
    printf("simclr %s\n", SIMCLR_VERSION);
    return SC_EXIT_OK;
  }
  for (int i = 0; i < NCOMMANDS; i++)
    if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
  fprintf(stderr, "simclr: unknown command '%s'\n", argv[1]);
  usage(stderr);
  return SC_EXIT_USAGE;
}
