r"""The exponential-integrator functions $\varphi_k(z) = \sum_{n\ge0} z^n/(n+k)!$, k = 0..3.

Diagonal (scalar) arguments use a Taylor series for $|z| < 1$ and the closed forms
$\varphi_{k+1}(z) = (\varphi_k(z) - 1/k!)/z$ otherwise, so that no catastrophic cancellation
occurs for small $|z|$ and no overflow of the series for large $|z|$: both branches are
accurate to a few ulps everywhere (compare Kassam & Trefethen 2005, who average over a
contour for the same purpose). The branches are selected with a double `where`, so
gradients are finite at $z = 0$. Matrix arguments (channel-coupling symbols) are balanced,
scaled by a power of 2 to a norm of at most 1, expanded in series, and doubled back with
the phi-function squaring formulas (the augmented-matrix exponential of Al-Mohy & Higham
2011, squared blockwise): a fixed, elementwise program over the batch, accurate to a few
ulps times the number of doublings.
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
_MATRIX_TERMS = 16
_MAX_SQUARINGS = 64


def _matmul(a: Array, b: Array) -> Array:
    """Batched product of `(C, C, P)` matrices, written out over the inner index: plain
    elementwise work over the batch axis P, which XLA fuses (no library call per matrix)."""
    return sum(a[:, j : j + 1] * b[j : j + 1] for j in range(a.shape[1]))


def _balance(mats: Array) -> Array:
    r"""Diagonal scalings $d$ (powers of 2, shape `(C, P)`) such that $D^{-1} A D$ has rows and
    columns of comparable norms (Parlett & Reinsch 1969), for a batch of `(C, C, P)` matrices.

    A coupling symbol such as the wave equation's $\begin{pmatrix}0 & 1\\ -c^2k^2 & 0
    \end{pmatrix}\Delta t$ is far from normal: its entries are $\Delta t$ and $c^2k^2\Delta t$
    while its eigenvalues are $\pm i c k \Delta t$. Scaled, it is $\pm c k \Delta t$ off the
    diagonal, a norm equal to its spectral radius, so that scaling and squaring needs no more
    squarings than the eigenvalues ask for; unscaled, float32 lost 3 digits on the wave
    symbol, and from a norm of about $10^6$ `expm` returned NaN."""
    c = mats.shape[0]
    off = (1.0 - jnp.eye(c, dtype=mats.real.dtype))[:, :, None]
    absm = jnp.abs(mats) * off

    def sweep(_, scale):
        for i in range(c):
            b = absm * scale[None, :, :] / scale[:, None, :]
            row, col = jnp.sum(b[i], 0), jnp.sum(b[:, i], 0)
            both = (row > 0) & (col > 0)
            ratio = jnp.where(both, row, 1.0) / jnp.where(both, col, 1.0)
            f = jnp.exp2(jnp.round(0.5 * jnp.log2(ratio)))  # scale_i *= sqrt(row / col), as a power of 2
            scale = scale.at[i].multiply(f)
        return scale

    # One sweep balances a 2 x 2 matrix; a loop keeps the program small for larger C.
    sweeps = 1 if c <= 2 else _BALANCE_SWEEPS
    scale = jax.lax.fori_loop(0, sweeps, sweep, jnp.ones(mats.shape[1:], mats.real.dtype))
    return jax.lax.stop_gradient(scale)


def phi_functions_matrix(a: Array) -> tuple[Array, Array, Array, Array]:
    r"""$\varphi_0..\varphi_3$ of a batch of matrices `a` of shape `(C, C, *batch)`.

    For the balanced $B = D^{-1} A D$ (`_balance`), $s \ge 0$ is the least integer with
    $\|B\|_1 \le 2^s$ and $X = 2^{-s} B$ (exact). Then $\varphi_3(X) = \sum_{n<16} X^n/(n+3)!$
    by Horner (the first term left out is below $1/19!$, under $10^{-16}$ of $\|\varphi_3(X)\|$),
    $\varphi_k(X) = I/k! + X\varphi_{k+1}(X)$ and $F = \varphi_0(X) - I = X\varphi_1(X)$, and
    $s$ doublings
    $$F(2X) = 2F + F^2,\quad \varphi_1(2X) = \varphi_1 + F\varphi_1/2,\quad
    \varphi_2(2X) = (2\varphi_2 + F\varphi_2 + \varphi_1)/4,$$
    $$\varphi_3(2X) = (2\varphi_3 + F\varphi_3 + \varphi_1/2 + \varphi_2)/8$$
    (the squaring of the augmented matrix $\begin{pmatrix} B & I & 0 & 0\\ 0&0&I&0\\0&0&0&I\\
    0&0&0&0\end{pmatrix}$ of Al-Mohy & Higham 2011, blockwise, as in Skaflestad & Wright 2009)
    give $\varphi_k(B)$; finally $\varphi_k(A) = D \varphi_k(B) D^{-1}$. Carrying
    $F = \varphi_0 - I$ rather than $\varphi_0$ keeps eigenvalues far below the norm: in
    $I + X$ their contribution would round away (a plain squaring of $\varphi_0$ loses about
    $2^s$ ulps there, which is also what $\varphi_1..\varphi_3$ lost with it). $\varphi_0$ is
    also squared directly, $\varphi_0(2X) = \varphi_0^2$, and that one is returned where it
    has decayed everywhere ($2^s\|\varphi_0\|_1 < s + 1$): then $I + F$ would only be accurate
    to $s$ ulps of 1, the squares to about $2^s$ ulps of $\|\varphi_0\|$.

    Every matrix goes through the same fixed program: `_MAX_SQUARINGS` = 64 doubling steps,
    each applied where $s$ asks for it, elementwise over the batch (no LAPACK call, no
    data-dependent loop). A symbol with $\|B\|_1 > 2^{64}$ (or not finite) gets NaN.
    (`jax.scipy.linalg.expm` of the augmented matrices, used before, ran batched LAPACK LU
    custom calls; on the CPU two of them running at once, as for $\varphi(z)$ and
    $\varphi(z/2)$ in ETDRK3/4, each waited on work queued on the thread pool they both
    occupied: with 2 threads, builds on 64^2 and 128^2 grids deadlocked in about a third of runs.)
    """
    c = a.shape[0]
    batch = a.shape[2:]
    mats = a.reshape(c, c, -1)  # (C, C, P)
    scale = _balance(mats)
    b = mats * scale[None, :, :] / scale[:, None, :]
    norm = jax.lax.stop_gradient(jnp.max(jnp.sum(jnp.abs(b), 0), 0))  # 1-norm, (P,)
    s = jnp.maximum(jnp.frexp(norm)[1], 0)  # norm <= 2^s
    x = b * jnp.ldexp(jnp.ones_like(norm), -s)  # exact: a power of 2
    eye = jnp.broadcast_to(jnp.eye(c, dtype=b.dtype)[:, :, None], b.shape)
    coef = jnp.asarray([1.0 / math.factorial(n + 3) for n in range(_MATRIX_TERMS)], b.real.dtype)
    horner = lambda j, p: coef[_MATRIX_TERMS - 2 - j] * eye + _matmul(x, p)  # noqa: E731
    p3 = jax.lax.fori_loop(0, _MATRIX_TERMS - 1, horner, coef[-1] * eye)
    p2 = 0.5 * eye + _matmul(x, p3)
    p1 = eye + _matmul(x, p2)
    f = _matmul(x, p1)  # phi_0 - I

    def double(ps, i):
        p0, f, p1, p2, p3 = ps
        fp1, fp2, fp3 = _matmul(f, p1), _matmul(f, p2), _matmul(f, p3)
        q = (
            _matmul(p0, p0),
            2.0 * f + _matmul(f, f),
            p1 + 0.5 * fp1,
            0.25 * (2.0 * p2 + fp2 + p1),
            0.125 * (2.0 * p3 + fp3 + 0.5 * p1 + p2),
        )
        return tuple(jnp.where(i < s, qk, pk) for qk, pk in zip(q, ps)), None

    steps = jnp.arange(_MAX_SQUARINGS, dtype=s.dtype)
    (p0, f, p1, p2, p3), _ = jax.lax.scan(double, (eye + f, f, p1, p2, p3), steps)
    # phi_0 both ways (see above): expected errors s eps and 2^s eps ||phi_0||.
    p0_norm = jax.lax.stop_gradient(jnp.max(jnp.sum(jnp.abs(p0), 0), 0))
    p0 = jnp.where(jnp.ldexp(p0_norm, s) < s + 1, p0, eye + f)
    bad = (s > _MAX_SQUARINGS) | ~jnp.isfinite(norm)
    unscale = scale[:, None, :] / scale[None, :, :]
    return tuple(jnp.where(bad, jnp.nan, p * unscale).reshape(c, c, *batch) for p in (p0, p1, p2, p3))
