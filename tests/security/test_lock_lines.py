"""A lock is installed on the host (outside the sandbox, from wheels only) only when it
holds nothing but exact pins (issue items 2 and 7): build code that writes into the
resolver's output could otherwise add an index on the host's loopback, a find-links
folder in the user's home or a direct URL, fetched with the host's network."""

from __future__ import annotations

import pytest

from nbrepro.isolation.venv import pins_only


@pytest.mark.parametrize("lock", [
    "numpy==1.26.4\npandas==2.2.2\n",
    "# a comment\nrequests[socks]==2.32.3\nsix==1.17.0 ; python_version >= '3'\n",
    "attrs==23.2.0 \\\n    --hash=sha256:" + "9" * 64 + "\n",
    "",
])
def test_exact_pins_are_installed_on_the_host(lock: str) -> None:
    assert pins_only(lock)


@pytest.mark.parametrize("line", [
    "--index-url http://127.0.0.1:8888/simple", "--extra-index-url http://10.0.0.1/",
    "--find-links /root/.ssh", "-f file:///home/me", "-e ./project", "./local.whl",
    "evil @ https://127.0.0.1:8888/api/contents", "evil @ file:///etc/passwd",
    "numpy>=1.0", "numpy==1.0 ; python_version >= '3' @ http://x/", "-r /etc/passwd",
])
def test_anything_else_goes_to_the_sandbox(line: str) -> None:
    assert not pins_only(f"six==1.17.0\n{line}\n")
