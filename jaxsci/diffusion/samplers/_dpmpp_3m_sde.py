"""DPM-Solver++(3M) SDE: the third-order multistep solver of the reverse SDE."""

from __future__ import annotations

from typing import ClassVar

import jax.numpy as jnp

from ..._types import Array, Scalar
from ._base import AbstractSampler, may_be_nonzero, normal_like, safe_next, safe_sqrt
from ._history import History
from ._hyperparameter import hyperparameter


class DPMpp3MSDE(AbstractSampler):
    """Third-order multistep exponential integrator (with optional SDE noise).

    With $h_\\eta = (1+\\eta) h$, $\\varphi_2 = (e^{-h_\\eta} - 1)/h_\\eta + 1$ and
    $\\varphi_3 = \\varphi_2 / h_\\eta - 1/2$, the update
    $x' = e^{-h_\\eta} x + (1 - e^{-h_\\eta}) D_i + \\varphi_2 d_1 - \\varphi_3 d_2$
    uses first and second divided differences $d_1, d_2$ of the last three data predictions
    (fewer on the first two steps). Noise $\\sigma'\\sqrt{1-e^{-2\\eta h}}\\, s_{noise} z$ is
    added when `eta > 0`; `eta = 0` gives a deterministic third-order ODE solver. The step
    to $\\sigma' = 0$ returns $D_i$. One denoiser call per step.

    **Arguments:**

    - `eta`, `s_noise`: noise amount and scale (non-negative array leaves).

    ```python
    from jaxsci import diffusion as jd
    sampler = jd.DPMpp3MSDE(eta=1.0)
    ```

    Reference: Lu et al., *DPM-Solver++*, 2022; Crowson, k-diffusion `sample_dpmpp_3m_sde`.
    """

    eta: Scalar = hyperparameter(1.0, "DPMpp3MSDE: eta")
    s_noise: Scalar = hyperparameter(1.0, "DPMpp3MSDE: s_noise")

    noise_switch: ClassVar[str] = "eta"

    @property
    def stochastic(self) -> bool:
        return may_be_nonzero(self.eta)

    def init(self, x: Array, sigmas: Array):
        one = jnp.ones((), sigmas.dtype)
        return History.empty(3, x), one, one, jnp.zeros((), jnp.int32)

    def step(self, state, denoiser, x, sigma, sigma_next, key):
        history, h_1, h_2, count = state
        history = history.push(denoiser(x, sigma))
        denoised, den_1, den_2 = history[0], history[1], history[2]
        last, sn = safe_next(sigma, sigma_next)
        h = jnp.log(sigma) - jnp.log(sn)
        h_eta = h * (self.eta + 1.0)
        x_next = jnp.exp(-h_eta) * x - jnp.expm1(-h_eta) * denoised
        phi_2 = jnp.expm1(-h_eta) / h_eta + 1.0
        phi_3 = phi_2 / h_eta - 0.5
        r0, r1 = h_1 / h, h_2 / h
        d1_0 = (denoised - den_1) / r0
        d1_1 = (den_1 - den_2) / r1
        d1 = d1_0 + (d1_0 - d1_1) * r0 / (r0 + r1)
        d2 = (d1_0 - d1_1) / (r0 + r1)
        third = phi_2 * d1 - phi_3 * d2
        second = phi_2 * d1_0
        x_next = x_next + jnp.where(count >= 2, third, jnp.where(count == 1, second, 0.0))
        if key is not None and self.stochastic:
            std = sn * safe_sqrt(-jnp.expm1(-2.0 * h * self.eta)) * self.s_noise
            x_next = x_next + std * normal_like(key, x)
        x_next = jnp.where(last, denoised, x_next)
        new = (history, h, h_1, jnp.minimum(count + 1, 2))
        return x_next, new
