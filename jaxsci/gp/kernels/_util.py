"""Shared building blocks for the closed-form kernel derivatives."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np

from ..._checks import runtime_check


def as_parameter(name: str, value, *, positive: bool = True, ndim: int | None = 0):
    """Convert `value` to a real float array leaf, validating it.

    Concrete values must be finite and, when `positive`, strictly positive (else non-negative):
    a `ValueError` naming `name`. Traced values (inside `jit`/`vmap`/`grad`) are checked when the
    program runs (`runtime_check`). Complex values are refused (their imaginary part would be
    dropped silently).
    """
    value = jnp.asarray(value)
    if jnp.iscomplexobj(value):
        raise ValueError(f"{name} must be real, got dtype {value.dtype}")
    if not jnp.issubdtype(value.dtype, jnp.floating):
        value = value.astype(float)
    if ndim is not None and value.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {value.shape}")
    if isinstance(value, jax.core.Tracer):
        ok = jnp.isfinite(value) & ((value > 0) if positive else (value >= 0))
        word = "positive" if positive else "non-negative"
        return runtime_check(value, ~jnp.all(ok), f"{name} must be finite and {word}")
    concrete = np.asarray(value)
    if not np.all(np.isfinite(concrete)):
        raise ValueError(f"{name} must be finite, got {concrete}")
    if positive and not np.all(concrete > 0):
        raise ValueError(f"{name} must be positive, got {concrete}")
    if not positive and not np.all(concrete >= 0):
        raise ValueError(f"{name} must be non-negative, got {concrete}")
    return value


def check_order(kernel: str, order, max_order: int, why: str = "") -> int:
    """Validate a static derivative order against what `kernel` supports."""
    if isinstance(order, bool) or not isinstance(order, (int, np.integer)):
        raise ValueError(f"order must be an int, got {order!r}")
    order = int(order)
    if order < 0 or order > max_order:
        reason = f" ({why})" if why and order > max_order else ""
        raise ValueError(f"{kernel} supports derivative orders 0..{max_order}, got order={order}{reason}")
    return order


def hermite_gaussian(tau, inv_lengthscale, order: int) -> list:
    r"""The derivatives $0..\text{order}$ of $\exp(-\tau^2 / (2 \ell^2))$ in $\tau$.

    $\frac{d^n}{d\tau^n} e^{-u^2/2} = (-1)^n \mathrm{He}_n(u) e^{-u^2/2} / \ell^n$, $u = \tau/\ell$,
    with the probabilists' Hermite polynomials from $\mathrm{He}_{n+1} = u \mathrm{He}_n - n \mathrm{He}_{n-1}$.
    """
    u = tau * inv_lengthscale
    g = jnp.exp(-0.5 * u**2)
    hermite = [jnp.ones_like(u), u]
    for n in range(1, order):
        hermite.append(u * hermite[n] - n * hermite[n - 1])
    return [(-inv_lengthscale) ** n * hermite[n] * g for n in range(order + 1)]


def cosine(tau, omega, order: int) -> list:
    r"""The derivatives $0..\text{order}$ of $\cos(\omega \tau)$: $\omega^n \cos(\omega\tau + n\pi/2)$."""
    c, s = jnp.cos(omega * tau), jnp.sin(omega * tau)
    cycle = [c, -s, -c, s]
    return [omega**n * cycle[n % 4] for n in range(order + 1)]


def leibniz(f: list, g: list, order: int):
    r"""$(fg)^{(\text{order})} = \sum_k \binom{n}{k} f^{(k)} g^{(n-k)}$ from derivative lists."""
    return sum(math.comb(order, k) * f[k] * g[order - k] for k in range(order + 1))


def matern_polynomials(base: tuple[float, ...], order: int) -> list[np.ndarray]:
    r"""Coefficients of $Q_n$ with $\frac{d^n}{dr^n}[P(cr) e^{-cr}] = c^n Q_n(cr) e^{-cr}$.

    $Q_0 = P$ and $Q_{n+1} = Q_n' - Q_n$ (coefficients in increasing powers).
    """
    polys = [np.asarray(base, dtype=float)]
    for _ in range(order):
        q = polys[-1]
        dq = np.append(q[1:] * np.arange(1, len(q)), 0.0)
        polys.append(dq - q)
    return polys


def matern(tau, rate, base: tuple[float, ...], order: int) -> list:
    r"""Derivatives $0..\text{order}$ of $\kappa(\tau) = P(c|\tau|) e^{-c|\tau|}$ in $\tau$.

    For $\tau \neq 0$, $\kappa^{(n)}(\tau) = \operatorname{sign}(\tau)^n c^n Q_n(c|\tau|) e^{-c|\tau|}$.
    At $\tau = 0$ this is the derivative wherever $\kappa^{(n)}$ is continuous there (odd
    $Q_n$ vanish at 0 for the orders a Matern kernel supports); callers reject other orders.
    """
    a = rate * jnp.abs(tau)
    e = jnp.exp(-a)
    sign = jnp.sign(tau)
    out = []
    for n, q in enumerate(matern_polynomials(base, order)):
        poly = sum(coef * a**p for p, coef in enumerate(q) if coef != 0.0)
        out.append(sign**n * rate**n * poly * e if n % 2 else rate**n * poly * e)
    return out
