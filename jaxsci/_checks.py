"""Argument checks shared by the pillars."""

from __future__ import annotations

import operator

import numpy as np


def as_index(value) -> int | None:
    """`value` as a Python int if it is an integer of any type with `__index__` (Python,
    NumPy, a concrete JAX integer), else `None`: bools (also NumPy and JAX ones), floats such
    as 2.5 and strings are no counts."""
    if isinstance(value, (bool, np.bool_)) or getattr(value, "dtype", None) == bool:
        return None
    try:
        return operator.index(value)
    except TypeError:
        return None


def positive_int(value, name: str) -> int:
    """`value` as a Python int >= 1 (`as_index`), else a `ValueError` naming `name`."""
    number = as_index(value)
    if number is None or number < 1:
        raise ValueError(f"`{name}` must be a positive int, got {value!r}.")
    return number
