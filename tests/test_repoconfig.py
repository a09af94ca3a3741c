"""`[tool.nbrepro]` in the audited repository's pyproject.toml."""

from __future__ import annotations

from pathlib import Path

import pytest

from nbrepro import repoconfig
from nbrepro.compare import NORMALISERS, CompareOptions
from nbrepro.errors import ConfigError

FULL = """
[tool.nbrepro]
rtol = 1e-3
atol = 1e-6
image-threshold = 0.7
disable = ["collection-order"]
ignore = ['Run id: \\w+', {regex = 'loss: [\\d.]+', replace = 'loss: L'}]
sanitize-with = "ci/sanitize.cfg"

[tool.nbrepro.notebooks."examples/**/*.ipynb"]
enable = ["collection-order"]
atol = 0.5

[tool.nbrepro.notebooks."examples/slow.ipynb"]
skip = true
lax = true
"""


def write(root: Path, pyproject: str, files: dict[str, str] | None = None) -> Path:
    (root / "pyproject.toml").write_text(pyproject)
    for name, text in (files or {}).items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return root


def test_no_pyproject_gives_defaults(tmp_path):
    config = repoconfig.load(tmp_path)
    assert config.options_for("a.ipynb") == CompareOptions()
    assert not config.skipped("a.ipynb")


def test_full_table(tmp_path):
    write(tmp_path, FULL, {"ci/sanitize.cfg": "regex: \\d+ ms\nreplace: T\n"})
    config = repoconfig.load(tmp_path)
    top = config.options_for("analysis.ipynb")
    assert (top.rtol, top.atol, top.image_threshold) == (1e-3, 1e-6, 0.7)
    assert "collection-order" not in top.normalisers
    assert [(s.pattern.pattern, s.replace) for s in top.sanitizers] == [
        ("\\d+ ms", "T"),
        ("Run id: \\w+", "<ignored>"),
        ("loss: [\\d.]+", "loss: L"),
    ]
    nested = config.options_for("examples/deep/er/plot.ipynb")
    assert nested.atol == 0.5 and nested.rtol == 1e-3
    assert "collection-order" in nested.normalisers
    assert nested.normalisers == [n for n in NORMALISERS if n in nested.normalisers]
    slow = config.options_for(tmp_path / "examples" / "slow.ipynb")  # absolute path works
    assert slow.lax and config.skipped("examples/slow.ipynb")
    assert not config.skipped("examples/fast.ipynb")


def test_globs():
    regex = repoconfig._glob_regex
    assert regex("*.ipynb").fullmatch("a.ipynb") and not regex("*.ipynb").fullmatch("d/a.ipynb")
    assert regex("**/*.ipynb").fullmatch("a.ipynb") and regex("**/*.ipynb").fullmatch("d/e/a.ipynb")
    assert regex("nb?.ipynb").fullmatch("nb1.ipynb") and not regex("nb?.ipynb").fullmatch(
        "nb10.ipynb"
    )


def test_sanitize_file_from_pytest_addopts(tmp_path):
    (tmp_path / "setup.cfg").write_text(
        "[tool:pytest]\naddopts = --nbval --nbval-sanitize-with docs/san.cfg\n"
    )
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / "san.cfg").write_text("regex: 0x[0-9a-f]+\nreplace: ADDR\n")
    options = repoconfig.load(tmp_path).options_for("x.ipynb")
    assert [s.replace for s in options.sanitizers] == ["ADDR"]


def test_missing_sanitize_file_in_pytest_addopts_is_ignored(tmp_path):
    (tmp_path / "pytest.ini").write_text("[pytest]\naddopts = --sanitize-with gone.cfg\n")
    assert repoconfig.load(tmp_path).options_for("x.ipynb").sanitizers == []


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ("rtol = 'small'", "rtol must be a number"),
        ("atol = -1", "atol must be a number >= 0"),
        ("image-threshold = 2", "image-threshold must be at most 1"),
        ("image_threshold = 0.5", "did you mean 'image-threshold'"),
        ("disable = ['no-such-normaliser']", "unknown normaliser"),
        ("disable = 'memory-address'", "must be a list of strings"),
        ("ignore = ['(unclosed']", "invalid sanitizer regex"),
        ("ignore = [{regex = 'x', with = 'y'}]", "unknown key"),
        ("ignore = [3]", "each entry must be a regex"),
        ("sanitize-with = 'missing.cfg'", "no such file"),
        ("lax = 'yes'", "lax must be true or false"),
        ("notebooks = 3", "notebooks must be a table"),
        ("[tool.nbrepro.notebooks.'a.ipynb']\nskip = 1", "skip must be true or false"),
    ],
)
def test_malformed_config_is_a_one_line_config_error(tmp_path, table, message):
    header = "" if table.startswith("[") else "[tool.nbrepro]\n"
    write(tmp_path, header + table + "\n")
    with pytest.raises(ConfigError, match=message) as error:
        repoconfig.load(tmp_path)
    assert "\n" not in str(error.value)


def test_invalid_toml_is_a_config_error(tmp_path):
    write(tmp_path, "[tool.nbrepro\n")
    with pytest.raises(ConfigError, match="invalid TOML"):
        repoconfig.load(tmp_path)


