"""`normal_like`: the per-sample Gaussian noise every stochastic sampler draws.

References: the Random123 known-answer vectors of Threefry-2x32-20 and JAX's own
`threefry2x32_p` (the bits); the exact moments and CDF of N(0, 1), the Kolmogorov-Smirnov
distribution and the chi-square law of a contingency table under independence (scipy)
(the law); the same noise drawn in a smaller batch or on one device (per-sample streams).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
import scipy.stats as st
from jax.extend.random import threefry2x32_p

from jaxsci import diffusion as jd
from jaxsci.diffusion.samplers._noise import threefry2x32

normal_like = jd.samplers.normal_like
SHAPE = (2048, 128)  # 262144 numbers a draw


def _u32(*v):
    return [jnp.asarray(np.uint32(a)) for a in v]


def test_threefry_known_answers_and_jax_primitive():
    # Random123 known-answer tests for threefry2x32_20 (key, counter) -> output
    kats = [
        ((0, 0), (0, 0), (0x6B200159, 0x99BA4EFE)),
        ((0xFFFFFFFF, 0xFFFFFFFF), (0xFFFFFFFF, 0xFFFFFFFF), (0x1CB996FC, 0xBB002BE7)),
        ((0x13198A2E, 0x03707344), (0x243F6A88, 0x85A308D3), (0xC4923A9C, 0x483DF7A0)),
    ]
    hash_ = jax.jit(threefry2x32)
    for key, ctr, out in kats:
        y = hash_(*_u32(*key), *_u32(*ctr))
        assert (int(y[0]), int(y[1])) == out
    # bit-identical to JAX's primitive on arbitrary counters
    c = jax.random.bits(jax.random.key(0), (2, 1000), jnp.uint32)
    k = jax.random.bits(jax.random.key(1), (2,), jnp.uint32)
    ours = jax.jit(threefry2x32)(k[0], k[1], c[0], c[1])
    theirs = threefry2x32_p.bind(k[0], k[1], c[0], c[1])
    for a, b in zip(ours, theirs):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


def _standardised_moments(z):
    """(mean, var - 1, skew, kurtosis - 3) of N(0, 1) samples, each divided by its
    standard error under N(0, 1) (so each is about N(0, 1) when the law is right)."""
    z = np.asarray(z, np.float64).ravel()
    n = z.size
    return np.array(
        [z.mean() * np.sqrt(n), (np.mean(z**2) - 1) / np.sqrt(2 / n), np.mean(z**3) / np.sqrt(15 / n),
         (np.mean(z**4) - 3) / np.sqrt(96 / n)]
    )


@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_moments_and_kolmogorov_smirnov(dtype):
    with jax.enable_x64(dtype == "float64"):
        x = jnp.zeros(SHAPE, dtype)
        z = jax.jit(normal_like)(jax.random.key(0), x)
        assert z.dtype == x.dtype and z.shape == x.shape
        z = np.asarray(z, np.float64).ravel()
    assert np.all(np.abs(_standardised_moments(z)) < 5.0)
    # KS against the exact normal CDF (p-value of the KS law; 1e-4 false-alarm rate)
    assert st.kstest(z, "norm").pvalue > 1e-4
    # tails: P(|z| > 3) = 2.70e-3 and P(|z| > 4) = 6.33e-5, binomial 5-sigma bounds
    for c in (3.0, 4.0):
        p = 2 * st.norm.sf(c)
        count = np.sum(np.abs(z) > c)
        assert abs(count - p * z.size) < 5 * np.sqrt(p * z.size) + 1


def test_many_keys_moments_are_standard():
    # over 16 keys, each standardised moment behaves like N(0, 1): mean ~ 0, mean square ~ 1
    f = jax.jit(lambda k: normal_like(k, jnp.zeros((1024, 64))))
    m = np.array([_standardised_moments(f(jax.random.key(i))) for i in range(16)])
    assert np.all(np.abs(m.mean(0)) < 5 / np.sqrt(16))
    assert np.all(np.mean(m**2, 0) < 3.0)  # chi-square(16)/16 exceeds 3 with p < 1e-4


def _chi2_independence(a, b, bins=8):
    """p-value of the chi-square test that `a` and `b` (paired N(0, 1) samples) are
    independent, on a bins x bins table of equiprobable normal bins."""
    edges = st.norm.ppf(np.linspace(0, 1, bins + 1)[1:-1])
    table = np.zeros((bins, bins))
    np.add.at(table, (np.searchsorted(edges, np.ravel(a)), np.searchsorted(edges, np.ravel(b))), 1)
    return st.chi2_contingency(table)[1]


def test_independence_between_samples_elements_and_steps():
    x = jnp.zeros(SHAPE)
    key = jax.random.key(3)
    z = np.asarray(normal_like(key, x), np.float64)
    z_next = np.asarray(normal_like(jax.random.fold_in(key, 1), x), np.float64)  # the next step
    pairs = {
        "neighbouring samples": (z[:-1], z[1:]),
        "neighbouring elements": (z[:, :-1], z[:, 1:]),
        "samples b and b + 1024": (z[:1024], z[1024:]),
        "consecutive steps": (z, z_next),
    }
    for name, (a, b) in pairs.items():
        n = a.size
        # linear and squared correlation ~ N(0, 1/n) under independence
        assert abs(np.mean(a * b)) * np.sqrt(n) < 5, name
        assert abs(np.mean((a**2 - 1) * (b**2 - 1)) / 2) * np.sqrt(n) < 5, name
        assert _chi2_independence(a, b) > 1e-4, name


def test_per_sample_streams_and_shapes():
    key = jax.random.key(11)
    big = normal_like(key, jnp.zeros((9, 3, 5)))
    # a sample's noise does not depend on the batch it is drawn in
    np.testing.assert_array_equal(np.asarray(normal_like(key, jnp.zeros((4, 3, 5)))), np.asarray(big[:4]))
    # elements are laid out as the flattened sample: (9, 15) draws the same numbers
    np.testing.assert_array_equal(np.asarray(normal_like(key, jnp.zeros((9, 15)))).reshape(9, 3, 5), np.asarray(big))
    # other floating dtypes draw in float32 and cast; the fallback for non-Threefry keys
    half = normal_like(key, jnp.zeros((9, 3, 5), jnp.bfloat16))
    assert half.dtype == jnp.bfloat16
    np.testing.assert_allclose(np.asarray(half, np.float32), np.asarray(big), rtol=1e-2, atol=1e-2)
    rbg = jax.random.key(0, impl="rbg")
    zr = normal_like(rbg, jnp.zeros((6, 4)))
    np.testing.assert_array_equal(np.asarray(normal_like(rbg, jnp.zeros((2, 4)))), np.asarray(zr[:2]))


def test_vmap_and_jit_agree_with_plain_calls():
    keys = jax.random.split(jax.random.key(5), 3)
    x = jnp.zeros((4, 6))
    batched = jax.vmap(lambda k: normal_like(k, x))(keys)
    looped = np.stack([np.asarray(jax.jit(normal_like)(k, x)) for k in keys])
    np.testing.assert_allclose(np.asarray(batched), looped, rtol=1e-5, atol=1e-6)  # fusion may differ
    raw = jax.random.key_data(keys[0])  # a raw uint32[2] key draws the same numbers
    np.testing.assert_allclose(np.asarray(normal_like(raw, x)), looped[0], rtol=1e-5, atol=1e-6)


def test_large_batch_sampler_matches_small_batch():
    # Reference: the same 3 samples drawn in a batch of 3: the per-sample noise of a large
    # batch (2**16 elements) does not depend on the batch it is drawn in.
    from ._helpers import SIGMA_MAX, mixture_target

    target = mixture_target()
    sigmas = jd.karras_sigmas(15, 0.002, SIGMA_MAX)
    x = SIGMA_MAX * jax.random.normal(jax.random.key(0), (1 << 15, 2))
    run = jax.jit(lambda x: jd.sample(target.denoiser, x, sigmas, sampler=jd.DPMpp2MSDE(), key=jax.random.key(1)))
    big, small = run(x), run(x[:3])
    np.testing.assert_allclose(np.asarray(big[:3]), np.asarray(small), rtol=1e-5, atol=1e-5)
    # the samples follow the target: mixture weights of the nearest component within 2%
    centre = np.asarray(target.means)
    nearest = np.argmin(((np.asarray(big)[:, None, :] - centre) ** 2).sum(-1), axis=1)
    np.testing.assert_allclose(np.bincount(nearest, minlength=3) / big.shape[0], target.weights, atol=0.02)
