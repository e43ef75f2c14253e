"""`fit`: type-II maximum likelihood for a `GridGP` with an optax optimiser."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jaxtyping import Array, ArrayLike, Bool, Float

from .._checks import checked_int
from .._types import PRNGKey
from . import _schur


def _step_into(obj, key):
    if isinstance(key, jax.tree_util.GetAttrKey):
        return getattr(obj, key.name)
    if isinstance(key, jax.tree_util.SequenceKey):
        return obj[key.idx]
    return obj[key.key]


def _positive_leaves(params):
    """True for every leaf stored in log space: all but the fields a kernel lists as unconstrained."""

    def positive(path, _):
        owner = params
        for key in path[:-1]:
            owner = _step_into(owner, key)
        last = path[-1]
        free = getattr(owner, "unconstrained_fields", ())
        return not (isinstance(last, jax.tree_util.GetAttrKey) and last.name in free)

    return jax.tree_util.tree_map_with_path(positive, params)


def fit(
    model,
    y: Float[ArrayLike, "*grid"],
    optimizer: optax.GradientTransformation,
    num_steps: int,
    *,
    mask: Bool[ArrayLike, "*grid"] | None = None,
    key: PRNGKey | None = None,
    **likelihood_options,
):
    r"""Maximise `model.log_marginal_likelihood(y)` over the kernel parameters and the noise.

    Positive parameters (lengthscales, variances, weights, scales, periods, the noise) are
    optimised as logarithms, so they stay positive; parameters a kernel marks as
    unconstrained (spectral means, frequencies) are optimised directly. The grid is not
    trained. The whole loop is one `jax.lax.scan` under `jit`. With a concrete `mask` the
    likelihood's default is its exact Schur form (up to `schur_max_missing` missing entries);
    the SLQ likelihood (a traced mask, more missing entries, or `method="slq"`) needs `key` (a
    fresh probe set is drawn every step).

    **Arguments:**

    - `model`: a `GridGP` with every positive parameter (including `noise`) $> 0$.
    - `y`: the data, of the grid's shape.
    - `optimizer`: an `optax.GradientTransformation`, e.g. `optax.adam(0.05)`.
    - `num_steps`: number of optimisation steps.
    - `mask`, `key`, `likelihood_options`: passed to `log_marginal_likelihood`.

    **Returns:** `(fitted_model, history)` where `history["log_marginal_likelihood"]` has shape
    `(num_steps,)` (the value before each step).

    ```python
    import jax, jax.numpy as jnp, optax
    from jaxsci.gp import GridGP, fit
    from jaxsci.gp.kernels import SquaredExponential

    grid = (jnp.linspace(0, 1, 16), jnp.linspace(0, 1, 16))
    truth = GridGP(grid, SquaredExponential(0.2), noise=0.01)
    y = truth.sample(jax.random.key(0))
    model, hist = fit(GridGP(grid, SquaredExponential(0.5), noise=0.1), y, optax.adam(0.05), 50)
    ```
    """
    num_steps = checked_int(num_steps, f"num_steps must be a positive int, got {num_steps!r}")
    params = (model.kernels, model.noise)
    positive = _positive_leaves(params)
    for leaf, pos in zip(jax.tree.leaves(params), jax.tree.leaves(positive)):
        if pos and not isinstance(leaf, jax.core.Tracer) and not np.all(np.asarray(leaf) > 0):
            raise ValueError("fit optimises positive parameters in log space: every one (and noise) must be > 0")
    if mask is not None and not isinstance(mask, jax.core.Tracer):
        # A concrete mask stays concrete inside the jitted loop (a static argument), so the
        # likelihood can use its exact Schur form, which needs the count of missing entries.
        mask = _StaticMask(mask)
    method = likelihood_options.get("method")
    if mask is not None and method is None:
        limit = likelihood_options.get("schur_max_missing", _schur.SCHUR_MAX_MISSING)
        missing = _schur.num_missing(mask.array) if isinstance(mask, _StaticMask) else None
        method = "schur" if missing is not None and missing <= limit else "slq"
    if mask is not None and method == "slq" and key is None:
        raise ValueError("fit with mask= and the SLQ likelihood needs key=")
    key = jax.random.key(0) if key is None else key
    return _run(model, jnp.asarray(y), mask, key, optimizer, num_steps, positive, likelihood_options)


class _StaticMask:
    """A concrete boolean mask as a hashable static argument of `filter_jit` (by its bytes)."""

    def __init__(self, mask):
        self.array = np.asarray(mask)
        self._key = (self.array.shape, self.array.dtype.str, self.array.tobytes())

    def __hash__(self):
        return hash(self._key)

    def __eq__(self, other):
        return isinstance(other, _StaticMask) and self._key == other._key


@eqx.filter_jit
def _run(model, y, mask, key, optimizer, num_steps, positive, options):
    mask = mask.array if isinstance(mask, _StaticMask) else mask
    to_free = lambda p: jax.tree.map(lambda v, pos: jnp.log(v) if pos else v, p, positive)  # noqa: E731
    from_free = lambda u: jax.tree.map(lambda v, pos: jnp.exp(v) if pos else v, u, positive)  # noqa: E731

    def rebuild(free):
        kernels, noise = from_free(free)
        return eqx.tree_at(lambda m: (m.kernels, m.noise), model, (kernels, noise))

    def loss(free, step_key):
        extra = {} if mask is None else dict(mask=mask, key=step_key)
        return -rebuild(free).log_marginal_likelihood(y, **extra, **options)

    free = to_free((model.kernels, model.noise))
    state = optimizer.init(free)

    def step(carry, step_key):
        free, state = carry
        value, grads = jax.value_and_grad(loss)(free, step_key)
        updates, state = optimizer.update(grads, state, free)
        return (optax.apply_updates(free, updates), state), -value

    (free, _), history = jax.lax.scan(step, (free, state), jax.random.split(key, num_steps))
    return rebuild(free), {"log_marginal_likelihood": history}
