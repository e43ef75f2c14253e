"""The Hessian of a loss over a parameter pytree, as a matrix-free lineax operator."""

from __future__ import annotations

from typing import Callable

import equinox as eqx
import jax

from .._types import Params, PyTree
from ._base import AbstractCurvatureOperator, check_vector
from ._tree import split_batches, weighted_sum


class Hessian(AbstractCurvatureOperator):
    """The Hessian $H = \\nabla^2_\\theta L(\\theta)$ of `loss_fn(params, batch)`.

    Products $Hv$ are forward-over-reverse (`jax.jvp` of `jax.grad`): about the cost of
    two gradients, never the dense $d \\times d$ matrix. Quadratic forms $v^\\top H v$
    are forward-over-forward (a second directional derivative), cheaper still.

    **Arguments:**

    - `loss_fn`: `loss_fn(params, batch) -> scalar`.
    - `params`: any pytree (dict, `equinox.Module`, `flax.nnx.State`); its floating-point
      array leaves are the variables.
    - `batch`: the data passed to `loss_fn`. A Python `list` is read as a sequence of
      batches whose curvatures are averaged, weighted by each batch's leading-axis size
      (as curvlinops does over a data loader).

    **Example:**

    ```python
    import jax.numpy as jnp
    from jaxsci.curvature import Hessian

    loss = lambda p, b: jnp.sum(b * p["w"] ** 4)
    H = Hessian(loss, {"w": jnp.ones(3)}, jnp.arange(3.0))
    H.mv({"w": jnp.ones(3)})  # {"w": 12 * [0, 1, 2]}
    ```
    """

    loss_fn: Callable = eqx.field(static=True)
    params: Params
    batch: PyTree

    def __init__(self, loss_fn, params, batch):
        self.loss_fn, self.params, self.batch = loss_fn, params, batch

    def _loss(self):
        dynamic, static = eqx.partition(self.params, eqx.is_inexact_array)
        return dynamic, lambda d, b: self.loss_fn(eqx.combine(d, static), b)

    def mv(self, vector):
        vector = check_vector(self, vector)
        dynamic, loss = self._loss()

        def one(b):
            return jax.jvp(lambda d: jax.grad(loss)(d, b), (dynamic,), (vector,))[1]

        return weighted_sum(one, *split_batches(self.batch))

    def linearise(self):
        dynamic, loss = self._loss()
        batches, weights = split_batches(self.batch)
        fns = [jax.linearize(lambda d, b=b: jax.grad(loss)(d, b), dynamic)[1] for b in batches]

        def mv(vector):
            vector = check_vector(self, vector)
            return weighted_sum(lambda f: f(vector), fns, weights)

        return mv

    def quadratic_form(self, v):
        """$v^\\top H v$ as the second derivative of $t \\mapsto L(\\theta + t v)$ (forward mode)."""
        v = check_vector(self, v)
        dynamic, loss = self._loss()

        def one(b):
            first = lambda d: jax.jvp(lambda e: loss(e, b), (d,), (v,))[1]
            return jax.jvp(first, (dynamic,), (v,))[1]

        return weighted_sum(one, *split_batches(self.batch))
