"""Kronecker and KroneckerPlusDiagonal against dense `jnp.kron` references (float64)."""

import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np
import pytest

from jaxsci.linalg import Kronecker, KroneckerPlusDiagonal


def _dense(factors):
    matrix = factors[0]
    for factor in factors[1:]:
        matrix = jnp.kron(matrix, factor)
    return matrix


def _se(n, lengthscale):
    x = jnp.linspace(0.0, 1.0, n)
    return jnp.exp(-0.5 * (x[:, None] - x[None, :]) ** 2 / lengthscale**2)


def _spd(key, n):
    a = jax.random.normal(key, (n, n))
    return a @ a.T / n + 0.1 * jnp.eye(n)


@pytest.mark.parametrize("shapes", [[(3, 4)], [(2, 3), (4, 2)], [(2, 3), (3, 3), (4, 2)]])
def test_kronecker_mv_transpose_vs_dense(x64, getkey, shapes):
    # reference: dense np.kron of the factors
    factors = [np.asarray(jax.random.normal(getkey(), s)) for s in shapes]
    op = Kronecker(factors)
    dense = factors[0]
    for factor in factors[1:]:
        dense = np.kron(dense, factor)
    v, u = np.random.default_rng(0).normal(size=dense.shape[1]), np.random.default_rng(1).normal(size=dense.shape[0])
    ours = jax.jit(lambda op, v, u: (op.mv(v), op.transpose().mv(u), op.as_matrix()))(op, v, u)
    for got, want in zip(ours, (dense @ v, dense.T @ u, dense)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=1e-12)
    assert op.in_structure().shape == (dense.shape[1],)
    assert op.out_structure().shape == (dense.shape[0],)
    if all(s[0] == s[1] for s in shapes):
        np.testing.assert_allclose(lx.diagonal(op), np.diagonal(dense), rtol=1e-12)


def test_kronecker_lineax_solve(x64, getkey):
    # reference: dense jnp.linalg.solve; lineax.linear_solve accepts the operator
    factors = [_spd(getkey(), 3), _spd(getkey(), 4)]
    b = jax.random.normal(getkey(), (12,))
    solve = jax.jit(lambda f, b: (lx.linear_solve(Kronecker(f), b, lx.LU()).value, jnp.linalg.solve(_dense(f), b)))
    x, ref = solve(factors, b)
    np.testing.assert_allclose(x, ref, rtol=1e-10)


@jax.jit
def _kpd_outputs(factors, v):
    op = KroneckerPlusDiagonal(factors, 0.3)
    dense = _dense(factors) + 0.3 * jnp.eye(op.size)
    evals, evecs = op.eigh()
    lam = _dense([w[None, :] for w in evals])[0] + 0.3
    ours = (op.solve(v), op.logdet(), op.mv(v), op.as_matrix(), lx.diagonal(op), jnp.sort(lam))
    ref = (jnp.linalg.solve(dense, v), jnp.linalg.slogdet(dense)[1], dense @ v, dense, jnp.diagonal(dense),
           jnp.linalg.eigvalsh(dense))
    return ours, ref, evecs


@pytest.mark.parametrize("sizes", [(7,), (3, 4), (2, 3, 4)])
def test_kpd_solve_logdet_vs_dense(x64, getkey, sizes):
    # reference: dense solve, slogdet, eigvalsh of kron(factors) + s2 I on non-square grids
    factors = [_spd(getkey(), n) for n in sizes]
    v = jax.random.normal(getkey(), (int(np.prod(sizes)),))
    ours, ref, evecs = _kpd_outputs(factors, v)
    for got, want in zip(ours, ref):
        np.testing.assert_allclose(got, want, rtol=1e-10, atol=1e-12)
    assert all(q.shape == (n, n) for q, n in zip(evecs, sizes))


def _objective(structured, w):
    def f(factors, noise, v):
        if structured:
            op = KroneckerPlusDiagonal(factors, noise)
            return w @ op.solve(v) + 0.7 * op.logdet()
        dense = _dense(factors) + noise * jnp.eye(v.shape[0])
        return w @ jnp.linalg.solve(dense, v) + 0.7 * jnp.linalg.slogdet(dense)[1]

    return f


