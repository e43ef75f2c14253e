"""`GridGP` at the edges: noise-free masked data, clamped eigenvalues, validation, sharding.

References: dense kernel matrices built pair by pair from `kernel.derivative` (no Kronecker
code), dense Cholesky solves, central finite differences, and `vmap` for the sharded runs.
"""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest

import jaxsci.parallel as par
from jaxsci.gp import GridGP, fit
from jaxsci.gp.kernels import Matern12, Matern52, SquaredExponential


def _dense_k(model):
    mesh = jnp.stack(jnp.meshgrid(*model.grid, indexing="ij"), -1).reshape(-1, len(model.grid))
    k = 1.0
    for i, kernel in enumerate(model.kernels):
        k = k * kernel.derivative(mesh[:, i], mesh[:, i], (0, 0))
    return k


def _problem(key, noise):
    grid = (jnp.linspace(0.0, 1.0, 6), jnp.linspace(0.0, 1.0, 5))
    gp = GridGP(grid, Matern12(0.3), noise=noise)
    k1, k2 = jax.random.split(key)
    y = jax.random.normal(k1, gp.shape)
    mask = np.asarray(jax.random.uniform(k2, gp.shape) < 0.7)
    return gp, y, mask


def test_masked_noise_free_data_matches_dense(x64, getkey):
    # noise = 0 with a mask used to give the prior (CG: mean 0, variance 1) or NaN (dense, SLQ)
    gp, y, mask = _problem(getkey(), 0.0)
    k, o = _dense_k(gp), mask.reshape(-1)
    k_oo, k_xo, y_o = k[np.ix_(o, o)], k[:, o], y.reshape(-1)[o]
    mean_ref = k_xo @ jnp.linalg.solve(k_oo, y_o)
    var_ref = jnp.diag(k) - jnp.sum(k_xo * jnp.linalg.solve(k_oo, k_xo.T).T, axis=1)
    lml_ref = jax.scipy.stats.multivariate_normal.logpdf(y_o, jnp.zeros(o.sum()), k_oo)
    mean, var = gp.posterior(y, mask, method="dense")
    np.testing.assert_allclose(var.reshape(-1), jnp.maximum(var_ref, 0.0), atol=1e-8)
    np.testing.assert_allclose(mean.reshape(-1), mean_ref, atol=1e-8)
    mean, _ = gp.posterior(y, mask, method="cg", variance=False)  # the variance takes the same CG path
    np.testing.assert_allclose(mean.reshape(-1), mean_ref, atol=1e-8)
    for method in ("dense", "schur"):
        np.testing.assert_allclose(gp.log_marginal_likelihood(y, mask, method=method), lml_ref, rtol=1e-10)
    slq = gp.log_marginal_likelihood(y, mask, method="slq", key=getkey(), num_probes=8)
    assert jnp.isfinite(slq) and abs(slq - lml_ref) < 1.0
    # the representer weights of noise-free data interpolate the observations
    np.testing.assert_allclose(mean.reshape(-1)[o], y_o, atol=1e-8)


def test_masked_traced_negative_noise_raises(getkey):
    gp, y, mask = _problem(getkey(), 0.1)
    run = jax.jit(lambda n: GridGP(gp.grid, gp.kernels, noise=n).posterior(y, mask)[0])
    assert jnp.all(jnp.isfinite(run(0.1)))
    with pytest.raises(Exception, match="noise"):
        run(-0.1).block_until_ready()


def test_sample_gradient_with_clamped_eigenvalues(x64):
    # SE(0.5) on 30 x 30 has eigenvalues clamped to 0, where d sqrt(lambda) is infinite: NaN before
    grid = (jnp.linspace(0.0, 1.0, 30),) * 2
    key = jax.random.key(0)
    f = lambda ell: GridGP(grid, SquaredExponential(ell), noise=0.01).sample(key).sum()  # noqa: E731
    fd = (f(0.5 + 1e-6) - f(0.5 - 1e-6)) / 2e-6
    np.testing.assert_allclose(jax.grad(f)(0.5), fd, rtol=1e-5)


def test_denoiser_at_sigma_zero(x64, getkey):
    # sigma = 0 used to give 0/0 on the clamped null space of K: all NaN
    grid = (jnp.linspace(0.0, 1.0, 30),) * 2
    x = jax.random.normal(getkey(), (30, 30))
    # Matern12 is positive definite: E[f | f = x] = x
    np.testing.assert_allclose(GridGP(grid, Matern12(0.3)).denoiser(x, 0.0), x, atol=1e-9)
    # SE: the projection onto the range of K (the clamped null space carries no prior mass)
    gp = GridGP(grid, SquaredExponential(0.5))
    evals, evecs = gp.operator().eigh()
    keep = (jnp.multiply.outer(*evals) > 0).astype(x.dtype)
    ref = evecs[0] @ (keep * (evecs[0].T @ x @ evecs[1])) @ evecs[1].T
    np.testing.assert_allclose(gp.denoiser(x, 0.0), ref, atol=1e-10)
    with pytest.raises(ValueError, match="sigma must be finite"):
        gp.denoiser(x, jnp.nan)
    with pytest.raises(ValueError, match="sigma must be real"):
        gp.denoiser(x, 0.1 + 0.0j)


