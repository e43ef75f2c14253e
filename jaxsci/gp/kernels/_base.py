"""The stationary-kernel interface shared by every one-dimensional kernel."""

from __future__ import annotations

import abc

import equinox as eqx
import jax.numpy as jnp
from jaxtyping import Array, ArrayLike, Float
from ..._checks import checked_int

MAX_ORDER = 4
"""Highest derivative order of `profile` every kernel supports (enough for 2nd-order PDEs)."""


class AbstractKernel(eqx.Module):
    r"""A one-dimensional stationary kernel $k(x, x') = \kappa(\tau)$, $\tau = x - x'$.

    A concrete kernel implements only `profile(tau, order)`, the `order`-th derivative of
    $\kappa$ with respect to $\tau$ in closed form, for `order` in `0..4`. Every derivative
    of the kernel with respect to its two arguments follows from it:

    $$\partial_x^a \partial_{x'}^b k(x, x') = (-1)^b \kappa^{(a+b)}(x - x').$$

    Parameters are array leaves (differentiable, vmappable); anything else is static.
    """

    @abc.abstractmethod
    def profile(self, tau: Float[ArrayLike, "..."], order: int = 0) -> Float[Array, "..."]:
        r"""The `order`-th derivative $\kappa^{(\text{order})}(\tau)$, elementwise in `tau`."""

    def __call__(self, x1: Float[ArrayLike, " n"], x2: Float[ArrayLike, " m"]) -> Float[Array, "n m"]:
        """The kernel matrix $K_{ij} = k(x_{1,i}, x_{2,j})$."""
        return self.derivative(x1, x2, (0, 0))

    def derivative(
        self, x1: Float[ArrayLike, " n"], x2: Float[ArrayLike, " m"], orders: tuple[int, int]
    ) -> Float[Array, "n m"]:
        r"""The matrix $\partial_x^a \partial_{x'}^b k(x_{1,i}, x_{2,j})$ for `orders = (a, b)`."""
        a, b = _check_orders(orders)
        x1, x2 = jnp.asarray(x1), jnp.asarray(x2)
        if x1.ndim != 1 or x2.ndim != 1:
            raise ValueError(f"x1 and x2 must be one-dimensional, got shapes {x1.shape} and {x2.shape}")
        tau = x1[:, None] - x2[None, :]
        return (-1) ** b * self.profile(tau, a + b)

    def grid_matrix(self, n: int, spacing: Float[ArrayLike, ""], orders: tuple[int, int] = (0, 0)) -> Float[Array, "n n"]:
        r"""The matrix of `derivative` on the uniform grid $x_i = i \cdot$ `spacing`, $i < n$.

        The matrix is Toeplitz, so the kernel is evaluated once per distinct offset
        ($2n - 1$ evaluations) rather than once per pair ($n^2$).
        """
        a, b = _check_orders(orders)
        n = checked_int(n, f"n must be a positive int, got {n!r}")
        offsets = jnp.arange(-(n - 1), n) * jnp.asarray(spacing)
        values = (-1) ** b * self.profile(offsets, a + b)
        index = jnp.arange(n)[:, None] - jnp.arange(n)[None, :] + (n - 1)
        return values[index]


def _check_orders(orders) -> tuple[int, int]:
    try:
        a, b = (int(o) for o in orders)
    except (TypeError, ValueError):
        raise ValueError(f"orders must be a pair of non-negative ints, got {orders!r}") from None
    if a < 0 or b < 0 or a + b > MAX_ORDER:
        raise ValueError(f"orders must be non-negative with a + b <= {MAX_ORDER}, got {orders!r}")
    return a, b
