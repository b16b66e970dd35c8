/* energy_result.h - one energy measurement (a model on a board): its
 * fields, scopes, statuses and flags, its canonical encoding (the protocol
 * and the journal carry the same bytes), and a table of results. */
#ifndef ROVE_COMMON_ENERGY_RESULT_H
#define ROVE_COMMON_ENERGY_RESULT_H

#include <stddef.h>
#include <stdint.h>

#include "common/wire.h"

/* ---- Results --------------------------------------------------------- */
enum rove_energy_scope {
  ROVE_SCOPE_UNKNOWN = 0,
  ROVE_SCOPE_BOARD_INPUT = 1,  /* the whole board (VDD_IN, POM_5V_IN, VIN) */
  ROVE_SCOPE_MODULE_RAILS = 2, /* sum of module rails: not the whole board */
  ROVE_SCOPE_CPU_PACKAGE = 3,  /* RAPL package/dram */
  ROVE_SCOPE_EXTERNAL = 4,     /* an external meter */
  ROVE_SCOPE_SENSOR = 5,       /* a generic hwmon sensor of unknown scope */
  ROVE_SCOPE_ESTIMATE = 6      /* analytical: never a measurement */
};
const char *rove_energy_scope_name(int scope);

enum rove_energy_status {
  ROVE_ER_OK = 0,
  ROVE_ER_UNMEASURABLE = 1, /* no readable sensor: reason says why */
  ROVE_ER_FAILED = 2        /* the model could not be run: reason says why */
};
const char *rove_energy_status_name(int status);

/* Named validity flags. The ones in ROVE_EF_INVALIDATING make `valid`
 * false; the others are information. */
#define ROVE_EF_IDLE_DRIFT (1u << 0)     /* idle before/after differ > 10 % */
#define ROVE_EF_FEW_SAMPLES (1u << 1)    /* < 10 samples in some window */
#define ROVE_EF_SHORT_WINDOW (1u << 2)   /* window < 10 sensor updates */
#define ROVE_EF_HIGH_CV (1u << 3)        /* trial CV > 5 % */
#define ROVE_EF_JITTER (1u << 4)         /* sampling jitter > 20 % of period */
#define ROVE_EF_NOT_ABOVE_IDLE (1u << 5) /* active power <= idle power */
#define ROVE_EF_FEW_TRIALS (1u << 6)     /* < 3 trials: no useful CI */
#define ROVE_EF_ESTIMATE (1u << 7)       /* analytical estimate */
#define ROVE_EF_QUICK (1u << 8)          /* --quick protocol */
#define ROVE_EF_COUNTER_WRAP (1u << 9)   /* a counter wrapped (handled) */
#define ROVE_EF_STUCK (1u << 10)         /* the sensor's value never moved */
#define ROVE_EF_COUNTER_RESET                                                  \
  (1u << 11) /* counter went back, range unknown                               \
              */
#define ROVE_EF_COUNT_ 12
#define ROVE_EF_INVALIDATING                                                   \
  (ROVE_EF_IDLE_DRIFT | ROVE_EF_FEW_SAMPLES | ROVE_EF_SHORT_WINDOW |           \
   ROVE_EF_HIGH_CV | ROVE_EF_JITTER | ROVE_EF_NOT_ABOVE_IDLE | ROVE_EF_STUCK | \
   ROVE_EF_COUNTER_RESET)
const char *rove_energy_flag_name(unsigned bit_index);
/* Writes the set flags' names joined by '|' ("" when none). */
void rove_energy_flags_str(uint32_t flags, char *buf, size_t cap);

#define ROVE_ER_MAX_TRIALS 32
typedef struct rove_energy_result {
  uint64_t request_id; /* rove_ep_request_id(model_hash, board) */
  unsigned char model_hash[32];
  char model_name[128];
  char board[64];
  char agent_id[64];
  char sensor[128];
  char input_set[64];
  int32_t scope;  /* enum rove_energy_scope */
  int32_t status; /* enum rove_energy_status */
  char reason[256];
  uint32_t flags;
  uint32_t batch;
  uint32_t n_trials;
  /* per-trial energy per inference, total (idle included), joules */
  double trial_j[ROVE_ER_MAX_TRIALS];
  double energy_j;         /* median over trials, total per inference */
  double energy_dyn_j;     /* median, idle power subtracted */
  double ci_lo_j, ci_hi_j; /* 95 % CI (Student t) of the mean total */
  double cv;               /* std / mean over trials */
  double power_w;          /* average during the windows */
  double idle_power_w;     /* mean of idle before and after */
  double idle_before_w, idle_after_w;
  double latency_p50_s, latency_p99_s; /* per batch */
  uint64_t n_inferences;               /* examples run inside the windows */
  uint64_t n_samples;                  /* sensor samples inside the windows */
  double sample_period_s;              /* measured mean interval */
  double jitter_s;                     /* std of the sample interval */
} rove_energy_result;

/* 1 when status is OK and no invalidating flag is set. */
int rove_energy_result_valid(const rove_energy_result *r);

/* Result payload without a frame header (journal records use it). */
void rove_energy_result_put(rove_wbuf *w, const rove_energy_result *r);
int rove_energy_result_get(rove_rbuf *rb, rove_energy_result *r);

typedef struct rove_energy_table {
  rove_energy_result *r;
  size_t n, cap;
} rove_energy_table;

void rove_energy_table_init(rove_energy_table *t);
void rove_energy_table_deinit(rove_energy_table *t);
/* Adds r unless a result with its request id is there already.
 * *added (may be NULL) says which. 0 or ROVE_ENOMEM. */
int rove_energy_table_add(rove_energy_table *t, const rove_energy_result *r,
                          int *added);
/* Borrowed pointer (NULL: none) to the result for (model hash, board). */
const rove_energy_result *
rove_energy_table_find(const rove_energy_table *t,
                       const unsigned char model_hash[32], const char *board);
const rove_energy_result *rove_energy_table_find_id(const rove_energy_table *t,
                                                    uint64_t request_id);

/* The request id of (model, board): the first 8 bytes of
 * BLAKE2b(model hash || board), so a re-issued request (another agent,
 * a resumed sweep) carries the same id and the hub keeps one result. */
uint64_t rove_ep_request_id(const unsigned char model_hash[32],
                            const char *board);

/* 1 when s is a usable board name: non-empty, letters, digits and
 * "-_.:@" only. */
int rove_energy_name_ok(const char *s);

#endif
