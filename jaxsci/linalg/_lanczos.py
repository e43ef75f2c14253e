"""Lanczos tridiagonalisation with full (blocked) reorthogonalisation."""

from __future__ import annotations

import jax
import jax.flatten_util
import jax.numpy as jnp
from jaxtyping import Array, Float, PyTree

from .._checks import checked, checked_int
from .._numerics import safe_norm
from ._matvec import FlatMatvec, flat_matvec


def lanczos_flat(mv: FlatMatvec, v0: Array, num_steps: int, restart: bool = True):
    """Lanczos on flat vectors: `(alphas (k,), betas (k-1,), basis (k, n))`.

    On breakdown, `restart=False` continues with zero vectors instead of fresh random ones:
    quadrature is unaffected (zero weight) and, under `vmap`, no restart work is paid.
    """
    n, dtype = v0.shape[0], v0.dtype
    eps = jnp.finfo(dtype).eps
    q0 = v0 / jnp.linalg.norm(v0)  # callers pass nonzero v0 (checked in `lanczos`, random elsewhere)
    # One spare row so that step i can always write row i + 1.
    basis = jnp.zeros((num_steps + 1, n), dtype).at[0].set(q0)
    # Fallback directions if the Krylov space becomes invariant (beta ~ 0): restarting with
    # a fresh vector keeps T block diagonal (beta = 0), so its extra Ritz values carry zero
    # quadrature weight and eigsh keeps exploring the rest of the space.
    restart_key = jax.random.key(0)

    def orthogonalise(w, basis):
        # Two blocked Gram-Schmidt passes against the whole stored basis ("twice is enough");
        # rows not yet filled are zero and do not contribute.
        for _ in range(2):
            w = w - (basis @ w) @ basis
        return w

    def step(carry, i):
        # The current vector q travels in the carry instead of being read back as basis[i]:
        # a read of the basis that the product consumes lazily (fused slices) would make XLA
        # copy the whole (k, n) basis twice per step to protect it from the in-place update
        # below, which cost more than the product itself for n ~ 1e5.
        basis, q = carry
        w = mv(q)
        alpha = jnp.dot(q, w)
        # Safe norms: after a breakdown without restart q = w = 0, where the gradient of
        # `jnp.linalg.norm` is NaN (and would poison every gradient through the scan).
        scale = safe_norm(w)
        w = orthogonalise(w, basis)
        beta = safe_norm(w)
        breakdown = beta <= 100 * eps * jnp.maximum(scale, jnp.finfo(dtype).tiny)
        safe_beta = jnp.where(breakdown, 1.0, beta)
        if restart:

            def restart_direction(_):
                fresh = orthogonalise(jax.random.normal(jax.random.fold_in(restart_key, i), (n,), dtype), basis)
                return fresh / jnp.linalg.norm(fresh)

            q_next = jax.lax.cond(breakdown, restart_direction, lambda w: w / safe_beta, w)
        else:
            q_next = jnp.where(breakdown, 0.0, w / safe_beta)
        beta = jnp.where(breakdown, 0.0, beta)
        basis = jax.lax.dynamic_update_index_in_dim(basis, q_next, i + 1, 0)
        return (basis, q_next), (alpha, beta)

    (basis, _), (alphas, betas) = jax.lax.scan(step, (basis, q0), jnp.arange(num_steps))
    return alphas, betas[:-1], basis[:num_steps]


def check_steps(num_steps, n: int, name: str = "num_steps") -> int:
    num_steps = checked_int(num_steps, f"`{name}` must be a positive int, got {num_steps!r}")
    if num_steps > n:
        raise ValueError(f"`{name}` must be <= the dimension {n} of the operator, got {num_steps}")
    return num_steps


def lanczos(matvec, v0: PyTree, num_steps: int) -> tuple[Float[Array, " k"], Float[Array, " k-1"], PyTree]:
    r"""Run `num_steps` Lanczos iterations from `v0` with full reorthogonalisation.

    Builds an orthonormal basis $V_k$ of the Krylov space
    $\mathcal K_k(A, v_0)$ with $V_k^\top A V_k = T_k$ tridiagonal. Each new vector is
    orthogonalised twice against the whole stored basis by a blocked matrix product, so
    the basis stays orthonormal to working precision (no ghost eigenvalues). The loop is a
    `lax.scan`. If the Krylov space becomes invariant, a fresh orthogonal direction is used
    and the corresponding $\beta$ is zero.

    **Arguments:**

    - `matvec`: a callable `v -> A v` (symmetric $A$) on pytrees shaped like `v0`, or a
        lineax operator.
    - `v0`: the starting vector (a nonzero pytree; it is normalised).
    - `num_steps`: the number $k$ of iterations (= matvecs), $1 \le k \le n$.

    **Returns:**

    `(alphas, betas, basis)`: the diagonal (shape `(k,)`) and off-diagonal (`(k-1,)`) of
    $T_k$, and the basis as a pytree like `v0` with a leading axis of size $k$.

    **Example:**

    ```python
    import jax.numpy as jnp
    from jaxsci.linalg import lanczos

    a = jnp.diag(jnp.arange(1.0, 11.0))
    alphas, betas, basis = lanczos(lambda v: a @ v, jnp.ones(10), 10)
    ```

    Reference: Golub & Van Loan, *Matrix Computations*, 4th ed., section 10.1;
    Parlett, *The Symmetric Eigenvalue Problem* (1998).
    """
    like = jax.tree.map(jnp.asarray, v0)
    mv = flat_matvec(matvec, like)
    num_steps = check_steps(num_steps, mv.size)
    flat = jax.flatten_util.ravel_pytree(like)[0].astype(mv.dtype)
    message = "`v0` must be a nonzero vector (a zero start vector spans no Krylov space)"
    flat = checked(flat, ~jnp.any(flat != 0), message)
    alphas, betas, basis = lanczos_flat(mv, flat, num_steps)
    return alphas, betas, mv.unravel_rows(basis)


def tridiagonal_eigh(alphas: Array, betas: Array) -> tuple[Array, Array]:
    """Eigenpairs of the symmetric tridiagonal matrix with diagonal `alphas`, off-diagonal `betas`."""
    t = jnp.diag(alphas) + jnp.diag(betas, 1) + jnp.diag(betas, -1)
    return jnp.linalg.eigh(t)
