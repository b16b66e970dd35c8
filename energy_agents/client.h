/* client.h - the rove-agent libuv client: connects to the hub, authenticates,
 * measures requested models, delivers results until acknowledged. */
#ifndef ROVE_ENERGY_AGENTS_CLIENT_H
#define ROVE_ENERGY_AGENTS_CLIENT_H

#include "common/energy_proto.h"

typedef struct rove_agent_cfg {
  char host[256];
  int port;
  rove_ep_token token;
  char board[64];    /* board class the hub asks for */
  char agent_id[64]; /* "" : board-pid-random */
  char sysfs_root[256];
  char sensor[256];     /* sensor spec (sensor.h), default auto */
  int quick;            /* override the hub's protocol with the quick one */
  double backoff_max_s; /* reconnect back-off cap (default 10 s) */
} rove_agent_cfg;

/* Runs the agent until SIGINT/SIGTERM. Connection loss is not an error:
 * it reconnects with exponential back-off (0.1 s doubling to the cap) and
 * re-sends every result the hub has not acknowledged. A measurement runs
 * on libuv's thread pool, so the connection stays responsive meanwhile.
 * The config is borrowed. Returns 0 or a negative code (bad sensor spec,
 * no event loop). */
int rove_agent_run(const rove_agent_cfg *cfg);

/* Measures one request (decoded model and inputs borrowed) with sensor
 * spec/root; fills out (board and agent id left to the caller). Used by
 * the client and by `rove-agent measure`. */
int rove_agent_measure(const char *sysfs_root, const char *sensor_spec,
                       int quick, const rove_ep_request *q, int n,
                       rove_energy_result *out);

#endif
