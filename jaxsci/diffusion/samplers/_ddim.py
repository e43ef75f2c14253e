"""DDIM with its `eta` interpolation between deterministic and ancestral sampling."""

from __future__ import annotations

from typing import ClassVar

from ..._types import Array, Scalar
from ._base import AbstractSampler, may_be_nonzero, normal_like, safe_sqrt
from ._hyperparameter import hyperparameter


class DDIM(AbstractSampler):
    """The DDIM update written for the variance-exploding variable $x = x_0 + \\sigma n$.

    With $\\hat x_0 = D(x, \\sigma)$ and $\\hat n = (x - \\hat x_0)/\\sigma$,
    $x' = \\hat x_0 + \\sqrt{\\sigma'^2 - s^2}\\, \\hat n + s z$,
    $s = \\eta\\, \\sigma' \\sqrt{1 - \\sigma'^2/\\sigma^2}$. This is the DDIM update of Song et
    al. mapped through $\\bar\\alpha = 1/(1 + \\sigma^2)$; `eta = 0` is deterministic (and
    equals an Euler step of the probability-flow ODE), `eta = 1` is DDPM ancestral sampling.
    One denoiser call per step.

    **Arguments:**

    - `eta`: in $[0, 1]$ (an array leaf).

    ```python
    from jaxsci import diffusion as jd
    sampler = jd.DDIM(eta=0.0)
    ```

    Reference: Song, Meng and Ermon, *Denoising Diffusion Implicit Models*, ICLR 2021, eq. (16).
    """

    eta: Scalar = hyperparameter(0.0, "DDIM: eta", 0.0, 1.0)

    noise_switch: ClassVar[str] = "eta"

    @property
    def stochastic(self) -> bool:
        return may_be_nonzero(self.eta)

    def init(self, x: Array, sigmas: Array):
        return None

    def step(self, state, denoiser, x, sigma, sigma_next, key):
        x0 = denoiser(x, sigma)
        n_hat = (x - x0) / sigma
        var = sigma_next**2 * (1.0 - sigma_next**2 / sigma**2)
        s = self.eta * safe_sqrt(var)
        x = x0 + safe_sqrt(sigma_next**2 - s**2) * n_hat
        if key is not None and self.stochastic:
            x = x + s * normal_like(key, x)
        return x, state