def test_gridgp_under_ensemble_map(x64, getkey):
    # error_if on per-device values inside shard_map used to fail ("cond branches must have equal output types")
    gp, _, mask = _problem(getkey(), 0.05)
    ys = jax.random.normal(getkey(), (8, *gp.shape))
    mesh = par.make_mesh()
    for fn in (gp.log_marginal_likelihood, lambda y: gp.log_marginal_likelihood(y, mask),
               lambda y: gp.posterior(y, mask)[0]):
        np.testing.assert_allclose(par.ensemble_map(fn, mesh)(ys), jax.vmap(fn)(ys), rtol=1e-9, atol=1e-12)
    noises = jnp.linspace(0.01, 0.1, 8)
    lml = lambda n: GridGP(gp.grid, gp.kernels, noise=n).log_marginal_likelihood(ys[0])  # noqa: E731
    np.testing.assert_allclose(par.ensemble_map(lml, mesh)(noises), jax.vmap(lml)(noises), rtol=1e-10)


def test_fit_with_a_concrete_mask_uses_the_exact_likelihood(x64, getkey):
    # a concrete mask used to arrive traced in fit's jitted loop: "method='schur' needs a concrete mask"
    gp, y, mask = _problem(getkey(), 0.1)
    for options in ({}, {"method": "schur"}):
        _, hist = fit(gp, y, optax.sgd(0.0), 2, mask=mask, **options)  # lr 0: the value is the initial one
        np.testing.assert_allclose(hist["log_marginal_likelihood"], gp.log_marginal_likelihood(y, mask, method="dense"),
                                   rtol=1e-12)
    with pytest.raises(ValueError, match="needs key"):
        fit(gp, y, optax.sgd(0.0), 2, mask=mask, method="slq")


@pytest.mark.parametrize(
    "make",
    [
        lambda: GridGP((jnp.array([0.0, jnp.nan, 1.0]),), Matern52(0.3)),
        lambda: GridGP((jnp.array([0.0, 0.5, 1.0]) + 0j,), Matern52(0.3)),
        lambda: GridGP((jnp.linspace(0, 1, 3),), Matern52(0.3 + 2j)),
        lambda: GridGP((jnp.linspace(0, 1, 3),), Matern52(0.3), noise=0.1 + 5j),
        lambda: GridGP((jnp.linspace(0, 1, 3),), Matern52(0.3)).log_marginal_likelihood(jnp.ones(3) + 1j),
    ],
)
def test_non_finite_and_complex_input_rejected(make):
    with pytest.raises(ValueError, match="must be (finite|real)"):
        make()


def test_traced_kernel_parameters_are_checked_at_run_time():
    grid, y = (jnp.linspace(0, 1, 8),), jnp.sin(jnp.linspace(0, 3, 8))
    run = jax.jit(lambda ell: GridGP(grid, Matern52(ell), noise=0.1).log_marginal_likelihood(y))
    assert jnp.isfinite(run(0.3))
    with pytest.raises(Exception, match="lengthscale must be finite and positive"):
        run(-0.3).block_until_ready()


def test_solver_and_sampling_options_validated(getkey):
    gp, y, mask = _problem(getkey(), 0.1)
    bad = [
        (lambda: gp.posterior(y, mask, maxiter=0), "maxiter"),
        (lambda: gp.posterior(y, mask, tol=float("nan")), "tol"),
        (lambda: gp.posterior(y, mask, tol=-1e-3), "tol"),
        (lambda: gp.log_marginal_likelihood(y, mask, method="slq", key=getkey(), maxiter=-5), "maxiter"),
        (lambda: gp.log_marginal_likelihood(y, mask, method="schur", key=getkey(), num_probes=0), "num_probes"),
        (lambda: gp.sample(getkey(), num_samples=-1), "num_samples"),
        (lambda: gp.sample(getkey(), num_samples=2.5), "num_samples"),
        (lambda: gp.posterior(y, method="bogus"), "method"),
        (lambda: gp.posterior(y, derivative=(True, 0)), "derivative"),
    ]
    for call, name in bad:
        with pytest.raises(ValueError, match=name):
            call()
    smooth = GridGP(gp.grid, Matern52(0.3), noise=0.1)
    np.testing.assert_allclose(smooth.posterior(y, derivative=(np.int64(1), 0))[0], smooth.posterior(y, derivative=(1, 0))[0])
    assert gp.sample(getkey(), num_samples=np.int64(2)).shape == (2, *gp.shape)


def test_nearly_uniform_grid_uses_its_own_coordinates(x64):
    # a grid 4e-6 spacings away from uniform used to be assembled as a Toeplitz (uniform) matrix,
    # and eager and jit results differed
    x = jnp.linspace(0.0, 1.0, 20).at[7].add(4e-6 / 19)
    gp = GridGP((x,), Matern52(0.3), noise=0.1)
    y = jnp.sin(3 * x)
    ref = jax.scipy.stats.multivariate_normal.logpdf(y, jnp.zeros(20), _dense_k(gp) + 0.1 * jnp.eye(20))
    np.testing.assert_allclose(gp.log_marginal_likelihood(y), ref, rtol=1e-12)
    np.testing.assert_allclose(jax.jit(lambda x: GridGP((x,), Matern52(0.3), noise=0.1).log_marginal_likelihood(y))(x),
                               ref, rtol=1e-12)
    assert GridGP((jnp.linspace(0.0, 1.0, 20, dtype=jnp.float32),), Matern52(0.3)).uniform == (True,)


def test_noise_set_around_init_is_checked(getkey):
    # eqx.tree_at and jit arguments rebuild the model without __init__; the methods check again
    gp, y, mask = _problem(getkey(), 0.1)
    bad = eqx.tree_at(lambda m: m.noise, gp, jnp.asarray(-0.1))
    with pytest.raises(ValueError, match="noise"):
        bad.posterior(y, mask)
    with pytest.raises(Exception, match="noise"):
        jax.jit(lambda m: m.posterior(y, mask)[0])(bad).block_until_ready()
