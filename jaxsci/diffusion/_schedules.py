"""Noise schedules: decreasing noise levels with a final 0 appended."""

from __future__ import annotations

import math

import jax.numpy as jnp

from .._checks import as_index
from .._types import Array, Float
from ._processes import AbstractProcess
from .samplers._base import check_positive, concrete


def _check_n(n) -> int:
    """`n` as a Python int (NumPy and concrete JAX integers too); `ValueError` unless positive."""
    count = as_index(n)
    if count is None or count < 1:
        raise ValueError(f"n must be a positive integer, got {n!r}.")
    return count


def _check(n, sigma_min, sigma_max) -> int:
    n = _check_n(n)
    lo, hi = concrete(sigma_min), concrete(sigma_max)
    if lo is not None and hi is not None and not 0 < lo < hi < math.inf:
        raise ValueError(f"need 0 < sigma_min < sigma_max < inf, got sigma_min={lo}, sigma_max={hi}.")
    return n


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
    n = _check(n, sigma_min, sigma_max)
    check_positive("rho", rho)
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
    n = _check(n, sigma_min, sigma_max)
    return _append_zero(jnp.exp(jnp.linspace(jnp.log(sigma_max), jnp.log(sigma_min), n)))


def polyexponential_sigmas(n: int, sigma_min, sigma_max, rho=1.0) -> Float[Array, " n+1"]:
    """$\\log\\sigma_i = \\log\\sigma_{min} + (1 - \\tfrac{i}{n-1})^\\rho (\\log\\sigma_{max} -
    \\log\\sigma_{min})$, then 0; `rho = 1` is `exponential_sigmas`.

    ```python
    from jaxsci.diffusion import polyexponential_sigmas
    sigmas = polyexponential_sigmas(10, 0.01, 10.0, rho=2.0)
    ```
    """
    n = _check(n, sigma_min, sigma_max)
    check_positive("rho", rho)
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
    n = _check_n(n)
    bd, bmin, eps = (concrete(v) for v in (beta_d, beta_min, eps_s))
    if bd is not None and bmin is not None and not (bd >= 0 and bmin >= 0 and bd + bmin > 0):
        raise ValueError(f"need beta_d >= 0 and beta_min >= 0, not both 0; got beta_d={bd}, beta_min={bmin}.")
    if eps is not None and not 0 < eps < 1:
        raise ValueError(f"eps_s must lie in (0, 1), got {eps}.")
    t = jnp.linspace(1.0, eps_s, n)
    return _append_zero(jnp.sqrt(jnp.expm1(beta_d * t**2 / 2 + beta_min * t)))


def linear_time_sigmas(n: int, process, t_min=1e-3, t_max=1.0) -> Float[Array, " n+1"]:
    """Levels $\\sigma(t_i)$ of a `jaxsci.diffusion.AbstractProcess` at times equally
    spaced from `t_max` to `t_min`, then 0 (the schedule of score_sde and DDPM-style
    samplers). `sigma(t_max)` must be finite: for `FlowMatching` pass `t_max < 1`.

    ```python
    from jaxsci.diffusion import VP, linear_time_sigmas
    sigmas = linear_time_sigmas(50, VP())
    ```
    """
    n = _check_n(n)
    if not isinstance(process, AbstractProcess):
        raise TypeError(
            f"process must be an AbstractProcess (e.g. jaxsci.diffusion.VP()), got {type(process).__name__} "
            f"{process!r}."
        )
    lo, hi = concrete(t_min), concrete(t_max)
    if lo is not None and hi is not None and not 0 < lo < hi:
        raise ValueError(f"need 0 < t_min < t_max, got t_min={lo}, t_max={hi}.")
    t = jnp.linspace(t_max, t_min, n)
    sigmas = process.sigma(t)
    top = concrete(sigmas[0])
    if top is not None and not math.isfinite(top):
        raise ValueError(
            f"the process's sigma(t_max) is {top} at t_max={hi}: pass a smaller t_max (FlowMatching: sigma = "
            "t / (1 - t) is infinite at t = 1)."
        )
    return _append_zero(sigmas)

