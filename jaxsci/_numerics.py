"""Small numerical kernels shared by the pillars."""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array


def safe_sqrt(value: Array) -> Array:
    """$\\sqrt{\\max(v, 0)}$ with a zero (not infinite or NaN) derivative where $v \\le 0$.

    `jnp.sqrt` has an infinite derivative at 0, which turns into NaN as soon as it is
    multiplied by a zero cotangent. The double `where` keeps the untaken branch's square root
    away from 0, so its gradient stays finite."""
    positive = value > 0
    return jnp.where(positive, jnp.sqrt(jnp.where(positive, value, 1.0)), 0.0)


def safe_norm(x: Array, axis=None, keepdims: bool = False) -> Array:
    """The Euclidean norm of `x` (over `axis`, all entries by default; complex entries too),
    with a zero gradient where the norm is 0 (`jnp.linalg.norm` gives NaN there)."""
    squares = x.real**2 + x.imag**2 if jnp.iscomplexobj(x) else x**2
    return safe_sqrt(jnp.sum(squares, axis=axis, keepdims=keepdims))
