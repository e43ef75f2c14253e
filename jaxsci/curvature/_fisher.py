"""The Fisher information and the empirical Fisher as matrix-free lineax operators."""

from __future__ import annotations

from typing import Callable, Optional

import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx

from .._checks import positive_int
from .._types import Params, PRNGKey, PyTree
from ._base import AbstractCurvatureOperator, check_vector
from ._ggn import _unpack, linearise_model, model_jvp, per_example_dot
from ._likelihoods import AbstractExactLikelihood, AbstractLikelihood
from ._tree import split_batches, weighted_sum


def _size(outputs) -> int:
    return jnp.shape(outputs)[0]


def _scores(likelihood, outputs, targets):
    """Per-example gradients of the negative log-likelihood in the outputs."""
    return jax.grad(lambda o: jnp.sum(likelihood.nll(o, targets)))(outputs)


def _outer_mv(scores, u):
    """$\\sum_s g_s (g_s \\cdot u)$ per example, averaged over the leading sample axis of `scores`."""
    dots = jax.vmap(per_example_dot, in_axes=(0, None))(scores, u)
    return jnp.mean(scores * dots.reshape(dots.shape + (1,) * (scores.ndim - 2)), axis=0)


class Fisher(AbstractCurvatureOperator):
    """The Fisher information $F = \\frac1N \\sum_n J_n^\\top E_{y \\sim p(y|f_n)}[\\nabla_f \\ell\\, \\nabla_f \\ell^\\top] J_n$.

    $\\ell = -\\log p(y \\mid f)$ and $J_n$ the Jacobian of the outputs of example $n$.
    For `Categorical` and `Gaussian` likelihoods the expectation is exact (with
    `num_samples=None`); otherwise (or when `num_samples` is given) it is a Monte-Carlo
    average over `num_samples` targets drawn from the model with `key`, fixed for the life
    of the operator so that it is one linear map.

    **Arguments:**

    - `model_fn`: `model_fn(params, inputs) -> outputs` with a leading batch axis.
    - `likelihood`: an `AbstractLikelihood` (`Categorical()`, `Gaussian(sigma)`, ...).
    - `params`: any pytree of parameters.
    - `batch`: `(inputs, targets)` or a list of them (targets are unused by the Fisher).
    - `key`: random key for Monte-Carlo targets (required then).
    - `num_samples`: number of Monte-Carlo targets per example (a positive int); `None`
      for exact.

    **Example:**

    ```python
    import jax, jax.numpy as jnp
    from jaxsci.curvature import Categorical, Fisher

    model = lambda p, x: x @ p["w"]
    x = jax.random.normal(jax.random.key(0), (8, 4))
    F = Fisher(model, Categorical(), {"w": jnp.zeros((4, 3))}, (x, jnp.zeros(8, int)))
    F.mv({"w": jnp.ones((4, 3))})  # zero: constant logit shifts do not change p
    ```

    Reference: Martens, "New insights and perspectives on the natural gradient method",
    JMLR 2020.
    """

    model_fn: Callable = eqx.field(static=True)
    likelihood: AbstractLikelihood
    params: Params
    batch: PyTree
    key: Optional[PRNGKey]
    num_samples: Optional[int] = eqx.field(static=True)

    def __init__(self, model_fn, likelihood, params, batch, *, key=None, num_samples=None):
        if not isinstance(likelihood, AbstractLikelihood):
            raise TypeError("`likelihood` must be an AbstractLikelihood, e.g. Categorical().")
        exact = isinstance(likelihood, AbstractExactLikelihood)
        if num_samples is None and not exact:
            raise ValueError(
                f"`num_samples` is required: {type(likelihood).__name__} has no exact Fisher."
            )
        if num_samples is not None:
            num_samples = positive_int(num_samples, "num_samples")
            if key is None:
                raise ValueError(f"Monte-Carlo Fisher (`num_samples={num_samples}`) needs a `key`.")
        self.model_fn, self.likelihood, self.params, self.batch = model_fn, likelihood, params, batch
        self.key, self.num_samples = key, num_samples

    def _output_mv(self, index, outputs, u):
        if self.num_samples is None:
            return self.likelihood.output_fisher_mv(outputs, u)
        keys = jax.random.split(jax.random.fold_in(self.key, index), self.num_samples)
        targets = jax.vmap(lambda k: self.likelihood.sample(k, outputs))(keys)
        scores = jax.vmap(lambda t: _scores(self.likelihood, outputs, t))(targets)
        return _outer_mv(scores, u)

    def _per_batch(self, fn):
        batches, weights = split_batches(self.batch)
        indexed = [(i, b) for i, b in enumerate(batches)]
        return weighted_sum(lambda ib: fn(ib[0], *_unpack(ib[1])), indexed, weights)

    def mv(self, vector):
        vector = check_vector(self, vector)

        def one(i, x, y):
            out, jvp_fn, vjp_fn = linearise_model(self.model_fn, self.params, x)
            return vjp_fn(self._output_mv(i, out, jvp_fn(vector)) / _size(out))

        return self._per_batch(one)

    def linearise(self):
        batches, weights = split_batches(self.batch)
        parts = []
        for i, b in enumerate(batches):
            x, _ = _unpack(b)
            out, jvp_fn, vjp_fn = linearise_model(self.model_fn, self.params, x)
            parts.append((i, out, jvp_fn, vjp_fn))

        def mv(vector):
            vector = check_vector(self, vector)
            one = lambda p: p[3](self._output_mv(p[0], p[1], p[2](vector)) / _size(p[1]))
            return weighted_sum(one, parts, weights)

        return mv

    def quadratic_form(self, v):
        v = check_vector(self, v)

        def one(i, x, y):
            out, jv = model_jvp(self.model_fn, self.params, x, v)
            return jnp.vdot(jv, self._output_mv(i, out, jv)) / _size(out)

        return self._per_batch(one)


