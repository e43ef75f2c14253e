"""Shared jaxtyping aliases used on public signatures."""

from typing import Any, Union

import jax
from jaxtyping import Array, ArrayLike, Float, PRNGKeyArray, PyTree

PRNGKey = PRNGKeyArray
"""A JAX random key (new-style `jax.random.key` or legacy `PRNGKey`)."""

Scalar = Union[Float[Array, ""], float]
"""A scalar that may be a traced array leaf."""

Params = PyTree[Any]
"""Any pytree of parameters: arrays, dicts, equinox Modules, flax nnx State."""

MatVec = Any
"""A callable `matvec(v) -> A v` on pytrees shaped like `v`."""

__all__ = ["Array", "ArrayLike", "Float", "PRNGKey", "PyTree", "Scalar", "Params", "MatVec", "jax"]
