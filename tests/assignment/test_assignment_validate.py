"""`grader assignment validate`: one line per problem naming spec, task and field; exit 0
when clean, 2 otherwise, and never a traceback on a broken spec or folder."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
GRADER = Path(sys.executable).parent / "grader"
SHIPPED = ("cs577-a4", "ds-ag-021", "hw2-mnist", "practical2")


def _validate(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([str(GRADER), "assignment", "validate", *args], cwd=REPO,
                          capture_output=True, text=True, timeout=timeout)


def _copy_of_shipped(tmp_path: Path, assignment: str = "practical2") -> tuple[Path, dict]:
    data = json.loads((REPO / "grader" / "assignments" / f"{assignment}.json").read_text())
    return tmp_path / f"{assignment}.json", data


def _no_traceback(run: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in run.stdout + run.stderr


def test_a_layer_type_changed_to_dens_exits_2_naming_the_task_and_dens(tmp_path):
    path, data = _copy_of_shipped(tmp_path)
    data["tasks"][2]["checks"]["architecture"]["layers"][1]["type"] = "Dens"
    path.write_text(json.dumps(data))
    run = _validate(str(path))
    assert run.returncode == 2, run.stdout + run.stderr
    assert run.stdout.splitlines() == [
        f"{path}: task model3: checks.architecture.layers[1].type: unknown Keras layer "
        "type 'Dens'; did you mean 'Dense'?",
        f"{path}: 1 problem"]


def test_a_clean_shipped_spec_without_folders_exits_0_and_says_what_was_not_checked():
    run = _validate("practical2")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "practical2.json: valid, 7 tasks" in run.stdout
    assert "pass --reference DIR and --template DIR" in run.stdout


def test_bad_json_is_one_clear_line(tmp_path):
    path = tmp_path / "broken.json"
    path.write_text('{"id": "broken",')
    run = _validate(str(path))
    assert run.returncode == 2
    assert run.stdout.startswith(f"{path}: cannot read JSON: ")
    _no_traceback(run)


def test_schema_problems_name_the_task_and_field_and_lint_still_runs(tmp_path):
    path, data = _copy_of_shipped(tmp_path)
    data["tasks"][1]["checks"]["params"]["trainable"] = "many"
    data["tasks"][3]["checks"]["architecture"]["layers"][0]["activation"] = "rellu"
    path.write_text(json.dumps(data))
    run = _validate(str(path), "--reference", str(REPO / "reference" / "practical2"))
    assert run.returncode == 2
    lines = run.stdout.splitlines()
    assert any(line.startswith(f"{path}: task model2: checks.params.trainable: ")
               for line in lines), lines
    assert f"{path}: task model4: checks.architecture.layers[0].activation: unknown " \
           "activation 'rellu'; did you mean 'relu'?" in lines
    assert "scores" not in run.stdout  # an invalid spec is not graded
    _no_traceback(run)


def test_a_theory_question_is_named_by_its_id_once_per_field(tmp_path):
    path, data = _copy_of_shipped(tmp_path, "cs577-a4")
    data["theory"]["questions"][2]["points"] = -1
    path.write_text(json.dumps(data))
    run = _validate(str(path))
    assert run.returncode == 2
    # The schema and the theory package both see it; it is reported once.
    assert run.stdout.splitlines() == [
        f"{path}: question q3: points: -1 is less than the minimum of 0",
        f"{path}: 1 problem"]


def test_missing_folders_and_unknown_ids_exit_2_without_a_traceback(tmp_path):
    run = _validate("practical2", "--reference", str(tmp_path / "nope"),
                    "--template", str(tmp_path / "nope2"))
    assert run.returncode == 2
    assert f"--reference: {tmp_path / 'nope'}: no such folder" in run.stdout
    assert f"--template: {tmp_path / 'nope2'}: no such folder" in run.stdout
    _no_traceback(run)
    run = _validate("no-such-assignment")
    assert run.returncode == 2
    assert run.stdout.startswith("no-such-assignment: no spec file and no assignment named")
    _no_traceback(run)
    run = _validate(str(tmp_path / "missing.json"))
    assert run.returncode == 2 and "cannot read JSON" in run.stdout
    _no_traceback(run)


def test_a_template_without_an_entry_file_is_named_without_grading_noise(tmp_path):
    path, data = _copy_of_shipped(tmp_path, "hw2-mnist")
    data["tasks"] = [t for t in data["tasks"] if t["id"] == "macro-f1"]
    path.write_text(json.dumps(data))
    template = tmp_path / "template"
    template.mkdir()
    (template / ".grader-assignment").write_text("hw2-mnist\n")
    (template / "model.py").write_text("")
    run = _validate(str(path), "--template", str(template))
    assert run.returncode == 2
    assert run.stdout.splitlines()[:-1] == [
        f"{path}: task macro-f1: entry.file: models.py or models.ipynb is not in the template "
        f"folder {template}"]
    _no_traceback(run)


@pytest.mark.slow
@pytest.mark.parametrize("assignment", SHIPPED)
def test_every_shipped_spec_passes_with_its_reference_and_template(assignment, shipped_static,
                                                                    monkeypatch):
    """`validate ID --reference R --template T` on each shipped assignment, judged from
    the session's static gradings of R and T (tests/conftest.py: `grader check --static`
    of the same folder against the same spec, the gradings that
    tests/engine/test_engine_reference.py judges too) instead of grading all eight a
    second time. Everything else validate does runs as it is; the CLI around it, its
    own gradings included, runs end to end in test_assignment_new.py."""
    from grader.parent import assignment_validation

    reference = REPO / "reference" / assignment
    template = REPO / "submissions_template" / assignment
    kinds = {reference: "reference", template: "submissions_template"}

    def graded(spec_path: Path, folder: Path) -> tuple[list[dict], list[str]]:
        assert Path(spec_path) == REPO / "grader" / "assignments" / f"{assignment}.json"
        run = shipped_static(kinds[Path(folder)], assignment)
        assert run.results, run.stderr[-3000:]
        return run.results["tests"], list(run.results["grader"]["errors"])

    monkeypatch.setattr(assignment_validation, "_grade", graded)
    result = assignment_validation.validate(assignment, reference, template)
    assert result.exit_code == 0, result.lines()  # what the CLI exits with
    summary = result.lines()[-1]
    assert f"{assignment}.json: valid" in summary
    assert "template scores 0 of" in summary
