"""Where a check's notebooks come from: a local folder, one notebook, or a git URL.

A git URL is cloned (shallow) into the cache and its commit recorded. A branch, tag
or commit is picked with `URL@REF` (as pip writes it), a subfolder with `--subdir`
or pip's `#subdirectory=` fragment: `git+https://host/repo.git@v1.0#subdirectory=docs`.
Runs never happen here: `scratch_copy` makes the writable copy that notebooks run
in, so the user's files are never modified. `read_repo_file` is the one way nbrepro
reads a file of the audited repository (dependency files, settings, sanitize files):
only regular files inside it, whatever links point elsewhere.
"""

from __future__ import annotations

import os
import re
import shutil
import stat
import subprocess
import tempfile
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from nbrepro.errors import InputError, RepositoryFileError
from nbrepro.model import RepositoryInfo

GIT_TIMEOUT = 600
# The largest repository file nbrepro reads (dependency files, settings).
REPO_FILE_LIMIT = 16 * 1024**2
_URL = re.compile(r"^(?:[a-z][a-z0-9+.\-]*://|git@[^:]+:)", re.I)
# pip's VCS prefix: `git+https://...` is `https://...` to git.
_VCS_PREFIX = re.compile(r"^git\+(?=[a-z][a-z0-9.\-]*://)", re.I)
_REF = re.compile(r"[A-Za-z0-9._/+\-]+")
# Where git's message starts a new statement (the rest are wrapped lines).
_GIT_STATEMENT = re.compile(r"^(?:fatal|error|warning|hint|remote):", re.I)


@dataclass
class Source:
    root: Path  # the repository folder (a cached clone for URLs)
    selected: list[str] | None  # notebooks to check (relative); None means all
    info: RepositoryInfo
    # Only the notebooks under this folder (relative to `root`) are checked: a folder
    # inside a repository, whose environment is the repository's.
    scope: str | None = None


def is_url(text: str) -> bool:
    return bool(_URL.match(text))


@dataclass
class SourceText:
    """What the user typed, taken apart: where, which ref, which subfolder."""

    location: str  # a local path, or the URL git clones
    ref: str | None = None
    subdir: str | None = None


def parse_source(text: str, subdir: str | None = None) -> SourceText:
    """Split `URL@REF#subdirectory=DIR` (refs and fragments only for URLs); `subdir`
    is `--subdir`. Raises `InputError` for contradictions."""
    if not is_url(text):
        return SourceText(text, None, _clean_subdir(subdir))
    url = _VCS_PREFIX.sub("", text)
    url, _, fragment = url.partition("#")
    fragment_subdir = None
    for item in filter(None, fragment.split("&")):
        key, _, value = item.partition("=")
        if key == "subdirectory":
            fragment_subdir = value
    if subdir and fragment_subdir and _clean_subdir(subdir) != _clean_subdir(fragment_subdir):
        raise InputError(f"--subdir {subdir} contradicts #subdirectory={fragment_subdir}")
    # The ref follows the last '@' of the path part (not a user@ in the host part).
    if "://" in url:
        scheme, _, rest = url.partition("://")
        host, slash, path = rest.partition("/")
        head = f"{scheme}://{host}{slash}"
    else:  # scp-like git@host:owner/repo.git
        host, colon, path = url.partition(":")
        head = f"{host}{colon}"
    ref = None
    if "@" in path:
        path, _, ref = path.rpartition("@")
        # git would read a ref starting with '-' as an option
        if not _REF.fullmatch(ref) or ref.startswith("-") or ".." in ref:
            raise InputError(f"not a branch, tag or commit after '@' in {text}: {ref!r}")
    return SourceText(head + path, ref, _clean_subdir(subdir or fragment_subdir))


def _clean_subdir(subdir: str | None) -> str | None:
    """A subfolder as a relative POSIX path, never leaving the repository."""
    if not subdir:
        return None
    parts = [p for p in subdir.replace("\\", "/").split("/") if p not in ("", ".")]
    if subdir.startswith("/") or ".." in parts:
        raise InputError(f"--subdir must be a folder inside the repository: {subdir}")
    return "/".join(parts) or None


def open_source(text: str, subdir: str | None = None, within: Path | None = None) -> Source:
    """The repository `text` names (and its `subdir`). For a single notebook or a
    folder, the repository is the git work tree around it, searched no higher than
    `within`: a folder inside it is checked with the repository's dependency files,
    and only its own notebooks (`scope`)."""
    where = parse_source(text, subdir)
    if is_url(text):
        root, commit = clone(where.location, where.ref)
        top = root
        root = _subfolder(root, where.subdir, f"{text} at {(commit or '')[:10]}")
        return Source(root, None, RepositoryInfo(
            source=text, commit=commit, path=str(top), ref=where.ref, subdir=where.subdir))
    path = Path(text).expanduser()
    if not path.exists():
        raise InputError(f"no such file or directory: {text}")
    path = path.resolve()
    if path.is_file():
        if path.suffix != ".ipynb":
            raise InputError(f"not a notebook or a directory: {text}")
        if where.subdir:
            raise InputError("--subdir needs a folder or a git URL, not a notebook")
        if any(path.parent == h or path.parent in h.parents
               for h in map(Path, map(os.path.realpath, _user_homes()))):
            raise InputError(f"{text}: a notebook directly in the home folder (or above it) "
                             "cannot be checked alone: its folder would be copied whole; "
                             "move it into a folder of its own")
        root = _project_root(path.parent, within)
        selected: list[str] | None = [path.relative_to(root).as_posix()]
    elif path.is_dir() and where.subdir:  # pip's sense: the project is in that folder
        root, selected = _subfolder(path, where.subdir, text), None
    elif path.is_dir():
        root, selected = _project_root(path, within), None
        if root != path:
            scope = path.relative_to(root).as_posix()
            return Source(root, None, RepositoryInfo(source=text, commit=git_commit(root),
                                                     path=str(root), subdir=scope), scope)
    else:
        raise InputError(f"not a notebook or a directory: {text}")
    return Source(root, selected, RepositoryInfo(source=text, commit=git_commit(root),
                                                 path=str(root), subdir=where.subdir))


