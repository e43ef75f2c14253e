"""Agreement with k-diffusion (the peer) on the same analytic denoiser, sigmas and noise.

Runs only where k-diffusion is installed (it is not a jaxsci dependency: its package pulls
in torchvision, wandb, kornia, ...). The Gaussian-mixture denoiser is written once in JAX
(jaxsci.diffusion.targets) and once in torch below; the noise k-diffusion draws is fed from
the same per-sample JAX keys jaxsci uses, through k-diffusion's `noise_sampler` argument.
"""

import jax
import numpy as np
import pytest

from jaxsci import diffusion as jd

from ._helpers import mixture_target

kd_sampling = pytest.importorskip("k_diffusion.sampling")
torch = pytest.importorskip("torch")


def _torch_mixture_denoiser(target):
    w = torch.tensor(np.asarray(target.weights), dtype=torch.float64)
    mu = torch.tensor(np.asarray(target.means), dtype=torch.float64)
    var0 = torch.tensor(np.asarray(target.covariances), dtype=torch.float64)

    def denoiser(x, sigma):
        s2 = sigma.reshape(-1)[0] ** 2
        var = var0 + s2  # (K, d)
        diff = x[:, None, :] - mu  # (n, K, d)
        logp = -0.5 * ((diff**2 / var).sum(-1) + torch.log(var).sum(-1)) + torch.log(w)
        r = torch.softmax(logp, dim=1)
        score = -(r[..., None] * diff / var).sum(1)
        return x + s2 * score

    return denoiser


def _noise_sampler(key, x, sigmas, two_per_step=False):
    """k-diffusion noise_sampler(sigma, sigma_next) returning jaxsci's draw for that step."""
    levels = np.asarray(sigmas)

    def draw(sigma, sigma_next):
        i = int(np.argmin(np.abs(levels - float(sigma))))
        k = jax.random.fold_in(key, i)
        if not two_per_step:
            z = jd.samplers.normal_like(k, x)
        else:  # DPMppSDE: increments of one Brownian path over [sigma_s, sigma] and [sigma', sigma]
            s_next = levels[i + 1]
            h = np.log(levels[i]) - np.log(s_next)
            s_mid = levels[i] * np.exp(-0.5 * h)
            z1 = jd.samplers.normal_like(jax.random.fold_in(k, 0), x)
            z2 = jd.samplers.normal_like(jax.random.fold_in(k, 1), x)
            if abs(float(sigma_next) - s_next) < 1e-9 * s_next:
                a, b = levels[i] - s_mid, s_mid - s_next
                z = (np.sqrt(a) * z1 + np.sqrt(b) * z2) / np.sqrt(a + b)
            else:
                z = z1
        return torch.tensor(np.asarray(z), dtype=torch.float64)

    return draw


CASES = {
    "Euler": (jd.Euler(), "sample_euler", {}),
    "Heun": (jd.Heun(), "sample_heun", {}),
    "DPM2": (jd.DPM2(), "sample_dpm_2", {}),
    "LMS": (jd.LMS(order=4), "sample_lms", {"order": 4}),
    "DPMpp2M": (jd.DPMpp2M(), "sample_dpmpp_2m", {}),
    "EulerAncestral": (jd.EulerAncestral(eta=0.7), "sample_euler_ancestral", {"eta": 0.7, "noise": 1}),
    "DPMpp2SAncestral": (jd.DPMpp2SAncestral(), "sample_dpmpp_2s_ancestral", {"noise": 1}),
    # eta > 1: some steps before the last end at sigma_down = 0 (Euler steps in both)
    "DPMpp2SAncestral(eta=1.5)": (jd.DPMpp2SAncestral(eta=1.5), "sample_dpmpp_2s_ancestral", {"noise": 1, "eta": 1.5}),
    "DPMppSDE": (jd.DPMppSDE(), "sample_dpmpp_sde", {"noise": 2}),
    "DPMpp2MSDE(midpoint)": (jd.DPMpp2MSDE(), "sample_dpmpp_2m_sde", {"noise": 1}),
    "DPMpp2MSDE(heun)": (jd.DPMpp2MSDE(solver_type="heun"), "sample_dpmpp_2m_sde", {"noise": 1, "solver_type": "heun"}),
    "DPMpp3MSDE": (jd.DPMpp3MSDE(eta=0.5), "sample_dpmpp_3m_sde", {"noise": 1, "eta": 0.5}),
}


@pytest.mark.parametrize("name", list(CASES))
def test_same_output_as_kdiffusion(name, x64):
    ours, fn_name, kwargs = CASES[name]
    kwargs = dict(kwargs)
    noise = kwargs.pop("noise", 0)
    target = mixture_target()
    sigmas = jd.karras_sigmas(12, 0.002, 80.0)
    x = 80.0 * jax.random.normal(jax.random.key(0), (64, 2))
    key = jax.random.key(7)
    y = jd.sample(target.denoiser, x, sigmas, sampler=ours, key=key if noise else None)
    x_t = torch.tensor(np.asarray(x), dtype=torch.float64)
    s_t = torch.tensor(np.asarray(sigmas), dtype=torch.float64)
    if noise:
        kwargs["noise_sampler"] = _noise_sampler(key, x, sigmas, two_per_step=noise == 2)
    y_kd = getattr(kd_sampling, fn_name)(_torch_mixture_denoiser(target), x_t, s_t, disable=True, **kwargs)
    np.testing.assert_allclose(np.asarray(y), y_kd.numpy(), rtol=1e-9, atol=1e-9)
