"""`solve_pde`: the GP-HM solver (Fang et al., ICLR 2024) with Kronecker structure."""

from __future__ import annotations

import math
from typing import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from .._checks import checked_int, runtime_check
from ._pde_collocation import MAX_OBSERVATIONS, at_most_second_order, is_affine_pointwise
from ._pde_collocation_fit import learn_window_kernels, solve_collocation, source_band, tracking_adam_step
from ._pde_kernels import default_kernels, from_log_domain, to_log_domain
from ._pde_map import gauss_newton_solve
from ._pde_newton import DEFAULT_STEPS, warn_unconverged
from ._pde_operators import (
    axis_cholesky,
    derivative_fields_by_solves,
    kron_cholesky_solve,
    kron_neg_log_prior,
)
from ._pde_problem import PDEProblem
from ._pde_solution import PDESolution

_METHODS = ("auto", "collocation", "window", "adam", "map")


def solve_pde(
    problem: PDEProblem,
    *,
    kernel="matern_cosine",
    num_components: int = 20,
    max_frequency: float | None = None,
    num_steps: int | None = None,
    learning_rate: float | None = None,
    u_learning_rate: float | None = None,
    key=None,
    method: str = "auto",
    init: str = "map",
    precisions: tuple[float, float] | None = None,
    boundary_residual: bool = False,
    learn_kernel: bool = True,
    select: str = "final",
    refine: bool = False,
    jitter: float | None = None,
    gauss_newton_steps: int | None = None,
    nugget: float | None = None,
    cg_tol: float | None = None,
    cg_maxiter: int = 1000,
    monitor: Callable[[PDESolution], jax.Array] | None = None,
    monitor_every: int = 100,
    window: int = 30,
) -> PDESolution:
    r"""Solve a PDE with a Gaussian process: GP collocation or GP-HM, on a tensor grid.

    Two formulations share the problem, the kernels and the solution object:

    - **Collocation** (`method="collocation"`, the default whenever the grid is small enough
      for a dense covariance, a few thousand points): the GP prior with product kernel
      $k = \prod_j k_j$ is conditioned on the equation itself, i.e. on observations
      $\sum_m c_m(x_i)\,\partial^m u(x_i) = y_i$ at every grid point and $u = g$ at the
      boundary points, with closed-form kernel-derivative covariance blocks (Kronecker products
      of Toeplitz matrices) and a relative nugget. Kernel parameters (mixture weights and
      lengthscales in the log domain, frequencies) are fitted by `num_steps` Adam steps on the
      exact negative log marginal likelihood of these observations, which involves only the
      source and boundary data. Nonlinear residuals are linearised at the current posterior
      mean (Gauss-Newton, at most `gauss_newton_steps`, default 20); the residual must be
      pointwise in $u$ and its derivatives (checked). This reaches the published GP-HM
      accuracy on the paper's 1D problems in seconds.
    - **GP-HM** (Fang et al. 2024; `method="adam"` or `"map"`; `"window"` fits the kernels by
      collocation on a block, then runs `"map"`): a
      Kronecker GP over grid values $U$; derivatives are $D_j^{(a)} U$ along axis $j$ with
      $D_j^{(a)} = K_j^{(a,0)} K_j^{-1}$ assembled from closed-form kernel derivatives. The
      objective (negative log joint of the reference formulation) is

    $$-\log\mathcal{N}(\mathrm{vec}\,U \mid 0, K_1\otimes\dots\otimes K_d)
      - \log\mathcal{N}(g \mid U_b, \tau_b^{-1} I) - \log\mathcal{N}(0 \mid r(U), \tau_r^{-1} I).$$

    - `method="adam"`: Adam jointly over $U$, the kernel parameters (positive parameters,
      such as mixture weights, in the log domain) and $\log\tau_b, \log\tau_r$.
      `init="map"` starts $U$ from the exact MAP/Gauss-Newton solve below with the initial
      kernels; `init="zeros"` starts from zero as the reference code does.
    - `method="map"`: kernels and precisions fixed; Gauss-Newton steps, each solving the
      normal equations by CG with Kronecker matrix-vector products and a Kronecker-eigenbasis
      preconditioner. One step is the exact MAP for linear PDEs, and the iteration stops
      there; a nonlinear residual is iterated until the solution converges (see
      `gauss_newton_steps`).

    - `method="window"` (for grids too large for dense collocation): the kernels are fitted
      by the collocation marginal likelihood of the equation on a central block of at most
      `window` points per axis (residual observations only, every $s$-th grid point with the
      largest stride $s$ that still resolves `max_frequency` with a margin; envelope
      lengthscales capped at the domain length; the boundary data and the solution never
      enter), then `method="map"` runs on the full grid with them. On the paper's 2D 200^2 problem this reaches 1.9e-6 in
      16-20 s.

    `refine=True` (Adam path) finishes with MAP/Gauss-Newton solves (`gauss_newton_steps`) in $U$
    at the learned kernels and precisions and keeps the result only if it lowers the training
    objective (for a linear PDE it is the exact minimiser in $U$).

    Model selection never uses the true solution: `select="final"` returns the last iterate,
    `select="min_loss"` the iterate with the smallest training objective.

    **Arguments:**

    - `problem`: a `PDEProblem`.
    - `kernel`: `"matern_cosine"`, `"spectral_mixture"`, one kernel Module used on every
      axis, or a sequence of one kernel per axis.
    - `num_components`, `max_frequency`: mixture size and the largest initial frequency
      (cycles per unit length, components evenly spaced up to it) for string kernels.
      Default: 0.6 of the grid's Nyquist frequency; for `"window"`, twice the highest
      frequency of the sine expansion of the source (and, on 2D/3D grids, of the boundary
      data along the boundary faces; modes above 1e-3 of the largest), at least
      two cycles per domain length and at most that default, so that a smooth source lets
      the window span the domain.
    - `method`: `"auto"` (for an equation of at most second order per axis, collocation
      when `grid points + boundary points <= 4000`; on larger grids `"window"` when the
      residual is pointwise and affine in $u$, otherwise `"adam"`), `"collocation"`,
      `"window"`, `"adam"` or `"map"`. Note that `num_steps` and `learning_rate` configure
      whichever fit runs (the marginal-likelihood fit of `"collocation"`/`"window"`, or
      GP-HM's Adam), and the Adam-only options (`init`, `u_learning_rate`, `refine`,
      `monitor`) act only on `"adam"`.
    - `window`: points per axis of the block that `method="window"` fits the kernels on
      (the block has at most 2048 points: on a 3D grid the default 30 becomes 12).
    - `num_steps`, `learning_rate`: Adam steps and step size (defaults: 50 and 0.05 for
      the marginal-likelihood fits of `"collocation"` and `"window"`, 1000 and 0.01 for
      GP-HM's joint fit).
    - `nugget`: the relative diagonal noise $\epsilon\,\mathrm{diag}(C)$ of the collocation
      covariance (defaults in float64: $10^{-12}$ for `"collocation"`, $10^{-10}$ for the
      window fit, whose kernels then serve the full-grid MAP; $10^{-4}$ in float32).
    - `u_learning_rate`: Adam step size of the grid values $U$ (default `learning_rate`).
      After `init="map"` a small value keeps Adam's sign-like first steps from undoing the
      MAP start while the kernels and precisions adapt.
    - `key`: optional PRNG key (`jax.random.key(seed)` or `jax.random.PRNGKey(seed)`); jitters
      the initial frequencies of the string kernels when given.
    - `precisions`: initial $(\tau_b, \tau_r)$ of the GP-HM paths, finite and positive. Default:
      $\tau_r = 10^8 / \overline{f^2}$ with $f$ the residual at $u = 0$ (the source), and
      $\tau_b = \max\big(10^8 / \max(\overline{g^2}, 1),\ 0.1\,\tau_r\,h^{-2a}\big)$ with $h$
      the smallest grid spacing and $a$ the equation's highest total derivative order: a
      boundary misfit weighs at least as much as the residual it causes at grid scale. Without
      the second term a smooth source let the residual term pull the solution off its
      boundary data (sin(pi x) sin(pi y) on 128^2: 1.3e-3 instead of 1.3e-6).
    - `boundary_residual`: whether GP-HM's residual term (`"map"`, `"adam"`, and `"window"`'s
      final solve) also covers the boundary points, as in the reference formulation. The
      default `False` leaves the boundary points to the Dirichlet term, as classical
      collocation does; the residual must still be finite there (it is evaluated on the whole
      grid and weighted by zero; a `ValueError` names the first non-finite point at $u = 0$).
      Guard a singular term both ways, `xs = jnp.where(x > 0, x, 1.0)` then
      `jnp.where(x > 0, ... / xs, 0.0)`; collocation drops an equation row that is zero.
      On `benchmarks/gp_pde.py` `False` wins 7 of the 9 MAP
      rows (the untrained-kernel MAPs go from 0.58-2.2 to 2-7e-3 in 1D, and from "CG does not
      converge" to 7e-4 at 200^2) and is within 1.4x on the other two, in fewer CG steps.
      With a very smooth kernel and a source that does not vanish on the boundary `True` can
      be better (`SquaredExponential(0.2)`, the tour's 2D Poisson problem on 20^2: 2.0e-6
      against 2.5e-5). Collocation conditions on the equation at every point either way.
    - `learn_kernel`: train the kernel parameters (otherwise they stay fixed).
    - `jitter`: relative diagonal jitter $\epsilon \ge 0$ (finite) of every $K_j$ (default
      $10^{-10}$ in float64, $10^{-5}$ in float32).
    - `gauss_newton_steps`: the largest number of Gauss-Newton steps (an integer $\ge 1$;
      default 20), for collocation and for the GP-HM MAP solves (`"map"`, `"window"`'s final
      solve, `init="map"`, `refine`). Each step linearises the residual at the current
      solution and solves the linearised problem. The steps stop after the first one when
      the linearisation does not move (an affine residual: that step was exact), once the
      relative change $\|U_{k+1} - U_k\| / \|U_{k+1}\|$ falls below the tolerance
      (`cg_tol`, or its default), or when the changes stop shrinking (from the third step on,
      a change above half the previous one: the linear solves' noise floor). Every step's
      change is recorded in `history["gauss_newton_change"]`. When the answer's iteration
      (collocation, `"map"`, `"window"`) ends without converging (the limit reached with an
      estimated remaining change $c_k^2 / c_{k-1}$ above the tolerance, or the changes
      stalled above $\sqrt{\text{tol}}$), a `RuntimeWarning` says so. Under `jit`
      the steps cannot stop early: all `gauss_newton_steps` run (one for an affine residual
      when the default is used).
    - `cg_tol`, `cg_maxiter`: stopping rule of the MAP solve's CG: max-norm residual at most
      `cg_tol` (finite, positive) times the right-hand side's (default $10^{-8}$ in float64,
      $10^{-4}$ in float32; the 1D dense solves ignore both), within `cg_maxiter` iterations
      (an integer, default 1000). `cg_tol` is also the Gauss-Newton tolerance on the relative
      change of the solution; for `"collocation"`, whose linear solves are dense, it is only
      that (defaults $10^{-12}$ and $10^{-6}$).
    - `monitor`, `monitor_every`: optional `monitor(solution) -> scalar`, recorded in
      `history["monitor"]` (for reporting only; never used for selection).

    **Returns:** a `PDESolution` (callable under `jit`, `vmap` and `grad` in the points).
    `solve_pde` itself is a driver (trace-time checks, Python-level setup) and is not meant
    to be wrapped in `jit`; its Adam loop and CG solves are compiled internally.

    **Raises:** `ValueError` for bad arguments (traced `precisions`, `jitter` or `cg_tol`
    are checked by `equinox.error_if` when the program runs), including a complex residual or
    boundary data, and a kernel that is not $a$ times
    mean-square differentiable (no derivative of order $2a$ at zero, e.g. `Matern32`) on an
    axis where the equation has derivatives of order $a \le 2$;
    `equinox.EquinoxRuntimeError` when the MAP solve that gives the answer (`"map"`, and
    `"window"`'s final solve) does not converge within `cg_maxiter` or is not finite. For
    example, float32 with a long-lengthscale smooth kernel on a fine 2D grid makes the kernel
    matrices numerically singular. (1D grids of up to 4096 points are solved densely,
    without CG.) A Gauss-Newton iteration that does not converge warns (`RuntimeWarning`, see
    `gauss_newton_steps`).

    **Example:**

    ```python
    import jax.numpy as jnp
    import jaxsci

    problem = jaxsci.gp.PDEProblem(
        [(0.0, 1.0)], [32],
        residual=lambda u, d, x: d[(2,)] + jnp.pi**2 * jnp.sin(jnp.pi * x[..., 0]),
        boundary=lambda x: jnp.zeros(x.shape[:-1]),
    )
    sol = jaxsci.gp.solve_pde(problem, kernel=jaxsci.gp.kernels.SquaredExponential(0.2), method="map")
    sol(jnp.array([[0.5]]))  # ~ 1.0 (1.004)
    sol = jaxsci.gp.solve_pde(problem, num_components=4, max_frequency=2.0, method="collocation")
    sol(jnp.array([[0.5]]))  # ~ 1.0, kernel learned by marginal likelihood
    ```

    References: Fang, Xu, Li, Kirby, Zhe, "Solving High Frequency and Multi-Scale PDEs with
    Gaussian Processes", ICLR 2024; Chen, Hosseini, Owhadi, Stuart, "Solving and learning
    nonlinear PDEs with Gaussian processes", J. Comput. Phys. 2021 (collocation, Gauss-Newton).
    """
    if not isinstance(problem, PDEProblem):
        raise TypeError(f"problem must be a PDEProblem, got {type(problem).__name__}")
    if method not in _METHODS:
        raise ValueError(f"method must be one of {_METHODS}, got {method!r}")
    if init not in ("map", "zeros"):
        raise ValueError(f"init must be 'map' or 'zeros', got {init!r}")
    if select not in ("final", "min_loss"):
        raise ValueError(f"select must be 'final' or 'min_loss', got {select!r}")
    if not isinstance(boundary_residual, bool):
        raise ValueError(f"boundary_residual must be True or False, got {boundary_residual!r}")
    _check_key(key)
    if gauss_newton_steps is not None:
        gauss_newton_steps = checked_int(
            gauss_newton_steps, f"gauss_newton_steps must be an integer >= 1, got {gauss_newton_steps!r}"
        )
    cg_maxiter = checked_int(cg_maxiter, f"cg_maxiter must be an integer >= 1, got {cg_maxiter!r}")
    monitor_every = checked_int(monitor_every, f"monitor_every must be a positive integer, got {monitor_every!r}")
    dtype = jnp.zeros(()).dtype
    jitter = _checked_real(jitter, "jitter", 1e-10 if dtype == jnp.float64 else 1e-5, allow_zero=True)
    if cg_tol is not None:
        cg_tol = _checked_real(cg_tol, "cg_tol", None)
    problem.check_residual(dtype)  # before anything evaluates the residual or the boundary data
    if method == "auto":
        if _fits_dense(problem):
            method = "collocation"
        else:  # the window fit + one MAP solve is exact for affine pointwise residuals only
            affine = _is_affine(problem, dtype)
            method = "window" if affine and at_most_second_order(problem) else "adam"
    by_likelihood = method in ("collocation", "window")
    if num_steps is None:
        num_steps = 50 if by_likelihood else 1000
    if learning_rate is None:
        learning_rate = 0.05 if by_likelihood else 1e-2
    min_steps = 1 if method == "adam" else 0  # GP-HM's Adam needs a step; "map" takes none
    num_steps = checked_int(
        num_steps, f"num_steps must be >= {min_steps} for method={method!r} (an integer), got {num_steps!r}", min_steps
    )
    learning_rate = _checked_real(learning_rate, "learning_rate", None, concrete=True)
    if u_learning_rate is not None:
        u_learning_rate = _checked_real(u_learning_rate, "u_learning_rate", None, concrete=True)
    fits_window = method == "window" and learn_kernel and num_steps > 0
    if fits_window and max_frequency is None and isinstance(kernel, str):
        band = source_band(problem, dtype)  # the window spans the domain when the source is smooth
        nyquist = min(0.5 / float(h) for h in problem.spacings)
        max_frequency = None if band is None else min(band, 0.6 * nyquist)
    kernels = default_kernels(kernel, problem, num_components, max_frequency, key, dtype)
    _check_smoothness(kernels, problem, dtype)
    if method == "collocation":
        nugget = _nugget(nugget, dtype, 1e-12)
        return solve_collocation(
            problem,
            kernels,
            num_steps=num_steps,
            learning_rate=learning_rate,
            learn_kernel=learn_kernel,
            select=select,
            nugget=nugget,
            gauss_newton_steps=DEFAULT_STEPS if gauss_newton_steps is None else gauss_newton_steps,
            tol=cg_tol if cg_tol is not None else (1e-12 if dtype == jnp.float64 else 1e-6),
            dtype=dtype,
        )
    if gauss_newton_steps is None:  # an affine residual stops after one (exact) step...
        # ...which needs concrete values: under jit the loop runs every step, so ask up front
        traced = isinstance(problem.points(dtype), jax.core.Tracer)
        gauss_newton_steps = 1 if traced and _is_affine(problem, dtype) else DEFAULT_STEPS
    taus = _initial_precisions(problem, precisions, dtype)
    u0 = jnp.zeros(problem.grid_sizes, dtype)
    history = {}
    if method == "window":
        window = checked_int(window, f"window must be an integer >= 3 (points per axis), got {window!r}", 3)
        nugget = _nugget(nugget, dtype, 1e-10)
        if fits_window:
            kernels, history["window_loss"] = learn_window_kernels(
                problem, kernels, window=window, max_frequency=max_frequency, num_steps=num_steps,
                learning_rate=learning_rate, nugget=nugget, select=select, dtype=dtype,
            )
        method = "map"
    if method == "map" or init == "map":
        u0, info = gauss_newton_solve(
            problem, kernels, u0, taus, jitter, num_steps=gauss_newton_steps, tol=cg_tol, maxiter=cg_maxiter,
            boundary_residual=boundary_residual,
        )
        converged, newton = info.pop("converged"), info.pop("newton_converged")
        history.update(info)
    if method == "map":
        # the MAP solve is the answer here: never return it silently unconverged or non-finite
        if not _traced(converged) and not bool(converged):
            newton = None  # the error below says more than the warning would
        warn_unconverged(newton, history["gauss_newton_change"], gauss_newton_steps, "map")
        u0 = runtime_check(u0, ~converged, _MAP_FAILED)
        return _solution(problem, kernels, u0, jnp.log(taus), jitter, history)
    params = (u0, tuple(to_log_domain(k) for k in kernels) if learn_kernel else kernels, jnp.log(taus))
    trainable = (True, _kernel_spec(params[1], learn_kernel), True)
    rates = (learning_rate if u_learning_rate is None else u_learning_rate, learning_rate)
    params, record = _adam(
        problem, params, trainable, jitter, num_steps, rates, select, monitor, monitor_every, boundary_residual
    )
    u, kernels, log_taus = params
    kernels = from_log_domain(kernels)
    history.update(record)
    if refine:
        refined, info = gauss_newton_solve(
            problem, kernels, u, jnp.exp(log_taus), jitter, num_steps=gauss_newton_steps, tol=cg_tol,
            maxiter=cg_maxiter, boundary_residual=boundary_residual,
        )
        before, after = (pde_objective(problem, v, kernels, log_taus, jitter, boundary_residual) for v in (u, refined))
        history["refine_objective"] = jnp.stack([before, after])
        u = jnp.where(after < before, refined, u)
    return _solution(problem, kernels, u, log_taus, jitter, history)


