"""GP PDE solver edge cases: argument validation, complex data, derivative-order limits, and
Gauss-Newton iteration of the MAP solve on nonlinear residuals."""

import math
import warnings

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxsci.gp import PDEProblem, solve_pde
from jaxsci.gp.kernels import SquaredExponential

PI = math.pi


def _zero(x):
    return jnp.zeros(x.shape[:-1])


def _sine_problem(n=24):
    """u'' = -pi^2 sin(pi x) on [0, 1], u = 0 at the ends: analytic u = sin(pi x)."""
    return PDEProblem([(0.0, 1.0)], [n], lambda u, d, x: d[(2,)] + PI**2 * jnp.sin(PI * x[..., 0]), _zero)


def _sine_error(sol, problem):
    return float(jnp.max(jnp.abs(sol.values - jnp.sin(PI * problem.points()[..., 0]))))


def _cubic_problem(n=40):
    """u'' - u^3 = f on [0, 1] with analytic u = sin(pi x) + 0.5 (nonlinear, non-zero boundary data)."""
    exact = lambda x: jnp.sin(PI * x[..., 0]) + 0.5  # noqa: E731

    def residual(u, d, x):
        return d[(2,)] - u**3 + PI**2 * jnp.sin(PI * x[..., 0]) + exact(x) ** 3

    return PDEProblem([(0.0, 1.0)], [n], residual, exact), exact


@pytest.mark.usefixtures("x64")
def test_precisions_jitter_and_cg_tol_are_validated():
    # Reference: analytic sin(pi x). Before the fix, precisions=(-1, 1) and jitter=nan/-1 gave
    # all-NaN "adam" solutions, (0, 1e8) ignored the boundary, and cg_tol=-1 stopped CG after 2
    # steps (error 0.115 instead of 4.6e-3 on the 8x8 problem below).
    problem, kernel = _sine_problem(), SquaredExponential(0.2)
    sol = solve_pde(problem, kernel=kernel, method="map", precisions=(1e8, 1e4), jitter=1e-8)
    assert _sine_error(sol, problem) < 1e-3
    bad = [
        ("precisions", {"precisions": (-1.0, 1.0)}),
        ("precisions", {"precisions": (0.0, 1e8)}),
        ("precisions", {"precisions": (np.nan, 1e8)}),
        ("precisions", {"precisions": (1e8, np.inf)}),
        ("precisions", {"precisions": (1e8,)}),
        ("jitter", {"jitter": np.nan}),
        ("jitter", {"jitter": -1.0}),
        ("cg_tol", {"cg_tol": -1.0}),
        ("cg_tol", {"cg_tol": 0.0}),
        ("cg_tol", {"cg_tol": np.nan}),
    ]
    for method in ("map", "adam"):
        for name, kwargs in bad:
            with pytest.raises(ValueError, match=f"{name} must be"):
                solve_pde(problem, kernel=kernel, method=method, num_steps=3, **kwargs)
    with pytest.raises(ValueError, match="cg_tol must be"):
        solve_pde(problem, kernel=kernel, method="collocation", learn_kernel=False, cg_tol=-1.0)
    square = PDEProblem(
        [(0.0, 1.0)] * 2, [8, 8],
        lambda u, d, x: d[(2, 0)] + d[(0, 2)] + 2 * PI**2 * jnp.sin(PI * x[..., 0]) * jnp.sin(PI * x[..., 1]),
        _zero,
    )
    exact = jnp.prod(jnp.sin(PI * square.points()), axis=-1)
    sol = solve_pde(square, kernel=SquaredExponential(0.3), method="map", cg_tol=1e-10)
    assert float(jnp.max(jnp.abs(sol.values - exact))) < 5e-3
    with pytest.raises(ValueError, match="cg_tol must be"):
        solve_pde(square, kernel=SquaredExponential(0.3), method="map", cg_tol=-1.0)


@pytest.mark.usefixtures("x64")
def test_traced_precisions_and_jitter_are_checked_at_run_time():
    # Reference: analytic sin(pi x) for valid traced values; bad traced values raise naming them.
    problem = _sine_problem()
    solve = eqx.filter_jit(
        lambda taus, jitter: solve_pde(
            problem, kernel=SquaredExponential(0.2), method="map", precisions=taus, jitter=jitter
        ).values
    )
    values = solve(jnp.array([1e8, 1e4]), jnp.asarray(1e-10))
    assert float(jnp.max(jnp.abs(values - jnp.sin(PI * problem.points()[..., 0])))) < 1e-3
    with pytest.raises(eqx.EquinoxRuntimeError, match="precisions must be"):
        solve(jnp.array([-1.0, 1.0]), jnp.asarray(1e-10))
    with pytest.raises(eqx.EquinoxRuntimeError, match="jitter must be"):
        solve(jnp.array([1e8, 1e4]), jnp.asarray(jnp.nan))


