"""Where a check's notebooks come from: a local folder, one notebook, or a git URL.

A git URL is cloned (shallow) into the cache and its commit recorded. Runs never
happen here: `scratch_copy` makes the writable copy that notebooks run in, so the
user's files are never modified. `read_repo_file` is the one way nbrepro reads a
file of the audited repository (dependency files, settings, sanitize files): only
regular files inside it, whatever links point elsewhere.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from nbrepro import cache
from nbrepro.errors import InputError, RepositoryFileError
from nbrepro.model import RepositoryInfo
from nbrepro.stages.scan import SKIP_DIRS

GIT_TIMEOUT = 600
# The largest repository file nbrepro reads (dependency files, settings).
REPO_FILE_LIMIT = 16 * 1024**2
_URL = re.compile(r"^(?:[a-z][a-z0-9+.\-]*://|git@[^:]+:)", re.I)


@dataclass
class Source:
    root: Path  # the repository folder (a cached clone for URLs)
    selected: list[str] | None  # notebooks to check (relative); None means all
    info: RepositoryInfo


def is_url(text: str) -> bool:
    return bool(_URL.match(text))


def open_source(text: str, within: Path | None = None) -> Source:
    """The repository `text` names. For a single notebook, the repository is the git
    work tree around it, searched no higher than `within`."""
    if is_url(text):
        root, commit = clone(text)
        return Source(root, None, RepositoryInfo(source=text, commit=commit, path=str(root)))
    path = Path(text).expanduser()
    if not path.exists():
        raise InputError(f"no such file or directory: {text}")
    path = path.resolve()
    if path.is_file():
        if path.suffix != ".ipynb":
            raise InputError(f"not a notebook or a directory: {text}")
        if any(path.parent == h or path.parent in h.parents
               for h in map(Path, map(os.path.realpath, _user_homes()))):
            raise InputError(f"{text}: a notebook directly in the home folder (or above it) "
                             "cannot be checked alone: its folder would be copied whole; "
                             "move it into a folder of its own")
        root = _project_root(path.parent, within)
        selected: list[str] | None = [path.relative_to(root).as_posix()]
    elif path.is_dir():
        root, selected = path, None
    else:
        raise InputError(f"not a notebook or a directory: {text}")
    return Source(root, selected, RepositoryInfo(source=text, commit=git_commit(root),
                                                 path=str(root)))


def _project_root(folder: Path, within: Path | None = None) -> Path:
    """For a single notebook: the enclosing git work tree, else its own folder.

    The search stops at `within` (the Jupyter server's root; the filesystem root for
    the command line) and never takes a folder that holds the user's home: a home
    kept in git must not be copied whole into a scratch folder."""
    limit = Path(os.path.realpath(within)) if within is not None else None
    homes = {Path(os.path.realpath(p)) for p in _user_homes()}
    for candidate in (folder, *folder.parents):
        if limit is not None and candidate != limit and limit not in candidate.parents:
            break
        if any(candidate == home or candidate in home.parents for home in homes):
            break
        if (candidate / ".git").exists():
            return candidate
        if candidate == limit:
            break
    return folder


def _user_homes() -> list[Path]:
    from nbrepro.isolation.sandbox import user_homes

    return user_homes()


# A repository's own .git/config must not make git run a program here.
_GIT_SAFE = ["-c", "core.fsmonitor=false", "-c", f"core.hooksPath={os.devnull}"]


def _git(args: list[str], cwd: Path | None = None, timeout: float = GIT_TIMEOUT) -> str:
    env = dict(os.environ, GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="true")
    proc = subprocess.run(["git", *_GIT_SAFE, *args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)
    if proc.returncode != 0:
        lines = [ln for ln in (proc.stderr or proc.stdout).strip().splitlines() if ln.strip()]
        last = lines[-1] if lines else ""
        raise subprocess.CalledProcessError(proc.returncode, args, output=last)
    return proc.stdout.strip()


def git_commit(folder: Path) -> str | None:
    try:
        return _git(["rev-parse", "HEAD"], cwd=folder, timeout=30) or None
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError):
        return None


def clone(url: str) -> tuple[Path, str | None]:
    """A shallow clone of `url`'s default branch, cached and refreshed on each check."""
    target = cache.entry("clones", cache.content_key("clone", url))
    with cache.locked(target):
        tmp = Path(tempfile.mkdtemp(prefix="clone-", dir=target.parent))
        try:
            _git(["clone", "--quiet", "--depth", "1", "--no-tags", url, str(tmp / "repo")])
        except subprocess.CalledProcessError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise InputError(f"cannot clone {url}: {exc.output or 'git failed'}") from None
        except subprocess.TimeoutExpired:
            shutil.rmtree(tmp, ignore_errors=True)
            raise InputError(f"cannot clone {url}: no answer within {GIT_TIMEOUT} s") from None
        shutil.rmtree(target, ignore_errors=True)
        (tmp / "repo").rename(target)
        shutil.rmtree(tmp, ignore_errors=True)
    return target, git_commit(target)


def scratch_copy(root: Path) -> Path:
    """A writable copy of the repository for one check; caller removes it.

    Symlinks are kept only when they point inside the repository, so a notebook
    cannot write through a link into the user's files.
    """
    scratch = Path(tempfile.mkdtemp(prefix="nbrepro-run-"))
    real_root = root.resolve()

    def ignore(folder: str, names: list[str]) -> set[str]:
        skipped = {n for n in names if n in SKIP_DIRS}
        for name in names:
            path = Path(folder, name)
            if path.is_symlink():
                target = path.resolve()
                if target != real_root and real_root not in target.parents:
                    skipped.add(name)
            elif not (path.is_file() or path.is_dir()):  # FIFOs, sockets, devices
                skipped.add(name)
        return skipped

    try:
        shutil.copytree(root, scratch / "repo", symlinks=True, ignore=ignore)
    except (shutil.Error, OSError) as exc:
        shutil.rmtree(scratch, ignore_errors=True)
        detail = exc.args[0][0][2] if isinstance(exc, shutil.Error) and exc.args[0] else exc
        raise InputError(f"cannot copy {root} to a scratch folder: {detail}") from None
    return scratch / "repo"


def read_repo_file(root: Path, path: str | Path, limit: int = REPO_FILE_LIMIT) -> bytes:
    """The bytes of a regular file of the repository at `root` (`path` relative to it,
    or absolute inside it). Raises `RepositoryFileError` for anything that resolves
    outside the repository (links, `..`, absolute paths), for FIFOs and devices and
    for files over `limit` bytes; `OSError` when it cannot be read."""
    real_root = Path(os.path.realpath(root))
    candidate = Path(path) if Path(path).is_absolute() else Path(root) / path
    real = Path(os.path.realpath(candidate))
    shown = Path(os.path.relpath(candidate, root)).as_posix()
    if real != real_root and real_root not in real.parents:
        raise RepositoryFileError(f"{shown}: not read: it leads outside the repository")
    fd = os.open(real, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise RepositoryFileError(f"{shown}: not read: not a regular file")
        if info.st_size > limit:
            raise RepositoryFileError(f"{shown}: not read: larger than {limit} bytes")
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, 1024 * 1024)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            raise RepositoryFileError(f"{shown}: not read: larger than {limit} bytes")
        return b"".join(chunks)
    finally:
        os.close(fd)


def read_repo_text(root: Path, path: str | Path, errors: str = "strict") -> str:
    """`read_repo_file` decoded as UTF-8 (`errors` as for `bytes.decode`)."""
    return read_repo_file(root, path).decode("utf-8", errors=errors)
