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

    **Arguments:** `domain`; `scale` $b$; `dispersivity` $\delta$; `nu` $\ge 0$; `mu` $\ge 0$
    (optional diffusion and hyper-diffusion for damping).

    **Example:**

    ```python
    import jax.numpy as jnp
    import jaxsci.spectral as sp
    domain = sp.PeriodicDomain(256, 40.0)
    stepper = sp.ETDRK(sp.KortewegDeVries(domain), dt=1e-3)
    (x,) = domain.grid()
    soliton = lambda t: (-2.0 / jnp.cosh(x - 4.0 * t - 15.0) ** 2)[None]   # c = 4, a = 15
    u = sp.rollout(stepper, soliton(0.0), 500)[-1]                        # t = 0.5
    assert sp.relative_l2(u, soliton(0.5)) < 1e-4                         # the soliton moves at speed c
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
        self.nu = coefficient(nu, "nu", sign="non-negative")
        self.mu = coefficient(mu, "mu", sign="non-negative")

    def linear(self):
        k2 = k_squared(self.domain)
        sym = -self.dispersivity * sum_of_derivatives(self.domain, 3) - self.nu * k2 - self.mu * k2**2
        return sym[None]

    def nonlinear(self, u_hat):
        d = self.domain
        u = d.ifft(u_hat)
        return -0.5 * self.scale * sum_of_derivatives(d, 1) * d.fft(u * u)
