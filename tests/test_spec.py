"""The spec stage: declared dependencies, found the way repo2docker finds them."""

from __future__ import annotations

from pathlib import Path

import pytest

from nbrepro.stages.spec import read_spec, translate_line


def files(root: Path, **content: str) -> Path:
    for name, text in content.items():
        path = root / name.replace("__", "/")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def specs(spec) -> list[tuple[str, str]]:
    return [(r.spec, r.source) for r in spec.requirements]


@pytest.mark.parametrize("line, spec", [
    ("numpy==1.21.0", "numpy==1.21.0"),
    ("numpy=1.21.0=py39h1234_0", "numpy==1.21.0.*"),  # conda export format
    ("pandas=1.3", "pandas==1.3.*"),
    ("scikit-learn>=0.24  # comment", "scikit-learn>=0.24"),
    ("requests[socks]>=2; python_version >= '3'", 'requests[socks]>=2; python_version >= "3"'),
])
def test_requirement_lines(line, spec):
    assert translate_line(line) == (spec, None)


def test_unparsable_lines_are_skipped_with_a_reason():
    spec, why = translate_line("this is not a requirement!")
    assert spec is None and "not a valid requirement" in why
    assert translate_line("# only a comment") == (None, None)


def test_requirements_files_with_includes_and_the_project_itself(tmp_path):
    root = files(tmp_path, **{
        "requirements.txt": "-r base.txt\nmatplotlib\n--index-url https://x\n-e .\n",
        "base.txt": "numpy==1.26.4\n",
        "requirements-dev.txt": "pytest\n",
        "setup.py": "from setuptools import setup\nsetup(name='x')\n",
    })
    spec = read_spec(root)
    assert specs(spec) == [("numpy==1.26.4", "base.txt"), ("matplotlib", "requirements.txt"),
                           ("pytest", "requirements-dev.txt")]
    assert spec.local_project == "."
    assert spec.files == ["requirements.txt", "requirements-dev.txt", "setup.py"]
    assert any("--index-url" in s for s in spec.skipped)


def test_binder_folder_wins_over_the_root(tmp_path):
    root = files(tmp_path, **{"requirements.txt": "numpy\n",
                              "binder__requirements.txt": "scipy==1.11.0\n",
                              "binder__runtime.txt": "python-3.8\n",
                              "binder__apt.txt": "libgl1 # for opencv\n",
                              "binder__postBuild": "echo hi\n"})
    spec = read_spec(root)
    assert specs(spec) == [("scipy==1.11.0", "binder/requirements.txt")]
    assert spec.python_version == "3.8"
    assert spec.apt_packages == ["libgl1"]
    assert spec.post_build == "binder/postBuild"


def test_environment_yml_maps_conda_names_and_keeps_pip(tmp_path):
    root = files(tmp_path, **{"environment.yml": """
name: analysis
channels: [conda-forge]
dependencies:
  - python=3.9
  - numpy=1.21
  - conda-forge::pytorch>=1.10
  - matplotlib-base
  - cudatoolkit=11.3
  - libgcc-ng
  - pip
  - pip:
    - seaborn==0.11.2
"""})
    spec = read_spec(root)
    assert spec.python_version == "3.9"
    assert specs(spec) == [("numpy==1.21.*", "environment.yml"),
                           ("torch>=1.10", "environment.yml"),
                           ("matplotlib", "environment.yml"),
                           ("seaborn==0.11.2", "environment.yml")]
    skipped = " ".join(spec.skipped)
    assert "cudatoolkit" in skipped and "libgcc-ng" in skipped


def test_malformed_environment_yml_is_recorded_not_raised(tmp_path):
    spec = read_spec(files(tmp_path, **{"environment.yml": "dependencies: [unclosed"}))
    assert spec.requirements == [] and "not valid YAML" in spec.skipped[0]


