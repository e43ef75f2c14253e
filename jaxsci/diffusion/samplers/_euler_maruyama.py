"""Euler-Maruyama on the reverse-time variance-exploding SDE."""

from __future__ import annotations

import jax.numpy as jnp

from ..._types import Array, Scalar
from ._base import AbstractSampler, normal_like
from ._hyperparameter import hyperparameter


class EulerMaruyama(AbstractSampler):
    """Euler-Maruyama steps of the reverse VE SDE $dx = -d[\\sigma^2]\\, \\nabla\\log p_\\sigma(x)
    + \\sqrt{-d[\\sigma^2]}\\, d\\bar W$.

    With $\\Delta = \\sigma^2 - \\sigma'^2$ and $\\nabla\\log p_\\sigma = (D - x)/\\sigma^2$:
    $x' = x + \\tfrac{\\Delta}{\\sigma^2}(D(x,\\sigma) - x) + s_{noise}\\sqrt{\\Delta}\\, z$.
    The step to $\\sigma' = 0$ adds no noise (it returns $D(x, \\sigma)$, the usual final
    denoising step). Weak order 1. One denoiser call per step.

    **Arguments:**

    - `s_noise`: scale of the injected noise (a non-negative array leaf).

    ```python
    from jaxsci import diffusion as jd
    sampler = jd.EulerMaruyama()
    ```

    Reference: Song et al., *Score-Based Generative Modeling through SDEs*, ICLR 2021
    (reverse diffusion predictor).
    """

    s_noise: Scalar = hyperparameter(1.0, "EulerMaruyama: s_noise")

    @property
    def stochastic(self) -> bool:
        return True

    def init(self, x: Array, sigmas: Array):
        return None

    def step(self, state, denoiser, x, sigma, sigma_next, key):
        denoised = denoiser(x, sigma)
        delta = sigma**2 - sigma_next**2
        x_next = x + (delta / sigma**2) * (denoised - x)
        if key is not None:
            noise = jnp.where(sigma_next > 0, jnp.sqrt(delta), 0.0) * self.s_noise
            x_next = x_next + noise * normal_like(key, x)
        return x_next, state
