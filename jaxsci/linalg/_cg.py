"""Conjugate gradients through `lineax.linear_solve` (implicit gradients, no unrolling)."""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import lineax as lx
import numpy as np
from jaxtyping import PyTree
from .._checks import checked_int, runtime_check, varies_over_devices

_TAGS = frozenset({lx.symmetric_tag, lx.positive_semidefinite_tag})


def _as_operator(operator_or_matvec, like, name):
    if isinstance(operator_or_matvec, lx.AbstractLinearOperator):
        if like is not None:
            raise ValueError(f"`like` must be None when `{name}` is a lineax operator")
        return lx.TaggedLinearOperator(operator_or_matvec, _TAGS)
    if not callable(operator_or_matvec):
        kind = type(operator_or_matvec).__name__
        raise TypeError(f"`{name}` must be a callable or a lineax.AbstractLinearOperator, got {kind}")
    return lx.FunctionLinearOperator(operator_or_matvec, like, _TAGS)


def cg(
    operator_or_matvec,
    b: PyTree,
    *,
    preconditioner=None,
    tol: float = 1e-6,
    maxiter: int | None = None,
    like: PyTree | None = None,
) -> PyTree:
    r"""Solve $A x = b$ for symmetric positive definite $A$ by (preconditioned) CG.

    A thin layer over `lineax.linear_solve(..., lineax.CG(...))`: the operator is tagged
    symmetric positive semidefinite, a callable is wrapped in a
    `lineax.FunctionLinearOperator`, and gradients (with respect to $b$ and to anything the
    operator closes over) come from lineax's implicit rule, a second CG solve, never from
    differentiating the iterations.

    **Arguments:**

    - `operator_or_matvec`: a lineax operator or a callable `v -> A v` on pytrees.
    - `b`: the right-hand side (a pytree).
    - `preconditioner`: a lineax operator or callable approximating $A^{-1}$ (SPD).
    - `tol`: stop when every residual component satisfies
        $|r_i| \le \text{tol}\,(1 + |b_i|)$ (lineax's `rtol = atol = tol`). A real scalar
        > 0: a Python or NumPy number, or a JAX array, which may be traced (a jit argument,
        checked when the program runs; no gradient flows into it).
    - `maxiter`: maximum iterations (default: lineax's $10n$); exceeding it raises.
    - `like`: the structure of $x$ (default: that of `b`; must be `None` for operators).

    **Returns:**

    The solution $x$, a pytree like `b` (solved in the leaves' common dtype, at least float32,
    and cast back leaf by leaf). A NaN or inf in the operator, `b` or the
    preconditioner raises an error when the program runs (`equinox.error_if`) instead of
    returning lineax's $x = 0$ or a NaN.

    **Example:**

    ```python
    import jax.numpy as jnp
    from jaxsci.linalg import cg

    a = jnp.array([[4.0, 1.0], [1.0, 3.0]])
    x = cg(lambda v: a @ v, jnp.array([1.0, 2.0]), tol=1e-8)
    ```

    Reference: Hestenes & Stiefel, "Methods of conjugate gradients for solving linear
    systems", J. Res. Nat. Bur. Standards 49 (1952).
    """
    tol = _check_tol(tol)
    if maxiter is not None:
        maxiter = checked_int(maxiter, f"`maxiter` must be a positive int or None, got {maxiter!r}")
    if like is None and not isinstance(operator_or_matvec, lx.AbstractLinearOperator):
        like = jax.eval_shape(lambda: b)
    operator = _as_operator(operator_or_matvec, like, "operator_or_matvec")
    if jax.tree.structure(operator.in_structure()) != jax.tree.structure(b) or any(
        s.shape != jax.numpy.shape(x)
        for s, x in zip(jax.tree.leaves(operator.in_structure()), jax.tree.leaves(b))
    ):
        raise ValueError(f"`b` must match the operator's structure {operator.in_structure()}")
    structure = operator.in_structure()
    options = {}
    if preconditioner is not None:
        given = None if isinstance(preconditioner, lx.AbstractLinearOperator) else structure
        options["preconditioner"] = _as_operator(preconditioner, given, "preconditioner")
    # One working dtype: lineax's CG combines the leaves, which promotes a mixed pytree (float32
    # weights with bfloat16 ones) and then fails its own structure check. Solving in the
    # promoted dtype is also the more accurate choice; the solution is cast back leaf by leaf.
    # At least float32: in bfloat16 or float16 CG cannot reach its tolerance (lineax's iterates
    # turn NaN), so half-precision systems (e.g. bfloat16 parameters in `damped_solve`) are
    # solved in float32.
    common = jnp.result_type(*jax.tree.leaves(structure), *jax.tree.leaves(b))
    if not jnp.issubdtype(common, jnp.inexact):
        common = jnp.result_type(common, float)
    common = jnp.promote_types(common, jnp.float32)
    exact = all(x.dtype == common for x in jax.tree.leaves(structure))
    if not exact:
        operator = _in_dtype(operator, structure, common)
        options = {name: _in_dtype(op, structure, common) for name, op in options.items()}
    b = jax.tree.map(lambda x: jnp.asarray(x, common), b)
    if isinstance(tol, jax.Array):  # traced: no derivative, and the working dtype
        tol = jnp.asarray(jax.lax.stop_gradient(tol), common)
    solver = lx.CG(rtol=tol, atol=tol, max_steps=maxiter)
    solution = lx.linear_solve(operator, b, solver, options=options)
    x = _check_solution(solution, b, tol)
    return x if exact else jax.tree.map(lambda v, s: v.astype(s.dtype), x, structure)


