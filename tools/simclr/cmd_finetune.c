/* cmd_finetune.c: `simclr finetune`: fine-tunes a pretrained encoder with a new linear classifier on the labelled
 * subset (crop + flip only), as SimCLR's semi-supervised evaluation does, then reports train and test accuracy.
 * The work is sc_sup_run (cmd_supervised.c) started from the checkpoint's weights. */
#include "cli.h"
#include "train_util.h"

int sc_cmd_finetune(int argc, char **argv) {
  sc_sup_run_options o;
  int json = 0, rc = sc_sup_parse("finetune", 1, argc, argv, &o, &json);
  if (rc >= 0) return rc;
  sc_eval_result r;
  sc_status st = sc_sup_run(&o, &r);
  if (st != SC_OK) return sc_cli_fail("finetune", "fine-tuning", st);
  return sc_sup_report("finetune", &o, &r, json);
}
