"""No kernel outlives its check.

Every process a check starts for a kernel (its supervisor, bubblewrap, the kernel and
its children, a container) ends with the check, on every path out: finished, time
limits (also one that expires while the kernel starts), kernel death, Ctrl-C,
SIGTERM, an exception in nbrepro, and a check SIGKILLed while its kernel starts.
"""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import signal
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import nbformat
import psutil
import pytest

from nbrepro.isolation import confine as confinement
from nbrepro.isolation.base import BackendOptions
from nbrepro.isolation.confine import (
    KERNEL_VARIABLE,
    OWNER_VARIABLE,
    CgroupV1,
    Lifeline,
    ResourceLimits,
    marked_processes,
    owner_token,
    sweep_orphans,
)
from nbrepro.isolation.sandbox import Bubblewrap, Mounts, python_prefixes
from nbrepro.isolation.venv import VenvBackend
from nbrepro.model import EnvironmentResult
from nbrepro.stages.execute import ExecutionOptions, Outcome, run_notebook
from tests.helpers.cli import REPOS

needs_bwrap = pytest.mark.skipif(not Bubblewrap.available(),
                                 reason="bubblewrap does not work on this machine")
# How long the stress test provokes the race (seconds of check runs under load).
STRESS_SECONDS = float(os.environ.get("NBREPRO_STRESS_SECONDS", "75"))
CHECKER = str(Path(__file__).resolve().parents[1] / "checker")


# --- finding what a check left -------------------------------------------------------


def _running(proc: psutil.Process) -> bool:
    try:
        return proc.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


def _processes_of(text: str, owners: frozenset[int] = frozenset()) -> list[psutil.Process]:
    """Processes whose command line contains `text` or that nbrepro marked as started
    by one of `owners` (pids), with all their descendants."""
    found: dict[int, psutil.Process] = {}
    for proc in psutil.process_iter(["cmdline"]):
        if any(text in arg for arg in proc.info["cmdline"] or ()):
            found[proc.pid] = proc
    for marked in marked_processes():
        if int(marked.owner.split(":")[1]) in owners:
            with contextlib.suppress(psutil.NoSuchProcess):
                found.setdefault(marked.pid, psutil.Process(marked.pid))
    for proc in list(found.values()):
        with contextlib.suppress(psutil.NoSuchProcess):
            for child in proc.children(recursive=True):
                found.setdefault(child.pid, child)
    return [p for p in found.values() if _running(p) and p.pid != os.getpid()]


def _left_behind(text: str, owners: frozenset[int] = frozenset(),
                 grace: float = 10.0) -> list[str]:
    """What still runs `grace` seconds after a check ended (a supervisor needs a moment
    to kill its kernel); survivors are killed, so one leak does not hide the next."""
    deadline = time.monotonic() + grace
    while (procs := _processes_of(text, owners)) and time.monotonic() < deadline:
        time.sleep(0.1)
    described = []
    for proc in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            described.append(f"{proc.pid} {' '.join(proc.cmdline())[:120]}")
            proc.kill()
    return described


def _wait_for_kernel_launch(check: subprocess.Popen[bytes], timeout: float = 300) -> bool:
    """Wait until the check has spawned its kernel's first process. Looks at new
    processes only, as fast as it can: the race is in the milliseconds after that."""
    seen = set(os.listdir("/proc"))
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and check.poll() is None:
        for name in os.listdir("/proc"):
            if name in seen or not name.isdigit():
                continue
            try:
                stat = Path(f"/proc/{name}/stat").read_bytes()
                cmdline = Path(f"/proc/{name}/cmdline").read_bytes()
            except OSError:
                seen.add(name)
                continue
            if int(stat.rpartition(b")")[2].split()[1]) != check.pid:
                seen.add(name)
            elif b"ipykernel_launcher" in cmdline:
                return True
            # else: a child of the check that has not exec'd yet; look again
    return False


