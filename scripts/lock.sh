#!/usr/bin/env bash
# Re-lock the Python dependencies (maintainers only): requirements.lock from pyproject.toml,
# every extra included, with hashes. Needs network access to the package index.
set -euo pipefail
cd "$(dirname "$0")/.."
tool_env="$(mktemp -d)"
trap 'rm -rf "$tool_env"' EXIT
python3 -m venv "$tool_env"
"$tool_env/bin/pip" install --quiet uv
"$tool_env/bin/uv" pip compile pyproject.toml --all-extras --generate-hashes \
  --python-version 3.11 --python-platform x86_64-manylinux_2_28 -o requirements.lock
