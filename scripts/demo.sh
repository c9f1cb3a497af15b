#!/usr/bin/env bash
# Sets up a fresh machine, then grades the bundled practical2 reference the way a
# student submission is graded: build worker, verify worker, parameter counts,
# architecture diffs, lints, Grad-CAM, and accuracy checks that train and evaluate
# on the real Fashion-MNIST files from Debian's dataset-fashion-mnist package.
# Grad-CAM is drawn on a model the grader trains (a few seconds, beside the accuracy
# checks) over real garments: the page shows each class's image, the submitted map
# and the reference map side by side.
# Extra arguments go to `grader check` (e.g. --static, or --task model3 for a short run).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
mkdir -p out
status=0
.venv/bin/grader check reference/practical2 --json out/demo-results.json \
    --html out/demo-results.html "$@" || status=$?
echo
echo "results: out/demo-results.json (Gradescope format); page: out/demo-results.html;" \
     "images: out/demo-results-images/"
echo "exit code $status (0: every check passed, 1: some failed, 2: could not grade)"
exit "$status"