_MAP_FAILED = (
    "solve_pde: the MAP solve failed: CG did not reach cg_tol within cg_maxiter steps, or the "
    "result is not finite. Raise cg_maxiter, loosen cg_tol, use float64, or choose a kernel "
    "whose matrices are better conditioned on this grid (a shorter lengthscale)."
)


def pde_objective(problem: PDEProblem, u, kernels, log_precisions, jitter: float, boundary_residual: bool = False):
    """The GP-HM negative log joint (prior + boundary + residual terms) at grid values `u`; the
    residual term covers the interior points only when `boundary_residual` is False."""
    dtype = u.dtype
    sizes, spacings = problem.grid_sizes, problem.spacings
    chols = [axis_cholesky(k, n, h, jitter) for k, n, h in zip(kernels, sizes, spacings)]
    x = problem.points(dtype)
    r = problem.residual(u, derivative_fields_by_solves(u, kernels, problem, chols), x)
    mask = problem.boundary_mask()
    g = jnp.where(mask, problem.boundary(x), 0.0)
    nb, nr = problem.num_boundary, r.size
    if not boundary_residual:
        r, nr = jnp.where(mask, 0.0, r), nr - nb
    tau_b, tau_r = jnp.exp(log_precisions[0]), jnp.exp(log_precisions[1])
    boundary = 0.5 * tau_b * jnp.sum(jnp.where(mask, u - g, 0.0) ** 2) - 0.5 * nb * log_precisions[0]
    residual = 0.5 * tau_r * jnp.sum(r**2) - 0.5 * nr * log_precisions[1]
    return kron_neg_log_prior(chols, u) + boundary + residual


