"""Linear PDEs: diffusion, advection, advection-diffusion, dispersion, hyper-diffusion."""

from __future__ import annotations

from typing import ClassVar

import jax.numpy as jnp
from jaxtyping import Array, ArrayLike

from .._domain import PeriodicDomain
from .._pde import AbstractPDE, coefficient
from ._common import gradient_symbols, k_squared, sum_of_derivatives


def _velocity(domain: PeriodicDomain, velocity: ArrayLike) -> Array:
    v = coefficient(velocity, "velocity", shape=None)
    if v.ndim == 0:
        v = jnp.broadcast_to(v, (domain.ndim,))
    if v.shape != (domain.ndim,):
        raise ValueError(f"`velocity` must be a scalar or have shape ({domain.ndim},), got {v.shape}.")
    return v


def _advection_symbol(domain: PeriodicDomain, velocity: Array) -> Array:
    out = 0.0
    for c, d in zip(velocity, gradient_symbols(domain)):
        out = out - c * d
    return out


class Diffusion(AbstractPDE):
    r"""Heat equation $u_t = \nu \Delta u$; symbol $-\nu |k|^2$.

    **Arguments:** `domain`; `nu` $\ge 0$ (diffusivity, array leaf).

    **Example:**

    ```python
    import jax, jax.numpy as jnp
    import jaxsci.spectral as sp
    stepper = sp.ETDRK(sp.Diffusion(sp.PeriodicDomain(64), 0.1), dt=0.1, order=0)
    u0 = sp.random_fourier_series(jax.random.key(0), stepper.pde.domain)
    traj = sp.rollout(stepper, u0, 10)                  # (10, channels, *shape)
    assert jnp.allclose(traj[-1].mean(), u0.mean(), atol=1e-5)   # the mean is conserved
    assert jnp.sum(traj[-1] ** 2) < jnp.sum(u0 ** 2)   # energy decays
    ```
    """

    pairable: ClassVar[bool] = True
    domain: PeriodicDomain
    nu: Array

    def __init__(self, domain: PeriodicDomain, nu: ArrayLike = 0.01):
        self.domain, self.nu = domain, coefficient(nu, "nu", sign="non-negative")

    def linear(self):
        return (-self.nu * k_squared(self.domain))[None]

    def nonlinear(self, u_hat):
        return jnp.zeros_like(u_hat)


class Advection(AbstractPDE):
    r"""Advection $u_t + c \cdot \nabla u = 0$; symbol $-i\, c \cdot k$.

    **Arguments:** `domain`; `velocity` (scalar, or one entry per axis; array leaf).

    **Example:**

    ```python
    import jax, jax.numpy as jnp
    import jaxsci.spectral as sp
    stepper = sp.ETDRK(sp.Advection(sp.PeriodicDomain((64, 32)), [1.0, 0.5]), dt=0.1, order=0)
    u0 = sp.random_fourier_series(jax.random.key(0), stepper.pde.domain)
    traj = sp.rollout(stepper, u0, 10)                  # (10, channels, *shape)
    assert jnp.allclose(traj[-1].mean(), u0.mean(), atol=1e-5)   # the mean is conserved
    assert jnp.allclose(jnp.sum(traj[-1] ** 2), jnp.sum(u0 ** 2), rtol=1e-4)   # and the L2 norm
    ```
    """

    pairable: ClassVar[bool] = True
    domain: PeriodicDomain
    velocity: Array

    def __init__(self, domain: PeriodicDomain, velocity: ArrayLike = 1.0):
        self.domain, self.velocity = domain, _velocity(domain, velocity)

    def linear(self):
        return _advection_symbol(self.domain, self.velocity)[None]

    def nonlinear(self, u_hat):
        return jnp.zeros_like(u_hat)


class AdvectionDiffusion(AbstractPDE):
    r"""Advection-diffusion $u_t + c\cdot\nabla u = \nu\Delta u$; symbol $-i c\cdot k - \nu|k|^2$.

    **Arguments:** `domain`; `velocity` (scalar or per axis); `nu` $\ge 0$ (diffusivity).

    **Example:**

    ```python
    import jax, jax.numpy as jnp
    import jaxsci.spectral as sp
    stepper = sp.ETDRK(sp.AdvectionDiffusion(sp.PeriodicDomain(64), 1.0, 0.01), dt=0.1, order=0)
    u0 = sp.random_fourier_series(jax.random.key(0), stepper.pde.domain)
    traj = sp.rollout(stepper, u0, 10)                  # (10, channels, *shape)
    assert jnp.allclose(traj[-1].mean(), u0.mean(), atol=1e-5)   # the mean is conserved
    assert jnp.sum(traj[-1] ** 2) < jnp.sum(u0 ** 2)   # energy decays
    ```
    """

    pairable: ClassVar[bool] = True
    domain: PeriodicDomain
    velocity: Array
    nu: Array

    def __init__(self, domain: PeriodicDomain, velocity: ArrayLike = 1.0, nu: ArrayLike = 0.01):
        self.domain = domain
        self.velocity, self.nu = _velocity(domain, velocity), coefficient(nu, "nu", sign="non-negative")

    def linear(self):
        sym = _advection_symbol(self.domain, self.velocity) - self.nu * k_squared(self.domain)
        return sym[None]

    def nonlinear(self, u_hat):
        return jnp.zeros_like(u_hat)


