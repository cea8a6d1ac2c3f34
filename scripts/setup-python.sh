#!/usr/bin/env bash
# Creates .venv and installs the locked Python packages (hashes checked), then Havre itself.
# Idempotent: a working .venv is kept; one left broken by an earlier failure is made anew.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON="${PYTHON:-python3}"
if ! "$PYTHON" -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else 1)'; then
  echo "Havre needs Python >= 3.11 (found $("$PYTHON" --version 2>&1))." >&2
  exit 2
fi
# Debian's python3 comes without venv and ensurepip: they are the package python3-venv.
if ! "$PYTHON" -c 'import ensurepip, venv' >/dev/null 2>&1; then
  if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "Installing Debian package python3-venv (venv and ensurepip for $PYTHON)"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends python3-venv >/dev/null
  else
    echo "$PYTHON has no venv/ensurepip module. Install it: sudo apt-get install python3-venv" >&2
    exit 2
  fi
fi
if [ -d .venv ] && ! .venv/bin/python -m pip --version >/dev/null 2>&1; then
  echo "Removing a broken .venv (no working python or pip in it)"
  rm -rf .venv
fi
if [ ! -x .venv/bin/python ]; then
  "$PYTHON" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade "pip>=24"
.venv/bin/python -m pip install --quiet --disable-pip-version-check --require-hashes --no-deps -r requirements.lock
.venv/bin/python -m pip install --quiet --disable-pip-version-check --no-deps --no-build-isolation -e .
echo "Python environment ready in .venv"
