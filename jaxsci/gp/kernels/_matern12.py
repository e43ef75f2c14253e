"""The Matern-1/2 (exponential, Ornstein-Uhlenbeck) kernel."""

from __future__ import annotations

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from ._base import AbstractKernel
from ._util import as_parameter, check_order, matern


class Matern12(AbstractKernel):
    r"""The Matern-1/2 kernel $\kappa(\tau) = \sigma^2 \exp(-|\tau|/\ell)$.

    Its sample paths are continuous but nowhere differentiable, and $\kappa$ has a kink at
    $\tau = 0$: $\kappa'(0)$ does not exist. Derivative matrices always contain $\tau = 0$
    (on the diagonal), so `profile` supports **order 0 only** and raises `ValueError` for
    any other order; use `Matern32` (orders 0..2) or `Matern52` (0..4) for derivatives.

    **Arguments:**

    - `lengthscale`: $\ell > 0$.
    - `variance`: $\sigma^2 > 0$.

    ```python
    import jax.numpy as jnp
    from jaxsci.gp.kernels import Matern12

    K = Matern12(0.3)(jnp.linspace(0, 1, 4), jnp.linspace(0, 1, 4))
    ```

    Reference: Rasmussen & Williams (2006), §4.2.1.
    """

    lengthscale: Float[Array, ""]
    variance: Float[Array, ""]

    def __init__(self, lengthscale: Float[ArrayLike, ""] = 1.0, variance: Float[ArrayLike, ""] = 1.0):
        self.lengthscale = as_parameter("lengthscale", lengthscale)
        self.variance = as_parameter("variance", variance)

    def profile(self, tau: Float[ArrayLike, "..."], order: int = 0) -> Float[Array, "..."]:
        order = check_order("Matern12", order, 0, "exp(-|tau|/l) is not differentiable at tau = 0")
        tau = jnp.asarray(tau)
        return self.variance * matern(tau, 1 / self.lengthscale, (1.0,), order)[order]
