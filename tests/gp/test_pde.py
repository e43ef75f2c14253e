"""GP-HM PDE solver: derivative operators, Kronecker prior, MAP fast path, Poisson accuracy."""

import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.scipy.stats import multivariate_normal

from jaxsci.gp._pde_operators import (
    axis_cholesky,
    derivative_fields,
    derivative_fields_by_solves,
    derivative_operators,
    kron_neg_log_prior,
)
from jaxsci.gp._pde_problem import PDEProblem
from jaxsci.gp._pde_collocation import boundary_indices
from jaxsci.gp._pde_solve import _initial_precisions, pde_objective, solve_pde
from jaxsci.gp.kernels import Matern52, MaternCosineMixture, SquaredExponential


def _poisson(sizes, freq=1.0):
    """-Laplace-free form: sum_j d_j^2 u = f with u = prod_j sin(freq * pi * x_j) on [0, 1]^d."""
    d = len(sizes)
    w = freq * math.pi

    def exact(x):
        return jnp.prod(jnp.sin(w * x), axis=-1)

    def residual(u, derivs, x):
        return sum(derivs[m] for m in derivs) + d * w**2 * exact(x)

    return PDEProblem([(0.0, 1.0)] * d, sizes, residual, exact), exact


def _rel(a, b):
    return float(jnp.linalg.norm(a - b) / jnp.linalg.norm(b))


@pytest.mark.usefixtures("x64")
def test_derivative_operators_match_analytic_derivatives():
    # Reference: analytic derivatives of u = sin(2x) cos(3y) + x^2 y on the grid.
    problem = PDEProblem(
        [(0.0, 1.0), (-0.5, 0.5)], [28, 24], lambda u, d, x: u, lambda x: x[..., 0],
        derivatives=[(2, 0), (0, 2), (1, 1), (1, 0)],
    )
    kernels = (SquaredExponential(0.25), SquaredExponential(0.25))
    chols = [axis_cholesky(k, n, h, 1e-12) for k, n, h in zip(kernels, problem.grid_sizes, problem.spacings)]
    ops = derivative_operators(kernels, problem, chols)
    x = problem.points()
    X, Y = x[..., 0], x[..., 1]
    u = jnp.sin(2 * X) * jnp.cos(3 * Y) + X**2 * Y
    exact = {
        (2, 0): -4 * jnp.sin(2 * X) * jnp.cos(3 * Y) + 2 * Y,
        (0, 2): -9 * jnp.sin(2 * X) * jnp.cos(3 * Y),
        (1, 1): -6 * jnp.cos(2 * X) * jnp.sin(3 * Y) + 2 * X,
        (1, 0): 2 * jnp.cos(2 * X) * jnp.cos(3 * Y) + 2 * X * Y,
    }
    fields = derivative_fields(u, ops, problem.derivatives)
    by_solves = derivative_fields_by_solves(u, kernels, problem, chols)
    for m, ref in exact.items():
        interior = (slice(3, -3), slice(3, -3))
        np.testing.assert_allclose(by_solves[m], fields[m], rtol=1e-8, atol=1e-8)
        assert _rel(fields[m][interior], ref[interior]) < 1e-4, m
        assert _rel(fields[m], ref) < 2e-3, m  # one-sided interpolation near the faces


