"""Nonlinear PDEs against exact solutions, invariants and reference ODE solutions."""

import jax
import jax.numpy as jnp
import numpy as np

import jaxsci.spectral as sp


def _final(pde, dt, n, u0, order=4, **kw):
    return sp.rollout(sp.ETDRK(pde, dt, order, **kw), u0, n, save_every=n)[-1]


def test_burgers_cole_hopf(x64):
    # Reference: Cole-Hopf, u = -2 nu phi_x / phi with phi = 1 + a exp(-nu t) cos x.
    d, nu, a = sp.PeriodicDomain(128), 0.05, 0.9
    (x,) = d.grid()
    exact = lambda t: 2 * nu * a * np.exp(-nu * t) * np.sin(x) / (1 + a * np.exp(-nu * t) * np.cos(x))  # noqa: E731
    u = _final(sp.Burgers(d, nu), 0.01, 100, exact(0.0)[None])
    np.testing.assert_allclose(u[0], exact(1.0), atol=1e-9)
    assert abs(float(u.mean())) < 1e-14  # conservation of the mean (zero initially)


def test_kdv_soliton(x64):
    # Reference: u = -(c/2) sech^2(sqrt(c)/2 (x - c t - a)) solves u_t - 6 u u_x + u_xxx = 0.
    length, c = 40.0, 2.0
    d = sp.PeriodicDomain(256, length)
    (x,) = d.grid()
    sol = lambda t: -(c / 2) / np.cosh(np.sqrt(c) / 2 * (x - c * t - length / 2)) ** 2  # noqa: E731
    u = _final(sp.KortewegDeVries(d), 2e-3, 500, sol(0.0)[None])
    np.testing.assert_allclose(u[0], sol(1.0), atol=2e-8)


def test_ks_mean_conservation(x64, getkey):
    # Reference: both KS forms conserve the spatial mean (exactly, by construction of the
    # conservative term, and by the zero-mean fix of the gradient form); chaos develops.
    d = sp.PeriodicDomain(64, 32 * np.pi)
    u0 = sp.random_fourier_series(getkey(), d, max_wavenumber=5) + 0.3
    for pde in (sp.KuramotoSivashinskyConservative(d), sp.KuramotoSivashinsky(d)):
        traj = sp.rollout(sp.ETDRK(pde, 0.2, 4), u0, 200, save_every=50)
        np.testing.assert_allclose(traj.mean(axis=(1, 2)), 0.3, atol=1e-12)
        assert float(jnp.abs(traj[-1] - u0).max()) > 0.5


def test_navier_stokes_2d_taylor_green_and_kolmogorov(x64):
    # Reference: Taylor-Green w = 2 sin x sin y exp(-(2 nu + drag) t) on a non-square
    # box [0, 2pi) x [0, 4pi); laminar Kolmogorov flow w = -A kf cos(kf y)/(nu kf^2 + drag)
    # is a fixed point of the forced equations.
    d = sp.PeriodicDomain((32, 64), (2 * np.pi, 4 * np.pi))
    x, y = d.grid()
    w0 = (2 * jnp.sin(x) * jnp.sin(y))[None]
    w = _final(sp.NavierStokes2D(d, 0.05, drag=0.1), 0.1, 20, w0)
    np.testing.assert_allclose(w, w0 * np.exp(-(0.1 + 0.1) * 2.0), atol=1e-13)
    pde = sp.NavierStokes2D(d, 0.05, drag=0.1, forcing_amplitude=1.0, forcing_mode=4)
    kf = 2 * np.pi * 4 / (4 * np.pi)
    ws = (-kf * jnp.cos(kf * y) / (0.05 * kf**2 + 0.1))[None]
    np.testing.assert_allclose(_final(pde, 0.1, 20, ws), ws, atol=1e-12)


def test_navier_stokes_3d_abc_flow(x64):
    # Reference: ABC (Beltrami) flow, curl u = u, so P[(u.grad)u] = 0 and u decays as
    # exp(-nu t); the divergence stays zero.
    d = sp.PeriodicDomain((16, 12, 8))
    x, y, z = d.grid()
    a, b, c = 1.0, 0.7, 0.4
    u0 = jnp.stack([a * jnp.sin(z) + c * jnp.cos(y), b * jnp.sin(x) + a * jnp.cos(z), c * jnp.sin(y) + b * jnp.cos(x)])
    u = _final(sp.NavierStokes3D(d, 0.1), 0.1, 10, u0, order=2)
    np.testing.assert_allclose(u, u0 * np.exp(-0.1), atol=1e-13)


def test_nls_bright_soliton(x64):
    # Reference: psi = a sech(a(x - x0 - v t)) exp(i(v x + (a^2 - v^2) t / 2)) solves
    # i psi_t + psi_xx / 2 + |psi|^2 psi = 0; mass int |psi|^2 is conserved. The 2/3 rule
    # would cut the soliton spectrum at ~5e-8 on this grid, so dealiasing is off.
    length = 50.0
    d = sp.PeriodicDomain(256, length)
    (x,) = d.grid()
    amp, v, x0 = 1.0, 2 * np.pi * 3 / length, length / 2
    sol = lambda t: amp / np.cosh(amp * (x - x0 - v * t)) * np.exp(1j * (v * x + (amp**2 - v**2) * t / 2))  # noqa: E731
    traj = sp.rollout(sp.ETDRK(sp.NonlinearSchrodinger(d), 5e-3, 4, dealiasing=None), jnp.asarray(sol(0.0))[None], 400, save_every=200)
    assert jnp.iscomplexobj(traj)
    np.testing.assert_allclose(traj[-1, 0], sol(2.0), atol=1e-8)
    mass = jnp.sum(jnp.abs(traj) ** 2, axis=(1, 2))
    np.testing.assert_allclose(mass, np.sum(np.abs(sol(0.0)) ** 2), rtol=1e-9)


