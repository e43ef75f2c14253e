r"""GP collocation: condition a product-kernel GP on the equation itself (derivative observations).

The unknown $u$ has the prior $\mathcal{GP}(0, k)$ with $k(x, x') = \prod_j k_j(x_j, x'_j)$. A
linear (or linearised) equation $\sum_m c_m(x)\,\partial^m u(x) = y(x)$ at the grid points and
the Dirichlet data $u(x_b) = g_b$ are *observations* of linear functionals of $u$; their joint
covariance has closed-form blocks

$$\mathrm{Cov}\big(\partial^m u(x), \partial^{m'} u(x')\big) = \prod_j \partial^{m_j}_{x_j}\partial^{m'_j}_{x'_j} k_j(x_j, x'_j),$$

which on the tensor grid are Kronecker products of per-axis Toeplitz matrices
(`AbstractKernel.grid_matrix`). The solution is the posterior mean, which is also the
minimum-RKHS-norm function satisfying the observations (optimal recovery). Kernel parameters
are fitted by maximising the exact marginal likelihood of the observations $(g, y)$: no
quantity involving the unknown solution enters the objective. Nonlinear equations are
handled by Gauss-Newton: each step linearises the residual at the current posterior mean.

The covariance is assembled densely (its size is the number of observations), so this path
is meant for grids with up to a few thousand points in total.
"""

from __future__ import annotations

import itertools
import math

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
import numpy as np

from ._pde_problem import face_mask

MAX_OBSERVATIONS = 12_000
"""Largest number of observations (grid points plus boundary points) of the dense path."""


def zero_index(d: int) -> tuple[int, ...]:
    return (0,) * d


def at_most_second_order(problem) -> bool:
    """Whether every derivative the residual asks for has order at most 2 on each axis (the
    collocation covariance needs kernel derivatives up to twice that order)."""
    return all(a <= 2 for m in problem.derivatives for a in m)


def require_at_most_second_order(problem, method: str) -> None:
    """Raise `ValueError`, naming `method`, unless `at_most_second_order(problem)`."""
    if not at_most_second_order(problem):
        raise ValueError(
            f"method={method!r} needs kernel derivatives of order 2 * max(derivatives) <= 4; "
            f"derivatives={problem.derivatives} has an order above 2. Use method='adam' or 'map'."
        )


def check_size(problem) -> None:
    """Raise `ValueError` when the dense covariance would be too large."""
    count = math.prod(problem.grid_sizes) + problem.num_boundary
    if count > MAX_OBSERVATIONS:
        raise ValueError(
            f"method='collocation' assembles a dense covariance of size {count} (grid points plus boundary "
            f"points) for grid_sizes={problem.grid_sizes}; the limit is {MAX_OBSERVATIONS}. Use a coarser grid "
            "or method='adam' / 'map' (Kronecker-structured GP-HM)."
        )
    require_at_most_second_order(problem, "collocation")


def _residual_of_fields(problem, x):
    """The residual as a function of one dict `{multi-index: field}` (zero index = $u$)."""
    z = zero_index(problem.ndim)
    return lambda f: problem.residual(f[z], {m: f[m] for m in problem.derivatives}, x)


def linearise(problem, fields, x):
    r"""Coefficients $c_m = \partial R / \partial(\partial^m u)$ and target $y = \sum_m c_m \partial^m u - R$.

    `fields` maps every multi-index (including the zero index for $u$) to its grid field at
    the linearisation point. The residual must be pointwise (local) in $u$ and its derivatives,
    so a Jacobian-vector product with a tangent of ones gives each coefficient field.
    """
    residual = _residual_of_fields(problem, x)
    r = residual(fields)
    coeffs = {}
    for m in fields:
        tangent = {k: jnp.ones_like(v) if k == m else jnp.zeros_like(v) for k, v in fields.items()}
        coeffs[m] = jax.jvp(residual, (fields,), (tangent,))[1]
    target = sum(coeffs[m] * fields[m] for m in fields) - r
    return coeffs, target


def check_pointwise(problem, dtype, key=None) -> dict:
    """Raise `ValueError` unless the residual is pointwise in $u$ and its derivatives; return its
    linearisation coefficients at the random fields the check used."""
    key = jax.random.PRNGKey(0) if key is None else key
    shape = problem.grid_sizes
    names = (zero_index(problem.ndim),) + tuple(problem.derivatives)
    keys = jax.random.split(key, 2 * len(names))
    fields = {m: jax.random.normal(k, shape, dtype) for m, k in zip(names, keys[: len(names)])}
    tangent = {m: jax.random.normal(k, shape, dtype) for m, k in zip(names, keys[len(names) :])}
    x = problem.points(dtype)
    coeffs, _ = linearise(problem, fields, x)
    exact = jax.jvp(_residual_of_fields(problem, x), (fields,), (tangent,))[1]
    local = sum(coeffs[m] * tangent[m] for m in names)
    scale = jnp.max(jnp.abs(exact)) + jnp.finfo(dtype).tiny
    if not bool(jnp.max(jnp.abs(exact - local)) <= 1e3 * jnp.finfo(dtype).eps * scale * len(names)):
        raise ValueError(
            "the marginal-likelihood fits (method='collocation' or 'window', also chosen by 'auto') need a residual "
            "that is pointwise in u and its derivatives (the value at a "
            "grid point may depend only on the fields at that point); this residual couples points."
        )
    return coeffs