@pytest.mark.usefixtures("x64")
def test_gauss_newton_steps_must_be_a_positive_integer():
    # Reference: analytic sin(pi x) with a valid count; 0 raised JAX's "Need at least one array
    # to stack" (map) and -1 was silently treated as 1 (collocation).
    problem, kernel = _sine_problem(), SquaredExponential(0.2)
    for method in ("map", "collocation"):
        sol = solve_pde(problem, kernel=kernel, method=method, learn_kernel=False, gauss_newton_steps=np.int64(3))
        assert _sine_error(sol, problem) < 1e-3
        for steps in (0, -1, 2.5, True, "2"):
            with pytest.raises(ValueError, match="gauss_newton_steps must be an integer >= 1"):
                solve_pde(problem, kernel=kernel, method=method, learn_kernel=False, gauss_newton_steps=steps)


def test_problem_rejects_non_finite_bounds_and_non_integer_sizes_and_orders():
    # Reference: the analytic spacing (hi - lo) / (n - 1) of a valid problem. Before the fix, NaN
    # or infinite bounds gave NaN spacings (NaN solutions), and 10.7, "10" and (2.5,) were
    # truncated to 10, 10 and (2,).
    res = lambda u, d, x: d[(2,)] + 1.0  # noqa: E731
    ok = PDEProblem([(np.float32(-1.0), 2)], [np.int64(7)], res, _zero, derivatives=[(np.int32(2),)])
    assert ok.grid_sizes == (7,) and ok.derivatives == ((2,),) and ok.spacings == (0.5,)
    assert all(type(v) is int for v in ok.grid_sizes + ok.derivatives[0])
    for bounds in ([(0.0, np.nan)], [(0.0, np.inf)], [(-np.inf, 0.0)], [(np.nan, 1.0)], [(-1e308, 1e308)],
                   [(0.0, 1 + 1j)], [(1.0, 1.0)], [("0", "1")]):
        with pytest.raises(ValueError, match="bounds"):
            PDEProblem(bounds, [10], res, _zero)
    for sizes in ([10.7], ["10"], [np.float64(3.5)], [True], 10, [2]):
        with pytest.raises(ValueError, match="grid_sizes"):
            PDEProblem([(0.0, 1.0)], sizes, res, _zero)
    for derivatives in ([(2.5,)], [("2",)], (2,), [(5,)], [(-1,)], [(0,)], [(True,)]):
        with pytest.raises(ValueError, match="derivatives"):
            PDEProblem([(0.0, 1.0)], [10], res, _zero, derivatives=derivatives)


@pytest.mark.usefixtures("x64")
def test_derivative_orders_are_integers_within_the_solutions_limit():
    # Reference: analytic derivatives of u = sin(pi x) sin(pi y). A collocation solution's weight
    # fields carry the equation's second derivatives, so with a kernel of derivative order 4 it
    # has derivatives up to order 2 per axis; (3, 0) used to fail with a kernel message about
    # orders (3, 2) although the check claimed 0..4, and (1.5, 0) was treated as (1, 0).
    w = PI
    exact = lambda x: jnp.sin(w * x[..., 0]) * jnp.sin(w * x[..., 1])  # noqa: E731
    problem = PDEProblem(
        [(0.0, 1.0)] * 2, [12, 12], lambda u, d, x: d[(2, 0)] + d[(0, 2)] + 2 * w**2 * exact(x), exact
    )
    sol = solve_pde(problem, kernel=SquaredExponential(0.3), method="collocation", learn_kernel=False)
    pts = jnp.array([[0.3, 0.6], [0.45, 0.2]])
    np.testing.assert_allclose(sol.derivative(pts, (2, 0)), -(w**2) * exact(pts), rtol=1e-3, atol=1e-3)
    np.testing.assert_allclose(
        sol.derivative(pts, (np.int64(1), 1)),
        w**2 * jnp.cos(w * pts[:, 0]) * jnp.cos(w * pts[:, 1]), rtol=1e-3, atol=1e-3,
    )
    for orders in ((3, 0), (0, 3), (1.5, 0), (1,), (-1, 0), "10", (True, 0)):
        with pytest.raises(ValueError, match=r"max_orders = \(2, 2\)"):
            sol.derivative(pts, orders)
    with pytest.raises(ValueError, match=r"max_orders = \(2, 2\)"):
        sol.on_grid(jnp.array([0.3]), jnp.array([0.6]), orders=(3, 0))
    assert sol.max_orders == (2, 2)
    # A GP-HM solution has a single weight field of order 0: the kernel's order 4 is its limit.
    ref = solve_pde(problem, kernel=SquaredExponential(0.3), method="map")
    assert ref.max_orders == (4, 4)
    np.testing.assert_allclose(ref.derivative(pts, (2, 0)), -(w**2) * exact(pts), rtol=1e-2, atol=1e-2)
    with pytest.raises(ValueError, match=r"max_orders = \(4, 4\)"):
        ref.derivative(pts, (5, 0))


