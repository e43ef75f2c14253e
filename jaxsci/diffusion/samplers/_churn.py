"""EDM stochastic churn (Karras et al. 2022, Algorithm 2), shared by Euler, Heun and DPM2."""

from __future__ import annotations

import math

import jax.numpy as jnp

from ..._types import Array, Scalar
from ._base import AbstractSampler, check_eta, may_be_nonzero, normal_like, safe_sqrt


def churn(sampler, num_steps, x, sigma, key):
    """Raise the noise level from `sigma` to `sigma_hat = (1 + gamma) sigma` by adding noise.

    $\\gamma = \\min(S_{churn}/N, \\sqrt 2 - 1)$ inside $[S_{tmin}, S_{tmax}]$, else 0.
    Returns `(x_hat, sigma_hat)`. Without a key (deterministic use) nothing is added.
    """
    if key is None or not may_be_nonzero(sampler.s_churn):
        return x, sigma
    inside = (sigma >= sampler.s_tmin) & (sigma <= sampler.s_tmax)
    gamma = jnp.where(inside, jnp.minimum(sampler.s_churn / num_steps, math.sqrt(2.0) - 1.0), 0.0)
    sigma_hat = sigma * (1.0 + gamma)
    eps = normal_like(key, x) * sampler.s_noise
    x = x + eps * safe_sqrt(sigma_hat**2 - sigma**2)
    return x, sigma_hat


def check_churn(sampler) -> None:
    """Trace-time checks of the churn hyperparameters when they are concrete."""
    for name in ("s_churn", "s_noise"):
        check_eta(f"{type(sampler).__name__}: {name}", getattr(sampler, name))


class AbstractChurnSampler(AbstractSampler):
    """A sampler with the EDM churn hyperparameters; its state is the number of steps $N$.

    Concrete subclasses define only `step`, calling `churn(self, state, x, sigma, key)` first.
    """

    s_churn: Scalar = 0.0
    s_tmin: Scalar = 0.0
    s_tmax: Scalar = math.inf
    s_noise: Scalar = 1.0

    def __check_init__(self):
        check_churn(self)

    @property
    def stochastic(self) -> bool:
        return may_be_nonzero(self.s_churn)

    def init(self, x: Array, sigmas: Array):
        return jnp.asarray(sigmas.shape[0] - 1, x.dtype)
