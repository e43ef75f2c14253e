"""DPM-Solver++(2M): the second-order multistep exponential integrator."""

from __future__ import annotations

import jax.numpy as jnp

from ..._types import Array
from ._base import AbstractSampler, safe_next
from ._history import History


class DPMpp2M(AbstractSampler):
    """Second-order multistep solver in $\\lambda = -\\log\\sigma$ on the data prediction.

    With $h = \\log(\\sigma/\\sigma')$ and $r = h_{prev}/h$,
    $x' = \\tfrac{\\sigma'}{\\sigma} x - (e^{-h} - 1)\\, \\big[(1 + \\tfrac1{2r}) D_i -
    \\tfrac1{2r} D_{i-1}\\big]$; the first step is first order and the step to $\\sigma' = 0$
    returns $D_i$. One denoiser call per step; $D_{i-1}$ (in a `History`) and
    $\\sigma_{i-1}$ live in the state.

    ```python
    from jaxsci import diffusion as jd
    sampler = jd.DPMpp2M()
    ```

    Reference: Lu et al., *DPM-Solver++: Fast Solver for Guided Sampling of Diffusion
    Probabilistic Models*, 2022, Algorithm 2.
    """

    @property
    def stochastic(self) -> bool:
        return False

    def init(self, x: Array, sigmas: Array):
        return History.empty(2, x), 2.0 * sigmas[0], jnp.zeros((), bool)

    def step(self, state, denoiser, x, sigma, sigma_next, key):
        history, sigma_prev, started = state
        history = history.push(denoiser(x, sigma))
        denoised, old = history[0], history[1]
        last, sn = safe_next(sigma, sigma_next)
        h = jnp.log(sigma) - jnp.log(sn)
        r = (jnp.log(sigma_prev) - jnp.log(sigma)) / h
        # x' = a x + b D_i + c D_{i-1}: scalar coefficients, one fused pass over the batch
        phi = -jnp.expm1(-h)
        b = jnp.where(started, phi * (1.0 + 0.5 / r), phi)
        c = jnp.where(started, -phi * 0.5 / r, 0.0)
        a, b, c = jnp.where(last, 0.0, sn / sigma), jnp.where(last, 1.0, b), jnp.where(last, 0.0, c)
        x_next = a * x + b * denoised + c * old
        return x_next, (history, sigma, jnp.ones((), bool))