@eqx.filter_jit
def _adam(problem, params, trainable, jitter, num_steps, rates, select, monitor, monitor_every, boundary_residual):
    train, frozen = eqx.partition(params, trainable)
    labels = jax.tree.map(lambda _: "rest", train)
    labels = (jax.tree.map(lambda _: "u", train[0]), labels[1], labels[2])
    optimiser = optax.multi_transform({"u": optax.adam(rates[0]), "rest": optax.adam(rates[1])}, labels)
    state = optimiser.init(train)

    def loss_fn(train):
        u, kernels, log_taus = eqx.combine(train, frozen)
        return pde_objective(problem, u, from_log_domain(kernels), log_taus, jitter, boundary_residual)

    step = tracking_adam_step(loss_fn, optimiser)

    def chunk(carry, _):
        carry, losses = jax.lax.scan(step, carry, None, length=monitor_every)
        value = jnp.nan
        if monitor is not None:
            u, kernels, log_taus = eqx.combine(carry[0], frozen)
            value = monitor(_solution(problem, from_log_domain(kernels), u, log_taus, jitter, {}))
        return carry, (losses, value)

    carry = (train, state, train, jnp.asarray(jnp.inf, params[0].dtype))
    chunks, rest = divmod(num_steps, monitor_every)
    carry, (losses, values) = jax.lax.scan(chunk, carry, None, length=chunks)
    losses = losses.reshape(-1)
    if rest:
        carry, tail = jax.lax.scan(step, carry, None, length=rest)
        losses = jnp.concatenate([losses, tail])
    final_loss = loss_fn(carry[0])
    losses = jnp.concatenate([losses, final_loss[None]])
    better = final_loss < carry[3]
    best = jax.tree.map(lambda a, b: jnp.where(better, a, b), carry[0], carry[2])
    chosen = best if select == "min_loss" else carry[0]
    record = {"loss": losses}
    if monitor is not None:
        record["monitor"] = values
        record["monitor_steps"] = monitor_every * jnp.arange(1, chunks + 1)
    return eqx.combine(chosen, frozen), record


