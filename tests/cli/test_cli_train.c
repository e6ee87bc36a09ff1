/* test_cli_train.c: the training commands of the `simclr` tool, run as a user runs them: the built binary (found
 * next to this test executable in the build folder) on tiny generated data, 32 PNGs of 16x16 in two class folders
 * (horizontal or vertical stripes with a random phase and noise). Covers --help of each command, bad arguments
 * (exit 2 with a message naming the option), missing files (exit 1 naming the file), a corrupt image under
 * --bad-files stop (exit 1 naming it) and skip (success), a tiny pretraining run and what it writes, divergence
 * (an absurd learning rate stops with a message and keeps a checkpoint that loads), exact resume after SIGKILL
 * (bit-identical tensors), and probe, supervised and finetune on the tiny data. Each run has a 120 s limit, so a
 * hang fails instead of blocking. */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "io/safetensors.h"
#include "test.h"
#include "testutil.h"
#include "train/checkpoint.h"
#include "data/image.h"
#include "train/plot.h"

typedef struct run_result {
  int exited, code, signaled, sig;
  char out[16384], err[16384];
} run_result;

static char tmp_root[256];

static const char *simclr_bin(void) {
  static char path[PATH_MAX + 16];
  if (path[0]) return path;
  char self[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
  SC_ASSERT(n > 0, "cannot read /proc/self/exe");
  self[n] = 0;
  char *slash = strrchr(self, '/');
  *slash = 0;
  snprintf(path, sizeof path, "%s/simclr", self);
  SC_ASSERT(access(path, X_OK) == 0, "%s not found: build the 'simclr' target before this test", path);
  return path;
}

static void slurp(const char *path, char *buf, size_t cap) {
  FILE *f = fopen(path, "rb");
  size_t n = f ? fread(buf, 1, cap - 1, f) : 0;
  buf[n] = 0;
  if (f) fclose(f);
}

/* runs simclr with args (NULL-terminated), stdout and stderr captured */
static void run(run_result *r, const char *const *args) {
  memset(r, 0, sizeof *r);
  char outp[512], errp[512];
  snprintf(outp, sizeof outp, "%s/stdout", tmp_root);
  snprintf(errp, sizeof errp, "%s/stderr", tmp_root);
  const char *argv[64] = {simclr_bin()};
  int n = 1;
  for (; args[n - 1]; n++) argv[n] = args[n - 1];
  argv[n] = NULL;
  pid_t pid = fork();
  SC_ASSERT(pid >= 0, "fork failed");
  if (pid == 0) {
    int o = open(outp, O_WRONLY | O_CREAT | O_TRUNC, 0644), e = open(errp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    dup2(o, 1), dup2(e, 2);
    execv(argv[0], (char *const *)argv);
    _exit(127);
  }
  int status = 0;
  for (int waited = 0;; waited++) {
    pid_t w = waitpid(pid, &status, WNOHANG);
    if (w == pid) break;
    if (waited > 120 * 20) {
      kill(pid, SIGKILL);
      waitpid(pid, &status, 0);
      SC_ASSERT(0, "simclr %s %s ... did not finish in 120 s", args[0], args[1] ? args[1] : "");
    }
    usleep(50000);
  }
  r->exited = WIFEXITED(status), r->code = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  r->signaled = WIFSIGNALED(status), r->sig = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
  slurp(outp, r->out, sizeof r->out);
  slurp(errp, r->err, sizeof r->err);
}

#define RUN(r, ...)                                          \
  do {                                                       \
    const char *const args_[] = {__VA_ARGS__, NULL};         \
    run(r, args_);                                           \
  } while (0)

static void setup_root(void) {
  if (tmp_root[0]) return;
  snprintf(tmp_root, sizeof tmp_root, "/tmp/sc_cli_train_XXXXXX");
  SC_ASSERT(mkdtemp(tmp_root) != NULL, "mkdtemp: %s", strerror(errno));
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw) {
  (void)sb, (void)flag, (void)ftw;
  return remove(path);
}

/* removes this test's folder (a failing test leaves it for inspection) */
static void cleanup(void) {
  if (tmp_root[0]) nftw(tmp_root, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

static char data_dir[512];

/* 2 classes x 16 images of 16x16 RGB: stripes across (class 0) or down (class 1), random phase, pixel noise */
static const char *make_data(void) {
  setup_root();
  snprintf(data_dir, sizeof data_dir, "%s/data", tmp_root);
  mkdir(data_dir, 0755);
  sc_test_rng r = {2024};
  uint8_t px[16 * 16 * 3];
  for (int c = 0; c < 2; c++) {
    char dir[600];
    snprintf(dir, sizeof dir, "%s/%s", data_dir, c ? "down" : "across");
    mkdir(dir, 0755);
    for (int i = 0; i < 16; i++) {
      int phase = (int)sc_test_int(&r, 0, 3);
      for (int y = 0; y < 16; y++)
        for (int x = 0; x < 16; x++)
          for (int ch = 0; ch < 3; ch++) {
            int on = (((c ? x : y) + phase) / 2) % 2;
            px[(y * 16 + x) * 3 + ch] = (uint8_t)(on * 180 + sc_test_int(&r, 0, 60));
          }
      char path[700];
      snprintf(path, sizeof path, "%s/img%02d.png", dir, i);
      SC_ASSERT(sc_png_write(path, px, 16, 16, 3) == SC_OK, "writing %s: %s", path, sc_last_error());
    }
  }
  return data_dir;
}

static void run_dir(char *buf, size_t n, const char *name) {
  setup_root();
  snprintf(buf, n, "%s/%s", tmp_root, name);
}

/* a tiny pretraining run: 32 images, batch 8 (4 steps per epoch) */
#define TINY_PRETRAIN(run_folder, steps)                                                                          \
  "pretrain", "--data", make_data(), "--out", run_folder, "--width", "0.25", "--batch", "8", "--steps", steps,       \
      "--threads", "1", "--seed", "5", "--knn-bank", "24", "--knn-queries", "8", "--knn-k", "5", "--quiet"

static void assert_loads(const char *ckpt) {
  sc_model *m = NULL;
  SC_ASSERT(sc_checkpoint_load_model(ckpt, NULL, &m) == SC_OK, "%s does not load: %s", ckpt, sc_last_error());
  size_t n;
  const float *p = sc_model_params(m, &n);
  for (size_t i = 0; i < n; i++) SC_ASSERT(isfinite(p[i]), "%s: parameter %zu is %g", ckpt, i, p[i]);
  sc_model_free(m);
}

static int count_lines(const char *path, const char *needle) {
  FILE *f = fopen(path, "r");
  SC_ASSERT(f, "%s missing", path);
  char line[4096];
  int n = 0;
  while (fgets(line, sizeof line, f)) n += strstr(line, needle) != NULL;
  fclose(f);
  return n;
}

SC_TEST(cli_train, help_of_each_command) {
  static const char *const cmds[] = {"pretrain", "probe", "finetune", "supervised", "demo"};
  run_result r;
  setup_root();
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++) {
    RUN(&r, cmds[i], "--help");
    char want[64];
    snprintf(want, sizeof want, "Usage: simclr %s", cmds[i]);
    SC_ASSERT(r.exited && r.code == 0, "simclr %s --help: exit %d, stderr: %s", cmds[i], r.code, r.err);
    SC_ASSERT(strstr(r.out, want) != NULL, "simclr %s --help does not start with '%s': %.200s", cmds[i], want, r.out);
  }
  RUN(&r, "--help");
  for (size_t i = 0; i < sizeof cmds / sizeof cmds[0]; i++)
    SC_ASSERT(strstr(r.out, cmds[i]) != NULL, "simclr --help does not list %s", cmds[i]);
  cleanup();
}

SC_TEST(cli_train, bad_arguments_exit_2_with_a_message) {
  static const struct {
    const char *args[8];
    const char *needle;
  } cases[] = {
      {{"pretrain", NULL}, "--out"},
      {{"pretrain", "--out", "/tmp/x", "--batch", "0", NULL}, "--batch"},
      {{"pretrain", "--out", "/tmp/x", "--lr-rule", "cubic", NULL}, "--lr-rule"},
      {{"pretrain", "--out", "/tmp/x", "--crop-scale", "0.9,0.2", NULL}, "--crop-scale"},
      {{"pretrain", "--out", "/tmp/x", "--optimizer", "adam", NULL}, "--optimizer"},
      {{"pretrain", "--out", "/tmp/x", "--bogus", NULL}, "unrecognized option"},
      {{"pretrain", "--out", "/tmp/x", "extra", NULL}, "extra"},
      {{"probe", NULL}, "--ckpt"},
      {{"probe", "--ckpt", "a", "--label-fraction", "2", NULL}, "--label-fraction"},
      {{"probe", "--ckpt", "a", "--label-fraction", "0.1", "--labels", "f", NULL}, "exclude"},
      {{"probe", "--ckpt", "a", "--l2", "strong", NULL}, "--l2"},
      {{"probe", "--ckpt", "a", "--layers", "5", NULL}, "--layers"},
      {{"probe", "--ckpt", "a", "--layers", "3,3", NULL}, "--layers"},
      {{"probe", "--ckpt", "a", "--layers", "3,", NULL}, "--layers"},
      {{"probe", "--ckpt", "a", "--grid", "0", NULL}, "--grid"},
      {{"probe", "--ckpt", "a", "--grid", "17", NULL}, "--grid"},
      {{"finetune", "--label-fraction", "0.1", NULL}, "--ckpt"},
      {{"supervised", "--width", "0.3", NULL}, "--width"},
      {{"supervised", "--ckpt", "x", NULL}, "finetune"},
      {{"demo", "--minutes", "abc", NULL}, "--minutes"},
  };
  run_result r;
  setup_root();
  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
    run(&r, cases[i].args);
    SC_ASSERT(r.exited && r.code == 2, "simclr %s %s %s: exit %d (want 2), stderr: %s", cases[i].args[0],
              cases[i].args[1] ? cases[i].args[1] : "", cases[i].args[1] && cases[i].args[2] ? cases[i].args[2] : "",
              r.code, r.err);
    SC_ASSERT(strstr(r.err, cases[i].needle) != NULL, "simclr %s ...: stderr does not mention '%s': %s",
              cases[i].args[0], cases[i].needle, r.err);
    SC_ASSERT(r.out[0] == 0, "simclr %s ...: a usage error printed on stdout: %s", cases[i].args[0], r.out);
  }
  cleanup();
}

SC_TEST(cli_train, missing_files_fail_naming_them) {
  run_result r;
  char out[PATH_MAX];
  run_dir(out, sizeof out, "missing");
  RUN(&r, "pretrain", "--data", "/nonexistent/images", "--out", out);
  SC_ASSERT(r.exited && r.code == 1, "pretrain on a missing folder: exit %d, stderr %s", r.code, r.err);
  SC_ASSERT(strstr(r.err, "/nonexistent/images"), "the message does not name the folder: %s", r.err);
  RUN(&r, "probe", "--ckpt", "/nonexistent/ckpt.safetensors", "--data", make_data());
  SC_ASSERT(r.exited && r.code == 1, "probe with a missing checkpoint: exit %d, stderr %s", r.code, r.err);
  SC_ASSERT(strstr(r.err, "/nonexistent/ckpt.safetensors"), "the message does not name the file: %s", r.err);
  RUN(&r, "pretrain", "--out", out, "--resume");
  SC_ASSERT(r.exited && r.code == 1 && strstr(r.err, "checkpoint.safetensors"),
            "--resume without a checkpoint: exit %d, stderr %s", r.code, r.err);
  cleanup();
}

SC_TEST(cli_train, tiny_pretrain_writes_its_run_folder) {
  char out[PATH_MAX], path[PATH_MAX + 64];
  run_dir(out, sizeof out, "tiny");
  run_result r;
  RUN(&r, TINY_PRETRAIN(out, "6"), "--json");
  SC_ASSERT(r.exited && r.code == 0, "tiny pretrain: exit %d, stderr %s", r.code, r.err);
  SC_ASSERT(strstr(r.out, "\"steps\":6") && strstr(r.out, "\"knn_acc\":0."), "--json output: %s", r.out);
  snprintf(path, sizeof path, "%s/checkpoint.safetensors", out);
  assert_loads(path);
  snprintf(path, sizeof path, "%s/metrics.jsonl", out);
  SC_ASSERT(count_lines(path, "\"type\":\"step\"") == 6, "%s: want 6 step lines", path);
  /* 6 steps of 4 per epoch: one full epoch and the end of the run get a kNN evaluation */
  SC_ASSERT(count_lines(path, "\"type\":\"epoch\"") == 2, "%s: want 2 epoch lines", path);
  snprintf(path, sizeof path, "%s/loss.png", out);
  char png[9] = {0};
  FILE *f = fopen(path, "rb");
  SC_ASSERT(f && fread(png, 1, 8, f) == 8, "%s missing or short", path);
  fclose(f);
  SC_ASSERT(memcmp(png, "\x89PNG\r\n\x1a\n", 8) == 0, "%s is not a PNG", path);
  /* the same folder again without --resume is refused, and the checkpoint is untouched */
  RUN(&r, TINY_PRETRAIN(out, "6"));
  SC_ASSERT(r.exited && r.code == 2 && strstr(r.err, "--resume"), "rerun into a used folder: exit %d, stderr %s",
            r.code, r.err);
  cleanup();
}

SC_TEST(cli_train, divergence_stops_and_keeps_a_good_checkpoint) {
  char out[PATH_MAX], path[PATH_MAX + 64];
  run_dir(out, sizeof out, "diverge");
  run_result r;
  RUN(&r, TINY_PRETRAIN(out, "8"), "--optimizer", "sgd", "--lr", "1e30", "--warmup-epochs", "0", "--ckpt-every",
      "1");
  SC_ASSERT(r.exited && r.code == 1, "lr 1e30: exit %d (want 1), stderr %s", r.code, r.err);
  SC_ASSERT(strstr(r.err, "diverged"), "no divergence message: %s", r.err);
  snprintf(path, sizeof path, "%s/checkpoint.safetensors", out);
  assert_loads(path);
  snprintf(path, sizeof path, "%s/metrics.jsonl", out);
  SC_ASSERT(count_lines(path, "\"type\":\"diverged\"") == 1, "%s: no diverged line", path);
  cleanup();
}

static void compare_tensors(const char *a, const char *b) {
  sc_st_file *fa, *fb;
  SC_ASSERT(sc_st_read(a, 0, &fa) == SC_OK, "%s: %s", a, sc_last_error());
  SC_ASSERT(sc_st_read(b, 0, &fb) == SC_OK, "%s: %s", b, sc_last_error());
  SC_ASSERT(fa->ntensors == fb->ntensors && fa->ntensors > 10, "%zu vs %zu tensors", fa->ntensors, fb->ntensors);
  for (size_t i = 0; i < fa->ntensors; i++) {
    const sc_st_tensor *ta = &fa->tensors[i], *tb = sc_st_find(fb, ta->name);
    SC_ASSERT(tb && tb->end - tb->begin == ta->end - ta->begin, "tensor %s missing or resized after resume", ta->name);
    SC_ASSERT(memcmp(sc_st_data(fa, ta), sc_st_data(fb, tb), ta->end - ta->begin) == 0,
              "tensor %s differs between the straight run (%s) and the killed-and-resumed one (%s)", ta->name, a, b);
  }
  SC_ASSERT(!strcmp(sc_st_meta(fa, "simclr.step"), sc_st_meta(fb, "simclr.step")), "steps differ");
  sc_st_free(fa), sc_st_free(fb);
}

SC_TEST(cli_train, resume_after_sigkill_is_bit_identical) {
  char a[PATH_MAX], b[PATH_MAX], pa[PATH_MAX + 64], pb[PATH_MAX + 64];
  run_dir(a, sizeof a, "straight");
  run_dir(b, sizeof b, "killed");
  run_result r;
  /* 10 steps, 4 per epoch; the kill at step 5 falls mid-epoch, so the loader must restart at batch 1 of epoch 1 */
  RUN(&r, TINY_PRETRAIN(a, "10"));
  SC_ASSERT(r.exited && r.code == 0, "straight run: exit %d, stderr %s", r.code, r.err);
  RUN(&r, TINY_PRETRAIN(b, "10"), "--kill-after-steps", "5");
  SC_ASSERT(r.signaled && r.sig == SIGKILL, "the run was not killed at step 5 (exited %d code %d)", r.exited, r.code);
  snprintf(pb, sizeof pb, "%s/checkpoint.safetensors", b);
  sc_st_file *f;
  SC_ASSERT(sc_st_read(pb, 0, &f) == SC_OK, "%s after the kill: %s", pb, sc_last_error());
  SC_ASSERT(!strcmp(sc_st_meta(f, "simclr.step"), "5"), "checkpoint at step %s, want 5", sc_st_meta(f, "simclr.step"));
  sc_st_free(f);
  RUN(&r, "pretrain", "--out", b, "--resume", "--threads", "1", "--quiet");
  SC_ASSERT(r.exited && r.code == 0, "resume: exit %d, stderr %s", r.code, r.err);
  snprintf(pa, sizeof pa, "%s/checkpoint.safetensors", a);
  compare_tensors(pa, pb);
  /* the log holds each step once: the lines past the checkpoint were dropped before the resumed run logged them */
  snprintf(pb, sizeof pb, "%s/metrics.jsonl", b);
  SC_ASSERT(count_lines(pb, "\"type\":\"step\"") == 10, "%s: want 10 step lines", pb);
  cleanup();
}

static double json_field(const char *json, const char *key) {
  char k[64];
  snprintf(k, sizeof k, "\"%s\":", key);
  const char *p = strstr(json, k);
  SC_ASSERT(p, "no %s in %s", key, json);
  return strtod(p + strlen(k), NULL);
}

SC_TEST(cli_train, probe_supervised_and_finetune_on_tiny_data) {
  char out[PATH_MAX], ckpt[PATH_MAX + 64], sup[PATH_MAX + 64];
  run_dir(out, sizeof out, "eval");
  run_result r;
  RUN(&r, TINY_PRETRAIN(out, "4"));
  SC_ASSERT(r.exited && r.code == 0, "pretrain: exit %d, stderr %s", r.code, r.err);
  snprintf(ckpt, sizeof ckpt, "%s/checkpoint.safetensors", out);

  RUN(&r, "probe", "--ckpt", ckpt, "--data", make_data(), "--label-fraction", "0.5", "--l2", "1e-3", "--json",
      "--quiet");
  SC_ASSERT(r.exited && r.code == 0, "probe: exit %d, stderr %s", r.code, r.err);
  SC_ASSERT(json_field(r.out, "n_train") == 16 && json_field(r.out, "n_test") == 16,
            "half of each class trains, the other half is held out: %s", r.out);
  /* 16 feature vectors of width 128 are linearly separable, and the L2 penalty is small: the fit is perfect */
  SC_ASSERT(json_field(r.out, "train_top1") == 1.0, "probe train accuracy: %s", r.out);
  double te = json_field(r.out, "test_top1");
  SC_ASSERT(te >= 0 && te <= 1, "probe test accuracy: %s", r.out);
  /* no --l2: chosen by cross-validation from the grid 1e-4 .. 0.3, with its held-out accuracy */
  RUN(&r, "probe", "--ckpt", ckpt, "--data", make_data(), "--label-fraction", "0.5", "--json", "--quiet");
  SC_ASSERT(r.exited && r.code == 0, "probe (l2 auto): exit %d, stderr %s", r.code, r.err);
  const double l2 = json_field(r.out, "l2"), cv = json_field(r.out, "cv_top1");
  SC_ASSERT(l2 >= 1e-4 && l2 <= 0.3 && cv > 0 && cv <= 1, "probe l2 %g, cross-validated top-1 %g: %s", l2, cv, r.out);

  /* features from the maps of stages 2 and 4 of the 16 px images (8x8x32 and 2x2x128 with the CIFAR stem): the
   * first pooled onto 3x3 cells, the second keeps its 2x2, so 9*32 + 4*128 = 800 features */
  RUN(&r, "probe", "--ckpt", ckpt, "--data", make_data(), "--label-fraction", "0.5", "--l2", "1e-3", "--layers", "4,2",
      "--grid", "3", "--json", "--quiet");
  SC_ASSERT(r.exited && r.code == 0, "probe --layers 4,2 --grid 3: exit %d, stderr %s", r.code, r.err);
  SC_ASSERT(json_field(r.out, "feature_dim") == 800 && strstr(r.out, "\"layers\":\"2,4\""),
            "probe on stage maps: %s", r.out);
  SC_ASSERT(json_field(r.out, "train_top1") == 1.0, "probe on stage maps, train accuracy: %s", r.out);

  snprintf(sup, sizeof sup, "%s/supervised.safetensors", out);
  RUN(&r, "supervised", "--data", make_data(), "--label-fraction", "0.5", "--width", "0.25", "--epochs", "30",
      "--batch", "8", "--threads", "1", "--out", sup, "--json", "--quiet");
  SC_ASSERT(r.exited && r.code == 0, "supervised: exit %d, stderr %s", r.code, r.err);
  SC_ASSERT(json_field(r.out, "n_train") == 16, "supervised: %s", r.out);
  /* stripe orientation is a rule a small ResNet learns within 60 steps (its loss ends near 0.01); evaluated with
   * BN in inference mode, the 16 held-out images must then be classified almost all right: at most one mistake */
  SC_ASSERT(json_field(r.out, "test_top1") >= 15.0 / 16, "supervised from scratch on stripes, seed 0: %s", r.out);
  sc_model *m = NULL;
  SC_ASSERT(sc_checkpoint_load_model(sup, NULL, &m) == SC_OK, "%s: %s", sup, sc_last_error());
  SC_ASSERT(sc_model_config_of(m)->classes == 2, "%s has %d classes", sup, sc_model_config_of(m)->classes);
  sc_model_free(m);

  RUN(&r, "finetune", "--ckpt", ckpt, "--data", make_data(), "--label-fraction", "0.5", "--epochs", "2", "--batch",
      "8", "--threads", "1", "--json", "--quiet");
  SC_ASSERT(r.exited && r.code == 0, "finetune: exit %d, stderr %s", r.code, r.err);
  double t1 = json_field(r.out, "test_top1");
  SC_ASSERT(t1 >= 0 && t1 <= 1, "finetune: %s", r.out);
  cleanup();
}

SC_TEST(cli_train, bad_files_stop_or_skip) {
  char out[PATH_MAX], bad[700];
  const char *data = make_data();
  snprintf(bad, sizeof bad, "%s/across/broken.png", data);
  FILE *f = fopen(bad, "wb");
  SC_ASSERT(f, "cannot write %s", bad);
  fputs("\x89PNG\r\n\x1a\n this is not an image", f);
  fclose(f);
  run_result r;
  run_dir(out, sizeof out, "badstop");
  RUN(&r, TINY_PRETRAIN(out, "2"));
  SC_ASSERT(r.exited && r.code == 1 && strstr(r.err, "broken.png"),
            "a corrupt PNG under --bad-files stop: exit %d, stderr %s", r.code, r.err);
  run_dir(out, sizeof out, "badskip");
  RUN(&r, TINY_PRETRAIN(out, "2"), "--bad-files", "skip");
  SC_ASSERT(r.exited && r.code == 0, "a corrupt PNG under --bad-files skip: exit %d, stderr %s", r.code, r.err);
  cleanup();
}
