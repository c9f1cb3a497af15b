"""The build worker's forkserver (grader/forkserver.py): imports what a build worker
imports before student code, then forks one fresh build worker per request, each in
PID, user and mount namespaces of its own.

Usage: python -P -m grader.build_worker.warm --control-fd N --namespaces
"""

from __future__ import annotations

import sys


def _preload() -> None:
    import keras  # noqa: F401

    import grader.build_worker.compat  # noqa: F401
    import grader.build_worker.worker  # noqa: F401
    import grader.verify_worker.facts  # noqa: F401


def _main(args: list[str]) -> int:
    from grader.build_worker.worker import main

    return main(args)


if __name__ == "__main__":
    from grader.forkserver import run

    sys.exit(run(sys.argv[1:], _preload, _main, namespaces=True))
