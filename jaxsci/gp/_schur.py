r"""The exact masked log-likelihood of a `GridGP` through the Schur complement of the full grid.

With $A = K + \sigma^2 I$ on the full grid, $B = A^{-1}$ (exact Kronecker eigen-solves) and $u$
the $m$ unobserved entries, block inversion gives
$\log\det A_{oo} = \log\det A + \log\det B_{uu}$ and $A_{oo}^{-1} = B_{oo} - B_{ou} B_{uu}^{-1} B_{uo}$:
the value needs $B_{uu}$ and an $m \times m$ Cholesky, the gradient a closed-form VJP; no CG, no
SLQ. Every product with the rows of $Q = \bigotimes_i Q_i$ at the missing points is formed the
cheapest of a few exact ways, chosen from the (static) shapes.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from ..linalg import KroneckerPlusDiagonal
from ..linalg._probes import rademacher
from ._grid_ops import axes_apply, outer_all

CHUNK_ELEMENTS = 2**21
"""Largest intermediate (in elements) of one step of the grouped $B_{uu}$ assembly."""

SCHUR_MAX_MISSING = 2048
"""Default largest number of missing entries for which `method=None` picks the exact Schur path."""


def _rows(evecs, index):
    r"""$Q^\top e_p = \bigotimes_i Q_i[a_p^i, :]$ for every missing point $p$: shape `(m, *grid)`."""
    out = None
    for axis, (q, idx) in enumerate(zip(evecs, index)):
        r = q[idx].reshape((len(idx),) + (1,) * axis + (q.shape[1],) + (1,) * (len(evecs) - axis - 1))
        out = r if out is None else out * r
    return out


def _batched(mats, grids):
    """`axes_apply` on every grid of a batch `(m, *grid)` (one contraction per axis)."""
    for mat in mats:
        grids = jnp.tensordot(grids, mat, axes=([1], [1]))  # the axes cycle back into order
    return grids


def _groups(last, n):
    """Missing points grouped by their last coordinate: a padded `(n, g)` index table (pad = m)."""
    m = last.size
    counts = np.bincount(last, minlength=n)
    order = np.argsort(last, kind="stable")
    table = np.full((n, max(1, counts.max())), m)
    slot = np.empty(m, int)
    start = np.concatenate([[0], np.cumsum(counts)[:-1]])
    for b in np.flatnonzero(counts):
        members = order[start[b] : start[b] + counts[b]]
        table[b, : counts[b]] = members
        slot[members] = np.arange(counts[b])
    return table, slot


def _unobserved_block(evecs, inv, missing, index, way=None):
    r"""$B_{uu} = R\,\mathrm{diag}(\text{inv})\,R^\top$ ($R$ = rows of $Q$ at the missing points).

    Three exact ways; the cheapest for the shapes is used (cost in multiply-adds): one
    matmul ($m^2 N$); the $m$ columns by Kronecker products ($m N \sum_i n_i$); or, on grids
    of two or more axes, the last axis first: $Z_{b c j} = \sum_l Q_d[b, l]\,\text{inv}_{j l}\,Q_d[c, l]$
    ($N n_d^2$) and, with the missing points grouped by their last coordinate $b$ (at most
    $g$ a group) and $P$ their rows over the other axes,
    $B_{pq} = \sum_j P_{pj} Z_{b_p b_q j} P_{qj}$ as $n_d$ matmuls ($n_d\, g\, m N / n_d$).
    """
    shape, m, size = inv.shape, missing.size, inv.size
    costs = {"matmul": m * m * size, "columns": m * size * sum(shape)}
    if len(shape) > 1:
        table, slot = _groups(index[-1], shape[-1])
        costs["grouped"] = size * shape[-1] + table.shape[1] * m * size + 2 * m * size
    way = min(costs, key=costs.get) if way is None else way
    if way == "matmul":
        flat = _rows(evecs, index).reshape(m, -1)
        return (flat * inv.reshape(-1)) @ flat.T
    if way == "columns":
        return _batched(evecs, inv * _rows(evecs, index)).reshape(m, -1)[:, missing]
    q, inv_t, n_d = evecs[-1], inv.reshape(-1, shape[-1]), shape[-1]
    z = jnp.matmul(q[None] * inv_t[:, None, :], q.T[None])  # (N / n_d, b, c)
    p_rows = _rows(evecs[:-1], index[:-1]).reshape(m, -1)  # (m, N / n_d)
    padded = jnp.concatenate([p_rows, jnp.zeros_like(p_rows[:1])])[table]  # (b, g, N / n_d)
    chunk = max(1, min(n_d, CHUNK_ELEMENTS // (p_rows.shape[1] * m)))  # b's per step: bounded memory
    extra = -n_d % chunk
    z_b = jnp.pad(jnp.transpose(z, (1, 0, 2)), ((0, extra), (0, 0), (0, 0)))  # (b, N / n_d, c)
    padded = jnp.pad(padded, ((0, extra), (0, 0), (0, 0)))

    def block(args):  # B rows of the points whose last coordinate is in this chunk of b's
        z_c, rows_c = args
        return jnp.matmul(rows_c, z_c[:, :, index[-1]] * p_rows.T[None])  # (chunk, g, m)

    split = lambda a: a.reshape((-1, chunk) + a.shape[1:])  # noqa: E731
    out = jax.lax.map(block, (split(z_b), split(padded))).reshape((n_d + extra,) + padded.shape[1:2] + (m,))
    return out[index[-1], slot]


def _sum_rows(evecs, coef, missing, index, way=None):
    r"""$\sum_p C_{kp}\, Q^\top e_p$ for every row $k$ of `coef` `(k, m)`: shape `(k, *grid)`.

    As one matmul ($k m N$), as $k$ Kronecker transforms of scattered grids
    ($k N \sum_i n_i$), or grouping the points by their last coordinate ($k N (g + n_d)$).
    """
    shape, m, k = tuple(q.shape[0] for q in evecs), missing.size, coef.shape[0]
    size = math.prod(shape)
    costs = {"matmul": k * m * size, "columns": k * size * sum(shape)}
    if len(shape) > 1:
        table, _ = _groups(index[-1], shape[-1])
        costs["grouped"] = k * size * (table.shape[1] + shape[-1])
    way = min(costs, key=costs.get) if way is None else way
    if way == "matmul":
        return (coef @ _rows(evecs, index).reshape(m, -1)).reshape((k,) + shape)
    if way == "columns":
        scattered = jnp.zeros((k, size), coef.dtype).at[:, missing].set(coef)
        return _batched([q.T for q in evecs], scattered.reshape((k,) + shape))
    p_rows = _rows(evecs[:-1], index[:-1]).reshape(m, -1)
    coef_t = jnp.concatenate([coef, jnp.zeros_like(coef[:, :1])], axis=1)[:, table]  # (k, b, g)
    padded = jnp.concatenate([p_rows, jnp.zeros_like(p_rows[:1])])[table]  # (b, g, N / n_d)
    y = jnp.einsum("kbg,bgj->kjb", coef_t, padded)
    return (y @ evecs[-1]).reshape((k,) + shape)


def _gram(a, b, axis):
    r"""$\sum$ over every axis but `axis` of $a \otimes b$: the `(n, n)` matrix $A_{(axis)} B_{(axis)}^\top$."""
    if axis == a.ndim - 1:
        return a.reshape(-1, a.shape[-1]).T @ b.reshape(-1, b.shape[-1])
    a, b = jnp.moveaxis(a, axis, 0), jnp.moveaxis(b, axis, 0)
    return a.reshape(a.shape[0], -1) @ b.reshape(b.shape[0], -1).T


def _schur_terms(factors, noise, b, missing, index):
    """Forward pass of the Schur path: the value pieces and what the backward pass needs."""
    op = KroneckerPlusDiagonal(factors, noise)
    evals, evecs = op.eigh()
    shape, m = op.shape, missing.size
    inv = 1.0 / (outer_all(evals) + op.noise)
    qt = [q.T for q in evecs]
    b_eig = axes_apply(qt, b.reshape(shape))
    r_eig = inv * b_eig
    b_mm = _unobserved_block(evecs, inv, missing, index)
    chol = jnp.linalg.cholesky(0.5 * (b_mm + b_mm.T))
    r_m = axes_apply(evecs, r_eig).reshape(-1)[missing]
    z = jax.scipy.linalg.cho_solve((chol, True), r_m)
    quad = jnp.sum(b_eig * r_eig) - r_m @ z
    logdet = jnp.sum(jnp.log(outer_all(evals) + op.noise)) + 2 * jnp.sum(jnp.log(jnp.diagonal(chol)))
    alpha_eig = inv * (b_eig - _sum_rows(evecs, z[None], missing, index)[0])  # Q^T A_oo^-1 b (0 on the missing)
    return (quad, logdet), (evals, evecs, inv, chol, alpha_eig)


def _schur_cotangents(residuals, cts, missing, index, probes=None):
    r"""Gradients of $g_q\, b^\top A_{oo}^{-1} b + g_l \log\det A_{oo}$ in every factor, the noise and $b$.

    With $W = A_{oo}^{-1}$ embedded in the grid, $W = B - V V^\top$, $V = B E_m L^{-\top}$
    ($B = (K + \sigma^2 I)^{-1}$, $L L^\top = B_{mm}$), and $\alpha = W b$, the gradient with
    respect to $K + \sigma^2 I$ is $g_l W - g_q \alpha\alpha^\top$. In the eigenbasis
    ($\tilde V = Q^\top V$) factor $j$ receives
    $Q_j[g_l(\operatorname{diag} c_j - \tilde V_{(j)} (\Lambda_{-j}\tilde V)_{(j)}^\top)
    - g_q \tilde\alpha_{(j)} (\Lambda_{-j}\tilde\alpha)_{(j)}^\top] Q_j^\top$: $m$ extra
    Kronecker transforms, never a CG solve or an $N \times m$ dense product beyond them.
    With Rademacher `probes` $W$ `(m, P)`, $L^{-\top}$ is replaced by $L^{-\top} W / \sqrt{P}$:
    an unbiased estimate of the $V V^\top$ terms (everything else stays exact) for $P$ transforms.
    """
    evals, evecs, inv, chol, alpha_eig = residuals
    g_quad, g_logdet = cts
    shape, m = alpha_eig.shape, missing.size
    if probes is None:
        coef = jax.scipy.linalg.solve_triangular(chol, jnp.eye(m, dtype=chol.dtype), lower=True)  # L^-1
    else:
        coef = jax.scipy.linalg.solve_triangular(chol, probes, lower=True, trans="T").T / math.sqrt(probes.shape[1])
    v_eig = inv * _sum_rows(evecs, coef, missing, index)  # V~_k = inv * sum_p coef[k, p] Q^T e_p
    factor_cts = []
    for j, q in enumerate(evecs):
        others = outer_all([jnp.ones_like(v) if l == j else v for l, v in enumerate(evals)])
        inner = g_logdet * (jnp.diag(jnp.sum(inv * others, axis=tuple(a for a in range(len(shape)) if a != j))))
        inner = inner - g_logdet * _gram(v_eig, others * v_eig, j + 1) - g_quad * _gram(alpha_eig, others * alpha_eig, j)
        ct = q @ inner @ q.T
        factor_cts.append(0.5 * (ct + ct.T))
    noise_ct = g_logdet * (jnp.sum(inv) - jnp.sum(v_eig**2)) - g_quad * jnp.sum(alpha_eig**2)
    b_ct = 2 * g_quad * axes_apply(evecs, alpha_eig).reshape(-1)
    return tuple(factor_cts), noise_ct, b_ct


def _schur_quad_logdet(factors, noise, b, missing, probes):
    index = np.unravel_index(missing, tuple(f.shape[0] for f in factors))

    @jax.custom_vjp
    def fn(factors, noise, b, probes):
        return _schur_terms(factors, noise, b, missing, index)[0]

    def fwd(factors, noise, b, probes):
        value, res = _schur_terms(factors, noise, b, missing, index)
        return value, (res, probes)

    def bwd(res, cts):
        res, probes = res
        return _schur_cotangents(res, cts, missing, index, probes) + (None if probes is None else jnp.zeros_like(probes),)

    fn.defvjp(fwd, bwd)
    return fn(factors, noise, b, probes)


def num_missing(concrete) -> int | None:
    """The number of unobserved entries of a concrete (NumPy) mask; `None` for none."""
    if concrete is None:
        return None
    return int(concrete.size - np.count_nonzero(concrete))


def schur_log_marginal_likelihood(model, y, mask, concrete, key=None, num_probes=16):
    r"""Exact masked log-likelihood through the $n_u \times n_u$ block of $B = (K + \sigma^2 I)^{-1}$.

    Block inversion of the full-grid covariance gives
    $\log\det(K_{oo} + \sigma^2 I) = \log\det(K + \sigma^2 I) + \log\det B_{uu}$ and
    $(K_{oo} + \sigma^2 I)^{-1} = B_{oo} - B_{ou} B_{uu}^{-1} B_{uo}$, so the value needs the
    $n_u$ columns $B e_p$ (exact Kronecker eigen-solves) and one $n_u \times n_u$ Cholesky,
    and the gradient (a custom VJP, `_schur_cotangents`) $n_u$ more Kronecker transforms: cost
    $O(n_u N \sum_i n_i)$, exact, no CG or SLQ. `mask` must be concrete (the count is static).
    With a `key` and `num_probes` $< n_u$ the rank-$n_u$ correction of the gradient is estimated
    with `num_probes` Rademacher probes instead (unbiased; the value stays exact).
    """
    if concrete is None:
        raise ValueError("method='schur' needs a concrete mask (its number of missing entries sets a shape)")
    op = model.operator()
    missing = np.flatnonzero(~concrete.reshape(-1))
    b = jnp.where(mask, y, 0).reshape(-1).astype(op.noise.dtype)
    n_obs = b.size - missing.size
    if missing.size == 0:
        quad, logdet = op.quad_logdet(b)
    else:
        probes = None
        if key is not None and num_probes < missing.size:
            probes = rademacher(key, num_probes, missing.size, b.dtype).T
        quad, logdet = _schur_quad_logdet(op.factors, op._checked_noise(), b, missing, probes)
    return -0.5 * (quad + logdet + n_obs * math.log(2 * math.pi))