def _check_tol(tol):
    """`tol` as a Python float when concrete (finite and > 0, else `ValueError`), or, when traced,
    as an array checked with `equinox.error_if` when the program runs."""
    message = "`tol` must be a positive float (finite, > 0)"
    dtype = getattr(tol, "dtype", None)
    if dtype is None and isinstance(tol, (int, float)) and not isinstance(tol, bool):
        dtype = np.result_type(tol)
    real = dtype is not None and dtype != bool
    if not (real and (jnp.issubdtype(dtype, jnp.floating) or jnp.issubdtype(dtype, jnp.integer))):
        raise ValueError(f"{message}, got {tol!r}")
    if jnp.ndim(tol) != 0:
        raise ValueError(f"`tol` must be a scalar, got shape {jnp.shape(tol)}")
    if isinstance(tol, jax.core.Tracer):
        return runtime_check(tol, ~(jnp.isfinite(tol) & (tol > 0)), message + ".")
    value = float(tol)  # concrete: a Python float keeps lineax's own path for number tolerances
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{message}, got {tol!r}.")
    return value


def _check_solution(solution, b, tol):
    r"""`solution.value`, with a runtime error if CG returned an answer that is no solution.

    lineax's CG starts from $x_0 = 0$ and iterates while $\gamma = r^\top M r > 0$: a NaN in
    the operator, in `b` or in the preconditioner makes $\gamma_0$ NaN, so it stops after zero
    steps and reports success with $x = 0$ (a NaN later in the iterations gives a NaN $x$). Zero
    steps are right only when $x = 0$ already meets the tolerance, $|b_i| \le
    \text{tol}\,(1 + |b_i|)$, so anything else is an error; no extra product is needed.
    """
    x = solution.value
    small = jnp.all(jnp.stack([jnp.all(jnp.abs(v) <= tol * (1 + jnp.abs(v))) for v in jax.tree.leaves(b)]))
    stalled = (solution.stats["num_steps"] == 0) & ~small
    finite = jnp.all(jnp.stack([jnp.all(jnp.isfinite(v)) for v in jax.tree.leaves(x)]))
    message = (
        "cg: no solution found (CG stopped at a non-finite value or could not start): the operator, `b` or the "
        "preconditioner holds a NaN or inf, or the operator (or the damping) is not positive definite."
    )
    return runtime_check(x, stalled | ~finite, message)


def _in_dtype(operator, structure, dtype):
    """`operator` (acting on `structure`) as an operator on the same shapes in one `dtype`."""

    def mv(v):
        own = jax.tree.map(lambda x, s: x.astype(s.dtype), v, structure)
        return jax.tree.map(lambda y: jnp.asarray(y, dtype), operator.mv(own))

    common = jax.tree.map(lambda s: jax.ShapeDtypeStruct(s.shape, dtype), structure)
    return lx.FunctionLinearOperator(mv, common, _TAGS)


def robust_cg(matvec, b, preconditioner, tol: float, maxiter: int):
    r"""Preconditioned CG on flat arrays that never returns NaN: a private helper for `jaxsci.gp`.

    Stops when $\|r\|_2 \le \text{tol}\,\|b\|_2$, after `maxiter` steps, or at a breakdown
    ($p^\top A p \le 0$ or a non-finite step, which rounding produces once CG stagnates in
    float32), and returns the iterate with the smallest residual seen. Gradients (in `b` and
    in whatever `matvec` closes over) are implicit, through `jax.lax.custom_linear_solve`
    with the same solver, never through the iterations (except on per-device values inside
    `shard_map`, see below).
    """

    def solve(mv, rhs):
        tiny = jnp.finfo(rhs.dtype).tiny
        stop = tol * jnp.linalg.norm(rhs)

        def cond(state):
            _, _, r, _, _, _, _, step, alive = state
            return alive & (step < maxiter) & (jnp.linalg.norm(r) > stop)

        def body(state):
            x, best, r, p, gamma, best_norm, _, step, _ = state
            ap = mv(p)
            curvature = p @ ap
            ok = (curvature > tiny) & jnp.isfinite(curvature)
            alpha = jnp.where(ok, gamma / jnp.where(ok, curvature, 1.0), 0.0)
            x_new = x + alpha * p
            r_new = r - alpha * ap
            z = preconditioner(r_new)
            gamma_new = r_new @ z
            ok = ok & jnp.isfinite(gamma_new) & (gamma_new > 0)
            norm = jnp.linalg.norm(r_new)
            better = ok & (norm < best_norm)
            best = jnp.where(better, x_new, best)
            best_norm = jnp.where(better, norm, best_norm)
            beta = jnp.where(ok, gamma_new / jnp.where(gamma > 0, gamma, 1.0), 0.0)
            p = jnp.where(ok, z + beta * p, p)
            x = jnp.where(ok, x_new, x)
            r = jnp.where(ok, r_new, r)
            return x, best, r, p, jnp.where(ok, gamma_new, gamma), best_norm, norm, step + 1, ok

        z0 = preconditioner(rhs)
        zero = jnp.zeros_like(rhs)
        norm0 = jnp.linalg.norm(rhs)
        # `alive` derived from the data (not a constant): inside shard_map it must vary like the rest.
        state = (zero, zero, rhs, z0, rhs @ z0, norm0, norm0, 0, norm0 >= 0)
        return jax.lax.while_loop(cond, body, state)[1]

    if varies_over_devices(b):
        # Inside shard_map, JAX 0.10 fails to lower custom_linear_solve on per-device values
        # (a pvary applied twice); the plain loop there gives values and forward-mode
        # derivatives, not reverse-mode ones.
        return solve(matvec, b)
    return jax.lax.custom_linear_solve(matvec, b, solve, symmetric=True)