@pytest.fixture
def cpu_load() -> Iterator[None]:
    """Both cores busy: start-up takes longer and the interleavings vary."""
    hogs = [subprocess.Popen([sys.executable, "-c", "while True: pass"])
            for _ in range(os.cpu_count() or 2)]
    yield
    for hog in hogs:
        hog.kill()
        hog.wait()


# --- the race, through the real command line ------------------------------------------


@pytest.mark.slow
@needs_bwrap
def test_no_process_outlives_a_check_ended_during_kernel_startup(repo, tmp_path, cpu_load):
    """SIGKILL and SIGTERM of the check in the milliseconds after it spawned its kernel
    and later during start-up, and a notebook time limit shorter than start-up, under
    CPU load, repeated; after each run nothing of the check may be left."""
    root = repo("infinite-loop")
    temp = tmp_path / "t"  # the check's scratch copy and runtime dirs: in its kernels' argv
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    db = f"sqlite:///{tmp_path / 'stress.sqlite'}"
    argv = [sys.executable, "-m", "nbrepro", "check", str(root), "--db", db, "-q"]
    warm = subprocess.run([*argv, "--cell-timeout", "2"], env=env, capture_output=True,
                          text=True, timeout=900)
    assert warm.returncode == 1, warm.stderr  # the environment is built; the loop timed out
    assert not _left_behind(str(temp))
    rng = random.Random(17)
    runs: dict[str, int] = {}
    leaks: list[str] = []
    scenarios = ["sigkill-at-spawn", "notebook-limit", "sigkill-in-startup", "sigterm-at-spawn"]
    deadline = time.monotonic() + STRESS_SECONDS
    while time.monotonic() < deadline or len(runs) < len(scenarios):
        scenario = scenarios[sum(runs.values()) % len(scenarios)]
        limit = ["--notebook-timeout", "1"] if scenario == "notebook-limit" else []
        check = subprocess.Popen([*argv, "--cell-timeout", "5", *limit], env=env,
                                 stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                 start_new_session=True)
        try:
            if scenario != "notebook-limit" and _wait_for_kernel_launch(check):
                time.sleep(rng.uniform(0.05, 1.5) if scenario == "sigkill-in-startup"
                           else rng.uniform(0, 0.03))
                check.send_signal(signal.SIGTERM if scenario == "sigterm-at-spawn"
                                  else signal.SIGKILL)
            code = check.wait(timeout=300)
        finally:
            check.kill()
            check.wait()
        if scenario == "notebook-limit":
            assert code == 1, scenario
        elif scenario == "sigterm-at-spawn":
            assert code == 130, scenario
        runs[scenario] = runs.get(scenario, 0) + 1
        left = _left_behind(str(temp), frozenset({check.pid}))
        if left:
            leaks.append(f"{scenario}: " + "; ".join(left))
    total = sum(runs.values())
    print(f"\nstress: {total} runs {runs}, {len(leaks)} leaked")
    assert leaks == [], f"{len(leaks)} of {total} runs left processes:\n" + "\n".join(leaks)


# --- the race, at its narrowest ---------------------------------------------------------

# A "check" that starts a sandboxed kernel the way the venv backend does and dies
# DELAY seconds later, without any chance to clean up.
_DIES_WHILE_STARTING = textwrap.dedent("""
    import os, subprocess, sys, time
    from pathlib import Path
    from nbrepro.isolation.confine import KernelTeardown, Lifeline, ResourceLimits, confine
    from nbrepro.isolation.sandbox import Bubblewrap, Mounts, python_prefixes
    scratch, delay = Path(sys.argv[1]), float(sys.argv[2])
    mounts = Mounts(writable=[scratch], readable=python_prefixes(sys.executable))
    argv = Bubblewrap().kernel_argv([sys.executable, "-c", "import time; time.sleep(300)"],
                                    mounts, scratch, network=False)
    confinement = confine(ResourceLimits(), label=scratch.name)
    lifeline = Lifeline()
    subprocess.Popen(lifeline.command(argv, KernelTeardown(confinement.procs_files())),
                     stdin=lifeline.stdin, env={**os.environ, **lifeline.environment()},
                     start_new_session=True)
    time.sleep(delay)
    os.kill(os.getpid(), 9)
""")