@pytest.mark.parametrize(
    "case",
    [
        "se64_lengthscale0.1",  # clustered eigenvalues: autodiff through eigh is wrong here
        "three_factors_with_identity",  # exactly repeated eigenvalues (eigh autodiff: NaN)
    ],
)
def test_kpd_gradients_vs_dense_autodiff(x64, getkey, case):
    # reference: jax.grad through dense jnp.linalg.solve + slogdet (symmetrised for factors)
    if case == "se64_lengthscale0.1":
        factors = [_se(64, 0.1), _spd(getkey(), 3)]
    else:
        factors = [_spd(getkey(), 2), _se(4, 0.2) + jnp.eye(4), 2.0 * jnp.eye(3)]
    n = int(np.prod([f.shape[0] for f in factors]))
    v, w = jax.random.normal(getkey(), (2, n))
    noise = jnp.asarray(1e-2)
    g = jax.jit(jax.grad(_objective(True, w), argnums=(0, 1, 2)))(factors, noise, v)
    g_ref = jax.jit(jax.grad(_objective(False, w), argnums=(0, 1, 2)))(factors, noise, v)
    for got, ref in zip(g[0], g_ref[0]):
        ref = 0.5 * (ref + ref.T)
        np.testing.assert_allclose(got, ref, atol=1e-9 * jnp.max(jnp.abs(ref)))
    np.testing.assert_allclose(g[1], g_ref[1], rtol=1e-9)
    np.testing.assert_allclose(g[2], g_ref[2], rtol=1e-9, atol=1e-9 * jnp.max(jnp.abs(g_ref[2])))


@pytest.mark.parametrize("sizes", [(64, 3), (2, 4, 3)])
def test_kpd_quad_logdet_fused_vs_dense(x64, getkey, sizes):
    # reference: dense v^T A^-1 v and slogdet, and jax.grad through them (factors symmetrised)
    factors = [_se(n, 0.1) if n == 64 else _spd(getkey(), n) for n in sizes]
    if len(sizes) == 3:
        factors[2] = 2.0 * jnp.eye(3)  # exactly repeated eigenvalues
    n = int(np.prod(sizes))
    v = jax.random.normal(getkey(), (n,))
    noise = jnp.asarray(1e-2)

    def fused(factors, noise, v):
        quad, logdet = KroneckerPlusDiagonal(factors, noise).quad_logdet(v)
        return 0.3 * quad + 0.7 * logdet, (quad, logdet)

    def dense(factors, noise, v):
        a = _dense(factors) + noise * jnp.eye(n)
        quad, logdet = v @ jnp.linalg.solve(a, v), jnp.linalg.slogdet(a)[1]
        return 0.3 * quad + 0.7 * logdet, (quad, logdet)

    (g, vals), (g_ref, vals_ref) = (jax.jit(jax.grad(f, argnums=(0, 1, 2), has_aux=True))(factors, noise, v)
                                    for f in (fused, dense))
    np.testing.assert_allclose(vals, vals_ref, rtol=1e-10)
    for got, ref in zip(g[0], g_ref[0]):
        ref = 0.5 * (ref + ref.T)
        np.testing.assert_allclose(got, ref, atol=1e-9 * jnp.max(jnp.abs(ref)))
    np.testing.assert_allclose(g[1], g_ref[1], rtol=1e-9)
    np.testing.assert_allclose(g[2], g_ref[2], rtol=1e-9, atol=1e-9 * jnp.max(jnp.abs(g_ref[2])))


def test_kpd_hyperparameter_gradient_finite_differences(x64, getkey):
    # reference: central finite differences of the dense objective in the lengthscale and noise
    y = jax.random.normal(getkey(), (32 * 2,))
    other = _spd(getkey(), 2)

    def nll(params, structured):
        ell, noise = params
        factors = [_se(32, ell), other]
        if structured:
            op = KroneckerPlusDiagonal(factors, noise)
            return 0.5 * y @ op.solve(y) + 0.5 * op.logdet()
        dense = _dense(factors) + noise * jnp.eye(y.shape[0])
        return 0.5 * y @ jnp.linalg.solve(dense, y) + 0.5 * jnp.linalg.slogdet(dense)[1]

    params = jnp.array([0.1, 0.05])
    grad = jax.jit(jax.grad(nll), static_argnums=1)(params, True)
    eps = 1e-6
    dense = jax.jit(jax.vmap(lambda p: nll(p, False)))
    shifts = jnp.concatenate([jnp.eye(2), -jnp.eye(2)]) * eps
    values = dense(params + shifts)
    fd = (values[:2] - values[2:]) / (2 * eps)
    np.testing.assert_allclose(grad, fd, rtol=1e-6)


