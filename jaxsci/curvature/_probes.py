"""Probe vectors and batching for the curvature estimators (private).

Rademacher signs come from `jaxsci.linalg`'s fast sampler (32 signs per `uint32` draw):
about an order of magnitude cheaper than `jax.random.rademacher`, which matters because
drawing 100 probes over 10^5 parameters can cost as much as the curvature products.
"""

from __future__ import annotations

import operator

import jax
import jax.numpy as jnp

from ..linalg._probes import rademacher, tree_rademacher
from ._base import AbstractCurvatureOperator
from ._tree import tree_dot


def draw(key, num: int, size: int, dtype, sampler: str):
    if sampler == "rademacher":
        return rademacher(key, num, size, dtype)
    if sampler == "gaussian":
        return jax.random.normal(key, (num, size), dtype)
    raise ValueError(f'`sampler` must be "rademacher" or "gaussian", got {sampler!r}.')


def draw_tree(key, num: int, like):
    """`num` Rademacher probes shaped like the pytree `like`, with a leading axis `num`."""
    return tree_rademacher(key, num, like)


# On CPU, vmapping the full products Az of all probes at once makes working sets (probes x
# batch x width, forward and backward) that spill out of cache; a scan over chunks of 10
# vmapped probes was 30-40% faster for the 109k-parameter MLP of
# benchmarks/curvature_vs_pyhessian.py. The forward-only quadratic forms of the trace were
# fastest all at once, and accelerators prefer one wide batch.
CPU_CHUNK = 10


def resolve_chunk(chunk_size, num: int, cpu_chunk: int | None = None):
    """The probes per vmapped chunk: `chunk_size`, or for `None` a backend-dependent default
    (`cpu_chunk` on CPU, all at once elsewhere or when `cpu_chunk` is None)."""
    if chunk_size is None:
        chunk_size = cpu_chunk if cpu_chunk is not None and jax.default_backend() == "cpu" else num
    try:
        chunk_size = operator.index(chunk_size)
    except TypeError:
        chunk_size = 0
    if chunk_size < 1:
        raise ValueError(f"`chunk_size` must be None or a positive int, got {chunk_size!r}.")
    return min(chunk_size, num)


def _num(xs) -> int:
    return jax.tree.leaves(xs)[0].shape[0]


def batched(fn, xs, chunk_size, cpu_chunk: int | None = None):
    """`jax.vmap(fn)(xs)` over the leading axis, computed `chunk_size` rows at a time."""
    num = _num(xs)
    chunk = resolve_chunk(chunk_size, num, cpu_chunk)
    if chunk == num:
        return jax.vmap(fn)(xs)
    return jax.lax.map(fn, xs, batch_size=chunk)


def batched_sum(fn, xs, chunk_size):
    """`sum_i fn(xs[i])` (pytree outputs), vmapped over chunks and accumulated in a scan.

    Unlike `batched`, the per-row outputs are never stored: memory is one chunk's worth.
    """
    num = _num(xs)
    chunk = resolve_chunk(chunk_size, num, CPU_CHUNK)
    whole = (num // chunk) * chunk

    def chunk_sum(rows):
        return jax.tree.map(lambda y: jnp.sum(y, axis=0), jax.vmap(fn)(rows))

    head = jax.tree.map(lambda x: x[:whole].reshape((num // chunk, chunk) + x.shape[1:]), xs)
    first = jax.tree.map(lambda x: x[0], head)
    rest = jax.tree.map(lambda x: x[1:], head)
    def step(acc, rows):
        return jax.tree.map(jnp.add, acc, chunk_sum(rows)), None

    total = jax.lax.scan(step, chunk_sum(first), rest)[0]
    if whole < num:
        tail = chunk_sum(jax.tree.map(lambda x: x[whole:], xs))
        total = jax.tree.map(jnp.add, total, tail)
    return total


def quadratic_form(op, v):
    """$v^\\top A v$, by the cheaper forward-mode route for curvature operators."""
    if isinstance(op, AbstractCurvatureOperator):
        return op.quadratic_form(v)
    return tree_dot(v, op.mv(v))
