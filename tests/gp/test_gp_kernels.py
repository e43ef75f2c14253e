"""Kernel profiles against autodiff, derivative matrices against profiles, Toeplitz assembly.

References: `jax.grad` of each kernel's order-0 profile (float64), the Taylor expansions of
the Matern kernels at zero, and the explicit per-pair evaluation of `derivative`.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsci.gp.kernels import (
    Matern12,
    Matern32,
    Matern52,
    MaternCosineMixture,
    Periodic,
    SpectralMixture,
    SquaredExponential,
)


def _kernels():
    return {
        "se": (SquaredExponential(0.7, 1.3), 4),
        "m12": (Matern12(0.5, 0.8), 0),
        "m32": (Matern32(0.6, 1.1), 2),
        "m52": (Matern52(0.8, 2.0), 4),
        "per": (Periodic(0.9, 1.3, 1.1), 4),
        "sm": (SpectralMixture(jnp.array([1.0, 0.5]), jnp.array([0.0, 1.2]), jnp.array([0.3, 0.5])), 4),
        "mcm": (MaternCosineMixture(jnp.array([1.0, 0.5]), jnp.array([0.4, 0.9]), jnp.array([0.3, 1.2])), 4),
    }


NAMES = list(_kernels())
TAU = np.array([-2.1, -1.3, -0.4, -0.05, 0.07, 0.25, 0.9, 2.1])


@pytest.mark.parametrize("name", NAMES)
def test_profile_matches_autodiff(name, x64):
    """Every supported order equals nested jax.grad of the order-0 profile (away from 0)."""
    kernel, max_order = _kernels()[name]

    @jax.jit
    def both(kernel, tau):
        fn, refs = (lambda t: kernel.profile(t, 0)), []
        for _ in range(max_order):
            fn = jax.grad(fn)
            refs.append(jax.vmap(fn)(tau))
        return jnp.stack([kernel.profile(tau, o) for o in range(1, max_order + 1)] + refs)

    tau = jnp.asarray(TAU)
    if max_order:
        out = both(kernel, tau)
        closed, ref = out[:max_order], out[max_order:]
        scale = jnp.max(jnp.abs(ref), axis=1, keepdims=True) + 1.0
        assert bool(jnp.all(jnp.abs(closed - ref) <= 1e-12 * scale)), jnp.max(jnp.abs(closed - ref) / scale)
    for order in range(max_order + 1, 5):
        # beyond the orders that exist at tau = 0: an honest ValueError, not a wrong number
        with pytest.raises(ValueError, match="supports derivative orders"):
            kernel.profile(tau, order)


@pytest.mark.parametrize("name", NAMES)
def test_profile_continuous_at_zero(name, x64):
    """Supported orders are continuous at tau = 0 (the value there is the two-sided limit)."""
    kernel, max_order = _kernels()[name]
    tau = jnp.concatenate([jnp.array([0.0, -1e-10, 1e-10]), jnp.asarray(TAU)])
    values = jax.jit(lambda k: jnp.stack([k.profile(tau, o) for o in range(max_order + 1)]))(kernel)
    for row in values:
        scale = 1 + float(jnp.max(jnp.abs(row[3:])))
        np.testing.assert_allclose(row[1:3], row[0] * np.ones(2), atol=1e-7 * scale)


def test_matern_taylor_coefficients(x64):
    """Matern-5/2: kappa''(0) = -5 s2 / (3 l^2), kappa''''(0) = 25 s2 / l^4; Matern-3/2: -3 s2 / l^2."""
    ls, var = 0.8, 2.0
    k = Matern52(ls, var)
    np.testing.assert_allclose(k.profile(0.0, 2), -5 * var / (3 * ls**2), rtol=1e-13)
    np.testing.assert_allclose(k.profile(0.0, 4), 25 * var / ls**4, rtol=1e-13)
    np.testing.assert_allclose(Matern32(ls, var).profile(0.0, 2), -3 * var / ls**2, rtol=1e-13)


def test_spectral_mixture_definition(x64):
    """SpectralMixture order 0 equals the Wilson & Adams formula written out."""
    w, mu, s = np.array([1.0, 0.5]), np.array([0.0, 1.2]), np.array([0.3, 0.5])
    k = SpectralMixture(w, mu, s)
    ref = sum(w[q] * np.exp(-2 * math.pi**2 * TAU**2 * s[q] ** 2) * np.cos(2 * math.pi * mu[q] * TAU) for q in range(2))
    np.testing.assert_allclose(k.profile(TAU), ref, rtol=1e-13)


def test_periodic_definition(x64):
    """Periodic order 0 equals exp(-2 sin^2(pi tau / p) / l^2) written out."""
    k = Periodic(0.9, 1.3, 1.1)
    ref = 1.1 * np.exp(-2 * np.sin(math.pi * TAU / 1.3) ** 2 / 0.9**2)
    np.testing.assert_allclose(k.profile(TAU), ref, rtol=1e-13)


@pytest.mark.parametrize("name", ["m32", "m52", "sm"])
def test_grid_matrix_matches_derivative(name, x64):
    """Toeplitz assembly equals the per-pair derivative matrix on the explicit grid."""
    kernel, max_order = _kernels()[name]
    n, h = 9, 0.17
    pairs = [(a, b) for a in range(max_order + 1) for b in range(max_order + 1 - a)]

    @jax.jit
    def both(kernel):
        x = jnp.arange(n) * h
        return [(kernel.grid_matrix(n, h, ab), kernel.derivative(x, x, ab)) for ab in pairs]

    for toeplitz, explicit in both(kernel):
        np.testing.assert_allclose(toeplitz, explicit, atol=1e-12)


def test_derivative_sign_convention(x64):
    """d/dx' k(x, x') from `derivative` equals autodiff of k in its second argument."""
    k = Matern52(0.6)
    x1, x2 = jnp.array([0.1, 0.5]), jnp.array([0.3, 0.9, 1.4])
    ref = jax.vmap(lambda a: jax.vmap(lambda b: jax.grad(lambda bb: k.profile(a - bb))(b))(x2))(x1)
    np.testing.assert_allclose(k.derivative(x1, x2, (0, 1)), ref, atol=1e-13)
    mixed = jax.vmap(lambda a: jax.vmap(lambda b: jax.grad(jax.grad(lambda aa, bb: k.profile(aa - bb)), 1)(a, b))(x2))(x1)
    np.testing.assert_allclose(k.derivative(x1, x2, (1, 1)), mixed, atol=1e-12)


def test_parameter_gradients_and_vmap(x64):
    """Parameters are leaves: grad w.r.t. lengthscale matches a central difference; vmap = loop."""
    tau = jnp.asarray(TAU)
    f = lambda ls: jnp.sum(SquaredExponential(ls).profile(tau, 2))  # noqa: E731
    fd = (f(0.7 + 1e-6) - f(0.7 - 1e-6)) / 2e-6
    np.testing.assert_allclose(jax.grad(f)(0.7), fd, rtol=1e-7)
    batch = jax.vmap(lambda ls: Matern52(ls).profile(tau, 1))(jnp.array([0.3, 0.6]))
    np.testing.assert_allclose(batch[1], Matern52(0.6).profile(tau, 1), rtol=1e-14)


def test_kernel_errors():
    with pytest.raises(ValueError, match="lengthscale must be positive"):
        SquaredExponential(-1.0)
    with pytest.raises(ValueError, match="period must be positive"):
        Periodic(1.0, 0.0)
    with pytest.raises(ValueError, match="same shape"):
        SpectralMixture(jnp.ones(2), jnp.ones(3), jnp.ones(2))
    with pytest.raises(ValueError, match="Matern12 supports derivative orders 0..0"):
        Matern12(1.0).derivative(jnp.zeros(2), jnp.zeros(2), (1, 0))
    with pytest.raises(ValueError, match="orders must be"):
        Matern52(1.0).derivative(jnp.zeros(2), jnp.zeros(2), (3, 2))
