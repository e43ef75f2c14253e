"""The Kronecker product operator $K_1 \\otimes \\cdots \\otimes K_d$."""

from __future__ import annotations

import math
from collections.abc import Sequence

import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx
from jaxtyping import Array, ArrayLike, Float

from ._registration import register_operator


def check_factors(factors, name: str = "factors", square: bool = False) -> tuple[Array, ...]:
    """Validate a sequence of 2-D factors at trace time and convert them to arrays."""
    if isinstance(factors, (jax.Array, jnp.ndarray)) or not isinstance(factors, Sequence):
        raise TypeError(f"`{name}` must be a list or tuple of 2-D arrays, got {type(factors).__name__}")
    if len(factors) == 0:
        raise ValueError(f"`{name}` must contain at least one factor")
    out = []
    for j, factor in enumerate(factors):
        factor = jnp.asarray(factor)
        if factor.ndim != 2:
            raise ValueError(f"`{name}[{j}]` must be a 2-D array, got shape {factor.shape}")
        if square and factor.shape[0] != factor.shape[1]:
            raise ValueError(f"`{name}[{j}]` must be square, got shape {factor.shape}")
        if not jnp.issubdtype(factor.dtype, jnp.inexact):
            factor = factor.astype(jnp.result_type(float))
        out.append(factor)
    return tuple(out)


def mode_products(factors: Sequence[Array], grid: Array) -> Array:
    r"""Apply $A_j$ along axis $j$ of `grid` for every factor (one matmul each; `None` = identity).

    Contracting the leading axis and appending the new one at the end cycles through the
    axes, so after $d$ steps the axes are back in order and no transposes pile up.
    """
    for factor in factors:
        if factor is None:  # identity along this axis: only cycle the axes
            grid = jnp.moveaxis(grid, 0, -1)
            continue
        lead = grid.shape[0]
        rest = grid.shape[1:]
        grid = (grid.reshape(lead, -1).T @ factor.T).reshape(*rest, factor.shape[0])
    return grid


def kron_mv(factors: Sequence[Array], vector: Array) -> Array:
    """$(A_1 \\otimes \\cdots \\otimes A_d) v$ for a row-major flat `vector`."""
    grid = vector.reshape(tuple(f.shape[1] for f in factors))
    return mode_products(factors, grid).reshape(-1)


def check_vector(vector, size: int, name: str = "vector") -> Array:
    vector = jnp.asarray(vector)
    if vector.shape != (size,):
        raise ValueError(f"`{name}` must have shape ({size},), got {vector.shape}")
    return vector


class Kronecker(lx.AbstractLinearOperator):
    r"""The Kronecker product $A_1 \otimes A_2 \otimes \cdots \otimes A_d$ as a lineax operator.

    Vectors are flat arrays laid out row-major over the grid $(m_1, \dots, m_d)$ (so a grid
    array `y` is `y.reshape(-1)`). `mv` applies one matrix product per factor along its
    axis (cost $O(N \sum_j n_j)$); the dense $N \times N$ matrix is never formed.

    **Arguments:**

    - `factors`: a list of 2-D arrays $A_j$ of shape $(n_j, m_j)$; square or rectangular.

    **Example:**

    ```python
    import jax.numpy as jnp
    from jaxsci.linalg import Kronecker

    op = Kronecker([jnp.eye(2), jnp.ones((3, 3))])
    op.mv(jnp.arange(6.0))  # == jnp.kron(jnp.eye(2), jnp.ones((3, 3))) @ jnp.arange(6.0)
    ```

    Reference: Van Loan, "The ubiquitous Kronecker product", J. Comput. Appl. Math. (2000).
    """

    factors: tuple[Float[Array, "n m"], ...]

    def __init__(self, factors: Sequence[Float[ArrayLike, "n m"]]):
        self.factors = check_factors(factors)

    @property
    def in_shape(self) -> tuple[int, ...]:
        """The input grid shape $(m_1, \\dots, m_d)$."""
        return tuple(f.shape[1] for f in self.factors)

    @property
    def out_shape(self) -> tuple[int, ...]:
        """The output grid shape $(n_1, \\dots, n_d)$."""
        return tuple(f.shape[0] for f in self.factors)

    def mv(self, vector: Float[Array, " M"]) -> Float[Array, " N"]:
        vector = check_vector(vector, math.prod(self.in_shape))
        return kron_mv(self.factors, vector)

    def as_matrix(self) -> Float[Array, "N M"]:
        matrix = self.factors[0]
        for factor in self.factors[1:]:
            matrix = jnp.kron(matrix, factor)
        return matrix

    def transpose(self) -> "Kronecker":
        return Kronecker([f.T for f in self.factors])

    def in_structure(self) -> jax.ShapeDtypeStruct:
        dtype = jnp.result_type(*self.factors)
        return jax.ShapeDtypeStruct((math.prod(self.in_shape),), dtype)

    def out_structure(self) -> jax.ShapeDtypeStruct:
        dtype = jnp.result_type(*self.factors)
        return jax.ShapeDtypeStruct((math.prod(self.out_shape),), dtype)


def _kron_diagonal(operator: Kronecker) -> Array:
    if operator.in_shape != operator.out_shape:
        raise ValueError("the diagonal of a Kronecker operator needs square factors")
    diag = jnp.ones((), jnp.result_type(*operator.factors))
    for factor in operator.factors:
        diag = jnp.multiply.outer(diag, jnp.diagonal(factor))
    return diag.reshape(-1)


register_operator(
    Kronecker,
    symmetric=lambda op: False,  # values may be traced; symmetry is not checkable statically
    positive_semidefinite=lambda op: False,
    diagonal=_kron_diagonal,
)