def test_pipfile_lock_wins_over_pipfile(tmp_path):
    root = files(tmp_path, **{
        "Pipfile": '[packages]\nrequests = "*"\n[requires]\npython_version = "3.7"\n',
        "Pipfile.lock": '{"_meta": {"requires": {"python_version": "3.7"}}, "default": '
                        '{"requests": {"version": "==2.25.1"}, "idna": {"version": "==2.10"}}}',
    })
    spec = read_spec(root)
    assert specs(spec) == [("requests==2.25.1", "Pipfile.lock"), ("idna==2.10", "Pipfile.lock")]
    assert spec.python_version == "3.7" and spec.files == ["Pipfile.lock"]


def test_pipfile_alone(tmp_path):
    root = files(tmp_path, Pipfile='[packages]\nrequests = "*"\nnumpy = {version = ">=1.20"}\n'
                                   'mylib = {path = "."}\n')
    spec = read_spec(root)
    assert specs(spec) == [("requests", "Pipfile"), ("numpy>=1.20", "Pipfile")]
    assert any("mylib" in s for s in spec.skipped)


def test_a_tool_only_pyproject_is_not_a_project(tmp_path):
    spec = read_spec(files(tmp_path, **{"pyproject.toml": "[tool.black]\nline-length = 88\n"}))
    assert spec.local_project is None and spec.files == []
    spec = read_spec(files(tmp_path, **{"pyproject.toml": "[project]\nname = 'x'\n"
                                                          "requires-python = '>=3.10'\n"}))
    assert spec.local_project == "." and spec.python_version == "3.10"


def test_imports_are_recorded_beside_declarations(tmp_path):
    spec = read_spec(files(tmp_path, **{"requirements.txt": "numpy\n"}), ["pandas", "numpy"])
    assert spec.imports == ["numpy", "pandas"]


def test_undeclared_imports_leave_out_declared_aliased_and_local_modules(tmp_path):
    (tmp_path / "requirements.txt").write_text("pandas==2.0\nscikit-learn\nPyYAML\n")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "helpers.py").write_text("X = 1\n")  # the repository's own
    (tmp_path / "src" / "study").mkdir(parents=True)
    # a link out of the repository is not walked into (nor a loop)
    (tmp_path / "loop").symlink_to(tmp_path, target_is_directory=True)
    imports = {"pandas", "sklearn", "yaml", "helpers", "study", "seaborn", "IPython", "numpy"}
    spec = read_spec(tmp_path, imports)
    assert spec.undeclared_imports == ["numpy", "seaborn"]
    assert spec.imports == sorted(imports)


def test_requirements_keep_the_line_that_declared_them(tmp_path):
    (tmp_path / "requirements.txt").write_text(
        "# analysis\nnumpy==1.26.4\n\n-r extra.txt\npandas>=2  # tables\nnot a requirement!\n")
    (tmp_path / "extra.txt").write_text("\n\nsix==1.16.0\n")
    spec = read_spec(tmp_path)
    where = {r.spec: r.declared_at for r in spec.requirements}
    assert where == {"numpy==1.26.4": "requirements.txt:2", "six==1.16.0": "extra.txt:3",
                     "pandas>=2": "requirements.txt:5"}
    assert any(s.startswith("requirements.txt:6: ") for s in spec.skipped), spec.skipped


@pytest.mark.parametrize(("text", "version"), [
    ("3.9.7\n", "3.9.7"), ("3.10\n3.9\n", "3.10"), ("system\n", None),
    ("3.9.7/envs/analysis\n", None), ("./evil\n", None), ("", None),
])
def test_python_version_file(tmp_path, text, version):
    (tmp_path / ".python-version").write_text(text)
    spec = read_spec(tmp_path)
    assert spec.python_version == version
    assert (".python-version" in spec.files)


def test_structured_files_give_the_line_that_names_the_package(tmp_path):
    (tmp_path / "environment.yml").write_text(
        "name: study\ndependencies:\n  - python=3.11\n  - scikit_learn=1.3\n  - pip\n"
        "  - pip:\n    - six==1.16.0\n")
    spec = read_spec(tmp_path)
    where = {r.spec.split("=")[0].rstrip("<>!~"): r.declared_at for r in spec.requirements}
    assert where["scikit_learn"] == "environment.yml:4", where
    assert where["six"] == "environment.yml:7", where
