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

    **Arguments:** `domain`; `nu` $\ge 0$ (diffusivity); `rate` $r$.

    **Example:**

    ```python
    import jax.numpy as jnp
    import jaxsci.spectral as sp
    domain = sp.PeriodicDomain(32, 50.0)
    stepper = sp.ETDRK(sp.FisherKPP(domain, nu=1.0, rate=1.0), dt=0.1)
    u = sp.rollout(stepper, jnp.full((1, 32), 0.1), 20)[-1]                # t = 2, from the uniform u0 = 0.1
    assert jnp.allclose(u, 1 / (1 + 9 * jnp.exp(-2.0)), atol=1e-5)          # the logistic law
    ```

    **Reference:** R. A. Fisher (1937); Kolmogorov, Petrovsky, Piskunov (1937).
    """

    pairable: ClassVar[bool] = True
    domain: PeriodicDomain
    nu: Array
    rate: Array

    def __init__(self, domain: PeriodicDomain, nu: ArrayLike = 0.01, rate: ArrayLike = 1.0):
        self.domain, self.rate = domain, coefficient(rate, "rate")
        self.nu = coefficient(nu, "nu", sign="non-negative")

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
    import jax.numpy as jnp
    import jaxsci.spectral as sp
    domain = sp.PeriodicDomain(64)
    stepper = sp.ETDRK(sp.AllenCahn(domain, 0.2), dt=0.01)
    (x,) = domain.grid()
    w = jnp.sqrt(2) * 0.2                                   # two kinks tanh(x / (sqrt(2) epsilon)) far apart
    u0 = (jnp.tanh((x - jnp.pi / 2) / w) * jnp.tanh((3 * jnp.pi / 2 - x) / w))[None]
    assert sp.relative_l2(sp.rollout(stepper, u0, 100)[-1], u0) < 1e-3   # are stationary (here up to t = 1)
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

    **Arguments:** `domain`; `diffusivity_u` $\ge 0$; `diffusivity_v` $\ge 0$; `feed` $F$;
    `kill` $k$.

    **Example:**

    ```python
    import jax.numpy as jnp
    import jaxsci.spectral as sp
    domain = sp.PeriodicDomain((32, 32), 2.5)
    stepper = sp.ETDRK(sp.GrayScott(domain, feed=0.04, kill=0.06), dt=1.0)
    uv0 = jnp.stack([jnp.full((32, 32), 0.5), jnp.zeros((32, 32))])        # no v: u relaxes to 1
    u, v = sp.rollout(stepper, uv0, 10)[-1]                                 # t = 10
    assert jnp.allclose(u, 1 - 0.5 * jnp.exp(-0.04 * 10), atol=1e-5) and jnp.all(v == 0)
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
        self.diffusivity_u = coefficient(diffusivity_u, "diffusivity_u", sign="non-negative")
        self.diffusivity_v = coefficient(diffusivity_v, "diffusivity_v", sign="non-negative")
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
