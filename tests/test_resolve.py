"""The resolve stage: parsing resolver output, and the resolvers for real where a
cut-off date is involved."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nbrepro.errors import ToolError
from nbrepro.isolation.tools import uv_binary
from nbrepro.stages.resolve import (
    ResolverRun,
    UvResolver,
    _compile,
    blame,
    parse_pins,
    short_message,
)
from tests.conftest import REPOS

UV_FAILURE = """  \u00d7 No solution found when resolving dependencies:
  ╰─▶ Because there is no version of scikit_learn==0.0.1 and you require
      scikit-learn==0.0.1, we can conclude that your requirements are unsatisfiable."""


def test_blame_names_the_requirement_the_resolver_mentions_first():
    reqs = ["numpy==1.26.4", "scikit-learn==0.0.1", "ipykernel"]
    assert blame(UV_FAILURE, reqs) == "scikit-learn==0.0.1"  # `_` and `-` are one name
    assert blame("error: numpy-financial not found", ["numpy", "numpy-financial"]) \
        == "numpy-financial"  # not the prefix `numpy`
    assert blame("network unreachable", reqs) is None


def test_short_message_picks_the_telling_line():
    assert short_message(UV_FAILURE).startswith("Because there is no version of scikit_learn")
    assert short_message("\x1b[31merror:\x1b[0m Failed to build `x`") == \
        "error: Failed to build `x`"
    assert short_message(None) == ""


def test_parse_pins_reads_exact_pins_only():
    text = "numpy==1.26.4 \\\n    --hash=sha256:abc\nPyYAML==6.0.1\nfoo @ file:///x\n" \
           "scikit_learn[extra]==1.4.0 ; python_version >= '3.9'\n"
    assert parse_pins(text) == {"numpy": "1.26.4", "pyyaml": "6.0.1", "scikit-learn": "1.4.0"}


# -- a cut-off date applies to the repository's requirements, never to the kernel ----

DATE = "2019-01-01"  # six 1.12.0 was the newest six then; ipykernel 5.1, pyzmq 17


def _dated_repo(tmp_path: Path) -> Path:
    root = tmp_path / "dated"
    shutil.copytree(REPOS / "reproduces", root)
    (root / "requirements.txt").write_text("six\n")
    return root


def _major(version: str) -> int:
    return int(version.split(".")[0])


@pytest.mark.slow
def test_exclude_newer_cuts_the_repository_requirements_not_the_kernel(tmp_path, run_cli):
    result = run_cli("check", str(_dated_repo(tmp_path)), "--exclude-newer", DATE,
                     "--no-cache")
    assert result.code == 0, result.stdout + result.stderr
    lock = result.json["lock"]
    assert lock["pins"]["six"] == "1.12.0"  # as of the date
    kernel = lock["kernel_pins"]
    assert _major(kernel["ipykernel"]) >= 6 and _major(kernel["pyzmq"]) >= 25  # installable
    assert "six" not in kernel
    assert lock["exclude_newer"] == DATE
    assert "kernel packages nbrepro added, not cut off by --exclude-newer" in result.stdout
    again = run_cli("check", str(_dated_repo(tmp_path / "2")), "--exclude-newer", DATE)
    assert again.json["lock"]["cached"] and again.json["lock"]["kernel_pins"] == kernel


@pytest.mark.slow
def test_pip_tools_with_exclude_newer_uses_a_pip_that_knows_the_date(tmp_path):
    # The machine's own pip configuration adds a local mirror without upload dates.
    env = dict(os.environ, PIP_CONFIG_FILE=os.devnull, PIP_FIND_LINKS="")
    out = tmp_path / "r.json"
    proc = subprocess.run(
        [sys.executable, "-m", "nbrepro", "check", str(_dated_repo(tmp_path)), "--resolver",
         "pip-tools", "--exclude-newer", DATE, "--no-cache", "--json", str(out)],
        capture_output=True, text=True, env=env, timeout=900)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    lock = json.loads(out.read_text())["lock"]
    assert lock["resolver"] == "pip-tools" and lock["ok"]
    assert lock["pins"]["six"] == "1.12.0"
    assert _major(lock["kernel_pins"]["ipykernel"]) >= 6


@pytest.mark.slow
def test_pip_tools_with_exclude_newer_and_an_old_pip_is_refused_up_front(tmp_path):
    """In an installation whose pip predates `--uploaded-prior-to`: exit 2 before any
    work, never the repository's `install-failed`."""
    import site
    import sysconfig

    venv = tmp_path / "old-pip"
    uv = uv_binary()
    subprocess.run([uv, "venv", "-q", "--python", sys.executable, str(venv)], check=True)
    subprocess.run([uv, "pip", "install", "-q", "--python", str(venv / "bin" / "python"),
                    "pip==23.3.2"], check=True)
    # everything else nbrepro needs comes from this interpreter's site-packages, after
    # the old pip
    purelib = Path(sysconfig.get_paths(vars={"base": str(venv), "platbase": str(venv)})
                   ["purelib"])
    # (an editable install's own .pth files are not read from a folder a .pth adds:
    # name nbrepro's source folder too)
    import nbrepro

    paths = [str(Path(nbrepro.__file__).resolve().parents[1]), *site.getsitepackages()]
    (purelib / "zz-nbrepro.pth").write_text("\n".join(paths) + "\n")
    db = tmp_path / "db.sqlite"
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "nbrepro", "check", str(_dated_repo(tmp_path)),
         "--resolver", "pip-tools", "--exclude-newer", DATE, "--db", f"sqlite:///{db}"],
        capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "needs pip >= 26" in proc.stderr and "pip 23.3.2" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert not db.exists() or _count_runs(db) == 0  # nothing was judged


