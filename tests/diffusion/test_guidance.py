"""Guidance moves mass to the guided component of a Gaussian mixture.

Reference: the exact conditional denoiser of one mixture component and the exact mixture
denoiser; the fraction of samples assigned to the guided component must rise from its
prior weight (unguided) towards 1, and APG with eta=1, no momentum and no threshold must
equal classifier-free guidance.
"""

import jax
import jax.numpy as jnp
import numpy as np

from jaxsci import diffusion as jd

from ._helpers import SIGMA_MAX, mixture_target


def _fraction(target, samples, k):
    return float(np.mean(np.argmax(np.asarray(target.responsibilities(samples)), 1) == k))


def test_cfg_and_apg_move_mass():
    target = mixture_target()
    cond = target.component(0).denoiser  # the lightest component, weight 0.2
    sigmas = jd.karras_sigmas(16, 0.002, SIGMA_MAX)
    x = SIGMA_MAX * jax.random.normal(jax.random.key(0), (2000, 2))
    run = lambda den: jd.sample(den, x, sigmas, sampler=jd.DPMpp2M())  # noqa: E731
    plain = _fraction(target, run(target.denoiser), 0)
    cfg = _fraction(target, run(jd.ClassifierFreeGuidance(cond, target.denoiser, scale=3.0)), 0)
    apg = jd.AdaptiveProjectedGuidance(cond, target.denoiser, scale=3.0, eta=0.0, momentum=-0.5, norm_threshold=5.0)
    apg_frac = _fraction(target, run(apg), 0)
    assert abs(plain - 0.2) < 0.04
    assert cfg > 0.95 and apg_frac > 0.8, (plain, cfg, apg_frac)


def test_apg_reduces_to_cfg_and_momentum_is_carried(x64):
    target = mixture_target()
    cond = target.component(2).denoiser
    sigmas = jd.karras_sigmas(6, 0.002, SIGMA_MAX)
    x = SIGMA_MAX * jax.random.normal(jax.random.key(1), (16, 2))
    cfg = jd.ClassifierFreeGuidance(cond, target.denoiser, scale=2.5)
    apg = jd.AdaptiveProjectedGuidance(cond, target.denoiser, scale=2.5, eta=1.0)
    a = jd.sample(cfg, x, sigmas, sampler=jd.Euler())
    b = jd.sample(apg, x, sigmas, sampler=jd.Euler())
    np.testing.assert_allclose(np.asarray(b), np.asarray(a), rtol=1e-10, atol=1e-10)
    # momentum: the sampler's scan must thread the buffer through every denoiser call, so a
    # Python loop over the same calls with an explicit state gives the same result
    apg_m = jd.AdaptiveProjectedGuidance(cond, target.denoiser, scale=2.5, momentum=-0.5, norm_threshold=3.0)

    @jax.jit
    def loop(y):
        state = apg_m.init_state(y)
        for i in range(sigmas.shape[0] - 1):
            s, s_next = sigmas[i], sigmas[i + 1]
            den, state = apg_m.apply(y, s, state)
            y = y + (y - den) / s * (s_next - s)
        return y

    y = loop(x)
    np.testing.assert_allclose(np.asarray(jd.sample(apg_m, x, sigmas, sampler=jd.Euler())), np.asarray(y), rtol=1e-10, atol=1e-10)
    # and without the state (a fresh buffer at each call) the answer differs
    z = jd.sample(lambda v, s: apg_m(v, s), x, sigmas, sampler=jd.Euler())
    assert float(jnp.max(jnp.abs(z - y))) > 1e-3
