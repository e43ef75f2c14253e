"""Masked (missing-data) inference against dense computations on the observed entries.

References: the dense covariance of the observed entries, K_oo + s2 I, with Cholesky solves
and `jax.scipy.stats.multivariate_normal.logpdf` (float64).
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsci.gp import GridGP
from jaxsci.gp.kernels import Matern52, SquaredExponential


def _setup(getkey):
    grid = (jnp.linspace(0.0, 1.0, 9), jnp.linspace(0.0, 2.0, 7))
    model = GridGP(grid, (SquaredExponential(0.3, 1.2), Matern52(0.7)), noise=0.05)
    y = jax.jit(lambda m, k1, k2: m.sample(k1, m.sample(k2)))(model, getkey(), getkey())
    mask = jax.random.uniform(getkey(), model.shape) > 0.3
    mesh = jnp.stack(jnp.meshgrid(*grid, indexing="ij"), -1).reshape(-1, 2)
    return model, jnp.where(mask, y, jnp.nan), mask, mesh


def _dense(model, mesh, pts, beta, obs):
    cross = model.kernels[0].derivative(pts[:, 0], mesh[obs, 0], (beta[0], 0))
    cross = cross * model.kernels[1].derivative(pts[:, 1], mesh[obs, 1], (beta[1], 0))
    prior = model.kernels[0].derivative(pts[:, 0], pts[:, 0], (beta[0], beta[0]))
    prior = prior * model.kernels[1].derivative(pts[:, 1], pts[:, 1], (beta[1], beta[1]))
    k_oo = model.kernels[0](mesh[obs, 0], mesh[obs, 0]) * model.kernels[1](mesh[obs, 1], mesh[obs, 1])
    return cross, jnp.diag(prior), k_oo + model.noise * jnp.eye(int(obs.sum()))


def test_masked_posterior_matches_dense(getkey, x64):
    """CG (eigenbasis-preconditioned) and dense posteriors equal the observed-block formulas."""
    model, y, mask, mesh = _setup(getkey)
    obs = np.asarray(mask).reshape(-1)
    y_o = y.reshape(-1)[obs]
    points = jax.random.uniform(getkey(), (5, 2), maxval=jnp.array([1.0, 2.0]))
    cases = (("cg", None, (0, 0)), ("cg", points, (1, 0)), ("dense", None, (0, 1)))

    @jax.jit
    def run(model):
        out = []
        for method, pts, beta in cases:
            mean, var = model.posterior(y, mask, points=pts, derivative=beta, method=method)
            cross, prior, cov = _dense(model, mesh, mesh if pts is None else pts, beta, obs)
            ref_mean = cross @ jnp.linalg.solve(cov, y_o)
            ref_var = prior - jnp.sum(cross * jnp.linalg.solve(cov, cross.T).T, axis=1)
            out.append((mean, var, ref_mean, ref_var, prior))
        return out

    for mean, var, ref_mean, ref_var, prior in run(model):
        if True:
            np.testing.assert_allclose(mean.reshape(-1), ref_mean, atol=1e-7 * (1 + jnp.max(jnp.abs(ref_mean))))
            np.testing.assert_allclose(var.reshape(-1), ref_var, atol=1e-7 * jnp.max(prior))


def test_masked_lml_exact_methods_and_gradients(getkey, x64):
    """'schur' and 'dense' equal the observed-block log density; their gradients agree."""
    model, y, mask, mesh = _setup(getkey)
    obs = np.asarray(mask).reshape(-1)

    def reference(model):
        _, _, cov = _dense(model, mesh, mesh, (0, 0), obs)
        return jax.scipy.stats.multivariate_normal.logpdf(y.reshape(-1)[obs], jnp.zeros(cov.shape[0]), cov)

    @jax.jit
    def run(model):
        out = {"ref": jax.value_and_grad(reference)(model)}
        for method in ("schur", "dense"):
            out[method] = jax.value_and_grad(lambda m: m.log_marginal_likelihood(y, mask, method=method))(model)
        return out

    out = run(model)
    ref_value, ref_grad = out["ref"]
    grads = {method: out[method][1] for method in ("schur", "dense")}
    for method in ("schur", "dense"):
        np.testing.assert_allclose(out[method][0], ref_value, rtol=1e-10)
    for method in ("schur", "dense"):
        for g, r in zip(jax.tree.leaves((grads[method].kernels, grads[method].noise)), jax.tree.leaves((ref_grad.kernels, ref_grad.noise))):
            np.testing.assert_allclose(g, r, rtol=1e-7)


def test_masked_slq_value_is_unbiased_within_its_error(getkey, x64):
    """SLQ log-likelihoods over 8 keys average to the exact ('schur') value within 4 standard errors."""
    model, y, mask, _ = _setup(getkey)
    exact = model.log_marginal_likelihood(y, mask, method="schur")
    fn = lambda m, key: m.log_marginal_likelihood(y, mask, key=key, num_probes=16)  # noqa: E731
    vals = jax.jit(jax.vmap(fn, in_axes=(None, 0)))(model, jax.random.split(getkey(), 8))
    assert abs(float(jnp.mean(vals) - exact)) < 4 * float(jnp.std(vals) / np.sqrt(8)) + 1e-8
    assert float(jnp.std(vals)) < 3.0  # docs/gp.md: about 2 nats with 16 probes on this problem


@pytest.mark.slow
def test_masked_slq_gradient_is_unbiased_within_its_error(getkey, x64):
    """SLQ/Hutchinson noise gradients over 12 keys average to the exact gradient within 4 standard errors."""
    model, y, mask, _ = _setup(getkey)
    exact_grad = jax.grad(lambda m: m.log_marginal_likelihood(y, mask, method="schur"))(model)
    fn = jax.grad(lambda m, key: m.log_marginal_likelihood(y, mask, key=key, num_probes=16))
    grads = jax.jit(jax.vmap(fn, in_axes=(None, 0)))(model, jax.random.split(getkey(), 12))
    for g, ref in ((grads.noise, exact_grad.noise), (grads.kernels[0].lengthscale, exact_grad.kernels[0].lengthscale)):
        assert abs(float(jnp.mean(g) - ref)) < 4 * float(jnp.std(g) / np.sqrt(12)) + 1e-8


def test_full_mask_reduces_to_unmasked(getkey, x64):
    """With nothing missing, every masked path equals the Kronecker path."""
    model, y, mask, _ = _setup(getkey)
    y = jnp.nan_to_num(y)
    full = jnp.ones(model.shape, bool)

    @jax.jit
    def run(model):
        ref = model.log_marginal_likelihood(y), model.posterior(y, variance=False)[0]
        masked = model.log_marginal_likelihood(y, full, method="dense"), model.posterior(y, full, variance=False)[0]
        return ref, masked

    (ref_lml, ref_mean), (lml, mean) = run(model)
    np.testing.assert_allclose(lml, ref_lml, rtol=1e-12)
    np.testing.assert_allclose(mean, ref_mean, atol=1e-9)
    np.testing.assert_allclose(model.log_marginal_likelihood(y, full, method="schur"), ref_lml, rtol=1e-12)


@pytest.mark.slow
def test_masked_posterior_samples(getkey, x64):
    """Mean of 500 masked posterior draws (Matheron + CG) matches the dense posterior mean (z < 4.5)."""
    model, y, mask, mesh = _setup(getkey)
    obs = np.asarray(mask).reshape(-1)
    draws = jax.jit(lambda m, k: m.sample(k, y, mask, num_samples=500))(model, getkey()).reshape(500, -1)
    cross, prior, cov = _dense(model, mesh, mesh, (0, 0), obs)
    mean = cross @ jnp.linalg.solve(cov, y.reshape(-1)[obs])
    sd = jnp.sqrt(jnp.maximum(prior - jnp.sum(cross * jnp.linalg.solve(cov, cross.T).T, axis=1), 1e-12))
    z = (jnp.mean(draws, 0) - mean) / (sd / np.sqrt(500))
    assert float(jnp.max(jnp.abs(z))) < 4.5


def test_masked_errors(getkey):
    model, y, mask, _ = _setup(getkey)
    with pytest.raises(ValueError, match="needs key"):
        model.log_marginal_likelihood(y, mask, method="slq")
    with pytest.raises(ValueError, match="needs key"):  # a traced mask cannot take the exact path
        jax.jit(lambda mk: model.log_marginal_likelihood(y, mk))(mask)
    with pytest.raises(ValueError, match="needs key"):  # more missing entries than the threshold
        model.log_marginal_likelihood(y, mask, schur_max_missing=2)
    with pytest.raises(ValueError, match="concrete mask"):
        jax.jit(lambda mk: model.log_marginal_likelihood(y, mk, method="schur"))(mask)
    with pytest.raises(ValueError, match="non-finite observed"):
        model.log_marginal_likelihood(y, jnp.ones(model.shape, bool), method="dense")


@pytest.mark.parametrize("shape", [(9, 7), (4, 3, 5)])
def test_schur_block_and_row_sums_every_way_vs_dense(shape, x64, getkey, monkeypatch):
    """Each way of forming B_uu = R diag(inv) R^T and sum_p C_kp Q^T e_p equals the dense product."""
    from jaxsci.gp import _schur as _masked

    monkeypatch.setattr(_masked, "CHUNK_ELEMENTS", 2 * 13 * int(np.prod(shape[:-1])))  # 2 b's a step (+ padding)

    evecs = tuple(jnp.linalg.qr(jax.random.normal(getkey(), (n, n)))[0] for n in shape)
    inv = jax.random.uniform(getkey(), shape)
    missing = np.sort(np.random.default_rng(0).choice(int(np.prod(shape)), 13, replace=False))
    index = np.unravel_index(missing, shape)
    q = evecs[0]
    for e in evecs[1:]:
        q = jnp.kron(q, e)  # dense Q of the grid; rows of Q at the missing points = R
    rows_ref = q[missing]
    coef = jax.random.normal(getkey(), (5, 13))
    ways = ("matmul", "columns", "grouped")

    @jax.jit
    def run(evecs, inv, coef):
        rows = _masked._rows(evecs, index)
        blocks = [_masked._unobserved_block(evecs, inv, missing, index, way=way) for way in ways]
        return rows, blocks, [_masked._sum_rows(evecs, coef, missing, index, way=way) for way in ways]

    rows, blocks, sums = run(evecs, inv, coef)
    np.testing.assert_allclose(rows.reshape(13, -1), rows_ref, atol=1e-13)
    for block, total in zip(blocks, sums):
        np.testing.assert_allclose(block, (rows_ref * inv.reshape(-1)) @ rows_ref.T, atol=1e-13)
        np.testing.assert_allclose(total.reshape(5, -1), coef @ rows_ref, atol=1e-13)


def test_masked_schur_3d_and_default_method(getkey, x64):
    """On a 3-D grid the exact path (chosen by default for a concrete mask) equals the dense logpdf and its gradient."""
    grid = (jnp.linspace(0, 1, 5), jnp.linspace(0, 1, 4), jnp.linspace(0, 2, 6))
    model = GridGP(grid, (SquaredExponential(0.3), Matern52(0.5), SquaredExponential(0.8, 1.5)), noise=0.02)
    y = model.sample(getkey())
    mask = np.asarray(jax.random.uniform(getkey(), model.shape) > 0.25)
    mesh = jnp.stack(jnp.meshgrid(*grid, indexing="ij"), -1).reshape(-1, 3)
    obs = mask.reshape(-1)

    def reference(model):
        cov = model.noise * jnp.eye(int(obs.sum()))
        k = 1.0
        for i, kern in enumerate(model.kernels):
            k = k * kern(mesh[obs, i], mesh[obs, i])
        return jax.scipy.stats.multivariate_normal.logpdf(y.reshape(-1)[obs], jnp.zeros(cov.shape[0]), k + cov)

    ours = jax.jit(jax.value_and_grad(lambda m: m.log_marginal_likelihood(y, mask)))(model)
    ref = jax.jit(jax.value_and_grad(reference))(model)
    np.testing.assert_allclose(ours[0], ref[0], rtol=1e-11)
    params = lambda m: jax.tree.leaves((m.kernels, m.noise))  # noqa: E731
    for g, r in zip(params(ours[1]), params(ref[1])):
        np.testing.assert_allclose(g, r, rtol=1e-8, atol=1e-10)


def test_masked_float32_is_finite_and_close_to_float64(getkey):
    """Float32 masked inference (exact path, CG + SLQ, CG posterior) is finite and near float64 (reference: x64 run)."""
    # 32x32, 10% missing: lineax's CG broke down (NaN) here in float32 before the robust CG
    grid = (jnp.linspace(0.0, 1.0, 32), jnp.linspace(0.0, 1.0, 32))
    mask = np.random.default_rng(2).uniform(size=(32, 32)) > 0.1
    y = np.random.default_rng(1).standard_normal((32, 32))

    def run(dtype):
        model = GridGP(tuple(x.astype(dtype) for x in grid), (SquaredExponential(0.1), SquaredExponential(0.15)),
                       noise=jnp.asarray(0.05, dtype))
        yd = jnp.asarray(np.where(mask, y, 0.0), dtype)

        def lml(m, method):
            return m.log_marginal_likelihood(yd, mask, method=method, key=jax.random.key(0), num_probes=8)

        exact = jax.value_and_grad(lml)(model, "schur")
        return exact, lml(model, "slq"), model.posterior(yd, mask, variance=False)[0]

    exact32, slq32, mean32 = jax.jit(lambda: run(jnp.float32))()
    with jax.enable_x64(True):
        exact64, slq64, mean64 = jax.tree.map(np.asarray, jax.jit(lambda: run(jnp.float64))())
    assert all(np.all(np.isfinite(leaf)) for leaf in jax.tree.leaves((exact32, slq32, mean32)))
    np.testing.assert_allclose(exact32[0], exact64[0], rtol=1e-4)
    params = lambda m: jax.tree.leaves((m.kernels, m.noise))  # noqa: E731
    for g, r in zip(params(exact32[1]), params(exact64[1])):
        np.testing.assert_allclose(g, r, rtol=2e-2)
    np.testing.assert_allclose(slq32, slq64, rtol=1e-4)  # same probes: only rounding differs
    np.testing.assert_allclose(mean32, mean64, atol=1e-3 * np.max(np.abs(mean64)))
