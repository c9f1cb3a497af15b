"""The verify worker's forkserver (grader/forkserver.py): imports what a verify worker
imports, then forks one fresh verify worker per request. No student code runs in
these workers, so they need no namespaces.

Usage: python -I -m grader.verify_worker.warm --control-fd N
"""

from __future__ import annotations

import sys


def _preload() -> None:
    import keras  # noqa: F401

    import grader.verify_worker.facts  # noqa: F401
    import grader.verify_worker.worker  # noqa: F401
    from grader import registry

    # The checks' modules too (training, the visual scoring), so no child imports them;
    # one that cannot be imported here says so in the child, as without a warm start.
    for name in registry.checks_scored_in("verify"):
        try:
            registry.load(registry.CHECKS[name].target)
        except ImportError:
            pass


def _main(args: list[str]) -> int:
    from grader.verify_worker.worker import main

    return main(args)


if __name__ == "__main__":
    from grader.forkserver import run

    sys.exit(run(sys.argv[1:], _preload, _main, namespaces=False))