def _solution(problem, kernels, u, log_taus, jitter, history):
    chols = [axis_cholesky(k, n, h, jitter) for k, n, h in zip(kernels, problem.grid_sizes, problem.spacings)]
    weights = kron_cholesky_solve(chols, u)
    return PDESolution(tuple(kernels), problem.axes(u.dtype), u, (weights,), jnp.exp(log_taus), history)


def _nugget(nugget, dtype, default64: float) -> float:
    """The relative nugget of the marginal-likelihood fits: the given one (positive), else
    `default64` in float64 and 1e-4 in float32."""
    return _checked_real(nugget, "nugget", default64 if dtype == jnp.float64 else 1e-4, concrete=True)


def _traced(value) -> bool:
    return any(isinstance(leaf, jax.core.Tracer) for leaf in jax.tree.leaves(value))


def _checked_real(value, name: str, default, *, allow_zero: bool = False, concrete: bool = False):
    """`value` (or `default` when it is None) as a Python float that is finite and positive (or
    non-negative, `allow_zero`), else a `ValueError` naming `name`. A traced scalar (unless
    `concrete`, for options read in Python) is returned as an array that raises the same
    message through `runtime_check` (`equinox.error_if`) when the program runs."""
    value = default if value is None else value
    bound = "non-negative" if allow_zero else "positive"
    message = f"{name} must be a finite {bound} real number, got {value!r}"
    if _traced(value) and concrete:
        raise ValueError(f"{name} must be a concrete number, not a traced value: got {value!r}")
    if _traced(value):
        array = jnp.asarray(value)
        if array.shape != () or not jnp.issubdtype(array.dtype, jnp.floating):
            raise ValueError(message)
        bad = ~jnp.isfinite(array) | ((array < 0) if allow_zero else (array <= 0))
        return runtime_check(array, bad, message)
    try:
        array = np.asarray(value)
        number = float(array) if array.shape == () and array.dtype.kind in "iuf" else None
    except (TypeError, ValueError):
        number = None
    if number is None or not math.isfinite(number) or number < 0 or (number == 0 and not allow_zero):
        raise ValueError(message)
    return number


