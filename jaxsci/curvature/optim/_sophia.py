"""Sophia-H: clipped preconditioned momentum with a Hutchinson Hessian diagonal every k steps."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from ..._types import PRNGKey
from ._hutchinson import (
    check_key,
    dynamic_count,
    float_part,
    hutchinson_diagonal,
    in_dtype,
    only_floats,
    require_hvp,
    static_count,
    with_zero_rest,
)


class SophiaState(NamedTuple):
    count: jax.Array
    key: jax.Array
    mu: optax.Updates
    hess: optax.Updates


def sophia_h(
    learning_rate=1e-3,
    b1: float = 0.965,
    b2: float = 0.99,
    gamma: float = 0.01,
    eps: float = 1e-12,
    weight_decay: float = 0.0,
    update_every: int = 10,
    num_probes: int | None = None,
    *,
    key: PRNGKey,
) -> optax.GradientTransformationExtraArgs:
    """Sophia-H as an `optax.GradientTransformationExtraArgs`.

    $m_t = \\beta_1 m + (1-\\beta_1) g$; every `update_every` steps (starting at the first)
    $h \\leftarrow \\beta_2 h + (1-\\beta_2)\\, z \\odot H z$ (Hutchinson); then
    $\\Delta\\theta = -\\eta\\big(\\operatorname{clip}(m_t / \\max(\\gamma h, \\epsilon), -1, 1)
    + w \\theta\\big)$. The clipping bounds every coordinate's step by $\\eta$, which guards
    against negative or tiny curvature estimates.

    `update(grads, state, params, *, hvp_fn)` takes the loss's Hessian-vector product at
    the current parameters as the keyword extra argument `hvp_fn(v) -> H v`; it is only
    called (under `jax.lax.cond`) on the steps that refresh the diagonal.

    The variables are the floating-point array leaves of `params`, as for `Hessian`: probes,
    moments and `hvp_fn` see only those (None elsewhere), and other numeric leaves (integer
    counters, RNG state) get zero updates. The updates have the dtype of the parameters, also
    for array hyperparameters in a wider dtype.

    **Arguments:**

    - `learning_rate`: $\\eta$ (float or optax schedule).
    - `b1`, `b2`: EMA rates of the gradient and the Hessian diagonal.
    - `gamma`: $\\gamma$, scales the curvature. `eps`: $\\epsilon$. `weight_decay`: $w$.
    - `update_every`: $k$, steps between Hessian-diagonal refreshes (a positive int; it may be
      an `optax.inject_hyperparams` hyperparameter).
    - `num_probes`: Hutchinson probes per refresh, a positive int (`None`: one). It sets a
      shape, so it must be static: under `optax.inject_hyperparams` leave it at `None` or
      pass `static_args=("num_probes",)`. `key`: random key for the probes.

    **Example:**

    ```python
    import jax, jax.numpy as jnp
    from jaxsci.curvature import Hessian
    from jaxsci.curvature.optim import sophia_h

    loss = lambda p, b: 0.5 * jnp.sum(b * p ** 2)
    p, b = jnp.ones(3), jnp.array([1.0, 10.0, 100.0])
    opt = sophia_h(0.1, gamma=1.0, key=jax.random.key(0))
    state = opt.init(p)
    u, state = opt.update(jax.grad(loss)(p, b), state, p, hvp_fn=Hessian(loss, p, b).mv)
    ```

    Reference: Liu et al., "Sophia: a scalable stochastic second-order optimizer for
    language model pre-training", ICLR 2024.
    """
    # `update_every` may arrive traced from optax.inject_hyperparams: `count % k` works on arrays
    update_every = dynamic_count(update_every, "update_every")
    # zero probes average nothing (NaN), fewer fail in the sampler; a float or bool is no count
    num_probes = static_count(num_probes, "num_probes", default=1)
    key = check_key(key, "sophia_h")
    schedule = learning_rate if callable(learning_rate) else (lambda _: learning_rate)

    def init_fn(params):
        zeros = jax.tree.map(jnp.zeros_like, float_part(params, "sophia_h"))
        return SophiaState(jnp.zeros((), jnp.int32), key, zeros, zeros)

    def update_fn(updates, state, params=None, *, hvp_fn=None, **extra):
        require_hvp(hvp_fn, "sophia_h")
        if params is None:
            raise ValueError("sophia_h.update needs `params`.")
        floats, grads = float_part(params, "sophia_h"), only_floats(updates, params)
        key, sub = jax.random.split(state.key)

        def refresh(h):
            diag = hutchinson_diagonal(hvp_fn, floats, sub, num_probes)
            return jax.tree.map(lambda a, d: in_dtype(b2, a) * a + in_dtype(1 - b2, a) * d, h, diag)

        hess = jax.lax.cond(state.count % update_every == 0, refresh, lambda h: h, state.hess)
        mu = jax.tree.map(lambda m, g: in_dtype(b1, m) * m + in_dtype(1 - b1, m) * g, state.mu, grads)
        lr = schedule(state.count)

        def step(m, h, p):
            ratio = jnp.clip(m / jnp.maximum(in_dtype(gamma, h) * h, in_dtype(eps, h)), -1.0, 1.0)
            return -in_dtype(lr, m) * (ratio + in_dtype(weight_decay, p) * p)

        new = jax.tree.map(step, mu, hess, floats)
        return with_zero_rest(new, params), SophiaState(state.count + 1, key, mu, hess)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)
