#!/usr/bin/env bash
# Sets up a fresh machine (scripts/setup.sh), then runs lint and the test suite.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
# As root, setup.sh installed Slurm and munge, so the cluster tests must run:
# a broken local cluster then fails them instead of skipping them.
if [[ $(id -u) -eq 0 ]]; then export GRADER_REQUIRE_SLURM=1; fi
.venv/bin/ruff check .
.venv/bin/python -m pytest "$@"
