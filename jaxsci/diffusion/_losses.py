"""Training losses: the EDM denoising loss and the flow-matching loss."""

from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from .._types import Array, Float, PRNGKey
from .samplers._base import check_eta, check_positive


def _per_sample(fn, x, level):
    """Call a batch model on one sample at a time with its own level (vmapped)."""
    return jax.vmap(lambda xi, li: fn(xi[None], li)[0])(x, level)


def _check_batch(x0):
    x0 = jnp.asarray(x0)
    if x0.ndim < 1:
        raise ValueError(f"x0 must have a leading batch axis, got shape {x0.shape}.")
    return x0


def edm_loss(
    denoiser: Callable,
    x0: Float[Array, "batch *shape"],
    key: PRNGKey,
    *,
    sigma_data: float = 0.5,
    p_mean: float = -1.2,
    p_std: float = 1.2,
) -> Float[Array, ""]:
    """The EDM denoising loss $E_{\\sigma, n}\\, \\lambda(\\sigma)\\, \\|D(x_0 + \\sigma n, \\sigma)
    - x_0\\|^2$ averaged over the batch and the data dimensions.

    $\\log\\sigma \\sim \\mathcal N(P_{mean}, P_{std}^2)$ per sample and $\\lambda(\\sigma) =
    (\\sigma^2 + \\sigma_d^2)/(\\sigma\\sigma_d)^2$, which makes the loss of the exact denoiser
    of $\\mathcal N(0, \\sigma_d^2 I)$ equal to 1 at every $\\sigma$.

    **Arguments:**

    - `denoiser`: `(x, sigma) -> x0_hat` (e.g. an `EDMPreconditioner` around a network);
      called per sample with that sample's $\\sigma$.
    - `x0`: a batch of clean data; `key`: for $\\sigma$ and the noise.

    **Returns:** a scalar.

    ```python
    import jax, jax.numpy as jnp
    from jaxsci import diffusion as jd
    g = jd.targets.Gaussian(jnp.zeros(2), 0.25 * jnp.eye(2))
    loss = jd.edm_loss(g.denoiser, g.sample(jax.random.key(0), 256), jax.random.key(1))
    ```

    Reference: Karras et al., NeurIPS 2022, Sec. 5 and Table 1.
    """
    x0 = _check_batch(x0)
    check_positive("edm_loss: sigma_data", sigma_data)
    check_eta("edm_loss: p_std", p_std)
    k1, k2 = jax.random.split(key)
    sigma = jnp.exp(p_mean + p_std * jax.random.normal(k1, (x0.shape[0],), x0.dtype))
    noise = jax.random.normal(k2, x0.shape, x0.dtype)
    shape = (-1,) + (1,) * (x0.ndim - 1)
    pred = _per_sample(denoiser, x0 + sigma.reshape(shape) * noise, sigma)
    weight = (sigma**2 + sigma_data**2) / (sigma * sigma_data) ** 2
    return jnp.mean(weight.reshape(shape) * (pred - x0) ** 2)


def flow_matching_loss(
    velocity: Callable,
    x0: Float[Array, "batch *shape"],
    key: PRNGKey,
) -> Float[Array, ""]:
    """The conditional flow-matching loss $E_{t, n} \\|u(x_t, t) - (n - x_0)\\|^2$ with
    $x_t = (1-t)x_0 + t n$, $t \\sim U(0, 1)$, averaged over batch and dimensions.

    Sample a trained `velocity(x_t, t)` with `VelocityDenoiser(velocity, FlowMatching())`.

    ```python
    import jax, jax.numpy as jnp
    from jaxsci import diffusion as jd
    loss = jd.flow_matching_loss(lambda x, t: -x, jnp.ones((8, 2)), jax.random.key(0))
    ```

    Reference: Lipman et al., ICLR 2023; Liu et al., ICLR 2023.
    """
    x0 = _check_batch(x0)
    k1, k2 = jax.random.split(key)
    t = jax.random.uniform(k1, (x0.shape[0],), x0.dtype)
    noise = jax.random.normal(k2, x0.shape, x0.dtype)
    shape = (-1,) + (1,) * (x0.ndim - 1)
    x_t = (1.0 - t.reshape(shape)) * x0 + t.reshape(shape) * noise
    pred = _per_sample(velocity, x_t, t)
    return jnp.mean((pred - (noise - x0)) ** 2)
