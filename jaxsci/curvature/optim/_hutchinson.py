"""Hutchinson diagonal estimate used by the second-order optimisers (private)."""

from __future__ import annotations

import jax
import jax.numpy as jnp


def hutchinson_diagonal(hvp_fn, params, key, num_probes: int):
    """$\\frac1P \\sum_p z_p \\odot H z_p$ with Rademacher $z_p$ shaped like `params`."""
    leaves, treedef = jax.tree.flatten(params)

    def one(k):
        keys = jax.random.split(k, len(leaves))
        z = jax.tree.unflatten(treedef, [jax.random.rademacher(kk, x.shape, x.dtype) for kk, x in zip(keys, leaves)])
        return jax.tree.map(jnp.multiply, z, hvp_fn(z))

    estimates = jax.vmap(one)(jax.random.split(key, num_probes))
    return jax.tree.map(lambda x: jnp.mean(x, axis=0), estimates)


def require_hvp(hvp_fn, name: str):
    if hvp_fn is None or not callable(hvp_fn):
        raise ValueError(
            f"{name}.update needs the Hessian-vector product of the loss at the current "
            "parameters as a keyword extra argument: `update(grads, state, params, "
            "hvp_fn=lambda v: jaxsci.curvature.Hessian(loss_fn, params, batch).mv(v))`."
        )