def _check_key(key) -> None:
    """A `ValueError` naming `key` unless it is None or one PRNG key (`jax.random.key(seed)`, or
    the raw `jax.random.PRNGKey(seed)`)."""
    if key is None:
        return
    try:
        jax.eval_shape(lambda k: jax.random.split(k, 2), key)
    except (TypeError, ValueError):
        raise ValueError(
            f"key must be a single PRNG key, e.g. jax.random.key(0) or jax.random.PRNGKey(0), got {key!r}"
        ) from None


def _is_affine(problem, dtype) -> bool:
    """`is_affine_pointwise`, evaluated eagerly even when `solve_pde` is traced (it depends only
    on the problem, never on traced arguments)."""
    with jax.ensure_compile_time_eval():
        return is_affine_pointwise(problem, dtype)


def _fits_dense(problem) -> bool:
    count = math.prod(problem.grid_sizes) + problem.num_boundary
    return count <= MAX_OBSERVATIONS // 3 and at_most_second_order(problem)


def _initial_precisions(problem, precisions, dtype):
    if precisions is None:
        # Scale-free default: misfits are weighted relative to the source's magnitude.
        x = problem.points(dtype)
        u = jnp.zeros(problem.grid_sizes, dtype)
        zero = {m: u for m in problem.derivatives}
        scale = jnp.maximum(jnp.mean(problem.residual(u, zero, x) ** 2), jnp.finfo(dtype).eps)
        bscale = jnp.maximum(jnp.mean(problem.boundary(x) ** 2), 1.0)
        tau_r = 1e8 / scale
        # The boundary misfit is weighed against the residual misfit it causes at grid scale:
        # tau_b >= 0.1 tau_r / h^(2a) for an equation of total order a (the residual is u / h^a
        # in units). A smooth source (small f^2) otherwise lets the residual term pull the
        # solution off the boundary data: 1e-3 errors where 1e-6 is reachable.
        # (Capped well below overflow: a zero source of a high-order equation on a fine float32
        # grid would otherwise make tau_b infinite.)
        order = max((sum(m) for m in problem.derivatives), default=0)
        grid_scale = min(problem.spacings) ** (-2 * order)
        tau_b = jnp.minimum(jnp.maximum(1e8 / bscale, 0.1 * grid_scale * tau_r), 1e-6 * jnp.finfo(dtype).max)
        return jnp.stack([tau_b, tau_r]).astype(dtype)
    message = f"precisions must be a pair of finite positive numbers (boundary, residual), got {precisions!r}"
    if _traced(precisions):
        taus = jnp.asarray(precisions, dtype)
        if taus.shape != (2,) or not jnp.issubdtype(taus.dtype, jnp.floating):
            raise ValueError(message)
        return runtime_check(taus, ~jnp.all(jnp.isfinite(taus) & (taus > 0)), message)
    try:
        taus = np.asarray(precisions)
    except (TypeError, ValueError):
        raise ValueError(message) from None
    if taus.shape != (2,) or taus.dtype.kind not in "iuf" or not np.all(np.isfinite(taus) & (taus > 0)):
        raise ValueError(message)
    return jnp.asarray(taus, dtype)


def _check_smoothness(kernels, problem, dtype) -> None:
    """A `ValueError` naming `kernel` when an axis kernel has no derivative of order 2a at
    zero for an equation of order a <= 2 on that axis: its sample paths then have no
    mean-square derivative of order a, and the solve returns a wrong answer (Matern32 on
    u'' = f: errors of 0.9-1 however fine the grid). Orders above 2 are left to the kernels."""
    for j, k in enumerate(kernels):
        a = max((m[j] for m in problem.derivatives), default=0)
        if 0 < a <= 2 and hasattr(k, "profile"):
            try:
                k.profile(jnp.zeros((), dtype), 2 * a)
            except ValueError as err:
                raise ValueError(
                    f"kernel {type(k).__name__} on axis {j} is not {a} times mean-square differentiable, "
                    f"which derivatives of order {a} need ({err}). Use a smoother kernel, e.g. Matern52, "
                    "SquaredExponential or the default 'matern_cosine'."
                ) from None


def _kernel_spec(kernels, learn):
    return jax.tree.map(lambda a: bool(learn) and eqx.is_inexact_array(a), kernels)
