#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the demo: the simulated board and the daemon running the
# travel agency (the shipped configuration, open around the clock, in a copy under var/demo/),
# agents logged in, simulated callers pressing IVR keys, queueing and being answered, shown live.
# Options: --duration SECONDS (stop by itself), --rate CALLS_PER_MINUTE, --seed N, --rundir DIR.
# Ctrl-C (or SIGTERM) stops it cleanly.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh >&2
exec .venv/bin/python scripts/demo.py "$@"
