"""What a check is asked to do: the options of `nbrepro check` as one record.

Kept apart from the pipeline (`nbrepro.check`) so that reading them costs no imports
of it: an audit's main process builds them for its workers, which run the checks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from nbrepro.isolation.confine import ResourceLimits


@dataclass
class ExecutionOptions:
    cell_timeout: float = 300.0
    notebook_timeout: float = 1200.0
    keep_going: bool = False


@dataclass
class CheckOptions:
    resolver: str = "uv"
    backend: str = "venv"
    exclude_newer: str | None = None  # resolve as of this date (YYYY-MM-DD)
    python: str | None = None  # override the Python version the repository asks for
    use_cache: bool = True
    network: bool = False  # let notebooks reach the network (recorded in the results)
    sandbox: bool = True  # venv backend: sandbox audited code when bubblewrap works here
    base_image: str | None = None  # docker backend: default python:X.Y-slim
    limits: ResourceLimits = field(default_factory=ResourceLimits)
    output_dir: Path | None = None  # where stored and re-run notebooks are written
    twice: bool = False  # run each notebook twice: outputs that differ are `volatile`
    # Run a notebook that differs once more (`--no-rerun`: never): what changes between
    # the two runs is `volatile`. Notebooks that reproduce cost nothing more.
    rerun: bool = True
    execution: ExecutionOptions = field(default_factory=ExecutionOptions)
    ignore_repo_config: bool = False  # judge by nbrepro's defaults, not [tool.nbrepro]
    # A single notebook's repository is searched for no higher than this folder (the
    # Jupyter server passes its root; None: the filesystem root).
    within: Path | None = None
    exclude: list[str] = field(default_factory=list)  # globs of notebooks not to check
    keyword: str | None = None  # a pytest-style `-k` expression over notebook paths
    subdir: str | None = None  # check only this folder of the repository
    strict_config: bool = False  # a problem in `[tool.nbrepro]` is an error, not a warning
    # Parameters the user set (-p, -f) for an exploratory run of parameterised notebooks.
    parameters: dict[str, Any] = field(default_factory=dict)
    # `auto`: install verified distributions for undeclared imports, before the run and
    # after a ModuleNotFoundError (the notebook is then run again); `none`: only what
    # the repository declares.
    restore: str = "none"
    # `auto`: resolve as of when the notebooks were last run (their last commit, else
    # the newest execution time they store), stepping forward to today's packages when
    # that cannot be built; `none`: today's. An explicit date is `exclude_newer`.
    as_of: str = "none"
