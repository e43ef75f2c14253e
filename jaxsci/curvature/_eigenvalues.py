"""Extremal eigenpairs of a curvature operator by Lanczos, whole or per block."""

from __future__ import annotations

import lineax as lx

from .. import linalg
from .._checks import checked_int, filter_jit_ints
from .._types import PRNGKey
from ._base import matvec_of
from ._blocks import make_blocks
from ._trace import _check_op, restricted
from ._tree import num_params

WHICH = ("largest", "smallest", "magnitude")


@filter_jit_ints
def eigenvalues(
    op: lx.AbstractLinearOperator,
    k: int,
    *,
    num_matvecs: int = 50,
    which: str = "largest",
    key: PRNGKey | None = None,
    blocks=None,
):
    """The `k` extremal eigenvalues and eigenvectors of a curvature operator (Lanczos).

    Runs `num_matvecs` Lanczos steps with full reorthogonalisation
    (`jaxsci.linalg.eigsh`). Unlike power iteration, which returns the eigenvalue of
    largest *magnitude* whatever its sign and needs a deflated restart per eigenvalue,
    Lanczos gets the top `k` at both ends of the spectrum from one Krylov space.

    **Arguments:**

    - `op`: a `Hessian`, `GGN`, `Fisher`, ... (any symmetric lineax operator).
    - `k`: how many eigenpairs (at most `num_matvecs` and the number of parameters).
    - `num_matvecs`: Lanczos steps (products with `op`).
    - `which`: `"largest"`, `"smallest"` (algebraic) or `"magnitude"`.
    - `key`: random key for the start vector.
    - `blocks`: `None`, `"leaves"` or `fn(params) -> {name: sub-pytree}`: eigenpairs of each
      diagonal block $A_{bb}$ (`num_matvecs` is capped at the block size).

    **Returns:**

    `(eigenvalues, eigenvectors)`: shape `(k,)`, most extreme first, and a pytree like the
    parameters with a leading axis `k` (unit norm). With `blocks`, a dict
    `{name: (eigenvalues, eigenvectors)}`.

    **Example:**

    ```python
    import jax.numpy as jnp
    from jaxsci.curvature import Hessian, eigenvalues

    loss = lambda p, b: 0.5 * jnp.sum(b * p["w"] ** 2)
    H = Hessian(loss, {"w": jnp.ones(5)}, jnp.arange(1.0, 6.0))
    vals, vecs = eigenvalues(H, 2, num_matvecs=5)  # [5, 4]
    ```

    Reference: Ghorbani, Krishnan & Xiao, "An investigation into neural net optimization
    via Hessian eigenvalue density", ICML 2019.
    """
    _check_op(op)
    if which not in WHICH:
        raise ValueError(f"`which` must be one of {WHICH}, got {which!r}.")
    structure = op.in_structure()
    n = num_params(structure)
    k = checked_int(k, f"`k` must be an int between 1 and the number of parameters {n}, got {k!r}.", 1, n)
    message = f"`num_matvecs` must be an int >= k={k} (Lanczos steps), got {num_matvecs!r}."
    num_matvecs = checked_int(num_matvecs, message, k)
    parts = make_blocks(blocks, structure)
    if parts is None:
        return linalg.eigsh(matvec_of(op), structure, k, num_matvecs=min(num_matvecs, n), which=which, key=key)
    out = {}
    for b in parts:
        mv, like = restricted(op, b)
        size = num_params(like)
        if k > size:
            raise ValueError(f"`k`={k} exceeds the size {size} of block {b.name!r}.")
        out[b.name] = linalg.eigsh(mv, like, k, num_matvecs=min(num_matvecs, size), which=which, key=key)
    return out
