"""Complex-field equations: nonlinear Schrodinger and complex Ginzburg-Landau."""

from __future__ import annotations

from typing import ClassVar

from jaxtyping import Array, ArrayLike

from .._domain import PeriodicDomain
from .._pde import AbstractPDE, coefficient
from ._common import k_squared


class NonlinearSchrodinger(AbstractPDE):
    r"""Cubic nonlinear Schrodinger equation
    $i\psi_t + \tfrac12\Delta\psi + g|\psi|^2\psi = 0$ for a complex field (uses `fftn`).

    Linear part $-\tfrac i2|k|^2$, nonlinear part $i g|\psi|^2\psi$. For $g = 1$ (focusing)
    in 1D the bright soliton is
    $\psi = a\operatorname{sech}(a(x - vt - x_0))\,e^{i(vx + (a^2 - v^2)t/2)}$; the mass
    $\int|\psi|^2$ is conserved.

    **Arguments:** `domain`; `g` (nonlinearity; $g > 0$ focusing). A complex $g$ is
    accepted: $\operatorname{Im} g > 0$ adds the nonlinear (two-photon) absorption
    $-\operatorname{Im}(g)|\psi|^2\psi$, and the mass then decays.

    **Example:**

    ```python
    import jax, jax.numpy as jnp
    import jaxsci.spectral as sp
    stepper = sp.ETDRK(sp.NonlinearSchrodinger(sp.PeriodicDomain(256, 40.0)), dt=5e-3)
    u0 = sp.random_fourier_series(jax.random.key(0), stepper.pde.domain).astype(jnp.complex64)
    traj = sp.rollout(stepper, u0, 10)                  # (10, channels, *shape)
    assert jnp.allclose(jnp.sum(jnp.abs(traj[-1]) ** 2), jnp.sum(jnp.abs(u0) ** 2), rtol=1e-4)   # mass is conserved
    ```

    **Reference:** V. E. Zakharov, A. B. Shabat, Sov. Phys. JETP 34 (1972).
    """

    domain: PeriodicDomain
    g: Array
    complex_field: ClassVar[bool] = True

    def __init__(self, domain: PeriodicDomain, g: ArrayLike = 1.0):
        self.domain, self.g = domain, coefficient(g, "g", complex_ok=True)

    def linear(self):
        return (-0.5j * k_squared(self.domain, True))[None]

    def nonlinear(self, u_hat):
        d = self.domain
        psi = d.ifft(u_hat, True)
        return 1j * self.g * d.fft(psi * (psi.real**2 + psi.imag**2), True)


class ComplexGinzburgLandau(AbstractPDE):
    r"""Complex Ginzburg-Landau equation
    $A_t = A + (1 + i\alpha)\Delta A - (1 + i\beta)|A|^2A$ for a complex field.

    Plane waves $A = \sqrt{1 - q^2}\,e^{i(qx - \omega t)}$ with
    $\omega = \alpha q^2 + \beta(1 - q^2)$ are exact solutions.

    **Arguments:** `domain`; `alpha` (linear dispersion); `beta` (nonlinear dispersion).
    Both are real: the equation's complex coefficients are $1 + i\alpha$ and $1 + i\beta$
    (a complex $\alpha$ could make the diffusion $1 - \operatorname{Im}\alpha$ negative).

    **Example:**

    ```python
    import jax.numpy as jnp
    import jaxsci.spectral as sp
    domain = sp.PeriodicDomain(64, 4 * jnp.pi)
    stepper = sp.ETDRK(sp.ComplexGinzburgLandau(domain, alpha=1.0, beta=-1.0), dt=0.05)
    (x,) = domain.grid()
    wave = lambda t: jnp.sqrt(0.75) * jnp.exp(1j * (0.5 * x + 0.5 * t))[None]   # q = 1/2, omega = -1/2
    A = sp.rollout(stepper, wave(0.0), 20)[-1]                                  # t = 1
    assert sp.relative_l2(A, wave(1.0)) < 1e-4
    ```

    **Reference:** I. S. Aranson, L. Kramer, Rev. Mod. Phys. 74 (2002).
    """

    domain: PeriodicDomain
    alpha: Array
    beta: Array
    complex_field: ClassVar[bool] = True

    def __init__(self, domain: PeriodicDomain, alpha: ArrayLike = 1.0, beta: ArrayLike = -1.0):
        self.domain, self.alpha, self.beta = domain, coefficient(alpha, "alpha"), coefficient(beta, "beta")

    def linear(self):
        return (1.0 - (1.0 + 1j * self.alpha) * k_squared(self.domain, True))[None]

    def nonlinear(self, u_hat):
        d = self.domain
        a = d.ifft(u_hat, True)
        return -(1.0 + 1j * self.beta) * d.fft(a * (a.real**2 + a.imag**2), True)
