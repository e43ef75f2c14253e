"""Bad input to `jaxsci.linalg`: a `ValueError` naming the argument or a runtime error, never a silent
NaN, zero or wrong answer; and docstrings that state what the code does."""

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsci.linalg import KroneckerPlusDiagonal, cg, diagonal, trace

_A = jnp.array([[4.0, 1.0], [1.0, 3.0]])
_B = jnp.array([1.0, 2.0])
_X = np.linalg.solve(np.asarray(_A), np.asarray(_B))  # reference: dense solve


def test_cg_nan_operator_or_rhs_raises_instead_of_returning_zero():
    # lineax's r0 = b - A 0 is NaN, gamma0 = NaN fails `gamma > 0`: zero steps, x = 0, "successful"
    solve = eqx.filter_jit(lambda a, b: cg(lambda v: a @ v, b))
    np.testing.assert_allclose(solve(_A, _B), _X, rtol=1e-5)
    np.testing.assert_array_equal(solve(_A, jnp.zeros(2)), [0.0, 0.0])  # b = 0: zero steps are right
    for a, b in ((jnp.full((2, 2), jnp.nan), _B), (_A, _B.at[0].set(jnp.nan)), (_A.at[0, 1].set(jnp.inf), _B)):
        with pytest.raises(eqx.EquinoxRuntimeError, match="cg: no solution"):
            solve(a, b)


@pytest.mark.parametrize("tol", [np.float32(1e-6), np.float64(1e-6), jnp.asarray(1e-6), 1e-6], ids=type)
def test_cg_accepts_numpy_and_jax_tolerances(tol):
    np.testing.assert_allclose(cg(lambda v: _A @ v, _B, tol=tol), _X, rtol=1e-5)


def test_cg_traced_tolerance():
    # a tolerance can be a jit argument (no retrace per value), checked when the program runs
    solve = eqx.filter_jit(lambda tol: cg(lambda v: _A @ v, _B, tol=tol))
    np.testing.assert_allclose(solve(jnp.asarray(1e-6)), _X, rtol=1e-5)
    with pytest.raises(eqx.EquinoxRuntimeError, match="`tol` must be a positive float"):
        solve(jnp.asarray(-1.0))
    grad = jax.jit(jax.grad(lambda b, tol: jnp.sum(cg(lambda v: _A @ v, b, tol=tol)), argnums=(0, 1)))(_B, 1e-6)
    np.testing.assert_allclose(grad[0], np.linalg.solve(np.asarray(_A), np.ones(2)), rtol=1e-5)  # A^{-T} 1
    assert grad[1] == 0.0  # no derivative flows into the stopping rule


@pytest.mark.parametrize("tol", [0.0, -1e-3, float("nan"), float("inf"), True, "1e-6", jnp.ones(2)], ids=repr)
def test_cg_rejects_bad_tolerances(tol):
    with pytest.raises(ValueError, match="`tol` must be"):
        cg(lambda v: _A @ v, _B, tol=tol)


def test_kronecker_plus_diagonal_nan_noise_is_an_error():
    # `noise < 0` is False for NaN, so a NaN noise used to give NaN solves and log-determinants
    op = KroneckerPlusDiagonal([jnp.eye(2)], float("nan"))
    for call in (lambda: op.solve(jnp.ones(2)), op.logdet):
        with pytest.raises(eqx.EquinoxRuntimeError, match="`noise` must be >= 0"):
            call()
    # reference: the identity plus noise 0.5 has solve v / 1.5 and log-determinant 2 log 1.5
    op = KroneckerPlusDiagonal([jnp.eye(2)], 0.5)
    np.testing.assert_allclose(op.solve(jnp.ones(2)), [1 / 1.5, 1 / 1.5], rtol=1e-6)
    np.testing.assert_allclose(op.logdet(), 2 * np.log(1.5), rtol=1e-6)


def test_xtrace_xdiag_exact_below_floor_half_m(x64, getkey):
    # XTrace and XDiag use k = m // 2 sketch probes and are exact for rank A < k: with m = 7, rank 2.
    # The docstrings used to say rank A < m / 2, false for odd m (rank 2 with m = 5 is not exact).
    u = jax.random.normal(getkey(), (8, 2))
    a = u @ u.T

    @jax.jit
    def estimates(a, key):
        mv, like = (lambda v: a @ v), jnp.zeros(8)
        est, _ = trace(mv, like, key=key, num_matvecs=7, method="xtrace")
        return est, diagonal(mv, like, key=key, num_matvecs=7, method="xdiag")

    est, diag = estimates(a, getkey())
    np.testing.assert_allclose(est, jnp.trace(a), rtol=1e-10)  # reference: the dense trace and diagonal
    np.testing.assert_allclose(diag, jnp.diag(a), atol=1e-10)
    for fn in (trace, diagonal):
        assert "rank} A < \\lfloor m/2 \\rfloor" in fn.__doc__ and "rank} A < m/2" not in fn.__doc__
