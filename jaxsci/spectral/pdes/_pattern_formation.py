"""Pattern-forming equations: Cahn-Hilliard and Swift-Hohenberg."""

from __future__ import annotations

from typing import ClassVar

from jaxtyping import Array, ArrayLike

from .._domain import PeriodicDomain
from .._pde import AbstractPDE, coefficient
from ._common import k_squared


class CahnHilliard(AbstractPDE):
    r"""Cahn-Hilliard equation $u_t = \Delta(u^3 - u - \gamma\Delta u)$.

    Linear part $|k|^2 - \gamma|k|^4$; nonlinear part $\Delta(u^3)$. The mean of $u$ is
    conserved and the free energy
    $E = \int \tfrac14(u^2-1)^2 + \tfrac\gamma2|\nabla u|^2$ decreases.

    **Arguments:** `domain`; `gamma` $> 0$ (interface energy; without it the linear part
    $|k|^2$ grows without bound).

    **Example:**

    ```python
    import jax.numpy as jnp
    import jaxsci.spectral as sp
    domain = sp.PeriodicDomain((32, 32), 8 * jnp.pi)
    stepper = sp.ETDRK(sp.CahnHilliard(domain, 0.5), dt=0.05)
    x, y = domain.grid()
    u0 = (0.2 + 0.05 * (jnp.cos(x) + jnp.sin(y / 2)))[None]
    u = sp.rollout(stepper, u0, 200)[-1]                                  # t = 10: spinodal decomposition
    assert jnp.allclose(u.mean(), 0.2) and u.std() > 5 * u0.std()          # mean conserved; the phases separate
    ```

    **Reference:** J. W. Cahn, J. E. Hilliard, J. Chem. Phys. 28 (1958).
    """

    pairable: ClassVar[bool] = True
    domain: PeriodicDomain
    gamma: Array

    def __init__(self, domain: PeriodicDomain, gamma: ArrayLike = 1e-3):
        self.domain, self.gamma = domain, coefficient(gamma, "gamma", sign="positive")

    def linear(self):
        k2 = k_squared(self.domain)
        return (k2 - self.gamma * k2**2)[None]

    def nonlinear(self, u_hat):
        d = self.domain
        u = d.ifft(u_hat)
        return -k_squared(d) * d.fft(u * u * u)


class SwiftHohenberg(AbstractPDE):
    r"""Swift-Hohenberg equation $u_t = r u - (k_c^2 + \Delta)^2 u + g u^2 - u^3$.

    Linear part $r - (k_c^2 - |k|^2)^2$ (unstable near $|k| = k_c$ when $r > 0$);
    nonlinear part $g u^2 - u^3$. It is a gradient flow, so the Lyapunov functional
    $\int -\tfrac r2u^2 + \tfrac12((k_c^2+\Delta)u)^2 - \tfrac g3u^3 + \tfrac14u^4$ decreases.

    **Arguments:** `domain`; `r` (control parameter); `g` (quadratic coefficient);
    `critical_wavenumber` $k_c$.

    **Example:**

    ```python
    import jax.numpy as jnp
    import jaxsci.spectral as sp
    domain = sp.PeriodicDomain(64, 8 * jnp.pi)
    stepper = sp.ETDRK(sp.SwiftHohenberg(domain, r=0.3, g=0.0), dt=0.5)
    (x,) = domain.grid()
    u = sp.rollout(stepper, 0.01 * jnp.cos(x)[None], 400)[-1]                 # t = 200: a roll at k = k_c grows
    assert jnp.allclose(jnp.abs(u).max(), jnp.sqrt(4 * 0.3 / 3), rtol=1e-2)   # and saturates near a^2 = 4 r / 3
    ```

    **Reference:** J. Swift, P. C. Hohenberg, Phys. Rev. A 15 (1977).
    """

    pairable: ClassVar[bool] = True
    domain: PeriodicDomain
    r: Array
    g: Array
    critical_wavenumber: Array

    def __init__(
        self,
        domain: PeriodicDomain,
        r: ArrayLike = 0.7,
        g: ArrayLike = 1.0,
        critical_wavenumber: ArrayLike = 1.0,
    ):
        self.domain, self.r, self.g = domain, coefficient(r, "r"), coefficient(g, "g")
        self.critical_wavenumber = coefficient(critical_wavenumber, "critical_wavenumber")

    def linear(self):
        k2 = k_squared(self.domain)
        return (self.r - (self.critical_wavenumber**2 - k2) ** 2)[None]

    def nonlinear(self, u_hat):
        d = self.domain
        u = d.ifft(u_hat)
        return d.fft(self.g * u * u - u * u * u)
