"""Exact prior/posterior sampling and the Gaussian denoiser of a `GridGP`."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ._grid_ops import axes_apply, outer_all


def _eigh(model):
    return model.operator().eigh()


def prior_draw(model, key):
    r"""$f = (\otimes_i Q_i)\,\Lambda^{1/2} z$, $z \sim \mathcal{N}(0, I)$: exact for PSD factors."""
    evals, evecs = _eigh(model)
    z = jax.random.normal(key, model.shape, model.noise.dtype)
    return axes_apply(evecs, jnp.sqrt(outer_all(evals)) * z)


def draw(model, key, y, mask, tol, maxiter):
    """One prior draw, or one posterior draw by Matheron's rule when `y` is given."""
    from . import _masked

    k_prior, k_noise = jax.random.split(key)
    f = prior_draw(model, k_prior)
    if y is None:
        return f
    eps = jnp.sqrt(model.noise) * jax.random.normal(k_noise, model.shape, f.dtype)
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
    evals, evecs = _eigh(model)
    lam = outer_all(evals)
    shrink = lam / (lam + sigma.astype(lam.dtype) ** 2)
    qt = [q.T for q in evecs]
    one = lambda v: axes_apply(evecs, shrink * axes_apply(qt, v.astype(lam.dtype)))  # noqa: E731
    flat = x.reshape((-1,) + model.shape)
    return jax.vmap(one)(flat).reshape(x.shape)
