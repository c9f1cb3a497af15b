#!/usr/bin/env bash
# Sets up a fresh machine (scripts/setup.sh), then runs lint and the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/ruff check .
.venv/bin/python -m pytest "$@"
