"""The venv backend's isolation: the bubblewrap sandbox, the tool runner for build
steps, the cgroup confinement of kernels, and what a check records about them."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from nbrepro.errors import BackendUnavailable, ConfigError
from nbrepro.isolation import confine as confinement
from nbrepro.isolation import sandbox, tools
from nbrepro.isolation.confine import (
    KERNEL_VARIABLE,
    OWNER_VARIABLE,
    CgroupV1,
    CgroupV2,
    KernelTeardown,
    Lifeline,
    ResourceLimits,
    confine,
)
from nbrepro.isolation.environ import TOOL_SETTINGS, tool_environment
from nbrepro.isolation.sandbox import Bubblewrap, Mounts, NoSandbox, detect
from nbrepro.isolation.tools import ToolRunner, uv_binary
from tests.helpers.cli import REPOS

needs_bwrap = pytest.mark.skipif(not Bubblewrap.available(),
                                 reason="bubblewrap does not work on this machine")
needs_cgroup = pytest.mark.skipif(not (CgroupV1.available() or CgroupV2.available()),
                                  reason="no writable cgroup on this machine")


# --- unit: options and argv ----------------------------------------------------------


@pytest.mark.parametrize(("text", "size"), [
    ("512m", 512 * 1024**2), ("4g", 4 * 1024**3), ("1.5G", int(1.5 * 1024**3)),
    ("2GiB", 2 * 1024**3), ("100000000", 100_000_000),
])
def test_memory_sizes_parse(text: str, size: int) -> None:
    assert ResourceLimits.parse_size(text) == size


@pytest.mark.parametrize("text", ["lots", "4x", "", "1m"])
def test_bad_memory_sizes_are_config_errors(text: str) -> None:
    with pytest.raises(ConfigError):
        ResourceLimits.parse_size(text)


def test_no_sandbox_when_asked() -> None:
    assert isinstance(detect(enabled=False), NoSandbox)
    assert detect(enabled=False).name == "none"


def test_a_missing_sandbox_fails_closed(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(Bubblewrap, "available", classmethod(lambda cls: False))
    with pytest.raises(BackendUnavailable) as error:
        detect()
    message = str(error.value)
    assert "bubblewrap" in message and "--no-sandbox" in message
    assert "--backend docker" in message


def test_tool_environment_is_an_allow_list() -> None:
    base = {"PATH": "/usr/bin", "UV_INDEX_URL": "https://user:pw@example/simple",
            "PIP_CERT": "/ca.pem", "HTTPS_PROXY": "http://proxy:3128",
            "AWS_SECRET_ACCESS_KEY": "s3cr3t", "GITHUB_TOKEN": "ghp_x",
            "UV_PUBLISH_TOKEN": "pypi-x", "HOME": "/home/me", "SSH_AUTH_SOCK": "/run/x",
            "UV_INDEX_CORP_USERNAME": "me", "UV_CACHE_DIR": "/home/me/.cache/uv"}
    env = tool_environment(base, home=Path("/tmp/private-home"))
    assert env == {"PATH": "/usr/bin", "UV_INDEX_URL": "https://example/simple",
                   "PIP_CERT": "/ca.pem", "HOME": "/tmp/private-home", **TOOL_SETTINGS}


def test_bwrap_argv_hides_then_binds_back(tmp_path: Path) -> None:
    hidden, env, scratch = tmp_path / "hidden", tmp_path / "hidden" / "env", tmp_path / "s"
    for folder in (env, scratch):
        folder.mkdir(parents=True)
    mounts = Mounts(writable=[scratch], readable=[env], hidden=[hidden])
    offline = Bubblewrap().kernel_argv(["python"], mounts, scratch, network=False)
    online = Bubblewrap().kernel_argv(["python"], mounts, scratch, network=True)
    assert "--unshare-net" in offline and "--unshare-net" not in online
    for argv in (offline, online):
        assert argv[argv.index("--cap-drop") + 1] == "ALL"
        assert "--unshare-pid" in argv and "--die-with-parent" in argv
        assert argv[-2:] == ["--", "python"]
        for marker in (OWNER_VARIABLE, KERNEL_VARIABLE):  # not for audited code to see
            assert argv[argv.index(marker) - 1] == "--unsetenv"
        home = str(Path(os.path.realpath(Path.home())))
        assert argv[argv.index(home) - 1] == "--tmpfs"
        # later mounts win: the environment is bound back read-only after /tmp is hidden
        tmp_mount = argv.index("/tmp") if "/tmp" in argv else -1
        assert argv.index(str(env)) > tmp_mount
        assert argv[argv.index(str(env)) - 1] == "--ro-bind"
        assert argv[argv.index(str(scratch)) - 1] == "--bind"


# --- the sandbox for real -------------------------------------------------------------


PROBE = textwrap.dedent("""
    import json, os, socket, sys
    report = {}
    def attempt(name, action):
        try:
            action()
            report[name] = "ok"
        except Exception as exc:
            report[name] = type(exc).__name__
    attempt("write_scratch", lambda: open(sys.argv[1] + "/out.txt", "w").write("x"))
    attempt("write_etc", lambda: open("/etc/nbrepro-probe", "w").write("x"))
    attempt("write_home", lambda: open(sys.argv[2] + "/probe", "w").write("x"))
    attempt("write_tmp", lambda: open(sys.argv[4], "w").write("x"))
    attempt("connect", lambda: socket.create_connection(("127.0.0.1", int(sys.argv[3])), 3))
    report["home_listing"] = sorted(os.listdir(sys.argv[2]))
    report["pids"] = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    report["secret"] = any(b"NBREPRO_PROBE_SECRET" in open(f"/proc/{p}/environ", "rb").read()
                           for p in report["pids"])
    report["run"] = sorted(os.listdir("/run"))
    print(json.dumps(report))
