"""The periodic (exp-sine-squared) kernel."""

from __future__ import annotations

import math

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float

from ._base import MAX_ORDER, AbstractKernel
from ._util import as_parameter, check_order


class Periodic(AbstractKernel):
    r"""The periodic kernel $\kappa(\tau) = \sigma^2 \exp(-2\sin^2(\pi\tau/p)/\ell^2)$.

    Written as $\kappa = \sigma^2 e^{g}$ with $g(\tau) = (\cos(\omega\tau) - 1)/\ell^2$,
    $\omega = 2\pi/p$, the derivatives follow from Faa di Bruno's formula,
    e.g. $\kappa'' = \sigma^2 (g'' + g'^2) e^{g}$. Smooth: orders `0..4` everywhere.

    **Arguments:**

    - `lengthscale`: $\ell > 0$.
    - `period`: $p > 0$.
    - `variance`: $\sigma^2 > 0$.

    ```python
    import jax.numpy as jnp
    from jaxsci.gp.kernels import Periodic

    k = Periodic(lengthscale=1.0, period=0.5)
    K = k(jnp.linspace(0, 1, 5), jnp.linspace(0, 1, 5))
    ```

    Reference: MacKay, *Introduction to Gaussian processes* (1998); Rasmussen & Williams
    (2006), eq. (4.31).
    """

    lengthscale: Float[Array, ""]
    period: Float[Array, ""]
    variance: Float[Array, ""]

    def __init__(
        self,
        lengthscale: Float[ArrayLike, ""] = 1.0,
        period: Float[ArrayLike, ""] = 1.0,
        variance: Float[ArrayLike, ""] = 1.0,
    ):
        self.lengthscale = as_parameter("lengthscale", lengthscale)
        self.period = as_parameter("period", period)
        self.variance = as_parameter("variance", variance)

    def profile(self, tau: Float[ArrayLike, "..."], order: int = 0) -> Float[Array, "..."]:
        order = check_order("Periodic", order, MAX_ORDER)
        tau = jnp.asarray(tau)
        omega = 2 * math.pi / self.period
        c, s = jnp.cos(omega * tau), jnp.sin(omega * tau)
        scale = 1 / self.lengthscale**2
        g1, g2, g3, g4 = -omega * s * scale, -(omega**2) * c * scale, omega**3 * s * scale, omega**4 * c * scale
        factors = (
            1.0,
            g1,
            g2 + g1**2,
            g3 + 3 * g1 * g2 + g1**3,
            g4 + 4 * g1 * g3 + 3 * g2**2 + 6 * g1**2 * g2 + g1**4,
        )
        return self.variance * factors[order] * jnp.exp((c - 1) * scale)
