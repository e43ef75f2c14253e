"""Shared references for the diffusion tests (exact Gaussian KL, sliced Wasserstein)."""

import jax
import jax.numpy as jnp
import numpy as np

from jaxsci import diffusion as jd

SIGMA_MAX = 80.0


def gaussian_target():
    return jd.targets.Gaussian(jnp.array([1.0, -0.5]), jnp.array([[1.0, 0.3], [0.3, 0.5]]))


def mixture_target():
    return jd.targets.GaussianMixture(
        jnp.array([0.2, 0.3, 0.5]),
        jnp.array([[-3.0, 0.0], [2.0, 2.0], [2.0, -2.0]]),
        jnp.array([[0.3, 0.3], [0.5, 0.2], [0.2, 0.4]]),
    )


def gaussian_kl(m1, s1, m0, s0):
    """KL(N(m1, s1) || N(m0, s0)) in closed form."""
    d = len(m0)
    s0i = np.linalg.inv(s0)
    diff = m0 - m1
    logdet = np.linalg.slogdet(s0)[1] - np.linalg.slogdet(s1)[1]
    return 0.5 * (np.trace(s0i @ s1) + diff @ s0i @ diff - d + logdet)


def output_kl(target, sampler, sigmas):
    """KL of a deterministic sampler's exact output law to the target.

    The exact denoiser of a Gaussian is affine in x, so the sampler is an affine map
    x -> A x + b, read off from the d + 1 inputs 0, e_1, ..., e_d of one batch. Started
    from the exact marginal N(mu, C + sigma_max^2 I), the output is N(A mu + b, A (C +
    sigma_max^2 I) A^T).
    """
    d = target.mean.shape[0]
    inputs = jnp.concatenate([jnp.zeros((1, d)), jnp.eye(d)])
    y = np.asarray(jd.sample(target.denoiser, inputs, sigmas, sampler=sampler))
    b, a = y[0], (y[1:] - y[0]).T
    m0, s0 = np.asarray(target.mean), np.asarray(target.covariance)
    s_start = s0 + float(sigmas[0]) ** 2 * np.eye(d)
    return gaussian_kl(a @ m0 + b, a @ s_start @ a.T, m0, s0)


def sliced_wasserstein(a, b, key, num_projections=64):
    """Sliced 2-Wasserstein distance between two equal-size point clouds."""
    theta = jax.random.normal(key, (num_projections, a.shape[1]), a.dtype)
    theta = theta / jnp.linalg.norm(theta, axis=1, keepdims=True)
    pa, pb = jnp.sort(a @ theta.T, axis=0), jnp.sort(b @ theta.T, axis=0)
    return float(jnp.sqrt(jnp.mean((pa - pb) ** 2)))


def weight_error(target, samples):
    """Largest error of the mixture weights estimated by assigning samples to components."""
    labels = np.argmax(np.asarray(target.responsibilities(samples)), axis=1)
    counts = np.bincount(labels, minlength=target.weights.shape[0]) / samples.shape[0]
    return float(np.abs(counts - np.asarray(target.weights)).max())
