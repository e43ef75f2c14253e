"""DPM-Solver-2 style midpoint steps in log-sigma (k-diffusion's `sample_dpm_2`)."""

from __future__ import annotations

import jax.numpy as jnp

from ._base import safe_next, to_d, unless_last
from ._churn import AbstractChurnSampler, churn


class DPM2(AbstractChurnSampler):
    """Second-order midpoint steps with the midpoint taken in $\\log\\sigma$.

    $\\sigma_m = \\sqrt{\\hat\\sigma\\sigma'}$, $\\tilde x = x + (\\sigma_m - \\hat\\sigma)\\,
    d(x,\\hat\\sigma)$, $x' = x + (\\sigma' - \\hat\\sigma)\\, d(\\tilde x, \\sigma_m)$; the step to
    $\\sigma' = 0$ is an Euler step. Two denoiser calls per step (one on the last step).

    **Arguments:**

    - `s_churn`, `s_tmin`, `s_tmax`, `s_noise`: the EDM churn parameters.

    ```python
    from jaxsci import diffusion as jd
    sampler = jd.DPM2()
    ```

    Reference: Lu et al., *DPM-Solver*, NeurIPS 2022; Karras et al., NeurIPS 2022.
    """

    skips_final_stage = True

    def step(self, state, denoiser, x, sigma, sigma_next, key):
        x, sigma_hat = churn(self, state, x, sigma, key)
        d = to_d(x, sigma_hat, denoiser(x, sigma_hat))
        last, sn = safe_next(sigma_hat, sigma_next)
        sigma_mid = jnp.sqrt(sigma_hat * sn)
        # the half step; on the last step it is the Euler step to sigma' = 0 itself
        x_2 = x + d * jnp.where(last, sigma_next - sigma_hat, sigma_mid - sigma_hat)
        denoised_2 = unless_last(last, denoiser, x_2, sigma_mid)
        # x + (sigma' - sigma_hat) d(x_2, sigma_mid), in x, x_2 and D_2 (three arrays read)
        k = (sn - sigma_hat) / sigma_mid
        a, b, k = jnp.where(last, 0.0, 1.0), jnp.where(last, 1.0, k), jnp.where(last, 0.0, k)
        return a * x + b * x_2 - k * denoised_2, state
