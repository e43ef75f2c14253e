"""Edge cases found by review: gradients where a noise scale vanishes, far-from-origin float32
mixtures, schedules and processes at their limits, bad hyperparameters and targets, traced
hyperparameters, low-precision samples and misconfigured arguments."""

import equinox as eqx
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

    # every function jitted once: eager calls would trace and compile the sampling loop anew
    @jax.jit
    def ddim(eta):
        return jd.sample(g.denoiser, x, sig, sampler=jd.DDIM(eta=eta), key=key).sum()

    grad_ddim = jax.jit(jax.grad(ddim))
    for eta in (0.0, 1.0):  # ends of the allowed range: one-sided differences
        side = 1e-6 if eta == 0.0 else -1e-6
        one_sided = float((ddim(eta + side) - ddim(eta)) / side)
        np.testing.assert_allclose(float(grad_ddim(eta)), one_sided, rtol=1e-4)
    np.testing.assert_allclose(float(grad_ddim(0.5)), float(_fd(ddim, 0.5, 1e-6)), rtol=1e-6)
    for sampler in (jd.DDIM(0.5), jd.Euler(s_churn=2.0, s_tmin=0.1, s_tmax=5.0), jd.Heun(s_churn=2.0, s_tmin=0.1)):
        run = jax.jit(lambda s, sampler=sampler: jd.sample(g.denoiser, x, s, sampler=sampler, key=key).sum())
        grads = np.asarray(jax.jit(jax.grad(run))(sig))
        assert np.isfinite(grads).all(), (type(sampler).__name__, grads)
        for i in (1, 3):  # inside the sequence (the last level is the fixed 0)
            e = jnp.zeros_like(sig).at[i].set(1.0)
            np.testing.assert_allclose(grads[i], float(_fd(lambda t: run(sig + t * e), 0.0, 1e-6)), rtol=1e-4, atol=1e-9)
    # the SDE samplers' noise scale sqrt(-expm1(-2 eta h)) is 0 at eta = 0
    for cls in (jd.DPMpp2MSDE, jd.DPMpp3MSDE):
        sde = jax.jit(lambda eta, cls=cls: jd.sample(g.denoiser, x, sig, sampler=cls(eta=eta), key=key).sum())
        grad_sde = jax.jit(jax.grad(sde))
        assert np.isfinite(float(grad_sde(0.0)))
        np.testing.assert_allclose(float(grad_sde(0.7)), float(_fd(sde, 0.7, 1e-6)), rtol=1e-5)

    target = mixture_target()
    cond, uncond = target.component(1).denoiser, target.denoiser
    xs = 20.0 * jax.random.normal(jax.random.key(1), (4, 2))

    @jax.jit
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


def _one_sided(f, v, eps):
    """Second-order one-sided difference from above: (-3 f(v) + 4 f(v + eps) - f(v + 2 eps)) / (2 eps)."""
    return (-3.0 * f(v) + 4.0 * f(v + eps) - f(v + 2.0 * eps)) / (2.0 * eps)


