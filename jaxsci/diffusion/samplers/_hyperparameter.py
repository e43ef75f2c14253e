"""Float hyperparameters (eta, s_noise, snr, guidance scales, ...) as validated array leaves."""

from __future__ import annotations

import functools
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..._checks import runtime_check
from ..._types import Array


def _describe(low: float, high: float, open_low: bool, finite: bool) -> str:
    if low == -math.inf and high == math.inf:
        return "finite" if finite else "a number (not NaN)"
    if high == math.inf:
        word = "positive" if open_low and low == 0 else ("non-negative" if low == 0 else f">= {low}")
        return f"{'finite and ' if finite else ''}{word}"
    return f"in {'(' if open_low else '['}{low:g}, {high:g}]"


def as_hyperparameter(
    value, name: str, low: float = 0.0, high: float = math.inf, *, open_low: bool = False, finite: bool = True
) -> Array:
    """`value` as a scalar floating array leaf in `[low, high]` (`(low, high]` with
    `open_low`; `inf` allowed only when `finite=False`); NaN is always refused.

    A Python or NumPy number becomes a weakly typed array (so it never promotes the dtype of
    `x`), created outside any trace, so a sampler built inside `jax.jit` still sees a
    concrete value and keeps its static choices (e.g. no noise at `eta = 0`). As an array
    leaf it is traced, not baked in, by `equinox.filter_jit` (no recompilation for a new
    value) and differentiated by `equinox.filter_grad`. A bad concrete value gives a
    `ValueError` naming `name`; a traced one is checked when the program runs.
    """

    def ok(v):  # works on floats and on arrays; NaN fails every comparison
        inside = ((v > low) if open_low else (v >= low)) & (v <= high)
        return inside & (abs(v) < math.inf) if finite else inside

    message = f"{name} must be {_describe(low, high, open_low, finite)}"
    if isinstance(value, (bool, np.bool_)) or getattr(value, "dtype", None) == bool:
        raise ValueError(f"{message}, got the bool {value!r}.")
    if isinstance(value, jax.core.Tracer):
        if value.ndim != 0 or not jnp.issubdtype(value.dtype, jnp.number) or jnp.iscomplexobj(value):
            raise ValueError(f"{name} must be a real scalar, got {value.dtype}{value.shape}.")
        value = value if jnp.issubdtype(value.dtype, jnp.floating) else value.astype(float)
        return runtime_check(value, ~ok(value), message + ".")
    try:
        array = np.asarray(value)
    except Exception:  # noqa: BLE001 - e.g. a string or an object without an array form
        array = np.asarray(None)
    if array.ndim != 0 or array.dtype.kind not in "iuf":
        raise ValueError(f"{name} must be a real scalar, got {value!r}.")
    if not ok(float(array)):
        raise ValueError(f"{message}, got {float(array)}.")
    if isinstance(value, jax.Array) and jnp.issubdtype(value.dtype, jnp.floating):
        return value
    with jax.ensure_compile_time_eval():  # concrete even when constructed inside `jit`
        return jnp.asarray(float(array))


def hyperparameter(default: float, name: str, low: float = 0.0, high: float = math.inf, **kwargs):
    """An `equinox.field` with `default`, converted and checked by `as_hyperparameter`."""
    convert = functools.partial(as_hyperparameter, name=name, low=low, high=high, **kwargs)
    return eqx.field(default=default, converter=convert)
