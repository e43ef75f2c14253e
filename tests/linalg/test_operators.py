"""KroneckerSum and FourierMultiplier against dense matrices and analytic Fourier modes."""

import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np
import pytest

from jaxsci.linalg import FourierMultiplier, KroneckerSum, eigsh


def test_kronecker_sum_vs_dense(x64, getkey):
    # reference: sum_j I (x) .. A_j .. (x) I built with jnp.kron; eigenvalues are sums
    a1, a2, a3 = (jax.random.normal(getkey(), (n, n)) for n in (2, 3, 4))
    v = jax.random.normal(getkey(), (24,))
    n = 6
    d2 = jnp.diag(-2.0 * jnp.ones(n)) + jnp.diag(jnp.ones(n - 1), 1) + jnp.diag(jnp.ones(n - 1), -1)

    @jax.jit
    def run(a1, a2, a3, v, d2):
        op = KroneckerSum([a1, a2, a3])
        i2, i3, i4 = jnp.eye(2), jnp.eye(3), jnp.eye(4)
        dense = jnp.kron(jnp.kron(a1, i3), i4) + jnp.kron(jnp.kron(i2, a2), i4) + jnp.kron(jnp.kron(i2, i3), a3)
        ours = (op.mv(v), op.transpose().mv(v), op.as_matrix(), lx.diagonal(op))
        ref = (dense @ v, dense.T @ v, dense, jnp.diagonal(dense))
        # the 2-D Dirichlet Laplacian: eigenvalues are sums of the 1-D ones
        lap_min = eigsh(KroneckerSum([d2, d2]), None, 1, num_matvecs=d2.shape[0] ** 2, which="smallest")[0]
        return ours, ref, lap_min

    ours, ref, lap_min = run(a1, a2, a3, v, d2)
    for got, want in zip(ours, ref):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    lam1 = -4.0 * jnp.sin(jnp.pi * jnp.arange(1, n + 1) / (2 * (n + 1))) ** 2
    np.testing.assert_allclose(lap_min[0], 2 * lam1[-1], rtol=1e-12)
    with pytest.raises(ValueError, match="must be square"):
        KroneckerSum([jnp.ones((2, 3))])


def test_fourier_multiplier_analytic_modes(x64):
    # reference: d/dx sin(3x) = 3 cos(3x); heat kernel exp(-t k^2) on sin(kx); 2-D Laplacian
    n = 32
    x = jnp.linspace(0, 2 * jnp.pi, n, endpoint=False)
    k = jnp.fft.rfftfreq(n, 1.0 / n)
    deriv = FourierMultiplier(1j * k, (n,))
    np.testing.assert_allclose(deriv.mv(jnp.sin(3 * x)), 3 * jnp.cos(3 * x), atol=1e-12)
    heat = FourierMultiplier(jnp.exp(-0.1 * k**2), (n,))
    np.testing.assert_allclose(heat.mv(jnp.sin(4 * x)), jnp.exp(-1.6) * jnp.sin(4 * x), atol=1e-12)
    kx = jnp.fft.fftfreq(n, 1.0 / n)
    lap = FourierMultiplier(-(kx[:, None] ** 2 + kx[None, :] ** 2), (n, n))  # full fftn layout
    u = jnp.sin(2 * x)[:, None] * jnp.cos(5 * x)[None, :]
    np.testing.assert_allclose(lap.mv(u), -29.0 * u, atol=1e-10)


def test_fourier_multiplier_transpose_diagonal_grad(x64, getkey):
    # reference: the dense matrix (as_matrix) for transpose and diagonal; finite differences
    # of the symbol gradient
    def check(sym, shape):
        op = FourierMultiplier(sym, shape)
        dense = op.as_matrix()
        return op.transpose().as_matrix(), dense.T, lx.diagonal(op), jnp.diagonal(dense)

    for shape, sym_shape in [((6, 5), (6, 3)), ((4, 5), (4, 5))]:  # rfftn and fftn layouts
        sym = jax.random.normal(getkey(), sym_shape) + 1j * jax.random.normal(getkey(), sym_shape)
        t, t_ref, d, d_ref = jax.jit(check, static_argnums=1)(sym, shape)
        np.testing.assert_allclose(t, t_ref, atol=1e-13)
        np.testing.assert_allclose(d, d_ref, atol=1e-13)
    v = jax.random.normal(getkey(), (16,))
    k = jnp.fft.rfftfreq(16, 1.0 / 16)
    loss = lambda t: jnp.sum(FourierMultiplier(jnp.exp(-t * k**2), (16,)).mv(v) ** 2)
    g = jax.jit(jax.grad(loss))(0.05)
    values = jax.jit(jax.vmap(loss))(jnp.array([0.05 + 1e-6, 0.05 - 1e-6]))
    np.testing.assert_allclose(g, (values[0] - values[1]) / 2e-6, rtol=1e-6)
    with pytest.raises(ValueError, match="symbol. must have the rfftn shape"):
        FourierMultiplier(jnp.ones(7), (16,))
    with pytest.raises(ValueError, match="shape. must be a non-empty tuple"):
        FourierMultiplier(jnp.ones(3), ())
    with pytest.raises(ValueError, match="vector. must have shape \\(16,\\)"):
        FourierMultiplier(jnp.ones(9), (16,)).mv(jnp.ones(8))
