#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the demo: the simulated board, the daemon with the default
# travel-agency configuration, simulated callers ringing the agents' phones, and a live view.
# Options: --duration SECONDS (stop by itself), --rate CALLS_PER_MINUTE.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh
exec .venv/bin/python scripts/demo.py "$@"
