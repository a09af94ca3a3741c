"""The parent of every kernel: ends all of a kernel's processes when its check ends.

nbrepro starts each kernel through this small program, run by file path with the
harness's own interpreter (`python -I -S supervisor.py [options] -- ARGV...`), so it
uses the standard library only. Its standard input is the *lifeline*: one end of a
socket pair whose other end only the check holds. The operating system closes that end
when the check process ends, however it ends (SIGKILL included, whichever thread
started the kernel), so a read on the lifeline that returns nothing means: the check
is gone or done, end everything.

Ties that have no window in which a process could escape them:

- check -> supervisor: the lifeline exists before the supervisor does; a supervisor
  whose lifeline is already cut starts nothing.
- supervisor -> kernel: the kernel's first process (bubblewrap, the kernel itself or
  the `docker` client) is a child in a process group of its own, with
  PR_SET_PDEATHSIG=SIGKILL armed before exec and its parent checked afterwards (a
  death signal armed after the parent died never fires; bubblewrap's own
  `--die-with-parent` is armed only after it has cloned the sandbox). It joins the
  kernel's cgroups before exec, so every descendant is inside them from the start.
- descendants: the supervisor is a child subreaper, so processes that daemonise are
  re-parented to it instead of to init, and are found and killed with the rest.

Options:
  --cgroup FILE   a cgroup.procs file the kernel joins before exec (repeatable)
  --cleanup JSON  a command (JSON list) run once the processes are dead, e.g. the
                  removal of the kernel's container
  --cleanup-when always|cut
                  `cut`: run it only when the supervisor ended the processes, not
                  when they ended by themselves [default: always]

Exit status: the kernel's, when it ended by itself; 1 when the supervisor ended it.
"""

from __future__ import annotations

# Only modules that load fast: this program runs in front of every kernel.
import contextlib
import ctypes
import os
import select
import signal
import sys
import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

PR_SET_PDEATHSIG = 1
PR_SET_CHILD_SUBREAPER = 36
# Seconds spent killing the tree (a fork bomb is bounded by the cgroup's pids limit).
KILL_SECONDS = 10.0
CLEANUP_SECONDS = 60.0


def _prctl() -> Callable[..., int] | None:
    try:
        return ctypes.CDLL(None, use_errno=True).prctl
    except (OSError, AttributeError):  # not Linux
        return None


def lifeline_cut(fd: int = 0) -> bool:
    """True when the other end of the lifeline is closed (or was never there)."""
    try:
        readable, _, _ = select.select([fd], [], [], 0)
        return bool(readable) and os.read(fd, 4096) == b""
    except OSError:
        return True


def descendants(root: int) -> list[int]:
    """Every process below `root`, from the parent links in /proc."""
    children: dict[int, list[int]] = {}
    try:
        names = os.listdir("/proc")
    except OSError:  # no procfs: the process group and the cgroups must do
        return []
    for name in names:
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat.rpartition(b")")[2].split()
        if len(fields) > 1:
            children.setdefault(int(fields[1]), []).append(int(name))
    found, todo = [], [root]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _cgroup_members(procs_files: list[str]) -> set[int]:
    members: set[int] = set()
    for path in procs_files:
        try:
            with open(path) as f:
                members.update(int(p) for p in f.read().split())
        except (OSError, ValueError):
            continue
    return members


