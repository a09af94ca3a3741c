"""`nbrepro freeze`: hand back what made a repository reproduce.

From a finished check in which every notebook reproduced: `requirements.txt` with
the versions that worked (the repository's requirements first, those `--restore`
inferred marked by a comment, then what they were resolved with), `runtime.txt`
with the Python it ran on, and the same in a `binder/` folder (with the repository's
`apt.txt` and `postBuild`, which a `binder/` folder would otherwise hide).

Written into a new folder, or as a patch `git apply` takes in the repository; never
into the repository itself.
"""

from __future__ import annotations

import difflib
import os
from pathlib import Path

from packaging.utils import canonicalize_name

from nbrepro.errors import InputError
from nbrepro.model import CheckResult
from nbrepro.stages.source import read_repo_text
from nbrepro.stages.spec import requirement_name

INFERRED_COMMENT = "  # inferred by nbrepro --restore: the repository does not declare it"


def frozen_files(result: CheckResult, root: Path) -> dict[str, str]:
    """Relative path -> text of every file `freeze` writes, for a check that
    reproduced. Raises `InputError` for a check that did not."""
    check = f"check {result.check_id}" if result.check_id is not None else "the check"
    if not result.passed():
        verdict = result.verdict.value if result.verdict else "nothing checked"
        raise InputError(f"{check} did not reproduce ({verdict}): nothing to freeze")
    lock, spec, env = result.lock, result.spec, result.environment
    if lock is None or not lock.ok or spec is None or env is None or not env.python_version:
        raise InputError(f"{check} has no environment that worked: nothing to freeze")
    pins = dict(lock.pins)
    lines = [f"# The versions with which every notebook reproduced ({check}, "
             f"nbrepro {result.nbrepro_version}).", ""]
    for req in spec.requirements:
        name = requirement_name(req.spec)
        version = pins.pop(name, None)
        line = f"{name}=={version}" if version else req.spec
        lines.append(line + (INFERRED_COMMENT if req.inferred else ""))
    if pins:
        lines += ["", "# what they were resolved with"]
        lines += [f"{name}=={version}" for name, version in sorted(pins.items())
                  if canonicalize_name(name) not in lock.kernel_pins]
    if spec.local_project == ".":
        lines += ["", "# the repository itself", "."]
    requirements = "\n".join(lines) + "\n"
    runtime = "python-{}\n".format(".".join(env.python_version.split(".")[:2]))
    files = {"requirements.txt": requirements, "runtime.txt": runtime,
             "binder/requirements.txt": requirements, "binder/runtime.txt": runtime}
    if spec.apt_packages:
        files["binder/apt.txt"] = "\n".join(spec.apt_packages) + "\n"
    if spec.post_build:
        try:
            files["binder/postBuild"] = read_repo_text(root, spec.post_build)
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"{spec.post_build}: cannot be copied into binder/: {exc}") from None
    return files


def write_folder(files: dict[str, str], folder: Path) -> None:
    """Write into `folder`, which must be new or empty (nothing is overwritten)."""
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise InputError(f"--output {folder}: not an empty folder (nothing is overwritten)")
    try:
        for rel, text in files.items():
            target = folder / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text)
    except OSError as exc:
        raise InputError(f"--output {folder}: cannot write: {exc.strerror}") from None


def patch(files: dict[str, str], root: Path) -> str:
    """A patch, for `git apply` in the repository, that makes its files these."""
    parts: list[str] = []
    for rel, new in sorted(files.items()):
        path = root / rel
        old: str | None = None
        if os.path.lexists(path):
            try:
                old = read_repo_text(root, rel)
            except (OSError, UnicodeDecodeError) as exc:
                raise InputError(f"{rel}: cannot be patched: {exc}") from None
        if old == new:
            continue
        parts.append(_file_diff(rel, old, new))
    return "".join(parts)


def _file_diff(rel: str, old: str | None, new: str) -> str:
    head = f"diff --git a/{rel} b/{rel}\n"
    if old is None:
        head += "new file mode 100644\n"
    body = difflib.unified_diff(_lines(old or ""), _lines(new),
                                "/dev/null" if old is None else f"a/{rel}", f"b/{rel}")
    return head + "".join(body)


def _lines(text: str) -> list[str]:
    """Lines with their ends; a last line without one is marked as git marks it."""
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n\\ No newline at end of file\n"
    return lines
