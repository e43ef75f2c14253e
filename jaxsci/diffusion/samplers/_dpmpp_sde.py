"""DPM-Solver++ (stochastic, single-step) with Brownian-consistent noise within a step."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ..._types import Array, Scalar
from ._base import (
    AbstractSampler,
    ancestral_step,
    check_eta,
    concrete,
    may_be_nonzero,
    normal_like,
    safe_next,
    unless_last,
)


def _brownian_pair(key, x, sigma, sigma_mid, sigma_next):
    """Unit-variance increments of one Brownian path (in $\\sigma$) over $[\\sigma_m, \\sigma]$
    and over $[\\sigma', \\sigma]$: the second contains the first."""
    z1 = normal_like(jax.random.fold_in(key, 0), x)
    z2 = normal_like(jax.random.fold_in(key, 1), x)
    a, b = sigma - sigma_mid, sigma_mid - sigma_next
    return z1, (jnp.sqrt(a) * z1 + jnp.sqrt(b) * z2) / jnp.sqrt(a + b)


class DPMppSDE(AbstractSampler):
    """Stochastic DPM-Solver++ with an intermediate stage at $\\lambda + r h$.

    Stage 1 goes ancestrally from $\\sigma$ to $\\sigma_s = \\sigma e^{-rh}$ with a first-order
    data-prediction step; stage 2 goes from $\\sigma$ to $\\sigma'$ with the combination
    $(1 - \\tfrac1{2r}) D(x,\\sigma) + \\tfrac1{2r} D(x_s, \\sigma_s)$. The two noise draws of a
    step are increments of one Brownian path in $\\sigma$ (as with k-diffusion's Brownian
    tree), so the pair has the right correlation. `eta = 0` is a deterministic second-order
    solver. Two denoiser calls per step (one on the last step); the step to $\\sigma' = 0$ is an Euler step.

    **Arguments:**

    - `eta`, `s_noise`: noise amount and scale; `r`: the stage fraction (default 1/2).

    ```python
    from jaxsci import diffusion as jd
    sampler = jd.DPMppSDE(eta=1.0)
    ```

    Reference: Lu et al., *DPM-Solver++*, 2022; Crowson, k-diffusion `sample_dpmpp_sde`.
    """

    skips_final_stage = True

    eta: Scalar = 1.0
    s_noise: Scalar = 1.0
    r: Scalar = 0.5

    def __check_init__(self):
        check_eta("DPMppSDE: eta", self.eta)
        r = concrete(self.r)
        if r is not None and not 0.0 < r <= 1.0:
            raise ValueError(f"DPMppSDE: r must lie in (0, 1], got {r}.")

    @property
    def stochastic(self) -> bool:
        return may_be_nonzero(self.eta)

    def init(self, x: Array, sigmas: Array):
        return None

    def step(self, state, denoiser, x, sigma, sigma_next, key):
        denoised = denoiser(x, sigma)
        last, sn = safe_next(sigma, sigma_next)
        h = jnp.log(sigma) - jnp.log(sn)
        sigma_s = sigma * jnp.exp(-self.r * h)
        noisy = key is not None and self.stochastic
        if noisy:
            z1, z2 = _brownian_pair(key, x, sigma, sigma_s, sn)
        down, up = ancestral_step(sigma, sigma_s, self.eta)
        x_2 = (down / sigma) * x - jnp.expm1(jnp.log(down) - jnp.log(sigma)) * denoised
        if noisy:
            x_2 = x_2 + z1 * self.s_noise * up
        denoised_2 = unless_last(last, denoiser, x_2, sigma_s)
        fac = 0.5 / self.r
        mixed = (1.0 - fac) * denoised + fac * denoised_2
        down, up = ancestral_step(sigma, sn, self.eta)
        x_next = (down / sigma) * x - jnp.expm1(jnp.log(down) - jnp.log(sigma)) * mixed
        if noisy:
            x_next = x_next + z2 * self.s_noise * up
        return jnp.where(last, denoised, x_next), state
