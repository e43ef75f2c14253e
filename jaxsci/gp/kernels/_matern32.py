"""The Matern-3/2 kernel."""

from __future__ import annotations

import math

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from ._base import AbstractKernel
from ._util import as_parameter, check_order, matern


class Matern32(AbstractKernel):
    r"""The Matern-3/2 kernel $\kappa(\tau) = \sigma^2 (1 + a) e^{-a}$, $a = \sqrt{3}|\tau|/\ell$.

    Near zero $\kappa(\tau) = \sigma^2(1 - \tfrac{3\tau^2}{2\ell^2} + \tfrac{\sqrt{3}^3|\tau|^3}{3\ell^3} + \dots)$:
    the $|\tau|^3$ term makes $\kappa'''$ jump at $\tau = 0$, so the process is once
    mean-square differentiable and `profile` supports **orders 0..2** (exact, including
    $\tau = 0$); orders 3 and 4 raise `ValueError`.

    **Arguments:**

    - `lengthscale`: $\ell > 0$.
    - `variance`: $\sigma^2 > 0$.

    ```python
    import jax.numpy as jnp
    from jaxsci.gp.kernels import Matern32

    x = jnp.linspace(0, 1, 4)
    d2K = Matern32(0.3).derivative(x, x, (1, 1))   # cov(f'(x), f'(x'))
    ```

    Reference: Rasmussen & Williams (2006), §4.2.1, eq. (4.17).
    """

    lengthscale: Float[Array, ""]
    variance: Float[Array, ""]

    def __init__(self, lengthscale: Float[ArrayLike, ""] = 1.0, variance: Float[ArrayLike, ""] = 1.0):
        self.lengthscale = as_parameter("lengthscale", lengthscale)
        self.variance = as_parameter("variance", variance)

    def profile(self, tau: Float[ArrayLike, "..."], order: int = 0) -> Float[Array, "..."]:
        order = check_order("Matern32", order, 2, "kappa''' is discontinuous at tau = 0")
        tau = jnp.asarray(tau)
        return self.variance * matern(tau, math.sqrt(3) / self.lengthscale, (1.0, 1.0), order)[order]
