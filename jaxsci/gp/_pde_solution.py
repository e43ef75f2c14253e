"""The result of `solve_pde`: a GP posterior mean callable anywhere in the box."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp
from jaxtyping import Array, Float

from .._checks import checked_int
from ._pde_operators import interpolate_grid, interpolate_points
from .kernels._base import MAX_ORDER


class PDESolution(eqx.Module):
    r"""A GP solution of a PDE: a posterior mean given by weights on the collocation grid.

    $$u(x_*) = \sum_{m \in \text{sources}} \Big(\bigotimes_j \partial'^{m_j} k_j(x_{*,j}, g_j)\Big)\,\mathrm{vec}\,W_m,$$

    where $\partial'$ differentiates in the grid point. GP-HM (`method="adam"`/`"map"`) has
    the single source $m = 0$ with $W_0 = K^{-1} U$; collocation has one weight field per
    multi-index of the (linearised) equation plus the boundary weights.

    `values` are the solution's values on the grid, `weights` the fields $W_m$ (a tuple, in
    the order of `sources`), `kernels` the learned per-axis kernels and `history` the
    training record (`"loss"` per step; `"monitor"` every `monitor_every` steps when a
    monitor was given). `precisions` are GP-HM's final boundary and residual precisions
    $(\tau_b, \tau_r)$ (`None` for collocation).

    Call it on points of shape `(..., d)`; `on_grid(*axes)` evaluates on a tensor grid by
    one mode product per axis (much cheaper for many points); `derivative` gives
    derivatives of the posterior mean in closed form.

    ```python
    import jax.numpy as jnp
    import jaxsci
    residual = lambda u, d, x: d[(2,)] + jnp.pi**2 * jnp.sin(jnp.pi * x[..., 0])           # u'' = -pi^2 sin(pi x)
    problem = jaxsci.gp.PDEProblem([(0.0, 1.0)], [32], residual, boundary=lambda x: jnp.zeros(x.shape[:-1]))
    sol = jaxsci.gp.solve_pde(problem, kernel=jaxsci.gp.kernels.SquaredExponential(0.3), num_steps=0)  # kernel kept fixed
    x = jnp.linspace(0.0, 1.0, 5)
    assert sol.values.shape == (32,) and jnp.allclose(sol.on_grid(x), jnp.sin(jnp.pi * x), atol=1e-3)
    assert jnp.allclose(sol.derivative(x[:, None], (1,)), jnp.pi * jnp.cos(jnp.pi * x), atol=1e-3)   # u' at points (..., d)
    ```
    """

    kernels: tuple
    axes: tuple
    values: Float[Array, "*grid"]
    weights: tuple
    precisions: Float[Array, "2"] | None
    history: dict
    sources: tuple[tuple[int, ...], ...] = eqx.field(static=True, default=None)

    def __check_init__(self):
        if len(self.weights) != len(self._sources):
            raise ValueError("weights and sources must have the same length")

    @property
    def _sources(self):
        return self.sources if self.sources is not None else ((0,) * len(self.axes),)

    @property
    def max_orders(self) -> tuple[int, ...]:
        """The highest derivative order `derivative` and `on_grid` accept on each axis: the
        kernel's highest derivative order less the highest order of the weight fields (`sources`)
        on that axis (collocation weights carry the equation's derivatives)."""
        dtype = self.values.dtype
        return tuple(
            max(_kernel_order(k, dtype) - max(m[j] for m in self._sources), 0) for j, k in enumerate(self.kernels)
        )

    def _check_orders(self, orders):
        return _check_orders(orders, self.max_orders)

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
        """The derivative $\\partial^{\\text{orders}} u$ of the posterior mean at `points`.

        `orders` has one integer per axis, at most `max_orders[j]` on axis `j`."""
        points = self._check_points(points)
        orders = self._check_orders(orders)
        flat = points.reshape(-1, points.shape[-1]).astype(self.values.dtype)
        out = sum(
            interpolate_points(self.kernels, self.axes, w, flat, orders, m) for m, w in zip(self._sources, self.weights)
        )
        return out.reshape(points.shape[:-1])

    def on_grid(self, *axes: Float[Array, " m"], orders: tuple[int, ...] | None = None) -> Float[Array, "..."]:
        """The solution (or a derivative) on the tensor grid spanned by `axes`, one array per axis."""
        if len(axes) != len(self.axes):
            raise ValueError(f"on_grid needs {len(self.axes)} axis arrays, got {len(axes)}")
        axes = tuple(jnp.asarray(a, self.values.dtype).reshape(-1) for a in axes)
        orders = self._check_orders((0,) * len(self.axes) if orders is None else orders)
        return sum(
            interpolate_grid(self.kernels, self.axes, w, axes, orders, m) for m, w in zip(self._sources, self.weights)
        )


def _check_orders(orders, limits):
    """`orders` as a tuple of Python ints, one per axis, with `0 <= orders[j] <= limits[j]`; else a
    `ValueError` that states the limits."""
    message = (
        f"orders must be one integer per axis ({len(limits)}), between 0 and max_orders = {tuple(limits)} for this "
        f"solution (its kernels' highest derivative orders less those of its weight fields), got {orders!r}"
    )
    if isinstance(orders, (str, bytes)):
        raise ValueError(message)
    try:
        orders = tuple(orders)
    except TypeError:
        raise ValueError(message) from None
    if len(orders) != len(limits):
        raise ValueError(message)
    return tuple(checked_int(a, message, minimum=0, maximum=top) for a, top in zip(orders, limits))


def _kernel_order(kernel, dtype) -> int:
    """The highest derivative order of `kernel`'s profile (`MAX_ORDER` at most), found by
    tracing `profile` at zero (the library's kernels raise `ValueError` for an order they lack;
    any error of a user's kernel counts the same)."""
    for order in range(MAX_ORDER, 0, -1):
        try:
            jax.eval_shape(lambda: kernel.profile(jnp.zeros((), dtype), order))
        except Exception:  # noqa: BLE001  (a probe: an order the kernel cannot give is not available)
            continue
        return order
    return 0
