"""The result of `solve_pde`: a GP posterior mean callable anywhere in the box."""

from __future__ import annotations

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, Float

from ._pde_operators import interpolate_grid, interpolate_points


class PDESolution(eqx.Module):
    r"""A GP-HM solution: the posterior mean $u(x_*) = (\bigotimes_j k_j(x_{*,j}, g_j))\,K^{-1}\,\mathrm{vec}\,U$.

    `values` are the grid values $U$, `weights` $= K^{-1} U$ (per-axis Cholesky solves),
    `kernels` the learned per-axis kernels and `history` the training record
    (`"loss"` per step; `"monitor"` every `monitor_every` steps when a monitor was given).
    `precisions` are the final boundary and residual precisions $(\tau_b, \tau_r)$.

    Call it on points of shape `(..., d)`; `on_grid(*axes)` evaluates on a tensor grid by
    one mode product per axis (much cheaper for many points); `derivative` gives
    derivatives of the posterior mean in closed form.
    """

    kernels: tuple
    axes: tuple
    values: Float[Array, "*grid"]
    weights: Float[Array, "*grid"]
    precisions: Float[Array, "2"]
    history: dict

    def _check_points(self, points, name="points"):
        points = jnp.asarray(points)
        d = len(self.axes)
        if points.ndim < 1 or points.shape[-1] != d:
            raise ValueError(f"{name} must have shape (..., {d}), got {points.shape}")
        return points

    def __call__(self, points: Float[Array, "... d"]) -> Float[Array, "..."]:
        """The solution at `points` (shape `(..., d)`), returning shape `(...)`."""
        return self.derivative(points, (0,) * len(self.axes))

    def derivative(self, points: Float[Array, "... d"], orders: tuple[int, ...]) -> Float[Array, "..."]:
        """The derivative $\\partial^{\\text{orders}} u$ of the posterior mean at `points`."""
        points = self._check_points(points)
        orders = _check_orders(orders, len(self.axes))
        flat = points.reshape(-1, points.shape[-1]).astype(self.weights.dtype)
        out = interpolate_points(self.kernels, self.axes, self.weights, flat, orders)
        return out.reshape(points.shape[:-1])

    def on_grid(self, *axes: Float[Array, " m"], orders: tuple[int, ...] | None = None) -> Float[Array, "..."]:
        """The solution (or a derivative) on the tensor grid spanned by `axes`, one array per axis."""
        if len(axes) != len(self.axes):
            raise ValueError(f"on_grid needs {len(self.axes)} axis arrays, got {len(axes)}")
        axes = tuple(jnp.asarray(a, self.weights.dtype).reshape(-1) for a in axes)
        orders = _check_orders(orders or (0,) * len(self.axes), len(self.axes))
        return interpolate_grid(self.kernels, self.axes, self.weights, axes, orders)


def _check_orders(orders, d):
    orders = tuple(int(a) for a in orders)
    if len(orders) != d or any(a < 0 or a > 4 for a in orders):
        raise ValueError(f"orders must be {d} ints in 0..4, got {orders!r}")
    return orders
