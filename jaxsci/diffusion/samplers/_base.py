"""The sampler interface and the small helpers every sampler shares."""

from __future__ import annotations

import abc
import math
from typing import Any, Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jax.extend.random import threefry2x32_p

from ..._types import Array, PRNGKey

Denoiser = Callable[[Array, Array], Array]
"""`denoiser(x, sigma) -> x0_hat` with `x` of shape `(batch, ...)` and a scalar `sigma`."""


class AbstractSampler(eqx.Module):
    """A one-step rule $x_{\\sigma} \\mapsto x_{\\sigma'}$ for the probability-flow ODE or SDE.

    A sampler is a Module whose fields are its hyperparameters. `sample` calls `init` once
    and then `step` inside one `lax.scan`; whatever a sampler must remember between steps
    (previous denoised estimates, previous step sizes, the step index) lives in the state
    that `init` returns, so it is carried by the scan.

    Subclasses define:

    - `stochastic`: a property, `True` when `step` draws noise (then `sample` needs a `key`).
    - `init(x, sigmas) -> state`: any pytree of arrays.
    - `step(state, denoiser, x, sigma, sigma_next, key) -> (x_next, state)`. `key` is a
      per-step key (`None` for deterministic samplers); draw noise with
      `jaxsci.diffusion.samplers.normal_like` so that each sample has its own stream.
    """

    @property
    @abc.abstractmethod
    def stochastic(self) -> bool:
        """Whether `step` draws noise (then `sample` needs a `key`)."""

    @abc.abstractmethod
    def init(self, x: Array, sigmas: Array) -> Any:
        """The state before the first step."""

    @abc.abstractmethod
    def step(
        self,
        state: Any,
        denoiser: Denoiser,
        x: Array,
        sigma: Array,
        sigma_next: Array,
        key: PRNGKey | None,
    ) -> tuple[Array, Any]:
        """One step from noise level `sigma` to `sigma_next`."""


def _threefry_words(kd: Array, rows: int, cols: int) -> tuple[Array, Array]:
    """Threefry-2x32 of the counters `(b, j)` for `b < rows`, `j < cols` under key `kd`."""
    c0 = jax.lax.broadcasted_iota(jnp.uint32, (rows, cols), 0)
    c1 = jax.lax.broadcasted_iota(jnp.uint32, (rows, cols), 1)
    return threefry2x32_p.bind(kd[0], kd[1], c0, c1)


def _normal_from_uniform_bits(bits: Array, nmant: int, one: int, dtype) -> Array:
    """Standard normals from random bits: a uniform on $(-1, 1)$ mapped through
    $\\sqrt2\\, \\mathrm{erf}^{-1}$ (the construction of `jax.random.normal`)."""
    width = bits.dtype.itemsize * 8
    mant = (bits >> (width - nmant)) | jnp.asarray(one, bits.dtype)
    u = jax.lax.bitcast_convert_type(mant, dtype) - jnp.asarray(1.0, dtype)  # [0, 1)
    lo = np.nextafter(np.asarray(-1.0, dtype), np.asarray(1.0, dtype))
    u = jnp.maximum(lo, u * (np.asarray(1.0, dtype) - lo) + lo)
    return jnp.asarray(np.sqrt(2.0), dtype) * jax.lax.erf_inv(u)


