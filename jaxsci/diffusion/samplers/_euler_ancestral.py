"""Ancestral sampling with Euler steps."""

from __future__ import annotations

from typing import ClassVar

from ..._types import Array, Scalar
from ._base import AbstractSampler, ancestral_step, may_be_nonzero, normal_like, to_d
from ._hyperparameter import hyperparameter


class EulerAncestral(AbstractSampler):
    """Euler step down to $\\sigma_{down}$, then fresh noise of size $\\sigma_{up}$.

    $x' = x + (\\sigma_{down} - \\sigma)\\, d(x, \\sigma) + s_{noise}\\, \\sigma_{up}\\, z$
    with $(\\sigma_{down}, \\sigma_{up})$ from `jaxsci.diffusion.samplers.ancestral_step`.
    `eta = 0` is the deterministic Euler sampler. One denoiser call per step.

    **Arguments:**

    - `eta`: amount of fresh noise (1 is ancestral sampling).
    - `s_noise`: scale of the fresh noise. Both are non-negative array leaves.

    ```python
    import jax, jax.numpy as jnp
    from jaxsci import diffusion as jd
    target = jd.targets.Gaussian(jnp.zeros(2), jnp.eye(2))
    x = 80.0 * jax.random.normal(jax.random.key(0), (8, 2))
    y = jd.sample(target.denoiser, x, jd.karras_sigmas(20, 0.002, 80.0),
                  sampler=jd.EulerAncestral(), key=jax.random.key(1))
    ```

    Reference: Ho et al., *DDPM*, 2020; Crowson, k-diffusion `sample_euler_ancestral`.
    """

    eta: Scalar = hyperparameter(1.0, "EulerAncestral: eta")
    s_noise: Scalar = hyperparameter(1.0, "EulerAncestral: s_noise")

    noise_switch: ClassVar[str] = "eta"

    @property
    def stochastic(self) -> bool:
        return may_be_nonzero(self.eta)

    def init(self, x: Array, sigmas: Array):
        return None

    def step(self, state, denoiser, x, sigma, sigma_next, key):
        denoised = denoiser(x, sigma)
        down, up = ancestral_step(sigma, sigma_next, self.eta)
        x = x + to_d(x, sigma, denoised) * (down - sigma)
        if key is not None and self.stochastic:
            x = x + normal_like(key, x) * self.s_noise * up
        return x, state
