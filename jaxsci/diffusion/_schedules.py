"""Noise schedules: decreasing noise levels with a final 0 appended."""

from __future__ import annotations

import jax.numpy as jnp

from .._types import Array, Float


def _check(n, sigma_min, sigma_max):
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}.")
    try:
        lo, hi = float(sigma_min), float(sigma_max)
    except TypeError:
        return
    if not 0 < lo < hi:
        raise ValueError(f"need 0 < sigma_min < sigma_max, got sigma_min={lo}, sigma_max={hi}.")


def _append_zero(s: Array) -> Array:
    return jnp.concatenate([s, jnp.zeros((1,), s.dtype)])


def karras_sigmas(n: int, sigma_min, sigma_max, rho=7.0) -> Float[Array, " n+1"]:
    """The EDM schedule $\\sigma_i = (\\sigma_{max}^{1/\\rho} + \\tfrac{i}{n-1}(\\sigma_{min}^{1/\\rho}
    - \\sigma_{max}^{1/\\rho}))^\\rho$, $i < n$, with $\\sigma_n = 0$ appended.

    **Arguments:** `n` (number of steps), `sigma_min`, `sigma_max`, `rho` (may be traced).

    **Returns:** `n + 1` decreasing levels ending at 0.

    ```python
    from jaxsci.diffusion import karras_sigmas
    sigmas = karras_sigmas(18, 0.002, 80.0)
    ```

    Reference: Karras et al., NeurIPS 2022, eq. (5).
    """
    _check(n, sigma_min, sigma_max)
    ramp = jnp.linspace(0.0, 1.0, n)
    lo, hi = jnp.asarray(sigma_min) ** (1 / rho), jnp.asarray(sigma_max) ** (1 / rho)
    return _append_zero((hi + ramp * (lo - hi)) ** rho)


def exponential_sigmas(n: int, sigma_min, sigma_max) -> Float[Array, " n+1"]:
    """Levels equally spaced in $\\log\\sigma$ from `sigma_max` to `sigma_min`, then 0.

    ```python
    from jaxsci.diffusion import exponential_sigmas
    sigmas = exponential_sigmas(10, 0.01, 10.0)
    ```
    """
    _check(n, sigma_min, sigma_max)
    return _append_zero(jnp.exp(jnp.linspace(jnp.log(sigma_max), jnp.log(sigma_min), n)))


def polyexponential_sigmas(n: int, sigma_min, sigma_max, rho=1.0) -> Float[Array, " n+1"]:
    """$\\log\\sigma_i = \\log\\sigma_{min} + (1 - \\tfrac{i}{n-1})^\\rho (\\log\\sigma_{max} -
    \\log\\sigma_{min})$, then 0; `rho = 1` is `exponential_sigmas`.

    ```python
    from jaxsci.diffusion import polyexponential_sigmas
    sigmas = polyexponential_sigmas(10, 0.01, 10.0, rho=2.0)
    ```
    """
    _check(n, sigma_min, sigma_max)
    ramp = jnp.linspace(1.0, 0.0, n) ** rho
    lo, hi = jnp.log(sigma_min), jnp.log(sigma_max)
    return _append_zero(jnp.exp(ramp * (hi - lo) + lo))


def vp_sigmas(n: int, beta_d=19.9, beta_min=0.1, eps_s=1e-3) -> Float[Array, " n+1"]:
    """The continuous VP schedule $\\sigma(t) = \\sqrt{e^{\\beta_d t^2/2 + \\beta_{min} t} - 1}$
    at $t$ equally spaced from 1 to `eps_s`, then 0.

    ```python
    from jaxsci.diffusion import vp_sigmas
    sigmas = vp_sigmas(10)
    ```

    Reference: Song et al., ICLR 2021; Karras et al. 2022, Table 1.
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}.")
    t = jnp.linspace(1.0, eps_s, n)
    return _append_zero(jnp.sqrt(jnp.expm1(beta_d * t**2 / 2 + beta_min * t)))


def linear_time_sigmas(n: int, process, t_min=1e-3, t_max=1.0) -> Float[Array, " n+1"]:
    """Levels $\\sigma(t_i)$ of a `jaxsci.diffusion.AbstractProcess` at times equally
    spaced from `t_max` to `t_min`, then 0 (the schedule of score_sde and DDPM-style
    samplers).

    ```python
    from jaxsci.diffusion import VP, linear_time_sigmas
    sigmas = linear_time_sigmas(50, VP())
    ```
    """
    if not isinstance(n, int) or n < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}.")
    t = jnp.linspace(t_max, t_min, n)
    return _append_zero(process.sigma(t))