def test_kpd_jit_vmap(x64, getkey):
    # reference: a Python loop of dense solves; jit must not retrace on a second call
    factors = [_spd(getkey(), 3), _spd(getkey(), 4)]
    rhs = jax.random.normal(getkey(), (5, 12))
    traces = 0

    @jax.jit
    def solve_all(factors, noise, rhs):
        nonlocal traces
        traces += 1
        op = KroneckerPlusDiagonal(factors, noise)
        return jax.vmap(op.solve)(rhs)

    out = solve_all(factors, 0.2, rhs)
    shifted = [np.asarray(f) + 0.1 * np.eye(f.shape[0]) for f in factors]
    out = solve_all(shifted, 0.3, rhs)
    assert traces == 1
    dense = np.kron(*shifted) + 0.3 * np.eye(12)
    np.testing.assert_allclose(out, np.stack([np.linalg.solve(dense, r) for r in np.asarray(rhs)]), rtol=1e-10)


def test_kronecker_float32_default(getkey):
    # reference: dense float32 solve, to float32 accuracy
    factors = [_spd(getkey(), 4), _se(5, 0.3)]
    v = jax.random.normal(getkey(), (20,))

    @jax.jit
    def both(factors, v):
        dense = _dense(factors) + 0.5 * jnp.eye(20)
        return KroneckerPlusDiagonal(factors, 0.5).solve(v), jnp.linalg.solve(dense, v)

    got, want = both(factors, v)
    assert got.dtype == jnp.float32
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4)


def test_kronecker_errors():
    with pytest.raises(ValueError, match="factors\\[1\\]. must be a 2-D array"):
        Kronecker([jnp.eye(2), jnp.ones(3)])
    with pytest.raises(ValueError, match="at least one factor"):
        Kronecker([])
    with pytest.raises(TypeError, match="list or tuple"):
        Kronecker(jnp.eye(3))
    with pytest.raises(ValueError, match="vector. must have shape \\(6,\\)"):
        Kronecker([jnp.eye(2), jnp.eye(3)]).mv(jnp.ones(5))
    with pytest.raises(ValueError, match="must be square"):
        KroneckerPlusDiagonal([jnp.ones((2, 3))], 0.1)
    with pytest.raises(ValueError, match="noise. must be a scalar"):
        KroneckerPlusDiagonal([jnp.eye(2)], jnp.ones(2))
    with pytest.raises(ValueError, match="vector. must have shape"):
        KroneckerPlusDiagonal([jnp.eye(2)], 0.1).solve(jnp.ones(3))
    with pytest.raises(eqx.EquinoxRuntimeError, match="noise. must be >= 0"):
        KroneckerPlusDiagonal([jnp.eye(2)], -1.0).logdet()


def test_kpd_solve_sharded_batch_matches_one_device(x64, getkey):
    # reference: the same vmapped solve on one device; the batch of right-hand sides is split
    # over a 4-device mesh (conftest provides 4 virtual CPU devices)
    devices = jax.devices()
    if len(devices) < 4:
        pytest.skip("needs 4 devices")
    mesh = jax.sharding.Mesh(np.array(devices[:4]), ("batch",))
    sharding = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("batch"))
    factors = [_spd(getkey(), 3), _spd(getkey(), 4)]
    rhs = jax.random.normal(getkey(), (8, 12))
    solve = jax.jit(lambda f, r: jax.vmap(KroneckerPlusDiagonal(f, 0.2).solve)(r))
    sharded = solve(factors, jax.device_put(rhs, sharding))
    assert len(sharded.sharding.device_set) == 4
    np.testing.assert_allclose(sharded, solve(factors, rhs), rtol=1e-13)
