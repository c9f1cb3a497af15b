"""`grader theory ...` as users run it: real subprocesses, real files, real schemas."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import jsonschema
import pytest

from theory.questions import get_question, load_bank, solution_json, solve, variant_params

BANK = load_bank()     # every assignment's questions, from the specs' theory sections
SCHEMAS = Path(__file__).resolve().parents[2] / "grader" / "schemas"


def schema(name: str) -> dict:
    return json.loads((SCHEMAS / name).read_text())


def no_traceback(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stderr + proc.stdout


def test_theory_and_help_never_import_tensorflow(repo: Path, tmp_path: Path) -> None:
    answers = tmp_path / "answers.json"
    answers.write_text(json.dumps({"answers": {"q1": [[45, 45], [54, 54]], "q4": "a template"}}))
    commands = [
        ["--help"], ["theory", "q1"], ["theory", "list"], ["theory", "q7", "--json"],
        ["theory", "params", "input:8x8x1, conv:2:3x3, flatten, dense:2"],
        ["theory", "conv", "-i", "ones:4x4|rows:1,2,3,4", "-f", "ones:3x3", "-p", "same"],
        ["theory", "pool", "-i", "range:4x4", "--kind", "avg", "--json"],
        ["theory", "shape", "128x128x32", "3x3", "-n", "16"],
        ["theory", "variant", "q3", "--seed", "3"],
        ["theory", "grade", str(answers), "--json", str(tmp_path / "results.json")],
    ]
    # One process runs every command, then lists their exit codes and what they imported.
    probe = (
        "import json, sys\n"
        "from grader.cli import main\n"
        "codes = []\n"
        f"for argv in json.loads({json.dumps(json.dumps(commands))}):\n"
        "    sys.argv = ['grader', *argv]\n"
        "    try:\n"
        "        main()\n"
        "    except SystemExit as exc:\n"
        "        codes.append(exc.code or 0)\n"
        "heavy = sorted(m for m in ('tensorflow', 'keras', 'numpy', 'pydantic')\n"
        "               if m in sys.modules)\n"
        "sys.stderr.write(f'CODES={codes}\\nHEAVY=' + ','.join(heavy) + '\\n')\n"
    )
    proc = subprocess.run([sys.executable, "-c", probe], cwd=repo, capture_output=True,
                          text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    # every command ran to its end: grade exits 1 as q2, q3, ... are unanswered
    assert f"CODES={[0] * (len(commands) - 1) + [1]}" in proc.stderr, proc.stderr
    assert json.loads((tmp_path / "results.json").read_text())["score"] == 1
    line = [ln for ln in proc.stderr.splitlines() if ln.startswith("HEAVY=")][-1]
    assert line == "HEAVY=", f"imported on the theory path: {line}"


def test_q1_prints_the_worked_sums_and_the_alternative(grader) -> None:
    proc = grader("theory", "q1", env={"COLUMNS": "200"})
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "1 + 1 + 1 + 2 + 2 + 2 + 3 + 3 + 3 = 18" in out
    assert "total 9 + 18 + 27 = 54" in out
    assert "Alternative 1" in out and "each channel separately" in out


def test_q1_json_is_the_documented_object(grader) -> None:
    proc = grader("theory", "q1", "--json")
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    jsonschema.validate(data, schema("theory_answer.schema.json"))
    assert data["answer"] == [[45, 45], [54, 54]]
    assert data["alternatives"][0]["answer"][1][0] == [9, 18, 27]   # H x W x C
    assert data["reading"] and data["alternatives"][0]["label"]


def test_every_question_json_validates_against_the_schema() -> None:
    validator = jsonschema.Draft202012Validator(schema("theory_answer.schema.json"))
    for bank in BANK.values():
        for question in bank.values():
            data = json.loads(json.dumps(solution_json(question, solve(question))))
            validator.validate(data)


def test_q3_unpadded_reading_says_there_is_no_output(grader) -> None:
    data = json.loads(grader("theory", "q3", "--json").stdout)
    unpadded = [alt for alt in data["alternatives"] if alt["answer_type"] == "none"]
    assert len(unpadded) == 1 and unpadded[0]["answer"] is None
    assert "5x5" in unpadded[0]["note"] and "4x4" in unpadded[0]["note"]


def test_other_assignments_and_manual_questions(grader) -> None:
    data = json.loads(grader("theory", "model4", "--assignment", "practical2", "--json").stdout)
    assert data["answer"]["trainable"] == 1546954
    manual = json.loads(grader("theory", "Q12", "--json").stdout)
    assert manual["kind"] == "manual" and manual["graded_by"] == "person" and manual["rubric"]


def test_list_names_every_question_per_assignment(grader) -> None:
    proc = grader("theory", "list", "--json")
    data = json.loads(proc.stdout)
    assert [q["id"] for q in data["cs577-a4"]] == [f"q{i}" for i in range(1, 22)]
    assert {q["kind"] for q in data["ds-ag-021"]} == {"numeric", "manual"}
    assert data["hw2-mnist"] == []
    table = grader("theory", "list", env={"COLUMNS": "200"}).stdout
    assert "q21" in table and "model4" in table and "manual" in table


@pytest.mark.parametrize("args, message", [
    (["theory", "q99"], "valid ids: q1, q2"),
    (["theory", "q1", "--assignment", "nope"], "unknown assignment 'nope'"),
    (["theory", "conv", "-i", "1,2;3", "-f", "ones:1x1"], "same number of values"),
    (["theory", "conv", "-i", "ones:2x2", "-f", "ones:3x3", "-p", "sideways"], "--padding"),
    (["theory", "pool", "-i", "ones:2x2", "--kind", "median"], "'max' or 'avg'"),
    (["theory", "shape", "12x", "3"], "INPUT must be"),
    (["theory", "params", "input:8x8x1, conv:3:9x9"], "does not fit"),
    (["theory", "params", "input:8x8x1, lstm:3"], "unknown layer 'lstm'"),
    (["theory", "variant", "q4", "--seed", "1"], "graded by a person"),
])
def test_bad_input_is_named_without_a_traceback(grader, args, message) -> None:
    proc = grader(*args)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert message in proc.stderr
    no_traceback(proc)


def test_conv_on_user_numbers_with_generators(grader) -> None:
    proc = grader("theory", "conv", "-i", "ones:4x4|fill:2:4x4|rows:1,2,3,4", "-f", "ones:3x3",
                  "--json")
    assert json.loads(proc.stdout)["answer"] == [[45, 45], [54, 54]]
    proc = grader("theory", "conv", "-i", "range:3x3", "-f", "1,0;0,-1", "-f", "1/2,0;0,0",
                  "--stride", "2", "--padding", "0,1,0,1", "--json")
    data = json.loads(proc.stdout)
    assert data["answer"] == [[[1 - 5, 0.5], [3 - 0, 1.5]], [[7, 3.5], [9, 4.5]]]
    two = json.loads(grader("theory", "conv", "-i", "range:3x3", "-f", "ones:2x2", "--padding",
                            "1,0", "--json").stdout)             # V,H: top/bottom 1, sides 0
    assert two["answer"] == [[3, 5], [12, 16], [24, 28], [15, 17]]
    depthwise = json.loads(grader("theory", "conv", "-i", "ones:3x3|fill:2:3x3", "-f", "ones:2x2",
                                  "--depthwise", "--dilation", "2", "--json").stdout)
    assert depthwise["answer"] == [[[4, 8]]]


def test_pool_shape_and_params_on_user_numbers(grader) -> None:
    pool = json.loads(grader("theory", "pool", "-i", "range:4x4", "--kind", "avg",
                             "--json").stdout)
    assert pool["answer"] == [[[3.5], [5.5]], [[11.5], [13.5]]]
    shape = json.loads(grader("theory", "shape", "128x128x32", "3x3", "--filters", "16",
                              "--stride", "2", "--json").stdout)
    assert shape["answer"] == [63, 63, 16]
    assert any("floor(125/2) + 1 = 63" in s.get("text", "") for s in shape["steps"])
    params = json.loads(grader("theory", "params", "input:28x28x1, flatten, dense:74, dense:50, "
                               "dense:10", "--json").stdout)
    assert params["answer"] == {"total": 62350, "trainable": 62350, "non_trainable": 0}


def test_variant_is_reproducible_and_differs_from_the_original(grader) -> None:
    first = json.loads(grader("theory", "variant", "q1", "--seed", "7", "--json").stdout)
    again = json.loads(grader("theory", "variant", "q1", "--seed", "7", "--json").stdout)
    other = json.loads(grader("theory", "variant", "q1", "--seed", "8", "--json").stdout)
    assert first == again
    assert first["variant"]["params"] != other["variant"]["params"]
    assert first["question"] != get_question("q1").text(get_question("q1").params)
    jsonschema.validate(first, schema("theory_answer.schema.json"))


# --- grading --------------------------------------------------------------------------------

def write(tmp_path: Path, obj: object, name: str = "answers.json") -> Path:
    path = tmp_path / name
    path.write_text(obj if isinstance(obj, str) else json.dumps(obj))
    return path


def key(qid: str, assignment: str = "cs577-a4", seed: int | None = None) -> object:
    question = get_question(qid, assignment)
    params = None if seed is None else variant_params(question, seed)
    return json.loads(json.dumps(solution_json(question, solve(question, params))))["answer"]


def test_grading_full_marks_partial_credit_and_alternative_readings(grader, tmp_path) -> None:
    answers = {"q1": [[45, 45], [54, 53]],               # 3 of 4 cells
               "q2": key("q2"),
               "q3": [[[4, 8, 12], [4, 8, 12]], [[4, 8, 8], [4, 8, 8]]],   # per-channel reading
               "Q7": [126, 126, 16], "8": ["63", 63, 16],
               "q11": [[[1, 2, 2], [1, 2, 2]], [[1, 2, 4], [1, 2, 4]]],
               "q4": "A filter is a template; the output is a similarity map."}
    out = tmp_path / "results.json"
    proc = grader("theory", "grade", str(write(tmp_path, {"answers": answers})), "--json",
                  str(out))
    assert proc.returncode == 1, proc.stderr                # q1 is not fully right
    results = json.loads(out.read_text())
    jsonschema.validate(results, schema("results.schema.json"))
    tests = {t["number"]: t for t in results["tests"]}
    assert tests["q1"]["score"] == 0.75 and tests["q1"]["status"] == "failed"
    assert "[1, 1]: expected 54, got 53" in tests["q1"]["output"]
    assert tests["q3"]["score"] == 1.0 and "alternative" in tests["q3"]["output"]
    assert tests["q8"]["status"] == "passed"
    assert tests["q4"]["grader"]["state"] == "manual" and tests["q4"]["max_score"] == 0
    assert tests["q1"]["tags"][0] == "q1"
    assert results["score"] == 5.75 and results["max_score"] == 6


def test_grading_a_seeded_variant_uses_its_own_key(grader, tmp_path) -> None:
    answers = {"seed": 11, "answers": {q: key(q, "ds-ag-021", 11)
                                       for q in ("q2a", "q2b", "q2c", "q4a", "q4b", "q4c")}}
    answers["assignment"] = "ds-ag-021"
    proc = grader("theory", "grade", str(write(tmp_path, answers)))
    assert proc.returncode == 0, proc.stdout + proc.stderr
    wrong = dict(answers, seed=12)
    assert grader("theory", "grade", str(write(tmp_path, wrong))).returncode == 1


def test_ratio_answers_accept_a_rounded_decimal(grader, tmp_path) -> None:
    answers = {"assignment": "ds-ag-021",
               "answers": {"q4a": {"params_3x3": 36928, "params_7x7": 200768,
                                   "weight_ratio": 5.444}}}
    out = tmp_path / "r.json"
    grader("theory", "grade", str(write(tmp_path, answers)), "--json", str(out))
    tests = {t["number"]: t for t in json.loads(out.read_text())["tests"]}
    assert tests["q4a"]["status"] == "passed"


@pytest.mark.parametrize("content, message", [
    ("{not json", "not valid JSON: Expecting property name"),
    ({"answer": {"q1": 1}}, "'answers' is a required property"),
    ({"answers": {"q1": 1}, "extra": 2}, "Additional properties are not allowed"),
    ({"answers": {"q1": {"a": True}}}, "answers/q1"),
    ({"answers": {"q42": 1}}, "has no question 'q42'; valid ids"),
    ({"answers": {"q1": 1}, "assignment": "hw3"}, "assignment"),
    ({"answers": {"q1": 1, "Q1": 2}}, "answered twice"),
    ({"answers": {}, "assignment": "ds-ag-021"}, "is for 'ds-ag-021' but --assignment"),
    ('{"answers": {"q1": [[45, 45], [54, 54]], "q1": 0}}', "the key 'q1' appears twice"),
    ({"answers": {"q1": 1}, "assignment": "practical2"},
     "its assignment practical2 has no question 'q1'; valid ids: model1"),
    ({"answers": {f"q{i}": 1 for i in range(65)}}, "has too many properties (at most 64)"),
    ({"answers": {"q1": list(range(200))}}, "answers/q1: [0, 1, 2"),
])
def test_a_malformed_answers_file_is_named_and_still_gets_results(grader, tmp_path, content,
                                                                   message) -> None:
    path = write(tmp_path, content)
    extra = ["--assignment", "cs577-a4"] if "ds-ag-021" in json.dumps(content) else []
    out = tmp_path / "results.json"
    proc = grader("theory", "grade", str(path), *extra, "--json", str(out))
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert message in proc.stderr and str(path) in proc.stderr
    assert "--assignment cs577-a4" not in proc.stderr     # no hint that the file overrules
    no_traceback(proc)
    # a batch never loses the student: the results say why, with a score of 0
    results = json.loads(out.read_text())
    jsonschema.validate(results, schema("results.schema.json"))
    assert results["score"] == 0 and results["max_score"] > 0
    assert message in results["output"] and results["grader"]["exit_code"] == 2
    assert all(t["score"] == 0 and message in t["output"] for t in results["tests"])


def test_a_missing_answers_file_or_a_folder_is_named(grader, tmp_path) -> None:
    proc = grader("theory", "grade", str(tmp_path / "absent.json"))
    assert proc.returncode == 2 and "absent.json: no such file" in proc.stderr
    no_traceback(proc)
    proc = grader("theory", "grade", str(tmp_path))
    assert proc.returncode == 2 and f"{tmp_path}: is a folder" in proc.stderr, proc.stderr


def test_an_answers_file_over_the_size_cap_is_refused_at_once(grader, tmp_path) -> None:
    from theory.grade import MAX_ANSWERS_BYTES

    path = write(tmp_path, '{"answers": {"q1": 1}}' + " " * MAX_ANSWERS_BYTES)
    out = tmp_path / "results.json"
    proc = grader("theory", "grade", str(path), "--json", str(out), timeout=20)
    assert proc.returncode == 2, proc.stderr
    assert f"{path}: larger than {MAX_ANSWERS_BYTES:,} bytes" in proc.stderr
    assert "MAX_ANSWERS_BYTES" in proc.stderr
    assert json.loads(out.read_text())["grader"]["errors"][0].startswith(str(path))


@pytest.mark.parametrize("value", ["inf", "nan", "-1", "1", "1e308"])
def test_rel_tol_outside_zero_to_one_is_refused(grader, tmp_path, value) -> None:
    path = write(tmp_path, {"answers": {"q7": [126, 126, 16]}})
    proc = grader("theory", "grade", str(path), "--rel-tol", value)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "--rel-tol must be a finite number in [0, 1)" in proc.stderr
    no_traceback(proc)
