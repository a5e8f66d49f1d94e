#!/usr/bin/env bash
# Set up everything callbox needs on Debian 12: Debian packages (as root) and the project's own
# virtual environment in .venv. Safe to re-run: it installs only what is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

DEBS=(python3 python3-venv python3-dev gcc pkg-config libsystemd-dev
      libspandsp2 espeak-ng sox libspeexdsp1 procps tmux tzdata
      libopenr2-dev dahdi-source  # OpenR2 interop peer (tests/interop/openr2): library + DAHDI headers
      faketime)  # the box's wall clock set near a statistics-interval boundary (tests/e2e/test_acd_events.py)

missing=()
for pkg in "${DEBS[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
  echo "setup: installing Debian packages: ${missing[*]}"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

PY=${PYTHON:-python3}
if ! "$PY" -c 'import sys; sys.exit(sys.version_info < (3, 11))'; then
  echo "setup: $PY is older than 3.11" >&2; exit 1
fi
if [ ! -x .venv/bin/python ] || ! .venv/bin/python -c 'import sys' 2>/dev/null; then
  rm -rf .venv
  "$PY" -m venv .venv
fi
stamp=.venv/.callbox-installed
want=$(sha256sum pyproject.toml | cut -d' ' -f1)
if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q -e '.[dev]'
  echo "$want" > "$stamp"
fi
echo "setup: ready (.venv: $(.venv/bin/python --version))"
