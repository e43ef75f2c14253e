"""`fit`: type-II maximum likelihood with optax.

References: the exact likelihood gradient (stationarity at the optimum, checked against the
gradient at the start) and the known generating hyperparameters of a simulated field.
"""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

from jaxsci.gp import GridGP, fit
from jaxsci.gp.kernels import Matern52, SpectralMixture, SquaredExponential
from jaxsci.gp._fit import _positive_leaves


def test_fit_reaches_a_stationary_point_near_the_truth(getkey, x64):
    grid = (jnp.linspace(0, 1, 16), jnp.linspace(0, 1, 12))
    truth = GridGP(grid, (SquaredExponential(0.15), Matern52(0.25)), noise=0.01)
    f = jax.jit(lambda m, k: m.sample(k))(truth, getkey())
    y = f + 0.1 * jax.random.normal(getkey(), f.shape)
    start = GridGP(grid, (SquaredExponential(0.4), Matern52(0.4)), noise=0.1)
    model, history = fit(start, y, optax.adam(0.05), 150)
    lml = history["log_marginal_likelihood"]
    assert lml.shape == (150,) and float(lml[-1]) > float(lml[0]) + 10.0

    def grad_log(m):  # gradient w.r.t. log-parameters = theta * d lml / d theta
        g = jax.grad(lambda m: m.log_marginal_likelihood(y))(m)
        return jnp.array([g.kernels[0].lengthscale * m.kernels[0].lengthscale,
                          g.kernels[1].lengthscale * m.kernels[1].lengthscale, g.noise * m.noise])

    assert float(jnp.linalg.norm(grad_log(model))) < 0.02 * float(jnp.linalg.norm(grad_log(start)))
    np.testing.assert_allclose(model.noise, 0.01, rtol=0.3)
    np.testing.assert_allclose(model.kernels[0].lengthscale, 0.15, rtol=0.3)


def test_unconstrained_fields_are_not_log_transformed():
    k = SpectralMixture(jnp.ones(2), jnp.array([0.0, 2.0]), jnp.ones(2))
    model = GridGP((jnp.linspace(0, 1, 4),), k, noise=0.1)
    mask = _positive_leaves((model.kernels, model.noise))
    assert mask[0][0].means is False and mask[0][0].weights is True and mask[1] is True


def test_fit_errors():
    model = GridGP((jnp.linspace(0, 1, 4),), Matern52(0.3), noise=0.0)
    with pytest.raises(ValueError, match="must be > 0"):
        fit(model, jnp.zeros(4), optax.adam(0.1), 3)
    with pytest.raises(ValueError, match="num_steps"):
        fit(model, jnp.zeros(4), optax.adam(0.1), 0)
