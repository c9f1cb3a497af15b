#!/usr/bin/env bash
# Sets up a fresh machine, then shows the main job on a bundled example.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
.venv/bin/grader theory q1
