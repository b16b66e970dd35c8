/* train.h - training the model zoo: optimizers, schedules, the CE training
 * loop with PGD adversarial training, quantization-aware training and
 * magnitude pruning, and zoo files (see common/train/README.md). */
#ifndef ROVE_COMMON_TRAIN_TRAIN_H
#define ROVE_COMMON_TRAIN_TRAIN_H

#include <stdint.h>
#include <stdio.h>

#include "common/data.h"
#include "common/ini.h"
#include "common/model.h"
#include "common/normalize.h"

enum rove_train_arch {
  ROVE_TRAIN_ARCH_SMALLCNN = 0,
  ROVE_TRAIN_ARCH_MLP,
  ROVE_TRAIN_ARCH_RESCNN
};
enum rove_train_variant {
  ROVE_TRAIN_STANDARD = 0,
  ROVE_TRAIN_PGD, /* PGD adversarial training (Madry et al. 2018) */
  ROVE_TRAIN_QAT  /* quantization-aware training */
};
enum rove_train_opt { ROVE_TRAIN_SGD = 0, ROVE_TRAIN_ADAM };
enum rove_train_sched {
  ROVE_TRAIN_CONST = 0,
  ROVE_TRAIN_COSINE,
  ROVE_TRAIN_STEP
};

#define ROVE_TRAIN_MAX_HIDDEN 8

/* Everything that determines a trained model: one [model NAME] section of
 * a zoo file (with the [zoo] defaults applied) or the flags of `rove train`.
 * Plain data; two specs with the same fingerprint train bit-identical
 * models on the same machine. */
typedef struct rove_train_spec {
  char name[64];
  int line; /* line of the section in the zoo file (0: from flags) */
  int arch; /* enum rove_train_arch */
  double width;
  int hidden[ROVE_TRAIN_MAX_HIDDEN];
  int n_hidden;
  int variant; /* enum rove_train_variant */
  int epochs, batch;
  int opt; /* enum rove_train_opt */
  double lr, momentum, wd, beta1, beta2;
  int sched; /* enum rove_train_sched */
  double gamma;
  int step_epochs;
  /* PGD adversarial training: L-inf radius, steps, step size (0: 2.5 *
   * eps / steps) */
  double eps, step;
  int steps;
  /* QAT: weight and activation bits (8, 4 or 2; 0 = float) and the
   * fraction of the training steps run with quantization (the float
   * phase before it gives the calibration meaningful ranges). */
  int wbits, abits;
  double qat_frac;
  /* Magnitude pruning: fraction of each layer's weights set to zero at
   * step prune_at * total, kept zero afterwards (0: off). */
  double prune, prune_at;
  /* Multiplies the final layer by this after training (1: off). A large
   * scale gives the saturated-logit model of the paper's case 1 (the
   * same effect as defensive distillation's temperature). */
  double logit_scale;
  uint64_t seed;
  char data[256], test[256]; /* dataset specs (common/DATA.md) */
  long n_train, n_test;      /* first n examples only (0: all) */
  rove_norm norm; /* mean/std folded in front of the network (none: 0) */
} rove_train_spec;

/* Every key a [model] section (or the [zoo] defaults) may set, NULL
 * terminated; `rove train` takes each as a flag too (dashes for
 * underscores). */
#define ROVE_ZOO_N_MODEL_KEYS 32
extern const char *const rove_zoo_model_keys[ROVE_ZOO_N_MODEL_KEYS + 1];

/* The defaults a zoo file starts from. */
void rove_train_spec_default(rove_train_spec *s);
/* A canonical one-line text of every field that changes the trained
 * model (not the name): the log records it, and a model is retrained
 * only when it changes. */
void rove_train_fingerprint(const rove_train_spec *s, char *buf, size_t cap);
const char *rove_train_arch_name(int arch);
const char *rove_train_variant_name(int variant);

/* A zoo file: [zoo] defaults (every model key, plus `output`) and one
 * [model NAME] section per model. */
typedef struct rove_zoo {
  rove_ini ini;
  char output[512]; /* output directory ("" when the file names none) */
  rove_train_spec *models;
  int n_models;
} rove_zoo;

/* Parses a zoo file; `z` is uninitialised on entry and left deinitialised
 * on error. Errors name the file, the line and the key (unknown arch, bad
 * bit width, negative eps, misspelt keys, ...). */
int rove_zoo_load(rove_zoo *z, const char *path);
int rove_zoo_load_string(rove_zoo *z, const char *text, const char *what);
void rove_zoo_deinit(rove_zoo *z);

/* Builds the untrained float model of a spec (seeded weights) for inputs
 * of shape `in` (NULL: 1x28x28) and n_classes outputs (< 2: 10); `m` is
 * uninitialised on entry, finalized on success, deinitialised on error.
 * rove_train_run takes both from the training set (at least 10 classes,
 * so a slice that lacks a label still builds the same network). */
int rove_train_build(rove_model *m, const rove_train_spec *s,
                     const rove_shape *in, int n_classes);

/* ---- optimizer ------------------------------------------------------ */

/* A run of trainable parameters: offset in m->params, length, and
 * whether weight decay applies (conv/linear weights; not biases). */
