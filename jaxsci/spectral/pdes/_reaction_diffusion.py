"""Reaction-diffusion equations: Fisher-KPP, Allen-Cahn, Gray-Scott."""

from __future__ import annotations

from typing import ClassVar

import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, ArrayLike

from .._domain import PeriodicDomain
from .._pde import AbstractPDE, coefficient
from ._common import k_squared


class FisherKPP(AbstractPDE):
    r"""Fisher-KPP equation $u_t = \nu\Delta u + r\,u(1-u)$.

    Linear part $\nu\Delta + r$, nonlinear part $-r u^2$. A uniform state follows the
    logistic law $u(t) = 1/(1 + (1/u_0 - 1)e^{-rt})$.

    **Arguments:** `domain`; `nu` (diffusivity); `rate` $r$.

    **Example:**

    ```python
    import jax, jax.numpy as jnp
    import jaxsci.spectral as sp
    stepper = sp.ETDRK(sp.FisherKPP(sp.PeriodicDomain(128, 50.0), nu=1.0, rate=1.0), dt=0.05)
    u0 = 0.5 + 0.1 * sp.random_fourier_series(jax.random.key(0), stepper.pde.domain)
    traj = sp.rollout(stepper, u0, 10)                  # (10, channels, *shape)
    assert traj.shape == (10, *u0.shape) and jnp.all(jnp.isfinite(traj))
    ```

    **Reference:** R. A. Fisher (1937); Kolmogorov, Petrovsky, Piskunov (1937).
    """

    pairable: ClassVar[bool] = True
    domain: PeriodicDomain
    nu: Array
    rate: Array

    def __init__(self, domain: PeriodicDomain, nu: ArrayLike = 0.01, rate: ArrayLike = 1.0):
        self.domain, self.nu, self.rate = domain, coefficient(nu, "nu"), coefficient(rate, "rate")

    def linear(self):
        return (self.rate - self.nu * k_squared(self.domain))[None]

    def nonlinear(self, u_hat):
        u = self.domain.ifft(u_hat)
        return -self.rate * self.domain.fft(u * u)


class AllenCahn(AbstractPDE):
    r"""Allen-Cahn equation $u_t = \varepsilon^2\Delta u + u - u^3$.

    Linear part $\varepsilon^2\Delta + 1$, nonlinear part $-u^3$ (cubic: consider
    `dealiasing=1/2` for exact dealiasing).

    **Arguments:** `domain`; `epsilon` (interface width).

    **Example:**

    ```python
    import jax, jax.numpy as jnp
    import jaxsci.spectral as sp
    stepper = sp.ETDRK(sp.AllenCahn(sp.PeriodicDomain((64, 64)), 0.05), dt=0.01, dealiasing=0.5)
    u0 = 0.1 * sp.random_fourier_series(jax.random.key(0), stepper.pde.domain)
    traj = sp.rollout(stepper, u0, 10)                  # (10, channels, *shape)
    assert traj.shape == (10, *u0.shape) and jnp.all(jnp.isfinite(traj))
    ```

    **Reference:** S. M. Allen, J. W. Cahn, Acta Metall. 27 (1979).
    """

    pairable: ClassVar[bool] = True
    domain: PeriodicDomain
    epsilon: Array

    def __init__(self, domain: PeriodicDomain, epsilon: ArrayLike = 0.1):
        self.domain, self.epsilon = domain, coefficient(epsilon, "epsilon")

    def linear(self):
        return (1.0 - self.epsilon**2 * k_squared(self.domain))[None]

    def nonlinear(self, u_hat):
        u = self.domain.ifft(u_hat)
        return -self.domain.fft(u * u * u)


class GrayScott(AbstractPDE):
    r"""Gray-Scott reaction-diffusion system for $(u, v)$:

    $u_t = D_u\Delta u - uv^2 + F(1-u)$, $\quad v_t = D_v\Delta v + uv^2 - (F+k)v$.

    Linear part $\operatorname{diag}(D_u\Delta - F,\ D_v\Delta - F - k)$.

    **Arguments:** `domain`; `diffusivity_u`; `diffusivity_v`; `feed` $F$; `kill` $k$.

    **Example:**

    ```python
    import jax, jax.numpy as jnp
    import jaxsci.spectral as sp
    stepper = sp.ETDRK(sp.GrayScott(sp.PeriodicDomain((128, 128), 2.5)), dt=1.0)
    u0 = jnp.array([1.0, 0.0])[:, None, None] + 0.05 * sp.random_fourier_series(jax.random.key(0), stepper.pde.domain, num_channels=2)
    traj = sp.rollout(stepper, u0, 10)                  # (10, channels, *shape)
    assert traj.shape == (10, *u0.shape) and jnp.all(jnp.isfinite(traj))
    ```

    **Reference:** P. Gray, S. K. Scott, Chem. Eng. Sci. 38 (1983); J. E. Pearson,
    Science 261 (1993).
    """

    pairable: ClassVar[bool] = True
    domain: PeriodicDomain
    diffusivity_u: Array
    diffusivity_v: Array
    feed: Array
    kill: Array

    def __init__(
        self,
        domain: PeriodicDomain,
        diffusivity_u: ArrayLike = 2e-5,
        diffusivity_v: ArrayLike = 1e-5,
        feed: ArrayLike = 0.04,
        kill: ArrayLike = 0.06,
    ):
        self.domain = domain
        self.diffusivity_u = coefficient(diffusivity_u, "diffusivity_u")
        self.diffusivity_v = coefficient(diffusivity_v, "diffusivity_v")
        self.feed, self.kill = coefficient(feed, "feed"), coefficient(kill, "kill")

    def linear(self):
        k2 = k_squared(self.domain)
        return jnp.stack(
            [-self.diffusivity_u * k2 - self.feed, -self.diffusivity_v * k2 - self.feed - self.kill]
        )

    def nonlinear(self, u_hat):
        d = self.domain
        uv = d.ifft(u_hat)
        r = uv[0] * uv[1] ** 2
        r_hat = d.fft(r[None])[0]
        # F(1 - u) contributes the constant F (its spectrum is the zero mode), no FFT per step.
        source = self.feed * d.fourier_constant(np.ones(d.shape)).astype(r_hat.dtype)
        return jnp.stack([-r_hat + source, r_hat])