def _signal_group(pgid: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


class Supervisor:
    def __init__(self, argv: list[str], cgroups: list[str], cleanup: list[str] | None,
                 cleanup_when_cut: bool = False) -> None:
        self.argv, self.cgroups, self.cleanup = argv, cgroups, cleanup
        self.cleanup_when_cut = cleanup_when_cut
        self.pid = os.getpid()
        self.child = 0
        self.status: int | None = None  # the child's exit status, once reaped
        self.signals: list[int] = []

    def _on_signal(self, signum: int, frame: object) -> None:
        self.signals.append(signum)

    def run(self) -> int:
        prctl = _prctl()
        if prctl is not None:  # orphans of the kernel come back here, not to init
            prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_r, False)
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGCHLD):
            signal.signal(sig, self._on_signal)
        signal.signal(signal.SIGPIPE, signal.SIG_IGN)
        if lifeline_cut():  # the check is gone already: start nothing
            return 1
        try:
            self.child = self._spawn(prctl)
        except OSError as exc:
            sys.stderr.write(f"nbrepro supervisor: cannot start the kernel: {exc}\n")
            return 1
        poller = select.poll()
        poller.register(0, select.POLLIN | select.POLLHUP | select.POLLERR)
        poller.register(wake_r, select.POLLIN)
        ended_by_itself = False
        while True:
            try:
                poller.poll()
                os.read(wake_r, 512)
            except (BlockingIOError, InterruptedError):
                pass
            self._reap()
            if self.status is not None:
                ended_by_itself = True
                break
            if lifeline_cut():
                break
            if signal.SIGTERM in self.signals or signal.SIGHUP in self.signals:
                break
            if signal.SIGINT in self.signals:  # an interrupt is for the kernel
                self.signals = [s for s in self.signals if s != signal.SIGINT]
                _signal_group(self.child, signal.SIGINT)
        self._kill_all()
        self._run_cleanup(killed=not ended_by_itself)
        if ended_by_itself and self.status is not None:
            code = os.waitstatus_to_exitcode(self.status)
            return code if code >= 0 else 128 - code  # killed by a signal: as a shell says
        return 1

    def _spawn(self, prctl: Callable[..., int] | None) -> int:
        env = dict(os.environ)
        if "JPY_PARENT_PID" in env:  # a kernel without a sandbox watches its real parent
            env["JPY_PARENT_PID"] = str(self.pid)
        # An error of the child before exec comes back through this pipe.
        err_r, err_w = os.pipe()
        pid = os.fork()
        if pid == 0:  # the child: single-threaded, only async-signal-safe work matters
            try:
                os.close(err_r)
                os.setpgid(0, 0)
                if prctl is not None:
                    prctl(PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
                if os.getppid() != self.pid:  # the supervisor died already
                    os._exit(1)
                for path in self.cgroups:
                    with open(path, "w") as f:
                        f.write(str(os.getpid()))
                for sig in (signal.SIGTERM, signal.SIGHUP, signal.SIGINT, signal.SIGCHLD,
                            signal.SIGPIPE):
                    signal.signal(sig, signal.SIG_DFL)
                signal.set_wakeup_fd(-1)
                null = os.open(os.devnull, os.O_RDONLY)
                os.dup2(null, 0)  # the lifeline stays with the supervisor
                os.execvpe(self.argv[0], self.argv, env)
            except BaseException as exc:
                try:
                    os.write(err_w, f"{type(exc).__name__}: {exc}".encode()[:500])
                finally:
                    os._exit(127)
        os.close(err_w)
        with os.fdopen(err_r, "rb") as f:
            error = f.read()  # empty: the exec succeeded (the pipe closed on exec)
        if error:
            self._reap(block=True)
            raise OSError(error.decode(errors="replace"))
        return pid

    def _reap(self, block: bool = False) -> None:
        """Collect finished children (the kernel's and adopted ones)."""
        while True:
            try:
                pid, status = os.waitpid(-1, 0 if block else os.WNOHANG)
            except ChildProcessError:
                return
            except InterruptedError:
                continue
            if pid == 0:
                return
            if pid == self.child:
                self.status = status
            if block:
                return

    def _kill_all(self) -> None:
        """SIGKILL the kernel's process group, every descendant and every member of its
        cgroups, until none is left."""
        if self.child:
            _signal_group(self.child, signal.SIGKILL)
        deadline = time.monotonic() + KILL_SECONDS
        while True:
            left = set(descendants(self.pid)) | _cgroup_members(self.cgroups)
            left.discard(self.pid)
            self._reap()
            if not left or time.monotonic() > deadline:
                break
            for pid in left:
                with contextlib.suppress(ProcessLookupError, PermissionError):
                    os.kill(pid, signal.SIGKILL)
            time.sleep(0.02)
        self._reap()

    def _run_cleanup(self, killed: bool) -> None:
        if not self.cleanup or (self.cleanup_when_cut and not killed):
            return
        import subprocess

        # A container request sent by a client killed just now may still be in flight:
        # when the first removal finds nothing, look once more a moment later.
        for attempt in range(2 if killed else 1):
            try:
                done = subprocess.run(self.cleanup, stdin=subprocess.DEVNULL,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                      timeout=CLEANUP_SECONDS)
            except (OSError, subprocess.TimeoutExpired) as exc:
                sys.stderr.write(f"nbrepro supervisor: cleanup failed: {exc}\n")
                return
            if done.returncode == 0 or attempt:
                return
            time.sleep(1.0)


def _parse(args: list[str]) -> tuple[list[str], list[str], list[str] | None, bool]:
    cgroups: list[str] = []
    cleanup: list[str] | None = None
    when_cut = False
    while args and args[0] != "--":
        option, value, args = args[0], args[1], args[2:]
        if option == "--cgroup":
            cgroups.append(value)
        elif option == "--cleanup":
            import json

            cleanup = [str(a) for a in json.loads(value)]
        elif option == "--cleanup-when" and value in ("always", "cut"):
            when_cut = value == "cut"
        else:
            raise SystemExit(f"nbrepro supervisor: unknown option {option}")
    if len(args) < 2:
        raise SystemExit("nbrepro supervisor: usage: [options] -- ARGV...")
    return args[1:], cgroups, cleanup, when_cut


def main(args: list[str] | None = None) -> int:
    argv, cgroups, cleanup, when_cut = _parse(list(sys.argv[1:] if args is None else args))
    return Supervisor(argv, cgroups, cleanup, when_cut).run()


if __name__ == "__main__":
    sys.exit(main())
