"""A stability report for training loops: sharpness vs 2/lr, trace vs the SGD bound."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np
from jax.flatten_util import ravel_pytree

from .._checks import checked, filter_jit_ints, positive_int
from .._types import Array, Float, PRNGKey
from ._eigenvalues import eigenvalues
from ._trace import _check_op, trace
from ._tree import check_like


class StabilityReport(eqx.Module):
    """What `stability` measured (all scalars are arrays, so it can be logged under jit).

    **Fields:**

    - `sharpness`: $\\lambda_{\\max}$ of the curvature.
    - `threshold`: $2/\\eta$, the largest sharpness gradient descent is stable at.
    - `stable`: `sharpness < threshold`. Gradient descent on a quadratic with curvature $A$
      converges iff $\\eta < 2/\\lambda_{\\max}(A)$; training at `sharpness ~ threshold` is the
      *edge of stability* (Cohen et al., ICLR 2021).
    - `trace`, `trace_bound`: Hutchinson trace and $2B/\\eta$, the indicative bound on
      $\\operatorname{tr}(H)$ at a minimum that SGD with batch size $B$ can stay at
      (Wu, Wang & Su, NeurIPS 2022); `nan` when no batch size is given.
    - `eigenvalues`: the top-`k` eigenvalues.
    - `alignment`: $\\|P_k g\\|^2 / \\|g\\|^2$, the fraction of the gradient in the top-`k`
      eigenspace (Gur-Ari, Roberts & Dyer, 2018); `nan` when no gradient is given.

    ```python
    import jax, jax.numpy as jnp
    from jaxsci.curvature import Hessian, stability

    loss = lambda p, b: 0.5 * jnp.sum(b * p["w"] ** 2)      # eigenvalues 1, 2, 3, 4
    H = Hessian(loss, {"w": jnp.ones(4)}, jnp.arange(1.0, 5.0))
    r = stability(H, learning_rate=0.4, key=jax.random.key(0), k=2, num_matvecs=4)
    assert r.stable and jnp.allclose(r.sharpness, 4.0, rtol=1e-4)   # 4 < 2 / 0.4
    assert jnp.allclose(r.eigenvalues, jnp.array([4.0, 3.0]), rtol=1e-4)
    ```
    """

    sharpness: Float[Array, ""]
    threshold: Float[Array, ""]
    stable: jax.Array
    trace: Float[Array, ""]
    trace_bound: Float[Array, ""]
    eigenvalues: Float[Array, " k"]
    alignment: Float[Array, ""]


def stability(
    op: lx.AbstractLinearOperator,
    *,
    learning_rate,
    key: PRNGKey,
    grad=None,
    batch_size: int | None = None,
    k: int = 1,
    num_matvecs: int = 20,
    trace_matvecs: int = 10,
) -> StabilityReport:
    """Report the curvature-based stability of (stochastic) gradient descent at `op`.

    Call it every N steps of a training loop with the `Hessian` (or `GGN`) of the current
    loss. It costs `num_matvecs` Lanczos products and `trace_matvecs` quadratic forms.

    **Arguments:**

    - `op`: the curvature at the current parameters.
    - `learning_rate`: $\\eta > 0$ (a float or array; a new value does not recompile).
    - `key`: random key (Lanczos start, Hutchinson probes).
    - `grad`: the current gradient, for the alignment measurement (optional; a pytree
      shaped like the parameters).
    - `batch_size`: $B$ for the SGD trace bound (optional; a positive int).
    - `k`: size of the top eigenspace for the alignment.
    - `num_matvecs`, `trace_matvecs`: budgets of the eigenvalue and trace estimates.

    **Returns:**

    A `StabilityReport`.

    **Example:**

    ```python
    import jax, jax.numpy as jnp
    from jaxsci.curvature import Hessian, stability

    loss = lambda p, b: 0.5 * jnp.sum(b * p["w"] ** 2)
    H = Hessian(loss, {"w": jnp.ones(4)}, jnp.arange(1.0, 5.0))
    r = stability(H, learning_rate=0.6, key=jax.random.key(0), num_matvecs=4)
    r.stable  # False: lambda_max = 4 > 2 / 0.6
    ```
    """
    _check_op(op)
    learning_rate = _check_learning_rate(learning_rate)
    if batch_size is not None:  # 0, negative or fractional batches give a meaningless bound
        batch_size = positive_int(batch_size, "batch_size")
    if grad is not None:
        check_like(grad, op.in_structure(), "grad")
    return _stability(op, learning_rate, key, grad, batch_size, k, num_matvecs, trace_matvecs)


def _check_learning_rate(learning_rate):
    """A concrete $\\eta$ must be finite and > 0 (else `ValueError`); a traced one is checked with
    `equinox.error_if`. With $\\eta \\le 0$ the threshold $2/\\eta$ is inf or negative."""
    message = "`learning_rate` must be finite and > 0 (the threshold is 2 / learning_rate)"
    if not isinstance(learning_rate, jax.core.Tracer) and not np.issubdtype(np.asarray(learning_rate).dtype, np.number):
        raise ValueError(f"{message}, got {np.asarray(learning_rate)}.")
    # an array, so that the jitted part traces it: a new Python float would be a new static
    # argument of `filter_jit`, and with a learning-rate schedule every call would recompile
    learning_rate = jnp.asarray(learning_rate)
    return checked(learning_rate, ~jnp.all(jnp.isfinite(learning_rate) & (learning_rate > 0)), message)


@filter_jit_ints
def _stability(op, learning_rate, key, grad, batch_size, k, num_matvecs, trace_matvecs):
    key_e, key_t = jax.random.split(key)
    vals, vecs = eigenvalues(op, k, num_matvecs=num_matvecs, which="largest", key=key_e)
    est, _ = trace(op, key=key_t, num_matvecs=trace_matvecs)
    lr = jnp.asarray(learning_rate, vals.dtype)
    threshold = 2.0 / lr
    bound = jnp.nan if batch_size is None else 2.0 * batch_size / lr
    if grad is None:
        alignment = jnp.asarray(jnp.nan, vals.dtype)
    else:
        g = ravel_pytree(grad)[0]
        basis = jax.vmap(lambda t: ravel_pytree(t)[0])(vecs)
        alignment = jnp.sum((basis @ g) ** 2) / jnp.maximum(g @ g, jnp.finfo(g.dtype).tiny)
    return StabilityReport(
        sharpness=vals[0],
        threshold=threshold,
        stable=vals[0] < threshold,
        trace=est,
        trace_bound=jnp.asarray(bound, vals.dtype),
        eigenvalues=vals,
        alignment=alignment,
    )
