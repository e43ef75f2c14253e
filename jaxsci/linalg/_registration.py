"""Register jaxsci operators with lineax's single-dispatch queries.

lineax answers questions such as `is_symmetric(op)` or `diagonal(op)` through
`functools.singledispatch` functions that raise for unknown classes. Every jaxsci operator
is already "linear and materialisation-free", so it registers itself here once, at import.
"""

from __future__ import annotations

from collections.abc import Callable

import jax.numpy as jnp
import lineax as lx


def _false(operator) -> bool:
    del operator
    return False


def _identity(operator):
    return operator


def _tridiagonal_from_matrix(operator):
    matrix = operator.as_matrix()
    return jnp.diagonal(matrix, 0), jnp.diagonal(matrix, -1), jnp.diagonal(matrix, 1)


def register_operator(
    cls: type,
    *,
    symmetric: Callable[[object], bool],
    positive_semidefinite: Callable[[object], bool],
    diagonal: Callable[[object], object],
) -> type:
    """Teach lineax the structural facts about `cls` (returns `cls`)."""
    lx.linearise.register(cls)(_identity)
    lx.materialise.register(cls)(_identity)
    lx.conj.register(cls)(_identity)  # every jaxsci operator here is real
    lx.diagonal.register(cls)(diagonal)
    lx.tridiagonal.register(cls)(_tridiagonal_from_matrix)
    lx.is_symmetric.register(cls)(symmetric)
    lx.is_positive_semidefinite.register(cls)(positive_semidefinite)
    for query in (
        lx.is_diagonal,
        lx.is_tridiagonal,
        lx.has_unit_diagonal,
        lx.is_lower_triangular,
        lx.is_upper_triangular,
        lx.is_negative_semidefinite,
    ):
        query.register(cls)(_false)
    return cls
