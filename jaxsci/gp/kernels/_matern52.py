"""The Matern-5/2 kernel."""

from __future__ import annotations

import math

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from ._base import MAX_ORDER, AbstractKernel
from ._util import as_parameter, check_order, matern


class Matern52(AbstractKernel):
    r"""The Matern-5/2 kernel $\kappa(\tau) = \sigma^2 (1 + a + a^2/3) e^{-a}$, $a = \sqrt{5}|\tau|/\ell$.

    Near zero $\kappa/\sigma^2 = 1 - a^2/6 + a^4/24 - a^5/45 + \dots$: the first odd power is
    $|\tau|^5$, so $\kappa$ is four times continuously differentiable at $\tau = 0$ (the
    process is twice mean-square differentiable) and `profile` supports **orders 0..4**
    exactly, including $\tau = 0$ ($\kappa''(0) = -5\sigma^2/(3\ell^2)$,
    $\kappa''''(0) = 25\sigma^2/\ell^4$).

    **Arguments:**

    - `lengthscale`: $\ell > 0$.
    - `variance`: $\sigma^2 > 0$.

    ```python
    import jax.numpy as jnp
    from jaxsci.gp.kernels import Matern52

    x = jnp.linspace(0, 1, 4)
    K_lap = Matern52(0.3).derivative(x, x, (2, 2))   # cov(f''(x), f''(x'))
    ```

    Reference: Rasmussen & Williams (2006), §4.2.1, eq. (4.17).
    """

    lengthscale: Float[Array, ""]
    variance: Float[Array, ""]

    def __init__(self, lengthscale: Float[ArrayLike, ""] = 1.0, variance: Float[ArrayLike, ""] = 1.0):
        self.lengthscale = as_parameter("lengthscale", lengthscale)
        self.variance = as_parameter("variance", variance)

    def profile(self, tau: Float[ArrayLike, "..."], order: int = 0) -> Float[Array, "..."]:
        order = check_order("Matern52", order, MAX_ORDER)
        tau = jnp.asarray(tau)
        rate = math.sqrt(5) / self.lengthscale
        return self.variance * matern(tau, rate, (1.0, 1.0, 1.0 / 3.0), order)[order]
