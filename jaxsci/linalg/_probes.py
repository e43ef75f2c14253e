"""Random probe vectors for stochastic estimators: Rademacher, Gaussian, sphere."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._types import PRNGKey

SAMPLERS = ("rademacher", "gaussian", "sphere")


def check_sampler(sampler: str) -> str:
    if sampler not in SAMPLERS:
        raise ValueError(f"`sampler` must be one of {SAMPLERS}, got {sampler!r}")
    return sampler


def rademacher(key: PRNGKey, num: int, size: int, dtype) -> Float[Array, "num size"]:
    """`(num, size)` independent uniform random signs, 32 of them from each random word.

    `jax.random.rademacher` spends one 32-bit draw (and a float conversion) per sign, which
    for 100 probes over 10^5 parameters costs as much as the curvature products themselves;
    here each bit of a `uint32` draw is one sign, about 10x cheaper. Rows are independent.
    """
    words = -(-size // 32)
    bits = jax.random.bits(key, (num, words), jnp.uint32)
    shifts = jnp.arange(32, dtype=jnp.uint32)
    signs = (bits[:, :, None] >> shifts) & jnp.uint32(1)
    signs = signs.reshape(num, words * 32)[:, :size]
    return jnp.where(signs == 0, jnp.ones((), dtype), -jnp.ones((), dtype))


def probes(key: PRNGKey, num: int, size: int, dtype, sampler: str = "rademacher") -> Float[Array, "num size"]:
    r"""`num` isotropic probes ($E[z z^\top] = I$) of length `size`, as rows.

    Rademacher signs are unpacked from random bits (32 signs per `uint32` draw, see
    `rademacher`); sphere probes are Gaussians rescaled to norm $\sqrt{n}$.
    """
    check_sampler(sampler)
    if sampler == "rademacher":
        return rademacher(key, num, size, dtype)
    z = jax.random.normal(key, (num, size), dtype=dtype)
    if sampler == "sphere":
        z = z * (jnp.sqrt(jnp.asarray(size, dtype)) / jnp.linalg.norm(z, axis=1, keepdims=True))
    return z


def tree_rademacher(key: PRNGKey, num: int, like):
    """Rademacher probes shaped like the pytree `like` with a leading axis `num` (per leaf).

    Leaf `i` uses `fold_in(key, i)`, so no flat `(num, n)` array is built and unravelled.
    """
    leaves, treedef = jax.tree.flatten(like)
    out = []
    for i, x in enumerate(leaves):
        size = 1
        for s in x.shape:
            size *= int(s)
        z = rademacher(jax.random.fold_in(key, i), num, size, x.dtype)
        out.append(z.reshape((num,) + tuple(x.shape)))
    return jax.tree.unflatten(treedef, out)
