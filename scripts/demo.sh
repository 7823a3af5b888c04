#!/usr/bin/env bash
# Installs Runbook into .venv and runs the demo on the embedded default.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet -e .
exec .venv/bin/runbook demo "$@"
