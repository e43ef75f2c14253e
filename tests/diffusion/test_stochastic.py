"""Stochastic samplers on a 2-D Gaussian mixture, against exact samples of the mixture.

References: exact samples of the target (GaussianMixture.sample) for the sliced Wasserstein
distance, and the exact mixture weights for the weight error; both must shrink with steps.
"""

import jax
import pytest

from jaxsci import diffusion as jd

from ._helpers import SIGMA_MAX, mixture_target, sliced_wasserstein, weight_error

N = 3000
FAST = {
    "EulerAncestral": jd.EulerAncestral(),
    "DPMpp2MSDE": jd.DPMpp2MSDE(),
    "DPMpp3MSDE": jd.DPMpp3MSDE(),
    "PredictorCorrector": jd.PredictorCorrector(jd.EulerMaruyama(), jd.Langevin(snr=0.16)),
}
SLOW = {
    "EulerMaruyama": jd.EulerMaruyama(),
    "DPMpp2SAncestral": jd.DPMpp2SAncestral(),
    "DPMppSDE": jd.DPMppSDE(),
    "DPMpp2MSDE(heun)": jd.DPMpp2MSDE(solver_type="heun"),
    "Heun(churn)": jd.Heun(s_churn=10.0, s_tmin=0.05, s_tmax=50.0),
    "DDIM(eta=1)": jd.DDIM(eta=1.0),
    "DPM2(churn)": jd.DPM2(s_churn=5.0),
    "Euler(churn)": jd.Euler(s_churn=5.0),
}
PARAMS = list(FAST) + [pytest.param(k, marks=pytest.mark.slow) for k in SLOW]


@pytest.mark.parametrize("name", PARAMS)
def test_mixture_converges(name):
    sampler = {**FAST, **SLOW}[name]
    target = mixture_target()
    reference = target.sample(jax.random.key(1), N)
    x = SIGMA_MAX * jax.random.normal(jax.random.key(2), (N, 2))
    errors = []
    for steps in (4, 48):
        sigmas = jd.karras_sigmas(steps, 0.002, SIGMA_MAX)
        y = jd.sample(target.denoiser, x, sigmas, sampler=sampler, key=jax.random.key(3))
        errors.append((sliced_wasserstein(y, reference, jax.random.key(4)), weight_error(target, y)))
    (sw_coarse, w_coarse), (sw_fine, w_fine) = errors
    assert sw_fine < 0.6 * sw_coarse and sw_fine < 0.4, errors
    # 3000 samples: the standard error of a weight is about 0.009
    assert w_fine < 0.04 and w_fine <= w_coarse + 0.01, errors
