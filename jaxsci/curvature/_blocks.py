"""Per-leaf / per-layer blocks of a parameter pytree (private).

A `blocks` option is `None`, `"leaves"` (one block per floating-point leaf, named by its
key path) or a function mapping the parameter pytree to a dict `{name: sub-pytree}` that
only *selects* parts of it (e.g. `lambda p: {"layer1": p["layer1"], ...}`), so that it can be
applied to any vector shaped like the parameters as well.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp


class Block:
    """One block: its name, the indices of its leaves among the operator's leaves."""

    def __init__(self, name, indices, treedef):
        self.name, self.indices, self.treedef = name, tuple(indices), treedef

    def take(self, tree):
        leaves = jax.tree.leaves(tree)
        return jax.tree.unflatten(self.treedef, [leaves[i] for i in self.indices])

    def take_batched(self, leaves):
        return [leaves[i] for i in self.indices]

    def embed(self, sub, structure):
        """A full vector shaped like `structure`, zero outside this block, `sub` inside."""
        leaves = [jnp.zeros(s.shape, s.dtype) for s in jax.tree.leaves(structure)]
        for i, x in zip(self.indices, jax.tree.leaves(sub)):
            leaves[i] = x
        return jax.tree.unflatten(jax.tree.structure(structure), leaves)


def make_blocks(blocks, structure) -> list[Block] | None:
    """Resolve a `blocks=` option against the operator's input structure."""
    if blocks is None:
        return None
    leaves, treedef = jax.tree.flatten(structure)
    if blocks == "leaves":
        paths = jax.tree_util.tree_flatten_with_path(structure)[0]
        names = [jax.tree_util.keystr(p) for p, _ in paths]
        leaf_def = jax.tree.structure(0)
        return [Block(n, [i], leaf_def) for i, n in enumerate(names)]
    if not callable(blocks):
        raise ValueError(f'`blocks` must be None, "leaves" or a function params -> dict; got {blocks!r}.')
    index_tree = jax.tree.unflatten(treedef, [_Index(i) for i in range(len(leaves))])
    selected = blocks(index_tree)
    if not isinstance(selected, dict) or not selected:
        raise ValueError("`blocks(params)` must return a non-empty dict {name: sub-pytree}.")
    out = []
    for name, sub in selected.items():
        sub_leaves, sub_def = jax.tree.flatten(sub, is_leaf=lambda x: isinstance(x, _Index))
        if not sub_leaves or not all(isinstance(x, _Index) for x in sub_leaves):
            raise ValueError(
                f"`blocks` must only select parts of the parameter pytree; block {name!r} "
                "holds no parameter leaves or computed values."
            )
        out.append(Block(name, [x.i for x in sub_leaves], sub_def))
    return out


class _Index:
    """A placeholder leaf that records which parameter leaf a block selects."""

    def __init__(self, i):
        self.i = i

    def __repr__(self):
        return f"_Index({self.i})"
