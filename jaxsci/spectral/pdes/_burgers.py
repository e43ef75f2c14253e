"""Viscous Burgers equation."""

from __future__ import annotations

from typing import ClassVar

from jaxtyping import Array, ArrayLike

from .._domain import PeriodicDomain
from .._pde import AbstractPDE, coefficient
from ._common import k_squared, sum_of_derivatives


class Burgers(AbstractPDE):
    r"""Viscous Burgers equation in conservative form,
    $u_t + \tfrac{b}{2} (\mathbf 1\cdot\nabla)(u^2) = \nu \Delta u$.

    In 1D this is $u_t + b\, u u_x = \nu u_{xx}$; in 2D/3D the scalar field is
    transported along the diagonal direction $\mathbf 1$. The mean of $u$ is conserved.

    **Arguments:** `domain`; `nu` $\ge 0$ (viscosity); `scale` $b$ (convection scale, default 1).

    **Example:**

    ```python
    import jaxsci.spectral as sp
    stepper = sp.ETDRK(sp.Burgers(sp.PeriodicDomain(128), nu=0.05), dt=0.01)
    ```

    **Reference:** J. M. Burgers (1948); Cole (1951) and Hopf (1950) for the exact solution.
    """

    pairable: ClassVar[bool] = True
    domain: PeriodicDomain
    nu: Array
    scale: Array

    def __init__(self, domain: PeriodicDomain, nu: ArrayLike = 0.01, scale: ArrayLike = 1.0):
        self.domain, self.scale = domain, coefficient(scale, "scale")
        self.nu = coefficient(nu, "nu", sign="non-negative")

    def linear(self):
        return (-self.nu * k_squared(self.domain))[None]

    def nonlinear(self, u_hat):
        d = self.domain
        u = d.ifft(u_hat)
        return -0.5 * self.scale * sum_of_derivatives(d, 1) * d.fft(u * u)
