"""`nbrepro check --restore`: undeclared imports get a distribution only when the real
registry shows that its wheel provides the module; the repository's own modules, and
names crafted to reach the installer, never do."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_notebook, new_output

from nbrepro import cache, registry
from nbrepro.model import (
    TOP_DOWN,
    CheckResult,
    InferredImport,
    NotebookResult,
    RepositoryInfo,
    Requirement,
    RunAttempt,
    Spec,
    Verdict,
)
from nbrepro.report import badge, html, markdown, terminal
from nbrepro.stages.restore import (
    Restorer,
    candidate_files,
    distribution_for,
    local_modules,
    missing_module,
    not_declared_hint,
    uncovered_imports,
)

CLOSED_PORT = "http://127.0.0.1:9"  # nothing listens there: the registry cannot be asked


def _notebook(folder: Path, name: str, cells: list[tuple[str, str | None]]) -> None:
    """A notebook whose code cells show `repr` outputs as stored (None: no output)."""
    code = []
    for count, (source, shown) in enumerate(cells, start=1):
        outputs = [new_output("execute_result", {"text/plain": shown}, execution_count=count)] \
            if shown is not None else []
        code.append(new_code_cell(source, execution_count=count, outputs=outputs))
    nb = new_notebook(cells=code, metadata={
        "kernelspec": {"name": "python3", "language": "python", "display_name": "Python 3"},
        "language_info": {"name": "python"}})
    nbformat.write(nb, str(folder / name))


@pytest.fixture
def renamed(tmp_path: Path) -> Path:
    """Declares nothing; imports `yaml` (distribution PyYAML) in the notebook, and
    `attr` (distribution attrs) only through its own module `helpers.py`, which must
    not be installed. Its environment is described in a file repo2docker does not read."""
    root = tmp_path / "renamed"
    root.mkdir()
    (root / "helpers.py").write_text(
        "import attr\n\n\n@attr.s\nclass Point:\n    x = attr.ib()\n\n\n"
        "NAME = repr(Point(1))\n")
    # names no package the notebooks import: `--restore` reads it, then infers them
    (root / "conda_env.yaml").write_text("name: x\ndependencies: [python=3.11]\n")
    _notebook(root, "analysis.ipynb", [
        ("import yaml\nyaml.safe_dump({'a': 1}).strip()", "'a: 1'"),
        ("import helpers\nhelpers.NAME", "'Point(x=1)'"),
    ])
    return root


@pytest.fixture
def registry_unreachable() -> Iterator[None]:
    saved = os.environ.get("NBREPRO_PYPI_URL")
    os.environ["NBREPRO_PYPI_URL"] = CLOSED_PORT
    yield
    if saved is None:
        os.environ.pop("NBREPRO_PYPI_URL", None)
    else:
        os.environ["NBREPRO_PYPI_URL"] = saved


# --- the registry: what a wheel really provides ---------------------------------------


def test_a_renamed_distribution_is_verified_by_its_wheel():
    answer = registry.wheel_modules("PyYAML")
    assert answer.found and answer.provides("yaml")
    assert answer.name == "PyYAML" and answer.wheel and answer.wheel.endswith(".whl")
    assert "yaml" in answer.top_level
    assert not answer.provides("PyYAML")


def test_a_project_that_does_not_provide_the_module_is_not_verified():
    # bs4 on PyPI is a placeholder whose wheel installs no module at all
    assert not registry.wheel_modules("bs4").provides("bs4")
    # pip_install's wheel installs `install`, not `pip_install`
    answer = registry.wheel_modules("pip_install")
    assert answer.found and not answer.provides("pip_install")
    missing = registry.wheel_modules("nbrepro-fixture-no-such-project")
    assert not missing.found and missing.reason == "no such project on PyPI"


def test_registry_answers_are_cached(registry_unreachable):
    os.environ.pop("NBREPRO_PYPI_URL")
    first = registry.wheel_modules("attrs")
    assert first.provides("attr")
    os.environ["NBREPRO_PYPI_URL"] = CLOSED_PORT
    assert registry.wheel_modules("attrs").provides("attr")  # from the cache
    with pytest.raises(registry.RegistryError):
        registry.wheel_modules("attrs", use_cache=False)


# --- names: from the table, the repository, and hostile ones ---------------------------


def test_well_known_import_names_map_to_their_distributions():
    assert distribution_for("sklearn") == "scikit-learn"
    assert distribution_for("cv2") == "opencv-python"
    assert distribution_for("PIL") == "pillow"
    assert distribution_for("yaml") == "PyYAML"
    assert distribution_for("bs4") == "beautifulsoup4"
    assert distribution_for("skimage") == "scikit-image"
    assert distribution_for("requests") == "requests"  # otherwise the same name


@pytest.mark.parametrize("name", ["--index-url", "--index-url=http://127.0.0.1:9/simple",
                                  "../x", "/etc/passwd", "x y", "https://evil/x.whl",
                                  "-e", "git+https://x", "ﬁle"])
def test_names_crafted_as_options_paths_or_urls_never_reach_the_registry(
        name, registry_unreachable, tmp_path):
    assert distribution_for(name) is None
    assert missing_module("ModuleNotFoundError", f"No module named '{name}'") is None
    assert not registry.wheel_modules(name).found
    answer = Restorer(tmp_path).look_up(name)
    assert not answer.accepted and answer.distribution is None
    assert answer.detail == "not a module name"
    assert not list((cache.cache_root() / "registry").glob("*.part"))


def test_the_repositorys_own_modules_and_the_standard_library_are_not_packages(tmp_path):
    (tmp_path / "helpers.py").write_text("")
    (tmp_path / "src" / "mypkg").mkdir(parents=True)
    (tmp_path / "src" / "mypkg" / "__init__.py").write_text("")
    (tmp_path / "lib").mkdir()
    (tmp_path / "lib" / "tools.py").write_text("")
    local = local_modules(tmp_path)
    assert {"helpers", "mypkg", "tools", "lib"} <= local and "src" not in local
    restorer = Restorer(tmp_path)
    for module in ("helpers", "mypkg", "tools", "json", "os"):
        answer = restorer.look_up(module)
        assert not answer.accepted and answer.distribution is None, module
    spec = Spec(imports=["helpers", "mypkg", "yaml", "numpy", "dateutil"],
                requirements=[Requirement("numpy==1.26.4", "requirements.txt")])
    # numpy is declared, python-dateutil is pinned (a dependency): only yaml is missing
    assert uncovered_imports(spec, ["python-dateutil"], restorer.local) == ["yaml"]


def test_an_unverified_name_is_refused_with_the_reason(tmp_path):
    restorer = Restorer(tmp_path)
    absent = restorer.look_up("nbrepro_fixture_absent_module")
    assert not absent.accepted and "no such project on PyPI" in absent.detail
    other = restorer.look_up("pip_install")
    assert not other.accepted and other.distribution == "pip_install"
    assert "provides install, not pip_install" in other.detail
    accepted = restorer.look_up("yaml")
    assert accepted.accepted and accepted.distribution == "PyYAML"
    assert "top_level.txt" in accepted.detail


def test_without_restore_the_hint_names_what_was_read_and_what_was_seen(tmp_path):
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "base.txt").write_text("pyyaml\n")
    (tmp_path / "msy3.environment.yml").write_text("dependencies: [pyyaml]\n")
    (tmp_path / "README.md").write_text("Run `pip install pyyaml` first.\n")
    (tmp_path / "requirements.txt").write_text("numpy\n")
    spec = Spec(files=["requirements.txt"],
                requirements=[Requirement("numpy", "requirements.txt")])
    spec.candidate_files = candidate_files(tmp_path, spec.files)
    assert spec.candidate_files == ["README.md (install commands)", "msy3.environment.yml",
                                    "requirements/base.txt"]
    hint = not_declared_hint("yaml", spec)
    assert hint is not None
    assert "no dependency file declares yaml (read: requirements.txt" in hint
    assert "msy3.environment.yml" in hint and "--restore" in hint
    assert not_declared_hint("numpy", spec) is None  # declared: another problem


# --- end to end: the real command, real environments -----------------------------------


@pytest.mark.slow
def test_restore_installs_verified_distributions_and_says_so(renamed, run_cli):
    result = run_cli("check", "--restore", str(renamed))
    assert result.code == 0, result.stdout + result.stderr
    assert result.json is not None
    nb = result.notebook("analysis.ipynb")
    assert nb["verdict"] == "reproduced"
    assert nb["restored"] == ["PyYAML", "attrs"]
    assert "conda_env.yaml" in result.json["spec"]["files"]  # read under --restore
    assert "reproduced after restoring PyYAML, attrs" in nb["reason"]
    # attrs was needed by the repository's own helpers.py: found by running it
    assert [(a["order"], a["added"], a["exception"]) for a in nb["attempts"]] == [
        ("top-down", [], "ModuleNotFoundError"), ("top-down", ["attrs"], None)]
    assert "No module named 'attr'" in nb["attempts"][0]["message"]
    spec = result.json["spec"]
    inferred = {i["module"]: i for i in spec["inferred"]}
    assert inferred["yaml"]["accepted"] and inferred["yaml"]["distribution"] == "PyYAML"
    assert "top_level.txt of pyyaml-" in inferred["yaml"]["detail"]
    assert inferred["attr"]["notebook"] == "analysis.ipynb"
    assert "helpers" not in inferred  # the repository's own module
    assert [(r["spec"], r["inferred"]) for r in spec["requirements"]] == [
        ("PyYAML", True), ("attrs", True)]
    pins = result.json["lock"]["pins"]
    assert "pyyaml" in pins and "attrs" in pins and "helpers" not in pins
    assert result.json["restore"] == "auto"
    assert "inferred" in result.stdout and "PyYAML" in result.stdout


@pytest.mark.slow
def test_without_restore_module_not_found_says_nothing_declares_it(renamed, run_cli):
    result = run_cli("check", str(renamed))
    assert result.code == 1
    nb = result.notebook("analysis.ipynb")
    assert (nb["verdict"], nb["exception"]) == ("failed", "ModuleNotFoundError")
    assert "no dependency file declares yaml (read: none found" in nb["reason"]
    assert "seen, not read: conda_env.yaml" in nb["reason"]
    assert "--restore would" in nb["reason"]
    assert nb["restored"] == [] and nb["attempts"] == []
    assert result.json is not None and result.json["spec"]["inferred"] == []
    assert result.json["restore"] == "none"


@pytest.mark.slow
def test_unverified_names_are_never_installed(tmp_path, run_cli):
    root = tmp_path / "unverified"
    root.mkdir()
    _notebook(root, "uses.ipynb", [("import pip_install\n1", "1"),
                                   ("import nbrepro_fixture_absent_module\n2", "2")])
    result = run_cli("check", "--restore", str(root))
    assert result.code == 1
    nb = result.notebook("uses.ipynb")
    assert (nb["verdict"], nb["exception"]) == ("failed", "ModuleNotFoundError")
    assert "--restore: nothing installed for pip_install" in nb["reason"]
    assert "provides install, not pip_install" in nb["reason"]
    assert nb["restored"] == []
    assert result.json is not None
    refused = {i["module"]: i for i in result.json["spec"]["inferred"]}
    assert not refused["pip_install"]["accepted"]
    assert "no such project on PyPI" in refused["nbrepro_fixture_absent_module"]["detail"]
    assert result.json["spec"]["requirements"] == []
    assert set(result.json["lock"]["pins"]).isdisjoint({"pip-install", "pip_install"})


@pytest.mark.slow
def test_crafted_module_not_found_messages_never_reach_the_installer(tmp_path, run_cli):
    root = tmp_path / "hostile"
    root.mkdir()
    _notebook(root, "option.ipynb", [
        ("import importlib\nimportlib.import_module('--index-url=http://127.0.0.1:9/simple')",
         None)])
    _notebook(root, "path.ipynb", [
        ("raise ModuleNotFoundError(\"No module named '../x'\")", None)])
    _notebook(root, "extra.ipynb", [
        ("raise ModuleNotFoundError(\"No module named '-e git+https://127.0.0.1:9/x'\")",
         None)])
    result = run_cli("check", "--restore", str(root))
    assert result.code == 1
    assert result.json is not None
    for path in ("option.ipynb", "path.ipynb", "extra.ipynb"):
        nb = result.notebook(path)
        assert nb["exception"] == "ModuleNotFoundError", nb
        assert nb["restored"] == [] and nb["attempts"] == []
    assert result.json["spec"]["requirements"] == []
    assert result.json["spec"]["inferred"] == []
    assert "index-url" not in result.json["lock"]["text"]


def test_restore_takes_a_mode_or_stands_alone(tmp_path, run_cli):
    result = run_cli("check", "--restore=sometimes", str(tmp_path), json_output=False)
    assert result.code == 2 and "sometimes" in result.stderr
    assert "Traceback" not in result.stderr
    # alone, before the path: the path is not taken for its value
    result = run_cli("check", "--restore", str(tmp_path / "absent"), json_output=False)
    assert result.code == 2 and "no such file or directory" in result.stderr


# --- freeze: the fix, handed back --------------------------------------------------------


@pytest.mark.slow
def test_freeze_hands_back_what_reproduced_and_it_reproduces_without_restore(
        renamed, run_cli, tmp_path):
    db = f"sqlite:///{tmp_path / 'freeze.sqlite'}"
    assert run_cli("check", "--restore", str(renamed), "--db", db).code == 0
    before = sorted(p.name for p in renamed.iterdir())

    inside = run_cli("freeze", str(renamed), "--db", db, "--output", str(renamed / "fix"),
                     json_output=False)
    assert inside.code == 2 and "inside the repository" in inside.stderr

    out = tmp_path / "frozen"
    written = run_cli("freeze", str(renamed), "--db", db, "--output", str(out),
                      json_output=False)
    assert written.code == 0, written.stderr
    requirements = (out / "requirements.txt").read_text().splitlines()
    assert any(line.startswith("pyyaml==") and "inferred" in line for line in requirements)
    assert any(line.startswith("attrs==") and "inferred" in line for line in requirements)
    assert not any(line.startswith("helpers") for line in requirements)
    assert (out / "runtime.txt").read_text().startswith("python-3.")
    assert (out / "binder" / "requirements.txt").read_text() == "\n".join(requirements) + "\n"
    again = run_cli("freeze", str(renamed), "--db", db, "--output", str(out),
                    json_output=False)
    assert again.code == 2 and "not an empty folder" in again.stderr

    patch_file = tmp_path / "fix.patch"
    patched = run_cli("freeze", str(renamed), "--db", db, "--patch", str(patch_file),
                      json_output=False)
    assert patched.code == 0, patched.stderr
    assert sorted(p.name for p in renamed.iterdir()) == before  # never into the user's files

    applied = tmp_path / "applied"
    shutil.copytree(renamed, applied)
    subprocess.run(["git", "init", "-q"], cwd=applied, check=True)
    subprocess.run(["git", "apply", str(patch_file)], cwd=applied, check=True)
    assert (applied / "binder" / "requirements.txt").is_file()
    rerun = run_cli("check", str(applied), "--restore", "none")
    assert rerun.code == 0, rerun.stdout + rerun.stderr
    assert rerun.notebook("analysis.ipynb")["verdict"] == "reproduced"
    assert rerun.json is not None and rerun.json["spec"]["inferred"] == []
    assert rerun.json["spec"]["files"][0] == "binder/requirements.txt"


@pytest.mark.slow
def test_freeze_refuses_a_check_that_did_not_reproduce(renamed, run_cli, tmp_path):
    db = f"sqlite:///{tmp_path / 'failed.sqlite'}"
    assert run_cli("check", str(renamed), "--db", db).code == 1
    result = run_cli("freeze", str(renamed), "--db", db, "--patch", "-", json_output=False)
    assert result.code == 2 and "did not reproduce (failed): nothing to freeze" in result.stderr
    assert "Traceback" not in result.stderr


# --- reports: what was inferred is said everywhere ---------------------------------------


def _restored_result() -> CheckResult:
    spec = Spec(imports=["yaml", "pip_install"], requirements=[
        Requirement("numpy==1.26.4", "requirements.txt"),
        Requirement("PyYAML", "inferred from the notebooks' imports", inferred=True)],
        inferred=[InferredImport("yaml", "PyYAML", True, "yaml in the top_level.txt of "
                                 "pyyaml-6.0.4-py3-none-any.whl"),
                  InferredImport("pip_install", "pip_install", False,
                                 "not verified: pip_install-1.3.5-py3-none-any.whl provides "
                                 "install, not pip_install")])
    nb = NotebookResult("a.ipynb", Verdict.REPRODUCED, restored=["PyYAML"],
                        reason="reproduced after restoring PyYAML (declared nowhere)",
                        attempts=[RunAttempt(TOP_DOWN, Verdict.FAILED,
                                             exception="ModuleNotFoundError",
                                             message="No module named 'yaml'"),
                                  RunAttempt(TOP_DOWN, Verdict.REPRODUCED, added=["PyYAML"])])
    return CheckResult(RepositoryInfo("repo"), notebooks=[nb], spec=spec, restore="auto")


def test_reports_and_badge_mark_what_was_inferred():
    result = _restored_result()
    assert result.inferred_requirements == ["PyYAML"]
    mark = badge.grade(result)
    assert mark.message == "reproduced (1 inferred)" and mark.colour == "green"
    assert badge.grade(CheckResult(RepositoryInfo("repo"), notebooks=result.notebooks)
                       ).colour == "brightgreen"
    text = terminal.render(result)
    assert "inferred (--restore; declared nowhere): PyYAML for import yaml" in text
    assert "not restored (never installed unverified): pip_install: not verified" in text
    assert "inferred (--restore" in markdown.render(result)
    assert "PyYAML for import yaml" in html.render(result)
    again = CheckResult.from_dict(result.to_dict())  # as the database keeps it
    assert again.restore == "auto" and again.inferred_requirements == ["PyYAML"]
    assert again.spec is not None and again.spec.inferred[1].accepted is False
    assert again.notebooks[0].restored == ["PyYAML"]
    assert again.notebooks[0].attempts == result.notebooks[0].attempts
    assert again.notebooks[0].attempts[0].verdict is Verdict.FAILED


def test_candidate_files_never_read_through_links_or_fifos(tmp_path):
    outside = tmp_path / "outside.md"
    outside.write_text("pip install secret-package\n")
    root = tmp_path / "repo"
    root.mkdir()
    (root / "README.md").symlink_to(outside)
    os.mkfifo(root / "README.rst")  # reading it would block the check
    (root / "requirements").mkdir()
    (root / "requirements" / "dev.txt").symlink_to(outside)
    found = candidate_files(root, [])
    assert "README.md (install commands)" not in found and "README.rst" not in " ".join(found)
    assert found == ["requirements/dev.txt"]  # named only: the spec stage reads nothing here


def test_with_restore_look_alike_files_and_readme_commands_are_read(tmp_path):
    """Declared under names repo2docker misses: read under --restore, their use listed;
    from a README only plain package words, never options, files, paths or URLs."""
    from nbrepro.stages.restore import read_candidates
    from nbrepro.stages.spec import read_spec

    (tmp_path / "msy3.environment.yml").write_text(
        "dependencies:\n  - python=3.11\n  - pip:\n    - six==1.16.0\n")
    (tmp_path / "requirements").mkdir()
    (tmp_path / "requirements" / "base.txt").write_text("attrs>=23\n")
    (tmp_path / "README.md").write_text(
        "# Study\n\nInstall:\n\n    pip install -r requirements.txt pyyaml 'tqdm>=4' "
        "./local git+https://x/y.git -e . && rm -rf /\n\n    conda install scipy\n"
        "    pip install --index-url https://mirror.example/simple internal-tools\n")
    spec = read_spec(tmp_path)
    spec.candidate_files = candidate_files(tmp_path, spec.files)
    read_candidates(tmp_path, spec)
    where = {r.spec: r.declared_at for r in spec.requirements}
    assert where == {"six==1.16.0": "msy3.environment.yml:4",
                     "attrs>=23": "requirements/base.txt:1",
                     "pyyaml": "README.md:5", "tqdm>=4": "README.md:5"}, where
    assert {"msy3.environment.yml", "requirements/base.txt", "README.md"} <= set(spec.files)
    assert spec.candidate_files == []
