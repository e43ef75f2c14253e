"""Damped CG and M-FAC against dense solves; the stability monitor against GD on a quadratic."""

import jax
import jax.numpy as jnp
import pytest
from jax.flatten_util import ravel_pytree

from ._problems import cross_entropy, classification_batch, mlp, mlp_params, random_like
from jaxsci.curvature import GGN, MFAC, Hessian, damped_solve, stability

pytestmark = pytest.mark.usefixtures("x64")


def test_damped_cg_matches_dense_solve(getkey):
    sizes = (4, 8, 3)
    params = mlp_params(getkey(), sizes)
    batch = classification_batch(getkey(), 12, sizes)
    G = GGN(mlp, cross_entropy, params, batch)
    b = random_like(getkey(), params)
    x = damped_solve(G, b, damping=0.1, tol=1e-12)
    dense = jax.jit(lambda o: o.as_matrix())(G)
    ref = jnp.linalg.solve(dense + 0.1 * jnp.eye(dense.shape[0]), ravel_pytree(b)[0])
    assert jnp.allclose(ravel_pytree(x)[0], ref, rtol=1e-8, atol=1e-10)
    with pytest.raises(ValueError, match="damping"):
        damped_solve(G, b, damping=-1.0)
    with pytest.raises(ValueError, match="shaped like the parameters"):
        damped_solve(G, {"w": jnp.ones(2)}, damping=1.0)


def test_mfac_sliding_window_matches_dense_inverse(getkey):
    like = {"a": jnp.zeros((3, 4)), "b": jnp.zeros(5)}
    d, m, lam = 17, 4, 0.3
    grads = [random_like(getkey(), like) for _ in range(6)]
    mf = MFAC(like, window=m, damping=lam)
    update = jax.jit(lambda s, g: s.update(g))
    for g in grads:
        mf = update(mf, g)
    window = jnp.stack([ravel_pytree(g)[0] for g in grads[-m:]])  # the last m gradients
    M = lam * jnp.eye(d) + window.T @ window / m
    v = random_like(getkey(), like)
    fv = ravel_pytree(v)[0]
    assert jnp.allclose(ravel_pytree(mf.mv(v))[0], M @ fv, rtol=1e-12)
    assert jnp.allclose(ravel_pytree(mf.solve(v))[0], jnp.linalg.solve(M, fv), rtol=1e-10)
    # a partly filled window averages over the gradients seen so far
    half = MFAC(like, window=m, damping=lam).update(grads[0]).update(grads[1])
    w2 = jnp.stack([ravel_pytree(g)[0] for g in grads[:2]])
    M2 = lam * jnp.eye(d) + w2.T @ w2 / 2
    assert jnp.allclose(ravel_pytree(half.solve(v))[0], jnp.linalg.solve(M2, fv), rtol=1e-10)
    with pytest.raises(ValueError, match="window"):
        MFAC(like, window=0, damping=1.0)


def test_gd_on_quadratic_diverges_exactly_when_monitor_says_unstable(getkey):
    n = 12
    q, _ = jnp.linalg.qr(jax.random.normal(getkey(), (n, n)))
    evals = jnp.linspace(0.5, 4.0, n)
    A = (q * evals) @ q.T
    loss = lambda p, b: 0.5 * p["x"] @ A @ p["x"]
    x0 = {"x": jax.random.normal(getkey(), (n,))}
    H = Hessian(loss, x0, None)
    lam_max = evals[-1]
    for lr in (0.9 * 2 / lam_max, 0.99 * 2 / lam_max, 1.01 * 2 / lam_max, 1.2 * 2 / lam_max):
        x = x0["x"]
        for _ in range(600):
            x = x - lr * (A @ x)
        diverged = bool(jnp.linalg.norm(x) > jnp.linalg.norm(x0["x"]))
        grad = {"x": A @ x0["x"]}
        report = stability(H, learning_rate=jnp.asarray(lr), key=getkey(), grad=grad, num_matvecs=n, trace_matvecs=4)
        assert jnp.allclose(report.sharpness, lam_max, rtol=1e-10)
        assert bool(report.stable) == (not diverged), lr
        assert diverged == (lr > 2 / lam_max)
    # alignment: a gradient along the top eigenvector is fully aligned; trace bound with B
    top = {"x": q[:, -1]}
    r = stability(H, learning_rate=0.1, key=getkey(), grad=top, batch_size=8, k=1, num_matvecs=n)
    assert jnp.allclose(r.alignment, 1.0, rtol=1e-8)
    assert jnp.allclose(r.trace_bound, 2 * 8 / 0.1) and jnp.allclose(r.threshold, 20.0)
    perp = {"x": q[:, 0]}
    r = stability(H, learning_rate=0.1, key=getkey(), grad=perp, k=2, num_matvecs=n)
    assert r.alignment < 1e-8
