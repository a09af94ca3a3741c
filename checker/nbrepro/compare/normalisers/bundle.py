"""BUNDLE-stage normaliser: which MIME types of a pair of outputs to compare."""

from __future__ import annotations

from collections.abc import Mapping


def shared_mimes(stored: Mapping[str, str], new: Mapping[str, str]) -> list[str]:
    """Compare only the MIME types both outputs have (at least one must be shared).

    Libraries add representations over time (scikit-learn estimators gained an
    HTML repr); the representations present on both sides are still compared.
    """
    return sorted(set(stored) & set(new))
