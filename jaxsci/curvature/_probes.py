"""Fast probe vectors for the curvature estimators (private).

Rademacher signs are unpacked from raw random bits, 32 signs per `uint32` draw: about an
order of magnitude cheaper than drawing one uniform float per sign, which matters because
drawing 100 probes over 10^5 parameters can cost as much as the curvature products.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ._base import AbstractCurvatureOperator
from ._tree import tree_dot


def rademacher(key, num: int, size: int, dtype):
    """`(num, size)` independent uniform random signs."""
    words = -(-size // 32)
    bits = jax.random.bits(key, (num, words), jnp.uint32)
    shifts = jnp.arange(32, dtype=jnp.uint32)
    signs = (bits[:, :, None] >> shifts) & jnp.uint32(1)
    signs = signs.reshape(num, words * 32)[:, :size]
    return (1 - 2 * signs.astype(jnp.int8)).astype(dtype)


def draw(key, num: int, size: int, dtype, sampler: str):
    if sampler == "rademacher":
        return rademacher(key, num, size, dtype)
    if sampler == "gaussian":
        return jax.random.normal(key, (num, size), dtype)
    raise ValueError(f'`sampler` must be "rademacher" or "gaussian", got {sampler!r}.')


def batched(fn, xs, chunk_size):
    """`jax.vmap(fn)(xs)`, or in chunks of `chunk_size` with `jax.lax.map` to bound memory."""
    if chunk_size is None:
        return jax.vmap(fn)(xs)
    return jax.lax.map(fn, xs, batch_size=int(chunk_size))


def quadratic_form(op, v):
    """$v^\\top A v$, by the cheaper forward-mode route for curvature operators."""
    if isinstance(op, AbstractCurvatureOperator):
        return op.quadratic_form(v)
    return tree_dot(v, op.mv(v))