""")


@pytest.fixture
def listener() -> tuple[socket.socket, list[bool]]:
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen()
    server.settimeout(0.3)
    hits: list[bool] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
                hits.append(True)
                conn.close()
            except OSError:
                continue

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server, hits
    stop.set()
    thread.join(timeout=3)
    server.close()


def _probe(argv: list[str], env: dict[str, str]) -> dict[str, object]:
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60, env=env)
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout.strip().splitlines()[-1])


@pytest.fixture
def outside_tmp() -> Iterator[Path]:
    """A folder outside /tmp (which the sandbox replaces wholesale), like a real home."""
    folder = Path(tempfile.mkdtemp(prefix="nbrepro-test-", dir="/var/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


@needs_bwrap
def test_sandboxed_process_sees_only_its_scratch_copy(
        tmp_path: Path, outside_tmp: Path, listener, monkeypatch: pytest.MonkeyPatch) -> None:
    server, hits = listener
    scratch, home = tmp_path / "scratch", outside_tmp / "home"
    scratch.mkdir()
    (home / ".ssh").mkdir(parents=True)
    (home / ".ssh" / "id_rsa").write_text("PRIVATE")
    # The harness's own environment holds a secret; $HOME decides what is hidden.
    monkeypatch.setenv("NBREPRO_PROBE_SECRET", "1")
    monkeypatch.setenv("HOME", str(home))
    python = sys.executable
    mounts = Mounts(writable=[scratch], readable=sandbox.python_prefixes(python))
    host_tmp_file = Path(f"/tmp/nbrepro-probe-{os.getpid()}")
    argv = [python, "-c", PROBE, str(scratch), str(home), str(server.getsockname()[1]),
            str(host_tmp_file)]
    wrapped = Bubblewrap().kernel_argv(argv, mounts, scratch, network=False)
    report = _probe(wrapped, {"PATH": os.environ["PATH"], "HOME": str(scratch)})
    assert report["write_scratch"] == "ok" and (scratch / "out.txt").read_text() == "x"
    assert report["write_etc"] == "OSError"
    assert report["write_home"] == "OSError"  # hidden and read-only
    assert report["write_tmp"] == "ok"  # a private /tmp ...
    assert not host_tmp_file.exists()  # ... not the host's
    assert report["connect"] in {"OSError", "ConnectionRefusedError"}
    assert report["secret"] is False
    assert hits == []
    assert report["home_listing"] == []
    assert len(report["pids"]) <= 3  # its own PID namespace
    assert report["run"] == []  # no docker.sock, no user runtime sockets
    assert not (home / "probe").exists()


@needs_bwrap
def test_network_option_lets_the_sandbox_connect(tmp_path: Path, listener) -> None:
    server, hits = listener
    port = server.getsockname()[1]
    code = f"import socket; socket.create_connection(('127.0.0.1', {port}), 3)"
    argv = Bubblewrap().kernel_argv(
        [sys.executable, "-c", code],
        Mounts(writable=[tmp_path], readable=sandbox.python_prefixes(sys.executable)),
        tmp_path, network=True)
    proc = subprocess.run(argv, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr
    time.sleep(0.5)
    assert hits == [True]


@needs_bwrap
def test_tool_runner_writes_only_where_allowed(tmp_path: Path, outside_tmp: Path,
                                               listener) -> None:
    """A build step (here a stand-in for setup.py): a private home, the environment
    being built writable, the rest read-only, no secrets, and no way to the host's
    loopback (only public addresses, through nbrepro's egress proxy)."""
    server, hits = listener
    target, elsewhere = tmp_path / "env", outside_tmp
    target.mkdir()
    port = server.getsockname()[1]
    code = textwrap.dedent(f"""
        import os, socket, sys, urllib.request
        open({str(target)!r} + "/built", "w").write(os.environ.get("GITHUB_TOKEN", "none"))
        open(os.path.expanduser("~/.setup-cache"), "w").write("fine")
        for attempt in (lambda: socket.create_connection(("127.0.0.1", {port}), 3).close(),
                        lambda: urllib.request.urlopen("http://127.0.0.1:{port}/", timeout=5)):
            try:
                attempt()
                print("reached the host")
            except OSError:
                pass
        try:
            open({str(elsewhere)!r} + "/pwned", "w")
            print("wrote elsewhere")
        except OSError:
            print("blocked")
    """)
    runner = ToolRunner(Bubblewrap(), writable=[target])
    proc = runner.run([sys.executable, "-c", code], cwd=tmp_path / "env", timeout=60,
                      env={**os.environ, "GITHUB_TOKEN": "ghp_secret"})
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "blocked"
    assert f"127.0.0.1:{port}: loopback" in proc.stderr  # the refusal is reported
    assert (target / "built").read_text() == "none"
    assert not (elsewhere / "pwned").exists()
    time.sleep(0.5)
    assert hits == []
    assert not Path(os.path.expanduser("~/.setup-cache")).exists()
    assert list(elsewhere.iterdir()) == []


# --- confinement: limits and cleanup --------------------------------------------------


def _confined(confinement: confinement.Confinement, argv: list[str],
              **kwargs: object) -> tuple[subprocess.Popen[str], Lifeline]:
    """`argv` started the way kernels are: by a supervisor that joins the cgroups first."""
    lifeline = Lifeline()
    proc = subprocess.Popen(
        Lifeline.command(confinement.wrap(argv), KernelTeardown(confinement.procs_files())),
        stdin=lifeline.stdin, text=True, **kwargs)  # type: ignore[call-overload]
    lifeline.launched()
    return proc, lifeline


def _run_confined(confinement: confinement.Confinement,
                  argv: list[str]) -> subprocess.CompletedProcess[str]:
    proc, lifeline = _confined(confinement, argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    try:
        out, err = proc.communicate(timeout=60)
    finally:
        lifeline.cut()
    return subprocess.CompletedProcess(proc.args, proc.returncode, out, err)


@needs_cgroup
def test_confinement_kills_every_descendant(tmp_path: Path) -> None:
    confinement = confine(ResourceLimits(memory=256 * 1024**2, pids=64), label="test-kill")
    script = "sleep 300 & sleep 300 & setsid sleep 300 & (sleep 300 &) ; wait"
    proc, lifeline = _confined(confinement, ["/bin/sh", "-c", script])
    try:
        deadline = time.monotonic() + 10
        while len(confinement.pids()) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        pids = confinement.pids()
        assert len(pids) >= 5
        assert proc.pid not in pids  # the supervisor stays outside, its kernel is inside
    finally:
        confinement.close()
        proc.wait(timeout=10)
        lifeline.cut()
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists() or _is_zombie(pid)
    assert all(not d.exists() for d in getattr(confinement, "dirs", []))


def _is_zombie(pid: int) -> bool:
    try:
        return "State:\tZ" in Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return True


@needs_cgroup
def test_confinement_limits_processes_and_memory() -> None:
    confinement = confine(ResourceLimits(memory=128 * 1024**2, pids=20), label="test-limits")
    try:
        forks = _run_confined(confinement,
            [sys.executable, "-c", "import subprocess\n"
             "procs = []\n"
             "try:\n"
             "    for _ in range(100):\n"
             "        procs.append(subprocess.Popen(['sleep', '30']))\n"
             "except OSError as exc:\n"
             "    print('stopped after', len(procs), type(exc).__name__)\n"
             "for p in procs:\n"
             "    p.kill()\n"])
        assert "stopped after" in forks.stdout, (forks.stdout, forks.stderr)
        assert int(forks.stdout.split()[2]) < 20
        hog = _run_confined(
            confinement, [sys.executable, "-c", "blocks = [b'x' * 10**7 for _ in range(100)]"])
        assert hog.returncode in (-9, 137), hog.returncode  # the OOM killer, not the host
    finally:
        confinement.close()


def test_cgroup_v2_writes_its_limits(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The unified-hierarchy strategy, against a stand-in for /sys/fs/cgroup."""
    root = tmp_path / "cgroup"
    mine = root / "user.slice" / "session.scope"
    mine.mkdir(parents=True)
    (root / "cgroup.controllers").write_text("cpu memory pids\n")
    (root / "user.slice" / "cgroup.subtree_control").write_text("cpu memory pids\n")
    monkeypatch.setattr(CgroupV2, "root", root)
    monkeypatch.setattr(confinement, "_own_cgroups", lambda: {"": "/user.slice/session.scope"})
    CgroupV2.available.cache_clear()
    try:
        assert CgroupV2.available()
        # the control files the kernel would create with the cgroup
        d = root / "user.slice" / confinement._cgroup_name("k1")
        d.mkdir()
        for name in ("pids.max", "memory.max", "memory.swap.max", "cpu.max", "cgroup.procs"):
            (d / name).write_text("")
        group = CgroupV2(ResourceLimits(memory=1024**3, cpus=1.5, pids=100), "k1")
    finally:
        CgroupV2.available.cache_clear()
    assert group.dirs == [d]
    assert (d / "pids.max").read_text() == "100\n"
    assert (d / "memory.max").read_text() == f"{1024**3}\n"
    assert (d / "memory.swap.max").read_text() == "0\n"
    assert (d / "cpu.max").read_text() == "150000 100000\n"
    assert group.procs_files() == [d / "cgroup.procs"]
    assert group.wrap(["python"]) == ["python"]  # joined by the supervisor, before exec


# --- what a check records ----------------------------------------------------------------


@pytest.mark.slow
@needs_bwrap
def test_check_records_the_sandbox_and_network(repo, run_cli) -> None:
    root = repo("reproduces")
    result = run_cli("check", str(root))
    assert result.code == 0, result.stderr
    assert result.json["environment"]["sandbox"] == "bubblewrap"
    assert result.json["environment"]["network"] is False
    result = run_cli("check", str(root), "--no-sandbox", "--network")
    assert result.code == 0, result.stderr
    assert result.json["environment"]["sandbox"] == "none"
    assert result.json["environment"]["network"] is True


@pytest.mark.slow
@needs_bwrap
def test_setup_py_runs_sandboxed_while_installing(tmp_path: Path, outside_tmp: Path) -> None:
    """A local project's setup.py (run while resolving and installing) cannot write to
    the home directory and does not see the harness's secrets; network stays allowed."""
    repo = tmp_path / "repo"
    (repo / "probe_pkg").mkdir(parents=True)
    (repo / "probe_pkg" / "__init__.py").write_text("")
    home = outside_tmp
    (repo / "setup.py").write_text(textwrap.dedent(f"""
        import os
        from setuptools import setup
        try:
            open({str(home)!r} + "/setup-was-here", "w").write("pwned")
            wrote = "wrote-home"
        except OSError:
            wrote = "home-blocked"
        secret = os.environ.get("NBREPRO_SETUP_SECRET", "no-secret")
        with open("probe_pkg/seen.py", "w") as f:
            f.write(f"WROTE = {{wrote!r}}\\nSECRET = {{secret!r}}\\n")
        setup(name="probe-pkg", version="1.0", packages=["probe_pkg"])
    """))
    shutil.copytree(REPOS / "reproduces", repo, dirs_exist_ok=True)
    (repo / "uses.ipynb").write_text((REPOS / "reproduces" / "analysis.ipynb").read_text())
    nb = json.loads((repo / "uses.ipynb").read_text())
    nb["cells"] = [{"cell_type": "code", "execution_count": 1, "id": "c1", "metadata": {},
                    "source": "from probe_pkg import seen\nprint(seen.WROTE, seen.SECRET)",
                    "outputs": [{"output_type": "stream", "name": "stdout",
                                 "text": "home-blocked no-secret\n"}]}]
    (repo / "uses.ipynb").write_text(json.dumps(nb))
    env = {**os.environ, "HOME": str(home), "NBREPRO_SETUP_SECRET": "hunter2"}
    uv_cache = tools.uv_cache_dir(uv_binary())
    if uv_cache:
        env["UV_CACHE_DIR"] = str(uv_cache)
    out = tmp_path / "result.json"
    proc = subprocess.run([sys.executable, "-m", "nbrepro", "check", str(repo), "--json",
                           str(out), "--db", f"sqlite:///{tmp_path / 'db.sqlite'}", "--no-cache"],
                          capture_output=True, text=True, timeout=600, env=env)
    result = json.loads(out.read_text())
    assert result["environment"]["ok"], result["environment"]["log"][-2000:]
    verdicts = {n["path"]: n["verdict"] for n in result["notebooks"]}
    assert verdicts["uses.ipynb"] == "reproduced", (proc.stdout, proc.stderr)
    assert not (home / "setup-was-here").exists()
    assert "hunter2" not in out.read_text()


def test_cgroups_of_dead_nbrepro_processes_are_swept(tmp_path: Path) -> None:
    dead = subprocess.Popen(["true"])
    dead.wait()
    mine = f"{os.getpid()}.{confinement.started(os.getpid())}"
    stale = [tmp_path / f"nbrepro-{dead.pid}-nbr-x", tmp_path / f"nbrepro-{dead.pid}.5-nbr-y",
             tmp_path / f"nbrepro-{os.getpid()}.1-nbr-reused"]  # our pid, not our start
    live = [tmp_path / f"nbrepro-{os.getpid()}-nbr-old", tmp_path / f"nbrepro-{mine}-nbr-z",
            tmp_path / f"nbrepro-probe-{dead.pid}"]
    for folder in (*stale, *live):
        folder.mkdir()
    confinement._sweep(tmp_path)
    assert [f.name for f in stale if f.exists()] == []
    assert all(f.exists() for f in live)
