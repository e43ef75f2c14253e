r"""The Kronecker sum $A_1 \oplus \cdots \oplus A_d = \sum_j I \otimes \cdots A_j \cdots \otimes I$."""

from __future__ import annotations

import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import lineax as lx
from jaxtyping import Array, ArrayLike, Float

from ._kronecker import check_factors, check_vector
from ._registration import register_operator


def _apply_along(factor: Array, grid: Array, axis: int) -> Array:
    return jnp.moveaxis(jnp.tensordot(factor, grid, axes=([1], [axis])), 0, axis)


class KroneckerSum(lx.AbstractLinearOperator):
    r"""The Kronecker sum $A_1 \oplus A_2 \oplus \cdots \oplus A_d$ of square factors.

    $\bigoplus_j A_j = \sum_j I_{n_1} \otimes \cdots \otimes A_j \otimes \cdots \otimes I_{n_d}$,
    e.g. the finite-difference Laplacian on a tensor grid is the Kronecker sum of the 1-D
    second-difference matrices. `mv` applies each factor along its own axis of the
    row-major grid (cost $O(N \sum_j n_j)$). Its eigenvalues are all sums
    $\lambda_{1,i_1} + \cdots + \lambda_{d,i_d}$.

    **Arguments:**

    - `factors`: a list of square 2-D arrays $A_j$ of shape $(n_j, n_j)$.

    **Example:**

    ```python
    import jax.numpy as jnp
    from jaxsci.linalg import KroneckerSum

    d2 = jnp.diag(-2.0 * jnp.ones(4)) + jnp.diag(jnp.ones(3), 1) + jnp.diag(jnp.ones(3), -1)
    laplacian = KroneckerSum([d2, d2])  # 5-point Laplacian on a 4 x 4 grid
    laplacian.mv(jnp.ones(16))
    ```

    Reference: Horn & Johnson, *Topics in Matrix Analysis* (1991), section 4.4.
    """

    factors: tuple[Float[Array, "n n"], ...]

    def __init__(self, factors: Sequence[Float[ArrayLike, "n n"]]):
        self.factors = check_factors(factors, square=True)

    @property
    def shape(self) -> tuple[int, ...]:
        """The grid shape $(n_1, \\dots, n_d)$."""
        return tuple(f.shape[0] for f in self.factors)

    def mv(self, vector: Float[Array, " N"]) -> Float[Array, " N"]:
        grid = check_vector(vector, math.prod(self.shape)).reshape(self.shape)
        out = sum(_apply_along(f, grid, j) for j, f in enumerate(self.factors))
        return out.reshape(-1)

    def as_matrix(self) -> Float[Array, "N N"]:
        dtype = jnp.result_type(*self.factors)
        total = jnp.zeros((1, 1), dtype)
        for factor in self.factors:
            n = factor.shape[0]
            total = jnp.kron(total, jnp.eye(n, dtype=dtype)) + jnp.kron(
                jnp.eye(total.shape[0], dtype=dtype), factor
            )
        return total

    def transpose(self) -> "KroneckerSum":
        return KroneckerSum([f.T for f in self.factors])

    def in_structure(self) -> jax.ShapeDtypeStruct:
        return jax.ShapeDtypeStruct((math.prod(self.shape),), jnp.result_type(*self.factors))

    def out_structure(self) -> jax.ShapeDtypeStruct:
        return self.in_structure()


def _sum_diagonal(operator: KroneckerSum) -> Array:
    dtype = jnp.result_type(*operator.factors)
    diag = jnp.zeros((), dtype)
    for factor in operator.factors:
        diag = jnp.add.outer(diag, jnp.diagonal(factor))
    return diag.reshape(-1)


register_operator(
    KroneckerSum,
    symmetric=lambda op: False,  # values may be traced; symmetry is not checkable statically
    positive_semidefinite=lambda op: False,
    diagonal=_sum_diagonal,
)
