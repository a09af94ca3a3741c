"""How a kernel starts, and when it counts as started.

It counts as started as soon as it has answered on both channels: jupyter_client's
readiness check ends by waiting for IOPub to be silent for 0.2 s, which costs every
check 0.2 s per kernel, and a kernel that never goes quiet (a thread its environment
starts that keeps printing) would never count as started at all.

It starts as ipykernel_launcher would, without ipykernel's debugger: what notebooks
see (sys.argv, the path, debugpy for their own use) is what they saw when they ran.
"""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import nbformat
import pytest
from jupyter_client.manager import AsyncKernelManager
from nbclient import NotebookClient

from nbrepro.stages.execute import _ReadyClient
from tests.helpers.cli import nbrepro

# Started with the kernel: a thread that prints to IOPub every 20 ms, for ever.
CHATTER = ("import threading, time, sys\n"
           "def _chatter():\n"
           "    while True:\n"
           "        sys.stdout.write('.'); sys.stdout.flush(); time.sleep(0.02)\n"
           "threading.Thread(target=_chatter, daemon=True).start()")


async def _run_first_cell(code: str, *kernel_args: str) -> list[dict[str, object]]:
    km = AsyncKernelManager(client_factory=_ReadyClient)
    km.kernel_spec_manager.ensure_native_kernel = True
    await km.start_kernel(extra_arguments=list(kernel_args))
    kc = km.client()
    try:
        kc.start_channels()
        await asyncio.wait_for(kc.wait_for_ready(timeout=60), 60)
        nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code)])
        client = NotebookClient(nb, km=km, timeout=30)
        client.kc = kc
        await client.async_execute_cell(nb.cells[0], 0)
        return list(nb.cells[0].outputs)
    finally:
        kc.stop_channels()
        await km.shutdown_kernel(now=True)


def _printed(outputs: list[dict[str, object]]) -> str:
    return "".join(str(o.get("text", "")) for o in outputs if o.get("output_type") == "stream")


def test_a_kernel_that_never_goes_quiet_still_starts_and_runs_its_cells() -> None:
    exec_lines = f"--IPKernelApp.exec_lines={[CHATTER]!r}"
    outputs = asyncio.run(_run_first_cell("print('answer', 6 * 7)", exec_lines))
    assert "answer 42" in _printed(outputs)


def test_the_first_cell_shows_its_own_output_only() -> None:
    outputs = asyncio.run(_run_first_cell("print('first')"))
    assert _printed(outputs) == "first\n"
    assert [o["output_type"] for o in outputs] == ["stream"]


def test_a_kernel_that_dies_before_answering_is_an_error_not_a_hang() -> None:
    async def start() -> None:
        km = AsyncKernelManager(client_factory=_ReadyClient)
        km.kernel_spec_manager.ensure_native_kernel = True
        # The kernel exits while it starts, before it ever binds its sockets.
        await km.start_kernel(
            extra_arguments=["--IPKernelApp.exec_lines=['import os; os._exit(3)']"])
        kc = km.client()
        kc.start_channels()
        try:
            with pytest.raises(RuntimeError, match="died"):
                await asyncio.wait_for(kc.wait_for_ready(timeout=60), 90)
        finally:
            kc.stop_channels()
            await km.shutdown_kernel(now=True)

    asyncio.run(start())


def _stream(text: str) -> list[dict[str, object]]:
    return [nbformat.v4.new_output("stream", name="stdout", text=text)]


def test_notebooks_see_the_kernel_they_ran_in(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    # Beside the notebook: while ipykernel loads, its folder is not on the path.
    (repo / "zmq.py").write_text("raise RuntimeError('the kernel imported zmq.py')\n")
    (repo / "helper.py").write_text("VALUE = 42\n")
    cells = [
        ("import os, sys\nprint(os.path.basename(sys.argv[0]), sys.argv[1])",
         "ipykernel_launcher.py -f\n"),
        ("import debugpy\nprint(type(debugpy).__name__, callable(debugpy.listen))",
         "module True\n"),
        ("import zmq\nprint(hasattr(zmq, 'Context'))", "True\n"),
        ("import helper\nprint(helper.VALUE)", "42\n"),  # then it is, for the notebook
    ]
    nb = nbformat.v4.new_notebook(cells=[
        nbformat.v4.new_code_cell(code, execution_count=i + 1, outputs=_stream(out))
        for i, (code, out) in enumerate(cells)])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python",
                                 "display_name": "Python 3"}
    (repo / "kernel.ipynb").write_text(json.dumps(nb))
    run = nbrepro("check", str(repo), "--db", f"sqlite:///{tmp_path / 'r.sqlite'}",
                  tmp=tmp_path)
    result = run.notebook("kernel.ipynb")
    assert result["verdict"] == "reproduced", (run.stderr, result)