@pytest.mark.usefixtures("x64")
def test_kronecker_prior_matches_dense_gaussian(getkey):
    # Reference: jax.scipy.stats.multivariate_normal on the dense Kronecker product.
    sizes, spacings = (6, 5), (0.2, 0.25)
    u = jax.random.normal(getkey(), sizes)

    def ours(params):
        ks = (Matern52(params[0], 1.3), SquaredExponential(params[1]))
        chols = [axis_cholesky(k, n, h, 1e-6) for k, n, h in zip(ks, sizes, spacings)]
        return kron_neg_log_prior(chols, u)

    def dense(params):
        ks = (Matern52(params[0], 1.3), SquaredExponential(params[1]))
        mats = [c @ c.T for c in (axis_cholesky(k, n, h, 1e-6) for k, n, h in zip(ks, sizes, spacings))]
        cov = jnp.kron(mats[0], mats[1])
        return -multivariate_normal.logpdf(u.reshape(-1), jnp.zeros(u.size), cov)

    params = jnp.array([0.4, 0.3])
    ours_vg, dense_vg = jax.jit(jax.value_and_grad(ours)), jax.jit(jax.value_and_grad(dense))
    (v1, g1), (v2, g2) = ours_vg(params), dense_vg(params)
    np.testing.assert_allclose(v1, v2, rtol=1e-10)
    np.testing.assert_allclose(g1, g2, rtol=1e-7)


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("boundary_residual", [True, False])
def test_map_fast_path_matches_dense_normal_equations(boundary_residual):
    # Reference: dense solve of (K^-1 + tb B + tr L^T W L) u = tb B g + tr L^T W f, L = D1 (+) D2,
    # W the identity (residual at every point) or the interior indicator (the default).
    problem, exact = _poisson((9, 7))
    kernels = (SquaredExponential(0.3), Matern52(0.5))
    taus = (1e4, 1e3)
    sol = solve_pde(
        problem, kernel=kernels, method="map", precisions=taus, jitter=1e-8, cg_tol=1e-12,
        boundary_residual=boundary_residual,
    )
    chols = [axis_cholesky(k, n, h, 1e-8) for k, n, h in zip(kernels, problem.grid_sizes, problem.spacings)]
    ops = derivative_operators(kernels, problem, chols)
    K = jnp.kron(*(c @ c.T for c in chols))
    L = jnp.kron(ops[(0, 2)], jnp.eye(7)) + jnp.kron(jnp.eye(9), ops[(1, 2)])
    x = problem.points()
    b = problem.boundary_mask().reshape(-1).astype(float)
    f = -2 * math.pi**2 * exact(x).reshape(-1)
    g = exact(x).reshape(-1)
    w = jnp.ones_like(b) if boundary_residual else 1.0 - b
    A = jnp.linalg.inv(K) + taus[0] * jnp.diag(b) + taus[1] * L.T @ (w[:, None] * L)
    u = jnp.linalg.solve(A, taus[0] * b * g + taus[1] * L.T @ (w * f))
    assert _rel(sol.values.reshape(-1), u) < 1e-7
    # The MAP is a stationary point of the training objective at fixed kernels and precisions.
    log_taus = jnp.log(jnp.array(taus))
    grad = jax.grad(pde_objective, argnums=1)(problem, sol.values, kernels, log_taus, 1e-8, boundary_residual)
    assert float(jnp.max(jnp.abs(grad))) < 1e-6 * float(jnp.max(jnp.abs(A @ u)))


@pytest.mark.usefixtures("x64")
@pytest.mark.parametrize("boundary_residual", [True, False])
def test_map_dense_1d_path_matches_dense_normal_equations(boundary_residual):
    # Reference: the dense normal equations (K^-1 + tb B + tr D^T W D) u = tb B g + tr D^T W f
    # in 1D, where solve_pde solves in whitened coordinates by QR instead of CG on K^-1.
    problem, exact = _poisson((40,), freq=2.0)
    kernel, taus = Matern52(0.3), (1e6, 1e2)
    sol = solve_pde(
        problem, kernel=kernel, method="map", precisions=taus, jitter=1e-8, boundary_residual=boundary_residual
    )
    assert int(sol.history["cg_steps"][0]) == 0
    (chol,) = [axis_cholesky(kernel, 40, problem.spacings[0], 1e-8)]
    d2 = derivative_operators((kernel,), problem, [chol])[(0, 2)]
    x = problem.points()
    b = problem.boundary_mask().reshape(-1).astype(float)
    f = -((2 * math.pi) ** 2) * exact(x).reshape(-1)
    w = jnp.ones_like(b) if boundary_residual else 1.0 - b
    a = jnp.linalg.inv(chol @ chol.T) + taus[0] * jnp.diag(b) + taus[1] * d2.T @ (w[:, None] * d2)
    u = jnp.linalg.solve(a, taus[0] * b * exact(x).reshape(-1) + taus[1] * d2.T @ (w * f))
    assert _rel(sol.values.reshape(-1), u) < 1e-8