def test_dpmppsde_r_one_is_the_limit(x64):
    # r = 1 (valid, as in k-diffusion) put sqrt(sigma_s - sigma') at sqrt(-1e-8): NaN samples in
    # float32 from 20 steps on, and NaN gradients. Reference: the step written out by hand
    # (k-diffusion's sample_dpmpp_sde) with its limit z2 = z1 at r = 1, and, for d/dr, central
    # differences of that formula with the vanishing increment sqrt(1 - f) z2 left out (its
    # derivative is -inf at r = 1; the library's derivative is that of every other term).
    with jax.enable_x64(False):
        g = jd.targets.Gaussian(jnp.array([0.5, -1.0]), jnp.eye(2))
        x32 = 80.0 * jax.random.normal(jax.random.key(0), (4, 2))
        sig32 = jd.karras_sigmas(20, 0.002, 80.0)
        y32 = jax.jit(lambda x: jd.sample(g.denoiser, x, sig32, sampler=jd.DPMppSDE(r=1.0), key=jax.random.key(1)))
        assert np.isfinite(np.asarray(y32(x32))).all()
    g = jd.targets.Gaussian(jnp.array([0.5, -1.0]), jnp.eye(2))
    x = jnp.array([[1.0, 2.0], [-0.5, 0.3], [3.0, -1.0]])
    w = jnp.array([[0.3, -1.0], [0.5, 2.0], [-0.2, 0.1]])
    sigma, sigma_next, key = 2.0, 0.7, jax.random.key(3)
    step_key = jax.random.fold_in(key, 0)
    z1 = jd.samplers.normal_like(jax.random.fold_in(step_key, 0), x)
    ancestral = jd.samplers.ancestral_step

    def by_hand(r):  # one step of DPM-Solver++ SDE (eta = s_noise = 1), z2 -> sqrt(f) z1
        h = jnp.log(sigma) - jnp.log(sigma_next)
        sigma_s = sigma * jnp.exp(-r * h)
        d = g.denoiser(x, sigma)
        down, up = ancestral(sigma, sigma_s, 1.0)
        x_2 = (down / sigma) * x - jnp.expm1(jnp.log(down / sigma)) * d + z1 * up
        mixed = (1 - 0.5 / r) * d + 0.5 / r * g.denoiser(x_2, sigma_s)
        down, up = ancestral(sigma, sigma_next, 1.0)
        f = (sigma - sigma_s) / (sigma - sigma_next)
        return jnp.sum(w * ((down / sigma) * x - jnp.expm1(jnp.log(down / sigma)) * mixed + jnp.sqrt(f) * z1 * up))

    def lib(r):
        sampler = jd.DPMppSDE(r=r)
        return jnp.sum(w * jd.sample(g.denoiser, x, jnp.array([sigma, sigma_next]), sampler=sampler, key=key))

    value, grad = jax.jit(jax.value_and_grad(lib))(1.0)
    by_hand = jax.jit(by_hand)
    np.testing.assert_allclose(float(value), float(by_hand(1.0)), rtol=1e-12)
    np.testing.assert_allclose(float(grad), float(_fd(by_hand, 1.0, 1e-6)), rtol=1e-7)


def test_langevin_snr_gradient_at_zero(x64):
    # sqrt(2 eps) = sqrt(4 snr^2 sigma^2) had an infinite derivative at snr = 0 (NaN gradient);
    # 2 snr sigma is the same for snr >= 0. Reference: one-sided differences at 0 (snr < 0 is
    # refused), central differences inside.
    g = jd.targets.Gaussian(jnp.array([0.5, -1.0]), jnp.eye(2))
    x = 10.0 * jax.random.normal(jax.random.key(0), (3, 2))
    sig = jd.karras_sigmas(3, 0.05, 10.0)

    def f(snr):
        sampler = jd.PredictorCorrector(jd.EulerMaruyama(), jd.Langevin(snr=snr))
        return jnp.sum(jnp.sin(jd.sample(g.denoiser, x, sig, sampler=sampler, key=jax.random.key(1))))

    f, grad = jax.jit(f), jax.jit(jax.grad(f))
    np.testing.assert_allclose(float(grad(0.0)), float(_one_sided(f, 0.0, 1e-5)), rtol=1e-6)
    np.testing.assert_allclose(float(grad(0.1)), float(_fd(f, 0.1, 1e-6)), rtol=1e-6)
    with pytest.raises(ValueError, match="snr"):
        jd.Langevin(snr=-0.1)


