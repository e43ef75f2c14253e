r"""Per-axis kernel factors, derivative operators and the Kronecker prior used by GP-HM.

Every quantity is built from the closed-form kernel derivatives of
`AbstractKernel.grid_matrix` (Toeplitz assembly, no nested autodiff) and the Cholesky factor
of the jittered per-axis kernel matrix $K_j + \epsilon\,\kappa_j(0) I$.

Why Cholesky: it gives exact Kronecker solves and log-determinants, its reverse-mode rule is
correct for any spectrum, whereas autodiff through `eigh` is wrong when eigenvalues
(nearly) repeat, which happens for stationary kernels on uniform grids. The jitter is
relative to the kernel's variance, so the conditioning is at most about $1/\epsilon$.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import jax.scipy.linalg as jsl
from jaxtyping import Array, Float


def mode_apply(matrix: Float[Array, "m n"], u: Float[Array, "..."], axis: int) -> Float[Array, "..."]:
    """Multiply `u` along `axis` by `matrix` (the mode-`axis` product)."""
    out = jnp.tensordot(matrix, u, axes=((1,), (axis,)))
    return jnp.moveaxis(out, 0, axis)


def axis_matrix(kernel, n: int, spacing: float, jitter: float) -> Float[Array, "n n"]:
    """The jittered kernel matrix $K + \\epsilon\\,\\kappa(0) I$ on `n` points spaced `spacing`."""
    k = kernel.grid_matrix(n, spacing)
    return k + jitter * k[0, 0] * jnp.eye(n, dtype=k.dtype)


def axis_cholesky(kernel, n: int, spacing: float, jitter: float) -> Float[Array, "n n"]:
    """Lower Cholesky factor of `axis_matrix`."""
    return jnp.linalg.cholesky(axis_matrix(kernel, n, spacing, jitter))


def derivative_operator(kernel, n: int, spacing: float, chol: Float[Array, "n n"], order: int) -> Float[Array, "n n"]:
    r"""$D^{(a)} = K^{(a,0)} K^{-1}$: grid values to the `order`-th derivative of the posterior mean."""
    ka = kernel.grid_matrix(n, spacing, (order, 0))
    return jsl.cho_solve((chol, True), ka.T).T


def derivative_operators(kernels, problem, chols) -> dict[tuple[int, int], Float[Array, "n n"]]:
    """`{(axis, order): D}` for every axis/order appearing in `problem.derivatives`."""
    needed = sorted({(j, a) for m in problem.derivatives for j, a in enumerate(m) if a > 0})
    return {
        (j, a): derivative_operator(kernels[j], problem.grid_sizes[j], problem.spacings[j], chols[j], a)
        for j, a in needed
    }


def derivative_fields(u, operators, multi_indices) -> dict[tuple[int, ...], Float[Array, "..."]]:
    """The derivative field of `u` for every multi-index (mode products with the D matrices)."""
    out = {}
    for m in multi_indices:
        v = u
        for j, a in enumerate(m):
            if a > 0:
                v = mode_apply(operators[(j, a)], v, j)
        out[m] = v
    return out


def _axis_solve(chol, u, axis):
    v = jnp.moveaxis(u, axis, 0)
    flat = jsl.cho_solve((chol, True), v.reshape(v.shape[0], -1))
    return jnp.moveaxis(flat.reshape(v.shape), 0, axis)


def derivative_fields_by_solves(u, kernels, problem, chols) -> dict[tuple[int, ...], Float[Array, "..."]]:
    r"""The same fields as `derivative_fields`, applying $D_j^{(a)}$ as $K_j^{(a,0)}$ after a solve.

    $D_j^{(a)} v = K_j^{(a,0)} (K_j^{-1} v)$ costs $O(n_j N)$ per application (two triangular
    solves and one product along axis $j$) instead of the $O(n_j^3)$ needed to form $D_j$,
    which is what matters when the kernels change at every optimisation step.
    """
    mats = {}
    out = {}
    for m in problem.derivatives:
        v = u
        for j, a in enumerate(m):
            if a > 0:
                if (j, a) not in mats:
                    mats[(j, a)] = kernels[j].grid_matrix(problem.grid_sizes[j], problem.spacings[j], (a, 0))
                v = mode_apply(mats[(j, a)], _axis_solve(chols[j], v, j), j)
        out[m] = v
    return out


def kron_cholesky_solve(chols, u: Float[Array, "..."]) -> Float[Array, "..."]:
    """$(K_1 \\otimes \\dots \\otimes K_d)^{-1}\\,\\mathrm{vec}\\,u$ as a grid array."""
    for j, c in enumerate(chols):
        u = _axis_solve(c, u, j)
    return u


def kron_neg_log_prior(chols, u: Float[Array, "..."]) -> Float[Array, ""]:
    r"""$-\log \mathcal{N}(\mathrm{vec}\,u \mid 0, K_1 \otimes \dots \otimes K_d)$, exactly.

    With $K_j = L_j L_j^\top$: the quadratic form is $\|(L_1^{-1} \otimes \dots)\,\mathrm{vec}\,u\|^2$
    (triangular solves along every axis) and $\log|K| = \sum_j (N / n_j) \log|K_j|$.
    """
    z = u
    for j, c in enumerate(chols):
        v = jnp.moveaxis(z, j, 0)
        flat = jsl.solve_triangular(c, v.reshape(v.shape[0], -1), lower=True)
        z = jnp.moveaxis(flat.reshape(v.shape), 0, j)
    size = math.prod(u.shape)
    logdet = sum((size // c.shape[0]) * 2.0 * jnp.sum(jnp.log(jnp.diagonal(c))) for c in chols)
    return 0.5 * jnp.sum(z**2) + 0.5 * logdet + 0.5 * size * math.log(2 * math.pi)


def cross_matrices(kernels, axes, points: Float[Array, "m d"], orders=None, source=None):
    """Per-axis matrices $\\partial^{a_j}\\partial'^{b_j} k_j(x_{*,j}, \\text{grid}_j)$, each `(m, n_j)`.

    `orders` are the derivative orders in the evaluation point, `source` those in the grid
    point (the representer's multi-index); both default to zero.
    """
    orders = orders or (0,) * len(kernels)
    source = source or (0,) * len(kernels)
    return [k.derivative(points[:, j], axes[j], (orders[j], source[j])) for j, k in enumerate(kernels)]


def interpolate_points(kernels, axes, alpha, points, orders=None, source=None) -> Float[Array, " m"]:
    """$\\sum_i \\prod_j \\partial^{a_j}\\partial'^{b_j} k_j(x_{*,j}, g_{j,i_j})\\,\\alpha_i$ at scattered points."""
    mats = cross_matrices(kernels, axes, points, orders, source)

    def one(rows):
        v = alpha
        for r in rows:
            v = jnp.tensordot(r, v, axes=((0,), (0,)))
        return v

    return jax.lax.map(one, mats, batch_size=256)


def interpolate_grid(kernels, axes, alpha, new_axes, orders=None, source=None) -> Float[Array, "..."]:
    """The posterior mean on the tensor grid `new_axes` by one mode product per axis."""
    orders = orders or (0,) * len(kernels)
    source = source or (0,) * len(kernels)
    v = alpha
    for j, k in enumerate(kernels):
        v = mode_apply(k.derivative(new_axes[j], axes[j], (orders[j], source[j])), v, j)
    return v
