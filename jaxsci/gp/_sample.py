"""Exact prior/posterior sampling and the Gaussian denoiser of a `GridGP`."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from .._numerics import safe_sqrt
from ._grid_ops import axes_apply, outer_all


def _eigh(model):
    return model.operator().eigh()


def prior_draw(model, key):
    r"""$f = (\otimes_i Q_i)\,\Lambda^{1/2} z$, $z \sim \mathcal{N}(0, I)$: exact for PSD factors.

    The eigenvalues are clamped at 0 (a smooth kernel's factors are numerically singular), where
    the derivative of $\sqrt\lambda$ is infinite: a zero-safe square root keeps gradients finite."""
    evals, evecs = _eigh(model)
    z = jax.random.normal(key, model.shape, model.noise.dtype)
    return axes_apply(evecs, safe_sqrt(outer_all(evals)) * z)


def draw(model, key, y, mask, tol, maxiter):
    """One prior draw, or one posterior draw by Matheron's rule when `y` is given."""
    from . import _masked

    k_prior, k_noise = jax.random.split(key)
    f = prior_draw(model, k_prior)
    if y is None:
        return f
    eps = safe_sqrt(model.noise) * jax.random.normal(k_noise, model.shape, f.dtype)
    residual = y.astype(f.dtype) - f - eps
    if mask is None:
        weights = model.operator().solve(residual.reshape(-1)).reshape(model.shape)
    else:
        weights = _masked.weights(model, residual, mask, tol, maxiter, "cg")
    return f + axes_apply(model.factors(), weights)


def denoise(model, x, sigma):
    r"""$Q \Lambda (\Lambda + \sigma^2)^{-1} Q^\top x$ over the trailing grid axes of `x`."""
    x = jnp.asarray(x)
    d = len(model.shape)
    if x.shape[x.ndim - d :] != model.shape:
        raise ValueError(f"x must end with the grid shape {model.shape}, got {x.shape}")
    sigma = jnp.asarray(sigma)
    if sigma.shape != ():
        raise ValueError(f"sigma must be a scalar (vmap for several), got shape {sigma.shape}")
    if jnp.iscomplexobj(sigma):
        raise ValueError(f"sigma must be real, got dtype {sigma.dtype}")
    if not isinstance(sigma, jax.core.Tracer) and not (np.isfinite(sigma) and sigma >= 0):
        raise ValueError(f"sigma must be finite and >= 0, got {sigma}")
    evals, evecs = _eigh(model)
    lam = outer_all(evals)
    # lam / (lam + sigma^2), with 0 (not 0/0) on the clamped null space of K at sigma = 0.
    total = lam + sigma.astype(lam.dtype) ** 2
    shrink = jnp.where(total > 0, lam / jnp.where(total > 0, total, 1.0), 0.0)
    qt = [q.T for q in evecs]
    one = lambda v: axes_apply(evecs, shrink * axes_apply(qt, v.astype(lam.dtype)))  # noqa: E731
    flat = x.reshape((-1,) + model.shape)
    return jax.vmap(one)(flat).reshape(x.shape)
