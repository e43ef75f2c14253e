"""The squared-exponential (RBF) kernel."""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from ._base import MAX_ORDER, AbstractKernel
from ._util import as_parameter, check_order, hermite_gaussian


class SquaredExponential(AbstractKernel):
    r"""The squared-exponential kernel $\kappa(\tau) = \sigma^2 \exp(-\tau^2 / (2\ell^2))$.

    Infinitely differentiable; `profile` supports every order `0..4` everywhere:
    $\kappa^{(n)}(\tau) = \sigma^2 (-1)^n \mathrm{He}_n(\tau/\ell)\, e^{-\tau^2/(2\ell^2)} / \ell^n$.

    **Arguments:**

    - `lengthscale`: $\ell > 0$.
    - `variance`: $\sigma^2 > 0$.

    Both are array leaves; concrete values are checked to be positive (`ValueError`).

    ```python
    import jax.numpy as jnp
    from jaxsci.gp.kernels import SquaredExponential

    k = SquaredExponential(lengthscale=0.5)
    K = k(jnp.linspace(0, 1, 5), jnp.linspace(0, 1, 5))       # (5, 5)
    dK = k.derivative(jnp.zeros(1), jnp.linspace(0, 1, 5), (1, 0))
    ```

    Reference: Rasmussen & Williams, *Gaussian Processes for Machine Learning* (2006), §4.2.
    """

    lengthscale: Float[Array, ""]
    variance: Float[Array, ""]

    def __init__(self, lengthscale: Float[ArrayLike, ""] = 1.0, variance: Float[ArrayLike, ""] = 1.0):
        self.lengthscale = as_parameter("lengthscale", lengthscale)
        self.variance = as_parameter("variance", variance)

    def profile(self, tau: Float[ArrayLike, "..."], order: int = 0) -> Float[Array, "..."]:
        order = check_order("SquaredExponential", order, MAX_ORDER)
        tau = jnp.asarray(tau)
        return self.variance * hermite_gaussian(tau, 1 / self.lengthscale, order)[order]
