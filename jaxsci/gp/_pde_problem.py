"""A PDE on a box, discretised on a tensor-product collocation grid for GP-HM."""

from __future__ import annotations

import math
from typing import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import numpy as np
from jaxtyping import Array, Bool, Float

from .._checks import checked_int


class PDEProblem(eqx.Module):
    r"""A PDE $\mathcal{R}[u](x) = 0$ on a box with Dirichlet data, for `solve_pde`.

    The collocation points form the uniform tensor grid with `grid_sizes[j]` points on
    `bounds[j]` (end points included); the boundary points are the grid points on the faces
    of the box. The residual is evaluated at every grid point.

    **Arguments:**

    - `bounds`: one `(low, high)` pair of finite real numbers with `low < high` per axis.
    - `grid_sizes`: number of grid points per axis (integers, each at least 3).
    - `residual`: `residual(u, derivatives, x) -> r`, where `u` has the grid's shape,
      `derivatives` maps a multi-index such as `(2, 0)` (that is $\partial_x^2 u$) to the
      derivative field of the grid's shape, `x` has shape `grid_sizes + (d,)`; it returns the
      residual of the grid's shape. Linear (affine in `u` and its derivatives) and nonlinear
      residuals are both allowed. It must be real (write a complex equation as two real ones)
      and finite at every grid point, boundary points included (`solve_pde` checks this at
      $u = 0$): write a term that is singular on the boundary, such as $u'/x$ at $x = 0$, with
      a guarded denominator and a `jnp.where`.
    - `boundary`: `boundary(x) -> g`, real Dirichlet values at points `x` of shape `(..., d)`,
      returning shape `(...)`.
    - `derivatives`: the multi-indices the residual reads (integer orders 0..4 per axis, at
      least one non-zero). Default: the pure second derivative along every axis (enough for
      Poisson, Allen-Cahn, Helmholtz).

    **Example:**

    ```python
    import jax.numpy as jnp
    import jaxsci

    problem = jaxsci.gp.PDEProblem(
        bounds=[(0.0, 1.0)], grid_sizes=[64],
        residual=lambda u, d, x: d[(2,)] + jnp.pi**2 * jnp.sin(jnp.pi * x[..., 0]),
        boundary=lambda x: jnp.zeros(x.shape[:-1]),
    )
    ```
    """

    bounds: tuple[tuple[float, float], ...] = eqx.field(static=True)
    grid_sizes: tuple[int, ...] = eqx.field(static=True)
    residual: Callable = eqx.field(static=True)
    boundary: Callable = eqx.field(static=True)
    derivatives: tuple[tuple[int, ...], ...] = eqx.field(static=True)

    def __init__(self, bounds, grid_sizes, residual, boundary, derivatives=None):
        try:
            bounds = tuple((_real(lo), _real(hi)) for lo, hi in bounds)
        except (TypeError, ValueError):
            message = f"bounds must be a sequence of (low, high) pairs of real numbers, got {bounds!r}"
            raise ValueError(message) from None
        if not bounds or not all(math.isfinite(lo) and math.isfinite(hi - lo) and lo < hi for lo, hi in bounds):
            raise ValueError(f"bounds must be non-empty, finite, with low < high on every axis, got {bounds!r}")
        d = len(bounds)
        sizes_message = f"grid_sizes must give one integer size >= 3 per axis of bounds ({d} axes), got {grid_sizes!r}"
        grid_sizes = tuple(checked_int(n, sizes_message, minimum=3) for n in _sequence(grid_sizes, sizes_message))
        if len(grid_sizes) != d:
            raise ValueError(sizes_message)
        if not callable(residual) or not callable(boundary):
            raise TypeError("residual and boundary must be callables")
        if derivatives is None:
            derivatives = tuple(tuple(2 if i == j else 0 for i in range(d)) for j in range(d))
        checked = []
        for m in _sequence(derivatives, f"derivatives must be a sequence of multi-indices, got {derivatives!r}"):
            message = (
                f"derivatives must be multi-indices of length {d} with integer entries 0..4 and at least one "
                f"non-zero entry, got {m!r}"
            )
            m = tuple(checked_int(a, message, minimum=0, maximum=4) for a in _sequence(m, message))
            if len(m) != d or sum(m) == 0:
                raise ValueError(message)
            checked.append(m)
        derivatives = tuple(checked)
        self.bounds, self.grid_sizes = bounds, grid_sizes
        self.residual, self.boundary, self.derivatives = residual, boundary, derivatives

    @property
    def ndim(self) -> int:
        """Number of spatial axes."""
        return len(self.bounds)

    @property
    def spacings(self) -> tuple[float, ...]:
        """Grid spacing per axis."""
        return tuple((hi - lo) / (n - 1) for (lo, hi), n in zip(self.bounds, self.grid_sizes))

    @property
    def num_boundary(self) -> int:
        """Number of grid points on the faces of the box."""
        return math.prod(self.grid_sizes) - math.prod(n - 2 for n in self.grid_sizes)

    def axes(self, dtype=None) -> tuple[Float[Array, " n"], ...]:
        """The grid coordinates of every axis."""
        return tuple(jnp.linspace(lo, hi, n, dtype=dtype) for (lo, hi), n in zip(self.bounds, self.grid_sizes))

    def points(self, dtype=None) -> Float[Array, "*grid d"]:
        """All grid points, shape `grid_sizes + (d,)`."""
        return jnp.stack(jnp.meshgrid(*self.axes(dtype), indexing="ij"), axis=-1)

    def boundary_mask(self) -> Bool[Array, "*grid"]:
        """True on the grid points that lie on a face of the box."""
        return jnp.asarray(face_mask(self.grid_sizes))

    def check_residual(self, dtype) -> None:
        """Raise `ValueError` unless `residual` returns a real array of the grid's shape that is
        finite on the whole grid, with finite coefficients, at $u = 0$, and `boundary` returns
        real values, finite on the boundary points. (The value checks run only outside `jit`.)"""
        u = jax.ShapeDtypeStruct(self.grid_sizes, dtype)
        derivs = {m: u for m in self.derivatives}
        x = jax.ShapeDtypeStruct(self.grid_sizes + (self.ndim,), dtype)
        try:
            out = jax.eval_shape(self.residual, u, derivs, x)
        except KeyError as e:
            raise ValueError(
                f"residual asked for derivative {e.args[0]!r}, which is not in derivatives={self.derivatives!r}"
            ) from None
        if not isinstance(out, jax.ShapeDtypeStruct) or out.shape != self.grid_sizes:
            got = getattr(out, "shape", type(out).__name__)
            raise ValueError(f"residual must return an array of the grid's shape {self.grid_sizes}, got {got}")
        g = jax.eval_shape(self.boundary, x)
        if not isinstance(g, jax.ShapeDtypeStruct) or g.shape != self.grid_sizes:
            got = getattr(g, "shape", type(g).__name__)
            raise ValueError(f"boundary(x) must return shape x.shape[:-1] = {self.grid_sizes}, got {got}")
        for name, value in (("residual", out), ("boundary(x)", g)):
            if jnp.issubdtype(value.dtype, jnp.complexfloating):
                raise ValueError(
                    f"{name} returned complex values (dtype {value.dtype}) for real u and x; solve_pde solves "
                    "real PDEs: write a complex equation as two real ones (real and imaginary parts)."
                )
        self._check_finite(dtype)

    def _check_finite(self, dtype) -> None:
        # A singular term (u'/x at x = 0) is NaN on the boundary; weighting it by zero there
        # (boundary_residual=False) still gives NaN, and the solvers then fail with a message
        # about convergence or pointwise-ness rather than about the residual.
        x = self.points(dtype)
        if isinstance(x, jax.core.Tracer):
            return
        zero = jnp.zeros(self.grid_sizes, dtype)
        fields = {m: zero for m in self.derivatives}
        ones = jnp.ones(self.grid_sizes, dtype)
        r, slope = jax.jvp(
            lambda u, d: self.residual(u, d, x), (zero, fields), (ones, {m: ones for m in self.derivatives})
        )
        bad = np.asarray(~(jnp.isfinite(r) & jnp.isfinite(slope)))
        mask, points = face_mask(self.grid_sizes), np.asarray(x)
        if bad.any():
            where = "boundary" if mask[bad].all() else "grid"
            point = tuple(float(c) for c in points[bad][0])
            raise ValueError(
                f"residual is not finite at {int(bad.sum())} {where} points at u = 0, e.g. x = {point}. It "
                "is evaluated (and differentiated) on the whole grid, boundary points included, even when "
                "boundary_residual=False: guard singular terms both ways, e.g. "
                "xs = jnp.where(x > 0, x, 1.0); jnp.where(x > 0, d[(1,)] / xs, 0.0)."
            )
        bad = mask & ~np.isfinite(np.asarray(self.boundary(x)))
        if bad.any():
            point = tuple(float(c) for c in points[bad][0])
            raise ValueError(f"boundary(x) is not finite at {int(bad.sum())} boundary points, e.g. x = {point}")


def _real(value) -> float:
    """`value` as a float if it is a real number (not complex, not a string, not a bool)."""
    if isinstance(value, (str, bytes, bool, np.bool_)) or np.iscomplexobj(value):
        raise TypeError(value)
    return float(value)


def _sequence(value, message: str) -> tuple:
    """`value` as a tuple if it is a sequence (not a string), else `ValueError(message)`."""
    if isinstance(value, (str, bytes)):
        raise ValueError(message)
    try:
        return tuple(value)
    except TypeError:
        raise ValueError(message) from None


def face_mask(grid_sizes) -> np.ndarray:
    """True on the points of a `grid_sizes` grid that lie on a face of the box: a NumPy array,
    so that index sets built from it stay static under `jit`."""
    mask = np.zeros(grid_sizes, bool)
    for j, n in enumerate(grid_sizes):
        edge = (np.arange(n) == 0) | (np.arange(n) == n - 1)
        mask = mask | edge.reshape([n if i == j else 1 for i in range(len(grid_sizes))])
    return mask