def test_a_tool_called_wrongly_is_nbrepros_error_not_the_repositorys(tmp_path):
    class WrongUv(UvResolver):
        name = "uv"

        def compile(self, requirements_in: Path, python_version: str,
                    exclude_newer: str | None, forward: tuple[str, ...] = ()) -> ResolverRun:
            cmd = [uv_binary(), "pip", "compile", str(requirements_in), "--no-such-flag"]
            return self._run(cmd, requirements_in.parent)

    (tmp_path / "run").mkdir()
    with pytest.raises(ToolError, match="not the repository's doing"):
        _compile(WrongUv(), tmp_path / "run" / "x", ["six"], "3.11", None)


def _count_runs(db: Path) -> int:
    import sqlite3

    try:
        return sqlite3.connect(db).execute("select count(*) from runs").fetchone()[0]
    except sqlite3.Error:
        return 0


# -- why a resolution failed: a cause in a fixed vocabulary, from real resolutions ----

def _resolve_lines(*lines: str):
    from nbrepro.model import Requirement, Spec
    from nbrepro.stages.resolve import resolve

    spec = Spec(requirements=[Requirement(spec=line, source="requirements.txt", line=number)
                              for number, line in enumerate(lines, 1)])
    return spec, resolve(spec, "3.11", use_cache=False)


@pytest.mark.slow
@pytest.mark.parametrize(("lines", "failed", "cause", "says"), [
    (("nbrepro-fixture-no-such-package==1.0.0",), "nbrepro-fixture-no-such-package==1.0.0",
     "not-found", "no such package on the package index"),
    (("six==0.0.999",), "six==0.0.999", "no-matching-version",
     "no such version on the package index"),
    (("requests==2.31.0", "urllib3==1.20"), "requests==2.31.0", "conflict",
     "the requirements conflict"),
    # only wheels for CPython 2.7 and 3.5-3.7, no source to build
    (("six", "tensorflow==1.15.0"), "tensorflow==1.15.0", "no-wheel-for-python",
     "no wheel for Python 3.11"),
    # its sdist says it is version 0.0.1.0.1
    (("backports.functools-lru-cache==1.0.1",), "backports.functools-lru-cache==1.0.1",
     "invalid-metadata", "its published metadata is invalid"),
    # a download from a closed port of this machine
    (("six", "tiny @ http://127.0.0.1:9/tiny-1.0.tar.gz"),
     "tiny @ http://127.0.0.1:9/tiny-1.0.tar.gz", "network",
     "the package index could not be reached"),
])
def test_a_failed_resolution_names_the_requirement_and_its_cause(lines, failed, cause, says):
    from nbrepro.stages.install_failure import describe

    spec, lock = _resolve_lines(*lines)
    assert not lock.ok
    assert lock.failed_requirement == failed, lock.message
    failure = describe("could not resolve", lock, spec, "3.11")
    assert (failure.cause.value, lock.cause) == (cause, cause), lock.message
    line = lines.index(failed) + 1
    assert failure.reason == (f"could not resolve {failed} (declared in "
                              f"requirements.txt:{line}): {cause} ({says})")
    assert failure.detail and failure.detail in short_message(lock.message)


def test_causes_from_messages_uv_and_pip_write():
    from nbrepro.stages.install_failure import failing_name, install_cause

    uv_build = ("Resolved 40 packages in 1s\n   Building numpy==1.14.3\nerror: Failed to build "
                "`numpy==1.14.3`\n  cause: The build backend returned an error\n"
                "  File \"notebook/app.py\"\n")
    assert install_cause(uv_build).value == "no-wheel-for-python"
    assert failing_name(uv_build) == "numpy"
    local = "error: Failed to build `demo @ file:///tmp/x/demo`\n  cause: The build backend"
    assert install_cause(local).value == "build-error"
    pip = ("ERROR: Could not find a version that satisfies the requirement six==0.0.9 (from "
           "versions: 1.0.0, 1.1.0)\nERROR: No matching distribution found for six==0.0.9")
    assert install_cause(pip).value == "no-matching-version"
    assert install_cause("ERROR: Could not find a version that satisfies the requirement "
                         "nope (from versions: none)").value == "not-found"
    assert install_cause("ERROR: ResolutionImpossible: ...").value == "conflict"
    assert install_cause("installing took longer than 1800 s").value == "other"
    assert install_cause(None).value == "other"


def test_blame_prefers_the_package_the_tool_says_failed():
    # the message mentions notebook (a dependency of jupyter) before numpy, which failed
    message = ("Resolved notebook==7.0.0 and 80 more\nerror: Failed to build `numpy==1.14.3`\n"
               "  cause: The build backend returned an error")
    assert blame(message, ["jupyter==1.0.0", "notebook==7.0.0", "numpy==1.14.3"]) \
        == "numpy==1.14.3"
