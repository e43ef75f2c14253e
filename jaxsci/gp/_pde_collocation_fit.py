"""The collocation driver of `solve_pde`: marginal-likelihood fit, then Gauss-Newton solves."""

from __future__ import annotations

import collections
import math

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
import optax

from ._pde_collocation import (
    active,
    boundary_indices,
    check_pointwise,
    check_size,
    grid_field,
    linearise,
    neg_log_marginal,
    representer_weights,
    require_at_most_second_order,
    zero_index,
)
from ._pde_kernels import cap_envelope, from_log_domain, to_log_domain
from ._pde_newton import gauss_newton, relative_change, warn_unconverged
from ._pde_problem import face_mask
from ._pde_solution import PDESolution


def solve_collocation(
    problem,
    kernels,
    *,
    num_steps: int,
    learning_rate: float,
    learn_kernel: bool,
    select: str,
    nugget: float,
    gauss_newton_steps: int,
    tol: float,
    dtype,
) -> PDESolution:
    """Fit the kernels by marginal likelihood at the first linearisation, then iterate Gauss-Newton
    (`_pde_newton.gauss_newton`: at most `gauss_newton_steps` steps, until the relative change of
    the solution is below `tol`; one step when the linearisation does not move)."""
    check_size(problem)
    x, fields, coeffs, target = _equation_at_zero(problem, dtype)
    bidx = boundary_indices(problem)
    g = problem.boundary(x).reshape(-1)[bidx]
    history = {}
    if learn_kernel and num_steps > 0:
        y = jnp.concatenate([g, target.reshape(-1)])
        params = tuple(to_log_domain(k) for k in kernels)  # concrete checks: outside jit
        kernels, history["loss"] = _learn(
            problem, params, coeffs, jnp.asarray(bidx), nugget, y, num_steps, learning_rate, select
        )
    bidx = jnp.asarray(bidx)

    def step(state):
        fields, coeffs, target, _ = state
        y = jnp.concatenate([g, target.reshape(-1)])
        solution, value = _solve(problem, tuple(kernels), coeffs, bidx, nugget, y)
        history["neg_log_marginal"] = value
        new_fields, new_coeffs, target, change = _relinearise(problem, solution, fields, x)
        # the linearisation did not move: the equation is linear in u, the solve was exact
        exact = set(active(new_coeffs)) <= set(coeffs) and all(
            bool(jnp.allclose(new_coeffs[m], coeffs.get(m, 0.0), rtol=0.0, atol=0.0)) for m in new_coeffs
        )
        coeffs = {m: c for m, c in new_coeffs.items() if m in coeffs or bool(jnp.any(c != 0))}
        return (new_fields, coeffs, target, solution), change, exact

    (_, _, _, solution), changes, converged = gauss_newton(
        step, (fields, coeffs, target, None), max_steps=gauss_newton_steps, tol=tol
    )
    history["gauss_newton_change"] = changes
    warn_unconverged(converged, changes, gauss_newton_steps, "collocation", stacklevel=4)
    return eqx.tree_at(lambda s: s.history, solution, history)


def _equation_at_zero(problem, dtype):
    """The grid points, zero fields, and the residual's active coefficients and target at $u = 0$
    (checked: pointwise, and depending on $u$ or a derivative)."""
    check_pointwise(problem, dtype)
    x = problem.points(dtype)
    zeros = jnp.zeros(problem.grid_sizes, dtype)
    fields = {zero_index(problem.ndim): zeros, **{m: zeros for m in problem.derivatives}}
    coeffs, target = linearise(problem, fields, x)
    coeffs = active(coeffs)
    if not coeffs:
        raise ValueError("the residual does not depend on u or its derivatives at u = 0; nothing to solve")
    return x, fields, coeffs, target


