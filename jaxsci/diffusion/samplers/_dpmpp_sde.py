"""DPM-Solver++ (stochastic, single-step) with Brownian-consistent noise within a step."""

from __future__ import annotations

from typing import ClassVar

import jax
import jax.numpy as jnp

from ..._types import Array, Scalar
from ._base import AbstractSampler, ancestral_step, may_be_nonzero, normal_like, safe_next, safe_sqrt, unless_last
from ._hyperparameter import hyperparameter


def _brownian_pair(key, x, h, r):
    """Unit-variance increments of one Brownian path (in $\\sigma$) over $[\\sigma_s, \\sigma]$
    and over $[\\sigma', \\sigma]$ with $\\sigma_s = \\sigma e^{-rh}$, $\\sigma' = \\sigma e^{-h}$:
    the second contains the first, so it is $\\sqrt{f} z_1 + \\sqrt{1 - f} z_2$ with the length
    fraction $f = (\\sigma - \\sigma_s)/(\\sigma - \\sigma')$.

    The fraction $1 - f = e^{-h}\\,\\mathrm{expm1}((1-r)h) / (1 - e^{-h})$ is written so that
    it is exactly 0 at `r = 1` (the difference $\\sigma_s - \\sigma'$ came out as -1e-8 there:
    NaN samples), giving the limit $z_2 = z_1$. Its square root has an infinite derivative at
    `r = 1` (from below, $\\partial/\\partial r \\to -\\infty$); `safe_sqrt` gives 0 there, so the
    derivative with respect to `r` at `r = 1` is that of every other term."""
    z1 = normal_like(jax.random.fold_in(key, 0), x)
    z2 = normal_like(jax.random.fold_in(key, 1), x)
    first = jnp.expm1(-r * h) / jnp.expm1(-h)
    second = jnp.exp(-h) * jnp.expm1((1.0 - r) * h) / -jnp.expm1(-h)
    return z1, safe_sqrt(first) * z1 + safe_sqrt(second) * z2


class DPMppSDE(AbstractSampler):
    """Stochastic DPM-Solver++ with an intermediate stage at $\\lambda + r h$.

    Stage 1 goes ancestrally from $\\sigma$ to $\\sigma_s = \\sigma e^{-rh}$ with a first-order
    data-prediction step; stage 2 goes from $\\sigma$ to $\\sigma'$ with the combination
    $(1 - \\tfrac1{2r}) D(x,\\sigma) + \\tfrac1{2r} D(x_s, \\sigma_s)$. The two noise draws of a
    step are increments of one Brownian path in $\\sigma$ (as with k-diffusion's Brownian
    tree), so the pair has the right correlation. `eta = 0` is a deterministic second-order
    solver. Two denoiser calls per step (one on the last step); the step to $\\sigma' = 0$ is an Euler step.

    **Arguments:**

    - `eta`, `s_noise`: noise amount and scale (non-negative); `r`: the stage fraction in
      $(0, 1]$ (default 1/2). All three are array leaves.

    ```python
    from jaxsci import diffusion as jd
    sampler = jd.DPMppSDE(eta=1.0)
    ```

    Reference: Lu et al., *DPM-Solver++*, 2022; Crowson, k-diffusion `sample_dpmpp_sde`.
    """

    skips_final_stage = True

    eta: Scalar = hyperparameter(1.0, "DPMppSDE: eta")
    s_noise: Scalar = hyperparameter(1.0, "DPMppSDE: s_noise")
    r: Scalar = hyperparameter(0.5, "DPMppSDE: r", 0.0, 1.0, open_low=True)

    noise_switch: ClassVar[str] = "eta"

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
            z1, z2 = _brownian_pair(key, x, h, self.r)
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
