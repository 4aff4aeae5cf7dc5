"""``gateway bench``: the registry's figures beside baselines measured on the same broker in
the same run, each thing measured running as its own process.

Scenarios (``gateway bench throughput latency``; all of the default ones without names):
  throughput  a backlog of the realistic mix drained by the registry (`gateway run`), a
              tuned bare aiokafka pipe and a transactional aiokafka pipe; min/median/max
              events/s over --repeat repetitions and the ratios
  latency     paced sends at --rates events/s: p50/p99 from send to committed output for
              the registry and the transactional pipe, and whether the lag grew

The figures are printed as tables (and written to --json FILE), never asserted: these
machines are shared and noisy, so read the spread and the ratios, not one number. It uses
the broker of KAFKA_BOOTSTRAP_SERVERS, else the running local one, else starts one (and
stops it at the end); the logs of the processes it starts stay under .run/bench/.
"""