@needs_bwrap
@pytest.mark.parametrize("delay", [0.0, 0.002, 0.01, 0.03])
def test_a_check_killed_milliseconds_after_spawning_its_sandbox_leaves_nothing(
        tmp_path: Path, delay: float) -> None:
    """bubblewrap arms its death signal only after it has cloned the sandbox, and the
    sandbox's init only after it has set up the mounts: a check killed in between left
    the init and the kernel running forever (all of 25 such kills did, before the
    supervisor)."""
    scratch = tmp_path / f"scratch-{int(delay * 1000)}"
    scratch.mkdir()
    check = subprocess.run([sys.executable, "-c", _DIES_WHILE_STARTING, str(scratch), str(delay)],
                           env={**os.environ, "PYTHONPATH": CHECKER}, timeout=120)
    assert check.returncode == -9
    assert _left_behind(str(scratch), grace=10) == []


# --- the supervisor and the lifeline -------------------------------------------------


def _supervised(argv: list[str], lifeline: Lifeline, **kwargs: object) -> subprocess.Popen[bytes]:
    proc = subprocess.Popen(Lifeline.command(argv), stdin=lifeline.stdin,
                            env={**os.environ, **lifeline.environment()},
                            start_new_session=True, **kwargs)  # type: ignore[call-overload]
    lifeline.launched()
    return proc


def _pids_from(path: Path, count: int, timeout: float = 30) -> list[int]:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        pids = path.read_text().split() if path.exists() else []
        if len(pids) >= count:
            return [int(p) for p in pids]
        time.sleep(0.05)
    raise AssertionError(f"only {path.read_text() if path.exists() else ''!r} in {path}")


def _gone(pids: list[int], timeout: float = 10) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(confinement.alive(p) for p in pids):
            return True
        time.sleep(0.05)
    return False


# Children that try to get away: a daemon in a session of its own and a grandchild
# whose parent exits at once (re-parented away from the kernel).
_ESCAPES = textwrap.dedent("""
    sleep 300 & echo $! >> "$1"
    setsid sleep 301 & echo $! >> "$1"
    (sleep 302 & echo $! >> "$1") &
    echo $$ >> "$1"
    wait
""")


def test_cutting_the_lifeline_ends_every_process_of_the_kernel(tmp_path: Path) -> None:
    pids_file = tmp_path / "pids"
    lifeline = Lifeline()
    proc = _supervised(["/bin/sh", "-c", _ESCAPES, "sh", str(pids_file)], lifeline)
    pids = _pids_from(pids_file, 4)
    assert all(confinement.alive(p) for p in pids)
    started = time.monotonic()
    assert lifeline.cut(timeout=30)
    assert time.monotonic() - started < 10
    assert proc.wait(timeout=10) == 1  # ended by the supervisor, not by itself
    assert _gone(pids, timeout=1)


def test_a_killed_check_takes_its_kernel_with_it(tmp_path: Path) -> None:
    """SIGKILL of the check, any thread of it: the OS closes its end of the lifeline."""
    pids_file = tmp_path / "pids"
    check = textwrap.dedent(f"""
        import subprocess, sys, threading, time
        from nbrepro.isolation.confine import Lifeline
        lifeline = Lifeline()
        def start():  # from a thread that ends at once
            subprocess.Popen(Lifeline.command(["/bin/sh", "-c", {_ESCAPES!r}, "sh",
                             {str(pids_file)!r}]), stdin=lifeline.stdin, start_new_session=True)
        thread = threading.Thread(target=start)
        thread.start()
        thread.join()
        time.sleep(300)
    """)
    proc = subprocess.Popen([sys.executable, "-c", check],
                            env={**os.environ, "PYTHONPATH": CHECKER})
    try:
        pids = _pids_from(pids_file, 4)
        time.sleep(0.5)
        # the thread that started the kernel has ended: the kernel still runs
        assert all(confinement.alive(p) for p in pids)
    finally:
        proc.kill()
        proc.wait()
    assert _gone(pids)