def _subfolder(root: Path, subdir: str | None, what: str) -> Path:
    if not subdir:
        return root
    folder = (root / subdir).resolve()
    real = root.resolve()
    if folder != real and real not in folder.parents:  # a symlink out of the repository
        raise InputError(f"--subdir {subdir} leads outside {what}")
    if not folder.is_dir():
        raise InputError(f"no folder {subdir} in {what}")
    return folder


def _project_root(folder: Path, within: Path | None = None) -> Path:
    """For a notebook's folder or a checked folder: the enclosing git work tree, else
    the folder itself."""
    return repository_root(folder, within) or folder


def repository_root(folder: Path, within: Path | None = None) -> Path | None:
    """The git work tree that holds `folder` (or is it); None when there is none.

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
    return None


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
        raise subprocess.CalledProcessError(proc.returncode, args,
                                            output=_git_reason(proc.stderr or proc.stdout))
    return proc.stdout.strip()


def _git_reason(text: str) -> str:
    """git's whole message on one line: its statements joined with '; ', wrapped
    lines with a space."""
    reason = ""
    for line in (ln.strip() for ln in text.splitlines()):
        if not line:
            continue
        if reason and _GIT_STATEMENT.match(line):
            reason += "; " + line
        else:
            reason += (" " if reason else "") + line
    return reason


def git_commit(folder: Path) -> str | None:
    try:
        return _git(["rev-parse", "HEAD"], cwd=folder, timeout=30) or None
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired, OSError):
        return None


def git_last_change(folder: Path, paths: list[str]) -> date | None:
    """The date of the last commit that touched `paths` in the git work tree at
    `folder` (None: not in git, or never committed)."""
    if not (folder / ".git").exists() or not paths:
        return None
    # Names are the repository's: taken literally, never as pathspec magic (`:(glob)`).
    named = paths if len(paths) <= 1000 else []  # else the whole history's last commit
    text = _git(["--literal-pathspecs", "log", "-1", "--format=%cs", "--", *named],
                cwd=folder, timeout=30)
    try:
        return date.fromisoformat(text) if text else None
    except ValueError:
        return None


def clone(url: str, ref: str | None = None) -> tuple[Path, str | None]:
    """A shallow copy of `url` at `ref` (a branch, tag or commit; default: the
    default branch), cached and refreshed on each check."""
    from nbrepro import cache  # filelock: imported only when there is something to clone

    target = cache.entry("clones", cache.content_key("clone", url, ref))
    what = f"{url}@{ref}" if ref else url
    with cache.locked(target):
        tmp = Path(tempfile.mkdtemp(prefix="clone-", dir=target.parent))
        repo = tmp / "repo"
        try:
            _fetch(url, ref, repo)
        except subprocess.CalledProcessError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            verb = f"cannot check out {ref} from" if ref else "cannot clone"
            raise InputError(f"{verb} {url}: {exc.output or 'git failed'}") from None
        except subprocess.TimeoutExpired:
            shutil.rmtree(tmp, ignore_errors=True)
            raise InputError(f"cannot clone {what}: no answer within {GIT_TIMEOUT} s") from None
        shutil.rmtree(target, ignore_errors=True)
        repo.rename(target)
        shutil.rmtree(tmp, ignore_errors=True)
    return target, git_commit(target)


def _fetch(url: str, ref: str | None, repo: Path) -> None:
    """Only the one commit wanted: a branch, a tag or a full commit id is fetched with
    depth 1; an abbreviated commit id needs the history to be found in."""
    _git(["init", "--quiet", str(repo)])
    try:
        _git(["fetch", "--quiet", "--depth", "1", "--no-tags", url, ref or "HEAD"], cwd=repo)
    except subprocess.CalledProcessError as shallow:
        if not ref or not re.fullmatch(r"[0-9a-fA-F]{4,39}", ref):
            raise
        try:
            _git(["fetch", "--quiet", url, "+refs/heads/*:refs/remotes/origin/*"], cwd=repo)
            _git(["checkout", "--quiet", "--detach", ref], cwd=repo)
        except subprocess.CalledProcessError:
            raise shallow from None
        return
    _git(["checkout", "--quiet", "--detach", "FETCH_HEAD"], cwd=repo)


def scratch_copy(root: Path) -> Path:
    """A writable copy of the repository for one check; caller removes it.

    Symlinks are kept only when they point inside the repository, so a notebook
    cannot write through a link into the user's files.
    """
    from nbrepro.stages.scan import SKIP_DIRS

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