@eqx.filter_jit
def _solve(problem, kernels, coeffs, bidx, nugget, y):
    value, chol = neg_log_marginal(kernels, problem, coeffs, bidx, nugget, y)
    weights = representer_weights(problem, coeffs, bidx, chol, y)
    sources = tuple(sorted(weights))
    axes = problem.axes(y.dtype)
    weights = tuple(weights[m] for m in sources)
    values = grid_field(problem, kernels, sources, weights, zero_index(problem.ndim))
    return PDESolution(kernels, axes, values, weights, None, {}, sources), value


MAX_WINDOW_OBSERVATIONS = 2048
"""Largest block of `method="window"` (its dense covariance is factorised at every Adam step)."""


def window_sizes(grid_sizes, window: int) -> tuple[int, ...]:
    """At most `window` points per axis, and at most `MAX_WINDOW_OBSERVATIONS` in all (the largest
    axes shrink first: a 30^3 request on a 3D grid becomes 12^3)."""
    sizes = [min(int(window), n) for n in grid_sizes]
    while math.prod(sizes) > MAX_WINDOW_OBSERVATIONS:
        j = max(range(len(sizes)), key=lambda i: sizes[i])
        sizes[j] -= 1
    return tuple(sizes)


ALIAS_MARGIN = 0.8
"""`window_strides` keeps `max_frequency` below this fraction of the block's Nyquist frequency
(room for the components' spectral width)."""


