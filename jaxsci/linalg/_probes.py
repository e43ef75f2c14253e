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


def probes(key: PRNGKey, num: int, size: int, dtype, sampler: str = "rademacher") -> Float[Array, "num size"]:
    r"""`num` isotropic probes ($E[z z^\top] = I$) of length `size`, as rows.

    Rademacher signs come from random bits (`jax.random.rademacher`), not from rounding
    normals; sphere probes are Gaussians rescaled to norm $\sqrt{n}$.
    """
    check_sampler(sampler)
    if sampler == "rademacher":
        return jax.random.rademacher(key, (num, size), dtype=dtype)
    z = jax.random.normal(key, (num, size), dtype=dtype)
    if sampler == "sphere":
        z = z * (jnp.sqrt(jnp.asarray(size, dtype)) / jnp.linalg.norm(z, axis=1, keepdims=True))
    return z
