"""Argument checks shared by the pillars."""

from __future__ import annotations

import functools
import operator

import equinox as eqx
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


def checked_int(value, message: str, minimum: int = 1, maximum: int | None = None) -> int:
    """`value` as a Python int if it is an integer (`as_index`: NumPy and concrete JAX integers
    count, bools do not) in `[minimum, maximum]`; otherwise `ValueError(message)`."""
    number = as_index(value)
    if number is None or number < minimum or (maximum is not None and number > maximum):
        raise ValueError(message)
    return number


def filter_jit_ints(fn):
    """`equinox.filter_jit(fn)`, called with NumPy integer scalars turned into Python ints.

    `filter_jit` traces NumPy scalars like arrays, so `num_matvecs=np.int64(20)` would arrive as
    a tracer where a static count is needed (a loop length, a shape). Python ints stay static."""
    jitted = eqx.filter_jit(fn)

    def to_int(value):
        return int(value) if isinstance(value, np.integer) else value

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return jitted(*map(to_int, args), **{name: to_int(value) for name, value in kwargs.items()})

    return wrapper
