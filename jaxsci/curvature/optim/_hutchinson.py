"""Hutchinson diagonal estimate used by the second-order optimisers (private)."""

from __future__ import annotations

import jax
import jax.numpy as jnp

from ...linalg._probes import tree_rademacher


def hutchinson_diagonal(hvp_fn, params, key, num_probes: int):
    """$\\frac1P \\sum_p z_p \\odot H z_p$ with Rademacher $z_p$ shaped like `params`.

    The probes come from the fast bit-unpacking sampler of `jaxsci.linalg` (32 signs per
    random word), not from `jax.random.rademacher`, whose draw can cost as much as the HVP.
    """
    z = tree_rademacher(key, num_probes, params)
    estimates = jax.vmap(lambda v: jax.tree.map(jnp.multiply, v, hvp_fn(v)))(z)
    return jax.tree.map(lambda x: jnp.mean(x, axis=0), estimates)


def require_hvp(hvp_fn, name: str):
    if hvp_fn is None or not callable(hvp_fn):
        raise ValueError(
            f"{name}.update needs the Hessian-vector product of the loss at the current "
            "parameters as a keyword extra argument: `update(grads, state, params, "
            "hvp_fn=lambda v: jaxsci.curvature.Hessian(loss_fn, params, batch).mv(v))`."
        )
