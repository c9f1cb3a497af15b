"""The trust boundary, as folders: each rule here is a wall between processes.

grader/parent/ runs in the process that grades: it must import neither a deep-learning
framework (nor, through one, student code). grader/verify_worker/ scores, so it must
import nothing from the build side, where student code runs. The build side answers
to the parent only through grader/protocol.py, never by importing it. Nothing in the
package may import the reference solutions.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
GRADER = ROOT / "grader"
FRAMEWORKS = ("tensorflow", "keras", "torch")


def _imports(path: Path) -> list[tuple[int, str]]:
    """Every module a file imports, anywhere in it (deferred imports count too)."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
            # `from grader import build_worker` names the side in the alias.
            found += [(node.lineno, f"{node.module}.{alias.name}") for alias in node.names]
    return found


def _violations(folder: Path, forbidden: tuple[str, ...]) -> list[str]:
    out = []
    for path in sorted(folder.rglob("*.py")):
        for line, module in _imports(path):
            if any(module == f or module.startswith(f + ".") for f in forbidden):
                out.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return out


def test_the_three_sides_are_folders():
    for side in ("parent", "build_worker", "verify_worker"):
        assert (GRADER / side / "__init__.py").is_file(), side


@pytest.mark.parametrize("folder", ["parent", "commands"])
def test_the_parent_imports_no_framework_and_neither_worker(folder):
    # The CLI verbs run in the parent too; they start workers by module name.
    assert _violations(GRADER / folder, (*FRAMEWORKS, "grader.build_worker",
                                         "grader.verify_worker")) == []


def test_shared_modules_import_no_framework_at_all():
    for name in ("protocol.py", "files.py", "cli.py", "forkserver.py"):
        for line, module in _imports(GRADER / name):
            assert module.split(".")[0] not in FRAMEWORKS, f"{name}:{line} imports {module}"


def test_the_verify_worker_imports_nothing_from_the_build_side():
    assert _violations(GRADER / "verify_worker", ("grader.build_worker",)) == []


def test_no_arrow_runs_back_up_from_the_workers_to_the_parent():
    for side in ("build_worker", "verify_worker", "data"):
        assert _violations(GRADER / side, ("grader.parent", "grader.commands", "grader.cli")) \
            == [], side


def test_nothing_imports_the_reference_solutions():
    assert _violations(GRADER, ("reference",)) == []
    assert _violations(ROOT / "theory", ("reference",)) == []


def test_the_solver_uses_nothing_of_the_grader_but_the_spec_discovery():
    # The questions are data in the specs; theory/ finds them where `grader check` does.
    used = {module for path in (ROOT / "theory").rglob("*.py") for _, module in _imports(path)
            if module.split(".")[0] == "grader"}
    assert used <= {"grader.parent.spec", *(f"grader.parent.spec.{n}" for n in (
        "available_assignments", "spec_file", "assignment_dirs"))}, used


def test_importing_every_parent_module_loads_no_framework():
    """The static rule above, checked at run time: a subprocess imports every module of
    the parent side and of the CLI, then lists which framework got loaded."""
    modules = sorted(
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for folder in ("parent", "commands") for p in (GRADER / folder).rglob("*.py"))
    code = ("import importlib, sys\n"
            f"for m in {modules!r}: importlib.import_module(m)\n"
            f"print(sorted(f for f in {FRAMEWORKS!r} if f in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip() == "[]"


def _import_graph() -> dict[str, set[str]]:
    """Module -> the package modules it imports (deferred imports included)."""
    modules = {".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__"): p
               for base in ("grader", "theory") for p in (ROOT / base).rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in modules.items():
        edges = graph.setdefault(name, set())
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                edges |= {a.name for a in node.names if a.name in modules}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    if full in modules or node.module in modules:
                        edges.add(full if full in modules else node.module)
    return graph


def test_no_module_imports_itself_round_a_circle():
    graph = _import_graph()
    circles = []

    def walk(module: str, path: list[str], done: set[str]) -> None:
        for target in sorted(graph[module]):
            if target in path:
                circles.append(" -> ".join(path[path.index(target):] + [target]))
            elif target not in done:
                walk(target, [*path, target], done)
        done.add(module)

    done: set[str] = set()
    for module in sorted(graph):
        if module not in done:
            walk(module, [module], done)
    assert circles == []
