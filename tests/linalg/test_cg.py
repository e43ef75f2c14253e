"""`cg` through lineax: dense-solve references, implicit gradients, jit/vmap, errors."""

import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np
import pytest

from jaxsci.linalg import KroneckerPlusDiagonal, cg


def _spd(key, n):
    a = jax.random.normal(key, (n, n))
    return a @ a.T / n + 0.5 * jnp.eye(n)


def test_cg_solve_grad_vs_dense(x64, getkey):
    # reference: jnp.linalg.solve and jax.grad through it
    a, b = _spd(getkey(), 20), jax.random.normal(getkey(), (20,))
    w = jax.random.normal(getkey(), (20,))

    def loss(a, b, solver):
        x = cg(lambda v: a @ v, b, tol=1e-12) if solver == "cg" else jnp.linalg.solve(a, b)
        return w @ x + 0.1 * jnp.sum(x**2)

    grad = jax.jit(jax.grad(loss, argnums=(0, 1)), static_argnums=2)
    (ga, gb), (ga_ref, gb_ref) = grad(a, b, "cg"), grad(a, b, "dense")
    np.testing.assert_allclose(ga, ga_ref, rtol=1e-8, atol=1e-10)
    np.testing.assert_allclose(gb, gb_ref, rtol=1e-8, atol=1e-10)
    # the backward pass is lineax's linear_solve primitive (implicit rule), not an unrolled
    # differentiated loop: the gradient's jaxpr has linear_solve and no top-level while
    jaxpr = str(jax.make_jaxpr(jax.grad(loss, argnums=1), static_argnums=2)(a, b, "cg"))
    assert "linear_solve" in jaxpr and "while[" not in jaxpr


def test_cg_pytree_preconditioner_and_operator(x64, getkey):
    # reference: dense solve of the block-diagonal system; the Jacobi preconditioner and a
    # lineax operator (KroneckerPlusDiagonal, reference: its exact solve) give the same answer
    a1, a2 = _spd(getkey(), 6), jnp.diag(jnp.arange(1.0, 5.0)) * 100.0
    mv = lambda t: {"x": a1 @ t["x"], "y": a2 @ t["y"]}
    b = {"x": jax.random.normal(getkey(), (6,)), "y": jnp.ones(4)}
    jacobi = lambda t: {"x": t["x"] / jnp.diagonal(a1), "y": t["y"] / jnp.diagonal(a2)}
    run = jax.jit(lambda b: (cg(mv, b, tol=1e-12), cg(mv, b, tol=1e-12, preconditioner=jacobi)))
    for sol in run(b):
        np.testing.assert_allclose(sol["x"], jnp.linalg.solve(a1, b["x"]), rtol=1e-9)
        np.testing.assert_allclose(sol["y"], jnp.linalg.solve(a2, b["y"]), rtol=1e-9)
    op = KroneckerPlusDiagonal([_spd(getkey(), 3), _spd(getkey(), 4)], 0.1)
    rhs = jax.random.normal(getkey(), (12,))
    x, exact = jax.jit(lambda op, r: (cg(op, r, tol=1e-12), op.solve(r)))(op, rhs)
    np.testing.assert_allclose(x, exact, rtol=1e-9)


def test_cg_jit_no_recompile_and_vmap(x64, getkey):
    # reference: a Python loop of dense solves
    a = _spd(getkey(), 10)
    traces = 0

    @jax.jit
    def solve(a, b):
        nonlocal traces
        traces += 1
        return cg(lambda v: a @ v, b, tol=1e-12)

    rhs = jax.random.normal(getkey(), (4, 10))
    loop = jnp.stack([solve(a, r) for r in rhs])
    assert traces == 1
    np.testing.assert_allclose(jax.vmap(solve, in_axes=(None, 0))(a, rhs), loop, rtol=1e-10)
    np.testing.assert_allclose(loop, jnp.linalg.solve(a, rhs.T).T, rtol=1e-9)


def test_cg_float32_and_errors(getkey):
    # reference: dense float32 solve
    a, b = _spd(getkey(), 8), jnp.arange(8.0)
    np.testing.assert_allclose(cg(lambda v: a @ v, b), jnp.linalg.solve(a, b), rtol=1e-4, atol=1e-4)
    with pytest.raises(ValueError, match="tol. must be a positive float"):
        cg(lambda v: a @ v, b, tol=-1.0)
    with pytest.raises(ValueError, match="maxiter"):
        cg(lambda v: a @ v, b, maxiter=0)
    with pytest.raises(ValueError, match="b. must match"):
        cg(lx.MatrixLinearOperator(a), jnp.ones(3))
    with pytest.raises(TypeError, match="must be a callable"):
        cg(3.0, b)


def test_cg_mixed_dtype_pytree_matches_dense(getkey):
    # reference: a dense float32 solve. A pytree mixing float32 and bfloat16 leaves used to fail
    # inside lineax (its CG promotes the leaves and then rejects its own structure); the solve
    # now runs in float32 and each leaf of x comes back in its own dtype.
    m = jax.random.normal(getkey(), (5, 5))
    a = m @ m.T + 5.0 * jnp.eye(5)
    split = lambda v: {"f": v[:3], "h": v[3:].astype(jnp.bfloat16)}
    join = lambda t: jnp.concatenate([t["f"], t["h"].astype(jnp.float32)])
    mv = lambda t: (lambda y: {"f": y[:3], "h": y[3:].astype(jnp.bfloat16)})(a @ join(t))
    b = split(jnp.arange(1.0, 6.0))
    x = jax.jit(lambda b: cg(mv, b, tol=1e-6))(b)
    assert x["f"].dtype == jnp.float32 and x["h"].dtype == jnp.bfloat16
    reference = jnp.linalg.solve(a, join(b))
    np.testing.assert_allclose(x["f"], reference[:3], rtol=2e-3)  # the operator itself rounds to bfloat16
    np.testing.assert_allclose(x["h"].astype(jnp.float32), reference[3:], rtol=1e-2)
    grad = jax.grad(lambda s: jnp.sum(cg(lambda t: jax.tree.map(lambda v: s * v, mv(t)), b, tol=1e-6)["f"]))(2.0)
    np.testing.assert_allclose(grad, -jnp.sum(reference[:3]) / 4.0, rtol=1e-2)
