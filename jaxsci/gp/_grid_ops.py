"""Tensor helpers for grid GPs: per-axis matrix products and point-wise contractions."""

from __future__ import annotations

import jax.numpy as jnp


def axes_apply(mats, grid):
    r"""$(A_1 \otimes \cdots \otimes A_d)\,\mathrm{vec}(G)$ as a tensor: `mats[i]` acts on axis `i`.

    Each step contracts the leading axis and appends the result as the last axis, so after
    `d` steps the axes are back in order (one matmul per axis, no transposes pile up).
    """
    for mat in mats:
        lead, rest = grid.shape[0], grid.shape[1:]
        grid = (grid.reshape(lead, -1).T @ mat.T).reshape(*rest, mat.shape[0])
    return grid


def outer_all(vectors):
    """The tensor $v_1 \\circ v_2 \\circ \\cdots$ (e.g. the grid of Kronecker eigenvalues)."""
    out = vectors[0]
    for v in vectors[1:]:
        out = jnp.multiply.outer(out, v)
    return out


def contract_points(rows, tensor):
    r"""$\sum_{j} T_{j_1 \dots j_d} \prod_i R_i[p, j_i]$ for every point `p`.

    `rows[i]` has shape `(m, n_i)`; cost $O(m N)$ with no $N \times m$ intermediate beyond
    the first contraction.
    """
    out = jnp.tensordot(rows[0], tensor, axes=([1], [0]))  # (m, n_2, ..., n_d)
    for r in rows[1:]:
        out = jnp.einsum("pa,pa...->p...", r, out)
    return out