@pytest.mark.usefixtures("x64")
def test_complex_boundary_data_or_residual_is_rejected():
    # Reference: analytic u = sin(pi x) + 1 + x with real data. With (1 + 1j) boundary data "map"
    # used to drop the imaginary part and "collocation" to return complex values; a complex
    # residual coefficient returned a complex "solution".
    exact = lambda x: jnp.sin(PI * x[..., 0]) + 1.0 + x[..., 0]  # noqa: E731
    source = lambda u, d, x: d[(2,)] + PI**2 * jnp.sin(PI * x[..., 0])  # noqa: E731
    real = PDEProblem([(0.0, 1.0)], [24], source, exact)
    for method in ("map", "collocation"):
        sol = solve_pde(real, kernel=SquaredExponential(0.2), method=method, learn_kernel=False)
        assert float(jnp.max(jnp.abs(sol.values - exact(real.points())))) < 1e-3
    complex_data = PDEProblem([(0.0, 1.0)], [24], source, lambda x: (1 + 1j) * exact(x))
    complex_residual = PDEProblem([(0.0, 1.0)], [24], lambda u, d, x: d[(2,)] + 1j * u + 1.0, _zero)
    for problem, name in ((complex_data, "boundary"), (complex_residual, "residual")):
        for method in ("map", "collocation", "adam", "auto"):
            with pytest.raises(ValueError, match=rf"{name}(\(x\))? returned complex values"):
                solve_pde(problem, kernel=SquaredExponential(0.2), method=method, learn_kernel=False)


@pytest.mark.usefixtures("x64")
def test_map_iterates_gauss_newton_on_a_nonlinear_residual_and_stops_after_one_step_when_affine():
    # Reference: analytic u = sin(pi x) + 0.5 of u'' - u^3 = f. The default MAP solve returned a
    # single Gauss-Newton step (error 0.30); converged it reaches 1.7e-6 in 5 steps.
    problem, exact = _cubic_problem()
    kernel = SquaredExponential(0.15)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        sol = solve_pde(problem, kernel=kernel, method="map")
    assert float(jnp.max(jnp.abs(sol.values - exact(problem.points())))) < 1e-5
    change = sol.history["gauss_newton_change"]
    assert 3 <= change.shape[0] < 20 and float(change[-1]) < 1e-8
    assert sol.history["cg_steps"].shape == change.shape
    # Too few steps to converge: the solution is off and a warning says so (for collocation too).
    for method in ("map", "collocation"):
        with pytest.warns(RuntimeWarning, match="Gauss-Newton did not converge"):
            short = solve_pde(problem, kernel=kernel, method=method, learn_kernel=False, gauss_newton_steps=2)
        assert short.history["gauss_newton_change"].shape == (2,)
        assert float(jnp.max(jnp.abs(short.values - exact(problem.points())))) > 1e-3
    # An affine residual takes exactly one (exact) step, also when more are allowed.
    line = PDEProblem([(0.0, 1.0)], [40], lambda u, d, x: d[(2,)] - u + (PI**2 + 1) * jnp.sin(PI * x[..., 0]), _zero)
    for steps in (None, 5):
        sol = solve_pde(line, kernel=kernel, method="map", gauss_newton_steps=steps)
        assert sol.history["gauss_newton_change"].shape == (1,)
        assert _sine_error(sol, line) < 1e-4


@pytest.mark.usefixtures("x64")
def test_map_gauss_newton_converges_on_a_2d_nonlinear_residual_with_cg():
    # Reference: analytic u = sin(pi x) sin(pi y) + 0.5 of Laplace(u) - u^3 = f on a 24^2 grid (the
    # Kronecker CG path). One Gauss-Newton step (the old default) left an error of 0.14.
    exact = lambda x: jnp.sin(PI * x[..., 0]) * jnp.sin(PI * x[..., 1]) + 0.5  # noqa: E731

    def residual(u, d, x):
        ue = exact(x)
        return d[(2, 0)] + d[(0, 2)] - u**3 + 2 * PI**2 * (ue - 0.5) + ue**3

    problem = PDEProblem([(0.0, 1.0)] * 2, [24, 24], residual, exact)
    sol = solve_pde(problem, kernel=SquaredExponential(0.2), method="map")
    assert float(jnp.max(jnp.abs(sol.values - exact(problem.points())))) < 1e-5
    change = sol.history["gauss_newton_change"]
    assert 3 <= change.shape[0] < 20 and float(change[-1]) < 1e-8
    assert int(jnp.min(sol.history["cg_steps"])) > 0


@pytest.mark.usefixtures("x64")
def test_key_must_be_a_prng_key():
    # Reference: analytic sin(pi x) at x = 1/2 with jittered initial frequencies. key=0 used to
    # raise JAX's "invalid PRNG key data" TypeError.
    problem = _sine_problem()
    kwargs = dict(num_components=4, max_frequency=2.0, method="collocation", learn_kernel=False)
    typed = solve_pde(problem, key=jax.random.key(1), **kwargs)
    raw = solve_pde(problem, key=jax.random.PRNGKey(1), **kwargs)
    np.testing.assert_allclose(typed(jnp.array([[0.5]])), 1.0, atol=0.1)
    np.testing.assert_array_equal(typed.kernels[0].frequencies, raw.kernels[0].frequencies)
    for key in (0, 1.5, "0", jnp.zeros(3), jax.random.split(jax.random.key(0), 2)):
        with pytest.raises(ValueError, match="key must be a single PRNG key"):
            solve_pde(problem, key=key, **kwargs)
