"""singularity/grader.def: the image the cluster runs. It cannot be built here
(no container registry), so these tests read the definition file and hold it
to what the image must do and to the versions pyproject.toml pins."""

from __future__ import annotations

import json
import re
import shlex
import sys
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - the project's Python is 3.11+, tomllib is stdlib there
    tomllib = pytest.importorskip("tomli")

REPO = Path(__file__).resolve().parents[2]
DEF = REPO / "singularity" / "grader.def"


def parse_definition(text: str) -> tuple[dict[str, str], dict[str, list[str]]]:
    """Header keywords (`Bootstrap: docker`) and the lines of each %section,
    as Apptainer reads them: a section runs from its %name line to the next."""
    header: dict[str, str] = {}
    sections: dict[str, list[str]] = {}
    current: str | None = None
    for raw in text.splitlines():
        line = raw.strip()
        match = re.match(r"^%(\w+)\s*$", line)
        if match:
            current = match.group(1)
            assert current not in sections, f"{DEF}: section %{current} appears twice"
            sections[current] = []
        elif current is None:
            if line and not line.startswith("#"):
                key, _, value = line.partition(":")
                header[key.strip()] = value.strip()
        elif line and not line.startswith("#"):
            sections[current].append(line)
    return header, sections


@pytest.fixture(scope="module")
def definition() -> tuple[dict[str, str], dict[str, list[str]]]:
    return parse_definition(DEF.read_text())


@pytest.fixture(scope="module")
def pins() -> dict[str, str]:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    found = {"cnn-grader": project["version"]}
    for dep in project["dependencies"]:
        name, sep, version = dep.partition("==")
        if sep:
            found[name.strip()] = version.strip()
    assert {"tensorflow", "keras"} <= found.keys(), "pyproject.toml no longer pins TF and Keras"
    return found


@pytest.fixture(scope="module")
def extras() -> dict[str, dict[str, str | None]]:
    """pyproject's optional-dependency groups: {group: {package: pinned version or None}}."""
    groups = tomllib.loads((REPO / "pyproject.toml").read_text())["project"][
        "optional-dependencies"]
    return {group: {re.split(r"[<>=!~;\[ ]", req, maxsplit=1)[0].lower():
                    req.partition("==")[2].strip() or None for req in reqs}
            for group, reqs in groups.items()}


def project_install(sections: dict[str, list[str]]) -> tuple[str, set[str]]:
    """The folder %post pip-installs the project from (one %files copied in) and its extras."""
    copied = {shlex.split(line)[1] for line in sections["files"]}
    found = []
    for line in sections["post"]:
        if "pip install" in line:
            target, _, extras = shlex.split(line)[-1].partition("[")
            if f"{target}/pyproject.toml" in copied:
                found.append((target, {e.strip() for e in extras.rstrip("]").split(",")} - {""}))
    assert len(found) == 1, f"{DEF}: %post must pip-install the project %files copies in, once"
    return found[0]


def spec_features(data: object):
    """Every task framework and check probe named anywhere in an assignment spec."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key in ("framework", "probe") and isinstance(value, str):
                yield value
            yield from spec_features(value)
    elif isinstance(data, list):
        for item in data:
            yield from spec_features(item)


def test_base_image_is_the_tensorflow_gpu_image_pinned_in_pyproject(definition, pins):
    header, _ = definition
    assert header["Bootstrap"] == "docker"
    assert header["From"] == f"tensorflow/tensorflow:{pins['tensorflow']}-gpu"


def test_every_section_the_cluster_relies_on_is_present(definition):
    _, sections = definition
    for name in ("files", "post", "runscript", "test", "labels", "help", "environment"):
        assert sections.get(name), f"{DEF}: section %{name} is missing or empty"


def test_post_installs_the_project_that_files_copies_in(definition):
    _, sections = definition
    copied = {shlex.split(line)[1] for line in sections["files"]}
    target, _ = project_install(sections)
    for package in ("grader", "theory"):
        assert f"{target}/{package}" in copied, f"%files does not copy {package}/"
        assert (REPO / package).is_dir()


def test_post_fails_the_build_when_pip_resolves_other_versions(definition, pins):
    _, sections = definition
    post = "\n".join(sections["post"])
    assert f"tf.__version__ == '{pins['tensorflow']}'" in post
    assert f"keras.__version__ == '{pins['keras']}'" in post


def test_image_installs_every_extra_the_shipped_assignments_need(definition, extras):
    # A task needs a group when its framework or a probe is named after one of the
    # group's packages: framework "torch", probe "torch_loaders", probe "streamlit_app".
    needed: dict[str, set[str]] = {}
    for spec in (REPO / "grader" / "assignments").glob("*.json"):
        for feature in spec_features(json.loads(spec.read_text())):
            for group, packages in extras.items():
                if any(feature == p or feature.startswith(f"{p}_") for p in packages):
                    needed.setdefault(group, set()).add(spec.stem)
    assert needed, "no shipped assignment needs an extra: is the feature naming still the same?"
    _, installed = project_install(definition[1])
    assert installed <= extras.keys(), f"{DEF}: installs unknown extras {installed - extras.keys()}"
    missing = {g: sorted(specs) for g, specs in needed.items() if g not in installed}
    assert not missing, f"{DEF}: the image lacks extras the assignments need: {missing}"


def test_post_fails_the_build_when_an_installed_extra_does_not_import(definition, extras):
    _, sections = definition
    _, installed = project_install(sections)
    imported = {name.strip() for line in sections["post"] if line.startswith("python3 -c")
                for names in re.findall(r"\bimport ([\w, ]+)", line) for name in names.split(",")}
    for group in installed:
        for package in extras[group]:
            assert package.replace("-", "_") in imported, \
                f"{DEF}: %post never imports {package} (extra [{group}])"


def test_torch_is_the_cpu_build_of_the_version_pyproject_pins(definition, extras):
    # The CPU build: the one the reference results were made with, and no second set
    # of CUDA libraries beside TensorFlow's (see the comment in %post).
    _, sections = definition
    post = "\n".join(sections["post"])
    version = extras["torch"]["torch"]
    assert version, "pyproject.toml no longer pins torch"
    assert f"--index-url https://download.pytorch.org/whl/cpu 'torch=={version}+cpu'" in post
    assert f"torch.__version__ == '{version}+cpu'" in post


def test_runscript_runs_grader_with_all_arguments(definition):
    _, sections = definition
    assert sections["runscript"] == ['exec grader "$@"']


def test_test_section_runs_theory_q1_and_prints_the_gpus_tensorflow_sees(definition):
    _, sections = definition
    test = sections["test"]
    assert "grader theory q1" in test
    assert any("list_physical_devices('GPU')" in line and "print(" in line for line in test)


def test_labels_carry_the_versions_of_pyproject(definition, pins):
    _, sections = definition
    labels = dict(line.split(None, 1) for line in sections["labels"])
    assert labels["org.opencontainers.image.version"] == pins["cnn-grader"]
    assert labels["cnn-grader.tensorflow"] == pins["tensorflow"]
    assert labels["cnn-grader.keras"] == pins["keras"]


def test_help_says_how_to_build_and_run_the_image(definition):
    _, sections = definition
    text = "\n".join(sections["help"])
    assert "apptainer build grader.sif singularity/grader.def" in text
    assert "--container grader.sif" in text
    assert "--nv" in text


def test_files_sources_exist_relative_to_the_project_root(definition):
    _, sections = definition
    for line in sections["files"]:
        source = shlex.split(line)[0]
        assert (REPO / source).exists(), f"{DEF}: %files copies {source}, which is not in the repo"