def is_affine_pointwise(problem, dtype) -> bool:
    """Whether the residual is pointwise, affine in $u$ and its derivatives, and depends on them
    (its linearisation is the same at $u = 0$ and at random fields, and not identically zero)."""
    try:
        at_random = check_pointwise(problem, dtype)
    except ValueError:
        return False
    names = (zero_index(problem.ndim),) + tuple(problem.derivatives)
    zeros = {m: jnp.zeros(problem.grid_sizes, dtype) for m in names}
    at_zero, _ = linearise(problem, zeros, problem.points(dtype))
    tol = 1e3 * jnp.finfo(dtype).eps
    same = all(bool(jnp.allclose(at_zero[m], at_random[m], rtol=tol, atol=tol)) for m in names)
    return same and bool(active(at_zero))


def active(coeffs) -> dict:
    """Drop multi-indices whose coefficient field is identically zero (checked on concrete values)."""
    return {m: c for m, c in coeffs.items() if bool(jnp.any(c != 0))}


def _axis_blocks(kernels, problem, orders):
    """Per axis, `{(a, b): K_j^{(a,b)}}` for every pair of orders that appears on that axis."""
    out = []
    for j, k in enumerate(kernels):
        used = sorted({m[j] for m in orders})
        n, h = problem.grid_sizes[j], problem.spacings[j]
        out.append({(a, b): k.grid_matrix(n, h, (a, b)) for a, b in itertools.product(used, used)})
    return out


def _kron(mats):
    out = mats[0]
    for m in mats[1:]:
        out = jnp.kron(out, m)
    return out


def covariance(kernels, problem, coeffs, boundary_index, nugget):
    r"""The dense covariance of the observations $[u(x_b);\ \sum_m c_m \partial^m u(x_i)]$ plus the nugget.

    The nugget is relative: $\epsilon$ times the diagonal of the noise-free covariance. An
    equation row whose coefficients all vanish (a residual guarded to zero at a singular point)
    has a zero diagonal; it gets unit variance instead, so that it is independent of the rest
    and its observation (zero) drops out of the posterior mean.
    """
    z = zero_index(problem.ndim)
    orders = tuple(coeffs) + (z,)
    blocks = _axis_blocks(kernels, problem, orders)

    def block(m, mp):
        return _kron([blocks[j][(m[j], mp[j])] for j in range(problem.ndim)])

    names = tuple(coeffs)
    flat = {m: coeffs[m].reshape(-1) for m in names}
    c_ll = 0.0
    for i, m in enumerate(names):
        for mp in names[i:]:
            b = flat[m][:, None] * block(m, mp) * flat[mp][None, :]
            c_ll = c_ll + (b if m == mp else b + b.T)
    c_bl = sum(block(z, mp)[boundary_index] * flat[mp][None, :] for mp in names)
    c_bb = block(z, z)[boundary_index][:, boundary_index]
    cov = jnp.block([[c_bb, c_bl], [c_bl.T, c_ll]])
    diag = jnp.diagonal(cov)
    return cov + jnp.diag(jnp.where(diag > 0, nugget * diag, 1.0))


def neg_log_marginal(kernels, problem, coeffs, boundary_index, nugget, y):
    """$-\\log\\mathcal{N}(y \\mid 0, C)$ by Cholesky, and the Cholesky factor."""
    chol = jnp.linalg.cholesky(covariance(kernels, problem, coeffs, boundary_index, nugget))
    a = jsl.solve_triangular(chol, y, lower=True)
    value = 0.5 * jnp.sum(a**2) + jnp.sum(jnp.log(jnp.diagonal(chol))) + 0.5 * y.size * math.log(2 * math.pi)
    return value, chol


def representer_weights(problem, coeffs, boundary_index, chol, y):
    r"""The posterior mean's weights: one grid field per source multi-index.

    With $\alpha = C^{-1} y$ split into boundary and equation parts, the mean is
    $u(x_*) = \sum_b \alpha_b k(x_*, x_b) + \sum_m \sum_i c_m(x_i)\,\alpha_i\,\partial^{m}_{x'} k(x_*, x_i)$:
    the zero index carries the boundary weights plus $c_0 \alpha$, every other index $c_m \alpha$.
    """
    alpha = jsl.cho_solve((chol, True), y)
    nb = boundary_index.shape[0]
    a_b, a_l = alpha[:nb], alpha[nb:]
    size = math.prod(problem.grid_sizes)
    z = zero_index(problem.ndim)
    weights = {m: (c.reshape(-1) * a_l) for m, c in coeffs.items()}
    boundary = jnp.zeros(size, alpha.dtype).at[boundary_index].add(a_b)
    weights[z] = weights.get(z, 0.0) + boundary
    return {m: w.reshape(problem.grid_sizes) for m, w in weights.items()}


def grid_field(problem, kernels, sources, weights, orders):
    """The derivative `orders` of the posterior mean on the collocation grid (Toeplitz mode products)."""
    total = 0.0
    for source, w in zip(sources, weights):
        v = w
        for j, k in enumerate(kernels):
            mat = k.grid_matrix(problem.grid_sizes[j], problem.spacings[j], (orders[j], source[j]))
            v = jnp.moveaxis(jnp.tensordot(mat, v, axes=((1,), (j,))), 0, j)
        total = total + v
    return total


def boundary_indices(problem) -> np.ndarray:
    """Flat indices of the boundary grid points (static, from the problem's shape; usable
    under `jit`)."""
    return np.flatnonzero(face_mask(problem.grid_sizes))