@pytest.mark.usefixtures("x64")
def test_default_boundary_precision_and_interior_residual_on_a_smooth_problem():
    # Reference: u = sin(pi x), u'' = -pi^2 sin(pi x), with a short fixed Matern52(0.3). With
    # tau_b = 1e8 and tau_r = 1e8 / mean(f^2) (the old default) the residual term pulled u off
    # the boundary data: 0.50 on 32 points, 1.5e-2 on 256. The grid-scale boundary precision
    # gives 0.062 and 1.3e-4; leaving the boundary points to the Dirichlet term alone
    # (boundary_residual=False) gives 9e-4 and under 2e-5.
    errors = {}
    for n in (32, 256):
        problem, exact = _poisson((n,))
        for flag in (True, False):
            sol = solve_pde(problem, kernel=Matern52(0.3), method="map", boundary_residual=flag)
            errors[n, flag] = float(jnp.max(jnp.abs(sol.values - exact(problem.points()))))
        f2 = float(jnp.mean((math.pi**2 * exact(problem.points())) ** 2))
        taus = solve_pde(problem, kernel=Matern52(0.3), method="map").precisions
        h = 1.0 / (n - 1)
        np.testing.assert_allclose(taus, [max(1e8, 0.1 * 1e8 / f2 / h**4), 1e8 / f2], rtol=1e-12)
    assert errors[32, True] < 0.1 and errors[256, True] < 5e-4
    assert errors[32, False] < 2e-3 and errors[256, False] < 5e-5
    # The Adam path trains the same objective: its first loss is the objective at the MAP start.
    problem, _ = _poisson((32,))
    start = solve_pde(problem, kernel=Matern52(0.3), method="map", boundary_residual=False)
    sol = solve_pde(problem, kernel=Matern52(0.3), method="adam", num_steps=1, boundary_residual=False)
    log_taus = jnp.log(start.precisions)
    for flag in (False, True):
        value = pde_objective(problem, start.values, (Matern52(0.3),), log_taus, 1e-10, flag)
        assert (abs(float(sol.history["loss"][0]) - float(value)) < 1e-9 * abs(float(value))) == (not flag)


@pytest.mark.usefixtures("x64")
def test_map_converges_with_nearly_rank_deficient_kernels():
    # Reference: analytic u = prod_j sin(3 pi x_j) in 3D. Envelopes four times the domain make
    # each K_j nearly rank-deficient (K has eigenvalues near 1e-30); CG with lineax's default
    # residual replacement diverged here (relative error 47 after 3000 steps), plain CG
    # converges in under 100 steps (measured 1.4e-6).
    problem, exact = _poisson((20, 19, 18), freq=3.0)
    k = MaternCosineMixture(jnp.array([0.5, 0.5]), jnp.array([4.0, 4.0]), jnp.array([1.5, 1.4]))
    sol = solve_pde(problem, kernel=(k,) * 3, method="map", precisions=(1e8, 1e2), jitter=1e-10, cg_maxiter=3000)
    assert int(sol.history["cg_steps"][0]) < 500
    assert _rel(sol.values, exact(problem.points())) < 1e-4


@pytest.mark.usefixtures("x64")
def test_poisson_1d_and_2d_high_accuracy():
    # Reference: analytic solutions u = sin(pi x) and sin(2 pi x) sin(2 pi y).
    problem, exact = _poisson((40,), freq=3.0)
    sol = solve_pde(problem, kernel=SquaredExponential(0.2), method="map")
    xt = jnp.linspace(0, 1, 300)
    assert _rel(sol.on_grid(xt), exact(xt[:, None])) < 1e-5
    # Transforms of the solution: jit and vmap agree with the eager call; autodiff of the
    # interpolant agrees with its closed-form derivative (and with the analytic u').
    pts = xt[::30, None]
    np.testing.assert_allclose(jax.jit(lambda s, p: s(p))(sol, pts), sol(pts), rtol=1e-12)
    np.testing.assert_allclose(jax.vmap(lambda p: sol(p[None])[0])(pts), sol(pts), rtol=1e-12)
    slope = jax.vmap(jax.grad(lambda p: sol(p[None, None])[0]))(pts[:, 0])
    np.testing.assert_allclose(slope, sol.derivative(pts, (1,)), rtol=1e-8, atol=1e-8)
    np.testing.assert_allclose(slope, 3 * math.pi * jnp.cos(3 * math.pi * pts[:, 0]), atol=1e-3)
    problem, exact = _poisson((24, 24), freq=2.0)
    sol = solve_pde(problem, kernel=SquaredExponential(0.2), method="map")
    xt = jnp.linspace(0, 1, 50)
    ref = exact(jnp.stack(jnp.meshgrid(xt, xt, indexing="ij"), -1))
    assert _rel(sol.on_grid(xt, xt), ref) < 1e-4
    # Scattered evaluation agrees with the grid evaluation and interpolates the grid values.
    pts = jnp.stack([xt[0:49:7], xt[3::7]], -1)
    np.testing.assert_allclose(sol(pts), sol.on_grid(xt, xt)[jnp.arange(0, 49, 7), jnp.arange(3, 50, 7)], atol=1e-10)
    np.testing.assert_allclose(sol(problem.points()), sol.values, atol=2e-5)  # jitter smooths slightly


