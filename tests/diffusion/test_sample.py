"""`sample`: transforms (jit, vmap, grad, sharding), batch-size independence, errors.

References: finite differences (grad), a Python loop (vmap), one device (sharding), the
same samples drawn in a smaller batch (per-sample noise).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.sharding import Mesh, NamedSharding, PartitionSpec

from jaxsci import diffusion as jd

from ._helpers import SIGMA_MAX, mixture_target

SIGMAS = jd.karras_sigmas(6, 0.002, SIGMA_MAX)


def test_jit_no_retrace_and_batch_independence():
    target = mixture_target()
    traces = []

    def run(x, key):
        traces.append(1)
        return jd.sample(target.denoiser, x, SIGMAS, sampler=jd.DPMpp2MSDE(), key=key)

    f = jax.jit(run)
    x = SIGMA_MAX * jax.random.normal(jax.random.key(0), (8, 2))
    y = f(x, jax.random.key(1))
    y2 = f(x + 1.0, jax.random.key(2))
    assert len(traces) == 1 and not np.allclose(y, y2)
    # the first 3 samples of a batch of 8 equal a batch of 3 drawn with the same key
    np.testing.assert_allclose(np.asarray(f(x[:3], jax.random.key(1))), np.asarray(y[:3]), rtol=1e-5, atol=1e-5)
    assert len(traces) == 2


def test_vmap_over_keys_and_batch():
    target = mixture_target()
    x = SIGMA_MAX * jax.random.normal(jax.random.key(0), (4, 2))
    keys = jax.random.split(jax.random.key(1), 3)
    run = jax.jit(lambda x, k: jd.sample(target.denoiser, x, SIGMAS, sampler=jd.EulerAncestral(), key=k))
    batched = jax.vmap(run, in_axes=(None, 0))(x, keys)
    looped = np.stack([np.asarray(run(x, k)) for k in keys])
    np.testing.assert_allclose(np.asarray(batched), looped, rtol=1e-5, atol=1e-5)
    # vmap over an extra leading batch axis of x
    xs = jnp.stack([x, 2.0 * x])
    det = jax.jit(lambda x: jd.sample(target.denoiser, x, SIGMAS, sampler=jd.Heun()))
    np.testing.assert_allclose(np.asarray(jax.vmap(det)(xs)), np.stack([det(x), det(2.0 * x)]), rtol=1e-5, atol=1e-5)


def test_grad_against_finite_differences(x64):
    target = mixture_target()
    x = SIGMA_MAX * jax.random.normal(jax.random.key(0), (3, 2))
    w = jnp.array([[0.3, -1.0], [0.5, 2.0], [-0.2, 0.1]])

    def loss(x, means):
        t = jd.targets.GaussianMixture(target.weights, means, target.covariances)
        y = jd.sample(t.denoiser, x, SIGMAS, sampler=jd.DPMpp2M(), checkpoint=True)
        return jnp.sum(w * y)

    gx, gm = jax.grad(loss, argnums=(0, 1))(x, target.means)
    eps = 1e-6
    for arg, g, base in ((0, gx, x), (1, gm, target.means)):
        direction = jax.random.normal(jax.random.key(arg + 5), base.shape, base.dtype)
        plus = [x, target.means]
        minus = [x, target.means]
        plus[arg] = base + eps * direction
        minus[arg] = base - eps * direction
        fd = (loss(*plus) - loss(*minus)) / (2 * eps)
        np.testing.assert_allclose(float(jnp.sum(g * direction)), float(fd), rtol=1e-6, atol=1e-8)


def test_sharded_batch_equals_one_device():
    devices = jax.devices()
    assert len(devices) >= 4, "tests/conftest.py sets 4 virtual CPU devices"
    mesh = Mesh(np.array(devices[:4]), ("batch",))
    target = mixture_target()
    x = SIGMA_MAX * jax.random.normal(jax.random.key(0), (16, 2))
    run = jax.jit(lambda x, k: jd.sample(target.denoiser, x, SIGMAS, sampler=jd.DPMppSDE(), key=k))
    one = run(x, jax.random.key(3))
    xs = jax.device_put(x, NamedSharding(mesh, PartitionSpec("batch")))
    sharded = run(xs, jax.random.key(3))
    assert len(sharded.sharding.device_set) == 4
    np.testing.assert_allclose(np.asarray(sharded), np.asarray(one), rtol=1e-5, atol=1e-5)


def test_shard_map_and_pmap_with_axis_name_equal_one_device():
    """Under shard_map/pmap each device numbers its block from 0, so every device drew the
    same noise; with `axis_name` block k starts at k * n_local. Reference: one device."""
    devices = jax.devices()
    assert len(devices) >= 4, "tests/conftest.py sets 4 virtual CPU devices"
    mesh = Mesh(np.array(devices[:4]), ("batch",))
    target = mixture_target()
    x = SIGMA_MAX * jax.random.normal(jax.random.key(0), (8, 2))
    sigmas = jd.karras_sigmas(3, 0.002, SIGMA_MAX)

    def run(x, axis_name=None):
        return jd.sample(target.denoiser, x, sigmas, sampler=jd.EulerAncestral(), key=jax.random.key(3),
                         axis_name=axis_name)

    one = np.asarray(run(x))
    spec = PartitionSpec("batch")
    sharded = jax.jit(jax.shard_map(lambda x: run(x, "batch"), mesh=mesh, in_specs=spec, out_specs=spec))(x)
    np.testing.assert_allclose(np.asarray(sharded), one, rtol=1e-5, atol=1e-5)
    pmapped = jax.pmap(lambda x: run(x, "batch"), axis_name="batch")(x.reshape(4, 2, 2))
    np.testing.assert_allclose(np.asarray(pmapped).reshape(8, 2), one, rtol=1e-5, atol=1e-5)
    # the noise itself: a block drawn with its offset is that slice of the whole batch's draw
    whole = jd.samplers.normal_like(jax.random.key(4), jnp.zeros((5, 3)))
    block = jd.samplers.normal_like(jax.random.key(4), jnp.zeros((2, 3)), offset=3)
    np.testing.assert_array_equal(np.asarray(block), np.asarray(whole[3:]))


def test_errors():
    target = mixture_target()
    x = jnp.zeros((4, 2))
    with pytest.raises(ValueError, match="decreasing"):
        jd.sample(target.denoiser, x, jnp.array([1.0, 2.0, 0.0]), sampler=jd.Euler())
    with pytest.raises(ValueError, match="non-negative"):
        jd.sample(target.denoiser, x, jnp.array([1.0, -0.5]), sampler=jd.Euler())
    with pytest.raises(ValueError, match="1-D"):
        jd.sample(target.denoiser, x, jnp.ones((2, 2)), sampler=jd.Euler())
    with pytest.raises(ValueError, match="shaped like x"):
        jd.sample(lambda x, s: x[:, :1], x, SIGMAS, sampler=jd.Euler())
    with pytest.raises(ValueError, match="key"):
        jd.sample(target.denoiser, x, SIGMAS, sampler=jd.EulerAncestral())
    with pytest.raises(TypeError, match="AbstractSampler"):
        jd.sample(target.denoiser, x, SIGMAS, sampler="euler")
    with pytest.raises(ValueError, match="solver_type"):
        jd.DPMpp2MSDE(solver_type="rk4")
    with pytest.raises(ValueError, match="eta"):
        jd.DDIM(eta=1.5)
    with pytest.raises(ValueError, match="order"):
        jd.LMS(order=0)
    with pytest.raises(ValueError, match="s_churn"):
        jd.Heun(s_churn=-1.0)
    with pytest.raises(ValueError, match="sigma_min"):
        jd.karras_sigmas(10, 5.0, 1.0)
    # a traced, increasing schedule fails at run time through equinox.error_if
    with pytest.raises(Exception, match="decreasing"):
        jax.jit(lambda s: jd.sample(target.denoiser, x, s, sampler=jd.Euler()))(jnp.array([1.0, 2.0, 0.0]))


def test_final_step_skips_discarded_second_stage():
    """NFE as in k-diffusion (`sample_heun` etc. make 2n - 1 calls when sigmas end at 0), and
    the same samples as stepping with an always-evaluated second stage (a Python loop)."""
    target = mixture_target()
    x = SIGMA_MAX * jax.random.normal(jax.random.key(0), (4, 2))
    key = jax.random.key(2)
    samplers = [jd.Heun(), jd.DPM2(), jd.DPMpp2SAncestral(), jd.DPMppSDE()]
    for sampler in samplers:
        calls = []

        def den(y, s):
            jax.debug.callback(lambda: calls.append(1))
            return target.denoiser(y, s)

        y = jax.jit(lambda x: jd.sample(den, x, SIGMAS, sampler=sampler, key=key))(x)
        jax.effects_barrier()
        n = SIGMAS.shape[0] - 1
        assert len(calls) == 2 * n - 1, type(sampler).__name__
        state, ref = sampler.init(x, SIGMAS), x
        for i in range(n):
            ref, state = sampler.step(state, target.denoiser, ref, SIGMAS[i], SIGMAS[i + 1], jax.random.fold_in(key, i))
        np.testing.assert_allclose(y, ref, rtol=1e-5, atol=1e-5)


def test_ancestral_step_ends_exactly_at_zero():
    """With eta > 1, sigma_up is clamped to sigma' and sigma_down must be exactly 0 (samplers
    test sigma_down <= 0; sigma'^2 - up^2 rounded to +1e-8 with fused multiply-adds), with a
    finite gradient; reference: the closed form."""
    sigmas = np.asarray(jd.karras_sigmas(8, 0.002, 20.0))
    for s, s_next in zip(sigmas[:-1], sigmas[1:]):
        down, up = jax.jit(jd.samplers.ancestral_step)(jnp.float32(s), jnp.float32(s_next), 1.5)
        var = s_next**2 * (s**2 - s_next**2) / s**2
        expected_up = min(s_next, 1.5 * np.sqrt(var))
        np.testing.assert_allclose(float(up), expected_up, rtol=1e-6)
        if expected_up >= s_next:
            assert float(down) == 0.0
        g = jax.grad(lambda t: sum(jd.samplers.ancestral_step(jnp.float32(s), t, 1.5)))(jnp.float32(s_next))
        assert np.isfinite(float(g))


def test_dpmpp_2s_ancestral_eta_above_one(x64):
    """eta > 1: steps before the last may end at sigma_down = 0 and skip their second call,
    as k-diffusion does (NFE counted against the closed form of the schedule); the gradient
    is the same with and without checkpointing (before sigma_down was exact, the primal and
    the rematerialised step could take different branches: 0.7% gradient error)."""
    target = mixture_target()
    sigmas = jd.karras_sigmas(8, 0.002, 20.0)
    sampler = jd.DPMpp2SAncestral(eta=1.5)
    x = 20.0 * jax.random.normal(jax.random.key(0), (4, 2))
    key = jax.random.key(5)
    calls = []

    def den(y, s):
        jax.debug.callback(lambda: calls.append(1))
        return target.denoiser(y, s)

    jax.jit(lambda x: jd.sample(den, x, sigmas, sampler=sampler, key=key))(x)
    jax.effects_barrier()
    s = np.asarray(sigmas)
    up = np.minimum(s[1:], 1.5 * np.sqrt(s[1:] ** 2 * (s[:-1] ** 2 - s[1:] ** 2) / s[:-1] ** 2))
    expected = int(np.sum(np.where(up >= s[1:], 1, 2)))
    assert expected < 2 * (s.shape[0] - 1) - 1  # some steps before the last end at zero
    assert len(calls) == expected

    def loss(x, checkpoint):
        return jnp.sum(jnp.sin(jd.sample(target.denoiser, x, sigmas, sampler=sampler, key=key, checkpoint=checkpoint)))

    g_plain, g_ckpt = jax.grad(loss)(x, False), jax.grad(loss)(x, True)
    np.testing.assert_allclose(np.asarray(g_ckpt), np.asarray(g_plain), rtol=1e-10, atol=1e-12)


def test_undeclared_skip_warns():
    """A sampler that calls `unless_last` without declaring `skips_final_stage` gets a
    warning (its final discarded stage is evaluated), and the same samples as one that
    declares it."""

    class Undeclared(jd.Heun):
        skips_final_stage = False

    target = mixture_target()
    x = SIGMA_MAX * jax.random.normal(jax.random.key(0), (4, 2))
    with pytest.warns(UserWarning, match="skips_final_stage"):
        y = jd.sample(target.denoiser, x, SIGMAS, sampler=Undeclared())
    np.testing.assert_allclose(np.asarray(y), np.asarray(jd.sample(target.denoiser, x, SIGMAS, sampler=jd.Heun())), rtol=1e-6)
