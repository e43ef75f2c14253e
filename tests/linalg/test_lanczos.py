"""Lanczos, eigsh and stochastic Lanczos quadrature against dense eigendecompositions."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsci.linalg import KroneckerPlusDiagonal, eigsh, lanczos, slq, slq_quadrature, trace


def _symmetric(key, eigenvalues):
    n = eigenvalues.shape[0]
    q, _ = jnp.linalg.qr(jax.random.normal(key, (n, n)))
    return (q * eigenvalues) @ q.T


def test_gauss_quadrature_exact_to_degree_2k_minus_1(x64, getkey):
    # reference: dense moments v^T A^d v; k Lanczos steps integrate degree <= 2k-1 exactly
    n, k = 60, 5
    a = np.asarray(_symmetric(getkey(), jnp.linspace(-1.0, 1.0, n)))
    v = np.asarray(jax.random.normal(getkey(), (n,)))
    alphas, betas, basis = jax.jit(lanczos, static_argnums=(0, 2))(lambda x: a @ x, v, k)
    t = np.diag(alphas) + np.diag(betas, 1) + np.diag(betas, -1)
    theta, u = np.linalg.eigh(t)
    vn = v / np.linalg.norm(v)
    powers = [vn]
    for _ in range(2 * k):
        powers.append(a @ powers[-1])
    errors = [abs(vn @ powers[d] - np.sum(u[0] ** 2 * theta**d)) for d in range(2 * k + 1)]
    assert max(errors[: 2 * k]) < 1e-13, errors
    assert errors[2 * k] > 1e-6, errors  # degree 2k is not integrated exactly
    # full reorthogonalisation: the basis is orthonormal and V^T A V = T
    basis = np.asarray(basis)
    np.testing.assert_allclose(basis @ basis.T, np.eye(k), atol=1e-13)
    np.testing.assert_allclose(basis @ a @ basis.T, t, atol=1e-12)


def test_eigsh_outliers_and_which(x64, getkey):
    # reference: jnp.linalg.eigvalsh of the dense matrix; a bulk in [0, 1] with outliers,
    # the most negative eigenvalue (-80) has the largest magnitude
    n = 120
    bulk = jax.random.uniform(getkey(), (n - 4,))
    lam = jnp.concatenate([jnp.array([-80.0, 40.0, 20.0, 10.0]), bulk])
    a = _symmetric(getkey(), lam)
    mv, like = (lambda x: a @ x), jnp.zeros(n)

    @jax.jit
    def run(a):
        mv, like = (lambda x: a @ x), jnp.zeros(n)
        return (
            eigsh(mv, like, 3, num_matvecs=30, which="largest"),
            eigsh(mv, like, 2, num_matvecs=30, which="magnitude"),
            eigsh(mv, like, 1, num_matvecs=30, which="smallest")[0],
        )

    (vals, vecs), (mag_vals, mag_vecs), small = run(a)
    np.testing.assert_allclose(vals, jnp.array([40.0, 20.0, 10.0]), rtol=1e-13)
    np.testing.assert_allclose(jnp.linalg.norm(vecs @ a - vals[:, None] * vecs, axis=1), 0.0, atol=1e-10)
    np.testing.assert_allclose(mag_vals, jnp.array([-80.0, 40.0]), rtol=1e-13)
    np.testing.assert_allclose(jnp.abs(mag_vecs[0] @ a @ mag_vecs[0]), 80.0, rtol=1e-13)
    np.testing.assert_allclose(small, jnp.array([-80.0]), rtol=1e-13)


def test_eigsh_pytree_and_lineax_operator(x64, getkey):
    # reference: the eigenvalues of a KroneckerPlusDiagonal are products of factor eigenvalues + noise
    f1, f2 = jnp.diag(jnp.array([1.0, 2.0, 3.0])), _symmetric(getkey(), jnp.array([0.5, 1.0, 4.0, 8.0]))
    # a pytree operator: a dict with a (2, 3) block scaled by 5 and a (4,) block by -7
    like = {"a": jnp.zeros((2, 3)), "b": jnp.zeros(4)}
    mv = lambda t: {"a": 5.0 * t["a"], "b": -7.0 * t["b"]}

    @jax.jit
    def run(f1, f2):
        op = KroneckerPlusDiagonal([f1, f2], 0.1)
        return eigsh(op, None, 2, num_matvecs=12), eigsh(mv, like, 1, num_matvecs=4, which="magnitude")

    (vals, vecs), (tree_vals, tree_vecs) = run(f1, f2)
    np.testing.assert_allclose(vals, jnp.array([24.1, 16.1]), rtol=1e-12)
    assert vecs.shape == (2, 12)
    np.testing.assert_allclose(tree_vals, jnp.array([-7.0]), rtol=1e-12)
    assert tree_vecs["a"].shape == (1, 2, 3)
    np.testing.assert_allclose(jnp.linalg.norm(tree_vecs["b"]), 1.0, rtol=1e-12)
    np.testing.assert_allclose(jnp.linalg.norm(tree_vecs["a"]), 0.0, atol=1e-12)


def test_slq_logdet_and_density(x64, getkey):
    # reference: dense slogdet (z-score against the reported standard error), and
    # Hutchinson with the same probes for fn = identity (quadrature is exact for linear fn)
    n = 60
    lam = jnp.linspace(0.5, 4.0, n)
    a = _symmetric(getkey(), lam)
    mv, like = (lambda x: a @ x), jnp.zeros(n)

    @jax.jit
    def run(key):
        est, err = slq(mv, like, jnp.log, key=key, num_probes=24, num_steps=12)
        est_id, _ = slq(mv, like, lambda x: x, key=key, num_probes=24, num_steps=12)
        hutch, _ = trace(mv, like, key=key, num_matvecs=24)
        return est, err, est_id, hutch, slq_quadrature(mv, like, key=key, num_probes=3, num_steps=8)

    est, err, est_id, hutch, (nodes, weights) = run(getkey())
    assert abs(est - jnp.sum(jnp.log(lam))) < 4 * err
    np.testing.assert_allclose(est_id, hutch, rtol=1e-12)
    assert nodes.shape == weights.shape == (3, 8)
    np.testing.assert_allclose(jnp.sum(weights, axis=1), 1.0, rtol=1e-12)
    assert jnp.all((nodes > 0.5 - 1e-9) & (nodes < 4.0 + 1e-9))  # Ritz values lie in the spectrum


def test_lanczos_invariant_subspace(x64):
    # reference: an operator with 3 distinct eigenvalues; Lanczos from a generic vector
    # breaks down after 3 steps and the extra Ritz values carry zero quadrature weight
    lam = jnp.repeat(jnp.array([1.0, 2.0, 5.0]), 4)
    mv, like = (lambda x: lam * x), jnp.zeros(12)

    @jax.jit
    def run(key):
        quad = slq_quadrature(mv, like, key=key, num_probes=2, num_steps=6)
        return quad, eigsh(mv, like, 3, num_matvecs=12, which="largest")[0]

    (nodes, weights), vals = run(jax.random.key(1))
    assert jnp.all(jnp.isfinite(nodes))
    big = weights > 1e-12
    found = jnp.sort(jnp.where(big, nodes, 0.0), axis=1)[:, -3:]
    np.testing.assert_allclose(found, jnp.tile(jnp.array([1.0, 2.0, 5.0]), (2, 1)), rtol=1e-12)
    np.testing.assert_allclose(jnp.sum(weights * nodes, axis=1), jnp.full(2, jnp.mean(lam)), rtol=1e-12)
    np.testing.assert_allclose(vals, jnp.array([5.0, 5.0, 5.0]), rtol=1e-12)


def test_lanczos_errors():
    mv, like = (lambda v: v), jnp.zeros(5)
    with pytest.raises(ValueError, match="num_steps. must be <= the dimension 5"):
        lanczos(mv, jnp.ones(5), 6)
    with pytest.raises(ValueError, match="num_steps. must be a positive int"):
        lanczos(mv, jnp.ones(5), 0)
    with pytest.raises(ValueError, match="k. must be an int with 1 <= k <= num_matvecs=3"):
        eigsh(mv, like, 4, num_matvecs=3)
    with pytest.raises(ValueError, match="which"):
        eigsh(mv, like, 1, num_matvecs=3, which="biggest")
    with pytest.raises(ValueError, match="num_probes"):
        slq(mv, like, jnp.log, key=jax.random.key(0), num_probes=0, num_steps=2)
    with pytest.raises(TypeError, match="fn. must be callable"):
        slq(mv, like, 3.0, key=jax.random.key(0), num_probes=2, num_steps=2)


def _rank_one_update():
    # I + u u^T (n = 10) has two distinct eigenvalues, so Lanczos from any probe breaks down
    # after two steps; log det = log(1 + |u|^2)
    u = jnp.arange(1.0, 11.0) / 10.0
    return u, (lambda v: v + u * (u @ v)), jnp.eye(10) + jnp.outer(u, u)


def test_slq_after_breakdown_is_exact_per_probe_and_differentiable(x64):
    # reference: the same probes against the dense matrix logarithm (the Krylov space is
    # invariant, so each probe's quadrature is exact); the gradient against central differences.
    # Before: the spare Ritz values were 0 with weight 0, and 0 * log 0 made the estimate NaN.
    from jaxsci.linalg._probes import probes

    u, mv, a = _rank_one_update()
    lam, q = jnp.linalg.eigh(a)
    logm = (q * jnp.log(lam)) @ q.T
    key = jax.random.key(3)
    for sampler in ("rademacher", "gaussian"):
        est, _ = slq(mv, jnp.zeros(10), jnp.log, key=key, num_probes=5, num_steps=6, sampler=sampler)
        z = probes(key, 5, 10, jnp.float64, sampler)
        np.testing.assert_allclose(est, jnp.mean(jnp.einsum("pi,ij,pj->p", z, logm, z)), rtol=1e-12)
    nodes, weights = slq_quadrature(mv, jnp.zeros(10), key=key, num_probes=3, num_steps=6)
    live = weights > 0
    assert jnp.all(jnp.sum(live, axis=1) == 2)
    assert jnp.all((nodes >= 1.0 - 1e-9) & (nodes <= 1.0 + u @ u + 1e-9))  # every node inside the spectrum

    def f(s):
        return slq(lambda v: v + s * u * (u @ v), jnp.zeros(10), jnp.log, key=key, num_probes=3, num_steps=6)[0]

    grad = jax.grad(f)(1.0)
    fd = (f(1.0 + 1e-6) - f(1.0 - 1e-6)) / 2e-6
    assert jnp.isfinite(grad) and abs(grad - fd) < 1e-7 * abs(fd)


def test_slq_after_breakdown_float32(getkey):
    u, mv, _ = _rank_one_update()
    est, err = jax.jit(lambda k: slq(mv, jnp.zeros(10), jnp.log, key=k, num_probes=400, num_steps=6))(getkey())
    assert jnp.isfinite(est) and jnp.isfinite(err)
    assert abs(est - jnp.log1p(u @ u)) < 4 * err


def test_lanczos_rejects_a_zero_start_vector():
    with pytest.raises(ValueError, match="`v0` must be a nonzero vector"):
        lanczos(lambda v: v, jnp.zeros(4), 2)
    with pytest.raises(Exception, match="`v0` must be a nonzero vector"):
        jax.jit(lambda v: lanczos(lambda x: x, v, 2)[0])(jnp.zeros(4)).block_until_ready()
    alphas, _, _ = jax.jit(lambda v: lanczos(lambda x: 2.0 * x, v, 2))(jnp.ones(4))
    np.testing.assert_allclose(alphas, 2.0, rtol=1e-6)
