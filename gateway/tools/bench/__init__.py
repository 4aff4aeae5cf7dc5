"""``gateway bench``: the registry's figures beside baselines measured on the same broker in
the same run, each thing measured running as its own process.

The figures are printed as tables (and written to --json FILE), never asserted: these
machines are shared and noisy, so read the spread and the ratios, not one number. It uses
the broker of KAFKA_BOOTSTRAP_SERVERS, else the running local one, else starts one (and
stops it at the end); the logs of the processes it starts stay under .run/bench/.
"""
