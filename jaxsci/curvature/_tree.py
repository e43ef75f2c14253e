"""Pytree helpers shared by the curvature operators and estimators (private)."""

from __future__ import annotations

import equinox as eqx
import jax
import jax.numpy as jnp


def split_params(params):
    """Split `params` into its floating-point array part (the vector space) and the rest."""
    return eqx.partition(params, eqx.is_inexact_array)


def structure_of(params):
    """`jax.ShapeDtypeStruct`s of the floating-point leaves of `params` (None elsewhere)."""
    dynamic, _ = split_params(params)
    return jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), dynamic)


def num_params(structure) -> int:
    """Total number of scalar entries in a structure or pytree of arrays."""
    return int(sum(_size(x) for x in jax.tree.leaves(structure)))


def _size(x) -> int:
    size = 1
    for s in x.shape:
        size *= int(s)
    return size


def check_like(v, structure, name: str = "v"):
    """Raise a clear `ValueError` unless `v` has the tree structure and leaf shapes of `structure`."""
    if jax.tree.structure(v) != jax.tree.structure(structure):
        raise ValueError(
            f"`{name}` must be a pytree shaped like the parameters (the floating-point leaves "
            f"of `params`); got tree structure {jax.tree.structure(v)}, expected "
            f"{jax.tree.structure(structure)}."
        )
    for a, s in zip(jax.tree.leaves(v), jax.tree.leaves(structure)):
        shape = tuple(jnp.shape(a))
        if shape != tuple(s.shape):
            raise ValueError(
                f"`{name}` must be shaped like the parameters: a leaf has shape {shape}, "
                f"expected {tuple(s.shape)}."
            )


def tree_dot(a, b):
    """Euclidean inner product of two pytrees with the same structure."""
    parts = jax.tree.leaves(jax.tree.map(lambda x, y: jnp.vdot(x, y), a, b))
    return sum(parts[1:], parts[0]) if parts else jnp.zeros(())


def zeros_like_structure(structure):
    return jax.tree.map(lambda s: jnp.zeros(s.shape, s.dtype), structure)


def split_batches(batch):
    """A Python `list` is a sequence of batches (averaged, weighted by size); else one batch.

    Returns the list of batches and their weights (summing to one).
    """
    if isinstance(batch, list):
        if not batch:
            raise ValueError("`batch` is an empty list; pass at least one batch.")
        sizes = [_batch_size(b) for b in batch]
        total = float(sum(sizes))
        return batch, [s / total for s in sizes]
    return [batch], [1.0]


def _batch_size(batch) -> int:
    leaves = jax.tree.leaves(batch)
    if not leaves or jnp.ndim(leaves[0]) == 0:
        return 1
    return int(jnp.shape(leaves[0])[0])


def weighted_sum(fn, batches, weights):
    """`sum_b weights[b] * fn(batches[b])` on pytree (or scalar) outputs."""
    total = None
    for b, w in zip(batches, weights):
        out = jax.tree.map(lambda x: w * x, fn(b))
        total = out if total is None else jax.tree.map(jnp.add, total, out)
    return total
