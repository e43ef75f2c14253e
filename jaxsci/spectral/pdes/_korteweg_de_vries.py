"""Korteweg-de Vries equation."""

from __future__ import annotations

from typing import ClassVar

from jaxtyping import Array, ArrayLike

from .._domain import PeriodicDomain
from .._pde import AbstractPDE, coefficient
from ._common import k_squared, sum_of_derivatives


class KortewegDeVries(AbstractPDE):
    r"""Korteweg-de Vries equation
    $u_t + \tfrac{b}{2} (\mathbf 1\cdot\nabla)(u^2) + \delta \sum_j \partial_j^3 u
    = \nu\Delta u - \mu\Delta^2 u$.

    The defaults $b=-6$, $\delta=1$, $\nu=\mu=0$ give $u_t - 6uu_x + u_{xxx} = 0$, whose
    soliton is $u = -\tfrac c2 \operatorname{sech}^2(\tfrac{\sqrt c}{2}(x - ct - a))$.

    **Arguments:** `domain`; `scale` $b$; `dispersivity` $\delta$; `nu`; `mu`
    (optional diffusion and hyper-diffusion for damping).

    **Example:**

    ```python
    import jax, jax.numpy as jnp
    import jaxsci.spectral as sp
    stepper = sp.ETDRK(sp.KortewegDeVries(sp.PeriodicDomain(256, 40.0)), dt=2e-3)
    u0 = sp.random_fourier_series(jax.random.key(0), stepper.pde.domain)
    traj = sp.rollout(stepper, u0, 10)                  # (10, channels, *shape)
    assert jnp.allclose(traj[-1].mean(), u0.mean(), atol=1e-5)   # the mean is conserved
    ```

    **Reference:** D. J. Korteweg, G. de Vries, Phil. Mag. 39 (1895).
    """

    pairable: ClassVar[bool] = True
    domain: PeriodicDomain
    scale: Array
    dispersivity: Array
    nu: Array
    mu: Array

    def __init__(
        self,
        domain: PeriodicDomain,
        scale: ArrayLike = -6.0,
        dispersivity: ArrayLike = 1.0,
        nu: ArrayLike = 0.0,
        mu: ArrayLike = 0.0,
    ):
        self.domain = domain
        self.scale = coefficient(scale, "scale")
        self.dispersivity = coefficient(dispersivity, "dispersivity")
        self.nu, self.mu = coefficient(nu, "nu"), coefficient(mu, "mu")

    def linear(self):
        k2 = k_squared(self.domain)
        sym = -self.dispersivity * sum_of_derivatives(self.domain, 3) - self.nu * k2 - self.mu * k2**2
        return sym[None]

    def nonlinear(self, u_hat):
        d = self.domain
        u = d.ifft(u_hat)
        return -0.5 * self.scale * sum_of_derivatives(d, 1) * d.fft(u * u)