def test_complex_ginzburg_landau_plane_wave(x64):
    # Reference: A = sqrt(1 - q^2) exp(i(q x - w t)), w = alpha q^2 + beta (1 - q^2).
    d = sp.PeriodicDomain(32, 4 * np.pi)
    (x,) = d.grid()
    q, alpha, beta = 0.5, 0.8, -1.2
    om = alpha * q**2 + beta * (1 - q**2)
    sol = lambda t: np.sqrt(1 - q**2) * np.exp(1j * (q * x - om * t))  # noqa: E731
    a = _final(sp.ComplexGinzburgLandau(d, alpha, beta), 0.01, 100, jnp.asarray(sol(0.0))[None])
    np.testing.assert_allclose(a[0], sol(1.0), atol=1e-9)


def _rk4_ode(f, y0, t, n=4000):
    y, h = np.array(y0, float), t / n
    for _ in range(n):
        k1 = f(y)
        k2 = f(y + h / 2 * k1)
        k3 = f(y + h / 2 * k2)
        k4 = f(y + h * k3)
        y = y + h / 6 * (k1 + 2 * k2 + 2 * k3 + k4)
    return y


def test_reaction_terms_on_uniform_states(x64):
    # Reference: a uniform state obeys the reaction ODE. Fisher-KPP: the logistic law;
    # Allen-Cahn: u(t) = u0 e^t / sqrt(1 + u0^2 (e^{2t} - 1)); Gray-Scott: a 4000-step
    # classical RK4 solution of u' = -uv^2 + F(1-u), v' = uv^2 - (F+k)v.
    d = sp.PeriodicDomain((8, 6))
    one = jnp.ones((1, 8, 6))
    t, u0 = 2.0, 0.2
    u = _final(sp.FisherKPP(d, 0.1, 1.5), 0.02, 100, u0 * one)
    np.testing.assert_allclose(u, 1 / (1 + (1 / u0 - 1) * np.exp(-1.5 * t)), rtol=5e-8)  # ETDRK4 time error at dt = 0.02
    u = _final(sp.AllenCahn(d, 0.1), 0.02, 100, u0 * one)
    np.testing.assert_allclose(u, u0 * np.exp(t) / np.sqrt(1 + u0**2 * (np.exp(2 * t) - 1)), rtol=5e-8)
    feed, kill = 0.04, 0.06
    ode = lambda y: np.array([-y[0] * y[1] ** 2 + feed * (1 - y[0]), y[0] * y[1] ** 2 - (feed + kill) * y[1]])  # noqa: E731
    ref = _rk4_ode(ode, [0.6, 0.3], 10.0)
    uv = _final(sp.GrayScott(d, feed=feed, kill=kill), 0.05, 200, jnp.concatenate([0.6 * one, 0.3 * one]))
    np.testing.assert_allclose(uv[:, 0, 0], ref, rtol=1e-9)
    np.testing.assert_allclose(uv.std(axis=(1, 2)), 0.0, atol=1e-14)


def test_pattern_formation_linear_rates_and_invariants(x64, getkey):
    # Reference: the linearisation about u = 0: a mode of amplitude 1e-7 grows like
    # exp(sigma(k) t) with sigma = k^2 - gamma k^4 (Cahn-Hilliard) and
    # r - (kc^2 - k^2)^2 (Swift-Hohenberg); Cahn-Hilliard conserves the mean and
    # decreases its free energy.
    d = sp.PeriodicDomain(64, 8 * np.pi)
    (x,) = d.grid()
    k = 2 * np.pi * 3 / (8 * np.pi)
    u0 = 1e-7 * jnp.cos(k * x)[None]
    gamma, r = 0.5, 0.3
    u = _final(sp.CahnHilliard(d, gamma), 0.05, 40, u0)
    np.testing.assert_allclose(u, u0 * np.exp((k**2 - gamma * k**4) * 2.0), rtol=1e-6, atol=1e-13)
    u = _final(sp.SwiftHohenberg(d, r, 1.0), 0.05, 40, u0)
    np.testing.assert_allclose(u, u0 * np.exp((r - (1 - k**2) ** 2) * 2.0), rtol=1e-6, atol=1e-13)

    ch = sp.CahnHilliard(d, 0.5)
    v0 = 0.1 + 0.5 * sp.random_fourier_series(getkey(), d, max_wavenumber=6)
    traj = sp.rollout(sp.ETDRK(ch, 0.05, 4), v0, 200, save_every=20)

    def energy(u):
        ux = d.ifft(d.derivative(0) * d.fft(u))
        return jnp.mean(0.25 * (u**2 - 1) ** 2 + 0.5 * 0.5 * ux**2)

    es = jax.vmap(energy)(traj)
    assert bool(jnp.all(jnp.diff(es) < 0)) and float(es[0] - es[-1]) > 1e-2
    np.testing.assert_allclose(traj.mean(axis=(1, 2)), float(v0.mean()), atol=1e-13)
