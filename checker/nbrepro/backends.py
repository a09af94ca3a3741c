"""The isolation backends, by the name users give (`--backend`)."""

from __future__ import annotations

from nbrepro.build import Backend, BackendOptions, VenvBackend
from nbrepro.containers import DockerBackend
from nbrepro.errors import ConfigError

BACKENDS: dict[str, type[Backend]] = {b.name: b for b in (VenvBackend, DockerBackend)}


def get_backend(name: str, options: BackendOptions | None = None) -> Backend:
    if name not in BACKENDS:
        raise ConfigError(f"unknown backend {name!r} (choose from {', '.join(BACKENDS)})")
    return BACKENDS[name](options)
