"""DPM-Solver++(2S) single-step second-order solver with ancestral noise."""

from __future__ import annotations

from typing import ClassVar

import jax.numpy as jnp

from ..._types import Array, Scalar
from ._base import AbstractSampler, ancestral_step, concrete, may_be_nonzero, normal_like, to_d, unless_last
from ._hyperparameter import hyperparameter


def _may_end_early(eta) -> bool:
    """Whether a step before the last may end at sigma_down = 0: `eta > 1`, or a traced eta.
    With `eta <= 1`, sigma_up < sigma' whenever sigma' > 0."""
    v = concrete(eta)
    return v is None or v > 1.0


class DPMpp2SAncestral(AbstractSampler):
    """DPM-Solver++(2S) step down to $\\sigma_{down}$ (midpoint in $\\log\\sigma$), then noise.

    $x_m = \\tfrac{\\sigma_m}{\\sigma} x - (e^{-h/2} - 1) D(x,\\sigma)$, $x' =
    \\tfrac{\\sigma_{down}}{\\sigma} x - (e^{-h} - 1) D(x_m, \\sigma_m) + s_{noise}\\sigma_{up} z$
    with $h = \\log(\\sigma/\\sigma_{down})$, $\\sigma_m = \\sqrt{\\sigma\\sigma_{down}}$. A step
    ending at $\\sigma_{down} = 0$ is an Euler step. `eta = 0` is deterministic. Two denoiser
    calls per step, one where the step ends at $\\sigma_{down} = 0$: the final step, and with
    `eta > 1` (or a traced `eta`) any step whose noise takes the whole level (then the skip is
    a `lax.cond` inside the sampling loop).

    **Arguments:**

    - `eta`: amount of fresh noise; `s_noise`: its scale (non-negative array leaves).

    ```python
    from jaxsci import diffusion as jd
    sampler = jd.DPMpp2SAncestral(eta=1.0)
    ```

    Reference: Lu et al., *DPM-Solver++*, 2022, Algorithm 1; k-diffusion.
    """

    skips_final_stage = True

    eta: Scalar = hyperparameter(1.0, "DPMpp2SAncestral: eta")
    s_noise: Scalar = hyperparameter(1.0, "DPMpp2SAncestral: s_noise")

    noise_switch: ClassVar[str] = "eta"

    @property
    def stochastic(self) -> bool:
        return may_be_nonzero(self.eta)

    def init(self, x: Array, sigmas: Array):
        return None

    def step(self, state, denoiser, x, sigma, sigma_next, key):
        denoised = denoiser(x, sigma)
        down, up = ancestral_step(sigma, sigma_next, self.eta)
        last = down <= 0
        down_s = jnp.where(last, 0.5 * sigma, down)
        h = jnp.log(sigma) - jnp.log(down_s)
        sigma_mid = jnp.sqrt(sigma * down_s)
        x_2 = (sigma_mid / sigma) * x - jnp.expm1(-0.5 * h) * denoised
        denoised_2 = unless_last(last, denoiser, x_2, sigma_mid, anywhere=_may_end_early(self.eta))
        x_dpm = (down_s / sigma) * x - jnp.expm1(-h) * denoised_2
        x_euler = x + to_d(x, sigma, denoised) * (down - sigma)
        x = jnp.where(last, x_euler, x_dpm)
        if key is not None and self.stochastic:
            x = x + jnp.where(sigma_next > 0, up, 0.0) * self.s_noise * normal_like(key, x)
        return x, state