def test_a_supervisor_whose_check_is_gone_starts_nothing(tmp_path: Path) -> None:
    marker = tmp_path / "started"
    lifeline = Lifeline()
    lifeline._ours.close()  # the check's end: as if the check had died before the spawn
    proc = _supervised(["/bin/sh", "-c", f"touch {marker}; sleep 300"], lifeline)
    assert proc.wait(timeout=30) == 1
    time.sleep(0.5)
    assert not marker.exists()


@pytest.mark.parametrize(("script", "code"), [("exit 3", 3), ("kill -9 $$", 137)])
def test_the_supervisor_exits_as_its_kernel_did(script: str, code: int) -> None:
    lifeline = Lifeline()
    proc = _supervised(["/bin/sh", "-c", script], lifeline)
    assert proc.wait(timeout=30) == code
    assert lifeline.cut(timeout=10)


def test_an_interrupt_reaches_the_kernel(tmp_path: Path) -> None:
    marker = tmp_path / "interrupted"
    lifeline = Lifeline()
    proc = _supervised(["/bin/sh", "-c", f"trap 'touch {marker}; exit 0' INT; "
                        "while true; do sleep 0.1; done"], lifeline)
    time.sleep(1.0)
    os.killpg(proc.pid, signal.SIGINT)  # what jupyter_client does to interrupt a kernel
    assert proc.wait(timeout=30) == 0
    assert marker.exists()
    lifeline.cut()


def test_kernel_processes_carry_the_marker_but_sandboxed_code_does_not(tmp_path: Path) -> None:
    lifeline = Lifeline()
    probe = "import os; print(os.environ.get('NBREPRO_OWNER'), os.environ.get('NBREPRO_KERNEL'))"
    if Bubblewrap.available():
        argv = Bubblewrap().kernel_argv([sys.executable, "-c", probe],
                                        Mounts(writable=[tmp_path],
                                               readable=python_prefixes(sys.executable)),
                                        tmp_path, network=False)
        proc = _supervised(argv, lifeline, stdout=subprocess.PIPE)
        out, _ = proc.communicate(timeout=60)
        assert out.decode().split() == ["None", "None"]
    lifeline = Lifeline()
    proc = _supervised(["sleep", "300"], lifeline)
    time.sleep(0.5)
    mine = [m for m in marked_processes() if m.kernel == lifeline.kernel]
    assert {m.pid for m in mine} >= {proc.pid}
    assert all(m.owner == owner_token() for m in mine)
    assert lifeline.cut()
    proc.wait(timeout=10)


def test_the_end_of_a_kernel_kills_what_a_killed_supervisor_left(tmp_path: Path) -> None:
    """The supervisor itself SIGKILLed (e.g. by a person): what is still marked as the
    kernel's is killed when the check ends the kernel."""
    lifeline = Lifeline()
    proc = _supervised(["/bin/sh", "-c", "setsid sleep 300 & wait"], lifeline)
    time.sleep(1.0)
    daemon = [m.pid for m in marked_processes()
              if m.kernel == lifeline.kernel and m.pid != proc.pid
              and psutil.Process(m.pid).name() == "sleep"]
    assert daemon
    proc.kill()  # no chance to end its tree: the daemon is adopted by nobody we know
    proc.wait()
    assert not lifeline.cut(timeout=10)  # something was left, and it was killed
    assert _gone(daemon)


# --- sweeping what a SIGKILLed check (and its supervisor) left ----------------------------


