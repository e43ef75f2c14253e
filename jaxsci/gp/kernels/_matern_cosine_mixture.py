"""The Matern-cosine mixture kernel (Student-t-type power spectrum)."""

from __future__ import annotations

import math
from typing import ClassVar

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from ._base import MAX_ORDER, AbstractKernel
from ._util import as_parameter, check_order, cosine, leibniz, matern


class MaternCosineMixture(AbstractKernel):
    r"""A mixture of Matern-5/2 envelopes times cosines,

    $$\kappa(\tau) = \sum_{q=1}^{Q} w_q \, m_{5/2}(\tau; \ell_q) \cos(2\pi\mu_q\tau),
    \qquad m_{5/2}(\tau;\ell) = (1 + a + a^2/3)e^{-a},\ a = \sqrt{5}|\tau|/\ell.$$

    The spectrum of each component is a Student-t (Cauchy-like, $\nu = 5/2$) bump centred at
    $\pm\mu_q$: heavier-tailed than the spectral mixture, for rougher quasi-periodic fields.
    The Matern-5/2 envelope is $C^4$ at $\tau = 0$, so orders `0..4` are exact everywhere
    (Leibniz rule on the envelope and carrier derivatives).

    **Arguments:**

    - `weights`: $w_q > 0$, shape `(Q,)`.
    - `lengthscales`: envelope lengthscales $\ell_q > 0$, shape `(Q,)`.
    - `frequencies`: $\mu_q \ge 0$ (cycles per unit length), shape `(Q,)`.

    ```python
    import jax.numpy as jnp
    from jaxsci.gp.kernels import MaternCosineMixture

    k = MaternCosineMixture(jnp.array([1.0]), jnp.array([0.4]), jnp.array([2.0]))
    K = k(jnp.linspace(0, 1, 5), jnp.linspace(0, 1, 5))
    ```

    Reference: Rasmussen & Williams (2006), §4.2.1 (Matern class) and Wilson & Adams (2013)
    (mixtures of shifted spectral densities).
    """

    weights: Float[Array, " Q"]
    lengthscales: Float[Array, " Q"]
    frequencies: Float[Array, " Q"]

    unconstrained_fields: ClassVar[tuple[str, ...]] = ("frequencies",)

    def __init__(
        self, weights: Float[ArrayLike, " Q"], lengthscales: Float[ArrayLike, " Q"], frequencies: Float[ArrayLike, " Q"]
    ):
        self.weights = as_parameter("weights", weights, ndim=1)
        self.lengthscales = as_parameter("lengthscales", lengthscales, ndim=1)
        self.frequencies = as_parameter("frequencies", frequencies, positive=False, ndim=1)
        if not self.weights.shape == self.lengthscales.shape == self.frequencies.shape:
            raise ValueError(
                "weights, lengthscales and frequencies must have the same shape (Q,), got "
                f"{self.weights.shape}, {self.lengthscales.shape}, {self.frequencies.shape}"
            )

    def profile(self, tau: Float[ArrayLike, "..."], order: int = 0) -> Float[Array, "..."]:
        order = check_order("MaternCosineMixture", order, MAX_ORDER)
        tau = jnp.asarray(tau)[..., None]
        envelope = matern(tau, math.sqrt(5) / self.lengthscales, (1.0, 1.0, 1.0 / 3.0), order)
        carrier = cosine(tau, 2 * math.pi * self.frequencies, order)
        return jnp.sum(self.weights * leibniz(envelope, carrier, order), axis=-1)
