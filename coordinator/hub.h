/* hub.h - the coordinator's energy hub: accepts rove-agents over TCP, hands out
 * measurement requests, journals results and joins them by model hash. */
#ifndef ROVE_COORDINATOR_HUB_H
#define ROVE_COORDINATOR_HUB_H

#include <stddef.h>
#include <stdio.h>

#include <uv.h>

#include "common/energy_journal.h"
#include "common/energy_proto.h"

/* MPI and the event loop share ONE thread and ONE loop: the sweep's
 * coordinator loop alternates MPI_Iprobe/MPI_Test with rove_hub_poll
 * (uv_run(UV_RUN_NOWAIT): it never blocks), backing off 1 us -> 1 ms when
 * neither had anything to do. Only that thread calls MPI, so
 * MPI_THREAD_FUNNELED suffices, and no queue or uv_async is needed. The
 * only other threads are libuv's (none used by the hub). */

typedef struct rove_hub_config {
  char host[256]; /* listen address, e.g. "0.0.0.0", "127.0.0.1" */
  int port;       /* 0: an ephemeral port (read it with rove_hub_port) */
  char token_file[1024];
  char dir[1024];         /* the run directory: DIR/energy.journal */
  rove_ep_mconf conf;     /* measurement protocol sent with each request */
  double auth_timeout_s;  /* drop a client not authenticated by then (5) */
  double frame_timeout_s; /* drop a client stuck mid-frame that long (30) */
  int max_inflight;       /* requests outstanding per agent (4) */
  int quiet;              /* no log lines on stderr */
} rove_hub_config;

/* Fills the defaults: 127.0.0.1, port 0, default protocol, timeouts. */
void rove_hub_config_default(rove_hub_config *c);

typedef struct rove_hub_req rove_hub_req;
typedef struct rove_hub_conn rove_hub_conn;

/* Caller-allocated; fields are private to hub.c. */
typedef struct rove_hub {
  rove_hub_config cfg;
  rove_ep_token token;
  uv_loop_t loop;
  uv_tcp_t server;
  uv_timer_t tick;
  int bound_port;
  int loop_ok, server_ok, tick_ok;
  rove_energy_table results; /* journaled results (from disk and new) */
  rove_energy_journal journal;
  rove_hub_req *reqs; /* one per (model, board) not yet measured */
  size_t n_reqs, cap_reqs;
  rove_hub_conn *conns; /* linked list */
  unsigned long n_dropped, n_auth, n_dupes;
} rove_hub;

/* Loads DIR/energy.journal (a torn tail is cut and logged), reads the
 * token file and starts listening. On error everything is released. */
int rove_hub_init(rove_hub *h, const rove_hub_config *cfg);
/* Closes every connection and the journal. Results already journaled stay
 * on disk. */
void rove_hub_deinit(rove_hub *h);

/* The port actually bound (useful with cfg.port = 0). */
int rove_hub_port(const rove_hub *h);

/* Asks board class `board` to measure a model: bytes (copied; .rove or
 * ONNX) whose content hash (rove_model.hash) is the join key. `inputs`
 * (may be NULL: synthetic) are whole float32 examples, copied, and
 * `input_set` names them ("clean", "adversarial"). Nothing is queued when
 * the journal already holds the result: a resumed sweep does not measure
 * twice. */
int rove_hub_add_model(rove_hub *h, const char *board, const char *name,
                       const unsigned char hash[32], const void *bytes,
                       size_t len, const char *input_set, const void *inputs,
                       size_t inputs_len);

/* Runs whatever is ready (accept, read, write, timers) without blocking.
 * Returns the number of requests still without a result (0: done). */
size_t rove_hub_poll(rove_hub *h);
/* Blocks until no request is pending or timeout_s (<= 0: forever) has
 * passed; for `rove energy`/`rove hub`. Returns the pending count. */
size_t rove_hub_run(rove_hub *h, double timeout_s);

/* Borrowed view of every result (journal + this run). */
const rove_energy_table *rove_hub_results(const rove_hub *h);

/* ---- The join: energy columns for the sweep's summary ----------------
 * For each board named, these columns, in this order (board = the board
 * class with [^A-Za-z0-9] replaced by '_'):
 *   energy_<board>_status          ok | unmeasurable | failed | pending
 *   energy_<board>_j               median energy per inference (J)
 *   energy_<board>_ci_lo_j, _ci_hi_j   95 % CI
 *   energy_<board>_dynamic_j       idle-subtracted
 *   energy_<board>_scope           board_input, module_rails, ..., estimate
 *   energy_<board>_sensor
 *   energy_<board>_latency_s       p50 per batch
 *   energy_<board>_power_w         average power during the windows
 *   energy_<board>_valid           1 / 0
 *   energy_<board>_flags           names joined by '|'
 * A model without a result yet gets status "pending" and empty cells.
 * The sweep writes its own columns, then these, for each model. */
void rove_energy_csv_header(FILE *f, const char *const *boards, int n_boards);
void rove_energy_csv_row(FILE *f, const rove_energy_table *t,
                         const unsigned char hash[32],
                         const char *const *boards, int n_boards);
/* Writes `"energy": {"<board>": {...}, ...}` (no trailing comma) for one
 * model, the same fields as the CSV, null for missing numbers. */
void rove_energy_json(FILE *f, const rove_energy_table *t,
                      const unsigned char hash[32], const char *const *boards,
                      int n_boards);

#endif
