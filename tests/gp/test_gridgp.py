"""`GridGP` against dense Cholesky computations (float64) and finite differences.

References: the dense N x N covariance built from the kernels on the flattened grid, with
`jnp.linalg.cholesky` / `jax.scipy.stats.multivariate_normal` (cannot share the Kronecker
eigenbasis code), and central finite differences on a 64 x 64 grid.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsci.gp import GridGP
from jaxsci.gp.kernels import Matern32, Matern52, Periodic, SpectralMixture, SquaredExponential


def dense_cov(model, derivative=None, points=None):
    """Dense cross-covariance between d^beta f(points) and f(grid), built pair by pair."""
    derivative = derivative or (0,) * len(model.grid)
    mesh = jnp.stack(jnp.meshgrid(*model.grid, indexing="ij"), -1).reshape(-1, len(model.grid))
    pts = mesh if points is None else points
    cross, prior = 1.0, 1.0
    for i, (k, b) in enumerate(zip(model.kernels, derivative)):
        cross = cross * k.derivative(pts[:, i], mesh[:, i], (b, 0))
        prior = prior * k.derivative(pts[:, i], pts[:, i], (b, b))
    return cross, prior


def dense_lml(model, y):
    k, _ = dense_cov(model)
    cov = k + model.noise * jnp.eye(k.shape[0])
    return jax.scipy.stats.multivariate_normal.logpdf(y.reshape(-1), jnp.zeros(k.shape[0]), cov)


def _model_2d():
    grid = (jnp.linspace(0.0, 1.0, 7), jnp.linspace(-1.0, 1.5, 5))
    return GridGP(grid, (SquaredExponential(0.3, 1.2), Matern52(0.7, 0.9)), noise=0.05)


def _model_3d_clustered():
    # a long lengthscale makes most per-axis eigenvalues cluster at ~0, and a periodic kernel
    # on a whole number of periods is circulant: its eigenvalues come in exactly equal pairs
    grid = (jnp.linspace(0, 1, 4), jnp.arange(6) / 6.0, jnp.array([0.0, 0.1, 0.35, 0.5, 0.9]))
    kernels = (SquaredExponential(5.0), Periodic(0.8, 1.0, 1.0), Matern32(0.4))
    return GridGP(grid, kernels, noise=0.1)


@pytest.mark.parametrize("make", [_model_2d, _model_3d_clustered], ids=["2d", "3d-clustered"])
def test_lml_and_gradients_match_dense(make, getkey, x64):
    """Values and gradients w.r.t. every kernel parameter and the noise equal dense Cholesky."""
    model = make()
    y = jax.random.normal(getkey(), model.shape)

    @jax.jit
    def both(model, y):
        fast = jax.value_and_grad(lambda m: m.log_marginal_likelihood(y))(model)
        return fast, jax.value_and_grad(dense_lml)(model, y)

    (value, grad), (ref_value, ref) = both(model, y)
    np.testing.assert_allclose(value, ref_value, rtol=1e-11)
    for g, r in zip(jax.tree.leaves((grad.kernels, grad.noise)), jax.tree.leaves((ref.kernels, ref.noise))):
        np.testing.assert_allclose(g, r, rtol=1e-8, atol=1e-10)
    assert model.uniform == ((True, True) if len(model.shape) == 2 else (True, True, False))


def test_gradient_finite_differences_64x64(getkey, x64):
    """d lml / d(lengthscale, noise) on 64^2 equals central differences (h = 1e-5)."""
    grid = (jnp.linspace(0, 1, 64), jnp.linspace(0, 1, 64))
    y = jax.random.normal(getkey(), (64, 64))

    @jax.jit
    def lml(theta):
        model = GridGP(grid, (SquaredExponential(theta[0]), Matern52(theta[1])), noise=theta[2])
        return model.log_marginal_likelihood(y)

    theta = jnp.array([0.2, 0.3, 0.1])
    grad = jax.grad(lml)(theta)
    h = 1e-5
    fd = jnp.array([(lml(theta + h * e) - lml(theta - h * e)) / (2 * h) for e in jnp.eye(3)])
    np.testing.assert_allclose(grad, fd, rtol=1e-6)


def test_posterior_grid_points_and_derivatives(getkey, x64):
    """Posterior mean/variance on the grid, at points, and of df/dx0 and d2f/dx1^2 vs dense."""
    model = _model_2d()
    y = jax.random.normal(getkey(), model.shape)
    k, _ = dense_cov(model)
    solve = lambda b: jnp.linalg.solve(k + model.noise * jnp.eye(k.shape[0]), b)  # noqa: E731
    points = jax.random.uniform(getkey(), (6, 2), minval=jnp.array([0.0, -1.0]), maxval=jnp.array([1.0, 1.5]))

    @jax.jit
    def compare(model, y, points):
        out = []
        for pts in (None, points):
            for beta in ((0, 0), (1, 0), (0, 2), (1, 1)):
                mean, var = model.posterior(y, points=pts, derivative=beta)
                cross, prior = dense_cov(model, beta, pts)
                ref_mean = cross @ solve(y.reshape(-1))
                ref_var = jnp.diag(prior) - jnp.sum(cross * solve(cross.T).T, axis=1)
                out.append((mean, var, ref_mean, ref_var, prior))
        return out

    for mean, var, ref_mean, ref_var, prior in compare(model, y, points):
            np.testing.assert_allclose(mean.reshape(-1), ref_mean, atol=1e-9 * (1 + jnp.max(jnp.abs(ref_mean))))
            np.testing.assert_allclose(var.reshape(-1), ref_var, atol=1e-9 * jnp.max(jnp.diag(prior)))


def test_denoiser_matches_dense(getkey, x64):
    """denoiser(x, sigma) = K (K + sigma^2 I)^-1 x, also with a leading batch axis."""
    model = _model_2d()
    x = jax.random.normal(getkey(), (3,) + model.shape)
    k, _ = dense_cov(model)
    ref = jnp.linalg.solve(k + 0.7**2 * jnp.eye(k.shape[0]), x.reshape(3, -1).T).T @ k.T
    np.testing.assert_allclose(jax.jit(lambda m, x: m.denoiser(x, 0.7))(model, x).reshape(3, -1), ref, atol=1e-12)


def test_prior_and_posterior_samples_statistics(getkey, x64):
    """Empirical mean/covariance of 3000 draws vs the dense prior and posterior (z-scores)."""
    grid = (jnp.linspace(0, 1, 3), jnp.linspace(0, 1, 4))
    model = GridGP(grid, (SquaredExponential(0.5), Matern52(0.6)), noise=0.1)
    k, _ = dense_cov(model)
    y = jax.random.normal(getkey(), model.shape)
    a = k + 0.1 * jnp.eye(12)
    post_mean = k @ jnp.linalg.solve(a, y.reshape(-1))
    post_cov = k - k @ jnp.linalg.solve(a, k)
    n = 3000
    draw = eqx.filter_jit(lambda m, key, ys: m.sample(key, ys, num_samples=n).reshape(n, -1))
    for ys, mu, cov in ((None, jnp.zeros(12), k), (y, post_mean, post_cov)):
        draws = draw(model, getkey(), ys)
        sd = jnp.sqrt(jnp.diag(cov))
        z_mean = (jnp.mean(draws, 0) - mu) / (sd / np.sqrt(n))
        assert float(jnp.max(jnp.abs(z_mean))) < 4.5
        emp = jnp.cov(draws.T)
        # the variance of a sample covariance entry is (S_ii S_jj + S_ij^2) / n
        se = jnp.sqrt((jnp.outer(jnp.diag(cov), jnp.diag(cov)) + cov**2) / n)
        assert float(jnp.max(jnp.abs(emp - cov) / se)) < 5.0


def test_vmap_over_datasets_and_hyperparameters(getkey, x64):
    """vmap over data sets and over lengthscale batches equals a Python loop."""
    model = _model_2d()
    ys = jax.random.normal(getkey(), (3,) + model.shape)
    lml = jax.jit(lambda m, y: m.log_marginal_likelihood(y))
    batched = jax.jit(jax.vmap(lml, in_axes=(None, 0)))(model, ys)
    np.testing.assert_allclose(batched, [lml(model, y) for y in ys], rtol=1e-12)

    lengthscales = jnp.array([0.1, 0.3, 0.9])
    make = lambda ls: GridGP(model.grid, (SquaredExponential(ls), Matern52(0.7)), noise=0.05)  # noqa: E731
    vals = jax.jit(jax.vmap(lambda ls: lml(make(ls), ys[0])))(lengthscales)
    np.testing.assert_allclose(vals, [lml(make(ls), ys[0]) for ls in lengthscales], rtol=1e-12)


def test_jit_does_not_recompile_on_new_values(getkey):
    """A jitted likelihood+gradient traces once for new data and hyperparameter values."""
    traces = []

    @eqx.filter_jit
    def value_and_grad(model, y):
        traces.append(1)
        return eqx.filter_value_and_grad(lambda m: -m.log_marginal_likelihood(y))(model)

    grid = (jnp.linspace(0, 1, 8), jnp.linspace(0, 1, 6))
    for ls, noise in ((0.2, 0.1), (0.5, 0.01)):
        model = GridGP(grid, (Matern52(ls), SquaredExponential(ls)), noise=noise)
        value, _ = value_and_grad(model, jax.random.normal(getkey(), (8, 6)))
        assert jnp.isfinite(value)
    assert len(traces) == 1


def test_float32_default_close_to_float64(getkey):
    """The default float32 path agrees with float64 to float32 accuracy."""
    grid = (jnp.linspace(0, 1, 16), jnp.linspace(0, 1, 12))
    y = np.asarray(jax.random.normal(getkey(), (16, 12)))
    lml = jax.jit(lambda grid, y: GridGP(grid, (Matern52(0.3), SquaredExponential(0.2)), 0.05).log_marginal_likelihood(y))
    lml32 = lml(grid, y)
    assert lml32.dtype == jnp.float32
    with jax.enable_x64(True):
        lml64 = lml(tuple(jnp.asarray(np.asarray(x), jnp.float64) for x in grid), y)
    np.testing.assert_allclose(float(lml32), float(lml64), rtol=1e-4)


def test_errors():
    grid = (jnp.linspace(0, 1, 4), jnp.linspace(0, 1, 3))
    model = GridGP(grid, Matern52(0.3), noise=0.1)
    with pytest.raises(ValueError, match=r"y has shape \(3, 4\) but the grid has shape \(4, 3\)"):
        model.log_marginal_likelihood(jnp.zeros((3, 4)))
    with pytest.raises(ValueError, match="noise must be non-negative"):
        GridGP(grid, Matern52(0.3), noise=-0.1)
    with pytest.raises(ValueError, match="non-finite"):
        model.log_marginal_likelihood(jnp.full((4, 3), jnp.nan))
    with pytest.raises(Exception, match="non-finite"):
        jax.jit(lambda y: model.log_marginal_likelihood(y))(jnp.full((4, 3), jnp.inf))
    with pytest.raises(ValueError, match="one per grid axis"):
        GridGP(grid, (Matern52(0.3),), noise=0.1)
    with pytest.raises(ValueError, match=r"points must have shape \(m, 2\)"):
        model.posterior(jnp.zeros((4, 3)), points=jnp.zeros((5, 3)))
    with pytest.raises(ValueError, match="Matern32 supports derivative orders 0..2"):
        GridGP(grid, Matern32(0.3)).posterior(jnp.zeros((4, 3)), derivative=(2, 0))
    with pytest.raises(ValueError, match="mask must be a bool array"):
        model.posterior(jnp.zeros((4, 3)), mask=jnp.ones((4, 3)))
