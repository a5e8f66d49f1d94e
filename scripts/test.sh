#!/usr/bin/env bash
# Set up (scripts/setup.sh) and run the whole test suite: lint, layer rules, unit, end-to-end,
# interop and benchmark smoke runs. pytest's "no tests ran" (exit 5) counts as a failure. Arguments, if
# any, go to one pytest run instead (e.g. ./scripts/test.sh tests/unit -x).
set -uo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh || exit 1
# Python's bytecode cache is written even where the environment says not to: without it every daemon,
# simulator and pytest worker the suite starts compiles every module again (6 s of a worker's collection)
unset PYTHONDONTWRITEBYTECODE

.venv/bin/ruff check . || exit 1
if [ -f ../shared/tools/check_layers.py ]; then
  .venv/bin/python ../shared/tools/check_layers.py || exit 1
fi
# pytest's "no tests ran" (exit 5) is a failure, like any other non-zero status.
run_pytest() {
  .venv/bin/python -m pytest -q -p no:cacheprovider "$@"
  local rc=$?
  if [ $rc -eq 5 ]; then echo "test.sh: no tests ran — failing" >&2; return 1; fi
  return $rc
}
if [ $# -gt 0 ]; then  # a developer's selection: as given, in one process
  run_pytest "$@"; exit $?
fi
# The e2e tests wait on the simulator's real 20 ms clock far more than they compute (a sixth of a core
# each), so tests run side by side, more workers than cores, handed out a couple at a time, the longest
# first (tests/conftest.py). Then the interop tests against real peer stacks (OpenR2), 4 side by side, among
# themselves only: each is one call at a time, mostly waiting, and its peer answers every tick in real
# time, which the first part's load would make late. Last, alone on a quiet machine, the tests that
# measure timing (marked serial: lost frames, tick rates, CPU, benchmarks).
workers=${CALLBOX_TEST_WORKERS:-10}
interop_workers=${CALLBOX_INTEROP_WORKERS:-4}
run_pytest -n "$workers" --dist load --maxschedchunk 2 -m "not serial and not interop"
rc=$?
run_pytest -n "$interop_workers" --dist load -m "interop and not serial"
rc2=$?
run_pytest -m serial
rc3=$?
for r in $rc $rc2 $rc3; do [ "$r" -ne 0 ] && exit "$r"; done
exit 0
