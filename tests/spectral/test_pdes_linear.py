"""Linear PDEs against exact single-mode solutions after many steps."""

import jax.numpy as jnp
import numpy as np

import jaxsci.spectral as sp

# A non-cubic 2D box: [0, 2pi) x [0, pi) with 32 x 16 points.
D2 = sp.PeriodicDomain((32, 16), (2 * np.pi, np.pi))


def _mode():
    x, y = D2.grid()
    return x, y, jnp.sin(3 * x + 4 * y)  # wavevector k = (3, 4) (mode (3, 2) of the box)


def _run(pde, dt, n, u0, order):
    return sp.rollout(sp.ETDRK(pde, dt, order), u0[None], n, save_every=n)[-1, 0]


def test_diffusion_advection_exact(x64):
    # Reference: u = exp(-nu |k|^2 t) sin(k.(x - c t)); |k|^2 = 25. ETDRK is exact for
    # linear PDEs at every order, even with 200 steps.
    x, y, u0 = _mode()
    t, nu, c = 2.0, 0.01, jnp.array([0.3, -0.2])
    u = _run(sp.Diffusion(D2, nu), 0.01, 200, u0, 4)
    np.testing.assert_allclose(u, np.exp(-25 * nu * t) * u0, atol=1e-13)
    u = _run(sp.Advection(D2, c), 0.01, 200, u0, 0)
    np.testing.assert_allclose(u, jnp.sin(3 * (x - c[0] * t) + 4 * (y - c[1] * t)), atol=1e-12)
    u = _run(sp.AdvectionDiffusion(D2, c, nu), 0.01, 200, u0, 2)
    want = np.exp(-25 * nu * t) * jnp.sin(3 * (x - c[0] * t) + 4 * (y - c[1] * t))
    np.testing.assert_allclose(u, want, atol=1e-12)


def test_dispersion_and_hyperdiffusion_exact(x64):
    # Reference: u_t = a (u_xxx + u_yyy) shifts the phase of sin(3x + 4y) by
    # -a (27 + 64) t; hyper-diffusion decays it as exp(-mu |k|^4 t) = exp(-625 mu t).
    x, y, u0 = _mode()
    t, a, mu = 1.0, 0.01, 1e-3
    u = _run(sp.Dispersion(D2, a), 0.01, 100, u0, 1)
    np.testing.assert_allclose(u, jnp.sin(3 * x + 4 * y - a * (27 + 64) * t), atol=1e-12)
    u = _run(sp.HyperDiffusion(D2, mu), 0.01, 100, u0, 3)
    np.testing.assert_allclose(u, np.exp(-mu * 625 * t) * u0, atol=1e-13)
