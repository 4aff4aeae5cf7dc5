"""The command line and what it runs: check, demo, benchmark, the local broker."""
