#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the whole test suite: lint, layer rules, unit, end-to-end,
# interop and benchmark smoke runs. pytest's "no tests ran" (exit 5) counts as a failure.
set -uo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh || exit 1

.venv/bin/ruff check . || exit 1
if [ -f ../shared/tools/check_layers.py ]; then
  .venv/bin/python ../shared/tools/check_layers.py || exit 1
fi
.venv/bin/python -m pytest -q -p no:cacheprovider "$@"
rc=$?
if [ $rc -eq 5 ]; then echo "test.sh: no tests ran — failing" >&2; exit 1; fi
exit $rc
