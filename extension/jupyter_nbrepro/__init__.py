"""jupyter_nbrepro: the Jupyter server extension and JupyterLab front end of nbrepro."""

from __future__ import annotations

from typing import Any


def _jupyter_labextension_paths() -> list[dict[str, str]]:
    return [{"src": "labextension", "dest": "jupyter-nbrepro"}]


def _jupyter_server_extension_points() -> list[dict[str, Any]]:
    from .app import NbreproApp

    return [{"module": "jupyter_nbrepro.app", "app": NbreproApp}]
