"""EDM stochastic churn (Karras et al. 2022, Algorithm 2), shared by Euler, Heun and DPM2."""

from __future__ import annotations

import math
from typing import ClassVar

import jax.numpy as jnp

from ..._checks import runtime_check
from ..._types import Array, Scalar
from ._base import AbstractSampler, concrete, may_be_nonzero, normal_like, safe_sqrt
from ._hyperparameter import hyperparameter


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


class AbstractChurnSampler(AbstractSampler):
    """A sampler with the EDM churn hyperparameters; its state is the number of steps $N$.

    The four are array leaves: `s_churn`, `s_noise` finite and non-negative, `0 <= s_tmin <=
    s_tmax` (`s_tmax` may be `inf`). Concrete subclasses define only `step`, calling
    `churn(self, state, x, sigma, key)` first.
    """

    s_churn: Scalar = hyperparameter(0.0, "s_churn")
    s_tmin: Scalar = hyperparameter(0.0, "s_tmin", finite=False)
    s_tmax: Scalar = hyperparameter(math.inf, "s_tmax", finite=False)
    s_noise: Scalar = hyperparameter(1.0, "s_noise")

    noise_switch: ClassVar[str] = "s_churn"

    def __check_init__(self):
        lo, hi = concrete(self.s_tmin), concrete(self.s_tmax)
        if lo is not None and hi is not None and not lo <= hi:
            raise ValueError(f"{type(self).__name__}: need s_tmin <= s_tmax, got s_tmin={lo}, s_tmax={hi}.")

    @property
    def stochastic(self) -> bool:
        return may_be_nonzero(self.s_churn)

    def init(self, x: Array, sigmas: Array):
        steps = jnp.asarray(sigmas.shape[0] - 1, sigmas.dtype)
        if concrete(self.s_tmin) is None or concrete(self.s_tmax) is None:  # traced: checked when run
            steps = runtime_check(steps, ~(self.s_tmin <= self.s_tmax), "need s_tmin <= s_tmax.")
        return steps