typedef struct rove_optim_seg {
  size_t off, len;
  int decay;
} rove_optim_seg;

/* SGD with momentum (PyTorch's form: v = mu v + g + wd w; w -= lr v) or
 * Adam with decoupled weight decay (AdamW). State is kept per trainable
 * float in segment order, so it carries over to a model that gained
 * parameter-free or non-trainable nodes (QAT's fake-quant nodes). */
typedef struct rove_optim {
  int opt;
  double momentum, wd, beta1, beta2;
  rove_optim_seg *segs;
  int n_segs;
  size_t n; /* trainable floats */
  float *m1, *m2;
  unsigned char *mask; /* n, or NULL: 0 = pruned (kept at zero) */
  long t;              /* steps taken */
} rove_optim;

int rove_optim_init(rove_optim *o, const rove_model *m,
                    const rove_train_spec *s);
void rove_optim_deinit(rove_optim *o);
/* Re-reads the segment offsets from `m`, which must have the same
 * trainable segments in the same order (ROVE_ESHAPE otherwise). */
int rove_optim_rebind(rove_optim *o, const rove_model *m);
/* One update of params (m->n_params floats) from grads at rate lr. */
void rove_optim_step(rove_optim *o, float *params, const float *grads,
                     double lr);
/* Zeroes the fraction `frac` of smallest-magnitude weights of every
 * decayed segment (ties broken by position) and keeps them zero from now
 * on. */
int rove_optim_prune(rove_optim *o, float *params, double frac);

/* Learning rate at global step t of T (epoch `epoch`). */
double rove_train_lr(const rove_train_spec *s, long t, long T, int epoch);

/* ---- losses and quantization ---------------------------------------- */

/* Mean cross-entropy (computed in double) of B rows of K logits, and if
 * dz != NULL its gradient (softmax - onehot) / B. Returns the mean loss;
 * *correct (if non-NULL) gets the number of rows whose first argmax is y. */
double rove_train_ce(const float *z, const int32_t *y, int B, int K, float *dz,
                     int *correct);

/* Symmetric per-output-channel weight quantization of conv and linear
 * weights at `bits` (8, 4, 2: integer levels -Q..Q with Q = 2^(bits-1)-1):
 * per channel s = max|w| / Q at 8 bits, and for fewer bits the s = c / Q
 * (c a fraction k/40 of max|w|, k = 4..40) with the least squared error;
 * q = clamp(rint(w / s), -Q, Q), and
 * dst = (float)q * s, exactly what ONNX DequantizeLinear computes from the
 * int8 q and s. Other parameters are copied. src and dst hold m->n_params
 * floats and may be the same. */
void rove_qat_quantize_weights(const rove_model *m, const float *src,
                               float *dst, int bits);

/* Chooses clipping ranges for the activations QAT quantizes (the outputs
 * of ReLU nodes) on the first n examples of x: for each, the range that
 * minimises the squared quantization error of `bits`-bit unsigned levels
 * over a histogram of the observed values. scale[i] (per node of m,
 * m->n_nodes floats) gets range / (2^bits - 1) for ReLU nodes, 0
 * elsewhere. */
int rove_qat_calibrate(const rove_model *m, const float *x, int n, int bits,
                       float *scale);

/* ---- the training loop ---------------------------------------------- */

typedef struct rove_train_result {
  double seconds;
  double first_loss, last_loss; /* mean of the first / last epoch */
  double train_acc, test_acc;   /* train: on the examples seen in the last
                                   epoch, as trained (clean or PGD) */
  double median_margin; /* median clean top-logit margin on the test set */
  long steps;
  int epochs;
} rove_train_result;

/* Trains the model of `s` on `train` and evaluates it on `test` (may be
 * NULL). `m` is uninitialised on entry; on success it is the finalized
 * deployed model (QAT: with fake-quant nodes and quantized weights;
 * logit_scale folded in) and the caller frees it; on error it is left
 * deinitialised. Progress lines go to `log` (may be NULL). Deterministic:
 * the same spec and data give bit-identical weights on the same machine. */
int rove_train_run(const rove_train_spec *s, const rove_dataset *train,
                   const rove_dataset *test, rove_model *m,
                   rove_train_result *res, FILE *log);

/* Clean accuracy of m on the first n examples of d (n <= 0: all) and,
 * if median_margin != NULL, the median clean margin. */
int rove_train_accuracy(const rove_model *m, const rove_dataset *d, long n,
                        double *acc, double *median_margin);

/* One timed unit of work for benchmarks: a training step (forward,
 * backward with parameter gradients, SGD update) on a batch. */
typedef struct rove_trainer {
  rove_model *m; /* borrowed; its params are updated */
  rove_exec e;
  rove_optim o;
  int bmax;
  float *grads, *dz;
} rove_trainer;

int rove_trainer_init(rove_trainer *t, rove_model *m, const rove_train_spec *s,
                      int bmax);
void rove_trainer_deinit(rove_trainer *t);
/* One step on B examples; returns the mean loss in *loss. */
void rove_trainer_step(rove_trainer *t, int B, const float *x, const int32_t *y,
                       double lr, double *loss);

#endif
