"""Euler steps on the probability-flow ODE, with optional EDM churn."""

from __future__ import annotations

from ._base import to_d
from ._churn import AbstractChurnSampler, churn


class Euler(AbstractChurnSampler):
    """First-order Euler steps $x' = x + (\\sigma' - \\hat\\sigma)\\,(x - D(x, \\hat\\sigma))/\\hat\\sigma$.

    With `s_churn > 0` each step inside $[S_{tmin}, S_{tmax}]$ first adds noise to raise the
    level to $\\hat\\sigma = (1+\\gamma)\\sigma$, $\\gamma = \\min(S_{churn}/N, \\sqrt2 - 1)$.
    One denoiser call per step.

    **Arguments:**

    - `s_churn`, `s_tmin`, `s_tmax`, `s_noise`: the EDM churn parameters (array leaves).

    ```python
    import jax, jax.numpy as jnp
    from jaxsci import diffusion as jd
    target = jd.targets.Gaussian(jnp.zeros(2), jnp.eye(2))
    sigmas = jd.karras_sigmas(20, 0.002, 80.0)
    x = 80.0 * jax.random.normal(jax.random.key(0), (8, 2))
    y = jd.sample(target.denoiser, x, sigmas, sampler=jd.Euler())
    ```

    Reference: Karras et al., *Elucidating the Design Space of Diffusion-Based Generative
    Models*, NeurIPS 2022, Algorithm 2.
    """

    def step(self, state, denoiser, x, sigma, sigma_next, key):
        x, sigma_hat = churn(self, state, x, sigma, key)
        d = to_d(x, sigma_hat, denoiser(x, sigma_hat))
        return x + d * (sigma_next - sigma_hat), state
