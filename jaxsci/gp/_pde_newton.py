"""The Gauss-Newton iteration shared by the collocation and MAP solvers of `solve_pde`.

Both solvers linearise the residual at the current solution, solve the linearised problem and
repeat. They differ only in the solve; the loop, its stopping rule and its report live here.
"""

from __future__ import annotations

import math
import warnings
from typing import Callable

import jax
import jax.numpy as jnp

from .._checks import checked_int

DEFAULT_STEPS = 20
"""Default largest number of Gauss-Newton steps of a nonlinear residual (collocation and MAP)."""

STALL_RATIO = 0.5
"""From the third step on, a step whose relative change exceeds this fraction of the previous
one ends the iteration: the changes stopped shrinking (the solves' noise floor, or no
convergence)."""


def relative_change(new, old):
    r"""$\|u_{new} - u_{old}\| / \|u_{new}\|$ (traceable)."""
    return jnp.linalg.norm(new - old) / jnp.maximum(jnp.linalg.norm(new), jnp.finfo(new.dtype).tiny)


def gauss_newton(step: Callable, state, *, max_steps: int, tol):
    r"""Run `state, change, exact = step(state)` at most `max_steps` times.

    `change` is the relative change of the solution in that step (`relative_change`) and `exact`
    (a Python bool) says that the step solved the equation exactly (an affine residual), which
    ends the iteration. Otherwise it ends once `change < tol`, at a non-finite change, or from
    the third step on once the change stops shrinking (`change > STALL_RATIO * previous
    change`): the iteration has reached the noise floor of its linear solves, or does not
    converge.

    Returns `(state, changes, converged)`: `changes` the per-step changes (an array, recorded as
    `history["gauss_newton_change"]`), `converged` whether the iteration ended exactly, below
    `tol`, stalled below $\sqrt{tol}$ (a floor, not a failure), or reached `max_steps` with an
    estimated error of the last iterate below `tol` (the last change times the last ratio of
    changes, $c_k^2 / c_{k-1}$: a contracting iteration's next change; Newton's 4th change
    3.8e-7 after 1.2e-3 leaves about 1e-10); `None` when the changes are traced (under `jit`
    the loop cannot stop early and runs all `max_steps`).
    """
    max_steps = checked_int(max_steps, f"gauss_newton_steps must be an integer >= 1, got {max_steps!r}")
    changes, values, converged = [], [], None
    for i in range(max_steps):
        state, change, exact = step(state)
        changes.append(change)
        if exact:
            converged = True
            break
        if isinstance(change, jax.core.Tracer):
            continue
        values.append(float(change))
        if not math.isfinite(values[-1]):
            converged = False
            break
        if values[-1] < tol:
            converged = True
            break
        if i >= 2 and not values[-1] <= STALL_RATIO * values[-2]:
            converged = values[-1] <= math.sqrt(tol)
            break
    else:
        if len(values) == max_steps:  # the limit: estimate the last iterate's error (see above)
            converged = len(values) >= 2 and values[-1] < values[-2] and values[-1] ** 2 / values[-2] < tol
    return state, jnp.stack(changes), converged


def warn_unconverged(converged, changes, max_steps: int, method: str, stacklevel: int = 3) -> None:
    """A `RuntimeWarning` when `gauss_newton` did not converge (never under `jit`), attributed
    to the frame `stacklevel` levels up (the caller of `solve_pde`)."""
    if converged is None or converged:
        return
    last = float(changes[-1])
    if not math.isfinite(last):
        why = "became"
    else:
        why = "reached" if changes.shape[0] == max_steps else "stopped shrinking at"
    warnings.warn(
        f"solve_pde(method={method!r}): Gauss-Newton did not converge: the relative change of the solution "
        f"{why} {last:.2e} after {changes.shape[0]} of at most gauss_newton_steps={max_steps} steps "
        "(history['gauss_newton_change'] has every step). Raise gauss_newton_steps, refine the grid, or "
        "start closer to the solution.",
        RuntimeWarning,
        stacklevel=stacklevel,
    )
