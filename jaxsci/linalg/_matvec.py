"""Turn "a matvec on pytrees, or a lineax operator" into a matvec on flat vectors."""

from __future__ import annotations

from collections.abc import Callable

import equinox as eqx
import jax
import jax.numpy as jnp
import lineax as lx
from jax.flatten_util import ravel_pytree
from jaxtyping import Array


class FlatMatvec(eqx.Module):
    """A matvec on flat vectors plus the way back to the user's pytree layout."""

    fn: Callable
    unravel: Callable
    size: int = eqx.field(static=True)
    dtype: jnp.dtype = eqx.field(static=True)

    def __call__(self, x: Array) -> Array:
        return ravel_pytree(self.fn(self.unravel(x)))[0]

    def unravel_rows(self, rows: Array):
        """Unravel each row of `rows` (shape `(k, size)`) into a pytree with leading axis k."""
        return jax.vmap(self.unravel)(rows)


def _zeros_like(like):
    def leaf(x):
        if not hasattr(x, "shape") or not hasattr(x, "dtype"):
            raise TypeError(f"`like` must be a pytree of arrays or jax.ShapeDtypeStruct, got leaf {x!r}")
        dtype = x.dtype if jnp.issubdtype(x.dtype, jnp.inexact) else jnp.result_type(float)
        return jnp.zeros(x.shape, dtype)

    return jax.tree.map(leaf, like)


def flat_matvec(operator_or_matvec, like=None, name: str = "matvec") -> FlatMatvec:
    """Wrap `operator_or_matvec` (a lineax operator or a callable) as a flat-vector matvec.

    `like` defaults to the operator's `in_structure()`; the output structure must equal the
    input structure (square operators), which is checked once at trace time.
    """
    if isinstance(operator_or_matvec, lx.AbstractLinearOperator):
        fn = operator_or_matvec.mv
        if like is None:
            like = operator_or_matvec.in_structure()
    elif callable(operator_or_matvec):
        fn = operator_or_matvec
        if like is None:
            raise ValueError(f"`like` is required when `{name}` is a plain callable")
    else:
        kind = type(operator_or_matvec).__name__
        raise TypeError(f"`{name}` must be a callable or a lineax.AbstractLinearOperator, got {kind}")
    zeros = _zeros_like(like)
    flat, unravel = ravel_pytree(zeros)
    if flat.size == 0:
        raise ValueError("`like` describes an empty vector")
    out = jax.eval_shape(fn, zeros)
    expected = jax.tree.map(lambda z: jax.ShapeDtypeStruct(z.shape, z.dtype), zeros)
    out_struct = jax.tree.structure(out)
    if out_struct != jax.tree.structure(expected) or any(
        a.shape != b.shape for a, b in zip(jax.tree.leaves(out), jax.tree.leaves(expected))
    ):
        raise ValueError(
            f"`{name}` must map vectors shaped like `like` to the same shapes; "
            f"input {expected}, output {out}"
        )
    return FlatMatvec(fn, unravel, int(flat.size), flat.dtype)
