"""The spectral-mixture kernel (Gaussian-mixture power spectrum)."""

from __future__ import annotations

import math
from typing import ClassVar

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from ._base import MAX_ORDER, AbstractKernel
from ._util import as_parameter, check_order, cosine, hermite_gaussian, leibniz


class SpectralMixture(AbstractKernel):
    r"""The spectral-mixture kernel of Wilson & Adams (2013),

    $$\kappa(\tau) = \sum_{q=1}^{Q} w_q \exp(-2\pi^2 \tau^2 s_q^2) \cos(2\pi\mu_q\tau),$$

    whose power spectrum is a mixture of Gaussians with means $\pm\mu_q$ and standard
    deviations $s_q$. Each component is a squared exponential with lengthscale
    $1/(2\pi s_q)$ times a cosine; derivatives (orders `0..4`, everywhere) follow from the
    Leibniz rule with Hermite-polynomial derivatives of the Gaussian envelope.

    **Arguments:**

    - `weights`: $w_q > 0$, shape `(Q,)`.
    - `means`: frequencies $\mu_q \ge 0$ (cycles per unit length), shape `(Q,)`.
    - `scales`: spectral standard deviations $s_q > 0$, shape `(Q,)`.

    ```python
    import jax.numpy as jnp
    from jaxsci.gp.kernels import SpectralMixture

    k = SpectralMixture(weights=jnp.array([1.0, 0.5]), means=jnp.array([0.0, 3.0]),
                        scales=jnp.array([0.5, 0.2]))
    K = k(jnp.linspace(0, 1, 5), jnp.linspace(0, 1, 5))
    ```

    Reference: A. G. Wilson and R. P. Adams, *Gaussian process kernels for pattern discovery
    and extrapolation*, ICML 2013.
    """

    weights: Float[Array, " Q"]
    means: Float[Array, " Q"]
    scales: Float[Array, " Q"]

    unconstrained_fields: ClassVar[tuple[str, ...]] = ("means",)

    def __init__(self, weights: Float[ArrayLike, " Q"], means: Float[ArrayLike, " Q"], scales: Float[ArrayLike, " Q"]):
        self.weights = as_parameter("weights", weights, ndim=1)
        self.means = as_parameter("means", means, positive=False, ndim=1)
        self.scales = as_parameter("scales", scales, ndim=1)
        if not self.weights.shape == self.means.shape == self.scales.shape:
            raise ValueError(
                "weights, means and scales must have the same shape (Q,), got "
                f"{self.weights.shape}, {self.means.shape}, {self.scales.shape}"
            )

    def profile(self, tau: Float[ArrayLike, "..."], order: int = 0) -> Float[Array, "..."]:
        order = check_order("SpectralMixture", order, MAX_ORDER)
        tau = jnp.asarray(tau)[..., None]
        envelope = hermite_gaussian(tau, 2 * math.pi * self.scales, order)
        carrier = cosine(tau, 2 * math.pi * self.means, order)
        return jnp.sum(self.weights * leibniz(envelope, carrier, order), axis=-1)
