"""Isolation: where audited code is built and run.

- `base`: the backend interface (`Backend`) and what a build or a kernel needs.
- `venv`, `docker`: the two built-in backends.
- `sandbox`: bubblewrap, for audited code that runs on the host.
- `confine`: resource limits and the end of every process a kernel starts.
- `supervisor`: the parent of every kernel and build step, tied to the check by a
  lifeline; kills their whole tree when the check ends.
- `tools`: uv, pip-tools and interpreters, run the way a backend wants them.
- `environ`: which environment variables reach those processes.

Backends are found by name: the built-in ones, then any registered by another
distribution under the `nbrepro.backends` entry point group, e.g.

    [project.entry-points."nbrepro.backends"]
    podman = "nbrepro_podman:PodmanBackend"

Modules are imported only when a backend is asked for, so a check with the venv
backend never imports the Docker SDK.
"""

from __future__ import annotations

import importlib
from importlib.metadata import entry_points
from typing import TYPE_CHECKING

from nbrepro.errors import ConfigError

if TYPE_CHECKING:
    from nbrepro.isolation.base import Backend, BackendOptions

ENTRY_POINT_GROUP = "nbrepro.backends"
BUILTIN_BACKENDS = {
    "venv": "nbrepro.isolation.venv:VenvBackend",
    "docker": "nbrepro.isolation.docker:DockerBackend",
}


def backend_names() -> dict[str, str]:
    """Every backend's name and `module:Class`, built-in ones first."""
    names = dict(BUILTIN_BACKENDS)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        names.setdefault(ep.name, ep.value)
    return names


def get_backend(name: str, options: BackendOptions | None = None) -> Backend:
    """The backend called `name`, constructed with `options`."""
    # Built-in names come first (no distribution can take them): the scan of every
    # installed distribution's entry points, a tenth of a second, only for the others.
    target = BUILTIN_BACKENDS.get(name)
    if target is None:
        names = backend_names()
        if name not in names:
            raise ConfigError(f"unknown backend {name!r} (choose from {', '.join(names)})")
        target = names[name]
    module, _, attr = target.partition(":")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as exc:
        raise ConfigError(f"backend {name!r} cannot be loaded: {exc}") from None
    from nbrepro.isolation.base import Backend

    if not (isinstance(cls, type) and issubclass(cls, Backend)):
        raise ConfigError(f"backend {name!r} ({target}) is not an nbrepro Backend")
    return cls(options)


__all__ = ["BUILTIN_BACKENDS", "ENTRY_POINT_GROUP", "backend_names", "get_backend"]
