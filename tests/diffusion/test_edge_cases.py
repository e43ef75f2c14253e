"""Edge cases found by review: gradients where a noise scale vanishes, far-from-origin float32
mixtures, schedules and processes at their limits, and bad hyperparameters and targets."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsci import diffusion as jd

from ._helpers import mixture_target


def _fd(f, v, eps):
    return (f(v + eps) - f(v - eps)) / (2 * eps)


def test_gradients_where_a_noise_scale_vanishes(x64):
    # DDIM's noise sqrt(var) is 0 on the step to sigma = 0, the churn's sqrt(sigma_hat^2 -
    # sigma^2) is 0 outside [s_tmin, s_tmax], and APG's default threshold is inf: each gave
    # NaN gradients (0 * inf). Reference: central finite differences.
    g = jd.targets.Gaussian(jnp.zeros(2), jnp.eye(2))
    x, key = jnp.array([[1.0, 0.5], [-0.3, 2.0], [0.7, -1.2]]), jax.random.key(0)
    sig = jd.karras_sigmas(6, 0.01, 20.0)

    def ddim(eta):
        return jd.sample(g.denoiser, x, sig, sampler=jd.DDIM(eta=eta), key=key).sum()

    for eta in (0.0, 1.0):  # ends of the allowed range: one-sided differences
        side = 1e-6 if eta == 0.0 else -1e-6
        one_sided = float((ddim(eta + side) - ddim(eta)) / side)
        np.testing.assert_allclose(float(jax.grad(ddim)(eta)), one_sided, rtol=1e-4)
    np.testing.assert_allclose(float(jax.grad(ddim)(0.5)), float(_fd(ddim, 0.5, 1e-6)), rtol=1e-6)
    for sampler in (jd.DDIM(0.5), jd.Euler(s_churn=2.0, s_tmin=0.1, s_tmax=5.0), jd.Heun(s_churn=2.0, s_tmin=0.1)):
        def run(s, sampler=sampler):
            return jd.sample(g.denoiser, x, s, sampler=sampler, key=key).sum()

        grads = np.asarray(jax.grad(run)(sig))
        assert np.isfinite(grads).all(), (type(sampler).__name__, grads)
        for i in (1, 3):  # inside the sequence (the last level is the fixed 0)
            e = jnp.zeros_like(sig).at[i].set(1.0)
            np.testing.assert_allclose(grads[i], float(_fd(lambda t: run(sig + t * e), 0.0, 1e-6)), rtol=1e-4, atol=1e-9)
    # the SDE samplers' noise scale sqrt(-expm1(-2 eta h)) is 0 at eta = 0
    for cls in (jd.DPMpp2MSDE, jd.DPMpp3MSDE):
        def sde(eta, cls=cls):
            return jd.sample(g.denoiser, x, sig, sampler=cls(eta=eta), key=key).sum()

        assert np.isfinite(float(jax.grad(sde)(0.0)))
        np.testing.assert_allclose(float(jax.grad(sde)(0.7)), float(_fd(sde, 0.7, 1e-6)), rtol=1e-5)

    target = mixture_target()
    cond, uncond = target.component(1).denoiser, target.denoiser
    xs = 20.0 * jax.random.normal(jax.random.key(1), (4, 2))

    def apg(scale):
        return jd.sample(jd.AdaptiveProjectedGuidance(cond, uncond, scale), xs, sig, sampler=jd.Euler()).sum()

    np.testing.assert_allclose(float(jax.grad(apg)(3.0)), float(_fd(apg, 3.0, 1e-6)), rtol=1e-5)
    gx = jax.grad(lambda v: jd.AdaptiveProjectedGuidance(cond, uncond, 3.0)(v, 1.0).sum())(xs)
    assert np.isfinite(np.asarray(gx)).all()
    # below the threshold the rescaling is exactly min(1, tau / |d|)
    den = jd.AdaptiveProjectedGuidance(cond, uncond, 3.0, eta=1.0, norm_threshold=0.05)
    d = cond(xs, 1.0) - uncond(xs, 1.0)
    norm = jnp.linalg.norm(d, axis=1, keepdims=True)
    np.testing.assert_allclose(den(xs, 1.0), cond(xs, 1.0) + 2.0 * d * jnp.minimum(1.0, 0.05 / norm), rtol=1e-10)


def test_float32_mixture_far_from_the_origin():
    # Means near (10, 0), variances 0.01: the expanded Mahalanobis form lost 2 digits of the
    # float32 log density (1.2e-3 absolute; 1.8e-2 at offset 50). Reference: float64 NumPy.
    rng = np.random.default_rng(0)
    for offset in (10.0, 50.0):
        w, mu, var = np.array([0.5, 0.5]), np.array([[offset, 0.0], [offset + 0.2, 0.0]]), np.full((2, 2), 0.01)
        x = mu[0] + 0.1 * rng.standard_normal((1000, 2))
        sigma = 0.01
        v = var + sigma**2
        logp = -0.5 * (((x[:, None] - mu) ** 2 / v).sum(-1) + np.log(2 * np.pi * v).sum(-1)) + np.log(w)
        ref_lp = np.logaddexp(logp[:, 0], logp[:, 1])
        r = np.exp(logp - ref_lp[:, None])
        ref_den = x + sigma**2 * np.einsum("nk,nkd->nd", r, (mu - x[:, None]) / v)
        g = jd.targets.GaussianMixture(*(jnp.asarray(a, jnp.float32) for a in (w, mu, var)))
        xf = jnp.asarray(x, jnp.float32)
        assert np.abs(np.asarray(g.log_prob(xf, sigma)) - ref_lp).max() < 1e-4
        np.testing.assert_allclose(np.asarray(g.responsibilities(xf, sigma)), r, atol=1e-6 * offset)  # x rounds to f32
        assert np.abs(np.asarray(g.denoiser(xf, sigma)) - ref_den).max() < 1e-5 * offset


def test_processes_at_their_limits():
    # t(sigma) solved without dividing by beta_max - beta_min: a constant beta gave 0/0, and
    # float32 lost 13% of sigma at 1e-5. Reference: sigma(t(sigma)) = sigma, and the closed
    # form t = sigma^2-free -2 log(alpha) / beta for constant beta.
    s = jnp.array([1e-5, 1e-3, 0.1, 1.0, 80.0], jnp.float32)
    for process in (jd.VP(), jd.VP(1.0, 1.0), jd.VP(0.0, 20.0), jd.SubVP(), jd.SubVP(2.0, 2.0)):
        t = process.t(s)
        assert np.isfinite(np.asarray(t)).all()
        np.testing.assert_allclose(np.asarray(process.sigma(t)), np.asarray(s), rtol=2e-6)
        assert float(process.t(jnp.float32(0.0))) == 0.0
    np.testing.assert_allclose(jd.VP(1.0, 1.0).t(1.0), np.log1p(1.0) / 1.0, rtol=1e-6)


def test_schedules_validate_and_cast():
    np.testing.assert_array_equal(jd.karras_sigmas(np.int64(5), 0.1, 1.0), jd.karras_sigmas(5, 0.1, 1.0))
    with pytest.raises(ValueError, match="n must be a positive integer"):
        jd.karras_sigmas(True, 0.1, 1.0)
    with pytest.raises(ValueError, match="rho must be positive"):
        jd.karras_sigmas(5, 0.1, 1.0, rho=0.0)
    with pytest.raises(ValueError, match="sigma_max < inf"):
        jd.exponential_sigmas(5, 0.1, float("inf"))
    with pytest.raises(ValueError, match="t_max"):
        jd.linear_time_sigmas(5, jd.FlowMatching())  # sigma(1) = inf
    fm = jd.linear_time_sigmas(5, jd.FlowMatching(), t_max=0.99)
    np.testing.assert_allclose(fm[0], 0.99 / 0.01, rtol=1e-5)
    with pytest.raises(ValueError, match="t_min < t_max"):
        jd.linear_time_sigmas(5, jd.VP(), t_min=0.5, t_max=0.1)
    with pytest.raises(ValueError, match="beta_d"):
        jd.vp_sigmas(5, beta_d=-1.0)
    with pytest.raises(ValueError, match="eps_s"):
        jd.vp_sigmas(5, eps_s=1.5)
    g = jd.targets.Gaussian(jnp.zeros(2), jnp.eye(2))
    x = jnp.ones((3, 2), jnp.float32)
    run = jax.jit(lambda s: jd.sample(g.denoiser, x, s, sampler=jd.Euler()))
    for bad in (jnp.nan, jnp.inf):  # traced: equinox.error_if at run time, never NaN samples
        with pytest.raises(Exception, match="finite"):
            run(jnp.array([bad, 0.5, 0.0]))
    # distinct in float64, equal once cast to the dtype of x
    with jax.enable_x64():
        with pytest.raises(ValueError, match="strictly decreasing .* in float32"):
            jd.sample(g.denoiser, x, np.array([1.0, 1.0 - 1e-9, 0.5, 0.0]), sampler=jd.DPMpp2M())


def test_denoiser_dtype_follows_x():
    # a float64 model with float32 x: Euler failed inside the scan (carry dtype), APG's state too
    with jax.enable_x64():
        target = jd.targets.GaussianMixture(
            jnp.ones(2), jnp.array([[-2.0, 0.0], [2.0, 0.0]]), 0.1 * jnp.ones((2, 2))
        )
        assert target.means.dtype == jnp.float64
        x = jnp.ones((3, 2), jnp.float32)
        sig = jd.karras_sigmas(6, 0.01, 20.0)
        ref = jd.sample(target.denoiser, x.astype(jnp.float64), sig, sampler=jd.Heun())
        for sampler in (jd.Euler(), jd.Heun(), jd.DPMpp2M()):
            out = jd.sample(target.denoiser, x, sig, sampler=sampler)
            assert out.dtype == jnp.float32
        np.testing.assert_allclose(np.asarray(out), np.asarray(jd.sample(
            target.denoiser, x.astype(jnp.float64), sig, sampler=jd.DPMpp2M())), rtol=1e-5, atol=1e-5)
        assert np.isfinite(np.asarray(ref)).all()
        apg = jd.AdaptiveProjectedGuidance(target.component(1).denoiser, target.denoiser, 3.0, momentum=-0.5)
        assert jd.sample(apg, x, sig, sampler=jd.Heun()).dtype == jnp.float32


def test_bad_targets_and_hyperparameters():
    with pytest.raises(ValueError, match="positive semi-definite"):
        jd.targets.Gaussian(jnp.zeros(2), jnp.array([[1.0, 2.0], [2.0, 1.0]]))
    with pytest.raises(ValueError, match="symmetric"):
        jd.targets.Gaussian(jnp.zeros(2), jnp.array([[1.0, 0.5], [0.0, 1.0]]))
    means = jnp.array([[-1.0, 0.0], [1.0, 0.0]])
    for weights in ([-0.5, 1.5], [0.0, 0.0], [jnp.nan, 1.0]):
        with pytest.raises(ValueError, match="weights"):
            jd.targets.GaussianMixture(jnp.array(weights), means, jnp.ones((2, 2)))
    with pytest.raises(ValueError, match="non-negative"):
        jd.targets.GaussianMixture(jnp.ones(2), means, jnp.array([[1.0, -0.1], [1.0, 1.0]]))
    with pytest.raises(ValueError, match="positive semi-definite"):
        jd.targets.GaussianMixture(jnp.ones(2), means, jnp.stack([jnp.eye(2), -jnp.eye(2)]))
    # zero weights on some components and singular covariances are valid
    g = jd.targets.GaussianMixture(jnp.array([0.0, 1.0]), means, jnp.zeros((2, 2)))
    np.testing.assert_allclose(g.denoiser(jnp.array([[0.3, 0.2]]), 1.0), [[1.0, 0.0]], atol=1e-6)
    with pytest.raises(ValueError, match="sigma_data"):
        jd.EDMPreconditioner(lambda x, c: x, sigma_data=0.0)
    with pytest.raises(ValueError, match="sigma_data"):
        jd.edm_loss(lambda x, s: x, jnp.ones((2, 2)), jax.random.key(0), sigma_data=-1.0)
    with pytest.raises(ValueError, match="norm_threshold"):
        jd.AdaptiveProjectedGuidance(lambda x, s: x, lambda x, s: x, norm_threshold=-1.0)