def test_traced_noise_switch_without_key_is_deterministic():
    # Passed through jit, a sampler's eta / s_churn = 0 is traced: Euler, Heun, DPM2, DDIM
    # demanded a key. Reference: the same sampler with its value concrete (no noise traced).
    g = jd.targets.Gaussian(jnp.array([1.0, -1.0]), jnp.eye(2))
    x = 10.0 * jax.random.normal(jax.random.key(0), (3, 2))
    sig = jd.karras_sigmas(3, 0.05, 10.0)
    run = jax.jit(lambda x, sampler: jd.sample(g.denoiser, x, sig, sampler=sampler))
    for sampler in (jd.Euler(), jd.DPM2(), jd.DDIM()):
        expected = jax.jit(lambda x: jd.sample(g.denoiser, x, sig, sampler=sampler))(x)  # noqa: B023
        np.testing.assert_allclose(np.asarray(run(x, sampler)), np.asarray(expected), rtol=1e-6, err_msg=repr(sampler))
    with pytest.raises(Exception, match="pass key"):  # a traced nonzero switch without a key
        jax.block_until_ready(run(x, jd.DDIM(eta=0.5)))
    with pytest.raises(ValueError, match="pass key"):  # concrete: at trace time, as before
        jd.sample(g.denoiser, x, sig, sampler=jd.DDIM(eta=0.5))
    # a concrete zero (also built inside jit) traces no noise at all, even with a key
    key = jax.random.key(1)
    for make in (lambda: jd.EulerAncestral(eta=0.0), lambda: jd.Heun(), lambda: jd.DPMpp3MSDE(eta=0.0)):
        jaxpr = str(jax.make_jaxpr(lambda x: jd.sample(g.denoiser, x, sig, sampler=make(), key=key))(x))
        assert "shift_right_logical" not in jaxpr and "random_" not in jaxpr, make()
    # (the check itself: a noisy sampler's jaxpr has both)
    jaxpr = str(jax.make_jaxpr(lambda x: jd.sample(g.denoiser, x, sig, sampler=jd.EulerAncestral(), key=key))(x))
    assert "shift_right_logical" in jaxpr and "random_" in jaxpr


def test_float_hyperparameters_are_array_leaves(x64):
    # Python floats were static leaves: eqx.filter_jit recompiled for each value and
    # eqx.filter_grad returned None. Reference: a trace counter; central differences.
    g = jd.targets.Gaussian(jnp.array([1.0, -1.0]), jnp.eye(2))
    gu = jd.targets.Gaussian(jnp.array([-1.0, 0.5]), 2.0 * jnp.eye(2))
    x = 10.0 * jax.random.normal(jax.random.key(0), (3, 2))
    sig = jd.karras_sigmas(3, 0.05, 10.0)
    traces = []

    @eqx.filter_jit
    def run(den, sampler, key):
        traces.append(1)
        return jd.sample(den, x, sig, sampler=sampler, key=key)

    for eta in (0.3, 0.5, 0.7):
        run(g.denoiser, jd.DDIM(eta=eta), jax.random.key(1))
    for w in (2.0, 3.0):
        run(jd.ClassifierFreeGuidance(g.denoiser, gu.denoiser, scale=w), jd.Euler(), None)
    assert len(traces) == 2
    # gradients with respect to a guidance scale and a sampler's s_noise given as Python floats
    cfg = jd.ClassifierFreeGuidance(g.denoiser, gu.denoiser, scale=3.0)
    euler = jd.Euler(s_churn=2.0, s_noise=1.1)
    grads = eqx.filter_grad(lambda m: jnp.sum(run(*m, jax.random.key(2))))((cfg, euler))
    fd = jax.jit(lambda w, s: jnp.sum(run(eqx.tree_at(lambda c: c.scale, cfg, w),
                                          eqx.tree_at(lambda e: e.s_noise, euler, s), jax.random.key(2))))
    np.testing.assert_allclose(float(grads[0].scale), float(_fd(lambda w: fd(w, 1.1), 3.0, 1e-6)), rtol=1e-6)
    np.testing.assert_allclose(float(grads[1].s_noise), float(_fd(lambda s: fd(3.0, s), 1.1, 1e-6)), rtol=1e-6)


