"""Classifier-free guidance as a denoiser transformation."""

from __future__ import annotations

import math
from typing import Callable

import equinox as eqx

from .._types import Array, Scalar
from .samplers._hyperparameter import hyperparameter


def check_denoisers(owner: str, conditional, unconditional) -> None:
    """`TypeError` naming the argument unless both denoisers are callable."""
    for name, den in (("conditional", conditional), ("unconditional", unconditional)):
        if not callable(den):
            raise TypeError(f"{owner}: {name} must be a denoiser callable as {name}(x, sigma), got {type(den)}.")


class ClassifierFreeGuidance(eqx.Module):
    """$D_w(x,\\sigma) = D_u(x,\\sigma) + w\\,(D_c(x,\\sigma) - D_u(x,\\sigma))$.

    `scale = 1` is the conditional denoiser, `scale = 0` the unconditional one; `scale > 1`
    extrapolates towards the condition. The result is itself a denoiser, so any sampler
    applies. `scale` is an array leaf, also when given as a Python float: differentiable
    (`equinox.filter_grad`), vmappable, and traced, not recompiled, by `equinox.filter_jit`.

    **Arguments:**

    - `conditional`, `unconditional`: denoisers `(x, sigma) -> x0_hat`.
    - `scale`: the guidance weight $w$ (finite).

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
    scale: Scalar = hyperparameter(1.0, "ClassifierFreeGuidance: scale", -math.inf)

    def __check_init__(self):
        check_denoisers("ClassifierFreeGuidance", self.conditional, self.unconditional)

    def __call__(self, x: Array, sigma: Scalar) -> Array:
        u = self.unconditional(x, sigma)
        return u + self.scale * (self.conditional(x, sigma) - u)
