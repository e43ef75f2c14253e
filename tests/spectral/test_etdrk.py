"""ETDRK integrators: phi functions, orders of convergence, coupling, validation."""

import jax
import jax.numpy as jnp
import mpmath
import numpy as np
import pytest

import jaxsci.spectral as sp


def _phi_mp(k, z):
    z = mpmath.mpc(z)
    if z == 0:
        return mpmath.mpf(1) / mpmath.factorial(k)
    s = mpmath.exp(z) - sum(z**n / mpmath.factorial(n) for n in range(k))
    return s / z**k


def test_phi_functions_small_and_large(x64):
    # Reference: 50-digit mpmath evaluation; covers |z| from 1e-10 to 500, real/complex.
    mpmath.mp.dps = 50
    zs = np.array([0.0, 1e-10, -1e-5, 0.3 + 0.4j, 0.99, -1.01, 3.0j, -7.0, 20.0, -500.0, -40 + 30j])
    got = sp.phi_functions(jnp.asarray(zs, jnp.complex128))
    for k in range(4):
        want = np.array([complex(_phi_mp(k, z)) for z in zs])
        np.testing.assert_allclose(np.asarray(got[k]), want, rtol=2e-14, atol=1e-300)
    # Gradients are finite at z = 0 and equal phi_{k+1}'(0) = 1/(k+2)!.
    g = jax.grad(lambda z: sp.phi_functions(z)[3])(0.0)
    assert np.isclose(g, 1 / 24)


def _burgers_setup():
    d = sp.PeriodicDomain(64)
    (x,) = d.grid()
    u0 = (jnp.sin(x) * (1 + 0.5 * jnp.cos(2 * x)))[None]
    return d, u0, sp.Burgers(d, 0.05)


_REF = {}


def _reference():
    if "u" not in _REF:
        d, u0, pde = _burgers_setup()
        _REF["u"] = sp.rollout(sp.ETDRK(pde, 1.0 / 1000, 4), u0, 1000, save_every=1000)[-1]
    return _REF["u"]


@pytest.mark.parametrize(
    "order,scheme",
    [(1, "cox-matthews"), (2, "cox-matthews"), (3, "cox-matthews"), (4, "cox-matthews"), (4, "krogstad")],
)
def test_order_of_convergence(x64, order, scheme):
    # Reference: a fine ETDRK4 solution (dt = 1/1000) of viscous Burgers up to t = 1;
    # the order is the log-log slope of the error against dt.
    d, u0, pde = _burgers_setup()
    ref = _reference()

    @jax.jit
    def solve(dt, n):
        stepper = sp.ETDRK(pde, dt, order, scheme=scheme)
        u_hat = jax.lax.fori_loop(0, n, lambda i, u: stepper.step_fourier(u), stepper.to_fourier(u0))
        return stepper.from_fourier(u_hat)

    ns = np.array([10, 20, 40, 80])
    errs = [float(jnp.linalg.norm(solve(1.0 / n, n) - ref)) for n in ns]
    slope = np.polyfit(np.log(1.0 / ns), np.log(errs), 1)[0]
    assert abs(slope - order) < 0.3, (slope, errs)


def test_large_stiffness_is_stable_and_exact_linear(x64):
    # Reference: exact solution of u_t = -mu u_xxxx for a single mode, with |L dt| ~ 1e6:
    # all orders must reproduce exp(L t) (no cancellation error in the coefficients).
    d = sp.PeriodicDomain(64)
    (x,) = d.grid()
    u0 = (jnp.sin(x) + 1e-3 * jnp.cos(30 * x))[None]
    for order in range(5):
        st = sp.ETDRK(sp.HyperDiffusion(d, 1.0), 1.5, order)
        u = sp.rollout(st, u0, 2)[-1]
        np.testing.assert_allclose(u, jnp.sin(x)[None] * np.exp(-3.0), atol=1e-14)


def test_coupled_wave_equation(x64):
    # Reference: d'Alembert single mode u = cos(c k t) sin(k x), v = u_t, for the
    # channel-coupling symbol of the first-order wave system (matrix phi functions).
    d = sp.PeriodicDomain((16, 8), (2 * np.pi, np.pi))
    x, y = d.grid()
    c, k = 0.7, np.sqrt(2**2 + 2**2)
    mode = jnp.sin(2 * x) * jnp.cos(2 * y)
    u0 = jnp.stack([mode, jnp.zeros_like(mode)])
    st = sp.ETDRK(sp.Wave(d, c), 0.1, 4)
    u = sp.rollout(st, u0, 30)[-1]
    t = 3.0
    np.testing.assert_allclose(u[0], np.cos(c * k * t) * mode, atol=1e-12)
    np.testing.assert_allclose(u[1], -c * k * np.sin(c * k * t) * mode, atol=1e-12)


def test_validation_errors():
    d = sp.PeriodicDomain(16)
    pde = sp.Burgers(d, 0.1)
    with pytest.raises(ValueError, match="dt"):
        sp.ETDRK(pde, 0.0)
    with pytest.raises(ValueError, match="dt"):
        sp.ETDRK(pde, -1.0)
    with pytest.raises(ValueError, match="order"):
        sp.ETDRK(pde, 0.1, 5)
    with pytest.raises(ValueError, match="order"):
        sp.ETDRK(pde, 0.1, -1)
    with pytest.raises(ValueError, match="nu"):
        sp.Burgers(d, float("nan"))
    with pytest.raises(ValueError, match="velocity"):
        sp.Advection(d, [1.0, 2.0])
    with pytest.raises(ValueError, match="scheme"):
        sp.ETDRK(pde, 0.1, 4, scheme="rk4")
    with pytest.raises(TypeError, match="pde"):
        sp.ETDRK(d, 0.1)
    st = sp.ETDRK(pde, 0.1)
    with pytest.raises(ValueError, match="u"):
        st(jnp.zeros((1, 17)))
    with pytest.raises(ValueError, match="u"):
        st(jnp.zeros((16,)))
    with pytest.raises(TypeError, match="real"):
        st(jnp.zeros((1, 16), jnp.complex64))
    with pytest.raises(ValueError, match="2D"):
        sp.NavierStokes2D(d)


def test_float32_default_path():
    # Reference: Taylor-Green vorticity 2 sin x sin y exp(-2 nu t) (nonlinearity vanishes).
    d = sp.PeriodicDomain((32, 32))
    x, y = d.grid()
    w0 = (2 * jnp.sin(x) * jnp.sin(y))[None]
    assert w0.dtype == jnp.float32
    st = sp.ETDRK(sp.NavierStokes2D(d, 0.05), 0.1, 4)
    w = sp.rollout(st, w0, 10)
    assert w.dtype == jnp.float32
    np.testing.assert_allclose(w[-1], w0 * np.exp(-0.1), atol=2e-6)