def test_nan_and_negative_hyperparameters_are_refused():
    # check_eta let NaN through and s_noise was checked by the churn samplers only: all-NaN
    # samples. Reference: the documented ranges.
    nan = float("nan")
    bad = [
        (lambda: jd.EulerAncestral(eta=nan), "eta"), (lambda: jd.Heun(s_churn=nan), "s_churn"),
        (lambda: jd.DPMpp2MSDE(eta=nan), "eta"), (lambda: jd.DPMpp2SAncestral(eta=nan), "eta"),
        (lambda: jd.DPMppSDE(eta=nan), "eta"), (lambda: jd.DPMppSDE(r=0.0), "r"),
        (lambda: jd.EulerAncestral(s_noise=nan), "s_noise"), (lambda: jd.DPMpp3MSDE(s_noise=nan), "s_noise"),
        (lambda: jd.EulerMaruyama(s_noise=nan), "s_noise"), (lambda: jd.Langevin(snr=nan), "snr"),
        (lambda: jd.EulerAncestral(s_noise=-1.0), "s_noise"), (lambda: jd.DPMpp2MSDE(s_noise=-1.0), "s_noise"),
        (lambda: jd.EulerMaruyama(s_noise=-1.0), "s_noise"), (lambda: jd.Euler(s_tmax=nan), "s_tmax"),
        (lambda: jd.ClassifierFreeGuidance(jd.targets.Gaussian(jnp.zeros(1), jnp.eye(1)).denoiser,
                                           lambda x, s: x, scale=nan), "scale"),
        (lambda: jd.AdaptiveProjectedGuidance(lambda x, s: x, lambda x, s: x, eta=nan), "eta"),
        (lambda: jd.AdaptiveProjectedGuidance(lambda x, s: x, lambda x, s: x, momentum=float("inf")), "momentum"),
        (lambda: jd.DDIM(eta=jnp.ones(2)), "scalar"),
    ]  # fmt: skip
    for make, name in bad:
        with pytest.raises(ValueError, match=name):
            make()
    # traced (built inside jit): checked when the program runs
    g = jd.targets.Gaussian(jnp.zeros(2), jnp.eye(2))
    run = jax.jit(lambda v: jd.sample(g.denoiser, jnp.ones((2, 2)), jnp.array([2.0, 1.0, 0.0]),
                                      sampler=jd.EulerAncestral(s_noise=v), key=jax.random.key(0)))
    with pytest.raises(Exception, match="s_noise must be finite and non-negative"):
        jax.block_until_ready(run(jnp.nan))


def test_checkpoint_memory_is_linear_in_steps():
    # The docstring claimed "memory O(1) in steps"; the scan keeps one carry a step. Reference:
    # XLA's memory analysis of the compiled gradient, against the bytes of x.
    assert "O(1)" not in jd.sample.__doc__ and "grows linearly" in jd.sample.__doc__
    x = jax.random.normal(jax.random.key(0), (2048, 2))

    def den(y, s):  # nonlinear: an affine denoiser (a Gaussian target) needs no residuals at all
        return jnp.tanh(y) / (1.0 + s**2)

    def temp_bytes(n):
        def loss(x):
            y = jd.sample(den, x, jd.karras_sigmas(n, 0.01, 10.0), sampler=jd.DPMpp2M(), checkpoint=True)
            return jnp.sum(y**2)

        return jax.jit(jax.grad(loss)).lower(x).compile().memory_analysis().temp_size_in_bytes

    per_step = (temp_bytes(12) - temp_bytes(4)) / 8
    assert 0.5 * x.nbytes < per_step < 2.0 * x.nbytes, per_step / x.nbytes


def test_low_precision_x_keeps_float32_levels():
    # bfloat16 x made the levels and every coefficient bfloat16 (twice the error) and refused
    # a valid 1000-step float32 schedule. Reference: the float32 run (rms error 0.0163 with
    # bfloat16 levels, 0.0079 with float32 ones).
    g = jd.targets.Gaussian(jnp.array([0.5, -1.0]), jnp.array([[1.0, 0.3], [0.3, 0.5]]))
    x = 80.0 * jax.random.normal(jax.random.key(0), (256, 2))
    sig = jd.karras_sigmas(20, 0.002, 80.0)
    seen = []

    def den(y, s):
        seen.append((y.dtype, s.dtype))
        return g.denoiser(y, s)

    y = jd.sample(den, x.astype(jnp.bfloat16), sig, sampler=jd.DPMpp2M())
    assert y.dtype == jnp.bfloat16 and set(seen) == {(jnp.dtype(jnp.bfloat16), jnp.dtype(jnp.float32))}
    exact = jd.sample(g.denoiser, x, sig, sampler=jd.DPMpp2M())
    assert float(jnp.sqrt(jnp.mean((y.astype(jnp.float32) - exact) ** 2))) < 0.012
    long = jd.sample(g.denoiser, x[:4].astype(jnp.bfloat16), jd.karras_sigmas(1000, 0.002, 80.0), sampler=jd.Euler())
    assert long.dtype == jnp.bfloat16 and np.isfinite(np.asarray(long, np.float32)).all()


