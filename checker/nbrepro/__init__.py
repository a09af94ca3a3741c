"""nbrepro: check whether Jupyter notebooks reproduce their stored outputs."""

from __future__ import annotations

# The one place the version is written (the build reads it from here): asking
# importlib.metadata instead cost every command, and every audit worker, about 70 ms.
__version__ = "0.1.0"

__all__ = ["__version__"]
