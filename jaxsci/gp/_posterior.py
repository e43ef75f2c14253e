"""Posterior mean and variance of a fully observed `GridGP` (and its derivatives)."""

from __future__ import annotations

import jax.numpy as jnp

from ._grid_ops import axes_apply, contract_points, outer_all


def cross_rows(model, points, derivative):
    r"""Per-axis cross-covariances $\partial^{\beta_i}_x k_i(x_*, x^{(i)})$.

    On the grid (`points is None`) these are `(n_i, n_i)` matrices whose Kronecker product is
    the cross-covariance; at points they are `(m, n_i)` rows multiplied point by point.
    """
    if points is None:
        return model.factors([(b, 0) for b in derivative])
    return tuple(
        k.derivative(points[:, i].astype(x.dtype), x, (b, 0))
        for i, (k, x, b) in enumerate(zip(model.kernels, model.grid, derivative))
    )


def prior_variance(model, derivative):
    r"""$\mathbb{V}[\partial^\beta f(x)] = \prod_i (-1)^{\beta_i} \kappa_i^{(2\beta_i)}(0)$."""
    out = 1.0
    for k, b in zip(model.kernels, derivative):
        out = out * (-1) ** b * k.profile(jnp.zeros((), model.noise.dtype), 2 * b)
    return out


def mean(model, weights, points, derivative):
    """$C_* w$ for grid-shaped weights $w$ (e.g. $(K + \\sigma^2 I)^{-1} y$)."""
    rows = cross_rows(model, points, derivative)
    return axes_apply(rows, weights) if points is None else contract_points(rows, weights)


def exact(model, y, points, derivative, variance):
    """Mean and variance through the Kronecker eigenbasis (no mask)."""
    op = model.operator()
    alpha = op.solve(y.reshape(-1)).reshape(model.shape)
    mu = mean(model, alpha, points, derivative)
    if not variance:
        return mu, None
    evals, evecs = op.eigh()
    lam = outer_all(evals)
    inv = 1 / (lam + op.noise)
    if points is None and not any(derivative):
        # diag(K - K (K + s2)^-1 K) = diag(Q [s2 lam / (lam + s2)] Q^T): no cancellation.
        return mu, axes_apply([q * q for q in evecs], op.noise * lam * inv)
    rows = cross_rows(model, points, derivative)
    w2 = [(r @ q) ** 2 for r, q in zip(rows, evecs)]
    reduction = axes_apply(w2, inv) if points is None else contract_points(w2, inv)
    return mu, jnp.maximum(prior_variance(model, derivative) - reduction, 0.0)
