#!/usr/bin/env bash
# Sets up a fresh machine, then grades the bundled practical2 reference the way a
# student submission is graded: build worker, verify worker, parameter counts,
# architecture diffs, lints, Grad-CAM, and accuracy checks that train and evaluate
# on the real Fashion-MNIST files from Debian's dataset-fashion-mnist package.
# Extra arguments go to `grader check` (e.g. --static, or --task model3 for a short run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p out
status=0
.venv/bin/grader check reference/practical2 --json out/demo-results.json "$@" || status=$?
echo
echo "results: out/demo-results.json (Gradescope format); images: out/demo-results-images/"
echo "exit code $status (0: every check passed, 1: some failed, 2: could not grade)"
exit "$status"
