"""Adapters and processes: an eps-, v-, score- or velocity-model of a Gaussian in the
process's own variables, written from the closed-form law of x_t, must give the exact VE
denoiser; time <-> sigma maps invert each other; schedules match their formulas."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsci import diffusion as jd

from ._helpers import gaussian_target

PROCESSES = {"VE": jd.VE(), "VP": jd.VP(), "SubVP": jd.SubVP(), "FlowMatching": jd.FlowMatching()}


@pytest.mark.parametrize("name", list(PROCESSES))
def test_adapters_recover_exact_denoiser(name, x64):
    proc = PROCESSES[name]
    g = gaussian_target()
    mu, cov = g.mean, g.covariance

    # closed form in process variables: x_t ~ N(a mu, a^2 C + s^2 I)
    def moments(t):
        a, s = proc.alpha(t), proc.std(t)
        return a, s, a**2 * cov + s**2 * jnp.eye(2)

    def score(x_t, t):
        a, s, c = moments(t)
        return -jnp.linalg.solve(c, (x_t - a * mu).T).T

    def x0_hat(x_t, t):
        a, s, c = moments(t)
        return mu + (a * cov @ jnp.linalg.solve(c, (x_t - a * mu).T)).T

    def eps(x_t, t):
        a, s, _ = moments(t)
        return (x_t - a * x0_hat(x_t, t)) / s

    def v(x_t, t):
        a, s, _ = moments(t)
        return a * eps(x_t, t) - s * x0_hat(x_t, t)

    def velocity(x_t, t):
        da = jax.jvp(proc.alpha, (t,), (jnp.ones_like(t),))[1]
        ds = jax.jvp(proc.std, (t,), (jnp.ones_like(t),))[1]
        return da * x0_hat(x_t, t) + ds * eps(x_t, t)

    x = jnp.array([[0.5, -2.0], [3.0, 1.0]])
    for sigma in (0.05, 0.8, 5.0):
        sigma = jnp.asarray(sigma)
        np.testing.assert_allclose(float(proc.sigma(proc.t(sigma))), float(sigma), rtol=1e-10)
        exact = g.denoiser(x, sigma)
        for adapter, model in ((jd.EpsDenoiser, eps), (jd.VDenoiser, v), (jd.ScoreDenoiser, score), (jd.VelocityDenoiser, velocity)):
            np.testing.assert_allclose(np.asarray(adapter(model, proc)(x, sigma)), np.asarray(exact), rtol=1e-9, atol=1e-10)


def test_schedules(x64):
    s = jd.karras_sigmas(10, 0.002, 80.0, rho=7.0)
    assert s.shape == (11,) and float(s[-1]) == 0.0
    np.testing.assert_allclose([float(s[0]), float(s[-2])], [80.0, 0.002], rtol=1e-12)
    # Karras et al. eq. (5): sigma_i^(1/rho) is linear in i
    np.testing.assert_allclose(np.diff(np.asarray(s[:-1]) ** (1 / 7.0), 2), 0.0, atol=1e-12)
    e = jd.exponential_sigmas(8, 0.01, 10.0)
    np.testing.assert_allclose(np.diff(np.log(np.asarray(e[:-1])), 2), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.asarray(jd.polyexponential_sigmas(8, 0.01, 10.0, rho=1.0)), np.asarray(e), rtol=1e-12)
    # the VP schedule is the VP process's sigma(t) at t = linspace(1, eps_s)
    vp = jd.vp_sigmas(7, beta_d=19.9, beta_min=0.1, eps_s=1e-3)
    lin = jd.linear_time_sigmas(7, jd.VP(beta_min=0.1, beta_max=20.0), t_min=1e-3, t_max=1.0)
    np.testing.assert_allclose(np.asarray(vp), np.asarray(lin), rtol=1e-12)
    with pytest.raises(ValueError, match="positive integer"):
        jd.exponential_sigmas(0, 0.1, 1.0)
