"""Spectral density of a curvature operator by stochastic Lanczos quadrature."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx

from .. import linalg
from .._checks import checked, checked_int
from .._types import Array, Float, PRNGKey
from ._base import matvec_of
from ._blocks import make_blocks
from ._trace import _check_op, restricted
from ._tree import num_params


class SpectralDensity(eqx.Module):
    """An estimated eigenvalue density: quadrature nodes and weights and a smoothed curve.

    The density is $\\phi(\\lambda) = \\frac1P \\sum_{p,k} w_{pk}\\,
    \\mathcal N(\\lambda;\\, \\theta_{pk}, \\sigma^2)$ on `grid`; each probe's weights sum to
    one, so $\\int \\phi = 1$ and its mean is $\\operatorname{tr}(A)/n$ in expectation.

    **Fields:** `nodes`, `weights` of shape `(num_probes, num_steps)`; `grid` and `density`
    of shape `(num_points,)`; `sigma` the Gaussian smoothing width.

    ```python
    import jax, jax.numpy as jnp
    from jaxsci.curvature import Hessian, spectral_density

    loss = lambda p, b: 0.5 * jnp.sum(b * p["w"] ** 2)      # Hessian diag(b): eigenvalues b
    H = Hessian(loss, {"w": jnp.ones(50)}, jnp.linspace(0.0, 1.0, 50))
    sd = spectral_density(H, key=jax.random.key(0), num_probes=2, num_steps=20)
    area = jnp.sum(sd.density) * (sd.grid[1] - sd.grid[0])
    assert jnp.allclose(area, 1.0, atol=1e-2) and sd.nodes.shape == (2, 20)
    ```
    """

    nodes: Float[Array, "probes steps"]
    weights: Float[Array, "probes steps"]
    grid: Float[Array, " points"]
    density: Float[Array, " points"]
    sigma: Float[Array, ""]

    def mean(self):
        """$\\int \\lambda\\, \\phi(\\lambda)\\, d\\lambda$, an estimate of $\\operatorname{tr}(A)/n$."""
        return jnp.sum(self.weights * self.nodes) / self.nodes.shape[0]


def _density(nodes, weights, num_points, sigma):
    # The range of the nodes that carry weight: after a Lanczos breakdown (more steps than
    # distinct eigenvalues) the spare Ritz values have zero weight and say nothing about
    # the spectrum, so they must neither widen the grid nor the default width.
    live = weights > 0
    lo = jnp.min(jnp.where(live, nodes, jnp.inf))
    hi = jnp.max(jnp.where(live, nodes, -jnp.inf))
    width = jnp.maximum(hi - lo, jnp.finfo(nodes.dtype).eps * (1 + jnp.abs(hi)))
    sigma = width / 100 if sigma is None else jnp.asarray(sigma, nodes.dtype)
    grid = jnp.linspace(lo - 6 * sigma, hi + 6 * sigma, num_points)
    gauss = jnp.exp(-0.5 * ((grid[:, None, None] - nodes) / sigma) ** 2) / (sigma * jnp.sqrt(2 * jnp.pi))
    density = jnp.sum(gauss * weights, axis=(1, 2)) / nodes.shape[0]
    return SpectralDensity(nodes, weights, grid, density, sigma)


def _check_sigma(sigma):
    """`sigma` as a real scalar array, positive and finite (`checked`: at once when concrete)."""
    value = jnp.asarray(sigma)
    if value.shape != () or not jnp.issubdtype(value.dtype, jnp.number) or jnp.iscomplexobj(value):
        raise ValueError(f"`sigma` must be a positive finite real scalar or None, got {sigma!r}.")
    return checked(value, ~(jnp.isfinite(value) & (value > 0)), "`sigma` must be positive and finite")


def spectral_density(
    op: lx.AbstractLinearOperator,
    *,
    key: PRNGKey,
    num_probes: int = 4,
    num_steps: int = 40,
    num_points: int = 400,
    sigma: float | None = None,
    blocks=None,
):
    """The eigenvalue density of a curvature operator by stochastic Lanczos quadrature.

    Each of `num_probes` Rademacher probes runs `num_steps` Lanczos steps; the Ritz values
    and squared first components of the Ritz vectors are Gauss quadrature nodes and weights
    for $z^\\top f(A) z / n$. The smoothed density uses a Gaussian of width `sigma`
    (default: 1% of the spectral range).

    **Arguments:**

    - `op`: a `Hessian`, `GGN`, `Fisher`, ... (any symmetric lineax operator).
    - `key`: random key for the probes.
    - `num_probes`, `num_steps`: probes and Lanczos steps per probe
      (`num_probes * num_steps` products).
    - `num_points`: size of the evaluation grid.
    - `sigma`: smoothing width (same units as the eigenvalues), positive; `None` for 1% of the
      range of the weighted nodes.
    - `blocks`: `None`, `"leaves"` or `fn(params) -> {name: sub-pytree}`: one density per
      diagonal block.

    **Returns:**

    A `SpectralDensity` (or a dict of them with `blocks`).

    **Example:**

    ```python
    import jax, jax.numpy as jnp
    from jaxsci.curvature import Hessian, spectral_density

    loss = lambda p, b: 0.5 * jnp.sum(b * p["w"] ** 2)
    H = Hessian(loss, {"w": jnp.ones(50)}, jnp.linspace(0.0, 1.0, 50))
    sd = spectral_density(H, key=jax.random.key(0), num_probes=2, num_steps=20)
    sd.mean()  # ~ 0.5 = tr(H) / n
    ```

    Reference: Lin, Saad & Yang, "Approximating spectral densities of large matrices",
    SIAM Review 2016; Ghorbani et al., ICML 2019.
    """
    _check_op(op)
    points = checked_int(num_points, f"`num_points` must be an int >= 2, got {num_points!r}.", 2)
    # Python ints before the jit (where a NumPy integer would become a traced array).
    num_probes = checked_int(num_probes, f"`num_probes` must be a positive int, got {num_probes!r}.")
    num_steps = checked_int(num_steps, f"`num_steps` must be an int >= 2, got {num_steps!r}.", 2)
    if sigma is not None:
        sigma = _check_sigma(sigma)
    return _spectral_density(op, key, num_probes, num_steps, points, sigma, blocks)


@eqx.filter_jit
def _spectral_density(op, key, num_probes, num_steps, points, sigma, blocks):
    parts = make_blocks(blocks, op.in_structure())
    if parts is None:
        targets = [(None, matvec_of(op), op.in_structure())]
    else:
        targets = [(b.name, *restricted(op, b)) for b in parts]
    out = {}
    for i, (name, mv, like) in enumerate(targets):
        n = num_params(like)
        message = f"`num_steps` must be an int in [2, {n}] (the dimension), got {num_steps!r}."
        steps = checked_int(num_steps, message, 2, n)
        k = key if name is None else jax.random.fold_in(key, i)
        nodes, weights = linalg.slq_quadrature(mv, like, key=k, num_probes=num_probes, num_steps=steps)
        out[name] = _density(nodes, weights, points, sigma)
    return out[None] if parts is None else out