def test_orphans_are_swept_only_when_marked_by_a_dead_nbrepro(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    sleeper = ["sleep", "300"]
    host = owner_token().split(":")[0]
    orphan = subprocess.Popen(sleeper, env={**os.environ, OWNER_VARIABLE: f"{host}:{dead.pid}:1",
                                            KERNEL_VARIABLE: "k"})
    live = subprocess.Popen(sleeper, env={**os.environ, OWNER_VARIABLE: owner_token(),
                                          KERNEL_VARIABLE: "k"})
    other_host = subprocess.Popen(sleeper, env={**os.environ,
                                                OWNER_VARIABLE: f"elsewhere:{dead.pid}:1"})
    # looks like a kernel by name, but nbrepro did not mark it
    lookalike = subprocess.Popen(["bash", "-c", "exec -a 'bwrap ipykernel_launcher nbrepro' "
                                  "sleep 300"])
    try:
        time.sleep(0.3)
        killed = {m.pid for m in sweep_orphans()}
        assert orphan.pid in killed
        assert orphan.wait(timeout=10) == -9
        for keep in (live, other_host, lookalike):
            assert keep.poll() is None
            assert keep.pid not in killed
    finally:
        for proc in (orphan, live, other_host, lookalike):
            proc.kill()
            proc.wait()


@pytest.mark.skipif(not CgroupV1.available(), reason="needs writable cgroup v1 hierarchies")
def test_a_dead_nbrepro_cgroup_is_emptied_and_removed() -> None:
    """A kernel that escaped everything else is still in its cgroup, named after the
    nbrepro process that made it: the next nbrepro kills it and removes the cgroup."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    base = CgroupV1._base("pids")
    assert base is not None
    group = base / f"nbrepro-{dead.pid}.1-nbr-swept"
    group.mkdir()
    kernel = subprocess.Popen(["sleep", "300"])
    try:
        (group / "cgroup.procs").write_text(f"{kernel.pid}\n")
        CgroupV1.sweep()
        assert kernel.wait(timeout=10) == -9
        assert not group.exists()
    finally:
        kernel.kill()
        kernel.wait()
        if group.exists():
            group.rmdir()


# --- every path out of a notebook run -------------------------------------------------


@pytest.fixture(scope="module")
def built_env(tmp_path_factory: pytest.TempPathFactory) -> EnvironmentResult:
    """The environment of the fixture repositories (ipykernel only), built once."""
    from nbrepro.check import CheckOptions, check

    root = tmp_path_factory.mktemp("env") / "reproduces"
    shutil.copytree(REPOS / "reproduces", root)
    result = check(str(root), CheckOptions())
    assert result.environment is not None and result.environment.ok
    return result.environment


def _run(nb_cells: list[str], tmp_path: Path, env: EnvironmentResult,
         options: ExecutionOptions, on_cell: object = None) -> object:
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in nb_cells])
    nb.metadata["language_info"] = {"name": "python"}
    scratch = tmp_path / "scratch"
    scratch.mkdir(exist_ok=True)
    backend = VenvBackend(BackendOptions(limits=ResourceLimits(memory=1024**3)))
    return run_notebook(nb, scratch, scratch, env, backend, options,
                        on_cell=on_cell)  # type: ignore[arg-type]


def _mine_left(grace: float = 10.0) -> list[int]:
    """Marked processes of kernels this test process started, after `grace` seconds."""
    me = owner_token()
    deadline = time.monotonic() + grace
    while (left := [m.pid for m in marked_processes() if m.owner == me]) and \
            time.monotonic() < deadline:
        time.sleep(0.1)
    return left


@pytest.mark.slow
def test_an_exception_in_nbrepro_during_a_run_ends_the_kernel(
        tmp_path: Path, built_env: EnvironmentResult) -> None:
    def broken_hook(index: int, done: int, total: int) -> None:
        raise RuntimeError("a bug in a progress hook")

    with pytest.raises(RuntimeError, match="progress hook"):
        _run(["import subprocess; subprocess.Popen(['setsid', 'sleep', '300'])", "1"],
             tmp_path, built_env, ExecutionOptions(), on_cell=broken_hook)
    assert _mine_left() == []


@pytest.mark.slow
def test_a_kernel_that_dies_leaves_no_children(
        tmp_path: Path, built_env: EnvironmentResult) -> None:
    run = _run(["import os, subprocess; subprocess.Popen(['setsid', 'sleep', '300'])",
                "os._exit(1)", "print('never')"], tmp_path, built_env, ExecutionOptions())
    assert run.outcome is Outcome.KERNEL_DIED  # type: ignore[attr-defined]
    assert _mine_left() == []


@pytest.mark.slow
def test_a_notebook_limit_shorter_than_kernel_startup_is_a_timeout(
        tmp_path: Path, built_env: EnvironmentResult) -> None:
    run = _run(["print(1)"], tmp_path, built_env,
               ExecutionOptions(notebook_timeout=0.05))
    assert run.outcome is Outcome.TIMEOUT  # type: ignore[attr-defined]
    assert "did not start within the notebook's time limit" in run.message  # type: ignore[attr-defined]
    assert _mine_left() == []


@pytest.mark.slow
def test_sigterm_while_the_kernel_starts_is_an_orderly_stop(repo, tmp_path: Path) -> None:
    root = repo("infinite-loop")
    temp = tmp_path / "t"
    temp.mkdir()
    db = tmp_path / "term.sqlite"
    check = subprocess.Popen(
        [sys.executable, "-m", "nbrepro", "check", str(root), "--db", f"sqlite:///{db}"],
        env={**os.environ, "TMPDIR": str(temp)}, stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        assert _wait_for_kernel_launch(check)
        check.terminate()
        _, err = check.communicate(timeout=120)
    finally:
        check.kill()
    assert check.returncode == 130, err
    assert "Traceback" not in err
    assert _left_behind(str(temp), frozenset({check.pid})) == []


# --- the session guard ------------------------------------------------------------------

_GUARDED_CONFTEST = """
from tests.helpers import leak_guard

def pytest_configure(config):
    leak_guard.register(config)
"""

_LEAKY_TEST = """
import os, subprocess, sys
from nbrepro.isolation.confine import Lifeline

def test_starts_a_kernel_and_forgets_it(tmp_path):
    lifeline = Lifeline()
    proc = subprocess.Popen(Lifeline.command(["sleep", "300"]), stdin=lifeline.stdin,
                            env={**os.environ, **lifeline.environment()})
    lifeline.launched()
    (os.environ["LEAK_PIDS"] and open(os.environ["LEAK_PIDS"], "w").write(str(proc.pid)))
    sys.modules[__name__].kept = lifeline  # never cut
"""


@pytest.mark.parametrize("leaks", [True, False])
def test_the_test_session_fails_when_a_kernel_outlives_it(tmp_path: Path, leaks: bool) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    (suite / "conftest.py").write_text(_GUARDED_CONFTEST)
    (suite / "test_it.py").write_text(_LEAKY_TEST if leaks else "def test_nothing():\n    pass\n")
    pid_file = tmp_path / "pid"
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(root), CHECKER]),
           "NBREPRO_LEAK_GUARD_GRACE": "2", "LEAK_PIDS": str(pid_file),
           "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}  # only the guard: fast
    env.pop("NBREPRO_TEST_SESSION", None)  # a session of its own
    inner = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            "--rootdir", str(suite), str(suite)], env=env, cwd=suite,
                           capture_output=True, text=True, timeout=300)
    if not leaks:
        assert inner.returncode == 0, inner.stdout + inner.stderr
        assert "outlived the tests" not in inner.stdout
        return
    assert inner.returncode == 1, inner.stdout + inner.stderr
    assert "1 passed" in inner.stdout
    assert "outlived the tests" in inner.stdout and "sleep 300" in inner.stdout
    assert _gone([int(pid_file.read_text())])