@pytest.mark.usefixtures("x64")
def test_adam_path_learns_allen_cahn_from_zero():
    # Reference: analytic u = sin(pi x) of u'' + u (u^2 - 1) = f (nonlinear residual).
    w = math.pi

    def exact(x):
        return jnp.sin(w * x[..., 0])

    def residual(u, d, x):
        ue = exact(x)
        return d[(2,)] + u * (u**2 - 1) - (-(w**2) * ue + ue * (ue**2 - 1))

    problem = PDEProblem([(0.0, 1.0)], [24], residual, exact)
    xt = jnp.linspace(0, 1, 300)
    gn = solve_pde(problem, kernel=SquaredExponential(0.25), method="map", gauss_newton_steps=4)
    assert _rel(gn.on_grid(xt), exact(xt[:, None])) < 1e-5
    # Adam over U, kernel parameters (log domain) and precisions, from the Gauss-Newton start.
    err = lambda s: jnp.linalg.norm(s.on_grid(xt) - exact(xt[:, None])) / jnp.linalg.norm(exact(xt[:, None]))  # noqa: E731
    sol = solve_pde(
        problem, kernel=SquaredExponential(0.25), method="adam", init="map", gauss_newton_steps=4, num_steps=200,
        learning_rate=1e-2, u_learning_rate=1e-8, select="min_loss", monitor=err, monitor_every=50,
    )
    loss = sol.history["loss"]
    assert float(jnp.min(loss)) < float(loss[0])
    assert float(err(sol)) < 1e-4
    assert sol.history["monitor"].shape == (4,)
    # From zero (the reference initialisation) Adam decreases the objective (slowly: why init="map" exists).
    cold = solve_pde(
        problem, kernel=SquaredExponential(0.25), method="adam", init="zeros", num_steps=200, learning_rate=2e-2,
        refine=True, gauss_newton_steps=4,
    )
    assert float(cold.history["loss"][-1]) < 0.8 * float(cold.history["loss"][0])
    # refine=True: Gauss-Newton in U at the learned kernel lowers the objective and the error.
    before, after = cold.history["refine_objective"]
    assert float(after) < float(before)
    assert _rel(cold.on_grid(xt), exact(xt[:, None])) < 1e-4


