r"""Inference for a `GridGP` observed on part of its grid (a boolean mask).

The observed block $K_{oo} + \sigma^2 I$ is embedded in the full grid as
$A = M K M + \sigma^2 M + c (I - M)$ ($M$ the diagonal 0/1 mask, $c = \sigma^2$, or 1 for
noise-free data): on unobserved entries $A$ is $c I$ and decoupled, so $A^{-1} M y$ vanishes
there and equals $(K_{oo} + \sigma^2 I)^{-1} y_o$ on the observed ones, while
$\log\det A = \log\det(K_{oo} + \sigma^2 I) + n_u \log c$. $A$ is applied in
$O(N \sum_i n_i)$ with Kronecker products and preconditioned with the exact inverse of the
fully observed covariance $(K + \sigma^2 I)^{-1}$ (projected onto the observed entries),
which equals $A^{-1}$ when nothing is missing.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from ..linalg import Kronecker
from ..linalg._probes import rademacher
from . import _posterior
from ._grid_ops import axes_apply, outer_all


def _fill(noise):
    r"""The diagonal of the decoupled unobserved block: $\sigma^2$, or 1 when $\sigma^2 = 0$.

    Any positive value leaves $A^{-1} M y$ and the observed block unchanged (the block is
    decoupled); $\sigma^2$ keeps the preconditioned operator closest to the identity, but at
    $\sigma^2 = 0$ (noise-free interpolation, well posed when $K_{oo}$ is nonsingular) it
    would make $A$ singular, so 1 is used there and its log-determinant term vanishes.
    """
    return jnp.where(noise > 0, noise, jnp.ones_like(noise))


def _operator(model, mask):
    r"""The matvec of $A = M K M + \sigma^2 M + c (I - M)$, $c$ = `_fill(noise)`."""
    factors, noise = model.factors(), model.noise
    m = mask.reshape(-1).astype(noise.dtype)
    kron = Kronecker(factors)
    diagonal = noise * m + _fill(noise) * (1 - m)
    return lambda v: m * kron.mv(m * v) + diagonal * v


def _eigen_apply(model, power):
    """$v \\mapsto (K + \\sigma^2 I)^{\\text{power}} v$ in the eigenbasis (not differentiated)."""
    model = jax.lax.stop_gradient(model)
    op = model.operator()
    evals, evecs = op.eigh()
    scale = (outer_all(evals) + op.noise) ** power
    qt = [q.T for q in evecs]

    def apply(v):
        return axes_apply(evecs, scale * axes_apply(qt, v.reshape(model.shape))).reshape(-1)

    return apply


def _preconditioner(model, mask):
    r"""$M P M + (I - M)/\sigma^2$ with $P = (K + \sigma^2 I)^{-1}$ applied in the eigenbasis.

    Projecting the exact fully observed inverse onto the observed entries (and inverting the
    decoupled $\sigma^2 I$ block exactly) leaves $P_{oo}(K_{oo} + \sigma^2 I)$ on the observed
    subspace, whose eigenvalues are $\ge 1$ and cluster at 1 (a rank-$n_u$ perturbation of
    the identity); unprojected, the unobserved block would spread the spectrum.
    """
    m = mask.reshape(-1).astype(model.noise.dtype)
    inverse, fill = _eigen_apply(model, -1.0), jax.lax.stop_gradient(_fill(model.noise))
    return lambda v: m * inverse(m * v) + (1 - m) * v / fill


def _cg_solve(model, mask, b, tol, maxiter):
    """Preconditioned CG on the masked system: stops at norm(r) <= tol norm(b), never NaN."""
    from ..linalg._cg import robust_cg

    if tol is None:  # what each precision can reach on these well-preconditioned systems
        tol = 1e-10 if b.dtype == jnp.float64 else 1e-5
    maxiter = 1000 if maxiter is None else maxiter
    return robust_cg(_operator(model, mask), b, _preconditioner(model, mask), tol, maxiter)


def _dense_matrix(model, mask):
    m = mask.reshape(-1).astype(model.noise.dtype)
    k = Kronecker(model.factors()).as_matrix()
    return m[:, None] * k * m[None, :] + jnp.diag(model.noise * m + _fill(model.noise) * (1 - m)).astype(k.dtype)


def weights(model, y, mask, tol, maxiter, method):
    """$M A^{-1} M y$ on the grid: the representer weights of the observed data."""
    m = mask.astype(model.noise.dtype)
    b = (jnp.where(mask, y, 0) * m).reshape(-1).astype(m.dtype)
    if method == "dense":
        v = jax.scipy.linalg.cho_solve((jnp.linalg.cholesky(_dense_matrix(model, mask)), True), b)
    else:
        v = _cg_solve(model, mask, b, tol, maxiter)
    return m * v.reshape(model.shape)


def dense_log_marginal_likelihood(model, y, mask):
    """Exact masked log-likelihood by Cholesky of the $N \\times N$ matrix $A$."""
    chol = jnp.linalg.cholesky(_dense_matrix(model, mask))
    b = jnp.where(mask, y, 0).reshape(-1).astype(chol.dtype)
    v = jax.scipy.linalg.cho_solve((chol, True), b)
    n_obs = jnp.sum(mask)
    logdet = 2 * jnp.sum(jnp.log(jnp.diag(chol))) - (b.size - n_obs) * jnp.log(_fill(model.noise))
    return -0.5 * (b @ v + logdet + n_obs * math.log(2 * math.pi))


def slq_log_marginal_likelihood(model, y, mask, key, num_probes, num_steps, tol, maxiter):
    r"""Masked log-likelihood: CG for the quadratic term, SLQ for the log-determinant.

    $\log\det A = \log\det(K + \sigma^2 I) + \log\det(P^{1/2} A P^{1/2})$ with
    $P = (K + \sigma^2 I)^{-1}$: the first term is exact; SLQ estimates only the second, whose
    operator is the identity when nothing is missing. The gradient of $\log\det A$ is
    $\operatorname{tr}(A^{-1} \partial A)$, estimated with Rademacher probes $z$ as
    $(Mz)^\top A^{-1} \partial A\, (Mz) - z^\top P\, \partial P^{-1} z$ plus the exact gradient of
    the first term (a control variate); the $n_u \log\sigma^2$ of the decoupled block cancels.
    """
    from ..linalg import slq

    mask_f = mask.reshape(-1).astype(model.noise.dtype)
    b = jnp.where(mask, y, 0).reshape(-1).astype(mask_f.dtype)
    quad = b @ _cg_solve(model, mask, b, tol, maxiter)

    frozen = jax.lax.stop_gradient(model)
    a_frozen = _operator(frozen, mask)
    half = _eigen_apply(model, -0.5)
    like = jax.ShapeDtypeStruct(b.shape, b.dtype)
    k_slq, k_grad = jax.random.split(key)
    ld_rest, _ = slq(
        lambda v: half(a_frozen(half(v))), like, jnp.log, key=k_slq, num_probes=num_probes,
        num_steps=min(num_steps, b.size),
    )

    # d logdet(K_oo + s2 I) = tr(A^-1 dA) over the observed entries: probes restricted to them
    # (CG right-hand sides then vanish on the decoupled block), with the fully observed
    # tr(P dP^-1) = d logdet(K + s2 I) as a control variate of known (exact) value.
    probes = rademacher(k_grad, num_probes, b.size, b.dtype)
    solve_a = jax.vmap(lambda z: _cg_solve(frozen, mask, mask_f * z, tol, maxiter))(probes)
    solve_p = jax.vmap(_eigen_apply(model, -1.0))(probes)
    a_live, full_live = _operator(model, mask), model.operator()
    surrogate = jnp.mean(
        jax.vmap(lambda z, u, w: u @ a_live(mask_f * z) - w @ full_live.mv(z))(probes, solve_a, solve_p)
    )
    n_obs = jnp.sum(mask)
    logdet = (
        full_live.logdet()
        + jax.lax.stop_gradient(ld_rest - (b.size - n_obs) * jnp.log(_fill(model.noise)))
        + (surrogate - jax.lax.stop_gradient(surrogate))
    )
    return -0.5 * (quad + logdet + n_obs * math.log(2 * math.pi))


def posterior(model, y, mask, points, derivative, variance, method, tol, maxiter):
    """Mean and (one solve per location) variance of the masked posterior."""
    w = weights(model, y, mask, tol, maxiter, method)
    mu = _posterior.mean(model, w, points, derivative)
    if not variance:
        return mu, None
    rows = _posterior.cross_rows(model, points, derivative)
    if points is None:
        index = [jnp.asarray(i) for i in np.indices(model.shape).reshape(len(model.shape), -1)]
    else:
        index = [jnp.arange(points.shape[0])] * len(model.shape)
    m = mask.reshape(-1).astype(model.noise.dtype)

    def cross(idx):  # the masked cross-covariance vector of one location
        return m * outer_all([r[i] for r, i in zip(rows, idx)]).reshape(-1)

    if method == "dense":
        c = jax.vmap(cross)(index)
        chol = jnp.linalg.cholesky(_dense_matrix(model, mask))
        reduction = jnp.sum(c.T * jax.scipy.linalg.cho_solve((chol, True), c.T), axis=0)
    else:
        one = lambda idx: cross(idx) @ _cg_solve(model, mask, cross(idx), tol, maxiter)  # noqa: E731
        reduction = jax.lax.map(one, index, batch_size=64)
    var = jnp.maximum(_posterior.prior_variance(model, derivative) - reduction, 0.0)
    return mu, var.reshape(model.shape) if points is None else var
