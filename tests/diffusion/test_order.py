"""Deterministic samplers on a Gaussian target: exact output law, KL vs steps at the known order.

Reference: the output law of a deterministic sampler driven by the exact (affine) denoiser
of N(mu, C) is exactly Gaussian; its KL to the target is computed in closed form and its
log-log slope against the number of steps must match -2 x (order of the method).
"""

import numpy as np
import pytest

from jaxsci import diffusion as jd

from ._helpers import SIGMA_MAX, gaussian_target, output_kl

# (sampler, schedule, steps, expected KL slope = -2 * global order, tolerance)
# Multistep methods (LMS, DPM++ 3M) start with first-order steps, whose local error
# O(h^2) makes the global order 2 on a uniform log-sigma grid; we test that order.
CASES = {
    "Euler": (jd.Euler(), "karras", (16, 32, 64), -2.0, 0.3),
    "Heun": (jd.Heun(), "karras", (16, 32, 64), -4.0, 0.6),
    "DPM2": (jd.DPM2(), "karras", (16, 32, 64), -4.0, 0.6),
    "DPMpp2M": (jd.DPMpp2M(), "exp", (16, 32, 64), -4.0, 0.5),
    "DPMpp2SAncestral(eta=0)": (jd.DPMpp2SAncestral(eta=0.0), "karras", (16, 32, 64), -4.0, 0.5),
    "DPMppSDE(eta=0)": (jd.DPMppSDE(eta=0.0), "karras", (16, 32, 64), -4.0, 0.5),
    "DPMpp2MSDE(heun, eta=0)": (jd.DPMpp2MSDE(eta=0.0, solver_type="heun"), "exp", (16, 32, 64), -4.0, 0.6),
    "DPMpp3MSDE(eta=0)": (jd.DPMpp3MSDE(eta=0.0), "exp", (32, 64, 128), -4.0, 0.8),
    "LMS(3)": (jd.LMS(order=3), "exp", (16, 32, 64), -4.0, 2.0),
}


def _sigmas(kind, n):
    if kind == "karras":
        return jd.karras_sigmas(n, 0.002, SIGMA_MAX)
    return jd.exponential_sigmas(n, 0.002, SIGMA_MAX)


@pytest.mark.parametrize("name", list(CASES))
def test_kl_order(name, x64):
    sampler, kind, steps, slope, tol = CASES[name]
    target = gaussian_target()
    kls = [output_kl(target, sampler, _sigmas(kind, n)) for n in steps]
    fitted = np.polyfit(np.log(steps), np.log(kls), 1)[0]
    assert kls[-1] < 0.1 * kls[0]
    if name == "LMS(3)":  # at least second order (third order before the startup error shows)
        assert fitted <= slope + 0.5, (kls, fitted)
    else:
        assert abs(fitted - slope) <= tol, (kls, fitted)


def test_equivalent_first_order_samplers(x64):
    """DDIM(eta=0), EulerAncestral(eta=0), DPMpp2MSDE(midpoint, eta=0) vs their known equals.

    Reference: DDIM with eta = 0 in the VE variable is an Euler step of the probability-flow
    ODE (Karras et al. 2022, Sec. 4); EulerAncestral with eta = 0 is Euler; DPM++(2M) SDE
    midpoint with eta = 0 is DPM++(2M).
    """
    target = gaussian_target()
    sigmas = jd.karras_sigmas(12, 0.002, SIGMA_MAX)
    x = np.array([[0.0, 0.0], [30.0, -50.0], [-80.0, 10.0]])
    run = lambda s: np.asarray(jd.sample(target.denoiser, x, sigmas, sampler=s))  # noqa: E731
    euler = run(jd.Euler())
    np.testing.assert_allclose(run(jd.DDIM(eta=0.0)), euler, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(run(jd.EulerAncestral(eta=0.0)), euler, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(run(jd.DPMpp2MSDE(eta=0.0)), run(jd.DPMpp2M()), rtol=1e-10, atol=1e-10)