def test_wrong_residual_shape_and_bad_arguments():
    ok = lambda x: jnp.zeros(x.shape[:-1])  # noqa: E731
    bad = PDEProblem([(0.0, 1.0)], [16], lambda u, d, x: d[(2,)][1:-1], ok)
    with pytest.raises(ValueError, match="residual must return an array of the grid's shape"):
        solve_pde(bad, kernel=Matern52(0.3), method="map")
    missing = PDEProblem([(0.0, 1.0)], [16], lambda u, d, x: d[(1,)], ok)
    with pytest.raises(ValueError, match="residual asked for derivative"):
        solve_pde(missing, kernel=Matern52(0.3), method="map")
    with pytest.raises(ValueError, match="boundary"):
        solve_pde(PDEProblem([(0.0, 1.0)], [16], lambda u, d, x: u, lambda x: x), kernel=Matern52(0.3))
    with pytest.raises(ValueError, match="grid_sizes"):
        PDEProblem([(0.0, 1.0), (0.0, 1.0)], [16], lambda u, d, x: u, ok)
    with pytest.raises(ValueError, match="bounds"):
        PDEProblem([(1.0, 0.0)], [16], lambda u, d, x: u, ok)
    problem = PDEProblem([(0.0, 1.0)], [16], lambda u, d, x: d[(2,)], ok)
    with pytest.raises(ValueError, match="method"):
        solve_pde(problem, method="lbfgs")
    with pytest.raises(ValueError, match="kernel"):
        solve_pde(problem, kernel="rbf")
    with pytest.raises(ValueError, match="max_frequency"):
        solve_pde(problem, max_frequency=1e3)
    with pytest.raises(ValueError, match="num_steps must be >= 1 for method='adam'"):
        solve_pde(problem, kernel=Matern52(0.3), method="adam", num_steps=0)
    with pytest.raises(ValueError, match="monitor_every"):
        solve_pde(problem, kernel=Matern52(0.3), method="adam", monitor_every=0)
    with pytest.raises(ValueError, match="boundary_residual"):
        solve_pde(problem, kernel=Matern52(0.3), method="map", boundary_residual="no")
    # u'' needs a twice mean-square differentiable kernel: Matern32 gave errors of 0.9-1 on
    # every grid; on a first-order equation it is accepted (reference: sin(pi x) at 1/2).
    from jaxsci.gp.kernels import Matern32

    with pytest.raises(ValueError, match="Matern32 on axis 0 is not 2 times mean-square differentiable"):
        solve_pde(problem, kernel=Matern32(0.3), method="map")
    first = PDEProblem(
        [(0.0, 1.0)], [32], lambda u, d, x: d[(1,)] - math.pi * jnp.cos(math.pi * x[..., 0]), ok, derivatives=[(1,)]
    )
    np.testing.assert_allclose(solve_pde(first, kernel=Matern32(0.3), method="map")(jnp.array([[0.5]])), 1.0, atol=1e-2)
    # A MAP answer is never returned unconverged or non-finite: CG stopped after 3 steps (2D;
    # 1D grids are solved densely)
    square, _ = _poisson((16, 16))
    with pytest.raises(eqx.EquinoxRuntimeError, match="MAP solve failed"):
        solve_pde(square, kernel=SquaredExponential(0.2), method="map", cg_maxiter=3)
    # Float32 with SquaredExponential(0.5) on 256 points: the kernel matrix has negative float32
    # eigenvalues, and CG on K^-1 returned NaN (then raised); the 1D dense solve in whitened
    # coordinates never forms K^-1. Reference: analytic sin(pi x).
    source = lambda u, d, x: d[(2,)] + math.pi**2 * jnp.sin(math.pi * x[..., 0])  # noqa: E731
    fine = PDEProblem([(0.0, 1.0)], [256], source, ok)
    sol = solve_pde(fine, kernel=SquaredExponential(0.5), method="map")
    xt = jnp.linspace(0, 1, 300)
    assert sol.values.dtype == jnp.float32 and int(sol.history["cg_steps"][0]) == 0
    assert float(jnp.max(jnp.abs(sol(xt[:, None]) - jnp.sin(math.pi * xt)))) < 2e-3
    # "map" runs no Adam steps, so num_steps=0 is accepted and changes nothing
    a, b = (solve_pde(problem, kernel=Matern52(0.3), method="map", **kw) for kw in ({}, {"num_steps": 0}))
    np.testing.assert_array_equal(a.values, b.values)


def test_float32_default_path():
    # Reference: analytic u = sin(3 pi x); float32 with the float32 default jitter (1e-5).
    problem, exact = _poisson((40,), freq=3.0)
    sol = solve_pde(problem, kernel=SquaredExponential(0.2), method="map")
    xt = jnp.linspace(0, 1, 300)
    assert sol.values.dtype == jnp.float32
    assert _rel(sol.on_grid(xt), exact(xt[:, None])) < 2e-2