class Dispersion(AbstractPDE):
    r"""Linear dispersion $u_t = a \sum_j \partial_j^3 u$; symbol $a \sum_j (i k_j)^3$.

    **Arguments:** `domain`; `dispersivity` $a$.

    **Example:**

    ```python
    import jax, jax.numpy as jnp
    import jaxsci.spectral as sp
    stepper = sp.ETDRK(sp.Dispersion(sp.PeriodicDomain(64), 0.01), dt=0.1, order=0)
    u0 = sp.random_fourier_series(jax.random.key(0), stepper.pde.domain)
    traj = sp.rollout(stepper, u0, 10)                  # (10, channels, *shape)
    assert jnp.allclose(traj[-1].mean(), u0.mean(), atol=1e-5)   # the mean is conserved
    assert jnp.allclose(jnp.sum(traj[-1] ** 2), jnp.sum(u0 ** 2), rtol=1e-4)   # and the L2 norm
    ```
    """

    pairable: ClassVar[bool] = True
    domain: PeriodicDomain
    dispersivity: Array

    def __init__(self, domain: PeriodicDomain, dispersivity: ArrayLike = 1.0):
        self.domain, self.dispersivity = domain, coefficient(dispersivity, "dispersivity")

    def linear(self):
        return (self.dispersivity * sum_of_derivatives(self.domain, 3))[None]

    def nonlinear(self, u_hat):
        return jnp.zeros_like(u_hat)


class HyperDiffusion(AbstractPDE):
    r"""Hyper-diffusion $u_t = -\mu \Delta^2 u$; symbol $-\mu |k|^4$.

    **Arguments:** `domain`; `mu` $\ge 0$ (hyper-diffusivity).

    **Example:**

    ```python
    import jax, jax.numpy as jnp
    import jaxsci.spectral as sp
    stepper = sp.ETDRK(sp.HyperDiffusion(sp.PeriodicDomain(64), 1e-4), dt=0.1, order=0)
    u0 = sp.random_fourier_series(jax.random.key(0), stepper.pde.domain)
    traj = sp.rollout(stepper, u0, 10)                  # (10, channels, *shape)
    assert jnp.allclose(traj[-1].mean(), u0.mean(), atol=1e-5)   # the mean is conserved
    assert jnp.sum(traj[-1] ** 2) < jnp.sum(u0 ** 2)   # energy decays
    ```
    """

    pairable: ClassVar[bool] = True
    domain: PeriodicDomain
    mu: Array

    def __init__(self, domain: PeriodicDomain, mu: ArrayLike = 1e-4):
        self.domain, self.mu = domain, coefficient(mu, "mu", sign="non-negative")

    def linear(self):
        return (-self.mu * k_squared(self.domain) ** 2)[None]

    def nonlinear(self, u_hat):
        return jnp.zeros_like(u_hat)


class Wave(AbstractPDE):
    r"""Wave equation $u_{tt} = c^2 \Delta u$ as the first-order system $(u, v)$,
    $u_t = v$, $v_t = c^2 \Delta u$: a channel-coupling symbol
    $\begin{pmatrix}0 & 1\\ -c^2|k|^2 & 0\end{pmatrix}$.

    **Arguments:** `domain`; `speed` $c$.

    **Example:**

    ```python
    import jax.numpy as jnp
    import jaxsci.spectral as sp
    domain = sp.PeriodicDomain(64)
    stepper = sp.ETDRK(sp.Wave(domain, 2.0), dt=0.1, order=0)        # channels (u, u_t)
    (x,) = domain.grid()
    u, v = sp.rollout(stepper, jnp.stack([jnp.sin(x), 0 * x]), 10)[-1]   # t = 1
    assert jnp.allclose(u, jnp.cos(2.0) * jnp.sin(x), atol=1e-5)          # standing wave cos(c t) sin(x)
    assert jnp.allclose(v, -2.0 * jnp.sin(2.0) * jnp.sin(x), atol=1e-5)
    ```
    """

    pairable: ClassVar[bool] = True
    domain: PeriodicDomain
    speed: Array

    def __init__(self, domain: PeriodicDomain, speed: ArrayLike = 1.0):
        self.domain, self.speed = domain, coefficient(speed, "speed")

    def linear(self):
        k2 = k_squared(self.domain)
        zero, one = jnp.zeros_like(k2), jnp.ones_like(k2)
        lap = -(self.speed**2) * k2
        return jnp.stack([jnp.stack([zero, one]), jnp.stack([lap, zero])])

    def nonlinear(self, u_hat):
        return jnp.zeros_like(u_hat)
