"""Argument checks shared by the pillars."""

from __future__ import annotations

import functools
import operator

import equinox as eqx
import jax
import jax.numpy as jnp
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
    return checked_int(value, f"`{name}` must be a positive int, got {value!r}.")


def checked_int(value, message: str, minimum: int = 1, maximum: int | None = None) -> int:
    """`value` as a Python int if it is an integer (`as_index`: NumPy and concrete JAX integers
    count, bools do not) in `[minimum, maximum]`; otherwise `ValueError(message)`."""
    number = as_index(value)
    if number is None or number < minimum or (maximum is not None and number > maximum):
        raise ValueError(message)
    return number


def filter_jit_ints(fn):
    """`equinox.filter_jit(fn)`, called with integer scalars turned into Python ints.

    `filter_jit` traces NumPy scalars and JAX arrays, so `num_matvecs=np.int64(20)` or
    `k=jnp.array(2)` would arrive as a tracer where a static count is needed (a loop length, a
    shape). NumPy integers and concrete 0-d JAX integer arrays (not bools, not tracers) become
    Python ints, which stay static; everything else is passed on unchanged."""
    jitted = eqx.filter_jit(fn)

    def to_int(value):
        if isinstance(value, np.integer) or _is_concrete_jax_int(value):
            return int(value)
        return value

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        return jitted(*map(to_int, args), **{name: to_int(value) for name, value in kwargs.items()})

    return wrapper


def _is_concrete_jax_int(value) -> bool:
    """Whether `value` is a 0-d JAX integer array with a known value (not a tracer, not a bool)."""
    return (
        isinstance(value, jax.Array)
        and not isinstance(value, jax.core.Tracer)
        and value.ndim == 0
        and jnp.issubdtype(value.dtype, jnp.integer)
    )


def varies_over_devices(x) -> bool:
    """Whether `x` is a per-device value inside `shard_map` (it varies over a manual axis)."""
    aval = jax.typeof(x) if hasattr(jax, "typeof") else jax.core.get_aval(x)
    manual = getattr(aval, "manual_axis_type", None)
    return bool(manual.varying if manual is not None else getattr(aval, "vma", ()))


def runtime_check(x, bad, message: str):
    """`equinox.error_if(x, bad, message)`: raise when the program runs if `bad` is true.

    The check for traced values (concrete ones get a `ValueError` before this). Inside
    `shard_map` it is skipped when `x` or `bad` is a per-device value: `error_if` cannot check
    those (its branches would disagree on the manual axes, and an error raised on several
    devices at once aborts the process), and checking is better lost there than the program.
    """
    if any(varies_over_devices(leaf) for leaf in jax.tree.leaves((x, bad))):
        return x
    return eqx.error_if(x, bad, message)


def checked(value, bad, message: str):
    """`value`, validated by the boolean `bad` (computed from it with `jnp`).

    For concrete values a true `bad` raises `ValueError(f"{message}, got {value}.")` at once;
    for traced ones (inside `jit`/`vmap`/`grad`) it is checked when the program runs
    (`runtime_check`, with `message + "."`). Under `jit`, `jnp` stages even operations on a
    Python number, so `bad` can be traced while `value` is a plain number: the value is then
    returned as an array (`error_if` needs one to attach the check to)."""
    if isinstance(bad, jax.core.Tracer):
        if not isinstance(value, jax.Array):
            value = jnp.asarray(value)
        return runtime_check(value, bad, message + ".")
    if bool(bad):
        raise ValueError(f"{message}, got {np.asarray(value)}.")
    return value
