"""Incompressible Navier-Stokes: 2D vorticity form and 3D velocity form with Leray projection."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from ..._checks import as_index
from .._domain import PeriodicDomain
from .._pde import AbstractPDE, coefficient
from ._common import gradient_symbols, k_squared


def _inverse_k2(domain: PeriodicDomain) -> Array:
    k2 = k_squared(domain)
    return jnp.where(k2 == 0, 0.0, 1.0 / jnp.where(k2 == 0, 1.0, k2))


def _forcing_mode(mode, n: int) -> int:
    """A forcing mode that the grid resolves: an integer in [0, n/2). The Nyquist mode
    n/2 carries no velocity (its odd derivatives vanish), higher ones alias."""
    m = as_index(mode)
    if m is None or not 0 <= 2 * m < n:
        raise ValueError(f"`forcing_mode` must be an integer in [0, {n}/2) for {n} points along y, got {mode!r}.")
    return m


class NavierStokes2D(AbstractPDE):
    r"""2D incompressible Navier-Stokes in vorticity form,
    $\omega_t + \mathbf u\cdot\nabla\omega = \nu\Delta\omega - \lambda\omega + f$,
    with $\mathbf u = (\partial_y\psi, -\partial_x\psi)$, $-\Delta\psi = \omega$.

    Optional Kolmogorov forcing: the body force $A\sin(k_f y)\,\hat e_x$ with
    $k_f = 2\pi m / L_y$ gives $f = -A k_f\cos(k_f y)$ (mode $m$ = `forcing_mode`). It is
    the PDE's constant `source()`, which the integrator adds exactly and does not dealias,
    so any resolved mode $0 < m < N_y/2$ may be forced (also above the 2/3 cutoff).
    Taylor-Green vorticity $2\sin x\sin y$ (on $[0,2\pi)^2$) decays as
    $e^{-(2\nu+\lambda)t}$; the laminar Kolmogorov flow
    $\omega = -A k_f\cos(k_f y)/(\nu k_f^2 + \lambda)$ is stationary.

    The nonlinear term is evaluated in Basdevant's form
    $\mathbf u\cdot\nabla\omega = (\partial_{xx} - \partial_{yy})(uv) + \partial_{xy}(v^2 - u^2)$
    (valid for divergence-free $\mathbf u$): four real FFTs an evaluation instead of five.

    **Arguments:** `domain` (2D); `nu` $\ge 0$ (viscosity); `drag` $\lambda \ge 0$ (linear
    drag); `forcing_amplitude` $A$ (real); `forcing_mode` $m$ (static integer in
    $[0, N_y/2)$; 0 disables forcing). A `ValueError` names an argument out of range.

    **Example:**

    ```python
    import jax.numpy as jnp
    import jaxsci.spectral as sp
    domain = sp.PeriodicDomain((32, 32))                                   # [0, 2 pi)^2
    stepper = sp.ETDRK(sp.NavierStokes2D(domain, nu=0.05, drag=0.1), dt=0.05)
    x, y = domain.grid()
    w0 = 2 * jnp.sin(x) * jnp.sin(y)                                      # Taylor-Green vorticity
    w = sp.rollout(stepper, w0[None], 20)[-1]                               # t = 1
    assert jnp.allclose(w[0], jnp.exp(-(2 * 0.05 + 0.1)) * w0, atol=1e-5)   # decays as exp(-(2 nu + drag) t)
    ```

    **Reference:** Kochkov et al., PNAS 118 (2021) (Kolmogorov flow setup); C. Basdevant,
    *Technical improvements for direct numerical simulation of homogeneous three-dimensional
    turbulence*, J. Comput. Phys. 50 (1983) (the four-transform nonlinear term).
    """

    pairable: ClassVar[bool] = True
    domain: PeriodicDomain
    nu: Array
    drag: Array
    forcing_amplitude: Array
    forcing_mode: int = eqx.field(static=True)

    def __init__(
        self,
        domain: PeriodicDomain,
        nu: ArrayLike = 1e-3,
        drag: ArrayLike = 0.0,
        forcing_amplitude: ArrayLike = 0.0,
        forcing_mode: int = 0,
    ):
        if domain.ndim != 2:
            raise ValueError(f"`domain` must be 2D for NavierStokes2D, got {domain.ndim}D.")
        self.domain = domain
        self.nu = coefficient(nu, "nu", sign="non-negative")
        self.drag = coefficient(drag, "drag", sign="non-negative")
        self.forcing_amplitude = coefficient(forcing_amplitude, "forcing_amplitude")
        self.forcing_mode = _forcing_mode(forcing_mode, domain.shape[1])

    def linear(self):
        return (-self.nu * k_squared(self.domain) - self.drag)[None]

    def forcing(self) -> Array:
        """The vorticity forcing $f$ on the grid, shape `(1, *shape)`."""
        d = self.domain
        kf = 2 * jnp.pi * self.forcing_mode / d.extent[1]
        y = d.grid()[1]
        return (-self.forcing_amplitude * kf * jnp.cos(kf * y))[None]

    def forcing_hat(self) -> Array:
        """The Fourier coefficients of `forcing()` in the domain's layout, from NumPy at
        trace time (no FFT at run time)."""
        d = self.domain
        unit = np.cos(2 * np.pi * self.forcing_mode * np.arange(d.shape[1]) / d.shape[1])
        kf = 2 * jnp.pi * self.forcing_mode / d.extent[1]
        return (-self.forcing_amplitude * kf) * d.fourier_constant(np.broadcast_to(unit, d.shape))[None]

    def source(self) -> Array | None:
        """The constant source term: `forcing_hat()`, or `None` without forcing."""
        return self.forcing_hat() if self.forcing_mode else None

    def nonlinear(self, u_hat):
        # Basdevant's form: for divergence-free u = (u, v) in 2D,
        # u.grad(w) = (d_xx - d_yy)(u v) + d_xy (v^2 - u^2), so two inverse transforms
        # (u, v) and two forward ones (u v, v^2 - u^2) replace the four inverse and one
        # forward of the advective form u w_x + v w_y. On the modes kept by 2/3
        # dealiasing both are the same exact product, so they agree to round-off.
        d = self.domain
        dx, dy = gradient_symbols(d)
        psi_hat = u_hat * _inverse_k2(d)
        vel = d.ifft(jnp.concatenate([dy * psi_hat, -dx * psi_hat]))
        u, v = vel[0], vel[1]
        prod = d.fft(jnp.stack([u * v, (v - u) * (v + u)]))
        dxx, dyy = d.derivative(0, 2), d.derivative(1, 2)
        # The forcing is `source()`, not part of this term: the integrator dealiases this
        # term's output, which would delete a forcing mode above the 2/3 cutoff.
        return (dyy - dxx) * prod[0:1] - (dx * dy).real * prod[1:2]


class NavierStokes3D(AbstractPDE):
    r"""3D incompressible Navier-Stokes in velocity form with Leray projection,
    $\mathbf u_t = -P[(\mathbf u\cdot\nabla)\mathbf u] + \nu\Delta\mathbf u - \lambda\mathbf u$,
    $\widehat{P f} = \hat f - \mathbf k(\mathbf k\cdot\hat f)/|\mathbf k|^2$ (with the discrete
    wavevector of the derivative symbols, see `project`).

    The advection is evaluated in divergence form $\partial_j(u_j u_i)$ (six products).
    Beltrami flows such as ABC flow have a projected nonlinearity of zero, so they decay
    exactly as $e^{-(\nu|k|^2 + \lambda)t}$.

    **Arguments:** `domain` (3D); `nu` $\ge 0$ (viscosity); `drag` $\lambda \ge 0$.

    **Example:**

    ```python
    import jax.numpy as jnp
    import jaxsci.spectral as sp
    domain = sp.PeriodicDomain((16, 16, 16))
    stepper = sp.ETDRK(sp.NavierStokes3D(domain, nu=0.1), dt=0.05)
    x, y, z = domain.grid()
    u0 = jnp.stack([jnp.sin(z) + jnp.cos(y), jnp.sin(x) + jnp.cos(z), jnp.sin(y) + jnp.cos(x)])  # ABC flow
    u = sp.rollout(stepper, u0, 10)[-1]                                 # t = 0.5
    assert jnp.allclose(u, jnp.exp(-0.1 * 0.5) * u0, atol=1e-5)          # Beltrami: decays as exp(-nu |k|^2 t)
    ```

    **Reference:** Canuto, Hussaini, Quarteroni, Zang, *Spectral Methods* (2007), ch. 3.
    """

    pairable: ClassVar[bool] = True
    domain: PeriodicDomain
    nu: Array
    drag: Array

    def __init__(self, domain: PeriodicDomain, nu: ArrayLike = 1e-2, drag: ArrayLike = 0.0):
        if domain.ndim != 3:
            raise ValueError(f"`domain` must be 3D for NavierStokes3D, got {domain.ndim}D.")
        self.domain = domain
        self.nu = coefficient(nu, "nu", sign="non-negative")
        self.drag = coefficient(drag, "drag", sign="non-negative")

    def linear(self):
        sym = -self.nu * k_squared(self.domain) - self.drag
        return jnp.broadcast_to(sym, (3, *sym.shape))

    def project(self, f_hat: Array) -> Array:
        r"""Leray projection of Fourier coefficients `(3, *fourier_shape)`: at every mode the
        orthogonal projection onto the complement of the discrete wavevector $\mathbf k_d$,
        $\hat f - \mathbf k_d(\mathbf k_d\cdot\hat f)/|\mathbf k_d|^2$.

        $\mathbf k_d$ is the wavevector of the derivative symbols, $i\mathbf k_d$ = `derivative(j, 1)`,
        which is zero along an axis at its Nyquist mode; $|\mathbf k_d|^2$ is built from the same
        symbols (not from the Laplacian, which keeps the Nyquist wavenumber). So the result is
        exactly divergence-free for the domain's derivatives, and projecting twice changes nothing
        (to round-off), also at modes with a Nyquist component. Where $\mathbf k_d = 0$ (the mean,
        or all components at Nyquist) the field is left unchanged."""
        ks = gradient_symbols(self.domain)  # i k_d, zero at the Nyquist mode of an axis
        div = sum(k * f for k, f in zip(ks, f_hat))
        kd2 = -sum((k * k).real for k in ks)  # |k_d|^2 from the same symbols
        inv = jnp.where(kd2 == 0, 0.0, 1.0 / jnp.where(kd2 == 0, 1.0, kd2))
        return jnp.stack([f + k * div * inv for k, f in zip(ks, f_hat)])

    def nonlinear(self, u_hat):
        d = self.domain
        u = d.ifft(u_hat)
        ks = gradient_symbols(d)
        pairs = {(i, j): u[i] * u[j] for i in range(3) for j in range(i, 3)}
        prod_hat = {ij: d.fft(p) for ij, p in pairs.items()}
        get = lambda i, j: prod_hat[(min(i, j), max(i, j))]  # noqa: E731
        adv = jnp.stack([sum(ks[j] * get(i, j) for j in range(3)) for i in range(3)])
        return -self.project(adv)