def window_strides(grid_sizes, spacings, block_sizes, max_frequency) -> tuple[int, ...]:
    """Per axis, the coarsest whole-number multiple $s$ of the grid spacing whose Nyquist
    frequency $1/(2sh)$ still exceeds `max_frequency` (cycles per unit length) by the factor
    `1 / ALIAS_MARGIN`, so the block spans as much of the axis as it can without aliasing the
    kernels' band, and at most $(n - 1) / (w - 1)$ so the block fits in the grid; 1 when
    `max_frequency` is None."""
    if max_frequency is not None and not float(max_frequency) > 0:
        raise ValueError(f"max_frequency must be positive, got {max_frequency}")
    out = []
    for n, h, w in zip(grid_sizes, spacings, block_sizes):
        s = 1 if max_frequency is None else int(math.floor(ALIAS_MARGIN * 0.5 / (float(h) * float(max_frequency))))
        out.append(max(1, min(s, (n - 1) // max(w - 1, 1))))
    return tuple(out)


BAND_FLOOR = 1e-3
"""`source_band` keeps the sine modes whose amplitude is at least this fraction of the largest."""


def source_band(problem, dtype) -> float | None:
    r"""The band (cycles per unit length) of the equation's data on the full grid, for
    `method="window"` when no `max_frequency` is given; None when the source is zero.

    Along every axis, the lines of the source $f$ (the residual at $u = 0$, negated), and on a
    grid of two or more axes the boundary lines of the Dirichlet data $g$ (lines along the axis
    that lie on a face of another axis), minus their linear interpolant between the two ends
    (and, in a second expansion, minus a cubic that also removes the curvature at the ends;
    see `_line_band`), are expanded in sines (an FFT of the odd extension, so a smooth
    non-periodic line has no jump and a fast-decaying spectrum). With $k$ the highest sine mode whose amplitude, summed
    over the lines, is at least `BAND_FLOOR` of the largest, the band is twice its frequency
    $k/(2L)$ ($L$ the axis length), at least two cycles per domain length, and the largest over
    the axes and the two data sets. A band far below the grid's Nyquist frequency lets the
    window take every $s$-th point and span the domain; the default band of the string kernels,
    0.6 of Nyquist, confines it to a `window`-point block: on a 128x128 grid with a smooth
    source the fitted kernels then made the full-grid MAP solve fail.
    """
    x, _, _, target = _equation_at_zero(problem, dtype)
    f = np.asarray(target).reshape(problem.grid_sizes)
    if not np.any(f):
        return None
    g = np.asarray(problem.boundary(x)).reshape(problem.grid_sizes) if problem.ndim > 1 else None
    band = 0.0
    for j, (n, h) in enumerate(zip(problem.grid_sizes, problem.spacings)):
        if n < 3:
            continue
        length = (n - 1) * float(h)
        band = max(band, _line_band(np.moveaxis(f, j, 0).reshape(n, -1), length), 2.0 / length)
        if g is not None:
            on_face = face_mask([m for i, m in enumerate(problem.grid_sizes) if i != j]).reshape(-1)
            band = max(band, _line_band(np.moveaxis(g, j, 0).reshape(n, -1)[:, on_face], length))
    return band


def _line_band(lines, length: float) -> float:
    """Twice the frequency of the highest sine mode of the columns of `lines` whose summed
    amplitude is at least `BAND_FLOOR` of the largest.

    Each column first loses its linear interpolant between the ends, so that its odd extension
    is continuous. A line whose second derivative is not zero at the ends (a cosine, an
    exponential) still has an odd extension with a jump in the second derivative, and sine
    amplitudes that decay only like $k^{-3}$: cos(2 pi x) gave a band of 13 instead of 2.
    So a second expansion also removes the cubic with those end second derivatives (one-sided
    five-point differences), which leaves a $k^{-5}$ decay. Both expansions are thresholded
    against the largest amplitude of the first, and the smaller band is taken: a poor
    difference estimate (an under-resolved line) can neither raise the band nor, by adding a
    large smooth cubic, hide high modes under a raised threshold.
    """
    if np.iscomplexobj(lines):
        lines = np.concatenate([lines.real, lines.imag], axis=1)
    eps = np.finfo(lines.dtype).eps if np.issubdtype(lines.dtype, np.floating) else 0.0
    lines = lines.astype(np.float64)
    n = lines.shape[0]
    t = np.linspace(0.0, 1.0, n)[:, None]
    a = lines - (lines[:1] * (1 - t) + lines[-1:] * t)
    amp = _sine_amplitudes(a)
    # A constant or linear line leaves round-off only, whose flat spectrum would read as a band
    # at Nyquist (f = 0.3 on 96 points gave 94): amplitudes at round-off level mean no modes.
    noise = 100.0 * max(eps, np.finfo(np.float64).eps) * n * np.sqrt(np.sum(np.max(np.abs(lines), axis=0) ** 2))
    if not amp.max() > noise:
        return 0.0
    floor = BAND_FLOOR * amp.max()
    top = np.nonzero(amp >= floor)[0].max()
    if n >= 8:
        stencil = np.array([35.0, -104.0, 114.0, -56.0, 11.0]) * (n - 1) ** 2 / 12.0  # d^2/dt^2 at an end
        s0, s1 = stencil @ a[:5], stencil @ a[::-1][:5]
        cubic = s0 * ((1 - t) ** 3 - (1 - t)) / 6.0 + s1 * (t**3 - t) / 6.0  # zero at the ends
        above = np.nonzero(_sine_amplitudes(a - cubic) >= floor)[0]
        top = min(top, above.max() if above.size else 0)  # none left: the line was a cubic
    return 2.0 * top / (2.0 * length)


def _sine_amplitudes(a):
    """Sine-mode amplitudes of the odd extensions of the columns of `a` (each zero at both
    ends), as a root sum of squares over the columns."""
    return np.sqrt(np.sum(np.abs(np.fft.rfft(np.concatenate([a, -a[-2:0:-1]]), axis=0)) ** 2, axis=1))


_Window = collections.namedtuple("_Window", "grid_sizes spacings ndim")
"""The geometry `neg_log_marginal` needs: a sub-grid of `grid_sizes` points at `spacings`."""


def learn_window_kernels(problem, kernels, *, window: int, max_frequency, num_steps: int, learning_rate: float,
                         nugget: float, select: str, dtype):
    r"""Fit the kernels by the exact collocation marginal likelihood of the equation on a window.

    The residual is linearised at $u = 0$ on the full grid; its coefficient fields and source
    are cut to a central block of at most `window` points per axis (and at most
    `MAX_WINDOW_OBSERVATIONS` in all; `window_sizes`), taking every $s_j$-th grid point along
    axis $j$ with $s_j$ from `window_strides` (the block spans more of the domain when the
    kernels' band, `max_frequency`, is far below the grid's Nyquist frequency), and the kernels
    maximise the marginal likelihood of those equation observations alone, with envelope
    lengthscales capped at the full grid's extent per axis (`cap_envelope`). Neither the
    boundary data nor the solution enters, and the cost does not grow with the grid. Returns
    `(kernels, losses)`.
    """
    require_at_most_second_order(problem, "window")
    _, _, coeffs, target = _equation_at_zero(problem, dtype)
    sizes = window_sizes(problem.grid_sizes, window)
    strides = window_strides(problem.grid_sizes, problem.spacings, sizes, max_frequency)
    reach = [(w - 1) * s + 1 for w, s in zip(sizes, strides)]  # grid points covered per axis
    block = tuple(slice((n - a) // 2, (n - a) // 2 + a, s) for n, a, s in zip(problem.grid_sizes, reach, strides))
    geometry = _Window(sizes, tuple(float(h) * s for h, s in zip(problem.spacings, strides)), problem.ndim)
    params = tuple(to_log_domain(k) for k in kernels)
    extents = tuple((n - 1) * float(h) for n, h in zip(problem.grid_sizes, problem.spacings))
    return _learn(geometry, params, {m: c[block] for m, c in coeffs.items()}, jnp.zeros((0,), jnp.int32), nugget,
                  target[block].reshape(-1), num_steps, learning_rate, select, extents)


def tracking_adam_step(loss_fn, optimiser):
    """A `lax.scan` body: one optimiser step on `loss_fn`, remembering the best iterate so far.

    The carry is `(params, optimiser_state, best_params, best_loss)`; the output is the loss.
    """

    def step(carry, _):
        train, state, best, best_loss = carry
        loss, grads = jax.value_and_grad(loss_fn)(train)
        updates, state = optimiser.update(grads, state, train)
        better = loss < best_loss
        best = jax.tree.map(lambda a, b: jnp.where(better, a, b), train, best)
        return (optax.apply_updates(train, updates), state, best, jnp.where(better, loss, best_loss)), loss

    return step


@eqx.filter_jit
def _relinearise(problem, solution, fields, x):
    """The grid fields of the new posterior mean (Toeplitz cross matrices), its linearisation, the step size."""
    z = zero_index(problem.ndim)
    new = {
        m: solution.values if m == z else grid_field(problem, solution.kernels, solution.sources, solution.weights, m)
        for m in fields
    }
    coeffs, target = linearise(problem, new, x)
    return new, coeffs, target, relative_change(new[z], fields[z])


@eqx.filter_jit
def _learn(problem, params, coeffs, bidx, nugget, y, num_steps, learning_rate, select, extents=None):
    """Adam on the collocation marginal likelihood; `extents` (per axis) caps the envelopes (`cap_envelope`)."""
    train, frozen = eqx.partition(params, eqx.is_inexact_array)
    optimiser = optax.adam(learning_rate)

    def kernels_of(train):
        ks = from_log_domain(eqx.combine(train, frozen))
        return ks if extents is None else tuple(cap_envelope(k, e) for k, e in zip(ks, extents))

    def loss_fn(train):
        return neg_log_marginal(kernels_of(train), problem, coeffs, bidx, nugget, y)[0]

    step = tracking_adam_step(loss_fn, optimiser)
    carry = (train, optimiser.init(train), train, jnp.asarray(jnp.inf, y.dtype))
    (train, _, best, best_loss), losses = jax.lax.scan(step, carry, None, length=num_steps)
    final = loss_fn(train)
    if select == "min_loss":
        train = jax.tree.map(lambda a, b: jnp.where(final < best_loss, a, b), train, best)
    return kernels_of(train), jnp.concatenate([losses, final[None]])