def test_key_must_be_one_random_key():
    # A wrong key reached jax.random.fold_in and failed with JAX-internal messages.
    g = jd.targets.Gaussian(jnp.array([1.0, -1.0]), jnp.eye(2))
    x, sig = jnp.ones((3, 2)), jd.karras_sigmas(4, 0.1, 10.0)
    for key in (0, jnp.array([1.0, 2.0]), jnp.zeros(3, jnp.uint32), jax.random.split(jax.random.key(0), 3)):
        with pytest.raises(ValueError, match="sample: key must be a single JAX random key"):
            jd.sample(g.denoiser, x, sig, sampler=jd.EulerAncestral(), key=key)
    with pytest.raises(ValueError, match="log_likelihood: key must be a single JAX random key"):
        jd.log_likelihood(g.denoiser, x, sigma_min=1e-3, sigma_max=10.0, divergence="hutchinson", key=0)
    raw = jax.random.PRNGKey(1)  # legacy raw key data, accepted
    typed = jax.random.wrap_key_data(raw)
    raw, typed = (jd.sample(g.denoiser, x, sig, sampler=jd.EulerAncestral(), key=k) for k in (raw, typed))
    np.testing.assert_array_equal(np.asarray(raw), np.asarray(typed))


def test_log_likelihood_refuses_integer_x():
    # It ran 4096 solver steps and blamed max_steps.
    g = jd.targets.Gaussian(jnp.array([1.0, -1.0]), jnp.eye(2))
    with pytest.raises(ValueError, match="x must be a floating array"):
        jd.log_likelihood(g.denoiser, jnp.ones((3, 2), jnp.int32), sigma_min=1e-3, sigma_max=10.0)


def test_static_integers_accept_numpy_and_refuse_bools():
    # LMS(order) and Langevin(num_steps) refused np.int64 and accepted True (checked_int rule).
    lms, langevin = jd.LMS(order=np.int64(2)), jd.Langevin(num_steps=np.int64(2))
    assert type(lms.order) is int and lms.order == 2 and type(langevin.num_steps) is int
    for make, name in ((lambda: jd.LMS(order=True), "order"), (lambda: jd.Langevin(num_steps=True), "num_steps"),
                       (lambda: jd.LMS(order=2.0), "order")):
        with pytest.raises(ValueError, match=name):
            make()


def test_misconfigured_guidance_processes_and_churn():
    # Accepted before and failed late ('float' object is not callable, AttributeError) or
    # silently (a decreasing VE std, churn that never applies).
    den = jd.targets.Gaussian(jnp.zeros(2), jnp.eye(2)).denoiser
    with pytest.raises(TypeError, match="conditional"):
        jd.ClassifierFreeGuidance(1.0, den)
    with pytest.raises(TypeError, match="unconditional"):
        jd.AdaptiveProjectedGuidance(den, "uncond")
    with pytest.raises(TypeError, match="process"):
        jd.linear_time_sigmas(10, "VP")
    with pytest.raises(ValueError, match="sigma_min < sigma_max"):
        jd.VE(sigma_min=10.0, sigma_max=1.0)
    with pytest.raises(ValueError, match="s_tmin <= s_tmax"):
        jd.Heun(s_churn=1.0, s_tmin=10.0, s_tmax=1.0)
    with pytest.raises(Exception, match="sigma_min < sigma_max"):  # traced: when the program runs
        jax.block_until_ready(jax.jit(lambda lo: jd.VE(sigma_min=lo, sigma_max=1.0).sigma(0.5))(10.0))
    x, sig = jnp.ones((2, 2)), jnp.array([5.0, 1.0, 0.0])
    run = jax.jit(lambda s: jd.sample(den, x, sig, sampler=s, key=jax.random.key(0)))
    traced = eqx.tree_at(lambda s: s.s_tmin, jd.Heun(s_churn=1.0, s_tmax=1.0), jnp.asarray(10.0))  # skips checks
    with pytest.raises(Exception, match="s_tmin <= s_tmax"):
        jax.block_until_ready(run(traced))
    np.testing.assert_allclose(jd.VE(0.01, 50.0).sigma(0.5), np.sqrt(0.01 * 50.0), rtol=1e-6)
