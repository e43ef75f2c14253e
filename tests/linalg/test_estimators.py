"""Stochastic trace and diagonal estimators: variance laws, exact cases, convergence slopes."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsci.linalg import Kronecker, diagonal, trace


def _symmetric(key, n, eigenvalues):
    q, _ = jnp.linalg.qr(jax.random.normal(key, (n, n)))
    return (q * eigenvalues) @ q.T


def _repeat(method, sampler, num_matvecs, matrix, keys):
    fn = lambda k: trace(lambda v: matrix @ v, jnp.zeros(matrix.shape[0]), key=k,
                         num_matvecs=num_matvecs, method=method, sampler=sampler)
    return jax.jit(jax.vmap(fn))(keys)


@pytest.mark.parametrize("sampler", ["rademacher", "gaussian"])
def test_hutchinson_variance_law(x64, getkey, sampler):
    # reference: Var = 2(||A||_F^2 - sum A_ii^2)/m (Rademacher), 2||A||_F^2/m (Gaussian)
    n, m, reps = 20, 10, 4000
    a = jax.random.normal(getkey(), (n, n))
    a = a + a.T + jnp.diag(jnp.arange(n, dtype=a.dtype))
    fro2, diag2 = jnp.sum(a**2), jnp.sum(jnp.diagonal(a) ** 2)
    law = 2 * (fro2 - diag2) / m if sampler == "rademacher" else 2 * fro2 / m
    est, err = _repeat("hutchinson", sampler, m, a, jax.random.split(getkey(), reps))
    z = (jnp.mean(est) - jnp.trace(a)) / jnp.sqrt(law / reps)
    assert abs(z) < 4.0, z
    assert 0.85 < jnp.var(est) / law < 1.15
    assert 0.85 < jnp.mean(err**2) / law < 1.15  # the reported standard error is calibrated


@pytest.mark.slow
def test_sphere_and_xtrace_unbiased(x64, getkey):
    # reference: exact trace; z-score of the mean over repetitions using the empirical spread
    a = _symmetric(getkey(), 16, jnp.linspace(-1.0, 3.0, 16))
    cases = [("hutchinson", "sphere"), ("xtrace", "gaussian"), ("hutch++", "rademacher")]

    @jax.jit
    def run(keys):
        like = jnp.zeros(16)
        return [
            jax.vmap(lambda k: trace(lambda v: a @ v, like, key=k, num_matvecs=12, method=m, sampler=s)[0])(keys)
            for m, s in cases
        ]

    for (method, _), est in zip(cases, run(jax.random.split(getkey(), 500))):
        z = (jnp.mean(est) - jnp.trace(a)) / (jnp.std(est) / jnp.sqrt(500))
        assert abs(z) < 4.0, (method, z)


def test_exact_cases(x64, getkey):
    n, m = 40, 12
    d = jnp.diag(jax.random.normal(getkey(), (n,)))
    low4 = _symmetric(getkey(), n, jnp.zeros(n).at[:4].set(jnp.array([5.0, -2.0, 1.0, 0.5])))
    low5 = _symmetric(getkey(), n, jnp.zeros(n).at[:5].set(jnp.arange(1.0, 6.0)))
    like = jnp.zeros(n)

    @jax.jit
    def estimates(d, low4, low5, key):
        keys = jax.random.split(key, 6)
        return (
            trace(lambda v: d @ v, like, key=keys[0], num_matvecs=3),
            diagonal(lambda v: d @ v, like, key=keys[1], num_matvecs=1),
            trace(lambda v: low4 @ v, like, key=keys[2], num_matvecs=m, method="hutch++")[0],
            trace(lambda v: low4 @ v, like, key=keys[3], num_matvecs=m, method="xtrace")[0],
            trace(lambda v: low5 @ v, like, key=keys[4], num_matvecs=m, method="xtrace")[0],
            diagonal(lambda v: low5 @ v, like, key=keys[5], num_matvecs=m, method="xdiag"),
        )

    (est, err), diag, hpp4, xt4, xt5, xdiag5 = estimates(d, low4, low5, getkey())
    # Hutchinson with Rademacher probes is exact on a diagonal matrix (reference: jnp.trace)
    np.testing.assert_allclose(est, jnp.trace(d), rtol=1e-13)
    assert err < 1e-12
    np.testing.assert_allclose(diag, jnp.diagonal(d), rtol=1e-13)
    # Hutch++ exact for rank(A) <= m/3; XTrace and XDiag exact for rank(A) < m/2
    np.testing.assert_allclose(hpp4, jnp.trace(low4), atol=1e-12)
    np.testing.assert_allclose(xt4, jnp.trace(low4), atol=1e-12)
    np.testing.assert_allclose(xt5, jnp.trace(low5), rtol=1e-12)
    np.testing.assert_allclose(xdiag5, jnp.diagonal(low5), atol=1e-12)


def _orthogonal_spectrum_matvec(eigenvalues):
    # A = C diag(lambda) C^T with C the orthonormal DCT-II: a dense, non-diagonal operator
    # with a known spectrum and O(n log n) matvecs.
    dct = lambda v: jax.scipy.fft.dct(v, norm="ortho")
    idct = lambda v: jax.scipy.fft.idct(v, norm="ortho")
    return lambda v: idct(eigenvalues * dct(v))


def _rms_errors(method, budgets, n, reps, key):
    lam = 1.0 / jnp.arange(1.0, n + 1)
    mv = _orthogonal_spectrum_matvec(lam)
    keys = jax.random.split(key, reps)

    @jax.jit
    def run(keys):  # one compilation for every budget
        return [
            jax.vmap(lambda k: trace(mv, jnp.zeros(n), key=k, num_matvecs=m, method=method)[0])(keys)
            for m in budgets
        ]

    errors = [float(jnp.sqrt(jnp.mean((est - jnp.sum(lam)) ** 2))) for est in run(keys)]
    return np.polyfit(np.log(budgets), np.log(errors), 1)[0]


def test_loglog_slopes_spectrum_one_over_i(x64, getkey):
    # reference: the exact trace sum 1/i; RMS error vs matvecs has slope ~ -1 (Hutch++)
    # and ~ -1/2 (Hutchinson) on log-log axes (measured: -1.2 and -0.46 here; -1.13 and
    # -0.55 in the slow five-budget version). One compilation per method.
    budgets = [12, 36, 108]
    slope = _rms_errors("hutch++", budgets, 512, 24, getkey())
    assert -1.3 < slope < -0.75, slope
    slope = _rms_errors("hutchinson", budgets, 512, 48, getkey())
    assert -0.65 < slope < -0.35, slope


@pytest.mark.slow
def test_loglog_slopes_more_budgets(x64, getkey):
    # reference: as above, five budgets, a larger operator and more repetitions
    budgets = [12, 24, 48, 96, 192]
    for method, (low, high) in {"hutchinson": (-0.6, -0.4), "hutch++": (-1.25, -0.8)}.items():
        slope = _rms_errors(method, budgets, 2000, 100, getkey())
        assert low < slope < high, (method, slope)


def test_diagonal_hutchinson_unbiased(x64, getkey):
    # reference: exact diagonal; per-entry variance law sum_{k != j} A_jk^2 / m (Rademacher)
    n, m, reps = 12, 5, 3000
    a = _symmetric(getkey(), n, jnp.linspace(0.0, 2.0, n))
    fn = lambda k: diagonal(lambda v: a @ v, jnp.zeros(n), key=k, num_matvecs=m)
    est = jax.jit(jax.vmap(fn))(jax.random.split(getkey(), reps))
    law = (jnp.sum(a**2, axis=1) - jnp.diagonal(a) ** 2) / m
    z = (jnp.mean(est, axis=0) - jnp.diagonal(a)) / jnp.sqrt(law / reps)
    assert jnp.max(jnp.abs(z)) < 4.5, z
    np.testing.assert_allclose(jnp.var(est, axis=0) / law, 1.0, atol=0.15)


def test_pytree_operator_and_float32(getkey):
    # reference: trace of a Kronecker product = product of the factors' traces (float32 default)
    f1, f2 = jnp.diag(jnp.arange(1.0, 4.0)), jnp.diag(jnp.arange(1.0, 5.0))
    # pytree vectors: a dict of a matrix and a vector, diagonal scaling per leaf
    like = {"w": jnp.zeros((3, 2)), "b": jnp.zeros(4)}
    mv = lambda t: {"w": 2.0 * t["w"], "b": 3.0 * t["b"]}

    @jax.jit
    def run(key):
        k1, k2, k3 = jax.random.split(key, 3)
        return (trace(Kronecker([f1, f2]), None, key=k1, num_matvecs=4)[0],
                trace(mv, like, key=k2, num_matvecs=2)[0], diagonal(mv, like, key=k3, num_matvecs=2))

    est, est_tree, diag = run(getkey())
    assert est.dtype == jnp.float32
    np.testing.assert_allclose(est, jnp.trace(f1) * jnp.trace(f2), rtol=1e-6)
    np.testing.assert_allclose(est_tree, 2.0 * 6 + 3.0 * 4, rtol=1e-6)
    np.testing.assert_allclose(diag["w"], 2.0 * jnp.ones((3, 2)), rtol=1e-6)


def test_jit_no_recompile_and_vmap_over_keys(x64, getkey):
    # reference: a Python loop over keys gives the same estimates as vmap
    a = _symmetric(getkey(), 20, jnp.linspace(0.0, 1.0, 20))
    traces = 0

    @jax.jit
    def estimate(a, key):
        nonlocal traces
        traces += 1
        return trace(lambda v: a @ v, jnp.zeros(20), key=key, num_matvecs=9, method="xtrace")[0]

    keys = jax.random.split(getkey(), 3)
    loop = jnp.stack([estimate(a, k) for k in keys])
    assert traces == 1
    np.testing.assert_allclose(jax.vmap(estimate, in_axes=(None, 0))(a, keys), loop, rtol=1e-12)


def test_estimator_errors():
    mv, like = (lambda v: v), jnp.zeros(5)
    key = jax.random.key(0)
    with pytest.raises(ValueError, match="method"):
        trace(mv, like, key=key, num_matvecs=4, method="nope")
    with pytest.raises(ValueError, match="sampler"):
        trace(mv, like, key=key, num_matvecs=4, sampler="uniform")
    with pytest.raises(ValueError, match="num_matvecs. must be an int >= 4 for method='hutch\\+\\+'"):
        trace(mv, like, key=key, num_matvecs=3, method="hutch++")
    with pytest.raises(ValueError, match="num_matvecs. must be an int >= 4 for method='xdiag'"):
        diagonal(mv, like, key=key, num_matvecs=2, method="xdiag")
    with pytest.raises(ValueError, match="like. is required"):
        trace(mv, None, key=key, num_matvecs=4)
    with pytest.raises(ValueError, match="same shapes"):
        trace(lambda v: jnp.ones(3), like, key=key, num_matvecs=4)
    with pytest.raises(ValueError, match="dimension 5 for xtrace"):
        trace(mv, like, key=key, num_matvecs=12, method="xtrace")
