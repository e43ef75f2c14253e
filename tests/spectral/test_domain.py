"""PeriodicDomain: grids, wavenumbers, Nyquist handling, dealiasing, ICs and metrics."""

import jax.numpy as jnp
import numpy as np
import pytest

import jaxsci.spectral as sp


def test_grid_and_spectral_derivative_non_cubic(x64):
    # Reference: analytic derivatives of a band-limited function on a non-cubic 2D grid.
    d = sp.PeriodicDomain((24, 10), (3.0, 2.0))
    x, y = d.grid()
    assert x.shape == (24, 10) and float(x[1, 0]) == pytest.approx(3.0 / 24)
    kx, ky = 2 * np.pi / 3.0, 2 * np.pi / 2.0
    u = jnp.sin(2 * kx * x) * jnp.cos(3 * ky * y)
    u_hat = d.fft(u[None])
    dudx = d.ifft(d.derivative(0) * u_hat)[0]
    lap = d.ifft(d.laplacian() * u_hat)[0]
    np.testing.assert_allclose(dudx, 2 * kx * jnp.cos(2 * kx * x) * jnp.cos(3 * ky * y), atol=1e-12)
    np.testing.assert_allclose(lap, -((2 * kx) ** 2 + (3 * ky) ** 2) * u, atol=1e-10)


@pytest.mark.parametrize("complex_field", [False, True])
def test_nyquist_mode_even_n(x64, complex_field):
    # Reference: at even N, cos(N x / 2) sampled on the grid is the alternating sequence,
    # whose derivative must be zero (not i k times it) so real fields stay real, while its
    # second derivative is -(N/2)^2 cos(N x / 2) exactly.
    d = sp.PeriodicDomain(8)
    (x,) = d.grid()
    u = jnp.cos(4 * x)[None]
    u_hat = d.fft(u, complex_field)
    du = d.ifft(d.derivative(0, 1, complex_field) * u_hat, complex_field)
    d2u = d.ifft(d.derivative(0, 2, complex_field) * u_hat, complex_field)
    np.testing.assert_allclose(du, 0.0, atol=1e-13)
    np.testing.assert_allclose(d2u, -16.0 * u, atol=1e-12)
    assert jnp.all(d.wavenumbers(complex_field)[0] >= -3.0 - 1e-12) or not complex_field


def test_dealiasing_mask_two_thirds():
    # Reference: Orszag's 2/3 rule keeps |m| < N/3: for N=12 modes 0..3, for N=9 modes 0..2.
    d = sp.PeriodicDomain((12, 9))
    mask = np.asarray(d.dealiasing_mask(2 / 3))
    assert mask.shape == (12, 5)
    assert mask[:, 0].sum() == 7  # m = 0, +-1, +-2, +-3
    assert mask[0].sum() == 3  # rfft axis: m = 0, 1, 2
    assert np.asarray(d.dealiasing_mask(None)).all()


def test_domain_validation():
    with pytest.raises(ValueError, match="shape"):
        sp.PeriodicDomain((8, 8, 8, 8))
    with pytest.raises(ValueError, match="extent"):
        sp.PeriodicDomain((8, 8), (1.0, -1.0))
    with pytest.raises(ValueError, match="extent"):
        sp.PeriodicDomain((8, 8), (1.0, 2.0, 3.0))


def test_initial_conditions_and_energy_spectrum(getkey):
    # Reference: Parseval's identity, sum_m E(m) = <|u|^2>/2, and the band limit of the
    # truncated series; GRF log-log slope of the shell spectrum ~ -(exponent - 1) in 2D.
    d = sp.PeriodicDomain((32, 24))
    u = sp.random_fourier_series(getkey(), d, max_wavenumber=3, num_channels=2)
    assert u.shape == (2, 32, 24)
    np.testing.assert_allclose(jnp.mean(u**2, axis=(1, 2)), 1.0, rtol=1e-5)
    e = sp.energy_spectrum(u, d)
    np.testing.assert_allclose(e.sum(), 0.5 * jnp.mean(jnp.sum(u**2, 0)), rtol=1e-5)
    assert float(e[6:].sum()) < 1e-10
    d = sp.PeriodicDomain((48, 48))
    g = sp.gaussian_random_field(getkey(), d, exponent=4.0, num_channels=4)
    eg = sp.energy_spectrum(g, d)
    m = np.arange(3, 16)
    slope = np.polyfit(np.log(m), np.log(np.asarray(eg[m])), 1)[0]
    assert -3.6 < slope < -2.4
    assert float(sp.relative_l2(u, u)) == 0.0
    with pytest.raises(ValueError, match="reference"):
        sp.relative_l2(u, u[0])


def test_enstrophy_spectrum_of_taylor_green(x64):
    # Reference: for u = (sin x cos y, -cos x sin y), omega = 2 sin x sin y and
    # |k|^2 = 2, so the enstrophy spectrum equals 2 E(m) and sums to <omega^2>/2 = 1/2,
    # all in shell round(sqrt 2) = 1.
    d = sp.PeriodicDomain((16, 16))
    x, y = d.grid()
    u = jnp.stack([jnp.sin(x) * jnp.cos(y), -jnp.cos(x) * jnp.sin(y)])
    z = sp.enstrophy_spectrum(u, d)
    np.testing.assert_allclose(z.sum(), 0.5, rtol=1e-12)
    np.testing.assert_allclose(z, 2 * sp.energy_spectrum(u, d), atol=1e-14)
    assert float(z[1]) == pytest.approx(0.5)
