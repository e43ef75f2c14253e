r"""The exponential-integrator functions $\varphi_k(z) = \sum_{n\ge0} z^n/(n+k)!$, k = 0..3.

Diagonal (scalar) arguments use a Taylor series for $|z| < 1$ and the closed forms
$\varphi_{k+1}(z) = (\varphi_k(z) - 1/k!)/z$ otherwise, so that no catastrophic cancellation
occurs for small $|z|$ and no overflow of the series for large $|z|$: both branches are
accurate to a few ulps everywhere (compare Kassam & Trefethen 2005, who average over a
contour for the same purpose). The branches are selected with a double `where`, so
gradients are finite at $z = 0$. Matrix arguments (channel-coupling symbols) use the
augmented-matrix exponential of Al-Mohy & Higham (2011), exact up to `expm`'s accuracy.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
from jaxtyping import Array

_SERIES_TERMS = 20
_SERIES_RADIUS = 1.0


def phi_functions(z: Array) -> tuple[Array, Array, Array, Array]:
    r"""Return $(\varphi_0, \varphi_1, \varphi_2, \varphi_3)$ evaluated elementwise at `z`.

    $\varphi_0(z) = e^z$ and $\varphi_{k+1}(z) = (\varphi_k(z) - 1/k!)/z$, the functions of
    exponential integrators: a series near $z = 0$, where the closed forms cancel, and the
    closed forms elsewhere, so every `z` (real or complex) gets full accuracy.

    ```python
    import jax.numpy as jnp
    import jaxsci.spectral as sp
    p0, p1, p2, p3 = sp.phi_functions(jnp.array([-2.0, 1e-6, 3.0]))
    assert jnp.allclose(p1, jnp.expm1(jnp.array([-2.0, 1e-6, 3.0])) / jnp.array([-2.0, 1e-6, 3.0]))
    assert jnp.allclose(p2[1], 0.5) and jnp.allclose(p3[1], 1.0 / 6.0)   # 1/2! and 1/3! at z -> 0
    ```
    """
    small = jnp.abs(z) < _SERIES_RADIUS
    zs = jnp.where(small, z, jnp.zeros_like(z))
    zl = jnp.where(small, jnp.full_like(z, 2.0), z)
    # Series: phi_3 by Horner, then phi_k = 1/k! + z phi_{k+1} upward (stable for |z| < 1).
    p3 = jnp.full_like(zs, 1.0 / math.factorial(_SERIES_TERMS + 3))
    for n in range(_SERIES_TERMS - 1, -1, -1):
        p3 = 1.0 / math.factorial(n + 3) + zs * p3
    p2s = 0.5 + zs * p3
    p1s = 1.0 + zs * p2s
    p0s = 1.0 + zs * p1s
    # Closed forms, downward recurrence (stable for |z| >= 1).
    p0l = jnp.exp(zl)
    p1l = jnp.expm1(zl) / zl
    p2l = (p1l - 1.0) / zl
    p3l = (p2l - 0.5) / zl
    pick = lambda a, b: jnp.where(small, a, b)  # noqa: E731
    return pick(p0s, p0l), pick(p1s, p1l), pick(p2s, p2l), pick(p3, p3l)


_BALANCE_SWEEPS = 6
_MAX_SQUARINGS = 24


def _balance(mats: Array) -> Array:
    r"""Diagonal scalings $d$ (powers of 2, shape `(P, C)`) such that $D^{-1} A D$ has rows and
    columns of comparable norms (Parlett & Reinsch 1969), for a batch of `(P, C, C)` matrices.

    A coupling symbol such as the wave equation's $\begin{pmatrix}0 & 1\\ -c^2k^2 & 0
    \end{pmatrix}\Delta t$ is far from normal: its entries are $\Delta t$ and $c^2k^2\Delta t$
    while its eigenvalues are $\pm i c k \Delta t$. Scaled, it is $\pm c k \Delta t$ off the
    diagonal, whose exponential `expm` computes to round-off; unscaled, float32 lost 3
    digits, and from a norm of about $10^6$ `expm` returned NaN."""
    c = mats.shape[-1]
    off = 1.0 - jnp.eye(c, dtype=mats.real.dtype)
    scale = jnp.ones(mats.shape[:-1], mats.real.dtype)
    for _ in range(_BALANCE_SWEEPS):
        for i in range(c):
            b = jnp.abs(mats) * off * scale[..., None, :] / scale[..., :, None]
            row, col = jnp.sum(b[..., i, :], -1), jnp.sum(b[..., :, i], -1)
            both = (row > 0) & (col > 0)
            ratio = jnp.where(both, row, 1.0) / jnp.where(both, col, 1.0)
            f = jnp.exp2(jnp.round(0.5 * jnp.log2(ratio)))  # scale_i *= sqrt(row / col), as a power of 2
            scale = scale.at[..., i].multiply(f)
    return jax.lax.stop_gradient(scale)


def phi_functions_matrix(a: Array) -> tuple[Array, Array, Array, Array]:
    r"""$\varphi_0..\varphi_3$ of a batch of matrices `a` of shape `(C, C, *batch)`.

    Uses $\exp\begin{pmatrix} B & I & 0 & 0\\ 0&0&I&0\\0&0&0&I\\0&0&0&0\end{pmatrix}$, whose
    first block row is $(\varphi_0(B), \varphi_1(B), \varphi_2(B), \varphi_3(B))$, for the
    balanced $B = D^{-1} A D$ (`_balance`); then $\varphi_k(A) = D \varphi_k(B) D^{-1}$.
    """
    c = a.shape[0]
    batch = a.shape[2:]
    mats = jnp.moveaxis(a.reshape(c, c, -1), -1, 0)  # (P, C, C)
    scale = _balance(mats)
    mats = mats * scale[:, None, :] / scale[:, :, None]
    p = mats.shape[0]
    aug = jnp.zeros((p, 4 * c, 4 * c), mats.dtype)
    aug = aug.at[:, :c, :c].set(mats)
    eye = jnp.eye(c, dtype=mats.dtype)
    for i in range(3):
        aug = aug.at[:, i * c : (i + 1) * c, (i + 1) * c : (i + 2) * c].set(eye)
    ex = jax.vmap(lambda m: jax.scipy.linalg.expm(m, max_squarings=_MAX_SQUARINGS))(aug)
    unscale = scale[:, :, None] / scale[:, None, :]
    blocks = [ex[:, :c, i * c : (i + 1) * c] * unscale for i in range(4)]
    return tuple(jnp.moveaxis(b, 0, -1).reshape(c, c, *batch) for b in blocks)
