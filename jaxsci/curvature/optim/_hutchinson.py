"""Helpers shared by the second-order optimisers (private): the Hutchinson diagonal, the split of
the parameters into floating-point leaves and the rest, and the checks of the hyperparameters."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np

from ..._checks import positive_int, runtime_check
from ...linalg._probes import tree_rademacher


def hutchinson_diagonal(hvp_fn, params, key, num_probes: int):
    """$\\frac1P \\sum_p z_p \\odot H z_p$ with Rademacher $z_p$ shaped like `params`.

    The probes come from the fast bit-unpacking sampler of `jaxsci.linalg` (32 signs per
    random word), not from `jax.random.rademacher`, whose draw can cost as much as the HVP.
    """
    z = tree_rademacher(key, num_probes, params)
    estimates = jax.vmap(lambda v: jax.tree.map(jnp.multiply, v, hvp_fn(v)))(z)
    return jax.tree.map(lambda x: jnp.mean(x, axis=0), estimates)


def float_part(params, name: str):
    """The floating-point array leaves of `params` (None elsewhere): the variables, as for
    `jaxsci.curvature.Hessian`, whose `mv` takes vectors of exactly this structure."""
    floats = eqx.filter(params, eqx.is_inexact_array)
    if not jax.tree.leaves(floats):
        raise ValueError(f"{name}: `params` has no floating-point array leaves to optimise.")
    return floats


def only_floats(tree, params):
    """`tree` (shaped like `params`, e.g. the gradients) restricted to the floating-point leaves of
    `params`: integer leaves (counters, RNG state) get no moments and no probes."""
    return eqx.filter(tree, jax.tree.map(eqx.is_inexact_array, params))


def with_zero_rest(updates, params):
    """The float-leaf `updates` completed to the structure of `params`: zero updates for the other
    numeric leaves (so `optax.apply_updates` leaves integer leaves unchanged), None for the rest."""
    zero = lambda p: None if eqx.is_inexact_array(p) or not eqx.is_array_like(p) else jnp.zeros_like(p)
    return eqx.combine(updates, jax.tree.map(zero, params))


def in_dtype(value, like):
    """A hyperparameter in the dtype of the leaf `like`: an array hyperparameter (a float64 one
    under x64, or one from `optax.inject_hyperparams`) must not promote the updates."""
    return jnp.asarray(value, jnp.result_type(like))


def bias_correction(beta, count, like):
    """$1 - \\beta^t$ computed in at least float32 (in bfloat16 $0.999$ rounds to 1 and the
    correction to 0), returned in the dtype of the leaf `like`."""
    dtype = jnp.result_type(like)
    wide = jnp.promote_types(dtype, jnp.float32)
    return (1 - jnp.asarray(beta, wide) ** count).astype(dtype)


def check_key(key, name: str):
    """`key` must be a JAX random key (a typed key or a raw `uint32` key); else `ValueError`."""
    dtype = getattr(key, "dtype", None)
    typed = dtype is not None and jax.dtypes.issubdtype(dtype, jax.dtypes.prng_key)
    raw = dtype == jnp.uint32 and jnp.ndim(key) >= 1 and jnp.shape(key)[-1] == 2
    if not (typed or raw):
        raise ValueError(f"{name}: `key` must be a JAX random key such as jax.random.key(0), got {key!r}.")
    return key


def check_interval(value, name: str, interval: str, inside):
    """`value`, which must satisfy `inside` (`interval` in words): a `ValueError` for a concrete
    value, an `equinox.error_if` for a traced one (from `optax.inject_hyperparams`). NaN fails."""
    message = f"`{name}` must be in {interval}"
    if isinstance(value, jax.core.Tracer):
        return runtime_check(value, ~inside(value), message + ".")
    if not bool(inside(np.asarray(value))):  # NumPy: no staged check when built inside `jit`
        raise ValueError(f"{message}, got {value!r}.")
    return value


def static_count(value, name: str, default: int):
    """A count that fixes a shape (`num_probes`), so it must be a concrete positive int."""
    if value is None:
        return default
    if isinstance(value, jax.core.Tracer):
        raise ValueError(
            f"`{name}` arrived as a traced array; it sets a shape, so it must be a static int. With "
            f"`optax.inject_hyperparams`, leave it at its default or pass `static_args=('{name}',)`."
        )
    return positive_int(value, name)


def dynamic_count(value, name: str):
    """A positive int count that may also be a traced integer scalar (`optax.inject_hyperparams`
    turns ints into arrays), which is then checked with `equinox.error_if`."""
    if isinstance(value, jax.core.Tracer):
        if jnp.ndim(value) != 0 or not jnp.issubdtype(value.dtype, jnp.integer):
            raise ValueError(f"`{name}` must be a positive int, got a traced {value.dtype}{list(value.shape)}.")
        return runtime_check(value, value < 1, f"`{name}` must be a positive int.")
    return positive_int(value, name)


def require_hvp(hvp_fn, name: str):
    if hvp_fn is None or not callable(hvp_fn):
        raise ValueError(
            f"{name}.update needs the Hessian-vector product of the loss at the current "
            "parameters as a keyword extra argument: `update(grads, state, params, "
            "hvp_fn=lambda v: jaxsci.curvature.Hessian(loss_fn, params, batch).mv(v))`."
        )
