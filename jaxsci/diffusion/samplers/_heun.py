"""Heun's second-order method on the probability-flow ODE (EDM), with optional churn."""

from __future__ import annotations

import jax.numpy as jnp

from ._base import safe_next, to_d, unless_last
from ._churn import AbstractChurnSampler, churn


class Heun(AbstractChurnSampler):
    """Heun (trapezoidal predictor-corrector) steps, the EDM deterministic sampler.

    $\\tilde x = x + h\\, d(x, \\hat\\sigma)$, $x' = x + \\tfrac h2 (d(x,\\hat\\sigma) +
    d(\\tilde x, \\sigma'))$ with $d = (x - D)/\\sigma$ and $h = \\sigma' - \\hat\\sigma$. The
    step to $\\sigma' = 0$ is an Euler step. Two denoiser calls per step, one on the last
    step (its second stage is skipped with `jax.lax.cond` inside `sample`).

    **Arguments:**

    - `s_churn`, `s_tmin`, `s_tmax`, `s_noise`: the EDM churn parameters.

    ```python
    from jaxsci import diffusion as jd
    sampler = jd.Heun(s_churn=40.0, s_tmin=0.05, s_tmax=50.0, s_noise=1.003)
    ```

    Reference: Karras et al., NeurIPS 2022, Algorithm 2.
    """

    skips_final_stage = True

    def step(self, state, denoiser, x, sigma, sigma_next, key):
        x, sigma_hat = churn(self, state, x, sigma, key)
        d = to_d(x, sigma_hat, denoiser(x, sigma_hat))
        last, sn = safe_next(sigma_hat, sigma_next)
        # the predictor; on the last step it is the Euler step to sigma' = 0 itself
        h = jnp.where(last, sigma_next - sigma_hat, sn - sigma_hat)
        x_2 = x + d * h
        denoised_2 = unless_last(last, denoiser, x_2, sn)
        # x + h (d + d_2) / 2 with d = (x_2 - x) / h and d_2 = (x_2 - D_2) / sigma', written
        # in x, x_2 and D_2 so that the update reads three arrays, not four (D is not kept)
        c = 0.5 * h / sn
        a, b, c = jnp.where(last, 0.0, 0.5), jnp.where(last, 1.0, 0.5 + c), jnp.where(last, 0.0, c)
        return a * x + b * x_2 - c * denoised_2, state
