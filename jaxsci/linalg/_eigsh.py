"""Extremal eigenpairs of a symmetric operator from a Lanczos decomposition."""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jaxtyping import Array, Float, PyTree

from .._checks import checked_int
from .._types import PRNGKey
from ._lanczos import check_steps, lanczos_flat, tridiagonal_eigh
from ._matvec import flat_matvec

WHICH = ("largest", "smallest", "magnitude")


def eigsh(
    matvec,
    like: PyTree,
    k: int,
    *,
    num_matvecs: int,
    which: str = "largest",
    key: PRNGKey | None = None,
) -> tuple[Float[Array, " k"], PyTree]:
    r"""The `k` extremal eigenpairs of a symmetric operator by Lanczos (Ritz pairs).

    Runs `num_matvecs` Lanczos steps with full reorthogonalisation from a random start and
    returns Ritz pairs of $T$. Lanczos converges at both ends of the spectrum, fastest for
    eigenvalues separated from the rest: outliers over a bulk converge to near machine
    precision in a few dozen matvecs.

    **Arguments:**

    - `matvec`: a callable `v -> A v` (symmetric $A$) on pytrees shaped like `like`, or a
        lineax operator.
    - `like`: a pytree of arrays or `jax.ShapeDtypeStruct`s (`None` for a lineax operator).
    - `k`: how many eigenpairs, `1 <= k <= num_matvecs`.
    - `num_matvecs`: Lanczos steps (matvecs), at most the dimension $n$.
    - `which`: `"largest"` (algebraic), `"smallest"` (algebraic) or `"magnitude"`
        (largest $|\lambda|$).
    - `key`: random key for the start vector (default `jax.random.key(0)`).

    **Returns:**

    `(eigenvalues, eigenvectors)`: eigenvalues of shape `(k,)`, the most extreme first in
    the `which` sense; unit-norm eigenvectors as a pytree like `like` with leading axis `k`.

    **Example:**

    ```python
    import jax.numpy as jnp
    from jaxsci.linalg import eigsh

    a = jnp.diag(jnp.array([-10.0, 1.0, 2.0, 3.0, 4.0]))
    vals, vecs = eigsh(lambda v: a @ v, jnp.zeros(5), 1, num_matvecs=5, which="magnitude")
    ```

    Reference: Golub & Van Loan, *Matrix Computations*, 4th ed., section 10.1.
    """
    if which not in WHICH:
        raise ValueError(f"`which` must be one of {WHICH}, got {which!r}")
    mv = flat_matvec(matvec, like)
    num_matvecs = check_steps(num_matvecs, mv.size, "num_matvecs")
    k = checked_int(k, f"`k` must be an int with 1 <= k <= num_matvecs={num_matvecs}, got {k!r}", 1, num_matvecs)
    key = jax.random.key(0) if key is None else key
    v0 = jax.random.normal(key, (mv.size,), mv.dtype)
    alphas, betas, basis = lanczos_flat(mv, v0, num_matvecs)
    theta, u = tridiagonal_eigh(alphas, betas)
    if which == "largest":
        order = jnp.argsort(-theta)
    elif which == "smallest":
        order = jnp.argsort(theta)
    else:
        order = jnp.argsort(-jnp.abs(theta))
    order = order[:k]
    vectors = u[:, order].T @ basis  # (k, n)
    return theta[order], mv.unravel_rows(vectors)
