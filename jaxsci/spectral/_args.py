"""Checks of the spectral pillar's flag and fraction arguments (static options, not array leaves)."""

from __future__ import annotations

import jax
import numpy as np


def checked_bool(value, name: str) -> bool:
    """`value` as a Python bool if it is a `bool` or `np.bool_`; otherwise a `ValueError`
    naming `name`. Truthiness is not enough: `"no"` or `"False"` would silently mean `True`."""
    if not isinstance(value, (bool, np.bool_)):
        raise ValueError(f"`{name}` must be True or False, got {value!r}.")
    return bool(value)


def checked_fraction(value, name: str) -> float | None:
    """`None`, or `value` as a Python float in (0, 1] if it is a concrete real number (Python,
    NumPy or a 0-d JAX integer or float; not a bool, a string or a complex number); otherwise a
    `ValueError` naming `name`. A float, not an array, so that it can be a static field."""
    if value is None:
        return None
    message = f"`{name}` must be None or a real number in (0, 1], got {value!r}."
    if isinstance(value, (bool, np.bool_, str, bytes, jax.core.Tracer)):
        raise ValueError(message)
    try:
        arr = np.asarray(value)
    except (TypeError, ValueError):
        raise ValueError(message) from None
    if arr.ndim != 0 or arr.dtype.kind not in "iuf":
        raise ValueError(message)
    fraction = float(arr)
    if not 0 < fraction <= 1:  # also rejects NaN
        raise ValueError(message)
    return fraction
