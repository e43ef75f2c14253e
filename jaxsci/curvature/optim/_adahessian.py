"""AdaHessian: Adam with the Hutchinson Hessian diagonal in place of squared gradients."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from ..._types import PRNGKey
from ._hutchinson import (
    bias_correction,
    check_interval,
    check_key,
    float_part,
    hutchinson_diagonal,
    in_dtype,
    only_floats,
    require_hvp,
    static_count,
    with_zero_rest,
)


class AdaHessianState(NamedTuple):
    count: jax.Array
    key: jax.Array
    mu: optax.Updates
    nu: optax.Updates


LAYOUTS = ("hwio", "oihw", None)


def _spatial_average(d, layout):
    """Average $|D|$ over the spatial axes of convolution kernels (arrays with ndim >= 3).

    `"hwio"` (flax): spatial axes first, then in/out channels; `"oihw"` (equinox,
    PyTorch): out/in channels first, then the spatial axes.
    """
    ndim = jnp.ndim(d)
    if ndim < 3 or layout is None:
        return jnp.abs(d)
    axes = tuple(range(ndim - 2)) if layout == "hwio" else tuple(range(2, ndim))
    return jnp.broadcast_to(jnp.mean(jnp.abs(d), axis=axes, keepdims=True), jnp.shape(d))


def adahessian(
    learning_rate=0.15,
    b1: float = 0.9,
    b2: float = 0.999,
    eps: float = 1e-4,
    hessian_power: float = 1.0,
    weight_decay: float = 0.0,
    conv_layout: str | None = "hwio",
    num_probes: int | None = None,
    *,
    key: PRNGKey,
) -> optax.GradientTransformationExtraArgs:
    """AdaHessian as an `optax.GradientTransformationExtraArgs`.

    With $D_t = |z \\odot H z|$ (Hutchinson, Rademacher $z$; averaged over the spatial
    axes of conv kernels),
    $m_t = \\beta_1 m + (1-\\beta_1) g$, $v_t = \\beta_2 v + (1-\\beta_2) D_t^2$ and
    $\\Delta\\theta = -\\eta \\big(\\hat m_t / (\\hat v_t^{k/2} + \\epsilon) + w \\theta\\big)$
    with bias-corrected $\\hat m_t, \\hat v_t$ and Hessian power $k$.

    `update(grads, state, params, *, hvp_fn)` needs the Hessian-vector product of the
    loss at the current parameters as the keyword extra argument `hvp_fn(v) -> H v`, e.g.
    `lambda v: jaxsci.curvature.Hessian(loss_fn, params, batch).mv(v)` (one HVP per probe
    per step, about the cost of two gradients).

    The variables are the floating-point array leaves of `params`, as for `Hessian`: probes,
    moments and `hvp_fn` see only those (None elsewhere), and other numeric leaves (integer
    counters, RNG state) get zero updates. The updates have the dtype of the parameters, also
    for array hyperparameters in a wider dtype.

    **Arguments:**

    - `learning_rate`: $\\eta$ (float or optax schedule).
    - `b1`, `b2`: EMA rates of the gradient and the squared Hessian diagonal, in $[0, 1)$.
    - `eps`: $\\epsilon$. `hessian_power`: $k \\in (0, 1]$. `weight_decay`: decoupled $w$.
    - `conv_layout`: how to find the spatial axes of conv kernels (arrays with 3 or more
      dimensions), over which $|D|$ is averaged: `"hwio"` (flax: spatial axes first),
      `"oihw"` (equinox / PyTorch: spatial axes last) or `None` (no averaging).
    - `num_probes`: Hutchinson probes per step, a positive int (`None`: one). It sets a
      shape, so it must be static: under `optax.inject_hyperparams` leave it at `None` or
      pass `static_args=("num_probes",)`. `key`: random key for the probes.

    Out-of-range `b1`, `b2` or `hessian_power` raise a `ValueError` here (or, traced by
    `optax.inject_hyperparams`, an `equinox.error_if` error at `update`).

    **Example:**

    ```python
    import jax, jax.numpy as jnp
    from jaxsci.curvature import Hessian
    from jaxsci.curvature.optim import adahessian

    loss = lambda p, b: 0.5 * jnp.sum(b * p ** 2)
    p, b = jnp.ones(3), jnp.array([1.0, 10.0, 100.0])
    opt = adahessian(0.5, key=jax.random.key(0))
    state = opt.init(p)
    g = jax.grad(loss)(p, b)
    u, state = opt.update(g, state, p, hvp_fn=Hessian(loss, p, b).mv)
    ```

    Reference: Yao et al., "AdaHessian: an adaptive second order optimizer for machine
    learning", AAAI 2021.
    """
    if conv_layout not in LAYOUTS:
        raise ValueError(f"`conv_layout` must be one of {LAYOUTS}, got {conv_layout!r}.")
    # zero probes average nothing (NaN), fewer fail in the sampler; a float or bool is no count
    num_probes = static_count(num_probes, "num_probes", default=1)
    key = check_key(key, "adahessian")
    # b = 1 makes the bias correction 1 - b^t zero (0/0 updates); k outside (0, 1] is no power
    b1 = check_interval(b1, "b1", "[0, 1)", lambda b: (b >= 0) & (b < 1))
    b2 = check_interval(b2, "b2", "[0, 1)", lambda b: (b >= 0) & (b < 1))
    hessian_power = check_interval(hessian_power, "hessian_power", "(0, 1]", lambda k: (k > 0) & (k <= 1))
    schedule = learning_rate if callable(learning_rate) else (lambda _: learning_rate)

    def init_fn(params):
        zeros = jax.tree.map(jnp.zeros_like, float_part(params, "adahessian"))
        return AdaHessianState(jnp.zeros((), jnp.int32), key, zeros, zeros)

    def update_fn(updates, state, params=None, *, hvp_fn=None, **extra):
        require_hvp(hvp_fn, "adahessian")
        if params is None:
            raise ValueError("adahessian.update needs `params`.")
        floats, grads = float_part(params, "adahessian"), only_floats(updates, params)
        key, sub = jax.random.split(state.key)
        diag = hutchinson_diagonal(hvp_fn, floats, sub, num_probes)
        diag = jax.tree.map(lambda d: _spatial_average(d, conv_layout), diag)
        count = state.count + 1
        mu = jax.tree.map(lambda m, g: in_dtype(b1, m) * m + in_dtype(1 - b1, m) * g, state.mu, grads)
        nu = jax.tree.map(lambda v, d: in_dtype(b2, v) * v + in_dtype(1 - b2, v) * d**2, state.nu, diag)
        lr = schedule(state.count)

        def step(m, v, p):
            power = in_dtype(hessian_power, v) / 2
            denom = (v / bias_correction(b2, count, v)) ** power + in_dtype(eps, v)
            return -in_dtype(lr, m) * ((m / bias_correction(b1, count, m)) / denom + in_dtype(weight_decay, p) * p)

        new = jax.tree.map(step, mu, nu, floats)
        return with_zero_rest(new, params), AdaHessianState(count, key, mu, nu)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
