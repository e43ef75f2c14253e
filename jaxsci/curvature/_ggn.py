"""The generalised Gauss-Newton matrix $J^\\top H_\\ell J$ as a matrix-free lineax operator."""

from __future__ import annotations

from typing import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx

from .._types import Params, PyTree
from ._base import AbstractCurvatureOperator, check_vector
from ._tree import split_batches, weighted_sum


def _unpack(batch):
    if not isinstance(batch, (tuple, list)) or len(batch) != 2:
        raise ValueError(
            "`batch` must be a pair `(inputs, targets)` (or a list of such pairs); got "
            f"{type(batch).__name__}."
        )
    return batch


def linearise_model(model_fn, params, inputs):
    """Outputs, $v \\mapsto Jv$ and $u \\mapsto J^\\top u$ from one forward linearisation."""
    dynamic, static = eqx.partition(params, eqx.is_inexact_array)
    model = lambda d: model_fn(eqx.combine(d, static), inputs)
    outputs, jvp_fn = jax.linearize(model, dynamic)
    transpose = jax.linear_transpose(jvp_fn, dynamic)
    return outputs, jvp_fn, lambda u: transpose(u)[0]


def model_jvp(model_fn, params, inputs, v):
    """Outputs and $Jv$ by one forward-mode pass."""
    dynamic, static = eqx.partition(params, eqx.is_inexact_array)
    model = lambda d: model_fn(eqx.combine(d, static), inputs)
    return jax.jvp(model, (dynamic,), (v,))


class GGN(AbstractCurvatureOperator):
    """The generalised Gauss-Newton matrix $G = J^\\top H_\\ell J$.

    $J = \\partial f / \\partial\\theta$ is the Jacobian of the model outputs and
    $H_\\ell = \\nabla^2_f \\ell(f, y)$ the Hessian of the loss in the outputs. $G$ is the
    Hessian with the second-order terms of the model dropped: positive semidefinite for
    convex losses, and equal to the Hessian for a model linear in its parameters.
    Products take one linearisation of the model ($Jv$ and $J^\\top u$) and a
    forward-over-reverse product with $H_\\ell$ in output space.

    **Arguments:**

    - `model_fn`: `model_fn(params, inputs) -> outputs`.
    - `loss_on_outputs`: `loss_on_outputs(outputs, targets) -> scalar` (e.g. mean
      cross-entropy).
    - `params`: any pytree of parameters.
    - `batch`: `(inputs, targets)`, or a Python `list` of such pairs (averaged, weighted by
      size).

    **Example:**

    ```python
    import jax.numpy as jnp
    from jaxsci.curvature import GGN

    model = lambda p, x: x @ p["w"]
    mse = lambda f, y: 0.5 * jnp.mean(jnp.sum((f - y) ** 2, -1))
    x, y = jnp.eye(3), jnp.zeros((3, 1))
    G = GGN(model, mse, {"w": jnp.ones((3, 1))}, (x, y))
    G.mv({"w": jnp.ones((3, 1))})  # x^T x v / 3 = v / 3
    ```

    Reference: Schraudolph, "Fast curvature matrix-vector products for second-order
    gradient descent", Neural Computation 2002.
    """

    model_fn: Callable = eqx.field(static=True)
    loss_on_outputs: Callable = eqx.field(static=True)
    params: Params
    batch: PyTree

    def __init__(self, model_fn, loss_on_outputs, params, batch):
        self.model_fn, self.loss_on_outputs = model_fn, loss_on_outputs
        self.params, self.batch = params, batch

    def mv(self, vector):
        vector = check_vector(self, vector)

        def one(b):
            x, y = _unpack(b)
            out, jvp_fn, vjp_fn = linearise_model(self.model_fn, self.params, x)
            grad_out = jax.grad(lambda o: self.loss_on_outputs(o, y))
            return vjp_fn(jax.jvp(grad_out, (out,), (jvp_fn(vector),))[1])

        return weighted_sum(one, *split_batches(self.batch))

    def linearise(self):
        batches, weights = split_batches(self.batch)
        parts = []
        for b in batches:
            x, y = _unpack(b)
            out, jvp_fn, vjp_fn = linearise_model(self.model_fn, self.params, x)
            h_out = jax.linearize(jax.grad(lambda o, y=y: self.loss_on_outputs(o, y)), out)[1]
            parts.append((jvp_fn, h_out, vjp_fn))

        def mv(vector):
            vector = check_vector(self, vector)
            return weighted_sum(lambda p: p[2](p[1](p[0](vector))), parts, weights)

        return mv

    def quadratic_form(self, v):
        """$(Jv)^\\top H_\\ell (Jv)$: one forward pass and a second derivative in output space."""
        v = check_vector(self, v)

        def one(b):
            x, y = _unpack(b)
            out, jv = model_jvp(self.model_fn, self.params, x, v)
            loss = lambda o: self.loss_on_outputs(o, y)
            first = lambda o: jax.jvp(loss, (o,), (jv,))[1]
            return jax.jvp(first, (out,), (jv,))[1]

        return weighted_sum(one, *split_batches(self.batch))


@lx.is_positive_semidefinite.register(GGN)
def _(op):
    return True


def per_example_dot(a, b):
    """Inner products of two arrays over every axis but the leading (batch) one."""
    return jnp.sum(a * b, axis=tuple(range(1, jnp.ndim(a))))
