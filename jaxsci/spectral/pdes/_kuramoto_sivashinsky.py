"""Kuramoto-Sivashinsky equation in gradient-norm and conservative forms."""

from __future__ import annotations

from typing import ClassVar

import equinox as eqx
from jaxtyping import Array, ArrayLike

from .._args import checked_bool
from .._domain import PeriodicDomain
from .._pde import AbstractPDE, coefficient
from ._common import gradient_symbols, k_squared, sum_of_derivatives


def _ks_symbol(domain: PeriodicDomain, second: Array, fourth: Array) -> Array:
    k2 = k_squared(domain)
    return (second * k2 - fourth * k2**2)[None]


class KuramotoSivashinsky(AbstractPDE):
    r"""Kuramoto-Sivashinsky equation, gradient-norm form,
    $u_t + \tfrac{g}{2}|\nabla u|^2 + a\Delta u + b\Delta^2 u = 0$ (any dimension).

    The term $|\nabla u|^2$ feeds the mean; with `zero_mean=True` (default, as in exponax)
    its mean is removed so that the mean of $u$ is conserved.

    **Arguments:** `domain`; `gradient_scale` $g$; `second_order` $a$; `fourth_order`
    $b \ge 0$ (its hyper-diffusion damps the high modes); `zero_mean` (static flag, a
    `bool`: anything else is a `ValueError`).

    **Example:**

    ```python
    import jax.numpy as jnp
    import jaxsci.spectral as sp
    domain = sp.PeriodicDomain((32, 32), 32.0)
    stepper = sp.ETDRK(sp.KuramotoSivashinsky(domain), dt=0.1)
    x, y = domain.grid()
    u0 = (1.0 + jnp.cos(jnp.pi * x / 8) * jnp.sin(jnp.pi * y / 16))[None]
    traj = sp.rollout(stepper, u0, 100, save_every=20)                             # (5, 1, 32, 32)
    assert jnp.allclose(traj.mean(axis=(1, 2, 3)), 1.0)    # zero_mean=True: the mean of u is conserved
    ```

    **Reference:** Y. Kuramoto (1978); G. I. Sivashinsky (1977).
    """

    pairable: ClassVar[bool] = True
    domain: PeriodicDomain
    gradient_scale: Array
    second_order: Array
    fourth_order: Array
    zero_mean: bool = eqx.field(static=True)

    def __init__(
        self,
        domain: PeriodicDomain,
        gradient_scale: ArrayLike = 1.0,
        second_order: ArrayLike = 1.0,
        fourth_order: ArrayLike = 1.0,
        zero_mean: bool = True,
    ):
        self.domain = domain
        self.gradient_scale = coefficient(gradient_scale, "gradient_scale")
        self.second_order = coefficient(second_order, "second_order")
        self.fourth_order = coefficient(fourth_order, "fourth_order", sign="non-negative")
        self.zero_mean = checked_bool(zero_mean, "zero_mean")

    def linear(self):
        return _ks_symbol(self.domain, self.second_order, self.fourth_order)

    def nonlinear(self, u_hat):
        d = self.domain
        grad_sq = 0.0
        for g in gradient_symbols(d):
            du = d.ifft(g * u_hat)
            grad_sq = grad_sq + du * du
        out = -0.5 * self.gradient_scale * d.fft(grad_sq)
        if self.zero_mean:
            out = out.at[(slice(None),) + (0,) * d.ndim].set(0.0)
        return out


class KuramotoSivashinskyConservative(AbstractPDE):
    r"""Kuramoto-Sivashinsky equation, conservative form,
    $u_t + \tfrac{g}{2}(\mathbf 1\cdot\nabla)(u^2) + a\Delta u + b\Delta^2 u = 0$.

    In 1D this is the derivative of the gradient form; the mean of $u$ is conserved.

    **Arguments:** `domain`; `scale` $g$; `second_order` $a$; `fourth_order` $b \ge 0$.

    **Example:**

    ```python
    import jax, jax.numpy as jnp
    import jaxsci.spectral as sp
    stepper = sp.ETDRK(sp.KuramotoSivashinskyConservative(sp.PeriodicDomain(256, 100.0)), dt=0.25)
    u0 = sp.random_fourier_series(jax.random.key(0), stepper.pde.domain)
    traj = sp.rollout(stepper, u0, 10)                  # (10, channels, *shape)
    assert jnp.allclose(traj[-1].mean(), u0.mean(), atol=1e-5)   # the mean is conserved
    ```

    **Reference:** Kassam & Trefethen, SIAM J. Sci. Comput. 26 (2005), section 6.
    """

    pairable: ClassVar[bool] = True
    domain: PeriodicDomain
    scale: Array
    second_order: Array
    fourth_order: Array

    def __init__(
        self,
        domain: PeriodicDomain,
        scale: ArrayLike = 1.0,
        second_order: ArrayLike = 1.0,
        fourth_order: ArrayLike = 1.0,
    ):
        self.domain, self.scale = domain, coefficient(scale, "scale")
        self.second_order = coefficient(second_order, "second_order")
        self.fourth_order = coefficient(fourth_order, "fourth_order", sign="non-negative")

    def linear(self):
        return _ks_symbol(self.domain, self.second_order, self.fourth_order)

    def nonlinear(self, u_hat):
        d = self.domain
        u = d.ifft(u_hat)
        return -0.5 * self.scale * sum_of_derivatives(d, 1) * d.fft(u * u)