def normal_like(key: PRNGKey, x: Array) -> Array:
    """Standard normal noise shaped like `x`, drawn per sample.

    Element `j` of sample `b` (the leading axis of `x`, the other axes flattened) is a
    function of `(key, b, j)` only: one vectorised Threefry-2x32 call hashes the counters
    `(b, j)`, so a sample's noise does not depend on how many other samples share the
    batch, and a batch split over devices draws exactly the same numbers as on one device.
    Non-Threefry keys fall back to one key `fold_in(key, b)` per sample.

    **Arguments:**

    - `key`: a JAX random key (typed, or a raw `uint32[2]` Threefry key).
    - `x`: a floating array of shape `(batch, ...)`.

    **Returns:** an array shaped like `x`, with the dtype of `x`.

    ```python
    import jax, jax.numpy as jnp
    from jaxsci.diffusion.samplers import normal_like
    z = normal_like(jax.random.key(0), jnp.zeros((5, 3)))
    assert (normal_like(jax.random.key(0), jnp.zeros((2, 3))) == z[:2]).all()
    ```

    Reference: Salmon et al., *Parallel random numbers: as easy as 1, 2, 3*, SC 2011.
    """
    key = jnp.asarray(key) if not isinstance(key, jax.Array) else key
    typed = jnp.issubdtype(key.dtype, jax.dtypes.prng_key)
    kd = jax.random.key_data(key) if typed else key
    if kd.shape != (2,) or kd.dtype != jnp.uint32 or (typed and jax.random.key_impl(key) != "threefry2x32"):
        index = jnp.arange(x.shape[0], dtype=jnp.uint32)
        one = lambda i: jax.random.normal(jax.random.fold_in(key, i), x.shape[1:], x.dtype)  # noqa: E731
        return jax.vmap(one)(index)
    rows, n = x.shape[0], math.prod(x.shape[1:])
    if x.dtype == jnp.float64:
        y0, y1 = _threefry_words(kd, rows, n)
        bits = (y0.astype(jnp.uint64) << 32) | y1.astype(jnp.uint64)
        z = _normal_from_uniform_bits(bits, 52, 0x3FF0000000000000, jnp.float64)
    else:
        half = (n + 1) // 2
        y0, y1 = _threefry_words(kd, rows, half)
        bits = jnp.concatenate([y0, y1], axis=1)[:, :n]
        z = _normal_from_uniform_bits(bits, 23, 0x3F800000, jnp.float32)
    return z.reshape(x.shape).astype(x.dtype)


def unless_last(last: Array, denoiser: Denoiser, y: Array, sigma: Array) -> Array:
    """`denoiser(y, sigma)`, or zeros without evaluating it when `last` (a scalar) is true.

    For a second stage whose output the final step discards. `sample` marks its pure
    denoisers with a `skippable` attribute; those run under `jax.lax.cond`, so the final step
    costs one call as in k-diffusion. Others (stateful ones, or a plain function passed to
    `step` directly) are always evaluated and the result is used as is.
    """
    if getattr(denoiser, "skippable", False):
        return jax.lax.cond(last, jnp.zeros_like, lambda y: denoiser(y, sigma), y)
    return denoiser(y, sigma)


def to_d(x: Array, sigma: Array, denoised: Array) -> Array:
    """The probability-flow ODE derivative $dx/d\\sigma = (x - D(x, \\sigma))/\\sigma$."""
    return (x - denoised) / sigma


def ancestral_step(sigma: Array, sigma_next: Array, eta) -> tuple[Array, Array]:
    """Split a step into a deterministic part down to `sigma_down` and fresh noise `sigma_up`.

    $\\sigma_{up} = \\min(\\sigma', \\eta\\, \\sigma' \\sqrt{1 - \\sigma'^2/\\sigma^2})$ and
    $\\sigma_{down} = \\sqrt{\\sigma'^2 - \\sigma_{up}^2}$ (Song et al. 2021, DDIM in the
    variance-exploding form).
    """
    var = sigma_next**2 * (sigma**2 - sigma_next**2) / sigma**2
    up = jnp.minimum(sigma_next, eta * jnp.sqrt(jnp.maximum(var, 0.0)))
    down = jnp.sqrt(jnp.maximum(sigma_next**2 - up**2, 0.0))
    return down, up


def safe_next(sigma: Array, sigma_next: Array) -> tuple[Array, Array]:
    """`(is_last, sigma_next')`: whether `sigma_next == 0`, and a stand-in level when it is.

    Steps to $\\sigma' = 0$ are special (log-sigma solvers divide by $\\log \\sigma'$).
    Samplers compute the general branch at the finite stand-in $\\sigma/2$ and select the
    final-step formula with `jnp.where`, so no inf or NaN ever reaches a gradient.
    """
    last = sigma_next <= 0
    return last, jnp.where(last, 0.5 * sigma, sigma_next)


def check_eta(name: str, value) -> None:
    """Trace-time check of a non-negative hyperparameter when it is concrete."""
    try:
        v = float(value)
    except (TypeError, jax.errors.ConcretizationTypeError):
        return
    if v < 0:
        raise ValueError(f"{name} must be non-negative, got {v}.")
