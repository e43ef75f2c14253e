"""NavierStokes2D's nonlinear term (Basdevant's four-transform form), its forcing spectrum,
and a sharded NS2D ensemble.

References: the advective form -(u w_x + v w_y) computed in the test from the same Fourier
coefficients with numpy FFTs (dealiased: both are the same exact product on the kept modes);
the FFT of the forcing on the grid; the same jitted ensemble on one device.
"""

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

import jaxsci.spectral as sp


def _advective_reference(domain, w_hat):
    """-(u w_x + v w_y) with psi = w / |k|^2, u = psi_y, v = -psi_x, in numpy (rfft layout)."""
    n0, n1 = domain.shape
    k0 = 2 * np.pi * np.fft.fftfreq(n0, 1.0 / n0)[:, None] / domain.extent[0]
    k1 = 2 * np.pi * np.fft.rfftfreq(n1, 1.0 / n1)[None, :] / domain.extent[1]
    # odd derivatives zero the Nyquist modes of even axes
    k0 = np.where(np.abs(np.fft.fftfreq(n0, 1.0 / n0)[:, None]) == n0 / 2, 0.0, k0)
    k1 = np.where(np.fft.rfftfreq(n1, 1.0 / n1)[None, :] == n1 / 2, 0.0, k1)
    k2 = (2 * np.pi * np.fft.fftfreq(n0, 1.0 / n0)[:, None] / domain.extent[0]) ** 2 + (
        2 * np.pi * np.fft.rfftfreq(n1, 1.0 / n1)[None, :] / domain.extent[1]
    ) ** 2
    psi = np.where(k2 == 0, 0.0, w_hat / np.where(k2 == 0, 1.0, k2))
    ifft = lambda f: np.fft.irfft2(f, s=domain.shape)  # noqa: E731
    u, v = ifft(1j * k1 * psi), ifft(-1j * k0 * psi)
    wx, wy = ifft(1j * k0 * w_hat), ifft(1j * k1 * w_hat)
    return -np.fft.rfft2(u * wx + v * wy)


def test_nonlinear_term_equals_advective_form(x64):
    d = sp.PeriodicDomain((24, 40), (3.0, 5.0))  # unequal N, L and spacings
    w = np.random.default_rng(0).standard_normal(d.shape)
    pde = sp.NavierStokes2D(d, 1e-3)
    mask = np.asarray(d.dealiasing_mask(2 / 3))
    w_hat = np.fft.rfft2(w) * mask
    ours = np.asarray(jax.jit(lambda u: pde.nonlinear(u))(jnp.asarray(w_hat)[None]))[0] * mask
    ref = _advective_reference(d, w_hat) * mask
    np.testing.assert_allclose(ours, ref, atol=1e-12 * np.abs(ref).max())


def test_forcing_spectrum_equals_fft_of_forcing(x64):
    d = sp.PeriodicDomain((16, 24), (2.0, 3.0))
    pde = sp.NavierStokes2D(d, 0.01, forcing_amplitude=1.7, forcing_mode=3)
    ref = d.fft(pde.forcing())
    np.testing.assert_allclose(pde.forcing_hat(), ref, atol=1e-13 * float(jnp.abs(ref).max()))
    # and the stepper's Kolmogorov laminar state is still stationary (analytic)
    kf = 2 * np.pi * 3 / 3.0
    w0 = -1.7 * kf * np.cos(kf * d.grid()[1]) / (0.01 * kf**2)
    w1 = sp.rollout(sp.ETDRK(pde, 0.05, 1), w0[None], 5)[-1]  # exact for a constant N at any order
    np.testing.assert_allclose(w1[0], w0, atol=1e-10 * np.abs(w0).max())


def test_sharded_navier_stokes_ensemble_matches_one_device():
    # Reference: the same jitted, vmapped NS2D rollout on one device; the ensemble axis
    # (8 members, 8 viscosities) is split over the 4 virtual CPU devices.
    devices = jax.devices()
    assert len(devices) >= 4, "tests/conftest.py sets 4 virtual CPU devices"
    mesh = Mesh(np.array(devices[:4]), ("ens",))
    d = sp.PeriodicDomain((16, 16))
    w0s = jax.vmap(lambda k: sp.random_fourier_series(k, d, max_wavenumber=3))(jax.random.split(jax.random.key(4), 8))
    nus = jnp.linspace(0.01, 0.05, 8)

    def run(nu, w0):
        return sp.rollout(sp.ETDRK(sp.NavierStokes2D(d, nu), 0.05, 2), w0, 6, save_every=3)

    f = jax.jit(jax.vmap(run))
    ref = f(nus, w0s)
    shard = NamedSharding(mesh, P("ens"))
    out = f(jax.device_put(nus, shard), jax.device_put(w0s, shard))
    assert len(out.sharding.device_set) == 4
    assert ref.shape == (8, 2, 1, 16, 16)
    np.testing.assert_allclose(np.asarray(out), np.asarray(ref), rtol=1e-5, atol=1e-5)
    # the ensemble really evolved (the nonlinear term is not zero for these fields)
    assert float(jnp.max(jnp.abs(out[:, -1] - w0s))) > 1e-3
