"""log_likelihood against the exact log density of a Gaussian mixture (GaussianMixture.log_prob)."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsci import diffusion as jd

from ._helpers import mixture_target


def test_exact_divergence_matches_mixture_density(x64):
    target = mixture_target()
    x = target.sample(jax.random.key(0), 6)
    prior = lambda z: target.log_prob(z, 20.0)  # noqa: E731
    ll = jax.jit(lambda x: jd.log_likelihood(target.denoiser, x, sigma_min=1e-2, sigma_max=20.0,
                                             prior_log_prob=prior, rtol=1e-8, atol=1e-8))(x)
    np.testing.assert_allclose(np.asarray(ll), np.asarray(target.log_prob(x, 1e-2)), atol=1e-5)


@pytest.mark.slow
def test_default_prior(x64):
    target = mixture_target()
    x = target.sample(jax.random.key(0), 6)
    # the default N(0, sigma_max^2) prior approaches log p_0 as sigma_max grows; its error
    # is about |x(sigma_max)| |mu| / sigma_max^2 ~ |mu| / sigma_max = 3e-4 here
    ll0 = jd.log_likelihood(target.denoiser, x, sigma_min=1e-3, sigma_max=1e4, rtol=1e-7, atol=1e-7)
    np.testing.assert_allclose(np.asarray(ll0), np.asarray(target.log_prob(x)), atol=2e-3)


def test_hutchinson_unbiased(x64):
    target = mixture_target()
    x = jnp.tile(target.sample(jax.random.key(1), 1), (128, 1))
    exact = float(target.log_prob(x[:1], 1e-2)[0])
    prior = lambda z: target.log_prob(z, 20.0)  # noqa: E731
    est = jd.log_likelihood(target.denoiser, x, sigma_min=1e-2, sigma_max=20.0, divergence="hutchinson",
                            key=jax.random.key(2), prior_log_prob=prior, rtol=1e-5, atol=1e-5)
    z = (float(jnp.mean(est)) - exact) / (float(jnp.std(est)) / np.sqrt(x.shape[0]))
    assert abs(z) < 4.0, z


@pytest.mark.slow
def test_gradient_through_solve(x64):
    """Gradient w.r.t. the mixture means through the diffrax solve vs the exact density's."""
    target = mixture_target()
    pts = target.sample(jax.random.key(3), 2)

    def ll(means):
        t = jd.targets.GaussianMixture(target.weights, means, target.covariances)
        return jnp.sum(jd.log_likelihood(t.denoiser, pts, sigma_min=1e-2, sigma_max=20.0,
                                         prior_log_prob=lambda z: t.log_prob(z, 20.0), rtol=1e-7, atol=1e-7))

    def exact_ll(means):
        t = jd.targets.GaussianMixture(target.weights, means, target.covariances)
        return jnp.sum(t.log_prob(pts, 1e-2))

    np.testing.assert_allclose(np.asarray(jax.jit(jax.grad(ll))(target.means)), np.asarray(jax.grad(exact_ll)(target.means)), atol=1e-3)


def test_errors():
    target = mixture_target()
    x = jnp.zeros((2, 2))
    with pytest.raises(ValueError, match="divergence"):
        jd.log_likelihood(target.denoiser, x, sigma_min=0.1, sigma_max=1.0, divergence="trace")
    with pytest.raises(ValueError, match="key"):
        jd.log_likelihood(target.denoiser, x, sigma_min=0.1, sigma_max=1.0, divergence="hutchinson")
    with pytest.raises(ValueError, match="sigma_min"):
        jd.log_likelihood(target.denoiser, x, sigma_min=1.0, sigma_max=0.1)