@pytest.mark.parametrize("sizes", [(5,), (3,), (4, 5), (3, 3), (3, 4, 5), (6, 3, 4)])
def test_boundary_indices_are_the_face_points_also_under_jit(sizes):
    # Reference: the points with an index 0 or n-1 on some axis, from np.indices. The dense 1D
    # MAP step needs them as a static index set inside its jitted solve.
    problem = PDEProblem([(0.0, 1.0)] * len(sizes), list(sizes), lambda u, d, x: u, lambda x: 0 * x[..., 0])
    idx = np.indices(sizes).reshape(len(sizes), -1)
    expected = np.flatnonzero(np.any((idx == 0) | (idx == np.array(sizes)[:, None] - 1), axis=0))
    np.testing.assert_array_equal(boundary_indices(problem), expected)
    np.testing.assert_array_equal(np.flatnonzero(np.asarray(problem.boundary_mask())), expected)
    traced = []
    jax.jit(lambda p: traced.append(boundary_indices(p)) or 0.0)(problem)
    np.testing.assert_array_equal(traced[0], expected)


@pytest.mark.usefixtures("x64")
def test_default_precisions_for_derivative_free_and_high_order_equations():
    # Reference: u = sin(pi x) is its own solution when the equation reads no derivative (the
    # default precisions used to fail on max() of no orders); a zero source of a 4th-order
    # equation on 2000 float32 points made tau_b = 0.1 tau_r h^-8 overflow to inf.
    exact = lambda x: jnp.sin(math.pi * x[..., 0])  # noqa: E731
    problem = PDEProblem([(0.0, 1.0)], [32], lambda u, d, x: u - exact(x), exact, derivatives=())
    sol = solve_pde(problem, kernel=SquaredExponential(0.2), method="map")
    assert float(jnp.max(jnp.abs(sol.values - exact(problem.points())))) < 1e-4
    quartic = PDEProblem([(0.0, 1.0)], [2000], lambda u, d, x: d[(4,)], exact, derivatives=((4,),))
    for dtype in (jnp.float32, jnp.float64):
        taus = _initial_precisions(quartic, None, dtype)
        assert taus.dtype == dtype and bool(jnp.all(jnp.isfinite(taus))) and float(taus[0]) > float(taus[1])


@pytest.mark.usefixtures("x64")
def test_residual_singular_at_the_boundary_raises_and_its_guarded_form_solves():
    # u'' + u'/x = f on [0, 1] with u = sin(pi x): the u'/x term is 0/0 at x = 0. Unguarded, the
    # MAP solve said "CG did not converge" and collocation "this residual couples points"; now
    # both name the residual and the point. Guarded with the double-where pattern, both solve
    # (collocation used to return NaN: its equation row at x = 0 is zero, with a zero relative
    # nugget). Reference: the analytic solution.
    exact = lambda x: jnp.sin(math.pi * x[..., 0])  # noqa: E731

    def source(x, xs):
        return -(math.pi**2) * jnp.sin(math.pi * x) + math.pi * jnp.cos(math.pi * x) / xs

    def raw(u, d, x):
        return d[(2,)] + d[(1,)] / x[..., 0] - source(x[..., 0], x[..., 0])

    def guarded(u, d, x):
        x = x[..., 0]
        pos = x > 0
        xs = jnp.where(pos, x, 1.0)
        return jnp.where(pos, d[(2,)] + d[(1,)] / xs - source(x, xs), 0.0)

    orders = [(1,), (2,)]
    t = jnp.linspace(0.0, 1.0, 101)
    for method in ("map", "collocation"):
        with pytest.raises(ValueError, match=r"not finite at 1 boundary points at u = 0, e.g. x = \(0.0,\)"):
            solve_pde(PDEProblem([(0.0, 1.0)], [48], raw, exact, orders), kernel=SquaredExponential(0.2), method=method)
        sol = solve_pde(PDEProblem([(0.0, 1.0)], [48], guarded, exact, orders), kernel=SquaredExponential(0.2),
                        method=method)
        assert float(jnp.max(jnp.abs(sol(t[:, None]) - jnp.sin(math.pi * t)))) < 1e-4, method
    bad_data = PDEProblem([(0.0, 1.0)], [16], guarded, lambda x: 1.0 / x[..., 0], orders)
    with pytest.raises(ValueError, match=r"boundary\(x\) is not finite at 1 boundary points"):
        solve_pde(bad_data, kernel=SquaredExponential(0.2), method="map")
