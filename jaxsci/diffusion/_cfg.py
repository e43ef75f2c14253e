"""Classifier-free guidance as a denoiser transformation."""

from __future__ import annotations

from typing import Callable

import equinox as eqx

from .._types import Array, Scalar


class ClassifierFreeGuidance(eqx.Module):
    """$D_w(x,\\sigma) = D_u(x,\\sigma) + w\\,(D_c(x,\\sigma) - D_u(x,\\sigma))$.

    `scale = 1` is the conditional denoiser, `scale = 0` the unconditional one; `scale > 1`
    extrapolates towards the condition. The result is itself a denoiser, so any sampler
    applies. `scale` is an array leaf (differentiable, vmappable).

    **Arguments:**

    - `conditional`, `unconditional`: denoisers `(x, sigma) -> x0_hat`.
    - `scale`: the guidance weight $w$.

    ```python
    import jax.numpy as jnp
    from jaxsci import diffusion as jd
    gmm = jd.targets.GaussianMixture(jnp.ones(2), jnp.array([[-2.0], [2.0]]), 0.1 * jnp.ones((2, 1)))
    den = jd.ClassifierFreeGuidance(gmm.component(1).denoiser, gmm.denoiser, scale=3.0)
    ```

    Reference: Ho and Salimans, *Classifier-Free Diffusion Guidance*, 2022.
    """

    conditional: Callable
    unconditional: Callable
    scale: Scalar = 1.0

    def __call__(self, x: Array, sigma: Scalar) -> Array:
        u = self.unconditional(x, sigma)
        return u + self.scale * (self.conditional(x, sigma) - u)