class EmpiricalFisher(AbstractCurvatureOperator):
    """The empirical Fisher $\\frac1N \\sum_n g_n g_n^\\top$ with $g_n = \\nabla_\\theta \\ell(f_n, y_n)$.

    Per-example gradients at the observed targets; products cost one linearisation of the
    model, never the $N$ gradients. It is not a curvature in general (Kunstner et al.,
    "Limitations of the empirical Fisher approximation", NeurIPS 2019), but it is what
    M-FAC and many optimisers use.

    **Arguments:**

    - `model_fn`: `model_fn(params, inputs) -> outputs` with a leading batch axis.
    - `likelihood`: an `AbstractLikelihood` giving the per-example loss `nll`.
    - `params`: any pytree of parameters.
    - `batch`: `(inputs, targets)` or a list of them.

    **Example:**

    ```python
    import jax.numpy as jnp
    from jaxsci.curvature import EmpiricalFisher, Gaussian

    model = lambda p, x: x @ p["w"]
    x, y = jnp.eye(2), jnp.ones((2, 1))
    E = EmpiricalFisher(model, Gaussian(), {"w": jnp.zeros((2, 1))}, (x, y))
    E.mv({"w": jnp.ones((2, 1))})  # g_n = -x_n y_n, so E v = v / 2
    ```
    """

    model_fn: Callable = eqx.field(static=True)
    likelihood: AbstractLikelihood
    params: Params
    batch: PyTree

    def __init__(self, model_fn, likelihood, params, batch):
        if not isinstance(likelihood, AbstractLikelihood):
            raise TypeError("`likelihood` must be an AbstractLikelihood, e.g. Categorical().")
        self.model_fn, self.likelihood, self.params, self.batch = model_fn, likelihood, params, batch

    def mv(self, vector):
        vector = check_vector(self, vector)

        def one(x, y):
            out, jvp_fn, vjp_fn = linearise_model(self.model_fn, self.params, x)
            scores = _scores(self.likelihood, out, y)[None]
            return vjp_fn(_outer_mv(scores, jvp_fn(vector)) / _size(out))

        return weighted_sum(lambda b: one(*_unpack(b)), *split_batches(self.batch))

    def linearise(self):
        batches, weights = split_batches(self.batch)
        parts = []
        for b in batches:
            x, y = _unpack(b)
            out, jvp_fn, vjp_fn = linearise_model(self.model_fn, self.params, x)
            parts.append((_scores(self.likelihood, out, y)[None], jvp_fn, vjp_fn, _size(out)))

        def mv(vector):
            vector = check_vector(self, vector)
            one = lambda p: p[2](_outer_mv(p[0], p[1](vector)) / p[3])
            return weighted_sum(one, parts, weights)

        return mv

    def quadratic_form(self, v):
        v = check_vector(self, v)

        def one(x, y):
            out, jv = model_jvp(self.model_fn, self.params, x, v)
            scores = _scores(self.likelihood, out, y)
            return jnp.sum(per_example_dot(scores, jv) ** 2) / _size(out)

        return weighted_sum(lambda b: one(*_unpack(b)), *split_batches(self.batch))


@lx.is_positive_semidefinite.register(Fisher)
@lx.is_positive_semidefinite.register(EmpiricalFisher)
def _(op):
    return True