def test_warnings_strict_makes_new_warnings_count(tmp_path):
    from nbrepro.compare import OutputComparer
    from nbrepro.model import CellStatus

    warning = "/lib/io.py:7: UserWarning: Could not infer format\n  df = load()\n"
    stored = {
        "cell_type": "code",
        "source": "df",
        "metadata": {},
        "outputs": [{"output_type": "stream", "name": "stdout", "text": "3 rows\n"}],
    }
    new = {
        **stored,
        "outputs": [
            *stored["outputs"],
            {"output_type": "stream", "name": "stderr", "text": warning},
        ],
    }
    default = repoconfig.load(tmp_path).options_for("a.ipynb")
    reported = OutputComparer(default).compare_cell(stored, new)
    assert reported.status is CellStatus.EQUIVALENT and reported.reason == "warnings"
    assert reported.warnings == ["UserWarning: Could not infer format"]

    write(
        tmp_path,
        '[tool.nbrepro]\nwarnings = "strict"\n'
        '[tool.nbrepro.notebooks."lenient/*.ipynb"]\nwarnings = "report"\n',
    )
    config = repoconfig.load(tmp_path)
    strict = OutputComparer(config.options_for("a.ipynb")).compare_cell(stored, new)
    assert strict.status is CellStatus.EXTRA_OUTPUT
    assert strict.warnings == ["UserWarning: Could not infer format"]
    assert "warnings" in config.options_for("lenient/b.ipynb").normalisers


def test_warnings_mode_is_checked(tmp_path):
    write(tmp_path, '[tool.nbrepro]\nwarnings = "loud"\n')
    with pytest.raises(ConfigError, match="warnings must be one of 'report', 'strict'"):
        repoconfig.load(tmp_path)
BAD_AND_GOOD = """
[tool.nbrepro]
rtol = "abc"
rtl = 1e-3
atol = 1e-4
ignore = ['(unclosed', 'Run id: \\w+']
disable = ["collection-order", "no-such-normaliser"]

[tool.nbrepro.notebooks."skipme.ipynb"]
skip = true
"""


def test_lenient_load_names_every_problem_and_keeps_the_valid_keys(tmp_path):
    write(tmp_path, BAD_AND_GOOD)
    config = repoconfig.load(tmp_path, strict=False)
    problems = "\n".join(config.problems)
    assert len(config.problems) == 4, problems
    for needle in ("rtol must be a number", "unknown key 'rtl'", "invalid sanitizer regex",
                   "no-such-normaliser"):
        assert needle in problems
    assert all(p.startswith("pyproject.toml [tool.nbrepro]") for p in config.problems)
    options = config.options_for("a.ipynb")
    assert options.atol == 1e-4 and options.rtol == CompareOptions().rtol
    assert [s.pattern.pattern for s in options.sanitizers] == ["Run id: \\w+"]
    assert "collection-order" not in options.normalisers
    assert config.skipped("skipme.ipynb")
    with pytest.raises(ConfigError, match="unknown key 'rtl'"):
        repoconfig.load(tmp_path)  # strict: the first problem raises


def test_lenient_load_of_broken_toml_is_one_problem(tmp_path):
    write(tmp_path, "[tool.nbrepro\nrtol = 1\n")
    config = repoconfig.load(tmp_path, strict=False)
    assert len(config.problems) == 1 and "invalid TOML" in config.problems[0]
    assert config.options_for("a.ipynb") == CompareOptions()


def _repo_with(tmp_path: Path, pyproject: str) -> Path:
    import shutil

    from tests.conftest import REPOS

    root = tmp_path / "repo"
    shutil.copytree(REPOS / "reproduces", root)
    shutil.copy(root / "analysis.ipynb", root / "skipme.ipynb")
    (root / "pyproject.toml").write_text(pyproject)
    return root


@pytest.mark.slow
def test_check_warns_on_stderr_per_problem_and_keeps_the_valid_keys(tmp_path, run_cli):
    result = run_cli("check", str(_repo_with(tmp_path, BAD_AND_GOOD)))
    warnings = [ln for ln in result.stderr.splitlines() if ln.startswith("nbrepro: warning:")]
    assert len(warnings) == 4, result.stderr
    assert any("pyproject.toml [tool.nbrepro]: unknown key 'rtl'" in w for w in warnings)
    assert any("rtol must be a number >= 0, got 'abc'" in w for w in warnings)
    assert result.json["warnings"] and len(result.json["warnings"]) == 4
    # the valid per-notebook table still applies: a skip does not fail the run
    skipped = result.notebook("skipme.ipynb")
    assert skipped["verdict"] == "not-checked" and skipped["skipped"] is True
    assert result.notebook("analysis.ipynb")["verdict"] == "reproduced"
    assert result.code == 0, result.stdout
    assert "unknown key 'rtl'" in result.stdout  # the table's notes repeat it


@pytest.mark.slow
def test_broken_toml_is_a_warning_and_strict_config_makes_it_an_error(tmp_path, run_cli):
    root = _repo_with(tmp_path, "[tool.nbrepro\n")
    lenient = run_cli("check", str(root))
    assert "nbrepro: warning: pyproject.toml: invalid TOML" in lenient.stderr
    assert lenient.notebook("analysis.ipynb")["verdict"] == "reproduced"
    strict = run_cli("check", str(root), "--strict-config", json_output=False)
    assert strict.code == 2 and "Traceback" not in strict.stderr
    assert "invalid TOML" in strict.stderr
